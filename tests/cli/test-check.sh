#!/usr/bin/env bash
# `virtsnap check` as a user runs it: a valid file gives exit 0 and a summary,
# an invalid one exit 1 and one FILE:LINE:COLUMN line per problem on stderr,
# usage errors exit 2.  Hostile files must fail cleanly and fast.
set -u

VIRTSNAP=${VIRTSNAP:?VIRTSNAP must point at the virtsnap binary}
SRC=${VS_SOURCE_ROOT:?VS_SOURCE_ROOT must point at the source tree}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
cd "$tmp" || exit 1

fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

# run ARGS...: sets rc, fills out/err, and ms (wall time in milliseconds).
run() {
        local t0 t1
        t0=$(date +%s%N)
        "$VIRTSNAP" check "$@" >out 2>err
        rc=$?
        t1=$(date +%s%N)
        ms=$(((t1 - t0) / 1000000))
}

# expect NAME RC STDOUT STDERR -- ARGS...: exact stdout and stderr.
expect() {
        local name=$1 want_rc=$2 want_out=$3 want_err=$4
        shift 5
        run "$@"
        [ "$rc" -eq "$want_rc" ] || fail "$name: exit $rc, want $want_rc (stderr: $(head -5 err))"
        diff -u <(printf '%s' "$want_out") out >diff || { fail "$name: unexpected stdout"; cat diff >&2; }
        diff -u <(printf '%s' "$want_err") err >diff || { fail "$name: unexpected stderr"; cat diff >&2; }
}

# expect_fast NAME FIRST_STDERR_LINE FILE: exit 1, nothing on stdout, the
# first problem as given, within a second.
expect_fast() {
        local name=$1 want=$2
        shift 2
        run -c "$@"
        [ "$rc" -eq 1 ] || fail "$name: exit $rc, want 1"
        [ -s out ] && fail "$name: printed a summary"
        [ "$(head -1 err)" = "$want" ] || fail "$name: first stderr line '$(head -1 err)', want '$want'"
        [ "$ms" -lt 1000 ] || fail "$name: took ${ms} ms"
        echo "$name: ${ms} ms, $(wc -l <err) line(s) on stderr"
}

# ---- valid files ----
cp "$SRC/policies.example.yaml" ex.yaml
expect example 0 \
"ex.yaml: valid, 3 policies (timezone Europe/Berlin, max_concurrent 4, database /var/lib/virtsnap/history.db)
  web-hourly: schedule '0 * * * *', disk-only snapshots, keep last 4, hourly 24, daily 7, weekly 4, monthly 6, yearly 1, within 2h, on qemu:///system
  demo-minutely: schedule 'every 1m', internal snapshots, keep last 3, on qemu:///system
  db-nightly (disabled): schedule '30 2 * * *', internal snapshots, keep daily 14, monthly 12, on qemu+ssh://db-host.example/system
" "" -- -c ex.yaml

expect connect-override 0 \
"ex.yaml: valid, 3 policies (timezone Europe/Berlin, max_concurrent 4, database /var/lib/virtsnap/history.db)
  web-hourly: schedule '0 * * * *', disk-only snapshots, keep last 4, hourly 24, daily 7, weekly 4, monthly 6, yearly 1, within 2h, on test:///default
  demo-minutely: schedule 'every 1m', internal snapshots, keep last 3, on test:///default
  db-nightly (disabled): schedule '30 2 * * *', internal snapshots, keep daily 14, monthly 12, on test:///default
" "" -- --config=ex.yaml --connect test:///default

expect quiet 0 "" "" -- -q -c ex.yaml

cat >one.yaml <<'EOF'
timezone: UTC
policies:
  - name: nightly
    schedule: daily
    retention: {keep_within: 1w}
EOF
expect one-policy 0 \
"one.yaml: valid, 1 policy (timezone UTC, max_concurrent 4, database /var/lib/virtsnap/history.db)
  nightly: schedule 'daily', internal snapshots, keep within 1w, on qemu:///system
" "" -- -c one.yaml

# ---- invalid files: every problem, in file order, exact ----
cat >bad.yaml <<'EOF'
timezone: Europe/Berln
max_concurrent: 0
policies:
  - name: web hourly
    schedule: "0 25 * * *"
    jitter: 2x
    snapshot:
      type: internal
      quiesce: required
      name: "{domain}-{utc:%Y}"
    retention:
      keep_dialy: 7
  - name: db
    schedule: daily
    retention: {}
  - name: db
    schedule: hourly
    catch_up: yes
    retention: {keep_last: 1}
EOF
expect bad 1 "" \
"bad.yaml:1:11: unknown time zone 'Europe/Berln' (expected an IANA name such as Europe/Berlin or UTC)
bad.yaml:2:17: 'max_concurrent': 0 is out of range (1-1024)
bad.yaml:4:11: invalid policy name 'web hourly' (1 to 32 characters from A-Z a-z 0-9 . _ -)
bad.yaml:5:15: invalid schedule '0 25 * * *': field 2 (hour): 25 out of range 0-23
bad.yaml:6:13: 'jitter': invalid duration '2x' (an integer with s, m, h, d or w, e.g. 90s, 5m, 1h30m)
bad.yaml:9:16: 'quiesce: required' needs 'type: disk-only' (libvirt quiesces only disk-only snapshots; this policy has type internal)
bad.yaml:10:13: snapshot name '{domain}-{utc:%Y}': {domain} is not allowed in snapshot names (a domain name may contain any character, and snapshot names are per domain already)
bad.yaml:12:7: unknown key 'keep_dialy' (did you mean 'keep_daily'?)
bad.yaml:15:16: retention keeps nothing: set at least one of keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly or keep_within above zero
bad.yaml:16:11: duplicate policy name 'db' (first at 13:11)
bad.yaml:18:15: 'catch_up' must be true or false, not 'yes'
" -- -c bad.yaml

