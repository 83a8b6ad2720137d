/* Connections (see scheduler-private.h): open, list and reconcile each
 * libvirt connection the policies use, on the worker pool, and hand its
 * domains to the plan and its firings to the job queue in scheduler.c.
 *
 * A connection moves through refresh -> (reconcile) -> dispatch:
 *   refresh    worker: open the connection if it never was, list domains;
 *              a failure marks it down (in the history too) and retries with
 *              backoff (1 s .. 5 min), each failed attempt logged;
 *              the first success after a failure means "back": reconcile and
 *              catch up again, because events and slots were missed.
 *   reconcile  workers (up to max_concurrent, each a slice of the domains):
 *              list each domain's snapshots, by UUID, keeping the handles;
 *              loop: vs_store_reconcile for every domain without a job in
 *              flight, and the trees kept for the jobs about to start.
 *   dispatch   loop: catch-up firings (start, reconnect), one-shot work, then
 *              the firings popped from the plan while the refresh ran.
 * Domain events re-list the connection; a refresh asked for while one runs
 * is coalesced into one more. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler-private.h"
#include "strv.h"

/* ---- connections: refresh and reconcile ---------------------------------------- */

/* A job that starts this soon after the reconcile plans its create from
 * the reconcile's listing instead of its own (one listing per job); the
 * backend lists afresh if the create fails, in case the tree changed. */
#define KNOWN_TREE_MAX_AGE_MS 30000

typedef struct sched_known {
        char uuid[37];
        vs_snapshot_tree tree;
} sched_known;

void
vs__sched_known_clear(sched_conn *c)
{
        for (size_t i = 0; i < c->n_known; i++)
                vs_snapshot_tree_clear(&c->known[i].tree);
        free(c->known);
        c->known = NULL;
        c->n_known = 0;
}

bool
vs__sched_known_take(sched_conn *c, const char *uuid, vs_snapshot_tree *ret)
{
        if (c->n_known && vs_clock_now_ms(c->s->o.clock) - c->known_at_ms > KNOWN_TREE_MAX_AGE_MS)
                vs__sched_known_clear(c);
        for (size_t i = 0; i < c->n_known; i++) {
                if (strcmp(c->known[i].uuid, uuid) != 0)
                        continue;
                *ret = c->known[i].tree;
                c->known[i] = c->known[--c->n_known];
                if (c->n_known == 0)
                        vs__sched_known_clear(c);
                return true;
        }
        return false;
}

/* Keep the trees of the domains a job is queued for, drop the rest. */
static void
known_trim(sched_conn *c)
{
        size_t k = 0;

        for (size_t i = 0; i < c->n_known; i++) {
                if (vs__sched_domain_has_job(c, c->known[i].uuid, NULL, false))
                        c->known[k++] = c->known[i];
                else
                        vs_snapshot_tree_clear(&c->known[i].tree);
        }
        c->n_known = k;
        if (k == 0)
                vs__sched_known_clear(c);
}

static bool
domains_equal(const vs_domain_list *a, const vs_domain_list *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++) {
                const vs_domain_info *x = &a->items[i], *y = &b->items[i];
                size_t nt = vs_strv_length(x->tags);

                if (strcmp(x->name, y->name) != 0 || strcmp(x->uuid, y->uuid) != 0 || x->state != y->state ||
                    nt != vs_strv_length(y->tags))
                        return false;
                for (size_t t = 0; t < nt; t++)
                        if (strcmp(x->tags[t], y->tags[t]) != 0)
                                return false;
        }
        return true;
}

static void
after_connected(sched_conn *c)
{
        vs_scheduler *s = c->s;

        if (c->catch_up_pending && s->mode == MODE_DAEMON && !s->stopping)
                vs__sched_queue_due(c, true);
        c->catch_up_pending = false;
        if (s->mode != MODE_DAEMON && s->mode != MODE_IDLE && !c->oneshot_done) {
                vs__sched_queue_oneshot(c);
                c->oneshot_done = true;
        }
        vs__sched_dispatch_pending(c);
        if (c->refresh_again && !s->stopping) {
                c->refresh_again = false;
                vs__sched_start_refresh(c);
        }
        vs__sched_check_finished(s);
}

