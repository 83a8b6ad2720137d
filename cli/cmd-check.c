/* virtsnap check: validate a policy file and summarise it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-args.h"
#include "cli-config.h"
#include "commands.h"
#include "duration.h"
#include "overlap.h"
#include "vs-config.h"

static void
check_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap check [-c FILE] [--connect URI] [-q]\n"
                "\n"
                "Validate a policy file.  When it is valid, print a summary (each policy's\n"
                "schedule, snapshot type, retention and connection) and exit 0.  Otherwise\n"
                "print every problem found, one per line as FILE:LINE:COLUMN: message, on\n"
                "stderr and exit 1.\n"
                "\n"
                "Two enabled policies on one connection that mix internal and external\n"
                "(disk-only, external) snapshots on the same domain are refused: libvirt\n"
                "cannot delete snapshots of such a chain.  Where the file alone cannot tell\n"
                "(globs, tags, running vs shut off), it is a warning; `virtsnap domains`\n"
                "checks the real domains.\n"
                "\n"
                "options:\n"
                "  -c, --config FILE  the policy file; default %s\n"
                "      --connect URI  summarise as if every policy used this libvirt URI\n"
                "  -q, --quiet        print nothing when the file is valid\n"
                "  -h, --help         this help\n"
                "\n"
                "exit status: 0 valid; 1 invalid or unreadable; 2 usage error.\n",
                VS_DEFAULT_CONFIG);
}

static void
format_retention(const vs_retention_rules *r, char *buf, size_t len)
{
        const struct {
                const char *name;
                int n;
        } rules[] = {
                { "last", r->keep_last },       { "hourly", r->keep_hourly },   { "daily", r->keep_daily },
                { "weekly", r->keep_weekly },   { "monthly", r->keep_monthly }, { "yearly", r->keep_yearly },
        };
        size_t o = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]) && o < len; i++)
                if (rules[i].n > 0)
                        o += (size_t)snprintf(buf + o, len - o, "%s%s %d", o ? ", " : "", rules[i].name, rules[i].n);
        if (r->keep_within > 0 && o < len) {
                char d[32];

                snprintf(buf + o, len - o, "%swithin %s", o ? ", " : "", vs_duration_format(r->keep_within, d, sizeof(d)));
        }
}

static void
print_summary(const vs_config *cfg)
{
        printf("%s: valid, %zu %s (timezone %s, max_concurrent %d, database %s)\n", cfg->path, cfg->n_policies,
               cfg->n_policies == 1 ? "policy" : "policies", vs_tz_name(cfg->tz), cfg->max_concurrent,
               cfg->database);
        for (size_t i = 0; i < cfg->n_policies; i++) {
                const vs_policy *p = &cfg->policies[i];
                char keep[256];

                format_retention(&p->retention, keep, sizeof(keep));
                printf("  %s%s: schedule '%s', %s snapshots, keep %s, on %s\n", p->name,
                       p->enabled ? "" : " (disabled)", vs_schedule_text(p->schedule),
                       vs_snap_type_to_string(p->snapshot.type), keep, p->connection);
        }
}

/* Policies mixing internal and external snapshots on one domain: a definite
 * overlap is an error (the file is refused), a possible one a warning.
 * Returns the number of errors, or -ENOMEM. */
static int
report_overlaps(const vs_config *cfg)
{
        vs_overlap *o = NULL;
        size_t n = 0;
        int errors = 0;

        if (vs_config_overlaps(cfg, &o, &n) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                fprintf(stderr,
                        "%s:%d:%d: %s: policies '%s' (%s, at %d:%d) and '%s' (%s) %s: libvirt cannot delete "
                        "snapshots of a chain that mixes internal and external snapshots, so they would pile up "
                        "as undeletable; give them disjoint domains or one snapshot type\n",
                        cfg->path, o[i].b->line, o[i].b->column, o[i].definite ? "error" : "warning", o[i].a->name,
                        vs_snap_type_to_string(o[i].a->snapshot.type), o[i].a->line, o[i].a->column, o[i].b->name,
                        vs_snap_type_to_string(o[i].b->snapshot.type), o[i].why);
                if (o[i].definite)
                        errors++;
        }
        free(o);
        return errors;
}

int
vs_cmd_check(int argc, char **argv)
{
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "connect", required_argument, NULL, 'C' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        const char *path = VS_DEFAULT_CONFIG, *connect = NULL;
        vs_config *cfg = NULL;
        bool quiet = false;
        int c, overlap_rc;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+c:qh", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        path = optarg;
                        break;
                case 'C':
                        connect = optarg;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'h':
                        check_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        return vs_cli_getopt_error_optopt("check", argv);
                }
        }
        if (optind < argc)
                return vs_cli_usage_error("check", "unexpected argument '%s'", argv[optind]);
        if (!*path)
                return vs_cli_usage_error("check", "empty file name");
        if (vs_cli_load_config(path, &cfg) < 0)
                return VS_EXIT_FAILURE;
        if (connect && vs_config_override_connection(cfg, connect) < 0) {
                fprintf(stderr, "virtsnap check: out of memory\n");
                vs_config_free(cfg);
                return VS_EXIT_FAILURE;
        }
        overlap_rc = report_overlaps(cfg);
        if (overlap_rc < 0) {
                fprintf(stderr, "virtsnap check: out of memory\n");
                vs_config_free(cfg);
                return VS_EXIT_FAILURE;
        }
        if (!quiet && overlap_rc == 0)
                print_summary(cfg);
        vs_config_free(cfg);
        if (overlap_rc > 0)
                return VS_EXIT_FAILURE;
        if (fflush(stdout) != 0) {
                fprintf(stderr, "virtsnap check: cannot write output: %s\n", strerror(errno));
                return VS_EXIT_FAILURE;
        }
        return VS_EXIT_OK;
}
