/* Unit tests for virt/delete-plan.c on synthetic snapshot trees: ownership,
 * internal subtrees with and without CHILDREN, external chains on active and
 * shut-off domains, mixed chains, missing names and duplicates.  Each case
 * states the plan libvirt 9.0 needs (see delete-plan.h for why). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "delete-plan.h"
#include "virt.h"

/* One synthetic snapshot: name, parent, creation time, external?, owner. */
typedef struct snap {
        const char *name;
        const char *parent;
        int64_t t;
        bool external;
        const char *owner;
} snap;

#define MAX_SNAPS 32

typedef struct fixture {
        vs_snapshot_info items[MAX_SNAPS];
        vs_snapshot_tree tree;
        vs_delete_plan plan;
} fixture;

static void
build(fixture *f, const snap *s, size_t n)
{
        assert_true(n <= MAX_SNAPS);
        memset(f, 0, sizeof(*f));
        for (size_t i = 0; i < n; i++) {
                f->items[i].name = (char *)s[i].name;
                f->items[i].parent = (char *)s[i].parent;
                f->items[i].creation_time = s[i].t;
                f->items[i].external = s[i].external;
                f->items[i].owner_policy = (char *)s[i].owner;
        }
        f->tree.items = f->items;
        f->tree.n = n;
}

static void
plan(fixture *f, char *const *names, bool active)
{
        assert_int_equal(vs__delete_plan_build(&f->tree, names, active, &f->plan), 0);
}

static const vs_delete_entry *
entry(const fixture *f, const char *name)
{
        for (size_t i = 0; i < f->plan.n_entries; i++)
                if (strcmp(f->plan.entries[i].name, name) == 0)
                        return &f->plan.entries[i];
        fail_msg("no entry for %s", name);
        return NULL;
}

/* Step i is "delete NAME" with or without CHILDREN. */
static void
assert_step(const fixture *f, size_t i, const char *name, bool children)
{
        assert_true(i < f->plan.n_steps);
        if (strcmp(f->tree.items[f->plan.steps[i].snap].name, name) != 0)
                fail_msg("step %zu deletes %s, want %s", i, f->tree.items[f->plan.steps[i].snap].name, name);
        assert_int_equal(f->plan.steps[i].children, children);
}

static void
assert_planned(const fixture *f, const char *name, size_t step)
{
        const vs_delete_entry *e = entry(f, name);

        assert_int_equal(e->outcome, VS_DELETE_DELETED);
        assert_int_equal(e->step, step);
}

static void
assert_decided(const fixture *f, const char *name, vs_delete_outcome o, const char *reason_part)
{
        const vs_delete_entry *e = entry(f, name);

        if (e->outcome != o)
                fail_msg("%s: outcome %s, want %s", name, vs_delete_outcome_to_string(e->outcome),
                         vs_delete_outcome_to_string(o));
        assert_int_equal(e->step, VS_PLAN_NONE);
        if (!strstr(e->reason, reason_part))
                fail_msg("%s: reason '%s' lacks '%s'", name, e->reason, reason_part);
}

static void
done(fixture *f)
{
        vs__delete_plan_clear(&f->plan);
}

/* Internal chain a -> b -> c, all owned: deleting all three is one CHILDREN
 * call on a; deleting b alone is a plain call (c is re-parented). */
static void
test_internal_whole_subtree(void **state)
{
        static const snap s[] = {
                { "a", NULL, 10, false, "p" },
                { "b", "a", 20, false, "p" },
                { "c", "b", 30, false, "p" },
        };
        fixture f;

        (void)state;
        build(&f, s, 3);
        plan(&f, (char *[]){ "c", "a", "b", NULL }, true);
        assert_int_equal(f.plan.n_steps, 1);
        assert_step(&f, 0, "a", true);
        assert_planned(&f, "a", 0);
        assert_planned(&f, "b", 0);
        assert_planned(&f, "c", 0);
        /* Entries keep request order. */
        assert_string_equal(f.plan.entries[0].name, "c");
        assert_string_equal(f.plan.entries[2].name, "b");
        done(&f);

        /* Same on a shut-off domain. */
        plan(&f, (char *[]){ "a", "b", "c", NULL }, false);
        assert_int_equal(f.plan.n_steps, 1);
        assert_step(&f, 0, "a", true);
        done(&f);

        /* Subtree b-c only: CHILDREN on b. */
        plan(&f, (char *[]){ "b", "c", NULL }, true);
        assert_int_equal(f.plan.n_steps, 1);
        assert_step(&f, 0, "b", true);
        assert_planned(&f, "c", 0);
        done(&f);

        /* Middle only: one plain call. */
        plan(&f, (char *[]){ "b", NULL }, true);
        assert_int_equal(f.plan.n_steps, 1);
        assert_step(&f, 0, "b", false);
        assert_planned(&f, "b", 0);
        done(&f);

        /* A leaf gets no CHILDREN flag. */
        plan(&f, (char *[]){ "c", NULL }, true);
        assert_int_equal(f.plan.n_steps, 1);
        assert_step(&f, 0, "c", false);
        done(&f);
}

