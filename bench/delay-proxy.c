/* delay-proxy: a unix-socket proxy that adds a fixed latency in each
 * direction, so that `bench/run.sh fanout-remote` can measure virtsnap
 * against a libvirtd that is "far away" (bench/README.md, fanout-remote).
 * For every client accepted on LISTEN_PATH it connects to UPSTREAM_PATH
 * and forwards the bytes both ways; each chunk read is held for DELAY ms
 * from the moment it arrived and then written, in arrival order (a FIFO of
 * stamped chunks per direction and one timer armed for the head's due
 * time), so a request/reply round trip costs 2 x DELAY more and calls in
 * flight overlap as they would on a long link.  Bandwidth is not limited;
 * only the bytes held per direction are bounded (reading pauses above
 * MAX_HELD, which libvirt's RPC, with messages of at most a few MiB, never
 * reaches here).  An end of stream is delayed like data and forwarded as a
 * shutdown; an error on either side closes the pair.  SIGTERM or SIGINT
 * closes everything and the proxy prints, on stderr, how many connections
 * and chunks it carried and the delay each chunk really got (at least
 * DELAY: a chunk is written once the monotonic clock says it is due, and
 * libuv's millisecond timers may wake a little late, never early for it).
 *
 *   delay-proxy -d DELAY_MS LISTEN_PATH UPSTREAM_PATH
 *
 * On stdout it prints "listening LISTEN_PATH" once it accepts clients. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAX_HELD (64u << 20) /* bytes held per direction before reading pauses */
#define READ_SIZE 65536

typedef struct proxy proxy;
typedef struct session session;

typedef struct chunk {
        struct chunk *next;
        uint64_t due_ns;  /* uv_hrtime() at which it may be written */
        uint64_t seen_ns; /* uv_hrtime() at arrival */
        size_t len;       /* 0: the end of the stream */
        char *data;
} chunk;

typedef struct write_req {
        uv_write_t req;
        struct direction *dir;
        chunk *c;
} write_req;

/* One way of a pair: bytes read from `from` are written to `to`. */
typedef struct direction {
        session *s;
        uv_stream_t *from, *to;
        uv_timer_t timer;
        chunk *head, *tail;
        size_t held;     /* bytes queued or being written */
        bool reading;    /* uv_read_start is in effect */
        bool eof_read;   /* `from` ended: a zero-length chunk is queued */
        bool done;       /* the end was forwarded (shutdown sent) */
        uv_shutdown_t shutdown;
} direction;

struct session {
        proxy *p;
        session *prev, *next;
        uv_pipe_t client, upstream;
        uv_connect_t connect;
        direction up, down; /* client -> upstream, upstream -> client */
        int open_handles;   /* handles not yet through their close callback */
        bool closing;
};

struct proxy {
        uv_loop_t *loop;
        uint64_t delay_ns;
        const char *upstream_path;
        uv_pipe_t server;
        uv_signal_t sigterm, sigint;
        session *sessions;
        /* what it carried, printed at exit */
        uint64_t connections, chunks, bytes;
        uint64_t delay_sum_ns, delay_min_ns, delay_max_ns;
};

static void session_close(session *s);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_timer(uv_timer_t *t);

static void
chunk_free(chunk *c)
{
        if (!c)
                return;
        free(c->data);
        free(c);
}

static void
on_handle_closed(uv_handle_t *h)
{
        session *s = h->data;
        chunk *c;

        if (--s->open_handles > 0)
                return;
        /* Every handle is closed: no callback can reach the session now. */
        while ((c = s->up.head)) {
                s->up.head = c->next;
                chunk_free(c);
        }
        while ((c = s->down.head)) {
                s->down.head = c->next;
                chunk_free(c);
        }
        free(s);
}

static void
close_handle(session *s, uv_handle_t *h)
{
        /* A handle session_new did not get to initialise is still all zero
         * (calloc): UV_UNKNOWN_HANDLE. */
        if (h->type == UV_UNKNOWN_HANDLE || uv_is_closing(h))
                return;
        /* The timers point at their direction; once closed, no callback
         * needs that, and on_handle_closed wants the session. */
        h->data = s;
        uv_close(h, on_handle_closed);
}

/* Unlink the session and close its four handles; it is freed when the last
 * one has gone through its close callback (pending writes are cancelled and
 * their callbacks free their chunks first). */
static void
session_close(session *s)
{
        if (s->closing)
                return;
        s->closing = true;
        if (s->prev)
                s->prev->next = s->next;
        else
                s->p->sessions = s->next;
        if (s->next)
                s->next->prev = s->prev;
        close_handle(s, (uv_handle_t *)&s->client);
        close_handle(s, (uv_handle_t *)&s->upstream);
        close_handle(s, (uv_handle_t *)&s->up.timer);
        close_handle(s, (uv_handle_t *)&s->down.timer);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        (void)h;
        (void)suggested;
        buf->base = malloc(READ_SIZE);
        buf->len = buf->base ? READ_SIZE : 0;
}

