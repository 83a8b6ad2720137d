#include <errno.h>
#include <signal.h>
#include <sys/stat.h>

#include "disk-full.h"

int
vs_disk_full_begin(const char *path, vs_disk_full *saved)
{
        struct rlimit lim;
        struct stat st;

        if (stat(path, &st) < 0 || getrlimit(RLIMIT_FSIZE, &saved->old) < 0)
                return -errno;
        lim = saved->old;
        lim.rlim_cur = (rlim_t)st.st_size;
        saved->old_handler = signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &lim) < 0) {
                int e = errno;

                signal(SIGXFSZ, saved->old_handler);
                return -e;
        }
        return 0;
}

void
vs_disk_full_end(const vs_disk_full *saved)
{
        (void)setrlimit(RLIMIT_FSIZE, &saved->old);
        signal(SIGXFSZ, saved->old_handler);
}
