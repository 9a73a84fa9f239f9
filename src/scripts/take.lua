-- take: remove N tokens at once, or none.
-- KEYS[1] bucket, KEYS[2] request id key, KEYS[3] index of names (optional)
-- ARGV[1] id memory ms (see common)
-- ARGV[2] N (1..2^53-1)
-- ARGV[3] '0': N or nothing; '1': partial, as many whole tokens as there
--         are, up to N; '2': check, take nothing (watch without --take);
--         '3' and '4': as '0' and '2' for a waiter
-- N above capacity is TBIMPOSSIBLE only while the level is below N, and
-- for a waiter only on a refilling bucket: refill never passes capacity,
-- but on a bucket without refill a forced put may bring the level to N.
-- ARGV[4..7] capacity, rate amount, period ms, expiry ms: create when missing
--            ('' capacity: do not create)
-- Reply: state (see common) .. taken; a repeat of the request gets the first reply
-- Errors: TBNOTFOUND, TBEXISTS, TBIMPOSSIBLE (N above capacity), TBDATA, TBUSAGE
local n = whole(ARGV[2], 'count', 1)
local mode = ARGV[3]
if mode ~= '3' and mode ~= '4' then choice(mode, 'mode', '0', '1', '2') end
local waiting = mode == '3' or mode == '4'
if mode == '3' then mode = '0' elseif mode == '4' then mode = '2' end
local again = first_answer()
if again then return again end
local now, now_text = clock()
local b, created = load_or_fresh(key, 4, now)
refill(b, now)
if n > b.c and mode ~= '1' and b.t < n and (b.r or not waiting) then fail('TBIMPOSSIBLE', b.cs) end
local want = n
if mode == '1' then want = math.min(n, math.floor(b.t)) end
local taken = 0
if want >= 1 and b.t >= want and mode ~= '2' then
    b.t = b.t - want
    taken = want
end
local t_text = num(b.t)
local changed = created or taken > 0 or b.stepped
local reply = state(b, t_text, now)
reply[7] = taken
if changed then begin_change(key, reply, event(b, t_text, now_text)) end
if taken > 0 then tally_grant(b, taken, waiting) end
save(key, b, t_text, now_text, created, changed)
if created then index_add(key) end
if taken == 0 and mode ~= '2' and not waiting then tally_denial(key) end
return reply
