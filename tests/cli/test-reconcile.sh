#!/usr/bin/env bash
# `virtsnap reconcile` against libvirt's test driver: every reconcile rule
# through the real binary (tests/data/node-reconcile.xml holds owned and
# foreign snapshots; tests/store-fixture writes rows in flight), idempotence,
# and a process killed between the intent commit and the libvirt call whose
# row reconcile then settles.
set -euo pipefail

VIRTSNAP=${VIRTSNAP:?VIRTSNAP must point at the virtsnap binary}
FIXTURE=${VS_STORE_FIXTURE:?VS_STORE_FIXTURE must point at tests/store-fixture}
SRC=${VS_SOURCE_ROOT:?VS_SOURCE_ROOT must point at the source tree}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export TZ=UTC VIRTSNAP_NOW=2026-03-10T12:00:00Z
U="test://$SRC/tests/data/node-reconcile.xml"

failures=0
fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}
expect() {
        local name=$1 want_rc=$2 rc=0
        shift 2
        cat >want
        "$VIRTSNAP" "$@" >out 2>err || rc=$?
        [ "$rc" -eq "$want_rc" ] || fail "$name: exit $rc, want $want_rc (stderr: $(head -3 err))"
        diff -u want out >diff || { fail "$name: unexpected stdout"; cat diff >&2; }
}
crlf() { sed 's/$/\r/'; }

"$FIXTURE" intents h.db "$U"
# Scope: a config with `daily` only does not cover hourly-9 (marked by a
# policy `hourly`): it is listed as foreign-marked and not recorded.
cat >daily.yaml <<EOF
connection: "$U"
database: $tmp/h.db
policies:
  - name: daily
    schedule: daily
    domains: {include: [app]}
    retention: {keep_last: 3}
EOF
expect "reconcile" 0 reconcile -c daily.yaml <<EOF
foreign-marked: $U app hourly-9 (policy 'hourly'): no such policy in the policy file, and no adopt_from names it
$U app: recovered=1 interrupted=1 deleted=1 restored=1 vanished=1 adopted=0 foreign=1 foreign-marked=1
total: recovered=1 interrupted=1 deleted=1 restored=1 vanished=1 adopted=0 foreign=1 foreign-marked=1
EOF
[ "$("$VIRTSNAP" history --database h.db --format csv | grep -c hourly-9 || true)" -eq 0 ] ||
        fail "the foreign-marked snapshot was recorded"
# A policy `hourly` that selects other domains does not cover it either.
sed 's/^  - name: daily/  - name: hourly\n    schedule: hourly\n    domains: {include: [db-*]}\n    retention: {keep_last: 3}\n  - name: daily/' \
        daily.yaml >elsewhere.yaml
expect "reconcile, policy selects other domains" 0 reconcile -c elsewhere.yaml <<EOF
foreign-marked: $U app hourly-9 (policy 'hourly'): the policy does not select this domain on this connection
total: recovered=0 interrupted=0 deleted=0 restored=0 vanished=0 adopted=0 foreign=1 foreign-marked=1
EOF
# No policy file: nothing is in scope.
expect "reconcile without a policy file" 0 reconcile --connect "$U" --database h.db <<EOF
foreign-marked: $U app hourly-9 (policy 'hourly'): no policy file loaded (give -c FILE, or --adopt-all)
total: recovered=0 interrupted=0 deleted=0 restored=0 vanished=0 adopted=0 foreign=1 foreign-marked=1
EOF
# The policy renamed: adopt_from takes its snapshots over.
sed 's/^  - name: daily/  - name: hourly-new\n    schedule: hourly\n    adopt_from: [hourly]\n    domains: {include: [app]}\n    retention: {keep_last: 3}\n  - name: daily/' \
        daily.yaml >renamed.yaml
