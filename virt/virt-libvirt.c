/* The libvirt backend of vs_virt: one virConnectPtr shared by the loop
 * thread and workers, domains with their virtsnap tags, snapshot creation
 * (names and overlay paths made unique, quiesce bounded and optionally
 * retried without), snapshot listing, and deletion planned by delete-plan.c
 * and executed one libvirt call at a time.
 *
 * Errors: libvirt keeps the last error per thread; every failing call copies
 * it at once into the caller's vs_err with its code and domain, and classifies
 * it as transient (the link is gone, the domain's job lock timed out, the
 * guest agent did not answer) or permanent.
 *
 * Connection lifecycle:
 *
 *     open --> ALIVE --(close callback / call fails, link gone)--> DEAD
 *                ^                                                  |
 *                +------------- vs_virt_reconnect succeeds ---------+
 *
 * Reconnect swaps in a new virConnectPtr under the lock; calls in flight keep
 * their own reference to the old one (virConnectRef) and fail on their own.
 * Domain event callbacks registered with libvirt hold a reference to the
 * object, dropped by libvirt's free callback, so the object outlives them;
 * the close callback is unregistered before the object goes.
 *
 * Built, with virt-events.c, into the loadable module virtsnap-libvirt.so
 * (virt-module.h), so that only commands that need a hypervisor load
 * libvirt. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "cleanup.h"
#include "delete-plan.h"
#include "snapshot-xml.h"
#include "strv.h"
#include "virt-backend.h"
#include "virt-module.h"
#include "vs-config.h"

#define VS_METADATA_URI "urn:virtsnap:1"
#define AGENT_TIMEOUT_MAX 30    /* seconds; the agent holds the domain's job meanwhile */
#define NAME_TRIES 1000
#define KEEPALIVE_INTERVAL 5
#define KEEPALIVE_COUNT 3

typedef struct vs_libvirt {
        vs_virt base;
        atomic_int refs;
        atomic_bool dead;
        pthread_mutex_t lock;           /* conn, watch */
        pthread_mutex_t watch_lock;     /* serialises (un)registration and reconnect */
        virConnectPtr conn;
        bool local;                     /* files named in XML live on this host */
        vs_virt_watch *watch;
        virConnectPtr cb_conn;          /* the connection the event callbacks live on */
        int cb_lifecycle, cb_agent;
        /* The handles of the last listing (under lock), sorted by UUID, so
         * that a call on a listed domain needs no lookup: libvirt finds a
         * domain handle by its UUID on every call, as a lookup would.
         * Only for doms_conn (a reconnect makes them stale). */
        struct lv_dom *doms;
        size_t n_doms;
        virConnectPtr doms_conn;
} vs_libvirt;

typedef struct lv_dom {
        char uuid[VIR_UUID_STRING_BUFLEN];
        virDomainPtr d;
} lv_dom;

static void
doms_free(lv_dom *doms, size_t n)
{
        for (size_t i = 0; i < n; i++)
                virDomainFree(doms[i].d);
        free(doms);
}

static int
cmp_lv_dom(const void *a, const void *b)
{
        return strcmp(((const lv_dom *)a)->uuid, ((const lv_dom *)b)->uuid);
}

/* Replace the cache with doms (taken over) listed on c. */
static void
doms_set(vs_libvirt *lv, virConnectPtr c, lv_dom *doms, size_t n)
{
        lv_dom *old;
        size_t n_old;

        qsort(doms, n, sizeof(*doms), cmp_lv_dom);
        pthread_mutex_lock(&lv->lock);
        old = lv->doms;
        n_old = lv->n_doms;
        lv->doms = doms;
        lv->n_doms = n;
        lv->doms_conn = c;
        pthread_mutex_unlock(&lv->lock);
        doms_free(old, n_old);
}

static void
doms_drop(vs_libvirt *lv)
{
        lv_dom *old;
        size_t n_old;

        pthread_mutex_lock(&lv->lock);
        old = lv->doms;
        n_old = lv->n_doms;
        lv->doms = NULL;
        lv->n_doms = 0;
        lv->doms_conn = NULL;
        pthread_mutex_unlock(&lv->lock);
        doms_free(old, n_old);
}

/* A new reference to listed domain uuid on c, or NULL. */
static virDomainPtr
doms_find(vs_libvirt *lv, virConnectPtr c, const char *uuid)
{
        lv_dom key = { 0 }, *hit = NULL;
        virDomainPtr d = NULL;

        if (strlen(uuid) >= sizeof(key.uuid))
                return NULL;
        strcpy(key.uuid, uuid);
        pthread_mutex_lock(&lv->lock);
        if (lv->doms_conn == c)
                hit = bsearch(&key, lv->doms, lv->n_doms, sizeof(*lv->doms), cmp_lv_dom);
        if (hit && virDomainRef(hit->d) == 0)
                d = hit->d;
        pthread_mutex_unlock(&lv->lock);
        return d;
}

static vs_libvirt *
lv_of(vs_virt *v)
{
        return (vs_libvirt *)v;
}

static void
silent_error(void *userdata, virErrorPtr error)
{
        (void)userdata;
        (void)error;
}

static void
lv_ref(vs_libvirt *lv)
{
        atomic_fetch_add(&lv->refs, 1);
}

static void
lv_unref(void *opaque)
{
        vs_libvirt *lv = opaque;

        if (atomic_fetch_sub(&lv->refs, 1) != 1)
                return;
        pthread_mutex_destroy(&lv->lock);
        pthread_mutex_destroy(&lv->watch_lock);
        free(lv->base.uri);
        free(lv);
}

/* A reference to the current connection; release with virConnectClose. */
static virConnectPtr
conn_get(vs_libvirt *lv)
{
        virConnectPtr c;

        pthread_mutex_lock(&lv->lock);
        c = lv->conn;
        if (c)
                virConnectRef(c);
        pthread_mutex_unlock(&lv->lock);
        return c;
}

static void
conn_freep(virConnectPtr *c)
{
        if (*c)
                virConnectClose(*c);
}

static void
dom_freep(virDomainPtr *d)
{
        if (*d)
                virDomainFree(*d);
}

static void
snap_freep(virDomainSnapshotPtr *s)
{
        if (*s)
                virDomainSnapshotFree(*s);
}

#define _cleanup_conn_ _cleanup_(conn_freep)
#define _cleanup_dom_ _cleanup_(dom_freep)
#define _cleanup_snap_ _cleanup_(snap_freep)

static bool
is_transient(int code, int domain)
{
        switch (code) {
        case VIR_ERR_NO_CONNECT:
        case VIR_ERR_OPERATION_TIMEOUT:
        case VIR_ERR_AGENT_UNRESPONSIVE:
                return true;
        case VIR_ERR_INTERNAL_ERROR:
        case VIR_ERR_SYSTEM_ERROR:
                return domain == VIR_FROM_RPC;
        default:
                return false;
        }
}

static int
errno_for(int code, bool transient)
{
        switch (code) {
        case VIR_ERR_NO_DOMAIN:
        case VIR_ERR_NO_DOMAIN_SNAPSHOT:
                return ENOENT;
        case VIR_ERR_OPERATION_TIMEOUT:
                return ETIMEDOUT;
        case VIR_ERR_AGENT_UNRESPONSIVE:
                return EAGAIN;
        case VIR_ERR_NO_CONNECT:
                return ECONNREFUSED;
        case VIR_ERR_INVALID_ARG:
        case VIR_ERR_OPERATION_INVALID:
        case VIR_ERR_XML_ERROR:
                return EINVAL;
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_CONFIG_UNSUPPORTED:
        case VIR_ERR_ARGUMENT_UNSUPPORTED:
        case VIR_ERR_OPERATION_UNSUPPORTED:
                return EOPNOTSUPP;
        default:
                return transient ? ECONNRESET : EIO;
        }
}

/* Copy this thread's libvirt error into err and classify it.  When the
 * connection turns out to be gone, the object is marked dead so the
 * scheduler reconnects. */
