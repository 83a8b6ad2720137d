/* e2e cases for virt/'s libvirt backend against a real libvirtd + QEMU (TCG)
 * and a real qemu-guest-agent, as set up by tests/e2e/run-e2e.sh.
 *
 * Every case makes its own domains through the harness (lib.sh's
 * vs_make_domain / vs_make_agent_guest, run with bash) so that snapshot trees
 * never leak between cases, drives the backend through virt.h only, and
 * checks what it did both through vs_virt_list_snapshots and through plain
 * virsh, which sees libvirt's own view.  Environment: VS_E2E_URI (the
 * connection), VS_E2E_LIB (the harness), VS_E2E_IMG (disk images). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "strv.h"
#include "virt.h"

/* libvirt's virErrorNumber values the cases expect (virterror.h). */
#define VIR_ERR_ARGUMENT_UNSUPPORTED 74
#define VIR_ERR_AGENT_UNRESPONSIVE 86

#define POLICY "e2e"

typedef struct ctx {
        vs_virt *v;
        const char *img;
} ctx;

/* ---- helpers --------------------------------------------------------------- */

/* Run a bash command with the harness sourced; returns its exit status and,
 * when out is non-NULL, its stdout with trailing newlines removed.  (fork +
 * exec rather than popen: the script goes to bash as one argument, unquoted.) */
static int __attribute__((format(printf, 2, 3)))
sh(char **out, const char *fmt, ...)
{
        _cleanup_free_ char *cmd = NULL, *script = NULL;
        char *buf = NULL;
        size_t len = 0;
        va_list ap;
        FILE *mem;
        char chunk[4096];
        ssize_t n;
        int fds[2], status;
        pid_t pid;

        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) >= 0);
        va_end(ap);
        assert_true(asprintf(&script, ". \"$VS_E2E_LIB\" && %s", cmd) >= 0);

        fflush(stdout);
        fflush(stderr);
        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(fds[1], STDOUT_FILENO);
                close(fds[0]);
                close(fds[1]);
                execl("/bin/bash", "bash", "-c", script, (char *)NULL);
                _exit(127);
        }
        close(fds[1]);
        mem = open_memstream(&buf, &len);
        assert_non_null(mem);
        while ((n = read(fds[0], chunk, sizeof(chunk))) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                assert_true(n > 0);
                fwrite(chunk, 1, (size_t)n, mem);
        }
        close(fds[0]);
        fclose(mem);
        while (waitpid(pid, &status, 0) < 0)
                assert_int_equal(errno, EINTR);
        while (len > 0 && buf[len - 1] == '\n')
                buf[--len] = '\0';
        if (out)
                *out = buf;
        else
                free(buf);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void
make_domain(const char *name, const char *opts)
{
        assert_int_equal(sh(NULL, "vs_make_domain %s %s", name, opts), 0);
}

static bool
file_exists(const char *path)
{
        struct stat st;

        return path && stat(path, &st) == 0;
}

static double
now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
create(ctx *c, const char *dom, vs_snap_type type, vs_quiesce q, const char *name,
       const char *overlay_dir, vs_create_result *res, vs_err *err)
{
        vs_snapshot_spec spec = {
                .type = type,
                .quiesce = q,
                .overlay_dir = (char *)overlay_dir,
                .timeout = 5,
                .atomic = true,
        };
        vs_create_request req = {
                .domain = dom,
                .policy = POLICY,
                .spec = &spec,
                .name = name,
                .description = "made by the e2e suite",
        };

        memset(res, 0, sizeof(*res));
        vs_err_clear(err);
        return vs_virt_create_snapshot(c->v, &req, res, err);
}

/* Create under a fresh name and expect success with exactly that name. */
static void
create_ok(ctx *c, const char *dom, vs_snap_type type, const char *name,
          const char *overlay_dir, vs_consistency expect)
{
        vs_create_result res;
        vs_err err;
        int r;

        r = create(c, dom, type, VS_QUIESCE_OFF, name, overlay_dir, &res, &err);
        if (r < 0)
                print_error("create %s/%s: %s: %s (code %d)\n", dom, name, err.where, err.msg,
                            err.code);
        assert_int_equal(r, 0);
        assert_non_null(res.name);
        assert_string_equal(res.name, name);
        assert_string_equal(vs_consistency_to_string(res.consistency),
                            vs_consistency_to_string(expect));
        assert_false(res.quiesce_fell_back);
        vs_create_result_clear(&res);
}

