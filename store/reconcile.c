/* Reconcile: make one domain's live rows agree with the snapshots the
 * hypervisor actually has, after a crash, a reconnect or a lost database.
 *
 *   row state   in libvirt?   becomes      event
 *   creating    yes (owned)   present      recovered
 *   creating    no            failed       interrupted
 *   deleting    yes           present      restored
 *   deleting    no            deleted      pruned (the reason begin_delete kept)
 *   present     yes           present      -
 *   present     no            vanished     vanished
 *   (no live row)  owned      present      adopted      (in the config's scope)
 *   (no live row)  owned      -            -  (foreign-marked: out of scope)
 *   (no live row)  foreign    -            -  (never recorded)
 *
 * Scope: a marked snapshot is adopted only when the caller says which
 * policy of the loaded config takes it (adopt_as): its owner, when that
 * policy exists for this connection and selects the domain, or the policy
 * whose adopt_from names the owner.  Anything else carries virtsnap's
 * marker but is not this config's business (another host's daemon, an old
 * config, a hand-made copy): it is counted as foreign-marked and left
 * alone, never recorded and so never pruned.
 *
 * A creating row matches only an owned snapshot of the same name: a foreign
 * snapshot that happens to share the name is not the one we were making.
 * After one pass every live row names an existing snapshot and every owned
 * snapshot has a live row, so a second pass with the same list changes
 * nothing (idempotent).  All of it is one transaction (in the daemon, part
 * of the loop iteration's group: one fsync for every domain of a pass). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "store-private.h"

typedef struct live_row {
        int64_t id;
        char *name;     /* may be NULL */
        vs_snap_state state;
} live_row;

static const vs_store_observed *
find_observed(const vs_store_observed *obs, size_t n, const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (obs[i].name && strcmp(obs[i].name, name) == 0)
                        return &obs[i];
        return NULL;
}

static void
live_rows_free(live_row *rows, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(rows[i].name);
        free(rows);
}

const char vs__sql_reconcile[] =
        "SELECT id, snapshot, state FROM snapshots"
        " WHERE connection = ?1 AND domain_uuid = ?2 AND " VS__LIVE " ORDER BY id";

static int
load_live(vs_store *s, const char *connection, const char *domain_uuid, live_row **ret, size_t *ret_n,
          vs_err *err)
{
        live_row *rows = NULL;
        size_t n = 0, cap = 0;
        sqlite3_stmt *st;
        int r, rc;

        r = vs__store_stmt(s, vs__sql_reconcile, &st, err);
        if (r < 0)
                return r;
        vs__bind_text(st, 1, connection);
        vs__bind_text(st, 2, domain_uuid);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *name = vs__col_text(st, 1);

                if (n == cap) {
                        size_t ncap = cap ? 2 * cap : 16;
                        live_row *nr = realloc(rows, ncap * sizeof(*nr));

                        if (!nr) {
                                r = vs_err_set(err, ENOMEM, "store", "out of memory");
                                goto out;
                        }
                        rows = nr;
                        cap = ncap;
                }
                rows[n].id = sqlite3_column_int64(st, 0);
                rows[n].state = vs_snap_state_from_string(vs__col_text(st, 2));
                rows[n].name = name ? strdup(name) : NULL;
                if (name && !rows[n].name) {
                        r = vs_err_set(err, ENOMEM, "store", "out of memory");
                        goto out;
                }
                n++;
        }
        if (rc != SQLITE_DONE)
                r = vs__store_fail(s, rc, err, "reading live snapshots");
out:
        vs__store_release(st);
        if (r < 0) {
                live_rows_free(rows, n);
                return r;
        }
        *ret = rows;
        *ret_n = n;
        return 0;
}

/* One guarded transition of row id (it must still be in state `from`). */
static int
transition(vs_store *s, int64_t id, const char *sql, int64_t now, const vs_store_observed *o,
           vs_err *err)
{
        sqlite3_stmt *st;
        int r;

        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                return r;
        /* Binding a parameter the statement lacks is a harmless SQLITE_RANGE. */
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now);
        if (o)
                sqlite3_bind_int64(st, 3, o->creation_time);
        r = vs__store_step_done(s, st, err, "reconciling");
        vs__store_release(st);
        return r;
}

