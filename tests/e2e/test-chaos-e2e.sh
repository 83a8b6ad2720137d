#!/usr/bin/env bash
# kill -9 chaos on real QEMU (issue 14): three running 64 MiB guests, a
# disk-only policy (two of them) and an internal one (the third), both
# `every 5s` with keep_last 2.  The daemon is killed with SIGKILL at a
# random moment (seeded: VS_CHAOS_SEED, default 1), every other time a
# random moment inside a job, and started again, for
# VS_CHAOS_CYCLES cycles (default 25, what CI runs; 500 for a long run).
# Then a crash at each step of a job (VIRTSNAP_CRASH_AT, util/crash.h), each
# followed by `virtsnap reconcile` and the invariants; libvirtd killed while
# a job runs (VS_CHAOS_OUTAGES, default 2) with `history` and `status`
# reading the database in a loop; one clean pass (a daemon run to two more
# slots, stopped with SIGTERM) and `virtsnap reconcile`, and the invariants:
#   lost      a marked snapshot libvirt has that the history does not call
#             present, or a present row whose snapshot libvirt lacks
#   stuck     a row left in an intent state (creating, deleting)
#   orphaned  an overlay beside a disk that no snapshot and no disk's
#             backing chain references
#   retention each domain holds exactly keep_last owned snapshots (at the end),
#             besides those libvirt refuses to delete after an outage cut a
#             delete short (each refusal recorded with libvirt's words)
# and prints `cycles=N points=6 outages=2 lost=0 orphaned=0 stuck=0` (the
# sums over every check).
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
# Every other cycle aims: it waits for an intent row (a job between its
# commit and libvirt's answer; jobs are short, a few hundred ms) and kills
# as soon as it saw one, so that kills land inside jobs whatever the machine's
# speed.
for c in $(seq "$cycles"); do
        "$VIRTSNAP" daemon -c "$conf" --log-level info >>"$log" 2>&1 &
        daemon_pid=$!
        if [ $((c % 2)) -eq 0 ]; then
                for i in $(seq 120); do
                        "$VIRTSNAP" history -c "$conf" -f csv 2>/dev/null | grep -q -e ',creating,' -e ',deleting,' &&
                                break
                        sleep 0.02
                done
                ms=0 # at once: under ASan the poll alone takes as long as a job
                how="in a job ($([ "$i" -lt 120 ] && echo seen || echo not seen))"
        else
                ms=$((200 + RANDOM % 5800))
                how="after ${ms} ms"
        fi
        sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
        kill -9 "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
        daemon_pid=
        echo "--- cycle $c: killed $how" >>"$log"
done
t_chaos=$(($(date +%s) - t0))

# The invariants, checked after every crash point and at the end.
# collect LABEL: libvirt's view (the snapshots; every file a snapshot or a
# disk's current backing chain references; the files beside the disks) and
# the history, as LABEL-*.  check_invariants LABEL [retention]: lost, stuck
# and orphaned (and, at the end, retention), printed as TAP lines.
collect() {
        local p=$dir/$1 d s f
        for d in $domains; do
                for s in $(vs_virsh snapshot-list "$d" --name); do
                        echo "$d $s"
                done
        done >"$p-libvirt-snapshots.txt"
        for d in $domains; do
                for s in $(vs_virsh snapshot-list "$d" --name); do
                        vs_virsh snapshot-dumpxml "$d" "$s" | grep -o "<source file='[^']*'" | cut -d"'" -f2
                done
                for f in $(vs_virsh domblklist "$d" --details | awk '$2 == "disk" {print $4}'); do
                        qemu-img info -U --backing-chain "$f" | sed -n 's/^image: //p'
                done
        done | sort -u >"$p-referenced.txt"
        for d in $domains; do
                ls "$VS_E2E_IMG/$d".* 2>/dev/null | grep -v -e '\.xml$' -e '\.console$'
        done | sort -u >"$p-on-disk.txt"
        "$VIRTSNAP" history -c "$conf" -f json >"$p-history.json"
        "$VIRTSNAP" events -c "$conf" -f json >"$p-events.json"
}

cat >"$dir/invariants.py" <<'EOF'
import json, sys
prefix, label, retention = sys.argv[1], sys.argv[2], sys.argv[3] == "retention"
domains = sys.argv[4:]
hist = json.load(open(prefix + "-history.json"))
libvirt = {}
for line in open(prefix + "-libvirt-snapshots.txt"):
    dom, snap = line.split()
    libvirt.setdefault(dom, set()).add(snap)
referenced = set(open(prefix + "-referenced.txt").read().split())
on_disk = set(open(prefix + "-on-disk.txt").read().split())
events = json.load(open(prefix + "-events.json"))
try:
    windows = [tuple(map(int, l.split())) for l in open(prefix.rsplit("/", 1)[0] + "/outages.txt")]
