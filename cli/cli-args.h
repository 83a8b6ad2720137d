/* Command-line arguments, the same for every subcommand: numbers, and usage
 * errors printed as a "virtsnap CMD: ..." line, then "Try 'virtsnap CMD
 * --help'.", on stderr, with exit status 2.  (`virtsnap monitor` is the
 * exception: a Nagios plugin reports usage errors as UNKNOWN on stdout, so
 * it keeps its own.) */
#pragma once

#include <stdint.h>

/* A decimal integer from min (>= 0) to max, digits only.  0 or -EINVAL. */
int vs_cli_parse_uint(const char *s, int64_t min, int64_t max, int64_t *ret);

/* Print the message and the --help hint; returns VS_EXIT_USAGE. */
int vs_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The tail of a getopt_long loop whose optstring starts with ':': c is ':'
 * (an option without its argument) or anything else (an unknown option),
 * named from argv[optind - 1].  Returns VS_EXIT_USAGE. */
int vs_cli_getopt_error(const char *cmd, int c, char **argv);

/* The same for check, domains and snapshots, whose optstrings have no
 * leading ':' so getopt_long returns '?' for both cases: optopt tells them
 * apart, and -c and --connect (val 'C') are the options that take an
 * argument.  Returns VS_EXIT_USAGE. */
int vs_cli_getopt_error_optopt(const char *cmd, char **argv);
