/* SPDX-License-Identifier: MIT */
/*
 * The scheduler (src/queue.c) on its own: no network, no event loop, a
 * fake clock. Fairness between hosts, exact limits, waiting hosts, retries
 * waiting their turn, pushback and the circuit breaker, exact rates and
 * delays, and O(log hosts) work with 100,000 hosts (counted in heap steps,
 * not timed).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "queue.h"

/* A request of the tests: which host, which number. */
struct req {
    struct fetch__qnode q;
    int host, n;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static struct req *req_of(struct fetch__qnode *q)
{
    return (struct req *)q; /* q is the first member */
}

static void push(struct fetch__sched *s, struct req *r, int host, int n)
{
    char key[64];
    snprintf(key, sizeof key, "http://h%d.test:80", host);
    memset(&r->q, 0, sizeof r->q); /* a new request, as calloc makes it */
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
    /* and when no host waits, only the ready heap is walked: O(log hosts)
       a start, also when each host's rank changes as it is served */
    for (int i = 0; i < HOSTS; i++)
        fetch__sched_done(&s, &r[i].q);
    s.steps = 0;
    for (int i = 0; i < HOSTS; i++)
        push(&s, &r[i], i, 1);
    while (fetch__sched_next(&s, 0))
        ;
    ck_assert_double_le((double)s.steps / HOSTS, 2 * log_hosts);
    free(r);
    fetch__sched_free(&s);
}
END_TEST

START_TEST(a_retry_waits_then_goes_first)
{
    struct fetch__sched s;
    struct req a[3];
    fetch__sched_init(&s, 100, 1);
    for (int i = 0; i < 3; i++)
        push(&s, &a[i], 1, i);
    struct fetch__qnode *q = fetch__sched_next(&s, 0);
    ck_assert_ptr_eq(q, &a[0].q);
    fetch__sched_done(&s, q);
    /* a[0] failed: it comes back at 5, ahead of the requests behind it */
    ck_assert_int_eq(fetch__sched_push_at(&s, q, "http://h1.test:80", 5.0), 0);
    ck_assert_uint_eq(s.later_n, 1);
    ck_assert_double_eq(fetch__sched_wake_at(&s), 5.0);
    q = fetch__sched_next(&s, 1.0);
    ck_assert_ptr_eq(q, &a[1].q); /* meanwhile the host goes on */
    fetch__sched_done(&s, q);
    ck_assert_ptr_eq(fetch__sched_next(&s, 5.0), &a[0].q);
    ck_assert_uint_eq(s.later_n, 0);
    ck_assert_ptr_null(fetch__sched_next(&s, 5.0)); /* per host 1 */
    fetch__sched_done(&s, &a[0].q);
    ck_assert_ptr_eq(fetch__sched_next(&s, 5.0), &a[2].q);
    fetch__sched_done(&s, &a[2].q);
    /* a waiting retry that is cancelled leaves nothing behind */
    ck_assert_int_eq(
        fetch__sched_push_at(&s, &a[2].q, "http://h1.test:80", 9.0), 0);
    fetch__sched_remove(&s, &a[2].q);
    ck_assert_double_eq(fetch__sched_wake_at(&s), -1);
    ck_assert_uint_eq(s.hosts, 0);
    fetch__sched_free(&s);
}
END_TEST

START_TEST(a_pushback_pauses_the_host_and_one_request_probes)
{
    struct fetch__sched s;
    struct req r[5], other;
    fetch__sched_init(&s, 100, 0);
    for (int i = 0; i < 5; i++)
        push(&s, &r[i], 1, i);
    push(&s, &other, 2, 0);
    struct fetch__qnode *q = fetch__sched_next(&s, 0);
    ck_assert_ptr_eq(q, &r[0].q);
    /* 503 with Retry-After: 2 */
    ck_assert_int_eq(fetch__sched_outcome(&s, q, FETCH__HOST_PUSHBACK, 0, 2),
                     0);
    fetch__sched_done(&s, q);
    ck_assert_uint_eq(s.paused, 1);
    ck_assert_double_eq(fetch__sched_wake_at(&s), 2.0);
    /* the other host is not held up */
    ck_assert_ptr_eq(fetch__sched_next(&s, 1.0), &other.q);
    fetch__sched_done(&s, &other.q);
    ck_assert_ptr_null(fetch__sched_next(&s, 1.9));
    /* at 2 one request probes, alone */
    q = fetch__sched_next(&s, 2.0);
    ck_assert_ptr_eq(q, &r[1].q);
    ck_assert_int_eq(q->probe, 1);
    ck_assert_ptr_null(fetch__sched_next(&s, 2.0));
    ck_assert_uint_eq(fetch__sched_idle(&s), 99); /* the rest wait for it */
    /* it is answered: the host is open again, without a per-host limit */
    fetch__sched_outcome(&s, q, FETCH__HOST_OK, 2.1, 0);
    fetch__sched_done(&s, q);
    ck_assert_uint_eq(s.paused, 0);
    for (int i = 2; i < 5; i++) {
        q = fetch__sched_next(&s, 2.1);
        ck_assert_ptr_eq(q, &r[i].q);
        ck_assert_int_eq(q->probe, 0);
    }
    for (int i = 2; i < 5; i++)
        fetch__sched_done(&s, &r[i].q);
    ck_assert_uint_eq(s.hosts, 0);
    fetch__sched_free(&s);
}
END_TEST

START_TEST(the_breaker_opens_probes_and_gives_up)
{
    struct fetch__sched s;
    enum { N = 10 };
    struct req r[N];
    struct fetch__qnode *q;
    fetch__sched_init(&s, 100, 0);
    s.breaker = 3;
    s.breaker_pause = 1;
    s.breaker_max = 8;
    for (int i = 0; i < N; i++)
        push(&s, &r[i], 1, i);
    for (int i = 0; i < 4; i++)
        ck_assert_ptr_eq(fetch__sched_next(&s, 0), &r[i].q);
    /* two refusals: not yet */
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(
            fetch__sched_outcome(&s, &r[i].q, FETCH__HOST_DOWN, 0, 0), 0);
        fetch__sched_done(&s, &r[i].q);
    }
    ck_assert_uint_eq(s.paused, 0);
    /* the third opens it: a pause of 1 s, jittered 0.5-1.5x */
    ck_assert_int_eq(fetch__sched_outcome(&s, &r[2].q, FETCH__HOST_DOWN, 0, 0),
                     0);
    fetch__sched_done(&s, &r[2].q);
    ck_assert_uint_eq(s.paused, 1);
    double at = fetch__sched_wake_at(&s);
    ck_assert_double_ge(at, 0.5);
    ck_assert_double_le(at, 1.5);
    /* one that was in flight before it opened says nothing new */
    ck_assert_int_eq(
        fetch__sched_outcome(&s, &r[3].q, FETCH__HOST_DOWN, 0.1, 0), 0);
    fetch__sched_done(&s, &r[3].q);
    ck_assert_double_eq(fetch__sched_wake_at(&s), at);
    /* and will be retried much later */
    ck_assert_int_eq(
        fetch__sched_push_at(&s, &r[3].q, "http://h1.test:80", at + 100), 0);
    ck_assert_ptr_null(fetch__sched_next(&s, at - 0.01));
    /* then one probe */
    q = fetch__sched_next(&s, at);
    ck_assert_ptr_eq(q, &r[4].q);
    ck_assert_int_eq(q->probe, 1);
    ck_assert_ptr_null(fetch__sched_next(&s, at));
    /* it is refused too: the host is down, its queue is failed, the next
       pause is twice as long (1-3 s) */
    ck_assert_int_eq(fetch__sched_outcome(&s, q, FETCH__HOST_DOWN, at, 0), 1);
    fetch__sched_done(&s, q);
    struct fetch__qlist out = TAILQ_HEAD_INITIALIZER(out);
    fetch__sched_drain(&s, "http://h1.test:80", &out);
    int n = 5; /* the queue in its order, then the retry */
    TAILQ_FOREACH(q, &out, link)
    ck_assert_int_eq(req_of(q)->n, n < N ? n++ : 3);
    ck_assert_ptr_eq(TAILQ_LAST(&out, fetch__qlist), &r[3].q);
    ck_assert_uint_eq(s.queued, 0);
    ck_assert_uint_eq(s.later_n, 0);
    /* nothing waits now; a request that comes later waits for the next
       probe, after a pause twice as long (1-3 s) */
    ck_assert_double_eq(fetch__sched_wake_at(&s), -1);
    push(&s, &r[0], 1, 0);
    double again = fetch__sched_wake_at(&s);
    ck_assert_double_ge(again - at, 1.0);
    ck_assert_double_le(again - at, 3.0);
    ck_assert_ptr_null(fetch__sched_next(&s, again - 0.01));
    q = fetch__sched_next(&s, again);
    ck_assert_int_eq(q->probe, 1);
    fetch__sched_outcome(&s, q, FETCH__HOST_OK, again, 0);
    fetch__sched_done(&s, q);
    ck_assert_uint_eq(s.paused, 0);
    ck_assert_uint_eq(s.hosts, 0); /* nothing is held against it */
    fetch__sched_free(&s);
}
END_TEST

