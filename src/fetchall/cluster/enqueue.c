/* SPDX-License-Identifier: MIT */
/*
 * fetchall enqueue: the input's URLs onto the queue's stream, a chunk of
 * them an entry, each URL keeping its position in the input. Each chunk is
 * added by a script that first checks the hash of its URLs against what
 * the queue holds at that position: enqueueing the same input again adds
 * nothing (so after any failure, enqueue is simply run again), other
 * input at the same positions is refused. While the queue holds more than
 * --max-queued URLs not done, it waits for the workers.
 */
#define _DEFAULT_SOURCE /* random, strdup, strndup, getaddrinfo */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <hiredis/hiredis.h>

#include "../common/message.h"
#include "../common/util.h"
#include "cluster.h"

#define BATCH 32 /* chunks a round trip */

typedef struct enq {
    const cluster *cl;
    rqueue q;
    redisContext *c;
    char where[300];
    int quiet;
    size_t added, there; /* chunks */
    int waited;          /* said once that the queue is full */
} enq;

/* (Re)connect, as long as it takes, and make sure the group is there. */
static void connect_redis(enq *e)
{
    e->c = redis_reconnect(e->c, &e->cl->redis, "enqueue", e->quiet);
    redisReply *r = redisCommand(e->c, "XGROUP CREATE %s %s 0 MKSTREAM",
                                 e->q.work, rqueue_group);
    freeReplyObject(r); /* BUSYGROUP: made before */
}

/* One command, again after a reconnect until Redis answers. */
static redisReply *command(enq *e, int argc, const char **argv,
                           const size_t *len)
{
    redisReply *r;
    while (!(r = redisCommandArgv(e->c, argc, argv, len)))
        connect_redis(e);
    return r;
}

/* Which URLs a chunk holds: FNV-1a, 64 bits. */
static void chunk_hash(const char *s, size_t len, char hex[17])
{
    snprintf(hex, 17, "%016llx", (unsigned long long)fnv1a64(s, len));
}

/* Wait while the queue holds more than --max-queued URLs not done. */
static void backpressure(enq *e)
{
    const char *argv[] = {"XLEN", e->q.work};
    for (;;) {
        redisReply *r = command(e, 2, argv, NULL);
        long long chunks = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
        freeReplyObject(r);
        if ((size_t)chunks * (size_t)e->cl->chunk < e->cl->max_queued)
            return;
        if (!e->waited++ && !e->quiet)
            fprintf(stderr,
                    "fetchall: enqueue: queue %s holds %lld chunks not done "
                    "(--max-queued %zu URLs); waiting for the workers\n",
                    e->q.name, chunks, e->cl->max_queued);
        sleep_seconds(0.5);
    }
}

typedef struct pending_chunk {
    size_t first, n;
    char *urls;
    size_t len;
} pending_chunk;

/* Add a batch of chunks in one round trip; again from the start after a
   lost connection (adding is idempotent). 0, or 2 with a message. */
