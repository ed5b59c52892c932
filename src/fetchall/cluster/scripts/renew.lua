-- SPDX-License-Identifier: MIT
-- The slots a worker holds, renewed: their leases run out ttl from now.
-- KEYS the slot sets; ARGV ttl-ms, then for each key: a count and that
-- many members.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local a = 2
for k = 1, #KEYS do
  for i = 1, tonumber(ARGV[a]) do
    redis.call('ZADD', KEYS[k], 'XX', now + tonumber(ARGV[1]),
               ARGV[a + i])
  end
  a = a + tonumber(ARGV[a]) + 1
  redis.call('PEXPIRE', KEYS[k], tonumber(ARGV[1]) * 2)
end
return 1
