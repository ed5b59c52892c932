/*
 * The client: options, lifecycle, and the admission queue that plays the
 * part of asyncio.Semaphore. Requests wait here, not in libcurl, and become
 * easy handles only when they may start.
 */
#define _GNU_SOURCE /* tdestroy */
#include <pthread.h>
#include <search.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fetch-internal.h"

void fetch_options_init(fetch_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_concurrency = 100;
    o->max_per_host = 0;
    o->timeout = 0;
    o->connect_timeout = 10;
    o->follow_redirects = 1;
    o->max_redirects = 10;
    o->cookies = 1;
    o->keep_headers = 1;
}

/* curl_slist_append, keeping the list whole when it fails */
int fetch__slist_append(struct curl_slist **list, const char *s)
{
    struct curl_slist *l = curl_slist_append(*list, s);
    if (!l)
        return -1;
    *list = l;
    return 0;
}

static int copy_options(fetch_client *c, const fetch_options *o)
{
    /* every string option, copied so the caller may free its own */
    const char **fields[] = {&c->opts.user_agent, &c->opts.accept_encoding,
                             &c->opts.cookie_jar, &c->opts.ca_file,
                             &c->opts.ca_path,    &c->opts.client_cert,
                             &c->opts.client_key, &c->opts.proxy};
    _Static_assert(sizeof fields / sizeof fields[0] ==
                       sizeof c->strs / sizeof c->strs[0],
                   "one owned copy per string option");
    if (o->max_concurrency < 1 || o->max_per_host < 0 ||
        !fetch__seconds_ok(o->timeout) || o->timeout < 0 ||
        !fetch__seconds_ok(o->connect_timeout) || o->connect_timeout < 0 ||
        o->max_redirects < 0 || (o->n_headers && !o->headers) ||
        (o->user_agent && !fetch__one_line(o->user_agent)) ||
        (o->accept_encoding && !fetch__one_line(o->accept_encoding)))
        return FETCH_E_INVAL;
    for (size_t i = 0; i < o->n_headers; i++)
        if (!fetch__header_ok(o->headers[i]))
            return FETCH_E_INVAL;
    c->opts = *o;
    c->opts.headers = NULL;
    c->opts.n_headers = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (*fields[i] && !(c->strs[i] = strdup(*fields[i])))
            return FETCH_E_NOMEM;
        *fields[i] = c->strs[i];
    }
    if (o->trace)
        c->trace = *o->trace;
    c->opts.trace = o->trace ? &c->trace : NULL;
    for (size_t i = 0; i < o->n_headers; i++)
        if (fetch__slist_append(&c->headers, o->headers[i]) != 0)
            return FETCH_E_NOMEM;
    /* the variables libcurl would read on every transfer */
    const char *proxy_vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                                "all_proxy",  "ALL_PROXY",   "no_proxy",
                                "NO_PROXY"};
    for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++) {
        const char *v = getenv(proxy_vars[i]);
        c->env_proxy |= v && *v;
    }
    if (o->cookies) {
        if (!(c->share = curl_share_init()))
            return FETCH_E_NOMEM;
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
    }
    return FETCH_OK;
}

static void on_kick(evutil_socket_t fd, short ev, void *arg)
{
    fetch_client *c = arg;
    fetch_task *t;
    (void)fd;
    (void)ev;
    fetch__enter(c);
    while ((t = TAILQ_FIRST(&c->doomed)))
        fetch__task_finish(t, t->resp.error, CURLE_OK, t->message);
    fetch__loop_process(c);
    fetch__leave(c);
}

/* Ask for admission on the next loop turn (never from inside the caller). */
void fetch__client_kick(fetch_client *c)
{
    if (!c->closing && !event_pending(c->kick, EV_TIMEOUT, NULL))
        event_active(c->kick, EV_TIMEOUT, 0);
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    /* NOSIGNAL is set on every handle; a peer closing on us must not kill
       the process either */
    signal(SIGPIPE, SIG_IGN);
}

