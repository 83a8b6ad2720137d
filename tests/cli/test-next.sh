#!/usr/bin/env bash
# `virtsnap next` as a user runs it: fire times on stdout (text and --json,
# exact), errors on stderr with the right exit code.  Expected instants were
# computed with Python's zoneinfo and GNU date, not with virtsnap.
set -u

VIRTSNAP=${VIRTSNAP:?VIRTSNAP must point at the virtsnap binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

# expect NAME RC EXPECTED_STDOUT -- ARGS...
expect() {
        local name=$1 want_rc=$2 want_out=$3 rc
        shift 4
        "$VIRTSNAP" next "$@" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        if [ "$rc" -ne "$want_rc" ]; then
                fail "$name: exit $rc, want $want_rc (stderr: $(cat "$tmp/err"))"
                return
        fi
        if ! diff -u <(printf '%s' "$want_out") "$tmp/out" >"$tmp/diff"; then
                fail "$name: unexpected stdout"
                cat "$tmp/diff" >&2
        fi
}

# expect_error NAME RC STDERR_SUBSTRING -- ARGS...: nothing on stdout.
expect_error() {
        local name=$1 want_rc=$2 want_err=$3 rc
        shift 4
        "$VIRTSNAP" next "$@" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        [ "$rc" -eq "$want_rc" ] || fail "$name: exit $rc, want $want_rc"
        [ -s "$tmp/out" ] && fail "$name: printed: $(head -3 "$tmp/out")"
        grep -qF -- "$want_err" "$tmp/err" || fail "$name: stderr lacks '$want_err': $(cat "$tmp/err")"
}

# Europe/Berlin springs forward at 2026-03-29T01:00Z (02:00 CET -> 03:00 CEST).
expect spring-hourly 0 '2026-03-29T00:00:00Z  2026-03-29T01:00:00+01:00
2026-03-29T01:00:00Z  2026-03-29T03:00:00+02:00
2026-03-29T02:00:00Z  2026-03-29T04:00:00+02:00
' -- "0 * * * *" --timezone Europe/Berlin --from 2026-03-28T23:30:00Z --count 3

# ... and falls back at 2026-10-25T01:00Z: 02:00 happens twice, both fire.
expect fall-hourly 0 '2026-10-25T00:00:00Z  2026-10-25T02:00:00+02:00
2026-10-25T01:00:00Z  2026-10-25T02:00:00+01:00
2026-10-25T02:00:00Z  2026-10-25T03:00:00+01:00
' -- hourly --timezone Europe/Berlin --from 2026-10-24T23:30:00Z --count 3

# A fixed 02:30 in the gap fires at the transition; --from with an offset.
expect spring-json 0 '[
  {
    "utc": "2026-03-29T01:00:00Z",
    "epoch": 1774746000,
    "local": "2026-03-29T03:00:00+02:00"
  },
  {
    "utc": "2026-03-30T00:30:00Z",
    "epoch": 1774830600,
    "local": "2026-03-30T02:30:00+02:00"
  }
]
' -- "30 2 * * *" --json --timezone Europe/Berlin --from 2026-03-28T13:00:00+01:00 --count 2

# Fall-back: 02:30 fires once, at the first (CEST) occurrence.
expect fall-fixed 0 '2026-10-25T00:30:00Z  2026-10-25T02:30:00+02:00
2026-10-26T01:30:00Z  2026-10-26T02:30:00+01:00
' -- "30 2 * * *" --timezone Europe/Berlin --from 2026-10-25T00:00:00Z --count 2

# America/Santiago: midnight of 2026-09-06 does not exist (00:00 -> 01:00);
# the schedule's words may also come as separate arguments, options after.
expect santiago-words 0 '2026-09-05T04:00:00Z  2026-09-05T00:00:00-04:00
2026-09-06T04:00:00Z  2026-09-06T01:00:00-03:00
2026-09-07T03:00:00Z  2026-09-07T00:00:00-03:00
' -- 0 0 '*' '*' '*' --timezone America/Santiago --from @1788500000 --count 3