static const vs_snapshot_info *
find_snap(const vs_snapshot_tree *t, const char *name)
{
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->items[i].name, name) == 0)
                        return &t->items[i];
        return NULL;
}

static int
cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "name:parent" of every snapshot, sorted, comma separated; "-" for a root.
 * The same format as the harness's vs_snapshot_parents | paste -sd, */
static char *
tree_parents(const vs_snapshot_tree *t)
{
        char **v = calloc(t->n + 1, sizeof(char *));
        char *buf = NULL;
        size_t len = 0;
        FILE *mem;

        assert_non_null(v);
        for (size_t i = 0; i < t->n; i++)
                assert_true(asprintf(&v[i], "%s:%s", t->items[i].name,
                                     t->items[i].parent ? t->items[i].parent : "-") >= 0);
        qsort(v, t->n, sizeof(char *), cmp_str);
        mem = open_memstream(&buf, &len);
        assert_non_null(mem);
        for (size_t i = 0; i < t->n; i++)
                fprintf(mem, "%s%s", i ? "," : "", v[i]);
        fclose(mem);
        vs_strv_free(v);
        return buf;
}

/* Check the tree both through the backend and through virsh. */
static void
assert_tree(ctx *c, const char *dom, const char *expect)
{
        vs_snapshot_tree t = { 0 };
        vs_err err;
        _cleanup_free_ char *got = NULL, *virsh = NULL;

        assert_int_equal(vs_virt_list_snapshots(c->v, dom, &t, &err), 0);
        got = tree_parents(&t);
        vs_snapshot_tree_clear(&t);
        if (strcmp(got, expect) != 0)
                print_error("%s: backend tree '%s', expected '%s'\n", dom, got, expect);
        assert_string_equal(got, expect);
        assert_int_equal(sh(&virsh, "vs_snapshot_parents %s | paste -sd,", dom), 0);
        if (strcmp(virsh, expect) != 0)
                print_error("%s: virsh tree '%s', expected '%s'\n", dom, virsh, expect);
        assert_string_equal(virsh, expect);
}

typedef struct expect_outcome {
        const char *name;
        vs_delete_outcome outcome;
} expect_outcome;

/* Delete names (NULL-terminated) and compare each result's outcome. */
static void
delete_expect(ctx *c, const char *dom, const char *const *names, const expect_outcome *exp,
              size_t n_exp)
{
        vs_delete_results res = { 0 };
        vs_err err;
        int r;

        vs_err_clear(&err);
        r = vs_virt_delete_snapshots(c->v, dom, (char *const *)names, &res, &err);
        if (r < 0)
                print_error("delete on %s: %s: %s\n", dom, err.where, err.msg);
        assert_int_equal(r, 0);
        for (size_t i = 0; i < n_exp; i++) {
                const vs_delete_result *found = NULL;

                for (size_t j = 0; j < res.n; j++)
                        if (strcmp(res.items[j].name, exp[i].name) == 0)
                                found = &res.items[j];
                if (!found)
                        print_error("%s: no result for %s\n", dom, exp[i].name);
                assert_non_null(found);
                if (found->outcome != exp[i].outcome)
                        print_error("%s: %s is %s (%s), expected %s\n", dom, exp[i].name,
                                    vs_delete_outcome_to_string(found->outcome), found->err.msg,
                                    vs_delete_outcome_to_string(exp[i].outcome));
                assert_string_equal(vs_delete_outcome_to_string(found->outcome),
                                    vs_delete_outcome_to_string(exp[i].outcome));
                if (exp[i].outcome == VS_DELETE_UNDELETABLE || exp[i].outcome == VS_DELETE_DEFERRED)
                        assert_true(found->err.msg[0] != '\0');
        }
        assert_int_equal(res.n, n_exp);
        vs_delete_results_clear(&res);
}

static void
assert_running(const char *dom)
{
        _cleanup_free_ char *state = NULL;

        assert_int_equal(sh(&state, "vs_virsh domstate %s", dom), 0);
        assert_string_equal(state, "running");
}

/* ---- cases ----------------------------------------------------------------- */

