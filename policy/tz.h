/* Time zones, read once from the system's TZif database and then pure.
 *
 * A vs_tz is immutable after vs_tz_load and may be shared by any number of
 * threads: conversions never touch TZ, tzset() or any libc time-zone state
 * (localtime_r depends on the process-global TZ, which the daemon must not
 * mutate).  The transitions table is read from /usr/share/zoneinfo/NAME (or
 * /etc/localtime for the host zone) and the POSIX TZ footer extends it past
 * the last listed transition. */
#pragma once

#include <stdint.h>

#include "vs-err.h"

typedef struct vs_tz vs_tz;

/* Broken-down local time of an instant. */
typedef struct vs_local_time {
        int64_t year;
        int month;     /* 1-12 */
        int day;       /* 1-31 */
        int hour, minute, second;
        int wday;      /* 0 = Sunday */
        int yday;      /* 0-365 */
        int utc_offset; /* seconds east of UTC */
        int is_dst;
} vs_local_time;

/* name: an IANA name ("Europe/Berlin", "UTC"), or NULL for the host's zone
 * ($TZ if set to a name, else /etc/localtime, else UTC).  Names containing
 * "..", a leading '/', or not in the database fail with -ENOENT.
 * Names may only use [A-Za-z0-9_+/-]; files that are not TZif, and
 * leap-second ("right/") zones, fail with -ENOENT too; "UTC" works without
 * a database.  For the host zone $TZ may also be ":NAME", an absolute path
 * or a POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3"); an empty $TZ is UTC;
 * an invalid $TZ fails with -ENOENT. */
int vs_tz_load(const char *name, vs_tz **ret, vs_err *err);
void vs_tz_free(vs_tz *tz);
const char *vs_tz_name(const vs_tz *tz);

/* UTC instant -> local wall time. */
void vs_tz_localtime(const vs_tz *tz, int64_t t, vs_local_time *ret);
/* Offset (seconds east of UTC) in force at instant t. */
int vs_tz_offset(const vs_tz *tz, int64_t t);
/* The next instant > t at which the offset changes, or INT64_MAX. */
int64_t vs_tz_next_transition(const vs_tz *tz, int64_t t);
/* The last instant <= t at which the offset changed (the offset at x - 1
 * differs from the offset at x), or INT64_MIN. */
int64_t vs_tz_prev_transition(const vs_tz *tz, int64_t t);
/* "2026-03-29T03:00:00+02:00"; buf of VS_TIME_BUFSZ bytes. */
char *vs_tz_format_local(const vs_tz *tz, int64_t t, char *buf, size_t len);
