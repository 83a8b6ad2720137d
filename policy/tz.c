/* Time zones from the system's TZif database (RFC 8536), without libc.
 *
 * Thread safety: vs_tz_load reads /usr/share/zoneinfo/NAME (or $TZ, or
 * /etc/localtime) once into a private, heap-allocated vs_tz; after it returns
 * nothing in the object is ever written again.  Every other function takes a
 * const vs_tz and computes from its tables and its POSIX TZ rule with pure
 * arithmetic: no globals, no caches, no TZ/tzset()/localtime().  So one vs_tz
 * may be used concurrently by the event-loop thread and any number of worker
 * threads without locking; it only has to outlive them (the daemon frees a
 * zone together with the immutable config that owns it).
 *
 * Model: a sorted table of transition instants (64-bit data block of v2+
 * files, 32-bit block of v1 files), each with the offset that starts there;
 * before the first transition time type 0 applies; at and after the last
 * transition the footer's POSIX TZ string (e.g. "CET-1CEST,M3.5.0,M10.5.0/3",
 * "<-04>4<-03>,M9.1.6/24,M4.1.6/24") governs, including RFC 8536's
 * extensions (rule times from -167 to 167 hours, DST all year).  Files with
 * leap-second records ("right/" zones) are refused: virtsnap's instants are
 * POSIX seconds. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timefmt.h"
#include "tz.h"

#define ZONEINFO_DIR "/usr/share/zoneinfo"
#define TZIF_MAX_SIZE (1 << 20)
/* Instants beyond +-2^50 s (35 million years) are clamped: far outside any
 * schedule's horizon and safe from overflow in every computation here. */
#define TZ_T_LIMIT ((int64_t)1 << 50)

typedef struct tz_date {
        char kind;      /* 'J': Jn (1-365, no Feb 29); 'D': n (0-365); 'M': Mm.w.d */
        int n, m, w, d;
        int32_t secs;   /* local time of day of the change, -167h..167h */
} tz_date;

typedef struct tz_rule {
        bool valid;
        bool has_dst;
        int32_t std_off, dst_off; /* seconds east of UTC */
        tz_date start, end;       /* start: std -> dst (in std time); end: dst -> std (in dst time) */
} tz_rule;

struct vs_tz {
        char *name;
        size_t ntrans;
        int64_t *trans;       /* ascending */
        int32_t *trans_off;   /* offset from trans[i] on */
        uint8_t *trans_dst;
        int32_t init_off;     /* before trans[0] (time type 0) */
        uint8_t init_dst;
        tz_rule rule;         /* at and after trans[ntrans-1] (or always if ntrans == 0) */
};

static int64_t
floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;

        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t
clamp_t(int64_t t)
{
        return t > TZ_T_LIMIT ? TZ_T_LIMIT : t < -TZ_T_LIMIT ? -TZ_T_LIMIT : t;
}

static bool
is_leap(int64_t y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int64_t y, int m)
{
        static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

        return mdays[m - 1] + (m == 2 && is_leap(y));
}

/* ---- POSIX TZ strings --------------------------------------------------- */

static bool
parse_abbr(const char **p)
{
        const char *s = *p;
        size_t n = 0;

        if (*s == '<') {
                s++;
                while (*s && *s != '>') {
                        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                              (*s >= '0' && *s <= '9') || *s == '+' || *s == '-'))
                                return false;
                        s++;
                        n++;
                }
                if (*s != '>' || n < 1)
                        return false;
                *p = s + 1;
                return true;
        }
        while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
                s++;
                n++;
        }
        if (n < 3)
                return false;
        *p = s;
        return true;
}

static bool
parse_num(const char **p, int min, int max, int *ret)
{
        const char *s = *p;
        int v = 0, n = 0;

        while (*s >= '0' && *s <= '9') {
                if (++n > 6)
                        return false;
                v = v * 10 + (*s++ - '0');
        }
        if (n == 0 || v < min || v > max)
                return false;
        *p = s;
        *ret = v;
        return true;
}

