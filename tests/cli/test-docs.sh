#!/usr/bin/env bash
# The man pages and the bash completion, as installed: both pages render
# with groff's warnings on and say nothing on stderr; virtsnap(8) has a
# section for every command `virtsnap --help` lists; virtsnap.yaml(5) and
# policies.example.yaml name every key the loader accepts (tests/policy-keys
# prints them from the loader's own table); the completion completes
# commands, options, policy names and domain names.
set -u

VIRTSNAP=${VIRTSNAP:?VIRTSNAP must point at the virtsnap binary}
SRC=${VS_SOURCE_ROOT:?VS_SOURCE_ROOT must point at the source tree}
BUILD=${VS_BUILD_ROOT:?VS_BUILD_ROOT must point at the build tree}
KEYS=${VS_POLICY_KEYS:?VS_POLICY_KEYS must point at tests/policy-keys}
FIXTURE=${VS_STORE_FIXTURE:?VS_STORE_FIXTURE must point at tests/store-fixture}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
failures=0
fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

for page in "$BUILD/doc/virtsnap.8" "$BUILD/doc/virtsnap.yaml.5"; do
        [ -s "$page" ] || { fail "$page: missing"; continue; }
        LC_ALL=C.UTF-8 groff -ww -man -Tutf8 "$page" >out 2>err
        [ $? -eq 0 ] && [ ! -s err ] || fail "groff -ww $page: $(head -3 err)"
        [ "$(wc -l <out)" -gt 20 ] || fail "groff $page: rendered only $(wc -l <out) lines"
        if command -v man >/dev/null; then
                LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" >out 2>err
                [ $? -eq 0 ] && [ ! -s err ] || fail "man --warnings -l $page: $(head -3 err)"
        fi
done

# Every command, with its own --help text.
"$VIRTSNAP" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }' >commands
[ "$(wc -l <commands)" -ge 15 ] || fail "virtsnap --help lists $(wc -l <commands) commands"
while read -r cmd; do
        grep -qx ".SS $cmd" "$BUILD/doc/virtsnap.8" || fail "virtsnap.8: no section for '$cmd'"
done <commands
grep -q 'usage: virtsnap plan \[\\-c FILE\] \[\\-\\-at TIME\] \[\\-\\-count N\]' "$BUILD/doc/virtsnap.8" ||
        fail "virtsnap.8: the plan section is not plan --help"
for s in "EXIT STATUS" SIGNALS FILES ENVIRONMENT; do
        grep -qx ".SH $s" "$BUILD/doc/virtsnap.8" || fail "virtsnap.8: no $s section"
done

# Every key of the loader, documented (its last component, as a word of the
# rules block; keys are written with '_', roff escapes nothing in them).
"$KEYS" >keys
[ "$(wc -l <keys)" -ge 30 ] || fail "policy-keys printed $(wc -l <keys) keys"
sed -n '/-- the rules/,/-- the example/p' "$SRC/policies.example.yaml" >rules
while read -r key; do
        leaf=${key##*.}
        grep -qw -- "$leaf" rules || fail "policies.example.yaml: key '$key' is not documented"
        grep -qw -- "$leaf" "$BUILD/doc/virtsnap.yaml.5" || fail "virtsnap.yaml.5: key '$key' is not documented"
done <keys

# The completion, in a bash that has only it.
"$FIXTURE" demo h.db
cat >p.yaml <<YAML
database: $tmp/h.db
timezone: UTC
policies:
  - name: daily
    schedule: daily
    retention: {keep_last: 2}
  - name: hourly
    enabled: false
    schedule: hourly
    retention: {keep_last: 2}
YAML
complete_words() {
        # complete_words WORD...: what <TAB> offers after the words (the last
        # one is the word being completed).
        PATH="$(dirname "$VIRTSNAP"):$PATH" bash -c '
                source "$1"; shift
                COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                _virtsnap; printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$SRC/contrib/virtsnap.bash" "$@"
}
[ "$(complete_words virtsnap sta)" = "status" ] || fail "completion: commands: '$(complete_words virtsnap sta)'"
[ "$(complete_words virtsnap plan --co)" = "$(printf -- '--config\n--connect\n--count')" ] ||
        fail "completion: plan options: '$(complete_words virtsnap plan --co)'"
[ "$(complete_words virtsnap snapshot -c p.yaml --policy '')" = "$(printf 'daily\nhourly')" ] ||
        fail "completion: policies: '$(complete_words virtsnap snapshot -c p.yaml --policy '')'"
[ "$(complete_words virtsnap history --database h.db --domain w)" = "web1" ] ||
        fail "completion: domains: '$(complete_words virtsnap history --database h.db --domain w)'"
# revert: DOMAIN, then one of its present snapshots from the history.
[ "$(complete_words virtsnap revert --database h.db w)" = "web1" ] ||
        fail "completion: revert's domain: '$(complete_words virtsnap revert --database h.db w)'"
[ "$(complete_words virtsnap revert --database h.db web1 daily-202603)" = "$(printf 'daily-20260309T040000Z\ndaily-20260310T040000Z')" ] ||
        fail "completion: revert's snapshot: '$(complete_words virtsnap revert --database h.db web1 daily-202603)'"

if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
fi
echo "all passed"
