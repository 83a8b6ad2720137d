/* The fault-injecting in-memory hypervisor (see virt-fake.h).  One mutex
 * guards everything; a blocked call waits on a condition variable that the
 * test broadcasts when it releases the operation or checks who is waiting.
 * Snapshot trees are flat arrays with parent names, enough for re-parenting
 * on delete and for ownership checks. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"
#include "virt-backend.h"
#include "virt-fake.h"

typedef struct fake_snap {
        char *name;
        char *parent;
        int64_t time;
        char *owner;
        char *description;
        bool undeletable;           /* libvirt refuses to delete it (a mixed chain) */
} fake_snap;

typedef struct fake_domain {
        char *name;
        char uuid[37];
        vs_domain_state state;
        char **tags;
        fake_snap *snaps;
        size_t n_snaps;
        char *current;
        char *last_created;
} fake_domain;

typedef struct fake_fault {
        unsigned skip;          /* calls still to let through */
        unsigned count;         /* calls to fail after that */
        bool always;
        int errnum;
        bool transient;
        vs_err_skip cause;      /* a refusal (busy, guard) rather than a failure */
        char msg[256];
} fake_fault;

typedef struct vs_fake {
        vs_virt base;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        fake_domain *doms;
        size_t n_doms;
        int64_t now;
        fake_fault faults[VS_FAKE_N_OPS];
        bool blocked[VS_FAKE_N_OPS];
        unsigned waiting[VS_FAKE_N_OPS];
        unsigned calls[VS_FAKE_N_OPS];
        vs_fake_probe_fn probe[VS_FAKE_N_OPS];
        void *probe_data[VS_FAKE_N_OPS];
        unsigned refs;              /* vs_virt_free drops one */
        bool dead;                  /* the connection is gone until reconnected */
        bool unreachable;           /* reconnects fail while set */
        unsigned reconnects;
        vs_virt_watch *watch;
} vs_fake;

static const char *const op_names[VS_FAKE_N_OPS] = {
        "list_domains", "create_snapshot", "list_snapshots", "delete_snapshots", "revert_snapshot",
};

static vs_fake *
fake_of(vs_virt *v)
{
        return (vs_fake *)v;
}

static fake_domain *
find_domain(vs_fake *f, const char *name)
{
        for (size_t i = 0; i < f->n_doms; i++)
                if (strcmp(f->doms[i].name, name) == 0)
                        return &f->doms[i];
        return NULL;
}

static fake_snap *
find_snap(fake_domain *d, const char *name)
{
        for (size_t i = 0; i < d->n_snaps; i++)
                if (strcmp(d->snaps[i].name, name) == 0)
                        return &d->snaps[i];
        return NULL;
}

/* Entry to every op, lock held on return: wait while blocked, count the
 * call, and apply an injected fault (returns its -errno, err filled). */
static int
op_enter(vs_fake *f, vs_fake_op op, vs_err *err)
{
        fake_fault *ft = &f->faults[op];
        vs_fake_probe_fn probe;
        void *probe_data;

        pthread_mutex_lock(&f->lock);
        probe = f->probe[op];
        probe_data = f->probe_data[op];
        pthread_mutex_unlock(&f->lock);
        if (probe)
                probe(probe_data);
        pthread_mutex_lock(&f->lock);
        f->waiting[op]++;
        pthread_cond_broadcast(&f->cond);
        while (f->blocked[op])
                pthread_cond_wait(&f->cond, &f->lock);
        f->waiting[op]--;
        f->calls[op]++;
        if (f->dead) {
                vs_err_set(err, ECONNRESET, "fake", "%s: connection is down", op_names[op]);
                if (err)
                        err->transient = true;
                return -ECONNRESET;
        }
        if (ft->always || (ft->count > 0 && ft->skip == 0)) {
                if (!ft->always)
                        ft->count--;
                if (ft->cause != VS_SKIP_NONE) {
                        /* A refusal reads as the backend's own words. */
                        vs_err_set(err, ft->errnum, "fake", "%s", ft->msg);
                        if (err)
                                err->skip = ft->cause;
                        return -ft->errnum;
                }
                vs_err_set(err, ft->errnum, "fake", "%s: %s", op_names[op], ft->msg);
                if (err)
                        err->transient = ft->transient;
                return -ft->errnum;
        }
        if (ft->count > 0 && ft->skip > 0)
                ft->skip--;
        return 0;
}

