/* The scheduler: drives snapshots and prunes on a libuv loop.
 *
 * One vs_scheduler serves a config's policies across every libvirt
 * connection they name.  Per connection it keeps the domain list, a FIFO of
 * jobs in fire order and at most max_concurrent of them running; one job per
 * domain runs at a time, and a firing whose previous job for the same
 * (domain, policy) is still queued or running is recorded as skipped.
 * Deadlines come from plan.h and one clock timer is armed for the earliest.
 * All scheduler state and every store write live on the loop thread;
 * libvirt calls run in uv_queue_work.  Logging goes through the vs_log
 * given (scheduler/ is allowed to log; it never prints or exits).
 *
 * Modes: the daemon fires on schedule until vs_scheduler_stop (SIGTERM);
 * the one-shot modes (`run --once`, `snapshot`, `prune`) connect, run what
 * they were asked, and close every handle, so uv_run returns. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "clock.h"
#include "crash.h"
#include "log.h"
#include "policy.h"
#include "store.h"
#include "virt.h"
#include "vs-err.h"

typedef struct vs_scheduler vs_scheduler;

/* How connections are opened (tests hand out fakes).  Called on a worker
 * thread. */
typedef int (*vs_virt_open_fn)(void *data, const char *uri, vs_virt **ret, vs_err *err);

typedef struct vs_scheduler_opts {
        uv_loop_t *loop;
        vs_clock *clock;                /* required; borrowed */
        vs_log *log;                    /* may be NULL; borrowed */
        vs_store *store;                /* required; borrowed */
        const char *config_path;        /* re-read on reload; NULL: no reload */
        const char *connect_override;   /* --connect */
        const char *only_policy;        /* --policy for run --once / prune */
        vs_virt_open_fn open_virt;      /* NULL: vs_virt_open_libvirt */
        void *open_data;
        int64_t grace_ms;               /* drain on stop; 0 = 60 s */
        int64_t retry_initial_ms, retry_max_ms; /* job retry backoff; 0 = defaults */
        unsigned max_attempts;
        vs_crash *crash;                /* VIRTSNAP_CRASH_AT (util/crash.h); may be NULL; borrowed */
        bool notify;                    /* sd_notify READY/STATUS/STOPPING/WATCHDOG */
        bool signals;                   /* SIGHUP reloads, SIGTERM/SIGINT stop */
} vs_scheduler_opts;

typedef struct vs_scheduler_stats {
        unsigned connections, connections_up;
        unsigned planned;               /* (domain, policy) entries */
        unsigned running, queued;
        unsigned in_flight;             /* workers and hooks the loop waits for */
        unsigned hooks_running;
        unsigned long created, failed, skipped, pruned, cancelled, jobs_done;
        /* of skipped: jobs that started and did not create (a busy domain, the guard) */
        unsigned long skipped_jobs;
        unsigned long undeletable;      /* prunes that left a snapshot libvirt cannot delete */
        unsigned long reloads, reload_failures;
        int64_t next_deadline;          /* UTC s; INT64_MAX if none */
} vs_scheduler_stats;

/* Takes ownership of cfg (also on failure). */
int vs_scheduler_new(const vs_scheduler_opts *o, vs_config *cfg, vs_scheduler **ret, vs_err *err);
/* After the loop has stopped (vs_scheduler_finished). NULL-safe. */
void vs_scheduler_free(vs_scheduler *s);

/* Daemon: open every connection, reconcile, catch up, then fire on schedule. */
int vs_scheduler_start(vs_scheduler *s);
/* `run --once`: every due (domain, policy) once; finishes by itself. */
int vs_scheduler_run_once(vs_scheduler *s);
/* An ad-hoc snapshot: `virtsnap snapshot`, directly or through the daemon's
 * control socket. */
