/* SPDX-License-Identifier: MIT */
/*
 * The scheduler. Requests wait in per-host FIFO queues (a host is the
 * "scheme://host:port" key its caller computes). A request may start when
 * fewer than limit are running in all and fewer than per_host to its host
 * (one while the host is being probed, or while its first request sets up
 * the first connection), its host is eligible (not waiting for a time: a
 * pushback, the breaker, a delay or a rate), and the run's rate has a
 * token. Hosts that may start one now sit in the ready heap:
 * - without a limit per host they take turns (round-robin), so that a host
 *   with 100,000 queued requests does not starve one with 10;
 * - with one, the host with the longest chain still ahead goes first: its
 *   queued requests in rounds of its limit, times how long its answers
 *   take (learned as they come; a host not heard from yet goes ahead of
 *   all that have been), as a makespan scheduler orders its longest jobs
 *   first. A crawl's slow hosts with many URLs then do not all end up at
 *   the end of the run; no host is starved, since each takes at most
 *   per_host slots.
 * Hosts waiting for a time sit in a min-heap by that time; so do requests
 * waiting for one of their own (a retry's back-off). Every operation is
 * O(1) or O(log n): nothing scans all hosts or all requests.
 */
#define _GNU_SOURCE /* tdestroy */
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

struct fetch__host {
    size_t queued, running, later;  /* later: its requests in s->later */
    struct fetch__qlist waiting;    /* FIFO */
    struct fetch__qlist later_list; /* its requests in s->later */
    struct fetch__timed wait;       /* in s->waiting until wait.at */
    size_t startable;               /* how many it may start now */
    size_t soon;                    /* ... and more once it is opened */
    struct fetch__timed rank;       /* in a ready heap while startable */
    struct fetch__heap *ranked;     /* ... this one */
    double latency;                 /* its answers' seconds, of late */
    int home;                       /* its caller's: see fetch__sched_home */
    int probing;    /* paused and let out again: one request at a time */
    int opened;     /* its first request got a connection up (or ended):
                       until then it is the only one (see room()) */
    int paused;     /* counted in s->paused */
    int gated;      /* starts nothing until fetch__sched_gate(.., 0) */
    double delay;   /* its own seconds between starts (robots.txt's
                       Crawl-delay), when longer than s->host_delay */
    unsigned fails; /* "down" answers in a row */
    unsigned opens; /* times the breaker opened without an answer since */
    double tokens, refilled; /* its rate's bucket */
    const char *key;         /* "scheme://host:port", stored after the struct */
};

#define HOST_OF(t)                                                             \
    ((struct fetch__host *)((char *)(t)-offsetof(struct fetch__host, wait)))
#define RANKED(t)                                                              \
    ((struct fetch__host *)((char *)(t)-offsetof(struct fetch__host, rank)))
#define NODE_OF(t)                                                             \
    ((struct fetch__qnode *)((char *)(t)-offsetof(struct fetch__qnode, later)))

static int host_cmp(const void *a, const void *b)
{
    return strcmp(((const struct fetch__host *)a)->key,
                  ((const struct fetch__host *)b)->key);
}

void fetch__sched_init(struct fetch__sched *s, size_t limit, size_t per_host)
{
    memset(s, 0, sizeof *s);
    s->limit = limit ? limit : 1;
    s->per_host = per_host;
    s->tokens = 1;
    s->rng = 0x9e3779b97f4a7c15UL;
}

void fetch__sched_free(struct fetch__sched *s)
{
    tdestroy(s->tree, free);
    free(s->waiting.v);
    free(s->later.v);
    free(s->ready.v);
    free(s->fresh.v);
    memset(s, 0, sizeof *s);
}

double fetch__sched_random(struct fetch__sched *s)
{
    s->rng ^= s->rng << 13; /* xorshift64 */
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return (double)(s->rng >> 11) / 9007199254740992.0; /* 2^53 */
}

/* ---- a min-heap by time (or rank), then by turn ---- */

/* A heap level walked: counted only in the scheduler's own test build,
   which checks that work is O(log hosts). */
#ifdef FETCH_SCHED_STEPS
#define STEP(s) ((s)->steps++)
#else
#define STEP(s) ((void)(s))
#endif

