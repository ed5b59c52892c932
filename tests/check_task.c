/* SPDX-License-Identifier: MIT */
/* Tasks: submission and its limits, settings per request, cancel and
   free, callbacks exactly once, timeouts, tracing, cookies, embedding. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "harness.h"
#include "libfetch.h"

START_TEST(many_requests_respect_concurrency)
{
    enum { N = 2000, LIMIT = 50, SLOW = 60 };
    fetch_client *c = client_with(LIMIT, 0, 0);
    fetch_task **t = calloc(N, sizeof *t);
    /* the first ones take a second: the limit is reached however slowly
       the client runs (valgrind) */
    for (int i = 0; i < N; i++)
        t[i] = i < SLOW ? fetch_get(c, ts_url(&srv, "/delay/1000?i=%d", i),
                                    NULL, NULL, NULL)
               : i % 2  ? fetch_get(c, ts_url(&srv, "/delay/20?i=%d", i), NULL,
                                    NULL, NULL)
                        : fetch_get(c, ts_url(&srv, "/bytes/%d", i % 700), NULL,
                                    NULL, NULL);
    fetch_stats st;
    fetch_client_stats(c, &st);
    ck_assert_uint_eq(st.tasks, N);
    ck_assert_uint_eq(st.running, 0); /* nothing starts inside fetch_get */
    ck_assert_int_eq(
        fetch_gather(c, t, N, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), 0);
    for (int i = 0; i < N; i++) {
        const fetch_response *r = fetch_task_response(t[i]);
        ck_assert_int_eq(r->error, FETCH_OK);
        if (i < SLOW) {
            ck_assert_str_eq(r->body, "delay 1000\n");
        } else if (i % 2) {
            ck_assert_str_eq(r->body, "delay 20\n");
        } else {
            char *want = expected_bytes((size_t)(i % 700));
            ck_assert_uint_eq(r->body_len, (size_t)(i % 700));
            ck_assert_str_eq(r->body, want);
            free(want);
        }
    }
    long inflight, max, total;
    ts_stats(&srv, &inflight, &max, &total);
    ck_assert_int_eq(total, N);
    ck_assert_int_eq(max, LIMIT); /* never more, and all of it used */
    fetch_client_stats(c, &st);
    ck_assert_uint_eq(st.finished, N);
    assert_idle(c);
    free_all(t, N);
    fetch_client_stats(c, &st);
    ck_assert_uint_eq(st.tasks, 0);
    client_free(c);
    free(t);
}
END_TEST

START_TEST(per_host_limit_holds)
{
    enum { N = 120, PER_HOST = 4 };
    test_server other;
    ts_start(&other);
    fetch_client *c = client_with(100, PER_HOST, 0);
    fetch_task *t[N];
    for (int i = 0; i < N; i++) /* two hosts, interleaved */
        t[i] = fetch_get(c, ts_url(i % 2 ? &other : &srv, "/delay/20?i=%d", i),
                         NULL, NULL, NULL);
    ck_assert_int_eq(
        fetch_gather(c, t, N, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), 0);
    long inflight, max, total;
    ts_stats(&srv, &inflight, &max, &total);
    ck_assert_int_eq(total, N / 2);
    ck_assert_int_eq(max, PER_HOST);
    ts_stats(&other, &inflight, &max, &total);
    ck_assert_int_eq(total, N / 2);
    ck_assert_int_eq(max, PER_HOST);
    assert_idle(c);
    free_all(t, N);
    client_free(c);
    ts_stop(&other);
}
END_TEST

START_TEST(timeout_ends_only_the_slow_request)
{
    const double timeout = 0.3;
    fetch_client *c = client_with(10, 0, timeout);
    fetch_task *t[3];
    t[0] = fetch_get(c, ts_url(&srv, "/delay/10"), NULL, NULL, NULL);
    t[1] = fetch_get(c, ts_url(&srv, "/delay/5000"), NULL, NULL, NULL);
    t[2] = fetch_get(c, ts_url(&srv, "/bytes/10"), NULL, NULL, NULL);
    ck_assert_int_eq(
        fetch_gather(c, t, 3, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), 1);
    const fetch_response *r = fetch_task_response(t[1]);
    ck_assert_int_eq(r->error, FETCH_E_TIMEOUT);
    ck_assert_int_eq(r->curl_code, 28); /* CURLE_OPERATION_TIMEDOUT */
    ck_assert_ptr_nonnull(strstr(r->message, "/delay/5000"));
    ck_assert_double_ge(r->time_total, timeout - 0.01);
    ck_assert_double_le(r->time_total, timeout + 1.0);
    ck_assert_int_eq(fetch_task_response(t[0])->error, FETCH_OK);
    ck_assert_str_eq(fetch_task_response(t[0])->body, "delay 10\n");
    ck_assert_int_eq(fetch_task_response(t[2])->error, FETCH_OK);
    assert_idle(c);
    free_all(t, 3);
    client_free(c);
}
END_TEST

