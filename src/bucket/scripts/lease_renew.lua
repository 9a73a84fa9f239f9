-- lease_renew: a held lease lives `ttl` longer from now. A lease whose time
-- is up is never revived: its tokens went back (or go back now).
-- KEYS[1] bucket, KEYS[2] request id key
-- ARGV[1] id memory ms (see common)
-- ARGV[2] lease id (24 hex)
-- ARGV[3] how long it lives from now without another renewal (ms)
-- Reply: state .. leased tokens, then 'renewed' (and ms until it ends) or
--        'lost' (and 0): ended or never held
-- Errors: TBNOTFOUND, TBDATA, TBUSAGE
-- A renewal alone is not announced: the level does not change. Waiters
-- that woke for the old expiry look again and learn the new one; a renewal
-- that shortens a lease wakes the first waiter, whose timer was for later.
local id = lease_id(ARGV[2])
local ttl = whole(ARGV[3], 'lease time', 1)
local again = first_answer()
if again then return again end
local now, now_text = clock()
local b = load(key)
if not b then fail('TBNOTFOUND', key) end
refill(b, now)
reclaim(key, b, now)
local ms = math.floor(now / 1000)
local expiry = b.l > 0 and tonumber(redis.call('ZSCORE', key .. ':lexp', id))
local held = expiry and expiry > ms
if b.q > 0 and b.leases_changed then
    serve_queue(key, b, now, nil, wake_for(b))
elseif b.q > 0 and held and ms + ttl < expiry then
    -- Shortened: the first waiter's timer was set for the old end.
    serve_queue(key, b, now, nil, 'wake')
end
local t_text = num(b.t)
local reply = state(b, t_text, now)
reply[7] = num(b.l)
reply[8] = held and 'renewed' or 'lost'
reply[9] = held and ttl or 0
local changed = b.leases_changed or b.stepped or b.queue_changed
if changed then begin_change(key, reply, event(b, t_text, now_text)) end
save(key, b, t_text, now_text, false, changed)
if held then
    redis.call('ZADD', key .. ':lexp', 'XX', ms + ttl, id)
    if b.x then expire(key, b, ms) end
else
    -- Its holder finds it lost (nx): counted best effort, as a denial.
    redis.pcall('HINCRBY', key, 'nx', 1)
end
return reply
