/* virtsnap reconcile: bring the history in line with libvirt by hand (the
 * daemon does the same at start and after every reconnect).  For each
 * connection, every domain's snapshot list is compared with the history's
 * live rows by vs_store_reconcile: interrupted creates and deletes are
 * settled, snapshots deleted outside virtsnap are marked vanished, owned
 * snapshots without a row are adopted, foreign ones are left alone.  Domains
 * the history knows on that connection but libvirt no longer lists are
 * reconciled against an empty list (their snapshots went with them).
 * Running it twice changes nothing the second time. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-args.h"
#include "cli-store.h"
#include "commands.h"
#include "plan.h"
#include "strv.h"
#include "virt.h"

static void
reconcile_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap reconcile [-c FILE] [--connect URI] [--database PATH] [--adopt-all]\n"
                "\n"
                "Compare the history with the snapshots libvirt has, domain by domain, and\n"
                "settle the differences (each one is an event):\n"
                "  creating, snapshot exists      -> present   (recovered)\n"
                "  creating, no snapshot          -> failed    (interrupted)\n"
                "  deleting, snapshot gone        -> deleted   (pruned)\n"
                "  deleting, snapshot still there -> present   (restored)\n"
                "  present, snapshot gone         -> vanished  (deleted outside virtsnap)\n"
                "  virtsnap's marker, no row      -> present   (adopted)\n"
                "Snapshots without virtsnap's marker are never recorded.  A marked snapshot\n"
                "is adopted only when the policy file covers it: its policy (or one whose\n"
                "adopt_from names it) exists for that connection and selects the domain.\n"
                "Others are listed as foreign-marked, with the reason, and left alone:\n"
                "never recorded, so never pruned.\n"
                "\n"
                "options:\n"
                "  -c, --config FILE  policy file: its connections, database and scope\n"
                "      --adopt-all    adopt every marked snapshot, whatever the policy file\n"
                "                     says (rebuilding a lost history)\n"
                "      --connect URI  reconcile this libvirt connection only\n"
                "      --database PATH\n"
                "                     the history database (overrides the policy file's)\n"
                "  -h, --help         this help\n"
                "\n"
                "Output: one line per domain where something changed, one line per\n"
                "foreign-marked snapshot, then a total line.\n"
                "\n"
                "exit status: 0 success; 1 a connection, domain or the database failed;\n"
                "2 usage error.\n");
}

static const char *
snapshot_type(const vs_snapshot_info *s)
{
        if (!s->external)
                return "internal";
        return s->has_memory ? "external" : "disk-only";
}

static void
add_summary(vs_store_reconcile_summary *total, const vs_store_reconcile_summary *s)
{
        total->recovered += s->recovered;
        total->interrupted += s->interrupted;
        total->deleted += s->deleted;
        total->restored += s->restored;
        total->vanished += s->vanished;
        total->adopted += s->adopted;
        total->foreign += s->foreign;
        total->foreign_marked += s->foreign_marked;
}

static void
print_summary(const char *what, const vs_store_reconcile_summary *s)
{
        printf("%s: recovered=%u interrupted=%u deleted=%u restored=%u vanished=%u adopted=%u foreign=%u"
               " foreign-marked=%u\n",
               what, s->recovered, s->interrupted, s->deleted, s->restored, s->vanished, s->adopted, s->foreign,
               s->foreign_marked);
}

/* Domains of this connection that the history has series for. */
typedef struct known {
        const char *connection;
        char **uuids;
        char **names;
        bool oom;
} known;

static int
collect_known(const vs_store_series *se, void *userdata)
{
        known *k = userdata;

        if (strcmp(se->connection, k->connection) != 0 || vs_strv_contains(k->uuids, se->domain_uuid))
                return 0;
        if (vs_strv_push(&k->uuids, se->domain_uuid) < 0 || vs_strv_push(&k->names, se->domain_name) < 0) {
                k->oom = true;
                return -ENOMEM;
        }
        return 0;
}

/* The scope of a reconcile: the loaded config, or everything (--adopt-all). */
typedef struct scope {
        const vs_config *cfg;   /* NULL: no config, nothing is in scope */
        bool adopt_all;
} scope;

