/* Policies that would mix internal and external snapshots on one domain.
 * libvirt 9.0 cannot delete snapshots of a chain that mixes the two (see
 * README "What libvirt cannot do"), so such a pair fills storage with
 * `undeletable` snapshots forever.  Found statically, from the selectors:
 *
 *   definite  a domain name both selectors certainly select: a literal name
 *             of one that the other includes, a pattern both include word
 *             for word, or both select every domain; excluded by neither,
 *             with no tag condition on either;
 *   possible  they may select the same domain: globs whose literal prefixes
 *             do not rule it out, a tag condition (tags live in libvirt, not
 *             in the file), or state filters (running vs shutoff: one domain
 *             is both, at different times).
 *
 * `check` refuses definite overlaps and warns about possible ones; `domains`
 * evaluates the selectors against the real domains (vs_overlap_domain). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

typedef struct vs_overlap {
        const vs_policy *a, *b;    /* a comes first in the file */
        bool definite;
        char why[256];             /* "both select domain 'web-01'", ... */
} vs_overlap;

/* Internal and external are the two families; only a mix of the two
 * traps libvirt. */
bool vs_snap_types_mix(vs_snap_type a, vs_snap_type b);

/* Every pair of enabled policies on the same connection of different
 * families that may select one domain.  *ret: malloc'd, *ret_n entries;
 * 0 or -ENOMEM. */
int vs_config_overlaps(const vs_config *cfg, vs_overlap **ret, size_t *ret_n);
