#!/usr/bin/env bash
# `virtsnap retention` as a user runs it: snapshot times on stdin, verdicts on
# stdout (text and --json, exact), errors on stderr with the right exit code.
# Expected verdicts are worked out by hand from the rules in --help.
set -u

VIRTSNAP=${VIRTSNAP:?VIRTSNAP must point at the virtsnap binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

# expect NAME RC EXPECTED_STDOUT INPUT -- ARGS...
expect() {
        local name=$1 want_rc=$2 want_out=$3 input=$4 rc
        shift 5
        printf '%s' "$input" | "$VIRTSNAP" retention "$@" >"$tmp/out" 2>"$tmp/err"
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

# expect_error NAME RC STDERR_SUBSTRING INPUT -- ARGS...: nothing on stdout.
expect_error() {
        local name=$1 want_rc=$2 want_err=$3 input=$4 rc
        shift 5
        printf '%s' "$input" | "$VIRTSNAP" retention "$@" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        [ "$rc" -eq "$want_rc" ] || fail "$name: exit $rc, want $want_rc"
        [ -s "$tmp/out" ] && fail "$name: printed a verdict: $(head -3 "$tmp/out")"
        grep -qF -- "$want_err" "$tmp/err" || fail "$name: stderr lacks '$want_err': $(cat "$tmp/err")"
}

# Proxmox's own example group plus a pinned snapshot, an offset time, blank
# lines and stray blanks.  keep-last takes 12:59:15, which covers 2019-12-04
# for keep-daily (so 12:00 is removed); keep-daily then takes 12-03 and 12-02.
input='2019-12-02T11:59:15Z
2019-12-03T11:59:15Z

2019-12-04T11:59:15Z pinned
  2019-12-04T12:59:15Z	
2019-12-04T14:00:00+02:00

'
expect text 0 'keep 2019-12-04T12:59:15Z last
remove 2019-12-04T12:00:00Z
pinned 2019-12-04T11:59:15Z
keep 2019-12-03T11:59:15Z daily
keep 2019-12-02T11:59:15Z daily
' "$input" -- --keep-last 1 --keep-daily 2 --timezone UTC

expect json 0 '[
  {
    "time": "2019-12-04T12:59:15Z",
    "epoch": 1575464355,
    "action": "keep",
    "rule": "last"
  },
  {
    "time": "2019-12-04T12:00:00Z",
    "epoch": 1575460800,
    "action": "remove",
    "rule": null
  },
  {
    "time": "2019-12-04T11:59:15Z",
    "epoch": 1575460755,
    "action": "pinned",
    "rule": null
  },
  {
    "time": "2019-12-03T11:59:15Z",
    "epoch": 1575374355,
    "action": "keep",
    "rule": "daily"
  },
  {
    "time": "2019-12-02T11:59:15Z",
    "epoch": 1575287955,
    "action": "keep",
    "rule": "daily"
  }
]
' "$input" -- --json --keep-daily=2 --keep-last=1 --timezone=UTC

# Berlin's fall-back night: 00:00Z-01:59Z are 02:xx twice (CEST, then CET),
# one hourly bucket; 23:30Z is 01:30 CEST, 02:xxZ are 03:xx CET.
input='2026-10-24T23:30:00Z
2026-10-25T00:00:00Z
2026-10-25T00:30:00Z
2026-10-25T01:00:00Z
2026-10-25T01:30:00Z
2026-10-25T02:00:00Z
2026-10-25T02:30:00Z
'
expect berlin-fall-back 0 'keep 2026-10-25T02:30:00Z hourly
remove 2026-10-25T02:00:00Z
keep 2026-10-25T01:30:00Z hourly
remove 2026-10-25T01:00:00Z
remove 2026-10-25T00:30:00Z
remove 2026-10-25T00:00:00Z
keep 2026-10-24T23:30:00Z hourly
' "$input" -- --keep-hourly 3 --timezone Europe/Berlin
# The same times bucketed in UTC are five hours.
expect utc-hours 0 'keep 2026-10-25T02:30:00Z hourly
remove 2026-10-25T02:00:00Z
keep 2026-10-25T01:30:00Z hourly
remove 2026-10-25T01:00:00Z
keep 2026-10-25T00:30:00Z hourly
remove 2026-10-25T00:00:00Z
remove 2026-10-24T23:30:00Z
' "$input" -- --keep-hourly 3 --timezone UTC

# keep-within is strict (exactly now - 1d is outside) and measured from --now;
# keep-last counts past the window.  @EPOCH input is accepted.
input='@1768046400
2026-01-09T12:00:00Z
2026-01-09T11:00:00Z
2026-01-08T00:00:00Z
'
expect within 0 'keep 2026-01-10T12:00:00Z within
keep 2026-01-09T12:00:00Z last
remove 2026-01-09T11:00:00Z
remove 2026-01-08T00:00:00Z
' "$input" -- --keep-within 1d --keep-last 1 --now 2026-01-10T12:00:00Z --timezone UTC

# Nothing within the window: the newest snapshot is kept all the same.
expect newest 0 'keep 2026-01-09T11:00:00Z newest
remove 2026-01-08T00:00:00Z
' '2026-01-08T00:00:00Z
2026-01-09T11:00:00Z
' -- --keep-within 1h --now 2026-01-10T12:00:00Z --timezone UTC

# Same second: two snapshots, both counted by keep-last; the earlier line is
# the newer one.
expect same-second 0 'keep 2020-01-01T10:00:00Z last
keep 2020-01-01T10:00:00Z last
remove 2020-01-01T09:00:00Z
' '2020-01-01T09:00:00Z
2020-01-01T10:00:00Z
2020-01-01T10:00:00Z
' -- --keep-last 2 --timezone UTC
expect same-second-pinned 0 'keep 2020-01-01T10:00:00Z last
pinned 2020-01-01T10:00:00Z
' '2020-01-01T10:00:00Z
2020-01-01T10:00:00Z pinned
' -- --keep-last 2 --timezone UTC

expect empty 0 '' '' -- --keep-last 1 --timezone UTC
expect empty-blank-lines 0 '' '

' -- --keep-last 1 --timezone UTC
expect empty-json 0 '[]
' '' -- --keep-last 1 --json --timezone UTC

# Malformed input: exit 1, the line number on stderr, no verdict at all.
expect_error bad-time 1 'line 3: invalid time' '2020-01-01T10:00:00Z

yesterday
2020-01-02T10:00:00Z
' -- --keep-last 1 --timezone UTC
expect_error bad-word 1 "line 2: unexpected 'protected'" '2020-01-01T10:00:00Z
2020-01-01T11:00:00Z protected
' -- --keep-last 1 --timezone UTC
expect_error extra-word 1 "line 1: unexpected 'now' after 'pinned'" '2020-01-01T10:00:00Z pinned now
' -- --keep-last 1 --timezone UTC
expect_error bad-date 1 'line 1: invalid time' '2020-02-30T10:00:00Z
' -- --keep-last 1 --timezone UTC
expect_error bad-json-input 1 'line 2:' '2020-01-01T10:00:00Z
2020-01-01 10:00:00
' -- --keep-last 1 --json --timezone UTC

# Usage errors: exit 2.
expect_error no-keep 2 'retention that keeps nothing is refused' '' -- --timezone UTC
expect_error all-zero 2 'retention that keeps nothing is refused' '' -- --keep-last 0 --keep-within 0s
expect_error negative 2 "--keep-daily: '-1' is not a number" '' -- --keep-daily -1
expect_error not-number 2 "--keep-weekly: '2x' is not a number" '' -- --keep-weekly 2x
expect_error bad-duration 2 "--keep-within: invalid duration '7'" '' -- --keep-within 7
expect_error bad-now 2 "--now: invalid time 'soon'" '' -- --keep-last 1 --now soon
expect_error bad-zone 2 'Mars/Olympus' '' -- --keep-last 1 --timezone Mars/Olympus
expect_error unknown-option 2 "unknown option '--keep-everything'" '' -- --keep-everything
expect_error missing-arg 2 'needs an argument' '' -- --keep-last
expect_error positional 2 "unexpected argument 'snapshots.txt'" '' -- --keep-last 1 snapshots.txt

"$VIRTSNAP" retention --help >"$tmp/out" 2>&1 || fail "--help: exit $?"
grep -q '^usage: virtsnap retention' "$tmp/out" || fail "--help: no usage line"

if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
fi
echo "ok"
