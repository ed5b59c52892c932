/*
 * One request: submission (URL checked with curl_url()), easy handle set-up,
 * the body sink, completion and the result.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fetch-internal.h"

#define FETCH_USER_AGENT "libfetch/" LIBFETCH_VERSION_STRING

enum { STOP_TOO_LARGE = 1, STOP_BY_CALLBACK, STOP_SINK_FAILED };

static int sink_write(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* With a known Content-Length, grow the buffer once: the body then lands in
   one piece, and making it contiguous at the end copies nothing. A claimed
   length is not trusted beyond 256 MiB (a larger body grows in pieces). */
static void reserve_body(fetch_task *t)
{
    curl_off_t cl = -1;
    curl_easy_getinfo(t->h->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    if (cl <= 0 || (t->max_body_size && (size_t)cl > t->max_body_size) ||
        cl > ((curl_off_t)256 << 20))
        return;
    evbuffer_expand(t->body, (size_t)cl + 1); /* + the final NUL */
}

/* Where the body goes: memory, the data callback, or a file. Returning
   less than given makes libcurl stop with CURLE_WRITE_ERROR. */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    fetch_task *t = arg;
    fetch_request *r = t->req;
    size_t len = size * n;
    int to_memory = !r || (!r->on_data && r->sink_fd < 0);

    if (!t->resp.bytes && to_memory)
        reserve_body(t);
    if (!t->resp.bytes && !to_memory && r->fail_on_http_error > 0) {
        long status = 0; /* curl --fail: no error page in the output */
        curl_easy_getinfo(t->h->easy, CURLINFO_RESPONSE_CODE, &status);
        t->drop_body = status >= 400;
    }
    t->resp.bytes += len;
    if (t->max_body_size && t->resp.bytes > t->max_body_size) {
        t->stop = STOP_TOO_LARGE;
        return 0;
    }
    if (to_memory)
        return evbuffer_add(t->body, p, len) == 0 ? len : 0;
    if (t->drop_body)
        return len;
    if (r->on_data) {
        int rc = r->on_data(t, p, len, r->data_arg);
        if (rc == 0)
            return len;
        if (rc > 0) { /* the callback could not keep the data: why */
            t->sink_errno = rc;
            t->stop = STOP_SINK_FAILED;
        } else {
            t->stop = STOP_BY_CALLBACK;
        }
        return 0;
    }
    if (sink_write(r->sink_fd, p, len) == 0)
        return len;
    t->sink_errno = errno;
    t->stop = STOP_SINK_FAILED;
    return 0;
}

/* Installed only when a trace hook wants the first byte. */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    fetch_task *t = arg;
    const fetch_trace *tr = &t->client->trace;
    (void)p;
    if (!t->first_byte_seen) {
        t->first_byte_seen = 1;
        tr->on_first_byte(t, fetch__now() - t->t_submit, tr->arg);
    }
    return size * n;
}

static long to_ms(double seconds)
{
    if (seconds > 1e9) /* about 30 years: no limit, without overflow */
        return 0;
    long ms = (long)(seconds * 1000.0 + 0.5);
    return seconds > 0 && ms == 0 ? 1 : ms; /* 0 would mean "no limit" */
}

