/* The firing plan: which (connection, domain, policy) fires when.  Pure: no
 * clock, no I/O, no libuv; the daemon, `run --once` and `virtsnap plan` all
 * ask it the same questions.
 *
 * A policy's slots come from vs_schedule_next in the config's zone; each
 * (connection, domain UUID, policy) adds a stable jitter offset in
 * [0, jitter) so a fleet does not snapshot in the same second, and the same
 * domain keeps its offset across restarts.  A plan is built from the domain
 * lists "after" an instant (the scheduler's watermark: every deadline up to
 * it has already fired) and hands its entries out in deadline order from a
 * binary min-heap, so one timer armed at vs_plan_next_deadline is all the
 * daemon needs between firings. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "virt.h"

typedef struct vs_plan vs_plan;

/* One (domain, policy).  A plan holds one for every pair a selector
 * matches (10 policies x 500 domains is 5,000), so the strings are shared:
 * one copy of each URI and of each domain's name and UUID per plan. */
typedef struct vs_plan_entry {
        const char *conn;           /* libvirt URI (the plan's copy) */
        const char *domain;         /* name (the plan's copy) */
        const char *uuid;           /* (the plan's copy) */
        const vs_policy *policy;    /* borrowed from the config the plan was built from */
        int64_t slot;               /* nominal schedule instant */
        int64_t deadline;           /* slot + offset: when it fires */
        int32_t offset;             /* jitter, seconds (at most a day) */
        uint32_t policy_index;      /* in that config */
} vs_plan_entry;

typedef struct vs_plan_conn {
        const char *uri;
        const vs_domain_list *domains;  /* NULL: not listed yet (no entries) */
} vs_plan_conn;

typedef struct vs_plan_input {
        const vs_config *cfg;
        const char *connect_override;   /* --connect: replaces every policy's URI */
        const char *only_policy;        /* NULL = every policy */
        const vs_plan_conn *conns;
        size_t n_conns;
        int64_t after;                  /* entries get their first deadline > after */
} vs_plan_input;

/* The URI a policy's jobs run on. */
const char *vs_plan_policy_uri(const vs_policy *p, const char *connect_override);
/* Does the policy cover this domain now? */
bool vs_plan_domain_matches(const vs_policy *p, const vs_domain_info *d);
/* Which policy of cfg takes over a snapshot marked as made by policy `owner`
 * on domain d of connection uri (reconcile's scope): owner itself when cfg
 * defines it for that connection and its selector names the domain in any
 * state, else the policy whose adopt_from names owner under the same test;
 * NULL when the config does not cover it (foreign-marked). */
const char *vs_plan_adopter(const vs_config *cfg, const char *connect_override, const char *uri,
                            const vs_domain_info *d, const char *owner);
/* Stable jitter offset in [0, jitter): FNV-1a of "conn\0uuid\0policy". */
int64_t vs_plan_offset(const char *conn, const char *uuid, const char *policy, int64_t jitter);
/* The first slot whose deadline (slot + offset) is > after; INT64_MAX if the
 * schedule never fires again. */
int64_t vs_plan_next_slot(const vs_schedule *s, const vs_tz *tz, int64_t offset, int64_t after);
/* The deadline (slot + offset) of the newest slot whose deadline is in
 * (after, now]: the slot a catch-up serves; INT64_MIN if there is none. */
int64_t vs_plan_last_deadline(const vs_schedule *s, const vs_tz *tz, int64_t offset, int64_t after,
                              int64_t now);
/* Catch-up and `run --once`: is a snapshot owed now?  True when there was
 * never a success (has_last false), or when a slot's deadline fell after the
 * last success and is not later than now.  However many slots were missed,
 * the answer is one snapshot. */
bool vs_plan_is_due(const vs_schedule *s, const vs_tz *tz, int64_t offset, bool has_last,
                    int64_t last_success, int64_t now);

/* 0 or -ENOMEM.  Disabled policies and entries whose schedule never fires
 * are left out. */
int vs_plan_build(const vs_plan_input *in, vs_plan **ret);
void vs_plan_free(vs_plan *p);
/* Entries in fire order as of the build: deadline, then policy order, then
 * domain name (vs_plan_pop moves deadlines on; the order here does not). */
size_t vs_plan_size(const vs_plan *p);
const vs_plan_entry *vs_plan_entry_at(const vs_plan *p, size_t i);
/* The earliest deadline, or INT64_MAX. */
int64_t vs_plan_next_deadline(const vs_plan *p);
/* If the earliest entry is due (deadline <= now): copy it to *ret (strings
 * borrowed from the plan, valid until it is freed), move that entry on to its
 * first slot with deadline > now, and return true.  O(log n). */
bool vs_plan_pop(vs_plan *p, int64_t now, vs_plan_entry *ret);
