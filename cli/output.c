/* The listing formats of output.h.  A table keeps every cell until it is
 * printed, because an aligned table needs the widest cell of each column;
 * the listings are bounded by --limit or by the number of series.  Text
 * cells in the table format have control characters escaped so that a
 * hostile domain name or libvirt message cannot break the layout or the
 * terminal; JSON and CSV carry them unchanged (escaped or quoted by their
 * own rules). */
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "output.h"
#include "timefmt.h"

typedef struct cell {
        bool set;
        char *text;
        int64_t num;
} cell;

struct vs_table {
        const vs_column *cols;
        size_t ncols;
        cell *cells; /* rows * ncols */
        size_t nrows, cap;
};

int
vs_format_from_string(const char *s)
{
        if (!s)
                return -1;
        if (strcmp(s, "table") == 0)
                return VS_FORMAT_TABLE;
        if (strcmp(s, "json") == 0)
                return VS_FORMAT_JSON;
        if (strcmp(s, "csv") == 0)
                return VS_FORMAT_CSV;
        return -1;
}

vs_table *
vs_table_new(const vs_column *cols, size_t n)
{
        vs_table *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        t->cols = cols;
        t->ncols = n;
        return t;
}

void
vs_table_free(vs_table *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->nrows * t->ncols; i++)
                free(t->cells[i].text);
        free(t->cells);
        free(t);
}

size_t
vs_table_rows(const vs_table *t)
{
        return t->nrows;
}

int
vs_table_add_row(vs_table *t)
{
        if (t->nrows == t->cap) {
                size_t ncap = t->cap ? 2 * t->cap : 64;
                cell *n = realloc(t->cells, ncap * t->ncols * sizeof(*n));

                if (!n)
                        return -ENOMEM;
                t->cells = n;
                t->cap = ncap;
        }
        memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof(cell));
        t->nrows++;
        return 0;
}

static cell *
last_cell(vs_table *t, size_t col)
{
        if (t->nrows == 0 || col >= t->ncols)
                return NULL;
        return &t->cells[(t->nrows - 1) * t->ncols + col];
}

int
vs_table_set_text(vs_table *t, size_t col, const char *v)
{
        cell *c = last_cell(t, col);

        if (!c || t->cols[col].type != VS_COL_TEXT)
                return -EINVAL;
        free(c->text);
        c->text = NULL;
        c->set = false;
        if (!v)
                return 0;
        c->text = strdup(v);
        if (!c->text)
                return -ENOMEM;
        c->set = true;
        return 0;
}

int
vs_table_set_int(vs_table *t, size_t col, int64_t v)
{
        cell *c = last_cell(t, col);

        if (!c || t->cols[col].type == VS_COL_TEXT)
                return -EINVAL;
        c->num = v;
        c->set = true;
        return 0;
}

char *
vs_output_format_local(const vs_tz *tz, int64_t t, char *buf, size_t len)
{
        vs_local_time lt;
        int64_t y;
        unsigned m, d;

        if (tz) {
                vs_tz_localtime(tz, t, &lt);
                snprintf(buf, len, "%04lld-%02d-%02d %02d:%02d:%02d", (long long)lt.year, lt.month, lt.day,
                         lt.hour, lt.minute, lt.second);
                return buf;
        }
        /* floor division: instants before 1970 too */
        int64_t days = t / 86400 - (t % 86400 < 0);
        int64_t sec = t - days * 86400;

        vs_civil_from_days(days, &y, &m, &d);
        snprintf(buf, len, "%04lld-%02u-%02u %02d:%02d:%02d", (long long)y, m, d, (int)(sec / 3600),
                 (int)(sec / 60 % 60), (int)(sec % 60));
        return buf;
}

char *
vs_output_format_duration(int64_t secs, char *buf, size_t len)
{
        char full[64];
        size_t groups = 0, i;

        if (secs < 0)
                secs = 0;
        vs_duration_format(secs, full, sizeof(full));
        /* keep the first two number+unit groups */
        for (i = 0; full[i]; i++) {
                if (full[i] >= 'a' && full[i] <= 'z' && ++groups == 2) {
                        i++;
                        break;
                }
        }
        snprintf(buf, len, "%.*s", (int)i, full);
        return buf;
}

/* ---- table ------------------------------------------------------------------ */

