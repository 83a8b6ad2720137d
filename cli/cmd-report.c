/* virtsnap report: the history drawn as one self-contained HTML page
 * (report.h): per (connection, domain, policy) series a timeline with one
 * mark per attempt started in the window, the policy's retention tiers as
 * bands, and a summary table. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic-file.h"
#include "cleanup.h"
#include "cli-args.h"
#include "cli-store.h"
#include "commands.h"
#include "health.h"
#include "report.h"
#include "timefmt.h"
#include "tz.h"

#define REPORT_DEFAULT_SINCE "30d"

static void
report_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap report --html FILE [-c FILE] [--database PATH] [--domain D]\n"
                "                       [--policy P] [--since T] [--until T]\n"
                "\n"
                "Draw the history as one self-contained HTML page (inline SVG and CSS, no\n"
                "script, nothing fetched from the network): a summary table and, per\n"
                "(connection, domain, policy) series, a timeline with one mark per attempt\n"
                "started in the window: snapshot held, pinned, undeletable, pruned (a line\n"
                "shows its lifetime; hover for the reason), deleted outside virtsnap, failed,\n"
                "skipped, in flight.  With a policy file, the policy's retention tiers are\n"
                "drawn as bands (how far back keep_hourly, keep_daily, ... reach).  Marks\n"
                "differ by shape as well as colour.  Times are the host's local time.\n"
                "\n"
                "options:\n"
                "      --html FILE    write the page to FILE (replaced atomically; - for stdout)\n"
                "  -c, --config FILE  policy file: its database: and the retention bands\n"
                "      --database PATH\n"
                "                     the history database (overrides the policy file's)\n"
                "  -d, --domain D     only domain D (a name or a UUID)\n"
                "  -p, --policy P     only policy P\n"
                "      --since T      the window's start (default %s back from now)\n"
                "      --until T      the window's end (default now)\n"
                "                     T: RFC 3339 (2026-11-27T04:00:00Z), @EPOCH, or a duration\n"
                "                     back from now (7d, 12h, 1h30m)\n"
                "  -h, --help         this help\n"
                "\n"
                "$VIRTSNAP_NOW (a TIME) replaces the clock.\n"
                "\n"
                "exit status: 0 success; 1 the database cannot be read or FILE cannot be\n"
                "written; 2 usage error.\n",
                REPORT_DEFAULT_SINCE);
}

/* One history row, before the rows are grouped into series. */
typedef struct row {
        char *connection, *uuid, *domain, *policy;
        vs_report_mark mark;
} row;

typedef struct rows {
        row *v;
        size_t n, cap;
        const vs_tz *tz; /* for the tooltips' times */
        bool oom;
} rows;

static vs_report_kind
kind_of(const vs_store_row *r)
{
        switch (r->state) {
        case VS_SNAP_CREATING:
        case VS_SNAP_DELETING:
                return VS_MARK_IN_FLIGHT;
        case VS_SNAP_FAILED:
                return VS_MARK_FAILED;
        case VS_SNAP_SKIPPED:
                return VS_MARK_SKIPPED;
        case VS_SNAP_DELETED:
                return VS_MARK_PRUNED;
        case VS_SNAP_VANISHED:
                return VS_MARK_VANISHED;
        case VS_SNAP_PRESENT:
        default:
                return r->undeletable ? VS_MARK_UNDELETABLE
                       : r->deferred  ? VS_MARK_DEFERRED
                       : r->pinned    ? VS_MARK_PINNED
                                      : VS_MARK_PRESENT;
        }
}

