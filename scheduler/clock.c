/* Real and fake clocks behind one interface (see clock.h).  The real timer
 * is a uv_timer_t whose delay is recomputed from the wall clock each time it
 * is armed; libuv measures delays on the monotonic clock, so a callback
 * checks the wall clock again and re-arms when it came early.  The fake
 * clock keeps its timers in a list and fires them from vs_clock_advance(). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"

struct vs_clock {
        uv_loop_t *loop;
        bool fake;
        int64_t fake_now_ms;
        vs_clock_timer *timers;     /* fake: every live timer */
        unsigned n_timers;          /* live timers, both kinds (for free's sanity) */
};

struct vs_clock_timer {
        uv_timer_t handle;          /* real clock only */
        vs_clock *clock;
        vs_clock_fn fn;
        void *data;
        int64_t deadline_ms;
        bool armed;
        vs_clock_timer *next;       /* fake list */
};

static int64_t
wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
clock_new(uv_loop_t *loop, bool fake, int64_t start_ms, vs_clock **ret)
{
        vs_clock *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->loop = loop;
        c->fake = fake;
        c->fake_now_ms = start_ms;
        *ret = c;
        return 0;
}

int
vs_clock_new_real(uv_loop_t *loop, vs_clock **ret)
{
        return clock_new(loop, false, 0, ret);
}

int
vs_clock_new_fake(uv_loop_t *loop, int64_t start_ms, vs_clock **ret)
{
        return clock_new(loop, true, start_ms, ret);
}

void
vs_clock_free(vs_clock *c)
{
        free(c);
}

bool
vs_clock_is_fake(const vs_clock *c)
{
        return c->fake;
}

uv_loop_t *
vs_clock_loop(const vs_clock *c)
{
        return c->loop;
}

int64_t
vs_clock_now_ms(const vs_clock *c)
{
        return c->fake ? c->fake_now_ms : wall_ms();
}

int64_t
vs_clock_now(const vs_clock *c)
{
        int64_t ms = vs_clock_now_ms(c);

        /* Floor, also before 1970, so a deadline in seconds is reached exactly
         * when its millisecond instant is. */
        return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

static vs_clock_timer *
fake_earliest(const vs_clock *c)
{
        vs_clock_timer *best = NULL;

        for (vs_clock_timer *t = c->timers; t; t = t->next)
                if (t->armed && (!best || t->deadline_ms < best->deadline_ms))
                        best = t;
        return best;
}

int64_t
vs_clock_next_deadline(const vs_clock *c)
{
        vs_clock_timer *t = c->fake ? fake_earliest(c) : NULL;

        return t ? t->deadline_ms : INT64_MAX;
}

void
vs_clock_advance(vs_clock *c, int64_t ms)
{
        int64_t target;
        vs_clock_timer *t;

        if (!c->fake || ms < 0)
                return;
        target = c->fake_now_ms + ms;
        /* Re-scan after every callback: it may arm, disarm or free timers. */
        while ((t = fake_earliest(c)) && t->deadline_ms <= target) {
                if (t->deadline_ms > c->fake_now_ms)
                        c->fake_now_ms = t->deadline_ms;
                t->armed = false;
                t->fn(t->data);
        }
        c->fake_now_ms = target;
}

static void
on_uv_timer(uv_timer_t *h)
{
        vs_clock_timer *t = h->data;
        int64_t now = wall_ms();

        if (now < t->deadline_ms) {
                uv_timer_start(&t->handle, on_uv_timer, (uint64_t)(t->deadline_ms - now), 0);
                return;
        }
        t->armed = false;
        t->fn(t->data);
}

int
vs_clock_timer_new(vs_clock *c, vs_clock_fn fn, void *data, vs_clock_timer **ret)
{
        vs_clock_timer *t = calloc(1, sizeof(*t));
        int r;

        if (!t)
                return -ENOMEM;
        t->clock = c;
        t->fn = fn;
        t->data = data;
        if (c->fake) {
                t->next = c->timers;
                c->timers = t;
        } else {
                r = uv_timer_init(c->loop, &t->handle);
                if (r < 0) {
                        free(t);
                        return r;
                }
                t->handle.data = t;
        }
        c->n_timers++;
        *ret = t;
        return 0;
}

void
vs_clock_timer_arm(vs_clock_timer *t, int64_t deadline_ms)
{
        t->deadline_ms = deadline_ms;
        t->armed = true;
        if (!t->clock->fake) {
                int64_t delay = deadline_ms - wall_ms();

                uv_timer_start(&t->handle, on_uv_timer, delay > 0 ? (uint64_t)delay : 0, 0);
        }
}

void
vs_clock_timer_disarm(vs_clock_timer *t)
{
        if (!t)
                return;
        t->armed = false;
        if (!t->clock->fake)
                uv_timer_stop(&t->handle);
}

bool
vs_clock_timer_armed(const vs_clock_timer *t)
{
        return t && t->armed;
}

static void
on_timer_closed(uv_handle_t *h)
{
        free(h->data);
}

void
vs_clock_timer_free(vs_clock_timer *t)
{
        vs_clock *c;

        if (!t)
                return;
        c = t->clock;
        c->n_timers--;
        if (c->fake) {
                for (vs_clock_timer **p = &c->timers; *p; p = &(*p)->next)
                        if (*p == t) {
                                *p = t->next;
                                break;
                        }
                free(t);
                return;
        }
        uv_timer_stop(&t->handle);
        uv_close((uv_handle_t *)&t->handle, on_timer_closed);
}
