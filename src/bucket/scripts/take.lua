-- take: remove N tokens at once, or none; optionally as a lease.
-- KEYS[1] bucket, KEYS[2] request id key, KEYS[3] index of names (optional)
-- ARGV[1] id memory ms (see common)
-- ARGV[2] N (1..2^53-1)
-- ARGV[3] 'all': N or nothing; 'partial': as many whole tokens as there
--         are, up to N; 'check': take nothing (watch without --take);
--         'wait-all' and 'wait-check': as 'all' and 'check' for a waiter
-- N above capacity is TBIMPOSSIBLE only while the level is below N, and
-- for a waiter only on a refilling bucket: refill never passes capacity,
-- but on a bucket without refill a forced put may bring the level to N.
-- ARGV[4..7] capacity, rate amount, period ms, expiry ms: create when missing
--            ('' capacity: do not create)
-- ARGV[8..11] optional, a lease (modes 'all' and 'wait-all'): its id (24 hex), how
--            long it lives without renewal (ms), its holder ("<host> <pid>"),
--            and 'l' (a refilling bucket is TBUSAGE: leases are for buckets
--            without refill) or 'a' (a refilling bucket is simply taken from)
-- ARGV[12] optional, with a lease: the restart grace in ms for a semaphore
--            created here (restart_grace; '' or 0: none)
-- Waiters queued (see common) are served first; while any remain a take
-- takes nothing (SPEC §10: no one takes what an earlier waiter is owed).
-- Reply: state (see common) .. taken, then, when a lease is held or made
--        or waiters are queued: leased tokens, ms until the next lease ends
--        (0: none), the new lease's fence (0: no lease made), waiters
--        queued ahead, the tokens they ask for; then, for a one-shot
--        denial with leases held, their number and the holder of the one
--        that ends first ("<host> <pid>", "-" for a served waiter's),
--        and while the bucket is held for holders re-asserting after a
--        loss (the g field), the ms left of that grace;
--        a repeat of the request gets the first reply
-- Errors: TBNOTFOUND, TBEXISTS, TBIMPOSSIBLE (N above capacity), TBDATA, TBUSAGE
local n = whole(ARGV[2], 'count', 1)
local mode = ARGV[3]
local waiting = mode == 'wait-all' or mode == 'wait-check'
if waiting then mode = string.sub(mode, 6) end
choice(mode, 'mode', 'all', 'partial', 'check')
local lease = ARGV[8] and ARGV[8] ~= ''
local ttl, kind
if lease then
    if mode ~= 'all' then fail('TBUSAGE', 'a lease takes N or nothing') end
    lease_id(ARGV[8])
    ttl = whole(ARGV[9], 'lease time', 1)
    holder_ok(ARGV[10])
    kind = choice(ARGV[11], 'lease kind', 'l', 'a')
end
local again = first_answer()
if again then return again end
local now, now_text = clock()
local b, created = load_or_fresh(key, 4, now)
refill(b, now)
reclaim(key, b, now)
if created and lease and ARGV[12] and ARGV[12] ~= '' then
    restart_grace(b, whole(ARGV[12], 'restart grace', 0), math.floor(now / 1000))
end
if lease and (b.r or b.w) then
    if kind == 'l' then
        fail('TBREFILLS', refill_text(b) .. ' ' .. (b.ps or '0'))
    end
    lease = false
end
if n > b.c and mode ~= 'partial' and b.t < n and (b.r or b.w or not waiting) then fail('TBIMPOSSIBLE', b.cs) end
if b.q > 0 and mode ~= 'check' then serve_queue(key, b, now, nil, nil) end
local want = n
if mode == 'partial' then want = math.min(n, math.floor(b.t)) end
local taken, fence = 0, 0
local graced = b.graced and lease  -- a new lease waits out a grace
if want >= 1 and b.t >= want and mode ~= 'check' and not b.held and not graced then
    b.t = b.t - want
    taken = want
    if lease then fence = hold(b, ARGV[8], taken, ttl, ARGV[10], now) end
end
local t_text = num(b.t)
local changed = created or taken > 0 or b.stepped or b.leases_changed or b.queue_changed
local reply = state(b, t_text, now)
reply[7] = taken
-- The rest only when there is something to say: the common take's reply
-- stays as short as before leases and queues.
if b.l > 0 or b.q > 0 or fence > 0 or graced then
    reply[8] = num(b.l)
    reply[9] = next_expiry_ms(key, b, now)
    reply[10] = fence
    reply[11] = b.q
    reply[12] = num(b.qn)
    -- A one-shot denial on a semaphore names who holds it.
    if taken == 0 and (b.l > 0 or graced) and not waiting and mode ~= 'check' then
        reply[13], reply[14] = holders(key, b, now)
        if graced then reply[15] = b.g - math.floor(now / 1000) end
    end
end
if changed then begin_change(key, reply, event(b, t_text, now_text)) end
if taken > 0 then tally_grant(b, taken, waiting) end
save(key, b, t_text, now_text, created, changed)
if created then index_add(key) end
if taken == 0 and mode ~= 'check' and not waiting then tally_denial(key) end
return reply
