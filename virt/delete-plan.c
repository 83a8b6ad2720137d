/* The deletion planner (see delete-plan.h for the rules and why).  Pure: no
 * libvirt, no I/O, so every case is unit-tested on synthetic trees.  Trees
 * are small (hundreds of snapshots), so lookups are linear scans; a tree
 * whose parent links loop (corrupt metadata) is treated as if the loop were
 * cut, never followed forever. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delete-plan.h"

typedef struct planner {
        const vs_snapshot_tree *tree;
        bool active;
        size_t *parent;         /* tree index of each node's parent, or VS_PLAN_NONE */
        size_t *depth;
        bool *want;             /* requested and owned and present */
        bool *ext_below;        /* some descendant is external */
        bool *int_below;        /* some descendant is internal */
        bool *whole;            /* node and all descendants: wanted, owned, internal */
        size_t *n_children;
        vs_delete_plan *plan;
} planner;

static size_t
find(const vs_snapshot_tree *t, const char *name)
{
        if (!name)
                return VS_PLAN_NONE;
        for (size_t i = 0; i < t->n; i++)
                if (t->items[i].name && strcmp(t->items[i].name, name) == 0)
                        return i;
        return VS_PLAN_NONE;
}

static void
planner_free(planner *p)
{
        free(p->parent);
        free(p->depth);
        free(p->want);
        free(p->ext_below);
        free(p->int_below);
        free(p->whole);
        free(p->n_children);
}

static int
planner_init(planner *p, const vs_snapshot_tree *tree, bool active, vs_delete_plan *plan)
{
        size_t n = tree->n ? tree->n : 1;

        memset(p, 0, sizeof(*p));
        p->tree = tree;
        p->active = active;
        p->plan = plan;
        p->parent = calloc(n, sizeof(size_t));
        p->depth = calloc(n, sizeof(size_t));
        p->want = calloc(n, sizeof(bool));
        p->ext_below = calloc(n, sizeof(bool));
        p->int_below = calloc(n, sizeof(bool));
        p->whole = calloc(n, sizeof(bool));
        p->n_children = calloc(n, sizeof(size_t));
        if (!p->parent || !p->depth || !p->want || !p->ext_below || !p->int_below || !p->whole ||
            !p->n_children)
                return -ENOMEM;

        for (size_t i = 0; i < tree->n; i++)
                p->parent[i] = find(tree, tree->items[i].parent);
        /* Depth, cutting any loop: a walk longer than the tree is a loop. */
        for (size_t i = 0; i < tree->n; i++) {
                size_t d = 0;

                for (size_t a = p->parent[i]; a != VS_PLAN_NONE; a = p->parent[a]) {
                        if (++d > tree->n) {
                                p->parent[i] = VS_PLAN_NONE;
                                d = 0;
                                break;
                        }
                }
                p->depth[i] = d;
        }
        for (size_t i = 0; i < tree->n; i++) {
                if (p->parent[i] != VS_PLAN_NONE)
                        p->n_children[p->parent[i]]++;
                /* Mark every ancestor with what lies below it. */
                for (size_t a = p->parent[i], k = 0; a != VS_PLAN_NONE && k <= tree->n;
                     a = p->parent[a], k++) {
                        if (tree->items[i].external)
                                p->ext_below[a] = true;
                        else
                                p->int_below[a] = true;
                }
        }
        return 0;
}

static bool
is_ancestor(const planner *p, size_t anc, size_t node)
{
        size_t k = 0;

        for (size_t a = p->parent[node]; a != VS_PLAN_NONE && k <= p->tree->n; a = p->parent[a], k++)
                if (a == anc)
                        return true;
        return false;
}

/* whole[i]: i and every descendant are wanted and internal. */
static void
compute_whole(planner *p)
{
        const vs_snapshot_tree *t = p->tree;

        for (size_t i = 0; i < t->n; i++)
                p->whole[i] = p->want[i] && !t->items[i].external;
        for (size_t i = 0; i < t->n; i++) {
                if (p->whole[i])
                        continue;
                /* i breaks the subtree of each of its ancestors. */
                for (size_t a = p->parent[i], k = 0; a != VS_PLAN_NONE && k <= t->n;
                     a = p->parent[a], k++)
                        p->whole[a] = false;
        }
}

static int
add_step(vs_delete_plan *plan, size_t snap, bool children, size_t depends_on, size_t *ret)
{
        vs_delete_step *s = realloc(plan->steps, (plan->n_steps + 1) * sizeof(*s));

        if (!s)
                return -ENOMEM;
        plan->steps = s;
        s[plan->n_steps] = (vs_delete_step){ .snap = snap, .children = children, .depends_on = depends_on };
        *ret = plan->n_steps++;
        return 0;
}

