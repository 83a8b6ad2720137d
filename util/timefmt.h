/* Instants as the CLI accepts and prints them: RFC 3339 with a Z or numeric
 * offset and an optional fraction ("2026-11-27T04:00:00Z",
 * "2026-03-29T03:00:00+02:00", "...T04:00:00.5Z"), or "@EPOCH".  Instants
 * are int64_t UTC Unix seconds everywhere; fractions are truncated.
 * Local-time formatting needs a zone and lives in policy/tz.h. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define VS_TIME_BUFSZ 40

/* 0 or -EINVAL. */
int vs_time_parse(const char *s, int64_t *ret);
/* "2026-11-27T04:00:00Z"; returns buf (at least VS_TIME_BUFSZ bytes). */
char *vs_time_format_utc(int64_t t, char *buf, size_t len);
/* Days since 1970-01-01 for a proleptic Gregorian date, and back. */
int64_t vs_days_from_civil(int64_t y, unsigned m, unsigned d);
void vs_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
