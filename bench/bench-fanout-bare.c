/* bench-fanout-bare: the physical limit that `virtsnap run --once` is
 * measured against in the fanout-* benchmarks.
 *
 * It makes exactly the libvirt calls `virtsnap run --once` makes for the same
 * job, in the same order and on the same threads, and nothing else: no
 * policy file, no database, no scheduling, no retention engine, no logging.
 * bench/README.md prints the per-function call counts of both programs
 * (libvirt's own API log) side by side.  The sequence, as virtsnap's
 * libvirt backend (virt/virt-libvirt.c) and scheduler make it:
 *
 *   connect     virConnectOpen, SetKeepAlive(5, 3), RegisterCloseCallback;
 *   refresh     GetAllDomainStats(STATE): every domain and its state in one
 *               call; per domain GetName, GetUUIDString (local);
 *               ListAllDomains(TRANSIENT) for the persistence; no metadata
 *               (no policy selects by tag);
 *   reconcile   on THREADS threads, each a slice of the domains, per
 *               domain, on the listing's handle (virtsnap keeps them; no
 *               lookup): ListAllSnapshots (TOPOLOGICAL),
 *               SnapshotGetXMLDesc of each (parsed); the domain and
 *               snapshot handles are kept for the job (virtsnap's tree
 *               hold);
 *   jobs        on THREADS threads, per domain, on the reconcile's handles:
 *               create: GetJobStats when the refresh said running (is the
 *               domain busy?), [disk-only: GetXMLDesc for the disks],
 *               SnapshotCreateXML, SnapshotGetXMLDesc of the new one (the
 *               tree the prune plans from);
 *               prune: SnapshotDelete of each of the oldest owned snapshots
 *               beyond KEEP, on the listed handles;
 *   disconnect  UnregisterCloseCallback, ConnectClose;
 *
 * with a virConnectRef/virConnectClose pair around every backend operation
 * (virtsnap's workers hold a reference to the shared connection).
 *
 * The snapshot XML is built by virtsnap's own builder (virt/snapshot-xml.h),
 * so the bytes sent are those virtsnap sends: name "POLICY-%Y%m%dT%H%M%SZ"
 * (UTC, "-2", "-3", ... when taken), description "virtsnap POLICY DOMAIN"
 * plus the ownership marker, and for disk-only an overlay beside each
 * writable disk's image, named as virtsnap names it, with DISK_ONLY | ATOMIC.
 *
 * --minimal does the same job with the fewest calls instead (the program's
 * first version): per domain, on THREADS threads, ListAllSnapshots + XML of
 * each, [GetXMLDesc], SnapshotCreateXML, SnapshotDelete of the oldest; no
 * refresh, no reconcile, no lookups by name.
 *
 * It prints one summary line to stderr ("created N deleted M failed F") and
 * exits 1 when anything failed, so the harness can check that both
 * contenders really did the work.  This is a benchmark program, the one
 * place outside virt/ that calls libvirt directly: that is its point. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "cleanup.h"
#include "snapshot-xml.h"
#include "strv.h"

#define MAX_THREADS 64

typedef struct bare {
        virConnectPtr conn;
        virDomainPtr *doms;     /* --minimal */
        char **names;           /* the exact sequence: domains by name */
        char **uuids;           /* ... their UUIDs */
        bool *active;           /* ... running or paused, as the refresh found them */
        struct tree *trees;     /* ... the reconcile's, for the jobs */
        virDomainPtr *handles;  /* ... the listing's (virtsnap keeps them) */
        int n_doms;
        bool minimal;
        atomic_int next;
        const char *policy;
        vs_snap_type type;
        int keep;
        char stamp[32];         /* %Y%m%dT%H%M%SZ of the run */
        atomic_int created, deleted, failed;
} bare;

typedef struct owned {
        virDomainSnapshotPtr snap;
        int64_t time;
        const char *name;
} owned;

static void
silent_error(void *userdata, virErrorPtr error)
{
        (void)userdata;
        (void)error;
}

