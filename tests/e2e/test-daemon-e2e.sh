#!/usr/bin/env bash
# `virtsnap daemon` unattended on the real isolated libvirtd for about a
# minute (issue 6): schedule every 10s with keep_last 2 over three running
# QEMU domains.  Checks: exactly two owned snapshots per domain at the end, a
# foreign snapshot made with virsh untouched, the history recording every
# create and prune and agreeing with libvirt, a broken file on SIGHUP keeping
# the old policy in force, a second daemon on the same database refused,
# a libvirtd crash + restart losing no slot beyond the outage, and SIGTERM
# exiting 0.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ -n "${VS_E2E_URI:-}" ] || vs_die "run me from run-e2e.sh"
[ -x "${VIRTSNAP:-}" ] || vs_die "VIRTSNAP is not set to the built binary"

dir=$VS_E2E_DIR/daemon
mkdir -p "$dir"
conf=$dir/policies.yaml
log=$dir/daemon.log
domains="vse2e-dmn-a vse2e-dmn-b vse2e-dmn-c"

cat >"$conf" <<EOF
connection: "$VS_E2E_URI"
database: $dir/history.db
control_socket: $dir/ctl.sock
timezone: UTC
policies:
  - name: fast
    domains:
      include: ["vse2e-dmn-*"]
      state: running
    schedule: every 10s
    snapshot:
      type: disk-only
      name: "fast-{utc:%Y%m%dT%H%M%SZ}"
      timeout: 30s
    retention:
      keep_last: 2
EOF
cp "$conf" "$dir/good.yaml"

for d in $domains; do
        vs_make_domain "$d" --running
done
vs_virsh snapshot-create-as vse2e-dmn-a by-hand --disk-only --atomic >/dev/null

daemon_pid=
stop_daemon() {
        [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
}
trap stop_daemon EXIT

# Wait until the wall clock is N seconds past a multiple of 10.
wait_phase() {
        while [ $(( $(date +%s) % 10 )) -ne "$1" ]; do
                sleep 0.2
        done
}

wait_phase 5
t_start=$(date +%s)
"$VIRTSNAP" daemon -c "$conf" --log-level info >"$log" 2>&1 &
daemon_pid=$!
sleep 2
vs_check "the daemon is running" kill -0 "$daemon_pid"

# One daemon per database.
timeout 20 "$VIRTSNAP" daemon -c "$conf" >"$dir/second.log" 2>&1
vs_check_eq "a second daemon on the same database exits 1" 1 $?
vs_check "... saying why" grep -qi "already" "$dir/second.log"

# A broken file on SIGHUP: rejected, the old policy stays in force.
sleep 10
echo "  - name: [broken" >>"$conf"
t_hup=$(date +%s)
kill -HUP "$daemon_pid"
sleep 1
vs_check "SIGHUP with a broken file: the reload is rejected" grep -q "rejected" "$log"
vs_check "... with file:line:col" grep -q "policies.yaml:[0-9]*:[0-9]*:" "$log"
vs_check "... and the daemon keeps running" kill -0 "$daemon_pid"
cp "$dir/good.yaml" "$conf"

# A libvirtd crash, 3s after a slot, for 12s.
wait_phase 3
t_kill=$(date +%s)
vs_libvirtd_stop --kill
sleep 12
t_restart=$(date +%s)
vs_libvirtd_start
vs_check "the daemon survived the libvirtd outage" kill -0 "$daemon_pid"

# Let it run 25 s more, then stop it between two slots.
sleep 25
wait_phase 5
t_term=$(date +%s)
kill -TERM "$daemon_pid"
vs_wait_exit "$daemon_pid" 70
vs_check_eq "SIGTERM: the daemon exits 0" 0 "$vs_rc"
daemon_pid=

vs_log "daemon: start $t_start, hup $t_hup, libvirtd killed $t_kill, restarted $t_restart, term $t_term"

# libvirt's view: two owned per domain, the foreign one untouched.
for d in $domains; do
        owned=$(vs_virsh snapshot-list "$d" --name | grep -c '^fast-')
        vs_check_eq "$d: exactly two owned snapshots in libvirt" 2 "$owned"
done
vs_check_eq "the foreign snapshot is still there, still the root" "by-hand:-" \
        "$(vs_snapshot_parents vse2e-dmn-a | grep '^by-hand:')"

"$VIRTSNAP" history -c "$conf" -f json >"$dir/history.json"
vs_check_eq "history exits 0" 0 $?
for d in $domains; do
        vs_snapshot_parents "$d" | cut -d: -f1 | grep '^fast-' | sort >"$dir/libvirt-$d.txt"
done

# Check the history against the daemon's log, libvirt, and the slots.
python3 - "$dir" "$t_start" "$t_hup" "$t_kill" "$t_restart" "$t_term" $domains >"$dir/checks.txt" <<'EOF'
import calendar, json, re, sys, time

d, t_start, t_hup, t_kill, t_restart, t_term = sys.argv[1], *map(int, sys.argv[2:7])
domains = sys.argv[7:]
hist = [h for h in json.load(open(d + "/history.json")) if h["policy"] == "fast"]
log = open(d + "/daemon.log").read()

def ts(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))

def check(name, ok, detail=""):
    print(("ok - " if ok else "not ok - ") + name)
    if not ok and detail:
        print("#   " + detail)

for dom in domains:
    rows = [h for h in hist if h["domain"] == dom]
    made = [h for h in rows if h["state"] in ("present", "deleted")]
    present = sorted(h["snapshot"] for h in rows if h["state"] == "present")
    deleted = [h for h in rows if h["state"] == "deleted"]
    libvirt = open("%s/libvirt-%s.txt" % (d, dom)).read().split()
    check(dom + ": history's present snapshots are exactly libvirt's", present == libvirt,
          "history %s, libvirt %s" % (present, libvirt))
    created_log = re.findall(r"%s/fast: created snapshot (\S+)" % re.escape(dom), log)
    pruned_log = re.findall(r"%s/fast: pruned (\S+)" % re.escape(dom), log)
    check(dom + ": every create in the log is in the history",
          sorted(created_log) == sorted(h["snapshot"] for h in made),
          "log %s, history %s" % (sorted(created_log), sorted(h["snapshot"] for h in made)))
    check(dom + ": every prune in the log is in the history",
          sorted(pruned_log) == sorted(h["snapshot"] for h in deleted),
          "log %s, history %s" % (sorted(pruned_log), sorted(h["snapshot"] for h in deleted)))
    check(dom + ": pruned ones carry the retention reason",
          all(h["delete_reason"] and "keep_last" in h["delete_reason"] for h in deleted))
    check(dom + ": at least 5 snapshots taken over the run", len(made) >= 5, "%d" % len(made))
    # Every 10 s slot after the start, outside the outage, has its snapshot.
    slots = set(ts(h["scheduled"]) for h in made if h["scheduled"])
    want = [s for s in range(t_start - t_start % 10 + 10, t_term, 10)
            if not (t_kill < s <= t_restart + 10)]
    missing = [time.strftime("%H:%M:%S", time.gmtime(s)) for s in want if s not in slots]
    check(dom + ": no slot lost outside the libvirtd outage", not missing,
          "missing slots %s" % missing)
    after_hup = [h for h in made if ts(h["scheduled"]) > t_hup]
    check(dom + ": the old policy kept firing after the rejected reload", len(after_hup) >= 2)
EOF
vs_check "history checks ran" test $? -eq 0
cat "$dir/checks.txt"
grep -q '^not ok' "$dir/checks.txt" && VS_E2E_CASE_FAILED=1
vs_case_done
