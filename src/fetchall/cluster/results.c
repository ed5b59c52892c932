/* SPDX-License-Identifier: MIT */
/*
 * fetchall results: the queue's result records as JSON lines on stdout, in
 * request order (a chunk that comes early waits for the ones before it),
 * or as they arrive with --as-completed; each input position once. It
 * waits until every enqueued URL has its record (or -T passes), reading
 * the results stream with XREAD ... BLOCK, so it may run while the workers
 * do. A summary of failures and dead letters goes to stderr.
 */
#define _GNU_SOURCE /* memmem, strdup, strndup */
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "../common/message.h"
#include "../common/util.h"
#include "cluster.h"

typedef struct record {
    char *lines; /* JSON lines of the chunk, in order */
    size_t len;
} record;

typedef struct res {
    const cluster *cl;
    const config *cfg;
    rqueue q;
    redisContext *c;
    size_t chunk, total; /* from the queue's meta */
    int complete;
    record *held;        /* by chunk number: early ones, in order mode */
    unsigned char *seen; /* by chunk number: its record came */
    size_t cap, next;    /* next: the chunk number to write in order */
    size_t covered;      /* URLs with their record */
    size_t ok, failed, dead, duplicates;
    char last[64]; /* the results stream's last ID read */
} res;

static void grow(res *r, size_t k)
{
    if (k < r->cap)
        return;
    size_t cap = r->cap ? r->cap : 1024;
    while (cap <= k)
        cap *= 2;
    record *h = realloc(r->held, cap * sizeof *h);
    unsigned char *s = realloc(r->seen, cap);
    if (!h || !s)
        fatal("out of memory");
    memset(h + r->cap, 0, (cap - r->cap) * sizeof *h);
    memset(s + r->cap, 0, cap - r->cap);
    r->held = h;
    r->seen = s;
    r->cap = cap;
}

static redisReply *command(res *r, const char *fmt, const char *a,
                           const char *b)
{
    redisReply *rep;
    while (!(rep = redisCommand(r->c, fmt, a, b)))
        r->c =
            redis_reconnect(r->c, &r->cl->redis, "results", r->cfg->out.quiet);
    return rep;
}

/* The queue's chunk size, total and whether it is complete. 0, or -1 when
   nothing was ever enqueued on it. */
static int read_meta(res *r)
{
    redisReply *m = command(r, "HGETALL %s", r->q.meta, NULL);
    int rc = -1;
    for (size_t i = 0; m->type == REDIS_REPLY_ARRAY && i + 1 < m->elements;
         i += 2) {
        const char *k = m->element[i]->str, *v = m->element[i + 1]->str;
        if (!strcmp(k, "chunk"))
            r->chunk = strtoull(v, NULL, 10), rc = 0;
        else if (!strcmp(k, "total"))
            r->total = strtoull(v, NULL, 10);
        else if (!strcmp(k, "complete"))
            r->complete = !strcmp(v, "1");
    }
    freeReplyObject(m);
    return r->chunk ? rc : -1;
}

static void put(const char *p, size_t len)
{
    if (fwrite(p, 1, len, stdout) != len)
        stdout_failed();
}

/* Count ok and failed in a chunk's lines. A record's "ok" is the first
   member of that name on its line (a quote inside a string is escaped, so
   no string holds "ok": unescaped), found without parsing the line. */
static void tally(res *r, const char *lines, size_t len)
{
    static const char key[] = "\"ok\":";
    const char *p = lines, *end = lines + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *k = memmem(p, n, key, sizeof key - 1);
        const char *v = k ? k + sizeof key - 1 : NULL;
        if (v && (size_t)(p + n - v) >= 4 && !memcmp(v, "true", 4))
            r->ok++;
        else
            r->failed++;
        p += n + 1;
    }
}

static const char *value(const redisReply *f, const char *name, size_t *len)
{
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (!strcmp(f->element[i]->str, name)) {
            if (len)
                *len = f->element[i + 1]->len;
            return f->element[i + 1]->str;
        }
    return NULL;
}

/* A dead letter's URLs as records that say so. */
static char *dead_lines(res *r, size_t first, const char *urls,
                        const char *reason, size_t *len)
{
    size_t cap = 0, n = 0, i = 0;
    char *out = NULL, error[600];
    const char *p = urls;
    char *copy = NULL;
    snprintf(error, sizeof error, "dead letter: %s", reason);
    do {
        const char *nl = strchr(p, '\n');
        size_t ul = nl ? (size_t)(nl - p) : strlen(p), ll;
        if (!(copy = strndup(p, ul)))
            fatal("out of memory");
        char *line =
            output_failure(first + i++, copy, error, "dead_letter", &ll);
        if (n + ll > cap) {
            cap = (n + ll) * 2;
            if (!(out = realloc(out, cap)))
                fatal("out of memory");
        }
        memcpy(out + n, line, ll);
        n += ll;
        free(line);
        free(copy);
        p = nl ? nl + 1 : NULL;
    } while (p);
    r->dead += i;
    *len = n;
    return out;
}

