/* libFuzzer: the control socket's request parser, the daemon's one input
 * from other users.  A request that parses must format to a line that
 * parses to the same request. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
same_str(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        vs_ctl_request q = { 0 }, q2 = { 0 };
        vs_err err = { 0 };
        char *line;
        size_t n;

        if (vs_ctl_request_parse((const char *)data, size, &q, &err) < 0) {
                if (!err.msg[0])
                        abort(); /* refused without saying why */
                vs_ctl_request_clear(&q);
                return 0;
        }
        line = vs_ctl_request_format(&q);
        if (!line)
                abort();
        n = strlen(line);
        if (n == 0 || line[n - 1] != '\n')
                abort();
        if (vs_ctl_request_parse(line, n - 1, &q2, &err) < 0)
                abort(); /* what we write, we must read */
        if (q.cmd != q2.cmd || !same_str(q.domain, q2.domain) || !same_str(q.policy, q2.policy) ||
            !same_str(q.note, q2.note) || !same_str(q.snapshot, q2.snapshot) ||
            !same_str(q.reason, q2.reason) || !same_str(q.database, q2.database) ||
            q.no_safety != q2.no_safety || q.dry_run != q2.dry_run || q.ttl != q2.ttl ||
            q.wait != q2.wait)
                abort();
        free(line);
        vs_ctl_request_clear(&q);
        vs_ctl_request_clear(&q2);
        return 0;
}
