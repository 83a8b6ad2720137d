/* vs_cli_run_scheduler: the frame around the scheduler for daemon, run,
 * snapshot and prune (see cli-sched.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "cli-args.h"
#include "cli-config.h"
#include "cli-control.h"
#include "cli-sched.h"
#include "cli-store.h"
#include "commands.h"
#include "crash.h"
#include "lockfile.h"
#include "log.h"
#include "metrics.h"
#include "plan.h"
#include "strv.h"

/* --log-level's argument; -1 (after printing) when it is not a level. */
static int
parse_log_level(const char *cmd, const char *s)
{
        int l = vs_log_level_from_string(s);

        if (l < 0)
                fprintf(stderr, "virtsnap %s: unknown log level '%s' (err, warning, notice, info, debug)\n", cmd, s);
        return l;
}

int
vs_cli_sched_option(vs_cli_sched_args *a, int c, char **argv)
{
        switch (c) {
        case 'c':
                a->config = optarg;
                return -1;
        case VS_CLI_OPT_CONNECT:
                a->connect = optarg;
                return -1;
        case VS_CLI_OPT_DATABASE:
                a->database = optarg;
                return -1;
        case VS_CLI_OPT_LOG_LEVEL:
                a->log_level = parse_log_level(a->cmd, optarg);
                return a->log_level < 0 ? VS_EXIT_USAGE : -1;
        default:
                return vs_cli_getopt_error(a->cmd, c, argv);
        }
}

/* The daemon's metrics_textfile: rewritten (atomically, metrics.h) every
 * TEXTFILE_CHECK_MS when the history changed since the last write, and at
 * least every TEXTFILE_MAX_AGE_MS, because lateness moves with the clock.
 * The timer does not keep the loop alive. */
#define TEXTFILE_CHECK_MS 15000
#define TEXTFILE_MAX_AGE_MS 60000

typedef struct textfile {
        uv_timer_t timer;
        vs_scheduler *s;
        vs_store *store;
        vs_log *log;
        int64_t changes;            /* vs_store_changes at the last write */
        uint64_t written_ms;        /* uv_now at the last write; 0 = never */
        bool failing;               /* the last write failed (logged once) */
} textfile;

/* libuv runs every worker call on one process-wide pool, 4 threads unless
 * UV_THREADPOOL_SIZE says otherwise, sized once at its first use: with the
 * default, max_concurrent above 4 would change nothing (a job's libvirt
 * call is a worker call).  Size it for the policy file: per connection
 * max_concurrent jobs and one refresh or reconcile, plus one spare (a
 * revert).  A user's UV_THREADPOOL_SIZE stands; a reload that raises
 * max_concurrent is held to the pool of the start (the README says so). */
static void
size_worker_pool(const vs_config *cfg, const char *connect_override)
{
        char **uris = NULL;
        long per = cfg->max_concurrent > 0 ? cfg->max_concurrent : 1, n;
        size_t n_uris;
        char buf[16];

        for (size_t i = 0; i < cfg->n_policies; i++) {
                const char *u = vs_plan_policy_uri(&cfg->policies[i], connect_override);

                if (!vs_strv_contains(uris, u))
                        (void)vs_strv_push(&uris, u); /* out of memory: a smaller pool, no harm */
        }
        n_uris = vs_strv_length(uris);
        vs_strv_free(uris);
        n = (long)(n_uris ? n_uris : 1) * (per + 1) + 1;
        if (n < 4)
                n = 4;
        if (n > 1024)
                n = 1024; /* libuv's ceiling */
        snprintf(buf, sizeof(buf), "%ld", n);
        setenv("UV_THREADPOOL_SIZE", buf, 0);
}

static void
on_textfile_timer(uv_timer_t *t)
{
        textfile *tf = t->data;
        const vs_config *cfg = vs_scheduler_config(tf->s);
        int64_t changes = vs_store_changes(tf->store);
        uint64_t now = uv_now(t->loop);
        vs_err err = { 0 };

        if (!cfg || !cfg->metrics_textfile)
                return;
        if (tf->written_ms && changes == tf->changes && now - tf->written_ms < TEXTFILE_MAX_AGE_MS)
                return;
        if (vs_cli_metrics_write_file(tf->store, cfg, (int64_t)time(NULL), cfg->metrics_textfile, &err) < 0) {
                if (!tf->failing)
                        vs_log_err(tf->log, "metrics_textfile %s: %s", cfg->metrics_textfile, err.msg);
                tf->failing = true;
                return;
        }
        if (tf->failing)
                vs_log_notice(tf->log, "metrics_textfile %s: written again", cfg->metrics_textfile);
        tf->failing = false;
        tf->changes = changes;
        tf->written_ms = now;
}

