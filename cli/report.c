/* The HTML of report.h.  Shapes differ by kind as well as colours (the
 * Okabe-Ito palette, safe for colour-blind readers), so no mark depends on
 * colour alone.  Every string from the history is escaped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "duration.h"
#include "report.h"

#define W 960          /* SVG width */
#define LEFT 10
#define RIGHT 10
#define LANE 56        /* the marks' lane */
#define BAND 12        /* one retention band */

static const struct {
        const char *name, *label, *colour;
} kinds[VS_MARK_N_KINDS] = {
        [VS_MARK_PRESENT] = { "present", "snapshot held", "#0072B2" },
        [VS_MARK_PRUNED] = { "pruned", "pruned by retention (line: its lifetime)", "#E69F00" },
        [VS_MARK_VANISHED] = { "vanished", "deleted outside virtsnap", "#CC79A7" },
        [VS_MARK_FAILED] = { "failed", "attempt failed", "#D55E00" },
        [VS_MARK_SKIPPED] = { "skipped", "firing skipped", "#F0E442" },
        [VS_MARK_PINNED] = { "pinned", "pinned (kept whatever retention says)", "#009E73" },
        [VS_MARK_UNDELETABLE] = { "undeletable", "libvirt cannot delete it", "#000000" },
        [VS_MARK_DEFERRED] = { "deferred", "pruning put off by libvirt (hollow: still there)", "#E69F00" },
        [VS_MARK_IN_FLIGHT] = { "in-flight", "being created or deleted", "#56B4E9" },
};

const char *
vs_report_kind_name(vs_report_kind k)
{
        return (unsigned)k < VS_MARK_N_KINDS ? kinds[k].name : "?";
}

static void
put_escaped(FILE *out, const char *s)
{
        for (; s && *s; s++) {
                switch (*s) {
                case '&': fputs("&amp;", out); break;
                case '<': fputs("&lt;", out); break;
                case '>': fputs("&gt;", out); break;
                case '"': fputs("&quot;", out); break;
                case '\'': fputs("&#39;", out); break;
                default:
                        if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                                fputc('?', out);
                        else
                                fputc(*s, out);
                }
        }
}

static double
x_of(int64_t t, int64_t since, int64_t now)
{
        double span = now > since ? (double)(now - since) : 1.0;

        if (t < since)
                t = since;
        if (t > now)
                t = now;
        return LEFT + (double)(t - since) / span * (W - LEFT - RIGHT);
}

/* The shape of one kind at (x, y), filled with its colour. */
static void
put_shape(FILE *out, vs_report_kind k, double x, double y)
{
        const char *c = kinds[k].colour;

        switch (k) {
        case VS_MARK_FAILED:
                fprintf(out, "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" stroke=\"%s\" stroke-width=\"2.5\"/>", x - 4, y - 4, c);
                break;
        case VS_MARK_SKIPPED:
                fprintf(out, "<path d=\"M%.1f %.1fl5 9h-10z\" fill=\"%s\" stroke=\"#555\"/>", x, y - 5, c);
                break;
        case VS_MARK_UNDELETABLE:
                fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\" fill=\"%s\"/>", x - 4.5, y - 4.5, c);
                break;
        case VS_MARK_DEFERRED:
                fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>",
                        x - 4, y - 4, c);
                break;
        case VS_MARK_PINNED:
                fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" stroke=\"#000\" stroke-width=\"1.5\"/>",
                        x, y, c);
                break;
        case VS_MARK_IN_FLIGHT:
                fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>",
                        x, y, c);
                break;
        case VS_MARK_PRUNED:
        case VS_MARK_VANISHED:
                fprintf(out, "<path d=\"M%.1f %.1fl5 5l-5 5l-5 -5z\" fill=\"%s\"/>", x, y - 5, c);
                break;
        default:
                fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"/>", x, y, c);
        }
}

/* The retention tiers as bands ending now: how far back each rule reaches
 * (months and years at their average length); out NULL only counts them. */
