-- SPDX-License-Identifier: MIT
-- A chunk of URLs onto the queue, once.
-- KEYS work chunks meta; ARGV first hash n urls chunk-size.
-- {1}: added; {0}: there already; {-1}: other URLs there; {-2, size}: the
-- queue was filled with another chunk size.
local size = redis.call('HGET', KEYS[3], 'chunk')
if size and size ~= ARGV[5] then return {-2, size} end
local had = redis.call('HGET', KEYS[2], ARGV[1])
if had then
  if had == ARGV[2] then return {0} end
  return {-1}
end
if not size then redis.call('HSET', KEYS[3], 'chunk', ARGV[5]) end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('XADD', KEYS[1], '*', 'first', ARGV[1], 'n', ARGV[3],
           'urls', ARGV[4])
return {1}
