/* Internal to scheduler/: the state scheduler.c and connection.c share, and
 * the few functions each calls in the other.  Everything here runs on the
 * loop thread, except the worker I/O fields of sched_conn, which only the
 * refresh and reconcile workers in connection.c touch while c->busy.
 * Callers outside scheduler/ use scheduler.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "commit.h"
#include "job.h"
#include "plan.h"
#include "scheduler.h"

typedef struct cfg_ref {
        vs_config *cfg;
        unsigned refs;
} cfg_ref;

typedef struct firing {
        char *domain;
        char uuid[37];
        size_t policy_index;
        int64_t scheduled;
        cfg_ref *cfg;
        vs_job_kind kind;
        vs_origin origin;
        /* Ad-hoc requests only; owned (NULL/0 otherwise). */
        int64_t ttl;
        char *note, *requested_by;
        vs_adhoc_done_fn done;
        void *done_data;
} firing;

/* A catch-up taken for (domain, policy) at `at`: it also serves a regular
 * slot due soon after (VS_CATCH_UP_COVERS), so the two are not 1 s apart. */
typedef struct catch_up {
        char uuid[37];
        char *policy;
        int64_t at;
        bool failed;                /* it made no snapshot: it serves nothing */
} catch_up;

/* Reconnect backoff: doubling from 1 s to 5 min. */
#define VS_CONN_BACKOFF_MIN_MS 1000
#define VS_CONN_BACKOFF_MAX_MS (5 * 60 * 1000)

/* A regular slot whose deadline is less than this fraction of the
 * schedule's period after a catch-up is served by that catch-up.  Half a
 * period, not a whole one: the issue asked for "within the interval", but
 * with a whole period a catch-up at 10:01 would also swallow 11:00, leaving
 * 10:01 -> 12:00 and `status` rightly calling the series late. */
#define VS_CATCH_UP_COVERS_NUM 1
#define VS_CATCH_UP_COVERS_DEN 2

/* An ad-hoc request waiting for a connection's first listing. */
typedef struct adhoc_wait {
        char *domain, *policy, *note, *requested_by;
        int64_t ttl;
        vs_adhoc_done_fn done;
        void *done_data;
} adhoc_wait;

typedef struct sched_conn sched_conn;

typedef struct sched_job {
        vs_scheduler *s;
        sched_conn *conn;
        vs_job *job;
        cfg_ref *cfg;
        bool running;
        vs_adhoc_done_fn done;          /* an ad-hoc request waits for it */
        void *done_data;
} sched_job;

struct sched_conn {
        vs_scheduler *s;
        char *uri;
        vs_virt *virt;
        bool up, failed_once;
        bool busy;                  /* a refresh or reconcile worker in flight */
        bool refresh_again;
        bool reconcile_pending, catch_up_pending;
        bool wanted;                /* one-shot: this connection has work */
        bool oneshot_done;
        bool listed;
        vs_domain_list domains;
        vs_virt_watch *watch;       /* define/undefine/lifecycle/close events */
        vs_clock_timer *retry_timer;
        int64_t backoff_ms;
        unsigned failures;          /* failed attempts since it was last up */
        bool retry_pending;         /* retry_timer armed: waiting out the backoff */

        firing *pending;
        size_t n_pending, cap_pending;
        catch_up *catch_ups;
        size_t n_catch_ups;
        sched_job **jobs;           /* queued and running, in fire order */
        size_t n_jobs, cap_jobs;
        unsigned running;
        bool pumping, pump_again;

        /* Worker I/O. */
        uv_work_t work;
        int w_r;
        vs_err w_err;
        vs_virt *w_virt;
        /* The trees the last reconcile listed (with the backend's handles),
         * for the jobs that start on those domains right after it
         * (vs__sched_known_take): a one-shot run, a daemon's catch-up.  Only
         * domains with a job queued keep theirs, and none is handed out
         * once older than KNOWN_TREE_MAX_AGE_MS. */
        struct sched_known *known;
        /* The reconcile's listing, split over up to max_concurrent workers
         * (over a remote link each domain is a few round trips in a row). */
        struct rec_slice *rec_slices;
        size_t rec_left;                /* slices still listing */
        size_t n_known;
        int64_t known_at_ms;
        vs_domain_list w_domains;
        unsigned w_list_flags;          /* VS_LIST_DOMAINS_*: set on the loop before the refresh */
        char **w_rec_names;
        char **w_rec_uuids;
        vs_snapshot_tree *w_trees;
        int *w_tree_r;
        size_t w_n_rec;
};

