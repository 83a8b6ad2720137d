#!/usr/bin/env bash
# kill -9 chaos on real QEMU (issue 14): three running 64 MiB guests, a
# disk-only policy (two of them) and an internal one (the third), both
# `every 5s` with keep_last 2.  The daemon is killed with SIGKILL at a
# random moment (seeded: VS_CHAOS_SEED, default 1) and started again, for
# VS_CHAOS_CYCLES cycles (default 25, what CI runs; 500 for a long run).
# Then a crash at each step of a job (VIRTSNAP_CRASH_AT, util/crash.h), one
# clean pass (a daemon run to two more slots, stopped with SIGTERM)
# and `virtsnap reconcile`, and the invariants:
#   lost      a marked snapshot libvirt has that the history does not call
#             present, or a present row whose snapshot libvirt lacks
#   stuck     a row left in an intent state (creating, deleting)
#   orphaned  an overlay beside a disk that no snapshot and no disk's
#             backing chain references
#   retention each domain holds exactly keep_last owned snapshots
# and prints `cycles=N points=6 lost=0 orphaned=0 stuck=0`.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ -n "${VS_E2E_URI:-}" ] || vs_die "run me from run-e2e.sh"
[ -x "${VIRTSNAP:-}" ] || vs_die "VIRTSNAP is not set to the built binary"

cycles=${VS_CHAOS_CYCLES:-25}
seed=${VS_CHAOS_SEED:-1}
dir=$VS_E2E_DIR/chaos
mkdir -p "$dir"
conf=$dir/policies.yaml
log=$dir/daemon.log
disk_domains="vse2e-chaos-a vse2e-chaos-b"
int_domains="vse2e-chaos-c"
domains="$disk_domains $int_domains"

cat >"$conf" <<EOF
connection: "$VS_E2E_URI"
database: $dir/history.db
control_socket: $dir/ctl.sock
timezone: UTC
policies:
  - name: dsk
    domains: {include: [vse2e-chaos-a, vse2e-chaos-b], state: running}
    schedule: every 5s
    snapshot: {type: disk-only, timeout: 30s}
    retention: {keep_last: 2}
  - name: int
    domains: {include: [vse2e-chaos-c], state: running}
    schedule: every 5s
    snapshot: {type: internal, timeout: 30s}
    retention: {keep_last: 2}
EOF

for d in $domains; do
        vs_make_domain "$d" --running
done

