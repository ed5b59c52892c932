/* SPDX-License-Identifier: MIT */
/*
 * Writing results: in request order (a ring of the slots read, oldest at
 * its head, each written once it and all before it are done) or in
 * completion order (--as-completed, asyncio.as_completed). A written
 * slot's task is freed at once.
 */
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "../common/message.h"
#include "../common/util.h"
#include "local.h"

static void slot_free(slot *s)
{
    fetch_task_free(s->task);
    if (s->body)
        evbuffer_free(s->body);
    free(s->url);
    free(s->refused);
    warc_xfer_free(s->wx);
    free(s);
}

/* A line of input that was no URL: its error line, and its JSON line. */
static void write_refused(runner *r, slot *s)
{
    const output *o = &r->cfg->out;
    r->failed = 1;
    pthread_mutex_lock(&r->out_lock);
    stream_end(r, s, 0, NULL, 0);
    output_error(o, s->index, s->refused);
    if (o->jsonl) {
        size_t len;
        char *line = output_failure(s->index, s->url, s->refused, "url", &len);
        if (fwrite(line, 1, len, stdout) != len)
            stdout_failed();
        free(line);
    }
    pthread_mutex_unlock(&r->out_lock);
    r->outstanding--;
    slot_free(s);
}

void writer_add(runner *r, slot *s)
{
    if (r->cfg->as_completed)
        return;
    r->ring[(r->head + r->outstanding - 1) % r->window_max] = s;
    if (r->outstanding == 1) /* the oldest: it may stream */
        stream_begin(r, s);
}

/* -T ended it: it did not finish, a resumed run must try it. */
static int ended_by_deadline(const runner *r, const fetch_response *resp)
{
    return r->cfg->deadline > 0 && resp->error == FETCH_E_TIMEOUT &&
           monotonic() >= r->t0 + r->cfg->deadline - 0.01;
}

/* --fail-early or a changed input cancelled it: said once, not its own. */
static int silent(const runner *r, const fetch_response *resp)
{
    return (r->stopped_at || r->input_changed) &&
           resp->error == FETCH_E_CANCELLED;
}

void writer_record(runner *r, slot *s)
{
    const fetch_response *resp = fetch_task_response(s->task);
    if (!r->journal || s->recorded || silent(r, resp) ||
        ended_by_deadline(r, resp))
        return;
    s->recorded = 1;
    /* what a later --revalidate asks with: this answer's validators; a
       304's or a kept body's, the earlier ones where it has none */
    int ok = resp->error == FETCH_OK && !s->file_error;
    int earlier = s->kept || (ok && s->conditional && resp->status == 304);
    const outdir *dir = r->cfg->out.dir;
    journal_kept k = {0};
    char file[4200];
    if (ok) { /* a failure's headers validate nothing kept */
        k.etag = fetch_task_header(s->task, "ETag", 0);
        k.last_modified = fetch_task_header(s->task, "Last-Modified", 0);
    }
    if (earlier && !k.etag)
        k.etag = s->was.etag;
    if (earlier && !k.last_modified)
        k.last_modified = s->was.last_modified;
    if (dir && (ok || earlier) &&
        snprintf(file, sizeof file, "%s/%zu", dir->abs, s->index) <
            (int)sizeof file)
        k.file = file;
    /* the line goes out with the next flush, after the output */
    pthread_mutex_lock(&r->out_lock);
    journal_add(r->journal, s->index, s->url, r->cfg->req.method, resp, ok, &k);
    pthread_mutex_unlock(&r->out_lock);
}

static void write_result(runner *r, slot *s)
{
    if (!s->task) {
        write_refused(r, s);
        return;
    }
    const fetch_response *resp = fetch_task_response(s->task);
    char note[128] = "";
    int ok = resp->error == FETCH_OK;
    r->failed |= !ok || s->file_error;
    pthread_mutex_lock(&r->out_lock);
    stream_end(r, s, ok, note, sizeof note);
    if (s->kept && !note[0])
        snprintf(note, sizeof note, "(the earlier body is kept)");
    if (!silent(r, resp) &&
        sink_write(&r->cfg->out, s->index, s->task, s->file_error,
                   note[0] ? note : NULL) != 0)
        stdout_failed();
    if (s->body && ok) /* what did not stream yet */
        stream_buffer(s, s->body);
    pthread_mutex_unlock(&r->out_lock);
    writer_record(r, s); /* it is in place once written (with -o: before) */
    r->outstanding--;
    slot_free(s);
}

void writer_done(runner *r, slot *s)
{
    if (r->cfg->as_completed) {
        write_result(r, s);
        return;
    }
    while (r->outstanding && r->ring[r->head]->done) {
        slot *oldest = r->ring[r->head];
        r->ring[r->head] = NULL;
        r->head = (r->head + 1) % r->window_max;
        write_result(r, oldest);
    }
    if (r->outstanding)
        stream_begin(r, r->ring[r->head]);
}
