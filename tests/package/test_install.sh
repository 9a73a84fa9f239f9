#!/bin/sh
# cmake --install into a temporary prefix puts the binary, the man page and
# the three completions where their tools look for them.
# usage: test_install.sh BUILD_DIR
set -eu
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
status=0
for f in bin/tbucket share/man/man1/tbucket.1 share/bash-completion/completions/tbucket \
         share/zsh/site-functions/_tbucket share/fish/vendor_completions.d/tbucket.fish; do
    if [ -f "$prefix/$f" ]; then echo "ok: $f"; else echo "missing: $f"; status=1; fi
done
"$prefix/bin/tbucket" --version | grep -q '^tbucket [0-9]' || { echo "installed tbucket --version failed"; status=1; }
exit $status
