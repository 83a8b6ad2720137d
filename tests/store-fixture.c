/* store-fixture: writes realistic history through the store API, the way
 * the daemon will (intent rows, outcomes, prunes, pins, events), so that the
 * CLI tests can run the real `virtsnap history/events/status/pin/monitor`
 * against known data.  Built for the tests only, never installed.
 *
 *   store-fixture demo DB      the fixed data set the CLI tests expect
 *   store-fixture crash DB     commit a `creating` intent, then die by
 *                              SIGKILL before finishing it (a crash between
 *                              the intent and the hypervisor call)
 *   store-fixture series DB N  N (domain, daily) series with one present
 *                              snapshot each, for quick scale checks
 *   store-fixture health DB    one series per health word of cli/health.h
 *   store-fixture guard DB     web1/daily: a snapshot, then a create skipped by
 *                              the guard, then a routine skip; db1/daily: a
 *                              snapshot, then a busy skip
 *                              (hook-failed, undeletable, orphaned) and a
 *                              connection that went down at BASE + 2 days
 *   store-fixture intents DB URI
 *                              rows in flight and present for domain "app"
 *                              of tests/data/node-reconcile.xml on URI, one
 *                              for each reconcile rule */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define DAY 86400
#define BASE INT64_C(1772942400) /* 2026-03-08T04:00:00Z */
#define CONN "qemu:///system"
#define WEB1 "6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e01"
#define DB1 "6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e02"
#define ODD "6f1c3bde-0c4a-4c55-9d2e-1a2b3c4d5e03"
#define ODD_NAME "o'brien \"test\" ドメイン"
#define ODD_POLICY "'; DROP TABLE snapshots; --"

static int
check(int r, const vs_err *err, const char *what)
{
        if (r < 0) {
                fprintf(stderr, "store-fixture: %s: %s: %s (%s)\n", what, err->where, err->msg, strerror(-r));
                exit(1);
        }
        return r;
}

static int64_t
create_ok(vs_store *s, const char *domain, const char *uuid, const char *policy, const char *name,
          int64_t slot, const char *consistency)
{
        vs_store_attempt a = {
                .connection = CONN,
                .domain_uuid = uuid,
                .domain_name = domain,
                .policy = policy,
                .snapshot = name,
                .type = "internal",
                .quiesce = consistency && strcmp(consistency, "quiesced") == 0,
                .scheduled = slot,
                .started = slot + 1,
        };
        vs_err err = { 0 };
        int64_t id;

        check(vs_store_begin_create(s, &a, &id, &err), &err, "begin_create");
        check(vs_store_finish_create(s, id, NULL, consistency, slot + 2, slot + 5, &err), &err, "finish_create");
        return id;
}

static void
create_failed(vs_store *s, const char *domain, const char *uuid, const char *policy, const char *name,
              int64_t slot, int code, const char *msg)
{
        vs_store_attempt a = {
                .connection = CONN,
                .domain_uuid = uuid,
                .domain_name = domain,
                .policy = policy,
                .snapshot = name,
                .type = "internal",
                .scheduled = slot,
                .started = slot + 1,
        };
        vs_err err = { 0 }, why = { 0 };
        int64_t id;

        check(vs_store_begin_create(s, &a, &id, &err), &err, "begin_create");
        vs_err_set(&why, EIO, "libvirt", "%s", msg);
        why.code = code;
        why.domain = 10; /* VIR_FROM_QEMU */
        check(vs_store_fail_create(s, id, &why, slot + 30, &err), &err, "fail_create");
}

