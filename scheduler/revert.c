/* `virtsnap revert DOMAIN SNAPSHOT`, on the loop thread, next to the jobs:
 *
 *   CHECK (worker: list the tree) -- refused / dry run --> done
 *     | libvirt 9.0 can revert there; the safety policy takes internal snapshots
 *     v
 *   SAFETY: an ad-hoc snapshot with a lifetime through the ordinary job queue
 *     | (one job per domain, concurrency, recording) -- failed --> done, nothing reverted
 *     v
 *   REVERT (worker: the backend re-checks and calls virDomainRevertToSnapshot)
 *     v
 *   record `reverted` / `revert-failed` (who, from, to, the safety snapshot) --> done
 *
 * The safety snapshot must be internal: an external one would put the
 * disks on an overlay, below which libvirt 9.0 cannot find an internal
 * snapshot to revert to (revert-plan.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler-private.h"
#include "timefmt.h"

typedef enum revert_step {
        STEP_CHECK,
        STEP_SAFETY,
        STEP_REVERT,
} revert_step;

struct sched_revert {
        vs_scheduler *s;
        sched_conn *c;
        uv_work_t work;
        revert_step step;
        char *domain, *uuid, *snapshot, *policy, *requested_by;
        size_t policy_index;
        bool have_policy, safety, dry_run;
        int64_t ttl;
        vs_revert_done_fn done;
        void *data;
        /* results */
        char *from, *safety_name;
        int64_t safety_expires;
        vs_domain_state state;
        int w_r;
        vs_err w_err;
        vs_snapshot_tree w_tree;
};

static void
revert_free(sched_revert *rv)
{
        if (!rv)
                return;
        free(rv->domain);
        free(rv->uuid);
        free(rv->snapshot);
        free(rv->policy);
        free(rv->requested_by);
        free(rv->from);
        free(rv->safety_name);
        vs_snapshot_tree_clear(&rv->w_tree);
        free(rv);
}

static sched_revert *
revert_new(vs_scheduler *s, const vs_revert_request *q, vs_revert_done_fn done, void *data)
{
        sched_revert *rv = calloc(1, sizeof(*rv));

        if (!rv)
                return NULL;
        rv->s = s;
        rv->domain = strdup(q->domain);
        rv->snapshot = strdup(q->snapshot);
        rv->policy = q->policy ? strdup(q->policy) : NULL;
        rv->requested_by = q->requested_by ? strdup(q->requested_by) : NULL;
        rv->safety = !q->no_safety;
        rv->dry_run = q->dry_run;
        rv->ttl = q->safety_ttl > 0 ? q->safety_ttl : VS_REVERT_SAFETY_TTL;
        rv->done = done;
        rv->data = data;
        if (!rv->domain || !rv->snapshot || (q->policy && !rv->policy) || (q->requested_by && !rv->requested_by)) {
                revert_free(rv);
                return NULL;
        }
        return rv;
}

static const char *
policy_name(const sched_revert *rv)
{
        return rv->have_policy ? rv->s->cfg->cfg->policies[rv->policy_index].name : NULL;
}

static void
record(sched_revert *rv, vs_event_kind kind, const char *msg)
{
        vs_store_event ev = {
                .time = vs__sched_now_s(rv->s), .kind = kind, .connection = rv->c ? rv->c->uri : NULL,
                .domain_uuid = rv->uuid, .domain_name = rv->domain, .policy = policy_name(rv),
                .snapshot = rv->snapshot, .message = msg,
        };
        vs_err e = { 0 };

        if (vs_store_append_event(rv->s->o.store, &ev, &e) < 0)
                vs_log_err(rv->s->o.log, "%s: cannot record the revert: %s", rv->domain, e.msg);
}

