-- tbucket common prelude: the helpers each script uses are put in front of
-- it at build time (join.cpp: only those it names, in this order).
--
-- A bucket is one hash. Fields (short, so the hash stays a small listpack):
--   c   capacity, whole number 1..2^53-1
--   t   level, may be fractional, >= 0 (above c only after `put --force`)
--   ts  server time of the last write, microseconds since the epoch
--   r   refill amount per period (absent: no refill)
--   p   refill period in milliseconds (present exactly when r is)
--   x   idle expiry in milliseconds (absent: never expires); a bucket
--       with leases held lives at least until the last ends (expire())
--   l   tokens held by leases and reservations (absent: 0); leases only on
--       buckets without refill
--   w   a calendar window instead of a rate (absent: none; never with r):
--       the bucket returns to full at each window's end and admits at most
--       c per window. "<n><unit>": m (n divides 60), h (n divides 24),
--       d, w (ISO week, from Monday) with n 1, mo (n divides 12), aligned
--       in local time of z (docs/DESIGN.md)
--   z   the window's IANA time zone (absent: UTC); its UTC offsets come
--       from <key>:z, which the client writes (see zone_table)
--   we  end of the current window, server time in ms
--   f   the last fence handed out with a lease (absent: none yet); each new
--       lease gets max(f + 1, server time in microseconds), so fences keep
--       growing even across delete and create
-- Counters since the bucket was created (or replaced; create --update
-- keeps them); `info` shows them. Those a change counts are packed in one
-- field, written with the level in the same HSET (one field to format and
-- store, not six):
--   n   "<ng> <nt> <np> <nw> <ne> <nl>":
--       ng  grants: take requests that took tokens (one-shot, partial or waiter)
--       nt  tokens taken, whole
--       np  tokens put: what went in, not the overflow; fractional when a put
--           tops up a partly refilled bucket
--       nw  waits served: grants to waiters
--       ne  leases that ended by expiry: their holder died, was stopped or was
--           cut off for longer than its lease (reclaim); a reservation for a
--           waiter that never claimed it is not counted
--       nl  leases found lost with Redis's data (a restart without persistence,
--           or a failover that lost writes) by their holder's renewal, whether
--           it re-asserted them or found its slot taken
--       A bucket written before n existed keeps these six as fields of their
--       own (ng, nt, np, nw, ne, nl); they are read when n is absent, and the
--       first change that counts writes n and removes them (counters()).
-- Counted best effort, each a field of its own (HINCRBY, absent until the
-- first count):
--   nd  denials: one-shot take/run requests refused (a waiter's re-checks
--       are not counted)
--   nx  leases found lost by their holder: a renewal that found the lease
--       ended
--   g   grace after a loss, server time in ms (absent: none): until then
--       the bucket grants no lease but re-asserted ones and serves no
--       waiter, so that every live holder gets its slot back before a
--       newcomer (lease_renew, restart_grace); plain takes go on
-- A repeat of a request (same id) returns its first answer and counts nothing.
-- Grants and puts are written with the level (tally_grant); a denial is
-- counted best effort (tally_denial).
-- Every number is written with %.17g so it reads back as the same double:
-- Lua's own tostring keeps only 14 digits.
--
-- Beside the bucket, in the same cluster slot (the braces):
--   <key>:events     pub/sub channel (SPUBLISH, else PUBLISH): each change's
--                    new state, or "deleted"
--   <key>:id:<id>    string, the packed first reply of one request that
--                    changed the bucket; expires after the time its client
--                    may still send it again (SPEC §8, at most once)
--   <key>:leases     hash, lease id (24 hex) -> "<tokens> <fence> <since ms>
--                    <ttl ms> <host> <pid>[ <note>]" (the note percent-encoded); fence 0 (host "-", pid 0): not
--                    a lease but tokens held for a served waiter until it
--                    claims them (take_for, claim_grant); counted in l and
--                    reclaimed at their end like a lease, never listed
--   <key>:lexp       sorted set, lease id -> expiry (server time, ms); a
--                    lease whose expiry has passed is reclaimed (its tokens
--                    go back) by the next script that touches the bucket,
--                    so no sweeper runs anywhere
--   <key>:z          string, a window zone's offsets: "<zone> <until s>
--                    <from s>:<offset s>...", written by the client (zone.lua)
--                    when a script answers TBZONE; expires at <until>
--   <key>:rel:<id>   string, an ended lease's tombstone (1 hour): "1"
--                    released (releasing it again is harmless, not
--                    "unknown"), "e" ended by expiry; a renewal that finds
--                    neither its lease nor this knows Redis lost it
--   <key>:m          hash, the name's memory, never removed by delete and
--                    kept two days after its last write (NAME_MEMORY_MS):
--                    f, the highest fence handed out
--                    (fences keep growing across delete and create); d,
--                    server ms of the last delete, reset or replace that
--                    dropped leases. A restart without persistence loses
--                    it with the rest, which is how a holder tells a loss
--                    from a delete (docs/DESIGN.md)
-- The level t counts free tokens only: t + l never passes c (a put does not
-- fill the room of leased tokens; they come back by themselves).
--   q   waiters' tickets queued (absent: 0)
--   qn  tokens they ask for, all together
--   <key>:q          sorted set, the waiters' queue (SPEC §10): ticket id (24
--                    hex, the waiter's; also its lease id when it asks for a
--                    lease) -> place, the server time in microseconds when it
--                    joined (strictly increasing), so that two tickets are in
--                    the same order in every queue they share
--   <key>:qt         hash, ticket id -> "<tokens> <gives up at, ms|0>
--                    <lease ttl ms|0>[ <host> <pid>][ ><home>]"; <home>
--                    marks a ticket on several buckets (SPEC §11): the key
--                    of its first bucket, whose <home>:w:<ticket> channel
--                    its waiter listens on. Such a ticket has the same
--                    place in every queue it is in, and only its own script
--                    serves it, when it is first in all of them and each
--                    has its tokens: until then, first with its tokens in
--                    one queue, it holds that queue and is told 'wake'.
--   <key>:w:<ticket> channel, the waiter's own: "served" (its tokens are
--                    set aside: look), "wake" (it is first: look), "ping"
--                    (ignored), "deleted". Its subscriber count is the waiter's
--                    liveness: a ticket whose channel has no subscriber when it
--                    is served or first in line is dropped, so a dead waiter
--                    holds no place, and an idle one sends nothing.
--   <key>:g:<ticket> string, tokens set aside for a waiter by another client's
--                    script: "<deadline ms|0> <the waiter's whole answer,
--                    cmsgpack>" (a version before holds wrote the answer
--                    alone), kept a minute past its hold: the answer is
--                    valid only while the hold (the ticket's lease, or its
--                    reservation in <key>:leases) lasts and before the
--                    deadline; a claimed lease runs from its claim
--   <key>:qw         hash, ticket id -> ms of its waiter's last look, for
--                    tickets on several buckets that hold a queue (first,
--                    with their tokens there); see list_grace_ms
-- Tokens go to the queue first, in order: every script that adds tokens
-- (put, release, reclaim, reset, create --update) serves the first tickets
-- it can; a one-shot take is denied while tickets are queued. A ticket that
-- asks for more than the capacity (waiting for a forced put) holds up no one.
-- A script that changes a bucket gets KEYS[2], the request's id key, and
-- ARGV[1], how long the server remembers it (ms). Scripts that only read
-- (info) get neither.
--
-- The index of names, one per cluster slot (src/bucket/names.h):
--   <prefix>names:{TAG}  sorted set of the names (score 0) of the buckets
--                        in TAG's slot; TAG (4 characters of '@'..'O') is
--                        chosen by the client so that the set shares the
--                        slot of its buckets. KEYS[3] of a change (when
--                        given): create, and take and put when they create,
--                        add the name; delete removes it. A bucket that
--                        expires idle leaves its name: list drops it when
--                        it finds the bucket gone.
--   <prefix>names:all    sorted set of every name, on a server without
--                        cluster mode, kept by the same scripts (a
--                        cluster node refuses that write: another slot);
--                        list reads it with one ZRANGEBYLEX there instead
--                        of 16,384
--   <prefix>names:complete  string: the index holds every bucket, "2" with
--                        names:all, "1" without it (before names:all); set
--                        by list after one SCAN (absent, or "1" on a
--                        server without cluster mode: list SCANs once)
--
-- Errors are replies whose first word says what happened:
--   TBNOTFOUND, TBEXISTS <c> <r> <p> <x>, TBIMPOSSIBLE <c>, TBDATA <why>, TBUSAGE <why>,
--   TBZONE <key>:z <zone> <server s> (the zone's offsets are missing or run
--   out: the client writes them and sends the call again; nothing was written).
-- Where a rate amount is sent or answered (settings, state, event, TBEXISTS,
-- TBREFILLS), a window bucket has "@<window>[,<zone>]" instead; in a state
-- and an event "@<window end ms>,<window>[,<zone>]".
--
-- Order of a change, so that a refused write leaves nothing behind: the id
-- key is the first write (under maxmemory, on a read-only replica or with
-- stop-writes-on-bgsave-error Redis refuses the first write of a script and
-- lets later ones through, so nothing else may come first); the event next
-- (an ACL without the channel refuses it: then the id key is removed and
-- nothing happened); the bucket's own writes last.

