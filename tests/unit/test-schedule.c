/* Unit tests for policy/schedule.c: grammar, cron semantics, DST rules.
 *
 * Every expected instant was computed outside virtsnap, with Python's
 * zoneinfo and GNU date (`TZ=Europe/Berlin date -d '2026-03-30 02:30' +%s`,
 * `date -u -d '2104-02-29' +%s`), against the same system tzdata. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "schedule.h"
#include "tz.h"

static vs_tz *
zone(const char *name)
{
        vs_tz *tz = NULL;
        vs_err err = { 0 };

        if (vs_tz_load(name, &tz, &err) < 0)
                fail_msg("loading %s: %s", name, err.msg);
        return tz;
}

static vs_schedule *
sched(const char *text)
{
        vs_schedule *s = NULL;
        char err[256];

        if (vs_schedule_parse(text, &s, err, sizeof(err)) < 0)
                fail_msg("parsing '%s': %s", text, err);
        return s;
}

/* Assert that the firings of `text` in `tzname` strictly after `after` are
 * exactly `want` (n of them). */
static void
check_next(const char *text, const char *tzname, int64_t after, const int64_t *want, size_t n)
{
        vs_schedule *s = sched(text);
        vs_tz *tz = zone(tzname);
        int64_t t = after;

        for (size_t i = 0; i < n; i++) {
                t = vs_schedule_next(s, tz, t);
                if (t != want[i])
                        fail_msg("'%s' in %s after %lld: firing %zu is %lld, expected %lld", text, tzname,
                                 (long long)after, i, (long long)t, (long long)want[i]);
        }
        vs_schedule_free(s);
        vs_tz_free(tz);
}

#define CHECK_NEXT(text, tz, after, ...)                                                        \
        do {                                                                                    \
                const int64_t want_[] = { __VA_ARGS__ };                                        \
                check_next(text, tz, after, want_, sizeof(want_) / sizeof(want_[0]));           \
        } while (0)

/* Firings in [start, end). */
static size_t
count_in(const char *text, const char *tzname, int64_t start, int64_t end, int64_t *out, size_t max)
{
        vs_schedule *s = sched(text);
        vs_tz *tz = zone(tzname);
        size_t n = 0;

        for (int64_t t = vs_schedule_next(s, tz, start - 1); t < end; t = vs_schedule_next(s, tz, t)) {
                if (n < max)
                        out[n] = t;
                n++;
        }
        vs_schedule_free(s);
        vs_tz_free(tz);
        return n;
}

/* Berlin, local day 2026-03-29 = [1774738800, 1774821600): 02:00 CET jumps
 * to 03:00 CEST at 01:00Z (1774746000). */
#define SPRING_DAY 1774738800
#define SPRING_END 1774821600
#define SPRING_T 1774746000
/* Berlin, local day 2026-10-25 = [1792879200, 1792969200): 03:00 CEST falls
 * back to 02:00 CET at 01:00Z (1792890000). */
#define FALL_DAY 1792879200
#define FALL_END 1792969200
#define FALL_T 1792890000

static void
test_hourly_dst_days(void **state)
{
        int64_t got[32];

        (void)state;
        /* hour field '*': every real instant whose wall time is hh:00 */
        assert_int_equal(count_in("0 * * * *", "Europe/Berlin", SPRING_DAY, SPRING_END, got, 32), 23);
        for (int i = 0; i < 23; i++)
                assert_int_equal(got[i], SPRING_DAY + i * 3600); /* 00, 01, 03, 04, ... 23 local */
        assert_int_equal(count_in("0 * * * *", "Europe/Berlin", FALL_DAY, FALL_END, got, 32), 25);
        for (int i = 0; i < 25; i++)
                assert_int_equal(got[i], FALL_DAY + i * 3600); /* 02:00 CEST and 02:00 CET both fire */
        assert_int_equal(count_in("hourly", "Europe/Berlin", FALL_DAY, FALL_END, got, 32), 25);
        assert_int_equal(count_in("30 * * * *", "Europe/Berlin", SPRING_DAY, SPRING_END, got, 32), 23);
        assert_int_equal(count_in("*/15 * * * *", "Europe/Berlin", FALL_DAY, FALL_END, got, 32), 100);
        /* an hour field '*' with a step is a wildcard too (Vixie's flag):
         * 00, 02 CEST, 02 CET, 04, ... 22 on the fall-back day */
        assert_int_equal(count_in("0 */2 * * *", "Europe/Berlin", FALL_DAY, FALL_END, got, 32), 13);
        assert_int_equal(got[1], 1792886400);
        assert_int_equal(got[2], FALL_T);
        /* ... and on the spring-forward day the nonexistent 02:00 is skipped */
        assert_int_equal(count_in("0 */2 * * *", "Europe/Berlin", SPRING_DAY, SPRING_END, got, 32), 11);
        assert_int_equal(got[1], SPRING_T + 3600); /* 04:00 CEST */
}

