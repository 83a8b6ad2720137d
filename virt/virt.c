/* The hypervisor-neutral half of virt.h: the vs_virt_* wrappers that dispatch
 * through a backend's ops table, the result structs' destructors, the enum
 * tables, selector matching on a vs_domain_info, and the event watch that
 * carries events from any thread to the libuv loop thread.
 *
 * The watch is a mutex-protected FIFO plus a uv_async_t: producers (libvirt's
 * event thread, a fake) append and uv_async_send; the async callback on the
 * loop thread drains the FIFO and calls the user's function.  The FIFO is
 * bounded; on overflow the dropped events are replaced by one RESYNC event
 * telling the consumer to re-list. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "strv.h"
#include "virt-backend.h"

#define WATCH_QUEUE_MAX 4096

int
vs__virt_init(vs_virt *v, const vs_virt_ops *ops, const char *uri)
{
        v->ops = ops;
        v->uri = strdup(uri ? uri : "");
        return v->uri ? 0 : -ENOMEM;
}

void
vs_virt_free(vs_virt *v)
{
        if (v)
                v->ops->free(v);
}

const char *
vs_virt_uri(const vs_virt *v)
{
        return v->uri;
}

int
vs_virt_list_domains(vs_virt *v, vs_domain_list *ret, vs_err *err)
{
        return v->ops->list_domains(v, 0, ret, err);
}

int
vs_virt_list_domains_flags(vs_virt *v, unsigned flags, vs_domain_list *ret, vs_err *err)
{
        return v->ops->list_domains(v, flags, ret, err);
}

int
vs_virt_create_snapshot(vs_virt *v, const vs_create_request *req, vs_create_result *ret, vs_err *err)
{
        return v->ops->create_snapshot(v, req, ret, err);
}

int
vs_virt_list_snapshots(vs_virt *v, const char *domain, vs_snapshot_tree *ret, vs_err *err)
{
        return v->ops->list_snapshots(v, domain, NULL, 0, ret, err);
}

int
vs_virt_list_snapshots_flags(vs_virt *v, const char *domain, const char *uuid, unsigned flags,
                             vs_snapshot_tree *ret, vs_err *err)
{
        return v->ops->list_snapshots(v, domain, uuid, flags, ret, err);
}

int
vs_virt_revert_snapshot(vs_virt *v, const char *domain, const char *snapshot, vs_domain_state *ret_state,
                        vs_err *err)
{
        if (!v->ops->revert_snapshot)
                return vs_err_set(err, EOPNOTSUPP, v->ops->name, "reverting is not supported");
        return v->ops->revert_snapshot(v, domain, snapshot, ret_state, err);
}

int
vs_virt_delete_snapshots(vs_virt *v, const char *domain, char *const *names, vs_delete_results *ret,
                         vs_err *err)
{
        return v->ops->delete_snapshots(v, domain, NULL, names, ret, err);
}

int
vs_virt_delete_snapshots_in_tree(vs_virt *v, const char *domain, const vs_snapshot_tree *tree,
                                 char *const *names, vs_delete_results *ret, vs_err *err)
{
        return v->ops->delete_snapshots(v, domain, tree, names, ret, err);
}

bool
vs_virt_alive(vs_virt *v)
{
        return v->ops->alive ? v->ops->alive(v) : true;
}

int
vs_virt_reconnect(vs_virt *v, vs_err *err)
{
        return v->ops->reconnect ? v->ops->reconnect(v, err) : 0;
}

uint64_t
vs_virt_reconnect_delay_ms(unsigned attempt)
{
        if (attempt >= 6)
                return 60000;
        return 1000ULL << attempt;
}

void
vs_domain_list_clear(vs_domain_list *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].name);
                vs_strv_free(l->items[i].tags);
        }
        free(l->items);
        l->items = NULL;
        l->n = 0;
}

void
vs_snapshot_tree_clear(vs_snapshot_tree *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->n; i++) {
                vs_snapshot_info *s = &t->items[i];

                free(s->name);
                free(s->parent);
                free(s->state);
                free(s->description);
                free(s->owner_policy);
                vs_strv_free(s->disk_files);
                free(s->memory_file);
        }
        free(t->items);
        t->items = NULL;
        t->n = 0;
        if (t->hold)
                t->hold->release(t->hold);
        t->hold = NULL;
}

void
vs_create_result_clear(vs_create_result *r)
{
        if (!r)
                return;
        free(r->name);
        vs_strv_free(r->disk_files);
        free(r->memory_file);
        vs_snapshot_tree_clear(&r->tree);
        memset(r, 0, sizeof(*r));
}

void
vs_delete_results_clear(vs_delete_results *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->n; i++)
                free(r->items[i].name);
        free(r->items);
        r->items = NULL;
        r->n = 0;
}

bool
vs_domain_matches(const vs_selector *sel, const vs_domain_info *d)
{
        bool active = d->state == VS_DOMAIN_RUNNING || d->state == VS_DOMAIN_PAUSED;

        return vs_selector_match(sel, d->name, d->tags, active);
}

const char *
vs_consistency_to_string(vs_consistency c)
{
        static const char *const table[] = {
                [VS_CONSISTENCY_NONE] = "none",
                [VS_CONSISTENCY_QUIESCED] = "quiesced",
                [VS_CONSISTENCY_CRASH] = "crash-consistent",
                [VS_CONSISTENCY_MEMORY] = "memory",
                [VS_CONSISTENCY_OFFLINE] = "offline",
        };

        return (unsigned)c < VS_ELEMENTSOF(table) ? table[c] : NULL;
}

const char *
vs_delete_outcome_to_string(vs_delete_outcome o)
{
        static const char *const table[] = {
                [VS_DELETE_DELETED] = "deleted",
                [VS_DELETE_DEFERRED] = "deferred",
                [VS_DELETE_UNDELETABLE] = "undeletable",
                [VS_DELETE_FAILED] = "failed",
                [VS_DELETE_REFUSED] = "refused",
                [VS_DELETE_MISSING] = "missing",
        };

        return (unsigned)o < VS_ELEMENTSOF(table) ? table[o] : NULL;
}

const char *
vs_domain_state_to_string(vs_domain_state s)
{
        static const char *const table[] = {
                [VS_DOMAIN_RUNNING] = "running",
                [VS_DOMAIN_PAUSED] = "paused",
                [VS_DOMAIN_SHUTOFF] = "shutoff",
                [VS_DOMAIN_OTHER] = "other",
        };

        return (unsigned)s < VS_ELEMENTSOF(table) ? table[s] : NULL;
}

const char *
vs_virt_event_type_to_string(vs_virt_event_type t)
{
        static const char *const table[] = {
                [VS_VIRT_EVENT_DEFINED] = "defined",
                [VS_VIRT_EVENT_UNDEFINED] = "undefined",
                [VS_VIRT_EVENT_STARTED] = "started",
                [VS_VIRT_EVENT_SUSPENDED] = "suspended",
                [VS_VIRT_EVENT_RESUMED] = "resumed",
                [VS_VIRT_EVENT_STOPPED] = "stopped",
                [VS_VIRT_EVENT_AGENT_CONNECTED] = "agent-connected",
                [VS_VIRT_EVENT_AGENT_DISCONNECTED] = "agent-disconnected",
                [VS_VIRT_EVENT_CONNECTION_CLOSED] = "connection-closed",
                [VS_VIRT_EVENT_RESYNC] = "resync",
        };

        return (unsigned)t < VS_ELEMENTSOF(table) ? table[t] : NULL;
}

/* ---- watch ----------------------------------------------------------------- */

