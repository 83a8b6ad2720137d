/* The control socket client (control-client.h): plain blocking sockets. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control-client.h"

int
vs_ctl_connect(const char *path, int *ret_fd, vs_err *err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, e;

        if (strlen(path) >= sizeof(sa.sun_path))
                return vs_err_set(err, ENAMETOOLONG, "control", "%s: path too long for a unix socket", path);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return vs_err_set(err, errno, "control", "socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                e = errno;
                close(fd);
                if (e == EACCES || e == EPERM)
                        return vs_err_set(err, EACCES, "control",
                                          "permission denied on %s: talking to the daemon needs root or group virtsnap",
                                          path);
                return vs_err_set(err, e, "control", "%s: %s", path, strerror(e));
        }
        *ret_fd = fd;
        return 0;
}

static int64_t
now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
vs_ctl_call_daemon(int fd, const vs_ctl_request *q, int timeout_ms, json_object **ret, vs_err *err)
{
        char *line = vs_ctl_request_format(q), *buf = NULL;
        size_t len, off = 0, have = 0;
        int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
        json_object *o;
        int r = 0;

        if (!line)
                return vs_err_set(err, ENOMEM, "control", "out of memory");
        len = strlen(line);
        while (off < len) {
                ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = vs_err_set(err, errno, "control", "sending to the daemon: %s", strerror(errno));
                        goto out;
                }
                off += (size_t)n;
        }
        buf = malloc(VS_CTL_MAX_LINE);
        if (!buf) {
                r = vs_err_set(err, ENOMEM, "control", "out of memory");
                goto out;
        }
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int wait = deadline ? (int)(deadline - now_ms()) : -1;
                ssize_t n;
                char *nl;

                if (deadline && wait <= 0) {
                        r = vs_err_set(err, ETIMEDOUT, "control", "the daemon did not answer within %d s",
                                       timeout_ms / 1000);
                        goto out;
                }
                n = poll(&p, 1, wait);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = vs_err_set(err, errno, "control", "poll: %s", strerror(errno));
                        goto out;
                }
                if (n == 0)
                        continue;
                n = recv(fd, buf + have, VS_CTL_MAX_LINE - 1 - have, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = vs_err_set(err, errno, "control", "reading the daemon's reply: %s", strerror(errno));
                        goto out;
                }
                if (n == 0) {
                        r = vs_err_set(err, EPIPE, "control", "the daemon closed the connection without a reply");
                        goto out;
                }
                have += (size_t)n;
                nl = memchr(buf, '\n', have);
                if (nl) {
                        *nl = '\0';
                        break;
                }
                if (have >= VS_CTL_MAX_LINE - 1) {
                        r = vs_err_set(err, E2BIG, "control", "the daemon's reply is too long");
                        goto out;
                }
        }
        o = json_tokener_parse(buf);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                r = vs_err_set(err, EPROTO, "control", "the daemon's reply is not a JSON object");
                goto out;
        }
        *ret = o;
out:
        free(line);
        free(buf);
        return r;
}
