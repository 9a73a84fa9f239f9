# Sourced by bench/script_levers.sh and bench/script_floor.sh: a private
# redis-server pinned to CPU 0 ($port, files in $dir, `rc` to talk to it),
# stopped on exit, and the built take script in $dir/take.lua.
B=${BUILD:-build}
dir=$(mktemp -d)
port=$($B/lib_bench 0 port)
taskset -c 0 redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --dir $dir \
    --logfile $dir/redis.log &
server=$!
trap 'kill $server; wait $server 2>/dev/null; rm -rf $dir' EXIT
until redis-cli -p $port ping >/dev/null 2>&1; do sleep 0.05; done
rc() { redis-cli -p $port "$@"; }
python3 - "$B/generated/scripts.cpp" >$dir/take.lua <<'PY'
import re, sys
src = open(sys.argv[1]).read()
print(re.search(r'Script take_script\{"take", R"tbucket_lua\((.*?)\)tbucket_lua"', src, re.S).group(1), end='')
PY