static int earlier(const struct fetch__timed *a, const struct fetch__timed *b)
{
    return a->at < b->at || (a->at == b->at && a->turn < b->turn);
}

static void heap_set(struct fetch__heap *h, size_t i, struct fetch__timed *t)
{
    h->v[i] = t;
    t->pos = i;
}

static void sift_up(struct fetch__sched *s, struct fetch__heap *h, size_t i)
{
    struct fetch__timed *t = h->v[i];
    while (i > 0 && earlier(t, h->v[(i - 1) / 2])) {
        heap_set(h, i, h->v[(i - 1) / 2]);
        i = (i - 1) / 2;
        STEP(s);
    }
    heap_set(h, i, t);
}

static void sift_down(struct fetch__sched *s, struct fetch__heap *h, size_t i)
{
    struct fetch__timed *t = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len)
            break;
        if (c + 1 < h->len && earlier(h->v[c + 1], h->v[c]))
            c++;
        if (!earlier(h->v[c], t))
            break;
        heap_set(h, i, h->v[c]);
        i = c;
        STEP(s);
    }
    heap_set(h, i, t);
}

static int heap_add(struct fetch__sched *s, struct fetch__heap *h,
                    struct fetch__timed *t)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16;
        struct fetch__timed **v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    t->in = 1;
    heap_set(h, h->len++, t);
    sift_up(s, h, t->pos);
    return 0;
}

static void heap_remove(struct fetch__sched *s, struct fetch__heap *h,
                        struct fetch__timed *t)
{
    size_t i = t->pos;
    struct fetch__timed *last = h->v[--h->len];
    t->in = 0;
    if (last == t)
        return;
    heap_set(h, i, last);
    sift_up(s, h, i);
    sift_down(s, h, last->pos);
}

/* ---- hosts ---- */

/* How many more h may start now (time and tokens aside). A host's first
   request goes alone until its connection is up: the others then find its
   name in the DNS cache (one lookup per host, not one per request started
   meanwhile) and, over HTTP/2, a connection to multiplex on (not a
   connection each, nor a crowd of transfers parked inside libcurl). */
static size_t room(const struct fetch__sched *s, const struct fetch__host *h)
{
    if (h->gated) /* only its robots.txt, which goes first */
        return TAILQ_FIRST(&h->waiting) && TAILQ_FIRST(&h->waiting)->bypass;
    size_t most =
        h->probing || (s->first_alone && !h->opened) ? 1 : s->per_host;
    if (!most)
        return h->queued;
    return h->running < most ? most - h->running : 0;
}

/* Its place among the ready (smallest first). Without a limit per host
   all take turns: the turn alone. With one, the longest chain ahead
   first: its queued requests in rounds of its limit, times its latency.
   A host not heard from yet waits in s->fresh, ranked by its rounds alone,
   and counts as the mean latency of those that have been (see top()). */
static double rank_of(const struct fetch__sched *s, const struct fetch__host *h)
{
    if (!s->per_host)
        return 0;
    double rounds = (double)((h->queued + s->per_host - 1) / s->per_host);
    return h->latency > 0 ? -rounds * h->latency : -rounds;
}

/* Put h in its ready heap, or take it out, as its state says, and keep
   the sum of what the ready hosts may start. */
static void update(struct fetch__sched *s, struct fetch__host *h)
{
    size_t n = h->wait.in ? 0 : room(s, h);
    if (n > h->queued)
        n = h->queued;
    s->startable = s->startable - h->startable + n;
    h->startable = n;
    /* what it will start once its first connection is up: not idle
       slots (see fetch__sched_idle()), only a moment's wait */
    size_t soon = 0;
    if (s->first_alone && !h->opened && !h->wait.in) {
        size_t most = s->per_host ? s->per_host : h->queued + h->running;
        soon = most > h->running ? most - h->running : 0;
        soon = (soon > h->queued ? h->queued : soon) - n;
    }
    s->soon = s->soon - h->soon + soon;
    h->soon = soon;
    struct fetch__heap *to =
        s->per_host && h->latency <= 0 ? &s->fresh : &s->ready;
    if (h->rank.in && (!n || h->ranked != to)) {
        heap_remove(s, h->ranked, &h->rank);
        h->ranked = NULL;
    }
    if (!n)
        return;
    double at = rank_of(s, h);
    if (!h->rank.in) {
        h->rank.at = at;
        if (heap_add(s, to, &h->rank) != 0) { /* out of memory: later */
            s->startable -= n;
            h->startable = 0;
            return;
        }
        h->ranked = to;
    } else if (at != h->rank.at) {
        h->rank.at = at;
        sift_up(s, to, h->rank.pos);
        sift_down(s, to, h->rank.pos);
    }
}

