-- Unit tests of common.lua's helpers in a Lua 5.1 interpreter, against
-- tests/lua/fake_redis.lua: the token arithmetic (refill, give_back),
-- leases (hold, reclaim, next_expiry_ms) and serving the queue
-- (serve_queue). run.sh puts fake_redis.lua, common.lua and this file
-- together, so that common.lua's local functions are in scope here.

local failures, count = 0, 0

local function test(name, body)
    fake.reset()
    count = count + 1
    local ok, err = pcall(body)
    if ok then
        print('ok   ' .. name)
    else
        failures = failures + 1
        print('FAIL ' .. name .. ': ' .. tostring(type(err) == 'table' and err.err or err))
    end
end

local function eq(got, want, what)
    if got ~= want then
        error((what or 'value') .. ': expected ' .. tostring(want) .. ', got ' .. tostring(got), 2)
    end
end

local K = 'tbucket:{k}'
local second = 1000000  -- microseconds

test('refill adds rate x elapsed time, up to the capacity', function()
    local b = {c = 10, t = 0, ts = 0, r = 5, p = 1000}
    refill(b, 1 * second)
    eq(b.t, 5, 'level after 1 s at 5/s')
    refill(b, 60 * second)
    eq(b.t, 10, 'level capped at capacity')
end)

test('refill leaves a bucket without rate, and a forced credit, alone', function()
    local sem = {c = 3, t = 1, ts = 0}
    refill(sem, 3600 * second)
    eq(sem.t, 1, 'no refill without a rate')
    local forced = {c = 10, t = 15, ts = 0, r = 1, p = 1000}
    refill(forced, 100 * second)
    eq(forced.t, 15, 'above capacity: neither refills nor shrinks')
end)

test('a stored time ahead of the clock counts as now, and asks to be stored', function()
    local b = {c = 10, t = 2, ts = 5 * second, r = 1, p = 1000}
    refill(b, 1 * second)
    eq(b.t, 2, 'no refill for a time that has not come')
    eq(b.ts, 1 * second, 'time moved back to now')
    eq(b.stepped, true, 'stepped')
end)

test('give_back never fills the room of tokens still leased, nor passes a forced credit', function()
    local b = {c = 10, t = 5, l = 3}
    eq(give_back(b, 2), 2, 'added')
    eq(b.t, 7, 'level')
    eq(b.l, 1, 'still leased')
    local full = {c = 10, t = 9, l = 2}
    eq(give_back(full, 1), 0, 'no room beside the other leased token')
    eq(full.t, 9, 'level')
    local forced = {c = 10, t = 12, l = 2}
    eq(give_back(forced, 5), 0, 'only what was leased, and not above a forced credit')
    eq(forced.l, 0, 'nothing leased after')
end)

