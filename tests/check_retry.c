/* SPDX-License-Identifier: MIT */
/* Retries (urllib3's rules, back-off, Retry-After, budgets), what a host's
   answers do to its other requests (pushback, the circuit breaker), and
   politeness (rates and delays), measured by the test server's own log. */
#define _GNU_SOURCE
#include <check.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "libfetch.h"

/* A client that retries n times after a short back-off. */
static fetch_client *retrying(int n, double backoff)
{
    fetch_options o;
    test_options(&o);
    o.retries = n;
    o.retry_backoff = backoff;
    return client_new(&o, NULL);
}

START_TEST(a_503_is_retried_until_it_passes)
{
    fetch_client *c = retrying(2, 0.01);
    fetch_task *t = get_one(c, ts_url(&srv, "/flaky/a?fail=2"));
    const fetch_response *r = fetch_task_response(t);
    ck_assert_int_eq(r->error, FETCH_OK);
    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(r->attempts, 3);
    ck_assert_str_eq(fetch_task_header(t, "X-Attempt", 0), "3");
    char *want = expected_bytes(1000); /* the last answer's body only */
    ck_assert_uint_eq(r->body_len, 1000);
    ck_assert_str_eq(r->body, want);
    free(want);
    fetch_stats st;
    fetch_client_stats(c, &st);
    ck_assert_uint_eq(st.retries, 2);
    fetch_task_free(t);
    long inflight, max, total;
    ts_stats(&srv, &inflight, &max, &total);
    ck_assert_int_eq(total, 3);
    client_free(c);
}
END_TEST

START_TEST(retries_run_out)
{
    fetch_client *c = retrying(2, 0.01);
    fetch_task *t = get_one(c, ts_url(&srv, "/flaky/b?fail=9"));
    const fetch_response *r = fetch_task_response(t);
    /* the last attempt's answer is the result: a 503 is no error unless
       asked (urllib3's raise_on_status=False) */
    ck_assert_int_eq(r->error, FETCH_OK);
    ck_assert_int_eq(r->status, 503);
    ck_assert_int_eq(r->attempts, 3);
    ck_assert_str_eq(r->body, "failure 3 of 9\n");
    fetch_task_free(t);

    fetch_request q;
    fetch_request_init(&q);
    q.url = ts_url(&srv, "/flaky/c?fail=9&status=500");
    q.fail_on_http_error = 1;
    q.retries = 1; /* the request's own count */
    t = submit_wait(c, &q);
    r = fetch_task_response(t);
    ck_assert_int_eq(r->error, FETCH_E_HTTP);
    ck_assert_int_eq(r->attempts, 2);
    ck_assert_ptr_nonnull(strstr(r->message, "HTTP status 500"));
    ck_assert_str_eq(r->body, "failure 2 of 9\n");
    fetch_task_free(t);
    ck_assert_uint_eq(ts_seen(&srv, "/flaky/b"), 3);
    ck_assert_uint_eq(ts_seen(&srv, "/flaky/c"), 2);
    client_free(c);
}
END_TEST

START_TEST(retry_after_in_seconds_is_honoured)
{
    fetch_client *c = retrying(1, 0.001);
    fetch_task *t = get_one(c, ts_url(&srv, "/flaky/d?fail=1&after=1"));
    ck_assert_int_eq(fetch_task_response(t)->status, 200);
    ck_assert_double_ge(ts_gap(&srv, "/flaky/d"), 0.99);
    fetch_task_free(t);
    client_free(c);
}
END_TEST

START_TEST(retry_after_as_a_date_is_honoured)
{
    fetch_client *c = retrying(1, 0.001);
    /* two seconds from now, at a second's resolution: 1 to 2 s */
    fetch_task *t = get_one(c, ts_url(&srv, "/flaky/e?fail=1&date=2"));
    ck_assert_int_eq(fetch_task_response(t)->status, 200);
    ck_assert_double_ge(ts_gap(&srv, "/flaky/e"), 0.99);
    fetch_task_free(t);
    client_free(c);
}
END_TEST

