/* SPDX-License-Identifier: MIT */
/*
 * fetchall results: the queue's result records as JSON lines on stdout, in
 * request order (a chunk that comes early waits for the ones before it),
 * or as they arrive with --as-completed; each input position once. It
 * waits until every enqueued URL has its record (or -T passes), reading
 * the results stream with XREAD ... BLOCK, so it may run while the workers
 * do. A summary of failures and dead letters goes to stderr.
 *
 * It consumes what it reads: once its output is safe (flushed, and a
 * regular file synced, every --fsync seconds), the entries written out
 * leave the results stream, in one script that also marks their chunks
 * written and keeps the counts and, for a regular file, its size then.
 * Redis holds only the results not read yet.
 *
 * Started again, it leaves out the chunks an earlier run wrote out. Into
 * the regular file it appends to, it first cuts what a killed run wrote
 * after its last sync (its own records, still in Redis and written again
 * now), so the file holds every position exactly once. Into a pipe, what
 * was written after the last sync before a kill comes again: at least
 * once. One reader at a time holds a queue, by a lease in Redis.
 */
#define _GNU_SOURCE /* memmem, strdup, strndup */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "../common/message.h"
#include "../common/util.h"
#include "cluster.h"

#define LEASE_MS 5000 /* a killed reader holds the queue this long */

typedef struct early {
    char *lines; /* JSON lines of the chunk, in order */
    size_t len;
    char *id;                /* its results entry */
    size_t ok, failed, dead; /* its records */
} early;

typedef struct res {
    const cluster *cl;
    const config *cfg;
    rqueue q;
    redisContext *c;
    size_t chunk, total; /* from the queue's meta */
    int complete;
    early *held;         /* by chunk number: early ones, in order mode */
    unsigned char *seen; /* by chunk number: here, or written before */
    size_t cap, next;    /* next: the chunk number to write in order */
    size_t next_before;  /* every chunk before it was written before */
    size_t chunks_seen;  /* from next_before on */
    size_t urls_before;  /* positions an earlier run wrote out */
    size_t urls;         /* this run's */
    size_t ok, failed, dead, duplicates; /* in all, earlier runs' too */
    /* written out, not yet safe: their stream IDs and chunk numbers */
    char **ids;
    size_t *ks, n_out, cap_out;
    size_t out_ok, out_failed, out_dead;
    int file; /* stdout is a regular file */
    char file_id[64];
    double next_sync, next_lease;
    char token[300];
    char last[64]; /* the results stream's last ID read */
} res;

static void grow(res *r, size_t k)
{
    if (k < r->cap)
        return;
    size_t cap = r->cap ? r->cap : 1024;
    while (cap <= k)
        cap *= 2;
    early *h = realloc(r->held, cap * sizeof *h);
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

static redisReply *script(res *r, int which, int argc, const char **argv)
{
    redisReply *rep;
    while (!(rep = redis_script(r->c, which, argc, argv, NULL)))
        r->c =
            redis_reconnect(r->c, &r->cl->redis, "results", r->cfg->out.quiet);
    return rep;
}

static size_t number(const char *s)
{
    return s ? (size_t)strtoull(s, NULL, 10) : 0;
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
            r->chunk = number(v), rc = 0;
        else if (!strcmp(k, "total"))
            r->total = number(v);
        else if (!strcmp(k, "complete"))
            r->complete = !strcmp(v, "1");
    }
    freeReplyObject(m);
    return r->chunk ? rc : -1;
}

/* URLs in chunk k (the last one may be short). */
static size_t chunk_urls(const res *r, size_t k)
{
    size_t first = k * r->chunk;
    if (r->complete && r->total < first + r->chunk)
        return r->total > first ? r->total - first : 0;
    return r->chunk;
}

static size_t chunks_in_all(const res *r)
{
    return (r->total + r->chunk - 1) / r->chunk;
}

/* ---- the lease: one reader at a time ---- */

/* Is the holder's token ("HOST:PID:...") ours, its process gone? */
static int holder_dead(const char *holder)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    size_t n = strlen(host);
    if (strncmp(holder, host, n) || holder[n] != ':')
        return 0;
    long pid = strtol(holder + n + 1, NULL, 10);
    return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Take (or renew) the lease. 1, or 0 with the holder in holder. */
