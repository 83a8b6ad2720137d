/* How a (domain, policy) series and a connection are doing: the one
 * definition behind `status` (a health word per series) and `monitor` (a
 * Nagios level), so the two can never disagree.  Each finding has a level:
 *
 *   never        no successful snapshot, ever                    CRITICAL
 *   unreachable  its connection is down (longer than its RPO:    WARNING
 *                the shortest schedule interval on it)           CRITICAL
 *   failing      the newest attempt failed                       WARNING
 *   guarded      the newest attempt was skipped by the policy's   CRITICAL
 *                guard (low space, a long external chain)
 *   hook-failed  a hook of the newest attempt failed             WARNING
 *                (hooks.required: true)                          CRITICAL
 *   late         the last success is older than warn             WARNING
 *                (1.5 x the schedule period) or crit (3 x)       CRITICAL
 *   undeletable  it holds snapshots libvirt cannot delete        WARNING
 *   orphaned     its policy is gone from the policy file and     WARNING
 *                it still holds snapshots (never pruned)
 *   ok           none of the above (also when there is no policy file to
 *                judge lateness or orphans against)
 *
 * A series' health is its worst finding: highest level first, then the
 * order above. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "store.h"

typedef enum vs_health {
        VS_HEALTH_OK,
        VS_HEALTH_NEVER,
        VS_HEALTH_UNREACHABLE,
        VS_HEALTH_FAILING,
        VS_HEALTH_GUARDED,
        VS_HEALTH_HOOK_FAILED,
        VS_HEALTH_LATE,
        VS_HEALTH_UNDELETABLE,
        VS_HEALTH_ORPHANED,
} vs_health;

typedef enum vs_level {
        VS_LEVEL_OK,
        VS_LEVEL_WARNING,
        VS_LEVEL_CRITICAL,
} vs_level;

#define VS_MAX_FINDINGS 8

typedef struct vs_finding {
        vs_health what;
        vs_level level;
        char text[200];            /* for a person: "last attempt failed: ..." */
} vs_finding;

typedef struct vs_judgement {
        vs_health health;          /* the worst finding, VS_HEALTH_OK if none */
        vs_level level;
        vs_finding findings[VS_MAX_FINDINGS];
        unsigned n_findings;
        const vs_policy *policy;   /* from the config; NULL if not in it */
        bool has_age;
        int64_t age;               /* now - last success */
        bool has_period;
        int64_t period;            /* the schedule's interval around now */
        bool has_next;
        int64_t next_due;          /* the next firing after now, jitter included */
} vs_judgement;

/* What the judgement needs besides the series: the policy file (may be
 * NULL), the clock, thresholds (0: from the schedule) and the connections'
 * state from the history. */
typedef struct vs_health_ctx vs_health_ctx;

const char *vs_health_to_string(vs_health h);
const char *vs_level_to_string(vs_level l); /* "OK", "WARNING", "CRITICAL" */

int vs_health_ctx_new(vs_store *s, const vs_config *cfg, int64_t now, int64_t warn, int64_t crit,
                      vs_health_ctx **ret, vs_err *err);
void vs_health_ctx_free(vs_health_ctx *h);

void vs_cli_judge(const vs_health_ctx *h, const vs_store_series *se, vs_judgement *ret);

/* Connections: each one the history knows (the daemon records them) and
 * every connection of the policy file, judged on its own: a down one is a
 * finding (VS_HEALTH_UNREACHABLE), an up one VS_HEALTH_OK. */
typedef struct vs_connection_judgement {
        const char *uri;
        bool known;                /* the history has seen it */
        bool up;
        int64_t since;             /* up or down since */
        unsigned failures;
        const char *last_error;
        bool has_rpo;
        int64_t rpo;
        vs_finding finding;        /* level OK when up or never seen */
} vs_connection_judgement;

size_t vs_health_n_connections(const vs_health_ctx *h);
void vs_cli_judge_connection(const vs_health_ctx *h, size_t i, vs_connection_judgement *ret);