START_TEST(retry_after_in_the_past_is_no_wait)
{
    fetch_options o;
    test_options(&o);
    o.retries = 1;
    o.retry_backoff = 0.001;
    o.retry_after_max = 0.5; /* and a long one is cut to this */
    fetch_client *c = client_new(&o, NULL);
    fetch_task *t = get_one(c, ts_url(&srv, "/flaky/f?fail=1&date=-3600"));
    ck_assert_int_eq(fetch_task_response(t)->status, 200);
    ck_assert_int_eq(fetch_task_response(t)->attempts, 2);
    fetch_task_free(t);
    t = get_one(c, ts_url(&srv, "/flaky/g?fail=1&after=100000"));
    ck_assert_int_eq(fetch_task_response(t)->status, 200);
    double g = ts_gap(&srv, "/flaky/g");
    ck_assert_double_ge(g, 0.49);
    ck_assert_double_lt(g, 50); /* not 100,000 s: the test would hang */
    fetch_task_free(t);
    client_free(c);
}
END_TEST

START_TEST(what_is_never_retried)
{
    fetch_client *c = retrying(3, 0.001);
    const char *paths[] = {"/status/404", "/status/400", "/redirect/20"};
    for (size_t i = 0; i < 3; i++) {
        fetch_request q;
        fetch_request_init(&q);
        q.url = ts_url(&srv, "%s", paths[i]);
        fetch_task *t = submit_wait(c, &q);
        ck_assert_int_eq(fetch_task_response(t)->attempts, 1);
        fetch_task_free(t);
    }
    fetch_task *t = get_one(c, "http://[::1"); /* malformed: never sent */
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_URL);
    ck_assert_int_le(fetch_task_response(t)->attempts, 1);
    fetch_task_free(t);
    long inflight, max, total;
    ts_stats(&srv, &inflight, &max, &total);
    ck_assert_int_eq(total, 3 + 10); /* 404, 400, one chain of redirects */
    client_free(c);
}
END_TEST

START_TEST(a_method_that_is_not_idempotent_is_retried_only_unsent)
{
    fetch_client *c = retrying(2, 0.001);
    fetch_request q;
    fetch_request_init(&q);
    q.method = "POST";
    q.body = "x";
    q.body_len = 1;
    /* a 503 to a POST: the server may have acted on it */
    q.url = ts_url(&srv, "/flaky/h?fail=1");
    fetch_task *t = submit_wait(c, &q);
    ck_assert_int_eq(fetch_task_response(t)->status, 503);
    ck_assert_int_eq(fetch_task_response(t)->attempts, 1);
    fetch_task_free(t);
    /* nor an answer that broke off */
    q.url = ts_url(&srv, "/flaky/i?fail=1&cut=1");
    t = submit_wait(c, &q);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_TRANSFER);
    ck_assert_int_eq(fetch_task_response(t)->attempts, 1);
    fetch_task_free(t);
    /* but a connection refused: nothing was sent */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", closed_port());
    q.url = url;
    t = submit_wait(c, &q);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_CONNECT);
    ck_assert_int_eq(fetch_task_response(t)->attempts, 3);
    fetch_task_free(t);
    /* PUT is idempotent */
    q.method = "PUT";
    q.url = ts_url(&srv, "/flaky/j?fail=1");
    t = submit_wait(c, &q);
    ck_assert_int_eq(fetch_task_response(t)->status, 200);
    ck_assert_int_eq(fetch_task_response(t)->attempts, 2);
    fetch_task_free(t);
    client_free(c);

    /* retry_all_errors: a POST too (curl --retry-all-errors) */
    fetch_options o;
    test_options(&o);
    o.retries = 1;
    o.retry_backoff = 0.001;
    o.retry_all_errors = 1;
    c = client_new(&o, NULL);
    q.method = "POST";
    q.url = ts_url(&srv, "/flaky/k?fail=1");
    t = submit_wait(c, &q);
    ck_assert_int_eq(fetch_task_response(t)->status, 200);
    ck_assert_int_eq(fetch_task_response(t)->attempts, 2);
    fetch_task_free(t);
    client_free(c);
}
END_TEST

START_TEST(a_body_cut_off_is_fetched_again_cleanly)
{
    fetch_client *c = retrying(1, 0.001);
    char *want = expected_bytes(1000);
    fetch_task *t = get_one(c, ts_url(&srv, "/flaky/l?fail=1&cut=1"));
    const fetch_response *r = fetch_task_response(t);
    ck_assert_int_eq(r->error, FETCH_OK);
    ck_assert_int_eq(r->attempts, 2);
    ck_assert_uint_eq(r->body_len, 1000); /* not 1000 + 1000 */
    ck_assert_str_eq(r->body, want);
    fetch_task_free(t);
    free(want);
    client_free(c);
}
END_TEST

/* A data callback that keeps what it gets, and forgets it when told. */
struct kept {
    char buf[4096];
    size_t len;
    int discards, refuse;
};

