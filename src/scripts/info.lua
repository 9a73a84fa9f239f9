-- info: the bucket's state with refill applied; writes nothing.
-- KEYS[1] bucket
-- Reply: state .. grants, denials, taken, put, waits served (counters, see
--        common; '' when not counted yet), leased tokens ('' none: field l)
-- Errors: TBNOTFOUND, TBDATA
local now = clock()
local b = load(key)
if not b then fail('TBNOTFOUND', key) end
refill(b, now)
local reply = state(b, num(b.t), now)
local v = b.v
reply[7], reply[8], reply[9], reply[10], reply[11], reply[12] = v[7] or '', v[11] or '', v[8] or '', v[9] or '', v[10] or '', v[12] or ''
return reply