typedef struct rec_slice {
        uv_work_t work;
        sched_conn *c;
        size_t from, to;
} rec_slice;

static void
work_reconcile(uv_work_t *w)
{
        rec_slice *sl = w->data;
        sched_conn *c = sl->c;

        for (size_t i = sl->from; i < sl->to; i++) {
                vs_err e = { 0 };

                c->w_tree_r[i] = vs_virt_list_snapshots_flags(c->virt, c->w_rec_names[i], c->w_rec_uuids[i],
                                                              VS_LIST_SNAPSHOTS_NO_CURRENT | VS_LIST_SNAPSHOTS_HOLD,
                                                              &c->w_trees[i], &e);
        }
}

static void
reconcile_clear(sched_conn *c)
{
        for (size_t i = 0; i < c->w_n_rec; i++)
                vs_snapshot_tree_clear(&c->w_trees[i]);
        free(c->w_trees);
        free(c->w_tree_r);
        vs_strv_free(c->w_rec_names);
        vs_strv_free(c->w_rec_uuids);
        c->w_trees = NULL;
        c->w_tree_r = NULL;
        c->w_rec_names = c->w_rec_uuids = NULL;
        c->w_n_rec = 0;
}

static const vs_domain_info *
find_domain(const sched_conn *c, const char *uuid)
{
        for (size_t i = 0; i < c->domains.n; i++)
                if (strcmp(c->domains.items[i].uuid, uuid) == 0)
                        return &c->domains.items[i];
        return NULL;
}

/* adopt_from: the rows of a removed or renamed policy on this domain move to
 * the policy that names it, whose retention then ages them out. */
static void
hand_over(sched_conn *c, const vs_domain_info *d)
{
        vs_scheduler *s = c->s;
        const vs_config *cfg = s->cfg->cfg;

        for (size_t pi = 0; pi < cfg->n_policies; pi++) {
                const vs_policy *p = &cfg->policies[pi];

                for (size_t k = 0; p->adopt_from && p->adopt_from[k]; k++) {
                        unsigned moved = 0;
                        vs_err e = { 0 };

                        if (vs_plan_adopter(cfg, s->connect_override, c->uri, d, p->adopt_from[k]) != p->name)
                                continue;
                        if (vs_store_hand_over(s->o.store, c->uri, d->uuid, p->adopt_from[k], p->name,
                                               vs__sched_now_s(s), &moved, &e) < 0)
                                vs_log_err(s->o.log, "%s: handing over the snapshots of policy '%s' to '%s': %s",
                                           d->name, p->adopt_from[k], p->name, e.msg);
                        else if (moved)
                                vs_log_notice(s->o.log, "%s: policy '%s' took over %u snapshot%s of policy '%s' "
                                              "(adopt_from)", d->name, p->name, moved, moved == 1 ? "" : "s",
                                              p->adopt_from[k]);
                }
        }
}