/* Tell the requester, forget the revert, let the scheduler finish. */
static void
finish(sched_revert *rv, const char *error)
{
        vs_scheduler *s = rv->s;
        vs_revert_result r = {
                .ok = !error, .dry_run = rv->dry_run, .domain = rv->domain, .snapshot = rv->snapshot,
                .from = rv->from, .policy = policy_name(rv), .safety = rv->safety_name,
                .safety_ttl = rv->safety ? rv->ttl : 0, .safety_expires = rv->safety_expires,
                .state = !error && !rv->dry_run ? vs_domain_state_to_string(rv->state) : NULL, .error = error,
        };

        if (error)
                vs_log_err(s->o.log, "%s: revert to %s: %s", rv->domain, rv->snapshot, error);
        if (rv->done)
                rv->done(&r, rv->data);
        for (size_t i = 0; i < s->n_reverts; i++)
                if (s->reverts[i] == rv) {
                        memmove(&s->reverts[i], &s->reverts[i + 1], (s->n_reverts - i - 1) * sizeof(*s->reverts));
                        s->n_reverts--;
                        break;
                }
        revert_free(rv);
        vs__sched_check_finished(s);
}

/* ---- REVERT --------------------------------------------------------------------- */

static void
work_revert(uv_work_t *w)
{
        sched_revert *rv = w->data;

        vs_err_clear(&rv->w_err);
        rv->w_r = vs_virt_revert_snapshot(rv->c->virt, rv->domain, rv->snapshot, &rv->state, &rv->w_err);
}

static void
after_revert(uv_work_t *w, int status)
{
        sched_revert *rv = w->data;
        char msg[1024], until[32], safety[160] = "no safety snapshot (--no-safety)";

        (void)status;
        if (rv->safety_name)
                snprintf(safety, sizeof(safety), "safety snapshot %s, kept until %s", rv->safety_name,
                         vs_time_format_utc(rv->safety_expires, until, sizeof(until)));
        if (rv->w_r < 0) {
                snprintf(msg, sizeof(msg), "revert from %s to %s failed%s%s: %s; %s", rv->from ? rv->from : "(none)",
                         rv->snapshot, rv->requested_by ? ", asked by " : "",
                         rv->requested_by ? rv->requested_by : "", rv->w_err.msg, safety);
                record(rv, VS_EVENT_REVERT_FAILED, msg);
                finish(rv, rv->w_err.msg);
                return;
        }
        snprintf(msg, sizeof(msg), "reverted from %s to %s%s%s; %s; now %s", rv->from ? rv->from : "(none)",
                 rv->snapshot, rv->requested_by ? " by " : "", rv->requested_by ? rv->requested_by : "", safety,
                 vs_domain_state_to_string(rv->state));
        record(rv, VS_EVENT_REVERTED, msg);
        vs_log_notice(rv->s->o.log, "%s: %s", rv->domain, msg);
        finish(rv, NULL);
}

static void
start_revert(sched_revert *rv)
{
        int r;

        rv->step = STEP_REVERT;
        rv->work.data = rv;
        r = uv_queue_work(rv->s->o.loop, &rv->work, work_revert, after_revert);
        if (r < 0) {
                rv->w_r = vs_err_set(&rv->w_err, -r, "scheduler", "cannot queue the revert: %s", uv_strerror(r));
                after_revert(&rv->work, 0);
        }
}

/* ---- SAFETY --------------------------------------------------------------------- */

static void
on_safety_done(const vs_adhoc_result *r, void *data)
{
        sched_revert *rv = data;
        char why[700];

        if (!r->ok || !r->snapshot) {
                snprintf(why, sizeof(why), "the safety snapshot failed (%s); nothing was reverted",
                         r->error ? r->error : "no snapshot");
                finish(rv, why);
                return;
        }
        rv->safety_name = strdup(r->snapshot);
        rv->safety_expires = r->expires;
        if (!rv->safety_name) {
                finish(rv, "out of memory");
                return;
        }
        if (rv->s->stopping) {
                finish(rv, "the daemon is stopping; the safety snapshot was taken, nothing was reverted");
                return;
        }
        start_revert(rv);
}

/* ---- CHECK ------------------------------------------------------------------------ */

static void
work_check(uv_work_t *w)
{
        sched_revert *rv = w->data;

        vs_err_clear(&rv->w_err);
        vs_snapshot_tree_clear(&rv->w_tree);
        rv->w_r = vs_virt_list_snapshots(rv->c->virt, rv->domain, &rv->w_tree, &rv->w_err);
}

