/* SPDX-License-Identifier: MIT */
/*
 * testserver: the loopback HTTP server the tests, examples and `make demo`
 * fetch from. libevent's evhttp on 127.0.0.1, an ephemeral port printed on
 * stdout as the first line. Exits when stdin reaches end of file (its parent
 * is gone) or after --lifetime seconds, so it never outlives a test run.
 *
 * With --tls CERT KEY it speaks HTTPS instead (libevent + OpenSSL); with
 * --client-ca FILE as well it wants a client certificate signed by FILE.
 *
 * Endpoints (any query string is ignored unless named):
 *   /bytes/N         200, N bytes: byte i is 'a' + i % 26
 *   /binary/N        200, N bytes: byte i is i % 256 (not UTF-8)
 *   /delay/MS        200 after MS milliseconds, body "delay MS\n"
 *   /status/CODE     that status, body "status CODE\n"
 *   /redirect/N      302 to /redirect/N-1; /redirect/0 is 200 "redirected\n"
 *   /redirect-to?url=U  302 to U
 *   /close/N         promises 2N bytes, sends N, closes the connection
 *   /headers         200, the request headers, one "Name: value" a line
 *   /echo            200, "METHOD\n" then the request body
 *   /chunked/N       200, N bytes ('a' + i % 26) sent chunked in 1000-byte
 *                    pieces, without Content-Length
 *   /drip/N          200, N chunks of 100 bytes, one every 50 ms (bytes as
 *                    /bytes/N*100)
 *   /multi           200 with two X-Multi headers, "a" and "b"
 *   /cookie/set?C    200 with Set-Cookie: C (C URL-decoded)
 *   http://...       (a proxy's absolute-form request) 200, "proxied URL\n"
 *   /flaky/KEY?fail=N[&status=S][&after=SECS|&date=SECS|&cut=1]
 *                    the first N requests for KEY fail: status S (default
 *                    503), with Retry-After SECS (delay-seconds) or an HTTP
 *                    date SECS from now (negative: in the past); or, with
 *                    cut=1, a 200 that promises 2000 bytes, sends 1000 of
 *                    /bytes' and closes. After that: 200, /bytes/1000's
 *                    body, and X-Attempt: K (this request's number for KEY)
 *   /stats           "inflight I max M total T\n" (requests being answered)
 *   /log             one line per request since the last /reset, in order
 *                    of arrival: "SECONDS HOST METHOD PATH" (SECONDS on
 *                    the monotonic clock, to the microsecond)
 *   /reset           zero max and total; forget the log and /flaky's keys
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <event2/keyvalq_struct.h>

static struct event_base *base;
static long inflight, max_inflight, total;
static struct evbuffer *request_log; /* /log */

/* /flaky's keys: how many requests each has had */
struct flaky {
    char *key;
    long seen;
    struct flaky *next;
};
static struct flaky *flaky_keys;

static long flaky_count(const char *key)
{
    struct flaky *f;
    for (f = flaky_keys; f; f = f->next)
        if (!strcmp(f->key, key))
            return ++f->seen;
    f = calloc(1, sizeof *f);
    f->key = strdup(key);
    f->next = flaky_keys;
    flaky_keys = f;
    return ++f->seen;
}

static void flaky_forget(void)
{
    while (flaky_keys) {
        struct flaky *f = flaky_keys;
        flaky_keys = f->next;
        free(f->key);
        free(f);
    }
}

static void log_request(struct evhttp_request *req, const char *uri)
{
    struct timespec ts;
    const char *host =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    evbuffer_add_printf(request_log, "%lld.%06ld %s %s %s\n",
                        (long long)ts.tv_sec, ts.tv_nsec / 1000,
                        host ? host : "-",
                        cmd == EVHTTP_REQ_GET    ? "GET"
                        : cmd == EVHTTP_REQ_HEAD ? "HEAD"
                        : cmd == EVHTTP_REQ_POST ? "POST"
                        : cmd == EVHTTP_REQ_PUT  ? "PUT"
                                                 : "OTHER",
                        uri);
}

static void begin(void)
{
    total++;
    if (++inflight > max_inflight)
        max_inflight = inflight;
}

/* Reply and end the request's in-flight span. */
static void reply(struct evhttp_request *req, int code, struct evbuffer *body)
{
    inflight--;
    evhttp_send_reply(req, code, code < 300 ? "OK" : "Status", body);
}

static void reply_text(struct evhttp_request *req, int code, const char *text)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, text, strlen(text));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain");
    reply(req, code, b);
    evbuffer_free(b);
}

