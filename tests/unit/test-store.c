/* Unit tests for store/: every intent-log transition, every reconcile case
 * and its idempotence, schema migrations and the files the store refuses to
 * touch, file modes, hostile strings, read-only and full databases, a crash
 * between the intent commit and the hypervisor call, and the query plans of
 * the audit queries.  In-memory databases where a file does not matter,
 * temporary directories where it does. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "store-private.h"
#include "fakes/disk-full.h"

#define CONN "qemu:///system"
#define UUID1 "11111111-2222-3333-4444-555555555555"
#define UUID2 "66666666-7777-8888-9999-aaaaaaaaaaaa"

/* ---- helpers -------------------------------------------------------------- */

static vs_store *
open_memory(void)
{
        vs_store *s = NULL;
        vs_err err = { 0 };

        assert_int_equal(vs_store_open(":memory:", 0, &s, &err), 0);
        assert_non_null(s);
        return s;
}

static int64_t
count(vs_store *s, const char *sql)
{
        int64_t v = -1;

        assert_int_equal(vs__store_query_int(s, sql, &v, NULL), 0);
        return v;
}

static vs_store_attempt
attempt(const char *domain, const char *uuid, const char *policy, const char *name, int64_t t)
{
        return (vs_store_attempt){
                .connection = CONN,
                .domain_uuid = uuid,
                .domain_name = domain,
                .policy = policy,
                .snapshot = name,
                .type = "internal",
                .quiesce = true,
                .scheduled = t,
                .started = t + 1,
        };
}

/* Collected history rows, copied out of the callback. */
typedef struct rows {
        size_t n;
        int64_t id[32];
        vs_snap_state state[32];
        char *snapshot[32], *domain[32], *policy[32], *consistency[32], *error[32], *reason[32],
                *pin_reason[32];
        bool pinned[32], undeletable[32];
        int64_t finished[32], created[32], deleted[32];
        int error_code[32], error_domain[32];
} rows;

static char *
dup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

static int
collect_row(const vs_store_row *r, void *userdata)
{
        rows *out = userdata;
        size_t i = out->n++;

        assert_true(i < 32);
        out->id[i] = r->id;
        out->state[i] = r->state;
        out->snapshot[i] = dup_or_null(r->snapshot);
        out->domain[i] = dup_or_null(r->domain_name);
        out->policy[i] = dup_or_null(r->policy);
        out->consistency[i] = dup_or_null(r->consistency);
        out->error[i] = dup_or_null(r->error_message);
        out->reason[i] = dup_or_null(r->delete_reason);
        out->pin_reason[i] = dup_or_null(r->pin_reason);
        out->pinned[i] = r->pinned;
        out->undeletable[i] = r->undeletable;
        out->finished[i] = r->has_finished ? r->finished : -1;
        out->created[i] = r->has_created ? r->created : -1;
        out->deleted[i] = r->has_deleted ? r->deleted : -1;
        out->error_code[i] = r->error_code;
        out->error_domain[i] = r->error_domain;
        return 0;
}

static void
rows_clear(rows *r)
{
        for (size_t i = 0; i < r->n; i++) {
                free(r->snapshot[i]);
                free(r->domain[i]);
                free(r->policy[i]);
                free(r->consistency[i]);
                free(r->error[i]);
                free(r->reason[i]);
                free(r->pin_reason[i]);
        }
        memset(r, 0, sizeof(*r));
}

static vs_store_filter
all_rows(void)
{
        return (vs_store_filter){ .since = INT64_MIN, .until = INT64_MAX };
}

static void
history(vs_store *s, const vs_store_filter *f, rows *out)
{
        memset(out, 0, sizeof(*out));
        assert_int_equal(vs_store_query_history(s, f, collect_row, out, NULL), 0);
}

/* Events as "kind|snapshot|message" lines, oldest first. */
typedef struct event_lines {
        size_t n;
        char *line[64];
} event_lines;

static int
collect_event(const vs_store_event_row *e, void *userdata)
{
        event_lines *out = userdata;
        char *line;

        assert_true(out->n < 64);
        assert_true(asprintf(&line, "%s|%s|%s", e->kind, e->snapshot ? e->snapshot : "-",
                             e->message ? e->message : "-") > 0);
        out->line[out->n++] = line;
        return 0;
}

static void
events(vs_store *s, event_lines *out)
{
        vs_store_filter f = all_rows();
        event_lines rev = { 0 };

        assert_int_equal(vs_store_query_events(s, &f, collect_event, &rev, NULL), 0);
        memset(out, 0, sizeof(*out));
        for (size_t i = 0; i < rev.n; i++)
                out->line[i] = rev.line[rev.n - 1 - i];
        out->n = rev.n;
}

static void
events_clear(event_lines *e)
{
        for (size_t i = 0; i < e->n; i++)
                free(e->line[i]);
        e->n = 0;
}

static char *
make_tmpdir(void)
{
        const char *base = getenv("TMPDIR");
        char *path;

        assert_true(asprintf(&path, "%s/test-store-XXXXXX", base && *base ? base : "/tmp") > 0);
        assert_non_null(mkdtemp(path));
        return path;
}

static void
rm_rf(const char *path)
{
        char *cmd;

        /* Only ever a directory made by make_tmpdir. */
        assert_non_null(strstr(path, "/test-store-"));
        assert_true(asprintf(&cmd, "rm -rf '%s'", path) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
}

static char *
join(const char *dir, const char *name)
{
        char *p;

        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static void
write_file(const char *path, const void *data, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t)len);
        close(fd);
}

static void
assert_file_bytes(const char *path, const void *data, size_t len)
{
        char buf[8192];
        int fd = open(path, O_RDONLY);
        ssize_t n;

        assert_true(fd >= 0);
        n = read(fd, buf, sizeof(buf));
        close(fd);
        assert_int_equal(n, (ssize_t)len);
        assert_memory_equal(buf, data, len);
}

/* ---- intent log ------------------------------------------------------------ */

static void
test_create_success(void **state)
{
        vs_store *s = open_memory();
        vs_store_attempt a = attempt("web1", UUID1, "daily", "daily-1", 1000);
        vs_store_filter f = all_rows();
        event_lines ev;
        vs_err err = { 0 };
        int64_t id, sched, created;
        rows r;

        (void)state;
        assert_int_equal(vs_store_schema_version(s), VS_STORE_SCHEMA_VERSION);
        assert_int_equal(vs_store_last_success(s, CONN, UUID1, "daily", &sched, &created, &err), -ENOENT);

        assert_int_equal(vs_store_begin_create(s, &a, &id, &err), 0);
        assert_true(id > 0);
        /* The intent is visible (committed) before anything else happens. */
        history(s, &f, &r);
        assert_int_equal(r.n, 1);
        assert_int_equal(r.state[0], VS_SNAP_CREATING);
        assert_string_equal(r.snapshot[0], "daily-1");
        assert_int_equal(r.finished[0], -1);
        rows_clear(&r);
        assert_int_equal(count(s, "SELECT count(*) FROM events"), 0);

        /* The backend made the name unique. */
        assert_int_equal(vs_store_finish_create(s, id, "daily-1-2", "quiesced", 1001, 1005, &err), 0);
        history(s, &f, &r);
        assert_int_equal(r.n, 1);
        assert_int_equal(r.state[0], VS_SNAP_PRESENT);
        assert_string_equal(r.snapshot[0], "daily-1-2");
        assert_string_equal(r.consistency[0], "quiesced");
        assert_int_equal(r.created[0], 1001);
        assert_int_equal(r.finished[0], 1005);
        rows_clear(&r);
        events(s, &ev);
        assert_int_equal(ev.n, 1);
        assert_string_equal(ev.line[0], "created|daily-1-2|quiesced");
        events_clear(&ev);

        assert_int_equal(vs_store_last_success(s, CONN, UUID1, "daily", &sched, &created, &err), 0);
        assert_int_equal(sched, 1000);
        assert_int_equal(created, 1001);

        /* A second finish (or a fail) of the same attempt is stale. */
        assert_int_equal(vs_store_finish_create(s, id, NULL, "crash", 0, 1006, &err), -ESTALE);
        assert_string_equal(err.msg, "attempt 1 is present, not creating");
        assert_int_equal(vs_store_fail_create(s, id, NULL, 1006, &err), -ESTALE);
        assert_int_equal(vs_store_finish_create(s, 999, NULL, "crash", 0, 1006, &err), -ESTALE);
        assert_string_equal(err.msg, "no attempt 999");
        assert_int_equal(count(s, "SELECT count(*) FROM events"), 1);
        vs_store_free(s);
}

