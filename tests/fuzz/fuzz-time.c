/* libFuzzer: the text parsers of the policy file: schedules (calendar,
 * cron, intervals), durations, times and space thresholds.  A schedule
 * that parses must give a next firing after any instant, never before. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "schedule.h"
#include "tz.h"
#include "duration.h"
#include "timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* Berlin: DST gaps and folds for the schedule to cross. */
        static vs_tz *tz;
        vs_schedule *s = NULL;
        char err[256], buf[64];
        char *text;
        int64_t v;
        vs_space sp;

        if (!tz) {
                vs_err e = { 0 };

                if (vs_tz_load("Europe/Berlin", &tz, &e) < 0)
                        abort();
        }
        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';

        if (vs_schedule_parse(text, &s, err, sizeof(err)) == 0) {
                /* 2026-03-29 00:30 UTC, an hour before Berlin springs forward */
                const int64_t at = 1774744200;
                int64_t next = vs_schedule_next(s, tz, at);

                if (next >= 0 && next <= at)
                        abort();
                if (!vs_schedule_text(s))
                        abort();
                vs_schedule_free(s);
        }
        if (vs_duration_parse(text, &v) == 0) {
                if (v < 0)
                        abort();
                if (!vs_duration_format(v, buf, sizeof(buf)))
                        abort();
        }
        (void)vs_time_parse(text, &v);
        if (vs_space_parse(text, &sp) == 0)
                (void)vs_space_format(&sp, buf, sizeof(buf));
        free(text);
        return 0;
}
