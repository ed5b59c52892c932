/* The asyncio/aiohttp toolbox: as_completed, cancel, callbacks, fail-fast
   gather, wait_for, per-request options, streaming, headers, cookies, TLS,
   tracing; against the loopback test server. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "libfetch.h"

/* ---- as_completed ---- */

START_TEST(as_completed_hands_back_in_completion_order)
{
    fetch_client *c = client_with(10, 0, 0);
    const int delays[] = {300, 10, 150};
    for (long i = 0; i < 3; i++)
        fetch_get(c, ts_url(&srv, "/delay/%d", delays[i]), NULL, (void *)i,
                  NULL);
    long order[3];
    int err, n = 0;
    fetch_task *t;
    while ((t = fetch_as_completed(c, 5, &err))) {
        ck_assert(fetch_task_done(t));
        order[n++] = (long)fetch_task_data(t);
        fetch_task_free(t);
    }
    ck_assert_int_eq(err, FETCH_OK); /* nothing left */
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(order[0], 1);
    ck_assert_int_eq(order[1], 2);
    ck_assert_int_eq(order[2], 0);
    fetch_client_free(c);
}
END_TEST

START_TEST(as_completed_timeout_cancels_nothing)
{
    fetch_client *c = client_with(10, 0, 0);
    fetch_task *slow =
        fetch_get(c, ts_url(&srv, "/delay/400"), NULL, NULL, NULL);
    int err;
    ck_assert_ptr_null(fetch_as_completed(c, 0.1, &err));
    ck_assert_int_eq(err, FETCH_E_TIMEOUT);
    ck_assert(!fetch_task_done(slow)); /* still running */
    ck_assert_ptr_null(fetch_as_completed(c, 0, &err));
    ck_assert_int_eq(err, FETCH_E_TIMEOUT);
    ck_assert_ptr_eq(fetch_as_completed(c, 5, &err), slow);
    ck_assert_int_eq(fetch_task_response(slow)->error, FETCH_OK);
    fetch_task_free(slow);
    fetch_client_free(c);
}
END_TEST

START_TEST(as_completed_producer_consumer)
{
    /* a work queue: each finished page submits the next, like workers fed
       by an asyncio.Queue; 20 pages through 3 slots */
    fetch_client *c = client_with(3, 0, 0);
    int submitted = 0, consumed = 0, err;
    for (; submitted < 3; submitted++)
        fetch_get(c, ts_url(&srv, "/bytes/%d", submitted + 1), NULL, NULL,
                  NULL);
    fetch_task *t;
    while ((t = fetch_as_completed(c, 5, &err))) {
        const fetch_response *r = fetch_task_response(t);
        ck_assert_int_eq(r->error, FETCH_OK);
        consumed++;
        fetch_task_free(t);
        if (submitted < 20) {
            fetch_get(c, ts_url(&srv, "/bytes/%d", submitted + 1), NULL, NULL,
                      NULL);
            submitted++;
        }
    }
    ck_assert_int_eq(err, FETCH_OK);
    ck_assert_int_eq(consumed, 20);
    fetch_client_free(c);
}
END_TEST

START_TEST(freed_tasks_leave_the_completed_queue)
{
    fetch_client *c = client_with(10, 0, 0);
    fetch_task *a = fetch_get(c, ts_url(&srv, "/bytes/1"), NULL, NULL, NULL);
    fetch_task *b = fetch_get(c, ts_url(&srv, "/bytes/2"), NULL, NULL, NULL);
    fetch_task *both[] = {a, b};
    ck_assert_int_eq(
        fetch_gather(c, both, 2, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), 0);
    fetch_task_free(a);
    int err;
    ck_assert_ptr_eq(fetch_as_completed(c, 0, &err), b);
    ck_assert_ptr_null(fetch_as_completed(c, 0, &err));
    ck_assert_int_eq(err, FETCH_OK);
    fetch_task_free(b);
    fetch_client_free(c);
}
END_TEST

