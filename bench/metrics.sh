#!/bin/sh
# bench/metrics.sh: what the counters cost, and what list costs at a
# million buckets, each beside the version before them (BASE, default
# 507cac9, main before issue 18). Called by bench/run with METRICS=1, or
# alone. Needs a build in ./build (or $BUILD); OLD=path/to/old/tbucket (a
# build of BASE in a separate clone) for the one-shot and list rows; the
# old scripts come from git. MILLION=0 skips the 1M-bucket part (~2 min).
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
base=${BASE:-507cac9}
tb="$build/tbucket"
old=${OLD:-}
million=${MILLION:-1}
port=$("$build/lib_bench" 0 port)
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --logfile "$dir/redis.log" --daemonize no &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
rc() { redis-cli -p "$port" "$@"; }
url="redis://127.0.0.1:$port"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }
row() { printf '%-48s %12s %-6s %12s %-10s %8s\n' "$1" "$2" "$3" "$4" "$5" "$6"; }
usec_per_call() { rc info commandstats | tr -d '\r' | awk -F'usec_per_call=' -v c="cmdstat_$1:" 'index($0, c) == 1 { split($2, a, ","); print a[1] }'; }
calls() { rc info commandstats | tr -d '\r' | awk -F'calls=' -v c="cmdstat_$1:" 'index($0, c) == 1 { split($2, a, ","); n = a[1] } END { print n + 0 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

row "figure" "counters" "" "before" "" "ratio"
# --- Redis CPU per take: the take script of BASE against today's -----------
new_sha=$("$build/lib_bench" "$port" sha)
loaded=$("$build/lib_bench" 0 source | rc -x script load)
[ "$loaded" = "$new_sha" ] || { echo "bench/metrics.sh: the build is not of this tree ($loaded, $new_sha)" >&2; exit 2; }
old_script() {  # BASE's take script: its scripts were in src/scripts/ before the layers
    d=src/bucket/scripts
    git cat-file -e "$base:$d/take.lua" 2>/dev/null || d=src/scripts
    if git cat-file -e "$base:$d/join.cpp" 2>/dev/null; then
        # BASE joined each script with only the helpers it uses: so here.
        git show "$base:$d/common.lua" >"$dir/old-common.lua"
        git show "$base:$d/take.lua" >"$dir/old-take.lua"
        "$build/tbucket_lua_join" "$dir/old.cpp" "$dir/old-common.lua" take="$dir/old-take.lua"
        awk 'index($0, "R\"tbucket_lua(") { on = 1; sub(/.*R"tbucket_lua\(/, "") }
             on && index($0, ")tbucket_lua\"") { sub(/\)tbucket_lua".*/, ""); print; exit }
             on { print }' "$dir/old.cpp"
    else
        git show "$base:$d/common.lua"
        git show "$base:$d/take.lua"
    fi
}
old_sha=$(old_script | rc -x script load)
# The mode argument of a take: named since f21b25f ('all'), '0' before.
new_mode=all
old_mode=0
if old_script | grep -q "'wait-all'"; then old_mode=all; fi
# Commands the scripts ran per EVALSHA since the last CONFIG RESETSTAT.
inner_per_call() {
    rc info commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_/ { if ($1 == "cmdstat_evalsha") e = $3; else if ($1 != "cmdstat_config" && $1 != "cmdstat_info") n += $3 }
        END { printf "%.2f", n / e }'
}
rb_take() {  # sha key mode: usec per EVALSHA, 50 connections, 100k takes of 1
    rc config resetstat >/dev/null
    redis-benchmark -p "$port" -q -c 50 -n 100000 -r 2000000000 EVALSHA "$1" 2 "$2" "$2:id:__rand_int__" 24000 1 "$3" "" "" "" "" >/dev/null 2>&1 || true
    echo "$(usec_per_call evalsha) $(inner_per_call)"
}
for kind in grant deny; do
    for round in $(seq "${ROUNDS:-5}"); do
        for v in new old; do
            key="tbucket:{$kind-$v}"
            if [ $kind = grant ]; then t=9007199254740991; else t=0; fi
            rc hset "$key" c 9007199254740991 t $t ts 0 >/dev/null
            sha=$new_sha mode=$new_mode
            if [ $v = old ]; then sha=$old_sha mode=$old_mode; fi
            set -- $(rb_take "$sha" "$key" "$mode")
            echo "$1" >>"$dir/$kind-$v"
            echo "$2" >"$dir/$kind-$v-inner"
        done
    done
    row "take script in Redis, $kind (us/call, median)" "$(median <"$dir/$kind-new")" us "$(median <"$dir/$kind-old")" us \
        "$(ratio "$(median <"$dir/$kind-new")" "$(median <"$dir/$kind-old")")"
    row "  commands the script runs, $kind" "$(cat "$dir/$kind-new-inner")" "" "$(cat "$dir/$kind-old-inner")" "" ""
done
# --- memory per bucket ------------------------------------------------------------
rc hset "tbucket:{m-old}" c 1000 t 1000 ts 0 >/dev/null
rc hset "tbucket:{m-new}" c 1000 t 1000 ts 0 >/dev/null
rc evalsha "$old_sha" 2 "tbucket:{m-old}" "tbucket:{m-old}:id:1" 1 1 "$old_mode" "" "" "" "" >/dev/null
rc evalsha "$new_sha" 2 "tbucket:{m-new}" "tbucket:{m-new}:id:1" 1 1 "$new_mode" "" "" "" "" >/dev/null
rc evalsha "$new_sha" 2 "tbucket:{m-new}" "tbucket:{m-new}:id:2" 1 2000 "$new_mode" "" "" "" "" >/dev/null  # a denial
"$tb" -u "$url" -q put m-new 1
row "MEMORY USAGE of a bucket after take, denial, put" "$(rc memory usage "tbucket:{m-new}")" B "$(rc memory usage "tbucket:{m-old}")" B \
    "$(ratio "$(rc memory usage "tbucket:{m-new}")" "$(rc memory usage "tbucket:{m-old}")")"
# --- one-shot take: today's binary, BASE's, the minimal client ------------------------
if [ -n "$old" ]; then
    "$tb" -u "$url" -q create oneshot --capacity 9007199254740991
    "$tb" -u "$url" -q take oneshot
    "$old" -u "$url" -q take oneshot
    set -- $("$build/spawn_time" "${RUNS:-200}" "$tb" -u "$url" take oneshot :: "$old" -u "$url" take oneshot \
        :: "$build/min_client" "$port" "$new_sha" "tbucket:{oneshot}")
    row "one-shot take (median ms) vs before" "$1" ms "$3" ms "$(ratio "$1" "$3")"
    row "one-shot take vs minimal client" "$1" ms "$5" ms "$(ratio "$1" "$5")"
fi
[ "$million" = 1 ] && [ -n "$old" ] || exit 0

# --- list at a million buckets ------------------------------------------------------
rc flushall >/dev/null
# 1M bucket hashes in 10 scripts of 100k (no process per key), 10 of them abc0..abc9.
for chunk in 0 1 2 3 4 5 6 7 8 9; do
    rc eval "for i = ARGV[1], ARGV[1] + 99999 do redis.call('HSET', 'tbucket:{b' .. i .. '}', 'c', '10', 't', '10', 'ts', '0') end" 0 $((chunk * 100000)) >/dev/null
done
for i in 0 1 2 3 4 5 6 7 8 9; do rc hset "tbucket:{abc$i}" c 10 t 10 ts 0 >/dev/null; done
row "keys in the database" "$(rc dbsize)" "" "" "" ""
# The first list on buckets from before the index: one SCAN, then the index.
used() { rc info memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }
before_index=$(used)
start=$(date +%s%N)
"$tb" -u "$url" list 'zz*' >/dev/null
row "first list, no index yet: SCAN + indexing 1M (ms)" "$(( ($(date +%s%N) - start) / 1000000 ))" ms "" "" ""
row "index memory per bucket (bytes)" "$(( ($(used) - before_index) / 1000010 ))" B "" "" ""
row "figure (1M buckets)" "today" "" "before" "" "ratio"
list_row() {  # label runs args...: median ms of each binary and its SCAN calls
    label=$1 runs=$2; shift 2
    set -- $("$build/spawn_time" "$runs" "$tb" -u "$url" "$@" :: "$old" -u "$url" "$@")
    new_ms=$1 old_ms=$3
    shift 4
    row "$label (median ms)" "$new_ms" ms "$old_ms" ms "$(ratio "$new_ms" "$old_ms")"
}
scans() {  # binary args...: SCAN calls of one run
    rc config resetstat >/dev/null
    "$@" >/dev/null
    calls scan
}
list_row "list b77 (exact name)" 20 list b77
row "  SCAN calls" "$(scans "$tb" -u "$url" list b77)" "" "$(scans "$old" -u "$url" list b77)" "" ""
list_row "list 'abc*' (10 matches)" 5 list 'abc*'
row "  SCAN calls" "$(scans "$tb" -u "$url" list 'abc*')" "" "$(scans "$old" -u "$url" list 'abc*')" "" ""
list_row "list (all 1M)" 1 list
row "  SCAN calls" "$(scans "$tb" -u "$url" list)" "" "$(scans "$old" -u "$url" list)" "" ""
set -- $("$build/spawn_time" 20 "$tb" -u "$url" info b77)
row "info b77, for scale (median ms)" "$1" ms "" "" ""
# bash completion of `tbucket take ab<TAB>`: the function as bash calls it.
tab() {
    bash -c '. completions/tbucket; compopt() { :; }; PATH=$1:$PATH
        COMP_WORDS=(tbucket -u "$2" take ab); COMP_CWORD=4; COMP_LINE="tbucket -u $2 take ab"; COMP_POINT=${#COMP_LINE}
        s=$(date +%s%N); _tbucket; e=$(date +%s%N); echo $(( (e - s) / 1000000 )) ${#COMPREPLY[@]}' _ "$1" "$url"
}
mkdir -p "$dir/new" "$dir/old" && ln -s "$(realpath "$tb")" "$dir/new/tbucket" && ln -s "$(realpath "$old")" "$dir/old/tbucket"
set -- $(tab "$dir/new") $(tab "$dir/old")
row "bash TAB on 'take ab' (ms, candidates)" "$1 ($2)" ms "$3 ($4)" ms "$(ratio "$1" "$3")"
