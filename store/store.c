/* The intent log: the daemon's writes to the history.  Every transition
 * (drawn in store.h) is one UPDATE guarded by the state it expects, in the
 * same transaction as its event, so the attempt and its event commit
 * together or not at all.  A transition from the wrong state is -ESTALE,
 * never a silent overwrite. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "store-private.h"

static const char *const state_names[] = {
        [VS_SNAP_CREATING] = "creating", [VS_SNAP_PRESENT] = "present", [VS_SNAP_FAILED] = "failed",
        [VS_SNAP_DELETING] = "deleting", [VS_SNAP_DELETED] = "deleted", [VS_SNAP_VANISHED] = "vanished",
        [VS_SNAP_SKIPPED] = "skipped",
};

static const char *const event_names[] = {
        [VS_EVENT_CREATED] = "created",
        [VS_EVENT_FAILED] = "failed",
        [VS_EVENT_SKIPPED] = "skipped",
        [VS_EVENT_PRUNED] = "pruned",
        [VS_EVENT_DEFERRED] = "deferred",
        [VS_EVENT_UNDELETABLE] = "undeletable",
        [VS_EVENT_DELETE_FAILED] = "delete-failed",
        [VS_EVENT_VANISHED] = "vanished",
        [VS_EVENT_ADOPTED] = "adopted",
        [VS_EVENT_RECOVERED] = "recovered",
        [VS_EVENT_INTERRUPTED] = "interrupted",
        [VS_EVENT_RESTORED] = "restored",
        [VS_EVENT_PINNED] = "pinned",
        [VS_EVENT_UNPINNED] = "unpinned",
        [VS_EVENT_RELOADED] = "reloaded",
        [VS_EVENT_STARTED] = "started",
        [VS_EVENT_STOPPED] = "stopped",
        [VS_EVENT_CANCELLED] = "cancelled",
        [VS_EVENT_HOOK_FAILED] = "hook-failed",
        [VS_EVENT_DISCONNECTED] = "disconnected",
        [VS_EVENT_RECONNECTED] = "reconnected",
        [VS_EVENT_HANDED_OVER] = "handed-over",
        [VS_EVENT_REFUSED] = "refused",
        [VS_EVENT_NOTIFY_FAILED] = "notify-failed",
        [VS_EVENT_GUARDED] = "guarded",
        [VS_EVENT_REVERTED] = "reverted",
        [VS_EVENT_REVERT_FAILED] = "revert-failed",
        [VS_EVENT_NOTICE] = "notice",
};

_Static_assert(VS_ELEMENTSOF(event_names) == VS_EVENT_N_KINDS, "a name per event kind");

static const char *const origin_names[] = {
        [VS_ORIGIN_SCHEDULE] = "schedule", [VS_ORIGIN_CATCH_UP] = "catch-up",
        [VS_ORIGIN_MANUAL] = "manual",     [VS_ORIGIN_RUN] = "run",
        [VS_ORIGIN_ADOPTED] = "adopted",
};

const char *
vs_origin_to_string(vs_origin o)
{
        return (unsigned)o < VS_ELEMENTSOF(origin_names) ? origin_names[o] : NULL;
}

vs_origin
vs_origin_from_string(const char *s)
{
        for (size_t i = 1; s && i < VS_ELEMENTSOF(origin_names); i++)
                if (strcmp(s, origin_names[i]) == 0)
                        return (vs_origin)i;
        return VS_ORIGIN_UNKNOWN;
}

const char *
vs_event_kind_level(vs_event_kind k)
{
        switch (k) {
        case VS_EVENT_FAILED:
        case VS_EVENT_DELETE_FAILED:
        case VS_EVENT_HOOK_FAILED:
        case VS_EVENT_NOTIFY_FAILED:
        case VS_EVENT_DISCONNECTED:
        case VS_EVENT_GUARDED:
        case VS_EVENT_REVERT_FAILED:
                return "err";
        case VS_EVENT_SKIPPED:
        case VS_EVENT_REFUSED:
        case VS_EVENT_DEFERRED:
        case VS_EVENT_UNDELETABLE:
        case VS_EVENT_VANISHED:
        case VS_EVENT_INTERRUPTED:
        case VS_EVENT_CANCELLED:
                return "warning";
        default:
                return "info";
        }
}

const char *
vs_snap_state_to_string(vs_snap_state s)
{
        return (unsigned)s < VS_ELEMENTSOF(state_names) ? state_names[s] : NULL;
}

int
vs_snap_state_from_string(const char *s)
{
        for (size_t i = 0; s && i < VS_ELEMENTSOF(state_names); i++)
                if (strcmp(s, state_names[i]) == 0)
                        return (int)i;
        return -1;
}

const char *
vs_event_kind_to_string(vs_event_kind k)
{
        return (unsigned)k < VS_ELEMENTSOF(event_names) ? event_names[k] : NULL;
}

int
vs_event_kind_from_string(const char *s)
{
        for (size_t i = 0; s && i < VS_ELEMENTSOF(event_names); i++)
                if (strcmp(s, event_names[i]) == 0)
                        return (int)i;
        return -1;
}

static int
check_writable(vs_store *s, vs_err *err)
{
        if (s->read_only)
                return vs_err_set(err, EROFS, s->path, "the history database was opened read-only");
        return 0;
}

/* Insert an event inside the caller's transaction.  snapshot_id <= 0: none. */
static int
insert_event(vs_store *s, const vs_store_event *ev, int64_t snapshot_id, vs_err *err)
{
        static const char sql[] =
                "INSERT INTO events (time, kind, connection, domain_uuid, domain_name, policy, snapshot,"
                " message, snapshot_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
        const char *kind = vs_event_kind_to_string(ev->kind);
        sqlite3_stmt *st;
        int r;

        if (!kind)
                return vs_err_set(err, EINVAL, "store", "unknown event kind %d", (int)ev->kind);
        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, ev->time);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        vs__bind_text(st, 3, ev->connection);
        vs__bind_text(st, 4, ev->domain_uuid);
        vs__bind_text(st, 5, ev->domain_name);
        vs__bind_text(st, 6, ev->policy);
        vs__bind_text(st, 7, ev->snapshot);
        vs__bind_text(st, 8, ev->message);
        if (snapshot_id > 0)
                sqlite3_bind_int64(st, 9, snapshot_id);
        else
                sqlite3_bind_null(st, 9);
        r = vs__store_step_done(s, st, err, "recording an event");
        vs__store_release(st);
        return r;
}

