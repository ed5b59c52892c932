/*
 * The scheduler (src/queue.c) on its own: no network, no event loop, a
 * fake clock. Fairness between hosts, exact limits, waiting hosts, and
 * O(log hosts) work with 100,000 hosts (counted in heap steps, not timed).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "queue.h"

/* A request of the tests: which host, which number. */
struct req {
    struct fetch__qnode q;
    int host, n;
};

static struct req *req_of(struct fetch__qnode *q)
{
    return (struct req *)q; /* q is the first member */
}

static void push(struct fetch__sched *s, struct req *r, int host, int n)
{
    char key[64];
    snprintf(key, sizeof key, "http://h%d.test:80", host);
    r->host = host;
    r->n = n;
    ck_assert_int_eq(fetch__sched_push(s, &r->q, key), 0);
}

START_TEST(fifo_within_a_host)
{
    struct fetch__sched s;
    struct req r[5];
    fetch__sched_init(&s, 100, 0);
    for (int i = 0; i < 5; i++)
        push(&s, &r[i], 1, i);
    for (int i = 0; i < 5; i++) {
        struct fetch__qnode *q = fetch__sched_next(&s, 0);
        ck_assert_ptr_nonnull(q);
        ck_assert_int_eq(req_of(q)->n, i);
    }
    ck_assert_ptr_null(fetch__sched_next(&s, 0));
    ck_assert_uint_eq(s.running, 5);
    for (int i = 0; i < 5; i++)
        fetch__sched_done(&s, &r[i].q);
    ck_assert_uint_eq(s.hosts, 0); /* nothing left: the host is forgotten */
    fetch__sched_free(&s);
}
END_TEST

START_TEST(hosts_take_turns)
{
    struct fetch__sched s;
    enum { BIG = 1000, SMALL = 10 };
    struct req *big = calloc(BIG, sizeof *big), small[SMALL];
    fetch__sched_init(&s, 1000000, 0);
    /* the big host's requests all come first, then the small one's */
    for (int i = 0; i < BIG; i++)
        push(&s, &big[i], 1, i);
    for (int i = 0; i < SMALL; i++)
        push(&s, &small[i], 2, i);
    /* round-robin: the small host is done within its first 2 x 10 turns */
    int seen_small = 0, last_small = -1;
    for (int k = 0; k < BIG + SMALL; k++) {
        struct req *r = req_of(fetch__sched_next(&s, 0));
        if (r->host == 2) {
            ck_assert_int_eq(r->n, seen_small++); /* in its own order */
            last_small = k;
        }
    }
    ck_assert_int_eq(seen_small, SMALL);
    ck_assert_int_lt(last_small, 2 * SMALL);
    free(big);
    fetch__sched_free(&s);
}
END_TEST

START_TEST(global_limit_is_exact)
{
    struct fetch__sched s;
    struct req r[10];
    fetch__sched_init(&s, 3, 0);
    for (int i = 0; i < 10; i++)
        push(&s, &r[i], i % 4, i);
    struct fetch__qnode *got[3];
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_nonnull(got[i] = fetch__sched_next(&s, 0));
    ck_assert_ptr_null(fetch__sched_next(&s, 0)); /* 3 running: no more */
    ck_assert_uint_eq(s.running, 3);
    fetch__sched_done(&s, got[1]); /* one slot frees one start */
    ck_assert_ptr_nonnull(fetch__sched_next(&s, 0));
    ck_assert_ptr_null(fetch__sched_next(&s, 0));
    ck_assert_uint_eq(s.running, 3);
    ck_assert_uint_eq(s.queued, 6);
    fetch__sched_free(&s);
}
END_TEST

START_TEST(per_host_limit_is_exact)
{
    struct fetch__sched s;
    struct req a[5], b[5];
    fetch__sched_init(&s, 100, 2);
    for (int i = 0; i < 5; i++) {
        push(&s, &a[i], 1, i);
        push(&s, &b[i], 2, i);
    }
    int per[3] = {0};
    struct fetch__qnode *q, *first_a = NULL;
    while ((q = fetch__sched_next(&s, 0))) {
        per[req_of(q)->host]++;
        if (req_of(q)->host == 1 && !first_a)
            first_a = q;
    }
    ck_assert_int_eq(per[1], 2); /* two each, though 100 may run */
    ck_assert_int_eq(per[2], 2);
    fetch__sched_done(&s, first_a); /* a slot of host 1 frees one of it */
    q = fetch__sched_next(&s, 0);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(req_of(q)->host, 1);
    ck_assert_int_eq(req_of(q)->n, 2);
    ck_assert_ptr_null(fetch__sched_next(&s, 0));
    fetch__sched_free(&s);
}
END_TEST

/* Free slots the queued requests cannot fill: a producer holding more back
   should submit them. */
START_TEST(idle_slots_are_what_the_queue_cannot_fill)
{
    struct fetch__sched s;
    struct req a[5], b;
    fetch__sched_init(&s, 10, 2);
    ck_assert_uint_eq(fetch__sched_idle(&s), 10); /* nothing queued */
    for (int i = 0; i < 5; i++)
        push(&s, &a[i], 1, i);
    ck_assert_uint_eq(fetch__sched_idle(&s), 8); /* host 1 may start 2 */
    push(&s, &b, 2, 0);
    ck_assert_uint_eq(fetch__sched_idle(&s), 7);
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_nonnull(fetch__sched_next(&s, 0));
    ck_assert_ptr_null(fetch__sched_next(&s, 0)); /* host 1 at its limit */
    ck_assert_uint_eq(fetch__sched_idle(&s), 7);  /* 3 queued, none may go */
    fetch__sched_done(&s, &a[0].q);
    ck_assert_uint_eq(fetch__sched_idle(&s), 7); /* one may go: 8 - 1 */
    fetch__sched_free(&s);
}
END_TEST

