#!/usr/bin/env bash
# `virtsnap status`, `monitor`, `pin` and `unpin` on history written through
# the store API by tests/store-fixture: exact status rows in each format with
# and without the policy file, every monitor verdict and exit code (Nagios:
# 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), and pins that show up in status,
# history and the event log.
set -euo pipefail

VIRTSNAP=${VIRTSNAP:?VIRTSNAP must point at the virtsnap binary}
FIXTURE=${VS_STORE_FIXTURE:?VS_STORE_FIXTURE must point at tests/store-fixture}
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp"
export TZ=UTC VIRTSNAP_NOW=2026-03-10T12:00:00Z
"$FIXTURE" demo h.db
cat >p.yaml <<'EOF'
database: /nonexistent/history.db
timezone: UTC
policies:
  - name: daily
    schedule: "0 4 * * *"
    retention:
      keep_last: 2
  - name: hourly
    schedule: hourly
    retention:
      keep_last: 24
EOF

failures=0
fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

# expect NAME RC ARGS... <<< expected stdout (exact).
expect() {
        local name=$1 want_rc=$2 rc=0
        shift 2
        cat >want
        "$VIRTSNAP" "$@" >out 2>err || rc=$?
        [ "$rc" -eq "$want_rc" ] || fail "$name: exit $rc, want $want_rc (stderr: $(head -3 err))"
        diff -u want out >diff || { fail "$name: unexpected stdout"; cat diff >&2; }
}
crlf() { sed 's/$/\r/'; }

expect "status without a policy file" 0 status --database h.db <<'EOF'
DOMAIN                   POLICY                       HEALTH   LAST SUCCESS           AGE  HELD  PINNED  UNDELETABLE  DEFERRED  NEXT DUE  LAST ERROR
db1                      daily                        failing  2026-03-09 04:00:04   1d7h     2       1            1         0  -         Guest agent is not responding: QEMU guest agent is not connected
o'brien "test" ドメイン  '; DROP TABLE snapshots; --  ok       2026-03-09 05:00:02   1d6h     1       0            0         0  -         -
web1                     daily                        ok       2026-03-10 04:00:02  7h59m     2       0            0         0  -         -
web1                     hourly                       never    -                        -     0       0            0         0  -         Timed out during operation: cannot acquire state change lock
EOF

# -c gives next due; --database still picks the database.
expect "status with the policy file" 0 status -c p.yaml --database h.db <<'EOF'
DOMAIN                   POLICY                       HEALTH    LAST SUCCESS           AGE  HELD  PINNED  UNDELETABLE  DEFERRED  NEXT DUE             LAST ERROR
db1                      daily                        failing   2026-03-09 04:00:04   1d7h     2       1            1         0  2026-03-11 04:00:00  Guest agent is not responding: QEMU guest agent is not connected
o'brien "test" ドメイン  '; DROP TABLE snapshots; --  orphaned  2026-03-09 05:00:02   1d6h     1       0            0         0  -                    -
web1                     daily                        ok        2026-03-10 04:00:02  7h59m     2       0            0         0  2026-03-11 04:00:00  -
web1                     hourly                       never     -                        -     0       0            0         0  2026-03-10 13:00:00  Timed out during operation: cannot acquire state change lock
EOF

expect "status csv" 0 status -c p.yaml --database h.db --format csv < <(crlf <<'EOF'
connection,domain,domain_uuid,policy,health,last_success,age,held,pinned,undeletable,deferred,next_due,last_error
qemu:///system,db1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e02,daily,failing,2026-03-09T04:00:04Z,115196,2,1,1,0,2026-03-11T04:00:00Z,Guest agent is not responding: QEMU guest agent is not connected
qemu:///system,"o'brien ""test"" ドメイン",6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e03,'; DROP TABLE snapshots; --,orphaned,2026-03-09T05:00:02Z,111598,1,0,0,0,,
qemu:///system,web1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01,daily,ok,2026-03-10T04:00:02Z,28798,2,0,0,0,2026-03-11T04:00:00Z,
qemu:///system,web1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01,hourly,never,,,0,0,0,0,2026-03-10T13:00:00Z,Timed out during operation: cannot acquire state change lock
EOF
)

