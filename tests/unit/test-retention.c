/* Unit tests for policy/retention.c: Proxmox prune semantics, exact verdicts.
 *
 * Every expectation below was worked out by hand from the rules in
 * retention.h (and, for the cases taken from Proxmox Backup Server's
 * tests/prune.rs and pve-storage's prune_backups_test.pl, checked against
 * the marks those tests publish).  Local times in the comments were read off
 * `zdump -v` for the zone.  The last test compares the engine with a naive
 * reference (string bucket keys from vs_tz_localtime, quadratic sets) on
 * pseudo-random inputs around DST transitions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "retention.h"
#include "timefmt.h"
#include "tz.h"

/* One input snapshot and its expected verdict: "remove", "pinned" (the input
 * is pinned) or the name of the rule that keeps it. */
typedef struct snap {
        const char *time;
        const char *expect;
} snap;

enum { PERMUTE = 1 };

static int64_t
T(const char *s)
{
        int64_t t;

        if (vs_time_parse(s, &t) < 0) {
                print_error("bad time in test: %s\n", s);
                fail();
        }
        return t;
}

static vs_tz *
zone(const char *name)
{
        vs_tz *tz = NULL;
        vs_err err = { 0 };

        if (vs_tz_load(name, &tz, &err) < 0) {
                print_error("cannot load zone %s: %s\n", name, err.msg);
                fail();
        }
        return tz;
}

static const char *
got_name(const vs_retention_item *it)
{
        if (it->verdict == VS_VERDICT_KEEP)
                return vs_keep_rule_to_string(it->rule);
        return vs_verdict_to_string(it->verdict);
}

/* Apply in the given order; then (when permute) reversed and rotated, which
 * must not change any verdict (no two times are equal in those cases). */
static void
check_one(const vs_retention_rules *r, const vs_tz *tz, int64_t now, const snap *s, size_t n,
          const size_t *order, int line)
{
        vs_retention_item *items = calloc(n ? n : 1, sizeof(*items));
        bool bad = false;

        assert_non_null(items);
        for (size_t i = 0; i < n; i++) {
                items[i].time = T(s[order[i]].time);
                items[i].pinned = strcmp(s[order[i]].expect, "pinned") == 0;
                items[i].verdict = (vs_verdict)99;
                items[i].rule = (vs_keep_rule)99;
        }
        assert_int_equal(vs_retention_apply(r, tz, now, items, n), 0);
        for (size_t i = 0; i < n; i++) {
                const char *got = got_name(&items[i]);
                const char *want = s[order[i]].expect;

                if (!got || strcmp(got, want) != 0 ||
                    (items[i].verdict != VS_VERDICT_KEEP && items[i].rule != VS_RULE_NONE)) {
                        print_error("line %d: %s: want %s, got %s (verdict %d rule %d)\n", line,
                                    s[order[i]].time, want, got ? got : "(null)", items[i].verdict,
                                    items[i].rule);
                        bad = true;
                }
        }
        free(items);
        if (bad)
                fail();
}

static void
check(vs_retention_rules r, const char *zname, int64_t now, const snap *s, size_t n, int flags, int line)
{
        vs_tz *tz = zone(zname);
        size_t *order = calloc(n ? n : 1, sizeof(*order));

        assert_non_null(order);
        for (size_t i = 0; i < n; i++)
                order[i] = i;
        check_one(&r, tz, now, s, n, order, line);
        if (flags & PERMUTE) {
                for (size_t i = 0; i < n; i++)
                        order[i] = n - 1 - i;
                check_one(&r, tz, now, s, n, order, line);
                for (size_t i = 0; i < n; i++)
                        order[i] = (i * 7 + 3) % n;
                /* Only a permutation when gcd(7, n) == 1. */
                if (n % 7 != 0)
                        check_one(&r, tz, now, s, n, order, line);
        }
        free(order);
        vs_tz_free(tz);
}

#define CHECK(rules, zname, now, arr, flags) \
        check(rules, zname, now, arr, sizeof(arr) / sizeof(arr[0]), flags, __LINE__)
#define RULES(...) ((vs_retention_rules){ __VA_ARGS__ })

/* A "now" that keep_within never reaches in these tests. */
#define NOW_FAR INT64_C(4102444800) /* 2100-01-01 */

/* --- Proxmox Backup Server, tests/prune.rs ------------------------------ */

static void
test_pbs_hourly(void **state)
{
        static const snap keep3[] = {
                { "2019-11-15T09:39:15Z", "hourly" },
                { "2019-11-15T10:49:15Z", "remove" },
                { "2019-11-15T10:59:15Z", "hourly" },
                { "2019-11-15T11:39:15Z", "remove" },
                { "2019-11-15T11:49:15Z", "remove" },
                { "2019-11-15T11:59:15Z", "hourly" },
        };
        /* Bucket 09 would be the third: the walk stops there. */
        static const snap keep2[] = {
                { "2019-11-15T09:39:15Z", "remove" },
                { "2019-11-15T10:49:15Z", "remove" },
                { "2019-11-15T10:59:15Z", "hourly" },
                { "2019-11-15T11:39:15Z", "remove" },
                { "2019-11-15T11:49:15Z", "remove" },
                { "2019-11-15T11:59:15Z", "hourly" },
        };

        (void)state;
        CHECK(RULES(.keep_hourly = 3), "UTC", NOW_FAR, keep3, PERMUTE);
        CHECK(RULES(.keep_hourly = 2), "UTC", NOW_FAR, keep2, PERMUTE);
}

