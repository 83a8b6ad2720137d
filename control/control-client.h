/* The CLI's end of the control socket: connect, send one request, read one
 * reply (blocking; the CLI has no loop). */
#pragma once

#include <json-c/json.h>

#include "control.h"
#include "vs-err.h"

/* Connect to the daemon at path.  -ENOENT / -ECONNREFUSED: no daemon listens
 * there (the caller may do the work itself); -EACCES: a daemon listens but
 * this user may not talk to it; other -errno otherwise.  *ret_fd on success. */
int vs_ctl_connect(const char *path, int *ret_fd, vs_err *err);
/* Send q and wait for the reply (*ret: the parsed object, json_object_put
 * it).  timeout_ms <= 0: wait as long as it takes (snapshot --wait). */
int vs_ctl_call_daemon(int fd, const vs_ctl_request *q, int timeout_ms, json_object **ret, vs_err *err);
