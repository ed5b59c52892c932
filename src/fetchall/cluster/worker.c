/* SPDX-License-Identifier: MIT */
/*
 * fetchall worker: takes chunks of URLs from the queue's consumer group,
 * fetches them with the whole of fetchall's machinery (limits, retries,
 * politeness), and stores each chunk's results and acknowledges it in one
 * script. Redis speaks through two hiredis connections on the event_base
 * that carries the transfers: one waits in XREADGROUP ... BLOCK, the other
 * carries everything else (a blocking read would hold up every reply
 * queued behind it).
 *
 * What a worker holds stays in the group's pending list until it is done:
 * a worker that dies (kill -9 included) loses nothing, its chunks go to
 * another worker once idle longer than --claim-idle (XAUTOCLAIM, in the
 * reclaim script). A live worker keeps its chunks from looking idle by
 * claiming them again (XCLAIM ... JUSTID) three times per --claim-idle.
 * Fetching is therefore at least once; the results are stored exactly
 * once (the ack script's done-set).
 */
#define _DEFAULT_SOURCE /* random, strdup, strndup, getaddrinfo */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "../common/message.h"
#include "../common/util.h"
#include "cluster.h"

typedef struct worker worker;
typedef struct chunk chunk;

typedef struct wslot {
    chunk *c;
    size_t index;    /* position in the whole input */
    const char *url; /* in its chunk's urls */
    gate_host *host; /* its host in the gate, or NULL */
    part part;       /* -o: the body's temporary file */
} wslot;

struct chunk {
    worker *w;
    char *id; /* the stream entry's */
    size_t first, n, left;
    char *urls;   /* the entry's field, cut into lines */
    char **lines; /* by position in the chunk: its JSON line */
    size_t *lens;
    wslot *slots;
    int acking;
    TAILQ_ENTRY(chunk) link;
};

struct worker {
    const cluster *cl;
    const config *cfg;
    output out;
    fetch_client *client;
    struct event_base *base;
    rconn rd, cmd;  /* the blocking read; everything else */
    hostgate *gate; /* --rate, --host-rate, --delay across workers */
    rqueue q;
    char where[300], name[256];
    TAILQ_HEAD(, chunk) chunks;
    size_t in_hand, want; /* URLs not finished; -j + 1 (see room()) */
    size_t last_n;        /* URLs in the last chunk taken */
    int group_ready, making_group;
    int own_read;       /* our own pending entries re-read */
    char own_after[64]; /* ... from after this ID */
    char cursor[64];    /* where XAUTOCLAIM goes on in the pending list */
    int reading, reclaiming, checking, idle, ending;
    int outage;       /* connections down */
    int said_waiting; /* for enqueue */
    double tick_s, next_reclaim, next_beat;
    struct event *tick;
    size_t chunks_done, duplicates, ok, failed;
    size_t unread;               /* results waiting for fetchall results */
    int backlogged, asking_xlen; /* past --max-results */
};

static void pump(worker *w);
static void check_end(worker *w);

/* May the worker take another chunk? While it holds less than its slots
   (want: -j + 1) and one chunk more (as the last one was): the next chunk
   is read and checked while the one ahead of it is fetched, so that no
   slot waits for Redis (holding only half a chunk ahead left slots idle:
   one worker at 0.8 x plain fetchall's rate); beyond, up to 16 times as
   many, while slots stand idle because what it holds waits for its host.
   Holding no more keeps the work where the slots are: at the end of a
   queue a worker sits on one chunk that others could fetch, at most. */
static int room(worker *w)
{
    fetch_stats st;
    if (w->backlogged)
        return 0;
    if (w->in_hand < w->want + w->last_n)
        return 1;
    if (w->in_hand >= 16 * w->want)
        return 0;
    fetch_client_stats(w->client, &st);
    return st.idle_slots > 0 && (st.queued > 0 || hostgate_waiting(w->gate));
}

/* ---- Redis replies ---- */