local MAX = 9007199254740991

-- How long <key>:m outlives its last write: two days, more than the longest
-- lease (1 d), after which every fence from the server's microsecond clock
-- is above it anyway (unless the clock stepped back that far).
local NAME_MEMORY_MS = 172800000

local function fail(kind, message)
    error(redis.error_reply(kind .. ' ' .. message))
end

local function num(v)
    return string.format('%.17g', v)
end

-- Server time as a number of microseconds and as exact decimal text.
local function clock()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000000 + tonumber(t[2]), t[1] .. string.sub('00000' .. t[2], -6)
end

-- A whole number lo..MAX given as decimal digits.
local function whole(text, what, lo)
    local v = string.match(text, '^%d+$') and tonumber(text)
    if not v or v < lo or v > MAX then fail('TBUSAGE', what .. ' must be a whole number ' .. lo .. '..' .. num(MAX)) end
    return v
end

-- A window as stored: "<n><unit>" with the n its unit allows (see the layout).
local function window_spec(text)
    local n, unit = string.match(text or '', '^(%d+)(%a+)$')
    n = tonumber(n)
    local whole_of = ({m = 60, h = 24, d = 1, w = 1, mo = 12})[unit]
    if not n or not whole_of or n < 1 or whole_of % n ~= 0 then return nil end
    return text
end

-- Settings from ARGV[i..i+3]: capacity, rate amount, period ms, expiry ms ('' = none).
local function settings(i)
    local s = {c = whole(ARGV[i], 'capacity', 1)}
    s.cs = num(s.c)
    local w, z = string.match(ARGV[i + 1], '^@(%d+%a+),?(.*)$')
    if w then
        s.w, s.z = window_spec(w), z ~= '' and z or nil
        if not s.w then fail('TBUSAGE', 'bad window ' .. w) end
        if s.z and not string.match(s.z, '^[%w_%+%-/]+$') then fail('TBUSAGE', 'bad time zone name') end
    elseif ARGV[i + 1] ~= '' then
        local r = string.match(ARGV[i + 1], '^%d+%.?%d*$') and tonumber(ARGV[i + 1])
        if not r or r <= 0 or r > 1e15 then fail('TBUSAGE', 'rate amount must be a decimal in (0, 1e15]') end
        s.r, s.rs = r, num(r)
        s.p = whole(ARGV[i + 2], 'rate period', 1)
        s.ps = num(s.p)
    end
    if ARGV[i + 3] ~= '' then
        s.x = whole(ARGV[i + 3], 'expiry', 1)
        s.xs = num(s.x)
    end
    return s
end

local function bad_key(key, why)
    fail('TBDATA', key .. ' ' .. why .. '; not a tbucket bucket, left untouched')
