/* One daemon per database: an flock(2)-held lock file beside it.
 *
 * The lock is "DATABASE.lock" (created 0600), held with LOCK_EX | LOCK_NB for
 * the life of the process and released by the kernel however the process
 * ends, so a crash never leaves a stale lock.  The holder's pid is written
 * into the file only to make the refusal message useful. */
#pragma once

#include "vs-err.h"

/* 0 and *ret_fd (keep it open), -EBUSY when another process holds the lock
 * (err names its pid), or -errno when the file cannot be opened. */
int vs_lockfile_acquire(const char *database, int *ret_fd, vs_err *err);
/* Unlock and close; fd < 0 is a no-op. */
void vs_lockfile_release(int fd);
