/* virtsnap status: one row per (domain, policy) series: when it last
 * succeeded and how long ago, how many snapshots it holds and pins, its last
 * error, when it is next due (with the policy file), and a health word. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli-args.h"
#include "cli-control.h"
#include "cli-store.h"
#include "commands.h"
#include "health.h"
#include "output.h"
#include "timefmt.h"

enum {
        COL_CONNECTION, COL_DOMAIN, COL_DOMAIN_UUID, COL_POLICY, COL_HEALTH, COL_LAST_SUCCESS, COL_AGE,
        COL_HELD, COL_PINNED, COL_UNDELETABLE, COL_DEFERRED, COL_NEXT_DUE, COL_LAST_ERROR,
};

static const vs_column columns[] = {
        [COL_CONNECTION] = { "connection", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_DOMAIN] = { "domain", VS_COL_TEXT, 0 },
        [COL_DOMAIN_UUID] = { "domain_uuid", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_POLICY] = { "policy", VS_COL_TEXT, 0 },
        [COL_HEALTH] = { "health", VS_COL_TEXT, 0 },
        [COL_LAST_SUCCESS] = { "last_success", VS_COL_TIME, 0 },
        [COL_AGE] = { "age", VS_COL_DURATION, 0 },
        [COL_HELD] = { "held", VS_COL_INT, 0 },
        [COL_PINNED] = { "pinned", VS_COL_INT, 0 },
        [COL_UNDELETABLE] = { "undeletable", VS_COL_INT, 0 },
        [COL_DEFERRED] = { "deferred", VS_COL_INT, 0 },
        [COL_NEXT_DUE] = { "next_due", VS_COL_TIME, 0 },
        [COL_LAST_ERROR] = { "last_error", VS_COL_TEXT, 0 },
};

static void
status_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap status [-c FILE] [--database PATH] [--domain D] [--policy P]\n"
                "                       [--format table|json|csv]\n"
                "\n"
                "One row per (domain, policy) in the history: the last successful snapshot\n"
                "and its age, snapshots held and pinned, undeletable ones and deferred ones\n"
                "(present, their pruning put off by libvirt), the last error,\n"
                "the next due time (when the policy file is known; jitter included) and a\n"
                "health word, the worst of (the same judgement as `virtsnap monitor`):\n"
                "  never        no snapshot ever succeeded                    (critical)\n"
                "  unreachable  its connection is down (critical beyond the shortest\n"
                "               schedule interval on it)\n"
                "  failing      the newest attempt failed                     (warning)\n"
                "  guarded      the newest attempt was skipped by the policy's guard: low\n"
                "               space or a long external chain               (critical)\n"
                "  hook-failed  a hook of the newest attempt failed (critical with\n"
                "               hooks.required: true)\n"
                "  late         the last success is older than 1.5 x the schedule interval\n"
                "               (critical beyond 3 x)\n"
                "  undeletable  it holds snapshots libvirt cannot delete       (warning)\n"
                "  orphaned     its policy is not in the policy file and it still holds\n"
                "               snapshots: never pruned until adopt_from hands them over\n"
                "  ok           otherwise\n"
                "In the table format, connections that are down follow the table, one line\n"
                "each (also those without a series yet), then, when the daemon answers on\n"
                "the control socket, one line with its pid, connections and jobs.\n"
                "\n"
                "options:\n"
                "  -c, --config FILE  policy file: schedules for next due and lateness, and\n"
                "                     its database:\n"
                "      --database PATH\n"
                "                     the history database (overrides the policy file's)\n"
                "  -d, --domain D     only domain D (a name or a UUID)\n"
                "  -p, --policy P     only policy P\n"
                "  -f, --format F     table (aligned, local times), json or csv (UTC RFC 3339,\n"
                "                     ages in seconds)\n"
                "  -h, --help         this help\n"
                "\n"
                "The database is found as for `virtsnap history`.  $VIRTSNAP_NOW (a TIME)\n"
                "replaces the clock.\n"
                "\n"
                "exit status: 0 success; 1 the database or policy file cannot be read;\n"
                "2 usage error.\n");
}

typedef struct status_ctx {
        vs_table *t;
        const vs_health_ctx *health;
} status_ctx;

static int
add_series(const vs_store_series *se, void *userdata)
{
        status_ctx *c = userdata;
        vs_table *t = c->t;
        vs_judgement j;
        int e;

        vs_cli_judge(c->health, se, &j);
        e = vs_table_add_row(t);
        if (e)
                return -ENOMEM;
        e |= vs_table_set_text(t, COL_CONNECTION, se->connection);
        e |= vs_table_set_text(t, COL_DOMAIN, se->domain_name);
        e |= vs_table_set_text(t, COL_DOMAIN_UUID, se->domain_uuid);
        e |= vs_table_set_text(t, COL_POLICY, se->policy);
        e |= vs_table_set_text(t, COL_HEALTH, vs_health_to_string(j.health));
        if (se->has_success) {
                e |= vs_table_set_int(t, COL_LAST_SUCCESS, se->last_success);
                e |= vs_table_set_int(t, COL_AGE, j.age);
        }
        e |= vs_table_set_int(t, COL_HELD, se->held);
        e |= vs_table_set_int(t, COL_PINNED, se->pinned);
        e |= vs_table_set_int(t, COL_UNDELETABLE, se->undeletable);
        e |= vs_table_set_int(t, COL_DEFERRED, se->deferred);
        if (j.has_next)
                e |= vs_table_set_int(t, COL_NEXT_DUE, j.next_due);
        e |= vs_table_set_text(t, COL_LAST_ERROR, se->last_guard        ? se->last_guard
                                                  : se->last_error ? se->last_error
                                                                   : se->last_hook_error);
        return e ? -ENOMEM : 0;
}

/* The running daemon's own view, when one answers on the control socket
 * and keeps the history the table was read from (database; a daemon of
 * another history answers EXDEV, as for any request): nothing is printed
 * otherwise, the table above is the history's. */