static int
adopt(vs_store *s, const char *connection, const char *domain_uuid, const char *domain_name,
      const vs_store_observed *o, int64_t now, vs_err *err)
{
        static const char sql[] =
                "INSERT INTO snapshots (connection, domain_uuid, domain_name, policy, snapshot, type,"
                " state, scheduled, started, finished, created, origin)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'present', ?7, ?7, ?7, ?7, 'adopted')";
        sqlite3_stmt *st;
        int r;

        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                return r;
        vs__bind_text(st, 1, connection);
        vs__bind_text(st, 2, domain_uuid);
        vs__bind_text(st, 3, domain_name);
        vs__bind_text(st, 4, o->adopt_as);
        vs__bind_text(st, 5, o->name);
        vs__bind_text(st, 6, o->type);
        sqlite3_bind_int64(st, 7, o->creation_time);
        r = vs__store_step_done(s, st, err, "adopting a snapshot");
        vs__store_release(st);
        if (r < 0)
                return r;
        if (strcmp(o->adopt_as, o->owner_policy) == 0)
                return vs__store_row_event(s, sqlite3_last_insert_rowid(s->db), VS_EVENT_ADOPTED, now,
                                           "owned snapshot found in libvirt without a live row", err);
        {
                _cleanup_free_ char *msg = NULL;

                if (asprintf(&msg, "owned snapshot of policy '%s' found in libvirt without a live row,"
                                   " taken over by adopt_from", o->owner_policy) < 0)
                        return vs_err_set(err, ENOMEM, "store", "out of memory");
                return vs__store_row_event(s, sqlite3_last_insert_rowid(s->db), VS_EVENT_ADOPTED, now, msg,
                                           err);
        }
}

int
vs_store_reconcile(vs_store *s, const char *connection, const char *domain_uuid, const char *domain_name,
                   const vs_store_observed *observed, size_t n, int64_t now,
                   vs_store_reconcile_summary *ret, bool *ret_foreign_marked, vs_err *err)
{
        static const char recovered_sql[] =
                "UPDATE snapshots SET state = 'present', finished = ?2, created = ?3"
                " WHERE id = ?1 AND state = 'creating'";
        static const char interrupted_sql[] =
                "UPDATE snapshots SET state = 'failed', finished = ?2,"
                " error_message = 'interrupted: the snapshot was not created'"
                " WHERE id = ?1 AND state = 'creating'";
        static const char restored_sql[] =
                "UPDATE snapshots SET state = 'present', delete_reason = NULL"
                " WHERE id = ?1 AND state = 'deleting'";
        static const char deleted_sql[] =
                "UPDATE snapshots SET state = 'deleted', deleted = ?2 WHERE id = ?1 AND state = 'deleting'";
        static const char vanished_sql[] =
                "UPDATE snapshots SET state = 'vanished', deleted = ?2 WHERE id = ?1 AND state = 'present'";
        static const char reason_sql[] = "SELECT delete_reason FROM snapshots WHERE id = ?1";
        vs_store_reconcile_summary sum = { 0 };
        live_row *rows = NULL;
        size_t nrows = 0;
        int r;

        if (ret_foreign_marked)
                memset(ret_foreign_marked, 0, n * sizeof(*ret_foreign_marked));
        if (s->read_only)
                return vs_err_set(err, EROFS, s->path, "the history database was opened read-only");
        if (!connection || !domain_uuid || !domain_name || (n > 0 && !observed))
                return vs_err_set(err, EINVAL, "store", "reconcile needs a connection and a domain");
        r = vs__store_begin(s, err);
        if (r < 0)
                return r;
        r = load_live(s, connection, domain_uuid, &rows, &nrows, err);
        if (r < 0)
                goto fail;

        for (size_t i = 0; i < nrows; i++) {
                const vs_store_observed *o = find_observed(observed, n, rows[i].name);
                const char *sql = NULL, *msg = NULL;
                _cleanup_free_ char *reason = NULL;
                vs_event_kind kind;

                switch (rows[i].state) {
                case VS_SNAP_CREATING:
                        if (o && !o->owner_policy)
                                o = NULL;
                        sql = o ? recovered_sql : interrupted_sql;
                        kind = o ? VS_EVENT_RECOVERED : VS_EVENT_INTERRUPTED;
                        msg = o ? "an interrupted create had happened" : "an interrupted create had not happened";
                        if (o)
                                sum.recovered++;
                        else
                                sum.interrupted++;
                        break;
                case VS_SNAP_DELETING:
                        sql = o ? restored_sql : deleted_sql;
                        kind = o ? VS_EVENT_RESTORED : VS_EVENT_PRUNED;
                        msg = o ? "an interrupted delete had not happened" : NULL;
                        if (o)
                                sum.restored++;
                        else
                                sum.deleted++;
                        break;
                case VS_SNAP_PRESENT:
                        if (o)
                                continue;
                        sql = vanished_sql;
                        kind = VS_EVENT_VANISHED;
                        msg = "gone from libvirt: deleted outside virtsnap";
                        sum.vanished++;
                        break;
                default:
                        continue;
                }
                r = transition(s, rows[i].id, sql, now, sql == recovered_sql ? o : NULL, err);
                if (r < 0)
                        goto fail;
                if (kind == VS_EVENT_PRUNED) {
                        sqlite3_stmt *st;

                        r = vs__store_stmt(s, reason_sql, &st, err);
                        if (r < 0)
                                goto fail;
                        sqlite3_bind_int64(st, 1, rows[i].id);
                        if (sqlite3_step(st) == SQLITE_ROW && vs__col_text(st, 0))
                                reason = strdup(vs__col_text(st, 0));
                        vs__store_release(st);
                        msg = reason ? reason : "an interrupted delete had happened";
                }
                r = vs__store_row_event(s, rows[i].id, kind, now, msg, err);
                if (r < 0)
                        goto fail;
                /* What is live now, for the adoption pass below. */
                if (sql == vanished_sql || sql == interrupted_sql || sql == deleted_sql) {
                        free(rows[i].name);
                        rows[i].name = NULL;
                }
        }

        for (size_t j = 0; j < n; j++) {
                bool live = false;

                if (!observed[j].owner_policy) {
                        sum.foreign++;
                        continue;
                }
                if (!observed[j].name)
                        continue;
                for (size_t i = 0; i < nrows && !live; i++)
                        live = rows[i].name && strcmp(rows[i].name, observed[j].name) == 0;
                if (live)
                        continue;
                if (!observed[j].adopt_as) {
                        sum.foreign_marked++;
                        if (ret_foreign_marked)
                                ret_foreign_marked[j] = true;
                        continue;
                }
                r = adopt(s, connection, domain_uuid, domain_name, &observed[j], now, err);
                if (r < 0)
                        goto fail;
                sum.adopted++;
        }
        live_rows_free(rows, nrows);
        rows = NULL;
        r = vs__store_commit(s, err);
        if (r < 0)
                return r;
        if (ret)
                *ret = sum;
        return 0;
fail:
        live_rows_free(rows, nrows);
        vs__store_rollback(s);
        return r;
}

