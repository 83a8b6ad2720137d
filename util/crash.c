#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash.h"

const char *const vs_crash_point_names[] = {
        "create-intent",        /* the create's intent is durable; libvirt not asked yet */
        "create-returned",      /* libvirt made the snapshot; its outcome not written */
        "create-recorded",      /* the outcome written, not yet committed */
        "delete-intent",        /* the prune's `deleting` rows are durable; libvirt not asked */
        "delete-returned",      /* libvirt deleted; the outcomes not written */
        "delete-recorded",      /* the outcomes written, not yet committed */
        NULL,
};

struct vs_crash {
        const char *point;      /* one of vs_crash_point_names */
        unsigned long left;     /* passes before the crash */
};

#ifndef VS_CRASH_POINTS
int
vs_crash_from_env(vs_crash **ret, vs_err *err)
{
        (void)err;
        *ret = NULL; /* compiled out: the variable is ignored */
        return 0;
}
#else
int
vs_crash_from_env(vs_crash **ret, vs_err *err)
{
        const char *env = getenv("VIRTSNAP_CRASH_AT");
        const char *colon;
        unsigned long n = 1;
        size_t len;
        vs_crash *c;

        *ret = NULL;
        if (!env || !*env)
                return 0;
        colon = strchr(env, ':');
        len = colon ? (size_t)(colon - env) : strlen(env);
        if (colon) {
                char *end;

                errno = 0;
                n = strtoul(colon + 1, &end, 10);
                if (errno || *end || end == colon + 1 || n == 0)
                        return vs_err_set(err, EINVAL, "crash", "VIRTSNAP_CRASH_AT=%s: the count is not a number >= 1",
                                          env);
        }
        for (size_t i = 0; vs_crash_point_names[i]; i++)
                if (strlen(vs_crash_point_names[i]) == len && strncmp(vs_crash_point_names[i], env, len) == 0) {
                        c = calloc(1, sizeof(*c));
                        if (!c)
                                return vs_err_set(err, ENOMEM, "crash", "out of memory");
                        c->point = vs_crash_point_names[i];
                        c->left = n;
                        *ret = c;
                        return 0;
                }
        return vs_err_set(err, EINVAL, "crash", "VIRTSNAP_CRASH_AT=%s: no such crash point", env);
}
#endif

void
vs_crash_free(vs_crash *c)
{
        free(c);
}

void
vs_crash_point(vs_crash *c, const char *point)
{
        if (!c || strcmp(c->point, point) != 0 || --c->left > 0)
                return;
        /* What a power cut leaves: no atexit, no flush, no rollback. */
        static const char msg[] = "virtsnap: VIRTSNAP_CRASH_AT: crashing now\n";
        (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
        raise(SIGKILL);
}