/* CURLOPT_OPENSOCKETFUNCTION: libcurl's own socket(), keeping its errno so
   that running out of descriptors is reported as such, not as a refused
   connection. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose,
                                 struct curl_sockaddr *a)
{
    struct fetch__handle *h = arg;
    (void)purpose;
    curl_socket_t fd =
        socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd == CURL_SOCKET_BAD)
        h->sock_errno = errno;
    return fd;
}

/* A handle carries the client's options; a plain GET changes only the URL. */
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
    /* about 8 MiB in all, between 4 and 512 KiB each: thousands of small
       bodies need little each (libcurl allocates it per transfer), a few
       transfers at a time move large ones faster with more (curl's tool
       uses 100 KiB) */
    long buffer = (8L << 20) / o->max_concurrency;
    buffer = buffer < (4L << 10) ? 4L << 10 : buffer;
    buffer = buffer > (512L << 10) ? 512L << 10 : buffer;
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, buffer);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    if (o->trace && o->trace->on_first_byte)
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_USERAGENT,
                     o->user_agent ? o->user_agent : FETCH_USER_AGENT);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING,
                     o->accept_encoding ? o->accept_encoding : "");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, (long)o->follow_redirects);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)o->max_redirects);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, to_ms(o->connect_timeout));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)o->max_body_size);
    if (c->share) { /* the client's cookie jar, in memory */
        curl_easy_setopt(e, CURLOPT_SHARE, c->share);
        curl_easy_setopt(e, CURLOPT_COOKIEFILE, "");
    }
    if (o->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
    if (o->ca_path)
        curl_easy_setopt(e, CURLOPT_CAPATH, o->ca_path);
    if (o->client_cert)
        curl_easy_setopt(e, CURLOPT_SSLCERT, o->client_cert);
    if (o->client_key)
        curl_easy_setopt(e, CURLOPT_SSLKEY, o->client_key);
    if (o->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (o->proxy) {
        curl_easy_setopt(e, CURLOPT_PROXY, o->proxy);
    } else if (!c->env_proxy) { /* saves five getenv() per transfer */
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    }
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

void fetch_request_init(fetch_request *r)
{
    memset(r, 0, sizeof *r);
    r->timeout = -1;
    r->follow_redirects = -1;
    r->fail_on_http_error = -1;
    r->sink_fd = -1;
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

static void req_free(fetch_request *r)
{
    if (!r)
        return;
    free((char *)r->method);
    free((void *)r->body);
    free((char *)r->sink_path);
    free(r);
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

/* Copy a request into t, resolving "the client's" values now. */
static int req_copy(fetch_task *t, fetch_client *c, const fetch_request *in)
{
    const fetch_options *o = &c->opts;
    fetch_request *r = calloc(1, sizeof *r);
    char *body;
    if (!r)
        return -1;
    t->req = r;
    *r = *in;
    r->url = NULL; /* t->url */
    r->headers = NULL;
    r->n_headers = 0;
    r->method = r->sink_path = NULL;
    r->body = NULL;
    if (r->timeout < 0)
        r->timeout = o->timeout;
    if (r->follow_redirects < 0)
        r->follow_redirects = o->follow_redirects;
    if (!r->max_body_size)
        r->max_body_size = o->max_body_size;
    if (r->fail_on_http_error < 0)
        r->fail_on_http_error = o->fail_on_http_error;
    if ((in->method && !(r->method = strdup(in->method))) ||
        (in->sink_path && !(r->sink_path = strdup(in->sink_path))))
        return -1;
    if (in->body) {
        if (!(body = malloc(in->body_len ? in->body_len : 1)))
            return -1;
        memcpy(body, in->body, in->body_len);
        r->body = body;
    }
    /* the client's headers, less those the request names again */
    for (const struct curl_slist *l = c->headers; l; l = l->next)
        if (!header_named(in, l->data) &&
            fetch__slist_append(&t->req_headers, l->data) != 0)
            return -1;
    for (size_t i = 0; i < in->n_headers; i++)
        if (fetch__slist_append(&t->req_headers, in->headers[i]) != 0)
            return -1;
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

static fetch_task *submit(fetch_client *c, const char *url,
                          const fetch_request *in, fetch_done_cb cb, void *arg,
                          int *err)
{
    char detail[256], key[512];
    fetch_task *t;
    CURLU *u = NULL;
    int code = FETCH_OK;

    if (!c || !url || c->closing || (in && req_check(in) != FETCH_OK)) {
        if (err)
            *err = FETCH_E_INVAL;
        return NULL;
    }
    t = calloc(1, sizeof *t);
    if (!t || !(t->url = strdup(url)) || !(t->target = target_of(t->url)))
        goto fail;
    if (in && req_copy(t, c, in) != 0)
        goto fail;
    /* An http(s):// URL is parsed by libcurl when it starts anyway, and a
       malformed one is still this task's FETCH_E_URL then; parse it here
       too only when its host is needed now, or its scheme is in doubt. */
    if (!strncasecmp(url, "https://", 8))
        t->https = 1;
    else if (strncasecmp(t->target, "http://", 7) || c->opts.max_per_host > 0)
        code = -1;
    if (code != FETCH_OK) {
        if (!(u = curl_url()))
            goto fail;
        code = check_url(t, u, detail, sizeof detail);
    }
    if (code == FETCH_E_NOMEM)
        goto fail;
    if (code == FETCH_OK && u && c->opts.max_per_host > 0) {
        if (!host_key(u, key, sizeof key) ||
            !(t->host = fetch__client_host(c, key)))
            goto fail;
    }
    curl_url_cleanup(u);
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
    t->t_submit = fetch__now();
    t->resp.url = t->url;
    TAILQ_INSERT_TAIL(&c->tasks, t, all_link);
    TAILQ_INSERT_TAIL(&c->unfinished, t, u_link);
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
    if (c->trace.on_queued)
        c->trace.on_queued(t, c->trace.arg);
    if (err)
        *err = FETCH_OK;
    return t;
fail:
    curl_url_cleanup(u);
    if (t) {
        if (t->target != t->url)
            free(t->target);
        free(t->url);
        req_free(t->req);
        curl_slist_free_all(t->req_headers);
    }
    free(t);
    if (err)
        *err = FETCH_E_NOMEM;
    return NULL;
}

fetch_task *fetch_get(fetch_client *c, const char *url, fetch_done_cb cb,
                      void *arg)
{
    return submit(c, url, NULL, cb, arg, NULL);
}

fetch_task *fetch_submit(fetch_client *c, const fetch_request *req,
                         fetch_done_cb cb, void *arg, int *err)
{
    if (!req) {
        if (err)
            *err = FETCH_E_INVAL;
        return NULL;
    }
    return submit(c, req->url, req, cb, arg, err);
}

/* Options a request may change; a plain GET after one puts them back. */
static void set_request_options(fetch_task *t, CURL *e)
{
    const fetch_options *o = &t->client->opts;
    fetch_request *r = t->req;
    const char *m = r && r->method ? r->method : "GET";

    int has_body = r && r->body;

    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* also clears body, NOBODY */
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    if (has_body || !strcasecmp(m, "POST")) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(has_body ? r->body_len : 0));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, has_body ? r->body : "");
    }
    if (!strcasecmp(m, "HEAD"))
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcasecmp(m, "POST") && (strcasecmp(m, "GET") || has_body))
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER,
                     r ? t->req_headers : t->client->headers);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION,
                     (long)(r ? r->follow_redirects : o->follow_redirects));
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)t->max_body_size);
}

