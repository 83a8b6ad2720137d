/* String forms of the policy enums, as written in policy files and printed
 * by the CLI.  One table per enum, indexed by value. */
#include <string.h>

#include "cleanup.h"
#include "policy.h"

static const char *const snap_type_names[] = {
        [VS_SNAP_INTERNAL] = "internal",
        [VS_SNAP_DISK_ONLY] = "disk-only",
        [VS_SNAP_EXTERNAL] = "external",
};

static const char *const quiesce_names[] = {
        [VS_QUIESCE_OFF] = "off",
        [VS_QUIESCE_PREFERRED] = "preferred",
        [VS_QUIESCE_REQUIRED] = "required",
};

static const char *const state_sel_names[] = {
        [VS_STATE_SEL_ANY] = "any",
        [VS_STATE_SEL_RUNNING] = "running",
        [VS_STATE_SEL_SHUTOFF] = "shutoff",
};

static const char *
to_string(const char *const *names, size_t n, int v)
{
        return v >= 0 && (size_t)v < n ? names[v] : NULL;
}

static int
from_string(const char *const *names, size_t n, const char *s)
{
        for (size_t i = 0; s && i < n; i++)
                if (names[i] && strcmp(names[i], s) == 0)
                        return (int)i;
        return -1;
}

const char *
vs_snap_type_to_string(vs_snap_type v)
{
        return to_string(snap_type_names, VS_ELEMENTSOF(snap_type_names), (int)v);
}

int
vs_snap_type_from_string(const char *s)
{
        return from_string(snap_type_names, VS_ELEMENTSOF(snap_type_names), s);
}

const char *
vs_quiesce_to_string(vs_quiesce v)
{
        return to_string(quiesce_names, VS_ELEMENTSOF(quiesce_names), (int)v);
}

int
vs_quiesce_from_string(const char *s)
{
        return from_string(quiesce_names, VS_ELEMENTSOF(quiesce_names), s);
}

const char *
vs_state_sel_to_string(vs_state_sel v)
{
        return to_string(state_sel_names, VS_ELEMENTSOF(state_sel_names), (int)v);
}

int
vs_state_sel_from_string(const char *s)
{
        return from_string(state_sel_names, VS_ELEMENTSOF(state_sel_names), s);
}
