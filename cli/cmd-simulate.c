/* virtsnap simulate: what will a policy leave behind?  Runs one policy's
 * schedule and retention over simulated days for one domain, with no
 * hypervisor, and prints the snapshots kept at the end, the peak number held
 * at once and how many were created and removed.
 *
 * It does what the daemon does at every firing: take a snapshot at the
 * schedule's instant (vs_schedule_next in the file's time zone), then prune
 * with now = that instant (vs_retention_apply; nothing is pinned).  The peak
 * is counted between the two, when the disks carry the most.  The policy's
 * jitter is ignored: the daemon fires each domain a fixed offset in
 * [0, jitter) after the schedule's instant, which shifts every snapshot of a
 * domain by the same amount and so changes what is kept only when the offset
 * carries a snapshot across a bucket boundary (a late "50 23 * * *" with a
 * 20m jitter lands on the next day).  With prune: false nothing is removed. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomic-file.h"
#include "cleanup.h"
#include "cli-args.h"
#include "cli-config.h"
#include "commands.h"
#include "duration.h"
#include "output.h"
#include "policy.h"
#include "report.h"
#include "retention.h"
#include "schedule.h"
#include "timefmt.h"
#include "tz.h"
#include "vs-config.h"

#define SIM_DEFAULT_DAYS 90
#define SIM_MAX_DAYS 36500        /* 100 years */
#define SIM_MAX_SNAPSHOTS 1000000 /* firings in one simulation */
/* Snapshots passed to retention, summed over all firings: bounds the time a
 * simulation takes (a few seconds) when a policy holds thousands at once. */
#define SIM_MAX_WORK (UINT64_C(300) * 1000 * 1000)
/* Marks in one --html page: more would make a page no browser draws well. */
#define SIM_MAX_DRAWN 20000

static void
simulate_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap simulate [-c FILE] --policy NAME [--days N] [--start TIME]\n"
                "                         [--json] [--html FILE]\n"
                "\n"
                "Simulate one policy for one domain, with no hypervisor: take a snapshot\n"
                "whenever the schedule fires (in the file's time zone) and prune right after\n"
                "each, as the daemon does.  Print the snapshots kept at the end, newest first,\n"
                "with the rule that keeps each (as `virtsnap retention` does), then the totals:\n"
                "  keep 2026-03-31T00:00:00Z daily\n"
                "  ...\n"
                "  created 90 removed 74 kept 16 peak 17\n"
                "peak is the most snapshots held at once (just after a snapshot is taken,\n"
                "before the prune that follows it).  The policy's jitter is ignored (each\n"
                "domain's snapshots come a fixed offset of less than jitter later); with\n"
                "prune: false nothing is removed.\n"
                "\n"
                "options:\n"
                "  -c, --config FILE  the policy file; default %s\n"
                "  -p, --policy NAME  the policy to simulate (required)\n"
                "  -d, --days N       how many days to simulate (1-%d); default %d\n"
                "  -s, --start TIME   RFC 3339 (2026-11-27T04:00:00Z) or @EPOCH; default: now\n"
                "  --json             one JSON object: policy, schedule, timezone, start, end,\n"
                "                     days, prune, jitter, created, removed, peak and kept (an\n"
                "                     array of {\"time\", \"epoch\", \"action\", \"rule\"})\n"
                "      --html FILE    also draw the simulated days as `virtsnap report` draws\n"
                "                     the history: one mark per snapshot, its lifetime when\n"
                "                     pruned, the retention bands (at most %d snapshots;\n"
                "                     - for stdout instead of the text)\n"
                "  -h, --help         this help\n"
                "\n"
                "exit status: 0 success; 1 failure (the policy file is invalid or unreadable;\n"
                "the simulation is too large: more than %d snapshots, or so many held at\n"
                "once that it would take minutes); 2 usage error, including an unknown policy.\n",
                VS_DEFAULT_CONFIG, SIM_MAX_DAYS, SIM_DEFAULT_DAYS, SIM_MAX_DRAWN, SIM_MAX_SNAPSHOTS);
}

typedef struct sim_result {
        vs_retention_item *items; /* held at the end, oldest first */
        size_t n;
        uint64_t created, removed, peak;
        /* For --html (marks non-NULL on entry, cap SIM_MAX_DRAWN): every
         * snapshot taken, oldest first; a pruned one has until set. */
        vs_report_mark *marks;
        size_t n_marks;
} sim_result;

