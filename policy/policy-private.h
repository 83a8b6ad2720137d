/* Internal interface between the pieces of policy/ (not for other modules). */
#pragma once

#include "policy.h"
#include "yaml-tree.h"

/* policy.c: defaults + schema walk over a parsed tree.  Problems go to ctx
 * (the caller judges validity by ctx->count); 0 with *ret set, or -ENOMEM. */
int vs__config_build(vs_diag_ctx *ctx, const vs_ynode *root, const char *name, vs_config **ret);