static void
test_pbs_simple(void **state)
{
        static const snap last4[] = {
                { "2019-12-02T11:59:15Z", "last" },
                { "2019-12-03T11:59:15Z", "last" },
                { "2019-12-04T11:59:15Z", "last" },
                { "2019-12-04T12:59:15Z", "last" },
        };
        static const snap last3[] = {
                { "2019-12-02T11:59:15Z", "remove" },
                { "2019-12-03T11:59:15Z", "last" },
                { "2019-12-04T11:59:15Z", "last" },
                { "2019-12-04T12:59:15Z", "last" },
        };
        static const snap last2[] = {
                { "2019-12-02T11:59:15Z", "remove" },
                { "2019-12-03T11:59:15Z", "remove" },
                { "2019-12-04T11:59:15Z", "last" },
                { "2019-12-04T12:59:15Z", "last" },
        };
        static const snap last1[] = {
                { "2019-12-02T11:59:15Z", "remove" },
                { "2019-12-03T11:59:15Z", "remove" },
                { "2019-12-04T11:59:15Z", "remove" },
                { "2019-12-04T12:59:15Z", "last" },
        };
        /* keep-last covers 12-04; keep-daily then takes the two days before. */
        static const snap last2_daily2[] = {
                { "2019-12-02T11:59:15Z", "daily" },
                { "2019-12-03T11:59:15Z", "daily" },
                { "2019-12-04T11:59:15Z", "last" },
                { "2019-12-04T12:59:15Z", "last" },
        };
        static const snap daily3[] = {
                { "2019-12-02T11:59:15Z", "daily" },
                { "2019-12-03T11:59:15Z", "daily" },
                { "2019-12-04T11:59:15Z", "remove" },
                { "2019-12-04T12:59:15Z", "daily" },
        };
        static const snap daily2[] = {
                { "2019-12-02T11:59:15Z", "remove" },
                { "2019-12-03T11:59:15Z", "daily" },
                { "2019-12-04T11:59:15Z", "remove" },
                { "2019-12-04T12:59:15Z", "daily" },
        };
        /* All four are in ISO week 2019-49, month 2019-12, year 2019. */
        static const snap one_weekly[] = {
                { "2019-12-02T11:59:15Z", "remove" },
                { "2019-12-03T11:59:15Z", "remove" },
                { "2019-12-04T11:59:15Z", "remove" },
                { "2019-12-04T12:59:15Z", "weekly" },
        };
        static const snap one_monthly[] = {
                { "2019-12-02T11:59:15Z", "remove" },
                { "2019-12-03T11:59:15Z", "remove" },
                { "2019-12-04T11:59:15Z", "remove" },
                { "2019-12-04T12:59:15Z", "monthly" },
        };
        static const snap one_yearly[] = {
                { "2019-12-02T11:59:15Z", "remove" },
                { "2019-12-03T11:59:15Z", "remove" },
                { "2019-12-04T11:59:15Z", "remove" },
                { "2019-12-04T12:59:15Z", "yearly" },
        };
        /* keep-daily takes 12-04; the week is then covered, so keep-weekly
         * skips the other three and they are removed. */
        static const snap daily1_weekly5[] = {
                { "2019-12-02T11:59:15Z", "remove" },
                { "2019-12-03T11:59:15Z", "remove" },
                { "2019-12-04T11:59:15Z", "remove" },
                { "2019-12-04T12:59:15Z", "daily" },
        };

        (void)state;
        CHECK(RULES(.keep_last = 4), "UTC", NOW_FAR, last4, PERMUTE);
        CHECK(RULES(.keep_last = 3), "UTC", NOW_FAR, last3, PERMUTE);
        CHECK(RULES(.keep_last = 2), "UTC", NOW_FAR, last2, PERMUTE);
        CHECK(RULES(.keep_last = 1), "UTC", NOW_FAR, last1, PERMUTE);
        CHECK(RULES(.keep_last = 2, .keep_daily = 2), "UTC", NOW_FAR, last2_daily2, PERMUTE);
        CHECK(RULES(.keep_daily = 3), "UTC", NOW_FAR, daily3, PERMUTE);
        CHECK(RULES(.keep_daily = 2), "UTC", NOW_FAR, daily2, PERMUTE);
        CHECK(RULES(.keep_weekly = 5), "UTC", NOW_FAR, one_weekly, PERMUTE);
        CHECK(RULES(.keep_daily = 1, .keep_weekly = 5), "UTC", NOW_FAR, daily1_weekly5, PERMUTE);
        CHECK(RULES(.keep_monthly = 6), "UTC", NOW_FAR, one_monthly, PERMUTE);
        CHECK(RULES(.keep_yearly = 7), "UTC", NOW_FAR, one_yearly, PERMUTE);
        CHECK(RULES(.keep_weekly = 5, .keep_monthly = 6, .keep_yearly = 7), "UTC", NOW_FAR, one_weekly,
              PERMUTE);
}

static void
test_pbs_simple2(void **state)
{
        static const snap daily1[] = {
                { "2018-11-15T11:59:15Z", "remove" }, { "2019-11-15T11:59:15Z", "remove" },
                { "2019-11-21T11:59:15Z", "remove" }, { "2019-11-22T11:59:15Z", "remove" },
                { "2019-11-29T11:59:15Z", "remove" }, { "2019-12-01T11:59:15Z", "remove" },
                { "2019-12-02T11:59:15Z", "remove" }, { "2019-12-03T11:59:15Z", "remove" },
                { "2019-12-04T11:59:15Z", "daily" },
        };
        static const snap last1_daily1[] = {
                { "2018-11-15T11:59:15Z", "remove" }, { "2019-11-15T11:59:15Z", "remove" },
                { "2019-11-21T11:59:15Z", "remove" }, { "2019-11-22T11:59:15Z", "remove" },
                { "2019-11-29T11:59:15Z", "remove" }, { "2019-12-01T11:59:15Z", "remove" },
                { "2019-12-02T11:59:15Z", "remove" }, { "2019-12-03T11:59:15Z", "daily" },
                { "2019-12-04T11:59:15Z", "last" },
        };
        /* 12-02..12-04 are ISO week 2019-49 (covered by the daily keep);
         * Sunday 12-01 closes week 48, whose other member 11-29 the weekly
         * rule removes; 11-22 would open a second week. */
        static const snap daily1_weekly1[] = {
                { "2018-11-15T11:59:15Z", "remove" }, { "2019-11-15T11:59:15Z", "remove" },
                { "2019-11-21T11:59:15Z", "remove" }, { "2019-11-22T11:59:15Z", "remove" },
                { "2019-11-29T11:59:15Z", "remove" }, { "2019-12-01T11:59:15Z", "weekly" },
                { "2019-12-02T11:59:15Z", "remove" }, { "2019-12-03T11:59:15Z", "remove" },
                { "2019-12-04T11:59:15Z", "daily" },
        };
        /* December is covered; 11-29 was already removed by the weekly rule
         * and is not reconsidered; 11-22 opens November. */
        static const snap daily1_weekly1_monthly1[] = {
                { "2018-11-15T11:59:15Z", "remove" }, { "2019-11-15T11:59:15Z", "remove" },
                { "2019-11-21T11:59:15Z", "remove" }, { "2019-11-22T11:59:15Z", "monthly" },
                { "2019-11-29T11:59:15Z", "remove" }, { "2019-12-01T11:59:15Z", "weekly" },
                { "2019-12-02T11:59:15Z", "remove" }, { "2019-12-03T11:59:15Z", "remove" },
                { "2019-12-04T11:59:15Z", "daily" },
        };
        static const snap monthly1_yearly1[] = {
                { "2018-11-15T11:59:15Z", "yearly" }, { "2019-11-15T11:59:15Z", "remove" },
                { "2019-11-21T11:59:15Z", "remove" }, { "2019-11-22T11:59:15Z", "remove" },
                { "2019-11-29T11:59:15Z", "remove" }, { "2019-12-01T11:59:15Z", "remove" },
                { "2019-12-02T11:59:15Z", "remove" }, { "2019-12-03T11:59:15Z", "remove" },
                { "2019-12-04T11:59:15Z", "monthly" },
        };

        (void)state;
        CHECK(RULES(.keep_daily = 1), "UTC", NOW_FAR, daily1, PERMUTE);
        CHECK(RULES(.keep_last = 1, .keep_daily = 1), "UTC", NOW_FAR, last1_daily1, PERMUTE);
        CHECK(RULES(.keep_daily = 1, .keep_weekly = 1), "UTC", NOW_FAR, daily1_weekly1, PERMUTE);
        CHECK(RULES(.keep_daily = 1, .keep_weekly = 1, .keep_monthly = 1), "UTC", NOW_FAR,
              daily1_weekly1_monthly1, PERMUTE);
        CHECK(RULES(.keep_monthly = 1, .keep_yearly = 1), "UTC", NOW_FAR, monthly1_yearly1, PERMUTE);
}