static int is_error(const redisReply *r, const char *prefix)
{
    return r && r->type == REDIS_REPLY_ERROR &&
           !strncmp(r->str, prefix, strlen(prefix));
}

/* A line on stderr, escaped whole (Redis' errors carry our input). */
__attribute__((format(printf, 2, 3))) static void say(const worker *w,
                                                      const char *fmt, ...)
{
    char line[1024], shown[4096];
    va_list ap;
    if (w->out.quiet)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fetch_text_escape(shown, sizeof shown, line, strlen(line),
                      FETCH_TEXT_TERMINAL);
    fprintf(stderr, "fetchall: worker %s\n", shown);
}

static void on_down(rconn *rc, const char *why)
{
    worker *w = rc->data;
    if (!w->outage++)
        say(w,
            "%s: Redis at %s: %s; fetching goes on, results wait until it "
            "is back",
            w->name, w->where, why);
}

static void on_up(rconn *rc, double down_for)
{
    worker *w = rc->data;
    if (down_for > 0 && w->outage && !--w->outage)
        say(w, "%s: Redis is back after %.1f s", w->name, down_for);
    if (rc == &w->rd)
        w->reading = 0;
    else if (w->gate)
        hostgate_kick(w->gate); /* leases asked for while it was down */
    pump(w);
}

/* ---- the results backlog ---- */

/* How many results entries wait for fetchall results (a reply to XLEN):
   past --max-results records the worker takes no more chunks, saying so
   once, and goes on when they are read. */
static void unread(worker *w, const redisReply *xlen)
{
    if (!xlen || xlen->type != REDIS_REPLY_INTEGER || !w->cl->max_results)
        return;
    size_t per = w->last_n ? w->last_n : 1;
    int was = w->backlogged;
    w->unread = (size_t)xlen->integer * per;
    w->backlogged = w->unread >= w->cl->max_results;
    if (w->backlogged && !was)
        say(w,
            "%s: about %zu results wait for fetchall results (--max-results "
            "%zu): taking no more chunks until they are read",
            w->name, w->unread, w->cl->max_results);
    else if (!w->backlogged && was)
        say(w, "%s: results are being read; going on", w->name);
}

static void on_xlen(redisAsyncContext *ac, void *reply, void *arg)
{
    worker *w = arg;
    (void)ac;
    rconn_replied(&w->cmd);
    w->asking_xlen = 0;
    unread(w, reply);
    pump(w);
}

/* ---- chunks ---- */

static void chunk_free(chunk *c)
{
    for (size_t i = 0; c->lines && i < c->n; i++)
        free(c->lines[i]);
    free(c->lines);
    free(c->lens);
    free(c->slots);
    free(c->urls);
    free(c->id);
    free(c);
}

static void on_acked(redisAsyncContext *ac, void *reply, void *arg)
{
    chunk *c = arg;
    worker *w = c->w;
    redisReply *r = reply;
    (void)ac;
    rconn_replied(&w->cmd);
    c->acking = 0;
    if (!r)
        return; /* the connection went: again once it is back */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        say(w, "%s: storing results: %s; trying again", w->name,
            r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        return; /* the tick sends it again */
    }
    if (r->element[0]->integer == 0)
        w->duplicates++;
    unread(w, r->element[1]);
    w->chunks_done++;
    TAILQ_REMOVE(&w->chunks, c, link);
    chunk_free(c);
    if (w->idle && TAILQ_EMPTY(&w->chunks))
        check_end(w); /* the last one: the queue may be done, now */
    pump(w);
}

/* Store a finished chunk's results and acknowledge it: one script. */
static void ack(worker *w, chunk *c)
{
    struct evbuffer *b = evbuffer_new();
    char first[24], n[24];
    if (!b)
        fatal("out of memory");
    for (size_t i = 0; i < c->n; i++)
        evbuffer_add(b, c->lines[i], c->lens[i]);
    snprintf(first, sizeof first, "%zu", c->first);
    snprintf(n, sizeof n, "%zu", c->n);
    const char *argv[] = {"3",          w->q.work, w->q.done, w->q.results,
                          rqueue_group, c->id,     first,     n,
                          w->name,      NULL};
    size_t len[10];
    for (int i = 0; i < 9; i++)
        len[i] = strlen(argv[i]);
    len[9] = evbuffer_get_length(b);
    argv[9] = (const char *)evbuffer_pullup(b, -1);
    if (!argv[9])
        argv[9] = "";
    if (rconn_script(&w->cmd, SCRIPT_ACK, on_acked, c, 0, 10, argv, len) == 0)
        c->acking = 1;
    evbuffer_free(b);
}

