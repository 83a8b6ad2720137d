/* The history store: one SQLite database that says what virtsnap did, is
 * doing, and owns, so that it never loses track of a snapshot across crashes
 * and users can answer audit questions years later.
 *
 * Two tables matter.  `snapshots` has one row per attempt, and its state is
 * an intent log: the row is committed in `creating` before the hypervisor is
 * asked to create, and in `deleting` before it is asked to delete, so a crash
 * at any point leaves a row saying what was in flight.  `events` is an
 * append-only log of every decision.  Times are UTC Unix seconds.
 *
 *                 begin_create           finish_create
 *      (none) ----------------> creating -------------> present <---------+
 *        |                        |  fail_create          | begin_delete  |
 *        | record_skipped         v                       v               | deferred,
 *        +--------> skipped     failed                 deleting ----------+ undeletable,
 *                                                          | deleted        failed
 *      reconcile: creating -> present | failed             v
 *                 deleting -> deleted | present         deleted
 *                 present  -> vanished;  owned, no row -> present (adopted)
 *
 * Durability: every commit is synchronous = FULL, so a committed intent is
 * on disk before the hypervisor is asked.  The daemon groups its writes
 * (vs_store_set_grouped): a loop iteration's writes share one transaction
 * and one fsync, and the scheduler calls libvirt for an intent only after
 * the flush that commits it.
 *
 * Threads: a vs_store is used by one thread at a time (the daemon's loop
 * thread).  Readers (the CLI's query commands) open read-only and never take
 * a write transaction; the database is in WAL mode, so they never block the
 * daemon's writes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vs-err.h"

/* The schema this build writes; older ones are migrated on a read-write open. */
#define VS_STORE_SCHEMA_VERSION 6

typedef struct vs_store vs_store;

typedef enum vs_store_flags {
        VS_STORE_READ_ONLY = 1 << 0, /* never creates, migrates or writes */
} vs_store_flags;

typedef enum vs_snap_state {
        VS_SNAP_CREATING,
        VS_SNAP_PRESENT,
        VS_SNAP_FAILED,
        VS_SNAP_DELETING,
        VS_SNAP_DELETED,
        VS_SNAP_VANISHED,
        VS_SNAP_SKIPPED,
} vs_snap_state;

typedef enum vs_event_kind {
        VS_EVENT_CREATED,
        VS_EVENT_FAILED,       /* a create failed */
        VS_EVENT_SKIPPED,
        VS_EVENT_PRUNED,       /* message: the retention rule outcome */
        VS_EVENT_DEFERRED,
        VS_EVENT_UNDELETABLE,
        VS_EVENT_DELETE_FAILED,
        VS_EVENT_VANISHED,
        VS_EVENT_ADOPTED,
        VS_EVENT_RECOVERED,    /* reconcile: an interrupted create had happened */
        VS_EVENT_INTERRUPTED,  /* reconcile: an interrupted create had not */
        VS_EVENT_RESTORED,     /* reconcile: an interrupted delete had not happened */
        VS_EVENT_PINNED,
        VS_EVENT_UNPINNED,
        VS_EVENT_RELOADED,
        VS_EVENT_STARTED,      /* daemon lifecycle */
        VS_EVENT_STOPPED,
        VS_EVENT_CANCELLED,
        VS_EVENT_HOOK_FAILED,  /* a pre or post hook failed (message: which, how) */
        VS_EVENT_DISCONNECTED, /* a connection could not be opened or was lost */
        VS_EVENT_RECONNECTED,  /* ... and is back */
        VS_EVENT_HANDED_OVER,  /* adopt_from: a snapshot moved to another policy */
        VS_EVENT_REFUSED,      /* control socket: a peer without the right (message: who) */
        VS_EVENT_NOTIFY_FAILED, /* a notify command failed (message: which event, how) */
        VS_EVENT_GUARDED,      /* a create skipped by its policy's guard (message: the limit) */
        VS_EVENT_REVERTED,     /* `revert`: who, from, to, the safety snapshot */
        VS_EVENT_REVERT_FAILED, /* `revert` asked libvirt and libvirt failed */
        VS_EVENT_NOTICE,       /* anything else worth keeping */
        VS_EVENT_N_KINDS,
} vs_event_kind;

