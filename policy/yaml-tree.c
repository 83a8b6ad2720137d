/* YAML text -> vs_ynode tree (see yaml-tree.h).
 *
 * The builder keeps an explicit stack of open collections instead of
 * recursing, so the depth cap bounds memory and stack alike, and it stops at
 * the first collection that would be nested deeper than VS_YAML_MAX_DEPTH:
 * a file of 100,000 '[' costs a few hundred events, not 100,000 frames.
 * Anchors, aliases and tags are reported and never resolved; an alias turns
 * into a VS_YNODE_INVALID node that the schema walk skips, so the rest of the
 * file is still checked. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cleanup.h"
#include "yaml-tree.h"

void
vs__diag(vs_diag_ctx *ctx, int line, int column, const char *fmt, ...)
{
        vs_diag *items, *d;
        va_list ap;
        char *msg = NULL;
        int r;

        ctx->count++;
        if (ctx->count > VS_YAML_MAX_DIAGS + 1 || ctx->oom)
                return;
        items = realloc(ctx->diags->items, (ctx->diags->n + 1) * sizeof(*items));
        if (!items) {
                ctx->oom = true;
                return;
        }
        ctx->diags->items = items;
        if (ctx->count == VS_YAML_MAX_DIAGS + 1) {
                r = asprintf(&msg, "too many problems; stopping after %d", VS_YAML_MAX_DIAGS);
        } else {
                va_start(ap, fmt);
                r = vasprintf(&msg, fmt, ap);
                va_end(ap);
        }
        if (r < 0) {
                ctx->oom = true;
                return;
        }
        d = &items[ctx->diags->n];
        d->file = strdup(ctx->file);
        if (!d->file) {
                free(msg);
                ctx->oom = true;
                return;
        }
        d->line = line;
        d->column = column;
        d->message = msg;
        ctx->diags->n++;
}

void
vs__ytree_free(vs_ynode *n)
{
        if (!n)
                return;
        for (size_t i = 0; i < n->n_items; i++)
                vs__ytree_free(n->items[i]);
        free(n->items);
        free(n->value);
        free(n);
}

bool
vs__ynode_is_null(const vs_ynode *n)
{
        if (n->kind != VS_YNODE_SCALAR || !n->plain)
                return false;
        return n->len == 0 || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
               strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0;
}

const char *
vs__ynode_describe(const vs_ynode *n)
{
        switch (n->kind) {
        case VS_YNODE_SEQ: return "a list";
        case VS_YNODE_MAP: return "a mapping";
        case VS_YNODE_INVALID: return "an alias";
        case VS_YNODE_SCALAR: break;
        }
        if (vs__ynode_is_null(n))
                return "nothing (null)";
        return n->plain ? "a scalar" : "a quoted string";
}

/* Line and column (1-based, columns in characters as libyaml counts them)
 * of a byte offset, for reader errors, which only report an offset. */
static void
offset_position(const char *buf, size_t len, size_t off, int *line, int *column)
{
        int l = 1, c = 1;

        if (off > len)
                off = len;
        for (size_t i = 0; i < off; i++) {
                unsigned char ch = (unsigned char)buf[i];

                if (ch == '\n' || (ch == '\r' && (i + 1 >= len || buf[i + 1] != '\n'))) {
                        l++;
                        c = 1;
                } else if ((ch & 0xC0) != 0x80 && ch != '\r') {
                        c++;
                }
        }
        *line = l;
        *column = c;
}

/* The byte at a libyaml mark (0-based line/column), or -1. */
static int
byte_at_mark(const char *buf, size_t len, const yaml_mark_t *m)
{
        size_t i = 0, line = 0, col = 0;

        while (i < len && line < m->line) {
                if (buf[i] == '\n' || (buf[i] == '\r' && (i + 1 >= len || buf[i + 1] != '\n')))
                        line++;
                i++;
        }
        while (i < len && col < m->column) {
                i++;
                while (i < len && ((unsigned char)buf[i] & 0xC0) == 0x80)
                        i++;
                col++;
        }
        return i < len ? (unsigned char)buf[i] : -1;
}

