/* Integration tests of virt/virt-libvirt.c on libvirt's embedded test
 * driver: test:///default (one running domain "test", state shared by every
 * connection of this process) for listing, internal snapshot creation with
 * the ownership marker, unique names, the tree, deletion (plain, subtree,
 * foreign refused, missing), error classification and events; and a
 * test:///FILE node with 50 domains for tags, states and selector counts.
 * Foreign snapshots are made through the raw libvirt API, as an admin's
 * virsh would. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <uv.h>

#include "strv.h"
#include "virt.h"

#define TEST_URI "test:///default"

static vs_virt *
open_uri(const char *uri)
{
        vs_virt *v = NULL;
        vs_err err = { 0 };
        int r = vs_virt_open_libvirt(uri, &v, &err);

        if (r < 0)
                fail_msg("open %s: %s", uri, err.msg);
        return v;
}

static char *
node_uri(void)
{
        const char *root = getenv("VS_SOURCE_ROOT");
        char *uri = NULL;

        assert_non_null(root);
        assert_true(asprintf(&uri, "test://%s/tests/data/node-50.xml", root) > 0);
        return uri;
}

static const vs_snapshot_info *
find(const vs_snapshot_tree *t, const char *name)
{
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->items[i].name, name) == 0)
                        return &t->items[i];
        return NULL;
}

static const vs_delete_result *
result(const vs_delete_results *r, const char *name)
{
        for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->items[i].name, name) == 0)
                        return &r->items[i];
        fail_msg("no result for %s", name);
        return NULL;
}

static void
create(vs_virt *v, const char *domain, const char *policy, const char *name, const char *desc,
       vs_create_result *res)
{
        vs_snapshot_spec spec = { .type = VS_SNAP_INTERNAL, .quiesce = VS_QUIESCE_OFF, .timeout = 60 };
        vs_create_request req = {
                .domain = domain, .policy = policy, .spec = &spec, .name = name, .description = desc
        };
        vs_err err = { 0 };
        int r = vs_virt_create_snapshot(v, &req, res, &err);

        if (r < 0)
                fail_msg("create %s on %s: %s", name, domain, err.msg);
}

/* A snapshot virtsnap did not make, as `virsh snapshot-create-as` would. */
static void
create_foreign(const char *uri, const char *domain, const char *name)
{
        virConnectPtr c = virConnectOpen(uri);
        virDomainPtr d;
        virDomainSnapshotPtr s;
        char xml[256];

        assert_non_null(c);
        d = virDomainLookupByName(c, domain);
        assert_non_null(d);
        snprintf(xml, sizeof(xml), "<domainsnapshot><name>%s</name><description>by hand</description></domainsnapshot>",
                 name);
        s = virDomainSnapshotCreateXML(d, xml, 0);
        assert_non_null(s);
        virDomainSnapshotFree(s);
        virDomainFree(d);
        virConnectClose(c);
}

static void
delete_foreign(const char *uri, const char *domain, const char *name)
{
        virConnectPtr c = virConnectOpen(uri);
        virDomainPtr d;
        virDomainSnapshotPtr s;

        assert_non_null(c);
        d = virDomainLookupByName(c, domain);
        assert_non_null(d);
        s = virDomainSnapshotLookupByName(d, name, 0);
        assert_non_null(s);
        assert_int_equal(virDomainSnapshotDelete(s, 0), 0);
        virDomainSnapshotFree(s);
        virDomainFree(d);
        virConnectClose(c);
}

static int
raw_snapshot_count(const char *uri, const char *domain)
{
        virConnectPtr c = virConnectOpen(uri);
        virDomainPtr d;
        int n;

        assert_non_null(c);
        d = virDomainLookupByName(c, domain);
        assert_non_null(d);
        n = virDomainSnapshotNum(d, 0);
        virDomainFree(d);
        virConnectClose(c);
        return n;
}