static void
test_internal_running(void **state)
{
        ctx *c = *state;
        vs_snapshot_tree t = { 0 };
        vs_err err;
        const vs_snapshot_info *s;

        make_domain("vse2e-int-run", "--running");
        create_ok(c, "vse2e-int-run", VS_SNAP_INTERNAL, "int1", NULL, VS_CONSISTENCY_MEMORY);
        assert_int_equal(vs_virt_list_snapshots(c->v, "vse2e-int-run", &t, &err), 0);
        assert_int_equal(t.n, 1);
        s = find_snap(&t, "int1");
        assert_non_null(s);
        assert_false(s->external);
        assert_true(s->has_memory);
        assert_true(s->current);
        assert_string_equal(s->state, "running");
        assert_non_null(s->owner_policy);
        assert_string_equal(s->owner_policy, POLICY);
        assert_null(s->disk_files);
        assert_null(s->memory_file);
        assert_true(s->creation_time > time(NULL) - 600 && s->creation_time <= time(NULL));
        vs_snapshot_tree_clear(&t);
        assert_tree(c, "vse2e-int-run", "int1:-");
        assert_running("vse2e-int-run");
}

static void
test_internal_shutoff(void **state)
{
        ctx *c = *state;
        vs_snapshot_tree t = { 0 };
        vs_err err;
        const vs_snapshot_info *s;

        make_domain("vse2e-int-off", "");
        /* Shut off cleanly: offline, not crash-consistent. */
        create_ok(c, "vse2e-int-off", VS_SNAP_INTERNAL, "int1", NULL, VS_CONSISTENCY_OFFLINE);
        assert_int_equal(vs_virt_list_snapshots(c->v, "vse2e-int-off", &t, &err), 0);
        s = find_snap(&t, "int1");
        assert_non_null(s);
        assert_false(s->external);
        assert_false(s->has_memory);
        assert_string_equal(s->state, "shutoff");
        assert_string_equal(s->owner_policy, POLICY);
        vs_snapshot_tree_clear(&t);
        assert_tree(c, "vse2e-int-off", "int1:-");
}

static void
check_disk_only(ctx *c, const char *dom, const char *expect_state)
{
        vs_create_result res;
        vs_snapshot_tree t = { 0 };
        vs_err err;
        const vs_snapshot_info *s;
        _cleanup_free_ char *active = NULL;

        assert_int_equal(create(c, dom, VS_SNAP_DISK_ONLY, VS_QUIESCE_OFF, "disk1", NULL, &res,
                                &err), 0);
        assert_string_equal(res.name, "disk1");
        assert_int_equal(res.consistency,
                         strcmp(expect_state, "shutoff") == 0 ? VS_CONSISTENCY_OFFLINE : VS_CONSISTENCY_CRASH);
        assert_null(res.memory_file);
        assert_int_equal(vs_strv_length(res.disk_files), 1);
        /* Beside the image when no overlay_dir is given, and really there. */
        assert_true(strncmp(res.disk_files[0], c->img, strlen(c->img)) == 0);
        assert_true(file_exists(res.disk_files[0]));
        /* The overlay is now the active layer. */
        assert_int_equal(sh(&active, "vs_virsh domblklist %s | awk '$1==\"vda\"{print $2}'", dom), 0);
        assert_string_equal(active, res.disk_files[0]);

        assert_int_equal(vs_virt_list_snapshots(c->v, dom, &t, &err), 0);
        s = find_snap(&t, "disk1");
        assert_non_null(s);
        assert_true(s->external);
        assert_false(s->has_memory);
        assert_string_equal(s->state, expect_state);
        assert_int_equal(vs_strv_length(s->disk_files), 1);
        assert_string_equal(s->disk_files[0], res.disk_files[0]);
        assert_string_equal(s->owner_policy, POLICY);
        vs_snapshot_tree_clear(&t);
        vs_create_result_clear(&res);
        assert_tree(c, dom, "disk1:-");
}

static void
test_disk_only_running(void **state)
{
        make_domain("vse2e-disk-run", "--running");
        check_disk_only(*state, "vse2e-disk-run", "disk-snapshot");
        assert_running("vse2e-disk-run");
}

static void
test_disk_only_shutoff(void **state)
{
        make_domain("vse2e-disk-off", "");
        check_disk_only(*state, "vse2e-disk-off", "shutoff");
}