START_TEST(queue_time_is_not_charged_to_the_timeout)
{
    /* one at a time: the fourth waits ~0.9 s in the queue, longer than its
       0.6 s timeout, and must still succeed */
    fetch_client *c = client_with(1, 0, 0.6);
    fetch_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] =
            fetch_get(c, ts_url(&srv, "/delay/300?i=%d", i), NULL, NULL, NULL);
    ck_assert_int_eq(
        fetch_gather(c, t, 4, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), 0);
    const fetch_response *r = fetch_task_response(t[3]);
    ck_assert_double_ge(r->time_queued, 0.85); /* and still ok (above) */
    /* the first waited for none of them, each later one for those before */
    for (int i = 1; i < 4; i++)
        ck_assert_double_lt(fetch_task_response(t[i - 1])->time_queued,
                            fetch_task_response(t[i])->time_queued);
    free_all(t, 4);
    client_free(c);
}
END_TEST

START_TEST(bad_input_is_that_requests_error)
{
    char unknown[128];
    /* a 70-character label: the resolver rejects it locally, without
       sending a query anywhere */
    snprintf(unknown, sizeof unknown, "http://%070d.invalid/", 0);
    fetch_client *c = client_with(10, 0, 5);
    const char *urls[] = {"http://exa mple.com/",
                          "http://127.0.0.1:1/",
                          unknown,
                          "file:///etc/passwd",
                          "ftp://127.0.0.1/",
                          "",
                          NULL /* replaced by a good URL */};
    const int want[] = {FETCH_E_URL,      FETCH_E_CONNECT,  FETCH_E_RESOLVE,
                        FETCH_E_PROTOCOL, FETCH_E_PROTOCOL, FETCH_E_URL,
                        FETCH_OK};
    enum { N = 7 };
    fetch_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = fetch_get(c, urls[i] ? urls[i] : ts_url(&srv, "/bytes/3"),
                         record, (void *)(long)i, NULL);
    n_done = 0;
    ck_assert_int_eq(
        fetch_gather(c, t, N, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), N - 1);
    ck_assert_int_eq(n_done, N);
    for (int i = 0; i < N; i++) {
        const fetch_response *r = fetch_task_response(t[i]);
        ck_assert_msg(r->error == want[i], "url %d: got %d (%s), want %d", i,
                      r->error, r->message, want[i]);
        if (want[i] != FETCH_OK) {
            ck_assert_ptr_nonnull(r->message);
            ck_assert(strncmp(r->message, fetch_task_url(t[i]),
                              strlen(fetch_task_url(t[i]))) == 0);
        }
    }
    ck_assert_str_eq(fetch_task_response(t[N - 1])->body, "abc");
    free_all(t, N);
    client_free(c);
}
END_TEST

static int cancelled_calls;
static void count_cancel(fetch_task *t, void *arg)
{
    (void)arg;
    if (fetch_task_response(t)->error == FETCH_E_CANCELLED)
        cancelled_calls++;
}

START_TEST(cancel_queued_and_running)
{
    fetch_client *c = client_with(1, 0, 0);
    fetch_task *running =
        fetch_get(c, ts_url(&srv, "/delay/3000"), count_cancel, NULL, NULL);
    fetch_task *queued =
        fetch_get(c, ts_url(&srv, "/delay/3000?q"), count_cancel, NULL, NULL);
    fetch_task *after =
        fetch_get(c, ts_url(&srv, "/bytes/5"), NULL, NULL, NULL);
    cancelled_calls = 0;
    /* let the first one start */
    ck_assert_int_eq(fetch_wait_for(after, 0.2), FETCH_E_TIMEOUT);
    fetch_stats st;
    fetch_client_stats(c, &st);
    ck_assert_uint_eq(st.running, 1);
    ck_assert_uint_eq(st.queued, 1);

    ck_assert_int_eq(fetch_task_cancel(queued), FETCH_OK);
    ck_assert_int_eq(cancelled_calls, 1); /* callback ran inside cancel */
    ck_assert_int_eq(fetch_task_response(queued)->error, FETCH_E_CANCELLED);
    ck_assert_int_eq(fetch_task_cancel(queued), FETCH_E_INVAL);
    ck_assert_int_eq(fetch_task_cancel(running), FETCH_OK);
    ck_assert_int_eq(cancelled_calls, 2);
    ck_assert_int_eq(fetch_task_response(running)->error, FETCH_E_CANCELLED);
    assert_idle(c);
    fetch_task_free(running);
    fetch_task_free(queued);
    fetch_task_free(after);
    client_free(c);
    ck_assert_int_eq(cancelled_calls, 2);
}
END_TEST

