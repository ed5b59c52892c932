/* SPDX-License-Identifier: MIT */
/*
 * The run: one libfetch client with a loop per core carries the transfers
 * (one scheduler, so -j and --per-host hold over all of them); this thread
 * runs the client's event_base, where the input, the results and the
 * deadline are events. URLs are read while fewer than a window of them are
 * unwritten, so memory follows the window, not the input.
 *
 * Signals (SIGINT, SIGTERM, SIGHUP, unless ignored when the run started, as
 * nohup does) are taken by one thread with sigwait():
 * it removes -o's temporary files, cuts stdout back to the last complete
 * result, and ends the process with the same signal. Every use of stdout
 * holds out_lock, so that it finds results whole.
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "../common/message.h"
#include "../common/util.h"
#include "local.h"

/* The journal could not be written: it says so, naming it, and ends the
   run (what it holds is still true: a rerun goes on from there). */
static void journal_failed(const journal *j, int err)
{
    char *name = escaped_text(j->path);
    message_above();
    fprintf(stderr, "fetchall: --journal %s: %s\n", name ? name : "FILE",
            strerror(err));
    free(name);
    exit(1);
}

/* Under out_lock: what is written is out of our buffer; then, and only
   then, the journal may say so. */
static void flush_out(runner *r)
{
    journal *j = r->journal;
    int err;
    flush_stdout();
    if (j && (err = journal_flush(j)) != 0)
        journal_failed(j, err);
    if (j && r->cfg->journal_fsync == 0 && (err = journal_sync(j)) != 0)
        journal_failed(j, err);
}

static void flush_locked(runner *r)
{
    pthread_mutex_lock(&r->out_lock);
    flush_out(r);
    pthread_mutex_unlock(&r->out_lock);
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
        stream_abort(r);
        warc_abort(r->warc); /* whole records only */
        fflush(stdout);      /* whole results only: a body is written whole */
        if (r->journal)      /* and what is out is in the journal */
            journal_flush(r->journal);
    }
    if (!r->cfg->out.quiet) {
        message_above();
        fprintf(stderr,
                "fetchall: %s: stopped; the output ends with the last "
                "whole result\n",
                strsignal(sig));
    }
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    _exit(128 + sig); /* not reached */
}

/* Every thread started from here on (the client's loops too) has the
   signals blocked: only signal_main takes them. */
static void start_signals(runner *r)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    sigemptyset(&r->signals);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        if (!signal_ignored(sigs[i])) /* nohup's SIGHUP stays ignored */
            sigaddset(&r->signals, sigs[i]);
    pthread_sigmask(SIG_BLOCK, &r->signals, NULL);
    if (pthread_create(&r->signal_thread, NULL, signal_main, r) != 0)
        fatal("cannot start the signal thread");
}

static void stop_signals(runner *r)
{
    pthread_cancel(r->signal_thread); /* sigwait is a cancellation point */
    pthread_join(r->signal_thread, NULL);
}

/* ---- requests ---- */

static void pump(runner *r);
static void flush_soon(runner *r);

/* The end: every URL read and every result written. */
static void maybe_end(runner *r)
{
    if (r->input_done && r->outstanding == 0)
        event_base_loopbreak(r->base);
}

/* --fail-early: the first failure ends the run (curl's --fail-early):
   no more input, and what is still queued or running is cancelled
   (written as nothing, and said once at the end). */
static void stop_early(runner *r, size_t index)
{
    r->stopped_at = index;
    if (!r->input_done) {
        r->input_done = 1;
        event_del(r->readable);
    }
    r->cancelled = fetch_client_cancel_all(r->client);
}

/* --warc: s's records, under out_lock (a signal cuts the file back to
   its last whole record). A WARC that cannot be written ends the run, as
   the journal does. */
static void warc_record(runner *r, slot *s, const fetch_response *resp)
{
    pthread_mutex_lock(&r->out_lock);
    int err = warc_write(r->warc, s->wx, s->url, resp);
    pthread_mutex_unlock(&r->out_lock);
    warc_xfer_free(s->wx);
    s->wx = NULL;
    if (err) {
        char *name = escaped_text(warc_path(r->warc));
        message_above();
        fprintf(stderr, "fetchall: --warc %s: %s\n", name ? name : "FILE",
                strerror(err));
        free(name);
        exit(1);
    }
}