static int keep(fetch_task *t, const char *data, size_t len, void *arg)
{
    struct kept *k = arg;
    (void)t;
    if (!data) { /* the attempt failed: what came is void */
        k->discards++;
        if (k->refuse)
            return 1;
        k->len = 0;
        return 0;
    }
    ck_assert_uint_le(k->len + len, sizeof k->buf);
    memcpy(k->buf + k->len, data, len);
    k->len += len;
    return 0;
}

START_TEST(a_streamed_body_restarts_cleanly)
{
    fetch_client *c = retrying(1, 0.001);
    char *want = expected_bytes(1000);
    struct kept k = {.len = 0};
    fetch_request q;
    fetch_request_init(&q);
    q.url = ts_url(&srv, "/flaky/m?fail=1&cut=1");
    q.on_data = keep;
    q.data_arg = &k;
    fetch_task *t = submit_wait(c, &q);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    ck_assert_int_eq(fetch_task_response(t)->attempts, 2);
    ck_assert_int_eq(k.discards, 1);
    ck_assert_uint_eq(k.len, 1000);
    ck_assert(!memcmp(k.buf, want, 1000));
    fetch_task_free(t);

    /* a callback that cannot take it back: no retry, and it says why */
    memset(&k, 0, sizeof k);
    k.refuse = 1;
    q.url = ts_url(&srv, "/flaky/n?fail=1&cut=1");
    t = submit_wait(c, &q);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_TRANSFER);
    ck_assert_int_eq(fetch_task_response(t)->attempts, 1);
    ck_assert_ptr_nonnull(
        strstr(fetch_task_response(t)->message, "cannot be taken back"));
    fetch_task_free(t);

    /* a status that will be retried is not streamed at all */
    memset(&k, 0, sizeof k);
    q.url = ts_url(&srv, "/flaky/o?fail=1");
    t = submit_wait(c, &q);
    ck_assert_int_eq(fetch_task_response(t)->status, 200);
    ck_assert_int_eq(k.discards, 0);
    ck_assert_uint_eq(k.len, 1000);
    fetch_task_free(t);

    /* a regular file, appended to: cut back to where it stood */
    char path[] = "/tmp/libfetch-retry-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_eq(write(fd, "KEEP", 4), 4);
    close(fd);
    fd = open(path, O_WRONLY | O_APPEND);
    fetch_request_init(&q);
    q.url = ts_url(&srv, "/flaky/p?fail=1&cut=1");
    q.sink_fd = fd;
    t = submit_wait(c, &q);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    close(fd);
    char file[2048];
    fd = open(path, O_RDONLY);
    ck_assert_int_eq(read(fd, file, sizeof file), 1004);
    close(fd);
    ck_assert(!memcmp(file, "KEEP", 4));
    ck_assert(!memcmp(file + 4, want, 1000));
    fetch_task_free(t);

    /* a pipe cannot be cut back: not retried */
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    fcntl(p[1], F_SETPIPE_SZ, 1 << 16);
    q.url = ts_url(&srv, "/flaky/q?fail=1&cut=1");
    q.sink_fd = p[1];
    t = submit_wait(c, &q);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_TRANSFER);
    ck_assert_int_eq(fetch_task_response(t)->attempts, 1);
    fetch_task_free(t);
    close(p[0]);
    close(p[1]);
    unlink(path);
    free(want);
    client_free(c);
}
END_TEST

START_TEST(the_only_transfer_left_waits_to_retry)
{
    /* curl -Z's trap: nothing runs, one retry waits; the wait must neither
       spin, end early nor hang */
    fetch_client *c = retrying(1, 0.001);
    fetch_task *t =
        fetch_get(c, ts_url(&srv, "/flaky/r?fail=1&after=1"), NULL, NULL, NULL);
    int err;
    /* its first attempt is over within half a second; then it waits */
    ck_assert_ptr_null(fetch_as_completed(c, 0.5, &err));
    ck_assert_int_eq(err, FETCH_E_TIMEOUT);
    fetch_stats st;
    fetch_client_stats(c, &st);
    ck_assert_uint_eq(st.retrying, 1);
    ck_assert_uint_eq(st.queued, 1);
    ck_assert_uint_eq(st.running, 0);
    ck_assert_uint_eq(st.hosts_paused, 1); /* the 503 said: not before 1 s */
    ck_assert_uint_ge(st.timers, 1);
    ck_assert_ptr_eq(fetch_as_completed(c, FETCH_WAIT_FOREVER, &err), t);
    ck_assert_int_eq(fetch_task_response(t)->status, 200);
    ck_assert_double_ge(ts_gap(&srv, "/flaky/r"), 0.99);
    fetch_client_stats(c, &st);
    ck_assert_uint_eq(st.hosts_paused, 0);
    fetch_task_free(t);
    client_free(c);
}
END_TEST

