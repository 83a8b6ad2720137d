/* The one hypervisor interface.
 *
 * Everything virtsnap asks of a hypervisor goes through a vs_virt: a small
 * table of operations (virt-backend.h) with a libvirt implementation
 * (virt-libvirt.c) and an in-memory fake for fault injection in tests
 * (tests/fakes/virt-fake.c).  Only virt/ includes <libvirt/libvirt.h>.
 *
 * Threads: one vs_virt (one libvirt connection) is shared by the loop thread
 * and worker threads.  Blocking calls (create, delete, list_snapshots) are
 * made from worker threads only; errors are per call (vs_err), never a
 * process-wide "last error".  Events are delivered on the libuv loop thread.
 *
 * Ownership: every *_info/result struct returned through ret_* belongs to
 * the caller and is released with its matching *_clear or *_free function.
 *
 * Events: main starts libvirt's event loop once (vs_virt_events_start,
 * before the first connection is opened); a vs_virt_watch then delivers
 * domain and connection events on the libuv loop thread.  When the
 * connection dies (close callback, keepalive, or a call failing with a
 * transient connection error), vs_virt_alive turns false; the scheduler calls
 * vs_virt_reconnect from a worker, waiting vs_virt_reconnect_delay_ms between
 * attempts, and re-lists domains afterwards because events may have been
 * missed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "policy.h"
#include "vs-err.h"

typedef struct vs_virt vs_virt;

typedef enum vs_domain_state {
        VS_DOMAIN_RUNNING,
        VS_DOMAIN_PAUSED,
        VS_DOMAIN_SHUTOFF,
        VS_DOMAIN_OTHER,
} vs_domain_state;

typedef struct vs_domain_info {
        char *name;
        char uuid[37];
        vs_domain_state state;
        bool persistent;
        char **tags;            /* from <tags> in urn:virtsnap:1 metadata; NULL if none */
} vs_domain_info;

typedef struct vs_domain_list {
        vs_domain_info *items;
        size_t n;
} vs_domain_list;

/* What a snapshot guarantees about the data in it. */
typedef enum vs_consistency {
        VS_CONSISTENCY_NONE,      /* not created */
        VS_CONSISTENCY_QUIESCED,  /* guest filesystems frozen by the agent */
        VS_CONSISTENCY_CRASH,     /* disks only, as after a power cut */
        VS_CONSISTENCY_MEMORY,    /* a checkpoint including RAM */
        VS_CONSISTENCY_OFFLINE,   /* the domain was shut off: its disks were clean, no freeze needed */
} vs_consistency;

typedef struct vs_snapshot_info {
        char *name;
        char *parent;           /* NULL for a root */
        int64_t creation_time;  /* UTC seconds */
        char *state;            /* libvirt's: running, shutoff, disk-snapshot, ... */
        bool external;          /* any disk external */
        bool has_memory;        /* internal with RAM, or external memory file */
        bool current;
        char *description;      /* without the ownership marker line; NULL if empty */
        char *owner_policy;     /* from virtsnap's ownership marker; NULL = foreign */
        char **disk_files;      /* external overlay files; NULL if none */
        char *memory_file;      /* external memory file, or NULL */
} vs_snapshot_info;

/* A backend's handles on a listed domain and its snapshots (the libvirt
 * backend's virDomainPtr and virDomainSnapshotPtrs, parallel to items), so
 * that a later call on the same tree asks nothing it was already told.
 * Opaque; owned by the tree and released by vs_snapshot_tree_clear. */
typedef struct vs_tree_hold vs_tree_hold;

typedef struct vs_snapshot_tree {
        vs_snapshot_info *items;
        size_t n;
        vs_tree_hold *hold;     /* NULL: none (listed by a backend without handles) */
} vs_snapshot_tree;