static void
test_list_domains_default(void **state)
{
        vs_virt *v = open_uri(TEST_URI);
        vs_domain_list l = { 0 };
        vs_err err = { 0 };

        (void)state;
        assert_string_equal(vs_virt_uri(v), TEST_URI);
        assert_true(vs_virt_alive(v));
        assert_int_equal(vs_virt_list_domains(v, &l, &err), 0);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.items[0].name, "test");
        assert_string_equal(l.items[0].uuid, "6695eb01-f6a4-8304-79aa-97f2502e193f");
        assert_int_equal(l.items[0].state, VS_DOMAIN_RUNNING);
        assert_true(l.items[0].persistent);
        assert_null(l.items[0].tags);
        vs_domain_list_clear(&l);
        vs_virt_free(v);
}

static void
test_create_list_delete(void **state)
{
        vs_virt *v = open_uri(TEST_URI);
        vs_create_result r1 = { 0 }, r2 = { 0 };
        vs_snapshot_tree t = { 0 };
        vs_delete_results dr = { 0 };
        vs_err err = { 0 };
        const vs_snapshot_info *s;

        (void)state;
        create(v, "test", "daily", "daily-1", "nightly\n", &r1);
        assert_string_equal(r1.name, "daily-1");
        assert_int_equal(r1.consistency, VS_CONSISTENCY_MEMORY);
        assert_false(r1.quiesce_fell_back);
        assert_null(r1.disk_files);
        assert_null(r1.memory_file);

        /* Same name again: made unique, never overwritten. */
        create(v, "test", "daily", "daily-1", NULL, &r2);
        assert_string_equal(r2.name, "daily-1-2");

        create_foreign(TEST_URI, "test", "hand");

        assert_int_equal(vs_virt_list_snapshots(v, "test", &t, &err), 0);
        assert_int_equal(t.n, 3);
        /* Topological order: parents first. */
        assert_string_equal(t.items[0].name, "daily-1");
        s = find(&t, "daily-1");
        assert_null(s->parent);
        assert_string_equal(s->owner_policy, "daily");
        assert_string_equal(s->description, "nightly");
        assert_string_equal(s->state, "running");
        assert_true(s->has_memory);
        assert_false(s->external);
        assert_false(s->current);
        assert_true(s->creation_time > 1700000000);
        s = find(&t, "daily-1-2");
        assert_string_equal(s->parent, "daily-1");
        assert_string_equal(s->owner_policy, "daily");
        assert_null(s->description);
        s = find(&t, "hand");
        assert_string_equal(s->parent, "daily-1-2");
        assert_null(s->owner_policy);
        assert_string_equal(s->description, "by hand");
        assert_true(s->current);
        vs_snapshot_tree_clear(&t);

        /* daily-1 goes alone (its descendants are not all requested); the
         * foreign one is refused; an unknown name is missing. */
        assert_int_equal(vs_virt_delete_snapshots(v, "test", (char *[]){ "hand", "daily-1", "nosuch", NULL }, &dr,
                                                  &err),
                         0);
        assert_int_equal(dr.n, 3);
        assert_string_equal(dr.items[0].name, "hand");
        assert_int_equal(result(&dr, "hand")->outcome, VS_DELETE_REFUSED);
        assert_int_equal(result(&dr, "daily-1")->outcome, VS_DELETE_DELETED);
        assert_false(vs_err_is_set(&result(&dr, "daily-1")->err));
        assert_int_equal(result(&dr, "nosuch")->outcome, VS_DELETE_MISSING);
        vs_delete_results_clear(&dr);

        assert_int_equal(vs_virt_list_snapshots(v, "test", &t, &err), 0);
        assert_int_equal(t.n, 2);
        assert_null(find(&t, "daily-1"));
        assert_null(find(&t, "daily-1-2")->parent); /* re-parented by libvirt */
        assert_non_null(find(&t, "hand"));
        vs_snapshot_tree_clear(&t);

        /* Deleting the foreign one's parent keeps the foreign one. */
        assert_int_equal(vs_virt_delete_snapshots(v, "test", (char *[]){ "daily-1-2", NULL }, &dr, &err), 0);
        assert_int_equal(result(&dr, "daily-1-2")->outcome, VS_DELETE_DELETED);
        vs_delete_results_clear(&dr);
        assert_int_equal(raw_snapshot_count(TEST_URI, "test"), 1);

        /* Clean up the foreign snapshot through the raw API. */
        delete_foreign(TEST_URI, "test", "hand");
        vs_create_result_clear(&r1);
        vs_create_result_clear(&r2);
        vs_virt_free(v);
}

