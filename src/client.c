/* SPDX-License-Identifier: MIT */
/*
 * The client: options, its scheduler and loops, the deadline, teardown.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch-internal.h"
#include "robots.h"

static int limit_ok(double s)
{
    return fetch__seconds_ok(s) && s >= 0;
}

static void options_defaults(fetch_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->max_concurrency = 100;
    o->max_per_host = 0;
    o->loops = 1;
    o->timeout = 0;
    o->connect_timeout = 10;
    o->follow_redirects = 1;
    o->max_redirects = 10;
    o->cookies = 1;
    o->keep_headers = 1;
    o->retry_backoff = 1;
    o->retry_backoff_max = 30;
    o->retry_after_max = 300;
    o->retry_budget = 0.2;
    o->breaker_threshold = 5;
    o->breaker_pause = 1;
    o->breaker_max_pause = 60;
}

/* The retry settings, checked, and the statuses as a table. */
static int retry_options(fetch_client *c, const fetch_options *o)
{
    static const int standard[] = {408, 429, 500, 502, 503, 504};
    const int *st = o->retry_statuses ? o->retry_statuses : standard;
    size_t n = o->retry_statuses ? o->n_retry_statuses : 6;
    if (o->retries < 0 || !limit_ok(o->retry_backoff) ||
        !limit_ok(o->retry_backoff_max) || !limit_ok(o->retry_after_max) ||
        !limit_ok(o->retry_max_time) || !limit_ok(o->retry_budget) ||
        (o->n_retry_statuses && !o->retry_statuses) ||
        o->breaker_threshold < 0 || !limit_ok(o->breaker_pause) ||
        !o->breaker_pause || !limit_ok(o->breaker_max_pause) ||
        !o->breaker_max_pause || !limit_ok(o->rate) ||
        !limit_ok(o->host_rate) || !limit_ok(o->host_delay))
        return FETCH_E_INVAL;
    for (size_t i = 0; i < n; i++) {
        if (st[i] < 100 || st[i] > 599)
            return FETCH_E_INVAL;
        c->retry_status[st[i]] = 1;
    }
    c->retry_tokens_max =
        10 + o->retry_budget * (double)o->max_concurrency * 10;
    c->retry_tokens = 10;
    return FETCH_OK;
}

void fetch_options_init_size(fetch_options *o, size_t size)
{
    fetch_options d;
    if (!o)
        return;
    options_defaults(&d);
    d.size = size;
    memcpy(o, &d, size < sizeof d ? size : sizeof d);
}

/* CURLSHOPT_LOCKFUNC: the share is used by every loop's thread. */
static void share_lock(CURL *e, curl_lock_data data, curl_lock_access a,
                       void *arg)
{
    fetch_client *c = arg;
    (void)e;
    (void)a;
    pthread_mutex_lock(&c->share_lock[data]);
}

static void share_unlock(CURL *e, curl_lock_data data, void *arg)
{
    fetch_client *c = arg;
    (void)e;
    pthread_mutex_unlock(&c->share_lock[data]);
}

static int copy_options(fetch_client *c, const fetch_options *in)
{
    fetch_options o;
    if (!in) {
        options_defaults(&o);
    } else {
        /* a program built with an older header passes a shorter struct */
        if (in->size < offsetof(fetch_options, max_concurrency) + sizeof(int))
            return FETCH_E_INVAL;
        options_defaults(&o);
        memcpy(&o, in, in->size < sizeof o ? in->size : sizeof o);
    }
    /* every string option, copied so the caller may free its own */
    const char **fields[] = {
        &c->opts.user_agent, &c->opts.accept_encoding, &c->opts.cookie_jar,
        &c->opts.ca_file,    &c->opts.ca_path,         &c->opts.client_cert,
        &c->opts.client_key, &c->opts.proxy,           &c->opts.cookie_file};
    _Static_assert(sizeof fields / sizeof fields[0] ==
                       sizeof c->strs / sizeof c->strs[0],
                   "one owned copy per string option");
    if (o.max_concurrency < 1 || o.max_per_host < 0 || o.loops < 0 ||
        o.loops > FETCH__MAX_LOOPS || !limit_ok(o.timeout) ||
        !limit_ok(o.connect_timeout) || o.max_redirects < 0 ||
        (o.n_headers && !o.headers) ||
        (o.user_agent && !fetch__one_line(o.user_agent)) ||
        (o.accept_encoding && !fetch__one_line(o.accept_encoding)) ||
        (o.cookie_file && (!o.cookies || access(o.cookie_file, R_OK) != 0)))
        return FETCH_E_INVAL;
    for (size_t i = 0; i < o.n_headers; i++)
        if (!fetch__header_ok(o.headers[i]))
            return FETCH_E_INVAL;
    if (retry_options(c, &o) != FETCH_OK)
        return FETCH_E_INVAL;
    c->opts = o;
    c->opts.headers = NULL;
    c->opts.n_headers = 0;
    c->opts.retry_statuses = NULL; /* kept in retry_status[] */
    c->opts.n_retry_statuses = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (*fields[i] && !(c->strs[i] = strdup(*fields[i])))
            return FETCH_E_NOMEM;
        *fields[i] = c->strs[i];
    }
    for (size_t i = 0; i < o.n_headers; i++)
        if (fetch__slist_append(&c->headers, o.headers[i]) != 0)
            return FETCH_E_NOMEM;
    /* the variables libcurl would read on every transfer */
    const char *proxy_vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                                "all_proxy",  "ALL_PROXY",   "no_proxy",
                                "NO_PROXY"};
    for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++) {
        const char *v = getenv(proxy_vars[i]);
        c->env_proxy |= v && *v;
    }
    return FETCH_OK;
}

