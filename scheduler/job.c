/* The job state machine: one (domain, policy) firing from its intent row to
 * its last record.  Every arrow is taken on the loop thread; the two boxes
 * marked (worker) are uv_queue_work calls that only fill result fields.
 *
 *            start: begin_create (row `creating`, the intent) and, when it
 *            prunes, mark_early_deletes (`deleting`: what retention removes
 *            with the new snapshot counted): one commit makes both durable
 *   QUEUED ─────────────────────────────┐            store error ──► DONE
 *     │ cancel: record_skipped ──► DONE │
 *     │                                 ▼
 *     │               ┌──────────── PRE_HOOK (if any) ──ok──┐
 *     │               │ fail/timeout/cancel                  ▼
 *     │               │                           ┌──► CREATING (worker: create)
 *     │               │                           │       │ ok: finish_create (`present`)
 *     │               │     backoff, time left ── RETRY_WAIT  │ transient error
 *     │               │                           ▲       │ permanent, no time, cancel:
 *     │               ▼                           └───────┤   fail_create (`failed`)
 *     │          fail_create ────────────────────────────►▼
 *     │                                              POST_HOOK (when the pre hook ran or a
 *     │                                                 │        create was attempted)
 *     │     created, in time, prune: true, not cancelled│ otherwise (early marks
 *     │                                                 ▼ withdrawn) ───────────► DONE
 *     └── kind PRUNE ─────────────────────────────► PRUNING: list_present + retention again
 *                                                   (the real creation time): an early
 *                                                   mark confirmed goes to the worker at
 *                                                   once, one not confirmed is withdrawn
 *                                                   (`present`), a new removal gets its
 *                                                   intent and waits for its commit;
 *                                                   worker: delete, finish_delete ──► DONE
 *
 * The job timeout (the policy's snapshot timeout) covers everything from
 * start: it kills a pre hook, ends a retry wait, and when a create is in the
 * worker it starts the post hook at once (so an application is never left
 * frozen) and waits for the worker to record what really happened; nothing
 * is pruned after it.  The create is recorded as soon as the worker reports,
 * before the post hook, so a crash in between loses nothing.
 *
 * The store is grouped (commit.h): an intent becomes durable with the loop
 * iteration's commit, and the step that acts on it (the pre hook and create
 * after begin_create, the delete after begin_delete) waits for that commit;
 * if the commit fails, the intent is gone and the job fails without asking
 * libvirt anything.  A job waits once: its prune's intents are committed
 * with its create's, so the delete follows the create without a second
 * wait unless retention changed its mind.  A crash in between leaves
 * `deleting` rows whose snapshots exist, which reconcile restores to
 * `present` (the chaos e2e's crash points create-intent and delete-intent
 * check that nothing is lost). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cleanup.h"
#include "commit.h"
#include "hooks.h"
#include "job.h"
#include "scheduler.h"
#include "retention.h"
#include "strv.h"
#include "timefmt.h"

struct vs_job {
        vs_job_ctx ctx;
        vs_job_kind kind;
        vs_virt *virt;
        char *conn, *domain, *uuid;
        bool state_known;           /* dom_state: the dispatch's listing's (vs_job_know_state) */
        vs_domain_state dom_state;
        vs_snapshot_tree known;     /* the reconcile's tree, for the first create (vs_job_know_tree) */
        bool have_known;
        const vs_policy *policy;
        const vs_tz *tz;
        int64_t scheduled;
        vs_origin origin;
        int64_t ttl;
        char *requested_by, *note;
        vs_job_done_fn done;
        void *data;

        vs_job_state state;
        vs_job_outcome outcome;
        vs_err err;                 /* first failure */
        char *name, *description;   /* as intended (expanded templates) */
        char *created;              /* the name libvirt used */
        int64_t row;
        bool have_row;
        int64_t started;            /* UTC s */
        vs_clock_timer *timeout_timer, *retry_timer;
        vs_hook *hook;
        bool pre_ran, create_attempted, create_ok, create_recorded;
        bool post_started, post_done;
        bool timed_out, cancelled, transient_seen;
        bool skipped;               /* recorded `skipped` (busy or guard): nothing was created */
        vs_err_skip skip_cause;
        unsigned busy_waits;
        bool worker_busy;
        bool committing;            /* waiting for the commit of an intent */
        unsigned attempts, pruned, undeletable;

        /* Worker I/O: written by the worker, read in the after-work callback. */
        uv_work_t work;
        int w_r;
        vs_err w_err;
        vs_create_result w_create;
        char **w_names;
        vs_delete_results w_delete;
        int64_t *del_ids;           /* row per w_names[i] */
        char **del_reasons;

        /* The prune's intents, marked `deleting` at the start with the
         * create's intent so that one commit holds both (one durable wait
         * a job): what retention removes with the new snapshot counted.
         * start_prune checks them against the real outcome; finish puts
         * back what is left. */
        vs_store_held *pre;
        size_t n_pre;
};

static const char *const state_names[] = {
        [VS_JOB_QUEUED] = "queued",       [VS_JOB_PRE_HOOK] = "pre-hook",
        [VS_JOB_CREATING] = "creating",   [VS_JOB_RETRY_WAIT] = "retry-wait",
        [VS_JOB_POST_HOOK] = "post-hook", [VS_JOB_PRUNING] = "pruning",
        [VS_JOB_DONE] = "done",
};

static const char *const outcome_names[] = {
        [VS_JOB_PENDING] = "pending",
        [VS_JOB_SUCCEEDED] = "succeeded",
        [VS_JOB_FAILED] = "failed",
        [VS_JOB_CANCELLED] = "cancelled",
        [VS_JOB_SKIPPED] = "skipped",
};

