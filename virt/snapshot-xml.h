/* Snapshot XML, internal to virt/: build the <domainsnapshot> document that
 * virDomainSnapshotCreateXML receives, parse what
 * virDomainSnapshotGetXMLDesc returns, and read the domain XML facts that
 * creation needs (disks and their images).  Everything goes through libxml2;
 * golden files in tests/data/snapshot-xml/ pin the bytes we send.  Nothing
 * here talks to libvirt, so it is unit-tested without a hypervisor. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"
#include "virt.h"
#include "vs-err.h"

/* The ownership marker: the last line of a description virtsnap wrote. */
#define VS_OWNER_MARKER "virtsnap-policy: "

/* One disk of the domain as the snapshot XML names it. */
typedef struct vs_snapshot_xml_disk {
        const char *name;       /* target dev: "vda" */
        const char *file;       /* absolute overlay path; NULL = snapshot='no' */
} vs_snapshot_xml_disk;

typedef struct vs_snapshot_xml_params {
        const char *name;
        const char *description;        /* the user's text; may be NULL or "" */
        const char *owner;              /* policy name written into the marker; NULL = none */
        vs_snap_type type;
        /* disk-only / external: every disk of the domain, in domain order.
         * internal: ignored (libvirt snapshots every disk internally). */
        const vs_snapshot_xml_disk *disks;
        size_t n_disks;
        const char *memory_file;        /* external with memory: absolute path */
} vs_snapshot_xml_params;

/* A disk of a domain definition (<devices><disk>). */
typedef struct vs_domain_disk {
        char *target;           /* "vda" */
        char *source;           /* file or dev path; NULL if empty (cdrom) */
        char *device;           /* "disk", "cdrom", "floppy", "lun" */
        char *type;             /* "file", "block", "network", ... */
        char *format;           /* <driver type=>: "qcow2", "raw"; may be NULL */
        bool readonly;
        char *mirror_job;       /* <mirror job=>: "copy", "active-commit" (a running block job); NULL if none */
        int backing_depth;      /* images below the active one (<backingStore> with a <source>) */
} vs_domain_disk;

typedef struct vs_domain_disks {
        vs_domain_disk *items;
        size_t n;
} vs_domain_disks;

/* Build the snapshot XML (no XML declaration, two-space indent, trailing
 * newline).  0, -EINVAL (missing name, relative path, external without a
 * memory file or without any external disk) or -ENOMEM. */
int vs__snapshot_xml_build(const vs_snapshot_xml_params *p, char **ret, vs_err *err);

/* Parse one snapshot's XML into *ret (caller clears it with
 * vs__snapshot_info_clear).  `current` is not in the XML and stays false.
 * 0, -EINVAL (not a <domainsnapshot>, no <name>) or -ENOMEM. */
int vs__snapshot_xml_parse(const char *xml, vs_snapshot_info *ret, vs_err *err);
void vs__snapshot_info_clear(vs_snapshot_info *s);

/* "user text\nvirtsnap-policy: NAME" (just the marker when text is empty).
 * Splitting is the inverse: *ret_text is NULL when nothing remains,
 * *ret_owner NULL when the last line is no valid marker. */
int vs__description_compose(const char *text, const char *owner, char **ret);
int vs__description_split(const char *desc, char **ret_text, char **ret_owner);

/* Disks of a domain definition (virDomainGetXMLDesc output). */
int vs__domain_disks_parse(const char *xml, vs_domain_disks *ret, vs_err *err);
void vs__domain_disks_clear(vs_domain_disks *d);

/* Tags from the metadata element stored under urn:virtsnap:1: the text of
 * every <tag> child of the root, in order, duplicates dropped.  *ret is NULL
 * when there are none. */
int vs__tags_xml_parse(const char *xml, char ***ret, vs_err *err);
