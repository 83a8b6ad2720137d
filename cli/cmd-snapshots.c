/* virtsnap snapshots DOMAIN: the domain's snapshot tree as libvirt has it,
 * children indented under their parent (oldest first), each marked as
 * virtsnap's (and under which policy, flagging policies the file no longer
 * has) or foreign.  Ownership comes from the marker in the description, so
 * this works without the database and, with --connect, without a policy
 * file. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-args.h"
#include "cli-config.h"
#include "commands.h"
#include "output.h"
#include "strv.h"
#include "timefmt.h"
#include "virt.h"
#include "vs-config.h"

static void
snapshots_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap snapshots DOMAIN [-c FILE] [--connect URI] [--json]\n"
                "\n"
                "Show DOMAIN's snapshot tree, children indented under their parent, each\n"
                "marked 'policy NAME' when virtsnap made it (from the ownership marker in its\n"
                "description) or 'foreign'.  Times are UTC.  The domain is looked up on the\n"
                "file's connections, or on URI with --connect; with --connect and no -c, no\n"
                "policy file is read.\n"
                "\n"
                "options:\n"
                "  -c, --config FILE  the policy file; default %s\n"
                "      --connect URI  use this libvirt URI instead of the file's connections\n"
                "      --json         print JSON\n"
                "  -h, --help         this help\n"
                "\n"
                "exit status: 0 success; 1 no such domain, connection or file problem;\n"
                "2 usage error.\n",
                VS_DEFAULT_CONFIG);
}

/* Tree order: each root, oldest first, then its children recursively. */
typedef struct row {
        const vs_snapshot_info *s;
        int depth;
} row;

static bool
is_root(const vs_snapshot_tree *t, const vs_snapshot_info *s)
{
        if (!s->parent)
                return true;
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->items[i].name, s->parent) == 0)
                        return false;
        return true;
}

static int
cmp_age(const void *a, const void *b)
{
        const vs_snapshot_info *x = *(const vs_snapshot_info *const *)a, *y = *(const vs_snapshot_info *const *)b;

        if (x->creation_time != y->creation_time)
                return x->creation_time < y->creation_time ? -1 : 1;
        return strcmp(x->name, y->name);
}

static void
walk(const vs_snapshot_tree *t, const vs_snapshot_info *const *sorted, const vs_snapshot_info *parent,
     int depth, row *rows, size_t *n)
{
        for (size_t i = 0; i < t->n && *n < t->n; i++) {
                const vs_snapshot_info *s = sorted[i];
                bool mine = parent ? (s->parent && strcmp(s->parent, parent->name) == 0) : is_root(t, s);

                if (!mine)
                        continue;
                rows[(*n)++] = (row){ s, depth };
                /* Depth bounds the recursion even on corrupt (looping) metadata. */
                if (depth < (int)t->n)
                        walk(t, sorted, s, depth + 1, rows, n);
        }
}

static int
tree_rows(const vs_snapshot_tree *t, row **ret, size_t *ret_n)
{
        const vs_snapshot_info **sorted = calloc(t->n + 1, sizeof(*sorted));
        row *rows = calloc(t->n + 1, sizeof(*rows));
        size_t n = 0;

        if (!sorted || !rows) {
                free(sorted);
                free(rows);
                return -ENOMEM;
        }
        for (size_t i = 0; i < t->n; i++)
                sorted[i] = &t->items[i];
        qsort(sorted, t->n, sizeof(*sorted), cmp_age);
        walk(t, sorted, NULL, 0, rows, &n);
        free(sorted);
        *ret = rows;
        *ret_n = n;
        return 0;
}

static const char *
kind(const vs_snapshot_info *s)
{
        if (!s->external)
                return "internal";
        return s->memory_file ? "external" : "disk-only";
}

static void
owner_text(const vs_snapshot_info *s, const vs_config *cfg, char *buf, size_t len)
{
        if (!s->owner_policy)
                snprintf(buf, len, "foreign");
        else if (cfg && !vs_config_find_policy(cfg, s->owner_policy))
                snprintf(buf, len, "policy %s (not in %s)", s->owner_policy, cfg->path);
        else
                snprintf(buf, len, "policy %s", s->owner_policy);
}

static void
print_text(const char *domain, const char *uri, const vs_snapshot_tree *t, const row *rows, size_t n,
           const vs_config *cfg)
{
        int width = 4;

        printf("%s on %s: %zu %s\n", domain, uri, t->n, t->n == 1 ? "snapshot" : "snapshots");
        for (size_t i = 0; i < n; i++) {
                int w = 2 * rows[i].depth + (int)strlen(rows[i].s->name);

                if (w > width)
                        width = w;
        }
        for (size_t i = 0; i < n; i++) {
                const vs_snapshot_info *s = rows[i].s;
                char when[VS_TIME_BUFSZ], owner[512];

                owner_text(s, cfg, owner, sizeof(owner));
                printf("  %*s%-*s  %s  %-13s  %-9s  %s%s\n", 2 * rows[i].depth, "", width - 2 * rows[i].depth,
                       s->name, vs_time_format_utc(s->creation_time, when, sizeof(when)), s->state ? s->state : "-",
                       kind(s), owner, s->current ? "  (current)" : "");
        }
}

static json_object *
str_or_null(const char *s)
{
        return s ? json_object_new_string(s) : NULL;
}

