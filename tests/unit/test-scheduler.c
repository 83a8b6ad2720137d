/* Unit tests for scheduler/: the plan (pure), hooks (real processes), and
 * the daemon's behaviour driven through the fake hypervisor
 * (tests/fakes/virt-fake.c), an in-memory store and a fake clock.  Nothing
 * sleeps: time moves only through vs_clock_advance, blocked libvirt calls are
 * awaited on the fake's condition variable, and the loop is run until no
 * worker or hook is in flight. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "clock.h"
#include "hooks.h"
#include "lockfile.h"
#include "plan.h"
#include "policy.h"
#include "scheduler.h"
#include "store.h"
#include "strv.h"
#include "timefmt.h"
#include "fakes/disk-full.h"
#include "fakes/virt-fake.h"

#define URI "fake:///a"
#define URI2 "fake:///b"
#define UUID_A "00000000-0000-0000-0000-00000000000a"
#define UUID_B "00000000-0000-0000-0000-00000000000b"
#define UUID_C "00000000-0000-0000-0000-00000000000c"
#define UUID_D "00000000-0000-0000-0000-00000000000d"
#define UUID_E "00000000-0000-0000-0000-00000000000e"

/* 2026-01-05T10:00:00Z, a Monday. */
#define T0 INT64_C(1767607200)

/* ---- fixture ---------------------------------------------------------------- */

typedef struct fx {
        uv_loop_t loop;
        vs_clock *clock;
        vs_store *store;
        vs_virt *fake;          /* our reference; the scheduler gets its own */
        vs_virt *fake2;         /* a second host, URI2 */
        vs_scheduler *s;
        char dir[64];
        char cfg_path[128];
        char hook_log[128];
        int64_t grace_ms;
        bool signals;
} fx;

static int
open_fake(void *data, const char *uri, vs_virt **ret, vs_err *err)
{
        fx *f = data;

        if (strcmp(uri, URI) == 0) {
                *ret = vs_fake_ref(f->fake);
                return 0;
        }
        if (strcmp(uri, URI2) == 0 && f->fake2) {
                *ret = vs_fake_ref(f->fake2);
                return 0;
        }
        return vs_err_set(err, ECONNREFUSED, "fake", "no hypervisor at %s", uri);
}

static vs_config *
load_config(const char *yaml)
{
        vs_diags diags = { 0 };
        vs_config *cfg = NULL;
        int r = vs_config_load_string("test.yaml", yaml, strlen(yaml), &cfg, &diags);

        for (size_t i = 0; i < diags.n; i++) {
                char line[1024];

                vs_diag_format(&diags.items[i], line, sizeof(line));
                fprintf(stderr, "%s\n", line);
        }
        vs_diags_clear(&diags);
        assert_int_equal(r, 0);
        return cfg;
}

static fx *
fx_new(int64_t start)
{
        fx *f = calloc(1, sizeof(*f));
        vs_err e = { 0 };

        assert_non_null(f);
        assert_int_equal(uv_loop_init(&f->loop), 0);
        assert_int_equal(vs_clock_new_fake(&f->loop, start * 1000, &f->clock), 0);
        assert_int_equal(vs_store_open(":memory:", 0, &f->store, &e), 0);
        assert_int_equal(vs_fake_new(URI, &f->fake), 0);
        vs_fake_set_time(f->fake, start);
        snprintf(f->dir, sizeof(f->dir), "/tmp/vs-sched-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->cfg_path, sizeof(f->cfg_path), "%s/policies.yaml", f->dir);
        snprintf(f->hook_log, sizeof(f->hook_log), "%s/hooks.log", f->dir);
        return f;
}

/* Run the loop until nothing the loop waits for is in flight. */
static void
settle(fx *f)
{
        vs_scheduler_stats st;

        for (;;) {
                uv_run(&f->loop, UV_RUN_NOWAIT);
                if (!f->s)
                        return;
                vs_scheduler_get_stats(f->s, &st);
                if (st.in_flight == 0)
                        return;
                uv_run(&f->loop, UV_RUN_ONCE);
        }
}

/* Move the fake clock to an absolute instant (UTC s) and let work finish. */
static void
advance_to(fx *f, int64_t t)
{
        int64_t now = vs_clock_now_ms(f->clock);

        assert_true(t * 1000 >= now);
        vs_clock_advance(f->clock, t * 1000 - now);
        vs_fake_set_time(f->fake, t);
        settle(f);
}

static void
advance_by(fx *f, int64_t secs)
{
        advance_to(f, vs_clock_now(f->clock) + secs);
}

static void
fx_scheduler(fx *f, const char *yaml, const char *path)
{
        vs_scheduler_opts o = {
                .loop = &f->loop, .clock = f->clock, .store = f->store, .open_virt = open_fake,
                .open_data = f, .config_path = path, .grace_ms = f->grace_ms, .signals = f->signals,
        };
        vs_err e = { 0 };

        assert_int_equal(vs_scheduler_new(&o, load_config(yaml), &f->s, &e), 0);
}

static void
write_file(const char *path, const char *text)
{
        FILE *fp = fopen(path, "w");

        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
}

/* Stop the scheduler (if any), close everything, keep store and fake. */
static void
fx_stop_scheduler(fx *f)
{
        if (!f->s)
                return;
        vs_scheduler_stop(f->s);
        settle(f);
        assert_true(vs_scheduler_finished(f->s));
        uv_run(&f->loop, UV_RUN_DEFAULT);
        vs_scheduler_free(f->s);
        f->s = NULL;
}

static void
fx_free(fx *f)
{
        char cmd[160];

        fx_stop_scheduler(f);
        uv_run(&f->loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&f->loop), 0);
        vs_clock_free(f->clock);
        vs_store_free(f->store);
        vs_virt_free(f->fake);
        vs_virt_free(f->fake2);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
}

/* ---- history helpers ------------------------------------------------------------ */

typedef struct count_ctx {
        const char *state;
        const char *policy;
        const char *domain;
        unsigned n;
        char last_error[512];
        char last_snapshot[128];
} count_ctx;

static int
count_row(const vs_store_row *row, void *userdata)
{
        count_ctx *c = userdata;

        if (c->state && strcmp(vs_snap_state_to_string(row->state), c->state) != 0)
                return 0;
        if (c->policy && strcmp(row->policy, c->policy) != 0)
                return 0;
        if (c->domain && strcmp(row->domain_name, c->domain) != 0)
                return 0;
        if (c->n == 0) {
                snprintf(c->last_error, sizeof(c->last_error), "%s", row->error_message ? row->error_message : "");
                snprintf(c->last_snapshot, sizeof(c->last_snapshot), "%s", row->snapshot ? row->snapshot : "");
        }
        c->n++;
        return 0;
}

static unsigned
rows_in(vs_store *store, const char *state, const char *domain)
{
        vs_store_filter flt = { .since = INT64_MIN, .until = INT64_MAX };
        count_ctx c = { .state = state, .domain = domain };
        vs_err e = { 0 };

        assert_int_equal(vs_store_query_history(store, &flt, count_row, &c, &e), 0);
        return c.n;
}

static unsigned
rows(fx *f, const char *state, const char *domain)
{
        return rows_in(f->store, state, domain);
}

/* The newest row in `state` (its error message, or "" ). */
static count_ctx
newest_row(fx *f, const char *state, const char *domain)
{
        vs_store_filter flt = { .since = INT64_MIN, .until = INT64_MAX };
        count_ctx c = { .state = state, .domain = domain };
        vs_err e = { 0 };

        assert_int_equal(vs_store_query_history(f->store, &flt, count_row, &c, &e), 0);
        return c;
}

typedef struct ev_ctx {
        const char *kind;
        unsigned n;
        char last_message[512];
} ev_ctx;

static int
count_event(const vs_store_event_row *row, void *userdata)
{
        ev_ctx *c = userdata;

        if (strcmp(row->kind, c->kind) != 0)
                return 0;
        if (c->n == 0)
                snprintf(c->last_message, sizeof(c->last_message), "%s", row->message ? row->message : "");
        c->n++;
        return 0;
}

static ev_ctx
events(fx *f, const char *kind)
{
        vs_store_filter flt = { .since = INT64_MIN, .until = INT64_MAX };
        ev_ctx c = { .kind = kind };
        vs_err e = { 0 };

        assert_int_equal(vs_store_query_events(f->store, &flt, count_event, &c, &e), 0);
        return c;
}

static void
add_domains(fx *f, unsigned n)
{
        static const char *const names[] = { "dom-a", "dom-b", "dom-c", "dom-d", "dom-e" };
        static const char *const uuids[] = { UUID_A, UUID_B, UUID_C, UUID_D, UUID_E };

        for (unsigned i = 0; i < n; i++)
                assert_int_equal(vs_fake_add_domain(f->fake, names[i], uuids[i], VS_DOMAIN_RUNNING, NULL), 0);
}

static vs_scheduler_stats
stats(fx *f)
{
        vs_scheduler_stats st;

        vs_scheduler_get_stats(f->s, &st);
        return st;
}

/* Run the loop until n jobs exist (running or queued); the refresh that
 * precedes them is in flight, so the loop always has something to wait for. */
static void
run_until_jobs(fx *f, unsigned n)
{
        while (stats(f).running + stats(f).queued < n)
                uv_run(&f->loop, UV_RUN_ONCE);
}

/* ---- plan (pure) -------------------------------------------------------------- */

static void
test_plan_offsets(void **state)
{
        int64_t a = vs_plan_offset(URI, UUID_A, "p", 600);
        int64_t b = vs_plan_offset(URI, UUID_B, "p", 600);

        (void)state;
        /* Stable: the same inputs always give the same offset. */
        assert_int_equal(a, vs_plan_offset(URI, UUID_A, "p", 600));
        assert_true(a >= 0 && a < 600);
        assert_true(b >= 0 && b < 600);
        assert_int_not_equal(a, b);
        /* Each part of the key matters. */
        assert_int_not_equal(a, vs_plan_offset("fake:///b", UUID_A, "p", 600));
        assert_int_not_equal(a, vs_plan_offset(URI, UUID_A, "q", 600));
        assert_int_equal(vs_plan_offset(URI, UUID_A, "p", 0), 0);
        assert_int_equal(vs_plan_offset(URI, UUID_A, "p", 1), 0);
        /* Spread: 1000 domains over 60 s use most of the range. */
        {
                bool seen[60] = { false };
                unsigned distinct = 0;

                for (int i = 0; i < 1000; i++) {
                        char uuid[40];
                        int64_t o;

                        snprintf(uuid, sizeof(uuid), "00000000-0000-0000-0000-%012d", i);
                        o = vs_plan_offset(URI, uuid, "p", 60);
                        assert_true(o >= 0 && o < 60);
                        if (!seen[o]) {
                                seen[o] = true;
                                distinct++;
                        }
                }
                assert_int_equal(distinct, 60);
        }
}

static void
test_plan_slots_and_due(void **state)
{
        vs_config *cfg = load_config("timezone: UTC\n"
                                     "policies:\n"
                                     "  - name: p\n"
                                     "    schedule: hourly\n"
                                     "    retention: {keep_last: 2}\n");
        const vs_schedule *h = cfg->policies[0].schedule;

        (void)state;
        /* 10:00:00 exactly: the 10:00 slot has fired, next is 11:00. */
        assert_int_equal(vs_plan_next_slot(h, cfg->tz, 0, T0), T0 + 3600);
        /* With a 5 min offset, at 10:03 the 10:00 slot (deadline 10:05) is still ahead. */
        assert_int_equal(vs_plan_next_slot(h, cfg->tz, 300, T0 + 180), T0);
        assert_int_equal(vs_plan_next_slot(h, cfg->tz, 300, T0 + 300), T0 + 3600);

        /* Never succeeded: due. */
        assert_true(vs_plan_is_due(h, cfg->tz, 0, false, 0, T0 + 60));
        /* Succeeded at 10:00:30, now 10:59: nothing missed. */
        assert_false(vs_plan_is_due(h, cfg->tz, 0, true, T0 + 30, T0 + 3540));
        /* Now 11:00: the 11:00 slot is owed. */
        assert_true(vs_plan_is_due(h, cfg->tz, 0, true, T0 + 30, T0 + 3600));
        /* Offset 5 min: 11:04 is before the 11:05 deadline. */
        assert_false(vs_plan_is_due(h, cfg->tz, 300, true, T0 + 330, T0 + 3600 + 240));
        assert_true(vs_plan_is_due(h, cfg->tz, 300, true, T0 + 330, T0 + 3600 + 300));
        /* Three slots missed is still one "due". */
        assert_true(vs_plan_is_due(h, cfg->tz, 0, true, T0 - 3 * 3600, T0 + 1));
        vs_config_free(cfg);
}

