/* vs_cli_usage_error and the getopt_long error tails: one copy of the usage
 * messages that every subcommand used to spell out for itself; and the
 * number parser behind --limit, --count, --days and --keep-*. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli-args.h"
#include "commands.h"

int
vs_cli_parse_uint(const char *s, int64_t min, int64_t max, int64_t *ret)
{
        char *end;
        long long v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

int
vs_cli_usage_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "virtsnap %s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'virtsnap %s --help'.\n", cmd);
        return VS_EXIT_USAGE;
}

int
vs_cli_getopt_error(const char *cmd, int c, char **argv)
{
        if (c == ':')
                return vs_cli_usage_error(cmd, "%s needs an argument", argv[optind - 1]);
        return vs_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

int
vs_cli_getopt_error_optopt(const char *cmd, char **argv)
{
        if (optopt == 'c')
                fprintf(stderr, "virtsnap %s: option -c needs an argument\n", cmd);
        else if (optopt == 'C')
                fprintf(stderr, "virtsnap %s: option --connect needs an argument\n", cmd);
        else if (optopt)
                fprintf(stderr, "virtsnap %s: unknown option -%c\n", cmd, optopt);
        else
                fprintf(stderr, "virtsnap %s: unknown option '%s'\n", cmd, argv[optind - 1]);
        fprintf(stderr, "Try 'virtsnap %s --help'.\n", cmd);
        return VS_EXIT_USAGE;
}
