-- SPDX-License-Identifier: MIT
-- How far the queue is.
-- KEYS work meta. {chunks not done, complete}.
return {redis.call('XLEN', KEYS[1]),
        redis.call('HGET', KEYS[2], 'complete') or '0'}