static void
test_create_failure_and_skip(void **state)
{
        vs_store *s = open_memory();
        vs_store_attempt a = attempt("web1", UUID1, "daily", "daily-1", 2000);
        vs_store_filter f = all_rows();
        vs_err why = { 0 }, err = { 0 };
        event_lines ev;
        int64_t id, skip_id;
        rows r;

        (void)state;
        assert_int_equal(vs_store_begin_create(s, &a, &id, &err), 0);
        vs_err_set(&why, EIO, "libvirt", "guest agent is not responding");
        why.code = 86;
        why.domain = 10;
        assert_int_equal(vs_store_fail_create(s, id, &why, 2010, &err), 0);

        a.scheduled = 3000;
        a.started = 3000;
        assert_int_equal(vs_store_record_skipped(s, &a, "previous job still running", &skip_id, &err), 0);
        assert_true(skip_id > id);

        history(s, &f, &r);
        assert_int_equal(r.n, 2);
        assert_int_equal(r.state[0], VS_SNAP_SKIPPED); /* newest first */
        assert_string_equal(r.error[0], "previous job still running");
        assert_int_equal(r.state[1], VS_SNAP_FAILED);
        assert_string_equal(r.error[1], "guest agent is not responding");
        assert_int_equal(r.error_code[1], 86);
        assert_int_equal(r.error_domain[1], 10);
        assert_int_equal(r.finished[1], 2010);
        assert_int_equal(r.created[1], -1);
        rows_clear(&r);

        events(s, &ev);
        assert_int_equal(ev.n, 2);
        assert_string_equal(ev.line[0], "failed|daily-1|guest agent is not responding");
        assert_string_equal(ev.line[1], "skipped|daily-1|previous job still running");
        events_clear(&ev);

        assert_int_equal(vs_store_last_success(s, CONN, UUID1, "daily", NULL, NULL, &err), -ENOENT);
        /* An attempt needs its identity. */
        a.domain_uuid = NULL;
        assert_int_equal(vs_store_begin_create(s, &a, &id, &err), -EINVAL);
        vs_store_free(s);
}

static int64_t
make_present(vs_store *s, const char *domain, const char *uuid, const char *policy, const char *name,
             int64_t t)
{
        vs_store_attempt a = attempt(domain, uuid, policy, name, t);
        int64_t id;

        assert_int_equal(vs_store_begin_create(s, &a, &id, NULL), 0);
        assert_int_equal(vs_store_finish_create(s, id, NULL, "crash", t + 2, t + 3, NULL), 0);
        return id;
}

static int
collect_expired(const char *conn, const char *uuid, const char *domain, const char *policy, void *userdata)
{
        char *buf = userdata;
        size_t n = strlen(buf);

        snprintf(buf + n, 512 - n, "%s|%s|%s\n", domain, policy, conn);
        (void)uuid;
        return 0;
}

/* `snapshot --ttl`: the row keeps its lifetime, who asked and why; the
 * daemon finds the earliest end and the series that have expired ones. */
static void
test_lifetimes(void **state)
{
        vs_store *s = open_memory();
        vs_store_attempt a = attempt("web1", UUID1, "daily", "s-ttl", 100);
        vs_store_held_list held = { 0 };
        char buf[512] = "";
        int64_t id, next = 0;
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs_store_next_expiry(s, &next, &err), -ENOENT);
        make_present(s, "web1", UUID1, "daily", "s-plain", 50);
        a.expires = 1000;
        a.requested_by = "uid 0 (root)";
        a.note = "before the upgrade";
        assert_int_equal(vs_store_begin_create(s, &a, &id, &err), 0);
        /* Still creating: not a snapshot to expire yet. */
        assert_int_equal(vs_store_next_expiry(s, &next, &err), -ENOENT);
        assert_int_equal(vs_store_finish_create(s, id, NULL, "crash", 102, 103, &err), 0);
        assert_int_equal(vs_store_next_expiry(s, &next, &err), 0);
        assert_int_equal(next, 1000);
        assert_int_equal(vs_store_query_expired(s, 999, collect_expired, buf, &err), 0);
        assert_string_equal(buf, "");
        assert_int_equal(vs_store_query_expired(s, 1000, collect_expired, buf, &err), 0);
        assert_string_equal(buf, "web1|daily|qemu:///system\n");
        assert_int_equal(vs_store_list_present(s, "qemu:///system", UUID1, "daily", &held, &err), 0);
        assert_int_equal(held.n, 2);
        assert_string_equal(held.items[0].name, "s-ttl");
        assert_int_equal(held.items[0].expires, 1000);
        assert_int_equal(held.items[1].expires, 0);
        vs_store_held_list_clear(&held);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE requested_by = 'uid 0 (root)'"
                                  " AND note = 'before the upgrade' AND expires = 1000"), 1);
        /* Pinned beats a lifetime. */
        assert_int_equal(vs_store_pin(s, "web1", "s-ttl", "keep", 500, NULL, &err), 0);
        assert_int_equal(vs_store_next_expiry(s, &next, &err), -ENOENT);
        buf[0] = '\0';
        assert_int_equal(vs_store_query_expired(s, 5000, collect_expired, buf, &err), 0);
        assert_string_equal(buf, "");
        vs_store_free(s);
}

static int
sum_deferred(const vs_store_series *se, void *userdata)
{
        *(unsigned *)userdata += se->deferred;
        return 0;
}

static void
test_delete_outcomes(void **state)
{
        vs_store *s = open_memory();
        vs_store_filter f = all_rows();
        vs_store_held_list held = { 0 };
        vs_err why = { 0 }, err = { 0 };
        unsigned n_deferred = 0;
        int64_t a, b, c, d;
        event_lines ev;
        rows r;

        (void)state;
        a = make_present(s, "web1", UUID1, "daily", "s-a", 100);
        b = make_present(s, "web1", UUID1, "daily", "s-b", 200);
        c = make_present(s, "web1", UUID1, "daily", "s-c", 300);
        d = make_present(s, "web1", UUID1, "daily", "s-d", 400);

        /* deleted: the reason given at begin is kept. */
        assert_int_equal(vs_store_begin_delete(s, a, "keep_last 2: 4th newest", &err), 0);
        assert_int_equal(vs_store_begin_delete(s, a, "again", &err), -ESTALE);
        assert_int_equal(vs_store_finish_delete(s, a, VS_STORE_DELETED, NULL, NULL, 500, &err), 0);
        /* deferred and failed go back to present. */
        assert_int_equal(vs_store_begin_delete(s, b, "keep_last 2: 3rd newest", &err), 0);
        vs_err_set(&why, EAGAIN, "libvirt", "domain is shut off; chain needs it running");
        assert_int_equal(vs_store_finish_delete(s, b, VS_STORE_DEFERRED, NULL, &why, 510, &err), 0);
        assert_int_equal(vs_store_begin_delete(s, c, "keep_last 2", &err), 0);
        vs_err_set(&why, EPERM, "libvirt", "mixed internal and external chain");
        assert_int_equal(vs_store_finish_delete(s, c, VS_STORE_UNDELETABLE, NULL, &why, 520, &err), 0);
        assert_int_equal(vs_store_begin_delete(s, d, "keep_last 2", &err), 0);
        vs_err_set(&why, EIO, "libvirt", "I/O error");
        assert_int_equal(vs_store_finish_delete(s, d, VS_STORE_DELETE_FAILED, NULL, &why, 530, &err), 0);
        /* Finishing a delete that is not in flight is stale. */
        assert_int_equal(vs_store_finish_delete(s, d, VS_STORE_DELETED, "x", NULL, 540, &err), -ESTALE);
        assert_int_equal(vs_store_finish_delete(s, d, 42, "x", NULL, 540, &err), -EINVAL);

        history(s, &f, &r);
        assert_int_equal(r.n, 4);
        assert_int_equal(r.state[3], VS_SNAP_DELETED);
        assert_string_equal(r.reason[3], "keep_last 2: 4th newest");
        assert_int_equal(r.deleted[3], 500);
        assert_int_equal(r.state[2], VS_SNAP_PRESENT);
        assert_null(r.reason[2]);
        assert_false(r.undeletable[2]);
        assert_int_equal(r.state[1], VS_SNAP_PRESENT);
        assert_true(r.undeletable[1]);
        assert_int_equal(r.state[0], VS_SNAP_PRESENT);
        assert_int_equal(r.deleted[0], -1);
        rows_clear(&r);

        events(s, &ev);
        assert_int_equal(ev.n, 8);
        assert_string_equal(ev.line[4], "pruned|s-a|keep_last 2: 4th newest");
        assert_string_equal(ev.line[5], "deferred|s-b|domain is shut off; chain needs it running");
        assert_string_equal(ev.line[6], "undeletable|s-c|mixed internal and external chain");
        assert_string_equal(ev.line[7], "delete-failed|s-d|I/O error");
        events_clear(&ev);

        /* The deferred one is counted as such until a later try ends otherwise. */
        assert_int_equal(count(s, "SELECT id FROM snapshots WHERE deferred = 1"), b);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE deferred = 1"), 1);
        assert_int_equal(vs_store_query_series(s, NULL, sum_deferred, &n_deferred, &err), 0);
        assert_int_equal(n_deferred, 1);
        assert_int_equal(vs_store_begin_delete(s, b, "keep_last 2: 3rd newest", &err), 0);
        assert_int_equal(vs_store_finish_delete(s, b, VS_STORE_DELETE_FAILED, NULL, &why, 550, &err), 0);
        n_deferred = 0;
        assert_int_equal(vs_store_query_series(s, NULL, sum_deferred, &n_deferred, &err), 0);
        assert_int_equal(n_deferred, 0);

        /* An explicit reason at finish wins; pinned rows refuse to start. */
        assert_int_equal(vs_store_pin(s, "web1", "s-b", "legal hold", 600, NULL, &err), 0);
        assert_int_equal(vs_store_begin_delete(s, b, "keep_last 2", &err), -EPERM);
        assert_string_equal(err.msg, "snapshot 2 is pinned");
        assert_int_equal(vs_store_begin_delete(s, c, "keep_last 1", &err), 0);
        assert_int_equal(vs_store_finish_delete(s, c, VS_STORE_DELETED, "keep_daily 1: same day", NULL,
                                                700, &err),
                         0);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE id = 3 AND state = 'deleted'"
                                  " AND undeletable = 0 AND delete_reason = 'keep_daily 1: same day'"),
                         1);

        /* Retention input: present rows, newest first, with pins. */
        assert_int_equal(vs_store_list_present(s, CONN, UUID1, "daily", &held, &err), 0);
        assert_int_equal(held.n, 2);
        assert_string_equal(held.items[0].name, "s-d");
        assert_int_equal(held.items[0].created, 402);
        assert_false(held.items[0].pinned);
        assert_string_equal(held.items[1].name, "s-b");
        assert_true(held.items[1].pinned);
        assert_int_equal(held.items[1].id, b);
        vs_store_held_list_clear(&held);
        assert_int_equal(vs_store_list_present(s, CONN, UUID1, "weekly", &held, &err), 0);
        assert_int_equal(held.n, 0);
        vs_store_held_list_clear(&held);
        vs_store_free(s);
}

