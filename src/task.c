/* SPDX-License-Identifier: MIT */
/*
 * Tasks, on the client's side: submission (the URL checked, the request's
 * settings resolved once, the task queued in the scheduler, behind its
 * host's robots.txt when asked), the one way a task ends
 * (fetch__task_finish), cancel and free, and the hand-offs with the loops:
 * the kick that has the scheduler start what it may, and the tasks the
 * loops hand back.
 */
#define _GNU_SOURCE /* asprintf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fetch-internal.h"
#include "robots.h"

/* ---- submission ---- */

/* Check the URL now so that a bad one is this task's result, nothing more. */
static int check_url(fetch_task *t, CURLU *u, char *detail, size_t len)
{
    char *s = NULL;
    CURLUcode uc =
        curl_url_set(u, CURLUPART_URL, t->target, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        snprintf(detail, len, "malformed URL (%s)", curl_url_strerror(uc));
        return FETCH_E_URL;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK)
        return FETCH_E_NOMEM;
    t->https = !strcmp(s, "https");
    int ok = t->https || !strcmp(s, "http");
    if (!ok)
        snprintf(detail, len, "unsupported scheme \"%s\" (only http and https)",
                 s);
    curl_free(s);
    return ok ? FETCH_OK : FETCH_E_PROTOCOL;
}

static void request_defaults(fetch_request *r)
{
    memset(r, 0, sizeof *r);
    r->size = sizeof *r;
    r->timeout = -1;
    r->follow_redirects = -1;
    r->max_body_size = -1;
    r->fail_on_http_error = -1;
    r->sink_fd = -1;
    r->retries = -1;
}

void fetch_request_init_size(fetch_request *r, size_t size)
{
    fetch_request d;
    if (!r)
        return;
    request_defaults(&d);
    d.size = size;
    memcpy(r, &d, size < sizeof d ? size : sizeof d);
}

/* The request fields that go on the wire, checked before anything is
   copied: nothing multi-line, nothing that is not a token where one is
   due, no seconds that are not a number. */
static int req_check(const fetch_request *in)
{
    if ((!!in->on_data + (in->sink_fd >= 0) + !!in->sink_path) > 1 ||
        (in->n_headers && !in->headers) ||
        (in->method && !fetch__token(in->method, strlen(in->method))) ||
        !fetch__seconds_ok(in->timeout))
        return FETCH_E_INVAL;
    for (size_t i = 0; i < in->n_headers; i++)
        if (!fetch__header_ok(in->headers[i]))
            return FETCH_E_INVAL;
    return FETCH_OK;
}

/* Does the request carry a header of the same name as "Name: value"? */
static int header_named(const fetch_request *in, const char *header)
{
    size_t len = strcspn(header, ":;");
    for (size_t i = 0; i < in->n_headers; i++)
        if (!strncasecmp(in->headers[i], header, len) &&
            strchr(":;", in->headers[i][len]) && in->headers[i][len])
            return 1;
    return 0;
}

/* May the method be sent twice (RFC 9110 9.2.2)? */
static int idempotent(const char *method)
{
    static const char *const safe[] = {"GET",    "HEAD",    "PUT",
                                       "DELETE", "OPTIONS", "TRACE"};
    if (!method)
        return 1;
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
        if (!strcmp(method, safe[i]))
            return 1;
    return 0;
}