/* ---- callbacks exactly once, cancel in every state ---- */

static int calls[8], codes[8];
static void count_cb(fetch_task *t, void *arg)
{
    long i = (long)arg;
    calls[i]++;
    codes[i] = fetch_task_response(t)->error;
}

/* A socket that listens but never accepts: connections stay in the TLS
   handshake, the "connecting" state. */
static int silent_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static fetch_task *mid_body;
static void cancel_mid_body(fetch_task *t, void *arg)
{
    (void)t;
    (void)arg;
    ck_assert_int_eq(fetch_task_cancel(mid_body), FETCH_OK);
}

START_TEST(callbacks_run_exactly_once_in_every_outcome)
{
    int port, lfd = silent_listener(&port);
    char connecting_url[64];
    snprintf(connecting_url, sizeof connecting_url, "https://127.0.0.1:%d/",
             port);
    memset(calls, 0, sizeof calls);
    fetch_client *c = client_with(5, 0, 0);
    fetch_task *t[8];
    fetch_request slow; /* only this one has a timeout */
    fetch_request_init(&slow);
    slow.url = ts_url(&srv, "/delay/5000");
    slow.timeout = 0.5;
    t[0] = fetch_get(c, ts_url(&srv, "/bytes/10"), count_cb, (void *)0, NULL);
    t[1] = fetch_get(c, "http://127.0.0.1:1/", count_cb, (void *)1, NULL);
    t[2] = fetch_submit(c, &slow, count_cb, (void *)2, NULL);
    t[3] = fetch_get(c, connecting_url, count_cb, (void *)3, NULL);
    t[4] = mid_body =
        fetch_get(c, ts_url(&srv, "/drip/40"), count_cb, (void *)4, NULL);
    t[5] =
        fetch_get(c, ts_url(&srv, "/delay/300"), cancel_mid_body, NULL, NULL);
    t[6] = fetch_get(c, ts_url(&srv, "/delay/10"), count_cb, (void *)6, NULL);
    t[7] = fetch_get(c, ts_url(&srv, "/delay/5000?teardown"), count_cb,
                     (void *)7, NULL);
    /* t[6], t[7] wait in the queue behind 5 slots; cancel t[6] there */
    ck_assert_int_eq(fetch_wait_for(t[0], 5), FETCH_OK);
    fetch_stats st;
    fetch_client_stats(c, &st);
    ck_assert_int_eq(fetch_task_cancel(t[6]), FETCH_OK);
    ck_assert_int_eq(calls[6], 1);
    ck_assert_int_eq(codes[6], FETCH_E_CANCELLED);
    /* connecting (TLS handshake with a silent peer): cancel */
    ck_assert_int_eq(fetch_wait_for(t[1], 5), FETCH_E_CONNECT);
    ck_assert(!fetch_task_done(t[3]));
    ck_assert_int_eq(fetch_task_cancel(t[3]), FETCH_OK);
    /* mid-body: the drip is cancelled by another task's callback */
    ck_assert_int_eq(fetch_wait_for(t[4], 5), FETCH_E_CANCELLED);
    ck_assert_uint_gt(fetch_task_response(t[4])->bytes, 0);
    ck_assert_uint_lt(fetch_task_response(t[4])->bytes, 4000);
    /* per-request timeout */
    ck_assert_int_eq(fetch_wait_for(t[2], 5), FETCH_E_TIMEOUT);
    fetch_client_free(c); /* t[7] ends with the client */
    int want[] = {FETCH_OK,          FETCH_E_CONNECT,   FETCH_E_TIMEOUT,
                  FETCH_E_CANCELLED, FETCH_E_CANCELLED, 0,
                  FETCH_E_CANCELLED, FETCH_E_CANCELLED};
    for (int i = 0; i < 8; i++) {
        if (i == 5)
            continue;
        ck_assert_msg(calls[i] == 1, "task %d: %d calls", i, calls[i]);
        ck_assert_msg(codes[i] == want[i], "task %d: code %d", i, codes[i]);
    }
    for (int i = 0; i < 8; i++)
        fetch_task_free(t[i]);
    for (int i = 0; i < 8; i++)
        ck_assert_int_le(calls[i], 1);
    close(lfd);
}
END_TEST

