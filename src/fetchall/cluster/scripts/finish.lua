-- SPDX-License-Identifier: MIT
-- The whole input is enqueued.
-- KEYS meta; ARGV total. 1, or -1: the queue holds another total.
local t = redis.call('HGET', KEYS[1], 'total')
if t and t ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], 'total', ARGV[1], 'complete', '1')
return 1