/* A task's settings: the client's, with what the request says instead. */
static int settings(fetch_task *t, fetch_client *c, const fetch_request *in)
{
    const fetch_options *o = &c->opts;
    struct fetch__settings *s = &t->s;
    s->opts = o;
    s->headers = c->headers;
    s->timeout = o->timeout;
    s->follow_redirects = o->follow_redirects;
    s->max_redirects = o->max_redirects;
    s->max_body_size = o->max_body_size;
    s->fail_on_http_error = o->fail_on_http_error;
    s->sink_fd = -1;
    s->retries = o->retries;
    s->idempotent = 1;
    s->retry_status = c->retry_status;
    if (!in)
        return 0;
    if (in->retries >= 0)
        s->retries = in->retries;
    s->idempotent = idempotent(in->method);
    if (in->timeout >= 0)
        s->timeout = in->timeout;
    if (in->follow_redirects >= 0)
        s->follow_redirects = !!in->follow_redirects;
    if (in->max_body_size >= 0)
        s->max_body_size = (size_t)in->max_body_size;
    if (in->fail_on_http_error >= 0)
        s->fail_on_http_error = !!in->fail_on_http_error;
    s->on_data = in->on_data;
    s->data_arg = in->data_arg;
    s->on_wire = in->on_wire;
    s->wire_arg = in->wire_arg;
    s->sink_fd = in->sink_fd;
    if ((in->method && !(s->method = t->own_method = strdup(in->method))) ||
        (in->sink_path &&
         !(s->sink_path = t->own_sink_path = strdup(in->sink_path))))
        return -1;
    if (in->body) {
        if (!(t->own_body = malloc(in->body_len ? in->body_len : 1)))
            return -1;
        memcpy(t->own_body, in->body, in->body_len);
        s->body = t->own_body;
        s->body_len = in->body_len;
    }
    if (in->n_headers) { /* the client's, less those named again */
        for (const struct curl_slist *l = c->headers; l; l = l->next)
            if (!header_named(in, l->data) &&
                fetch__slist_append(&t->own_headers, l->data) != 0)
                return -1;
        for (size_t i = 0; i < in->n_headers; i++)
            if (fetch__slist_append(&t->own_headers, in->headers[i]) != 0)
                return -1;
        s->headers = t->own_headers;
    }
    s->custom = s->method || s->body || in->n_headers || s->on_wire ||
                s->follow_redirects != o->follow_redirects ||
                s->max_body_size != o->max_body_size;
    return 0;
}

/* A URL without a scheme is http://, never guessed from the host name as
   libcurl would ("ftp.example" would be ftp://). */
static char *target_of(char *url)
{
    if (fetch__scheme_len(url))
        return url;
    size_t n = strlen(url) + 8;
    char *t = malloc(n);
    if (t)
        snprintf(t, n, "http://%s", url);
    return t;
}

static void task_release(fetch_task *t)
{
    fetch__xfer_free(&t->x);
    curl_slist_free_all(t->own_headers);
    free(t->own_method);
    free(t->own_sink_path);
    free(t->own_body);
    if (t->target != t->url)
        free(t->target);
    free(t->url);
    free(t->message);
    free(t);
}

/* ---- robots.txt (fetch_options.robots; its rules: robots.c) ---- */

enum { ROBOTS_GO, ROBOTS_WAIT, ROBOTS_FETCH, ROBOTS_NO };

static fetch_task *task_of(struct fetch__qnode *q);

/* The path and query of t's URL as sent ("/a?b"), malloc'd, or NULL. */
static char *path_of(const fetch_task *t)
{
    CURLU *u = curl_url();
    char *path = NULL, *query = NULL, *out = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, t->target, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_QUERY, &query, 0);
        if (asprintf(&out, "%s%s%s", path, query ? "?" : "",
                     query ? query : "") < 0)
            out = NULL;
    }
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return out;
}

/* Under the lock: what host key's robots.txt says of t, as far as it is
   known (a fetch begins when it is not, or is older than a day). */
static int robots_say(fetch_client *c, const fetch_task *t, const char *key,
                      double *delay)
{
    struct fetch__robots_entry *e = fetch__robots_entry(&c->robots, key, 1);
    if (!e)
        return ROBOTS_NO; /* out of memory: not a reason to fetch it */
    if (e->pending)
        return ROBOTS_WAIT;
    if (!e->rules || fetch__now() - e->fetched > 24 * 3600) {
        e->pending = 1;
        return ROBOTS_FETCH;
    }
    char *path = path_of(t);
    int ok = path && fetch__robots_allowed(e->rules, path);
    free(path);
    *delay = fetch__robots_delay(e->rules);
    return ok ? ROBOTS_GO : ROBOTS_NO;
}

/* t ends without being requested: robots.txt says no. Under the lock. */
static void robots_refuse(fetch_client *c, fetch_task *t, const char *key)
{
    t->state = FETCH__DOOMED;
    t->resp.error = FETCH_E_ROBOTS;
    free(t->message);
    if (asprintf(&t->message, "disallowed by robots.txt (%s/robots.txt)", key) <
        0)
        t->message = NULL;
    TAILQ_INSERT_TAIL(&c->doomed, t, m_link);
    c->ndoomed++;
}

/* A host's robots.txt is known (rules; NULL: out of memory): its requests
   held at the gate go on, in their order, or end, each as it says. */