int
vs_cli_run_scheduler(const vs_cli_sched_args *a, int (*start)(vs_scheduler *s, void *data), void *data,
                     bool fail_on_jobs)
{
        vs_virt_events *events = NULL;
        vs_cli_control *control = NULL;
        textfile tf = { 0 };
        bool timer_on = false;
        vs_scheduler *s = NULL;
        vs_config *cfg = NULL;
        vs_store *store = NULL;
        vs_clock *clock = NULL;
        vs_log *log = NULL;
        vs_crash *crash = NULL;
        vs_scheduler_stats st = { 0 };
        const char *database;
        uv_loop_t loop;
        bool loop_ok = false;
        vs_err err = { 0 };
        int lock_fd = -1, rc = VS_EXIT_FAILURE, r;

        if (vs_crash_from_env(&crash, &err) < 0) {
                fprintf(stderr, "virtsnap %s: %s\n", a->cmd, err.msg);
                return VS_EXIT_USAGE;
        }
        if (vs_cli_load_config(a->config, &cfg) < 0) {
                fprintf(stderr, "virtsnap %s: cannot load the policy file\n", a->cmd);
                vs_crash_free(crash);
                return VS_EXIT_FAILURE;
        }
        size_worker_pool(cfg, a->connect);
        database = a->database ? a->database : cfg->database ? cfg->database : VS_DEFAULT_DATABASE;
        /* One virtsnap acting on a database at a time: the daemon and the
         * one-shot commands all reconcile and prune. */
        if (strcmp(database, ":memory:") != 0) {
                r = vs_store_open(database, 0, &store, &err);
                if (r < 0) {
                        fprintf(stderr, "virtsnap %s: %s: %s\n", a->cmd, database, err.msg[0] ? err.msg : strerror(-r));
                        goto out;
                }
                r = vs_lockfile_acquire(database, &lock_fd, &err);
                if (r < 0) {
                        fprintf(stderr, "virtsnap %s: %s\n", a->cmd, err.msg);
                        goto out;
                }
        } else {
                r = vs_store_open(database, 0, &store, &err);
                if (r < 0) {
                        fprintf(stderr, "virtsnap %s: %s: %s\n", a->cmd, database, err.msg);
                        goto out;
                }
        }
        log = vs_log_new(stderr, a->log_level, getenv("JOURNAL_STREAM") != NULL);
        if (!log || uv_loop_init(&loop) < 0) {
                fprintf(stderr, "virtsnap %s: out of memory\n", a->cmd);
                goto out;
        }
        loop_ok = true;
        if (vs_clock_new_real(&loop, &clock) < 0) {
                fprintf(stderr, "virtsnap %s: out of memory\n", a->cmd);
                goto out;
        }
        /* Load libvirt before the scheduler's workers exist (virt-module.c);
         * a failure shows again, with the reason, on every connection. */
        (void)vs_virt_load(NULL);
        if (a->daemon && vs_virt_events_start(&events, &err) < 0)
                vs_log_warning(log, "libvirt events unavailable (%s); domains are re-listed at each firing", err.msg);
        r = vs_scheduler_new(&(vs_scheduler_opts){
                                     .loop = &loop,
                                     .clock = clock,
                                     .log = log,
                                     .store = store,
                                     .config_path = a->daemon ? cfg->path : NULL,
                                     .connect_override = a->connect,
                                     .only_policy = a->only_policy,
                                     .crash = crash,
                                     .notify = a->daemon,
                                     .signals = a->daemon,
                             },
                             cfg, &s, &err);
        cfg = NULL;
        if (r < 0) {
                fprintf(stderr, "virtsnap %s: %s\n", a->cmd, err.msg);
                goto out;
        }
        r = start(s, data);
        if (r != 0) {
                rc = r;
                vs_scheduler_stop(s);
        }
        if (a->daemon && r == 0 && uv_timer_init(&loop, &tf.timer) == 0) {
                tf.s = s;
                tf.store = store;
                tf.log = log;
                tf.timer.data = &tf;
                timer_on = true;
                uv_timer_start(&tf.timer, on_textfile_timer, 1000, TEXTFILE_CHECK_MS);
                uv_unref((uv_handle_t *)&tf.timer);
        }
        /* The control socket: snapshot and status next to the running
         * daemon.  Its handles do not keep the loop alive. */
        if (a->daemon && r == 0)
                control = vs_cli_control_start(&loop, s, store, log, vs_scheduler_config(s)->control_socket,
                                               database);
        uv_run(&loop, UV_RUN_DEFAULT);
        vs_cli_control_stop(control);
        if (timer_on)
                uv_close((uv_handle_t *)&tf.timer, NULL);
        vs_scheduler_get_stats(s, &st);
        if (r == 0)
                /* A job that did not create (busy domain, guard) did not do
                 * what was asked either. */
                rc = fail_on_jobs && (st.failed > 0 || st.skipped_jobs > 0) ? VS_EXIT_FAILURE : VS_EXIT_OK;
        /* A prune that leaves what libvirt cannot delete is a failure of this
         * run: nobody else will notice the pile growing. */
        if (r == 0 && fail_on_jobs && st.undeletable > 0) {
                fprintf(stderr,
                        "virtsnap %s: %lu snapshot%s could not be deleted: libvirt cannot delete %s (recorded as "
                        "undeletable; see `virtsnap history` and `virtsnap check` on mixing internal and external "
                        "snapshots)\n",
                        a->cmd, st.undeletable, st.undeletable == 1 ? "" : "s", st.undeletable == 1 ? "it" : "them");
                rc = VS_EXIT_FAILURE;
        }
out:
        vs_scheduler_free(s);
        if (loop_ok) {
                /* Close callbacks of whatever the scheduler released. */
                uv_run(&loop, UV_RUN_DEFAULT);
                uv_loop_close(&loop);
        }
        vs_virt_events_stop(events);
        vs_clock_free(clock);
        vs_log_free(log);
        vs_store_free(store);
        vs_lockfile_release(lock_fd);
        vs_config_free(cfg);
        vs_crash_free(crash);
        return rc;
}

