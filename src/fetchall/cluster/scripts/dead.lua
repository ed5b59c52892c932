-- SPDX-License-Identifier: MIT
-- A worker gives up on an entry it cannot use.
-- KEYS work done results dead; ARGV group id reason claim ("1": the
-- entry is its positions' chunk, their records say it is dead).
local e = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
dead(ARGV[2], e[1] and e[1][2] or {}, ARGV[3], p[1] and p[1][4] or 0,
     ARGV[4] == '1')
return 1