static void
demo(vs_store *s)
{
        vs_err err = { 0 };
        vs_store_attempt skip = {
                .connection = CONN,
                .domain_uuid = WEB1,
                .domain_name = "web1",
                .policy = "hourly",
                .snapshot = "hourly-20260310T110000Z",
                .type = "internal",
                .scheduled = BASE + 2 * DAY + 7 * 3600,
                .started = BASE + 2 * DAY + 7 * 3600,
        };
        vs_store_event reload = {
                .time = BASE + DAY + 7200,
                .kind = VS_EVENT_RELOADED,
                .message = "policies.yaml: 2 policies",
        };
        int64_t web1_d1, db1_d2;

        web1_d1 = create_ok(s, "web1", WEB1, "daily", "daily-20260308T040000Z", BASE, "quiesced");
        create_ok(s, "db1", DB1, "daily", "daily-20260308T040000Z", BASE + 2, "crash");
        check(vs_store_append_event(s, &reload, &err), &err, "append_event");
        create_ok(s, "web1", WEB1, "daily", "daily-20260309T040000Z", BASE + DAY, "quiesced");
        db1_d2 = create_ok(s, "db1", DB1, "daily", "daily-20260309T040000Z", BASE + DAY + 2, "crash");
        create_ok(s, ODD_NAME, ODD, ODD_POLICY, "x-1", BASE + DAY + 3600, "crash");
        create_ok(s, "web1", WEB1, "daily", "daily-20260310T040000Z", BASE + 2 * DAY, "quiesced");
        check(vs_store_begin_delete(s, web1_d1, "keep_last 2: 3rd newest", &err), &err, "begin_delete");
        check(vs_store_finish_delete(s, web1_d1, VS_STORE_DELETED, NULL, NULL, BASE + 2 * DAY + 10, &err),
              &err, "finish_delete");
        check(vs_store_begin_delete(s, db1_d2, "keep_last 1: 2nd newest", &err), &err, "begin_delete");
        {
                vs_err why = { 0 };

                vs_err_set(&why, EPERM, "libvirt", "mixed internal and external snapshots");
                check(vs_store_finish_delete(s, db1_d2, VS_STORE_UNDELETABLE, NULL, &why, BASE + 2 * DAY + 12,
                                             &err),
                      &err, "finish_delete");
        }
        create_failed(s, "db1", DB1, "daily", "daily-20260310T040000Z", BASE + 2 * DAY + 2, 86,
                      "Guest agent is not responding: QEMU guest agent is not connected");
        create_failed(s, "web1", WEB1, "hourly", "hourly-20260310T100000Z", BASE + 2 * DAY + 6 * 3600, 68,
                      "Timed out during operation: cannot acquire state change lock");
        check(vs_store_record_skipped(s, &skip, "previous job on web1 still running", NULL, &err), &err,
              "record_skipped");
        check(vs_store_pin(s, "db1", "daily-20260308T040000Z", "before the schema migration, \"v2\"",
                           BASE + 2 * DAY + 3 * 3600, NULL, &err),
              &err, "pin");
}

static void
crash(vs_store *s)
{
        vs_store_attempt a = {
                .connection = "test:///default",
                .domain_uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f",
                .domain_name = "test",
                .policy = "daily",
                .snapshot = "daily-crashed",
                .type = "internal",
                .scheduled = BASE,
                .started = BASE + 1,
        };
        vs_err err = { 0 };
        int64_t id;

        check(vs_store_begin_create(s, &a, &id, &err), &err, "begin_create");
        printf("%lld\n", (long long)id);
        fflush(stdout);
        raise(SIGKILL);
}

static void
intents(vs_store *s, const char *uri)
{
        static const char *const names[] = { "daily-1", "daily-3", "daily-0", "daily-2", "daily-old" };
        vs_err err = { 0 };
        int64_t id[5];

        for (int i = 0; i < 5; i++) {
                vs_store_attempt a = {
                        .connection = uri,
                        .domain_uuid = "11111111-2222-4333-8444-555555555555",
                        .domain_name = "app",
                        .policy = "daily",
                        .snapshot = names[i],
                        .type = "internal",
                        .scheduled = BASE + i * 3600,
                        .started = BASE + i * 3600 + 1,
                };

                check(vs_store_begin_create(s, &a, &id[i], &err), &err, "begin_create");
                if (i >= 2)
                        check(vs_store_finish_create(s, id[i], NULL, "memory", a.started + 1, a.started + 3, &err),
                              &err, "finish_create");
        }
        /* daily-1 and daily-3: creating; daily-0: present; daily-2 and
         * daily-old: deleting. */
        check(vs_store_begin_delete(s, id[3], "keep_last 1: 2nd newest", &err), &err, "begin_delete");
        check(vs_store_begin_delete(s, id[4], "keep_last 1: 3rd newest", &err), &err, "begin_delete");
}

static void
series(vs_store *s, long n)
{
        for (long i = 0; i < n; i++) {
                char name[32], uuid[64];

                snprintf(name, sizeof(name), "vm%05ld", i);
                snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012ld", i);
                create_ok(s, name, uuid, "daily", "daily-1", BASE, "crash");
        }
}

