/* The daemon's control requests and the CLI's way of asking (cli-control.h). */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli-config.h"
#include "cli-control.h"
#include "control-client.h"
#include "control-server.h"

struct vs_cli_control {
        vs_ctl_server *srv;
        vs_scheduler *s;
        vs_store *store;
        vs_log *log;
        char *database;
        int64_t started;
};

/* One accepted snapshot request: answered when queued, or (wait) when done. */
typedef struct snap_call {
        vs_ctl_call *call;              /* NULL once answered */
} snap_call;

static json_object *
ok_reply(void)
{
        json_object *o = json_object_new_object();

        if (o)
                json_object_object_add(o, "ok", json_object_new_boolean(true));
        return o;
}

static void
add_str(json_object *o, const char *key, const char *v)
{
        if (o && v)
                json_object_object_add(o, key, json_object_new_string(v));
}

static void
on_snapshot_done(const vs_adhoc_result *r, void *data)
{
        snap_call *sc = data;
        json_object *o;

        if (sc->call) {
                o = json_object_new_object();
                if (o) {
                        json_object_object_add(o, "ok", json_object_new_boolean(r->ok));
                        add_str(o, "domain", r->domain);
                        add_str(o, "policy", r->policy);
                        add_str(o, "snapshot", r->snapshot);
                        if (r->expires > 0)
                                json_object_object_add(o, "expires", json_object_new_int64(r->expires));
                        add_str(o, "error", r->error);
                        if (!r->ok)
                                add_str(o, "code", "EIO");
                }
                vs_ctl_reply(sc->call, o);
        }
        free(sc);
}

static void
handle_snapshot(vs_cli_control *cc, vs_ctl_call *call, const vs_ctl_peer *peer, const vs_ctl_request *q)
{
        vs_adhoc_request a = {
                .domain = q->domain, .policy = q->policy, .ttl = q->ttl, .note = q->note,
                .requested_by = peer->who,
        };
        snap_call *sc = calloc(1, sizeof(*sc));
        const char *policy = NULL;
        vs_err e = { 0 };
        json_object *o;
        int r;

        if (!sc) {
                vs_ctl_reply(call, NULL);
                return;
        }
        sc->call = call;
        r = vs_scheduler_request_snapshot(cc->s, &a, on_snapshot_done, sc, &policy, &e);
        if (r < 0) {
                free(sc);
                vs_log_info(cc->log, "control: snapshot of %s for %s refused: %s", q->domain, peer->who, e.msg);
                vs_ctl_reply(call, vs_ctl_error_reply(-r, e.msg));
                return;
        }
        if (q->wait)
                return; /* on_snapshot_done answers */
        o = ok_reply();
        if (o) {
                json_object_object_add(o, "queued", json_object_new_boolean(true));
                add_str(o, "domain", q->domain);
                add_str(o, "policy", policy);
        }
        sc->call = NULL;
        vs_ctl_reply(call, o);
}

/* A prune or run request: one reply when its last job is done. */
typedef struct prune_call {
        vs_ctl_call *call;
        unsigned jobs, finished, down, failed, pruned, undeletable, created, skipped;
        bool counted;                   /* jobs is known (a job may finish at once) */
        char first_error[512];
} prune_call;

static void
prune_reply(prune_call *pc)
{
        json_object *o = json_object_new_object();

        if (o) {
                json_object_object_add(o, "ok", json_object_new_boolean(pc->failed == 0 && pc->down == 0));
                json_object_object_add(o, "jobs", json_object_new_int64(pc->jobs));
                json_object_object_add(o, "pruned", json_object_new_int64(pc->pruned));
                json_object_object_add(o, "undeletable", json_object_new_int64(pc->undeletable));
                json_object_object_add(o, "failed", json_object_new_int64(pc->failed));
                json_object_object_add(o, "created", json_object_new_int64(pc->created));
                json_object_object_add(o, "down", json_object_new_int64(pc->down));
                if (pc->first_error[0])
                        add_str(o, "error", pc->first_error);
                else if (pc->down)
                        add_str(o, "error", "a matched policy's connection is down: nothing was done there");
        }
        vs_ctl_reply(pc->call, o);
        free(pc);
}

