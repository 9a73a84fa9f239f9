#!/bin/bash
# Where the take script's Redis time goes (issue 29): the built take script
# and variants of it with one part cut out, each run as a grant by
# redis-benchmark -c 50 on a private redis-server (pinned to CPU 0, the
# benchmark to CPU 1), alternating, three rounds, a fresh database for each.
# Prints INFO commandstats' usec_per_call of EVALSHA per variant. The
# variants are measuring tools, not scripts to ship: each drops a guarantee.
# From the repository root, after a build:
#   BUILD=build bash bench/script_levers.sh   (needs redis-server, redis-benchmark, python3)
set -eu
. "$(dirname "$0")/script_bench.sh"
python3 - "$dir/take.lua" "$dir" <<'EOF'
import sys
take = open(sys.argv[1]).read()
def cut(a, b, s=take):
    assert a in s, a
    return s.replace(a, b, 1)
body = "local n = whole(ARGV[2], 'count', 1)"
variants = {
    'grant': take,
    'return-1': 'return 1\n',
    'prelude-only': cut(body, 'if true then return 1 end\n' + body),
    'reads-only': cut('if created and lease and ARGV[12]', 'if true then return 1 end\nif created and lease and ARGV[12]'),
    'no-id-record': cut("    redis.call('SET', KEYS[2], cmsgpack.pack(reply), 'PX', ARGV[1])\n", '',
                        cut("    local packed = redis.call('GET', KEYS[2])\n    if packed then return cmsgpack.unpack(packed) end\n", '')),
    'no-publish': cut("    local ok, err = pcall(publish, key .. ':events', message)\n", '    local ok, err = true, nil\n'),
    'no-counters': cut("local n = b.counted and string.format(", "local n = false and string.format("),
    'no-save': cut('save(key, b, t_text, now_text, created, changed)\nif created then', 'if created then'),
}
for name, text in variants.items():
    open(f'{sys.argv[2]}/{name}.lua', 'w').write(text)
print(' '.join(variants))
EOF
names="grant return-1 prelude-only reads-only no-id-record no-publish no-counters no-save"
for round in 1 2 3; do
    line="round $round:"
    for v in $names; do
        rc flushall >/dev/null
        $B/tbucket -u redis://127.0.0.1:$port -q create rb --capacity 9007199254740991
        sha=$(rc script load "$(cat $dir/$v.lua)")
        rc config resetstat >/dev/null
        taskset -c 1 redis-benchmark -p $port -q -c 50 -n 60000 -r 2000000000 EVALSHA "$sha" 2 \
            "tbucket:{rb}" "tbucket:{rb}:id:__rand_int__" 24000 1 all "" "" "" "" >/dev/null 2>&1
        us=$(rc info commandstats | tr -d '\r' | awk -F'usec_per_call=' '/^cmdstat_evalsha:/ { split($2, a, ","); print a[1] }')
        line="$line $v=$us"
    done
    echo "$line"
done