static void
test_external_memory(void **state)
{
        ctx *c = *state;
        vs_create_result res;
        vs_snapshot_tree t = { 0 };
        vs_err err;
        const vs_snapshot_info *s;
        _cleanup_free_ char *dir = NULL;

        make_domain("vse2e-ext-mem", "--running");
        assert_true(asprintf(&dir, "%s/ext-overlays", c->img) >= 0);
        assert_int_equal(sh(NULL, "install -d -o \"$VS_E2E_USER\" %s", dir), 0);

        assert_int_equal(create(c, "vse2e-ext-mem", VS_SNAP_EXTERNAL, VS_QUIESCE_OFF, "mem1", dir,
                                &res, &err), 0);
        assert_string_equal(res.name, "mem1");
        assert_int_equal(res.consistency, VS_CONSISTENCY_MEMORY);
        assert_non_null(res.memory_file);
        assert_true(strncmp(res.memory_file, dir, strlen(dir)) == 0);
        assert_true(file_exists(res.memory_file));
        assert_int_equal(vs_strv_length(res.disk_files), 1);
        assert_true(strncmp(res.disk_files[0], dir, strlen(dir)) == 0);
        assert_true(file_exists(res.disk_files[0]));

        assert_int_equal(vs_virt_list_snapshots(c->v, "vse2e-ext-mem", &t, &err), 0);
        s = find_snap(&t, "mem1");
        assert_non_null(s);
        assert_true(s->external);
        assert_true(s->has_memory);
        assert_string_equal(s->state, "running");
        assert_non_null(s->memory_file);
        assert_string_equal(s->memory_file, res.memory_file);
        vs_snapshot_tree_clear(&t);
        assert_tree(c, "vse2e-ext-mem", "mem1:-");
        /* A live memory snapshot leaves the guest running. */
        assert_running("vse2e-ext-mem");

        /* Deleting it merges the overlay and removes the memory file that
         * libvirt 9.0 leaves behind. */
        {
                const char *names[] = { "mem1", NULL };
                const expect_outcome exp[] = { { "mem1", VS_DELETE_DELETED } };

                delete_expect(c, "vse2e-ext-mem", names, exp, 1);
        }
        assert_false(file_exists(res.memory_file));
        assert_tree(c, "vse2e-ext-mem", "");
        assert_running("vse2e-ext-mem");
        vs_create_result_clear(&res);
}

static void
make_disk_chain(ctx *c, const char *dom, const char *const *names)
{
        for (size_t i = 0; names[i]; i++) {
                vs_create_result res;
                vs_err err;

                assert_int_equal(create(c, dom, VS_SNAP_DISK_ONLY, VS_QUIESCE_OFF, names[i], NULL,
                                        &res, &err), 0);
                assert_string_equal(res.name, names[i]);
                vs_create_result_clear(&res);
        }
}

static void
test_delete_external_chain_running(void **state)
{
        ctx *c = *state;
        const char *chain[] = { "d1", "d2", "d3", "d4", "d5", NULL };
        _cleanup_free_ char *info = NULL;

        make_domain("vse2e-chain-run", "--running");
        make_disk_chain(c, "vse2e-chain-run", chain);
        assert_tree(c, "vse2e-chain-run", "d1:-,d2:d1,d3:d2,d4:d3,d5:d4");

        /* the middle */
        {
                const char *names[] = { "d3", NULL };
                const expect_outcome exp[] = { { "d3", VS_DELETE_DELETED } };

                delete_expect(c, "vse2e-chain-run", names, exp, 1);
        }
        assert_tree(c, "vse2e-chain-run", "d1:-,d2:d1,d4:d2,d5:d4");
        /* the top: the active layer */
        {
                const char *names[] = { "d5", NULL };
                const expect_outcome exp[] = { { "d5", VS_DELETE_DELETED } };

                delete_expect(c, "vse2e-chain-run", names, exp, 1);
        }
        assert_tree(c, "vse2e-chain-run", "d1:-,d2:d1,d4:d2");
        /* the root and its child at once, requested newest first */
        {
                const char *names[] = { "d2", "d1", NULL };
                const expect_outcome exp[] = { { "d2", VS_DELETE_DELETED },
                                               { "d1", VS_DELETE_DELETED } };

                delete_expect(c, "vse2e-chain-run", names, exp, 2);
        }
        assert_tree(c, "vse2e-chain-run", "d4:-");
        assert_running("vse2e-chain-run");
        /* The guest still has a consistent chain: the base image and d4's
         * overlay on top of it. */
        assert_int_equal(sh(&info, "qemu-img info -U --backing-chain \"$(vs_virsh domblklist "
                                   "vse2e-chain-run | awk '$1==\"vda\"{print $2}')\" | grep -c '^image:'"),
                         0);
        assert_string_equal(info, "2");
}

