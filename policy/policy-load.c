/* Reading a policy file: the byte-level guards (regular file or FIFO, at
 * most VS_POLICY_MAX_BYTES, read without trusting st_size), then YAML tree
 * -> schema walk (policy.c), and the diagnostics plumbing.  Problems are
 * sorted into file order before they are handed out, so one run lists every
 * problem the way an editor would walk the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "policy-private.h"

void
vs_diags_clear(vs_diags *d)
{
        if (!d)
                return;
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].file);
                free(d->items[i].message);
        }
        free(d->items);
        d->items = NULL;
        d->n = 0;
}

int
vs_diag_format(const vs_diag *d, char *buf, size_t len)
{
        if (d->line > 0)
                return snprintf(buf, len, "%s:%d:%d: %s", d->file, d->line, d->column, d->message);
        return snprintf(buf, len, "%s: %s", d->file, d->message);
}

/* Diagnostics in file order (stable: problems found at one node keep the
 * order they were found in); the "too many problems" line stays last. */
static void
sort_diags(vs_diags *d, size_t from, bool capped)
{
        size_t end = capped && d->n > from ? d->n - 1 : d->n;

        for (size_t i = from + 1; i < end; i++) {
                vs_diag x = d->items[i];
                size_t j = i;

                while (j > from && (d->items[j - 1].line > x.line ||
                                    (d->items[j - 1].line == x.line && d->items[j - 1].column > x.column))) {
                        d->items[j] = d->items[j - 1];
                        j--;
                }
                d->items[j] = x;
        }
}

static int
load(vs_diag_ctx *ctx, const char *name, const char *text, size_t len, vs_config **ret)
{
        vs_ynode *root = NULL;
        vs_config *cfg = NULL;
        size_t before = ctx->count, first = ctx->diags->n;
        int r;

        if (len > VS_POLICY_MAX_BYTES) {
                vs__diag(ctx, 0, 0, "file too large (%zu bytes; at most %d)", len, VS_POLICY_MAX_BYTES);
                return ctx->oom ? -ENOMEM : -EFBIG;
        }
        r = vs__ytree_parse(ctx, text, len, &root);
        if (r < 0)
                return ctx->oom ? -ENOMEM : r;
        if (!root) {
                vs__diag(ctx, 1, 1, "the file is empty (expected a mapping with 'policies')");
                return ctx->oom ? -ENOMEM : -EINVAL;
        }
        r = vs__config_build(ctx, root, name, &cfg);
        vs__ytree_free(root);
        sort_diags(ctx->diags, first, ctx->count > VS_YAML_MAX_DIAGS);
        if (r < 0)
                return r;
        if (ctx->count > before) {
                vs_config_free(cfg);
                return -EINVAL;
        }
        *ret = cfg;
        return 0;
}
int
vs_config_load_string(const char *name, const char *text, size_t len, vs_config **ret, vs_diags *diags)
{
        vs_diags local = { 0 };
        vs_diag_ctx ctx = { .file = name ? name : "<string>", .diags = diags ? diags : &local };
        int r = load(&ctx, ctx.file, text, len, ret);

        vs_diags_clear(&local);
        return r;
}

static int
read_file(vs_diag_ctx *ctx, const char *path, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                r = -errno;
                vs__diag(ctx, 0, 0, "cannot open: %s", strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                vs__diag(ctx, 0, 0, "cannot read: %s", strerror(-r));
                goto out;
        }
        if (S_ISDIR(st.st_mode)) {
                r = -EISDIR;
                vs__diag(ctx, 0, 0, "is a directory, not a policy file");
                goto out;
        }
        if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
                r = -EINVAL;
                vs__diag(ctx, 0, 0, "not a regular file");
                goto out;
        }
        if (S_ISREG(st.st_mode) && st.st_size > VS_POLICY_MAX_BYTES) {
                r = -EFBIG;
                vs__diag(ctx, 0, 0, "file too large (%lld bytes; at most %d)", (long long)st.st_size,
                         VS_POLICY_MAX_BYTES);
                goto out;
        }
        /* Blocking reads from here on (O_NONBLOCK only kept open() of a
         * FIFO from waiting for a writer). */
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        buf = malloc(VS_POLICY_MAX_BYTES + 2);
        if (!buf) {
                r = -ENOMEM;
                goto out;
        }
        for (;;) {
                ssize_t k = read(fd, buf + len, VS_POLICY_MAX_BYTES + 1 - len);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        vs__diag(ctx, 0, 0, "cannot read: %s", strerror(-r));
                        goto out;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
                if (len > VS_POLICY_MAX_BYTES) {
                        r = -EFBIG;
                        vs__diag(ctx, 0, 0, "file too large (more than %d bytes)", VS_POLICY_MAX_BYTES);
                        goto out;
                }
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
out:
        close(fd);
        return r;
}

int
vs_config_load(const char *path, vs_config **ret, vs_diags *diags)
{
        vs_diags local = { 0 };
        vs_diag_ctx ctx = { .file = path, .diags = diags ? diags : &local };
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        r = read_file(&ctx, path, &buf, &len);
        if (r == 0)
                r = load(&ctx, path, buf, len, ret);
        if (r < 0 && ctx.oom)
                r = -ENOMEM;
        vs_diags_clear(&local);
        return r;
}