static vs_delete_entry *
entry_for(vs_delete_plan *plan, size_t snap)
{
        for (size_t i = 0; i < plan->n_entries; i++)
                if (plan->entries[i].snap == snap)
                        return &plan->entries[i];
        return NULL;
}

static void set_outcome(vs_delete_entry *e, vs_delete_outcome o, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
set_outcome(vs_delete_entry *e, vs_delete_outcome o, const char *fmt, ...)
{
        va_list ap;

        e->outcome = o;
        e->step = VS_PLAN_NONE;
        va_start(ap, fmt);
        vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
        va_end(ap);
}

/* Sort key: oldest first (depth, then creation time, then name). */
static int
older(const planner *p, size_t a, size_t b)
{
        const vs_snapshot_info *x = &p->tree->items[a], *y = &p->tree->items[b];

        if (p->depth[a] != p->depth[b])
                return p->depth[a] < p->depth[b] ? -1 : 1;
        if (x->creation_time != y->creation_time)
                return x->creation_time < y->creation_time ? -1 : 1;
        return strcmp(x->name, y->name);
}

static void
sort_oldest_first(const planner *p, size_t *v, size_t n)
{
        /* Insertion sort: n is small and the input is nearly sorted. */
        for (size_t i = 1; i < n; i++) {
                size_t x = v[i], j = i;

                while (j > 0 && older(p, v[j - 1], x) > 0) {
                        v[j] = v[j - 1];
                        j--;
                }
                v[j] = x;
        }
}

static int
plan_internal(planner *p, const size_t *cand, size_t n)
{
        const vs_snapshot_tree *t = p->tree;

        for (size_t k = 0; k < n; k++) {
                size_t i = cand[k], step;
                vs_delete_entry *e = entry_for(p->plan, i);
                bool children;
                int r;

                if (p->whole[i] && p->parent[i] != VS_PLAN_NONE && p->whole[p->parent[i]])
                        continue; /* covered by an ancestor's CHILDREN call */
                children = p->whole[i] && p->n_children[i] > 0;
                r = add_step(p->plan, i, children, VS_PLAN_NONE, &step);
                if (r < 0)
                        return r;
                e->step = step;
                if (!children)
                        continue;
                for (size_t j = 0; j < t->n; j++) {
                        vs_delete_entry *d;

                        if (!is_ancestor(p, i, j))
                                continue;
                        d = entry_for(p->plan, j);
                        if (d)
                                d->step = step;
                }
        }
        return 0;
}

static int
plan_external_active(planner *p, const size_t *cand, size_t n)
{
        for (size_t k = 0; k < n; k++) {
                size_t step;
                int r = add_step(p->plan, cand[k], false, VS_PLAN_NONE, &step);

                if (r < 0)
                        return r;
                entry_for(p->plan, cand[k])->step = step;
        }
        return 0;
}

/* Shut off: only a snapshot without children can be deleted.  Deleting one
 * may make its parent childless, so sweep from the top until nothing
 * changes; the step that removed the last child is the parent's dependency. */
static int
plan_external_shutoff(planner *p, const size_t *cand, size_t n)
{
        const vs_snapshot_tree *t = p->tree;
        size_t *last_child_step = malloc((t->n ? t->n : 1) * sizeof(size_t));
        bool progress = true;
        int r = 0;

        if (!last_child_step)
                return -ENOMEM;
        for (size_t i = 0; i < t->n; i++)
                last_child_step[i] = VS_PLAN_NONE;
        while (progress) {
                progress = false;
                /* Newest first among the ready ones: walk the oldest-first list backwards. */
                for (size_t k = n; k-- > 0;) {
                        size_t i = cand[k], step;
                        vs_delete_entry *e = entry_for(p->plan, i);

                        if (e->step != VS_PLAN_NONE || p->n_children[i] > 0)
                                continue;
                        r = add_step(p->plan, i, false, last_child_step[i], &step);
                        if (r < 0)
                                goto out;
                        e->step = step;
                        if (p->parent[i] != VS_PLAN_NONE) {
                                p->n_children[p->parent[i]]--;
                                last_child_step[p->parent[i]] = step;
                        }
                        progress = true;
                }
        }
        for (size_t k = 0; k < n; k++) {
                vs_delete_entry *e = entry_for(p->plan, cand[k]);

                if (e->step == VS_PLAN_NONE)
                        set_outcome(e, VS_DELETE_DEFERRED,
                                    "the domain is shut off and snapshot '%s' is not the newest of its "
                                    "chain; libvirt deletes older external snapshots only while the "
                                    "domain runs",
                                    t->items[cand[k]].name);
        }
out:
        free(last_child_step);
        return r;
}

bool
vs__delete_failure_is_permanent(const char *msg)
{
        return msg && (strstr(msg, "target of not completed snapshot delete") ||
                       (strstr(msg, "block-commit") && strstr(msg, "is not in this backing file chain")));
}

void
vs__delete_plan_clear(vs_delete_plan *p)
{
        if (!p)
                return;
        free(p->steps);
        free(p->entries);
        memset(p, 0, sizeof(*p));
}

static int
add_entries(vs_delete_plan *plan, const vs_snapshot_tree *tree, char *const *names)
{
        size_t n = 0;

        while (names && names[n])
                n++;
        plan->entries = calloc(n ? n : 1, sizeof(vs_delete_entry));
        if (!plan->entries)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                vs_delete_entry *e;
                bool dup = false;

                for (size_t j = 0; j < plan->n_entries && !dup; j++)
                        dup = strcmp(plan->entries[j].name, names[i]) == 0;
                if (dup)
                        continue;
                e = &plan->entries[plan->n_entries++];
                e->name = names[i];
                e->snap = find(tree, names[i]);
                e->step = VS_PLAN_NONE;
                e->outcome = VS_DELETE_DELETED;
                if (e->snap == VS_PLAN_NONE)
                        set_outcome(e, VS_DELETE_MISSING, "no snapshot named '%s'", names[i]);
                else if (!tree->items[e->snap].owner_policy)
                        set_outcome(e, VS_DELETE_REFUSED,
                                    "snapshot '%s' was not made by virtsnap (no ownership marker)",
                                    names[i]);
        }
        return 0;
}

