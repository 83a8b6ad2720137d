/* virtsnap monitor: a Nagios/Icinga plugin.  For each matched (domain,
 * policy) series it judges the age of the last successful snapshot against
 * warning and critical thresholds (by default 1.5 x and 3 x the policy's
 * schedule interval), and flags everything else health.h finds (the one
 * judgement `status` shows too): never, failing, guarded, hook-failed, undeletable,
 * orphaned, and connections that are down.  It prints one status
 * line with perfdata and exits 0 OK, 1 WARNING, 2 CRITICAL or 3 UNKNOWN
 * (also for usage errors and an unreadable database: 2 would mean CRITICAL
 * to the monitoring system). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-store.h"
#include "commands.h"
#include "duration.h"
#include "health.h"
#include "output.h"

enum {
        NAGIOS_OK = 0,
        NAGIOS_WARNING = 1,
        NAGIOS_CRITICAL = 2,
        NAGIOS_UNKNOWN = 3,
};

#define MAX_LISTED 5
#define MAX_MESSAGE 80

static const char *const level_names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };

static void
monitor_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap monitor [-c FILE] [--database PATH] [--domain D] [--policy P]\n"
                "                        [--warn DURATION] [--crit DURATION]\n"
                "\n"
                "A Nagios/Icinga plugin: one status line with perfdata, and the exit status\n"
                "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
                "\n"
                "Each (domain, policy) series in the history whose policy is enabled in the\n"
                "policy file, or that is orphaned (its policy is gone, its snapshots are\n"
                "not), is judged as `virtsnap status` judges it (every series when there is\n"
                "no policy file), and so is each connection:\n"
                "  CRITICAL  no snapshot ever succeeded; the last success is older than the\n"
                "            critical threshold; a hook failed and the policy says\n"
                "            hooks.required: true; a connection has been down longer than\n"
                "            the shortest schedule interval on it\n"
                "  WARNING   the last success is older than the warning threshold; the\n"
                "            newest attempt failed; a hook failed; snapshots are\n"
                "            undeletable; a series is orphaned; a connection is down\n"
                "Thresholds default to 1.5 x (warning) and 3 x (critical) the policy's\n"
                "schedule interval; --warn and --crit set them for every series.\n"
                "\n"
                "options:\n"
                "  -c, --config FILE  policy file: schedules and its database:\n"
                "      --database PATH\n"
                "                     the history database (overrides the policy file's)\n"
                "  -d, --domain D     only domain D (a name or a UUID)\n"
                "  -p, --policy P     only policy P\n"
                "  -w, --warn DUR     warning age (36h, 1d12h, ...)\n"
                "  -C, --crit DUR     critical age\n"
                "  -h, --help         this help\n"
                "\n"
                "UNKNOWN: the database or policy file cannot be read, no thresholds are\n"
                "known (no policy file and no --warn/--crit), no series matches, or a\n"
                "usage error.\n");
}

static int
unknown(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
unknown(const char *fmt, ...)
{
        va_list ap;

        printf("VIRTSNAP UNKNOWN - ");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
        return NAGIOS_UNKNOWN;
}

/* Names and messages go into a one-line status: no '|' (the perfdata
 * separator) and no control characters. */
static void
put_clean(char **buf, size_t *len, size_t *cap, const char *s, size_t max)
{
        size_t n = 0;

        for (; s && *s && n < max; s++, n++) {
                char ch = (*s == '|' || (unsigned char)*s < 0x20 || *s == 0x7f) ? '_' : *s;

                if (*len + 2 > *cap) {
                        size_t ncap = *cap ? 2 * *cap : 256;
                        char *nb = realloc(*buf, ncap);

                        if (!nb)
                                return;
                        *buf = nb;
                        *cap = ncap;
                }
                (*buf)[(*len)++] = ch;
                (*buf)[*len] = '\0';
        }
        if (s && *s && n == max)
                put_clean(buf, len, cap, "...", 3);
}

/* ", " between two findings about the same series. */
static void
put_sep(char **buf, size_t *len, size_t *cap)
{
        if (*buf && *len >= 2 && strcmp(*buf + *len - 2, ": ") != 0)
                put_clean(buf, len, cap, ", ", 2);
}

typedef struct problem {
        int level;
        char *text;
} problem;

typedef struct monitor_ctx {
        const vs_config *cfg;
        const vs_health_ctx *health;
        unsigned series, ok, warning, critical, failing, never, undeletable, hook_failed, orphaned, unreachable;
        unsigned guarded;
        unsigned deferred;      /* a count, not a health state: on every series */
        int64_t max_age;
        problem *problems;
        size_t n_problems, cap;
        bool oom;
} monitor_ctx;

