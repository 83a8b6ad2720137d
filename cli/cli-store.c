/* vs_cli_open_store: the database path rules of cli-store.h, and the TIME
 * arguments every listing command takes. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli-args.h"
#include "cli-config.h"
#include "cli-store.h"
#include "commands.h"
#include "duration.h"
#include "output.h"
#include "timefmt.h"
#include "vs-config.h"

int
vs_cli_open_store(const vs_cli_db_opts *o, vs_store **ret, vs_config **ret_cfg)
{
        vs_config *cfg = NULL;
        const char *path = o->database;
        vs_err err = { 0 };
        int r;

        if (o->config || (!o->database && access(VS_DEFAULT_CONFIG, R_OK) == 0)) {
                r = vs_cli_load_config(o->config, &cfg);
                if (r < 0) {
                        fprintf(stderr, "virtsnap %s: cannot load the policy file\n", o->cmd);
                        return r;
                }
        }
        if (!path)
                path = cfg && cfg->database ? cfg->database : VS_DEFAULT_DATABASE;
        r = vs_store_open(path, o->flags, ret, &err);
        if (r < 0) {
                if (strcmp(err.where, path) == 0 || err.where[0] == '\0')
                        fprintf(stderr, "virtsnap %s: %s: %s\n", o->cmd, path, err.msg[0] ? err.msg : strerror(-r));
                else
                        fprintf(stderr, "virtsnap %s: %s: %s: %s\n", o->cmd, path, err.where, err.msg);
                vs_config_free(cfg);
                return r;
        }
        if (ret_cfg)
                *ret_cfg = cfg;
        else
                vs_config_free(cfg);
        return 0;
}

int
vs_cli_parse_when(const char *s, int64_t now, int64_t *ret)
{
        int64_t d;

        if (!s || !*s)
                return -EINVAL;
        if (vs_time_parse(s, ret) == 0)
                return 0;
        if (vs_duration_parse(s, &d) == 0) {
                *ret = now - d;
                return 0;
        }
        return -EINVAL;
}

int
vs_cli_now(int64_t *ret)
{
        const char *env = getenv("VIRTSNAP_NOW");

        if (env && *env)
                return vs_time_parse(env, ret);
        *ret = (int64_t)time(NULL);
        return 0;
}

int
vs_cli_parse_list_args(const char *cmd, int argc, char **argv, void (*usage)(FILE *out),
                       bool (*valid_state)(const char *s), vs_cli_list_args *ret)
{
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "database", required_argument, NULL, 'D' },
                { "domain", required_argument, NULL, 'd' },
                { "policy", required_argument, NULL, 'p' },
                { "state", required_argument, NULL, 's' },
                { "since", required_argument, NULL, 'S' },
                { "until", required_argument, NULL, 'U' },
                { "limit", required_argument, NULL, 'n' },
                { "format", required_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *since = NULL, *until = NULL;
        int c;

        memset(ret, 0, sizeof(*ret));
        ret->db.cmd = cmd;
        ret->db.flags = VS_STORE_READ_ONLY;
        ret->filter.since = INT64_MIN;
        ret->filter.until = INT64_MAX;
        ret->format = VS_FORMAT_TABLE;
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:d:p:s:n:f:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        ret->db.config = optarg;
                        break;
                case 'D':
                        ret->db.database = optarg;
                        break;
                case 'd':
                        ret->filter.domain = optarg;
                        break;
                case 'p':
                        ret->filter.policy = optarg;
                        break;
                case 's':
                        if (!valid_state(optarg))
                                return vs_cli_usage_error(cmd, "--state: unknown %s '%s'",
                                                          strcmp(cmd, "events") == 0 ? "event kind" : "state",
                                                          optarg);
                        ret->filter.state = optarg;
                        break;
                case 'S':
                        since = optarg;
                        break;
                case 'U':
                        until = optarg;
                        break;
                case 'n':
                        if (vs_cli_parse_uint(optarg, 0, INT64_MAX, &ret->filter.limit) < 0)
                                return vs_cli_usage_error(cmd, "--limit: '%s' is not a non-negative integer", optarg);
                        break;
                case 'f':
                        ret->format = vs_format_from_string(optarg);
                        if (ret->format < 0)
                                return vs_cli_usage_error(cmd, "--format: '%s' is not table, json or csv", optarg);
                        break;
                case 'h':
                        usage(stdout);
                        return VS_EXIT_OK;
                default:
                        return vs_cli_getopt_error(cmd, c, argv);
                }
        }
        if (optind < argc)
                return vs_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        if (vs_cli_now(&ret->now) < 0) {
                fprintf(stderr, "virtsnap %s: $VIRTSNAP_NOW is not a TIME\n", cmd);
                return VS_EXIT_USAGE;
        }
        if (since && vs_cli_parse_when(since, ret->now, &ret->filter.since) < 0)
                return vs_cli_usage_error(cmd, "--since: '%s' is neither a TIME (2026-11-27T04:00:00Z, @EPOCH) "
                                          "nor a duration (7d, 12h)", since);
        if (until && vs_cli_parse_when(until, ret->now, &ret->filter.until) < 0)
                return vs_cli_usage_error(cmd, "--until: '%s' is neither a TIME (2026-11-27T04:00:00Z, @EPOCH) "
                                          "nor a duration (7d, 12h)", until);
        return -1;
}

int
vs_cli_print_table(const char *cmd, const vs_table *t, int format)
{
        vs_tz *tz = NULL;
        vs_err err = { 0 };
        int r;

        if (format == VS_FORMAT_TABLE && vs_tz_load(NULL, &tz, &err) < 0)
                fprintf(stderr, "virtsnap %s: %s; showing UTC\n", cmd, err.msg);
        r = vs_table_print(t, format, tz, stdout);
        vs_tz_free(tz);
        if (r < 0) {
                fprintf(stderr, "virtsnap %s: write error: %s\n", cmd, strerror(-r));
                return VS_EXIT_FAILURE;
        }
        return VS_EXIT_OK;
}

static int
stop_at_first(const vs_store_series *se, void *userdata)
{
        (void)se;
        *(bool *)userdata = true;
        return 1;
}

/* Has the history any series of this domain (name or UUID)?  On a read
 * error, say yes: the note is a hint, never a false alarm. */
