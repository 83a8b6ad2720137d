/* Free-space limits as users write them (guard: min_free): a share of the
 * filesystem ("10%", "2.5%") or a size with a binary unit ("512M", "20G").
 * Pure: the numbers come from the caller. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int
vs_space_parse(const char *s, vs_space *ret)
{
        char *end = NULL;
        double v;

        if (!s || !*s || !(*s >= '0' && *s <= '9'))
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || !isfinite(v))
                return -EINVAL;
        if (strcmp(end, "%") == 0) {
                if (v < 0.1 || v > 99)
                        return -ERANGE;
                *ret = (vs_space){ .percent = v };
                return 0;
        }
        {
                static const char units[] = "KMGT";
                const char *u = *end ? strchr(units, *end) : NULL;
                double bytes = v;

                if (*end && (!u || end[1] != '\0'))
                        return -EINVAL;
                if (u)
                        bytes = ldexp(v, 10 * (int)(u - units + 1));
                if (bytes < 1 || bytes > 0x1p62)
                        return -ERANGE;
                *ret = (vs_space){ .bytes = (int64_t)bytes };
                return 0;
        }
}

/* 1536 -> "1.5K"; percent "10%". */
static void
format_bytes(double b, char *buf, size_t len)
{
        static const char units[] = "KMGTP";
        int u = -1;

        while (b >= 1024 && u < 4) {
                b /= 1024;
                u++;
        }
        if (u < 0)
                snprintf(buf, len, "%.0fB", b);
        else
                snprintf(buf, len, "%.*f%c", b < 10 && b != floor(b) ? 1 : 0, b, units[u]);
}

char *
vs_space_format(const vs_space *sp, char *buf, size_t len)
{
        if (sp->percent > 0)
                snprintf(buf, len, "%g%%", sp->percent);
        else
                format_bytes((double)sp->bytes, buf, len);
        return buf;
}

bool
vs_space_ok(const vs_space *sp, uint64_t avail, uint64_t total, char *why, size_t len)
{
        char have[32], want[32];

        if (sp->percent > 0 && total > 0) {
                double pct = 100.0 * (double)avail / (double)total;

                if (pct < sp->percent) {
                        snprintf(why, len, "low space (%.1f%% free < %s)", pct, vs_space_format(sp, want, sizeof(want)));
                        return false;
                }
        } else if (sp->bytes > 0 && avail < (uint64_t)sp->bytes) {
                format_bytes((double)avail, have, sizeof(have));
                snprintf(why, len, "low space (%s free < %s)", have, vs_space_format(sp, want, sizeof(want)));
                return false;
        }
        return true;
}