/* The ready host to serve next, or NULL: the better of the two heaps'
   tops, a host not heard from yet counting as the mean latency (before
   any answer, it goes first). */
static struct fetch__host *top(const struct fetch__sched *s)
{
    struct fetch__host *r = s->ready.len ? RANKED(s->ready.v[0]) : NULL;
    struct fetch__host *f = s->fresh.len ? RANKED(s->fresh.v[0]) : NULL;
    if (!r || !f)
        return r ? r : f;
    double fat = f->rank.at * s->latency;
    return fat < r->rank.at ||
                   (fat == r->rank.at && f->rank.turn < r->rank.turn)
               ? f
               : r;
}

/* A host with nothing queued, running, waiting or known against it is
   forgotten. */
static void maybe_free(struct fetch__sched *s, struct fetch__host *h)
{
    if (h->queued || h->running || h->later || h->wait.in || h->fails ||
        h->opens || h->probing)
        return;
    if (h->rank.in)
        heap_remove(s, h->ranked, &h->rank);
    s->startable -= h->startable;
    s->soon -= h->soon;
    tdelete(h, &s->tree, host_cmp);
    s->hosts--;
    free(h);
}

static struct fetch__host *find(struct fetch__sched *s, const char *key)
{
    struct fetch__host probe = {.key = key}, **found;
    found = tfind(&probe, &s->tree, host_cmp);
    return found ? *found : NULL;
}

static struct fetch__host *host_of(struct fetch__sched *s, const char *key)
{
    struct fetch__host *h = find(s, key);
    if (h)
        return h;
    size_t len = strlen(key);
    if (!(h = calloc(1, sizeof *h + len + 1)))
        return NULL;
    h->key = memcpy(h + 1, key, len + 1);
    h->tokens = 1;
    h->rank.turn = ++s->turns;
    if (!tsearch(h, &s->tree, host_cmp)) {
        free(h);
        return NULL;
    }
    TAILQ_INIT(&h->waiting);
    TAILQ_INIT(&h->later_list);
    s->hosts++;
    return h;
}

/* h may start nothing before until. */
static void wait_host(struct fetch__sched *s, struct fetch__host *h,
                      double until)
{
    if (h->wait.in) {
        if (until <= h->wait.at)
            return; /* the later of two waits holds */
        h->wait.at = until;
        sift_down(s, &s->waiting, h->wait.pos);
        return;
    }
    h->wait.at = until;
    if (heap_add(s, &s->waiting, &h->wait) != 0)
        return; /* no wait then: better than losing the host */
    update(s, h);
}

static void set_paused(struct fetch__sched *s, struct fetch__host *h, int p)
{
    if (p != h->paused)
        s->paused += p ? 1 : (size_t)-1;
    h->paused = p;
}

int fetch__sched_push_at(struct fetch__sched *s, struct fetch__qnode *n,
                         const char *key, double not_before)
{
    struct fetch__host *h = host_of(s, key);
    if (!h)
        return -1;
    n->host = h;
    n->probe = 0;
    n->later.in = 0;
    if (not_before > 0) { /* a time of its own first */
        n->later.at = not_before;
        if (heap_add(s, &s->later, &n->later) != 0)
            return -1;
        TAILQ_INSERT_TAIL(&h->later_list, n, link);
        h->later++;
        s->later_n++;
        return 0;
    }
    if (n->bypass) /* a gate's own request: ahead of what it holds */
        TAILQ_INSERT_HEAD(&h->waiting, n, link);
    else
        TAILQ_INSERT_TAIL(&h->waiting, n, link);
    h->queued++;
    s->queued++;
    update(s, h);
    return 0;
}

int fetch__sched_push(struct fetch__sched *s, struct fetch__qnode *n,
                      const char *key)
{
    return fetch__sched_push_at(s, n, key, 0);
}