/* --- pve-storage, test/prune_backups_test.pl ----------------------------- */

/* The "default" list of one guest: 2019-12-31 is a Tuesday in ISO week
 * 2020-01, like 2020-01-01; 2018-05-26 is in week 2018-21. */
#define PVE(a, b, c, d, e)                            \
        {                                             \
                { "2018-05-26T11:18:21Z", a },        \
                { "2019-12-31T11:18:21Z", b },        \
                { "2019-12-31T11:19:21Z", c },        \
                { "2020-01-01T11:18:21Z", d },        \
                { "2020-01-01T12:18:21Z", e },        \
        }

static void
test_pve_prune_backups(void **state)
{
        static const snap last3[] = PVE("remove", "remove", "last", "last", "last");
        static const snap weekly2[] = PVE("weekly", "remove", "remove", "remove", "weekly");
        static const snap dwm1[] = PVE("weekly", "remove", "monthly", "remove", "daily");
        static const snap hourly4[] = PVE("hourly", "remove", "hourly", "hourly", "hourly");
        static const snap yearly2[] = PVE("remove", "remove", "yearly", "remove", "yearly");
        static const snap last2_hourly2[] = PVE("hourly", "remove", "hourly", "last", "last");
        static const snap last1_monthly2[] = PVE("monthly", "remove", "monthly", "remove", "last");
        static const snap monthly3[] = PVE("monthly", "remove", "monthly", "remove", "monthly");
        static const snap ldw1[] = PVE("weekly", "remove", "daily", "remove", "last");
        static const snap daily2[] = PVE("remove", "remove", "daily", "remove", "daily");
        static const snap weekly1_monthly1[] = PVE("monthly", "remove", "remove", "remove", "weekly");
        static const snap weekly1_yearly1[] = PVE("yearly", "remove", "remove", "remove", "weekly");
        /* "threeway": 12-31 is in week 2020-01 (covered by the daily keep of
         * 01-01) and in December (covered by the weekly keep of 12-25). */
        static const snap threeway[] = {
                { "2019-12-25T12:18:21Z", "weekly" },
                { "2019-12-31T12:18:21Z", "remove" },
                { "2020-01-01T12:18:21Z", "daily" },
        };
        /* "weekboundary": Thursday and Friday of week 49, Monday of week 50. */
        static const snap weekboundary[] = {
                { "2020-12-03T12:18:21Z", "remove" },
                { "2020-12-04T12:18:21Z", "weekly" },
                { "2020-12-07T12:18:21Z", "daily" },
        };
        /* "year1970": years before 2000 and after 2038. */
        static const snap year1970[] = {
                { "@83", "remove" },
                { "2070-01-01T00:01:00Z", "yearly" },
        };

        (void)state;
        CHECK(RULES(.keep_last = 3), "UTC", NOW_FAR, last3, PERMUTE);
        CHECK(RULES(.keep_weekly = 2), "UTC", NOW_FAR, weekly2, PERMUTE);
        CHECK(RULES(.keep_daily = 1, .keep_weekly = 1, .keep_monthly = 1), "UTC", NOW_FAR, dwm1, PERMUTE);
        CHECK(RULES(.keep_hourly = 4), "UTC", NOW_FAR, hourly4, PERMUTE);
        CHECK(RULES(.keep_yearly = 2), "UTC", NOW_FAR, yearly2, PERMUTE);
        CHECK(RULES(.keep_last = 2, .keep_hourly = 2), "UTC", NOW_FAR, last2_hourly2, PERMUTE);
        CHECK(RULES(.keep_last = 1, .keep_monthly = 2), "UTC", NOW_FAR, last1_monthly2, PERMUTE);
        CHECK(RULES(.keep_monthly = 3), "UTC", NOW_FAR, monthly3, PERMUTE);
        CHECK(RULES(.keep_last = 1, .keep_daily = 1, .keep_weekly = 1), "UTC", NOW_FAR, ldw1, PERMUTE);
        CHECK(RULES(.keep_daily = 2), "UTC", NOW_FAR, daily2, PERMUTE);
        CHECK(RULES(.keep_weekly = 1, .keep_monthly = 1), "UTC", NOW_FAR, weekly1_monthly1, PERMUTE);
        CHECK(RULES(.keep_weekly = 1, .keep_yearly = 1), "UTC", NOW_FAR, weekly1_yearly1, PERMUTE);
        CHECK(RULES(.keep_daily = 1, .keep_weekly = 1, .keep_monthly = 1), "UTC", NOW_FAR, threeway,
              PERMUTE);
        CHECK(RULES(.keep_daily = 1, .keep_weekly = 1), "UTC", NOW_FAR, weekboundary, PERMUTE);
        CHECK(RULES(.keep_yearly = 1), "UTC", NOW_FAR, year1970, PERMUTE);
}

