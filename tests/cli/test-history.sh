#!/usr/bin/env bash
# `virtsnap history` and `virtsnap events` on history written through the
# store API by tests/store-fixture (creates, failures, a skip, a prune, an
# undeletable snapshot, a pin, hostile names): exact output in each format,
# every filter, and the errors a user can cause.
set -euo pipefail

VIRTSNAP=${VIRTSNAP:?VIRTSNAP must point at the virtsnap binary}
FIXTURE=${VS_STORE_FIXTURE:?VS_STORE_FIXTURE must point at tests/store-fixture}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export TZ=UTC VIRTSNAP_NOW=2026-03-10T12:00:00Z
"$FIXTURE" demo h.db

failures=0
fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

# expect NAME RC ARGS... <<< expected stdout (exact); stderr must be empty
# when RC is 0.
expect() {
        local name=$1 want_rc=$2 rc=0
        shift 2
        cat >want
        "$VIRTSNAP" "$@" >out 2>err || rc=$?
        [ "$rc" -eq "$want_rc" ] || fail "$name: exit $rc, want $want_rc (stderr: $(head -3 err))"
        if [ "$want_rc" -eq 0 ] && [ -s err ]; then fail "$name: unexpected stderr: $(head -3 err)"; fi
        diff -u want out >diff || { fail "$name: unexpected stdout"; cat diff >&2; }
}

# CSV lines end in CRLF (RFC 4180).
crlf() { sed 's/$/\r/'; }

expect "history table" 0 history --database h.db <<'EOF'
ID  STARTED              DOMAIN                   POLICY                       SNAPSHOT                 STATE    CONSISTENCY  PINNED  DETAIL
 9  2026-03-10 11:00:00  web1                     hourly                       hourly-20260310T110000Z  skipped  -            no      previous job on web1 still running
 8  2026-03-10 10:00:01  web1                     hourly                       hourly-20260310T100000Z  failed   -            no      Timed out during operation: cannot acquire state change lock
 7  2026-03-10 04:00:03  db1                      daily                        daily-20260310T040000Z   failed   -            no      Guest agent is not responding: QEMU guest agent is not connected
 6  2026-03-10 04:00:01  web1                     daily                        daily-20260310T040000Z   present  quiesced     no      -
 5  2026-03-09 05:00:01  o'brien "test" ドメイン  '; DROP TABLE snapshots; --  x-1                      present  crash        no      -
 4  2026-03-09 04:00:03  db1                      daily                        daily-20260309T040000Z   present  crash        no      undeletable
 3  2026-03-09 04:00:01  web1                     daily                        daily-20260309T040000Z   present  quiesced     no      -
 2  2026-03-08 04:00:03  db1                      daily                        daily-20260308T040000Z   present  crash        yes     before the schema migration, "v2"
 1  2026-03-08 04:00:01  web1                     daily                        daily-20260308T040000Z   deleted  quiesced     no      keep_last 2: 3rd newest
EOF

# Local times follow the host zone ($TZ); machine formats stay UTC.
TZ=Asia/Tokyo expect "table in the host zone" 0 history --database h.db --limit 1 <<'EOF'
ID  STARTED              DOMAIN  POLICY  SNAPSHOT                 STATE    CONSISTENCY  PINNED  DETAIL
 9  2026-03-10 20:00:00  web1    hourly  hourly-20260310T110000Z  skipped  -            no      previous job on web1 still running
EOF

expect "--domain with a duration --since" 0 history --database h.db --domain web1 --since 1d <<'EOF'
ID  STARTED              DOMAIN  POLICY  SNAPSHOT                 STATE    CONSISTENCY  PINNED  DETAIL
 9  2026-03-10 11:00:00  web1    hourly  hourly-20260310T110000Z  skipped  -            no      previous job on web1 still running
 8  2026-03-10 10:00:01  web1    hourly  hourly-20260310T100000Z  failed   -            no      Timed out during operation: cannot acquire state change lock
 6  2026-03-10 04:00:01  web1    daily   daily-20260310T040000Z   present  quiesced     no      -
