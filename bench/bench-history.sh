#!/usr/bin/env bash
# Audit queries at scale: 1,000,000 history rows (and as many events) over
# 10,000 domains, generated with a recursive CTE through the sqlite3 shell
# into a database whose schema the store itself created.  Measures, as a
# user sees them (wall time including process start, after a warm-up,
# median/min/max of RUNS runs):
#   virtsnap history --domain D --since 30d --limit 100   vs the same SQL in sqlite3
#   virtsnap status (10,000 (domain, policy) series)        vs the same SQL in sqlite3
# and prints the query plans so index use can be checked.
#
#   bench/bench-history.sh [BUILD_DIR]     (default: build)
# Environment: RUNS (default 7), BENCH_DIR (where the 1M-row database is
# kept between runs; default a temporary directory).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
build=$(cd "$build" && pwd)
virtsnap=$build/cli/virtsnap
fixture=$build/tests/store-fixture
runs=${RUNS:-7}
for f in "$virtsnap" "$fixture"; do
        [ -x "$f" ] || { echo "bench-history: $f missing (ninja -C $build)" >&2; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "bench-history: the sqlite3 shell is needed" >&2; exit 1; }

if [ -n "${BENCH_DIR:-}" ]; then
        dir=$BENCH_DIR
        mkdir -p "$dir"
else
        dir=$(mktemp -d)
        trap 'rm -rf "$dir"' EXIT
fi
db=$dir/history.db
now=1773144000 # 2026-03-10T12:00:00Z
export VIRTSNAP_NOW=@$now TZ=UTC

if [ ! -s "$db" ]; then
        # The store creates the schema (migrations, indexes, triggers) ...
        "$fixture" series "$db" 0
        t0=$(date +%s%N)
        # ... and SQL fills it: domain d has 100 attempts, one a day for 100
        # days; the newest 7 are present (one pinned), every 17th failed,
        # the rest pruned.  One event per attempt.
        sqlite3 "$db" <<EOF
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < 9999),
k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 99)
INSERT INTO snapshots (connection, domain_uuid, domain_name, policy, snapshot, type, quiesce,
                       consistency, state, scheduled, started, finished, created, deleted,
                       delete_reason, error_code, error_domain, error_message, pinned, pin_reason)
SELECT 'qemu:///system',
       printf('00000000-0000-4000-8000-%012d', i), printf('vm%05d', i), 'daily',
       printf('daily-%d', $now - (100 - j) * 86400 + i % 3600), 'internal', 0,
       CASE WHEN j % 17 = 5 THEN NULL ELSE 'crash' END,
       CASE WHEN j % 17 = 5 THEN 'failed' WHEN j >= 93 THEN 'present' ELSE 'deleted' END,
       $now - (100 - j) * 86400 + i % 3600,
       $now - (100 - j) * 86400 + i % 3600 + 1,
       $now - (100 - j) * 86400 + i % 3600 + 20,
       CASE WHEN j % 17 = 5 THEN NULL ELSE $now - (100 - j) * 86400 + i % 3600 + 2 END,
       CASE WHEN j % 17 <> 5 AND j < 93 THEN $now - (100 - j - 7) * 86400 + i % 3600 + 30 END,
       CASE WHEN j % 17 <> 5 AND j < 93 THEN 'keep_last 7: 8th newest' END,
       CASE WHEN j % 17 = 5 THEN 86 END, CASE WHEN j % 17 = 5 THEN 10 END,
       CASE WHEN j % 17 = 5 THEN 'Guest agent is not responding' END,
       j = 93, CASE WHEN j = 93 THEN 'weekly keeper' END
FROM d, k ORDER BY j, i;
INSERT INTO events (time, kind, connection, domain_uuid, domain_name, policy, snapshot, message, snapshot_id)
SELECT coalesce(finished, started), CASE state WHEN 'failed' THEN 'failed' ELSE 'created' END,
       connection, domain_uuid, domain_name, policy, snapshot,
       coalesce(error_message, consistency), id FROM snapshots;
COMMIT;
ANALYZE;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
        t1=$(date +%s%N)
        echo "generated in $(((t1 - t0) / 1000000)) ms"
fi
echo "rows: $(sqlite3 "$db" 'SELECT count(*) FROM snapshots') snapshots," \
     "$(sqlite3 "$db" 'SELECT count(*) FROM events') events," \
     "$(sqlite3 "$db" 'SELECT count(*) FROM series') series; file $(du -h "$db" | cut -f1)"

