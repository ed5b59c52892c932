/*
 * The fetch loop. Worker threads each run their own event_base with their
 * own client (libfetch's embedded mode: one client per thread); the main
 * thread reads URLs, deals URL i to worker i % N, and writes each result in
 * request order (default) or completion order (--as-completed). A written
 * task goes back to its worker to be freed. Submission runs ahead of
 * writing by a bounded window, so memory follows the window, not the input.
 *
 * Streaming: with -N, or when stdout is a regular file that fetchall
 * appends to, the oldest body is not held back: once the main thread waits
 * for it, its worker writes each chunk to stdout as it arrives. Into a file
 * a body that then fails is cut off again (ftruncate), so that, as with a
 * pipe, a failed request leaves no body; the cut is made only when the
 * file still ends with that body's bytes, and before the error line (which
 * may go to the same file).
 *
 * Signals (SIGINT, SIGTERM, SIGHUP) are taken by one thread with sigwait():
 * it removes -o's temporary files, cuts stdout back to the last complete
 * result, and ends the process with the same signal. Every use of stdout
 * holds out_lock, so that it finds results whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "fetchall.h"

typedef struct worker worker;
typedef struct runner runner;

/* One request from the moment it is read until its worker frees it. */
typedef struct slot {
    size_t index; /* 1-based position in the input */
    char *url;
    worker *w;
    fetch_task *task;        /* written by the worker before done is set */
    int done;                /* under runner.lock */
    int file_error;          /* -o: DIR/N could not be made (errno) */
    part part;               /* -o: the body's temporary file */
    struct evbuffer *body;   /* streaming: what arrived, not written yet */
    off_t start;             /* streaming into a file: where the body begins */
    size_t streamed;         /* ... and how much of it is in the file */
    STAILQ_ENTRY(slot) link; /* in an inbox, the finished or freed list */
} slot;

typedef STAILQ_HEAD(slot_list, slot) slot_list;

struct worker {
    runner *r;
    pthread_t thread;
    struct event_base *base;
    fetch_client *client;
    struct event *wake;
    int pipe[2];     /* the main thread pokes the worker through it */
    int poked;       /* under lock: a poke is pending */
    slot_list inbox; /* under lock: to submit */
    slot_list freed; /* under lock: written, to free */
    int quit;        /* under lock */
};

struct runner {
    const config *cfg;
    input *in;
    worker *workers;
    size_t nworkers;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int waiting;        /* under lock: the main thread is waiting */
    size_t ready;       /* under lock: finished since it last woke */
    size_t batch;       /* wake it when this many are ready */
    slot_list finished; /* under lock: completion order (--as-completed) */
    size_t submitted, outstanding, window;
    int input_done;
    int failed;
    int plain;    /* GET, no body, no -o: fetch_get() will do */
    int stream;   /* -N or a file: bodies to stdout in request order */
    int seekable; /* stdout is a regular file we write at the end of */
    int append;   /* ... opened with O_APPEND (>>) */
    int retract;  /* ... and a failed body is cut off again (not -N) */
    pthread_mutex_t out_lock; /* every use of stdout */
    slot *streaming;          /* under out_lock: the body going out now */
    sigset_t signals;
    pthread_t signal_thread;
};

/* Empty l; its slots stay chained through link, first one returned. */
static slot *take_all(slot_list *l)
{
    slot *s = STAILQ_FIRST(l);
    STAILQ_INIT(l);
    return s;
}

static void fatal(const char *what)
{
    fprintf(stderr, "fetchall: %s\n", what);
    exit(1);
}

/* stdout went away (e.g. `| head`): end the way a pipeline expects. */
static void stdout_failed(void)
{
    if (errno == EPIPE) {
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
    }
    perror("fetchall: stdout");
    exit(1);
}

static void flush_stdout(void)
{
    if (fflush(stdout) != 0)
        stdout_failed();
}

/* Under out_lock: where the next byte written to stdout lands. */
static off_t stdout_end(const runner *r)
{
    struct stat st;
    if (!r->append)
        return lseek(STDOUT_FILENO, 0, SEEK_CUR);
    return fstat(STDOUT_FILENO, &st) == 0 ? st.st_size : -1;
}

