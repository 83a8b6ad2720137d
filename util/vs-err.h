/* Error context that travels beside a negative errno.
 *
 * Functions that can fail return 0 or -errno and, when the caller passes a
 * vs_err, fill in where it happened ("policies.yaml:12:5", "libvirt",
 * "sqlite") and what.  For libvirt errors code and domain carry
 * virErrorNumber/virErrorDomain so callers can classify them without
 * including libvirt.  There is no global "last error". */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

/* Not a failure: the thing was not tried, for a reason the caller acts on. */
typedef enum vs_err_skip {
        VS_SKIP_NONE,
        VS_SKIP_BUSY,   /* the domain is busy (block job, backup, migration): wait and retry */
        VS_SKIP_GUARD,  /* over a guard limit (free space, chain depth): skip this time */
} vs_err_skip;

typedef struct vs_err {
        char where[128];
        char msg[512];
        int code;    /* libvirt virErrorNumber / sqlite result code, else 0 */
        int domain;  /* libvirt virErrorDomain, else 0 */
        bool transient; /* worth retrying: connection lost, job lock, agent */
        vs_err_skip skip; /* set with -EBUSY (busy) or -ENOSPC (guard); msg says why */
} vs_err;

/* Fill err (if non-NULL) and return -errnum (errnum > 0), so callers can write
 * `return vs_err_set(err, EINVAL, "policy", "bad %s", x);`. */
int vs_err_set(vs_err *err, int errnum, const char *where, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
int vs_err_setv(vs_err *err, int errnum, const char *where, const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));
void vs_err_clear(vs_err *err);
bool vs_err_is_set(const vs_err *err);