/* --- ISO weeks across months and years ----------------------------------- */

static void
test_iso_week_year_boundary(void **state)
{
        /* 2020-12-31 (Thu), 2021-01-01 (Fri) and 2021-01-03 (Sun) are all ISO
         * week 2020-53; 2021-01-04 (Mon) is 2021-01; 2020-12-27 (Sun) is
         * 2020-52. */
        static const snap weekly2[] = {
                { "2020-12-27T10:00:00Z", "remove" },
                { "2020-12-31T10:00:00Z", "remove" },
                { "2021-01-01T10:00:00Z", "remove" },
                { "2021-01-03T10:00:00Z", "weekly" },
                { "2021-01-04T10:00:00Z", "weekly" },
        };
        static const snap weekly3[] = {
                { "2020-12-27T10:00:00Z", "weekly" },
                { "2020-12-31T10:00:00Z", "remove" },
                { "2021-01-01T10:00:00Z", "remove" },
                { "2021-01-03T10:00:00Z", "weekly" },
                { "2021-01-04T10:00:00Z", "weekly" },
        };
        /* The weekly rule removed 12-31 (its week was taken by 01-03); the
         * yearly rule may not bring it back and keeps 12-27 for 2020. */
        static const snap weekly2_yearly2[] = {
                { "2020-12-27T10:00:00Z", "yearly" },
                { "2020-12-31T10:00:00Z", "remove" },
                { "2021-01-01T10:00:00Z", "remove" },
                { "2021-01-03T10:00:00Z", "weekly" },
                { "2021-01-04T10:00:00Z", "weekly" },
        };
        static const snap monthly2[] = {
                { "2020-12-27T10:00:00Z", "remove" },
                { "2020-12-31T10:00:00Z", "monthly" },
                { "2021-01-01T10:00:00Z", "remove" },
                { "2021-01-03T10:00:00Z", "remove" },
                { "2021-01-04T10:00:00Z", "monthly" },
        };
        /* Week 2019-01 starts on Monday 2018-12-31; 2018-12-30 is 2018-52. */
        static const snap weekly_2019[] = {
                { "2018-12-30T23:59:59Z", "weekly" },
                { "2018-12-31T00:00:00Z", "remove" },
                { "2019-01-06T23:59:59Z", "weekly" },
        };
        /* A week that spans two months is one bucket: Mon 2021-05-31 and
         * Sun 2021-06-06 are both 2021-22. */
        static const snap weekly_across_month[] = {
                { "2021-05-30T12:00:00Z", "weekly" },
                { "2021-05-31T12:00:00Z", "remove" },
                { "2021-06-06T12:00:00Z", "weekly" },
        };

        (void)state;
        CHECK(RULES(.keep_weekly = 2), "UTC", NOW_FAR, weekly2, PERMUTE);
        CHECK(RULES(.keep_weekly = 3), "UTC", NOW_FAR, weekly3, PERMUTE);
        CHECK(RULES(.keep_weekly = 2, .keep_yearly = 2), "UTC", NOW_FAR, weekly2_yearly2, PERMUTE);
        CHECK(RULES(.keep_monthly = 2), "UTC", NOW_FAR, monthly2, PERMUTE);
        CHECK(RULES(.keep_weekly = 5), "UTC", NOW_FAR, weekly_2019, PERMUTE);
        CHECK(RULES(.keep_weekly = 5), "UTC", NOW_FAR, weekly_across_month, PERMUTE);
}

/* --- pinned snapshots ----------------------------------------------------- */

static void
test_pinned(void **state)
{
        /* Pinned snapshots do not count towards keep-last... */
        static const snap last2[] = {
                { "2020-05-01T10:00:00Z", "remove" },
                { "2020-05-02T10:00:00Z", "last" },
                { "2020-05-03T10:00:00Z", "pinned" },
                { "2020-05-04T10:00:00Z", "last" },
                { "2020-05-05T10:00:00Z", "pinned" },
        };
        /* ...nor cover a bucket: the day of the pinned 12:00 is still taken
         * by the unpinned 10:00 of the same day. */
        static const snap daily1[] = {
                { "2020-05-04T10:00:00Z", "remove" },
                { "2020-05-05T10:00:00Z", "daily" },
                { "2020-05-05T12:00:00Z", "pinned" },
        };
        /* ...and are never removed, however old. */
        static const snap old_pinned[] = {
                { "1999-01-01T00:00:00Z", "pinned" },
                { "2020-05-04T10:00:00Z", "remove" },
                { "2020-05-05T10:00:00Z", "last" },
        };
        /* The newest *unpinned* snapshot is the one always kept. */
        static const snap newest[] = {
                { "2020-05-03T10:00:00Z", "remove" },
                { "2020-05-04T10:00:00Z", "newest" },
                { "2020-05-05T10:00:00Z", "pinned" },
        };
        static const snap all_pinned[] = {
                { "2020-05-04T10:00:00Z", "pinned" },
                { "2020-05-05T10:00:00Z", "pinned" },
        };

        (void)state;
        CHECK(RULES(.keep_last = 2), "UTC", NOW_FAR, last2, PERMUTE);
        CHECK(RULES(.keep_daily = 1), "UTC", NOW_FAR, daily1, PERMUTE);
        CHECK(RULES(.keep_last = 1), "UTC", NOW_FAR, old_pinned, PERMUTE);
        CHECK(RULES(.keep_within = 3600), "UTC", NOW_FAR, newest, PERMUTE);
        CHECK(RULES(.keep_last = 1), "UTC", NOW_FAR, all_pinned, PERMUTE);
}

/* --- Europe/Berlin DST ----------------------------------------------------- */