# Median, min, max of RUNS wall times (seconds) of a command, after a warm-up.
measure() {
        local t0 t1 i
        "$@" >/dev/null
        for ((i = 0; i < runs; i++)); do
                t0=$(date +%s%N)
                "$@" >/dev/null
                t1=$(date +%s%N)
                echo $((t1 - t0))
        done | sort -n | awk '{ a[NR] = $1 } END {
                printf "%.4f %.4f %.4f\n", a[int((NR + 1) / 2)] / 1e9, a[1] / 1e9, a[NR] / 1e9 }'
}

since=$((now - 30 * 86400))
history_sql="SELECT id, connection, domain_uuid, domain_name, policy, snapshot, type, quiesce,
 consistency, state, scheduled, started, finished, created, deleted, delete_reason, error_code,
 error_domain, error_message, pinned, pin_reason, undeletable FROM snapshots
 WHERE domain_name = 'vm05000' AND started >= $since AND started <= 9223372036854775807
 ORDER BY started DESC, id DESC LIMIT 100"
# Same shape as store/query.c's series query.
status_sql="SELECT se.connection, se.domain_uuid, se.domain_name, se.policy, ok.created, la.state,
 la.started, la.error_message, coalesce(h.held, 0), coalesce(h.pinned, 0), coalesce(h.undeletable, 0)
 FROM series se
 LEFT JOIN snapshots ok ON ok.id = (SELECT id FROM snapshots WHERE connection = se.connection
   AND domain_uuid = se.domain_uuid AND policy = se.policy
   AND state IN ('present','deleting','deleted','vanished') ORDER BY started DESC, id DESC LIMIT 1)
 LEFT JOIN snapshots la ON la.id = (SELECT id FROM snapshots WHERE connection = se.connection
   AND domain_uuid = se.domain_uuid AND policy = se.policy AND state <> 'skipped'
   ORDER BY started DESC, id DESC LIMIT 1)
 LEFT JOIN (SELECT connection, domain_uuid, policy, count(*) AS held, sum(pinned) AS pinned,
   sum(undeletable) AS undeletable FROM snapshots
   WHERE state IN ('creating','present','deleting') AND state <> 'creating'
   GROUP BY connection, domain_uuid, policy) h
   ON h.connection = se.connection AND h.domain_uuid = se.domain_uuid AND h.policy = se.policy
 ORDER BY se.domain_name, se.policy, se.connection"

echo "plan of history --domain:"
sqlite3 -readonly "$db" "EXPLAIN QUERY PLAN $history_sql" | sed 's/^/  /'
echo "plan of status:"
sqlite3 -readonly "$db" "EXPLAIN QUERY PLAN $status_sql" | sed 's/^/  /'

n=$("$virtsnap" history --database "$db" --domain vm05000 --since 30d --limit 100 --format csv | wc -l)
m=$("$virtsnap" status --database "$db" --format csv | wc -l)
echo "history returns $((n - 1)) rows; status returns $((m - 1)) rows"
# Process start alone (libvirt is a dlopen'd module, not loaded by these commands).
read -r vmed vmin vmax < <(measure "$virtsnap" version)
echo "BENCH startup command=version runs=$runs seconds=$vmed min=$vmin max=$vmax"

read -r hmed hmin hmax < <(measure "$virtsnap" history --database "$db" --domain vm05000 --since 30d --limit 100)
read -r qmed qmin qmax < <(measure sqlite3 -readonly "$db" "$history_sql")
ratio=$(awk -v a="$hmed" -v b="$qmed" 'BEGIN { printf "%.2f", a / b }')
echo "BENCH history rows=1000000 domains=10000 query=domain-since-30d-limit-100 runs=$runs seconds=$hmed min=$hmin max=$hmax" \
     "sqlite3_seconds=$qmed sqlite3_min=$qmin sqlite3_max=$qmax ratio=$ratio target_seconds=0.050 target_ratio=2"

read -r smed smin smax < <(measure "$virtsnap" status --database "$db")
read -r sqmed sqmin sqmax < <(measure sqlite3 -readonly "$db" "$status_sql")
ratio=$(awk -v a="$smed" -v b="$sqmed" 'BEGIN { printf "%.2f", a / b }')
echo "BENCH status series=10000 runs=$runs seconds=$smed min=$smin max=$smax" \
     "sqlite3_seconds=$sqmed sqlite3_min=$sqmin sqlite3_max=$sqmax ratio=$ratio target_seconds=1"

read -r emed emin emax < <(measure "$virtsnap" events --database "$db" --domain vm05000 --since 30d --limit 100)
echo "BENCH events query=domain-since-30d-limit-100 runs=$runs seconds=$emed min=$emin max=$emax"
read -r mmed mmin mmax < <(measure "$virtsnap" monitor --database "$db" --warn 36h --crit 3d)
echo "BENCH monitor series=10000 runs=$runs seconds=$mmed min=$mmin max=$mmax"