/* [+-]hh[:mm[:ss]] with hours up to max_hours; returns seconds. */
static bool
parse_hms(const char **p, int max_hours, int32_t *ret)
{
        const char *s = *p;
        int sign = 1, h, m = 0, sec = 0;

        if (*s == '+' || *s == '-')
                sign = *s++ == '-' ? -1 : 1;
        if (!parse_num(&s, 0, max_hours, &h))
                return false;
        if (*s == ':') {
                s++;
                if (!parse_num(&s, 0, 59, &m))
                        return false;
                if (*s == ':') {
                        s++;
                        if (!parse_num(&s, 0, 59, &sec))
                                return false;
                }
        }
        *p = s;
        *ret = sign * (h * 3600 + m * 60 + sec);
        return true;
}

static bool
parse_date(const char **p, tz_date *d)
{
        const char *s = *p;

        memset(d, 0, sizeof(*d));
        if (*s == 'J') {
                s++;
                d->kind = 'J';
                if (!parse_num(&s, 1, 365, &d->n))
                        return false;
        } else if (*s == 'M') {
                s++;
                d->kind = 'M';
                if (!parse_num(&s, 1, 12, &d->m) || *s++ != '.' || !parse_num(&s, 1, 5, &d->w) ||
                    *s++ != '.' || !parse_num(&s, 0, 6, &d->d))
                        return false;
        } else {
                d->kind = 'D';
                if (!parse_num(&s, 0, 365, &d->n))
                        return false;
        }
        d->secs = 2 * 3600;
        if (*s == '/') {
                s++;
                if (!parse_hms(&s, 167, &d->secs))
                        return false;
        }
        *p = s;
        return true;
}

static bool
parse_posix_tz(const char *s, tz_rule *r)
{
        int32_t off;

        memset(r, 0, sizeof(*r));
        if (!parse_abbr(&s) || !parse_hms(&s, 24, &off))
                return false;
        r->std_off = -off;
        r->dst_off = r->std_off;
        if (*s == '\0') {
                r->valid = true;
                return true;
        }
        if (!parse_abbr(&s))
                return false;
        r->has_dst = true;
        r->dst_off = r->std_off + 3600;
        if (*s && *s != ',') {
                if (!parse_hms(&s, 24, &off))
                        return false;
                r->dst_off = -off;
        }
        if (*s == '\0') {
                /* No rule: POSIX leaves it to the implementation; use the
                 * current US rule as glibc does. */
                r->start = (tz_date){ .kind = 'M', .m = 3, .w = 2, .d = 0, .secs = 7200 };
                r->end = (tz_date){ .kind = 'M', .m = 11, .w = 1, .d = 0, .secs = 7200 };
                r->valid = true;
                return true;
        }
        if (*s++ != ',' || !parse_date(&s, &r->start) || *s++ != ',' || !parse_date(&s, &r->end) || *s)
                return false;
        r->valid = true;
        return true;
}

/* Day number (days since 1970-01-01) of a rule date in a year. */
static int64_t
rule_day(const tz_date *d, int64_t year)
{
        int64_t jan1 = vs_days_from_civil(year, 1, 1), first, day;
        int wd, md;

        switch (d->kind) {
        case 'J':
                return jan1 + d->n - 1 + (is_leap(year) && d->n >= 60);
        case 'D':
                return jan1 + d->n;
        default:
                first = vs_days_from_civil(year, (unsigned)d->m, 1);
                wd = (int)(((first + 4) % 7 + 7) % 7);
                md = month_days(year, d->m);
                day = first + (d->d - wd + 7) % 7 + (int64_t)(d->w - 1) * 7;
                while (day >= first + md)
                        day -= 7;
                return day;
        }
}

typedef struct rule_change {
        int64_t at;
        int64_t order;
        bool dst;  /* state from `at` on */
} rule_change;

#define RULE_YEARS_BEFORE 2
#define RULE_YEARS_AFTER 2
#define RULE_NCHANGES (2 * (RULE_YEARS_BEFORE + RULE_YEARS_AFTER + 1))

/* The rule's raw changes for the years around t's UTC year, sorted by
 * instant; at equal instants a later year's change comes last (a rule with
 * DST all year ends DST on Dec 31 24:00 and starts it again at that instant). */
