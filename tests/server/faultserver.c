/* SPDX-License-Identifier: MIT */
/*
 * faultserver: a loopback server that misbehaves on purpose, for the fault
 * suite. It speaks raw TCP through libevent bufferevents, so that it can
 * do what no well-behaved HTTP server does: reset, stall, send garbage or
 * hostile header bytes. Prints its ephemeral port on the first line of
 * stdout and exits when stdin closes or after --lifetime seconds, as
 * testserver does. Every response closes its connection.
 *
 * Endpoints (the request head is read up to its blank line):
 *   /reset/N        Content-Length 2N, N bytes ('a' + i % 26), then a TCP
 *                   reset (SO_LINGER 0)
 *   /stall/N        Content-Length 2N, N bytes, then silence until the
 *                   client leaves
 *   /fill/N/C/MS    N bytes of the character C, 100 every MS milliseconds
 *   /garbage        bytes that are not HTTP, then close
 *   /huge-header/K  one header of K KiB
 *   /gzip-bomb/M    Content-Encoding: gzip, M MiB of zeros compressed
 *   /redirect-file  302 to file:///etc/passwd
 *   /redirect-evil  302 to a Location with ESC, BEL and bytes that are not
 *                   UTF-8
 *   /redirect-scheme  302 to "\e[31mevil://x" (libcurl names the scheme
 *                   in its error)
 *   /evil-type      200 with a Content-Type holding ESC, BEL and 0xFF
 *   a TLS ClientHello  garbage back, then close (a TLS failure)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <zlib.h>

static struct event_base *base;

enum after { CLOSE, RESET, STALL };

struct conn {
    TAILQ_ENTRY(conn) link; /* every open one, freed at exit */
    struct bufferevent *bev;
    int responded; /* until then an empty output means nothing */
    enum after after;
    struct event *timer; /* /fill */
    long left, ms;
    char fill;
};

static TAILQ_HEAD(, conn) conns = TAILQ_HEAD_INITIALIZER(conns);

static void conn_free(struct conn *c)
{
    TAILQ_REMOVE(&conns, c, link);
    if (c->timer)
        event_free(c->timer);
    bufferevent_free(c->bev);
    free(c);
}

/* Output drained: end the connection the way the endpoint wants. */
static void on_written(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (!c->responded || c->timer ||
        evbuffer_get_length(bufferevent_get_output(bev)))
        return;
    if (c->after == STALL)
        return;
    if (c->after == RESET) {
        struct linger l = {1, 0};
        setsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    conn_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        conn_free(arg);
}

static void pattern(struct evbuffer *b, long n)
{
    for (long i = 0; i < n; i++) {
        char ch = (char)('a' + i % 26);
        evbuffer_add(b, &ch, 1);
    }
}

static void head(struct evbuffer *b, const char *status, long length,
                 const char *extra)
{
    evbuffer_add_printf(b, "HTTP/1.1 %s\r\nConnection: close\r\n", status);
    if (length >= 0)
        evbuffer_add_printf(b, "Content-Length: %ld\r\n", length);
    evbuffer_add_printf(b, "%s\r\n", extra ? extra : "");
}

static void on_fill(evutil_socket_t fd, short ev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct timeval tv = {c->ms / 1000, (c->ms % 1000) * 1000};
    char chunk[100];
    (void)fd;
    (void)ev;
    long n = c->left < 100 ? c->left : 100;
    memset(chunk, c->fill, sizeof chunk);
    evbuffer_add(out, chunk, (size_t)n);
    if ((c->left -= n) > 0) {
        evtimer_add(c->timer, &tv);
        return;
    }
    event_free(c->timer);
    c->timer = NULL;
}

/* A gzip stream of mib MiB of zeros, made once per size; mib -1 hands
   the last one back to be freed. */
static unsigned char *bomb(long mib, size_t *len)
{
    static unsigned char *made;
    static size_t made_len;
    static long made_mib = -1;
    if (made_mib == mib || mib < 0) {
        *len = made_len;
        return made;
    }
    z_stream z = {0};
    static unsigned char zeros[1 << 16];
    size_t cap = (size_t)mib * 1100 + 4096;
    free(made);
    made = malloc(cap);
    deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY);
    z.next_out = made;
    z.avail_out = (uInt)cap;
    for (long i = 0; i < mib * 16; i++) {
        z.next_in = zeros;
        z.avail_in = sizeof zeros;
        deflate(&z, Z_NO_FLUSH);
    }
    deflate(&z, Z_FINISH);
    made_len = cap - z.avail_out;
    deflateEnd(&z);
    made_mib = mib;
    *len = made_len;
    return made;
}