static void
test_pin_unpin(void **state)
{
        vs_store *s = open_memory();
        vs_err err = { 0 };
        unsigned changed = 99;
        event_lines ev;

        (void)state;
        make_present(s, "web1", UUID1, "daily", "s-1", 100);
        make_present(s, "db1", UUID2, "daily", "s-1", 100);

        assert_int_equal(vs_store_pin(s, "web1", "s-1", "before upgrade", 200, &changed, &err), 0);
        assert_int_equal(changed, 1);
        /* By UUID too; a second pin only updates the reason. */
        assert_int_equal(vs_store_pin(s, UUID1, "s-1", "keep for audit", 210, &changed, &err), 0);
        assert_int_equal(changed, 0);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE pinned = 1"
                                  " AND pin_reason = 'keep for audit' AND domain_name = 'web1'"),
                         1);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE pinned = 1"), 1);

        assert_int_equal(vs_store_pin(s, "web1", "nope", NULL, 220, &changed, &err), -ENOENT);
        assert_string_equal(err.msg, "no snapshot 'nope' of domain 'web1' in the history");
        assert_int_equal(vs_store_pin(s, "web2", "s-1", NULL, 220, &changed, &err), -ENOENT);

        assert_int_equal(vs_store_unpin(s, "web1", "s-1", 230, &changed, &err), 0);
        assert_int_equal(changed, 1);
        assert_int_equal(vs_store_unpin(s, "web1", "s-1", 240, &changed, &err), 0);
        assert_int_equal(changed, 0);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE pinned = 1 OR pin_reason IS NOT NULL"),
                         0);

        events(s, &ev);
        assert_int_equal(ev.n, 5);
        assert_string_equal(ev.line[2], "pinned|s-1|before upgrade");
        assert_string_equal(ev.line[3], "pinned|s-1|keep for audit");
        assert_string_equal(ev.line[4], "unpinned|s-1|-");
        events_clear(&ev);
        vs_store_free(s);
}

static void
test_events_append_only(void **state)
{
        vs_store *s = open_memory();
        vs_store_event e = { .time = 5, .kind = VS_EVENT_RELOADED, .message = "3 policies" };
        vs_err err = { 0 };
        event_lines ev;

        (void)state;
        assert_int_equal(vs_store_append_event(s, &e, &err), 0);
        e.kind = VS_EVENT_N_KINDS;
        assert_int_equal(vs_store_append_event(s, &e, &err), -EINVAL);
        events(s, &ev);
        assert_int_equal(ev.n, 1);
        assert_string_equal(ev.line[0], "reloaded|-|3 policies");
        events_clear(&ev);
        assert_int_equal(vs__store_exec(s, "UPDATE events SET message = 'rewritten'", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "append-only"));
        assert_int_equal(vs__store_exec(s, "DELETE FROM events", &err), -EINVAL);
        assert_int_equal(count(s, "SELECT count(*) FROM events WHERE message = '3 policies'"), 1);

        for (int k = 0; k < VS_EVENT_N_KINDS; k++)
                assert_int_equal(vs_event_kind_from_string(vs_event_kind_to_string(k)), k);
        for (int st = VS_SNAP_CREATING; st <= VS_SNAP_SKIPPED; st++)
                assert_int_equal(vs_snap_state_from_string(vs_snap_state_to_string(st)), st);
        assert_int_equal(vs_snap_state_from_string("gone"), -1);
        assert_null(vs_event_kind_to_string(VS_EVENT_N_KINDS));
        vs_store_free(s);
}

/* ---- reconcile --------------------------------------------------------------- */

static void
test_reconcile_cases(void **state)
{
        vs_store *s = open_memory();
        vs_store_attempt a;
        vs_store_reconcile_summary sum;
        vs_store_filter f = all_rows();
        vs_err err = { 0 };
        int64_t creating_there, creating_gone, deleting_gone, deleting_there, present_gone, present_there,
                creating_foreign, other_domain;
        int64_t n_events, n_rows;
        event_lines ev;
        rows r;

        (void)state;
        a = attempt("web1", UUID1, "daily", "c-there", 100);
        assert_int_equal(vs_store_begin_create(s, &a, &creating_there, &err), 0);
        a = attempt("web1", UUID1, "daily", "c-gone", 110);
        assert_int_equal(vs_store_begin_create(s, &a, &creating_gone, &err), 0);
        a = attempt("web1", UUID1, "daily", "c-foreign", 115);
        assert_int_equal(vs_store_begin_create(s, &a, &creating_foreign, &err), 0);
        deleting_gone = make_present(s, "web1", UUID1, "daily", "d-gone", 50);
        assert_int_equal(vs_store_begin_delete(s, deleting_gone, "keep_last 3: 5th newest", &err), 0);
        deleting_there = make_present(s, "web1", UUID1, "daily", "d-there", 60);
        assert_int_equal(vs_store_begin_delete(s, deleting_there, "keep_last 3: 4th newest", &err), 0);
        present_gone = make_present(s, "web1", UUID1, "hourly", "p-gone", 70);
        present_there = make_present(s, "web1", UUID1, "hourly", "p-there", 80);
        other_domain = make_present(s, "db1", UUID2, "daily", "p-gone", 90);

        const vs_store_observed seen[] = {
                { .name = "c-there", .owner_policy = "daily", .creation_time = 101 },
                { .name = "c-foreign", .owner_policy = NULL, .creation_time = 116 },
                { .name = "d-there", .owner_policy = "daily", .creation_time = 62 },
                { .name = "p-there", .owner_policy = "hourly", .creation_time = 82 },
                { .name = "lost-row", .owner_policy = "weekly", .adopt_as = "weekly", .creation_time = 40,
                  .type = "disk-only" },
                { .name = "made-by-virsh", .owner_policy = NULL, .creation_time = 30 },
                /* marked, but the config does not cover (web1, old-policy) */
                { .name = "out-of-scope", .owner_policy = "old-policy", .creation_time = 35 },
        };
        bool marked[VS_ELEMENTSOF(seen)];

        n_events = count(s, "SELECT count(*) FROM events");
        assert_int_equal(vs_store_reconcile(s, CONN, UUID1, "web1", seen, VS_ELEMENTSOF(seen), 1000, &sum,
                                            marked, &err),
                         0);
        assert_int_equal(sum.foreign_marked, 1);
        for (size_t i = 0; i < VS_ELEMENTSOF(seen); i++)
                assert_int_equal(marked[i], strcmp(seen[i].name, "out-of-scope") == 0);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE snapshot = 'out-of-scope'"), 0);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE snapshot = 'lost-row' AND origin = 'adopted'"),
                         1);
        assert_int_equal(sum.recovered, 1);
        assert_int_equal(sum.interrupted, 2); /* c-gone, and c-foreign: not ours */
        assert_int_equal(sum.deleted, 1);
        assert_int_equal(sum.restored, 1);
        assert_int_equal(sum.vanished, 1);
        assert_int_equal(sum.adopted, 1);
        assert_int_equal(sum.foreign, 2);
        assert_int_equal(count(s, "SELECT count(*) FROM events") - n_events, 7);

        history(s, &f, &r);
        for (size_t i = 0; i < r.n; i++) {
                if (r.id[i] == creating_there) {
                        assert_int_equal(r.state[i], VS_SNAP_PRESENT);
                        assert_int_equal(r.created[i], 101);
                } else if (r.id[i] == creating_gone || r.id[i] == creating_foreign) {
                        assert_int_equal(r.state[i], VS_SNAP_FAILED);
                        assert_string_equal(r.error[i], "interrupted: the snapshot was not created");
                } else if (r.id[i] == deleting_gone) {
                        assert_int_equal(r.state[i], VS_SNAP_DELETED);
                        assert_string_equal(r.reason[i], "keep_last 3: 5th newest");
                        assert_int_equal(r.deleted[i], 1000);
                } else if (r.id[i] == deleting_there) {
                        assert_int_equal(r.state[i], VS_SNAP_PRESENT);
                        assert_null(r.reason[i]);
                } else if (r.id[i] == present_gone) {
                        assert_int_equal(r.state[i], VS_SNAP_VANISHED);
                        assert_int_equal(r.deleted[i], 1000);
                } else if (r.id[i] == present_there) {
                        assert_int_equal(r.state[i], VS_SNAP_PRESENT);
                } else if (r.id[i] == other_domain) {
                        /* Same name, other domain: untouched. */
                        assert_int_equal(r.state[i], VS_SNAP_PRESENT);
                } else {
                        assert_string_equal(r.snapshot[i], "lost-row");
                        assert_int_equal(r.state[i], VS_SNAP_PRESENT);
                        assert_string_equal(r.policy[i], "weekly");
                        assert_int_equal(r.created[i], 40);
                }
        }
        assert_int_equal(r.n, 9);
        rows_clear(&r);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE snapshot = 'made-by-virsh'"), 0);
        assert_int_equal(count(s, "SELECT count(*) FROM events WHERE snapshot IN ('made-by-virsh')"), 0);

        events(s, &ev);
        const char *want[] = {
                "recovered|c-there|an interrupted create had happened",
                "interrupted|c-gone|an interrupted create had not happened",
                "interrupted|c-foreign|an interrupted create had not happened",
                "pruned|d-gone|keep_last 3: 5th newest",
                "restored|d-there|an interrupted delete had not happened",
                "vanished|p-gone|gone from libvirt: deleted outside virtsnap",
                "adopted|lost-row|owned snapshot found in libvirt without a live row",
        };
        assert_int_equal(ev.n, (size_t)n_events + VS_ELEMENTSOF(want));
        for (size_t i = 0; i < VS_ELEMENTSOF(want); i++)
                assert_string_equal(ev.line[n_events + i], want[i]);
        events_clear(&ev);

        /* Idempotent: the same list again changes nothing and logs nothing. */
        n_events = count(s, "SELECT count(*) FROM events");
        n_rows = count(s, "SELECT count(*) FROM snapshots");
        int64_t fingerprint = count(s, "SELECT sum(id * length(state) + coalesce(deleted, 0)) FROM snapshots");
        assert_int_equal(vs_store_reconcile(s, CONN, UUID1, "web1", seen, VS_ELEMENTSOF(seen), 2000, &sum,
                                            NULL, &err),
                         0);
        assert_int_equal(sum.recovered + sum.interrupted + sum.deleted + sum.restored + sum.vanished +
                                 sum.adopted,
                         0);
        assert_int_equal(sum.foreign, 2);
        assert_int_equal(count(s, "SELECT count(*) FROM events"), n_events);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots"), n_rows);
        assert_int_equal(count(s, "SELECT sum(id * length(state) + coalesce(deleted, 0)) FROM snapshots"),
                         fingerprint);

        /* Everything gone: every live row vanishes, once. */
        assert_int_equal(vs_store_reconcile(s, CONN, UUID1, "web1", NULL, 0, 3000, &sum, NULL, &err), 0);
        assert_int_equal(sum.vanished, 4);
        assert_int_equal(vs_store_reconcile(s, CONN, UUID1, "web1", NULL, 0, 3001, &sum, NULL, &err), 0);
        assert_int_equal(sum.vanished, 0);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE state = 'present'"), 1);
        /* Another connection's rows are not this connection's business. */
        assert_int_equal(vs_store_reconcile(s, "qemu+ssh://other/system", UUID2, "db1", NULL, 0, 3002, &sum, NULL,
                                            &err),
                         0);
        assert_int_equal(sum.vanished, 0);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE state = 'present'"), 1);
        vs_store_free(s);
}