static void
test_fixed_hours_dst(void **state)
{
        int64_t got[8];

        (void)state;
        /* spring-forward: 02:30 does not exist and fires at the transition */
        CHECK_NEXT("30 2 * * *", "Europe/Berlin", 1774600000, 1774661400, SPRING_T, 1774830600);
        /* fall-back: 02:30 happens twice and fires at the first (CEST) only */
        CHECK_NEXT("30 2 * * *", "Europe/Berlin", 1792800000, 1792801800, 1792888200, 1792978200);
        assert_int_equal(count_in("30 2 * * *", "Europe/Berlin", FALL_DAY, FALL_END, got, 8), 1);
        /* ... also when asked from inside the repeated hour (02:10 CET) */
        CHECK_NEXT("30 2 * * *", "Europe/Berlin", 1792890600, 1792978200);
        /* several times in the gap collapse into one firing */
        CHECK_NEXT("*/15 2 * * *", "Europe/Berlin", SPRING_DAY, SPRING_T, 1774828800);
        assert_int_equal(count_in("*/15 2 * * *", "Europe/Berlin", SPRING_DAY, SPRING_END, got, 8), 1);
        assert_int_equal(count_in("0,30 2,3 * * *", "Europe/Berlin", SPRING_DAY, SPRING_END, got, 8), 2);
        assert_int_equal(got[0], SPRING_T);        /* 02:00, 02:30 and 03:00 */
        assert_int_equal(got[1], SPRING_T + 1800); /* 03:30 */
        /* ... and the fall-back hour fires its four quarters once */
        CHECK_NEXT("*/15 2 * * *", "Europe/Berlin", FALL_DAY, 1792886400, 1792887300, 1792888200, 1792889100,
                   1792976400);
        /* asked exactly at the transition instant minus one second */
        CHECK_NEXT("30 2 * * *", "Europe/Berlin", SPRING_T - 1, SPRING_T, 1774830600);
        CHECK_NEXT("30 2 * * *", "Europe/Berlin", SPRING_T, 1774830600);
        /* 30-minute DST: Lord Howe 2026-10-04 02:00 +10:30 -> 02:30 +11 */
        CHECK_NEXT("0 2 * * *", "Australia/Lord_Howe", 1791000000, 1791041400);
}

static void
test_santiago_midnight(void **state)
{
        int64_t got[32];

        (void)state;
        /* 2026-09-06 00:00 -04 -> 01:00 -03: midnight does not exist and
         * fires at the transition (01:00 -03). */
        CHECK_NEXT("0 0 * * *", "America/Santiago", 1788500000, 1788580800, 1788667200, 1788750000);
        CHECK_NEXT("daily", "America/Santiago", 1788500000, 1788580800, 1788667200, 1788750000);
        /* 2026-04-05 00:00 -03 -> 2026-04-04 23:00 -04: midnight happens
         * once each day; 23:00 on the 4th twice, fired once. */
        CHECK_NEXT("0 0 * * *", "America/Santiago", 1775200000, 1775271600, 1775361600, 1775448000);
        CHECK_NEXT("0 23 * * *", "America/Santiago", 1775300000, 1775354400, 1775444400);
        /* with an hour field '*' both 23:00 fire */
        CHECK_NEXT("0 * * * *", "America/Santiago", 1775350000, 1775350800, 1775354400, 1775358000,
                   1775361600);
        /* local days 2026-09-06 (23 h) and 2026-04-04 (25 h) */
        assert_int_equal(count_in("0 * * * *", "America/Santiago", 1788667200, 1788750000, got, 32), 23);
        assert_int_equal(count_in("0 * * * *", "America/Santiago", 1775271600, 1775361600, got, 32), 25);
}

