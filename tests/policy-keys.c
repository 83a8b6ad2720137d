/* policy-keys: print every key the policy loader accepts, one dotted path
 * per line, so tests/cli/test-docs.sh can check that the man page and
 * policies.example.yaml document each of them.  Tests only. */
#include <stdio.h>

#include "policy.h"

static void
print_key(const char *path, void *userdata)
{
        (void)userdata;
        printf("%s\n", path);
}

int
main(void)
{
        vs_config_each_key(print_key, NULL);
        return fflush(stdout) == 0 ? 0 : 1;
}
