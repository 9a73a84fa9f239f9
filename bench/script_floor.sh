#!/bin/bash
# What the commands alone cost (issue 29): today's take script as a grant
# and as a denial, beside version one's (4690138) and beside "floor"
# scripts that run only the Redis commands each must run, with no Lua
# logic and no helpers. A floor script keeps no guarantee; it shows the
# least a script that makes those calls can cost on this server.
#   grant-floor:  GET id, TIME, HMGET (the 17 fields today reads), HSET,
#                 SET id PX (the at-most-once record), SPUBLISH
#   v1-floor:     TIME, HMGET (6 fields), HSET, SPUBLISH: version one's calls
#   id-floor:     v1-floor and SET id PX: the fewest calls that keep the
#                 at-most-once record (no GET before it, version one's fields)
#   denial-floor: GET id, TIME, HMGET (17 fields)
# Each runs with redis-benchmark -c 50 on a private redis-server (pinned to
# CPU 0, the benchmark to CPU 1), a fresh database each, alternating, three
# rounds; printed: INFO commandstats' usec_per_call of EVALSHA.
# From the repository root, after a build:
#   BUILD=build bash bench/script_floor.sh   (needs redis-server, redis-benchmark, python3, git)
set -eu
V1=${V1:-4690138}
rounds=${ROUNDS:-3}
. "$(dirname "$0")/script_bench.sh"
python3 - "$dir/take.lua" "$dir" <<'EOF'
import sys
take = open(sys.argv[1]).read()
fields = "'c', 't', 'ts', 'r', 'p', 'x', 'l', 'f', 'q', 'qn', 'n', 'nd', 'w', 'z', 'we', 'nx', 'g'"
reply = "return {'9007199254740990', 9007199254740991, 0, false, false, false, 1}\n"
variants = {
    'grant': take,
    'denial': take,
    'grant-floor': (
        "local packed = redis.call('GET', KEYS[2])\n"
        "local t = redis.call('TIME')\n"
        f"local v = redis.call('HMGET', KEYS[1], {fields})\n"
        "redis.call('HSET', KEYS[1], 't', '9007199254740990', 'ts', t[1] .. t[2], 'n', '1 1 0 0 0 0')\n"
        "redis.call('SET', KEYS[2], '\\x97\\xb09007199254740990\\xcf\\x00\\x1f\\xff\\xff\\xff\\xff\\xff\\xff\\xc0\\xc0\\xc0\\x01', 'PX', ARGV[1])\n"
        "redis.call('SPUBLISH', KEYS[1] .. ':events', 'take 9007199254740990 9007199254740991 ' .. t[1])\n"
        + reply),
    'v1-floor': (
        "local t = redis.call('TIME')\n"
        "local v = redis.call('HMGET', KEYS[1], 'c', 't', 'ts', 'r', 'p', 'x')\n"
        "redis.call('HSET', KEYS[1], 't', '9007199254740990', 'ts', t[1] .. t[2])\n"
        "redis.call('SPUBLISH', KEYS[1] .. ':events', 'take 9007199254740990 9007199254740991 ' .. t[1])\n"
        + reply),
    'id-floor': (
        "local t = redis.call('TIME')\n"
        "local v = redis.call('HMGET', KEYS[1], 'c', 't', 'ts', 'r', 'p', 'x')\n"
        "redis.call('HSET', KEYS[1], 't', '9007199254740990', 'ts', t[1] .. t[2])\n"
        "redis.call('SET', KEYS[2], '\\x97\\xb09007199254740990\\xcf\\x00\\x1f\\xff\\xff\\xff\\xff\\xff\\xff\\xc0\\xc0\\xc0\\x01', 'PX', ARGV[1])\n"
        "redis.call('SPUBLISH', KEYS[1] .. ':events', 'take 9007199254740990 9007199254740991 ' .. t[1])\n"
        + reply),
    'denial-floor': (
        "local packed = redis.call('GET', KEYS[2])\n"
        "local t = redis.call('TIME')\n"
        f"local v = redis.call('HMGET', KEYS[1], {fields})\n"
        + reply),
}
for name, text in variants.items():
    open(f'{sys.argv[2]}/{name}.lua', 'w').write(text)
EOF
git show "$V1:src/scripts/common.lua" >$dir/v1.lua
git show "$V1:src/scripts/take.lua" >>$dir/v1.lua
cp $dir/v1.lua $dir/v1-grant.lua
cp $dir/v1.lua $dir/v1-denial.lua
names="grant v1-grant grant-floor id-floor v1-floor denial v1-denial denial-floor"
bench() {  # KEYS... -- ARGS...: EVALSHA of $sha, a new request id per call
    taskset -c 1 redis-benchmark -p $port -q -c 50 -n 60000 -r 2000000000 EVALSHA "$sha" "$@" >/dev/null 2>&1
}
for round in $(seq "$rounds"); do
    line="round $round:"
    for v in $names; do
        rc flushall >/dev/null
        sha=$(rc script load "$(cat $dir/$v.lua)")
        case $v in
        grant | grant-floor | id-floor)
            $B/tbucket -u redis://127.0.0.1:$port -q create rb --capacity 9007199254740991
            rc config resetstat >/dev/null
            bench 2 "tbucket:{rb}" "tbucket:{rb}:id:__rand_int__" 24000 1 all "" "" "" "" ;;
        denial | denial-floor)
            $B/tbucket -u redis://127.0.0.1:$port -q create rb --capacity 1
            $B/tbucket -u redis://127.0.0.1:$port -q take rb
            rc config resetstat >/dev/null
            bench 2 "tbucket:{rb}" "tbucket:{rb}:id:__rand_int__" 24000 1 all "" "" "" "" ;;
        v1-grant | v1-floor)  # version one's layout: c, t, ts
            rc hset "tbucket:{rb}" c 9007199254740991 t 9007199254740991 ts 0 >/dev/null
            rc config resetstat >/dev/null
            bench 1 "tbucket:{rb}" 1 0 "" "" "" "" ;;
        v1-denial)
            rc hset "tbucket:{rb}" c 1 t 0 ts 0 >/dev/null
            rc config resetstat >/dev/null
            bench 1 "tbucket:{rb}" 1 0 "" "" "" "" ;;
        esac
        failed=$(rc info commandstats | tr -d '\r' | awk -F'failed_calls=' '/^cmdstat_evalsha:/ { split($2, a, ","); print a[1] }')
        [ "$failed" = 0 ] || { echo "bench/script_floor.sh: $v: $failed calls failed" >&2; exit 1; }
        us=$(rc info commandstats | tr -d '\r' | awk -F'usec_per_call=' '/^cmdstat_evalsha:/ { split($2, a, ","); print a[1] }')
        line="$line $v=$us"
    done
    echo "$line"
done