/* What started an attempt. */
typedef enum vs_origin {
        VS_ORIGIN_UNKNOWN,     /* rows written before schema 3 (NULL) */
        VS_ORIGIN_SCHEDULE,    /* a regular firing */
        VS_ORIGIN_CATCH_UP,    /* a missed slot, after downtime or a reconnect */
        VS_ORIGIN_MANUAL,      /* `virtsnap snapshot` */
        VS_ORIGIN_RUN,         /* `virtsnap run --once` */
        VS_ORIGIN_ADOPTED,     /* found in libvirt by reconcile, not made by this history */
} vs_origin;

const char *vs_origin_to_string(vs_origin o);  /* NULL for VS_ORIGIN_UNKNOWN */
vs_origin vs_origin_from_string(const char *s); /* VS_ORIGIN_UNKNOWN if NULL or unknown */

const char *vs_snap_state_to_string(vs_snap_state s);
int vs_snap_state_from_string(const char *s); /* -1 if unknown */
const char *vs_event_kind_to_string(vs_event_kind k);
int vs_event_kind_from_string(const char *s); /* -1 if unknown */
/* How much an event matters to the person reading the log: "err" (something
 * failed: a create, a delete, a hook, a connection), "warning" (something did
 * not happen that was meant to: skipped, deferred, undeletable, vanished,
 * interrupted), else "info". */
const char *vs_event_kind_level(vs_event_kind k);

/* Open (and for read-write, create and migrate) the database at path, or
 * ":memory:".  Read-write: missing directories are created 0700 and a new
 * file 0600 (existing ones are never chmod'ed); WAL, busy timeout, foreign
 * keys.  Errors, with err->msg saying which:
 *   -ENOENT   read-only and there is no database at path
 *   -EINVAL   not an SQLite file, or an SQLite file that is not virtsnap's
 *             (its bytes are left untouched)
 *   -EBADMSG  corrupt
 *   -EPROTO   "database was written by a newer virtsnap (schema N > M)", or
 *             read-only on an older schema that needs a migration
 *   -EACCES, -EROFS, -ENOSPC, -EBUSY, -EIO, -ENOMEM */
int vs_store_open(const char *path, unsigned flags, vs_store **ret, vs_err *err);
void vs_store_free(vs_store *s);
/* The database's schema version (after migration, for read-write opens). */
int vs_store_schema_version(const vs_store *s);

/* ---- group commit (daemon) ----------------------------------------------- */

/* Grouped, the writes below stop committing one by one: the first write
 * after a flush opens a transaction and the following ones join it, each
 * still all-or-nothing on its own (a failed write undoes itself, and its
 * -errno says so, as ungrouped).  Reads see the group's writes; other
 * connections see them once flushed.  Turning grouping off flushes.
 * Read-only stores never group. */
int vs_store_set_grouped(vs_store *s, bool grouped, vs_err *err);
/* Commit the group (one fsync).  0 when nothing was pending.  On failure
 * everything written since the last flush is rolled back, -EIO (SQLite had
 * already ended the transaction after an error) or the commit's -errno; no
 * intent of it may be acted on.  vs_store_free flushes too. */
int vs_store_flush(vs_store *s, vs_err *err);
/* Writes are waiting for a flush. */
bool vs_store_unflushed(const vs_store *s);

/* ---- intent log (daemon) ------------------------------------------------- */

/* What a create attempt is about.  Strings are copied; type and snapshot may
 * be NULL. */
