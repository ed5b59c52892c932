/* SPDX-License-Identifier: MIT */
/* Waiting: gather (request order, deadline, fail-fast), wait_for,
   as_completed, and blocking calls refused from inside the loop. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "harness.h"
#include "libfetch.h"

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
    client_free(c);
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
    client_free(c);
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
    client_free(c);
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
    client_free(c);
}
END_TEST

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
    client_free(c);
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
    client_free(c);
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
    client_free(c);
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
    client_free(c);
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
    int failed =
        fetch_gather(c, t, 4, FETCH_WAIT_FOREVER, FETCH_GATHER_FAIL_FAST);
    /* t[1] may or may not have finished before t[2] failed */
    int fast = fetch_task_response(t[1])->error;
    ck_assert(fast == FETCH_OK || fast == FETCH_E_CANCELLED);
    ck_assert_int_eq(failed, 3 + (fast != FETCH_OK));
    ck_assert_int_eq(fetch_task_response(t[0])->error, FETCH_E_CANCELLED);
    ck_assert_int_eq(fetch_task_response(t[2])->error, FETCH_E_CONNECT);
    ck_assert_int_eq(fetch_task_response(t[3])->error, FETCH_E_CANCELLED);
    ck_assert_ptr_nonnull(
        strstr(fetch_task_response(t[3])->message, "another task"));
    assert_idle(c);
    for (int i = 0; i < 4; i++)
        fetch_task_free(t[i]);
    client_free(c);
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
    /* and it did not wait for b: b is the timeout's, not done */
    fetch_task_free(a);
    fetch_task_free(b);
    client_free(c);
}
END_TEST

static Suite *wait_suite(void)
{
    Suite *s = suite_create("wait");
    TCase *tc = tcase_create("wait");
    tcase_add_checked_fixture(tc, srv_setup, srv_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gather_keeps_request_order);
    tcase_add_test(tc, gather_deadline_ends_the_rest);
    tcase_add_test(tc, wait_for_timeout_cancels_the_task);
    tcase_add_test(tc, blocking_call_from_callback_is_refused);
    tcase_add_test(tc, as_completed_hands_back_in_completion_order);
    tcase_add_test(tc, as_completed_timeout_cancels_nothing);
    tcase_add_test(tc, as_completed_producer_consumer);
    tcase_add_test(tc, freed_tasks_leave_the_completed_queue);
    tcase_add_test(tc, gather_fail_fast_cancels_the_rest);
    tcase_add_test(tc, wait_for_counts_from_the_call);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_loops(wait_suite);
}