static size_t
rule_changes(const tz_rule *r, int64_t t, rule_change *out)
{
        int64_t y0;
        unsigned mm, dd;
        size_t n = 0;

        vs_civil_from_days(floor_div(t, 86400), &y0, &mm, &dd);
        for (int64_t y = y0 - RULE_YEARS_BEFORE; y <= y0 + RULE_YEARS_AFTER; y++) {
                int64_t s = rule_day(&r->start, y) * 86400 + r->start.secs - r->std_off;
                int64_t e = rule_day(&r->end, y) * 86400 + r->end.secs - r->dst_off;

                out[n++] = (rule_change){ s, y * 4 + (s <= e ? 0 : 1), true };
                out[n++] = (rule_change){ e, y * 4 + (s <= e ? 1 : 0), false };
        }
        for (size_t i = 1; i < n; i++) {
                rule_change c = out[i];
                size_t j = i;

                while (j > 0 && (out[j - 1].at > c.at || (out[j - 1].at == c.at && out[j - 1].order > c.order))) {
                        out[j] = out[j - 1];
                        j--;
                }
                out[j] = c;
        }
        return n;
}

/* DST state of the rule at instant t, given its sorted changes. */
static bool
rule_state(const rule_change *c, size_t n, int64_t t)
{
        bool dst = !c[0].dst; /* before the first change: the opposite of it */

        for (size_t i = 0; i < n && c[i].at <= t; i++)
                dst = c[i].dst;
        return dst;
}

static void
rule_lookup(const tz_rule *r, int64_t t, int32_t *off, int *isdst)
{
        rule_change c[RULE_NCHANGES];
        bool dst;

        if (!r->has_dst) {
                *off = r->std_off;
                *isdst = 0;
                return;
        }
        dst = rule_state(c, rule_changes(r, t, c), t);
        *off = dst ? r->dst_off : r->std_off;
        *isdst = dst;
}

/* ---- lookups ------------------------------------------------------------ */

/* Index of the last transition <= t, or -1. */
static ssize_t
trans_index(const vs_tz *tz, int64_t t)
{
        size_t lo = 0, hi = tz->ntrans;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (tz->trans[mid] <= t)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return (ssize_t)lo - 1;
}

static bool
in_rule_region(const vs_tz *tz, int64_t t)
{
        return tz->rule.valid && (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1]);
}

static void
lookup(const vs_tz *tz, int64_t t, int32_t *off, int *isdst)
{
        ssize_t i;

        t = clamp_t(t);
        if (in_rule_region(tz, t)) {
                rule_lookup(&tz->rule, t, off, isdst);
                return;
        }
        i = trans_index(tz, t);
        if (i < 0) {
                *off = tz->init_off;
                *isdst = tz->init_dst;
        } else {
                *off = tz->trans_off[i];
                *isdst = tz->trans_dst[i];
        }
}

int
vs_tz_offset(const vs_tz *tz, int64_t t)
{
        int32_t off;
        int dst;

        lookup(tz, t, &off, &dst);
        return off;
}

int64_t
vs_tz_next_transition(const vs_tz *tz, int64_t t)
{
        int32_t cur;
        rule_change c[RULE_NCHANGES];
        size_t n;

        if (t >= TZ_T_LIMIT)
                return INT64_MAX;
        t = clamp_t(t);
        cur = vs_tz_offset(tz, t);
        if (tz->ntrans > 0 && (!tz->rule.valid || t < tz->trans[tz->ntrans - 1])) {
                for (size_t i = (size_t)(trans_index(tz, t) + 1); i < tz->ntrans; i++)
                        if (vs_tz_offset(tz, tz->trans[i]) != cur)
                                return tz->trans[i];
                if (!tz->rule.valid)
                        return INT64_MAX;
                t = tz->trans[tz->ntrans - 1];
        }
        if (!tz->rule.valid || !tz->rule.has_dst || tz->rule.std_off == tz->rule.dst_off)
                return INT64_MAX;
        /* In the rule region.  Each window of years holds changes past t; a
         * rule with DST all year never changes, so give up after a few. */
        for (int k = 0; k < 4; k++) {
                n = rule_changes(&tz->rule, t, c);
                /* The window's last instant is not judged: a change paired
                 * with it at the same instant may lie past the window. */
                for (size_t i = 0; i < n && c[i].at < c[n - 1].at; i++) {
                        if (c[i].at <= t)
                                continue;
                        if (c[i + 1].at == c[i].at)
                                continue; /* several changes at one instant: judge the last */
                        if ((c[i].dst ? tz->rule.dst_off : tz->rule.std_off) != cur)
                                return c[i].at;
                }
                t = c[n - 1].at - 1;
                if (t >= TZ_T_LIMIT)
                        return INT64_MAX;
        }
        return INT64_MAX;
}

