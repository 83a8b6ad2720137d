/* The audit queries behind `virtsnap history`, `events`, `status` and
 * `monitor`.  Each is constant SQL with bound parameters; where the shape of
 * the filter decides which index can serve it (a domain or none), there is
 * one statement per shape rather than an "?1 IS NULL OR ..." that the
 * planner cannot use an index for.  Optional filters that only narrow rows
 * already found through an index (policy, state) use that idiom.
 * vs__store_explain prints the plans so tests can check that the intended
 * indexes are picked. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "store-private.h"

#define HISTORY_COLUMNS                                                                          \
        "SELECT id, connection, domain_uuid, domain_name, policy, snapshot, type, quiesce,"       \
        " consistency, state, scheduled, started, finished, created, deleted, delete_reason,"    \
        " error_code, error_domain, error_message, pinned, pin_reason, undeletable, origin,"          \
        " hook_error, expires, requested_by, note, deferred FROM snapshots"
#define HISTORY_TAIL                                                                             \
        " started >= ?3 AND started <= ?4 AND (?2 IS NULL OR policy = ?2)"                      \
        " AND (?5 IS NULL OR state = ?5) ORDER BY started DESC, id DESC LIMIT ?6"

static const char history_by_name[] = HISTORY_COLUMNS " WHERE domain_name = ?1 AND" HISTORY_TAIL;
/* An argument shaped like a UUID is most likely one, but could be a name. */
static const char history_by_uuid[] =
        HISTORY_COLUMNS " WHERE (domain_uuid = ?1 OR domain_name = ?1) AND" HISTORY_TAIL;
static const char history_all[] = HISTORY_COLUMNS " WHERE" HISTORY_TAIL;

#define EVENT_COLUMNS                                                                            \
        "SELECT id, time, kind, connection, domain_uuid, domain_name, policy, snapshot, message" \
        " FROM events"
#define EVENT_TAIL                                                                               \
        " time >= ?3 AND time <= ?4 AND (?2 IS NULL OR policy = ?2)"                            \
        " AND (?5 IS NULL OR kind = ?5) ORDER BY time DESC, id DESC LIMIT ?6"

static const char events_by_name[] = EVENT_COLUMNS " WHERE domain_name = ?1 AND" EVENT_TAIL;
static const char events_by_uuid[] =
        EVENT_COLUMNS " WHERE (domain_uuid = ?1 OR domain_name = ?1) AND" EVENT_TAIL;
static const char events_all[] = EVENT_COLUMNS " WHERE" EVENT_TAIL;

/* One row per series: the newest success and the newest attempt found by
 * walking the series index backwards, and the held counts from the partial
 * index of live rows. */
static const char series_sql[] =
        "SELECT se.connection, se.domain_uuid, se.domain_name, se.policy,"
        " ok.created, la.state, la.started, la.error_message, la.hook_error,"
        " coalesce(h.held, 0), coalesce(h.pinned, 0), coalesce(h.undeletable, 0),"
        " CASE WHEN gu.skip_cause = 'guard' THEN gu.error_message END, coalesce(h.deferred, 0)"
        " FROM series se"
        " LEFT JOIN snapshots ok ON ok.id = (SELECT id FROM snapshots"
        "   WHERE connection = se.connection AND domain_uuid = se.domain_uuid AND policy = se.policy"
        "   AND state IN ('present','deleting','deleted','vanished')"
        "   ORDER BY started DESC, id DESC LIMIT 1)"
        " LEFT JOIN snapshots la ON la.id = (SELECT id FROM snapshots"
        "   WHERE connection = se.connection AND domain_uuid = se.domain_uuid AND policy = se.policy"
        "   AND state <> 'skipped' ORDER BY started DESC, id DESC LIMIT 1)"
        /* the newest attempt, routine skips aside: a guard skip counts */
        " LEFT JOIN snapshots gu ON gu.id = (SELECT id FROM snapshots"
        "   WHERE connection = se.connection AND domain_uuid = se.domain_uuid AND policy = se.policy"
        "   AND (state <> 'skipped' OR skip_cause = 'guard') ORDER BY started DESC, id DESC LIMIT 1)"
        " LEFT JOIN (SELECT connection, domain_uuid, policy, count(*) AS held, sum(pinned) AS pinned,"
        "   sum(undeletable) AS undeletable, sum(deferred) AS deferred FROM snapshots"
        "   WHERE " VS__LIVE " AND state <> 'creating' GROUP BY connection, domain_uuid, policy) h"
        "   ON h.connection = se.connection AND h.domain_uuid = se.domain_uuid AND h.policy = se.policy"
        " WHERE (?1 IS NULL OR se.domain_name = ?1 OR se.domain_uuid = ?1)"
        " AND (?2 IS NULL OR se.policy = ?2)"
        " ORDER BY se.domain_name, se.policy, se.connection";