/* Run the fake clock from timer to timer (as the client does), ending each
   request at once; the start times of each host's requests go in at[host]
   [k]. Returns how many started. */
static int drive(struct fetch__sched *s, int total, double at[][64], int *k)
{
    double now = 0;
    int started = 0;
    while (started < total) {
        struct fetch__qnode *q;
        while ((q = fetch__sched_next(s, now))) {
            struct req *r = req_of(q);
            at[r->host][k[r->host]++] = now;
            fetch__sched_done(s, q);
            started++;
        }
        double next = fetch__sched_wake_at(s);
        if (next < 0)
            break;
        ck_assert_double_ge(next, now); /* time moves on */
        now = next;
    }
    return started;
}

START_TEST(the_rate_is_exact)
{
    enum { HOSTS = 4, EACH = 10 };
    struct fetch__sched s;
    struct req r[HOSTS * EACH];
    static double at[HOSTS][64];
    int k[HOSTS] = {0};
    fetch__sched_init(&s, 100, 0);
    s.rate = 4; /* in all, a second */
    for (int i = 0; i < HOSTS * EACH; i++)
        push(&s, &r[i], i % HOSTS, i / HOSTS);
    ck_assert_int_eq(drive(&s, HOSTS * EACH, at, k), HOSTS * EACH);
    /* hosts take turns, so host h's j-th start is start number j*4+h */
    for (int h = 0; h < HOSTS; h++)
        for (int j = 0; j < EACH; j++)
            ck_assert_double_eq_tol(at[h][j], (j * HOSTS + h) * 0.25, 1e-6);
    fetch__sched_free(&s);
}
END_TEST

