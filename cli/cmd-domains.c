/* virtsnap domains: the coverage audit.  For each policy, the domains its
 * selector matches right now on its connection; then, per connection, the
 * domains that no enabled policy covers.  Each connection is opened and
 * listed once however many policies share it. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-args.h"
#include "cli-config.h"
#include "commands.h"
#include "output.h"
#include "overlap.h"
#include "virt.h"
#include "vs-config.h"

/* One connection's domains, listed once. */
typedef struct conn_domains {
        const char *uri;
        int r;                  /* 0, or the listing's error */
        vs_domain_list list;
        bool *covered;          /* per domain: matched by an enabled policy */
} conn_domains;

static void
domains_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap domains [-c FILE] [--connect URI] [--json]\n"
                "\n"
                "For each policy, list the domains it covers now (its selector against the\n"
                "domains, their tags and state on its connection); then the domains that no\n"
                "enabled policy covers.\n"
                "\n"
                "options:\n"
                "  -c, --config FILE  the policy file; default %s\n"
                "      --connect URI  use this libvirt URI instead of the file's connections\n"
                "      --json         print JSON\n"
                "  -h, --help         this help\n"
                "\n"
                "A domain that two enabled policies select with snapshot types that mix\n"
                "internal and external (whatever its state now) is reported on stderr:\n"
                "libvirt cannot delete snapshots of such a chain.\n"
                "\n"
                "exit status: 0 success; 1 bad policy file, a connection failed or a domain\n"
                "is selected by policies that mix internal and external snapshots; 2 usage\n"
                "error.\n",
                VS_DEFAULT_CONFIG);
}

static conn_domains *
find_conn(conn_domains *conns, size_t n, const char *uri)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(conns[i].uri, uri) == 0)
                        return &conns[i];
        return NULL;
}

static char *
join_tags(char *const *tags)
{
        size_t len = 2;
        char *s;

        for (size_t i = 0; tags && tags[i]; i++)
                len += strlen(tags[i]) + 1;
        s = calloc(1, len);
        if (!s)
                return NULL;
        if (!tags || !tags[0]) {
                strcpy(s, "-");
                return s;
        }
        for (size_t i = 0; tags[i]; i++) {
                if (i)
                        strcat(s, ",");
                strcat(s, tags[i]);
        }
        return s;
}

static int
print_domain_line(const vs_domain_info *d, int width)
{
        char *tags = join_tags(d->tags);

        if (!tags)
                return -ENOMEM;
        printf("  %-*s  %-8s  %s\n", width, d->name, vs_domain_state_to_string(d->state), tags);
        free(tags);
        return 0;
}

static int
name_width(const conn_domains *conns, size_t n)
{
        int w = 4;

        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < conns[i].list.n; j++)
                        if ((int)strlen(conns[i].list.items[j].name) > w)
                                w = (int)strlen(conns[i].list.items[j].name);
        return w;
}

static int
print_text(const vs_config *cfg, conn_domains *conns, size_t n_conns)
{
        int width = name_width(conns, n_conns);

        for (size_t i = 0; i < cfg->n_policies; i++) {
                const vs_policy *p = &cfg->policies[i];
                conn_domains *cd = find_conn(conns, n_conns, p->connection);
                size_t count = 0;

                if (cd->r < 0) {
                        printf("policy %s%s on %s: connection failed\n", p->name, p->enabled ? "" : " (disabled)",
                               p->connection);
                        continue;
                }
                for (size_t j = 0; j < cd->list.n; j++)
                        if (vs_domain_matches(&p->domains, &cd->list.items[j]))
                                count++;
                printf("policy %s%s on %s: %zu %s\n", p->name, p->enabled ? "" : " (disabled)", p->connection,
                       count, count == 1 ? "domain" : "domains");
                for (size_t j = 0; j < cd->list.n; j++)
                        if (vs_domain_matches(&p->domains, &cd->list.items[j]) &&
                            print_domain_line(&cd->list.items[j], width) < 0)
                                return -ENOMEM;
        }
        for (size_t i = 0; i < n_conns; i++) {
                size_t count = 0;

                if (conns[i].r < 0)
                        continue;
                for (size_t j = 0; j < conns[i].list.n; j++)
                        if (!conns[i].covered[j])
                                count++;
                printf("not covered on %s: %zu %s\n", conns[i].uri, count, count == 1 ? "domain" : "domains");
                for (size_t j = 0; j < conns[i].list.n; j++)
                        if (!conns[i].covered[j] && print_domain_line(&conns[i].list.items[j], width) < 0)
                                return -ENOMEM;
        }
        return 0;
}