static int lease(res *r, int force, char *holder, size_t len)
{
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%d", LEASE_MS);
    const char *argv[] = {"1", r->q.reader, r->token, ttl, force ? "1" : "0"};
    redisReply *x = script(r, SCRIPT_READER, 5, argv);
    int held = x->type == REDIS_REPLY_ARRAY && x->elements >= 1 &&
               x->element[0]->type == REDIS_REPLY_INTEGER &&
               x->element[0]->integer == 1;
    if (!held && holder)
        snprintf(holder, len, "%s",
                 x->type == REDIS_REPLY_ARRAY && x->elements == 2 &&
                         x->element[1]->type == REDIS_REPLY_STRING
                     ? x->element[1]->str
                 : x->type == REDIS_REPLY_ERROR ? x->str
                                                : "?");
    freeReplyObject(x);
    r->next_lease = monotonic() + LEASE_MS / 5000.0;
    return held;
}

/* The queue to ourselves: at once when its reader is gone, else once its
   lease runs out (a reader killed on another machine); a live reader
   keeps it, and we say so. 0, or -1. */
static int take_lease(res *r)
{
    char host[256] = "", holder[300] = "", shown[600];
    gethostname(host, sizeof host - 1);
    snprintf(r->token, sizeof r->token, "%s:%ld:%ld", host, (long)getpid(),
             (long)time(NULL));
    double until = monotonic() + LEASE_MS / 1000.0 + 1;
    while (!lease(r, holder[0] && holder_dead(holder), holder, sizeof holder)) {
        if (monotonic() >= until) {
            fetch_text_escape(shown, sizeof shown, holder, strlen(holder),
                              FETCH_TEXT_TERMINAL);
            fprintf(stderr,
                    "fetchall: results: queue %s is being read by another "
                    "fetchall results (%s); one reader at a time\n",
                    r->q.name, shown);
            return -1;
        }
        sleep_seconds(0.2);
    }
    return 0;
}

/* ---- what an earlier run wrote out ---- */

static void read_printed(res *r, char *file, size_t flen, size_t *offset)
{
    redisReply *m = command(r, "HGETALL %s", r->q.printed, NULL);
    for (size_t i = 0; m->type == REDIS_REPLY_ARRAY && i + 1 < m->elements;
         i += 2) {
        const char *k = m->element[i]->str, *v = m->element[i + 1]->str;
        if (!strcmp(k, "next"))
            r->next_before = number(v);
        else if (!strcmp(k, "ok"))
            r->ok = number(v);
        else if (!strcmp(k, "failed"))
            r->failed = number(v);
        else if (!strcmp(k, "dead"))
            r->dead = number(v);
        else if (!strcmp(k, "file"))
            snprintf(file, flen, "%s", v);
        else if (!strcmp(k, "offset"))
            *offset = number(v);
    }
    freeReplyObject(m);
    r->next = r->next_before;
    for (size_t k = 0; k < r->next_before; k++)
        r->urls_before += chunk_urls(r, k);
    /* the chunks after next written out as they completed */
    char cursor[32] = "0";
    do {
        redisReply *x =
            command(r, "SSCAN %s %s COUNT 1000", r->q.printed_set, cursor);
        if (x->type != REDIS_REPLY_ARRAY || x->elements != 2) {
            freeReplyObject(x);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", x->element[0]->str);
        for (size_t i = 0; i < x->element[1]->elements; i++) {
            size_t k = number(x->element[1]->element[i]->str);
            if (k < r->next_before)
                continue;
            grow(r, k);
            if (!r->seen[k]) {
                r->seen[k] = 1;
                r->chunks_seen++;
                r->urls_before += chunk_urls(r, k);
            }
        }
        freeReplyObject(x);
    } while (strcmp(cursor, "0"));
}

/* Are the len bytes at p what a results run writes: whole records, and at
   the end perhaps the start of one? */
static int our_records(const char *p, size_t len)
{
    static const char head[] = "{\"schema\":1,\"index\":";
    const char *end = p + len;
    while (p < end) {
        size_t n = (size_t)(end - p),
               h = n < sizeof head - 1 ? n : sizeof head - 1;
        if (memcmp(p, head, h))
            return 0;
        const char *nl = memchr(p, '\n', n);
        p = nl ? nl + 1 : end;
    }
    return 1;
}

/* stdout a regular file that an earlier run wrote to: what it wrote after
   its last sync (the records still in Redis) is cut, once it is seen to
   be that and only that; they are written again. */
static void cut_unsynced(res *r, const char *file, size_t offset)
{
    struct stat st;
    if (!r->file || strcmp(file, r->file_id) || fstat(1, &st) != 0 ||
        (size_t)st.st_size <= offset)
        return;
    size_t len = (size_t)st.st_size - offset;
    int fd = open("/proc/self/fd/1", O_RDONLY | O_CLOEXEC);
    char *tail = fd >= 0 && len <= (size_t)1 << 30 ? malloc(len) : NULL;
    ssize_t got = tail ? pread(fd, tail, len, (off_t)offset) : -1;
    int ours = got == (ssize_t)len && our_records(tail, len);
    free(tail);
    if (fd >= 0)
        close(fd);
    if (ours && ftruncate(1, (off_t)offset) == 0) {
        if (!r->cfg->out.quiet)
            fprintf(stderr,
                    "fetchall: results: stdout: %zu bytes an earlier run "
                    "wrote after its last sync are written again\n",
                    len);
        return;
    }
    if (!r->cfg->out.quiet)
        fprintf(stderr,
                "fetchall: results: stdout: %zu bytes after what an earlier "
                "run synced are not its records; left as they are (records "
                "after its last sync may come twice)\n",
                len);
}

/* ---- writing ---- */

static void put(const char *p, size_t len)
{
    if (len && fwrite(p, 1, len, stdout) != len)
        stdout_failed();
}

/* Count ok and failed in a chunk's lines. A record's "ok" is the first
   member of that name on its line (a quote inside a string is escaped, so
   no string holds "ok": unescaped), found without parsing the line. */
static void tally(early *e, const char *lines, size_t len)
{
    static const char key[] = "\"ok\":";
    const char *p = lines, *end = lines + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *k = memmem(p, n, key, sizeof key - 1);
        const char *v = k ? k + sizeof key - 1 : NULL;
        if (v && (size_t)(p + n - v) >= 4 && !memcmp(v, "true", 4))
            e->ok++;
        else
            e->failed++;
        p += n + 1;
    }
}