expect "status json, one domain" 0 status -c p.yaml --database h.db --domain web1 --format json <<'EOF'
[
  {
    "connection": "qemu:///system",
    "domain": "web1",
    "domain_uuid": "6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01",
    "policy": "daily",
    "health": "ok",
    "last_success": "2026-03-10T04:00:02Z",
    "age": 28798,
    "held": 2,
    "pinned": 0,
    "undeletable": 0,
    "deferred": 0,
    "next_due": "2026-03-11T04:00:00Z",
    "last_error": null
  },
  {
    "connection": "qemu:///system",
    "domain": "web1",
    "domain_uuid": "6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01",
    "policy": "hourly",
    "health": "never",
    "last_success": null,
    "age": null,
    "held": 0,
    "pinned": 0,
    "undeletable": 0,
    "deferred": 0,
    "next_due": "2026-03-10T13:00:00Z",
    "last_error": "Timed out during operation: cannot acquire state change lock"
  }
]
EOF

# 36 hours after the last daily success: late (over 1.5 x 1d).
VIRTSNAP_NOW=2026-03-11T17:00:03Z expect "late" 0 status -c p.yaml --database h.db --domain web1 --policy daily --format csv < <(crlf <<'EOF'
connection,domain,domain_uuid,policy,health,last_success,age,held,pinned,undeletable,deferred,next_due,last_error
qemu:///system,web1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01,daily,late,2026-03-10T04:00:02Z,133201,2,0,0,0,2026-03-12T04:00:00Z,
EOF
)

# ---- monitor ------------------------------------------------------------------
expect "monitor: critical (never) and warning (failing, undeletable)" 2 monitor -c p.yaml --database h.db <<'EOF'
VIRTSNAP CRITICAL - 1 critical, 2 warning of 4 series: web1/hourly: no successful snapshot, last attempt failed: Timed out during operation: cannot acquire state change lock; db1/daily: last attempt failed: Guest agent is not responding: QEMU guest agent is not connected, 1 undeletable; o'brien "test" ドメイン/'; DROP TABLE snapshots; --: orphaned: 1 snapshot of a policy not in the policy file, never pruned (adopt_from hands them over) | series=4 ok=1 warning=2 critical=1 failing=2 never=1 undeletable=1 hook_failed=0 orphaned=1 unreachable=0 guarded=0 deferred=0 max_age=115196s
EOF
expect "monitor: ok" 0 monitor -c p.yaml --database h.db --domain web1 --policy daily <<'EOF'
VIRTSNAP OK - 1 series ok, oldest last success 7h59m ago | series=1 ok=1 warning=0 critical=0 failing=0 never=0 undeletable=0 hook_failed=0 orphaned=0 unreachable=0 guarded=0 deferred=0 max_age=28798s
EOF
VIRTSNAP_NOW=2026-03-11T17:00:03Z expect "monitor: warning at 1.5 x the schedule interval" 1 monitor -c p.yaml --database h.db --domain web1 --policy daily <<'EOF'
VIRTSNAP WARNING - 0 critical, 1 warning of 1 series: web1/daily: last success 1d13h ago (warn 1d12h) | series=1 ok=0 warning=1 critical=0 failing=0 never=0 undeletable=0 hook_failed=0 orphaned=0 unreachable=0 guarded=0 deferred=0 max_age=133201s
EOF
VIRTSNAP_NOW=2026-03-13T12:00:00Z expect "monitor: critical at 3 x" 2 monitor -c p.yaml --database h.db --domain web1 --policy daily <<'EOF'
VIRTSNAP CRITICAL - 1 critical, 0 warning of 1 series: web1/daily: last success 3d7h ago (crit 3d) | series=1 ok=0 warning=0 critical=1 failing=0 never=0 undeletable=0 hook_failed=0 orphaned=0 unreachable=0 guarded=0 deferred=0 max_age=287998s
EOF
expect "monitor: explicit thresholds without a policy file" 1 monitor --database h.db --warn 1d --crit 2d --domain db1 <<'EOF'
VIRTSNAP WARNING - 0 critical, 1 warning of 1 series: db1/daily: last attempt failed: Guest agent is not responding: QEMU guest agent is not connected, last success 1d7h ago (warn 1d), 1 undeletable | series=1 ok=0 warning=1 critical=0 failing=1 never=0 undeletable=1 hook_failed=0 orphaned=0 unreachable=0 guarded=0 deferred=0 max_age=115196s
EOF
# The perfdata separator never appears inside names.
expect "monitor: hostile names" 0 monitor --database h.db --warn 2d --crit 3d --policy "'; DROP TABLE snapshots; --" <<'EOF'
VIRTSNAP OK - 1 series ok, oldest last success 1d6h ago | series=1 ok=1 warning=0 critical=0 failing=0 never=0 undeletable=0 hook_failed=0 orphaned=0 unreachable=0 guarded=0 deferred=0 max_age=111598s
EOF
expect "monitor: no thresholds" 3 monitor --database h.db <<'EOF'
VIRTSNAP UNKNOWN - no thresholds: give -c FILE (schedules) or --warn and --crit
EOF
expect "monitor: nothing matches" 3 monitor -c p.yaml --database h.db --domain nosuch <<'EOF'
VIRTSNAP UNKNOWN - no (domain, policy) series in the history for the policies in the file
EOF
expect "monitor: unreadable database" 3 monitor -c p.yaml --database missing.db <<'EOF'
VIRTSNAP UNKNOWN - cannot read the history database or policy file (details on stderr)
EOF
[ "$(cat err)" = "virtsnap monitor: missing.db: no history database here (has the daemon run?)" ] ||
        fail "monitor: stderr '$(cat err)'"
