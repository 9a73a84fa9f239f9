-- info: the bucket's state with refill applied; writes nothing.
-- KEYS[1] bucket
-- Reply: state .. grants, denials, taken, put, waits served (counters, see
--        common), leased tokens ('' none: field l)
-- Errors: TBNOTFOUND, TBDATA
local now = clock()
local b = load(key)
if not b then fail('TBNOTFOUND', key) end
refill(b, now)
local reply = state(b, num(b.t), now)
reply[7], reply[8], reply[9], reply[10], reply[11] = num(b.ng), num(b.nd), num(b.nt), num(b.np), num(b.nw)
reply[12] = b.l or ''
return reply
