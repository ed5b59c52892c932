/* The library against the loopback test server. */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "harness.h"
#include "libfetch.h"

static void free_all(fetch_task **tasks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fetch_task_free(tasks[i]);
}

/* Completion order, recorded by callbacks. */
static int done_order[16], n_done;
static void record(fetch_task *t, void *arg)
{
    (void)t;
    done_order[n_done++] = (int)(long)arg;
}

START_TEST(gather_keeps_request_order)
{
    fetch_client *c = client_with(10, 0, 0);
    const int delays[] = {300, 10, 100};
    fetch_task *t[3];
    n_done = 0;
    for (int i = 0; i < 3; i++)
        t[i] = fetch_get(c, ts_url(&srv, "/delay/%d", delays[i]), record,
                         (void *)(long)i, NULL);
    ck_assert_int_eq(
        fetch_gather(c, t, 3, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), 0);
    /* they finished in another order ... */
    ck_assert_int_eq(n_done, 3);
    ck_assert_int_eq(done_order[0], 1);
    ck_assert_int_eq(done_order[1], 2);
    ck_assert_int_eq(done_order[2], 0);
    /* ... and the results are still in request order */
    for (int i = 0; i < 3; i++) {
        char want[32];
        const fetch_response *r = fetch_task_response(t[i]);
        snprintf(want, sizeof want, "delay %d\n", delays[i]);
        ck_assert_int_eq(r->error, FETCH_OK);
        ck_assert_int_eq(r->status, 200);
        ck_assert_str_eq(r->body, want);
        ck_assert_uint_eq(r->body_len, strlen(want));
    }
    assert_idle(c);
    free_all(t, 3);
    fetch_client_free(c);
}
END_TEST