static const char *
adopt_as(const scope *sc, const char *uri, const vs_domain_info *d, const char *owner)
{
        if (!owner)
                return NULL;
        if (sc->adopt_all)
                return owner;
        return d ? vs_plan_adopter(sc->cfg, NULL, uri, d, owner) : NULL;
}

/* Why a marked snapshot is out of scope, for the listing. */
static const char *
out_of_scope_reason(const scope *sc, const char *owner)
{
        if (!sc->cfg)
                return "no policy file loaded (give -c FILE, or --adopt-all)";
        for (size_t i = 0; i < sc->cfg->n_policies; i++)
                if (strcmp(sc->cfg->policies[i].name, owner) == 0)
                        return "the policy does not select this domain on this connection";
        return "no such policy in the policy file, and no adopt_from names it";
}

static int
reconcile_domain(vs_store *s, const scope *sc, const char *uri, const vs_domain_info *d, const char *uuid,
                 const char *name, const vs_snapshot_tree *tree, int64_t now, vs_store_reconcile_summary *total)
{
        vs_store_reconcile_summary sum = { 0 };
        vs_store_observed *obs = NULL;
        bool *marked = NULL;
        vs_err err = { 0 };
        int r;

        if (tree && tree->n > 0) {
                obs = calloc(tree->n, sizeof(*obs));
                marked = calloc(tree->n, sizeof(*marked));
                if (!obs || !marked) {
                        free(obs);
                        free(marked);
                        fprintf(stderr, "virtsnap reconcile: out of memory\n");
                        return -ENOMEM;
                }
                for (size_t i = 0; i < tree->n; i++)
                        obs[i] = (vs_store_observed){
                                .name = tree->items[i].name,
                                .owner_policy = tree->items[i].owner_policy,
                                .adopt_as = adopt_as(sc, uri, d, tree->items[i].owner_policy),
                                .creation_time = tree->items[i].creation_time,
                                .type = snapshot_type(&tree->items[i]),
                        };
        }
        r = vs_store_reconcile(s, uri, uuid, name, obs, tree ? tree->n : 0, now, &sum, marked, &err);
        for (size_t i = 0; r == 0 && tree && i < tree->n; i++)
                if (marked[i])
                        printf("foreign-marked: %s %s %s (policy '%s'): %s\n", uri, name, tree->items[i].name,
                               tree->items[i].owner_policy, out_of_scope_reason(sc, tree->items[i].owner_policy));
        free(obs);
        free(marked);
        if (r < 0) {
                fprintf(stderr, "virtsnap reconcile: %s %s: %s\n", uri, name, err.msg[0] ? err.msg : strerror(-r));
                return r;
        }
        if (sum.recovered + sum.interrupted + sum.deleted + sum.restored + sum.vanished + sum.adopted > 0) {
                char what[512];

                snprintf(what, sizeof(what), "%s %s", uri, name);
                print_summary(what, &sum);
        }
        add_summary(total, &sum);
        return 0;
}

