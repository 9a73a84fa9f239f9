-- create: ensure the bucket exists with these settings.
-- KEYS[1] bucket
-- ARGV[1..4] capacity, rate amount ('' none), period ms, expiry ms ('' none)
-- ARGV[5] starting level 0..capacity ('' = full), used when created or replaced
-- ARGV[6] '' (same settings or nothing), 'update' (keep level, clamped) or 'replace'
-- Reply: state .. outcome ('existed', 'created', 'updated', 'replaced')
-- Errors: TBEXISTS <c> <r> <p> <x> (other settings), TBDATA, TBUSAGE
local s = settings(1)
local level = nil
if ARGV[5] ~= '' then
    level = whole(ARGV[5], '--tokens', 0)
    if level > s.c then fail('TBUSAGE', '--tokens ' .. num(level) .. ' is above --capacity ' .. s.cs) end
end
local mode = choice(ARGV[6], 'mode', '', 'update', 'replace')
local now, now_text = clock()
local b = load(key)
local outcome = 'existed'
if not b then
    b, outcome = fresh(s, level, now), 'created'
elseif same(b, s) then
    refill(b, now)
elseif mode == 'replace' then
    b, outcome = fresh(s, level, now), 'replaced'
elseif mode == 'update' then
    refill(b, now)
    b, outcome = fresh(s, math.min(b.t, s.c), math.max(b.ts, now)), 'updated'
else
    disagree(b)
end
local t_text = num(b.t)
local written = outcome ~= 'existed'
if written then announce(key, b, t_text, now_text) end
save(key, b, t_text, now, b.ts == now and now_text or num(b.ts), written, false)
local reply = state(b, t_text, now)
reply[7] = outcome
return reply