static void
test_plan_build_and_pop(void **state)
{
        vs_config *cfg = load_config("timezone: UTC\n"
                                     "policies:\n"
                                     "  - name: hourly\n"
                                     "    schedule: hourly\n"
                                     "    jitter: 10m\n"
                                     "    retention: {keep_last: 2}\n"
                                     "  - name: only-b\n"
                                     "    domains: {include: [dom-b]}\n"
                                     "    schedule: every 15m\n"
                                     "    retention: {keep_last: 2}\n"
                                     "  - name: off\n"
                                     "    enabled: false\n"
                                     "    schedule: every 1m\n"
                                     "    retention: {keep_last: 2}\n");
        vs_domain_info doms[3] = {
                { .name = "dom-a", .uuid = UUID_A, .state = VS_DOMAIN_RUNNING },
                { .name = "dom-b", .uuid = UUID_B, .state = VS_DOMAIN_SHUTOFF },
                { .name = "dom-c", .uuid = UUID_C, .state = VS_DOMAIN_RUNNING },
        };
        vs_domain_list list = { .items = doms, .n = 3 };
        vs_plan_conn conn = { .uri = URI, .domains = &list };
        vs_plan *plan = NULL;
        vs_plan_entry e;
        int64_t prev = INT64_MIN;

        (void)state;
        assert_int_equal(vs_plan_build(&(vs_plan_input){ .cfg = cfg, .connect_override = URI, .conns = &conn,
                                                       .n_conns = 1, .after = T0 },
                                       &plan),
                         0);
        /* 3 domains x hourly + dom-b x only-b; the disabled policy has none. */
        assert_int_equal(vs_plan_size(plan), 4);
        for (size_t i = 0; i < vs_plan_size(plan); i++) {
                const vs_plan_entry *x = vs_plan_entry_at(plan, i);

                assert_true(x->deadline >= prev);
                prev = x->deadline;
                assert_int_equal(x->deadline, x->slot + x->offset);
                assert_true(x->deadline > T0);
                if (strcmp(x->policy->name, "hourly") == 0) {
                        assert_int_equal(x->offset, vs_plan_offset(URI, x->uuid, "hourly", 600));
                        /* 10:00 + offset has passed unless... it is strictly after T0. */
                        assert_int_equal(x->slot, x->offset > 0 ? T0 : T0 + 3600);
                } else {
                        assert_string_equal(x->domain, "dom-b");
                        assert_int_equal(x->offset, 0);
                        assert_int_equal(x->slot, T0 + 900);
                }
        }
        /* Popping hands entries out in deadline order and moves each on. */
        assert_false(vs_plan_pop(plan, T0, &e));
        prev = INT64_MIN;
        for (int i = 0; i < 4; i++) {
                int64_t d = vs_plan_next_deadline(plan);

                assert_true(d <= T0 + 3600 + 600);
                assert_true(vs_plan_pop(plan, d, &e));
                assert_int_equal(e.deadline, d);
                assert_true(d >= prev);
                prev = d;
        }
        /* Now the hourly entries are an hour later, only-b's 15 min later. */
        assert_true(vs_plan_next_deadline(plan) > T0 + 900);
        vs_plan_free(plan);
        vs_config_free(cfg);
}

/* ---- hooks (real processes) --------------------------------------------------- */

typedef struct hook_ctx {
        bool done;
        vs_hook_result res;
} hook_ctx;

static void
on_hook(void *data, const vs_hook_result *res)
{
        hook_ctx *h = data;

        h->done = true;
        h->res = *res;
}

static void
test_hook_expand(void **state)
{
        char *s;

        (void)state;
        s = vs_hook_expand_arg("x{domain}-{policy}/{snapshot}", "web-01", "hourly", "snap1", NULL, T0);
        assert_string_equal(s, "xweb-01-hourly/snap1");
        free(s);
        s = vs_hook_expand_arg("{snapshot}@{utc:%Y}", "d", "p", "s1", NULL, T0);
        assert_string_equal(s, "s1@2026");
        free(s);
        /* Never a half-expanded argument: what cannot be expanded fails. */
        assert_null(vs_hook_expand_arg("{snapshot}{nope}", "d", "p", "s1", NULL, T0));
        assert_null(vs_hook_expand_arg("{local:%H}", "d", "p", "s1", NULL, T0));
}

static void
test_hook_env_and_status(void **state)
{
        fx *f = fx_new(T0);
        char *argv[] = { "/bin/sh", "-c",
                         "test \"$VIRTSNAP_DOMAIN $VIRTSNAP_POLICY $VIRTSNAP_SNAPSHOT $VIRTSNAP_PHASE\" = "
                         "'web-01 hourly snap-1 pre' && test \"$1\" = web-01 && exit 7",
                         "sh", "{domain}", NULL };
        vs_hook_request req = { .argv = argv, .domain = "web-01", .policy = "hourly", .snapshot = "snap-1",
                                .phase = "pre", .timeout_ms = 10000 };
        char *missing[] = { "/nonexistent/hook", NULL };
        hook_ctx h = { 0 };
        vs_hook *hook = NULL;
        vs_err e = { 0 };
        char why[64];

        (void)state;
        assert_int_equal(vs_hook_run(f->clock, &req, on_hook, &h, &hook, &e), 0);
        uv_run(&f->loop, UV_RUN_DEFAULT);
        assert_true(h.done);
        /* Exit 7 proves every variable and the argument were as expected. */
        assert_int_equal(h.res.exit_status, 7);
        assert_false(vs_hook_result_ok(&h.res));
        vs_hook_result_describe(&h.res, why, sizeof(why));
        assert_string_equal(why, "exit status 7");

        req.argv = missing;
        assert_int_equal(vs_hook_run(f->clock, &req, on_hook, &h, &hook, &e), -ENOENT);
        assert_non_null(strstr(e.msg, "/nonexistent/hook"));
        fx_free(f);
}

static void
test_hook_timeout_kills_group(void **state)
{
        fx *f = fx_new(T0);
        char *argv[] = { "/bin/sh", "-c", "sleep 30 & sleep 30; echo never", NULL };
        vs_hook_request req = { .argv = argv, .domain = "d", .policy = "p", .snapshot = "s",
                                .phase = "pre", .timeout_ms = 2000 };
        hook_ctx h = { 0 };
        vs_hook *hook = NULL;
        vs_err e = { 0 };

        (void)state;
        assert_int_equal(vs_hook_run(f->clock, &req, on_hook, &h, &hook, &e), 0);
        uv_run(&f->loop, UV_RUN_NOWAIT);
        vs_clock_advance(f->clock, 1999);
        uv_run(&f->loop, UV_RUN_NOWAIT);
        assert_false(h.done);
        vs_clock_advance(f->clock, 1);
        uv_run(&f->loop, UV_RUN_DEFAULT);
        assert_true(h.done);
        assert_true(h.res.timed_out);
        assert_int_equal(h.res.term_signal, SIGKILL);
        fx_free(f);
}

/* ---- scheduler ------------------------------------------------------------------ */

static const char *const base_yaml =
        "connection: " URI "\n"
        "timezone: UTC\n"
        "max_concurrent: 2\n"
        "policies:\n"
        "  - name: p\n"
        "    schedule: hourly\n"
        "    jitter: 10m\n"
        "    catch_up: false\n"
        "    snapshot: {type: internal, timeout: 5m}\n"
        "    retention: {keep_last: 2}\n";

static void
test_fire_order_and_jitter(void **state)
{
        fx *f = fx_new(T0 + 3000); /* 10:50 */
        const char *names[3] = { "dom-a", "dom-b", "dom-c" };
        const char *uuids[3] = { UUID_A, UUID_B, UUID_C };
        int64_t deadline[3];
        int order[3] = { 0, 1, 2 };

        (void)state;
        add_domains(f, 3);
        fx_scheduler(f, base_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(stats(f).planned, 3);
        assert_int_equal(rows(f, NULL, NULL), 0);
        for (int i = 0; i < 3; i++) {
                int64_t off = vs_plan_offset(URI, uuids[i], "p", 600);

                /* 10:00 + off is before 10:50 (off < 10 min): next is 11:00 + off. */
                deadline[i] = T0 + 3600 + off;
        }
        for (int i = 0; i < 3; i++)
                for (int k = i + 1; k < 3; k++)
                        if (deadline[order[k]] < deadline[order[i]]) {
                                int t = order[i];

                                order[i] = order[k];
                                order[k] = t;
                        }
        /* One timer, armed for the earliest deadline: no wakeups in between. */
        assert_int_equal(vs_clock_next_deadline(f->clock), deadline[order[0]] * 1000);
        assert_int_equal(stats(f).next_deadline, deadline[order[0]]);
        for (int i = 0; i < 3; i++) {
                int d = order[i];

                if (i > 0 && deadline[d] == deadline[order[i - 1]])
                        continue;
                advance_to(f, deadline[d] - 1);
                assert_int_equal(vs_fake_owned_count(f->fake, names[d], "p"), 0);
                advance_to(f, deadline[d]);
                assert_int_equal(vs_fake_owned_count(f->fake, names[d], "p"), 1);
                assert_int_equal(rows(f, "present", names[d]), 1);
                /* The others have not fired yet. */
                for (int k = i + 1; k < 3; k++)
                        if (deadline[order[k]] > deadline[d])
                                assert_int_equal(vs_fake_owned_count(f->fake, names[order[k]], "p"), 0);
        }
        assert_int_equal(rows(f, "present", NULL), 3);
        /* Next round: each an hour later, same offsets. */
        assert_int_equal(stats(f).next_deadline, deadline[order[0]] + 3600);
        fx_free(f);
}

static void
test_catch_up_once(void **state)
{
        fx *f = fx_new(T0 + 1800); /* 10:30 */
        const char *yaml = "connection: " URI "\n"
                           "timezone: UTC\n"
                           "policies:\n"
                           "  - name: p\n"
                           "    schedule: hourly\n"
                           "    catch_up: true\n"
                           "    retention: {keep_last: 5}\n"
                           "  - name: nocatch\n"
                           "    schedule: hourly\n"
                           "    catch_up: false\n"
                           "    retention: {keep_last: 5}\n";

        (void)state;
        add_domains(f, 2);
        /* First start: never snapshotted, so each domain is owed one. */
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "p"), 1);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-b", "p"), 1);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "nocatch"), 0);
        fx_stop_scheduler(f);

        /* Restart ten minutes later: nothing was missed. */
        advance_by(f, 600);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "p"), 1);
        fx_stop_scheduler(f);

        /* Down from 10:40 to 14:20: 11:00, 12:00, 13:00 and 14:00 missed; one snapshot. */
        advance_to(f, T0 + 4 * 3600 + 1200);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "p"), 2);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-b", "p"), 2);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "nocatch"), 0);
        assert_int_equal(rows(f, "present", NULL), 4);
        /* And the schedule goes on at 15:00. */
        assert_int_equal(stats(f).next_deadline, T0 + 5 * 3600);
        fx_free(f);
}

static const char *const minutely_yaml =
        "connection: " URI "\n"
        "timezone: UTC\n"
        "max_concurrent: 2\n"
        "policies:\n"
        "  - name: p\n"
        "    schedule: every 1m\n"
        "    catch_up: false\n"
        "    snapshot: {type: internal, timeout: 10m}\n"
        "    retention: {keep_last: 2}\n";

static void
test_overlap_skip(void **state)
{
        fx *f = fx_new(T0);

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        vs_fake_block(f->fake, VS_FAKE_CREATE);
        vs_clock_advance(f->clock, 60000);
        run_until_jobs(f, 1);
        vs_fake_wait_blocked(f->fake, VS_FAKE_CREATE, 1);
        assert_int_equal(stats(f).running, 1);
        /* The next minute fires while the first job still runs: skipped. */
        vs_clock_advance(f->clock, 60000);
        /* Until the firing is handled: skipped, or (wrongly) queued. */
        while (stats(f).skipped + stats(f).queued == 0)
                uv_run(&f->loop, UV_RUN_ONCE);
        assert_int_equal(stats(f).queued, 0);
        assert_int_equal(rows(f, "skipped", "dom-a"), 1);
        assert_int_equal(stats(f).skipped, 1);
        assert_int_equal(rows(f, "creating", "dom-a"), 1);
        vs_fake_release(f->fake, VS_FAKE_CREATE);
        settle(f);
        assert_int_equal(rows(f, "present", "dom-a"), 1);
        assert_int_equal(rows(f, "creating", NULL), 0);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 1);
        fx_free(f);
}

static void
test_concurrency_limit(void **state)
{
        fx *f = fx_new(T0);

        (void)state;
        add_domains(f, 5);
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        vs_fake_block(f->fake, VS_FAKE_CREATE);
        vs_clock_advance(f->clock, 60000);
        run_until_jobs(f, 5);
        vs_fake_wait_blocked(f->fake, VS_FAKE_CREATE, 2);
        /* max_concurrent 2: two in libvirt, three queued in fire order. */
        assert_int_equal(stats(f).running, 2);
        assert_int_equal(stats(f).queued, 3);
        assert_int_equal(rows(f, "creating", NULL), 2);
        vs_fake_release(f->fake, VS_FAKE_CREATE);
        settle(f);
        assert_int_equal(stats(f).running, 0);
        assert_int_equal(stats(f).queued, 0);
        assert_int_equal(rows(f, "present", NULL), 5);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 5);
        fx_free(f);
}

static void
test_retry_transient_then_succeed(void **state)
{
        fx *f = fx_new(T0);

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        vs_fake_fail(f->fake, VS_FAKE_CREATE, 1, 2, EAGAIN, true, "domain is locked");
        advance_by(f, 60);
        /* First attempt failed; a retry waits 1 s. */
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 1);
        assert_int_equal(rows(f, "creating", NULL), 1);
        advance_by(f, 1);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 2);
        /* Then 2 s. */
        advance_by(f, 1);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 2);
        advance_by(f, 1);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 3);
        assert_int_equal(rows(f, "present", "dom-a"), 1);
        assert_int_equal(rows(f, "failed", NULL), 0);
        assert_int_equal(stats(f).failed, 0);
        fx_free(f);
}