/* Body bytes from offset `from` on: byte i is 'a' + i % 26. */
static void fill_from(struct evbuffer *b, long from, long n)
{
    char chunk[26 * 64];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (char)('a' + i % 26);
    from %= 26;
    while (n > 0) {
        long k = n < (long)sizeof chunk - from ? n : (long)sizeof chunk - from;
        evbuffer_add(b, chunk + from, (size_t)k);
        n -= k;
        from = 0;
    }
}

static void fill(struct evbuffer *b, long n)
{
    fill_from(b, 0, n);
}

struct delayed {
    struct evhttp_request *req;
    struct event *ev;
    long ms;
    TAILQ_ENTRY(delayed) link;
};
static TAILQ_HEAD(,
                  delayed) delayed_list = TAILQ_HEAD_INITIALIZER(delayed_list);

static void delayed_free(struct delayed *d)
{
    TAILQ_REMOVE(&delayed_list, d, link);
    event_free(d->ev);
    free(d);
}

static void on_delay(evutil_socket_t fd, short ev, void *arg)
{
    struct delayed *d = arg;
    (void)fd;
    (void)ev;
    /* if the client left, evhttp frees the request here */
    char text[32];
    snprintf(text, sizeof text, "delay %ld\n", d->ms);
    reply_text(d->req, 200, text);
    delayed_free(d);
}

struct drip {
    struct evhttp_request *req;
    struct event *ev;
    long left, sent;
    TAILQ_ENTRY(drip) link;
};
static TAILQ_HEAD(, drip) drip_list = TAILQ_HEAD_INITIALIZER(drip_list);

static void drip_free(struct drip *d)
{
    TAILQ_REMOVE(&drip_list, d, link);
    event_free(d->ev);
    free(d);
}

static void on_drip(evutil_socket_t fd, short ev, void *arg)
{
    struct drip *d = arg;
    struct timeval tv = {0, 50 * 1000};
    (void)fd;
    (void)ev;
    if (d->left-- > 0) {
        struct evbuffer *b = evbuffer_new();
        fill_from(b, d->sent, 100);
        d->sent += 100;
        evhttp_send_reply_chunk(d->req, b); /* a no-op if the client left */
        evbuffer_free(b);
        evtimer_add(d->ev, &tv);
        return;
    }
    inflight--;
    evhttp_send_reply_end(d->req); /* frees the request if the client left */
    drip_free(d);
}

static int number_after(const char *path, const char *prefix, long *n)
{
    size_t len = strlen(prefix);
    char *end;
    if (strncmp(path, prefix, len))
        return 0;
    errno = 0;
    *n = strtol(path + len, &end, 10);
    return end != path + len && !errno && *n >= 0 &&
           (*end == '\0' || *end == '?');
}

/* /flaky/KEY?...: see the top. */
static void flaky(struct evhttp_request *req, const char *rest)
{
    struct evkeyvalq q;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *query = strchr(rest, '?'), *v;
    char key[128], text[64];
    size_t klen = query ? (size_t)(query - rest) : strlen(rest);
    snprintf(key, sizeof key, "%.*s", (int)klen, rest);
    TAILQ_INIT(&q);
    if (query)
        evhttp_parse_query_str(query + 1, &q);
    long fail = (v = evhttp_find_header(&q, "fail")) ? atol(v) : 0;
    long status = (v = evhttp_find_header(&q, "status")) ? atol(v) : 503;
    long k = flaky_count(key);
    struct evbuffer *b = evbuffer_new();
    if (k > fail) {
        snprintf(text, sizeof text, "%ld", k);
        evhttp_add_header(out, "X-Attempt", text);
        fill(b, 1000);
        reply(req, 200, b);
    } else if ((v = evhttp_find_header(&q, "cut")) && atol(v)) {
        /* as /close/1000 */
        evhttp_add_header(out, "Content-Length", "2000");
        evhttp_add_header(out, "Connection", "close");
        evhttp_send_reply_start(req, 200, "OK");
        fill(b, 1000);
        evhttp_send_reply_chunk(req, b);
        inflight--;
        evhttp_send_reply_end(req);
    } else {
        if ((v = evhttp_find_header(&q, "after")))
            evhttp_add_header(out, "Retry-After", v);
        if ((v = evhttp_find_header(&q, "date"))) {
            time_t when = time(NULL) + atol(v);
            struct tm tm;
            strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT",
                     gmtime_r(&when, &tm));
            evhttp_add_header(out, "Retry-After", text);
        }
        evbuffer_add_printf(b, "failure %ld of %ld\n", k, fail);
        reply(req, (int)status, b);
    }
    evbuffer_free(b);
    evhttp_clear_headers(&q);
}