/* Under out_lock: take slot s's streamed bytes out of the file again, if
   the file still ends with them (another writer to the same file, e.g.
   one more fetchall with >>, may have appended since). Returns 0, or -1
   when they had to stay. */
static int retract(runner *r, slot *s)
{
    struct stat st;
    flush_stdout();
    if (fstat(STDOUT_FILENO, &st) != 0 ||
        st.st_size != s->start + (off_t)s->streamed)
        return -1;
    if (ftruncate(STDOUT_FILENO, s->start) != 0 ||
        (!r->append && lseek(STDOUT_FILENO, s->start, SEEK_SET) < 0))
        stdout_failed();
    s->streamed = 0;
    return 0;
}

/* ---- worker threads ---- */

static void free_slots(slot *s)
{
    for (slot *next; s; s = next) {
        next = STAILQ_NEXT(s, link);
        fetch_task_free(s->task); /* finished: safe inside a callback */
        if (s->body)
            evbuffer_free(s->body);
        free(s->url);
        free(s);
    }
}

/* Completion callback, in the worker's thread. */
static void on_done(fetch_task *task, void *arg)
{
    slot *s = arg;
    worker *w = s->w;
    runner *r = w->r;
    outdir *dir = r->cfg->out.dir;
    if (dir) { /* the body went to a temporary file: name it, or drop it */
        if (fetch_task_response(task)->error == FETCH_OK)
            s->file_error = part_commit(dir, &s->part, s->index);
        else
            part_discard(dir, &s->part, s->index);
    }
    pthread_mutex_lock(&r->lock);
    s->done = 1;
    if (r->cfg->as_completed)
        STAILQ_INSERT_TAIL(&r->finished, s, link);
    /* wake the writer per batch, not per request: a wake-up costs two
       context switches; it also wakes every 2 ms by itself */
    if (++r->ready >= r->batch && r->waiting)
        pthread_cond_signal(&r->cond);
    slot *freed = take_all(&w->freed); /* written ones, freed here */
    pthread_mutex_unlock(&r->lock);
    free_slots(freed);
}

/* Under out_lock: write what b holds to stdout and empty it. */
static void write_buffer(slot *s, struct evbuffer *b)
{
    struct evbuffer_iovec v;
    while (evbuffer_peek(b, -1, NULL, &v, 1) > 0) {
        if (fwrite(v.iov_base, 1, v.iov_len, stdout) != v.iov_len)
            stdout_failed();
        s->streamed += v.iov_len;
        evbuffer_drain(b, v.iov_len);
    }
}

/* A chunk of slot s's body, in its worker's thread: into its temporary
   file with -o; else, until s is the oldest unwritten one, into memory
   like a whole body; then the main thread waits for s and leaves stdout
   to this thread, which writes what waited and each chunk as it comes. */
static int on_chunk(fetch_task *task, const char *p, size_t len, void *arg)
{
    slot *s = arg;
    runner *r = s->w->r;
    outdir *dir = r->cfg->out.dir;
    int rc;
    (void)task;
    if (dir) {
        if (s->part.fd < 0 && (rc = part_open(dir, &s->part, s->index)))
            return rc;
        return part_write(&s->part, p, len);
    }
    pthread_mutex_lock(&r->out_lock);
    if (r->streaming != s) {
        pthread_mutex_unlock(&r->out_lock);
        return evbuffer_add(s->body, p, len) == 0 ? 0 : ENOMEM;
    }
    write_buffer(s, s->body);
    if (fwrite(p, 1, len, stdout) != len)
        stdout_failed();
    s->streamed += len;
    flush_stdout();
    pthread_mutex_unlock(&r->out_lock);
    return 0;
}

static void submit(worker *w, slot *s)
{
    runner *r = w->r;
    if (r->plain) {
        s->task = fetch_get(w->client, s->url, on_done, s);
    } else {
        fetch_request req = r->cfg->req;
        req.url = s->url;
        if (r->stream || r->cfg->out.dir) {
            req.on_data = on_chunk;
            req.data_arg = s;
        }
        s->task = fetch_submit(w->client, &req, on_done, s, NULL);
    }
    if (!s->task)
        fatal("out of memory");
}