/* An event about row `id`, its identity copied from the row (after the
 * row's update, so it names the snapshot as it now is). */
static int
insert_row_event(vs_store *s, int64_t id, vs_event_kind kind, int64_t time, const char *message,
                 vs_err *err)
{
        static const char sql[] =
                "INSERT INTO events (time, kind, connection, domain_uuid, domain_name, policy, snapshot,"
                " message, snapshot_id)"
                " SELECT ?1, ?2, connection, domain_uuid, domain_name, policy, snapshot, ?3, id"
                " FROM snapshots WHERE id = ?4";
        sqlite3_stmt *st;
        int r;

        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, time);
        sqlite3_bind_text(st, 2, vs_event_kind_to_string(kind), -1, SQLITE_STATIC);
        vs__bind_text(st, 3, message);
        sqlite3_bind_int64(st, 4, id);
        r = vs__store_step_done(s, st, err, "recording an event");
        vs__store_release(st);
        return r;
}

int
vs__store_event(vs_store *s, const vs_store_event *ev, vs_err *err)
{
        return insert_event(s, ev, 0, err);
}

int
vs__store_row_event(vs_store *s, int64_t id, vs_event_kind kind, int64_t time, const char *message,
                    vs_err *err)
{
        return insert_row_event(s, id, kind, time, message, err);
}

int
vs_store_append_event(vs_store *s, const vs_store_event *ev, vs_err *err)
{
        int r = check_writable(s, err);

        if (r < 0)
                return r;
        /* One statement: its own transaction, or part of the group. */
        r = vs__store_join(s, err);
        if (r < 0)
                return r;
        return insert_event(s, ev, 0, err);
}