fetch_client *fetch_client_new(const fetch_options *opts,
                               struct event_base *base, int *err)
{
    fetch_options defaults;
    fetch_client *c;
    int rc = FETCH_E_NOMEM;

    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        goto fail_early;
    if (!opts) {
        fetch_options_init(&defaults);
        opts = &defaults;
    }
    c = calloc(1, sizeof *c);
    if (!c)
        goto fail_early;
    TAILQ_INIT(&c->tasks);
    TAILQ_INIT(&c->unfinished);
    TAILQ_INIT(&c->completed);
    TAILQ_INIT(&c->queue);
    TAILQ_INIT(&c->doomed);
    TAILQ_INIT(&c->ready_hosts);
    TAILQ_INIT(&c->socks);
    if ((rc = copy_options(c, opts)) != FETCH_OK)
        goto fail;
    rc = FETCH_E_NOMEM;
    if (base) {
        c->base = base;
    } else {
        struct event_config *cfg = event_config_new();
        if (!cfg)
            goto fail;
        /* one thread per client: no locks; merge libcurl's remove/add churn */
        event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK |
                                       EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
        c->base = event_base_new_with_config(cfg);
        event_config_free(cfg);
        if (!c->base)
            goto fail;
        c->own_base = 1;
    }
    c->pool = calloc((size_t)c->opts.max_concurrency, sizeof *c->pool);
    c->kick = event_new(c->base, -1, 0, on_kick, c);
    if (!c->pool || !c->kick)
        goto fail;
    if ((rc = fetch__loop_init(c)) != FETCH_OK)
        goto fail;
    if (err)
        *err = FETCH_OK;
    return c;
fail:
    fetch_client_free(c);
fail_early:
    if (err)
        *err = rc;
    return NULL;
}

/* The cookie jar is written only when asked, once, at teardown. */
static void save_cookies(fetch_client *c)
{
    struct fetch__handle *h = fetch__handle_new(c);
    if (!h)
        return;
    curl_easy_setopt(h->easy, CURLOPT_COOKIEJAR, c->opts.cookie_jar);
    curl_easy_setopt(h->easy, CURLOPT_COOKIELIST, "FLUSH");
    fetch__handle_free(h);
}

size_t fetch_client_cancel_all(fetch_client *c)
{
    unsigned long before = c->next_seq; /* not what callbacks submit now */
    size_t n = 0;
    fetch_task *t;
    fetch__enter(c);
    while ((t = TAILQ_FIRST(&c->unfinished)) && t->seq < before) {
        fetch__task_finish(t, FETCH_E_CANCELLED, CURLE_OK, NULL);
        n++;
    }
    fetch__leave(c);
    return n;
}

static void on_deadline(evutil_socket_t fd, short ev, void *arg)
{
    fetch_client *c = arg;
    fetch_task *t;
    (void)fd;
    (void)ev;
    c->deadline_passed = 1;
    fetch__enter(c);
    /* what callbacks submit meanwhile ends too: it is past the deadline */
    while ((t = TAILQ_FIRST(&c->unfinished)))
        fetch__task_expire(t, "deadline", c->deadline_s);
    fetch__leave(c);
}

int fetch_client_set_deadline(fetch_client *c, double seconds)
{
    if (!c || !fetch__seconds_ok(seconds) || seconds < 0)
        return FETCH_E_INVAL;
    if (!c->deadline && !(c->deadline = evtimer_new(c->base, on_deadline, c)))
        return FETCH_E_NOMEM;
    evtimer_del(c->deadline);
    c->deadline_passed = 0;
    c->deadline_s = seconds;
    if (seconds > 0) {
        struct timeval tv;
        fetch__timeval(&tv, seconds);
        evtimer_add(c->deadline, &tv);
    }
    return FETCH_OK;
}

/* A libfetch frame that may run the caller's callbacks begins ... */
void fetch__enter(fetch_client *c)
{
    c->depth++;
}

static void destroy(fetch_client *c);

/* ... and ends; the last one carries out a fetch_client_free() that a
   callback asked for. Returns 1 when the client is gone. */
int fetch__leave(fetch_client *c)
{
    if (--c->depth > 0 || !c->free_pending)
        return 0;
    destroy(c);
    return 1;
}

void fetch_client_free(fetch_client *c)
{
    if (!c)
        return;
    if (c->depth > 0) { /* inside a callback: hiredis' deferred free */
        c->free_pending = 1;
        c->closing = 1;
        return;
    }
    destroy(c);
}

static void destroy(fetch_client *c)
{
    fetch_task *t;
    c->closing = c->destroying = 1;
    c->free_pending = 0;
    c->depth++; /* a callback that frees the client again changes nothing */
    /* Take the first each time: a callback may free or cancel any task. */
    while ((t = TAILQ_FIRST(&c->tasks))) {
        TAILQ_REMOVE(&c->tasks, t, all_link);
        c->ntasks--;
        fetch__completed_remove(c, t);
        if (t->state == FETCH__DONE)
            t->client = NULL;
        else /* detaches t before its callback runs */
            fetch__task_finish(t, FETCH_E_CANCELLED, CURLE_OK, NULL);
    }
    if (c->share && c->opts.cookie_jar)
        save_cookies(c);
    while (c->pool_len)
        fetch__handle_free(c->pool[--c->pool_len]);
    fetch__loop_free(c); /* every easy handle is gone: the share is free */
    if (c->share)
        curl_share_cleanup(c->share);
    if (c->kick)
        event_free(c->kick);
    if (c->deadline)
        event_free(c->deadline);
    tdestroy(c->hosts, free); /* empty by now: every task has ended */
    free(c->pool);
    curl_slist_free_all(c->headers);
    for (size_t i = 0; i < sizeof c->strs / sizeof c->strs[0]; i++)
        free(c->strs[i]);
    if (c->own_base && c->base)
        event_base_free(c->base);
    free(c);
}

