/* Group commit (commit.h).  The prepare handle is unreferenced, so it does
 * not keep the loop alive, except while functions wait for a flush: then
 * the loop must turn once more to run them even when nothing else is
 * active (a fake clock fires timers outside uv_run). */
#include <errno.h>
#include <stdlib.h>

#include "commit.h"

typedef struct waiter {
        vs_commit_fn fn;
        void *data;
} waiter;

struct vs_commit {
        uv_prepare_t prepare;
        uv_check_t check;
        unsigned open_handles;
        vs_store *store;
        vs_log *log;
        waiter *waiting;
        size_t n_waiting, cap_waiting;
};

static void
run_waiters(vs_commit *c, const vs_err *err)
{
        /* A function may write and wait again: it joins the next flush. */
        waiter *list = c->waiting;
        size_t n = c->n_waiting;

        c->waiting = NULL;
        c->n_waiting = c->cap_waiting = 0;
        uv_unref((uv_handle_t *)&c->prepare);
        for (size_t i = 0; i < n; i++)
                list[i].fn(list[i].data, err);
        free(list);
}

int
vs_commit_flush(vs_commit *c)
{
        vs_err e = { 0 };
        int r;

        r = vs_store_flush(c->store, &e);
        if (r < 0)
                vs_log_err(c->log, "cannot commit to the history: %s", e.msg);
        if (c->n_waiting > 0)
                run_waiters(c, r < 0 ? &e : NULL);
        return r;
}

static void
on_loop_turn(vs_commit *c)
{
        if (c->n_waiting > 0 || vs_store_unflushed(c->store))
                (void)vs_commit_flush(c);
}

static void
on_prepare(uv_prepare_t *h)
{
        on_loop_turn(h->data);
}

static void
on_check(uv_check_t *h)
{
        on_loop_turn(h->data);
}

int
vs_commit_new(uv_loop_t *loop, vs_store *store, vs_log *log, vs_commit **ret)
{
        vs_commit *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        c->log = log;
        r = uv_prepare_init(loop, &c->prepare);
        if (r < 0) {
                free(c);
                return r;
        }
        r = uv_check_init(loop, &c->check);
        if (r < 0) {
                /* The prepare handle is initialized: its close frees c. */
                c->open_handles = 1;
                c->prepare.data = c;
                vs_commit_free(c);
                return r;
        }
        c->open_handles = 2;
        c->store = store;
        c->prepare.data = c->check.data = c;
        uv_prepare_start(&c->prepare, on_prepare);
        uv_check_start(&c->check, on_check);
        uv_unref((uv_handle_t *)&c->prepare);
        uv_unref((uv_handle_t *)&c->check);
        (void)vs_store_set_grouped(store, true, NULL);
        *ret = c;
        return 0;
}

void
vs_commit_then(vs_commit *c, vs_commit_fn fn, void *data)
{
        if (!c || !vs_store_unflushed(c->store)) {
                fn(data, NULL);
                return;
        }
        if (c->n_waiting == c->cap_waiting) {
                size_t ncap = c->cap_waiting ? 2 * c->cap_waiting : 8;
                waiter *n = realloc(c->waiting, ncap * sizeof(*n));

                if (!n) {
                        /* No room to wait: commit now instead. */
                        vs_err e = { 0 };
                        int r = vs_store_flush(c->store, &e);

                        if (r < 0)
                                vs_log_err(c->log, "cannot commit to the history: %s", e.msg);
                        fn(data, r < 0 ? &e : NULL);
                        return;
                }
                c->waiting = n;
                c->cap_waiting = ncap;
        }
        c->waiting[c->n_waiting++] = (waiter){ .fn = fn, .data = data };
        if (c->n_waiting == 1)
                uv_ref((uv_handle_t *)&c->prepare);
}

size_t
vs_commit_waiting(const vs_commit *c)
{
        return c ? c->n_waiting : 0;
}

static void
on_closed(uv_handle_t *h)
{
        vs_commit *c = h->data;

        if (--c->open_handles == 0)
                free(c);
}

void
vs_commit_free(vs_commit *c)
{
        if (!c)
                return;
        if (c->store) {
                vs_err e = { 0 };

                if (vs_store_set_grouped(c->store, false, &e) < 0)
                        vs_log_err(c->log, "cannot commit to the history: %s", e.msg);
                c->store = NULL;
        }
        /* Only an idle scheduler frees this: nothing should wait.  Whatever
         * does is dropped rather than run in the middle of a teardown. */
        if (c->n_waiting > 0)
                vs_log_warning(c->log, "history: %zu waiting steps dropped at shutdown", c->n_waiting);
        free(c->waiting);
        c->waiting = NULL;
        c->n_waiting = 0;
        uv_close((uv_handle_t *)&c->prepare, on_closed);
        if (c->open_handles == 2)
                uv_close((uv_handle_t *)&c->check, on_closed);
}
