#!/usr/bin/env bash
# The control socket as an admin uses it, next to a running daemon on
# libvirt's test driver: `snapshot` goes through the daemon (which holds the
# database), --ttl/--note/--wait are recorded with who asked and the snapshot
# is pruned by the daemon when its lifetime ends; `status` shows the daemon;
# malformed and oversized requests get an error reply and the daemon lives
# on; a peer that is neither root nor in group virtsnap is refused and
# recorded (root only); a stale socket file is replaced; without a daemon
# `snapshot` works directly; systemd socket activation (LISTEN_FDS) is used
# when systemd-socket-activate is there.
set -u

VIRTSNAP=${VIRTSNAP:?VIRTSNAP must point at the virtsnap binary}
SRC=${VS_SOURCE_ROOT:?VS_SOURCE_ROOT must point at the source tree}
# Debian's python3: a test runs it as another user too.
PY=$(command -v /usr/bin/python3 || command -v python3)
SEND="$PY $SRC/tests/cli/ctl-send.py"
tmp=$(mktemp -d)
daemon_pid=
cleanup() {
        [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
cd "$tmp" || exit 1
chmod 755 "$tmp"

fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

start_daemon() {
        [ -f daemon.log ] && cat daemon.log >>daemon-all.log
        : >daemon.log
        "$VIRTSNAP" daemon -c "$tmp/p.yaml" --log-level debug "$@" 2>>daemon.log &
        daemon_pid=$!
        for _ in $(seq 100); do
                grep -q 'control socket: ' daemon.log 2>/dev/null && [ -S ctl.sock ] && return 0
                sleep 0.1
        done
        fail "daemon: no control socket: $(cat daemon.log)"
}

stop_daemon() {
        kill -TERM "$daemon_pid"
        wait "$daemon_pid"
        local rc=$?
        daemon_pid=
        [ "$rc" -eq 0 ] || fail "daemon: SIGTERM: exit $rc"
}

cat >p.yaml <<YAML
connection: test:///default
database: $tmp/h.db
control_socket: $tmp/ctl.sock
timezone: UTC
policies:
  - name: hourly
    schedule: hourly
    catch_up: false
    retention: {keep_last: 1}
YAML

# ---- usage -------------------------------------------------------------------
"$VIRTSNAP" snapshot test -c p.yaml >out 2>err
[ $? -eq 2 ] || fail "snapshot without --policy or --ttl: want exit 2"
grep -q -- '--policy is required (or --ttl' err || fail "snapshot usage: message: $(cat err)"
"$VIRTSNAP" snapshot test --ttl soon -c p.yaml >out 2>err
[ $? -eq 2 ] || fail "snapshot --ttl soon: want exit 2"

# ---- snapshot through the running daemon ----------------------------------------
start_daemon
[ "$(stat -c %a ctl.sock)" = 660 ] || [ "$(stat -c %a ctl.sock)" = 600 ] || fail "socket mode $(stat -c %a ctl.sock)"
if getent group virtsnap >/dev/null; then
        [ "$(stat -c %G ctl.sock)" = virtsnap ] || fail "socket group $(stat -c %G ctl.sock), want virtsnap"
        [ "$(stat -c %a ctl.sock)" = 660 ] || fail "socket mode $(stat -c %a ctl.sock), want 660"
fi

"$VIRTSNAP" snapshot test --ttl 10s --note "before the upgrade" --wait -c p.yaml >out 2>err
[ $? -eq 0 ] || fail "snapshot --ttl --wait through the daemon: $(cat out err)"
grep -q '^test: snapshot hourly-.* taken under policy hourly, kept until ' out || fail "snapshot --wait: said: $(cat out)"
ttl_snap=$(sed -n 's/^test: snapshot \([^ ]*\) taken.*/\1/p' out)
"$VIRTSNAP" snapshot test --policy hourly -c p.yaml >out 2>err
[ $? -eq 0 ] || fail "snapshot (queued) through the daemon: $(cat out err)"
grep -q '^test: snapshot queued in the daemon under policy hourly' out || fail "snapshot queued: said: $(cat out)"
sleep 1
"$VIRTSNAP" snapshot test --policy hourly --wait -c p.yaml >out 2>err || fail "second plain snapshot: $(cat err)"

"$VIRTSNAP" snapshot nosuch --ttl 1h --wait -c p.yaml >out 2>err
[ $? -eq 1 ] || fail "snapshot of an unknown domain: want exit 1"
grep -q "no domain 'nosuch'" err || fail "unknown domain: message: $(cat err)"
"$VIRTSNAP" snapshot test --policy nope -c p.yaml >out 2>err
[ $? -eq 1 ] || fail "snapshot --policy nope: want exit 1"
grep -q "no policy named 'nope'" err || fail "unknown policy: message: $(cat err)"

# Recorded with who asked, the note and the end of its lifetime; retention
# (keep_last 1) pruned the first plain snapshot but not the one with a TTL.
"$VIRTSNAP" history -c p.yaml --format json >hist.json || fail "history --format json"
python3 - "$ttl_snap" <<'PY' || fail "history: the ad-hoc snapshot's record: $(cat hist.json)"
import json, sys
rows = json.load(open("hist.json"))
ttl = [r for r in rows if r["snapshot"] == sys.argv[1]]
assert len(ttl) == 1, ttl
t = ttl[0]
assert t["state"] == "present" and t["origin"] == "manual", t
assert t["note"] == "before the upgrade", t
assert t["requested_by"].startswith("uid "), t
assert t["expires"] is not None, t
plain = [r for r in rows if r["expires"] is None]
assert [r["state"] for r in plain] == ["present", "deleted"], plain
PY
"$VIRTSNAP" history -c p.yaml >hist.txt
grep "$ttl_snap" hist.txt | grep -q 'kept until .*; before the upgrade' || fail "history table: no lifetime: $(cat hist.txt)"

# status: the daemon's own line.
"$VIRTSNAP" status -c p.yaml >st.txt 2>&1 || fail "status next to the daemon: $(cat st.txt)"
grep -q "^daemon: pid $daemon_pid since .*, keeps $tmp/h.db: 1 of 1 connections up" st.txt || fail "status: no daemon line: $(cat st.txt)"
# ... but not for another history: that daemon's live view is not this table's.
cp h.db other.db && { [ ! -e h.db-wal ] || cp h.db-wal other.db-wal; }
"$VIRTSNAP" status -c p.yaml --database other.db >st-other.txt 2>&1 || fail "status of a copy: $(cat st-other.txt)"
grep -q "^DOMAIN" st-other.txt || fail "status of a copy: no table: $(cat st-other.txt)"
grep -q "^daemon:" st-other.txt && fail "status of another history shows this daemon: $(cat st-other.txt)"

# The daemon ends the lifetime: pruned within a few seconds of its end.
# (10 s: long enough that a loaded machine still reads it present above.)
for _ in $(seq 300); do
        "$VIRTSNAP" history -c p.yaml --state deleted --format csv | grep -q ",$ttl_snap," && break
        sleep 0.1
done
"$VIRTSNAP" history -c p.yaml --format json >hist.json
python3 - "$ttl_snap" <<'PY' || fail "the lifetime did not end in a prune: $(cat hist.json)"
import json, sys
t = [r for r in json.load(open("hist.json")) if r["snapshot"] == sys.argv[1]][0]
assert t["state"] == "deleted", t
assert "lifetime ended at" in t["delete_reason"], t
PY
grep -q "a snapshot's lifetime ended; pruning" daemon.log || fail "daemon log: no lifetime prune: $(cat daemon.log)"

# prune through the daemon: it waits for the jobs and says what they did.
"$VIRTSNAP" prune -c p.yaml >out 2>err
[ $? -eq 0 ] || fail "prune through the daemon: $(cat out err)"
grep -q '^pruned by the daemon: 0 snapshots in 1 series (0 undeletable, 0 failed)' out || fail "prune: said: $(cat out)"
"$VIRTSNAP" prune --policy nope -c p.yaml >out 2>err
[ $? -eq 1 ] || fail "prune --policy nope through the daemon: want exit 1"
grep -q "no policy named 'nope'" err || fail "prune --policy nope: $(cat err)"

# run --once through the daemon: what is due and has no job; here the last
# hourly snapshot is recent, so nothing is due.
"$VIRTSNAP" run --once -c p.yaml >out 2>err
[ $? -eq 0 ] || fail "run --once through the daemon: $(cat out err)"
grep -q '^run by the daemon: 0 jobs due, 0 created, 0 failed or skipped, 0 pruned (0 undeletable)' out ||
        fail "run --once: said: $(cat out)"
"$VIRTSNAP" run --once --policy nope -c p.yaml >out 2>err
[ $? -eq 1 ] || fail "run --once --policy nope through the daemon: want exit 1"
grep -q "no policy named 'nope'" err || fail "run --once --policy nope: $(cat err)"

# pin/unpin through the daemon: it writes its own store and answers once
# committed; the history shows it at once.
keep=$("$VIRTSNAP" history -c p.yaml --state present --format csv | awk -F, 'NR == 2 { print $7 }')
"$VIRTSNAP" pin test "$keep" --reason "audit hold" -c p.yaml >out 2>err
[ $? -eq 0 ] || fail "pin through the daemon: $(cat out err)"
[ "$(cat out)" = "pinned $keep of test" ] || fail "pin: said: $(cat out)"
grep -q "control: pin $keep of test for uid" daemon.log || fail "pin was not done by the daemon: $(cat daemon.log)"
"$VIRTSNAP" history -c p.yaml --format csv | grep ",$keep," | grep -q ',true,audit hold,' ||
        fail "pin: not in the history: $("$VIRTSNAP" history -c p.yaml --format csv | grep ",$keep,")"
"$VIRTSNAP" pin test "$keep" -c p.yaml >out 2>err || fail "pin again: $(cat err)"
grep -q "was already pinned" out || fail "pin again: said: $(cat out)"
"$VIRTSNAP" unpin test "$keep" -c p.yaml >out 2>err
[ "$(cat out)" = "unpinned $keep of test" ] || fail "unpin through the daemon: $(cat out err)"
"$VIRTSNAP" pin test no-such-snapshot -c p.yaml >out 2>err
[ $? -eq 1 ] || fail "pin of an unknown snapshot through the daemon: want exit 1"
[ -s err ] || fail "pin of an unknown snapshot: no message"

# ---- malformed requests: an error reply each, the daemon lives on -----------------
$SEND ctl.sock --json '{"cmd":"snapshot"' >r.txt
grep -q '"ok":false,"error":"not JSON' r.txt || fail "truncated JSON: $(cat r.txt)"
$SEND ctl.sock --lines '[1,2]' '{"cmd":"fly"}' '{"cmd":"snapshot","domain":7}' '{"cmd":"status","extra":1}' \
        '{"cmd":"snapshot","domain":"test","ttl":-5}' '{"cmd":"status"}' >r.txt
[ "$(grep -c '"code":"EINVAL"' r.txt)" -eq 5 ] || fail "bad requests: want 5 EINVAL replies: $(cat r.txt)"
grep -q 'unknown cmd \\"fly\\"' r.txt || fail "unknown cmd: $(cat r.txt)"
grep -q '"domain\\" must be a string' r.txt || fail "wrong type: $(cat r.txt)"
grep -q 'status takes no key \\"extra\\"' r.txt || fail "unknown key: $(cat r.txt)"
grep -q '"ok":true,"pid":' r.txt || fail "a good request after bad ones on one connection: $(cat r.txt)"
$SEND ctl.sock --big 70000 >r.txt
grep -q '"code":"E2BIG"' r.txt || fail "70 kB line: want E2BIG: $(cat r.txt)"
tail -n 1 r.txt | grep -q closed || fail "70 kB line: the connection stayed open"
$SEND ctl.sock --big 60000 >r.txt
grep -q 'status takes no key' r.txt || fail "60 kB line: want a parsed request: $(cat r.txt)"
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died on bad requests"
# A peer that hangs up before its replies: writing them fails with EPIPE,
# which must not kill the daemon (SIGPIPE is ignored).
for i in 1 2 3 4 5; do
        $SEND ctl.sock --hangup 500
done
sleep 0.5
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died when a peer hung up before its replies"
"$VIRTSNAP" status -c p.yaml >out 2>err || fail "status after a peer hung up: $(cat err)"

# ---- a refused peer (root only: it takes another uid) -------------------------------
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
        # The socket's mode already keeps others out; open it up to show that
        # the daemon itself refuses them too (SO_PEERCRED).
        chmod 666 ctl.sock
        setpriv --reuid=65534 --regid=65534 --clear-groups $SEND ctl.sock --json '{"cmd":"status"}' >r.txt 2>&1
        grep -q '"code":"EACCES"' r.txt || fail "peer uid 65534: want EACCES: $(cat r.txt)"
        grep -q 'permission denied: uid 65534.* is not root and not in group virtsnap' r.txt || fail "refusal text: $(cat r.txt)"
        tail -n 1 r.txt | grep -q closed || fail "refused peer: connection left open"
        "$VIRTSNAP" events -c p.yaml --state refused --format csv >ev.csv
        grep -q 'uid 65534' ev.csv || fail "refusal not recorded: $(cat ev.csv); daemon: $(tail -n 20 daemon.log)"
        grep -q 'control: permission denied: uid 65534' daemon.log || fail "refusal not logged"
        chmod 660 ctl.sock
else
        echo "test-control: not root: the refused-peer check is skipped" >&2
fi

# ---- stale socket, direct path -------------------------------------------------------
kill -KILL "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
daemon_pid=
[ -S ctl.sock ] || fail "kill -9 left no socket file (the check below means nothing)"
# No daemon answers: snapshot does the work itself.
"$VIRTSNAP" snapshot test --policy hourly -c p.yaml >out 2>err
[ $? -eq 0 ] || fail "snapshot without a daemon (stale socket file): $(cat err)"
grep -q 'created snapshot' err || fail "direct snapshot: $(cat err)"
"$VIRTSNAP" history -c p.yaml --format json --limit 1 >last.json
python3 -c 'import json; r = json.load(open("last.json"))[0]; assert r["requested_by"].startswith("uid ") and r["origin"] == "manual", r' ||
        fail "direct snapshot: who asked not recorded: $(cat last.json)"
start_daemon
grep -q 'control socket: .*ctl.sock$' daemon.log || fail "restart over a stale socket: $(cat daemon.log)"
stop_daemon
[ -e ctl.sock ] && fail "a clean stop left the socket file"

# ---- systemd socket activation --------------------------------------------------------
if command -v systemd-socket-activate >/dev/null; then
        cat daemon.log >>daemon-all.log
        : >daemon.log
        systemd-socket-activate -l "$tmp/ctl.sock" "$VIRTSNAP" daemon -c "$tmp/p.yaml" 2>>daemon.log &
        daemon_pid=$!
        for _ in $(seq 50); do [ -S ctl.sock ] && break; sleep 0.1; done
        "$VIRTSNAP" snapshot test --policy hourly --wait -c p.yaml >out 2>err || fail "socket activation: $(cat err)"
        grep -q 'control socket: .*(from systemd)' daemon.log || fail "socket activation: LISTEN_FDS not used: $(cat daemon.log)"
        stop_daemon
else
        echo "test-control: systemd-socket-activate not found: socket activation not checked" >&2
fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)" >&2; exit 1; }
echo "test-control: all checks passed"