static int
fake_list_domains(vs_virt *v, unsigned flags, vs_domain_list *ret, vs_err *err)
{
        vs_fake *f = fake_of(v);
        int r = op_enter(f, VS_FAKE_LIST_DOMAINS, err);

        if (r < 0)
                goto out;
        ret->items = calloc(f->n_doms ? f->n_doms : 1, sizeof(*ret->items));
        ret->n = 0;
        if (!ret->items) {
                r = vs_err_set(err, ENOMEM, "fake", "out of memory");
                goto out;
        }
        for (size_t i = 0; i < f->n_doms; i++) {
                vs_domain_info *d = &ret->items[ret->n++];

                d->name = strdup(f->doms[i].name);
                memcpy(d->uuid, f->doms[i].uuid, sizeof(d->uuid));
                d->state = f->doms[i].state;
                d->persistent = true;
                d->tags = f->doms[i].tags && !(flags & VS_LIST_DOMAINS_NO_TAGS) ? vs_strv_copy(f->doms[i].tags)
                                                                                  : NULL;
        }
out:
        pthread_mutex_unlock(&f->lock);
        return r;
}

static int
add_snap(fake_domain *d, const char *name, int64_t t, const char *owner, const char *description)
{
        fake_snap *n = realloc(d->snaps, (d->n_snaps + 1) * sizeof(*n));
        fake_snap *s;

        if (!n)
                return -ENOMEM;
        d->snaps = n;
        s = &d->snaps[d->n_snaps++];
        memset(s, 0, sizeof(*s));
        s->name = strdup(name);
        s->parent = d->current ? strdup(d->current) : NULL;
        s->time = t;
        s->owner = owner ? strdup(owner) : NULL;
        s->description = description ? strdup(description) : NULL;
        free(d->current);
        d->current = strdup(name);
        return 0;
}

static int
fake_create(vs_virt *v, const vs_create_request *req, vs_create_result *ret, vs_err *err)
{
        vs_fake *f = fake_of(v);
        int r = op_enter(f, VS_FAKE_CREATE, err);
        fake_domain *d;
        char name[96];

        if (r < 0)
                goto out;
        d = find_domain(f, req->domain);
        if (!d) {
                r = vs_err_set(err, ENOENT, "fake", "no domain '%s'", req->domain);
                goto out;
        }
        snprintf(name, sizeof(name), "%s", req->name);
        for (int i = 1; find_snap(d, name); i++)
                snprintf(name, sizeof(name), "%s-%d", req->name, i);
        r = add_snap(d, name, f->now, req->policy, req->description);
        if (r < 0)
                goto out;
        free(d->last_created);
        d->last_created = strdup(name);
        memset(ret, 0, sizeof(*ret));
        ret->name = strdup(name);
        if (d->state == VS_DOMAIN_SHUTOFF)
                ret->consistency = VS_CONSISTENCY_OFFLINE; /* as virt-libvirt.c */
        else if (req->spec->type == VS_SNAP_INTERNAL && d->state == VS_DOMAIN_RUNNING)
                ret->consistency = VS_CONSISTENCY_MEMORY;
        else if (req->spec->quiesce != VS_QUIESCE_OFF && req->spec->type != VS_SNAP_INTERNAL &&
                 d->state == VS_DOMAIN_RUNNING)
                ret->consistency = VS_CONSISTENCY_QUIESCED;
        else
                ret->consistency = VS_CONSISTENCY_CRASH;
out:
        pthread_mutex_unlock(&f->lock);
        return r;
}

static int
fake_list_snapshots(vs_virt *v, const char *domain, const char *uuid, unsigned flags, vs_snapshot_tree *ret,
                    vs_err *err)
{
        vs_fake *f = fake_of(v);
        int r = op_enter(f, VS_FAKE_LIST_SNAPSHOTS, err);
        fake_domain *d;

        if (r < 0)
                goto out;
        d = find_domain(f, domain);
        if (!d) {
                r = vs_err_set(err, ENOENT, "fake", "no domain '%s'", domain);
                goto out;
        }
        ret->n = 0;
        ret->items = calloc(d->n_snaps ? d->n_snaps : 1, sizeof(*ret->items));
        if (!ret->items) {
                r = vs_err_set(err, ENOMEM, "fake", "out of memory");
                goto out;
        }
        for (size_t i = 0; i < d->n_snaps; i++) {
                vs_snapshot_info *s = &ret->items[ret->n++];
                fake_snap *fs = &d->snaps[i];

                s->name = strdup(fs->name);
                s->parent = fs->parent ? strdup(fs->parent) : NULL;
                s->creation_time = fs->time;
                s->state = strdup(d->state == VS_DOMAIN_RUNNING ? "running" : "shutoff");
                s->current = d->current && strcmp(d->current, fs->name) == 0;
                s->description = fs->description ? strdup(fs->description) : NULL;
                s->owner_policy = fs->owner ? strdup(fs->owner) : NULL;
        }
out:
        pthread_mutex_unlock(&f->lock);
        return r;
}

