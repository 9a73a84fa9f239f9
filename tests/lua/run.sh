#!/bin/sh
# Runs tests/lua/test_common.lua in Debian's lua5.1 (Redis's Lua version):
# the fake redis object, then common.lua's helpers, then the tests, as one
# chunk, so that the helpers (local functions) are in the tests' scope.
#   run.sh COMMON.lua
set -eu
here=$(dirname "$0")
command -v lua5.1 >/dev/null 2>&1 || {
    echo "lua: FAIL: lua5.1 is not installed (scripts/install-deps --test)" >&2
    exit 1
}
cat "$here/fake_redis.lua" "$1" "$here/test_common.lua" | lua5.1 -
