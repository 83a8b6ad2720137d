/* Loading the policy file for a subcommand: one place that turns
 * vs_config_load's diagnostics into the CLI's output, so every command
 * reports a bad file the same way `virtsnap check` does. */
#pragma once

#include "policy.h"

/* Load and validate path (VS_DEFAULT_CONFIG when NULL).  On failure every
 * problem is printed to stderr as one "FILE:LINE:COLUMN: message" line (or
 * "FILE: message" when there is no position) and a negative errno is
 * returned; on success *ret is set and nothing is printed. */
int vs_cli_load_config(const char *path, vs_config **ret);