START_TEST(many_requests_respect_concurrency)
{
    enum { N = 2000, LIMIT = 50 };
    fetch_client *c = client_with(LIMIT, 0, 0);
    fetch_task **t = calloc(N, sizeof *t);
    for (int i = 0; i < N; i++)
        t[i] = i % 2 ? fetch_get(c, ts_url(&srv, "/delay/20?i=%d", i), NULL,
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
        if (i % 2) {
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
    ck_assert_int_le(max, LIMIT);
    ck_assert_int_ge(max, LIMIT / 2); /* the limit was actually used */
    fetch_client_stats(c, &st);
    ck_assert_uint_eq(st.finished, N);
    assert_idle(c);
    free_all(t, N);
    fetch_client_stats(c, &st);
    ck_assert_uint_eq(st.tasks, 0);
    fetch_client_free(c);
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
    fetch_client_free(c);
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
    fetch_client_free(c);
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
    ck_assert_double_ge(r->time_queued, 0.85);
    ck_assert_double_lt(r->time_total, 0.6);
    ck_assert_double_lt(fetch_task_response(t[0])->time_queued, 0.1);
    free_all(t, 4);
    fetch_client_free(c);
}
END_TEST

START_TEST(gather_deadline_ends_the_rest)
{
    fetch_client *c = client_with(2, 0, 0);
    fetch_task *t[4];
    t[0] = fetch_get(c, ts_url(&srv, "/delay/50"), NULL, NULL, NULL);
    t[1] = fetch_get(c, ts_url(&srv, "/delay/5000"), NULL, NULL, NULL);
    t[2] = fetch_get(c, ts_url(&srv, "/delay/5000?queued"), NULL, NULL, NULL);
    t[3] = fetch_get(c, ts_url(&srv, "/delay/5000?queued2"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_gather(c, t, 4, 0.5, FETCH_GATHER_ALL), 3);
    ck_assert_int_eq(fetch_task_response(t[0])->error, FETCH_OK);
    for (int i = 1; i < 4; i++) {
        const fetch_response *r = fetch_task_response(t[i]);
        ck_assert_int_eq(r->error, FETCH_E_TIMEOUT);
        ck_assert_ptr_nonnull(strstr(r->message, "gather deadline"));
    }
    /* t[1] was running; t[3] never left the queue */
    ck_assert_ptr_nonnull(
        strstr(fetch_task_response(t[1])->message, "running"));
    ck_assert_ptr_nonnull(strstr(fetch_task_response(t[3])->message, "queued"));
    assert_idle(c);
    free_all(t, 4);
    fetch_client_free(c);
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
    fetch_client_free(c);
}
END_TEST

static fetch_task *get_one(fetch_client *c, const char *url)
{
    fetch_task *t = fetch_get(c, url, NULL, NULL, NULL);
    fetch_wait_for(t, FETCH_WAIT_FOREVER);
    return t;
}

START_TEST(redirects_followed_and_limited)
{
    fetch_client *c = client_with(10, 0, 5);
    fetch_task *t = get_one(c, ts_url(&srv, "/redirect/3"));
    const fetch_response *r = fetch_task_response(t);
    ck_assert_int_eq(r->error, FETCH_OK);
    ck_assert_int_eq(r->redirects, 3);
    ck_assert_str_eq(r->body, "redirected\n");
    ck_assert_str_eq(r->effective_url, ts_url(&srv, "/redirect/0"));
    fetch_task_free(t);

    t = get_one(c, ts_url(&srv, "/redirect/11")); /* default limit 10 */
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_TOO_MANY_REDIRECTS);
    fetch_task_free(t);

    /* a redirect may not leave http/https */
    t = get_one(c, ts_url(&srv, "/redirect-to?url=file:///etc/passwd"));
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_PROTOCOL);
    fetch_task_free(t);
    fetch_client_free(c);

    fetch_options o;
    test_options(&o);
    o.follow_redirects = 0;
    c = fetch_client_new(&o, NULL, NULL);
    t = get_one(c, ts_url(&srv, "/redirect/3"));
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    ck_assert_int_eq(fetch_task_response(t)->status, 302);
    fetch_task_free(t);
    fetch_client_free(c);
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
    fetch_client_free(c);
    ck_assert_int_eq(cancelled_calls, 2);
}
END_TEST

START_TEST(wait_for_timeout_cancels_the_task)
{
    fetch_client *c = client_with(10, 0, 0);
    fetch_task *slow =
        fetch_get(c, ts_url(&srv, "/delay/3000"), NULL, NULL, NULL);
    fetch_task *fast =
        fetch_get(c, ts_url(&srv, "/delay/10"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(slow, 0.2), FETCH_E_TIMEOUT);
    const fetch_response *r = fetch_task_response(slow);
    ck_assert_int_eq(r->error, FETCH_E_TIMEOUT);
    ck_assert_int_eq(r->curl_code, 0);
    ck_assert_ptr_nonnull(strstr(r->message, "wait_for"));
    ck_assert_int_eq(fetch_wait_for(fast, FETCH_WAIT_FOREVER), FETCH_OK);
    assert_idle(c);
    fetch_task_free(slow);
    fetch_task_free(fast);
    fetch_client_free(c);
}
END_TEST

START_TEST(broken_transfers_and_http_errors)
{
    fetch_options o;
    test_options(&o);
    fetch_client *c = fetch_client_new(&o, NULL, NULL);
    fetch_task *t = get_one(c, ts_url(&srv, "/close/1000"));
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_TRANSFER);
    fetch_task_free(t);
    t = get_one(c, ts_url(&srv, "/status/404")); /* a status is a result */
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    ck_assert_int_eq(fetch_task_response(t)->status, 404);
    ck_assert_str_eq(fetch_task_response(t)->body, "status 404\n");
    fetch_task_free(t);
    fetch_client_free(c);

    o.fail_on_http_error = 1; /* aiohttp's raise_for_status */
    c = fetch_client_new(&o, NULL, NULL);
    t = get_one(c, ts_url(&srv, "/status/503"));
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_HTTP);
    ck_assert_ptr_nonnull(strstr(fetch_task_response(t)->message, "503"));
    fetch_task_free(t);
    fetch_client_free(c);
}
END_TEST

START_TEST(large_body_exact)
{
    fetch_client *c = client_with(4, 0, 0);
    fetch_task *t = get_one(c, ts_url(&srv, "/bytes/3000000"));
    const fetch_response *r = fetch_task_response(t);
    char *want = expected_bytes(3000000);
    ck_assert_int_eq(r->error, FETCH_OK);
    ck_assert_uint_eq(r->body_len, 3000000);
    ck_assert(memcmp(r->body, want, 3000000) == 0);
    ck_assert_int_eq(r->body[r->body_len], '\0');
    ck_assert_str_eq(r->content_type, "application/octet-stream");
    ck_assert_double_gt(r->time_total, 0);
    ck_assert_double_ge(r->time_total, r->time_first_byte);
    free(want);
    fetch_task_free(t);
    fetch_client_free(c);
}
END_TEST

