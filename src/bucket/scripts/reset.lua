-- reset: set the level, and drop every lease (their holders learn it when
-- they next renew).
-- KEYS[1] bucket, KEYS[2] request id key
-- ARGV[1] id memory ms (see common)
-- ARGV[2] level 0..capacity ('' = full)
-- Reply: state; a repeat of the request gets the first reply
-- Errors: TBNOTFOUND, TBDATA, TBUSAGE (level above capacity)
local again = first_answer()
if again then return again end
local now, now_text = clock()
local b = load(key)
if not b then fail('TBNOTFOUND', key) end
refill(b, now)  -- a window that ended moves on (the level is set below)
local t = b.c
if ARGV[2] ~= '' then t = whole(ARGV[2], '--tokens', 0) end
if t > b.c then fail('TBUSAGE', '--tokens ' .. num(t) .. ' is above the capacity ' .. b.cs) end
b.t = t
if b.l > 0 then
    b.l, b.leases_changed, b.drop_leases, b.dropped = 0, true, true, true
end
if b.q > 0 then serve_queue(key, b, now, nil, wake_for(b)) end
local t_text = num(b.t)
local reply = state(b, t_text, now)
begin_change(key, reply, event(b, t_text, now_text))
save(key, b, t_text, now_text, false, true)
return reply