START_TEST(cancel_all_ends_every_unfinished_task)
{
    fetch_client *c = client_with(2, 0, 0);
    fetch_task *t[5];
    memset(calls, 0, sizeof calls);
    for (long i = 0; i < 5; i++)
        t[i] = fetch_get(c, ts_url(&srv, "/delay/3000?i=%ld", i), count_cb,
                         (void *)i, NULL);
    fetch_wait_for(t[0], 0.1); /* two start; this ends t[0] */
    ck_assert_uint_eq(fetch_client_cancel_all(c), 4);
    for (int i = 1; i < 5; i++) {
        ck_assert_int_eq(calls[i], 1);
        ck_assert_int_eq(codes[i], FETCH_E_CANCELLED);
    }
    assert_idle(c);
    ck_assert_uint_eq(fetch_client_cancel_all(c), 0);
    for (int i = 0; i < 5; i++)
        fetch_task_free(t[i]);
    fetch_client_free(c);
}
END_TEST

/* ---- gather modes, wait_for ---- */

START_TEST(gather_fail_fast_cancels_the_rest)
{
    fetch_client *c = client_with(10, 0, 0);
    fetch_task *t[4];
    t[0] = fetch_get(c, ts_url(&srv, "/delay/3000"), NULL, NULL, NULL);
    t[1] = fetch_get(c, ts_url(&srv, "/bytes/5"), NULL, NULL, NULL);
    t[2] =
        fetch_get(c, "http://127.0.0.1:1/", NULL, NULL, NULL); /* fails fast */
    t[3] = fetch_get(c, ts_url(&srv, "/delay/3000?b"), NULL, NULL, NULL);
    double start = now_s();
    int failed =
        fetch_gather(c, t, 4, FETCH_WAIT_FOREVER, FETCH_GATHER_FAIL_FAST);
    /* t[1] may or may not have finished before t[2] failed */
    int fast = fetch_task_response(t[1])->error;
    ck_assert(fast == FETCH_OK || fast == FETCH_E_CANCELLED);
    ck_assert_int_eq(failed, 3 + (fast != FETCH_OK));
    ck_assert_double_lt(now_s() - start, 2.5); /* did not wait for the slow */
    ck_assert_int_eq(fetch_task_response(t[0])->error, FETCH_E_CANCELLED);
    ck_assert_int_eq(fetch_task_response(t[2])->error, FETCH_E_CONNECT);
    ck_assert_int_eq(fetch_task_response(t[3])->error, FETCH_E_CANCELLED);
    ck_assert_ptr_nonnull(
        strstr(fetch_task_response(t[3])->message, "another task"));
    assert_idle(c);
    for (int i = 0; i < 4; i++)
        fetch_task_free(t[i]);
    fetch_client_free(c);
}
END_TEST