static int
dir_arm(direction *d)
{
        uint64_t now = uv_hrtime(), ms;

        if (!d->head)
                return 0;
        /* Round up: the chunk must not be written before it is due. */
        ms = d->head->due_ns > now ? (d->head->due_ns - now + 999999) / 1000000 : 0;
        return uv_timer_start(&d->timer, on_timer, ms, 0);
}

static int
dir_read_start(direction *d)
{
        int r;

        if (d->reading || d->eof_read || d->held >= MAX_HELD)
                return 0;
        r = uv_read_start(d->from, on_alloc, on_read);
        if (r < 0)
                return r;
        d->reading = true;
        return 0;
}

static void
dir_enqueue(direction *d, chunk *c)
{
        bool was_empty = !d->head;

        if (d->tail)
                d->tail->next = c;
        else
                d->head = c;
        d->tail = c;
        d->held += c->len;
        if (d->held >= MAX_HELD && d->reading) {
                uv_read_stop(d->from);
                d->reading = false;
        }
        if (was_empty && dir_arm(d) < 0)
                session_close(d->s);
}

static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
        session *s = stream->data;
        direction *d = stream == (uv_stream_t *)&s->client ? &s->up : &s->down;
        chunk *c;

        if (nread == 0) {
                free(buf->base);
                return;
        }
        if (nread < 0 && nread != UV_EOF) {
                free(buf->base);
                session_close(s);
                return;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                free(buf->base);
                session_close(s);
                return;
        }
        c->seen_ns = uv_hrtime();
        c->due_ns = c->seen_ns + s->p->delay_ns;
        if (nread == UV_EOF) {
                free(buf->base);
                uv_read_stop(stream);
                d->reading = false;
                d->eof_read = true;
        } else {
                /* Keep only what was read: most RPC messages are small. */
                char *data = realloc(buf->base, (size_t)nread);

                c->data = data ? data : buf->base;
                c->len = (size_t)nread;
        }
        dir_enqueue(d, c);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
        direction *d = req->data;
        session *s = d->s;

        d->done = true;
        /* A peer that went away entirely cannot take the shutdown; both ways
         * ended (or one failed): nothing more will flow. */
        if (status < 0 || (s->up.done && s->down.done))
                session_close(s);
}

static void
on_written(uv_write_t *req, int status)
{
        write_req *w = (write_req *)req;
        direction *d = w->dir;

        d->held -= w->c->len;
        chunk_free(w->c);
        free(w);
        if (status < 0) {
                session_close(d->s);
                return;
        }
        if (!d->s->closing && dir_read_start(d) < 0)
                session_close(d->s);
}

static void
account(proxy *p, const chunk *c, uint64_t now)
{
        uint64_t got = now - c->seen_ns;

        p->chunks++;
        p->bytes += c->len;
        p->delay_sum_ns += got;
        if (p->chunks == 1 || got < p->delay_min_ns)
                p->delay_min_ns = got;
        if (got > p->delay_max_ns)
                p->delay_max_ns = got;
}

static void
on_timer(uv_timer_t *t)
{
        direction *d = t->data;
        session *s = d->s;
        uint64_t now = uv_hrtime();
        chunk *c;

        while ((c = d->head) && c->due_ns <= now) {
                d->head = c->next;
                if (!d->head)
                        d->tail = NULL;
                c->next = NULL;
                if (c->len == 0) {
                        chunk_free(c);
                        d->shutdown.data = d;
                        if (uv_shutdown(&d->shutdown, d->to, on_shutdown) < 0) {
                                session_close(s);
                                return;
                        }
                        continue;
                }
                account(s->p, c, now);
                write_req *w = calloc(1, sizeof(*w));
                if (!w) {
                        d->held -= c->len;
                        chunk_free(c);
                        session_close(s);
                        return;
                }
                w->dir = d;
                w->c = c;
                uv_buf_t b = uv_buf_init(c->data, (unsigned)c->len);
                if (uv_write(&w->req, d->to, &b, 1, on_written) < 0) {
                        d->held -= c->len;
                        chunk_free(c);
                        free(w);
                        session_close(s);
                        return;
                }
        }
        if (dir_arm(d) < 0)
                session_close(s);
}

static void
on_upstream(uv_connect_t *req, int status)
{
        session *s = req->data;

        if (s->closing)
                return;
        if (status < 0) {
                fprintf(stderr, "delay-proxy: connect %s: %s\n", s->p->upstream_path, uv_strerror(status));
                session_close(s);
                return;
        }
        /* Read the client only now: its first bytes wait in the socket. */
        if (dir_read_start(&s->up) < 0 || dir_read_start(&s->down) < 0)
                session_close(s);
}

static void
dir_init(direction *d, session *s, uv_stream_t *from, uv_stream_t *to)
{
        d->s = s;
        d->from = from;
        d->to = to;
}

