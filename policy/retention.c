/* Retention: decides, for the snapshots of one (domain, policy), which to keep
 * and why, with the semantics of Proxmox Backup Server's prune (see
 * retention.h).  Pure: no I/O, no allocation per snapshot, no libc time-zone
 * state, so the daemon may call it on its loop thread (or any thread) while
 * other threads do the same with the same vs_tz.
 *
 * Algorithm, for n snapshots (u of them unpinned) and the zone's offset
 * changes T inside the span of their times:
 *   1. Pinned items are decided at once and take no further part.  The u
 *      others are ordered newest first (ties: lower input index = newer);
 *      input that is already newest-first, or strictly oldest-first, is
 *      recognised in O(u), anything else is sorted, O(u log u).
 *   2. One pass oldest -> newest computes each item's local wall time once:
 *      the zone offset is looked up only when the time crosses the next
 *      transition (vs_tz_offset + vs_tz_next_transition, O(T log T) in all;
 *      local = t + offset is the wall time vs_tz_localtime gives), and local
 *      seconds become integer bucket keys with no strings: local
 *      hour number, local day number, Monday-based week number (which is in
 *      one-to-one correspondence with ISO 8601 %G-%V), year*12+month, year.
 *      keep_last needs no key: every snapshot is its own bucket, so two
 *      snapshots in the same second are distinct.
 *   3. keep_within marks every item newer than now - D (strictly).
 *   4. Each keep rule in order (last, hourly, daily, weekly, monthly,
 *      yearly) first records the buckets of everything already kept, then
 *      walks newest -> oldest over unmarked items: a bucket kept by an
 *      earlier rule is skipped and does not count; the first item of a new
 *      bucket is kept; later items of a bucket this rule took are removed
 *      (and never reconsidered); the walk stops at the first item that would
 *      open bucket N+1.  Stopping there (rather than walking on) is what
 *      Proxmox does; it only matters when a bucket is not contiguous in
 *      time, which a DST fall-back that straddles a bucket boundary can
 *      cause: the older part of the bucket is then left to later rules.
 *      Bucket sets are an open-addressed hash of int64 keys with at least
 *      2u entries, each tagged with the rule that wrote it so the table is
 *      never cleared between rules: O(u) per rule.
 *   5. Items still unmarked are removed, except the newest unpinned one,
 *      which is always kept ("newest").
 * Total O(u log u + 6u + T log T) time (no log u factor on ordered input)
 * and one allocation of O(u) bytes.  bench/bench-retention measures it:
 * 1,000,000 snapshots in 10,000 groups, every rule on, take well under a
 * tenth of a second on one core. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "retention.h"
#include "timefmt.h"

enum { MARK_NONE, MARK_KEEP, MARK_REMOVE };

enum { KEY_HOUR, KEY_DAY, KEY_WEEK, KEY_MONTH, KEY_YEAR, N_KEYS };

/* One unpinned snapshot, in newest-first order. */
typedef struct slot {
        int64_t time;
        size_t idx;            /* into the caller's items */
        int64_t key[N_KEYS];
        uint8_t mark;
        uint8_t rule;          /* vs_keep_rule */
} slot;

typedef struct bucket {
        int64_t key;
        uint32_t stamp;        /* rule pass that wrote it; others are empty */
        uint32_t kind;         /* COVERED or TAKEN */
} bucket;

enum { COVERED = 1, TAKEN = 2 };

typedef struct bucket_set {
        bucket *b;
        size_t mask;
        uint32_t stamp;
} bucket_set;

static const char *const verdict_names[] = {
        [VS_VERDICT_KEEP] = "keep",
        [VS_VERDICT_REMOVE] = "remove",
        [VS_VERDICT_PINNED] = "pinned",
};

static const char *const rule_names[] = {
        [VS_RULE_NONE] = NULL,
        [VS_RULE_WITHIN] = "within",
        [VS_RULE_LAST] = "last",
        [VS_RULE_HOURLY] = "hourly",
        [VS_RULE_DAILY] = "daily",
        [VS_RULE_WEEKLY] = "weekly",
        [VS_RULE_MONTHLY] = "monthly",
        [VS_RULE_YEARLY] = "yearly",
        [VS_RULE_NEWEST] = "newest",
        [VS_RULE_LIFETIME] = "lifetime",
};

const char *
vs_verdict_to_string(vs_verdict v)
{
        if ((unsigned)v >= sizeof(verdict_names) / sizeof(verdict_names[0]))
                return NULL;
        return verdict_names[v];
}

const char *
vs_keep_rule_to_string(vs_keep_rule r)
{
        if ((unsigned)r >= sizeof(rule_names) / sizeof(rule_names[0]))
                return NULL;
        return rule_names[r];
}