START_TEST(wait_for_counts_from_the_call)
{
    fetch_client *c = client_with(10, 0, 0);
    fetch_task *a = fetch_get(c, ts_url(&srv, "/delay/300"), NULL, NULL, NULL);
    fetch_task *b = fetch_get(c, ts_url(&srv, "/delay/700"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(a, FETCH_WAIT_FOREVER), FETCH_OK);
    /* b has run 0.3 s; a 0.25 s wait from now ends before its 0.7 s */
    double start = now_s();
    ck_assert_int_eq(fetch_wait_for(b, 0.25), FETCH_E_TIMEOUT);
    double waited = now_s() - start;
    ck_assert_double_ge(waited, 0.24); /* not from submission: 0.3 s ago */
    ck_assert_double_lt(waited, 1.0);
    fetch_task_free(a);
    fetch_task_free(b);
    fetch_client_free(c);
}
END_TEST

/* ---- per-request options ---- */

static fetch_task *submit_wait(fetch_client *c, const fetch_request *r)
{
    fetch_task *t = fetch_submit(c, r, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(t);
    fetch_wait_for(t, 10);
    return t;
}

START_TEST(methods_and_bodies)
{
    fetch_client *c = client_with(4, 0, 0);
    fetch_request r;
    const char *methods[] = {"POST", "PUT", "PATCH", "DELETE"};
    for (int i = 0; i < 4; i++) {
        char want[64];
        fetch_request_init(&r);
        r.url = ts_url(&srv, "/echo");
        r.method = methods[i];
        r.body = "x=1&y=2";
        r.body_len = 7;
        fetch_task *t = submit_wait(c, &r);
        snprintf(want, sizeof want, "%s\nx=1&y=2", methods[i]);
        ck_assert_str_eq(fetch_task_response(t)->body, want);
        fetch_task_free(t);
    }
    /* a plain GET after them on the same handles is a GET again */
    fetch_task *t = fetch_get(c, ts_url(&srv, "/echo"), NULL, NULL, NULL);
    fetch_wait_for(t, 10);
    ck_assert_str_eq(fetch_task_response(t)->body, "GET\n");
    fetch_task_free(t);
    fetch_request_init(&r); /* HEAD: status and headers, no body */
    r.url = ts_url(&srv, "/bytes/100");
    r.method = "HEAD";
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->status, 200);
    ck_assert_uint_eq(fetch_task_response(t)->body_len, 0);
    ck_assert_str_eq(fetch_task_header(t, "Content-Type", 0),
                     "application/octet-stream");
    fetch_task_free(t);
    fetch_request_init(&r); /* binary body with NULs */
    r.url = ts_url(&srv, "/echo");
    r.method = "POST";
    r.body = "a\0b";
    r.body_len = 3;
    t = submit_wait(c, &r);
    ck_assert_uint_eq(fetch_task_response(t)->body_len, 8);
    ck_assert(memcmp(fetch_task_response(t)->body, "POST\na\0b", 8) == 0);
    fetch_task_free(t);
    fetch_client_free(c);
}
END_TEST

START_TEST(per_request_overrides)
{
    const char *client_headers[] = {"X-A: client", "X-B: client"};
    fetch_options o;
    test_options(&o);
    o.headers = client_headers;
    o.n_headers = 2;
    o.timeout = 5;
    fetch_client *c = fetch_client_new(&o, NULL, NULL);
    fetch_request r;

    const char *mine[] = {"X-B: request", "X-C: request"};
    fetch_request_init(&r);
    r.url = ts_url(&srv, "/headers");
    r.headers = mine;
    r.n_headers = 2;
    fetch_task *t = submit_wait(c, &r);
    const char *body = fetch_task_response(t)->body;
    ck_assert_ptr_nonnull(strstr(body, "X-A: client\n"));
    ck_assert_ptr_nonnull(strstr(body, "X-B: request\n"));
    ck_assert_ptr_null(strstr(body, "X-B: client"));
    ck_assert_ptr_nonnull(strstr(body, "X-C: request\n"));
    fetch_task_free(t);

    fetch_request_init(&r);
    r.url = ts_url(&srv, "/delay/3000");
    r.timeout = 0.2;
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_TIMEOUT);
    ck_assert_double_lt(fetch_task_response(t)->time_total, 1.5);
    fetch_task_free(t);

    fetch_request_init(&r);
    r.url = ts_url(&srv, "/redirect/2");
    r.follow_redirects = 0;
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->status, 302);
    ck_assert_str_eq(fetch_task_header(t, "location", 0), "/redirect/1");
    fetch_task_free(t);

    fetch_request_init(&r);
    r.url = ts_url(&srv, "/status/418");
    r.fail_on_http_error = 1;
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_HTTP);
    fetch_task_free(t);

    /* and the client's settings are back for a plain GET */
    t = fetch_get(c, ts_url(&srv, "/redirect/2"), NULL, NULL, NULL);
    fetch_wait_for(t, 10);
    ck_assert_int_eq(fetch_task_response(t)->status, 200);
    fetch_task_free(t);
    t = fetch_get(c, ts_url(&srv, "/headers"), NULL, NULL, NULL);
    fetch_wait_for(t, 10);
    ck_assert_ptr_nonnull(strstr(fetch_task_response(t)->body, "X-B: client"));
    fetch_task_free(t);
    fetch_client_free(c);
}
END_TEST