typedef enum sched_mode {
        MODE_IDLE,
        MODE_DAEMON,
        MODE_DUE,
        MODE_SNAPSHOT,
        MODE_PRUNE,
        MODE_REVERT,
} sched_mode;

typedef struct sched_revert sched_revert;

struct vs_scheduler {
        vs_scheduler_opts o;
        char *config_path, *connect_override, *only_policy;
        char *os_domain, *os_policy;    /* one-shot targets */
        int64_t os_ttl;                 /* `snapshot --ttl` (one-shot) */
        char *os_note, *os_requested_by;
        bool os_queued;                 /* `snapshot` without --policy: queued once */
        sched_revert *os_revert;        /* `revert` without a daemon: the request, until started */
        sched_revert **reverts;         /* in flight (scheduler/revert.c) */
        size_t n_reverts;
        cfg_ref *cfg;
        sched_conn **conns;
        size_t n_conns;
        vs_plan *plan;
        vs_commit *commit;              /* one commit per loop iteration */
        vs_clock_timer *plan_timer, *grace_timer, *watchdog_timer;
        vs_clock_timer *expiry_timer;   /* the earliest `snapshot --ttl` lifetime */
        int64_t expiry_looked;          /* UTC s of the last look for expired ones */
        adhoc_wait *waiting;            /* requests made before their connection was listed */
        size_t n_waiting;
        bool retrying;
        uint64_t watchdog_usec;
        /* STATUS= to systemd at most once a second (vs__sched_notify_status):
         * it walks every job, and a firing of N jobs would walk N^2. */
        vs_clock_timer *status_timer;
        int64_t status_sent_ms;
        bool status_armed;
        int64_t watermark;
        uv_signal_t *signals[3];
        sched_mode mode;
        bool stopping, closed;
        vs_scheduler_stats st;
};

/* scheduler.c: helpers, plan, firings and jobs. */
int64_t vs__sched_now_s(const vs_scheduler *s);
void vs__sched_record_event(vs_scheduler *s, vs_event_kind kind, const char *conn, const char *msg);
void vs__sched_notify_status(vs_scheduler *s);
sched_conn *vs__sched_find_conn(vs_scheduler *s, const char *uri);
bool vs__sched_domain_has_job(const sched_conn *c, const char *uuid, const char *policy, bool running_only);
void vs__sched_replan(vs_scheduler *s);
void vs__sched_dispatch_pending(sched_conn *c);
void vs__sched_queue_due(sched_conn *c, bool catch_up_only);
void vs__sched_queue_oneshot(sched_conn *c);
const vs_policy *vs__sched_find_policy(const vs_scheduler *s, const char *name, size_t *ret_index);
const vs_domain_info *vs__sched_conn_domain(const sched_conn *c, const char *name);
const vs_policy *vs__sched_covering_policy(const vs_scheduler *s, const sched_conn *c, const vs_domain_info *d,
                                           size_t *ret_index);
/* Queue an ad-hoc snapshot of d under policy pi on c (checked as a request
 * is); done is called once when its job is over. */
int vs__sched_queue_adhoc(sched_conn *c, const vs_domain_info *d, size_t pi, const vs_adhoc_request *q,
                          vs_adhoc_done_fn done, void *data, vs_err *err);

/* revert.c */
/* MODE_REVERT: c has been listed; start the one-shot revert if d is there. */
void vs__sched_revert_oneshot(sched_conn *c);
/* MODE_REVERT with every connection listed and no revert started: tell the
 * requester the domain was not found. */
void vs__sched_revert_unfound(vs_scheduler *s);
void vs__sched_reverts_free(vs_scheduler *s);
/* Reverts with a worker out (checking or reverting; a safety snapshot is a job). */
unsigned vs__sched_reverts_in_flight(const vs_scheduler *s);

/* After each change: trim the heap when idle; shut down once stopping (or a
 * one-shot run is done) and nothing is busy. */
void vs__sched_check_finished(vs_scheduler *s);

/* connection.c: refresh and reconcile. */
void vs__sched_start_refresh(sched_conn *c);
/* Move the reconcile's tree of domain uuid into *ret, if it has one young
 * enough; false otherwise. */
bool vs__sched_known_take(sched_conn *c, const char *uuid, vs_snapshot_tree *ret);
void vs__sched_known_clear(sched_conn *c);
int vs__sched_ensure_conns(vs_scheduler *s, const char *only_policy);
