/* Duration parsing and formatting (see duration.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

static int64_t
unit_seconds(char c)
{
        switch (c) {
        case 's': return 1;
        case 'm': return 60;
        case 'h': return 3600;
        case 'd': return 86400;
        case 'w': return 7 * 86400;
        default: return 0;
        }
}

int
vs_duration_parse(const char *s, int64_t *ret)
{
        int64_t total = 0;

        if (!s || !*s)
                return -EINVAL;
        while (*s) {
                int64_t n = 0, mult;

                if (*s < '0' || *s > '9')
                        return -EINVAL;
                while (*s >= '0' && *s <= '9') {
                        if (__builtin_mul_overflow(n, 10, &n) ||
                            __builtin_add_overflow(n, *s - '0', &n))
                                return -ERANGE;
                        s++;
                }
                mult = unit_seconds(*s);
                if (mult == 0)
                        return -EINVAL;
                s++;
                if (__builtin_mul_overflow(n, mult, &n) ||
                    __builtin_add_overflow(total, n, &total))
                        return -ERANGE;
        }
        *ret = total;
        return 0;
}

char *
vs_duration_format(int64_t secs, char *buf, size_t len)
{
        static const struct { char unit; int64_t size; } units[] = {
                { 'w', 7 * 86400 }, { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
        };
        size_t off = 0;

        if (len == 0)
                return buf;
        buf[0] = '\0';
        if (secs <= 0) {
                snprintf(buf, len, "%s%llds", secs < 0 ? "-" : "", (long long)(secs < 0 ? -secs : 0));
                return buf;
        }
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && off < len; i++) {
                int64_t q = secs / units[i].size;

                if (q == 0)
                        continue;
                secs -= q * units[i].size;
                off += (size_t)snprintf(buf + off, len - off, "%lld%c", (long long)q, units[i].unit);
        }
        return buf;
}