static void
remove_snap(fake_domain *d, size_t idx)
{
        fake_snap *s = &d->snaps[idx];

        /* libvirt re-parents the children onto the deleted one's parent. */
        for (size_t i = 0; i < d->n_snaps; i++)
                if (d->snaps[i].parent && strcmp(d->snaps[i].parent, s->name) == 0) {
                        free(d->snaps[i].parent);
                        d->snaps[i].parent = s->parent ? strdup(s->parent) : NULL;
                }
        if (d->current && strcmp(d->current, s->name) == 0) {
                free(d->current);
                d->current = s->parent ? strdup(s->parent) : NULL;
        }
        free(s->name);
        free(s->parent);
        free(s->owner);
        free(s->description);
        memmove(s, s + 1, (d->n_snaps - idx - 1) * sizeof(*s));
        d->n_snaps--;
}

static int
fake_delete(vs_virt *v, const char *domain, const vs_snapshot_tree *tree, char *const *names,
            vs_delete_results *ret, vs_err *err)
{
        vs_fake *f = fake_of(v);
        int r = op_enter(f, VS_FAKE_DELETE, err);
        size_t n = vs_strv_length(names);
        fake_domain *d;

        /* The fake's own state is the truth: a caller's tree changes nothing
         * here (the libvirt backend plans from it). */
        (void)tree;
        if (r < 0)
                goto out;
        d = find_domain(f, domain);
        if (!d) {
                r = vs_err_set(err, ENOENT, "fake", "no domain '%s'", domain);
                goto out;
        }
        ret->n = 0;
        ret->items = calloc(n ? n : 1, sizeof(*ret->items));
        if (!ret->items) {
                r = vs_err_set(err, ENOMEM, "fake", "out of memory");
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                vs_delete_result *res = &ret->items[ret->n++];
                fake_snap *s = find_snap(d, names[i]);

                res->name = strdup(names[i]);
                if (!s) {
                        /* As virt-libvirt.c: already gone, nothing done. */
                        res->outcome = VS_DELETE_MISSING;
                        vs_err_set(&res->err, ENOENT, "fake", "no snapshot '%s'", names[i]);
                } else if (!s->owner) {
                        res->outcome = VS_DELETE_REFUSED;
                        vs_err_set(&res->err, EPERM, "fake", "'%s' is not virtsnap's", names[i]);
                } else if (s->undeletable) {
                        res->outcome = VS_DELETE_UNDELETABLE;
                        vs_err_set(&res->err, ENOTSUP, "fake",
                                   "deleting external snapshot that has internal snapshot as parent not supported");
                } else {
                        res->outcome = VS_DELETE_DELETED;
                        remove_snap(d, (size_t)(s - d->snaps));
                }
        }
out:
        pthread_mutex_unlock(&f->lock);
        return r;
}

static void
domain_clear(fake_domain *d)
{
        while (d->n_snaps)
                remove_snap(d, d->n_snaps - 1);
        free(d->snaps);
        free(d->name);
        free(d->current);
        free(d->last_created);
        vs_strv_free(d->tags);
}

static void
fake_free(vs_virt *v)
{
        vs_fake *f = fake_of(v);

        pthread_mutex_lock(&f->lock);
        if (--f->refs > 0) {
                pthread_mutex_unlock(&f->lock);
                return;
        }
        pthread_mutex_unlock(&f->lock);

        for (size_t i = 0; i < f->n_doms; i++)
                domain_clear(&f->doms[i]);
        free(f->doms);
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->cond);
        free(f->base.uri);
        free(f);
}

