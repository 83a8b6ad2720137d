/* Unit tests for virt/snapshot-xml.c: the snapshot XML virtsnap sends is
 * compared byte for byte with the golden files in tests/data/snapshot-xml/,
 * and XML that libvirt really printed (qemu:///session and test:///default
 * dumps kept as fixtures) parses into the expected vs_snapshot_info. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "snapshot-xml.h"
#include "strv.h"

static char *
read_data(const char *name)
{
        const char *root = getenv("VS_SOURCE_ROOT");
        char path[4096];
        FILE *f;
        char *buf;
        long len;

        assert_non_null(root);
        snprintf(path, sizeof(path), "%s/tests/data/snapshot-xml/%s", root, name);
        f = fopen(path, "rb");
        if (!f)
                fail_msg("cannot open %s", path);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        len = ftell(f);
        assert_true(len >= 0);
        rewind(f);
        buf = malloc((size_t)len + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
        buf[len] = '\0';
        fclose(f);
        return buf;
}

static void
assert_golden(const vs_snapshot_xml_params *p, const char *golden)
{
        char *want = read_data(golden), *got = NULL;
        vs_err err = { 0 };

        assert_int_equal(vs__snapshot_xml_build(p, &got, &err), 0);
        if (strcmp(got, want) != 0)
                fail_msg("%s differs:\n--- got ---\n%s--- want ---\n%s", golden, got, want);
        free(got);
        free(want);
}

static const vs_snapshot_xml_disk web_disks[] = {
        { "vda", "/var/lib/libvirt/images/web.daily-20260329T010000Z" },
        { "vdb", NULL },
        { "hdc", NULL },
};

static void
test_build_internal(void **state)
{
        (void)state;
        assert_golden(&(vs_snapshot_xml_params){ .name = "daily-20260329T010000Z",
                                                 .description = "Nightly snapshot of web",
                                                 .owner = "daily",
                                                 .type = VS_SNAP_INTERNAL,
                                                 /* ignored for internal snapshots */
                                                 .disks = web_disks,
                                                 .n_disks = 3 },
                      "internal.xml");
        assert_golden(&(vs_snapshot_xml_params){ .name = "hourly-1774746000",
                                                 .owner = "hourly",
                                                 .type = VS_SNAP_INTERNAL },
                      "internal-no-description.xml");
        assert_golden(&(vs_snapshot_xml_params){ .name = "weekly-2026W13",
                                                 .description = "<web & db> \"quoted\" 'single'\n"
                                                                "second line: caf\xc3\xa9",
                                                 .owner = "weekly",
                                                 .type = VS_SNAP_INTERNAL },
                      "escaping.xml");
}

static void
test_build_disk_only(void **state)
{
        (void)state;
        /* A trailing newline in the description does not double the separator. */
        assert_golden(&(vs_snapshot_xml_params){ .name = "daily-20260329T010000Z",
                                                 .description = "Nightly snapshot of web\n\n",
                                                 .owner = "daily",
                                                 .type = VS_SNAP_DISK_ONLY,
                                                 .disks = web_disks,
                                                 .n_disks = 3 },
                      "disk-only.xml");
}

static void
test_build_external(void **state)
{
        (void)state;
        assert_golden(&(vs_snapshot_xml_params){
                              .name = "daily-20260329T010000Z",
                              .description = "Nightly snapshot of web",
                              .owner = "daily",
                              .type = VS_SNAP_EXTERNAL,
                              .disks = web_disks,
                              .n_disks = 3,
                              .memory_file = "/var/lib/virtsnap/overlays/web.daily-20260329T010000Z.mem" },
                      "external.xml");
}

static void
test_build_rejects(void **state)
{
        vs_snapshot_xml_disk rel[] = { { "vda", "relative/web.s1" } };
        vs_snapshot_xml_disk none[] = { { "vda", NULL } };
        vs_err err = { 0 };
        char *x = NULL;

        (void)state;
        assert_int_equal(vs__snapshot_xml_build(&(vs_snapshot_xml_params){ .type = VS_SNAP_INTERNAL }, &x,
                                                &err),
                         -EINVAL);
        assert_int_equal(vs__snapshot_xml_build(&(vs_snapshot_xml_params){ .name = "s1",
                                                                           .type = VS_SNAP_DISK_ONLY,
                                                                           .disks = rel,
                                                                           .n_disks = 1 },
                                                &x, &err),
                         -EINVAL);
        assert_non_null(strstr(err.msg, "not absolute"));
        assert_int_equal(vs__snapshot_xml_build(&(vs_snapshot_xml_params){ .name = "s1",
                                                                           .type = VS_SNAP_DISK_ONLY,
                                                                           .disks = none,
                                                                           .n_disks = 1 },
                                                &x, &err),
                         -EINVAL);
        assert_non_null(strstr(err.msg, "selects no disk"));
        assert_int_equal(vs__snapshot_xml_build(&(vs_snapshot_xml_params){ .name = "s1",
                                                                           .type = VS_SNAP_EXTERNAL,
                                                                           .disks = web_disks,
                                                                           .n_disks = 1 },
                                                &x, &err),
                         -EINVAL);
        assert_non_null(strstr(err.msg, "memory file"));
        assert_null(x);
}

