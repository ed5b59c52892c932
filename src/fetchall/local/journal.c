/* SPDX-License-Identifier: MIT */
/*
 * --journal FILE: what has finished, so that a run killed at any moment
 * (kill -9, a reboot) resumes where it was. The file is JSON lines: a
 * header (the format's version, a fingerprint of the options that change
 * results), then one line per finished request, appended on an O_APPEND
 * descriptor only after its result is in place (written and flushed to
 * stdout, or renamed to DIR/N), several whole lines in one write(). A run
 * killed in the middle of a write leaves at most a torn last line, which
 * the next run cuts off and ignores. Each line carries a hash of the URL
 * as read, so that a resumed run given other input says so instead of
 * skipping the wrong requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "../common/jsonline.h"
#include "../common/message.h"
#include "../common/util.h"
#include "local.h"

#define JOURNAL_VERSION 1

uint32_t journal_url_hash(const char *url)
{
    uint32_t h = fnv1a32(url, strlen(url));
    return h ? h : 1;
}

/* Room for index in the arrays. */
static void grow(journal *j, size_t index)
{
    if (index < j->cap)
        return;
    size_t cap = j->cap ? j->cap : 1024;
    while (cap <= index)
        cap *= 2;
    uint32_t *h = realloc(j->hash, cap * sizeof *h);
    unsigned char *st = h ? realloc(j->state, cap) : NULL;
    if (!h || !st)
        fatal("out of memory");
    memset(h + j->cap, 0, (cap - j->cap) * sizeof *h);
    memset(st + j->cap, 0, cap - j->cap);
    j->hash = h;
    j->state = st;
    j->cap = cap;
}

/* One line of a journal read back: the header, or a request. */
static int take_line(journal *j, const char *line, size_t len,
                     const char *fingerprint, char *why, size_t wlen)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je);
    int rc = 0;
    if (!o && j->header)
        snprintf(why, wlen, "%s", je.text);
    else if (!o)
        snprintf(why, wlen, "not a fetchall journal (%s)", je.text);
    if (!o)
        return -1;
    json_t *v = json_object_get(o, "fetchall_journal");
    if (!j->header) { /* the first line */
        if (!json_is_integer(v)) {
            snprintf(why, wlen, "not a fetchall journal (no header)");
            rc = -1;
        } else if (json_integer_value(v) != JOURNAL_VERSION) {
            snprintf(why, wlen, "journal format %lld; this fetchall writes %d",
                     (long long)json_integer_value(v), JOURNAL_VERSION);
            rc = -1;
        } else if (fingerprint &&
                   strcmp(json_string_value(json_object_get(o, "options"))
                              ? json_string_value(json_object_get(o, "options"))
                              : "",
                          fingerprint)) {
            snprintf(why, wlen,
                     "written by a run with other options that change the "
                     "results (method, data, headers, -o, --jsonl, --fail, "
                     "...): give those again, or another journal");
            rc = -1;
        }
        j->header = 1;
        json_decref(o);
        return rc;
    }
    json_int_t index = json_integer_value(json_object_get(o, "index"));
    const char *h = json_string_value(json_object_get(o, "h"));
    if (index < 1 || !h) {
        snprintf(why, wlen, "a line without index or h");
        json_decref(o);
        return -1;
    }
    if (j->each)
        j->each(j->each_arg, (size_t)index, (uint32_t)strtoul(h, NULL, 16), o);
    grow(j, (size_t)index);
    if (!j->state[index])
        j->recorded++;
    else if (j->state[index] == 2)
        j->failed--; /* retried since: the later line holds */
    j->hash[index] = (uint32_t)strtoul(h, NULL, 16);
    j->state[index] = json_is_true(json_object_get(o, "ok")) ? 1 : 2;
    j->failed += j->state[index] == 2;
    json_decref(o);
    return 0;
}

/* Read a journal back from j->fd: whole lines only; a torn last one is
   cut off (when cut) or left. 0, or -1 with why. */
