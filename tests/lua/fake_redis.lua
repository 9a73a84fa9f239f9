-- A small in-memory stand-in for the `redis` object Redis gives a script,
-- enough for the helpers of src/bucket/scripts/common.lua that the unit
-- tests call: strings, hashes, sorted sets, TIME from a clock the test
-- sets, and PUBLISH/SPUBLISH answering with the subscribers a test gives
-- each channel (which is how the scripts tell a live waiter). Not Redis:
-- no expiry, no types beyond those, no RESP. Loaded before common.lua.

fake = {keys = {}, now_us = 0, subscribers = {}, published = {}}

function fake.reset()
    fake.keys, fake.now_us, fake.subscribers, fake.published = {}, 0, {}, {}
end

local function kind(key, want)
    local v = fake.keys[key]
    if v and v.kind ~= want then error({err = 'WRONGTYPE Operation against a key holding the wrong kind of value'}) end
    if not v then
        v = {kind = want, data = {}}
        if want == 'string' then v.data = nil end
    end
    return v
end

local function save(key, v) fake.keys[key] = v end

-- Members of a sorted set in Redis's order: by score, then by member.
local function sorted(key)
    local v = fake.keys[key]
    local list = {}
    if not v then return list end
    for member, score in pairs(v.data) do table.insert(list, {member, score}) end
    table.sort(list, function(a, b)
        if a[2] ~= b[2] then return a[2] < b[2] end
        return a[1] < b[1]
    end)
    return list
end

local function bound(text, low)
    if text == '-inf' then return -math.huge, false end
    if text == '+inf' then return math.huge, false end
    text = tostring(text)
    if string.sub(text, 1, 1) == '(' then return tonumber(string.sub(text, 2)), true end
    return tonumber(text), false
end

local commands = {}

function commands.TIME()
    return {tostring(math.floor(fake.now_us / 1000000)), tostring(fake.now_us % 1000000)}
end
function commands.EXISTS(key) return fake.keys[key] and 1 or 0 end
function commands.TYPE(key) return {ok = fake.keys[key] and fake.keys[key].kind or 'none'} end
function commands.DEL(...)
    local n = 0
    for _, key in ipairs({...}) do
        if fake.keys[key] then n, fake.keys[key] = n + 1, nil end
    end
    return n
end
function commands.GET(key)
    local v = kind(key, 'string')
    return v.data or false
end
function commands.SET(key, value)
    local v = kind(key, 'string')
    v.data = tostring(value)
    save(key, v)
    return {ok = 'OK'}
end
function commands.PEXPIRE() return 1 end
function commands.HGET(key, field)
    local v = kind(key, 'hash')
    return v.data[field] or false
end
function commands.HMGET(key, ...)
    local v = kind(key, 'hash')
    local out = {}
    for i, field in ipairs({...}) do out[i] = v.data[field] or false end
    return out
end
function commands.HSET(key, ...)
    local v, args, n = kind(key, 'hash'), {...}, 0
    for i = 1, #args, 2 do
        if v.data[args[i]] == nil then n = n + 1 end
        v.data[args[i]] = tostring(args[i + 1])
    end
    save(key, v)
    return n
end
function commands.HDEL(key, ...)
    local v, n = kind(key, 'hash'), 0
    for _, field in ipairs({...}) do
        if v.data[field] then n, v.data[field] = n + 1, nil end
    end
    if next(v.data) == nil then fake.keys[key] = nil end
    return n
end
function commands.ZADD(key, ...)
    local v, args, n = kind(key, 'zset'), {...}, 0
    for i = 1, #args, 2 do
        if v.data[args[i + 1]] == nil then n = n + 1 end
        v.data[args[i + 1]] = tonumber(args[i])
    end
    save(key, v)
    return n
end
function commands.ZREM(key, ...)
    local v, n = kind(key, 'zset'), 0
    for _, member in ipairs({...}) do
        if v.data[member] then n, v.data[member] = n + 1, nil end
    end
    if next(v.data) == nil then fake.keys[key] = nil end
    return n
end
function commands.ZCARD(key)
    return #sorted(key)
end
function commands.ZRANGE(key, start, stop, withscores)
    local list, out = sorted(key), {}
    start, stop = tonumber(start), tonumber(stop)
    if start < 0 then start = #list + start end
    if stop < 0 then stop = #list + stop end
    for i = math.max(start, 0), math.min(stop, #list - 1) do
        table.insert(out, list[i + 1][1])
        if withscores then table.insert(out, tostring(list[i + 1][2])) end
    end
    return out
end
function commands.ZRANGEBYSCORE(key, min, max, ...)
    local opts, withscores, offset, count = {...}, false, 0, -1
    local i = 1
    while i <= #opts do
        if opts[i] == 'WITHSCORES' then withscores = true
        elseif opts[i] == 'LIMIT' then offset, count, i = tonumber(opts[i + 1]), tonumber(opts[i + 2]), i + 2 end
        i = i + 1
    end
    local lo, lo_open = bound(min)
    local hi, hi_open = bound(max)
    local out, seen = {}, 0
    for _, m in ipairs(sorted(key)) do
        local s = m[2]
        local inside = (lo_open and s > lo or not lo_open and s >= lo) and (hi_open and s < hi or not hi_open and s <= hi)
        if inside then
            seen = seen + 1
            if seen > offset and (count < 0 or #out < count * (withscores and 2 or 1)) then
                table.insert(out, m[1])
                if withscores then table.insert(out, tostring(s)) end
            end
        end
    end
    return out
end
function commands.PUBLISH(channel, message)
    table.insert(fake.published, {channel, message})
    return fake.subscribers[channel] or 0
end
commands.SPUBLISH = commands.PUBLISH

redis = {}
function redis.call(name, ...)
    local f = commands[string.upper(name)]
    if not f then error('fake redis: no command ' .. name) end
    return f(...)
end
function redis.pcall(name, ...)
    local ok, result = pcall(redis.call, name, ...)
    if ok then return result end
    if type(result) == 'table' then return result end
    return {err = tostring(result)}
end
function redis.error_reply(message) return {err = message} end
function redis.status_reply(message) return {ok = message} end

cmsgpack = {pack = function(t) return 'packed:' .. #t end}
KEYS, ARGV = {'tbucket:{k}'}, {}
