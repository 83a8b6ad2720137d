/* bench-retention: how long retention takes for a large host.
 *
 * 1,000,000 snapshots in 10,000 (domain, policy) groups of 100, at
 * deterministic pseudo-random times over two years (2024-2025), bucketed in
 * Europe/Berlin, every keep rule on.  One warm-up pass, then 5 timed passes
 * of vs_retention_apply over every group on one thread; prints the median,
 * min and max wall time of a pass.  The first line is for input in random
 * order (the engine sorts); the second for input already oldest-first, as
 * the daemon reads it from its database.  Not a test: nothing here fails on
 * a slow machine. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "retention.h"
#include "tz.h"

#define GROUPS 10000
#define PER_GROUP 100
#define ROUNDS 5

static uint64_t rng_state = UINT64_C(0x2545F4914F6CDD1D);

static uint64_t
rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

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

static int
cmp_item_time(const void *a, const void *b)
{
        const vs_retention_item *x = a, *y = b;

        return (x->time > y->time) - (x->time < y->time);
}

/* One pass over every group; returns seconds, adds kept snapshots to *kept. */
static double
pass(const vs_retention_rules *r, const vs_tz *tz, int64_t now, vs_retention_item *items, size_t *kept)
{
        double t0 = now_seconds();

        for (size_t g = 0; g < GROUPS; g++)
                if (vs_retention_apply(r, tz, now, items + g * PER_GROUP, PER_GROUP) < 0) {
                        fprintf(stderr, "bench-retention: out of memory\n");
                        exit(1);
                }
        t0 = now_seconds() - t0;
        for (size_t i = 0; i < (size_t)GROUPS * PER_GROUP; i++)
                *kept += items[i].verdict != VS_VERDICT_REMOVE;
        return t0;
}

static void
run(const char *label, const vs_retention_rules *r, const vs_tz *tz, int64_t now, vs_retention_item *items)
{
        double secs[ROUNDS];
        size_t kept = 0;

        pass(r, tz, now, items, &kept); /* warm-up */
        for (int i = 0; i < ROUNDS; i++) {
                kept = 0;
                secs[i] = pass(r, tz, now, items, &kept);
        }
        qsort(secs, ROUNDS, sizeof(secs[0]), cmp_double);
        printf("BENCH %s snapshots=%d groups=%d seconds=%.6f min=%.6f max=%.6f\n", label,
               GROUPS * PER_GROUP, GROUPS, secs[ROUNDS / 2], secs[0], secs[ROUNDS - 1]);
        fflush(stdout);
        fprintf(stderr, "  (%s: %zu snapshots kept per pass)\n", label, kept);
}

int
main(void)
{
        const int64_t start = INT64_C(1704067200); /* 2024-01-01T00:00:00Z */
        const int64_t span = INT64_C(2) * 365 * 86400;
        const int64_t now = start + span;
        vs_retention_rules rules = {
                .keep_last = 3, .keep_hourly = 24, .keep_daily = 14, .keep_weekly = 8,
                .keep_monthly = 12, .keep_yearly = 5, .keep_within = 2 * 86400,
        };
        vs_retention_item *items;
        vs_tz *tz = NULL;
        vs_err err = { 0 };

        if (vs_tz_load("Europe/Berlin", &tz, &err) < 0) {
                fprintf(stderr, "bench-retention: Europe/Berlin: %s\n", err.msg);
                return 1;
        }
        items = calloc((size_t)GROUPS * PER_GROUP, sizeof(*items));
        if (!items)
                return 1;
        for (size_t i = 0; i < (size_t)GROUPS * PER_GROUP; i++) {
                items[i].time = start + (int64_t)(rng() % (uint64_t)span);
                items[i].pinned = rng() % 50 == 0;
        }

        run("retention", &rules, tz, now, items);
        for (size_t g = 0; g < GROUPS; g++)
                qsort(items + g * PER_GROUP, PER_GROUP, sizeof(*items), cmp_item_time);
        run("retention-sorted-input", &rules, tz, now, items);

        free(items);
        vs_tz_free(tz);
        return 0;
}
