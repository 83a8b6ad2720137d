/* What the store's source files share and nobody else sees: the vs_store
 * struct, SQLite result codes turned into -errno plus a vs_err, and small
 * statement helpers.  Only store/ includes this (and <sqlite3.h>); unit tests
 * use the vs__ test hooks at the bottom. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"
#include "vs-err.h"

/* A compiled statement of the cache, keyed by the address of its SQL. */
typedef struct vs__stmt_slot {
        const char *sql;
        sqlite3_stmt *st;
} vs__stmt_slot;

struct vs_store {
        sqlite3 *db;
        char *path;
        bool read_only;
        int version;
        /* Statements compiled once and reused (vs__store_stmt); finalized
         * by vs_store_free.  A few dozen at most: a linear search is enough. */
        vs__stmt_slot *stmts;
        size_t n_stmts, cap_stmts;
        /* Group commit (vs_store_set_grouped): one transaction stays open
         * from the first write after a flush; each write inside it is a
         * savepoint. */
        bool grouped;
        bool group_open;        /* that transaction is open */
        bool group_lost;        /* SQLite ended it after an error */
        bool savepoint;         /* a write's savepoint is open */
};

/* The live states: a snapshot that exists, or may, in the hypervisor.  This
 * exact text is the WHERE of the partial index snapshots_live, and queries
 * must repeat it verbatim for the planner to pick that index. */
#define VS__LIVE "state IN ('creating','present','deleting')"

/* Map an SQLite result code to -errno and fill err ("sqlite", "what: message").
 * rc must be an error code. */
int vs__store_fail(vs_store *s, int rc, vs_err *err, const char *what);

/* Prepare SQL built at run time (finalize it); on failure fill err and
 * return -errno. */
int vs__store_prepare(vs_store *s, const char *sql, sqlite3_stmt **ret, vs_err *err);
/* The cached statement for constant SQL: compiled on first use, then reused,
 * because compiling was a large share of the daemon's CPU.  sql must have
 * static storage duration: its address is the cache key.  Every use must end
 * with vs__store_release, on error paths too, so that no statement is left
 * mid-step holding a read transaction (a pinned WAL snapshot blocks
 * checkpoints).  Not reentrant: using a statement that is still stepping is
 * -EBUSY. */
int vs__store_stmt(vs_store *s, const char *sql, sqlite3_stmt **ret, vs_err *err);
/* Reset and unbind a statement from vs__store_stmt.  NULL-safe. */
void vs__store_release(sqlite3_stmt *st);
/* Bind text or NULL. */
int vs__bind_text(sqlite3_stmt *st, int idx, const char *v);
/* Run a statement that returns no rows (SQLITE_DONE expected). */
int vs__store_step_done(vs_store *s, sqlite3_stmt *st, vs_err *err, const char *what);

/* One write's transaction: BEGIN IMMEDIATE / COMMIT / ROLLBACK, or inside a
 * group a savepoint of the group's transaction (opened by the first write),
 * so that a failed write undoes itself and the group goes on.  rollback
 * never fails (it is the cleanup path) and is a no-op outside a
 * transaction. */
int vs__store_begin(vs_store *s, vs_err *err);
int vs__store_commit(vs_store *s, vs_err *err);
void vs__store_rollback(vs_store *s);
/* Before a write that is one statement (its own transaction outside a
 * group): open the group's transaction if it is not.  A no-op ungrouped. */
int vs__store_join(vs_store *s, vs_err *err);
/* Roll back everything not yet committed, group included. */
void vs__store_rollback_all(vs_store *s);

/* Column helpers: text may be NULL. */
static inline const char *
vs__col_text(sqlite3_stmt *st, int i)
{
        return (const char *)sqlite3_column_text(st, i);
}

/* An event inside the caller's transaction. */
int vs__store_event(vs_store *s, const vs_store_event *ev, vs_err *err);
/* An event about snapshot row id, naming it as the row now does. */
int vs__store_row_event(vs_store *s, int64_t id, vs_event_kind kind, int64_t time, const char *message,
                        vs_err *err);

/* SQL shared between the API and vs__store_explain. */
extern const char vs__sql_held[];
extern const char vs__sql_last_success[];
extern const char vs__sql_reconcile[];

/* ---- test hooks (tests/unit/test-store.c) -------------------------------- */

/* Create a fresh database at path migrated only up to `version` (< current),
 * to test migrations from older schemas. */
int vs__store_create_at_version(const char *path, int version, vs_err *err);
/* Cap the database's size in pages, to provoke SQLITE_FULL ("disk full"). */
int vs__store_set_max_pages(vs_store *s, unsigned pages);
/* EXPLAIN QUERY PLAN of one of the store's queries, rows joined by '\n'.
 * which: "history-domain", "history-uuid", "history-all", "history-policy",
 * "events-domain", "events-all", "series", "held", "last-success",
 * "reconcile".  Caller frees *ret. */
int vs__store_explain(vs_store *s, const char *which, char **ret, vs_err *err);
/* Run raw SQL (tests only: corrupting a row on purpose, counting rows). */
int vs__store_exec(vs_store *s, const char *sql, vs_err *err);
/* First column of the first row of sql as an integer. */
int vs__store_query_int(vs_store *s, const char *sql, int64_t *ret, vs_err *err);