/* The mark of the snapshot taken at t (times strictly increase). */
static vs_report_mark *
find_mark(sim_result *res, int64_t t)
{
        size_t lo = 0, hi = res->n_marks;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (res->marks[mid].at < t)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < res->n_marks && res->marks[lo].at == t ? &res->marks[lo] : NULL;
}

/* 0, -ENOMEM, or -E2BIG past SIM_MAX_SNAPSHOTS firings or SIM_MAX_WORK. */
static int
simulate(const vs_policy *p, const vs_tz *tz, int64_t start, int64_t end, sim_result *res)
{
        uint64_t work = 0;
        size_t cap = 0;
        int64_t t;

        *res = (sim_result){ .marks = res->marks };
        /* A firing exactly at start counts. */
        t = vs_schedule_next(p->schedule, tz, start == INT64_MIN ? start : start - 1);
        for (; t < end; t = vs_schedule_next(p->schedule, tz, t)) {
                size_t kept = 0;
                int r;

                if (res->created >= SIM_MAX_SNAPSHOTS)
                        return -E2BIG;
                if (res->n == cap) {
                        size_t ncap = cap ? cap * 2 : 256;
                        vs_retention_item *q = reallocarray(res->items, ncap, sizeof(*q));

                        if (!q)
                                return -ENOMEM;
                        res->items = q;
                        cap = ncap;
                }
                /* Firings are strictly increasing, so items stay oldest
                 * first, which the engine takes without sorting. */
                res->items[res->n++] = (vs_retention_item){
                        .time = t, .verdict = VS_VERDICT_KEEP, .rule = VS_RULE_NONE
                };
                res->created++;
                if (res->marks) {
                        if (res->n_marks == SIM_MAX_DRAWN)
                                return -EFBIG;
                        res->marks[res->n_marks] = (vs_report_mark){
                                .id = (int64_t)res->n_marks + 1, .kind = VS_MARK_PRESENT, .at = t,
                        };
                        res->n_marks++;
                }
                if (res->n > res->peak)
                        res->peak = res->n;
                if (!p->prune)
                        continue;
                work += res->n;
                if (work > SIM_MAX_WORK)
                        return -E2BIG;
                r = vs_retention_apply(&p->retention, tz, t, res->items, res->n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < res->n; i++) {
                        vs_report_mark *m;

                        if (res->items[i].verdict != VS_VERDICT_REMOVE)
                                res->items[kept++] = res->items[i];
                        else if (res->marks && (m = find_mark(res, res->items[i].time))) {
                                m->kind = VS_MARK_PRUNED;
                                m->until = t;
                        }
                }
                res->removed += res->n - kept;
                res->n = kept;
        }
        return 0;
}

static void
print_json(const vs_policy *p, const vs_tz *tz, int64_t start, int64_t end, long days, const sim_result *res)
{
        json_object *o = json_object_new_object(), *kept = json_object_new_array();
        char buf[VS_TIME_BUFSZ];

        json_object_object_add(o, "policy", json_object_new_string(p->name));
        json_object_object_add(o, "schedule", json_object_new_string(vs_schedule_text(p->schedule)));
        json_object_object_add(o, "timezone", json_object_new_string(vs_tz_name(tz)));
        json_object_object_add(o, "start", json_object_new_string(vs_time_format_utc(start, buf, sizeof(buf))));
        json_object_object_add(o, "end", json_object_new_string(vs_time_format_utc(end, buf, sizeof(buf))));
        json_object_object_add(o, "days", json_object_new_int64(days));
        json_object_object_add(o, "prune", json_object_new_boolean(p->prune));
        json_object_object_add(o, "jitter", json_object_new_int64(p->jitter));
        json_object_object_add(o, "created", json_object_new_uint64(res->created));
        json_object_object_add(o, "removed", json_object_new_uint64(res->removed));
        json_object_object_add(o, "peak", json_object_new_uint64(res->peak));
        for (size_t i = res->n; i-- > 0;)
                json_object_array_add(kept, vs_output_retention_item_json(&res->items[i]));
        json_object_object_add(o, "kept", kept);
        vs_output_print_json(o, stdout);
        json_object_put(o);
}

