/*
 * The event glue: the only place that calls curl_multi_socket_action.
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when
 * to call it back (CURLMOPT_TIMERFUNCTION); libevent tells us when that
 * happens. Nothing here polls or scans all transfers.
 */
#include <stdlib.h>
#include <time.h>

#include "fetch-internal.h"

double fetch__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds as a timeval for libevent; beyond ten years is "never" anyway. */
void fetch__timeval(struct timeval *tv, double s)
{
    if (s > 3e8)
        s = 3e8;
    tv->tv_sec = (time_t)s;
    tv->tv_usec = (suseconds_t)((s - (double)tv->tv_sec) * 1e6);
}

static short events_for(int what)
{
    short ev = EV_PERSIST; /* level-triggered: libcurl may not drain a socket */
    if (what & CURL_POLL_IN)
        ev |= EV_READ;
    if (what & CURL_POLL_OUT)
        ev |= EV_WRITE;
    return ev;
}

static void on_socket(evutil_socket_t fd, short ev, void *arg)
{
    struct fetch__sock *s = arg;
    fetch_client *c = s->client;
    int bits = 0, running;
    if (ev & EV_READ)
        bits |= CURL_CSELECT_IN;
    if (ev & EV_WRITE)
        bits |= CURL_CSELECT_OUT;
    fetch__enter(c); /* data callbacks run inside socket_action */
    /* s may be freed by the socket callback inside this call */
    curl_multi_socket_action(c->multi, fd, bits, &running);
    fetch__loop_process(c);
    fetch__leave(c);
}

static void on_timer(evutil_socket_t fd, short ev, void *arg)
{
    fetch_client *c = arg;
    int running;
    (void)fd;
    (void)ev;
    fetch__enter(c);
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    fetch__loop_process(c);
    fetch__leave(c);
}

static void sock_free(fetch_client *c, struct fetch__sock *s)
{
    event_del(&s->ev);
    TAILQ_REMOVE(&c->socks, s, link);
    c->nsocks--;
    free(s);
}

/* CURLMOPT_SOCKETFUNCTION */
static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
                   void *socketp)
{
    fetch_client *c = userp;
    struct fetch__sock *s = socketp;
    (void)easy;

    if (what == CURL_POLL_REMOVE) {
        if (s) {
            sock_free(c, s);
            curl_multi_assign(c->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        s->fd = fd;
        s->client = c;
        TAILQ_INSERT_TAIL(&c->socks, s, link);
        c->nsocks++;
        curl_multi_assign(c->multi, fd, s);
    } else if (s->what == what) {
        return 0; /* unchanged: keep the armed event */
    } else {
        event_del(&s->ev);
    }
    s->what = what;
    event_assign(&s->ev, c->base, fd, events_for(what), on_socket, s);
    event_add(&s->ev, NULL);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 deletes, 0 means as soon as possible. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    fetch_client *c = userp;
    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(c->timer);
    } else {
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        evtimer_add(c->timer, &tv);
    }
    return 0;
}

int fetch__loop_init(fetch_client *c)
{
    TAILQ_INIT(&c->socks);
    c->multi = curl_multi_init();
    c->timer = evtimer_new(c->base, on_timer, c);
    if (!c->multi || !c->timer)
        return FETCH_E_NOMEM;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    /* keep a connection per slot, or the cache evicts and reconnects */
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
                      (long)c->opts.max_concurrency);
    return FETCH_OK;
}

void fetch__loop_free(fetch_client *c)
{
    struct fetch__sock *s;
    if (c->multi)
        curl_multi_cleanup(c->multi); /* may report CURL_POLL_REMOVEs */
    c->multi = NULL;
    while ((s = TAILQ_FIRST(&c->socks)))
        sock_free(c, s);
    if (c->timer)
        event_free(c->timer);
    c->timer = NULL;
}

/*
 * After libcurl ran: collect finished transfers, then (outside any libcurl
 * callback) remove them, refill from the queue, and let libcurl start the
 * new ones at once instead of waiting for another loop turn.
 */
void fetch__loop_process(fetch_client *c)
{
    for (;;) {
        CURLMsg *msg;
        int left, running;

        while ((msg = curl_multi_info_read(c->multi, &left))) {
            fetch_task *t;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
            /* removes the handle: fine here, we are not inside libcurl */
            fetch__task_complete(t, msg->data.result);
        }
        if (fetch__client_admit(c) == 0)
            break;
        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

/* One blocking turn of the loop, for the waits (never from a callback). */
int fetch__loop_once(fetch_client *c)
{
    int rc = event_base_loop(c->base, EVLOOP_ONCE);
    if (rc < 0) /* libevent refuses reentry from the caller's own events */
        return FETCH_E_BUSY;
    if (rc == 1)
        return FETCH_E_LOOP; /* nothing pending: a wait could never end */
    return FETCH_OK;
}