const char *
vs_job_state_to_string(vs_job_state s)
{
        return s <= VS_JOB_DONE ? state_names[s] : "?";
}

const char *
vs_job_outcome_to_string(vs_job_outcome o)
{
        return o <= VS_JOB_SKIPPED ? outcome_names[o] : "?";
}

static void advance(vs_job *j);
static bool out_of_time(const vs_job *j);

static int64_t
now_s(const vs_job *j)
{
        return vs_clock_now(j->ctx.clock);
}

/* Remember the first reason the job failed. */
static void
job_fail(vs_job *j, const vs_err *why)
{
        if (j->outcome != VS_JOB_FAILED) {
                j->outcome = VS_JOB_FAILED;
                j->err = *why;
        }
}

static void
job_fail_msg(vs_job *j, const char *where, const char *msg)
{
        vs_err e;

        vs_err_set(&e, EIO, where, "%s", msg);
        job_fail(j, &e);
}

static void
log_store_error(vs_job *j, const char *what, const vs_err *e)
{
        vs_log_err(j->ctx.log, "%s/%s: cannot record %s: %s", j->domain, j->policy->name, what, e->msg);
}

static void
record_event(vs_job *j, vs_event_kind kind, const char *snapshot, const char *msg)
{
        vs_store_event ev = {
                .time = now_s(j), .kind = kind, .connection = j->conn, .domain_uuid = j->uuid,
                .domain_name = j->domain, .policy = j->policy->name, .snapshot = snapshot,
                .message = msg,
        };
        vs_err e = { 0 };

        if (vs_store_append_event(j->ctx.store, &ev, &e) < 0)
                log_store_error(j, "an event", &e);
}

static void withdraw_early_deletes(vs_job *j);

static void
finish(vs_job *j)
{
        withdraw_early_deletes(j);
        j->state = VS_JOB_DONE;
        /* Cancelled at the end of the grace period before a snapshot was
         * made: that is what happened, whatever failed on the way out (the
         * killed hook, the interrupted wait). */
        if (j->cancelled && !j->create_ok && j->kind == VS_JOB_SNAPSHOT)
                j->outcome = VS_JOB_CANCELLED;
        if (j->outcome == VS_JOB_PENDING)
                j->outcome = VS_JOB_SUCCEEDED;
        vs_clock_timer_disarm(j->timeout_timer);
        vs_clock_timer_disarm(j->retry_timer);
        j->done(j, j->data);
}

/* ---- record the create ---------------------------------------------------- */

/* why: the error to keep in the row (the job's first error when NULL). */
static void
record_create_failed(vs_job *j, const vs_err *why)
{
        vs_err e = { 0 };

        if (!why)
                why = &j->err;
        if (!j->have_row || j->create_recorded)
                return;
        j->create_recorded = true;
        if (vs_store_fail_create(j->ctx.store, j->row, why, now_s(j), &e) < 0)
                log_store_error(j, "the failure", &e);
        vs_log_err(j->ctx.log, "%s/%s: snapshot failed: %s%s%s", j->domain, j->policy->name,
                   why->where[0] ? why->where : "", why->where[0] ? ": " : "", why->msg);
}

/* Not created, not failed: the domain stayed busy, or the guard said no.
 * The row becomes `skipped` with why; the job's outcome is SKIPPED unless
 * something else already failed it. */
static void
record_create_skipped(vs_job *j, const vs_err *why)
{
        vs_skip_cause cause = why->skip == VS_SKIP_GUARD ? VS_SKIP_CAUSE_GUARD : VS_SKIP_CAUSE_BUSY;
        vs_err e = { 0 };

        j->skipped = true;
        j->skip_cause = why->skip;
        if (j->outcome == VS_JOB_PENDING) {
                j->outcome = VS_JOB_SKIPPED;
                j->err = *why;
        }
        if (!j->have_row || j->create_recorded)
                return;
        j->create_recorded = true;
        if (vs_store_skip_create(j->ctx.store, j->row, cause, why->msg, now_s(j), &e) < 0)
                log_store_error(j, "the skip", &e);
        if (cause == VS_SKIP_CAUSE_GUARD)
                vs_log_err(j->ctx.log, "%s/%s: skipped by the guard: %s", j->domain, j->policy->name, why->msg);
        else
                vs_log_warning(j->ctx.log, "%s/%s: skipped: %s", j->domain, j->policy->name, why->msg);
}

/* A busy domain is waited for within the job's timeout, not a failure. */
static void
record_busy_out_of_time(vs_job *j)
{
        const char *tail = j->cancelled ? ", then the daemon stopped" : ", for the whole job timeout";
        vs_err why = j->w_err;
        int keep = (int)(sizeof(why.msg) - strlen(tail) - 1);

        snprintf(why.msg, sizeof(why.msg), "%.*s%s", keep, j->w_err.msg, tail);
        record_create_skipped(j, &why);
}

static void
record_create_ok(vs_job *j)
{
        const char *consistency = vs_consistency_to_string(j->w_create.consistency);
        vs_err e = { 0 };
        int64_t t = now_s(j);

        j->create_recorded = true;
        if (vs_store_finish_create(j->ctx.store, j->row, j->created, consistency, t, t, &e) < 0)
                log_store_error(j, "the snapshot", &e);
        if (j->w_create.consistency == VS_CONSISTENCY_OFFLINE && j->policy->snapshot.quiesce != VS_QUIESCE_OFF) {
                char msg[160];

                snprintf(msg, sizeof(msg), "domain was shut off: an offline snapshot (clean disks, no freeze "
                         "needed) satisfies quiesce: %s", vs_quiesce_to_string(j->policy->snapshot.quiesce));
                record_event(j, VS_EVENT_NOTICE, j->created, msg);
                vs_log_info(j->ctx.log, "%s/%s: %s", j->domain, j->policy->name, msg);
        }
        if (j->w_create.quiesce_fell_back) {
                char msg[700];

                snprintf(msg, sizeof(msg), "quiesce failed, snapshot taken without it: %s",
                         j->w_create.quiesce_err.msg);
                record_event(j, VS_EVENT_NOTICE, j->created, msg);
                vs_log_warning(j->ctx.log, "%s/%s: %s", j->domain, j->policy->name, msg);
        }
        vs_log_info(j->ctx.log, "%s/%s: created snapshot %s (%s)%s", j->domain, j->policy->name,
                    j->created, consistency, j->timed_out ? " after the job timed out" : "");
}

