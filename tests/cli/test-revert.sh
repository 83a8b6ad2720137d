#!/usr/bin/env bash
# `virtsnap revert` as an admin runs it, on libvirt's test driver with a node
# that holds a snapshot tree (tests/data/node-snapshots.xml: app with
# daily-1 -> daily-2 -> hourly-9 and by-hand; every process gets its own
# copy): --dry-run says what would happen and changes nothing; a revert takes
# the safety snapshot (internal, 7 days, noted), reverts and records who,
# from and to; refusals (no such snapshot, an external safety policy, usage)
# exit non-zero with the reason; through a running daemon the same.
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
cd "$tmp" || exit 1
failures=0
fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}
# run NAME WANT_RC ARGS...: stdout in out, stderr in err.
run() {
        local name=$1 want=$2 rc=0
        shift 2
        "$VIRTSNAP" "$@" >out 2>err || rc=$?
        [ "$rc" -eq "$want" ] || fail "$name: exit $rc, want $want (stderr: $(tail -3 err))"
}

U="test://$SRC/tests/data/node-snapshots.xml"
cat >p.yaml <<YAML
connection: "$U"
database: $tmp/h.db
control_socket: $tmp/ctl.sock
timezone: UTC
policies:
  - name: daily
    domains: {include: [app]}
    schedule: daily
    snapshot: {type: internal}
    retention: {keep_last: 5}
  - name: ext
    domains: {include: [nothing]}
    schedule: daily
    snapshot: {type: disk-only}
    retention: {keep_last: 5}
YAML

run "dry run" 0 revert app daily-1 -c p.yaml --dry-run
[ "$(cat out)" = "app: would take a safety snapshot under policy daily (internal, kept 1w), then revert from hourly-9 to daily-1" ] ||
        fail "dry run: $(cat out)"
[ "$("$VIRTSNAP" events --database h.db --format csv | grep -c ',reverted,')" -eq 0 ] || fail "dry run: recorded a revert"
run "dry run, no safety" 0 revert app daily-1 -c p.yaml --dry-run --no-safety
[ "$(cat out)" = "app: would revert from hourly-9 to daily-1, without a safety snapshot" ] || fail "dry run: $(cat out)"

run "revert" 0 revert app daily-1 -c p.yaml --safety-ttl 2d
grep -qE '^app: safety snapshot daily-[0-9TZ]+ taken under policy daily, kept until ' out || fail "revert: $(cat out)"
grep -qx 'app: reverted from hourly-9 to daily-1; now running' out || fail "revert: $(cat out)"
safety=$(sed -n 's/^app: safety snapshot \([^ ]*\) .*/\1/p' out)
"$VIRTSNAP" history --database h.db --format csv >hist.csv
grep -q ",$safety,.*,safety snapshot before revert to daily-1" hist.csv || fail "history: the safety snapshot: $(cat hist.csv)"
grep ",$safety," hist.csv | grep -q ",present," || fail "history: the safety snapshot is not present"
"$VIRTSNAP" history --database h.db --format json >hist.json
python3 - hist.json "$safety" <<'PY' || fail "history json: the safety snapshot's lifetime"
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["snapshot"] == sys.argv[2]]
assert len(rows) == 1, rows
r = rows[0]
assert r["requested_by"].startswith("uid "), r
import datetime
exp = datetime.datetime.fromisoformat(r["expires"].replace("Z", "+00:00"))
start = datetime.datetime.fromisoformat(r["started"].replace("Z", "+00:00"))
assert (exp - start).total_seconds() == 2 * 86400, (exp, start)
PY
"$VIRTSNAP" events --database h.db --state reverted --format csv >ev.csv
grep -q ",reverted,.*,daily-1,\"\?reverted from hourly-9 to daily-1 by uid [0-9]* ([^)]*); safety snapshot $safety, kept until .*; now running" ev.csv ||
        fail "events: the revert: $(cat ev.csv)"

run "no such snapshot" 1 revert app nosuch -c p.yaml
grep -qx "virtsnap revert: app: no snapshot 'nosuch'" err || fail "no such snapshot: $(cat err)"
run "no such domain" 1 revert ghost daily-1 -c p.yaml
grep -q "no domain 'ghost'" err || fail "no such domain: $(cat err)"
run "an external safety policy" 1 revert app daily-1 -c p.yaml --policy ext
grep -q "the safety snapshot would be disk-only (policy ext)" err || fail "external safety: $(cat err)"
run "usage: one argument" 2 revert app -c p.yaml
run "usage: --no-safety with --policy" 2 revert app daily-1 -c p.yaml --no-safety --policy daily
run "usage: bad --safety-ttl" 2 revert app daily-1 -c p.yaml --safety-ttl soon
run "help" 0 revert --help
grep -q '^usage: virtsnap revert DOMAIN SNAPSHOT' out || fail "revert --help: $(head -1 out)"

# Through the running daemon: the same result, recorded by the daemon.
"$VIRTSNAP" daemon -c p.yaml --log-level debug 2>daemon.log &
daemon_pid=$!
for _ in $(seq 100); do
        grep -q 'control socket: ' daemon.log 2>/dev/null && [ -S ctl.sock ] && grep -q 'connected' daemon.log && break
        sleep 0.1
done
run "revert through the daemon" 0 revert app daily-2 -c p.yaml
grep -qx 'app: reverted from hourly-9 to daily-2; now running' out || fail "daemon revert: $(cat out)"
grep -q "revert to daily-2 requested by uid" daemon.log ||
        fail "daemon revert: not done by the daemon: $(cat daemon.log)"
run "refused through the daemon" 1 revert app nosuch -c p.yaml
grep -qx "virtsnap revert: app: no snapshot 'nosuch'" err || fail "daemon refusal: $(cat err)"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "daemon: SIGTERM: exit $?"
daemon_pid=
[ "$("$VIRTSNAP" events --database h.db --state reverted --format csv | grep -c ',reverted,')" -eq 2 ] ||
        fail "events: want 2 reverts"

if [ "$failures" -gt 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
fi
echo "ok"
