/* SPDX-License-Identifier: MIT */
/*
 * A response on its way in and at its end. The body sink and the outcome
 * run on the loop that carries the transfer and write only into the task's
 * xfer; fetch__response_fill() runs on the client's side once the loop has
 * handed the task back.
 */
#define _GNU_SOURCE /* vasprintf */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch-internal.h"

enum { STOP_TOO_LARGE = 1, STOP_BY_CALLBACK, STOP_SINK_FAILED, STOP_WIRE };

static int sink_write(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
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
    curl_easy_getinfo(t->x.h->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    if (cl <= 0 || (t->s.max_body_size && (size_t)cl > t->s.max_body_size) ||
        cl > ((curl_off_t)256 << 20))
        return;
    evbuffer_expand(t->x.body, (size_t)cl + 1); /* + the final NUL */
}

/* Hand a chunk to the data callback or the file: 0, or an errno value (as
   the callback returns it), or -1 to stop without one. */
static int stream(fetch_task *t, const char *p, size_t len)
{
    if (t->x.cancelled) /* the client has finished the task */
        return -1;
    if (t->s.on_data)
        return t->s.on_data(t, p, len, t->s.data_arg);
    return sink_write(t->x.sink_fd, p, len);
}

/* Stream a chunk under the loop's data lock: a cancel from another
   thread waits for it, and stops the next (no data callback after the
   completion callback). 0, or why it stopped (x->stop set). */
static int deliver(fetch_task *t, const char *p, size_t len)
{
    struct fetch__xfer *x = &t->x;
    pthread_mutex_t *lock = x->data_lock;
    if (lock)
        pthread_mutex_lock(lock);
    int rc = stream(t, p, len);
    if (lock)
        pthread_mutex_unlock(lock);
    if (rc != 0) {
        x->stop = rc > 0 ? STOP_SINK_FAILED : STOP_BY_CALLBACK;
        x->sink_errno = rc > 0 ? rc : 0;
    }
    return rc;
}

/* Everything held back goes out now, in order. 0 or as deliver(). */
static int deliver_held(fetch_task *t)
{
    struct fetch__xfer *x = &t->x;
    struct evbuffer_iovec v;
    int rc = 0;
    while (rc == 0 && evbuffer_peek(x->held, -1, NULL, &v, 1) > 0) {
        rc = deliver(t, v.iov_base, v.iov_len);
        evbuffer_drain(x->held, v.iov_len);
    }
    evbuffer_free(x->held);
    x->held = NULL;
    return rc;
}

/* CURLOPT_WRITEFUNCTION: where the body goes. Returning less than given
   makes libcurl stop with CURLE_WRITE_ERROR. */
size_t fetch__on_body(char *p, size_t size, size_t n, void *arg)
{
    fetch_task *t = arg;
    struct fetch__xfer *x = &t->x;
    size_t len = size * n;
    int to_memory = !t->s.on_data && x->sink_fd < 0;

    if (x->stop) /* the wire callback failed */
        return 0;
    if (!x->bytes && to_memory)
        reserve_body(t);
    if (!x->bytes && !to_memory) {
        /* curl --fail: no error page in the output. An answer that will
           be retried is held back: if its retry is not made after all
           (the deadline, the budget) it is the result, and goes out then */
        long status = 0;
        curl_easy_getinfo(x->h->easy, CURLINFO_RESPONSE_CODE, &status);
        x->drop_body = t->s.fail_on_http_error && status >= 400;
        if (!x->drop_body && fetch__retry_status(t, status) &&
            !(x->held = evbuffer_new()))
            return 0;
    }
    /* atomic: the client reads it when it cancels the transfer */
    __atomic_store_n(&x->bytes, x->bytes + len, __ATOMIC_RELAXED);
    if (t->s.max_body_size && x->bytes > t->s.max_body_size) {
        x->stop = STOP_TOO_LARGE;
        return 0;
    }
    if (to_memory)
        return evbuffer_add(x->body, p, len) == 0 ? len : 0;
    if (x->drop_body)
        return len;
    if (x->held) {
        if (x->bytes <= FETCH__HOLD_MAX)
            return evbuffer_add(x->held, p, len) == 0 ? len : 0;
        /* too large to hold: it goes out, and a retry takes it back as
           that of a body cut off midway */
        if (deliver_held(t) != 0)
            return 0;
    }
    return deliver(t, p, len) == 0 ? len : 0;
}

static void sink_outcome(fetch_task *t);

int fetch__held_release(fetch_task *t)
{
    struct fetch__xfer *x = &t->x;
    int rc = 0;
    if (!x->held)
        return 0;
    x->data_lock = NULL; /* the loop is done with it: this thread's now */
    x->sink_fd = t->s.sink_fd;
    if (t->s.sink_path &&
        (x->sink_fd = open(t->s.sink_path, O_WRONLY | O_APPEND | O_CLOEXEC)) <
            0)
        rc = errno;
    if (rc == 0) {
        rc = deliver_held(t);
    } else {
        x->stop = STOP_SINK_FAILED;
        x->sink_errno = rc;
    }
    if (t->s.sink_path && x->sink_fd >= 0)
        close(x->sink_fd);
    x->sink_fd = -1;
    if (rc != 0)
        sink_outcome(t);
    return rc;
}

/* CURLOPT_HEADERFUNCTION, installed only when a trace hook wants the first
   byte. */
size_t fetch__on_header(char *p, size_t size, size_t n, void *arg)
{
    fetch_task *t = arg;
    const fetch_trace *tr = &t->s.opts->trace;
    (void)p;
    if (!t->x.first_byte_seen) {
        t->x.first_byte_seen = 1;
        tr->on_first_byte(t, fetch__now() - t->t_submit, tr->arg);
    }
    return size * n;
}

/* CURLOPT_DEBUGFUNCTION: the wire, for the wire callback. libcurl has no
   way to stop a transfer from here: a failure stops it at the next body
   chunk (fetch__on_body), or at its end (fetch__response_collect). */
int fetch__on_wire(CURL *e, curl_infotype type, char *p, size_t len, void *arg)
{
    fetch_task *t = arg;
    struct fetch__xfer *x = &t->x;
    fetch_wire w = {.data = p, .len = len};
    switch (type) {
    case CURLINFO_HEADER_OUT:
        w.kind = FETCH_WIRE_REQUEST;
        curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &w.url);
        curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &w.ip);
        if (!w.url)
            w.url = t->target;
        if (!w.ip)
            w.ip = "";
        break;
    case CURLINFO_DATA_OUT:
        w.kind = FETCH_WIRE_REQUEST_BODY;
        break;
    case CURLINFO_HEADER_IN:
        w.kind = FETCH_WIRE_RESPONSE_HEAD;
        break;
    case CURLINFO_DATA_IN:
        w.kind = FETCH_WIRE_RESPONSE_BODY;
        break;
    default:
        return 0;
    }
    if (x->stop)
        return 0;
    pthread_mutex_t *lock = x->data_lock;
    if (lock)
        pthread_mutex_lock(lock);
    int rc = x->cancelled ? 0 : t->s.on_wire(t, &w, t->s.wire_arg);
    if (lock)
        pthread_mutex_unlock(lock);
    if (rc != 0) {
        x->stop = STOP_WIRE;
        x->sink_errno = rc > 0 ? rc : 0;
    }
    return 0;
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
static void keep_headers(struct fetch__xfer *x, CURL *e)
{
    struct curl_header *h = NULL;
    size_t n = 0, bytes = 0;
    while ((h = curl_easy_nextheader(e, CURLH_HEADER, -1, h))) {
        n++;
        bytes += strlen(h->name) + strlen(h->value) + 2;
    }
    if (!n || !(x->headers = malloc(n * sizeof *x->headers + bytes)))
        return;
    char *p = (char *)(x->headers + n);
    for (h = NULL;
         x->n_headers < n && (h = curl_easy_nextheader(e, CURLH_HEADER, -1, h));
         x->n_headers++) {
        struct fetch__header *kept = &x->headers[x->n_headers];
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
    int fd = dup(2);
    if (fd >= 0)
        close(fd);
    return fd < 0 && (errno == EMFILE || errno == ENFILE);
}

static char *printed(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static char *printed(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* The body sink stopped the transfer (x->stop): the result says why. */
static void sink_outcome(fetch_task *t)
{
    struct fetch__xfer *x = &t->x;
    free(x->detail);
    if (x->stop == STOP_BY_CALLBACK) {
        x->code = FETCH_E_CANCELLED;
        x->detail = strdup("stopped by the data callback");
    } else if (x->stop == STOP_WIRE) {
        x->code = FETCH_E_WRITE;
        x->detail = x->sink_errno ? printed("recording the transfer failed: %s",
                                            strerror(x->sink_errno))
                                  : strdup("recording the transfer failed");
    } else {
        x->code = x->sink_errno == EMFILE || x->sink_errno == ENFILE
                      ? FETCH_E_NOFD
                      : FETCH_E_WRITE;
        x->detail = printed("writing the body: %s", strerror(x->sink_errno));
    }
}

/* What the retry rules need: was the request sent, did the server say
   when to come back (Retry-After: libcurl 7.88 gives a date in the past
   as a negative delay, and 0 when there is no such header), and what the
   attempt says of its host. */
static void retry_facts(fetch_task *t, CURL *e)
{
    struct fetch__xfer *x = &t->x;
    struct curl_header *h;
    long sent = 0;
    curl_off_t after = 0;
    curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &sent);
    x->sent = sent > 0;
    x->retry_after = -1;
    if (x->status && t->s.opts->retry_after_max > 0 &&
        curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &h) ==
            CURLHE_OK &&
        curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &after) == CURLE_OK) {
        x->retry_after = after < 0 ? 0 : (double)after;
        if (x->retry_after > t->s.opts->retry_after_max)
            x->retry_after = t->s.opts->retry_after_max;
    }
}