/* Escape control characters for the terminal: \n, \t, \r, \\x1b, ... */
static char *
escape_text(const char *s)
{
        size_t n = 0;
        char *out, *p;

        for (const unsigned char *q = (const unsigned char *)s; *q; q++)
                n += (*q < 0x20 || *q == 0x7f) ? 4 : 1;
        out = malloc(n + 1);
        if (!out)
                return NULL;
        p = out;
        for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
                if (*q == '\n') {
                        *p++ = '\\';
                        *p++ = 'n';
                } else if (*q == '\t') {
                        *p++ = '\\';
                        *p++ = 't';
                } else if (*q == '\r') {
                        *p++ = '\\';
                        *p++ = 'r';
                } else if (*q < 0x20 || *q == 0x7f) {
                        p += sprintf(p, "\\x%02x", *q);
                } else {
                        *p++ = (char)*q;
                }
        }
        *p = '\0';
        return out;
}

/* Terminal columns of one code point: 0 for combining marks, 2 for East
 * Asian wide and emoji ranges, else 1 (no locale needed, unlike wcwidth). */
static size_t
cp_width(unsigned cp)
{
        if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f))
                return 0;
        if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp != 0x303f) ||
            (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) ||
            (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
            (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd))
                return 2;
        return 1;
}

/* Display width of UTF-8 text (invalid bytes count as one column each). */
static size_t
text_width(const char *s)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t w = 0;

        while (*p) {
                unsigned cp = *p;
                int extra = 0;

                if (cp >= 0xf0 && cp < 0xf8) {
                        cp &= 0x07;
                        extra = 3;
                } else if (cp >= 0xe0) {
                        cp &= 0x0f;
                        extra = 2;
                } else if (cp >= 0xc0) {
                        cp &= 0x1f;
                        extra = 1;
                }
                p++;
                for (int i = 0; i < extra && (*p & 0xc0) == 0x80; i++, p++)
                        cp = (cp << 6) | (*p & 0x3f);
                w += cp_width(cp);
        }
        return w;
}

static char *
render_cell(const vs_column *col, const cell *c, const vs_tz *tz)
{
        char buf[VS_TIME_BUFSZ + 32];

        if (!c->set)
                return strdup("-");
        switch (col->type) {
        case VS_COL_TEXT:
                return escape_text(c->text);
        case VS_COL_INT:
                snprintf(buf, sizeof(buf), "%lld", (long long)c->num);
                break;
        case VS_COL_TIME:
                vs_output_format_local(tz, c->num, buf, sizeof(buf));
                break;
        case VS_COL_DURATION:
                vs_output_format_duration(c->num, buf, sizeof(buf));
                break;
        case VS_COL_BOOL:
                return strdup(c->num ? "yes" : "no");
        }
        return strdup(buf);
}

static bool
right_aligned(vs_col_type t)
{
        return t == VS_COL_INT || t == VS_COL_DURATION;
}

static int
print_table(const vs_table *t, const vs_tz *tz, FILE *out)
{
        size_t n = (t->nrows + 1) * t->ncols, lastcol = 0;
        char **text = calloc(n ? n : 1, sizeof(*text));
        size_t *width = calloc(t->ncols ? t->ncols : 1, sizeof(*width));
        int r = 0;

        if (!text || !width) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t c = 0; c < t->ncols; c++) {
                char *h;

                if (t->cols[c].flags & VS_COL_MACHINE_ONLY)
                        continue;
                lastcol = c;
                h = strdup(t->cols[c].name);
                if (!h) {
                        r = -ENOMEM;
                        goto out;
                }
                for (char *p = h; *p; p++)
                        *p = *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p == '_' ? ' ' : *p;
                text[c] = h;
        }
        for (size_t row = 0; row < t->nrows; row++)
                for (size_t c = 0; c < t->ncols; c++) {
                        char *s;

                        if (t->cols[c].flags & VS_COL_MACHINE_ONLY)
                                continue;
                        s = render_cell(&t->cols[c], &t->cells[row * t->ncols + c], tz);
                        if (!s) {
                                r = -ENOMEM;
                                goto out;
                        }
                        text[(row + 1) * t->ncols + c] = s;
                }
        for (size_t i = 0; i < n; i++) {
                size_t c = i % t->ncols, w;

                if (!text[i])
                        continue;
                w = text_width(text[i]);
                if (w > width[c])
                        width[c] = w;
        }
        for (size_t row = 0; row <= t->nrows; row++) {
                bool first = true;

                for (size_t c = 0; c < t->ncols; c++) {
                        const char *s = text[row * t->ncols + c];
                        size_t pad;

                        if (!s)
                                continue;
                        pad = width[c] - text_width(s);
                        if (!first)
                                fputs("  ", out);
                        first = false;
                        if (right_aligned(t->cols[c].type))
                                fprintf(out, "%*s%s", (int)pad, "", s);
                        else
                                fprintf(out, "%s%*s", s, c == lastcol ? 0 : (int)pad, "");
                }
                fputc('\n', out);
        }
out:
        for (size_t i = 0; text && i < n; i++)
                free(text[i]);
        free(text);
        free(width);
        return r;
}