static void
test_delete_external_chain_shutoff(void **state)
{
        ctx *c = *state;
        const char *chain[] = { "e1", "e2", "e3", NULL };

        make_domain("vse2e-chain-off", "");
        make_disk_chain(c, "vse2e-chain-off", chain);
        assert_tree(c, "vse2e-chain-off", "e1:-,e2:e1,e3:e2");

        /* Shut off: only the top of the chain can go; e1 waits under e2. */
        {
                const char *names[] = { "e1", "e3", NULL };
                const expect_outcome exp[] = { { "e1", VS_DELETE_DEFERRED },
                                               { "e3", VS_DELETE_DELETED } };

                delete_expect(c, "vse2e-chain-off", names, exp, 2);
        }
        assert_tree(c, "vse2e-chain-off", "e1:-,e2:e1");
        /* Both remaining, from the top. */
        {
                const char *names[] = { "e1", "e2", NULL };
                const expect_outcome exp[] = { { "e1", VS_DELETE_DELETED },
                                               { "e2", VS_DELETE_DELETED } };

                delete_expect(c, "vse2e-chain-off", names, exp, 2);
        }
        assert_tree(c, "vse2e-chain-off", "");
}

static void
test_mixed_chain_undeletable(void **state)
{
        ctx *c = *state;
        make_domain("vse2e-mixed", "--running");
        create_ok(c, "vse2e-mixed", VS_SNAP_INTERNAL, "s1", NULL, VS_CONSISTENCY_MEMORY);
        create_ok(c, "vse2e-mixed", VS_SNAP_DISK_ONLY, "x1", NULL, VS_CONSISTENCY_CRASH);
        assert_tree(c, "vse2e-mixed", "s1:-,x1:s1");
        {
                const char *names[] = { "x1", "s1", NULL };
                const expect_outcome exp[] = { { "x1", VS_DELETE_UNDELETABLE },
                                               { "s1", VS_DELETE_UNDELETABLE } };

                delete_expect(c, "vse2e-mixed", names, exp, 2);
        }
        /* Reported, not half-done: both are still there. */
        assert_tree(c, "vse2e-mixed", "s1:-,x1:s1");
        assert_running("vse2e-mixed");
}

static void
test_subtree_children(void **state)
{
        ctx *c = *state;
        make_domain("vse2e-tree", "--running");
        create_ok(c, "vse2e-tree", VS_SNAP_INTERNAL, "a1", NULL, VS_CONSISTENCY_MEMORY);
        create_ok(c, "vse2e-tree", VS_SNAP_INTERNAL, "a2", NULL, VS_CONSISTENCY_MEMORY);
        create_ok(c, "vse2e-tree", VS_SNAP_INTERNAL, "a3", NULL, VS_CONSISTENCY_MEMORY);
        /* A branch: back to a1, then b1 beside a2. */
        assert_int_equal(sh(NULL, "vs_virsh snapshot-revert vse2e-tree a1"), 0);
        create_ok(c, "vse2e-tree", VS_SNAP_INTERNAL, "b1", NULL, VS_CONSISTENCY_MEMORY);
        /* A foreign snapshot under b1. */
        assert_int_equal(sh(NULL, "vs_virsh snapshot-create-as vse2e-tree foreign1 >/dev/null"), 0);
        assert_tree(c, "vse2e-tree", "a1:-,a2:a1,a3:a2,b1:a1,foreign1:b1");

        /* The whole a2 subtree is ours: it goes (one CHILDREN call). */
        {
                const char *names[] = { "a2", "a3", NULL };
                const expect_outcome exp[] = { { "a2", VS_DELETE_DELETED },
                                               { "a3", VS_DELETE_DELETED } };

                delete_expect(c, "vse2e-tree", names, exp, 2);
        }
        assert_tree(c, "vse2e-tree", "a1:-,b1:a1,foreign1:b1");
        /* b1 has a foreign child: b1 alone goes, the child moves up. */
        {
                const char *names[] = { "b1", NULL };
                const expect_outcome exp[] = { { "b1", VS_DELETE_DELETED } };

                delete_expect(c, "vse2e-tree", names, exp, 1);
        }
        assert_tree(c, "vse2e-tree", "a1:-,foreign1:a1");
        assert_running("vse2e-tree");
}

