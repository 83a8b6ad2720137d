/* virtsnap daemon: the scheduler in the foreground until SIGTERM/SIGINT. */
#include <getopt.h>
#include <stdio.h>

#include "cli-args.h"
#include "cli-sched.h"
#include "commands.h"
#include "log.h"
#include "vs-config.h"

static void
daemon_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap daemon [-c FILE] [--connect URI] [--database PATH] [--log-level LEVEL]\n"
                "\n"
                "Run the scheduler in the foreground: take snapshots on every policy's schedule,\n"
                "record them in the history database and prune by retention, until SIGTERM or\n"
                "SIGINT.  At start it reconciles the history with libvirt and catches up (one\n"
                "snapshot) where a slot was missed.  SIGHUP re-reads the policy file: an invalid\n"
                "file is logged and ignored, a valid one replaces the policies at once.  On\n"
                "SIGTERM nothing new starts, queued jobs are recorded as cancelled and running\n"
                "ones get 60 s to finish.  Under systemd (Type=notify) it reports READY,\n"
                "STATUS, STOPPING and the watchdog.  One daemon per database (a lock file beside it).\n"
                "\n"
                "options:\n"
                "  -c, --config FILE   the policy file (default %s)\n"
                "  --connect URI       use this libvirt URI for every policy (test:///default for a demo)\n"
                "  --database PATH     the history database (default: the file's database:)\n"
                "  --log-level LEVEL   err, warning, notice, info (default) or debug; logs go to\n"
                "                      stderr, with <N> priority prefixes when JOURNAL_STREAM is set\n"
                "  -h, --help          this help\n"
                "\n"
                "exit status: 0 after a clean stop; 1 when it cannot start (invalid file,\n"
                "database, another daemon holds the lock); 2 usage error.\n",
                VS_DEFAULT_CONFIG);
}

static int
start_daemon(vs_scheduler *s, void *data)
{
        int r = vs_scheduler_start(s);

        (void)data;
        if (r < 0) {
                fprintf(stderr, "virtsnap daemon: cannot start the scheduler\n");
                return VS_EXIT_FAILURE;
        }
        return 0;
}

int
vs_cmd_daemon(int argc, char **argv)
{
        static const struct option options[] = {
                VS_CLI_SCHED_OPTIONS,
                {},
        };
        vs_cli_sched_args a = { .cmd = "daemon", .log_level = VS_LOG_INFO, .daemon = true };
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, ":c:h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        daemon_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        r = vs_cli_sched_option(&a, c, argv);
                        if (r >= 0)
                                return r;
                        break;
                }
        }
        if (optind < argc)
                return vs_cli_usage_error("daemon", "unexpected argument '%s'", argv[optind]);
        return vs_cli_run_scheduler(&a, start_daemon, NULL, false);
}
