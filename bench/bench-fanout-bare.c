/* bench-fanout-bare: the physical limit that `virtsnap run --once` is
 * measured against in the fanout-* benchmarks.
 *
 * It does the same job with the fewest libvirt calls and nothing else: no
 * policy file, no database, no scheduling, no retention engine.  One
 * connection shared by THREADS worker threads (as virtsnap shares one per
 * URI between its workers); the domains of one listing are handed out to
 * the threads in turn, and for each domain it
 *
 *   1. lists the domain's snapshots and reads each one's XML (to know which
 *      are owned by POLICY and how old they are, and which names are taken),
 *   2. for disk-only, reads the domain XML for its disks,
 *   3. creates one snapshot whose XML is built by virtsnap's own builder
 *      (virt/snapshot-xml.h), so the bytes sent are those virtsnap sends:
 *      name "POLICY-%Y%m%dT%H%M%SZ" (UTC, "-2", "-3", ... when taken),
 *      description "virtsnap POLICY DOMAIN" plus the ownership marker, and
 *      for disk-only an overlay beside each writable disk's image, named as
 *      virtsnap names it, with DISK_ONLY | ATOMIC,
 *   4. deletes the oldest snapshots owned by POLICY until KEEP remain.
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
        virDomainPtr *doms;
        int n_doms;
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

/* Overlays for every writable disk, beside its image; NULL-terminated
 * `files` owns the paths the xdisks point to. */
static int
plan_overlays(virDomainPtr d, const char *snapname, char *const *snapnames, vs_domain_disks *disks,
              vs_snapshot_xml_disk **ret_x, char ***files)
{
        _cleanup_free_ char *domxml = virDomainGetXMLDesc(d, 0);
        vs_snapshot_xml_disk *x;
        vs_err err = { 0 };

        if (!domxml)
                return -EIO;
        if (vs__domain_disks_parse(domxml, disks, &err) < 0)
                return -EINVAL;
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
one_domain(bare *b, virDomainPtr d)
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
                if (plan_overlays(d, name, names, &disks, &xdisks, &files) < 0) {
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

static void *
worker(void *arg)
{
        bare *b = arg;
        int i;

        while ((i = atomic_fetch_add(&b->next, 1)) < b->n_doms)
                one_domain(b, b->doms[i]);
        return NULL;
}

static void
usage(void)
{
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

        while ((c = getopt(argc, argv, "j:t:p:k:")) != -1) {
                switch (c) {
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
        b.n_doms = virConnectListAllDomains(b.conn, &b.doms, 0);
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

        for (int i = 0; i < b.n_doms; i++)
                virDomainFree(b.doms[i]);
        free(b.doms);
        virConnectClose(b.conn);
        fprintf(stderr, "created %d deleted %d failed %d\n", atomic_load(&b.created), atomic_load(&b.deleted),
                atomic_load(&b.failed));
        return atomic_load(&b.failed) ? 1 : 0;
}
