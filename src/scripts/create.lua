-- create: ensure the bucket exists with these settings.
-- KEYS[1] bucket, KEYS[2] request id key, KEYS[3] index of names (optional)
-- ARGV[1] id memory ms (see common)
-- ARGV[2..5] capacity, rate amount ('' none), period ms, expiry ms ('' none)
-- ARGV[6] starting level 0..capacity ('' = full), used when created or replaced
-- ARGV[7] '' (same settings or nothing), 'update' (keep level, clamped) or 'replace'
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
    b, outcome = fresh(s, level, now), 'created'
elseif same(b, s) then
    refill(b, now)
elseif mode == 'replace' then
    b, outcome = fresh(s, level, now), 'replaced'
elseif mode == 'update' then
    refill(b, now)
    b, outcome = fresh(s, math.min(b.t, s.c), now), 'updated'
else
    disagree(b)
end
local t_text = num(b.t)
local written = outcome ~= 'existed'
local reply = state(b, t_text, now)
reply[7] = outcome
if written or b.stepped then begin_change(key, reply, event(b, t_text, now_text)) end
save(key, b, t_text, now_text, written, b.stepped)
if written then index_add(key) end
return reply