printf 'timezone: UTC\npolicies: [a, b\n' >syntax.yaml
expect syntax 1 "" \
"syntax.yaml:3:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at 2:11)
" -- -c syntax.yaml

# ---- hostile files: clean, fast failures ----
expect_fast missing "nope.yaml: cannot open: No such file or directory" nope.yaml
mkdir adir
expect_fast directory "adir: is a directory, not a policy file" adir
: >empty.yaml
expect_fast empty "empty.yaml:1:1: the file is empty (expected a mapping with 'policies')" empty.yaml
cp "$SRC/tests/data/policies/billion-laughs.yaml" laughs.yaml
expect_fast billion-laughs "laughs.yaml:1:1: unknown key 'lol1'" laughs.yaml
grep -q "laughs.yaml:1:7: YAML anchors and aliases are not supported (anchor '&a'); write the value out" err ||
        fail "billion-laughs: anchor not reported"
head -c 100000 /dev/zero | tr '\0' '[' >deep.yaml
expect_fast deep-nesting "deep.yaml:1:65: nesting deeper than 64 levels" deep.yaml
block=$(printf -- '- %.0s' $(seq 1 100000))
printf '%sx\n' "$block" >deep-block.yaml
expect_fast deep-block "deep-block.yaml:1:129: nesting deeper than 64 levels" deep-block.yaml
cp "$SRC/tests/data/policies/invalid-utf8.yaml" utf8.yaml
expect_fast invalid-utf8 \
        "utf8.yaml:3:13: invalid UTF-8: invalid leading UTF-8 octet (#xFF); the file must be UTF-8 text" utf8.yaml
head -c 65536 "$VIRTSNAP" >binary.yaml
expect_fast binary "binary.yaml:1:1: control characters are not allowed (#x7F)" binary.yaml
cp "$SRC/tests/data/policies/tabs.yaml" tabs.yaml
expect_fast tabs "tabs.yaml:2:1: YAML syntax error: found character that cannot start any token (while scanning for the next token at 2:1); tabs are not allowed in indentation, use spaces" tabs.yaml
head -c 2000000 /dev/zero | tr '\0' '#' >huge.yaml
expect_fast huge "huge.yaml: file too large (2000000 bytes; at most 1048576)" huge.yaml
expect_fast not-regular "/dev/null: not a regular file" /dev/null

# ---- internal and external on one domain ----
cat >mix.yaml <<'EOF'
connection: qemu:///system
timezone: UTC
policies:
  - name: nightly
    domains: {include: [web-01, "db-*"]}
    schedule: daily
    retention: {keep_last: 7}
  - name: hourly
    domains: {include: ["web-*"]}
    schedule: hourly
    snapshot: {type: disk-only}
    retention: {keep_last: 24}
  - name: tagged
    domains: {tags: [production]}
    schedule: hourly
    snapshot: {type: external}
    retention: {keep_last: 2}
  - name: elsewhere
    connection: qemu+ssh://other/system
    schedule: hourly
    snapshot: {type: disk-only}
    retention: {keep_last: 2}
EOF
expect mixed-families 1 "" "mix.yaml:8:5: error: policies 'nightly' (internal, at 4:5) and 'hourly' (disk-only) both select domain 'web-01': libvirt cannot delete snapshots of a chain that mixes internal and external snapshots, so they would pile up as undeletable; give them disjoint domains or one snapshot type
mix.yaml:13:5: warning: policies 'nightly' (internal, at 4:5) and 'tagged' (external) may both select a domain (tags are in libvirt, not in the file): libvirt cannot delete snapshots of a chain that mixes internal and external snapshots, so they would pile up as undeletable; give them disjoint domains or one snapshot type
" -- -c mix.yaml
# Disjoint names, one family, or another connection: fine.
sed -e 's/include: \["web-\*"\]/include: ["app-*"]/' -e '/name: tagged/,/keep_last: 2}/d' mix.yaml >disjoint.yaml
run -c disjoint.yaml -q
[ "$rc" -eq 0 ] || fail "disjoint: exit $rc ($(cat err))"
[ -s err ] && fail "disjoint: $(cat err)"

# ---- usage ----
run --help
[ "$rc" -eq 0 ] || fail "help: exit $rc"
[ "$(head -1 out)" = "usage: virtsnap check [-c FILE] [--connect URI] [-q]" ] || fail "help: $(head -1 out)"
[ -s err ] && fail "help: wrote to stderr"
expect unknown-option 2 "" "virtsnap check: unknown option '--frobnicate'
Try 'virtsnap check --help'.
" -- --frobnicate
expect unknown-short 2 "" "virtsnap check: unknown option -x
Try 'virtsnap check --help'.
" -- -x
expect missing-arg 2 "" "virtsnap check: option -c needs an argument
Try 'virtsnap check --help'.
" -- -c
expect extra-arg 2 "" "virtsnap check: unexpected argument 'ex.yaml'
Try 'virtsnap check --help'.
" -- ex.yaml
expect empty-name 2 "" "virtsnap check: empty file name
Try 'virtsnap check --help'.
" -- -c ''
if [ ! -e /etc/virtsnap/policies.yaml ]; then
        expect default-path 1 "" "/etc/virtsnap/policies.yaml: cannot open: No such file or directory
" --
fi

if [ "$failures" -ne 0 ]; then
        echo "test-check: $failures failure(s)" >&2
        exit 1
fi
echo "test-check: all passed"
