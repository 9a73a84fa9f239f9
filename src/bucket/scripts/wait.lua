-- wait: a waiter's place in the bucket's queue (SPEC §10, see common).
-- KEYS[1] bucket, KEYS[2] request id key, KEYS[3] index of names (optional)
-- ARGV[1] id memory ms (see common)
-- ARGV[2] N (1..2^53-1)
-- ARGV[3] 'enter': take N now if no one is queued and they are there, else
--         join the queue (or, already in it, look: the queue is served first,
--         this ticket too when its turn and tokens have come); 'leave': quit
--         the queue (tokens already set aside for the ticket are still given)
-- ARGV[4] ticket id (24 hex), also the lease id when a lease is asked
-- ARGV[5] ms from now when the waiter gives up (0: never), so that the
--         ticket of a waiter that dies holds no place after that
-- ARGV[6] the place the ticket had ('' none): a waiter whose ticket was
--         dropped while it was away (a lost connection) gets it back
-- ARGV[7..10] capacity, rate amount, period ms, expiry ms: create when
--         missing ('' capacity: do not create)
-- ARGV[11..13] optional, a lease: ttl ms, holder "<host> <pid>", 'l' or 'a'
--         (see take)
-- ARGV[14] optional, with a lease: the restart grace in ms for a semaphore
--         created here (see take)
-- Reply: state .. taken, leased tokens, ms until the next lease ends,
--        fence (0: no lease), place in line (0: first; -1: not queued;
--        for 'leave', the place it had),
--        tokens asked for by those ahead (an upper bound past the first),
--        the ticket's place (its score; '' when not queued), then, only when
--        a new lease waits out a restart grace, the ms until it ends
-- Errors: TBNOTFOUND, TBEXISTS, TBIMPOSSIBLE, TBREFILLS, TBDATA, TBUSAGE
local n = whole(ARGV[2], 'count', 1)
local op = choice(ARGV[3], 'op', 'enter', 'leave')
local ticket = lease_id(ARGV[4])
local patience = whole(ARGV[5], 'time to give up', 0)
local place = nil
if ARGV[6] ~= '' then place = whole(ARGV[6], 'place', 0) end
local lease = ARGV[11] and ARGV[11] ~= ''
local ttl, kind = 0, nil
if lease then
    ttl = whole(ARGV[11], 'lease time', 1)
    holder_ok(ARGV[12])
    kind = choice(ARGV[13], 'lease kind', 'l', 'a')
end
local again = first_answer()
if again then return again end
local now, now_text = clock()
local b, created
if op == 'enter' then
    b, created = load_or_fresh(key, 7, now)
else
    b = load(key)
    if not b then fail('TBNOTFOUND', key) end
end
refill(b, now)
reclaim(key, b, now)
-- Served by another client's script: the answer is waiting, valid while
-- its hold lasts. Remembered as this request's reply (a repeat after a
-- lost reply gets it again).
local granted = not created and claim_grant(key, b, ticket, math.floor(now / 1000))
if granted then
    local changed = b.leases_changed or b.stepped
    if changed then
        local t_text = num(b.t)
        begin_change(key, granted, event(b, t_text, now_text))
        save(key, b, t_text, now_text, false, true)
    else
        redis.call('SET', KEYS[2], cmsgpack.pack(granted), 'PX', ARGV[1])
        save(key, b, num(b.t), now_text, false, false)
    end
    return granted
end
if lease and (b.r or b.w) then
    if kind == 'l' then fail('TBREFILLS', refill_text(b) .. ' ' .. (b.ps or '0')) end
    lease, ttl = false, 0
end
if op == 'enter' and n > b.c and (b.r or b.w) and b.t < n then fail('TBIMPOSSIBLE', b.cs) end
local ms = math.floor(now / 1000)
if created and lease and ARGV[14] and ARGV[14] ~= '' then restart_grace(b, whole(ARGV[14], 'restart grace', 0), ms) end
local record = num(n) .. ' ' .. (patience > 0 and ms + patience or 0) .. ' ' .. (lease and ttl or 0)
if lease then record = record .. ' ' .. ARGV[12] end
local queued = b.q > 0 and tonumber(redis.call('ZSCORE', key .. ':q', ticket))
local given, left_at = nil, -1
if op == 'leave' then
    if queued then
        left_at = redis.call('ZRANK', key .. ':q', ticket)
        dequeue(b, ticket, n)
        serve_queue(key, b, now, nil, wake_for(b))
    end
elseif queued then
    given = serve_queue(key, b, now, ticket, 'ping')
else
    if b.q > 0 then serve_queue(key, b, now, nil, 'ping') end
    if not b.held and b.t >= n and not (b.graced and lease) then
        given = take_for(b, ticket, {n = n, ttl = ttl, holder = ARGV[12]}, now)
    else
        queued = enqueue(key, b, ticket, n, record, place, now)
    end
end
local position, ahead = left_at, 0
if not given and op == 'enter' then
    if b.enqueued then
        position, ahead = b.q - 1, b.qn - n
    else
        position = redis.call('ZRANK', key .. ':q', ticket) - #(b.dequeued or {})
        ahead = position == 0 and 0 or b.qn - n
    end
end
local t_text = num(b.t)
local changed = created or b.stepped or b.leases_changed or b.queue_changed or given ~= nil
local reply = state(b, t_text, now)
reply[7] = given and given[1] or 0
reply[8] = num(b.l)
reply[9] = next_expiry_ms(key, b, now)
reply[10] = given and given[2] or 0
reply[11] = position
reply[12] = num(ahead)
reply[13] = (position >= 0 and queued) and num(queued) or ''
if lease and b.graced and not given then reply[14] = b.g - ms end
if changed then begin_change(key, reply, event(b, t_text, now_text)) end
save(key, b, t_text, now_text, created, changed)
if created then index_add(key) end
return reply
