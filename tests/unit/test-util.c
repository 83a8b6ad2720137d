/* Unit tests for util/: durations, RFC 3339 parsing/formatting, strv. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crash.h"
#include "duration.h"
#include "strv.h"
#include "timefmt.h"

static void
test_duration_parse(void **state)
{
        int64_t v;

        (void)state;
        assert_int_equal(vs_duration_parse("30s", &v), 0);
        assert_int_equal(v, 30);
        assert_int_equal(vs_duration_parse("1h30m", &v), 0);
        assert_int_equal(v, 5400);
        assert_int_equal(vs_duration_parse("2w1d", &v), 0);
        assert_int_equal(v, 15 * 86400);
        assert_int_equal(vs_duration_parse("0s", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(vs_duration_parse("", &v), -EINVAL);
        assert_int_equal(vs_duration_parse("15", &v), -EINVAL);
        assert_int_equal(vs_duration_parse("15x", &v), -EINVAL);
        assert_int_equal(vs_duration_parse("m", &v), -EINVAL);
        assert_int_equal(vs_duration_parse("-5m", &v), -EINVAL);
        assert_int_equal(vs_duration_parse("1h 30m", &v), -EINVAL);
        assert_int_equal(vs_duration_parse("99999999999999999999s", &v), -ERANGE);
        assert_int_equal(vs_duration_parse("9223372036854775807w", &v), -ERANGE);
}

static void
test_duration_format(void **state)
{
        char buf[64];

        (void)state;
        assert_string_equal(vs_duration_format(5400, buf, sizeof(buf)), "1h30m");
        assert_string_equal(vs_duration_format(0, buf, sizeof(buf)), "0s");
        assert_string_equal(vs_duration_format(8 * 86400 + 1, buf, sizeof(buf)), "1w1d1s");
}

static void
test_time_parse(void **state)
{
        int64_t t;

        (void)state;
        assert_int_equal(vs_time_parse("2026-03-29T01:00:00Z", &t), 0);
        assert_int_equal(t, 1774746000);
        assert_int_equal(vs_time_parse("2026-03-29T03:00:00+02:00", &t), 0);
        assert_int_equal(t, 1774746000);
        assert_int_equal(vs_time_parse("2026-03-28T20:00:00.999-05:00", &t), 0);
        assert_int_equal(t, 1774746000);
        assert_int_equal(vs_time_parse("@1774746000", &t), 0);
        assert_int_equal(t, 1774746000);
        assert_int_equal(vs_time_parse("1970-01-01T00:00:00Z", &t), 0);
        assert_int_equal(t, 0);
        assert_int_equal(vs_time_parse("2024-02-29T00:00:00Z", &t), 0);
        assert_int_equal(vs_time_parse("2023-02-29T00:00:00Z", &t), -EINVAL);
        assert_int_equal(vs_time_parse("2026-03-29T01:00:00", &t), -EINVAL);
        assert_int_equal(vs_time_parse("2026-13-01T00:00:00Z", &t), -EINVAL);
        assert_int_equal(vs_time_parse("@", &t), -EINVAL);
        assert_int_equal(vs_time_parse("@12x", &t), -EINVAL);
        assert_int_equal(vs_time_parse("yesterday", &t), -EINVAL);
}

static void
test_time_format(void **state)
{
        char buf[VS_TIME_BUFSZ];

        (void)state;
        assert_string_equal(vs_time_format_utc(1774746000, buf, sizeof(buf)), "2026-03-29T01:00:00Z");
        assert_string_equal(vs_time_format_utc(-1, buf, sizeof(buf)), "1969-12-31T23:59:59Z");
        assert_string_equal(vs_time_format_utc(951782400, buf, sizeof(buf)), "2000-02-29T00:00:00Z");
}

static void
test_strv(void **state)
{
        char **v = NULL, **c;

        (void)state;
        assert_int_equal(vs_strv_push(&v, "a"), 0);
        assert_int_equal(vs_strv_push(&v, "b"), 0);
        assert_int_equal(vs_strv_length(v), 2);
        assert_true(vs_strv_contains(v, "b"));
        assert_false(vs_strv_contains(v, "c"));
        c = vs_strv_copy(v);
        assert_string_equal(c[1], "b");
        assert_null(c[2]);
        vs_strv_free(c);
        vs_strv_free(v);
        assert_int_equal(vs_strv_length(NULL), 0);
}

/* VIRTSNAP_CRASH_AT: parsed strictly; the Nth pass through the point kills
 * the process (in a child here) and no other point or earlier pass does. */
static void
test_crash_points(void **state)
{
        vs_crash *c = NULL;
        vs_err err = { 0 };
        pid_t pid;
        int st;

        unsetenv("VIRTSNAP_CRASH_AT");
        assert_int_equal(vs_crash_from_env(&c, &err), 0);
        assert_null(c);
        vs_crash_point(NULL, "create-intent"); /* nothing armed */
        setenv("VIRTSNAP_CRASH_AT", "no-such-point", 1);
        assert_int_equal(vs_crash_from_env(&c, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "no such crash point"));
        setenv("VIRTSNAP_CRASH_AT", "create-intent:0", 1);
        assert_int_equal(vs_crash_from_env(&c, &err), -EINVAL);
        setenv("VIRTSNAP_CRASH_AT", "create-intent:2x", 1);
        assert_int_equal(vs_crash_from_env(&c, &err), -EINVAL);
        setenv("VIRTSNAP_CRASH_AT", "delete-returned:3", 1);
        assert_int_equal(vs_crash_from_env(&c, &err), 0);
        assert_non_null(c);
        unsetenv("VIRTSNAP_CRASH_AT");

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                vs_crash_point(c, "create-intent");
                vs_crash_point(c, "delete-returned");
                vs_crash_point(c, "delete-returned");
                vs_crash_point(c, "delete-returned"); /* the third: dies */
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), SIGKILL);
        /* The parent's copy was not counted down. */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                vs_crash_point(c, "delete-returned");
                vs_crash_point(c, "delete-returned");
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        vs_crash_free(c);
}

int
main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_duration_parse),
                cmocka_unit_test(test_duration_format),
                cmocka_unit_test(test_time_parse),
                cmocka_unit_test(test_time_format),
                cmocka_unit_test(test_strv),
                cmocka_unit_test(test_crash_points),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
