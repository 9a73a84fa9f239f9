#!/bin/sh
# Checks the example systemd units in packaging/ with systemd-analyze verify
# (Debian's systemd), with the paths of ExecStart pointed at the built
# binary and a stand-in job, as they would be on an installed machine.
#
#   sh tests/package/test_systemd.sh SOURCE_DIR TBUCKET_BINARY
set -u
[ $# -eq 2 ] || { echo "usage: test_systemd.sh SOURCE_DIR TBUCKET_BINARY" >&2; exit 2; }
src=$(cd "$1" && pwd) bin=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
command -v systemd-analyze >/dev/null 2>&1 || { echo "test_systemd: FAIL: systemd-analyze is not installed" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tbucket-systemd.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/sh\necho synced\n' >"$tmp/sync.sh"
chmod +x "$tmp/sync.sh"
sed "s|/usr/bin/tbucket|$bin|; s|/usr/local/bin/sync.sh|$tmp/sync.sh|" \
    "$src/packaging/tbucket-example.service" >"$tmp/tbucket-example.service"
cp "$src/packaging/tbucket-example.timer" "$tmp/"
fail=0
grep -q '^SuccessExitStatus=75 124$' "$tmp/tbucket-example.service" || { echo "test_systemd: FAIL: no SuccessExitStatus=75 124" >&2; fail=1; }
# verify prints nothing for units it finds nothing wrong with.
out=$(cd "$tmp" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
    "$tmp/tbucket-example.service" "$tmp/tbucket-example.timer" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
    echo "test_systemd: FAIL: systemd-analyze verify (exit $rc):" >&2
    echo "$out" >&2
    fail=1
fi
[ $fail -eq 0 ] && echo "test_systemd: ok"
exit $fail