static void robots_known(fetch_client *c, const char *key,
                         struct fetch__robots *rules)
{
    struct fetch__qlist out = TAILQ_HEAD_INITIALIZER(out);
    struct fetch__qnode *q;
    fetch__lock(c);
    struct fetch__robots_entry *e = fetch__robots_entry(&c->robots, key, 1);
    if (e) {
        fetch__robots_free(e->rules);
        e->rules = rules;
        e->fetched = fetch__now();
        e->pending = 0;
    }
    fetch__sched_drain(&c->sched, key, &out);
    while ((q = TAILQ_FIRST(&out))) {
        fetch_task *d = task_of(q);
        char *path = rules ? path_of(d) : NULL;
        int ok = path && fetch__robots_allowed(rules, path);
        free(path);
        TAILQ_REMOVE(&out, q, link);
        if (!ok || fetch__sched_push(&c->sched, q, key) != 0)
            robots_refuse(c, d, key);
    }
    fetch__sched_gate(&c->sched, key, 0, rules ? fetch__robots_delay(rules) : 0,
                      fetch__now());
    fetch__unlock(c);
    if (!e)
        fetch__robots_free(rules);
    fetch__kick(c);
}

/* The fetch of a host's robots.txt, under way. */
struct robots_fetch {
    char *text;
    size_t len;
    int full; /* FETCH__ROBOTS_MAX of it: the rest is not read */
    char key[];
};

/* fetch_data_cb: the first FETCH__ROBOTS_MAX bytes are kept. */
static int robots_data(fetch_task *t, const char *p, size_t n, void *arg)
{
    struct robots_fetch *f = arg;
    (void)t;
    if (!p) { /* the attempt is retried: from the start */
        f->len = 0;
        return 0;
    }
    if (n > FETCH__ROBOTS_MAX - f->len)
        n = FETCH__ROBOTS_MAX - f->len;
    char *text = realloc(f->text, f->len + n + 1);
    if (!text)
        return ENOMEM;
    f->text = text;
    memcpy(f->text + f->len, p, n);
    f->len += n;
    f->full = f->len == FETCH__ROBOTS_MAX;
    return f->full ? -1 : 0; /* enough: stopped */
}

static void robots_fetch(fetch_client *c, const char *key);

/* Its answer, as RFC 9309 2.3.1 reads it: 2xx the rules; 4xx, or
   redirects past the limit, no rules; 5xx or no answer, nothing. */
static void on_robots(fetch_task *t, void *arg)
{
    struct robots_fetch *f = arg;
    fetch_client *c = t->client;
    const fetch_response *r = &t->resp;
    int status =
        r->error == FETCH_OK || r->error == FETCH_E_HTTP ? r->status : 0;
    if (c && !c->destroying && !c->closing && r->error == FETCH_E_CANCELLED &&
        !f->full) {
        /* cancel_all or the deadline: nothing learnt, nothing kept; what
           its gate still holds (submitted since) asks again */
        struct fetch__qlist held = TAILQ_HEAD_INITIALIZER(held);
        struct fetch__qnode *q;
        fetch__lock(c);
        fetch__sched_drain(&c->sched, f->key, &held);
        int again = !TAILQ_EMPTY(&held);
        while ((q = TAILQ_FIRST(&held))) {
            TAILQ_REMOVE(&held, q, link);
            if (fetch__sched_push(&c->sched, q, f->key) != 0)
                robots_refuse(c, task_of(q), f->key);
        }
        struct fetch__robots_entry *e =
            fetch__robots_entry(&c->robots, f->key, 0);
        if (e)
            e->pending = again;
        fetch__unlock(c);
        if (again)
            robots_fetch(c, f->key);
        else
            fetch__kick(c);
    } else if (c && !c->destroying && !c->closing) {
        struct fetch__robots *rules;
        if (f->full || (r->error == FETCH_OK && status >= 200 && status < 300))
            rules = fetch__robots_parse(f->text ? f->text : "", f->len,
                                        c->robots_agent);
        else
            rules = fetch__robots_all((status >= 400 && status < 500) ||
                                      r->error == FETCH_E_TOO_MANY_REDIRECTS ||
                                      (status >= 300 && status < 400));
        robots_known(c, f->key, rules);
    }
    free(f->text);
    free(f);
    fetch_task_free(t);
}

static fetch_task *submit(fetch_client *c, const char *url,
                          const fetch_request *in, fetch_done_cb cb, void *arg,
                          int *err, int internal);