void fetch__task_start(fetch_task *t, struct fetch__handle *h)
{
    fetch_client *c = t->client;
    fetch_request *r = t->req;
    t->state = FETCH__RUNNING;
    t->t_start = fetch__now();
    t->resp.time_queued = t->t_start - t->t_submit;
    t->h = h;
    if (c->trace.on_started)
        c->trace.on_started(t, t->resp.time_queued, c->trace.arg);
    if (!h || (!t->body && !(t->body = evbuffer_new()))) {
        fetch__task_finish(t, FETCH_E_NOMEM, CURLE_OUT_OF_MEMORY, NULL);
        return;
    }
    if (r && r->sink_path) {
        r->sink_fd =
            open(r->sink_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (r->sink_fd < 0) {
            char detail[512];
            snprintf(detail, sizeof detail, "%s: %s", r->sink_path,
                     strerror(errno));
            fetch__task_finish(t, FETCH_E_WRITE, CURLE_OK, detail);
            return;
        }
    }
    CURL *e = h->easy;
    h->errbuf[0] = '\0';
    h->sock_errno = 0;
    t->max_body_size = r ? r->max_body_size : c->opts.max_body_size;
    if (r || h->dirty) {
        set_request_options(t, e);
        h->dirty = r != NULL;
    }
    curl_easy_setopt(e, CURLOPT_URL, t->target);
    /* HTTP/2: wait for the connection being set up and multiplex on it,
       rather than open one per transfer. HTTP/1.1: 7.88 walks every
       connection to the host looking for one to reuse, which a burst of
       new connections turns quadratic; skip the walk when none can be
       idle. (PIPEWAIT on http:// would stall, see LIBCURL-NOTES.) */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, (long)t->https);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, (long)(!t->https && !c->idle));
    if (!t->https && c->idle)
        c->idle--;
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    if (c->trace.on_first_byte)
        curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    /* counts from curl_multi_add_handle, i.e. from leaving the queue */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     to_ms(r ? r->timeout : c->opts.timeout));
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

