/* Each connection's reachability, as the daemon last saw it: up since when,
 * or down since when, after how many failed attempts and with which error.
 * The row changes only at an edge (up -> down, down -> up) and, while down,
 * at each failed attempt, so a healthy daemon's refreshes write nothing.
 * Each edge is an event (`disconnected`, `reconnected`) in the same
 * transaction as the row. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store-private.h"

typedef struct conn_row {
        bool found, up;
        unsigned failures;
} conn_row;

static int
load(vs_store *s, const char *uri, conn_row *ret, vs_err *err)
{
        static const char sql[] = "SELECT up, failures FROM connections WHERE uri = ?1";
        sqlite3_stmt *st;
        int r = 0, rc;

        *ret = (conn_row){ 0 };
        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                return r;
        vs__bind_text(st, 1, uri);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                ret->found = true;
                ret->up = sqlite3_column_int(st, 0);
                ret->failures = (unsigned)sqlite3_column_int64(st, 1);
        } else if (rc != SQLITE_DONE) {
                r = vs__store_fail(s, rc, err, "reading a connection");
        }
        vs__store_release(st);
        return r;
}

static int
upsert(vs_store *s, const char *uri, bool up, bool edge, unsigned failures, const char *error, int64_t now,
       vs_err *err)
{
        static const char sql[] =
                "INSERT INTO connections (uri, up, since, failures, last_error, last_attempt)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?3)"
                " ON CONFLICT (uri) DO UPDATE SET up = ?2,"
                " since = CASE WHEN ?6 THEN ?3 ELSE since END,"
                " failures = ?4, last_error = ?5, last_attempt = ?3";
        sqlite3_stmt *st;
        int r;

        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                return r;
        vs__bind_text(st, 1, uri);
        sqlite3_bind_int(st, 2, up);
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_int64(st, 4, failures);
        vs__bind_text(st, 5, error);
        sqlite3_bind_int(st, 6, edge);
        r = vs__store_step_done(s, st, err, "recording a connection");
        vs__store_release(st);
        return r;
}

static int
check(vs_store *s, const char *uri, vs_err *err)
{
        if (s->read_only)
                return vs_err_set(err, EROFS, s->path, "the history database was opened read-only");
        if (!uri)
                return vs_err_set(err, EINVAL, "store", "a connection needs a URI");
        return 0;
}

int
vs_store_connection_up(vs_store *s, const char *uri, int64_t now, bool *ret_was_down, vs_err *err)
{
        conn_row c;
        int r;

        r = check(s, uri, err);
        if (r < 0)
                return r;
        r = vs__store_begin(s, err);
        if (r < 0)
                return r;
        r = load(s, uri, &c, err);
        if (r < 0 || (c.found && c.up))
                goto done;
        r = upsert(s, uri, true, true, 0, NULL, now, err);
        if (r < 0 || !c.found)
                goto done;
        {
                char msg[64];
                vs_store_event ev = { .time = now, .kind = VS_EVENT_RECONNECTED, .connection = uri, .message = msg };

                snprintf(msg, sizeof(msg), "reachable again after %u failed attempt%s", c.failures,
                         c.failures == 1 ? "" : "s");
                r = vs__store_event(s, &ev, err);
        }
done:
        if (r < 0) {
                vs__store_rollback(s);
                return r;
        }
        r = vs__store_commit(s, err);
        if (r == 0 && ret_was_down)
                *ret_was_down = c.found && !c.up;
        return r;
}

int
vs_store_connection_down(vs_store *s, const char *uri, const char *error, int64_t now, unsigned *ret_failures,
                         vs_err *err)
{
        unsigned failures;
        bool edge;
        conn_row c;
        int r;

        r = check(s, uri, err);
        if (r < 0)
                return r;
        r = vs__store_begin(s, err);
        if (r < 0)
                return r;
        r = load(s, uri, &c, err);
        if (r < 0)
                goto done;
        edge = !c.found || c.up;
        failures = edge ? 1 : c.failures + 1;
        r = upsert(s, uri, false, edge, failures, error ? error : "unreachable", now, err);
        if (r < 0 || !edge)
                goto done;
        {
                vs_store_event ev = { .time = now, .kind = VS_EVENT_DISCONNECTED, .connection = uri,
                                      .message = error ? error : "unreachable" };

                r = vs__store_event(s, &ev, err);
        }
done:
        if (r < 0) {
                vs__store_rollback(s);
                return r;
        }
        r = vs__store_commit(s, err);
        if (r == 0 && ret_failures)
                *ret_failures = failures;
        return r;
}

int
vs_store_query_connections(vs_store *s, vs_store_connection_cb cb, void *userdata, vs_err *err)
{
        static const char sql[] =
                "SELECT uri, up, since, failures, last_error, last_attempt FROM connections ORDER BY uri";
        sqlite3_stmt *st;
        int r, rc;

        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                vs_store_connection c = {
                        .uri = vs__col_text(st, 0),
                        .up = sqlite3_column_int(st, 1),
                        .since = sqlite3_column_int64(st, 2),
                        .failures = (unsigned)sqlite3_column_int64(st, 3),
                        .last_error = vs__col_text(st, 4),
                        .last_attempt = sqlite3_column_int64(st, 5),
                };

                r = cb(&c, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = vs__store_fail(s, rc, err, "reading the connections");
        vs__store_release(st);
        return r;
}
