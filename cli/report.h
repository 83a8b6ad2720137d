/* The visual report: one self-contained HTML page (inline CSS and SVG, no
 * script, nothing fetched) with a summary table and, per series, a timeline
 * with one mark per attempt and the retention tiers as bands.  `virtsnap
 * report` fills it from the history. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "policy.h"
#include "tz.h"

typedef enum vs_report_kind {
        VS_MARK_PRESENT,     /* a snapshot that exists */
        VS_MARK_PRUNED,      /* deleted by retention (its lifetime drawn) */
        VS_MARK_VANISHED,    /* deleted outside virtsnap */
        VS_MARK_FAILED,
        VS_MARK_SKIPPED,
        VS_MARK_PINNED,      /* present and pinned */
        VS_MARK_UNDELETABLE, /* present, libvirt cannot delete it */
        VS_MARK_DEFERRED,    /* present, its pruning put off by libvirt */
        VS_MARK_IN_FLIGHT,   /* creating or deleting */
        VS_MARK_N_KINDS,
} vs_report_kind;

typedef struct vs_report_mark {
        int64_t id;          /* the history row */
        vs_report_kind kind;
        int64_t at;          /* created, or started when nothing was created */
        int64_t until;       /* deleted (pruned, vanished); 0 = still there */
        char *detail;        /* the tooltip: name, rule, error */
} vs_report_mark;

typedef struct vs_report_series {
        char *title;                   /* "web1 / daily on qemu:///system" */
        const vs_retention_rules *retention; /* may be NULL: no bands */
        const char *health;            /* status's health word now (static); NULL: unknown */
        int level;                     /* its level: 0 ok, 1 warning, 2 critical */
        vs_report_mark *marks;
        size_t n, cap;
} vs_report_series;

/* Write the page.  since..now is the time axis; tz for the local times. */
int vs_report_write_html(FILE *out, const char *title, const vs_report_series *series, size_t n, int64_t since,
                         int64_t now, const vs_tz *tz);

const char *vs_report_kind_name(vs_report_kind k);