static void
print_text(const vs_policy *p, const vs_tz *tz, int64_t start, int64_t end, long days, const sim_result *res)
{
        char b1[VS_TIME_BUFSZ], b2[VS_TIME_BUFSZ];

        printf("policy '%s': schedule '%s' in %s, %ld day%s from %s to %s\n", p->name,
               vs_schedule_text(p->schedule), vs_tz_name(tz), days, days == 1 ? "" : "s",
               vs_time_format_utc(start, b1, sizeof(b1)), vs_time_format_utc(end, b2, sizeof(b2)));
        for (size_t i = res->n; i-- > 0;) {
                const vs_retention_item *it = &res->items[i];
                const char *rule = vs_keep_rule_to_string(it->rule);

                vs_time_format_utc(it->time, b1, sizeof(b1));
                if (rule)
                        printf("%s %s %s\n", vs_verdict_to_string(it->verdict), b1, rule);
                else
                        printf("%s %s\n", vs_verdict_to_string(it->verdict), b1);
        }
        printf("created %llu removed %llu kept %zu peak %llu\n", (unsigned long long)res->created,
               (unsigned long long)res->removed, res->n, (unsigned long long)res->peak);
}

typedef struct sim_page {
        const vs_policy *p;
        const vs_tz *tz;
        int64_t start, end;
        sim_result *res;
} sim_page;

/* Tooltips: "kept by daily" or "pruned 2026-03-02T04:00:00+01:00". */
static int
label_marks(const sim_page *pg)
{
        sim_result *res = pg->res;
        size_t k = 0;

        for (size_t i = 0; i < res->n_marks; i++) {
                vs_report_mark *m = &res->marks[i];
                char when[VS_TIME_BUFSZ];
                const char *rule = NULL;
                int n;

                if (m->kind == VS_MARK_PRESENT) {
                        /* Kept items are the marks still present, in order. */
                        while (k < pg->res->n && res->items[k].time < m->at)
                                k++;
                        if (k < res->n && res->items[k].time == m->at)
                                rule = vs_keep_rule_to_string(res->items[k].rule);
                        n = asprintf(&m->detail, "kept at the end%s%s", rule ? " by " : "", rule ? rule : "");
                } else {
                        n = asprintf(&m->detail, "pruned %s: not kept by any rule then",
                                     vs_tz_format_local(pg->tz, m->until, when, sizeof(when)));
                }
                if (n < 0) {
                        m->detail = NULL;
                        return -ENOMEM;
                }
        }
        return 0;
}

static int
fill_html(FILE *f, void *userdata, vs_err *err)
{
        const sim_page *pg = userdata;
        _cleanup_free_ char *title = NULL, *series_title = NULL;
        vs_report_series se;
        int r;

        if (asprintf(&title, "virtsnap simulate: policy %s, schedule %s", pg->p->name,
                     vs_schedule_text(pg->p->schedule)) < 0 ||
            asprintf(&series_title, "one domain under %s", pg->p->name) < 0) {
                title = series_title = NULL;
                return vs_err_set(err, ENOMEM, "simulate", "out of memory");
        }
        se = (vs_report_series){
                .title = series_title,
                .retention = &pg->p->retention,
                .marks = pg->res->marks,
                .n = pg->res->n_marks,
        };
        r = vs_report_write_html(f, title, &se, 1, pg->start, pg->end, pg->tz);
        return r < 0 ? vs_err_set(err, -r, "simulate", "cannot write the page") : 0;
}

static int
write_html(const char *path, const sim_page *pg)
{
        vs_err err = { 0 };
        int r = label_marks(pg);

        if (r < 0) {
                fprintf(stderr, "virtsnap simulate: out of memory\n");
                return r;
        }
        if (strcmp(path, "-") == 0) {
                r = fill_html(stdout, (void *)pg, &err);
        } else {
                r = vs_write_file_atomic(path, 0644, fill_html, (void *)pg, &err);
        }
        if (r < 0)
                fprintf(stderr, "virtsnap simulate: %s: %s\n", err.where, err.msg);
        return r;
}

