/* virtsnap retention: which of a list of snapshots would retention keep, and
 * why?  Reads snapshot times on stdin, runs the same engine the daemon uses
 * (policy/retention.c) and prints one verdict per snapshot, newest first, so
 * users can try rules on their own history before trusting them. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli-args.h"
#include "commands.h"
#include "duration.h"
#include "output.h"
#include "policy.h"
#include "retention.h"
#include "timefmt.h"
#include "tz.h"

/* The same limits as the policy file's. */
#define KEEP_MAX VS_POLICY_MAX_KEEP
/* Snapshots read from stdin (a host has thousands; this is memory's bound). */
#define INPUT_MAX 10000000

static void
retention_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap retention [--keep-last N] [--keep-hourly N] [--keep-daily N]\n"
                "                          [--keep-weekly N] [--keep-monthly N] [--keep-yearly N]\n"
                "                          [--keep-within DURATION] [--timezone ZONE] [--now TIME] [--json]\n"
                "\n"
                "Read snapshots on stdin, one per line: TIME, optionally followed by the word\n"
                "'pinned'.  Blank lines are ignored.  Print what retention does with each,\n"
                "newest first.  Snapshots with the same time are distinct; the earlier line\n"
                "counts as the newer.\n"
                "\n"
                "The rules are Proxmox Backup Server's prune:\n"
                "  1. pinned snapshots are never removed and are invisible to every rule;\n"
                "  2. --keep-within keeps every snapshot newer than TIME - DURATION;\n"
                "  3. then last, hourly, daily, weekly, monthly, yearly, in that order: each\n"
                "     keeps the newest snapshot of each of its N newest buckets (hour, day,\n"
                "     ISO week starting Monday, month, year of ZONE's wall clock; for last,\n"
                "     each snapshot), skipping buckets already kept by an earlier rule and\n"
                "     removing the other snapshots of the buckets it took;\n"
                "  4. everything else is removed, except the newest unpinned snapshot.\n"
                "\n"
                "options:\n"
                "  --keep-last N, --keep-hourly N, --keep-daily N, --keep-weekly N,\n"
                "  --keep-monthly N, --keep-yearly N\n"
                "                   how many of each to keep (0-%d; 0 = rule off)\n"
                "  --keep-within DURATION\n"
                "                   keep everything newer than this (30m, 36h, 7d, 2w, 1d12h)\n"
                "  --timezone ZONE  IANA zone for the buckets (Europe/Berlin, UTC); default: the host's\n"
                "  --now TIME       the present for --keep-within; default: now\n"
                "  --json           a JSON array of {\"time\", \"epoch\", \"action\", \"rule\"} objects\n"
                "  -h, --help       this help\n"
                "At least one keep option is required: retention that keeps nothing is refused.\n"
                "TIME is RFC 3339 (2026-11-27T04:00:00Z, 2026-11-27T05:00:00+01:00) or @EPOCH.\n"
                "\n"
                "Output: one line per snapshot, newest first:\n"
                "  keep 2019-12-04T12:59:15Z last\n"
                "  remove 2019-12-04T11:00:00Z\n"
                "  pinned 2019-12-01T00:00:00Z\n"
                "\n"
                "exit status: 0 success; 1 failure (a malformed input line, reported with its\n"
                "line number, in which case no verdict is printed); 2 usage error.\n",
                KEEP_MAX);
}

typedef struct input {
        vs_retention_item *items;
        size_t n, cap;
} input;

/* One line: TIME [pinned].  0, 1 for a blank line, -EINVAL (message in
 * errbuf) or -ENOMEM. */