expect "monitor: usage errors are UNKNOWN, not CRITICAL" 3 monitor --database h.db --warn soon <<'EOF'
VIRTSNAP UNKNOWN - usage: --warn: 'soon' is not a positive duration (36h, 1d12h)
EOF
expect "monitor: warn above crit" 3 monitor --database h.db --warn 2d --crit 1d <<'EOF'
VIRTSNAP UNKNOWN - usage: --warn is longer than --crit
EOF

# ---- pin / unpin -----------------------------------------------------------------
expect "pin" 0 pin --database h.db web1 daily-20260310T040000Z --reason "audit 'Q1'; \"keep\"" <<'EOF'
pinned daily-20260310T040000Z of web1
EOF
expect "pin again keeps the reason" 0 pin --database h.db 6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01 daily-20260310T040000Z <<'EOF'
daily-20260310T040000Z of 6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01 was already pinned; reason updated
EOF
expect "pinned in history" 0 history --database h.db --domain web1 --state present --format csv < <(crlf <<'EOF'
id,started,connection,domain,domain_uuid,policy,snapshot,type,quiesce,state,consistency,scheduled,finished,created,deleted,delete_reason,error_code,error_domain,error,pinned,pin_reason,undeletable,deferred,origin,hook_error,expires,requested_by,note
6,2026-03-10T04:00:01Z,qemu:///system,web1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01,daily,daily-20260310T040000Z,internal,true,present,quiesced,2026-03-10T04:00:00Z,2026-03-10T04:00:05Z,2026-03-10T04:00:02Z,,,,,,true,"audit 'Q1'; ""keep""",false,false,,,,,
3,2026-03-09T04:00:01Z,qemu:///system,web1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01,daily,daily-20260309T040000Z,internal,true,present,quiesced,2026-03-09T04:00:00Z,2026-03-09T04:00:05Z,2026-03-09T04:00:02Z,,,,,,false,,false,false,,,,,
EOF
)
expect "pinned in status" 0 status --database h.db --domain web1 --policy daily --format csv < <(crlf <<'EOF'
connection,domain,domain_uuid,policy,health,last_success,age,held,pinned,undeletable,deferred,next_due,last_error
qemu:///system,web1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01,daily,ok,2026-03-10T04:00:02Z,28798,2,1,0,0,,
EOF
)
expect "unpin" 0 unpin --database h.db web1 daily-20260310T040000Z <<'EOF'
unpinned daily-20260310T040000Z of web1
EOF
expect "unpin again" 0 unpin --database h.db web1 daily-20260310T040000Z <<'EOF'
daily-20260310T040000Z of web1 was not pinned
EOF
expect "pin events" 0 events --database h.db --domain web1 --state pinned --format csv < <(crlf <<'EOF'
id,time,kind,connection,domain,domain_uuid,policy,snapshot,message,level
15,2026-03-10T12:00:00Z,pinned,qemu:///system,web1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01,daily,daily-20260310T040000Z,,info
14,2026-03-10T12:00:00Z,pinned,qemu:///system,web1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01,daily,daily-20260310T040000Z,"audit 'Q1'; ""keep""",info
EOF
)
expect "unpin event" 0 events --database h.db --state unpinned --format csv < <(crlf <<'EOF'
id,time,kind,connection,domain,domain_uuid,policy,snapshot,message,level
16,2026-03-10T12:00:00Z,unpinned,qemu:///system,web1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01,daily,daily-20260310T040000Z,,info
EOF
)
expect "pin: deleted snapshots cannot be pinned" 1 pin --database h.db web1 daily-20260308T040000Z </dev/null
[ "$(cat err)" = "virtsnap pin: no snapshot 'daily-20260308T040000Z' of domain 'web1' in the history" ] ||
        fail "pin deleted: stderr '$(cat err)'"