static void
health(vs_store *s)
{
        vs_err err = { 0 }, why = { 0 };
        int64_t id, deferred;

        /* web1/daily: the post hook of the newest snapshot failed. */
        create_ok(s, "web1", WEB1, "daily", "daily-1", BASE, "quiesced");
        id = create_ok(s, "web1", WEB1, "daily", "daily-2", BASE + DAY, "quiesced");
        check(vs_store_set_hook_failed(s, id, "post hook /usr/local/bin/thaw failed: exit status 1", BASE + DAY + 6,
                                       &err),
              &err, "set_hook_failed");
        /* db1/daily: fine, but one snapshot libvirt cannot delete, and one
         * whose pruning it put off (deferred). */
        deferred = create_ok(s, "db1", DB1, "daily", "daily-1", BASE, "crash");
        id = create_ok(s, "db1", DB1, "daily", "daily-0", BASE - DAY, "crash");
        create_ok(s, "db1", DB1, "daily", "daily-2", BASE + DAY, "crash");
        check(vs_store_begin_delete(s, id, "keep_last 2: 3rd newest", &err), &err, "begin_delete");
        check(vs_store_finish_delete(s, id, VS_STORE_UNDELETABLE, NULL, NULL, BASE + DAY + 10, &err), &err,
              "finish_delete");
        vs_err_set(&why, EAGAIN, "libvirt", "domain is shut off; its chain needs it running");
        check(vs_store_begin_delete(s, deferred, "keep_last 1: 2nd newest", &err), &err, "begin_delete");
        check(vs_store_finish_delete(s, deferred, VS_STORE_DEFERRED, NULL, &why, BASE + DAY + 11, &err), &err,
              "finish_delete");
        /* web1/weekly: a policy that is no longer in the file. */
        create_ok(s, "web1", WEB1, "weekly", "weekly-1", BASE, "quiesced");
        /* A second host, down since BASE + 2 days after 7 attempts. */
        check(vs_store_connection_up(s, CONN, BASE - DAY, NULL, &err), &err, "connection_up");
        check(vs_store_connection_up(s, "qemu+ssh://kvm2/system", BASE - DAY, NULL, &err), &err, "connection_up");
        for (int i = 0; i < 7; i++)
                check(vs_store_connection_down(s, "qemu+ssh://kvm2/system", "Connection refused", BASE + 2 * DAY + i * 60,
                                               NULL, &err),
                      &err, "connection_down");
}

static void
skip_after_intent(vs_store *s, const char *domain, const char *uuid, const char *name, int64_t slot,
                  vs_skip_cause cause, const char *why)
{
        vs_store_attempt a = {
                .connection = CONN, .domain_uuid = uuid, .domain_name = domain, .policy = "daily",
                .snapshot = name, .type = "internal", .scheduled = slot, .started = slot + 1,
        };
        vs_err err = { 0 };
        int64_t id;

        check(vs_store_begin_create(s, &a, &id, &err), &err, "begin_create");
        check(vs_store_skip_create(s, id, cause, why, slot + 3, &err), &err, "skip_create");
}

static void
guard(vs_store *s)
{
        vs_store_attempt a = {
                .connection = CONN, .domain_uuid = WEB1, .domain_name = "web1", .policy = "daily",
                .type = "internal", .scheduled = BASE + DAY + 60, .started = BASE + DAY + 61,
        };
        vs_err err = { 0 };

        create_ok(s, "web1", WEB1, "daily", "daily-1", BASE, "crash");
        skip_after_intent(s, "web1", WEB1, "daily-2", BASE + DAY, VS_SKIP_CAUSE_GUARD,
                          "low space (3.1% free < 10%) for vda (/var/lib/libvirt/images/web1.qcow2)");
        check(vs_store_record_skipped(s, &a, "the previous job for this domain and policy is still running", NULL,
                                      &err),
              &err, "record_skipped");
        create_ok(s, "db1", DB1, "daily", "daily-1", BASE, "crash");
        skip_after_intent(s, "db1", DB1, "daily-2", BASE + DAY, VS_SKIP_CAUSE_BUSY,
                          "domain busy (backup job), for the whole job timeout");
}

int
main(int argc, char **argv)
{
        vs_store *s;
        vs_err err = { 0 };

        if (argc < 3 || ((strcmp(argv[1], "series") == 0 || strcmp(argv[1], "intents") == 0) && argc < 4)) {
                fprintf(stderr, "usage: store-fixture demo|crash|health|guard DB | series DB N | intents DB URI\n");
                return 2;
        }
        check(vs_store_open(argv[2], 0, &s, &err), &err, "open");
        if (strcmp(argv[1], "demo") == 0)
                demo(s);
        else if (strcmp(argv[1], "crash") == 0)
                crash(s);
        else if (strcmp(argv[1], "health") == 0)
                health(s);
        else if (strcmp(argv[1], "guard") == 0)
                guard(s);
        else if (strcmp(argv[1], "intents") == 0)
                intents(s, argv[3]);
        else if (strcmp(argv[1], "series") == 0)
                series(s, strtol(argv[3], NULL, 10));
        else
                return 2;
        vs_store_free(s);
        return 0;
}
