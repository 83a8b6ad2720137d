/* The daemon's lock file (see lockfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lockfile.h"

int
vs_lockfile_acquire(const char *database, int *ret_fd, vs_err *err)
{
        char path[4096], buf[32];
        ssize_t n;
        int fd, r;

        if (snprintf(path, sizeof(path), "%s.lock", database) >= (int)sizeof(path))
                return vs_err_set(err, ENAMETOOLONG, "lock", "%s: path too long", database);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return vs_err_set(err, errno, "lock", "cannot open %s: %s", path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                r = errno;
                n = pread(fd, buf, sizeof(buf) - 1, 0);
                buf[n > 0 ? n : 0] = '\0';
                buf[strcspn(buf, "\n")] = '\0';
                close(fd);
                if (r == EWOULDBLOCK)
                        return vs_err_set(err, EBUSY, "lock",
                                          "another virtsnap daemon (pid %s) is already using %s (lock %s)",
                                          buf[0] ? buf : "unknown", database, path);
                return vs_err_set(err, r, "lock", "cannot lock %s: %s", path, strerror(r));
        }
        n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
                /* The pid is only informative; the lock is what matters. */
        }
        *ret_fd = fd;
        return 0;
}

void
vs_lockfile_release(int fd)
{
        if (fd < 0)
                return;
        flock(fd, LOCK_UN);
        close(fd);
}
