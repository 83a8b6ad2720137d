/* The scheduler (see scheduler.h): firings, the plan timer, the job queue,
 * reload and drain.  Each libvirt connection is refreshed and reconciled in
 * connection.c, which hands back its domains (replan) and its firings
 * (dispatch); the state both share is in scheduler-private.h.
 *
 * A timer pop re-lists the connection first, so selectors are evaluated
 * against the domains as they are at the firing.  Configs are refcounted:
 * the plan points into the current one; a firing or job keeps the one it
 * was made under until it is done. */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "cleanup.h"
#include "notify.h"
#include "scheduler-private.h"
#include "timefmt.h"

static void pump(sched_conn *c);
static void arm_expiry_timer(vs_scheduler *s);
static void retry_waiting(vs_scheduler *s, bool ending);

/* ---- small helpers ----------------------------------------------------------- */

static cfg_ref *
cfg_ref_new(vs_config *cfg)
{
        cfg_ref *r = calloc(1, sizeof(*r));

        if (!r)
                return NULL;
        r->cfg = cfg;
        r->refs = 1;
        return r;
}

static cfg_ref *
cfg_ref_get(cfg_ref *r)
{
        r->refs++;
        return r;
}

static void
cfg_ref_put(cfg_ref *r)
{
        if (r && --r->refs == 0) {
                vs_config_free(r->cfg);
                free(r);
        }
}

int64_t
vs__sched_now_s(const vs_scheduler *s)
{
        return vs_clock_now(s->o.clock);
}

void
vs__sched_record_event(vs_scheduler *s, vs_event_kind kind, const char *conn, const char *msg)
{
        vs_store_event ev = { .time = vs__sched_now_s(s), .kind = kind, .connection = conn, .message = msg };
        vs_err e = { 0 };

        if (vs_store_append_event(s->o.store, &ev, &e) < 0)
                vs_log_err(s->o.log, "cannot record an event: %s", e.msg);
}

static void
send_status(vs_scheduler *s)
{
        vs_scheduler_stats st;

        s->status_sent_ms = vs_clock_now_ms(s->o.clock);
        vs_scheduler_get_stats(s, &st);
        sd_notifyf(0,
                   "STATUS=%u/%u connections up, %u planned, %u running, %u queued; "
                   "%lu created, %lu failed, %lu skipped, %lu pruned",
                   st.connections_up, st.connections, st.planned, st.running, st.queued, st.created,
                   st.failed, st.skipped, st.pruned);
}

static void
on_status_timer(void *data)
{
        vs_scheduler *s = data;

        s->status_armed = false;
        send_status(s);
}

void
vs__sched_notify_status(vs_scheduler *s)
{
        int64_t now;

        if (!s->o.notify || !s->status_timer)
                return;
        now = vs_clock_now_ms(s->o.clock);
        if (now - s->status_sent_ms >= 1000) {
                send_status(s);
        } else if (!s->status_armed) {
                s->status_armed = true;
                vs_clock_timer_arm(s->status_timer, s->status_sent_ms + 1000);
        }
}

static const vs_policy *
find_policy(const vs_config *cfg, const char *name, size_t *ret_index)
{
        for (size_t i = 0; i < cfg->n_policies; i++)
                if (strcmp(cfg->policies[i].name, name) == 0) {
                        if (ret_index)
                                *ret_index = i;
                        return &cfg->policies[i];
                }
        return NULL;
}

sched_conn *
vs__sched_find_conn(vs_scheduler *s, const char *uri)
{
        for (size_t i = 0; i < s->n_conns; i++)
                if (strcmp(s->conns[i]->uri, uri) == 0)
                        return s->conns[i];
        return NULL;
}

static const vs_domain_info *
conn_domain_by_uuid(const sched_conn *c, const char *uuid)
{
        for (size_t i = 0; i < c->domains.n; i++)
                if (strcmp(c->domains.items[i].uuid, uuid) == 0)
                        return &c->domains.items[i];
        return NULL;
}

static const vs_domain_info *
conn_domain_by_name(const sched_conn *c, const char *name)
{
        for (size_t i = 0; i < c->domains.n; i++)
                if (strcmp(c->domains.items[i].name, name) == 0)
                        return &c->domains.items[i];
        return NULL;
}

bool
vs__sched_domain_has_job(const sched_conn *c, const char *uuid, const char *policy, bool running_only)
{
        for (size_t i = 0; i < c->n_jobs; i++) {
                const sched_job *sj = c->jobs[i];

                if (running_only && !sj->running)
                        continue;
                if (strcmp(vs_job_uuid(sj->job), uuid) != 0)
                        continue;
                if (!policy || strcmp(vs_job_policy(sj->job), policy) == 0)
                        return true;
        }
        return false;
}

/* ---- plan and timer ---------------------------------------------------------- */

static void
arm_plan_timer(vs_scheduler *s)
{
        int64_t d = vs_plan_next_deadline(s->plan);

        if (s->stopping || s->mode != MODE_DAEMON || d == INT64_MAX) {
                vs_clock_timer_disarm(s->plan_timer);
                return;
        }
        vs_clock_timer_arm(s->plan_timer, d * 1000);
}

void
vs__sched_replan(vs_scheduler *s)
{
        vs_plan_conn *pc;
        vs_plan *plan = NULL;
        int r;

        if (s->mode != MODE_DAEMON)
                return;
        pc = calloc(s->n_conns ? s->n_conns : 1, sizeof(*pc));
        if (!pc) {
                vs_log_err(s->o.log, "cannot plan: out of memory");
                return;
        }
        for (size_t i = 0; i < s->n_conns; i++) {
                pc[i].uri = s->conns[i]->uri;
                pc[i].domains = s->conns[i]->listed ? &s->conns[i]->domains : NULL;
        }
        r = vs_plan_build(&(vs_plan_input){
                                  .cfg = s->cfg->cfg,
                                  .connect_override = s->connect_override,
                                  .conns = pc,
                                  .n_conns = s->n_conns,
                                  .after = s->watermark,
                          },
                          &plan);
        free(pc);
        if (r < 0) {
                vs_log_err(s->o.log, "cannot plan: %s", strerror(-r));
                return;
        }
        vs_plan_free(s->plan);
        s->plan = plan;
        s->st.planned = (unsigned)vs_plan_size(plan);
        if (vs_log_level(s->o.log) >= VS_LOG_DEBUG) {
                for (size_t i = 0; i < vs_plan_size(plan); i++) {
                        const vs_plan_entry *e = vs_plan_entry_at(plan, i);
                        char buf[VS_TIME_BUFSZ];

                        vs_log_debug(s->o.log, "plan: %s/%s next at %s (jitter %llds)", e->domain, e->policy->name,
                                     vs_time_format_utc(e->deadline, buf, sizeof(buf)), (long long)e->offset);
                }
        }
        arm_plan_timer(s);
}

static firing *
push_firing_get(sched_conn *c, const char *domain, const char *uuid, size_t policy_index, int64_t scheduled,
                vs_job_kind kind, vs_origin origin)
{
        firing *f;

        if (c->n_pending == c->cap_pending) {
                size_t cap = c->cap_pending ? c->cap_pending * 2 : 8;
                firing *n = realloc(c->pending, cap * sizeof(*n));

                if (!n)
                        return NULL;
                c->pending = n;
                c->cap_pending = cap;
        }
        f = &c->pending[c->n_pending];
        memset(f, 0, sizeof(*f));
        f->domain = strdup(domain);
        if (!f->domain)
                return NULL;
        snprintf(f->uuid, sizeof(f->uuid), "%s", uuid);
        f->policy_index = policy_index;
        f->scheduled = scheduled;
        f->kind = kind;
        f->origin = origin;
        f->cfg = cfg_ref_get(c->s->cfg);
        c->n_pending++;
        return f;
}

static int
push_firing(sched_conn *c, const char *domain, const char *uuid, size_t policy_index, int64_t scheduled,
            vs_job_kind kind, vs_origin origin)
{
        return push_firing_get(c, domain, uuid, policy_index, scheduled, kind, origin) ? 0 : -ENOMEM;
}

/* A firing that will not become a job: an ad-hoc request hears why. */
static void
firing_release(firing *f, const char *dropped_because)
{
        if (f->done) {
                const vs_policy *p = &f->cfg->cfg->policies[f->policy_index];
                vs_adhoc_result r = {
                        .domain = f->domain, .policy = p->name,
                        .error = dropped_because ? dropped_because : "not started",
                };

                f->done(&r, f->done_data);
        }
        free(f->domain);
        free(f->note);
        free(f->requested_by);
        cfg_ref_put(f->cfg);
}