except FileNotFoundError:
    windows = []
def epoch(s):
    import calendar, time
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
def in_outage(s):
    return any(k - 1 <= epoch(s) <= b for k, r, b in windows)
# libvirt 9.0 cannot always finish deleting external snapshots after a
# libvirtd kill cut a delete (a block commit) short: it refuses the
# snapshot and the ones above it on the chain from then on, in words that
# vary with where the commit was ("... was target of not completed snapshot
# delete", "... is not in this backing file chain", ...).  virtsnap records
# every refusal (undeletable for the wordings known to be permanent, else
# delete-failed) and keeps retention for the rest.  An extra snapshot is
# excused only where the history shows exactly that: a delete failed inside
# an outage on that domain, and this snapshot's deletes were refused after
# it, each with libvirt's reason (printed).
def excused_undeletable(dom, rows):
    cut = [epoch(e["time"]) for e in events
           if e["domain"] == dom and e["kind"] == "delete-failed" and in_outage(e["time"])]
    if not cut:
        return set(), {}
    why = {}
    for e in events:
        if (e["domain"] == dom and e["kind"] in ("undeletable", "delete-failed") and e["snapshot"]
                and epoch(e["time"]) > min(cut) and not in_outage(e["time"]) and e["message"]):
            why.setdefault(e["snapshot"], e["message"])
    return set(h["snapshot"] for h in rows if h["state"] == "present" and h["snapshot"] in why), why

def check(name, ok, detail=""):
    print(("ok - " if ok else "not ok - ") + label + ": " + name + ("" if ok else "  # " + detail))

lost, stuck = [], []
for dom in domains:
    rows = [h for h in hist if h["domain"] == dom]
    present = set(h["snapshot"] for h in rows if h["state"] == "present")
    owned = set(s for s in libvirt.get(dom, set()) if s.startswith(("dsk-", "int-")))
    lost += ["%s/%s in libvirt, not present in history" % (dom, s) for s in owned - present]
    lost += ["%s/%s present in history, not in libvirt" % (dom, s) for s in present - owned]
    stuck += ["%s/%s %s" % (dom, h["snapshot"], h["state"]) for h in rows
              if h["state"] in ("creating", "deleting")]
    if retention:
        excused, why = excused_undeletable(dom, rows)
        excused &= owned
        for snap in sorted(excused):
            print("# %s: %s/%s: libvirt refuses its delete since an outage cut one short: %s"
                  % (label, dom, snap, why[snap][:200]))
        check(dom + ": retention holds (keep_last 2)", len(owned - excused) == 2,
              "%d owned: %s" % (len(owned), sorted(owned)))
        made = [h for h in rows if h["state"] in ("present", "deleted")]
        check(dom + ": snapshots were taken through the chaos", len(made) >= 4, "%d" % len(made))
# libvirtd killed while it made a disk-only snapshot's overlays leaves them
# behind: libvirt 9.0 does not remove the files it pre-created when it comes
# back, and virtsnap does not delete a file no snapshot names (QEMU may
# hold it).  Such a file is allowed only where the history tells the truth
# about it: named for an attempt that failed during a libvirtd outage.
outage_failed = set()
for h in hist:
    if h["state"] == "failed" and h["snapshot"] and any(k - 1 <= epoch(h["started"]) <= b for k, r, b in windows):
        outage_failed.add(h["domain"] + "." + h["snapshot"])
stray = sorted(f for f in on_disk - referenced if f.rsplit("/", 1)[-1] in outage_failed)
orphaned = sorted(on_disk - referenced - set(stray))
# The listing must see what it judges: every disk-only domain's base and
# an overlay at least (else the orphan check sees nothing).
for dom in domains[:2]:
    mine = [f for f in on_disk if f.rsplit("/", 1)[-1].startswith(dom + ".")]
    check(dom + ": the disk listing sees its base and overlays", len(mine) >= 2, "%r" % mine)
check("no snapshot lost", not lost, "; ".join(lost))
check("no row stuck in an intent state", not stuck, "; ".join(stuck))
check("no overlay on disk that nothing references", not orphaned, " ".join(orphaned))
failed = sum(1 for h in hist if h["state"] == "failed")
if stray:
    print("# %s: left by libvirtd killed mid-create (failed attempts in the history): %s" % (label, " ".join(stray)))
print("# %s: %d rows, %d failed (interrupted) attempts, %d files on disk, %d stray; lost=%d orphaned=%d stuck=%d"
      % (label, len(hist), failed, len(on_disk), len(stray), len(lost), len(orphaned), len(stuck)))
EOF