static int send_batch(enq *e, pending_chunk *b, int nb)
{
    char chunk[24];
    snprintf(chunk, sizeof chunk, "%d", e->cl->chunk);
again:
    for (int i = 0; i < nb; i++) {
        char first[24], n[24], hash[17];
        snprintf(first, sizeof first, "%zu", b[i].first);
        snprintf(n, sizeof n, "%zu", b[i].n);
        chunk_hash(b[i].urls, b[i].len, hash);
        const char *argv[] = {"EVALSHA",   rqueue_sha(SCRIPT_ENQUEUE),
                              "3",         e->q.work,
                              e->q.chunks, e->q.meta,
                              first,       hash,
                              n,           b[i].urls,
                              chunk};
        size_t len[11];
        for (int k = 0; k < 11; k++)
            len[k] = strlen(argv[k]);
        len[9] = b[i].len;
        redisAppendCommandArgv(e->c, 11, argv, len);
    }
    for (int i = 0; i < nb; i++) {
        redisReply *r;
        if (redisGetReply(e->c, (void **)&r) != REDIS_OK) {
            connect_redis(e);
            goto again;
        }
        if (redis_noscript(r)) { /* Redis lost it: load, send again */
            freeReplyObject(r);
            while (++i < nb && redisGetReply(e->c, (void **)&r) == REDIS_OK)
                freeReplyObject(r);
            redis_load_scripts(e->c);
            goto again;
        }
        long long v = r->type == REDIS_REPLY_ARRAY && r->elements
                          ? r->element[0]->integer
                          : -3;
        if (v == 1)
            e->added++;
        else if (v == 0)
            e->there++;
        else if (v == -1)
            fprintf(stderr,
                    "fetchall: enqueue: queue %s holds other URLs at "
                    "position %zu: enqueue the same input again, or use "
                    "another --queue\n",
                    e->q.name, b[i].first);
        else if (v == -2)
            fprintf(stderr,
                    "fetchall: enqueue: queue %s was filled with --chunk "
                    "%s\n",
                    e->q.name, r->element[1]->str);
        else
            fprintf(stderr, "fetchall: enqueue: %s: %s\n", e->where,
                    r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        freeReplyObject(r);
        if (v < 0) { /* the replies still due are read and dropped */
            while (++i < nb && redisGetReply(e->c, (void **)&r) == REDIS_OK)
                freeReplyObject(r);
            return 2;
        }
    }
    return 0;
}

/* The next URL of the input, waiting for a pipe. NULL at the end. */
static const char *next_url(input *in)
{
    const char *url;
    for (;;) {
        switch (input_next(in, &url)) {
        case INPUT_URL:
            return url;
        case INPUT_WAIT: {
            struct pollfd p = {.fd = input_fd(in), .events = POLLIN};
            if (poll(&p, 1, -1) < 0 && errno != EINTR)
                input_wait_failed(in);
            else
                input_fill(in);
            break;
        }
        default:
            return NULL;
        }
    }
}

int enqueue_run(const cluster *cl, input *in, int quiet)
{
    enq e = {.cl = cl, .quiet = quiet};
    pending_chunk batch[BATCH];
    struct evbuffer *urls = evbuffer_new();
    size_t total = 0, in_chunk = 0;
    int nb = 0, status = 0;
    const char *url;
    if (!urls)
        fatal("out of memory");
    rqueue_keys(&e.q, cl->queue);
    redis_describe(&cl->redis, e.where, sizeof e.where);
    connect_redis(&e);
    do {
        url = next_url(in);
        if (url) {
            if (in_chunk)
                evbuffer_add(urls, "\n", 1);
            evbuffer_add(urls, url, strlen(url));
            total++;
            in_chunk++;
        }
        if (in_chunk && (in_chunk == (size_t)cl->chunk || !url)) {
            pending_chunk *p = &batch[nb++];
            p->first = total - in_chunk + 1;
            p->n = in_chunk;
            p->len = evbuffer_get_length(urls);
            if (!(p->urls = malloc(p->len + 1)))
                fatal("out of memory");
            evbuffer_remove(urls, p->urls, p->len);
            p->urls[p->len] = '\0';
            in_chunk = 0;
        }
        if (nb == BATCH || (nb && !url)) {
            backpressure(&e);
            status = send_batch(&e, batch, nb);
            while (nb)
                free(batch[--nb].urls);
        }
    } while (url && !status);
    evbuffer_free(urls);
    if (in->failed)
        status = 2;
    else if (!status && !total) {
        fprintf(stderr, "fetchall: enqueue: no URLs given\n");
        status = 2;
    }
    if (!status) {
        char t[24];
        snprintf(t, sizeof t, "%zu", total);
        const char *argv[] = {"1", e.q.meta, t};
        redisReply *r;
        while (!(r = redis_script(e.c, SCRIPT_FINISH, 3, argv, NULL)))
            connect_redis(&e);
        if (r->type != REDIS_REPLY_INTEGER || r->integer != 1) {
            fprintf(stderr,
                    "fetchall: enqueue: queue %s holds an input of another "
                    "length: enqueue the same input again, or use another "
                    "--queue\n",
                    e.q.name);
            status = 2;
        }
        freeReplyObject(r);
    }
    if (!status && !quiet)
        fprintf(stderr,
                "fetchall: enqueue: %zu URLs on queue %s at %s: %zu chunks "
                "added, %zu there already\n",
                total, e.q.name, e.where, e.added, e.there);
    redisFree(e.c);
    return status;
}
