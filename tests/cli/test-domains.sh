#!/usr/bin/env bash
# `virtsnap domains` and `virtsnap snapshots` as a user runs them, against
# libvirt's test driver: the 50-domain node (tests/data/node-50.xml: 14 shut
# off, 34 tagged) for the coverage audit, and a node with a snapshot tree
# (tests/data/node-snapshots.xml) for ownership marks.  Exact output.
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

# expect NAME RC STDOUT -- ARGS...: exit status and exact stdout; stderr empty
# when RC is 0.
expect() {
        local name=$1 want_rc=$2 want_out=$3
        shift 4
        "$VIRTSNAP" "$@" >out 2>err
        rc=$?
        [ "$rc" -eq "$want_rc" ] || fail "$name: exit $rc, want $want_rc (stderr: $(head -5 err))"
        diff -u <(printf '%s' "$want_out") out >diff || { fail "$name: unexpected stdout"; cat diff >&2; }
        if [ "$want_rc" -eq 0 ] && [ -s err ]; then
                fail "$name: unexpected stderr: $(head -5 err)"
        fi
}

NODE="test://$SRC/tests/data/node-50.xml"
SNAPS="test://$SRC/tests/data/node-snapshots.xml"

cat >pol.yaml <<'YAML'
connection: qemu:///system
timezone: UTC
policies:
  - name: prod
    domains:
      tags: [production]
      state: running
      exclude: ["web-*"]
    schedule: hourly
    retention:
      keep_last: 3
  - name: builds
    domains:
      include: ["build-*"]
      state: shutoff
    schedule: daily
    retention:
      keep_daily: 7
  - name: dev
    enabled: false
    domains:
      include: ["dev-0[1-3]"]
    schedule: daily
    retention:
      keep_daily: 7
  - name: web
    domains:
      include: ["web-*", "db-1?"]
      tags: [web, db]
    schedule: daily
    retention:
      keep_daily: 7
YAML

# 50 domains: prod 6 (db-01..06), builds 2, dev 3 but disabled, web 20 (the
# db-1? glob only matches db-10, which has no tags).  Uncovered: 50 - 28 = 22.
expect domains-text 0 \
"policy prod on $NODE: 6 domains
  db-01     running   production,db
  db-02     running   production,db
  db-03     running   production,db
  db-04     running   production,db
  db-05     running   production,db
  db-06     running   production,db
policy builds on $NODE: 2 domains
  build-01  shutoff   -
  build-02  shutoff   -
policy dev (disabled) on $NODE: 3 domains
  dev-01    running   dev
  dev-02    running   -
  dev-03    shutoff   dev
policy web on $NODE: 20 domains
  web-01    running   production,web
  web-02    running   production,web
  web-03    running   production,web
  web-04    shutoff   production,web
  web-05    running   production,web
  web-06    running   production,web
  web-07    running   production,web
  web-08    shutoff   production,web
  web-09    running   production,web
  web-10    running   production,web
  web-11    running   production,web
  web-12    shutoff   production,web
  web-13    running   web
  web-14    running   web
  web-15    running   web
  web-16    shutoff   web
  web-17    running   web
  web-18    running   web
  web-19    running   web
  web-20    shutoff   web
not covered on $NODE: 22 domains
  build-03  running   -
  build-04  running   -
  build-05  running   -
  db-07     running   -
  db-08     running   -
  db-09     shutoff   -
  db-10     shutoff   -
  dev-01    running   dev
  dev-02    running   -
  dev-03    shutoff   dev
  dev-04    running   -
  dev-05    running   dev
  dev-06    shutoff   -
  dev-07    running   dev
  dev-08    running   -
  dev-09    shutoff   dev
  dev-10    running   -
  dev-11    running   dev
  dev-12    shutoff   -
  dev-13    running   dev
  dev-14    running   -
  dev-15    shutoff   dev
" -- domains -c pol.yaml --connect "$NODE"

# JSON: the same counts, machine-checked.
"$VIRTSNAP" domains -c pol.yaml --connect "$NODE" --json >out.json 2>err || fail "domains-json: exit $?"
python3 - out.json "$NODE" <<'PY' || fail "domains-json: wrong content"
import json, sys
d = json.load(open(sys.argv[1]))
counts = {p["name"]: len(p["domains"]) for p in d["policies"]}
assert counts == {"prod": 6, "builds": 2, "dev": 3, "web": 20}, counts
assert [p["enabled"] for p in d["policies"]] == [True, True, False, True]
assert all(p["connection"] == sys.argv[2] for p in d["policies"])
assert len(d["uncovered"]) == 22, len(d["uncovered"])
first = d["policies"][0]["domains"][0]
assert first == {"name": "db-01", "uuid": "5a5a0014-0000-4000-8000-000000000015", "state": "running",
                 "persistent": True, "tags": ["production", "db"]}, first
assert d["uncovered"][0]["name"] == "build-03" and d["uncovered"][0]["connection"] == sys.argv[2]
PY