static void
test_foreign_never_deleted(void **state)
{
        ctx *c = *state;
        vs_snapshot_tree t = { 0 };
        vs_err err;
        const vs_snapshot_info *s;

        make_domain("vse2e-foreign", "--running");
        /* Foreign: one internal, one disk-only, one carrying a description
         * that merely mentions virtsnap. */
        assert_int_equal(sh(NULL, "vs_virsh snapshot-create-as vse2e-foreign f1 >/dev/null"), 0);
        create_ok(c, "vse2e-foreign", VS_SNAP_INTERNAL, "own1", NULL, VS_CONSISTENCY_MEMORY);
        assert_int_equal(sh(NULL, "vs_virsh snapshot-create-as vse2e-foreign f2 "
                                  "--description 'virtsnap-policy: is not a marker here' "
                                  "--disk-only --atomic >/dev/null"), 0);
        assert_tree(c, "vse2e-foreign", "f1:-,f2:own1,own1:f1");

        assert_int_equal(vs_virt_list_snapshots(c->v, "vse2e-foreign", &t, &err), 0);
        s = find_snap(&t, "f1");
        assert_non_null(s);
        assert_null(s->owner_policy);
        s = find_snap(&t, "own1");
        assert_non_null(s);
        assert_string_equal(s->owner_policy, POLICY);
        vs_snapshot_tree_clear(&t);

        {
                const char *names[] = { "f1", "f2", NULL };
                const expect_outcome exp[] = { { "f1", VS_DELETE_REFUSED },
                                               { "f2", VS_DELETE_REFUSED } };

                delete_expect(c, "vse2e-foreign", names, exp, 2);
        }
        assert_tree(c, "vse2e-foreign", "f1:-,f2:own1,own1:f1");
}

static void
test_names_never_collide(void **state)
{
        ctx *c = *state;
        vs_create_result r1, r2, r3, i1, i2;
        vs_err err;
        _cleanup_free_ char *tree = NULL;

        make_domain("vse2e-names", "--running");
        /* The same name twice in the same second. */
        assert_int_equal(create(c, "vse2e-names", VS_SNAP_DISK_ONLY, VS_QUIESCE_OFF, "same", NULL,
                                &r1, &err), 0);
        assert_int_equal(create(c, "vse2e-names", VS_SNAP_DISK_ONLY, VS_QUIESCE_OFF, "same", NULL,
                                &r2, &err), 0);
        assert_string_equal(r1.name, "same");
        assert_string_not_equal(r2.name, "same");
        assert_int_equal(strncmp(r2.name, "same", 4), 0);
        assert_string_not_equal(r1.disk_files[0], r2.disk_files[0]);
        assert_true(file_exists(r1.disk_files[0]));
        assert_true(file_exists(r2.disk_files[0]));

        /* libvirt's own overlay name for a reused snapshot name already
         * exists once the old metadata is gone: a path is never reused. */
        assert_int_equal(sh(NULL, "vs_virsh snapshot-delete vse2e-names %s --metadata >/dev/null",
                            r2.name), 0);
        assert_int_equal(create(c, "vse2e-names", VS_SNAP_DISK_ONLY, VS_QUIESCE_OFF, r2.name, NULL,
                                &r3, &err), 0);
        assert_string_not_equal(r3.disk_files[0], r2.disk_files[0]);
        assert_string_not_equal(r3.disk_files[0], r1.disk_files[0]);
        assert_true(file_exists(r2.disk_files[0]));
        assert_true(file_exists(r3.disk_files[0]));

        /* Internal snapshots too. */
        make_domain("vse2e-names-int", "--running");
        assert_int_equal(create(c, "vse2e-names-int", VS_SNAP_INTERNAL, VS_QUIESCE_OFF, "same",
                                NULL, &i1, &err), 0);
        assert_int_equal(create(c, "vse2e-names-int", VS_SNAP_INTERNAL, VS_QUIESCE_OFF, "same",
                                NULL, &i2, &err), 0);
        assert_string_equal(i1.name, "same");
        assert_string_not_equal(i2.name, "same");
        assert_int_equal(sh(&tree, "vs_virsh snapshot-list vse2e-names-int --name | sort | paste -sd,"),
                         0);
        assert_true(strstr(tree, "same,") == tree || strstr(tree, ",same") != NULL);
        assert_non_null(strstr(tree, i2.name));

        vs_create_result_clear(&r1);
        vs_create_result_clear(&r2);
        vs_create_result_clear(&r3);
        vs_create_result_clear(&i1);
        vs_create_result_clear(&i2);
}

/* ---- quiesce --------------------------------------------------------------- */