/* A write of an attempt: the store is writable and the attempt complete. */
static int
check_attempt(vs_store *s, const vs_store_attempt *a, vs_err *err)
{
        int r = check_writable(s, err);

        if (r < 0)
                return r;
        if (!a->connection || !a->domain_uuid || !a->domain_name || !a->policy)
                return vs_err_set(err, EINVAL, "store",
                                  "an attempt needs a connection, a domain UUID and name, and a policy");
        return 0;
}

static int
insert_attempt(vs_store *s, const vs_store_attempt *a, vs_snap_state state, const char *error,
               int64_t *ret_id, vs_err *err)
{
        static const char sql[] =
                "INSERT INTO snapshots (connection, domain_uuid, domain_name, policy, snapshot, type,"
                " quiesce, state, scheduled, started, finished, error_message, origin, expires, requested_by, note)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";
        sqlite3_stmt *st;
        int r;

        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                return r;
        vs__bind_text(st, 1, a->connection);
        vs__bind_text(st, 2, a->domain_uuid);
        vs__bind_text(st, 3, a->domain_name);
        vs__bind_text(st, 4, a->policy);
        vs__bind_text(st, 5, a->snapshot);
        vs__bind_text(st, 6, a->type);
        sqlite3_bind_int(st, 7, a->quiesce);
        sqlite3_bind_text(st, 8, vs_snap_state_to_string(state), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 9, a->scheduled);
        sqlite3_bind_int64(st, 10, a->started);
        if (state == VS_SNAP_SKIPPED)
                sqlite3_bind_int64(st, 11, a->started);
        else
                sqlite3_bind_null(st, 11);
        vs__bind_text(st, 12, error);
        vs__bind_text(st, 13, vs_origin_to_string(a->origin));
        if (a->expires > 0)
                sqlite3_bind_int64(st, 14, a->expires);
        else
                sqlite3_bind_null(st, 14);
        vs__bind_text(st, 15, a->requested_by);
        vs__bind_text(st, 16, a->note);
        r = vs__store_step_done(s, st, err, "recording an attempt");
        vs__store_release(st);
        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

int
vs_store_begin_create(vs_store *s, const vs_store_attempt *a, int64_t *ret_id, vs_err *err)
{
        int64_t id;
        int r;

        r = check_attempt(s, a, err);
        if (r < 0)
                return r;
        /* A single INSERT: durable when this returns, or when the group
         * that it joins is flushed. */
        r = vs__store_join(s, err);
        if (r < 0)
                return r;
        r = insert_attempt(s, a, VS_SNAP_CREATING, NULL, &id, err);
        if (r < 0)
                return r;
        *ret_id = id;
        return 0;
}

int
vs_store_record_skipped(vs_store *s, const vs_store_attempt *a, const char *reason, int64_t *ret_id,
                        vs_err *err)
{
        int64_t id;
        int r;

        r = check_attempt(s, a, err);
        if (r < 0)
                return r;
        r = vs__store_begin(s, err);
        if (r < 0)
                return r;
        r = insert_attempt(s, a, VS_SNAP_SKIPPED, reason, &id, err);
        if (r < 0)
                goto fail;
        r = insert_row_event(s, id, VS_EVENT_SKIPPED, a->started, reason, err);
        if (r < 0)
                goto fail;
        r = vs__store_commit(s, err);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        return 0;
fail:
        vs__store_rollback(s);
        return r;
}

/* Run an UPDATE ... WHERE id = ? AND state = <expected> that must change
 * exactly one row; -ESTALE (with the row's actual state) if it changed none. */
static int
step_transition(vs_store *s, sqlite3_stmt *st, int64_t id, const char *expected, vs_err *err)
{
        int r;

        r = vs__store_step_done(s, st, err, "updating an attempt");
        if (r < 0)
                return r;
        if (sqlite3_changes(s->db) == 1)
                return 0;
        {
                static const char sql[] = "SELECT state FROM snapshots WHERE id = ?1";
                sqlite3_stmt *q;
                int rc;

                r = vs__store_stmt(s, sql, &q, err);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(q, 1, id);
                rc = sqlite3_step(q);
                if (rc == SQLITE_ROW)
                        r = vs_err_set(err, ESTALE, "store", "attempt %lld is %s, not %s", (long long)id,
                                       vs__col_text(q, 0), expected);
                else if (rc == SQLITE_DONE)
                        r = vs_err_set(err, ESTALE, "store", "no attempt %lld", (long long)id);
                else
                        r = vs__store_fail(s, rc, err, "reading an attempt");
                vs__store_release(q);
                return r;
        }
}

/* Open the transaction of a transition and prepare its UPDATE; nothing is
 * left open on failure. */
static int
begin_transition(vs_store *s, const char *sql, sqlite3_stmt **ret, vs_err *err)
{
        int r;

        r = vs__store_begin(s, err);
        if (r < 0)
                return r;
        r = vs__store_stmt(s, sql, ret, err);
        if (r < 0)
                vs__store_rollback(s);
        return r;
}

/* Run the bound UPDATE st of a change from state `expected`, record event
 * `kind` about the row, and commit; or roll everything back. */
static int
end_transition(vs_store *s, sqlite3_stmt *st, int64_t id, const char *expected, vs_event_kind kind,
               int64_t time, const char *message, vs_err *err)
{
        int r;

        r = step_transition(s, st, id, expected, err);
        vs__store_release(st);
        if (r < 0)
                goto fail;
        r = insert_row_event(s, id, kind, time, message, err);
        if (r < 0)
                goto fail;
        return vs__store_commit(s, err);
fail:
        vs__store_rollback(s);
        return r;
}

int
vs_store_finish_create(vs_store *s, int64_t id, const char *name, const char *consistency,
                       int64_t created, int64_t finished, vs_err *err)
{
        static const char sql[] =
                "UPDATE snapshots SET state = 'present', snapshot = coalesce(?2, snapshot),"
                " consistency = ?3, created = ?4, finished = ?5"
                " WHERE id = ?1 AND state = 'creating'";
        sqlite3_stmt *st;
        int r;

        r = check_writable(s, err);
        if (r < 0)
                return r;
        r = begin_transition(s, sql, &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        vs__bind_text(st, 2, name);
        vs__bind_text(st, 3, consistency);
        sqlite3_bind_int64(st, 4, created ? created : finished);
        sqlite3_bind_int64(st, 5, finished);
        return end_transition(s, st, id, "creating", VS_EVENT_CREATED, finished, consistency, err);
}

int
vs_store_fail_create(vs_store *s, int64_t id, const vs_err *why, int64_t finished, vs_err *err)
{
        static const char sql[] =
                "UPDATE snapshots SET state = 'failed', finished = ?2, error_code = ?3,"
                " error_domain = ?4, error_message = ?5"
                " WHERE id = ?1 AND state = 'creating'";
        const char *msg = why && why->msg[0] ? why->msg : "unknown error";
        sqlite3_stmt *st;
        int r;

        r = check_writable(s, err);
        if (r < 0)
                return r;
        r = begin_transition(s, sql, &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, finished);
        sqlite3_bind_int(st, 3, why ? why->code : 0);
        sqlite3_bind_int(st, 4, why ? why->domain : 0);
        sqlite3_bind_text(st, 5, msg, -1, SQLITE_TRANSIENT);
        return end_transition(s, st, id, "creating", VS_EVENT_FAILED, finished, msg, err);
}

int
vs_store_skip_create(vs_store *s, int64_t id, vs_skip_cause cause, const char *reason, int64_t finished,
                     vs_err *err)
{
        static const char sql[] =
                "UPDATE snapshots SET state = 'skipped', finished = ?2, error_message = ?3, skip_cause = ?4"
                " WHERE id = ?1 AND state = 'creating'";
        const char *msg = reason && *reason ? reason : "skipped";
        sqlite3_stmt *st;
        int r;

        r = check_writable(s, err);
        if (r < 0)
                return r;
        r = begin_transition(s, sql, &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, finished);
        sqlite3_bind_text(st, 3, msg, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, cause == VS_SKIP_CAUSE_GUARD ? "guard" : "busy", -1, SQLITE_STATIC);
        return end_transition(s, st, id, "creating", cause == VS_SKIP_CAUSE_GUARD ? VS_EVENT_GUARDED : VS_EVENT_SKIPPED,
                              finished, msg, err);
}

int
vs_store_set_hook_failed(vs_store *s, int64_t id, const char *msg, int64_t now, vs_err *err)
{
        static const char sql[] = "UPDATE snapshots SET hook_error = ?2 WHERE id = ?1";
        sqlite3_stmt *st;
        int r;

        if (!msg || !*msg)
                msg = "hook failed";
        r = check_writable(s, err);
        if (r < 0)
                return r;
        r = vs__store_begin(s, err);
        if (r < 0)
                return r;
        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                goto fail;
        sqlite3_bind_int64(st, 1, id);
        vs__bind_text(st, 2, msg);
        r = vs__store_step_done(s, st, err, "recording a failed hook");
        vs__store_release(st);
        if (r < 0)
                goto fail;
        if (sqlite3_changes(s->db) != 1) {
                r = vs_err_set(err, ESTALE, "store", "no attempt %lld", (long long)id);
                goto fail;
        }
        r = insert_row_event(s, id, VS_EVENT_HOOK_FAILED, now, msg, err);
        if (r < 0)
                goto fail;
        return vs__store_commit(s, err);
fail:
        vs__store_rollback(s);
        return r;
}

int
vs_store_begin_delete(vs_store *s, int64_t id, const char *reason, vs_err *err)
{
        static const char sql[] =
                "UPDATE snapshots SET state = 'deleting', delete_reason = ?2"
                " WHERE id = ?1 AND state = 'present' AND pinned = 0";
        static const char pinned_sql[] = "SELECT pinned FROM snapshots WHERE id = ?1 AND state = 'present'";
        sqlite3_stmt *st;
        int r, rc;

        r = check_writable(s, err);
        if (r < 0)
                return r;
        r = vs__store_join(s, err);
        if (r < 0)
                return r;
        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        vs__bind_text(st, 2, reason);
        r = vs__store_step_done(s, st, err, "updating an attempt");
        vs__store_release(st);
        if (r < 0 || sqlite3_changes(s->db) == 1)
                return r;
        /* Why not: pinned (a user's decision, -EPERM) or not present. */
        r = vs__store_stmt(s, pinned_sql, &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_int(st, 0))
                r = vs_err_set(err, EPERM, "store", "snapshot %lld is pinned", (long long)id);
        else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
                r = vs_err_set(err, ESTALE, "store", "attempt %lld is not present", (long long)id);
        else
                r = vs__store_fail(s, rc, err, "reading an attempt");
        vs__store_release(st);
        return r;
}

int
vs_store_withdraw_delete(vs_store *s, int64_t id, vs_err *err)
{
        static const char sql[] = "UPDATE snapshots SET state = 'present', delete_reason = NULL"
                                  " WHERE id = ?1 AND state = 'deleting'";
        sqlite3_stmt *st;
        int r;

        r = check_writable(s, err);
        if (r < 0)
                return r;
        r = begin_transition(s, sql, &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        r = step_transition(s, st, id, "deleting", err);
        vs__store_release(st);
        if (r < 0) {
                vs__store_rollback(s);
                return r;
        }
        return vs__store_commit(s, err);
}

int
vs_store_finish_delete(vs_store *s, int64_t id, vs_store_delete_outcome outcome, const char *reason,
                       const vs_err *why, int64_t now, vs_err *err)
{
        static const char deleted_sql[] =
                "UPDATE snapshots SET state = 'deleted', deleted = ?2,"
                " delete_reason = coalesce(?3, delete_reason), undeletable = 0, deferred = 0"
                " WHERE id = ?1 AND state = 'deleting'";
        static const char kept_sql[] =
                "UPDATE snapshots SET state = 'present', undeletable = ?2, deferred = ?3, delete_reason = NULL"
                " WHERE id = ?1 AND state = 'deleting'";
        static const char reason_sql[] = "SELECT delete_reason FROM snapshots WHERE id = ?1";
        _cleanup_free_ char *stored_reason = NULL;
        const char *msg = why && why->msg[0] ? why->msg : reason;
        vs_event_kind kind;
        sqlite3_stmt *st;
        int r;

        r = check_writable(s, err);
        if (r < 0)
                return r;
        switch (outcome) {
        case VS_STORE_DELETED:
                kind = VS_EVENT_PRUNED;
                msg = reason;
                break;
        case VS_STORE_DEFERRED:
                kind = VS_EVENT_DEFERRED;
                break;
        case VS_STORE_UNDELETABLE:
                kind = VS_EVENT_UNDELETABLE;
                break;
        case VS_STORE_DELETE_FAILED:
                kind = VS_EVENT_DELETE_FAILED;
                break;
        default:
                return vs_err_set(err, EINVAL, "store", "unknown delete outcome %d", (int)outcome);
        }
        r = begin_transition(s, outcome == VS_STORE_DELETED ? deleted_sql : kept_sql, &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        if (outcome == VS_STORE_DELETED) {
                sqlite3_bind_int64(st, 2, now);
                vs__bind_text(st, 3, reason);
        } else {
                sqlite3_bind_int(st, 2, outcome == VS_STORE_UNDELETABLE);
                sqlite3_bind_int(st, 3, outcome == VS_STORE_DEFERRED);
        }
        r = step_transition(s, st, id, "deleting", err);
        vs__store_release(st);
        if (r < 0)
                goto fail;
        if (outcome == VS_STORE_DELETED && !reason) {
                r = vs__store_stmt(s, reason_sql, &st, err);
                if (r < 0)
                        goto fail;
                sqlite3_bind_int64(st, 1, id);
                if (sqlite3_step(st) == SQLITE_ROW && vs__col_text(st, 0))
                        stored_reason = strdup(vs__col_text(st, 0));
                vs__store_release(st);
                msg = stored_reason;
        }
        r = insert_row_event(s, id, kind, now, msg, err);
        if (r < 0)
                goto fail;
        return vs__store_commit(s, err);
fail:
        vs__store_rollback(s);
        return r;
}

void
vs_store_held_list_clear(vs_store_held_list *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                free(l->items[i].name);
        free(l->items);
        l->items = NULL;
        l->n = 0;
}

const char vs__sql_held[] =
        "SELECT id, snapshot, created, pinned, expires FROM snapshots"
        " WHERE connection = ?1 AND domain_uuid = ?2 AND policy = ?3"
        " AND " VS__LIVE " AND state = 'present'"
        " ORDER BY created DESC, id DESC";

int
vs_store_list_present(vs_store *s, const char *connection, const char *domain_uuid, const char *policy,
                      vs_store_held_list *ret, vs_err *err)
{
        vs_store_held_list l = { 0 };
        size_t cap = 0;
        sqlite3_stmt *st;
        int r, rc;

        r = vs__store_stmt(s, vs__sql_held, &st, err);
        if (r < 0)
                return r;
        vs__bind_text(st, 1, connection);
        vs__bind_text(st, 2, domain_uuid);
        vs__bind_text(st, 3, policy);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                vs_store_held *h;

                if (l.n == cap) {
                        size_t ncap = cap ? 2 * cap : 16;
                        vs_store_held *n = realloc(l.items, ncap * sizeof(*n));

                        if (!n) {
                                r = vs_err_set(err, ENOMEM, "store", "out of memory");
                                goto out;
                        }
                        l.items = n;
                        cap = ncap;
                }
                h = &l.items[l.n];
                h->id = sqlite3_column_int64(st, 0);
                h->name = strdup(vs__col_text(st, 1) ? vs__col_text(st, 1) : "");
                if (!h->name) {
                        r = vs_err_set(err, ENOMEM, "store", "out of memory");
                        goto out;
                }
                h->created = sqlite3_column_int64(st, 2);
                h->pinned = sqlite3_column_int(st, 3);
                h->expires = sqlite3_column_int64(st, 4);
                l.n++;
        }
        if (rc != SQLITE_DONE)
                r = vs__store_fail(s, rc, err, "listing snapshots");
out:
        vs__store_release(st);
        if (r < 0) {
                vs_store_held_list_clear(&l);
                return r;
        }
        *ret = l;
        return 0;
}

const char vs__sql_last_success[] =
        "SELECT scheduled, created FROM snapshots"
        " WHERE connection = ?1 AND domain_uuid = ?2 AND policy = ?3"
        " AND state IN ('present','deleting','deleted','vanished')"
        " ORDER BY started DESC, id DESC LIMIT 1";

int
vs_store_last_success(vs_store *s, const char *connection, const char *domain_uuid, const char *policy,
                      int64_t *ret_scheduled, int64_t *ret_created, vs_err *err)
{
        sqlite3_stmt *st;
        int r, rc;

        r = vs__store_stmt(s, vs__sql_last_success, &st, err);
        if (r < 0)
                return r;
        vs__bind_text(st, 1, connection);
        vs__bind_text(st, 2, domain_uuid);
        vs__bind_text(st, 3, policy);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                if (ret_scheduled)
                        *ret_scheduled = sqlite3_column_int64(st, 0);
                if (ret_created)
                        *ret_created = sqlite3_column_int64(st, 1);
                r = 0;
        } else if (rc == SQLITE_DONE) {
                r = vs_err_set(err, ENOENT, "store", "no successful snapshot yet");
        } else {
                r = vs__store_fail(s, rc, err, "reading the history");
        }
        vs__store_release(st);
        return r;
}

int
vs_store_previous_failed(vs_store *s, const char *connection, const char *domain_uuid, const char *policy,
                         int64_t before_id, bool *ret, vs_err *err)
{
        static const char sql[] =
                "SELECT state FROM snapshots WHERE connection = ?1 AND domain_uuid = ?2 AND policy = ?3"
                " AND id < ?4 AND state <> 'skipped' ORDER BY id DESC LIMIT 1";
        sqlite3_stmt *st;
        int r, rc;

        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                return r;
        vs__bind_text(st, 1, connection);
        vs__bind_text(st, 2, domain_uuid);
        vs__bind_text(st, 3, policy);
        sqlite3_bind_int64(st, 4, before_id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
                *ret = rc == SQLITE_ROW && vs__col_text(st, 0) && strcmp(vs__col_text(st, 0), "failed") == 0;
                r = 0;
        } else {
                r = vs__store_fail(s, rc, err, "reading the history");
        }
        vs__store_release(st);
        return r;
}

/* ---- lifetimes (`snapshot --ttl`) --------------------------------------------- */

/* Pinned beats a lifetime: a pinned snapshot is never pruned, expired or not. */
#define EXPIRING "state = 'present' AND pinned = 0 AND expires IS NOT NULL"

int
vs_store_next_expiry(vs_store *s, int64_t *ret, vs_err *err)
{
        static const char sql[] = "SELECT min(expires) FROM snapshots WHERE " EXPIRING;
        sqlite3_stmt *st;
        int r, rc;

        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
                *ret = sqlite3_column_int64(st, 0);
                r = 0;
        } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
                r = -ENOENT;
        } else {
                r = vs__store_fail(s, rc, err, "reading lifetimes");
        }
        vs__store_release(st);
        return r;
}