static int
add_problem(monitor_ctx *c, int level, char *text)
{
        if (!text) {
                c->oom = true;
                return -ENOMEM;
        }
        if (level == NAGIOS_CRITICAL)
                c->critical++;
        else
                c->warning++;
        if (c->n_problems == c->cap) {
                size_t ncap = c->cap ? 2 * c->cap : 16;
                problem *np = realloc(c->problems, ncap * sizeof(*np));

                if (!np) {
                        free(text);
                        c->oom = true;
                        return -ENOMEM;
                }
                c->problems = np;
                c->cap = ncap;
        }
        c->problems[c->n_problems++] = (problem){ level, text };
        return 0;
}

static int
nagios_level(vs_level l)
{
        return l == VS_LEVEL_CRITICAL ? NAGIOS_CRITICAL : l == VS_LEVEL_WARNING ? NAGIOS_WARNING : NAGIOS_OK;
}

/* One series: the findings of health.h, in one problem line. */
static int
judge(const vs_store_series *se, void *userdata)
{
        monitor_ctx *c = userdata;
        char *text = NULL;
        size_t len = 0, cap = 0;
        vs_judgement j;

        vs_cli_judge(c->health, se, &j);
        /* A disabled policy is off on purpose. */
        if (j.policy && !j.policy->enabled)
                return 0;
        /* A series of a policy that is gone and holds nothing is history. */
        if (c->cfg && !j.policy && j.health != VS_HEALTH_ORPHANED && j.health != VS_HEALTH_UNDELETABLE)
                return 0;
        c->series++;
        c->deferred += se->deferred;
        if (j.has_age && j.age > c->max_age)
                c->max_age = j.age;
        if (j.level == VS_LEVEL_OK) {
                c->ok++;
                return 0;
        }
        put_clean(&text, &len, &cap, se->domain_name, 64);
        put_clean(&text, &len, &cap, "/", 1);
        put_clean(&text, &len, &cap, se->policy, 64);
        put_clean(&text, &len, &cap, ": ", 2);
        for (unsigned i = 0; i < j.n_findings; i++) {
                const vs_finding *f = &j.findings[i];

                switch (f->what) {
                case VS_HEALTH_NEVER:
                        c->never++;
                        break;
                case VS_HEALTH_FAILING:
                        c->failing++;
                        break;
                case VS_HEALTH_UNDELETABLE:
                        c->undeletable += se->undeletable;
                        break;
                case VS_HEALTH_HOOK_FAILED:
                        c->hook_failed++;
                        break;
                case VS_HEALTH_GUARDED:
                        c->guarded++;
                        break;
                case VS_HEALTH_ORPHANED:
                        c->orphaned++;
                        break;
                default:
                        break;
                }
                put_sep(&text, &len, &cap);
                put_clean(&text, &len, &cap, f->text, f->what == VS_HEALTH_FAILING ? 21 + MAX_MESSAGE : SIZE_MAX);
        }
        return add_problem(c, nagios_level(j.level), text);
}