static bool
domain_known(vs_store *s, const char *domain)
{
        vs_store_filter f = { .domain = domain, .since = INT64_MIN, .until = INT64_MAX };
        bool found = false;

        if (vs_store_query_series(s, &f, stop_at_first, &found, NULL) < 0)
                return true;
        return found;
}

int
vs_cli_list_main(const vs_cli_list_cmd *cmd, int argc, char **argv)
{
        vs_cli_list_args a;
        vs_store *s = NULL;
        vs_table *t = NULL;
        vs_err err = { 0 };
        int r, ret = VS_EXIT_FAILURE;

        r = vs_cli_parse_list_args(cmd->name, argc, argv, cmd->usage, cmd->valid_state, &a);
        if (r >= 0)
                return r;
        if (vs_cli_open_store(&a.db, &s, NULL) < 0)
                return VS_EXIT_FAILURE;
        t = vs_table_new(cmd->columns, cmd->n_columns);
        if (!t) {
                fprintf(stderr, "virtsnap %s: out of memory\n", cmd->name);
                goto out;
        }
        r = cmd->query(s, &a.filter, t, &err);
        if (r < 0) {
                fprintf(stderr, "virtsnap %s: %s: %s\n", cmd->name, err.where[0] ? err.where : cmd->name,
                        err.msg[0] ? err.msg : strerror(-r));
                goto out;
        }
        ret = vs_cli_print_table(cmd->name, t, a.format);
        /* An empty answer about a domain: say whether the history knows it
         * at all (a typo and "nothing in that window" look the same). */
        if (ret == VS_EXIT_OK && a.filter.domain && vs_table_rows(t) == 0 && !domain_known(s, a.filter.domain))
                fprintf(stderr, "virtsnap %s: no domain '%s' in the history\n", cmd->name, a.filter.domain);
out:
        vs_table_free(t);
        vs_store_free(s);
        return ret;
}
