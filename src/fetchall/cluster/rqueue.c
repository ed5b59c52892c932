/* SPDX-License-Identifier: MIT */
/*
 * The queue's layout in Redis, and the Lua scripts that change it: each
 * runs atomically in Redis, so that no crash between two commands can lose
 * or double anything. For a queue NAME (keys share the hash tag {NAME},
 * so that a Redis Cluster keeps them on one node):
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
 *                   given up on
 *   {NAME}:dead     stream of the chunks given up on: id, first, n, urls,
 *                   reason, deliveries
 *   {NAME}:rate, {NAME}:host:HOST, {NAME}:slots:HOST, {NAME}:slotseq
 *                   the rates' schedules and the per-host slots shared by
 *                   the workers (hostgate.c)
 */
#include <stdio.h>

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
}

const char *const rqueue_group = "workers";

/* KEYS work chunks meta; ARGV first hash n urls chunk-size.
   {1}: added; {0}: there already; {-1}: other URLs there; {-2, size}: the
   queue was filled with another chunk size. */
const char rqueue_enqueue[] =
    "local size = redis.call('HGET', KEYS[3], 'chunk')\n"
    "if size and size ~= ARGV[5] then return {-2, size} end\n"
    "local had = redis.call('HGET', KEYS[2], ARGV[1])\n"
    "if had then\n"
    "  if had == ARGV[2] then return {0} end\n"
    "  return {-1}\n"
    "end\n"
    "if not size then redis.call('HSET', KEYS[3], 'chunk', ARGV[5]) end\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])\n"
    "redis.call('XADD', KEYS[1], '*', 'first', ARGV[1], 'n', ARGV[3],\n"
    "           'urls', ARGV[4])\n"
    "return {1}\n";

/* KEYS meta; ARGV total. 1, or -1: the queue holds another total. */
const char rqueue_finish[] =
    "local t = redis.call('HGET', KEYS[1], 'total')\n"
    "if t and t ~= ARGV[1] then return -1 end\n"
    "redis.call('HSET', KEYS[1], 'total', ARGV[1], 'complete', '1')\n"
    "return 1\n";

/* KEYS work done results; ARGV group id first n worker lines. Stores the
   results unless a chunk of that first has them already, then
   acknowledges and deletes the entry. 1: stored; 0: a duplicate. */
const char rqueue_ack[] =
    "local stored = 0\n"
    "if redis.call('SADD', KEYS[2], ARGV[3]) == 1 then\n"
    "  redis.call('XADD', KEYS[3], '*', 'first', ARGV[3], 'n', ARGV[4],\n"
    "             'worker', ARGV[5], 'lines', ARGV[6])\n"
    "  stored = 1\n"
    "end\n"
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])\n"
    "redis.call('XDEL', KEYS[1], ARGV[2])\n"
    "return stored\n";

/* Give up on entry id (fields f): to the dead-letter stream, and a
   results record that says so; acknowledged and deleted. KEYS work done
   results dead, ARGV[1] the group. */
#define DEAD_FUNCTION                                                          \
    "local function dead(id, f, reason, deliveries)\n"                         \
    "  local v = {}\n"                                                         \
    "  for i = 1, #f, 2 do v[f[i]] = f[i + 1] end\n"                           \
    "  local first, n, urls = v['first'] or '', v['n'] or '0', v['urls'] or "  \
    "''\n"                                                                     \
    "  if first == '' or redis.call('SADD', KEYS[2], first) == 1 then\n"       \
    "    redis.call('XADD', KEYS[4], '*', 'id', id, 'first', first, 'n', n,\n" \
    "               'urls', urls, 'reason', reason, 'deliveries', "            \
    "deliveries)\n"                                                            \
    "    if first ~= '' then\n"                                                \
    "      redis.call('XADD', KEYS[3], '*', 'first', first, 'n', n,\n"         \
    "                 'dead', reason, 'urls', urls)\n"                         \
    "    end\n"                                                                \
    "  end\n"                                                                  \
    "  redis.call('XACK', KEYS[1], ARGV[1], id)\n"                             \
    "  redis.call('XDEL', KEYS[1], id)\n"                                      \
    "end\n"

/* KEYS work done results dead; ARGV group consumer min-idle-ms count
   max-deliveries cursor. Takes over entries idle longer than min-idle
   (their worker died or stalled), looking at the pending list from cursor
   on; an entry delivered more than max-deliveries times goes to the dead
   letters instead. Returns {the next cursor ("0-0": from the start
   again), the entries taken, as XREADGROUP gives them}. */
const char rqueue_reclaim[] = DEAD_FUNCTION
    "local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3],\n"
    "                     ARGV[6], 'COUNT', ARGV[4])\n"
    "local out = {}\n"
    "for _, e in ipairs(r[2]) do\n"
    "  local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)\n"
    "  local times = p[1] and p[1][4] or 0\n"
    "  if times > tonumber(ARGV[5]) then\n"
    "    dead(e[1], e[2], 'delivered ' .. times .. ' times: every worker '\n"
    "         .. 'that took it stopped before it was done', times)\n"
    "  else\n"
    "    table.insert(out, e)\n"
    "  end\n"
    "end\n"
    "return {r[1], out}\n";

/* KEYS work done results dead; ARGV group id reason. A worker gives up on
   an entry it cannot use. */
const char rqueue_dead[] = DEAD_FUNCTION
    "local e = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])\n"
    "local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)\n"
    "dead(ARGV[2], e[1] and e[1][2] or {}, ARGV[3], p[1] and p[1][4] or 0)\n"
    "return 1\n";

/* KEYS work meta. {chunks not done, complete}. */
const char rqueue_state[] =
    "return {redis.call('XLEN', KEYS[1]),\n"
    "        redis.call('HGET', KEYS[2], 'complete') or '0'}\n";