/* a has children b (requested) and x (kept): no CHILDREN, one by one, oldest first. */
static void
test_internal_partial_subtree(void **state)
{
        static const snap s[] = {
                { "x", "a", 25, false, "p" },
                { "b", "a", 20, false, "p" },
                { "a", NULL, 10, false, "p" },
                { "c", "b", 30, false, "p" },
        };
        fixture f;

        (void)state;
        build(&f, s, 4);
        plan(&f, (char *[]){ "c", "b", "a", NULL }, true);
        /* b-c is a whole subtree; a is not (x stays). */
        assert_int_equal(f.plan.n_steps, 2);
        assert_step(&f, 0, "a", false);
        assert_step(&f, 1, "b", true);
        assert_planned(&f, "a", 0);
        assert_planned(&f, "b", 1);
        assert_planned(&f, "c", 1);
        done(&f);
}

/* A foreign snapshot is refused, and it breaks the subtree around it. */
static void
test_foreign(void **state)
{
        static const snap s[] = {
                { "a", NULL, 10, false, "p" },
                { "f", "a", 20, false, NULL },
                { "c", "f", 30, false, "p" },
        };
        fixture f;

        (void)state;
        build(&f, s, 3);
        plan(&f, (char *[]){ "a", "f", "c", NULL }, true);
        assert_decided(&f, "f", VS_DELETE_REFUSED, "not made by virtsnap");
        assert_int_equal(f.plan.n_steps, 2);
        assert_step(&f, 0, "a", false);
        assert_step(&f, 1, "c", false);
        done(&f);

        /* Owned parent of an unrequested foreign child: plain delete. */
        plan(&f, (char *[]){ "a", NULL }, false);
        assert_int_equal(f.plan.n_steps, 1);
        assert_step(&f, 0, "a", false);
        done(&f);
}

/* Missing names and duplicates. */
static void
test_missing_and_duplicates(void **state)
{
        static const snap s[] = {
                { "a", NULL, 10, false, "p" },
        };
        fixture f;

        (void)state;
        build(&f, s, 1);
        plan(&f, (char *[]){ "gone", "a", "a", "gone", NULL }, true);
        assert_int_equal(f.plan.n_entries, 2);
        assert_decided(&f, "gone", VS_DELETE_MISSING, "no snapshot named 'gone'");
        assert_int_equal(f.plan.n_steps, 1);
        assert_planned(&f, "a", 0);
        done(&f);

        plan(&f, (char *[]){ NULL }, true);
        assert_int_equal(f.plan.n_entries, 0);
        assert_int_equal(f.plan.n_steps, 0);
        done(&f);
}

/* External chain e1 -> e2 -> e3 (e3 current) on a running domain: one call
 * each, never CHILDREN, oldest first, whatever the request order. */
static void
test_external_running(void **state)
{
        static const snap s[] = {
                { "e3", "e2", 30, true, "p" },
                { "e1", NULL, 10, true, "p" },
                { "e2", "e1", 20, true, "p" },
        };
        fixture f;

        (void)state;
        build(&f, s, 3);
        plan(&f, (char *[]){ "e3", "e2", "e1", NULL }, true);
        assert_int_equal(f.plan.n_steps, 3);
        assert_step(&f, 0, "e1", false);
        assert_step(&f, 1, "e2", false);
        assert_step(&f, 2, "e3", false);
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(f.plan.steps[i].depends_on, VS_PLAN_NONE);
        assert_planned(&f, "e1", 0);
        assert_planned(&f, "e3", 2);
        done(&f);

        /* Any position alone works while running. */
        plan(&f, (char *[]){ "e2", NULL }, true);
        assert_int_equal(f.plan.n_steps, 1);
        assert_step(&f, 0, "e2", false);
        done(&f);
}

/* The same chain shut off: only the top goes; delete from the top while
 * that holds, each step depending on the one that removed its child. */
