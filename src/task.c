/*
 * One request: submission (URL checked with curl_url()), easy handle set-up,
 * the body sink, completion and the result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch-internal.h"

#define FETCH_USER_AGENT "libfetch/" LIBFETCH_VERSION_STRING

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    fetch_task *t = arg;
    /* returning less than given makes libcurl stop with CURLE_WRITE_ERROR */
    return evbuffer_add(t->body, p, size * n) == 0 ? size * n : 0;
}

static long to_ms(double seconds)
{
    long ms = (long)(seconds * 1000.0 + 0.5);
    return seconds > 0 && ms == 0 ? 1 : ms; /* 0 would mean "no limit" */
}

/* A handle carries the client's options; only the URL changes per use. */
struct fetch__handle *fetch__handle_new(fetch_client *c)
{
    const fetch_options *o = &c->opts;
    struct fetch__handle *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    if (!(h->easy = curl_easy_init())) {
        free(h);
        return NULL;
    }
    CURL *e = h->easy;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_USERAGENT,
                     o->user_agent ? o->user_agent : FETCH_USER_AGENT);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING,
                     o->accept_encoding ? o->accept_encoding : "");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, (long)o->follow_redirects);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)o->max_redirects);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, to_ms(o->connect_timeout));
    if (c->headers)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    return h;
}

void fetch__handle_free(struct fetch__handle *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->easy);
    free(h);
}

/* Check the URL now so that a bad one is this task's result, nothing more. */
static int check_url(fetch_task *t, CURLU *u, char *detail, size_t len)
{
    char *s = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, t->url,
                                CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        snprintf(detail, len, "malformed URL (%s)", curl_url_strerror(uc));
        return FETCH_E_URL;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK)
        return FETCH_E_NOMEM;
    int ok = !strcmp(s, "http") || !strcmp(s, "https");
    if (!ok)
        snprintf(detail, len, "unsupported scheme \"%s\" (only http and https)",
                 s);
    curl_free(s);
    if (!ok)
        return FETCH_E_PROTOCOL;
    if (curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
        return FETCH_E_NOMEM;
    if (strcmp(s, t->url))
        t->curl_url = strdup(s);
    curl_free(s);
    return FETCH_OK;
}

/* "scheme://host:port", the unit max_per_host counts (as aiohttp does). */
static int host_key(CURLU *u, char *buf, size_t len)
{
    char *scheme = NULL, *host = NULL, *port = NULL;
    int ok =
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
    if (ok)
        ok = snprintf(buf, len, "%s://%s:%s", scheme, host, port) < (int)len;
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    return ok;
}

fetch_task *fetch_get(fetch_client *c, const char *url, fetch_done_cb cb,
                      void *arg)
{
    char detail[256], key[512];
    fetch_task *t;
    CURLU *u;
    int code;

    if (!c || !url || c->closing)
        return NULL;
    t = calloc(1, sizeof *t);
    u = curl_url();
    if (!t || !u || !(t->url = strdup(url)))
        goto fail;
    code = check_url(t, u, detail, sizeof detail);
    if (code == FETCH_E_NOMEM)
        goto fail;
    if (code == FETCH_OK && c->opts.max_per_host > 0) {
        if (!host_key(u, key, sizeof key) ||
            !(t->host = fetch__client_host(c, key)))
            goto fail;
    }
    curl_url_cleanup(u);
    t->client = c;
    t->cb = cb;
    t->cb_arg = arg;
    t->t_submit = fetch__now();
    t->resp.url = t->url;
    TAILQ_INSERT_TAIL(&c->tasks, t, all_link);
    c->ntasks++;
    if (code == FETCH_OK) {
        t->state = FETCH__QUEUED;
        fetch__client_enqueue(c, t);
    } else { /* finished from the loop, never inside this call */
        t->state = FETCH__DOOMED;
        t->resp.error = code;
        t->message = strdup(detail); /* NULL: finish uses the code's text */
        TAILQ_INSERT_TAIL(&c->doomed, t, q_link);
        fetch__client_kick(c);
    }
    return t;
fail:
    curl_url_cleanup(u);
    if (t) {
        free(t->url);
        free(t->curl_url);
    }
    free(t);
    return NULL;
}

void fetch__task_start(fetch_task *t, struct fetch__handle *h)
{
    fetch_client *c = t->client;
    t->state = FETCH__RUNNING;
    t->t_start = fetch__now();
    t->resp.time_queued = t->t_start - t->t_submit;
    t->h = h;
    if (!h || (!t->body && !(t->body = evbuffer_new()))) {
        fetch__task_finish(t, FETCH_E_NOMEM, CURLE_OUT_OF_MEMORY, NULL);
        return;
    }
    CURL *e = h->easy;
    h->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, t->curl_url ? t->curl_url : t->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    /* counts from curl_multi_add_handle, i.e. from leaving the queue */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, to_ms(c->opts.timeout));
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        t->h = NULL;                /* never added: nothing to remove */
        c->pool[c->pool_len++] = h; /* the slot it came from is free */
        fetch__task_finish(t, FETCH_E_OTHER, CURLE_FAILED_INIT,
                           "could not add the transfer to libcurl");
    }
}

