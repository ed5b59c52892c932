/* SPDX-License-Identifier: MIT */
/*
 * --rate, --host-rate, --delay and --per-host across every worker of a
 * queue: Redis hands out the start times and the slots, so that they hold
 * however many workers fetch from one host. Each rate is a GCRA schedule in
 * Redis (the time the next start is due: one key per host, one for the whole
 * queue); a worker leases a few start times at once (what half a second of the
 * rate allows, no more than it has URLs waiting for that host), and starts
 * each request at its time, on a timer. Redis is asked once per lease, not
 * once per request. A lease that goes unused (its worker died) is time
 * lost, never a start too many; a start is early or late by at most the
 * lease's round trip to Redis.
 *
 * --per-host N: a host's slots are members of a sorted set in Redis, each
 * scored with the time its lease runs out; a worker takes as many as it
 * has requests waiting for (while fewer than N are held in all), keeps a
 * slot for the host's next request, gives it back when it has none, and
 * renews what it holds every tick. A dead worker's slots run out after
 * --claim-idle, so its host is not held up for longer.
 *
 * A host is what the library schedules as one (fetch_host_key(): scheme,
 * host and port), so that --per-host and the rates mean one thing in both
 * modes.
 */
#define _DEFAULT_SOURCE /* random */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "../common/message.h"
#include "../common/util.h"
#include "cluster.h"

#define BUCKETS 4096

typedef struct waiting {
    void *item;
    TAILQ_ENTRY(waiting) link;
} waiting;

typedef struct gate_host {
    hostgate *g;
    char *name;
    TAILQ_HEAD(, waiting) queue;
    size_t queued;
    double *starts; /* leased start times (monotonic), in order */
    size_t n_starts, next_start;
    int leasing;
    char **slots;         /* --per-host: the slots leased (their members) */
    size_t n_slots, busy; /* ... and how many carry a request */
    int acquiring;
    struct event *timer;
    struct gate_host *next; /* in its bucket */
} host;

struct hostgate {
    struct event_base *base;
    rconn *rc;
    const rqueue *q;
    double host_interval, all_interval; /* seconds between starts; 0 */
    int random_delay;                   /* host_interval x 0.5-1.5 */
    int timed;                          /* either interval is set */
    int per_host;                       /* --per-host over all, or 0 */
    double slot_ttl;                    /* seconds a slot lease lasts */
    const char *holder;                 /* the worker's name */
    void (*start)(void *item, void *arg);
    void *arg;
    size_t waiting; /* in every host's queue */
    host *buckets[BUCKETS];
};

hostgate *hostgate_new(struct event_base *base, rconn *rc, const rqueue *q,
                       const fetch_options *fo, const char *holder,
                       double slot_ttl, void (*start)(void *item, void *arg),
                       void *arg)
{
    double host_interval = 0;
    if (fo->host_rate > 0)
        host_interval = 1 / fo->host_rate;
    if (fo->host_delay > host_interval)
        host_interval = fo->host_delay;
    if (!host_interval && !(fo->rate > 0) && !fo->max_per_host)
        return NULL; /* nothing to share */
    hostgate *g = calloc(1, sizeof *g);
    if (!g)
        fatal("out of memory");
    g->base = base;
    g->rc = rc;
    g->q = q;
    g->host_interval = host_interval;
    g->random_delay = fo->random_delay && fo->host_delay > 0;
    g->all_interval = fo->rate > 0 ? 1 / fo->rate : 0;
    g->timed = host_interval > 0 || g->all_interval > 0;
    g->per_host = fo->max_per_host;
    g->slot_ttl = slot_ttl;
    g->holder = holder;
    g->start = start;
    g->arg = arg;
    return g;
}

static host *find(hostgate *g, const char *name)
{
    host **b = &g->buckets[fnv1a32(name, strlen(name)) % BUCKETS], *x;
    for (x = *b; x; x = x->next)
        if (!strcmp(x->name, name))
            return x;
    if (!(x = calloc(1, sizeof *x)) || !(x->name = strdup(name)))
        fatal("out of memory");
    x->g = g;
    TAILQ_INIT(&x->queue);
    x->next = *b;
    *b = x;
    return x;
}

static void lease(host *h);

static void arm(host *h, double at)
{
    double d = at - monotonic();
    if (d < 0)
        d = 0;
    struct timeval tv = seconds_tv(d);
    evtimer_add(h->timer, &tv);
}

static void acquire(host *h);
static void release_spare(host *h);

