# Shared by the completion tests: a private redis-server on a free port of
# 127.0.0.1 in a temporary directory, stopped by pid at exit, holding the
# buckets alpha, beta and team:api (and gamma under the prefix other:).
# Expects $name (the test's name) and $bin (the tbucket binary); sets $tmp,
# $port and $url.

# The cases every shell must pass (KIND|LINE|WORDS), for the drivers.
TB_CASES=$(cd "$(dirname "$0")" && pwd)/cases.txt
export TB_CASES

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tbucket-completion.XXXXXX") || exit 1
redis_pid=
cleanup() {
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null
        wait "$redis_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# A random port below Linux's ephemeral range. If something already
# listens there, redis-server cannot bind it and start_redis tries another.
free_port() {
    echo $(($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 12000 + 20000))
}

# Starts redis-server on a free port of 127.0.0.1. The server that answers
# must be ours (its process id), never one that had the port already.
start_redis() {
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        port=$(free_port)
        redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
            --daemonize no >"$tmp/redis.log" 2>&1 &
        redis_pid=$!
        n=0
        while [ $n -lt 50 ]; do
            if [ "$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | tr -d '\r' |
                sed -n 's/^process_id://p')" = "$redis_pid" ]; then
                return 0
            fi
            kill -0 "$redis_pid" 2>/dev/null || break
            sleep 0.1
            n=$((n + 1))
        done
        kill "$redis_pid" 2>/dev/null
        wait "$redis_pid" 2>/dev/null
        redis_pid=
    done
    echo "$name: FAIL: cannot start redis-server on 127.0.0.1" >&2
    cat "$tmp/redis.log" >&2
    exit 1
}

start_redis
url=redis://127.0.0.1:$port
for bucket in alpha beta team:api; do
    "$bin" -q -u "$url" create "$bucket" --capacity 1 || { echo "$name: FAIL: cannot create $bucket" >&2; exit 1; }
done
"$bin" -q -u "$url" --prefix other: create gamma --capacity 1 || exit 1
# Keys under the prefix that are not buckets: never offered as names.
redis-cli -h 127.0.0.1 -p "$port" set 'tbucket:{alien}' x >/dev/null || exit 1
redis-cli -h 127.0.0.1 -p "$port" hset 'tbucket:{albatross}' f 1 >/dev/null || exit 1
# A lease on alpha with a fixed id, so that the cases can name it, written
# as tbucket writes one (N FENCE START_MS TTL_MS HOST PID), ending in the
# far future; alpha's one token is the leased one.
lease_id=0123456789abcdef01234567
redis-cli -h 127.0.0.1 -p "$port" hset 'tbucket:{alpha}:leases' "$lease_id" '1 5 0 3600000 host 1' >/dev/null || exit 1
redis-cli -h 127.0.0.1 -p "$port" zadd 'tbucket:{alpha}:lexp' 99999999999999 "$lease_id" >/dev/null || exit 1
redis-cli -h 127.0.0.1 -p "$port" hset 'tbucket:{alpha}' t 0 l 1 >/dev/null || exit 1
case $("$bin" -u "$url" lease list alpha 2>&1) in
    "$lease_id "*) ;;
    *) echo "$name: FAIL: tbucket does not list the lease written on alpha" >&2; exit 1 ;;
esac