typedef struct queued_event {
        struct queued_event *next;
        vs_virt_event_type type;
        char *domain;
        char *uuid;
        int reason;
} queued_event;

struct vs_virt_watch {
        uv_async_t async;       /* first: the close callback casts back */
        vs_virt *v;
        vs_virt_event_fn fn;
        void *userdata;
        pthread_mutex_t lock;   /* guards everything below */
        queued_event *head, *tail;
        size_t queued;
        bool lost;
        bool stopped;
};

static void
queued_free(queued_event *q)
{
        while (q) {
                queued_event *next = q->next;

                free(q->domain);
                free(q->uuid);
                free(q);
                q = next;
        }
}

static void
watch_async_cb(uv_async_t *h)
{
        vs_virt_watch *w = (vs_virt_watch *)h;
        queued_event *q;
        bool lost;

        pthread_mutex_lock(&w->lock);
        q = w->head;
        lost = w->lost;
        w->head = w->tail = NULL;
        w->queued = 0;
        w->lost = false;
        pthread_mutex_unlock(&w->lock);

        for (queued_event *e = q; e; e = e->next) {
                vs_virt_event ev = {
                        .type = e->type, .domain = e->domain, .uuid = e->uuid, .reason = e->reason
                };

                if (w->stopped) /* the callback may stop the watch */
                        break;
                w->fn(&ev, w->userdata);
        }
        queued_free(q);
        if (lost && !w->stopped) {
                vs_virt_event ev = { .type = VS_VIRT_EVENT_RESYNC };

                w->fn(&ev, w->userdata);
        }
}

