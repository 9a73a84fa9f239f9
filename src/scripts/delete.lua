-- delete: remove the bucket; waiters hear 'deleted' and give up.
-- KEYS[1] bucket
-- Reply: state just before deletion
-- Errors: TBNOTFOUND, TBDATA (a key that is not a bucket is not deleted)
local now = clock()
local b = load(key)
if not b then fail('TBNOTFOUND', key) end
refill(b, now)
publish(key .. ':events', 'deleted')  -- first: see announce() in common
redis.call('DEL', key)
return state(b, num(b.t), now)