/* The body: into -o DIR's temporary file, or nowhere. */
static int on_data(fetch_task *task, const char *p, size_t len, void *arg)
{
    wslot *s = arg;
    outdir *dir = s->c->w->out.dir;
    (void)task;
    return dir ? part_data(dir, &s->part, s->index, p, len) : 0;
}

static void on_done(fetch_task *task, void *arg)
{
    wslot *s = arg;
    chunk *c = s->c;
    worker *w = c->w;
    size_t i = (size_t)(s - c->slots);
    int file_error = 0;
    char buf[4200];
    if (w->out.dir) {
        if (fetch_task_response(task)->error == FETCH_OK)
            file_error = part_commit(w->out.dir, &s->part, s->index);
        else
            part_discard(w->out.dir, &s->part, s->index);
    }
    const char *error = output_failed(&w->out, s->index, task, file_error, NULL,
                                      buf, sizeof buf);
    c->lines[i] =
        output_record(&w->out, s->index, task, error, w->name, &c->lens[i]);
    fetch_task_free(task);
    if (w->gate)
        hostgate_done(w->gate, s->host);
    if (error)
        w->failed++;
    else
        w->ok++;
    w->in_hand--;
    if (--c->left == 0)
        ack(w, c);
    pump(w);
}

/* An entry we cannot use: to the dead letters, with why. */
static void give_up(worker *w, const char *id, const char *why)
{
    /* not what enqueue put there: it claims no positions (their real
       chunk's results still count) */
    const char *argv[] = {"4",          w->q.work, w->q.done,
                          w->q.results, w->q.dead, rqueue_group,
                          id,           why,       "0"};
    say(w, "%s: entry %s of queue %s is a dead letter: %s", w->name, id,
        w->q.name, why);
    rconn_script(&w->cmd, SCRIPT_DEAD, NULL, NULL, 0, 9, argv, NULL);
}

static const redisReply *field(const redisReply *f, const char *name)
{
    for (size_t i = 0; f && i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING &&
            !strcmp(f->element[i]->str, name))
            return f->element[i + 1];
    return NULL;
}

static size_t number(const redisReply *v)
{
    char *end;
    if (!v || v->type != REDIS_REPLY_STRING)
        return 0;
    errno = 0;
    unsigned long long n = strtoull(v->str, &end, 10);
    return errno || *end || end == v->str ? 0 : (size_t)n;
}

static void start(void *item, void *arg)
{
    wslot *s = item;
    worker *w = arg;
    fetch_request req = w->cfg->req;
    req.url = s->url;
    req.on_data = on_data;
    req.data_arg = s;
    if (!fetch_submit(w->client, &req, on_done, s, NULL))
        fatal("out of memory");
}

static void drop(chunk *c, const char *why);
static void on_checked(redisAsyncContext *ac, void *reply, void *arg);
static void start_chunk(chunk *c);

/* An entry [id, [field, value ...]] read or reclaimed: fetch its URLs once
   it checks out. */
