/* Unit tests for the policy language: every validation rule with its exact
 * FILE:LINE:COLUMN, hostile files, templates, selectors and enum tables. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "overlap.h"
#include "policy.h"
#include "strv.h"

/* ---- helpers ---- */

/* Load text as "t.yaml" and compare the formatted diagnostics with the
 * NULL-terminated expected list, exactly and in order. */
static void
expect_diags_v(const char *text, size_t len, const char *const *expected)
{
        vs_diags d = { 0 };
        vs_config *cfg = NULL;
        size_t n_exp = 0;
        bool ok;
        int r;

        while (expected[n_exp])
                n_exp++;
        r = vs_config_load_string("t.yaml", text, len, &cfg, &d);
        ok = d.n == n_exp;
        for (size_t i = 0; ok && i < d.n; i++) {
                char buf[1024];

                vs_diag_format(&d.items[i], buf, sizeof(buf));
                ok = strcmp(buf, expected[i]) == 0;
        }
        if (!ok) {
                char buf[1024];

                print_error("--- input:\n%s\n--- expected %zu:\n", text, n_exp);
                for (size_t i = 0; i < n_exp; i++)
                        print_error("  %s\n", expected[i]);
                print_error("--- got %zu (r=%d):\n", d.n, r);
                for (size_t i = 0; i < d.n; i++) {
                        vs_diag_format(&d.items[i], buf, sizeof(buf));
                        print_error("  %s\n", buf);
                }
        }
        assert_true(ok);
        if (n_exp == 0) {
                assert_int_equal(r, 0);
                assert_non_null(cfg);
        } else {
                assert_true(r < 0);
                assert_null(cfg);
        }
        vs_config_free(cfg);
        vs_diags_clear(&d);
}

#define EXPECT(text, ...) expect_diags_v((text), strlen(text), (const char *const[]){ __VA_ARGS__, NULL })
#define EXPECT_OK(text) expect_diags_v((text), strlen(text), (const char *const[]){ NULL })

static vs_config *
load_ok(const char *text)
{
        vs_diags d = { 0 };
        vs_config *cfg = NULL;
        int r = vs_config_load_string("t.yaml", text, strlen(text), &cfg, &d);

        for (size_t i = 0; i < d.n; i++) {
                char buf[1024];

                vs_diag_format(&d.items[i], buf, sizeof(buf));
                print_error("%s\n", buf);
        }
        assert_int_equal(r, 0);
        assert_int_equal(d.n, 0);
        vs_diags_clear(&d);
        return cfg;
}

/* Common prefix: line 1 timezone, line 2 policies, line 3 the policy's
 * name (mapping at 3:5, value at 3:11), line 4 schedule (value 4:15). */
#define HEAD "timezone: UTC\npolicies:\n  - name: p\n    schedule: hourly\n"
#define RET1 "    retention: {keep_last: 1}\n"

static const char *
data_path(const char *name, char *buf, size_t len)
{
        const char *root = getenv("VS_SOURCE_ROOT");

        snprintf(buf, len, "%s/tests/data/policies/%s", root ? root : "..", name);
        return buf;
}

static char tmpdir[64];

