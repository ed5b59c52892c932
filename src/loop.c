/* SPDX-License-Identifier: MIT */
/*
 * The event loops. Each loop is one libcurl multi handle driven by one
 * libevent event_base, and the only place that calls
 * curl_multi_socket_action: libcurl says which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to call it back
 * (CURLMOPT_TIMERFUNCTION); libevent says when that happens.
 *
 * The driver, after every call into libcurl: collect finished transfers,
 * hand each task back, take the next requests the scheduler allows, and
 * kick libcurl once more so that they start at once.
 *
 * One loop (the default) runs on the client's own event_base, in its
 * thread, and hands tasks back by a direct call. More loops each run in a
 * thread of their own; then the scheduler and the mailboxes below are
 * under the client's lock:
 * - a loop's inbox: requests dispatched to it, to start;
 * - a loop's cancels: started requests the client has finished early;
 * - the client's outbox: tasks a loop is done with.
 * A request goes to the loop with the fewest running ("free capacity"),
 * and a loop that finishes one takes the next itself, so a slot freed
 * anywhere is used at once and no request waits behind another loop's
 * slow one. Pokes through pipes wake a loop or the client, once per batch.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch-internal.h"

struct fetch__sock {
    struct event ev;
    curl_socket_t fd;
    int what; /* CURL_POLL_* currently armed */
    struct fetch__loop *loop;
    TAILQ_ENTRY(fetch__sock) link;
};

struct fetch__loop {
    fetch_client *c;
    struct event_base *base;
    int own_base; /* a thread's own */
    pthread_t thread;
    int has_thread;
    CURLM *multi;
    struct event *timer; /* libcurl's one timeout */
    int timer_on;
    TAILQ_HEAD(, fetch__sock) socks;
    size_t nsocks;
    struct fetch__handle **pool; /* idle easy handles, reused */
    size_t pool_len, pool_cap;
    size_t idle; /* HTTP/1.1 connections likely idle in libcurl's cache */
    /* under the client's lock */
    size_t running; /* handed to this loop and not handed back */
    struct fetch__task_list inbox, cancels;
    int quit, poked;
    /* a thread's */
    int pipe[2];
    struct event *wake;
    struct event *flush; /* hands tasks back within a millisecond */
    int flush_on;
    pthread_mutex_t data_lock; /* a cancel waits for a data callback */
};

static void poke(int fd)
{
    char b = 0;
    if (write(fd, &b, 1) < 0) { /* a full pipe is a poke already */
    }
}

static void drain(int fd)
{
    char buf[64];
    while (read(fd, buf, sizeof buf) == (ssize_t)sizeof buf)
        ;
}

/* ---- handing tasks back ---- */

/* Under the lock: the client should look at its outbox now. */
static void poke_client(fetch_client *c)
{
    if (!c->poked) {
        c->poked = 1;
        poke(c->pipe[1]);
    }
}

static void on_flush(evutil_socket_t fd, short ev, void *arg)
{
    struct fetch__loop *L = arg;
    (void)fd;
    (void)ev;
    L->flush_on = 0;
    fetch__lock(L->c);
    if (L->c->outbox_len)
        poke_client(L->c);
    fetch__unlock(L->c);
}

/* The loop is done with t: free its slots, and give it to the client. */
static void hand_back(struct fetch__loop *L, fetch_task *t)
{
    fetch_client *c = L->c;
    double now = fetch__now();
    fetch__lock(c);
    /* before its slot is free: a host that asks for time gets it first */
    if (!t->x.cancel_code) {
        const fetch_options *o = t->s.opts;
        enum fetch__outcome said = fetch__retry_host(t);
        double pause =
            t->x.retry_after >= 0
                ? t->x.retry_after
                : o->retry_backoff * (0.5 + fetch__sched_random(&c->sched));
        t->x.host_down =
            fetch__sched_outcome(&c->sched, &t->q, said, now, pause);
    }
    fetch__sched_done(&c->sched, &t->q);
    L->running--;
    t->on_loop = 0;
    if (t->in_cancels) {
        TAILQ_REMOVE(&L->cancels, t, c_link);
        t->in_cancels = 0;
    }
    if (c->threaded) {
        TAILQ_INSERT_TAIL(&c->outbox, t, m_link);
        t->in_outbox = 1;
        /* per batch, or within a millisecond: a wake costs two context
           switches */
        if (++c->outbox_len >= c->batch) {
            poke_client(c);
        } else if (!L->flush_on) {
            struct timeval ms = {0, 1000};
            L->flush_on = 1;
            evtimer_add(L->flush, &ms);
        }
    }
    fetch__unlock(c);
    if (!c->threaded)
        c->returned(t);
}

