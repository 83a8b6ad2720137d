/* RFC 3339 / @EPOCH parsing and UTC formatting without touching TZ or any
 * libc time-zone state, so it is safe on every thread.  Civil-date
 * arithmetic follows Howard Hinnant's published days_from_civil algorithm. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

int64_t
vs_days_from_civil(int64_t y, unsigned m, unsigned d)
{
        int64_t era;
        unsigned yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = (unsigned)(y - era * 400);
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

void
vs_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
        int64_t era;
        unsigned doe, yoe, doy, mp;

        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = (unsigned)(z - era * 146097);
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *d = doy - (153 * mp + 2) / 5 + 1;
        *m = mp < 10 ? mp + 3 : mp - 9;
        *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool
digits(const char **p, int n, int *ret)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                if ((*p)[i] < '0' || (*p)[i] > '9')
                        return false;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

static bool
leap(int64_t y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
vs_time_parse(const char *s, int64_t *ret)
{
        static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        int Y, M, D, h, mi, sec, oh = 0, om = 0, sign = 0;
        const char *p = s;

        if (!s)
                return -EINVAL;
        if (*p == '@') {
                char *end;
                long long v;

                p++;
                if (!*p || (*p != '-' && (*p < '0' || *p > '9')))
                        return -EINVAL;
                errno = 0;
                v = strtoll(p, &end, 10);
                if (errno || *end)
                        return -EINVAL;
                *ret = v;
                return 0;
        }
        if (!digits(&p, 4, &Y) || *p++ != '-' || !digits(&p, 2, &M) || *p++ != '-' ||
            !digits(&p, 2, &D) || (*p != 'T' && *p != 't' && *p != ' '))
                return -EINVAL;
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
            !digits(&p, 2, &sec))
                return -EINVAL;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                sign = *p++ == '-' ? -1 : 1;
                if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
                        return -EINVAL;
        } else {
                return -EINVAL;
        }
        if (*p)
                return -EINVAL;
        if (M < 1 || M > 12 || D < 1 || h > 23 || mi > 59 || sec > 60)
                return -EINVAL;
        if ((unsigned)D > mdays[M - 1] + (M == 2 && leap(Y)))
                return -EINVAL;
        if (sec == 60) /* a leap second is clamped to :59; Unix time has no :60 */
                sec = 59;
        *ret = vs_days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + mi * 60 + sec -
               sign * (oh * 3600 + om * 60);
        return 0;
}

char *
vs_time_format_utc(int64_t t, char *buf, size_t len)
{
        int64_t days = t / 86400, rem = t % 86400, y;
        unsigned m, d;

        if (rem < 0) {
                rem += 86400;
                days--;
        }
        vs_civil_from_days(days, &y, &m, &d);
        snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
                 (int)(rem / 3600), (int)(rem % 3600 / 60), (int)(rem % 60));
        return buf;
}
