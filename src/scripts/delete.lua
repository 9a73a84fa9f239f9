-- delete: remove the bucket; waiters hear 'deleted' and give up.
-- KEYS[1] bucket, KEYS[2] request id key, KEYS[3] index of names (optional)
-- ARGV[1] id memory ms (see common)
-- Reply: state just before deletion; a repeat of the request gets the first reply
-- Errors: TBNOTFOUND, TBDATA (a key that is not a bucket is not deleted)
local again = first_answer()
if again then return again end
local now = clock()
local b = load(key)
if not b then fail('TBNOTFOUND', key) end
refill(b, now)
local reply = state(b, num(b.t), now)
begin_change(key, reply, 'deleted')
redis.call('DEL', key)
index_remove(key)
return reply
