-- info: the bucket's state with refill applied; writes nothing.
-- KEYS[1] bucket
-- Reply: state
-- Errors: TBNOTFOUND, TBDATA
local now = clock()
local b = load(key)
if not b then fail('TBNOTFOUND', key) end
refill(b, now)
return state(b, num(b.t), now)