expect "pin: usage" 2 pin --database h.db web1 </dev/null
expect "unpin: no --reason" 2 unpin --database h.db web1 x --reason y </dev/null

# A database the process may not write: a clear error, not a crash.  Root
# ignores file modes, so run the command as nobody when we are root.
chmod 0755 "$tmp"
mkdir ro
cp h.db ro/h.db
chmod 0444 ro/h.db
chmod 0555 ro
as_user=()
if [ "$(id -u)" -eq 0 ]; then
        if command -v setpriv >/dev/null; then
                as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
        else
                as_user=(skip)
        fi
fi
if [ "${as_user[0]:-}" != skip ]; then
        rc=0
        "${as_user[@]}" "$VIRTSNAP" pin --database ro/h.db web1 daily-20260309T040000Z >out 2>err || rc=$?
        [ "$rc" -eq 1 ] || fail "read-only pin: exit $rc, want 1 ($(cat err))"
        grep -q '^virtsnap pin: ro/h.db: ' err || fail "read-only pin: stderr '$(cat err)'"
        # Reading still works where writing does not.
        rc=0
        "${as_user[@]}" "$VIRTSNAP" history --database ro/h.db --limit 1 --format csv >out 2>err || rc=$?
        echo "read-only history: exit $rc, $(wc -l <out) lines; $(cat err)"
fi
cmp -s ro/h.db h.db || fail "the read-only database changed"

# ---- one health function: status and monitor agree -------------------------
# tests/store-fixture health: a failed post hook, an undeletable snapshot, an
# orphaned series (policy `weekly` is gone) and a second host down since
# 04:00 (7 failed attempts).  NEXT DUE includes each series' jitter offset.
"$FIXTURE" health health.db
cat >health.yaml <<'EOF'
database: /nonexistent/history.db
timezone: UTC
policies:
  - name: daily
    schedule: "0 4 * * *"
    jitter: 30m
    hooks:
      post: [/usr/local/bin/thaw]
    retention:
      keep_last: 2
  - name: hourly
    connection: qemu+ssh://kvm2/system
    schedule: hourly
    retention:
      keep_last: 24