static bool
looks_like_uuid(const char *s)
{
        static const char hex[] = "0123456789abcdefABCDEF";

        if (strlen(s) != 36)
                return false;
        for (int i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                } else if (!strchr(hex, s[i]) || s[i] == '\0') {
                        return false;
                }
        }
        return true;
}

static const char *
pick(const vs_store_filter *f, const char *by_name, const char *by_uuid, const char *all)
{
        if (!f->domain)
                return all;
        return looks_like_uuid(f->domain) ? by_uuid : by_name;
}

static void
bind_filter(sqlite3_stmt *st, const vs_store_filter *f)
{
        vs__bind_text(st, 1, f->domain);
        vs__bind_text(st, 2, f->policy);
        sqlite3_bind_int64(st, 3, f->since);
        sqlite3_bind_int64(st, 4, f->until);
        vs__bind_text(st, 5, f->state);
        sqlite3_bind_int64(st, 6, f->limit > 0 ? f->limit : -1);
}

static bool
opt_int(sqlite3_stmt *st, int i, int64_t *ret)
{
        if (sqlite3_column_type(st, i) == SQLITE_NULL) {
                *ret = 0;
                return false;
        }
        *ret = sqlite3_column_int64(st, i);
        return true;
}

int
vs_store_query_history(vs_store *s, const vs_store_filter *f, vs_store_row_cb cb, void *userdata,
                       vs_err *err)
{
        sqlite3_stmt *st;
        int r, rc;

        r = vs__store_stmt(s, pick(f, history_by_name, history_by_uuid, history_all), &st, err);
        if (r < 0)
                return r;
        bind_filter(st, f);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                vs_store_row row = { 0 };
                int64_t v;

                row.id = sqlite3_column_int64(st, 0);
                row.connection = vs__col_text(st, 1);
                row.domain_uuid = vs__col_text(st, 2);
                row.domain_name = vs__col_text(st, 3);
                row.policy = vs__col_text(st, 4);
                row.snapshot = vs__col_text(st, 5);
                row.type = vs__col_text(st, 6);
                row.quiesce = sqlite3_column_int(st, 7);
                row.consistency = vs__col_text(st, 8);
                row.state = vs_snap_state_from_string(vs__col_text(st, 9));
                row.scheduled = sqlite3_column_int64(st, 10);
                row.started = sqlite3_column_int64(st, 11);
                row.has_finished = opt_int(st, 12, &row.finished);
                row.has_created = opt_int(st, 13, &row.created);
                row.has_deleted = opt_int(st, 14, &row.deleted);
                row.delete_reason = vs__col_text(st, 15);
                row.has_error = opt_int(st, 16, &v);
                row.error_code = (int)v;
                opt_int(st, 17, &v);
                row.error_domain = (int)v;
                row.error_message = vs__col_text(st, 18);
                row.pinned = sqlite3_column_int(st, 19);
                row.pin_reason = vs__col_text(st, 20);
                row.undeletable = sqlite3_column_int(st, 21);
                row.origin = vs_origin_from_string(vs__col_text(st, 22));
                row.hook_error = vs__col_text(st, 23);
                row.expires = sqlite3_column_int64(st, 24);
                row.requested_by = vs__col_text(st, 25);
                row.note = vs__col_text(st, 26);
                row.deferred = sqlite3_column_int(st, 27);
                r = cb(&row, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = vs__store_fail(s, rc, err, "reading the history");
        vs__store_release(st);
        return r;
}

int
vs_store_query_events(vs_store *s, const vs_store_filter *f, vs_store_event_cb cb, void *userdata,
                      vs_err *err)
{
        sqlite3_stmt *st;
        int r, rc;

        r = vs__store_stmt(s, pick(f, events_by_name, events_by_uuid, events_all), &st, err);
        if (r < 0)
                return r;
        bind_filter(st, f);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                vs_store_event_row row = {
                        .id = sqlite3_column_int64(st, 0),
                        .time = sqlite3_column_int64(st, 1),
                        .kind = vs__col_text(st, 2),
                        .connection = vs__col_text(st, 3),
                        .domain_uuid = vs__col_text(st, 4),
                        .domain_name = vs__col_text(st, 5),
                        .policy = vs__col_text(st, 6),
                        .snapshot = vs__col_text(st, 7),
                        .message = vs__col_text(st, 8),
                };

                r = cb(&row, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = vs__store_fail(s, rc, err, "reading the event log");
        vs__store_release(st);
        return r;
}

int
vs_store_query_series(vs_store *s, const vs_store_filter *f, vs_store_series_cb cb, void *userdata,
                      vs_err *err)
{
        sqlite3_stmt *st;
        int r, rc;

        r = vs__store_stmt(s, series_sql, &st, err);
        if (r < 0)
                return r;
        vs__bind_text(st, 1, f ? f->domain : NULL);
        vs__bind_text(st, 2, f ? f->policy : NULL);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                vs_store_series row = {
                        .connection = vs__col_text(st, 0),
                        .domain_uuid = vs__col_text(st, 1),
                        .domain_name = vs__col_text(st, 2),
                        .policy = vs__col_text(st, 3),
                        .held = (unsigned)sqlite3_column_int64(st, 9),
                        .pinned = (unsigned)sqlite3_column_int64(st, 10),
                        .undeletable = (unsigned)sqlite3_column_int64(st, 11),
                        .deferred = (unsigned)sqlite3_column_int64(st, 13),
                };

                row.has_success = opt_int(st, 4, &row.last_success);
                row.has_attempt = sqlite3_column_type(st, 5) != SQLITE_NULL;
                if (row.has_attempt) {
                        row.last_state = vs_snap_state_from_string(vs__col_text(st, 5));
                        row.last_attempt = sqlite3_column_int64(st, 6);
                        if (row.last_state == VS_SNAP_FAILED)
                                row.last_error = vs__col_text(st, 7);
                        row.last_hook_error = vs__col_text(st, 8);
                }
                row.last_guard = vs__col_text(st, 12);
                r = cb(&row, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = vs__store_fail(s, rc, err, "reading the history");
        vs__store_release(st);
        return r;
}

const int64_t VS_STORE_DURATION_BUCKETS[VS_STORE_N_DURATION_BUCKETS] = { 1, 5, 15, 30, 60, 120, 300, 600, 1800 };

/* One pass over the history, grouped by series.  A create's duration is
 * finished - started of the attempts that made a snapshot. */
#define MADE "state IN ('present','deleting','deleted','vanished')"
#define LE(n) " sum(" MADE " AND finished - started <= " #n ")"
static const char totals_sql[] =
        "SELECT connection, domain_uuid, max(domain_name), policy,"
        " sum(" MADE "), sum(state = 'failed'), sum(state = 'skipped'), sum(state = 'deleted'),"
        LE(1) "," LE(5) "," LE(15) "," LE(30) "," LE(60) "," LE(120) "," LE(300) "," LE(600) "," LE(1800) ","
        " sum(" MADE " AND finished IS NOT NULL), coalesce(sum(CASE WHEN " MADE " THEN finished - started END), 0)"
        " FROM snapshots GROUP BY connection, domain_uuid, policy ORDER BY 3, 4, 1";
#undef LE
#undef MADE

int
vs_store_query_totals(vs_store *s, vs_store_totals_cb cb, void *userdata, vs_err *err)
{
        sqlite3_stmt *st;
        int r, rc;

        r = vs__store_stmt(s, totals_sql, &st, err);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                vs_store_totals t = {
                        .connection = vs__col_text(st, 0),
                        .domain_uuid = vs__col_text(st, 1),
                        .domain_name = vs__col_text(st, 2),
                        .policy = vs__col_text(st, 3),
                        .created = (uint64_t)sqlite3_column_int64(st, 4),
                        .failed = (uint64_t)sqlite3_column_int64(st, 5),
                        .skipped = (uint64_t)sqlite3_column_int64(st, 6),
                        .pruned = (uint64_t)sqlite3_column_int64(st, 7),
                        .duration_count = (uint64_t)sqlite3_column_int64(st, 8 + VS_STORE_N_DURATION_BUCKETS),
                        .duration_sum = sqlite3_column_int64(st, 9 + VS_STORE_N_DURATION_BUCKETS),
                };

                for (int b = 0; b < VS_STORE_N_DURATION_BUCKETS; b++)
                        t.duration_le[b] = (uint64_t)sqlite3_column_int64(st, 8 + b);
                r = cb(&t, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = vs__store_fail(s, rc, err, "reading the history");
        vs__store_release(st);
        return r;
}

int64_t
vs_store_changes(vs_store *s)
{
        return sqlite3_total_changes64(s->db);
}

int
vs__store_explain(vs_store *s, const char *which, char **ret, vs_err *err)
{
        static const struct {
                const char *name;
                const char *sql;
        } queries[] = {
                { "history-domain", history_by_name },
                { "history-uuid", history_by_uuid },
                { "history-all", history_all },
                { "events-domain", events_by_name },
                { "events-uuid", events_by_uuid },
                { "events-all", events_all },
                { "series", series_sql },
                { "held", vs__sql_held },
                { "last-success", vs__sql_last_success },
                { "reconcile", vs__sql_reconcile },
        };
        _cleanup_free_ char *plan = NULL;
        _cleanup_free_ char *sql = NULL;
        size_t len = 0;
        const char *q = NULL;
        sqlite3_stmt *st;
        int r, rc;

        for (size_t i = 0; i < VS_ELEMENTSOF(queries); i++)
                if (strcmp(queries[i].name, which) == 0)
                        q = queries[i].sql;
        if (!q)
                return vs_err_set(err, EINVAL, "store", "no query '%s'", which);
        if (asprintf(&sql, "EXPLAIN QUERY PLAN %s", q) < 0) {
                sql = NULL;
                return vs_err_set(err, ENOMEM, "store", "out of memory");
        }
        r = vs__store_prepare(s, sql, &st, err);
        if (r < 0)
                return r;
        plan = strdup("");
        while (plan && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *detail = vs__col_text(st, 3);
                size_t dl = strlen(detail ? detail : "");
                char *n = realloc(plan, len + dl + 2);

                if (!n) {
                        free(plan);
                        plan = NULL;
                        break;
                }
                plan = n;
                memcpy(plan + len, detail ? detail : "", dl);
                len += dl;
                plan[len++] = '\n';
                plan[len] = '\0';
        }
        sqlite3_finalize(st);
        if (!plan)
                return vs_err_set(err, ENOMEM, "store", "out of memory");
        *ret = TAKE_PTR(plan);
        return 0;
}