static int read_back(journal *j, const char *fingerprint, int cut, char *why,
                     size_t wlen)
{
    struct stat st;
    if (fstat(j->fd, &st) != 0) {
        snprintf(why, wlen, "%s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, wlen, "not a regular file");
        return -1;
    }
    struct evbuffer *all = evbuffer_new();
    off_t whole = 0;
    int n;
    if (!all)
        fatal("out of memory");
    while ((n = evbuffer_read(all, j->fd, 1 << 16)) > 0)
        ;
    if (n < 0) {
        snprintf(why, wlen, "%s", strerror(errno));
        evbuffer_free(all);
        return -1;
    }
    char *line;
    size_t len, number = 0;
    while ((line = evbuffer_readln(all, &len, EVBUFFER_EOL_LF))) {
        int header = !j->header, rc;
        number++;
        rc = take_line(j, line, len, fingerprint, why, wlen);
        free(line);
        /* a damaged last line is what a kill in mid-write leaves: cut off
           as a torn one; anywhere else the journal is not to be trusted */
        if (rc != 0 && !header && evbuffer_get_length(all) == 0)
            break;
        if (rc != 0) {
            if (!header) {
                char what[256];
                snprintf(what, sizeof what, "%s", why);
                snprintf(why, wlen,
                         "line %zu is damaged (%s), and lines follow it: "
                         "not a journal to resume from; repair it or move "
                         "it away",
                         number, what);
            }
            evbuffer_free(all);
            return -1;
        }
        whole += (off_t)len + 1;
    }
    evbuffer_free(all);
    if (whole < st.st_size) {
        j->torn = 1;
        if (cut && ftruncate(j->fd, whole) != 0) {
            snprintf(why, wlen, "cutting off a torn last line: %s",
                     strerror(errno));
            return -1;
        }
    }
    return 0;
}

int journal_read(const char *path, journal_line_cb each, void *arg, char *why,
                 size_t wlen)
{
    journal j = {.each = each, .each_arg = arg};
    int rc = -1;
    j.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (j.fd < 0)
        snprintf(why, wlen, "%s", strerror(errno));
    else if ((rc = read_back(&j, NULL, 0, why, wlen)) == 0 && !j.header) {
        snprintf(why, wlen, "not a fetchall journal (empty)");
        rc = -1;
    }
    if (j.fd >= 0)
        close(j.fd);
    free(j.hash);
    free(j.state);
    return rc;
}

int journal_open(journal *j, const char *path, const char *fingerprint,
                 char *why, size_t wlen)
{
    memset(j, 0, sizeof *j);
    j->path = path;
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (j->fd < 0) {
        snprintf(why, wlen, "%s", strerror(errno));
        return -1;
    }
    if (flock(j->fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(why, wlen, "in use by another fetchall");
        return -1;
    }
    if (!(j->pending = evbuffer_new()))
        fatal("out of memory");
    if (read_back(j, fingerprint, 1, why, wlen) != 0)
        return -1;
    j->earlier = j->header;
    if (!j->header) { /* a new journal */
        char head[128];
        int hl = snprintf(head, sizeof head,
                          "{\"fetchall_journal\":%d,\"options\":\"%s\"}\n",
                          JOURNAL_VERSION, fingerprint);
        int err = write_all(j->fd, head, (size_t)hl);
        if (err) {
            snprintf(why, wlen, "%s", strerror(err));
            return -1;
        }
        j->header = 1;
        j->dirty = 1;
    }
    return 0;
}

int journal_check(journal *j, size_t index, const char *url, int again)
{
    if (index >= j->cap || !j->state[index])
        return JOURNAL_RUN;
    if (j->hash[index] != journal_url_hash(url))
        return JOURNAL_CHANGED;
    if (j->state[index] == 2 && again)
        return JOURNAL_RUN;
    return JOURNAL_SKIP;
}

void journal_add(journal *j, size_t index, const char *url, const char *method,
                 const fetch_response *r, int ok, const journal_kept *kept)
{
    jline l;
    char h[16];
    size_t len;
    snprintf(h, sizeof h, "%08x", (unsigned)journal_url_hash(url));
    jl_begin(&l);
    jl_int(&l, "index", (long long)index);
    jl_text(&l, "url", url, JL_URL);
    jl_text(&l, "h", h, 0);
    jl_text(&l, "method", method ? method : "GET", 0);
    jl_bool(&l, "ok", ok);
    jl_int(&l, "status", r->status);
    jl_text(&l, "error_kind", ok ? NULL : fetch_err_name(r->error), 0);
    jl_int(&l, "attempts", r->attempts);
    if (kept && kept->etag)
        jl_text(&l, "etag", kept->etag, 0);
    if (kept && kept->last_modified)
        jl_text(&l, "last_modified", kept->last_modified, 0);
    if (kept && kept->file)
        jl_text(&l, "file", kept->file, 0);
    char *line = jl_end(&l, &len);
    evbuffer_add(j->pending, line, len);
    free(line);
}

int journal_flush(journal *j)
{
    size_t len = evbuffer_get_length(j->pending);
    if (!len)
        return 0;
    /* whole lines in one write: a kill leaves at most the last one torn */
    const char *p = (const char *)evbuffer_pullup(j->pending, -1);
    int err = write_all(j->fd, p, len);
    if (err)
        return err;
    evbuffer_drain(j->pending, len);
    j->dirty = 1;
    return 0;
}

int journal_sync(journal *j)
{
    if (!j->dirty)
        return 0;
    if (fdatasync(j->fd) != 0)
        return errno;
    j->dirty = 0;
    return 0;
}

void journal_close(journal *j)
{
    if (j->fd >= 0) {
        journal_sync(j);
        close(j->fd);
    }
    if (j->pending)
        evbuffer_free(j->pending);
    free(j->hash);
    free(j->state);
    j->fd = -1;
}
