/* Prometheus text exposition of the history: `virtsnap metrics` prints it
 * and the daemon writes it to metrics_textfile for node_exporter's textfile
 * collector.  Series are judged by health.h, so the numbers agree with
 * `status` and `monitor`. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "policy.h"
#include "store.h"

/* Write every metric to out.  cfg may be NULL (no lateness, no RPO). */
int vs_cli_metrics_write(vs_store *s, const vs_config *cfg, int64_t now, FILE *out, vs_err *err);

/* Write them to path atomically: a temporary file beside it, fsync, rename,
 * so a scrape never reads half a file. */
int vs_cli_metrics_write_file(vs_store *s, const vs_config *cfg, int64_t now, const char *path, vs_err *err);