EOF
expect "status: every finding" 0 status -c health.yaml --database health.db <<'EOF'
DOMAIN  POLICY  HEALTH       LAST SUCCESS          AGE  HELD  PINNED  UNDELETABLE  DEFERRED  NEXT DUE             LAST ERROR
db1     daily   undeletable  2026-03-09 04:00:02  1d7h     3       0            1         1  2026-03-11 04:20:47  -
web1    daily   hook-failed  2026-03-09 04:00:02  1d7h     2       0            0         0  2026-03-11 04:00:20  post hook /usr/local/bin/thaw failed: exit status 1
web1    weekly  orphaned     2026-03-08 04:00:02  2d7h     1       0            0         0  -                    -
CRITICAL qemu+ssh://kvm2/system: connection down for 8h since 2026-03-10T04:00:00Z (7 failed attempts): Connection refused
EOF
expect "monitor: the same findings" 2 monitor -c health.yaml --database health.db <<'EOF'
VIRTSNAP CRITICAL - 1 critical, 3 warning of 3 series and connections: qemu+ssh://kvm2/system: connection down for 8h since 2026-03-10T04:00:00Z (7 failed attempts): Connection refused; db1/daily: 1 undeletable; web1/daily: post hook /usr/local/bin/thaw failed: exit status 1; web1/weekly: orphaned: 1 snapshot of a policy not in the policy file, never pruned (adopt_from hands them over) | series=3 ok=0 warning=3 critical=1 failing=0 never=0 undeletable=1 hook_failed=1 orphaned=1 unreachable=1 guarded=0 deferred=1 max_age=201598s
EOF
# Down for less than its RPO (the hourly policy's hour): WARNING.
rc=0
VIRTSNAP_NOW=2026-03-10T04:30:00Z "$VIRTSNAP" monitor -c health.yaml --database health.db >out 2>err || rc=$?
[ "$rc" -eq 1 ] || fail "monitor: down within the RPO: exit $rc, want 1"
grep -q '^VIRTSNAP WARNING - 0 critical, 4 warning of 3 series and connections: .*qemu+ssh://kvm2/system: connection down for 30m since' out ||
        fail "monitor: down within the RPO: $(cat out)"
# History says which snapshot's hook failed, in every format.
"$VIRTSNAP" history --database health.db --domain web1 --policy daily --limit 1 --format csv >out
grep -q ',false,,false,false,,post hook /usr/local/bin/thaw failed: exit status 1' out || fail "history csv: hook_error: $(cat out)"
# A snapshot whose pruning libvirt put off is shown so everywhere: the
# status column (above), monitor's perfdata (above), history and the report.
"$VIRTSNAP" history --database health.db --domain db1 --format csv >out
[ "$(python3 -c 'import csv,sys; print(",".join(r["snapshot"] for r in csv.DictReader(sys.stdin) if r["deferred"] == "true"))' <out)" = daily-1 ] ||
        fail "history csv: deferred: $(cat out)"
"$VIRTSNAP" history --database health.db --domain db1 >out
grep -q '^ *[0-9]* .* daily-1 *present .*deferred: libvirt put its pruning off$' out || fail "history table: deferred: $(cat out)"
VIRTSNAP_NOW=2026-03-10T12:00:00Z "$VIRTSNAP" report --html r.html -c health.yaml --database health.db --since 7d 2>err || fail "report of the health fixture: $(cat err)"
[ "$(grep -o 'data-kind="deferred"' r.html | wc -l)" -eq 1 ] || fail "report: want one deferred mark"
# The report's summary says each series' health, as status does above.
for want in 'db1 / daily on qemu:///system</td><td class="h1">undeletable' \
        'web1 / daily on qemu:///system</td><td class="h1">hook-failed' \
        'web1 / weekly on qemu:///system</td><td class="h1">orphaned'; do
        grep -qF "<tr><td>$want</td>" r.html || fail "report summary: no '$want': $(grep -o '<tr><td>[^/]*/ [a-z]* on [^<]*</td><td[^<]*</td>' r.html)"
done
grep -q '<title>[^<]*deferred: daily-1' r.html || fail "report: the deferred mark's tooltip: $(grep -o '<title>[^<]*daily-1[^<]*' r.html)"
"$VIRTSNAP" history --database health.db --domain web1 --policy daily --limit 1 >out
grep -q 'present .*post hook /usr/local/bin/thaw failed: exit status 1$' out || fail "history table: hook: $(cat out)"
"$VIRTSNAP" events --database health.db --state hook-failed >out
grep -q 'hook-failed  web1    daily   daily-2   post hook' out || fail "events: hook-failed: $(cat out)"
# A required hook is CRITICAL; adopt_from names the orphan's heir.
sed -e 's|post: \[/usr/local/bin/thaw\]|post: [/usr/local/bin/thaw]\n      required: true|' \
    -e 's|    schedule: hourly|    schedule: hourly\n    adopt_from: [weekly]|' health.yaml >required.yaml