static unsigned
put_bands(FILE *out, const vs_retention_rules *r, int64_t since, int64_t now)
{
        const struct {
                const char *rule;
                int64_t n, unit;
        } tiers[] = {
                { "within", r->keep_within, 1 },          { "hourly", r->keep_hourly, 3600 },
                { "daily", r->keep_daily, 86400 },        { "weekly", r->keep_weekly, 7 * 86400 },
                { "monthly", r->keep_monthly, 2629746 }, { "yearly", r->keep_yearly, 31556952 },
        };
        unsigned row = 0;

        for (size_t i = 0; i < VS_ELEMENTSOF(tiers); i++) {
                double x0, x1;
                int64_t from;
                char label[48];

                if (tiers[i].n <= 0)
                        continue;
                from = tiers[i].n > (now - since) / tiers[i].unit + 1 ? since : now - tiers[i].n * tiers[i].unit;
                if (!out) {
                        row++;
                        continue;
                }
                x0 = x_of(from, since, now);
                x1 = x_of(now, since, now);
                if (i == 0) {
                        char d[32];

                        snprintf(label, sizeof(label), "keep_within %s", vs_duration_format(r->keep_within, d, sizeof(d)));
                }
                else
                        snprintf(label, sizeof(label), "keep_%s %lld", tiers[i].rule, (long long)tiers[i].n);
                fprintf(out,
                        "<g class=\"band\"><rect x=\"%.1f\" y=\"%u\" width=\"%.1f\" height=\"%d\" fill=\"#0072B2\" "
                        "fill-opacity=\"%.2f\"/><text x=\"%.1f\" y=\"%u\" class=\"bl\">%s</text></g>\n",
                        x0, LANE + 6 + row * BAND, x1 - x0 > 1 ? x1 - x0 : 1, BAND - 2, 0.10 + 0.05 * (double)row,
                        x0 + 3, LANE + 6 + row * BAND + BAND - 4, label);
                row++;
        }
        return row;
}

static void
put_axis(FILE *out, int64_t since, int64_t now, const vs_tz *tz, unsigned y)
{
        for (int i = 0; i <= 4; i++) {
                int64_t t = since + (now - since) * i / 4;
                char buf[64];
                double x = x_of(t, since, now);

                vs_tz_format_local(tz, t, buf, sizeof(buf));
                buf[16] = '\0'; /* YYYY-MM-DDTHH:MM */
                buf[10] = ' ';
                fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"8\" y2=\"%u\" class=\"grid\"/>", x, x, y);
                fprintf(out, "<text x=\"%.1f\" y=\"%u\" class=\"tick\" text-anchor=\"%s\">%s</text>\n", x, y + 12,
                        i == 0 ? "start" : i == 4 ? "end" : "middle", buf);
        }
}

