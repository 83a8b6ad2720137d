/* Static overlap of policy selectors (overlap.h). */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "overlap.h"
#include "strv.h"

bool
vs_snap_types_mix(vs_snap_type a, vs_snap_type b)
{
        return (a == VS_SNAP_INTERNAL) != (b == VS_SNAP_INTERNAL);
}

static bool
is_glob(const char *s)
{
        return strpbrk(s, "*?[") != NULL;
}

static bool
excluded(const vs_selector *sel, const char *name)
{
        for (size_t i = 0; sel->exclude && sel->exclude[i]; i++)
                if (fnmatch(sel->exclude[i], name, 0) == 0)
                        return true;
        return false;
}

/* Does sel's include list (NULL: every domain) admit name? */
static bool
includes(const vs_selector *sel, const char *name)
{
        if (!sel->include)
                return true;
        for (size_t i = 0; sel->include[i]; i++)
                if (fnmatch(sel->include[i], name, 0) == 0)
                        return true;
        return false;
}

/* Two patterns can match one name unless their literal prefixes (up to the
 * first glob character) disagree. */
static bool
patterns_may_meet(const char *x, const char *y)
{
        size_t i = 0;

        while (x[i] && y[i] && !strchr("*?[", x[i]) && !strchr("*?[", y[i])) {
                if (x[i] != y[i])
                        return false;
                i++;
        }
        /* One literal ended: it is a full name only if nothing follows. */
        if (!x[i] && !is_glob(y))
                return !y[i];
        if (!y[i] && !is_glob(x))
                return !x[i];
        return true;
}

/* A literal name both select for certain, or NULL. */
static const char *
certain_name(const vs_selector *a, const vs_selector *b)
{
        const vs_selector *sel[2] = { a, b };

        for (int k = 0; k < 2; k++) {
                const vs_selector *s = sel[k], *o = sel[1 - k];

                for (size_t i = 0; s->include && s->include[i]; i++) {
                        const char *n = s->include[i];

                        if (!is_glob(n) && includes(o, n) && !excluded(a, n) && !excluded(b, n))
                                return n;
                }
        }
        return NULL;
}

/* A pattern both include word for word (neither excludes anything): every
 * domain it matches is selected by both. */
static const char *
shared_pattern(const vs_selector *a, const vs_selector *b)
{
        if (a->exclude || b->exclude)
                return NULL;
        for (size_t i = 0; a->include && a->include[i]; i++)
                if (vs_strv_contains(b->include, a->include[i]))
                        return a->include[i];
        return NULL;
}

static bool
includes_may_meet(const vs_selector *a, const vs_selector *b)
{
        if (!a->include || !b->include)
                return true;
        for (size_t i = 0; a->include[i]; i++)
                for (size_t j = 0; b->include[j]; j++)
                        if (patterns_may_meet(a->include[i], b->include[j]))
                                return true;
        return false;
}

/* 1 definite, 0 possible, -1 disjoint; why filled for 0 and 1. */
static int
judge(const vs_policy *pa, const vs_policy *pb, char *why, size_t len)
{
        const vs_selector *a = &pa->domains, *b = &pb->domains;
        bool states_differ = a->state != VS_STATE_SEL_ANY && b->state != VS_STATE_SEL_ANY && a->state != b->state;
        const char *name = certain_name(a, b);

        if (!name && !includes_may_meet(a, b))
                return -1;
        if (a->tags || b->tags) {
                snprintf(why, len, "may both select a domain (tags are in libvirt, not in the file)");
                return 0;
        }
        if (states_differ) {
                snprintf(why, len, "may both select a domain that is running at one time and shut off at another");
                return 0;
        }
        if (name) {
                snprintf(why, len, "both select domain '%s'", name);
                return 1;
        }
        if (shared_pattern(a, b)) {
                snprintf(why, len, "both select the domains matching '%s'", shared_pattern(a, b));
                return 1;
        }
        if (!a->include && !b->include && !a->exclude && !b->exclude) {
                snprintf(why, len, "both select every domain");
                return 1;
        }
        snprintf(why, len, "may both select a domain (their name patterns overlap)");
        return 0;
}

int
vs_config_overlaps(const vs_config *cfg, vs_overlap **ret, size_t *ret_n)
{
        vs_overlap *out = NULL;
        size_t n = 0, cap = 0;

        for (size_t i = 0; i < cfg->n_policies; i++)
                for (size_t j = i + 1; j < cfg->n_policies; j++) {
                        const vs_policy *a = &cfg->policies[i], *b = &cfg->policies[j];
                        char why[256];
                        int v;

                        if (!a->enabled || !b->enabled || strcmp(a->connection, b->connection) != 0 ||
                            !vs_snap_types_mix(a->snapshot.type, b->snapshot.type))
                                continue;
                        v = judge(a, b, why, sizeof(why));
                        if (v < 0)
                                continue;
                        if (n == cap) {
                                size_t ncap = cap ? 2 * cap : 4;
                                vs_overlap *no = realloc(out, ncap * sizeof(*no));

                                if (!no) {
                                        free(out);
                                        return -ENOMEM;
                                }
                                out = no;
                                cap = ncap;
                        }
                        out[n] = (vs_overlap){ .a = a, .b = b, .definite = v == 1 };
                        snprintf(out[n].why, sizeof(out[n].why), "%s", why);
                        n++;
                }
        *ret = out;
        *ret_n = n;
        return 0;
}