static void take(worker *w, const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *id = e->element[0]->str;
    const redisReply *f = e->element[1];
    chunk *c;
    TAILQ_FOREACH(c, &w->chunks, link)
    if (!strcmp(c->id, id))
        return; /* ours already */
    if (f->type != REDIS_REPLY_ARRAY) {
        /* in our pending list, but deleted: done by another worker */
        const char *argv[] = {"XACK", w->q.work, rqueue_group, id};
        rconn_send(&w->cmd, 4, argv, NULL);
        return;
    }
    const redisReply *urls = field(f, "urls");
    size_t first = number(field(f, "first")), n = number(field(f, "n"));
    if (!first || !n || n > 1000000 || !urls ||
        urls->type != REDIS_REPLY_STRING) {
        give_up(w, id, "not a chunk of URLs (first, n, urls)");
        return;
    }
    if (!(c = calloc(1, sizeof *c)) || !(c->id = strdup(id)) ||
        !(c->urls = malloc(urls->len + 1)) ||
        !(c->lines = calloc(n, sizeof *c->lines)) ||
        !(c->lens = calloc(n, sizeof *c->lens)) ||
        !(c->slots = calloc(n, sizeof *c->slots)))
        fatal("out of memory");
    memcpy(c->urls, urls->str, urls->len);
    c->urls[urls->len] = '\0';
    c->w = w;
    c->first = first;
    char *p = c->urls;
    size_t count = 1;
    for (const char *q = p; (q = strchr(q, '\n')); q++)
        count++;
    if (count != n) {
        give_up(w, id, "its n does not match its URLs");
        chunk_free(c);
        return;
    }
    c->n = c->left = n;
    w->last_n = n;
    TAILQ_INSERT_TAIL(&w->chunks, c, link);
    w->in_hand += n;
    /* fetched only once it is what enqueue put there */
    char at[24];
    snprintf(at, sizeof at, "%zu", first);
    const char *argv[] = {"2", w->q.meta, w->q.chunks, at};
    if (rconn_script(&w->cmd, SCRIPT_CHECK, on_checked, c, 0, 4, argv, NULL))
        drop(c, NULL); /* down: it is read again once Redis is back */
}

/* A chunk of ours that we let go: given up (why), or left for a later
   read (why NULL). */
static void drop(chunk *c, const char *why)
{
    worker *w = c->w;
    TAILQ_REMOVE(&w->chunks, c, link);
    w->in_hand -= c->n;
    if (why)
        give_up(w, c->id, why);
    chunk_free(c);
}

/* What Redis holds for the chunk's position: {chunk, total, hash}. */
static void on_checked(redisAsyncContext *ac, void *reply, void *arg)
{
    chunk *c = arg;
    worker *w = c->w;
    redisReply *r = reply;
    (void)ac;
    rconn_replied(&w->cmd);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        drop(c, NULL);
        return;
    }
    size_t size = number(r->element[0]), total = number(r->element[1]);
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx",
             (unsigned long long)fnv1a64(c->urls, strlen(c->urls)));
    if (!size || (c->first - 1) % size) {
        drop(c, "its first position is not on a chunk's boundary");
        return;
    }
    if (total && c->first > total) {
        drop(c, "its first position is beyond the enqueued total");
        return;
    }
    if (r->element[2]->type != REDIS_REPLY_STRING ||
        strcmp(r->element[2]->str, hash)) {
        drop(c, "its URLs are not the ones enqueued at its position");
        return;
    }
    start_chunk(c);
}

/* Its URLs to the scheduler (or the host gate first). */
static void start_chunk(chunk *c)
{
    worker *w = c->w;
    char *p = c->urls;
    for (size_t i = 0; i < c->n; i++) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        wslot *s = &c->slots[i];
        s->c = c;
        s->index = c->first + i;
        s->url = p;
        s->part.fd = -1;
        if (w->gate) /* when Redis says its host's turn has come */
            s->host = hostgate_add(w->gate, p, s);
        else
            start(s, w);
        p = nl ? nl + 1 : p + strlen(p);
    }
}

/* ---- reading, reclaiming, the end ---- */

static void on_state(redisAsyncContext *ac, void *reply, void *arg)
{
    worker *w = arg;
    redisReply *r = reply;
    (void)ac;
    rconn_replied(&w->cmd);
    w->checking = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return;
    int complete = r->element[1]->type == REDIS_REPLY_STRING &&
                   !strcmp(r->element[1]->str, "1");
    if (r->element[0]->integer == 0 && !complete && !w->said_waiting++)
        say(w, "%s: queue %s is empty; waiting for fetchall enqueue", w->name,
            w->q.name);
    if (r->element[0]->integer == 0 && complete && TAILQ_EMPTY(&w->chunks) &&
        !w->cl->follow) {
        w->ending = 1;
        event_base_loopbreak(w->base);
    }
}