static void
on_prune_done(const vs_adhoc_result *r, void *data)
{
        prune_call *pc = data;

        pc->pruned += r->pruned;
        pc->undeletable += r->undeletable;
        pc->created += r->ok && r->snapshot;
        if (!r->ok) {
                pc->failed++;
                if (!pc->first_error[0])
                        snprintf(pc->first_error, sizeof(pc->first_error), "%s/%s: %s", r->domain,
                                 r->policy ? r->policy : "?", r->error ? r->error : "failed");
        }
        if (++pc->finished == pc->jobs && pc->counted)
                prune_reply(pc);
}

/* prune and `run --once`: jobs queued in the daemon, one reply when the
 * last of them is done. */
static void
handle_jobs(vs_cli_control *cc, vs_ctl_call *call, const vs_ctl_peer *peer, const vs_ctl_request *q)
{
        prune_call *pc = calloc(1, sizeof(*pc));
        vs_err e = { 0 };
        unsigned jobs = 0, down = 0;
        int r;

        if (!pc) {
                vs_ctl_reply(call, NULL);
                return;
        }
        pc->call = call;
        if (q->cmd == VS_CTL_RUN)
                r = vs_scheduler_request_run(cc->s, q->policy, on_prune_done, pc, &jobs, &down, &e);
        else
                r = vs_scheduler_request_prune(cc->s, q->policy, q->domain, on_prune_done, pc, &jobs, &down, &e);
        if (r < 0) {
                free(pc);
                vs_ctl_reply(call, vs_ctl_error_reply(-r, e.msg));
                return;
        }
        vs_log_info(cc->log, "control: %s for %s: %u jobs", vs_ctl_cmd_to_string(q->cmd), peer->who, jobs);
        pc->jobs = jobs;
        pc->down = down;
        pc->counted = true;
        if (pc->finished == jobs)
                prune_reply(pc);
}

static void
on_pin_done(unsigned changed, const vs_err *err, void *data)
{
        json_object *o;

        if (err) {
                vs_ctl_reply(data, vs_ctl_error_reply(EIO, err->msg));
                return;
        }
        o = ok_reply();
        if (o)
                json_object_object_add(o, "changed", json_object_new_int64(changed));
        vs_ctl_reply(data, o);
}

static void
handle_pin(vs_cli_control *cc, vs_ctl_call *call, const vs_ctl_peer *peer, const vs_ctl_request *q)
{
        bool pin = q->cmd == VS_CTL_PIN;
        vs_err e = { 0 };
        int r;

        r = vs_scheduler_request_pin(cc->s, pin, q->domain, q->snapshot, q->reason, on_pin_done, call, &e);
        if (r < 0) {
                vs_ctl_reply(call, vs_ctl_error_reply(-r, e.msg[0] ? e.msg : strerror(-r)));
                return;
        }
        vs_log_info(cc->log, "control: %s %s of %s for %s", pin ? "pin" : "unpin", q->snapshot, q->domain, peer->who);
}

static void
on_revert_done(const vs_revert_result *r, void *data)
{
        vs_ctl_reply(data, vs_cli_revert_json(r));
}

static void
handle_revert(vs_cli_control *cc, vs_ctl_call *call, const vs_ctl_peer *peer, const vs_ctl_request *q)
{
        vs_revert_request rq = {
                .domain = q->domain, .snapshot = q->snapshot, .policy = q->policy, .no_safety = q->no_safety,
                .safety_ttl = q->ttl, .dry_run = q->dry_run, .requested_by = peer->who,
        };
        vs_err e = { 0 };
        int r;

        r = vs_scheduler_request_revert(cc->s, &rq, on_revert_done, call, &e);
        if (r < 0) {
                vs_log_info(cc->log, "control: revert of %s for %s refused: %s", q->domain, peer->who, e.msg);
                vs_ctl_reply(call, vs_ctl_error_reply(-r, e.msg));
        }
}