static int lv_fail(vs_libvirt *lv, virConnectPtr c, vs_err *err, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int
lv_fail(vs_libvirt *lv, virConnectPtr c, vs_err *err, const char *fmt, ...)
{
        virError e = { 0 };
        char ctx[256];
        bool transient, gone = false;
        int errnum;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(ctx, sizeof(ctx), fmt, ap);
        va_end(ap);
        if (virCopyLastError(&e) < 0 || e.code == VIR_ERR_OK) {
                e.code = VIR_ERR_INTERNAL_ERROR;
                e.domain = VIR_FROM_NONE;
        }
        transient = is_transient(e.code, e.domain);
        if (c && virConnectIsAlive(c) == 0)
                gone = transient = true;
        if (gone || (transient && (e.domain == VIR_FROM_RPC || e.code == VIR_ERR_NO_CONNECT)))
                atomic_store(&lv->dead, true);
        errnum = errno_for(e.code, transient);
        vs_err_set(err, errnum, "libvirt", "%s: %s", ctx, e.message ? e.message : "unknown libvirt error");
        if (err) {
                err->code = e.code;
                err->domain = e.domain;
                err->transient = transient;
        }
        virResetError(&e);
        virResetLastError();
        return -errnum;
}

static int
lookup_domain(vs_libvirt *lv, virConnectPtr c, const char *name, virDomainPtr *ret, vs_err *err)
{
        virDomainPtr d = virDomainLookupByName(c, name);

        if (!d)
                return lv_fail(lv, c, err, "domain %s", name);
        *ret = d;
        return 0;
}

/* By UUID when the caller knows it: the domain it listed, not whichever
 * now bears the name. */
static int
lookup_domain_id(vs_libvirt *lv, virConnectPtr c, const char *name, const char *uuid, virDomainPtr *ret,
                 vs_err *err)
{
        virDomainPtr d;

        if (!uuid)
                return lookup_domain(lv, c, name, ret, err);
        d = doms_find(lv, c, uuid);
        if (d) {
                *ret = d;
                return 0;
        }
        d = virDomainLookupByUUIDString(c, uuid);
        if (!d)
                return lv_fail(lv, c, err, "domain %s", name);
        *ret = d;
        return 0;
}

/* ---- domains ---------------------------------------------------------------- */

static vs_domain_state
map_state(int s)
{
        switch (s) {
        case VIR_DOMAIN_RUNNING:
        case VIR_DOMAIN_BLOCKED:
                return VS_DOMAIN_RUNNING;
        case VIR_DOMAIN_PAUSED:
        case VIR_DOMAIN_PMSUSPENDED:
                return VS_DOMAIN_PAUSED;
        case VIR_DOMAIN_SHUTOFF:
        case VIR_DOMAIN_CRASHED:
                return VS_DOMAIN_SHUTOFF;
        default:
                return VS_DOMAIN_OTHER;
        }
}

static int
domain_tags(vs_libvirt *lv, virConnectPtr c, virDomainPtr d, char ***ret, vs_err *err)
{
        _cleanup_free_ char *xml = NULL;
        vs_err perr = { 0 };

        *ret = NULL;
        xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VS_METADATA_URI, 0);
        if (!xml) {
                virErrorPtr e = virGetLastError();

                if (e && e->code == VIR_ERR_NO_DOMAIN_METADATA) {
                        virResetLastError();
                        return 0;
                }
                return lv_fail(lv, c, err, "metadata of domain %s", virDomainGetName(d));
        }
        /* Malformed virtsnap metadata counts as no tags: one domain's bad
         * element must not hide every other domain. */
        if (vs__tags_xml_parse(xml, ret, &perr) == -ENOMEM)
                return vs_err_set(err, ENOMEM, "virt", "out of memory");
        return 0;
}

static int
cmp_domain(const void *a, const void *b)
{
        return strcmp(((const vs_domain_info *)a)->name, ((const vs_domain_info *)b)->name);
}

/* The UUIDs of the transient domains (one listing, not a question per
 * domain). */
static int
transient_uuids(vs_libvirt *lv, virConnectPtr c, char ***ret, vs_err *err)
{
        virDomainPtr *doms = NULL;
        char **uuids = NULL;
        int n, r = 0;

        n = virConnectListAllDomains(c, &doms, VIR_CONNECT_LIST_DOMAINS_TRANSIENT);
        if (n < 0)
                return lv_fail(lv, c, err, "listing transient domains");
        for (int i = 0; i < n; i++) {
                char u[VIR_UUID_STRING_BUFLEN];

                if (r == 0 && virDomainGetUUIDString(doms[i], u) == 0 && vs_strv_push(&uuids, u) < 0)
                        r = vs_err_set(err, ENOMEM, "virt", "out of memory");
                virDomainFree(doms[i]);
        }
        free(doms);
        if (r < 0) {
                vs_strv_free(uuids);
                return r;
        }
        *ret = uuids;
        return 0;
}

/* Every domain with its state in one call (the state group of the bulk
 * statistics: no monitor, no job), the transient ones in a second, and each
 * one's virtsnap metadata unless flags say no policy needs tags: over a
 * remote connection that is two round trips, or one per domain more for the
 * tags, instead of four per domain.  A driver without the bulk call gets a
 * question per domain. */
static int
lv_list_domains(vs_virt *v, unsigned flags, vs_domain_list *ret, vs_err *err)
{
        vs_libvirt *lv = lv_of(v);
        _cleanup_conn_ virConnectPtr c = conn_get(lv);
        virDomainStatsRecordPtr *recs = NULL;
        virDomainPtr *doms = NULL;
        char **transient = NULL;
        vs_domain_list out = { 0 };
        lv_dom *keep = NULL;
        size_t n_keep = 0;
        int n, r = 0;

        if (!c)
                return vs_err_set(err, ENOTCONN, "libvirt", "not connected");
        n = virConnectGetAllDomainStats(c, VIR_DOMAIN_STATS_STATE, &recs, 0);
        if (n < 0) {
                virErrorPtr e = virGetLastError();

                if (!e || e->code != VIR_ERR_NO_SUPPORT)
                        return lv_fail(lv, c, err, "listing domains");
                virResetLastError();
                n = virConnectListAllDomains(c, &doms, 0);
                if (n < 0)
                        return lv_fail(lv, c, err, "listing domains");
        }
        r = transient_uuids(lv, c, &transient, err);
        if (r < 0)
                goto out;
        out.items = calloc((size_t)n + 1, sizeof(vs_domain_info));
        keep = calloc((size_t)n + 1, sizeof(*keep));
        if (!out.items || !keep) {
                r = vs_err_set(err, ENOMEM, "virt", "out of memory");
                goto out;
        }
        for (int i = 0; i < n; i++) {
                virDomainPtr d = recs ? recs[i]->dom : doms[i];
                vs_domain_info *di = &out.items[out.n];
                int state = VIR_DOMAIN_NOSTATE, reason;
                const char *name = virDomainGetName(d);

                if (recs) {
                        if (virTypedParamsGetInt(recs[i]->params, recs[i]->nparams, "state.state", &state) < 0)
                                state = VIR_DOMAIN_NOSTATE;
                } else if (virDomainGetState(d, &state, &reason, 0) < 0) {
                        virErrorPtr e = virGetLastError();

                        /* Undefined since the listing: not an error. */
                        if (e && e->code == VIR_ERR_NO_DOMAIN) {
                                virResetLastError();
                                continue;
                        }
                        r = lv_fail(lv, c, err, "domain %s", name ? name : "?");
                        goto out;
                }
                if (virDomainGetUUIDString(d, di->uuid) < 0) {
                        r = lv_fail(lv, c, err, "domain %s", name ? name : "?");
                        goto out;
                }
                di->name = strdup(name ? name : "");
                if (!di->name) {
                        r = vs_err_set(err, ENOMEM, "virt", "out of memory");
                        goto out;
                }
                di->state = map_state(state);
                di->persistent = !vs_strv_contains(transient, di->uuid);
                if (!(flags & VS_LIST_DOMAINS_NO_TAGS)) {
                        r = domain_tags(lv, c, d, &di->tags, err);
                        if (r == -ENOENT) {
                                /* Undefined since the listing. */
                                free(di->name);
                                memset(di, 0, sizeof(*di));
                                r = 0;
                                continue;
                        }
                        if (r < 0) {
                                free(di->name);
                                memset(di, 0, sizeof(*di));
                                goto out;
                        }
                }
                out.n++;
                if (virDomainRef(d) == 0) {
                        memcpy(keep[n_keep].uuid, di->uuid, sizeof(keep[n_keep].uuid));
                        keep[n_keep++].d = d;
                }
        }
        qsort(out.items, out.n, sizeof(vs_domain_info), cmp_domain);
        doms_set(lv, c, TAKE_PTR(keep), n_keep);
        n_keep = 0;
out:
        doms_free(keep, n_keep);
        vs_strv_free(transient);
        if (recs)
                virDomainStatsRecordListFree(recs);
        for (int i = 0; doms && i < n; i++)
                virDomainFree(doms[i]);
        free(doms);
        if (r < 0) {
                vs_domain_list_clear(&out);
                return r;
        }
        *ret = out;
        return 0;
}

/* ---- snapshots: listing ---------------------------------------------------------- */

static void
mark_current(vs_snapshot_tree *t, const char *name)
{
        for (size_t i = 0; i < t->n; i++)
                t->items[i].current = name && t->items[i].name && strcmp(t->items[i].name, name) == 0;
}

/* The handles a listing keeps for the call after it (vs_tree_hold): the
 * domain, the connection it came from (a hold from before a reconnect is
 * not used), each item's snapshot, and whether the domain was active when
 * they were taken. */
typedef struct lv_hold {
        vs_tree_hold base;
        virConnectPtr conn;
        virDomainPtr dom;
        virDomainSnapshotPtr *snaps;    /* parallel to the tree's items */
        size_t n, cap;
        bool active;
} lv_hold;

static void
lv_hold_release(vs_tree_hold *h)
{
        lv_hold *lh = (lv_hold *)h;

        for (size_t i = 0; i < lh->n; i++)
                if (lh->snaps[i])
                        virDomainSnapshotFree(lh->snaps[i]);
        free(lh->snaps);
        if (lh->dom)
                virDomainFree(lh->dom);
        if (lh->conn)
                virConnectClose(lh->conn);
        free(lh);
}