typedef struct vs_create_request {
        const char *domain;             /* name */
        const char *uuid;               /* the domain's identity: looked up by it; NULL = by name */
        /* What the caller's listing said of the domain's state (state_known):
         * the backend then does not ask again before the create.  If the
         * create fails, it asks, and when the state was not what the caller
         * said it creates once more for the state it found.  The recorded
         * consistency comes from the state libvirt gives the new snapshot,
         * not from the hint. */
        bool state_known;
        vs_domain_state state;
        /* The domain's tree as the caller listed it moments ago with
         * VS_LIST_SNAPSHOTS_HOLD (the run's reconcile), or NULL.  The
         * backend then neither looks the domain up nor lists it again: the
         * names taken and the guard's chain depth come from it, and it is
         * moved into the result's tree (left empty; the caller still clears
         * it).  If the create fails, the backend lists afresh and, when the
         * tree had changed meanwhile, creates once more. */
        vs_snapshot_tree *known;
        const char *policy;             /* owner written into the marker */
        const vs_snapshot_spec *spec;   /* type, quiesce, disks, overlay_dir, timeout, atomic */
        const char *name;               /* expanded template; made unique by the backend */
        const char *description;        /* expanded; the backend appends the marker */
        const vs_guard *guard;          /* pre-flight limits; NULL = none */
} vs_create_request;

typedef struct vs_create_result {
        char *name;                     /* the name actually used */
        vs_consistency consistency;
        bool quiesce_fell_back;         /* preferred quiesce failed, retried without */
        vs_err quiesce_err;             /* why it fell back */
        char **disk_files;
        char *memory_file;
        /* The domain's snapshot tree just after the create (the new one in
         * it and current), made from the listing the backend read for the
         * name check plus the new snapshot; have_tree false when the
         * backend could not tell.  A job may plan its own prune from it
         * (vs_virt_delete_snapshots_in_tree) as long as nothing else acted
         * on the domain meanwhile. */
        bool have_tree;
        vs_snapshot_tree tree;
} vs_create_result;

typedef enum vs_delete_outcome {
        VS_DELETE_DELETED,
        VS_DELETE_DEFERRED,     /* not possible now (shut-off chain); retry later */
        VS_DELETE_UNDELETABLE,  /* libvirt cannot delete it (mixed chains) */
        VS_DELETE_FAILED,
        VS_DELETE_REFUSED,      /* not owned by virtsnap: never touched */
        VS_DELETE_MISSING,      /* no such snapshot (already gone): nothing done */
} vs_delete_outcome;

typedef struct vs_delete_result {
        char *name;
        vs_delete_outcome outcome;
        vs_err err;             /* for undeletable/failed/deferred: why */
} vs_delete_result;

typedef struct vs_delete_results {
        vs_delete_result *items;
        size_t n;
} vs_delete_results;

/* Open a connection ("qemu:///system", "qemu+ssh://h/system", "test:///default").
 * Silences libvirt's default error printing and enables keepalive when an
 * event loop runs (vs_virt_events_start). */
int vs_virt_open_libvirt(const char *uri, vs_virt **ret, vs_err *err);
/* The libvirt backend is a module (virtsnap-libvirt.so) that the first
 * vs_virt_open_libvirt or vs_virt_events_start loads, from any thread and
 * once per process; a command that never calls them never loads libvirt.
 * vs_virt_load loads it now, e.g. on the main thread before workers start.
 * 0, or -ENOENT with err saying where it looked or why it did not load
 * (every later call gives the same answer). */
int vs_virt_load(vs_err *err);
void vs_virt_free(vs_virt *v);
const char *vs_virt_uri(const vs_virt *v);

int vs_virt_list_domains(vs_virt *v, vs_domain_list *ret, vs_err *err);
/* flags for vs_virt_list_domains_flags */
enum {
        /* Leave tags NULL: no policy selects by tag, so the per-domain
         * metadata read (one round trip each) is not made. */
        VS_LIST_DOMAINS_NO_TAGS = 1u << 0,
};
int vs_virt_list_domains_flags(vs_virt *v, unsigned flags, vs_domain_list *ret, vs_err *err);
/* Create a snapshot.  The name is checked ([A-Za-z0-9._-]{1,64}, no leading
 * '.') and made unique (-2, -3, ...); overlays go to
 * <overlay_dir or the image's dir>/<image-base>.<name> and the memory file
 * to <overlay_dir or the first image's dir>/<domain>.<name>.mem, never over
 * an existing file (local URIs).  A stopped domain's external snapshot is a
 * disk-only one.  Quiesce applies to disk-only snapshots of running domains,
 * with the agent's response time bounded to min(timeout, 30 s).  On failure
 * err carries libvirt's code/domain and whether it is transient. */