static void
handle_status(vs_cli_control *cc, vs_ctl_call *call)
{
        vs_scheduler_stats st;
        json_object *o = ok_reply();

        vs_scheduler_get_stats(cc->s, &st);
        if (o) {
                json_object_object_add(o, "pid", json_object_new_int64(getpid()));
                json_object_object_add(o, "started", json_object_new_int64(cc->started));
                add_str(o, "database", cc->database);
                json_object_object_add(o, "connections", json_object_new_int64(st.connections));
                json_object_object_add(o, "connections_up", json_object_new_int64(st.connections_up));
                json_object_object_add(o, "running", json_object_new_int64(st.running));
                json_object_object_add(o, "queued", json_object_new_int64(st.queued));
                json_object_object_add(o, "created", json_object_new_int64((int64_t)st.created));
                json_object_object_add(o, "failed", json_object_new_int64((int64_t)st.failed));
                json_object_object_add(o, "skipped", json_object_new_int64((int64_t)st.skipped));
                json_object_object_add(o, "pruned", json_object_new_int64((int64_t)st.pruned));
                if (st.next_deadline != INT64_MAX)
                        json_object_object_add(o, "next_deadline", json_object_new_int64(st.next_deadline));
        }
        vs_ctl_reply(call, o);
}

static bool
same_file(const char *a, const char *b)
{
        char *ra = realpath(a, NULL);
        bool same = strcmp(ra ? ra : a, b) == 0;

        free(ra);
        return same;
}

static void
on_request(vs_ctl_call *call, const vs_ctl_peer *peer, const vs_ctl_request *q, void *data)
{
        vs_cli_control *cc = data;
        char msg[640];

        /* A request meant for another history is not this daemon's to serve. */
        if (q->database && cc->database && !same_file(q->database, cc->database)) {
                snprintf(msg, sizeof(msg), "this daemon keeps %s, not %s", cc->database, q->database);
                vs_ctl_reply(call, vs_ctl_error_reply(EXDEV, msg));
                return;
        }
        vs_log_debug(cc->log, "control: %s from %s", vs_ctl_cmd_to_string(q->cmd), peer->who);
        switch (q->cmd) {
        case VS_CTL_STATUS:
                handle_status(cc, call);
                break;
        case VS_CTL_SNAPSHOT:
                handle_snapshot(cc, call, peer, q);
                break;
        case VS_CTL_PRUNE:
        case VS_CTL_RUN:
                handle_jobs(cc, call, peer, q);
                break;
        case VS_CTL_REVERT:
                handle_revert(cc, call, peer, q);
                break;
        case VS_CTL_PIN:
        case VS_CTL_UNPIN:
                handle_pin(cc, call, peer, q);
                break;
        }
}

typedef struct refusal {
        vs_ctl_call *call;
        vs_log *log;
        char *why;
} refusal;

static void
on_refusal_recorded(const vs_err *err, void *data)
{
        refusal *rf = data;

        if (err)
                vs_log_err(rf->log, "control: cannot record the refusal: %s", err->msg);
        vs_ctl_reply(rf->call, vs_ctl_error_reply(EACCES, rf->why));
        free(rf->why);
        free(rf);
}

/* The refusal is answered once it is committed, with the loop turn's other
 * writes: whoever reads the events after the answer finds it. */
static void
on_refused(vs_ctl_call *call, const vs_ctl_peer *peer, const char *why, void *data)
{
        vs_cli_control *cc = data;
        vs_store_event ev = { .time = (int64_t)time(NULL), .kind = VS_EVENT_REFUSED, .message = why };
        refusal *rf = calloc(1, sizeof(*rf));
        vs_err e = { 0 };

        (void)peer;
        vs_log_warning(cc->log, "control: %s", why);
        if (rf)
                rf->why = strdup(why);
        if (!rf || !rf->why) {
                free(rf);
                vs_log_err(cc->log, "control: cannot record the refusal: out of memory");
                vs_ctl_reply(call, vs_ctl_error_reply(EACCES, why));
                return;
        }
        rf->call = call;
        rf->log = cc->log;
        if (vs_scheduler_record_event(cc->s, &ev, on_refusal_recorded, rf, &e) < 0) {
                vs_log_err(cc->log, "control: cannot record the refusal: %s", e.msg);
                on_refusal_recorded(NULL, rf);
        }
}

