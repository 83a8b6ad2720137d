/* virtsnap monitor: a Nagios/Icinga plugin.  For each matched (domain,
 * policy) series it judges the age of the last successful snapshot against
 * warning and critical thresholds (by default 1.5 x and 3 x the policy's
 * schedule interval), and flags series that never succeeded, whose newest
 * attempt failed, or that hold undeletable snapshots.  It prints one status
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
                "Each (domain, policy) series in the history whose policy is in the policy\n"
                "file (every series when there is no policy file) is judged:\n"
                "  CRITICAL  no snapshot ever succeeded, or the last success is older\n"
                "            than the critical threshold\n"
                "  WARNING   the last success is older than the warning threshold, the\n"
                "            newest attempt failed, or snapshots are undeletable\n"
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
        int64_t now, warn, crit;
        unsigned series, ok, warning, critical, failing, never, undeletable;
        int64_t max_age;
        problem *problems;
        size_t n_problems, cap;
        bool oom;
} monitor_ctx;

static int
judge(const vs_store_series *se, void *userdata)
{
        monitor_ctx *c = userdata;
        char *text = NULL, dbuf[64], tbuf[64];
        size_t len = 0, cap = 0;
        int64_t warn = c->warn, crit = c->crit;
        vs_judgement j;
        int level = NAGIOS_OK;

        vs_cli_judge(se, c->cfg, c->now, 0, &j);
        if (c->cfg && (!j.policy || !j.policy->enabled))
                return 0;
        if (j.has_period) {
                if (!warn)
                        warn = j.period + j.period / 2;
                if (!crit)
                        crit = 3 * j.period;
        }
        c->series++;
        put_clean(&text, &len, &cap, se->domain_name, 64);
        put_clean(&text, &len, &cap, "/", 1);
        put_clean(&text, &len, &cap, se->policy, 64);
        put_clean(&text, &len, &cap, ": ", 2);
        if (!se->has_success) {
                level = NAGIOS_CRITICAL;
                c->never++;
                put_clean(&text, &len, &cap, "no successful snapshot", SIZE_MAX);
        } else {
                if (j.age > c->max_age)
                        c->max_age = j.age;
                if ((crit && j.age > crit) || (warn && j.age > warn)) {
                        bool is_crit = crit && j.age > crit;

                        level = is_crit ? NAGIOS_CRITICAL : NAGIOS_WARNING;
                        snprintf(dbuf, sizeof(dbuf), "last success %s ago",
                                 vs_output_format_duration(j.age, tbuf, sizeof(tbuf)));
                        put_clean(&text, &len, &cap, dbuf, SIZE_MAX);
                        snprintf(dbuf, sizeof(dbuf), " (%s %s)", is_crit ? "crit" : "warn",
                                 vs_output_format_duration(is_crit ? crit : warn, tbuf, sizeof(tbuf)));
                        put_clean(&text, &len, &cap, dbuf, SIZE_MAX);
                }
        }
        if (se->has_attempt && se->last_state == VS_SNAP_FAILED) {
                c->failing++;
                if (level < NAGIOS_WARNING)
                        level = NAGIOS_WARNING;
                put_sep(&text, &len, &cap);
                put_clean(&text, &len, &cap, "last attempt failed: ", SIZE_MAX);
                put_clean(&text, &len, &cap, se->last_error ? se->last_error : "unknown error", MAX_MESSAGE);
        }
        if (se->undeletable) {
                c->undeletable += se->undeletable;
                if (level < NAGIOS_WARNING)
                        level = NAGIOS_WARNING;
                put_sep(&text, &len, &cap);
                snprintf(dbuf, sizeof(dbuf), "%u undeletable", se->undeletable);
                put_clean(&text, &len, &cap, dbuf, SIZE_MAX);
        }
        if (!text) {
                c->oom = true;
                return -ENOMEM;
        }
        if (level == NAGIOS_OK) {
                c->ok++;
                free(text);
                return 0;
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
                        if (vs_duration_parse(optarg, c == 'w' ? &ctx.warn : &ctx.crit) < 0 ||
                            (c == 'w' ? ctx.warn : ctx.crit) <= 0)
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
        if (ctx.warn && ctx.crit && ctx.warn > ctx.crit)
                return unknown("usage: --warn is longer than --crit");
        if (vs_cli_now(&ctx.now) < 0)
                return unknown("$VIRTSNAP_NOW is not a TIME");
        /* Details of an unreadable file go to stderr; the status line says
         * what the monitoring system needs. */
        if (vs_cli_open_store(&db, &s, &cfg) < 0)
                return unknown("cannot read the history database or policy file (details on stderr)");
        if (!cfg && !(ctx.warn && ctx.crit)) {
                ret = unknown("no thresholds: give -c FILE (schedules) or --warn and --crit");
                goto out;
        }
        ctx.cfg = cfg;
        r = vs_store_query_series(s, &filter, judge, &ctx, &err);
        if (r < 0 || ctx.oom) {
                ret = unknown("reading the history: %s", ctx.oom ? "out of memory" : err.msg);
                goto out;
        }
        if (ctx.series == 0) {
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
                printf("%u critical, %u warning of %u series: ", ctx.critical, ctx.warning, ctx.series);
                for (size_t i = 0; i < ctx.n_problems && i < MAX_LISTED; i++)
                        printf("%s%s", i ? "; " : "", ctx.problems[i].text);
                if (ctx.n_problems > MAX_LISTED)
                        printf("; and %zu more", ctx.n_problems - MAX_LISTED);
        }
        printf(" | series=%u ok=%u warning=%u critical=%u failing=%u never=%u undeletable=%u max_age=%llds\n",
               ctx.series, ctx.ok, ctx.warning, ctx.critical, ctx.failing, ctx.never, ctx.undeletable,
               (long long)ctx.max_age);
        if (fflush(stdout) != 0)
                ret = NAGIOS_UNKNOWN;
out:
        for (size_t i = 0; i < ctx.n_problems; i++)
                free(ctx.problems[i].text);
        free(ctx.problems);
        vs_config_free(cfg);
        vs_store_free(s);
        return ret;
}