typedef struct vs_adhoc_request {
        const char *domain;             /* by name */
        const char *policy;             /* NULL: the first enabled policy (file order)
                                         * on whose connection the domain is and whose
                                         * selectors match it; needs ttl > 0 */
        int64_t ttl;                    /* s: kept this long whatever the retention
                                         * counts, then pruned; 0 = pruned by retention */
        const char *note;               /* may be NULL */
        const char *requested_by;       /* "uid 1000 (alice)"; may be NULL */
} vs_adhoc_request;

typedef struct vs_adhoc_result {
        bool ok;                        /* the snapshot exists and was recorded */
        const char *domain, *policy;
        const char *snapshot;           /* the name libvirt used; NULL if none */
        int64_t expires;                /* 0 = no lifetime */
        const char *error;              /* why not (or a failed hook); NULL if ok */
        unsigned pruned, undeletable;   /* by the job's prune */
} vs_adhoc_result;

/* Called once per accepted request on the loop thread, when its job is done
 * (or dropped: cancelled on stop, domain gone, ...); r is valid during the
 * call only. */
typedef void (*vs_adhoc_done_fn)(const vs_adhoc_result *r, void *data);

/* `snapshot DOMAIN [--policy P]` without a daemon: one job now; finishes by
 * itself. */
int vs_scheduler_snapshot_now(vs_scheduler *s, const vs_adhoc_request *q, vs_err *err);
/* The running daemon: queue an ad-hoc job now, next to the scheduled ones
 * (same queue, concurrency and one-job-per-domain rule).  -ENOENT no such
 * policy or domain, -EPERM policy disabled or (with a ttl) prune: false,
 * -EHOSTDOWN the policy's connection is down, -ESHUTDOWN stopping.  On
 * success done will be called exactly once; *ret_policy (may be NULL): the
 * policy used, borrowed until then. */
int vs_scheduler_request_snapshot(vs_scheduler *s, const vs_adhoc_request *q, vs_adhoc_done_fn done, void *data,
                                  const char **ret_policy, vs_err *err);
/* `prune`: a prune job for every matched (domain, policy), optionally only
 * this policy / this domain name; finishes by itself. */
int vs_scheduler_prune_now(vs_scheduler *s, const char *policy, const char *domain, vs_err *err);

/* The running daemon: `prune` next to the scheduled jobs: a prune job for
 * every (domain, policy) the policies match (only policy / domain when
 * given; prune: false policies are left alone), on every connection that is
 * up.  done is called once per job (r->ok: it pruned without failing).
 * *ret_jobs: jobs queued (0: done is never called); *ret_down: matched
 * connections that are down (nothing queued for them).  -ENOENT no such
 * policy, -ESHUTDOWN stopping. */
int vs_scheduler_request_prune(vs_scheduler *s, const char *policy, const char *domain, vs_adhoc_done_fn done,
                               void *data, unsigned *ret_jobs, unsigned *ret_down, vs_err *err);

/* The running daemon: `run --once` next to it: a job for every (domain,
 * policy) that is due now and has none in flight (only policy when given),
 * on every connection that is up; each also serves the next regular slot,
 * as a catch-up does.  done is called once per job; *ret_jobs: jobs queued
 * (0: done is never called); *ret_down: connections down.  -ENOENT no
 * such policy, -ESHUTDOWN stopping. */
int vs_scheduler_request_run(vs_scheduler *s, const char *policy, vs_adhoc_done_fn done, void *data,
                             unsigned *ret_jobs, unsigned *ret_down, vs_err *err);

/* The running daemon: `pin`/`unpin` in its store.  -ENOENT (no such
 * snapshot in the history) and other store errors at once, nothing
 * written; else done(changed, NULL) once the change is committed (or
 * done(0, err) when the commit failed). */
typedef void (*vs_pin_done_fn)(unsigned changed, const vs_err *err, void *data);
int vs_scheduler_request_pin(vs_scheduler *s, bool pin, const char *domain, const char *snapshot, const char *reason,
                             vs_pin_done_fn done, void *data, vs_err *err);

