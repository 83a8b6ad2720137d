/* libFuzzer: the policy loader (YAML through libyaml, then every key's
 * checks).  Any input must give either a configuration or diagnostics,
 * each with a position that formats, and nothing may leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        vs_config *cfg = NULL;
        vs_diags diags = { 0 };
        char buf[1024];
        int r;

        r = vs_config_load_string("fuzz.yaml", (const char *)data, size, &cfg, &diags);
        if (r == 0 && !cfg)
                abort(); /* success without a configuration */
        if (r < 0 && cfg)
                abort(); /* failure that hands one out */
        for (size_t i = 0; i < diags.n; i++)
                if (vs_diag_format(&diags.items[i], buf, sizeof(buf)) < 0)
                        abort();
        vs_diags_clear(&diags);
        vs_config_free(cfg);
        return 0;
}
