/* The control socket server (control-server.h).
 *
 * Each client is read into a buffer until a newline; one line is one
 * request, handed to the handler, and reading pauses until its reply is
 * written, so replies come in request order and a client holds at most one
 * request and one line of input.  Memory: the server goes with its
 * listening handle's close callback; a client with its handle's close
 * callback once no call or write still refers to it. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "control-server.h"

#define DEFAULT_GROUP "virtsnap"
#define BACKLOG 16

typedef struct client client;

struct vs_ctl_server {
        uv_pipe_t pipe;
        vs_ctl_server_opts o;
        char *path, *group;
        gid_t gid;
        bool have_gid, activated, closing;
        client *clients;
};

struct client {
        uv_pipe_t pipe;
        vs_ctl_server *srv;             /* NULL once the server is closed */
        vs_ctl_handler_fn handler;
        vs_ctl_bad_fn bad;
        void *data;
        vs_ctl_peer peer;
        char *buf;
        size_t len, cap;
        unsigned refs;                  /* the handle, the call, each write */
        bool busy;                      /* a call is waiting for its reply */
        bool reading;
        bool closing, close_after_write;
        client *next, *prev;
};

struct vs_ctl_call {
        client *c;
};

typedef struct write_req {
        uv_write_t req;
        client *c;
        char *text;
} write_req;

static void client_close(client *c);
static void process(client *c);

static void
client_unref(client *c)
{
        if (--c->refs > 0)
                return;
        free(c->buf);
        free(c);
}

static void
on_client_closed(uv_handle_t *h)
{
        client_unref(h->data);
}

static void
client_close(client *c)
{
        if (c->closing)
                return;
        c->closing = true;
        if (c->srv) {
                if (c->prev)
                        c->prev->next = c->next;
                else
                        c->srv->clients = c->next;
                if (c->next)
                        c->next->prev = c->prev;
                c->srv = NULL;
        }
        uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void
on_written(uv_write_t *req, int status)
{
        write_req *w = (write_req *)req;
        client *c = w->c;

        free(w->text);
        free(w);
        if ((status < 0 || c->close_after_write) && !c->closing)
                client_close(c);
        client_unref(c);
}

/* Queue one reply line; takes o. */
static void
send_reply(client *c, json_object *o)
{
        const char *s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
        write_req *w;
        size_t n;
        uv_buf_t b;

        if (c->closing || !s) {
                if (!s && !c->closing)
                        client_close(c);
                json_object_put(o);
                return;
        }
        n = strlen(s);
        w = calloc(1, sizeof(*w));
        if (w)
                w->text = malloc(n + 1);
        if (!w || !w->text) {
                free(w);
                json_object_put(o);
                client_close(c);
                return;
        }
        memcpy(w->text, s, n);
        w->text[n] = '\n';
        json_object_put(o);
        w->c = c;
        c->refs++;
        b = uv_buf_init(w->text, (unsigned)n + 1);
        if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written) < 0) {
                free(w->text);
                free(w);
                client_unref(c);
                client_close(c);
        }
}

json_object *
vs_ctl_error_reply(int code, const char *msg)
{
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "ok", json_object_new_boolean(false));
        json_object_object_add(o, "error", json_object_new_string(msg));
        json_object_object_add(o, "code", json_object_new_string(vs_ctl_errno_name(code)));
        return o;
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        client *c = h->data;
        size_t want = suggested < 4096 ? 4096 : suggested;

        (void)suggested;
        if (c->cap - c->len < want) {
                char *n = realloc(c->buf, c->len + want);

                if (!n) {
                        *buf = uv_buf_init(NULL, 0);
                        return;
                }
                c->buf = n;
                c->cap = c->len + want;
        }
        *buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void
on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
        client *c = st->data;

        (void)buf;
        if (n < 0) {
                /* EOF or an error: a reply still owed is dropped when given. */
                client_close(c);
                return;
        }
        c->len += (size_t)n;
        process(c);
}