test('hold counts the tokens and hands out fences that only grow', function()
    local b = {c = 3, t = 3, l = 0, f = 0, key = K}
    local now = 5000 * second
    local first = hold(b, string.rep('a', 24), 1, 1000, 'host 1', now)
    local second_fence = hold(b, string.rep('b', 24), 1, 1000, 'host 2', now)
    eq(first, now, 'first fence: the server time in microseconds')
    eq(second_fence, now + 1, 'second fence in the same microsecond: one more')
    eq(b.l, 2, 'leased')
    eq(#b.new_leases, 2, 'records to write')
    eq(b.new_leases[1][2], 5000 * 1000 + 1000, 'ends at now + ttl, in ms')
    b.f = now + 10
    eq(hold(b, string.rep('c', 24), 1, 1000, 'host 3', now), now + 11, 'above the last fence, whatever the clock')
    -- A bucket's first fence starts above the name's floor (kept across a delete).
    redis.call('HSET', K .. ':m', 'f', tostring(now + 500))
    local again = {c = 3, t = 3, l = 0, f = 0, key = K}
    eq(hold(again, string.rep('d', 24), 1, 1000, 'host 4', now), now + 501, 'above the floor of <key>:m')
end)

test('reclaim gives back the tokens of leases that ended, and only those', function()
    redis.call('ZADD', K .. ':lexp', 1000, 'one', 5000, 'two')
    redis.call('HSET', K .. ':leases', 'one', '2 7 0 1000 host 1', 'two', '1 8 0 5000 host 2')
    local b = {c = 5, t = 2, l = 3}
    reclaim(K, b, 2000 * 1000)
    eq(b.t, 4, 'level after the first ended')
    eq(b.l, 1, 'leased after the first ended')
    eq(#b.ended, 1, 'ended leases')
    eq(b.ended[1], 'one', 'the one that ended')
    eq(b.drop_leases, nil, 'a lease is left')
    eq(next_expiry_ms(K, b, 2000 * 1000), 3000, 'ms until the next lease ends')
    reclaim(K, b, 6000 * 1000)
    eq(b.t, 5, 'level after both')
    eq(b.l, 0, 'nothing leased')
    eq(b.drop_leases, true, 'the lease keys can go')
end)

test('a reservation (fence 0) is reclaimed like a lease', function()
    redis.call('ZADD', K .. ':lexp', 1000, 'w')
    redis.call('HSET', K .. ':leases', 'w', '3 0 0 1000 - 0')
    local b = {c = 5, t = 0, l = 3}
    reclaim(K, b, 1000 * 1000)
    eq(b.t, 3, 'its tokens are back')
end)

-- A bucket of capacity c and level t with these tickets queued, in order:
-- {id, n, alive[, deadline ms]}; returns it loaded, as a script has it.
local function queued(c, t, tickets)
    local qn = 0
    for i, q in ipairs(tickets) do
        redis.call('ZADD', K .. ':q', i, q[1])
        redis.call('HSET', K .. ':qt', q[1], q[2] .. ' ' .. (q[4] or 0) .. ' 0')
        if q[3] then fake.subscribers[K .. ':w:' .. q[1]] = 1 end
        qn = qn + q[2]
    end
    redis.call('HSET', K, 'c', c, 't', t, 'ts', 0, 'q', #tickets, 'qn', qn)
    return load(K)
end

local function told(id)
    for _, p in ipairs(fake.published) do
        if p[1] == K .. ':w:' .. id then return p[2] end
    end
    return nil
end

test('serve_queue serves the line in order while the level allows', function()
    fake.now_us = 10 * second
    local b = queued(10, 3, {{'A', 2, true}, {'B', 1, true}, {'C', 1, true}})
    serve_queue(K, b, fake.now_us, nil, nil)
    eq(b.t, 0, 'level')
    eq(b.l, 3, 'held for A and B until they claim')
    eq(#b.grants, 2, 'answers set aside')
    eq(b.grants[1][1], 'A', 'first served')
    eq(b.grants[2][1], 'B', 'second served')
    eq(told('A'), 'served', 'A told')
    eq(told('B'), 'served', 'B told')
    -- A and B may never claim (stopped, killed): C must look, to learn
    -- when their holds end (its last look knew nothing of them).
    eq(told('C'), 'wake', 'C, first now, told to look')
    eq(b.q, 1, 'C still queued')
    eq(b.held, true, 'C holds the line')
end)

test('serve_queue tells a first ticket only to prove it is there when no hold was made', function()
    local b = queued(10, 0, {{'A', 1, true}})
    serve_queue(K, b, 10 * second, nil, 'ping')
    eq(told('A'), 'ping', 'A pinged')
    eq(b.held, true, 'held')
end)

test('serve_queue after a lease made in the same script tells the first ticket to look', function()
    local b = queued(10, 0, {{'A', 1, true}})
    hold(b, 'lease', 1, 2000, 'host 1', 10 * second)
    serve_queue(K, b, 10 * second, nil, 'ping')
    eq(told('A'), 'wake', 'A must learn when the new lease ends')
end)

test('serve_queue does not serve past a first ticket the level cannot meet', function()
    local b = queued(10, 3, {{'A', 5, true}, {'B', 1, true}})
    serve_queue(K, b, 10 * second, nil, 'wake')
    eq(b.t, 3, 'nothing taken')
    eq(told('A'), 'wake', 'A told to look again')
    eq(told('B'), nil, 'B waits behind A')
    eq(b.held, true, 'held')
end)

test('serve_queue drops a ticket whose waiter is gone, or past its deadline', function()
    local b = queued(10, 1, {{'dead', 1, false}, {'late', 1, true, 5000}, {'B', 1, true}})
    serve_queue(K, b, 10 * second, nil, nil)
    eq(b.grants[1][1], 'B', 'B served')
    eq(#b.dequeued, 3, 'all three leave the queue')
    eq(b.q, 0, 'queue empty')
    eq(b.t, 0, 'level')
end)

test('serve_queue passes over a ticket for more than the capacity, and keeps counting it', function()
    local b = queued(10, 2, {{'big', 20, true}, {'B', 2, true}})
    serve_queue(K, b, 10 * second, nil, nil)
    eq(b.grants[1][1], 'B', 'B served')
    eq(b.q, 1, 'the big ticket is still counted')
    eq(b.held, nil, 'it holds up no one')
end)

test('serve_queue serves the caller\'s own ticket without a message', function()
    local b = queued(10, 2, {{'A', 1, true}, {'me', 1, false}})
    local mine = serve_queue(K, b, 10 * second, 'me', nil)
    eq(mine[1], 1, 'taken for me')
    eq(told('me'), nil, 'no message to myself')
    eq(told('A'), 'served', 'A served first')
    eq(b.l, 1, 'only A\'s tokens are reserved')
end)

-- Calendar windows. Times are UTC seconds (date -u -d ... +%s); ends in ms.
local berlin = {horizon = 1900000000, {1798000000, 3600}, {1806195600, 7200}, {1824944400, 3600}}

local function window(w, z)
    return {w = w, z = z, zt = z and berlin, key = K, c = 10, t = 0, l = 0, ts = 0}
end

test('window_end: UTC minutes, days and ISO weeks', function()
    eq(window_end(window('1m'), 1796601600000 + 754789), 1796601600000 + 780000, '12:12:34.789 -> 12:13')
    eq(window_end(window('15m'), 1796601600000 + 754789), 1796601600000 + 900000, '-> 12:15')
    eq(window_end(window('1d'), 1796601600000), 1796601600000 + 86400000, 'a day starting now ends tomorrow')
    eq(window_end(window('1w'), 1796601600000 + 3600000), 1797206400000, 'Monday 01:00 -> next Monday')
    eq(window_end(window('1w'), 1797206400000 - 1), 1797206400000, 'Sunday 23:59:59.999 -> Monday')
end)

test('window_end: months of their real length, quarters and years', function()
    eq(window_end(window('1mo'), 1802685600000), 1803859200000, '2027-02-15 -> 2027-03-01')
    eq(window_end(window('1mo'), 1709208000000), 1709251200000, '2024-02-29 -> 2024-03-01')
    eq(window_end(window('1mo'), 1798761599000), 1798761600000, 'New Year\'s Eve -> 2027-01-01')
    eq(window_end(window('3mo'), 1809907200000), 1814400000000, '2027-05-10 -> 2027-07-01')
    eq(window_end(window('12mo'), 1809907200000), 1830297600000, '2027-05-10 -> 2028-01-01')
end)

test('window_end: a day in Europe/Berlin ends at local midnight, 23 and 25 hours across DST', function()
    eq(window_end(window('1d', 'Europe/Berlin'), 1806148800000), 1806188400000, 'Mar 27 -> 23:00Z (CET)')
    eq(window_end(window('1d', 'Europe/Berlin'), 1806188400000), 1806271200000, 'Mar 28: 23 hours, -> 22:00Z')
    eq(window_end(window('1d', 'Europe/Berlin'), 1824933600000), 1825023600000, 'Oct 31: 25 hours, -> 23:00Z')
    eq(window_end(window('1h', 'Europe/Berlin'), 1806193800000), 1806195600000, 'the hour before the gap ends at the change')
end)

test('window_end: missing or run-out zone offsets ask the client for them (TBZONE)', function()
    local b = {w = '1d', z = 'Europe/Berlin', key = K, c = 1, t = 0, l = 0, ts = 0}
    local ok, err = pcall(window_end, b, 1806148800000)
    eq(ok, false, 'fails')
    eq(string.match(err.err, '^TBZONE %S+'), 'TBZONE ' .. K .. ':z', 'names the key')
    fake.keys[K .. ':z'] = {kind = 'string', data = 'Europe/Berlin 1806000000 1798000000:3600'}
    b.zt = nil
    ok, err = pcall(window_end, b, 1806148800000)
    eq(ok, false, 'offsets that ran out fail too')
    fake.keys[K .. ':z'] = {kind = 'string', data = 'Europe/Berlin 1900000000 1798000000:3600 1806195600:7200'}
    b.zt = nil
    eq(window_end(b, 1806148800000), 1806188400000, 'read from <key>:z')
end)

test('refill: a window that ended fills up to capacity less held tokens, once', function()
    local b = window('1m')
    b.t, b.l, b.we = 1, 2, 60000
    refill(b, 30 * second)
    eq(b.t, 1, 'no change inside the window')
    refill(b, 61 * second)
    eq(b.t, 8, 'full less the 2 held')
    eq(b.we, 120000, 'next window')
    eq(b.window_moved, true, 'stored with the next change')
    b.t = 15
    b.we = 120000
    refill(b, 125 * second)
    eq(b.t, 15, 'a forced credit is kept')
end)

test('counters read packed from n, or from the fields of a bucket written before n', function()
    redis.call('HSET', K, 'c', '5', 't', '5', 'ts', '0', 'n', '3 4 1.5 1 2 1')
    local packed = load(K)
    tally_grant(packed, 2, true)
    eq(table.concat(packed.n, ' '), '4 6 1.5 2 2 1', 'grants, taken, put, waits served, expired, lost')
    eq(packed.unpacked, nil, 'nothing to remove')
    redis.call('HDEL', K, 'n')
    redis.call('HSET', K, 'ng', '3', 'nt', '4', 'np', '1.5')
    local old = load(K)
    tally_put(old, 0.5)
    eq(table.concat(old.n, ' '), '3 4 2 0 0 0', 'the separate fields, absent ones 0')
    eq(old.unpacked ~= nil, true, 'save() is to remove them')
    local corrupt = {nv = 'seven', key = K}
    eq(table.concat(counters(corrupt), ' '), '0 0 0 0 0 0', 'unreadable counters start again')
end)

test('save writes the counters packed, once, and removes the old fields', function()
    redis.call('HSET', K, 'c', '5', 't', '5', 'ts', '0', 'ng', '3', 'nt', '4', 'nd', '7')
    local b = load(K)
    b.t = 4
    tally_grant(b, 1, false)
    save(K, b, '4', '1000000', false, true)
    local h = fake.keys[K].data
    eq(h.n, '4 5 0 0 0 0', 'n')
    eq(h.ng, nil, 'ng removed')
    eq(h.nt, nil, 'nt removed')
    eq(h.nd, '7', 'denials stay a field of their own')
    eq(h.t, '4', 'level')
    local fresh_b = fresh(K, {c = 2, cs = '2'}, nil, 0)
    save(K, fresh_b, '2', '0', true, true)
    eq(fake.keys[K].data.n, '0 0 0 0 0 0', 'a new bucket starts with n, so that reading never falls back')
end)

print(count - failures .. ' of ' .. count .. ' passed')
if failures > 0 then os.exit(1) end
