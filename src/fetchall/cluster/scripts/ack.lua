-- SPDX-License-Identifier: MIT
-- A chunk done: its results stored unless a chunk of that first has them
-- already, then the entry acknowledged and deleted.
-- KEYS work done results; ARGV group id first n worker lines.
-- {1: stored, 0: a duplicate; the results entries not read yet}.
local stored = 0
if redis.call('SADD', KEYS[2], ARGV[3]) == 1 then
  redis.call('XADD', KEYS[3], '*', 'first', ARGV[3], 'n', ARGV[4],
             'worker', ARGV[5], 'lines', ARGV[6])
  stored = 1
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return {stored, redis.call('XLEN', KEYS[3])}
