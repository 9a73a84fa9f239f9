#!/bin/sh
# lintian finds no error in the Debian package that cpack -G DEB builds;
# its warnings (and the tags it only mentions) are printed, not failed.
# usage: test_lintian.sh BUILD_DIR
set -eu
build=$1
command -v lintian >/dev/null 2>&1 || { echo "test_lintian: FAIL: lintian is not installed (scripts/install-deps --test)"; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$out" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$out" >/dev/null)
deb=$(ls "$out"/*.deb)
# lintian's own exit status also counts warnings in some versions: the
# tags decide. Its complaint about running as root is not about the package.
lintian --tag-display-limit 0 --display-info "$deb" >"$out/tags" 2>&1 || true
grep -v 'running with root privileges' "$out/tags" || true
if grep -q '^E: ' "$out/tags"; then
    echo "test_lintian: FAIL: lintian reports errors"
    exit 1
fi
echo "ok: lintian reports no errors on $(basename "$deb")"
