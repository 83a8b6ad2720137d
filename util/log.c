/* Logger (see log.h).  A NULL logger discards everything, which keeps tests
 * and one-shot commands free of special cases. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct vs_log {
        FILE *out;
        int max_level;
        bool journal;
};

static const char *const level_names[] = {
        [VS_LOG_ERR] = "err",       [VS_LOG_WARNING] = "warning", [VS_LOG_NOTICE] = "notice",
        [VS_LOG_INFO] = "info",     [VS_LOG_DEBUG] = "debug",
};

vs_log *
vs_log_new(FILE *out, int max_level, bool journal)
{
        vs_log *l = calloc(1, sizeof(*l));

        if (!l)
                return NULL;
        l->out = out;
        l->max_level = max_level;
        l->journal = journal;
        return l;
}

void
vs_log_free(vs_log *log)
{
        free(log);
}

int
vs_log_level_from_string(const char *s)
{
        for (int i = VS_LOG_ERR; i <= VS_LOG_DEBUG; i++)
                if (strcmp(s, level_names[i]) == 0)
                        return i;
        if (strcmp(s, "error") == 0)
                return VS_LOG_ERR;
        if (strcmp(s, "warn") == 0)
                return VS_LOG_WARNING;
        return -1;
}

int
vs_log_level(const vs_log *log)
{
        return log ? log->max_level : -1;
}

void
vs_log_msg(vs_log *log, int level, const char *fmt, ...)
{
        char line[2048];
        va_list ap;

        if (!log || level > log->max_level)
                return;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        /* One fprintf per line so concurrent writers never interleave mid-line. */
        if (log->journal)
                fprintf(log->out, "<%d>%s\n", level, line);
        else
                fprintf(log->out, "%s: %s\n", level_names[level], line);
        fflush(log->out);
}
