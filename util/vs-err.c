/* vs_err: error context beside a negative errno (see vs-err.h). */
#include <stdio.h>
#include <string.h>

#include "vs-err.h"

int
vs_err_setv(vs_err *err, int errnum, const char *where, const char *fmt, va_list ap)
{
        if (err) {
                memset(err, 0, sizeof(*err));
                snprintf(err->where, sizeof(err->where), "%s", where ? where : "");
                vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        }
        return -errnum;
}

int
vs_err_set(vs_err *err, int errnum, const char *where, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vs_err_setv(err, errnum, where, fmt, ap);
        va_end(ap);
        return -errnum;
}

void
vs_err_clear(vs_err *err)
{
        if (err)
                memset(err, 0, sizeof(*err));
}

bool
vs_err_is_set(const vs_err *err)
{
        return err && err->msg[0] != '\0';
}
