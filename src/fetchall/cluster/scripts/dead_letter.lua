-- SPDX-License-Identifier: MIT
-- dead(): give up on entry id (fields f): to the dead-letter stream, and,
-- when it is the chunk of its positions (claim), a results record that
-- says so; acknowledged and deleted. An entry that is not what enqueue
-- put there (claim false) claims no positions: the real chunk's results
-- still count. KEYS work done results dead, ARGV[1] the group. The part
-- of reclaim.lua and dead.lua that they share (embed.sh puts it before
-- each).
local function dead(id, f, reason, deliveries, claim)
  local v = {}
  for i = 1, #f, 2 do v[f[i]] = f[i + 1] end
  local first, n, urls = v['first'] or '', v['n'] or '0', v['urls'] or ''
  if not claim then first = '' end
  if first == '' or redis.call('SADD', KEYS[2], first) == 1 then
    redis.call('XADD', KEYS[4], '*', 'id', id, 'first', first, 'n', n,
               'urls', urls, 'reason', reason, 'deliveries', deliveries)
    if first ~= '' then
      redis.call('XADD', KEYS[3], '*', 'first', first, 'n', n,
                 'dead', reason, 'urls', urls)
    end
  end
  redis.call('XACK', KEYS[1], ARGV[1], id)
  redis.call('XDEL', KEYS[1], id)
end
