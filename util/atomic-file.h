/* Replacing a file so that a reader sees the old one or the new one, never
 * half of either: write a temporary file beside it, fsync, rename.  Used for
 * the metrics textfile and the HTML reports. */
#pragma once

#include <stdio.h>
#include <sys/types.h>

#include "vs-err.h"

/* fill writes the content to f; returns 0 or a negative errno (with err set). */
typedef int (*vs_atomic_fill_fn)(FILE *f, void *userdata, vs_err *err);

/* Create or replace path (mode for a new file) with what fill writes.  On
 * any failure path is untouched and the temporary file removed. */
int vs_write_file_atomic(const char *path, mode_t mode, vs_atomic_fill_fn fill, void *userdata, vs_err *err);