/* ---- hooks ---------------------------------------------------------------- */

/* A failed hook is recorded on the attempt (its state stays what the create
 * made it: the snapshot of a failed post hook exists) with a `hook-failed`
 * event, so status and monitor see it; the job itself fails. */
static void
record_hook_failed(vs_job *j, const char *msg)
{
        vs_err e = { 0 };

        vs_log_err(j->ctx.log, "%s/%s: %s", j->domain, j->policy->name, msg);
        if (!j->have_row) {
                record_event(j, VS_EVENT_HOOK_FAILED, j->created ? j->created : j->name, msg);
                return;
        }
        if (vs_store_set_hook_failed(j->ctx.store, j->row, msg, now_s(j), &e) < 0)
                log_store_error(j, "the failed hook", &e);
}

static void
on_hook_done(void *data, const vs_hook_result *res)
{
        vs_job *j = data;
        bool pre = j->state == VS_JOB_PRE_HOOK;
        char why[128], msg[256];

        j->hook = NULL;
        vs_hook_result_describe(res, why, sizeof(why));
        if (pre) {
                j->pre_ran = true;
                if (!vs_hook_result_ok(res) && res->killed) {
                        /* We killed it: the job's deadline or the shutdown,
                         * not a failure of the hook. */
                        job_fail_msg(j, "scheduler",
                                     j->cancelled ? "cancelled: the daemon is stopping" : "job timed out");
                        record_create_failed(j, NULL);
                } else if (!vs_hook_result_ok(res)) {
                        snprintf(msg, sizeof(msg), "pre hook %s failed: %s", j->policy->hooks.pre[0], why);
                        job_fail_msg(j, "hook", msg);
                        record_create_failed(j, NULL);
                        record_hook_failed(j, msg);
                }
        } else {
                j->post_done = true;
                if (!vs_hook_result_ok(res)) {
                        snprintf(msg, sizeof(msg), "post hook %s failed: %s", j->policy->hooks.post[0], why);
                        record_hook_failed(j, msg);
                        job_fail_msg(j, "hook", msg);
                }
        }
        advance(j);
}

static int
run_hook(vs_job *j, char **argv, const char *phase, vs_err *e)
{
        bool post = strcmp(phase, "post") == 0;
        vs_hook_request req = {
                .argv = argv, .domain = j->domain, .policy = j->policy->name,
                .snapshot = j->created ? j->created : j->name, .phase = phase,
                .timeout_ms = j->policy->hooks.timeout * 1000, .tz = j->tz, .time = j->started,
        };
        int r;

        /* The post hook learns how the job went: a snapshot exists
         * (created, even late), or the job failed and why. */
        if (post) {
                req.result = j->create_ok ? "created" : j->skipped ? "skipped" : "failed";
                req.error = j->err.msg[0] ? j->err.msg : NULL;
        } else {
                req.result = "pending";
        }

        r = vs_hook_run(j->ctx.clock, &req, on_hook_done, j, &j->hook, e);
        if (r < 0)
                vs_log_err(j->ctx.log, "%s/%s: %s", j->domain, j->policy->name, e->msg);
        return r < 0 ? r : 0;
}

static void
start_post_hook(vs_job *j)
{
        vs_err e = { 0 };

        j->post_started = true;
        if (!j->policy->hooks.post || !(j->pre_ran || j->create_attempted)) {
                j->post_done = true;
                return;
        }
        if (run_hook(j, j->policy->hooks.post, "post", &e) < 0) {
                char msg[sizeof(e.msg) + 64];

                snprintf(msg, sizeof(msg), "post hook %s failed: %s", j->policy->hooks.post[0], e.msg);
                record_hook_failed(j, msg);
                job_fail(j, &e);
                j->post_done = true;
        }
}

/* ---- create (worker) ------------------------------------------------------ */

static void
work_create(uv_work_t *w)
{
        vs_job *j = w->data;
        /* The dispatch's word on the domain's state serves the first
         * attempt; a retry asks libvirt. */
        vs_create_request req = {
                .domain = j->domain, .uuid = j->uuid, .policy = j->policy->name, .spec = &j->policy->snapshot,
                .name = j->name, .description = j->description, .guard = &j->policy->guard,
                .state_known = j->state_known && j->attempts == 1, .state = j->dom_state,
                .known = j->have_known && j->attempts == 1 ? &j->known : NULL,
        };

        vs_err_clear(&j->w_err);
        vs_create_result_clear(&j->w_create);
        memset(&j->w_create, 0, sizeof(j->w_create));
        j->w_r = vs_virt_create_snapshot(j->virt, &req, &j->w_create, &j->w_err);
}

static void
retry_backoff_bounds(const vs_job *j, int64_t *first, int64_t *max, unsigned *attempts)
{
        *first = j->ctx.retry_initial_ms > 0 ? j->ctx.retry_initial_ms : 1000;
        *max = j->ctx.retry_max_ms > 0 ? j->ctx.retry_max_ms : 30000;
        *attempts = j->ctx.max_attempts > 0 ? j->ctx.max_attempts : 5;
}

