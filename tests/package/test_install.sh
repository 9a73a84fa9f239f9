#!/bin/sh
# cmake --install into a temporary prefix puts the binary, the man page and
# the three completions where their tools look for them, and tbucket-tls
# where tbucket looks for it.
# usage: test_install.sh BUILD_DIR
set -eu
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
status=0
for f in bin/tbucket libexec/tbucket/tbucket-tls share/man/man1/tbucket.1.gz share/bash-completion/completions/tbucket \
         share/zsh/site-functions/_tbucket share/fish/vendor_completions.d/tbucket.fish; do
    if [ -f "$prefix/$f" ]; then echo "ok: $f"; else echo "missing: $f"; status=1; fi
done
"$prefix/bin/tbucket" --version | grep -q '^tbucket [0-9]' || { echo "installed tbucket --version failed"; status=1; }
# tbucket becomes tbucket-tls for TLS: it must find it where it was installed.
if "$prefix/bin/tbucket" -u rediss://127.0.0.1:1 --connect-timeout 200ms info a 2>&1 | grep -q 'tbucket-tls'; then
    echo "installed tbucket did not find tbucket-tls"; status=1
else
    echo "ok: tbucket finds tbucket-tls"
fi
exit $status