static void
test_calendar(void **state)
{
        vs_schedule *s;

        (void)state;
        /* leap days: every 4 years, and 2100 is no leap year */
        CHECK_NEXT("0 0 29 2 *", "UTC", 1767225600, 1835395200, 1961625600, 2087856000);
        CHECK_NEXT("0 0 29 2 *", "UTC", 3981312000, 4233686400);
        /* the 31st skips 30-day months and February */
        CHECK_NEXT("0 0 31 * *", "UTC", 1767225600, 1769817600, 1774915200, 1780185600, 1785456000, 1788134400,
                   1793404800, 1798675200);
        /* never: February 30th, or the 31st of 30-day months */
        s = sched("0 0 30 2 *");
        assert_true(vs_schedule_next(s, NULL, 0) == INT64_MAX);
        assert_true(vs_schedule_period(s, NULL, 0) == INT64_MAX);
        vs_schedule_free(s);
        s = sched("0 0 31 apr,jun,sep,nov *");
        assert_true(vs_schedule_next(s, NULL, 1767225600) == INT64_MAX);
        vs_schedule_free(s);
        /* ... but with a restricted day-of-week the OR rule makes it fire:
         * 31st of April OR any Friday in April */
        CHECK_NEXT("0 0 31 4 5", "UTC", 1767225600, 1775174400, 1775779200, 1776384000);
}

static void
test_vixie_or(void **state)
{
        (void)state;
        /* "0 0 13 * 5" is not Friday the 13th: it is the 13th OR any Friday. */
        CHECK_NEXT("0 0 13 * 5", "UTC", 1769904000 /* 2026-02-01 */, 1770336000, 1770940800 /* Fri 13th */,
                   1771545600, 1772150400, 1772755200, 1773360000);
        CHECK_NEXT("0 0 13 * fri", "UTC", 1775001600 /* 2026-04-01 */, 1775174400, 1775779200,
                   1776038400 /* Monday the 13th */, 1776384000, 1776988800);
        /* only one of them restricted: that one decides */
        CHECK_NEXT("0 0 13 * *", "UTC", 1775001600, 1776038400);
        CHECK_NEXT("0 0 * * 5", "UTC", 1775001600, 1775174400, 1775779200, 1776384000);
        /* a field starting with '*' counts as unrestricted, so the rule is AND:
         * days 1 and 30 (*\/29) that are Sundays (*\/7 = 0 and 7) */
        CHECK_NEXT("0 0 */29 * */7", "UTC", 1767225600, 1769904000 /* Sun 2026-02-01 */,
                   1772323200 /* Sun 2026-03-01 */);
        /* "first Monday" the naive way is days 1-7 OR Mondays */
        CHECK_NEXT("0 0 1-7 * 1", "UTC", 1780272000 - 1, 1780272000, 1780272000 + 86400, 1780272000 + 2 * 86400,
                   1780272000 + 3 * 86400, 1780272000 + 4 * 86400, 1780272000 + 5 * 86400,
                   1780272000 + 6 * 86400, 1780876800 /* Mon 8th */, 1780876800 + 7 * 86400);
}

