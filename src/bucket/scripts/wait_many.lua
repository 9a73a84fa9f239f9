-- wait_many: a waiter's ticket in the queues of several buckets (SPEC §10,
-- §11), taken from all at once or from none.
-- KEYS[1] the first bucket (the ticket's home), KEYS[2] request id key,
-- KEYS[3..] the other buckets
-- ARGV[1] id memory ms (see common)
-- ARGV[2] 'enter': take now if no bucket has anyone queued and each has its
--         tokens, else join every queue with one place (or, already queued,
--         look: when the ticket is first in every queue and each has its
--         tokens, take from all and leave them); 'leave': quit every queue
-- ARGV[3] ticket id (24 hex), also the lease id when a lease is asked
-- ARGV[4] ms from now when the waiter gives up (0: never)
-- ARGV[5] the place the ticket had ('' none), to regain it
-- ARGV[6..5+k] N for each bucket, in the order KEYS[1], KEYS[3], ...
-- then, optionally, a lease: ttl ms, holder "<host> <pid>": buckets without
--         refill hold their N as that lease (each with its own fence)
-- The place is the same in every queue (the largest of each queue's last
-- place + 1 and the server time), so two tickets are in the same order in
-- every queue they share: the earliest ticket waiting is first in all of
-- its queues, and waits only for tokens, never for another ticket.
-- Reply: one take reply per bucket (see take.lua) whose elements 11 and 12
--        are the ticket's place in that queue (0 first, -1 not queued, -2
--        put back in it just now: look again at once) and
--        the tokens asked for by those ahead of it, and element 13, only
--        when a new lease waits out that bucket's restart grace, the ms
--        until it ends; then the ticket's place ('' when not queued)
-- Errors: as take_many's, with ' @<i>'
local op = choice(ARGV[2], 'op', 'enter', 'leave')
local ticket = lease_id(ARGV[3])
local patience = whole(ARGV[4], 'time to give up', 0)
local place = nil
if ARGV[5] ~= '' then place = whole(ARGV[5], 'place', 0) end
local keys, counts = {KEYS[1]}, {}
for i = 3, #KEYS do keys[#keys + 1] = KEYS[i] end
if #ARGV ~= #keys + 5 and #ARGV ~= #keys + 7 then fail('TBUSAGE', 'one count per bucket') end
for i = 1, #keys do counts[i] = whole(ARGV[i + 5], 'count', 1) end
local ttl, holder = 0, nil
if ARGV[#keys + 6] then
    ttl, holder = whole(ARGV[#keys + 6], 'lease time', 1), ARGV[#keys + 7]
    holder_ok(holder)
end
local again = first_answer()
if again then return again end
-- Leaving after one of the buckets was deleted: the others' queues still.
if op == 'leave' then
    local present, counted = {}, {}
    for i, k in ipairs(keys) do
        if redis.call('EXISTS', k) == 1 then present[#present + 1], counted[#counted + 1] = k, counts[i] end
    end
    keys, counts = present, counted
end
local now, now_text = clock()
local ms = math.floor(now / 1000)
local buckets, queued = {}, nil
for i, k in ipairs(keys) do
    local b = load(k)
    if not b then fail('TBNOTFOUND', k .. ' @' .. i) end
    refill(b, now)
    reclaim(k, b, now)
    if op == 'enter' and counts[i] > b.c and (b.r or b.w) and b.t < counts[i] then fail('TBIMPOSSIBLE', b.cs .. ' @' .. i) end
    b.mine = b.q > 0 and tonumber(redis.call('ZSCORE', k .. ':q', ticket))
    queued = queued or b.mine
    buckets[i] = b
end

-- The ticket's tokens from every bucket (a lease where it has no refill).
local function take_all()
    local given = {}
    for i, b in ipairs(buckets) do
        given[i] = take_for(b, ticket, {n = counts[i], ttl = (holder and not (b.r or b.w)) and ttl or 0, holder = holder}, now)
    end
    return given
end

local function record(i)
    local lease = holder and not (buckets[i].r or buckets[i].w)
    local text = num(counts[i]) .. ' ' .. (patience > 0 and ms + patience or 0) .. ' ' .. (lease and ttl or 0)
    if lease then text = text .. ' ' .. holder end
    return text .. ' >' .. keys[1]
end

local given = nil
if op == 'leave' then
    for i, b in ipairs(buckets) do
        if b.mine then
            dequeue(b, ticket, counts[i], true)
            serve_queue(keys[i], b, now, nil, wake_for(b))
        end
    end
elseif not queued then
    local ready = true
    for i, b in ipairs(buckets) do
        if b.q > 0 then serve_queue(keys[i], b, now, nil, 'ping') end
        ready = ready and not b.held and b.t >= counts[i] and not (b.graced and holder and not (b.r or b.w))
    end
    if ready then
        given = take_all()
    else
        if not place then
            place = now
            for _, k in ipairs(keys) do
                local last = redis.call('ZRANGE', k .. ':q', -1, -1, 'WITHSCORES')
                place = math.max(place, (tonumber(last[2]) or 0) + 1)
            end
        end
        for i, b in ipairs(buckets) do enqueue(keys[i], b, ticket, counts[i], record(i), place, now) end
        queued = place
    end
else
    local ready = true
    for i, b in ipairs(buckets) do
        -- Dropped from a queue while away (a lost connection): back, in place.
        if not b.mine then
            enqueue(keys[i], b, ticket, counts[i], record(i), queued, now)
            b.back = true
        end
        b.first = nil
        if b.mine then serve_queue(keys[i], b, now, ticket, 'ping') end
        ready = ready and b.first
    end
    if ready then
        given = take_all()
        for i, b in ipairs(buckets) do
            dequeue(b, ticket, counts[i], true)
            serve_queue(keys[i], b, now, nil, wake_for(b))
        end
    end
end

-- Where the ticket stands in each queue, for its timers.
local function standing(i, b)
    if given or op == 'leave' or not queued then return -1, 0 end
    -- Back in a queue it was dropped from: where it stands shows next time.
    if b.back then return -2, 0 end
    if b.enqueued then return b.q - 1, b.qn - counts[i] end
    local rank = redis.call('ZRANK', keys[i] .. ':q', ticket) or 0
    if rank == 0 then return 0, 0 end
    local ahead, position = 0, 0
    local ids = redis.call('ZRANGE', keys[i] .. ':q', 0, rank - 1)
    local records = redis.call('HMGET', keys[i] .. ':qt', unpack(ids))
    for j = 1, #ids do
        local t = ticket_record(records[j])
        if t and not (b.gone and b.gone[ids[j]]) then
            ahead, position = ahead + t.n, position + 1
        end
    end
    return position, ahead
end

local reply, changed = {}, {}
for i, b in ipairs(buckets) do
    b.t_text = num(b.t)
    changed[i] = b.stepped or b.leases_changed or b.queue_changed or given ~= nil
    local r = state(b, b.t_text, now)
    local position, ahead = standing(i, b)
    r[7], r[8], r[9], r[10] = given and given[i][1] or 0, num(b.l), next_expiry_ms(keys[i], b, now), given and given[i][2] or 0
    r[11], r[12] = position, num(ahead)
    -- A new lease waiting out a restart grace: the ms until it ends.
    if holder and b.graced and not (b.r or b.w) and not given then r[13] = b.g - ms end
    reply[i] = r
end
reply[#keys + 1] = (queued and not given and op == 'enter') and num(queued) or ''
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
return reply