int
vs__delete_plan_build(const vs_snapshot_tree *tree, char *const *names, bool active,
                      vs_delete_plan *ret)
{
        vs_delete_plan plan = { 0 };
        planner p;
        size_t *intl = NULL, *ext = NULL, n_int = 0, n_ext = 0;
        int r;

        r = planner_init(&p, tree, active, &plan);
        if (r < 0)
                goto fail;
        r = add_entries(&plan, tree, names);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < plan.n_entries; i++)
                if (plan.entries[i].outcome == VS_DELETE_DELETED)
                        p.want[plan.entries[i].snap] = true;
        compute_whole(&p);

        intl = calloc(plan.n_entries + 1, sizeof(size_t));
        ext = calloc(plan.n_entries + 1, sizeof(size_t));
        if (!intl || !ext) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t k = 0; k < plan.n_entries; k++) {
                vs_delete_entry *e = &plan.entries[k];
                const vs_snapshot_info *s;
                size_t par;

                if (e->outcome != VS_DELETE_DELETED)
                        continue;
                s = &tree->items[e->snap];
                par = p.parent[e->snap];
                if (!s->external) {
                        if (active && p.ext_below[e->snap])
                                set_outcome(e, VS_DELETE_UNDELETABLE,
                                            "internal snapshot '%s' lives in a disk image that a later "
                                            "external snapshot has overlaid; libvirt cannot delete it "
                                            "while the domain runs",
                                            s->name);
                        else
                                intl[n_int++] = e->snap;
                } else if (par != VS_PLAN_NONE && !tree->items[par].external) {
                        set_outcome(e, VS_DELETE_UNDELETABLE,
                                    "external snapshot '%s' has an internal snapshot as parent; "
                                    "libvirt does not support deleting it",
                                    s->name);
                } else if (p.int_below[e->snap]) {
                        set_outcome(e, VS_DELETE_UNDELETABLE,
                                    "external snapshot '%s' has internal snapshots stored in its "
                                    "overlay; deleting it would merge them away",
                                    s->name);
                } else {
                        ext[n_ext++] = e->snap;
                }
        }
        /* Undeletable internal snapshots break their ancestors' subtrees. */
        for (size_t i = 0; i < tree->n; i++)
                p.want[i] = false;
        for (size_t k = 0; k < n_int; k++)
                p.want[intl[k]] = true;
        compute_whole(&p);

        sort_oldest_first(&p, intl, n_int);
        sort_oldest_first(&p, ext, n_ext);
        r = plan_internal(&p, intl, n_int);
        if (r < 0)
                goto fail;
        r = active ? plan_external_active(&p, ext, n_ext) : plan_external_shutoff(&p, ext, n_ext);
        if (r < 0)
                goto fail;

        free(intl);
        free(ext);
        planner_free(&p);
        *ret = plan;
        return 0;
fail:
        free(intl);
        free(ext);
        planner_free(&p);
        vs__delete_plan_clear(&plan);
        return r;
}