static void
test_berlin_fall_back(void **state)
{
        /* 2026-10-25 01:00Z: 03:00 CEST becomes 02:00 CET, so local 02:xx
         * happens twice and is ONE hourly bucket "2026-10-25 02":
         *   23:30Z = 01:30 CEST   00:00Z = 02:00 CEST   00:30Z = 02:30 CEST
         *   01:00Z = 02:00 CET    01:30Z = 02:30 CET    02:00Z = 03:00 CET
         *   02:30Z = 03:30 CET */
        static const snap hourly3[] = {
                { "2026-10-24T23:30:00Z", "hourly" },
                { "2026-10-25T00:00:00Z", "remove" },
                { "2026-10-25T00:30:00Z", "remove" },
                { "2026-10-25T01:00:00Z", "remove" },
                { "2026-10-25T01:30:00Z", "hourly" },
                { "2026-10-25T02:00:00Z", "remove" },
                { "2026-10-25T02:30:00Z", "hourly" },
        };
        /* Hourly snapshots over the whole local day, 22:00Z (00:00 CEST) to
         * 22:00Z next day (23:00 CET): 25 snapshots, 24 local hours.  The
         * older of the two 02:00s is the one removed. */
        static const snap hourly24[] = {
                { "2026-10-24T22:00:00Z", "hourly" }, { "2026-10-24T23:00:00Z", "hourly" },
                { "2026-10-25T00:00:00Z", "remove" }, { "2026-10-25T01:00:00Z", "hourly" },
                { "2026-10-25T02:00:00Z", "hourly" }, { "2026-10-25T03:00:00Z", "hourly" },
                { "2026-10-25T04:00:00Z", "hourly" }, { "2026-10-25T05:00:00Z", "hourly" },
                { "2026-10-25T06:00:00Z", "hourly" }, { "2026-10-25T07:00:00Z", "hourly" },
                { "2026-10-25T08:00:00Z", "hourly" }, { "2026-10-25T09:00:00Z", "hourly" },
                { "2026-10-25T10:00:00Z", "hourly" }, { "2026-10-25T11:00:00Z", "hourly" },
                { "2026-10-25T12:00:00Z", "hourly" }, { "2026-10-25T13:00:00Z", "hourly" },
                { "2026-10-25T14:00:00Z", "hourly" }, { "2026-10-25T15:00:00Z", "hourly" },
                { "2026-10-25T16:00:00Z", "hourly" }, { "2026-10-25T17:00:00Z", "hourly" },
                { "2026-10-25T18:00:00Z", "hourly" }, { "2026-10-25T19:00:00Z", "hourly" },
                { "2026-10-25T20:00:00Z", "hourly" }, { "2026-10-25T21:00:00Z", "hourly" },
                { "2026-10-25T22:00:00Z", "hourly" },
        };
        /* The same 25 snapshots, one day kept: 22:00Z on 10-24 is already
         * 00:00 on 10-25 in Berlin, so they are all one local day. */
        static const snap daily2[] = {
                { "2026-10-24T21:59:59Z", "daily" }, /* 23:59:59 CEST on 10-24 */
                { "2026-10-24T22:00:00Z", "remove" }, { "2026-10-25T00:00:00Z", "remove" },
                { "2026-10-25T01:00:00Z", "remove" }, { "2026-10-25T12:00:00Z", "remove" },
                { "2026-10-25T22:00:00Z", "daily" },
        };

        (void)state;
        CHECK(RULES(.keep_hourly = 3), "Europe/Berlin", NOW_FAR, hourly3, PERMUTE);
        CHECK(RULES(.keep_hourly = 24), "Europe/Berlin", NOW_FAR, hourly24, PERMUTE);
        CHECK(RULES(.keep_daily = 2), "Europe/Berlin", NOW_FAR, daily2, PERMUTE);
}

static void
test_berlin_spring_forward_and_midnight(void **state)
{
        /* 2026-03-29 01:00Z: 02:00 CET becomes 03:00 CEST.
         *   00:30Z = 01:30 CET   01:00Z = 03:00 CEST   01:30Z = 03:30 CEST */
        static const snap hourly2[] = {
                { "2026-03-29T00:30:00Z", "hourly" },
                { "2026-03-29T01:00:00Z", "remove" },
                { "2026-03-29T01:30:00Z", "hourly" },
        };
        /* 2026-06-30 22:30Z is 00:30 CEST on July 1st: a new local day and
         * month although UTC is still in June. */
        static const snap monthly2[] = {
                { "2026-06-30T20:00:00Z", "remove" },  /* 22:00 June 30 */
                { "2026-06-30T21:30:00Z", "monthly" }, /* 23:30 June 30 */
                { "2026-06-30T22:30:00Z", "monthly" }, /* 00:30 July 1 */
        };
        /* 2026-12-31 23:30Z is 00:30 CET on 2027-01-01 (a Friday, still ISO
         * week 2026-53). */
        static const snap yearly2[] = {
                { "2026-12-31T12:00:00Z", "remove" },
                { "2026-12-31T22:30:00Z", "yearly" }, /* 23:30 Dec 31 */
                { "2026-12-31T23:30:00Z", "yearly" }, /* 00:30 Jan 1 */
        };
        static const snap weekly3[] = {
                { "2026-12-27T22:59:59Z", "weekly" }, /* Sun 23:59:59, week 52 */
                { "2026-12-27T23:00:00Z", "remove" }, /* Mon 00:00, week 53 */
                { "2026-12-31T23:30:00Z", "remove" }, /* Fri 2027-01-01, week 53 */
                { "2027-01-03T22:59:59Z", "weekly" }, /* Sun 2027-01-03, week 53 */
                { "2027-01-03T23:00:00Z", "weekly" }, /* Mon 2027-01-04, week 2027-01 */
        };

        (void)state;
        CHECK(RULES(.keep_hourly = 2), "Europe/Berlin", NOW_FAR, hourly2, PERMUTE);
        CHECK(RULES(.keep_monthly = 2), "Europe/Berlin", NOW_FAR, monthly2, PERMUTE);
        CHECK(RULES(.keep_yearly = 2), "Europe/Berlin", NOW_FAR, yearly2, PERMUTE);
        CHECK(RULES(.keep_weekly = 3), "Europe/Berlin", NOW_FAR, weekly3, PERMUTE);
}

/* --- America/Santiago: DST changes at local midnight ---------------------- */

