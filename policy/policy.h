/* The policy file: YAML -> typed, validated configuration.
 *
 * vs_config_load parses the file once with libyaml, keeping line and column
 * on every node, and reports every problem it finds as "FILE:LINE:COL:
 * message" diagnostics (not just the first).  The result is immutable plain
 * data: the daemon swaps whole configs on reload and never edits one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "retention.h"
#include "schedule.h"
#include "tz.h"

/* Limits on what a policy file may hold (documented in policies.example.yaml). */
#define VS_POLICY_MAX_BYTES (1024 * 1024) /* larger files are refused unread */
#define VS_POLICY_MAX_POLICIES 1000
#define VS_POLICY_MAX_KEEP 1000000         /* keep_last .. keep_yearly */
#define VS_POLICY_MAX_KEEP_WITHIN (INT64_C(5200) * 7 * 86400) /* keep_within: 5200w, ~100 years */

typedef enum vs_state_sel {
        VS_STATE_SEL_ANY,
        VS_STATE_SEL_RUNNING,
        VS_STATE_SEL_SHUTOFF,
} vs_state_sel;

typedef enum vs_snap_type {
        VS_SNAP_INTERNAL,   /* disk (+ memory when running) inside the qcow2 */
        VS_SNAP_DISK_ONLY,  /* external overlays, no memory */
        VS_SNAP_EXTERNAL,   /* external overlays + memory file */
} vs_snap_type;

typedef enum vs_quiesce {
        VS_QUIESCE_OFF,
        VS_QUIESCE_PREFERRED,
        VS_QUIESCE_REQUIRED,
} vs_quiesce;

typedef struct vs_selector {
        char **include;      /* names or fnmatch globs; NULL = every domain */
        char **exclude;
        char **tags;         /* any match; NULL = no tag condition */
        vs_state_sel state;
} vs_selector;

typedef struct vs_snapshot_spec {
        vs_snap_type type;
        vs_quiesce quiesce;
        char *name_template;        /* "{policy}-{utc:%Y%m%dT%H%M%SZ}" */
        char *description_template;
        char **disks;               /* NULL = every writable disk */
        char *overlay_dir;          /* NULL = beside each image */
        int64_t timeout;            /* seconds */
        bool atomic;
} vs_snapshot_spec;

typedef struct vs_hooks {
        char **pre;                 /* argv; NULL = none */
        char **post;
        int64_t timeout;            /* seconds */
        bool required;              /* a failed hook is CRITICAL to monitor, not WARNING */
} vs_hooks;

/* notify: what the admin wants to hear of, and the command that tells them
 * (argv, no shell; the event as JSON on stdin).  At the top level for every
 * policy; a policy's own notify replaces it. */
typedef enum vs_notify_event {
        VS_NOTIFY_FAILURE = 1 << 0,     /* a job failed */
        VS_NOTIFY_SKIPPED = 1 << 1,     /* a firing was skipped */
        VS_NOTIFY_RECOVERED = 1 << 2,   /* a success after a failed attempt */
} vs_notify_event;

typedef struct vs_notify {
        char **on;                  /* as written; NULL = all three */
        unsigned events;            /* VS_NOTIFY_* (set when command is) */
        char **command;             /* argv; NULL = no notify */
        int64_t timeout;            /* seconds */
} vs_notify;

const char *vs_notify_event_to_string(vs_notify_event e);

/* guard: a pre-flight check before each create.  A job whose domain is
 * over a limit is skipped (state `skipped`, the reason recorded); its prune
 * still runs. */
typedef struct vs_space {
        double percent;             /* > 0: at least this share of the filesystem free */
        int64_t bytes;              /* > 0: at least this many bytes free */
} vs_space;

typedef struct vs_guard {
        vs_space min_free;          /* both 0 = no space check */
        int max_chain;              /* > 0: most external overlays on a disk's chain */
} vs_guard;

typedef struct vs_policy {
        char *name;
        char *connection;           /* never NULL: inherited from the file */
        vs_selector domains;
        vs_schedule *schedule;
        int64_t jitter;             /* seconds; 0 = none */
        bool catch_up;
        vs_snapshot_spec snapshot;
        vs_hooks hooks;
        vs_notify notify;
        vs_retention_rules retention;
        vs_guard guard;
        bool prune;
        bool enabled;               /* false: validated and listed, never run */
        char **adopt_from;          /* policies (no longer in the file) whose snapshots this one takes over */
        int line, column;           /* where the policy starts in the file */
} vs_policy;

