-- info: the bucket's state with refill applied; writes nothing.
-- KEYS[1] bucket
-- Reply: state .. leased tokens, number of leases (leases whose time is up
--        count as given back, though only the next change removes them)
-- Errors: TBNOTFOUND, TBDATA
local now = clock()
local b = load(key)
if not b then fail('TBNOTFOUND', key) end
refill(b, now)
reclaim(key, b, now)
local reply = state(b, num(b.t), now)
reply[7] = num(b.l)
reply[8] = 0
if b.l > 0 then reply[8] = redis.call('ZCARD', key .. ':lexp') - #(b.ended or {}) end
return reply