static bool
fake_alive(vs_virt *v)
{
        vs_fake *f = fake_of(v);
        bool alive;

        pthread_mutex_lock(&f->lock);
        alive = !f->dead;
        pthread_mutex_unlock(&f->lock);
        return alive;
}

static int
fake_reconnect(vs_virt *v, vs_err *err)
{
        vs_fake *f = fake_of(v);
        int r = 0;

        pthread_mutex_lock(&f->lock);
        f->reconnects++;
        if (f->unreachable) {
                r = vs_err_set(err, ECONNREFUSED, "fake", "reconnect: hypervisor unreachable");
                if (err)
                        err->transient = true;
        } else {
                f->dead = false;
        }
        pthread_mutex_unlock(&f->lock);
        return r;
}

static int
fake_watch(vs_virt *v, vs_virt_watch *w, vs_err *err)
{
        vs_fake *f = fake_of(v);

        pthread_mutex_lock(&f->lock);
        f->watch = w;
        pthread_mutex_unlock(&f->lock);
        return 0;
}

static void
fake_unwatch(vs_virt *v, vs_virt_watch *w)
{
        vs_fake *f = fake_of(v);

        pthread_mutex_lock(&f->lock);
        if (f->watch == w)
                f->watch = NULL;
        pthread_mutex_unlock(&f->lock);
}

/* As libvirt: the snapshot becomes current (its domain state is not
 * modelled). */
static int
fake_revert(vs_virt *v, const char *domain, const char *snapshot, vs_domain_state *ret_state, vs_err *err)
{
        vs_fake *f = fake_of(v);
        int r = op_enter(f, VS_FAKE_REVERT, err);
        fake_domain *d;

        if (r < 0)
                goto out;
        d = find_domain(f, domain);
        if (!d) {
                r = vs_err_set(err, ENOENT, "fake", "no domain '%s'", domain);
                goto out;
        }
        if (!find_snap(d, snapshot)) {
                r = vs_err_set(err, ENOENT, "fake", "no snapshot '%s' of '%s'", snapshot, domain);
                goto out;
        }
        free(d->current);
        d->current = strdup(snapshot);
        if (ret_state)
                *ret_state = d->state;
out:
        pthread_mutex_unlock(&f->lock);
        return r;
}

static const vs_virt_ops fake_ops = {
        .name = "fake",
        .list_domains = fake_list_domains,
        .create_snapshot = fake_create,
        .list_snapshots = fake_list_snapshots,
        .delete_snapshots = fake_delete,
        .revert_snapshot = fake_revert,
        .free = fake_free,
        .alive = fake_alive,
        .reconnect = fake_reconnect,
        .watch = fake_watch,
        .unwatch = fake_unwatch,
};

int
vs_fake_set_undeletable(vs_virt *v, const char *domain, const char *name)
{
        vs_fake *f = fake_of(v);
        fake_domain *d;
        fake_snap *sn = NULL;

        pthread_mutex_lock(&f->lock);
        d = find_domain(f, domain);
        if (d)
                sn = find_snap(d, name);
        if (sn)
                sn->undeletable = true;
        pthread_mutex_unlock(&f->lock);
        return sn ? 0 : -ENOENT;
}

void
vs_fake_set_down(vs_virt *v, bool down)
{
        vs_fake *f = fake_of(v);

        pthread_mutex_lock(&f->lock);
        f->unreachable = down;
        if (down && !f->dead) {
                f->dead = true;
                if (f->watch)
                        vs__virt_watch_post(f->watch, VS_VIRT_EVENT_CONNECTION_CLOSED, NULL, NULL, 0);
        }
        pthread_mutex_unlock(&f->lock);
}

unsigned
vs_fake_reconnects(vs_virt *v)
{
        vs_fake *f = fake_of(v);
        unsigned n;

        pthread_mutex_lock(&f->lock);
        n = f->reconnects;
        pthread_mutex_unlock(&f->lock);
        return n;
}

int
vs_fake_new(const char *uri, vs_virt **ret)
{
        vs_fake *f = calloc(1, sizeof(*f));

        if (!f)
                return -ENOMEM;
        if (vs__virt_init(&f->base, &fake_ops, uri) < 0) {
                free(f);
                return -ENOMEM;
        }
        pthread_mutex_init(&f->lock, NULL);
        pthread_cond_init(&f->cond, NULL);
        f->refs = 1;
        *ret = &f->base;
        return 0;
}