static int
setup_tmpdir(void **state)
{
        (void)state;
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/vs-test-policy-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown_tmpdir(void **state)
{
        char cmd[128];

        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static const char *
write_tmp(const char *name, const void *data, size_t len, char *path, size_t plen)
{
        FILE *f;

        snprintf(path, plen, "%s/%s", tmpdir, name);
        f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
        return path;
}

/* Load a file; return r and the first diag formatted into buf. */
static int
load_file_first_diag(const char *path, char *buf, size_t len, size_t *n)
{
        vs_diags d = { 0 };
        vs_config *cfg = NULL;
        int r = vs_config_load(path, &cfg, &d);

        buf[0] = '\0';
        if (d.n > 0)
                vs_diag_format(&d.items[0], buf, len);
        *n = d.n;
        assert_true(r == 0 ? cfg != NULL : cfg == NULL);
        vs_config_free(cfg);
        vs_diags_clear(&d);
        return r;
}

static double
now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- valid files ---- */

static const char issue_example[] =
        "connection: qemu:///system          # libvirt URI\n"
        "database: /var/lib/virtsnap/history.db\n"
        "timezone: Europe/Berlin\n"
        "max_concurrent: 4\n"
        "\n"
        "policies:\n"
        "  - name: web-hourly\n"
        "    domains:\n"
        "      include: [\"web-*\", \"api-01\"]\n"
        "      exclude: [\"*-test\"]\n"
        "      tags: [production]\n"
        "      state: running\n"
        "    schedule: \"0 * * * *\"\n"
        "    jitter: 2m\n"
        "    catch_up: true\n"
        "    snapshot:\n"
        "      type: disk-only\n"
        "      quiesce: preferred\n"
        "      name: \"{policy}-{utc:%Y%m%dT%H%M%SZ}\"\n"
        "      description: \"virtsnap {policy} {domain}\"\n"
        "      disks: [vda]\n"
        "      overlay_dir: /var/lib/libvirt/images/virtsnap\n"
        "      timeout: 5m\n"
        "    hooks:\n"
        "      pre:  [\"/usr/local/bin/app-flush\", \"{domain}\"]\n"
        "      post: [\"/usr/local/bin/app-resume\", \"{domain}\"]\n"
        "      timeout: 30s\n"
        "    retention:\n"
        "      keep_last: 4\n"
        "      keep_hourly: 24\n"
        "      keep_daily: 7\n"
        "      keep_weekly: 4\n"
        "      keep_monthly: 6\n"
        "      keep_yearly: 1\n"
        "      keep_within: 2h\n"
        "    prune: true\n";

static void
test_issue_example(void **state)
{
        vs_config *cfg = load_ok(issue_example);
        const vs_policy *p;

        (void)state;
        assert_string_equal(cfg->path, "t.yaml");
        assert_string_equal(cfg->connection, "qemu:///system");
        assert_string_equal(cfg->database, "/var/lib/virtsnap/history.db");
        assert_string_equal(vs_tz_name(cfg->tz), "Europe/Berlin");
        assert_int_equal(cfg->max_concurrent, 4);
        assert_int_equal(cfg->n_policies, 1);
        p = &cfg->policies[0];
        assert_ptr_equal(vs_config_find_policy(cfg, "web-hourly"), p);
        assert_null(vs_config_find_policy(cfg, "nope"));
        assert_string_equal(p->name, "web-hourly");
        assert_int_equal(p->line, 7);
        assert_int_equal(p->column, 5);
        assert_string_equal(p->connection, "qemu:///system");
        assert_true(p->enabled);
        assert_int_equal(vs_strv_length(p->domains.include), 2);
        assert_string_equal(p->domains.include[0], "web-*");
        assert_string_equal(p->domains.include[1], "api-01");
        assert_string_equal(p->domains.exclude[0], "*-test");
        assert_null(p->domains.exclude[1]);
        assert_string_equal(p->domains.tags[0], "production");
        assert_int_equal(p->domains.state, VS_STATE_SEL_RUNNING);
        assert_string_equal(vs_schedule_text(p->schedule), "0 * * * *");
        assert_int_equal(p->jitter, 120);
        assert_true(p->catch_up);
        assert_int_equal(p->snapshot.type, VS_SNAP_DISK_ONLY);
        assert_int_equal(p->snapshot.quiesce, VS_QUIESCE_PREFERRED);
        assert_string_equal(p->snapshot.name_template, "{policy}-{utc:%Y%m%dT%H%M%SZ}");
        assert_string_equal(p->snapshot.description_template, "virtsnap {policy} {domain}");
        assert_string_equal(p->snapshot.disks[0], "vda");
        assert_string_equal(p->snapshot.overlay_dir, "/var/lib/libvirt/images/virtsnap");
        assert_int_equal(p->snapshot.timeout, 300);
        assert_true(p->snapshot.atomic);
        assert_string_equal(p->hooks.pre[0], "/usr/local/bin/app-flush");
        assert_string_equal(p->hooks.pre[1], "{domain}");
        assert_null(p->hooks.pre[2]);
        assert_string_equal(p->hooks.post[0], "/usr/local/bin/app-resume");
        assert_int_equal(p->hooks.timeout, 30);
        assert_int_equal(p->retention.keep_last, 4);
        assert_int_equal(p->retention.keep_hourly, 24);
        assert_int_equal(p->retention.keep_daily, 7);
        assert_int_equal(p->retention.keep_weekly, 4);
        assert_int_equal(p->retention.keep_monthly, 6);
        assert_int_equal(p->retention.keep_yearly, 1);
        assert_int_equal(p->retention.keep_within, 7200);
        assert_true(p->prune);
        vs_config_free(cfg);
}

static void
test_defaults(void **state)
{
        vs_config *cfg = load_ok(HEAD RET1
                                 "  - name: q\n"
                                 "    connection: qemu+ssh://host.example/system\n"
                                 "    enabled: false\n"
                                 "    schedule: every 15m\n"
                                 "    catch_up: FALSE\n"
                                 "    prune: False\n"
                                 "    snapshot: {atomic: false}\n"
                                 "    retention: {keep_within: 1d}\n");
        const vs_policy *p = &cfg->policies[0], *q = &cfg->policies[1];

        (void)state;
        assert_string_equal(cfg->connection, "qemu:///system");
        assert_string_equal(cfg->database, "/var/lib/virtsnap/history.db");
        assert_int_equal(cfg->max_concurrent, 4);
        assert_string_equal(vs_tz_name(cfg->tz), "UTC");
        assert_string_equal(p->connection, "qemu:///system");
        assert_true(p->enabled);
        assert_null(p->domains.include);
        assert_null(p->domains.exclude);
        assert_null(p->domains.tags);
        assert_int_equal(p->domains.state, VS_STATE_SEL_ANY);
        assert_int_equal(p->jitter, 0);
        assert_true(p->catch_up);
        assert_int_equal(p->snapshot.type, VS_SNAP_INTERNAL);
        assert_int_equal(p->snapshot.quiesce, VS_QUIESCE_OFF);
        assert_string_equal(p->snapshot.name_template, "{policy}-{utc:%Y%m%dT%H%M%SZ}");
        assert_string_equal(p->snapshot.description_template, "virtsnap {policy} {domain}");
        assert_null(p->snapshot.disks);
        assert_null(p->snapshot.overlay_dir);
        assert_int_equal(p->snapshot.timeout, 300);
        assert_true(p->snapshot.atomic);
        assert_null(p->hooks.pre);
        assert_null(p->hooks.post);
        assert_int_equal(p->hooks.timeout, 30);
        assert_true(p->prune);
        assert_int_equal(p->line, 3);
        assert_int_equal(p->column, 5);

        assert_string_equal(q->connection, "qemu+ssh://host.example/system");
        assert_false(q->enabled);
        assert_false(q->catch_up);
        assert_false(q->prune);
        assert_false(q->snapshot.atomic);
        assert_int_equal(q->retention.keep_within, 86400);
        assert_int_equal(q->retention.keep_last, 0);

        assert_int_equal(vs_config_override_connection(cfg, "test:///default"), 0);
        assert_string_equal(cfg->connection, "test:///default");
        assert_string_equal(p->connection, "test:///default");
        assert_string_equal(q->connection, "test:///default");
        vs_config_free(cfg);

        /* The host's zone when none is given. */
        cfg = load_ok("policies:\n  - name: p\n    schedule: daily\n    retention: {keep_daily: 3}\n");
        assert_non_null(cfg->tz);
        vs_config_free(cfg);
}

static void
test_example_file(void **state)
{
        char path[512];
        vs_diags d = { 0 };
        vs_config *cfg = NULL;
        const char *root = getenv("VS_SOURCE_ROOT");

        (void)state;
        snprintf(path, sizeof(path), "%s/policies.example.yaml", root ? root : "..");
        assert_int_equal(vs_config_load(path, &cfg, &d), 0);
        assert_int_equal(d.n, 0);
        /* The demo policy runs on test:///default: internal, matches `test`. */
        {
                const vs_policy *demo = NULL;

                for (size_t i = 0; i < cfg->n_policies; i++)
                        if (cfg->policies[i].enabled && cfg->policies[i].snapshot.type == VS_SNAP_INTERNAL &&
                            vs_selector_match(&cfg->policies[i].domains, "test", NULL, true))
                                demo = &cfg->policies[i];
                assert_non_null(demo);
        }
        vs_config_free(cfg);
}

/* ---- syntax and structure ---- */

static void
test_yaml_syntax(void **state)
{
        (void)state;
        EXPECT("policies: [a, b\n",
               "t.yaml:2:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at 1:11)");
        EXPECT("a: b: c\n", "t.yaml:1:5: YAML syntax error: mapping values are not allowed in this context");
        EXPECT("policies:\n  - name: \"x\n",
               "t.yaml:3:1: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar at 2:11)");
        EXPECT("policies:\n\t- name: x\n",
               "t.yaml:2:1: YAML syntax error: found character that cannot start any token (while scanning for the "
               "next token at 2:1); tabs are not allowed in indentation, use spaces");
        EXPECT("a: 1\n---\nb: 2\n", "t.yaml:2:1: only one YAML document is allowed in a policy file");
}

static void
test_empty_and_top_level(void **state)
{
        (void)state;
        EXPECT("", "t.yaml:1:1: the file is empty (expected a mapping with 'policies')");
        EXPECT("# nothing\n\n", "t.yaml:1:1: the file is empty (expected a mapping with 'policies')");
        EXPECT("---\n...\n", "t.yaml:1:1: the file is empty (expected a mapping with 'policies')");
        EXPECT("- a\n- b\n", "t.yaml:1:1: the top level must be a mapping, not a list");
        EXPECT("hello\n", "t.yaml:1:1: the top level must be a mapping, not a scalar");
        EXPECT("timezone: UTC\n", "t.yaml:1:1: missing required key 'policies'");
        EXPECT("policies: []\n", "t.yaml:1:11: 'policies' is an empty list: no policy is defined");
        EXPECT("policies:\n", "t.yaml:1:10: 'policies' must be a list of policies, not nothing (null)");
        EXPECT("policies: {name: x}\n", "t.yaml:1:11: 'policies' must be a list of policies, not a mapping");
        EXPECT("policies:\n  - just-a-name\n", "t.yaml:2:5: each policy must be a mapping, not a scalar");
        EXPECT("policies:\n  - [a]: 1\n", "t.yaml:2:5: keys must be plain strings, not a list",
               "t.yaml:2:5: missing required key 'name'", "t.yaml:2:5: missing required key 'schedule'",
               "t.yaml:2:5: missing required key 'retention'");
}

static void
test_required_keys(void **state)
{
        (void)state;
        EXPECT("timezone: UTC\npolicies:\n  - schedule: hourly\n    retention: {keep_last: 1}\n",
               "t.yaml:3:5: missing required key 'name'");
        EXPECT("timezone: UTC\npolicies:\n  - name: p\n    retention: {keep_last: 1}\n",
               "t.yaml:3:5: missing required key 'schedule'");
        EXPECT(HEAD, "t.yaml:3:5: missing required key 'retention'");
        EXPECT("timezone: UTC\npolicies:\n  - {}\n", "t.yaml:3:5: missing required key 'name'",
               "t.yaml:3:5: missing required key 'schedule'", "t.yaml:3:5: missing required key 'retention'");
}

static void
test_unknown_keys(void **state)
{
        (void)state;
        EXPECT("max_concurent: 4\n" HEAD RET1, "t.yaml:1:1: unknown key 'max_concurent' (did you mean 'max_concurrent'?)");
        EXPECT("colour: blue\n" HEAD RET1, "t.yaml:1:1: unknown key 'colour'");
        EXPECT(HEAD RET1 "    jiter: 1m\n", "t.yaml:6:5: unknown key 'jiter' (did you mean 'jitter'?)");
        EXPECT(HEAD RET1 "    domains: {includes: [a]}\n",
               "t.yaml:6:15: unknown key 'includes' (did you mean 'include'?)");
        EXPECT(HEAD RET1 "    snapshot:\n      typ: internal\n",
               "t.yaml:7:7: unknown key 'typ' (did you mean 'type'?)");
        EXPECT(HEAD RET1 "    hooks: {pre: [/bin/true], timout: 5s}\n",
               "t.yaml:6:31: unknown key 'timout' (did you mean 'timeout'?)");
        EXPECT(HEAD "    retention:\n      keep_dialy: 7\n      keep_last: 1\n",
               "t.yaml:6:7: unknown key 'keep_dialy' (did you mean 'keep_daily'?)");
        /* Keys at the wrong level say where they belong. */
        EXPECT(HEAD RET1 "    keep_daily: 7\n", "t.yaml:6:5: unknown key 'keep_daily' here (it belongs in 'retention')");
        EXPECT("type: internal\n" HEAD RET1, "t.yaml:1:1: unknown key 'type' here (it belongs in 'snapshot')");
        EXPECT(HEAD RET1 "    timeout: 5m\n",
               "t.yaml:6:5: unknown key 'timeout' here (it belongs in 'snapshot' or 'hooks')");
        EXPECT("schedule: hourly\n" HEAD RET1, "t.yaml:1:1: unknown key 'schedule' here (it belongs in 'policy')");
        /* Unprintable key text is escaped. */
        EXPECT("\"a\\x1b[2Jb\": 1\n" HEAD RET1, "t.yaml:1:1: unknown key 'a\\x1B[2Jb'");
}

static void
test_duplicates(void **state)
{
        (void)state;
        EXPECT("timezone: UTC\ntimezone: UTC\npolicies:\n  - name: p\n    schedule: hourly\n" RET1,
               "t.yaml:2:1: duplicate key 'timezone' (first at 1:1)");
        EXPECT(HEAD RET1 "    schedule: daily\n", "t.yaml:6:5: duplicate key 'schedule' (first at 4:5)");
        EXPECT(HEAD "    retention: {keep_last: 1, keep_last: 2}\n",
               "t.yaml:5:31: duplicate key 'keep_last' (first at 5:17)");
        EXPECT(HEAD RET1 "  - name: p\n    schedule: daily\n" RET1 "  - name: p\n    schedule: daily\n" RET1,
               "t.yaml:6:11: duplicate policy name 'p' (first at 3:11)",
               "t.yaml:9:11: duplicate policy name 'p' (first at 3:11)");
}

static void
test_adopt_from(void **state)
{
        vs_config *cfg;

        (void)state;
        cfg = load_ok(HEAD RET1 "    adopt_from: [old, older]\n"
                      "    hooks: {post: [/bin/true], required: true}\n");
        assert_string_equal(cfg->policies[0].adopt_from[0], "old");
        assert_string_equal(cfg->policies[0].adopt_from[1], "older");
        assert_null(cfg->policies[0].adopt_from[2]);
        assert_true(cfg->policies[0].hooks.required);
        vs_config_free(cfg);
        EXPECT(HEAD RET1 "    adopt_from: [p]\n", "t.yaml:6:18: adopt_from 'p': a policy cannot adopt from itself");
        EXPECT(HEAD RET1 "    adopt_from: [q]\n  - name: q\n    schedule: daily\n" RET1,
               "t.yaml:6:18: adopt_from 'q': that policy is defined (at 7:11) and owns its snapshots; adopt_from "
               "names a removed or renamed policy");
        EXPECT(HEAD RET1 "    adopt_from: [old]\n  - name: q\n    schedule: daily\n" RET1 "    adopt_from: [old]\n",
               "t.yaml:10:18: adopt_from 'old': already adopted by policy 'p'");
        /* The first adopter has no name (found by fuzz-policy: the message
         * read the NULL name and crashed `virtsnap check`). */
        EXPECT("timezone: UTC\npolicies:\n  - schedule: hourly\n" RET1 "    adopt_from: [old]\n"
               "  - name: q\n    schedule: daily\n" RET1 "    adopt_from: [old]\n",
               "t.yaml:3:5: missing required key 'name'",
               "t.yaml:9:18: adopt_from 'old': already adopted by policy '(unnamed)'");
}

/* "" = no overlap, else "definite: why" / "possible: why" of the first pair. */
static void
expect_overlap(const char *a_domains, const char *b_domains, const char *want)
{
        char text[1024], got[400] = "";
        vs_overlap *o = NULL;
        size_t n = 0;
        vs_config *cfg;

        snprintf(text, sizeof(text),
                 "timezone: UTC\npolicies:\n"
                 "  - name: a\n    schedule: daily\n    domains: %s\n    retention: {keep_last: 1}\n"
                 "  - name: b\n    schedule: daily\n    domains: %s\n    snapshot: {type: disk-only}\n"
                 "    retention: {keep_last: 1}\n"
                 "  - name: c\n    schedule: daily\n    domains: %s\n    snapshot: {type: external}\n"
                 "    retention: {keep_last: 1}\n",
                 a_domains, b_domains, b_domains);
        cfg = load_ok(text);
        assert_int_equal(vs_config_overlaps(cfg, &o, &n), 0);
        /* b and c are one family (external): only a-b and a-c can be found. */
        for (size_t i = 0; i < n; i++)
                assert_true(o[i].a == &cfg->policies[0]);
        if (n > 0)
                snprintf(got, sizeof(got), "%s: %s", o[0].definite ? "definite" : "possible", o[0].why);
        if (strcmp(got, want) != 0)
                print_error("domains %s vs %s: got '%s', want '%s'\n", a_domains, b_domains, got, want);
        assert_string_equal(got, want);
        assert_int_equal(n, want[0] ? 2 : 0);
        free(o);
        vs_config_free(cfg);
}

static void
test_overlaps(void **state)
{
        (void)state;
        expect_overlap("{include: [web-01]}", "{include: [\"web-*\"]}", "definite: both select domain 'web-01'");
        expect_overlap("{include: [\"web-*\"]}", "{include: [web-02, db-01]}", "definite: both select domain 'web-02'");
        expect_overlap("{}", "{}", "definite: both select every domain");
        expect_overlap("{include: [\"web-*\"]}", "{include: [\"db-*\", \"web-*\"]}",
                       "definite: both select the domains matching 'web-*'");
        expect_overlap("{include: [\"web-*\"]}", "{include: [\"db-*\"]}", "");
        expect_overlap("{include: [web-01]}", "{include: [web-011]}", "");
        expect_overlap("{include: [\"web-*\"]}", "{include: [\"web-0?\"]}",
                       "possible: may both select a domain (their name patterns overlap)");
        expect_overlap("{include: [web-01]}", "{include: [\"web-*\"], exclude: [web-01]}",
                       "possible: may both select a domain (their name patterns overlap)");
        expect_overlap("{include: [web-01], state: running}", "{include: [web-01], state: shutoff}",
                       "possible: may both select a domain that is running at one time and shut off at another");
        expect_overlap("{tags: [prod]}", "{include: [web-01]}",
                       "possible: may both select a domain (tags are in libvirt, not in the file)");
        assert_true(vs_snap_types_mix(VS_SNAP_INTERNAL, VS_SNAP_EXTERNAL));
        assert_false(vs_snap_types_mix(VS_SNAP_DISK_ONLY, VS_SNAP_EXTERNAL));
}

static void
test_policy_names(void **state)
{
        (void)state;
        EXPECT("policies:\n  - name: web hourly\n    schedule: hourly\n" RET1,
               "t.yaml:2:11: invalid policy name 'web hourly' (1 to 32 characters from A-Z a-z 0-9 . _ -)");
        EXPECT("policies:\n  - name: \"\"\n    schedule: hourly\n" RET1,
               "t.yaml:2:11: invalid policy name '' (1 to 32 characters from A-Z a-z 0-9 . _ -)");
        EXPECT("policies:\n  - name: abcdefghijklmnopqrstuvwxyz0123456\n    schedule: hourly\n" RET1,
               "t.yaml:2:11: invalid policy name 'abcdefghijklmnopqrstuvwxyz0123456' (1 to 32 characters from "
               "A-Z a-z 0-9 . _ -)");
        EXPECT("policies:\n  - name: caf\xc3\xa9\n    schedule: hourly\n" RET1,
               "t.yaml:2:11: invalid policy name 'caf\xc3\xa9' (1 to 32 characters from A-Z a-z 0-9 . _ -)");
        EXPECT("policies:\n  - name: [a]\n    schedule: hourly\n" RET1, "t.yaml:2:11: 'name' must be a string, not a list");
        EXPECT("policies:\n  - name:\n    schedule: hourly\n" RET1, "t.yaml:2:10: 'name' has no value");
        EXPECT("policies:\n  - name: \"a\\0b\"\n    schedule: hourly\n" RET1,
               "t.yaml:2:11: 'name' contains a NUL character");
        EXPECT_OK("timezone: UTC\npolicies:\n  - name: abcdefghijklmnopqrstuvwxyz012345\n    schedule: hourly\n" RET1);
        EXPECT_OK("timezone: UTC\npolicies:\n  - name: A.b_c-9\n    schedule: hourly\n" RET1);
}

/* ---- types and ranges ---- */

static void
test_integers(void **state)
{
        (void)state;
        EXPECT("max_concurrent: 0\n" HEAD RET1, "t.yaml:1:17: 'max_concurrent': 0 is out of range (1-1024)");
        EXPECT("max_concurrent: 1025\n" HEAD RET1, "t.yaml:1:17: 'max_concurrent': 1025 is out of range (1-1024)");
        EXPECT("max_concurrent: 99999999999999999999\n" HEAD RET1,
               "t.yaml:1:17: 'max_concurrent': 99999999999999999999 is out of range (1-1024)");
        EXPECT("max_concurrent: -99999999999999999999\n" HEAD RET1,
               "t.yaml:1:17: 'max_concurrent': -99999999999999999999 is out of range (1-1024)");
        EXPECT("max_concurrent: 4.0\n" HEAD RET1, "t.yaml:1:17: 'max_concurrent' must be an integer, not '4.0'");
        EXPECT("max_concurrent: 0x10\n" HEAD RET1, "t.yaml:1:17: 'max_concurrent' must be an integer, not '0x10'");
        EXPECT("max_concurrent: four\n" HEAD RET1, "t.yaml:1:17: 'max_concurrent' must be an integer, not 'four'");
        EXPECT("max_concurrent: \"4\"\n" HEAD RET1,
               "t.yaml:1:17: 'max_concurrent' must be an integer, not a quoted string");
        EXPECT("max_concurrent: [4]\n" HEAD RET1, "t.yaml:1:17: 'max_concurrent' must be a string, not a list");
        EXPECT("max_concurrent:\n" HEAD RET1, "t.yaml:1:16: 'max_concurrent' has no value");
        EXPECT(HEAD "    retention: {keep_last: 1000001}\n",
               "t.yaml:5:28: 'keep_last': 1000001 is out of range (0-1000000)");
        EXPECT(HEAD "    retention: {keep_daily: -1}\n", "t.yaml:5:29: 'keep_daily': -1 is out of range (0-1000000)");
        EXPECT(HEAD "    retention: {keep_yearly: 4294967297}\n",
               "t.yaml:5:30: 'keep_yearly': 4294967297 is out of range (0-1000000)");
        EXPECT_OK("max_concurrent: 1024\n" HEAD "    retention: {keep_last: 1000000, keep_hourly: +3}\n");
}

static void
test_booleans_and_enums(void **state)
{
        (void)state;
        EXPECT(HEAD RET1 "    catch_up: yes\n", "t.yaml:6:15: 'catch_up' must be true or false, not 'yes'");
        EXPECT(HEAD RET1 "    prune: on\n", "t.yaml:6:12: 'prune' must be true or false, not 'on'");
        EXPECT(HEAD RET1 "    prune: 1\n", "t.yaml:6:12: 'prune' must be true or false, not '1'");
        EXPECT(HEAD RET1 "    enabled: \"true\"\n", "t.yaml:6:14: 'enabled' must be true or false, not a quoted string");
        EXPECT(HEAD RET1 "    domains: {state: paused}\n",
               "t.yaml:6:22: 'state' must be running, shutoff or any, not 'paused'");
        EXPECT(HEAD RET1 "    snapshot: {type: disk}\n",
               "t.yaml:6:22: 'type' must be internal, disk-only or external, not 'disk'");
        EXPECT(HEAD RET1 "    snapshot: {quiesce: true}\n",
               "t.yaml:6:25: 'quiesce' must be required, preferred or off, not 'true'");
        EXPECT(HEAD RET1 "    snapshot: [type]\n", "t.yaml:6:15: 'snapshot' must be a mapping, not a list");
        EXPECT(HEAD RET1 "    hooks:\n", "t.yaml:6:11: 'hooks' must be a mapping, not nothing (null)");
        EXPECT(HEAD "    retention: 7\n", "t.yaml:5:16: 'retention' must be a mapping, not a scalar");
}

static void
test_strings_and_lists(void **state)
{
        (void)state;
        EXPECT("connection: /var/run/libvirt\n" HEAD RET1,
               "t.yaml:1:13: invalid libvirt URI '/var/run/libvirt' (expected e.g. qemu:///system)");
        EXPECT(HEAD RET1 "    connection: \"qemu:///sys tem\"\n",
               "t.yaml:6:17: invalid libvirt URI 'qemu:///sys tem' (expected e.g. qemu:///system)");
        EXPECT("database: history.db\n" HEAD RET1,
               "t.yaml:1:11: 'database' must be an absolute path, not 'history.db'");
        EXPECT(HEAD RET1 "    snapshot: {overlay_dir: images}\n",
               "t.yaml:6:29: 'overlay_dir' must be an absolute path, not 'images'");
        EXPECT(HEAD RET1 "    domains: {include: web-01}\n",
               "t.yaml:6:24: 'include' must be a list of strings, not a scalar");
        EXPECT(HEAD RET1 "    domains: {include: []}\n",
               "t.yaml:6:24: 'include' is an empty list (leave the key out instead)");
        EXPECT(HEAD RET1 "    domains: {tags: [a, [b], {c: d}, \"\"]}\n",
               "t.yaml:6:25: items of 'tags' must be strings, not a list",
               "t.yaml:6:30: items of 'tags' must be strings, not a mapping",
               "t.yaml:6:38: items of 'tags' must be non-empty strings without control characters");
        EXPECT(HEAD RET1 "    snapshot: {disks: [vda, ~]}\n", "t.yaml:6:29: 'disks' has no value");
        EXPECT(HEAD RET1 "    snapshot: {description: \"a\\nb\"}\n",
               "t.yaml:6:29: 'description' contains a control character");
        EXPECT(HEAD RET1 "    snapshot: {description: \"{host}\"}\n",
               "t.yaml:6:29: 'description': unknown placeholder {host} (known: {policy}, {domain}, {utc:FORMAT}, "
               "{local:FORMAT}, {epoch})");
        EXPECT_OK(HEAD RET1 "    snapshot: {description: \"{{x}} {domain} {local:%T %z %e %%}\"}\n");
}

static void
test_durations(void **state)
{
        (void)state;
        EXPECT(HEAD RET1 "    jitter: 5\n",
               "t.yaml:6:13: 'jitter': invalid duration '5' (an integer with s, m, h, d or w, e.g. 90s, 5m, 1h30m)");
        EXPECT(HEAD RET1 "    jitter: 2x\n",
               "t.yaml:6:13: 'jitter': invalid duration '2x' (an integer with s, m, h, d or w, e.g. 90s, 5m, 1h30m)");
        EXPECT(HEAD RET1 "    jitter: 1h 30m\n",
               "t.yaml:6:13: 'jitter': invalid duration '1h 30m' (an integer with s, m, h, d or w, e.g. 90s, 5m, "
               "1h30m)");
        EXPECT(HEAD RET1 "    jitter: -1m\n",
               "t.yaml:6:13: 'jitter': invalid duration '-1m' (an integer with s, m, h, d or w, e.g. 90s, 5m, 1h30m)");
        EXPECT(HEAD RET1 "    jitter: 2d\n", "t.yaml:6:13: 'jitter': duration 2d is out of range (0s-1d)");
        EXPECT(HEAD RET1 "    jitter: 99999999999999999999s\n",
               "t.yaml:6:13: 'jitter': duration 99999999999999999999s is out of range (0s-1d)");
        EXPECT(HEAD RET1 "    snapshot: {timeout: 0s}\n",
               "t.yaml:6:25: 'timeout': duration 0s is out of range (1s-1d)");
        EXPECT(HEAD RET1 "    hooks: {timeout: 25h}\n", "t.yaml:6:22: 'timeout': duration 25h is out of range (1s-1d)");
        EXPECT(HEAD "    retention: {keep_within: 5200w1s}\n",
               "t.yaml:5:30: 'keep_within': duration 5200w1s is out of range (0s-5200w)");
        EXPECT_OK(HEAD "    retention: {keep_within: 5200w}\n");
        /* jitter must not exceed the shortest interval between firings */
        EXPECT(HEAD RET1 "    jitter: 61m\n", "t.yaml:6:13: jitter 1h1m is longer than the shortest interval between "
                                                "firings (1h)");
        EXPECT_OK(HEAD RET1 "    jitter: 1h\n");
}

static void
test_schedule_and_timezone(void **state)
{
        (void)state;
        EXPECT("timezone: UTC\npolicies:\n  - name: p\n    schedule: \"0 25 * * *\"\n" RET1,
               "t.yaml:4:15: invalid schedule '0 25 * * *': field 2 (hour): 25 out of range 0-23");
        EXPECT("timezone: Europe/Berln\npolicies:\n  - name: p\n    schedule: hourly\n" RET1,
               "t.yaml:1:11: unknown time zone 'Europe/Berln' (expected an IANA name such as Europe/Berlin or UTC)");
        EXPECT("timezone: ../../etc/passwd\npolicies:\n  - name: p\n    schedule: hourly\n" RET1,
               "t.yaml:1:11: unknown time zone '../../etc/passwd' (expected an IANA name such as Europe/Berlin or "
               "UTC)");
        EXPECT_OK("timezone: America/New_York\npolicies:\n  - name: p\n    schedule: \"*/5 9-17 * * mon-fri\"\n" RET1);
}

static void
test_retention_keeps_nothing(void **state)
{
        const char *msg = "retention keeps nothing: set at least one of keep_last, keep_hourly, keep_daily, "
                          "keep_weekly, keep_monthly, keep_yearly or keep_within above zero";
        char exp[512];

        (void)state;
        snprintf(exp, sizeof(exp), "t.yaml:5:16: %s", msg);
        EXPECT(HEAD "    retention: {}\n", exp);
        EXPECT(HEAD "    retention: {keep_last: 0, keep_daily: 0, keep_within: 0s}\n", exp);
        snprintf(exp, sizeof(exp), "t.yaml:6:7: %s", msg);
        EXPECT(HEAD "    retention:\n      keep_last: 0\n", exp);
        EXPECT(HEAD "    retention:\n", "t.yaml:5:15: 'retention' must be a mapping, not nothing (null)");
        EXPECT_OK(HEAD "    retention: {keep_within: 1s}\n");
}

static void
test_quiesce_vs_type(void **state)
{
        (void)state;
        EXPECT(HEAD RET1 "    snapshot: {quiesce: required}\n",
               "t.yaml:6:25: 'quiesce: required' needs 'type: disk-only' (libvirt quiesces only disk-only snapshots; "
               "this policy has type internal)");
        EXPECT(HEAD RET1 "    snapshot:\n      type: external\n      quiesce: required\n",
               "t.yaml:8:16: 'quiesce: required' needs 'type: disk-only' (libvirt quiesces only disk-only "
               "snapshots; this policy has type external)");
        /* a bad type is reported once, not judged by the default */
        EXPECT(HEAD RET1 "    snapshot: {type: bogus, quiesce: required}\n",
               "t.yaml:6:22: 'type' must be internal, disk-only or external, not 'bogus'");
        EXPECT_OK(HEAD RET1 "    snapshot: {type: disk-only, quiesce: required}\n");
        EXPECT_OK(HEAD RET1 "    snapshot: {type: internal, quiesce: preferred}\n");
}

static void
test_hooks(void **state)
{
        (void)state;
        EXPECT(HEAD RET1 "    hooks: {pre: []}\n", "t.yaml:6:18: 'pre' is an empty list (leave the key out for no hook)");
        EXPECT(HEAD RET1 "    hooks: {pre: app-flush}\n",
               "t.yaml:6:18: 'pre' must be a list (program and arguments, no shell), not a scalar");
        EXPECT(HEAD RET1 "    hooks: {post: [app-resume, x]}\n",
               "t.yaml:6:20: hook program must be an absolute path, not 'app-resume'");
        EXPECT(HEAD RET1 "    hooks: {pre: [/bin/echo, [x], \"{dom}\"]}\n",
               "t.yaml:6:30: items of 'pre' must be strings, not a list",
               "t.yaml:6:35: hook argument '{dom}': unknown placeholder {dom} (known: {policy}, {domain}, "
               "{utc:FORMAT}, {local:FORMAT}, {epoch}, {snapshot})");
        EXPECT_OK(HEAD RET1 "    hooks: {pre: [/bin/sh, -c, \"echo {{}} {domain} {policy} {utc:%FT%TZ}\"]}\n");
        /* {snapshot} is a hook placeholder (the scheduler fills it in), not a name/description one. */
        EXPECT_OK(HEAD RET1 "    hooks: {post: [/usr/local/bin/app-resume, \"{snapshot}\"]}\n");
        EXPECT(HEAD RET1 "    hooks: {post: [/bin/echo, \"{snapshot:%Y}\"]}\n",
               "t.yaml:6:31: hook argument '{snapshot:%Y}': {snapshot} takes no format");
        EXPECT(HEAD RET1 "    snapshot: {description: \"{snapshot}\"}\n",
               "t.yaml:6:29: 'description': unknown placeholder {snapshot} (known: {policy}, {domain}, "
               "{utc:FORMAT}, {local:FORMAT}, {epoch})");
}

/* ---- name templates ---- */

#define TMPL(t) HEAD RET1 "    snapshot: {name: \"" t "\"}\n"

static void
test_name_templates(void **state)
{
        char big[600];

        (void)state;
        /* the value starts at column 21 */
        EXPECT(TMPL("snap {utc:%Y}"), "t.yaml:6:22: snapshot name 'snap {utc:%Y}': ' ' (space) is not allowed in "
                                      "snapshot names (allowed: A-Z a-z 0-9 . _ -)");
        EXPECT(TMPL("a/{epoch}"),
               "t.yaml:6:22: snapshot name 'a/{epoch}': '/' is not allowed in snapshot names (allowed: A-Z a-z 0-9 . _ "
               "-)");
        EXPECT(TMPL("{domain}-{epoch}"),
               "t.yaml:6:22: snapshot name '{domain}-{epoch}': {domain} is not allowed in snapshot names (a domain "
               "name may contain any character, and snapshot names are per domain already)");
        EXPECT(TMPL("{policy}-{utc:%Y%m%dT%H:%M}"),
               "t.yaml:6:22: snapshot name '{policy}-{utc:%Y%m%dT%H:%M}': ':' is not allowed in snapshot names "
               "(allowed: A-Z a-z 0-9 . _ -)");
        EXPECT(TMPL("{policy}-{utc:%FT%T}"),
               "t.yaml:6:22: snapshot name '{policy}-{utc:%FT%T}': conversion '%T' can produce characters not "
               "allowed in snapshot names (allowed: A-Z a-z 0-9 . _ -)");
        EXPECT(TMPL("{policy}-{local:%s%z}"),
               "t.yaml:6:22: snapshot name '{policy}-{local:%s%z}': conversion '%z' can produce characters not "
               "allowed in snapshot names (allowed: A-Z a-z 0-9 . _ -)");
        EXPECT(TMPL("{policy}-{utc:%Q}"),
               "t.yaml:6:22: snapshot name '{policy}-{utc:%Q}': unsupported conversion '%Q' in {utc:...}");
        EXPECT(TMPL("{policy}-{utc:%}"),
               "t.yaml:6:22: snapshot name '{policy}-{utc:%}': format of {utc:...} ends with a lone '%'");
        EXPECT(TMPL("{policy}-{utc}"),
               "t.yaml:6:22: snapshot name '{policy}-{utc}': {utc} needs a format, e.g. {utc:%Y%m%d}");
        EXPECT(TMPL("{policy}-{utc:}"), "t.yaml:6:22: snapshot name '{policy}-{utc:}': empty format in {utc:}");
        EXPECT(TMPL("{policy}-{epoch:x}"), "t.yaml:6:22: snapshot name '{policy}-{epoch:x}': {epoch} takes no format");
        EXPECT(TMPL("{policy}-{time}"),
               "t.yaml:6:22: snapshot name '{policy}-{time}': unknown placeholder {time} (known: {policy}, {domain}, "
               "{utc:FORMAT}, {local:FORMAT}, {epoch})");
        EXPECT(TMPL("{policy-{epoch}"),
               "t.yaml:6:22: snapshot name '{policy-{epoch}': '{' inside a placeholder");
        EXPECT(TMPL("{policy}-{epoch"),
               "t.yaml:6:22: snapshot name '{policy}-{epoch': unterminated '{' (write '{{' for a literal brace)");
        EXPECT(TMPL("{policy}}}-{epoch}"),
               "t.yaml:6:22: snapshot name '{policy}}}-{epoch}': '}' is not allowed in snapshot names (allowed: A-Z "
               "a-z 0-9 . _ -)");
        EXPECT(TMPL("{policy}-}{epoch}"),
               "t.yaml:6:22: snapshot name '{policy}-}{epoch}': unmatched '}' (write '}}' for a literal brace)");
        EXPECT(TMPL(".{policy}-{epoch}"),
               "t.yaml:6:22: snapshot name '.{policy}-{epoch}': snapshot names must not start with '.'");
        EXPECT(TMPL(""), "t.yaml:6:22: snapshot name '': empty snapshot name template");
        EXPECT(TMPL("{policy}-daily"),
               "t.yaml:6:22: snapshot name '{policy}-daily': snapshot name template has no time placeholder "
               "({utc:...}, {local:...} or {epoch}): every snapshot would get the same name");
        /* length: 64 is fine, 65 is not (%B counts 9, %s 12, {epoch} 12) */
        EXPECT_OK(TMPL("{utc:%Y%m%dT%H%M%S}-{epoch}-{utc:%s}-abcdefghijklmnopqrstuv"));
        EXPECT(TMPL("{utc:%Y%m%dT%H%M%S}-{epoch}-{utc:%s}-abcdefghijklmnopqrstuvw"),
               "t.yaml:6:22: snapshot name '{utc:%Y%m%dT%H%M%S}-{epoch}-{utc:%s}-abcdefghijklmnopqrstuvw': snapshot "
               "names from this template can be 65 characters long (at most 64 allowed)");
        EXPECT(TMPL("{utc:%B%A%B%A%B%A%B%S}"),
               "t.yaml:6:22: snapshot name '{utc:%B%A%B%A%B%A%B%S}': snapshot names from this template can be 65 "
               "characters long (at most 64 allowed)");
        /* the policy name counts at its real length: 32 + 1 + 15 + 1 + 15 + 1 = 65 */
        EXPECT("timezone: UTC\npolicies:\n  - name: abcdefghijklmnopqrstuvwxyz012345\n    schedule: hourly\n" RET1
               "    snapshot: {name: \"{policy}-{utc:%Y%m%dT%H%M%S}-{utc:%Y%m%dT%H%M%S}Z\"}\n",
               "t.yaml:6:22: snapshot name '{policy}-{utc:%Y%m%dT%H%M%S}-{utc:%Y%m%dT%H%M%S}Z': snapshot names from "
               "this template can be 65 characters long (at most 64 allowed)");
        /* the default template with a policy name that starts with '.' */
        EXPECT("timezone: UTC\npolicies:\n  - name: .hidden\n    schedule: hourly\n" RET1,
               "t.yaml:3:11: snapshot name '{policy}-{utc:%Y%m%dT%H%M%SZ}': snapshot names must not start with '.' "
               "(policy name '.hidden')");
        /* names that repeat between firings */
        EXPECT(TMPL("{policy}-{utc:%Y%m%d}"),
               "t.yaml:6:22: snapshot name template gives the same name 'p-20260101' to the firings at "
               "2026-01-01T00:00:00Z and 2026-01-01T01:00:00Z (schedule 'hourly'); add a finer time field");
        EXPECT("timezone: Europe/Berlin\npolicies:\n  - name: p\n    schedule: hourly\n" RET1
               "    snapshot: {name: \"{policy}-{local:%Y%m%d%H}\"}\n",
               "t.yaml:6:22: snapshot name template gives the same name 'p-2026102502' to the firings at "
               "2026-10-25T00:00:00Z and 2026-10-25T01:00:00Z (schedule 'hourly'); add a finer time field");
        /* ...but a fixed-hour cron fires once in a repeated hour */
        EXPECT_OK("timezone: Europe/Berlin\npolicies:\n  - name: p\n    schedule: \"30 2 * * *\"\n" RET1
                  "    snapshot: {name: \"{policy}-{local:%Y%m%d}\"}\n");
        EXPECT_OK(HEAD RET1 "    snapshot: {name: \"{policy}-{utc:%G-W%V-%u%H}\"}\n");
        EXPECT_OK(HEAD RET1 "    snapshot: {name: \"{epoch}\"}\n");
        /* a huge template is refused without trouble */
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        {
                char doc[1024], exp[1024];

                snprintf(doc, sizeof(doc), HEAD RET1 "    snapshot: {name: %s}\n", big);
                snprintf(exp, sizeof(exp),
                         "t.yaml:6:22: snapshot name '%.64s...': snapshot names from this template can be 599 "
                         "characters long (at most 64 allowed)",
                         big);
                EXPECT(doc, exp);
        }
}

/* ---- YAML features that are refused ---- */

static void
test_anchors_aliases_tags(void **state)
{
        (void)state;
        EXPECT("timezone: UTC\nr: &r {keep_last: 1}\npolicies:\n  - name: p\n    schedule: hourly\n    retention: *r\n",
               "t.yaml:2:1: unknown key 'r'",
               "t.yaml:2:4: YAML anchors and aliases are not supported (anchor '&r'); write the value out",
               "t.yaml:6:16: YAML anchors and aliases are not supported (alias '*r'); write the value out");
        EXPECT(HEAD "    retention: !!map {keep_last: 1}\n", "t.yaml:5:16: YAML tags are not supported ('tag:yaml.org,2002:map')");
        EXPECT(HEAD RET1 "    <<: {prune: false}\n", "t.yaml:6:5: unknown key '<<'");
}

static void
test_too_many_problems(void **state)
{
        size_t cap = 64 * 1024, o = 0;
        char *doc = malloc(cap);
        vs_diags d = { 0 };
        vs_config *cfg = NULL;

        (void)state;
        o += (size_t)snprintf(doc + o, cap - o, HEAD RET1);
        for (int i = 0; i < 1000; i++)
                o += (size_t)snprintf(doc + o, cap - o, "    bad%d: 1\n", i);
        assert_int_equal(vs_config_load_string("t.yaml", doc, o, &cfg, &d), -EINVAL);
        assert_int_equal(d.n, 201);
        assert_string_equal(d.items[0].message, "unknown key 'bad0'");
        assert_int_equal(d.items[0].line, 6);
        assert_string_equal(d.items[200].message, "too many problems; stopping after 200");
        vs_diags_clear(&d);
        free(doc);
}

/* ---- hostile files ---- */

static void
test_file_errors(void **state)
{
        char path[512], buf[1024];
        size_t n;

        (void)state;
        snprintf(path, sizeof(path), "%s/does-not-exist.yaml", tmpdir);
        assert_int_equal(load_file_first_diag(path, buf, sizeof(buf), &n), -ENOENT);
        assert_int_equal(n, 1);
        assert_true(strstr(buf, "does-not-exist.yaml: cannot open: No such file or directory") != NULL);

        assert_int_equal(load_file_first_diag(tmpdir, buf, sizeof(buf), &n), -EISDIR);
        assert_int_equal(n, 1);
        assert_true(strstr(buf, ": is a directory, not a policy file") != NULL);

        assert_int_equal(load_file_first_diag("/dev/null", buf, sizeof(buf), &n), -EINVAL);
        assert_string_equal(buf, "/dev/null: not a regular file");

        write_tmp("empty.yaml", "", 0, path, sizeof(path));
        assert_int_equal(load_file_first_diag(path, buf, sizeof(buf), &n), -EINVAL);
        assert_true(strstr(buf, "empty.yaml:1:1: the file is empty") != NULL);
}

static void
test_huge_file(void **state)
{
        size_t len = VS_POLICY_MAX_BYTES + 1;
        char *big = malloc(len), path[512], buf[1024];
        size_t n;
        double t0;

        (void)state;
        memset(big, '#', len);
        write_tmp("huge.yaml", big, len, path, sizeof(path));
        t0 = now_ms();
        assert_int_equal(load_file_first_diag(path, buf, sizeof(buf), &n), -EFBIG);
        assert_true(strstr(buf, "huge.yaml: file too large (1048577 bytes; at most 1048576)") != NULL);
        assert_true(now_ms() - t0 < 1000);
        {
                vs_diags d = { 0 };
                vs_config *cfg = NULL;

                assert_int_equal(vs_config_load_string("s", big, len, &cfg, &d), -EFBIG);
                assert_int_equal(d.n, 1);
                assert_string_equal(d.items[0].message, "file too large (1048577 bytes; at most 1048576)");
                vs_diags_clear(&d);
        }
        free(big);
}

static void
test_deep_nesting(void **state)
{
        size_t depth = 100000;
        char *doc = malloc(2 * depth + 16), path[512], buf[1024];
        size_t n;
        double t0;

        (void)state;
        memset(doc, '[', depth);
        doc[depth] = '\n';
        write_tmp("deep.yaml", doc, depth + 1, path, sizeof(path));
        t0 = now_ms();
        assert_int_equal(load_file_first_diag(path, buf, sizeof(buf), &n), -EINVAL);
        assert_true(now_ms() - t0 < 1000);
        assert_int_equal(n, 1);
        assert_true(strstr(buf, "deep.yaml:1:65: nesting deeper than 64 levels") != NULL);

        /* block sequences: "- - - - ..." */
        for (size_t i = 0; i < depth; i++)
                memcpy(doc + 2 * i, "- ", 2);
        memcpy(doc + 2 * depth, "x\n", 2);
        EXPECT(doc, "t.yaml:1:129: nesting deeper than 64 levels");

        /* 64 levels are fine as far as nesting goes */
        memset(doc, '[', 63);
        memset(doc + 63, ']', 63);
        strcpy(doc + 126, "\n");
        {
                char d2[256];

                snprintf(d2, sizeof(d2), "x: %s\n" HEAD RET1, doc);
                EXPECT(d2, "t.yaml:1:1: unknown key 'x'");
                snprintf(d2, sizeof(d2), "x: [%s]\n" HEAD RET1, doc);
                EXPECT(d2, "t.yaml:1:67: nesting deeper than 64 levels");
        }
        free(doc);
}

static void
test_billion_laughs(void **state)
{
        char path[512], buf[1024];
        vs_diags d = { 0 };
        vs_config *cfg = NULL;
        double t0;

        (void)state;
        data_path("billion-laughs.yaml", path, sizeof(path));
        t0 = now_ms();
        assert_int_equal(vs_config_load(path, &cfg, &d), -EINVAL);
        assert_true(now_ms() - t0 < 1000);
        assert_null(cfg);
        /* every anchor and alias is reported where it is (bounded by the cap) */
        assert_true(d.n > 10);
        vs_diag_format(&d.items[0], buf, sizeof(buf));
        assert_true(strstr(buf, "billion-laughs.yaml:1:1: unknown key 'lol1'") != NULL);
        vs_diag_format(&d.items[1], buf, sizeof(buf));
        assert_true(strstr(buf, "billion-laughs.yaml:1:7: YAML anchors and aliases are not supported (anchor '&a'); "
                                "write the value out") != NULL);
        vs_diags_clear(&d);
}

static void
test_invalid_utf8_and_binary(void **state)
{
        char path[512], buf[1024];
        size_t n;
        static const char bin[] = "policies:\n  - name: x\0y\n";

        (void)state;
        data_path("invalid-utf8.yaml", path, sizeof(path));
        assert_int_equal(load_file_first_diag(path, buf, sizeof(buf), &n), -EINVAL);
        assert_int_equal(n, 1);
        assert_true(strstr(buf, "invalid-utf8.yaml:3:13: invalid UTF-8: invalid leading UTF-8 octet (#xFF); the file "
                                "must be UTF-8 text") != NULL);

        expect_diags_v(bin, sizeof(bin) - 1,
                       (const char *const[]){ "t.yaml:2:12: control characters are not allowed (#x0)", NULL });
        EXPECT("a: \xc3\n", "t.yaml:1:5: invalid UTF-8: invalid trailing UTF-8 octet (#xA); the file must be "
                            "UTF-8 text");
        EXPECT("a: b\xc3", "t.yaml:1:5: invalid UTF-8: incomplete UTF-8 octet sequence; the file must be UTF-8 "
                           "text");
        /* UTF-16 is not detected: its BOM is invalid UTF-8 */
        expect_diags_v("\xff\xfe" "a\0", 4,
                       (const char *const[]){ "t.yaml:1:1: invalid UTF-8: invalid leading UTF-8 octet (#xFF); the file "
                                              "must be UTF-8 text",
                                              NULL });
        /* an ELF header */
        write_tmp("binary.yaml", "\x7f" "ELF\x02\x01\x01\0\0\0", 10, path, sizeof(path));
        assert_int_equal(load_file_first_diag(path, buf, sizeof(buf), &n), -EINVAL);
        assert_int_equal(n, 1);
        assert_true(strstr(buf, "binary.yaml:1:1: control characters are not allowed (#x7F)") != NULL);
        /* a UTF-8 BOM is fine */
        EXPECT_OK("\xef\xbb\xbf" HEAD RET1);
}

/* ---- templates ---- */

static void
test_template_expand(void **state)
{
        vs_tz *berlin = NULL;
        char *s = NULL;
        /* 2026-03-29T01:30:05Z = 03:30:05 CEST, a Sunday, day 88 */
        const int64_t t = 1774747805;

        (void)state;
        assert_int_equal(vs_tz_load("Europe/Berlin", &berlin, NULL), 0);
        assert_int_equal(vs_template_expand("{policy}-{utc:%Y%m%dT%H%M%SZ}", "web", "d1", berlin, t, &s), 0);
        assert_string_equal(s, "web-20260329T013005Z");
        assert_true(vs_snapshot_name_valid(s));
        free(s);
        assert_int_equal(vs_template_expand("{local:%F %T %z} {domain} {epoch}", "p", "web 01", berlin, t, &s), 0);
        assert_string_equal(s, "2026-03-29 03:30:05 +0200 web 01 1774747805");
        free(s);
        assert_int_equal(vs_template_expand("{utc:%a %A %b %B %h %C %y %j %u %w %U %W %V %G %g %I %p %e %k %l %R %D %s %%}",
                                            NULL, NULL, NULL, t, &s),
                         0);
        assert_string_equal(s, "Sun Sunday Mar March Mar 20 26 088 7 0 13 12 13 2026 26 01 AM 29  1  1 01:30 03/29/26 "
                               "1774747805 %");
        free(s);
        /* ISO week-numbering year differs from the calendar year */
        assert_int_equal(vs_template_expand("{utc:%G-W%V-%u %Y-%j}", NULL, NULL, NULL, 1767139200 /* 2025-12-31 */,
                                            &s),
                         0);
        assert_string_equal(s, "2026-W01-3 2025-365");
        free(s);
        assert_int_equal(vs_template_expand("{utc:%G-W%V-%u}", NULL, NULL, NULL, 1609459200 /* 2021-01-01 */, &s), 0);
        assert_string_equal(s, "2020-W53-5");
        free(s);
        assert_int_equal(vs_template_expand("{utc:%I%p %H}", NULL, NULL, NULL, 1767268800 /* 12:00Z */, &s), 0);
        assert_string_equal(s, "12PM 12");
        free(s);
        assert_int_equal(vs_template_expand("{{literal}} {epoch}", NULL, NULL, NULL, -1, &s), 0);
        assert_string_equal(s, "{literal} -1");
        free(s);
        assert_int_equal(vs_template_expand("{utc:%F %T}", NULL, NULL, NULL, -1, &s), 0);
        assert_string_equal(s, "1969-12-31 23:59:59");
        free(s);
        assert_int_equal(vs_template_expand("", NULL, NULL, NULL, 0, &s), 0);
        assert_string_equal(s, "");
        free(s);

        s = NULL;
        assert_int_equal(vs_template_expand("{nope}", "p", "d", berlin, t, &s), -EINVAL);
        assert_int_equal(vs_template_expand("{policy", "p", "d", berlin, t, &s), -EINVAL);
        assert_int_equal(vs_template_expand("a}b", "p", "d", berlin, t, &s), -EINVAL);
        assert_int_equal(vs_template_expand("{utc:%Q}", "p", "d", berlin, t, &s), -EINVAL);
        assert_int_equal(vs_template_expand("{utc:%}", "p", "d", berlin, t, &s), -EINVAL);
        assert_int_equal(vs_template_expand("{local:%H}", "p", "d", NULL, t, &s), -EINVAL);
        assert_int_equal(vs_template_expand("{policy}", NULL, "d", NULL, t, &s), -EINVAL);
        assert_int_equal(vs_template_expand("{domain}", "p", NULL, NULL, t, &s), -EINVAL);
        assert_int_equal(vs_template_expand(NULL, "p", NULL, NULL, t, &s), -EINVAL);
        assert_null(s);
        {
                char *big = malloc(5000);

                memset(big, 'x', 4999);
                big[4999] = '\0';
                assert_int_equal(vs_template_expand(big, "p", "d", NULL, t, &s), -ENAMETOOLONG);
                assert_int_equal(vs_template_expand("{domain}", "p", big, NULL, t, &s), -ENAMETOOLONG);
                assert_null(s);
                free(big);
        }
        vs_tz_free(berlin);
}

/* {utc:...} against glibc's strftime on gmtime_r (the C locale, test code
 * only: production code never uses them), over instants from 1970 to 2100. */
static void
test_template_vs_strftime(void **state)
{
        static const char fmt[] = "%Y %C %y %G %g %V %m %b %h %B %d %e %j %a %A %u %w %U %W %H %k %I %l %p %M %S "
                                  "%F %T %R %D %%";
        char tmpl[sizeof(fmt) + 8], want[256];
        uint64_t x = 88172645463325252ULL;

        (void)state;
        snprintf(tmpl, sizeof(tmpl), "{utc:%s}", fmt);
        for (int i = 0; i < 20000; i++) {
                struct tm tm;
                time_t t;
                char *got = NULL;

                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                t = (time_t)(x % INT64_C(4102444800));
                gmtime_r(&t, &tm);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-y2k"
                strftime(want, sizeof(want), fmt, &tm);
#pragma GCC diagnostic pop
                assert_int_equal(vs_template_expand(tmpl, NULL, NULL, NULL, (int64_t)t, &got), 0);
                if (strcmp(got, want) != 0)
                        print_error("t=%lld\n got %s\nwant %s\n", (long long)t, got, want);
                assert_string_equal(got, want);
                free(got);
        }
}

static void
test_snapshot_name_valid(void **state)
{
        (void)state;
        assert_true(vs_snapshot_name_valid("a"));
        assert_true(vs_snapshot_name_valid("web-hourly-20260101T000000Z"));
        assert_true(vs_snapshot_name_valid("A.b_c-9"));
        assert_true(vs_snapshot_name_valid("-x"));
        assert_true(vs_snapshot_name_valid("1234567890123456789012345678901234567890123456789012345678901234"));
        assert_false(vs_snapshot_name_valid("12345678901234567890123456789012345678901234567890123456789012345"));
        assert_false(vs_snapshot_name_valid(""));
        assert_false(vs_snapshot_name_valid(NULL));
        assert_false(vs_snapshot_name_valid(".hidden"));
        assert_false(vs_snapshot_name_valid("a/b"));
        assert_false(vs_snapshot_name_valid("a b"));
        assert_false(vs_snapshot_name_valid("a\"b"));
        assert_false(vs_snapshot_name_valid("caf\xc3\xa9"));
}

/* ---- selectors ---- */

static void
test_selector(void **state)
{
        char *inc[] = { "web-*", "api-01", NULL }, *exc[] = { "*-test", NULL }, *tags[] = { "production", "gold", NULL };
        char *dtags_prod[] = { "x", "production", NULL }, *dtags_other[] = { "staging", NULL };
        vs_selector all = { 0 };
        vs_selector sel = { .include = inc, .exclude = exc, .state = VS_STATE_SEL_ANY };
        vs_selector tagged = { .tags = tags, .state = VS_STATE_SEL_RUNNING };
        vs_selector off = { .include = inc, .state = VS_STATE_SEL_SHUTOFF };

        (void)state;
        assert_true(vs_selector_match(&all, "anything", NULL, false));
        assert_true(vs_selector_match(&all, "x", dtags_prod, true));
        assert_false(vs_selector_match(&all, NULL, NULL, true));

        assert_true(vs_selector_match(&sel, "web-01", NULL, true));
        assert_true(vs_selector_match(&sel, "api-01", NULL, false));
        assert_false(vs_selector_match(&sel, "api-02", NULL, true));
        assert_false(vs_selector_match(&sel, "web-01-test", NULL, true));
        assert_false(vs_selector_match(&sel, "db-01", NULL, true));
        assert_false(vs_selector_match(&sel, "WEB-01", NULL, true)); /* case-sensitive */
        assert_true(vs_selector_match(&sel, "web-a/b", NULL, true));  /* no FNM_PATHNAME */

        assert_true(vs_selector_match(&tagged, "db", dtags_prod, true));
        assert_false(vs_selector_match(&tagged, "db", dtags_prod, false));
        assert_false(vs_selector_match(&tagged, "db", dtags_other, true));
        assert_false(vs_selector_match(&tagged, "db", NULL, true));

        assert_true(vs_selector_match(&off, "web-1", NULL, false));
        assert_false(vs_selector_match(&off, "web-1", NULL, true));
}

static void
test_enums_and_format(void **state)
{
        char buf[128];
        vs_diag d = { .file = "f.yaml", .line = 3, .column = 7, .message = "bad" };

        (void)state;
        for (int i = VS_SNAP_INTERNAL; i <= VS_SNAP_EXTERNAL; i++)
                assert_int_equal(vs_snap_type_from_string(vs_snap_type_to_string(i)), i);
        for (int i = VS_QUIESCE_OFF; i <= VS_QUIESCE_REQUIRED; i++)
                assert_int_equal(vs_quiesce_from_string(vs_quiesce_to_string(i)), i);
        for (int i = VS_STATE_SEL_ANY; i <= VS_STATE_SEL_SHUTOFF; i++)
                assert_int_equal(vs_state_sel_from_string(vs_state_sel_to_string(i)), i);
        assert_string_equal(vs_snap_type_to_string(VS_SNAP_DISK_ONLY), "disk-only");
        assert_string_equal(vs_quiesce_to_string(VS_QUIESCE_PREFERRED), "preferred");
        assert_string_equal(vs_state_sel_to_string(VS_STATE_SEL_SHUTOFF), "shutoff");
        assert_null(vs_snap_type_to_string((vs_snap_type)42));
        assert_int_equal(vs_snap_type_from_string("Internal"), -1);
        assert_int_equal(vs_quiesce_from_string(NULL), -1);
        assert_int_equal(vs_state_sel_from_string(""), -1);

        vs_diag_format(&d, buf, sizeof(buf));
        assert_string_equal(buf, "f.yaml:3:7: bad");
        d.line = 0;
        vs_diag_format(&d, buf, sizeof(buf));
        assert_string_equal(buf, "f.yaml: bad");
        vs_diags_clear(NULL);
}

static void
test_notify_keys(void **state)
{
        vs_config *cfg;

        (void)state;
        cfg = load_ok("notify: {command: [/usr/bin/notify-mail, ops@example.com], timeout: 10s}\n"
                      "policies:\n"
                      "  - name: a\n"
                      "    schedule: daily\n"
                      "    retention: {keep_last: 1}\n"
                      "  - name: b\n"
                      "    schedule: daily\n"
                      "    notify: {on: [failure, recovered], command: [/bin/true]}\n"
                      "    retention: {keep_last: 1}\n");
        assert_int_equal(cfg->notify.events, VS_NOTIFY_FAILURE | VS_NOTIFY_SKIPPED | VS_NOTIFY_RECOVERED);
        assert_int_equal(cfg->notify.timeout, 10);
        assert_string_equal(cfg->notify.command[1], "ops@example.com");
        assert_null(cfg->policies[0].notify.command);
        assert_int_equal(cfg->policies[1].notify.events, VS_NOTIFY_FAILURE | VS_NOTIFY_RECOVERED);
        assert_int_equal(cfg->policies[1].notify.timeout, 30);
        vs_config_free(cfg);
        EXPECT("notify: {on: [failure, sometimes], command: [/bin/true]}\n"
               "policies:\n"
               "  - name: a\n"
               "    schedule: daily\n"
               "    retention: {keep_last: 1}\n",
               "t.yaml:1:24: notify: unknown event 'sometimes' (failure, skipped or recovered)");
        EXPECT("policies:\n"
               "  - name: a\n"
               "    schedule: daily\n"
               "    notify: {on: [failure]}\n"
               "    retention: {keep_last: 1}\n",
               "t.yaml:4:13: notify: command is required (the program that tells you, as a list)");
}

static void
test_guard_keys(void **state)
{
        vs_config *cfg;
        vs_space sp;
        char why[128], buf[32];

        (void)state;
        cfg = load_ok("policies:\n"
                      "  - name: a\n"
                      "    schedule: daily\n"
                      "    guard: {min_free: 10%, max_chain: 8}\n"
                      "    retention: {keep_last: 1}\n"
                      "  - name: b\n"
                      "    schedule: daily\n"
                      "    guard: {min_free: 20G}\n"
                      "    retention: {keep_last: 1}\n"
                      "  - name: c\n"
                      "    schedule: daily\n"
                      "    retention: {keep_last: 1}\n");
        assert_true(cfg->policies[0].guard.min_free.percent == 10.0);
        assert_int_equal(cfg->policies[0].guard.min_free.bytes, 0);
        assert_int_equal(cfg->policies[0].guard.max_chain, 8);
        assert_int_equal(cfg->policies[1].guard.min_free.bytes, 20LL << 30);
        assert_int_equal(cfg->policies[1].guard.max_chain, 0);
        assert_true(cfg->policies[2].guard.min_free.percent == 0 && cfg->policies[2].guard.min_free.bytes == 0);
        vs_config_free(cfg);
        EXPECT("policies:\n"
               "  - name: a\n"
               "    schedule: daily\n"
               "    guard: {min_free: lots}\n"
               "    retention: {keep_last: 1}\n",
               "t.yaml:4:23: 'min_free' must be a share of the filesystem (0.1%-99%, e.g. 10%) or a size "
               "(e.g. 512M, 20G, 1T), not 'lots'");
        EXPECT("policies:\n"
               "  - name: a\n"
               "    schedule: daily\n"
               "    guard: {min_free: 100%}\n"
               "    retention: {keep_last: 1}\n",
               "t.yaml:4:23: 'min_free' must be a share of the filesystem (0.1%-99%, e.g. 10%) or a size "
               "(e.g. 512M, 20G, 1T), not '100%'");
        EXPECT("policies:\n"
               "  - name: a\n"
               "    schedule: daily\n"
               "    guard: {max_chain: 0}\n"
               "    retention: {keep_last: 1}\n",
               "t.yaml:4:24: 'max_chain': 0 is out of range (1-1000)");

        /* The pure parts: parse, format, judge. */
        assert_int_equal(vs_space_parse("2.5%", &sp), 0);
        assert_true(sp.percent == 2.5);
        assert_int_equal(vs_space_parse("512M", &sp), 0);
        assert_int_equal(sp.bytes, 512LL << 20);
        assert_int_equal(vs_space_parse("4096", &sp), 0);
        assert_int_equal(sp.bytes, 4096);
        assert_int_equal(vs_space_parse("5X", &sp), -EINVAL);
        assert_int_equal(vs_space_parse("-5%", &sp), -EINVAL);
        assert_int_equal(vs_space_parse("0%", &sp), -ERANGE);
        assert_int_equal(vs_space_parse("9999999T", &sp), -ERANGE);
        sp = (vs_space){ .bytes = 20LL << 30 };
        assert_string_equal(vs_space_format(&sp, buf, sizeof(buf)), "20G");
        sp = (vs_space){ .percent = 10 };
        assert_true(vs_space_ok(&sp, 11, 100, why, sizeof(why)));
        assert_false(vs_space_ok(&sp, 31, 1000, why, sizeof(why)));
        assert_string_equal(why, "low space (3.1% free < 10%)");
        sp = (vs_space){ .bytes = 1LL << 30 };
        assert_true(vs_space_ok(&sp, 1LL << 30, 1LL << 40, why, sizeof(why)));
        assert_false(vs_space_ok(&sp, 300LL << 20, 1LL << 40, why, sizeof(why)));
        assert_string_equal(why, "low space (300M free < 1G)");
}

int
main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_issue_example),
                cmocka_unit_test(test_notify_keys),
                cmocka_unit_test(test_guard_keys),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_example_file),
                cmocka_unit_test(test_yaml_syntax),
                cmocka_unit_test(test_empty_and_top_level),
                cmocka_unit_test(test_required_keys),
                cmocka_unit_test(test_unknown_keys),
                cmocka_unit_test(test_duplicates),
                cmocka_unit_test(test_adopt_from),
                cmocka_unit_test(test_overlaps),
                cmocka_unit_test(test_policy_names),
                cmocka_unit_test(test_integers),
                cmocka_unit_test(test_booleans_and_enums),
                cmocka_unit_test(test_strings_and_lists),
                cmocka_unit_test(test_durations),
                cmocka_unit_test(test_schedule_and_timezone),
                cmocka_unit_test(test_retention_keeps_nothing),
                cmocka_unit_test(test_quiesce_vs_type),
                cmocka_unit_test(test_hooks),
                cmocka_unit_test(test_name_templates),
                cmocka_unit_test(test_anchors_aliases_tags),
                cmocka_unit_test(test_too_many_problems),
                cmocka_unit_test(test_file_errors),
                cmocka_unit_test(test_huge_file),
                cmocka_unit_test(test_deep_nesting),
                cmocka_unit_test(test_billion_laughs),
                cmocka_unit_test(test_invalid_utf8_and_binary),
                cmocka_unit_test(test_template_expand),
                cmocka_unit_test(test_template_vs_strftime),
                cmocka_unit_test(test_snapshot_name_valid),
                cmocka_unit_test(test_selector),
                cmocka_unit_test(test_enums_and_format),
        };

        return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