static void
test_external_shutoff(void **state)
{
        static const snap s[] = {
                { "e1", NULL, 10, true, "p" },
                { "e2", "e1", 20, true, "p" },
                { "e3", "e2", 30, true, "p" },
        };
        fixture f;

        (void)state;
        build(&f, s, 3);
        plan(&f, (char *[]){ "e1", "e2", "e3", NULL }, false);
        assert_int_equal(f.plan.n_steps, 3);
        assert_step(&f, 0, "e3", false);
        assert_step(&f, 1, "e2", false);
        assert_step(&f, 2, "e1", false);
        assert_int_equal(f.plan.steps[0].depends_on, VS_PLAN_NONE);
        assert_int_equal(f.plan.steps[1].depends_on, 0);
        assert_int_equal(f.plan.steps[2].depends_on, 1);
        done(&f);

        /* Oldest two only: e3 stays, so both wait for the domain to run. */
        plan(&f, (char *[]){ "e1", "e2", NULL }, false);
        assert_int_equal(f.plan.n_steps, 0);
        assert_decided(&f, "e1", VS_DELETE_DEFERRED, "shut off");
        assert_decided(&f, "e2", VS_DELETE_DEFERRED, "not the newest");
        done(&f);

        /* e1 and e3: e3 goes, e1 waits (e2 stays). */
        plan(&f, (char *[]){ "e1", "e3", NULL }, false);
        assert_int_equal(f.plan.n_steps, 1);
        assert_step(&f, 0, "e3", false);
        assert_decided(&f, "e1", VS_DELETE_DEFERRED, "'e1'");
        done(&f);
}

/* Shut off with a foreign external on top: nothing of ours can go. */
static void
test_external_shutoff_foreign_top(void **state)
{
        static const snap s[] = {
                { "e1", NULL, 10, true, "p" },
                { "e2", "e1", 20, true, "p" },
                { "hand", "e2", 30, true, NULL },
        };
        fixture f;

        (void)state;
        build(&f, s, 3);
        plan(&f, (char *[]){ "e1", "e2", "hand", NULL }, false);
        assert_int_equal(f.plan.n_steps, 0);
        assert_decided(&f, "hand", VS_DELETE_REFUSED, "not made by virtsnap");
        assert_decided(&f, "e1", VS_DELETE_DEFERRED, "shut off");
        assert_decided(&f, "e2", VS_DELETE_DEFERRED, "shut off");
        done(&f);

        /* Running: ours go oldest first, the foreign one is untouched. */
        plan(&f, (char *[]){ "e1", "e2", "hand", NULL }, true);
        assert_int_equal(f.plan.n_steps, 2);
        assert_step(&f, 0, "e1", false);
        assert_step(&f, 1, "e2", false);
        done(&f);
}

/* Internal s1 -> s2, external d1 on top (the trap from the notes). */
static void
test_mixed_chain(void **state)
{
        static const snap s[] = {
                { "s1", NULL, 10, false, "p" },
                { "s2", "s1", 20, false, "p" },
                { "d1", "s2", 30, true, "p" },
        };
        fixture f;

        (void)state;
        build(&f, s, 3);
        plan(&f, (char *[]){ "s1", "s2", "d1", NULL }, true);
        assert_int_equal(f.plan.n_steps, 0);
        assert_decided(&f, "d1", VS_DELETE_UNDELETABLE, "internal snapshot as parent");
        assert_decided(&f, "s1", VS_DELETE_UNDELETABLE, "while the domain runs");
        assert_decided(&f, "s2", VS_DELETE_UNDELETABLE, "while the domain runs");
        done(&f);

        /* Shut off, libvirt deletes the internal ones (qemu-img on the
         * image they live in), one at a time, never with CHILDREN since an
         * external descendant is there; d1 stays undeletable. */
        plan(&f, (char *[]){ "s1", "s2", "d1", NULL }, false);
        assert_decided(&f, "d1", VS_DELETE_UNDELETABLE, "internal snapshot as parent");
        assert_int_equal(f.plan.n_steps, 2);
        assert_step(&f, 0, "s1", false);
        assert_step(&f, 1, "s2", false);
        done(&f);
}

/* External e1 with an internal snapshot taken on top (stored in e1's
 * overlay): deleting e1 would merge s away, so it is undeletable; s itself
 * is deletable (its image is the active one). */
static void
test_external_with_internal_child(void **state)
{
        static const snap s[] = {
                { "e1", NULL, 10, true, "p" },
                { "s", "e1", 20, false, "p" },
        };
        fixture f;

        (void)state;
        build(&f, s, 2);
        plan(&f, (char *[]){ "e1", "s", NULL }, true);
        assert_decided(&f, "e1", VS_DELETE_UNDELETABLE, "merge them away");
        assert_int_equal(f.plan.n_steps, 1);
        assert_step(&f, 0, "s", false);
        done(&f);
}

/* External root with an internal branch elsewhere: independent decisions;
 * internal calls come before external ones. */
static void
test_forest(void **state)
{
        static const snap s[] = {
                { "i1", NULL, 5, false, "p" },
                { "i2", "i1", 6, false, "q" },
                { "e1", NULL, 10, true, "p" },
                { "e2", "e1", 20, true, "p" },
        };
        fixture f;

        (void)state;
        build(&f, s, 4);
        plan(&f, (char *[]){ "e2", "i1", "i2", "e1", NULL }, true);
        assert_int_equal(f.plan.n_steps, 3);
        assert_step(&f, 0, "i1", true);
        assert_step(&f, 1, "e1", false);
        assert_step(&f, 2, "e2", false);
        assert_planned(&f, "i2", 0);
        done(&f);
}