/* Completion callback, on this thread. */
static void on_done(fetch_task *task, void *arg)
{
    slot *s = arg;
    runner *r = s->r;
    outdir *dir = r->cfg->out.dir;
    const fetch_response *resp = fetch_task_response(task);
    if (r->warc) /* before the journal can say it is done */
        warc_record(r, s, resp);
    if (dir) { /* the body went to a temporary file: name it, or drop it */
        if (s->conditional && resp->error == FETCH_OK && resp->status == 304)
            s->file_error = part_keep(dir, &s->part, s->index, s->was.file);
        else if (resp->error == FETCH_OK)
            s->file_error = part_commit(dir, &s->part, s->index);
        else if (s->conditional) /* the earlier body stays */
            s->kept = part_keep(dir, &s->part, s->index, s->was.file) == 0;
        else
            part_discard(dir, &s->part, s->index);
        /* it is in place: the journal says so now, not when its turn in
           request order comes (a kill then refetches only what was in
           flight) */
        writer_record(r, s);
    }
    size_t index = s->index;
    int failed = resp->error != FETCH_OK;
    if (failed)
        r->done_failed++;
    else
        r->done_ok++;
    r->disallowed += resp->error == FETCH_E_ROBOTS;
    r->bytes += resp->bytes;
    s->done = 1;
    writer_done(r, s); /* may free s and its task */
    flush_soon(r);
    if (r->cfg->fail_early && failed && !r->stopped_at)
        stop_early(r, index);
    pump(r);
    maybe_end(r);
}

/* A chunk of a body for -o, on the loop that carries it. */
static int to_part(fetch_task *task, const char *p, size_t len, void *arg)
{
    slot *s = arg;
    (void)task;
    return part_data(s->r->cfg->out.dir, &s->part, s->index, p, len);
}

/* --revalidate: "changed since?" (RFC 9110 13.1.2, 13.1.3) when the old
   journal has a validator of this URL and, with -o, its file is there to
   keep. Sets n headers (malloc'd) and says whether any was made. */
static int conditional(runner *r, slot *s, char *h[2], size_t *n)
{
    *n = 0;
    if (!validators_get(r->old, s->index, s->url, &s->was) ||
        (r->cfg->out.dir && (!s->was.file || access(s->was.file, F_OK) != 0)))
        return 0;
    if (s->was.etag && asprintf(&h[*n], "If-None-Match: %s", s->was.etag) >= 0)
        ++*n;
    if (s->was.last_modified &&
        asprintf(&h[*n], "If-Modified-Since: %s", s->was.last_modified) >= 0)
        ++*n;
    for (size_t i = 0; i < *n; i++)
        if (fetch_header_check(h[i]) != FETCH_OK) { /* a damaged journal */
            free(h[i]);
            h[i--] = h[--*n];
        }
    return *n > 0;
}

static void submit(runner *r, const char *url, size_t index)
{
    slot *s = calloc(1, sizeof *s);
    if (!s || !(s->url = strdup(url)) ||
        (r->stream && !(s->body = evbuffer_new())))
        fatal("out of memory");
    s->r = r;
    s->part.fd = -1;
    s->index = index;
    r->submitted++;
    r->outstanding++;
    writer_add(r, s);
    if (r->plain) {
        s->task = fetch_get(r->client, s->url, on_done, s, NULL);
    } else {
        fetch_request req = r->cfg->req;
        char *h[2];
        size_t n = 0;
        req.url = s->url;
        if (r->old && (s->conditional = conditional(r, s, h, &n))) {
            req.headers = (const char *const *)h;
            req.n_headers = n;
        }
        if (r->warc) {
            if (!(s->wx = warc_xfer_new(r->warc)))
                fatal("out of memory");
            req.on_wire = warc_on_wire;
            req.wire_arg = s->wx;
        }
        if (r->cfg->out.dir) {
            req.on_data = to_part;
            req.data_arg = s;
        } else if (r->stream) {
            req.on_data = stream_chunk;
            req.data_arg = s;
        }
        s->task = fetch_submit(r->client, &req, on_done, s, NULL);
        while (n) /* copied at submission */
            free(h[--n]);
    }
    if (!s->task)
        fatal("out of memory");
}

