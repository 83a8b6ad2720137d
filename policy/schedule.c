/* Schedules: parsing and "when does it fire next" (see schedule.h).
 *
 * Thread safety: a vs_schedule is immutable after vs_schedule_parse and the
 * functions here keep no state besides their stack, so a schedule and the
 * vs_tz it is evaluated in (itself immutable, see tz.c) can be used from the
 * loop thread and any number of worker threads at once.  Nothing here reads
 * or sets TZ or calls tzset()/localtime(): wall times come from vs_tz only.
 *
 * How next() works without stepping minute by minute: the zone's timeline is
 * cut at its offset transitions into segments of constant offset, within
 * which wall time and instant differ by a constant.  For each segment
 * (starting with the one holding `after`) a calendar search finds the first
 * matching wall time in the segment's wall-time range, skipping whole
 * months, days and hours through the field bitmasks.  The DST rules:
 *   - hour field starting with '*' (a bare '*' or '*' with a step: Vixie
 *     cron's wildcard flag): every real instant whose wall time matches fires, so repeated
 *     wall times of a fall-back fire twice and the gap of a spring-forward
 *     fires nothing;
 *   - fixed hours: a wall time fires once, at its first occurrence: after a
 *     fall-back the repeated wall times are skipped (a "wall floor"), and the
 *     wall times a spring-forward skips fire at the transition instant, as
 *     one firing however many of them match.
 * The search is bounded: a schedule whose dates never exist ("0 0 30 2 *")
 * is recognised when parsed and never searched; any other schedule fires at
 * least once in every 400-year Gregorian cycle, which bounds the search. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "duration.h"
#include "schedule.h"
#include "timefmt.h"

/* Instants handled: +-2^50 s (35 million years), far from overflow. */
#define SCHED_T_LIMIT ((int64_t)1 << 50)
/* One Gregorian cycle (146097 days) plus slack. */
#define SCHED_HORIZON ((int64_t)(146097 + 800) * 86400)

typedef enum {
        SCHED_CRON,
        SCHED_EVERY,
} sched_kind;

struct vs_schedule {
        char *text;
        sched_kind kind;
        int64_t interval;      /* SCHED_EVERY: seconds, > 0 */
        uint64_t minutes;      /* bit n: minute n (0-59) */
        uint32_t hours;        /* bit n: hour n (0-23) */
        uint32_t doms;         /* bit n: day n (1-31) */
        uint32_t months;       /* bit n: month n (1-12) */
        uint32_t dows;         /* bit n: weekday n (0-6, 0 = Sunday) */
        bool hour_star, dom_star, dow_star;
        bool satisfiable;
};

typedef struct field_desc {
        const char *name;
        int lo, hi;
        const char *const *names; /* names[i] means value lo_name + i */
        int names_base;
} field_desc;

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const field_desc fields[5] = {
        { "minute", 0, 59, NULL, 0 },
        { "hour", 0, 23, NULL, 0 },
        { "day-of-month", 1, 31, NULL, 0 },
        { "month", 1, 12, month_names, 1 },
        { "day-of-week", 0, 7, dow_names, 0 },
};

