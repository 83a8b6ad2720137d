/* virtsnap next: when does a schedule fire? */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli-args.h"
#include "commands.h"
#include "output.h"
#include "schedule.h"
#include "timefmt.h"
#include "tz.h"

#define NEXT_MAX_COUNT 1000000

static void
next_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap next SCHEDULE [--timezone ZONE] [--from TIME] [--count N] [--json]\n"
                "\n"
                "Print the next N times SCHEDULE fires, strictly after TIME.\n"
                "\n"
                "SCHEDULE is one of:\n"
                "  hourly, daily, weekly, monthly, yearly (or annually)\n"
                "                   0 * * * *, 0 0 * * *, 0 0 * * 1, 0 0 1 * *, 0 0 1 1 *;\n"
                "                   the cron spellings @hourly, @daily, ... mean the same\n"
                "                   (case does not matter; @reboot is not a schedule)\n"
                "  M H DOM MON DOW  5-field cron: numbers, *, lists, ranges, steps (*/15, 1-5/2),\n"
                "                   jan-dec, sun-sat, 0 and 7 = Sunday; when both DOM and DOW\n"
                "                   are restricted a day matches if either matches\n"
                "  every DURATION   at UTC multiples of DURATION since the epoch (every 15m, every 6h)\n"
                "Quote it as one argument, or give its words as separate arguments.\n"
                "\n"
                "Cron schedules run on ZONE's wall clock.  An hour field starting with '*' fires\n"
                "at every instant whose wall time matches (twice in a repeated fall-back hour);\n"
                "fixed hours fire once per wall time (its first occurrence), and wall times\n"
                "skipped by a spring-forward fire at the transition, as one firing.\n"
                "\n"
                "options:\n"
                "  --timezone ZONE  IANA zone name (Europe/Berlin, UTC); default: the host's zone\n"
                "  --from TIME      RFC 3339 (2026-11-27T04:00:00Z, ...+02:00) or @EPOCH; default: now\n"
                "  --count N        how many fire times (0-%d); default 5\n"
                "  --json           a JSON array of {\"utc\", \"epoch\", \"local\"} objects\n"
                "  -h, --help       this help\n"
                "\n"
                "Output: one line per fire time, UTC then local time:\n"
                "  2026-03-29T01:00:00Z  2026-03-29T03:00:00+02:00\n"
                "A schedule that never fires (0 0 30 2 *) prints nothing and a note on stderr.\n"
                "\n"
                "exit status: 0 success; 1 failure (the host's time zone cannot be read, output\n"
                "error); 2 usage error, including an invalid SCHEDULE, ZONE, TIME or N.\n",
                NEXT_MAX_COUNT);
}

int
vs_cmd_next(int argc, char **argv)
{
        static const struct option options[] = {
                { "timezone", required_argument, NULL, 'z' },
                { "from", required_argument, NULL, 'f' },
                { "count", required_argument, NULL, 'n' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *zone = NULL, *from = NULL;
        long count = 5;
        bool json = false;
        char *text = NULL, errbuf[256];
        size_t textlen = 0;
        vs_schedule *s = NULL;
        vs_tz *tz = NULL;
        vs_err err = { 0 };
        int64_t t, v;
        int c, r, ret = VS_EXIT_OK;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                switch (c) {
                case 'z':
                        zone = optarg;
                        break;
                case 'f':
                        from = optarg;
                        break;
                case 'n':
                        if (vs_cli_parse_uint(optarg, 0, NEXT_MAX_COUNT, &v) < 0)
                                return vs_cli_usage_error("next", "--count: '%s' is not a number from 0 to 1000000",
                                                          optarg);
                        count = (long)v;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        next_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        return vs_cli_getopt_error("next", c, argv);
                }
        }
        if (optind >= argc)
                return vs_cli_usage_error("next", "missing SCHEDULE");

        /* The schedule's words may come as one argument or several. */
        for (int i = optind; i < argc; i++)
                textlen += strlen(argv[i]) + 1;
        text = calloc(1, textlen + 1);
        if (!text) {
                fprintf(stderr, "virtsnap next: out of memory\n");
                return VS_EXIT_FAILURE;
        }
        for (int i = optind; i < argc; i++) {
                if (i > optind)
                        strcat(text, " ");
                strcat(text, argv[i]);
        }
        r = vs_schedule_parse(text, &s, errbuf, sizeof(errbuf));
        if (r < 0) {
                fprintf(stderr, "virtsnap next: invalid schedule '%s': %s\n", text, errbuf);
                free(text);
                return r == -ENOMEM ? VS_EXIT_FAILURE : VS_EXIT_USAGE;
        }

        if (from) {
                if (vs_time_parse(from, &t) < 0) {
                        ret = vs_cli_usage_error("next", "--from: invalid time '%s' (expected RFC 3339 such as "
                                                 "2026-11-27T04:00:00Z, or @EPOCH)", from);
                        goto out;
                }
        } else {
                t = (int64_t)time(NULL);
        }

        r = vs_tz_load(zone, &tz, &err);
        if (r < 0) {
                fprintf(stderr, "virtsnap next: %s\n", err.msg[0] ? err.msg : strerror(-r));
                /* A bad --timezone is the user's argument; a host zone we
                 * cannot read is a failure of this machine. */
                ret = zone && r == -ENOENT ? VS_EXIT_USAGE : VS_EXIT_FAILURE;
                goto out;
        }

        {
                json_object *arr = json ? json_object_new_array() : NULL;
                char ubuf[VS_TIME_BUFSZ], lbuf[VS_TIME_BUFSZ];
                long n;

                for (n = 0; n < count; n++) {
                        t = vs_schedule_next(s, tz, t);
                        if (t == INT64_MAX)
                                break;
                        vs_time_format_utc(t, ubuf, sizeof(ubuf));
                        vs_tz_format_local(tz, t, lbuf, sizeof(lbuf));
                        if (json) {
                                json_object *o = json_object_new_object();

                                json_object_object_add(o, "utc", json_object_new_string(ubuf));
                                json_object_object_add(o, "epoch", json_object_new_int64(t));
                                json_object_object_add(o, "local", json_object_new_string(lbuf));
                                json_object_array_add(arr, o);
                        } else {
                                printf("%s  %s\n", ubuf, lbuf);
                        }
                }
                if (json && n == 0) {
                        puts("[]");
                        json_object_put(arr);
                } else if (json) {
                        vs_output_print_json(arr, stdout);
                        json_object_put(arr);
                }
                if (n < count)
                        fprintf(stderr, "virtsnap next: schedule '%s' never fires%s\n", vs_schedule_text(s),
                                n == 0 ? "" : " again");
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "virtsnap next: write error: %s\n", strerror(errno));
                ret = VS_EXIT_FAILURE;
        }
out:
        vs_tz_free(tz);
        vs_schedule_free(s);
        free(text);
        return ret;
}