end

-- The bucket at key, or nil when there is no key. Anything else is TBDATA.
local function load(key)
    local v = redis.pcall('HMGET', key, 'c', 't', 'ts', 'r', 'p', 'x', 'l', 'f', 'q', 'qn', 'n', 'nd', 'w', 'z', 'we', 'nx', 'g')
    if v.err then
        -- Only a key of another type is "not a bucket"; an ACL refusal is passed on.
        if string.sub(v.err, 1, 9) ~= 'WRONGTYPE' then error(v) end
        bad_key(key, 'holds a ' .. redis.call('TYPE', key).ok)
    end
    if not (v[1] or v[2] or v[3] or v[4] or v[5] or v[6]) then
        if redis.call('EXISTS', key) == 1 then bad_key(key, 'is a hash without bucket fields') end
        return nil
    end
    -- The numbers, and the stored text of the settings, which the reply
    -- and the event repeat without formatting them again.
    local b = {c = tonumber(v[1]), t = tonumber(v[2]), ts = tonumber(v[3]), cs = v[1]}
    -- The packed counters stay text until a change counts (counters());
    -- the fields as stored (b.v) are for info, which shows nd and nx too.
    b.nv, b.v, b.g, b.key = v[11] or false, v, tonumber(v[17]), key
    if not b.c or b.c < 1 or b.c > MAX or b.c % 1 ~= 0 then bad_key(key, 'has a bad capacity') end
    if not b.t or b.t ~= b.t or b.t < 0 or b.t > MAX then bad_key(key, 'has a bad level') end
    if not b.ts or b.ts ~= b.ts or b.ts < 0 or b.ts > MAX then bad_key(key, 'has a bad timestamp') end
    if v[4] or v[5] then
        b.r, b.p, b.rs, b.ps = tonumber(v[4]), tonumber(v[5]), v[4], v[5]
        if not b.r or b.r ~= b.r or b.r <= 0 or b.r > 1e15 then bad_key(key, 'has a bad rate') end
        if not b.p or b.p < 1 or b.p > MAX or b.p % 1 ~= 0 then bad_key(key, 'has a bad rate period') end
    end
    if v[6] then
        b.x, b.xs = tonumber(v[6]), v[6]
        if not b.x or b.x < 1 or b.x > MAX or b.x % 1 ~= 0 then bad_key(key, 'has a bad expiry') end
    end
    if v[13] then
        if b.r or not window_spec(v[13]) then bad_key(key, 'has a bad window') end
        b.w, b.z, b.we = v[13], v[14] or nil, tonumber(v[15])
    end
    b.l, b.f = tonumber(v[7] or 0), tonumber(v[8] or 0)
    if not b.l or b.l < 0 or b.l > MAX or b.l % 1 ~= 0 then bad_key(key, 'has a bad leased count') end
    if not b.f or b.f < 0 or b.f > MAX or b.f % 1 ~= 0 then bad_key(key, 'has a bad fence') end
    b.q, b.qn = tonumber(v[9] or 0), tonumber(v[10] or 0)
    if not b.q or b.q < 0 or b.q % 1 ~= 0 or not b.qn or b.qn < 0 then bad_key(key, 'has a bad queue count') end
    return b
end

-- Days since 1970-01-01 of a proleptic Gregorian date, and back (the
-- year and month of a day): integer arithmetic, valid for any date here.
local function days_from_civil(y, m, d)
    if m <= 2 then y = y - 1 end
    local era = math.floor(y / 400)
    local yoe = y - era * 400
    local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
    return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
end

local function civil_from_days(days)
    days = days + 719468
    local era = math.floor(days / 146097)
    local doe = days - era * 146097
    local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
    local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
    local mp = math.floor((5 * doy + 2) / 153)
    local m = mp < 10 and mp + 3 or mp - 9
    return yoe + era * 400 + (m <= 2 and 1 or 0), m
end

-- The UTC offsets of a window's zone, from <key>:z (see the layout): a
-- table {zone, until s, {from s, offset s}...}, read once per script. Missing,
-- for another zone, or run out: TBZONE, before anything is written.
local function zone_table(b, s)
    if not b.zt then
        local text = redis.call('GET', b.key .. ':z')
        local zone, horizon, rest = string.match(text or '', '^(%S+) (%d+) (.*)$')
        local t = {horizon = tonumber(horizon) or 0}
        if zone == b.z then
            for from, off in string.gmatch(rest, '(%-?%d+):(%-?%d+)') do
                t[#t + 1] = {tonumber(from), tonumber(off)}
            end
        end
        b.zt = t
    end
    if #b.zt == 0 or s >= b.zt.horizon then fail('TBZONE', b.key .. ':z ' .. b.z .. ' ' .. b.now_s) end
    return b.zt
end

local function offset_at(b, s)
    if not b.z then return 0 end
    local t = zone_table(b, s)
    local off = t[1][2]
    for i = 2, #t do
        if t[i][1] > s then break end
        off = t[i][2]
    end
    return off
end

-- The end (server time, ms) of the window of b that holds `ms`: aligned in
-- the zone's local time, so a day ends at local midnight (23 or 25 hours
-- across a change of offset) and a month at its real length.
local function window_end(b, ms)
    local n, unit = string.match(b.w, '^(%d+)(%a+)$')
    n = tonumber(n)
    local u = math.floor(ms / 1000)
    b.now_s = u
    local off = offset_at(b, u)
    local here, ends = u + off, nil
    if unit == 'mo' then
        local y, m = civil_from_days(math.floor(here / 86400))
        local next = (math.floor((y * 12 + m - 1) / n) + 1) * n
        ends = days_from_civil(math.floor(next / 12), next % 12 + 1, 1) * 86400
    elseif unit == 'w' then
        -- ISO weeks start on Monday; 1970-01-01 was a Thursday.
        ends = (math.floor((here + 259200) / 604800) + 1) * 604800 - 259200
    else
        local len = n * (unit == 'm' and 60 or unit == 'h' and 3600 or 86400)
        ends = (math.floor(here / len) + 1) * len
    end
    -- Back to UTC with the offset in force at the end, not now. An end that
    -- falls in a gap (clocks put forward over it) is the change itself; an
    -- hour repeated when clocks go back belongs to the window it starts.
    local e = ends - off
    local later = offset_at(b, e)
    if later ~= off then
        e = ends - later
        if offset_at(b, e) ~= later or e <= u then
            for i = 2, #b.zt do
                if b.zt[i][1] > u then
                    e = b.zt[i][1]
                    break
                end
            end
        end
    end
    return e * 1000