static const char *value(const redisReply *f, const char *name, size_t *len)
{
    for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements;
         i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING &&
            !strcmp(f->element[i]->str, name)) {
            if (len)
                *len = f->element[i + 1]->len;
            return f->element[i + 1]->str;
        }
    return NULL;
}

/* A dead letter's URLs as records that say so. */
static char *dead_lines(early *e, size_t first, const char *urls,
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
    e->dead += i;
    *len = n;
    return out;
}

/* The entry id of chunk k is written out: it leaves Redis at the next
   safe point. */
static void written(res *r, const char *id, size_t k)
{
    if (r->n_out == r->cap_out) {
        r->cap_out = r->cap_out ? 2 * r->cap_out : 64;
        r->ids = realloc(r->ids, r->cap_out * sizeof *r->ids);
        r->ks = realloc(r->ks, r->cap_out * sizeof *r->ks);
        if (!r->ids || !r->ks)
            fatal("out of memory");
    }
    if (!(r->ids[r->n_out] = strdup(id)))
        fatal("out of memory");
    r->ks[r->n_out++] = k;
}

/* Chunk k's records out, if it has some here; they leave Redis at the
   next safe point. */
static void write_chunk(res *r, size_t k)
{
    early *h = &r->held[k];
    if (!h->lines)
        return;
    put(h->lines, h->len);
    written(r, h->id, k);
    r->out_ok += h->ok;
    r->out_failed += h->failed;
    r->out_dead += h->dead;
    free(h->lines);
    free(h->id);
    memset(h, 0, sizeof *h);
}

