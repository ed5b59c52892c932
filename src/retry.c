/* SPDX-License-Identifier: MIT */
/*
 * Which failed attempts are retried, what an answer says of its host, and
 * how long a retry waits: the rules of urllib3's Retry, written out in
 * libfetch.h ("Retries", "Hosts"). Pure functions of an attempt's outcome
 * (the task's xfer) and the settings; the client acts on them (task.c),
 * the loop tells the scheduler (loop.c).
 */
#include <math.h>

#include "fetch-internal.h"

/* Attempts left after the current one. */
static int left(const fetch_task *t)
{
    return t->s.retries - (t->attempt - 1);
}

/* Would an answer with this status be retried (if attempts are left)? */
static int status_retried(const fetch_task *t, long status)
{
    if (status < 100 || status > 599)
        return 0;
    if (t->s.opts->retry_all_errors)
        return status >= 400;
    return t->s.idempotent && t->s.retry_status[status];
}

/* Is status one to retry, with attempts left? Then its body is not
   streamed: it is not the result. */
int fetch__retry_status(const fetch_task *t, long status)
{
    return left(t) > 0 && status_retried(t, status);
}

/* Is the failed attempt in t->x one that may pass if tried again? */
int fetch__retry_wanted(const fetch_task *t)
{
    const struct fetch__xfer *x = &t->x;
    int all = t->s.opts->retry_all_errors;
    /* after the request went out, only what may be sent twice */
    int again = !x->sent || t->s.idempotent || all;
    if (x->stop) /* too large, or the body could not be kept */
        return 0;
    switch (x->code) {
    case FETCH_OK:
    case FETCH_E_HTTP:
        return status_retried(t, x->status);
    case FETCH_E_RESOLVE: /* libcurl does not tell "no such name" from a
                             resolver that failed: both may pass */
    case FETCH_E_CONNECT:
        return 1;
    case FETCH_E_TIMEOUT: /* libcurl's: the connect or per-request timeout */
        return again;
    case FETCH_E_TLS: /* a handshake that broke off; never a certificate */
        return x->cc == CURLE_SSL_CONNECT_ERROR;
    case FETCH_E_TRANSFER:
        switch (x->cc) {
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_HTTP3:
            return again;
        default:
            return all;
        }
    case FETCH_E_OTHER:
        return all;
    default: /* URL, protocol, redirects, size, write, descriptors, cancel */
        return 0;
    }
}

/* What the attempt says of its host, for the scheduler. Only a failure
   to reach it counts towards its breaker: no name, refused, unreachable,
   a connect timeout, a TLS handshake that did not complete. An attempt
   that got a connection up (a request went out on it) is an answer,
   whatever became of it then: a read timeout on a connection the host
   accepted says nothing about whether the host can be reached. */
enum fetch__outcome fetch__retry_host(const fetch_task *t)
{
    const struct fetch__xfer *x = &t->x;
    if (x->status) {
        /* a host asking for time: "too many requests" (with a Retry-After,
           or when the request will be retried), or "unavailable" for as
           long as it says. A 503 without Retry-After holds back only its
           own request: a server that fails one request in ten must not
           stall the other nine */
        if ((x->status == 429 &&
             (x->retry_after >= 0 || fetch__retry_status(t, x->status))) ||
            (x->status == 503 && x->retry_after >= 0))
            return FETCH__HOST_PUSHBACK;
        return FETCH__HOST_OK;
    }
    if (x->requests > 0)
        return FETCH__HOST_OK;
    switch (x->code) {
    case FETCH_E_RESOLVE:
    case FETCH_E_CONNECT:
    case FETCH_E_TIMEOUT: /* before a request went out: connect or TLS */
        return FETCH__HOST_DOWN;
    case FETCH_E_TLS:
        return x->cc == CURLE_SSL_CONNECT_ERROR ? FETCH__HOST_DOWN
                                                : FETCH__HOST_OK;
    default:
        return FETCH__HOST_OTHER;
    }
}

/* Seconds before retry number attempt (1, 2, ...): full-jitter back-off
   (random in [0, 1)), or the server's Retry-After when that is longer. */
double fetch__retry_delay(const fetch_options *o, int attempt,
                          double retry_after, double random)
{
    double cap = o->retry_backoff * ldexp(1, attempt > 60 ? 60 : attempt - 1);
    if (o->retry_backoff_max && cap > o->retry_backoff_max)
        cap = o->retry_backoff_max;
    double wait = random * cap;
    if (retry_after > wait)
        wait = retry_after;
    return wait;
}