START_TEST(the_host_rate_is_exact_and_takes_both_tokens)
{
    enum { HOSTS = 3, EACH = 5 };
    struct fetch__sched s;
    struct req r[HOSTS * EACH];
    static double at[HOSTS][64];
    int k[HOSTS] = {0};
    fetch__sched_init(&s, 100, 0);
    s.host_rate = 1; /* to each host, a second */
    for (int i = 0; i < HOSTS * EACH; i++)
        push(&s, &r[i], i % HOSTS, i / HOSTS);
    ck_assert_int_eq(drive(&s, HOSTS * EACH, at, k), HOSTS * EACH);
    for (int h = 0; h < HOSTS; h++)
        for (int j = 0; j < EACH; j++)
            ck_assert_double_eq_tol(at[h][j], j, 1e-6); /* hosts in parallel */
    fetch__sched_free(&s);

    /* both: 3 hosts at 1/s each, but 2/s in all. A start takes a token of
       each or of neither, so no host is starved and the run's rate holds */
    fetch__sched_init(&s, 100, 0);
    s.host_rate = 1;
    s.rate = 2;
    memset(k, 0, sizeof k);
    for (int i = 0; i < HOSTS * EACH; i++)
        push(&s, &r[i], i % HOSTS, i / HOSTS);
    ck_assert_int_eq(drive(&s, HOSTS * EACH, at, k), HOSTS * EACH);
    double all[HOSTS * EACH];
    int n = 0;
    for (int h = 0; h < HOSTS; h++) {
        ck_assert_int_eq(k[h], EACH);
        for (int j = 0; j < EACH; j++) {
            if (j)
                ck_assert_double_ge(at[h][j] - at[h][j - 1], 1 - 1e-6);
            all[n++] = at[h][j];
        }
    }
    qsort(all, n, sizeof *all, cmp_double);
    for (int i = 1; i < n; i++)
        ck_assert_double_ge(all[i] - all[i - 1], 0.5 - 1e-6);
    ck_assert_double_eq_tol(all[n - 1], (n - 1) * 0.5, 1e-6); /* no gaps */
    fetch__sched_free(&s);
}
END_TEST

START_TEST(a_delay_between_starts_to_a_host)
{
    enum { EACH = 40 };
    struct fetch__sched s;
    struct req r[EACH];
    static double at[1][64];
    int k[1] = {0};
    fetch__sched_init(&s, 100, 0);
    s.host_delay = 2;
    for (int i = 0; i < EACH; i++)
        push(&s, &r[i], 0, i);
    ck_assert_int_eq(drive(&s, EACH, at, k), EACH);
    for (int j = 1; j < EACH; j++)
        ck_assert_double_eq_tol(at[0][j] - at[0][j - 1], 2, 1e-6);
    fetch__sched_free(&s);

    /* jittered: each gap is 1-3 s, and they differ */
    fetch__sched_init(&s, 100, 0);
    s.host_delay = 2;
    s.delay_jitter = 1;
    k[0] = 0;
    for (int i = 0; i < EACH; i++)
        push(&s, &r[i], 0, i);
    ck_assert_int_eq(drive(&s, EACH, at, k), EACH);
    double lo = 9, hi = 0;
    for (int j = 1; j < EACH; j++) {
        double gap = at[0][j] - at[0][j - 1];
        lo = gap < lo ? gap : lo;
        hi = gap > hi ? gap : hi;
    }
    ck_assert_double_ge(lo, 1 - 1e-6);
    ck_assert_double_le(hi, 3 + 1e-6);
    ck_assert_double_gt(hi - lo, 0.5);
    fetch__sched_free(&s);
}
END_TEST

