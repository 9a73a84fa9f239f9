-- put: give N tokens back. The level never exceeds capacity less the tokens
-- held by leases (they come back by themselves); what does not fit is
-- reported as overflow. With force the level may exceed capacity. Queued
-- waiters are served from what came in, in order.
-- KEYS[1] bucket, KEYS[2] request id key, KEYS[3] index of names (optional)
-- ARGV[1] id memory ms (see common)
-- ARGV[2] N (1..2^53-1)
-- ARGV[3] '1': force; '0': not
-- ARGV[4..7] capacity, rate amount, period ms, expiry ms: create when missing
-- Reply: state .. added, overflow (decimal strings; added + overflow = N);
--        a repeat of the request gets the first reply
-- Errors: TBNOTFOUND, TBEXISTS, TBDATA, TBUSAGE (also: level would pass 2^53-1)
local n = whole(ARGV[2], 'count', 1)
local force = choice(ARGV[3], 'force', '0', '1') == '1'
local again = first_answer()
if again then return again end
local now, now_text = clock()
local b, created = load_or_fresh(key, 4, now)
refill(b, now)
reclaim(key, b, now)
local added = n
if force then
    if b.t + n > MAX then fail('TBUSAGE', 'the level would pass ' .. num(MAX)) end
else
    added = math.min(n, math.max(0, b.c - b.l - b.t))
end
b.t = b.t + added
if b.q > 0 then serve_queue(key, b, now, nil, wake_for(b)) end
local t_text = num(b.t)
local changed = created or added > 0 or b.stepped or b.leases_changed or b.queue_changed
local reply = state(b, t_text, now)
reply[7] = num(added)
reply[8] = num(n - added)
if changed then begin_change(key, reply, event(b, t_text, now_text)) end
if added > 0 then tally_put(b, added) end
save(key, b, t_text, now_text, created, changed)
if created then index_add(key) end
return reply
