/* The daemon's end of the control socket: a unix stream socket on the
 * libuv loop (uv_pipe), one request line at a time per client.
 *
 * Who may ask: root, the daemon's own user, and members of the control
 * group (`virtsnap`), judged from the peer's credentials (SO_PEERCRED) when
 * it connects, never from anything it sends.  Anyone else gets one error
 * reply and is disconnected; the refused callback hears of it first, to log
 * and record it, and gives that reply when the record is made.  The socket file is created mode 0660, group `virtsnap` when
 * that group exists; with systemd socket activation (LISTEN_FDS) the socket
 * systemd passes is used as it is.
 *
 * Replies may come later than the request (a snapshot --wait replies when
 * its job is done): the handler keeps the vs_ctl_call and answers it with
 * vs_ctl_reply, exactly once.  A client that goes away meanwhile loses the
 * reply, nothing else.  The server's handles do not keep the loop alive. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

#include "control.h"
#include "vs-err.h"

typedef struct vs_ctl_server vs_ctl_server;
typedef struct vs_ctl_call vs_ctl_call;

typedef struct vs_ctl_peer {
        uid_t uid;
        gid_t gid;
        pid_t pid;
        char who[96];           /* "uid 1000 (alice)", for logs and the history */
} vs_ctl_peer;

/* req is valid during the call only; call until vs_ctl_reply. */
typedef void (*vs_ctl_handler_fn)(vs_ctl_call *call, const vs_ctl_peer *peer, const vs_ctl_request *req,
                                  void *data);
/* A peer was refused (why: "not root and not in group virtsnap").  Answer
 * call with vs_ctl_reply (vs_ctl_error_reply(EACCES, why)), exactly once,
 * when ready; nothing else is read from the peer, which is disconnected
 * after the answer.  Without a refused callback the server answers. */
typedef void (*vs_ctl_refused_fn)(vs_ctl_call *call, const vs_ctl_peer *peer, const char *why, void *data);
/* A request could not be parsed (it was answered with the error). */
typedef void (*vs_ctl_bad_fn)(const vs_ctl_peer *peer, const char *why, void *data);

typedef struct vs_ctl_server_opts {
        uv_loop_t *loop;
        const char *path;               /* the socket file */
        const char *group;              /* NULL: "virtsnap" */
        bool socket_activation;         /* take a LISTEN_FDS socket when there is one */
        vs_ctl_handler_fn handler;
        vs_ctl_refused_fn refused;      /* may be NULL */
        vs_ctl_bad_fn bad;              /* may be NULL */
        void *data;
} vs_ctl_server_opts;

/* Listen.  -EADDRINUSE when another process answers on path; a stale file
 * (nobody answers) is replaced. */
int vs_ctl_server_new(const vs_ctl_server_opts *o, vs_ctl_server **ret, vs_err *err);
/* Stop listening, remove the socket file (unless systemd passed it), close
 * every client; replies still owed are dropped when given.  The memory goes
 * with the last close callback.  NULL-safe. */
void vs_ctl_server_close(vs_ctl_server *s);
/* Whether the socket came from systemd (LISTEN_FDS). */
bool vs_ctl_server_activated(const vs_ctl_server *s);

/* Answer a call and free it; takes the reply object.  NULL reply: ENOMEM. */
void vs_ctl_reply(vs_ctl_call *call, json_object *reply);
/* {"ok": false, "error": msg, "code": errno name}. */
json_object *vs_ctl_error_reply(int code, const char *msg);