/* libvirt's words for a delete it will never finish (an external delete
 * interrupted by libvirtd stopping), seen on libvirt 9.0 + QEMU 7.2 in the
 * chaos e2e; everything else stays a failure worth retrying. */
static void
test_permanent_failure(void **state)
{
        (void)state;
        assert_true(vs__delete_failure_is_permanent(
                "deleting snapshot dsk-1 of vm: Requested operation is not valid: snapshot disk 'vda' was target "
                "of not completed snapshot delete"));
        assert_true(vs__delete_failure_is_permanent(
                "deleting snapshot dsk-2 of vm: internal error: unable to execute QEMU command 'block-commit': "
                "'libvirt-12-format' is not in this backing file chain"));
        assert_false(vs__delete_failure_is_permanent(
                "deleting snapshot dsk-1 of vm: End of file while reading data: Input/output error"));
        assert_false(vs__delete_failure_is_permanent(
                "deleting snapshot dsk-1 of vm: internal error: unable to execute QEMU command 'block-commit': "
                "Device 'drive-virtio-disk0' is busy"));
        assert_false(vs__delete_failure_is_permanent(NULL));
}

/* Corrupt metadata: a parent loop must not hang the planner. */
static void
test_parent_loop(void **state)
{
        static const snap s[] = {
                { "a", "b", 10, false, "p" },
                { "b", "a", 20, false, "p" },
        };
        fixture f;

        (void)state;
        build(&f, s, 2);
        plan(&f, (char *[]){ "a", "b", NULL }, true);
        /* Each is planned exactly once, whatever shape the loop was cut into. */
        assert_int_equal(entry(&f, "a")->outcome, VS_DELETE_DELETED);
        assert_int_equal(entry(&f, "b")->outcome, VS_DELETE_DELETED);
        assert_true(f.plan.n_steps >= 1 && f.plan.n_steps <= 2);
        done(&f);
}

/* Revert (virt/revert-plan.c): internal targets only, and none with an
 * external snapshot below it; the current snapshot is reported. */
static void
test_revert_check(void **state)
{
        static const snap s[] = {
                { "s1", NULL, 10, false, "p" },
                { "s2", "s1", 20, false, "p" },
                { "d1", "s2", 30, true, "p" },
                { "s3", "s1", 40, false, NULL },
        };
        const char *cur = "unset";
        char why[512];
        fixture f;

        (void)state;
        build(&f, s, 4);
        f.items[3].current = true;
        assert_int_equal(vs_virt_revert_check(&f.tree, "s3", &cur, why, sizeof(why)), 0);
        assert_string_equal(cur, "s3");
        /* s1 has d1 (external) below it, through s2. */
        assert_int_equal(vs_virt_revert_check(&f.tree, "s1", NULL, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "external snapshot 'd1' was taken after 's1'"));
        assert_int_equal(vs_virt_revert_check(&f.tree, "s2", NULL, why, sizeof(why)), -1);
        assert_int_equal(vs_virt_revert_check(&f.tree, "d1", NULL, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "'d1' is an external snapshot (disks only): libvirt 9.0 cannot revert"));
        f.items[2].has_memory = true;
        assert_int_equal(vs_virt_revert_check(&f.tree, "d1", NULL, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "(memory and disks)"));
        assert_int_equal(vs_virt_revert_check(&f.tree, "nosuch", &cur, why, sizeof(why)), -1);
        assert_string_equal(why, "no snapshot 'nosuch'");
        /* No current snapshot: none reported. */
        f.items[3].current = false;
        assert_int_equal(vs_virt_revert_check(&f.tree, "s3", &cur, why, sizeof(why)), 0);
        assert_null(cur);
        /* A parent loop does not hang it. */
        f.items[0].parent = (char *)"s3";
        assert_int_equal(vs_virt_revert_check(&f.tree, "s3", &cur, why, sizeof(why)), -1);
}

int
main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_internal_whole_subtree),
                cmocka_unit_test(test_revert_check),
                cmocka_unit_test(test_internal_partial_subtree),
                cmocka_unit_test(test_foreign),
                cmocka_unit_test(test_missing_and_duplicates),
                cmocka_unit_test(test_external_running),
                cmocka_unit_test(test_external_shutoff),
                cmocka_unit_test(test_external_shutoff_foreign_top),
                cmocka_unit_test(test_mixed_chain),
                cmocka_unit_test(test_external_with_internal_child),
                cmocka_unit_test(test_forest),
                cmocka_unit_test(test_parent_loop),
                cmocka_unit_test(test_permanent_failure),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