int vs_virt_create_snapshot(vs_virt *v, const vs_create_request *req, vs_create_result *ret,
                            vs_err *err);
/* Before creating, the backend checks what would make a create wrong now
 * and refuses without asking for it (err->skip set, msg a reason for a
 * person):
 *   -EBUSY, VS_SKIP_BUSY: the domain runs a job of its own: a backup, a
 *     migration, a save or dump, another client's snapshot ("domain busy
 *     (backup job)"), or a block job on a disk ("domain busy (block copy
 *     job on vda)").  Checked before the create on a running domain
 *     (virDomainGetJobStats; a disk's <mirror> when the definition is read
 *     anyway), and again when a create fails, per disk
 *     (virDomainGetBlockJobInfo).  Worth waiting for.
 *   -ENOSPC, VS_SKIP_GUARD: over req->guard: the storage holding a disk (or
 *     overlay_dir) has less free than min_free ("low space (3.1% free <
 *     10%)"; its libvirt storage pool when the volume is in one, refreshed
 *     first, else statvfs on local connections; remote disks outside any
 *     pool cannot be measured and pass), or the disk's external chain would
 *     be deeper than max_chain after this create ("chain depth 9 > 8").
 *     Not worth retrying soon. */
int vs_virt_list_snapshots(vs_virt *v, const char *domain, vs_snapshot_tree *ret, vs_err *err);
/* flags for vs_virt_list_snapshots_flags */
enum {
        VS_LIST_SNAPSHOTS_NO_CURRENT = 1u << 0, /* leave every `current` false (one call fewer) */
        /* Keep the backend's handles in ret->hold, so that a create given
         * this tree as its known tree looks nothing up again. */
        VS_LIST_SNAPSHOTS_HOLD = 1u << 1,
};
/* The same by UUID (the domain the caller listed; NULL = by name), with flags. */
int vs_virt_list_snapshots_flags(vs_virt *v, const char *domain, const char *uuid, unsigned flags,
                                 vs_snapshot_tree *ret, vs_err *err);
/* Delete the named snapshots of domain, planning the calls from the tree
 * (virt/delete-plan.h).  0 with one result per distinct name, in request
 * order, whatever each outcome; -errno only when nothing could be tried (no
 * such domain, connection lost while listing).  UNDELETABLE is judged
 * against the tree as it is now: it may change once other snapshots go or
 * the domain stops (e.g. an external snapshot whose internal parent was
 * deleted), so re-plan rather than retry the same call. */
int vs_virt_delete_snapshots(vs_virt *v, const char *domain, char *const *names,
                             vs_delete_results *ret, vs_err *err);
/* The same, planned from `tree` instead of a fresh listing: the caller's
 * tree must be the domain's tree as it is now (e.g. a create result's, with
 * nothing done to the domain since).  Saves listing every snapshot's XML. */
int vs_virt_delete_snapshots_in_tree(vs_virt *v, const char *domain, const vs_snapshot_tree *tree,
                                     char *const *names, vs_delete_results *ret, vs_err *err);

/* Revert a domain to one of its snapshots (virDomainRevertToSnapshot: the
 * domain ends in the state the snapshot recorded: running from memory, or
 * shut off).  The backend lists the tree and refuses first what
 * vs_virt_revert_check refuses (-EOPNOTSUPP, nothing done).  *ret_state:
 * the domain's state afterwards. */
int vs_virt_revert_snapshot(vs_virt *v, const char *domain, const char *snapshot, vs_domain_state *ret_state,
                            vs_err *err);
