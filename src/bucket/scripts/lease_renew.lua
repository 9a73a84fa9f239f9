-- lease_renew: a held lease lives `ttl` longer from now. A lease whose time
-- is up is never revived: its tokens went back (or go back now). A lease
-- that Redis lost (a restart without persistence, or a failover that lost
-- writes) is re-asserted when its holder says what it held.
-- KEYS[1] bucket, KEYS[2] request id key, KEYS[3] index of names (optional:
--         a bucket re-created here is added)
-- ARGV[1] id memory ms (see common)
-- ARGV[2] lease id (24 hex)
-- ARGV[3] how long it lives from now without another renewal (ms)
-- ARGV[4..7] optional, the holder's own record of the lease: its fence,
--         tokens, the bucket's capacity, and "<host> <pid>[ <note>]". With
--         them a lease found neither held nor ended (no tombstone, no drop
--         since its fence) is one Redis lost: it is written back with its
--         own id and fence when there is room (the bucket re-created as a
--         semaphore of that capacity when it is gone), and the bucket
--         grants nothing else for `ttl` (the g field), so that its other
--         holders re-assert theirs before a newcomer comes.
-- Reply: state .. leased tokens, then 'renewed' (and ms until it ends),
--        'lost' (and 0): ended or never held, 'reasserted' (and ms until it
--        ends): lost with Redis's data and written back, or 'taken' (and
--        0): lost with the data, and its slot taken meanwhile
-- Errors: TBNOTFOUND (deleted), TBDATA, TBUSAGE
-- A renewal alone is not announced: the level does not change. Waiters
-- that woke for the old expiry look again and learn the new one; a renewal
-- that shortens a lease wakes the first waiter, whose timer was for later.
local id = lease_id(ARGV[2])
local ttl = whole(ARGV[3], 'lease time', 1)
local mine = ARGV[4] and ARGV[4] ~= ''
local fence, n, capacity, holder
if mine then
    fence, n = whole(ARGV[4], 'fence', 1), whole(ARGV[5], 'tokens', 1)
    capacity, holder = whole(ARGV[6], 'capacity', 1), holder_ok(ARGV[7])
end
local again = first_answer()
if again then return again end
local now, now_text = clock()
local ms = math.floor(now / 1000)
local b = load(key)
local created = false
if not b then
    -- Gone: deleted (the name's memory says so), or lost with the data.
    if not mine or redis.call('HEXISTS', key .. ':m', 'd') == 1 then fail('TBNOTFOUND', key) end
    b, created = fresh(key, {c = capacity, cs = num(capacity)}, nil, now), true
end
refill(b, now)
reclaim(key, b, now)
local expiry = b.l > 0 and tonumber(redis.call('ZSCORE', key .. ':lexp', id))
local held = expiry and expiry > ms
local outcome = held and 'renewed' or 'lost'
if not expiry and mine and not (b.ended_set and b.ended_set[id]) then
    local dropped = tonumber(redis.call('HGET', key .. ':m', 'd'))
    if created or (redis.call('EXISTS', key .. ':rel:' .. id) == 0 and not (dropped and dropped * 1000 >= fence)) then
        -- Lost with Redis's data: back with its own id and fence if there
        -- is room; its bucket's other holders get a grace to do the same.
        tally(b, 6)
        b.g, b.grace_changed = math.max(b.g or 0, ms + ttl), true
        outcome = 'taken'
        if b.t >= n then
            b.t, b.l, b.leases_changed = b.t - n, b.l + n, true
            b.f = math.max(b.f, fence, tonumber(redis.call('HGET', key .. ':m', 'f')) or 0)
            b.new_leases = {{id, ms + ttl, num(n) .. ' ' .. num(fence) .. ' ' .. math.min(ms, math.floor(fence / 1000)) .. ' ' .. ttl .. ' ' .. holder}}
            outcome = 'reasserted'
        end
    end
end
if b.q > 0 and b.leases_changed then
    serve_queue(key, b, now, nil, wake_for(b))
elseif b.q > 0 and held and ms + ttl < expiry then
    -- Shortened: the first waiter's timer was set for the old end.
    serve_queue(key, b, now, nil, 'wake')
end
local t_text = num(b.t)
local reply = state(b, t_text, now)
reply[7] = num(b.l)
reply[8] = outcome
reply[9] = (held or outcome == 'reasserted') and ttl or 0
local changed = created or b.leases_changed or b.stepped or b.queue_changed or b.counted
if changed then begin_change(key, reply, event(b, t_text, now_text)) end
save(key, b, t_text, now_text, created, changed)
if created then index_add(key) end
if held then
    redis.call('ZADD', key .. ':lexp', 'XX', ms + ttl, id)
    if b.x then expire(key, b, ms) end
elseif outcome ~= 'reasserted' then
    -- Its holder finds it lost (nx): counted best effort, as a denial.
    redis.pcall('HINCRBY', key, 'nx', 1)
end
return reply
