/* vs_cli_judge: the findings of health.h, for `status` and `monitor`. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "health.h"
#include "output.h"
#include "plan.h"
#include "strv.h"
#include "timefmt.h"

typedef struct conn_state {
        char *uri;
        bool known, up;
        int64_t since;
        unsigned failures;
        char *last_error;
} conn_state;

struct vs_health_ctx {
        const vs_config *cfg;
        int64_t now, warn, crit;
        conn_state *conns;
        size_t n_conns;
};

static const char *const health_names[] = {
        [VS_HEALTH_OK] = "ok",
        [VS_HEALTH_NEVER] = "never",
        [VS_HEALTH_UNREACHABLE] = "unreachable",
        [VS_HEALTH_FAILING] = "failing",
        [VS_HEALTH_GUARDED] = "guarded",
        [VS_HEALTH_HOOK_FAILED] = "hook-failed",
        [VS_HEALTH_LATE] = "late",
        [VS_HEALTH_UNDELETABLE] = "undeletable",
        [VS_HEALTH_ORPHANED] = "orphaned",
};

const char *
vs_health_to_string(vs_health h)
{
        return (unsigned)h < VS_ELEMENTSOF(health_names) ? health_names[h] : "?";
}

const char *
vs_level_to_string(vs_level l)
{
        switch (l) {
        case VS_LEVEL_OK:
                return "OK";
        case VS_LEVEL_WARNING:
                return "WARNING";
        case VS_LEVEL_CRITICAL:
                return "CRITICAL";
        }
        return "UNKNOWN";
}

static conn_state *
find_conn(const vs_health_ctx *h, const char *uri)
{
        for (size_t i = 0; i < h->n_conns; i++)
                if (strcmp(h->conns[i].uri, uri) == 0)
                        return &h->conns[i];
        return NULL;
}

static int
add_conn(vs_health_ctx *h, const char *uri, conn_state **ret)
{
        conn_state *c = find_conn(h, uri), *n;

        if (!c) {
                n = realloc(h->conns, (h->n_conns + 1) * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                h->conns = n;
                c = &h->conns[h->n_conns];
                *c = (conn_state){ .uri = strdup(uri) };
                if (!c->uri)
                        return -ENOMEM;
                h->n_conns++;
        }
        *ret = c;
        return 0;
}

static int
collect_conn(const vs_store_connection *sc, void *userdata)
{
        vs_health_ctx *h = userdata;
        conn_state *c;

        if (add_conn(h, sc->uri, &c) < 0)
                return -ENOMEM;
        c->known = true;
        c->up = sc->up;
        c->since = sc->since;
        c->failures = sc->failures;
        free(c->last_error);
        c->last_error = sc->last_error ? strdup(sc->last_error) : NULL;
        return sc->last_error && !c->last_error ? -ENOMEM : 0;
}

int
vs_health_ctx_new(vs_store *s, const vs_config *cfg, int64_t now, int64_t warn, int64_t crit,
                  vs_health_ctx **ret, vs_err *err)
{
        vs_health_ctx *h = calloc(1, sizeof(*h));
        conn_state *c;
        int r;

        if (!h)
                return vs_err_set(err, ENOMEM, "health", "out of memory");
        *h = (vs_health_ctx){ .cfg = cfg, .now = now, .warn = warn, .crit = crit };
        r = vs_store_query_connections(s, collect_conn, h, err);
        if (r == -ENOMEM)
                r = vs_err_set(err, ENOMEM, "health", "out of memory");
        for (size_t i = 0; r >= 0 && cfg && i < cfg->n_policies; i++)
                if (cfg->policies[i].enabled && add_conn(h, cfg->policies[i].connection, &c) < 0)
                        r = vs_err_set(err, ENOMEM, "health", "out of memory");
        if (r < 0) {
                vs_health_ctx_free(h);
                return r;
        }
        *ret = h;
        return 0;
}

void
vs_health_ctx_free(vs_health_ctx *h)
{
        if (!h)
                return;
        for (size_t i = 0; i < h->n_conns; i++) {
                free(h->conns[i].uri);
                free(h->conns[i].last_error);
        }
        free(h->conns);
        free(h);
}

/* The recovery point objective of a connection: the shortest schedule
 * interval of the enabled policies on it (a host down for longer has
 * missed a snapshot it owed). */
static bool
conn_rpo(const vs_health_ctx *h, const char *uri, int64_t *ret)
{
        bool found = false;

        for (size_t i = 0; h->cfg && i < h->cfg->n_policies; i++) {
                const vs_policy *p = &h->cfg->policies[i];
                int64_t period;

                if (!p->enabled || strcmp(p->connection, uri) != 0 || !p->schedule)
                        continue;
                period = vs_schedule_period(p->schedule, h->cfg->tz, h->now);
                if (period == INT64_MAX || period <= 0)
                        continue;
                if (!found || period < *ret)
                        *ret = period;
                found = true;
        }
        return found;
}

static void
judge_conn(const vs_health_ctx *h, const conn_state *c, vs_connection_judgement *ret)
{
        char since[64], dur[32];

        memset(ret, 0, sizeof(*ret));
        ret->uri = c->uri;
        ret->known = c->known;
        ret->up = !c->known || c->up;
        ret->since = c->since;
        ret->failures = c->failures;
        ret->last_error = c->last_error;
        ret->has_rpo = conn_rpo(h, c->uri, &ret->rpo);
        ret->finding.what = VS_HEALTH_OK;
        if (ret->up)
                return;
        ret->finding.what = VS_HEALTH_UNREACHABLE;
        ret->finding.level = ret->has_rpo && h->now - c->since > ret->rpo ? VS_LEVEL_CRITICAL : VS_LEVEL_WARNING;
        snprintf(ret->finding.text, sizeof(ret->finding.text), "connection down for %s since %s (%u failed attempt%s): %s",
                 vs_output_format_duration(h->now - c->since, dur, sizeof(dur)),
                 vs_time_format_utc(c->since, since, sizeof(since)), c->failures, c->failures == 1 ? "" : "s",
                 c->last_error ? c->last_error : "unreachable");
}