static void
report(const char *what, const char *dom)
{
        virErrorPtr e = virGetLastError();

        fprintf(stderr, "bench-fanout-bare: %s %s: %s\n", what, dom, e && e->message ? e->message : "failed");
        virResetLastError();
}

static int
cmp_owned(const void *a, const void *b)
{
        const owned *x = a, *y = b;

        if (x->time != y->time)
                return (x->time > y->time) - (x->time < y->time);
        return strcmp(x->name, y->name);
}

/* virtsnap's naming: the wanted name, else name-2, name-3, ... */
static char *
unique_name(const char *want, char *const *taken)
{
        char buf[128];

        if (!vs_strv_contains(taken, want))
                return strdup(want);
        for (int k = 2; k < 1000; k++) {
                snprintf(buf, sizeof(buf), "%s-%d", want, k);
                if (!vs_strv_contains(taken, buf))
                        return strdup(buf);
        }
        return NULL;
}

/* The image's base name without its extension, or without the
 * ".<snapshot>" suffix an earlier overlay got (as virtsnap names overlays). */
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

static bool
disk_writable(const vs_domain_disk *d)
{
        return (strcmp(d->device, "disk") == 0 || strcmp(d->device, "lun") == 0) && !d->readonly && d->source;
}

/* The domain's disks, from its XML (one virDomainGetXMLDesc). */
static int
read_disks(virDomainPtr d, vs_domain_disks *disks)
{
        _cleanup_free_ char *domxml = virDomainGetXMLDesc(d, 0);
        vs_err err = { 0 };

        if (!domxml)
                return -EIO;
        if (vs__domain_disks_parse(domxml, disks, &err) < 0)
                return -EINVAL;
        return 0;
}

/* Overlays for every writable disk, beside its image; NULL-terminated
 * `files` owns the paths the xdisks point to. */