static void
after_create(uv_work_t *w, int status)
{
        vs_job *j = w->data;
        int64_t first, max, delay, deadline;
        unsigned max_attempts, tries;

        j->worker_busy = false;
        /* Used by the first attempt or never. */
        vs_snapshot_tree_clear(&j->known);
        j->have_known = false;
        vs_crash_point(j->ctx.crash, "create-returned");
        if (j->w_r == 0) {
                j->create_ok = true;
                free(j->created);
                j->created = strdup(j->w_create.name ? j->w_create.name : j->name);
                record_create_ok(j);
                vs_crash_point(j->ctx.crash, "create-recorded");
                advance(j);
                return;
        }
        if (j->w_err.transient)
                j->transient_seen = true;
        if (j->w_err.skip == VS_SKIP_GUARD) {
                record_create_skipped(j, &j->w_err);
                advance(j);
                return;
        }
        retry_backoff_bounds(j, &first, &max, &max_attempts);
        /* A busy domain has its own backoff; its waits are not failed attempts. */
        tries = j->w_err.skip == VS_SKIP_BUSY ? j->busy_waits + 1 : j->attempts - j->busy_waits;
        delay = first;
        for (unsigned i = 1; i < tries && delay < max; i++)
                delay *= 2;
        if (delay > max)
                delay = max;
        deadline = j->policy->snapshot.timeout > 0 ? (j->started + j->policy->snapshot.timeout) * 1000 : INT64_MAX;
        if (j->w_err.skip == VS_SKIP_BUSY) {
                if (j->cancelled || j->timed_out || vs_clock_now_ms(j->ctx.clock) + delay >= deadline) {
                        record_busy_out_of_time(j);
                        advance(j);
                        return;
                }
                j->busy_waits++;
                vs_log_info(j->ctx.log, "%s/%s: %s, trying again in %llds", j->domain, j->policy->name, j->w_err.msg,
                            (long long)(delay / 1000));
                j->state = VS_JOB_RETRY_WAIT;
                vs_clock_timer_arm(j->retry_timer, vs_clock_now_ms(j->ctx.clock) + delay);
                return;
        }
        if (j->w_err.transient && !j->cancelled && !j->timed_out && j->attempts - j->busy_waits < max_attempts &&
            vs_clock_now_ms(j->ctx.clock) + delay < deadline) {
                vs_log_warning(j->ctx.log, "%s/%s: transient error (attempt %u), retrying in %llds: %s",
                               j->domain, j->policy->name, j->attempts, (long long)(delay / 1000),
                               j->w_err.msg);
                j->state = VS_JOB_RETRY_WAIT;
                vs_clock_timer_arm(j->retry_timer, vs_clock_now_ms(j->ctx.clock) + delay);
                return;
        }
        job_fail(j, &j->w_err);
        record_create_failed(j, &j->w_err);
        advance(j);
}

static void
start_create(vs_job *j)
{
        int r;

        j->state = VS_JOB_CREATING;
        j->attempts++;
        j->create_attempted = true;
        j->worker_busy = true;
        j->work.data = j;
        r = uv_queue_work(vs_clock_loop(j->ctx.clock), &j->work, work_create, after_create);
        if (r < 0) {
                vs_err e;

                j->worker_busy = false;
                vs_err_set(&e, -r, "scheduler", "cannot queue the create: %s", uv_strerror(r));
                job_fail(j, &e);
                record_create_failed(j, NULL);
                advance(j);
        }
}

static void
on_retry(void *data)
{
        vs_job *j = data;

        if (j->state == VS_JOB_RETRY_WAIT)
                start_create(j);
}

/* ---- prune ---------------------------------------------------------------- */

static void
work_delete(uv_work_t *w)
{
        vs_job *j = w->data;

        vs_err_clear(&j->w_err);
        /* The tree the create saw plus what it made is the domain's tree now,
         * unless a post hook (anything at all) ran since: then list again. */
        if (j->create_ok && j->w_create.have_tree && !j->policy->hooks.post)
                j->w_r = vs_virt_delete_snapshots_in_tree(j->virt, j->domain, &j->w_create.tree, j->w_names,
                                                          &j->w_delete, &j->w_err);
        else
                j->w_r = vs_virt_delete_snapshots(j->virt, j->domain, j->w_names, &j->w_delete, &j->w_err);
}

static vs_store_delete_outcome
store_outcome(vs_delete_outcome o)
{
        switch (o) {
        case VS_DELETE_DELETED:
        case VS_DELETE_MISSING:
                /* Already gone when we came to delete it: the row is
                 * `deleting`, and reconcile settles deleting + absent as
                 * deleted too, so record the same outcome now. */
                return VS_STORE_DELETED;
        case VS_DELETE_DEFERRED:
                return VS_STORE_DEFERRED;
        case VS_DELETE_UNDELETABLE:
                return VS_STORE_UNDELETABLE;
        default:
                return VS_STORE_DELETE_FAILED;
        }
}