START_TEST(max_body_size_stops_the_transfer)
{
    fetch_client *c = client_with(4, 0, 0);
    fetch_request r;
    const char *paths[] = {"/bytes/50000", "/chunked/50000"};
    for (int i = 0; i < 2; i++) { /* with and without Content-Length */
        fetch_request_init(&r);
        r.url = ts_url(&srv, "%s", paths[i]);
        r.max_body_size = 10000;
        fetch_task *t = submit_wait(c, &r);
        ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_TOO_LARGE);
        ck_assert_ptr_nonnull(strstr(fetch_task_response(t)->message, "10000"));
        ck_assert_uint_le(fetch_task_response(t)->body_len, 10000);
        fetch_task_free(t);
    }
    fetch_request_init(&r);
    r.url = ts_url(&srv, "/chunked/9000");
    r.max_body_size = 10000;
    fetch_task *t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    fetch_task_free(t);
    fetch_client_free(c);
}
END_TEST

/* ---- streaming ---- */

struct chunks {
    size_t n, bytes, stop_after;
    int bad;
};
static int on_chunk(fetch_task *t, const char *data, size_t len, void *arg)
{
    struct chunks *ch = arg;
    (void)t;
    for (size_t i = 0; i < len; i++) /* the bytes are the body's, in order */
        ch->bad |= data[i] != (char)('a' + (ch->bytes + i) % 26);
    ch->n++;
    ch->bytes += len;
    return ch->stop_after && ch->n >= ch->stop_after ? -1 : 0;
}

START_TEST(data_callback_streams_and_can_stop)
{
    fetch_client *c = client_with(4, 0, 0);
    struct chunks ch = {0};
    fetch_request r;
    fetch_request_init(&r);
    r.url = ts_url(&srv, "/drip/5");
    r.on_data = on_chunk;
    r.data_arg = &ch;
    fetch_task *t = submit_wait(c, &r);
    const fetch_response *resp = fetch_task_response(t);
    ck_assert_int_eq(resp->error, FETCH_OK);
    ck_assert_uint_eq(ch.bytes, 500);
    ck_assert_uint_ge(ch.n, 5); /* one chunk per 50 ms drip at least */
    ck_assert_int_eq(ch.bad, 0);
    ck_assert_uint_eq(resp->bytes, 500);
    ck_assert_uint_eq(resp->body_len, 0); /* nothing buffered */
    fetch_task_free(t);

    struct chunks stop = {.stop_after = 2};
    r.url = ts_url(&srv, "/drip/40");
    r.data_arg = &stop;
    double start = now_s();
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_CANCELLED);
    ck_assert_ptr_nonnull(strstr(fetch_task_response(t)->message,
                                 "stopped by the data callback"));
    ck_assert_uint_eq(stop.n, 2);
    ck_assert_double_lt(now_s() - start, 1.5); /* not the 2 s of the drip */
    fetch_task_free(t);

    /* an error page is data like any other... */
    struct chunks page = {0};
    r.url = ts_url(&srv, "/status/404");
    r.data_arg = &page;
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->status, 404);
    ck_assert_uint_eq(page.bytes, strlen("status 404\n"));
    fetch_task_free(t);
    /* ...unless it fails the task: then none of it is streamed (curl -f) */
    struct chunks none = {0};
    r.data_arg = &none;
    r.fail_on_http_error = 1;
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_HTTP);
    ck_assert_uint_eq(none.n, 0);
    fetch_task_free(t);
    assert_idle(c);
    fetch_client_free(c);
}
END_TEST