int
vs_store_hand_over(vs_store *s, const char *connection, const char *domain_uuid, const char *from_policy,
                   const char *to_policy, int64_t now, unsigned *ret_moved, vs_err *err)
{
        static const char select_sql[] =
                "SELECT id FROM snapshots WHERE connection = ?1 AND domain_uuid = ?2 AND policy = ?3"
                " AND " VS__LIVE " AND state = 'present' ORDER BY id";
        static const char move_sql[] =
                "UPDATE snapshots SET policy = ?2 WHERE id = ?1 AND state = 'present'";
        _cleanup_free_ char *msg = NULL;
        _cleanup_free_ int64_t *ids = NULL;
        size_t n = 0, cap = 0;
        sqlite3_stmt *st;
        int r, rc;

        if (s->read_only)
                return vs_err_set(err, EROFS, s->path, "the history database was opened read-only");
        if (!connection || !domain_uuid || !from_policy || !to_policy || strcmp(from_policy, to_policy) == 0)
                return vs_err_set(err, EINVAL, "store", "a hand-over needs a connection, a domain and two policies");
        if (asprintf(&msg, "policy '%s' took over this snapshot of policy '%s' (adopt_from)", to_policy,
                     from_policy) < 0) {
                msg = NULL;
                return vs_err_set(err, ENOMEM, "store", "out of memory");
        }
        r = vs__store_begin(s, err);
        if (r < 0)
                return r;
        r = vs__store_stmt(s, select_sql, &st, err);
        if (r < 0)
                goto fail;
        vs__bind_text(st, 1, connection);
        vs__bind_text(st, 2, domain_uuid);
        vs__bind_text(st, 3, from_policy);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == cap) {
                        size_t ncap = cap ? 2 * cap : 8;
                        int64_t *ni = realloc(ids, ncap * sizeof(*ni));

                        if (!ni) {
                                vs__store_release(st);
                                r = vs_err_set(err, ENOMEM, "store", "out of memory");
                                goto fail;
                        }
                        ids = ni;
                        cap = ncap;
                }
                ids[n++] = sqlite3_column_int64(st, 0);
        }
        vs__store_release(st);
        if (rc != SQLITE_DONE) {
                r = vs__store_fail(s, rc, err, "finding the snapshots to hand over");
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                r = vs__store_stmt(s, move_sql, &st, err);
                if (r < 0)
                        goto fail;
                sqlite3_bind_int64(st, 1, ids[i]);
                vs__bind_text(st, 2, to_policy);
                r = vs__store_step_done(s, st, err, "handing a snapshot over");
                vs__store_release(st);
                if (r < 0)
                        goto fail;
                r = vs__store_row_event(s, ids[i], VS_EVENT_HANDED_OVER, now, msg, err);
                if (r < 0)
                        goto fail;
        }
        r = vs__store_commit(s, err);
        if (r < 0)
                return r;
        if (ret_moved)
                *ret_moved = (unsigned)n;
        return 0;
fail:
        vs__store_rollback(s);
        return r;
}
