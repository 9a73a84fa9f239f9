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
local n, v = counters(b), b.v
-- Leases ended by expiry include those ending now (stored by the next change).
reply[10], reply[11], reply[12], reply[13], reply[14] = num(n[1]), v[12] or '', num(n[2]), num(n[3]), num(n[4])
reply[15], reply[16], reply[17] = num(n[5]), v[16] or '', num(n[6])
return reply