/* Hand out complete lines while no call is outstanding. */
static void
process(client *c)
{
        while (!c->busy && !c->closing) {
                char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
                vs_ctl_request q = { 0 };
                vs_err e = { 0 };
                size_t line;
                int r;

                if (!nl) {
                        if (c->len >= VS_CTL_MAX_LINE) {
                                uv_read_stop((uv_stream_t *)&c->pipe);
                                c->reading = false;
                                c->close_after_write = true;
                                if (c->bad)
                                        c->bad(&c->peer, "request line over 65536 bytes", c->data);
                                send_reply(c, vs_ctl_error_reply(E2BIG, "request line over 65536 bytes: refused"));
                                return;
                        }
                        if (!c->reading) {
                                if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) < 0)
                                        client_close(c);
                                else
                                        c->reading = true;
                        }
                        return;
                }
                line = (size_t)(nl - c->buf);
                r = vs_ctl_request_parse(c->buf, line, &q, &e);
                memmove(c->buf, nl + 1, c->len - line - 1);
                c->len -= line + 1;
                if (r < 0) {
                        if (c->bad)
                                c->bad(&c->peer, e.msg, c->data);
                        send_reply(c, vs_ctl_error_reply(-r, e.msg));
                        continue;
                }
                {
                        vs_ctl_call *call = calloc(1, sizeof(*call));

                        if (!call) {
                                vs_ctl_request_clear(&q);
                                send_reply(c, vs_ctl_error_reply(ENOMEM, "out of memory"));
                                continue;
                        }
                        call->c = c;
                        c->refs++;
                        c->busy = true;
                        uv_read_stop((uv_stream_t *)&c->pipe);
                        c->reading = false;
                        c->handler(call, &c->peer, &q, c->data);
                        vs_ctl_request_clear(&q);
                }
        }
}

void
vs_ctl_reply(vs_ctl_call *call, json_object *reply)
{
        client *c = call->c;

        free(call);
        c->busy = false;
        if (!reply)
                reply = vs_ctl_error_reply(ENOMEM, "out of memory");
        send_reply(c, reply);
        if (!c->closing && !c->close_after_write)
                process(c);
        client_unref(c);
}

/* ---- who may ask ------------------------------------------------------------- */

static bool
in_group(uid_t uid, gid_t gid)
{
        struct passwd pw, *res = NULL;
        char buf[4096];
        gid_t groups[64], *g = groups;
        int n = 64;
        bool found = false;

        if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
                return false;
        if (pw.pw_gid == gid)
                return true;
        if (getgrouplist(pw.pw_name, pw.pw_gid, g, &n) < 0) {
                g = calloc((size_t)n, sizeof(*g));
                if (!g || getgrouplist(pw.pw_name, pw.pw_gid, g, &n) < 0)
                        n = 0;
        }
        for (int i = 0; i < n && !found; i++)
                found = g[i] == gid;
        if (g != groups)
                free(g);
        return found;
}

static void
describe_peer(vs_ctl_peer *p)
{
        struct passwd pw, *res = NULL;
        char buf[4096];

        if (getpwuid_r(p->uid, &pw, buf, sizeof(buf), &res) == 0 && res)
                snprintf(p->who, sizeof(p->who), "uid %u (%.64s)", (unsigned)p->uid, pw.pw_name);
        else
                snprintf(p->who, sizeof(p->who), "uid %u", (unsigned)p->uid);
}

static void
on_connection(uv_stream_t *listener, int status)
{
        vs_ctl_server *s = listener->data;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        uv_os_fd_t fd;
        client *c;
        char why[160];

        if (status < 0 || s->closing)
                return;
        c = calloc(1, sizeof(*c));
        if (!c)
                return;
        if (uv_pipe_init(s->o.loop, &c->pipe, 0) < 0) {
                free(c);
                return;
        }
        c->pipe.data = c;
        c->refs = 1;
        c->srv = s;
        c->handler = s->o.handler;
        c->bad = s->o.bad;
        c->data = s->o.data;
        c->next = s->clients;
        if (s->clients)
                s->clients->prev = c;
        s->clients = c;
        uv_unref((uv_handle_t *)&c->pipe);
        if (uv_accept(listener, (uv_stream_t *)&c->pipe) < 0 || uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                client_close(c);
                return;
        }
        c->peer.uid = cred.uid;
        c->peer.gid = cred.gid;
        c->peer.pid = cred.pid;
        describe_peer(&c->peer);
        if (cred.uid == 0 || cred.uid == geteuid() ||
            (s->have_gid && (cred.gid == s->gid || in_group(cred.uid, s->gid)))) {
                process(c);
                return;
        }
        snprintf(why, sizeof(why), "permission denied: %s (pid %d) is not root and not in group %s", c->peer.who,
                 (int)cred.pid, s->group);
        c->close_after_write = true;
        if (s->o.refused) {
                vs_ctl_call *call = calloc(1, sizeof(*call));

                if (call) {
                        call->c = c;
                        c->refs++;
                        c->busy = true;
                        s->o.refused(call, &c->peer, why, s->o.data);
                        return;
                }
        }
        send_reply(c, vs_ctl_error_reply(EACCES, why));
}

/* ---- the listening socket ------------------------------------------------------ */

static void
on_server_closed(uv_handle_t *h)
{
        vs_ctl_server *s = h->data;

        free(s->path);
        free(s->group);
        free(s);
}