START_TEST(user_agent_and_headers_sent)
{
    const char *headers[] = {"X-Test: one", "Accept: text/plain"};
    fetch_options o;
    test_options(&o);
    o.headers = headers;
    o.n_headers = 2;
    fetch_client *c = fetch_client_new(&o, NULL, NULL);
    fetch_task *t = get_one(c, ts_url(&srv, "/headers"));
    const char *body = fetch_task_response(t)->body;
    ck_assert_ptr_nonnull(
        strstr(body, "User-Agent: libfetch/" LIBFETCH_VERSION_STRING));
    ck_assert_ptr_nonnull(strstr(body, "X-Test: one"));
    ck_assert_ptr_nonnull(strstr(body, "Accept: text/plain"));
    ck_assert_ptr_nonnull(strstr(body, "Accept-Encoding: ")); /* all codings */
    fetch_task_free(t);
    fetch_client_free(c);
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
    fetch_client_free(c);
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
    fetch_client *c = fetch_client_new(&o, e.base, NULL);
    ck_assert_ptr_eq(fetch_client_base(c), e.base);
    for (int i = 0; i < 40; i++, e.pending++)
        ck_assert_ptr_nonnull(fetch_get(c, ts_url(&srv, "/delay/10?i=%d", i),
                                        embed_done, &e, NULL));
    ck_assert_int_eq(event_base_dispatch(e.base), 0);
    ck_assert_int_eq(e.ok, 40);
    fetch_stats st;
    fetch_client_stats(c, &st);
    ck_assert_uint_eq(st.tasks, 0);
    fetch_client_free(c);
    /* the client took every event of its own off the caller's base */
    ck_assert_int_eq(
        event_base_get_num_events(e.base, EVENT_BASE_COUNT_ADDED |
                                              EVENT_BASE_COUNT_ACTIVE),
        0);
    event_base_free(e.base);
}
END_TEST

static int busy_rc = 1;
static void try_blocking(fetch_task *t, void *arg)
{
    busy_rc = fetch_wait_for(arg, FETCH_WAIT_FOREVER);
    (void)t;
}

START_TEST(blocking_call_from_callback_is_refused)
{
    fetch_client *c = client_with(4, 0, 0);
    fetch_task *other =
        fetch_get(c, ts_url(&srv, "/delay/200"), NULL, NULL, NULL);
    fetch_task *t =
        fetch_get(c, ts_url(&srv, "/bytes/1"), try_blocking, other, NULL);
    ck_assert_int_eq(fetch_wait_for(t, FETCH_WAIT_FOREVER), FETCH_OK);
    ck_assert_int_eq(busy_rc, FETCH_E_BUSY);
    ck_assert_int_eq(fetch_wait_for(other, FETCH_WAIT_FOREVER), FETCH_OK);
    fetch_task_free(t);
    fetch_task_free(other);
    fetch_client_free(c);
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
    fetch_client *c = fetch_client_new(NULL, NULL, NULL);
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
    fetch_client_free(c);
    fetch_client_free(NULL);
    fetch_task_free(NULL);
}
END_TEST

static Suite *client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, srv_setup, srv_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, gather_keeps_request_order);
    tcase_add_test(tc, many_requests_respect_concurrency);
    tcase_add_test(tc, per_host_limit_holds);
    tcase_add_test(tc, timeout_ends_only_the_slow_request);
    tcase_add_test(tc, queue_time_is_not_charged_to_the_timeout);
    tcase_add_test(tc, gather_deadline_ends_the_rest);
    tcase_add_test(tc, bad_input_is_that_requests_error);
    tcase_add_test(tc, redirects_followed_and_limited);
    tcase_add_test(tc, cancel_queued_and_running);
    tcase_add_test(tc, wait_for_timeout_cancels_the_task);
    tcase_add_test(tc, broken_transfers_and_http_errors);
    tcase_add_test(tc, large_body_exact);
    tcase_add_test(tc, user_agent_and_headers_sent);
    tcase_add_test(tc, client_free_runs_every_callback_once);
    tcase_add_test(tc, embedded_on_callers_base);
    tcase_add_test(tc, blocking_call_from_callback_is_refused);
    tcase_add_test(tc, invalid_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_loops(client_suite);
}