/* The main thread has work for this worker. */
static void on_wake(evutil_socket_t fd, short ev, void *arg)
{
    worker *w = arg;
    runner *r = w->r;
    char buf[64];
    (void)ev;
    while (read(fd, buf, sizeof buf) == (ssize_t)sizeof buf)
        ;
    pthread_mutex_lock(&r->lock);
    w->poked = 0;
    slot *in = take_all(&w->inbox), *freed = take_all(&w->freed);
    int quit = w->quit;
    pthread_mutex_unlock(&r->lock);
    free_slots(freed);
    for (slot *next; in; in = next) {
        next = STAILQ_NEXT(in, link);
        submit(w, in);
    }
    if (quit)
        event_base_loopbreak(w->base);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    event_base_dispatch(w->base);
    /* closing thousands of connections: each worker its own, in parallel */
    fetch_client_free(w->client);
    w->client = NULL;
    return NULL;
}

/* Under lock: make sure the worker wakes up (one byte per batch). */
static void poke(worker *w)
{
    if (!w->poked) {
        w->poked = 1;
        if (write(w->pipe[1], "", 1) != 1)
            fatal("cannot wake a worker thread");
    }
}

static void start_worker(runner *r, worker *w, size_t k)
{
    fetch_options fo = r->cfg->fo;
    size_t n = r->nworkers;
    int err;
    /* the limits are the run's: each worker gets its share */
    fo.max_concurrency =
        fo.max_concurrency / (int)n + ((int)k < fo.max_concurrency % (int)n);
    if (fo.max_per_host)
        fo.max_per_host =
            fo.max_per_host / (int)n + ((int)k < fo.max_per_host % (int)n);
    w->r = r;
    STAILQ_INIT(&w->inbox);
    STAILQ_INIT(&w->freed);
    /* one thread per base: no locks; merge libcurl's remove/add churn */
    struct event_config *ec = event_config_new();
    if (!ec)
        fatal("out of memory");
    event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK |
                                  EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    w->base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (!w->base || pipe(w->pipe) != 0)
        fatal("cannot start a worker thread");
    evutil_make_socket_nonblocking(w->pipe[0]);
    w->wake = event_new(w->base, w->pipe[0], EV_READ | EV_PERSIST, on_wake, w);
    event_add(w->wake, NULL);
    w->client = fetch_client_new(&fo, w->base, &err);
    if (!w->client)
        fatal(fetch_strerror(err));
    /* -T: the run's deadline, counted from its start */
    if (r->cfg->deadline > 0 &&
        fetch_client_set_deadline(w->client, r->cfg->deadline) != FETCH_OK)
        fatal("out of memory");
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        fatal("cannot start a worker thread");
}

static void stop_worker(worker *w)
{
    pthread_join(w->thread, NULL);
    event_free(w->wake);
    event_base_free(w->base);
    close(w->pipe[0]);
    close(w->pipe[1]);
}

/* ---- signals ---- */

/* SIGINT, SIGTERM or SIGHUP: leave only whole results behind, then end
   with that signal, so that the shell sees 128 + its number. */
static void *signal_main(void *arg)
{
    runner *r = arg;
    int sig;
    if (sigwait(&r->signals, &sig) != 0)
        return NULL;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    if (r->cfg->out.dir)
        outdir_abort(r->cfg->out.dir);
    /* a writer stuck on a full pipe must not keep us: give it 2 s */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    if (pthread_mutex_timedlock(&r->out_lock, &until) == 0) {
        slot *s = r->streaming;
        if (s && r->seekable && s->streamed && retract(r, s) != 0)
            fprintf(stderr,
                    "fetchall: [%zu] the %zu bytes of this body "
                    "written so far stay: the file changed since\n",
                    s->index, s->streamed);
        fflush(stdout); /* whole results only: a body is written whole */
    }
    if (!r->cfg->out.quiet)
        fprintf(stderr,
                "fetchall: %s: stopped; the output ends with the "
                "last whole result\n",
                strsignal(sig));
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    _exit(128 + sig); /* not reached */
}

/* Every thread started from here on has the signals blocked: only
   signal_main takes them. */
static void start_signals(runner *r)
{
    sigemptyset(&r->signals);
    sigaddset(&r->signals, SIGINT);
    sigaddset(&r->signals, SIGTERM);
    sigaddset(&r->signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &r->signals, NULL);
    if (pthread_create(&r->signal_thread, NULL, signal_main, r) != 0)
        fatal("cannot start the signal thread");
}