static void
test_santiago_midnight(void **state)
{
        /* 2026-09-06 04:00Z: Saturday 24:00 -04 becomes Sunday 01:00 -03, so
         * Sunday has no 00:xx.
         *   03:30Z = Sat 23:30 -04   04:00Z = Sun 01:00 -03   04:30Z = Sun 01:30 -03 */
        static const snap spring_daily[] = {
                { "2026-09-06T03:30:00Z", "daily" },
                { "2026-09-06T04:00:00Z", "remove" },
                { "2026-09-06T04:30:00Z", "daily" },
        };
        static const snap spring_hourly[] = {
                { "2026-09-06T03:30:00Z", "hourly" },
                { "2026-09-06T04:00:00Z", "remove" },
                { "2026-09-06T04:30:00Z", "hourly" },
        };
        /* 2026-04-05 03:00Z: Sunday 00:00 -03 becomes Saturday 23:00 -04, so
         * Saturday's 23:xx happens twice (one hourly bucket, one day).
         *   02:00Z = Sat 23:00 -03   02:30Z = Sat 23:30 -03
         *   03:00Z = Sat 23:00 -04   03:30Z = Sat 23:30 -04   04:00Z = Sun 00:00 -04 */
        static const snap fall_daily[] = {
                { "2026-04-05T02:00:00Z", "remove" },
                { "2026-04-05T02:30:00Z", "remove" },
                { "2026-04-05T03:00:00Z", "remove" },
                { "2026-04-05T03:30:00Z", "daily" },
                { "2026-04-05T04:00:00Z", "daily" },
        };
        static const snap fall_hourly[] = {
                { "2026-04-05T01:59:59Z", "hourly" }, /* Sat 22:59:59 -03 */
                { "2026-04-05T02:00:00Z", "remove" },
                { "2026-04-05T02:30:00Z", "remove" },
                { "2026-04-05T03:00:00Z", "remove" },
                { "2026-04-05T03:30:00Z", "hourly" },
                { "2026-04-05T04:00:00Z", "hourly" },
        };

        (void)state;
        CHECK(RULES(.keep_daily = 2), "America/Santiago", NOW_FAR, spring_daily, PERMUTE);
        CHECK(RULES(.keep_hourly = 2), "America/Santiago", NOW_FAR, spring_hourly, PERMUTE);
        CHECK(RULES(.keep_daily = 2), "America/Santiago", NOW_FAR, fall_daily, PERMUTE);
        CHECK(RULES(.keep_hourly = 3), "America/Santiago", NOW_FAR, fall_hourly, PERMUTE);
}

/* --- leap years -------------------------------------------------------- */

static void
test_leap_year(void **state)
{
        static const snap daily3[] = {
                { "2024-02-28T09:00:00Z", "remove" },
                { "2024-02-28T10:00:00Z", "daily" },
                { "2024-02-29T10:00:00Z", "daily" },
                { "2024-03-01T10:00:00Z", "daily" },
        };
        static const snap monthly2[] = {
                { "2024-02-28T09:00:00Z", "remove" },
                { "2024-02-28T10:00:00Z", "remove" },
                { "2024-02-29T10:00:00Z", "monthly" },
                { "2024-03-01T10:00:00Z", "monthly" },
        };
        /* Thu 2024-02-29 and Sun 2024-03-03 are week 2024-09; Mon 03-04 is 10;
         * Mon 02-26 is week 09 too, Sun 02-25 is 08. */
        static const snap weekly3[] = {
                { "2024-02-25T10:00:00Z", "weekly" },
                { "2024-02-26T10:00:00Z", "remove" },
                { "2024-02-29T10:00:00Z", "remove" },
                { "2024-03-03T10:00:00Z", "weekly" },
                { "2024-03-04T10:00:00Z", "weekly" },
        };

        (void)state;
        CHECK(RULES(.keep_daily = 3), "UTC", NOW_FAR, daily3, PERMUTE);
        CHECK(RULES(.keep_monthly = 2), "UTC", NOW_FAR, monthly2, PERMUTE);
        CHECK(RULES(.keep_weekly = 3), "UTC", NOW_FAR, weekly3, PERMUTE);
}

/* --- same second, ties by input order ----------------------------------- */

static void
test_same_second(void **state)
{
        /* Three snapshots in one second are three for keep-last; the earlier
         * input index is the newer one. */
        static const snap last2[] = {
                { "2020-01-01T09:00:00Z", "remove" },
                { "2020-01-01T10:00:00Z", "last" },
                { "2020-01-01T10:00:00Z", "last" },
                { "2020-01-01T10:00:00Z", "remove" },
        };
        static const snap last4[] = {
                { "2020-01-01T10:00:00Z", "last" },
                { "2020-01-01T10:00:00Z", "last" },
                { "2020-01-01T10:00:00Z", "last" },
                { "2020-01-01T09:00:00Z", "last" },
        };
        /* ...and one hour for keep-hourly. */
        static const snap hourly2[] = {
                { "2020-01-01T10:00:00Z", "hourly" },
                { "2020-01-01T10:00:00Z", "remove" },
                { "2020-01-01T10:00:00Z", "remove" },
                { "2020-01-01T09:00:00Z", "hourly" },
        };
        /* Ties sorted oldest-first input (no fast path) still keep by index. */
        static const snap ascending_ties[] = {
                { "2020-01-01T08:00:00Z", "remove" },
                { "2020-01-01T09:00:00Z", "last" },
                { "2020-01-01T09:00:00Z", "remove" },
                { "2020-01-01T10:00:00Z", "last" },
        };

        (void)state;
        CHECK(RULES(.keep_last = 2), "UTC", NOW_FAR, last2, 0);
        CHECK(RULES(.keep_last = 4), "UTC", NOW_FAR, last4, 0);
        CHECK(RULES(.keep_hourly = 2), "UTC", NOW_FAR, hourly2, 0);
        CHECK(RULES(.keep_last = 2), "UTC", NOW_FAR, ascending_ties, 0);
}

/* --- keep_within and the newest rule --------------------------------------- */

