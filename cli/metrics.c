/* The metrics of metrics.h.  Families are printed one after the other
 * (the exposition format wants each family's samples together), so series
 * and totals are collected first. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic-file.h"
#include "cleanup.h"
#include "health.h"
#include "metrics.h"

typedef struct series_row {
        char *connection, *domain, *uuid, *policy;
        vs_judgement j;
        bool has_success, has_attempt;
        int64_t last_success, last_attempt;
        vs_snap_state last_state;
        unsigned held, pinned, undeletable, deferred;
} series_row;

typedef struct collected {
        const vs_health_ctx *health;
        series_row *rows;
        size_t n, cap;
        vs_store_totals *totals;
        char **totals_strings;      /* 3 per totals row */
        size_t n_totals, cap_totals;
        bool oom;
} collected;

static int
grow(void **items, size_t *cap, size_t n, size_t size)
{
        void *p;

        if (n < *cap)
                return 0;
        p = realloc(*items, (*cap ? 2 * *cap : 32) * size);
        if (!p)
                return -ENOMEM;
        *items = p;
        *cap = *cap ? 2 * *cap : 32;
        return 0;
}

static int
collect_series(const vs_store_series *se, void *userdata)
{
        collected *c = userdata;
        series_row *r;

        if (grow((void **)&c->rows, &c->cap, c->n, sizeof(*c->rows)) < 0)
                goto oom;
        r = &c->rows[c->n];
        *r = (series_row){
                .connection = strdup(se->connection), .domain = strdup(se->domain_name),
                .uuid = strdup(se->domain_uuid), .policy = strdup(se->policy),
                .has_success = se->has_success, .last_success = se->last_success,
                .has_attempt = se->has_attempt, .last_attempt = se->last_attempt, .last_state = se->last_state,
                .held = se->held, .pinned = se->pinned, .undeletable = se->undeletable,
                .deferred = se->deferred,
        };
        c->n++;
        if (!r->connection || !r->domain || !r->uuid || !r->policy)
                goto oom;
        vs_cli_judge(c->health, se, &r->j);
        r->j.policy = NULL; /* not kept: the config may go before the rows */
        return 0;
oom:
        c->oom = true;
        return -ENOMEM;
}

static int
collect_totals(const vs_store_totals *t, void *userdata)
{
        collected *c = userdata;
        size_t cap3 = c->cap_totals * 3;
        vs_store_totals *x;

        if (grow((void **)&c->totals, &c->cap_totals, c->n_totals, sizeof(*c->totals)) < 0 ||
            grow((void **)&c->totals_strings, &cap3, c->n_totals * 3, sizeof(char *)) < 0)
                goto oom;
        x = &c->totals[c->n_totals];
        *x = *t;
        c->totals_strings[3 * c->n_totals] = strdup(t->connection);
        c->totals_strings[3 * c->n_totals + 1] = strdup(t->domain_name);
        c->totals_strings[3 * c->n_totals + 2] = strdup(t->policy);
        x->connection = c->totals_strings[3 * c->n_totals];
        x->domain_name = c->totals_strings[3 * c->n_totals + 1];
        x->policy = c->totals_strings[3 * c->n_totals + 2];
        x->domain_uuid = NULL;
        c->n_totals++;
        if (!x->connection || !x->domain_name || !x->policy)
                goto oom;
        return 0;
oom:
        c->oom = true;
        return -ENOMEM;
}

static void
collected_clear(collected *c)
{
        for (size_t i = 0; i < c->n; i++) {
                free(c->rows[i].connection);
                free(c->rows[i].domain);
                free(c->rows[i].uuid);
                free(c->rows[i].policy);
        }
        for (size_t i = 0; i < 3 * c->n_totals; i++)
                free(c->totals_strings[i]);
        free(c->rows);
        free(c->totals);
        free(c->totals_strings);
}

/* A label value: backslash, double quote and newline escaped. */
static void
put_label(FILE *out, const char *name, const char *v, bool first)
{
        fprintf(out, "%s%s=\"", first ? "" : ",", name);
        for (; v && *v; v++) {
                if (*v == '\\' || *v == '"')
                        fputc('\\', out);
                if (*v == '\n')
                        fputs("\\n", out);
                else
                        fputc(*v, out);
        }
        fputc('"', out);
}

static void
put_series(FILE *out, const char *metric, const char *conn, const char *domain, const char *policy)
{
        fprintf(out, "%s{", metric);
        put_label(out, "connection", conn, true);
        put_label(out, "domain", domain, false);
        put_label(out, "policy", policy, false);
}

