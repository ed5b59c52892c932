-- SPDX-License-Identifier: MIT
-- The next k start times, in ms from now, each due by both schedules
-- (--host-rate/--delay and --rate over all workers).
-- KEYS host-key all-key; ARGV k host-interval-ms all-interval-ms.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local ih, ia = tonumber(ARGV[2]), tonumber(ARGV[3])
local th = ih > 0 and tonumber(redis.call('GET', KEYS[1]) or 0) or 0
local ta = ia > 0 and tonumber(redis.call('GET', KEYS[2]) or 0) or 0
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local s = math.max(now, th, ta)
  out[i] = string.format('%.3f', s - now)
  if ih > 0 then th = s + ih end
  if ia > 0 then ta = s + ia end
end
local function keep(k, v)
  redis.call('SET', k, string.format('%.3f', v), 'PX',
             math.ceil(v - now) + 60000)
end
if ih > 0 then keep(KEYS[1], th) end
if ia > 0 then keep(KEYS[2], ta) end
return out
