-- reset: set the level.
-- KEYS[1] bucket
-- ARGV[1] level 0..capacity ('' = full)
-- Reply: state
-- Errors: TBNOTFOUND, TBDATA, TBUSAGE (level above capacity)
local now, now_text = clock()
local b = load(key)
if not b then fail('TBNOTFOUND', key) end
local t = b.c
if ARGV[1] ~= '' then t = whole(ARGV[1], '--tokens', 0) end
if t > b.c then fail('TBUSAGE', '--tokens ' .. num(t) .. ' is above the capacity ' .. b.cs) end
b.t = t
local t_text = num(b.t)
announce(key, b, t_text, now_text)
save(key, b, t_text, now, now_text, false, true)
return state(b, t_text, now)