/* Fetch host key's robots.txt, ahead of the requests its gate holds. */
static void robots_fetch(fetch_client *c, const char *key)
{
    size_t n = strlen(key);
    struct robots_fetch *f = calloc(1, sizeof *f + n + 1);
    char url[600];
    fetch_request req;
    fetch_task *t = NULL;
    fetch_request_init(&req);
    snprintf(url, sizeof url, "%s/robots.txt", key);
    req.url = url;
    req.follow_redirects = 1;
    req.max_body_size = 0;
    req.on_data = robots_data;
    req.data_arg = f;
    if (f) {
        memcpy(f->key, key, n + 1);
        t = submit(c, url, &req, on_robots, f, NULL, 1);
    }
    if (t && t->s.max_redirects > 5) { /* RFC 9309 2.3.1.2: five */
        t->s.max_redirects = 5;
        t->s.custom = 1;
    }
    if (!t) { /* out of memory: what it holds must not wait for ever */
        free(f);
        robots_known(c, key, NULL);
    }
}

static fetch_task *submit(fetch_client *c, const char *url,
                          const fetch_request *in, fetch_done_cb cb, void *arg,
                          int *err, int internal)
{
    char detail[256], key[512];
    fetch_task *t;
    int code = FETCH_OK, robots = ROBOTS_GO;

    if (!c || !url || c->closing || (in && req_check(in) != FETCH_OK)) {
        if (err)
            *err = FETCH_E_INVAL;
        return NULL;
    }
    t = calloc(1, sizeof *t);
    if (!t || !(t->url = strdup(url)) || !(t->target = target_of(t->url)) ||
        settings(t, c, in) != 0)
        goto nomem;
    t->x.sink_fd = -1;
    /* An http(s):// URL is parsed by libcurl when it starts anyway, and a
       malformed one is still this task's FETCH_E_URL then; parse it here
       too only when its scheme is in doubt. */
    size_t bare, len = strlen(t->url);
    if (len > FETCH__URL_MAX) {
        code = FETCH_E_URL;
        snprintf(detail, sizeof detail,
                 "URL too long to send (%zu bytes; at most %d)", len,
                 FETCH__URL_MAX);
    } else if ((bare = fetch__bare_scheme_len(t->url))) {
        code = FETCH_E_PROTOCOL;
        snprintf(detail, sizeof detail,
                 "unsupported scheme \"%.*s\" (only http and https)",
                 (int)(bare > 32 ? 32 : bare), t->url);
    } else if (!strncasecmp(t->target, "https://", 8)) {
        t->https = 1;
    } else if (strncasecmp(t->target, "http://", 7)) {
        CURLU *u = curl_url();
        if (!u)
            goto nomem;
        code = check_url(t, u, detail, sizeof detail);
        curl_url_cleanup(u);
        if (code == FETCH_E_NOMEM)
            goto nomem;
    }
    if (code == FETCH_OK && c->deadline_passed) {
        code = FETCH_E_TIMEOUT;
        snprintf(detail, sizeof detail, "deadline of %g s reached while queued",
                 c->deadline_s);
    }
    t->magic = FETCH__TASK_LIVE;
    t->client = c;
    t->cb = cb;
    t->cb_arg = arg;
    t->seq = c->next_seq++;
    t->attempt = 1;
    t->t_submit = fetch__now();
    t->resp.url = t->url;
    t->resp.body = "";
    t->internal = internal;
    t->q.bypass = internal;
    if (code == FETCH_OK) {
        double delay = -1;
        fetch_host_key(key, sizeof key, t->target);
        fetch__lock(c);
        if (c->opts.robots && !internal)
            robots = robots_say(c, t, key, &delay);
        int pushed = 0;
        if (robots == ROBOTS_NO) {
            robots_refuse(c, t, key);
        } else {
            pushed = fetch__sched_push(&c->sched, &t->q, key);
            t->state = FETCH__QUEUED;
            if (pushed == 0 && robots != ROBOTS_GO)
                fetch__sched_gate(&c->sched, key, 1, -1, 0);
            else if (pushed == 0 && delay > 0)
                fetch__sched_gate(&c->sched, key, 0, delay, 0);
        }
        fetch__unlock(c);
        if (pushed != 0)
            goto nomem;
    } else { /* finished from the loop, never inside this call */
        t->state = FETCH__DOOMED;
        t->resp.error = code;
        t->message = strdup(detail); /* NULL: finish uses the code's text */
        TAILQ_INSERT_TAIL(&c->doomed, t, m_link);
        c->ndoomed++;
    }
    TAILQ_INSERT_TAIL(&c->tasks, t, all_link);
    TAILQ_INSERT_TAIL(&c->unfinished, t, u_link);
    c->nunfinished++;
    c->ntasks++;
    fetch__kick(c);
    if (c->opts.trace.on_queued)
        c->opts.trace.on_queued(t, c->opts.trace.arg);
    if (err)
        *err = FETCH_OK;
    if (robots == ROBOTS_FETCH) /* the first of its host: ahead of it */
        robots_fetch(c, key);
    return t;
nomem:
    if (robots == ROBOTS_FETCH) { /* no fetch after all: the next asks */
        fetch__lock(c);
        struct fetch__robots_entry *e = fetch__robots_entry(&c->robots, key, 0);
        if (e)
            e->pending = 0;
        fetch__unlock(c);
    }
    if (t)
        task_release(t);
    if (err)
        *err = FETCH_E_NOMEM;
    return NULL;
}