/* A line of input that cannot be a URL (a NUL byte in it): its own
   failed result, said with the file and line, never fetched. */
static void refuse(runner *r, const char *line, size_t len)
{
    const char *path;
    size_t no;
    slot *s = calloc(1, sizeof *s);
    if (!s)
        fatal("out of memory");
    input_where(r->in, &path, &no);
    size_t n = fetch_text_escape(NULL, 0, line, len, FETCH_TEXT_TERMINAL);
    char *shown = malloc(n + 1), *file = escaped_text(path);
    if (!shown || !file)
        fatal("out of memory");
    fetch_text_escape(shown, n + 1, line, len, FETCH_TEXT_TERMINAL);
    if (asprintf(&s->refused, "%s: a NUL byte in line %zu of %s: not a URL",
                 shown, no, file) < 0)
        fatal("out of memory");
    free(file);
    s->url = shown;
    s->r = r;
    s->part.fd = -1;
    s->index = r->read;
    s->done = 1;
    r->submitted++;
    r->outstanding++;
    r->done_failed++;
    writer_add(r, s);
    writer_done(r, s);
    flush_soon(r);
}

static void on_readable(evutil_socket_t fd, short ev, void *arg)
{
    runner *r = arg;
    (void)fd;
    (void)ev;
    input_fill(r->in);
    pump(r);
    maybe_end(r);
}

/* May one more URL be read? While the window has room; beyond it, up to
   16 times as far, while slots stand idle because every queued request
   waits: for its host (--per-host, a rate, a delay: a list that keeps a
   host's URLs together needs more of them read to find other hosts), or
   for its retry's back-off (the oldest unwritten result may be one). */
static int room(runner *r)
{
    fetch_stats st;
    if (r->outstanding < r->window)
        return 1;
    if (r->outstanding >= r->window_max)
        return 0;
    fetch_client_stats(r->client, &st);
    return st.idle_slots > 0;
}

/* --journal: did the URL just read finish in an earlier run? Then it is
   skipped. Other input than the journal's ends the run. */
static int resumed(runner *r, const char *url)
{
    switch (journal_check(r->journal, r->read, url, r->cfg->retry_failed)) {
    case JOURNAL_SKIP:
        r->skipped++;
        r->skipped_failed += r->journal->state[r->read] == 2;
        return 1;
    case JOURNAL_CHANGED:
        message_above();
        if (!r->input_changed)
            fprintf(stderr,
                    "fetchall: --journal: URL %zu is not the one the journal "
                    "has there: the input has changed since. Give the same "
                    "input, or another journal\n",
                    r->read);
        r->input_changed = r->input_done = r->in->failed = 1;
        event_del(r->readable);
        fetch_client_cancel_all(r->client);
        return 1;
    default:
        return 0;
    }
}

/* Read and submit URLs while there is room and input is there; when a pipe
   has nothing yet, wait for it as for any other event. */
static void pump(runner *r)
{
    const char *url;
    while (!r->input_done && room(r)) {
        switch (input_next(r->in, &url)) {
        case INPUT_URL:
            r->read++;
            if (r->journal && resumed(r, url))
                break;
            submit(r, url, r->read);
            break;
        case INPUT_BAD:
            r->read++;
            refuse(r, url, r->in->bad_len);
            break;
        case INPUT_WAIT:
            if (event_pending(r->readable, EV_READ, NULL))
                return;
            event_assign(r->readable, r->base, input_fd(r->in), EV_READ,
                         on_readable, r);
            if (event_add(r->readable, NULL) == 0)
                return;
            input_wait_failed(r->in); /* /dev/null and the like */
            break;
        default:
            r->input_done = 1;
            if (r->deadline)
                event_del(r->deadline);
        }
    }
}

/* -T: the client ends its tasks itself; the input stops here. */
static void on_deadline(evutil_socket_t fd, short ev, void *arg)
{
    runner *r = arg;
    (void)fd;
    (void)ev;
    if (!r->input_done) {
        r->input_done = r->input_cut = 1;
        event_del(r->readable);
    }
    maybe_end(r);
}