/* Another daemon answering on path is a conflict; a file nobody answers on
 * is a leftover of one that died. */
static int
clear_stale(const char *path, vs_err *err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        int fd, r;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : vs_err_set(err, errno, "control", "%s: %s", path, strerror(errno));
        if (!S_ISSOCK(st.st_mode))
                return vs_err_set(err, EEXIST, "control", "%s exists and is not a socket", path);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return vs_err_set(err, errno, "control", "socket: %s", strerror(errno));
        r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        close(fd);
        if (r == 0)
                return vs_err_set(err, EADDRINUSE, "control", "%s: another daemon is listening there", path);
        if (unlink(path) < 0 && errno != ENOENT)
                return vs_err_set(err, errno, "control", "cannot remove the stale %s: %s", path, strerror(errno));
        return 0;
}

static int
bind_path(vs_ctl_server *s, vs_err *err)
{
        char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
        char *slash;
        mode_t old;
        int r;

        if (strlen(s->path) >= sizeof(dir))
                return vs_err_set(err, ENAMETOOLONG, "control", "%s: path too long for a unix socket", s->path);
        /* The directory (/run/virtsnap) is systemd's RuntimeDirectory; made
         * here (one level) when the daemon runs by hand. */
        snprintf(dir, sizeof(dir), "%s", s->path);
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return vs_err_set(err, errno, "control", "cannot create %s: %s", dir, strerror(errno));
        }
        r = clear_stale(s->path, err);
        if (r < 0)
                return r;
        /* Born 0600: nobody else can connect before the chmod/chown below. */
        old = umask(0177);
        r = uv_pipe_bind(&s->pipe, s->path);
        umask(old);
        if (r < 0)
                return vs_err_set(err, -r, "control", "cannot listen on %s: %s", s->path, uv_strerror(r));
        if (s->have_gid && chown(s->path, (uid_t)-1, s->gid) < 0)
                return vs_err_set(err, errno, "control", "cannot give %s to group %s: %s", s->path, s->group,
                                  strerror(errno));
        if (chmod(s->path, s->have_gid ? 0660 : 0600) < 0)
                return vs_err_set(err, errno, "control", "chmod %s: %s", s->path, strerror(errno));
        return 0;
}

int
vs_ctl_server_new(const vs_ctl_server_opts *o, vs_ctl_server **ret, vs_err *err)
{
        vs_ctl_server *s = calloc(1, sizeof(*s));
        struct group gr, *res = NULL;
        char buf[4096];
        int r, n;

        if (!s)
                return vs_err_set(err, ENOMEM, "control", "out of memory");
        s->o = *o;
        s->path = strdup(o->path);
        s->group = strdup(o->group ? o->group : DEFAULT_GROUP);
        r = uv_pipe_init(o->loop, &s->pipe, 0);
        if (r < 0 || !s->path || !s->group) {
                free(s->path);
                free(s->group);
                free(s);
                return vs_err_set(err, r < 0 ? -r : ENOMEM, "control", "out of memory");
        }
        s->pipe.data = s;
        s->o.path = s->path;
        s->o.group = s->group;
        if (getgrnam_r(s->group, &gr, buf, sizeof(buf), &res) == 0 && res) {
                s->gid = gr.gr_gid;
                s->have_gid = true;
        }
        n = o->socket_activation ? sd_listen_fds(1) : 0;
        if (n >= 1 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) > 0) {
                r = uv_pipe_open(&s->pipe, SD_LISTEN_FDS_START);
                if (r < 0) {
                        vs_err_set(err, -r, "control", "cannot use the socket systemd passed: %s", uv_strerror(r));
                        goto fail;
                }
                s->activated = true;
        } else {
                r = bind_path(s, err);
                if (r < 0)
                        goto fail;
        }
        r = uv_listen((uv_stream_t *)&s->pipe, BACKLOG, on_connection);
        if (r < 0) {
                vs_err_set(err, -r, "control", "cannot listen on %s: %s", s->path, uv_strerror(r));
                goto fail;
        }
        uv_unref((uv_handle_t *)&s->pipe);
        *ret = s;
        return 0;
fail:
        s->closing = true;
        uv_close((uv_handle_t *)&s->pipe, on_server_closed);
        return r < 0 ? r : -EIO;
}

void
vs_ctl_server_close(vs_ctl_server *s)
{
        if (!s || s->closing)
                return;
        s->closing = true;
        while (s->clients)
                client_close(s->clients);
        if (!s->activated)
                unlink(s->path);
        uv_close((uv_handle_t *)&s->pipe, on_server_closed);
}

bool
vs_ctl_server_activated(const vs_ctl_server *s)
{
        return s->activated;
}