static void
test_description(void **state)
{
        char *d = NULL, *text = NULL, *owner = NULL;

        (void)state;
        assert_int_equal(vs__description_compose("a\nb", "daily", &d), 0);
        assert_string_equal(d, "a\nb\nvirtsnap-policy: daily");
        assert_int_equal(vs__description_split(d, &text, &owner), 0);
        assert_string_equal(text, "a\nb");
        assert_string_equal(owner, "daily");
        free(d);
        free(text);
        free(owner);

        /* Marker alone; trailing newline tolerated. */
        assert_int_equal(vs__description_split("virtsnap-policy: p-1.x\n", &text, &owner), 0);
        assert_null(text);
        assert_string_equal(owner, "p-1.x");
        free(owner);

        /* Not the last line: foreign. */
        assert_int_equal(vs__description_split("virtsnap-policy: daily\nedited by hand", &text, &owner), 0);
        assert_string_equal(text, "virtsnap-policy: daily\nedited by hand");
        assert_null(owner);
        free(text);

        /* Invalid policy name in the marker: foreign. */
        assert_int_equal(vs__description_split("x\nvirtsnap-policy: bad name", &text, &owner), 0);
        assert_string_equal(text, "x\nvirtsnap-policy: bad name");
        assert_null(owner);
        free(text);
        assert_int_equal(vs__description_split("virtsnap-policy: ", &text, &owner), 0);
        assert_string_equal(text, "virtsnap-policy: ");
        assert_null(owner);
        free(text);

        assert_int_equal(vs__description_split(NULL, &text, &owner), 0);
        assert_null(text);
        assert_null(owner);

        assert_int_equal(vs__description_compose(NULL, NULL, &d), 0);
        assert_string_equal(d, "");
        free(d);
}

static void
test_parse_qemu_internal(void **state)
{
        char *xml = read_data("libvirt-qemu-internal.xml");
        vs_snapshot_info s = { 0 };
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs__snapshot_xml_parse(xml, &s, &err), 0);
        assert_string_equal(s.name, "s1");
        assert_null(s.parent);
        assert_int_equal(s.creation_time, 1795757429);
        assert_string_equal(s.state, "running");
        assert_false(s.external);
        assert_true(s.has_memory);
        assert_false(s.current);
        assert_string_equal(s.description, "first");
        assert_string_equal(s.owner_policy, "daily");
        assert_null(s.disk_files);
        assert_null(s.memory_file);
        vs__snapshot_info_clear(&s);
        free(xml);
}

static void
test_parse_qemu_disk_only(void **state)
{
        char *xml = read_data("libvirt-qemu-disk-only.xml");
        vs_snapshot_info s = { 0 };
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs__snapshot_xml_parse(xml, &s, &err), 0);
        assert_string_equal(s.name, "d1");
        assert_string_equal(s.parent, "s1");
        assert_string_equal(s.state, "disk-snapshot");
        assert_true(s.external);
        assert_false(s.has_memory);
        assert_null(s.description);
        assert_null(s.owner_policy);
        assert_int_equal(vs_strv_length(s.disk_files), 1);
        assert_string_equal(s.disk_files[0], "/tmp/vs-virt/images/b.d1");
        assert_null(s.memory_file);
        vs__snapshot_info_clear(&s);
        free(xml);
}

static void
test_parse_qemu_external(void **state)
{
        char *xml = read_data("libvirt-qemu-external.xml");
        vs_snapshot_info s = { 0 };
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs__snapshot_xml_parse(xml, &s, &err), 0);
        assert_string_equal(s.name, "e1");
        assert_string_equal(s.parent, "d1");
        assert_string_equal(s.state, "running");
        assert_true(s.external);
        assert_true(s.has_memory);
        assert_int_equal(vs_strv_length(s.disk_files), 1);
        assert_string_equal(s.disk_files[0], "/tmp/vs-virt/images/b.e1");
        assert_string_equal(s.memory_file, "/tmp/vs-virt/images/vm-b.e1.mem");
        vs__snapshot_info_clear(&s);
        free(xml);
}

static void
test_parse_test_driver(void **state)
{
        char *xml = read_data("libvirt-test-internal.xml");
        vs_snapshot_info s = { 0 };
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs__snapshot_xml_parse(xml, &s, &err), 0);
        assert_string_equal(s.name, "daily-20260329T010000Z");
        assert_string_equal(s.parent, "foreign1");
        assert_int_equal(s.creation_time, 1795757448);
        assert_string_equal(s.description, "Nightly snapshot of web");
        assert_string_equal(s.owner_policy, "daily");
        assert_false(s.external);
        assert_true(s.has_memory);
        vs__snapshot_info_clear(&s);
        free(xml);
}

