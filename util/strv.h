/* NULL-terminated string vectors (char **), the form argv, globs and tag
 * lists take everywhere in virtsnap.  A strv owns its strings. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

size_t vs_strv_length(char *const *v);
void vs_strv_free(char **v);
/* Append a copy of s; returns 0 or -ENOMEM. *v may be NULL. */
int vs_strv_push(char ***v, const char *s);
/* Append s itself (takes ownership even on failure). */
int vs_strv_consume(char ***v, char *s);
bool vs_strv_contains(char *const *v, const char *s);
char **vs_strv_copy(char *const *v);