static int
parse_line(char *line, input *in, char *errbuf, size_t errlen)
{
        static const char *const sep = " \t\r\n\v\f";
        char *save = NULL, *tok, *word;
        int64_t t;

        tok = strtok_r(line, sep, &save);
        if (!tok)
                return 1;
        if (vs_time_parse(tok, &t) < 0) {
                snprintf(errbuf, errlen,
                         "invalid time '%.64s' (expected RFC 3339 such as 2026-11-27T04:00:00Z, or @EPOCH)",
                         tok);
                return -EINVAL;
        }
        word = strtok_r(NULL, sep, &save);
        if (word && strcmp(word, "pinned") != 0) {
                snprintf(errbuf, errlen, "unexpected '%.64s' after the time (only 'pinned' may follow)",
                         word);
                return -EINVAL;
        }
        if (word && (tok = strtok_r(NULL, sep, &save))) {
                snprintf(errbuf, errlen, "unexpected '%.64s' after 'pinned'", tok);
                return -EINVAL;
        }
        if (in->n >= INPUT_MAX) {
                snprintf(errbuf, errlen, "more than %d snapshots", INPUT_MAX);
                return -EINVAL;
        }
        if (in->n == in->cap) {
                size_t cap = in->cap ? in->cap * 2 : 64;
                vs_retention_item *p = reallocarray(in->items, cap, sizeof(*p));

                if (!p)
                        return -ENOMEM;
                in->items = p;
                in->cap = cap;
        }
        in->items[in->n++] = (vs_retention_item){ .time = t, .pinned = word != NULL };
        return 0;
}

/* Reads all of f; on a malformed line prints it and returns VS_EXIT_FAILURE. */
static int
read_input(FILE *f, input *in)
{
        char *line = NULL, errbuf[256];
        size_t size = 0;
        ssize_t len;
        unsigned long lineno = 0;
        int ret = VS_EXIT_OK;

        while ((len = getline(&line, &size, f)) >= 0) {
                int r;

                lineno++;
                if (memchr(line, '\0', (size_t)len)) {
                        fprintf(stderr, "virtsnap retention: line %lu: contains a NUL byte\n", lineno);
                        ret = VS_EXIT_FAILURE;
                        break;
                }
                r = parse_line(line, in, errbuf, sizeof(errbuf));
                if (r == -ENOMEM) {
                        fprintf(stderr, "virtsnap retention: out of memory\n");
                        ret = VS_EXIT_FAILURE;
                        break;
                }
                if (r < 0) {
                        fprintf(stderr, "virtsnap retention: line %lu: %s\n", lineno, errbuf);
                        ret = VS_EXIT_FAILURE;
                        break;
                }
        }
        if (ret == VS_EXIT_OK && ferror(f)) {
                fprintf(stderr, "virtsnap retention: reading stdin: %s\n", strerror(errno));
                ret = VS_EXIT_FAILURE;
        }
        free(line);
        return ret;
}

/* Newest first; equal times keep input order (the earlier line is newer). */
static int
cmp_newest_first(const void *a, const void *b, void *arg)
{
        const vs_retention_item *items = arg;
        size_t i = *(const size_t *)a, j = *(const size_t *)b;
        int64_t ti = items[i].time, tj = items[j].time;

        if (ti != tj)
                return ti > tj ? -1 : 1;
        return (i > j) - (i < j);
}