static void
test_permanent_fails_at_once(void **state)
{
        fx *f = fx_new(T0);
        count_ctx row;

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        vs_fake_fail(f->fake, VS_FAKE_CREATE, 1, 1, EINVAL, false, "unsupported configuration");
        advance_by(f, 60);
        advance_by(f, 30);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 1);
        assert_int_equal(rows(f, "failed", "dom-a"), 1);
        row = newest_row(f, "failed", "dom-a");
        assert_non_null(strstr(row.last_error, "unsupported configuration"));
        assert_int_equal(stats(f).failed, 1);
        /* Nothing was created, so nothing was pruned. */
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_DELETE), 0);
        fx_free(f);
}

static void
test_transient_bounded_by_timeout(void **state)
{
        fx *f = fx_new(T0);
        const char *yaml = "connection: " URI "\n"
                           "timezone: UTC\n"
                           "policies:\n"
                           "  - name: p\n"
                           "    schedule: hourly\n"
                           "    catch_up: false\n"
                           "    snapshot: {type: internal, timeout: 10s}\n"
                           "    retention: {keep_last: 2}\n";

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        vs_fake_fail_always(f->fake, VS_FAKE_CREATE, EAGAIN, true, "still busy");
        /* Attempts at +0, +1, +3, +7; the next (+15) would pass the 10 s timeout. */
        advance_to(f, T0 + 3600);
        for (int i = 0; i < 20; i++)
                advance_by(f, 1);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 4);
        assert_int_equal(rows(f, "failed", "dom-a"), 1);
        assert_non_null(strstr(newest_row(f, "failed", "dom-a").last_error, "still busy"));
        fx_free(f);
}

/* A busy domain (a backup job, a block copy) is waited for with backoff
 * within the job's timeout, then the attempt is `skipped`, not failed. */
static void
test_busy_waits_then_skips(void **state)
{
        fx *f = fx_new(T0);
        const char *yaml = "connection: " URI "\n"
                           "timezone: UTC\n"
                           "policies:\n"
                           "  - name: p\n"
                           "    schedule: hourly\n"
                           "    catch_up: false\n"
                           "    snapshot: {type: internal, timeout: 10s}\n"
                           "    retention: {keep_last: 1}\n";

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        /* Busy twice, then free: waits 1 s, then 2 s, then creates. */
        vs_fake_refuse(f->fake, VS_FAKE_CREATE, 1, 2, VS_SKIP_BUSY, "domain busy (backup job)");
        advance_to(f, T0 + 3600);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 1);
        assert_int_equal(rows(f, "creating", NULL), 1);
        advance_by(f, 1);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 2);
        advance_by(f, 1);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 2);
        advance_by(f, 1);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 3);
        assert_int_equal(rows(f, "present", "dom-a"), 1);
        assert_int_equal(rows(f, "skipped", NULL) + rows(f, "failed", NULL), 0);

        /* Busy for longer than the timeout: tries at +0, +1, +3, +7 (the
         * next, +15, would pass 10 s), then `skipped` with why; no prune,
         * no failure. */
        vs_fake_refuse(f->fake, VS_FAKE_CREATE, 1, 100, VS_SKIP_BUSY, "domain busy (backup job)");
        advance_to(f, T0 + 7200);
        for (int i = 0; i < 20; i++)
                advance_by(f, 1);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 3 + 4);
        assert_int_equal(rows(f, "skipped", "dom-a"), 1);
        assert_int_equal(rows(f, "failed", NULL), 0);
        assert_string_equal(newest_row(f, "skipped", "dom-a").last_error,
                            "domain busy (backup job), for the whole job timeout");
        assert_int_equal(stats(f).skipped, 1);
        assert_int_equal(stats(f).failed, 0);
        assert_int_equal(events(f, "skipped").n, 1);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_DELETE), 0);
        assert_int_equal(rows(f, "present", "dom-a"), 1);
        fx_free(f);
}

/* The guard: skipped at once with the limit as the reason and a `guarded`
 * event; the prune still runs (it may be what frees the space). */
static void
test_guard_skips_and_prunes(void **state)
{
        fx *f = fx_new(T0);
        const char *yaml = "connection: " URI "\n"
                           "timezone: UTC\n"
                           "policies:\n"
                           "  - name: p\n"
                           "    schedule: hourly\n"
                           "    catch_up: false\n"
                           "    snapshot: {type: internal, timeout: 1m}\n"
                           "    guard: {min_free: 10%}\n"
                           "    retention: {keep_within: 90m}\n";

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        advance_to(f, T0 + 3600);
        advance_to(f, T0 + 7200);
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        vs_fake_refuse(f->fake, VS_FAKE_CREATE, 1, 1, VS_SKIP_GUARD, "low space (3.1% free < 10%) for vda (/images/a.qcow2)");
        advance_to(f, T0 + 10800);
        for (int i = 0; i < 5; i++)
                advance_by(f, 1);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 3); /* not retried */
        assert_int_equal(rows(f, "skipped", "dom-a"), 1);
        assert_string_equal(newest_row(f, "skipped", "dom-a").last_error,
                            "low space (3.1% free < 10%) for vda (/images/a.qcow2)");
        assert_int_equal(events(f, "guarded").n, 1);
        assert_int_equal(stats(f).skipped, 1);
        assert_int_equal(stats(f).failed, 0);
        /* The 01:00 snapshot is now 2 h old: pruned by the skipped job. */
        assert_int_equal(rows(f, "deleted", "dom-a"), 1);
        assert_int_equal(rows(f, "present", "dom-a"), 1);
        fx_free(f);
}

static char *
read_file(const char *path)
{
        FILE *fp = fopen(path, "r");
        char *buf = calloc(1, 4096);

        assert_non_null(buf);
        if (fp) {
                size_t n = fread(buf, 1, 4095, fp);

                buf[n] = '\0';
                fclose(fp);
        }
        return buf;
}

static void
hook_yaml(char *buf, size_t len, const fx *f, const char *pre_cmd, const char *post_cmd, const char *timeout)
{
        snprintf(buf, len,
                 "connection: " URI "\n"
                 "timezone: UTC\n"
                 "policies:\n"
                 "  - name: p\n"
                 "    schedule: hourly\n"
                 "    catch_up: false\n"
                 "    snapshot: {type: internal, timeout: 5m}\n"
                 "    hooks:\n"
                 "      pre: [/bin/sh, -c, '%s', sh, '{domain}']\n"
                 "      post: [/bin/sh, -c, '%s', sh, '{domain}']\n"
                 "      timeout: %s\n"
                 "    retention: {keep_last: 2}\n",
                 pre_cmd, post_cmd, timeout);
        (void)f;
}

static void
test_hooks_order(void **state)
{
        fx *f = fx_new(T0);
        char yaml[2048], pre[256], post[256], expect[512], *log;
        char *snap;

        (void)state;
        add_domains(f, 1);
        snprintf(pre, sizeof(pre), "echo $VIRTSNAP_PHASE $1 $VIRTSNAP_POLICY >> %s", f->hook_log);
        snprintf(post, sizeof(post), "echo $VIRTSNAP_PHASE $1 $VIRTSNAP_SNAPSHOT >> %s", f->hook_log);
        hook_yaml(yaml, sizeof(yaml), f, pre, post, "30s");
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        advance_to(f, T0 + 3600);
        snap = vs_fake_last_created(f->fake, "dom-a");
        assert_non_null(snap);
        /* The post hook sees the name libvirt used. */
        snprintf(expect, sizeof(expect), "pre dom-a p\npost dom-a %s\n", snap);
        log = read_file(f->hook_log);
        assert_string_equal(log, expect);
        assert_int_equal(rows(f, "present", "dom-a"), 1);
        free(log);
        free(snap);
        fx_free(f);
}

static void
test_pre_hook_failure(void **state)
{
        fx *f = fx_new(T0);
        char yaml[2048], post[256], *log;

        (void)state;
        add_domains(f, 1);
        snprintf(post, sizeof(post), "echo $VIRTSNAP_PHASE $1 >> %s", f->hook_log);
        hook_yaml(yaml, sizeof(yaml), f, "exit 3", post, "30s");
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        advance_to(f, T0 + 3600);
        /* No create; the failure is recorded; the post hook still ran. */
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 0);
        assert_int_equal(rows(f, "failed", "dom-a"), 1);
        assert_non_null(strstr(newest_row(f, "failed", "dom-a").last_error, "pre hook /bin/sh failed: exit status 3"));
        log = read_file(f->hook_log);
        assert_string_equal(log, "post dom-a\n");
        free(log);
        assert_int_equal(stats(f).failed, 1);
        fx_free(f);
}

static void
test_hook_timeout_fails_job(void **state)
{
        fx *f = fx_new(T0);
        char yaml[2048], post[256], *log;

        (void)state;
        add_domains(f, 1);
        snprintf(post, sizeof(post), "echo $VIRTSNAP_PHASE $1 >> %s", f->hook_log);
        hook_yaml(yaml, sizeof(yaml), f, "sleep 30", post, "2s");
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        vs_clock_advance(f->clock, 3600 * 1000);
        /* Wait until the pre hook runs, then pass its 2 s timeout. */
        while (stats(f).hooks_running == 0)
                uv_run(&f->loop, UV_RUN_ONCE);
        advance_by(f, 2);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 0);
        assert_int_equal(rows(f, "failed", "dom-a"), 1);
        assert_non_null(strstr(newest_row(f, "failed", "dom-a").last_error, "timed out"));
        log = read_file(f->hook_log);
        assert_string_equal(log, "post dom-a\n");
        free(log);
        fx_free(f);
}

static void
test_prune_keeps_last_and_foreign(void **state)
{
        fx *f = fx_new(T0);

        (void)state;
        add_domains(f, 1);
        assert_int_equal(vs_fake_add_snapshot(f->fake, "dom-a", "made-by-virsh", T0 - 100, NULL), 0);
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        for (int i = 0; i < 5; i++)
                advance_by(f, 60);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "p"), 2);
        assert_true(vs_fake_has_snapshot(f->fake, "dom-a", "made-by-virsh"));
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        assert_int_equal(rows(f, "deleted", "dom-a"), 3);
        assert_int_equal(stats(f).pruned, 3);
        assert_int_equal(events(f, "pruned").n, 3);
        fx_free(f);
}

/* A snapshot deleted by someone else while its prune was in flight: the
 * backend reports it missing, and the `deleting` row ends `deleted` (what
 * reconcile would make of it), not back to `present`, and the job is fine. */
static void
test_prune_target_already_gone(void **state)
{
        fx *f = fx_new(T0);

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        advance_by(f, 60);
        advance_by(f, 60);
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        /* The third snapshot prunes the oldest; hold the delete and take
         * that snapshot away once its `deleting` intent is committed. */
        vs_fake_block(f->fake, VS_FAKE_DELETE);
        vs_clock_advance(f->clock, 60000);
        while (rows(f, "deleting", "dom-a") == 0)
                uv_run(&f->loop, UV_RUN_ONCE);
        assert_int_equal(vs_fake_remove_snapshot(f->fake, "dom-a",
                                                 newest_row(f, "deleting", "dom-a").last_snapshot), 0);
        vs_fake_release(f->fake, VS_FAKE_DELETE);
        settle(f);
        assert_int_equal(rows(f, "deleting", NULL), 0);
        assert_int_equal(rows(f, "deleted", "dom-a"), 1);
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        assert_int_equal(stats(f).failed, 0);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "p"), 2);
        fx_free(f);
}

/* The fixture's store on a file in its directory instead of in memory, so
 * that a second connection (what a CLI reader has) sees what is committed. */
static void
use_file_store(fx *f, char *path, size_t len)
{
        vs_err e = { 0 };

        snprintf(path, len, "%s/history.db", f->dir);
        vs_store_free(f->store);
        assert_int_equal(vs_store_open(path, 0, &f->store, &e), 0);
}

/* What another connection saw of the history when the fake was asked. */
typedef struct seen {
        vs_store *reader;
        const char *state;
        unsigned calls, rows;  /* rows in `state` at the last call */
} seen;

static void
probe_rows(void *data)
{
        seen *p = data;

        p->calls++;
        p->rows = rows_in(p->reader, p->state, "dom-a");
}

/* Group commit: libvirt is asked to create, and to delete, only once the
 * intent row is committed, as another connection sees it at that moment. */
static void
test_intents_committed_before_libvirt(void **state)
{
        fx *f = fx_new(T0);
        seen create = { .state = "creating" }, del = { .state = "deleting" };
        vs_store *reader;
        char path[300];
        vs_err e = { 0 };

        (void)state;
        use_file_store(f, path, sizeof(path));
        add_domains(f, 1);
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(vs_store_open(path, VS_STORE_READ_ONLY, &reader, &e), 0);
        create.reader = del.reader = reader;
        vs_fake_probe(f->fake, VS_FAKE_CREATE, probe_rows, &create);
        vs_fake_probe(f->fake, VS_FAKE_DELETE, probe_rows, &del);
        /* Three snapshots: the third prunes the oldest (keep_last 2). */
        for (int i = 0; i < 3; i++) {
                advance_by(f, 60);
                assert_int_equal(create.calls, (unsigned)i + 1);
                assert_int_equal(create.rows, 1);
        }
        assert_int_equal(del.calls, 1);
        assert_int_equal(del.rows, 1);
        vs_fake_probe(f->fake, VS_FAKE_CREATE, NULL, NULL);
        vs_fake_probe(f->fake, VS_FAKE_DELETE, NULL, NULL);
        assert_int_equal(rows_in(reader, "deleted", "dom-a"), 1);
        assert_int_equal(rows_in(reader, "present", "dom-a"), 2);
        vs_store_free(reader);
        fx_free(f);
}

