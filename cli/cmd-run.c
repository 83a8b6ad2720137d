/* virtsnap run --once: one pass over what is due, for cron and timers. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cli-args.h"
#include "cli-control.h"
#include "cli-sched.h"
#include "commands.h"
#include "log.h"
#include "vs-config.h"

static void
run_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap run --once [-c FILE] [--policy P] [--connect URI] [--database PATH]\n"
                "                    [--log-level LEVEL]\n"
                "\n"
                "One pass of the daemon, for users who prefer cron or a systemd timer: reconcile,\n"
                "then snapshot and prune every (domain, policy) that is due (its last snapshot\n"
                "predates the schedule's most recent slot, or it has none), then exit.\n"
                "When the daemon runs (it answers on the file's control_socket:), it is asked\n"
                "instead: it queues what is due and has no job in flight, and the command\n"
                "reports when those jobs are done.\n"
                "\n"
                "options:\n"
                "  --once              required (the only mode)\n"
                "  -c, --config FILE   the policy file (default %s)\n"
                "  --policy P          only this policy\n"
                "  --connect URI       use this libvirt URI for every policy\n"
                "  --database PATH     the history database (default: the file's database:)\n"
                "  --log-level LEVEL   err, warning, notice, info (default) or debug\n"
                "  -h, --help          this help\n"
                "\n"
                "exit status: 0 when every job succeeded (or nothing was due); 1 when any job\n"
                "failed or was skipped (its domain stayed busy, its guard said no), a prune\n"
                "left a snapshot libvirt cannot delete, or virtsnap could not start; 2 usage\n"
                "error.\n",
                VS_DEFAULT_CONFIG);
}

static int
start_once(vs_scheduler *s, void *data)
{
        int r = vs_scheduler_run_once(s);

        if (r < 0) {
                fprintf(stderr, "virtsnap run: no policy named '%s'\n", (const char *)data);
                return VS_EXIT_USAGE;
        }
        return 0;
}

/* With a daemon running, it runs the due jobs (it holds the database).  An
 * exit code, or -1 when no daemon answers. */
static int
through_daemon(const vs_cli_sched_args *a)
{
        json_object *o = NULL, *v;
        int r;

        r = vs_cli_control_ask_config("run", a->config,
                                      &(vs_ctl_request){
                                              .cmd = VS_CTL_RUN, .policy = (char *)a->only_policy,
                                              .database = (char *)a->database,
                                      },
                                      0, &o);
        if (r < 0)
                return VS_EXIT_FAILURE;
        if (r == 0)
                return -1;
        if (json_object_object_get_ex(o, "jobs", &v))
                printf("run by the daemon: %lld job%s due, %lld created, %lld failed or skipped, %lld pruned "
                       "(%lld undeletable)\n",
                       (long long)vs_cli_reply_int(o, "jobs"), vs_cli_reply_int(o, "jobs") == 1 ? "" : "s",
                       (long long)vs_cli_reply_int(o, "created"), (long long)vs_cli_reply_int(o, "failed"),
                       (long long)vs_cli_reply_int(o, "pruned"), (long long)vs_cli_reply_int(o, "undeletable"));
        r = vs_cli_reply_ok(o) && vs_cli_reply_int(o, "undeletable") == 0
                    ? VS_EXIT_OK : VS_EXIT_FAILURE;
        if (json_object_object_get_ex(o, "error", &v))
                fprintf(stderr, "virtsnap run: %s\n", json_object_get_string(v));
        json_object_put(o);
        return r;
}

int
vs_cmd_run(int argc, char **argv)
{
        enum { OPT_ONCE = VS_CLI_OPT_OWN };
        static const struct option options[] = {
                { "once", no_argument, NULL, OPT_ONCE },
                { "policy", required_argument, NULL, 'p' },
                VS_CLI_SCHED_OPTIONS,
                {},
        };
        vs_cli_sched_args a = { .cmd = "run", .log_level = VS_LOG_INFO };
        bool once = false;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, ":c:p:h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_ONCE:
                        once = true;
                        break;
                case 'p':
                        a.only_policy = optarg;
                        break;
                case 'h':
                        run_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        r = vs_cli_sched_option(&a, c, argv);
                        if (r >= 0)
                                return r;
                        break;
                }
        }
        if (optind < argc)
                return vs_cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
        if (!once)
                return vs_cli_usage_error("run",
                                          "--once is required (for a long-running scheduler use 'virtsnap daemon')");
        r = through_daemon(&a);
        if (r >= 0)
                return r;
        return vs_cli_run_scheduler(&a, start_once, (void *)a.only_policy, true);
}