static void
test_quiesce_required_real_agent(void **state)
{
        ctx *c = *state;
        vs_create_result res;
        vs_err err;
        _cleanup_free_ char *rc = NULL, *marker = NULL, *fsinfo = NULL, *frozen = NULL;
        _cleanup_free_ char *base = NULL;
        double t0;

        assert_int_equal(sh(NULL, "vs_make_agent_guest vse2e-agent"), 0);
        assert_int_equal(sh(&fsinfo, "vs_virsh domfsinfo vse2e-agent | awk '{print $1, $3}'"), 0);
        assert_non_null(strstr(fsinfo, "/data ext4"));

        /* A file still in the guest's page cache (mounted commit=60): only a
         * real freeze flushes it into the image that becomes the backing. */
        assert_int_equal(sh(&rc, "vs_agent_exec vse2e-agent 'echo frozen-by-virtsnap > /data/marker'"),
                         0);
        assert_string_equal(rc, "0");
        assert_true(asprintf(&base, "%s/vse2e-agent.qcow2", c->img) >= 0);

        t0 = now_s();
        assert_int_equal(create(c, "vse2e-agent", VS_SNAP_DISK_ONLY, VS_QUIESCE_REQUIRED, "q1",
                                NULL, &res, &err), 0);
        assert_true(now_s() - t0 < 30);
        assert_string_equal(res.name, "q1");
        assert_string_equal(vs_consistency_to_string(res.consistency), "quiesced");
        assert_false(res.quiesce_fell_back);
        assert_int_equal(sh(&marker, "vs_disk_cat %s /marker", base), 0);
        assert_string_equal(marker, "frozen-by-virtsnap");
        /* The agent itself logged the freeze (qemu-ga -v on the console). */
        assert_int_equal(sh(&frozen, "grep -c '\"execute\":\"guest-fsfreeze-freeze\"' "
                                     "\"$VS_E2E_IMG/vse2e-agent.console\""), 0);
        assert_string_equal(frozen, "1");
        vs_create_result_clear(&res);
        assert_tree(c, "vse2e-agent", "q1:-");

        /* preferred with a working agent also quiesces, without falling back */
        assert_int_equal(create(c, "vse2e-agent", VS_SNAP_DISK_ONLY, VS_QUIESCE_PREFERRED, "q2",
                                NULL, &res, &err), 0);
        assert_string_equal(vs_consistency_to_string(res.consistency), "quiesced");
        assert_false(res.quiesce_fell_back);
        vs_create_result_clear(&res);
        assert_tree(c, "vse2e-agent", "q1:-,q2:q1");
}

/* The agent hangs (SIGSTOP in the guest): the channel stays connected, so
 * only the backend's response timeout keeps libvirt from waiting forever. */
static void
test_quiesce_hung_agent(void **state)
{
        ctx *c = *state;
        vs_create_result res;
        vs_err err;
        double t0, el;
        int r;

        assert_int_equal(sh(NULL, "vs_agent_ping vse2e-agent || vs_make_agent_guest vse2e-agent"), 0);
        assert_int_equal(sh(NULL, "vs_agent_hang vse2e-agent"), 0);

        t0 = now_s();
        r = create(c, "vse2e-agent", VS_SNAP_DISK_ONLY, VS_QUIESCE_REQUIRED, "hung-req", NULL, &res,
                   &err);
        el = now_s() - t0;
        print_message("required, hung agent: %.1fs, %s (code %d)\n", el, err.msg, err.code);
        assert_true(r < 0);
        assert_int_equal(err.code, VIR_ERR_AGENT_UNRESPONSIVE);
        assert_true(err.transient);
        assert_true(el < 30);
        vs_create_result_clear(&res);

        t0 = now_s();
        assert_int_equal(create(c, "vse2e-agent", VS_SNAP_DISK_ONLY, VS_QUIESCE_PREFERRED,
                                "hung-pref", NULL, &res, &err), 0);
        el = now_s() - t0;
        print_message("preferred, hung agent: %.1fs\n", el);
        assert_true(el < 30);
        assert_string_equal(vs_consistency_to_string(res.consistency), "crash-consistent");
        assert_true(res.quiesce_fell_back);
        assert_int_equal(res.quiesce_err.code, VIR_ERR_AGENT_UNRESPONSIVE);
        assert_string_equal(res.name, "hung-pref");
        vs_create_result_clear(&res);
}

/* The channel is there but no agent listens (a guest without one, or one
 * whose agent was stopped). */
