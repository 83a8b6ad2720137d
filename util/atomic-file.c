#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic-file.h"
#include "cleanup.h"

int
vs_write_file_atomic(const char *path, mode_t mode, vs_atomic_fill_fn fill, void *userdata, vs_err *err)
{
        _cleanup_free_ char *tmp = NULL;
        FILE *f;
        int fd, r;

        if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
                tmp = NULL;
                return vs_err_set(err, ENOMEM, path, "out of memory");
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return vs_err_set(err, errno, tmp, "cannot create: %s", strerror(errno));
        f = fdopen(fd, "w");
        if (!f) {
                r = vs_err_set(err, errno, tmp, "cannot open: %s", strerror(errno));
                close(fd);
                unlink(tmp);
                return r;
        }
        r = fill(f, userdata, err);
        if (r == 0 && (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0))
                r = vs_err_set(err, errno ? errno : EIO, tmp, "cannot write: %s", strerror(errno ? errno : EIO));
        if (fclose(f) != 0 && r == 0)
                r = vs_err_set(err, errno, tmp, "cannot write: %s", strerror(errno));
        if (r == 0 && rename(tmp, path) < 0)
                r = vs_err_set(err, errno, path, "cannot replace: %s", strerror(errno));
        if (r < 0)
                unlink(tmp);
        return r;
}