int
vs_cmd_retention(int argc, char **argv)
{
        enum { OPT_LAST = 256, OPT_HOURLY, OPT_DAILY, OPT_WEEKLY, OPT_MONTHLY, OPT_YEARLY, OPT_WITHIN,
               OPT_TZ, OPT_NOW, OPT_JSON };
        static const struct option options[] = {
                { "keep-last", required_argument, NULL, OPT_LAST },
                { "keep-hourly", required_argument, NULL, OPT_HOURLY },
                { "keep-daily", required_argument, NULL, OPT_DAILY },
                { "keep-weekly", required_argument, NULL, OPT_WEEKLY },
                { "keep-monthly", required_argument, NULL, OPT_MONTHLY },
                { "keep-yearly", required_argument, NULL, OPT_YEARLY },
                { "keep-within", required_argument, NULL, OPT_WITHIN },
                { "timezone", required_argument, NULL, OPT_TZ },
                { "now", required_argument, NULL, OPT_NOW },
                { "json", no_argument, NULL, OPT_JSON },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        vs_retention_rules rules = { 0 };
        const char *zone = NULL, *now_arg = NULL;
        bool json = false;
        input in = { 0 };
        size_t *order = NULL;
        vs_tz *tz = NULL;
        vs_err err = { 0 };
        int64_t now, v;
        int c, r, *count, ret = VS_EXIT_OK;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_LAST:
                case OPT_HOURLY:
                case OPT_DAILY:
                case OPT_WEEKLY:
                case OPT_MONTHLY:
                case OPT_YEARLY:
                        count = c == OPT_LAST      ? &rules.keep_last
                                : c == OPT_HOURLY  ? &rules.keep_hourly
                                : c == OPT_DAILY   ? &rules.keep_daily
                                : c == OPT_WEEKLY  ? &rules.keep_weekly
                                : c == OPT_MONTHLY ? &rules.keep_monthly
                                                   : &rules.keep_yearly;
                        if (vs_cli_parse_uint(optarg, 0, KEEP_MAX, &v) < 0)
                                return vs_cli_usage_error("retention", "--%s: '%s' is not a number from 0 to %d",
                                                          options[c - OPT_LAST].name, optarg, KEEP_MAX);
                        *count = (int)v;
                        break;
                case OPT_WITHIN:
                        if (vs_duration_parse(optarg, &rules.keep_within) < 0 ||
                            rules.keep_within > VS_POLICY_MAX_KEEP_WITHIN)
                                return vs_cli_usage_error("retention",
                                                          "--keep-within: invalid duration '%s' (such as 36h, "
                                                          "7d, 1d12h; at most 36500d)", optarg);
                        break;
                case OPT_TZ:
                        zone = optarg;
                        break;
                case OPT_NOW:
                        now_arg = optarg;
                        break;
                case OPT_JSON:
                        json = true;
                        break;
                case 'h':
                        retention_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        return vs_cli_getopt_error("retention", c, argv);
                }
        }
        if (optind < argc)
                return vs_cli_usage_error("retention", "unexpected argument '%s' (snapshots are read from stdin)",
                                          argv[optind]);
        if (!vs_retention_rules_any(&rules))
                return vs_cli_usage_error("retention",
                                          "no keep option given (or all are 0): retention that keeps nothing "
                                          "is refused");
        if (now_arg) {
                if (vs_time_parse(now_arg, &now) < 0)
                        return vs_cli_usage_error("retention", "--now: invalid time '%s' (expected RFC 3339 such as "
                                                  "2026-11-27T04:00:00Z, or @EPOCH)", now_arg);
        } else {
                now = (int64_t)time(NULL);
        }

        r = vs_tz_load(zone, &tz, &err);
        if (r < 0) {
                fprintf(stderr, "virtsnap retention: %s\n", err.msg[0] ? err.msg : strerror(-r));
                /* A bad --timezone is the user's argument; a host zone we
                 * cannot read is a failure of this machine. */
                return zone && r == -ENOENT ? VS_EXIT_USAGE : VS_EXIT_FAILURE;
        }

        ret = read_input(stdin, &in);
        if (ret != VS_EXIT_OK)
                goto out;
        r = vs_retention_apply(&rules, tz, now, in.items, in.n);
        order = calloc(in.n ? in.n : 1, sizeof(*order));
        if (r < 0 || !order) {
                fprintf(stderr, "virtsnap retention: out of memory\n");
                ret = VS_EXIT_FAILURE;
                goto out;
        }
        for (size_t i = 0; i < in.n; i++)
                order[i] = i;
        qsort_r(order, in.n, sizeof(*order), cmp_newest_first, in.items);

        {
                json_object *arr = json ? json_object_new_array() : NULL;
                char buf[VS_TIME_BUFSZ];

                for (size_t k = 0; k < in.n; k++) {
                        const vs_retention_item *it = &in.items[order[k]];
                        const char *action = vs_verdict_to_string(it->verdict);
                        const char *rule = vs_keep_rule_to_string(it->rule);

                        if (json)
                                json_object_array_add(arr, vs_output_retention_item_json(it));
                        else if (rule)
                                printf("%s %s %s\n", action, vs_time_format_utc(it->time, buf, sizeof(buf)), rule);
                        else
                                printf("%s %s\n", action, vs_time_format_utc(it->time, buf, sizeof(buf)));
                }
                if (json && in.n == 0) {
                        puts("[]");
                        json_object_put(arr);
                } else if (json) {
                        vs_output_print_json(arr, stdout);
                        json_object_put(arr);
                }
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "virtsnap retention: write error: %s\n", strerror(errno));
                ret = VS_EXIT_FAILURE;
        }
out:
        free(order);
        free(in.items);
        vs_tz_free(tz);
        return ret;
}