/* Nothing new came: is the queue done? */
static void check_end(worker *w)
{
    if (w->checking || !TAILQ_EMPTY(&w->chunks) || w->cl->follow)
        return;
    const char *argv[] = {"2", w->q.work, w->q.meta};
    if (rconn_script(&w->cmd, SCRIPT_STATE, on_state, w, 0, 3, argv, NULL) == 0)
        w->checking = 1;
}

static void on_reclaimed(redisAsyncContext *ac, void *reply, void *arg)
{
    worker *w = arg;
    redisReply *r = reply;
    (void)ac;
    rconn_replied(&w->cmd);
    w->reclaiming = 0;
    if (!r)
        return;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        if (is_error(r, "NOGROUP"))
            w->group_ready = 0;
        else
            say(w, "%s: reclaiming: %s", w->name,
                r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        return;
    }
    const redisReply *taken = r->element[1];
    int whole = !strcmp(w->cursor, "0-0"); /* this look began at the start */
    snprintf(w->cursor, sizeof w->cursor, "%s", r->element[0]->str);
    for (size_t i = 0; i < taken->elements; i++)
        take(w, taken->element[i]);
    if (!taken->elements && whole && !strcmp(w->cursor, "0-0") && w->idle)
        check_end(w); /* nothing to take anywhere in the pending list */
    pump(w);
}

/* Take over chunks that other workers hold without a sign of life. */
static void reclaim(worker *w)
{
    char idle[24], count[24], max[24];
    if (w->reclaiming || !room(w))
        return;
    snprintf(idle, sizeof idle, "%.0f", w->cl->claim_idle * 1000);
    snprintf(count, sizeof count, "%d", 4);
    snprintf(max, sizeof max, "%d", w->cl->max_deliveries);
    const char *argv[] = {"4",       w->q.work,    w->q.done, w->q.results,
                          w->q.dead, rqueue_group, w->name,   idle,
                          count,     max,          w->cursor};
    if (rconn_script(&w->cmd, SCRIPT_RECLAIM, on_reclaimed, w, 0, 11, argv,
                     NULL) == 0)
        w->reclaiming = 1;
    w->next_reclaim = monotonic() + w->tick_s * 4;
}

static void on_read(redisAsyncContext *ac, void *reply, void *arg)
{
    worker *w = arg;
    redisReply *r = reply;
    (void)ac;
    rconn_replied(&w->rd);
    w->reading = 0;
    if (!r)
        return; /* down: on_up reads again */
    if (r->type == REDIS_REPLY_ERROR) {
        if (is_error(r, "NOGROUP"))
            w->group_ready = 0; /* the queue was deleted: made again */
        else
            say(w, "%s: reading: %s", w->name, r->str);
        return;
    }
    const redisReply *entries = NULL;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->elements == 2)
        entries = r->element[0]->element[1];
    size_t n = entries ? entries->elements : 0;
    for (size_t i = 0; i < n; i++)
        take(w, entries->element[i]);
    if (!w->own_read) {
        if (n == 0)
            w->own_read = 1;
        else
            snprintf(w->own_after, sizeof w->own_after, "%s",
                     entries->element[n - 1]->element[0]->str);
    }
    w->idle = n == 0;
    if (w->idle)
        reclaim(w); /* then, if there is none either, check_end() */
    pump(w);
}

static void on_group(redisAsyncContext *ac, void *reply, void *arg)
{
    worker *w = arg;
    redisReply *r = reply;
    (void)ac;
    rconn_replied(&w->cmd);
    w->making_group = 0;
    if (r && (r->type == REDIS_REPLY_STATUS || is_error(r, "BUSYGROUP"))) {
        w->group_ready = 1;
        pump(w);
    }
}