typedef struct vs_store_attempt {
        const char *connection;   /* libvirt URI */
        const char *domain_uuid;
        const char *domain_name;
        const char *policy;
        const char *snapshot;     /* the intended name */
        const char *type;         /* "internal", "disk-only", "external" */
        bool quiesce;             /* quiesce requested */
        vs_origin origin;
        int64_t scheduled;        /* the slot this attempt serves */
        int64_t started;
        int64_t expires;          /* `snapshot --ttl`: pruned at this time, not by
                                   * retention's counts; 0 = no lifetime */
        const char *requested_by; /* who asked ("uid 0 (root)"); may be NULL */
        const char *note;         /* may be NULL */
} vs_store_attempt;

/* Commit a `creating` row (call before the hypervisor is asked; grouped,
 * once the group is flushed); *ret_id is the row to finish. */
int vs_store_begin_create(vs_store *s, const vs_store_attempt *a, int64_t *ret_id, vs_err *err);
/* creating -> present, and a `created` event.  name: the name the backend
 * actually used (NULL = as intended); consistency: "quiesced", "crash",
 * "memory", ...; created: the snapshot's creation time (0 = finished). */
int vs_store_finish_create(vs_store *s, int64_t id, const char *name, const char *consistency,
                           int64_t created, int64_t finished, vs_err *err);
/* creating -> failed with the error (code, domain and message are kept), and
 * a `failed` event. */
int vs_store_fail_create(vs_store *s, int64_t id, const vs_err *why, int64_t finished, vs_err *err);
/* A firing that did not run (previous job still running, ...): a `skipped`
 * row and event.  *ret_id may be NULL. */
int vs_store_record_skipped(vs_store *s, const vs_store_attempt *a, const char *reason,
                            int64_t *ret_id, vs_err *err);

/* Why an attempt was skipped after its intent (vs_store_skip_create). */
typedef enum vs_skip_cause {
        VS_SKIP_CAUSE_BUSY,     /* the domain was busy (block job, backup, migration) all along */
        VS_SKIP_CAUSE_GUARD,    /* the policy's guard: low space or a long chain */
} vs_skip_cause;

/* creating -> skipped: libvirt was not asked to create, for reason (kept as
 * the row's error message, with the cause), and a `skipped` event (busy) or
 * a `guarded` event (guard, an error to the reader). */
int vs_store_skip_create(vs_store *s, int64_t id, vs_skip_cause cause, const char *reason, int64_t finished,
                         vs_err *err);

/* A hook of attempt id failed (the attempt keeps its state: the snapshot of
 * a failed post hook exists), with a `hook-failed` event carrying msg. */
int vs_store_set_hook_failed(vs_store *s, int64_t id, const char *msg, int64_t now, vs_err *err);

/* present -> deleting (call before the hypervisor is asked; grouped, once
 * the group is flushed).  reason: the
 * retention outcome ("keep_last 2 exceeded"), kept as the delete reason so
 * that a delete interrupted by a crash and finished by reconcile still says
 * why.  -ESTALE if the row is not present, -EPERM if it is pinned. */
int vs_store_begin_delete(vs_store *s, int64_t id, const char *reason, vs_err *err);

/* deleting -> present, no event: an intent withdrawn before the hypervisor
 * was asked anything (the job that marked it changed its mind, or its
 * create failed).  begin_delete records no event either, so the trail
 * shows neither; a crash in between is settled by reconcile (`restored`). */
int vs_store_withdraw_delete(vs_store *s, int64_t id, vs_err *err);

typedef enum vs_store_delete_outcome {
        VS_STORE_DELETED,       /* -> deleted, event pruned (reason) */
        VS_STORE_DEFERRED,      /* -> present, event deferred */
        VS_STORE_UNDELETABLE,   /* -> present and flagged, event undeletable */
        VS_STORE_DELETE_FAILED, /* -> present, event delete-failed */
} vs_store_delete_outcome;

/* Finish a delete.  reason: for DELETED, the delete reason if it differs
 * from begin_delete's (NULL keeps that one); the pruned event carries it.
 * why: for the others, the error (may be NULL); the row's delete reason is
 * cleared since the snapshot stays. */
