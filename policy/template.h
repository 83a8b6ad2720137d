/* Static checks of snapshot-name, description and hook-argument templates
 * (internal to policy/; expansion itself is vs_template_expand in policy.h).
 *
 * The rule for snapshot NAME templates, applied by `virtsnap check`:
 *   - literal characters must be in [A-Za-z0-9._-];
 *   - placeholders: {policy} (the policy's name), {epoch}, {utc:FMT},
 *     {local:FMT}; {domain} is refused (a domain name may hold any character,
 *     and snapshot names are per domain anyway);
 *   - FMT holds literal characters from the same set and only conversions
 *     whose output is in the set: %Y %C %y %G %g %m %b %h %B %d %j %a %A %u
 *     %w %U %W %V %H %I %p %M %S %s %F (English names, zero-padded numbers);
 *   - the longest possible expansion, counting {policy} as the policy's name
 *     and each conversion at its widest for instants from 1970 to 9999
 *     (%Y 4, %B/%A 9, %s and {epoch} 12, ...), must be at most 64, and the
 *     name must not start with '.';
 *   - the name must contain at least one time placeholder.
 * TEXT templates (description, hook arguments) also allow {domain} and the
 * conversions %e %k %l %T %R %D %z %% and any literal text; "{{" and "}}"
 * stand for literal braces in every kind. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef enum vs_tmpl_kind {
        VS_TMPL_NAME,
        VS_TMPL_TEXT,
        VS_TMPL_HOOK, /* TEXT plus {snapshot}, which the scheduler substitutes */
} vs_tmpl_kind;

#define VS_SNAPSHOT_NAME_MAX 64
#define VS_TEMPLATE_MAX 4096 /* longest expansion vs_template_expand produces */

/* 0, or -EINVAL with a message in errbuf.  policy: the policy's name, used
 * for the length and leading-'.' checks of NAME templates (may be NULL). */
int vs__template_check(const char *tmpl, vs_tmpl_kind kind, const char *policy, char *errbuf,
                       size_t errlen);
