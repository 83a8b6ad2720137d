/* virtsnap metrics: the history as Prometheus text exposition (metrics.h),
 * the same text the daemon writes to metrics_textfile. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli-args.h"
#include "cli-store.h"
#include "commands.h"
#include "metrics.h"

static void
metrics_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap metrics [-c FILE] [--database PATH]\n"
                "\n"
                "Print the history as Prometheus text exposition (the format of\n"
                "node_exporter's textfile collector; the daemon writes the same text to the\n"
                "policy file's metrics_textfile:).  Per (connection, domain, policy):\n"
                "  virtsnap_last_success_timestamp_seconds, virtsnap_last_attempt_timestamp_seconds,\n"
                "  virtsnap_last_attempt_success, virtsnap_snapshots{kind=owned|pinned|undeletable|deferred},\n"
                "  virtsnap_health{health=...} and virtsnap_health_level (as `status` and\n"
                "  `monitor` judge it), virtsnap_rpo_overdue, the counters\n"
                "  virtsnap_snapshots_created_total, virtsnap_attempts_failed_total,\n"
                "  virtsnap_attempts_skipped_total, virtsnap_snapshots_pruned_total and the\n"
                "  histogram virtsnap_create_duration_seconds; per connection:\n"
                "  virtsnap_connection_up and virtsnap_connection_failed_attempts.\n"
                "\n"
                "options:\n"
                "  -c, --config FILE  policy file: schedules (lateness, RPO) and its database:\n"
                "      --database PATH\n"
                "                     the history database (overrides the policy file's)\n"
                "  -h, --help         this help\n"
                "\n"
                "$VIRTSNAP_NOW (a TIME) replaces the clock.\n"
                "\n"
                "exit status: 0 success; 1 the database or policy file cannot be read;\n"
                "2 usage error.\n");
}

int
vs_cmd_metrics(int argc, char **argv)
{
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "database", required_argument, NULL, 'D' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        vs_cli_db_opts db = { .cmd = "metrics", .flags = VS_STORE_READ_ONLY };
        vs_config *cfg = NULL;
        vs_store *s = NULL;
        vs_err err = { 0 };
        int64_t now;
        int c, r, ret = VS_EXIT_FAILURE;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        db.config = optarg;
                        break;
                case 'D':
                        db.database = optarg;
                        break;
                case 'h':
                        metrics_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        return vs_cli_getopt_error("metrics", c, argv);
                }
        }
        if (optind < argc)
                return vs_cli_usage_error("metrics", "unexpected argument '%s'", argv[optind]);
        if (vs_cli_now(&now) < 0) {
                fprintf(stderr, "virtsnap metrics: $VIRTSNAP_NOW is not a TIME\n");
                return VS_EXIT_USAGE;
        }
        if (vs_cli_open_store(&db, &s, &cfg) < 0)
                return VS_EXIT_FAILURE;
        r = vs_cli_metrics_write(s, cfg, now, stdout, &err);
        if (r < 0)
                fprintf(stderr, "virtsnap metrics: %s\n", err.msg[0] ? err.msg : strerror(-r));
        else if (fflush(stdout) != 0)
                fprintf(stderr, "virtsnap metrics: cannot write output\n");
        else
                ret = VS_EXIT_OK;
        vs_config_free(cfg);
        vs_store_free(s);
        return ret;
}