end

-- What stands for the rate amount in a state, an event and an error (see
-- the layout): the rate, or the window (with its end, when `ends`).
local function refill_text(b, ends)
    if b.rs then return b.rs end
    if not b.w then return nil end
    return '@' .. (ends and num(b.we) .. ',' or '') .. b.w .. (b.z and ',' .. b.z or '')
end

-- Continuous refill up to `now`, never above capacity. A level above
-- capacity (a --force credit) neither refills nor shrinks. A stored time
-- ahead of the server clock (the clock stepped back) counts as written now,
-- and b.stepped asks the caller to store that, so the bucket never freezes.
-- A window bucket whose window has ended is full again (less what is held
-- for served waiters), never lowered below a forced credit; b.window_moved
-- asks save() to store the new end with the next change.
local function refill(b, now)
    if b.ts > now then b.ts, b.stepped = now, true end
    if b.g and b.g * 1000 > now then
        -- Held for holders that re-assert: no new lease, no waiter served
        -- (they wake at its end); a plain take is not held back.
        b.graced, b.stale_in = true, b.g - math.floor(now / 1000) + 1
    end
    if b.w and (not b.we or now >= b.we * 1000) then
        local ms = math.floor(now / 1000)
        if b.we then b.t = math.max(b.t, b.c - b.l) end
        b.we, b.window_moved = window_end(b, ms), true
    end
    if b.r and b.t < b.c and now > b.ts then
        b.t = math.min(b.c, b.t + (now - b.ts) * b.r / (b.p * 1000))
    end
end

local function same(b, s)
    return b.c == s.c and b.r == s.r and b.p == s.p and b.x == s.x and b.w == s.w and b.z == s.z
end

local function disagree(b)
    fail('TBEXISTS', num(b.c) .. ' ' .. (b.r and num(b.r) or refill_text(b) or '-') .. ' ' .. (b.p or 0) .. ' ' .. (b.x or 0))
end

-- A fresh bucket at key with settings s and level t (nil: full), not yet
-- written; a window one in its first window.
local function fresh(key, s, t, now)
    local b = {c = s.c, t = t or s.c, ts = now, r = s.r, p = s.p, x = s.x, cs = s.cs, rs = s.rs, ps = s.ps, xs = s.xs,
        w = s.w, z = s.z, key = key, l = 0, f = 0, q = 0, qn = 0, n = {0, 0, 0, 0, 0, 0}}
    if b.w then b.we = window_end(b, math.floor(now / 1000)) end
    return b
end

-- A semaphore created now, on a server that started less than `grace` ms
-- ago and keeps no append-only file, may be one whose data a restart lost:
-- it grants nothing but re-asserted leases until `grace` after the start
-- (the g field), so that live holders from before get their slots back
-- first. Costs two INFO calls, on this path only.
local function restart_grace(b, grace, ms)
    if grace <= 0 or b.r or b.w then return end
    local up = tonumber(string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)'))
    if not up or up * 1000 >= grace then return end
    if string.match(redis.call('INFO', 'persistence'), 'aof_enabled:1') then return end
    b.g = ms - up * 1000 + grace
    b.graced, b.stale_in = true, b.g - ms + 1
end

-- Writes every field of b, replacing whatever the key held; n_text: the
-- counters packed (nil: none counted yet).
local function write_all(key, b, t_text, ts_text, n_text)
    redis.call('DEL', key)
    n_text = n_text or '0 0 0 0 0 0'
    if b.r then
        redis.call('HSET', key, 'c', b.cs, 't', t_text, 'ts', ts_text, 'r', b.rs, 'p', b.ps, 'n', n_text)
    else
        redis.call('HSET', key, 'c', b.cs, 't', t_text, 'ts', ts_text, 'n', n_text)
    end
    if b.x then redis.call('HSET', key, 'x', b.xs) end
    if b.w then redis.call('HSET', key, 'w', b.w, 'we', num(b.we)) end
    if b.z then redis.call('HSET', key, 'z', b.z) end
    if b.l > 0 then redis.call('HSET', key, 'l', num(b.l)) end
    if b.f > 0 then redis.call('HSET', key, 'f', num(b.f)) end
    if b.g then redis.call('HSET', key, 'g', num(b.g)) end
    if b.q > 0 then redis.call('HSET', key, 'q', num(b.q), 'qn', num(b.qn)) end
end

-- The bucket at key; created from ARGV[i..] when missing and settings are
-- given; TBEXISTS when it exists with other settings than those given.
-- The bucket at key, or a fresh one (created = true, not yet written) from
-- the settings in ARGV[i..] when it is missing; TBEXISTS when it exists
-- with other settings than those given.
local function load_or_fresh(key, i, now)
    local b = load(key)
    local given = ARGV[i] ~= ''
    local s = given and settings(i)
    if not b then
        if not given then fail('TBNOTFOUND', key) end
        return fresh(key, s, nil, now), true
    end
    if given and not same(b, s) then disagree(b) end
    return b, false
end

-- text when it is a or b (or c), else TBUSAGE. No table: this runs on every call.
local function choice(text, what, a, b, c)
    if text ~= a and text ~= b and text ~= c then
        fail('TBUSAGE', what .. ' must be one of: ' .. a .. ', ' .. b .. (c and ', ' .. c or ''))
    end
    return text
end