int64_t
vs_tz_prev_transition(const vs_tz *tz, int64_t t)
{
        rule_change c[RULE_NCHANGES];
        ssize_t i;

        if (t <= -TZ_T_LIMIT)
                return INT64_MIN;
        t = clamp_t(t);
        if (in_rule_region(tz, t) && tz->rule.has_dst) {
                int64_t floor_t = tz->ntrans ? tz->trans[tz->ntrans - 1] : INT64_MIN;
                size_t n = rule_changes(&tz->rule, t, c);

                for (size_t k = n; k-- > 0;) {
                        if (c[k].at > t || c[k].at <= floor_t)
                                continue;
                        if (vs_tz_offset(tz, c[k].at - 1) != vs_tz_offset(tz, c[k].at))
                                return c[k].at;
                }
                if (tz->ntrans == 0)
                        return INT64_MIN;
        }
        for (i = trans_index(tz, t); i >= 0; i--)
                if (vs_tz_offset(tz, tz->trans[i] - 1) != vs_tz_offset(tz, tz->trans[i]))
                        return tz->trans[i];
        return INT64_MIN;
}

void
vs_tz_localtime(const vs_tz *tz, int64_t t, vs_local_time *ret)
{
        int32_t off;
        int dst;
        int64_t lt, days, rem, y;
        unsigned m, d;

        t = clamp_t(t);
        lookup(tz, t, &off, &dst);
        lt = t + off;
        days = floor_div(lt, 86400);
        rem = lt - days * 86400;
        vs_civil_from_days(days, &y, &m, &d);
        ret->year = y;
        ret->month = (int)m;
        ret->day = (int)d;
        ret->hour = (int)(rem / 3600);
        ret->minute = (int)(rem % 3600 / 60);
        ret->second = (int)(rem % 60);
        ret->wday = (int)(((days + 4) % 7 + 7) % 7);
        ret->yday = (int)(days - vs_days_from_civil(y, 1, 1));
        ret->utc_offset = off;
        ret->is_dst = dst;
}

char *
vs_tz_format_local(const vs_tz *tz, int64_t t, char *buf, size_t len)
{
        vs_local_time lt;
        int off;
        char sign;

        vs_tz_localtime(tz, t, &lt);
        off = lt.utc_offset;
        sign = off < 0 ? '-' : '+';
        if (off < 0)
                off = -off;
        if (off % 60 == 0)
                snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", (long long)lt.year,
                         lt.month, lt.day, lt.hour, lt.minute, lt.second, sign, off / 3600, off % 3600 / 60);
        else /* local mean time of the 19th century: RFC 3339 has no seconds here */
                snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d:%02d", (long long)lt.year,
                         lt.month, lt.day, lt.hour, lt.minute, lt.second, sign, off / 3600,
                         off % 3600 / 60, off % 60);
        return buf;
}

const char *
vs_tz_name(const vs_tz *tz)
{
        return tz->name;
}

void
vs_tz_free(vs_tz *tz)
{
        if (!tz)
                return;
        free(tz->name);
        free(tz->trans);
        free(tz);
}

/* ---- loading ------------------------------------------------------------ */

static uint32_t
be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
be64(const uint8_t *p)
{
        return (uint64_t)be32(p) << 32 | be32(p + 4);
}

