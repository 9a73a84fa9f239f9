-- take_many: N tokens from each of several buckets, all or none (SPEC §11),
-- on one server (a cluster's names on several shards: see src/bucket/multi.cpp).
-- KEYS[1] the first bucket, KEYS[2] request id key, KEYS[3..] the others
-- ARGV[1] id memory ms (see common)
-- ARGV[2] 'all': all or nothing; 'check': take nothing
-- ARGV[3..] N (1..2^53-1) for each bucket, in the order KEYS[1], KEYS[3], ...
-- then, optionally (mode 'all'), a lease: its id (24 hex), ttl ms, holder
--         ("<host> <pid>"): buckets without refill hold their N under that
--         id (each with its own fence); refilling ones are simply taken from
-- Counters (see common): a grant counts on every bucket, a denial on each
-- that said no. Each bucket's queue is served first, as a take does; while any bucket has
-- tickets queued nothing is taken from any (no one takes what a waiter is
-- owed). Tokens are taken only when every bucket has its N: then from all
-- in this one script, so no one sees some taken and others not.
-- Reply: one take reply (see take.lua) per bucket, in KEYS order;
--        a repeat of the request gets the first reply
-- Errors: as take's, their text followed by ' @<i>', the bucket's place in
--         the list (1-based), so the client can name it
local mode = choice(ARGV[2], 'mode', 'all', 'check')
local keys, counts = {KEYS[1]}, {}
for i = 3, #KEYS do keys[#keys + 1] = KEYS[i] end
if #ARGV ~= #keys + 2 and #ARGV ~= #keys + 5 then fail('TBUSAGE', 'one count per bucket') end
for i = 1, #keys do counts[i] = whole(ARGV[i + 2], 'count', 1) end
local lease = ARGV[#keys + 3]
local ttl, holder
if lease then
    if mode ~= 'all' then fail('TBUSAGE', 'a lease takes N or nothing') end
    lease_id(lease)
    ttl, holder = whole(ARGV[#keys + 4], 'lease time', 1), ARGV[#keys + 5]
    holder_ok(holder)
end
local again = first_answer()
if again then return again end
local now, now_text = clock()
local buckets, enough = {}, true
for i, k in ipairs(keys) do
    local b = load(k)
    if not b then fail('TBNOTFOUND', k .. ' @' .. i) end
    refill(b, now)
    reclaim(k, b, now)
    if counts[i] > b.c and b.t < counts[i] then fail('TBIMPOSSIBLE', b.cs .. ' @' .. i) end
    if b.q > 0 and mode == 'all' then serve_queue(k, b, now, nil, nil) end
    enough = enough and not b.held and b.t >= counts[i] and not (b.graced and lease and not (b.r or b.w))
    buckets[i] = b
end
local reply, changed = {}, {}
for i, b in ipairs(buckets) do
    local taken, fence = 0, 0
    if enough and mode == 'all' then
        b.t = b.t - counts[i]
        taken = counts[i]
        if lease and not (b.r or b.w) then fence = hold(b, lease, taken, ttl, holder, now) end
        tally_grant(b, taken, false)
    end
    b.t_text = num(b.t)
    changed[i] = taken > 0 or b.stepped or b.leases_changed or b.queue_changed
    local r = state(b, b.t_text, now)
    r[7], r[8], r[9], r[10] = taken, num(b.l), next_expiry_ms(keys[i], b, now), fence
    r[11], r[12] = b.q, num(b.qn)
    reply[i] = r
end
-- The order of a change (see common): the id key first, then each event
-- (a refused one removes the id key, and nothing was written), then the
-- buckets' own writes.
local announced = false
for i, b in ipairs(buckets) do
    if changed[i] then
        if not announced then
            redis.call('SET', KEYS[2], cmsgpack.pack(reply), 'PX', ARGV[1])
            announced = true
        end
        local ok, err = pcall(publish, keys[i] .. ':events', event(b, b.t_text, now_text))
        if not ok then
            redis.call('DEL', KEYS[2])
            error(err)
        end
    end
end
for i, b in ipairs(buckets) do save(keys[i], b, b.t_text, now_text, false, changed[i]) end
-- A denial counts on each bucket that said no (see tally_denial).
if not enough and mode == 'all' then
    for i, b in ipairs(buckets) do
        if b.q > 0 or b.t < counts[i] then tally_denial(keys[i]) end
    end
end
return reply
