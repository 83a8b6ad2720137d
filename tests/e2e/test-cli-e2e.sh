#!/usr/bin/env bash
# The CLI as an admin uses it, against the real isolated libvirtd:
# `virtsnap domains` (coverage audit, tags from domain metadata, state),
# `virtsnap snapshots` (owned vs foreign), and `virtsnap snapshot` (an ad-hoc
# snapshot under a policy, recorded and pruned by its retention).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ -n "${VS_E2E_URI:-}" ] || vs_die "run me from run-e2e.sh"
[ -x "${VIRTSNAP:-}" ] || vs_die "VIRTSNAP is not set to the built binary"

dir=$VS_E2E_DIR/cli
mkdir -p "$dir"
cat >"$dir/policies.yaml" <<EOF
connection: "$VS_E2E_URI"
database: $dir/history.db
control_socket: $dir/ctl.sock
timezone: UTC
policies:
  - name: web
    domains:
      include: ["vse2e-cli-web*"]
      tags: [production]
      state: running
    schedule: hourly
    snapshot:
      type: disk-only
      name: "web-{utc:%Y%m%dT%H%M%SZ}"
    retention:
      keep_last: 2
  - name: db
    domains:
      include: ["vse2e-cli-db*"]
      state: shutoff
    schedule: daily
    retention:
      keep_last: 5
  - name: offline
    domains:
      include: ["vse2e-cli-off*"]
    schedule: daily
    snapshot:
      type: disk-only
      quiesce: required
    retention:
      keep_last: 5
EOF

vs_make_domain vse2e-cli-web1 --running
vs_make_domain vse2e-cli-web2 --running
vs_make_domain vse2e-cli-db1
vs_make_domain vse2e-cli-off1
vs_virsh metadata vse2e-cli-web1 urn:virtsnap:1 --key vs --config --live \
        --set '<tags><tag>production</tag></tags>' >/dev/null

# JSON field extraction with python3 (meson needs it, so it is always there).
json() {
        python3 -c "import json,sys; d=json.load(sys.stdin); $1"
}

out=$("$VIRTSNAP" domains -c "$dir/policies.yaml" --json)
vs_check_eq "domains exits 0" 0 $?
vs_check_eq "policy web covers the tagged running web domain only" "vse2e-cli-web1" \
        "$(json 'print(",".join(x["name"] for p in d["policies"] if p["name"]=="web" for x in p["domains"]))' <<<"$out")"
vs_check_eq "... and reports its tag" "production" \
        "$(json 'print(",".join(t for p in d["policies"] if p["name"]=="web" for x in p["domains"] for t in x["tags"]))' <<<"$out")"
vs_check_eq "policy db covers the shut-off db domain" "vse2e-cli-db1" \
        "$(json 'print(",".join(x["name"] for p in d["policies"] if p["name"]=="db" for x in p["domains"] if x["name"].startswith("vse2e-cli")))' <<<"$out")"
vs_check_eq "the untagged web domain is reported as not covered" "vse2e-cli-web2" \
        "$(json 'print(",".join(x["name"] for x in d["uncovered"] if x["name"].startswith("vse2e-cli")))' <<<"$out")"
vs_check_eq "uncovered domains carry their state" "running" \
        "$(json 'print([x["state"] for x in d["uncovered"] if x["name"]=="vse2e-cli-web2"][0])' <<<"$out")"

# An ad-hoc snapshot under policy web, three times: retention keep_last 2
# prunes the oldest owned one; a foreign snapshot in between is untouched.
vs_check "virtsnap snapshot succeeds" "$VIRTSNAP" snapshot vse2e-cli-web1 --policy web \
        -c "$dir/policies.yaml" --log-level warning
vs_virsh snapshot-create-as vse2e-cli-web1 by-hand --disk-only --atomic >/dev/null
sleep 1
vs_check "a second one" "$VIRTSNAP" snapshot vse2e-cli-web1 --policy web \
        -c "$dir/policies.yaml" --log-level warning
sleep 1
vs_check "a third one" "$VIRTSNAP" snapshot vse2e-cli-web1 --policy web \
        -c "$dir/policies.yaml" --log-level warning

out=$("$VIRTSNAP" snapshots vse2e-cli-web1 --connect "$VS_E2E_URI" --json)
vs_check_eq "snapshots exits 0" 0 $?
vs_check_eq "two owned snapshots are left, both policy web" "web web" \
        "$(json 'print(" ".join(s["policy"] for s in d["snapshots"] if s["owned"]))' <<<"$out")"
vs_check_eq "the foreign one is listed as foreign" "by-hand:False:None" \
        "$(json 'print(",".join("%s:%s:%s" % (s["name"], s["owned"], s["policy"]) for s in d["snapshots"] if not s["owned"]))' <<<"$out")"
