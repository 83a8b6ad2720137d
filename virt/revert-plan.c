/* Whether libvirt 9.0 can revert a domain to a snapshot, judged from the
 * snapshot tree alone (see virt.h, vs_virt_revert_check).  Pure.
 *
 * What libvirt 9.0 does: virDomainRevertToSnapshot reverts to an internal
 * snapshot (QEMU loads it from the image that holds it).  It refuses an
 * external one ("revert to external snapshot not supported yet"; support
 * came with libvirt 9.9).  An internal snapshot taken before an external
 * one lives in an image that is no longer the active layer: QEMU cannot
 * find it there, so that revert fails too, after libvirt has stopped the
 * guest.  virtsnap refuses both before anything is done. */
#include <stdio.h>
#include <string.h>

#include "virt.h"

static const vs_snapshot_info *
find(const vs_snapshot_tree *t, const char *name)
{
        for (size_t i = 0; name && i < t->n; i++)
                if (t->items[i].name && strcmp(t->items[i].name, name) == 0)
                        return &t->items[i];
        return NULL;
}

/* Is a an ancestor of b (or b itself)? */
static bool
descends(const vs_snapshot_tree *t, const vs_snapshot_info *a, const vs_snapshot_info *b)
{
        for (size_t hops = 0; b && hops <= t->n; hops++) {
                if (b == a)
                        return true;
                b = find(t, b->parent);
        }
        return false;
}

int
vs_virt_revert_check(const vs_snapshot_tree *t, const char *target, const char **ret_current, char *why,
                     size_t len)
{
        const vs_snapshot_info *s = find(t, target), *cur = NULL;

        for (size_t i = 0; i < t->n; i++)
                if (t->items[i].current)
                        cur = &t->items[i];
        if (ret_current)
                *ret_current = cur ? cur->name : NULL;
        if (!s) {
                snprintf(why, len, "no snapshot '%s'", target);
                return -1;
        }
        if (s->external) {
                snprintf(why, len,
                         "'%s' is an external snapshot (%s): libvirt 9.0 cannot revert to external snapshots "
                         "(libvirt 9.9 can); nothing was done",
                         target, s->has_memory ? "memory and disks" : "disks only");
                return -1;
        }
        /* Any external snapshot below it moved the disks onto an overlay. */
        for (size_t i = 0; i < t->n; i++) {
                const vs_snapshot_info *o = &t->items[i];

                if (o != s && o->external && descends(t, s, o)) {
                        snprintf(why, len,
                                 "external snapshot '%s' was taken after '%s': the disks now run on its overlay, "
                                 "where libvirt 9.0 cannot find the internal snapshot; nothing was done",
                                 o->name, target);
                        return -1;
                }
        }
        return 0;
}
