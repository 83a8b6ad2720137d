/* Snapshot name and description templates: expansion and static checks.
 *
 * Time conversions are formatted here from a vs_local_time rather than by
 * strftime(): strftime's output depends on the locale and, for %z/%Z/%s, on
 * the process-wide TZ, which the daemon never touches.  {utc:...} is broken
 * down with the civil-date helpers from util/, {local:...} by vs_tz_localtime
 * in the config's zone.  The set of conversions is deliberately small and
 * each one has a known widest output, which is what lets `virtsnap check`
 * prove that a name template always yields a valid snapshot name. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "template.h"
#include "timefmt.h"

/* Widest outputs assume instants from 1970 to 9999. */
static const struct conv {
        char c;
        unsigned char width;
        bool name_safe;
} convs[] = {
        { 'Y', 4, true },  { 'C', 2, true },  { 'y', 2, true },  { 'G', 4, true },  { 'g', 2, true },
        { 'm', 2, true },  { 'b', 3, true },  { 'h', 3, true },  { 'B', 9, true },  { 'd', 2, true },
        { 'j', 3, true },  { 'a', 3, true },  { 'A', 9, true },  { 'u', 1, true },  { 'w', 1, true },
        { 'U', 2, true },  { 'W', 2, true },  { 'V', 2, true },  { 'H', 2, true },  { 'I', 2, true },
        { 'p', 2, true },  { 'M', 2, true },  { 'S', 2, true },  { 's', 12, true }, { 'F', 10, true },
        { 'e', 2, false }, { 'k', 2, false }, { 'l', 2, false }, { 'T', 8, false }, { 'R', 5, false },
        { 'D', 8, false }, { 'z', 5, false }, { '%', 1, false },
};

#define EPOCH_WIDTH 12

static const char *const month_names[] = {
        "January", "February", "March",     "April",   "May",      "June",
        "July",    "August",   "September", "October", "November", "December",
};
static const char *const day_names[] = {
        "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};

static const struct conv *
find_conv(char c)
{
        for (size_t i = 0; i < sizeof(convs) / sizeof(convs[0]); i++)
                if (convs[i].c == c)
                        return &convs[i];
        return NULL;
}

static bool
name_char(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '-';
}

bool
vs_snapshot_name_valid(const char *s)
{
        size_t n;

        if (!s || !*s || *s == '.')
                return false;
        for (n = 0; s[n]; n++)
                if (n >= VS_SNAPSHOT_NAME_MAX || !name_char(s[n]))
                        return false;
        return true;
}

/* ---- tokens ---- */

typedef enum tok_kind {
        TOK_END,
        TOK_CHAR,        /* one literal byte: c */
        TOK_PLACEHOLDER, /* {name} or {name:fmt}: name, fmt (NULL if none) */
} tok_kind;

typedef struct token {
        tok_kind kind;
        char c;
        char name[16];
        const char *fmt; /* points into the template; fmt_len bytes */
        size_t fmt_len;
        bool has_fmt;
} token;

/* 0 or -EINVAL with a message. */
static int
next_token(const char **pp, token *t, char *errbuf, size_t errlen)
{
        const char *p = *pp, *close, *colon;
        size_t nlen;

        memset(t, 0, sizeof(*t));
        if (!*p) {
                t->kind = TOK_END;
                return 0;
        }
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
                t->kind = TOK_CHAR;
                t->c = p[0];
                *pp = p + 2;
                return 0;
        }
        if (p[0] == '}') {
                snprintf(errbuf, errlen, "unmatched '}' (write '}}' for a literal brace)");
                return -EINVAL;
        }
        if (p[0] != '{') {
                t->kind = TOK_CHAR;
                t->c = p[0];
                *pp = p + 1;
                return 0;
        }
        close = strchr(p, '}');
        if (!close) {
                snprintf(errbuf, errlen, "unterminated '{' (write '{{' for a literal brace)");
                return -EINVAL;
        }
        if (memchr(p + 1, '{', (size_t)(close - p - 1))) {
                snprintf(errbuf, errlen, "'{' inside a placeholder");
                return -EINVAL;
        }
        colon = memchr(p + 1, ':', (size_t)(close - p - 1));
        nlen = (size_t)((colon ? colon : close) - (p + 1));
        if (nlen == 0 || nlen >= sizeof(t->name)) {
                snprintf(errbuf, errlen, "unknown placeholder '%.*s'", (int)(close - p + 1 > 40 ? 40 : close - p + 1), p);
                return -EINVAL;
        }
        memcpy(t->name, p + 1, nlen);
        t->name[nlen] = '\0';
        if (colon) {
                t->has_fmt = true;
                t->fmt = colon + 1;
                t->fmt_len = (size_t)(close - colon - 1);
        }
        t->kind = TOK_PLACEHOLDER;
        *pp = close + 1;
        return 0;
}