static lv_hold *
hold_new(virConnectPtr c, virDomainPtr d, size_t cap)
{
        lv_hold *h = calloc(1, sizeof(*h));

        if (!h)
                return NULL;
        h->snaps = calloc(cap + 1, sizeof(*h->snaps));
        if (!h->snaps) {
                free(h);
                return NULL;
        }
        h->base.release = lv_hold_release;
        h->cap = cap + 1;
        virConnectRef(c);
        h->conn = c;
        virDomainRef(d);
        h->dom = d;
        return h;
}

/* t's hold if it is this backend's, taken on connection c. */
static lv_hold *
hold_of(const vs_snapshot_tree *t, virConnectPtr c)
{
        lv_hold *h = t && t->hold && t->hold->release == lv_hold_release ? (lv_hold *)t->hold : NULL;

        return h && h->conn == c && h->n == t->n ? h : NULL;
}

/* want_current: ask which snapshot is current (one more call; the delete
 * planner does not need it, revert and the listing commands do).
 * want_hold: keep the handles in ret->hold for a later create or delete. */
static int
list_tree(vs_libvirt *lv, virConnectPtr c, virDomainPtr d, bool want_current, bool want_hold,
          vs_snapshot_tree *ret, vs_err *err)
{
        virDomainSnapshotPtr *snaps = NULL;
        vs_snapshot_tree out = { 0 };
        lv_hold *hold = NULL;
        int n, r = 0;

        n = virDomainListAllSnapshots(d, &snaps, VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL);
        if (n < 0)
                return lv_fail(lv, c, err, "listing snapshots of %s", virDomainGetName(d));
        out.items = calloc((size_t)n + 1, sizeof(vs_snapshot_info));
        if (want_hold)
                hold = hold_new(c, d, (size_t)n + 1);
        if (!out.items || (want_hold && !hold)) {
                r = vs_err_set(err, ENOMEM, "virt", "out of memory");
                goto out;
        }
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *xml = virDomainSnapshotGetXMLDesc(snaps[i], 0);

                if (!xml) {
                        virErrorPtr e = virGetLastError();

                        if (e && e->code == VIR_ERR_NO_DOMAIN_SNAPSHOT) {
                                virResetLastError(); /* deleted since the listing */
                                continue;
                        }
                        r = lv_fail(lv, c, err, "snapshot %s of %s", virDomainSnapshotGetName(snaps[i]),
                                    virDomainGetName(d));
                        goto out;
                }
                r = vs__snapshot_xml_parse(xml, &out.items[out.n], err);
                if (r < 0)
                        goto out;
                out.n++;
                if (hold)
                        hold->snaps[hold->n++] = TAKE_PTR(snaps[i]);
        }
        /* One question for the whole tree rather than IsCurrent per
         * snapshot: over a socket each is a round trip. */
        if (n > 0 && want_current) {
                _cleanup_snap_ virDomainSnapshotPtr cur = virDomainSnapshotCurrent(d, 0);

                if (cur)
                        mark_current(&out, virDomainSnapshotGetName(cur));
                else
                        virResetLastError(); /* none is current (NO_DOMAIN_SNAPSHOT) */
        }
        if (hold) {
                out.hold = &hold->base;
                hold = NULL;
        }
out:
        for (int i = 0; i < n; i++)
                if (snaps[i])
                        virDomainSnapshotFree(snaps[i]);
        free(snaps);
        if (hold)
                lv_hold_release(&hold->base);
        if (r < 0) {
                vs_snapshot_tree_clear(&out);
                return r;
        }
        *ret = out;
        return 0;
}

static int
lv_list_snapshots(vs_virt *v, const char *domain, const char *uuid, unsigned flags, vs_snapshot_tree *ret,
                  vs_err *err)
{
        vs_libvirt *lv = lv_of(v);
        _cleanup_conn_ virConnectPtr c = conn_get(lv);
        _cleanup_dom_ virDomainPtr d = NULL;
        int r;

        if (!c)
                return vs_err_set(err, ENOTCONN, "libvirt", "not connected");
        r = lookup_domain_id(lv, c, domain, uuid, &d, err);
        if (r < 0)
                return r;
        return list_tree(lv, c, d, !(flags & VS_LIST_SNAPSHOTS_NO_CURRENT), flags & VS_LIST_SNAPSHOTS_HOLD, ret,
                         err);
}

/* ---- snapshots: creation --------------------------------------------------------- */

/* The names in t, borrowed (free the array only). */
static int
tree_names(const vs_snapshot_tree *t, char ***ret, vs_err *err)
{
        char **names = calloc(t->n + 1, sizeof(char *));

        if (!names)
                return vs_err_set(err, ENOMEM, "virt", "out of memory");
        for (size_t i = 0; i < t->n; i++)
                names[i] = t->items[i].name;
        *ret = names;
        return 0;
}

/* t as it is after the create of *s: *s appended (its parent is in its XML)
 * and current; t's hold, if any, takes *s over.  Only a convenience for the
 * caller: on failure the create stands and the result simply has no tree. */
static bool
tree_add_created(vs_snapshot_tree *t, virConnectPtr c, virDomainSnapshotPtr *s)
{
        _cleanup_free_ char *xml = virDomainSnapshotGetXMLDesc(*s, 0);
        lv_hold *h = hold_of(t, c);
        vs_snapshot_info *items;
        vs_err e = { 0 };

        if (!xml) {
                virResetLastError();
                return false;
        }
        if (h && h->n >= h->cap)
                return false;
        items = realloc(t->items, (t->n + 2) * sizeof(*items));
        if (!items)
                return false;
        t->items = items;
        memset(&items[t->n], 0, 2 * sizeof(*items));
        if (vs__snapshot_xml_parse(xml, &items[t->n], &e) < 0)
                return false;
        t->n++;
        if (h)
                h->snaps[h->n++] = TAKE_PTR(*s);
        mark_current(t, items[t->n - 1].name);
        return true;
}

/* name, name-2, name-3, ...: the first not taken, shortened to stay within
 * 64 characters. */
static int
unique_name(const char *want, char *const *taken, char **ret, vs_err *err)
{
        if (!vs_snapshot_name_valid(want))
                return vs_err_set(err, EINVAL, "virt",
                                  "invalid snapshot name '%s' (1 to 64 of A-Z a-z 0-9 . _ -, not "
                                  "starting with '.')",
                                  want);
        if (!vs_strv_contains(taken, want)) {
                *ret = strdup(want);
                return *ret ? 0 : vs_err_set(err, ENOMEM, "virt", "out of memory");
        }
        for (int k = 2; k < NAME_TRIES; k++) {
                char suffix[16], buf[80];
                int slen = snprintf(suffix, sizeof(suffix), "-%d", k);
                int keep = (int)strlen(want);

                if (keep + slen > 64)
                        keep = 64 - slen;
                snprintf(buf, sizeof(buf), "%.*s%s", keep, want, suffix);
                if (!vs_snapshot_name_valid(buf) || vs_strv_contains(taken, buf))
                        continue;
                *ret = strdup(buf);
                return *ret ? 0 : vs_err_set(err, ENOMEM, "virt", "out of memory");
        }
        return vs_err_set(err, EEXIST, "virt", "no free snapshot name like '%s'", want);
}

static bool
path_taken(const char *path, bool local, char *const *used)
{
        struct stat st;

        if (vs_strv_contains(used, path))
                return true;
        /* Never overwrite: anything there, even a dangling link, is taken. */
        return local && lstat(path, &st) == 0;
}

/* The image's base name without its extension, or without the ".<snapshot>"
 * suffix a previous snapshot gave its overlay, so chains read
 * web.qcow2 -> web.s1 -> web.s2 rather than web.s1.s2. */
static char *
image_base(const char *source, char *const *snapnames)
{
        const char *slash = strrchr(source, '/');
        const char *b = slash ? slash + 1 : source;
        size_t len = strlen(b), best = 0;
        const char *dot;

        for (size_t i = 0; snapnames && snapnames[i]; i++) {
                size_t sl = strlen(snapnames[i]);

                if (sl + 1 < len && b[len - sl - 1] == '.' && strcmp(b + len - sl, snapnames[i]) == 0 &&
                    sl + 1 > best)
                        best = sl + 1;
        }
        if (best)
                return strndup(b, len - best);
        dot = strrchr(b, '.');
        if (dot && dot != b)
                return strndup(b, (size_t)(dot - b));
        return strdup(b);
}

static char *
dir_of(const char *path)
{
        const char *slash = strrchr(path, '/');

        if (!slash)
                return strdup(".");
        if (slash == path)
                return strdup("/");
        return strndup(path, (size_t)(slash - path));
}