typedef struct tzif_counts {
        uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static bool
read_counts(const uint8_t *p, size_t avail, tzif_counts *c)
{
        if (avail < 44 || memcmp(p, "TZif", 4) != 0)
                return false;
        c->isut = be32(p + 20);
        c->isstd = be32(p + 24);
        c->leap = be32(p + 28);
        c->time = be32(p + 32);
        c->type = be32(p + 36);
        c->chars = be32(p + 40);
        return c->time <= 100000 && c->type >= 1 && c->type <= 256 && c->chars <= 100000 &&
               c->leap <= 100000 && (c->isut == 0 || c->isut == c->type) &&
               (c->isstd == 0 || c->isstd == c->type);
}

static size_t
block_size(const tzif_counts *c, size_t tsize)
{
        return c->time * tsize + c->time + c->type * 6 + c->chars + c->leap * (tsize + 4) + c->isstd + c->isut;
}

/* Parse a TZif image into tz (name not set).  Returns 0 or -EINVAL with a
 * reason in why. */
static int
parse_tzif(const uint8_t *buf, size_t len, vs_tz *tz, const char **why)
{
        tzif_counts c;
        const uint8_t *p, *types;
        size_t tsize = 4, off;
        int version;

        if (!read_counts(buf, len, &c)) {
                *why = "not a TZif file";
                return -EINVAL;
        }
        version = buf[4];
        off = 44;
        if (version >= '2') {
                off += block_size(&c, 4);
                if (off > len || !read_counts(buf + off, len - off, &c)) {
                        *why = "truncated TZif file";
                        return -EINVAL;
                }
                off += 44;
                tsize = 8;
        }
        if (block_size(&c, tsize) > len - off) {
                *why = "truncated TZif file";
                return -EINVAL;
        }
        if (c.leap > 0) {
                *why = "leap-second (\"right/\") zones are not supported";
                return -EINVAL;
        }
        p = buf + off;
        types = p + c.time * tsize + c.time;
        for (uint32_t i = 0; i < c.type; i++) {
                int32_t utoff = (int32_t)be32(types + 6 * i);

                if (utoff < -26 * 3600 || utoff > 26 * 3600 || types[6 * i + 4] > 1) {
                        *why = "bad local time type";
                        return -EINVAL;
                }
        }
        tz->init_off = (int32_t)be32(types);
        tz->init_dst = types[4];
        tz->ntrans = c.time;
        if (c.time > 0) {
                uint8_t *mem = malloc(c.time * (sizeof(int64_t) + sizeof(int32_t) + 1));

                if (!mem)
                        return -ENOMEM;
                tz->trans = (int64_t *)mem;
                tz->trans_off = (int32_t *)(mem + c.time * sizeof(int64_t));
                tz->trans_dst = mem + c.time * (sizeof(int64_t) + sizeof(int32_t));
                for (uint32_t i = 0; i < c.time; i++) {
                        uint8_t idx = p[c.time * tsize + i];

                        tz->trans[i] = tsize == 8 ? (int64_t)be64(p + i * 8) : (int64_t)(int32_t)be32(p + i * 4);
                        if (idx >= c.type || (i > 0 && tz->trans[i] <= tz->trans[i - 1])) {
                                *why = idx >= c.type ? "bad type index" : "transitions out of order";
                                return -EINVAL;
                        }
                        tz->trans_off[i] = (int32_t)be32(types + 6 * idx);
                        tz->trans_dst[i] = types[6 * idx + 4];
                }
        }
        off += block_size(&c, tsize);
        tz->rule.valid = false;
        if (version >= '2' && off < len) {
                const char *s = (const char *)buf + off, *e;
                char footer[256];

                if (*s != '\n' || !(e = memchr(s + 1, '\n', len - off - 1)) || (size_t)(e - s - 1) >= sizeof(footer)) {
                        *why = "bad TZif footer";
                        return -EINVAL;
                }
                memcpy(footer, s + 1, (size_t)(e - s - 1));
                footer[e - s - 1] = '\0';
                if (footer[0] && !parse_posix_tz(footer, &tz->rule)) {
                        *why = "unsupported TZ rule in TZif footer";
                        return -EINVAL;
                }
        }
        if (!tz->rule.valid) {
                /* No footer: the last type stays in force. */
                tz->rule.valid = true;
                tz->rule.has_dst = false;
                tz->rule.std_off = tz->ntrans ? tz->trans_off[tz->ntrans - 1] : tz->init_off;
                tz->rule.dst_off = tz->rule.std_off;
        }
        return 0;
}

static int
read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
        struct stat st;
        uint8_t *buf;
        size_t got = 0;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto out;
        }
        if (!S_ISREG(st.st_mode)) {
                r = -ENOENT;
                goto out;
        }
        if (st.st_size > TZIF_MAX_SIZE) {
                r = -EFBIG;
                goto out;
        }
        buf = malloc((size_t)st.st_size + 1);
        if (!buf) {
                r = -ENOMEM;
                goto out;
        }
        while (got < (size_t)st.st_size) {
                ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EIO;
                        free(buf);
                        goto out;
                }
                got += (size_t)n;
        }
        *ret = buf;
        *ret_len = got;
out:
        close(fd);
        return r;
}

static int
new_tz(const char *name, vs_tz **ret)
{
        vs_tz *tz = calloc(1, sizeof(*tz));

        if (!tz)
                return -ENOMEM;
        tz->name = strdup(name);
        if (!tz->name) {
                free(tz);
                return -ENOMEM;
        }
        *ret = tz;
        return 0;
}