"$VIRTSNAP" monitor -c required.yaml --database health.db --policy daily >out 2>err && rc=0 || rc=$?
[ "$rc" -eq 2 ] || fail "monitor: required hook: exit $rc, want 2"
grep -q 'critical=1 .*hook_failed=1' out || fail "monitor: required hook: $(cat out)"
expect "status: the orphan's heir" 0 status -c required.yaml --database health.db --policy weekly --format csv < <(crlf <<'EOF'
connection,domain,domain_uuid,policy,health,last_success,age,held,pinned,undeletable,deferred,next_due,last_error
qemu:///system,web1,6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01,weekly,orphaned,2026-03-08T04:00:02Z,201598,1,0,0,0,,
EOF
)
"$VIRTSNAP" monitor -c required.yaml --database health.db --policy weekly >out 2>err || true
grep -q "orphaned: 1 snapshot of a removed policy, handed over to 'hourly' at the daemon's next reconcile" out ||
        fail "monitor: orphan's heir: $(cat out)"

# ---- the guard and busy domains ---------------------------------------------
# web1: its newest create was skipped by the guard (then a routine skip):
# CRITICAL everywhere, with the limit as the reason; db1: skipped because the
# domain stayed busy: routine, only late.
"$FIXTURE" guard guard.db
cat >guard.yaml <<'EOF'
database: /nonexistent/history.db
timezone: UTC
policies:
  - name: daily
    schedule: "0 4 * * *"
    guard: {min_free: 10%}
    retention: {keep_last: 2}
EOF
expect "status: guarded" 0 status -c guard.yaml --database guard.db <<'EOF'
DOMAIN  POLICY  HEALTH   LAST SUCCESS          AGE  HELD  PINNED  UNDELETABLE  DEFERRED  NEXT DUE             LAST ERROR
db1     daily   late     2026-03-08 04:00:02  2d7h     1       0            0         0  2026-03-11 04:00:00  -
web1    daily   guarded  2026-03-08 04:00:02  2d7h     1       0            0         0  2026-03-11 04:00:00  low space (3.1% free < 10%) for vda (/var/lib/libvirt/images/web1.qcow2)
EOF
expect "monitor: guarded is critical" 2 monitor -c guard.yaml --database guard.db <<'EOF'
VIRTSNAP CRITICAL - 1 critical, 1 warning of 2 series: web1/daily: skipped by its guard: low space (3.1% free < 10%) for vda (/var/lib/libvirt/images/web1.qcow2), last success 2d7h ago (warn 1d12h); db1/daily: last success 2d7h ago (warn 1d12h) | series=2 ok=0 warning=1 critical=1 failing=0 never=0 undeletable=0 hook_failed=0 orphaned=0 unreachable=0 guarded=1 deferred=0 max_age=201598s
EOF
"$VIRTSNAP" metrics -c guard.yaml --database guard.db >guard.prom
grep -qxF 'virtsnap_health{connection="qemu:///system",domain="web1",policy="daily",health="guarded"} 1' guard.prom ||
        fail "metrics: no guarded health for web1"
grep -qxF 'virtsnap_health_level{connection="qemu:///system",domain="web1",policy="daily"} 2' guard.prom ||
        fail "metrics: web1's level is not critical"
"$VIRTSNAP" history --database guard.db --format csv >out
grep -q ',skipped,.*low space (3.1% free < 10%) for vda' out || fail "history: the guard skip: $(cat out)"
grep -q ',skipped,.*domain busy (backup job), for the whole job timeout' out || fail "history: the busy skip: $(cat out)"
"$VIRTSNAP" events --database guard.db --format csv >out
grep -q '^[0-9]*,[^,]*,guarded,' out || fail "events: no guarded event: $(cat out)"

if [ "$failures" -gt 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
fi
echo "ok"
