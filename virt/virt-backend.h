/* For implementers of vs_virt only: the operations table behind virt.h.
 * libvirt keeps each hypervisor behind such a table (driver-hypervisor.h);
 * virtsnap has two: virt-libvirt.c and the fault-injecting fake in
 * tests/fakes/.  Callers use the vs_virt_* wrappers in virt.h. */
#pragma once

#include "virt.h"

typedef struct vs_virt_ops {
        const char *name;
        /* flags: VS_LIST_DOMAINS_* (a backend may ignore them). */
        int (*list_domains)(vs_virt *v, unsigned flags, vs_domain_list *ret, vs_err *err);
        int (*create_snapshot)(vs_virt *v, const vs_create_request *req, vs_create_result *ret,
                               vs_err *err);
        /* uuid: NULL = by name; flags: VS_LIST_SNAPSHOTS_* (a backend
         * may ignore them). */
        int (*list_snapshots)(vs_virt *v, const char *domain, const char *uuid, unsigned flags,
                              vs_snapshot_tree *ret, vs_err *err);
        /* tree: the domain's current tree as the caller knows it, or NULL
         * (list it); a backend may ignore it. */
        int (*delete_snapshots)(vs_virt *v, const char *domain, const vs_snapshot_tree *tree,
                                char *const *names, vs_delete_results *ret, vs_err *err);
        /* NULL: reverting is not supported (-EOPNOTSUPP). */
        int (*revert_snapshot)(vs_virt *v, const char *domain, const char *snapshot, vs_domain_state *ret_state,
                               vs_err *err);
        void (*free)(vs_virt *v);
        /* Optional (NULL: always alive / nothing to do / no events). */
        bool (*alive)(vs_virt *v);
        int (*reconnect)(vs_virt *v, vs_err *err);
        /* Start posting events to w with vs__virt_watch_post; unwatch stops
         * it before returning (no post may follow). */
        int (*watch)(vs_virt *v, vs_virt_watch *w, vs_err *err);
        void (*unwatch)(vs_virt *v, vs_virt_watch *w);
} vs_virt_ops;

/* A backend's vs_tree_hold starts with this header; vs_snapshot_tree_clear
 * calls release, which frees the whole hold. */
struct vs_tree_hold {
        void (*release)(vs_tree_hold *h);
};

/* Every backend's object starts with this header.  vs_virt_free calls
 * ops->free, which frees the whole object, uri included. */
struct vs_virt {
        const vs_virt_ops *ops;
        char *uri;
};

/* Queue an event for w's callback; any thread (it only locks a mutex and
 * calls uv_async_send).  domain/uuid are copied; NULL for connection events. */
void vs__virt_watch_post(vs_virt_watch *w, vs_virt_event_type type, const char *domain,
                         const char *uuid, int reason);

/* Fill the common header; 0 or -ENOMEM. */
int vs__virt_init(vs_virt *v, const vs_virt_ops *ops, const char *uri);
