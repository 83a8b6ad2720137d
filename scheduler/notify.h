/* Notifications (a policy's or the file's notify:): when a job fails, a
 * firing is skipped or a series recovers, the notify command runs with the
 * event as one JSON object on stdin:
 *
 *   {"event": "failure", "time": "2026-12-06T12:00:00Z", "host": "hv1",
 *    "connection": "qemu:///system", "domain": "web-01", "domain_uuid": "...",
 *    "policy": "nightly", "snapshot": "nightly-...", "message": "..."}
 *
 * through the hook runner (argv, no shell, own process group, killed at its
 * timeout; VIRTSNAP_PHASE=notify, VIRTSNAP_RESULT=the event).  Nothing
 * waits for a notifier: the loop goes on, and a notifier that fails (cannot
 * start, exits non-zero, times out) is logged and recorded as a
 * `notify-failed` event.  Loop thread only. */
#pragma once

#include <stdint.h>

#include "clock.h"
#include "log.h"
#include "policy.h"
#include "store.h"

typedef struct vs_notify_info {
        vs_notify_event event;
        const char *connection, *domain, *domain_uuid, *policy; /* domain_uuid may be NULL */
        const char *snapshot, *message;                          /* may be NULL */
        int64_t time;
} vs_notify_info;

/* The notify in force for p: its own, else the file's; NULL when none. */
const vs_notify *vs_notify_for(const vs_config *cfg, const vs_policy *p);

/* Start n's command for ev when n asks for that event.  log and store
 * (may be NULL) must outlive the child: the CLI frees them only after the
 * loop has run dry. */
void vs_notify_send(vs_clock *clock, vs_log *log, vs_store *store, const vs_notify *n, const vs_tz *tz,
                    const vs_notify_info *ev);