/* Whether libvirt 9.0 can revert to `target` in tree t: 0, or -1 with why
 * (no such snapshot; an external one; an internal one with an external
 * snapshot below it).  *ret_current (may be NULL): the current snapshot's
 * name, borrowed from t, or NULL.  Pure. */
int vs_virt_revert_check(const vs_snapshot_tree *t, const char *target, const char **ret_current, char *why,
                         size_t len);

void vs_domain_list_clear(vs_domain_list *l);
void vs_snapshot_tree_clear(vs_snapshot_tree *t);
void vs_create_result_clear(vs_create_result *r);
void vs_delete_results_clear(vs_delete_results *r);

/* A policy selector against a domain; "running" means active (running or paused). */
bool vs_domain_matches(const vs_selector *sel, const vs_domain_info *d);

const char *vs_consistency_to_string(vs_consistency c);
const char *vs_delete_outcome_to_string(vs_delete_outcome o);
const char *vs_domain_state_to_string(vs_domain_state s);

/* ---- Connection health ---------------------------------------------------- */

/* False once the connection is known dead (close callback, or a call that
 * failed because the link is gone).  Cheap, any thread. */
bool vs_virt_alive(vs_virt *v);
/* Open a fresh connection to the same URI and move watches over to it.
 * Blocking: call from a worker.  0, or -errno with err (transient when the
 * hypervisor is still unreachable). */
int vs_virt_reconnect(vs_virt *v, vs_err *err);
/* Milliseconds to wait before reconnect attempt number `attempt` (0-based):
 * 1 s doubling to a 60 s ceiling. */
uint64_t vs_virt_reconnect_delay_ms(unsigned attempt);

/* ---- Events ----------------------------------------------------------------- */

/* libvirt's default event loop on its own thread.  Owned by main: start it
 * once, before the first vs_virt_open_libvirt, and stop it after the last
 * vs_virt_free.  Only one may exist per process (libvirt's event
 * implementation is process-wide). */
typedef struct vs_virt_events vs_virt_events;
int vs_virt_events_start(vs_virt_events **ret, vs_err *err);
void vs_virt_events_stop(vs_virt_events *ev);

typedef enum vs_virt_event_type {
        VS_VIRT_EVENT_DEFINED,          /* new or updated persistent definition */
        VS_VIRT_EVENT_UNDEFINED,
        VS_VIRT_EVENT_STARTED,
        VS_VIRT_EVENT_SUSPENDED,
        VS_VIRT_EVENT_RESUMED,
        VS_VIRT_EVENT_STOPPED,
        VS_VIRT_EVENT_AGENT_CONNECTED,
        VS_VIRT_EVENT_AGENT_DISCONNECTED,
        VS_VIRT_EVENT_CONNECTION_CLOSED, /* reason: libvirt's close reason */
        VS_VIRT_EVENT_RESYNC,           /* events were dropped (queue full): re-list */
} vs_virt_event_type;

typedef struct vs_virt_event {
        vs_virt_event_type type;
        const char *domain;     /* NULL for connection events */
        const char *uuid;       /* NULL for connection events */
        int reason;             /* libvirt's event detail or close reason */
} vs_virt_event;

/* Called on the loop thread; ev is valid for the call only. */
typedef void (*vs_virt_event_fn)(const vs_virt_event *ev, void *userdata);

/* Deliver v's events to fn on `loop` (call on the loop thread).  One watch
 * per vs_virt.  The libvirt backend needs vs_virt_events_start first; a
 * backend without events gives -ENOTSUP.  vs_virt_watch_stop (loop thread) stops delivery at
 * once and frees the watch when libuv has closed its handle; stop it before
 * vs_virt_free and before the loop ends. */
typedef struct vs_virt_watch vs_virt_watch;
int vs_virt_watch_start(vs_virt *v, uv_loop_t *loop, vs_virt_event_fn fn, void *userdata,
                        vs_virt_watch **ret, vs_err *err);
void vs_virt_watch_stop(vs_virt_watch *w);

const char *vs_virt_event_type_to_string(vs_virt_event_type t);
