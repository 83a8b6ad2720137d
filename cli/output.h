/* Listing output shared by the audit commands (history, events, status):
 * a small table of typed columns printed as `--format table` (aligned, local
 * times in the host zone, "-" for null), `json` (an array of objects, times
 * as UTC RFC 3339 strings, durations as integer seconds, null as null; built
 * with json-c) or `csv` (RFC 4180: a header row, CRLF line ends, fields with
 * commas, quotes or line breaks quoted; times UTC RFC 3339, durations in
 * seconds, null as an empty field).  Column names are the JSON keys and the
 * CSV header; the table header is the name upper-cased. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "retention.h"
#include "tz.h"

typedef enum vs_col_type {
        VS_COL_TEXT,
        VS_COL_INT,
        VS_COL_TIME,     /* UTC Unix seconds */
        VS_COL_DURATION, /* seconds */
        VS_COL_BOOL,     /* yes/no; JSON true/false; CSV true/false */
} vs_col_type;

enum {
        VS_COL_TABLE_ONLY = 1 << 0,   /* a human summary; not in JSON or CSV */
        VS_COL_MACHINE_ONLY = 1 << 1, /* in JSON and CSV, too wide for the table */
};

typedef enum vs_format {
        VS_FORMAT_TABLE,
        VS_FORMAT_JSON,
        VS_FORMAT_CSV,
} vs_format;

typedef struct vs_column {
        const char *name;
        vs_col_type type;
        unsigned flags;
} vs_column;

typedef struct vs_table vs_table;

/* "table", "json", "csv"; -1 if unknown. */
int vs_format_from_string(const char *s);

/* cols must outlive the table.  NULL on out of memory. */
vs_table *vs_table_new(const vs_column *cols, size_t n);
void vs_table_free(vs_table *t);
size_t vs_table_rows(const vs_table *t);
/* Start a new row; its cells are null until set.  0 or -ENOMEM. */
int vs_table_add_row(vs_table *t);
/* Set a cell of the last row.  Text NULL = null.  0 or -ENOMEM/-EINVAL. */
int vs_table_set_text(vs_table *t, size_t col, const char *v);
/* For INT, TIME, DURATION and BOOL columns. */
int vs_table_set_int(vs_table *t, size_t col, int64_t v);

/* Print in format f.  tz: the zone for table times (NULL = UTC).  0, or
 * -EIO on a write error (errno-style: the caller reports it). */
int vs_table_print(const vs_table *t, vs_format f, const vs_tz *tz, FILE *out);

struct json_object;

/* Print o the way every command prints JSON (json-c's pretty, spaced form,
 * '/' not escaped), then a newline. */
void vs_output_print_json(struct json_object *o, FILE *out);
/* One retention verdict as `retention --json` and `simulate --json` print
 * it: {"time", "epoch", "action", "rule"}. */
struct json_object *vs_output_retention_item_json(const vs_retention_item *it);

/* "2026-03-29 03:00:00" in tz (UTC when NULL); buf of VS_TIME_BUFSZ bytes. */
char *vs_output_format_local(const vs_tz *tz, int64_t t, char *buf, size_t len);
/* Two most significant units, for humans: "3d4h", "45m", "0s". */
char *vs_output_format_duration(int64_t secs, char *buf, size_t len);