static int
plan_overlays(const char *snapname, char *const *snapnames, const vs_domain_disks *disks,
              vs_snapshot_xml_disk **ret_x, char ***files)
{
        vs_snapshot_xml_disk *x;

        x = calloc(disks->n + 1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        for (size_t j = 0; j < disks->n; j++) {
                const vs_domain_disk *dk = &disks->items[j];
                _cleanup_free_ char *base = NULL;
                const char *slash;
                char *path = NULL;
                struct stat st;

                x[j].name = dk->target;
                if (!disk_writable(dk))
                        continue;
                base = image_base(dk->source, snapnames);
                slash = strrchr(dk->source, '/');
                if (!base || !slash)
                        goto fail;
                for (int k = 1; k < 1000; k++) {
                        free(path);
                        path = NULL;
                        if ((k == 1 ? asprintf(&path, "%.*s/%s.%s", (int)(slash - dk->source), dk->source, base,
                                               snapname)
                                    : asprintf(&path, "%.*s/%s.%s-%d", (int)(slash - dk->source), dk->source,
                                               base, snapname, k)) < 0) {
                                path = NULL;
                                goto fail;
                        }
                        if (!vs_strv_contains(*files, path) && lstat(path, &st) < 0)
                                break;
                }
                if (vs_strv_consume(files, path) < 0)
                        goto fail;
                x[j].file = path;
        }
        *ret_x = x;
        return 0;
fail:
        free(x);
        return -ENOMEM;
}

static void
minimal_domain(bare *b, virDomainPtr d)
{
        const char *dom = virDomainGetName(d);
        virDomainSnapshotPtr *snaps = NULL;
        owned *mine = NULL;
        char **names = NULL, **files = NULL;
        char *name = NULL, *desc = NULL, *xml = NULL, want[96];
        vs_domain_disks disks = { 0 };
        vs_snapshot_xml_disk *xdisks = NULL;
        vs_snapshot_xml_params xp = { .owner = b->policy, .type = b->type };
        virDomainSnapshotPtr s;
        size_t n_mine = 0;
        unsigned flags = 0;
        vs_err err = { 0 };
        int n;

        n = virDomainListAllSnapshots(d, &snaps, 0);
        if (n < 0) {
                report("listing snapshots of", dom);
                goto fail;
        }
        mine = calloc((size_t)n + 1, sizeof(*mine));
        if (!mine)
                goto fail;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *sx = virDomainSnapshotGetXMLDesc(snaps[i], 0);
                vs_snapshot_info info = { 0 };

                if (!sx) {
                        report("reading a snapshot of", dom);
                        goto fail;
                }
                if (vs__snapshot_xml_parse(sx, &info, &err) < 0) {
                        fprintf(stderr, "bench-fanout-bare: %s: %s\n", dom, err.msg);
                        goto fail;
                }
                if (vs_strv_push(&names, info.name) < 0) {
                        vs__snapshot_info_clear(&info);
                        goto fail;
                }
                if (info.owner_policy && strcmp(info.owner_policy, b->policy) == 0) {
                        mine[n_mine].snap = snaps[i];
                        mine[n_mine].time = info.creation_time;
                        mine[n_mine].name = virDomainSnapshotGetName(snaps[i]);
                        n_mine++;
                }
                vs__snapshot_info_clear(&info);
        }

        snprintf(want, sizeof(want), "%s-%s", b->policy, b->stamp);
        name = unique_name(want, names);
        if (!name || asprintf(&desc, "virtsnap %s %s", b->policy, dom) < 0) {
                desc = NULL;
                goto fail;
        }
        xp.name = name;
        xp.description = desc;
        if (b->type == VS_SNAP_DISK_ONLY) {
                if (read_disks(d, &disks) < 0 || plan_overlays(name, names, &disks, &xdisks, &files) < 0) {
                        report("reading the disks of", dom);
                        goto fail;
                }
                xp.disks = xdisks;
                xp.n_disks = disks.n;
                flags = VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC;
        }
        if (vs__snapshot_xml_build(&xp, &xml, &err) < 0) {
                fprintf(stderr, "bench-fanout-bare: %s: %s\n", dom, err.msg);
                goto fail;
        }
        s = virDomainSnapshotCreateXML(d, xml, flags);
        if (!s) {
                report("creating a snapshot of", dom);
                goto fail;
        }
        virDomainSnapshotFree(s);
        atomic_fetch_add(&b->created, 1);

        /* One more is now owned; delete the oldest beyond `keep`. */
        qsort(mine, n_mine, sizeof(*mine), cmp_owned);
        for (size_t i = 0; i + (size_t)b->keep < n_mine + 1 && i < n_mine; i++) {
                if (virDomainSnapshotDelete(mine[i].snap, 0) < 0) {
                        report("deleting a snapshot of", dom);
                        goto fail;
                }
                atomic_fetch_add(&b->deleted, 1);
        }
        goto out;
fail:
        atomic_fetch_add(&b->failed, 1);
out:
        for (int i = 0; i < n; i++)
                virDomainSnapshotFree(snaps[i]);
        free(snaps);
        free(mine);
        vs_strv_free(names);
        vs_strv_free(files);
        free(xdisks);
        vs__domain_disks_clear(&disks);
        free(name);
        free(desc);
        free(xml);
}

/* ---- the exact sequence of `virtsnap run --once` ---------------------------- */

/* A domain's tree with the handles virtsnap's hold keeps: the domain and
 * each snapshot (parallel to items), one spare slot for the new one. */
typedef struct tree {
        vs_snapshot_info *items;
        virDomainSnapshotPtr *snaps;
        size_t n;
        virDomainPtr dom;
        virConnectPtr conn;     /* the hold keeps a reference */
} tree;

static void
tree_clear(tree *t)
{
        for (size_t i = 0; i < t->n; i++) {
                vs__snapshot_info_clear(&t->items[i]);
                if (t->snaps && t->snaps[i])
                        virDomainSnapshotFree(t->snaps[i]);
        }
        free(t->items);
        free(t->snaps);
        if (t->dom)
                virDomainFree(t->dom);
        if (t->conn)
                virConnectClose(t->conn);
        *t = (tree){ 0 };
}