/* A start time is due (or none is needed). */
static int due(const host *h, double now)
{
    return !h->g->timed ||
           (h->next_start < h->n_starts && h->starts[h->next_start] <= now);
}

/* Start what has its time and a slot; then wait for the next leased
   time, or lease more times or slots. */
static void run_host(host *h)
{
    hostgate *g = h->g;
    double now = monotonic();
    while (h->queued && (!g->per_host || h->busy < h->n_slots) && due(h, now)) {
        waiting *w = TAILQ_FIRST(&h->queue);
        TAILQ_REMOVE(&h->queue, w, link);
        h->queued--;
        g->waiting--;
        if (g->timed)
            h->next_start++;
        if (g->per_host)
            h->busy++;
        g->start(w->item, g->arg);
        free(w);
    }
    if (!h->queued) {
        release_spare(h);
        return;
    }
    if (g->per_host && h->busy >= h->n_slots) {
        acquire(h); /* the slots first: times would run out meanwhile */
        return;
    }
    if (h->next_start < h->n_starts)
        arm(h, h->starts[h->next_start]);
    else
        lease(h);
}

static void on_timer(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd;
    (void)ev;
    run_host(arg);
}

static void on_lease(redisAsyncContext *ac, void *reply, void *arg)
{
    host *h = arg;
    redisReply *r = reply;
    (void)ac;
    rconn_replied(h->g->rc);
    h->leasing = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return; /* down: hostgate_kick() leases again */
    double now = monotonic();
    free(h->starts);
    if (!(h->starts = calloc(r->elements ? r->elements : 1, sizeof *h->starts)))
        fatal("out of memory");
    for (size_t i = 0; i < r->elements; i++)
        h->starts[i] = now + strtod(r->element[i]->str, NULL) / 1000;
    h->n_starts = r->elements;
    h->next_start = 0;
    run_host(h);
}

/* Ask Redis for the next start times of this host's waiting requests. */
static void lease(host *h)
{
    hostgate *g = h->g;
    double interval =
        g->host_interval > g->all_interval ? g->host_interval : g->all_interval;
    size_t k = (size_t)(0.5 / interval) + 1;
    if (k > h->queued)
        k = h->queued;
    if (k > 64)
        k = 64;
    if (h->leasing || !k)
        return;
    double hi = g->host_interval;
    if (g->random_delay)
        hi *= 0.5 + (double)random() / RAND_MAX;
    char key[1024], all[320], n[24], ih[32], ia[32];
    snprintf(key, sizeof key, "{%s}:host:%s", g->q->name, h->name);
    snprintf(all, sizeof all, "{%s}:rate", g->q->name);
    snprintf(n, sizeof n, "%zu", k);
    snprintf(ih, sizeof ih, "%.3f", hi * 1000);
    snprintf(ia, sizeof ia, "%.3f", g->all_interval * 1000);
    const char *argv[] = {"2", key, all, n, ih, ia};
    if (rconn_script(g->rc, SCRIPT_LEASE, on_lease, h, 0, 6, argv, NULL) == 0)
        h->leasing = 1;
}

static void slot_key(const host *h, char *key, size_t len)
{
    snprintf(key, len, "{%s}:slots:%s", h->g->q->name, h->name);
}

static void on_acquired(redisAsyncContext *ac, void *reply, void *arg)
{
    host *h = arg;
    redisReply *r = reply;
    (void)ac;
    rconn_replied(h->g->rc);
    h->acquiring = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return; /* down: hostgate_kick() asks again */
    char **s = realloc(h->slots, (h->n_slots + r->elements + 1) * sizeof *s);
    if (!s)
        fatal("out of memory");
    h->slots = s;
    for (size_t i = 0; i < r->elements; i++)
        if (!(h->slots[h->n_slots++] = strdup(r->element[i]->str)))
            fatal("out of memory");
    if (r->elements)
        run_host(h);
    else /* all held by other workers: ask again soon */
        arm(h, monotonic() + 0.05 + 0.1 * (double)random() / RAND_MAX);
}

/* Ask Redis for slots for this host's waiting requests. */
static void acquire(host *h)
{
    hostgate *g = h->g;
    size_t want = h->queued;
    if ((size_t)g->per_host - h->n_slots < want)
        want = (size_t)g->per_host - h->n_slots;
    if (h->acquiring || !want || evtimer_pending(h->timer, NULL))
        return;
    char key[1024], seq[320], limit[24], n[24], ttl[32];
    slot_key(h, key, sizeof key);
    snprintf(seq, sizeof seq, "{%s}:slotseq", g->q->name);
    snprintf(limit, sizeof limit, "%d", g->per_host);
    snprintf(n, sizeof n, "%zu", want);
    snprintf(ttl, sizeof ttl, "%.0f", g->slot_ttl * 1000);
    const char *argv[] = {"2", key, seq, limit, g->holder, n, ttl};
    if (rconn_script(g->rc, SCRIPT_ACQUIRE, on_acquired, h, 0, 7, argv, NULL) ==
        0)
        h->acquiring = 1;
}

