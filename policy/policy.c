/* The policy file: a schema walk over the YAML tree that fills vs_config.
 *
 * The schema is data, in the manner of tmux's options-table.c: one key_def
 * per key with its type, range and default, grouped into tables (top level,
 * policy, domains, snapshot, hooks, retention).  walk_map() applies a table to
 * a mapping node: unknown keys (with a "did you mean" for typos and a "belongs
 * in" for keys at the wrong level), duplicate keys, wrong types and ranges are
 * reported at the offending node and the walk goes on, so one run reports
 * every problem.  Checks that span keys (quiesce vs type, retention keeping
 * nothing, name templates, schedule-dependent checks) run in per-table post
 * hooks.  Types, ranges and defaults are documented in policies.example.yaml;
 * keep both in step.
 *
 * Reading the file and turning a tree into a verdict is policy-load.c's
 * job; hostile input is bounded there (size) and in yaml-tree.c (depth,
 * aliases).  The walk itself is linear in the tree apart from the per-policy
 * checks, which are bounded by VS_POLICY_MAX_POLICIES. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "duration.h"
#include "policy.h"
#include "strv.h"
#include "template.h"
#include "timefmt.h"
#include "policy-private.h"

#define DEFAULT_CONNECTION "qemu:///system"
#define DEFAULT_DATABASE "/var/lib/virtsnap/history.db"
#define DEFAULT_CONTROL_SOCKET "/run/virtsnap/control.sock"
#define DEFAULT_NAME_TEMPLATE "{policy}-{utc:%Y%m%dT%H%M%SZ}"
#define DEFAULT_DESCRIPTION "virtsnap {policy} {domain}"

#define DAY (INT64_C(86400))
#define MAX_ARGV 256
#define MAX_KEYS 32

/* Where the schedule-dependent checks sample firings (fixed, so that
 * `virtsnap check` is deterministic): 2026-01-01T00:00:00Z. */
#define SAMPLE_START INT64_C(1767225600)
#define SAMPLE_FIRINGS 128
#define SAMPLE_SPAN (INT64_C(3) * 366 * 86400)
#define SAMPLE_DST_FIRINGS 300

typedef enum key_type {
        KT_URI,           /* libvirt URI: scheme ':' ... */
        KT_PATH,          /* absolute path */
        KT_INT,           /* int, [min, max] */
        KT_BOOL,
        KT_DURATION,      /* int64_t seconds, [min, max] */
        KT_ENUM,          /* stored as int, via from_string */
        KT_STRV,          /* non-empty list of non-empty strings */
        KT_ARGV,          /* hook argv: absolute program, arguments are text templates */
        KT_MAP,           /* nested table */
        KT_POLICIES,      /* list of policy mappings */
        KT_SCHEDULE,      /* vs_schedule * */
        KT_TIMEZONE,      /* vs_tz * */
        KT_POLICY_NAME,   /* [A-Za-z0-9._-]{1,32} */
        KT_NAME_TEMPLATE, /* checked by the policy post hook (needs the policy name) */
        KT_TEXT_TEMPLATE,
        KT_SPACE,         /* vs_space: "10%" or a size "20G" */
} key_type;

typedef struct walk walk;
typedef struct key_table key_table;

typedef struct key_def {
        const char *name;
        key_type type;
        size_t offset;              /* into the struct the table fills */
        int64_t min, max;           /* KT_INT, KT_DURATION */
        int64_t default_num;        /* KT_INT, KT_BOOL, KT_DURATION, KT_ENUM */
        const char *default_str;    /* KT_URI, KT_PATH, templates */
        int (*from_string)(const char *s); /* KT_ENUM */
        const char *choices;        /* KT_ENUM, for messages */
        const key_table *sub;       /* KT_MAP */
        bool required;
        bool late;                  /* walked after the other keys of its mapping */
} key_def;

/* vals[i]: the value node of keys[i], NULL when absent. */
typedef void (*post_fn)(walk *w, const vs_ynode *map, void *base, const vs_ynode *const *vals, bool clean);

struct key_table {
        const char *name;           /* for "belongs in 'retention'" */
        const key_def *keys;
        size_t n;
        post_fn post;
};

struct walk {
        vs_diag_ctx *d;
        vs_config *cfg;
        int oom;
};

/* ---- messages ---- */

/* A user string made safe and short for a message.  NULL is a key left
 * out (a policy without its name, say: reported on its own). */
static const char *
show(const char *s, char *buf, size_t len)
{
        size_t o = 0;

        if (!s)
                return "(unnamed)";

        for (size_t i = 0; s[i] && o + 8 < len; i++) {
                unsigned char c = (unsigned char)s[i];

                if (i >= 64) {
                        memcpy(buf + o, "...", 3);
                        o += 3;
                        break;
                }
                if (c < 0x20 || c == 0x7f)
                        o += (size_t)snprintf(buf + o, len - o, "\\x%02X", c);
                else
                        buf[o++] = (char)c;
        }
        buf[o] = '\0';
        return buf;
}

#define SHOW(s) show((s), (char[96]){ 0 }, 96)

#define diag_at(w, node, ...) vs__diag((w)->d, (node)->line, (node)->column, __VA_ARGS__)

/* Optimal string alignment distance (a swap of neighbours costs 1). */
static size_t
edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        size_t d[66][66];

        if (la > 64 || lb > 64)
                return SIZE_MAX;
        for (size_t i = 0; i <= la; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= la; i++)
                for (size_t j = 1; j <= lb; j++) {
                        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1, v = d[i - 1][j - 1] + cost;

                        if (d[i - 1][j] + 1 < v)
                                v = d[i - 1][j] + 1;
                        if (d[i][j - 1] + 1 < v)
                                v = d[i][j - 1] + 1;
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                                v = d[i - 2][j - 2] + 1;
                        d[i][j] = v;
                }
        return d[la][lb];
}

