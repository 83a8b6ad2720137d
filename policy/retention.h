/* Retention: which of a (domain, policy)'s snapshots to keep, and why.
 * Pure and I/O-free.  Semantics are Proxmox Backup Server's prune:
 *   1. pinned snapshots are never removed and invisible to every rule;
 *   2. keep_within D keeps every snapshot newer than now - D ("within");
 *   3. last, hourly, daily, weekly (ISO %G-%V), monthly, yearly, in that
 *      order, bucketed in the policy's zone; a rule skips snapshots already
 *      marked and buckets already covered by a kept snapshot of an earlier
 *      rule; further snapshots in a bucket the rule took are removed;
 *   4. unmarked snapshots are removed, except that the newest unpinned one is
 *      always kept ("newest"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tz.h"

typedef struct vs_retention_rules {
        int keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly; /* 0 = rule off */
        int64_t keep_within; /* seconds; 0 = off */
} vs_retention_rules;

typedef enum vs_verdict {
        VS_VERDICT_KEEP,
        VS_VERDICT_REMOVE,
        VS_VERDICT_PINNED,
} vs_verdict;

typedef enum vs_keep_rule {
        VS_RULE_NONE,   /* removed, or pinned */
        VS_RULE_WITHIN,
        VS_RULE_LAST,
        VS_RULE_HOURLY,
        VS_RULE_DAILY,
        VS_RULE_WEEKLY,
        VS_RULE_MONTHLY,
        VS_RULE_YEARLY,
        VS_RULE_NEWEST,
        /* Never set by vs_retention_apply: callers mark a snapshot with a
         * lifetime (`snapshot --ttl`), which the rules do not count. */
        VS_RULE_LIFETIME,
} vs_keep_rule;

typedef struct vs_retention_item {
        int64_t time;        /* in: creation time, UTC seconds */
        bool pinned;         /* in */
        vs_verdict verdict;  /* out */
        vs_keep_rule rule;   /* out: why kept (VS_RULE_NONE when removed/pinned) */
} vs_retention_item;

/* "keep_last 2, keep_daily 7, keep_within 86400s": the rules that are set,
 * for prune reasons and reports.  Returns buf. */
char *vs_retention_rules_format(const vs_retention_rules *r, char *buf, size_t len);
/* True when at least one keep rule is set (an empty retention is invalid). */
bool vs_retention_rules_any(const vs_retention_rules *r);
/* Decide every item.  Items may come in any order; ties in time are distinct
 * snapshots (input order breaks them: earlier index = newer).  keep_within
 * keeps times > now - keep_within (strictly; times after now included).
 * Buckets are tz's wall clock, read through vs_tz_offset/vs_tz_next_transition
 * only: no libc time-zone state, so any thread may call this at once with the
 * same tz.  O(n log n) (O(n) for input already sorted either way), one
 * allocation.  0 or -ENOMEM (then no item has been written). */
int vs_retention_apply(const vs_retention_rules *r, const vs_tz *tz, int64_t now,
                       vs_retention_item *items, size_t n);

const char *vs_verdict_to_string(vs_verdict v);
/* NULL for VS_RULE_NONE. */
const char *vs_keep_rule_to_string(vs_keep_rule r);
