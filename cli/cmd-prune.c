/* virtsnap prune: apply retention now, or show what it would do. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli-args.h"
#include "cli-config.h"
#include "cli-control.h"
#include "cli-sched.h"
#include "cli-store.h"
#include "commands.h"
#include "log.h"
#include "timefmt.h"
#include "vs-config.h"

typedef struct prune_req {
        const char *policy, *domain;
} prune_req;

static void
prune_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap prune [--policy P] [--domain D] [--dry-run] [-c FILE] [--connect URI]\n"
                "                      [--database PATH] [--log-level LEVEL]\n"
                "\n"
                "Apply retention now to every (domain, policy) the policies match (only P, only\n"
                "domain D when given): virtsnap's own unpinned snapshots that no rule keeps are\n"
                "deleted, knowing libvirt's snapshot tree, and every delete is recorded.\n"
                "Policies with prune: false are left alone.\n"
                "\n"
                "options:\n"
                "  --dry-run           change nothing: print each snapshot's verdict and reason\n"
                "  -p, --policy P      only this policy\n"
                "  -d, --domain D      only this domain (name)\n"
                "  -c, --config FILE   the policy file (default %s)\n"
                "  --connect URI       use this libvirt URI for every policy\n"
                "  --database PATH     the history database (default: the file's database:)\n"
                "  --log-level LEVEL   err, warning, notice, info (default) or debug\n"
                "  -h, --help          this help\n"
                "\n"
                "When the daemon runs (it answers on the file's control_socket:), it does the\n"
                "prune, next to its scheduled jobs, and this waits for it; --connect and\n"
                "--log-level apply only without a daemon.\n"
                "\n"
                "--dry-run prints one line per snapshot held:\n"
                "  VERDICT  DOMAIN  POLICY  SNAPSHOT  CREATED  REASON\n"
                "\n"
                "exit status: 0 success; 1 failure (a delete failed, no connection); 2 usage error.\n",
                VS_DEFAULT_CONFIG);
}

static int
start_prune(vs_scheduler *s, void *data)
{
        const prune_req *q = data;
        vs_err e = { 0 };

        if (vs_scheduler_prune_now(s, q->policy, q->domain, &e) < 0) {
                fprintf(stderr, "virtsnap prune: %s\n", e.msg);
                return VS_EXIT_USAGE;
        }
        return 0;
}

static int
dry_run(const vs_cli_sched_args *a, const prune_req *q)
{
        vs_cli_db_opts dbo = { .cmd = "prune", .config = a->config, .database = a->database,
                               .flags = VS_STORE_READ_ONLY };
        vs_config *cfg = NULL;
        vs_store *store = NULL;
        int64_t now;
        int rc = VS_EXIT_OK;
        bool found_policy = !q->policy;

        if (vs_cli_now(&now) < 0) {
                fprintf(stderr, "virtsnap prune: $VIRTSNAP_NOW is not a TIME\n");
                return VS_EXIT_USAGE;
        }
        if (vs_cli_open_store(&dbo, &store, &cfg) < 0)
                return VS_EXIT_FAILURE;
        if (!cfg && vs_cli_load_config(a->config, &cfg) < 0) {
                vs_store_free(store);
                return VS_EXIT_FAILURE;
        }
        printf("%-7s %-20s %-16s %-40s %-21s %s\n", "VERDICT", "DOMAIN", "POLICY", "SNAPSHOT", "CREATED", "REASON");
        for (size_t pi = 0; pi < cfg->n_policies; pi++) {
                const vs_policy *p = &cfg->policies[pi];
                const char *uri = a->connect ? a->connect : p->connection;
                vs_domain_list doms = { 0 };
                vs_virt *v = NULL;
                vs_err e = { 0 };

                if (q->policy && strcmp(q->policy, p->name) != 0)
                        continue;
                found_policy = true;
                if (!p->enabled || !p->prune)
                        continue;
                if (vs_virt_open_libvirt(uri, &v, &e) < 0 || vs_virt_list_domains(v, &doms, &e) < 0) {
                        fprintf(stderr, "virtsnap prune: %s: %s\n", uri, e.msg);
                        vs_virt_free(v);
                        rc = VS_EXIT_FAILURE;
                        continue;
                }
                for (size_t d = 0; d < doms.n; d++) {
                        const vs_domain_info *dom = &doms.items[d];
                        vs_cli_preview pv = { 0 };

                        if ((q->domain && strcmp(q->domain, dom->name) != 0) || !vs_domain_matches(&p->domains, dom))
                                continue;
                        if (vs_cli_retention_preview(store, cfg, p, uri, dom->uuid, now, &pv, &e) < 0) {
                                fprintf(stderr, "virtsnap prune: %s/%s: %s\n", dom->name, p->name, e.msg);
                                rc = VS_EXIT_FAILURE;
                                continue;
                        }
                        for (size_t i = 0; i < pv.held.n; i++) {
                                char when[VS_TIME_BUFSZ], reason[320];
                                const char *verdict;

                                vs_cli_preview_describe(p, &pv.items[i], &verdict, reason, sizeof(reason));
                                printf("%-7s %-20s %-16s %-40s %-21s %s\n", verdict, dom->name, p->name,
                                       pv.held.items[i].name,
                                       vs_time_format_utc(pv.held.items[i].created, when, sizeof(when)), reason);
                        }
                        vs_cli_preview_clear(&pv);
                }
                vs_domain_list_clear(&doms);
                vs_virt_free(v);
        }
        if (!found_policy) {
                fprintf(stderr, "virtsnap prune: no policy named '%s'\n", q->policy);
                rc = VS_EXIT_USAGE;
        }
        vs_config_free(cfg);
        vs_store_free(store);
        return rc;
}

/* With a daemon running, it prunes (it holds the database).  An exit code,
 * or -1 when no daemon answers. */