static void handle(struct evhttp_request *req, void *arg)
{
    const char *uri = evhttp_request_get_uri(req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    char text[64];
    long n;
    (void)arg;

    /* the counters' own requests are not counted */
    if (!strcmp(uri, "/stats")) {
        struct evbuffer *b = evbuffer_new();
        evbuffer_add_printf(b, "inflight %ld max %ld total %ld\n", inflight,
                            max_inflight, total);
        evhttp_send_reply(req, 200, "OK", b);
        evbuffer_free(b);
        return;
    }
    if (!strcmp(uri, "/log")) {
        struct evbuffer *b = evbuffer_new();
        size_t len = evbuffer_get_length(request_log);
        evbuffer_add(b, evbuffer_pullup(request_log, -1), len);
        evhttp_send_reply(req, 200, "OK", b);
        evbuffer_free(b);
        return;
    }
    if (!strcmp(uri, "/reset")) {
        struct evbuffer *b = evbuffer_new();
        max_inflight = inflight;
        total = 0;
        evbuffer_drain(request_log, evbuffer_get_length(request_log));
        flaky_forget();
        evbuffer_add(b, "reset\n", 6);
        evhttp_send_reply(req, 200, "OK", b);
        evbuffer_free(b);
        return;
    }
    begin();
    log_request(req, uri);
    if (!strncmp(uri, "/flaky/", 7)) {
        flaky(req, uri + 7);
    } else if (!strncmp(uri, "http://", 7)) {
        struct evbuffer *b = evbuffer_new();
        evbuffer_add_printf(b, "proxied %s\n", uri);
        reply(req, 200, b);
        evbuffer_free(b);
    } else if (number_after(uri, "/bytes/", &n)) {
        struct evbuffer *b = evbuffer_new();
        fill(b, n);
        evhttp_add_header(out, "Content-Type", "application/octet-stream");
        reply(req, 200, b);
        evbuffer_free(b);
    } else if (number_after(uri, "/binary/", &n)) {
        struct evbuffer *b = evbuffer_new();
        for (long i = 0; i < n; i++) {
            unsigned char byte = (unsigned char)(i % 256);
            evbuffer_add(b, &byte, 1);
        }
        reply(req, 200, b);
        evbuffer_free(b);
    } else if (number_after(uri, "/delay/", &n)) {
        struct delayed *d = calloc(1, sizeof *d);
        struct timeval tv = {n / 1000, (n % 1000) * 1000};
        d->req = req;
        d->ms = n;
        d->ev = evtimer_new(base, on_delay, d);
        TAILQ_INSERT_TAIL(&delayed_list, d, link);
        evtimer_add(d->ev, &tv);
    } else if (number_after(uri, "/status/", &n) && n >= 100 && n < 600) {
        snprintf(text, sizeof text, "status %ld\n", n);
        reply_text(req, (int)n, text);
    } else if (number_after(uri, "/redirect/", &n)) {
        if (n == 0) {
            reply_text(req, 200, "redirected\n");
        } else {
            snprintf(text, sizeof text, "/redirect/%ld", n - 1);
            evhttp_add_header(out, "Location", text);
            reply_text(req, 302, "moved\n");
        }
    } else if (!strncmp(uri, "/redirect-to?", 13)) {
        struct evkeyvalq q;
        const char *to;
        evhttp_parse_query_str(uri + 13, &q);
        to = evhttp_find_header(&q, "url");
        evhttp_add_header(out, "Location", to ? to : "/");
        reply_text(req, 302, "moved\n");
        evhttp_clear_headers(&q);
    } else if (number_after(uri, "/close/", &n)) {
        struct evbuffer *b = evbuffer_new();
        snprintf(text, sizeof text, "%ld", 2 * n);
        evhttp_add_header(out, "Content-Length", text);
        evhttp_add_header(out, "Connection", "close");
        evhttp_send_reply_start(req, 200, "OK");
        fill(b, n);
        evhttp_send_reply_chunk(req, b);
        inflight--;
        evhttp_send_reply_end(req); /* closes after n of 2n bytes */
        evbuffer_free(b);
    } else if (!strcmp(uri, "/echo")) {
        static const char *names[] = {"GET",   "POST",    "HEAD",
                                      "PUT",   "DELETE",  "OPTIONS",
                                      "TRACE", "CONNECT", "PATCH"};
        enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
        const char *m = "OTHER";
        for (int i = 0; i < 9; i++)
            if (cmd == (enum evhttp_cmd_type)(1 << i))
                m = names[i];
        struct evbuffer *b = evbuffer_new();
        evbuffer_add_printf(b, "%s\n", m);
        evbuffer_add_buffer(b, evhttp_request_get_input_buffer(req));
        reply(req, 200, b);
        evbuffer_free(b);
    } else if (number_after(uri, "/chunked/", &n)) {
        struct evbuffer *b = evbuffer_new();
        evhttp_send_reply_start(req, 200, "OK");
        for (long sent = 0; sent < n; sent += 1000) {
            fill_from(b, sent, n - sent < 1000 ? n - sent : 1000);
            evhttp_send_reply_chunk(req, b); /* drains b */
        }
        inflight--;
        evhttp_send_reply_end(req);
        evbuffer_free(b);
    } else if (number_after(uri, "/drip/", &n)) {
        struct drip *d = calloc(1, sizeof *d);
        d->req = req;
        d->left = n;
        d->ev = evtimer_new(base, on_drip, d);
        TAILQ_INSERT_TAIL(&drip_list, d, link);
        evhttp_send_reply_start(req, 200, "OK");
        on_drip(-1, 0, d);
    } else if (!strcmp(uri, "/multi")) {
        evhttp_add_header(out, "X-Multi", "a");
        evhttp_add_header(out, "X-Multi", "b");
        reply_text(req, 200, "multi\n");
    } else if (!strncmp(uri, "/cookie/set?", 12)) {
        char *cookie = evhttp_decode_uri(uri + 12);
        evhttp_add_header(out, "Set-Cookie", cookie);
        free(cookie);
        reply_text(req, 200, "cookie set\n");
    } else if (!strcmp(uri, "/headers")) {
        struct evbuffer *b = evbuffer_new();
        struct evkeyval *h;
        TAILQ_FOREACH(h, evhttp_request_get_input_headers(req), next)
        evbuffer_add_printf(b, "%s: %s\n", h->key, h->value);
        reply(req, 200, b);
        evbuffer_free(b);
    } else {
        reply_text(req, 404, "not found\n");
    }
}

/* HTTPS: every accepted connection gets an OpenSSL bufferevent. */
static struct bufferevent *tls_bev(struct event_base *b, void *ctx)
{
    return bufferevent_openssl_socket_new(
        b, -1, SSL_new(ctx), BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static SSL_CTX *tls_context(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "testserver: cannot load %s / %s\n", cert, key);
        exit(1);
    }
    return ctx;
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
    fprintf(stderr, "testserver: lifetime over, exiting\n");
    event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
    struct timeval life = {600, 0};
    struct evhttp_bound_socket *bound;
    struct evhttp *http;
    struct event *in, *timer;
    SSL_CTX *tls = NULL;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--lifetime") && i + 1 < argc) {
            life.tv_sec = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--tls") && i + 2 < argc) {
            tls = tls_context(argv[i + 1], argv[i + 2]);
            i += 2;
        } else if (!strcmp(argv[i], "--client-ca") && i + 1 < argc && tls) {
            /* ask every client for a certificate signed by this CA */
            if (SSL_CTX_load_verify_locations(tls, argv[++i], NULL) != 1) {
                fprintf(stderr, "testserver: cannot load %s\n", argv[i]);
                return 1;
            }
            SSL_CTX_set_verify(
                tls, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        } else {
            fprintf(stderr, "usage: testserver [--lifetime SECONDS] "
                            "[--tls CERT KEY [--client-ca FILE]]\n");
            return 2;
        }
    }
    base = event_base_new();
    request_log = evbuffer_new();
    http = evhttp_new(base);
    if (tls)
        evhttp_set_bevcb(http, tls_bev, tls);
    evhttp_set_gencb(http, handle, NULL);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH);
    bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    if (!bound) {
        perror("testserver: bind 127.0.0.1");
        return 1;
    }
    {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss,
                    &len);
        printf("%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
        fflush(stdout);
    }
    in = event_new(base, STDIN_FILENO, EV_READ | EV_PERSIST, on_stdin, NULL);
    event_add(in, NULL);
    timer = evtimer_new(base, on_lifetime, NULL);
    evtimer_add(timer, &life);
    event_base_dispatch(base);
    /* answer what is left, so that evhttp frees every request */
    while (!TAILQ_EMPTY(&delayed_list)) {
        struct delayed *d = TAILQ_FIRST(&delayed_list);
        evhttp_send_reply(d->req, 503, "Leaving", NULL);
        delayed_free(d);
    }
    while (!TAILQ_EMPTY(&drip_list)) {
        struct drip *d = TAILQ_FIRST(&drip_list);
        evhttp_send_reply_end(d->req);
        drip_free(d);
    }
    event_free(in);
    event_free(timer);
    evhttp_free(http);
    evbuffer_free(request_log);
    flaky_forget();
    event_base_free(base);
    SSL_CTX_free(tls);
    return 0;
}