-- Publishes on the bucket's channel. Sharded pub/sub (SPUBLISH, Redis 7)
-- keeps a cluster's events on the bucket's own shard; a server without it
-- gets PUBLISH. Waiters subscribe the same way (src/redis/subscription.cpp).
local function publish(channel, message)
    local r = redis.pcall('SPUBLISH', channel, message)
    if type(r) == 'table' and r.err then
        if not string.find(string.lower(r.err), 'unknown', 1, true) then error(r) end
        redis.call('PUBLISH', channel, message)
    end
end

-- The message announcing a bucket's new state:
-- "<level> <capacity> <rate amount|-> <period ms> <expiry ms> <time us> <leased>
-- <queued>" (older versions sent the first six: readers take the rest as
-- optional).
local function event(b, t_text, now_text)
    return t_text .. ' ' .. b.cs .. ' ' .. (refill_text(b, true) or '-') .. ' ' .. (b.ps or '0') .. ' ' ..
        (b.xs or '0') .. ' ' .. now_text .. ' ' .. num(b.l) .. ' ' .. num(b.q)
end

-- The first answer to this request when it already ran, else nil.
local function first_answer()
    whole(ARGV[1], 'id memory', 1)
    local packed = redis.call('GET', KEYS[2])
    if packed then return cmsgpack.unpack(packed) end
    return nil
end

-- Starts a change (see the order at the top): remembers the reply for
-- repeats of this request, then announces `message`. The bucket's own
-- writes come after.
local function begin_change(key, reply, message)
    redis.call('SET', KEYS[2], cmsgpack.pack(reply), 'PX', ARGV[1])
    local ok, err = pcall(publish, key .. ':events', message)
    if not ok then
        redis.call('DEL', KEYS[2])
        error(err)
    end
end

-- The counters of b as numbers, {ng, nt, np, nw, ne, nl} (see the layout),
-- read at the first use: from n, or, on a bucket written before n existed,
-- from the fields of their own (b.unpacked: save() removes them when it
-- writes n). Unreadable ones start again from 0.
local function counters(b)
    if b.n then return b.n end
    local v
    if b.nv then
        v = {string.match(b.nv, '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')}
    else
        v = redis.call('HMGET', b.key, 'ng', 'nt', 'np', 'nw', 'ne', 'nl')
        b.unpacked = v[1] or v[2] or v[3] or v[4] or v[5] or v[6]
    end
    b.n = {tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0,
        tonumber(v[5]) or 0, tonumber(v[6]) or 0}
    return b.n
end

-- Counts one of the counters by its place in n (5: ne, 6: nl).
local function tally(b, i)
    local n = counters(b)
    n[i] = n[i] + 1
    b.counted = true
end

-- Tokens of a lease that ended come back, but never into the room of
-- tokens still leased (t + l stays at most c) and never above a forced
-- credit. Returns what went in.
local function give_back(b, n)
    n = math.min(n, b.l)
    b.l = b.l - n
    local added = math.min(n, math.max(0, b.c - b.l - b.t))
    b.t = b.t + added
    b.leases_changed = true
    return added
end

-- Leases whose time is up give their tokens back (see the layout). Their
-- keys are removed by save(), after the change is announced.
local function reclaim(key, b, now)
    if b.l <= 0 then return end
    local ended = redis.call('ZRANGEBYSCORE', key .. ':lexp', '-inf', math.floor(now / 1000))
    if #ended == 0 then return end
    local records = redis.call('HMGET', key .. ':leases', unpack(ended))
    for i = 1, #ended do
        local n, fence = string.match(records[i] or '', '^(%d+) (%d+)')
        give_back(b, tonumber(n) or 0)
        if fence and fence ~= '0' then
            tally(b, 5)
            b.expired = b.expired or {}
            table.insert(b.expired, ended[i])
        end
    end
    if b.l == 0 then b.drop_leases = true end
    b.ended, b.ended_set = ended, {}
    for i = 1, #ended do b.ended_set[ended[i]] = true end
end

-- A lease's holder as the client sends it: "<host> <pid>", then optionally
-- its note, percent-encoded (no spaces): the 7th word of its record.
local function holder_ok(text)
    if string.match(text, '^[%w%.%-_]+ %d+$') or string.match(text, '^[%w%.%-_]+ %d+ [%w%%%.%-_~]+$') then return text end
    fail('TBUSAGE', 'lease holder must be "<host> <pid>[ <note>]"')
end

-- A lease id as tbucket makes them: 24 lowercase hex digits.
local function lease_id(text)
    if not string.match(text, '^' .. string.rep('[0-9a-f]', 24) .. '$') then
        fail('TBUSAGE', 'a lease id is 24 lowercase hex digits')
    end
    return text
end

-- A new lease of n tokens, already taken from the level: counted in l, and
-- written by save(). Returns its fence.
local function hold(b, id, n, ttl, holder, now)
    local ms = math.floor(now / 1000)
    b.l = b.l + n
    -- A bucket's first fence starts above the name's floor (<key>:m).
    if b.f == 0 then b.f = tonumber(redis.call('HGET', b.key .. ':m', 'f')) or 0 end
    b.f = math.max(b.f + 1, now)
    b.leases_changed = true
    b.new_leases = b.new_leases or {}
    table.insert(b.new_leases, {id, ms + ttl, num(n) .. ' ' .. num(b.f) .. ' ' .. ms .. ' ' .. ttl .. ' ' .. holder})
    return b.f
end