/* Copy the last response's headers: the handle is reused after this. */
static void keep_headers(fetch_task *t, CURL *e)
{
    struct curl_header *h = NULL;
    size_t n = 0, bytes = 0;
    while ((h = curl_easy_nextheader(e, CURLH_HEADER, -1, h))) {
        n++;
        bytes += strlen(h->name) + strlen(h->value) + 2;
    }
    if (!n || !(t->headers = malloc(n * sizeof *t->headers + bytes)))
        return;
    char *p = (char *)(t->headers + n);
    for (h = NULL;
         t->n_headers < n && (h = curl_easy_nextheader(e, CURLH_HEADER, -1, h));
         t->n_headers++) {
        struct fetch__header *kept = &t->headers[t->n_headers];
        kept->name = strcpy(p, h->name);
        p += strlen(p) + 1;
        kept->value = strcpy(p, h->value);
        p += strlen(p) + 1;
    }
}

/* Did the transfer fail for want of a descriptor? socket() says so itself;
   the resolver's socketpair() does not, so after a failed resolve or
   connect, see whether one can be had now. */
static int out_of_descriptors(const struct fetch__handle *h, CURLcode cc)
{
    if (h->sock_errno == EMFILE || h->sock_errno == ENFILE)
        return 1;
    if (cc != CURLE_COULDNT_RESOLVE_HOST && cc != CURLE_COULDNT_CONNECT)
        return 0;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    return fd < 0 && (errno == EMFILE || errno == ENFILE);
}