/* A crash between the intent commit and the hypervisor call: the child
 * commits `creating` rows and is killed; reconcile in a new process (here:
 * a new store) recovers the one libvirt made and fails the other. */
static void
test_crash_after_intent(void **state)
{
        char *dir = make_tmpdir(), *path = join(dir, "history.db");
        vs_store_reconcile_summary sum;
        vs_store *s;
        int status;
        pid_t pid;

        (void)state;
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                vs_store_attempt a1 = attempt("web1", UUID1, "daily", "made", 100);
                vs_store_attempt a2 = attempt("web1", UUID1, "daily", "not-made", 200);
                int64_t id;

                if (vs_store_open(path, 0, &s, NULL) < 0 || vs_store_begin_create(s, &a1, &id, NULL) < 0 ||
                    vs_store_begin_create(s, &a2, &id, NULL) < 0)
                        _exit(1);
                raise(SIGKILL); /* no close, no finish */
                _exit(2);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);

        assert_int_equal(vs_store_open(path, 0, &s, NULL), 0);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE state = 'creating'"), 2);
        const vs_store_observed seen[] = { { .name = "made", .owner_policy = "daily", .creation_time = 101 } };
        assert_int_equal(vs_store_reconcile(s, CONN, UUID1, "web1", seen, 1, 300, &sum, NULL, NULL), 0);
        assert_int_equal(sum.recovered, 1);
        assert_int_equal(sum.interrupted, 1);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE snapshot = 'made' AND state = 'present'"),
                         1);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE snapshot = 'not-made' AND state = 'failed'"),
                         1);
        vs_store_free(s);
        rm_rf(dir);
        free(path);
        free(dir);
}

/* ---- group commit ------------------------------------------------------------- */

static vs_store *
open_reader(const char *path)
{
        vs_store *r = NULL;

        assert_int_equal(vs_store_open(path, VS_STORE_READ_ONLY, &r, NULL), 0);
        return r;
}

/* Grouped writes are one transaction: the writer sees them at once, another
 * connection only after the flush; a failed write inside undoes itself
 * alone; turning grouping off and closing both flush. */
static void
test_group_commit(void **state)
{
        char *dir = make_tmpdir(), *path = join(dir, "history.db");
        vs_store_attempt a1 = attempt("web1", UUID1, "daily", "daily-1", 1000),
                         a2 = attempt("web1", UUID1, "daily", "daily-2", 2000),
                         a3 = attempt("web1", UUID1, "daily", "daily-3", 3000);
        vs_store_event ev = { .time = 2001, .kind = VS_EVENT_NOTICE, .message = "grouped" };
        vs_err err = { 0 };
        vs_store *s, *r;
        int64_t id1, id2, id3;

        (void)state;
        assert_int_equal(vs_store_open(path, 0, &s, NULL), 0);
        assert_int_equal(vs_store_begin_create(s, &a1, &id1, &err), 0);
        assert_int_equal(vs_store_finish_create(s, id1, NULL, "memory", 1001, 1002, &err), 0);
        r = open_reader(path);
        assert_int_equal(count(r, "SELECT count(*) FROM snapshots"), 1);

        assert_int_equal(vs_store_set_grouped(s, true, &err), 0);
        assert_false(vs_store_unflushed(s));
        assert_int_equal(vs_store_flush(s, &err), 0); /* nothing to commit */
        assert_int_equal(vs_store_begin_create(s, &a2, &id2, &err), 0);
        assert_true(vs_store_unflushed(s));
        assert_int_equal(vs_store_finish_create(s, id2, NULL, "memory", 2001, 2002, &err), 0);
        assert_int_equal(vs_store_append_event(s, &ev, &err), 0);
        /* A write that fails inside the group undoes itself, not the group. */
        assert_int_equal(vs_store_finish_create(s, id2, NULL, "memory", 2001, 2002, &err), -ESTALE);
        assert_int_equal(vs_store_begin_delete(s, id1, "keep_last 1", &err), 0);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots"), 2);
        assert_int_equal(count(r, "SELECT count(*) FROM snapshots"), 1);
        assert_int_equal(count(r, "SELECT count(*) FROM events WHERE kind = 'notice'"), 0);
        assert_int_equal(count(r, "SELECT count(*) FROM snapshots WHERE state = 'deleting'"), 0);

        assert_int_equal(vs_store_flush(s, &err), 0);
        assert_false(vs_store_unflushed(s));
        assert_int_equal(count(r, "SELECT count(*) FROM snapshots"), 2);
        assert_int_equal(count(r, "SELECT count(*) FROM snapshots WHERE state = 'present'"), 1);
        assert_int_equal(count(r, "SELECT count(*) FROM snapshots WHERE state = 'deleting'"), 1);
        assert_int_equal(count(r, "SELECT count(*) FROM events WHERE kind = 'created'"), 2);
        assert_int_equal(count(r, "SELECT count(*) FROM events WHERE kind = 'notice'"), 1);
        /* Every commit is FULL, grouped or not. */
        assert_int_equal(count(s, "PRAGMA synchronous"), 2);

        /* Ungrouping flushes. */
        assert_int_equal(vs_store_begin_create(s, &a3, &id3, &err), 0);
        assert_int_equal(count(r, "SELECT count(*) FROM snapshots"), 2);
        assert_int_equal(vs_store_set_grouped(s, false, &err), 0);
        assert_int_equal(count(r, "SELECT count(*) FROM snapshots"), 3);
        /* Ungrouped, a write commits at once. */
        assert_int_equal(vs_store_finish_create(s, id3, NULL, "memory", 3001, 3002, &err), 0);
        assert_false(vs_store_unflushed(s));
        assert_int_equal(count(r, "SELECT count(*) FROM snapshots WHERE state = 'present'"), 2);

        /* Closing flushes. */
        assert_int_equal(vs_store_set_grouped(s, true, &err), 0);
        assert_int_equal(vs_store_finish_delete(s, id1, VS_STORE_DELETED, NULL, NULL, 4000, &err), 0);
        vs_store_free(s);
        assert_int_equal(count(r, "SELECT count(*) FROM snapshots WHERE state = 'deleted'"), 1);
        vs_store_free(r);
        rm_rf(dir);
        free(path);
        free(dir);
}

/* A group whose commit fails (the disk is full when the WAL grows) is rolled
 * back whole: none of its writes exist, not even on the writer's own
 * connection, and the store goes on working once there is room
 * (tests/fakes/disk-full.h). */