expect "reconcile with adopt_from" 0 reconcile -c renamed.yaml <<EOF
$U app: recovered=0 interrupted=0 deleted=0 restored=0 vanished=0 adopted=1 foreign=1 foreign-marked=0
total: recovered=0 interrupted=0 deleted=0 restored=0 vanished=0 adopted=1 foreign=1 foreign-marked=0
EOF
expect "reconcile is idempotent" 0 reconcile -c renamed.yaml <<EOF
total: recovered=0 interrupted=0 deleted=0 restored=0 vanished=0 adopted=0 foreign=1 foreign-marked=0
EOF
expect "history after reconcile" 0 history --database h.db --format csv < <(crlf <<EOF
id,started,connection,domain,domain_uuid,policy,snapshot,type,quiesce,state,consistency,scheduled,finished,created,deleted,delete_reason,error_code,error_domain,error,pinned,pin_reason,undeletable,deferred,origin,hook_error,expires,requested_by,note
6,2026-03-09T23:46:40Z,$U,app,11111111-2222-4333-8444-555555555555,hourly-new,hourly-9,internal,false,present,,2026-03-09T23:46:40Z,2026-03-09T23:46:40Z,2026-03-09T23:46:40Z,,,,,,false,,false,false,adopted,,,,
5,2026-03-08T08:00:01Z,$U,app,11111111-2222-4333-8444-555555555555,daily,daily-old,internal,false,deleted,memory,2026-03-08T08:00:00Z,2026-03-08T08:00:04Z,2026-03-08T08:00:02Z,2026-03-10T12:00:00Z,keep_last 1: 3rd newest,,,,false,,false,false,,,,,
4,2026-03-08T07:00:01Z,$U,app,11111111-2222-4333-8444-555555555555,daily,daily-2,internal,false,present,memory,2026-03-08T07:00:00Z,2026-03-08T07:00:04Z,2026-03-08T07:00:02Z,,,,,,false,,false,false,,,,,
3,2026-03-08T06:00:01Z,$U,app,11111111-2222-4333-8444-555555555555,daily,daily-0,internal,false,vanished,memory,2026-03-08T06:00:00Z,2026-03-08T06:00:04Z,2026-03-08T06:00:02Z,2026-03-10T12:00:00Z,,,,,false,,false,false,,,,,
2,2026-03-08T05:00:01Z,$U,app,11111111-2222-4333-8444-555555555555,daily,daily-3,internal,false,failed,,2026-03-08T05:00:00Z,2026-03-10T12:00:00Z,,,,,,interrupted: the snapshot was not created,false,,false,false,,,,,
1,2026-03-08T04:00:01Z,$U,app,11111111-2222-4333-8444-555555555555,daily,daily-1,internal,false,present,,2026-03-08T04:00:00Z,2026-03-10T12:00:00Z,2026-03-08T04:00:02Z,,,,,,false,,false,false,,,,,
EOF
)
expect "reconcile events" 0 events --database h.db --since @1773144000 <<'EOF'
ID  TIME                 KIND         DOMAIN  POLICY      SNAPSHOT   MESSAGE
 9  2026-03-10 12:00:00  adopted      app     hourly-new  hourly-9   owned snapshot of policy 'hourly' found in libvirt without a live row, taken over by adopt_from
 8  2026-03-10 12:00:00  pruned       app     daily       daily-old  keep_last 1: 3rd newest
 7  2026-03-10 12:00:00  restored     app     daily       daily-2    an interrupted delete had not happened
 6  2026-03-10 12:00:00  vanished     app     daily       daily-0    gone from libvirt: deleted outside virtsnap
 5  2026-03-10 12:00:00  interrupted  app     daily       daily-3    an interrupted create had not happened
 4  2026-03-10 12:00:00  recovered    app     daily       daily-1    an interrupted create had happened
EOF
[ "$("$VIRTSNAP" history --database h.db --format csv | grep -c by-hand || true)" -eq 0 ] ||
        fail "the foreign snapshot was recorded"

# A process killed (SIGKILL) right after committing its intent, before any
# libvirt call: the row says `creating` until reconcile settles it.
rc=0
"$FIXTURE" crash crash.db >id || rc=$?
[ "$rc" -eq 137 ] || fail "fixture crash: exit $rc, want 137 (SIGKILL)"
expect "in flight after the crash" 0 history --database crash.db --format csv < <(crlf <<'EOF'
id,started,connection,domain,domain_uuid,policy,snapshot,type,quiesce,state,consistency,scheduled,finished,created,deleted,delete_reason,error_code,error_domain,error,pinned,pin_reason,undeletable,deferred,origin,hook_error,expires,requested_by,note
1,2026-03-08T04:00:01Z,test:///default,test,6695eb01-f6a4-8304-79aa-97f2502e193f,daily,daily-crashed,internal,false,creating,,2026-03-08T04:00:00Z,,,,,,,,false,,false,false,,,,,
EOF
)
expect "reconcile after the crash" 0 reconcile --connect test:///default --database crash.db <<'EOF'
test:///default test: recovered=0 interrupted=1 deleted=0 restored=0 vanished=0 adopted=0 foreign=0 foreign-marked=0
total: recovered=0 interrupted=1 deleted=0 restored=0 vanished=0 adopted=0 foreign=0 foreign-marked=0
EOF
expect "settled" 0 history --database crash.db --state failed --format csv < <(crlf <<'EOF'
id,started,connection,domain,domain_uuid,policy,snapshot,type,quiesce,state,consistency,scheduled,finished,created,deleted,delete_reason,error_code,error_domain,error,pinned,pin_reason,undeletable,deferred,origin,hook_error,expires,requested_by,note
1,2026-03-08T04:00:01Z,test:///default,test,6695eb01-f6a4-8304-79aa-97f2502e193f,daily,daily-crashed,internal,false,failed,,2026-03-08T04:00:00Z,2026-03-10T12:00:00Z,,,,,,interrupted: the snapshot was not created,false,,false,false,,,,,
EOF
)

# Usage and connection errors.
expect "no connection" 2 reconcile --database h.db </dev/null
[ "$(head -1 err)" = "virtsnap reconcile: no connection: give -c FILE or --connect URI" ] || fail "no connection: $(cat err)"
expect "bad connection" 1 reconcile --connect test:///nonexistent/file.xml --database h.db <<'EOF'
total: recovered=0 interrupted=0 deleted=0 restored=0 vanished=0 adopted=0 foreign=0 foreign-marked=0
EOF
grep -q '^virtsnap reconcile: test:///nonexistent/file.xml: ' err || fail "bad connection: $(cat err)"

if [ "$failures" -gt 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
fi
echo "ok"