typedef struct vs_config {
        char *path;
        char *connection;           /* default libvirt URI */
        char *database;
        char *metrics_textfile;     /* Prometheus textfile the daemon keeps current; NULL = none */
        char *control_socket;       /* the daemon's unix socket (never NULL after loading) */
        vs_notify notify;           /* for policies without their own */
        vs_tz *tz;                  /* never NULL */
        int max_concurrent;
        vs_policy *policies;
        size_t n_policies;
} vs_config;

/* One problem found in a file. */
typedef struct vs_diag {
        char *file;
        int line, column;   /* 1-based; 0 when unknown (missing file) */
        char *message;
} vs_diag;

typedef struct vs_diags {
        vs_diag *items;
        size_t n;
} vs_diags;

/* Every key the loader accepts, as a dotted path from the top
 * ("policies.snapshot.quiesce"), in table order: what the documentation is
 * checked against so that it cannot drift from the loader. */
typedef void (*vs_config_key_fn)(const char *path, void *userdata);
void vs_config_each_key(vs_config_key_fn fn, void *userdata);

/* Load and validate.  0 with *ret set; -EINVAL when the file is invalid (every
 * problem in diags, at most 200 plus a "too many problems" line); -EFBIG when
 * it is larger than VS_POLICY_MAX_BYTES; -ENOENT/-EISDIR/-EACCES/... when it
 * cannot be read (one diag saying so); -ENOMEM.  Diags are appended to
 * `diags` (which may be NULL); free them with vs_diags_clear. */
int vs_config_load(const char *path, vs_config **ret, vs_diags *diags);
/* Same, from a buffer; `name` is used in diagnostics. */
int vs_config_load_string(const char *name, const char *text, size_t len, vs_config **ret,
                          vs_diags *diags);
void vs_config_free(vs_config *cfg);
/* Point the config and every policy at another libvirt URI (`--connect`,
 * e.g. the demo running the example file on test:///default).  For use right
 * after loading, before the config is shared.  0 or -ENOMEM. */
int vs_config_override_connection(vs_config *cfg, const char *uri);
const vs_policy *vs_config_find_policy(const vs_config *cfg, const char *name);

void vs_diags_clear(vs_diags *d);
/* "FILE:LINE:COL: message" (or "FILE: message" when line is 0). */
int vs_diag_format(const vs_diag *d, char *buf, size_t len);

/* Domain selector: does a domain match?  Pure (fnmatch on names, tag set). */
bool vs_selector_match(const vs_selector *sel, const char *domain_name, char *const *domain_tags,
                       bool running);

/* Expand a snapshot name or description template.  Placeholders: {policy},
 * {domain}, {utc:STRFTIME}, {local:STRFTIME} (in tz), {epoch}; "{{" and "}}"
 * are literal braces.  STRFTIME supports %Y %C %y %G %g %V %m %b %h %B %d %e
 * %j %a %A %u %w %U %W %H %k %I %l %p %M %S %s %F %T %R %D %z %% (C locale,
 * formatted here: never touches TZ or the locale).  0, -EINVAL (unknown
 * placeholder or conversion, unterminated brace, {local:} without tz,
 * {policy}/{domain} with a NULL value), -ENAMETOOLONG (over 4096 bytes),
 * -ENOMEM.  Names must still pass vs_snapshot_name_valid. */
int vs_template_expand(const char *tmpl, const char *policy, const char *domain, const vs_tz *tz,
                       int64_t t, char **ret);
/* True when s matches [A-Za-z0-9._-]{1,64} and does not start with '.'. */
bool vs_snapshot_name_valid(const char *s);

/* guard: min_free.  Parse "10%" (0.1-99) or a size ("20G", K/M/G/T are
 * binary, a bare number is bytes): 0, -EINVAL or -ERANGE. */
int vs_space_parse(const char *s, vs_space *ret);
char *vs_space_format(const vs_space *sp, char *buf, size_t len);
/* Whether avail of total bytes free meets sp; if not, why says so for a
 * person ("low space (3.1% free < 10%)"). */
bool vs_space_ok(const vs_space *sp, uint64_t avail, uint64_t total, char *why, size_t len);

const char *vs_snap_type_to_string(vs_snap_type t);
int vs_snap_type_from_string(const char *s); /* -1 if unknown */
const char *vs_quiesce_to_string(vs_quiesce q);
int vs_quiesce_from_string(const char *s);
const char *vs_state_sel_to_string(vs_state_sel s);
int vs_state_sel_from_string(const char *s);