static void
after_delete(uv_work_t *w, int status)
{
        vs_job *j = w->data;
        size_t n = vs_strv_length(j->w_names);
        int64_t t = now_s(j);
        vs_err e = { 0 };

        j->worker_busy = false;
        vs_crash_point(j->ctx.crash, "delete-returned");
        for (size_t i = 0; i < n; i++) {
                const vs_delete_result *res = NULL;
                vs_store_delete_outcome o;
                const vs_err *why;

                for (size_t k = 0; j->w_r == 0 && k < j->w_delete.n; k++)
                        if (j->w_delete.items[k].name && strcmp(j->w_delete.items[k].name, j->w_names[i]) == 0)
                                res = &j->w_delete.items[k];
                if (j->w_r < 0) {
                        o = VS_STORE_DELETE_FAILED;
                        why = &j->w_err;
                } else if (!res) {
                        o = VS_STORE_DELETE_FAILED;
                        vs_err_set(&e, EIO, "scheduler", "the backend did not report on '%s'", j->w_names[i]);
                        why = &e;
                } else {
                        o = store_outcome(res->outcome);
                        why = &res->err;
                }
                if (o == VS_STORE_DELETED) {
                        j->pruned++;
                        vs_log_info(j->ctx.log, "%s/%s: pruned %s (%s)", j->domain, j->policy->name, j->w_names[i],
                                    j->del_reasons[i]);
                } else {
                        vs_log_warning(j->ctx.log, "%s/%s: %s not deleted (%s): %s", j->domain, j->policy->name,
                                       j->w_names[i], res ? vs_delete_outcome_to_string(res->outcome) : "failed",
                                       why->msg);
                        if (o == VS_STORE_DELETE_FAILED)
                                job_fail(j, why);
                        else if (o == VS_STORE_UNDELETABLE)
                                j->undeletable++;
                }
                if (vs_store_finish_delete(j->ctx.store, j->del_ids[i], o, j->del_reasons[i],
                                           o == VS_STORE_DELETED ? NULL : why, t, &e) < 0)
                        log_store_error(j, "a delete", &e);
        }
        vs_crash_point(j->ctx.crash, "delete-recorded");
        finish(j);
}

/* PRUNING, once the `deleting` rows are durable: the delete. */
static void
on_delete_intents_committed(void *data, const vs_err *err)
{
        vs_job *j = data;
        int r;

        j->committing = false;
        if (err) {
                /* Rolled back with their group: the rows are `present` and
                 * libvirt was asked nothing. */
                log_store_error(j, "the delete intents", err);
                job_fail(j, err);
                finish(j);
                return;
        }
        vs_crash_point(j->ctx.crash, "delete-intent");
        j->worker_busy = true;
        j->work.data = j;
        r = uv_queue_work(vs_clock_loop(j->ctx.clock), &j->work, work_delete, after_delete);
        if (r < 0) {
                j->w_r = vs_err_set(&j->w_err, -r, "scheduler", "cannot queue the delete: %s", uv_strerror(r));
                after_delete(&j->work, 0);
        }
}

/* Retention over held[0..n) (and, with count_new, the snapshot this job is
 * about to make, at time t) at time t: remove[i] and why[i] (owned by the
 * caller) for each held one it does not keep.  0 or -errno with e. */
static int
decide(vs_job *j, const vs_store_held *held, size_t n, bool count_new, int64_t t, bool *remove, char **why,
       vs_err *e)
{
        vs_retention_item *items = calloc(n + 1, sizeof(*items));
        char reason[320];
        int r;

        if (!items)
                return vs_err_set(e, ENOMEM, "scheduler", "out of memory");
        /* A snapshot with a lifetime is not retention's to count: like a
         * pinned one it is invisible to the rules until its time is up,
         * then it goes whatever the rules say.  Pinned beats a lifetime. */
        for (size_t i = 0; i < n; i++) {
                items[i].time = held[i].created;
                items[i].pinned = held[i].pinned || held[i].expires > 0;
        }
        if (count_new) {
                items[n].time = t;
                items[n].pinned = j->ttl > 0;
        }
        r = vs_retention_apply(&j->policy->retention, j->tz, t, items, n + (count_new ? 1 : 0));
        if (r < 0) {
                free(items);
                return vs_err_set(e, -r, "retention", "cannot apply retention");
        }
        vs_scheduler_prune_reason(&j->policy->retention, reason, sizeof(reason));
        for (size_t i = 0; i < n; i++) {
                char expired[96], buf[32];
                const char *w = reason;

                remove[i] = false;
                if (held[i].expires > 0 && !held[i].pinned && held[i].expires <= t) {
                        snprintf(expired, sizeof(expired), "lifetime ended at %s (snapshot --ttl)",
                                 vs_time_format_utc(held[i].expires, buf, sizeof(buf)));
                        w = expired;
                } else if (items[i].verdict != VS_VERDICT_REMOVE) {
                        continue;
                }
                if (!(why[i] = strdup(w))) {
                        free(items);
                        return vs_err_set(e, ENOMEM, "scheduler", "out of memory");
                }
                remove[i] = true;
        }
        free(items);
        return 0;
}

/* Free why[0..n) (NULLs anywhere) and why. */
static void
reasons_free(char **why, size_t n)
{
        for (size_t i = 0; why && i < n; i++)
                free(why[i]);
        free(why);
}

/* At the start, with the create's intent: mark `deleting` what retention
 * removes once the new snapshot exists, so the same commit makes both
 * durable.  Failures only cost the early marks: start_prune decides again
 * and marks (with a wait of its own) what is still to go. */
static void
mark_early_deletes(vs_job *j)
{
        vs_store_held_list held = { 0 };
        bool *remove = NULL;
        char **why = NULL;
        vs_err e = { 0 };

        if (vs_store_list_present(j->ctx.store, j->conn, j->uuid, j->policy->name, &held, &e) < 0 || held.n == 0)
                goto out;
        remove = calloc(held.n, sizeof(*remove));
        why = calloc(held.n, sizeof(*why));
        j->pre = calloc(held.n, sizeof(*j->pre));
        if (!remove || !why || !j->pre || decide(j, held.items, held.n, true, j->started, remove, why, &e) < 0)
                goto out;
        for (size_t i = 0; i < held.n; i++) {
                vs_store_held *p = &j->pre[j->n_pre];

                if (!remove[i] || vs_store_begin_delete(j->ctx.store, held.items[i].id, why[i], &e) < 0)
                        continue;
                *p = held.items[i];
                p->name = TAKE_PTR(held.items[i].name);
                j->n_pre++;
        }
out:
        free(remove);
        reasons_free(why, held.n);
        vs_store_held_list_clear(&held);
}

