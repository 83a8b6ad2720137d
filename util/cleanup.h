/* Scope-bound cleanup helpers.
 *
 * Ownership in virtsnap is explicit: every allocation has one owner, and a
 * local owner frees on scope exit through these attributes (the pattern of
 * systemd's alloc-util.h).  TAKE_PTR hands ownership to the caller. */
#pragma once

#include <stdlib.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(vs_freep)

static inline void
vs_freep(void *p)
{
        free(*(void **)p);
}

#define TAKE_PTR(p)                           \
        ({                                    \
                __typeof__(p) _tp_ = (p);     \
                (p) = NULL;                   \
                _tp_;                         \
        })

/* Declare vs_<type>_freep(type **) from a NULL-safe vs_<type>_free. */
#define VS_DEFINE_FREEP(type, freefn)                 \
        static inline void freefn##p(type **p)        \
        {                                             \
                if (*p)                               \
                        freefn(*p);                   \
        }

#define VS_ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