/* A gated host (its robots.txt being fetched) starts only its bypass
   request, queued ahead of the others; once opened with a Crawl-delay,
   its starts are that far apart, the first counted from the opening;
   other hosts go on meanwhile. */
START_TEST(a_gated_host_waits_for_its_robots_txt)
{
    struct fetch__sched s;
    struct req a[3], robots, b[2];
    fetch__sched_init(&s, 100, 0);
    for (int i = 0; i < 3; i++)
        push(&s, &a[i], 1, i);
    fetch__sched_gate(&s, "http://h1.test:80", 1, -1, 0);
    for (int i = 0; i < 2; i++)
        push(&s, &b[i], 2, i);
    memset(&robots.q, 0, sizeof robots.q);
    robots.q.bypass = 1;
    ck_assert_int_eq(fetch__sched_push(&s, &robots.q, "http://h1.test:80"), 0);
    ck_assert_ptr_eq(fetch__sched_next(&s, 0), &robots.q); /* first */
    ck_assert_ptr_eq(fetch__sched_next(&s, 0), &b[0].q);   /* not gated */
    ck_assert_ptr_eq(fetch__sched_next(&s, 0), &b[1].q);
    ck_assert_ptr_null(fetch__sched_next(&s, 0)); /* a waits at its gate */
    ck_assert_uint_eq(s.queued, 3);
    fetch__sched_done(&s, &robots.q);
    ck_assert_ptr_null(fetch__sched_next(&s, 1.0));
    fetch__sched_gate(&s, "http://h1.test:80", 0, 2.0, 1.0);
    ck_assert_ptr_null(fetch__sched_next(&s, 2.9)); /* 2 s after robots */
    ck_assert_ptr_eq(fetch__sched_next(&s, 3.0), &a[0].q);
    ck_assert_ptr_null(fetch__sched_next(&s, 4.9));
    ck_assert_ptr_eq(fetch__sched_next(&s, 5.0), &a[1].q);
    ck_assert_ptr_eq(fetch__sched_next(&s, 7.0), &a[2].q);
    for (int i = 0; i < 3; i++)
        fetch__sched_done(&s, &a[i].q);
    for (int i = 0; i < 2; i++)
        fetch__sched_done(&s, &b[i].q);
    ck_assert_uint_eq(s.running, 0);
    fetch__sched_free(&s);
}
END_TEST

/* A host's first request goes alone; once its connection is up (or it
   ended without one) the others may start, as many as the limit. */
START_TEST(a_hosts_first_request_goes_alone)
{
    struct fetch__sched s;
    struct req a[5], b[3];
    fetch__sched_init(&s, 100, 3);
    s.first_alone = 1;
    for (int i = 0; i < 5; i++)
        push(&s, &a[i], 1, i);
    for (int i = 0; i < 3; i++)
        push(&s, &b[i], 2, i);
    struct fetch__qnode *q1 = fetch__sched_next(&s, 0);
    struct fetch__qnode *q2 = fetch__sched_next(&s, 0);
    ck_assert_ptr_eq(q1, &a[0].q);
    ck_assert_ptr_eq(q2, &b[0].q);
    ck_assert_ptr_null(fetch__sched_next(&s, 0)); /* each waits for its first */
    /* not idle: each will start two more as soon as its first is up */
    ck_assert_uint_eq(fetch__sched_idle(&s), 100 - 2 - 2 - 2);
    fetch__sched_opened(&s, q1); /* a's connection is up */
    ck_assert_ptr_eq(fetch__sched_next(&s, 0), &a[1].q);
    ck_assert_ptr_eq(fetch__sched_next(&s, 0), &a[2].q);
    ck_assert_ptr_null(fetch__sched_next(&s, 0)); /* a: 3 at most */
    fetch__sched_opened(&s, q1);                  /* once is enough */
    ck_assert_ptr_null(fetch__sched_next(&s, 0));
    fetch__sched_done(&s, q2); /* b's first failed: the rest may try */
    ck_assert_ptr_eq(fetch__sched_next(&s, 0), &b[1].q);
    ck_assert_ptr_eq(fetch__sched_next(&s, 0), &b[2].q);
    for (int i = 0; i < 3; i++)
        fetch__sched_done(&s, &a[i].q);
    ck_assert_ptr_eq(fetch__sched_next(&s, 0), &a[3].q);
    ck_assert_ptr_eq(fetch__sched_next(&s, 0), &a[4].q);
    for (int i = 3; i < 5; i++)
        fetch__sched_done(&s, &a[i].q);
    for (int i = 1; i < 3; i++)
        fetch__sched_done(&s, &b[i].q);
    ck_assert_uint_eq(s.hosts, 0);
    fetch__sched_free(&s);
}
END_TEST