/* A commit that fails (the disk is full when the WAL grows; a limit on file
 * size stands in for it) takes the intent with it: the job fails, libvirt is
 * asked nothing, no row claims an attempt, and the next firing works
 * (tests/fakes/disk-full.h). */
static void
test_failed_commit_asks_libvirt_nothing(void **state)
{
        fx *f = fx_new(T0);
        char path[300], wal[310];
        vs_disk_full full;

        (void)state;
        use_file_store(f, path, sizeof(path));
        snprintf(wal, sizeof(wal), "%s-wal", path);
        add_domains(f, 1);
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        advance_by(f, 60);
        assert_int_equal(rows(f, "present", "dom-a"), 1);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 1);

        assert_int_equal(vs_disk_full_begin(wal, &full), 0);
        advance_by(f, 60);
        vs_disk_full_end(&full);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 1);
        assert_int_equal(stats(f).failed, 1);
        assert_int_equal(rows(f, "creating", NULL), 0);
        assert_int_equal(rows(f, "present", "dom-a"), 1);

        advance_by(f, 60);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 2);
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        fx_free(f);
}

/* The same on the delete side.  The prune's `deleting` intents are
 * committed with the create's (one durable wait a job), so when the disk
 * fills while libvirt creates the snapshot, the prune that was decided at
 * the start still goes ahead: its intent was on disk before libvirt was
 * asked, as another connection sees at the moment of the delete.  Its
 * outcome cannot be committed (the disk is full): the row stays `deleting`
 * for reconcile to settle (deleting + gone = deleted).  While the disk stays
 * full nothing more is asked: the next create's intent cannot be
 * committed. */
typedef struct fill_at_create {
        const char *wal;
        unsigned calls, fill_at;
        bool full;
        vs_disk_full saved;
} fill_at_create;

static void
probe_fill_disk(void *data)
{
        fill_at_create *p = data;

        if (++p->calls == p->fill_at && vs_disk_full_begin(p->wal, &p->saved) == 0)
                p->full = true;
}

static void
test_disk_full_after_the_intents(void **state)
{
        fx *f = fx_new(T0);
        char path[300], wal[310];
        fill_at_create fill = { .wal = wal, .fill_at = 3 };
        seen del = { .state = "deleting" };
        vs_store *reader;
        vs_err e = { 0 };

        (void)state;
        use_file_store(f, path, sizeof(path));
        snprintf(wal, sizeof(wal), "%s-wal", path);
        add_domains(f, 1);
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        vs_fake_probe(f->fake, VS_FAKE_CREATE, probe_fill_disk, &fill);
        advance_by(f, 60);
        advance_by(f, 60);
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        assert_int_equal(vs_store_open(path, VS_STORE_READ_ONLY, &reader, &e), 0);
        del.reader = reader;
        vs_fake_probe(f->fake, VS_FAKE_DELETE, probe_rows, &del);

        /* The third create fills the disk; keep_last 2 prunes the oldest,
         * on the intent committed with the create's. */
        advance_by(f, 60);
        assert_true(fill.full);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 3);
        assert_int_equal(del.calls, 1);
        assert_int_equal(del.rows, 1);
        assert_int_equal(vs_fake_snapshot_count(f->fake, "dom-a"), 2);
        /* Still full: no intent, so nothing asked. */
        advance_by(f, 60);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 3);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_DELETE), 1);
        vs_disk_full_end(&fill.saved);
        vs_fake_probe(f->fake, VS_FAKE_CREATE, NULL, NULL);
        /* The outcome was lost with the failed commit: the row still says a
         * delete was in flight, which is what reconcile settles. */
        assert_int_equal(rows_in(reader, "deleting", "dom-a"), 1);

        /* Room again: the next firings create and prune, each delete with
         * its intent on disk first. */
        advance_by(f, 60);
        advance_by(f, 60);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 5);
        assert_true(del.calls >= 2);
        assert_int_equal(del.calls, vs_fake_calls(f->fake, VS_FAKE_DELETE));
        assert_true(del.rows >= 1);
        vs_fake_probe(f->fake, VS_FAKE_DELETE, NULL, NULL);
        vs_store_free(reader);
        fx_free(f);
}

/* One durable wait a job: the prune's intent is on disk when libvirt is
 * asked to create (committed with the create's), and no commit stands
 * between the create's return and the delete. */
typedef struct seen_at_create {
        vs_store *reader;
        unsigned calls, creating, deleting;
} seen_at_create;

static void
probe_both(void *data)
{
        seen_at_create *p = data;

        p->calls++;
        p->creating = rows_in(p->reader, "creating", "dom-a");
        p->deleting = rows_in(p->reader, "deleting", "dom-a");
}

static void
test_prune_intents_with_the_create(void **state)
{
        fx *f = fx_new(T0);
        seen_at_create at = { 0 };
        char path[300];
        vs_err e = { 0 };

        (void)state;
        use_file_store(f, path, sizeof(path));
        add_domains(f, 1);
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(vs_store_open(path, VS_STORE_READ_ONLY, &at.reader, &e), 0);
        vs_fake_probe(f->fake, VS_FAKE_CREATE, probe_both, &at);
        advance_by(f, 60);
        advance_by(f, 60);
        assert_int_equal(at.deleting, 0); /* nothing to prune yet */
        advance_by(f, 60);
        assert_int_equal(at.calls, 3);
        assert_int_equal(at.creating, 1);
        assert_int_equal(at.deleting, 1); /* the oldest, marked with the create */
        assert_int_equal(rows_in(at.reader, "deleted", "dom-a"), 1);
        assert_int_equal(rows_in(at.reader, "present", "dom-a"), 2);
        assert_int_equal(rows_in(at.reader, "deleting", "dom-a"), 0);

        /* A create that fails puts the early mark back: nothing deleted,
         * nothing recorded as a failed delete. */
        vs_fake_fail(f->fake, VS_FAKE_CREATE, 1, 1, EIO, false, "disk error");
        advance_by(f, 60);
        assert_int_equal(at.calls, 4);
        assert_int_equal(at.deleting, 1);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_DELETE), 1);
        assert_int_equal(rows_in(at.reader, "deleting", "dom-a"), 0);
        assert_int_equal(rows_in(at.reader, "present", "dom-a"), 2);
        assert_int_equal(rows_in(at.reader, "failed", "dom-a"), 1);
        assert_int_equal(events(f, "delete-failed").n, 0);
        vs_fake_probe(f->fake, VS_FAKE_CREATE, NULL, NULL);
        vs_store_free(at.reader);
        fx_free(f);
}

static void
test_run_once(void **state)
{
        fx *f = fx_new(T0 + 1800);
        const char *yaml = "connection: " URI "\n"
                           "timezone: UTC\n"
                           "policies:\n"
                           "  - name: p\n"
                           "    schedule: hourly\n"
                           "    catch_up: false\n"
                           "    retention: {keep_last: 1}\n"
                           "  - name: q\n"
                           "    domains: {include: [dom-b]}\n"
                           "    schedule: daily\n"
                           "    retention: {keep_last: 1}\n";

        (void)state;
        add_domains(f, 2);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_run_once(f->s), 0);
        settle(f);
        assert_true(vs_scheduler_finished(f->s));
        /* catch_up does not matter to run --once: never snapshotted = due. */
        assert_int_equal(stats(f).created, 3);
        assert_int_equal(stats(f).failed, 0);
        fx_stop_scheduler(f);

        /* Again at 10:40: nothing due. */
        advance_by(f, 600);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_run_once(f->s), 0);
        settle(f);
        assert_int_equal(stats(f).created, 0);
        fx_stop_scheduler(f);

        /* At 11:00 the hourly one is due again and prunes to keep_last 1. */
        advance_to(f, T0 + 3600);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_run_once(f->s), 0);
        settle(f);
        assert_int_equal(stats(f).created, 2);
        assert_int_equal(stats(f).pruned, 2);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "p"), 1);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-b", "q"), 1);
        fx_free(f);
}

static void
test_reload_valid_and_invalid(void **state)
{
        fx *f = fx_new(T0);
        const vs_config *before;

        (void)state;
        add_domains(f, 1);
        f->signals = true;
        write_file(f->cfg_path, minutely_yaml);
        fx_scheduler(f, minutely_yaml, f->cfg_path);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        before = vs_scheduler_config(f->s);
        assert_int_equal(stats(f).next_deadline, T0 + 60);

        /* Broken file + SIGHUP: rejected, the old policies stay. */
        write_file(f->cfg_path, "policies:\n  - name: p\n    schedule: every 1x\n    retention: {keep_last: 2}\n");
        raise(SIGHUP);
        while (stats(f).reload_failures == 0)
                uv_run(&f->loop, UV_RUN_ONCE);
        assert_ptr_equal(vs_scheduler_config(f->s), before);
        assert_int_equal(stats(f).reloads, 0);
        assert_non_null(strstr(events(f, "notice").last_message, "rejected"));
        advance_by(f, 60);
        assert_int_equal(rows(f, "present", "dom-a"), 1);

        /* A job in flight when a valid file arrives finishes under the old one. */
        vs_fake_block(f->fake, VS_FAKE_CREATE);
        vs_clock_advance(f->clock, 60000);
        run_until_jobs(f, 1);
        vs_fake_wait_blocked(f->fake, VS_FAKE_CREATE, 1);
        write_file(f->cfg_path, "connection: " URI "\n"
                                "timezone: UTC\n"
                                "policies:\n"
                                "  - name: q\n"
                                "    schedule: every 5m\n"
                                "    catch_up: false\n"
                                "    retention: {keep_last: 1}\n");
        raise(SIGHUP);
        while (stats(f).reloads == 0)
                uv_run(&f->loop, UV_RUN_ONCE);
        assert_ptr_not_equal(vs_scheduler_config(f->s), before);
        assert_string_equal(vs_scheduler_config(f->s)->policies[0].name, "q");
        assert_int_equal(events(f, "reloaded").n, 1);
        vs_fake_release(f->fake, VS_FAKE_CREATE);
        settle(f);
        /* The old job ran to the end under policy p (keep_last 2). */
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "p"), 2);
        /* The new schedule: every 5m from 10:02 -> 10:05. */
        assert_int_equal(stats(f).next_deadline, T0 + 300);
        advance_to(f, T0 + 300);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "q"), 1);
        fx_free(f);
}

static void
test_drain_on_sigterm(void **state)
{
        fx *f = fx_new(T0);
        const char *yaml = "connection: " URI "\n"
                           "timezone: UTC\n"
                           "max_concurrent: 1\n"
                           "policies:\n"
                           "  - name: p\n"
                           "    schedule: every 1m\n"
                           "    catch_up: false\n"
                           "    retention: {keep_last: 2}\n";

        (void)state;
        add_domains(f, 3);
        f->signals = true;
        f->grace_ms = 30000;
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        vs_fake_block(f->fake, VS_FAKE_CREATE);
        vs_clock_advance(f->clock, 60000);
        run_until_jobs(f, 3);
        vs_fake_wait_blocked(f->fake, VS_FAKE_CREATE, 1);
        assert_int_equal(stats(f).queued, 2);

        raise(SIGTERM);
        while (stats(f).queued > 0)
                uv_run(&f->loop, UV_RUN_ONCE);
        /* Nothing new starts; the two queued jobs are recorded as cancelled. */
        assert_int_equal(stats(f).cancelled, 2);
        assert_int_equal(rows(f, "skipped", NULL), 2);
        assert_int_equal(events(f, "cancelled").n, 2);
        assert_false(vs_scheduler_finished(f->s));
        /* The running one finishes within the grace period and is recorded. */
        vs_fake_release(f->fake, VS_FAKE_CREATE);
        settle(f);
        assert_int_equal(rows(f, "present", NULL), 1);
        assert_true(vs_scheduler_finished(f->s));
        assert_int_equal(events(f, "stopped").n, 1);
        /* No timer is left armed. */
        assert_int_equal(vs_clock_next_deadline(f->clock), INT64_MAX);
        fx_free(f);
}

static void
test_drain_grace_cancels(void **state)
{
        fx *f = fx_new(T0);
        char yaml[2048], post[256], *log;

        (void)state;
        add_domains(f, 1);
        f->grace_ms = 5000;
        snprintf(post, sizeof(post), "echo $VIRTSNAP_PHASE $1 >> %s", f->hook_log);
        hook_yaml(yaml, sizeof(yaml), f, "sleep 60", post, "5m");
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        vs_clock_advance(f->clock, 3600 * 1000);
        while (stats(f).hooks_running == 0)
                uv_run(&f->loop, UV_RUN_ONCE);
        vs_scheduler_stop(f->s);
        assert_false(vs_scheduler_finished(f->s));
        /* The pre hook would run for 60 s; at the end of the grace it is killed. */
        advance_by(f, 5);
        assert_true(vs_scheduler_finished(f->s));
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 0);
        assert_int_equal(rows(f, "failed", "dom-a"), 1);
        assert_string_equal(newest_row(f, "failed", "dom-a").last_error, "cancelled: the daemon is stopping");
        assert_int_equal(events(f, "cancelled").n, 1);
        /* A hook we killed did not fail; the job was cancelled, not failed. */
        assert_int_equal(events(f, "hook-failed").n, 0);
        assert_int_equal(stats(f).cancelled, 1);
        assert_int_equal(stats(f).failed, 0);
        assert_non_null(strstr(events(f, "stopped").last_message, "0 failed, 0 skipped, 1 cancelled"));
        log = read_file(f->hook_log);
        assert_string_equal(log, "post dom-a\n");
        free(log);
        fx_free(f);
}