/* A connection that is down, judged once (its series say so too). */
static int
judge_connections(monitor_ctx *c)
{
        for (size_t i = 0; i < vs_health_n_connections(c->health); i++) {
                vs_connection_judgement cj;
                char *text = NULL;
                size_t len = 0, cap = 0;

                vs_cli_judge_connection(c->health, i, &cj);
                if (cj.finding.level == VS_LEVEL_OK)
                        continue;
                c->unreachable++;
                put_clean(&text, &len, &cap, cj.uri, 64);
                put_clean(&text, &len, &cap, ": ", 2);
                put_clean(&text, &len, &cap, cj.finding.text, SIZE_MAX);
                if (add_problem(c, nagios_level(cj.finding.level), text) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int
by_level(const void *a, const void *b)
{
        const problem *x = a, *y = b;

        return y->level - x->level;
}

int
vs_cmd_monitor(int argc, char **argv)
{
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "database", required_argument, NULL, 'D' },
                { "domain", required_argument, NULL, 'd' },
                { "policy", required_argument, NULL, 'p' },
                { "warn", required_argument, NULL, 'w' },
                { "crit", required_argument, NULL, 'C' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        vs_cli_db_opts db = { .cmd = "monitor", .flags = VS_STORE_READ_ONLY };
        vs_store_filter filter = { .since = INT64_MIN, .until = INT64_MAX };
        monitor_ctx ctx = { 0 };
        vs_health_ctx *health = NULL;
        int64_t now, warn = 0, crit = 0;
        vs_config *cfg = NULL;
        vs_store *s = NULL;
        vs_err err = { 0 };
        int c, r, ret = NAGIOS_UNKNOWN;
        char tbuf[64];

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:d:p:w:C:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        db.config = optarg;
                        break;
                case 'D':
                        db.database = optarg;
                        break;
                case 'd':
                        filter.domain = optarg;
                        break;
                case 'p':
                        filter.policy = optarg;
                        break;
                case 'w':
                case 'C':
                        if (vs_duration_parse(optarg, c == 'w' ? &warn : &crit) < 0 || (c == 'w' ? warn : crit) <= 0)
                                return unknown("usage: --%s: '%s' is not a positive duration (36h, 1d12h)",
                                               c == 'w' ? "warn" : "crit", optarg);
                        break;
                case 'h':
                        monitor_usage(stdout);
                        return NAGIOS_OK;
                case ':':
                        return unknown("usage: %s needs an argument", argv[optind - 1]);
                default:
                        return unknown("usage: unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return unknown("usage: unexpected argument '%s'", argv[optind]);
        if (warn && crit && warn > crit)
                return unknown("usage: --warn is longer than --crit");
        if (vs_cli_now(&now) < 0)
                return unknown("$VIRTSNAP_NOW is not a TIME");
        /* Details of an unreadable file go to stderr; the status line says
         * what the monitoring system needs. */
        if (vs_cli_open_store(&db, &s, &cfg) < 0)
                return unknown("cannot read the history database or policy file (details on stderr)");
        if (!cfg && !(warn && crit)) {
                ret = unknown("no thresholds: give -c FILE (schedules) or --warn and --crit");
                goto out;
        }
        ctx.cfg = cfg;
        r = vs_health_ctx_new(s, cfg, now, warn, crit, &health, &err);
        if (r < 0) {
                ret = unknown("reading the history: %s", err.msg);
                goto out;
        }
        ctx.health = health;
        r = vs_store_query_series(s, &filter, judge, &ctx, &err);
        /* A --domain or --policy filter is about series, not hosts. */
        if (r >= 0 && !ctx.oom && !filter.domain && !filter.policy)
                r = judge_connections(&ctx);
        if (r < 0 || ctx.oom) {
                ret = unknown("reading the history: %s", ctx.oom ? "out of memory" : err.msg);
                goto out;
        }
        if (ctx.series == 0 && ctx.unreachable == 0) {
                ret = unknown("no (domain, policy) series in the history%s", cfg ? " for the policies in the file" : "");
                goto out;
        }
        ret = ctx.critical ? NAGIOS_CRITICAL : ctx.warning ? NAGIOS_WARNING : NAGIOS_OK;
        printf("VIRTSNAP %s - ", level_names[ret]);
        if (ret == NAGIOS_OK) {
                printf("%u series ok, oldest last success %s ago", ctx.series,
                       vs_output_format_duration(ctx.max_age, tbuf, sizeof(tbuf)));
        } else {
                qsort(ctx.problems, ctx.n_problems, sizeof(*ctx.problems), by_level);
                printf("%u critical, %u warning of %u series%s: ", ctx.critical, ctx.warning, ctx.series,
                       ctx.unreachable ? " and connections" : "");
                for (size_t i = 0; i < ctx.n_problems && i < MAX_LISTED; i++)
                        printf("%s%s", i ? "; " : "", ctx.problems[i].text);
                if (ctx.n_problems > MAX_LISTED)
                        printf("; and %zu more", ctx.n_problems - MAX_LISTED);
        }
        printf(" | series=%u ok=%u warning=%u critical=%u failing=%u never=%u undeletable=%u hook_failed=%u"
               " orphaned=%u unreachable=%u guarded=%u deferred=%u max_age=%llds\n",
               ctx.series, ctx.ok, ctx.warning, ctx.critical, ctx.failing, ctx.never, ctx.undeletable,
               ctx.hook_failed, ctx.orphaned, ctx.unreachable, ctx.guarded, ctx.deferred, (long long)ctx.max_age);
        if (fflush(stdout) != 0)
                ret = NAGIOS_UNKNOWN;
out:
        for (size_t i = 0; i < ctx.n_problems; i++)
                free(ctx.problems[i].text);
        free(ctx.problems);
        vs_health_ctx_free(health);
        vs_config_free(cfg);
        vs_store_free(s);
        return ret;
}