fetch_task *fetch_get(fetch_client *c, const char *url, fetch_done_cb cb,
                      void *arg, int *err)
{
    return submit(c, url, NULL, cb, arg, err, 0);
}

fetch_task *fetch_submit(fetch_client *c, const fetch_request *req,
                         fetch_done_cb cb, void *arg, int *err)
{
    fetch_request r;
    if (!req || req->size < offsetof(fetch_request, url) + sizeof req->url) {
        if (err)
            *err = FETCH_E_INVAL;
        return NULL;
    }
    /* a program built with an older header passes a shorter struct */
    request_defaults(&r);
    memcpy(&r, req, req->size < sizeof r ? req->size : sizeof r);
    return submit(c, r.url, &r, cb, arg, err, 0);
}

/* ---- the client's side of the hand-offs ---- */

/* Have the scheduler start what it may, on the next loop turn (never from
   inside the caller's call). */
void fetch__kick(fetch_client *c)
{
    if (!c->closing && !event_pending(c->kick, EV_TIMEOUT, NULL))
        event_active(c->kick, EV_TIMEOUT, 0);
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
    fetch__dispatch(c, NULL); /* sets sched_timer if something waits */
    fetch__leave(c);
}

static void on_sched_timer(evutil_socket_t fd, short ev, void *arg)
{
    fetch_client *c = arg;
    (void)fd;
    (void)ev;
    fetch__lock(c);
    c->wake_at = -1;
    fetch__unlock(c);
    fetch__kick(c);
}

static void finish(fetch_task *t, int code, CURLcode cc, const char *detail,
                   int with_result);

/* ---- retries (the rules: retry.c) ---- */

static fetch_task *task_of(struct fetch__qnode *q)
{
    return (fetch_task *)((char *)q - offsetof(fetch_task, q));
}

/* t's attempt was its host's probe, and found the host down: every request
   queued for the host fails too, at the kick (as those that fail at
   submission), and none of them is sent. */
static void host_down(fetch_task *t)
{
    fetch_client *c = t->client;
    struct fetch__qlist out = TAILQ_HEAD_INITIALIZER(out);
    struct fetch__qnode *q;
    char key[512];
    const char *why = t->x.detail ? t->x.detail : fetch_strerror(t->x.code);
    fetch_host_key(key, sizeof key, t->target);
    fetch__lock(c);
    fetch__sched_drain(&c->sched, key, &out);
    TAILQ_FOREACH(q, &out, link)
    task_of(q)->state = FETCH__DOOMED;
    fetch__unlock(c);
    while ((q = TAILQ_FIRST(&out))) {
        fetch_task *d = task_of(q);
        TAILQ_REMOVE(&out, q, link);
        d->resp.error = t->x.code;
        free(d->message);
        if (asprintf(&d->message, "host down, not tried (its last attempt: %s)",
                     why) < 0)
            d->message = NULL;
        TAILQ_INSERT_TAIL(&c->doomed, d, m_link);
        c->ndoomed++;
    }
    fetch__kick(c);
    char *m = NULL;
    if (asprintf(&m, "host down: %s", why) >= 0) {
        free(t->x.detail);
        t->x.detail = m;
    }
}

/* Add why the failed attempt is not retried to its message. */
static void not_retried(fetch_task *t, const char *why)
{
    char *m = NULL;
    if (asprintf(&m, "%s (not retried: %s)",
                 t->x.detail ? t->x.detail : fetch_strerror(t->x.code),
                 why) >= 0) {
        free(t->x.detail);
        t->x.detail = m;
    }
}

/* Can the part of the body that a failed attempt streamed be taken back? */
static int discard(fetch_task *t)
{
    const struct fetch__xfer *x = &t->x;
    if (!x->bytes || x->drop_body || x->body || x->held || t->s.sink_path)
        return 1; /* nothing out (none, held back, or kept in memory), or a
                     file truncated anew */
    if (t->s.on_data)
        return t->s.on_data(t, NULL, 0, t->s.data_arg) == 0;
    return x->sink_start >= 0 &&
           ftruncate(t->s.sink_fd, (off_t)x->sink_start) == 0 &&
           lseek(t->s.sink_fd, (off_t)x->sink_start, SEEK_SET) >= 0;
}