int
vs_cli_retention_preview(vs_store *store, const vs_config *cfg, const vs_policy *p, const char *uri,
                         const char *uuid, int64_t now, vs_cli_preview *ret, vs_err *err)
{
        vs_cli_preview pv = { 0 };
        int r;

        r = vs_store_list_present(store, uri, uuid, p->name, &pv.held, err);
        if (r < 0)
                return r;
        pv.items = calloc(pv.held.n ? pv.held.n : 1, sizeof(*pv.items));
        if (!pv.items) {
                vs_store_held_list_clear(&pv.held);
                return vs_err_set(err, ENOMEM, "cli", "out of memory");
        }
        /* As the prune does (scheduler/job.c): a lifetime hides a snapshot
         * from the rules, and an ended one goes whatever they say. */
        for (size_t i = 0; i < pv.held.n; i++) {
                pv.items[i].time = pv.held.items[i].created;
                pv.items[i].pinned = pv.held.items[i].pinned || pv.held.items[i].expires > 0;
        }
        r = vs_retention_apply(&p->retention, cfg->tz, now, pv.items, pv.held.n);
        if (r < 0) {
                vs_cli_preview_clear(&pv);
                return vs_err_set(err, -r, "retention", "cannot apply retention");
        }
        for (size_t i = 0; i < pv.held.n; i++)
                if (!pv.held.items[i].pinned && pv.held.items[i].expires > 0) {
                        pv.items[i].verdict = pv.held.items[i].expires <= now ? VS_VERDICT_REMOVE : VS_VERDICT_KEEP;
                        pv.items[i].rule = VS_RULE_LIFETIME;
                }
        *ret = pv;
        return 0;
}

void
vs_cli_preview_clear(vs_cli_preview *p)
{
        vs_store_held_list_clear(&p->held);
        free(p->items);
        p->items = NULL;
}

void
vs_cli_preview_describe(const vs_policy *p, const vs_retention_item *it, const char **ret_verdict, char *reason,
                        size_t len)
{
        *ret_verdict = vs_verdict_to_string(it->verdict);
        if (it->rule == VS_RULE_LIFETIME) {
                snprintf(reason, len, "%s", it->verdict == VS_VERDICT_KEEP ? "lifetime (snapshot --ttl)"
                                                                          : "lifetime ended (snapshot --ttl)");
                return;
        }
        switch (it->verdict) {
        case VS_VERDICT_KEEP:
                snprintf(reason, len, "%s", vs_keep_rule_to_string(it->rule));
                break;
        case VS_VERDICT_PINNED:
                snprintf(reason, len, "pinned: invisible to retention");
                break;
        case VS_VERDICT_REMOVE:
                vs_scheduler_prune_reason(&p->retention, reason, len);
                break;
        }
}
