/* vs_cli_load_config: load a policy file, print its diagnostics. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli-config.h"
#include "vs-config.h"

int
vs_cli_load_config(const char *path, vs_config **ret)
{
        vs_diags diags = { 0 };
        vs_config *cfg = NULL;
        int r;

        if (!path)
                path = VS_DEFAULT_CONFIG;
        r = vs_config_load(path, &cfg, &diags);
        for (size_t i = 0; i < diags.n; i++) {
                const vs_diag *d = &diags.items[i];

                if (d->line > 0)
                        fprintf(stderr, "%s:%d:%d: %s\n", d->file, d->line, d->column, d->message);
                else
                        fprintf(stderr, "%s: %s\n", d->file, d->message);
        }
        if (r == -ENOMEM)
                fprintf(stderr, "%s: out of memory\n", path);
        else if (r < 0 && diags.n == 0)
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
        vs_diags_clear(&diags);
        if (r < 0)
                return r;
        *ret = cfg;
        return 0;
}