/* Tell the trace hook of the failed attempt, as a response of its own. */
static void trace_retry(fetch_task *t, double delay)
{
    const fetch_trace *tr = &t->client->opts.trace;
    fetch__response_fill(t);
    t->resp.error = t->x.code;
    t->resp.curl_code = (int)t->x.cc;
    t->resp.attempts = t->attempt;
    t->resp.message =
        t->x.code
            ? fetch__message(t->url, t->x.detail ? t->x.detail
                                                 : fetch_strerror(t->x.code))
            : NULL;
    tr->on_retry(t, &t->resp, delay, tr->arg);
    free((char *)t->resp.message);
    memset(&t->resp, 0, sizeof t->resp);
    t->resp.url = t->url;
    t->resp.body = "";
}

/* Queue t's failed attempt again if the rules say so. Returns 1 when it
   is queued (it waits in the scheduler, not here), 0 when the attempt is
   its result. */
static int try_again(fetch_task *t)
{
    fetch_client *c = t->client;
    const fetch_options *o = &c->opts;
    struct fetch__xfer *x = &t->x;
    char why[160] = "", key[512];
    if (t->attempt > t->s.retries || c->closing || !fetch__retry_wanted(t))
        return 0;
    double now = fetch__now();
    fetch__lock(c);
    double delay = fetch__retry_delay(o, t->attempt, x->retry_after,
                                      fetch__sched_random(&c->sched));
    fetch__unlock(c);
    if (o->retry_max_time > 0 && now + delay - t->t_submit > o->retry_max_time)
        snprintf(why, sizeof why,
                 "a retry in %.3g s would start past the retry time of %g s",
                 delay, o->retry_max_time);
    else if (c->deadline_at > 0 && now + delay >= c->deadline_at)
        snprintf(why, sizeof why,
                 "a retry in %.3g s would start past the deadline", delay);
    else if (o->retry_budget > 0 && c->retry_tokens < 1)
        snprintf(why, sizeof why, "the retry budget is spent");
    else if (!discard(t))
        snprintf(why, sizeof why,
                 "its body was streamed and cannot be "
                 "taken back");
    if (why[0]) {
        not_retried(t, why);
        return 0;
    }
    if (o->retry_budget > 0)
        c->retry_tokens -= 1;
    c->retries_made++;
    if (o->trace.on_retry)
        trace_retry(t, delay);
    /* a clean slate: the loop that takes it next starts afresh */
    fetch__xfer_free(x);
    memset(x, 0, sizeof *x);
    x->sink_fd = -1;
    fetch_host_key(key, sizeof key, t->target);
    fetch__lock(c);
    t->attempt++;
    t->state = FETCH__QUEUED;
    int rc = fetch__sched_push_at(&c->sched, &t->q, key, now + delay);
    if (rc != 0)
        t->state = FETCH__DOOMED;
    fetch__unlock(c);
    if (rc != 0) { /* out of memory: it ends at the kick */
        t->resp.error = FETCH_E_NOMEM;
        TAILQ_INSERT_TAIL(&c->doomed, t, m_link);
        c->ndoomed++;
    }
    fetch__kick(c); /* the scheduler's timer: set for the wait */
    return 1;
}

/* A loop is done with t: a result to finish it with (or to try again),
   or, if the client finished it already (cancel, timeout), only memory to
   give back. */
void fetch__task_returned(fetch_task *t)
{
    fetch_client *c = t->client;
    if (t->done) {
        fetch__xfer_free(&t->x);
        if (t->user_freed)
            task_release(t);
        return;
    }
    if (t->attempt == 1 && c->opts.retry_budget > 0) { /* earn retries */
        c->retry_tokens += c->opts.retry_budget;
        if (c->retry_tokens > c->retry_tokens_max)
            c->retry_tokens = c->retry_tokens_max;
    }
    if (t->x.host_down)
        host_down(t);
    else if (try_again(t))
        return;
    /* an answer held back for a retry that is not made is the result:
       the sink gets it as it would have */
    fetch__held_release(t);
    finish(t, t->x.code, t->x.cc, t->x.detail, 1);
}

