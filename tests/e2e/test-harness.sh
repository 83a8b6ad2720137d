#!/usr/bin/env bash
# The harness itself, checked with plain virsh: the daemon is vstest's and
# isolated, domains run under TCG, and the agent guest really freezes its
# filesystem.  These pin the libvirt/QEMU behaviour the virtsnap cases rely on,
# so a change of platform shows up here first, not as a puzzling API failure.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ -n "${VS_E2E_URI:-}" ] || vs_die "run me from run-e2e.sh"

# The daemon runs as the unprivileged test user, from our run directory.
user=$(ps -o user= -p "$(vs_libvirtd_pid)" 2>/dev/null | tr -d ' ')
vs_check_eq "libvirtd runs as vstest" "$VS_E2E_USER" "$user"
vs_check_eq "the URI is the session socket of the run directory" \
        "$VS_E2E_URI" "$(vs_virsh uri)"

# A no-OS domain: internal snapshots running and shut off.
vs_make_domain vse2e-h-plain --running
vs_check_eq "plain domain is running" "running" "$(vs_virsh domstate vse2e-h-plain)"
vs_virsh snapshot-create-as vse2e-h-plain h1 >/dev/null
vs_virsh snapshot-create-as vse2e-h-plain h2 --disk-only --atomic \
        --diskspec "vda,file=$VS_E2E_IMG/vse2e-h-plain.h2.qcow2" >/dev/null
vs_check_eq "virsh snapshot tree h1 -> h2" "h1:-
h2:h1" "$(vs_snapshot_parents vse2e-h-plain)"
vs_check "disk-only overlay created by QEMU as vstest" \
        test "$(stat -c %U "$VS_E2E_IMG/vse2e-h-plain.h2.qcow2" 2>/dev/null)" = "$VS_E2E_USER"

# The channel with no agent behind it: quiesce fails at once, never hangs.
vs_make_domain vse2e-h-noagent --agent --running
t0=$(date +%s)
out=$(vs_virsh snapshot-create-as vse2e-h-noagent q --disk-only --quiesce --atomic \
        --diskspec "vda,file=$VS_E2E_IMG/vse2e-h-noagent.q.qcow2" 2>&1)
rc=$?
vs_check "quiesce without an agent fails" test "$rc" -ne 0
vs_check "... saying the agent is not connected" grep -q "not connected" <<<"$out"
vs_check "... within 10s" test $(($(date +%s) - t0)) -lt 10
vs_check_eq "... and leaves no snapshot" "" "$(vs_virsh snapshot-list vse2e-h-noagent --name)"

# The real agent guest.
vs_make_agent_guest vse2e-h-agent
vs_check "guest-ping answers" vs_agent_ping vse2e-h-agent
vs_check "domfsinfo lists the ext4 mount /data" \
        grep -Eq '^ */data +vda +ext4' <<<"$(vs_virsh domfsinfo vse2e-h-agent)"
vs_check_eq "guest-exec runs in the guest" 0 "$(vs_agent_exec vse2e-h-agent 'test -d /data/lost+found')"

# Written just before a quiesced snapshot, a file sits in the guest's page
# cache (mounted with commit=60); only a real freeze puts it in the image
# that becomes the read-only backing file.
vs_check_eq "write a marker in the guest" 0 \
        "$(vs_agent_exec vse2e-h-agent 'echo quiesced-marker > /data/marker')"
vs_virsh snapshot-create-as vse2e-h-agent q1 --disk-only --quiesce --atomic \
        --diskspec "vda,file=$VS_E2E_IMG/vse2e-h-agent.q1.qcow2" >/dev/null
vs_check "quiesced disk-only snapshot succeeds" test $? -eq 0
vs_check_eq "the frozen base image holds the marker" "quiesced-marker" \
        "$(vs_disk_cat "$VS_E2E_IMG/vse2e-h-agent.qcow2" /marker)"
vs_check "the agent executed guest-fsfreeze-freeze" \
        grep -q '"execute":"guest-fsfreeze-freeze"' "$VS_E2E_IMG/vse2e-h-agent.console"
vs_check "and thawed again" grep -q 'logging re-enabled due to filesystem unfreeze' \
        "$VS_E2E_IMG/vse2e-h-agent.console"
vs_check_eq "the guest is thawed" '{"return":"thawed"}' \
        "$(vs_virsh qemu-agent-command vse2e-h-agent '{"execute":"guest-fsfreeze-status"}')"

# A hung agent (SIGSTOP): with a response timeout, quiesce fails in bounded
# time instead of holding the domain's job forever.
vs_check "the agent hangs (SIGSTOP in the guest)" vs_agent_hang vse2e-h-agent
vs_virsh guest-agent-timeout vse2e-h-agent --timeout 3
t0=$(date +%s)
out=$(vs_virsh snapshot-create-as vse2e-h-agent q2 --disk-only --quiesce --atomic \
        --diskspec "vda,file=$VS_E2E_IMG/vse2e-h-agent.q2.qcow2" 2>&1)
rc=$?
el=$(($(date +%s) - t0))
vs_check "quiesce with a hung agent fails" test "$rc" -ne 0
vs_check "... as 'Guest agent is not responding'" grep -q "Guest agent is not responding" <<<"$out"
vs_check "... after the 3s timeout, not forever (${el}s)" test "$el" -ge 2 -a "$el" -lt 15
vs_virsh snapshot-create-as vse2e-h-agent c1 --disk-only --atomic \
        --diskspec "vda,file=$VS_E2E_IMG/vse2e-h-agent.c1.qcow2" >/dev/null
vs_check "a crash-consistent snapshot still works" test $? -eq 0
vs_check_eq "tree of the agent guest" "q1
c1" "$(vs_snapshot_tree vse2e-h-agent)"

# A libvirtd crash and restart: the running guests and their snapshot
# metadata survive it (the daemon e2e relies on this).
old=$(vs_libvirtd_pid)
vs_libvirtd_stop --kill
vs_check "virsh fails while libvirtd is down" bash -c '! virsh -q -c "$VS_E2E_URI" uri 2>/dev/null'
vs_libvirtd_start
vs_check "libvirtd restarted with a new pid" test "$(vs_libvirtd_pid)" != "$old"
vs_check_eq "the guest kept running" "running" "$(vs_virsh domstate vse2e-h-plain)"
vs_check_eq "its snapshots are still known" "h1:-
h2:h1" "$(vs_snapshot_parents vse2e-h-plain)"

for d in vse2e-h-plain vse2e-h-noagent vse2e-h-agent; do
        vs_virsh destroy "$d" >/dev/null 2>&1
done
vs_case_done