daemon_pid=
stop_daemon() {
        [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
}
trap stop_daemon EXIT

# The delays, drawn from the seed: 0.2 s to 6 s, so that kills land before,
# during and after jobs (a 5 s schedule; an internal snapshot takes ~1 s).
RANDOM=$seed
t0=$(date +%s)
for c in $(seq "$cycles"); do
        "$VIRTSNAP" daemon -c "$conf" --log-level info >>"$log" 2>&1 &
        daemon_pid=$!
        ms=$((200 + RANDOM % 5800))
        sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
        kill -9 "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
        daemon_pid=
        echo "--- cycle $c: killed after ${ms} ms" >>"$log"
done
t_chaos=$(($(date +%s) - t0))

# Crash at every step (util/crash.h): one start per point, armed with
# VIRTSNAP_CRASH_AT, must die there by SIGKILL; the next start settles what
# it left.  Every job prunes (keep_last 2 is full), so the delete points are
# reached too.
points="create-intent create-returned create-recorded delete-intent delete-returned delete-recorded"
n_points=0
for pt in $points; do
        echo "--- crash point $pt" >>"$log"
        VIRTSNAP_CRASH_AT=$pt "$VIRTSNAP" daemon -c "$conf" --log-level info >>"$log" 2>&1 &
        daemon_pid=$!
        vs_wait_exit "$daemon_pid" 20
        [ "$vs_rc" = running ] && kill -9 "$daemon_pid" 2>/dev/null
        daemon_pid=
        vs_check_eq "crash point $pt: reached within 20 s, the daemon died by SIGKILL" 137 "$vs_rc"
        n_points=$((n_points + 1))
done
vs_check_eq "every crash point said so in the log" "$n_points" "$(grep -c 'VIRTSNAP_CRASH_AT: crashing now' "$log")"

# One clean pass: two more slots, then SIGTERM between jobs.
"$VIRTSNAP" daemon -c "$conf" --log-level info >>"$log" 2>&1 &
daemon_pid=$!
sleep 12
kill -TERM "$daemon_pid"
vs_wait_exit "$daemon_pid" 90
daemon_pid=
vs_check_eq "the clean pass ends with exit 0 on SIGTERM" 0 "$vs_rc"

"$VIRTSNAP" reconcile -c "$conf" >"$dir/reconcile.txt" 2>&1
vs_check_eq "reconcile exits 0" 0 $?
"$VIRTSNAP" history -c "$conf" -f json >"$dir/history.json"
vs_check_eq "history exits 0" 0 $?
# A start logs "reconciled: ..." only when it settled something: an intent
# a kill left behind.
vs_check "kills landed in the middle of jobs (a start settled their intents)" grep -q 'reconciled: ' "$log"

# libvirt's view: the snapshots (name, with their disk files) and, for every
# disk of every domain, its current backing chain.
for d in $domains; do
        for s in $(vs_virsh snapshot-list "$d" --name); do
                echo "$d $s"
        done
done >"$dir/libvirt-snapshots.txt"
for d in $domains; do
        for s in $(vs_virsh snapshot-list "$d" --name); do
                vs_virsh snapshot-dumpxml "$d" "$s" | grep -o "<source file='[^']*'" | cut -d"'" -f2
        done
        for f in $(vs_virsh domblklist "$d" --details | awk '$2 == "disk" {print $4}'); do
                qemu-img info -U --backing-chain "$f" | sed -n 's/^image: //p'
        done
done | sort -u >"$dir/referenced.txt"
for d in $domains; do
        ls "$VS_E2E_IMG/$d".* 2>/dev/null | grep -v -e '\.xml$' -e '\.console$'
done | sort -u >"$dir/on-disk.txt"

python3 - "$dir" "$cycles" "$seed" "$t_chaos" "$n_points" $domains >"$dir/checks.txt" <<'EOF'
import json, sys
d, cycles, seed, t_chaos, points = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
domains = sys.argv[6:]
hist = json.load(open(d + "/history.json"))
libvirt = {}
for line in open(d + "/libvirt-snapshots.txt"):
    dom, snap = line.split()
    libvirt.setdefault(dom, set()).add(snap)
referenced = set(open(d + "/referenced.txt").read().split())
on_disk = set(open(d + "/on-disk.txt").read().split())

def check(name, ok, detail=""):
    print(("ok - " if ok else "not ok - ") + name + ("" if ok else "  # " + detail))

lost, stuck = [], []
for dom in domains:
    rows = [h for h in hist if h["domain"] == dom]
    present = set(h["snapshot"] for h in rows if h["state"] == "present")
    owned = set(s for s in libvirt.get(dom, set()) if s.startswith(("dsk-", "int-")))
    lost += ["%s/%s in libvirt, not present in history" % (dom, s) for s in owned - present]
    lost += ["%s/%s present in history, not in libvirt" % (dom, s) for s in present - owned]
    stuck += ["%s/%s %s" % (dom, h["snapshot"], h["state"]) for h in rows
              if h["state"] in ("creating", "deleting")]
    check(dom + ": retention holds (keep_last 2)", len(owned) == 2, "%d owned: %s" % (len(owned), sorted(owned)))
    made = [h for h in rows if h["state"] in ("present", "deleted")]
    check(dom + ": snapshots were taken through the chaos", len(made) >= 4, "%d" % len(made))
orphaned = sorted(on_disk - referenced)
# The listing must see what it judges: every disk-only domain's base and
# its two snapshots' overlays at least (else the orphan check sees nothing).
for dom in domains[:2]:
    mine = [f for f in on_disk if f.rsplit("/", 1)[-1].startswith(dom + ".")]
    check(dom + ": the disk listing sees its base and overlays", len(mine) >= 3, "%r" % mine)
check("no snapshot lost", not lost, "; ".join(lost))
check("no row stuck in an intent state", not stuck, "; ".join(stuck))
check("no overlay on disk that nothing references", not orphaned, " ".join(orphaned))
failed = sum(1 for h in hist if h["state"] == "failed")
print("# chaos: seed=%s %ss of kills, %d rows, %d failed (interrupted) attempts, %d files on disk" % (seed, t_chaos, len(hist), failed, len(on_disk)))
print("# cycles=%d points=%d lost=%d orphaned=%d stuck=%d" % (cycles, points, len(lost), len(orphaned), len(stuck)))
EOF
vs_check "invariant checks ran" test $? -eq 0
cat "$dir/checks.txt"
grep '^# cycles=' "$dir/checks.txt" | sed 's/^# //' >&2
grep -q '^not ok' "$dir/checks.txt" && VS_E2E_CASE_FAILED=1
vs_case_done