check_invariants() {
        local label=$1 mode=${2:-}
        collect "$label"
        python3 "$dir/invariants.py" "$dir/$label" "$label" "$mode" $domains >"$dir/$label-checks.txt"
        vs_check "$label: invariant checks ran" test $? -eq 0
        cat "$dir/$label-checks.txt"
        grep -q '^not ok' "$dir/$label-checks.txt" && VS_E2E_CASE_FAILED=1
        sed -n 's/.* \([0-9]*\) stray; lost=\([0-9]*\) orphaned=\([0-9]*\) stuck=\([0-9]*\)$/\2 \3 \4 \1/p' \
                "$dir/$label-checks.txt" >>"$dir/totals.txt"
}
: >"$dir/totals.txt"
rm -f "$dir/outages.txt"

# Crash at every step (util/crash.h): one start per point, armed with
# VIRTSNAP_CRASH_AT, must die there by SIGKILL.  Every job prunes
# (keep_last 2 is full), so the delete points are reached too.  After each
# crash, `virtsnap reconcile` (no daemon runs) must leave the invariants
# true: what the crash left is settled from the history's intents and
# libvirt's view, not by the next start.
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
        "$VIRTSNAP" reconcile -c "$conf" >>"$dir/reconcile-points.txt" 2>&1
        vs_check_eq "crash point $pt: reconcile exits 0" 0 $?
        check_invariants "after crash point $pt"
        n_points=$((n_points + 1))
done
vs_check_eq "every crash point said so in the log" "$n_points" "$(grep -c 'VIRTSNAP_CRASH_AT: crashing now' "$log")"

# libvirtd killed (SIGKILL) while a job runs, VS_CHAOS_OUTAGES times
# (default 2), for 7 s each (longer than the 5 s schedule): the daemon
# survives, reconnects with backoff, records the jobs the outage failed and
# catches up once.  Meanwhile `history` and `status` read the database the
# daemon writes, as an admin's monitoring would, in a loop: each read must
# succeed, never "database is locked" (the store's busy timeout).
outages=${VS_CHAOS_OUTAGES:-2}
readers() {
        local n=0 bad=0
        while [ ! -e "$dir/readers.stop" ]; do
                for cmd in history status; do
                        if ! "$VIRTSNAP" "$cmd" -c "$conf" >/dev/null 2>"$dir/reader.err" ||
                                grep -q -i 'locked' "$dir/reader.err"; then
                                bad=$((bad + 1))
                                cat "$dir/reader.err" >>"$dir/reader-failures.txt"
                        fi
                        n=$((n + 1))
                done
        done
        echo "$n $bad" >"$dir/readers.txt"
}
rm -f "$dir/readers.stop" "$dir/reader-failures.txt"
readers &
readers_pid=$!
echo "--- libvirtd outages" >>"$log"
"$VIRTSNAP" daemon -c "$conf" --log-level info >>"$log" 2>&1 &
daemon_pid=$!
: >"$dir/outages.txt"
for o in $(seq "$outages"); do
        # Wait for a job in flight (an intent committed, libvirt not done).
        for i in $(seq 150); do
                "$VIRTSNAP" history -c "$conf" -s creating -f csv 2>/dev/null | grep -q ',creating,' && break
                sleep 0.1
        done
        t_kill=$(date +%s)
        vs_libvirtd_stop --kill
        echo "--- outage $o: libvirtd killed (a job in flight: $([ "$i" -lt 150 ] && echo yes || echo no))" >>"$log"
        sleep 7
        t_restart=$(date +%s)
        vs_libvirtd_start
        for i in $(seq 400); do
                [ "$(grep -c 'connection is back' "$log")" -ge "$o" ] && break
                sleep 0.1
        done
        t_back=$(date +%s)
        vs_check "outage $o: the daemon survived it" kill -0 "$daemon_pid"
        vs_check "outage $o: it reconnected within 40 s of the restart ($((t_back - t_restart)) s)" \
                test "$(grep -c 'connection is back' "$log")" -ge "$o"
        echo "$t_kill $t_restart $t_back" >>"$dir/outages.txt"
        # Two slots after it, for the catch-up and a regular firing.
        sleep 11
done
touch "$dir/readers.stop"
wait "$readers_pid"
kill -TERM "$daemon_pid"
vs_wait_exit "$daemon_pid" 90
daemon_pid=
vs_check_eq "after the outages the daemon stops with exit 0 on SIGTERM" 0 "$vs_rc"
read -r n_reads bad_reads <"$dir/readers.txt"
vs_check "readers during the writes: $n_reads reads, $bad_reads failed or locked" \
        test "$n_reads" -gt 20 -a "$bad_reads" -eq 0
[ -s "$dir/reader-failures.txt" ] && head -5 "$dir/reader-failures.txt"
vs_check "the first failed reconnect is logged with its backoff" \
        grep -q 'connection failed: .*(retrying in 1s)' "$log"