/* Loops poked the client: take what they handed back. */
static void on_wake(evutil_socket_t fd, short ev, void *arg)
{
    fetch_client *c = arg;
    struct fetch__task_list back = TAILQ_HEAD_INITIALIZER(back);
    fetch_task *t;
    char buf[64];
    (void)ev;
    int rearm;
    (void)ev;
    while (read(fd, buf, sizeof buf) == (ssize_t)sizeof buf)
        ;
    fetch__lock(c);
    c->poked = 0;
    c->outbox_len = 0;
    rearm = c->rearm;
    c->rearm = 0;
    if (rearm) { /* a loop asks: set the timer again from here */
        c->wake_at = -1;
        evtimer_del(c->sched_timer);
    }
    TAILQ_CONCAT(&back, &c->outbox, m_link);
    TAILQ_FOREACH(t, &back, m_link)
    t->in_outbox = 0;
    fetch__unlock(c);
    fetch__enter(c);
    while ((t = TAILQ_FIRST(&back))) {
        TAILQ_REMOVE(&back, t, m_link);
        fetch__task_returned(t);
    }
    if (rearm)
        fetch__kick(c);
    fetch__leave(c);
}

int fetch__task_home_init(fetch_client *c)
{
    c->kick = event_new(c->base, -1, 0, on_kick, c);
    c->sched_timer = evtimer_new(c->base, on_sched_timer, c);
    if (!c->kick || !c->sched_timer)
        return FETCH_E_NOMEM;
    c->returned = fetch__task_returned;
    c->pipe[0] = c->pipe[1] = -1;
    if (!c->threaded)
        return FETCH_OK;
    /* hand-backs per batch of half the slots, or within a millisecond: a
       wake costs two context switches (measured, W1: a batch of an eighth
       of the slots had 5,800 context switches a run, a half 2,900) */
    c->batch = (size_t)c->opts.max_concurrency / 2;
    if (c->batch < 1)
        c->batch = 1;
    if (pipe(c->pipe) != 0 || evutil_make_socket_nonblocking(c->pipe[0]) != 0 ||
        evutil_make_socket_nonblocking(c->pipe[1]) != 0 ||
        !(c->wake = event_new(c->base, c->pipe[0], EV_READ | EV_PERSIST,
                              on_wake, c)) ||
        event_add(c->wake, NULL) != 0)
        return FETCH_E_NOMEM;
    return FETCH_OK;
}

/* After the loops have stopped: what they handed back last, then the
   client's own events. */
void fetch__task_home_free(fetch_client *c)
{
    fetch_task *t;
    while ((t = TAILQ_FIRST(&c->outbox))) {
        TAILQ_REMOVE(&c->outbox, t, m_link);
        t->in_outbox = 0;
        fetch__task_returned(t);
    }
    if (c->kick)
        event_free(c->kick);
    if (c->sched_timer)
        event_free(c->sched_timer);
    if (c->wake)
        event_free(c->wake);
    if (c->pipe[0] >= 0) {
        close(c->pipe[0]);
        close(c->pipe[1]);
    }
}

/* ---- the end of a task ---- */

/*
 * The one way a task ends, whatever its state, on the client's thread.
 * with_result: its loop handed it back with what libcurl knew. Runs the
 * callback last: after it, t may be gone.
 */
static void finish(fetch_task *t, int code, CURLcode cc, const char *detail,
                   int with_result)
{
    fetch_client *c = t->client;
    if (t->done)
        return;
    t->done = 1;
    enum fetch__state prev = fetch__task_detach(t, code);
    double now = fetch__now();
    if (prev == FETCH__DISPATCHED)
        fetch__kick(c); /* the slot it held is free */
    if (prev == FETCH__DOOMED) {
        TAILQ_REMOVE(&c->doomed, t, m_link);
        c->ndoomed--;
    }
    if (prev == FETCH__QUEUED || prev == FETCH__DOOMED) {
        t->resp.time_queued = now - t->t_submit;
        t->resp.attempts = t->attempt - 1; /* this one never started */
    } else {
        t->resp.attempts = t->attempt;
        t->resp.time_queued = t->t_start - t->t_submit;
        t->resp.time_total = now - t->t_start;
    }
    if (with_result) /* the loop handed it back with what libcurl knew */
        fetch__response_fill(t);
    else if (prev == FETCH__RUNNING) /* stopped midway: how far it got */
        t->resp.bytes = __atomic_load_n(&t->x.bytes, __ATOMIC_RELAXED);
    TAILQ_REMOVE(&c->unfinished, t, u_link);
    c->nunfinished--;
    t->resp.error = code;
    t->resp.curl_code = (int)cc;
    if (code != FETCH_OK) {
        char *counted = NULL; /* how many tries it took to give up */
        if (t->resp.attempts > 1 &&
            asprintf(&counted, "%s (%d attempts)",
                     detail ? detail : fetch_strerror(code),
                     t->resp.attempts) < 0)
            counted = NULL;
        char *m = fetch__message(t->url, counted  ? counted
                                         : detail ? detail
                                                  : fetch_strerror(code));
        free(counted);
        free(t->message); /* after use: detail may point into it */
        t->message = m;
        c->failures++;
    }
    t->resp.message = t->message;
    c->finished++;
    if (c->opts.trace.on_finished)
        c->opts.trace.on_finished(t, now - t->t_submit, c->opts.trace.arg);
    if (c->destroying) {
        t->client = NULL;      /* the teardown already unlinked it */
    } else if (!t->internal) { /* the client's own are no one's result */
        TAILQ_INSERT_TAIL(&c->completed, t, d_link);
        t->in_completed = 1;
    }
    if (t->cb)
        t->cb(t, t->cb_arg);
}