EOF

TZ=Asia/Tokyo expect "csv by uuid" 0 history --database h.db --domain 6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e02 --format csv < <(crlf <<'EOF'
id,started,connection,domain,domain_uuid,policy,snapshot,type,quiesce,state,consistency,scheduled,finished,created,deleted,delete_reason,error_code,error_domain,error,pinned,pin_reason,undeletable,deferred,origin,hook_error,expires,requested_by,note
7,2026-03-10T04:00:03Z,qemu:///system,db1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e02,daily,daily-20260310T040000Z,internal,false,failed,,2026-03-10T04:00:02Z,2026-03-10T04:00:32Z,,,,86,10,Guest agent is not responding: QEMU guest agent is not connected,false,,false,false,,,,,
4,2026-03-09T04:00:03Z,qemu:///system,db1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e02,daily,daily-20260309T040000Z,internal,false,present,crash,2026-03-09T04:00:02Z,2026-03-09T04:00:07Z,2026-03-09T04:00:04Z,,,,,,false,,true,false,,,,,
2,2026-03-08T04:00:03Z,qemu:///system,db1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e02,daily,daily-20260308T040000Z,internal,false,present,crash,2026-03-08T04:00:02Z,2026-03-08T04:00:07Z,2026-03-08T04:00:04Z,,,,,,true,"before the schema migration, ""v2""",false,false,,,,,
EOF
)

expect "csv quoting of hostile names" 0 history --database h.db --domain "o'brien \"test\" ドメイン" --format csv < <(crlf <<'EOF'
id,started,connection,domain,domain_uuid,policy,snapshot,type,quiesce,state,consistency,scheduled,finished,created,deleted,delete_reason,error_code,error_domain,error,pinned,pin_reason,undeletable,deferred,origin,hook_error,expires,requested_by,note
5,2026-03-09T05:00:01Z,qemu:///system,"o'brien ""test"" ドメイン",6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e03,'; DROP TABLE snapshots; --,x-1,internal,false,present,crash,2026-03-09T05:00:00Z,2026-03-09T05:00:05Z,2026-03-09T05:00:02Z,,,,,,false,,false,false,,,,,
EOF
)

expect "json, --state" 0 history --database h.db --state deleted --format json <<'EOF'
[
  {
    "id": 1,
    "started": "2026-03-08T04:00:01Z",
    "connection": "qemu:///system",
    "domain": "web1",
    "domain_uuid": "6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01",
    "policy": "daily",
    "snapshot": "daily-20260308T040000Z",
    "type": "internal",
    "quiesce": true,
    "state": "deleted",
    "consistency": "quiesced",
    "scheduled": "2026-03-08T04:00:00Z",
    "finished": "2026-03-08T04:00:05Z",
    "created": "2026-03-08T04:00:02Z",
    "deleted": "2026-03-10T04:00:10Z",
    "delete_reason": "keep_last 2: 3rd newest",
    "error_code": null,
    "error_domain": null,
    "error": null,
    "pinned": false,
    "pin_reason": null,
    "undeletable": false,
    "deferred": false,
    "origin": null,
    "hook_error": null,
    "expires": null,
    "requested_by": null,
    "note": null
  }
]
EOF