static void
on_plan_timer(void *data)
{
        vs_scheduler *s = data;
        int64_t now = vs__sched_now_s(s);
        vs_plan_entry e;

        while (vs_plan_pop(s->plan, now, &e)) {
                sched_conn *c = vs__sched_find_conn(s, e.conn);

                if (!c)
                        continue;
                vs_log_debug(s->o.log, "%s/%s: fires (slot %lld)", e.domain, e.policy->name, (long long)e.slot);
                if (push_firing(c, e.domain, e.uuid, e.policy_index, e.deadline, VS_JOB_SNAPSHOT, VS_ORIGIN_SCHEDULE) < 0) {
                        vs_log_err(s->o.log, "%s/%s: firing lost: out of memory", e.domain, e.policy->name);
                        continue;
                }
        }
        if (now > s->watermark)
                s->watermark = now;
        /* Re-list each connection with firings, so they see today's domains. */
        for (size_t i = 0; i < s->n_conns; i++)
                if (s->conns[i]->n_pending > 0)
                        vs__sched_start_refresh(s->conns[i]);
        arm_plan_timer(s);
}

/* ---- lifetimes: `snapshot --ttl` ends on time ------------------------------------
 *
 * The daemon keeps one timer at the earliest lifetime in the history; when it
 * fires, each series holding an expired snapshot gets a prune job (the prune
 * deletes what expired, with the lifetime as the reason).  A series that
 * cannot be pruned now (connection down, policy gone or prune: false) is
 * looked at again a minute later, not in a loop. */

#define EXPIRY_RETRY_S 60

static void
arm_expiry_timer(vs_scheduler *s)
{
        int64_t next = 0, now = vs__sched_now_s(s);
        vs_err e = { 0 };
        int r;

        if (s->mode != MODE_DAEMON || s->stopping || !s->expiry_timer)
                return;
        r = vs_store_next_expiry(s->o.store, &next, &e);
        if (r == -ENOENT) {
                vs_clock_timer_disarm(s->expiry_timer);
                return;
        }
        if (r < 0) {
                vs_log_err(s->o.log, "cannot read snapshot lifetimes: %s", e.msg);
                next = now + EXPIRY_RETRY_S;
        }
        /* Something still expired after the last look waits out the retry. */
        if (next <= now && s->expiry_looked > 0 && next < s->expiry_looked + EXPIRY_RETRY_S)
                next = s->expiry_looked + EXPIRY_RETRY_S;
        vs_clock_timer_arm(s->expiry_timer, next * 1000);
}

static int
on_expired_series(const char *conn, const char *uuid, const char *domain, const char *policy, void *data)
{
        vs_scheduler *s = data;
        sched_conn *c = vs__sched_find_conn(s, conn);
        size_t pi = 0;
        const vs_policy *p = find_policy(s->cfg->cfg, policy, &pi);

        if (!c || !c->up || !p || !p->prune) {
                vs_log_debug(s->o.log, "%s/%s: a lifetime ended, but %s; looking again later", domain, policy,
                             !c || !c->up ? "its connection is down" : !p ? "no such policy now" : "prune is false");
                return 0;
        }
        if (vs__sched_domain_has_job(c, uuid, policy, false))
                return 0; /* that job prunes when it is done */
        vs_log_info(s->o.log, "%s/%s: a snapshot's lifetime ended; pruning", domain, policy);
        if (push_firing(c, domain, uuid, pi, vs__sched_now_s(s), VS_JOB_PRUNE, VS_ORIGIN_RUN) < 0)
                vs_log_err(s->o.log, "%s/%s: out of memory", domain, policy);
        return 0;
}

static void
on_expiry_timer(void *data)
{
        vs_scheduler *s = data;
        int64_t now = vs__sched_now_s(s);
        vs_err e = { 0 };

        if (s->mode != MODE_DAEMON || s->stopping)
                return;
        s->expiry_looked = now;
        if (vs_store_query_expired(s->o.store, now, on_expired_series, s, &e) < 0)
                vs_log_err(s->o.log, "cannot read snapshot lifetimes: %s", e.msg);
        for (size_t i = 0; i < s->n_conns; i++)
                if (s->conns[i]->n_pending > 0 && !s->conns[i]->busy)
                        vs__sched_dispatch_pending(s->conns[i]);
        arm_expiry_timer(s);
}

/* ---- catch-up: one snapshot, not two ------------------------------------------ */

static catch_up *
find_catch_up(sched_conn *c, const char *uuid, const char *policy)
{
        for (size_t i = 0; i < c->n_catch_ups; i++)
                if (strcmp(c->catch_ups[i].uuid, uuid) == 0 && strcmp(c->catch_ups[i].policy, policy) == 0)
                        return &c->catch_ups[i];
        return NULL;
}

static void
drop_catch_up(sched_conn *c, catch_up *cu)
{
        free(cu->policy);
        *cu = c->catch_ups[--c->n_catch_ups];
}

