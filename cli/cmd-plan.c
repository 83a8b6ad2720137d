/* virtsnap plan: what the daemon would do, per policy, without doing it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-args.h"
#include "cli-config.h"
#include "cli-sched.h"
#include "cli-store.h"
#include "commands.h"
#include "duration.h"
#include "plan.h"
#include "timefmt.h"
#include "vs-config.h"

static void
plan_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap plan [-c FILE] [--at TIME] [--count N] [--connect URI]\n"
                "                     [--database PATH]\n"
                "\n"
                "For each policy: the domains it matches now, when each fires next (the next\n"
                "N firings with --count, each with its jitter offset), whether a snapshot is owed right away (catch-up), and what a\n"
                "prune would remove at TIME and why.  Nothing is changed.\n"
                "\n"
                "options:\n"
                "  -c, --config FILE   the policy file (default %s)\n"
                "  --at TIME           evaluate at TIME (RFC 3339 or @EPOCH); default: now\n"
                "  -n, --count N       show the next N firings per domain (1-1000; default 1)\n"
                "  --connect URI       use this libvirt URI for every policy\n"
                "  --database PATH     the history database (default: the file's database:); without\n"
                "                      one, the prune preview is left out\n"
                "  -h, --help          this help\n"
                "\n"
                "exit status: 0 success; 1 failure (invalid file, a connection failed); 2 usage error.\n",
                VS_DEFAULT_CONFIG);
}

static void
print_prune(vs_store *store, const vs_config *cfg, const vs_policy *p, const char *uri, const char *uuid,
            int64_t at)
{
        vs_cli_preview pv = { 0 };
        vs_err e = { 0 };
        unsigned removed = 0;

        if (!store)
                return;
        if (!p->prune) {
                printf("      prune: off (prune: false)\n");
                return;
        }
        if (vs_cli_retention_preview(store, cfg, p, uri, uuid, at, &pv, &e) < 0) {
                printf("      prune: cannot read the history: %s\n", e.msg);
                return;
        }
        for (size_t i = 0; i < pv.held.n; i++) {
                char when[VS_TIME_BUFSZ], reason[320];
                const char *verdict;

                vs_cli_preview_describe(p, &pv.items[i], &verdict, reason, sizeof(reason));
                if (pv.items[i].verdict == VS_VERDICT_REMOVE)
                        removed++;
                printf("      %-7s %s  %s  %s\n", verdict, pv.held.items[i].name,
                       vs_time_format_utc(pv.held.items[i].created, when, sizeof(when)), reason);
        }
        printf("      prune now: %u of %zu held would be removed\n", removed, pv.held.n);
        vs_cli_preview_clear(&pv);
}

static int
print_policy(vs_store *store, const vs_config *cfg, const vs_policy *p, const char *uri, int64_t at, long count)
{
        char jit[32], next[VS_TIME_BUFSZ], local[VS_TIME_BUFSZ];
        vs_domain_list doms = { 0 };
        vs_virt *v = NULL;
        vs_err e = { 0 };
        unsigned matched = 0;

        printf("policy %s: schedule \"%s\", jitter %s, catch_up %s, on %s\n", p->name, vs_schedule_text(p->schedule),
               vs_duration_format(p->jitter, jit, sizeof(jit)), p->catch_up ? "true" : "false", uri);
        if (!p->enabled) {
                printf("  disabled (enabled: false): never runs\n");
                return 0;
        }
        if (vs_virt_open_libvirt(uri, &v, &e) < 0 || vs_virt_list_domains(v, &doms, &e) < 0) {
                printf("  cannot list domains: %s\n", e.msg);
                vs_virt_free(v);
                return -1;
        }
        for (size_t d = 0; d < doms.n; d++) {
                const vs_domain_info *dom = &doms.items[d];
                int64_t off, slot, last_sched = 0, last_created = 0;
                bool has = false, due;

                if (!vs_plan_domain_matches(p, dom))
                        continue;
                matched++;
                off = vs_plan_offset(uri, dom->uuid, p->name, p->jitter);
                slot = vs_plan_next_slot(p->schedule, cfg->tz, off, at);
                if (store)
                        has = vs_store_last_success(store, uri, dom->uuid, p->name, &last_sched, &last_created, NULL) == 0;
                due = vs_plan_is_due(p->schedule, cfg->tz, off, has,
                                     last_created > last_sched ? last_created : last_sched, at);
                if (slot == INT64_MAX)
                        printf("  %s: never fires\n", dom->name);
                else
                        printf("  %s: next %s (%s), jitter +%llds%s\n", dom->name,
                               vs_time_format_utc(slot + off, next, sizeof(next)),
                               vs_tz_format_local(cfg->tz, slot + off, local, sizeof(local)), (long long)off,
                               !store ? ""
                               : due ? (p->catch_up ? "; a slot was missed: catch-up snapshot at daemon start"
                                                    : "; a slot was missed (catch_up: false)")
                                     : "");
                for (long k = 1; k < count && slot != INT64_MAX; k++) {
                        slot = vs_plan_next_slot(p->schedule, cfg->tz, off, slot + off);
                        if (slot != INT64_MAX)
                                printf("      then %s (%s)\n", vs_time_format_utc(slot + off, next, sizeof(next)),
                                       vs_tz_format_local(cfg->tz, slot + off, local, sizeof(local)));
                }
                print_prune(store, cfg, p, uri, dom->uuid, at);
        }
        if (matched == 0)
                printf("  matches no domain on %s\n", uri);
        vs_domain_list_clear(&doms);
        vs_virt_free(v);
        return 0;
}

int
vs_cmd_plan(int argc, char **argv)
{
        enum { OPT_CONNECT = 256, OPT_DATABASE, OPT_AT };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "at", required_argument, NULL, OPT_AT },
                { "count", required_argument, NULL, 'n' },
                { "connect", required_argument, NULL, OPT_CONNECT },
                { "database", required_argument, NULL, OPT_DATABASE },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *config = NULL, *connect = NULL, *database = NULL, *at_arg = NULL;
        vs_config *cfg = NULL;
        vs_store *store = NULL;
        int64_t at;
        long count = 1;
        char *end;
        int c, rc = VS_EXIT_OK;

        optind = 1;
        while ((c = getopt_long(argc, argv, ":c:n:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 'n':
                        errno = 0;
                        count = strtol(optarg, &end, 10);
                        if (errno || end == optarg || *end || count < 1 || count > 1000)
                                return vs_cli_usage_error("plan", "--count: '%s' is not a number from 1 to 1000",
                                                          optarg);
                        break;
                case OPT_AT:
                        at_arg = optarg;
                        break;
                case OPT_CONNECT:
                        connect = optarg;
                        break;
                case OPT_DATABASE:
                        database = optarg;
                        break;
                case 'h':
                        plan_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        return vs_cli_getopt_error("plan", c, argv);
                }
        }
        if (optind < argc)
                return vs_cli_usage_error("plan", "unexpected argument '%s'", argv[optind]);
        if (at_arg ? vs_time_parse(at_arg, &at) < 0 : vs_cli_now(&at) < 0)
                return vs_cli_usage_error("plan", "%s is not a TIME (RFC 3339 or @EPOCH)",
                                          at_arg ? at_arg : "$VIRTSNAP_NOW");
        if (vs_cli_load_config(config, &cfg) < 0) {
                fprintf(stderr, "virtsnap plan: cannot load the policy file\n");
                return VS_EXIT_FAILURE;
        }
        {
                const char *path = database ? database : cfg->database ? cfg->database : VS_DEFAULT_DATABASE;
                vs_err e = { 0 };

                /* No history yet is normal before the first run: plan without it. */
                if (vs_store_open(path, VS_STORE_READ_ONLY, &store, &e) < 0) {
                        fprintf(stderr, "virtsnap plan: %s: %s (no prune preview, no catch-up check)\n", path, e.msg);
                        store = NULL;
                }
        }
        {
                char when[VS_TIME_BUFSZ];

                printf("plan at %s (time zone %s)\n", vs_time_format_utc(at, when, sizeof(when)), vs_tz_name(cfg->tz));
        }
        for (size_t i = 0; i < cfg->n_policies; i++)
                if (print_policy(store, cfg, &cfg->policies[i], connect ? connect : cfg->policies[i].connection, at,
                                 count) < 0)
                        rc = VS_EXIT_FAILURE;
        vs_store_free(store);
        vs_config_free(cfg);
        return rc;
}
