-- lease_list: the leases held now, soonest to end first; writes nothing.
-- KEYS[1] bucket
-- Reply: state .. leased tokens, then one array per lease: id, "<tokens>
--        <fence> <since ms> <ttl ms> <host> <pid>", ms until it ends
-- Errors: TBNOTFOUND, TBDATA
local now = clock()
local b = load(key)
if not b then fail('TBNOTFOUND', key) end
refill(b, now)
reclaim(key, b, now)
local reply = state(b, num(b.t), now)
reply[7] = num(b.l)
if b.l <= 0 then return reply end
local ms = math.floor(now / 1000)
local held = redis.call('ZRANGEBYSCORE', key .. ':lexp', '(' .. ms, '+inf', 'WITHSCORES')
for i = 1, #held, 2 do
    local record = redis.call('HGET', key .. ':leases', held[i]) or ''
    -- Fence 0: tokens set aside for a served waiter (take_for), not a lease.
    if not string.match(record, '^%d+ 0 ') then
        reply[#reply + 1] = {held[i], record, tonumber(held[i + 1]) - ms}
    end
end
return reply