struct event_base *fetch_client_get_base(const fetch_client *c)
{
    return c->base;
}

void fetch_client_get_stats(const fetch_client *c, fetch_stats *s)
{
    s->tasks = c->ntasks;
    s->queued = c->queued;
    s->running = c->running;
    s->sockets = c->nsocks;
    s->finished = c->finished;
}

/* ---- per-host accounting (only when max_per_host > 0) ---- */

static int host_cmp(const void *a, const void *b)
{
    return strcmp(((const struct fetch__host *)a)->key,
                  ((const struct fetch__host *)b)->key);
}

struct fetch__host *fetch__client_host(fetch_client *c, const char *key)
{
    struct fetch__host probe = {.key = (char *)key}, *h, **found;
    found = tfind(&probe, &c->hosts, host_cmp);
    if (found) {
        (*found)->refs++;
        return *found;
    }
    h = calloc(1, sizeof *h + strlen(key) + 1);
    if (!h)
        return NULL;
    h->key = (char *)(h + 1);
    strcpy(h->key, key);
    TAILQ_INIT(&h->blocked);
    if (!tsearch(h, &c->hosts, host_cmp)) {
        free(h);
        return NULL;
    }
    h->refs = 1;
    return h;
}

static void host_unref(fetch_client *c, struct fetch__host *h)
{
    if (!h || --h->refs)
        return;
    tdelete(h, &c->hosts, host_cmp);
    free(h);
}

static void host_update_ready(fetch_client *c, struct fetch__host *h)
{
    int ready = !TAILQ_EMPTY(&h->blocked) && h->running < c->opts.max_per_host;
    if (ready && !h->in_ready)
        TAILQ_INSERT_TAIL(&c->ready_hosts, h, ready_link);
    else if (!ready && h->in_ready)
        TAILQ_REMOVE(&c->ready_hosts, h, ready_link);
    h->in_ready = ready;
}

/* ---- the queue ---- */

void fetch__client_enqueue(fetch_client *c, fetch_task *t)
{
    TAILQ_INSERT_TAIL(&c->queue, t, q_link);
    c->queued++;
    fetch__client_kick(c);
}

void fetch__client_unqueue(fetch_client *c, fetch_task *t)
{
    if (t->blocked) {
        TAILQ_REMOVE(&t->host->blocked, t, q_link);
        host_update_ready(c, t->host);
    } else {
        TAILQ_REMOVE(&c->queue, t, q_link);
    }
    c->queued--;
    host_unref(c, t->host);
    t->host = NULL;
}

/*
 * Start queued requests while slots are free. Hosts that were blocked at the
 * head of the queue go first: their tasks were submitted before anything
 * still in the main queue. Returns how many started.
 */
size_t fetch__client_admit(fetch_client *c)
{
    size_t started = 0;
    if (c->closing)
        return 0;
    while (c->running < (size_t)c->opts.max_concurrency) {
        struct fetch__host *h = TAILQ_FIRST(&c->ready_hosts);
        struct fetch__handle *hd;
        fetch_task *t;
        if (h) {
            t = TAILQ_FIRST(&h->blocked);
            TAILQ_REMOVE(&h->blocked, t, q_link);
            t->blocked = 0;
        } else if ((t = TAILQ_FIRST(&c->queue))) {
            TAILQ_REMOVE(&c->queue, t, q_link);
            h = t->host;
            if (h && h->running >= c->opts.max_per_host) {
                TAILQ_INSERT_TAIL(&h->blocked, t, q_link);
                t->blocked = 1;
                continue;
            }
        } else {
            break;
        }
        c->queued--;
        c->running++;
        if (h) {
            h->running++;
            host_update_ready(c, h);
        }
        hd = c->pool_len ? c->pool[--c->pool_len] : fetch__handle_new(c);
        fetch__task_start(t, hd); /* finishes t itself if hd is NULL */
        started++;
    }
    return started;
}

/* A running task ended: recycle its handle and free its slot. */
void fetch__client_release(fetch_client *c, fetch_task *t)
{
    struct fetch__handle *hd = t->h;
    t->h = NULL;
    if (hd) {
        curl_multi_remove_handle(c->multi, hd->easy);
        if (c->pool_len < (size_t)c->opts.max_concurrency)
            c->pool[c->pool_len++] = hd;
        else
            fetch__handle_free(hd);
    }
    c->running--;
    if (t->host) {
        t->host->running--;
        host_update_ready(c, t->host);
        host_unref(c, t->host);
        t->host = NULL;
    }
    if (c->queued)
        fetch__client_kick(c);
}