static void
test_delete_subtree(void **state)
{
        vs_virt *v = open_uri(TEST_URI);
        vs_create_result r = { 0 };
        vs_delete_results dr = { 0 };
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(raw_snapshot_count(TEST_URI, "test"), 0);
        create(v, "test", "p", "a", NULL, &r);
        vs_create_result_clear(&r);
        create(v, "test", "p", "b", NULL, &r);
        vs_create_result_clear(&r);
        create(v, "test", "p", "c", NULL, &r);
        vs_create_result_clear(&r);
        assert_int_equal(raw_snapshot_count(TEST_URI, "test"), 3);
        assert_int_equal(vs_virt_delete_snapshots(v, "test", (char *[]){ "c", "b", "a", NULL }, &dr, &err), 0);
        assert_int_equal(dr.n, 3);
        for (size_t i = 0; i < dr.n; i++)
                assert_int_equal(dr.items[i].outcome, VS_DELETE_DELETED);
        vs_delete_results_clear(&dr);
        assert_int_equal(raw_snapshot_count(TEST_URI, "test"), 0);
        vs_virt_free(v);
}

static void
test_errors(void **state)
{
        vs_virt *v = open_uri(TEST_URI);
        vs_snapshot_spec spec = { .type = VS_SNAP_INTERNAL, .timeout = 60 };
        vs_create_request req = { .domain = "test", .policy = "p", .spec = &spec, .name = ".hidden" };
        vs_create_result res = { 0 };
        vs_snapshot_tree t = { 0 };
        vs_delete_results dr = { 0 };
        vs_err err = { 0 };

        (void)state;
        /* Invalid name: refused before libvirt is asked. */
        assert_int_equal(vs_virt_create_snapshot(v, &req, &res, &err), -EINVAL);
        assert_string_equal(err.where, "virt");
        assert_false(err.transient);

        /* No such domain: permanent, with libvirt's code. */
        assert_int_equal(vs_virt_list_snapshots(v, "nope", &t, &err), -ENOENT);
        assert_string_equal(err.where, "libvirt");
        assert_int_equal(err.code, VIR_ERR_NO_DOMAIN);
        assert_false(err.transient);
        assert_non_null(strstr(err.msg, "nope"));
        assert_int_equal(vs_virt_delete_snapshots(v, "nope", (char *[]){ "x", NULL }, &dr, &err), -ENOENT);

        /* The test driver rejects DISK_ONLY: the error comes back classified. */
        spec.type = VS_SNAP_DISK_ONLY;
        req.name = "d1";
        assert_int_equal(vs_virt_create_snapshot(v, &req, &res, &err), -EINVAL);
        assert_string_equal(err.where, "libvirt");
        assert_int_equal(err.code, VIR_ERR_INVALID_ARG);
        assert_false(err.transient);
        assert_non_null(strstr(err.msg, "creating snapshot d1 of test"));

        /* A disk the domain does not have. */
        spec.disks = (char *[]){ "vdz", NULL };
        assert_int_equal(vs_virt_create_snapshot(v, &req, &res, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "has no disk vdz"));
        /* Internal snapshots cannot leave a disk out. */
        spec.type = VS_SNAP_INTERNAL;
        spec.disks = (char *[]){ "vdb", NULL };
        assert_int_equal(vs_virt_create_snapshot(v, &req, &res, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "leaves out vda"));

        assert_int_equal(raw_snapshot_count(TEST_URI, "test"), 0);

        /* Unreachable hypervisor. */
        {
                vs_virt *bad = NULL;

                assert_true(vs_virt_open_libvirt("test:///nonexistent/node.xml", &bad, &err) < 0);
                assert_null(bad);
                assert_string_equal(err.where, "libvirt");
                assert_true(err.code != 0);
        }
        vs_virt_free(v);
}

