/* The control socket's protocol: how the CLI asks the running daemon.
 *
 * One JSON object per line (UTF-8, '\n'-terminated, at most
 * VS_CTL_MAX_LINE bytes with the newline), a request from the client and
 * one reply from the daemon, in order.  A request:
 *
 *   {"cmd": "snapshot", "domain": "web-01", "policy": "nightly",
 *    "ttl": 259200, "note": "before the upgrade", "wait": true,
 *    "database": "/var/lib/virtsnap/history.db"}
 *   {"cmd": "status"}
 *
 * cmd is required; the other keys are per command (vs_ctl_request).  Every
 * key is checked: an unknown key, a wrong type or a value out of range is an
 * error, as in the policy file.  A reply always has "ok" (boolean); when it
 * is false, "error" (text) says why and "code" names the errno
 * ("EINVAL", "ENOENT", "EACCES", ...).
 *
 * This file is pure (no I/O): the server and the fuzzer share it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vs-err.h"

/* A request line longer than this (newline included) is refused. */
#define VS_CTL_MAX_LINE 65536

typedef enum vs_ctl_cmd {
        VS_CTL_STATUS,          /* the daemon's counters */
        VS_CTL_SNAPSHOT,        /* an ad-hoc snapshot: domain, policy?, ttl?, note?, wait? */
        VS_CTL_PRUNE,           /* retention now: policy?, domain?; replies when done */
        VS_CTL_REVERT,          /* domain, snapshot, policy?, ttl? (the safety snapshot's),
                                 * no_safety?, dry_run?; replies when done */
        VS_CTL_RUN,             /* `run --once`: policy?; replies when every job is done */
        VS_CTL_PIN,             /* domain, snapshot, reason?; replies once committed */
        VS_CTL_UNPIN,           /* domain, snapshot */
} vs_ctl_cmd;

typedef struct vs_ctl_request {
        vs_ctl_cmd cmd;
        char *domain, *policy, *note;   /* NULL when absent */
        char *snapshot;                 /* revert: the target; pin, unpin */
        char *reason;                   /* pin */
        bool no_safety, dry_run;        /* revert */
        int64_t ttl;                    /* s; 0 = none */
        bool wait;                      /* reply when the job is done, not when queued */
        char *database;                 /* the client's database: the daemon refuses
                                         * a request meant for another one; NULL = any */
} vs_ctl_request;

const char *vs_ctl_cmd_to_string(vs_ctl_cmd c);

/* Parse one request (the line without its newline; need not be
 * NUL-terminated).  -EINVAL with err->msg saying what is wrong, -E2BIG over
 * the limit, -ENOMEM. */
int vs_ctl_request_parse(const char *line, size_t len, vs_ctl_request *ret, vs_err *err);
void vs_ctl_request_clear(vs_ctl_request *q);
/* The request as one line with its newline (malloc'd); NULL on ENOMEM. */
char *vs_ctl_request_format(const vs_ctl_request *q);

/* The name of an errno for "code" ("EINVAL"); "EIO" for ones not listed. */
const char *vs_ctl_errno_name(int e);
