-- SPDX-License-Identifier: MIT
-- Take over entries idle longer than min-idle (their worker died or
-- stalled), looking at the pending list from cursor on; an entry delivered
-- more than max-deliveries times goes to the dead letters instead.
-- KEYS work done results dead; ARGV group consumer min-idle-ms count
-- max-deliveries cursor. Returns {the next cursor ("0-0": from the start
-- again), the entries taken, as XREADGROUP gives them}.
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3],
                     ARGV[6], 'COUNT', ARGV[4])
local out = {}
for _, e in ipairs(r[2]) do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
  local times = p[1] and p[1][4] or 0
  if times > tonumber(ARGV[5]) then
    dead(e[1], e[2], 'delivered ' .. times .. ' times: every worker '
         .. 'that took it stopped before it was done', times, true)
  else
    table.insert(out, e)
  end
end
return {r[1], out}