static void report_unknown_key(walk *w, const vs_ynode *key, const key_table *t);

/* ---- scalar helpers ---- */

/* The string value of a scalar node, or NULL after reporting why not. */
static const char *
get_string(walk *w, const vs_ynode *v, const char *key)
{
        if (v->kind == VS_YNODE_INVALID)
                return NULL;
        if (v->kind != VS_YNODE_SCALAR) {
                diag_at(w, v, "'%s' must be a string, not %s", key, vs__ynode_describe(v));
                return NULL;
        }
        if (vs__ynode_is_null(v)) {
                diag_at(w, v, "'%s' has no value", key);
                return NULL;
        }
        if (strlen(v->value) != v->len) {
                diag_at(w, v, "'%s' contains a NUL character", key);
                return NULL;
        }
        return v->value;
}

static bool
has_control(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static char *
dup_or_oom(walk *w, const char *s)
{
        char *r = strdup(s);

        if (!r)
                w->oom = -ENOMEM;
        return r;
}

static void
set_owned_string(walk *w, char **slot, const char *s)
{
        char *n = dup_or_oom(w, s);

        if (!n)
                return;
        free(*slot);
        *slot = n;
}

/* Decimal integer with an optional sign; -EINVAL or -ERANGE. */
static int
parse_int(const char *s, int64_t *ret)
{
        bool neg = false;
        int64_t v = 0;

        if (*s == '-' || *s == '+')
                neg = *s++ == '-';
        if (!*s)
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v))
                        return -ERANGE;
        }
        *ret = neg ? -v : v;
        return 0;
}

static bool
valid_policy_name(const char *s)
{
        size_t n = 0;

        for (; s[n]; n++) {
                char c = s[n];

                if (n >= 32 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                 c == '.' || c == '_' || c == '-'))
                        return false;
        }
        return n > 0;
}

