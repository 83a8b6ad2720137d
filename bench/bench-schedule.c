/* bench-schedule: how long "when does this fire next" takes.
 *
 * 10,000 vs_schedule_next computations over a mix of schedules (cron with
 * fixed hours, wildcards, steps, lists, ranges, day-of-week/day-of-month
 * rules, the keywords and an "every" interval) in Europe/Berlin, starting
 * from instants spread over the three days around each of the 2026
 * daylight-saving changes (spring forward 2026-03-29, fall back 2026-10-25),
 * where the wall-clock arithmetic is hardest.  One warm-up pass, then 5
 * timed passes on one thread; prints the median, min and max wall time of a
 * pass.  Not a test: nothing here fails on a slow machine. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "schedule.h"
#include "tz.h"

#define COMPUTATIONS 10000
#define ROUNDS 5

/* Chosen to land in and around the 02:00-03:00 hours that DST removes and
 * repeats, plus the sparse schedules that have to search far ahead. */
static const char *const exprs[] = {
        "0 * * * *",
        "*/15 * * * *",
        "30 2 * * *",
        "0 2,3 * * *",
        "15 1-4 * * *",
        "*/20 2 * * *",
        "0 0 * * 0",
        "0 3 * * 1-5",
        "0 0 1 * *",
        "0 12 13 * 5",
        "5 4 * * sun",
        "0 0 1 1 *",
        "hourly",
        "daily",
        "weekly",
        "monthly",
        "every 15m",
        "0 0 29 2 *",
};
#define N_EXPRS (sizeof(exprs) / sizeof(exprs[0]))

static double
now_seconds(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static double
pass(vs_schedule *const *scheds, const vs_tz *tz, const int64_t *after, uint64_t *sum)
{
        double t0 = now_seconds();
        uint64_t acc = 0;

        for (size_t i = 0; i < COMPUTATIONS; i++)
                acc += (uint64_t)vs_schedule_next(scheds[i % N_EXPRS], tz, after[i]);
        t0 = now_seconds() - t0;
        *sum = acc;
        return t0;
}

int
main(void)
{
        /* 2026-03-28T00:00:00Z and 2026-10-24T00:00:00Z: three days each. */
        const int64_t windows[2] = { INT64_C(1774656000), INT64_C(1792800000) };
        const int64_t span = 3 * 86400;
        vs_schedule *scheds[N_EXPRS] = { 0 };
        int64_t *after;
        double secs[ROUNDS];
        uint64_t sum = 0, first = 0;
        vs_tz *tz = NULL;
        vs_err err = { 0 };
        int rc = 1;

        if (vs_tz_load("Europe/Berlin", &tz, &err) < 0) {
                fprintf(stderr, "bench-schedule: Europe/Berlin: %s\n", err.msg);
                return 1;
        }
        for (size_t i = 0; i < N_EXPRS; i++) {
                char msg[256];

                if (vs_schedule_parse(exprs[i], &scheds[i], msg, sizeof(msg)) < 0) {
                        fprintf(stderr, "bench-schedule: '%s': %s\n", exprs[i], msg);
                        goto out;
                }
        }
        after = calloc(COMPUTATIONS, sizeof(*after));
        if (!after)
                goto out;
        /* Alternate windows; within one, step evenly (and not on a minute
         * boundary) through the three days. */
        for (size_t i = 0; i < COMPUTATIONS; i++)
                after[i] = windows[i % 2] + (int64_t)(i / 2) * span / (COMPUTATIONS / 2) + 7;

        pass(scheds, tz, after, &first); /* warm-up */
        for (int i = 0; i < ROUNDS; i++) {
                secs[i] = pass(scheds, tz, after, &sum);
                if (sum != first) {
                        fprintf(stderr, "bench-schedule: results differ between passes\n");
                        free(after);
                        goto out;
                }
        }
        qsort(secs, ROUNDS, sizeof(secs[0]), cmp_double);
        printf("BENCH schedule computations=%d expressions=%zu seconds=%.6f min=%.6f max=%.6f\n",
               COMPUTATIONS, N_EXPRS, secs[ROUNDS / 2], secs[0], secs[ROUNDS - 1]);
        fflush(stdout);
        fprintf(stderr, "  (schedule: checksum %llu)\n", (unsigned long long)sum);
        free(after);
        rc = 0;
out:
        for (size_t i = 0; i < N_EXPRS; i++)
                vs_schedule_free(scheds[i]);
        vs_tz_free(tz);
        return rc;
}
