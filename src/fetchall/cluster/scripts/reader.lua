-- SPDX-License-Identifier: MIT
-- One fetchall results at a time reads a queue (it deletes what it wrote
-- out): a lease that the reader renews, taken over once it runs out, or
-- at once when its holder is known to be dead (force "1").
-- KEYS reader; ARGV token ttl-ms force ("0": give it back). {1}: held;
-- {0, holder}: another holds it.
local h = redis.call('GET', KEYS[1])
if ARGV[2] == '0' then
  if h == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return {1}
end
if h and h ~= ARGV[1] and ARGV[3] ~= '1' then return {0, h} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1}