vs_check_eq "owned ones are disk-only with their overlay file" "disk-only:1 disk-only:1" \
        "$(json 'print(" ".join("%s:%d" % (s["type"], len(s["disk_files"])) for s in d["snapshots"] if s["owned"]))' <<<"$out")"
vs_check_eq "libvirt agrees: 3 snapshots, the foreign one among them" "3 by-hand" \
        "$(vs_virsh snapshot-list vse2e-cli-web1 --name | wc -l) $(vs_virsh snapshot-list vse2e-cli-web1 --name | grep -x by-hand)"

# The human form marks owner and foreign too.
out=$("$VIRTSNAP" snapshots vse2e-cli-web1 -c "$dir/policies.yaml")
vs_check "human output marks 'policy web'" grep -q 'policy web' <<<"$out"
vs_check "human output marks 'foreign'" grep -Eq 'by-hand .*foreign' <<<"$out"

# A missing domain is an error, not an empty tree.
"$VIRTSNAP" snapshots vse2e-cli-nosuch --connect "$VS_E2E_URI" >/dev/null 2>&1
vs_check_eq "snapshots of a missing domain exits 1" 1 $?

# A shut-off domain under quiesce: required: nothing to freeze, its disks
# were closed cleanly.  The snapshot is `offline` (not crash-consistent, not
# quiesced either), and the event log says why the requirement is met.
vs_check "snapshot of a shut-off domain with quiesce: required" "$VIRTSNAP" snapshot vse2e-cli-off1 \
        --policy offline -c "$dir/policies.yaml" --log-level warning
out=$("$VIRTSNAP" history -c "$dir/policies.yaml" --domain vse2e-cli-off1 --format json)
vs_check_eq "history records it as offline" "present:offline" \
        "$(json 'print(",".join("%s:%s" % (r["state"], r["consistency"]) for r in d))' <<<"$out")"
out=$("$VIRTSNAP" events -c "$dir/policies.yaml" --domain vse2e-cli-off1 --state notice --format json)
vs_check_eq "the event says no freeze was needed" \
        "domain was shut off: an offline snapshot (clean disks, no freeze needed) satisfies quiesce: required" \
        "$(json 'print(d[0]["message"])' <<<"$out")"
vs_check_eq "libvirt has it, disk-only, of a shut-off domain" "shutoff" \
        "$(vs_virsh snapshot-info vse2e-cli-off1 --current | awk '$1=="State:"{print $2}')"

# Two policies mixing internal and external snapshots on one domain (a file
# `check` refuses; `snapshot` does not check the whole file): the disk-only
# policy's prune meets an external snapshot whose parent is internal, which
# libvirt 9.0 cannot delete.  `snapshot` says so and exits 1.
cat >"$dir/mixed.yaml" <<EOF
connection: "$VS_E2E_URI"
database: $dir/history.db
control_socket: $dir/ctl.sock
timezone: UTC
policies:
  - name: mix-int
    domains:
      include: ["vse2e-cli-mix*"]
    schedule: daily
    retention:
      keep_last: 5
  - name: mix-ext
    domains:
      include: ["vse2e-cli-mix*"]
    schedule: daily
    snapshot:
      type: disk-only
    retention:
      keep_last: 1
EOF
vs_make_domain vse2e-cli-mix1 --running
"$VIRTSNAP" check -c "$dir/mixed.yaml" -q 2>/dev/null
vs_check_eq "check refuses the mixed file" 1 $?
vs_check "internal snapshot of the mixed domain" "$VIRTSNAP" snapshot vse2e-cli-mix1 --policy mix-int \
        -c "$dir/mixed.yaml" --log-level warning
vs_check "a disk-only one on top" "$VIRTSNAP" snapshot vse2e-cli-mix1 --policy mix-ext \
        -c "$dir/mixed.yaml" --log-level warning
sleep 1
"$VIRTSNAP" snapshot vse2e-cli-mix1 --policy mix-ext -c "$dir/mixed.yaml" --log-level warning 2>"$dir/mix.err"
vs_check_eq "a prune that leaves an undeletable snapshot exits 1" 1 $?
vs_check "... and says why" grep -q "^virtsnap snapshot: 1 snapshot could not be deleted: libvirt cannot delete it" \
        "$dir/mix.err"
out=$("$VIRTSNAP" status -c "$dir/mixed.yaml" --domain vse2e-cli-mix1 --policy mix-ext --format json)
vs_check_eq "status marks the series undeletable" "undeletable:1" \
        "$(json 'print("%s:%d" % (d[0]["health"], d[0]["undeletable"]))' <<<"$out")"
vs_virsh destroy vse2e-cli-mix1 >/dev/null

vs_virsh destroy vse2e-cli-web1 >/dev/null
vs_virsh destroy vse2e-cli-web2 >/dev/null
vs_case_done