/* dir/stem.ext, dir/stem-2.ext, ...: the first path not taken. */
static int
unique_path(const char *dir, const char *stem, const char *ext, bool local, char *const *used,
            char **ret, vs_err *err)
{
        for (int k = 1; k < NAME_TRIES; k++) {
                char *p = NULL;
                int n;

                if (k == 1)
                        n = asprintf(&p, "%s/%s%s", strcmp(dir, "/") ? dir : "", stem, ext);
                else
                        n = asprintf(&p, "%s/%s-%d%s", strcmp(dir, "/") ? dir : "", stem, k, ext);
                if (n < 0)
                        return vs_err_set(err, ENOMEM, "virt", "out of memory");
                if (strlen(p) >= PATH_MAX) {
                        free(p);
                        return vs_err_set(err, ENAMETOOLONG, "virt", "path too long in %s", dir);
                }
                if (!path_taken(p, local, used)) {
                        *ret = p;
                        return 0;
                }
                free(p);
        }
        return vs_err_set(err, EEXIST, "virt", "no free file name like %s/%s%s", dir, stem, ext);
}

static bool
disk_writable(const vs_domain_disk *d)
{
        return (strcmp(d->device, "disk") == 0 || strcmp(d->device, "lun") == 0) && !d->readonly && d->source;
}

/* What one create attempt needs; paths are chosen per attempt. */
typedef struct create_plan {
        vs_snapshot_xml_disk *xdisks;
        size_t n;
        char **files;           /* overlay paths, owned (NULL-terminated) */
        char *memory_file;
} create_plan;

static void
create_plan_clear(create_plan *p)
{
        free(p->xdisks);
        vs_strv_free(p->files);
        free(p->memory_file);
        memset(p, 0, sizeof(*p));
}

