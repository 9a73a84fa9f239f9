-- info: the bucket's state with refill applied; writes nothing.
-- KEYS[1] bucket
-- Reply: state .. leased tokens, number of leases (leases whose time is up
--        count as given back, though only the next change removes them),
--        waiters queued, then the counters (see common; '' when not
--        counted yet): grants, denials, taken, put, waits served, leases expired, leases lost,
--        leases lost with Redis's data
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
reply[9] = b.q
local v = b.v
reply[10], reply[11], reply[12], reply[13], reply[14] = v[11] or '', v[15] or '', v[12] or '', v[13] or '', v[14] or ''
-- Leases ended by expiry, those ending now too (stored by the next change).
reply[15] = num(b.ne)
reply[16] = v[20] or ''
reply[17] = v[22] or ''
return reply