START_TEST(user_agent_and_headers_sent)
{
    const char *headers[] = {"X-Test: one", "Accept: text/plain"};
    fetch_options o;
    test_options(&o);
    o.headers = headers;
    o.n_headers = 2;
    fetch_client *c = client_new(&o, NULL);
    fetch_task *t = get_one(c, ts_url(&srv, "/headers"));
    const char *body = fetch_task_response(t)->body;
    ck_assert_ptr_nonnull(
        strstr(body, "User-Agent: libfetch/" LIBFETCH_VERSION_STRING));
    ck_assert_ptr_nonnull(strstr(body, "X-Test: one"));
    ck_assert_ptr_nonnull(strstr(body, "Accept: text/plain"));
    ck_assert_ptr_nonnull(strstr(body, "Accept-Encoding: ")); /* all codings */
    fetch_task_free(t);
    client_free(c);
}
END_TEST

static int teardown_calls[5];
static void count_call(fetch_task *t, void *arg)
{
    (void)t;
    teardown_calls[(long)arg]++;
}

START_TEST(client_free_runs_every_callback_once)
{
    fetch_client *c = client_with(2, 0, 0);
    fetch_task *t[5];
    memset(teardown_calls, 0, sizeof teardown_calls);
    for (long i = 0; i < 5; i++)
        t[i] = fetch_get(c, ts_url(&srv, "/delay/5000?i=%ld", i), count_call,
                         (void *)i, NULL);
    /* two start, the rest stay queued; this wait ends t[4] with a timeout */
    ck_assert_int_eq(fetch_wait_for(t[4], 0.1), FETCH_E_TIMEOUT);
    client_drop(c);               /* busy: that is the test */
    for (int i = 0; i < 5; i++) { /* once each, and detached tasks readable */
        ck_assert_int_eq(teardown_calls[i], 1);
        ck_assert(fetch_task_done(t[i]));
        ck_assert_int_eq(fetch_task_response(t[i])->error,
                         i == 4 ? FETCH_E_TIMEOUT : FETCH_E_CANCELLED);
    }
    free_all(t, 5);
}
END_TEST

/* Embedding: the caller's event_base, callbacks only, no blocking call. */
struct embed {
    struct event_base *base;
    int pending, ok;
};
static void embed_done(fetch_task *t, void *arg)
{
    struct embed *e = arg;
    e->ok += fetch_task_response(t)->error == FETCH_OK;
    fetch_task_free(t);
    if (--e->pending == 0)
        event_base_loopexit(e->base, NULL);
}

START_TEST(embedded_on_callers_base)
{
    struct embed e = {event_base_new(), 0, 0};
    fetch_options o;
    test_options(&o);
    o.max_concurrency = 8;
    fetch_client *c = client_new(&o, e.base);
    ck_assert_ptr_eq(fetch_client_base(c), e.base);
    for (int i = 0; i < 40; i++, e.pending++)
        ck_assert_ptr_nonnull(fetch_get(c, ts_url(&srv, "/delay/10?i=%d", i),
                                        embed_done, &e, NULL));
    ck_assert_int_eq(event_base_dispatch(e.base), 0);
    ck_assert_int_eq(e.ok, 40);
    fetch_stats st;
    fetch_client_stats(c, &st);
    ck_assert_uint_eq(st.tasks, 0);
    client_free(c);
    /* the client took every event of its own off the caller's base */
    ck_assert_int_eq(
        event_base_get_num_events(e.base, EVENT_BASE_COUNT_ADDED |
                                              EVENT_BASE_COUNT_ACTIVE),
        0);
    event_base_free(e.base);
}
END_TEST