START_TEST(cancel_and_wait_for_end_a_waiting_retry)
{
    fetch_client *c = retrying(3, 0.001);
    fetch_task *a = fetch_get(c, ts_url(&srv, "/flaky/s?fail=9&after=30"), NULL,
                              NULL, NULL);
    fetch_task *b = fetch_get(c, ts_url(&srv, "/flaky/s2?fail=9&after=30"),
                              NULL, NULL, NULL);
    /* wait_for is the whole request's: its retries too */
    double t0 = now_s();
    ck_assert_int_eq(fetch_wait_for(a, 0.5), FETCH_E_TIMEOUT);
    ck_assert_double_lt(now_s() - t0, 10);
    ck_assert_int_eq(fetch_task_response(a)->attempts, 1);
    ck_assert_int_eq(fetch_task_cancel(b), FETCH_OK);
    ck_assert_int_eq(fetch_task_response(b)->error, FETCH_E_CANCELLED);
    fetch_task_free(a);
    fetch_task_free(b);
    client_free(c);
}
END_TEST

START_TEST(retry_time_and_deadline_are_budgets)
{
    fetch_options o;
    test_options(&o);
    o.retries = 5;
    o.retry_max_time = 0.5;
    fetch_client *c = client_new(&o, NULL);
    double t0 = now_s();
    fetch_task *t = get_one(c, ts_url(&srv, "/flaky/t?fail=9&after=2"));
    /* a retry in 2 s would start past 0.5 s: it fails now, and says so */
    ck_assert_double_lt(now_s() - t0, 1.5);
    ck_assert_int_eq(fetch_task_response(t)->attempts, 1);
    ck_assert_int_eq(fetch_task_response(t)->status, 503);
    fetch_task_free(t);
    client_free(c);

    o.retry_max_time = 0;
    o.fail_on_http_error = 1;
    c = client_new(&o, NULL);
    ck_assert_int_eq(fetch_client_set_deadline(c, 1), FETCH_OK);
    t0 = now_s();
    t = get_one(c, ts_url(&srv, "/flaky/u?fail=9&after=5"));
    ck_assert_double_lt(now_s() - t0, 1.5);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_HTTP);
    ck_assert_ptr_nonnull(
        strstr(fetch_task_response(t)->message, "past the deadline"));
    fetch_task_free(t);
    ck_assert_int_eq(fetch_client_set_deadline(c, 0), FETCH_OK);
    client_free(c);
}
END_TEST

START_TEST(the_retry_budget_caps_the_load)
{
    enum { N = 100 };
    fetch_options o;
    test_options(&o);
    o.retries = 2;
    o.retry_backoff = 0.001;
    o.max_concurrency = 10;
    o.breaker_threshold = 0;
    fetch_client *c = client_new(&o, NULL);
    fetch_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] =
            fetch_get(c, ts_url(&srv, "/status/503?i=%d", i), NULL, NULL, NULL);
    ck_assert_int_eq(
        fetch_gather(c, t, N, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), 0);
    fetch_stats st;
    fetch_client_stats(c, &st);
    /* 10 to start with, 0.2 for each request: at most 30 of 200 */
    ck_assert_uint_le(st.retries, 10 + N / 5);
    ck_assert_uint_ge(st.retries, 10);
    long inflight, max, total;
    ts_stats(&srv, &inflight, &max, &total);
    ck_assert_int_eq(total, N + (long)st.retries);
    free_all(t, N);
    client_free(c);
}
END_TEST

/* A retried request keeps its place: gather's results are in request
   order, whatever the attempts. */
START_TEST(retried_requests_keep_their_place)
{
    enum { N = 40 };
    fetch_options o;
    test_options(&o);
    o.retries = 2;
    o.retry_backoff = 0.01;
    o.retry_budget = 0; /* 40 retries of 40 requests: past any budget */
    fetch_client *c = client_new(&o, NULL);
    fetch_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = fetch_get(
            c, ts_url(&srv, "/flaky/o%d?fail=%d&cut=%d", i, i % 3, i % 2), NULL,
            NULL, NULL);
    ck_assert_int_eq(
        fetch_gather(c, t, N, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), 0);
    for (int i = 0; i < N; i++) {
        const fetch_response *r = fetch_task_response(t[i]);
        char want[64];
        snprintf(want, sizeof want, "/flaky/o%d?", i);
        ck_assert_ptr_nonnull(strstr(r->url, want));
        ck_assert_int_eq(r->attempts, i % 3 + 1);
        ck_assert_uint_eq(r->body_len, 1000);
    }
    free_all(t, N);
    client_free(c);
}
END_TEST