static void
test_reconnect(void **state)
{
        vs_virt *v = open_uri(TEST_URI);
        vs_domain_list l = { 0 };
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs_virt_reconnect(v, &err), 0);
        assert_true(vs_virt_alive(v));
        assert_int_equal(vs_virt_list_domains(v, &l, &err), 0);
        assert_int_equal(l.n, 1);
        vs_domain_list_clear(&l);
        assert_int_equal(vs_virt_reconnect_delay_ms(0), 1000);
        assert_int_equal(vs_virt_reconnect_delay_ms(3), 8000);
        assert_int_equal(vs_virt_reconnect_delay_ms(6), 60000);
        assert_int_equal(vs_virt_reconnect_delay_ms(100), 60000);
        vs_virt_free(v);
}

/* ---- events ---------------------------------------------------------------------- */

typedef struct ev_log {
        vs_virt_event_type types[16];
        char names[16][32];
        size_t n;
        uv_loop_t *loop;
} ev_log;

static void
on_event(const vs_virt_event *ev, void *userdata)
{
        ev_log *log = userdata;

        if (log->n < 16) {
                log->types[log->n] = ev->type;
                snprintf(log->names[log->n], sizeof(log->names[0]), "%s", ev->domain ? ev->domain : "");
                log->n++;
        }
        if (log->n >= 4)
                uv_stop(log->loop);
}

static void
on_timeout(uv_timer_t *t)
{
        uv_stop(t->loop);
}

static void
test_events(void **state)
{
        vs_virt *v = open_uri(TEST_URI);
        uv_loop_t loop;
        uv_timer_t timer;
        vs_virt_watch *w = NULL;
        ev_log log = { .loop = &loop };
        vs_err err = { 0 };
        virConnectPtr c;
        virDomainPtr d;

        (void)state;
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(vs_virt_watch_start(v, &loop, on_event, &log, &w, &err), 0);

        /* Define, start and undefine a domain from "another client". */
        c = virConnectOpen(TEST_URI);
        assert_non_null(c);
        d = virDomainDefineXML(c, "<domain type='test'><name>ev1</name><memory>65536</memory>"
                                  "<os><type>hvm</type></os></domain>");
        assert_non_null(d);
        assert_int_equal(virDomainCreate(d), 0);
        assert_int_equal(virDomainDestroy(d), 0);
        assert_int_equal(virDomainUndefine(d), 0);
        virDomainFree(d);
        virConnectClose(c);

        uv_timer_init(&loop, &timer);
        uv_timer_start(&timer, on_timeout, 5000, 0);
        while (log.n < 4 && uv_run(&loop, UV_RUN_ONCE) != 0 && uv_is_active((uv_handle_t *)&timer))
                ;
        /* Defined, started, stopped, undefined: in order, on this thread. */
        assert_true(log.n >= 4);
        assert_int_equal(log.types[0], VS_VIRT_EVENT_DEFINED);
        assert_int_equal(log.types[1], VS_VIRT_EVENT_STARTED);
        assert_int_equal(log.types[2], VS_VIRT_EVENT_STOPPED);
        assert_int_equal(log.types[3], VS_VIRT_EVENT_UNDEFINED);
        for (size_t i = 0; i < 4; i++)
                assert_string_equal(log.names[i], "ev1");
        assert_string_equal(vs_virt_event_type_to_string(log.types[3]), "undefined");

        vs_virt_watch_stop(w);
        uv_close((uv_handle_t *)&timer, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&loop), 0);
        vs_virt_free(v);
}

/* ---- the 50-domain node ---------------------------------------------------------- */

static size_t
count_matching(const vs_domain_list *l, const vs_selector *sel)
{
        size_t n = 0;

        for (size_t i = 0; i < l->n; i++)
                if (vs_domain_matches(sel, &l->items[i]))
                        n++;
        return n;
}