static int
plan_disks(const vs_libvirt *lv, const vs_create_request *req, const char *snapname, bool active,
           const vs_domain_disks *disks, char *const *snapnames, create_plan *p, vs_err *err)
{
        const vs_snapshot_spec *spec = req->spec;
        const char *overlay_dir = spec->overlay_dir;
        const char *first_source = NULL;
        int r;

        if (overlay_dir && overlay_dir[0] != '/')
                return vs_err_set(err, EINVAL, "virt", "overlay_dir must be absolute: %s", overlay_dir);
        for (size_t i = 0; spec->disks && spec->disks[i]; i++) {
                bool found = false;

                for (size_t j = 0; j < disks->n && !found; j++)
                        if (strcmp(disks->items[j].target, spec->disks[i]) == 0) {
                                found = true;
                                if (!disk_writable(&disks->items[j]))
                                        return vs_err_set(err, EINVAL, "virt",
                                                          "disk %s of %s is not a writable disk with an image",
                                                          spec->disks[i], req->domain);
                        }
                if (!found)
                        return vs_err_set(err, EINVAL, "virt", "domain %s has no disk %s", req->domain,
                                          spec->disks[i]);
        }
        p->xdisks = calloc(disks->n + 1, sizeof(*p->xdisks));
        if (!p->xdisks)
                return vs_err_set(err, ENOMEM, "virt", "out of memory");
        p->n = disks->n;
        for (size_t j = 0; j < disks->n; j++) {
                const vs_domain_disk *d = &disks->items[j];
                bool selected = spec->disks ? vs_strv_contains(spec->disks, d->target) : disk_writable(d);
                _cleanup_free_ char *dir = NULL, *stem = NULL, *base = NULL;
                char *path = NULL;

                p->xdisks[j].name = d->target;
                if (!selected)
                        continue;
                if (!overlay_dir && (!d->type || strcmp(d->type, "file") != 0))
                        return vs_err_set(err, EINVAL, "virt",
                                          "disk %s of %s is not a file: set overlay_dir for its overlay",
                                          d->target, req->domain);
                dir = overlay_dir ? strdup(overlay_dir) : dir_of(d->source);
                base = image_base(d->source, snapnames);
                if (!dir || !base || asprintf(&stem, "%s.%s", base, snapname) < 0)
                        return vs_err_set(err, ENOMEM, "virt", "out of memory");
                r = unique_path(dir, stem, "", lv->local, p->files, &path, err);
                if (r < 0)
                        return r;
                r = vs_strv_consume(&p->files, path);
                if (r < 0)
                        return vs_err_set(err, ENOMEM, "virt", "out of memory");
                p->xdisks[j].file = path;
                if (!first_source)
                        first_source = d->source;
        }
        if (!p->files)
                return vs_err_set(err, EINVAL, "virt", "no disk of %s selected for a %s snapshot", req->domain,
                                  vs_snap_type_to_string(spec->type));
        if (spec->type == VS_SNAP_EXTERNAL && active) {
                _cleanup_free_ char *dir = overlay_dir ? strdup(overlay_dir) : dir_of(first_source);
                _cleanup_free_ char *stem = NULL;

                if (!dir || asprintf(&stem, "%s.%s", req->domain, snapname) < 0)
                        return vs_err_set(err, ENOMEM, "virt", "out of memory");
                r = unique_path(dir, stem, ".mem", lv->local, p->files, &p->memory_file, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Internal snapshots always cover every disk (libvirt refuses to skip one);
 * a policy that names only some disks cannot have them. */
static int
check_internal_disks(const vs_create_request *req, const vs_domain_disks *disks, vs_err *err)
{
        for (size_t j = 0; j < disks->n; j++)
                if (disk_writable(&disks->items[j]) && !vs_strv_contains(req->spec->disks, disks->items[j].target))
                        return vs_err_set(err, EINVAL, "virt",
                                          "internal snapshots include every disk, but the policy leaves out "
                                          "%s of %s; use disk-only or external",
                                          disks->items[j].target, req->domain);
        return 0;
}

static int
create_once(vs_libvirt *lv, virConnectPtr c, virDomainPtr d, const vs_create_request *req,
            const char *snapname, bool active, bool quiesce, const vs_domain_disks *disks,
            char *const *snapnames, create_plan *p, virDomainSnapshotPtr *ret_snap, vs_err *err)
{
        const vs_snapshot_spec *spec = req->spec;
        vs_snapshot_xml_params xp = {
                .name = snapname,
                .description = req->description,
                .owner = req->policy,
                .type = spec->type,
        };
        _cleanup_free_ char *xml = NULL;
        virDomainSnapshotPtr s;
        unsigned flags = 0;
        int r;

        if (spec->type != VS_SNAP_INTERNAL) {
                r = plan_disks(lv, req, snapname, active, disks, snapnames, p, err);
                if (r < 0)
                        return r;
                xp.disks = p->xdisks;
                xp.n_disks = p->n;
                xp.memory_file = p->memory_file;
                /* A stopped domain has no memory to save: its external
                 * snapshot is a disk-only one. */
                if (spec->type == VS_SNAP_DISK_ONLY || !active) {
                        xp.type = VS_SNAP_DISK_ONLY;
                        flags |= VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY;
                }
                if (spec->atomic)
                        flags |= VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC;
                if (quiesce)
                        flags |= VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE;
        }
        r = vs__snapshot_xml_build(&xp, &xml, err);
        if (r < 0)
                return r;
        s = virDomainSnapshotCreateXML(d, xml, flags);
        if (!s)
                return lv_fail(lv, c, err, "creating snapshot %s of %s", snapname, req->domain);
        *ret_snap = s;
        return 0;
}

/* ---- snapshots: pre-flight (busy domains, the guard) ---------------------------- */

static int
refuse(vs_err *err, vs_err_skip skip, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
refuse(vs_err *err, vs_err_skip skip, const char *fmt, ...)
{
        int errnum = skip == VS_SKIP_BUSY ? EBUSY : ENOSPC;
        va_list ap;

        va_start(ap, fmt);
        vs_err_setv(err, errnum, "libvirt", fmt, ap);
        va_end(ap);
        if (err)
                err->skip = skip;
        return -errnum;
}

static const char *
job_operation_name(int op)
{
        switch (op) {
        case VIR_DOMAIN_JOB_OPERATION_START: return "starting";
        case VIR_DOMAIN_JOB_OPERATION_SAVE: return "save job";
        case VIR_DOMAIN_JOB_OPERATION_RESTORE: return "restore job";
        case VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN: return "incoming migration";
        case VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT: return "migration";
        case VIR_DOMAIN_JOB_OPERATION_SNAPSHOT: return "another snapshot";
        case VIR_DOMAIN_JOB_OPERATION_SNAPSHOT_REVERT: return "snapshot revert";
        case VIR_DOMAIN_JOB_OPERATION_DUMP: return "dump job";
        case VIR_DOMAIN_JOB_OPERATION_BACKUP: return "backup job";
        default: return "a domain job";
        }
}

static const char *
block_job_name(int type)
{
        switch (type) {
        case VIR_DOMAIN_BLOCK_JOB_TYPE_PULL: return "block pull";
        case VIR_DOMAIN_BLOCK_JOB_TYPE_COPY: return "block copy";
        case VIR_DOMAIN_BLOCK_JOB_TYPE_COMMIT: return "block commit";
        case VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT: return "active block commit";
        case VIR_DOMAIN_BLOCK_JOB_TYPE_BACKUP: return "backup block";
        default: return "block";
        }
}

/* A job of the domain's own (backup, migration, save, another client's
 * snapshot): -EBUSY.  One call; a driver without job stats (the test
 * driver) is never busy. */
static int
check_domain_job(vs_libvirt *lv, virConnectPtr c, virDomainPtr d, vs_err *err)
{
        virTypedParameterPtr params = NULL;
        int type = VIR_DOMAIN_JOB_NONE, nparams = 0, op = 0;

        if (virDomainGetJobStats(d, &type, &params, &nparams, 0) < 0) {
                virErrorPtr le = virGetLastError();

                /* A lost link: the create would fail too, say so now.
                 * Anything else (the test driver has no job stats and sets
                 * no error): not busy, and no further calls to find out. */
                if (le && (le->domain == VIR_FROM_RPC || le->code == VIR_ERR_NO_CONNECT))
                        return lv_fail(lv, c, err, "job of %s", virDomainGetName(d));
                virResetLastError();
                return 0;
        }
        if (type != VIR_DOMAIN_JOB_NONE && virTypedParamsGetInt(params, nparams, VIR_DOMAIN_JOB_OPERATION, &op) < 0)
                op = VIR_DOMAIN_JOB_OPERATION_UNKNOWN;
        virTypedParamsFree(params, nparams);
        if (type == VIR_DOMAIN_JOB_NONE)
                return 0;
        return refuse(err, VS_SKIP_BUSY, "domain busy (%s)", job_operation_name(op));
}

/* A block job shown in the definition (<mirror>: copy, active commit). */
static int
check_mirrors(const vs_domain_disks *disks, vs_err *err)
{
        for (size_t i = 0; i < disks->n; i++)
                if (disks->items[i].mirror_job)
                        return refuse(err, VS_SKIP_BUSY, "domain busy (block %s job on %s)",
                                      disks->items[i].mirror_job, disks->items[i].target);
        return 0;
}

/* After a failed create: was it a block job that the definition does not
 * show (pull, commit), or a job that began meanwhile?  -EBUSY with why,
 * else 0 (the failure stands). */
static int
busy_after_failure(vs_libvirt *lv, virConnectPtr c, virDomainPtr d, const vs_domain_disks *known, vs_err *err)
{
        _cleanup_free_ char *xml = NULL;
        vs_domain_disks disks = { 0 };
        const vs_domain_disks *use = known;
        int r;

        r = check_domain_job(lv, c, d, err);
        if (r == -EBUSY)
                return r;
        if (!known || known->n == 0) {
                xml = virDomainGetXMLDesc(d, 0);
                if (!xml || vs__domain_disks_parse(xml, &disks, NULL) < 0) {
                        virResetLastError();
                        return 0;
                }
                use = &disks;
        }
        r = 0;
        for (size_t i = 0; i < use->n && r == 0; i++) {
                virDomainBlockJobInfo info = { 0 };

                if (!use->items[i].source)
                        continue;
                if (virDomainGetBlockJobInfo(d, use->items[i].target, &info, 0) == 1)
                        r = refuse(err, VS_SKIP_BUSY, "domain busy (%s job on %s)", block_job_name(info.type),
                                   use->items[i].target);
                else
                        virResetLastError();
        }
        vs__domain_disks_clear(&disks);
        return r;
}

static bool
guard_set(const vs_guard *g)
{
        return g && (g->min_free.percent > 0 || g->min_free.bytes > 0 || g->max_chain > 0);
}

/* Free and total bytes of the storage holding path: its libvirt storage
 * pool (refreshed: a pool's figures are only as new as its last refresh)
 * when the volume belongs to one, else statvfs of its directory when the
 * files are on this host.  1 measured, 0 cannot tell (remote, outside any
 * pool), -errno on a libvirt failure. */
static int
measure_space(vs_libvirt *lv, virConnectPtr c, const char *path, bool is_dir, uint64_t *avail, uint64_t *total,
              vs_err *err)
{
        virStorageVolPtr vol = is_dir ? NULL : virStorageVolLookupByPath(c, path);
        struct statvfs st;

        if (vol) {
                virStoragePoolPtr pool = virStoragePoolLookupByVolume(vol);
                virStoragePoolInfo info;
                int r = -1;

                virStorageVolFree(vol);
                if (pool) {
                        if (virStoragePoolRefresh(pool, 0) < 0)
                                virResetLastError(); /* the last figures, then */
                        r = virStoragePoolGetInfo(pool, &info);
                        virStoragePoolFree(pool);
                }
                if (r < 0)
                        return lv_fail(lv, c, err, "storage pool of %s", path);
                *avail = info.available;
                *total = info.capacity;
                return 1;
        }
        virResetLastError();
        if (!lv->local)
                return 0;
        {
                _cleanup_free_ char *dir = strdup(path);
                char *slash;

                if (!dir)
                        return vs_err_set(err, ENOMEM, "virt", "out of memory");
                slash = is_dir ? NULL : strrchr(dir, '/');
                if (slash)
                        *(slash == dir ? slash + 1 : slash) = '\0';
                if (statvfs(dir, &st) < 0)
                        return 0; /* not there to measure: the create will say */
        }
        *avail = (uint64_t)st.f_bavail * st.f_frsize;
        *total = (uint64_t)st.f_blocks * st.f_frsize;
        return 1;
}

/* External snapshots on the way from the current one to the root: the
 * overlays virtsnap (or anyone) stacked on the disks, as libvirt knows them. */
static int
tree_external_depth(const vs_snapshot_tree *t)
{
        const vs_snapshot_info *cur = NULL;
        int depth = 0;

        for (size_t i = 0; i < t->n && !cur; i++)
                if (t->items[i].current)
                        cur = &t->items[i];
        for (size_t hops = 0; cur && hops <= t->n; hops++) {
                const char *parent = cur->parent;

                depth += cur->external;
                cur = NULL;
                for (size_t i = 0; parent && i < t->n && !cur; i++)
                        if (t->items[i].name && strcmp(t->items[i].name, parent) == 0)
                                cur = &t->items[i];
        }
        return depth;
}

static bool
disk_in_scope(const vs_snapshot_spec *spec, const vs_domain_disk *d)
{
        return disk_writable(d) && (!spec->disks || vs_strv_contains(spec->disks, d->target));
}

/* The policy's guard, against the disks and tree as they are now. */
static int
check_guard(vs_libvirt *lv, virConnectPtr c, const vs_create_request *req, const vs_domain_disks *disks,
            const vs_snapshot_tree *tree, vs_err *err)
{
        const vs_guard *g = req->guard;
        const vs_snapshot_spec *spec = req->spec;
        bool grows = spec->type != VS_SNAP_INTERNAL;
        int tdepth = tree_external_depth(tree);
        char why[160];

        for (size_t i = 0; i < disks->n; i++) {
                const vs_domain_disk *d = &disks->items[i];
                int depth = d->backing_depth > tdepth ? d->backing_depth : tdepth;

                if (!disk_in_scope(spec, d))
                        continue;
                if (g->max_chain > 0 && depth + grows > g->max_chain)
                        return refuse(err, VS_SKIP_GUARD, "chain depth %d > %d on %s", depth + grows, g->max_chain,
                                      d->target);
        }
        if (!(g->min_free.percent > 0 || g->min_free.bytes > 0))
                return 0;
        for (size_t i = 0; i <= disks->n; i++) {
                const char *path = NULL, *what = NULL;
                uint64_t avail = 0, total = 0;
                bool is_dir = false;
                int r;

                if (i < disks->n) {
                        const vs_domain_disk *d = &disks->items[i];

                        if (!disk_in_scope(spec, d) || (d->type && strcmp(d->type, "file") != 0))
                                continue;
                        path = d->source;
                        what = d->target;
                } else if (grows && spec->overlay_dir) {
                        path = spec->overlay_dir;
                        what = "overlay_dir";
                        is_dir = true;
                } else {
                        break;
                }
                r = measure_space(lv, c, path, is_dir, &avail, &total, err);
                if (r < 0)
                        return r;
                if (r > 0 && !vs_space_ok(&g->min_free, avail, total, why, sizeof(why)))
                        return refuse(err, VS_SKIP_GUARD, "%s for %s (%s)", why, what, path);
        }
        return 0;
}

/* Shut off by the guest (a shutdown), or never started since libvirt knows
 * it: its disks were closed cleanly.  Not so when it crashed, failed to
 * start, or was destroyed (`virsh destroy` pulls the plug: the disks are as
 * after a power cut, crash-consistent).  Unknown (the call failed): not
 * clean. */
static bool
shut_off_cleanly(virDomainPtr d)
{
        int state = 0, reason = 0;

        if (virDomainGetState(d, &state, &reason, 0) < 0)
                return false;
        return state == VIR_DOMAIN_SHUTOFF && reason != VIR_DOMAIN_SHUTOFF_CRASHED &&
               reason != VIR_DOMAIN_SHUTOFF_DESTROYED && reason != VIR_DOMAIN_SHUTOFF_FAILED;
}

/* The create on domain d, active or not as the caller found it; known:
 * its tree as listed (with a hold), or NULL to list it now.  On success a
 * known tree is moved into the result. */
static int
create_snapshot(vs_libvirt *lv, virConnectPtr c, virDomainPtr d, const vs_create_request *req, bool active,
                vs_snapshot_tree *known, vs_create_result *ret, vs_err *err)
{
        const vs_snapshot_spec *spec = req->spec;
        _cleanup_free_ char *domxml = NULL;
        _cleanup_snap_ virDomainSnapshotPtr snap = NULL;
        vs_domain_disks disks = { 0 };
        vs_snapshot_tree listed = { 0 }, *t = known ? known : &listed;
        char **snapnames = NULL;
        create_plan p = { 0 };
        vs_create_result res = { 0 };
        bool quiesce;
        int r;

        /* A running domain in a job of its own (backup, migration): not
         * now.  Without this the create would wait 30 s for the job lock. */
        if (active) {
                r = check_domain_job(lv, c, d, err);
                if (r < 0)
                        return r;
        }

        if (spec->type != VS_SNAP_INTERNAL || spec->disks || guard_set(req->guard)) {
                domxml = virDomainGetXMLDesc(d, 0);
                if (!domxml)
                        return lv_fail(lv, c, err, "definition of %s", req->domain);
                r = vs__domain_disks_parse(domxml, &disks, err);
                if (r < 0)
                        return r;
                if (spec->type == VS_SNAP_INTERNAL && spec->disks) {
                        r = check_internal_disks(req, &disks, err);
                        if (r < 0)
                                goto out;
                }
                if (active) {
                        r = check_mirrors(&disks, err);
                        if (r < 0)
                                goto out;
                }
        }
        /* The whole tree, not just the names: with the new snapshot added it
         * is the tree the job's prune plans from, so nothing lists it again,
         * and its hold keeps the handles the delete will use. */
        if (!known) {
                r = list_tree(lv, c, d, false, true, &listed, err);
                if (r < 0)
                        goto out;
        }
        if (guard_set(req->guard)) {
                r = check_guard(lv, c, req, &disks, t, err);
                if (r < 0)
                        goto out;
        }
        r = tree_names(t, &snapnames, err);
        if (r < 0)
                goto out;
        r = unique_name(req->name, snapnames, &res.name, err);
        if (r < 0)
                goto out;

        /* Quiesce needs a running guest and DISK_ONLY; a memory snapshot
         * is a checkpoint already and needs none. */
        quiesce = spec->quiesce != VS_QUIESCE_OFF && active && spec->type == VS_SNAP_DISK_ONLY;
        if (quiesce) {
                int timeout = spec->timeout > 0 && spec->timeout < AGENT_TIMEOUT_MAX ? (int)spec->timeout
                                                                                  : AGENT_TIMEOUT_MAX;

                /* The default is to wait forever while holding the domain's job. */
                if (virDomainAgentSetResponseTimeout(d, timeout, 0) < 0) {
                        r = lv_fail(lv, c, &res.quiesce_err, "bounding the guest agent's response time of %s",
                                    req->domain);
                        if (spec->quiesce == VS_QUIESCE_REQUIRED) {
                                if (err)
                                        *err = res.quiesce_err;
                                goto out;
                        }
                        res.quiesce_fell_back = true;
                        quiesce = false;
                }
        }
        r = create_once(lv, c, d, req, res.name, active, quiesce, &disks, snapnames, &p, &snap,
                        quiesce ? &res.quiesce_err : err);
        if (r < 0 && quiesce) {
                if (spec->quiesce == VS_QUIESCE_REQUIRED || res.quiesce_err.code == 0 ||
                    atomic_load(&lv->dead)) {
                        /* Required, failed before libvirt was asked, or
                         * the link is gone: retrying cannot help. */
                        if (err)
                                *err = res.quiesce_err;
                        goto out;
                }
                res.quiesce_fell_back = true;
                quiesce = false;
                create_plan_clear(&p);
                r = create_once(lv, c, d, req, res.name, active, false, &disks, snapnames, &p, &snap, err);
        }
        /* libvirt refused: because a block job runs on a disk (an internal
         * snapshot, whose definition was not read) or a job began since? */
        if (r < 0 && active && !atomic_load(&lv->dead) && (!err || !err->skip)) {
                vs_err busy = { 0 };

                if (busy_after_failure(lv, c, d, &disks, &busy) == -EBUSY) {
                        if (err)
                                *err = busy;
                        r = -EBUSY;
                }
        }
        if (r < 0)
                goto out;

        res.disk_files = TAKE_PTR(p.files);
        res.memory_file = TAKE_PTR(p.memory_file);
        free(TAKE_PTR(snapnames)); /* borrows the tree's names */
        /* What the snapshot is comes from the state libvirt gave it (the
         * domain's at that moment), and only without it from what the
         * caller said.  A shut-off domain's disks were closed cleanly:
         * offline, not crash-consistent, and no freeze took place (none was
         * needed); unless it got there by crashing: then the disks are as
         * after a power cut. */
        if (tree_add_created(t, c, &snap)) {
                const char *st = t->items[t->n - 1].state;

                if (st)
                        active = strcmp(st, "shutoff") != 0;
                if (st && strcmp(st, "disk-snapshot") == 0)
                        res.consistency = quiesce ? VS_CONSISTENCY_QUIESCED : VS_CONSISTENCY_CRASH;
                else if (active)
                        res.consistency = spec->type == VS_SNAP_DISK_ONLY
                                                  ? (quiesce ? VS_CONSISTENCY_QUIESCED : VS_CONSISTENCY_CRASH)
                                                  : VS_CONSISTENCY_MEMORY;
                if (t->hold)
                        ((lv_hold *)t->hold)->active = active;
                res.tree = *t;
                res.have_tree = true;
                memset(t, 0, sizeof(*t));
        } else if (active) {
                res.consistency = spec->type == VS_SNAP_INTERNAL || spec->type == VS_SNAP_EXTERNAL
                                          ? VS_CONSISTENCY_MEMORY
                                          : (quiesce ? VS_CONSISTENCY_QUIESCED : VS_CONSISTENCY_CRASH);
        }
        if (!active)
                res.consistency = shut_off_cleanly(d) ? VS_CONSISTENCY_OFFLINE : VS_CONSISTENCY_CRASH;
        *ret = res;
        memset(&res, 0, sizeof(res));
        r = 0;
out:
        create_plan_clear(&p);
        vs_create_result_clear(&res);
        vs__domain_disks_clear(&disks);
        free(snapnames);
        vs_snapshot_tree_clear(&listed);
        return r;
}

static bool
same_names(const vs_snapshot_tree *a, const vs_snapshot_tree *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!a->items[i].name || !b->items[i].name || strcmp(a->items[i].name, b->items[i].name) != 0)
                        return false;
        return true;
}

static int
lv_create_snapshot(vs_virt *v, const vs_create_request *req, vs_create_result *ret, vs_err *err)
{
        vs_libvirt *lv = lv_of(v);
        _cleanup_conn_ virConnectPtr c = conn_get(lv);
        _cleanup_dom_ virDomainPtr d = NULL;
        vs_snapshot_tree fresh = { 0 };
        lv_hold *kh;
        bool active, again = false;
        int r;

        if (!c)
                return vs_err_set(err, ENOTCONN, "libvirt", "not connected");
        kh = req->known ? hold_of(req->known, c) : NULL;
        if (kh) {
                d = kh->dom;
                virDomainRef(d);
        } else {
                r = lookup_domain_id(lv, c, req->domain, req->uuid, &d, err);
                if (r < 0)
                        return r;
        }
        if (req->state_known) {
                active = req->state == VS_DOMAIN_RUNNING || req->state == VS_DOMAIN_PAUSED;
        } else {
                r = virDomainIsActive(d);
                if (r < 0)
                        return lv_fail(lv, c, err, "domain %s", req->domain);
                active = r == 1;
        }
        r = create_snapshot(lv, c, d, req, active, kh ? req->known : NULL, ret, err);
        if (r == 0 || atomic_load(&lv->dead) || (err && err->skip) || (!req->state_known && !kh))
                return r;
        /* Failed on what the caller told: was it still so?  A domain started
         * or stopped since its listing, a snapshot made or deleted by someone
         * else since its tree: then once more, as things are. */
        if (req->state_known) {
                int now = virDomainIsActive(d);

                if (now < 0) {
                        virResetLastError();
                } else if ((now == 1) != active) {
                        active = now == 1;
                        again = true;
                }
        }
        if (kh) {
                vs_err le = { 0 };

                if (list_tree(lv, c, d, false, true, &fresh, &le) < 0)
                        return r;
                again = again || !same_names(&fresh, req->known);
        }
        if (again)
                r = create_snapshot(lv, c, d, req, active, kh ? &fresh : NULL, ret, err);
        vs_snapshot_tree_clear(&fresh);
        return r;
}

/* ---- snapshots: deletion ---------------------------------------------------------- */

static void
result_note(vs_delete_result *res, vs_delete_outcome o, const char *reason)
{
        res->outcome = o;
        vs_err_set(&res->err, EINVAL, "virtsnap", "%s", reason);
}

static void
remove_memory_file(const vs_libvirt *lv, const vs_snapshot_info *s, vs_delete_result *res)
{
        /* libvirt 9.0 leaves the memory file of a deleted external
         * snapshot behind.  Only a local file is ours to remove. */
        if (!s->memory_file || !lv->local)
                return;
        if (unlink(s->memory_file) < 0 && errno != ENOENT)
                vs_err_set(&res->err, errno, "virt", "deleted, but could not remove memory file %s: %s",
                           s->memory_file, strerror(errno));
}

static bool
snapshot_exists(virDomainPtr d, const char *name)
{
        virDomainSnapshotPtr s = virDomainSnapshotLookupByName(d, name, 0);

        if (!s) {
                virResetLastError();
                return false;
        }
        virDomainSnapshotFree(s);
        return true;
}

/* ---- snapshots: revert ------------------------------------------------------------ */

static int
lv_revert_snapshot(vs_virt *v, const char *domain, const char *snapshot, vs_domain_state *ret_state, vs_err *err)
{
        vs_libvirt *lv = lv_of(v);
        _cleanup_conn_ virConnectPtr c = conn_get(lv);
        _cleanup_dom_ virDomainPtr d = NULL;
        _cleanup_snap_ virDomainSnapshotPtr s = NULL;
        vs_snapshot_tree tree = { 0 };
        char why[512];
        int r, state = 0, reason = 0;

        if (!c)
                return vs_err_set(err, ENOTCONN, "libvirt", "not connected");
        r = lookup_domain(lv, c, domain, &d, err);
        if (r < 0)
                return r;
        /* The tree as it is now: refuse what libvirt 9.0 cannot do before
         * it stops the guest trying. */
        r = list_tree(lv, c, d, true, false, &tree, err);
        if (r < 0)
                return r;
        r = vs_virt_revert_check(&tree, snapshot, NULL, why, sizeof(why));
        vs_snapshot_tree_clear(&tree);
        if (r < 0)
                return vs_err_set(err, EOPNOTSUPP, "virt", "%s", why);
        s = virDomainSnapshotLookupByName(d, snapshot, 0);
        if (!s)
                return lv_fail(lv, c, err, "snapshot %s of %s", snapshot, domain);
        if (virDomainRevertToSnapshot(s, 0) < 0)
                return lv_fail(lv, c, err, "reverting %s to %s", domain, snapshot);
        if (ret_state)
                *ret_state = virDomainGetState(d, &state, &reason, 0) == 0 ? map_state(state) : VS_DOMAIN_OTHER;
        return 0;
}

static int
lv_delete_snapshots(vs_virt *v, const char *domain, const vs_snapshot_tree *given, char *const *names,
                    vs_delete_results *ret, vs_err *err)
{
        vs_libvirt *lv = lv_of(v);
        _cleanup_conn_ virConnectPtr c = conn_get(lv);
        _cleanup_dom_ virDomainPtr d = NULL;
        vs_snapshot_tree listed = { 0 };
        const vs_snapshot_tree *tree = given ? given : &listed;
        vs_delete_plan plan = { 0 };
        vs_delete_results out = { 0 };
        bool *step_ok = NULL;
        vs_err fatal = { 0 };
        lv_hold *hold;
        int r, active;

        if (!c)
                return vs_err_set(err, ENOTCONN, "libvirt", "not connected");
        /* A tree from a create on this connection holds the domain, its
         * snapshots and the state the create found: no lookups, no
         * question of state.  If the domain stopped or started since, a
         * step libvirt cannot take fails and is recorded; the next prune
         * plans again. */
        hold = hold_of(given, c);
        if (hold) {
                d = hold->dom;
                virDomainRef(d);
                active = hold->active;
        } else {
                r = lookup_domain(lv, c, domain, &d, err);
                if (r < 0)
                        return r;
                active = virDomainIsActive(d);
                if (active < 0)
                        return lv_fail(lv, c, err, "domain %s", domain);
        }
        if (!given) {
                r = list_tree(lv, c, d, false, false, &listed, err);
                if (r < 0)
                        return r;
        }
        r = vs__delete_plan_build(tree, names, active == 1, &plan);
        if (r < 0) {
                vs_err_set(err, -r, "virt", "out of memory");
                goto out;
        }
        out.items = calloc(plan.n_entries + 1, sizeof(vs_delete_result));
        step_ok = calloc(plan.n_steps + 1, sizeof(bool));
        if (!out.items || !step_ok) {
                r = vs_err_set(err, ENOMEM, "virt", "out of memory");
                goto out;
        }
        out.n = plan.n_entries;
        for (size_t i = 0; i < plan.n_entries; i++) {
                out.items[i].name = strdup(plan.entries[i].name);
                if (!out.items[i].name) {
                        r = vs_err_set(err, ENOMEM, "virt", "out of memory");
                        goto out;
                }
                if (plan.entries[i].outcome != VS_DELETE_DELETED)
                        result_note(&out.items[i], plan.entries[i].outcome, plan.entries[i].reason);
        }

        for (size_t k = 0; k < plan.n_steps; k++) {
                const vs_delete_step *st = &plan.steps[k];
                const char *sname = tree->items[st->snap].name;
                _cleanup_snap_ virDomainSnapshotPtr s = NULL;
                vs_err e = { 0 };
                vs_delete_outcome fail_as = VS_DELETE_FAILED;

                if (vs_err_is_set(&fatal)) {
                        e = fatal;
                } else if (st->depends_on != VS_PLAN_NONE && !step_ok[st->depends_on]) {
                        vs_err_set(&e, EAGAIN, "virtsnap",
                                   "the domain is shut off and snapshot '%s' above '%s' could not be deleted",
                                   tree->items[plan.steps[st->depends_on].snap].name, sname);
                        fail_as = VS_DELETE_DEFERRED;
                } else {
                        virDomainSnapshotPtr use = hold ? hold->snaps[st->snap] : NULL;

                        if (!use)
                                use = s = virDomainSnapshotLookupByName(d, sname, 0);
                        if (use &&
                            virDomainSnapshotDelete(use, st->children ? VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN : 0) == 0) {
                                step_ok[k] = true;
                        } else {
                                lv_fail(lv, c, &e, "deleting snapshot %s of %s", sname, domain);
                                if (e.code == VIR_ERR_NO_DOMAIN_SNAPSHOT)
                                        fail_as = VS_DELETE_MISSING;
                                else if (e.code == VIR_ERR_CONFIG_UNSUPPORTED ||
                                         e.code == VIR_ERR_OPERATION_UNSUPPORTED ||
                                         vs__delete_failure_is_permanent(e.msg))
                                        fail_as = VS_DELETE_UNDELETABLE;
                                /* Once the link is gone, stop calling. */
                                if (e.transient && atomic_load(&lv->dead))
                                        fatal = e;
                        }
                }
                for (size_t i = 0; i < plan.n_entries; i++) {
                        vs_delete_result *res = &out.items[i];

                        if (plan.entries[i].step != k)
                                continue;
                        if (step_ok[k]) {
                                res->outcome = VS_DELETE_DELETED;
                                remove_memory_file(lv, &tree->items[plan.entries[i].snap], res);
                        } else if (st->children && plan.entries[i].snap != st->snap &&
                                   fail_as == VS_DELETE_FAILED && !vs_err_is_set(&fatal) &&
                                   !snapshot_exists(d, res->name)) {
                                /* A CHILDREN call that failed part way. */
                                res->outcome = VS_DELETE_DELETED;
                        } else {
                                res->outcome = fail_as;
                                res->err = e;
                        }
                }
        }
        *ret = out;
        memset(&out, 0, sizeof(out));
        r = 0;
out:
        free(step_ok);
        vs_delete_results_clear(&out);
        vs__delete_plan_clear(&plan);
        vs_snapshot_tree_clear(&listed);
        return r;
}

/* ---- connection, events, reconnect --------------------------------------------------- */

static void
close_cb(virConnectPtr conn, int reason, void *opaque)
{
        vs_libvirt *lv = opaque;
        bool ours;

        pthread_mutex_lock(&lv->lock);
        ours = conn == lv->conn;
        if (ours) {
                atomic_store(&lv->dead, true);
                if (lv->watch)
                        vs__virt_watch_post(lv->watch, VS_VIRT_EVENT_CONNECTION_CLOSED, NULL, NULL, reason);
        }
        pthread_mutex_unlock(&lv->lock);
}

static void
post_domain_event(vs_libvirt *lv, virDomainPtr dom, vs_virt_event_type type, int reason)
{
        char uuid[VIR_UUID_STRING_BUFLEN] = "";

        if (virDomainGetUUIDString(dom, uuid) < 0)
                virResetLastError();
        pthread_mutex_lock(&lv->lock);
        if (lv->watch)
                vs__virt_watch_post(lv->watch, type, virDomainGetName(dom), uuid, reason);
        pthread_mutex_unlock(&lv->lock);
}

static int
lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
        vs_virt_event_type type;

        (void)conn;
        switch (event) {
        case VIR_DOMAIN_EVENT_DEFINED:
                type = VS_VIRT_EVENT_DEFINED;
                break;
        case VIR_DOMAIN_EVENT_UNDEFINED:
                type = VS_VIRT_EVENT_UNDEFINED;
                break;
        case VIR_DOMAIN_EVENT_STARTED:
                type = VS_VIRT_EVENT_STARTED;
                break;
        case VIR_DOMAIN_EVENT_SUSPENDED:
        case VIR_DOMAIN_EVENT_PMSUSPENDED:
                type = VS_VIRT_EVENT_SUSPENDED;
                break;
        case VIR_DOMAIN_EVENT_RESUMED:
                type = VS_VIRT_EVENT_RESUMED;
                break;
        case VIR_DOMAIN_EVENT_STOPPED:
        case VIR_DOMAIN_EVENT_CRASHED:
                type = VS_VIRT_EVENT_STOPPED;
                break;
        default:
                return 0; /* SHUTDOWN: the guest is on its way; STOPPED follows */
        }
        post_domain_event(opaque, dom, type, detail);
        return 0;
}

static void
agent_cb(virConnectPtr conn, virDomainPtr dom, int state, int reason, void *opaque)
{
        (void)conn;
        post_domain_event(opaque, dom,
                          state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED
                                  ? VS_VIRT_EVENT_AGENT_CONNECTED
                                  : VS_VIRT_EVENT_AGENT_DISCONNECTED,
                          reason);
}

/* Register the domain event callbacks on c; watch_lock held. */
static int
register_events(vs_libvirt *lv, virConnectPtr c, vs_err *err)
{
        int id;

        lv_ref(lv);
        id = virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                              VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), lv, lv_unref);
        if (id < 0) {
                lv_unref(lv);
                return lv_fail(lv, c, err, "registering for domain events");
        }
        lv->cb_lifecycle = id;
        lv_ref(lv);
        id = virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE,
                                              VIR_DOMAIN_EVENT_CALLBACK(agent_cb), lv, lv_unref);
        if (id < 0) {
                /* Older drivers lack agent events; lifecycle is what matters. */
                lv_unref(lv);
                virResetLastError();
        }
        lv->cb_agent = id;
        lv->cb_conn = c;
        virConnectRef(c);
        return 0;
}

