#!/usr/bin/env bash
# `virtsnap metrics` on history written by tests/store-fixture (health: a
# failed hook, an undeletable snapshot, an orphaned series, a connection
# down): promtool accepts the exposition, and the samples say what status
# and monitor say.
set -u

VIRTSNAP=${VIRTSNAP:?VIRTSNAP must point at the virtsnap binary}
FIXTURE=${VS_STORE_FIXTURE:?VS_STORE_FIXTURE must point at tests/store-fixture}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
export TZ=UTC VIRTSNAP_NOW=2026-03-10T12:00:00Z
failures=0
fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}
command -v promtool >/dev/null || { echo "FAIL: promtool (Debian package prometheus) is not installed" >&2; exit 1; }

"$FIXTURE" health h.db
cat >p.yaml <<'YAML'
database: /nonexistent/history.db
timezone: UTC
policies:
  - name: daily
    schedule: "0 4 * * *"
    retention: {keep_last: 2}
  - name: hourly
    connection: qemu+ssh://kvm2/system
    schedule: hourly
    retention: {keep_last: 24}
YAML
"$VIRTSNAP" metrics -c p.yaml --database h.db >m.prom 2>err
[ $? -eq 0 ] || fail "metrics: exit $? ($(cat err))"
promtool check metrics <m.prom >promtool.out 2>&1 || fail "promtool check metrics: $(cat promtool.out)"

want() {
        grep -qxF -- "$1" m.prom || fail "metrics: no line '$1'"
}
S='connection="qemu:///system",domain="web1",policy="daily"'
D='connection="qemu:///system",domain="db1",policy="daily"'
want "virtsnap_last_success_timestamp_seconds{$S} 1773028802"
want "virtsnap_health{$S,health=\"hook-failed\"} 1"
want "virtsnap_health{$S,health=\"ok\"} 0"
want "virtsnap_health_level{$S} 1"
want "virtsnap_snapshots{$D,kind=\"undeletable\"} 1"
want "virtsnap_snapshots{$D,kind=\"owned\"} 3"
want "virtsnap_snapshots{$D,kind=\"deferred\"} 1"
want "virtsnap_snapshots{$S,kind=\"deferred\"} 0"
want "virtsnap_snapshots_created_total{$D} 3"
want "virtsnap_health{connection=\"qemu:///system\",domain=\"web1\",policy=\"weekly\",health=\"orphaned\"} 1"
want 'virtsnap_connection_up{connection="qemu+ssh://kvm2/system"} 0'
want 'virtsnap_connection_failed_attempts{connection="qemu+ssh://kvm2/system"} 7'
want 'virtsnap_connection_up{connection="qemu:///system"} 1'
want "virtsnap_create_duration_seconds_bucket{$D,le=\"5\"} 3"
want "virtsnap_create_duration_seconds_count{$D} 3"
# Days later, with nothing new: the daily series are late (RPO overdue).
VIRTSNAP_NOW=2026-03-13T12:00:00Z "$VIRTSNAP" metrics -c p.yaml --database h.db >late.prom
grep -qxF "virtsnap_rpo_overdue{$D} 1" late.prom || fail "metrics: rpo_overdue not set when late"
grep -qxF "virtsnap_rpo_overdue{$D} 0" m.prom || fail "metrics: rpo_overdue set when on time"
# Hostile label values are escaped.
"$FIXTURE" demo demo.db
"$VIRTSNAP" metrics --database demo.db >demo.prom || fail "metrics demo: exit $?"
promtool check metrics <demo.prom >promtool.out 2>&1 || fail "promtool (hostile names): $(cat promtool.out)"
grep -qF 'domain="o'"'"'brien \"test\" ドメイン"' demo.prom || fail "metrics: quotes not escaped"
# Usage.
"$VIRTSNAP" metrics --frobnicate >out 2>err
[ $? -eq 2 ] || fail "metrics --frobnicate: want exit 2"
"$VIRTSNAP" metrics --help | head -1 | grep -qx 'usage: virtsnap metrics \[-c FILE\] \[--database PATH\]' ||
        fail "metrics --help"

if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
fi
echo "all passed"