void fetch__sched_remove(struct fetch__sched *s, struct fetch__qnode *n)
{
    struct fetch__host *h = n->host;
    if (n->later.in) {
        heap_remove(s, &s->later, &n->later);
        TAILQ_REMOVE(&h->later_list, n, link);
        h->later--;
        s->later_n--;
    } else {
        TAILQ_REMOVE(&h->waiting, n, link);
        h->queued--;
        s->queued--;
    }
    n->host = NULL;
    update(s, h);
    maybe_free(s, h);
}

/* A token bucket of one: tokens come at rate a second, one at most (no
   bursts: starts are evenly spaced). A token is whole within a nanosecond's
   worth, so that a timer set for it finds it. */
#define WHOLE (1 - 1e-9)

static void refill(double *tokens, double *refilled, double rate, double now)
{
    if (now > *refilled) {
        *tokens += (now - *refilled) * rate;
        if (*tokens > 1)
            *tokens = 1;
        *refilled = now;
    }
}

/* What has waited for now may start: hosts whose wait is over, requests
   whose time has come (at the head of their host's queue: a retry is
   older than what is queued behind it). */
static void due(struct fetch__sched *s, double now)
{
    while (s->waiting.len && s->waiting.v[0]->at <= now) {
        struct fetch__host *h = HOST_OF(s->waiting.v[0]);
        heap_remove(s, &s->waiting, &h->wait);
        if (!h->probing)
            set_paused(s, h, 0);
        update(s, h);
        maybe_free(s, h);
    }
    while (s->later.len && s->later.v[0]->at <= now) {
        struct fetch__qnode *n = NODE_OF(s->later.v[0]);
        struct fetch__host *h = n->host;
        heap_remove(s, &s->later, &n->later);
        TAILQ_REMOVE(&h->later_list, n, link);
        h->later--;
        s->later_n--;
        TAILQ_INSERT_HEAD(&h->waiting, n, link);
        h->queued++;
        s->queued++;
        update(s, h);
    }
}

struct fetch__qnode *fetch__sched_next(struct fetch__sched *s, double now)
{
    struct fetch__host *h;
    struct fetch__qnode *n;
    due(s, now);
    if (s->running >= s->limit)
        return NULL;
    if (s->rate) {
        refill(&s->tokens, &s->refilled, s->rate, now);
        if (s->tokens < WHOLE)
            return NULL;
    }
    while ((h = top(s))) {
        if (s->host_rate) {
            refill(&h->tokens, &h->refilled, s->host_rate, now);
            if (h->tokens < WHOLE) { /* not its turn yet: when it will be */
                wait_host(s, h, now + (1 - h->tokens) / s->host_rate);
                continue;
            }
            h->tokens -= 1;
        }
        break;
    }
    if (!h)
        return NULL;
    if (s->rate)
        s->tokens -= 1;
    n = TAILQ_FIRST(&h->waiting);
    TAILQ_REMOVE(&h->waiting, n, link);
    h->queued--;
    s->queued--;
    h->running++;
    s->running++;
    n->probe = h->probing;
    n->opener = s->first_alone && !h->opened;
    n->started = now;
    /* its turn is over: to the back of the line, if it may go on */
    h->rank.turn = ++s->turns;
    if (h->rank.in) {
        heap_remove(s, h->ranked, &h->rank);
        h->ranked = NULL;
    }
    update(s, h);
    double delay = h->delay > s->host_delay ? h->delay : s->host_delay;
    if (delay) /* the next start to it: not before */
        wait_host(s, h,
                  now + delay * (s->delay_jitter ? 0.5 + fetch__sched_random(s)
                                                 : 1.0));
    return n;
}

/* How long n's host takes to answer, of late, and all hosts (the ready
   heaps' order). */
static void learn(struct fetch__sched *s, struct fetch__host *h, double took)
{
    if (took <= 0)
        return;
    h->latency = h->latency > 0 ? 0.7 * h->latency + 0.3 * took : took;
    s->latency = s->latency > 0 ? 0.95 * s->latency + 0.05 * took : took;
}