/* The tooltip: what a reader asks about this attempt. */
static char *
detail_of(const vs_store_row *r, const vs_tz *tz)
{
        char when[VS_TIME_BUFSZ], *d = NULL;
        const char *cons = r->consistency ? r->consistency : "-";
        const char *extra = "", *extra_text = "";
        int n;

        if (r->hook_error) {
                extra = "; hook failed: ";
                extra_text = r->hook_error;
        } else if (r->pinned && r->pin_reason) {
                extra = "; pinned: ";
                extra_text = r->pin_reason;
        } else if (r->origin == VS_ORIGIN_CATCH_UP) {
                extra = "; catch-up";
        }
        switch (r->state) {
        case VS_SNAP_FAILED:
        case VS_SNAP_SKIPPED:
                n = asprintf(&d, "%s: %s", r->snapshot, r->error_message ? r->error_message : "no reason recorded");
                break;
        case VS_SNAP_DELETED:
        case VS_SNAP_VANISHED:
                n = asprintf(&d, "%s (%s), %s %s%s%s%s", r->snapshot, cons,
                             r->state == VS_SNAP_DELETED ? "pruned" : "found gone",
                             r->has_deleted ? vs_tz_format_local(tz, r->deleted, when, sizeof(when)) : "at an unknown time",
                             r->delete_reason ? ": " : "", r->delete_reason ? r->delete_reason : "", extra);
                break;
        default:
                n = asprintf(&d, "%s (%s, %s)%s%s%s%s", r->snapshot, r->type ? r->type : "-", cons,
                             r->undeletable ? "; undeletable: " : "",
                             r->undeletable && r->error_message ? r->error_message : "", extra, extra_text);
        }
        return n < 0 ? NULL : d;
}

static int
collect(const vs_store_row *r, void *userdata)
{
        rows *rs = userdata;
        row *o;

        if (rs->n == rs->cap) {
                size_t ncap = rs->cap ? rs->cap * 2 : 64;
                row *v = reallocarray(rs->v, ncap, sizeof(*v));

                if (!v)
                        goto oom;
                rs->v = v;
                rs->cap = ncap;
        }
        o = &rs->v[rs->n];
        *o = (row){
                .connection = strdup(r->connection),
                .uuid = strdup(r->domain_uuid),
                .domain = strdup(r->domain_name),
                .policy = strdup(r->policy),
                .mark = {
                        .id = r->id,
                        .kind = kind_of(r),
                        .at = r->has_created ? r->created : r->started,
                        .until = (r->state == VS_SNAP_DELETED || r->state == VS_SNAP_VANISHED) && r->has_deleted
                                         ? r->deleted : 0,
                        .detail = detail_of(r, rs->tz),
                },
        };
        rs->n++;
        if (!o->connection || !o->uuid || !o->domain || !o->policy || !o->mark.detail)
                goto oom;
        return 0;
oom:
        rs->oom = true;
        return -ENOMEM;
}

static void
row_clear(row *r)
{
        free(r->connection);
        free(r->uuid);
        free(r->domain);
        free(r->policy);
        free(r->mark.detail);
}

/* Series by domain name, policy, connection, UUID; marks oldest first. */
static int
row_cmp(const void *a, const void *b)
{
        const row *x = a, *y = b;
        int c;

        if ((c = strcmp(x->domain, y->domain)) || (c = strcmp(x->policy, y->policy)) ||
            (c = strcmp(x->connection, y->connection)) || (c = strcmp(x->uuid, y->uuid)))
                return c;
        if (x->mark.at != y->mark.at)
                return x->mark.at < y->mark.at ? -1 : 1;
        return x->mark.id < y->mark.id ? -1 : x->mark.id > y->mark.id;
}

static bool
same_series(const row *x, const row *y)
{
        return !strcmp(x->domain, y->domain) && !strcmp(x->policy, y->policy) &&
               !strcmp(x->connection, y->connection) && !strcmp(x->uuid, y->uuid);
}

typedef struct page {
        const char *title;
        vs_report_series *series;
        size_t n;
        int64_t since, until;
        const vs_tz *tz;
} page;

static int
fill(FILE *f, void *userdata, vs_err *err)
{
        const page *p = userdata;
        int r = vs_report_write_html(f, p->title, p->series, p->n, p->since, p->until, p->tz);

        return r < 0 ? vs_err_set(err, -r, "report", "cannot write the page") : 0;
}

/* Group rs (sorted) into series; the marks move out of rs.  *ret_first:
 * each series' first row (borrowed from rs), for its key. */
