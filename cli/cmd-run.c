/* virtsnap run --once: one pass over what is due, for cron and timers. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

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
                "failed or virtsnap could not start; 2 usage error.\n",
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

int
vs_cmd_run(int argc, char **argv)
{
        enum { OPT_CONNECT = 256, OPT_DATABASE, OPT_LOG_LEVEL, OPT_ONCE };
        static const struct option options[] = {
                { "once", no_argument, NULL, OPT_ONCE },
                { "config", required_argument, NULL, 'c' },
                { "policy", required_argument, NULL, 'p' },
                { "connect", required_argument, NULL, OPT_CONNECT },
                { "database", required_argument, NULL, OPT_DATABASE },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        vs_cli_sched_args a = { .cmd = "run", .log_level = VS_LOG_INFO };
        bool once = false;
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, ":c:p:h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_ONCE:
                        once = true;
                        break;
                case 'c':
                        a.config = optarg;
                        break;
                case 'p':
                        a.only_policy = optarg;
                        break;
                case OPT_CONNECT:
                        a.connect = optarg;
                        break;
                case OPT_DATABASE:
                        a.database = optarg;
                        break;
                case OPT_LOG_LEVEL:
                        a.log_level = vs_cli_parse_log_level("run", optarg);
                        if (a.log_level < 0)
                                return VS_EXIT_USAGE;
                        break;
                case 'h':
                        run_usage(stdout);
                        return VS_EXIT_OK;
                case ':':
                        fprintf(stderr, "virtsnap run: %s needs an argument\nTry 'virtsnap run --help'.\n",
                                argv[optind - 1]);
                        return VS_EXIT_USAGE;
                default:
                        fprintf(stderr, "virtsnap run: unknown option '%s'\nTry 'virtsnap run --help'.\n",
                                argv[optind - 1]);
                        return VS_EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "virtsnap run: unexpected argument '%s'\nTry 'virtsnap run --help'.\n", argv[optind]);
                return VS_EXIT_USAGE;
        }
        if (!once) {
                fprintf(stderr, "virtsnap run: --once is required (for a long-running scheduler use 'virtsnap daemon')\n"
                                "Try 'virtsnap run --help'.\n");
                return VS_EXIT_USAGE;
        }
        return vs_cli_run_scheduler(&a, start_once, (void *)a.only_policy, true);
}