/* With a limit per host, the longest chain ahead goes first: queued
   requests in rounds of the limit, times the host's latency, learned from
   its answers; a host not heard from yet counts as the mean of those that
   have been. Ties: whose turn is older. */
static struct fetch__qnode *answer(struct fetch__sched *s, double at,
                                   double took)
{
    struct fetch__qnode *q = fetch__sched_next(s, at);
    ck_assert_ptr_nonnull(q);
    if (took > 0)
        fetch__sched_outcome(s, q, FETCH__HOST_OK, at + took, 0);
    fetch__sched_done(s, q);
    return q;
}

START_TEST(the_longest_chain_goes_first)
{
    struct fetch__sched s;
    struct req a[4], b[8], c[2];
    fetch__sched_init(&s, 1, 2); /* one at a time: the order is visible */
    for (int i = 0; i < 4; i++)
        push(&s, &a[i], 1, i);
    for (int i = 0; i < 8; i++)
        push(&s, &b[i], 2, i);
    /* neither heard from: b has 4 rounds ahead, a 2 */
    ck_assert_ptr_eq(answer(&s, 0, 0.1), &b[0].q);
    /* b: 4 rounds (7 left) x 0.1 s; a: 2 x the mean, 0.1 s */
    ck_assert_ptr_eq(answer(&s, 1, 0.3), &b[1].q);
    /* b, 3 rounds x 0.16 s; 2 x 0.11 s (the mean) for a, as long after */
    for (int i = 2; i < 6; i++)
        ck_assert_ptr_eq(answer(&s, i, 0.1), &b[i].q);
    /* b: 1 round x 0.11 s; a: 2 x the mean */
    ck_assert_ptr_eq(answer(&s, 6, 3), &a[0].q);
    /* a: 2 rounds x 3 s now, then 1 */
    ck_assert_ptr_eq(answer(&s, 10, 3), &a[1].q);
    ck_assert_ptr_eq(answer(&s, 14, 0), &a[2].q);
    for (int i = 0; i < 2; i++) /* not heard from: the mean, ~0.39 s */
        push(&s, &c[i], 3, i);
    ck_assert_ptr_eq(answer(&s, 15, 0), &a[3].q);
    const struct req *want[] = {&c[0], &c[1], &b[6], &b[7]};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_ptr_eq(answer(&s, 16 + (double)i, 0), &want[i]->q);
    ck_assert_ptr_null(fetch__sched_next(&s, 100));
    ck_assert_uint_eq(s.hosts, 0);
    fetch__sched_free(&s);
}
END_TEST

static Suite *queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("scheduler");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fifo_within_a_host);
    tcase_add_test(tc, a_hosts_first_request_goes_alone);
    tcase_add_test(tc, the_longest_chain_goes_first);
    tcase_add_test(tc, hosts_take_turns);
    tcase_add_test(tc, global_limit_is_exact);
    tcase_add_test(tc, per_host_limit_is_exact);
    tcase_add_test(tc, idle_slots_are_what_the_queue_cannot_fill);
    tcase_add_test(tc, removed_requests_leave_no_trace);
    tcase_add_test(tc, a_waiting_host_waits_on_the_clock);
    tcase_add_test(tc, a_waiting_host_is_kept_while_empty);
    tcase_add_test(tc, work_is_logarithmic_in_hosts);
    tcase_add_test(tc, a_retry_waits_then_goes_first);
    tcase_add_test(tc, a_pushback_pauses_the_host_and_one_request_probes);
    tcase_add_test(tc, the_breaker_opens_probes_and_gives_up);
    tcase_add_test(tc, the_rate_is_exact);
    tcase_add_test(tc, the_host_rate_is_exact_and_takes_both_tokens);
    tcase_add_test(tc, a_delay_between_starts_to_a_host);
    tcase_add_test(tc, a_gated_host_waits_for_its_robots_txt);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(queue_suite());
}
