/* virtsnap pin (and, through vs_cli_pin_main, unpin): mark a snapshot so that retention never prunes it
 * (pinned snapshots are invisible to retention), or release it.  With a
 * daemon running, through its control socket (it writes its own store and
 * answers once committed); otherwise the database is opened read-write for
 * one short transaction. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli-args.h"
#include "cli-config.h"
#include "cli-control.h"
#include "cli-store.h"
#include "commands.h"
#include "vs-config.h"

#define PIN_REASON_MAX 4096

static void
pin_usage(FILE *out, bool pin)
{
        if (pin)
                fprintf(out,
                        "usage: virtsnap pin DOMAIN SNAPSHOT [--reason TEXT] [-c FILE] [--database PATH]\n"
                        "\n"
                        "Pin a snapshot: retention never prunes it and ignores it when counting.\n"
                        "DOMAIN is a name or a UUID.  Pinning a pinned snapshot updates its reason.\n"
                        "\n"
                        "options:\n"
                        "  -r, --reason TEXT  why (kept in the history and the event log; at most\n"
                        "                     %d bytes)\n",
                        PIN_REASON_MAX);
        else
                fprintf(out,
                        "usage: virtsnap unpin DOMAIN SNAPSHOT [-c FILE] [--database PATH]\n"
                        "\n"
                        "Release a pinned snapshot to retention again.  DOMAIN is a name or a UUID.\n"
                        "\n"
                        "options:\n");
        fprintf(out,
                "  -c, --config FILE  policy file whose database: to use\n"
                "      --database PATH\n"
                "                     the history database (overrides the policy file's)\n"
                "  -h, --help         this help\n"
                "\n"
                "With the daemon running (it answers on the file's control_socket:), the\n"
                "request goes to it.\n"
                "\n"
                "exit status: 0 success; 1 no such snapshot in the history, or the database\n"
                "cannot be written; 2 usage error.\n");
}

/* Ask the running daemon: 0 done (*changed set), 1 failed (printed), -1 no
 * daemon answers (do it here).  Without a policy file (only --database)
 * there is no socket to ask. */
static int
through_daemon(const vs_cli_db_opts *db, bool pin, const char *domain, const char *snapshot, const char *reason,
               unsigned *changed)
{
        const char *cmd = pin ? "pin" : "unpin";
        vs_config *cfg = NULL;
        json_object *o = NULL;
        int r;

        if (db->database && !db->config)
                return -1;
        if (!db->config && access(VS_DEFAULT_CONFIG, R_OK) < 0)
                return -1;
        if (vs_cli_load_config(db->config, &cfg) < 0)
                return -1; /* the direct path says what is wrong with it */
        r = vs_cli_control_ask(cmd, cfg->control_socket,
                               &(vs_ctl_request){
                                       .cmd = pin ? VS_CTL_PIN : VS_CTL_UNPIN, .domain = (char *)domain,
                                       .snapshot = (char *)snapshot, .reason = (char *)reason,
                                       .database = db->database ? (char *)db->database : cfg->database,
                               },
                               30000, &o);
        vs_config_free(cfg);
        if (r < 0)
                return 1;
        if (r == 0)
                return -1;
        if (!vs_cli_reply_ok(o)) {
                const char *why = vs_cli_reply_str(o, "error");

                fprintf(stderr, "virtsnap %s: %s\n", cmd, why ? why : "the daemon refused");
                json_object_put(o);
                return 1;
        }
        *changed = (unsigned)vs_cli_reply_int(o, "changed");
        json_object_put(o);
        return 0;
}

int
vs_cli_pin_main(int argc, char **argv, bool pin)
{
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "database", required_argument, NULL, 'D' },
                { "reason", required_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *cmd = pin ? "pin" : "unpin", *reason = NULL, *domain, *snapshot;
        vs_cli_db_opts db = { .cmd = cmd };
        vs_store *s = NULL;
        vs_err err = { 0 };
        unsigned changed = 0;
        int64_t now;
        int c, r;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, pin ? ":c:r:h" : ":c:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        db.config = optarg;
                        break;
                case 'D':
                        db.database = optarg;
                        break;
                case 'r':
                        if (!pin)
                                return vs_cli_usage_error(cmd, "unknown option '--reason'");
                        if (strlen(optarg) > PIN_REASON_MAX)
                                return vs_cli_usage_error(cmd, "--reason: longer than %d bytes", PIN_REASON_MAX);
                        reason = optarg;
                        break;
                case 'h':
                        pin_usage(stdout, pin);
                        return VS_EXIT_OK;
                default:
                        return vs_cli_getopt_error(cmd, c, argv);
                }
        }
        if (argc - optind < 2)
                return vs_cli_usage_error(cmd, "missing DOMAIN or SNAPSHOT");
        if (argc - optind > 2)
                return vs_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 2]);
        domain = argv[optind];
        snapshot = argv[optind + 1];
        if (vs_cli_now(&now) < 0) {
                fprintf(stderr, "virtsnap %s: $VIRTSNAP_NOW is not a TIME\n", cmd);
                return VS_EXIT_USAGE;
        }
        r = through_daemon(&db, pin, domain, snapshot, reason, &changed);
        if (r > 0)
                return VS_EXIT_FAILURE;
        if (r < 0) {
                if (vs_cli_open_store(&db, &s, NULL) < 0)
                        return VS_EXIT_FAILURE;
                r = pin ? vs_store_pin(s, domain, snapshot, reason, now, &changed, &err)
                        : vs_store_unpin(s, domain, snapshot, now, &changed, &err);
                vs_store_free(s);
                if (r < 0) {
                        fprintf(stderr, "virtsnap %s: %s\n", cmd, err.msg[0] ? err.msg : strerror(-r));
                        return VS_EXIT_FAILURE;
                }
        }
        if (pin)
                printf(changed ? "pinned %s of %s\n" : "%s of %s was already pinned; reason updated\n",
                       snapshot, domain);
        else
                printf(changed ? "unpinned %s of %s\n" : "%s of %s was not pinned\n", snapshot, domain);
        if (fflush(stdout) != 0)
                return VS_EXIT_FAILURE;
        return VS_EXIT_OK;
}

int
vs_cmd_pin(int argc, char **argv)
{
        return vs_cli_pin_main(argc, argv, true);
}
