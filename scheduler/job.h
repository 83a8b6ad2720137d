/* One job: a snapshot of one domain under one policy, then its prune (or,
 * for `virtsnap prune`, the prune alone).  Internal to scheduler/; the
 * state machine is drawn at the top of job.c.
 *
 * A job lives on the loop thread.  It borrows the clock, log, store and
 * vs_virt from the scheduler and the policy from a config that must outlive
 * it; it copies every string it is given.  Blocking libvirt calls run in
 * uv_queue_work and only fill the job's result fields; every store write
 * happens on the loop thread, and a libvirt call waits for the commit of
 * its intent (commit.h).  The done callback fires exactly once, after
 * which the scheduler frees the job. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "crash.h"
#include "commit.h"
#include "log.h"
#include "policy.h"
#include "store.h"
#include "virt.h"
#include "vs-err.h"

typedef struct vs_job vs_job;

typedef enum vs_job_kind {
        VS_JOB_SNAPSHOT,    /* pre hook, create, post hook, record, prune */
        VS_JOB_PRUNE,       /* prune only */
} vs_job_kind;

typedef enum vs_job_state {
        VS_JOB_QUEUED,
        VS_JOB_PRE_HOOK,
        VS_JOB_CREATING,
        VS_JOB_RETRY_WAIT,
        VS_JOB_POST_HOOK,
        VS_JOB_PRUNING,
        VS_JOB_DONE,
} vs_job_state;

typedef enum vs_job_outcome {
        VS_JOB_PENDING,
        VS_JOB_SUCCEEDED,
        VS_JOB_FAILED,
        VS_JOB_CANCELLED,   /* never started: the daemon was stopping */
        VS_JOB_SKIPPED,     /* not created, not failed: the domain stayed busy or
                             * the policy's guard said no (vs_job_error says why) */
} vs_job_outcome;

typedef struct vs_job_ctx {
        vs_clock *clock;
        vs_log *log;            /* may be NULL */
        vs_store *store;
        /* Grouped writes: libvirt is called for an intent once this has
         * committed it.  NULL: the store commits each write itself. */
        vs_commit *commit;
        /* Retry backoff for transient errors: first delay, doubled up to max,
         * at most max_attempts creates; 0 = defaults (1 s, 30 s, 5). */
        int64_t retry_initial_ms, retry_max_ms;
        unsigned max_attempts;
        vs_crash *crash;        /* VIRTSNAP_CRASH_AT, may be NULL; borrowed */
} vs_job_ctx;

typedef struct vs_job_params {
        vs_job_kind kind;
        vs_virt *virt;
        const char *conn;           /* URI, as recorded */
        const char *domain;         /* name */
        const char *uuid;
        const vs_policy *policy;
        const vs_tz *tz;
        int64_t scheduled;          /* the slot served (UTC s) */
        vs_origin origin;           /* what started it, as recorded */
        /* Ad-hoc snapshots (`snapshot --ttl/--note`, the control socket):
         * lifetime in seconds from the start (0 = none), who asked, why.
         * Strings are copied; NULL = none. */
        int64_t ttl;
        const char *requested_by, *note;
} vs_job_params;

typedef void (*vs_job_done_fn)(vs_job *job, void *data);

int vs_job_new(const vs_job_ctx *ctx, const vs_job_params *p, vs_job_done_fn done, void *data,
               vs_job **ret);
void vs_job_free(vs_job *j);
/* QUEUED -> first step. */
void vs_job_start(vs_job *j);
/* The domain's state as the caller's listing has it, told before the
 * start: the create then does not ask libvirt again (see
 * vs_create_request.state_known). */
void vs_job_know_state(vs_job *j, vs_domain_state state);
/* The domain's tree as the caller listed it just now (with the backend's
 * handles, VS_LIST_SNAPSHOTS_HOLD), moved into the job (*t is left empty):
 * its first create plans from it (vs_create_request.known). */
void vs_job_know_tree(vs_job *j, vs_snapshot_tree *t);
/* Stop what can be stopped: a queued job is recorded as skipped and done at
 * once; a running hook is killed, a retry wait ends; a libvirt call in a
 * worker is waited for and its result recorded.  The post hook still runs
 * when the pre hook did.  Nothing is pruned after a cancel. */
void vs_job_cancel(vs_job *j);

vs_job_state vs_job_get_state(const vs_job *j);
vs_job_outcome vs_job_get_outcome(const vs_job *j);
vs_job_kind vs_job_get_kind(const vs_job *j);
/* The first error that failed the job (empty when it did not fail). */
const vs_err *vs_job_error(const vs_job *j);
/* The name libvirt used, once created; else NULL. */
const char *vs_job_snapshot(const vs_job *j);
const char *vs_job_domain(const vs_job *j);
const char *vs_job_uuid(const vs_job *j);
const char *vs_job_policy(const vs_job *j);
unsigned vs_job_attempts(const vs_job *j);
/* Snapshots this job's prune deleted. */
unsigned vs_job_pruned(const vs_job *j);
/* A worker or a hook of this job is in flight (the loop will hear from it). */
bool vs_job_in_flight(const vs_job *j);
bool vs_job_hook_running(const vs_job *j);
/* The last libvirt error was transient (the connection may be down). */
bool vs_job_saw_transient(const vs_job *j);
/* Snapshots its prune found libvirt cannot delete (recorded undeletable). */
unsigned vs_job_undeletable(const vs_job *j);
vs_origin vs_job_origin(const vs_job *j);
/* The history row of its create attempt; 0 before it has one. */
int64_t vs_job_row(const vs_job *j);
/* An ad-hoc snapshot's end of life (UTC s), once started; else 0. */
int64_t vs_job_expires(const vs_job *j);

const char *vs_job_state_to_string(vs_job_state s);
const char *vs_job_outcome_to_string(vs_job_outcome o);