/* The early marks nothing deletes: back to `present`. */
static void
withdraw_early_deletes(vs_job *j)
{
        for (size_t i = 0; i < j->n_pre; i++) {
                vs_err e = { 0 };

                if (vs_store_withdraw_delete(j->ctx.store, j->pre[i].id, &e) < 0)
                        log_store_error(j, "a withdrawn delete", &e);
                free(j->pre[i].name);
        }
        free(j->pre);
        j->pre = NULL;
        j->n_pre = 0;
}

/* PRUNING: retention over what is there now (the new snapshot with its real
 * creation time, and the rows marked early).  The early marks it confirms
 * go to libvirt at once: their intents were committed with the create's.
 * A mark it no longer confirms is withdrawn; a snapshot it removes that was
 * not marked (the real creation time fell into another bucket, a lifetime
 * ran out meanwhile) gets its intent now, and then the delete waits for
 * that commit. */
static void
start_prune(vs_job *j)
{
        vs_store_held_list held = { 0 };
        vs_store_held *all = NULL;
        bool *remove = NULL, need_commit = false;
        char **why = NULL;
        int64_t t = now_s(j);
        vs_err e = { 0 };
        size_t n = 0, n_del = 0;

        j->state = VS_JOB_PRUNING;
        if (vs_store_list_present(j->ctx.store, j->conn, j->uuid, j->policy->name, &held, &e) < 0) {
                log_store_error(j, "(reading) the held snapshots", &e);
                job_fail(j, &e);
                goto done;
        }
        n = held.n + j->n_pre;
        all = calloc(n + 1, sizeof(*all));
        remove = calloc(n + 1, sizeof(*remove));
        why = calloc(n + 1, sizeof(*why));
        j->del_ids = calloc(n + 1, sizeof(*j->del_ids));
        j->del_reasons = calloc(n + 1, sizeof(*j->del_reasons));
        if (!all || !remove || !why || !j->del_ids || !j->del_reasons) {
                vs_err_set(&e, ENOMEM, "scheduler", "out of memory");
                job_fail(j, &e);
                goto done;
        }
        if (held.n)
                memcpy(all, held.items, held.n * sizeof(*all));
        if (j->n_pre)
                memcpy(all + held.n, j->pre, j->n_pre * sizeof(*all));
        if (decide(j, all, n, false, t, remove, why, &e) < 0) {
                job_fail(j, &e);
                goto done;
        }
        for (size_t i = 0; i < n; i++) {
                bool early = i >= held.n;

                if (!remove[i])
                        continue;
                if (!early) {
                        /* The intent: `deleting` is committed before libvirt is asked. */
                        if (vs_store_begin_delete(j->ctx.store, all[i].id, why[i], &e) < 0) {
                                vs_log_warning(j->ctx.log, "%s/%s: not deleting %s: %s", j->domain,
                                               j->policy->name, all[i].name, e.msg);
                                continue;
                        }
                        need_commit = true;
                }
                if (vs_strv_push(&j->w_names, all[i].name) < 0) {
                        /* Put the row back: nothing was asked of libvirt
                         * (an early mark is put back with the others below). */
                        vs_err_set(&e, ENOMEM, "scheduler", "out of memory");
                        if (!early)
                                vs_store_withdraw_delete(j->ctx.store, all[i].id, NULL);
                        job_fail(j, &e);
                        break;
                }
                if (early) {
                        /* Confirmed: no longer the job's to put back. */
                        size_t k = i - held.n;

                        j->pre[k].id = 0;
                }
                j->del_reasons[n_del] = TAKE_PTR(why[i]);
                j->del_ids[n_del++] = all[i].id;
        }
        /* What is left of the early marks goes back to `present` now. */
        {
                size_t k = 0;

                for (size_t i = 0; i < j->n_pre; i++) {
                        if (j->pre[i].id)
                                j->pre[k++] = j->pre[i];
                        else
                                free(j->pre[i].name);
                }
                j->n_pre = k;
                /* w_names copied the names it needs. */
                withdraw_early_deletes(j);
        }
        if (n_del == 0)
                goto done;
        free(all);
        free(remove);
        reasons_free(why, n);
        vs_store_held_list_clear(&held);
        if (!need_commit) {
                /* Every intent was committed with the create's. */
                on_delete_intents_committed(j, NULL);
                return;
        }
        j->committing = true;
        vs_commit_then(j->ctx.commit, on_delete_intents_committed, j);
        return;
done:
        free(all);
        free(remove);
        reasons_free(why, n);
        vs_store_held_list_clear(&held);
        finish(j);
}

const char *
vs_scheduler_prune_reason(const vs_retention_rules *r, char *buf, size_t len)
{
        char rules[256];

        snprintf(buf, len, "not kept by retention (%s)", vs_retention_rules_format(r, rules, sizeof(rules)));
        return buf;
}

/* ---- the machine ----------------------------------------------------------- */

static bool
out_of_time(const vs_job *j)
{
        return j->timed_out || j->cancelled;
}

