/* The scheduler-driven subcommands (daemon, run, snapshot, prune) share one
 * frame: load the policy file, take the database's lock, open the store,
 * build the logger, the libuv loop and the real clock, let the command start
 * the scheduler its way, run the loop until the scheduler has closed every
 * handle, and tear down in the right order.  Problems are printed as
 * "virtsnap CMD: ..." lines. */
#pragma once

#include <stdbool.h>

#include "scheduler.h"

typedef struct vs_cli_sched_args {
        const char *cmd;            /* "daemon", for messages */
        const char *config;         /* -c FILE or NULL (the default file) */
        const char *connect;        /* --connect URI or NULL */
        const char *database;       /* --database PATH or NULL */
        const char *only_policy;    /* run --once --policy */
        int log_level;              /* VS_LOG_* */
        bool daemon;                /* signals, sd_notify, libvirt events */
} vs_cli_sched_args;

/* start: begin the command's work (vs_scheduler_start, _run_once, ...);
 * returns 0 or an exit code after printing why.  Returns the exit code:
 * 0, or 1 when anything failed (setup, or any job when fail_on_jobs). */
int vs_cli_run_scheduler(const vs_cli_sched_args *a, int (*start)(vs_scheduler *s, void *data), void *data,
                         bool fail_on_jobs);

/* The options every scheduler command takes.  Its getopt_long table lists
 * VS_CLI_SCHED_OPTIONS (with <getopt.h>) beside its own, whose values start
 * at VS_CLI_OPT_OWN, and the default: case of its loop hands c to
 * vs_cli_sched_option. */
enum { VS_CLI_OPT_CONNECT = 256, VS_CLI_OPT_DATABASE, VS_CLI_OPT_LOG_LEVEL, VS_CLI_OPT_OWN };
#define VS_CLI_SCHED_OPTIONS                                            \
        { "config", required_argument, NULL, 'c' },                     \
        { "connect", required_argument, NULL, VS_CLI_OPT_CONNECT },     \
        { "database", required_argument, NULL, VS_CLI_OPT_DATABASE },   \
        { "log-level", required_argument, NULL, VS_CLI_OPT_LOG_LEVEL }, \
        { "help", no_argument, NULL, 'h' }

/* Take -c, --connect, --database or --log-level into a; anything else is a
 * getopt error (':' or '?').  Returns -1 to go on, or an exit code (2 after
 * a usage error, printed). */
int vs_cli_sched_option(vs_cli_sched_args *a, int c, char **argv);

/* What a prune of one (connection, domain UUID, policy) would do now: the
 * `present` rows of the history, newest first, and a verdict for each. */
typedef struct vs_cli_preview {
        vs_store_held_list held;
        vs_retention_item *items;   /* parallel to held.items */
} vs_cli_preview;

int vs_cli_retention_preview(vs_store *store, const vs_config *cfg, const vs_policy *p, const char *uri,
                             const char *uuid, int64_t now, vs_cli_preview *ret, vs_err *err);
void vs_cli_preview_clear(vs_cli_preview *p);
/* "keep (last)", "remove", "pinned" and the reason, for one item. */
void vs_cli_preview_describe(const vs_policy *p, const vs_retention_item *it, const char **ret_verdict,
                             char *reason, size_t len);
