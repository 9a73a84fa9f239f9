-- put: give N tokens back. The level never exceeds capacity; what does not
-- fit is reported as overflow. With force the level may exceed capacity.
-- KEYS[1] bucket
-- ARGV[1] N (1..2^53-1)
-- ARGV[2] '1': force; '0': not
-- ARGV[3..6] capacity, rate amount, period ms, expiry ms: create when missing
-- Reply: state .. added, overflow (decimal strings; added + overflow = N)
-- Errors: TBNOTFOUND, TBEXISTS, TBDATA, TBUSAGE (also: level would pass 2^53-1)
local n = whole(ARGV[1], 'count', 1)
local force = choice(ARGV[2], 'force', '0', '1') == '1'
local now, now_text = clock()
local b, created = load_or_fresh(key, 3, now)
refill(b, now)
local added = n
if force then
    if b.t + n > MAX then fail('TBUSAGE', 'the level would pass ' .. num(MAX)) end
else
    added = math.min(n, math.max(0, b.c - b.t))
end
b.t = b.t + added
local t_text = num(b.t)
if created or added > 0 then announce(key, b, t_text, now_text) end
save(key, b, t_text, now, now_text, created, added > 0)
local reply = state(b, t_text, now)
reply[7] = num(added)
reply[8] = num(n - added)
return reply