/* ---- json ------------------------------------------------------------------- */

static int
print_json(const vs_table *t, FILE *out)
{
        json_object *arr = json_object_new_array();
        char buf[VS_TIME_BUFSZ];

        if (!arr)
                return -ENOMEM;
        for (size_t row = 0; row < t->nrows; row++) {
                json_object *o = json_object_new_object();

                if (!o || json_object_array_add(arr, o) < 0) {
                        json_object_put(o);
                        json_object_put(arr);
                        return -ENOMEM;
                }
                for (size_t c = 0; c < t->ncols; c++) {
                        const cell *ce = &t->cells[row * t->ncols + c];
                        json_object *v = NULL;

                        if (t->cols[c].flags & VS_COL_TABLE_ONLY)
                                continue;
                        if (ce->set) {
                                switch (t->cols[c].type) {
                                case VS_COL_TEXT:
                                        v = json_object_new_string(ce->text);
                                        break;
                                case VS_COL_INT:
                                case VS_COL_DURATION:
                                        v = json_object_new_int64(ce->num);
                                        break;
                                case VS_COL_TIME:
                                        v = json_object_new_string(vs_time_format_utc(ce->num, buf, sizeof(buf)));
                                        break;
                                case VS_COL_BOOL:
                                        v = json_object_new_boolean(ce->num != 0);
                                        break;
                                }
                                if (!v) {
                                        json_object_put(arr);
                                        return -ENOMEM;
                                }
                        }
                        json_object_object_add(o, t->cols[c].name, v);
                }
        }
        vs_output_print_json(arr, out);
        json_object_put(arr);
        return 0;
}

/* ---- csv -------------------------------------------------------------------- */

static void
csv_field(const char *s, FILE *out)
{
        if (!strpbrk(s, ",\"\r\n")) {
                fputs(s, out);
                return;
        }
        fputc('"', out);
        for (; *s; s++) {
                if (*s == '"')
                        fputc('"', out);
                fputc(*s, out);
        }
        fputc('"', out);
}

static void
print_csv(const vs_table *t, FILE *out)
{
        char buf[VS_TIME_BUFSZ];
        bool first = true;

        for (size_t c = 0; c < t->ncols; c++) {
                if (t->cols[c].flags & VS_COL_TABLE_ONLY)
                        continue;
                if (!first)
                        fputc(',', out);
                first = false;
                csv_field(t->cols[c].name, out);
        }
        fputs("\r\n", out);
        for (size_t row = 0; row < t->nrows; row++) {
                first = true;
                for (size_t c = 0; c < t->ncols; c++) {
                        const cell *ce = &t->cells[row * t->ncols + c];

                        if (t->cols[c].flags & VS_COL_TABLE_ONLY)
                                continue;
                        if (!first)
                                fputc(',', out);
                        first = false;
                        if (!ce->set)
                                continue;
                        switch (t->cols[c].type) {
                        case VS_COL_TEXT:
                                csv_field(ce->text, out);
                                break;
                        case VS_COL_INT:
                        case VS_COL_DURATION:
                                fprintf(out, "%lld", (long long)ce->num);
                                break;
                        case VS_COL_TIME:
                                fputs(vs_time_format_utc(ce->num, buf, sizeof(buf)), out);
                                break;
                        case VS_COL_BOOL:
                                fputs(ce->num ? "true" : "false", out);
                                break;
                        }
                }
                fputs("\r\n", out);
        }
}

int
vs_table_print(const vs_table *t, vs_format f, const vs_tz *tz, FILE *out)
{
        int r = 0;

        switch (f) {
        case VS_FORMAT_TABLE:
                r = print_table(t, tz, out);
                break;
        case VS_FORMAT_JSON:
                r = print_json(t, out);
                break;
        case VS_FORMAT_CSV:
                print_csv(t, out);
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        if (fflush(out) != 0 || ferror(out))
                return -EIO;
        return 0;
}

void
vs_output_print_json(struct json_object *o, FILE *out)
{
        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE),
              out);
        fputc('\n', out);
}

struct json_object *
vs_output_retention_item_json(const vs_retention_item *it)
{
        json_object *o = json_object_new_object();
        const char *rule = vs_keep_rule_to_string(it->rule);
        char buf[VS_TIME_BUFSZ];

        json_object_object_add(o, "time", json_object_new_string(vs_time_format_utc(it->time, buf, sizeof(buf))));
        json_object_object_add(o, "epoch", json_object_new_int64(it->time));
        json_object_object_add(o, "action", json_object_new_string(vs_verdict_to_string(it->verdict)));
        json_object_object_add(o, "rule", rule ? json_object_new_string(rule) : NULL);
        return o;
}
