/* The idle floor: a bare libvirt client that does what `virtsnap daemon`
 * does at start-up before it goes idle -- connect, list the domains and
 * read each one's state, UUID, persistence and virtsnap metadata and its
 * snapshots -- and then sleeps until SIGTERM or SIGINT.  No policy, no
 * database, no scheduler, no event loop.  `bench/run.sh idle` measures its
 * resident memory next to the daemon's (bench/README.md, idle); `scale`
 * gives it every connection of its daemon, kept open together as the
 * daemon keeps them.
 *
 *   bench-idle-bare URI [URI ...] */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

/* virtsnap's metadata namespace (virt/virt-libvirt.c). */
#define VS_METADATA_URI "urn:virtsnap:1"

/* As the daemon does (virt/virt-libvirt.c): no error printed by libvirt
 * itself, such as the "metadata not found" of every domain without tags. */
static void
quiet(void *data, virErrorPtr err)
{
        (void)data;
        (void)err;
}

static int
list_domain(virDomainPtr d)
{
        virDomainSnapshotPtr *snaps = NULL;
        char uuid[VIR_UUID_STRING_BUFLEN], *meta;
        int state, reason, n;

        if (virDomainGetState(d, &state, &reason, 0) < 0 || virDomainGetUUIDString(d, uuid) < 0 ||
            virDomainIsPersistent(d) < 0)
                return -1;
        /* Most domains have no virtsnap metadata: NULL is not an error. */
        meta = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VS_METADATA_URI, 0);
        free(meta);
        n = virDomainListAllSnapshots(d, &snaps, VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL);
        if (n < 0)
                return -1;
        for (int i = 0; i < n; i++) {
                free(virDomainSnapshotGetXMLDesc(snaps[i], 0));
                virDomainSnapshotFree(snaps[i]);
        }
        free(snaps);
        return 0;
}

int
main(int argc, char **argv)
{
        virConnectPtr *conns;
        sigset_t set;
        int n, sig, total = 0, failed = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: bench-idle-bare URI [URI ...]\n");
                return 2;
        }
        conns = calloc((size_t)argc, sizeof(*conns));
        if (!conns)
                return 1;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, NULL);
        virSetErrorFunc(NULL, quiet);
        for (int c = 1; c < argc; c++) {
                virDomainPtr *doms = NULL;

                conns[c] = virConnectOpen(argv[c]);
                if (!conns[c]) {
                        fprintf(stderr, "bench-idle-bare: cannot connect to %s\n", argv[c]);
                        return 1;
                }
                n = virConnectListAllDomains(conns[c], &doms, 0);
                if (n < 0) {
                        fprintf(stderr, "bench-idle-bare: cannot list the domains of %s\n", argv[c]);
                        return 1;
                }
                for (int i = 0; i < n; i++) {
                        failed += list_domain(doms[i]) < 0;
                        virDomainFree(doms[i]);
                }
                free(doms);
                total += n;
        }
        fprintf(stderr, "listed %d domains, %d failed; idle\n", total, failed);
        sigwait(&set, &sig);
        for (int c = 1; c < argc; c++)
                virConnectClose(conns[c]);
        free(conns);
        return failed ? 1 : 0;
}