int
vs_cmd_simulate(int argc, char **argv)
{
        enum { OPT_JSON = 256, OPT_HTML };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "policy", required_argument, NULL, 'p' },
                { "days", required_argument, NULL, 'd' },
                { "start", required_argument, NULL, 's' },
                { "json", no_argument, NULL, OPT_JSON },
                { "html", required_argument, NULL, OPT_HTML },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *path = VS_DEFAULT_CONFIG, *policy_name = NULL, *start_arg = NULL, *html = NULL;
        long days = SIM_DEFAULT_DAYS;
        bool json = false;
        vs_config *cfg = NULL;
        const vs_policy *p;
        sim_result res = { 0 };
        int64_t start, end, v;
        int c, r, ret = VS_EXIT_OK;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:p:d:s:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        path = optarg;
                        break;
                case 'p':
                        policy_name = optarg;
                        break;
                case 'd':
                        if (vs_cli_parse_uint(optarg, 1, SIM_MAX_DAYS, &v) < 0)
                                return vs_cli_usage_error("simulate", "--days: '%s' is not a number from 1 to %d",
                                                          optarg, SIM_MAX_DAYS);
                        days = (long)v;
                        break;
                case 's':
                        start_arg = optarg;
                        break;
                case OPT_JSON:
                        json = true;
                        break;
                case OPT_HTML:
                        html = optarg;
                        break;
                case 'h':
                        simulate_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        return vs_cli_getopt_error("simulate", c, argv);
                }
        }
        if (optind < argc)
                return vs_cli_usage_error("simulate", "unexpected argument '%s'", argv[optind]);
        if (!policy_name)
                return vs_cli_usage_error("simulate", "--policy NAME is required");
        if (!*path)
                return vs_cli_usage_error("simulate", "empty file name");
        if (html && !*html)
                return vs_cli_usage_error("simulate", "--html: empty file name");
        if (html && json && strcmp(html, "-") == 0)
                return vs_cli_usage_error("simulate", "--json and --html - both want stdout");
        if (start_arg) {
                if (vs_time_parse(start_arg, &start) < 0)
                        return vs_cli_usage_error("simulate", "--start: invalid time '%s' (expected RFC 3339 such as "
                                                  "2026-11-27T04:00:00Z, or @EPOCH)", start_arg);
        } else {
                start = (int64_t)time(NULL);
        }
        if (__builtin_add_overflow(start, (int64_t)days * 86400, &end))
                return vs_cli_usage_error("simulate", "--start: '%s' is too late to simulate %ld days", start_arg,
                                          days);

        if (vs_cli_load_config(path, &cfg) < 0)
                return VS_EXIT_FAILURE;
        p = vs_config_find_policy(cfg, policy_name);
        if (!p) {
                fprintf(stderr, "virtsnap simulate: %s has no policy '%s'; it has:", cfg->path, policy_name);
                for (size_t i = 0; i < cfg->n_policies; i++)
                        fprintf(stderr, " %s", cfg->policies[i].name);
                fprintf(stderr, "\n");
                ret = VS_EXIT_USAGE;
                goto out;
        }

        if (!p->enabled)
                fprintf(stderr, "virtsnap simulate: note: policy '%s' is disabled (enabled: false); "
                        "simulating it anyway\n", p->name);
        if (p->jitter > 0) {
                char d[32];

                fprintf(stderr, "virtsnap simulate: note: jitter %s ignored (a domain's snapshots come a "
                        "fixed offset of less than that after these times)\n",
                        vs_duration_format(p->jitter, d, sizeof(d)));
        }
        if (html && !(res.marks = calloc(SIM_MAX_DRAWN, sizeof(*res.marks)))) {
                fprintf(stderr, "virtsnap simulate: out of memory\n");
                ret = VS_EXIT_FAILURE;
                goto out;
        }
        r = simulate(p, cfg->tz, start, end, &res);
        if (r == -EFBIG) {
                fprintf(stderr, "virtsnap simulate: --html: policy '%s' takes more than %d snapshots in %ld "
                        "days, too many to draw; simulate fewer days\n", p->name, SIM_MAX_DRAWN, days);
                ret = VS_EXIT_FAILURE;
                goto out;
        }
        if (r == -E2BIG) {
                fprintf(stderr, "virtsnap simulate: policy '%s' over %ld days is too large to simulate "
                        "(more than %d snapshots, or too many held at once); simulate fewer days\n",
                        p->name, days, SIM_MAX_SNAPSHOTS);
                ret = VS_EXIT_FAILURE;
                goto out;
        }
        if (r < 0) {
                fprintf(stderr, "virtsnap simulate: out of memory\n");
                ret = VS_EXIT_FAILURE;
                goto out;
        }
        if (res.created == 0)
                fprintf(stderr, "virtsnap simulate: schedule '%s' never fires in these %ld days\n",
                        vs_schedule_text(p->schedule), days);
        if (html) {
                sim_page pg = { .p = p, .tz = cfg->tz, .start = start, .end = end, .res = &res };

                if (write_html(html, &pg) < 0) {
                        ret = VS_EXIT_FAILURE;
                        goto out;
                }
        }
        if (json)
                print_json(p, cfg->tz, start, end, days, &res);
        else if (!html || strcmp(html, "-") != 0)
                print_text(p, cfg->tz, start, end, days, &res);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "virtsnap simulate: write error: %s\n", strerror(errno));
                ret = VS_EXIT_FAILURE;
        }
out:
        for (size_t i = 0; i < res.n_marks; i++)
                free(res.marks[i].detail);
        free(res.marks);
        free(res.items);
        vs_config_free(cfg);
        return ret;
}