static void
after_reconcile(uv_work_t *w, int status)
{
        rec_slice *sl = w->data;
        sched_conn *c = sl->c;
        vs_scheduler *s = c->s;
        const vs_config *cfg = s->cfg->cfg;
        vs_store_reconcile_summary total = { 0 };

        if (--c->rec_left > 0)
                return; /* the other slices are still listing */
        free(c->rec_slices);
        c->rec_slices = NULL;
        c->busy = false;
        vs__sched_known_clear(c);
        c->known = calloc(c->w_n_rec + 1, sizeof(*c->known));
        c->known_at_ms = vs_clock_now_ms(s->o.clock);
        for (size_t i = 0; i < c->w_n_rec; i++) {
                vs_snapshot_tree *t = &c->w_trees[i];
                vs_store_observed *obs;
                vs_store_reconcile_summary sum = { 0 };
                const vs_domain_info *d;
                vs_err e = { 0 };

                /* A job in flight owns its rows until it is done. */
                if (c->w_tree_r[i] < 0 || vs__sched_domain_has_job(c, c->w_rec_uuids[i], NULL, true))
                        continue;
                d = find_domain(c, c->w_rec_uuids[i]);
                if (!d)
                        continue;
                obs = calloc(t->n ? t->n : 1, sizeof(*obs));
                if (!obs)
                        continue;
                for (size_t k = 0; k < t->n; k++) {
                        obs[k].name = t->items[k].name;
                        obs[k].owner_policy = t->items[k].owner_policy;
                        obs[k].adopt_as = vs_plan_adopter(cfg, s->connect_override, c->uri, d,
                                                          t->items[k].owner_policy);
                        obs[k].creation_time = t->items[k].creation_time;
                        obs[k].type = t->items[k].external ? "external" : "internal";
                }
                hand_over(c, d);
                if (vs_store_reconcile(s->o.store, c->uri, c->w_rec_uuids[i], c->w_rec_names[i], obs, t->n,
                                       vs__sched_now_s(s), &sum, NULL, &e) < 0)
                        vs_log_err(s->o.log, "%s: reconcile failed: %s", c->w_rec_names[i], e.msg);
                free(obs);
                total.recovered += sum.recovered;
                total.interrupted += sum.interrupted;
                total.deleted += sum.deleted;
                total.restored += sum.restored;
                total.vanished += sum.vanished;
                total.adopted += sum.adopted;
                total.foreign_marked += sum.foreign_marked;
                if (c->known && strlen(c->w_rec_uuids[i]) < sizeof(c->known->uuid)) {
                        sched_known *k = &c->known[c->n_known++];

                        strcpy(k->uuid, c->w_rec_uuids[i]);
                        k->tree = *t;
                        memset(t, 0, sizeof(*t));
                }
        }
        if (total.foreign_marked)
                vs_log_warning(s->o.log,
                               "%s: %u snapshot%s carry virtsnap's marker for a (domain, policy) this config does "
                               "not cover: left alone as foreign-marked (`virtsnap reconcile` lists them)",
                               c->uri, total.foreign_marked, total.foreign_marked == 1 ? "" : "s");
        if (total.recovered + total.interrupted + total.deleted + total.restored + total.vanished + total.adopted)
                vs_log_notice(s->o.log,
                              "%s: reconciled: %u recovered, %u interrupted, %u deleted, %u restored, "
                              "%u vanished, %u adopted",
                              c->uri, total.recovered, total.interrupted, total.deleted, total.restored,
                              total.vanished, total.adopted);
        else
                vs_log_debug(s->o.log, "%s: reconciled %zu domains, history matches libvirt", c->uri, c->w_n_rec);
        reconcile_clear(c);
        c->reconcile_pending = false;
        after_connected(c);
        known_trim(c);
}

/* Which domains to reconcile: all of them for the daemon, the ones a
 * one-shot run will touch otherwise. */
static bool
wants_reconcile(const sched_conn *c, const vs_domain_info *d)
{
        const vs_scheduler *s = c->s;
        const vs_config *cfg = s->cfg->cfg;

        if (s->mode == MODE_DAEMON)
                return true;
        if (s->mode == MODE_SNAPSHOT || s->mode == MODE_REVERT || (s->os_domain && s->mode == MODE_PRUNE))
                return strcmp(d->name, s->os_domain) == 0;
        for (size_t pi = 0; pi < cfg->n_policies; pi++) {
                const vs_policy *p = &cfg->policies[pi];
                const char *only = s->mode == MODE_PRUNE ? s->os_policy : s->only_policy;

                if (!p->enabled || (only && strcmp(only, p->name) != 0))
                        continue;
                if (strcmp(vs_plan_policy_uri(p, s->connect_override), c->uri) == 0 && vs_plan_domain_matches(p, d))
                        return true;
        }
        return false;
}