expect "json, the SQL-injection policy name is just a name" 0 history --database h.db --policy "'; DROP TABLE snapshots; --" --format json <<'EOF'
[
  {
    "id": 5,
    "started": "2026-03-09T05:00:01Z",
    "connection": "qemu:///system",
    "domain": "o'brien \"test\" ドメイン",
    "domain_uuid": "6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e03",
    "policy": "'; DROP TABLE snapshots; --",
    "snapshot": "x-1",
    "type": "internal",
    "quiesce": false,
    "state": "present",
    "consistency": "crash",
    "scheduled": "2026-03-09T05:00:00Z",
    "finished": "2026-03-09T05:00:05Z",
    "created": "2026-03-09T05:00:02Z",
    "deleted": null,
    "delete_reason": null,
    "error_code": null,
    "error_domain": null,
    "error": null,
    "pinned": false,
    "pin_reason": null,
    "undeletable": false,
    "deferred": false,
    "origin": null,
    "hook_error": null,
    "expires": null,
    "requested_by": null,
    "note": null
  }
]
EOF

# A domain the history has never seen: an empty answer and a note on stderr
# (exit 0: an empty result is not an error); a known domain outside the time
# window: no note.
rc=0
"$VIRTSNAP" history --database h.db --domain nosuch --format json >out 2>err || rc=$?
[ "$rc" -eq 0 ] || fail "history of an unknown domain: exit $rc"
[ "$(cat out)" = "$(printf '[\n]')" ] || fail "history of an unknown domain: stdout $(cat out)"
[ "$(cat err)" = "virtsnap history: no domain 'nosuch' in the history" ] || fail "history of an unknown domain: stderr '$(cat err)'"
rc=0
"$VIRTSNAP" events --database h.db --domain nosuch >out 2>err || rc=$?
[ "$rc" -eq 0 ] && [ "$(cat err)" = "virtsnap events: no domain 'nosuch' in the history" ] ||
        fail "events of an unknown domain: exit $rc, stderr '$(cat err)'"
expect "empty result, known domain" 0 history --database h.db --domain web1 --until 2026-01-01T00:00:00Z --format json <<'EOF'
[
]
EOF
expect "empty result: csv" 0 history --database h.db --until 2026-01-01T00:00:00Z --format csv < <(crlf <<'EOF'
id,started,connection,domain,domain_uuid,policy,snapshot,type,quiesce,state,consistency,scheduled,finished,created,deleted,delete_reason,error_code,error_domain,error,pinned,pin_reason,undeletable,deferred,origin,hook_error,expires,requested_by,note
EOF
)

expect "events table" 0 events --database h.db <<'EOF'
ID  TIME                 KIND         DOMAIN                   POLICY                       SNAPSHOT                 MESSAGE
12  2026-03-10 11:00:00  skipped      web1                     hourly                       hourly-20260310T110000Z  previous job on web1 still running
11  2026-03-10 10:00:30  failed       web1                     hourly                       hourly-20260310T100000Z  Timed out during operation: cannot acquire state change lock
13  2026-03-10 07:00:00  pinned       db1                      daily                        daily-20260308T040000Z   before the schema migration, "v2"
10  2026-03-10 04:00:32  failed       db1                      daily                        daily-20260310T040000Z   Guest agent is not responding: QEMU guest agent is not connected
 9  2026-03-10 04:00:12  undeletable  db1                      daily                        daily-20260309T040000Z   mixed internal and external snapshots
 8  2026-03-10 04:00:10  pruned       web1                     daily                        daily-20260308T040000Z   keep_last 2: 3rd newest
 7  2026-03-10 04:00:05  created      web1                     daily                        daily-20260310T040000Z   quiesced
 3  2026-03-09 06:00:00  reloaded     -                        -                            -                        policies.yaml: 2 policies
 6  2026-03-09 05:00:05  created      o'brien "test" ドメイン  '; DROP TABLE snapshots; --  x-1                      crash
 5  2026-03-09 04:00:07  created      db1                      daily                        daily-20260309T040000Z   crash
 4  2026-03-09 04:00:05  created      web1                     daily                        daily-20260309T040000Z   quiesced
 2  2026-03-08 04:00:07  created      db1                      daily                        daily-20260308T040000Z   crash
 1  2026-03-08 04:00:05  created      web1                     daily                        daily-20260308T040000Z   quiesced
EOF