int fetch__sched_outcome(struct fetch__sched *s, struct fetch__qnode *n,
                         enum fetch__outcome what, double now, double pause)
{
    struct fetch__host *h = n->host;
    learn(s, h, now - n->started);
    switch (what) {
    case FETCH__HOST_OK:
        h->fails = h->opens = 0;
        h->probing = 0;
        set_paused(s, h, h->wait.in);
        break;
    case FETCH__HOST_PUSHBACK:
        h->probing = 1;
        set_paused(s, h, 1);
        wait_host(s, h, now + pause);
        break;
    case FETCH__HOST_DOWN:
        h->fails++;
        if (!s->breaker || h->fails < s->breaker)
            break;
        if (h->opens && !n->probe)
            break; /* in flight when it opened: the probe decides */
        /* open: pause for a growing, jittered time, then one probe */
        {
            double p = s->breaker_pause *
                       (double)(1UL << (h->opens < 20 ? h->opens : 20));
            if (p > s->breaker_max)
                p = s->breaker_max;
            p *= 0.5 + fetch__sched_random(s);
            int probe_failed = h->opens > 0;
            h->opens++;
            h->probing = 1;
            set_paused(s, h, 1);
            wait_host(s, h, now + p);
            update(s, h);
            return probe_failed;
        }
    default:
        break;
    }
    update(s, h);
    return 0;
}

void fetch__sched_opened(struct fetch__sched *s, struct fetch__qnode *n)
{
    struct fetch__host *h = n->host;
    if (!n->opener || !h)
        return;
    n->opener = 0;
    h->opened = 1;
    update(s, h);
}

int *fetch__sched_home(struct fetch__qnode *n, size_t few)
{
    return n->host->running <= few ? &n->host->home : NULL;
}

void fetch__sched_done(struct fetch__sched *s, struct fetch__qnode *n)
{
    struct fetch__host *h = n->host;
    if (n->opener) /* it ended without a connection: no longer alone */
        h->opened = 1;
    n->opener = 0;
    n->host = NULL;
    h->running--;
    s->running--;
    update(s, h);
    maybe_free(s, h);
}

void fetch__sched_drain(struct fetch__sched *s, const char *key,
                        struct fetch__qlist *out)
{
    struct fetch__host *h = find(s, key);
    struct fetch__qnode *n;
    if (!h)
        return;
    while ((n = TAILQ_FIRST(&h->waiting))) {
        TAILQ_REMOVE(&h->waiting, n, link);
        h->queued--;
        s->queued--;
        n->host = NULL;
        TAILQ_INSERT_TAIL(out, n, link);
    }
    while ((n = TAILQ_FIRST(&h->later_list))) { /* retries waiting too */
        TAILQ_REMOVE(&h->later_list, n, link);
        heap_remove(s, &s->later, &n->later);
        h->later--;
        s->later_n--;
        n->host = NULL;
        TAILQ_INSERT_TAIL(out, n, link);
    }
    update(s, h);
}

void fetch__sched_gate(struct fetch__sched *s, const char *key, int gated,
                       double delay, double now)
{
    struct fetch__host *h = find(s, key);
    if (!h)
        return;
    int opened = h->gated && !gated;
    h->gated = gated;
    if (delay >= 0)
        h->delay = delay;
    update(s, h);
    if (opened && h->delay > 0) /* its robots.txt was the last start */
        wait_host(s, h, now + h->delay);
}

void fetch__sched_defer(struct fetch__sched *s, struct fetch__qnode *n,
                        double until)
{
    wait_host(s, n->host, until);
}

size_t fetch__sched_idle(const struct fetch__sched *s)
{
    size_t free = s->running < s->limit ? s->limit - s->running : 0;
    size_t taken = s->startable + s->soon;
    return free > taken ? free - taken : 0;
}

double fetch__sched_wake_at(const struct fetch__sched *s)
{
    double at = -1;
    if (!s->queued && !s->later_n)
        return -1; /* a host may wait, but nothing waits for it */
    if (s->waiting.len)
        at = s->waiting.v[0]->at;
    if (s->later.len && (at < 0 || s->later.v[0]->at < at))
        at = s->later.v[0]->at;
    if (s->rate && s->queued && s->tokens < WHOLE) {
        double t = s->refilled + (1 - s->tokens) / s->rate;
        if (at < 0 || t < at)
            at = t;
    }
    return at;
}