/* The newest attempt of a domain: its slot and origin. */
typedef struct attempt_ctx {
        unsigned n;
        char consistency[32];
        int64_t scheduled;
        vs_origin origin;
        char hook_error[256];
} attempt_ctx;

static int
newest_attempt_row(const vs_store_row *row, void *userdata)
{
        attempt_ctx *c = userdata;

        if (c->n++ == 0) {
                snprintf(c->consistency, sizeof(c->consistency), "%s", row->consistency ? row->consistency : "");
                c->scheduled = row->scheduled;
                c->origin = row->origin;
                snprintf(c->hook_error, sizeof(c->hook_error), "%s", row->hook_error ? row->hook_error : "");
        }
        return 0;
}

static attempt_ctx
newest_attempt(fx *f, const char *domain)
{
        vs_store_filter flt = { .since = INT64_MIN, .until = INT64_MAX, .domain = domain };
        attempt_ctx c = { 0 };
        vs_err e = { 0 };

        assert_int_equal(vs_store_query_history(f->store, &flt, newest_attempt_row, &c, &e), 0);
        return c;
}

static const char *const catch_up_yaml = "connection: " URI "\n"
                                         "timezone: UTC\n"
                                         "policies:\n"
                                         "  - name: p\n"
                                         "    schedule: hourly\n"
                                         "    catch_up: true\n"
                                         "    retention: {keep_last: 10}\n";

/* Down from 10:00 to 13:59:59: the catch-up at 13:59:59 serves the missed
 * 13:00 slot and the 14:00 one a second later; 15:00 fires as usual. */
