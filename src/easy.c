/* SPDX-License-Identifier: MIT */
/*
 * Easy handles: a new one carries the client's options; preparing one for a
 * task sets what differs per transfer. A plain GET changes only the URL and
 * the per-transfer pointers, so a reused handle costs a few setopt calls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "fetch-internal.h"

/* curl_slist_append, keeping the list whole when it fails */
int fetch__slist_append(struct curl_slist **list, const char *s)
{
    struct curl_slist *l = curl_slist_append(*list, s);
    if (!l)
        return -1;
    *list = l;
    return 0;
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

/* CURLOPT_PREREQFUNCTION: a request is about to go out on a connection
   that is up (TCP, and TLS for https): the host was reached. Called again
   for each redirect and each time libcurl sends the request anew itself
   (a reused connection that had died, an HTTP/2 stream refused or above a
   GOAWAY's last stream id). */
static int on_request(void *arg, char *ip, char *local_ip, int port,
                      int local_port)
{
    fetch_task *t = arg;
    (void)ip;
    (void)local_ip;
    (void)port;
    (void)local_port;
    t->x.requests++;
    if (t->q.opener) { /* the host's others may come: its loop takes them
                          from the scheduler once libcurl returns */
        fetch_client *c = t->x.h->client;
        fetch__lock(c);
        fetch__sched_opened(&c->sched, &t->q);
        fetch__unlock(c);
    }
    return CURL_PREREQFUNC_OK;
}

struct fetch__handle *fetch__handle_new(fetch_client *c)
{
    struct fetch__handle *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    if (!(h->easy = curl_easy_init())) {
        free(h);
        return NULL;
    }
    h->client = c;
    const fetch_options *o = &c->opts;
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
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fetch__on_body);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_request);
    if (o->trace.on_first_byte)
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, fetch__on_header);
    curl_easy_setopt(e, CURLOPT_USERAGENT,
                     o->user_agent ? o->user_agent : FETCH_USER_AGENT);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING,
                     o->accept_encoding ? o->accept_encoding : "");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, (long)o->follow_redirects);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)o->max_redirects);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* 0 is "none" here; to libcurl it would mean its default, 300 s */
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     o->connect_timeout > 0 ? to_ms(o->connect_timeout)
                                            : 0x7fffffffL);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)o->max_body_size);
    if (c->share)
        curl_easy_setopt(e, CURLOPT_SHARE, c->share);
    if (o->cookies) /* the client's cookie jar, in memory */
        curl_easy_setopt(e, CURLOPT_COOKIEFILE, "");
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

int fetch__handle_reusable(const struct fetch__xfer *x)
{
    /* libcurl 7.88 counts the requests it sends anew by itself per easy
       handle, not per transfer, and gives up at five ("Connection died,
       tried 5 times before giving up"): on a pooled handle the count of
       many transfers adds up until one fails for no reason of its own.
       A handle that resent is not reused (curl_easy_reset() would set the
       count back, but loses the cookie engine's list on the way) */
    return x->requests <= 1 + (x->redirects > 0 ? x->redirects : 0);
}

void fetch__handle_free(struct fetch__handle *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->easy);
    free(h);
}

/* What a custom request may change; a plain GET after one puts it back. */
static void custom_options(CURL *e, const struct fetch__settings *s)
{
    const char *m = s->method ? s->method : "GET";
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* also clears body, NOBODY */
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    if (s->body || !strcasecmp(m, "POST")) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(s->body ? s->body_len : 0));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->body ? s->body : "");
    }
    if (!strcasecmp(m, "HEAD"))
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcasecmp(m, "POST") && (strcasecmp(m, "GET") || s->body))
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, (long)s->follow_redirects);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)s->max_redirects);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)s->max_body_size);
    /* the wire is seen through libcurl's debug hook, which only verbose
       mode calls */
    curl_easy_setopt(e, CURLOPT_VERBOSE, (long)(s->on_wire != NULL));
    curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION,
                     s->on_wire ? fetch__on_wire : NULL);
}

/* Set h up for t's transfer. fresh: no HTTP/1.1 connection can be idle. */
void fetch__handle_prepare(struct fetch__handle *h, fetch_task *t, int fresh)
{
    CURL *e = h->easy;
    h->errbuf[0] = '\0';
    h->sock_errno = 0;
    if (t->s.custom || h->dirty) {
        custom_options(e, &t->s);
        h->dirty = t->s.custom;
    }
    curl_easy_setopt(e, CURLOPT_URL, t->target);
    /* HTTP/2: wait for the connection being set up and multiplex on it,
       rather than open one per transfer. HTTP/1.1: 7.88 walks every
       connection to the host looking for one to reuse, which a burst of
       new connections turns quadratic; skip the walk when none can be
       idle. PIPEWAIT on an http:// URL would stall every transfer behind
       the first response (libcurl thinks HTTP/2 might come), so it is set
       for https only. */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, (long)t->https);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, (long)(!t->https && fresh));
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, t);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_DEBUGDATA, t);
    /* only with a header function: without one, libcurl hands the headers
       to the write function when this is set */
    if (t->s.opts->trace.on_first_byte)
        curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    /* counts from curl_multi_add_handle, i.e. from leaving the queue */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, to_ms(t->s.timeout));
}
