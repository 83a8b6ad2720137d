#!/usr/bin/env bash
# The control socket next to a running daemon on the real libvirtd + QEMU
# (issue 12): an ad-hoc snapshot with a lifetime taken through the daemon
# exists in libvirt, is not counted by retention, and is deleted from
# libvirt by the daemon when its lifetime ends; a user who is neither root
# nor in group virtsnap cannot reach the socket (file mode) and, with the
# file opened up, is refused by the daemon itself (SO_PEERCRED), recorded as
# a `refused` event.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ -n "${VS_E2E_URI:-}" ] || vs_die "run me from run-e2e.sh"
[ -x "${VIRTSNAP:-}" ] || vs_die "VIRTSNAP is not set to the built binary"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

dir=$VS_E2E_DIR/control
mkdir -p "$dir"
chmod 755 "$dir"
conf=$dir/policies.yaml
log=$dir/daemon.log
dom=vse2e-ctl-a

cat >"$conf" <<YAML
connection: "$VS_E2E_URI"
database: $dir/history.db
control_socket: $dir/ctl.sock
timezone: UTC
policies:
  - name: nightly
    domains: {include: ["vse2e-ctl-*"]}
    schedule: daily
    catch_up: false
    snapshot: {type: internal, timeout: 2m}
    retention: {keep_last: 1}
YAML
vs_make_domain "$dom" --running

daemon_pid=
stop_daemon() {
        [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
}
trap stop_daemon EXIT
"$VIRTSNAP" daemon -c "$conf" --log-level info >"$log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
        grep -q 'connected, ' "$log" && [ -S "$dir/ctl.sock" ] && break
        sleep 0.2
done
vs_check "the daemon listens on its control socket" test -S "$dir/ctl.sock"

# An ad-hoc snapshot with a 20 s lifetime, through the daemon.
out=$("$VIRTSNAP" snapshot "$dom" --ttl 20s --note "e2e: before the change" --wait -c "$conf" 2>&1)
vs_check_eq "snapshot --ttl --wait through the daemon exits 0" 0 $?
ttl=$(sed -n "s/^$dom: snapshot \([^ ]*\) taken under policy nightly, kept until .*/\1/p" <<<"$out")
vs_check "... and names the snapshot ($out)" test -n "$ttl"
vs_check "... which libvirt has" bash -c "virsh -q -c '$VS_E2E_URI' snapshot-list $dom --name | grep -qx '$ttl'"

# Two plain ones: keep_last 1 prunes the first, and does not count the TTL one.
"$VIRTSNAP" snapshot "$dom" --policy nightly --wait -c "$conf" >"$dir/p1.out" 2>&1
vs_check_eq "a plain ad-hoc snapshot exits 0" 0 $?
sleep 1
"$VIRTSNAP" snapshot "$dom" --policy nightly --wait -c "$conf" >"$dir/p2.out" 2>&1
vs_check_eq "a second one exits 0" 0 $?
p1=$(sed -n "s/^$dom: snapshot \([^ ]*\) taken.*/\1/p" "$dir/p1.out")
p2=$(sed -n "s/^$dom: snapshot \([^ ]*\) taken.*/\1/p" "$dir/p2.out")
vs_check_eq "libvirt holds the TTL one and the newest plain one" \
        "$(printf '%s\n' "$ttl" "$p2" | sort)" "$(vs_virsh snapshot-list "$dom" --name | sort)"

# The daemon deletes it when the lifetime ends.
gone=
for _ in $(seq 90); do
        # Only a listing that worked counts: a failed virsh lists nothing.
        if list=$(vs_virsh snapshot-list "$dom" --name 2>"$dir/virsh.err") && ! grep -qx "$ttl" <<<"$list"; then
                gone=1
                break
        fi
        [ -s "$dir/virsh.err" ] && vs_log "virsh snapshot-list failed: $(cat "$dir/virsh.err")"
        sleep 1
done
vs_check "the daemon deleted the snapshot from libvirt when its lifetime ended" test -n "$gone"
vs_check_eq "libvirt holds only the newest plain one" "$p2" "$(vs_virsh snapshot-list "$dom" --name)"
"$VIRTSNAP" history -c "$conf" -f json >"$dir/history.json"
python3 - "$dir/history.json" "$ttl" "$p1" >"$dir/checks.txt" <<'PY'
import json, sys
rows = {r["snapshot"]: r for r in json.load(open(sys.argv[1]))}
t, p1 = rows[sys.argv[2]], rows[sys.argv[3]]
def check(name, ok, detail=""):
    print(("ok - " if ok else "not ok - ") + name + ("" if ok else "  # " + detail))
check("history: the TTL snapshot is deleted, for its lifetime",
      t["state"] == "deleted" and "lifetime ended at" in (t["delete_reason"] or ""), json.dumps(t))
check("history: it says who asked and why",
      t["requested_by"].startswith("uid 0") and t["note"] == "e2e: before the change", json.dumps(t))
check("history: the first plain one went by retention",
      p1["state"] == "deleted" and "keep_last" in (p1["delete_reason"] or ""), json.dumps(p1))
PY
vs_check "history checks ran" test $? -eq 0
cat "$dir/checks.txt"
grep -q '^not ok' "$dir/checks.txt" && VS_E2E_CASE_FAILED=1

# A user outside group virtsnap: the socket file keeps it out ...
uid=$(id -u "$VS_E2E_USER")
vs_as_user "$VIRTSNAP" snapshot "$dom" --policy nightly -c "$conf" >"$dir/user.out" 2>&1
vs_check_eq "$VS_E2E_USER: snapshot through the socket is refused (exit 1)" 1 $?
vs_check "... permission denied, saying who may" grep -q "permission denied.*root or group virtsnap" "$dir/user.out"
# ... and with the file opened up, the daemon refuses it itself.
chmod 666 "$dir/ctl.sock"
vs_as_user /usr/bin/python3 "$SRC/tests/cli/ctl-send.py" "$dir/ctl.sock" \
        --json "{\"cmd\":\"snapshot\",\"domain\":\"$dom\",\"policy\":\"nightly\"}" >"$dir/peer.out" 2>&1
vs_check "the daemon refuses uid $uid (SO_PEERCRED)" grep -q "permission denied: uid $uid" "$dir/peer.out"
vs_check "... with EACCES" grep -q '"code":"EACCES"' "$dir/peer.out"
vs_check_eq "... and took no snapshot" "$p2" "$(vs_virsh snapshot-list "$dom" --name)"
"$VIRTSNAP" events -c "$conf" --state refused -f csv >"$dir/refused.csv"
vs_check "... and recorded the refusal" grep -q "permission denied: uid $uid" "$dir/refused.csv"
chmod 660 "$dir/ctl.sock"

kill -TERM "$daemon_pid"
wait "$daemon_pid"
vs_check_eq "SIGTERM: the daemon exits 0" 0 $?
daemon_pid=
vs_check "the socket file is removed" test ! -e "$dir/ctl.sock"
vs_case_done
