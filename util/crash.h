/* Crash points for the reliability suite: with VIRTSNAP_CRASH_AT=POINT[:N]
 * the Nth pass (default the first) through POINT kills the process with
 * SIGKILL, as a power cut would, between two durable steps of a job.
 * Compiled in only with -Dcrash_points=true (the default for the test
 * builds; the Debian package builds without: there the variable is
 * ignored). */
#pragma once

#include "vs-err.h"

typedef struct vs_crash vs_crash;

/* The points, in the order a job passes them; NULL-terminated. */
extern const char *const vs_crash_point_names[];

/* *ret is NULL when the variable is unset or the points are compiled out;
 * an unknown point or a bad count is an error. */
int vs_crash_from_env(vs_crash **ret, vs_err *err);
void vs_crash_free(vs_crash *c);
/* c may be NULL (nothing armed). */
void vs_crash_point(vs_crash *c, const char *point);
