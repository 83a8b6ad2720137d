/* Schedules: when a policy fires.  Pure and I/O-free; safe on any thread.
 *
 * Grammar: hourly|daily|weekly|monthly|yearly; 5-field cron (lists, ranges,
 * steps, jan-dec, sun-sat, 0 and 7 = Sunday, Vixie day-of-month/day-of-week
 * OR rule); "every DURATION" firing at UTC multiples of the interval since
 * the epoch.  DST rules (wall-clock cron in a vs_tz):
 *   - hour field '*': fires at every real instant whose wall time matches;
 *     like Vixie cron's wildcard flag this means any hour field starting
 *     with '*', so "*" followed by a step counts too;
 *   - fixed hours: once per matching wall time (first occurrence on a
 *     fall-back day); wall times inside a spring-forward gap fire at the
 *     transition instant, several collapsing into one firing.
 * A day-of-month or day-of-week field is "restricted" unless it starts
 * with '*'; only when both are restricted does the OR rule apply.  A step
 * needs a range or '*' ("5/15" is refused: write 5-59/15); "fri-sun" is
 * 5-7.  "@daily" etc. and "annually" are accepted as aliases.
 *
 * A vs_schedule is immutable after parsing; any thread may use it.  tz may
 * be NULL for UTC. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tz.h"

typedef struct vs_schedule vs_schedule;

/* 0 or -EINVAL with a human message in errbuf ("field 2 (hour): 24 out of range 0-23"). */
int vs_schedule_parse(const char *text, vs_schedule **ret, char *errbuf, size_t errlen);
void vs_schedule_free(vs_schedule *s);
const char *vs_schedule_text(const vs_schedule *s);

/* First fire time strictly after `after`, or INT64_MAX if none exists
 * (e.g. "0 0 30 2 *"). */
int64_t vs_schedule_next(const vs_schedule *s, const vs_tz *tz, int64_t after);
/* Nominal interval between firings around `at` (for RPO thresholds):
 * next(next(at)) - next(at); INT64_MAX if the schedule never fires. */
int64_t vs_schedule_period(const vs_schedule *s, const vs_tz *tz, int64_t at);
