/* A full disk, for one file: from vs_disk_full_begin until vs_disk_full_end,
 * every write that would make any file of the process larger than `path` is
 * now fails with EFBIG (RLIMIT_FSIZE, with SIGXFSZ ignored), which SQLite
 * reports as "database or disk is full".  Writes within the current size
 * still succeed, so a WAL that only grows is full and nothing else is. */
#pragma once

#include <sys/resource.h>

typedef struct vs_disk_full {
        struct rlimit old;
        void (*old_handler)(int);
} vs_disk_full;

/* 0, or -errno if path cannot be stat'ed or the limit cannot be set. */
int vs_disk_full_begin(const char *path, vs_disk_full *saved);
void vs_disk_full_end(const vs_disk_full *saved);
