/* virtsnap revert DOMAIN SNAPSHOT [--no-safety] [--dry-run]: a safety
 * snapshot first, then libvirt's revert, recorded with who, from and to.
 * Through the running daemon when it answers (it holds the database),
 * else here as a one-shot scheduler run (scheduler/revert.c either way). */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cli-args.h"
#include "cli-control.h"
#include "cli-sched.h"
#include "commands.h"
#include "duration.h"
#include "timefmt.h"
#include "vs-config.h"

enum { OPT_NO_SAFETY = VS_CLI_OPT_OWN, OPT_DRY_RUN, OPT_SAFETY_TTL };

static void
revert_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap revert DOMAIN SNAPSHOT [--no-safety] [--safety-ttl DURATION]\n"
                "                       [--policy P] [--dry-run] [-c FILE] [--connect URI]\n"
                "                       [--database PATH] [--log-level LEVEL]\n"
                "\n"
                "Put DOMAIN back to SNAPSHOT.  First a safety snapshot of how it is now is\n"
                "taken (an ad-hoc snapshot under the policy that covers DOMAIN, or P, kept\n"
                "7 days unless --safety-ttl says otherwise, recorded with who asked), then\n"
                "libvirt reverts (virDomainRevertToSnapshot): the domain ends as the snapshot\n"
                "was, running from its memory or shut off.  The event log records who, when,\n"
                "from and to (`virtsnap events --state reverted`).\n"
                "\n"
                "What libvirt 9.0 cannot do is refused before anything happens: reverting to\n"
                "an external snapshot (disk-only or memory+disk; libvirt 9.9 can), or to an\n"
                "internal one with an external snapshot taken after it (the disks run on its\n"
                "overlay).  For the same reason the safety snapshot must be internal: a\n"
                "policy with another type is refused (use --policy or --no-safety).  If the\n"
                "safety snapshot fails, nothing is reverted.\n"
                "\n"
                "When the daemon runs (it answers on the file's control_socket:), the request\n"
                "goes to it; otherwise the revert is done here.\n"
                "\n"
                "options:\n"
                "  --no-safety         revert without taking the safety snapshot\n"
                "  --safety-ttl DURATION\n"
                "                      keep the safety snapshot this long (default 7d)\n"
                "  -p, --policy P      the safety snapshot's policy (default: the first\n"
                "                      enabled policy that covers DOMAIN)\n"
                "  --dry-run           check and say what would happen; change nothing\n"
                "  -c, --config FILE   the policy file (default %s)\n"
                "  --connect URI       use this libvirt URI\n"
                "  --database PATH     the history database (default: the file's database:)\n"
                "  --log-level LEVEL   err, warning, notice, info (default) or debug\n"
                "  -h, --help          this help\n"
                "\n"
                "exit status: 0 reverted (or, with --dry-run, it would be); 1 refused or failed\n"
                "(nothing reverted: the message says why); 2 usage error.\n",
                VS_DEFAULT_CONFIG);
}

/* The result as the daemon sends it, and as the direct path prints it. */
json_object *
vs_cli_revert_json(const vs_revert_result *r)
{
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
#define ADD_STR(k, v) \
        do { \
                if (v) \
                        json_object_object_add(o, k, json_object_new_string(v)); \
        } while (0)
        json_object_object_add(o, "ok", json_object_new_boolean(r->ok));
        if (r->dry_run)
                json_object_object_add(o, "dry_run", json_object_new_boolean(true));
        ADD_STR("domain", r->domain);
        ADD_STR("snapshot", r->snapshot);
        ADD_STR("from", r->from);
        ADD_STR("policy", r->policy);
        ADD_STR("safety", r->safety);
        if (r->safety_ttl > 0)
                json_object_object_add(o, "safety_ttl", json_object_new_int64(r->safety_ttl));
        if (r->safety_expires > 0)
                json_object_object_add(o, "safety_expires", json_object_new_int64(r->safety_expires));
        ADD_STR("state", r->state);
        ADD_STR("error", r->error);
        if (!r->ok)
                ADD_STR("code", "EIO");
#undef ADD_STR
        return o;
}