/* Whatever can go out now: acknowledgements, the group, the next read. */
static void pump(worker *w)
{
    chunk *c;
    if (w->ending)
        return;
    TAILQ_FOREACH(c, &w->chunks, link)
    if (!c->left && !c->acking)
        ack(w, c);
    if (!w->group_ready) {
        const char *argv[] = {"XGROUP",     "CREATE", w->q.work,
                              rqueue_group, "0",      "MKSTREAM"};
        if (!w->making_group &&
            rconn_command(&w->cmd, on_group, w, 0, 6, argv, NULL) == 0)
            w->making_group = 1;
        return;
    }
    if (w->reading || !room(w))
        return;
    const char *own[] = {"XREADGROUP", "GROUP",   rqueue_group,
                         w->name,      "COUNT",   "1",
                         "STREAMS",    w->q.work, w->own_after};
    /* a read blocks only after one found nothing: the read that finds the
       stream empty at the end of a queue returns at once, and the end is
       seen then, not a BLOCK later */
    const char *next[] = {"XREADGROUP", "GROUP", rqueue_group, w->name,
                          "COUNT",      "1",     "STREAMS",    w->q.work,
                          ">",          NULL,    NULL};
    if (w->idle) {
        memmove(next + 8, next + 6, 3 * sizeof *next);
        next[6] = "BLOCK";
        next[7] = "1000";
    }
    int rc = w->own_read ? rconn_command(&w->rd, on_read, w, w->idle,
                                         w->idle ? 11 : 9, next, NULL)
                         : rconn_command(&w->rd, on_read, w, 0, 9, own, NULL);
    if (rc == 0)
        w->reading = 1;
}

/* Claim what we hold again (idle time back to 0), so that no other
   worker takes it from a live one. */
static void heartbeat(worker *w)
{
    size_t n = 0, i = 0;
    chunk *c;
    TAILQ_FOREACH(c, &w->chunks, link)
    n++;
    if (!n)
        return;
    const char **argv = calloc(n + 6, sizeof *argv);
    if (!argv)
        fatal("out of memory");
    argv[i++] = "XCLAIM";
    argv[i++] = w->q.work;
    argv[i++] = rqueue_group;
    argv[i++] = w->name;
    argv[i++] = "0";
    TAILQ_FOREACH(c, &w->chunks, link)
    argv[i++] = c->id;
    argv[i++] = "JUSTID";
    rconn_send(&w->cmd, (int)i, argv, NULL);
    free(argv);
}

static void on_tick(evutil_socket_t fd, short ev, void *arg)
{
    worker *w = arg;
    double now = monotonic();
    (void)fd;
    (void)ev;
    if (now >= w->next_beat) {
        heartbeat(w);
        w->next_beat = now + w->cl->claim_idle / 3;
    }
    if (now >= w->next_reclaim && w->group_ready)
        reclaim(w);
    hostgate_renew(w->gate);
    if (w->cl->max_results && !w->asking_xlen) {
        const char *argv[] = {"XLEN", w->q.results};
        if (rconn_command(&w->cmd, on_xlen, w, 0, 2, argv, NULL) == 0)
            w->asking_xlen = 1;
    }
    if (w->backlogged && TAILQ_EMPTY(&w->chunks))
        check_end(w); /* what it waits to take may be all done already */
    pump(w);          /* acknowledgements that failed go again */
}

/* ---- the run ---- */

/* SIGINT, SIGTERM, SIGHUP: -o's temporary files go; what the worker held
   goes to other workers once idle for --claim-idle, as after a crash. */
static void on_signal(evutil_socket_t sig, short ev, void *arg)
{
    worker *w = arg;
    size_t held = 0;
    chunk *c;
    (void)ev;
    TAILQ_FOREACH(c, &w->chunks, link)
    held++;
    if (w->out.dir)
        outdir_abort(w->out.dir);
    say(w,
        "%s: %s: stopped; its %zu chunks go to other workers after "
        "--claim-idle %g s",
        w->name, strsignal((int)sig), held, w->cl->claim_idle);
    signal((int)sig, SIG_DFL);
    raise((int)sig);
}