static void
test_group_commit_fails(void **state)
{
        char *dir = make_tmpdir(), *path = join(dir, "history.db"), *wal = join(dir, "history.db-wal");
        vs_store_attempt a1 = attempt("web1", UUID1, "daily", "daily-1", 1000),
                         a2 = attempt("web1", UUID1, "daily", "daily-2", 2000),
                         a3 = attempt("web1", UUID1, "daily", "daily-3", 3000);
        vs_disk_full full;
        vs_err err = { 0 };
        vs_store *s, *r;
        int64_t id1, id2, id3;

        (void)state;
        assert_int_equal(vs_store_open(path, 0, &s, NULL), 0);
        assert_int_equal(vs_store_set_grouped(s, true, &err), 0);
        assert_int_equal(vs_store_begin_create(s, &a1, &id1, &err), 0);
        assert_int_equal(vs_store_flush(s, &err), 0);
        r = open_reader(path);

        assert_int_equal(vs_store_begin_create(s, &a2, &id2, &err), 0);
        assert_int_equal(vs_store_finish_create(s, id1, NULL, "memory", 1001, 1002, &err), 0);
        assert_int_equal(vs_disk_full_begin(wal, &full), 0);
        err = (vs_err){ 0 };
        assert_true(vs_store_flush(s, &err) < 0);
        vs_disk_full_end(&full);
        assert_true(err.msg[0] != '\0');
        assert_false(vs_store_unflushed(s));
        /* Nothing of the group: no second row, the first still creating. */
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots"), 1);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE state = 'creating'"), 1);
        assert_int_equal(count(r, "SELECT count(*) FROM snapshots"), 1);

        /* With room again, the next group commits. */
        assert_int_equal(vs_store_begin_create(s, &a3, &id3, &err), 0);
        assert_int_equal(vs_store_flush(s, &err), 0);
        assert_int_equal(count(r, "SELECT count(*) FROM snapshots"), 2);
        vs_store_free(r);
        vs_store_free(s);
        rm_rf(dir);
        free(wal);
        free(path);
        free(dir);
}

/* When SQLite itself ends the group's transaction after an error (disk
 * full mid-statement may roll back everything), the group is all or
 * nothing: either the flush commits every write that succeeded, or it
 * fails and none of them exists. */
static void
test_group_all_or_nothing(void **state)
{
        char *dir = make_tmpdir(), *path = join(dir, "history.db");
        vs_err err = { 0 };
        vs_store *s;
        int64_t id = 0, before, ok = 0;
        int r = 0;
        char name[64];

        (void)state;
        assert_int_equal(vs_store_open(path, 0, &s, NULL), 0);
        assert_int_equal(vs_store_set_grouped(s, true, &err), 0);
        before = count(s, "PRAGMA page_count");
        assert_int_equal(vs__store_set_max_pages(s, (unsigned)before + 2), 0);
        for (int i = 0; i < 10000 && r == 0; i++) {
                vs_store_attempt a;

                snprintf(name, sizeof(name), "a-fairly-long-snapshot-name-to-fill-pages-%06d", i);
                a = attempt("web1", UUID1, "daily", name, i);
                r = vs_store_begin_create(s, &a, &id, &err);
                ok += r == 0;
        }
        assert_int_equal(r, -ENOSPC);
        assert_true(ok > 0);
        r = vs_store_flush(s, &err);
        assert_int_equal(vs__store_set_max_pages(s, 1000000), 0);
        if (r == 0)
                assert_int_equal(count(s, "SELECT count(*) FROM snapshots"), ok);
        else
                assert_int_equal(count(s, "SELECT count(*) FROM snapshots"), 0);
        vs_store_free(s);
        rm_rf(dir);
        free(path);
        free(dir);
}

/* ---- files, schema, migrations --------------------------------------------- */

/* Every commit is synchronous = FULL: an intent is on disk before the
 * hypervisor is asked, whatever ran before it (a success, a stale
 * transition's rollback). */
static void
test_intents_stay_full_sync(void **state)
{
        char *dir = make_tmpdir(), *path = join(dir, "history.db");
        vs_store_attempt a = attempt("web1", UUID1, "daily", "daily-1", 1000);
        vs_err err = { 0 };
        vs_store *s;
        int64_t id;

        (void)state;
        assert_int_equal(vs_store_open(path, 0, &s, NULL), 0);
        assert_int_equal(count(s, "PRAGMA synchronous"), 2);
        assert_int_equal(vs_store_begin_create(s, &a, &id, &err), 0);
        assert_int_equal(count(s, "PRAGMA synchronous"), 2);
        assert_int_equal(vs_store_finish_create(s, id, NULL, "memory", 1001, 1002, &err), 0);
        assert_int_equal(count(s, "PRAGMA synchronous"), 2);
        /* A stale transition rolls back: still FULL afterwards. */
        assert_int_equal(vs_store_finish_create(s, id, NULL, "memory", 1001, 1002, &err), -ESTALE);
        assert_int_equal(count(s, "PRAGMA synchronous"), 2);
        assert_int_equal(vs_store_begin_delete(s, id, "keep_last 1", &err), 0);
        assert_int_equal(count(s, "PRAGMA synchronous"), 2);
        assert_int_equal(vs_store_finish_delete(s, id, VS_STORE_DELETED, NULL, NULL, 1003, &err), 0);
        assert_int_equal(count(s, "PRAGMA synchronous"), 2);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE state = 'deleted'"), 1);
        vs_store_free(s);
        rm_rf(dir);
        free(path);
        free(dir);
}