static int
print_json(const char *domain, const char *uri, const row *rows, size_t n, const vs_config *cfg)
{
        json_object *root = json_object_new_object(), *arr = json_object_new_array();

        if (!root || !arr) {
                json_object_put(root);
                json_object_put(arr);
                return -ENOMEM;
        }
        json_object_object_add(root, "domain", json_object_new_string(domain));
        json_object_object_add(root, "connection", json_object_new_string(uri));
        json_object_object_add(root, "snapshots", arr);
        for (size_t i = 0; i < n; i++) {
                const vs_snapshot_info *s = rows[i].s;
                json_object *o = json_object_new_object(), *files = json_object_new_array();
                char when[VS_TIME_BUFSZ];

                if (!o || !files) {
                        json_object_put(o);
                        json_object_put(files);
                        json_object_put(root);
                        return -ENOMEM;
                }
                json_object_array_add(arr, o);
                json_object_object_add(o, "name", json_object_new_string(s->name));
                json_object_object_add(o, "parent", str_or_null(s->parent));
                json_object_object_add(o, "depth", json_object_new_int(rows[i].depth));
                json_object_object_add(o, "created",
                                       json_object_new_string(vs_time_format_utc(s->creation_time, when, sizeof(when))));
                json_object_object_add(o, "state", str_or_null(s->state));
                json_object_object_add(o, "type", json_object_new_string(kind(s)));
                json_object_object_add(o, "memory", json_object_new_boolean(s->has_memory));
                json_object_object_add(o, "current", json_object_new_boolean(s->current));
                json_object_object_add(o, "owned", json_object_new_boolean(s->owner_policy != NULL));
                json_object_object_add(o, "policy", str_or_null(s->owner_policy));
                if (cfg && s->owner_policy)
                        json_object_object_add(o, "policy_in_config",
                                               json_object_new_boolean(vs_config_find_policy(cfg, s->owner_policy) != NULL));
                json_object_object_add(o, "description", str_or_null(s->description));
                for (size_t j = 0; s->disk_files && s->disk_files[j]; j++)
                        json_object_array_add(files, json_object_new_string(s->disk_files[j]));
                json_object_object_add(o, "disk_files", files);
                json_object_object_add(o, "memory_file", str_or_null(s->memory_file));
        }
        vs_output_print_json(root, stdout);
        json_object_put(root);
        return 0;
}

/* Find the domain on the first connection that has it. */
static int
load_tree(char *const *uris, const char *domain, vs_snapshot_tree *ret, const char **ret_uri)
{
        int last = -ENOENT;

        for (size_t i = 0; uris[i]; i++) {
                vs_virt *v = NULL;
                vs_err err = { 0 };
                int r = vs_virt_open_libvirt(uris[i], &v, &err);

                if (r == 0) {
                        r = vs_virt_list_snapshots(v, domain, ret, &err);
                        vs_virt_free(v);
                }
                if (r == 0) {
                        *ret_uri = uris[i];
                        return 0;
                }
                if (r == -ENOENT && uris[i + 1])
                        continue; /* maybe on another connection */
                fprintf(stderr, "virtsnap snapshots: %s: %s\n", uris[i], err.msg);
                last = r;
        }
        return last;
}

int
vs_cmd_snapshots(int argc, char **argv)
{
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "connect", required_argument, NULL, 'C' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        const char *path = NULL, *connect = NULL, *domain, *uri = NULL;
        vs_config *cfg = NULL;
        vs_snapshot_tree tree = { 0 };
        char **uris = NULL;
        row *rows = NULL;
        size_t n_rows = 0;
        bool json = false;
        int c, r, rc = VS_EXIT_FAILURE;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
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
                        snapshots_usage(stdout);
                        return VS_EXIT_OK;
                default:
                        return vs_cli_getopt_error_optopt("snapshots", argv);
                }
        }
        if (argc - optind != 1)
                return vs_cli_usage_error("snapshots", "%s", optind >= argc ? "which domain?" : "one domain at a time");
        domain = argv[optind];
        if (!*domain || (path && !*path) || (connect && !*connect))
                return vs_cli_usage_error("snapshots", "empty argument");
        if ((path || !connect) && vs_cli_load_config(path ? path : VS_DEFAULT_CONFIG, &cfg) < 0)
                return VS_EXIT_FAILURE;

        if (connect) {
                r = vs_strv_push(&uris, connect);
        } else {
                r = vs_strv_push(&uris, cfg->connection);
                for (size_t i = 0; r == 0 && i < cfg->n_policies; i++)
                        if (!vs_strv_contains(uris, cfg->policies[i].connection))
                                r = vs_strv_push(&uris, cfg->policies[i].connection);
        }
        if (r < 0) {
                fprintf(stderr, "virtsnap snapshots: out of memory\n");
                goto out;
        }
        r = load_tree(uris, domain, &tree, &uri);
        if (r < 0)
                goto out;
        if (tree_rows(&tree, &rows, &n_rows) < 0) {
                fprintf(stderr, "virtsnap snapshots: out of memory\n");
                goto out;
        }
        if (json) {
                if (print_json(domain, uri, rows, n_rows, cfg) < 0) {
                        fprintf(stderr, "virtsnap snapshots: out of memory\n");
                        goto out;
                }
        } else {
                print_text(domain, uri, &tree, rows, n_rows, cfg);
        }
        rc = VS_EXIT_OK;
        if (fflush(stdout) != 0) {
                fprintf(stderr, "virtsnap snapshots: cannot write output: %s\n", strerror(errno));
                rc = VS_EXIT_FAILURE;
        }
out:
        free(rows);
        vs_snapshot_tree_clear(&tree);
        vs_strv_free(uris);
        vs_config_free(cfg);
        return rc;
}