int vs_store_finish_delete(vs_store *s, int64_t id, vs_store_delete_outcome outcome,
                           const char *reason, const vs_err *why, int64_t now, vs_err *err);

typedef struct vs_store_event {
        int64_t time;
        vs_event_kind kind;
        const char *connection;   /* each may be NULL */
        const char *domain_uuid;
        const char *domain_name;
        const char *policy;
        const char *snapshot;
        const char *message;
} vs_store_event;

int vs_store_append_event(vs_store *s, const vs_store_event *ev, vs_err *err);

/* ---- retention and catch-up input (daemon) ------------------------------- */

typedef struct vs_store_held {
        int64_t id;
        char *name;
        int64_t created;
        bool pinned;
        int64_t expires;          /* 0 = none (see vs_store_attempt) */
} vs_store_held;

typedef struct vs_store_held_list {
        vs_store_held *items;
        size_t n;
} vs_store_held_list;

/* The `present` snapshots of (connection, domain, policy), newest first. */
int vs_store_list_present(vs_store *s, const char *connection, const char *domain_uuid,
                          const char *policy, vs_store_held_list *ret, vs_err *err);
void vs_store_held_list_clear(vs_store_held_list *l);

/* The newest successful create of (connection, domain, policy): its slot and
 * creation time.  -ENOENT if there never was one. */
int vs_store_last_success(vs_store *s, const char *connection, const char *domain_uuid,
                          const char *policy, int64_t *ret_scheduled, int64_t *ret_created,
                          vs_err *err);

/* ---- notifications -------------------------------------------------------- */

/* The attempt of (connection, domain, policy) before row before_id, skipped
 * ones aside, failed: *ret (false when there is none). */
int vs_store_previous_failed(vs_store *s, const char *connection, const char *domain_uuid, const char *policy,
                             int64_t before_id, bool *ret, vs_err *err);

/* ---- lifetimes (`snapshot --ttl`) ---------------------------------------- */

/* The earliest `expires` of a present, unpinned snapshot; -ENOENT if none. */
int vs_store_next_expiry(vs_store *s, int64_t *ret, vs_err *err);
typedef int (*vs_store_expired_cb)(const char *connection, const char *domain_uuid, const char *domain_name,
                                   const char *policy, void *userdata);
/* Each (connection, domain, policy) holding a present, unpinned snapshot
 * whose lifetime ended at or before now, earliest first. */
int vs_store_query_expired(vs_store *s, int64_t now, vs_store_expired_cb cb, void *userdata, vs_err *err);

/* ---- connections (daemon) ------------------------------------------------ */

/* A connection was reached: when it was down (or never seen), it is now up
 * since `now`, with a `reconnected` event when it had been down.  A no-op when
 * it was up already, so a refresh at every firing writes nothing.
 * *ret_was_down (may be NULL): it had been down. */
int vs_store_connection_up(vs_store *s, const char *uri, int64_t now, bool *ret_was_down, vs_err *err);
/* An attempt to reach a connection failed: the first failure after it was up
 * (or of a new one) marks it down since `now` with a `disconnected` event;
 * later ones only count.  *ret_failures (may be NULL): failed attempts since
 * it went down, this one included. */
int vs_store_connection_down(vs_store *s, const char *uri, const char *error, int64_t now,
                             unsigned *ret_failures, vs_err *err);

typedef struct vs_store_connection {
        const char *uri;
        bool up;
        int64_t since;            /* went up or down at */
        unsigned failures;        /* failed attempts since it went down (0 when up) */
        const char *last_error;   /* of the newest failed attempt; NULL when up */
        int64_t last_attempt;
} vs_store_connection;

typedef int (*vs_store_connection_cb)(const vs_store_connection *c, void *userdata);
/* Every connection the daemon has tried, by URI. */
int vs_store_query_connections(vs_store *s, vs_store_connection_cb cb, void *userdata, vs_err *err);