static void
test_steps_names(void **state)
{
        const int64_t h = 1767225600; /* 2026-01-01T00:00:00Z, a Thursday */

        (void)state;
        CHECK_NEXT("*/15 * * * *", "UTC", h, h + 900, h + 1800, h + 2700, h + 3600);
        CHECK_NEXT("1-5/2 * * * *", "UTC", h, h + 60, h + 180, h + 300, h + 3600 + 60);
        CHECK_NEXT("*/25 * * * *", "UTC", h, h + 1500, h + 3000, h + 3600);
        CHECK_NEXT("0 */6 * * *", "UTC", h, h + 6 * 3600, h + 12 * 3600, h + 18 * 3600, h + 24 * 3600);
        CHECK_NEXT("10,20-22 3 * * *", "UTC", h, h + 3 * 3600 + 600, h + 3 * 3600 + 1200, h + 3 * 3600 + 1260,
                   h + 3 * 3600 + 1320, h + 86400 + 3 * 3600 + 600);
        /* 7 and 0 and sun are Sunday (2026-01-04) */
        CHECK_NEXT("0 0 * * 7", "UTC", h, 1767484800, 1767484800 + 7 * 86400);
        CHECK_NEXT("0 0 * * 0", "UTC", h, 1767484800, 1767484800 + 7 * 86400);
        CHECK_NEXT("0 0 * * SUN", "UTC", h, 1767484800, 1767484800 + 7 * 86400);
        /* a range may end on Sunday: fri-sun = 5-7 */
        CHECK_NEXT("0 0 * * fri-sun", "UTC", h, h + 86400, h + 2 * 86400, h + 3 * 86400, h + 8 * 86400);
        CHECK_NEXT("0 0 * * 5-7", "UTC", h, h + 86400, h + 2 * 86400, h + 3 * 86400, h + 8 * 86400);
        /* weekdays at noon, from Saturday 2026-01-03 */
        CHECK_NEXT("0 12 * * Mon-FRI", "UTC", h + 2 * 86400, 1767614400, 1767614400 + 86400);
        /* months by name, with a step: jan-dec/3 = jan, apr, jul, oct */
        CHECK_NEXT("0 0 1 jan-dec/3 *", "UTC", h, 1775001600 /* 2026-04-01 */);
        CHECK_NEXT("0 0 1 JAN,jul *", "UTC", h, 1782864000 /* 2026-07-01 */, 1798761600 /* 2027-01-01 */);
        /* shortcuts */
        CHECK_NEXT("weekly", "UTC", h, 1767571200 /* Mon 2026-01-05 */);
        CHECK_NEXT("monthly", "UTC", h, 1769904000);
        CHECK_NEXT("yearly", "UTC", h, 1798761600);
        CHECK_NEXT("@daily", "UTC", h, h + 86400);
}

static void
test_every(void **state)
{
        vs_schedule *s;
        vs_tz *berlin = zone("Europe/Berlin");

        (void)state;
        /* multiples of the interval since the epoch, in UTC whatever the zone */
        CHECK_NEXT("every 15m", "Europe/Berlin", 1767225600 + 7 * 60, 1767226500, 1767226500 + 900);
        CHECK_NEXT("every 6h", "Europe/Berlin", SPRING_T, 1774764000, 1774764000 + 21600);
        CHECK_NEXT("every 6h", "UTC", 1774764000, 1774764000 + 21600); /* strictly after */
        CHECK_NEXT("every 1h30m", "UTC", 0, 5400, 10800);
        CHECK_NEXT("every 30s", "UTC", -1, 0, 30);
        CHECK_NEXT("every 7d", "UTC", 0, 604800); /* Thursdays 00:00Z */
        s = sched("every 6h");
        assert_int_equal(vs_schedule_period(s, berlin, SPRING_T), 21600);
        assert_string_equal(vs_schedule_text(s), "every 6h");
        vs_schedule_free(s);
        vs_tz_free(berlin);
}

static void
test_period(void **state)
{
        vs_tz *tz = zone("Europe/Berlin");
        vs_schedule *s;

        (void)state;
        s = sched("0 * * * *");
        assert_int_equal(vs_schedule_period(s, tz, SPRING_T - 1800), 3600);
        vs_schedule_free(s);
        s = sched("30 2 * * *");
        /* from the gap firing (01:00Z) to 02:30 CEST the next day */
        assert_int_equal(vs_schedule_period(s, tz, 1774700000), 1774830600 - SPRING_T);
        vs_schedule_free(s);
        s = sched("daily");
        assert_int_equal(vs_schedule_period(s, tz, 1767225600), 86400);
        vs_schedule_free(s);
        vs_tz_free(tz);
}

static void
test_many_successive(void **state)
{
        vs_schedule *s = sched("0 * * * *");
        vs_tz *tz = zone("Europe/Berlin");
        int64_t t = 1772323200; /* 2026-03-01T00:00:00Z */

        (void)state;
        /* Hourly in Berlin is hourly in UTC, through both DST changes. */
        for (int i = 1; i <= 10000; i++) {
                t = vs_schedule_next(s, tz, t);
                assert_int_equal(t, 1772323200 + (int64_t)i * 3600);
        }
        vs_schedule_free(s);
        vs_tz_free(tz);
}