static void
start_reconcile(sched_conn *c)
{
        vs_scheduler *s = c->s;
        size_t n = 0, k, queued;

        c->w_trees = calloc(c->domains.n ? c->domains.n : 1, sizeof(*c->w_trees));
        c->w_tree_r = calloc(c->domains.n ? c->domains.n : 1, sizeof(*c->w_tree_r));
        if (!c->w_trees || !c->w_tree_r)
                goto fail;
        for (size_t i = 0; i < c->domains.n; i++) {
                const vs_domain_info *d = &c->domains.items[i];

                if (!wants_reconcile(c, d))
                        continue;
                if (vs_strv_push(&c->w_rec_names, d->name) < 0 || vs_strv_push(&c->w_rec_uuids, d->uuid) < 0)
                        goto fail;
                n++;
        }
        c->w_n_rec = n;
        if (n == 0) {
                reconcile_clear(c);
                c->reconcile_pending = false;
                after_connected(c);
                return;
        }
        k = s->cfg->cfg->max_concurrent > 0 ? (size_t)s->cfg->cfg->max_concurrent : 1;
        if (k > n)
                k = n;
        c->rec_slices = calloc(k, sizeof(*c->rec_slices));
        if (!c->rec_slices)
                goto fail;
        c->busy = true;
        for (queued = 0; queued < k; queued++) {
                rec_slice *sl = &c->rec_slices[queued];

                sl->c = c;
                sl->from = n * queued / k;
                sl->to = n * (queued + 1) / k;
                sl->work.data = sl;
                if (uv_queue_work(s->o.loop, &sl->work, work_reconcile, after_reconcile) < 0)
                        break;
        }
        /* Slices that could not be queued leave their domains unlisted. */
        for (size_t d = queued < k ? c->rec_slices[queued].from : n; d < n; d++)
                c->w_tree_r[d] = -ENOMEM;
        c->rec_left = queued;
        if (queued > 0)
                return;
        free(c->rec_slices);
        c->rec_slices = NULL;
        c->busy = false;
fail:
        vs_log_err(s->o.log, "%s: cannot reconcile: out of memory", c->uri);
        c->w_n_rec = vs_strv_length(c->w_rec_names);
        reconcile_clear(c);
        after_connected(c);
}

static void
work_refresh(uv_work_t *w)
{
        sched_conn *c = w->data;
        vs_scheduler *s = c->s;
        vs_virt *v = c->virt;

        vs_err_clear(&c->w_err);
        c->w_virt = NULL;
        memset(&c->w_domains, 0, sizeof(c->w_domains));
        if (!v) {
                c->w_r = s->o.open_virt ? s->o.open_virt(s->o.open_data, c->uri, &c->w_virt, &c->w_err)
                                        : vs_virt_open_libvirt(c->uri, &c->w_virt, &c->w_err);
                if (c->w_r < 0)
                        return;
                v = c->w_virt;
        } else if (!vs_virt_alive(v)) {
                c->w_r = vs_virt_reconnect(v, &c->w_err);
                if (c->w_r < 0)
                        return;
        }
        c->w_r = vs_virt_list_domains_flags(v, c->w_list_flags, &c->w_domains, &c->w_err);
}

/* The tags are only read when some policy on this connection (enabled or
 * not: adoption asks them all) selects by tag. */
static unsigned
list_flags(const sched_conn *c)
{
        const vs_scheduler *s = c->s;
        const vs_config *cfg = s->cfg->cfg;

        for (size_t pi = 0; pi < cfg->n_policies; pi++) {
                const vs_policy *p = &cfg->policies[pi];

                if (p->domains.tags && strcmp(vs_plan_policy_uri(p, s->connect_override), c->uri) == 0)
                        return 0;
        }
        return VS_LIST_DOMAINS_NO_TAGS;
}

static void
on_conn_retry(void *data)
{
        sched_conn *c = data;

        c->retry_pending = false;
        if (!c->s->stopping)
                vs__sched_start_refresh(c);
}

/* Domain events change what the selectors match: re-list (a refresh while
 * one runs is coalesced into one more).  A closed connection is re-listed
 * too, which reconnects it. */