expect "events csv, time window" 0 events --database h.db --since 2026-03-10T04:00:10Z --until @1773124000 --format csv < <(crlf <<'EOF'
id,time,kind,connection,domain,domain_uuid,policy,snapshot,message,level
10,2026-03-10T04:00:32Z,failed,qemu:///system,db1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e02,daily,daily-20260310T040000Z,Guest agent is not responding: QEMU guest agent is not connected,err
9,2026-03-10T04:00:12Z,undeletable,qemu:///system,db1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e02,daily,daily-20260309T040000Z,mixed internal and external snapshots,warning
8,2026-03-10T04:00:10Z,pruned,qemu:///system,web1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01,daily,daily-20260308T040000Z,keep_last 2: 3rd newest,info
EOF
)

expect "events json, by kind and policy" 0 events --database h.db --state created --policy daily --domain db1 --format json <<'EOF'
[
  {
    "id": 5,
    "time": "2026-03-09T04:00:07Z",
    "kind": "created",
    "connection": "qemu:///system",
    "domain": "db1",
    "domain_uuid": "6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e02",
    "policy": "daily",
    "snapshot": "daily-20260309T040000Z",
    "message": "crash",
    "level": "info"
  },
  {
    "id": 2,
    "time": "2026-03-08T04:00:07Z",
    "kind": "created",
    "connection": "qemu:///system",
    "domain": "db1",
    "domain_uuid": "6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e02",
    "policy": "daily",
    "snapshot": "daily-20260308T040000Z",
    "message": "crash",
    "level": "info"
  }
]
EOF

# Errors: usage (2) and an unreadable database (1), each with one clear line.
expect_err() {
        local name=$1 want_rc=$2 want_err=$3 rc=0
        shift 3
        "$VIRTSNAP" "$@" >out 2>err || rc=$?
        [ "$rc" -eq "$want_rc" ] || fail "$name: exit $rc, want $want_rc"
        [ "$(head -1 err)" = "$want_err" ] || fail "$name: stderr '$(head -1 err)', want '$want_err'"
        [ ! -s out ] || fail "$name: unexpected stdout"
}
expect_err "bad state" 2 "virtsnap history: --state: unknown state 'gone'" history --database h.db --state gone
expect_err "bad kind" 2 "virtsnap events: --state: unknown event kind 'gone'" events --database h.db --state gone
expect_err "bad since" 2 "virtsnap history: --since: 'yesterday' is neither a TIME (2026-11-27T04:00:00Z, @EPOCH) nor a duration (7d, 12h)" history --database h.db --since yesterday
expect_err "bad limit" 2 "virtsnap history: --limit: '-1' is not a non-negative integer" history --database h.db --limit -1
expect_err "bad format" 2 "virtsnap events: --format: 'xml' is not table, json or csv" events --database h.db --format xml
expect_err "stray argument" 2 "virtsnap history: unexpected argument 'web1'" history --database h.db web1
expect_err "no database" 1 "virtsnap history: missing.db: no history database here (has the daemon run?)" history --database missing.db
printf 'just text\n' >notes.txt
expect_err "not a database" 1 "virtsnap events: notes.txt: not an SQLite database; refusing to use or overwrite it" events --database notes.txt
[ "$(cat notes.txt)" = "just text" ] || fail "notes.txt was modified"
[ ! -e notes.txt-wal ] || fail "notes.txt-wal was created"

# --help goes to stdout and exits 0.
"$VIRTSNAP" history --help >out
grep -q '^usage: virtsnap history ' out || fail "history --help"
"$VIRTSNAP" events --help >out
grep -q '^usage: virtsnap events ' out || fail "events --help"

# A reader leaves no trace: the database's bytes are unchanged.
cp h.db before.db
"$VIRTSNAP" history --database h.db >/dev/null
cmp -s h.db before.db || fail "history modified the database"

if [ "$failures" -gt 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
fi
echo "ok"