void
vs__virt_watch_post(vs_virt_watch *w, vs_virt_event_type type, const char *domain, const char *uuid,
                    int reason)
{
        queued_event *q;

        pthread_mutex_lock(&w->lock);
        if (w->stopped)
                goto out;
        if (w->queued >= WATCH_QUEUE_MAX) {
                w->lost = true;
                goto send;
        }
        q = calloc(1, sizeof(*q));
        if (!q || (domain && !(q->domain = strdup(domain))) || (uuid && !(q->uuid = strdup(uuid)))) {
                queued_free(q);
                w->lost = true;
                goto send;
        }
        q->type = type;
        q->reason = reason;
        if (w->tail)
                w->tail->next = q;
        else
                w->head = q;
        w->tail = q;
        w->queued++;
send:
        /* Under the lock, so stop cannot close the handle in between. */
        uv_async_send(&w->async);
out:
        pthread_mutex_unlock(&w->lock);
}

static void
watch_close_cb(uv_handle_t *h)
{
        vs_virt_watch *w = (vs_virt_watch *)h;

        pthread_mutex_destroy(&w->lock);
        queued_free(w->head);
        free(w);
}

int
vs_virt_watch_start(vs_virt *v, uv_loop_t *loop, vs_virt_event_fn fn, void *userdata,
                    vs_virt_watch **ret, vs_err *err)
{
        vs_virt_watch *w;
        int r;

        if (!v->ops->watch)
                return vs_err_set(err, ENOTSUP, "virt", "backend %s delivers no events", v->ops->name);
        w = calloc(1, sizeof(*w));
        if (!w)
                return vs_err_set(err, ENOMEM, "virt", "out of memory");
        w->v = v;
        w->fn = fn;
        w->userdata = userdata;
        r = pthread_mutex_init(&w->lock, NULL);
        if (r != 0) {
                free(w);
                return vs_err_set(err, r, "virt", "pthread_mutex_init failed");
        }
        r = uv_async_init(loop, &w->async, watch_async_cb);
        if (r < 0) {
                pthread_mutex_destroy(&w->lock);
                free(w);
                return vs_err_set(err, -r, "virt", "uv_async_init: %s", uv_strerror(r));
        }
        r = v->ops->watch(v, w, err);
        if (r < 0) {
                /* The handle's memory must live until libuv has closed it. */
                w->stopped = true;
                uv_close((uv_handle_t *)&w->async, watch_close_cb);
                return r;
        }
        *ret = w;
        return 0;
}

void
vs_virt_watch_stop(vs_virt_watch *w)
{
        if (!w)
                return;
        if (w->v && w->v->ops->unwatch)
                w->v->ops->unwatch(w->v, w);
        w->v = NULL;
        pthread_mutex_lock(&w->lock);
        w->stopped = true;
        pthread_mutex_unlock(&w->lock);
        if (!uv_is_closing((uv_handle_t *)&w->async))
                uv_close((uv_handle_t *)&w->async, watch_close_cb);
}
