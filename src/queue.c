/*
 * The scheduler. Requests wait in per-host FIFO queues (a host is the
 * "scheme://host:port" key its caller computes). A request may start when
 * fewer than limit are running in all and fewer than per_host to its host,
 * and its host is eligible (not waiting for a time). Hosts that may start
 * one now sit on the ready list and take turns, so that a host with 100,000
 * queued requests does not starve one with 10; hosts waiting for a time sit
 * in a min-heap by that time. Every operation is O(1) or O(log hosts):
 * nothing scans all hosts or all requests.
 */
#define _GNU_SOURCE /* tdestroy */
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

struct fetch__host {
    size_t queued, running;
    struct fetch__qlist waiting; /* FIFO */
    double eligible_at;          /* in the heap while in_heap */
    size_t heap_at;              /* its index there */
    size_t startable;            /* how many it may start now */
    int in_heap, in_ready;
    TAILQ_ENTRY(fetch__host) ready_link;
    const char *key; /* "scheme://host:port", stored after the struct */
};

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
    TAILQ_INIT(&s->ready);
}

void fetch__sched_free(struct fetch__sched *s)
{
    tdestroy(s->tree, free);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

/* ---- the heap of hosts waiting for a time ---- */

static void heap_set(struct fetch__sched *s, size_t i, struct fetch__host *h)
{
    s->heap[i] = h;
    h->heap_at = i;
}

static void sift_up(struct fetch__sched *s, size_t i)
{
    struct fetch__host *h = s->heap[i];
    while (i > 0 && s->heap[(i - 1) / 2]->eligible_at > h->eligible_at) {
        heap_set(s, i, s->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
        s->steps++;
    }
    heap_set(s, i, h);
}

static void sift_down(struct fetch__sched *s, size_t i)
{
    struct fetch__host *h = s->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_len)
            break;
        if (c + 1 < s->heap_len &&
            s->heap[c + 1]->eligible_at < s->heap[c]->eligible_at)
            c++;
        if (s->heap[c]->eligible_at >= h->eligible_at)
            break;
        heap_set(s, i, s->heap[c]);
        i = c;
        s->steps++;
    }
    heap_set(s, i, h);
}

static void heap_remove(struct fetch__sched *s, struct fetch__host *h)
{
    size_t i = h->heap_at;
    struct fetch__host *last = s->heap[--s->heap_len];
    h->in_heap = 0;
    if (last == h)
        return;
    heap_set(s, i, last);
    sift_up(s, i);
    sift_down(s, last->heap_at);
}

/* ---- hosts ---- */

/* May host h start a request now (time aside)? */
static int can_start(const struct fetch__sched *s, const struct fetch__host *h)
{
    return h->queued && !h->in_heap &&
           (!s->per_host || h->running < s->per_host);
}

/* Put h on the ready list, or take it off, as its state says, and keep
   the sum of what the ready hosts may start. */
static void update(struct fetch__sched *s, struct fetch__host *h)
{
    int ready = can_start(s, h);
    size_t n = 0;
    if (ready) {
        n = h->queued;
        if (s->per_host && s->per_host - h->running < n)
            n = s->per_host - h->running;
    }
    s->startable = s->startable - h->startable + n;
    h->startable = n;
    if (ready && !h->in_ready)
        TAILQ_INSERT_TAIL(&s->ready, h, ready_link);
    else if (!ready && h->in_ready)
        TAILQ_REMOVE(&s->ready, h, ready_link);
    h->in_ready = ready;
}

/* A host with nothing queued, running or pending is forgotten. */
static void maybe_free(struct fetch__sched *s, struct fetch__host *h)
{
    if (h->queued || h->running || h->in_heap)
        return;
    if (h->in_ready)
        TAILQ_REMOVE(&s->ready, h, ready_link);
    s->startable -= h->startable;
    tdelete(h, &s->tree, host_cmp);
    s->hosts--;
    free(h);
}

static struct fetch__host *host_of(struct fetch__sched *s, const char *key)
{
    struct fetch__host probe = {.key = key}, *h, **found;
    if ((found = tfind(&probe, &s->tree, host_cmp)))
        return *found;
    size_t len = strlen(key);
    if (!(h = malloc(sizeof *h + len + 1)))
        return NULL;
    h->key = memcpy(h + 1, key, len + 1);
    if (!tsearch(h, &s->tree, host_cmp)) {
        free(h);
        return NULL;
    }
    h->queued = h->running = h->startable = 0;
    h->in_heap = h->in_ready = 0;
    TAILQ_INIT(&h->waiting);
    s->hosts++;
    return h;
}

int fetch__sched_push(struct fetch__sched *s, struct fetch__qnode *n,
                      const char *key)
{
    struct fetch__host *h = host_of(s, key);
    if (!h)
        return -1;
    n->host = h;
    TAILQ_INSERT_TAIL(&h->waiting, n, link);
    h->queued++;
    s->queued++;
    update(s, h);
    return 0;
}

void fetch__sched_remove(struct fetch__sched *s, struct fetch__qnode *n)
{
    struct fetch__host *h = n->host;
    TAILQ_REMOVE(&h->waiting, n, link);
    h->queued--;
    s->queued--;
    n->host = NULL;
    update(s, h);
    maybe_free(s, h);
}

struct fetch__qnode *fetch__sched_next(struct fetch__sched *s, double now)
{
    struct fetch__host *h;
    struct fetch__qnode *n;
    /* hosts whose time has come are eligible again */
    while (s->heap_len && s->heap[0]->eligible_at <= now) {
        h = s->heap[0];
        heap_remove(s, h);
        update(s, h);
        maybe_free(s, h);
    }
    if (s->running >= s->limit || !(h = TAILQ_FIRST(&s->ready)))
        return NULL;
    n = TAILQ_FIRST(&h->waiting);
    TAILQ_REMOVE(&h->waiting, n, link);
    h->queued--;
    s->queued--;
    h->running++;
    s->running++;
    /* its turn is over: to the back of the line, if it may go on */
    TAILQ_REMOVE(&s->ready, h, ready_link);
    h->in_ready = 0;
    update(s, h);
    return n;
}

void fetch__sched_done(struct fetch__sched *s, struct fetch__qnode *n)
{
    struct fetch__host *h = n->host;
    n->host = NULL;
    h->running--;
    s->running--;
    update(s, h);
    maybe_free(s, h);
}

void fetch__sched_defer(struct fetch__sched *s, struct fetch__qnode *n,
                        double until)
{
    struct fetch__host *h = n->host;
    if (h->in_heap) {
        if (until <= h->eligible_at)
            return; /* the later of two waits holds */
        h->eligible_at = until;
        sift_down(s, h->heap_at);
        return;
    }
    if (s->heap_len == s->heap_cap) {
        size_t cap = s->heap_cap ? 2 * s->heap_cap : 16;
        struct fetch__host **heap = realloc(s->heap, cap * sizeof *heap);
        if (!heap)
            return; /* no wait then: better than losing the host */
        s->heap = heap;
        s->heap_cap = cap;
    }
    h->eligible_at = until;
    h->in_heap = 1;
    heap_set(s, s->heap_len++, h);
    sift_up(s, h->heap_at);
    update(s, h);
}

size_t fetch__sched_idle(const struct fetch__sched *s)
{
    size_t free = s->running < s->limit ? s->limit - s->running : 0;
    return free > s->startable ? free - s->startable : 0;
}

double fetch__sched_wake_at(const struct fetch__sched *s)
{
    return s->heap_len ? s->heap[0]->eligible_at : -1;
}