/* Take the next arrow from the current state; called after every event. */
static void
advance(vs_job *j)
{
        switch (j->state) {
        case VS_JOB_QUEUED:
        case VS_JOB_DONE:
        case VS_JOB_PRUNING:
                return;
        case VS_JOB_PRE_HOOK:
                if (j->hook)
                        return;
                if (j->outcome == VS_JOB_FAILED) {
                        j->state = VS_JOB_POST_HOOK;
                        break;
                }
                if (out_of_time(j)) {
                        job_fail_msg(j, "scheduler", j->cancelled ? "cancelled: the daemon is stopping" : "job timed out");
                        record_create_failed(j, NULL);
                        j->state = VS_JOB_POST_HOOK;
                        break;
                }
                start_create(j);
                return;
        case VS_JOB_CREATING:
                if (j->worker_busy)
                        return;
                j->state = VS_JOB_POST_HOOK;
                break;
        case VS_JOB_RETRY_WAIT:
                if (!out_of_time(j))
                        return;
                vs_clock_timer_disarm(j->retry_timer);
                if (j->w_err.skip == VS_SKIP_BUSY) {
                        record_busy_out_of_time(j);
                } else {
                        job_fail(j, &j->w_err);
                        record_create_failed(j, NULL);
                }
                j->state = VS_JOB_POST_HOOK;
                break;
        case VS_JOB_POST_HOOK:
                break;
        }
        /* POST_HOOK */
        if (!j->post_started)
                start_post_hook(j);
        if (!j->post_done || j->worker_busy)
                return;
        /* A guard skip still prunes: that may be what frees the space. */
        if ((j->create_ok || (j->skipped && j->skip_cause == VS_SKIP_GUARD)) && !out_of_time(j) && j->policy->prune) {
                start_prune(j);
                return;
        }
        finish(j);
}

static void
on_timeout(void *data)
{
        vs_job *j = data;

        if (j->state == VS_JOB_DONE || j->state == VS_JOB_QUEUED)
                return;
        j->timed_out = true;
        vs_log_warning(j->ctx.log, "%s/%s: job timed out after %llds (%s)", j->domain, j->policy->name,
                       (long long)j->policy->snapshot.timeout, vs_job_state_to_string(j->state));
        switch (j->state) {
        case VS_JOB_PRE_HOOK:
                vs_hook_kill(j->hook);
                return;
        case VS_JOB_CREATING:
                /* The worker cannot be interrupted: resume the application now
                 * and record the create when libvirt answers. */
                job_fail_msg(j, "scheduler", "job timed out while creating the snapshot");
                if (!j->post_started && j->pre_ran)
                        start_post_hook(j);
                return;
        case VS_JOB_RETRY_WAIT:
                advance(j);
                return;
        default:
                return;
        }
}

void
vs_job_cancel(vs_job *j)
{
        if (j->state == VS_JOB_DONE || j->cancelled)
                return;
        j->cancelled = true;
        if (j->state == VS_JOB_QUEUED) {
                vs_store_attempt a = {
                        .connection = j->conn, .domain_uuid = j->uuid, .domain_name = j->domain,
                        .policy = j->policy->name, .type = vs_snap_type_to_string(j->policy->snapshot.type),
                        .quiesce = j->policy->snapshot.quiesce != VS_QUIESCE_OFF, .scheduled = j->scheduled,
                        .started = now_s(j), .origin = j->origin,
                };
                vs_err e = { 0 };

                if (j->kind == VS_JOB_SNAPSHOT &&
                    vs_store_record_skipped(j->ctx.store, &a, "cancelled: the daemon was stopping", NULL, &e) < 0)
                        log_store_error(j, "the cancellation", &e);
                record_event(j, VS_EVENT_CANCELLED, NULL, "queued job cancelled: the daemon was stopping");
                j->outcome = VS_JOB_CANCELLED;
                finish(j);
                return;
        }
        record_event(j, VS_EVENT_CANCELLED, j->created ? j->created : j->name,
                     "job cancelled at the end of the shutdown grace period");
        switch (j->state) {
        case VS_JOB_PRE_HOOK:
                vs_hook_kill(j->hook);
                return;
        case VS_JOB_CREATING:
                if (!j->post_started && j->pre_ran)
                        start_post_hook(j);
                return;
        case VS_JOB_RETRY_WAIT:
                advance(j);
                return;
        default:
                return;
        }
}

/* PRE_HOOK, once the intent is durable: the pre hook, or straight on
 * (advance) to the create. */
static void
on_create_intent_committed(void *data, const vs_err *err)
{
        vs_job *j = data;
        vs_err e = { 0 };

        j->committing = false;
        if (err) {
                /* Rolled back with its group: the row id is no longer ours. */
                j->have_row = false;
                log_store_error(j, "the intent", err);
                job_fail(j, err);
                finish(j);
                return;
        }
        vs_crash_point(j->ctx.crash, "create-intent");
        if (j->policy->hooks.pre && !out_of_time(j) && run_hook(j, j->policy->hooks.pre, "pre", &e) < 0) {
                char msg[sizeof(e.msg) + 64];

                job_fail(j, &e);
                record_create_failed(j, NULL);
                snprintf(msg, sizeof(msg), "pre hook %s failed: %s", j->policy->hooks.pre[0], e.msg);
                record_hook_failed(j, msg);
        }
        advance(j);
}