/* virtsnap's list_tree for a reconcile: every snapshot's XML, parsed, the
 * handles kept; no question of which is current. */
static int
list_tree(virConnectPtr c, virDomainPtr d, tree *ret)
{
        virDomainSnapshotPtr *snaps = NULL;
        tree out = { 0 };
        vs_err err = { 0 };
        int n, r = 0;

        n = virDomainListAllSnapshots(d, &snaps, VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL);
        if (n < 0)
                return -EIO;
        out.items = calloc((size_t)n + 2, sizeof(*out.items));
        out.snaps = calloc((size_t)n + 2, sizeof(*out.snaps));
        if (!out.items || !out.snaps) {
                r = -ENOMEM;
                goto out;
        }
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *xml = virDomainSnapshotGetXMLDesc(snaps[i], 0);

                if (!xml || vs__snapshot_xml_parse(xml, &out.items[out.n], &err) < 0) {
                        r = -EIO;
                        goto out;
                }
                out.snaps[out.n++] = snaps[i];
                snaps[i] = NULL;
        }
        virDomainRef(d);
        out.dom = d;
        virConnectRef(c);
        out.conn = c;
out:
        for (int i = 0; i < n; i++)
                if (snaps[i])
                        virDomainSnapshotFree(snaps[i]);
        free(snaps);
        if (r < 0) {
                tree_clear(&out);
                return r;
        }
        *ret = out;
        return 0;
}

static void
close_cb(virConnectPtr conn, int reason, void *opaque)
{
        (void)conn;
        (void)reason;
        (void)opaque;
}

typedef struct listed {
        char *name;
        char uuid[VIR_UUID_STRING_BUFLEN];
        bool active;
        virDomainPtr d;
} listed;

static int
cmp_listed(const void *a, const void *b)
{
        return strcmp(((const listed *)a)->name, ((const listed *)b)->name);
}

/* virtsnap's refresh: every domain with its state in one call, the
 * transient ones in another, then their names, sorted. */
static int
refresh(bare *b)
{
        virConnectPtr c = b->conn;
        virDomainStatsRecordPtr *recs = NULL;
        virDomainPtr *trans = NULL;
        listed *l = NULL;
        int n, nt, r = 0, kept = 0;

        virConnectRef(c);
        n = virConnectGetAllDomainStats(c, VIR_DOMAIN_STATS_STATE, &recs, 0);
        nt = n < 0 ? -1 : virConnectListAllDomains(c, &trans, VIR_CONNECT_LIST_DOMAINS_TRANSIENT);
        if (n < 0 || nt < 0) {
                if (recs)
                        virDomainStatsRecordListFree(recs);
                virConnectClose(c);
                return -EIO;
        }
        for (int i = 0; i < nt; i++) {
                char uuid[VIR_UUID_STRING_BUFLEN];

                if (virDomainGetUUIDString(trans[i], uuid) < 0)
                        virResetLastError();
                virDomainFree(trans[i]);
        }
        free(trans);
        l = calloc((size_t)n + 1, sizeof(*l));
        b->names = calloc((size_t)n + 1, sizeof(char *));
        b->uuids = calloc((size_t)n + 1, sizeof(char *));
        b->active = calloc((size_t)n + 1, sizeof(bool));
        b->trees = calloc((size_t)n + 1, sizeof(tree));
        b->handles = calloc((size_t)n + 1, sizeof(virDomainPtr));
        if (!l || !b->names || !b->uuids || !b->active || !b->trees || !b->handles)
                r = -ENOMEM;
        for (int i = 0; i < n && r == 0; i++) {
                const char *name = virDomainGetName(recs[i]->dom);
                int state = 0;

                if (virTypedParamsGetInt(recs[i]->params, recs[i]->nparams, "state.state", &state) < 0)
                        state = 0;
                if (virDomainGetUUIDString(recs[i]->dom, l[kept].uuid) < 0) {
                        r = -EIO;
                        break;
                }
                l[kept].active = state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED ||
                                 state == VIR_DOMAIN_PAUSED || state == VIR_DOMAIN_PMSUSPENDED;
                /* virtsnap keeps the listed handles: no lookup later */
                if (virDomainRef(recs[i]->dom) == 0)
                        l[kept].d = recs[i]->dom;
                l[kept].name = strdup(name);
                if (!l[kept++].name)
                        r = -ENOMEM;
        }
        virDomainStatsRecordListFree(recs);
        virConnectClose(c);
        if (r == 0) {
                qsort(l, (size_t)kept, sizeof(*l), cmp_listed);
                for (int i = 0; i < kept && r == 0; i++) {
                        b->names[i] = l[i].name;
                        l[i].name = NULL;
                        b->active[i] = l[i].active;
                        b->handles[i] = l[i].d;
                        l[i].d = NULL;
                        if (!(b->uuids[i] = strdup(l[i].uuid)))
                                r = -ENOMEM;
                }
                b->n_doms = kept;
        }
        for (int i = 0; l && i < kept; i++) {
                free(l[i].name);
                if (l[i].d)
                        virDomainFree(l[i].d);
        }
        free(l);
        return r;
}