/* Append ev to the history's event log (a refused control-socket peer,
 * say) and call done(NULL, data) once it is committed with the loop turn's
 * other writes, or done(err, data) when that commit failed.  -errno (done
 * not called) when it cannot even be written. */
typedef void (*vs_recorded_fn)(const vs_err *err, void *data);
int vs_scheduler_record_event(vs_scheduler *s, const vs_store_event *ev, vs_recorded_fn done, void *data,
                              vs_err *err);

/* `revert DOMAIN SNAPSHOT`: a safety snapshot (an ad-hoc one with a
 * lifetime, under the domain's covering policy or `policy`), then libvirt's
 * revert, recorded as a `reverted` (or `revert-failed`) event with who,
 * from and to.  Refused before anything is done when libvirt 9.0 cannot
 * revert there (vs_virt_revert_check) or when the safety snapshot would be
 * an external one (which would make an internal target unreachable). */
#define VS_REVERT_SAFETY_TTL (7 * 86400)
typedef struct vs_revert_request {
        const char *domain, *snapshot;
        const char *policy;             /* for the safety snapshot; NULL: the covering one */
        bool no_safety;
        int64_t safety_ttl;             /* s; 0: VS_REVERT_SAFETY_TTL */
        bool dry_run;                   /* check and say what would happen; change nothing */
        const char *requested_by;       /* may be NULL */
} vs_revert_request;

typedef struct vs_revert_result {
        bool ok;
        bool dry_run;
        const char *domain, *snapshot;
        const char *from;               /* the current snapshot before; NULL: none */
        const char *policy;             /* of the safety snapshot; NULL: none */
        const char *safety;             /* the safety snapshot taken (NULL: none, or dry run) */
        int64_t safety_ttl;             /* its lifetime (s) */
        int64_t safety_expires;         /* UTC s; 0 if none */
        const char *state;              /* the domain afterwards: "running", "shutoff", ... */
        const char *error;              /* why not; NULL if ok */
} vs_revert_result;

typedef void (*vs_revert_done_fn)(const vs_revert_result *r, void *data);

/* Without a daemon: the revert as a one-shot run; done is called once,
 * then the scheduler finishes by itself. */
int vs_scheduler_revert_now(vs_scheduler *s, const vs_revert_request *q, vs_revert_done_fn done, void *data,
                            vs_err *err);
/* The running daemon.  -ENOENT no such domain (on a connection that is up)
 * or policy, -ESHUTDOWN stopping; else done is called exactly once. */
int vs_scheduler_request_revert(vs_scheduler *s, const vs_revert_request *q, vs_revert_done_fn done, void *data,
                                vs_err *err);

/* SIGHUP: reload config_path.  An invalid file is logged with its
 * FILE:LINE:COL problems and the old policies stay (-EINVAL); a valid one
 * replaces them at once, while jobs in flight finish under the old one. */
int vs_scheduler_reload(vs_scheduler *s);
/* The same with a config already loaded (taken over). */
int vs_scheduler_replace_config(vs_scheduler *s, vs_config *cfg);
/* SIGTERM: start nothing new (queued jobs are recorded as cancelled), let
 * running jobs finish within the grace period, cancel the rest, then close
 * every handle. */
void vs_scheduler_stop(vs_scheduler *s);
/* Every handle closed: the loop may end and the scheduler be freed. */
bool vs_scheduler_finished(const vs_scheduler *s);

void vs_scheduler_get_stats(const vs_scheduler *s, vs_scheduler_stats *ret);
/* The config currently in force (borrowed; changes on reload). */
const vs_config *vs_scheduler_config(const vs_scheduler *s);

/* Why a prune removes a snapshot: "not kept by retention (keep_last 2, ...)"
 * (the history's delete reason; also what `prune --dry-run` shows). */
const char *vs_scheduler_prune_reason(const vs_retention_rules *r, char *buf, size_t len);
