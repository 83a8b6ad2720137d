/* Finding and opening the history database for a subcommand, the same way
 * everywhere: --database wins; else the database: of the policy file given
 * with -c; else that of the default policy file when it is readable; else
 * /var/lib/virtsnap/history.db.  Problems are printed to stderr as
 * "virtsnap CMD: ..." lines; callers only map the result to an exit code. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "output.h"
#include "policy.h"
#include "store.h"

#define VS_DEFAULT_DATABASE "/var/lib/virtsnap/history.db"

typedef struct vs_cli_db_opts {
        const char *cmd;          /* "history", for messages */
        const char *config;       /* -c FILE, or NULL */
        const char *database;     /* --database PATH, or NULL */
        unsigned flags;           /* VS_STORE_READ_ONLY for queries */
} vs_cli_db_opts;

/* Open the store; *ret_cfg (may be NULL) receives the policy file when one
 * was loaded (-c, or the default file when neither -c nor --database was
 * given and it is readable; NULL otherwise).  0 or a negative errno (already reported). */
int vs_cli_open_store(const vs_cli_db_opts *o, vs_store **ret, vs_config **ret_cfg);

/* A TIME (RFC 3339, @EPOCH) or a duration back from now ("7d", "1h30m").
 * 0 or -EINVAL. */
int vs_cli_parse_when(const char *s, int64_t now, int64_t *ret);

/* "Now" for the CLI: $VIRTSNAP_NOW (a TIME) when set, so that ages and
 * relative --since are reproducible in tests and reports; else the clock.
 * -EINVAL if $VIRTSNAP_NOW is set but not a TIME. */
int vs_cli_now(int64_t *ret);

/* The options every listing command shares (history, events). */
typedef struct vs_cli_list_args {
        vs_cli_db_opts db;
        vs_store_filter filter;
        int format;               /* vs_format */
        int64_t now;
} vs_cli_list_args;

/* Parse `CMD [-c FILE] [--database PATH] [--domain D] [--policy P] [--state S]
 * [--since T] [--until T] [--limit N] [--format F]`.  valid_state checks S.
 * Returns -1 to go on, or an exit code (0 after --help, 2 after a usage
 * error, reported). */
int vs_cli_parse_list_args(const char *cmd, int argc, char **argv, void (*usage)(FILE *out),
                           bool (*valid_state)(const char *s), vs_cli_list_args *ret);

/* Print t in format f to stdout, table times in the host's zone (UTC, after
 * a warning, when it cannot be read).  Returns the exit code: VS_EXIT_FAILURE
 * after a write error (reported as "virtsnap CMD: ..."). */
int vs_cli_print_table(const char *cmd, const vs_table *t, int format);

/* A listing command (history, events): its name, --help text, --state
 * check, columns, and the store query that adds one table row per result. */
typedef struct vs_cli_list_cmd {
        const char *name;
        void (*usage)(FILE *out);
        bool (*valid_state)(const char *s);
        const vs_column *columns;
        size_t n_columns;
        int (*query)(vs_store *s, const vs_store_filter *f, vs_table *t, vs_err *err);
} vs_cli_list_cmd;

/* The whole command: parse the list arguments, open the store read-only,
 * query it and print the table in the chosen format.  Returns the exit code. */
int vs_cli_list_main(const vs_cli_list_cmd *cmd, int argc, char **argv);

/* `virtsnap pin` (pin true) and `virtsnap unpin`: cmd-pin.c. */
int vs_cli_pin_main(int argc, char **argv, bool pin);
