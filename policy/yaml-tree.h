/* A small YAML document tree with a position on every node (internal to
 * policy/).
 *
 * libyaml's event parser feeds a tree of scalars, sequences and mappings;
 * each node keeps the 1-based line and column where it starts, so the schema
 * walk in policy.c can point every diagnostic at the offending node.  The
 * builder is deliberately hostile-input proof: it never expands aliases
 * (anchors and aliases are errors, which also defeats "billion laughs"),
 * caps nesting depth, accepts exactly one document, and stops at the first
 * syntax error libyaml reports (the rest of a broken file cannot be trusted). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

#define VS_YAML_MAX_DEPTH 64
#define VS_YAML_MAX_DIAGS 200

typedef enum vs_ynode_kind {
        VS_YNODE_SCALAR,
        VS_YNODE_SEQ,
        VS_YNODE_MAP,
        VS_YNODE_INVALID, /* an alias, already reported: checks skip it silently */
} vs_ynode_kind;

typedef struct vs_ynode vs_ynode;
struct vs_ynode {
        vs_ynode_kind kind;
        int line, column;   /* 1-based */
        /* scalars */
        char *value;        /* NUL-terminated copy */
        size_t len;         /* bytes, may differ from strlen() if the scalar holds NUL */
        bool plain;         /* unquoted: only plain scalars can be null, bools or numbers */
        /* sequences: items[0..n); mappings: items[2i] key, items[2i+1] value */
        vs_ynode **items;
        size_t n;           /* sequence items or mapping pairs */
        size_t n_items;     /* entries in items (odd while a mapping awaits a value) */
};

/* Diagnostics sink shared by the tree builder and the schema walk. */
typedef struct vs_diag_ctx {
        const char *file;
        vs_diags *diags;
        size_t count;       /* problems found, including those past the cap */
        bool oom;
} vs_diag_ctx;

void vs__diag(vs_diag_ctx *ctx, int line, int column, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Parse buf into *ret (NULL for an empty document).  0, -EINVAL (problems
 * reported through ctx) or -ENOMEM. */
int vs__ytree_parse(vs_diag_ctx *ctx, const char *buf, size_t len, vs_ynode **ret);
void vs__ytree_free(vs_ynode *n);

/* A plain scalar spelling null: "", "~", "null", "Null", "NULL". */
bool vs__ynode_is_null(const vs_ynode *n);
/* Human name of what a node is, for "expected X, found Y". */
const char *vs__ynode_describe(const vs_ynode *n);
