-- create: ensure the bucket exists with these settings.
-- KEYS[1] bucket, KEYS[2] request id key, KEYS[3] index of names (optional)
-- ARGV[1] id memory ms (see common)
-- ARGV[2..5] capacity, rate amount ('' none), period ms, expiry ms ('' none)
-- ARGV[6] starting level 0..capacity ('' = full), used when created or replaced
-- ARGV[7] '' (same settings or nothing), 'update' (keep level and leases,
--         the level clamped to capacity less leased tokens) or 'replace'
--         (a fresh bucket: leases dropped, fences keep growing)
-- ARGV[8] optional: the restart grace in ms for a semaphore created here
--         (restart_grace; '' or 0: none)
-- Reply: state .. outcome ('existed', 'created', 'updated', 'replaced');
--        a repeat of the request gets the first reply
-- Errors: TBEXISTS <c> <r> <p> <x> (other settings), TBDATA, TBUSAGE
local s = settings(2)
local level = nil
if ARGV[6] ~= '' then
    level = whole(ARGV[6], '--tokens', 0)
    if level > s.c then fail('TBUSAGE', '--tokens ' .. num(level) .. ' is above --capacity ' .. s.cs) end
end
local mode = choice(ARGV[7], 'mode', '', 'update', 'replace')
local again = first_answer()
if again then return again end
local now, now_text = clock()
local b = load(key)
local outcome = 'existed'
if not b then
    b, outcome = fresh(key, s, level, now), 'created'
    if ARGV[8] and ARGV[8] ~= '' then restart_grace(b, whole(ARGV[8], 'restart grace', 0), math.floor(now / 1000)) end
elseif same(b, s) then
    refill(b, now)
    reclaim(key, b, now)
elseif mode == 'replace' then
    -- A fresh bucket: its leases go, its fences keep growing.
    local old = b
    b, outcome = fresh(key, s, level, now), 'replaced'
    b.f, b.drop_leases, b.q, b.qn = old.f, old.l > 0, old.q, old.qn
    if old.l > 0 then b.dropped = true end
elseif mode == 'update' then
    refill(b, now)
    reclaim(key, b, now)
    local old = b
    b, outcome = fresh(key, s, math.min(b.t, math.max(0, s.c - b.l)), now), 'updated'
    b.l, b.f, b.ended, b.drop_leases, b.q, b.qn = old.l, old.f, old.ended, old.drop_leases, old.q, old.qn
    b.n, b.counted = counters(old), true
else
    disagree(b)
end
local written = outcome ~= 'existed'
if b.q > 0 and (written or b.leases_changed) then serve_queue(key, b, now, nil, wake_for(b)) end
local t_text = num(b.t)
local reply = state(b, t_text, now)
reply[7] = outcome
local changed = b.stepped or b.leases_changed or b.queue_changed
if written or changed then begin_change(key, reply, event(b, t_text, now_text)) end
save(key, b, t_text, now_text, written, changed)
if written then index_add(key) end
return reply