/* watch_lock held. */
static void
deregister_events(vs_libvirt *lv)
{
        if (!lv->cb_conn)
                return;
        if (lv->cb_lifecycle >= 0 && virConnectDomainEventDeregisterAny(lv->cb_conn, lv->cb_lifecycle) < 0)
                virResetLastError();
        if (lv->cb_agent >= 0 && virConnectDomainEventDeregisterAny(lv->cb_conn, lv->cb_agent) < 0)
                virResetLastError();
        virConnectClose(lv->cb_conn);
        lv->cb_conn = NULL;
        lv->cb_lifecycle = lv->cb_agent = -1;
}

static int
lv_watch(vs_virt *v, vs_virt_watch *w, vs_err *err)
{
        vs_libvirt *lv = lv_of(v);
        _cleanup_conn_ virConnectPtr c = conn_get(lv);
        int r = 0;

        if (!c)
                return vs_err_set(err, ENOTCONN, "libvirt", "not connected");
        pthread_mutex_lock(&lv->watch_lock);
        if (lv->cb_conn) {
                r = vs_err_set(err, EBUSY, "virt", "connection %s is already watched", v->uri);
                goto out;
        }
        r = register_events(lv, c, err);
        if (r < 0)
                goto out;
        pthread_mutex_lock(&lv->lock);
        lv->watch = w;
        pthread_mutex_unlock(&lv->lock);
out:
        pthread_mutex_unlock(&lv->watch_lock);
        return r;
}

