/* Unit tests for the event watch in virt/virt.c with a minimal backend:
 * events posted from another thread arrive on the loop thread in order, an
 * overflowing queue turns into one RESYNC event, nothing is delivered after
 * vs_virt_watch_stop, and a backend without events says so. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virt-backend.h"

typedef struct mini {
        vs_virt base;
        vs_virt_watch *w;
        int unwatched;
} mini;

static int
mini_watch(vs_virt *v, vs_virt_watch *w, vs_err *err)
{
        (void)err;
        ((mini *)v)->w = w;
        return 0;
}

static void
mini_unwatch(vs_virt *v, vs_virt_watch *w)
{
        (void)w;
        ((mini *)v)->w = NULL;
        ((mini *)v)->unwatched++;
}

static void
mini_free(vs_virt *v)
{
        (void)v;
}

static const vs_virt_ops mini_ops = {
        .name = "mini", .free = mini_free, .watch = mini_watch, .unwatch = mini_unwatch,
};
static const vs_virt_ops silent_ops = { .name = "silent", .free = mini_free };

typedef struct seen {
        vs_virt_event_type types[8];
        char domains[8][16];
        int reasons[8];
        size_t n;
        pthread_t thread;
} seen;

static void
on_event(const vs_virt_event *ev, void *userdata)
{
        seen *s = userdata;

        assert_true(pthread_equal(pthread_self(), s->thread));
        if (s->n < 8) {
                s->types[s->n] = ev->type;
                snprintf(s->domains[s->n], sizeof(s->domains[0]), "%s", ev->domain ? ev->domain : "-");
                s->reasons[s->n] = ev->reason;
        }
        s->n++;
}

typedef struct poster {
        vs_virt_watch *w;
        int count;
} poster;

static void *
post_thread(void *arg)
{
        poster *p = arg;

        for (int i = 0; i < p->count; i++)
                vs__virt_watch_post(p->w, i % 2 ? VS_VIRT_EVENT_STOPPED : VS_VIRT_EVENT_STARTED, "vm1",
                                    "00000000-0000-4000-8000-000000000001", i);
        return NULL;
}

static void
drain(uv_loop_t *loop)
{
        /* The async callback runs on the next turn; no sleeping needed. */
        for (int i = 0; i < 4; i++)
                uv_run(loop, UV_RUN_NOWAIT);
}

static void
test_delivery_in_order(void **state)
{
        mini m = { 0 };
        uv_loop_t loop;
        vs_virt_watch *w = NULL;
        seen s = { .thread = pthread_self() };
        poster p;
        pthread_t t;
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs__virt_init(&m.base, &mini_ops, "mini:///"), 0);
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(vs_virt_watch_start(&m.base, &loop, on_event, &s, &w, &err), 0);
        assert_ptr_equal(m.w, w);

        p = (poster){ w, 3 };
        assert_int_equal(pthread_create(&t, NULL, post_thread, &p), 0);
        pthread_join(t, NULL);
        vs__virt_watch_post(w, VS_VIRT_EVENT_CONNECTION_CLOSED, NULL, NULL, 2);
        assert_int_equal(s.n, 0); /* nothing before the loop runs */
        drain(&loop);
        assert_int_equal(s.n, 4);
        assert_int_equal(s.types[0], VS_VIRT_EVENT_STARTED);
        assert_int_equal(s.types[1], VS_VIRT_EVENT_STOPPED);
        assert_int_equal(s.types[2], VS_VIRT_EVENT_STARTED);
        assert_int_equal(s.reasons[2], 2);
        assert_string_equal(s.domains[0], "vm1");
        assert_int_equal(s.types[3], VS_VIRT_EVENT_CONNECTION_CLOSED);
        assert_string_equal(s.domains[3], "-");

        vs_virt_watch_stop(w);
        assert_int_equal(m.unwatched, 1);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&loop), 0);
        free(m.base.uri);
}

static void
test_overflow_resync(void **state)
{
        mini m = { 0 };
        uv_loop_t loop;
        vs_virt_watch *w = NULL;
        seen s = { .thread = pthread_self() };
        poster p;
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs__virt_init(&m.base, &mini_ops, "mini:///"), 0);
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(vs_virt_watch_start(&m.base, &loop, on_event, &s, &w, &err), 0);
        p = (poster){ w, 5000 };
        post_thread(&p);
        drain(&loop);
        /* 4096 queued events, then one RESYNC for the dropped ones. */
        assert_int_equal(s.n, 4097);
        assert_int_equal(s.types[0], VS_VIRT_EVENT_STARTED);

        /* After stop, posts are ignored and nothing is delivered. */
        vs_virt_watch_stop(w);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(s.n, 4097);
        assert_int_equal(uv_loop_close(&loop), 0);
        free(m.base.uri);
}

static void
resync_last(const vs_virt_event *ev, void *userdata)
{
        vs_virt_event_type *last = userdata;

        *last = ev->type;
}

static void
test_resync_is_last(void **state)
{
        mini m = { 0 };
        uv_loop_t loop;
        vs_virt_watch *w = NULL;
        vs_virt_event_type last = VS_VIRT_EVENT_DEFINED;
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs__virt_init(&m.base, &mini_ops, "mini:///"), 0);
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(vs_virt_watch_start(&m.base, &loop, resync_last, &last, &w, &err), 0);
        for (int i = 0; i < 4100; i++)
                vs__virt_watch_post(w, VS_VIRT_EVENT_DEFINED, "d", NULL, 0);
        drain(&loop);
        assert_int_equal(last, VS_VIRT_EVENT_RESYNC);
        assert_string_equal(vs_virt_event_type_to_string(last), "resync");
        vs_virt_watch_stop(w);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&loop), 0);
        free(m.base.uri);
}

static void
test_no_events_backend(void **state)
{
        mini m = { 0 };
        uv_loop_t loop;
        vs_virt_watch *w = NULL;
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs__virt_init(&m.base, &silent_ops, "silent:///"), 0);
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(vs_virt_watch_start(&m.base, &loop, resync_last, NULL, &w, &err), -ENOTSUP);
        assert_non_null(strstr(err.msg, "silent"));
        assert_null(w);
        /* Optional ops default sensibly. */
        assert_true(vs_virt_alive(&m.base));
        assert_int_equal(vs_virt_reconnect(&m.base, &err), 0);
        assert_int_equal(uv_loop_close(&loop), 0);
        free(m.base.uri);
}

int
main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_delivery_in_order),
                cmocka_unit_test(test_overflow_resync),
                cmocka_unit_test(test_resync_is_last),
                cmocka_unit_test(test_no_events_backend),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