static int retries_seen;
static double delay_seen;
static int status_seen;

static void on_retry(fetch_task *t, const fetch_response *a, double delay,
                     void *arg)
{
    (void)t;
    (void)arg;
    retries_seen++;
    delay_seen = delay;
    status_seen = (int)a->status;
    ck_assert_int_eq(a->attempts, retries_seen);
}

START_TEST(the_trace_hook_sees_each_retry)
{
    fetch_options o;
    test_options(&o);
    o.retries = 2;
    o.retry_backoff = 0.001;
    o.trace.on_retry = on_retry;
    retries_seen = 0;
    fetch_client *c = client_new(&o, NULL);
    fetch_task *t = get_one(c, ts_url(&srv, "/flaky/v?fail=2&after=1"));
    ck_assert_int_eq(retries_seen, 2);
    ck_assert_int_eq(status_seen, 503);
    ck_assert_double_eq(delay_seen, 1); /* Retry-After beats the back-off */
    fetch_task_free(t);
    client_free(c);
}
END_TEST

/* What hosts_paused was when each retry was decided. */
static size_t paused_seen[4];
static int n_paused_seen;
static fetch_client *watched;

static void note_paused(fetch_task *t, const fetch_response *a, double delay,
                        void *arg)
{
    fetch_stats st;
    (void)t;
    (void)a;
    (void)delay;
    (void)arg;
    fetch_client_stats(watched, &st);
    paused_seen[n_paused_seen++ % 4] = st.hosts_paused;
}

START_TEST(a_429_pauses_its_host_a_bare_503_does_not)
{
    fetch_options o;
    test_options(&o);
    o.retries = 1;
    o.retry_backoff = 1; /* the pause without Retry-After: 0.5-1.5 s */
    o.trace.on_retry = note_paused;
    watched = client_new(&o, NULL);
    n_paused_seen = 0;
    fetch_task *t =
        get_one(watched, ts_url(&srv, "/flaky/x1?fail=1&status=429"));
    ck_assert_int_eq(fetch_task_response(t)->status, 200);
    fetch_task_free(t);
    /* a 503 without Retry-After: only its own request waits */
    t = get_one(watched, ts_url(&srv, "/flaky/x2?fail=1"));
    ck_assert_int_eq(fetch_task_response(t)->status, 200);
    fetch_task_free(t);
    ck_assert_int_eq(n_paused_seen, 2);
    ck_assert_uint_eq(paused_seen[0], 1);
    ck_assert_uint_eq(paused_seen[1], 0);
    client_free(watched);
}
END_TEST

START_TEST(a_pushback_holds_the_host_and_one_request_probes)
{
    test_server other;
    ts_start(&other);
    fetch_options o;
    test_options(&o);
    o.retries = 1;
    o.retry_backoff = 0.001;
    fetch_client *c = client_new(&o, NULL);
    fetch_task *t[7];
    t[0] =
        fetch_get(c, ts_url(&srv, "/flaky/w?fail=1&after=1"), NULL, NULL, NULL);
    int err;
    ck_assert_ptr_null(fetch_as_completed(c, 0.5, &err)); /* it waits */
    fetch_stats st;
    fetch_client_stats(c, &st);
    ck_assert_uint_eq(st.hosts_paused, 1);
    /* more for the paused host, and one for another */
    for (int i = 1; i < 6; i++)
        t[i] =
            fetch_get(c, ts_url(&srv, "/delay/300?i=%d", i), NULL, NULL, NULL);
    t[6] = fetch_get(c, ts_url(&other, "/bytes/1"), NULL, NULL, NULL);
    ck_assert_int_eq(
        fetch_gather(c, t, 7, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), 0);
    ts_entry *log, *olog;
    size_t n = ts_log(&srv, &log), on = ts_log(&other, &olog);
    ck_assert_uint_eq(n, 7);
    ck_assert_uint_eq(on, 1);
    /* nothing for a second after the 503; the other host did not wait */
    ck_assert_double_ge(log[1].at - log[0].at, 0.99);
    ck_assert_double_lt(olog[0].at, log[1].at);
    /* the first after the pause went alone: the next came after its
       answer (a /delay/300 or the fast retry) */
    if (!strncmp(log[1].path, "/delay/", 7))
        ck_assert_double_ge(log[2].at - log[1].at, 0.29);
    free(log);
    free(olog);
    free_all(t, 7);
    ts_stop(&other);
    client_free(c);
}
END_TEST