static void stop_signals(runner *r)
{
    pthread_cancel(r->signal_thread); /* sigwait is a cancellation point */
    pthread_join(r->signal_thread, NULL);
}

/* ---- the main thread ---- */

/* Read URLs while the window has room; deal them out. Refill only when an
   eighth of the window is free, so workers are woken per batch. */
static slot *read_next(runner *r, int *filling)
{
    const char *url;
    if (!*filling)
        *filling = r->outstanding + r->window / 8 <= r->window;
    if (r->input_done || r->outstanding >= r->window || !*filling)
        return NULL;
    if (!(url = input_next(r->in))) {
        r->input_done = 1;
        return NULL;
    }
    slot *s = calloc(1, sizeof *s);
    if (!s || !(s->url = strdup(url)) ||
        (r->stream && !(s->body = evbuffer_new())))
        fatal("out of memory");
    s->part.fd = -1;
    s->index = ++r->submitted;
    s->w = &r->workers[(s->index - 1) % r->nworkers];
    r->outstanding++;
    return s;
}

static void deal(runner *r, slot *s)
{
    pthread_mutex_lock(&r->lock);
    STAILQ_INSERT_TAIL(&s->w->inbox, s, link);
    poke(s->w);
    pthread_mutex_unlock(&r->lock);
}

/* Under lock: wait for a batch, or 2 ms. */
static void wait_signal(runner *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 2000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    r->waiting = 1;
    pthread_cond_timedwait(&r->cond, &r->lock, &ts);
    r->waiting = 0;
    r->ready = 0;
}

/* Write a finished slot's result, then give its task back to its worker. */
static void write_result(runner *r, slot *s)
{
    const fetch_response *resp = fetch_task_response(s->task);
    const char *note = NULL;
    char kept[128];
    int ok = resp->error == FETCH_OK;
    r->failed |= !ok || s->file_error;
    pthread_mutex_lock(&r->out_lock);
    if (r->streaming == s) {
        r->streaming = NULL;
        /* cut first: the error line may go to the same file */
        if (!ok && s->streamed && r->retract && retract(r, s) != 0) {
            snprintf(kept, sizeof kept,
                     "(%zu bytes of its body stay in the output: the file "
                     "changed since)",
                     s->streamed);
            note = kept;
        } else if (!ok && s->streamed && !r->retract) { /* -N */
            snprintf(kept, sizeof kept,
                     "(%zu bytes of its body were written before it failed)",
                     s->streamed);
            note = kept;
        }
    }
    if (output_write(&r->cfg->out, s->index, resp, s->file_error, note) != 0)
        stdout_failed();
    if (s->body && ok) /* what did not stream yet */
        write_buffer(s, s->body);
    pthread_mutex_unlock(&r->out_lock);
    r->outstanding--;
    pthread_mutex_lock(&r->lock); /* its worker frees it at its next
                                     completion, or when it is told to quit */
    STAILQ_INSERT_TAIL(&s->w->freed, s, link);
    pthread_mutex_unlock(&r->lock);
}

/* Show what is complete before waiting. */
static void flush_locked(runner *r)
{
    pthread_mutex_lock(&r->out_lock);
    flush_stdout();
    pthread_mutex_unlock(&r->out_lock);
}

/* Request order: wait for the oldest; later ones finish meanwhile. */
static void run_ordered(runner *r)
{
    slot **ring = calloc(r->window, sizeof *ring);
    size_t head = 0;
    slot *s;
    if (!ring)
        fatal("out of memory");
    for (;;) {
        int filling = 0;
        while ((s = read_next(r, &filling))) {
            ring[(head + r->outstanding - 1) % r->window] = s;
            deal(r, s);
        }
        if (r->outstanding == 0)
            break;
        s = ring[head];
        pthread_mutex_lock(&r->lock);
        int done = s->done;
        pthread_mutex_unlock(&r->lock);
        if (!done) {
            pthread_mutex_lock(&r->out_lock);
            flush_stdout();
            if (r->stream) { /* its chunks may go out from now on */
                s->start = r->seekable ? stdout_end(r) : 0;
                r->streaming = s;
            }
            pthread_mutex_unlock(&r->out_lock);
            pthread_mutex_lock(&r->lock);
            while (!s->done)
                wait_signal(r);
            pthread_mutex_unlock(&r->lock);
        }
        write_result(r, s);
        head = (head + 1) % r->window;
    }
    free(ring);
}