static void
after_check(uv_work_t *w, int status)
{
        sched_revert *rv = w->data;
        vs_scheduler *s = rv->s;
        const vs_domain_info *d;
        const vs_policy *p = NULL;
        const char *cur = NULL;
        char why[600];
        vs_err e = { 0 };

        (void)status;
        if (rv->w_r < 0) {
                finish(rv, rv->w_err.msg);
                return;
        }
        if (vs_virt_revert_check(&rv->w_tree, rv->snapshot, &cur, why, sizeof(why)) < 0) {
                finish(rv, why);
                return;
        }
        if (cur && !(rv->from = strdup(cur))) {
                finish(rv, "out of memory");
                return;
        }
        d = vs__sched_conn_domain(rv->c, rv->domain);
        if (!d) {
                finish(rv, "the domain is gone");
                return;
        }
        if (rv->safety) {
                if (rv->policy)
                        p = vs__sched_find_policy(s, rv->policy, &rv->policy_index);
                else
                        p = vs__sched_covering_policy(s, rv->c, d, &rv->policy_index);
                if (!p) {
                        snprintf(why, sizeof(why),
                                 rv->policy ? "no policy named '%s' for the safety snapshot"
                                            : "no enabled policy covers %s, so there is none to take the safety "
                                              "snapshot under; name one with --policy, or use --no-safety",
                                 rv->policy ? rv->policy : rv->domain);
                        finish(rv, why);
                        return;
                }
                rv->have_policy = true;
                if (p->snapshot.type != VS_SNAP_INTERNAL) {
                        snprintf(why, sizeof(why),
                                 "the safety snapshot would be %s (policy %s): its overlay would hide internal "
                                 "snapshot '%s' from libvirt 9.0; name an internal policy with --policy, or use "
                                 "--no-safety",
                                 vs_snap_type_to_string(p->snapshot.type), p->name, rv->snapshot);
                        finish(rv, why);
                        return;
                }
        }
        if (rv->dry_run) {
                finish(rv, NULL);
                return;
        }
        if (!rv->safety) {
                start_revert(rv);
                return;
        }
        rv->step = STEP_SAFETY;
        {
                char note[200];
                vs_adhoc_request q = {
                        .domain = rv->domain, .policy = p->name, .ttl = rv->ttl, .note = note,
                        .requested_by = rv->requested_by,
                };

                snprintf(note, sizeof(note), "safety snapshot before revert to %s", rv->snapshot);
                if (vs__sched_queue_adhoc(rv->c, d, rv->policy_index, &q, on_safety_done, rv, &e) < 0) {
                        snprintf(why, sizeof(why), "cannot take the safety snapshot: %s; nothing was reverted", e.msg);
                        finish(rv, why);
                }
        }
}

/* Start on connection c, where the domain is. */
static int
revert_start(sched_revert *rv, sched_conn *c, const vs_domain_info *d, vs_err *err)
{
        vs_scheduler *s = rv->s;
        sched_revert **list;
        int r;

        list = realloc(s->reverts, (s->n_reverts + 1) * sizeof(*list));
        if (!list)
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        s->reverts = list;
        rv->c = c;
        if (!(rv->uuid = strdup(d->uuid)))
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        rv->step = STEP_CHECK;
        rv->work.data = rv;
        r = uv_queue_work(s->o.loop, &rv->work, work_check, after_check);
        if (r < 0)
                return vs_err_set(err, -r, "scheduler", "cannot queue the revert: %s", uv_strerror(r));
        s->reverts[s->n_reverts++] = rv;
        vs_log_info(s->o.log, "%s: revert to %s requested%s%s", rv->domain, rv->snapshot,
                    rv->requested_by ? " by " : "", rv->requested_by ? rv->requested_by : "");
        return 0;
}

static int
check_request(const vs_revert_request *q, vs_err *err)
{
        if (!q->domain || !q->domain[0] || !q->snapshot || !q->snapshot[0])
                return vs_err_set(err, EINVAL, "scheduler", "a domain and a snapshot are required");
        if (q->safety_ttl < 0)
                return vs_err_set(err, EINVAL, "scheduler", "a lifetime must be positive");
        return 0;
}