/* ---- output buffer ---- */

typedef struct obuf {
        char *s;
        size_t len, cap;
        int err;
} obuf;

static void
put(obuf *b, const char *s, size_t n)
{
        if (b->err)
                return;
        if (b->len + n > VS_TEMPLATE_MAX) {
                b->err = -ENAMETOOLONG;
                return;
        }
        if (b->len + n + 1 > b->cap) {
                size_t ncap = b->cap ? b->cap : 64;
                char *ns;

                while (ncap < b->len + n + 1)
                        ncap *= 2;
                ns = realloc(b->s, ncap);
                if (!ns) {
                        b->err = -ENOMEM;
                        return;
                }
                b->s = ns;
                b->cap = ncap;
        }
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = '\0';
}

static void
putf(obuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
putf(obuf *b, const char *fmt, ...)
{
        char tmp[64];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n > 0)
                put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* ---- time formatting ---- */

static int64_t
floor_div(int64_t a, int64_t b)
{
        return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void
utc_broken_down(int64_t t, vs_local_time *lt)
{
        int64_t days = floor_div(t, 86400), secs = t - days * 86400, y;
        unsigned m, d;

        vs_civil_from_days(days, &y, &m, &d);
        memset(lt, 0, sizeof(*lt));
        lt->year = y;
        lt->month = (int)m;
        lt->day = (int)d;
        lt->hour = (int)(secs / 3600);
        lt->minute = (int)(secs / 60 % 60);
        lt->second = (int)(secs % 60);
        lt->wday = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
        lt->yday = (int)(days - vs_days_from_civil(y, 1, 1));
}

static int
iso_weeks_in_year(int64_t y)
{
        int64_t p = (y + floor_div(y, 4) - floor_div(y, 100) + floor_div(y, 400)) % 7;
        int64_t q = ((y - 1) + floor_div(y - 1, 4) - floor_div(y - 1, 100) + floor_div(y - 1, 400)) % 7;

        return (p == 4 || p == -3 || q == 3 || q == -4) ? 53 : 52;
}

static void
iso_week(const vs_local_time *lt, int64_t *year, int *week)
{
        int wd = lt->wday == 0 ? 7 : lt->wday;
        int w = (lt->yday + 1 - wd + 10) / 7;
        int64_t y = lt->year;

        if (w < 1) {
                y--;
                w = iso_weeks_in_year(y);
        } else if (w > iso_weeks_in_year(y)) {
                y++;
                w = 1;
        }
        *year = y;
        *week = w;
}

static int
format_time(obuf *b, const char *fmt, size_t len, const vs_local_time *lt, int64_t t)
{
        for (size_t i = 0; i < len; i++) {
                int64_t gy;
                int gw, h12;

                if (fmt[i] != '%') {
                        put(b, &fmt[i], 1);
                        continue;
                }
                if (++i == len)
                        return -EINVAL;
                h12 = lt->hour % 12 == 0 ? 12 : lt->hour % 12;
                switch (fmt[i]) {
                case 'Y': putf(b, "%" PRId64, lt->year); break;
                case 'C': putf(b, "%02" PRId64, floor_div(lt->year, 100)); break;
                case 'y': putf(b, "%02d", (int)(((lt->year % 100) + 100) % 100)); break;
                case 'G': iso_week(lt, &gy, &gw); putf(b, "%" PRId64, gy); break;
                case 'g': iso_week(lt, &gy, &gw); putf(b, "%02d", (int)(((gy % 100) + 100) % 100)); break;
                case 'V': iso_week(lt, &gy, &gw); putf(b, "%02d", gw); break;
                case 'm': putf(b, "%02d", lt->month); break;
                case 'b':
                case 'h': putf(b, "%.3s", month_names[(lt->month + 11) % 12]); break;
                case 'B': putf(b, "%s", month_names[(lt->month + 11) % 12]); break;
                case 'd': putf(b, "%02d", lt->day); break;
                case 'e': putf(b, "%2d", lt->day); break;
                case 'j': putf(b, "%03d", lt->yday + 1); break;
                case 'a': putf(b, "%.3s", day_names[lt->wday % 7]); break;
                case 'A': putf(b, "%s", day_names[lt->wday % 7]); break;
                case 'u': putf(b, "%d", lt->wday == 0 ? 7 : lt->wday); break;
                case 'w': putf(b, "%d", lt->wday); break;
                case 'U': putf(b, "%02d", (lt->yday + 7 - lt->wday) / 7); break;
                case 'W': putf(b, "%02d", (lt->yday + 7 - (lt->wday + 6) % 7) / 7); break;
                case 'H': putf(b, "%02d", lt->hour); break;
                case 'k': putf(b, "%2d", lt->hour); break;
                case 'I': putf(b, "%02d", h12); break;
                case 'l': putf(b, "%2d", h12); break;
                case 'p': put(b, lt->hour < 12 ? "AM" : "PM", 2); break;
                case 'M': putf(b, "%02d", lt->minute); break;
                case 'S': putf(b, "%02d", lt->second); break;
                case 's': putf(b, "%" PRId64, t); break;
                case 'F': putf(b, "%" PRId64 "-%02d-%02d", lt->year, lt->month, lt->day); break;
                case 'T': putf(b, "%02d:%02d:%02d", lt->hour, lt->minute, lt->second); break;
                case 'R': putf(b, "%02d:%02d", lt->hour, lt->minute); break;
                case 'D': putf(b, "%02d/%02d/%02d", lt->month, lt->day, (int)(((lt->year % 100) + 100) % 100)); break;
                case 'z': {
                        int off = lt->utc_offset, a = off < 0 ? -off : off;

                        putf(b, "%c%02d%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
                        break;
                }
                case '%': put(b, "%", 1); break;
                default: return -EINVAL;
                }
        }
        return 0;
}

int
vs_template_expand(const char *tmpl, const char *policy, const char *domain, const vs_tz *tz, int64_t t,
                   char **ret)
{
        obuf b = { 0 };
        const char *p = tmpl;
        char err[128];
        token tok;
        int r = 0;

        if (!tmpl)
                return -EINVAL;
        put(&b, "", 0);
        for (;;) {
                r = next_token(&p, &tok, err, sizeof(err));
                if (r < 0 || tok.kind == TOK_END)
                        break;
                if (tok.kind == TOK_CHAR) {
                        put(&b, &tok.c, 1);
                } else if (strcmp(tok.name, "policy") == 0 && !tok.has_fmt && policy) {
                        put(&b, policy, strlen(policy));
                } else if (strcmp(tok.name, "domain") == 0 && !tok.has_fmt && domain) {
                        put(&b, domain, strlen(domain));
                } else if (strcmp(tok.name, "epoch") == 0 && !tok.has_fmt) {
                        putf(&b, "%" PRId64, t);
                } else if (strcmp(tok.name, "utc") == 0 && tok.has_fmt) {
                        vs_local_time lt;

                        utc_broken_down(t, &lt);
                        r = format_time(&b, tok.fmt, tok.fmt_len, &lt, t);
                } else if (strcmp(tok.name, "local") == 0 && tok.has_fmt && tz) {
                        vs_local_time lt;

                        vs_tz_localtime(tz, t, &lt);
                        r = format_time(&b, tok.fmt, tok.fmt_len, &lt, t);
                } else {
                        r = -EINVAL;
                }
                if (r < 0 || b.err)
                        break;
        }
        if (r == 0)
                r = b.err;
        if (r < 0) {
                free(b.s);
                return r;
        }
        *ret = b.s;
        return 0;
}

/* ---- static checks ---- */

static void
describe_char(char c, char *buf, size_t len)
{
        if (c > ' ' && c < 0x7f)
                snprintf(buf, len, "'%c'", c);
        else if (c == ' ')
                snprintf(buf, len, "' ' (space)");
        else
                snprintf(buf, len, "byte 0x%02X", (unsigned char)c);
}

static int
check_format(const token *tok, vs_tmpl_kind kind, size_t *width, char *errbuf, size_t errlen)
{
        char what[32];

        if (tok->fmt_len == 0) {
                snprintf(errbuf, errlen, "empty format in {%s:}", tok->name);
                return -EINVAL;
        }
        for (size_t i = 0; i < tok->fmt_len; i++) {
                char c = tok->fmt[i];
                const struct conv *cv;

                if (c != '%') {
                        if (kind == VS_TMPL_NAME && !name_char(c)) {
                                describe_char(c, what, sizeof(what));
                                snprintf(errbuf, errlen,
                                         "%s is not allowed in snapshot names (allowed: A-Z a-z 0-9 . _ -)", what);
                                return -EINVAL;
                        }
                        (*width)++;
                        continue;
                }
                if (++i == tok->fmt_len) {
                        snprintf(errbuf, errlen, "format of {%s:...} ends with a lone '%%'", tok->name);
                        return -EINVAL;
                }
                cv = find_conv(tok->fmt[i]);
                if (!cv) {
                        snprintf(errbuf, errlen, "unsupported conversion '%%%c' in {%s:...}",
                                 tok->fmt[i] > ' ' && tok->fmt[i] < 0x7f ? tok->fmt[i] : '?', tok->name);
                        return -EINVAL;
                }
                if (kind == VS_TMPL_NAME && !cv->name_safe) {
                        snprintf(errbuf, errlen,
                                 "conversion '%%%c' can produce characters not allowed in snapshot names "
                                 "(allowed: A-Z a-z 0-9 . _ -)",
                                 cv->c);
                        return -EINVAL;
                }
                *width += cv->width;
        }
        return 0;
}

int
vs__template_check(const char *tmpl, vs_tmpl_kind kind, const char *policy, char *errbuf, size_t errlen)
{
        const char *p = tmpl;
        size_t width = 0;
        bool varies = false, first = true;
        char what[32];
        token tok;
        int r;

        for (;; first = false) {
                r = next_token(&p, &tok, errbuf, errlen);
                if (r < 0)
                        return r;
                if (tok.kind == TOK_END)
                        break;
                if (tok.kind == TOK_CHAR) {
                        if (kind == VS_TMPL_NAME && !name_char(tok.c)) {
                                describe_char(tok.c, what, sizeof(what));
                                snprintf(errbuf, errlen,
                                         "%s is not allowed in snapshot names (allowed: A-Z a-z 0-9 . _ -)", what);
                                return -EINVAL;
                        }
                        if (kind == VS_TMPL_NAME && first && tok.c == '.') {
                                snprintf(errbuf, errlen, "snapshot names must not start with '.'");
                                return -EINVAL;
                        }
                        width++;
                        continue;
                }
                if ((strcmp(tok.name, "policy") == 0 || strcmp(tok.name, "domain") == 0 ||
                     strcmp(tok.name, "snapshot") == 0 ||
                     strcmp(tok.name, "epoch") == 0) &&
                    tok.has_fmt) {
                        snprintf(errbuf, errlen, "{%s} takes no format", tok.name);
                        return -EINVAL;
                }
                if (strcmp(tok.name, "policy") == 0) {
                        if (kind == VS_TMPL_NAME && first && policy && policy[0] == '.') {
                                snprintf(errbuf, errlen, "snapshot names must not start with '.' (policy name '%s')",
                                         policy);
                                return -EINVAL;
                        }
                        width += policy ? strlen(policy) : 32;
                } else if (strcmp(tok.name, "domain") == 0) {
                        if (kind == VS_TMPL_NAME) {
                                snprintf(errbuf, errlen,
                                         "{domain} is not allowed in snapshot names (a domain name may contain any "
                                         "character, and snapshot names are per domain already)");
                                return -EINVAL;
                        }
                } else if (strcmp(tok.name, "epoch") == 0) {
                        width += EPOCH_WIDTH;
                        varies = true;
                } else if (strcmp(tok.name, "utc") == 0 || strcmp(tok.name, "local") == 0) {
                        if (!tok.has_fmt) {
                                snprintf(errbuf, errlen, "{%s} needs a format, e.g. {%s:%%Y%%m%%d}", tok.name,
                                         tok.name);
                                return -EINVAL;
                        }
                        r = check_format(&tok, kind, &width, errbuf, errlen);
                        if (r < 0)
                                return r;
                        varies = true;
                } else if (kind == VS_TMPL_HOOK && strcmp(tok.name, "snapshot") == 0) {
                        width += VS_SNAPSHOT_NAME_MAX;
                } else {
                        snprintf(errbuf, errlen,
                                 "unknown placeholder {%s} (known: {policy}, {domain}, {utc:FORMAT}, "
                                 "{local:FORMAT}, {epoch}%s)",
                                 tok.name, kind == VS_TMPL_HOOK ? ", {snapshot}" : "");
                        return -EINVAL;
                }
        }
        if (kind != VS_TMPL_NAME)
                return 0;
        if (width == 0) {
                snprintf(errbuf, errlen, "empty snapshot name template");
                return -EINVAL;
        }
        if (width > VS_SNAPSHOT_NAME_MAX) {
                snprintf(errbuf, errlen, "snapshot names from this template can be %zu characters long (at most %d allowed)",
                         width, VS_SNAPSHOT_NAME_MAX);
                return -EINVAL;
        }
        if (!varies) {
                snprintf(errbuf, errlen,
                         "snapshot name template has no time placeholder ({utc:...}, {local:...} or {epoch}): "
                         "every snapshot would get the same name");
                return -EINVAL;
        }
        return 0;
}