static void
test_catch_up_serves_next_slot(void **state)
{
        fx *f = fx_new(T0);
        attempt_ctx a;

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, catch_up_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(rows(f, "present", "dom-a"), 1);
        assert_int_equal(newest_attempt(f, "dom-a").origin, VS_ORIGIN_CATCH_UP);
        fx_stop_scheduler(f);

        advance_to(f, T0 + 4 * 3600 - 1);
        fx_scheduler(f, catch_up_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        a = newest_attempt(f, "dom-a");
        assert_int_equal(a.origin, VS_ORIGIN_CATCH_UP);
        assert_int_equal(a.scheduled, T0 + 3 * 3600); /* the missed 13:00 slot */
        advance_to(f, T0 + 4 * 3600 + 30);
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        assert_int_equal(rows(f, "skipped", "dom-a"), 0);
        assert_non_null(strstr(events(f, "notice").last_message,
                               "the slot of 2026-01-05T14:00:00Z is served by the catch-up snapshot taken at "
                               "2026-01-05T13:59:59Z"));
        advance_to(f, T0 + 5 * 3600 + 30);
        assert_int_equal(rows(f, "present", "dom-a"), 3);
        a = newest_attempt(f, "dom-a");
        assert_int_equal(a.origin, VS_ORIGIN_SCHEDULE);
        assert_int_equal(a.scheduled, T0 + 5 * 3600);
        fx_free(f);
}

/* Back at 13:20: the catch-up serves 13:00, and 14:00 (40 minutes later,
 * more than half the period) is a slot of its own. */
static void
test_catch_up_far_from_next_slot(void **state)
{
        fx *f = fx_new(T0);

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, catch_up_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        fx_stop_scheduler(f);

        advance_to(f, T0 + 3 * 3600 + 1200);
        fx_scheduler(f, catch_up_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        advance_to(f, T0 + 4 * 3600 + 30);
        assert_int_equal(rows(f, "present", "dom-a"), 3);
        assert_int_equal(newest_attempt(f, "dom-a").origin, VS_ORIGIN_SCHEDULE);
        assert_int_equal(events(f, "notice").n, 0);
        fx_free(f);
}

/* A catch-up that failed serves nothing: the next slot fires. */
static void
test_failed_catch_up_serves_nothing(void **state)
{
        fx *f = fx_new(T0);

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, catch_up_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        fx_stop_scheduler(f);

        advance_to(f, T0 + 4 * 3600 - 10);
        vs_fake_fail(f->fake, VS_FAKE_CREATE, 1, 1, EINVAL, false, "unsupported configuration");
        fx_scheduler(f, catch_up_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(rows(f, "failed", "dom-a"), 1);
        advance_to(f, T0 + 4 * 3600 + 30);
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        assert_int_equal(newest_attempt(f, "dom-a").origin, VS_ORIGIN_SCHEDULE);
        fx_free(f);
}

/* A failing post hook: the snapshot exists (present), the attempt carries
 * the hook's failure, a hook-failed event says so, and the hook was told
 * the job's result. */
static void
test_post_hook_failure_recorded(void **state)
{
        fx *f = fx_new(T0);
        char yaml[2048], post[256], *log;
        attempt_ctx a;

        (void)state;
        add_domains(f, 1);
        snprintf(post, sizeof(post), "echo $VIRTSNAP_PHASE $VIRTSNAP_RESULT \"${{VIRTSNAP_ERROR-unset}}\" >> %s; exit 4",
                 f->hook_log);
        hook_yaml(yaml, sizeof(yaml), f, "true", post, "30s");
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        advance_to(f, T0 + 3600);
        assert_int_equal(rows(f, "present", "dom-a"), 1);
        a = newest_attempt(f, "dom-a");
        assert_string_equal(a.hook_error, "post hook /bin/sh failed: exit status 4");
        assert_int_equal(events(f, "hook-failed").n, 1);
        assert_int_equal(events(f, "notice").n, 0);
        assert_int_equal(stats(f).failed, 1);
        log = read_file(f->hook_log);
        assert_string_equal(log, "post created unset\n");
        free(log);
        fx_free(f);
}

typedef struct conn_ctx {
        unsigned n, failures;
        bool up;
        int64_t since;
} conn_ctx;

static int
collect_conn_row(const vs_store_connection *c, void *userdata)
{
        conn_ctx *o = userdata;

        o->n++;
        o->up = c->up;
        o->failures = c->failures;
        o->since = c->since;
        return 0;
}

static conn_ctx
conn_state(fx *f)
{
        conn_ctx c = { 0 };
        vs_err e = { 0 };

        assert_int_equal(vs_store_query_connections(f->store, collect_conn_row, &c, &e), 0);
        return c;
}

/* An hour of outage: every failed attempt counted in the history, one
 * `disconnected` event, a backoff that doubles from 1 s and stops at 5 min
 * (attempts at +1, +3, +7, ... +511 s, then every 300 s), one `reconnected`
 * event when it is back. */
static void
test_unreachable_is_loud(void **state)
{
        fx *f = fx_new(T0);
        unsigned before;
        conn_ctx c;

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        c = conn_state(f);
        assert_int_equal(c.n, 1);
        assert_true(c.up);
        before = vs_fake_reconnects(f->fake);

        vs_fake_set_down(f->fake, true);
        settle(f);
        for (int i = 0; i < 3600; i++)
                advance_by(f, 1);
        c = conn_state(f);
        assert_false(c.up);
        assert_int_equal(c.since, T0);
        /* The first attempt is the re-list after the close (a reconnect);
         * then +1, +3, +7, +15, +31, +63, +127, +255, +511 and every 300 s
         * after: 511 + 300 * 10 = 3511 is the last before +3600.  The
         * minutely firings in between do not cut the backoff short. */
        assert_int_equal(vs_fake_reconnects(f->fake) - before, 1 + 9 + 10);
        assert_int_equal(c.failures, 1 + 9 + 10);
        assert_int_equal(events(f, "disconnected").n, 1);
        assert_int_equal(stats(f).connections_up, 0);

        vs_fake_set_down(f->fake, false);
        for (int i = 0; i < 301 && !conn_state(f).up; i++)
                advance_by(f, 1);
        c = conn_state(f);
        assert_true(c.up);
        assert_int_equal(c.failures, 0);
        assert_int_equal(events(f, "reconnected").n, 1);
        assert_non_null(strstr(events(f, "reconnected").last_message, "after 20 failed attempts"));
        fx_free(f);
}

static unsigned
rows_of_policy(fx *f, const char *domain, const char *policy, const char *state)
{
        vs_store_filter flt = { .since = INT64_MIN, .until = INT64_MAX, .domain = domain, .policy = policy };
        count_ctx c = { .state = state };
        vs_err e = { 0 };

        assert_int_equal(vs_store_query_history(f->store, &flt, count_row, &c, &e), 0);
        return c.n;
}

/* The daemon's reconcile stays in the config's scope: a marked snapshot is
 * adopted only for a (domain, policy) the config covers (or hands over
 * through adopt_from); the others are foreign-marked and left alone; live
 * rows of the renamed policy move to its heir and age out under its
 * retention. */
static void
test_reconcile_scope_and_adopt_from(void **state)
{
        fx *f = fx_new(T0 + 600);
        const char *yaml = "connection: " URI "\n"
                           "timezone: UTC\n"
                           "policies:\n"
                           "  - name: p\n"
                           "    schedule: hourly\n"
                           "    catch_up: false\n"
                           "    adopt_from: [old]\n"
                           "    domains: {include: [dom-a]}\n"
                           "    retention: {keep_last: 2}\n";
        vs_store_attempt a = {
                .connection = URI, .domain_uuid = UUID_A, .domain_name = "dom-a", .policy = "old",
                .snapshot = "old-2", .type = "internal", .scheduled = T0 - 3600, .started = T0 - 3600,
        };
        vs_err e = { 0 };
        int64_t id;

        (void)state;
        add_domains(f, 2);
        assert_int_equal(vs_store_begin_create(f->store, &a, &id, &e), 0);
        assert_int_equal(vs_store_finish_create(f->store, id, NULL, "crash", T0 - 3599, T0 - 3598, &e), 0);
        assert_int_equal(vs_fake_add_snapshot(f->fake, "dom-a", "old-2", T0 - 3599, "old"), 0);
        assert_int_equal(vs_fake_add_snapshot(f->fake, "dom-a", "old-1", T0 - 7200, "old"), 0);
        assert_int_equal(vs_fake_add_snapshot(f->fake, "dom-a", "p-lost", T0 - 1800, "p"), 0);
        assert_int_equal(vs_fake_add_snapshot(f->fake, "dom-a", "other-1", T0 - 1800, "other"), 0);
        assert_int_equal(vs_fake_add_snapshot(f->fake, "dom-b", "p-b", T0 - 1800, "p"), 0);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        /* old-2 handed over, old-1 adopted by the heir, p-lost adopted. */
        assert_int_equal(rows_of_policy(f, "dom-a", "p", "present"), 3);
        assert_int_equal(rows_of_policy(f, "dom-a", "old", "present"), 0);
        assert_int_equal(events(f, "handed-over").n, 1);
        assert_int_equal(events(f, "adopted").n, 2);
        /* dom-b is not selected by p, policy `other` is not in the file. */
        assert_int_equal(rows(f, NULL, "dom-b"), 0);
        assert_int_equal(rows_of_policy(f, "dom-a", "other", NULL), 0);

        /* 11:00: p takes one and keeps 2 of the 4 it now holds. */
        advance_to(f, T0 + 3600 + 30);
        assert_int_equal(rows_of_policy(f, "dom-a", "p", "present"), 2);
        assert_int_equal(rows_of_policy(f, "dom-a", "p", "deleted"), 2);
        assert_false(vs_fake_has_snapshot(f->fake, "dom-a", "old-1"));
        assert_false(vs_fake_has_snapshot(f->fake, "dom-a", "old-2"));
        /* Out of scope: never touched. */
        assert_true(vs_fake_has_snapshot(f->fake, "dom-a", "other-1"));
        assert_true(vs_fake_has_snapshot(f->fake, "dom-b", "p-b"));
        fx_free(f);
}

/* A reconnect: the host is back at about 11:48; the catch-up then serves
 * the 11:00 slot lost to the outage and the 12:00 one; 13:00 fires. */
static void
test_catch_up_after_reconnect(void **state)
{
        fx *f = fx_new(T0);
        const char *yaml = "connection: " URI "\n"
                           "timezone: UTC\n"
                           "policies:\n"
                           "  - name: p\n"
                           "    schedule: hourly\n"
                           "    catch_up: true\n"
                           "    snapshot: {type: internal, timeout: 1m}\n"
                           "    retention: {keep_last: 10}\n";
        attempt_ctx a;

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(rows(f, "present", "dom-a"), 1);
        advance_to(f, T0 + 3000);
        vs_fake_set_down(f->fake, true);
        settle(f);
        while (vs_clock_now(f->clock) < T0 + 3600 + 2700) /* to 11:45, timers firing on the way */
                advance_by(f, 5);
        assert_int_equal(rows(f, "failed", "dom-a"), 1); /* the 11:00 job, as transient */
        vs_fake_set_down(f->fake, false);
        while (conn_state(f).up == false)
                advance_by(f, 1);
        settle(f);
        /* back less than half an hour before 12:00 */
        assert_true(vs_clock_now(f->clock) > T0 + 2 * 3600 - 1800 && vs_clock_now(f->clock) < T0 + 2 * 3600);
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        a = newest_attempt(f, "dom-a");
        assert_int_equal(a.origin, VS_ORIGIN_CATCH_UP);
        assert_int_equal(a.scheduled, T0 + 3600);
        advance_to(f, T0 + 2 * 3600 + 30);
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        advance_to(f, T0 + 3 * 3600 + 30);
        assert_int_equal(rows(f, "present", "dom-a"), 3);
        fx_free(f);
}

/* A shut-off domain under quiesce: required: the snapshot is `offline`
 * (clean disks), not `quiesced` (no freeze took place) nor crash-consistent,
 * and a notice says why the requirement is met. */
static void
test_offline_satisfies_quiesce(void **state)
{
        fx *f = fx_new(T0);
        const char *yaml = "connection: " URI "\n"
                           "timezone: UTC\n"
                           "policies:\n"
                           "  - name: p\n"
                           "    schedule: hourly\n"
                           "    snapshot: {type: disk-only, quiesce: required}\n"
                           "    retention: {keep_last: 5}\n";

        (void)state;
        assert_int_equal(vs_fake_add_domain(f->fake, "dom-off", UUID_A, VS_DOMAIN_SHUTOFF, NULL), 0);
        assert_int_equal(vs_fake_add_domain(f->fake, "dom-on", UUID_B, VS_DOMAIN_RUNNING, NULL), 0);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_string_equal(newest_attempt(f, "dom-off").consistency, "offline");
        assert_string_equal(newest_attempt(f, "dom-on").consistency, "quiesced");
        assert_int_equal(events(f, "notice").n, 1);
        assert_string_equal(events(f, "notice").last_message,
                            "domain was shut off: an offline snapshot (clean disks, no freeze needed) satisfies "
                            "quiesce: required");
        fx_free(f);
}

/* A prune that meets a snapshot libvirt cannot delete: recorded undeletable
 * and counted, so `snapshot` and `run --once` can exit non-zero. */
static void
test_undeletable_counted(void **state)
{
        fx *f = fx_new(T0);

        (void)state;
        add_domains(f, 1);
        assert_int_equal(vs_fake_add_snapshot(f->fake, "dom-a", "p-old", T0 - 7200, "p"), 0);
        assert_int_equal(vs_fake_set_undeletable(f->fake, "dom-a", "p-old"), 0);
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        for (int i = 0; i < 3; i++)
                advance_by(f, 60);
        assert_true(vs_fake_has_snapshot(f->fake, "dom-a", "p-old"));
        assert_true(stats(f).undeletable >= 1);
        assert_int_equal(events(f, "undeletable").n, stats(f).undeletable);
        assert_int_equal(stats(f).failed, 0);
        fx_free(f);
}

/* A policy renamed in a reloaded file: its heir takes the snapshots over
 * without a restart. */
static void
test_reload_hands_over(void **state)
{
        fx *f = fx_new(T0 + 600);
        const char *old_yaml = "connection: " URI "\n"
                               "timezone: UTC\n"
                               "policies:\n"
                               "  - name: old\n"
                               "    schedule: hourly\n"
                               "    catch_up: false\n"
                               "    retention: {keep_last: 5}\n";
        const char *new_yaml = "connection: " URI "\n"
                               "timezone: UTC\n"
                               "policies:\n"
                               "  - name: new\n"
                               "    schedule: hourly\n"
                               "    catch_up: false\n"
                               "    adopt_from: [old]\n"
                               "    retention: {keep_last: 5}\n";
        vs_config *cfg = NULL;

        (void)state;
        add_domains(f, 1);
        assert_int_equal(vs_fake_add_snapshot(f->fake, "dom-a", "old-1", T0 - 3600, "old"), 0);
        fx_scheduler(f, old_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(rows_of_policy(f, "dom-a", "old", "present"), 1);
        assert_int_equal(vs_config_load_string("new.yaml", new_yaml, strlen(new_yaml), &cfg, NULL), 0);
        assert_int_equal(vs_scheduler_replace_config(f->s, cfg), 0);
        settle(f);
        assert_int_equal(rows_of_policy(f, "dom-a", "old", "present"), 0);
        assert_int_equal(rows_of_policy(f, "dom-a", "new", "present"), 1);
        assert_int_equal(events(f, "handed-over").n, 1);
        fx_free(f);
}

static void
test_connection_down_and_back(void **state)
{
        fx *f = fx_new(T0);
        const char *yaml = "connection: " URI "\n"
                           "timezone: UTC\n"
                           "policies:\n"
                           "  - name: p\n"
                           "    schedule: every 1m\n"
                           "    catch_up: true\n"
                           "    snapshot: {type: internal, timeout: 20s}\n"
                           "    retention: {keep_last: 10}\n";

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        /* Catch-up at start (never snapshotted). */
        assert_int_equal(rows(f, "present", NULL), 1);
        assert_int_equal(stats(f).connections_up, 1);

        vs_fake_set_down(f->fake, true);
        settle(f);
        advance_to(f, T0 + 60);
        /* The firing's job fails as transient, retried until its timeout. */
        for (int i = 0; i < 25; i++)
                advance_by(f, 1);
        assert_int_equal(rows(f, "failed", "dom-a"), 1);
        assert_int_equal(stats(f).connections_up, 0);

        /* Back: the next reconnect attempt succeeds, reconcile and catch up. */
        vs_fake_set_down(f->fake, false);
        for (int i = 0; i < 70 && stats(f).connections_up == 0; i++)
                advance_by(f, 1);
        assert_int_equal(stats(f).connections_up, 1);
        assert_true(vs_fake_reconnects(f->fake) >= 1);
        /* The 10:01 slot was lost to the outage; catch-up takes one now. */
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        advance_to(f, T0 + 180);
        assert_int_equal(rows(f, "present", "dom-a"), 3);
        fx_free(f);
}

static void
test_domain_events_replan(void **state)
{
        fx *f = fx_new(T0);

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(stats(f).planned, 1);
        /* A define event makes the scheduler re-list: the new domain is planned. */
        assert_int_equal(vs_fake_add_domain(f->fake, "dom-new", UUID_E, VS_DOMAIN_RUNNING, NULL), 0);
        while (stats(f).planned < 2)
                uv_run(&f->loop, UV_RUN_ONCE);
        settle(f);
        advance_by(f, 60);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-new", "p"), 1);
        /* Undefined between firings: the firing is dropped, nothing recorded. */
        assert_int_equal(vs_fake_remove_domain(f->fake, "dom-new"), 0);
        while (stats(f).planned > 1)
                uv_run(&f->loop, UV_RUN_ONCE);
        settle(f);
        advance_by(f, 60);
        assert_int_equal(rows(f, NULL, "dom-new"), 1);
        assert_int_equal(rows(f, "present", "dom-a"), 2);
        fx_free(f);
}

/* ---- ad-hoc snapshots with a lifetime (the daemon's control requests) ------------ */

static const char *const hourly_yaml =
        "connection: " URI "\n"
        "timezone: UTC\n"
        "policies:\n"
        "  - name: p\n"
        "    schedule: every 1h\n"
        "    catch_up: false\n"
        "    snapshot: {type: internal}\n"
        "    retention: {keep_last: 1}\n"
        "  - name: keeper\n"
        "    schedule: every 1h\n"
        "    catch_up: false\n"
        "    prune: false\n"
        "    domains: {include: [nothing-matches]}\n"
        "    retention: {keep_last: 1}\n";

typedef struct adhoc_seen {
        unsigned calls;
        bool ok;
        char snapshot[128], policy[40], error[256];
        int64_t expires;
} adhoc_seen;

static void
on_adhoc(const vs_adhoc_result *r, void *data)
{
        adhoc_seen *a = data;

        a->calls++;
        a->ok = r->ok;
        a->expires = r->expires;
        snprintf(a->snapshot, sizeof(a->snapshot), "%s", r->snapshot ? r->snapshot : "");
        snprintf(a->policy, sizeof(a->policy), "%s", r->policy ? r->policy : "");
        snprintf(a->error, sizeof(a->error), "%s", r->error ? r->error : "");
}

typedef struct ttl_row {
        char snapshot[128], state[16], note[64], who[64], reason[256];
        int64_t expires;
} ttl_row;

static int
find_ttl_row(const vs_store_row *row, void *userdata)
{
        ttl_row *t = userdata;

        if (row->expires == 0)
                return 0;
        snprintf(t->snapshot, sizeof(t->snapshot), "%s", row->snapshot);
        snprintf(t->state, sizeof(t->state), "%s", vs_snap_state_to_string(row->state));
        snprintf(t->note, sizeof(t->note), "%s", row->note ? row->note : "");
        snprintf(t->who, sizeof(t->who), "%s", row->requested_by ? row->requested_by : "");
        snprintf(t->reason, sizeof(t->reason), "%s", row->delete_reason ? row->delete_reason : "");
        t->expires = row->expires;
        return 1;
}

static ttl_row
the_ttl_row(fx *f)
{
        vs_store_filter flt = { .since = INT64_MIN, .until = INT64_MAX };
        ttl_row t = { 0 };
        vs_err e = { 0 };

        assert_int_equal(vs_store_query_history(f->store, &flt, find_ttl_row, &t, &e), 1);
        return t;
}

static void
test_adhoc_ttl_daemon(void **state)
{
        fx *f = fx_new(T0 + 60);
        adhoc_seen a = { 0 }, b = { 0 }, c = { 0 };
        const char *policy = NULL;
        vs_err e = { 0 };
        ttl_row t;

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, hourly_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);

        /* Refused before anything is queued, with the reason. */
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-a" }, on_adhoc, &a,
                                                       NULL, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "policy is required"));
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-zz", .ttl = 60 },
                                                       on_adhoc, &a, NULL, &e), -ENOENT);
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-a", .policy = "no" },
                                                       on_adhoc, &a, NULL, &e), -ENOENT);
        assert_int_equal(vs_scheduler_request_snapshot(f->s,
                                                       &(vs_adhoc_request){ .domain = "dom-a", .policy = "keeper",
                                                                            .ttl = 60 },
                                                       on_adhoc, &a, NULL, &e), -EPERM);
        assert_non_null(strstr(e.msg, "prune: false"));
        assert_int_equal(a.calls, 0);

        /* --ttl 10m without a policy: the covering one (p), kept 10 minutes. */
        assert_int_equal(vs_scheduler_request_snapshot(f->s,
                                                       &(vs_adhoc_request){ .domain = "dom-a", .ttl = 600,
                                                                            .note = "before the upgrade",
                                                                            .requested_by = "uid 0 (root)" },
                                                       on_adhoc, &a, &policy, &e), 0);
        assert_string_equal(policy, "p");
        settle(f);
        assert_int_equal(a.calls, 1);
        assert_true(a.ok);
        assert_string_equal(a.policy, "p");
        assert_int_equal(a.expires, T0 + 60 + 600);
        t = the_ttl_row(f);
        assert_string_equal(t.state, "present");
        assert_string_equal(t.snapshot, a.snapshot);
        assert_string_equal(t.note, "before the upgrade");
        assert_string_equal(t.who, "uid 0 (root)");
        assert_int_equal(t.expires, T0 + 660);

        /* Retention (keep_last 1) does not count it: two plain ad-hoc
         * snapshots later, the newer plain one and the TTL one are held. */
        advance_by(f, 1);
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-a", .policy = "p" },
                                                       on_adhoc, &b, NULL, &e), 0);
        settle(f);
        advance_by(f, 1);
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-a", .policy = "p" },
                                                       on_adhoc, &c, NULL, &e), 0);
        settle(f);
        assert_true(b.ok && c.ok);
        assert_int_equal(b.expires, 0);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "p"), 2);
        assert_true(vs_fake_has_snapshot(f->fake, "dom-a", a.snapshot));
        assert_true(vs_fake_has_snapshot(f->fake, "dom-a", c.snapshot));
        assert_false(vs_fake_has_snapshot(f->fake, "dom-a", b.snapshot));

        /* The daemon's one timer stands at the lifetime's end ... */
        advance_to(f, T0 + 659);
        assert_true(vs_fake_has_snapshot(f->fake, "dom-a", a.snapshot));
        /* ... and then the snapshot goes, with the lifetime as the reason. */
        advance_to(f, T0 + 660);
        settle(f);
        assert_false(vs_fake_has_snapshot(f->fake, "dom-a", a.snapshot));
        assert_true(vs_fake_has_snapshot(f->fake, "dom-a", c.snapshot));
        t = the_ttl_row(f);
        assert_string_equal(t.state, "deleted");
        assert_non_null(strstr(t.reason, "lifetime ended at"));
        assert_int_equal(a.calls, 1);

        /* `prune` through the daemon: one job per matched series (keeper
         * matches no domain), each reported. */
        {
                adhoc_seen pr = { 0 };
                unsigned jobs = 9, down = 9;

                assert_int_equal(vs_scheduler_request_prune(f->s, "nope", NULL, on_adhoc, &pr, &jobs, &down, &e),
                                 -ENOENT);
                assert_int_equal(vs_scheduler_request_prune(f->s, NULL, NULL, on_adhoc, &pr, &jobs, &down, &e), 0);
                assert_int_equal(jobs, 1);
                assert_int_equal(down, 0);
                settle(f);
                assert_int_equal(pr.calls, 1);
                assert_true(pr.ok);
                assert_int_equal(vs_scheduler_request_prune(f->s, NULL, "dom-zz", on_adhoc, &pr, &jobs, &down, &e), 0);
                assert_int_equal(jobs, 0);
        }
        fx_stop_scheduler(f);
        fx_free(f);
}