START_TEST(the_breaker_fails_a_host_that_stays_down)
{
    enum { N = 20 };
    fetch_options o;
    test_options(&o);
    o.max_concurrency = 1; /* one at a time: the count is exact */
    o.breaker_threshold = 3;
    o.breaker_pause = 0.1;
    fetch_client *c = client_new(&o, NULL);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", closed_port());
    fetch_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = fetch_get(c, url, NULL, NULL, NULL);
    ck_assert_int_eq(
        fetch_gather(c, t, N, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), N);
    int attempts = 0, down = 0;
    for (int i = 0; i < N; i++) {
        const fetch_response *r = fetch_task_response(t[i]);
        ck_assert_int_eq(r->error, FETCH_E_CONNECT);
        attempts += r->attempts;
        down += strstr(r->message, "host down") != NULL;
    }
    ck_assert_int_eq(attempts, 4); /* 3 open it, 1 probe */
    ck_assert_int_eq(down, N - 3);
    free_all(t, N);
    client_free(c);
}
END_TEST

/* A retry that is not made (here: it would start past retry_max_time)
   leaves the answer it would have replaced as the result, also in a
   streaming sink: the answer was held back, and goes out then. */
START_TEST(a_retry_not_made_delivers_the_answer_held_back)
{
    fetch_options o;
    test_options(&o);
    o.retries = 3;
    o.retry_max_time = 0.5;
    fetch_client *c = client_new(&o, NULL);
    const char *want = "failure 1 of 9\n";
    struct kept k = {.len = 0};
    fetch_request q;
    fetch_request_init(&q);
    q.url = ts_url(&srv, "/flaky/h1?fail=9&after=5");
    q.on_data = keep;
    q.data_arg = &k;
    fetch_task *t = submit_wait(c, &q);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    ck_assert_int_eq(fetch_task_response(t)->status, 503);
    ck_assert_int_eq(fetch_task_response(t)->attempts, 1);
    ck_assert_uint_eq(fetch_task_response(t)->bytes, strlen(want));
    ck_assert_uint_eq(k.len, strlen(want));
    ck_assert(!memcmp(k.buf, want, k.len));
    ck_assert_int_eq(k.discards, 0);
    fetch_task_free(t);

    /* a file descriptor, a pipe, and a path: each gets the same bytes */
    char path[] = "/tmp/libfetch-held-XXXXXX";
    int fd = mkstemp(path), p[2];
    ck_assert_int_eq(pipe(p), 0);
    int fds[] = {fd, p[1], -1};
    for (int i = 0; i < 3; i++) {
        char got[256] = "";
        fetch_request_init(&q);
        q.url = ts_url(&srv, "/flaky/h%d?fail=9&after=5", i + 2);
        q.sink_fd = fds[i];
        q.sink_path = fds[i] < 0 ? path : NULL;
        t = submit_wait(c, &q);
        ck_assert_int_eq(fetch_task_response(t)->status, 503);
        fetch_task_free(t);
        int from = i == 1 ? p[0] : open(path, O_RDONLY);
        ck_assert_int_eq(read(from, got, sizeof got), (ssize_t)strlen(want));
        ck_assert_str_eq(got, want);
        if (i != 1)
            close(from);
        if (i == 0)
            ck_assert_int_eq(ftruncate(fd, 0), 0);
        ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    }
    close(fd);
    close(p[0]);
    close(p[1]);
    unlink(path);

    /* with fail_on_http_error it is an error, and a streamed body is not
       delivered (curl --fail), as before */
    memset(&k, 0, sizeof k);
    fetch_request_init(&q);
    q.url = ts_url(&srv, "/flaky/h5?fail=9&after=5");
    q.on_data = keep;
    q.data_arg = &k;
    q.fail_on_http_error = 1;
    t = submit_wait(c, &q);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_HTTP);
    ck_assert_ptr_nonnull(
        strstr(fetch_task_response(t)->message, "not retried: a retry in 5 s"));
    ck_assert_uint_eq(k.len, 0);
    fetch_task_free(t);
    ck_assert_uint_eq(ts_seen(&srv, "/flaky/h"), 5); /* never a second */
    client_free(c);
}
END_TEST