/* Slots that carry nothing go back (if Redis cannot be told, their
   leases run out). */
static void release_spare(host *h)
{
    char key[1024];
    slot_key(h, key, sizeof key);
    while (h->n_slots > h->busy) {
        char *m = h->slots[--h->n_slots];
        const char *argv[] = {"ZREM", key, m};
        rconn_send(h->g->rc, 3, argv, NULL);
        free(m);
    }
}

/* The host of url, as libcurl reads it ("" when it has none). */
gate_host *hostgate_add(hostgate *g, const char *url, void *item)
{
    char name[512]; /* the library's key: --per-host counts alike */
    fetch_host_key(name, sizeof name, url);
    host *h = find(g, name);
    waiting *w = malloc(sizeof *w);
    if (!w || (!h->timer && !(h->timer = evtimer_new(g->base, on_timer, h))))
        fatal("out of memory");
    w->item = item;
    TAILQ_INSERT_TAIL(&h->queue, w, link);
    h->queued++;
    g->waiting++;
    if (h->queued == 1)
        run_host(h);
    return h;
}

void hostgate_done(hostgate *g, gate_host *h)
{
    if (!g->per_host)
        return;
    if (h->busy)
        h->busy--;
    run_host(h); /* the slot carries the host's next request, or goes */
}

void hostgate_renew(hostgate *g)
{
    size_t nkeys = 0, nargs = 0;
    if (!g || !g->per_host)
        return;
    for (size_t b = 0; b < BUCKETS; b++)
        for (host *h = g->buckets[b]; h; h = h->next)
            if (h->n_slots) {
                nkeys++;
                nargs += 1 + h->n_slots;
            }
    if (!nkeys)
        return;
    const char **argv = calloc(2 + nkeys + nargs, sizeof *argv);
    char(*keys)[1024] = calloc(nkeys, sizeof *keys);
    char nk[24], ttl[32], (*counts)[24] = calloc(nkeys, sizeof *counts);
    if (!argv || !keys || !counts)
        fatal("out of memory");
    size_t k = 0, a = 1 + nkeys;
    snprintf(nk, sizeof nk, "%zu", nkeys);
    snprintf(ttl, sizeof ttl, "%.0f", g->slot_ttl * 1000);
    argv[0] = nk;
    argv[a++] = ttl;
    for (size_t b = 0; b < BUCKETS; b++)
        for (host *h = g->buckets[b]; h; h = h->next) {
            if (!h->n_slots)
                continue;
            slot_key(h, keys[k], sizeof keys[k]);
            argv[1 + k] = keys[k];
            snprintf(counts[k], sizeof counts[k], "%zu", h->n_slots);
            argv[a++] = counts[k];
            for (size_t i = 0; i < h->n_slots; i++)
                argv[a++] = h->slots[i];
            k++;
        }
    rconn_script(g->rc, SCRIPT_RENEW, NULL, NULL, 0, (int)a, argv, NULL);
    free(argv);
    free(keys);
    free(counts);
}

size_t hostgate_waiting(const hostgate *g)
{
    return g ? g->waiting : 0;
}

void hostgate_kick(hostgate *g)
{
    for (size_t b = 0; b < BUCKETS; b++)
        for (host *h = g->buckets[b]; h; h = h->next)
            if (h->queued && !h->leasing && !h->acquiring)
                run_host(h);
}

void hostgate_free(hostgate *g)
{
    if (!g)
        return;
    for (size_t b = 0; b < BUCKETS; b++)
        while (g->buckets[b]) {
            host *h = g->buckets[b];
            g->buckets[b] = h->next;
            while (!TAILQ_EMPTY(&h->queue)) {
                waiting *w = TAILQ_FIRST(&h->queue);
                TAILQ_REMOVE(&h->queue, w, link);
                free(w);
            }
            if (h->timer)
                event_free(h->timer);
            while (h->n_slots)
                free(h->slots[--h->n_slots]);
            free(h->slots);
            free(h->starts);
            free(h->name);
            free(h);
        }
    free(g);
}