START_TEST(invalid_arguments)
{
    fetch_options o;
    int err = 0;
    test_options(&o);
    o.max_concurrency = 0;
    ck_assert_ptr_null(fetch_client_new(&o, NULL, &err));
    ck_assert_int_eq(err, FETCH_E_INVAL);
    fetch_client *c = client_new(NULL, NULL);
    ck_assert_ptr_null(fetch_get(c, NULL, NULL, NULL, NULL));
    ck_assert_ptr_null(fetch_get(NULL, "http://x/", NULL, NULL, NULL));
    ck_assert_int_eq(fetch_wait_for(NULL, 0), FETCH_E_INVAL);
    ck_assert_int_eq(
        fetch_gather(c, NULL, 1, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL),
        FETCH_E_INVAL);
    ck_assert_int_eq(
        fetch_gather(c, NULL, 0, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), 0);
    ck_assert_str_eq(fetch_strerror(FETCH_E_TIMEOUT), "timed out");
    ck_assert_str_eq(fetch_strerror(12345), "unknown error");
    ck_assert_str_eq(fetch_version(), LIBFETCH_VERSION_STRING);
    client_free(c);
    fetch_client_free(NULL);
    fetch_task_free(NULL);
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
    t[6] = fetch_get(c, ts_url(&srv, "/delay/5000?six"), count_cb, (void *)6,
                     NULL);
    t[7] = fetch_get(c, ts_url(&srv, "/delay/5000?teardown"), count_cb,
                     (void *)7, NULL);
    /* t[6] waits in the queue behind 5 slots, or has just started when one
       came free: either way a cancel ends it */
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
    client_drop(c); /* t[7] ends with the client */
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
    client_free(c);
}
END_TEST

/* ---- per-request options ---- */

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
    client_free(c);
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
    fetch_client *c = client_new(&o, NULL);
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
    /* its own 0.2 s, not the client's: the 3 s answer never came */
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_TIMEOUT);
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
    client_free(c);
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
    fetch_trace tr = {tr_queued, tr_started, tr_first, tr_finished, &log, NULL};
    fetch_options o;
    test_options(&o);
    o.trace = tr;
    fetch_client *c = client_new(&o, NULL);
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
    client_free(c);
}
END_TEST

START_TEST(cookies_round_trip)
{
    char jar[] = "/tmp/fetch-jar-XXXXXX";
    close(mkstemp(jar));
    fetch_options o;
    test_options(&o);
    o.cookie_jar = jar;
    fetch_client *c = client_new(&o, NULL);
    free(get_body(c, ts_url(&srv, "/cookie/set?session=42;%%20Path=/")));
    char *b = get_body(c, ts_url(&srv, "/headers"));
    ck_assert_ptr_nonnull(strstr(b, "Cookie: session=42"));
    free(b);
    client_free(c); /* writes the jar */
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
    c = client_new(&o, NULL);
    free(get_body(c, ts_url(&srv, "/cookie/set?session=43;%%20Path=/")));
    b = get_body(c, ts_url(&srv, "/headers"));
    ck_assert_ptr_null(strstr(b, "Cookie:"));
    free(b);
    client_free(c);
}
END_TEST

static Suite *task_suite(void)
{
    Suite *s = suite_create("task");
    TCase *tc = tcase_create("task");
    tcase_add_checked_fixture(tc, srv_setup, srv_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, many_requests_respect_concurrency);
    tcase_add_test(tc, per_host_limit_holds);
    tcase_add_test(tc, timeout_ends_only_the_slow_request);
    tcase_add_test(tc, queue_time_is_not_charged_to_the_timeout);
    tcase_add_test(tc, bad_input_is_that_requests_error);
    tcase_add_test(tc, cancel_queued_and_running);
    tcase_add_test(tc, user_agent_and_headers_sent);
    tcase_add_test(tc, client_free_runs_every_callback_once);
    tcase_add_test(tc, embedded_on_callers_base);
    tcase_add_test(tc, invalid_arguments);
    tcase_add_test(tc, callbacks_run_exactly_once_in_every_outcome);
    tcase_add_test(tc, cancel_all_ends_every_unfinished_task);
    tcase_add_test(tc, methods_and_bodies);
    tcase_add_test(tc, per_request_overrides);
    tcase_add_test(tc, trace_hooks);
    tcase_add_test(tc, cookies_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_loops(task_suite);
}
