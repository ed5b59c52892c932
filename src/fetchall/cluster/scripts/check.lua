-- SPDX-License-Identifier: MIT
-- What a work entry must match before it is fetched: the queue's chunk
-- size, its total (once the whole input is enqueued) and the hash enqueue
-- recorded for the URLs at that position.
-- KEYS meta chunks; ARGV first. {chunk, total or '', hash or ''}.
local m = redis.call('HMGET', KEYS[1], 'chunk', 'total', 'complete')
local total = m[3] == '1' and m[2] or ''
return {m[1] or '', total, redis.call('HGET', KEYS[2], ARGV[1]) or ''}