int
vs_fake_add_domain(vs_virt *v, const char *name, const char *uuid, vs_domain_state state,
                   char *const *tags)
{
        vs_fake *f = fake_of(v);
        fake_domain *n, *d;
        int r = 0;

        pthread_mutex_lock(&f->lock);
        n = realloc(f->doms, (f->n_doms + 1) * sizeof(*n));
        if (!n) {
                r = -ENOMEM;
                goto out;
        }
        f->doms = n;
        d = &f->doms[f->n_doms++];
        memset(d, 0, sizeof(*d));
        d->name = strdup(name);
        snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
        d->state = state;
        d->tags = tags ? vs_strv_copy(tags) : NULL;
        if (f->watch)
                vs__virt_watch_post(f->watch, VS_VIRT_EVENT_DEFINED, name, uuid, 0);
out:
        pthread_mutex_unlock(&f->lock);
        return r;
}

int
vs_fake_remove_snapshot(vs_virt *v, const char *domain, const char *name)
{
        vs_fake *f = fake_of(v);
        fake_domain *d;
        fake_snap *snap;
        int r = -ENOENT;

        pthread_mutex_lock(&f->lock);
        d = find_domain(f, domain);
        snap = d ? find_snap(d, name) : NULL;
        if (snap) {
                remove_snap(d, (size_t)(snap - d->snaps));
                r = 0;
        }
        pthread_mutex_unlock(&f->lock);
        return r;
}

int
vs_fake_remove_domain(vs_virt *v, const char *name)
{
        vs_fake *f = fake_of(v);
        fake_domain *d;
        int r = -ENOENT;

        pthread_mutex_lock(&f->lock);
        d = find_domain(f, name);
        if (d) {
                if (f->watch)
                        vs__virt_watch_post(f->watch, VS_VIRT_EVENT_UNDEFINED, d->name, d->uuid, 0);
                domain_clear(d);
                memmove(d, d + 1, (f->n_doms - (size_t)(d - f->doms) - 1) * sizeof(*d));
                f->n_doms--;
                r = 0;
        }
        pthread_mutex_unlock(&f->lock);
        return r;
}

int
vs_fake_add_snapshot(vs_virt *v, const char *domain, const char *name, int64_t creation_time,
                     const char *owner)
{
        vs_fake *f = fake_of(v);
        fake_domain *d;
        int r = -ENOENT;

        pthread_mutex_lock(&f->lock);
        d = find_domain(f, domain);
        if (d)
                r = find_snap(d, name) ? -EEXIST : add_snap(d, name, creation_time, owner, NULL);
        pthread_mutex_unlock(&f->lock);
        return r;
}

void
vs_fake_set_time(vs_virt *v, int64_t t)
{
        vs_fake *f = fake_of(v);

        pthread_mutex_lock(&f->lock);
        f->now = t;
        pthread_mutex_unlock(&f->lock);
}

static void
set_fault(vs_fake *f, vs_fake_op op, unsigned skip, unsigned count, bool always, int errnum,
          bool transient, const char *msg)
{
        fake_fault *ft = &f->faults[op];

        pthread_mutex_lock(&f->lock);
        ft->skip = skip;
        ft->count = count;
        ft->always = always;
        ft->errnum = errnum;
        ft->transient = transient;
        ft->cause = VS_SKIP_NONE;
        snprintf(ft->msg, sizeof(ft->msg), "%s", msg ? msg : "injected failure");
        pthread_mutex_unlock(&f->lock);
}

void
vs_fake_fail(vs_virt *v, vs_fake_op op, unsigned nth, unsigned count, int errnum, bool transient,
             const char *msg)
{
        set_fault(fake_of(v), op, nth > 0 ? nth - 1 : 0, count, false, errnum, transient, msg);
}

void
vs_fake_refuse(vs_virt *v, vs_fake_op op, unsigned nth, unsigned count, vs_err_skip cause, const char *msg)
{
        vs_fake *f = fake_of(v);

        set_fault(f, op, nth > 0 ? nth - 1 : 0, count, false, cause == VS_SKIP_BUSY ? EBUSY : ENOSPC, false, msg);
        pthread_mutex_lock(&f->lock);
        f->faults[op].cause = cause;
        pthread_mutex_unlock(&f->lock);
}

void
vs_fake_fail_always(vs_virt *v, vs_fake_op op, int errnum, bool transient, const char *msg)
{
        set_fault(fake_of(v), op, 0, 0, true, errnum, transient, msg);
}