static int
through_daemon(const vs_cli_sched_args *a, const prune_req *q)
{
        json_object *o = NULL, *v;
        int r;

        r = vs_cli_control_ask_config("prune", a->config,
                                      &(vs_ctl_request){
                                              .cmd = VS_CTL_PRUNE, .policy = (char *)q->policy,
                                              .domain = (char *)q->domain, .database = (char *)a->database,
                                      },
                                      0, &o);
        if (r < 0)
                return VS_EXIT_FAILURE;
        if (r == 0)
                return -1;
        if (json_object_object_get_ex(o, "jobs", &v)) {
                printf("pruned by the daemon: %lld snapshot%s in %lld series (%lld undeletable, %lld failed)\n",
                       (long long)vs_cli_reply_int(o, "pruned"), vs_cli_reply_int(o, "pruned") == 1 ? "" : "s",
                       (long long)vs_cli_reply_int(o, "jobs"), (long long)vs_cli_reply_int(o, "undeletable"),
                       (long long)vs_cli_reply_int(o, "failed"));
        }
        r = vs_cli_reply_ok(o) && vs_cli_reply_int(o, "undeletable") == 0
                    ? VS_EXIT_OK : VS_EXIT_FAILURE;
        if (json_object_object_get_ex(o, "error", &v))
                fprintf(stderr, "virtsnap prune: %s\n", json_object_get_string(v));
        else if (vs_cli_reply_int(o, "undeletable") > 0)
                fprintf(stderr, "virtsnap prune: libvirt cannot delete some snapshots (recorded as undeletable)\n");
        json_object_put(o);
        return r;
}

int
vs_cmd_prune(int argc, char **argv)
{
        enum { OPT_DRY_RUN = VS_CLI_OPT_OWN };
        static const struct option options[] = {
                { "policy", required_argument, NULL, 'p' },
                { "domain", required_argument, NULL, 'd' },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                VS_CLI_SCHED_OPTIONS,
                {},
        };
        vs_cli_sched_args a = { .cmd = "prune", .log_level = VS_LOG_INFO };
        prune_req q = { 0 };
        bool dry = false;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, ":c:p:d:h", options, NULL)) >= 0) {
                switch (c) {
                case 'p':
                        q.policy = optarg;
                        break;
                case 'd':
                        q.domain = optarg;
                        break;
                case OPT_DRY_RUN:
                        dry = true;
                        break;
                case 'h':
                        prune_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        r = vs_cli_sched_option(&a, c, argv);
                        if (r >= 0)
                                return r;
                        break;
                }
        }
        if (optind < argc)
                return vs_cli_usage_error("prune", "unexpected argument '%s'", argv[optind]);
        if (dry)
                return dry_run(&a, &q);
        r = through_daemon(&a, &q);
        if (r >= 0)
                return r;
        return vs_cli_run_scheduler(&a, start_prune, &q, true);
}
