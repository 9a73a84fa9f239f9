-- lease_release: end a lease now; its tokens go back (see give_back).
-- KEYS[1] bucket, KEYS[2] request id key
-- ARGV[1] id memory ms (see common)
-- ARGV[2] lease id (24 hex)
-- Reply: state .. leased tokens, then what happened: 'released' (and the
--        tokens that went back), 'already' (released before: nothing
--        added), 'expired' or 'unknown' (nothing added; a lease that ended
--        by itself gave its tokens back then)
-- Errors: TBNOTFOUND, TBDATA, TBUSAGE
local id = lease_id(ARGV[2])
local again = first_answer()
if again then return again end
local now, now_text = clock()
local b = load(key)
if not b then fail('TBNOTFOUND', key) end
refill(b, now)
local ms = math.floor(now / 1000)
local expiry = b.l > 0 and tonumber(redis.call('ZSCORE', key .. ':lexp', id))
reclaim(key, b, now)
local outcome, added = 'unknown', 0
local tombstone = key .. ':rel:' .. id
if expiry and expiry > ms then
    local record = redis.call('HGET', key .. ':leases', id)
    added = give_back(b, tonumber(string.match(record or '', '^%d+')) or 0)
    b.ended = b.ended or {}
    table.insert(b.ended, id)
    if b.l == 0 then b.drop_leases = true end
    outcome = 'released'
elseif expiry then
    outcome = 'expired'
else
    -- Its tombstone: released before ("1"), or ended by expiry ("e").
    local ended = redis.call('GET', tombstone)
    if ended == 'e' then outcome = 'expired' elseif ended then outcome = 'already' end
end
if b.q > 0 and b.leases_changed then serve_queue(key, b, now, nil, wake_for(b)) end
local t_text = num(b.t)
local reply = state(b, t_text, now)
reply[7] = num(b.l)
reply[8] = outcome
reply[9] = num(added)
local changed = b.leases_changed or b.stepped or b.queue_changed
if changed then begin_change(key, reply, event(b, t_text, now_text)) end
save(key, b, t_text, now_text, false, changed)
if outcome == 'released' then redis.call('SET', tombstone, '1', 'PX', 3600000) end
return reply