/* ---- policy hand-over (adopt_from) ----------------------------------------- */

/* Move the live rows of (connection, domain, from_policy) to to_policy, with a
 * `handed-over` event each: a renamed policy takes over its predecessor's
 * snapshots, which then count against (and age out under) its retention.
 * *ret_moved (may be NULL): rows moved. */
int vs_store_hand_over(vs_store *s, const char *connection, const char *domain_uuid, const char *from_policy,
                       const char *to_policy, int64_t now, unsigned *ret_moved, vs_err *err);

/* ---- pins (CLI) ---------------------------------------------------------- */

/* Pin or unpin every live (creating/present/deleting) row of the snapshot
 * named `snapshot` in a domain given by name or UUID, with a pinned/unpinned
 * event.  *ret_changed (may be NULL): rows whose pin state changed (a second
 * pin only updates the reason, or keeps it when reason is NULL).  -ENOENT:
 * no such live snapshot. */
int vs_store_pin(vs_store *s, const char *domain, const char *snapshot, const char *reason,
                 int64_t now, unsigned *ret_changed, vs_err *err);
int vs_store_unpin(vs_store *s, const char *domain, const char *snapshot, int64_t now,
                   unsigned *ret_changed, vs_err *err);

/* ---- reconcile ------------------------------------------------------------ */

/* One snapshot as the hypervisor lists it (converted from vs_snapshot_info). */
typedef struct vs_store_observed {
        const char *name;
        const char *owner_policy;  /* virtsnap's ownership marker; NULL = foreign */
        /* The policy that takes over a marked snapshot without a live row:
         * owner_policy when the loaded config covers (connection, domain,
         * owner_policy), the adopter when a policy's adopt_from names the
         * owner; NULL when the config does not cover it: it is then
         * foreign-marked (counted, never recorded, never pruned). */
        const char *adopt_as;
        int64_t creation_time;
        const char *type;          /* may be NULL */
} vs_store_observed;

typedef struct vs_store_reconcile_summary {
        unsigned recovered;    /* creating -> present */
        unsigned interrupted;  /* creating -> failed */
        unsigned deleted;      /* deleting -> deleted */
        unsigned restored;     /* deleting -> present */
        unsigned vanished;     /* present -> vanished */
        unsigned adopted;      /* owned, no live row -> present */
        unsigned foreign;      /* seen, not virtsnap's: never recorded */
        unsigned foreign_marked; /* virtsnap's marker, outside the config's scope */
} vs_store_reconcile_summary;

/* Bring the rows of one domain in line with what the hypervisor has, in one
 * transaction, with an event per change.  Idempotent: a second call with the
 * same list changes nothing.  ret may be NULL; ret_foreign_marked (may be
 * NULL): n flags, set for each observed snapshot counted as foreign-marked. */
int vs_store_reconcile(vs_store *s, const char *connection, const char *domain_uuid,
                       const char *domain_name, const vs_store_observed *observed, size_t n,
                       int64_t now, vs_store_reconcile_summary *ret, bool *ret_foreign_marked,
                       vs_err *err);

/* ---- audit queries (CLI) -------------------------------------------------- */

typedef struct vs_store_filter {
        const char *domain;   /* name or UUID; NULL = any */
        const char *policy;   /* NULL = any */
        const char *state;    /* history: a vs_snap_state name; events: a kind */
        int64_t since;        /* inclusive; INT64_MIN = unbounded */
        int64_t until;        /* inclusive; INT64_MAX = unbounded */
        int64_t limit;        /* 0 = no limit */
} vs_store_filter;

