/* The firing plan (see plan.h): selectors x domain lists -> entries with a
 * deadline, in an array sorted in fire order plus a binary min-heap of
 * indices into it.  A firing pops the root and pushes it back with its next
 * slot (O(log n) and one vs_schedule_next); the scheduler rebuilds the plan
 * only when its inputs change (domain list, reload). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "strv.h"

struct vs_plan {
        vs_plan_entry *items;
        size_t n, cap;
        size_t *heap;           /* indices into items; heap[0] fires first */
        const vs_tz *tz;
        char **strings;         /* what the entries point to */
        size_t n_strings, cap_strings;
};

const char *
vs_plan_policy_uri(const vs_policy *p, const char *connect_override)
{
        return connect_override ? connect_override : p->connection;
}

bool
vs_plan_domain_matches(const vs_policy *p, const vs_domain_info *d)
{
        bool running = d->state == VS_DOMAIN_RUNNING || d->state == VS_DOMAIN_PAUSED;

        return vs_selector_match(&p->domains, d->name, d->tags, running);
}

/* Selected in some state: a policy that snapshots running domains still
 * owns what it made of a domain that is shut off now. */
static bool
covers(const vs_policy *p, const char *connect_override, const char *uri, const vs_domain_info *d)
{
        return strcmp(vs_plan_policy_uri(p, connect_override), uri) == 0 &&
               (vs_selector_match(&p->domains, d->name, d->tags, true) ||
                vs_selector_match(&p->domains, d->name, d->tags, false));
}

const char *
vs_plan_adopter(const vs_config *cfg, const char *connect_override, const char *uri, const vs_domain_info *d,
                const char *owner)
{
        if (!cfg || !owner)
                return NULL;
        for (size_t i = 0; i < cfg->n_policies; i++) {
                const vs_policy *p = &cfg->policies[i];

                if (strcmp(p->name, owner) == 0)
                        return covers(p, connect_override, uri, d) ? p->name : NULL;
        }
        for (size_t i = 0; i < cfg->n_policies; i++) {
                const vs_policy *p = &cfg->policies[i];

                if (vs_strv_contains(p->adopt_from, owner))
                        return covers(p, connect_override, uri, d) ? p->name : NULL;
        }
        return NULL;
}

static uint64_t
fnv1a(uint64_t h, const char *s)
{
        /* Include the terminating NUL so "ab"+"c" and "a"+"bc" differ. */
        do {
                h ^= (unsigned char)*s;
                h *= 0x100000001b3ULL;
        } while (*s++);
        return h;
}

int64_t
vs_plan_offset(const char *conn, const char *uuid, const char *policy, int64_t jitter)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        if (jitter <= 0)
                return 0;
        h = fnv1a(h, conn);
        h = fnv1a(h, uuid);
        h = fnv1a(h, policy);
        return (int64_t)(h % (uint64_t)jitter);
}

int64_t
vs_plan_next_slot(const vs_schedule *s, const vs_tz *tz, int64_t offset, int64_t after)
{
        int64_t slot = vs_schedule_next(s, tz, after - offset);

        if (slot == INT64_MAX || slot > INT64_MAX - offset)
                return INT64_MAX;
        return slot;
}

bool
vs_plan_is_due(const vs_schedule *s, const vs_tz *tz, int64_t offset, bool has_last,
               int64_t last_success, int64_t now)
{
        int64_t slot;

        if (!has_last)
                return vs_schedule_next(s, tz, now) != INT64_MAX;
        slot = vs_plan_next_slot(s, tz, offset, last_success);
        return slot != INT64_MAX && slot + offset <= now;
}

int64_t
vs_plan_last_deadline(const vs_schedule *s, const vs_tz *tz, int64_t offset, int64_t after, int64_t now)
{
        int64_t period = vs_schedule_period(s, tz, now), from = after, last = INT64_MIN, slot;

        /* Walking from `after` is exact but may be long (a week of "every
         * 5s"); start a few periods back from now instead when that is
         * later, and fall back to the full walk when the schedule is too
         * irregular for the window to hold a slot. */
        if (period != INT64_MAX && period > 0 && period < INT64_MAX / 8 && now - 8 * period > after)
                from = now - 8 * period;
        for (;;) {
                for (int64_t t = from; (slot = vs_plan_next_slot(s, tz, offset, t)) != INT64_MAX &&
                                       slot + offset <= now;
                     t = slot + offset)
                        last = slot + offset;
                if (last != INT64_MIN || from == after)
                        return last;
                from = after;
        }
}