static void
expect_error(const char *text, const char *msg)
{
        vs_schedule *s = (vs_schedule *)&s;
        char err[256] = "";

        if (vs_schedule_parse(text, &s, err, sizeof(err)) != -EINVAL)
                fail_msg("'%s' was accepted", text);
        assert_null(s);
        if (strcmp(err, msg) != 0)
                fail_msg("'%s': got \"%s\", expected \"%s\"", text, err, msg);
}

static void
test_errors(void **state)
{
        (void)state;
        expect_error("", "empty schedule");
        expect_error("  \t ", "empty schedule");
        expect_error("0 24 * * *", "field 2 (hour): 24 out of range 0-23");
        expect_error("60 * * * *", "field 1 (minute): 60 out of range 0-59");
        expect_error("0 0 0 * *", "field 3 (day-of-month): 0 out of range 1-31");
        expect_error("0 0 32 * *", "field 3 (day-of-month): 32 out of range 1-31");
        expect_error("0 0 * 13 *", "field 4 (month): 13 out of range 1-12");
        expect_error("0 0 * * 8", "field 5 (day-of-week): 8 out of range 0-7");
        expect_error("*/0 * * * *", "field 1 (minute): step 0 is not allowed");
        expect_error("0 1-5/0 * * *", "field 2 (hour): step 0 is not allowed");
        expect_error("*/60 * * * *", "field 1 (minute): step 60 out of range 1-59");
        expect_error("30-10 * * * *", "field 1 (minute): range 30-10 is reversed");
        expect_error("0 0 * dec-jan *", "field 4 (month): range 12-1 is reversed");
        expect_error("5/15 * * * *", "field 1 (minute): a step needs a range or '*' (write 5-59/N)");
        expect_error("0 0 * * * *",
                     "expected 5 cron fields (minute hour day-of-month month day-of-week), got 6");
        expect_error("0 0 * *", "expected 5 cron fields (minute hour day-of-month month day-of-week), got 4");
        expect_error("hourlyy",
                     "unknown schedule 'hourlyy' (expected hourly, daily, weekly, monthly, yearly, "
                     "their @ forms, 'every DURATION' or 5 cron fields)");
        expect_error("x * * * *", "field 1 (minute): 'x' is not a number");
        expect_error("0 0 * foo *", "field 4 (month): unknown name 'foo' (expected jan-dec)");
        expect_error("0 0 * * funday", "field 5 (day-of-week): unknown name 'funday' (expected sun-sat)");
        expect_error("1,,2 * * * *", "field 1 (minute): empty list element");
        expect_error("1, * * * *", "field 1 (minute): empty list element");
        expect_error("1-2-3 * * * *", "field 1 (minute): unexpected '-'");
        expect_error("*/15x * * * *", "field 1 (minute): unexpected 'x'");
        expect_error("every", "'every' needs an interval (e.g. 'every 15m')");
        expect_error("every 0s", "interval must be greater than zero");
        expect_error("every 0m0s", "interval must be greater than zero");
        expect_error("every 15", "invalid interval '15' (a number with a unit s, m, h, d or w, e.g. 15m or 1h30m)");
        expect_error("every 1h 30m", "'every' takes one interval without spaces (e.g. 'every 1h30m')");
        expect_error("every 99999999999999999999s", "interval '99999999999999999999s' is too large");
}

static void
test_text(void **state)
{
        vs_schedule *s = sched("  */15   2 * *\tmon ");
        vs_schedule *t = sched("*/15 2 * * 1");

        (void)state;
        assert_string_equal(vs_schedule_text(s), "*/15   2 * *\tmon");
        for (int64_t x = 1767225600, y = x; x < 1767225600 + 60 * 86400;) {
                x = vs_schedule_next(s, NULL, x);
                y = vs_schedule_next(t, NULL, y);
                assert_int_equal(x, y);
        }
        vs_schedule_free(s);
        vs_schedule_free(t);
        vs_schedule_free(NULL);
}

int
main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hourly_dst_days),
                cmocka_unit_test(test_fixed_hours_dst),
                cmocka_unit_test(test_santiago_midnight),
                cmocka_unit_test(test_calendar),
                cmocka_unit_test(test_vixie_or),
                cmocka_unit_test(test_steps_names),
                cmocka_unit_test(test_every),
                cmocka_unit_test(test_period),
                cmocka_unit_test(test_many_successive),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_text),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