typedef struct revert_seen {
        unsigned calls;
        bool ok;
        char from[64], safety[128], policy[40], state[16], error[512];
        int64_t expires;
} revert_seen;

static void
on_revert(const vs_revert_result *r, void *data)
{
        revert_seen *v = data;

        v->calls++;
        v->ok = r->ok;
        v->expires = r->safety_expires;
        snprintf(v->from, sizeof(v->from), "%s", r->from ? r->from : "");
        snprintf(v->safety, sizeof(v->safety), "%s", r->safety ? r->safety : "");
        snprintf(v->policy, sizeof(v->policy), "%s", r->policy ? r->policy : "");
        snprintf(v->state, sizeof(v->state), "%s", r->state ? r->state : "");
        snprintf(v->error, sizeof(v->error), "%s", r->error ? r->error : "");
}

/* `revert` through the daemon: a safety snapshot (internal, 7 d) through
 * the job queue, then the revert, recorded; refused before anything when
 * the safety snapshot would be external; nothing reverted when the safety
 * snapshot fails. */
static void
test_revert_daemon(void **state)
{
        static const char *const yaml =
                "connection: " URI "\n"
                "timezone: UTC\n"
                "policies:\n"
                "  - name: p\n"
                "    schedule: every 1h\n"
                "    catch_up: false\n"
                "    snapshot: {type: internal}\n"
                "    retention: {keep_last: 5}\n"
                "  - name: ext\n"
                "    schedule: every 1h\n"
                "    catch_up: false\n"
                "    domains: {include: [nothing-matches]}\n"
                "    snapshot: {type: disk-only}\n"
                "    retention: {keep_last: 1}\n";
        fx *f = fx_new(T0 + 60);
        revert_seen v = { 0 }, w = { 0 }, x = { 0 }, dry = { 0 };
        char *cur;
        vs_err e = { 0 };
        ev_ctx ev;

        (void)state;
        add_domains(f, 1);
        assert_int_equal(vs_fake_add_snapshot(f->fake, "dom-a", "before", T0 - 100, "p"), 0);
        assert_int_equal(vs_fake_add_snapshot(f->fake, "dom-a", "later", T0 - 50, NULL), 0);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);

        assert_int_equal(vs_scheduler_request_revert(f->s, &(vs_revert_request){ .domain = "dom-zz", .snapshot = "x" },
                                                     on_revert, &v, &e), -ENOENT);
        /* A dry run checks and changes nothing. */
        assert_int_equal(vs_scheduler_request_revert(f->s,
                                                     &(vs_revert_request){ .domain = "dom-a", .snapshot = "before",
                                                                           .dry_run = true },
                                                     on_revert, &dry, &e), 0);
        settle(f);
        assert_int_equal(dry.calls, 1);
        assert_true(dry.ok);
        assert_string_equal(dry.from, "later");
        assert_string_equal(dry.policy, "p");
        assert_string_equal(dry.safety, "");
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_REVERT), 0);
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_CREATE), 0);

        assert_int_equal(vs_scheduler_request_revert(f->s,
                                                     &(vs_revert_request){ .domain = "dom-a", .snapshot = "before",
                                                                           .requested_by = "uid 0 (root)" },
                                                     on_revert, &v, &e), 0);
        settle(f);
        assert_int_equal(v.calls, 1);
        assert_true(v.ok);
        assert_string_equal(v.from, "later");
        assert_string_equal(v.policy, "p");
        assert_int_equal(v.expires, T0 + 60 + VS_REVERT_SAFETY_TTL);
        assert_true(vs_fake_has_snapshot(f->fake, "dom-a", v.safety));
        cur = vs_fake_current(f->fake, "dom-a");
        assert_string_equal(cur, "before");
        free(cur);
        assert_string_equal(the_ttl_row(f).note, "safety snapshot before revert to before");
        ev = events(f, "reverted");
        assert_int_equal(ev.n, 1);
        assert_non_null(strstr(ev.last_message, "reverted from later to before by uid 0 (root); safety snapshot "));
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_REVERT), 1);

        /* A disk-only safety snapshot would hide the internal target. */
        assert_int_equal(vs_scheduler_request_revert(f->s,
                                                     &(vs_revert_request){ .domain = "dom-a", .snapshot = "later",
                                                                           .policy = "ext" },
                                                     on_revert, &w, &e), 0);
        settle(f);
        assert_int_equal(w.calls, 1);
        assert_false(w.ok);
        assert_non_null(strstr(w.error, "the safety snapshot would be disk-only (policy ext)"));
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_REVERT), 1);

        /* The safety snapshot fails: nothing is reverted. */
        vs_fake_fail(f->fake, VS_FAKE_CREATE, 1, 1, EINVAL, false, "no space for the snapshot");
        assert_int_equal(vs_scheduler_request_revert(f->s,
                                                     &(vs_revert_request){ .domain = "dom-a", .snapshot = "later" },
                                                     on_revert, &x, &e), 0);
        settle(f);
        assert_int_equal(x.calls, 1);
        assert_false(x.ok);
        assert_non_null(strstr(x.error, "the safety snapshot failed"));
        assert_non_null(strstr(x.error, "nothing was reverted"));
        assert_int_equal(vs_fake_calls(f->fake, VS_FAKE_REVERT), 1);
        cur = vs_fake_current(f->fake, "dom-a");
        assert_string_equal(cur, "before");
        free(cur);

        /* Revert failing in libvirt: recorded as revert-failed. */
        vs_fake_fail(f->fake, VS_FAKE_REVERT, 1, 1, EIO, false, "QEMU said no");
        memset(&x, 0, sizeof(x));
        assert_int_equal(vs_scheduler_request_revert(f->s,
                                                     &(vs_revert_request){ .domain = "dom-a", .snapshot = "later",
                                                                           .no_safety = true },
                                                     on_revert, &x, &e), 0);
        settle(f);
        assert_false(x.ok);
        assert_non_null(strstr(x.error, "QEMU said no"));
        ev = events(f, "revert-failed");
        assert_int_equal(ev.n, 1);
        assert_non_null(strstr(ev.last_message, "no safety snapshot (--no-safety)"));
        fx_stop_scheduler(f);
        fx_free(f);
}

/* Right after start (socket activation starts the daemon with the request
 * that woke it), a request waits for the connection's first listing; one for
 * a connection that cannot be reached then hears why. */
static void
test_adhoc_before_first_listing(void **state)
{
        static const char *const yaml =
                "connection: " URI "\n"
                "timezone: UTC\n"
                "policies:\n"
                "  - name: p\n"
                "    schedule: every 1h\n"
                "    catch_up: false\n"
                "    retention: {keep_last: 1}\n"
                "  - name: far\n"
                "    connection: " URI2 "\n"
                "    schedule: every 1h\n"
                "    catch_up: false\n"
                "    retention: {keep_last: 1}\n";
        fx *f = fx_new(T0 + 60);
        adhoc_seen a = { 0 }, b = { 0 }, c = { 0 };
        const char *policy = "unset";
        vs_err e = { 0 };

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        /* No settle: the first listings are still in flight. */
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-a", .ttl = 60 },
                                                       on_adhoc, &a, &policy, &e), 0);
        assert_null(policy);
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-a", .policy = "far" },
                                                       on_adhoc, &b, NULL, &e), 0);
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-q", .policy = "p" },
                                                       on_adhoc, &c, NULL, &e), 0);
        assert_int_equal(a.calls + b.calls + c.calls, 0);
        settle(f);
        assert_int_equal(a.calls, 1);
        assert_true(a.ok);
        assert_string_equal(a.policy, "p");
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "p"), 1);
        assert_int_equal(b.calls, 1);
        assert_false(b.ok);
        assert_non_null(strstr(b.error, "is down"));
        assert_int_equal(c.calls, 1);
        assert_non_null(strstr(c.error, "no domain 'dom-q'"));
        fx_stop_scheduler(f);
        fx_free(f);
}

/* ---- notifications -------------------------------------------------------------- */

static unsigned
lines_in(const char *path)
{
        FILE *fp = fopen(path, "r");
        unsigned n = 0;
        int ch;

        if (!fp)
                return 0;
        while ((ch = fgetc(fp)) != EOF)
                n += ch == '\n';
        fclose(fp);
        return n;
}

/* Turn the loop until the notifier processes have written n lines (they
 * run outside the scheduler's in-flight count: nothing waits for them). */
static void
wait_lines(fx *f, const char *path, unsigned n)
{
        for (int i = 0; i < 1000 && lines_in(path) < n; i++) {
                uv_run(&f->loop, UV_RUN_NOWAIT);
                usleep(10000);
        }
        assert_int_equal(lines_in(path), n);
}

static char *
line_of(const char *path, unsigned k)
{
        static char buf[2048];
        FILE *fp = fopen(path, "r");

        assert_non_null(fp);
        for (unsigned i = 0; i <= k; i++)
                assert_non_null(fgets(buf, sizeof(buf), fp));
        fclose(fp);
        return buf;
}

static void
test_notify(void **state)
{
        char yaml[2048];
        fx *f = fx_new(T0 + 30);
        adhoc_seen a = { 0 };
        vs_err e = { 0 };
        char *l;

        (void)state;
        snprintf(yaml, sizeof(yaml),
                 "connection: " URI "\n"
                 "timezone: UTC\n"
                 "notify:\n"
                 "  command: [/bin/sh, -c, 'cat >>%s']\n"
                 /* Its timeout runs on the fake clock, which jumps a
                  * minute below while a notifier may still be exiting. */
                 "  timeout: 1d\n"
                 "policies:\n"
                 "  - name: p\n"
                 "    schedule: every 1m\n"
                 "    catch_up: false\n"
                 "    retention: {keep_last: 1}\n"
                 "  - name: quiet\n"
                 "    schedule: every 1d\n"
                 "    catch_up: false\n"
                 "    notify: {on: [recovered], command: [/bin/sh, -c, 'cat >>%s'], timeout: 1d}\n"
                 "    retention: {keep_last: 1}\n"
                 "  - name: broken\n"
                 "    schedule: every 1d\n"
                 "    catch_up: false\n"
                 "    notify: {command: [/bin/false]}\n"
                 "    retention: {keep_last: 1}\n"
                 "  - name: missing\n"
                 "    schedule: every 1d\n"
                 "    catch_up: false\n"
                 "    notify: {command: [/nonexistent/notifier]}\n"
                 "    retention: {keep_last: 1}\n",
                 f->hook_log, f->hook_log);
        add_domains(f, 1);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);

        /* failure: the event as JSON on the notifier's stdin. */
        vs_fake_fail(f->fake, VS_FAKE_CREATE, 1, 1, EIO, false, "disk on fire");
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-a", .policy = "p" },
                                                       on_adhoc, &a, NULL, &e), 0);
        settle(f);
        assert_false(a.ok);
        wait_lines(f, f->hook_log, 1);
        l = line_of(f->hook_log, 0);
        assert_non_null(strstr(l, "\"event\":\"failure\""));
        assert_non_null(strstr(l, "\"domain\":\"dom-a\""));
        assert_non_null(strstr(l, "\"policy\":\"p\""));
        assert_non_null(strstr(l, "disk on fire"));

        /* recovered: the next success of that series. */
        advance_by(f, 1);
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-a", .policy = "p" },
                                                       on_adhoc, &a, NULL, &e), 0);
        settle(f);
        assert_true(a.ok);
        wait_lines(f, f->hook_log, 2);
        assert_non_null(strstr(line_of(f->hook_log, 1), "\"event\":\"recovered\""));
        /* A success after a success says nothing. */
        advance_by(f, 1);
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-a", .policy = "p" },
                                                       on_adhoc, &a, NULL, &e), 0);
        settle(f);

        /* A policy's own notify replaces the file's: `quiet` wants only
         * recovered, so its failure is not sent. */
        vs_fake_fail(f->fake, VS_FAKE_CREATE, 1, 1, EIO, false, "quiet failure");
        assert_int_equal(vs_scheduler_request_snapshot(f->s,
                                                       &(vs_adhoc_request){ .domain = "dom-a", .policy = "quiet" },
                                                       on_adhoc, &a, NULL, &e), 0);
        settle(f);
        assert_false(a.ok);

        /* skipped: the next minute fires while the previous job still runs. */
        vs_fake_block(f->fake, VS_FAKE_CREATE);
        vs_clock_advance(f->clock, (T0 + 60) * 1000 - vs_clock_now_ms(f->clock));
        run_until_jobs(f, 1);
        vs_fake_wait_blocked(f->fake, VS_FAKE_CREATE, 1);
        vs_clock_advance(f->clock, 60000);
        while (stats(f).skipped == 0)
                uv_run(&f->loop, UV_RUN_ONCE);
        wait_lines(f, f->hook_log, 3);
        l = line_of(f->hook_log, 2);
        assert_non_null(strstr(l, "\"event\":\"skipped\""));
        assert_non_null(strstr(l, "still running"));
        vs_fake_release(f->fake, VS_FAKE_CREATE);
        settle(f);

        /* A notifier that fails, or cannot start, is recorded; the job is not
         * held up by it. */
        vs_fake_fail(f->fake, VS_FAKE_CREATE, 1, 2, EIO, false, "again");
        assert_int_equal(vs_scheduler_request_snapshot(f->s,
                                                       &(vs_adhoc_request){ .domain = "dom-a", .policy = "broken" },
                                                       on_adhoc, &a, NULL, &e), 0);
        settle(f);
        assert_int_equal(vs_scheduler_request_snapshot(f->s,
                                                       &(vs_adhoc_request){ .domain = "dom-a", .policy = "missing" },
                                                       on_adhoc, &a, NULL, &e), 0);
        settle(f);
        for (int i = 0; i < 1000 && events(f, "notify-failed").n < 2; i++) {
                uv_run(&f->loop, UV_RUN_NOWAIT);
                usleep(10000);
        }
        assert_int_equal(events(f, "notify-failed").n, 2);
        assert_int_equal(lines_in(f->hook_log), 3);
        fx_stop_scheduler(f);
        fx_free(f);
}