/* n bytes owned by the plan (freed with it), or NULL. */
static char *
plan_alloc(vs_plan *p, size_t n)
{
        char *c;

        if (p->n_strings == p->cap_strings) {
                size_t cap = p->cap_strings ? p->cap_strings * 2 : 64;
                char **v = realloc(p->strings, cap * sizeof(*v));

                if (!v)
                        return NULL;
                p->strings = v;
                p->cap_strings = cap;
        }
        c = malloc(n);
        if (c)
                p->strings[p->n_strings++] = c;
        return c;
}

void
vs_plan_free(vs_plan *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n_strings; i++)
                free(p->strings[i]);
        free(p->strings);
        free(p->items);
        free(p->heap);
        free(p);
}

static int
plan_push(vs_plan *p, const vs_plan_entry *e)
{
        if (p->n == p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 16;
                vs_plan_entry *items = realloc(p->items, cap * sizeof(*items));

                if (!items)
                        return -ENOMEM;
                p->items = items;
                p->cap = cap;
        }
        p->items[p->n++] = *e;
        return 0;
}

static int
entry_cmp(const void *a, const void *b)
{
        const vs_plan_entry *x = a, *y = b;
        int r;

        if (x->deadline != y->deadline)
                return x->deadline < y->deadline ? -1 : 1;
        if (x->policy_index != y->policy_index)
                return x->policy_index < y->policy_index ? -1 : 1;
        r = strcmp(x->domain, y->domain);
        if (r)
                return r;
        r = strcmp(x->conn, y->conn);
        return r ? r : strcmp(x->uuid, y->uuid);
}

/* The plan's copies of one connection's strings, made on first use: the
 * URI, and per domain "name\0uuid\0". */
typedef struct conn_strings {
        const char *uri;
        const char **domains;
} conn_strings;