/* virtsnap's reconcile: every domain's tree, on the listing's handle, kept
 * with its snapshot handles for the job, split as virtsnap splits it: up to
 * THREADS workers, each a contiguous slice of the domains. */
typedef struct rec_slice {
        bare *b;
        int from, to, r;
        bool started;
        pthread_t thread;
} rec_slice;

static void *
reconcile_slice(void *arg)
{
        rec_slice *sl = arg;
        bare *b = sl->b;

        for (int i = sl->from; i < sl->to && sl->r == 0; i++) {
                virDomainPtr d = b->handles[i];

                virConnectRef(b->conn);
                if (d)
                        virDomainRef(d);
                sl->r = d ? list_tree(b->conn, d, &b->trees[i]) : -EIO;
                if (d)
                        virDomainFree(d);
                virConnectClose(b->conn);
                if (sl->r < 0)
                        report("reconciling", b->names[i]);
        }
        return NULL;
}

static int
reconcile(bare *b, int n_threads)
{
        rec_slice sl[MAX_THREADS];
        int k = n_threads < b->n_doms ? n_threads : b->n_doms, r = 0;

        for (int i = 0; i < k; i++) {
                sl[i] = (rec_slice){ .b = b, .from = b->n_doms * i / k, .to = b->n_doms * (i + 1) / k };
                sl[i].started = pthread_create(&sl[i].thread, NULL, reconcile_slice, &sl[i]) == 0;
                if (!sl[i].started)
                        reconcile_slice(&sl[i]);
        }
        for (int i = 0; i < k; i++) {
                if (sl[i].started)
                        pthread_join(sl[i].thread, NULL);
                if (sl[i].r < 0)
                        r = sl[i].r;
        }
        return r;
}

static int
cmp_info_age(const void *a, const void *b)
{
        const vs_snapshot_info *x = *(vs_snapshot_info *const *)a, *y = *(vs_snapshot_info *const *)b;

        if (x->creation_time != y->creation_time)
                return (x->creation_time > y->creation_time) - (x->creation_time < y->creation_time);
        return strcmp(x->name, y->name);
}

/* One job on the reconcile's tree and handles: create, then prune the
 * oldest owned snapshots beyond `keep` from the tree with the new one. */
