/* Hook processes (see hooks.h).  uv_spawn with UV_PROCESS_DETACHED makes the
 * child a session and process-group leader, so a timeout can SIGKILL the
 * whole group (a shell script's children included) with kill(-pid).  The
 * vs_hook lives until libuv's close callback for the process handle. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

#include "hooks.h"
#include "policy.h"
#include "strv.h"

extern char **environ;

struct vs_hook {
        uv_process_t proc;
        vs_clock *clock;
        vs_clock_timer *timer;
        vs_hook_done_fn done;
        void *data;
        vs_hook_result res;
        bool finished;
        int64_t timeout_ms;
};

static char *
expand_snapshot(const char *arg, const char *snapshot)
{
        const char *key = "{snapshot}";
        size_t klen = strlen(key), vlen = snapshot ? strlen(snapshot) : 0, n = 0;
        char *out, *o;

        for (const char *p = strstr(arg, key); p; p = strstr(p + klen, key))
                n++;
        out = malloc(strlen(arg) + n * vlen + 1);
        if (!out)
                return NULL;
        o = out;
        for (const char *p = arg; *p;) {
                if (strncmp(p, key, klen) == 0) {
                        if (vlen)
                                memcpy(o, snapshot, vlen);
                        o += vlen;
                        p += klen;
                } else {
                        *o++ = *p++;
                }
        }
        *o = '\0';
        return out;
}

char *
vs_hook_expand_arg(const char *arg, const char *domain, const char *policy, const char *snapshot,
                   const vs_tz *tz, int64_t t)
{
        char *snap = expand_snapshot(arg, snapshot), *out = NULL;

        if (!snap)
                return NULL;
        /* The policy loader has checked every placeholder; what fails here
         * (out of memory, {local:...} without a zone) fails the hook rather
         * than run it with a half-expanded argument. */
        if (vs_template_expand(snap, policy, domain, tz, t, &out) < 0)
                out = NULL;
        free(snap);
        return out;
}

static int
env_push(char ***env, const char *key, const char *val)
{
        char *s;

        if (asprintf(&s, "%s=%s", key, val ? val : "") < 0)
                return -ENOMEM;
        return vs_strv_consume(env, s);
}

static char **
build_env(const vs_hook_request *req)
{
        char **env = NULL;

        for (char **e = environ; e && *e; e++) {
                if (strncmp(*e, "VIRTSNAP_", 9) == 0)
                        continue;
                if (vs_strv_push(&env, *e) < 0)
                        goto fail;
        }
        if (env_push(&env, "VIRTSNAP_DOMAIN", req->domain) < 0 ||
            env_push(&env, "VIRTSNAP_POLICY", req->policy) < 0 ||
            env_push(&env, "VIRTSNAP_SNAPSHOT", req->snapshot) < 0 ||
            env_push(&env, "VIRTSNAP_PHASE", req->phase) < 0 ||
            (req->result && env_push(&env, "VIRTSNAP_RESULT", req->result) < 0) ||
            (req->error && env_push(&env, "VIRTSNAP_ERROR", req->error) < 0))
                goto fail;
        return env;
fail:
        vs_strv_free(env);
        return NULL;
}

static void
on_closed(uv_handle_t *h)
{
        vs_hook *hook = h->data;

        hook->done(hook->data, &hook->res);
        free(hook);
}

static void
on_proc_exit(uv_process_t *p, int64_t exit_status, int term_signal)
{
        vs_hook *hook = p->data;

        hook->finished = true;
        hook->res.exit_status = exit_status;
        hook->res.term_signal = term_signal;
        vs_clock_timer_free(hook->timer);
        hook->timer = NULL;
        uv_close((uv_handle_t *)p, on_closed);
}

static void
on_spawn_failed_closed(uv_handle_t *h)
{
        free(h->data);
}

static void
kill_group(vs_hook *hook)
{
        if (hook->finished || hook->proc.pid <= 0)
                return;
        /* The child leads its own group (UV_PROCESS_DETACHED => setsid). */
        if (kill(-hook->proc.pid, SIGKILL) < 0)
                kill(hook->proc.pid, SIGKILL);
}

static void
on_timeout(void *data)
{
        vs_hook *hook = data;

        hook->res.timed_out = true;
        kill_group(hook);
}

void
vs_hook_kill(vs_hook *h)
{
        if (!h || h->finished)
                return;
        h->res.killed = true;
        kill_group(h);
}