int worker_run(const cluster *cl, const config *cfg, int threads)
{
    worker w = {.cl = cl, .cfg = cfg, .out = cfg->out};
    fetch_options fo = cfg->fo;
    int err;
    char why[256];
    TAILQ_INIT(&w.chunks);
    rqueue_keys(&w.q, cl->queue);
    redis_describe(&cl->redis, w.where, sizeof w.where);
    if (cl->name) {
        snprintf(w.name, sizeof w.name, "%s", cl->name);
    } else {
        char host[200] = "worker";
        gethostname(host, sizeof host - 1);
        snprintf(w.name, sizeof w.name, "%s:%ld", host, (long)getpid());
    }
    w.want = (size_t)fo.max_concurrency + 1;
    w.tick_s = cl->claim_idle / 4 < 1 ? cl->claim_idle / 4 : 1;
    snprintf(w.own_after, sizeof w.own_after, "0");
    snprintf(w.cursor, sizeof w.cursor, "0-0");
    fo.loops = threads;
    /* the rates hold across workers: Redis times the starts (hostgate.c),
       the client does not wait once more; --per-host holds in both */
    fo.rate = fo.host_rate = fo.host_delay = 0;
    fo.random_delay = 0;
    if (!(w.client = fetch_client_new(&fo, NULL, &err)))
        fatal(fetch_strerror(err));
    w.base = fetch_client_base(w.client);
    w.gate = hostgate_new(w.base, &w.cmd, &w.q, &cfg->fo, w.name,
                          cl->claim_idle > 1 ? cl->claim_idle : 1, start, &w);
    struct timeval tv = seconds_tv(w.tick_s);
    if (!(w.tick = event_new(w.base, -1, EV_PERSIST, on_tick, &w)) ||
        event_add(w.tick, &tv) != 0)
        fatal("out of memory");
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct event *sig_ev[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++)
        if (!signal_ignored(sigs[i]) && /* nohup's SIGHUP stays ignored */
            (!(sig_ev[i] = evsignal_new(w.base, sigs[i], on_signal, &w)) ||
             event_add(sig_ev[i], NULL) != 0))
            fatal("out of memory");
    redis_url url = cl->redis;
    if (redis_resolve(&url, why, sizeof why) != 0) {
        fprintf(stderr, "fetchall: worker: --redis %s: %s\n", w.where, why);
        for (int i = 0; i < 3; i++)
            if (sig_ev[i])
                event_free(sig_ev[i]);
        event_free(w.tick);
        fetch_client_free(w.client);
        return 2;
    }
    rconn *conns[] = {&w.rd, &w.cmd};
    for (int i = 0; i < 2; i++) {
        if (rconn_init(conns[i], w.base, &url) != 0)
            fatal("out of memory");
        conns[i]->data = &w;
        conns[i]->on_up = on_up;
        conns[i]->who = "worker";
        conns[i]->on_down = on_down;
        rconn_start(conns[i]);
    }
    event_base_dispatch(w.base);
    rconn_close(&w.rd);
    rconn_close(&w.cmd);
    hostgate_free(w.gate);
    for (int i = 0; i < 3; i++)
        if (sig_ev[i])
            event_free(sig_ev[i]);
    event_free(w.tick);
    fetch_client_free(w.client);
    while (!TAILQ_EMPTY(&w.chunks)) {
        chunk *c = TAILQ_FIRST(&w.chunks);
        TAILQ_REMOVE(&w.chunks, c, link);
        chunk_free(c);
    }
    if (!w.out.quiet)
        fprintf(stderr,
                "fetchall: worker %s: %zu chunks done (%zu URLs, %zu "
                "failed), %zu of them done by another worker first\n",
                w.name, w.chunks_done, w.ok + w.failed, w.failed, w.duplicates);
    return w.failed ? 1 : 0;
}