static double info_time(CURL *e, CURLINFO what)
{
    curl_off_t us = 0;
    curl_easy_getinfo(e, what, &us);
    return (double)us / 1e6;
}

static char *info_strdup(CURL *e, CURLINFO what)
{
    char *s = NULL;
    curl_easy_getinfo(e, what, &s);
    return s ? strdup(s) : NULL;
}

/* libcurl finished the transfer: read what it knows before recycling. */
void fetch__task_complete(fetch_task *t, CURLcode cc)
{
    struct fetch__handle *h = t->h;
    CURL *e = h->easy;
    char buf[64];
    const char *detail = NULL;
    int code = fetch__from_curl(cc);

    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &t->resp.status);
    curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &t->resp.redirects);
    t->effective_url = info_strdup(e, CURLINFO_EFFECTIVE_URL);
    t->content_type = info_strdup(e, CURLINFO_CONTENT_TYPE);
    t->resp.effective_url = t->effective_url;
    t->resp.content_type = t->content_type;
    t->resp.time_connect = info_time(e, CURLINFO_CONNECT_TIME_T);
    t->resp.time_tls = info_time(e, CURLINFO_APPCONNECT_TIME_T);
    t->resp.time_first_byte = info_time(e, CURLINFO_STARTTRANSFER_TIME_T);
    if (cc != CURLE_OK) {
        detail = h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc);
    } else if (t->client->opts.fail_on_http_error && t->resp.status >= 400) {
        code = FETCH_E_HTTP;
        snprintf(buf, sizeof buf, "HTTP status %ld", t->resp.status);
        detail = buf;
    }
    fetch__task_finish(t, code, cc, detail);
}

static char *url_message(const char *url, const char *detail)
{
    size_t n = strlen(url) + strlen(detail) + 3;
    char *m = malloc(n);
    if (m)
        snprintf(m, n, "%s: %s", url, detail);
    return m;
}

/*
 * The one way a task ends, whatever its state. Runs the callback last: after
 * it, t may be gone.
 */
void fetch__task_finish(fetch_task *t, int code, CURLcode cc,
                        const char *detail)
{
    fetch_client *c = t->client;
    double now = fetch__now();

    switch (t->state) {
    case FETCH__QUEUED:
        fetch__client_unqueue(c, t);
        t->resp.time_queued = now - t->t_submit;
        break;
    case FETCH__DOOMED:
        TAILQ_REMOVE(&c->doomed, t, q_link);
        break;
    case FETCH__RUNNING:
        fetch__client_release(c, t);
        t->resp.time_total = now - t->t_start;
        break;
    case FETCH__DONE:
        return;
    }
    t->state = FETCH__DONE;
    t->resp.error = code;
    t->resp.curl_code = (int)cc;
    if (code != FETCH_OK) {
        char *m = url_message(t->url, detail ? detail : fetch_strerror(code));
        free(t->message); /* after use: detail may point into it */
        t->message = m;
    }
    t->resp.message = t->message;
    t->resp.body = "";
    if (t->body && evbuffer_add(t->body, "", 1) == 0) {
        t->resp.body_len = evbuffer_get_length(t->body) - 1;
        t->resp.body = (const char *)evbuffer_pullup(t->body, -1);
    }
    c->finished++;
    if (c->closing)
        t->client = NULL; /* fetch_client_free() already unlinked it */
    if (t->cb)
        t->cb(t, t->cb_arg);
}

void fetch_task_free(fetch_task *t)
{
    if (!t || t->freeing)
        return;
    if (t->state != FETCH__DONE) {
        t->freeing = 1; /* its callback may try to free it too */
        fetch__task_finish(t, FETCH_E_CANCELLED, CURLE_OK, NULL);
    }
    if (t->client) {
        TAILQ_REMOVE(&t->client->tasks, t, all_link);
        t->client->ntasks--;
    }
    if (t->body)
        evbuffer_free(t->body);
    free(t->url);
    free(t->curl_url);
    free(t->message);
    free(t->effective_url);
    free(t->content_type);
    free(t);
}

int fetch_task_cancel(fetch_task *t)
{
    if (!t || t->state == FETCH__DONE)
        return FETCH_E_INVAL;
    fetch__task_finish(t, FETCH_E_CANCELLED, CURLE_OK, NULL);
    return FETCH_OK;
}

int fetch_task_done(const fetch_task *t)
{
    return t && t->state == FETCH__DONE;
}

const char *fetch_task_url(const fetch_task *t)
{
    return t ? t->url : NULL;
}

const fetch_response *fetch_task_response(const fetch_task *t)
{
    return t && t->state == FETCH__DONE ? &t->resp : NULL;
}