vs_check "... and the next ones with a longer one" \
        grep -q 'still unreachable after 2 attempts: .*(retrying in 2s)' "$log"
"$VIRTSNAP" history -c "$conf" -f json >"$dir/outage-history.json"
"$VIRTSNAP" events -c "$conf" -f json >"$dir/outage-events.json"
python3 - "$dir" $domains >"$dir/outage-checks.txt" <<'EOF'
import calendar, json, sys, time
d, domains = sys.argv[1], sys.argv[2:]
hist = json.load(open(d + "/outage-history.json"))
events = json.load(open(d + "/outage-events.json"))
outages = [tuple(map(int, l.split())) for l in open(d + "/outages.txt")]

def ts(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) if s else None

def check(name, ok, detail=""):
    print(("ok - " if ok else "not ok - ") + name + ("" if ok else "  # " + detail))

for n, (t_kill, t_restart, t_back) in enumerate(outages, 1):
    # The jobs the outage met (the one in flight at the kill, started at
    # most a slot before it, and those started during it) each end
    # recorded: made (a create retried until libvirtd was back), failed
    # with libvirt's reason, or skipped; a delete the kill cut short is a
    # delete-failed event with its reason.  None is left in an intent state.
    met = [h for h in hist if t_kill - 5 <= ts(h["started"]) <= t_back]
    del_failed = [e for e in events if e["kind"] == "delete-failed" and t_kill <= ts(e["time"]) <= t_back]
    check("outage %d: it met jobs" % n, len(met) >= 1, "no attempt started in [%d, %d]" % (t_kill - 5, t_back))
    check("outage %d: each job it met ended recorded" % n,
          all(h["state"] in ("present", "deleted", "failed", "skipped") for h in met),
          "%r" % [(h["domain"], h["snapshot"], h["state"]) for h in met
                  if h["state"] not in ("present", "deleted", "failed", "skipped")])
    check("outage %d: each failure says why" % n,
          all(h["error"] for h in met if h["state"] == "failed")
          and all(e["message"] for e in del_failed))
    print("# outage %d: %d jobs met: %d made, %d failed, %d skipped; %d deletes cut short" %
          (n, len(met), sum(h["state"] in ("present", "deleted") for h in met),
           sum(h["state"] == "failed" for h in met), sum(h["state"] == "skipped" for h in met), len(del_failed)))
    for dom in domains:
        for pol in ("dsk", "int"):
            rows = [h for h in hist if h["domain"] == dom and h["policy"] == pol]
            if not rows:
                continue
            ups = [h for h in rows if h["origin"] == "catch-up" and t_restart <= ts(h["started"]) <= t_back + 10]
            check("outage %d: %s/%s caught up at most once" % (n, dom, pol), len(ups) <= 1,
                  "%d catch-ups: %s" % (len(ups), [h["snapshot"] for h in ups]))
            after = [h for h in rows if h["state"] in ("present", "deleted") and ts(h["started"]) >= t_restart]
            check("outage %d: %s/%s snapshots again after it" % (n, dom, pol), len(after) >= 1)
for dom in domains:
    made = [h for h in hist if h["domain"] == dom and h["state"] in ("present", "deleted") and h["scheduled"]]
    slots = [(h["policy"], h["scheduled"]) for h in made]
    dup = sorted(set(s for s in slots if slots.count(s) > 1))
    check(dom + ": no slot has two snapshots", not dup, "%r" % dup)
EOF
vs_check "outage checks ran" test $? -eq 0
cat "$dir/outage-checks.txt"
grep -q '^not ok' "$dir/outage-checks.txt" && VS_E2E_CASE_FAILED=1

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
# A start logs "reconciled: ..." only when it settled something: an intent
# a kill left behind.
vs_check "kills landed in the middle of jobs (a start settled their intents)" grep -q 'reconciled: ' "$log"
check_invariants end retention

read -r lost orphaned stuck < <(awk '{l += $1; o += $2; s += $3} END {print l + 0, o + 0, s + 0}' "$dir/totals.txt")
stray=$(tail -n 1 "$dir/totals.txt" | awk '{print $4}')
vs_check "the invariants were read off every check ($(wc -l <"$dir/totals.txt") of $((n_points + 1)))" \
        test "$(wc -l <"$dir/totals.txt")" -eq $((n_points + 1))
echo "# chaos: seed=$seed, ${t_chaos}s of kills, $outages libvirtd outages, $stray stray files libvirt left"
echo "cycles=$cycles points=$n_points outages=$outages lost=$lost orphaned=$orphaned stuck=$stuck stray=$stray" >&2
echo "# cycles=$cycles points=$n_points outages=$outages lost=$lost orphaned=$orphaned stuck=$stuck stray=$stray"
vs_case_done
