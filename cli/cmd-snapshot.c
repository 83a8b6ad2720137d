/* virtsnap snapshot DOMAIN [--policy P] [--ttl D] [--note T] [--wait]: an
 * ad-hoc snapshot now.  With a daemon running it is asked through the
 * control socket (it holds the database); otherwise the snapshot is taken
 * here, as a one-shot scheduler run. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cli-args.h"
#include "cli-control.h"
#include "cli-sched.h"
#include "commands.h"
#include "duration.h"
#include "log.h"
#include "timefmt.h"
#include "vs-config.h"

enum { OPT_TTL = VS_CLI_OPT_OWN, OPT_NOTE, OPT_WAIT };

static void
snapshot_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap snapshot DOMAIN [--policy P] [--ttl DURATION] [--note TEXT] [--wait]\n"
                "                         [-c FILE] [--connect URI] [--database PATH] [--log-level LEVEL]\n"
                "\n"
                "Take a snapshot of DOMAIN now under policy P (its type, hooks, quiesce and\n"
                "timeout) and record it in the history with who asked and the note.  Without\n"
                "--ttl the snapshot joins P's series and P's retention prunes it like a\n"
                "scheduled one (the prune runs right after).  With --ttl it is kept for that\n"
                "long whatever P's counts say (retention does not count it), then the daemon\n"
                "prunes it; without --policy it takes the first enabled policy in the file\n"
                "that covers DOMAIN.\n"
                "\n"
                "When the daemon runs (it answers on the file's control_socket:), the request\n"
                "goes to it and the snapshot is queued next to the scheduled ones; --wait waits\n"
                "for the job and reports its result.  Without a daemon the snapshot is taken\n"
                "here and the command always waits; --connect and --log-level apply only then.\n"
                "\n"
                "options:\n"
                "  -p, --policy P      the policy (required unless --ttl is given)\n"
                "  --ttl DURATION      keep it this long (e.g. 3d, 12h), then prune it\n"
                "  --note TEXT         why, kept in the history\n"
                "  --wait              with a daemon: wait for the job and report it\n"
                "  -c, --config FILE   the policy file (default %s)\n"
                "  --connect URI       use this libvirt URI\n"
                "  --database PATH     the history database (default: the file's database:)\n"
                "  --log-level LEVEL   err, warning, notice, info (default) or debug\n"
                "  -h, --help          this help\n"
                "\n"
                "A running domain busy with a job of its own (backup, migration, a block\n"
                "job) is waited for within the policy's snapshot timeout, then the attempt is\n"
                "recorded as skipped; so is one over the policy's guard (low space, a long\n"
                "external chain).\n"
                "\n"
                "exit status: 0 snapshot taken (and pruned), or queued in the daemon without\n"
                "--wait; 1 failure (also: a hook failed, the prune left a snapshot libvirt\n"
                "cannot delete, the daemon refused the request, the snapshot was skipped:\n"
                "the domain stayed busy or the guard said no); 2 usage error.\n",
                VS_DEFAULT_CONFIG);
}

static int
start_snapshot(vs_scheduler *s, void *data)
{
        const vs_adhoc_request *q = data;
        vs_err e = { 0 };

        if (vs_scheduler_snapshot_now(s, q, &e) < 0) {
                fprintf(stderr, "virtsnap snapshot: %s\n", e.msg);
                return VS_EXIT_FAILURE;
        }
        return 0;
}

/* What the daemon said, as the direct path would say it. */
static int
print_reply(json_object *o, const vs_adhoc_request *q)
{
        json_object *v;
        bool ok = json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v);
        const char *err = vs_cli_reply_str(o, "error"), *policy = vs_cli_reply_str(o, "policy"), *snap = vs_cli_reply_str(o, "snapshot");
        char buf[32];

        if (!ok) {
                fprintf(stderr, "virtsnap snapshot: %s: %s\n", q->domain, err ? err : "the daemon said no");
                return VS_EXIT_FAILURE;
        }
        if (json_object_object_get_ex(o, "queued", &v) && json_object_get_boolean(v)) {
                printf("%s: snapshot queued in the daemon%s%s (see `virtsnap history --domain %s`)\n", q->domain,
                       policy ? " under policy " : "", policy ? policy : "", q->domain);
                return VS_EXIT_OK;
        }
        printf("%s: snapshot %s taken under policy %s", q->domain, snap ? snap : "?", policy ? policy : "?");
        if (json_object_object_get_ex(o, "expires", &v))
                printf(", kept until %s", vs_time_format_utc(json_object_get_int64(v), buf, sizeof(buf)));
        printf("\n");
        if (err)
                fprintf(stderr, "virtsnap snapshot: %s: %s\n", q->domain, err);
        return err ? VS_EXIT_FAILURE : VS_EXIT_OK;
}

int
vs_cmd_snapshot(int argc, char **argv)
{
        static const struct option options[] = {
                { "policy", required_argument, NULL, 'p' },
                { "ttl", required_argument, NULL, OPT_TTL },
                { "note", required_argument, NULL, OPT_NOTE },
                { "wait", no_argument, NULL, OPT_WAIT },
                VS_CLI_SCHED_OPTIONS,
                {},
        };
        vs_cli_sched_args a = { .cmd = "snapshot", .log_level = VS_LOG_INFO };
        vs_adhoc_request q = { 0 };
        json_object *reply = NULL;
        char who[96];
        bool wait = false;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, ":c:p:h", options, NULL)) >= 0) {
                switch (c) {
                case 'p':
                        q.policy = optarg;
                        break;
                case OPT_TTL:
                        if (vs_duration_parse(optarg, &q.ttl) < 0 || q.ttl <= 0)
                                return vs_cli_usage_error("snapshot", "--ttl: '%s' is not a duration (3d, 12h, 90m)",
                                                          optarg);
                        break;
                case OPT_NOTE:
                        q.note = optarg;
                        break;
                case OPT_WAIT:
                        wait = true;
                        break;
                case 'h':
                        snapshot_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        r = vs_cli_sched_option(&a, c, argv);
                        if (r >= 0)
                                return r;
                        break;
                }
        }
        if (optind + 1 != argc || (!q.policy && !q.ttl))
                return vs_cli_usage_error("snapshot", "%s", optind >= argc ? "a DOMAIN is required"
                                          : optind + 1 < argc ? "one DOMAIN only"
                                          : "--policy is required (or --ttl, to use the policy that covers DOMAIN)");
        if (q.note && !q.note[0])
                return vs_cli_usage_error("snapshot", "--note must not be empty");
        q.domain = argv[optind];
        vs_cli_control_whoami(who, sizeof(who));
        q.requested_by = who;

        r = vs_cli_control_ask_config("snapshot", a.config,
                                      &(vs_ctl_request){
                                              .cmd = VS_CTL_SNAPSHOT, .domain = (char *)q.domain,
                                              .policy = (char *)q.policy, .ttl = q.ttl, .note = (char *)q.note,
                                              .wait = wait, .database = (char *)a.database,
                                      },
                                      wait ? 0 : 30000, &reply);
        if (r < 0)
                return VS_EXIT_FAILURE;
        if (r > 0) {
                r = print_reply(reply, &q);
                json_object_put(reply);
                return r;
        }
        return vs_cli_run_scheduler(&a, start_snapshot, &q, true);
}
