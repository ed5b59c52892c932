/* SPDX-License-Identifier: MIT */
/*
 * Streaming: with -N, or when stdout is a regular file that fetchall
 * appends to, the oldest unwritten body is not held back. Until a slot is
 * the oldest its chunks wait in memory, like a whole body would; from then
 * on the loop that carries it writes each chunk to stdout as it arrives.
 * Into a file, a body that then fails is cut off again (ftruncate), so
 * that, as with a pipe, a failed request leaves no body; the cut is made
 * only while the file still ends with that body's bytes, and before the
 * error line (which may go to the same file).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "../common/message.h"
#include "../common/util.h"
#include "local.h"

/* How stdout is written: streamed and cut back only into a regular file
   that fetchall writes at the end of (not into the middle of a file opened
   with 1<>, whose later bytes are the user's). */
void stream_setup(runner *r)
{
    const config *cfg = r->cfg;
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

/* Under out_lock: where the next byte written to stdout lands. */
static off_t stdout_end(const runner *r)
{
    struct stat st;
    if (!r->append)
        return lseek(STDOUT_FILENO, 0, SEEK_CUR);
    return fstat(STDOUT_FILENO, &st) == 0 ? st.st_size : -1;
}

void stream_buffer(slot *s, struct evbuffer *b)
{
    struct evbuffer_iovec v;
    while (evbuffer_peek(b, -1, NULL, &v, 1) > 0) {
        if (fwrite(v.iov_base, 1, v.iov_len, stdout) != v.iov_len)
            stdout_failed();
        s->streamed += v.iov_len;
        evbuffer_drain(b, v.iov_len);
    }
}

static int retract(runner *r, slot *s);

/* Under out_lock: a failed attempt's bytes go, so that its retry starts
   clean. 0, or 1 when they are out for good: with -N what is written
   stays written, into a pipe or a file alike, so the request is not
   retried and every sink ends with the same bytes. */
static int take_back(runner *r, slot *s)
{
    evbuffer_drain(s->body, evbuffer_get_length(s->body));
    if (r->streaming != s || !s->streamed)
        return 0;
    return r->retract && retract(r, s) == 0 ? 0 : 1;
}

int stream_chunk(fetch_task *task, const char *p, size_t len, void *arg)
{
    slot *s = arg;
    runner *r = s->r;
    (void)task;
    pthread_mutex_lock(&r->out_lock);
    if (!p) {
        int rc = take_back(r, s);
        pthread_mutex_unlock(&r->out_lock);
        return rc;
    }
    if (r->streaming != s) {
        pthread_mutex_unlock(&r->out_lock);
        return evbuffer_add(s->body, p, len) == 0 ? 0 : ENOMEM;
    }
    stream_buffer(s, s->body); /* what waited first */
    if (fwrite(p, 1, len, stdout) != len)
        stdout_failed();
    s->streamed += len;
    flush_stdout();
    pthread_mutex_unlock(&r->out_lock);
    return 0;
}

void stream_begin(runner *r, slot *s)
{
    if (!r->stream)
        return;
    pthread_mutex_lock(&r->out_lock);
    if (r->streaming != s) {
        flush_stdout(); /* what came before is in place first */
        s->start = r->seekable ? stdout_end(r) : 0;
        r->streaming = s;
    }
    pthread_mutex_unlock(&r->out_lock);
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

void stream_end(runner *r, slot *s, int ok, char *note, size_t len)
{
    if (r->streaming == s) {
        r->streaming = NULL;
        /* cut first: the error line may go to the same file */
        if (!ok && s->streamed && r->retract && retract(r, s) != 0)
            snprintf(note, len,
                     "(%zu bytes of its body stay in the output: the file "
                     "changed since)",
                     s->streamed);
        else if (!ok && s->streamed && !r->retract) /* -N */
            snprintf(note, len,
                     "(%zu bytes of its body were written before it failed)",
                     s->streamed);
    }
}

void stream_abort(runner *r)
{
    slot *s = r->streaming;
    if (s && r->seekable && s->streamed && retract(r, s) != 0)
        fprintf(stderr,
                "fetchall: [%zu] the %zu bytes of this body written so far "
                "stay: the file changed since\n",
                s->index, s->streamed);
}
