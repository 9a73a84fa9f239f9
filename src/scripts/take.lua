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
local partial = ARGV[2] == '1'
local check = ARGV[2] == '2'
local now = now_us()
local b, created = load_or_create(key, 3, now)
if n > b.c and not partial then fail('TBIMPOSSIBLE', num(b.c)) end
refill(b, now)
local want = n
if partial then want = math.min(n, math.floor(b.t)) end
local taken = 0
if want >= 1 and b.t >= want and not check then
    b.t = b.t - want
    taken = want
    save_level(key, b, now)
end
touch(key, b, now, created or taken > 0)
local reply = state(b, now)
reply[7] = taken
return reply