static json_object *
domain_json(const vs_domain_info *d, const char *uri)
{
        json_object *o = json_object_new_object(), *tags = json_object_new_array();

        if (!o || !tags) {
                json_object_put(o);
                json_object_put(tags);
                return NULL;
        }
        json_object_object_add(o, "name", json_object_new_string(d->name));
        json_object_object_add(o, "uuid", json_object_new_string(d->uuid));
        json_object_object_add(o, "state", json_object_new_string(vs_domain_state_to_string(d->state)));
        json_object_object_add(o, "persistent", json_object_new_boolean(d->persistent));
        for (size_t i = 0; d->tags && d->tags[i]; i++)
                json_object_array_add(tags, json_object_new_string(d->tags[i]));
        json_object_object_add(o, "tags", tags);
        if (uri)
                json_object_object_add(o, "connection", json_object_new_string(uri));
        return o;
}

static int
print_json(const vs_config *cfg, conn_domains *conns, size_t n_conns)
{
        json_object *root = json_object_new_object(), *pols = json_object_new_array(),
                    *unc = json_object_new_array();
        int r = 0;

        if (!root || !pols || !unc) {
                json_object_put(root);
                json_object_put(pols);
                json_object_put(unc);
                return -ENOMEM;
        }
        json_object_object_add(root, "policies", pols);
        json_object_object_add(root, "uncovered", unc);
        for (size_t i = 0; i < cfg->n_policies; i++) {
                const vs_policy *p = &cfg->policies[i];
                conn_domains *cd = find_conn(conns, n_conns, p->connection);
                json_object *po = json_object_new_object(), *doms;

                if (!po)
                        goto oom;
                json_object_array_add(pols, po);
                json_object_object_add(po, "name", json_object_new_string(p->name));
                json_object_object_add(po, "connection", json_object_new_string(p->connection));
                json_object_object_add(po, "enabled", json_object_new_boolean(p->enabled));
                if (cd->r < 0) {
                        json_object_object_add(po, "domains", NULL);
                        continue;
                }
                doms = json_object_new_array();
                if (!doms)
                        goto oom;
                json_object_object_add(po, "domains", doms);
                for (size_t j = 0; j < cd->list.n; j++) {
                        json_object *d;

                        if (!vs_domain_matches(&p->domains, &cd->list.items[j]))
                                continue;
                        d = domain_json(&cd->list.items[j], NULL);
                        if (!d)
                                goto oom;
                        json_object_array_add(doms, d);
                }
        }
        for (size_t i = 0; i < n_conns; i++)
                for (size_t j = 0; conns[i].r == 0 && j < conns[i].list.n; j++) {
                        json_object *d;

                        if (conns[i].covered[j])
                                continue;
                        d = domain_json(&conns[i].list.items[j], conns[i].uri);
                        if (!d)
                                goto oom;
                        json_object_array_add(unc, d);
                }
        vs_output_print_json(root, stdout);
        goto out;
oom:
        r = -ENOMEM;
out:
        json_object_put(root);
        return r;
}

/* Every distinct connection of the config, listed. */
static int
list_connections(const vs_config *cfg, conn_domains **ret, size_t *ret_n)
{
        conn_domains *conns = calloc(cfg->n_policies + 1, sizeof(*conns));
        size_t n = 0;
        int failed = 0;

        if (!conns)
                return -ENOMEM;
        for (size_t i = 0; i < cfg->n_policies; i++) {
                const char *uri = cfg->policies[i].connection;
                conn_domains *cd;
                vs_virt *v = NULL;
                vs_err err = { 0 };

                if (find_conn(conns, n, uri))
                        continue;
                cd = &conns[n++];
                cd->uri = uri;
                cd->r = vs_virt_open_libvirt(uri, &v, &err);
                if (cd->r == 0) {
                        cd->r = vs_virt_list_domains(v, &cd->list, &err);
                        vs_virt_free(v);
                }
                if (cd->r < 0) {
                        fprintf(stderr, "virtsnap domains: %s: %s\n", uri, err.msg);
                        failed = 1;
                        continue;
                }
                cd->covered = calloc(cd->list.n + 1, sizeof(bool));
                if (!cd->covered) {
                        *ret = conns;
                        *ret_n = n;
                        return -ENOMEM;
                }
        }
        for (size_t i = 0; i < cfg->n_policies; i++) {
                const vs_policy *p = &cfg->policies[i];
                conn_domains *cd = find_conn(conns, n, p->connection);

                if (!p->enabled || cd->r < 0)
                        continue;
                for (size_t j = 0; j < cd->list.n; j++)
                        if (vs_domain_matches(&p->domains, &cd->list.items[j]))
                                cd->covered[j] = true;
        }
        *ret = conns;
        *ret_n = n;
        return failed;
}