static void
print_daemon(const vs_config *cfg, const char *database)
{
        json_object *o = NULL;
        _cleanup_free_ char *want = strdup(database);
        const char *db;
        char when[32];

        if (!cfg || !want ||
            vs_cli_control_ask("status", cfg->control_socket, &(vs_ctl_request){ .cmd = VS_CTL_STATUS, .database = want },
                               5000, &o) <= 0)
                return;
        printf("daemon: pid %lld since %s, keeps %s: %lld of %lld connections up, %lld jobs running, %lld queued; "
               "%lld created, %lld failed since it started\n",
               (long long)vs_cli_reply_int(o, "pid"), vs_time_format_utc(vs_cli_reply_int(o, "started"), when, sizeof(when)),
               (db = vs_cli_reply_str(o, "database")) ? db : "?",
               (long long)vs_cli_reply_int(o, "connections_up"), (long long)vs_cli_reply_int(o, "connections"),
               (long long)vs_cli_reply_int(o, "running"), (long long)vs_cli_reply_int(o, "queued"), (long long)vs_cli_reply_int(o, "created"),
               (long long)vs_cli_reply_int(o, "failed"));
        json_object_put(o);
}

int
vs_cmd_status(int argc, char **argv)
{
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "database", required_argument, NULL, 'D' },
                { "domain", required_argument, NULL, 'd' },
                { "policy", required_argument, NULL, 'p' },
                { "format", required_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        vs_cli_db_opts db = { .cmd = "status", .flags = VS_STORE_READ_ONLY };
        vs_store_filter filter = { .since = INT64_MIN, .until = INT64_MAX };
        status_ctx ctx = { 0 };
        vs_health_ctx *health = NULL;
        vs_config *cfg = NULL;
        int64_t now;
        vs_store *s = NULL;
        vs_err err = { 0 };
        int format = VS_FORMAT_TABLE, c, r, ret = VS_EXIT_FAILURE;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:d:p:f:h", options, NULL)) >= 0) {
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
                case 'f':
                        format = vs_format_from_string(optarg);
                        if (format < 0)
                                return vs_cli_usage_error("status", "--format: '%s' is not table, json or csv", optarg);
                        break;
                case 'h':
                        status_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        return vs_cli_getopt_error("status", c, argv);
                }
        }
        if (optind < argc)
                return vs_cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
        if (vs_cli_now(&now) < 0) {
                fprintf(stderr, "virtsnap status: $VIRTSNAP_NOW is not a TIME\n");
                return VS_EXIT_USAGE;
        }
        if (vs_cli_open_store(&db, &s, &cfg) < 0)
                return VS_EXIT_FAILURE;
        r = vs_health_ctx_new(s, cfg, now, 0, 0, &health, &err);
        if (r < 0) {
                fprintf(stderr, "virtsnap status: %s\n", err.msg[0] ? err.msg : strerror(-r));
                goto out;
        }
        ctx.health = health;
        ctx.t = vs_table_new(columns, VS_ELEMENTSOF(columns));
        if (!ctx.t) {
                fprintf(stderr, "virtsnap status: out of memory\n");
                goto out;
        }
        r = vs_store_query_series(s, &filter, add_series, &ctx, &err);
        if (r < 0) {
                fprintf(stderr, "virtsnap status: %s: %s\n", err.where[0] ? err.where : "status",
                        err.msg[0] ? err.msg : strerror(-r));
                goto out;
        }
        ret = vs_cli_print_table("status", ctx.t, format);
        /* Connections that are down, also those without a series yet. */
        for (size_t i = 0; ret == VS_EXIT_OK && format == VS_FORMAT_TABLE && i < vs_health_n_connections(health); i++) {
                vs_connection_judgement cj;

                vs_cli_judge_connection(health, i, &cj);
                if (cj.finding.level != VS_LEVEL_OK)
                        printf("%s %s: %s\n", cj.finding.level == VS_LEVEL_CRITICAL ? "CRITICAL" : "WARNING", cj.uri,
                               cj.finding.text);
        }
        if (ret == VS_EXIT_OK && format == VS_FORMAT_TABLE)
                print_daemon(cfg, db.database ? db.database : cfg && cfg->database ? cfg->database
                                                                                   : VS_DEFAULT_DATABASE);
        if (fflush(stdout) != 0)
                ret = VS_EXIT_FAILURE;
out:
        vs_health_ctx_free(health);
        vs_table_free(ctx.t);
        vs_config_free(cfg);
        vs_store_free(s);
        return ret;
}