static void
test_quiesce_no_agent(void **state)
{
        ctx *c = *state;
        vs_create_result res;
        vs_err err;
        vs_snapshot_tree t = { 0 };
        const vs_snapshot_info *s;
        double t0;
        int r;

        make_domain("vse2e-noagent", "--agent --running");

        t0 = now_s();
        r = create(c, "vse2e-noagent", VS_SNAP_DISK_ONLY, VS_QUIESCE_REQUIRED, "req", NULL, &res,
                   &err);
        assert_true(r < 0);
        assert_int_equal(err.code, VIR_ERR_AGENT_UNRESPONSIVE);
        assert_true(err.transient);
        assert_true(now_s() - t0 < 30);
        vs_create_result_clear(&res);
        assert_tree(c, "vse2e-noagent", "");

        t0 = now_s();
        assert_int_equal(create(c, "vse2e-noagent", VS_SNAP_DISK_ONLY, VS_QUIESCE_PREFERRED, "pref",
                                NULL, &res, &err), 0);
        assert_true(now_s() - t0 < 30);
        assert_string_equal(res.name, "pref");
        assert_string_equal(vs_consistency_to_string(res.consistency), "crash-consistent");
        assert_true(res.quiesce_fell_back);
        assert_int_equal(res.quiesce_err.code, VIR_ERR_AGENT_UNRESPONSIVE);
        assert_true(res.quiesce_err.msg[0] != '\0');
        vs_create_result_clear(&res);

        assert_int_equal(vs_virt_list_snapshots(c->v, "vse2e-noagent", &t, &err), 0);
        s = find_snap(&t, "pref");
        assert_non_null(s);
        assert_true(s->external);
        vs_snapshot_tree_clear(&t);
        assert_tree(c, "vse2e-noagent", "pref:-");
}

/* No agent channel at all: libvirt cannot even try. */
static void
test_quiesce_no_channel(void **state)
{
        ctx *c = *state;
        vs_create_result res;
        vs_err err;
        int r;

        make_domain("vse2e-nochan", "--running");
        r = create(c, "vse2e-nochan", VS_SNAP_DISK_ONLY, VS_QUIESCE_REQUIRED, "req", NULL, &res,
                   &err);
        assert_true(r < 0);
        assert_int_equal(err.code, VIR_ERR_ARGUMENT_UNSUPPORTED);
        vs_create_result_clear(&res);

        assert_int_equal(create(c, "vse2e-nochan", VS_SNAP_DISK_ONLY, VS_QUIESCE_PREFERRED, "pref",
                                NULL, &res, &err), 0);
        assert_string_equal(vs_consistency_to_string(res.consistency), "crash-consistent");
        assert_true(res.quiesce_fell_back);
        assert_int_equal(res.quiesce_err.code, VIR_ERR_ARGUMENT_UNSUPPORTED);
        vs_create_result_clear(&res);
        assert_tree(c, "vse2e-nochan", "pref:-");
}

/* ---- main ------------------------------------------------------------------ */

static int
group_setup(void **state)
{
        static ctx c;
        vs_err err;
        const char *uri = getenv("VS_E2E_URI");

        if (!uri || !getenv("VS_E2E_LIB") || !getenv("VS_E2E_IMG")) {
                print_error("VS_E2E_URI, VS_E2E_LIB and VS_E2E_IMG must be set (run-e2e.sh does)\n");
                return -1;
        }
        c.img = getenv("VS_E2E_IMG");
        if (vs_virt_open_libvirt(uri, &c.v, &err) < 0) {
                print_error("open %s: %s\n", uri, err.msg);
                return -1;
        }
        *state = &c;
        return 0;
}

static int
group_teardown(void **state)
{
        ctx *c = *state;

        if (c)
                vs_virt_free(c->v);
        return 0;
}

int
main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_internal_running),
                cmocka_unit_test(test_internal_shutoff),
                cmocka_unit_test(test_disk_only_running),
                cmocka_unit_test(test_disk_only_shutoff),
                cmocka_unit_test(test_external_memory),
                cmocka_unit_test(test_delete_external_chain_running),
                cmocka_unit_test(test_delete_external_chain_shutoff),
                cmocka_unit_test(test_mixed_chain_undeletable),
                cmocka_unit_test(test_subtree_children),
                cmocka_unit_test(test_foreign_never_deleted),
                cmocka_unit_test(test_names_never_collide),
                cmocka_unit_test(test_quiesce_no_channel),
                cmocka_unit_test(test_quiesce_no_agent),
                cmocka_unit_test(test_quiesce_required_real_agent),
                cmocka_unit_test(test_quiesce_hung_agent),
        };

        return cmocka_run_group_tests_name("virt-e2e", tests, group_setup, group_teardown);
}