static void
exact_domain(bare *b, int k)
{
        virConnectPtr c = b->conn;
        const char *dom = b->names[k];
        tree *t = &b->trees[k];
        virDomainPtr d = t->dom;
        virDomainSnapshotPtr s = NULL;
        vs_snapshot_info **mine = NULL;
        char **names = NULL, **files = NULL;
        char *name = NULL, *desc = NULL, *xml = NULL, want[96];
        vs_domain_disks disks = { 0 };
        vs_snapshot_xml_disk *xdisks = NULL;
        vs_snapshot_xml_params xp = { .owner = b->policy, .type = b->type };
        size_t n_mine = 0;
        unsigned flags = 0;
        vs_err err = { 0 };

        /* create */
        virConnectRef(c);
        if (!d) {
                report("looking up", dom);
                goto fail_conn;
        }
        virDomainRef(d);
        /* virtsnap asks whether a running domain is in a job of its own. */
        if (b->active[k]) {
                virTypedParameterPtr params = NULL;
                int jtype = 0, nparams = 0;

                if (virDomainGetJobStats(d, &jtype, &params, &nparams, 0) == 0)
                        virTypedParamsFree(params, nparams);
                else
                        virResetLastError();
        }
        if (b->type == VS_SNAP_DISK_ONLY && read_disks(d, &disks) < 0) {
                report("reading the disks of", dom);
                goto fail_conn;
        }
        names = calloc(t->n + 1, sizeof(char *));
        if (!names)
                goto fail_conn;
        for (size_t i = 0; i < t->n; i++)
                names[i] = t->items[i].name;
        snprintf(want, sizeof(want), "%s-%s", b->policy, b->stamp);
        name = unique_name(want, names);
        if (!name || asprintf(&desc, "virtsnap %s %s", b->policy, dom) < 0) {
                desc = NULL;
                goto fail_conn;
        }
        xp.name = name;
        xp.description = desc;
        if (b->type == VS_SNAP_DISK_ONLY) {
                if (plan_overlays(name, names, &disks, &xdisks, &files) < 0)
                        goto fail_conn;
                xp.disks = xdisks;
                xp.n_disks = disks.n;
                flags = VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC;
        }
        if (vs__snapshot_xml_build(&xp, &xml, &err) < 0) {
                fprintf(stderr, "bench-fanout-bare: %s: %s\n", dom, err.msg);
                goto fail_conn;
        }
        s = virDomainSnapshotCreateXML(d, xml, flags);
        if (!s) {
                report("creating a snapshot of", dom);
                goto fail_conn;
        }
        atomic_fetch_add(&b->created, 1);
        {
                _cleanup_free_ char *sx = virDomainSnapshotGetXMLDesc(s, 0);

                if (!sx || vs__snapshot_xml_parse(sx, &t->items[t->n], &err) < 0) {
                        report("reading the new snapshot of", dom);
                        goto fail_conn;
                }
                t->snaps[t->n++] = s;
                s = NULL;
        }
        virDomainFree(d);
        virConnectClose(c);

        /* prune, from the tree the create returned, on its handles */
        mine = calloc(t->n + 1, sizeof(*mine));
        if (!mine)
                goto fail;
        for (size_t i = 0; i < t->n; i++)
                if (t->items[i].owner_policy && strcmp(t->items[i].owner_policy, b->policy) == 0)
                        mine[n_mine++] = &t->items[i];
        qsort(mine, n_mine, sizeof(*mine), cmp_info_age);
        virConnectRef(c);
        virDomainRef(d);
        for (size_t i = 0; i + (size_t)b->keep < n_mine; i++) {
                virDomainSnapshotPtr use = t->snaps[mine[i] - t->items];

                if (virDomainSnapshotDelete(use, 0) < 0) {
                        report("deleting a snapshot of", dom);
                        goto fail_conn;
                }
                atomic_fetch_add(&b->deleted, 1);
        }
        virDomainFree(d);
        virConnectClose(c);
        goto out;
fail_conn:
        if (s)
                virDomainSnapshotFree(s);
        if (d)
                virDomainFree(d);
        virConnectClose(c);
fail:
        atomic_fetch_add(&b->failed, 1);
out:
        free(mine);
        free(names);
        tree_clear(t);
        vs_strv_free(files);
        free(xdisks);
        vs__domain_disks_clear(&disks);
        free(name);
        free(desc);
        free(xml);
}

static void *
worker(void *arg)
{
        bare *b = arg;
        int i;

        while ((i = atomic_fetch_add(&b->next, 1)) < b->n_doms)
                if (b->minimal)
                        minimal_domain(b, b->doms[i]);
                else
                        exact_domain(b, i);
        return NULL;
}

