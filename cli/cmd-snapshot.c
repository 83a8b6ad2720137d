/* virtsnap snapshot DOMAIN --policy P: an ad-hoc snapshot now, recorded and
 * then pruned by the policy's retention. */
#include <getopt.h>
#include <stdio.h>

#include "cli-args.h"
#include "cli-sched.h"
#include "commands.h"
#include "log.h"
#include "vs-config.h"

typedef struct snap_req {
        const char *domain, *policy;
} snap_req;

static void
snapshot_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap snapshot DOMAIN --policy P [-c FILE] [--connect URI] [--database PATH]\n"
                "                         [--log-level LEVEL]\n"
                "\n"
                "Take a snapshot of DOMAIN now under policy P (its type, hooks, quiesce and\n"
                "timeout), record it in the history, then prune DOMAIN's snapshots of P by P's\n"
                "retention, exactly as a scheduled firing does.\n"
                "\n"
                "options:\n"
                "  -p, --policy P      the policy (required)\n"
                "  -c, --config FILE   the policy file (default %s)\n"
                "  --connect URI       use this libvirt URI\n"
                "  --database PATH     the history database (default: the file's database:)\n"
                "  --log-level LEVEL   err, warning, notice, info (default) or debug\n"
                "  -h, --help          this help\n"
                "\n"
                "exit status: 0 snapshot taken (and pruned); 1 failure (also: a hook failed,\n"
                "or the prune left a snapshot libvirt cannot delete); 2 usage error.\n",
                VS_DEFAULT_CONFIG);
}

static int
start_snapshot(vs_scheduler *s, void *data)
{
        const snap_req *q = data;
        vs_err e = { 0 };

        if (vs_scheduler_snapshot_now(s, q->domain, q->policy, &e) < 0) {
                fprintf(stderr, "virtsnap snapshot: %s\n", e.msg);
                return VS_EXIT_FAILURE;
        }
        return 0;
}

int
vs_cmd_snapshot(int argc, char **argv)
{
        static const struct option options[] = {
                { "policy", required_argument, NULL, 'p' },
                VS_CLI_SCHED_OPTIONS,
                {},
        };
        vs_cli_sched_args a = { .cmd = "snapshot", .log_level = VS_LOG_INFO };
        snap_req q = { 0 };
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, ":c:p:h", options, NULL)) >= 0) {
                switch (c) {
                case 'p':
                        q.policy = optarg;
                        break;
                case 'h':
                        snapshot_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        r = vs_cli_sched_option(&a, c, argv);
                        if (r >= 0)
                                return r;
                        break;
                }
        }
        if (optind + 1 != argc || !q.policy)
                return vs_cli_usage_error("snapshot", "%s", optind >= argc ? "a DOMAIN is required"
                                          : optind + 1 < argc ? "one DOMAIN only" : "--policy is required");
        q.domain = argv[optind];
        return vs_cli_run_scheduler(&a, start_snapshot, &q, true);
}
