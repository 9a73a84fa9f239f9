-- delete: remove the bucket and its leases; waiters hear 'deleted' and
-- give up (queued ones on their own channel), holders of leases learn it
-- when they next renew.
-- KEYS[1] bucket, KEYS[2] request id key, KEYS[3] index of names (optional)
-- ARGV[1] id memory ms (see common)
-- Reply: state just before deletion; a repeat of the request gets the first reply
-- Errors: TBNOTFOUND, TBDATA (a key that is not a bucket is not deleted)
local again = first_answer()
if again then return again end
local now, now_text = clock()
local b = load(key)
if not b then fail('TBNOTFOUND', key) end
refill(b, now)
local reply = state(b, num(b.t), now)
begin_change(key, reply, 'deleted')
-- A ticket on several buckets listens on its first bucket's channel only.
if b.q > 0 then
    local tickets = redis.call('ZRANGE', key .. ':q', 0, -1)
    local records = #tickets > 0 and redis.call('HMGET', key .. ':qt', unpack(tickets)) or {}
    for i, ticket in ipairs(tickets) do
        local t = ticket_record(records[i])
        notify(t and t.home or key, ticket, 'deleted')
    end
end
redis.call('DEL', key, key .. ':leases', key .. ':lexp', key .. ':q', key .. ':qt', key .. ':qw')
-- The name's memory stays (fence floor; a holder is told "deleted").
if b.f > 0 or b.l > 0 then mark_dropped(key, b, now_text) end
index_remove(key)
return reply