static int
fail(char *errbuf, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
        va_list ap;

        if (errbuf && errlen) {
                va_start(ap, fmt);
                vsnprintf(errbuf, errlen, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

#define FFAIL(fmt, ...) \
        fail(errbuf, errlen, "field %d (%s): " fmt, idx + 1, fd->name, ##__VA_ARGS__)

/* One value of a field: a number or (month, weekday) a three-letter name. */
static int
parse_value(const char **p, int idx, int *ret, char *errbuf, size_t errlen)
{
        const field_desc *fd = &fields[idx];
        const char *s = *p;
        char word[16];
        size_t n = 0;

        if (*s >= '0' && *s <= '9') {
                long v = 0;

                while (*s >= '0' && *s <= '9') {
                        if (v < 1000000)
                                v = v * 10 + (*s - '0');
                        s++;
                }
                if (v < fd->lo || v > fd->hi)
                        return FFAIL("%ld out of range %d-%d", v, fd->lo, fd->hi);
                *p = s;
                *ret = (int)v;
                return 0;
        }
        while (isalpha((unsigned char)s[n]) && n + 1 < sizeof(word)) {
                word[n] = (char)tolower((unsigned char)s[n]);
                n++;
        }
        word[n] = '\0';
        if (n == 0) {
                if (*s == '\0')
                        return FFAIL("missing value");
                return FFAIL("unexpected '%c'", *s);
        }
        if (!fd->names)
                return FFAIL("'%s' is not a number", word);
        for (int i = 0; fd->names[i]; i++)
                if (strcmp(word, fd->names[i]) == 0) {
                        *p = s + n;
                        *ret = fd->names_base + i;
                        return 0;
                }
        return FFAIL("unknown name '%s' (expected %s-%s)", word, fd->names[0],
                     fd->names[idx == 3 ? 11 : 6]);
}

static int
parse_field(const char *text, int idx, uint64_t *ret, bool *star, char *errbuf, size_t errlen)
{
        const field_desc *fd = &fields[idx];
        const char *p = text;
        uint64_t bits = 0;
        int r;

        *star = text[0] == '*';
        for (;;) {
                int a, b, step = 1;
                bool range = false;

                if (*p == ',' || *p == '\0')
                        return FFAIL("empty list element");
                if (*p == '*') {
                        a = fd->lo;
                        b = fd->hi;
                        range = true;
                        p++;
                } else {
                        r = parse_value(&p, idx, &a, errbuf, errlen);
                        if (r < 0)
                                return r;
                        b = a;
                        if (*p == '-') {
                                p++;
                                r = parse_value(&p, idx, &b, errbuf, errlen);
                                if (r < 0)
                                        return r;
                                if (idx == 4 && b == 0 && a > 0)
                                        b = 7; /* "fri-sun": Sunday ends a week */
                                if (b < a)
                                        return FFAIL("range %d-%d is reversed", a, b);
                                range = true;
                        }
                }
                if (*p == '/') {
                        p++;
                        if (!range)
                                return FFAIL("a step needs a range or '*' (write %d-%d/N)", a, fd->hi);
                        if (*p < '0' || *p > '9')
                                return FFAIL("step must be a number");
                        step = 0;
                        while (*p >= '0' && *p <= '9') {
                                if (step < 1000000)
                                        step = step * 10 + (*p - '0');
                                p++;
                        }
                        if (step == 0)
                                return FFAIL("step 0 is not allowed");
                        if (step > fd->hi)
                                return FFAIL("step %d out of range 1-%d", step, fd->hi);
                }
                for (int v = a; v <= b; v += step)
                        bits |= (uint64_t)1 << v;
                if (*p == '\0')
                        break;
                if (*p != ',')
                        return FFAIL("unexpected '%c'", *p);
                p++;
        }
        if (idx == 4 && (bits & (1u << 7))) /* 7 is Sunday too */
                bits = (bits & 0x7f) | 1;
        *ret = bits;
        return 0;
}

/* Does any (month, day) the fields allow exist?  Weekdays never make a
 * schedule impossible: every date that exists falls on every weekday within
 * a 400-year cycle. */
static bool
cron_satisfiable(const vs_schedule *s)
{
        static const int maxdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

        if (!s->dom_star && !s->dow_star)
                return s->months != 0; /* any weekday of any allowed month */
        for (int m = 1; m <= 12; m++)
                if ((s->months & (1u << m)) && (s->doms & (((uint32_t)2 << maxdays[m - 1]) - 2)))
                        return true;
        return false;
}

static const struct {
        const char *name;
        const char *cron;
} shortcuts[] = {
        { "hourly", "0 * * * *" },  { "daily", "0 0 * * *" },  { "weekly", "0 0 * * 1" },
        { "monthly", "0 0 1 * *" }, { "yearly", "0 0 1 1 *" }, { "annually", "0 0 1 1 *" },
};

#define MAX_TOKENS 8

static size_t
tokenize(char *buf, char **tok)
{
        size_t n = 0;
        char *p = buf;

        for (;;) {
                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p)
                        return n;
                if (n < MAX_TOKENS)
                        tok[n] = p;
                n++;
                while (*p && *p != ' ' && *p != '\t')
                        p++;
                if (*p)
                        *p++ = '\0';
        }
}

static int
parse_cron(vs_schedule *s, char **tok, char *errbuf, size_t errlen)
{
        uint64_t bits[5];
        bool star[5];
        int r;

        for (int i = 0; i < 5; i++) {
                r = parse_field(tok[i], i, &bits[i], &star[i], errbuf, errlen);
                if (r < 0)
                        return r;
        }
        s->kind = SCHED_CRON;
        s->minutes = bits[0];
        s->hours = (uint32_t)bits[1];
        s->doms = (uint32_t)bits[2];
        s->months = (uint32_t)bits[3];
        s->dows = (uint32_t)bits[4];
        s->hour_star = star[1];
        s->dom_star = star[2];
        s->dow_star = star[4];
        s->satisfiable = cron_satisfiable(s);
        return 0;
}

int
vs_schedule_parse(const char *text, vs_schedule **ret, char *errbuf, size_t errlen)
{
        vs_schedule *s;
        char *buf, *tok[MAX_TOKENS], *start, *end;
        size_t n;
        int r = 0;

        if (errbuf && errlen)
                errbuf[0] = '\0';
        if (!ret)
                return -EINVAL;
        *ret = NULL;
        if (!text)
                return fail(errbuf, errlen, "empty schedule");
        buf = strdup(text);
        s = calloc(1, sizeof(*s));
        if (!buf || !s) {
                free(buf);
                free(s);
                fail(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        /* Keep the text as written, less surrounding blanks. */
        start = buf;
        while (isspace((unsigned char)*start))
                start++;
        end = start + strlen(start);
        while (end > start && isspace((unsigned char)end[-1]))
                *--end = '\0';
        s->text = strdup(start);
        if (!s->text) {
                r = -ENOMEM;
                fail(errbuf, errlen, "out of memory");
                goto out;
        }
        for (char *p = start; *p; p++)
                if (*p == '\n' || *p == '\r' || *p == '\v' || *p == '\f')
                        *p = ' ';
        n = tokenize(start, tok);
        if (n == 0) {
                r = fail(errbuf, errlen, "empty schedule");
        } else if (strcasecmp(tok[0], "every") == 0) {
                int64_t iv;

                if (n == 1)
                        r = fail(errbuf, errlen, "'every' needs an interval (e.g. 'every 15m')");
                else if (n > 2)
                        r = fail(errbuf, errlen, "'every' takes one interval without spaces (e.g. 'every 1h30m')");
                else if ((r = vs_duration_parse(tok[1], &iv)) == -ERANGE)
                        r = fail(errbuf, errlen, "interval '%s' is too large", tok[1]);
                else if (r < 0)
                        r = fail(errbuf, errlen,
                                 "invalid interval '%s' (a number with a unit s, m, h, d or w, e.g. 15m or 1h30m)",
                                 tok[1]);
                else if (iv <= 0)
                        r = fail(errbuf, errlen, "interval must be greater than zero");
                else {
                        s->kind = SCHED_EVERY;
                        s->interval = iv;
                        s->satisfiable = true;
                }
        } else if (n == 1) {
                const char *w = tok[0][0] == '@' ? tok[0] + 1 : tok[0];
                size_t i;

                for (i = 0; i < VS_ELEMENTSOF(shortcuts); i++)
                        if (strcasecmp(w, shortcuts[i].name) == 0)
                                break;
                if (i == VS_ELEMENTSOF(shortcuts)) {
                        r = fail(errbuf, errlen,
                                 "unknown schedule '%s' (expected hourly, daily, weekly, monthly, yearly, "
                                 "their @ forms, 'every DURATION' or 5 cron fields)",
                                 tok[0]);
                } else {
                        char sc[32], *stok[MAX_TOKENS];

                        snprintf(sc, sizeof(sc), "%s", shortcuts[i].cron);
                        tokenize(sc, stok);
                        r = parse_cron(s, stok, errbuf, errlen);
                }
        } else if (n != 5) {
                r = fail(errbuf, errlen,
                         "expected 5 cron fields (minute hour day-of-month month day-of-week), got %zu", n);
        } else {
                r = parse_cron(s, tok, errbuf, errlen);
        }
out:
        free(buf);
        if (r < 0) {
                vs_schedule_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

void
vs_schedule_free(vs_schedule *s)
{
        if (!s)
                return;
        free(s->text);
        free(s);
}

const char *
vs_schedule_text(const vs_schedule *s)
{
        return s->text;
}

/* ---- evaluation --------------------------------------------------------- */

static int64_t
floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;

        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool
day_matches(const vs_schedule *s, unsigned d, int64_t days)
{
        int wday = (int)(((days + 4) % 7 + 7) % 7);
        bool dom = s->doms & (1u << d), dow = s->dows & (1u << wday);

        /* Vixie cron: when both fields are restricted, either may match. */
        return (s->dom_star || s->dow_star) ? dom && dow : dom || dow;
}

/* The smallest wall time W >= lb (local seconds since the epoch, on a whole
 * minute) that the cron fields match, or INT64_MAX if there is none below
 * ub. */
static int64_t
cal_next(const vs_schedule *s, int64_t lb, int64_t ub)
{
        int64_t w = floor_div(lb + 59, 60) * 60, days, y;
        unsigned m, d;
        int h, mi;

        if (lb >= ub)
                return INT64_MAX;
        days = floor_div(w, 86400);
        h = (int)((w - days * 86400) / 3600);
        mi = (int)((w - days * 86400) % 3600 / 60);
        vs_civil_from_days(days, &y, &m, &d);
        for (;;) {
                if (days * 86400 >= ub)
                        return INT64_MAX;
                if (!(s->months & (1u << m))) {
                        /* Jump to the first day of the next allowed month. */
                        uint32_t later = s->months & ~((2u << m) - 1);

                        if (later) {
                                m = (unsigned)__builtin_ctz(later);
                        } else {
                                y++;
                                m = (unsigned)__builtin_ctz(s->months);
                        }
                        d = 1;
                        days = vs_days_from_civil(y, m, 1);
                        h = mi = 0;
                        continue;
                }
                if (day_matches(s, d, days)) {
                        uint32_t hrs = s->hours & ~((1u << h) - 1);

                        while (hrs) {
                                int hh = __builtin_ctz(hrs);
                                uint64_t mins = s->minutes & (hh == h ? ~(((uint64_t)1 << mi) - 1) : ~(uint64_t)0);

                                if (mins) {
                                        int64_t r = days * 86400 + hh * 3600 + __builtin_ctzll(mins) * 60;

                                        return r < ub ? r : INT64_MAX;
                                }
                                hrs &= hrs - 1;
                        }
                }
                days++;
                h = mi = 0;
                vs_civil_from_days(days, &y, &m, &d);
        }
}

/* The highest wall time reached before instant lo, plus one second, as far
 * as fall-backs shortly before lo can raise it above lo's own wall time;
 * INT64_MIN if none does. */
static int64_t
initial_wall_floor(const vs_tz *tz, int64_t lo)
{
        int64_t floor = INT64_MIN, p = lo;

        for (int k = 0; k < 4; k++) {
                int64_t tp = vs_tz_prev_transition(tz, p);
                int64_t before;

                if (tp == INT64_MIN || tp < lo - 7 * 86400)
                        break;
                before = vs_tz_offset(tz, tp - 1);
                if (tp + before > floor)
                        floor = tp + before;
                p = tp - 1;
        }
        return floor;
}

static int64_t
cron_next(const vs_schedule *s, const vs_tz *tz, int64_t after)
{
        bool fixed = !s->hour_star, first = true;
        int64_t lo = after + 1, limit = lo + SCHED_HORIZON, floor = INT64_MIN;

        if (!tz) {
                int64_t w = cal_next(s, lo, limit);

                return w;
        }
        if (fixed)
                floor = initial_wall_floor(tz, lo);
        for (;;) {
                int64_t o = vs_tz_offset(tz, lo), t, lb, w;

                if (lo >= limit)
                        return INT64_MAX;
                /* A spring-forward at lo: its skipped wall times fire now. */
                if (fixed && (!first || vs_tz_prev_transition(tz, lo) == lo)) {
                        int64_t op = vs_tz_offset(tz, lo - 1);

                        if (o > op) {
                                lb = lo + op > floor ? lo + op : floor;
                                if (cal_next(s, lb, lo + o) != INT64_MAX)
                                        return lo;
                        }
                }
                first = false;
                t = vs_tz_next_transition(tz, lo);
                lb = lo + o;
                if (fixed && floor > lb)
                        lb = floor;
                w = cal_next(s, lb, t == INT64_MAX || t > limit ? limit + o : t + o);
                if (w != INT64_MAX)
                        return w - o;
                if (t == INT64_MAX || t >= limit)
                        return INT64_MAX;
                if (fixed && vs_tz_offset(tz, t) < o && t + o > floor)
                        floor = t + o; /* a fall-back: wall times below t + o were seen */
                lo = t;
        }
}

int64_t
vs_schedule_next(const vs_schedule *s, const vs_tz *tz, int64_t after)
{
        if (!s || !s->satisfiable || after >= SCHED_T_LIMIT)
                return INT64_MAX;
        if (after < -SCHED_T_LIMIT)
                after = -SCHED_T_LIMIT;
        if (s->kind == SCHED_EVERY) {
                int64_t r;

                if (__builtin_mul_overflow(floor_div(after, s->interval) + 1, s->interval, &r))
                        return INT64_MAX;
                return r;
        }
        return cron_next(s, tz, after);
}

int64_t
vs_schedule_period(const vs_schedule *s, const vs_tz *tz, int64_t at)
{
        int64_t a = vs_schedule_next(s, tz, at), b;

        if (a == INT64_MAX)
                return INT64_MAX;
        b = vs_schedule_next(s, tz, a);
        return b == INT64_MAX ? INT64_MAX : b - a;
}