int
vs_hook_run(vs_clock *clock, const vs_hook_request *req, vs_hook_done_fn done, void *data,
            vs_hook **ret, vs_err *err)
{
        uv_process_options_t opts = { 0 };
        uv_stdio_container_t stdio[3] = { { .flags = UV_IGNORE } };
        char **argv = NULL, **env = NULL;
        vs_hook *hook = NULL;
        int in_fd = -1, r;

        if (!req->argv || !req->argv[0])
                return vs_err_set(err, EINVAL, "hook", "%s hook has an empty argv", req->phase);
        for (size_t i = 0; req->argv[i]; i++) {
                char *a = vs_hook_expand_arg(req->argv[i], req->domain, req->policy, req->snapshot, req->tz,
                                             req->time);

                if (!a) {
                        r = vs_err_set(err, EINVAL, "hook", "%s hook: cannot expand argument '%s'", req->phase,
                                       req->argv[i]);
                        goto out;
                }
                if (vs_strv_consume(&argv, a) < 0) {
                        r = vs_err_set(err, ENOMEM, "hook", "out of memory");
                        goto out;
                }
        }
        if (req->stdin_data) {
                size_t len = strlen(req->stdin_data), off = 0;

                in_fd = memfd_create("virtsnap-stdin", MFD_CLOEXEC);
                while (in_fd >= 0 && off < len) {
                        ssize_t n = write(in_fd, req->stdin_data + off, len - off);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                break;
                        off += (size_t)n;
                }
                if (in_fd < 0 || off < len || lseek(in_fd, 0, SEEK_SET) < 0) {
                        r = vs_err_set(err, errno ? errno : EIO, "hook", "%s: cannot prepare its stdin: %s",
                                       req->phase, strerror(errno ? errno : EIO));
                        goto out;
                }
                stdio[0].flags = UV_INHERIT_FD;
                stdio[0].data.fd = in_fd;
        }
        env = build_env(req);
        hook = calloc(1, sizeof(*hook));
        if (!env || !hook) {
                r = vs_err_set(err, ENOMEM, "hook", "out of memory");
                goto out;
        }
        hook->clock = clock;
        hook->done = done;
        hook->data = data;
        hook->timeout_ms = req->timeout_ms;
        if (req->timeout_ms > 0) {
                r = vs_clock_timer_new(clock, on_timeout, hook, &hook->timer);
                if (r < 0) {
                        vs_err_set(err, -r, "hook", "cannot create timer");
                        goto out;
                }
        }

        stdio[1].flags = UV_INHERIT_FD;
        stdio[1].data.fd = 2;
        stdio[2].flags = UV_INHERIT_FD;
        stdio[2].data.fd = 2;
        opts.exit_cb = on_proc_exit;
        opts.file = argv[0];
        opts.args = argv;
        opts.env = env;
        opts.stdio = stdio;
        opts.stdio_count = 3;
        opts.flags = UV_PROCESS_DETACHED;
        hook->proc.data = hook;
        r = uv_spawn(vs_clock_loop(clock), &hook->proc, &opts);
        if (r < 0) {
                vs_err_set(err, -r, "hook", "%s hook: cannot run %s: %s", req->phase, argv[0], uv_strerror(r));
                vs_clock_timer_free(hook->timer);
                /* A failed uv_spawn still initialised the handle: close it. */
                hook->done = NULL;
                uv_close((uv_handle_t *)&hook->proc, on_spawn_failed_closed);
                hook = NULL;
                goto out;
        }
        if (hook->timer)
                vs_clock_timer_arm(hook->timer, vs_clock_now_ms(clock) + req->timeout_ms);
        *ret = hook;
        hook = NULL;
        r = 0;
out:
        /* The child has its own copy (or none was started). */
        if (in_fd >= 0)
                close(in_fd);
        free(hook);
        vs_strv_free(argv);
        vs_strv_free(env);
        return r;
}

bool
vs_hook_result_ok(const vs_hook_result *res)
{
        return !res->timed_out && !res->killed && res->term_signal == 0 && res->exit_status == 0;
}

void
vs_hook_result_describe(const vs_hook_result *res, char *buf, size_t len)
{
        if (res->timed_out)
                snprintf(buf, len, "timed out (killed)");
        else if (res->killed)
                snprintf(buf, len, "cancelled (killed)");
        else if (res->term_signal)
                snprintf(buf, len, "killed by signal %d", res->term_signal);
        else
                snprintf(buf, len, "exit status %lld", (long long)res->exit_status);
}