/* The transfer is over (cc from libcurl): read what libcurl knows and
   decide the result, before the handle is reused. */
void fetch__response_collect(fetch_task *t, CURLcode cc)
{
    struct fetch__xfer *x = &t->x;
    struct fetch__handle *h = x->h;
    CURL *e = h->easy;

    x->cc = cc;
    x->code = fetch__from_curl(cc);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &x->status);
    curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &x->redirects);
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &x->http_version);
    x->effective_url = info_strdup(e, CURLINFO_EFFECTIVE_URL);
    x->content_type = info_strdup(e, CURLINFO_CONTENT_TYPE);
    x->time_connect = info_time(e, CURLINFO_CONNECT_TIME_T);
    x->time_tls = info_time(e, CURLINFO_APPCONNECT_TIME_T);
    x->time_first_byte = info_time(e, CURLINFO_STARTTRANSFER_TIME_T);
    x->time_total = fetch__now() - x->t_start;
    if (x->status && t->s.opts->keep_headers)
        keep_headers(x, e);
    retry_facts(t, e);
    if (x->stop == STOP_TOO_LARGE || cc == CURLE_FILESIZE_EXCEEDED) {
        x->code = FETCH_E_TOO_LARGE;
        x->detail = printed("body larger than %zu bytes", t->s.max_body_size);
    } else if (x->stop) {
        sink_outcome(t);
    } else if (cc == CURLE_URL_MALFORMAT) { /* say why, as submit does */
        CURLU *u = curl_url();
        CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, t->target, 0)
                         : CURLUE_OUT_OF_MEMORY;
        x->detail = printed("malformed URL (%s)", uc != CURLUE_OK
                                                      ? curl_url_strerror(uc)
                                                      : curl_easy_strerror(cc));
        curl_url_cleanup(u);
    } else if (out_of_descriptors(h, cc)) {
        x->code = FETCH_E_NOFD;
        x->detail = printed("out of file descriptors (%s)",
                            strerror(h->sock_errno ? h->sock_errno : EMFILE));
    } else if (cc != CURLE_OK) {
        x->detail = strdup(h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc));
    } else if (t->s.fail_on_http_error && x->status >= 400) {
        x->code = FETCH_E_HTTP;
        x->detail = printed("HTTP status %ld", x->status);
    }
}