START_TEST(file_sinks)
{
    char path[] = "/tmp/fetch-sink-XXXXXX", path2[64];
    int fd = mkstemp(path);
    snprintf(path2, sizeof path2, "%s.b", path);
    fetch_client *c = client_with(4, 0, 0);
    fetch_request r;
    fetch_request_init(&r);
    r.url = ts_url(&srv, "/chunked/123456");
    r.sink_fd = fd;
    fetch_task *t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    ck_assert_uint_eq(fetch_task_response(t)->bytes, 123456);
    ck_assert_uint_eq(fetch_task_response(t)->body_len, 0);
    fetch_task_free(t);
    fetch_request_init(&r);
    r.url = ts_url(&srv, "/bytes/70000");
    r.sink_path = path2;
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    fetch_task_free(t);

    char *want = expected_bytes(123456), *got = malloc(200000);
    ck_assert_int_eq(pread(fd, got, 200000, 0), 123456);
    ck_assert(memcmp(got, want, 123456) == 0);
    int fd2 = open(path2, O_RDONLY);
    ck_assert_int_eq(read(fd2, got, 200000), 70000);
    ck_assert(memcmp(got, want, 70000) == 0);
    close(fd2);
    close(fd); /* the caller's fd stays the caller's */

    fetch_request_init(&r); /* an unwritable path is that task's error */
    r.url = ts_url(&srv, "/bytes/10");
    r.sink_path = "/nonexistent-dir/x";
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_WRITE);
    fetch_task_free(t);
    r.sink_fd = 1; /* two sinks at once: refused */
    ck_assert_ptr_null(fetch_submit(c, &r, NULL, NULL, NULL));
    fetch_client_free(c);
    unlink(path);
    unlink(path2);
    free(want);
    free(got);
}
END_TEST

/* ---- headers, cookies ---- */

START_TEST(response_headers)
{
    fetch_client *c = client_with(4, 0, 0);
    fetch_task *t = fetch_get(c, ts_url(&srv, "/multi"), NULL, NULL, NULL);
    ck_assert_ptr_null(fetch_task_header(t, "X-Multi", 0)); /* not done */
    fetch_wait_for(t, 10);
    ck_assert_str_eq(fetch_task_header(t, "X-Multi", 0), "a");
    ck_assert_str_eq(fetch_task_header(t, "x-multi", 1), "b");
    ck_assert_ptr_null(fetch_task_header(t, "X-Multi", 2));
    ck_assert_ptr_null(fetch_task_header(t, "X-None", 0));
    const char *name, *value;
    int seen_type = 0, multi = 0;
    size_t i;
    for (i = 0; fetch_task_header_at(t, i, &name, &value); i++) {
        seen_type |= !strcasecmp(name, "Content-Type");
        multi += !strcmp(name, "X-Multi");
    }
    ck_assert(seen_type);
    ck_assert_int_eq(multi, 2);
    ck_assert_uint_ge(i, 4);
    fetch_task_free(t);
    /* after redirects: the last response's headers and the chain length */
    t = fetch_get(c, ts_url(&srv, "/redirect/2"), NULL, NULL, NULL);
    fetch_wait_for(t, 10);
    ck_assert_ptr_null(fetch_task_header(t, "Location", 0));
    ck_assert_int_eq(fetch_task_response(t)->redirects, 2);
    fetch_task_free(t);
    fetch_client_free(c);
}
END_TEST