static void
test_parse_roundtrip_escaping(void **state)
{
        char *xml = read_data("escaping.xml");
        vs_snapshot_info s = { 0 };
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs__snapshot_xml_parse(xml, &s, &err), 0);
        assert_string_equal(s.name, "weekly-2026W13");
        assert_string_equal(s.description, "<web & db> \"quoted\" 'single'\nsecond line: caf\xc3\xa9");
        assert_string_equal(s.owner_policy, "weekly");
        assert_null(s.state);
        vs__snapshot_info_clear(&s);
        free(xml);
}

static void
test_parse_errors(void **state)
{
        vs_snapshot_info s = { 0 };
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs__snapshot_xml_parse("<domainsnapshot><name>x</name>", &s, &err), -EINVAL);
        assert_string_equal(err.msg, "malformed XML");
        assert_int_equal(vs__snapshot_xml_parse("<domain><name>x</name></domain>", &s, &err), -EINVAL);
        assert_int_equal(vs__snapshot_xml_parse("<domainsnapshot><state>running</state></domainsnapshot>",
                                                &s, &err),
                         -EINVAL);
        assert_non_null(strstr(err.msg, "<name>"));
        assert_int_equal(vs__snapshot_xml_parse("<domainsnapshot><name>x</name><creationTime>12a"
                                                "</creationTime></domainsnapshot>",
                                                &s, &err),
                         -EINVAL);
        assert_null(s.name);
}

static void
test_domain_disks(void **state)
{
        char *xml = read_data("domain-disks.xml");
        vs_domain_disks d = { 0 };
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs__domain_disks_parse(xml, &d, &err), 0);
        assert_int_equal(d.n, 4);
        assert_string_equal(d.items[0].target, "vda");
        assert_string_equal(d.items[0].source, "/tmp/vs-virt/images/a.qcow2");
        assert_string_equal(d.items[0].device, "disk");
        assert_string_equal(d.items[0].type, "file");
        assert_string_equal(d.items[0].format, "qcow2");
        assert_false(d.items[0].readonly);
        assert_null(d.items[0].mirror_job);
        assert_int_equal(d.items[0].backing_depth, 0);
        assert_string_equal(d.items[1].target, "vdb");
        assert_string_equal(d.items[1].mirror_job, "copy");
        assert_int_equal(d.items[1].backing_depth, 2);
        assert_string_equal(d.items[1].source, "/tmp/vs-virt/images/a-data.qcow2");
        assert_string_equal(d.items[2].target, "hdc");
        assert_null(d.items[2].source);
        assert_string_equal(d.items[2].device, "cdrom");
        assert_true(d.items[2].readonly);
        assert_string_equal(d.items[3].target, "vdc");
        assert_string_equal(d.items[3].source, "/dev/vg0/shared");
        assert_string_equal(d.items[3].type, "block");
        assert_string_equal(d.items[3].format, "raw");
        assert_true(d.items[3].readonly);
        vs__domain_disks_clear(&d);
        free(xml);

        assert_int_equal(vs__domain_disks_parse("<domainsnapshot/>", &d, &err), -EINVAL);
}

static void
test_tags(void **state)
{
        char **tags = NULL;
        vs_err err = { 0 };

        (void)state;
        assert_int_equal(vs__tags_xml_parse("<vs:tags xmlns:vs=\"urn:virtsnap:1\"><vs:tag>production</vs:tag>"
                                            "<vs:tag> db </vs:tag><vs:tag>production</vs:tag>"
                                            "<vs:tag></vs:tag><vs:other>x</vs:other></vs:tags>",
                                            &tags, &err),
                         0);
        assert_int_equal(vs_strv_length(tags), 2);
        assert_string_equal(tags[0], "production");
        assert_string_equal(tags[1], "db");
        vs_strv_free(tags);

        tags = NULL;
        assert_int_equal(vs__tags_xml_parse("<tags xmlns=\"urn:virtsnap:1\"/>", &tags, &err), 0);
        assert_null(tags);
        assert_int_equal(vs__tags_xml_parse("<labels/>", &tags, &err), -EINVAL);
        assert_int_equal(vs__tags_xml_parse("<tags>", &tags, &err), -EINVAL);
}

int
main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_build_internal),
                cmocka_unit_test(test_build_disk_only),
                cmocka_unit_test(test_build_external),
                cmocka_unit_test(test_build_rejects),
                cmocka_unit_test(test_description),
                cmocka_unit_test(test_parse_qemu_internal),
                cmocka_unit_test(test_parse_qemu_disk_only),
                cmocka_unit_test(test_parse_qemu_external),
                cmocka_unit_test(test_parse_test_driver),
                cmocka_unit_test(test_parse_roundtrip_escaping),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_domain_disks),
                cmocka_unit_test(test_tags),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