# Intervals are UTC multiples of the interval since the epoch.
expect every 0 '2026-03-29T06:00:00Z  2026-03-29T08:00:00+02:00
2026-03-29T12:00:00Z  2026-03-29T14:00:00+02:00
' -- "every 6h" --timezone Europe/Berlin --from 2026-03-29T03:00:00+02:00 --count 2

# Default count is 5; Vixie OR: the 13th or any Friday.
expect default-count 0 '2026-04-03T00:00:00Z  2026-04-03T00:00:00+00:00
2026-04-10T00:00:00Z  2026-04-10T00:00:00+00:00
2026-04-13T00:00:00Z  2026-04-13T00:00:00+00:00
2026-04-17T00:00:00Z  2026-04-17T00:00:00+00:00
2026-04-24T00:00:00Z  2026-04-24T00:00:00+00:00
' -- "0 0 13 * fri" --timezone UTC --from 2026-04-01T00:00:00Z

expect leap-day 0 '2096-02-29T00:00:00Z  2096-02-29T00:00:00+00:00
2104-02-29T00:00:00Z  2104-02-29T00:00:00+00:00
' -- "0 0 29 2 *" --timezone UTC --from 2096-01-01T00:00:00Z --count 2

# The host's zone comes from $TZ when --timezone is absent.
TZ=Europe/Berlin expect host-zone 0 '2026-03-29T01:00:00Z  2026-03-29T03:00:00+02:00
' -- hourly --from 2026-03-29T00:00:00Z --count 1

# A schedule that never fires: no output, a note, success.
expect never 0 '' -- "0 0 30 2 *" --timezone UTC --from @0
grep -qF "never fires" "$tmp/err" || fail "never: no note on stderr"
expect never-json 0 '[]
' -- "0 0 30 2 *" --json --timezone UTC --from @0
expect count-zero 0 '' -- daily --count 0 --timezone UTC --from @0

# Without --from it starts now: five lines, each "UTC  local".
"$VIRTSNAP" next daily --timezone UTC >"$tmp/out" 2>&1 || fail "now: exit $?"
[ "$(grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T00:00:00Z  [0-9-]+T00:00:00\+00:00$' "$tmp/out")" -eq 5 ] ||
        fail "now: unexpected output: $(cat "$tmp/out")"

# Usage errors: exit 2, a message, nothing on stdout.
expect_error bad-hour 2 "field 2 (hour): 24 out of range 0-23" -- "0 24 * * *" --timezone UTC
expect_error bad-fields 2 "expected 5 cron fields" -- "0 0 * *" --timezone UTC
expect_error bad-every 2 "interval must be greater than zero" -- "every 0s" --timezone UTC
expect_error bad-step 2 "step 0 is not allowed" -- "*/0 * * * *" --timezone UTC
expect_error bad-zone 2 "unknown time zone 'Mars/Olympus'" -- daily --timezone Mars/Olympus
expect_error bad-zone-name 2 "invalid time zone name '../../etc/passwd'" -- daily --timezone ../../etc/passwd
expect_error bad-from 2 "--from: invalid time 'soon'" -- daily --from soon
expect_error bad-count 2 "--count: 'many' is not a number" -- daily --count many
expect_error negative-count 2 "--count: '-1' is not a number" -- daily --count -1
expect_error unknown-option 2 "unknown option '--bogus'" -- daily --bogus
expect_error missing-arg 2 "needs an argument" -- daily --timezone
expect_error missing-schedule 2 "missing SCHEDULE" -- --timezone UTC

"$VIRTSNAP" next --help >"$tmp/out" 2>&1 || fail "--help: exit $?"
grep -q '^usage: virtsnap next' "$tmp/out" || fail "--help: no usage line"

if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
fi
echo "ok"
