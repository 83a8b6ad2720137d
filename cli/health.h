/* How a (domain, policy) series is doing, shared by `status` and `monitor`
 * so that both use one definition:
 *   never    no successful snapshot, ever;
 *   failing  the newest attempt failed;
 *   late     the newest success is older than the late threshold (1.5 x
 *            the policy's schedule period unless given);
 *   ok       otherwise (also when the policy is unknown: nothing to judge
 *            lateness against). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "store.h"

typedef enum vs_health {
        VS_HEALTH_OK,
        VS_HEALTH_LATE,
        VS_HEALTH_FAILING,
        VS_HEALTH_NEVER,
} vs_health;

typedef struct vs_judgement {
        vs_health health;
        const vs_policy *policy;   /* from the config; NULL if not in it */
        bool has_age;
        int64_t age;               /* now - last success */
        bool has_period;
        int64_t period;            /* the schedule's interval around now */
        bool has_next;
        int64_t next_due;          /* the schedule's next firing after now */
} vs_judgement;

const char *vs_health_to_string(vs_health h);

/* late_after: the age beyond which a series is late; 0 = 1.5 x period. */
void vs_cli_judge(const vs_store_series *se, const vs_config *cfg, int64_t now, int64_t late_after,
                  vs_judgement *ret);