/* Cookies for every request; over several loops also the DNS cache and
   TLS sessions, which one multi handle shares by itself. */
static int make_share(fetch_client *c)
{
    if (!c->opts.cookies && !c->threaded)
        return FETCH_OK;
    if (!(c->share = curl_share_init()))
        return FETCH_E_NOMEM;
    if (c->opts.cookies)
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
    if (c->threaded) {
        for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
            pthread_mutex_init(&c->share_lock[i], NULL);
        curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(c->share, CURLSHOPT_SHARE,
                          CURL_LOCK_DATA_SSL_SESSION);
    }
    return FETCH_OK;
}

/* The cookie file is read once, into the jar the share holds. */
static int load_cookies(fetch_client *c)
{
    struct fetch__handle *h;
    if (!c->opts.cookie_file)
        return FETCH_OK;
    if (!(h = fetch__handle_new(c)))
        return FETCH_E_NOMEM;
    curl_easy_setopt(h->easy, CURLOPT_COOKIEFILE, c->opts.cookie_file);
    curl_easy_setopt(h->easy, CURLOPT_COOKIELIST, "RELOAD");
    fetch__handle_free(h);
    return FETCH_OK;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

/* Nothing process-wide but libcurl's own init: every handle has
   CURLOPT_NOSIGNAL, and libcurl sends with MSG_NOSIGNAL (its TLS layer
   too), so that a peer closing on us raises no SIGPIPE. */
static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void destroy(fetch_client *c);

fetch_client *fetch_client_new(const fetch_options *opts,
                               struct event_base *base, int *err)
{
    fetch_client *c;
    int rc = FETCH_E_NOMEM;

    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        goto fail_early;
    if (!(c = calloc(1, sizeof *c)))
        goto fail_early;
    c->destroy = destroy;
    pthread_mutex_init(&c->lock, NULL);
    TAILQ_INIT(&c->tasks);
    TAILQ_INIT(&c->unfinished);
    TAILQ_INIT(&c->completed);
    TAILQ_INIT(&c->doomed);
    TAILQ_INIT(&c->outbox);
    c->pipe[0] = c->pipe[1] = -1;
    if ((rc = copy_options(c, opts)) != FETCH_OK)
        goto fail;
    fetch__sched_init(&c->sched, (size_t)c->opts.max_concurrency,
                      (size_t)c->opts.max_per_host);
    c->sched.rate = c->opts.rate;
    c->sched.host_rate = c->opts.host_rate;
    c->sched.host_delay = c->opts.host_delay;
    /* robots.txt groups are chosen by the user agent's product token */
    if (!fetch__robots_token(c->opts.user_agent ? c->opts.user_agent
                                                : FETCH_USER_AGENT,
                             c->robots_agent, sizeof c->robots_agent))
        snprintf(c->robots_agent, sizeof c->robots_agent, "libfetch");
    c->sched.delay_jitter = c->opts.random_delay;
    c->sched.breaker = (unsigned)c->opts.breaker_threshold;
    c->sched.breaker_pause = c->opts.breaker_pause;
    c->sched.breaker_max = c->opts.breaker_max_pause;
    c->sched.first_alone = 1; /* the loops tell it of connections up */
    /* jitter differs from run to run */
    c->sched.rng ^= (unsigned long)(fetch__now() * 1e9) ^ (unsigned long)c;
    c->wake_at = -1;
    rc = FETCH_E_NOMEM;
    if (base) {
        c->base = base;
    } else {
        if (!(c->base = fetch__base_new()))
            goto fail;
        c->own_base = 1;
    }
    /* the loops first: whether they are threads decides the rest */
    if ((rc = fetch__loops_start(c)) != FETCH_OK ||
        (rc = make_share(c)) != FETCH_OK ||
        (rc = load_cookies(c)) != FETCH_OK ||
        (rc = fetch__task_home_init(c)) != FETCH_OK)
        goto fail;
    if (err)
        *err = FETCH_OK;
    return c;
fail:
    destroy(c);
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
    if (!c)
        return 0;
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
    if (!c || !limit_ok(seconds))
        return FETCH_E_INVAL;
    if (!c->deadline && !(c->deadline = evtimer_new(c->base, on_deadline, c)))
        return FETCH_E_NOMEM;
    evtimer_del(c->deadline);
    c->deadline_passed = 0;
    c->deadline_s = seconds;
    c->deadline_at = seconds > 0 ? fetch__now() + seconds : 0;
    if (seconds > 0) {
        struct timeval tv;
        fetch__timeval(&tv, seconds);
        evtimer_add(c->deadline, &tv);
    }
    return FETCH_OK;
}

void fetch_client_free(fetch_client *c)
{
    if (!c)
        return;
    if (c->depth > 0) { /* inside a callback: hiredis' deferred free */
        c->free_pending = 1;
        fetch__lock(c);
        c->closing = 1; /* the loops dispatch no more */
        fetch__unlock(c);
        return;
    }
    destroy(c);
}

static void destroy(fetch_client *c)
{
    fetch_task *t;
    fetch__lock(c);
    c->closing = 1;
    fetch__unlock(c);
    c->destroying = 1;
    c->free_pending = 0;
    c->depth++; /* a callback that frees the client again changes nothing */
    /* Take the first each time: a callback may free or cancel any task. */
    while ((t = TAILQ_FIRST(&c->tasks))) {
        TAILQ_REMOVE(&c->tasks, t, all_link);
        c->ntasks--;
        fetch__completed_remove(c, t);
        if (t->done)
            t->client = NULL;
        else /* detaches t before its callback runs */
            fetch__task_finish(t, FETCH_E_CANCELLED, CURLE_OK, NULL);
    }
    if (c->share && c->opts.cookie_jar)
        save_cookies(c);
    /* the loops stop what they still carry and hand it back */
    if (c->loops)
        fetch__loops_stop(c);
    fetch__task_home_free(c);
    if (c->share)
        curl_share_cleanup(c->share); /* every easy handle is gone */
    if (c->share && c->threaded)
        for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
            pthread_mutex_destroy(&c->share_lock[i]);
    if (c->deadline)
        event_free(c->deadline);
    fetch__sched_free(&c->sched);
    fetch__robots_cache_free(&c->robots);
    curl_slist_free_all(c->headers);
    for (size_t i = 0; i < sizeof c->strs / sizeof c->strs[0]; i++)
        free(c->strs[i]);
    if (c->own_base && c->base)
        event_base_free(c->base);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

struct event_base *fetch_client_base(const fetch_client *c)
{
    return c ? c->base : NULL;
}

void fetch_client_stats_size(const fetch_client *c, fetch_stats *out,
                             size_t size)
{
    fetch_stats s = {.size = size};
    fetch_client *m = (fetch_client *)c; /* the lock only */
    if (!out)
        return;
    if (!c) { /* nothing at all */
        memcpy(out, &s, size < sizeof s ? size : sizeof s);
        return;
    }
    s.tasks = c->ntasks;
    s.finished = c->finished;
    s.loops = c->nloops;
    /* as the caller sees them: a loop may hold a cancelled transfer's
       slot a moment longer, until it has taken it out of libcurl */
    fetch__lock(m);
    s.queued = c->sched.queued + c->sched.later_n;
    s.retrying = c->sched.later_n;
    s.hosts_paused = c->sched.paused;
    s.idle_slots = fetch__sched_idle(&c->sched);
    fetch__unlock(m);
    s.retries = c->retries_made;
    s.running = c->nunfinished - c->ndoomed - s.queued;
    fetch__loops_count(m, &s.sockets, &s.timers);
    s.timers += (size_t)evtimer_pending(c->sched_timer, NULL);
    if (c->deadline)
        s.timers += (size_t)evtimer_pending(c->deadline, NULL);
    memcpy(out, &s, size < sizeof s ? size : sizeof s);
}