static void
report_parser_error(vs_diag_ctx *ctx, const yaml_parser_t *p, const char *buf, size_t len)
{
        int line, column;

        if (p->error == YAML_READER_ERROR) {
                char value[16] = "";

                offset_position(buf, len, p->problem_offset, &line, &column);
                if (p->problem_value >= 0) /* -1: the input ended */
                        snprintf(value, sizeof(value), " (#x%X)", (unsigned)p->problem_value);
                if (strstr(p->problem ? p->problem : "", "UTF-8"))
                        vs__diag(ctx, line, column, "invalid UTF-8: %s%s; the file must be UTF-8 text", p->problem,
                                 value);
                else
                        vs__diag(ctx, line, column, "%s%s", p->problem ? p->problem : "unreadable input", value);
                return;
        }
        line = (int)p->problem_mark.line + 1;
        column = (int)p->problem_mark.column + 1;
        {
                char ctxbuf[128] = "";
                const char *hint = "";

                if (p->context)
                        snprintf(ctxbuf, sizeof(ctxbuf), " (%s at %d:%d)", p->context,
                                 (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
                if (byte_at_mark(buf, len, &p->problem_mark) == '\t')
                        hint = "; tabs are not allowed in indentation, use spaces";
                vs__diag(ctx, line, column, "YAML syntax error: %s%s%s",
                         p->problem ? p->problem : "unknown error", ctxbuf, hint);
        }
}

typedef struct frame {
        vs_ynode *node;
        size_t cap;         /* allocated items */
        size_t count;       /* items so far */
} frame;

static int
append_child(frame *f, vs_ynode *child)
{
        if (f->count == f->cap) {
                size_t ncap = f->cap ? 2 * f->cap : 8;
                vs_ynode **items = realloc(f->node->items, ncap * sizeof(*items));

                if (!items)
                        return -ENOMEM;
                f->node->items = items;
                f->cap = ncap;
        }
        f->node->items[f->count++] = child;
        f->node->n_items = f->count;
        f->node->n = f->node->kind == VS_YNODE_MAP ? f->count / 2 : f->count;
        return 0;
}

/* Anchors and explicit tags: reported, then ignored. */
static void
check_decorations(vs_diag_ctx *ctx, const yaml_event_t *ev, int line, int column)
{
        const yaml_char_t *anchor = NULL, *tag = NULL;
        bool implicit = true;

        switch (ev->type) {
        case YAML_SCALAR_EVENT:
                anchor = ev->data.scalar.anchor;
                tag = ev->data.scalar.tag;
                implicit = ev->data.scalar.plain_implicit || ev->data.scalar.quoted_implicit;
                break;
        case YAML_SEQUENCE_START_EVENT:
                anchor = ev->data.sequence_start.anchor;
                tag = ev->data.sequence_start.tag;
                implicit = ev->data.sequence_start.implicit;
                break;
        case YAML_MAPPING_START_EVENT:
                anchor = ev->data.mapping_start.anchor;
                tag = ev->data.mapping_start.tag;
                implicit = ev->data.mapping_start.implicit;
                break;
        default:
                return;
        }
        if (anchor)
                vs__diag(ctx, line, column,
                         "YAML anchors and aliases are not supported (anchor '&%s'); write the value out",
                         (const char *)anchor);
        if (tag && !implicit)
                vs__diag(ctx, line, column, "YAML tags are not supported ('%s')", (const char *)tag);
}

int
vs__ytree_parse(vs_diag_ctx *ctx, const char *buf, size_t len, vs_ynode **ret)
{
        frame stack[VS_YAML_MAX_DEPTH];
        size_t depth = 0, documents = 0;
        vs_ynode *root = NULL;
        yaml_parser_t parser;
        bool done = false;
        int r = 0;

        /* A UTF-8 byte order mark is harmless; libyaml only skips it when
         * it detects the encoding itself, which we do not let it do. */
        if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
                buf += 3;
                len -= 3;
        }
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
        /* No UTF-16 autodetection: positions of reader errors are byte offsets
         * into UTF-8, and policy files are UTF-8. */
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

        while (!done) {
                yaml_event_t ev;
                vs_ynode *node = NULL;
                int line, column;

                if (!yaml_parser_parse(&parser, &ev)) {
                        if (parser.error == YAML_MEMORY_ERROR) {
                                r = -ENOMEM;
                        } else {
                                report_parser_error(ctx, &parser, buf, len);
                                r = -EINVAL;
                        }
                        break;
                }
                line = (int)ev.start_mark.line + 1;
                column = (int)ev.start_mark.column + 1;

                switch (ev.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_DOCUMENT_START_EVENT:
                        if (++documents > 1) {
                                vs__diag(ctx, line, column, "only one YAML document is allowed in a policy file");
                                r = -EINVAL;
                                done = true;
                        }
                        break;
                case YAML_ALIAS_EVENT:
                        vs__diag(ctx, line, column,
                                 "YAML anchors and aliases are not supported (alias '*%s'); write the value out",
                                 (const char *)ev.data.alias.anchor);
                        node = calloc(1, sizeof(*node));
                        if (!node)
                                r = -ENOMEM;
                        else
                                node->kind = VS_YNODE_INVALID;
                        break;
                case YAML_SCALAR_EVENT:
                        check_decorations(ctx, &ev, line, column);
                        node = calloc(1, sizeof(*node));
                        if (!node) {
                                r = -ENOMEM;
                                break;
                        }
                        node->kind = VS_YNODE_SCALAR;
                        node->len = ev.data.scalar.length;
                        node->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                        node->value = malloc(node->len + 1);
                        if (!node->value) {
                                free(node);
                                node = NULL;
                                r = -ENOMEM;
                                break;
                        }
                        memcpy(node->value, ev.data.scalar.value, node->len);
                        node->value[node->len] = '\0';
                        break;
                case YAML_SEQUENCE_START_EVENT:
                case YAML_MAPPING_START_EVENT:
                        check_decorations(ctx, &ev, line, column);
                        if (depth == VS_YAML_MAX_DEPTH) {
                                vs__diag(ctx, line, column, "nesting deeper than %d levels", VS_YAML_MAX_DEPTH);
                                r = -EINVAL;
                                done = true;
                                break;
                        }
                        node = calloc(1, sizeof(*node));
                        if (!node) {
                                r = -ENOMEM;
                                break;
                        }
                        node->kind = ev.type == YAML_SEQUENCE_START_EVENT ? VS_YNODE_SEQ : VS_YNODE_MAP;
                        break;
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        depth--;
                        break;
                default:
                        break;
                }

                if (node) {
                        node->line = line;
                        node->column = column;
                        if (depth > 0) {
                                if (append_child(&stack[depth - 1], node) < 0) {
                                        vs__ytree_free(node);
                                        r = -ENOMEM;
                                }
                        } else if (!root) {
                                root = node;
                        } else {
                                vs__ytree_free(node); /* unreachable: one root per document */
                        }
                        if (r == 0 && (node->kind == VS_YNODE_SEQ || node->kind == VS_YNODE_MAP))
                                stack[depth++] = (frame){ .node = node };
                }
                yaml_event_delete(&ev);
                if (r == -ENOMEM)
                        break;
        }
        yaml_parser_delete(&parser);

        if (r == 0 && ctx->oom)
                r = -ENOMEM;
        if (r < 0) {
                vs__ytree_free(root);
                return r;
        }
        /* Anchors, aliases or tags may have been reported, but the tree is
         * complete: the schema walk reports the rest and the caller fails. */
        *ret = root;
        return 0;
}
