#!/bin/sh
# Builds the parser fuzzers with clang (libFuzzer, ASan, UBSan) and runs each
# for a bounded time, printing how many inputs each ran. Exits 1 if any
# fuzzer crashed, leaked or broke a property; its reproducer is kept as
# <build>/fuzz-artifacts/<parser>-crash-* (rerun: <build>/tests/fuzz/fuzz_<parser> FILE).
#
#   tests/fuzz/run.sh [SECONDS_EACH [BUILD_DIR]]     defaults: 60, ./build-fuzz
#
# Needs clang and libFuzzer: Debian's clang and libclang-rt-14-dev.
set -eu

seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${2:-$root/build-fuzz}
parsers="name count rate duration url"
mkdir -p "$build"

# Static linking is for the shipped binary; the fuzz build needs none of it,
# nor the benchmarks: only the fuzz targets are built below.
CXX=${CXX:-clang++} cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER="${CXX:-clang++}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTBUCKET_FUZZ=ON -DTBUCKET_TESTS=ON \
    -DTBUCKET_STATIC=OFF -DTBUCKET_BENCH=OFF -DTBUCKET_SANITIZE=OFF >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log" >&2; exit 2; }
cmake --build "$build" --target fuzzers -j"${JOBS:-1}" >"$build/build.log" 2>&1 ||
    { tail -n 40 "$build/build.log" >&2; exit 2; }

mkdir -p "$build/fuzz-artifacts"
failed=""
for parser in $parsers; do
    corpus="$build/tests/fuzz/corpus/$parser"  # grows run after run; the seeds stay as they are
    log="$build/fuzz-artifacts/$parser.log"
    mkdir -p "$corpus"
    status=0
    "$build/tests/fuzz/fuzz_$parser" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
        -artifact_prefix="$build/fuzz-artifacts/$parser-" "$corpus" "$here/corpus/$parser" >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ "$status" -eq 0 ]; then
        echo "fuzz_$parser: ${runs:-?} executions in ${seconds}s, no findings"
    else
        echo "fuzz_$parser: FAILED (exit $status) after ${runs:-?} executions; see $log"
        grep -m 3 -E 'property broken|ERROR: |runtime error' "$log" | sed 's/^/    /'
        failed="$failed $parser"
    fi
done
if [ -n "$failed" ]; then
    echo "findings in:$failed" >&2
    exit 1
fi