/* One attempt as the audit queries return it; optional values carry has_*. */
typedef struct vs_store_row {
        int64_t id;
        const char *connection, *domain_uuid, *domain_name, *policy, *snapshot;
        const char *type;          /* may be NULL */
        bool quiesce;
        const char *consistency;   /* may be NULL */
        vs_snap_state state;
        int64_t scheduled, started;
        bool has_finished, has_created, has_deleted;
        int64_t finished, created, deleted;
        const char *delete_reason; /* may be NULL */
        bool has_error;            /* error_code and error_domain are set */
        int error_code, error_domain;
        const char *error_message; /* may be NULL */
        bool pinned, undeletable;
        bool deferred;             /* present, its pruning put off by libvirt */
        const char *pin_reason;    /* may be NULL */
        vs_origin origin;
        const char *hook_error;    /* a failed hook; NULL if none failed */
        int64_t expires;           /* 0 = no lifetime */
        const char *requested_by, *note; /* may be NULL */
} vs_store_row;

typedef struct vs_store_event_row {
        int64_t id;
        int64_t time;
        const char *kind;
        const char *connection, *domain_uuid, *domain_name, *policy, *snapshot, *message; /* may be NULL */
} vs_store_event_row;

/* One (connection, domain, policy) series. */
typedef struct vs_store_series {
        const char *connection, *domain_uuid, *domain_name, *policy;
        bool has_success;
        int64_t last_success;      /* creation time of the newest successful create */
        bool has_attempt;
        vs_snap_state last_state;  /* of the newest non-skipped attempt */
        int64_t last_attempt;      /* its start */
        const char *last_error;    /* the newest attempt's error if it failed, else NULL */
        const char *last_hook_error; /* the newest attempt's failed hook, else NULL */
        const char *last_guard;    /* the newest attempt was skipped by the guard: why; else NULL */
        unsigned held, pinned, undeletable;
        unsigned deferred;         /* present, their pruning put off by libvirt */
} vs_store_series;

/* Callbacks see rows valid only during the call; returning non-zero stops
 * the query, and the query returns that value. */
typedef int (*vs_store_row_cb)(const vs_store_row *row, void *userdata);
typedef int (*vs_store_event_cb)(const vs_store_event_row *row, void *userdata);
typedef int (*vs_store_series_cb)(const vs_store_series *series, void *userdata);

/* Attempts, newest first (by start time); since/until filter the start time. */
int vs_store_query_history(vs_store *s, const vs_store_filter *f, vs_store_row_cb cb,
                           void *userdata, vs_err *err);
/* Events, newest first; state filters the kind. */
int vs_store_query_events(vs_store *s, const vs_store_filter *f, vs_store_event_cb cb,
                          void *userdata, vs_err *err);
/* Counts per series over the whole history, for metrics: attempts that made
 * a snapshot, failed, were skipped; snapshots pruned; and the durations of
 * the creates (started .. finished) in the buckets of VS_STORE_DURATION_BUCKETS. */
#define VS_STORE_N_DURATION_BUCKETS 9
extern const int64_t VS_STORE_DURATION_BUCKETS[VS_STORE_N_DURATION_BUCKETS]; /* seconds, upper bounds */
typedef struct vs_store_totals {
        const char *connection, *domain_uuid, *domain_name, *policy;
        uint64_t created, failed, skipped, pruned;
        uint64_t duration_le[VS_STORE_N_DURATION_BUCKETS]; /* cumulative, as Prometheus wants */
        uint64_t duration_count;
        int64_t duration_sum;                            /* seconds */
} vs_store_totals;
typedef int (*vs_store_totals_cb)(const vs_store_totals *t, void *userdata);
int vs_store_query_totals(vs_store *s, vs_store_totals_cb cb, void *userdata, vs_err *err);
/* Rows this handle has changed since it was opened (cheap: a counter). */
int64_t vs_store_changes(vs_store *s);

/* Every series, ordered by domain name, policy, connection; f may be NULL
 * (domain and policy apply; the rest is ignored). */
int vs_store_query_series(vs_store *s, const vs_store_filter *f, vs_store_series_cb cb,
                          void *userdata, vs_err *err);