/* ---- transfers ---- */

static void recycle(struct fetch__loop *L, fetch_task *t)
{
    struct fetch__handle *h = t->x.h;
    t->x.h = NULL;
    curl_multi_remove_handle(L->multi, h->easy);
    if (L->pool_len < L->pool_cap && fetch__handle_reusable(&t->x))
        L->pool[L->pool_len++] = h;
    else
        fetch__handle_free(h);
    if (t->s.sink_path && t->x.sink_fd >= 0)
        close(t->x.sink_fd);
    t->x.sink_fd = -1;
}

/* A transfer that could not start ends here, with this code. */
static void fail_start(struct fetch__loop *L, fetch_task *t, int code,
                       char *detail)
{
    if (t->s.sink_path && t->x.sink_fd >= 0)
        close(t->x.sink_fd); /* opened before what failed */
    t->x.sink_fd = -1;
    t->x.code = code;
    t->x.detail = detail;
    hand_back(L, t);
}

/* Where a regular file stands that a body is about to be appended to (to
   cut a failed attempt's bytes off again), or -1. */
static long long sink_offset(int fd)
{
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    return fl & O_APPEND ? (long long)st.st_size
                         : (long long)lseek(fd, 0, SEEK_CUR);
}

static void start(struct fetch__loop *L, fetch_task *t)
{
    fetch_client *c = L->c;
    struct fetch__xfer *x = &t->x;
    struct fetch__handle *h;
    x->t_start = fetch__now();
    x->sink_fd = t->s.sink_fd;
    x->sink_start =
        x->sink_fd >= 0 && t->s.retries ? sink_offset(x->sink_fd) : -1;
    x->data_lock = c->threaded ? &L->data_lock : NULL;
    if (c->opts.trace.on_started)
        c->opts.trace.on_started(t, x->t_start - t->t_submit,
                                 c->opts.trace.arg);
    if (!t->s.on_data && x->sink_fd < 0 && !t->s.sink_path &&
        !(x->body = evbuffer_new())) {
        fail_start(L, t, FETCH_E_NOMEM, NULL);
        return;
    }
    if (t->s.sink_path &&
        (x->sink_fd = open(t->s.sink_path,
                           O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) <
            0) {
        char *why = NULL;
        if (asprintf(&why, "%s: %s", t->s.sink_path, strerror(errno)) < 0)
            why = NULL;
        fail_start(L, t, FETCH_E_WRITE, why);
        return;
    }
    h = L->pool_len ? L->pool[--L->pool_len] : fetch__handle_new(c);
    if (!h) {
        fail_start(L, t, FETCH_E_NOMEM, NULL);
        return;
    }
    fetch__handle_prepare(h, t, !L->idle);
    if (!t->https && L->idle)
        L->idle--;
    x->h = h;
    if (curl_multi_add_handle(L->multi, h->easy) != CURLM_OK) {
        x->h = NULL;
        L->pool[L->pool_len++] = h; /* the slot it came from is free */
        fail_start(L, t, FETCH_E_OTHER,
                   strdup("could not add the transfer to libcurl"));
    }
}

/* libcurl finished t's transfer. */
static void finished(struct fetch__loop *L, fetch_task *t, CURLcode cc)
{
    fetch__response_collect(t, cc);
    if (cc == CURLE_OK && t->x.http_version < CURL_HTTP_VERSION_2_0 &&
        L->idle < L->pool_cap)
        L->idle++; /* its connection is likely cached, idle */
    recycle(L, t);
    hand_back(L, t);
}

/* The client finished t early (cancel, timeout): stop its transfer. */
static void stop(struct fetch__loop *L, fetch_task *t)
{
    if (!t->x.h)
        return; /* it ended by itself meanwhile and was handed back */
    recycle(L, t);
    t->x.code = t->x.cancel_code;
    hand_back(L, t);
}

/* ---- dispatch ---- */

/* The loop for q: the one with the fewest running (self on a tie), or,
   for a host with few requests running and while it is not much busier,
   the one the host's last request went to: each loop has connections of
   its own, and that one likely has an idle one to the host (a host with
   many has them on every loop). */
static struct fetch__loop *pick(fetch_client *c, struct fetch__loop *self,
                                struct fetch__qnode *q)
{
    struct fetch__loop *best = self ? self : c->loops[0];
    if (c->nloops == 1)
        return best;
    int *home = fetch__sched_home(q, 2 * c->nloops);
    for (size_t i = 0; i < c->nloops; i++)
        if (c->loops[i]->running < best->running)
            best = c->loops[i];
    if (!home)
        return best;
    if (*home > 0 && (size_t)*home <= c->nloops) {
        struct fetch__loop *h = c->loops[*home - 1];
        size_t slack = c->sched.limit / (4 * c->nloops) + 1;
        if (h->running <= best->running + slack)
            best = h;
    }
    for (size_t i = 0; i < c->nloops; i++)
        if (c->loops[i] == best)
            *home = (int)i + 1;
    return best;
}

/* Under the lock: a request may now wait for a time (a delay, a rate, a
   back-off), or none may wait any more. The client's timer must go off
   by the first such time, and be gone when there is none (an idle client
   leaves no timer). Only the client's thread sets it: a loop thread (self)
   asks it through the outbox pipe. Returns 1 when the caller should call
   wake_set(at) once it has let go of the lock. */
static int wake_plan(fetch_client *c, struct fetch__loop *self, double *at)
{
    *at = fetch__sched_wake_at(&c->sched);
    if (c->closing ||
        (*at >= 0 ? c->wake_at >= 0 && *at >= c->wake_at : c->wake_at < 0))
        return 0;
    if (c->threaded && self) {
        c->rearm = 1;
        poke_client(c);
        return 0;
    }
    c->wake_at = *at;
    return 1;
}

static void wake_set(fetch_client *c, double at, double now)
{
    struct timeval tv;
    if (at < 0) {
        evtimer_del(c->sched_timer);
        return;
    }
    fetch__timeval(&tv, at - now);
    evtimer_add(c->sched_timer, &tv);
}

/* Take from the scheduler what may start now: start self's share here,
   hand the rest to their loops. Returns how many self started. */
static size_t refill(fetch_client *c, struct fetch__loop *self)
{
    struct fetch__task_list mine = TAILQ_HEAD_INITIALIZER(mine);
    struct fetch__loop *woken[FETCH__MAX_LOOPS];
    struct fetch__qnode *q;
    size_t nwoken = 0, started = 0;
    double now = fetch__now();
    fetch__lock(c);
    while (!c->closing && (q = fetch__sched_next(&c->sched, now))) {
        fetch_task *t = (fetch_task *)((char *)q - offsetof(fetch_task, q));
        struct fetch__loop *L = pick(c, self, q);
        L->running++;
        t->x.loop = L;
        t->on_loop = 1;
        t->t_start = now; /* for the client's side: the loop's own is
                             its to keep */
        if (L == self) {
            t->state = FETCH__RUNNING;
            TAILQ_INSERT_TAIL(&mine, t, m_link);
            continue;
        }
        t->state = FETCH__DISPATCHED;
        TAILQ_INSERT_TAIL(&L->inbox, t, m_link);
        if (!L->poked) {
            L->poked = 1;
            woken[nwoken++] = L;
        }
    }
    double at;
    int set = wake_plan(c, self, &at);
    fetch__unlock(c);
    if (set)
        wake_set(c, at, now);
    for (size_t i = 0; i < nwoken; i++)
        poke(woken[i]->pipe[1]);
    fetch_task *t;
    while ((t = TAILQ_FIRST(&mine))) {
        TAILQ_REMOVE(&mine, t, m_link);
        start(self, t);
        started++;
    }
    return started;
}

/*
 * After libcurl ran: collect finished transfers, then (outside any libcurl
 * callback) hand them back, refill from the scheduler, and let libcurl
 * start the new ones at once instead of waiting for another loop turn.
 */
static void process(struct fetch__loop *L)
{
    for (;;) {
        CURLMsg *msg;
        int left, running;
        while ((msg = curl_multi_info_read(L->multi, &left))) {
            fetch_task *t;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
            finished(L, t, msg->data.result);
        }
        if (refill(L->c, L) == 0)
            break;
        curl_multi_socket_action(L->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

void fetch__dispatch(fetch_client *c, struct fetch__loop *self)
{
    if (!c->threaded)
        process(c->loops[0]);
    else
        refill(c, self);
}

/* ---- libcurl's callbacks and libevent's ---- */

static short events_for(int what)
{
    short ev = EV_PERSIST; /* level-triggered: libcurl may not drain a socket */
    if (what & CURL_POLL_IN)
        ev |= EV_READ;
    if (what & CURL_POLL_OUT)
        ev |= EV_WRITE;
    return ev;
}

/* One client-thread loop runs the caller's callbacks: frame it, so that a
   fetch_client_free() from one of them waits until this returns. */
static void enter(struct fetch__loop *L)
{
    if (!L->c->threaded)
        fetch__enter(L->c);
}

static void leave(struct fetch__loop *L)
{
    if (!L->c->threaded)
        fetch__leave(L->c);
}

static void on_socket(evutil_socket_t fd, short ev, void *arg)
{
    struct fetch__sock *s = arg;
    struct fetch__loop *L = s->loop;
    int bits = 0, running;
    if (ev & EV_READ)
        bits |= CURL_CSELECT_IN;
    if (ev & EV_WRITE)
        bits |= CURL_CSELECT_OUT;
    enter(L); /* data callbacks run inside socket_action */
    /* s may be freed by the socket callback inside this call */
    curl_multi_socket_action(L->multi, fd, bits, &running);
    process(L);
    leave(L);
}

static void on_timer(evutil_socket_t fd, short ev, void *arg)
{
    struct fetch__loop *L = arg;
    int running;
    (void)fd;
    (void)ev;
    __atomic_store_n(&L->timer_on, 0, __ATOMIC_RELAXED);
    enter(L);
    curl_multi_socket_action(L->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    process(L);
    leave(L);
}

static void sock_free(struct fetch__loop *L, struct fetch__sock *s)
{
    event_del(&s->ev);
    TAILQ_REMOVE(&L->socks, s, link);
    __atomic_sub_fetch(&L->nsocks, 1, __ATOMIC_RELAXED);
    free(s);
}

/* CURLMOPT_SOCKETFUNCTION */
static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
                   void *socketp)
{
    struct fetch__loop *L = userp;
    struct fetch__sock *s = socketp;
    (void)easy;

    if (what == CURL_POLL_REMOVE) {
        if (s) {
            sock_free(L, s);
            curl_multi_assign(L->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        s->fd = fd;
        s->loop = L;
        TAILQ_INSERT_TAIL(&L->socks, s, link);
        __atomic_add_fetch(&L->nsocks, 1, __ATOMIC_RELAXED);
        curl_multi_assign(L->multi, fd, s);
    } else if (s->what == what) {
        return 0; /* unchanged: keep the armed event */
    } else {
        event_del(&s->ev);
    }
    s->what = what;
    event_assign(&s->ev, L->base, fd, events_for(what), on_socket, s);
    event_add(&s->ev, NULL);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 deletes, 0 means as soon as possible. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct fetch__loop *L = userp;
    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(L->timer);
    } else {
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        evtimer_add(L->timer, &tv);
    }
    __atomic_store_n(&L->timer_on, timeout_ms >= 0, __ATOMIC_RELAXED);
    return 0;
}

/* ---- a loop's thread ---- */

/* The client has work for this loop, or wants it to stop. */
static void on_wake(evutil_socket_t fd, short ev, void *arg)
{
    struct fetch__loop *L = arg;
    fetch_client *c = L->c;
    struct fetch__task_list in, cancels;
    fetch_task *t;
    (void)ev;
    drain(fd);
    TAILQ_INIT(&in);
    TAILQ_INIT(&cancels);
    fetch__lock(c);
    L->poked = 0;
    TAILQ_CONCAT(&in, &L->inbox, m_link);
    TAILQ_FOREACH(t, &in, m_link)
    t->state = FETCH__RUNNING;
    while ((t = TAILQ_FIRST(&L->cancels))) {
        TAILQ_REMOVE(&L->cancels, t, c_link);
        t->in_cancels = 0;
        TAILQ_INSERT_TAIL(&cancels, t, c_link);
    }
    int quit = L->quit;
    fetch__unlock(c);
    while ((t = TAILQ_FIRST(&cancels))) {
        TAILQ_REMOVE(&cancels, t, c_link);
        stop(L, t);
    }
    while ((t = TAILQ_FIRST(&in))) {
        TAILQ_REMOVE(&in, t, m_link);
        start(L, t);
    }
    if (quit) {
        event_base_loopbreak(L->base);
        return;
    }
    int running;
    curl_multi_socket_action(L->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    process(L);
}

static void *loop_main(void *arg)
{
    struct fetch__loop *L = arg;
    event_base_dispatch(L->base);
    return NULL;
}

/* ---- setting up and tearing down ---- */

static int pipe_pair(int fds[2])
{
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
}

/* An event_base that one thread runs: no locks, and libcurl's remove/add
   churn merged. */
struct event_base *fetch__base_new(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *b;
    if (!cfg)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK |
                                   EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    b = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return b;
}

static void loop_free(struct fetch__loop *L)
{
    struct fetch__sock *s;
    if (!L)
        return;
    if (L->multi)
        curl_multi_cleanup(L->multi); /* may report CURL_POLL_REMOVEs */
    while ((s = TAILQ_FIRST(&L->socks)))
        sock_free(L, s);
    while (L->pool_len)
        fetch__handle_free(L->pool[--L->pool_len]);
    free(L->pool);
    if (L->timer)
        event_free(L->timer);
    if (L->wake)
        event_free(L->wake);
    if (L->flush)
        event_free(L->flush);
    if (L->own_base) {
        close(L->pipe[0]);
        close(L->pipe[1]);
        pthread_mutex_destroy(&L->data_lock);
        if (L->base)
            event_base_free(L->base);
    }
    free(L);
}

/* Connections a loop keeps: libcurl counts those in use too, so a
   connection per slot, and as many again three times over idle for the
   hosts that come back (a crawl that serves many hosts' chains in turn
   keeps thousands alive: with one per slot each answer's connection would
   be closed at once), within the open-file limit that the slots leave (a
   socket and the resolver's two each). */
static long max_connects(const fetch_client *c, size_t nloops)
{
    long slots = c->opts.max_concurrency, want = 4 * slots;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        long room = ((long)rl.rlim_cur - 3 * slots - 64) / (long)nloops;
        if (room < want)
            want = room;
    }
    return want > slots ? want : slots;
}

static struct fetch__loop *loop_new(fetch_client *c, int threaded,
                                    size_t nloops)
{
    struct fetch__loop *L = calloc(1, sizeof *L);
    if (!L)
        return NULL;
    L->c = c;
    TAILQ_INIT(&L->socks);
    TAILQ_INIT(&L->inbox);
    TAILQ_INIT(&L->cancels);
    L->pipe[0] = L->pipe[1] = -1;
    /* a handle per slot at most: each loop may come to carry them all */
    L->pool_cap = (size_t)c->opts.max_concurrency;
    if (!(L->pool = calloc(L->pool_cap, sizeof *L->pool)))
        goto fail;
    if (threaded) {
        L->own_base = 1;
        pthread_mutex_init(&L->data_lock, NULL);
        if (!(L->base = fetch__base_new()) || pipe_pair(L->pipe) != 0 ||
            !(L->wake = event_new(L->base, L->pipe[0], EV_READ | EV_PERSIST,
                                  on_wake, L)) ||
            !(L->flush = evtimer_new(L->base, on_flush, L)) ||
            event_add(L->wake, NULL) != 0)
            goto fail;
    } else {
        L->base = c->base;
    }
    L->multi = curl_multi_init();
    L->timer = evtimer_new(L->base, on_timer, L);
    if (!L->multi || !L->timer)
        goto fail;
    curl_multi_setopt(L->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(L->multi, CURLMOPT_SOCKETDATA, L);
    curl_multi_setopt(L->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(L->multi, CURLMOPT_TIMERDATA, L);
    curl_multi_setopt(L->multi, CURLMOPT_MAXCONNECTS, max_connects(c, nloops));
    return L;
fail:
    loop_free(L);
    return NULL;
}

int fetch__loops_start(fetch_client *c)
{
    size_t n = (size_t)c->opts.loops;
    if (n == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 1 ? (size_t)cores : 1;
    }
    if (n > FETCH__MAX_LOOPS)
        n = FETCH__MAX_LOOPS;
    if (n > (size_t)c->opts.max_concurrency) /* a loop needs a slot */
        n = (size_t)c->opts.max_concurrency;
    c->threaded = n > 1;
    if (!(c->loops = calloc(n, sizeof *c->loops)))
        return FETCH_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(c->loops[i] = loop_new(c, c->threaded, n)))
            return FETCH_E_NOMEM;
        c->nloops++;
    }
    for (size_t i = 0; c->threaded && i < n; i++) {
        struct fetch__loop *L = c->loops[i];
        if (pthread_create(&L->thread, NULL, loop_main, L) != 0)
            return FETCH_E_LOOP;
        L->has_thread = 1;
    }
    return FETCH_OK;
}

/* Every task must be finished by now (started ones are on their loop's
   list of cancels): each loop stops them, hands them back and ends. */
void fetch__loops_stop(fetch_client *c)
{
    for (size_t i = 0; i < c->nloops; i++) {
        struct fetch__loop *L = c->loops[i];
        if (!L->has_thread)
            continue;
        fetch__lock(c);
        L->quit = 1;
        L->poked = 1;
        poke(L->pipe[1]);
        fetch__unlock(c);
        pthread_join(L->thread, NULL);
        L->has_thread = 0;
    }
    for (size_t i = 0; i < c->nloops; i++)
        loop_free(c->loops[i]);
    free(c->loops);
    c->loops = NULL;
    c->nloops = 0;
}

/*
 * The client finishes t (result, cancel, timeout, teardown): take it from
 * wherever it is, in one step under the lock, and mark it done. Returns the
 * state it was in. A queued task leaves the scheduler; one dispatched but
 * not started leaves its loop's inbox (its slot is free: the caller kicks
 * the dispatch); a started one is stopped, at once on
 * this thread, else by its loop, which hands it back later (its data
 * callback is not called again: the loop's data lock sees to that).
 */
enum fetch__state fetch__task_detach(fetch_task *t, int code)
{
    fetch_client *c = t->client;
    struct fetch__loop *L;
    enum fetch__state prev;
    int held = 0, set = 0;
    double at;
    fetch__lock(c);
    L = t->x.loop; /* set by refill(), under the lock */
    prev = t->state;
    t->state = FETCH__DONE;
    switch (prev) {
    case FETCH__QUEUED:
        fetch__sched_remove(&c->sched, &t->q);
        set = wake_plan(c, NULL, &at); /* it may have been the last */
        break;
    case FETCH__DISPATCHED: /* never started */
        TAILQ_REMOVE(&L->inbox, t, m_link);
        L->running--;
        t->on_loop = 0;
        fetch__sched_done(&c->sched, &t->q);
        break;
    case FETCH__RUNNING:
        t->x.cancel_code = code;
        held = t->on_loop; /* else it waits in the outbox: nothing to stop */
        if (c->threaded && held && !t->in_cancels) {
            TAILQ_INSERT_TAIL(&L->cancels, t, c_link);
            t->in_cancels = 1;
            if (!L->poked) {
                L->poked = 1;
                poke(L->pipe[1]);
            }
        }
        break;
    default:
        break;
    }
    fetch__unlock(c);
    if (set)
        wake_set(c, at, fetch__now());
    if (held && !c->threaded) {
        stop(L, t); /* this thread: now */
    } else if (held) {
        pthread_mutex_lock(&L->data_lock); /* a data callback under way */
        t->x.cancelled = 1;
        pthread_mutex_unlock(&L->data_lock);
    }
    return prev;
}

/* One blocking turn of the client's loop, for the waits. */
int fetch__loop_once(fetch_client *c)
{
    int rc = event_base_loop(c->base, EVLOOP_ONCE);
    if (rc < 0) /* libevent refuses reentry from the caller's own events */
        return FETCH_E_BUSY;
    if (rc == 1)
        return FETCH_E_LOOP; /* nothing pending: a wait could never end */
    return FETCH_OK;
}

void fetch__loops_count(fetch_client *c, size_t *sockets, size_t *timers)
{
    *sockets = *timers = 0;
    for (size_t i = 0; i < c->nloops; i++) {
        *sockets += __atomic_load_n(&c->loops[i]->nsocks, __ATOMIC_RELAXED);
        *timers +=
            (size_t)__atomic_load_n(&c->loops[i]->timer_on, __ATOMIC_RELAXED);
    }
}