START_TEST(removed_requests_leave_no_trace)
{
    struct fetch__sched s;
    struct req r[4];
    fetch__sched_init(&s, 100, 0);
    for (int i = 0; i < 4; i++)
        push(&s, &r[i], i < 3 ? 1 : 2, i);
    fetch__sched_remove(&s, &r[1].q); /* from the middle of host 1's FIFO */
    fetch__sched_remove(&s, &r[3].q); /* host 2's only one */
    ck_assert_uint_eq(s.hosts, 1);
    ck_assert_uint_eq(s.queued, 2);
    ck_assert_int_eq(req_of(fetch__sched_next(&s, 0))->n, 0);
    ck_assert_int_eq(req_of(fetch__sched_next(&s, 0))->n, 2);
    ck_assert_ptr_null(fetch__sched_next(&s, 0));
    fetch__sched_free(&s);
}
END_TEST

START_TEST(a_waiting_host_waits_on_the_clock)
{
    struct fetch__sched s;
    struct req a[3], b[2];
    fetch__sched_init(&s, 100, 0);
    for (int i = 0; i < 3; i++)
        push(&s, &a[i], 1, i);
    for (int i = 0; i < 2; i++)
        push(&s, &b[i], 2, i);
    ck_assert_double_eq(fetch__sched_wake_at(&s), -1);
    fetch__sched_defer(&s, &a[0].q, 10.0); /* e.g. Retry-After */
    fetch__sched_defer(&s, &a[1].q, 5.0);  /* the later wait holds */
    ck_assert_double_eq(fetch__sched_wake_at(&s), 10.0);
    /* at 9: only host 2 may start */
    struct fetch__qnode *q;
    int n = 0;
    while ((q = fetch__sched_next(&s, 9.0))) {
        ck_assert_int_eq(req_of(q)->host, 2);
        n++;
    }
    ck_assert_int_eq(n, 2);
    /* at 10 host 1 may, in its order */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(req_of(fetch__sched_next(&s, 10.0))->n, i);
    ck_assert_double_eq(fetch__sched_wake_at(&s), -1);
    fetch__sched_free(&s);
}
END_TEST

START_TEST(a_waiting_host_is_kept_while_empty)
{
    struct fetch__sched s;
    struct req a, later;
    fetch__sched_init(&s, 100, 0);
    push(&s, &a, 1, 0);
    struct fetch__qnode *q = fetch__sched_next(&s, 0);
    fetch__sched_defer(&s, q, 20.0); /* its answer said: not before 20 */
    fetch__sched_done(&s, q);
    ck_assert_uint_eq(s.hosts, 1); /* the wait outlives its requests */
    push(&s, &later, 1, 1);        /* a request submitted later waits too */
    ck_assert_ptr_null(fetch__sched_next(&s, 19.9));
    ck_assert_ptr_eq(fetch__sched_next(&s, 20.0), &later.q);
    fetch__sched_done(&s, &later.q);
    ck_assert_uint_eq(s.hosts, 0);
    fetch__sched_free(&s);
}
END_TEST

START_TEST(work_is_logarithmic_in_hosts)
{
    enum { HOSTS = 100000 };
    struct fetch__sched s;
    struct req *r = calloc(HOSTS, sizeof *r);
    fetch__sched_init(&s, HOSTS, 1);
    for (int i = 0; i < HOSTS; i++)
        push(&s, &r[i], i, 0);
    /* every host waits until a pseudo-random time */
    unsigned long x = 12345;
    for (int i = 0; i < HOSTS; i++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        fetch__sched_defer(&s, &r[i].q, (double)(x >> 40) / 1e3);
    }
    double per_op_defer = (double)s.steps / HOSTS;
    /* then all come due; each is taken once, earliest first */
    s.steps = 0;
    size_t taken = 0;
    while (fetch__sched_next(&s, 1e12))
        taken++;
    double per_op_next = (double)s.steps / HOSTS;
    double log_hosts = log2(HOSTS); /* about 17 */
    ck_assert_uint_eq(taken, HOSTS);
    ck_assert_double_le(per_op_defer, log_hosts);
    ck_assert_double_le(per_op_next, 2 * log_hosts);
    /* and nothing is walked when no host waits: the ready list only */
    for (int i = 0; i < HOSTS; i++)
        fetch__sched_done(&s, &r[i].q);
    for (int i = 0; i < HOSTS; i++)
        push(&s, &r[i], i, 1);
    s.steps = 0;
    while (fetch__sched_next(&s, 0))
        ;
    ck_assert_uint_eq(s.steps, 0);
    free(r);
    fetch__sched_free(&s);
}
END_TEST

static Suite *queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("scheduler");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fifo_within_a_host);
    tcase_add_test(tc, hosts_take_turns);
    tcase_add_test(tc, global_limit_is_exact);
    tcase_add_test(tc, per_host_limit_is_exact);
    tcase_add_test(tc, idle_slots_are_what_the_queue_cannot_fill);
    tcase_add_test(tc, removed_requests_leave_no_trace);
    tcase_add_test(tc, a_waiting_host_waits_on_the_clock);
    tcase_add_test(tc, a_waiting_host_is_kept_while_empty);
    tcase_add_test(tc, work_is_logarithmic_in_hosts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(queue_suite());
}
