/* The scheduler's clock: "now" and one-shot timers at absolute instants.
 *
 * Everything in scheduler/ that needs time asks a vs_clock, never time() or
 * uv_now() directly, so tests can drive a fake clock and never sleep.  The
 * real clock reads CLOCK_REALTIME and arms uv_timer_t handles on the loop; a
 * timer that fires early because the wall clock was stepped back re-arms
 * itself.  The fake clock only moves when vs_clock_advance() is called, and
 * then fires the due timers synchronously, in deadline order, each with "now"
 * set to its own deadline.  Loop thread only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct vs_clock vs_clock;
typedef struct vs_clock_timer vs_clock_timer;
typedef void (*vs_clock_fn)(void *data);

int vs_clock_new_real(uv_loop_t *loop, vs_clock **ret);
/* start_ms: UTC Unix milliseconds the fake clock starts at. */
int vs_clock_new_fake(uv_loop_t *loop, int64_t start_ms, vs_clock **ret);
/* Every timer must have been freed first. */
void vs_clock_free(vs_clock *c);
bool vs_clock_is_fake(const vs_clock *c);
uv_loop_t *vs_clock_loop(const vs_clock *c);

/* UTC Unix milliseconds / seconds. */
int64_t vs_clock_now_ms(const vs_clock *c);
int64_t vs_clock_now(const vs_clock *c);

/* Fake clock only (no-op on the real one): move forward by ms, firing every
 * timer whose deadline is reached, including timers armed by callbacks. */
void vs_clock_advance(vs_clock *c, int64_t ms);
/* Fake clock only: the earliest armed deadline, or INT64_MAX. */
int64_t vs_clock_next_deadline(const vs_clock *c);

int vs_clock_timer_new(vs_clock *c, vs_clock_fn fn, void *data, vs_clock_timer **ret);
/* Fire once at deadline_ms (UTC ms); re-arming replaces the deadline. */
void vs_clock_timer_arm(vs_clock_timer *t, int64_t deadline_ms);
void vs_clock_timer_disarm(vs_clock_timer *t);
bool vs_clock_timer_armed(const vs_clock_timer *t);
/* NULL-safe.  The real timer's memory is released in its uv close callback,
 * so the loop must run once more before it is gone. */
void vs_clock_timer_free(vs_clock_timer *t);