/* In some state (a domain runs at one time and is shut off at another). */
static bool
selects_ever(const vs_policy *p, const vs_domain_info *d)
{
        return vs_selector_match(&p->domains, d->name, d->tags, true) ||
               vs_selector_match(&p->domains, d->name, d->tags, false);
}

/* Real domains that two enabled policies of different families select
 * (the static check of `check` cannot see tags): each one on stderr.
 * Returns how many. */
static unsigned
report_mixed(const vs_config *cfg, conn_domains *conns, size_t n)
{
        unsigned found = 0;

        for (size_t ci = 0; ci < n; ci++) {
                const conn_domains *cd = &conns[ci];

                for (size_t j = 0; cd->r == 0 && j < cd->list.n; j++) {
                        const vs_domain_info *d = &cd->list.items[j];

                        for (size_t a = 0; a < cfg->n_policies; a++) {
                                const vs_policy *pa = &cfg->policies[a];
                                bool reported = false;

                                if (!pa->enabled || strcmp(pa->connection, cd->uri) != 0 || !selects_ever(pa, d))
                                        continue;
                                for (size_t b = a + 1; b < cfg->n_policies && !reported; b++) {
                                        const vs_policy *pb = &cfg->policies[b];

                                        if (!pb->enabled || strcmp(pb->connection, cd->uri) != 0 ||
                                            !vs_snap_types_mix(pa->snapshot.type, pb->snapshot.type) ||
                                            !selects_ever(pb, d))
                                                continue;
                                        fprintf(stderr,
                                                "virtsnap domains: %s: domain '%s' is selected by policies '%s' (%s) "
                                                "and '%s' (%s): libvirt cannot delete snapshots of a chain that "
                                                "mixes internal and external snapshots\n",
                                                cd->uri, d->name, pa->name, vs_snap_type_to_string(pa->snapshot.type),
                                                pb->name, vs_snap_type_to_string(pb->snapshot.type));
                                        found++;
                                        reported = true;
                                }
                        }
                }
        }
        return found;
}

int
vs_cmd_domains(int argc, char **argv)
{
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "connect", required_argument, NULL, 'C' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        const char *path = VS_DEFAULT_CONFIG, *connect = NULL;
        conn_domains *conns = NULL;
        size_t n_conns = 0;
        vs_config *cfg = NULL;
        bool json = false;
        int c, r, rc = VS_EXIT_OK;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+c:h", options, NULL)) != -1) {
                switch (c) {
                case 'c':
                        path = optarg;
                        break;
                case 'C':
                        connect = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        domains_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        return vs_cli_getopt_error_optopt("domains", argv);
                }
        }
        if (optind < argc)
                return vs_cli_usage_error("domains", "unexpected argument '%s'", argv[optind]);
        if (!*path || (connect && !*connect))
                return vs_cli_usage_error("domains", "empty argument");
        if (vs_cli_load_config(path, &cfg) < 0)
                return VS_EXIT_FAILURE;
        if (connect && vs_config_override_connection(cfg, connect) < 0) {
                fprintf(stderr, "virtsnap domains: out of memory\n");
                vs_config_free(cfg);
                return VS_EXIT_FAILURE;
        }
        r = list_connections(cfg, &conns, &n_conns);
        if (r > 0)
                rc = VS_EXIT_FAILURE;
        if (r >= 0)
                r = json ? print_json(cfg, conns, n_conns) : print_text(cfg, conns, n_conns);
        if (r >= 0 && report_mixed(cfg, conns, n_conns) > 0)
                rc = VS_EXIT_FAILURE;
        if (r < 0) {
                fprintf(stderr, "virtsnap domains: out of memory\n");
                rc = VS_EXIT_FAILURE;
        }
        for (size_t i = 0; i < n_conns; i++) {
                vs_domain_list_clear(&conns[i].list);
                free(conns[i].covered);
        }
        free(conns);
        vs_config_free(cfg);
        if (fflush(stdout) != 0) {
                fprintf(stderr, "virtsnap domains: cannot write output: %s\n", strerror(errno));
                return VS_EXIT_FAILURE;
        }
        return rc;
}
