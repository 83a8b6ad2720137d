#!/usr/bin/env bash
# The scheduler commands as a user runs them, on libvirt's test driver:
# `run --once` on a node holding owned and foreign snapshots (reconcile
# adopts, one snapshot is created, prune keeps the last two, the foreign one
# is never recorded), `prune --dry-run`, `plan`, `snapshot`, and the daemon
# on test:///default (catch-up at once, `every 2s` firings pruned to
# keep_last 2, a broken file on SIGHUP keeps it running, a second daemon on
# the same database is refused, SIGTERM exits 0).
set -u

VIRTSNAP=${VIRTSNAP:?VIRTSNAP must point at the virtsnap binary}
SRC=${VS_SOURCE_ROOT:?VS_SOURCE_ROOT must point at the source tree}
tmp=$(mktemp -d)
daemon_pid=
cleanup() {
        [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
cd "$tmp" || exit 1

fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

# count STATE: rows of the history in that state (CSV, header skipped).
count() {
        "$VIRTSNAP" history --database "$1" --state "$2" --format csv | tail -n +2 | wc -l
}

count_events() {
        "$VIRTSNAP" events --database "$1" --state "$2" --format csv | tail -n +2 | wc -l
}

NODE="test://$SRC/tests/data/node-prune.xml"

cat >pol.yaml <<'YAML'
connection: qemu:///system
timezone: UTC
policies:
  - name: demo
    domains: {include: [app]}
    schedule: hourly
    retention: {keep_last: 2}
YAML

# ---- usage errors ----------------------------------------------------------
"$VIRTSNAP" run -c pol.yaml >out 2>err
[ $? -eq 2 ] || fail "run without --once: want exit 2"
grep -q '^virtsnap run: --once is required' err || fail "run without --once: message: $(cat err)"
"$VIRTSNAP" snapshot app -c pol.yaml >out 2>err
[ $? -eq 2 ] || fail "snapshot without --policy: want exit 2"
"$VIRTSNAP" daemon --log-level loud -c pol.yaml >out 2>err
[ $? -eq 2 ] || fail "daemon --log-level loud: want exit 2"
"$VIRTSNAP" run --once -c pol.yaml --policy nope --connect "$NODE" --database "$tmp/u.db" >out 2>err
[ $? -eq 2 ] || fail "run --policy nope: want exit 2"
grep -q "no policy named 'nope'" err || fail "run --policy nope: message: $(cat err)"

# ---- run --once: reconcile (adopt), create, prune ----------------------------
"$VIRTSNAP" run --once -c pol.yaml --connect "$NODE" --database "$tmp/once.db" >out 2>err
rc=$?
[ $rc -eq 0 ] || fail "run --once: exit $rc: $(cat err)"
[ -s out ] && fail "run --once: unexpected stdout: $(cat out)"
grep -q '3 adopted' err || fail "run --once: no adoption logged: $(cat err)"
grep -q 'app/demo: created snapshot demo-' err || fail "run --once: no create logged"
grep -q 'app/demo: pruned demo-old-2 ' err || fail "run --once: demo-old-2 not pruned"
grep -q 'app/demo: pruned demo-old-1 ' err || fail "run --once: demo-old-1 not pruned"
[ "$(count once.db present)" -eq 2 ] || fail "run --once: want 2 present"
[ "$(count once.db deleted)" -eq 2 ] || fail "run --once: want 2 deleted"
[ "$(count_events once.db adopted)" -eq 3 ] || fail "run --once: want 3 adopted events"
[ "$(count_events once.db pruned)" -eq 2 ] || fail "run --once: want 2 pruned events"
"$VIRTSNAP" history --database once.db --format csv >hist
grep -q 'by-hand' hist && fail "run --once: the foreign snapshot was recorded"
grep -q 'demo-old-3' hist || fail "run --once: demo-old-3 missing from the history"

# ---- prune --dry-run and plan: read the history, change nothing -------------
"$VIRTSNAP" prune --dry-run -c pol.yaml --connect "$NODE" --database "$tmp/once.db" >out 2>err
[ $? -eq 0 ] || fail "prune --dry-run: exit $?: $(cat err)"
[ "$(head -1 out | awk '{print $1, $2, $3, $4}')" = "VERDICT DOMAIN POLICY SNAPSHOT" ] || fail "prune --dry-run: header"
[ "$(grep -c '^keep  *app  *demo ' out)" -eq 2 ] || fail "prune --dry-run: want two keep lines: $(cat out)"
grep -q 'demo-old-3 .*2026-03-29T04:00:00Z  *last$' out || fail "prune --dry-run: demo-old-3 kept by last: $(cat out)"
[ "$(count once.db present)" -eq 2 ] || fail "prune --dry-run changed the history"

"$VIRTSNAP" plan -c pol.yaml --connect "$NODE" --database "$tmp/once.db" --at 2026-11-27T05:30:00Z >out 2>err
[ $? -eq 0 ] || fail "plan: exit $?: $(cat err)"
grep -q '^plan at 2026-11-27T05:30:00Z (time zone UTC)$' out || fail "plan: header: $(cat out)"
grep -q '^policy demo: schedule "hourly", jitter 0s, catch_up true' out || fail "plan: policy line"
grep -q '^  app: next 2026-11-27T06:00:00Z' out || fail "plan: next firing: $(cat out)"
grep -q 'prune now: 0 of 2 held would be removed' out || fail "plan: prune preview: $(cat out)"
# --count N: the next N firings, as --help promises.
"$VIRTSNAP" plan -c pol.yaml --connect "$NODE" --database "$tmp/once.db" --at 2026-11-27T05:30:00Z --count 3 >out 2>err
[ $? -eq 0 ] || fail "plan --count: exit $?: $(cat err)"
[ "$(grep -A2 '^  app: next 2026-11-27T06:00:00Z' out | sed -n '2,3s/ (.*//p' | tr -s ' ')" = " then 2026-11-27T07:00:00Z
 then 2026-11-27T08:00:00Z" ] || fail "plan --count 3: $(cat out)"
"$VIRTSNAP" plan -c pol.yaml --count 0 >out 2>err
[ $? -eq 2 ] || fail "plan --count 0: want exit 2"
grep -q "^virtsnap plan: --count: '0' is not a number from 1 to 1000" err || fail "plan --count 0: $(cat err)"

# Nothing due an instant later: exit 0, nothing created.  (The node's state
# is private to each process, so this pass re-adopts the two pruned snapshots
# and finds the new one vanished: the history follows libvirt.)
"$VIRTSNAP" run --once -c pol.yaml --connect "$NODE" --database "$tmp/once.db" >out 2>err
[ $? -eq 0 ] || fail "second run --once: exit $?"
grep -q 'created snapshot' err && fail "second run --once created a snapshot"

[ "$(count_events once.db vanished)" -eq 1 ] || fail "second run --once: want the new snapshot vanished"

# ---- snapshot: ad hoc, recorded, pruned (one process: the node is private) --
"$VIRTSNAP" snapshot app --policy demo -c pol.yaml --connect "$NODE" --database "$tmp/adhoc.db" >out 2>err
[ $? -eq 0 ] || fail "snapshot: exit $?: $(cat err)"
[ "$(count adhoc.db present)" -eq 2 ] || fail "snapshot: want 2 present (new + demo-old-3)"
[ "$(count adhoc.db deleted)" -eq 2 ] || fail "snapshot: want 2 deleted"
"$VIRTSNAP" snapshot ghost --policy demo -c pol.yaml --connect "$NODE" --database "$tmp/adhoc.db" >out 2>err
[ $? -eq 1 ] || fail "snapshot of a missing domain: want exit 1"
grep -q "no domain 'ghost'" err || fail "snapshot ghost: message: $(cat err)"

# ---- the daemon on test:///default -------------------------------------------
cat >d.yaml <<YAML
timezone: UTC
control_socket: $tmp/ctl.sock
metrics_textfile: $tmp/virtsnap.prom
policies:
  - name: fast
    domains: {include: [test]}
    schedule: every 2s
    snapshot: {type: internal}
    retention: {keep_last: 2}
YAML
"$VIRTSNAP" daemon -c "$tmp/d.yaml" --connect test:///default --database "$tmp/d.db" --log-level debug 2>daemon.log &
daemon_pid=$!
for _ in $(seq 1 100); do
        grep -q 'created snapshot' daemon.log 2>/dev/null && break
        sleep 0.1
done
grep -q 'test/fast: catching up (no snapshot yet)' daemon.log || fail "daemon: no catch-up at start"
# The metrics textfile: written within a second or two of the first change,
# atomically (no temporary file left), valid for promtool, and it moves on.
for _ in $(seq 1 50); do
        [ -s virtsnap.prom ] && break
        sleep 0.1
done
[ -s virtsnap.prom ] || fail "daemon: metrics_textfile not written"
promtool check metrics <virtsnap.prom >promtool.out 2>&1 || fail "daemon: promtool: $(cat promtool.out)"
grep -q '^virtsnap_snapshots_created_total{connection="test:///default",domain="test",policy="fast"} [1-9]' virtsnap.prom ||
        fail "daemon: metrics: $(grep created_total virtsnap.prom)"
ls virtsnap.prom.tmp.* >/dev/null 2>&1 && fail "daemon: a temporary metrics file was left"

"$VIRTSNAP" daemon -c "$tmp/d.yaml" --connect test:///default --database "$tmp/d.db" >out 2>err
[ $? -eq 1 ] || fail "second daemon: want exit 1"
grep -q 'another virtsnap daemon (pid [0-9]*) is already using' err || fail "second daemon: message: $(cat err)"

# A broken file on SIGHUP: logged with file:line:col, the daemon goes on.
cp d.yaml d.good
printf 'policies:\n  - name: fast\n    schedule: every 2x\n    retention: {keep_last: 2}\n' >d.yaml
kill -HUP "$daemon_pid"
sleep 5
grep -q "$tmp/d.yaml:3:[0-9]*: " daemon.log || fail "daemon: reload errors not logged with file:line:col"
grep -q 'reload of .* rejected' daemon.log || fail "daemon: reload not rejected"
kill -0 "$daemon_pid" 2>/dev/null || fail "daemon died on a broken reload"
cp d.good d.yaml

kill -TERM "$daemon_pid"
wait "$daemon_pid"
rc=$?
daemon_pid=
[ $rc -eq 0 ] || fail "daemon: SIGTERM exit $rc"
grep -q 'daemon stopped' daemon.log || fail "daemon: no stop message"
created=$(count d.db present)
deleted=$(count d.db deleted)
[ "$created" -eq 2 ] || fail "daemon: want exactly 2 present (keep_last 2), got $created"
[ "$deleted" -ge 1 ] || fail "daemon: want pruned snapshots, got $deleted deleted"
[ "$(count d.db failed)" -eq 0 ] || fail "daemon: failed jobs: $(grep -i fail daemon.log | head -3)"
[ "$(count_events d.db started)" -eq 1 ] || fail "daemon: want one started event"
[ "$(count_events d.db stopped)" -eq 1 ] || fail "daemon: want one stopped event"

if [ $failures -ne 0 ]; then
        echo "--- daemon log ---" >&2
        tail -30 daemon.log >&2
        echo "$failures failure(s)" >&2
        exit 1
fi
echo "ok"
