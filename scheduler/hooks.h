/* Pre and post hooks: a policy's argv run as a child process around a
 * snapshot.  No shell: argv[0] is exec'd directly (PATH is searched), with
 * {domain}, {policy} and {snapshot} substituted in every argument and
 * VIRTSNAP_DOMAIN, VIRTSNAP_POLICY, VIRTSNAP_SNAPSHOT, VIRTSNAP_PHASE and
 * VIRTSNAP_RESULT (pre: "pending"; post: "created" or "failed", with
 * VIRTSNAP_ERROR saying why) added to the environment; variables named
 * VIRTSNAP_* inherited from the daemon are dropped, so a hook never sees a
 * stale one (arguments are policy templates: {utc:...} and
 * friends work too).  The child gets its own process group and is
 * killed with SIGKILL (group and all) at its timeout.  stdin is /dev/null
 * or stdin_data (from a sealed memory file: the child reads at its own pace,
 * the loop never waits on a pipe),
 * stdout and stderr go to the daemon's stderr.  Loop thread only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "tz.h"
#include "vs-err.h"

typedef struct vs_hook vs_hook;

typedef struct vs_hook_request {
        char *const *argv;          /* templates; NULL-terminated, non-empty */
        const char *domain;
        const char *policy;
        const char *snapshot;
        const char *phase;          /* "pre" or "post" */
        const char *result;         /* VIRTSNAP_RESULT: "pending" (pre), "created" or "failed" (post) */
        const char *error;          /* VIRTSNAP_ERROR: why the job failed; NULL: not set */
        const vs_tz *tz;            /* for {utc:...}/{local:...}/{epoch} in arguments */
        int64_t time;
        int64_t timeout_ms;         /* <= 0: no timeout */
        const char *stdin_data;     /* the child's stdin (notify: the event as JSON);
                                     * NULL: /dev/null */
} vs_hook_request;

typedef struct vs_hook_result {
        int64_t exit_status;        /* when it exited */
        int term_signal;            /* when killed by a signal, else 0 */
        bool timed_out;             /* we killed it at the timeout */
        bool killed;                /* we killed it through vs_hook_kill */
} vs_hook_result;

/* Called once on the loop thread when the hook has finished; forget the
 * vs_hook pointer there (it is released right after). */
typedef void (*vs_hook_done_fn)(void *data, const vs_hook_result *res);

/* 0 and the callback later, or -errno with no callback: bad request, out of
 * memory, or the program could not be started (-ENOENT, -EACCES, ...; err
 * says which). */
int vs_hook_run(vs_clock *clock, const vs_hook_request *req, vs_hook_done_fn done, void *data,
                vs_hook **ret, vs_err *err);
/* Kill the process group now (drain, cancellation); the callback follows. */
void vs_hook_kill(vs_hook *h);
/* True when the hook succeeded (exit 0). */
bool vs_hook_result_ok(const vs_hook_result *res);
/* "exit status 3", "killed by signal 9", "timed out after 2s" */
void vs_hook_result_describe(const vs_hook_result *res, char *buf, size_t len);
/* A hook argument as the policy file allows it: {snapshot}, then the text
 * template placeholders of vs_template_expand ({domain}, {policy}, {epoch},
 * {utc:FMT}, {local:FMT}, "{{", "}}").  NULL when it cannot be expanded
 * (out of memory, {local:FMT} with tz NULL): the hook then fails. */
char *vs_hook_expand_arg(const char *arg, const char *domain, const char *policy, const char *snapshot,
                         const vs_tz *tz, int64_t t);