static int
session_new(proxy *p, session **ret)
{
        session *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->p = p;
        r = uv_pipe_init(p->loop, &s->client, 0);
        if (r < 0) {
                free(s);
                return r;
        }
        s->client.data = s;
        s->open_handles = 1;
        /* From here on a handle exists: failure goes through session_close. */
        s->next = p->sessions;
        if (p->sessions)
                p->sessions->prev = s;
        p->sessions = s;
        dir_init(&s->up, s, (uv_stream_t *)&s->client, (uv_stream_t *)&s->upstream);
        dir_init(&s->down, s, (uv_stream_t *)&s->upstream, (uv_stream_t *)&s->client);
        r = uv_pipe_init(p->loop, &s->upstream, 0);
        if (r >= 0) {
                s->upstream.data = s;
                s->open_handles++;
                r = uv_timer_init(p->loop, &s->up.timer);
        }
        if (r >= 0) {
                s->up.timer.data = &s->up;
                s->open_handles++;
                r = uv_timer_init(p->loop, &s->down.timer);
        }
        if (r < 0) {
                session_close(s);
                return r;
        }
        s->down.timer.data = &s->down;
        s->open_handles++;
        *ret = s;
        return 0;
}

static void
on_connection(uv_stream_t *server, int status)
{
        proxy *p = server->data;
        session *s;

        if (status < 0) {
                fprintf(stderr, "delay-proxy: accept: %s\n", uv_strerror(status));
                return;
        }
        if (session_new(p, &s) < 0) {
                fprintf(stderr, "delay-proxy: out of memory or handles\n");
                return;
        }
        if (uv_accept(server, (uv_stream_t *)&s->client) < 0) {
                session_close(s);
                return;
        }
        p->connections++;
        s->connect.data = s;
        uv_pipe_connect(&s->connect, &s->upstream, p->upstream_path, on_upstream);
}

static void
on_signal(uv_signal_t *sig, int signum)
{
        proxy *p = sig->data;

        (void)signum;
        while (p->sessions)
                session_close(p->sessions);
        uv_close((uv_handle_t *)&p->server, NULL);
        uv_close((uv_handle_t *)&p->sigterm, NULL);
        uv_close((uv_handle_t *)&p->sigint, NULL);
}

static int
proxy_start(proxy *p, const char *listen_path)
{
        int r;

        r = uv_pipe_init(p->loop, &p->server, 0);
        if (r < 0)
                return r;
        p->server.data = p;
        r = uv_pipe_bind(&p->server, listen_path);
        if (r >= 0)
                r = uv_listen((uv_stream_t *)&p->server, 128, on_connection);
        if (r >= 0)
                r = uv_signal_init(p->loop, &p->sigterm);
        if (r >= 0)
                r = uv_signal_init(p->loop, &p->sigint);
        if (r < 0)
                return r;
        p->sigterm.data = p;
        p->sigint.data = p;
        r = uv_signal_start(&p->sigterm, on_signal, SIGTERM);
        if (r >= 0)
                r = uv_signal_start(&p->sigint, on_signal, SIGINT);
        return r;
}

static int
parse_ms(const char *s, uint64_t *ret_ns)
{
        char *end;
        double ms;

        errno = 0;
        ms = strtod(s, &end);
        if (errno || end == s || *end || !(ms >= 0) || ms > 60000)
                return -EINVAL;
        *ret_ns = (uint64_t)(ms * 1e6);
        return 0;
}

static void
usage(void)
{
        fprintf(stderr, "usage: delay-proxy -d DELAY_MS LISTEN_PATH UPSTREAM_PATH\n");
}

int
main(int argc, char **argv)
{
        proxy p = { .loop = uv_default_loop() };
        bool have_delay = false;
        int c, r;

        while ((c = getopt(argc, argv, "d:")) != -1) {
                switch (c) {
                case 'd':
                        if (parse_ms(optarg, &p.delay_ns) < 0) {
                                fprintf(stderr, "delay-proxy: bad delay '%s' (milliseconds, 0-60000)\n", optarg);
                                return 2;
                        }
                        have_delay = true;
                        break;
                default:
                        usage();
                        return 2;
                }
        }
        if (!have_delay || argc - optind != 2) {
                usage();
                return 2;
        }
        p.upstream_path = argv[optind + 1];
        /* A peer that goes away mid-write is an EPIPE to handle, not a signal. */
        signal(SIGPIPE, SIG_IGN);
        r = proxy_start(&p, argv[optind]);
        if (r < 0) {
                fprintf(stderr, "delay-proxy: listen on %s: %s\n", argv[optind], uv_strerror(r));
                return 1;
        }
        printf("listening %s\n", argv[optind]);
        fflush(stdout);
        uv_run(p.loop, UV_RUN_DEFAULT);
        r = uv_loop_close(p.loop);
        fprintf(stderr,
                "delay-proxy: delay %.3f ms: %" PRIu64 " connections, %" PRIu64 " chunks, %" PRIu64
                " bytes; delay got min %.3f mean %.3f max %.3f ms\n",
                p.delay_ns / 1e6, p.connections, p.chunks, p.bytes, p.delay_min_ns / 1e6,
                p.chunks ? p.delay_sum_ns / 1e6 / (double)p.chunks : 0.0, p.delay_max_ns / 1e6);
        return r < 0 ? 1 : 0;
}