/* Completion order (asyncio.as_completed). */
static void run_as_completed(runner *r)
{
    slot *s;
    for (;;) {
        int filling = 0;
        while ((s = read_next(r, &filling)))
            deal(r, s);
        if (r->outstanding == 0)
            break;
        pthread_mutex_lock(&r->lock);
        if (STAILQ_EMPTY(&r->finished)) {
            pthread_mutex_unlock(&r->lock);
            flush_locked(r);
            pthread_mutex_lock(&r->lock);
            while (STAILQ_EMPTY(&r->finished))
                wait_signal(r);
        }
        s = take_all(&r->finished);
        pthread_mutex_unlock(&r->lock);
        for (slot *next; s; s = next) {
            next = STAILQ_NEXT(s, link); /* write_result reuses it */
            write_result(r, s);
        }
    }
}

/* How stdout is written: streamed and cut back only into a regular file
   that fetchall writes at the end of (not into the middle of a file opened
   with 1<>, whose later bytes are the user's). */
static void stdout_kind(runner *r, const config *cfg)
{
    struct stat st;
    int bodies = !cfg->as_completed && !cfg->out.jsonl && !cfg->out.dir;
    int flags = fcntl(STDOUT_FILENO, F_GETFL);
    r->append = flags >= 0 && (flags & O_APPEND);
    if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
        off_t at = lseek(STDOUT_FILENO, 0, SEEK_CUR);
        r->seekable = at >= 0 && (r->append || at == st.st_size);
    }
    r->retract = bodies && !cfg->no_buffer && r->seekable;
    r->stream = bodies && (cfg->no_buffer || r->retract);
}

int run(const config *cfg, input *in)
{
    runner r = {.cfg = cfg, .in = in};
    pthread_condattr_t attr;

    /* one loop per core, but no more than the limits can share */
    r.nworkers = cfg->threads;
    if (r.nworkers > (size_t)cfg->fo.max_concurrency)
        r.nworkers = (size_t)cfg->fo.max_concurrency;
    if (cfg->fo.max_per_host && r.nworkers > (size_t)cfg->fo.max_per_host)
        r.nworkers = (size_t)cfg->fo.max_per_host;
    if (!in->npaths && in->nargs > 0 && r.nworkers > (size_t)in->nargs)
        r.nworkers = (size_t)in->nargs; /* no more loops than URLs */
    r.window = (size_t)cfg->fo.max_concurrency * 4;
    if (r.window < 1024)
        r.window = 1024;
    stdout_kind(&r, cfg);
    r.plain = !cfg->req.method && !cfg->req.body && !cfg->out.dir && !r.stream;
    r.batch = r.window / 16;
    STAILQ_INIT(&r.finished);
    pthread_mutex_init(&r.lock, NULL);
    pthread_mutex_init(&r.out_lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r.cond, &attr);
    pthread_condattr_destroy(&attr);
    r.workers = calloc(r.nworkers, sizeof *r.workers);
    if (!r.workers)
        fatal("out of memory");
    start_signals(&r);
    for (size_t k = 0; k < r.nworkers; k++)
        start_worker(&r, &r.workers[k], k);

    if (cfg->as_completed)
        run_as_completed(&r);
    else
        run_ordered(&r);
    flush_locked(&r);

    pthread_mutex_lock(&r.lock);
    for (size_t k = 0; k < r.nworkers; k++) {
        r.workers[k].quit = 1;
        poke(&r.workers[k]);
    }
    pthread_mutex_unlock(&r.lock);
    for (size_t k = 0; k < r.nworkers; k++)
        stop_worker(&r.workers[k]);
    stop_signals(&r);
    free(r.workers);
    pthread_cond_destroy(&r.cond);
    pthread_mutex_destroy(&r.lock);
    pthread_mutex_destroy(&r.out_lock);
    if (in->failed || r.submitted == 0)
        return 2;
    return r.failed ? 1 : 0;
}