/* The body as a NUL-terminated string, and the rest of the outcome, into
   the task's response (on the client's side). */
void fetch__response_fill(fetch_task *t)
{
    struct fetch__xfer *x = &t->x;
    fetch_response *r = &t->resp;
    r->status = x->status;
    r->redirects = x->redirects;
    r->http_version = x->http_version == CURL_HTTP_VERSION_1_0   ? 10
                      : x->http_version == CURL_HTTP_VERSION_1_1 ? 11
                      : x->http_version == CURL_HTTP_VERSION_2_0 ? 20
                      : x->http_version == CURL_HTTP_VERSION_3   ? 30
                                                                 : 0;
    r->effective_url = x->effective_url;
    r->content_type = x->content_type;
    r->time_connect = x->time_connect;
    r->time_tls = x->time_tls;
    r->time_first_byte = x->time_first_byte;
    r->time_total = x->time_total;
    r->bytes = x->bytes;
    if (x->body && evbuffer_add(x->body, "", 1) == 0) {
        r->body_len = evbuffer_get_length(x->body) - 1;
        r->body = (const char *)evbuffer_pullup(x->body, -1);
    }
}

void fetch__xfer_free(struct fetch__xfer *x)
{
    if (x->body)
        evbuffer_free(x->body);
    if (x->held)
        evbuffer_free(x->held);
    x->held = NULL;
    free(x->detail);
    free(x->effective_url);
    free(x->content_type);
    free(x->headers);
    x->body = NULL;
    x->detail = x->effective_url = x->content_type = NULL;
    x->headers = NULL;
    x->n_headers = 0;
}
