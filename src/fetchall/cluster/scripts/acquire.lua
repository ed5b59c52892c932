-- SPDX-License-Identifier: MIT
-- Up to want slots while fewer than limit are held (leases run out at
-- their score): --per-host over all workers.
-- KEYS slots sequence; ARGV limit holder want ttl-ms.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local free = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
local got = {}
for i = 1, math.min(free, tonumber(ARGV[3])) do
  local m = ARGV[2] .. ':' .. redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), m)
  got[i] = m
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) * 2)
return got