/* One results entry: its records written now, or held for their turn. */
static void take(res *r, const char *id, const redisReply *f)
{
    const char *s = value(f, "first", NULL), *reason = value(f, "dead", NULL);
    size_t first = number(s), len = 0;
    const char *l = value(f, "lines", &len);
    if (!first || (first - 1) % r->chunk || (!reason && !l))
        return; /* not a chunk's results (a worker checks its chunks) */
    size_t k = (first - 1) / r->chunk;
    if (k >= r->next_before)
        grow(r, k);
    if (k < r->next_before || r->seen[k]) { /* there once already */
        r->duplicates++;
        freeReplyObject(command(r, "XDEL %s %s", r->q.results, id));
        return;
    }
    r->seen[k] = 1;
    r->chunks_seen++;
    early e = {NULL, 0, NULL, 0, 0, 0};
    if (reason) {
        const char *urls = value(f, "urls", NULL);
        e.lines = dead_lines(&e, first, urls ? urls : "", reason, &e.len);
        if (!r->cfg->out.quiet) {
            size_t n = number(value(f, "n", NULL));
            char shown[1024];
            fetch_text_escape(shown, sizeof shown, reason, strlen(reason),
                              FETCH_TEXT_TERMINAL);
            fprintf(stderr, "fetchall: [%zu-%zu] dead letter: %s\n", first,
                    first + (n ? n - 1 : 0), shown);
        }
    } else {
        if (!(e.lines = malloc(len ? len : 1)))
            fatal("out of memory");
        memcpy(e.lines, l, len);
        e.len = len;
        tally(&e, e.lines, e.len);
    }
    r->urls += number(value(f, "n", NULL));
    if (!(e.id = strdup(id)))
        fatal("out of memory");
    r->held[k] = e; /* written when its turn comes (at once with
                       --as-completed) */
    if (r->cfg->as_completed)
        write_chunk(r, k);
}

/* In order: what is next and here. all: the rest too (the end came). */
static void write_held(res *r, int all)
{
    for (; r->next < r->cap; r->next++) {
        early *h = &r->held[r->next];
        if (!h->lines && !all && !(r->seen[r->next] && !h->id))
            break; /* not here yet (seen without an ID: written before) */
        write_chunk(r, r->next);
    }
}

/* The output is safe (flushed; a regular file synced): what it holds
   leaves Redis, and its counts and end are kept. */
static void commit(res *r)
{
    struct stat st;
    char ok[24], failed[24], dead[24], offset[24], n[24], ttl[24];
    if (!r->n_out && !r->out_ok && !r->out_failed && !r->out_dead)
        return;
    flush_stdout();
    if (r->file && fsync(1) != 0 && errno != EINVAL)
        stdout_failed();
    snprintf(ok, sizeof ok, "%zu", r->out_ok);
    snprintf(failed, sizeof failed, "%zu", r->out_failed);
    snprintf(dead, sizeof dead, "%zu", r->out_dead);
    snprintf(offset, sizeof offset, "%lld",
             r->file && fstat(1, &st) == 0 ? (long long)st.st_size : 0LL);
    snprintf(n, sizeof n, "%zu", r->n_out);
    snprintf(ttl, sizeof ttl, "%d", LEASE_MS);
    size_t argc = 13 + 2 * r->n_out, a = 0;
    const char **argv = calloc(argc, sizeof *argv);
    char(*ks)[24] = calloc(r->n_out ? r->n_out : 1, sizeof *ks);
    if (!argv || !ks)
        fatal("out of memory");
    argv[a++] = "4";
    argv[a++] = r->q.results;
    argv[a++] = r->q.printed;
    argv[a++] = r->q.printed_set;
    argv[a++] = r->q.reader;
    argv[a++] = r->token;
    argv[a++] = ttl;
    argv[a++] = ok;
    argv[a++] = failed;
    argv[a++] = dead;
    argv[a++] = r->file ? r->file_id : "";
    argv[a++] = offset;
    argv[a++] = n;
    for (size_t i = 0; i < r->n_out; i++)
        argv[a++] = r->ids[i];
    for (size_t i = 0; i < r->n_out; i++) {
        snprintf(ks[i], sizeof ks[i], "%zu", r->ks[i]);
        argv[a++] = ks[i];
    }
    redisReply *x = script(r, SCRIPT_CONSUME, (int)a, argv);
    if (x->type != REDIS_REPLY_INTEGER || x->integer != 1) {
        fprintf(stderr,
                "fetchall: results: queue %s: %s; stopping (what was "
                "written stays in Redis)\n",
                r->q.name,
                x->type == REDIS_REPLY_ERROR
                    ? x->str
                    : "another fetchall results took it over");
        exit(2);
    }
    freeReplyObject(x);
    free(argv);
    free(ks);
    for (size_t i = 0; i < r->n_out; i++)
        free(r->ids[i]);
    r->ok += r->out_ok;
    r->failed += r->out_failed;
    r->dead += r->out_dead;
    r->n_out = r->out_ok = r->out_failed = r->out_dead = 0;
}