static void
on_bad(const vs_ctl_peer *peer, const char *why, void *data)
{
        vs_cli_control *cc = data;

        vs_log_info(cc->log, "control: bad request from %s: %s", peer->who, why);
}

vs_cli_control *
vs_cli_control_start(uv_loop_t *loop, vs_scheduler *s, vs_store *store, vs_log *log, const char *socket_path,
                     const char *database)
{
        vs_cli_control *cc = calloc(1, sizeof(*cc));
        vs_err e = { 0 };

        char *real = database ? realpath(database, NULL) : NULL;

        if (cc && (real || database))
                cc->database = real ? real : strdup(database);
        if (!cc || (database && !cc->database)) {
                free(cc);
                vs_log_err(log, "control socket: out of memory");
                return NULL;
        }
        cc->s = s;
        cc->store = store;
        cc->log = log;
        cc->started = (int64_t)time(NULL);
        if (vs_ctl_server_new(&(vs_ctl_server_opts){
                                      .loop = loop, .path = socket_path, .socket_activation = true,
                                      .handler = on_request, .refused = on_refused, .bad = on_bad, .data = cc,
                              },
                              &cc->srv, &e) < 0) {
                vs_log_err(log, "control socket: %s; `virtsnap snapshot` and `status` cannot reach this daemon",
                           e.msg);
                free(cc->database);
                free(cc);
                return NULL;
        }
        vs_log_info(log, "control socket: %s%s", socket_path,
                    vs_ctl_server_activated(cc->srv) ? " (from systemd)" : "");
        return cc;
}

void
vs_cli_control_stop(vs_cli_control *cc)
{
        if (!cc)
                return;
        vs_ctl_server_close(cc->srv);
        free(cc->database);
        free(cc);
}

int
vs_cli_control_ask(const char *cmd, const char *socket_path, const vs_ctl_request *q, int timeout_ms,
                   json_object **ret)
{
        vs_err e = { 0 };
        int fd = -1, r;

        r = vs_ctl_connect(socket_path, &fd, &e);
        if (r == -ENOENT || r == -ECONNREFUSED)
                return 0;
        if (r < 0) {
                fprintf(stderr, "virtsnap %s: %s\n", cmd, e.msg);
                return -1;
        }
        r = vs_ctl_call_daemon(fd, q, timeout_ms, ret, &e);
        close(fd);
        if (r < 0) {
                fprintf(stderr, "virtsnap %s: the daemon at %s: %s\n", cmd, socket_path, e.msg);
                return -1;
        }
        /* A daemon of another history answers there: not ours to ask (the
         * database's lock decides whether the work can be done here). */
        {
                json_object *code;

                if (json_object_object_get_ex(*ret, "code", &code) &&
                    strcmp(json_object_get_string(code), "EXDEV") == 0) {
                        json_object_put(*ret);
                        *ret = NULL;
                        return 0;
                }
        }
        return 1;
}

int
vs_cli_control_ask_config(const char *cmd, const char *config, vs_ctl_request *q, int timeout_ms,
                          json_object **ret)
{
        vs_config *cfg = NULL;
        int r;

        if (vs_cli_load_config(config, &cfg) < 0) {
                fprintf(stderr, "virtsnap %s: cannot load the policy file\n", cmd);
                return -1;
        }
        if (!q->database)
                q->database = cfg->database;
        r = vs_cli_control_ask(cmd, cfg->control_socket, q, timeout_ms, ret);
        if (q->database == cfg->database)
                q->database = NULL;
        vs_config_free(cfg);
        return r;
}

const char *
vs_cli_reply_str(json_object *o, const char *key)
{
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v) : NULL;
}

int64_t
vs_cli_reply_int(json_object *o, const char *key)
{
        json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

bool
vs_cli_reply_ok(json_object *o)
{
        json_object *v;

        return json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v);
}

void
vs_cli_control_whoami(char *buf, size_t len)
{
        struct passwd pw, *res = NULL;
        char tmp[4096];
        uid_t uid = getuid();

        if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
                snprintf(buf, len, "uid %u (%.64s)", (unsigned)uid, pw.pw_name);
        else
                snprintf(buf, len, "uid %u", (unsigned)uid);
}
