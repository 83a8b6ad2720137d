/* Logging for the daemon and CLI (library modules never log; they return
 * errors and let cli/ or scheduler/ decide).  Under systemd (JOURNAL_STREAM
 * set) lines carry sd-daemon "<N>" priority prefixes so journald keeps the
 * level; otherwise they are plain "level: message" lines on stderr.
 * The logger is an object created in main and passed down: no globals. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

enum {
        VS_LOG_ERR = 3,
        VS_LOG_WARNING = 4,
        VS_LOG_NOTICE = 5,
        VS_LOG_INFO = 6,
        VS_LOG_DEBUG = 7,
};

typedef struct vs_log vs_log;

/* journal: prefix lines with <N>.  out: usually stderr. */
vs_log *vs_log_new(FILE *out, int max_level, bool journal);
void vs_log_free(vs_log *log);
/* Parse "err|warning|notice|info|debug"; -1 if unknown. */
int vs_log_level_from_string(const char *s);
int vs_log_level(const vs_log *log);
void vs_log_msg(vs_log *log, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define vs_log_err(l, ...) vs_log_msg((l), VS_LOG_ERR, __VA_ARGS__)
#define vs_log_warning(l, ...) vs_log_msg((l), VS_LOG_WARNING, __VA_ARGS__)
#define vs_log_notice(l, ...) vs_log_msg((l), VS_LOG_NOTICE, __VA_ARGS__)
#define vs_log_info(l, ...) vs_log_msg((l), VS_LOG_INFO, __VA_ARGS__)
#define vs_log_debug(l, ...) vs_log_msg((l), VS_LOG_DEBUG, __VA_ARGS__)