static int
note_catch_up(sched_conn *c, const char *uuid, const char *policy, int64_t at)
{
        catch_up *cu = find_catch_up(c, uuid, policy), *n;

        if (!cu) {
                n = realloc(c->catch_ups, (c->n_catch_ups + 1) * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                c->catch_ups = n;
                cu = &c->catch_ups[c->n_catch_ups];
                *cu = (catch_up){ .policy = strdup(policy) };
                if (!cu->policy)
                        return -ENOMEM;
                snprintf(cu->uuid, sizeof(cu->uuid), "%s", uuid);
                c->n_catch_ups++;
        }
        cu->at = at;
        cu->failed = false;
        return 0;
}

/* A regular firing f right after a catch-up of the same (domain, policy)
 * that made (or is making) a snapshot: the catch-up serves f's slot too.
 * Said in the log and the event log, not recorded as a skipped attempt:
 * nothing was missed. */
static bool
catch_up_covers(sched_conn *c, const firing *f, const vs_policy *p)
{
        vs_scheduler *s = c->s;
        catch_up *cu = find_catch_up(c, f->uuid, p->name);
        int64_t period;
        char msg[160], at[32], slot[32];
        bool covers;

        if (!cu)
                return false;
        period = vs_schedule_period(p->schedule, f->cfg->cfg->tz, cu->at);
        covers = !cu->failed && f->scheduled >= cu->at && period != INT64_MAX &&
                 (f->scheduled - cu->at) * VS_CATCH_UP_COVERS_DEN < period * VS_CATCH_UP_COVERS_NUM;
        if (covers) {
                snprintf(msg, sizeof(msg), "the slot of %s is served by the catch-up snapshot taken at %s",
                         vs_time_format_utc(f->scheduled, slot, sizeof(slot)),
                         vs_time_format_utc(cu->at, at, sizeof(at)));
                vs_log_info(s->o.log, "%s/%s: %s", f->domain, p->name, msg);
                vs_store_event ev = {
                        .time = vs__sched_now_s(s), .kind = VS_EVENT_NOTICE, .connection = c->uri,
                        .domain_uuid = f->uuid, .domain_name = f->domain, .policy = p->name, .message = msg,
                };
                vs_err e = { 0 };

                if (vs_store_append_event(s->o.store, &ev, &e) < 0)
                        vs_log_err(s->o.log, "%s/%s: cannot record an event: %s", f->domain, p->name, e.msg);
        }
        /* A catch-up serves at most the one slot after it. */
        drop_catch_up(c, cu);
        return covers;
}

static void
catch_up_done(sched_conn *c, vs_job *job)
{
        catch_up *cu = find_catch_up(c, vs_job_uuid(job), vs_job_policy(job));

        if (cu && !vs_job_snapshot(job))
                cu->failed = true;
}

/* ---- notifications ------------------------------------------------------------ */

static void
notify(vs_scheduler *s, const vs_config *cfg, const char *policy, vs_notify_event ev, const char *conn,
       const char *domain, const char *uuid, const char *snapshot, const char *msg)
{
        const vs_policy *p = find_policy(cfg, policy, NULL);

        vs_notify_send(s->o.clock, s->o.log, s->o.store, vs_notify_for(cfg, p), cfg->tz,
                       &(vs_notify_info){
                               .event = ev, .connection = conn, .domain = domain, .domain_uuid = uuid,
                               .policy = policy, .snapshot = snapshot, .message = msg,
                               .time = vs__sched_now_s(s),
                       });
}

/* A snapshot job that succeeded after a failed attempt of its series. */
static void
notify_job(vs_scheduler *s, sched_job *sj, vs_job *job)
{
        const vs_config *cfg = sj->cfg->cfg;
        const vs_policy *p = find_policy(cfg, vs_job_policy(job), NULL);
        const vs_notify *n = vs_notify_for(cfg, p);
        const vs_err *e = vs_job_error(job);
        bool failed_before = false;
        vs_err se = { 0 };

        if (!n)
                return;
        switch (vs_job_get_outcome(job)) {
        case VS_JOB_FAILED:
                notify(s, cfg, vs_job_policy(job), VS_NOTIFY_FAILURE, sj->conn->uri, vs_job_domain(job),
                       vs_job_uuid(job), vs_job_snapshot(job), e->msg);
                break;
        case VS_JOB_SKIPPED:
                notify(s, cfg, vs_job_policy(job), VS_NOTIFY_SKIPPED, sj->conn->uri, vs_job_domain(job),
                       vs_job_uuid(job), NULL, e->msg);
                break;
        case VS_JOB_SUCCEEDED:
                if (vs_job_get_kind(job) != VS_JOB_SNAPSHOT || !(n->events & VS_NOTIFY_RECOVERED) || !vs_job_row(job))
                        break;
                if (vs_store_previous_failed(s->o.store, sj->conn->uri, vs_job_uuid(job), vs_job_policy(job),
                                             vs_job_row(job), &failed_before, &se) < 0) {
                        vs_log_err(s->o.log, "%s/%s: cannot read the history: %s", vs_job_domain(job),
                                   vs_job_policy(job), se.msg);
                        break;
                }
                if (failed_before)
                        notify(s, cfg, vs_job_policy(job), VS_NOTIFY_RECOVERED, sj->conn->uri, vs_job_domain(job),
                               vs_job_uuid(job), vs_job_snapshot(job), "a snapshot succeeded after a failed attempt");
                break;
        default:
                break;
        }
}

/* ---- jobs -------------------------------------------------------------------- */

static void
remove_job(sched_conn *c, sched_job *sj)
{
        for (size_t i = 0; i < c->n_jobs; i++)
                if (c->jobs[i] == sj) {
                        memmove(&c->jobs[i], &c->jobs[i + 1], (c->n_jobs - i - 1) * sizeof(*c->jobs));
                        c->n_jobs--;
                        return;
                }
}

static void
on_job_done(vs_job *job, void *data)
{
        sched_job *sj = data;
        sched_conn *c = sj->conn;
        vs_scheduler *s = sj->s;
        const vs_err *e = vs_job_error(job);

        switch (vs_job_get_outcome(job)) {
        case VS_JOB_SUCCEEDED:
                if (vs_job_get_kind(job) == VS_JOB_SNAPSHOT)
                        s->st.created++;
                break;
        case VS_JOB_FAILED:
                s->st.failed++;
                /* A snapshot created late (after a timeout) still counts. */
                if (vs_job_snapshot(job))
                        s->st.created++;
                vs_log_info(s->o.log, "%s/%s: job failed: %s", vs_job_domain(job), vs_job_policy(job), e->msg);
                break;
        case VS_JOB_CANCELLED:
                s->st.cancelled++;
                break;
        case VS_JOB_SKIPPED:
                s->st.skipped++;
                s->st.skipped_jobs++;
                vs_log_info(s->o.log, "%s/%s: job skipped: %s", vs_job_domain(job), vs_job_policy(job), e->msg);
                break;
        case VS_JOB_PENDING:
                break;
        }
        if (vs_job_origin(job) == VS_ORIGIN_CATCH_UP)
                catch_up_done(c, job);
        notify_job(s, sj, job);
        if (sj->done) {
                char skipped[sizeof(e->msg) + 16];
                vs_adhoc_result res = {
                        .ok = vs_job_get_outcome(job) == VS_JOB_SUCCEEDED &&
                              (vs_job_get_kind(job) == VS_JOB_PRUNE || vs_job_snapshot(job)),
                        .domain = vs_job_domain(job), .policy = vs_job_policy(job),
                        .snapshot = vs_job_snapshot(job), .expires = vs_job_expires(job),
                        .pruned = vs_job_pruned(job), .undeletable = vs_job_undeletable(job),
                        .error = e->msg[0] ? e->msg : vs_job_get_outcome(job) == VS_JOB_CANCELLED ?
                                 "cancelled: the daemon was stopping" : NULL,
                };

                if (vs_job_get_outcome(job) == VS_JOB_SKIPPED) {
                        snprintf(skipped, sizeof(skipped), "skipped: %s", e->msg);
                        res.error = skipped;
                }

                sj->done(&res, sj->done_data);
        }
        s->st.pruned += vs_job_pruned(job);
        s->st.undeletable += vs_job_undeletable(job);
        if (vs_job_expires(job) > 0 || vs_job_get_kind(job) == VS_JOB_PRUNE)
                arm_expiry_timer(s);
        s->st.jobs_done++;
        if (sj->running)
                c->running--;
        remove_job(c, sj);
        /* A transient error may mean the connection went away: find out. */
        if (vs_job_saw_transient(job) && s->mode == MODE_DAEMON && !s->stopping)
                vs__sched_start_refresh(c);
        vs_job_free(job);
        cfg_ref_put(sj->cfg);
        free(sj);
        pump(c);
        vs__sched_notify_status(s);
        vs__sched_check_finished(s);
}

static int
enqueue_job(sched_conn *c, firing *f, const vs_policy *p, const char *domain)
{
        cfg_ref *cfg = f->cfg;
        vs_scheduler *s = c->s;
        vs_job_ctx ctx = {
                .clock = s->o.clock, .log = s->o.log, .store = s->o.store, .commit = s->commit,
                .retry_initial_ms = s->o.retry_initial_ms, .retry_max_ms = s->o.retry_max_ms,
                .max_attempts = s->o.max_attempts, .crash = s->o.crash,
        };
        vs_job_params params = {
                .kind = f->kind, .virt = c->virt, .conn = c->uri, .domain = domain, .uuid = f->uuid,
                .policy = p, .tz = cfg->cfg->tz, .scheduled = f->scheduled, .origin = f->origin,
                .ttl = f->ttl, .note = f->note, .requested_by = f->requested_by,
        };
        sched_job *sj;
        int r;

        if (c->n_jobs == c->cap_jobs) {
                size_t cap = c->cap_jobs ? c->cap_jobs * 2 : 8;
                sched_job **n = realloc(c->jobs, cap * sizeof(*n));

                if (!n)
                        return -ENOMEM;
                c->jobs = n;
                c->cap_jobs = cap;
        }
        sj = calloc(1, sizeof(*sj));
        if (!sj)
                return -ENOMEM;
        r = vs_job_new(&ctx, &params, on_job_done, sj, &sj->job);
        if (r < 0) {
                free(sj);
                return r;
        }
        sj->s = s;
        sj->conn = c;
        sj->cfg = cfg_ref_get(cfg);
        /* The request now waits for the job. */
        sj->done = f->done;
        sj->done_data = f->done_data;
        f->done = NULL;
        c->jobs[c->n_jobs++] = sj;
        return 0;
}

/* What the connection already knows of the job's domain, so that its
 * create does not ask again: the state its listing has and the tree the
 * reconcile just read. */
static void
tell_job(sched_conn *c, vs_job *job)
{
        const vs_domain_info *d = conn_domain_by_uuid(c, vs_job_uuid(job));
        vs_snapshot_tree t = { 0 };

        if (d && d->state != VS_DOMAIN_OTHER)
                vs_job_know_state(job, d->state);
        if (vs__sched_known_take(c, vs_job_uuid(job), &t))
                vs_job_know_tree(job, &t);
}

/* Start queued jobs in fire order while the connection has room; a job whose
 * domain already has one running waits for it.  Re-entrant: a job that
 * finishes inside vs_job_start calls back into pump. */
static void
pump(sched_conn *c)
{
        vs_scheduler *s = c->s;

        if (c->pumping) {
                c->pump_again = true;
                return;
        }
        c->pumping = true;
        do {
                int max = s->cfg->cfg->max_concurrent > 0 ? s->cfg->cfg->max_concurrent : 1;
                sched_job *next = NULL;

                c->pump_again = false;
                if (s->stopping || c->running >= (unsigned)max)
                        break;
                for (size_t i = 0; i < c->n_jobs && !next; i++)
                        if (!c->jobs[i]->running && !vs__sched_domain_has_job(c, vs_job_uuid(c->jobs[i]->job), NULL, true))
                                next = c->jobs[i];
                if (!next)
                        break;
                next->running = true;
                c->running++;
                tell_job(c, next->job);
                vs_job_start(next->job);
                c->pump_again = true;
        } while (c->pump_again);
        c->pumping = false;
}

static void
record_skip(vs_scheduler *s, sched_conn *c, const firing *f, const vs_policy *p, const char *reason)
{
        vs_store_attempt a = {
                .connection = c->uri, .domain_uuid = f->uuid, .domain_name = f->domain, .policy = p->name,
                .type = vs_snap_type_to_string(p->snapshot.type),
                .quiesce = p->snapshot.quiesce != VS_QUIESCE_OFF, .scheduled = f->scheduled,
                .started = vs__sched_now_s(s),
        };
        vs_err e = { 0 };

        s->st.skipped++;
        vs_log_warning(s->o.log, "%s/%s: skipped: %s", f->domain, p->name, reason);
        if (vs_store_record_skipped(s->o.store, &a, reason, NULL, &e) < 0)
                vs_log_err(s->o.log, "%s/%s: cannot record the skip: %s", f->domain, p->name, e.msg);
        if (!s->stopping)
                notify(s, f->cfg->cfg, p->name, VS_NOTIFY_SKIPPED, c->uri, f->domain, f->uuid, NULL, reason);
}

void
vs__sched_dispatch_pending(sched_conn *c)
{
        vs_scheduler *s = c->s;
        firing *pending;
        size_t n;

        retry_waiting(s, false);
        pending = c->pending;
        n = c->n_pending;
        /* Detach first: recording may re-enter (a job finishing at once). */
        c->pending = NULL;
        c->n_pending = c->cap_pending = 0;
        for (size_t i = 0; i < n; i++) {
                firing *f = &pending[i];
                const vs_policy *p = &f->cfg->cfg->policies[f->policy_index];
                const vs_domain_info *d = conn_domain_by_uuid(c, f->uuid);

                const char *dropped = NULL;
                bool adhoc = f->origin == VS_ORIGIN_MANUAL;

                if (s->stopping) {
                        record_skip(s, c, f, p, "the daemon was stopping");
                        dropped = "skipped: the daemon was stopping";
                } else if (!d) {
                        vs_log_info(s->o.log, "%s/%s: domain is gone; firing dropped", f->domain, p->name);
                        dropped = "the domain is gone";
                } else if (f->kind == VS_JOB_SNAPSHOT && s->mode == MODE_DAEMON && !adhoc &&
                           !vs_plan_domain_matches(p, d)) {
                        vs_log_info(s->o.log, "%s/%s: domain no longer matches; firing dropped", f->domain, p->name);
                } else if (!adhoc && vs__sched_domain_has_job(c, f->uuid, p->name, false)) {
                        /* An ad-hoc request waits its turn instead (pump). */
                        record_skip(s, c, f, p, "the previous job for this domain and policy is still running");
                } else if (f->origin == VS_ORIGIN_SCHEDULE && catch_up_covers(c, f, p)) {
                        /* logged and recorded there */
                } else if (enqueue_job(c, f, p, d->name) < 0) {
                        vs_log_err(s->o.log, "%s/%s: cannot queue a job: out of memory", f->domain, p->name);
                        s->st.failed++;
                        dropped = "out of memory";
                }
                firing_release(f, dropped);
        }
        free(pending);
        pump(c);
        vs__sched_notify_status(s);
}

/* Catch-up (daemon start and reconnect) and `run --once`: one firing for
 * every matched (domain, policy) that missed its most recent slot. */
/* Queue a firing for every (domain, policy) of c that is due now (only:
 * that policy).  next_to_daemon: `run --once` asked of the running daemon:
 * leave out what already has a job, and let the snapshot serve the next
 * regular slot too, as a catch-up does. */
static void
queue_due(sched_conn *c, bool catch_up_only, const char *only, bool next_to_daemon)
{
        vs_scheduler *s = c->s;
        const vs_config *cfg = s->cfg->cfg;
        int64_t now = vs__sched_now_s(s);

        for (size_t pi = 0; pi < cfg->n_policies; pi++) {
                const vs_policy *p = &cfg->policies[pi];

                if (!p->enabled || (catch_up_only && !p->catch_up))
                        continue;
                if (only && strcmp(only, p->name) != 0)
                        continue;
                if (strcmp(vs_plan_policy_uri(p, s->connect_override), c->uri) != 0)
                        continue;
                for (size_t d = 0; d < c->domains.n; d++) {
                        const vs_domain_info *dom = &c->domains.items[d];
                        int64_t sched = 0, created = 0, offset, last, missed;
                        vs_err e = { 0 };
                        bool has;
                        int r;

                        if (!vs_plan_domain_matches(p, dom))
                                continue;
                        if (next_to_daemon && vs__sched_domain_has_job(c, dom->uuid, p->name, false))
                                continue;
                        r = vs_store_last_success(s->o.store, c->uri, dom->uuid, p->name, &sched, &created, &e);
                        if (r < 0 && r != -ENOENT) {
                                vs_log_err(s->o.log, "%s/%s: cannot read the last success: %s", dom->name, p->name, e.msg);
                                continue;
                        }
                        has = r == 0;
                        offset = vs_plan_offset(c->uri, dom->uuid, p->name, p->jitter);
                        last = created > sched ? created : sched;
                        if (!vs_plan_is_due(p->schedule, cfg->tz, offset, has, last, now))
                                continue;
                        /* The attempt serves the newest missed slot (none:
                         * never snapshotted, it serves now). */
                        missed = has ? vs_plan_last_deadline(p->schedule, cfg->tz, offset, last, now) : INT64_MIN;
                        if (missed == INT64_MIN)
                                missed = now;
                        if (next_to_daemon && note_catch_up(c, dom->uuid, p->name, now) < 0)
                                vs_log_err(s->o.log, "%s/%s: out of memory", dom->name, p->name);
                        if (catch_up_only) {
                                char buf[32];

                                vs_log_info(s->o.log, "%s/%s: catching up (%s%s)", dom->name, p->name,
                                            has ? "missed the slot of " : "no snapshot yet",
                                            has ? vs_time_format_utc(missed, buf, sizeof(buf)) : "");
                                if (note_catch_up(c, dom->uuid, p->name, now) < 0)
                                        vs_log_err(s->o.log, "%s/%s: out of memory", dom->name, p->name);
                        }
                        if (push_firing(c, dom->name, dom->uuid, pi, missed, VS_JOB_SNAPSHOT,
                                        catch_up_only ? VS_ORIGIN_CATCH_UP : VS_ORIGIN_RUN) < 0)
                                vs_log_err(s->o.log, "%s/%s: out of memory", dom->name, p->name);
                }
        }
}

void
vs__sched_queue_due(sched_conn *c, bool catch_up_only)
{
        queue_due(c, catch_up_only, c->s->only_policy, false);
}

int
vs_scheduler_request_run(vs_scheduler *s, const char *policy, vs_adhoc_done_fn done, void *data,
                         unsigned *ret_jobs, unsigned *ret_down, vs_err *err)
{
        unsigned jobs = 0, down = 0;

        *ret_jobs = *ret_down = 0;
        if (s->mode != MODE_DAEMON || s->stopping)
                return vs_err_set(err, ESHUTDOWN, "scheduler", "the daemon is stopping");
        if (policy && !find_policy(s->cfg->cfg, policy, NULL))
                return vs_err_set(err, ENOENT, "scheduler", "no policy named '%s'", policy);
        for (size_t i = 0; i < s->n_conns; i++) {
                sched_conn *c = s->conns[i];
                size_t before = c->n_pending;

                if (!c->up || !c->listed) {
                        down++;
                        continue;
                }
                queue_due(c, false, policy, true);
                for (size_t k = before; k < c->n_pending; k++) {
                        c->pending[k].done = done;
                        c->pending[k].done_data = data;
                        jobs++;
                }
        }
        /* Counted first: a job may finish at once. */
        *ret_jobs = jobs;
        *ret_down = down;
        for (size_t i = 0; i < s->n_conns; i++)
                if (s->conns[i]->up && s->conns[i]->listed && !s->conns[i]->busy)
                        vs__sched_dispatch_pending(s->conns[i]);
        return 0;
}

typedef struct pin_wait {
        vs_pin_done_fn done;
        void *data;
        unsigned changed;
} pin_wait;

static void
on_pin_committed(void *data, const vs_err *err)
{
        pin_wait *w = data;

        w->done(w->changed, err, w->data);
        free(w);
}

int
vs_scheduler_request_pin(vs_scheduler *s, bool pin, const char *domain, const char *snapshot, const char *reason,
                         vs_pin_done_fn done, void *data, vs_err *err)
{
        pin_wait *w;
        int r;

        if (s->mode != MODE_DAEMON || s->stopping)
                return vs_err_set(err, ESHUTDOWN, "scheduler", "the daemon is stopping");
        w = calloc(1, sizeof(*w));
        if (!w)
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        w->done = done;
        w->data = data;
        r = pin ? vs_store_pin(s->o.store, domain, snapshot, reason, vs__sched_now_s(s), &w->changed, err)
                : vs_store_unpin(s->o.store, domain, snapshot, vs__sched_now_s(s), &w->changed, err);
        if (r < 0) {
                free(w);
                return r;
        }
        /* Answered once it is on disk; a pinned snapshot is then safe from
         * the next prune, which reads the same store. */
        if (s->commit)
                vs_commit_then(s->commit, on_pin_committed, w);
        else
                on_pin_committed(w, NULL);
        return 0;
}

typedef struct record_wait {
        vs_recorded_fn done;
        void *data;
} record_wait;

static void
on_event_committed(void *data, const vs_err *err)
{
        record_wait *w = data;

        w->done(err, w->data);
        free(w);
}

int
vs_scheduler_record_event(vs_scheduler *s, const vs_store_event *ev, vs_recorded_fn done, void *data,
                          vs_err *err)
{
        record_wait *w = calloc(1, sizeof(*w));
        int r;

        if (!w)
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        r = vs_store_append_event(s->o.store, ev, err);
        if (r < 0) {
                free(w);
                return r;
        }
        w->done = done;
        w->data = data;
        if (s->commit)
                vs_commit_then(s->commit, on_event_committed, w);
        else
                on_event_committed(w, NULL);
        return 0;
}

/* The policy an ad-hoc snapshot without --policy uses: the first enabled
 * one (file order) on c whose selectors match d. */
static const vs_policy *
covering_policy(const vs_scheduler *s, const sched_conn *c, const vs_domain_info *d, size_t *ret_index)
{
        const vs_config *cfg = s->cfg->cfg;

        for (size_t pi = 0; pi < cfg->n_policies; pi++) {
                const vs_policy *p = &cfg->policies[pi];

                if (p->enabled && strcmp(vs_plan_policy_uri(p, s->connect_override), c->uri) == 0 &&
                    vs_plan_domain_matches(p, d)) {
                        *ret_index = pi;
                        return p;
                }
        }
        return NULL;
}

static int
adhoc_fill(firing *f, int64_t ttl, const char *note, const char *requested_by)
{
        f->ttl = ttl;
        if ((note && !(f->note = strdup(note))) || (requested_by && !(f->requested_by = strdup(requested_by))))
                return -ENOMEM;
        return 0;
}

const vs_policy *
vs__sched_find_policy(const vs_scheduler *s, const char *name, size_t *ret_index)
{
        return find_policy(s->cfg->cfg, name, ret_index);
}

const vs_domain_info *
vs__sched_conn_domain(const sched_conn *c, const char *name)
{
        return conn_domain_by_name(c, name);
}

const vs_policy *
vs__sched_covering_policy(const vs_scheduler *s, const sched_conn *c, const vs_domain_info *d, size_t *ret_index)
{
        return covering_policy(s, c, d, ret_index);
}

static int check_adhoc(const vs_adhoc_request *q, const vs_policy *p, vs_err *err);

int
vs__sched_queue_adhoc(sched_conn *c, const vs_domain_info *d, size_t pi, const vs_adhoc_request *q,
                      vs_adhoc_done_fn done, void *data, vs_err *err)
{
        const vs_policy *p = &c->s->cfg->cfg->policies[pi];
        firing *f;
        int r;

        r = check_adhoc(q, p, err);
        if (r < 0)
                return r;
        f = push_firing_get(c, d->name, d->uuid, pi, vs__sched_now_s(c->s), VS_JOB_SNAPSHOT, VS_ORIGIN_MANUAL);
        if (!f)
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        if (adhoc_fill(f, q->ttl, q->note, q->requested_by) < 0) {
                c->n_pending--;
                firing_release(f, NULL);
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        }
        f->done = done;
        f->done_data = data;
        if (!c->busy)
                vs__sched_dispatch_pending(c);
        return 0;
}

void
vs__sched_queue_oneshot(sched_conn *c)
{
        vs_scheduler *s = c->s;
        const vs_config *cfg = s->cfg->cfg;
        int64_t now = vs__sched_now_s(s);

        switch (s->mode) {
        case MODE_DUE:
                vs__sched_queue_due(c, false);
                break;
        case MODE_SNAPSHOT: {
                size_t pi = 0;
                const vs_domain_info *d = conn_domain_by_name(c, s->os_domain);
                const vs_policy *p = s->os_policy ? find_policy(cfg, s->os_policy, &pi) : NULL;
                firing *f;

                if (!s->os_policy) {
                        /* --ttl without --policy: the first covering policy of
                         * this connection; one snapshot even when several
                         * connections have a domain of that name. */
                        if (s->os_queued || !d)
                                break;
                        p = covering_policy(s, c, d, &pi);
                        if (!p)
                                break;
                        vs_log_info(s->o.log, "%s: using policy %s (the first that covers it)", d->name, p->name);
                } else if (!d) {
                        vs_log_err(s->o.log, "no domain '%s' on %s", s->os_domain, c->uri);
                        s->st.failed++;
                        break;
                }
                if (!vs_plan_domain_matches(p, d))
                        vs_log_warning(s->o.log, "%s is not matched by policy %s; snapshotting it anyway", d->name,
                                       p->name);
                f = push_firing_get(c, d->name, d->uuid, pi, now, VS_JOB_SNAPSHOT, VS_ORIGIN_MANUAL);
                if (!f || adhoc_fill(f, s->os_ttl, s->os_note, s->os_requested_by) < 0) {
                        vs_log_err(s->o.log, "%s/%s: out of memory", d->name, p->name);
                        s->st.failed++;
                        break;
                }
                s->os_queued = true;
                break;
        }
        case MODE_REVERT:
                vs__sched_revert_oneshot(c);
                break;
        case MODE_PRUNE:
                for (size_t pi = 0; pi < cfg->n_policies; pi++) {
                        const vs_policy *p = &cfg->policies[pi];

                        if (!p->enabled || (s->os_policy && strcmp(s->os_policy, p->name) != 0))
                                continue;
                        if (strcmp(vs_plan_policy_uri(p, s->connect_override), c->uri) != 0)
                                continue;
                        if (!p->prune) {
                                vs_log_notice(s->o.log, "policy %s has prune: false; not pruning it", p->name);
                                continue;
                        }
                        for (size_t d = 0; d < c->domains.n; d++) {
                                const vs_domain_info *dom = &c->domains.items[d];

                                if (s->os_domain && strcmp(s->os_domain, dom->name) != 0)
                                        continue;
                                if (!vs_plan_domain_matches(p, dom))
                                        continue;
                                push_firing(c, dom->name, dom->uuid, pi, now, VS_JOB_PRUNE, VS_ORIGIN_RUN);
                        }
                }
                break;
        default:
                break;
        }
}
/* ---- lifecycle ------------------------------------------------------------------ */

static void
on_signal_closed(uv_handle_t *h)
{
        free(h);
}

static void
shutdown_handles(vs_scheduler *s)
{
        if (s->closed)
                return;
        s->closed = true;
        vs_clock_timer_free(s->plan_timer);
        vs_clock_timer_free(s->grace_timer);
        vs_clock_timer_free(s->watchdog_timer);
        vs_clock_timer_free(s->expiry_timer);
        vs_clock_timer_free(s->status_timer);
        s->plan_timer = s->grace_timer = s->watchdog_timer = s->expiry_timer = s->status_timer = NULL;
        for (size_t i = 0; i < s->n_conns; i++) {
                vs_clock_timer_free(s->conns[i]->retry_timer);
                s->conns[i]->retry_timer = NULL;
                vs_virt_watch_stop(s->conns[i]->watch);
                s->conns[i]->watch = NULL;
        }
        for (size_t i = 0; i < VS_ELEMENTSOF(s->signals); i++)
                if (s->signals[i]) {
                        uv_signal_stop(s->signals[i]);
                        uv_close((uv_handle_t *)s->signals[i], on_signal_closed);
                        s->signals[i] = NULL;
                }
        if (s->mode == MODE_DAEMON) {
                char msg[160];

                snprintf(msg, sizeof(msg), "daemon stopped: %lu created, %lu failed, %lu skipped, %lu cancelled",
                         s->st.created, s->st.failed, s->st.skipped, s->st.cancelled);
                vs__sched_record_event(s, VS_EVENT_STOPPED, NULL, msg);
                vs_log_notice(s->o.log, "%s", msg);
        }
        /* The last writes commit here; later ones commit one by one. */
        vs_commit_free(s->commit);
        s->commit = NULL;
}

static bool
idle(const vs_scheduler *s)
{
        if (s->n_reverts > 0)
                return false;
        for (size_t i = 0; i < s->n_conns; i++) {
                const sched_conn *c = s->conns[i];

                if (c->busy || c->n_jobs > 0)
                        return false;
        }
        return true;
}

/* A daemon that has gone idle hands the heap it no longer uses back to the
 * kernel: the start-up burst (listing and reconciling every domain, on the
 * worker threads' malloc arenas) leaves ~1 MiB of freed memory that glibc
 * keeps otherwise, for an idle that may last weeks (bench/README.md, idle).
 * It runs once per burst of work, never while any is in flight. */
static void
release_memory(const vs_scheduler *s)
{
#ifdef __GLIBC__
        if (s->mode == MODE_DAEMON && !s->stopping && idle(s))
                malloc_trim(0);
#else
        (void)s;
#endif
}

void
vs__sched_check_finished(vs_scheduler *s)
{
        bool oneshot_done = s->mode != MODE_DAEMON && s->mode != MODE_IDLE;

        if (s->closed)
                return;
        release_memory(s);
        for (size_t i = 0; oneshot_done && i < s->n_conns; i++)
                if (s->conns[i]->wanted && !s->conns[i]->oneshot_done)
                        oneshot_done = false;
        if (oneshot_done && s->mode == MODE_REVERT)
                vs__sched_revert_unfound(s);
        if ((s->stopping || oneshot_done) && idle(s))
                shutdown_handles(s);
}

static void
on_grace(void *data)
{
        vs_scheduler *s = data;

        vs_log_warning(s->o.log, "grace period over: cancelling the jobs still running");
        for (size_t i = 0; i < s->n_conns; i++) {
                sched_conn *c = s->conns[i];
                /* Cancelling may finish a job and shrink the array. */
                size_t n = c->n_jobs;
                sched_job **jobs = malloc((n ? n : 1) * sizeof(*jobs));

                if (!jobs)
                        continue;
                memcpy(jobs, c->jobs, n * sizeof(*jobs));
                for (size_t k = 0; k < n; k++)
                        vs_job_cancel(jobs[k]->job);
                free(jobs);
        }
}

void
vs_scheduler_stop(vs_scheduler *s)
{
        unsigned running = 0;

        if (s->stopping || s->closed)
                return;
        s->stopping = true;
        if (s->o.notify)
                sd_notify(0, "STOPPING=1");
        vs_clock_timer_disarm(s->plan_timer);
        vs_clock_timer_disarm(s->expiry_timer);
        retry_waiting(s, true);
        for (size_t i = 0; i < s->n_conns; i++) {
                sched_conn *c = s->conns[i];
                size_t n = 0;
                sched_job **queued = calloc(c->n_jobs ? c->n_jobs : 1, sizeof(*queued));

                vs_clock_timer_disarm(c->retry_timer);
                running += c->running;
                if (!c->busy)
                        vs__sched_dispatch_pending(c);
                if (!queued)
                        continue;
                for (size_t k = 0; k < c->n_jobs; k++)
                        if (!c->jobs[k]->running)
                                queued[n++] = c->jobs[k];
                /* Recorded as cancelled; each finishes at once. */
                for (size_t k = 0; k < n; k++)
                        vs_job_cancel(queued[k]->job);
                free(queued);
        }
        vs_log_notice(s->o.log, "stopping: %u jobs running, waiting up to %llds", running,
                      (long long)(s->o.grace_ms / 1000));
        if (running > 0 && s->grace_timer)
                vs_clock_timer_arm(s->grace_timer, vs_clock_now_ms(s->o.clock) + s->o.grace_ms);
        vs__sched_check_finished(s);
}

bool
vs_scheduler_finished(const vs_scheduler *s)
{
        return s->closed;
}

static void
on_watchdog(void *data)
{
        vs_scheduler *s = data;

        sd_notify(0, "WATCHDOG=1");
        vs_clock_timer_arm(s->watchdog_timer, vs_clock_now_ms(s->o.clock) + (int64_t)(s->watchdog_usec / 2000));
}

static void
on_signal(uv_signal_t *h, int signum)
{
        vs_scheduler *s = h->data;

        if (signum == SIGHUP) {
                vs_log_notice(s->o.log, "SIGHUP: reloading %s", s->config_path ? s->config_path : "(no file)");
                vs_scheduler_reload(s);
                return;
        }
        vs_log_notice(s->o.log, "%s: shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
        vs_scheduler_stop(s);
}

static int
install_signals(vs_scheduler *s)
{
        static const int sigs[] = { SIGHUP, SIGTERM, SIGINT };

        for (size_t i = 0; i < VS_ELEMENTSOF(sigs); i++) {
                uv_signal_t *h = calloc(1, sizeof(*h));
                int r;

                if (!h)
                        return -ENOMEM;
                r = uv_signal_init(s->o.loop, h);
                if (r < 0) {
                        free(h);
                        return r;
                }
                h->data = s;
                s->signals[i] = h;
                r = uv_signal_start(h, on_signal, sigs[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int
vs_scheduler_start(vs_scheduler *s)
{
        int r;

        if (s->mode != MODE_IDLE)
                return -EALREADY;
        s->mode = MODE_DAEMON;
        s->watermark = vs__sched_now_s(s);
        if (s->o.signals) {
                r = install_signals(s);
                if (r < 0)
                        return r;
        }
        if (s->o.notify && sd_watchdog_enabled(0, &s->watchdog_usec) > 0 && s->watchdog_usec >= 2000)
                on_watchdog(s);
        vs__sched_record_event(s, VS_EVENT_STARTED, NULL, "daemon started");
        r = vs__sched_ensure_conns(s, NULL);
        if (r < 0)
                return r;
        {
                size_t enabled = 0;

                for (size_t i = 0; i < s->cfg->cfg->n_policies; i++)
                        enabled += s->cfg->cfg->policies[i].enabled;
                vs_log_notice(s->o.log, "started: %zu of %zu policies enabled, on %zu connections", enabled,
                              s->cfg->cfg->n_policies, s->n_conns);
        }
        arm_expiry_timer(s);
        if (s->o.notify)
                sd_notify(0, "READY=1");
        vs__sched_notify_status(s);
        vs__sched_check_finished(s);
        return 0;
}

static int
start_oneshot(vs_scheduler *s, sched_mode mode, const char *only_policy)
{
        int r;

        if (s->mode != MODE_IDLE)
                return -EALREADY;
        s->mode = mode;
        s->watermark = vs__sched_now_s(s);
        r = vs__sched_ensure_conns(s, only_policy);
        if (r < 0)
                return r;
        vs__sched_check_finished(s);
        return 0;
}

int
vs_scheduler_run_once(vs_scheduler *s)
{
        if (s->only_policy && !find_policy(s->cfg->cfg, s->only_policy, NULL))
                return -ENOENT;
        return start_oneshot(s, MODE_DUE, s->only_policy);
}

/* What an ad-hoc request may not ask, whichever way it comes. */
static int
check_adhoc(const vs_adhoc_request *q, const vs_policy *p, vs_err *err)
{
        if (!q->domain || !q->domain[0])
                return vs_err_set(err, EINVAL, "scheduler", "a domain is required");
        if (q->ttl < 0)
                return vs_err_set(err, EINVAL, "scheduler", "a lifetime must be positive");
        if (!q->policy && q->ttl <= 0)
                return vs_err_set(err, EINVAL, "scheduler",
                                  "a policy is required (only a snapshot with a lifetime, --ttl, may leave it out)");
        if (!p)
                return 0;
        if (!p->enabled)
                return vs_err_set(err, EPERM, "scheduler", "policy '%s' is disabled (enabled: false)", p->name);
        /* prune: false promises that virtsnap deletes nothing of this policy. */
        if (q->ttl > 0 && !p->prune)
                return vs_err_set(err, EPERM, "scheduler",
                                  "policy '%s' has prune: false: virtsnap deletes none of its snapshots, so it "
                                  "cannot end a lifetime (--ttl)", p->name);
        return 0;
}

int
vs_scheduler_snapshot_now(vs_scheduler *s, const vs_adhoc_request *q, vs_err *err)
{
        const vs_policy *p = q->policy ? find_policy(s->cfg->cfg, q->policy, NULL) : NULL;
        int r;

        if (q->policy && !p)
                return vs_err_set(err, ENOENT, "scheduler", "no policy named '%s'", q->policy);
        r = check_adhoc(q, p, err);
        if (r < 0)
                return r;
        s->os_domain = strdup(q->domain);
        s->os_policy = q->policy ? strdup(q->policy) : NULL;
        s->os_ttl = q->ttl;
        s->os_note = q->note ? strdup(q->note) : NULL;
        s->os_requested_by = q->requested_by ? strdup(q->requested_by) : NULL;
        if (!s->os_domain || (q->policy && !s->os_policy) || (q->note && !s->os_note) ||
            (q->requested_by && !s->os_requested_by))
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        return start_oneshot(s, MODE_SNAPSHOT, q->policy);
}

/* Still connecting for the first time (the daemon has just started, e.g. by
 * socket activation): a request for it waits instead of failing. */
static bool
first_connect(const sched_conn *c)
{
        return c && !c->listed && !c->failed_once;
}

/* 0 queued (done will be called), 1 wait for a connection's first listing,
 * or -errno. */
static int
adhoc_resolve(vs_scheduler *s, const vs_adhoc_request *q, vs_adhoc_done_fn done, void *data,
              const char **ret_policy, vs_err *err)
{
        const vs_config *cfg = s->cfg->cfg;
        const vs_policy *p = NULL;
        const vs_domain_info *d = NULL;
        sched_conn *c = NULL;
        bool connecting = false;
        size_t pi = 0;
        int r;

        if (s->mode != MODE_DAEMON || s->stopping)
                return vs_err_set(err, ESHUTDOWN, "scheduler", "the daemon is stopping");
        if (q->policy && !(p = find_policy(cfg, q->policy, &pi)))
                return vs_err_set(err, ENOENT, "scheduler", "no policy named '%s'", q->policy);
        r = check_adhoc(q, p, err);
        if (r < 0)
                return r;
        if (p) {
                c = vs__sched_find_conn(s, vs_plan_policy_uri(p, s->connect_override));
                if (first_connect(c))
                        return 1;
                if (!c || !c->up || !c->listed)
                        return vs_err_set(err, EHOSTDOWN, "scheduler", "policy %s's connection %s is down", p->name,
                                          vs_plan_policy_uri(p, s->connect_override));
                d = conn_domain_by_name(c, q->domain);
        } else {
                for (size_t i = 0; i < s->n_conns && !p; i++) {
                        c = s->conns[i];
                        connecting |= first_connect(c);
                        if (!c->up || !c->listed || !(d = conn_domain_by_name(c, q->domain)))
                                continue;
                        p = covering_policy(s, c, d, &pi);
                }
                if (!d && connecting)
                        return 1;
                if (d && !p)
                        return vs_err_set(err, ENOENT, "scheduler",
                                          "no enabled policy covers domain '%s'; name one with --policy", q->domain);
                if (p && (r = check_adhoc(q, p, err)) < 0)
                        return r;
        }
        if (!d)
                return vs_err_set(err, ENOENT, "scheduler", "no domain '%s'%s%s", q->domain, p ? " on " : "",
                                  p ? c->uri : " on any connection that is up");
        vs_log_info(s->o.log, "%s/%s: ad-hoc snapshot requested%s%s", d->name, p->name,
                    q->requested_by ? " by " : "", q->requested_by ? q->requested_by : "");
        /* The domain list is as fresh as the last refresh or event; the
         * job itself fails cleanly if the domain went away since. */
        r = vs__sched_queue_adhoc(c, d, pi, q, done, data, err);
        if (r < 0)
                return r;
        if (ret_policy)
                *ret_policy = p->name;
        return 0;
}

static void
adhoc_wait_clear(adhoc_wait *w)
{
        free(w->domain);
        free(w->policy);
        free(w->note);
        free(w->requested_by);
}

int
vs_scheduler_request_snapshot(vs_scheduler *s, const vs_adhoc_request *q, vs_adhoc_done_fn done, void *data,
                              const char **ret_policy, vs_err *err)
{
        adhoc_wait *w;
        int r;

        if (ret_policy)
                *ret_policy = NULL;
        r = adhoc_resolve(s, q, done, data, ret_policy, err);
        if (r <= 0)
                return r;
        w = realloc(s->waiting, (s->n_waiting + 1) * sizeof(*w));
        if (!w)
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        s->waiting = w;
        w = &s->waiting[s->n_waiting];
        *w = (adhoc_wait){
                .domain = strdup(q->domain), .policy = q->policy ? strdup(q->policy) : NULL,
                .note = q->note ? strdup(q->note) : NULL,
                .requested_by = q->requested_by ? strdup(q->requested_by) : NULL,
                .ttl = q->ttl, .done = done, .done_data = data,
        };
        if (!w->domain || (q->policy && !w->policy) || (q->note && !w->note) ||
            (q->requested_by && !w->requested_by)) {
                adhoc_wait_clear(w);
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        }
        s->n_waiting++;
        vs_log_info(s->o.log, "%s: ad-hoc snapshot requested; waiting for the first connection", q->domain);
        return 0;
}

/* After each listing: requests that waited for a first connection go
 * ahead, or hear why not.  ending: the scheduler stops. */
static void
retry_waiting(vs_scheduler *s, bool ending)
{
        adhoc_wait *list = s->waiting;
        size_t n = s->n_waiting, keep = 0;

        if (s->retrying || n == 0)
                return;
        s->retrying = true;
        s->waiting = NULL;
        s->n_waiting = 0;
        for (size_t i = 0; i < n; i++) {
                adhoc_wait *w = &list[i];
                vs_adhoc_request q = {
                        .domain = w->domain, .policy = w->policy, .ttl = w->ttl, .note = w->note,
                        .requested_by = w->requested_by,
                };
                vs_err e = { 0 };
                int r = ending ? vs_err_set(&e, ESHUTDOWN, "scheduler", "the daemon is stopping")
                               : adhoc_resolve(s, &q, w->done, w->done_data, NULL, &e);

                if (r == 1) {
                        list[keep++] = *w;
                        continue;
                }
                if (r < 0) {
                        vs_adhoc_result res = { .domain = w->domain, .policy = w->policy, .error = e.msg };

                        vs_log_info(s->o.log, "%s: ad-hoc snapshot not taken: %s", w->domain, e.msg);
                        w->done(&res, w->done_data);
                }
                adhoc_wait_clear(w);
        }
        /* Requests made meanwhile (from callbacks) come after the ones kept. */
        if (s->n_waiting > 0) {
                adhoc_wait *m = realloc(list, (keep + s->n_waiting) * sizeof(*m));

                for (size_t i = 0; !m && i < s->n_waiting; i++) {
                        vs_adhoc_result res = { .domain = s->waiting[i].domain, .error = "out of memory" };

                        s->waiting[i].done(&res, s->waiting[i].done_data);
                        adhoc_wait_clear(&s->waiting[i]);
                }
                if (m) {
                        memcpy(&m[keep], s->waiting, s->n_waiting * sizeof(*m));
                        list = m;
                        keep += s->n_waiting;
                }
                free(s->waiting);
        }
        if (keep == 0) {
                free(list);
                list = NULL;
        }
        s->waiting = list;
        s->n_waiting = keep;
        s->retrying = false;
}

int
vs_scheduler_request_prune(vs_scheduler *s, const char *policy, const char *domain, vs_adhoc_done_fn done,
                           void *data, unsigned *ret_jobs, unsigned *ret_down, vs_err *err)
{
        const vs_config *cfg = s->cfg->cfg;
        unsigned jobs = 0, down = 0;

        if (s->mode != MODE_DAEMON || s->stopping)
                return vs_err_set(err, ESHUTDOWN, "scheduler", "the daemon is stopping");
        if (policy && !find_policy(cfg, policy, NULL))
                return vs_err_set(err, ENOENT, "scheduler", "no policy named '%s'", policy);
        for (size_t pi = 0; pi < cfg->n_policies; pi++) {
                const vs_policy *p = &cfg->policies[pi];
                sched_conn *c;

                if (!p->enabled || !p->prune || (policy && strcmp(policy, p->name) != 0))
                        continue;
                c = vs__sched_find_conn(s, vs_plan_policy_uri(p, s->connect_override));
                if (!c || !c->up || !c->listed) {
                        down++;
                        continue;
                }
                for (size_t d = 0; d < c->domains.n; d++) {
                        const vs_domain_info *dom = &c->domains.items[d];
                        firing *f;

                        if ((domain && strcmp(domain, dom->name) != 0) || !vs_plan_domain_matches(p, dom))
                                continue;
                        /* MANUAL: it waits behind a job of the same series
                         * instead of being skipped. */
                        f = push_firing_get(c, dom->name, dom->uuid, pi, vs__sched_now_s(s), VS_JOB_PRUNE,
                                            VS_ORIGIN_MANUAL);
                        if (!f) {
                                /* What is queued stays queued (its done will
                                 * be called); the rest is not. */
                                vs_log_err(s->o.log, "prune request: out of memory; %u jobs queued", jobs);
                                goto out;
                        }
                        f->done = done;
                        f->done_data = data;
                        jobs++;
                }
        }
out:
        *ret_jobs = jobs;
        *ret_down = down;
        for (size_t i = 0; i < s->n_conns; i++)
                if (s->conns[i]->n_pending > 0 && !s->conns[i]->busy)
                        vs__sched_dispatch_pending(s->conns[i]);
        return 0;
}

int
vs_scheduler_prune_now(vs_scheduler *s, const char *policy, const char *domain, vs_err *err)
{
        if (policy && !find_policy(s->cfg->cfg, policy, NULL))
                return vs_err_set(err, ENOENT, "scheduler", "no policy named '%s'", policy);
        if ((domain && !(s->os_domain = strdup(domain))) || (policy && !(s->os_policy = strdup(policy))))
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        return start_oneshot(s, MODE_PRUNE, policy);
}

int
vs_scheduler_replace_config(vs_scheduler *s, vs_config *cfg)
{
        cfg_ref *old = s->cfg, *n = cfg_ref_new(cfg);
        char msg[160];
        int r;

        if (!n) {
                vs_config_free(cfg);
                return -ENOMEM;
        }
        s->cfg = n;
        /* The plan points into the config: rebuild it before the old one can go. */
        vs__sched_replan(s);
        cfg_ref_put(old);
        r = vs__sched_ensure_conns(s, NULL);
        if (r < 0)
                return r;
        /* What reconcile adopts and hands over (adopt_from) depends on the
         * file: look at every connection again under the new one. */
        for (size_t i = 0; s->mode == MODE_DAEMON && !s->stopping && i < s->n_conns; i++)
                if (s->conns[i]->listed) {
                        s->conns[i]->reconcile_pending = true;
                        vs__sched_start_refresh(s->conns[i]);
                }
        s->st.reloads++;
        snprintf(msg, sizeof(msg), "configuration reloaded: %zu policies", cfg->n_policies);
        vs__sched_record_event(s, VS_EVENT_RELOADED, NULL, msg);
        vs_log_notice(s->o.log, "%s", msg);
        vs__sched_notify_status(s);
        /* The old plan and config are freed: an idle daemon trims now,
         * not at its next job (that may be weeks away). */
        vs__sched_check_finished(s);
        return 0;
}

int
vs_scheduler_reload(vs_scheduler *s)
{
        vs_diags diags = { 0 };
        vs_config *cfg = NULL;
        int r;

        if (s->stopping || s->closed)
                return -ECANCELED;
        if (!s->config_path)
                return -ENOENT;
        if (s->o.notify)
                sd_notify(0, "RELOADING=1");
        r = vs_config_load(s->config_path, &cfg, &diags);
        if (r < 0) {
                char msg[300];

                for (size_t i = 0; i < diags.n; i++) {
                        char line[1024];

                        vs_diag_format(&diags.items[i], line, sizeof(line));
                        vs_log_err(s->o.log, "%s", line);
                }
                snprintf(msg, sizeof(msg), "reload of %s rejected (%zu problems); the previous policies stay in force",
                         s->config_path, diags.n);
                vs_log_err(s->o.log, "%s", msg);
                vs__sched_record_event(s, VS_EVENT_NOTICE, NULL, msg);
                vs_diags_clear(&diags);
                s->st.reload_failures++;
                if (s->o.notify)
                        sd_notify(0, "READY=1");
                return r;
        }
        vs_diags_clear(&diags);
        if (s->cfg->cfg->database && cfg->database && strcmp(s->cfg->cfg->database, cfg->database) != 0)
                vs_log_warning(s->o.log, "database: changes need a restart; still using %s", s->cfg->cfg->database);
        r = vs_scheduler_replace_config(s, cfg);
        if (s->o.notify)
                sd_notify(0, "READY=1");
        return r;
}

int
vs_scheduler_new(const vs_scheduler_opts *o, vs_config *cfg, vs_scheduler **ret, vs_err *err)
{
        vs_scheduler *s = calloc(1, sizeof(*s));
        int r;

        if (!s) {
                vs_config_free(cfg);
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        }
        s->o = *o;
        if (s->o.grace_ms <= 0)
                s->o.grace_ms = 60000;
        s->cfg = cfg_ref_new(cfg);
        if (!s->cfg) {
                vs_config_free(cfg);
                free(s);
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        }
        if ((o->config_path && !(s->config_path = strdup(o->config_path))) ||
            (o->connect_override && !(s->connect_override = strdup(o->connect_override))) ||
            (o->only_policy && !(s->only_policy = strdup(o->only_policy)))) {
                r = -ENOMEM;
                goto fail;
        }
        s->o.config_path = s->config_path;
        s->o.connect_override = s->connect_override;
        s->o.only_policy = s->only_policy;
        r = vs_commit_new(o->loop, o->store, o->log, &s->commit);
        if (r >= 0)
                r = vs_clock_timer_new(o->clock, on_plan_timer, s, &s->plan_timer);
        if (r >= 0)
                r = vs_clock_timer_new(o->clock, on_grace, s, &s->grace_timer);
        if (r >= 0)
                r = vs_clock_timer_new(o->clock, on_watchdog, s, &s->watchdog_timer);
        if (r >= 0)
                r = vs_clock_timer_new(o->clock, on_expiry_timer, s, &s->expiry_timer);
        if (r >= 0)
                r = vs_clock_timer_new(o->clock, on_status_timer, s, &s->status_timer);
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        vs_scheduler_free(s);
        return vs_err_set(err, -r, "scheduler", "cannot create the scheduler: %s", strerror(-r));
}

void
vs_scheduler_free(vs_scheduler *s)
{
        if (!s)
                return;
        if (!s->closed) {
                s->mode = MODE_IDLE;
                shutdown_handles(s);
        }
        vs__sched_reverts_free(s);
        for (size_t i = 0; i < s->n_conns; i++) {
                sched_conn *c = s->conns[i];

                for (size_t k = 0; k < c->n_pending; k++)
                        firing_release(&c->pending[k], "the scheduler was shut down");
                free(c->pending);
                for (size_t k = 0; k < c->n_jobs; k++) {
                        if (c->jobs[k]->done) {
                                vs_adhoc_result res = {
                                        .domain = vs_job_domain(c->jobs[k]->job),
                                        .policy = vs_job_policy(c->jobs[k]->job),
                                        .error = "the scheduler was shut down",
                                };

                                c->jobs[k]->done(&res, c->jobs[k]->done_data);
                        }
                        vs_job_free(c->jobs[k]->job);
                        cfg_ref_put(c->jobs[k]->cfg);
                        free(c->jobs[k]);
                }
                free(c->jobs);
                for (size_t k = 0; k < c->n_catch_ups; k++)
                        free(c->catch_ups[k].policy);
                free(c->catch_ups);
                vs_domain_list_clear(&c->domains);
                vs__sched_known_clear(c);
                free(c->rec_slices);
                vs_virt_free(c->virt);
                free(c->uri);
                free(c);
        }
        free(s->conns);
        vs_plan_free(s->plan);
        cfg_ref_put(s->cfg);
        free(s->config_path);
        free(s->connect_override);
        free(s->only_policy);
        free(s->os_domain);
        free(s->os_policy);
        free(s->os_note);
        free(s->os_requested_by);
        retry_waiting(s, true);
        free(s->waiting);
        free(s);
}

void
vs_scheduler_get_stats(const vs_scheduler *s, vs_scheduler_stats *ret)
{
        *ret = s->st;
        ret->connections = (unsigned)s->n_conns;
        ret->connections_up = 0;
        ret->running = ret->queued = ret->in_flight = ret->hooks_running = 0;
        for (size_t i = 0; i < s->n_conns; i++) {
                const sched_conn *c = s->conns[i];

                ret->connections_up += c->up;
                ret->running += c->running;
                ret->queued += (unsigned)c->n_jobs - c->running;
                ret->in_flight += c->busy;
                for (size_t k = 0; k < c->n_jobs; k++) {
                        ret->in_flight += vs_job_in_flight(c->jobs[k]->job);
                        ret->hooks_running += vs_job_hook_running(c->jobs[k]->job);
                }
        }
        ret->in_flight += vs__sched_reverts_in_flight(s);
        ret->next_deadline = vs_plan_next_deadline(s->plan);
}

const vs_config *
vs_scheduler_config(const vs_scheduler *s)
{
        return s->cfg->cfg;
}