static void
test_modes(void **state)
{
        char *dir = make_tmpdir(), *sub = join(dir, "a/b"), *path = join(dir, "a/b/history.db"),
             *wal = join(dir, "a/b/history.db-wal"), *top = join(dir, "a");
        struct stat st;
        vs_store *s;
        mode_t old = umask(0);

        (void)state;
        /* Even with a permissive umask. */
        assert_int_equal(vs_store_open(path, 0, &s, NULL), 0);
        make_present(s, "web1", UUID1, "daily", "s", 1);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(stat(wal, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(stat(sub, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(stat(top, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        vs_store_free(s);
        umask(old);

        /* An existing directory is used as it is, never chmod'ed. */
        assert_int_equal(chmod(sub, 0750), 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(vs_store_open(path, 0, &s, NULL), 0);
        vs_store_free(s);
        assert_int_equal(stat(sub, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0750);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        rm_rf(dir);
        free(dir);
        free(sub);
        free(path);
        free(wal);
        free(top);
}

static void
test_refuse_foreign_files(void **state)
{
        char *dir = make_tmpdir(), *path = join(dir, "history.db"), *wal = join(dir, "history.db-wal");
        static const char text[] = "not a database, just someone's notes\n";
        char corrupt[4096];
        vs_err err = { 0 };
        vs_store *s = NULL;

        (void)state;
        write_file(path, text, sizeof(text) - 1);
        assert_int_equal(vs_store_open(path, 0, &s, &err), -EINVAL);
        assert_null(s);
        assert_string_equal(err.msg, "not an SQLite database; refusing to use or overwrite it");
        assert_string_equal(err.where, path);
        assert_file_bytes(path, text, sizeof(text) - 1);
        assert_int_equal(access(wal, F_OK), -1);
        assert_int_equal(vs_store_open(path, VS_STORE_READ_ONLY, &s, &err), -EINVAL);
        assert_file_bytes(path, text, sizeof(text) - 1);

        /* The right magic, then garbage: SQLite itself refuses it. */
        memset(corrupt, 0xA5, sizeof(corrupt));
        memcpy(corrupt, "SQLite format 3", 16);
        write_file(path, corrupt, sizeof(corrupt));
        assert_true(vs_store_open(path, 0, &s, &err) < 0);
        assert_null(s);
        assert_true(err.msg[0] != '\0');
        assert_file_bytes(path, corrupt, sizeof(corrupt));

        /* A directory. */
        assert_int_equal(vs_store_open(dir, 0, &s, &err), -EINVAL);
        assert_string_equal(err.msg, "not a regular file");

        /* Read-only never creates. */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(vs_store_open(path, VS_STORE_READ_ONLY, &s, &err), -ENOENT);
        assert_string_equal(err.msg, "no history database here (has the daemon run?)");
        assert_int_equal(access(path, F_OK), -1);

        /* SQLite databases that are not ours: another application_id, or
         * tables without our version. */
        assert_int_equal(vs_store_open(path, 0, &s, &err), 0);
        assert_int_equal(vs__store_exec(s, "PRAGMA application_id = 42", &err), 0);
        vs_store_free(s);
        assert_int_equal(vs_store_open(path, 0, &s, &err), -EINVAL);
        assert_string_equal(err.msg, "an SQLite database of another application (application_id 42)");
        unlink(path);
        assert_int_equal(vs_store_open(path, 0, &s, &err), 0);
        assert_int_equal(vs__store_exec(s, "PRAGMA user_version = 0; PRAGMA application_id = 0", &err), 0);
        vs_store_free(s);
        assert_int_equal(vs_store_open(path, 0, &s, &err), -EINVAL);
        assert_string_equal(err.msg, "an SQLite database that is not virtsnap's; refusing to modify it");
        rm_rf(dir);
        free(path);
        free(wal);
        free(dir);
}

static char *
slurp(const char *path, size_t *ret_len)
{
        char *buf = NULL;
        size_t len = 0;
        char chunk[4096];
        ssize_t n;
        int fd = open(path, O_RDONLY);

        assert_true(fd >= 0);
        while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
                buf = realloc(buf, len + (size_t)n);
                assert_non_null(buf);
                memcpy(buf + len, chunk, (size_t)n);
                len += (size_t)n;
        }
        close(fd);
        *ret_len = len;
        return buf;
}

static void
test_newer_schema(void **state)
{
        char *dir = make_tmpdir(), *path = join(dir, "history.db"), *before, *after;
        size_t before_len, after_len;
        vs_err err = { 0 };
        vs_store *s;

        (void)state;
        assert_int_equal(vs_store_open(path, 0, &s, &err), 0);
        make_present(s, "web1", UUID1, "daily", "s", 1);
        assert_int_equal(vs__store_exec(s, "PRAGMA user_version = 99", &err), 0);
        vs_store_free(s);
        before = slurp(path, &before_len);
        s = NULL;
        assert_int_equal(vs_store_open(path, 0, &s, &err), -EPROTO);
        assert_null(s);
        assert_string_equal(err.msg, "database was written by a newer virtsnap (schema 99 > 6)");
        assert_string_equal(err.where, path);
        assert_int_equal(vs_store_open(path, VS_STORE_READ_ONLY, &s, &err), -EPROTO);
        assert_string_equal(err.msg, "database was written by a newer virtsnap (schema 99 > 6)");
        after = slurp(path, &after_len);
        assert_int_equal(after_len, before_len);
        assert_memory_equal(after, before, before_len);
        free(before);
        free(after);
        rm_rf(dir);
        free(path);
        free(dir);
}

static int
collect_series(const vs_store_series *se, void *userdata)
{
        char **out = userdata;
        char *line;

        assert_true(asprintf(&line, "%s%s|%s|%s|%lld|%u|%u|%s\n", *out ? *out : "", se->domain_name, se->policy,
                             se->has_attempt ? vs_snap_state_to_string(se->last_state) : "-",
                             se->has_success ? (long long)se->last_success : -1LL, se->held, se->pinned,
                             se->last_error ? se->last_error : "-") > 0);
        free(*out);
        *out = line;
        return 0;
}

static void
test_migrations(void **state)
{
        char *dir = make_tmpdir(), *path = join(dir, "history.db"), *empty = join(dir, "empty.db");
        vs_err err = { 0 };
        vs_store *s;

        (void)state;
        /* A database left by a schema-1 virtsnap. */
        assert_int_equal(vs__store_create_at_version(path, 1, &err), 0);
        /* Readers never migrate: they say so. */
        assert_int_equal(vs_store_open(path, VS_STORE_READ_ONLY, &s, &err), -EPROTO);
        assert_string_equal(err.msg, "database schema 1 is older than 6; run the daemon once to upgrade it");
        /* Opening at the version it has is a no-op. */
        assert_int_equal(vs__store_create_at_version(path, 1, &err), 0);
        /* A read-write open migrates 1 -> 2 -> 3 -> 4 -> 5 -> 6. */
        assert_int_equal(vs_store_open(path, 0, &s, &err), 0);
        assert_int_equal(vs_store_schema_version(s), 6);
        assert_int_equal(count(s, "PRAGMA user_version"), 6);
        assert_int_equal(count(s, "SELECT count(*) FROM sqlite_schema WHERE name = 'series'"), 1);
        assert_int_equal(count(s, "SELECT count(*) FROM sqlite_schema WHERE name = 'connections'"), 1);
        assert_int_equal(count(s, "SELECT count(*) FROM pragma_table_info('snapshots')"
                                  " WHERE name IN ('origin', 'hook_error')"),
                         2);
        assert_int_equal(count(s, "SELECT count(*) FROM pragma_table_info('snapshots')"
                                  " WHERE name IN ('expires', 'requested_by', 'note')"),
                         3);
        assert_int_equal(count(s, "SELECT count(*) FROM pragma_table_info('snapshots') WHERE name = 'skip_cause'"), 1);
        assert_int_equal(count(s, "SELECT count(*) FROM pragma_table_info('snapshots') WHERE name = 'deferred'"), 1);
        vs_store_free(s);
        assert_int_equal(vs_store_open(path, VS_STORE_READ_ONLY, &s, &err), 0);
        assert_int_equal(vs_store_schema_version(s), 6);
        vs_store_free(s);

        /* A schema-2 database with rows: its rows read as origin unknown. */
        rm_rf(dir);
        free(dir);
        dir = make_tmpdir();
        free(path);
        path = join(dir, "history.db");
        free(empty);
        empty = join(dir, "empty.db");
        assert_int_equal(vs__store_create_at_version(path, 2, &err), 0);
        assert_int_equal(vs_store_open(path, VS_STORE_READ_ONLY, &s, &err), -EPROTO);
        assert_int_equal(vs_store_open(path, 0, &s, &err), 0);
        assert_int_equal(vs_store_schema_version(s), 6);
        vs_store_free(s);

        /* A zero-byte file is a new database: version 0 -> current. */
        write_file(empty, "", 0);
        assert_int_equal(vs_store_open(empty, VS_STORE_READ_ONLY, &s, &err), -ENOENT);
        assert_string_equal(err.msg, "the history database is empty (has the daemon run?)");
        assert_int_equal(vs_store_open(empty, 0, &s, &err), 0);
        assert_int_equal(vs_store_schema_version(s), 6);
        assert_int_equal(count(s, "PRAGMA application_id"), 0x76736e70);
        vs_store_free(s);
        rm_rf(dir);
        free(path);
        free(empty);
        free(dir);
}

static void
test_migration_backfills_series(void **state)
{
        char *dir = make_tmpdir(), *path = join(dir, "history.db");
        char *series = NULL;
        vs_err err = { 0 };
        vs_store *s;

        (void)state;
        /* Build a v2 database, drop what v2 added and mark it v1: exactly a
         * database a v1 virtsnap would have left, rows included. */
        assert_int_equal(vs_store_open(path, 0, &s, &err), 0);
        make_present(s, "web1", UUID1, "daily", "s-1", 100);
        make_present(s, "web1", UUID1, "hourly", "s-2", 200);
        make_present(s, "db1", UUID2, "daily", "s-3", 300);
        assert_int_equal(vs__store_exec(s,
                                        "DROP TRIGGER snapshots_series; DROP TABLE series;"
                                        " DROP TRIGGER snapshots_series_policy; DROP TABLE connections;"
                                        " ALTER TABLE snapshots DROP COLUMN origin;"
                                        " ALTER TABLE snapshots DROP COLUMN hook_error;"
                                        " DROP INDEX snapshots_expires;"
                                        " ALTER TABLE snapshots DROP COLUMN expires;"
                                        " ALTER TABLE snapshots DROP COLUMN requested_by;"
                                        " ALTER TABLE snapshots DROP COLUMN note;"
                                        " ALTER TABLE snapshots DROP COLUMN skip_cause;"
                                        " ALTER TABLE snapshots DROP COLUMN deferred;"
                                        " PRAGMA user_version = 1",
                                        &err),
                         0);
        vs_store_free(s);

        assert_int_equal(vs_store_open(path, VS_STORE_READ_ONLY, &s, &err), -EPROTO);
        assert_int_equal(vs_store_open(path, 0, &s, &err), 0);
        assert_int_equal(vs_store_schema_version(s), 6);
        assert_int_equal(vs_store_query_series(s, NULL, collect_series, &series, &err), 0);
        assert_string_equal(series, "db1|daily|present|302|1|0|-\n"
                                    "web1|daily|present|102|1|0|-\n"
                                    "web1|hourly|present|202|1|0|-\n");
        free(series);
        series = NULL;
        /* And the trigger keeps it up to date from now on. */
        make_present(s, "mail", "99999999-7777-8888-9999-aaaaaaaaaaaa", "daily", "s-4", 400);
        assert_int_equal(count(s, "SELECT count(*) FROM series"), 4);
        vs_store_free(s);
        rm_rf(dir);
        free(path);
        free(dir);
}

/* ---- schema 3: origin, failed hooks, connections, hand-over --------------------- */

typedef struct origin_seen {
        vs_origin origin[8];
        const char *hook[8];
        char buf[8][64];
        size_t n;
} origin_seen;

static int
collect_origin(const vs_store_row *r, void *userdata)
{
        origin_seen *o = userdata;

        assert_true(o->n < 8);
        o->origin[o->n] = r->origin;
        o->hook[o->n] = NULL;
        if (r->hook_error) {
                snprintf(o->buf[o->n], sizeof(o->buf[o->n]), "%s", r->hook_error);
                o->hook[o->n] = o->buf[o->n];
        }
        o->n++;
        return 0;
}

static int
collect_last_hook(const vs_store_series *se, void *userdata)
{
        char *out = userdata;

        snprintf(out, 64, "%s|%s", se->policy, se->last_hook_error ? se->last_hook_error : "-");
        return 0;
}

static void
test_origin_and_hook_failure(void **state)
{
        vs_store *s = open_memory();
        vs_store_filter f = all_rows();
        vs_store_attempt a = attempt("web1", UUID1, "daily", "s-1", 100);
        origin_seen seen = { 0 };
        char last[64] = "";
        event_lines ev;
        int64_t id;
        vs_err err = { 0 };

        (void)state;
        a.origin = VS_ORIGIN_CATCH_UP;
        assert_int_equal(vs_store_begin_create(s, &a, &id, &err), 0);
        assert_int_equal(vs_store_finish_create(s, id, NULL, "crash", 102, 103, &err), 0);
        assert_int_equal(vs_store_set_hook_failed(s, id, "post hook /bin/false: exit status 1", 104, &err), 0);
        /* The attempt keeps its state: the snapshot exists. */
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE state = 'present'"), 1);
        assert_int_equal(vs_store_set_hook_failed(s, 999, "x", 104, &err), -ESTALE);

        a = attempt("web1", UUID1, "daily", "s-2", 200);
        assert_int_equal(vs_store_begin_create(s, &a, &id, &err), 0); /* origin unknown */
        assert_int_equal(vs_store_query_history(s, &f, collect_origin, &seen, &err), 0);
        assert_int_equal(seen.n, 2);
        assert_int_equal(seen.origin[0], VS_ORIGIN_UNKNOWN);
        assert_null(seen.hook[0]);
        assert_int_equal(seen.origin[1], VS_ORIGIN_CATCH_UP);
        assert_string_equal(seen.hook[1], "post hook /bin/false: exit status 1");

        /* The series reports the newest attempt's hook: s-2 has none yet. */
        assert_int_equal(vs_store_query_series(s, NULL, collect_last_hook, last, &err), 0);
        assert_string_equal(last, "daily|-");
        assert_int_equal(vs_store_finish_create(s, id, NULL, "crash", 202, 203, &err), 0);
        assert_int_equal(vs_store_set_hook_failed(s, id, NULL, 204, &err), 0);
        assert_int_equal(vs_store_query_series(s, NULL, collect_last_hook, last, &err), 0);
        assert_string_equal(last, "daily|hook failed");

        events(s, &ev);
        assert_string_equal(ev.line[1], "hook-failed|s-1|post hook /bin/false: exit status 1");
        events_clear(&ev);
        assert_string_equal(vs_event_kind_level(VS_EVENT_HOOK_FAILED), "err");
        assert_string_equal(vs_event_kind_level(VS_EVENT_DISCONNECTED), "err");
        assert_string_equal(vs_event_kind_level(VS_EVENT_UNDELETABLE), "warning");
        assert_string_equal(vs_event_kind_level(VS_EVENT_CREATED), "info");
        assert_string_equal(vs_origin_to_string(VS_ORIGIN_CATCH_UP), "catch-up");
        assert_int_equal(vs_origin_from_string("manual"), VS_ORIGIN_MANUAL);
        assert_int_equal(vs_origin_from_string("nonsense"), VS_ORIGIN_UNKNOWN);
        vs_store_free(s);
}

static int
collect_last_guard(const vs_store_series *se, void *userdata)
{
        char *out = userdata;

        snprintf(out, 96, "%s|%s|%s", se->policy, vs_snap_state_to_string(se->last_state),
                 se->last_guard ? se->last_guard : "-");
        return 0;
}

static void
test_skip_create(void **state)
{
        vs_store *s = open_memory();
        vs_store_attempt a = attempt("web1", UUID1, "daily", "s-1", 100);
        char last[96] = "";
        event_lines ev;
        int64_t id;
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs_store_begin_create(s, &a, &id, &err), 0);
        assert_int_equal(vs_store_finish_create(s, id, NULL, "crash", 102, 103, &err), 0);
        /* A guard skip: the intent becomes `skipped` with its cause, and the
         * series says so although routine skips are not its newest attempt. */
        a = attempt("web1", UUID1, "daily", "s-2", 200);
        assert_int_equal(vs_store_begin_create(s, &a, &id, &err), 0);
        assert_int_equal(vs_store_skip_create(s, id, VS_SKIP_CAUSE_GUARD, "low space (3.1% free < 10%)", 201, &err), 0);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE state = 'skipped' AND skip_cause = 'guard'"
                                  " AND error_message = 'low space (3.1% free < 10%)' AND finished = 201"),
                         1);
        assert_int_equal(vs_store_skip_create(s, id, VS_SKIP_CAUSE_GUARD, "again", 202, &err), -ESTALE);
        assert_int_equal(vs_store_query_series(s, NULL, collect_last_guard, last, &err), 0);
        assert_string_equal(last, "daily|present|low space (3.1% free < 10%)");
        /* A routine skip after it does not hide it. */
        a = attempt("web1", UUID1, "daily", "s-3", 300);
        assert_int_equal(vs_store_record_skipped(s, &a, "the previous job is still running", NULL, &err), 0);
        assert_int_equal(vs_store_query_series(s, NULL, collect_last_guard, last, &err), 0);
        assert_string_equal(last, "daily|present|low space (3.1% free < 10%)");
        /* A busy skip is routine too; a success clears the guard. */
        a = attempt("web1", UUID1, "daily", "s-4", 400);
        assert_int_equal(vs_store_begin_create(s, &a, &id, &err), 0);
        assert_int_equal(vs_store_skip_create(s, id, VS_SKIP_CAUSE_BUSY, "domain busy (backup job)", 401, &err), 0);
        assert_int_equal(vs_store_query_series(s, NULL, collect_last_guard, last, &err), 0);
        assert_string_equal(last, "daily|present|low space (3.1% free < 10%)");
        a = attempt("web1", UUID1, "daily", "s-5", 500);
        assert_int_equal(vs_store_begin_create(s, &a, &id, &err), 0);
        assert_int_equal(vs_store_finish_create(s, id, NULL, "crash", 502, 503, &err), 0);
        assert_int_equal(vs_store_query_series(s, NULL, collect_last_guard, last, &err), 0);
        assert_string_equal(last, "daily|present|-");

        events(s, &ev);
        assert_true(ev.n >= 5);
        assert_string_equal(ev.line[1], "guarded|s-2|low space (3.1% free < 10%)");
        assert_string_equal(ev.line[3], "skipped|s-4|domain busy (backup job)");
        events_clear(&ev);
        assert_string_equal(vs_event_kind_level(VS_EVENT_GUARDED), "err");
        vs_store_free(s);
}

typedef struct conn_seen {
        char line[4][160];
        size_t n;
} conn_seen;

static int
collect_conn(const vs_store_connection *c, void *userdata)
{
        conn_seen *o = userdata;

        assert_true(o->n < 4);
        snprintf(o->line[o->n++], 160, "%s|%s|%lld|%u|%s|%lld", c->uri, c->up ? "up" : "down", (long long)c->since,
                 c->failures, c->last_error ? c->last_error : "-", (long long)c->last_attempt);
        return 0;
}

static void
test_connections(void **state)
{
        vs_store *s = open_memory();
        conn_seen seen = { 0 };
        unsigned failures = 0;
        bool was_down = true;
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs_store_connection_up(s, CONN, 100, &was_down, &err), 0);
        assert_false(was_down);
        /* Up again: nothing is written. */
        assert_int_equal(vs_store_connection_up(s, CONN, 150, &was_down, &err), 0);
        assert_false(was_down);
        assert_int_equal(count(s, "SELECT last_attempt FROM connections"), 100);
        assert_int_equal(vs_store_connection_down(s, CONN, "Connection refused", 200, &failures, &err), 0);
        assert_int_equal(failures, 1);
        assert_int_equal(vs_store_connection_down(s, CONN, "No route to host", 201, &failures, &err), 0);
        assert_int_equal(vs_store_connection_down(s, CONN, "No route to host", 203, &failures, &err), 0);
        assert_int_equal(failures, 3);
        assert_int_equal(vs_store_query_connections(s, collect_conn, &seen, &err), 0);
        assert_int_equal(seen.n, 1);
        assert_string_equal(seen.line[0], CONN "|down|200|3|No route to host|203");
        /* One event per edge, not per attempt. */
        assert_int_equal(count(s, "SELECT count(*) FROM events WHERE kind = 'disconnected'"), 1);
        assert_int_equal(vs_store_connection_up(s, CONN, 300, &was_down, &err), 0);
        assert_true(was_down);
        seen.n = 0;
        assert_int_equal(vs_store_query_connections(s, collect_conn, &seen, &err), 0);
        assert_string_equal(seen.line[0], CONN "|up|300|0|-|300");
        assert_int_equal(count(s, "SELECT count(*) FROM events WHERE kind = 'reconnected'"
                                  " AND message = 'reachable again after 3 failed attempts'"),
                         1);
        /* A connection never reached is down from its first attempt. */
        assert_int_equal(vs_store_connection_down(s, "qemu+ssh://gone/system", "timeout", 400, &failures, &err), 0);
        assert_int_equal(failures, 1);
        assert_int_equal(count(s, "SELECT count(*) FROM events WHERE kind = 'disconnected'"), 2);
        vs_store_free(s);
}

static void
test_hand_over(void **state)
{
        vs_store *s = open_memory();
        char *series = NULL;
        unsigned moved = 99;
        vs_err err = { 0 };
        int64_t gone;

        (void)state;
        make_present(s, "web1", UUID1, "old", "o-1", 100);
        make_present(s, "web1", UUID1, "old", "o-2", 200);
        gone = make_present(s, "web1", UUID1, "old", "o-3", 300);
        assert_int_equal(vs_store_begin_delete(s, gone, "keep_last 2", &err), 0);
        assert_int_equal(vs_store_finish_delete(s, gone, VS_STORE_DELETED, NULL, NULL, 301, &err), 0);
        make_present(s, "db1", UUID2, "old", "o-1", 100);

        assert_int_equal(vs_store_hand_over(s, CONN, UUID1, "old", "new", 500, &moved, &err), 0);
        assert_int_equal(moved, 2);
        /* Live rows move, history (the deleted row) stays as it was, other
         * domains are untouched. */
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE policy = 'new'"), 2);
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE policy = 'old'"), 2);
        assert_int_equal(count(s, "SELECT count(*) FROM events WHERE kind = 'handed-over' AND policy = 'new'"), 2);
        assert_int_equal(vs_store_query_series(s, NULL, collect_series, &series, &err), 0);
        assert_string_equal(series, "db1|old|present|102|1|0|-\n"
                                    "web1|new|present|202|2|0|-\n"
                                    "web1|old|deleted|302|0|0|-\n");
        free(series);
        assert_int_equal(vs_store_hand_over(s, CONN, UUID1, "old", "new", 501, &moved, &err), 0);
        assert_int_equal(moved, 0);
        assert_int_equal(vs_store_hand_over(s, CONN, UUID1, "same", "same", 501, &moved, &err), -EINVAL);
        vs_store_free(s);
}

/* ---- hostile input, read-only, full ---------------------------------------- */

static void
test_hostile_strings(void **state)
{
        static const char *const nasty[] = {
                "'; DROP TABLE snapshots; --",
                "\"quoted\" name",
                "ドメイン-é-🙂",
                "back\\slash %s %n",
                "line\nbreak\ttab",
        };
        vs_store *s = open_memory();
        vs_store_filter f = all_rows();
        vs_err err = { 0 };
        event_lines ev;
        rows r;

        (void)state;
        for (size_t i = 0; i < VS_ELEMENTSOF(nasty); i++) {
                char uuid[37];
                vs_store_attempt a;
                int64_t id;

                snprintf(uuid, sizeof(uuid), "00000000-0000-0000-0000-%012zu", i);
                a = attempt(nasty[i], uuid, nasty[(i + 1) % VS_ELEMENTSOF(nasty)], "snap-1", 100 + (int64_t)i);
                assert_int_equal(vs_store_begin_create(s, &a, &id, &err), 0);
                assert_int_equal(vs_store_finish_create(s, id, NULL, "crash", 0, 200, &err), 0);
                assert_int_equal(vs_store_pin(s, nasty[i], "snap-1", nasty[(i + 2) % VS_ELEMENTSOF(nasty)], 300,
                                              NULL, &err),
                                 0);
        }
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots"), (int64_t)VS_ELEMENTSOF(nasty));
        for (size_t i = 0; i < VS_ELEMENTSOF(nasty); i++) {
                f.domain = nasty[i];
                history(s, &f, &r);
                assert_int_equal(r.n, 1);
                assert_string_equal(r.domain[0], nasty[i]);
                assert_string_equal(r.policy[0], nasty[(i + 1) % VS_ELEMENTSOF(nasty)]);
                assert_string_equal(r.pin_reason[0], nasty[(i + 2) % VS_ELEMENTSOF(nasty)]);
                assert_true(r.pinned[0]);
                rows_clear(&r);
                f.domain = NULL;
                f.policy = nasty[i];
                history(s, &f, &r);
                assert_int_equal(r.n, 1);
                assert_string_equal(r.domain[0], nasty[(i + VS_ELEMENTSOF(nasty) - 1) % VS_ELEMENTSOF(nasty)]);
                rows_clear(&r);
                f.policy = NULL;
        }
        events(s, &ev);
        assert_int_equal(ev.n, 2 * VS_ELEMENTSOF(nasty));
        assert_string_equal(ev.line[0], "created|snap-1|crash");
        assert_string_equal(ev.line[VS_ELEMENTSOF(nasty)], "pinned|snap-1|ドメイン-é-🙂");
        events_clear(&ev);
        vs_store_free(s);
}

static void
test_read_only(void **state)
{
        char *dir = make_tmpdir(), *path = join(dir, "history.db");
        vs_store *s, *ro;
        vs_store_attempt a = attempt("web1", UUID1, "daily", "x", 1);
        vs_store_filter f = all_rows();
        vs_err err = { 0 };
        int64_t id;
        rows r;
        int status;
        pid_t pid;

        (void)state;
        assert_int_equal(vs_store_open(path, 0, &s, &err), 0);
        make_present(s, "web1", UUID1, "daily", "s-1", 100);

        /* A reader while the writer holds a write transaction: WAL lets it
         * read the last committed state without waiting. */
        assert_int_equal(vs__store_begin(s, &err), 0);
        assert_int_equal(vs__store_exec(s, "UPDATE snapshots SET pinned = 1", &err), 0);
        assert_int_equal(vs_store_open(path, VS_STORE_READ_ONLY, &ro, &err), 0);
        history(ro, &f, &r);
        assert_int_equal(r.n, 1);
        assert_false(r.pinned[0]);
        rows_clear(&r);
        assert_int_equal(vs__store_commit(s, &err), 0);

        /* Writes through a read-only store are refused, not attempted. */
        assert_int_equal(vs_store_begin_create(ro, &a, &id, &err), -EROFS);
        assert_string_equal(err.msg, "the history database was opened read-only");
        assert_int_equal(vs_store_pin(ro, "web1", "s-1", NULL, 1, NULL, &err), -EROFS);
        assert_int_equal(vs_store_reconcile(ro, CONN, UUID1, "web1", NULL, 0, 1, NULL, NULL, &err), -EROFS);
        vs_store_free(ro);
        vs_store_free(s);

        /* A file the process may not write: a clear error, not a crash.
         * Root ignores modes, so the child drops to nobody when root. */
        assert_int_equal(chmod(path, 0444), 0);
        assert_int_equal(chmod(dir, 0755), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                vs_err e = { 0 };
                vs_store *w = NULL;
                int64_t i;
                int rr;

                if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
                        _exit(10);
                rr = vs_store_open(path, 0, &w, &e);
                if (rr == 0) {
                        /* Opened: the first write must fail cleanly. */
                        rr = vs_store_begin_create(w, &a, &i, &e);
                        vs_store_free(w);
                }
                if (rr == 0 || e.msg[0] == '\0')
                        _exit(11);
                fprintf(stderr, "read-only open as uid %d: %s: %s (%s)\n", (int)geteuid(), e.where, e.msg,
                        strerror(-rr));
                _exit(rr == -EROFS || rr == -EACCES || rr == -ENOENT ? 0 : 12);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        rm_rf(dir);
        free(path);
        free(dir);
}

static void
test_disk_full(void **state)
{
        char *dir = make_tmpdir(), *path = join(dir, "history.db");
        vs_store *s;
        vs_err err = { 0 };
        int64_t id = 0, before;
        int r = 0;
        char name[64];

        (void)state;
        assert_int_equal(vs_store_open(path, 0, &s, &err), 0);
        before = count(s, "PRAGMA page_count");
        assert_int_equal(vs__store_set_max_pages(s, (unsigned)before + 2), 0);
        for (int i = 0; i < 10000 && r == 0; i++) {
                vs_store_attempt a = attempt("web1", UUID1, "daily", name, i);

                snprintf(name, sizeof(name), "a-fairly-long-snapshot-name-to-fill-pages-%06d", i);
                r = vs_store_begin_create(s, &a, &id, &err);
        }
        assert_int_equal(r, -ENOSPC);
        assert_non_null(strstr(err.msg, "no space left on the device"));
        assert_int_equal(err.code & 0xff, 13); /* SQLITE_FULL */
        /* The store still works for reads, and the failed insert left nothing. */
        assert_int_equal(count(s, "SELECT count(*) FROM snapshots WHERE snapshot = '" "x" "'"), 0);
        vs_store_free(s);
        rm_rf(dir);
        free(path);
        free(dir);
}

/* ---- query plans ------------------------------------------------------------- */

static void
assert_plan(vs_store *s, const char *which, const char *must, const char *must_not)
{
        char *plan = NULL;

        assert_int_equal(vs__store_explain(s, which, &plan, NULL), 0);
        if (!strstr(plan, must) || (must_not && strstr(plan, must_not))) {
                fprintf(stderr, "plan of %s:\n%s(wanted '%s'%s%s)\n", which, plan, must,
                        must_not ? ", not " : "", must_not ? must_not : "");
                fail();
        }
        free(plan);
}

static void
test_query_plans(void **state)
{
        vs_store *s = open_memory();

        (void)state;
        assert_plan(s, "history-domain", "USING INDEX snapshots_domain_name (domain_name=? AND started>? AND started<?)",
                    "TEMP B-TREE");
        assert_plan(s, "history-all", "USING INDEX snapshots_started", "TEMP B-TREE");
        assert_plan(s, "history-uuid", "snapshots_domain_uuid", NULL);
        assert_plan(s, "events-domain", "USING INDEX events_domain_name (domain_name=? AND time>? AND time<?)",
                    "TEMP B-TREE");
        assert_plan(s, "events-all", "USING INDEX events_time", "TEMP B-TREE");
        assert_plan(s, "held", "USING INDEX snapshots_live (connection=? AND domain_uuid=? AND policy=?)", NULL);
        assert_plan(s, "last-success", "USING INDEX snapshots_series (connection=? AND domain_uuid=? AND policy=?)",
                    "TEMP B-TREE");
        assert_plan(s, "reconcile", "USING INDEX snapshots_live (connection=? AND domain_uuid=?)", NULL);
        assert_plan(s, "series", "snapshots_series", NULL);
        assert_plan(s, "series", "snapshots_live", NULL);
        vs_store_free(s);
}

int
main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create_success),
                cmocka_unit_test(test_create_failure_and_skip),
                cmocka_unit_test(test_delete_outcomes),
                cmocka_unit_test(test_pin_unpin),
                cmocka_unit_test(test_events_append_only),
                cmocka_unit_test(test_reconcile_cases),
                cmocka_unit_test(test_crash_after_intent),
                cmocka_unit_test(test_intents_stay_full_sync),
                cmocka_unit_test(test_group_commit),
                cmocka_unit_test(test_group_commit_fails),
                cmocka_unit_test(test_group_all_or_nothing),
                cmocka_unit_test(test_modes),
                cmocka_unit_test(test_refuse_foreign_files),
                cmocka_unit_test(test_newer_schema),
                cmocka_unit_test(test_migrations),
                cmocka_unit_test(test_skip_create),
                cmocka_unit_test(test_migration_backfills_series),
                cmocka_unit_test(test_origin_and_hook_failure),
                cmocka_unit_test(test_connections),
                cmocka_unit_test(test_hand_over),
                cmocka_unit_test(test_lifetimes),
                cmocka_unit_test(test_hostile_strings),
                cmocka_unit_test(test_read_only),
                cmocka_unit_test(test_disk_full),
                cmocka_unit_test(test_query_plans),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