/* Ended by the client (cancel, a timeout, the teardown), or failed before
   it started: no result from libcurl. */
void fetch__task_finish(fetch_task *t, int code, CURLcode cc,
                        const char *detail)
{
    finish(t, code, cc, detail, 0);
}

/* End an unfinished task with FETCH_E_TIMEOUT, saying which clock ran out. */
void fetch__task_expire(fetch_task *t, const char *what, double seconds)
{
    char detail[128];
    fetch__lock(t->client);
    int running = t->state == FETCH__RUNNING || t->state == FETCH__DISPATCHED;
    fetch__unlock(t->client);
    snprintf(detail, sizeof detail, "%s of %g s reached while %s", what,
             seconds, running ? "running" : "queued");
    fetch__task_finish(t, FETCH_E_TIMEOUT, CURLE_OK, detail);
}

/* Off the queue fetch_as_completed() hands tasks out from, if on it. */
void fetch__completed_remove(fetch_client *c, fetch_task *t)
{
    if (t->in_completed)
        TAILQ_REMOVE(&c->completed, t, d_link);
    t->in_completed = 0;
}

void fetch_task_free(fetch_task *t)
{
    if (!t || t->freeing)
        return;
    if (t->magic != FETCH__TASK_LIVE) {
        fprintf(stderr,
                "libfetch: fetch_task_free(%p): not a live task "
                "(freed twice?)\n",
                (void *)t);
        abort();
    }
    fetch_client *c = t->client;
    if (!t->done) {
        t->freeing = 1; /* its callback may try to free it too */
        fetch__enter(c);
        fetch__task_finish(t, FETCH_E_CANCELLED, CURLE_OK, NULL);
        fetch__leave(c); /* may free the client: t is detached then */
        c = t->client;
    }
    t->magic = 0;
    if (c) {
        TAILQ_REMOVE(&c->tasks, t, all_link);
        c->ntasks--;
        fetch__completed_remove(c, t);
        fetch__lock(c);
        /* its loop has yet to hand it back, or the client to take it */
        int held = t->on_loop || t->in_outbox || t->in_cancels;
        t->user_freed = held;
        fetch__unlock(c);
        if (held)
            return;
    }
    task_release(t);
}

int fetch_task_cancel(fetch_task *t)
{
    if (!t || t->done)
        return FETCH_E_INVAL;
    fetch_client *c = t->client;
    fetch__enter(c);
    fetch__task_finish(t, FETCH_E_CANCELLED, CURLE_OK, NULL);
    fetch__leave(c);
    return FETCH_OK;
}

int fetch_task_done(const fetch_task *t)
{
    return t && t->done;
}

void *fetch_task_data(const fetch_task *t)
{
    return t ? t->cb_arg : NULL;
}

const char *fetch_task_url(const fetch_task *t)
{
    return t ? t->url : NULL;
}

const fetch_response *fetch_task_response(const fetch_task *t)
{
    return t && t->done ? &t->resp : NULL;
}

const char *fetch_task_header(const fetch_task *t, const char *name,
                              size_t index)
{
    if (!t || !name || !t->done)
        return NULL;
    for (size_t i = 0; i < t->x.n_headers; i++)
        if (!strcasecmp(t->x.headers[i].name, name) && index-- == 0)
            return t->x.headers[i].value;
    return NULL;
}

int fetch_task_header_at(const fetch_task *t, size_t i, const char **name,
                         const char **value)
{
    if (!t || !t->done || i >= t->x.n_headers)
        return 0;
    if (name)
        *name = t->x.headers[i].name;
    if (value)
        *value = t->x.headers[i].value;
    return 1;
}