static int
reconcile_connection(vs_store *s, const scope *sc, const char *uri, int64_t now,
                     vs_store_reconcile_summary *total)
{
        vs_domain_list domains = { 0 };
        known k = { .connection = uri };
        vs_virt *v = NULL;
        vs_err err = { 0 };
        int r, failed = 0;

        r = vs_virt_open_libvirt(uri, &v, &err);
        if (r < 0) {
                fprintf(stderr, "virtsnap reconcile: %s: %s\n", uri, err.msg[0] ? err.msg : strerror(-r));
                return r;
        }
        r = vs_virt_list_domains(v, &domains, &err);
        if (r < 0) {
                fprintf(stderr, "virtsnap reconcile: %s: listing domains: %s\n", uri,
                        err.msg[0] ? err.msg : strerror(-r));
                goto out;
        }
        for (size_t i = 0; i < domains.n; i++) {
                vs_snapshot_tree tree = { 0 };

                vs_err_clear(&err);
                r = vs_virt_list_snapshots(v, domains.items[i].name, &tree, &err);
                if (r < 0) {
                        /* Undefined since the listing: its turn comes below. */
                        fprintf(stderr, "virtsnap reconcile: %s %s: listing snapshots: %s\n", uri,
                                domains.items[i].name, err.msg[0] ? err.msg : strerror(-r));
                        failed = r;
                        continue;
                }
                r = reconcile_domain(s, sc, uri, &domains.items[i], domains.items[i].uuid, domains.items[i].name,
                                     &tree, now, total);
                vs_snapshot_tree_clear(&tree);
                if (r < 0)
                        failed = r;
        }
        /* Domains the history knows but libvirt no longer has. */
        r = vs_store_query_series(s, NULL, collect_known, &k, &err);
        if (r < 0 || k.oom) {
                fprintf(stderr, "virtsnap reconcile: reading the history: %s\n",
                        k.oom ? "out of memory" : err.msg);
                failed = r < 0 ? r : -ENOMEM;
        }
        for (size_t j = 0; r >= 0 && k.uuids && k.uuids[j]; j++) {
                bool listed = false;

                for (size_t i = 0; i < domains.n && !listed; i++)
                        listed = strcmp(domains.items[i].uuid, k.uuids[j]) == 0;
                if (!listed && reconcile_domain(s, sc, uri, NULL, k.uuids[j], k.names[j], NULL, now, total) < 0)
                        failed = -EIO;
        }
        r = failed;
out:
        vs_strv_free(k.uuids);
        vs_strv_free(k.names);
        vs_domain_list_clear(&domains);
        vs_virt_free(v);
        return r;
}

int
vs_cmd_reconcile(int argc, char **argv)
{
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "connect", required_argument, NULL, 'u' },
                { "database", required_argument, NULL, 'D' },
                { "adopt-all", no_argument, NULL, 'A' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        vs_cli_db_opts db = { .cmd = "reconcile" };
        vs_store_reconcile_summary total = { 0 };
        scope sc = { 0 };
        const char *connect = NULL;
        char **uris = NULL;
        vs_config *cfg = NULL;
        vs_store *s = NULL;
        int64_t now;
        int c, ret = VS_EXIT_OK;

        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":c:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        db.config = optarg;
                        break;
                case 'u':
                        connect = optarg;
                        break;
                case 'D':
                        db.database = optarg;
                        break;
                case 'A':
                        sc.adopt_all = true;
                        break;
                case 'h':
                        reconcile_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        return vs_cli_getopt_error("reconcile", c, argv);
                }
        }
        if (optind < argc)
                return vs_cli_usage_error("reconcile", "unexpected argument '%s'", argv[optind]);
        if (vs_cli_now(&now) < 0) {
                fprintf(stderr, "virtsnap reconcile: $VIRTSNAP_NOW is not a TIME\n");
                return VS_EXIT_USAGE;
        }
        if (vs_cli_open_store(&db, &s, &cfg) < 0)
                return VS_EXIT_FAILURE;
        sc.cfg = cfg;
        if (connect) {
                if (vs_strv_push(&uris, connect) < 0)
                        goto oom;
        } else if (cfg) {
                if (cfg->connection && vs_strv_push(&uris, cfg->connection) < 0)
                        goto oom;
                for (size_t i = 0; i < cfg->n_policies; i++)
                        if (!vs_strv_contains(uris, cfg->policies[i].connection) &&
                            vs_strv_push(&uris, cfg->policies[i].connection) < 0)
                                goto oom;
        } else {
                ret = vs_cli_usage_error("reconcile", "no connection: give -c FILE or --connect URI");
                goto out;
        }
        for (size_t i = 0; uris && uris[i]; i++)
                if (reconcile_connection(s, &sc, uris[i], now, &total) < 0)
                        ret = VS_EXIT_FAILURE;
        print_summary("total", &total);
        if (fflush(stdout) != 0)
                ret = VS_EXIT_FAILURE;
        goto out;
oom:
        fprintf(stderr, "virtsnap reconcile: out of memory\n");
        ret = VS_EXIT_FAILURE;
out:
        vs_strv_free(uris);
        vs_config_free(cfg);
        vs_store_free(s);
        return ret;
}