int
vs_scheduler_request_revert(vs_scheduler *s, const vs_revert_request *q, vs_revert_done_fn done, void *data,
                            vs_err *err)
{
        const vs_domain_info *d = NULL;
        sched_conn *c = NULL;
        sched_revert *rv;
        int r;

        if (s->mode != MODE_DAEMON || s->stopping)
                return vs_err_set(err, ESHUTDOWN, "scheduler", "the daemon is stopping");
        r = check_request(q, err);
        if (r < 0)
                return r;
        if (q->policy) {
                const vs_policy *p = vs__sched_find_policy(s, q->policy, NULL);

                if (!p)
                        return vs_err_set(err, ENOENT, "scheduler", "no policy named '%s'", q->policy);
                c = vs__sched_find_conn(s, vs_plan_policy_uri(p, s->connect_override));
                d = c && c->up && c->listed ? vs__sched_conn_domain(c, q->domain) : NULL;
        } else {
                for (size_t i = 0; i < s->n_conns && !d; i++) {
                        c = s->conns[i];
                        if (c->up && c->listed)
                                d = vs__sched_conn_domain(c, q->domain);
                }
        }
        if (!d)
                return vs_err_set(err, ENOENT, "scheduler", "no domain '%s' on any connection that is up", q->domain);
        rv = revert_new(s, q, done, data);
        if (!rv)
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        r = revert_start(rv, c, d, err);
        if (r < 0)
                revert_free(rv);
        return r;
}

int
vs_scheduler_revert_now(vs_scheduler *s, const vs_revert_request *q, vs_revert_done_fn done, void *data,
                        vs_err *err)
{
        int r;

        if (s->mode != MODE_IDLE)
                return vs_err_set(err, EALREADY, "scheduler", "the scheduler is already running");
        r = check_request(q, err);
        if (r < 0)
                return r;
        if (q->policy && !vs__sched_find_policy(s, q->policy, NULL))
                return vs_err_set(err, ENOENT, "scheduler", "no policy named '%s'", q->policy);
        s->os_revert = revert_new(s, q, done, data);
        free(s->os_domain);
        s->os_domain = strdup(q->domain); /* what the connections reconcile */
        if (!s->os_revert || !s->os_domain)
                return vs_err_set(err, ENOMEM, "scheduler", "out of memory");
        s->mode = MODE_REVERT;
        s->watermark = vs__sched_now_s(s);
        r = vs__sched_ensure_conns(s, q->policy);
        if (r < 0)
                return vs_err_set(err, -r, "scheduler", "cannot open the connections");
        vs__sched_check_finished(s);
        return 0;
}

void
vs__sched_revert_oneshot(sched_conn *c)
{
        vs_scheduler *s = c->s;
        sched_revert *rv = s->os_revert;
        const vs_domain_info *d;
        vs_err e = { 0 };

        if (!rv)
                return;
        if (rv->policy) {
                const vs_policy *p = vs__sched_find_policy(s, rv->policy, NULL);

                if (!p || strcmp(vs_plan_policy_uri(p, s->connect_override), c->uri) != 0)
                        return;
        }
        d = vs__sched_conn_domain(c, rv->domain);
        if (!d)
                return;
        s->os_revert = NULL;
        if (revert_start(rv, c, d, &e) < 0) {
                vs_revert_result r = { .domain = rv->domain, .snapshot = rv->snapshot, .error = e.msg };

                if (rv->done)
                        rv->done(&r, rv->data);
                revert_free(rv);
        }
}

void
vs__sched_revert_unfound(vs_scheduler *s)
{
        sched_revert *rv = s->os_revert;
        char why[300];

        if (!rv)
                return;
        s->os_revert = NULL;
        snprintf(why, sizeof(why), "no domain '%s' on any connection of the policy file", rv->domain);
        {
                vs_revert_result r = { .domain = rv->domain, .snapshot = rv->snapshot, .error = why };

                vs_log_err(s->o.log, "%s", why);
                if (rv->done)
                        rv->done(&r, rv->data);
        }
        revert_free(rv);
}

void
vs__sched_reverts_free(vs_scheduler *s)
{
        revert_free(s->os_revert);
        s->os_revert = NULL;
        for (size_t i = 0; i < s->n_reverts; i++)
                revert_free(s->reverts[i]);
        free(s->reverts);
        s->reverts = NULL;
        s->n_reverts = 0;
}

unsigned
vs__sched_reverts_in_flight(const vs_scheduler *s)
{
        unsigned n = 0;

        for (size_t i = 0; i < s->n_reverts; i++)
                n += s->reverts[i]->step != STEP_SAFETY;
        return n;
}
