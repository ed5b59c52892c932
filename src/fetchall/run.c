/*
 * The fetch loop: submit URLs as they are read, within a window, and write
 * each result in request order (default) or completion order
 * (--as-completed).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetchall.h"

/* One submitted request, until its result is written. */
typedef struct slot {
    fetch_task *task;
    size_t index; /* 1-based position in the input */
    const output *out;
    int file_failed;
} slot;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* With -o the body streamed to DIR/N.part; name it when it is complete. */
static void on_done(fetch_task *task, void *arg)
{
    slot *s = arg;
    int ok = fetch_task_response(task)->error == FETCH_OK;
    s->file_failed = output_file_done(s->out, s->index, ok) != 0;
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

typedef struct runner {
    const config *cfg;
    fetch_client *client;
    input *in;
    int input_done;
    size_t submitted, outstanding, window;
    double end_at;       /* when the deadline passes */
    int deadline_passed; /* then every outstanding request was ended */
    int failed;
    int plain; /* GET, no body, no -o: fetch_get() will do */
} runner;

static slot *submit_next(runner *r)
{
    const char *url;
    if (r->input_done || r->outstanding >= r->window)
        return NULL;
    if (!(url = input_next(r->in))) {
        r->input_done = 1;
        return NULL;
    }
    char part[4096];
    fetch_request req = r->cfg->req;
    slot *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "fetchall: out of memory\n");
        exit(1);
    }
    s->index = ++r->submitted;
    s->out = &r->cfg->out;
    req.url = url;
    if (s->out->dir) {
        output_path(part, sizeof part, s->out, s->index, 1);
        req.sink_path = part;
    }
    /* a plain GET needs no request of its own to be copied */
    s->task = r->plain ? fetch_get(r->client, url, NULL, s)
                       : fetch_submit(r->client, &req,
                                      s->out->dir ? on_done : NULL, s);
    if (!s->task) {
        fprintf(stderr, "fetchall: out of memory\n");
        exit(1);
    }
    r->outstanding++;
    return s;
}

/* Seconds left before the deadline, or FETCH_WAIT_FOREVER. */
static double time_left(const runner *r)
{
    if (r->cfg->deadline <= 0)
        return FETCH_WAIT_FOREVER;
    return fmax(0, r->end_at - now());
}

/* The deadline ends everything still queued or running. */
static void pass_deadline(runner *r)
{
    r->deadline_passed = 1;
    fetch_client_cancel_all(r->client);
}

static void write_result(runner *r, slot *s)
{
    const fetch_response *resp = fetch_task_response(s->task);
    /* only the deadline ends a request without libcurl's say-so here */
    int deadline_hit =
        r->deadline_passed && resp->curl_code == 0 &&
        (resp->error == FETCH_E_TIMEOUT || resp->error == FETCH_E_CANCELLED);
    r->failed |= resp->error != FETCH_OK || s->file_failed;
    if (output_write(&r->cfg->out, s->index, resp, deadline_hit) != 0)
        stdout_failed();
    fetch_task_free(s->task);
    free(s);
    r->outstanding--;
}

static void fatal(int rc)
{
    fprintf(stderr, "fetchall: %s\n", fetch_strerror(rc));
    exit(1);
}

/* Request order: wait for the oldest; later ones finish meanwhile. */
static void run_ordered(runner *r)
{
    slot **ring = calloc(r->window, sizeof *ring);
    size_t head = 0;
    slot *s;
    if (!ring)
        fatal(FETCH_E_NOMEM);
    for (;;) {
        while ((s = submit_next(r)))
            ring[(head + r->outstanding - 1) % r->window] = s;
        if (r->outstanding == 0)
            break;
        s = ring[head];
        if (!fetch_task_done(s->task)) {
            if (fflush(stdout) != 0) /* show what is complete first */
                stdout_failed();
            int rc = fetch_wait_for(s->task, time_left(r));
            if (rc == FETCH_E_BUSY || rc == FETCH_E_LOOP || rc == FETCH_E_INVAL)
                fatal(rc);
            if (rc == FETCH_E_TIMEOUT && !r->deadline_passed &&
                r->cfg->deadline > 0 &&
                fetch_task_response(s->task)->curl_code == 0)
                pass_deadline(r);
        }
        write_result(r, s);
        head = (head + 1) % r->window;
        if (r->deadline_passed) /* later input ends at once too */
            fetch_client_cancel_all(r->client);
    }
    free(ring);
}

/* Completion order (asyncio.as_completed). */
static void run_as_completed(runner *r)
{
    for (;;) {
        while (submit_next(r))
            ;
        if (r->deadline_passed)
            fetch_client_cancel_all(r->client);
        if (r->outstanding == 0)
            break;
        if (fflush(stdout) != 0)
            stdout_failed();
        int rc;
        fetch_task *t = fetch_as_completed(r->client, time_left(r), &rc);
        if (t) {
            write_result(r, fetch_task_get_data(t));
        } else if (rc == FETCH_E_TIMEOUT) {
            pass_deadline(r);
        } else {
            fatal(rc == FETCH_OK ? FETCH_E_LOOP : rc);
        }
    }
}

int run(const config *cfg, input *in)
{
    int err;
    runner r = {.cfg = cfg, .in = in};
    r.client = fetch_client_new(&cfg->fo, NULL, &err);
    if (!r.client)
        fatal(err);
    /* submit ahead of what is written, but boundedly: memory follows the
       window, not the length of the input */
    r.window = (size_t)cfg->fo.max_concurrency * 4;
    if (r.window < 1024)
        r.window = 1024;
    r.end_at = now() + cfg->deadline;
    r.plain = !cfg->req.method && !cfg->req.body && !cfg->out.dir;
    if (cfg->as_completed)
        run_as_completed(&r);
    else
        run_ordered(&r);
    if (fflush(stdout) != 0)
        stdout_failed();
    fetch_client_free(r.client);
    if (r.submitted == 0)
        return 2;
    return r.failed ? 1 : 0;
}