static void
on_virt_event(const vs_virt_event *ev, void *userdata)
{
        sched_conn *c = userdata;
        vs_scheduler *s = c->s;

        vs_log_debug(s->o.log, "%s: event %s %s", c->uri, vs_virt_event_type_to_string(ev->type),
                     ev->domain ? ev->domain : "");
        if (s->stopping || s->mode != MODE_DAEMON)
                return;
        switch (ev->type) {
        case VS_VIRT_EVENT_AGENT_CONNECTED:
        case VS_VIRT_EVENT_AGENT_DISCONNECTED:
        case VS_VIRT_EVENT_SUSPENDED:
        case VS_VIRT_EVENT_RESUMED:
                /* Snapshots themselves pause and resume domains. */
                return;
        case VS_VIRT_EVENT_CONNECTION_CLOSED:
                vs_log_warning(s->o.log, "%s: connection closed (reason %d)", c->uri, ev->reason);
                vs__sched_start_refresh(c);
                return;
        default:
                vs__sched_start_refresh(c);
                return;
        }
}

static void
start_watch(sched_conn *c)
{
        vs_scheduler *s = c->s;
        vs_err e = { 0 };
        int r;

        if (c->watch || s->mode != MODE_DAEMON)
                return;
        r = vs_virt_watch_start(c->virt, s->o.loop, on_virt_event, c, &c->watch, &e);
        if (r == -ENOTSUP)
                vs_log_debug(s->o.log, "%s: no events; domains are re-listed at each firing", c->uri);
        else if (r < 0)
                vs_log_warning(s->o.log, "%s: cannot watch events: %s", c->uri, e.msg);
}

/* A failed open or listing.  The daemon retries with a backoff doubling
 * from VS_CONN_BACKOFF_MIN_MS to VS_CONN_BACKOFF_MAX_MS and logs every failed
 * attempt (the backoff bounds the rate: at most one line per 5 minutes once
 * it has grown), and records the connection as down in the history from
 * the first failure, so `status` and `monitor` see an outage that the log
 * alone would hide. */
static void
record_down(sched_conn *c)
{
        vs_scheduler *s = c->s;
        unsigned failures = 0;
        vs_err e = { 0 };

        c->failures++;
        if (s->mode != MODE_DAEMON || s->stopping) {
                vs_log_err(s->o.log, "%s: connection failed: %s", c->uri, c->w_err.msg);
                return;
        }
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : VS_CONN_BACKOFF_MIN_MS;
        if (c->backoff_ms > VS_CONN_BACKOFF_MAX_MS)
                c->backoff_ms = VS_CONN_BACKOFF_MAX_MS;
        if (vs_store_connection_down(s->o.store, c->uri, c->w_err.msg, vs__sched_now_s(s), &failures, &e) < 0)
                vs_log_err(s->o.log, "%s: cannot record the connection: %s", c->uri, e.msg);
        if (c->failures == 1)
                vs_log_err(s->o.log, "%s: connection failed: %s (retrying in %llds)", c->uri, c->w_err.msg,
                           (long long)(c->backoff_ms / 1000));
        else
                vs_log_warning(s->o.log, "%s: still unreachable after %u attempts: %s (retrying in %llds)", c->uri,
                               c->failures, c->w_err.msg, (long long)(c->backoff_ms / 1000));
}

