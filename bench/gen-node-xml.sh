#!/bin/bash
# gen-node-xml.sh N SNAPSHOTS POLICY: print a node file for libvirt's test
# driver (open it as test:///ABSOLUTE/PATH.xml) holding N running domains
# bench-0001 ... bench-N (UUIDs 00000000-0000-4000-8000-00000000000I), each
# with SNAPSHOTS existing snapshots owned by
# POLICY: their description ends with virtsnap's ownership marker
# ("virtsnap-policy: POLICY", virt/snapshot-xml.h), they are named as
# virtsnap names them (POLICY-20260101T000000Z, one day apart, oldest first)
# and form a chain whose newest is the current snapshot.
#
# The test driver reads inline snapshots from <test:domainsnapshot> elements
# (namespace http://libvirt.org/schemas/domain/test/1.0) whose children are
# those of a <domainsnapshot>; as a redefinition it needs <active> (1 marks
# the current snapshot) and takes the saved <domain> from it (without one,
# libvirt warns on stderr for every snapshot at every connect).
#
# Every string written here is from a fixed alphabet ([a-z0-9-], the policy
# name checked below), so nothing needs XML escaping.
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: gen-node-xml.sh N SNAPSHOTS POLICY" >&2; exit 2; }
n=$1 snaps=$2 policy=$3
[[ "$n" =~ ^[0-9]+$ && "$snaps" =~ ^[0-9]+$ ]] || { echo "gen-node-xml.sh: N and SNAPSHOTS are numbers" >&2; exit 2; }
[[ "$policy" =~ ^[A-Za-z0-9_-]{1,32}$ ]] || { echo "gen-node-xml.sh: bad policy name" >&2; exit 2; }

base=1767225600 # 2026-01-01T00:00:00Z
names=()
for ((k = 0; k < snaps; k++)); do
        names+=("$policy-$(date -u -d "@$((base + k * 86400))" +%Y%m%dT%H%M%SZ)")
done
echo "<node>"
for ((i = 1; i <= n; i++)); do
        dom=$(printf 'bench-%04d' "$i")
        # A fixed UUID per name: without one the test driver makes up a new
        # one at every connect, and a database kept between runs would see
        # new domains each time.
        uuid=$(printf '00000000-0000-4000-8000-%012d' "$i")
        mini="<domain type='test'><name>$dom</name><uuid>$uuid</uuid><memory>65536</memory><os><type>hvm</type></os></domain>"
        cat <<EOF
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>$dom</name>
    <uuid>$uuid</uuid>
    <memory>65536</memory>
    <os><type>hvm</type></os>
EOF
        parent=
        for ((k = 0; k < snaps; k++)); do
                t=$((base + k * 86400))
                name=${names[k]}
                active=0
                [ $((k + 1)) -eq "$snaps" ] && active=1
                echo "    <test:domainsnapshot>"
                echo "      <name>$name</name>"
                echo "      <description>virtsnap $policy $dom"
                echo "virtsnap-policy: $policy</description>"
                echo "      <state>running</state>"
                echo "      <creationTime>$t</creationTime>"
                [ -n "$parent" ] && echo "      <parent><name>$parent</name></parent>"
                echo "      <active>$active</active>"
                echo "      $mini"
                echo "    </test:domainsnapshot>"
                parent=$name
        done
        echo "  </domain>"
done
echo "</node>"