/* After a read: a pipe is safe once flushed, a regular file once synced
   (every --fsync seconds). */
static void maybe_commit(res *r)
{
    double now = monotonic();
    if (r->file && r->cl->fsync > 0 && now < r->next_sync)
        return;
    commit(r);
    r->next_sync = now + r->cl->fsync;
}

int results_run(const cluster *cl, const config *cfg)
{
    res r = {.cl = cl, .cfg = cfg};
    double until = cfg->deadline > 0 ? monotonic() + cfg->deadline : 0;
    int timed_out = 0;
    char file[64] = "";
    size_t offset = 0;
    struct stat st;
    rqueue_keys(&r.q, cl->queue);
    snprintf(r.last, sizeof r.last, "0-0");
    r.c = redis_reconnect(NULL, &cl->redis, "results", cfg->out.quiet);
    /* started with the workers and enqueue: wait for enqueue, as they do */
    for (int said = 0; read_meta(&r) != 0; said = 1) {
        if (until && monotonic() >= until) {
            fprintf(stderr,
                    "fetchall: results: nothing was enqueued on queue %s\n",
                    r.q.name);
            redisFree(r.c);
            return 2;
        }
        if (!said && !cfg->out.quiet)
            fprintf(stderr,
                    "fetchall: results: nothing enqueued on queue %s yet; "
                    "waiting for fetchall enqueue\n",
                    r.q.name);
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (take_lease(&r) != 0) {
        redisFree(r.c);
        return 2;
    }
    if (fstat(1, &st) == 0 && S_ISREG(st.st_mode)) {
        r.file = 1;
        snprintf(r.file_id, sizeof r.file_id, "%llu:%llu",
                 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    }
    read_printed(&r, file, sizeof file, &offset);
    if (r.urls_before && !cfg->out.quiet &&
        !(r.file && !strcmp(file, r.file_id) && (size_t)st.st_size >= offset))
        fprintf(stderr,
                "fetchall: results: %zu records of queue %s were written "
                "out by an earlier run (and left Redis); here are the "
                "rest\n",
                r.urls_before, r.q.name);
    cut_unsynced(&r, file, offset);
    r.next_sync = monotonic() + cl->fsync;
    for (;;) {
        if (r.complete && r.next_before + r.chunks_seen >= chunks_in_all(&r))
            break;
        if (until && monotonic() >= until) {
            timed_out = 1;
            break;
        }
        if (monotonic() >= r.next_lease && !lease(&r, 0, NULL, 0)) {
            fprintf(stderr,
                    "fetchall: results: queue %s: another fetchall results "
                    "took it over; stopping\n",
                    r.q.name);
            exit(2);
        }
        redisReply *x = command(&r, "XREAD COUNT 64 BLOCK 500 STREAMS %s %s",
                                r.q.results, r.last);
        if (x->type == REDIS_REPLY_ARRAY && x->elements == 1) {
            const redisReply *entries = x->element[0]->element[1];
            for (size_t i = 0; i < entries->elements; i++) {
                const redisReply *e = entries->element[i];
                snprintf(r.last, sizeof r.last, "%s", e->element[0]->str);
                take(&r, e->element[0]->str, e->element[1]);
            }
            write_held(&r, 0);
        }
        freeReplyObject(x);
        maybe_commit(&r);
        if (!r.complete)
            read_meta(&r);
    }
    write_held(&r, 1);
    commit(&r);
    const char *argv[] = {"1", r.q.reader, r.token, "0", "0"};
    freeReplyObject(script(&r, SCRIPT_READER, 5, argv));
    redisFree(r.c);
    free(r.held);
    free(r.seen);
    free(r.ids);
    free(r.ks);
    if (!cfg->out.quiet) {
        size_t covered = r.urls_before + r.urls;
        fprintf(stderr,
                "fetchall: results: %zu URLs: %zu ok, %zu failed, %zu in dead "
                "letters",
                covered, r.ok, r.failed, r.dead);
        if (r.urls_before)
            fprintf(stderr, " (%zu written out by an earlier run)",
                    r.urls_before);
        if (timed_out)
            fprintf(stderr, "; deadline reached: %zu%s without a result yet",
                    r.complete && r.total > covered ? r.total - covered : 0,
                    r.complete ? "" : " and more (enqueue is not done)");
        fputc('\n', stderr);
    }
    return r.failed || r.dead || timed_out ? 1 : 0;
}