size_t
vs_health_n_connections(const vs_health_ctx *h)
{
        return h->n_conns;
}

void
vs_cli_judge_connection(const vs_health_ctx *h, size_t i, vs_connection_judgement *ret)
{
        judge_conn(h, &h->conns[i], ret);
}

static void
add(vs_judgement *j, vs_health what, vs_level level, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
add(vs_judgement *j, vs_health what, vs_level level, const char *fmt, ...)
{
        vs_finding *f;
        va_list ap;

        if (j->n_findings == VS_MAX_FINDINGS)
                return;
        f = &j->findings[j->n_findings++];
        f->what = what;
        f->level = level;
        va_start(ap, fmt);
        vsnprintf(f->text, sizeof(f->text), fmt, ap);
        va_end(ap);
        /* Worst first: by level, then in the order of health.h (which is
         * the order findings are added in). */
        if (level > j->level) {
                j->level = level;
                j->health = what;
        } else if (j->health == VS_HEALTH_OK) {
                j->health = what;
        }
}

static const char *
adopter_of(const vs_config *cfg, const char *policy)
{
        for (size_t i = 0; cfg && i < cfg->n_policies; i++)
                if (vs_strv_contains(cfg->policies[i].adopt_from, policy))
                        return cfg->policies[i].name;
        return NULL;
}

void
vs_cli_judge(const vs_health_ctx *h, const vs_store_series *se, vs_judgement *ret)
{
        const vs_config *cfg = h->cfg;
        const conn_state *c = find_conn(h, se->connection);
        int64_t warn = h->warn, crit = h->crit;
        char d1[32], d2[32];

        memset(ret, 0, sizeof(*ret));
        ret->policy = cfg ? vs_config_find_policy(cfg, se->policy) : NULL;
        if (ret->policy && ret->policy->schedule) {
                const vs_policy *p = ret->policy;
                int64_t period = vs_schedule_period(p->schedule, cfg->tz, h->now);
                int64_t offset = vs_plan_offset(se->connection, se->domain_uuid, p->name, p->jitter);
                int64_t slot = vs_plan_next_slot(p->schedule, cfg->tz, offset, h->now);

                if (period != INT64_MAX && period > 0) {
                        ret->has_period = true;
                        ret->period = period;
                        if (!warn)
                                warn = period + period / 2;
                        if (!crit)
                                crit = 3 * period;
                }
                if (slot != INT64_MAX) {
                        ret->has_next = true;
                        ret->next_due = slot + offset;
                }
        }
        if (se->has_success) {
                ret->has_age = true;
                ret->age = h->now - se->last_success;
        }

        if (!se->has_success)
                add(ret, VS_HEALTH_NEVER, VS_LEVEL_CRITICAL, "no successful snapshot");
        if (c) {
                vs_connection_judgement cj;

                judge_conn(h, c, &cj);
                if (!cj.up)
                        add(ret, VS_HEALTH_UNREACHABLE, cj.finding.level, "%s", cj.finding.text);
        }
        if (se->has_attempt && se->last_state == VS_SNAP_FAILED)
                add(ret, VS_HEALTH_FAILING, VS_LEVEL_WARNING, "last attempt failed: %.120s",
                    se->last_error ? se->last_error : "unknown error");
        if (se->last_guard)
                add(ret, VS_HEALTH_GUARDED, VS_LEVEL_CRITICAL, "skipped by its guard: %.150s", se->last_guard);
        if (se->last_hook_error)
                add(ret, VS_HEALTH_HOOK_FAILED,
                    ret->policy && ret->policy->hooks.required ? VS_LEVEL_CRITICAL : VS_LEVEL_WARNING, "%.160s",
                    se->last_hook_error);
        if (se->has_success && ((crit && ret->age > crit) || (warn && ret->age > warn))) {
                bool is_crit = crit && ret->age > crit;

                add(ret, VS_HEALTH_LATE, is_crit ? VS_LEVEL_CRITICAL : VS_LEVEL_WARNING, "last success %s ago (%s %s)",
                    vs_output_format_duration(ret->age, d1, sizeof(d1)), is_crit ? "crit" : "warn",
                    vs_output_format_duration(is_crit ? crit : warn, d2, sizeof(d2)));
        }
        if (se->undeletable)
                add(ret, VS_HEALTH_UNDELETABLE, VS_LEVEL_WARNING, "%u undeletable", se->undeletable);
        if (cfg && !ret->policy && se->held > 0) {
                const char *to = adopter_of(cfg, se->policy);

                if (to)
                        add(ret, VS_HEALTH_ORPHANED, VS_LEVEL_WARNING,
                            "orphaned: %u snapshot%s of a removed policy, handed over to '%s' at the daemon's "
                            "next reconcile",
                            se->held, se->held == 1 ? "" : "s", to);
                else
                        add(ret, VS_HEALTH_ORPHANED, VS_LEVEL_WARNING,
                            "orphaned: %u snapshot%s of a policy not in the policy file, never pruned "
                            "(adopt_from hands them over)",
                            se->held, se->held == 1 ? "" : "s");
        }
}