char *
vs_retention_rules_format(const vs_retention_rules *r, char *buf, size_t len)
{
        static const char *const names[] = { "keep_last", "keep_hourly", "keep_daily",
                                             "keep_weekly", "keep_monthly", "keep_yearly" };
        const int counts[] = { r->keep_last, r->keep_hourly, r->keep_daily,
                               r->keep_weekly, r->keep_monthly, r->keep_yearly };
        size_t off = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < 6; i++)
                if (counts[i] > 0 && off < len)
                        off += (size_t)snprintf(buf + off, len - off, "%s%s %d", off ? ", " : "", names[i], counts[i]);
        if (r->keep_within > 0 && off < len)
                snprintf(buf + off, len - off, "%skeep_within %llds", off ? ", " : "", (long long)r->keep_within);
        return buf;
}

bool
vs_retention_rules_any(const vs_retention_rules *r)
{
        return r && (r->keep_last > 0 || r->keep_hourly > 0 || r->keep_daily > 0 ||
                     r->keep_weekly > 0 || r->keep_monthly > 0 || r->keep_yearly > 0 ||
                     r->keep_within > 0);
}

static int64_t
floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;

        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int
slot_cmp(const void *a, const void *b)
{
        const slot *x = a, *y = b;

        if (x->time != y->time)
                return x->time > y->time ? -1 : 1;
        return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Newest first; ties by input index. */
static void
order_slots(slot *s, size_t u)
{
        bool newest_first = true, oldest_first = true;

        for (size_t i = 1; i < u && (newest_first || oldest_first); i++) {
                if (slot_cmp(&s[i - 1], &s[i]) > 0)
                        newest_first = false;
                /* Reversing is only right when no two times are equal. */
                if (s[i - 1].time >= s[i].time)
                        oldest_first = false;
        }
        if (newest_first)
                return;
        if (oldest_first) {
                for (size_t i = 0, j = u - 1; i < j; i++, j--) {
                        slot tmp = s[i];
                        s[i] = s[j];
                        s[j] = tmp;
                }
                return;
        }
        qsort(s, u, sizeof(*s), slot_cmp);
}

/* Local wall-time bucket keys for every slot, oldest to newest so that the
 * zone is asked again only when a transition has been passed. */
static void
compute_keys(slot *s, size_t u, const vs_tz *tz)
{
        int64_t valid_until = INT64_MIN, cached_day = INT64_MIN, year = 0;
        unsigned month = 0, mday;
        int offset = 0;

        for (size_t k = u; k-- > 0;) {
                slot *x = &s[k];
                int64_t local, day, sod;

                if (x->time >= valid_until || valid_until == INT64_MIN) {
                        offset = vs_tz_offset(tz, x->time);
                        valid_until = vs_tz_next_transition(tz, x->time);
                }
                if (__builtin_add_overflow(x->time, (int64_t)offset, &local))
                        local = offset > 0 ? INT64_MAX : INT64_MIN;
                day = floor_div(local, 86400);
                sod = local % 86400;
                if (sod < 0)
                        sod += 86400;
                if (day != cached_day) {
                        vs_civil_from_days(day, &year, &month, &mday);
                        cached_day = day;
                }
                x->key[KEY_HOUR] = day * 24 + sod / 3600;
                x->key[KEY_DAY] = day;
                /* Day 0 (1970-01-01) is a Thursday; weeks start on Monday.
                 * Each Monday-to-Sunday week is exactly one ISO %G-%V. */
                x->key[KEY_WEEK] = floor_div(day + 3, 7);
                x->key[KEY_MONTH] = year * 12 + (int64_t)(month - 1);
                x->key[KEY_YEAR] = year;
        }
}

static bucket *
set_slot(bucket_set *set, int64_t key)
{
        uint64_t h = (uint64_t)key * UINT64_C(0x9E3779B97F4A7C15);
        size_t i = (size_t)(h ^ (h >> 29)) & set->mask;

        for (;; i = (i + 1) & set->mask) {
                bucket *b = &set->b[i];

                if (b->stamp != set->stamp || b->key == key)
                        return b;
        }
}

static uint32_t
set_get(bucket_set *set, int64_t key)
{
        bucket *b = set_slot(set, key);

        return b->stamp == set->stamp ? b->kind : 0;
}

static void
set_put(bucket_set *set, int64_t key, uint32_t kind)
{
        bucket *b = set_slot(set, key);

        b->key = key;
        b->stamp = set->stamp;
        b->kind = kind;
}

static void
keep_last(slot *s, size_t u, int n)
{
        int taken = 0;

        for (size_t i = 0; i < u && taken < n; i++) {
                if (s[i].mark != MARK_NONE)
                        continue;
                s[i].mark = MARK_KEEP;
                s[i].rule = VS_RULE_LAST;
                taken++;
        }
}

static void
keep_buckets(slot *s, size_t u, int n, int key, vs_keep_rule rule, bucket_set *set)
{
        int taken = 0;

        set->stamp++;
        for (size_t i = 0; i < u; i++)
                if (s[i].mark == MARK_KEEP)
                        set_put(set, s[i].key[key], COVERED);

        for (size_t i = 0; i < u; i++) {
                uint32_t kind;

                if (s[i].mark != MARK_NONE)
                        continue;
                kind = set_get(set, s[i].key[key]);
                if (kind == COVERED)
                        continue;
                if (kind == TAKEN) {
                        s[i].mark = MARK_REMOVE;
                        continue;
                }
                if (taken >= n)
                        break;
                set_put(set, s[i].key[key], TAKEN);
                s[i].mark = MARK_KEEP;
                s[i].rule = (uint8_t)rule;
                taken++;
        }
}

int
vs_retention_apply(const vs_retention_rules *r, const vs_tz *tz, int64_t now,
                   vs_retention_item *items, size_t n)
{
        static const struct {
                size_t count_offset;
                int key;
                vs_keep_rule rule;
        } bucket_rules[] = {
                { offsetof(vs_retention_rules, keep_hourly), KEY_HOUR, VS_RULE_HOURLY },
                { offsetof(vs_retention_rules, keep_daily), KEY_DAY, VS_RULE_DAILY },
                { offsetof(vs_retention_rules, keep_weekly), KEY_WEEK, VS_RULE_WEEKLY },
                { offsetof(vs_retention_rules, keep_monthly), KEY_MONTH, VS_RULE_MONTHLY },
                { offsetof(vs_retention_rules, keep_yearly), KEY_YEAR, VS_RULE_YEARLY },
        };
        bucket_set set = { 0 };
        size_t u = 0, cap = 16, bytes;
        slot *s;

        for (size_t i = 0; i < n; i++)
                u += !items[i].pinned;
        while (cap < 2 * u)
                cap *= 2;
        if (u > SIZE_MAX / 2 / sizeof(slot) || cap > SIZE_MAX / 2 / sizeof(bucket))
                return -ENOMEM;
        bytes = u * sizeof(slot) + cap * sizeof(bucket);
        s = malloc(bytes);
        if (!s)
                return -ENOMEM;
        set.b = (bucket *)(s + u);
        set.mask = cap - 1;
        for (size_t i = 0; i < cap; i++)
                set.b[i].stamp = 0;

        u = 0;
        for (size_t i = 0; i < n; i++) {
                if (items[i].pinned) {
                        items[i].verdict = VS_VERDICT_PINNED;
                        items[i].rule = VS_RULE_NONE;
                        continue;
                }
                s[u].time = items[i].time;
                s[u].idx = i;
                s[u].mark = MARK_NONE;
                s[u].rule = VS_RULE_NONE;
                u++;
        }
        if (u == 0)
                goto out;

        order_slots(s, u);
        compute_keys(s, u, tz);

        if (r->keep_within > 0) {
                int64_t cutoff;

                if (__builtin_sub_overflow(now, r->keep_within, &cutoff))
                        cutoff = INT64_MIN;
                for (size_t i = 0; i < u && s[i].time > cutoff; i++) {
                        s[i].mark = MARK_KEEP;
                        s[i].rule = VS_RULE_WITHIN;
                }
        }
        if (r->keep_last > 0)
                keep_last(s, u, r->keep_last);
        for (size_t k = 0; k < sizeof(bucket_rules) / sizeof(bucket_rules[0]); k++) {
                int count = *(const int *)((const char *)r + bucket_rules[k].count_offset);

                if (count > 0)
                        keep_buckets(s, u, count, bucket_rules[k].key, bucket_rules[k].rule, &set);
        }
        if (s[0].mark != MARK_KEEP) {
                s[0].mark = MARK_KEEP;
                s[0].rule = VS_RULE_NEWEST;
        }

        for (size_t i = 0; i < u; i++) {
                vs_retention_item *it = &items[s[i].idx];

                it->verdict = s[i].mark == MARK_KEEP ? VS_VERDICT_KEEP : VS_VERDICT_REMOVE;
                it->rule = s[i].mark == MARK_KEEP ? (vs_keep_rule)s[i].rule : VS_RULE_NONE;
        }
out:
        free(s);
        return 0;
}