static char *get_body(fetch_client *c, const char *url)
{
    fetch_task *t = fetch_get(c, url, NULL, NULL, NULL);
    fetch_wait_for(t, 10);
    char *b = strdup(fetch_task_response(t)->body);
    fetch_task_free(t);
    return b;
}

START_TEST(cookies_round_trip)
{
    char jar[] = "/tmp/fetch-jar-XXXXXX";
    close(mkstemp(jar));
    fetch_options o;
    test_options(&o);
    o.cookie_jar = jar;
    fetch_client *c = fetch_client_new(&o, NULL, NULL);
    free(get_body(c, ts_url(&srv, "/cookie/set?session=42;%%20Path=/")));
    char *b = get_body(c, ts_url(&srv, "/headers"));
    ck_assert_ptr_nonnull(strstr(b, "Cookie: session=42"));
    free(b);
    fetch_client_free(c); /* writes the jar */
    FILE *f = fopen(jar, "r");
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f))
        found |= strstr(line, "session\t42") != NULL;
    fclose(f);
    unlink(jar);
    ck_assert(found);

    o.cookie_jar = NULL; /* a new client starts empty; off means off */
    o.cookies = 0;
    c = fetch_client_new(&o, NULL, NULL);
    free(get_body(c, ts_url(&srv, "/cookie/set?session=43;%%20Path=/")));
    b = get_body(c, ts_url(&srv, "/headers"));
    ck_assert_ptr_null(strstr(b, "Cookie:"));
    free(b);
    fetch_client_free(c);
}
END_TEST

/* ---- TLS ---- */