/* One results entry: its records written now, or held for their turn. */
static void take(res *r, const redisReply *f)
{
    const char *s = value(f, "first", NULL), *reason = value(f, "dead", NULL);
    size_t first = s ? strtoull(s, NULL, 10) : 0, len = 0;
    if (!first || first % r->chunk != 1 % r->chunk)
        return;
    size_t k = (first - 1) / r->chunk;
    grow(r, k);
    if (r->seen[k]++) {
        r->duplicates++;
        return;
    }
    char *lines;
    if (reason) {
        const char *urls = value(f, "urls", NULL);
        lines = dead_lines(r, first, urls ? urls : "", reason, &len);
        if (!r->cfg->out.quiet) {
            size_t n = strtoull(value(f, "n", NULL) ?: "0", NULL, 10);
            char shown[1024];
            fetch_text_escape(shown, sizeof shown, reason, strlen(reason),
                              FETCH_TEXT_TERMINAL);
            fprintf(stderr, "fetchall: [%zu-%zu] dead letter: %s\n", first,
                    first + (n ? n - 1 : 0), shown);
        }
    } else {
        const char *l = value(f, "lines", &len);
        if (!l || !(lines = malloc(len ? len : 1)))
            return;
        memcpy(lines, l, len);
        tally(r, lines, len);
    }
    r->covered += (size_t)strtoull(value(f, "n", NULL) ?: "0", NULL, 10);
    if (r->cfg->as_completed) {
        put(lines, len);
        free(lines);
        return;
    }
    r->held[k].lines = lines;
    r->held[k].len = len;
}

/* In order: what is next and here. all: the rest too (the end came). */
static void write_held(res *r, int all)
{
    for (; r->next < r->cap; r->next++) {
        record *h = &r->held[r->next];
        if (!h->lines && !all)
            break;
        if (h->lines)
            put(h->lines, h->len);
        free(h->lines);
        h->lines = NULL;
    }
}

int results_run(const cluster *cl, const config *cfg)
{
    res r = {.cl = cl, .cfg = cfg};
    double until = cfg->deadline > 0 ? monotonic() + cfg->deadline : 0;
    int timed_out = 0;
    rqueue_keys(&r.q, cl->queue);
    snprintf(r.last, sizeof r.last, "0-0");
    r.c = redis_reconnect(NULL, &cl->redis, "results", cfg->out.quiet);
    if (read_meta(&r) != 0) {
        fprintf(stderr, "fetchall: results: nothing was enqueued on queue %s\n",
                r.q.name);
        redisFree(r.c);
        return 2;
    }
    for (;;) {
        if (r.complete && r.covered >= r.total)
            break;
        if (until && monotonic() >= until) {
            timed_out = 1;
            break;
        }
        redisReply *x = command(&r, "XREAD COUNT 64 BLOCK 500 STREAMS %s %s",
                                r.q.results, r.last);
        if (x->type == REDIS_REPLY_ARRAY && x->elements == 1) {
            const redisReply *entries = x->element[0]->element[1];
            for (size_t i = 0; i < entries->elements; i++) {
                const redisReply *e = entries->element[i];
                snprintf(r.last, sizeof r.last, "%s", e->element[0]->str);
                take(&r, e->element[1]);
            }
            write_held(&r, 0);
        }
        freeReplyObject(x);
        if (!r.complete)
            read_meta(&r);
    }
    write_held(&r, 1);
    flush_stdout();
    redisFree(r.c);
    free(r.held);
    free(r.seen);
    if (!cfg->out.quiet) {
        fprintf(stderr,
                "fetchall: results: %zu URLs: %zu ok, %zu failed, %zu in dead "
                "letters",
                r.covered, r.ok, r.failed, r.dead);
        if (timed_out)
            fprintf(stderr, "; deadline reached: %zu%s without a result yet",
                    r.complete ? r.total - r.covered : 0,
                    r.complete ? "" : " and more (enqueue is not done)");
        fputc('\n', stderr);
    }
    return r.failed || r.dead || timed_out ? 1 : 0;
}