static void
test_node50(void **state)
{
        char *uri = node_uri();
        vs_virt *v = open_uri(uri);
        vs_domain_list l = { 0 };
        vs_err err = { 0 };
        size_t off = 0, tagged = 0;

        (void)state;
        assert_int_equal(vs_virt_list_domains(v, &l, &err), 0);
        assert_int_equal(l.n, 50);
        /* Sorted by name. */
        assert_string_equal(l.items[0].name, "build-01");
        assert_string_equal(l.items[49].name, "web-20");
        for (size_t i = 0; i < l.n; i++) {
                if (l.items[i].state == VS_DOMAIN_SHUTOFF)
                        off++;
                else
                        assert_int_equal(l.items[i].state, VS_DOMAIN_RUNNING);
                if (l.items[i].tags)
                        tagged++;
                assert_true(l.items[i].persistent);
        }
        assert_int_equal(off, 14);
        assert_int_equal(tagged, 34);
        for (size_t i = 0; i < l.n; i++) {
                if (strcmp(l.items[i].name, "web-01") == 0) {
                        assert_int_equal(vs_strv_length(l.items[i].tags), 2);
                        assert_string_equal(l.items[i].tags[0], "production");
                        assert_string_equal(l.items[i].tags[1], "web");
                        assert_string_equal(l.items[i].uuid, "5a5a0000-0000-4000-8000-000000000001");
                }
                if (strcmp(l.items[i].name, "db-09") == 0) {
                        assert_null(l.items[i].tags);
                        assert_int_equal(l.items[i].state, VS_DOMAIN_SHUTOFF);
                }
        }

        assert_int_equal(count_matching(&l, &(vs_selector){ 0 }), 50);
        assert_int_equal(count_matching(&l, &(vs_selector){ .include = (char *[]){ "web-*", NULL } }), 20);
        assert_int_equal(count_matching(&l, &(vs_selector){ .include = (char *[]){ "web-*", NULL },
                                                            .state = VS_STATE_SEL_RUNNING }),
                         15);
        assert_int_equal(count_matching(&l, &(vs_selector){ .state = VS_STATE_SEL_SHUTOFF }), 14);
        assert_int_equal(count_matching(&l, &(vs_selector){ .tags = (char *[]){ "production", NULL } }), 18);
        assert_int_equal(count_matching(&l, &(vs_selector){ .tags = (char *[]){ "production", NULL },
                                                            .state = VS_STATE_SEL_RUNNING }),
                         15);
        assert_int_equal(count_matching(&l, &(vs_selector){ .tags = (char *[]){ "db", "dev", NULL } }), 14);
        assert_int_equal(count_matching(&l, &(vs_selector){ .include = (char *[]){ "*", NULL },
                                                            .exclude = (char *[]){ "dev-*", "build-*", NULL } }),
                         30);
        assert_int_equal(count_matching(&l, &(vs_selector){ .include = (char *[]){ "db-0[1-5]", "build-01", NULL },
                                                            .tags = (char *[]){ "production", NULL } }),
                         5);
        vs_domain_list_clear(&l);

        /* Each test:///FILE connection has a private copy: snapshots on one
         * are not seen by a second one. */
        {
                vs_create_result r = { 0 };
                vs_snapshot_tree t = { 0 };
                vs_virt *v2 = open_uri(uri);

                create(v, "web-04", "weekly", "w1", NULL, &r);
                /* Shut off: an internal snapshot of clean disks, offline. */
                assert_int_equal(r.consistency, VS_CONSISTENCY_OFFLINE);
                vs_create_result_clear(&r);
                assert_int_equal(vs_virt_list_snapshots(v, "web-04", &t, &err), 0);
                assert_int_equal(t.n, 1);
                assert_string_equal(t.items[0].state, "shutoff");
                assert_false(t.items[0].has_memory);
                vs_snapshot_tree_clear(&t);
                assert_int_equal(vs_virt_list_snapshots(v2, "web-04", &t, &err), 0);
                assert_int_equal(t.n, 0);
                vs_snapshot_tree_clear(&t);
                vs_virt_free(v2);
        }
        vs_virt_free(v);
        free(uri);
}

