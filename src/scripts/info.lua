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
local n = redis.call('HMGET', key, 'ng', 'nd', 'nt', 'np', 'nw', 'l')
for i = 1, 6 do reply[6 + i] = n[i] or '' end
return reply
