#!/usr/bin/env bash
# `virtsnap simulate` as a user runs it: a policy file, a start and a number of
# days in, the snapshots kept at the end and the totals out (text and --json,
# exact), errors with the right exit code.  Expectations are worked out by
# hand: every firing creates a snapshot, then retention prunes with now = that
# firing.
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
        "$VIRTSNAP" simulate "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
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
        "$VIRTSNAP" simulate "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
        rc=$?
        [ "$rc" -eq "$want_rc" ] || fail "$name: exit $rc, want $want_rc"
        [ -s "$tmp/out" ] && fail "$name: printed: $(head -3 "$tmp/out")"
        grep -qF -- "$want_err" "$tmp/err" || fail "$name: stderr lacks '$want_err': $(cat "$tmp/err")"
}

cat >"$tmp/utc.yaml" <<'EOF'
timezone: UTC
policies:
  - name: daily3
    schedule: "0 0 * * *"
    retention:
      keep_daily: 3
  - name: mondays
    schedule: "0 3 * * 1"
    jitter: 10m
    prune: false
    retention:
      keep_last: 1
EOF
cat >"$tmp/berlin.yaml" <<'EOF'
timezone: Europe/Berlin
policies:
  - name: hourly
    schedule: hourly
    retention:
      keep_hourly: 30
EOF
cat >"$tmp/santiago.yaml" <<'EOF'
timezone: America/Santiago
policies:
  - name: midnight
    schedule: "0 0 * * *"
    retention:
      keep_daily: 2
EOF

# Ten midnights, 01-01 (the start itself counts) to 01-10; three days kept.
# Four are held at once: the new one before the prune.
expect daily-text 0 "policy 'daily3': schedule '0 0 * * *' in UTC, 10 days from 2026-01-01T00:00:00Z to 2026-01-11T00:00:00Z
keep 2026-01-10T00:00:00Z daily
keep 2026-01-09T00:00:00Z daily
keep 2026-01-08T00:00:00Z daily
created 10 removed 7 kept 3 peak 4
" -- -c "$tmp/utc.yaml" --policy daily3 --start 2026-01-01T00:00:00Z --days 10

expect daily-json 0 '{
  "policy": "daily3",
  "schedule": "0 0 * * *",
  "timezone": "UTC",
  "start": "2026-01-01T00:00:00Z",
  "end": "2026-01-11T00:00:00Z",
  "days": 10,
  "prune": true,
  "jitter": 0,
  "created": 10,
  "removed": 7,
  "peak": 4,
  "kept": [
    {
      "time": "2026-01-10T00:00:00Z",
      "epoch": 1768003200,
      "action": "keep",
      "rule": "daily"
    },
    {
      "time": "2026-01-09T00:00:00Z",
      "epoch": 1767916800,
      "action": "keep",
      "rule": "daily"
    },
    {
      "time": "2026-01-08T00:00:00Z",
      "epoch": 1767830400,
      "action": "keep",
      "rule": "daily"
    }
  ]
}
' -- --config="$tmp/utc.yaml" --policy=daily3 --start=@1767225600 --days=10 --json

# prune: false keeps everything, with no rule to name.  2026-01-01 is a
# Thursday: the Mondays are 01-05 and 01-12.  The jitter is noted and ignored.
expect no-prune 0 "policy 'mondays': schedule '0 3 * * 1' in UTC, 14 days from 2026-01-01T00:00:00Z to 2026-01-15T00:00:00Z
keep 2026-01-12T03:00:00Z
keep 2026-01-05T03:00:00Z
created 2 removed 0 kept 2 peak 2
" -- -c "$tmp/utc.yaml" -p mondays -s 2026-01-01T00:00:00Z -d 14
grep -q 'jitter 10m ignored' "$tmp/err" || fail "no-prune: no jitter note: $(cat "$tmp/err")"

# Berlin's fall-back day, local midnight to midnight: 24 hourly firings but 23
# local hours, 02:00 CEST (00:00Z) and 02:00 CET (01:00Z) being one bucket.
# The CET one, newer, takes the bucket and the CEST one is removed.
want="policy 'hourly': schedule 'hourly' in Europe/Berlin, 1 day from 2026-10-24T22:00:00Z to 2026-10-25T22:00:00Z
"
for h in 21 20 19 18 17 16 15 14 13 12 11 10 09 08 07 06 05 04 03 02 01; do
        want+="keep 2026-10-25T$h:00:00Z hourly
"
done
want+="keep 2026-10-24T23:00:00Z hourly
keep 2026-10-24T22:00:00Z hourly
created 24 removed 1 kept 23 peak 23
"
expect berlin-fall-back 0 "$want" -- -c "$tmp/berlin.yaml" --policy hourly --start 2026-10-24T22:00:00Z --days 1

# Santiago springs forward at midnight: Sunday 2026-09-06 has no 00:00, so the
# midnight schedule fires at the transition (04:00Z, 01:00 -03), which is still
# Sunday's bucket.  Saturday 00:00 -04 is 04:00Z, Monday 00:00 -03 is 03:00Z.
expect santiago 0 "policy 'midnight': schedule '0 0 * * *' in America/Santiago, 3 days from 2026-09-04T12:00:00Z to 2026-09-07T12:00:00Z
keep 2026-09-07T03:00:00Z daily
keep 2026-09-06T04:00:00Z daily
created 3 removed 1 kept 2 peak 3
" -- -c "$tmp/santiago.yaml" --policy midnight --start 2026-09-04T12:00:00Z --days 3

# Errors.
expect_error no-policy 2 '--policy NAME is required' -- -c "$tmp/utc.yaml"
expect_error unknown-policy 2 "has no policy 'weekly'; it has: daily3 mondays" -- -c "$tmp/utc.yaml" --policy weekly
expect_error missing-file 1 'missing.yaml' -- -c "$tmp/missing.yaml" --policy daily3
printf 'policies:\n  - name: broken\n    schedule: "0 25 * * *"\n' >"$tmp/bad.yaml"
expect_error invalid-file 1 "$tmp/bad.yaml:" -- -c "$tmp/bad.yaml" --policy broken
expect_error zero-days 2 "--days: '0' is not a number" -- -c "$tmp/utc.yaml" --policy daily3 --days 0
expect_error many-days 2 "--days: '36501' is not a number" -- -c "$tmp/utc.yaml" --policy daily3 --days 36501
expect_error bad-start 2 "--start: invalid time 'tomorrow'" -- -c "$tmp/utc.yaml" --policy daily3 --start tomorrow
expect_error extra-arg 2 "unexpected argument 'now'" -- -c "$tmp/utc.yaml" --policy daily3 now
expect_error unknown-option 2 "unknown option '--weeks'" -- -c "$tmp/utc.yaml" --policy daily3 --weeks 2

"$VIRTSNAP" simulate --help >"$tmp/out" 2>&1 || fail "--help: exit $?"
grep -q '^usage: virtsnap simulate' "$tmp/out" || fail "--help: no usage line"

if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
fi
echo "ok"