/* What the job path is told instead of asking: the listing without tags,
 * persistence from one listing of the transient domains, a state hint that
 * is wrong, a known tree that went stale, and a delete on the create's
 * handles (and not on another connection's). */
static void
test_told_not_asked(void **state)
{
        char *uri = node_uri();
        vs_virt *v = open_uri(uri), *v2;
        vs_snapshot_spec spec = { .type = VS_SNAP_INTERNAL, .quiesce = VS_QUIESCE_OFF, .timeout = 60 };
        vs_domain_list l = { 0 };
        vs_snapshot_tree t = { 0 };
        vs_create_result r = { 0 };
        vs_delete_results dr = { 0 };
        vs_err err = { 0 };
        virConnectPtr raw;
        virDomainPtr tr;

        (void)state;
        /* No tags asked: the same domains and states, no tags. */
        assert_int_equal(vs_virt_list_domains_flags(v, VS_LIST_DOMAINS_NO_TAGS, &l, &err), 0);
        assert_int_equal(l.n, 50);
        for (size_t i = 0; i < l.n; i++) {
                assert_null(l.items[i].tags);
                if (strcmp(l.items[i].name, "db-09") == 0)
                        assert_int_equal(l.items[i].state, VS_DOMAIN_SHUTOFF);
                if (strcmp(l.items[i].name, "web-01") == 0)
                        assert_int_equal(l.items[i].state, VS_DOMAIN_RUNNING);
        }
        vs_domain_list_clear(&l);

        /* Told running, but shut off (web-04): what it is comes from the
         * state libvirt gave the snapshot, offline; told shut off, but
         * running (web-01): a memory checkpoint. */
        {
                vs_create_request req = { .domain = "web-04", .policy = "p", .spec = &spec, .name = "hint-1",
                                          .state_known = true, .state = VS_DOMAIN_RUNNING };

                assert_int_equal(vs_virt_create_snapshot(v, &req, &r, &err), 0);
                assert_int_equal(r.consistency, VS_CONSISTENCY_OFFLINE);
                vs_create_result_clear(&r);
                req.domain = "web-01";
                req.state = VS_DOMAIN_SHUTOFF;
                assert_int_equal(vs_virt_create_snapshot(v, &req, &r, &err), 0);
                assert_int_equal(r.consistency, VS_CONSISTENCY_MEMORY);
                vs_create_result_clear(&r);
        }

        /* By UUID: the domain listed, whatever the name says. */
        assert_int_equal(vs_virt_list_snapshots_flags(v, "no-such-name", "5a5a0000-0000-4000-8000-000000000001",
                                                      VS_LIST_SNAPSHOTS_NO_CURRENT, &t, &err),
                         0);
        assert_int_equal(t.n, 1);
        assert_string_equal(t.items[0].name, "hint-1");
        assert_false(t.items[0].current);
        assert_null(t.hold);
        vs_snapshot_tree_clear(&t);

        /* A known tree used as is: the result's tree is it plus the new
         * snapshot, and the delete works on its handles. */
        assert_int_equal(vs_virt_list_snapshots_flags(v, "web-01", NULL,
                                                      VS_LIST_SNAPSHOTS_NO_CURRENT | VS_LIST_SNAPSHOTS_HOLD, &t, &err),
                         0);
        assert_non_null(t.hold);
        {
                vs_create_request req = { .domain = "web-01", .policy = "p", .spec = &spec, .name = "hint-1",
                                          .known = &t };

                assert_int_equal(vs_virt_create_snapshot(v, &req, &r, &err), 0);
                assert_string_equal(r.name, "hint-1-2"); /* taken, by the known tree */
                assert_int_equal(t.n, 0);                /* moved into the result */
                assert_true(r.have_tree);
                assert_int_equal(r.tree.n, 2);
                assert_true(find(&r.tree, "hint-1-2")->current);
                assert_non_null(r.tree.hold);
        }
        assert_int_equal(vs_virt_delete_snapshots_in_tree(v, "web-01", &r.tree, (char *[]){ "hint-1", NULL }, &dr,
                                                          &err),
                         0);
        assert_int_equal(result(&dr, "hint-1")->outcome, VS_DELETE_DELETED);
        vs_delete_results_clear(&dr);
        vs_create_result_clear(&r);
        assert_int_equal(vs_virt_list_snapshots(v, "web-01", &t, &err), 0);
        assert_int_equal(t.n, 1);
        assert_string_equal(t.items[0].name, "hint-1-2");
        assert_true(t.items[0].current);
        vs_snapshot_tree_clear(&t);
        vs_virt_free(v);
        free(uri);

        /* A known tree gone stale (test:///default is shared by this
         * process's connections, so a raw connection can change it): its
         * name is taken by someone else after the listing; the create fails
         * on it, the backend lists again and creates under the next name. */
        v = open_uri(TEST_URI);
        v2 = open_uri(TEST_URI);
        assert_int_equal(vs_virt_list_snapshots_flags(v, "test", NULL, VS_LIST_SNAPSHOTS_HOLD, &t, &err), 0);
        assert_int_equal(t.n, 0);
        create_foreign(TEST_URI, "test", "stale-1");
        {
                vs_create_request req = { .domain = "test", .policy = "p", .spec = &spec, .name = "stale-1",
                                          .known = &t, .state_known = true, .state = VS_DOMAIN_RUNNING };

                assert_int_equal(vs_virt_create_snapshot(v, &req, &r, &err), 0);
                assert_string_equal(r.name, "stale-1-2");
                assert_true(r.have_tree);
                assert_int_equal(r.tree.n, 2);
        }
        vs_snapshot_tree_clear(&t);
        /* Another connection's handles are not used: the delete on v2 with
         * v's tree looks the domain up itself. */
        assert_int_equal(vs_virt_delete_snapshots_in_tree(v2, "test", &r.tree, (char *[]){ "stale-1-2", NULL }, &dr,
                                                          &err),
                         0);
        assert_int_equal(result(&dr, "stale-1-2")->outcome, VS_DELETE_DELETED);
        vs_delete_results_clear(&dr);
        vs_create_result_clear(&r);
        assert_int_equal(raw_snapshot_count(TEST_URI, "test"), 1);

        /* Persistence from the listing of transient domains. */
        raw = virConnectOpen(TEST_URI);
        assert_non_null(raw);
        tr = virDomainCreateXML(raw,
                                "<domain type='test'><name>transient-1</name><memory>8192</memory>"
                                "<os><type>hvm</type></os></domain>",
                                0);
        assert_non_null(tr);
        assert_int_equal(vs_virt_list_domains(v, &l, &err), 0);
        assert_int_equal(l.n, 2);
        for (size_t i = 0; i < l.n; i++)
                assert_int_equal(l.items[i].persistent, strcmp(l.items[i].name, "test") == 0);
        vs_domain_list_clear(&l);
        assert_int_equal(virDomainDestroy(tr), 0);
        virDomainFree(tr);
        virConnectClose(raw);
        /* The foreign snapshot goes through the raw API, as it came. */
        delete_foreign(TEST_URI, "test", "stale-1");
        assert_int_equal(raw_snapshot_count(TEST_URI, "test"), 0);
        vs_virt_free(v2);
        vs_virt_free(v);
}

int
main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_list_domains_default),
                cmocka_unit_test(test_create_list_delete),
                cmocka_unit_test(test_delete_subtree),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_reconnect),
                cmocka_unit_test(test_events),
                cmocka_unit_test(test_node50),
                cmocka_unit_test(test_told_not_asked),
        };
        vs_virt_events *ev = NULL;
        vs_err err = { 0 };
        int r;

        /* Before the first connection, as the daemon does. */
        if (vs_virt_events_start(&ev, &err) < 0) {
                fprintf(stderr, "events: %s\n", err.msg);
                return 1;
        }
        /* Keep one connection to test:///default open for the whole run, so
         * its state (shared per process) persists across the test cases. */
        virConnectPtr keep = virConnectOpen(TEST_URI);
        r = cmocka_run_group_tests(tests, NULL, NULL);
        virConnectClose(keep);
        vs_virt_events_stop(ev);
        return r;
}