void
vs_job_start(vs_job *j)
{
        vs_store_attempt a = { 0 };
        vs_err e = { 0 };
        int r;

        if (j->state != VS_JOB_QUEUED)
                return;
        j->started = now_s(j);
        if (j->policy->snapshot.timeout > 0)
                vs_clock_timer_arm(j->timeout_timer, (j->started + j->policy->snapshot.timeout) * 1000);
        if (j->kind == VS_JOB_PRUNE) {
                start_prune(j);
                return;
        }
        j->state = VS_JOB_PRE_HOOK;
        r = vs_template_expand(j->policy->snapshot.name_template, j->policy->name, j->domain, j->tz,
                               j->started, &j->name);
        if (r < 0) {
                vs_err_set(&e, -r, "template", "cannot expand the snapshot name template");
                job_fail(j, &e);
                finish(j);
                return;
        }
        if (j->policy->snapshot.description_template &&
            vs_template_expand(j->policy->snapshot.description_template, j->policy->name, j->domain, j->tz,
                               j->started, &j->description) < 0)
                j->description = NULL;
        a.connection = j->conn;
        a.domain_uuid = j->uuid;
        a.domain_name = j->domain;
        a.policy = j->policy->name;
        a.snapshot = j->name;
        a.type = vs_snap_type_to_string(j->policy->snapshot.type);
        a.quiesce = j->policy->snapshot.quiesce != VS_QUIESCE_OFF;
        a.origin = j->origin;
        a.scheduled = j->scheduled;
        a.started = j->started;
        a.expires = j->ttl > 0 ? j->started + j->ttl : 0;
        a.requested_by = j->requested_by;
        a.note = j->note;
        /* The intent row comes first: no libvirt call until it is on disk. */
        r = vs_store_begin_create(j->ctx.store, &a, &j->row, &e);
        if (r < 0) {
                log_store_error(j, "the intent", &e);
                job_fail(j, &e);
                finish(j);
                return;
        }
        j->have_row = true;
        /* The prune's intents join the create's in the same commit. */
        if (j->policy->prune)
                mark_early_deletes(j);
        j->committing = true;
        vs_commit_then(j->ctx.commit, on_create_intent_committed, j);
}

int
vs_job_new(const vs_job_ctx *ctx, const vs_job_params *p, vs_job_done_fn done, void *data, vs_job **ret)
{
        vs_job *j = calloc(1, sizeof(*j));
        int r;

        if (!j)
                return -ENOMEM;
        j->ctx = *ctx;
        j->kind = p->kind;
        j->virt = p->virt;
        j->policy = p->policy;
        j->tz = p->tz;
        j->scheduled = p->scheduled;
        j->origin = p->origin;
        j->ttl = p->ttl;
        j->done = done;
        j->data = data;
        j->conn = strdup(p->conn);
        j->domain = strdup(p->domain);
        j->uuid = strdup(p->uuid);
        j->requested_by = p->requested_by ? strdup(p->requested_by) : NULL;
        j->note = p->note ? strdup(p->note) : NULL;
        if (!j->conn || !j->domain || !j->uuid || (p->requested_by && !j->requested_by) ||
            (p->note && !j->note)) {
                r = -ENOMEM;
                goto fail;
        }
        r = vs_clock_timer_new(ctx->clock, on_timeout, j, &j->timeout_timer);
        if (r < 0)
                goto fail;
        r = vs_clock_timer_new(ctx->clock, on_retry, j, &j->retry_timer);
        if (r < 0)
                goto fail;
        *ret = j;
        return 0;
fail:
        vs_job_free(j);
        return r;
}

void
vs_job_free(vs_job *j)
{
        if (!j)
                return;
        vs_clock_timer_free(j->timeout_timer);
        vs_clock_timer_free(j->retry_timer);
        free(j->conn);
        free(j->domain);
        free(j->uuid);
        free(j->requested_by);
        free(j->note);
        free(j->name);
        free(j->description);
        free(j->created);
        vs_create_result_clear(&j->w_create);
        vs_snapshot_tree_clear(&j->known);
        vs_delete_results_clear(&j->w_delete);
        vs_strv_free(j->w_names);
        vs_strv_free(j->del_reasons);
        free(j->del_ids);
        for (size_t i = 0; i < j->n_pre; i++)
                free(j->pre[i].name);
        free(j->pre);
        free(j);
}

void
vs_job_know_state(vs_job *j, vs_domain_state state)
{
        j->state_known = true;
        j->dom_state = state;
}

void
vs_job_know_tree(vs_job *j, vs_snapshot_tree *t)
{
        vs_snapshot_tree_clear(&j->known);
        j->known = *t;
        j->have_known = true;
        memset(t, 0, sizeof(*t));
}

vs_job_state
vs_job_get_state(const vs_job *j)
{
        return j->state;
}

vs_job_outcome
vs_job_get_outcome(const vs_job *j)
{
        return j->outcome;
}

vs_job_kind
vs_job_get_kind(const vs_job *j)
{
        return j->kind;
}

const vs_err *
vs_job_error(const vs_job *j)
{
        return &j->err;
}

const char *
vs_job_snapshot(const vs_job *j)
{
        return j->created;
}

const char *
vs_job_domain(const vs_job *j)
{
        return j->domain;
}

const char *
vs_job_uuid(const vs_job *j)
{
        return j->uuid;
}

const char *
vs_job_policy(const vs_job *j)
{
        return j->policy->name;
}

unsigned
vs_job_attempts(const vs_job *j)
{
        return j->attempts;
}

unsigned
vs_job_pruned(const vs_job *j)
{
        return j->pruned;
}

unsigned
vs_job_undeletable(const vs_job *j)
{
        return j->undeletable;
}

int64_t
vs_job_row(const vs_job *j)
{
        return j->have_row ? j->row : 0;
}

int64_t
vs_job_expires(const vs_job *j)
{
        return j->ttl > 0 && j->started > 0 ? j->started + j->ttl : 0;
}

vs_origin
vs_job_origin(const vs_job *j)
{
        return j->origin;
}

bool
vs_job_saw_transient(const vs_job *j)
{
        return j->transient_seen;
}

bool
vs_job_in_flight(const vs_job *j)
{
        return j->worker_busy || j->hook || j->committing;
}

bool
vs_job_hook_running(const vs_job *j)
{
        return j->hook != NULL;
}