/* A read timeout on a connection the host accepted is an answer: it does
   not count towards the breaker, and the host's other requests go on. */
START_TEST(a_host_that_answers_is_not_down)
{
    enum { SLOW = 6, FAST = 60 };
    fetch_options o;
    test_options(&o);
    o.max_concurrency = 3;
    o.timeout = 0.3;
    o.breaker_threshold = 2;
    o.breaker_pause = 0.1;
    fetch_client *c = client_new(&o, NULL);
    fetch_task *t[SLOW + FAST];
    for (int i = 0; i < SLOW + FAST; i++)
        t[i] = fetch_get(c,
                         i < SLOW ? ts_url(&srv, "/delay/5000?i=%d", i)
                                  : ts_url(&srv, "/bytes/10?i=%d", i),
                         NULL, NULL, NULL);
    ck_assert_int_eq(
        fetch_gather(c, t, SLOW + FAST, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL),
        SLOW);
    for (int i = 0; i < SLOW + FAST; i++) {
        const fetch_response *r = fetch_task_response(t[i]);
        ck_assert_int_eq(r->error, i < SLOW ? FETCH_E_TIMEOUT : FETCH_OK);
        ck_assert_msg(!r->message || !strstr(r->message, "host down"), "%s",
                      r->message);
    }
    ck_assert_uint_eq(ts_seen(&srv, "/bytes/10"), FAST);
    free_all(t, SLOW + FAST);
    client_free(c);
}
END_TEST

/* A TLS handshake that never completes does not reach the host: it
   counts, and the breaker opens as for a refused connection. */
START_TEST(a_tls_handshake_that_never_completes_opens_the_breaker)
{
    enum { N = 10 };
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, len), 0);
    ck_assert_int_eq(listen(lfd, 64), 0); /* the kernel accepts; no reply */
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    fetch_options o;
    test_options(&o);
    o.max_concurrency = 1;
    o.connect_timeout = 0.2;
    o.breaker_threshold = 3;
    o.breaker_pause = 0.1;
    fetch_client *c = client_new(&o, NULL);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", ntohs(a.sin_port));
    fetch_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = fetch_get(c, url, NULL, NULL, NULL);
    ck_assert_int_eq(
        fetch_gather(c, t, N, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), N);
    int attempts = 0, down = 0;
    for (int i = 0; i < N; i++) {
        const fetch_response *r = fetch_task_response(t[i]);
        attempts += r->attempts;
        down += strstr(r->message, "host down") != NULL;
    }
    ck_assert_int_eq(attempts, 4); /* 3 open it, 1 probe */
    ck_assert_int_eq(down, N - 3);
    free_all(t, N);
    client_free(c);
    close(lfd);
}
END_TEST

/* Fetch s's path?i=0..n-1 with c, every one a success. */
static void get_n(fetch_client *c, const test_server *s, const char *path,
                  int n)
{
    fetch_task **t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++)
        t[i] = fetch_get(c, ts_url(s, "%s?i=%d", path, i), NULL, NULL, NULL);
    ck_assert_int_eq(
        fetch_gather(c, t, (size_t)n, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), 0);
    free_all(t, (size_t)n);
    free(t);
}

START_TEST(the_rate_holds_as_the_server_sees_it)
{
    enum { N = 16 };
    fetch_options o;
    test_options(&o);
    o.rate = 20; /* one every 50 ms */
    fetch_client *c = client_new(&o, NULL);
    get_n(c, &srv, "/bytes/10", N);
    size_t n;
    double *g = ts_gaps(&srv, &n);
    ck_assert_uint_eq(n, N - 1);
    assert_spaced(g, n, 0.05);
    free(g);
    client_free(c);
}
END_TEST

START_TEST(the_host_rate_holds_for_each_host)
{
    enum { N = 24 };
    test_server other;
    ts_start(&other);
    fetch_options o;
    test_options(&o);
    o.host_rate = 20;
    fetch_client *c = client_new(&o, NULL);
    fetch_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = fetch_get(c, ts_url(i % 2 ? &other : &srv, "/bytes/10?i=%d", i),
                         NULL, NULL, NULL);
    ck_assert_int_eq(
        fetch_gather(c, t, N, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), 0);
    const test_server *both[] = {&srv, &other};
    for (int h = 0; h < 2; h++) {
        size_t n;
        double *g = ts_gaps(both[h], &n);
        ck_assert_uint_eq(n, N / 2 - 1);
        /* each host at its rate, side by side: 50 ms apart; one rate over
           both would space them 0.1 s apart at the least */
        ck_assert_double_lt(assert_spaced(g, n, 0.05), 0.095);
        free(g);
    }
    free_all(t, N);
    ts_stop(&other);
    client_free(c);
}
END_TEST