static int
build_series(rows *rs, const vs_config *cfg, vs_report_series **ret, size_t *ret_n, const row ***ret_first)
{
        vs_report_series *v = NULL;
        const row **first = NULL;
        size_t n = 0;

        for (size_t i = 0; i < rs->n;) {
                size_t j = i;
                vs_report_series *se;
                const vs_policy *pol = cfg ? vs_config_find_policy(cfg, rs->v[i].policy) : NULL;
                vs_report_series *nv = reallocarray(v, n + 1, sizeof(*v));
                const row **nf;

                if (!nv)
                        goto oom;
                v = nv;
                nf = reallocarray(first, n + 1, sizeof(*first));
                if (!nf)
                        goto oom;
                first = nf;
                first[n] = &rs->v[i];
                se = &v[n];
                *se = (vs_report_series){ .retention = pol ? &pol->retention : NULL };
                while (j < rs->n && same_series(&rs->v[i], &rs->v[j]))
                        j++;
                n++;
                if (asprintf(&se->title, "%s / %s on %s", rs->v[i].domain, rs->v[i].policy, rs->v[i].connection) < 0) {
                        se->title = NULL;
                        goto oom;
                }
                se->marks = calloc(j - i, sizeof(*se->marks));
                if (!se->marks)
                        goto oom;
                for (size_t k = i; k < j; k++) {
                        se->marks[se->n++] = rs->v[k].mark;
                        rs->v[k].mark.detail = NULL;
                }
                i = j;
        }
        *ret = v;
        *ret_n = n;
        *ret_first = first;
        return 0;
oom:
        *ret = v;
        *ret_n = n;
        *ret_first = first;
        return -ENOMEM;
}

/* Each series' health now, by the judgement `status` and `monitor` make. */
typedef struct health_fill {
        const vs_health_ctx *h;
        vs_report_series *series;
        const row **first;
        size_t n;
} health_fill;

static int
fill_health(const vs_store_series *se, void *userdata)
{
        health_fill *hf = userdata;
        vs_judgement j;

        for (size_t i = 0; i < hf->n; i++) {
                const row *r = hf->first[i];

                if (!strcmp(r->connection, se->connection) && !strcmp(r->uuid, se->domain_uuid) &&
                    !strcmp(r->policy, se->policy)) {
                        vs_cli_judge(hf->h, se, &j);
                        hf->series[i].health = vs_health_to_string(j.health);
                        hf->series[i].level = j.level == VS_LEVEL_CRITICAL ? 2 : j.level == VS_LEVEL_WARNING ? 1 : 0;
                        break;
                }
        }
        return 0;
}

static void
series_free(vs_report_series *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                for (size_t m = 0; m < v[i].n; m++)
                        free(v[i].marks[m].detail);
                free(v[i].marks);
                free(v[i].title);
        }
        free(v);
}