/* Results are flushed once a loop turn, not once each. */
static void on_flush(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd;
    (void)ev;
    flush_locked(arg);
}

/* --journal-fsync: on a clock, not on every result. */
static void on_sync(evutil_socket_t fd, short ev, void *arg)
{
    runner *r = arg;
    (void)fd;
    (void)ev;
    pthread_mutex_lock(&r->out_lock);
    int err = journal_sync(r->journal);
    if (err)
        journal_failed(r->journal, err);
    pthread_mutex_unlock(&r->out_lock);
}

static void flush_soon(runner *r)
{
    static const struct timeval now = {0, 0};
    if (!evtimer_pending(r->flush, NULL))
        evtimer_add(r->flush, &now);
}

int run(const job *jb)
{
    const config *cfg = jb->cfg;
    input *in = jb->in;
    runner r = {.cfg = cfg,
                .in = in,
                .journal = jb->journal,
                .old = jb->old,
                .warc = jb->warc,
                .total = jb->total};
    fetch_options fo = cfg->fo;
    int err;

    r.window = (size_t)fo.max_concurrency * 4;
    if (r.window < 1024)
        r.window = 1024;
    /* beyond the window only while slots stand idle: a list that keeps a
       host's URLs together (--per-host, --host-rate, --delay), or a result
       that waits for its retry while the ones after it are done */
    r.window_max = 16 * r.window;
    /* with a limit per host the scheduler serves the longest chains of
       requests first: it must see them, so the input is read as far ahead
       as the ring allows */
    if (fo.max_per_host > 0)
        r.window = r.window_max;
    stream_setup(&r);
    r.plain = !cfg->req.method && !cfg->req.body && !cfg->out.dir &&
              !r.stream && !r.old && !r.warc;
    if (!(r.ring = calloc(r.window_max, sizeof *r.ring)))
        fatal("out of memory");
    pthread_mutex_init(&r.out_lock, NULL);
    start_signals(&r); /* before the client starts its loops' threads */
    fo.loops = jb->threads;
    if (!(r.client = fetch_client_new(&fo, NULL, &err)))
        fatal(fetch_strerror(err));
    r.base = fetch_client_base(r.client);
    r.readable = event_new(r.base, -1, 0, NULL, NULL);
    r.flush = evtimer_new(r.base, on_flush, &r);
    if (!r.readable || !r.flush)
        fatal("out of memory");
    if (cfg->deadline > 0) {
        struct timeval tv = seconds_tv(cfg->deadline);
        if (fetch_client_set_deadline(r.client, cfg->deadline) != FETCH_OK ||
            !(r.deadline = evtimer_new(r.base, on_deadline, &r)))
            fatal("out of memory");
        evtimer_add(r.deadline, &tv);
    }
    if (r.journal && cfg->journal_fsync > 0) {
        struct timeval tv = seconds_tv(cfg->journal_fsync);
        if (!(r.sync = event_new(r.base, -1, EV_PERSIST, on_sync, &r)) ||
            event_add(r.sync, &tv) != 0)
            fatal("out of memory");
    }
    r.t0 = monotonic();
    progress pg;
    progress_start(&r, &pg, jb->progress);
    pump(&r);
    if (!(r.input_done && r.outstanding == 0))
        event_base_dispatch(r.base);
    flush_locked(&r);
    progress_end(&r);
    if (r.sync)
        event_free(r.sync);
    if (r.stopped_at && !cfg->out.quiet)
        fprintf(stderr,
                "fetchall: stopped after request %zu failed (--fail-early): "
                "%zu cancelled, no more read\n",
                r.stopped_at, r.cancelled);
    if (r.input_cut && !cfg->out.quiet)
        fprintf(stderr,
                "fetchall: deadline of %g s reached while reading the input: "
                "URLs after the %zuth were not read\n",
                cfg->deadline, r.submitted);
    event_free(r.flush);
    event_free(r.readable);
    if (r.deadline)
        event_free(r.deadline);
    fetch_client_free(r.client); /* each loop closes its connections */
    stop_signals(&r);
    pthread_mutex_destroy(&r.out_lock);
    free(r.ring);
    if (in->failed || r.input_changed || r.read == 0)
        return 2;
    return r.failed || r.input_cut || r.skipped_failed ? 1 : 0;
}
