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
b.ts = now
local t_text = num(b.t)
save_level(key, b, t_text, now, now_text)
touch(key, b, t_text, now_text, true)
return state(b, t_text, now)
