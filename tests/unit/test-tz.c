/* Unit tests for policy/tz.c: TZif reading, POSIX TZ footers, lookups.
 *
 * Every expected instant was computed outside virtsnap, with Python's
 * zoneinfo and GNU date (e.g. `TZ=Europe/Berlin date -d '2026-03-30 02:30'
 * +%s`), against the same system tzdata. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "timefmt.h"
#include "tz.h"

static vs_tz *
load(const char *name)
{
        vs_tz *tz = NULL;
        vs_err err = { 0 };

        if (vs_tz_load(name, &tz, &err) < 0)
                fail_msg("loading %s: %s", name ? name : "(host)", err.msg);
        return tz;
}

static const char *
local(const vs_tz *tz, int64_t t)
{
        static char buf[VS_TIME_BUFSZ];

        return vs_tz_format_local(tz, t, buf, sizeof(buf));
}

static void
test_berlin(void **state)
{
        vs_tz *tz = load("Europe/Berlin");
        vs_local_time lt;

        (void)state;
        assert_string_equal(vs_tz_name(tz), "Europe/Berlin");
        /* spring-forward 2026-03-29 01:00Z: 02:00 CET -> 03:00 CEST */
        assert_int_equal(vs_tz_offset(tz, 1774745999), 3600);
        assert_int_equal(vs_tz_offset(tz, 1774746000), 7200);
        assert_string_equal(local(tz, 1774745999), "2026-03-29T01:59:59+01:00");
        assert_string_equal(local(tz, 1774746000), "2026-03-29T03:00:00+02:00");
        /* fall-back 2026-10-25 01:00Z: 03:00 CEST -> 02:00 CET */
        assert_string_equal(local(tz, 1792888200), "2026-10-25T02:30:00+02:00");
        assert_string_equal(local(tz, 1792891800), "2026-10-25T02:30:00+01:00");
        assert_string_equal(local(tz, 0), "1970-01-01T01:00:00+01:00");

        assert_int_equal(vs_tz_next_transition(tz, 1767225600), 1774746000);
        assert_int_equal(vs_tz_next_transition(tz, 1774745999), 1774746000);
        assert_int_equal(vs_tz_next_transition(tz, 1774746000), 1792890000);
        assert_int_equal(vs_tz_prev_transition(tz, 1774746000), 1774746000);
        assert_int_equal(vs_tz_prev_transition(tz, 1774745999), 1761440400);
        assert_int_equal(vs_tz_prev_transition(tz, 1792890000 + 5), 1792890000);

        vs_tz_localtime(tz, 1774746000, &lt);
        assert_int_equal(lt.year, 2026);
        assert_int_equal(lt.month, 3);
        assert_int_equal(lt.day, 29);
        assert_int_equal(lt.hour, 3);
        assert_int_equal(lt.minute, 0);
        assert_int_equal(lt.second, 0);
        assert_int_equal(lt.wday, 0);
        assert_int_equal(lt.yday, 87);
        assert_int_equal(lt.utc_offset, 7200);
        assert_int_equal(lt.is_dst, 1);
        vs_tz_localtime(tz, 1792891800, &lt);
        assert_int_equal(lt.hour, 2);
        assert_int_equal(lt.is_dst, 0);

        /* Before the first transition: local mean time, 1890 (a Wednesday). */
        vs_tz_localtime(tz, -2524521600, &lt);
        assert_int_equal(lt.utc_offset, 3208);
        assert_int_equal(lt.wday, 3);
        assert_int_equal(lt.yday, 0);
        assert_string_equal(local(tz, -2524521600), "1890-01-01T00:53:28+00:53:28");
        vs_tz_free(tz);
}

static void
test_footer_rule(void **state)
{
        vs_tz *tz = load("Europe/Berlin");

        (void)state;
        /* 2050 is past the table: the footer CET-1CEST,M3.5.0,M10.5.0/3 rules. */
        assert_int_equal(vs_tz_next_transition(tz, 2524608000), 2531955600);
        assert_int_equal(vs_tz_next_transition(tz, 2531955600), 2550704400);
        assert_int_equal(vs_tz_prev_transition(tz, 2550704400 + 86400), 2550704400);
        assert_int_equal(vs_tz_prev_transition(tz, 2550704399), 2531955600);
        assert_string_equal(local(tz, 2531955599), "2050-03-27T01:59:59+01:00");
        assert_string_equal(local(tz, 2531955600), "2050-03-27T03:00:00+02:00");
        assert_string_equal(local(tz, 2550704400), "2050-10-30T02:00:00+01:00");
        vs_tz_free(tz);
}

