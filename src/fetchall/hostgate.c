/*
 * --rate, --host-rate and --delay across every worker of a queue: the
 * start times are handed out by Redis, so that they hold however many
 * workers fetch from one host. Each limit is a GCRA schedule in Redis (the
 * time the next start is due: one key per host, one for the whole queue);
 * a worker leases a few start times at once (what half a second of the
 * rate allows, no more than it has URLs waiting for that host), and starts
 * each request at its time, on a timer. Redis is asked once per lease, not
 * once per request. A lease that goes unused (its worker died) is time
 * lost, never a start too many; a start is early or late by at most the
 * lease's round trip to Redis.
 */
#define _DEFAULT_SOURCE /* random */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "fetchall.h"

#define BUCKETS 4096

typedef struct waiting {
    void *item;
    TAILQ_ENTRY(waiting) link;
} waiting;

typedef struct host {
    hostgate *g;
    char *name;
    TAILQ_HEAD(, waiting) queue;
    size_t queued;
    double *starts; /* leased start times (monotonic), in order */
    size_t n_starts, next_start;
    int leasing;
    struct event *timer;
    struct host *next; /* in its bucket */
} host;

struct hostgate {
    struct event_base *base;
    rconn *rc;
    const rqueue *q;
    double host_interval, all_interval; /* seconds between starts; 0 */
    int random_delay;                   /* host_interval x 0.5-1.5 */
    void (*start)(void *item, void *arg);
    void *arg;
    size_t waiting; /* in every host's queue */
    host *buckets[BUCKETS];
};

/* KEYS host-key all-key; ARGV k host-interval-ms all-interval-ms. The
   next k start times, in ms from now, each due by both schedules. */
static const char lease_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000\n"
    "local ih, ia = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local th = ih > 0 and tonumber(redis.call('GET', KEYS[1]) or 0) or 0\n"
    "local ta = ia > 0 and tonumber(redis.call('GET', KEYS[2]) or 0) or 0\n"
    "local out = {}\n"
    "for i = 1, tonumber(ARGV[1]) do\n"
    "  local s = math.max(now, th, ta)\n"
    "  out[i] = string.format('%.3f', s - now)\n"
    "  if ih > 0 then th = s + ih end\n"
    "  if ia > 0 then ta = s + ia end\n"
    "end\n"
    "local function keep(k, v)\n"
    "  redis.call('SET', k, string.format('%.3f', v), 'PX',\n"
    "             math.ceil(v - now) + 60000)\n"
    "end\n"
    "if ih > 0 then keep(KEYS[1], th) end\n"
    "if ia > 0 then keep(KEYS[2], ta) end\n"
    "return out\n";

hostgate *hostgate_new(struct event_base *base, rconn *rc, const rqueue *q,
                       const fetch_options *fo,
                       void (*start)(void *item, void *arg), void *arg)
{
    double host_interval = 0;
    if (fo->host_rate > 0)
        host_interval = 1 / fo->host_rate;
    if (fo->host_delay > host_interval)
        host_interval = fo->host_delay;
    if (!host_interval && !(fo->rate > 0))
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
    g->start = start;
    g->arg = arg;
    return g;
}

static host *find(hostgate *g, const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    host **b = &g->buckets[h % BUCKETS], *x;
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
    struct timeval tv = {(time_t)d, (suseconds_t)((d - (time_t)d) * 1e6)};
    evtimer_add(h->timer, &tv);
}

/* Start what is due; then wait for the next leased time, or lease more. */
static void run_host(host *h)
{
    double now = monotonic();
    while (h->queued && h->next_start < h->n_starts &&
           h->starts[h->next_start] <= now) {
        waiting *w = TAILQ_FIRST(&h->queue);
        TAILQ_REMOVE(&h->queue, w, link);
        h->queued--;
        h->g->waiting--;
        h->next_start++;
        h->g->start(w->item, h->g->arg);
        free(w);
    }
    if (!h->queued)
        return;
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
    char key[600], all[320], n[24], ih[32], ia[32];
    snprintf(key, sizeof key, "{%s}:host:%s", g->q->name, h->name);
    snprintf(all, sizeof all, "{%s}:rate", g->q->name);
    snprintf(n, sizeof n, "%zu", k);
    snprintf(ih, sizeof ih, "%.3f", hi * 1000);
    snprintf(ia, sizeof ia, "%.3f", g->all_interval * 1000);
    const char *argv[] = {"EVAL", lease_script, "2", key, all, n, ih, ia};
    if (rconn_command(g->rc, on_lease, h, 0, 8, argv, NULL) == 0)
        h->leasing = 1;
}

/* The host of url, as libcurl reads it ("" when it has none). */
static void host_of(const char *url, char *out, size_t len)
{
    CURLU *u = curl_url();
    char *name = NULL;
    out[0] = '\0';
    if (u &&
        curl_url_set(u, CURLUPART_URL, url,
                     CURLU_DEFAULT_SCHEME | CURLU_NON_SUPPORT_SCHEME) ==
            CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &name, 0) == CURLUE_OK)
        snprintf(out, len, "%s", name);
    curl_free(name);
    curl_url_cleanup(u);
}

void hostgate_add(hostgate *g, const char *url, void *item)
{
    char name[256];
    host_of(url, name, sizeof name);
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
}

size_t hostgate_waiting(const hostgate *g)
{
    return g ? g->waiting : 0;
}

void hostgate_kick(hostgate *g)
{
    for (size_t b = 0; b < BUCKETS; b++)
        for (host *h = g->buckets[b]; h; h = h->next)
            if (h->queued && !h->leasing && h->next_start >= h->n_starts)
                lease(h);
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
            free(h->starts);
            free(h->name);
            free(h);
        }
    free(g);
}
