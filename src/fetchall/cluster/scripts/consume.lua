-- SPDX-License-Identifier: MIT
-- fetchall results wrote these results entries out, and its output is
-- safe (flushed; a regular file synced): they leave the results stream,
-- their chunks are marked written (next, and the set of those after it),
-- their counts and where the output ends are kept, and the reader's lease
-- is renewed. Only the reader that holds the queue may (a lease that a
-- restarted Redis lost is taken again).
-- KEYS results printed printed-chunks reader; ARGV token ttl-ms ok failed
-- dead file offset n id1..idn chunk1..chunkn. 1, or 0: another reader
-- holds the queue.
local h = redis.call('GET', KEYS[4])
if h and h ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[2])
local n = tonumber(ARGV[8])
for i = 9, 8 + n do
  redis.call('XDEL', KEYS[1], ARGV[i])
  redis.call('SADD', KEYS[3], ARGV[i + n])
end
local next = tonumber(redis.call('HGET', KEYS[2], 'next') or '0')
while redis.call('SREM', KEYS[3], tostring(next)) == 1 do next = next + 1 end
redis.call('HSET', KEYS[2], 'next', next, 'file', ARGV[6], 'offset', ARGV[7])
redis.call('HINCRBY', KEYS[2], 'ok', ARGV[3])
redis.call('HINCRBY', KEYS[2], 'failed', ARGV[4])
redis.call('HINCRBY', KEYS[2], 'dead', ARGV[5])
return 1