static bool
valid_uri(const char *s)
{
        const char *p = s;

        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
                return false;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '+' ||
               *p == '.' || *p == '-')
                p++;
        if (*p != ':')
                return false;
        for (; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

/* ---- value setters ---- */

static void walk_map(walk *w, const vs_ynode *map, const key_table *t, void *base);
static void walk_policies(walk *w, const vs_ynode *v);

static void
set_strv(walk *w, const key_def *k, const vs_ynode *v, char ***slot)
{
        char **list = NULL;

        if (v->kind == VS_YNODE_INVALID)
                return;
        if (v->kind != VS_YNODE_SEQ) {
                diag_at(w, v, "'%s' must be a list of strings, not %s", k->name, vs__ynode_describe(v));
                return;
        }
        if (v->n == 0) {
                diag_at(w, v, "'%s' is an empty list (leave the key out instead)", k->name);
                return;
        }
        for (size_t i = 0; i < v->n; i++) {
                const vs_ynode *it = v->items[i];
                const char *s;

                if (it->kind != VS_YNODE_SCALAR && it->kind != VS_YNODE_INVALID) {
                        diag_at(w, it, "items of '%s' must be strings, not %s", k->name, vs__ynode_describe(it));
                        continue;
                }
                s = get_string(w, it, k->name);
                if (!s)
                        continue;
                if (!*s || has_control(s)) {
                        diag_at(w, it, "items of '%s' must be non-empty strings without control characters",
                                k->name);
                        continue;
                }
                if (vs_strv_push(&list, s) < 0) {
                        w->oom = -ENOMEM;
                        break;
                }
        }
        vs_strv_free(*slot);
        *slot = list;
}

static void
set_argv(walk *w, const key_def *k, const vs_ynode *v, char ***slot)
{
        char **argv = NULL, err[256];

        if (v->kind == VS_YNODE_INVALID)
                return;
        if (v->kind != VS_YNODE_SEQ) {
                diag_at(w, v, "'%s' must be a list (program and arguments, no shell), not %s", k->name,
                        vs__ynode_describe(v));
                return;
        }
        if (v->n == 0) {
                diag_at(w, v, "'%s' is an empty list (leave the key out for no hook)", k->name);
                return;
        }
        if (v->n > MAX_ARGV) {
                diag_at(w, v, "'%s' has %zu items (at most %d)", k->name, v->n, MAX_ARGV);
                return;
        }
        for (size_t i = 0; i < v->n; i++) {
                const vs_ynode *it = v->items[i];
                const char *s;

                if (it->kind != VS_YNODE_SCALAR && it->kind != VS_YNODE_INVALID) {
                        diag_at(w, it, "items of '%s' must be strings, not %s", k->name, vs__ynode_describe(it));
                        continue;
                }
                s = get_string(w, it, k->name);
                if (!s)
                        continue;
                if (i == 0 && s[0] != '/') {
                        diag_at(w, it, "hook program must be an absolute path, not '%s'", SHOW(s));
                        continue;
                }
                if (vs__template_check(s, VS_TMPL_HOOK, NULL, err, sizeof(err)) < 0) {
                        diag_at(w, it, "hook argument '%s': %s", SHOW(s), err);
                        continue;
                }
                if (vs_strv_push(&argv, s) < 0) {
                        w->oom = -ENOMEM;
                        break;
                }
        }
        vs_strv_free(*slot);
        *slot = argv;
}

static void
set_value(walk *w, const key_def *k, const vs_ynode *v, void *base)
{
        void *slot = (char *)base + k->offset;
        char err[256], fmt1[32], fmt2[32];
        const char *s;
        int64_t n = 0;
        int r = 0;

        switch (k->type) {
        case KT_MAP:
                if (v->kind == VS_YNODE_INVALID)
                        return;
                if (v->kind != VS_YNODE_MAP) {
                        diag_at(w, v, "'%s' must be a mapping, not %s", k->name, vs__ynode_describe(v));
                        return;
                }
                walk_map(w, v, k->sub, slot);
                return;
        case KT_POLICIES:
                walk_policies(w, v);
                return;
        case KT_STRV:
                set_strv(w, k, v, slot);
                return;
        case KT_ARGV:
                set_argv(w, k, v, slot);
                return;
        default:
                break;
        }

        s = get_string(w, v, k->name);
        if (!s)
                return;

        switch (k->type) {
        case KT_URI:
                if (!valid_uri(s)) {
                        diag_at(w, v, "invalid libvirt URI '%s' (expected e.g. qemu:///system)", SHOW(s));
                        return;
                }
                set_owned_string(w, slot, s);
                return;
        case KT_PATH:
                if (s[0] != '/' || has_control(s) || strlen(s) >= PATH_MAX) {
                        diag_at(w, v, "'%s' must be an absolute path, not '%s'", k->name, SHOW(s));
                        return;
                }
                set_owned_string(w, slot, s);
                return;
        case KT_INT:
                if (!v->plain) {
                        diag_at(w, v, "'%s' must be an integer, not a quoted string", k->name);
                        return;
                }
                r = parse_int(s, &n);
                if (r == -EINVAL) {
                        diag_at(w, v, "'%s' must be an integer, not '%s'", k->name, SHOW(s));
                        return;
                }
                if (r == -ERANGE || n < k->min || n > k->max) {
                        diag_at(w, v, "'%s': %s is out of range (%" PRId64 "-%" PRId64 ")", k->name, SHOW(s), k->min,
                                k->max);
                        return;
                }
                *(int *)slot = (int)n;
                return;
        case KT_BOOL:
                if (v->plain && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")))
                        *(bool *)slot = true;
                else if (v->plain && (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")))
                        *(bool *)slot = false;
                else if (!v->plain)
                        diag_at(w, v, "'%s' must be true or false, not a quoted string", k->name);
                else
                        diag_at(w, v, "'%s' must be true or false, not '%s'", k->name, SHOW(s));
                return;
        case KT_DURATION:
                r = vs_duration_parse(s, &n);
                if (r == -EINVAL) {
                        diag_at(w, v, "'%s': invalid duration '%s' (an integer with s, m, h, d or w, e.g. 90s, 5m, 1h30m)",
                                k->name, SHOW(s));
                        return;
                }
                if (r < 0 || n < k->min || n > k->max) {
                        diag_at(w, v, "'%s': duration %s is out of range (%s-%s)", k->name, SHOW(s),
                                vs_duration_format(k->min, fmt1, sizeof(fmt1)),
                                vs_duration_format(k->max, fmt2, sizeof(fmt2)));
                        return;
                }
                *(int64_t *)slot = n;
                return;
        case KT_SPACE:
                if (vs_space_parse(s, (vs_space *)slot) < 0)
                        diag_at(w, v, "'%s' must be a share of the filesystem (0.1%%-99%%, e.g. 10%%) or a size "
                                "(e.g. 512M, 20G, 1T), not '%s'", k->name, SHOW(s));
                return;
        case KT_ENUM:
                r = k->from_string(s);
                if (r < 0) {
                        diag_at(w, v, "'%s' must be %s, not '%s'", k->name, k->choices, SHOW(s));
                        return;
                }
                *(int *)slot = r;
                return;
        case KT_SCHEDULE: {
                vs_schedule *sched = NULL;

                err[0] = '\0';
                r = vs_schedule_parse(s, &sched, err, sizeof(err));
                if (r == -ENOMEM) {
                        w->oom = r;
                        return;
                }
                if (r < 0) {
                        diag_at(w, v, "invalid schedule '%s': %s", SHOW(s), err[0] ? err : "syntax error");
                        return;
                }
                vs_schedule_free(*(vs_schedule **)slot);
                *(vs_schedule **)slot = sched;
                return;
        }
        case KT_TIMEZONE: {
                vs_tz *tz = NULL;
                vs_err e = { 0 };

                r = vs_tz_load(s, &tz, &e);
                if (r == -ENOMEM) {
                        w->oom = r;
                        return;
                }
                if (r == -ENOENT) {
                        diag_at(w, v, "unknown time zone '%s' (expected an IANA name such as Europe/Berlin or UTC)",
                                SHOW(s));
                        return;
                }
                if (r < 0) {
                        diag_at(w, v, "cannot load time zone '%s': %s", SHOW(s), e.msg[0] ? e.msg : strerror(-r));
                        return;
                }
                vs_tz_free(*(vs_tz **)slot);
                *(vs_tz **)slot = tz;
                return;
        }
        case KT_POLICY_NAME:
                if (!valid_policy_name(s)) {
                        diag_at(w, v, "invalid policy name '%s' (1 to 32 characters from A-Z a-z 0-9 . _ -)", SHOW(s));
                        return;
                }
                set_owned_string(w, slot, s);
                return;
        case KT_NAME_TEMPLATE:
                set_owned_string(w, slot, s);
                return;
        case KT_TEXT_TEMPLATE:
                if (has_control(s)) {
                        diag_at(w, v, "'%s' contains a control character", k->name);
                        return;
                }
                if (vs__template_check(s, VS_TMPL_TEXT, NULL, err, sizeof(err)) < 0) {
                        diag_at(w, v, "'%s': %s", k->name, err);
                        return;
                }
                set_owned_string(w, slot, s);
                return;
        default:
                return;
        }
}

/* ---- tables ---- */

static void
apply_defaults(walk *w, const key_table *t, void *base)
{
        for (size_t i = 0; i < t->n; i++) {
                const key_def *k = &t->keys[i];
                void *slot = (char *)base + k->offset;

                switch (k->type) {
                case KT_INT:
                case KT_ENUM:
                        *(int *)slot = (int)k->default_num;
                        break;
                case KT_BOOL:
                        *(bool *)slot = k->default_num != 0;
                        break;
                case KT_DURATION:
                        *(int64_t *)slot = k->default_num;
                        break;
                case KT_URI:
                case KT_PATH:
                case KT_NAME_TEMPLATE:
                case KT_TEXT_TEMPLATE:
                        if (k->default_str)
                                *(char **)slot = dup_or_oom(w, k->default_str);
                        break;
                case KT_MAP:
                        apply_defaults(w, k->sub, slot);
                        break;
                default:
                        break;
                }
        }
}

static void
walk_map(walk *w, const vs_ynode *map, const key_table *t, void *base)
{
        const vs_ynode *keys[MAX_KEYS] = { 0 }, *vals[MAX_KEYS] = { 0 };
        size_t before = w->d->count;

        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < map->n; i++) {
                        const vs_ynode *key = map->items[2 * i], *val = map->items[2 * i + 1];
                        size_t idx;

                        if (key->kind == VS_YNODE_INVALID)
                                continue;
                        if (key->kind != VS_YNODE_SCALAR || vs__ynode_is_null(key)) {
                                if (pass == 0)
                                        diag_at(w, key, "keys must be plain strings, not %s", vs__ynode_describe(key));
                                continue;
                        }
                        for (idx = 0; idx < t->n; idx++)
                                if (strcmp(t->keys[idx].name, key->value) == 0)
                                        break;
                        if (idx == t->n) {
                                if (pass == 0)
                                        report_unknown_key(w, key, t);
                                continue;
                        }
                        if ((pass == 1) != t->keys[idx].late)
                                continue;
                        if (keys[idx]) {
                                diag_at(w, key, "duplicate key '%s' (first at %d:%d)", key->value, keys[idx]->line,
                                        keys[idx]->column);
                                continue;
                        }
                        keys[idx] = key;
                        vals[idx] = val;
                        set_value(w, &t->keys[idx], val, base);
                }
        for (size_t i = 0; i < t->n; i++)
                if (t->keys[i].required && !keys[i])
                        diag_at(w, map, "missing required key '%s'", t->keys[i].name);
        if (t->post)
                t->post(w, map, base, vals, w->d->count == before);
}

/* The value node of key `name` in mapping `map` (first occurrence). */
static const vs_ynode *
map_get(const vs_ynode *map, const char *name)
{
        if (!map || map->kind != VS_YNODE_MAP)
                return NULL;
        for (size_t i = 0; i < map->n; i++)
                if (map->items[2 * i]->kind == VS_YNODE_SCALAR && strcmp(map->items[2 * i]->value, name) == 0)
                        return map->items[2 * i + 1];
        return NULL;
}

static void post_snapshot(walk *w, const vs_ynode *map, void *base, const vs_ynode *const *vals, bool clean);
static void post_retention(walk *w, const vs_ynode *map, void *base, const vs_ynode *const *vals, bool clean);
static void post_policy(walk *w, const vs_ynode *map, void *base, const vs_ynode *const *vals, bool clean);
static void post_notify(walk *w, const vs_ynode *map, void *base, const vs_ynode *const *vals, bool clean);

#define SEL(f) offsetof(vs_selector, f)
static const key_def domains_keys[] = {
        { .name = "include", .type = KT_STRV, .offset = SEL(include) },
        { .name = "exclude", .type = KT_STRV, .offset = SEL(exclude) },
        { .name = "tags", .type = KT_STRV, .offset = SEL(tags) },
        { .name = "state", .type = KT_ENUM, .offset = SEL(state), .default_num = VS_STATE_SEL_ANY,
          .from_string = vs_state_sel_from_string, .choices = "running, shutoff or any" },
};
static const key_table domains_table = { "domains", domains_keys, VS_ELEMENTSOF(domains_keys), NULL };

#define SNAP(f) offsetof(vs_snapshot_spec, f)
enum { SNAP_TYPE, SNAP_QUIESCE, SNAP_NAME };
static const key_def snapshot_keys[] = {
        [SNAP_TYPE] = { .name = "type", .type = KT_ENUM, .offset = SNAP(type), .default_num = VS_SNAP_INTERNAL,
                        .from_string = vs_snap_type_from_string, .choices = "internal, disk-only or external" },
        [SNAP_QUIESCE] = { .name = "quiesce", .type = KT_ENUM, .offset = SNAP(quiesce), .default_num = VS_QUIESCE_OFF,
                           .from_string = vs_quiesce_from_string, .choices = "required, preferred or off" },
        [SNAP_NAME] = { .name = "name", .type = KT_NAME_TEMPLATE, .offset = SNAP(name_template),
                        .default_str = DEFAULT_NAME_TEMPLATE },
        { .name = "description", .type = KT_TEXT_TEMPLATE, .offset = SNAP(description_template),
          .default_str = DEFAULT_DESCRIPTION },
        { .name = "disks", .type = KT_STRV, .offset = SNAP(disks) },
        { .name = "overlay_dir", .type = KT_PATH, .offset = SNAP(overlay_dir) },
        { .name = "timeout", .type = KT_DURATION, .offset = SNAP(timeout), .min = 1, .max = DAY, .default_num = 300 },
        { .name = "atomic", .type = KT_BOOL, .offset = SNAP(atomic), .default_num = true },
};
static const key_table snapshot_table = { "snapshot", snapshot_keys, VS_ELEMENTSOF(snapshot_keys), post_snapshot };

#define HOOK(f) offsetof(vs_hooks, f)
static const key_def hooks_keys[] = {
        { .name = "pre", .type = KT_ARGV, .offset = HOOK(pre) },
        { .name = "post", .type = KT_ARGV, .offset = HOOK(post) },
        { .name = "timeout", .type = KT_DURATION, .offset = HOOK(timeout), .min = 1, .max = DAY, .default_num = 30 },
        { .name = "required", .type = KT_BOOL, .offset = HOOK(required), .default_num = false },
};
static const key_table hooks_table = { "hooks", hooks_keys, VS_ELEMENTSOF(hooks_keys), NULL };

#define NOTE(f) offsetof(vs_notify, f)
enum { NOTIFY_ON, NOTIFY_COMMAND };
static const key_def notify_keys[] = {
        [NOTIFY_ON] = { .name = "on", .type = KT_STRV, .offset = NOTE(on) },
        [NOTIFY_COMMAND] = { .name = "command", .type = KT_ARGV, .offset = NOTE(command) },
        { .name = "timeout", .type = KT_DURATION, .offset = NOTE(timeout), .min = 1, .max = DAY, .default_num = 30 },
};
static const key_table notify_table = { "notify", notify_keys, VS_ELEMENTSOF(notify_keys), post_notify };

#define GUARD(f) offsetof(vs_guard, f)
static const key_def guard_keys[] = {
        { .name = "min_free", .type = KT_SPACE, .offset = GUARD(min_free) },
        { .name = "max_chain", .type = KT_INT, .offset = GUARD(max_chain), .min = 1, .max = 1000 },
};
static const key_table guard_table = { "guard", guard_keys, VS_ELEMENTSOF(guard_keys), NULL };

#define RET(f) offsetof(vs_retention_rules, f)
#define KEEP(n) { .name = #n, .type = KT_INT, .offset = RET(n), .min = 0, .max = VS_POLICY_MAX_KEEP }
static const key_def retention_keys[] = {
        KEEP(keep_last), KEEP(keep_hourly), KEEP(keep_daily), KEEP(keep_weekly), KEEP(keep_monthly), KEEP(keep_yearly),
        { .name = "keep_within", .type = KT_DURATION, .offset = RET(keep_within), .min = 0,
          .max = VS_POLICY_MAX_KEEP_WITHIN },
};
static const key_table retention_table = { "retention", retention_keys, VS_ELEMENTSOF(retention_keys),
                                           post_retention };

#define POL(f) offsetof(vs_policy, f)
enum { POL_NAME, POL_SCHEDULE, POL_JITTER, POL_SNAPSHOT };
static const key_def policy_keys[] = {
        [POL_NAME] = { .name = "name", .type = KT_POLICY_NAME, .offset = POL(name), .required = true },
        [POL_SCHEDULE] = { .name = "schedule", .type = KT_SCHEDULE, .offset = POL(schedule), .required = true },
        [POL_JITTER] = { .name = "jitter", .type = KT_DURATION, .offset = POL(jitter), .min = 0, .max = DAY },
        [POL_SNAPSHOT] = { .name = "snapshot", .type = KT_MAP, .offset = POL(snapshot), .sub = &snapshot_table },
        { .name = "connection", .type = KT_URI, .offset = POL(connection) },
        { .name = "enabled", .type = KT_BOOL, .offset = POL(enabled), .default_num = true },
        { .name = "domains", .type = KT_MAP, .offset = POL(domains), .sub = &domains_table },
        { .name = "catch_up", .type = KT_BOOL, .offset = POL(catch_up), .default_num = true },
        { .name = "hooks", .type = KT_MAP, .offset = POL(hooks), .sub = &hooks_table },
        { .name = "notify", .type = KT_MAP, .offset = POL(notify), .sub = &notify_table },
        { .name = "retention", .type = KT_MAP, .offset = POL(retention), .sub = &retention_table, .required = true },
        { .name = "guard", .type = KT_MAP, .offset = POL(guard), .sub = &guard_table },
        { .name = "prune", .type = KT_BOOL, .offset = POL(prune), .default_num = true },
        { .name = "adopt_from", .type = KT_STRV, .offset = POL(adopt_from) },
};
static const key_table policy_table = { "policy", policy_keys, VS_ELEMENTSOF(policy_keys), post_policy };

#define CFG(f) offsetof(vs_config, f)
static const key_def top_keys[] = {
        { .name = "connection", .type = KT_URI, .offset = CFG(connection), .default_str = DEFAULT_CONNECTION },
        { .name = "database", .type = KT_PATH, .offset = CFG(database), .default_str = DEFAULT_DATABASE },
        { .name = "metrics_textfile", .type = KT_PATH, .offset = CFG(metrics_textfile) },
        { .name = "control_socket", .type = KT_PATH, .offset = CFG(control_socket),
          .default_str = DEFAULT_CONTROL_SOCKET },
        { .name = "notify", .type = KT_MAP, .offset = CFG(notify), .sub = &notify_table },
        { .name = "timezone", .type = KT_TIMEZONE, .offset = CFG(tz) },
        { .name = "max_concurrent", .type = KT_INT, .offset = CFG(max_concurrent), .min = 1, .max = 1024,
          .default_num = 4 },
        /* late: policies need the zone and the default connection */
        { .name = "policies", .type = KT_POLICIES, .required = true, .late = true },
};
static const key_table top_table = { "top level", top_keys, VS_ELEMENTSOF(top_keys), NULL };

static const key_table *const all_tables[] = {
        &top_table, &policy_table, &domains_table, &snapshot_table, &hooks_table, &notify_table,
        &retention_table, &guard_table,
};
static const size_t n_all_tables = VS_ELEMENTSOF(all_tables);

static void
each_key(const key_table *t, const char *prefix, vs_config_key_fn fn, void *userdata)
{
        for (size_t i = 0; i < t->n; i++) {
                char path[128];

                snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", t->keys[i].name);
                fn(path, userdata);
                if (t->keys[i].type == KT_MAP && t->keys[i].sub)
                        each_key(t->keys[i].sub, path, fn, userdata);
                else if (t->keys[i].type == KT_POLICIES)
                        each_key(&policy_table, "policies", fn, userdata);
        }
}

void
vs_config_each_key(vs_config_key_fn fn, void *userdata)
{
        each_key(&top_table, "", fn, userdata);
}

static void
report_unknown_key(walk *w, const vs_ynode *key, const key_table *t)
{
        const char *best = NULL, *elsewhere[2] = { NULL, NULL };
        size_t best_d = SIZE_MAX, limit = strlen(key->value) <= 4 ? 1 : 2;

        for (size_t i = 0; i < t->n; i++) {
                size_t dd = edit_distance(key->value, t->keys[i].name);

                if (dd < best_d) {
                        best_d = dd;
                        best = t->keys[i].name;
                }
        }
        if (best && best_d <= limit) {
                diag_at(w, key, "unknown key '%s' (did you mean '%s'?)", SHOW(key->value), best);
                return;
        }
        for (size_t i = 0; i < n_all_tables; i++) {
                const key_table *o = all_tables[i];

                if (o == t)
                        continue;
                for (size_t j = 0; j < o->n; j++)
                        if (strcmp(o->keys[j].name, key->value) == 0) {
                                if (!elsewhere[0])
                                        elsewhere[0] = o->name;
                                else if (!elsewhere[1])
                                        elsewhere[1] = o->name;
                        }
        }
        if (elsewhere[1])
                diag_at(w, key, "unknown key '%s' here (it belongs in '%s' or '%s')", SHOW(key->value), elsewhere[0],
                        elsewhere[1]);
        else if (elsewhere[0])
                diag_at(w, key, "unknown key '%s' here (it belongs in '%s')", SHOW(key->value), elsewhere[0]);
        else
                diag_at(w, key, "unknown key '%s'", SHOW(key->value));
}

/* ---- cross-key checks ---- */

static void
post_snapshot(walk *w, const vs_ynode *map, void *base, const vs_ynode *const *vals, bool clean)
{
        const vs_snapshot_spec *s = base;

        const vs_ynode *type = vals[SNAP_TYPE];

        /* A rejected type was reported already; do not judge by the default. */
        if (type && (type->kind != VS_YNODE_SCALAR || vs_snap_type_from_string(type->value) < 0))
                return;
        /* libvirt quiesces only with VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY. */
        if (s->quiesce == VS_QUIESCE_REQUIRED && s->type != VS_SNAP_DISK_ONLY && vals[SNAP_QUIESCE])
                diag_at(w, vals[SNAP_QUIESCE],
                        "'quiesce: required' needs 'type: disk-only' (libvirt quiesces only disk-only snapshots; "
                        "this policy has type %s)",
                        vs_snap_type_to_string(s->type));
}

static const char *const notify_names[] = { "failure", "skipped", "recovered" };

const char *
vs_notify_event_to_string(vs_notify_event e)
{
        for (size_t i = 0; i < VS_ELEMENTSOF(notify_names); i++)
                if (e == 1u << i)
                        return notify_names[i];
        return NULL;
}

static void
post_notify(walk *w, const vs_ynode *map, void *base, const vs_ynode *const *vals, bool clean)
{
        vs_notify *n = base;
        const vs_ynode *on = vals[NOTIFY_ON];

        if (!n->on) {
                n->events = VS_NOTIFY_FAILURE | VS_NOTIFY_SKIPPED | VS_NOTIFY_RECOVERED;
        } else {
                for (size_t i = 0; n->on[i]; i++) {
                        size_t k = 0;

                        while (k < VS_ELEMENTSOF(notify_names) && strcmp(n->on[i], notify_names[k]) != 0)
                                k++;
                        if (k == VS_ELEMENTSOF(notify_names)) {
                                const vs_ynode *item = on && on->kind == VS_YNODE_SEQ && i < on->n
                                                               ? on->items[i] : on ? on : map;

                                diag_at(w, item, "notify: unknown event '%s' (failure, skipped or recovered)",
                                        SHOW(n->on[i]));
                                continue;
                        }
                        n->events |= 1u << k;
                }
        }
        if (clean && !n->command)
                diag_at(w, map, "notify: command is required (the program that tells you, as a list)");
}

static void
post_retention(walk *w, const vs_ynode *map, void *base, const vs_ynode *const *vals, bool clean)
{
        /* After a rejected key the verdict would only repeat that problem. */
        if (clean && !vs_retention_rules_any(base))
                diag_at(w, map,
                        "retention keeps nothing: set at least one of keep_last, keep_hourly, keep_daily, "
                        "keep_weekly, keep_monthly, keep_yearly or keep_within above zero");
}

typedef struct sample {
        char *name;
        int64_t t;
} sample;

static int
cmp_sample(const void *a, const void *b)
{
        const sample *x = a, *y = b;
        int r = strcmp(x->name, y->name);

        return r ? r : (x->t > y->t) - (x->t < y->t);
}

/* Firings of the schedule from `from` on: at most max, and none past
 * `until` once min have been taken (a leap-day schedule fires rarely). */
static size_t
sample_firings(const vs_policy *p, const vs_tz *tz, int64_t from, int64_t until, size_t min, size_t max,
               int64_t *out)
{
        size_t n = 0;
        int64_t t = from - 1;

        while (n < max) {
                t = vs_schedule_next(p->schedule, tz, t);
                if (t == INT64_MAX || (t > until && n >= min))
                        break;
                out[n++] = t;
        }
        return n;
}

/* Do the names the template gives at the sampled firings collide?  The
 * samples are the first SAMPLE_FIRINGS firings after SAMPLE_START (within
 * SAMPLE_SPAN, but at least two) and, for
 * {local:...} templates, the firings around the zone's next two offset
 * changes (a repeated wall-clock hour is the classic trap). */
static void
check_schedule_vs_names(walk *w, const vs_policy *p, const vs_ynode *tmpl_node, const vs_ynode *jitter_node)
{
        const vs_tz *tz = w->cfg->tz;
        int64_t times[SAMPLE_FIRINGS + 2 * SAMPLE_DST_FIRINGS], min_gap = INT64_MAX;
        sample samples[VS_ELEMENTSOF(times)];
        size_t n, ns = 0;
        char a[VS_TIME_BUFSZ], b[VS_TIME_BUFSZ], g1[32], g2[32];

        n = sample_firings(p, tz, SAMPLE_START, SAMPLE_START + SAMPLE_SPAN, 2, SAMPLE_FIRINGS, times);
        for (size_t i = 1; i < n; i++)
                if (times[i] - times[i - 1] < min_gap)
                        min_gap = times[i] - times[i - 1];
        if (jitter_node && p->jitter > 0 && min_gap != INT64_MAX && p->jitter > min_gap)
                diag_at(w, jitter_node, "jitter %s is longer than the shortest interval between firings (%s)",
                        vs_duration_format(p->jitter, g1, sizeof(g1)), vs_duration_format(min_gap, g2, sizeof(g2)));

        if (strstr(p->snapshot.name_template, "{local:")) {
                int64_t tr = SAMPLE_START;

                for (int k = 0; k < 2; k++) {
                        tr = vs_tz_next_transition(tz, tr);
                        if (tr == INT64_MAX)
                                break;
                        n += sample_firings(p, tz, tr - 3 * 3600, tr + 3 * 3600, 0, SAMPLE_DST_FIRINGS, times + n);
                }
        }
        for (size_t i = 0; i < n; i++) {
                if (vs_template_expand(p->snapshot.name_template, p->name, NULL, tz, times[i], &samples[ns].name) < 0)
                        continue;
                samples[ns++].t = times[i];
        }
        qsort(samples, ns, sizeof(samples[0]), cmp_sample);
        for (size_t i = 1; i < ns; i++)
                if (strcmp(samples[i].name, samples[i - 1].name) == 0 && samples[i].t != samples[i - 1].t) {
                        diag_at(w, tmpl_node,
                                "snapshot name template gives the same name '%s' to the firings at %s and %s "
                                "(schedule '%s'); add a finer time field",
                                samples[i].name, vs_time_format_utc(samples[i - 1].t, a, sizeof(a)),
                                vs_time_format_utc(samples[i].t, b, sizeof(b)), vs_schedule_text(p->schedule));
                        break;
                }
        for (size_t i = 0; i < ns; i++)
                free(samples[i].name);
}

static void
post_policy(walk *w, const vs_ynode *map, void *base, const vs_ynode *const *vals, bool clean)
{
        vs_policy *p = base;
        const vs_ynode *tmpl_node = map_get(vals[POL_SNAPSHOT], "name");
        char err[256];

        p->line = map->line;
        p->column = map->column;
        if (!p->snapshot.name_template)
                return;
        /* A user template is reported at itself; the default one at the
         * policy name that makes it invalid. */
        if (!tmpl_node || tmpl_node->kind != VS_YNODE_SCALAR)
                tmpl_node = vals[POL_NAME] ? vals[POL_NAME] : map;
        if (vs__template_check(p->snapshot.name_template, VS_TMPL_NAME, p->name, err, sizeof(err)) < 0) {
                diag_at(w, tmpl_node, "snapshot name '%s': %s", SHOW(p->snapshot.name_template), err);
                return;
        }
        if (p->name && p->schedule && w->cfg->tz)
                check_schedule_vs_names(w, p, tmpl_node, vals[POL_JITTER]);
}

/* adopt_from names policies that are gone from the file: a policy still
 * defined owns its snapshots, and two adopters of one name would race for
 * them. */
static void
check_adopt_from(walk *w, const vs_ynode *v, const vs_ynode **names)
{
        const vs_config *cfg = w->cfg;

        for (size_t i = 0; i < cfg->n_policies; i++) {
                const vs_policy *p = &cfg->policies[i];
                const vs_ynode *node = map_get(v->items[i], "adopt_from");

                for (size_t k = 0; p->adopt_from && p->adopt_from[k]; k++) {
                        const char *old = p->adopt_from[k];
                        const vs_ynode *at = node && node->kind == VS_YNODE_SEQ && k < node->n ? node->items[k] : node;
                        bool done = false;

                        for (size_t j = 0; j < cfg->n_policies && !done; j++) {
                                const vs_policy *q = &cfg->policies[j];

                                if (q->name && strcmp(q->name, old) == 0) {
                                        if (j == i)
                                                diag_at(w, at, "adopt_from '%s': a policy cannot adopt from itself",
                                                        SHOW(old));
                                        else
                                                diag_at(w, at,
                                                        "adopt_from '%s': that policy is defined (at %d:%d) and owns "
                                                        "its snapshots; adopt_from names a removed or renamed policy",
                                                        SHOW(old), names[j] ? names[j]->line : q->line,
                                                        names[j] ? names[j]->column : q->column);
                                        done = true;
                                }
                                for (size_t m = 0; j < i && !done && q->adopt_from && q->adopt_from[m]; m++)
                                        if (strcmp(q->adopt_from[m], old) == 0) {
                                                diag_at(w, at, "adopt_from '%s': already adopted by policy '%s'",
                                                        SHOW(old), SHOW(q->name));
                                                done = true;
                                        }
                        }
                }
        }
}

static void
walk_policies(walk *w, const vs_ynode *v)
{
        vs_config *cfg = w->cfg;
        const vs_ynode **names;

        if (v->kind == VS_YNODE_INVALID)
                return;
        if (v->kind != VS_YNODE_SEQ) {
                diag_at(w, v, "'policies' must be a list of policies, not %s", vs__ynode_describe(v));
                return;
        }
        if (v->n == 0) {
                diag_at(w, v, "'policies' is an empty list: no policy is defined");
                return;
        }
        if (v->n > VS_POLICY_MAX_POLICIES) {
                diag_at(w, v, "too many policies (%zu; at most %d)", v->n, VS_POLICY_MAX_POLICIES);
                return;
        }
        cfg->policies = calloc(v->n, sizeof(*cfg->policies));
        names = calloc(v->n, sizeof(*names));
        if (!cfg->policies || !names) {
                free(names);
                w->oom = -ENOMEM;
                return;
        }
        cfg->n_policies = v->n;
        for (size_t i = 0; i < v->n && !w->oom; i++) {
                const vs_ynode *pm = v->items[i];
                vs_policy *p = &cfg->policies[i];

                apply_defaults(w, &policy_table, p);
                p->line = pm->line;
                p->column = pm->column;
                if (pm->kind == VS_YNODE_INVALID)
                        continue;
                if (pm->kind != VS_YNODE_MAP) {
                        diag_at(w, pm, "each policy must be a mapping, not %s", vs__ynode_describe(pm));
                        continue;
                }
                walk_map(w, pm, &policy_table, p);
                if (!p->connection && cfg->connection)
                        p->connection = dup_or_oom(w, cfg->connection);
                if (!p->name)
                        continue;
                names[i] = map_get(pm, "name");
                for (size_t j = 0; j < i; j++)
                        if (names[j] && cfg->policies[j].name && strcmp(cfg->policies[j].name, p->name) == 0) {
                                diag_at(w, names[i], "duplicate policy name '%s' (first at %d:%d)", p->name,
                                        names[j]->line, names[j]->column);
                                break;
                        }
        }
        check_adopt_from(w, v, names);
        free(names);
}

/* ---- public API ---- */

static void
policy_clear(vs_policy *p)
{
        free(p->name);
        free(p->connection);
        vs_strv_free(p->domains.include);
        vs_strv_free(p->domains.exclude);
        vs_strv_free(p->domains.tags);
        vs_schedule_free(p->schedule);
        free(p->snapshot.name_template);
        free(p->snapshot.description_template);
        vs_strv_free(p->snapshot.disks);
        free(p->snapshot.overlay_dir);
        vs_strv_free(p->hooks.pre);
        vs_strv_free(p->hooks.post);
        vs_strv_free(p->notify.on);
        vs_strv_free(p->notify.command);
        vs_strv_free(p->adopt_from);
}

void
vs_config_free(vs_config *cfg)
{
        if (!cfg)
                return;
        for (size_t i = 0; i < cfg->n_policies; i++)
                policy_clear(&cfg->policies[i]);
        free(cfg->policies);
        free(cfg->path);
        free(cfg->connection);
        free(cfg->database);
        free(cfg->metrics_textfile);
        free(cfg->control_socket);
        vs_strv_free(cfg->notify.on);
        vs_strv_free(cfg->notify.command);
        vs_tz_free(cfg->tz);
        free(cfg);
}

const vs_policy *
vs_config_find_policy(const vs_config *cfg, const char *name)
{
        for (size_t i = 0; cfg && name && i < cfg->n_policies; i++)
                if (cfg->policies[i].name && strcmp(cfg->policies[i].name, name) == 0)
                        return &cfg->policies[i];
        return NULL;
}

int
vs_config_override_connection(vs_config *cfg, const char *uri)
{
        char *c = strdup(uri);

        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < cfg->n_policies; i++) {
                char *pc = strdup(uri);

                if (!pc) {
                        free(c);
                        return -ENOMEM;
                }
                free(cfg->policies[i].connection);
                cfg->policies[i].connection = pc;
        }
        free(cfg->connection);
        cfg->connection = c;
        return 0;
}

/* Build a config from a parsed tree: defaults, then the schema walk.  Every
 * problem goes to ctx; the caller judges validity by ctx->count.  0 with
 * *ret set (even when problems were found), or -ENOMEM. */
int
vs__config_build(vs_diag_ctx *ctx, const vs_ynode *root, const char *name, vs_config **ret)
{
        vs_config *cfg = calloc(1, sizeof(*cfg));
        walk w = { .d = ctx, .cfg = cfg };
        int r;

        if (!cfg)
                return -ENOMEM;
        cfg->path = dup_or_oom(&w, name);
        apply_defaults(&w, &top_table, cfg);

        if (root->kind == VS_YNODE_MAP) {
                /* The zone must be known before the policies are walked
                 * (timezone is walked first; policies is "late"). */
                if (!map_get(root, "timezone")) {
                        vs_err e = { 0 };

                        r = vs_tz_load(NULL, &cfg->tz, &e);
                        if (r == -ENOMEM)
                                w.oom = r;
                        else if (r < 0)
                                vs__diag(ctx, 0, 0, "cannot load the host's time zone: %s",
                                         e.msg[0] ? e.msg : strerror(-r));
                }
                walk_map(&w, root, &top_table, cfg);
        } else if (root->kind != VS_YNODE_INVALID) {
                if (vs__ynode_is_null(root)) /* "---" alone: the null sits at the "..." */
                        vs__diag(ctx, 1, 1, "the file is empty (expected a mapping with 'policies')");
                else
                        vs__diag(ctx, root->line, root->column, "the top level must be a mapping, not %s",
                                 vs__ynode_describe(root));
        }
        if (w.oom || ctx->oom) {
                vs_config_free(cfg);
                return -ENOMEM;
        }
        *ret = cfg;
        return 0;
}