int
vs_cmd_report(int argc, char **argv)
{
        enum { OPT_HTML = 256, OPT_SINCE, OPT_UNTIL };
        static const struct option options[] = {
                { "html", required_argument, NULL, OPT_HTML },
                { "config", required_argument, NULL, 'c' },
                { "database", required_argument, NULL, 'D' },
                { "domain", required_argument, NULL, 'd' },
                { "policy", required_argument, NULL, 'p' },
                { "since", required_argument, NULL, OPT_SINCE },
                { "until", required_argument, NULL, OPT_UNTIL },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        vs_cli_db_opts db = { .cmd = "report", .flags = VS_STORE_READ_ONLY };
        vs_store_filter f = { .since = INT64_MIN, .until = INT64_MAX };
        const char *html = NULL, *since_arg = REPORT_DEFAULT_SINCE, *until_arg = NULL;
        _cleanup_free_ char *title = NULL;
        vs_config *cfg = NULL;
        vs_store *s = NULL;
        vs_tz *tz = NULL;
        vs_err err = { 0 };
        rows rs = { 0 };
        vs_report_series *series = NULL;
        const row **first = NULL;
        vs_health_ctx *health = NULL;
        size_t n_series = 0;
        int64_t now;
        int c, r, ret = VS_EXIT_FAILURE;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:d:p:h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_HTML:
                        html = optarg;
                        break;
                case 'c':
                        db.config = optarg;
                        break;
                case 'D':
                        db.database = optarg;
                        break;
                case 'd':
                        f.domain = optarg;
                        break;
                case 'p':
                        f.policy = optarg;
                        break;
                case OPT_SINCE:
                        since_arg = optarg;
                        break;
                case OPT_UNTIL:
                        until_arg = optarg;
                        break;
                case 'h':
                        report_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        return vs_cli_getopt_error("report", c, argv);
                }
        }
        if (optind < argc)
                return vs_cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
        if (!html)
                return vs_cli_usage_error("report", "--html FILE is required");
        if (!*html)
                return vs_cli_usage_error("report", "--html: empty file name");
        if (vs_cli_now(&now) < 0) {
                fprintf(stderr, "virtsnap report: $VIRTSNAP_NOW is not a TIME\n");
                return VS_EXIT_USAGE;
        }
        if (vs_cli_parse_when(since_arg, now, &f.since) < 0)
                return vs_cli_usage_error("report", "--since: invalid time '%s'", since_arg);
        f.until = now;
        if (until_arg && vs_cli_parse_when(until_arg, now, &f.until) < 0)
                return vs_cli_usage_error("report", "--until: invalid time '%s'", until_arg);
        if (f.until <= f.since)
                return vs_cli_usage_error("report", "--until must be after --since");

        if (vs_tz_load(NULL, &tz, &err) < 0) {
                fprintf(stderr, "virtsnap report: warning: %s; times are UTC\n", err.msg);
                vs_err_clear(&err);
                if (vs_tz_load("UTC", &tz, &err) < 0) {
                        fprintf(stderr, "virtsnap report: %s\n", err.msg);
                        return VS_EXIT_FAILURE;
                }
        }
        if (vs_cli_open_store(&db, &s, &cfg) < 0)
                goto out;
        rs.tz = tz;
        r = vs_store_query_history(s, &f, collect, &rs, &err);
        if (rs.oom)
                r = -ENOMEM;
        if (r < 0) {
                fprintf(stderr, "virtsnap report: %s\n", err.msg[0] ? err.msg : strerror(-r));
                goto out;
        }
        if (f.domain && rs.n == 0)
                fprintf(stderr, "virtsnap report: note: no attempt on domain '%s' in this window\n", f.domain);
        if (rs.n > 0)
                qsort(rs.v, rs.n, sizeof(*rs.v), row_cmp);
        if (build_series(&rs, cfg, &series, &n_series, &first) < 0 ||
            asprintf(&title, "virtsnap report%s%s", f.domain ? ": " : "", f.domain ? f.domain : "") < 0) {
                title = NULL;
                fprintf(stderr, "virtsnap report: out of memory\n");
                goto out;
        }
        r = vs_health_ctx_new(s, cfg, now, 0, 0, &health, &err);
        if (r == 0) {
                health_fill hf = { .h = health, .series = series, .first = first, .n = n_series };

                r = vs_store_query_series(s, &f, fill_health, &hf, &err);
        }
        if (r < 0) {
                fprintf(stderr, "virtsnap report: %s\n", err.msg[0] ? err.msg : strerror(-r));
                goto out;
        }
        {
                page p = { .title = title, .series = series, .n = n_series, .since = f.since, .until = f.until, .tz = tz };

                if (strcmp(html, "-") == 0) {
                        r = fill(stdout, &p, &err);
                        if (r == 0 && fflush(stdout) != 0)
                                r = vs_err_set(&err, errno, "stdout", "cannot write: %s", strerror(errno));
                } else {
                        r = vs_write_file_atomic(html, 0644, fill, &p, &err);
                }
        }
        if (r < 0) {
                fprintf(stderr, "virtsnap report: %s: %s\n", err.where, err.msg);
                goto out;
        }
        ret = VS_EXIT_OK;
out:
        vs_health_ctx_free(health);
        free(first);
        series_free(series, n_series);
        for (size_t i = 0; i < rs.n; i++)
                row_clear(&rs.v[i]);
        free(rs.v);
        vs_config_free(cfg);
        vs_store_free(s);
        vs_tz_free(tz);
        return ret;
}