static int
load_utc(const char *name, vs_tz **ret)
{
        vs_tz *tz;
        int r = new_tz(name, &tz);

        if (r < 0)
                return r;
        tz->rule.valid = true;
        *ret = tz;
        return 0;
}

static int
load_path(const char *path, const char *name, vs_tz **ret, vs_err *err)
{
        uint8_t *buf = NULL;
        size_t len = 0;
        const char *why = NULL;
        vs_tz *tz;
        int r;

        r = read_file(path, &buf, &len);
        if (r == -ENOENT || r == -ENOTDIR || r == -EISDIR)
                return vs_err_set(err, ENOENT, "timezone", "unknown time zone '%s'", name);
        if (r < 0)
                return vs_err_set(err, -r, "timezone", "cannot read %s: %s", path, strerror(-r));
        r = new_tz(name, &tz);
        if (r < 0) {
                free(buf);
                return vs_err_set(err, -r, "timezone", "out of memory");
        }
        r = parse_tzif(buf, len, tz, &why);
        free(buf);
        if (r < 0) {
                vs_tz_free(tz);
                if (r == -ENOMEM)
                        return vs_err_set(err, ENOMEM, "timezone", "out of memory");
                /* A file in the database that is not a zone ("zone.tab"...) is
                 * no zone name either. */
                return vs_err_set(err, ENOENT, "timezone", "time zone '%s': %s (%s)", name, why, path);
        }
        *ret = tz;
        return 0;
}

static bool
valid_name(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > 255 || name[0] == '/' || strstr(name, ".."))
                return false;
        for (const char *p = name; *p; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                      *p == '_' || *p == '+' || *p == '-' || *p == '/'))
                        return false;
        return name[n - 1] != '/' && !strstr(name, "//");
}

static int
load_name(const char *name, vs_tz **ret, vs_err *err)
{
        char path[sizeof(ZONEINFO_DIR) + 260];
        int r;

        if (!valid_name(name))
                return vs_err_set(err, ENOENT, "timezone", "invalid time zone name '%s'", name);
        snprintf(path, sizeof(path), "%s/%s", ZONEINFO_DIR, name);
        r = load_path(path, name, ret, err);
        if (r == -ENOENT && (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)) {
                /* No tzdata installed: UTC needs no database. */
                vs_err_clear(err);
                r = load_utc(name, ret);
                if (r < 0)
                        return vs_err_set(err, -r, "timezone", "out of memory");
        }
        return r;
}

static int
load_host(vs_tz **ret, vs_err *err)
{
        const char *env = getenv("TZ");
        char link[PATH_MAX];
        const char *name = "localtime";
        ssize_t n;
        int r;

        if (env) {
                const char *s = env[0] == ':' ? env + 1 : env;
                tz_rule rule;
                vs_tz *tz;

                if (*s == '\0')
                        return load_name("UTC", ret, err);
                if (s[0] == '/')
                        return load_path(s, s, ret, err);
                if (valid_name(s)) {
                        vs_err e;

                        r = load_name(s, ret, &e);
                        if (r != -ENOENT) {
                                if (r < 0 && err)
                                        *err = e;
                                return r;
                        }
                }
                if (!parse_posix_tz(s, &rule))
                        return vs_err_set(err, ENOENT, "timezone", "TZ='%s' is not a valid time zone", env);
                r = new_tz(s, &tz);
                if (r < 0)
                        return vs_err_set(err, -r, "timezone", "out of memory");
                tz->rule = rule;
                *ret = tz;
                return 0;
        }
        if (access("/etc/localtime", F_OK) < 0)
                return load_name("UTC", ret, err);
        n = readlink("/etc/localtime", link, sizeof(link) - 1);
        if (n > 0) {
                const char *z;

                link[n] = '\0';
                z = strstr(link, "zoneinfo/");
                if (z && valid_name(z + strlen("zoneinfo/")))
                        name = z + strlen("zoneinfo/");
        }
        return load_path("/etc/localtime", name, ret, err);
}

int
vs_tz_load(const char *name, vs_tz **ret, vs_err *err)
{
        if (!ret)
                return -EINVAL;
        *ret = NULL;
        return name ? load_name(name, ret, err) : load_host(ret, err);
}