static void
after_refresh(uv_work_t *w, int status)
{
        sched_conn *c = w->data;
        vs_scheduler *s = c->s;

        c->busy = false;
        if (c->w_virt) {
                c->virt = c->w_virt;
                if (!s->stopping)
                        start_watch(c);
        }
        c->w_virt = NULL;
        if (c->w_r < 0) {
                record_down(c);
                c->up = false;
                c->failed_once = true;
                /* Whatever happened while it was away must be looked at again. */
                c->reconcile_pending = true;
                c->catch_up_pending = true;
                vs_domain_list_clear(&c->w_domains);
                if (s->mode == MODE_DAEMON && !s->stopping) {
                        vs_clock_timer_arm(c->retry_timer, vs_clock_now_ms(s->o.clock) + c->backoff_ms);
                        c->retry_pending = true;
                } else if (s->mode != MODE_DAEMON && !c->oneshot_done) {
                        c->oneshot_done = true;
                        s->st.failed++;
                }
                /* Firings still run on the last known domains: their jobs
                 * fail as transient and say so in the history. */
                vs__sched_dispatch_pending(c);
                vs__sched_notify_status(s);
                vs__sched_check_finished(s);
                return;
        }
        c->backoff_ms = 0;
        c->failures = 0;
        if (!c->up) {
                vs_log_notice(s->o.log, "%s: %s, %zu domains", c->uri,
                              c->failed_once ? "connection is back" : "connected", c->w_domains.n);
                c->up = true;
        }
        if (s->mode == MODE_DAEMON) {
                vs_err e = { 0 };

                /* A no-op unless it had been down (or is new to the history). */
                if (vs_store_connection_up(s->o.store, c->uri, vs__sched_now_s(s), NULL, &e) < 0)
                        vs_log_err(s->o.log, "%s: cannot record the connection: %s", c->uri, e.msg);
        }
        if (!c->listed || !domains_equal(&c->domains, &c->w_domains)) {
                vs_domain_list_clear(&c->domains);
                c->domains = c->w_domains;
                c->listed = true;
                vs__sched_replan(s);
        } else {
                vs_domain_list_clear(&c->w_domains);
        }
        memset(&c->w_domains, 0, sizeof(c->w_domains));
        vs__sched_notify_status(s);
        if (c->reconcile_pending && !s->stopping) {
                start_reconcile(c);
                return;
        }
        after_connected(c);
}

void
vs__sched_start_refresh(sched_conn *c)
{
        vs_scheduler *s = c->s;
        int r;

        if (c->busy) {
                c->refresh_again = true;
                return;
        }
        /* Down and waiting out its backoff: firings, failed jobs and events
         * do not cut the wait short (that would retry once per firing);
         * firings run now on the last known domains and fail as transient. */
        if (c->retry_pending && !c->up && !s->stopping) {
                vs__sched_dispatch_pending(c);
                return;
        }
        vs_clock_timer_disarm(c->retry_timer);
        c->retry_pending = false;
        c->busy = true;
        c->work.data = c;
        c->w_list_flags = list_flags(c);
        r = uv_queue_work(s->o.loop, &c->work, work_refresh, after_refresh);
        if (r < 0) {
                c->busy = false;
                vs_log_err(s->o.log, "%s: cannot queue a refresh: %s", c->uri, uv_strerror(r));
        }
}

static int
ensure_conn(vs_scheduler *s, const char *uri, sched_conn **ret)
{
        sched_conn **n, *c = vs__sched_find_conn(s, uri);
        int r;

        if (c) {
                if (ret)
                        *ret = c;
                return 0;
        }
        n = realloc(s->conns, (s->n_conns + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        s->conns = n;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->s = s;
        c->uri = strdup(uri);
        r = c->uri ? vs_clock_timer_new(s->o.clock, on_conn_retry, c, &c->retry_timer) : -ENOMEM;
        if (r < 0) {
                free(c->uri);
                free(c);
                return r;
        }
        c->reconcile_pending = true;
        c->catch_up_pending = true;
        s->conns[s->n_conns++] = c;
        if (ret)
                *ret = c;
        return 1;
}

/* Make a connection for every URI the policies use (one-shot: only the ones
 * with work); start refreshing the new ones. */
int
vs__sched_ensure_conns(vs_scheduler *s, const char *only_policy)
{
        const vs_config *cfg = s->cfg->cfg;

        for (size_t i = 0; i < cfg->n_policies; i++) {
                const vs_policy *p = &cfg->policies[i];
                sched_conn *c;
                int r;

                if (!p->enabled || (only_policy && strcmp(only_policy, p->name) != 0))
                        continue;
                r = ensure_conn(s, vs_plan_policy_uri(p, s->connect_override), &c);
                if (r < 0)
                        return r;
                c->wanted = true;
                if (r > 0)
                        vs__sched_start_refresh(c);
        }
        return 0;
}