static void
usage(void)
{
        fprintf(stderr, "usage: bench-fanout-bare [--minimal] [-j THREADS] [-t internal|disk-only] [-p POLICY] "
                        "[-k KEEP] URI\n");
        fprintf(stderr, "usage: bench-fanout-bare [-j THREADS] [-t internal|disk-only] [-p POLICY] [-k KEEP] URI\n");
        exit(2);
}

int
main(int argc, char **argv)
{
        bare b = { .policy = "bench", .type = VS_SNAP_INTERNAL, .keep = 2 };
        pthread_t threads[MAX_THREADS];
        int n_threads = 4, c, started = 0;
        time_t now = time(NULL);
        struct tm tm;

        static const struct option longopts[] = {
                { "minimal", no_argument, NULL, 'm' },
                { NULL, 0, NULL, 0 },
        };

        while ((c = getopt_long(argc, argv, "j:t:p:k:", longopts, NULL)) != -1) {
                switch (c) {
                case 'm':
                        b.minimal = true;
                        break;
                case 'j':
                        n_threads = atoi(optarg);
                        break;
                case 't':
                        if (strcmp(optarg, "internal") == 0)
                                b.type = VS_SNAP_INTERNAL;
                        else if (strcmp(optarg, "disk-only") == 0)
                                b.type = VS_SNAP_DISK_ONLY;
                        else
                                usage();
                        break;
                case 'p':
                        b.policy = optarg;
                        break;
                case 'k':
                        b.keep = atoi(optarg);
                        break;
                default:
                        usage();
                }
        }
        if (optind + 1 != argc || n_threads < 1 || n_threads > MAX_THREADS || b.keep < 1)
                usage();
        gmtime_r(&now, &tm);
        strftime(b.stamp, sizeof(b.stamp), "%Y%m%dT%H%M%SZ", &tm);

        virSetErrorFunc(NULL, silent_error);
        b.conn = virConnectOpen(argv[optind]);
        if (!b.conn) {
                report("connecting to", argv[optind]);
                return 1;
        }
        if (b.minimal) {
                b.n_doms = virConnectListAllDomains(b.conn, &b.doms, 0);
        } else {
                /* virtsnap's connect, refresh and reconcile */
                virConnSetErrorFunc(b.conn, NULL, silent_error);
                if (virConnectSetKeepAlive(b.conn, 5, 3) < 0)
                        virResetLastError();
                if (virConnectRegisterCloseCallback(b.conn, close_cb, NULL, NULL) < 0)
                        virResetLastError();
                b.n_doms = refresh(&b) < 0 || reconcile(&b, n_threads) < 0 ? -1 : b.n_doms;
        }
        if (b.n_doms < 0) {
                report("listing domains of", argv[optind]);
                virConnectClose(b.conn);
                return 1;
        }
        atomic_init(&b.next, 0);
        for (; started < n_threads; started++)
                if (pthread_create(&threads[started], NULL, worker, &b) != 0)
                        break;
        if (started == 0)
                worker(&b);
        for (int i = 0; i < started; i++)
                pthread_join(threads[i], NULL);

        for (int i = 0; b.doms && i < b.n_doms; i++)
                virDomainFree(b.doms[i]);
        free(b.doms);
        vs_strv_free(b.names);
        vs_strv_free(b.uuids);
        for (int i = 0; b.trees && i < b.n_doms; i++)
                tree_clear(&b.trees[i]);
        free(b.trees);
        free(b.active);
        for (int i = 0; b.handles && i < b.n_doms; i++)
                if (b.handles[i])
                        virDomainFree(b.handles[i]);
        free(b.handles);
        if (!b.minimal && virConnectUnregisterCloseCallback(b.conn, close_cb) < 0)
                virResetLastError();
        virConnectClose(b.conn);
        fprintf(stderr, "created %d deleted %d failed %d\n", atomic_load(&b.created), atomic_load(&b.deleted),
                atomic_load(&b.failed));
        return atomic_load(&b.failed) ? 1 : 0;
}