static void
test_santiago(void **state)
{
        vs_tz *tz = load("America/Santiago");

        (void)state;
        /* 2026-04-05 00:00 -03 -> 2026-04-04 23:00 -04 */
        assert_int_equal(vs_tz_next_transition(tz, 1767225600), 1775358000);
        assert_string_equal(local(tz, 1775357999), "2026-04-04T23:59:59-03:00");
        assert_string_equal(local(tz, 1775358000), "2026-04-04T23:00:00-04:00");
        /* 2026-09-06 00:00 -04 -> 01:00 -03 */
        assert_int_equal(vs_tz_next_transition(tz, 1775358000), 1788667200);
        assert_string_equal(local(tz, 1788667199), "2026-09-05T23:59:59-04:00");
        assert_string_equal(local(tz, 1788667200), "2026-09-06T01:00:00-03:00");
        /* footer <-04>4<-03>,M9.1.6/24,M4.1.6/24 (hour 24) in 2050 */
        assert_int_equal(vs_tz_next_transition(tz, 2524608000), 2532567600);
        assert_int_equal(vs_tz_next_transition(tz, 2532567600), 2545876800);
        vs_tz_free(tz);
}

static void
test_negative_rule_hours(void **state)
{
        /* America/Nuuk's rule since 2024 has a negative time of day; given
         * as $TZ so that the test does not depend on the tzdata release. */
        char *saved = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
        vs_tz *tz;

        (void)state;
        setenv("TZ", "<-02>2<-01>,M3.5.0/-1,M10.5.0/0", 1);
        tz = load(NULL);
        if (saved) {
                setenv("TZ", saved, 1);
                free(saved);
        } else {
                unsetenv("TZ");
        }
        assert_int_equal(vs_tz_next_transition(tz, 1767225600), 1774746000);
        assert_string_equal(local(tz, 1774746000), "2026-03-29T00:00:00-01:00");
        assert_int_equal(vs_tz_next_transition(tz, 1774746000), 1792890000);
        assert_string_equal(local(tz, 1792890000), "2026-10-24T23:00:00-02:00");
        vs_tz_free(tz);

        /* Lord Howe: DST of 30 minutes. */
        tz = load("Australia/Lord_Howe");
        assert_int_equal(vs_tz_next_transition(tz, 1767225600), 1775314800);
        assert_string_equal(local(tz, 1775314800), "2026-04-05T01:30:00+10:30");
        assert_int_equal(vs_tz_next_transition(tz, 1775314800), 1791041400);
        assert_string_equal(local(tz, 1791041400), "2026-10-04T02:30:00+11:00");
        vs_tz_free(tz);
}

static void
test_utc(void **state)
{
        vs_tz *tz = load("UTC");
        vs_local_time lt;

        (void)state;
        assert_string_equal(vs_tz_name(tz), "UTC");
        assert_int_equal(vs_tz_offset(tz, 1774746000), 0);
        assert_true(vs_tz_next_transition(tz, 0) == INT64_MAX);
        assert_true(vs_tz_prev_transition(tz, 1774746000) == INT64_MIN);
        assert_string_equal(local(tz, 1774746000), "2026-03-29T01:00:00+00:00");
        vs_tz_localtime(tz, -1, &lt);
        assert_int_equal(lt.year, 1969);
        assert_int_equal(lt.month, 12);
        assert_int_equal(lt.day, 31);
        assert_int_equal(lt.hour, 23);
        assert_int_equal(lt.second, 59);
        assert_int_equal(lt.wday, 3);
        assert_int_equal(lt.yday, 364);
        vs_tz_free(tz);

        tz = load("Etc/GMT+5"); /* POSIX sign: 5 hours west */
        assert_int_equal(vs_tz_offset(tz, 0), -5 * 3600);
        assert_string_equal(local(tz, 0), "1969-12-31T19:00:00-05:00");
        vs_tz_free(tz);
}

