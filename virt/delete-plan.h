/* The deletion planner, internal to virt/: a pure function from (snapshot
 * tree, names to remove, is the domain active?) to the ordered libvirt calls
 * that remove them safely, plus the outcomes that are known before any call
 * (refused, deferred, undeletable, missing).  It encodes what libvirt 9.0 +
 * QEMU 7.2 accept (see ../shared/notes/libvirt-on-this-machine.md):
 *   - foreign snapshots (no ownership marker) are never touched;
 *   - internal: a requested snapshot whose whole subtree is requested, owned
 *     and internal goes in one call with DELETE_CHILDREN on the subtree's
 *     root; otherwise one call per snapshot (libvirt re-parents children);
 *   - external: one call per snapshot, never CHILDREN, never METADATA_ONLY;
 *     active domain: oldest first; shut-off domain: only a snapshot without
 *     children (the top of the chain) can go, so delete from the top while
 *     that holds and report the rest deferred;
 *   - mixed chains libvirt refuses are undeletable: an external snapshot
 *     whose parent is internal, an external snapshot with an internal
 *     descendant (its overlay holds that snapshot's data), and, on an active
 *     domain, an internal snapshot with an external descendant (its image is
 *     no longer the one in use).
 * The executor in virt-libvirt.c runs the steps and turns libvirt's answers
 * into the final per-snapshot results. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "virt.h"

#define VS_PLAN_NONE ((size_t)-1)

/* One libvirt call: virDomainSnapshotDelete(tree[snap], children ? CHILDREN : 0). */
typedef struct vs_delete_step {
        size_t snap;            /* index into the tree */
        bool children;
        size_t depends_on;      /* step that must succeed first, or VS_PLAN_NONE */
} vs_delete_step;

/* One requested name, in request order (duplicates dropped). */
typedef struct vs_delete_entry {
        const char *name;       /* points into the request */
        size_t snap;            /* index into the tree, or VS_PLAN_NONE when missing */
        size_t step;            /* the call that removes it, or VS_PLAN_NONE */
        vs_delete_outcome outcome; /* DELETED = planned (pending the call) */
        char reason[256];       /* for refused/deferred/undeletable/missing */
} vs_delete_entry;

typedef struct vs_delete_plan {
        vs_delete_step *steps;
        size_t n_steps;
        vs_delete_entry *entries;
        size_t n_entries;
} vs_delete_plan;

/* 0 or -ENOMEM.  `names` is NULL-terminated and must outlive the plan. */
int vs__delete_plan_build(const vs_snapshot_tree *tree, char *const *names, bool active,
                          vs_delete_plan *ret);
void vs__delete_plan_clear(vs_delete_plan *p);

/* Whether libvirt's message for a failed virDomainSnapshotDelete says the
 * snapshot can no longer be deleted by libvirt at all, rather than now: in
 * libvirt 9.0 an external snapshot whose deletion (a block commit) was cut
 * short by libvirtd stopping is marked as the target of an unfinished
 * delete and refused from then on ("... was target of not completed
 * snapshot delete"), and the snapshots of the same disk chain fail in
 * QEMU's block-commit ("... is not in this backing file chain") because
 * libvirt's view of the chain no longer matches QEMU's.  Neither clears by
 * retrying; an admin has to repair the chain (README: What libvirt cannot
 * do).  Pure: a match on libvirt's and QEMU's wording, which has no error
 * code of its own. */
bool vs__delete_failure_is_permanent(const char *libvirt_msg);
