-- tbucket common prelude: prepended to every script at build time.
--
-- A bucket is one hash. Fields (short, so the hash stays a small listpack):
--   c   capacity, whole number 1..2^53-1
--   t   level, may be fractional, >= 0 (above c only after `put --force`)
--   ts  server time of the last write, microseconds since the epoch
--   r   refill amount per period (absent: no refill)
--   p   refill period in milliseconds (present exactly when r is)
--   x   idle expiry in milliseconds (absent: never expires)
-- Counters since the bucket was created (or replaced, or updated: create
-- rewrites the hash), absent until the first count; `info` shows them:
--   ng  grants: take requests that took tokens (one-shot, partial or waiter)
--   nd  denials: one-shot take/run requests refused (a waiter's re-checks
--       are not counted)
--   nt  tokens taken, whole
--   np  tokens put: what went in, not the overflow; fractional when a put
--       tops up a partly refilled bucket
--   nw  waits served: grants to waiters
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
-- A script that changes a bucket gets KEYS[2], the request's id key, and
-- ARGV[1], how long the server remembers it (ms). Scripts that only read
-- (info) get neither.
--
-- The index of names, one per cluster slot (src/names.h):
--   <prefix>names:{TAG}  sorted set of the names (score 0) of the buckets
--                        in TAG's slot; TAG (4 characters of '@'..'O') is
--                        chosen by the client so that the set shares the
--                        slot of its buckets. KEYS[3] of a change (when
--                        given): create, and take and put when they create,
--                        add the name; delete removes it. A bucket that
--                        expires idle leaves its name: list drops it when
--                        it finds the bucket gone.
--   <prefix>names:complete  string "1": the index holds every bucket (set
--                        by list after one SCAN; absent, list SCANs once)
--
-- Errors are replies whose first word says what happened:
--   TBNOTFOUND, TBEXISTS <c> <r> <p> <x>, TBIMPOSSIBLE <c>, TBDATA <why>, TBUSAGE <why>.
--
-- Order of a change, so that a refused write leaves nothing behind: the id
-- key is the first write (under maxmemory, on a read-only replica or with
-- stop-writes-on-bgsave-error Redis refuses the first write of a script and
-- lets later ones through, so nothing else may come first); the event next
-- (an ACL without the channel refuses it: then the id key is removed and
-- nothing happened); the bucket's own writes last.

local MAX = 9007199254740991

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

-- Settings from ARGV[i..i+3]: capacity, rate amount, period ms, expiry ms ('' = none).
local function settings(i)
    local s = {c = whole(ARGV[i], 'capacity', 1)}
    s.cs = num(s.c)
    if ARGV[i + 1] ~= '' then
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
    local v = redis.pcall('HMGET', key, 'c', 't', 'ts', 'r', 'p', 'x', 'ng', 'nt', 'np', 'nw', 'nd', 'l')
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
    -- Counters (see tally_grant): unreadable ones start again from 0. The
    -- fields as stored (b.v) are for info, which shows the denials (nd) and
    -- leased tokens (l) too: read in the same HMGET, passed on unformatted.
    b.ng, b.nt, b.np, b.nw, b.v = tonumber(v[7]) or 0, tonumber(v[8]) or 0, tonumber(v[9]) or 0, tonumber(v[10]) or 0, v
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
    return b
end

-- Continuous refill up to `now`, never above capacity. A level above
-- capacity (a --force credit) neither refills nor shrinks. A stored time
-- ahead of the server clock (the clock stepped back) counts as written now,
-- and b.stepped asks the caller to store that, so the bucket never freezes.
local function refill(b, now)
    if b.ts > now then b.ts, b.stepped = now, true end
    if b.r and b.t < b.c and now > b.ts then
        b.t = math.min(b.c, b.t + (now - b.ts) * b.r / (b.p * 1000))
    end
end

local function same(b, s)
    return b.c == s.c and b.r == s.r and b.p == s.p and b.x == s.x
end

local function disagree(b)
    fail('TBEXISTS', num(b.c) .. ' ' .. (b.r and num(b.r) or '-') .. ' ' .. (b.p or 0) .. ' ' .. (b.x or 0))
end

-- A fresh bucket with settings s and level t (nil: full), not yet written.
local function fresh(s, t, now)
    return {c = s.c, t = t or s.c, ts = now, r = s.r, p = s.p, x = s.x, cs = s.cs, rs = s.rs, ps = s.ps, xs = s.xs}
end

-- Writes every field of b, replacing whatever the key held.
local function write_all(key, b, t_text, ts_text)
    redis.call('DEL', key)
    if b.r then
        redis.call('HSET', key, 'c', b.cs, 't', t_text, 'ts', ts_text, 'r', b.rs, 'p', b.ps)
    else
        redis.call('HSET', key, 'c', b.cs, 't', t_text, 'ts', ts_text)
    end
    if b.x then redis.call('HSET', key, 'x', b.xs) end
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
        return fresh(s, nil, now), true
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
-- gets PUBLISH. Waiters subscribe the same way (src/subscription.cpp).
local function publish(channel, message)
    local r = redis.pcall('SPUBLISH', channel, message)
    if type(r) == 'table' and r.err then
        if not string.find(string.lower(r.err), 'unknown', 1, true) then error(r) end
        redis.call('PUBLISH', channel, message)
    end
end

-- The message announcing a bucket's new state:
-- "<level> <capacity> <rate amount|-> <period ms> <expiry ms> <time us>".
local function event(b, t_text, now_text)
    return t_text .. ' ' .. b.cs .. ' ' .. (b.rs or '-') .. ' ' .. (b.ps or '0') .. ' ' ..
        (b.xs or '0') .. ' ' .. now_text
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

-- Writes level and time, or the whole bucket when it is new; then the idle
-- expiry restarts, as on every use.
local function save(key, b, t_text, now_text, created, changed)
    local counts = b.counts or {}
    if created then
        write_all(key, b, t_text, now_text)
        if b.counts then redis.call('HSET', key, unpack(counts)) end
    elseif changed then
        redis.call('HSET', key, 't', t_text, 'ts', now_text, unpack(counts))
    end
    if b.x then redis.call('PEXPIRE', key, b.x) end
end

-- Counts a grant of `taken` tokens (a waiter's also in nw), and tally_put
-- what went in: in b.counts, fields that save() writes with the level, in
-- the same HSET, so that counting a change costs no command of its own.
local function tally_grant(b, taken, waiter)
    b.counts = {'ng', num((b.ng or 0) + 1), 'nt', num((b.nt or 0) + taken)}  -- nil: a fresh bucket
    if waiter then
        b.counts[5], b.counts[6] = 'nw', num((b.nw or 0) + 1)
    end
end

local function tally_put(b, added)
    b.counts = {'np', num((b.np or 0) + added)}
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
-- Keeps the bucket's name in the index of its slot (KEYS[3], when given).
local function index_add(key)
    if KEYS[3] then redis.pcall('ZADD', KEYS[3], 0, string.match(key, '{([^{}]*)}$')) end
end

local function index_remove(key)
    if KEYS[3] then redis.pcall('ZREM', KEYS[3], string.match(key, '{([^{}]*)}$')) end
end

-- The reply every script starts with: level, capacity, rate amount ('' none),
-- period ms, expiry ms (0 none), server time in microseconds.
local function state(b, t_text, now)
    return {t_text, b.c, b.rs or '', b.p or 0, b.x or 0, now}
end

local key = KEYS[1]
