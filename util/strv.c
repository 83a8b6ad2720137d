/* String vectors: small helpers so callers never hand-roll realloc loops. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

size_t
vs_strv_length(char *const *v)
{
        size_t n = 0;

        while (v && v[n])
                n++;
        return n;
}

void
vs_strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

int
vs_strv_consume(char ***v, char *s)
{
        size_t n = vs_strv_length(*v);
        char **nv;

        if (!s)
                return -ENOMEM;
        nv = realloc(*v, (n + 2) * sizeof(char *));
        if (!nv) {
                free(s);
                return -ENOMEM;
        }
        nv[n] = s;
        nv[n + 1] = NULL;
        *v = nv;
        return 0;
}

int
vs_strv_push(char ***v, const char *s)
{
        return vs_strv_consume(v, strdup(s));
}

bool
vs_strv_contains(char *const *v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

char **
vs_strv_copy(char *const *v)
{
        char **r = calloc(vs_strv_length(v) + 1, sizeof(char *));

        if (!r)
                return NULL;
        for (size_t i = 0; v && v[i]; i++) {
                r[i] = strdup(v[i]);
                if (!r[i]) {
                        vs_strv_free(r);
                        return NULL;
                }
        }
        return r;
}