# A connection that cannot be opened: exit 1, the error on stderr.
"$VIRTSNAP" domains -c pol.yaml --connect "test:///nonexistent/node.xml" >out 2>err
rc=$?
[ "$rc" -eq 1 ] || fail "bad-connection: exit $rc, want 1"
grep -q '^virtsnap domains: test:///nonexistent/node.xml: connecting to test:///nonexistent/node.xml: ' err ||
        fail "bad-connection: stderr '$(head -3 err)'"

# Usage errors.
expect domains-extra-arg 2 "" -- domains -c pol.yaml extra
expect domains-bad-option 2 "" -- domains --bogus
"$VIRTSNAP" domains --help >out 2>err || fail "domains --help: exit $?"
grep -q '^usage: virtsnap domains' out || fail "domains --help: no usage on stdout"

# ---- snapshots ----
cat >pol-daily.yaml <<'YAML'
policies:
  - name: daily
    schedule: daily
    retention:
      keep_daily: 7
YAML

# Children under their parent, oldest first; the marker names the policy,
# and a policy the file no longer has is flagged.
expect snapshots-text 0 \
"app on $SNAPS: 4 snapshots
  daily-1       2026-03-29T01:00:00Z  running        internal   policy daily
    by-hand     2026-03-29T13:00:00Z  running        internal   foreign
    daily-2     2026-03-30T01:00:00Z  running        internal   policy daily
      hourly-9  2026-03-30T02:00:00Z  running        internal   policy hourly (not in pol-daily.yaml)  (current)
" -- snapshots app -c pol-daily.yaml --connect "$SNAPS"

# Without a policy file (--connect alone) ownership still shows.
expect snapshots-no-config 0 \
"app on $SNAPS: 4 snapshots
  daily-1       2026-03-29T01:00:00Z  running        internal   policy daily
    by-hand     2026-03-29T13:00:00Z  running        internal   foreign
    daily-2     2026-03-30T01:00:00Z  running        internal   policy daily
      hourly-9  2026-03-30T02:00:00Z  running        internal   policy hourly  (current)
" -- snapshots --connect "$SNAPS" app

"$VIRTSNAP" snapshots app --connect "$SNAPS" --json >out.json 2>err || fail "snapshots-json: exit $?"
python3 - out.json <<'PY' || fail "snapshots-json: wrong content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["domain"] == "app"
rows = [(s["name"], s["parent"], s["depth"], s["owned"], s["policy"], s["current"]) for s in d["snapshots"]]
assert rows == [("daily-1", None, 0, True, "daily", False),
                ("by-hand", "daily-1", 1, False, None, False),
                ("daily-2", "daily-1", 1, True, "daily", False),
                ("hourly-9", "daily-2", 2, True, "hourly", True)], rows
s = d["snapshots"][0]
assert s["created"] == "2026-03-29T01:00:00Z" and s["type"] == "internal" and s["description"] == "nightly"
assert d["snapshots"][1]["description"] == "before the upgrade"
PY

# A domain with no snapshots, and one that does not exist.
expect snapshots-empty 0 "web-01 on $NODE: 0 snapshots
" -- snapshots web-01 --connect "$NODE"
expect snapshots-no-domain 1 "" -- snapshots nosuch --connect "$NODE"
grep -q "^virtsnap snapshots: $NODE: domain nosuch: Domain not found" err || fail "snapshots-no-domain: stderr '$(cat err)'"
expect snapshots-no-arg 2 "" -- snapshots --connect "$NODE"
expect snapshots-two-args 2 "" -- snapshots a b --connect "$NODE"

# Policies mixing internal and external snapshots on a real domain: `check`
# can only warn (tags), `domains` sees web-01 carries the tag and refuses.
cat >mixed.yaml <<'YAML'
connection: qemu:///system
timezone: UTC
policies:
  - name: nightly
    domains: {include: [web-01]}
    schedule: daily
    retention: {keep_last: 3}
  - name: prod-disk
    domains: {tags: [production], state: shutoff}
    schedule: hourly
    snapshot: {type: disk-only}
    retention: {keep_last: 3}
YAML
"$VIRTSNAP" check -c mixed.yaml -q >out 2>err
[ $? -eq 0 ] || fail "check mixed.yaml: exit $?, want 0 (a warning only)"
grep -q "^mixed.yaml:8:5: warning: policies 'nightly' (internal, at 4:5) and 'prod-disk' (disk-only) may both select" err ||
        fail "check mixed.yaml: $(cat err)"
"$VIRTSNAP" domains -c mixed.yaml --connect "$NODE" >out 2>err
rc=$?
[ "$rc" -eq 1 ] || fail "domains mixed.yaml: exit $rc, want 1"
[ "$(cat err)" = "virtsnap domains: $NODE: domain 'web-01' is selected by policies 'nightly' (internal) and 'prod-disk' (disk-only): libvirt cannot delete snapshots of a chain that mixes internal and external snapshots" ] ||
        fail "domains mixed.yaml: stderr '$(cat err)'"

if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
fi
echo "all passed"