int
vs_report_write_html(FILE *out, const char *title, const vs_report_series *series, size_t n, int64_t since,
                     int64_t now, const vs_tz *tz)
{
        char a[64], b[64];

        fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", out);
        put_escaped(out, title);
        fputs("</title>\n<style>\n"
              "body{font:14px/1.4 sans-serif;margin:1.5em;color:#222;max-width:1000px}\n"
              "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}\n"
              "td:first-child,th:first-child{text-align:left}\n"
              ".h1{color:#9a6700;font-weight:bold}.h2{color:#D55E00;font-weight:bold}\n"
              ".legend span{display:inline-block;margin-right:1.2em}.legend svg{vertical-align:middle}\n"
              "svg.tl{border:1px solid #ddd;background:#fafafa;margin-bottom:.3em}\n"
              ".grid{stroke:#ddd}.tick{font-size:10px;fill:#555}.bl{font-size:9px;fill:#124}\n"
              ".life{stroke-width:2;stroke-opacity:.7}\n"
              "h2{font-size:15px;margin:1.2em 0 .2em}.rules{margin:0 0 .2em;font-size:12px;color:#444}\n"
              "</style></head><body>\n<h1>", out);
        put_escaped(out, title);
        fprintf(out, "</h1>\n<p>From %s to %s (local time, %s). One mark per attempt; hover a mark for its details.</p>\n",
                vs_tz_format_local(tz, since, a, sizeof(a)), vs_tz_format_local(tz, now, b, sizeof(b)), vs_tz_name(tz));

        fputs("<p class=\"legend\">", out);
        for (int k = 0; k < VS_MARK_N_KINDS; k++) {
                fputs("<span><svg width=\"14\" height=\"14\">", out);
                put_shape(out, (vs_report_kind)k, 7, 7);
                fprintf(out, "</svg> %s</span>", kinds[k].label);
        }
        fputs("<span><svg width=\"30\" height=\"14\"><rect x=\"0\" y=\"3\" width=\"30\" height=\"8\" fill=\"#0072B2\" "
              "fill-opacity=\".15\"/></svg> how far back a retention rule reaches</span></p>\n",
              out);

        fputs("<table><tr><th>series</th><th>health</th>", out);
        for (int k = 0; k < VS_MARK_N_KINDS; k++)
                fprintf(out, "<th>%s</th>", kinds[k].name);
        fputs("<th>attempts</th></tr>\n", out);
        for (size_t i = 0; i < n; i++) {
                size_t count[VS_MARK_N_KINDS] = { 0 };

                for (size_t m = 0; m < series[i].n; m++)
                        count[series[i].marks[m].kind]++;
                fputs("<tr><td>", out);
                put_escaped(out, series[i].title);
                fprintf(out, "</td><td class=\"h%d\">%s</td>", series[i].level,
                        series[i].health ? series[i].health : "-");
                for (int k = 0; k < VS_MARK_N_KINDS; k++)
                        fprintf(out, "<td>%zu</td>", count[k]);
                fprintf(out, "<td>%zu</td></tr>\n", series[i].n);
        }
        fputs("</table>\n", out);

        for (size_t i = 0; i < n; i++) {
                const vs_report_series *se = &series[i];
                unsigned bands = 0, height;

                fputs("<h2>", out);
                put_escaped(out, se->title);
                fputs("</h2>\n", out);
                if (se->retention) {
                        char rules[256];

                        fprintf(out, "<p class=\"rules\">retention: %s</p>\n",
                                vs_retention_rules_format(se->retention, rules, sizeof(rules)));
                }
                /* Bands are counted first to size the picture. */
                if (se->retention)
                        bands = put_bands(NULL, se->retention, since, now);
                height = LANE + 10 + bands * BAND + 18;
                fprintf(out, "<svg class=\"tl\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%u\" "
                             "role=\"img\">\n", W, height);
                put_axis(out, since, now, tz, height - 16);
                if (se->retention)
                        put_bands(out, se->retention, since, now);
                for (size_t m = 0; m < se->n; m++) {
                        const vs_report_mark *mk = &se->marks[m];
                        double x = x_of(mk->at, since, now);
                        /* Three rows: what is held, what is gone, what never was. */
                        double y = mk->kind == VS_MARK_FAILED || mk->kind == VS_MARK_SKIPPED ? LANE - 10
                                   : mk->kind == VS_MARK_PRUNED || mk->kind == VS_MARK_VANISHED ? LANE / 2.0 + 2
                                                                                                  : 14;

                        fprintf(out, "<g class=\"mark\" data-id=\"%lld\" data-kind=\"%s\"><title>", (long long)mk->id,
                                kinds[mk->kind].name);
                        put_escaped(out, vs_tz_format_local(tz, mk->at, a, sizeof(a)));
                        fputs(" ", out);
                        put_escaped(out, kinds[mk->kind].name);
                        fputs(": ", out);
                        put_escaped(out, mk->detail);
                        fputs("</title>", out);
                        if (mk->until > 0)
                                fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"life\" stroke=\"%s\"%s/>",
                                        x, x_of(mk->until, since, now), y, y, kinds[mk->kind].colour,
                                        mk->kind == VS_MARK_VANISHED ? " stroke-dasharray=\"3 2\"" : "");
                        put_shape(out, mk->kind, x, y);
                        fputs("</g>\n", out);
                }
                fputs("</svg>\n", out);
        }
        fputs("</body></html>\n", out);
        return ferror(out) ? -EIO : 0;
}