static void
lv_unwatch(vs_virt *v, vs_virt_watch *w)
{
        vs_libvirt *lv = lv_of(v);

        (void)w;
        pthread_mutex_lock(&lv->watch_lock);
        pthread_mutex_lock(&lv->lock);
        lv->watch = NULL;
        pthread_mutex_unlock(&lv->lock);
        deregister_events(lv);
        pthread_mutex_unlock(&lv->watch_lock);
}

static bool
uri_is_local(const char *uri)
{
        const char *p = strstr(uri, "://");

        /* "qemu:///system" has an empty host; "qemu+ssh://h/system" does not. */
        return p && p[3] == '/';
}

/* Open and prepare a connection; the close callback holds a reference to lv. */
static int
open_conn(vs_libvirt *lv, const char *uri, virConnectPtr *ret, vs_err *err)
{
        virConnectPtr c;

        virSetErrorFunc(NULL, silent_error);
        c = virConnectOpen(uri);
        if (!c)
                return lv_fail(lv, NULL, err, "connecting to %s", uri);
        virConnSetErrorFunc(c, NULL, silent_error);
        /* Fails without an event loop, and on drivers without keepalive
         * (test:///): then a dead link shows up as failing calls instead. */
        if (virConnectSetKeepAlive(c, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT) < 0)
                virResetLastError();
        /* No reference for this one: drivers without close callbacks
         * (test:///) accept the registration and never call a free
         * function, and unregistering is synchronous (libvirt runs the
         * callback under the lock that unregistering takes). */
        if (virConnectRegisterCloseCallback(c, close_cb, lv, NULL) < 0)
                virResetLastError();
        *ret = c;
        return 0;
}