static void
test_keep_within(void **state)
{
        /* now = 2026-01-10T12:00:00Z, D = 1d: newer than 2026-01-09T12:00:00Z
         * (strictly) is within; snapshots in the future are within too. */
        static const snap within_only[] = {
                { "2026-01-09T11:00:00Z", "remove" },
                { "2026-01-09T12:00:00Z", "remove" },
                { "2026-01-09T12:00:01Z", "within" },
                { "2026-01-10T12:00:00Z", "within" },
                { "2026-01-10T13:00:00Z", "within" },
        };
        /* Kept by within, 01-09 and 01-10 are covered days for keep-daily. */
        static const snap within_daily[] = {
                { "2026-01-07T12:00:00Z", "daily" },
                { "2026-01-08T12:00:00Z", "daily" },
                { "2026-01-09T11:00:00Z", "remove" },
                { "2026-01-09T12:00:00Z", "remove" },
                { "2026-01-09T12:00:01Z", "within" },
                { "2026-01-10T12:00:00Z", "within" },
        };
        /* keep-last counts past the within window. */
        static const snap within_last[] = {
                { "2026-01-08T12:00:00Z", "remove" },
                { "2026-01-09T11:00:00Z", "last" },
                { "2026-01-09T12:00:00Z", "last" },
                { "2026-01-10T11:00:00Z", "within" },
                { "2026-01-10T12:00:00Z", "within" },
        };
        /* Nothing inside the window: the newest is still kept. */
        static const snap nothing_within[] = {
                { "2025-12-01T00:00:00Z", "remove" },
                { "2025-12-02T00:00:00Z", "remove" },
                { "2025-12-03T00:00:00Z", "newest" },
        };
        int64_t now = T("2026-01-10T12:00:00Z");

        (void)state;
        CHECK(RULES(.keep_within = 86400), "UTC", now, within_only, PERMUTE);
        CHECK(RULES(.keep_within = 86400, .keep_daily = 2), "UTC", now, within_daily, PERMUTE);
        CHECK(RULES(.keep_within = 86400, .keep_last = 2), "UTC", now, within_last, PERMUTE);
        CHECK(RULES(.keep_within = 86400), "UTC", now, nothing_within, PERMUTE);
}

static void
test_newest_always_kept(void **state)
{
        static const snap one[] = {
                { "2020-01-01T10:00:00Z", "newest" },
        };
        static const snap none_rules[] = {
                { "2020-01-01T09:00:00Z", "remove" },
                { "2020-01-01T10:00:00Z", "newest" },
        };

        (void)state;
        CHECK(RULES(.keep_within = 60), "UTC", NOW_FAR, one, 0);
        /* No rule at all (the CLI and the policy loader refuse this). */
        CHECK(RULES(0), "UTC", NOW_FAR, none_rules, PERMUTE);
}

static void
test_empty_and_names(void **state)
{
        vs_retention_rules r = { .keep_daily = 1 };
        vs_tz *tz = zone("UTC");

        (void)state;
        assert_int_equal(vs_retention_apply(&r, tz, 0, NULL, 0), 0);
        vs_tz_free(tz);

        assert_false(vs_retention_rules_any(&(vs_retention_rules){ 0 }));
        assert_false(vs_retention_rules_any(&(vs_retention_rules){ .keep_last = -1 }));
        assert_true(vs_retention_rules_any(&(vs_retention_rules){ .keep_yearly = 1 }));
        assert_true(vs_retention_rules_any(&(vs_retention_rules){ .keep_within = 1 }));

        assert_string_equal(vs_verdict_to_string(VS_VERDICT_KEEP), "keep");
        assert_string_equal(vs_verdict_to_string(VS_VERDICT_REMOVE), "remove");
        assert_string_equal(vs_verdict_to_string(VS_VERDICT_PINNED), "pinned");
        assert_null(vs_keep_rule_to_string(VS_RULE_NONE));
        assert_string_equal(vs_keep_rule_to_string(VS_RULE_WITHIN), "within");
        assert_string_equal(vs_keep_rule_to_string(VS_RULE_LAST), "last");
        assert_string_equal(vs_keep_rule_to_string(VS_RULE_HOURLY), "hourly");
        assert_string_equal(vs_keep_rule_to_string(VS_RULE_DAILY), "daily");
        assert_string_equal(vs_keep_rule_to_string(VS_RULE_WEEKLY), "weekly");
        assert_string_equal(vs_keep_rule_to_string(VS_RULE_MONTHLY), "monthly");
        assert_string_equal(vs_keep_rule_to_string(VS_RULE_YEARLY), "yearly");
        assert_string_equal(vs_keep_rule_to_string(VS_RULE_NEWEST), "newest");
}

/* --- differential test against a naive reference ------------------------ */

typedef struct ref_item {
        int64_t time;
        bool pinned;
        size_t idx;
        int mark; /* 0 none, 1 keep, 2 remove */
        vs_keep_rule rule;
        char key[6][32];
} ref_item;

static int
iso_weeks_in_year(int64_t y)
{
        int64_t p = (y + y / 4 - y / 100 + y / 400) % 7;
        int64_t q = ((y - 1) + (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400) % 7;

        return (p == 4 || q == 3) ? 53 : 52;
}

/* %G-%V by the textbook formula from day of year and weekday. */
static void
iso_week(const vs_local_time *lt, int64_t *g, int *v)
{
        int isowday = lt->wday == 0 ? 7 : lt->wday;
        int w = (lt->yday + 1 - isowday + 10) / 7;

        *g = lt->year;
        if (w < 1) {
                *g = lt->year - 1;
                w = iso_weeks_in_year(*g);
        } else if (w > iso_weeks_in_year(lt->year)) {
                *g = lt->year + 1;
                w = 1;
        }
        *v = w;
}

static void
reference(const vs_retention_rules *r, const vs_tz *tz, int64_t now, ref_item *it, size_t n)
{
        const int counts[6] = { r->keep_last, r->keep_hourly, r->keep_daily,
                                r->keep_weekly, r->keep_monthly, r->keep_yearly };
        static const vs_keep_rule rules[6] = { VS_RULE_LAST, VS_RULE_HOURLY, VS_RULE_DAILY,
                                               VS_RULE_WEEKLY, VS_RULE_MONTHLY, VS_RULE_YEARLY };
        const char *covered[512], *taken[512];

        /* Insertion sort, newest first, ties by index. */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0; j--) {
                        ref_item *a = &it[j - 1], *b = &it[j];
                        if (a->time > b->time || (a->time == b->time && a->idx < b->idx))
                                break;
                        ref_item tmp = *a;
                        *a = *b;
                        *b = tmp;
                }
        for (size_t i = 0; i < n; i++) {
                vs_local_time lt;
                int64_t g;
                int v;

                vs_tz_localtime(tz, it[i].time, &lt);
                iso_week(&lt, &g, &v);
                snprintf(it[i].key[0], 32, "#%zu", i);
                snprintf(it[i].key[1], 32, "%04lld-%02d-%02d %02d", (long long)lt.year, lt.month, lt.day,
                         lt.hour);
                snprintf(it[i].key[2], 32, "%04lld-%02d-%02d", (long long)lt.year, lt.month, lt.day);
                snprintf(it[i].key[3], 32, "%04lld-%02d", (long long)g, v);
                snprintf(it[i].key[4], 32, "%04lld-%02d", (long long)lt.year, lt.month);
                snprintf(it[i].key[5], 32, "%04lld", (long long)lt.year);
                it[i].mark = 0;
                it[i].rule = VS_RULE_NONE;
        }
        if (r->keep_within > 0)
                for (size_t i = 0; i < n; i++)
                        if (!it[i].pinned && it[i].time > now - r->keep_within) {
                                it[i].mark = 1;
                                it[i].rule = VS_RULE_WITHIN;
                        }
        for (int k = 0; k < 6; k++) {
                size_t nc = 0, nt = 0;

                if (counts[k] <= 0)
                        continue;
                for (size_t i = 0; i < n; i++)
                        if (!it[i].pinned && it[i].mark == 1)
                                covered[nc++] = it[i].key[k];
                for (size_t i = 0; i < n; i++) {
                        bool is_covered = false, is_taken = false;

                        if (it[i].pinned || it[i].mark)
                                continue;
                        for (size_t j = 0; j < nc; j++)
                                is_covered |= strcmp(covered[j], it[i].key[k]) == 0;
                        if (is_covered)
                                continue;
                        for (size_t j = 0; j < nt; j++)
                                is_taken |= strcmp(taken[j], it[i].key[k]) == 0;
                        if (is_taken) {
                                it[i].mark = 2;
                                continue;
                        }
                        if ((int)nt >= counts[k])
                                break;
                        taken[nt++] = it[i].key[k];
                        it[i].mark = 1;
                        it[i].rule = rules[k];
                }
        }
        for (size_t i = 0; i < n; i++)
                if (!it[i].pinned) {
                        if (it[i].mark != 1) {
                                it[i].mark = 1;
                                it[i].rule = VS_RULE_NEWEST;
                        }
                        break;
                }
}

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