int
vs_store_query_expired(vs_store *s, int64_t now, vs_store_expired_cb cb, void *userdata, vs_err *err)
{
        static const char sql[] =
                "SELECT connection, domain_uuid, max(domain_name), policy FROM snapshots"
                " WHERE " EXPIRING " AND expires <= ?1"
                " GROUP BY connection, domain_uuid, policy ORDER BY min(expires)";
        sqlite3_stmt *st;
        int r, rc;

        r = vs__store_stmt(s, sql, &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, now);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = cb(vs__col_text(st, 0), vs__col_text(st, 1), vs__col_text(st, 2), vs__col_text(st, 3), userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = vs__store_fail(s, rc, err, "reading lifetimes");
        vs__store_release(st);
        return r;
}

static int
set_pin(vs_store *s, const char *domain, const char *snapshot, bool pin, const char *reason,
        int64_t now, unsigned *ret_changed, vs_err *err)
{
        static const char select_sql[] =
                "SELECT id, pinned FROM snapshots"
                " WHERE (domain_name = ?1 OR domain_uuid = ?1) AND snapshot = ?2 AND " VS__LIVE
                " ORDER BY id";
        static const char pin_sql[] = "UPDATE snapshots SET pinned = 1, pin_reason = coalesce(?2, pin_reason) WHERE id = ?1";
        static const char unpin_sql[] = "UPDATE snapshots SET pinned = 0, pin_reason = NULL WHERE id = ?1";
        _cleanup_free_ int64_t *ids = NULL;
        _cleanup_free_ bool *was = NULL;
        size_t n = 0, cap = 0;
        unsigned changed = 0;
        sqlite3_stmt *st = NULL;
        int r, rc;

        r = check_writable(s, err);
        if (r < 0)
                return r;
        if (!domain || !snapshot)
                return vs_err_set(err, EINVAL, "store", "a domain and a snapshot name are needed");
        r = vs__store_begin(s, err);
        if (r < 0)
                return r;
        r = vs__store_stmt(s, select_sql, &st, err);
        if (r < 0)
                goto fail;
        vs__bind_text(st, 1, domain);
        vs__bind_text(st, 2, snapshot);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == cap) {
                        size_t ncap = cap ? 2 * cap : 4;
                        int64_t *ni = realloc(ids, ncap * sizeof(*ni));
                        bool *nw;

                        if (!ni) {
                                r = vs_err_set(err, ENOMEM, "store", "out of memory");
                                goto fail;
                        }
                        ids = ni;
                        nw = realloc(was, ncap * sizeof(*nw));
                        if (!nw) {
                                r = vs_err_set(err, ENOMEM, "store", "out of memory");
                                goto fail;
                        }
                        was = nw;
                        cap = ncap;
                }
                ids[n] = sqlite3_column_int64(st, 0);
                was[n] = sqlite3_column_int(st, 1);
                n++;
        }
        if (rc != SQLITE_DONE) {
                r = vs__store_fail(s, rc, err, "finding the snapshot");
                goto fail;
        }
        vs__store_release(st);
        st = NULL;
        if (n == 0) {
                r = vs_err_set(err, ENOENT, "store", "no snapshot '%s' of domain '%s' in the history",
                               snapshot, domain);
                goto fail;
        }
        /* Unpinning an unpinned snapshot changes nothing; pinning a pinned
         * one updates its reason, and that is worth an event. */
        for (size_t i = 0; i < n; i++) {
                if (!pin && !was[i])
                        continue;
                r = vs__store_stmt(s, pin ? pin_sql : unpin_sql, &st, err);
                if (r < 0)
                        goto fail;
                sqlite3_bind_int64(st, 1, ids[i]);
                if (pin)
                        vs__bind_text(st, 2, reason);
                r = vs__store_step_done(s, st, err, "updating the pin");
                vs__store_release(st);
                st = NULL;
                if (r < 0)
                        goto fail;
                if (pin != was[i])
                        changed++;
                r = insert_row_event(s, ids[i], pin ? VS_EVENT_PINNED : VS_EVENT_UNPINNED, now,
                                     pin ? reason : NULL, err);
                if (r < 0)
                        goto fail;
        }
        r = vs__store_commit(s, err);
        if (r < 0)
                return r;
        if (ret_changed)
                *ret_changed = changed;
        return 0;
fail:
        vs__store_release(st);
        vs__store_rollback(s);
        return r;
}

int
vs_store_pin(vs_store *s, const char *domain, const char *snapshot, const char *reason, int64_t now,
             unsigned *ret_changed, vs_err *err)
{
        return set_pin(s, domain, snapshot, true, reason, now, ret_changed, err);
}

int
vs_store_unpin(vs_store *s, const char *domain, const char *snapshot, int64_t now, unsigned *ret_changed,
               vs_err *err)
{
        return set_pin(s, domain, snapshot, false, NULL, now, ret_changed, err);
}