static void
test_bad_names(void **state)
{
        static const char *const bad[] = {
                "", "/etc/localtime", "../etc/passwd", "Europe/../UTC", "Europe/Berlin/", "Europe//Berlin",
                "Europe/Berlin ", "zone.tab", "Nowhere/Special", "Europe", "CET-1CEST,M3.5.0,M10.5.0/3",
        };
        vs_tz *tz;
        vs_err err;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                tz = (vs_tz *)&err; /* must be reset */
                memset(&err, 0, sizeof(err));
                assert_int_equal(vs_tz_load(bad[i], &tz, &err), -ENOENT);
                assert_null(tz);
                assert_true(vs_err_is_set(&err));
        }
        assert_int_equal(vs_tz_load("Nowhere/Special", &tz, &err), -ENOENT);
        assert_string_equal(err.msg, "unknown time zone 'Nowhere/Special'");
        assert_int_equal(vs_tz_load("../etc/passwd", &tz, &err), -ENOENT);
        assert_string_equal(err.msg, "invalid time zone name '../etc/passwd'");
        /* leap-second zones count instants differently */
        assert_int_equal(vs_tz_load("right/UTC", &tz, &err), -ENOENT);
}

static void
test_host_zone(void **state)
{
        char *saved = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
        vs_tz *tz;
        vs_err err;

        (void)state;
        setenv("TZ", "Europe/Berlin", 1);
        tz = load(NULL);
        assert_string_equal(vs_tz_name(tz), "Europe/Berlin");
        assert_int_equal(vs_tz_offset(tz, 1774746000), 7200);
        vs_tz_free(tz);

        setenv("TZ", ":America/Santiago", 1);
        tz = load(NULL);
        assert_string_equal(vs_tz_name(tz), "America/Santiago");
        assert_int_equal(vs_tz_next_transition(tz, 1767225600), 1775358000);
        vs_tz_free(tz);

        /* a POSIX TZ string instead of a name */
        setenv("TZ", "<-04>4<-03>,M9.1.6/24,M4.1.6/24", 1);
        tz = load(NULL);
        assert_int_equal(vs_tz_next_transition(tz, 1767225600), 1775358000);
        assert_int_equal(vs_tz_next_transition(tz, 1775358000), 1788667200);
        assert_string_equal(local(tz, 1788667200), "2026-09-06T01:00:00-03:00");
        vs_tz_free(tz);

        /* DST all year (RFC 8536's example): never a transition */
        setenv("TZ", "EST5EDT,0/0,J365/25", 1);
        tz = load(NULL);
        assert_int_equal(vs_tz_offset(tz, 1774746000), -4 * 3600);
        assert_int_equal(vs_tz_offset(tz, 1767225600), -4 * 3600);
        assert_true(vs_tz_next_transition(tz, 1767225600) == INT64_MAX);
        vs_tz_free(tz);

        setenv("TZ", "", 1);
        tz = load(NULL);
        assert_int_equal(vs_tz_offset(tz, 1774746000), 0);
        vs_tz_free(tz);

        setenv("TZ", "not a zone!", 1);
        assert_int_equal(vs_tz_load(NULL, &tz, &err), -ENOENT);

        if (saved) {
                setenv("TZ", saved, 1);
                free(saved);
        } else {
                unsetenv("TZ");
        }
}

/* Zones are shared read-only by the loop thread and the workers. */
#define N_THREADS 4

static void *
worker(void *arg)
{
        const vs_tz *tz = arg;
        char buf[VS_TIME_BUFSZ];

        for (int i = 0; i < 20000; i++) {
                int64_t t = 1774746000 + (int64_t)(i % 200 - 100) * 600;
                int expect = t < 1774746000 ? 3600 : 7200;

                if (vs_tz_offset(tz, t) != expect || vs_tz_next_transition(tz, 1774745999) != 1774746000)
                        return (void *)1;
                if (strcmp(vs_tz_format_local(tz, 1774746000, buf, sizeof(buf)), "2026-03-29T03:00:00+02:00") != 0)
                        return (void *)1;
        }
        return NULL;
}

static void
test_threads(void **state)
{
        vs_tz *tz = load("Europe/Berlin");
        pthread_t th[N_THREADS];
        void *ret;

        (void)state;
        for (int i = 0; i < N_THREADS; i++)
                assert_int_equal(pthread_create(&th[i], NULL, worker, tz), 0);
        for (int i = 0; i < N_THREADS; i++) {
                assert_int_equal(pthread_join(th[i], &ret), 0);
                assert_null(ret);
        }
        vs_tz_free(tz);
}

int
main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_berlin),
                cmocka_unit_test(test_footer_rule),
                cmocka_unit_test(test_santiago),
                cmocka_unit_test(test_negative_rule_hours),
                cmocka_unit_test(test_utc),
                cmocka_unit_test(test_bad_names),
                cmocka_unit_test(test_host_zone),
                cmocka_unit_test(test_threads),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