void
vs_fake_fail_clear(vs_virt *v, vs_fake_op op)
{
        set_fault(fake_of(v), op, 0, 0, false, 0, false, NULL);
}

void
vs_fake_block(vs_virt *v, vs_fake_op op)
{
        vs_fake *f = fake_of(v);

        pthread_mutex_lock(&f->lock);
        f->blocked[op] = true;
        pthread_mutex_unlock(&f->lock);
}

void
vs_fake_release(vs_virt *v, vs_fake_op op)
{
        vs_fake *f = fake_of(v);

        pthread_mutex_lock(&f->lock);
        f->blocked[op] = false;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
}

void
vs_fake_wait_blocked(vs_virt *v, vs_fake_op op, unsigned n)
{
        vs_fake *f = fake_of(v);

        pthread_mutex_lock(&f->lock);
        while (f->waiting[op] < n)
                pthread_cond_wait(&f->cond, &f->lock);
        pthread_mutex_unlock(&f->lock);
}

void
vs_fake_probe(vs_virt *v, vs_fake_op op, vs_fake_probe_fn fn, void *data)
{
        vs_fake *f = fake_of(v);

        pthread_mutex_lock(&f->lock);
        f->probe[op] = fn;
        f->probe_data[op] = data;
        pthread_mutex_unlock(&f->lock);
}

/* A counter the worker threads update, read under the lock. */
static unsigned
read_counter(vs_fake *f, const unsigned *counter)
{
        unsigned n;

        pthread_mutex_lock(&f->lock);
        n = *counter;
        pthread_mutex_unlock(&f->lock);
        return n;
}

unsigned
vs_fake_held(vs_virt *v, vs_fake_op op)
{
        vs_fake *f = fake_of(v);

        return read_counter(f, &f->waiting[op]);
}

unsigned
vs_fake_calls(vs_virt *v, vs_fake_op op)
{
        vs_fake *f = fake_of(v);

        return read_counter(f, &f->calls[op]);
}

size_t
vs_fake_snapshot_count(vs_virt *v, const char *domain)
{
        vs_fake *f = fake_of(v);
        fake_domain *d;
        size_t n = 0;

        pthread_mutex_lock(&f->lock);
        d = find_domain(f, domain);
        if (d)
                n = d->n_snaps;
        pthread_mutex_unlock(&f->lock);
        return n;
}

size_t
vs_fake_owned_count(vs_virt *v, const char *domain, const char *policy)
{
        vs_fake *f = fake_of(v);
        fake_domain *d;
        size_t n = 0;

        pthread_mutex_lock(&f->lock);
        d = find_domain(f, domain);
        for (size_t i = 0; d && i < d->n_snaps; i++) {
                const char *o = d->snaps[i].owner;

                if (policy ? o && strcmp(o, policy) == 0 : !o)
                        n++;
        }
        pthread_mutex_unlock(&f->lock);
        return n;
}

bool
vs_fake_has_snapshot(vs_virt *v, const char *domain, const char *name)
{
        vs_fake *f = fake_of(v);
        fake_domain *d;
        bool has;

        pthread_mutex_lock(&f->lock);
        d = find_domain(f, domain);
        has = d && find_snap(d, name);
        pthread_mutex_unlock(&f->lock);
        return has;
}

/* A copy of one of a domain's name fields (offset into fake_domain), under the lock. */
static char *
domain_field(vs_virt *v, const char *domain, size_t offset)
{
        vs_fake *f = fake_of(v);
        fake_domain *d;
        char *s = NULL;

        pthread_mutex_lock(&f->lock);
        d = find_domain(f, domain);
        if (d && *(char **)((char *)d + offset))
                s = strdup(*(char **)((char *)d + offset));
        pthread_mutex_unlock(&f->lock);
        return s;
}

char *
vs_fake_last_created(vs_virt *v, const char *domain)
{
        return domain_field(v, domain, offsetof(fake_domain, last_created));
}

char *
vs_fake_current(vs_virt *v, const char *domain)
{
        return domain_field(v, domain, offsetof(fake_domain, current));
}

vs_virt *
vs_fake_ref(vs_virt *v)
{
        vs_fake *f = fake_of(v);

        pthread_mutex_lock(&f->lock);
        f->refs++;
        pthread_mutex_unlock(&f->lock);
        return v;
}