static void
family(FILE *out, const char *name, const char *type, const char *help)
{
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
print_series_families(FILE *out, const collected *c)
{
        static const vs_health words[] = {
                VS_HEALTH_OK,   VS_HEALTH_NEVER,       VS_HEALTH_UNREACHABLE, VS_HEALTH_FAILING,
                VS_HEALTH_GUARDED, VS_HEALTH_HOOK_FAILED, VS_HEALTH_LATE, VS_HEALTH_UNDELETABLE, VS_HEALTH_ORPHANED,
        };

        family(out, "virtsnap_last_success_timestamp_seconds", "gauge",
               "When the newest successful snapshot of the series was created (Unix time).");
        for (size_t i = 0; i < c->n; i++)
                if (c->rows[i].has_success) {
                        put_series(out, "virtsnap_last_success_timestamp_seconds", c->rows[i].connection,
                                   c->rows[i].domain, c->rows[i].policy);
                        fprintf(out, "} %lld\n", (long long)c->rows[i].last_success);
                }
        family(out, "virtsnap_last_attempt_timestamp_seconds", "gauge",
               "When the newest attempt (not a skip) of the series started (Unix time).");
        for (size_t i = 0; i < c->n; i++)
                if (c->rows[i].has_attempt) {
                        put_series(out, "virtsnap_last_attempt_timestamp_seconds", c->rows[i].connection,
                                   c->rows[i].domain, c->rows[i].policy);
                        fprintf(out, "} %lld\n", (long long)c->rows[i].last_attempt);
                }
        family(out, "virtsnap_last_attempt_success", "gauge",
               "1 when the newest attempt of the series made a snapshot, 0 when it failed or is in flight.");
        for (size_t i = 0; i < c->n; i++)
                if (c->rows[i].has_attempt) {
                        vs_snap_state st = c->rows[i].last_state;

                        put_series(out, "virtsnap_last_attempt_success", c->rows[i].connection, c->rows[i].domain,
                                   c->rows[i].policy);
                        fprintf(out, "} %d\n", st != VS_SNAP_FAILED && st != VS_SNAP_CREATING);
                }
        family(out, "virtsnap_snapshots", "gauge",
               "Snapshots the series holds: all of them (owned), pinned ones, ones libvirt cannot delete, "
               "ones whose pruning libvirt put off (deferred).");
        for (size_t i = 0; i < c->n; i++) {
                const struct {
                        const char *kind;
                        unsigned v;
                } k[] = { { "owned", c->rows[i].held }, { "pinned", c->rows[i].pinned },
                          { "undeletable", c->rows[i].undeletable }, { "deferred", c->rows[i].deferred } };

                for (size_t x = 0; x < VS_ELEMENTSOF(k); x++) {
                        put_series(out, "virtsnap_snapshots", c->rows[i].connection, c->rows[i].domain,
                                   c->rows[i].policy);
                        put_label(out, "kind", k[x].kind, false);
                        fprintf(out, "} %u\n", k[x].v);
                }
        }
        family(out, "virtsnap_health", "gauge",
               "1 for the health word of the series (as `virtsnap status` shows it), 0 for the others.");
        for (size_t i = 0; i < c->n; i++)
                for (size_t w = 0; w < VS_ELEMENTSOF(words); w++) {
                        put_series(out, "virtsnap_health", c->rows[i].connection, c->rows[i].domain,
                                   c->rows[i].policy);
                        put_label(out, "health", vs_health_to_string(words[w]), false);
                        fprintf(out, "} %d\n", c->rows[i].j.health == words[w]);
                }
        family(out, "virtsnap_health_level", "gauge",
               "How `virtsnap monitor` judges the series: 0 OK, 1 WARNING, 2 CRITICAL.");
        for (size_t i = 0; i < c->n; i++) {
                put_series(out, "virtsnap_health_level", c->rows[i].connection, c->rows[i].domain,
                           c->rows[i].policy);
                fprintf(out, "} %d\n", (int)c->rows[i].j.level);
        }
        family(out, "virtsnap_rpo_overdue", "gauge",
               "1 when the last success is older than 1.5 x the schedule interval (late), else 0.");
        for (size_t i = 0; i < c->n; i++) {
                bool late = false;

                for (unsigned f = 0; f < c->rows[i].j.n_findings; f++)
                        late |= c->rows[i].j.findings[f].what == VS_HEALTH_LATE;
                put_series(out, "virtsnap_rpo_overdue", c->rows[i].connection, c->rows[i].domain, c->rows[i].policy);
                fprintf(out, "} %d\n", late);
        }
}

static void
print_totals_families(FILE *out, const collected *c)
{
        const struct {
                const char *name, *help;
                size_t offset;
        } counters[] = {
                { "virtsnap_snapshots_created_total", "Attempts of the series that made a snapshot.",
                  offsetof(vs_store_totals, created) },
                { "virtsnap_attempts_failed_total", "Attempts of the series that failed.",
                  offsetof(vs_store_totals, failed) },
                { "virtsnap_attempts_skipped_total", "Firings of the series that were skipped.",
                  offsetof(vs_store_totals, skipped) },
                { "virtsnap_snapshots_pruned_total", "Snapshots of the series deleted by retention.",
                  offsetof(vs_store_totals, pruned) },
        };

        for (size_t k = 0; k < VS_ELEMENTSOF(counters); k++) {
                family(out, counters[k].name, "counter", counters[k].help);
                for (size_t i = 0; i < c->n_totals; i++) {
                        const vs_store_totals *t = &c->totals[i];

                        put_series(out, counters[k].name, t->connection, t->domain_name, t->policy);
                        fprintf(out, "} %llu\n",
                                (unsigned long long)*(const uint64_t *)((const char *)t + counters[k].offset));
                }
        }
        family(out, "virtsnap_create_duration_seconds", "histogram",
               "How long the creates of the series took (attempt start to outcome).");
        for (size_t i = 0; i < c->n_totals; i++) {
                const vs_store_totals *t = &c->totals[i];

                for (int b = 0; b < VS_STORE_N_DURATION_BUCKETS; b++) {
                        char le[24];

                        snprintf(le, sizeof(le), "%lld", (long long)VS_STORE_DURATION_BUCKETS[b]);
                        put_series(out, "virtsnap_create_duration_seconds_bucket", t->connection, t->domain_name,
                                   t->policy);
                        put_label(out, "le", le, false);
                        fprintf(out, "} %llu\n", (unsigned long long)t->duration_le[b]);
                }
                put_series(out, "virtsnap_create_duration_seconds_bucket", t->connection, t->domain_name, t->policy);
                put_label(out, "le", "+Inf", false);
                fprintf(out, "} %llu\n", (unsigned long long)t->duration_count);
                put_series(out, "virtsnap_create_duration_seconds_sum", t->connection, t->domain_name, t->policy);
                fprintf(out, "} %lld\n", (long long)t->duration_sum);
                put_series(out, "virtsnap_create_duration_seconds_count", t->connection, t->domain_name, t->policy);
                fprintf(out, "} %llu\n", (unsigned long long)t->duration_count);
        }
}

static void
print_connections(FILE *out, const vs_health_ctx *h)
{
        size_t n = vs_health_n_connections(h);

        family(out, "virtsnap_connection_up", "gauge",
               "1 when the daemon last reached the connection (or has not tried it yet), 0 when it is down.");
        for (size_t i = 0; i < n; i++) {
                vs_connection_judgement cj;

                vs_cli_judge_connection(h, i, &cj);
                fputs("virtsnap_connection_up{", out);
                put_label(out, "connection", cj.uri, true);
                fprintf(out, "} %d\n", cj.up);
        }
        family(out, "virtsnap_connection_failed_attempts", "gauge",
               "Failed attempts to reach the connection since it went down (0 when up).");
        for (size_t i = 0; i < n; i++) {
                vs_connection_judgement cj;

                vs_cli_judge_connection(h, i, &cj);
                fputs("virtsnap_connection_failed_attempts{", out);
                put_label(out, "connection", cj.uri, true);
                fprintf(out, "} %u\n", cj.up ? 0 : cj.failures);
        }
}

int
vs_cli_metrics_write(vs_store *s, const vs_config *cfg, int64_t now, FILE *out, vs_err *err)
{
        vs_health_ctx *h = NULL;
        collected c = { 0 };
        int r;

        r = vs_health_ctx_new(s, cfg, now, 0, 0, &h, err);
        if (r < 0)
                return r;
        c.health = h;
        r = vs_store_query_series(s, NULL, collect_series, &c, err);
        if (r >= 0 && !c.oom)
                r = vs_store_query_totals(s, collect_totals, &c, err);
        if (c.oom)
                r = vs_err_set(err, ENOMEM, "metrics", "out of memory");
        if (r >= 0) {
                print_series_families(out, &c);
                print_totals_families(out, &c);
                print_connections(out, h);
                r = 0;
        }
        collected_clear(&c);
        vs_health_ctx_free(h);
        return r;
}

typedef struct metrics_fill {
        vs_store *s;
        const vs_config *cfg;
        int64_t now;
} metrics_fill;

static int
fill(FILE *f, void *userdata, vs_err *err)
{
        metrics_fill *m = userdata;

        return vs_cli_metrics_write(m->s, m->cfg, m->now, f, err);
}

int
vs_cli_metrics_write_file(vs_store *s, const vs_config *cfg, int64_t now, const char *path, vs_err *err)
{
        metrics_fill m = { .s = s, .cfg = cfg, .now = now };

        return vs_write_file_atomic(path, 0644, fill, &m, err);
}