/* libcurl finished the transfer: read what it knows before recycling. */
void fetch__task_complete(fetch_task *t, CURLcode cc)
{
    struct fetch__handle *h = t->h;
    CURL *e = h->easy;
    char buf[CURL_ERROR_SIZE + 32];
    const char *detail = NULL;
    int code = fetch__from_curl(cc);
    int fail_on_http = t->req ? t->req->fail_on_http_error
                              : t->client->opts.fail_on_http_error;

    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &t->resp.status);
    curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &t->resp.redirects);
    t->effective_url = info_strdup(e, CURLINFO_EFFECTIVE_URL);
    t->content_type = info_strdup(e, CURLINFO_CONTENT_TYPE);
    t->resp.effective_url = t->effective_url;
    t->resp.content_type = t->content_type;
    t->resp.time_connect = info_time(e, CURLINFO_CONNECT_TIME_T);
    t->resp.time_tls = info_time(e, CURLINFO_APPCONNECT_TIME_T);
    t->resp.time_first_byte = info_time(e, CURLINFO_STARTTRANSFER_TIME_T);
    if (t->resp.status && t->client->opts.keep_headers)
        keep_headers(t, e);
    long version = 0;
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
    if (cc == CURLE_OK && version < CURL_HTTP_VERSION_2_0 &&
        t->client->idle < (size_t)t->client->opts.max_concurrency)
        t->client->idle++; /* its connection is likely cached, idle */
    if (t->stop == STOP_TOO_LARGE || cc == CURLE_FILESIZE_EXCEEDED) {
        code = FETCH_E_TOO_LARGE;
        snprintf(buf, sizeof buf, "body larger than %zu bytes",
                 t->max_body_size);
        detail = buf;
    } else if (t->stop == STOP_BY_CALLBACK) {
        code = FETCH_E_CANCELLED;
        detail = "stopped by the data callback";
    } else if (t->stop == STOP_SINK_FAILED) {
        code = t->sink_errno == EMFILE || t->sink_errno == ENFILE
                   ? FETCH_E_NOFD
                   : FETCH_E_WRITE;
        snprintf(buf, sizeof buf, "writing the body: %s",
                 strerror(t->sink_errno));
        detail = buf;
    } else if (cc == CURLE_URL_MALFORMAT) { /* say why, as check_url() does */
        CURLU *u = curl_url();
        CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, t->target, 0)
                         : CURLUE_OUT_OF_MEMORY;
        snprintf(buf, sizeof buf, "malformed URL (%s)",
                 uc != CURLUE_OK ? curl_url_strerror(uc)
                                 : curl_easy_strerror(cc));
        curl_url_cleanup(u);
        detail = buf;
    } else if (out_of_descriptors(h, cc)) {
        code = FETCH_E_NOFD;
        snprintf(buf, sizeof buf, "out of file descriptors (%s)",
                 strerror(h->sock_errno ? h->sock_errno : EMFILE));
        detail = buf;
    } else if (cc != CURLE_OK) {
        detail = h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc);
    } else if (fail_on_http && t->resp.status >= 400) {
        code = FETCH_E_HTTP;
        snprintf(buf, sizeof buf, "HTTP status %ld", t->resp.status);
        detail = buf;
    }
    fetch__task_finish(t, code, cc, detail);
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
    TAILQ_REMOVE(&c->unfinished, t, u_link);
    t->resp.error = code;
    t->resp.curl_code = (int)cc;
    if (code != FETCH_OK) {
        char *m =
            fetch__message(t->url, detail ? detail : fetch_strerror(code));
        free(t->message); /* after use: detail may point into it */
        t->message = m;
        c->failures++;
    }
    t->resp.message = t->message;
    t->resp.body = "";
    if (t->body && evbuffer_add(t->body, "", 1) == 0) {
        t->resp.body_len = evbuffer_get_length(t->body) - 1;
        t->resp.body = (const char *)evbuffer_pullup(t->body, -1);
    }
    if (t->req && t->req->sink_path && t->req->sink_fd >= 0) {
        close(t->req->sink_fd);
        t->req->sink_fd = -1;
    }
    c->finished++;
    if (c->trace.on_finished)
        c->trace.on_finished(t, now - t->t_submit, c->trace.arg);
    if (c->destroying) {
        t->client = NULL; /* the teardown already unlinked it */
    } else {
        TAILQ_INSERT_TAIL(&c->completed, t, d_link);
        t->in_completed = 1;
    }
    if (t->cb)
        t->cb(t, t->cb_arg);
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
    if (t->state != FETCH__DONE) {
        fetch_client *c = t->client;
        t->freeing = 1; /* its callback may try to free it too */
        fetch__enter(c);
        fetch__task_finish(t, FETCH_E_CANCELLED, CURLE_OK, NULL);
        fetch__leave(c); /* may free the client: t is detached then */
    }
    t->magic = 0;
    if (t->client) {
        TAILQ_REMOVE(&t->client->tasks, t, all_link);
        t->client->ntasks--;
        fetch__completed_remove(t->client, t);
    }
    if (t->body)
        evbuffer_free(t->body);
    req_free(t->req);
    curl_slist_free_all(t->req_headers);
    if (t->target != t->url)
        free(t->target);
    free(t->url);
    free(t->message);
    free(t->effective_url);
    free(t->content_type);
    free(t->headers);
    free(t);
}

int fetch_task_cancel(fetch_task *t)
{
    if (!t || t->state == FETCH__DONE)
        return FETCH_E_INVAL;
    fetch_client *c = t->client;
    fetch__enter(c);
    fetch__task_finish(t, FETCH_E_CANCELLED, CURLE_OK, NULL);
    fetch__leave(c);
    return FETCH_OK;
}

int fetch_task_done(const fetch_task *t)
{
    return t && t->state == FETCH__DONE;
}

void *fetch_task_get_data(const fetch_task *t)
{
    return t ? t->cb_arg : NULL;
}

const char *fetch_task_url(const fetch_task *t)
{
    return t ? t->url : NULL;
}

const fetch_response *fetch_task_response(const fetch_task *t)
{
    return t && t->state == FETCH__DONE ? &t->resp : NULL;
}

const char *fetch_task_header(const fetch_task *t, const char *name,
                              size_t index)
{
    if (!t || !name)
        return NULL;
    for (size_t i = 0; i < t->n_headers; i++)
        if (!strcasecmp(t->headers[i].name, name) && index-- == 0)
            return t->headers[i].value;
    return NULL;
}

int fetch_task_header_at(const fetch_task *t, size_t i, const char **name,
                         const char **value)
{
    if (!t || i >= t->n_headers)
        return 0;
    if (name)
        *name = t->headers[i].name;
    if (value)
        *value = t->headers[i].value;
    return 1;
}
