/* Durations as users write them: integers with s, m, h, d or w, combinable
 * ("1h30m", "2m", "7d").  Values are seconds in int64_t. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* 0, -EINVAL (syntax: empty, missing unit, unknown unit, trailing junk) or
 * -ERANGE (overflow).  A bare "0" is rejected: every duration needs a unit. */
int vs_duration_parse(const char *s, int64_t *ret);
/* Shortest canonical form ("1h30m", "0s"); returns buf. */
char *vs_duration_format(int64_t secs, char *buf, size_t len);
