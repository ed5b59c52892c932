/* SPDX-License-Identifier: MIT */
/*
 * The queue's layout in Redis, and the Lua scripts that change it
 * (scripts/NAME.lua, embedded at build time by embed.sh): each runs
 * atomically in Redis, so that no crash between two commands can lose or
 * double anything. They are loaded once (SCRIPT LOAD) and called by their
 * SHA-1 (EVALSHA); a Redis that has lost them (restarted, SCRIPT FLUSH)
 * answers NOSCRIPT, and they are loaded again (redis.c). For a queue NAME (keys
 * share the hash tag {NAME}, so that a Redis Cluster keeps them on one node):
 *
 *   {NAME}:work     stream of chunks: first (the global input position of
 *                   its first URL), n, urls (newline-separated); consumer
 *                   group "workers". A chunk is deleted once it is done, so
 *                   its length is the work not done yet.
 *   {NAME}:chunks   hash first -> hash of the chunk's URLs: enqueueing the
 *                   same input again adds nothing, other input is refused
 *   {NAME}:meta     hash: chunk (URLs a chunk), total, complete (1 once the
 *                   whole input is enqueued)
 *   {NAME}:done     set of the firsts whose results are stored: results
 *                   are stored once however often a chunk was fetched
 *   {NAME}:results  stream: first, n, worker, lines (JSON lines, one a URL,
 *                   in input order); or first, n, dead, urls for a chunk
 *                   given up on. fetchall results deletes what it has
 *                   written out, so its length is the results not read yet
 *   {NAME}:printed  hash: what fetchall results wrote out: next (every
 *                   chunk before it), ok, failed, dead (counts), file and
 *                   offset (the regular file it appends to, as
 *                   device:inode, and its size once synced)
 *   {NAME}:printed-chunks  set: the chunks after next written out (as
 *                   they completed): next moves over them
 *   {NAME}:reader   the results reader's lease (one at a time)
 *   {NAME}:dead     stream of the chunks given up on: id, first, n, urls,
 *                   reason, deliveries
 *   {NAME}:rate, {NAME}:host:HOST, {NAME}:slots:HOST, {NAME}:slotseq
 *                   the rates' schedules and the per-host slots shared by
 *                   the workers (hostgate.c)
 */
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "../common/message.h"
#include "../common/util.h"
#include "cluster.h"

void rqueue_keys(rqueue *q, const char *name)
{
    q->name = name;
    snprintf(q->work, sizeof q->work, "{%s}:work", name);
    snprintf(q->chunks, sizeof q->chunks, "{%s}:chunks", name);
    snprintf(q->meta, sizeof q->meta, "{%s}:meta", name);
    snprintf(q->done, sizeof q->done, "{%s}:done", name);
    snprintf(q->results, sizeof q->results, "{%s}:results", name);
    snprintf(q->dead, sizeof q->dead, "{%s}:dead", name);
    snprintf(q->printed, sizeof q->printed, "{%s}:printed", name);
    snprintf(q->printed_set, sizeof q->printed_set, "{%s}:printed-chunks",
             name);
    snprintf(q->reader, sizeof q->reader, "{%s}:reader", name);
}

const char *const rqueue_group = "workers";

/* The scripts' SHA-1s, computed once: EVALSHA sends 40 bytes where EVAL
   sends the whole script. */
static char shas[SCRIPTS][41];

const char *rqueue_sha(int script)
{
    if (!shas[script][0]) {
        unsigned char md[SHA_DIGEST_LENGTH];
        const char *text = rqueue_script_text[script];
        SHA1((const unsigned char *)text, strlen(text), md);
        for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
            snprintf(shas[script] + 2 * i, 3, "%02x", md[i]);
    }
    return shas[script];
}