START_TEST(tls_verification)
{
    char dir[] = "/tmp/fetch-tls-XXXXXX", cert[128], key[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tls_files(dir, cert, key, sizeof cert);
    test_server tls;
    ts_start_tls(&tls, cert, key);
    fetch_options o;
    test_options(&o);

    fetch_client *c = fetch_client_new(&o, NULL, NULL); /* system CAs */
    fetch_task *t = fetch_get(c, ts_url(&tls, "/bytes/5"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(t, 10), FETCH_E_TLS);
    fetch_task_free(t);
    fetch_client_free(c);

    o.ca_file = cert; /* --cacert */
    c = fetch_client_new(&o, NULL, NULL);
    t = fetch_get(c, ts_url(&tls, "/bytes/5"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(t, 10), FETCH_OK);
    ck_assert_str_eq(fetch_task_response(t)->body, "abcde");
    ck_assert_double_gt(fetch_task_response(t)->time_tls, 0);
    fetch_task_free(t);
    fetch_client_free(c);

    o.ca_file = NULL; /* -k */
    o.insecure = 1;
    c = fetch_client_new(&o, NULL, NULL);
    t = fetch_get(c, ts_url(&tls, "/bytes/5"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(t, 10), FETCH_OK);
    fetch_task_free(t);
    fetch_client_free(c);
    ts_stop(&tls);

    /* a server that wants a client certificate (self-signed: its own CA) */
    char cdir[] = "/tmp/fetch-tls-client-XXXXXX", ccert[128], ckey[128];
    ck_assert_ptr_nonnull(mkdtemp(cdir));
    tls_files(cdir, ccert, ckey, sizeof ccert);
    ts_start_tls_client_ca(&tls, cert, key, ccert);
    o.insecure = 0;
    o.ca_file = cert;
    c = fetch_client_new(&o, NULL, NULL);
    t = fetch_get(c, ts_url(&tls, "/bytes/5"), NULL, NULL, NULL);
    /* none given: refused, in the handshake or (TLS 1.3) right after it */
    ck_assert_int_ne(fetch_wait_for(t, 10), FETCH_OK);
    ck_assert_int_eq(fetch_task_response(t)->status, 0);
    fetch_task_free(t);
    fetch_client_free(c);
    o.client_cert = ccert;
    o.client_key = ckey;
    c = fetch_client_new(&o, NULL, NULL);
    t = fetch_get(c, ts_url(&tls, "/bytes/5"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(t, 10), FETCH_OK);
    ck_assert_str_eq(fetch_task_response(t)->body, "abcde");
    fetch_task_free(t);
    fetch_client_free(c);
    ts_stop(&tls);
    unlink(ccert);
    unlink(ckey);
    rmdir(cdir);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}
END_TEST

/* ---- tracing ---- */

struct trace_log {
    int queued, started, first_byte, finished;
    double t_started, t_first, t_finished;
};
static void tr_queued(fetch_task *t, void *arg)
{
    (void)t;
    ((struct trace_log *)arg)->queued++;
}
static void tr_started(fetch_task *t, double s, void *arg)
{
    struct trace_log *l = arg;
    (void)t;
    l->started++;
    l->t_started = s;
}
static void tr_first(fetch_task *t, double s, void *arg)
{
    struct trace_log *l = arg;
    (void)t;
    l->first_byte++;
    l->t_first = s;
}
static void tr_finished(fetch_task *t, double s, void *arg)
{
    struct trace_log *l = arg;
    ck_assert_ptr_nonnull(fetch_task_response(t));
    l->finished++;
    l->t_finished = s;
}

START_TEST(trace_hooks)
{
    struct trace_log log = {0};
    fetch_trace tr = {tr_queued, tr_started, tr_first, tr_finished, &log};
    fetch_options o;
    test_options(&o);
    o.trace = tr;
    fetch_client *c = fetch_client_new(&o, NULL, NULL);
    fetch_task *t = fetch_get(c, ts_url(&srv, "/delay/100"), NULL, NULL, NULL);
    fetch_wait_for(t, 10);
    ck_assert_int_eq(log.queued, 1);
    ck_assert_int_eq(log.started, 1);
    ck_assert_int_eq(log.first_byte, 1);
    ck_assert_int_eq(log.finished, 1);
    ck_assert_double_le(log.t_started, log.t_first);
    ck_assert_double_ge(log.t_first, 0.09);
    ck_assert_double_le(log.t_first, log.t_finished);
    fetch_task_free(t);
    t = fetch_get(c, "gopher://x/", NULL, NULL,
                  NULL); /* refused: never starts */
    fetch_wait_for(t, 10);
    ck_assert_int_eq(log.queued, 2);
    ck_assert_int_eq(log.started, 1);
    ck_assert_int_eq(log.finished, 2);
    fetch_task_free(t);
    fetch_client_free(c);
}
END_TEST

static Suite *toolbox_suite(void)
{
    Suite *s = suite_create("toolbox");
    TCase *tc = tcase_create("toolbox");
    tcase_add_checked_fixture(tc, srv_setup, srv_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, as_completed_hands_back_in_completion_order);
    tcase_add_test(tc, as_completed_timeout_cancels_nothing);
    tcase_add_test(tc, as_completed_producer_consumer);
    tcase_add_test(tc, freed_tasks_leave_the_completed_queue);
    tcase_add_test(tc, callbacks_run_exactly_once_in_every_outcome);
    tcase_add_test(tc, cancel_all_ends_every_unfinished_task);
    tcase_add_test(tc, gather_fail_fast_cancels_the_rest);
    tcase_add_test(tc, wait_for_counts_from_the_call);
    tcase_add_test(tc, methods_and_bodies);
    tcase_add_test(tc, per_request_overrides);
    tcase_add_test(tc, max_body_size_stops_the_transfer);
    tcase_add_test(tc, data_callback_streams_and_can_stop);
    tcase_add_test(tc, file_sinks);
    tcase_add_test(tc, response_headers);
    tcase_add_test(tc, cookies_round_trip);
    tcase_add_test(tc, tls_verification);
    tcase_add_test(tc, trace_hooks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_loops(toolbox_suite);
}