static int
add_entries(vs_plan *plan, const vs_plan_input *in, size_t pi, const vs_plan_conn *conn, conn_strings *cs)
{
        const vs_policy *p = &in->cfg->policies[pi];

        for (size_t d = 0; d < conn->domains->n; d++) {
                const vs_domain_info *dom = &conn->domains->items[d];
                vs_plan_entry e = { 0 };
                int r;

                if (!vs_plan_domain_matches(p, dom))
                        continue;
                e.offset = (int32_t)vs_plan_offset(conn->uri, dom->uuid, p->name, p->jitter);
                e.slot = vs_plan_next_slot(p->schedule, in->cfg->tz, e.offset, in->after);
                if (e.slot == INT64_MAX)
                        continue;
                e.deadline = e.slot + e.offset;
                e.policy = p;
                e.policy_index = (uint32_t)pi;
                if (!cs->uri) {
                        size_t lu = strlen(conn->uri) + 1;
                        char *b = plan_alloc(plan, lu);

                        if (!b)
                                return -ENOMEM;
                        cs->uri = memcpy(b, conn->uri, lu);
                }
                if (!cs->domains[d]) {
                        size_t ln = strlen(dom->name) + 1, lu = strnlen(dom->uuid, sizeof(dom->uuid) - 1);
                        char *b = plan_alloc(plan, ln + lu + 1);

                        if (!b)
                                return -ENOMEM;
                        memcpy(b, dom->name, ln);
                        memcpy(b + ln, dom->uuid, lu);
                        b[ln + lu] = '\0';
                        cs->domains[d] = b;
                }
                e.conn = cs->uri;
                e.domain = cs->domains[d];
                e.uuid = cs->domains[d] + strlen(cs->domains[d]) + 1;
                r = plan_push(plan, &e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool
heap_less(const vs_plan *p, size_t a, size_t b)
{
        return entry_cmp(&p->items[p->heap[a]], &p->items[p->heap[b]]) < 0;
}

static void
heap_swap(vs_plan *p, size_t a, size_t b)
{
        size_t t = p->heap[a];

        p->heap[a] = p->heap[b];
        p->heap[b] = t;
}

static void
heap_down(vs_plan *p, size_t i)
{
        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, m = i;

                if (l < p->n && heap_less(p, l, m))
                        m = l;
                if (r < p->n && heap_less(p, r, m))
                        m = r;
                if (m == i)
                        return;
                heap_swap(p, i, m);
                i = m;
        }
}

int
vs_plan_build(const vs_plan_input *in, vs_plan **ret)
{
        vs_plan *plan = calloc(1, sizeof(*plan));
        conn_strings *cs;
        int r;

        if (!plan)
                return -ENOMEM;
        plan->tz = in->cfg->tz;
        cs = calloc(in->n_conns ? in->n_conns : 1, sizeof(*cs));
        if (!cs) {
                vs_plan_free(plan);
                return -ENOMEM;
        }
        r = 0;
        for (size_t c = 0; c < in->n_conns && r == 0; c++)
                if (in->conns[c].domains &&
                    !(cs[c].domains = calloc(in->conns[c].domains->n + 1, sizeof(*cs[c].domains))))
                        r = -ENOMEM;
        for (size_t pi = 0; pi < in->cfg->n_policies && r == 0; pi++) {
                const vs_policy *p = &in->cfg->policies[pi];
                const char *uri = vs_plan_policy_uri(p, in->connect_override);

                if (!p->enabled || (in->only_policy && strcmp(in->only_policy, p->name) != 0))
                        continue;
                for (size_t c = 0; c < in->n_conns && r == 0; c++) {
                        if (!in->conns[c].domains || strcmp(in->conns[c].uri, uri) != 0)
                                continue;
                        r = add_entries(plan, in, pi, &in->conns[c], &cs[c]);
                }
        }
        for (size_t c = 0; c < in->n_conns; c++)
                free(cs[c].domains);
        free(cs);
        if (r < 0) {
                vs_plan_free(plan);
                return r;
        }
        if (plan->n > 1)
                qsort(plan->items, plan->n, sizeof(*plan->items), entry_cmp);
        /* The plan lives until the next reload or domain change: give back
         * what the doubling over-allocated. */
        if (plan->n > 0 && plan->n < plan->cap) {
                vs_plan_entry *items = realloc(plan->items, plan->n * sizeof(*items));

                if (items) {
                        plan->items = items;
                        plan->cap = plan->n;
                }
        }
        /* A sorted array is already a valid min-heap. */
        plan->heap = calloc(plan->n ? plan->n : 1, sizeof(*plan->heap));
        if (!plan->heap) {
                vs_plan_free(plan);
                return -ENOMEM;
        }
        for (size_t i = 0; i < plan->n; i++)
                plan->heap[i] = i;
        *ret = plan;
        return 0;
}

size_t
vs_plan_size(const vs_plan *p)
{
        return p ? p->n : 0;
}

const vs_plan_entry *
vs_plan_entry_at(const vs_plan *p, size_t i)
{
        return p && i < p->n ? &p->items[i] : NULL;
}

int64_t
vs_plan_next_deadline(const vs_plan *p)
{
        return p && p->n > 0 ? p->items[p->heap[0]].deadline : INT64_MAX;
}

bool
vs_plan_pop(vs_plan *p, int64_t now, vs_plan_entry *ret)
{
        vs_plan_entry *e;

        if (!p || p->n == 0 || p->items[p->heap[0]].deadline > now)
                return false;
        e = &p->items[p->heap[0]];
        *ret = *e;
        e->slot = vs_plan_next_slot(e->policy->schedule, p->tz, e->offset, now);
        /* A schedule that never fires again sinks to the bottom for good. */
        e->deadline = e->slot == INT64_MAX ? INT64_MAX : e->slot + e->offset;
        heap_down(p, 0);
        return true;
}