/* A request still queued when the daemon stops hears that it was not done. */
static void
test_adhoc_cancelled_on_stop(void **state)
{
        fx *f = fx_new(T0 + 60);
        adhoc_seen a = { 0 }, b = { 0 };
        vs_err e = { 0 };

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, hourly_yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        vs_fake_block(f->fake, VS_FAKE_CREATE);
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-a", .policy = "p" },
                                                       on_adhoc, &a, NULL, &e), 0);
        /* The second waits behind the first (one job per domain), not skipped. */
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-a", .policy = "p" },
                                                       on_adhoc, &b, NULL, &e), 0);
        while (vs_fake_held(f->fake, VS_FAKE_CREATE) < 1)
                uv_run(&f->loop, UV_RUN_NOWAIT);
        assert_int_equal(stats(f).running, 1);
        assert_int_equal(stats(f).queued, 1);
        vs_scheduler_stop(f->s);
        for (int i = 0; i < 100 && b.calls == 0; i++)
                uv_run(&f->loop, UV_RUN_NOWAIT);
        assert_int_equal(b.calls, 1);
        assert_int_equal(a.calls, 0);
        assert_false(b.ok);
        assert_non_null(strstr(b.error, "stopping"));
        vs_fake_release(f->fake, VS_FAKE_CREATE);
        settle(f);
        assert_int_equal(a.calls, 1);
        assert_true(a.ok);
        assert_int_equal(vs_scheduler_request_snapshot(f->s, &(vs_adhoc_request){ .domain = "dom-a", .policy = "p" },
                                                       on_adhoc, &a, NULL, &e), -ESHUTDOWN);
        fx_stop_scheduler(f);
        fx_free(f);
}

static void
test_snapshot_and_prune_now(void **state)
{
        fx *f = fx_new(T0);
        vs_err e = { 0 };

        (void)state;
        add_domains(f, 2);
        for (int i = 0; i < 3; i++) {
                fx_scheduler(f, minutely_yaml, NULL);
                assert_int_equal(vs_scheduler_snapshot_now(f->s, &(vs_adhoc_request){ .domain = "dom-a", .policy = "p" }, &e), 0);
                settle(f);
                assert_true(vs_scheduler_finished(f->s));
                assert_int_equal(stats(f).created, 1);
                fx_stop_scheduler(f);
                advance_by(f, 1);
        }
        /* Each ad-hoc snapshot is pruned by p's keep_last 2. */
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "p"), 2);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-b", "p"), 0);

        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_snapshot_now(f->s, &(vs_adhoc_request){ .domain = "dom-zz", .policy = "p" }, &e), 0);
        settle(f);
        assert_int_equal(stats(f).failed, 1);
        fx_stop_scheduler(f);

        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_snapshot_now(f->s, &(vs_adhoc_request){ .domain = "dom-a", .policy = "nope" }, &e), -ENOENT);
        fx_stop_scheduler(f);

        /* prune: nothing over the limit now, so nothing goes. */
        fx_scheduler(f, minutely_yaml, NULL);
        assert_int_equal(vs_scheduler_prune_now(f->s, "p", NULL, &e), 0);
        settle(f);
        assert_true(vs_scheduler_finished(f->s));
        assert_int_equal(stats(f).pruned, 0);
        assert_int_equal(stats(f).jobs_done, 2);
        fx_free(f);
}

static void
test_two_connections(void **state)
{
        fx *f = fx_new(T0);
        const char *yaml = "connection: " URI "\n"
                           "timezone: UTC\n"
                           "max_concurrent: 1\n"
                           "policies:\n"
                           "  - name: here\n"
                           "    schedule: every 1m\n"
                           "    catch_up: false\n"
                           "    snapshot: {timeout: 10s}\n"
                           "    retention: {keep_last: 5}\n"
                           "  - name: there\n"
                           "    connection: " URI2 "\n"
                           "    schedule: every 1m\n"
                           "    catch_up: false\n"
                           "    snapshot: {timeout: 10s}\n"
                           "    retention: {keep_last: 5}\n";

        (void)state;
        add_domains(f, 1);
        assert_int_equal(vs_fake_new(URI2, &f->fake2), 0);
        /* The same UUID on another host is another domain. */
        assert_int_equal(vs_fake_add_domain(f->fake2, "dom-a", UUID_A, VS_DOMAIN_RUNNING, NULL), 0);
        assert_int_equal(vs_fake_add_domain(f->fake2, "dom-b", UUID_B, VS_DOMAIN_RUNNING, NULL), 0);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        assert_int_equal(stats(f).connections, 2);
        assert_int_equal(stats(f).connections_up, 2);
        assert_int_equal(stats(f).planned, 3);

        /* Host a is down: its job fails as transient; host b is unaffected. */
        vs_fake_set_down(f->fake, true);
        settle(f);
        advance_to(f, T0 + 60);
        for (int i = 0; i < 12; i++)
                advance_by(f, 1);
        assert_int_equal(vs_fake_owned_count(f->fake2, "dom-a", "there"), 1);
        assert_int_equal(vs_fake_owned_count(f->fake2, "dom-b", "there"), 1);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "here"), 0);
        assert_int_equal(rows(f, "failed", NULL), 1);
        assert_int_equal(rows(f, "present", NULL), 2);
        assert_int_equal(stats(f).connections_up, 1);

        /* Each connection has its own max_concurrent 1: b's two jobs queue
         * behind each other, while a (back up) runs its own at once. */
        vs_fake_set_down(f->fake, false);
        for (int i = 0; i < 48; i++)
                advance_by(f, 1);
        assert_int_equal(stats(f).connections_up, 2);
        assert_int_equal(vs_fake_owned_count(f->fake2, "dom-a", "there"), 2);
        vs_fake_block(f->fake, VS_FAKE_CREATE);
        vs_fake_block(f->fake2, VS_FAKE_CREATE);
        vs_clock_advance(f->clock, (T0 + 180) * 1000 - vs_clock_now_ms(f->clock));
        run_until_jobs(f, 3);
        vs_fake_wait_blocked(f->fake, VS_FAKE_CREATE, 1);
        vs_fake_wait_blocked(f->fake2, VS_FAKE_CREATE, 1);
        assert_int_equal(stats(f).running, 2);
        assert_int_equal(stats(f).queued, 1);
        vs_fake_release(f->fake, VS_FAKE_CREATE);
        vs_fake_release(f->fake2, VS_FAKE_CREATE);
        settle(f);
        /* 10:01, 10:02 and 10:03 on host b. */
        assert_int_equal(vs_fake_owned_count(f->fake2, "dom-a", "there"), 3);
        assert_int_equal(vs_fake_owned_count(f->fake2, "dom-b", "there"), 3);
        assert_true(vs_fake_owned_count(f->fake, "dom-a", "here") >= 1);
        fx_free(f);
}

static void
test_one_job_per_domain(void **state)
{
        fx *f = fx_new(T0);
        const char *yaml = "connection: " URI "\n"
                           "timezone: UTC\n"
                           "max_concurrent: 4\n"
                           "policies:\n"
                           "  - name: hourly\n"
                           "    schedule: hourly\n"
                           "    catch_up: false\n"
                           "    retention: {keep_last: 5}\n"
                           "  - name: daily\n"
                           "    schedule: \"0 11 * * *\"\n"
                           "    catch_up: false\n"
                           "    retention: {keep_last: 5}\n";

        (void)state;
        add_domains(f, 1);
        fx_scheduler(f, yaml, NULL);
        assert_int_equal(vs_scheduler_start(f->s), 0);
        settle(f);
        vs_fake_block(f->fake, VS_FAKE_CREATE);
        vs_clock_advance(f->clock, 3600 * 1000);
        run_until_jobs(f, 2);
        vs_fake_wait_blocked(f->fake, VS_FAKE_CREATE, 1);
        /* Both policies fire at 11:00: one snapshot of the domain at a time,
         * the other waits (it is not a skip: another policy's job). */
        assert_int_equal(stats(f).running, 1);
        assert_int_equal(stats(f).queued, 1);
        assert_int_equal(stats(f).skipped, 0);
        vs_fake_release(f->fake, VS_FAKE_CREATE);
        settle(f);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "hourly"), 1);
        assert_int_equal(vs_fake_owned_count(f->fake, "dom-a", "daily"), 1);
        fx_free(f);
}

static void
test_lockfile(void **state)
{
        char dir[] = "/tmp/vs-lock-XXXXXX", db[128], cmd[160];
        int fd1 = -1, fd2 = -1;
        vs_err e = { 0 };

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(db, sizeof(db), "%s/history.db", dir);
        assert_int_equal(vs_lockfile_acquire(db, &fd1, &e), 0);
        assert_int_equal(vs_lockfile_acquire(db, &fd2, &e), -EBUSY);
        assert_non_null(strstr(e.msg, "another virtsnap daemon"));
        assert_non_null(strstr(e.msg, db));
        vs_lockfile_release(fd1);
        assert_int_equal(vs_lockfile_acquire(db, &fd2, &e), 0);
        vs_lockfile_release(fd2);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

int
main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plan_offsets),
                cmocka_unit_test(test_plan_slots_and_due),
                cmocka_unit_test(test_plan_build_and_pop),
                cmocka_unit_test(test_hook_expand),
                cmocka_unit_test(test_hook_env_and_status),
                cmocka_unit_test(test_hook_timeout_kills_group),
                cmocka_unit_test(test_fire_order_and_jitter),
                cmocka_unit_test(test_catch_up_once),
                cmocka_unit_test(test_catch_up_serves_next_slot),
                cmocka_unit_test(test_catch_up_far_from_next_slot),
                cmocka_unit_test(test_failed_catch_up_serves_nothing),
                cmocka_unit_test(test_post_hook_failure_recorded),
                cmocka_unit_test(test_unreachable_is_loud),
                cmocka_unit_test(test_reconcile_scope_and_adopt_from),
                cmocka_unit_test(test_catch_up_after_reconnect),
                cmocka_unit_test(test_offline_satisfies_quiesce),
                cmocka_unit_test(test_undeletable_counted),
                cmocka_unit_test(test_reload_hands_over),
                cmocka_unit_test(test_overlap_skip),
                cmocka_unit_test(test_concurrency_limit),
                cmocka_unit_test(test_retry_transient_then_succeed),
                cmocka_unit_test(test_permanent_fails_at_once),
                cmocka_unit_test(test_transient_bounded_by_timeout),
                cmocka_unit_test(test_busy_waits_then_skips),
                cmocka_unit_test(test_guard_skips_and_prunes),
                cmocka_unit_test(test_hooks_order),
                cmocka_unit_test(test_pre_hook_failure),
                cmocka_unit_test(test_hook_timeout_fails_job),
                cmocka_unit_test(test_prune_keeps_last_and_foreign),
                cmocka_unit_test(test_prune_target_already_gone),
                cmocka_unit_test(test_intents_committed_before_libvirt),
                cmocka_unit_test(test_failed_commit_asks_libvirt_nothing),
                cmocka_unit_test(test_disk_full_after_the_intents),
                cmocka_unit_test(test_prune_intents_with_the_create),
                cmocka_unit_test(test_run_once),
                cmocka_unit_test(test_reload_valid_and_invalid),
                cmocka_unit_test(test_drain_on_sigterm),
                cmocka_unit_test(test_drain_grace_cancels),
                cmocka_unit_test(test_connection_down_and_back),
                cmocka_unit_test(test_domain_events_replan),
                cmocka_unit_test(test_snapshot_and_prune_now),
                cmocka_unit_test(test_adhoc_ttl_daemon),
                cmocka_unit_test(test_revert_daemon),
                cmocka_unit_test(test_adhoc_cancelled_on_stop),
                cmocka_unit_test(test_adhoc_before_first_listing),
                cmocka_unit_test(test_notify),
                cmocka_unit_test(test_two_connections),
                cmocka_unit_test(test_one_job_per_domain),
                cmocka_unit_test(test_lockfile),
        };

        /* Hooks inherit our stderr; keep SIGPIPE from killing the runner. */
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
