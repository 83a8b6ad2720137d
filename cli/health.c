/* vs_cli_judge: the health words of health.h. */
#include <string.h>

#include "health.h"

const char *
vs_health_to_string(vs_health h)
{
        switch (h) {
        case VS_HEALTH_OK:
                return "ok";
        case VS_HEALTH_LATE:
                return "late";
        case VS_HEALTH_FAILING:
                return "failing";
        case VS_HEALTH_NEVER:
                return "never";
        }
        return "?";
}

void
vs_cli_judge(const vs_store_series *se, const vs_config *cfg, int64_t now, int64_t late_after,
             vs_judgement *ret)
{
        memset(ret, 0, sizeof(*ret));
        ret->policy = cfg ? vs_config_find_policy(cfg, se->policy) : NULL;
        if (ret->policy && ret->policy->schedule) {
                int64_t p = vs_schedule_period(ret->policy->schedule, cfg->tz, now);
                int64_t n = vs_schedule_next(ret->policy->schedule, cfg->tz, now);

                if (p != INT64_MAX && p > 0) {
                        ret->has_period = true;
                        ret->period = p;
                }
                if (n != INT64_MAX) {
                        ret->has_next = true;
                        ret->next_due = n;
                }
        }
        if (se->has_success) {
                ret->has_age = true;
                ret->age = now - se->last_success;
        }
        if (!se->has_success)
                ret->health = VS_HEALTH_NEVER;
        else if (se->has_attempt && se->last_state == VS_SNAP_FAILED)
                ret->health = VS_HEALTH_FAILING;
        else if (late_after > 0 ? ret->age > late_after
                                : ret->has_period && ret->age > ret->period + ret->period / 2)
                ret->health = VS_HEALTH_LATE;
        else
                ret->health = VS_HEALTH_OK;
}
