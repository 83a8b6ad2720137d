/* The CLI and the control socket: the daemon's request handlers (status,
 * ad-hoc snapshots) over control-server.h, and the client side every
 * command that can go through the daemon uses first. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <uv.h>

#include "control.h"
#include "log.h"
#include "policy.h"
#include "scheduler.h"
#include "store.h"

typedef struct vs_cli_control vs_cli_control;

/* The daemon: listen on cfg's control_socket (or LISTEN_FDS).  Failing to
 * listen is logged and the daemon goes on without the socket (the CLI then
 * says the database is locked, as before).  NULL-safe free. */
vs_cli_control *vs_cli_control_start(uv_loop_t *loop, vs_scheduler *s, vs_store *store, vs_log *log,
                                     const char *socket_path, const char *database);
void vs_cli_control_stop(vs_cli_control *c);

/* A command asks the daemon first.  1: the daemon answered (*ret: its
 * reply, json_object_put it); 0: no daemon listens at socket_path (do the
 * work directly); -1: the daemon is there but could not be asked (printed as
 * "virtsnap CMD: ..."). */
int vs_cli_control_ask(const char *cmd, const char *socket_path, const vs_ctl_request *q, int timeout_ms,
                       json_object **ret);

/* The same, for a command with a policy file: load `config` (NULL: the
 * default), ask its control_socket, with q->database defaulting to the
 * file's.  -1 also when the file cannot be loaded (printed). */
int vs_cli_control_ask_config(const char *cmd, const char *config, vs_ctl_request *q, int timeout_ms,
                              json_object **ret);

/* Reading a reply: a string (NULL if absent or not a string), an integer
 * (0 if absent), "ok". */
const char *vs_cli_reply_str(json_object *o, const char *key);
int64_t vs_cli_reply_int(json_object *o, const char *key);
bool vs_cli_reply_ok(json_object *o);

/* A revert's result as JSON (cmd-revert.c): the daemon's reply, and what
 * the direct path prints from. */
json_object *vs_cli_revert_json(const vs_revert_result *r);

/* "uid 1000 (alice)" for the calling process. */
void vs_cli_control_whoami(char *buf, size_t len);
