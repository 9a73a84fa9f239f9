-- take: remove N tokens at once, or none.
-- KEYS[1] bucket
-- ARGV[1] N (1..2^53-1)
-- ARGV[2] '0': N or nothing; '1': partial, as many whole tokens as there
--         are, up to N; '2': check, take nothing (watch without --take)
-- ARGV[3..6] capacity, rate amount, period ms, expiry ms: create when missing
--            ('' capacity: do not create)
-- Reply: state (see common) .. taken
-- Errors: TBNOTFOUND, TBEXISTS, TBIMPOSSIBLE (N above capacity), TBDATA, TBUSAGE
local n = whole(ARGV[1], 'count', 1)
local mode = choice(ARGV[2], 'mode', '0', '1', '2')
local now, now_text = clock()
local b, created = load_or_fresh(key, 3, now)
if n > b.c and mode ~= '1' then fail('TBIMPOSSIBLE', b.cs) end
refill(b, now)
local want = n
if mode == '1' then want = math.min(n, math.floor(b.t)) end
local taken = 0
if want >= 1 and b.t >= want and mode ~= '2' then
    b.t = b.t - want
    taken = want
end
local t_text = num(b.t)
local changed = created or taken > 0
if changed then announce(key, b, t_text, now_text) end
save(key, b, t_text, now, now_text, created, taken > 0)
local reply = state(b, t_text, now)
reply[7] = taken
return reply