static void
close_conn(virConnectPtr c)
{
        if (!c)
                return;
        if (virConnectUnregisterCloseCallback(c, close_cb) < 0)
                virResetLastError();
        virConnectClose(c);
}

static bool
lv_alive(vs_virt *v)
{
        return !atomic_load(&lv_of(v)->dead);
}

static int
lv_reconnect(vs_virt *v, vs_err *err)
{
        vs_libvirt *lv = lv_of(v);
        virConnectPtr c = NULL, old;
        bool watched;
        int r;

        pthread_mutex_lock(&lv->watch_lock);
        r = open_conn(lv, v->uri, &c, err);
        if (r < 0)
                goto out;
        watched = lv->cb_conn != NULL;
        if (watched) {
                deregister_events(lv);
                r = register_events(lv, c, err);
                if (r < 0) {
                        close_conn(c);
                        goto out;
                }
        }
        pthread_mutex_lock(&lv->lock);
        old = lv->conn;
        lv->conn = c;
        atomic_store(&lv->dead, false);
        pthread_mutex_unlock(&lv->lock);
        doms_drop(lv); /* the old connection's: they hold it open */
        close_conn(old);
out:
        pthread_mutex_unlock(&lv->watch_lock);
        return r;
}

static void
lv_free(vs_virt *v)
{
        vs_libvirt *lv = lv_of(v);
        virConnectPtr c;

        pthread_mutex_lock(&lv->watch_lock);
        pthread_mutex_lock(&lv->lock);
        lv->watch = NULL;
        c = lv->conn;
        lv->conn = NULL;
        pthread_mutex_unlock(&lv->lock);
        doms_drop(lv); /* they hold the connection too */
        deregister_events(lv);
        close_conn(c);
        pthread_mutex_unlock(&lv->watch_lock);
        lv_unref(lv);
}

static const vs_virt_ops libvirt_ops = {
        .name = "libvirt",
        .list_domains = lv_list_domains,
        .create_snapshot = lv_create_snapshot,
        .list_snapshots = lv_list_snapshots,
        .delete_snapshots = lv_delete_snapshots,
        .revert_snapshot = lv_revert_snapshot,
        .free = lv_free,
        .alive = lv_alive,
        .reconnect = lv_reconnect,
        .watch = lv_watch,
        .unwatch = lv_unwatch,
};

int
vs__libvirt_open(const char *uri, vs_virt **ret, vs_err *err)
{
        vs_libvirt *lv;
        int r;

        if (!uri || !*uri)
                return vs_err_set(err, EINVAL, "libvirt", "no connection URI");
        lv = calloc(1, sizeof(*lv));
        if (!lv)
                return vs_err_set(err, ENOMEM, "virt", "out of memory");
        atomic_init(&lv->refs, 1);
        atomic_init(&lv->dead, false);
        lv->cb_lifecycle = lv->cb_agent = -1;
        if (pthread_mutex_init(&lv->lock, NULL) != 0) {
                free(lv);
                return vs_err_set(err, ENOMEM, "virt", "pthread_mutex_init failed");
        }
        if (pthread_mutex_init(&lv->watch_lock, NULL) != 0) {
                pthread_mutex_destroy(&lv->lock);
                free(lv);
                return vs_err_set(err, ENOMEM, "virt", "pthread_mutex_init failed");
        }
        r = vs__virt_init(&lv->base, &libvirt_ops, uri);
        if (r < 0) {
                lv_unref(lv);
                return vs_err_set(err, ENOMEM, "virt", "out of memory");
        }
        lv->local = uri_is_local(uri);
        r = open_conn(lv, uri, &lv->conn, err);
        if (r < 0) {
                lv_unref(lv);
                return r;
        }
        *ret = &lv->base;
        return 0;
}

int
vs__libvirt_init(vs_err *err)
{
        virSetErrorFunc(NULL, silent_error);
        if (virInitialize() < 0) {
                virResetLastError();
                return vs_err_set(err, EIO, "libvirt", "cannot initialise libvirt");
        }
        return 0;
}

/* The module's one exported symbol (virt-module.h; virtsnap-libvirt.sym). */
const vs_virt_module vs_virt_module_libvirt = {
        .abi = VS_VIRT_MODULE_ABI,
        .version = VS_VERSION,
        .init = vs__libvirt_init,
        .open = vs__libvirt_open,
        .events_start = vs__libvirt_events_start,
        .events_stop = vs__libvirt_events_stop,
};