START_TEST(a_delay_between_starts_to_a_host)
{
    enum { N = 16 };
    fetch_options o;
    test_options(&o);
    o.host_delay = 0.1;
    o.random_delay = 1;
    fetch_client *c = client_new(&o, NULL);
    get_n(c, &srv, "/bytes/10", N);
    size_t n;
    double *g = ts_gaps(&srv, &n), lo = 1e9, hi = 0;
    ck_assert_uint_eq(n, N - 1);
    for (size_t i = 0; i < n; i++) {
        lo = g[i] < lo ? g[i] : lo;
        hi = g[i] > hi ? g[i] : hi;
    }
    /* 0.5 to 1.5 x 0.1 s each: at least 0.05 s apart, and 0.1 s on
       average (the mean of 12 such is above 0.065 s but once in 10^4) */
    ck_assert_double_ge(assert_spaced(g, n, 0.05), 0.065);
    ck_assert_double_gt(hi - lo, 0.01); /* random, not all the same */
    free(g);
    client_free(c);
}
END_TEST

START_TEST(bad_retry_options_are_refused)
{
    fetch_options o;
    int err, bad_status[] = {200, 99};
    fetch_options_init(&o);
    o.retries = -1;
    ck_assert_ptr_null(fetch_client_new(&o, NULL, &err));
    ck_assert_int_eq(err, FETCH_E_INVAL);
    fetch_options_init(&o);
    o.retry_statuses = bad_status;
    o.n_retry_statuses = 2;
    ck_assert_ptr_null(fetch_client_new(&o, NULL, &err));
    ck_assert_int_eq(err, FETCH_E_INVAL);
    fetch_options_init(&o);
    o.rate = -1;
    ck_assert_ptr_null(fetch_client_new(&o, NULL, &err));
    ck_assert_int_eq(err, FETCH_E_INVAL);
    fetch_options_init(&o);
    o.breaker_pause = 0;
    ck_assert_ptr_null(fetch_client_new(&o, NULL, &err));
    ck_assert_int_eq(err, FETCH_E_INVAL);
}
END_TEST

static Suite *retry_suite(void)
{
    Suite *s = suite_create("retry");
    TCase *tc = tcase_create("retries");
    tcase_add_checked_fixture(tc, srv_setup, srv_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_503_is_retried_until_it_passes);
    tcase_add_test(tc, retries_run_out);
    tcase_add_test(tc, retry_after_in_seconds_is_honoured);
    tcase_add_test(tc, retry_after_as_a_date_is_honoured);
    tcase_add_test(tc, retry_after_in_the_past_is_no_wait);
    tcase_add_test(tc, what_is_never_retried);
    tcase_add_test(tc, a_method_that_is_not_idempotent_is_retried_only_unsent);
    tcase_add_test(tc, a_body_cut_off_is_fetched_again_cleanly);
    tcase_add_test(tc, a_streamed_body_restarts_cleanly);
    tcase_add_test(tc, the_only_transfer_left_waits_to_retry);
    tcase_add_test(tc, cancel_and_wait_for_end_a_waiting_retry);
    tcase_add_test(tc, retry_time_and_deadline_are_budgets);
    tcase_add_test(tc, the_retry_budget_caps_the_load);
    tcase_add_test(tc, retried_requests_keep_their_place);
    tcase_add_test(tc, the_trace_hook_sees_each_retry);
    suite_add_tcase(s, tc);
    tc = tcase_create("hosts");
    tcase_add_checked_fixture(tc, srv_setup, srv_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_pushback_holds_the_host_and_one_request_probes);
    tcase_add_test(tc, a_429_pauses_its_host_a_bare_503_does_not);
    tcase_add_test(tc, the_breaker_fails_a_host_that_stays_down);
    tcase_add_test(tc, a_host_that_answers_is_not_down);
    tcase_add_test(tc, a_tls_handshake_that_never_completes_opens_the_breaker);
    tcase_add_test(tc, a_retry_not_made_delivers_the_answer_held_back);
    tcase_add_test(tc, the_rate_holds_as_the_server_sees_it);
    tcase_add_test(tc, the_host_rate_holds_for_each_host);
    tcase_add_test(tc, a_delay_between_starts_to_a_host);
    tcase_add_test(tc, bad_retry_options_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_loops(retry_suite);
}