-- Milliseconds until the next lease ends (0: none held), for a waiter,
-- whose wake-up time must include it. Read before save(): leases that
-- ended now are still listed, a lease made now is not yet.
local function next_expiry_ms(key, b, now)
    local stale = b.stale_in or 0  -- a list ticket holding the line stops holding it
    if b.l <= 0 then return stale end
    local ms = math.floor(now / 1000)
    local first = redis.call('ZRANGEBYSCORE', key .. ':lexp', '(' .. ms, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    local at = tonumber(first[2])
    for _, l in ipairs(b.new_leases or {}) do
        if not at or l[2] < at then at = l[2] end
    end
    if not at then return stale end
    at = math.max(1, at - ms)
    if stale > 0 and stale < at then return stale end
    return at
end

-- Who holds a denied semaphore: the number of leases held and the holder
-- ("<host> <pid>") of the one that ends first; "-" when that is tokens set
-- aside for a served waiter. For the denial's message only.
local function holders(key, b, now)
    local first = redis.call('ZRANGEBYSCORE', key .. ':lexp', '(' .. math.floor(now / 1000), '+inf', 'LIMIT', 0, 1)
    local record = first[1] and redis.call('HGET', key .. ':leases', first[1]) or ''
    local host, pid = string.match(record, '^%d+ %d+ %d+ %d+ (%S+) (%d+)')
    local count = redis.call('ZCARD', key .. ':lexp') - #(b.ended or {})
    return count, host and host ~= '-' and host .. ' ' .. pid or '-'
end

-- Counts a grant of `taken` tokens (a waiter's also in nw), and tally_put
-- what went in: save() writes the counters with the level, in the same
-- HSET, so that counting a change costs no command of its own.
local function tally_grant(b, taken, waiter)
    local n = counters(b)
    n[1], n[2] = n[1] + 1, n[2] + taken
    if waiter then n[4] = n[4] + 1 end
    b.counted = true
end

local function tally_put(b, added)
    local n = counters(b)
    n[3] = n[3] + added
    b.counted = true
end

-- A denial writes nothing else, so counting it is its only write, after
-- all else, and best effort (pcall): under OOM, on a read-only replica or
-- for a user whose ACL lacks HINCRBY (rules from before the counters) the
-- denial goes uncounted and stays a denial, never an error. Not announced
-- on the events channel: the state did not change.
local function tally_denial(key)
    redis.pcall('HINCRBY', key, 'nd', 1)
end

-- The index of names comes after the bucket's own writes and is best
-- effort (pcall), for the same reasons: a refusal after the bucket was
-- written must never turn a done change into an error.
-- Keeps the bucket's name in the index of its slot (KEYS[3], when given),
-- and in the set of all names, <prefix>names:all, which list reads on a
-- server without cluster mode (src/bucket/names.h). A cluster node refuses
-- that second write (a key of another slot), which changes nothing.
local function index_add(key)
    if not KEYS[3] then return end
    local name = string.match(key, '{([^{}]*)}$')
    redis.pcall('ZADD', KEYS[3], 0, name)
    redis.pcall('ZADD', string.match(KEYS[3], '^(.*names:){[^{}]*}$') .. 'all', 0, name)
end

local function index_remove(key)
    if not KEYS[3] then return end
    local name = string.match(key, '{([^{}]*)}$')
    redis.pcall('ZREM', KEYS[3], name)
    redis.pcall('ZREM', string.match(KEYS[3], '^(.*names:){[^{}]*}$') .. 'all', name)
end

-- The reply every script starts with: level, capacity, rate amount ('' none),
-- period ms, expiry ms (0 none), server time in microseconds.
local function state(b, t_text, now)
    return {t_text, b.c, refill_text(b, true) or '', b.p or 0, b.x or 0, now}
end

-- Publishes on a waiter's own channel; true when the waiter heard it
-- (its subscriber count), which is all that proves it alive. What is sent
-- there is only ever a reason to look, not a fact: "served" goes out before
-- the script's first write, and a script then refused (out of memory) leaves
-- the ticket queued and no answer set aside, so the waiter's look finds it
-- still in line. The events channel stays exact (begin_change).
local function notify(key, ticket, message)
    local channel = key .. ':w:' .. ticket
    local r = redis.pcall('SPUBLISH', channel, message)
    if type(r) == 'table' and r.err then
        if not string.find(string.lower(r.err), 'unknown', 1, true) then error(r) end
        r = redis.call('PUBLISH', channel, message)
    end
    return r > 0
end

-- "<tokens> <gives up at ms|0> <lease ttl ms|0>[ <host> <pid>][ ><home>]"
-- as a table. <home>: the key of the first bucket of a ticket that waits on
-- several (wait_many.lua); its waiter listens on <home>:w:<ticket> only.
local function ticket_record(text)
    if not text then return nil end
    local body, home = string.match(text, '^(.-) >(.+)$')
    local n, deadline, ttl, holder = string.match(body or text, '^(%d+) (%d+) (%d+) ?(.*)$')
    if not n then return nil end
    return {n = tonumber(n), deadline = tonumber(deadline), ttl = tonumber(ttl), holder = holder, home = home}
end

-- Ticket changes wait for save(), like every write.
local function dequeue(b, ticket, n, listed)
    if listed then
        b.unseen = b.unseen or {}
        table.insert(b.unseen, ticket)
    end
    b.q, b.qn = math.max(0, b.q - 1), math.max(0, b.qn - n)
    b.dequeued = b.dequeued or {}
    table.insert(b.dequeued, ticket)
    b.gone = b.gone or {}
    b.gone[ticket] = true
    b.queue_changed = true
end

local function enqueue(key, b, ticket, n, record, place, now)
    if not place then
        local last = redis.call('ZRANGE', key .. ':q', -1, -1, 'WITHSCORES')
        place = math.max(now, (tonumber(last[2]) or 0) + 1)
    end
    b.enqueued = {ticket, place, record}
    b.q, b.qn = b.q + 1, b.qn + n
    b.queue_changed = true
    return place
end

-- How long tokens set aside for another client's waiter are held for it
-- to claim (claim_grant): until its deadline, or half a minute; then they
-- come back as a lease's do, so a waiter killed or stopped after it was
-- served loses no token, and one that wakes later is not served after its
-- deadline.
local function reserve_ms(t, ms)
    if t.deadline > 0 then return math.max(1, t.deadline - ms) end
    return 30000
end

-- Takes a ticket's tokens from the level, as a lease when it asked for one
-- (its ticket id is the lease id). Served for another client (`others`),
-- a take's tokens are held as a reservation: a lease record with fence 0,
-- which claim_grant consumes. Returns {taken, fence}.
local function take_for(b, ticket, t, now, others)
    b.t = b.t - t.n
    tally_grant(b, t.n, true)
    local fence = 0
    if t.ttl > 0 then
        fence = hold(b, ticket, t.n, t.ttl, t.holder, now)
    elseif others then
        local ms = math.floor(now / 1000)
        local keep = reserve_ms(t, ms)
        b.l = b.l + t.n
        b.leases_changed = true
        b.new_leases = b.new_leases or {}
        table.insert(b.new_leases, {ticket, ms + keep, num(t.n) .. ' 0 ' .. ms .. ' ' .. keep .. ' - 0'})
    end
    return {t.n, fence}
end

-- A ticket on several buckets that is first in a queue with its tokens
-- there holds that queue while its waiter looks at least this often (its
-- looks are written to <key>:qw); a waiter stopped or frozen longer keeps
-- its place but holds up no one until it looks again. Its client looks
-- every 1.5 s while it holds a queue (src/wait/multi_queue.cpp).
local list_grace_ms = 5000

-- Serves the queue from its head while the level allows, skipping tickets
-- that are gone (gave up, or their waiter's channel is silent) or ask for
-- more than the capacity. `self`: the caller's own ticket, served without a
-- message (returns its {taken, fence}). `wake`: the message for a first
-- ticket that cannot be served yet ('wake': look again, your turn may come
-- sooner than you thought; 'ping' or nil: only prove you are there). See
-- wake_for(). A hold made in this script (a lease, or tokens set aside for
-- a served waiter) always makes it 'wake': that waiter's last look knew
-- nothing of the hold, and if its holder dies the tokens come back only
-- when someone looks after it ends, which the first waiter must then do.

local function serve_queue(key, b, now, self, wake)
    if b.graced then return nil end  -- waiters wait out a grace (refill)
    local ms, from, batch, mine = math.floor(now / 1000), 0, 2, nil
    -- Tickets passed over that stay queued (they ask for more than the
    -- capacity): counted, so that the queue's count stays theirs.
    local kept, kept_n = 0, 0
    while b.q > kept do
        -- Most calls need the first ticket or two: read a few, then more.
        local ids = redis.call('ZRANGE', key .. ':q', from, from + batch - 1)
        batch = math.min(batch * 4, 128)
        if #ids == 0 then
            -- The count says more than the queue holds (a ticket key lost
            -- to eviction or by hand): believe the queue.
            if not b.enqueued then b.q, b.qn, b.queue_changed = kept, kept_n, true end
            break
        end
        local records = redis.call('HMGET', key .. ':qt', unpack(ids))
        for i = 1, #ids do
            local id, t = ids[i], ticket_record(records[i])
            if b.gone and b.gone[id] then  -- left in this script
            elseif not t or (t.deadline > 0 and t.deadline <= ms) then
                dequeue(b, id, t and t.n or 0, t and t.home)
            elseif t.home and b.t >= t.n then
                -- A ticket on several buckets is served by its own script,
                -- when it is first in all: it holds this queue until then,
                -- as long as its waiter looks (see list_grace_ms).
                local seen = id ~= self and tonumber(redis.call('HGET', key .. ':qw', id))
                if id == self then
                    b.first, b.held, b.seen = true, true, {id, ms}
                    return mine
                elseif seen and ms - seen > list_grace_ms then
                    kept, kept_n = kept + 1, kept_n + t.n  -- stopped: holds up no one
                elseif notify(t.home, id, 'wake') then
                    if not seen then seen, b.seen = ms, {id, ms} end
                    b.held, b.stale_in = true, seen + list_grace_ms - ms + 1
                    return mine
                else
                    dequeue(b, id, t.n, true)
                end
            elseif b.t >= t.n and (id == self or notify(key, id, 'served')) then
                local given = take_for(b, id, t, now, id ~= self)
                if id == self then
                    mine = given
                else
                    -- Its waiter's whole answer (wait.lua's reply), as of now:
                    -- claiming it is then one read and one write.
                    local r = state(b, num(b.t), now)
                    r[7], r[8], r[9], r[10], r[11], r[12], r[13] = given[1], num(b.l), 0, given[2], -1, '0', ''
                    b.grants = b.grants or {}
                    table.insert(b.grants, {id, t.deadline .. ' ' .. cmsgpack.pack(r), t.ttl > 0 and t.ttl or reserve_ms(t, ms)})
                end
                dequeue(b, id, t.n)
            elseif b.t >= t.n then
                dequeue(b, id, t.n)  -- its waiter is gone
            elseif t.n > b.c then  -- looks for a forced put: holds up no one
                kept, kept_n = kept + 1, kept_n + t.n
            elseif id == self or notify(t.home or key, id, b.new_leases and 'wake' or wake or 'ping') then
                b.held = true
                return mine
            else
                dequeue(b, id, t.n, t.home)
            end
        end
        from = from + #ids
    end
    if b.q == 0 then b.qn = 0 end
    return mine
end

-- What to tell the first waiter when tokens came but not enough for it:
-- on a refilling bucket its turn may now come sooner than the time it set
-- itself, and with leases held it must set itself a time for the next to
-- end (it may have looked last from too far back to have one), so it looks
-- again; otherwise a ping only proves it alive (a put among many waiters
-- on a semaphore costs two scripts: the put and the served waiter's claim).
local function wake_for(b)
    if b.r or b.w or b.l > 0 then return 'wake' end
    return 'ping'
end

-- Ends a hold (lease or reservation) now: `added` tokens come back.
local function end_hold(b, id, n, added)
    if added then give_back(b, n) else b.l, b.leases_changed = math.max(0, b.l - n), true end
    b.ended = b.ended or {}
    table.insert(b.ended, id)
    if b.l == 0 then b.drop_leases = true end
end

-- The answer another client's script set aside for `ticket`
-- ("<deadline ms|0> <packed reply>"), claimed now: valid only while its
-- hold (the lease, or the reservation) has not ended, which reclaim()
-- decided already, and before the waiter's deadline. A reservation is
-- consumed (its tokens stay taken); a lease stays, now its waiter's.
-- Returns the answer, or nil: none, or one no longer valid, whose tokens
-- are back (the waiter looks again, or gives up, as if never served).
local function claim_grant(key, b, ticket, ms)
    local g = key .. ':g:' .. ticket
    local stored = redis.call('GET', g)
    if not stored then return nil end
    b.claimed = g
    local deadline, packed = string.match(stored, '^(%d+) (.*)$')
    local record = b.l > 0 and not (b.ended_set and b.ended_set[ticket]) and redis.call('HGET', key .. ':leases', ticket)
    -- Set aside by a version before holds: its tokens were taken then.
    if not deadline then return cmsgpack.unpack(stored) end
    if not record then return nil end
    local n, fence = string.match(record, '^(%d+) (%d+) ')
    n = tonumber(n)
    if tonumber(deadline) > 0 and ms >= tonumber(deadline) then
        end_hold(b, ticket, n, true)
        return nil
    end
    if fence == '0' then
        end_hold(b, ticket, n, false)
    else
        -- A lease runs from its claim: the waiter's own clock starts then
        -- (a waiter stopped after it was served gets its whole time).
        local ttl = tonumber(string.match(record, '^%d+ %d+ %d+ (%d+) '))
        if ttl then b.renew_claim = {ticket, ms + ttl} end
    end
    return cmsgpack.unpack(packed)
end

local function save_queue(key, b)
    if b.seen then redis.call('HSET', key .. ':qw', b.seen[1], b.seen[2]) end
    if b.unseen then redis.call('HDEL', key .. ':qw', unpack(b.unseen)) end
    if b.enqueued then
        redis.call('ZADD', key .. ':q', b.enqueued[2], b.enqueued[1])
        redis.call('HSET', key .. ':qt', b.enqueued[1], b.enqueued[3])
    end
    if b.dequeued then
        redis.call('ZREM', key .. ':q', unpack(b.dequeued))
        redis.call('HDEL', key .. ':qt', unpack(b.dequeued))
    end
    -- An answer set aside outlives its grant's hold by a minute: which of
    -- the two is still there decides (claim_grant).
    for _, g in ipairs(b.grants or {}) do
        redis.call('SET', key .. ':g:' .. g[1], g[2], 'PX', g[3] + 60000)
    end
end

-- The idle expiry starts again, as on every use; but a bucket never
-- expires under a held lease (or reservation): it lives at least until the
-- last one ends, or its holder could find its slot re-created full.
local function expire(key, b, ms)
    local px = b.x
    if b.l > 0 then
        local last = redis.call('ZRANGE', key .. ':lexp', -1, -1, 'WITHSCORES')
        px = math.max(px, (tonumber(last[2]) or 0) - ms + 1000)
        redis.call('PEXPIRE', key .. ':leases', px)
        redis.call('PEXPIRE', key .. ':lexp', px)
    end
    redis.call('PEXPIRE', key, px)
    if b.q > 0 then
        redis.call('PEXPIRE', key .. ':q', px)
        redis.call('PEXPIRE', key .. ':qt', px)
        redis.call('PEXPIRE', key .. ':qw', px)
    end
end

-- Leases dropped on purpose (delete, reset, create --replace): the name's
-- memory says when, so that their holders are told so, not that Redis lost
-- them; and keeps the fence floor.
local function mark_dropped(key, b, now_text)
    local ms = string.sub(now_text, 1, -4)
    if b.f > 0 then
        redis.call('HSET', key .. ':m', 'f', num(b.f), 'd', ms)
    else
        redis.call('HSET', key .. ':m', 'd', ms)
    end
    redis.call('PEXPIRE', key .. ':m', NAME_MEMORY_MS)
end

-- Writes level and time, or the whole bucket when it is new; then the idle
-- expiry restarts, as on every use. Lease records follow the bucket.
local function save(key, b, t_text, now_text, created, changed)
    local n = b.counted and string.format('%.17g %.17g %.17g %.17g %.17g %.17g', unpack(b.n))
    if created then
        write_all(key, b, t_text, now_text, n)
    elseif changed then
        local fields = {'t', t_text, 'ts', now_text}
        if n then
            fields[5], fields[6] = 'n', n
            if b.unpacked then redis.call('HDEL', key, 'ng', 'nt', 'np', 'nw', 'ne', 'nl') end
        end
        if b.leases_changed then
            table.insert(fields, 'l')
            table.insert(fields, num(b.l))
            table.insert(fields, 'f')
            table.insert(fields, num(b.f))
        end
        if b.grace_changed then
            table.insert(fields, 'g')
            table.insert(fields, num(b.g))
        end
        if b.window_moved then
            table.insert(fields, 'we')
            table.insert(fields, num(b.we))
        end
        if b.queue_changed then
            table.insert(fields, 'q')
            table.insert(fields, num(b.q))
            table.insert(fields, 'qn')
            table.insert(fields, num(b.qn))
        end
        redis.call('HSET', key, unpack(fields))
    end
    if b.drop_leases then
        redis.call('DEL', key .. ':leases', key .. ':lexp')
    elseif b.ended then
        redis.call('ZREM', key .. ':lexp', unpack(b.ended))
        redis.call('HDEL', key .. ':leases', unpack(b.ended))
    end
    for _, l in ipairs(b.new_leases or {}) do
        redis.call('ZADD', key .. ':lexp', l[2], l[1])
        redis.call('HSET', key .. ':leases', l[1], l[3])
    end
    if b.new_leases then
        redis.call('HSET', key .. ':m', 'f', num(b.f))
        redis.call('PEXPIRE', key .. ':m', NAME_MEMORY_MS)
    end
    if b.dropped then mark_dropped(key, b, now_text) end
    for _, id in ipairs(b.expired or {}) do redis.call('SET', key .. ':rel:' .. id, 'e', 'PX', 3600000) end
    if b.renew_claim then redis.call('ZADD', key .. ':lexp', 'XX', b.renew_claim[2], b.renew_claim[1]) end
    save_queue(key, b)
    if b.claimed then redis.call('DEL', b.claimed) end
    if b.x then expire(key, b, math.floor(tonumber(now_text) / 1000)) end
end

local key = KEYS[1]