static void respond(struct conn *c, const char *path)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    long n = 0, k = 0;
    char ch = 0;
    if (sscanf(path, "/reset/%ld", &n) == 1) {
        head(out, "200 OK", 2 * n, NULL);
        pattern(out, n);
        c->after = RESET;
    } else if (sscanf(path, "/stall/%ld", &n) == 1) {
        head(out, "200 OK", 2 * n, NULL);
        pattern(out, n);
        c->after = STALL;
    } else if (sscanf(path, "/fill/%ld/%c/%ld", &n, &ch, &k) == 3) {
        head(out, "200 OK", n, NULL);
        c->left = n;
        c->fill = ch;
        c->ms = k;
        c->timer = evtimer_new(base, on_fill, c);
        on_fill(-1, 0, c);
    } else if (!strcmp(path, "/garbage")) {
        static const char junk[] = "\x00\xff\x1b[2J NOT HTTP\r\n\r\n";
        evbuffer_add(out, junk, sizeof junk - 1);
    } else if (sscanf(path, "/huge-header/%ld", &n) == 1) {
        evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
                                 "Content-Length: 2\r\nX-Huge: ");
        for (long i = 0; i < n * 1024; i++)
            evbuffer_add(out, "h", 1);
        evbuffer_add_printf(out, "\r\n\r\nok");
    } else if (sscanf(path, "/gzip-bomb/%ld", &n) == 1) {
        size_t len;
        unsigned char *z = bomb(n, &len);
        head(out, "200 OK", (long)len, "Content-Encoding: gzip\r\n");
        evbuffer_add(out, z, len);
    } else if (!strcmp(path, "/redirect-file")) {
        head(out, "302 Found", 0, "Location: file:///etc/passwd\r\n");
    } else if (!strcmp(path, "/redirect-evil")) {
        head(out, "302 Found", 0,
             "Location: /evil/\x1b[31m\x07\xff\xfe/x?\x9b\r\n");
    } else if (!strcmp(path, "/redirect-scheme")) {
        head(out, "302 Found", 0, "Location: \x1b[31mevil://x/\r\n");
    } else if (!strcmp(path, "/evil-type")) {
        head(out, "200 OK", 2, "Content-Type: text/\x1b]0;pwned\x07\xff\r\n");
        evbuffer_add(out, "ok", 2);
    } else {
        head(out, "404 Not Found", 0, NULL);
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    unsigned char *first = evbuffer_pullup(in, 1);
    if (first && first[0] == 0x16) { /* a TLS ClientHello: garbage back */
        c->responded = 1;
        evbuffer_add(bufferevent_get_output(bev), "HTTP/1.1 400 No\r\n\r\n",
                     19);
        bufferevent_disable(bev, EV_READ);
        return;
    }
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0)
        return;
    char line[4096] = {0}, path[4000] = {0};
    evbuffer_copyout(in, line, end.pos < 4095 ? (size_t)end.pos : 4095);
    evbuffer_drain(in, evbuffer_get_length(in));
    bufferevent_disable(bev, EV_READ);
    if (sscanf(line, "%*s %3999s", path) != 1)
        strcpy(path, "/");
    c->responded = 1;
    respond(c, path);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int len, void *arg)
{
    struct conn *c = calloc(1, sizeof *c);
    (void)l;
    (void)sa;
    (void)len;
    (void)arg;
    TAILQ_INSERT_TAIL(&conns, c, link);
    c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, on_read, on_written, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void on_stdin(evutil_socket_t fd, short ev, void *arg)
{
    char buf[256];
    (void)ev;
    (void)arg;
    if (read(fd, buf, sizeof buf) <= 0)
        event_base_loopbreak(base);
}

static void on_lifetime(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd;
    (void)ev;
    (void)arg;
    event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
    struct timeval life = {600, 0};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    if (argc == 3 && !strcmp(argv[1], "--lifetime"))
        life.tv_sec = atol(argv[2]);
    signal(SIGPIPE, SIG_IGN); /* clients leave mid-body on purpose */
    base = event_base_new();
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *l = evconnlistener_new_bind(
        base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
        (struct sockaddr *)&sin, sizeof sin);
    if (!l) {
        perror("faultserver: bind 127.0.0.1");
        return 1;
    }
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&bound, &blen);
    printf("%d\n", ntohs(bound.sin_port));
    fflush(stdout);
    struct event *in =
        event_new(base, STDIN_FILENO, EV_READ | EV_PERSIST, on_stdin, NULL);
    event_add(in, NULL);
    struct event *timer = evtimer_new(base, on_lifetime, NULL);
    event_add(timer, &life);
    event_base_dispatch(base);
    while (!TAILQ_EMPTY(&conns))
        conn_free(TAILQ_FIRST(&conns));
    free(bomb(-1, &(size_t){0}));
    event_free(in);
    event_free(timer);
    evconnlistener_free(l);
    event_base_free(base);
    return 0;
}