static void
test_against_reference(void **state)
{
        static const char *const zones[] = { "UTC", "Europe/Berlin", "America/Santiago",
                                             "Australia/Lord_Howe", "Asia/Kolkata" };
        /* Times near DST changes and year ends, where bucket keys are hard. */
        static const char *const anchors[] = {
                "2026-10-25T01:00:00Z", "2026-03-29T01:00:00Z", "2026-04-05T03:00:00Z",
                "2026-09-06T04:00:00Z", "2026-04-04T15:00:00Z", "2026-10-03T15:30:00Z",
                "2020-12-31T23:00:00Z", "2024-02-29T12:00:00Z", "1970-01-01T00:00:00Z",
        };
        vs_tz *tz[sizeof(zones) / sizeof(zones[0])];

        (void)state;
        for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++)
                tz[z] = zone(zones[z]);

        for (int round = 0; round < 3000; round++) {
                size_t z = rng() % (sizeof(zones) / sizeof(zones[0]));
                int64_t base = T(anchors[rng() % (sizeof(anchors) / sizeof(anchors[0]))]);
                int64_t spread = (int64_t[]){ 3 * 3600, 2 * 86400, 40 * 86400, 800 * 86400 }[rng() % 4];
                size_t n = 1 + rng() % 200;
                vs_retention_rules r = { 0 };
                vs_retention_item items[200];
                ref_item ref[200];
                int64_t now = base + (int64_t)(rng() % (uint64_t)(spread + 1)) - spread / 2;

                r.keep_last = (int)(rng() % 4);
                r.keep_hourly = (int)(rng() % 6);
                r.keep_daily = (int)(rng() % 6);
                r.keep_weekly = (int)(rng() % 4);
                r.keep_monthly = (int)(rng() % 4);
                r.keep_yearly = (int)(rng() % 3);
                r.keep_within = rng() % 3 == 0 ? (int64_t)(rng() % 86400) : 0;
                for (size_t i = 0; i < n; i++) {
                        int64_t t = base + (int64_t)(rng() % (uint64_t)spread) - spread / 2;

                        if (i > 0 && rng() % 10 == 0)
                                t = items[rng() % i].time; /* same-second twins */
                        items[i] = (vs_retention_item){ .time = t, .pinned = rng() % 8 == 0 };
                        ref[i] = (ref_item){ .time = t, .pinned = items[i].pinned, .idx = i };
                }
                if (rng() % 3 == 0) /* sorted input exercises the fast paths */
                        for (size_t i = 1; i < n; i++)
                                if (items[i].time <= items[i - 1].time)
                                        ref[i].time = items[i].time = items[i - 1].time + 1 + (int64_t)(rng() % 900);
                assert_int_equal(vs_retention_apply(&r, tz[z], now, items, n), 0);
                reference(&r, tz[z], now, ref, n);
                for (size_t i = 0; i < n; i++) {
                        const ref_item *x = &ref[i];
                        const vs_retention_item *y = &items[x->idx];
                        vs_verdict want = x->pinned ? VS_VERDICT_PINNED
                                          : x->mark == 1 ? VS_VERDICT_KEEP : VS_VERDICT_REMOVE;
                        vs_keep_rule want_rule = want == VS_VERDICT_KEEP ? x->rule : VS_RULE_NONE;

                        if (y->verdict != want || y->rule != want_rule) {
                                print_error("round %d zone %s item %zu @%lld: want %d/%d got %d/%d\n", round,
                                            zones[z], x->idx, (long long)x->time, want, want_rule,
                                            y->verdict, y->rule);
                                fail();
                        }
                }
        }
        for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++)
                vs_tz_free(tz[z]);
}

int
main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pbs_hourly),
                cmocka_unit_test(test_pbs_simple),
                cmocka_unit_test(test_pbs_simple2),
                cmocka_unit_test(test_pve_prune_backups),
                cmocka_unit_test(test_iso_week_year_boundary),
                cmocka_unit_test(test_pinned),
                cmocka_unit_test(test_berlin_fall_back),
                cmocka_unit_test(test_berlin_spring_forward_and_midnight),
                cmocka_unit_test(test_santiago_midnight),
                cmocka_unit_test(test_leap_year),
                cmocka_unit_test(test_same_second),
                cmocka_unit_test(test_keep_within),
                cmocka_unit_test(test_newest_always_kept),
                cmocka_unit_test(test_empty_and_names),
                cmocka_unit_test(test_against_reference),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