static int
print_result(json_object *o, const char *domain, const char *snapshot)
{
        json_object *v;
        bool ok = vs_cli_reply_ok(o);
        bool dry = json_object_object_get_ex(o, "dry_run", &v) && json_object_get_boolean(v);
        const char *from = vs_cli_reply_str(o, "from"), *policy = vs_cli_reply_str(o, "policy"), *safety = vs_cli_reply_str(o, "safety");
        const char *state = vs_cli_reply_str(o, "state"), *err = vs_cli_reply_str(o, "error");
        int64_t ttl = vs_cli_reply_int(o, "safety_ttl"), expires = vs_cli_reply_int(o, "safety_expires");
        char buf[32], dur[32];

        if (!ok) {
                fprintf(stderr, "virtsnap revert: %s: %s\n", domain, err ? err : "failed");
                return VS_EXIT_FAILURE;
        }
        if (dry) {
                if (policy)
                        printf("%s: would take a safety snapshot under policy %s (internal, kept %s), then revert "
                               "from %s to %s\n",
                               domain, policy, vs_duration_format(ttl, dur, sizeof(dur)), from ? from : "(none)",
                               snapshot);
                else
                        printf("%s: would revert from %s to %s, without a safety snapshot\n", domain,
                               from ? from : "(none)", snapshot);
                return VS_EXIT_OK;
        }
        if (safety)
                printf("%s: safety snapshot %s taken under policy %s, kept until %s\n", domain, safety,
                       policy ? policy : "?", vs_time_format_utc(expires, buf, sizeof(buf)));
        printf("%s: reverted from %s to %s; now %s\n", domain, from ? from : "(none)", snapshot,
               state ? state : "?");
        return VS_EXIT_OK;
}

typedef struct direct {
        const vs_revert_request *q;
        int rc;
        bool answered;
} direct;

static void
on_direct_done(const vs_revert_result *r, void *data)
{
        direct *d = data;
        json_object *o = vs_cli_revert_json(r);

        d->answered = true;
        if (!o) {
                fprintf(stderr, "virtsnap revert: out of memory\n");
                d->rc = VS_EXIT_FAILURE;
                return;
        }
        d->rc = print_result(o, d->q->domain, d->q->snapshot);
        json_object_put(o);
}

static int
start_revert(vs_scheduler *s, void *data)
{
        direct *d = data;
        vs_err e = { 0 };

        if (vs_scheduler_revert_now(s, d->q, on_direct_done, d, &e) < 0) {
                fprintf(stderr, "virtsnap revert: %s\n", e.msg);
                return VS_EXIT_FAILURE;
        }
        return 0;
}

int
vs_cmd_revert(int argc, char **argv)
{
        static const struct option options[] = {
                { "no-safety", no_argument, NULL, OPT_NO_SAFETY },
                { "safety-ttl", required_argument, NULL, OPT_SAFETY_TTL },
                { "policy", required_argument, NULL, 'p' },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                VS_CLI_SCHED_OPTIONS,
                {},
        };
        vs_cli_sched_args a = { .cmd = "revert", .log_level = VS_LOG_INFO };
        vs_revert_request q = { 0 };
        json_object *reply = NULL;
        direct d = { .q = &q, .rc = VS_EXIT_FAILURE };
        char who[96];
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, ":c:p:h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_NO_SAFETY:
                        q.no_safety = true;
                        break;
                case OPT_SAFETY_TTL:
                        if (vs_duration_parse(optarg, &q.safety_ttl) < 0 || q.safety_ttl <= 0)
                                return vs_cli_usage_error("revert", "--safety-ttl: '%s' is not a duration (7d, 12h)",
                                                          optarg);
                        break;
                case 'p':
                        q.policy = optarg;
                        break;
                case OPT_DRY_RUN:
                        q.dry_run = true;
                        break;
                case 'h':
                        revert_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        r = vs_cli_sched_option(&a, c, argv);
                        if (r >= 0)
                                return r;
                        break;
                }
        }
        if (optind + 2 != argc)
                return vs_cli_usage_error("revert", "%s", optind + 2 > argc ? "a DOMAIN and a SNAPSHOT are required"
                                                                            : "one DOMAIN and one SNAPSHOT only");
        if (q.no_safety && (q.policy || q.safety_ttl))
                return vs_cli_usage_error("revert", "--no-safety takes no --policy or --safety-ttl");
        q.domain = argv[optind];
        q.snapshot = argv[optind + 1];
        vs_cli_control_whoami(who, sizeof(who));
        q.requested_by = who;

        r = vs_cli_control_ask_config("revert", a.config,
                                      &(vs_ctl_request){
                                              .cmd = VS_CTL_REVERT, .domain = (char *)q.domain,
                                              .snapshot = (char *)q.snapshot, .policy = (char *)q.policy,
                                              .ttl = q.safety_ttl, .no_safety = q.no_safety, .dry_run = q.dry_run,
                                              .database = (char *)a.database,
                                      },
                                      0, &reply);
        if (r < 0)
                return VS_EXIT_FAILURE;
        if (r > 0) {
                r = print_result(reply, q.domain, q.snapshot);
                json_object_put(reply);
                return r;
        }
        r = vs_cli_run_scheduler(&a, start_revert, &d, true);
        if (r != VS_EXIT_OK)
                return r;
        return d.answered ? d.rc : VS_EXIT_FAILURE;
}
