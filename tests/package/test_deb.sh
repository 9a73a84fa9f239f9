#!/bin/sh
# cpack -G DEB builds a package holding the programs, the man page, the
# completions and the copyright; unpacked into a scratch root, its programs run.
# usage: test_deb.sh BUILD_DIR
set -eu
build=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$out" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$out" >/dev/null)
deb=$(ls "$out"/*.deb)
echo "package: $(basename "$deb")"
dpkg-deb -f "$deb" Package Version Architecture Depends Recommends

dpkg-deb -x "$deb" "$out/root"
status=0
for f in usr/bin/tbucket usr/libexec/tbucket/tbucket-tls usr/share/man/man1/tbucket.1.gz usr/share/bash-completion/completions/tbucket \
         usr/share/zsh/site-functions/_tbucket usr/share/fish/vendor_completions.d/tbucket.fish \
         usr/share/doc/tbucket/copyright usr/share/doc/tbucket/changelog.gz; do
    if [ -f "$out/root/$f" ]; then echo "ok: $f"; else echo "missing: $f"; status=1; fi
done
"$out/root/usr/bin/tbucket" --version | grep -q '^tbucket [0-9]' || { echo "packaged tbucket --version failed"; status=1; }
"$out/root/usr/libexec/tbucket/tbucket-tls" --version | grep -q '^tbucket [0-9]' || { echo "packaged tbucket-tls --version failed"; status=1; }
# Whatever shared libraries the packaged programs need must be in Depends.
for bin in usr/bin/tbucket usr/libexec/tbucket/tbucket-tls; do
    if ldd "$out/root/$bin" >/dev/null 2>&1; then
        for lib in $(ldd "$out/root/$bin" | awk '/=>/ { print $1 }'); do
            path=$(ldd "$out/root/$bin" | awk -v l="$lib" '$1 == l { print $3 }')
            # dpkg knows /usr/lib/…, ldd may say /lib/… (merged /usr)
            pkg=$( (dpkg -S "$path" || dpkg -S "$(readlink -f "$path")") 2>/dev/null | cut -d: -f1 | head -n1)
            [ -n "$pkg" ] || { echo "no package owns $path ($lib of $bin)"; status=1; continue; }
            case "$(dpkg-deb -f "$deb" Depends)" in
                *"$pkg"*) echo "ok: $bin depends on $pkg ($lib)" ;;
                *) echo "missing dependency: $pkg for $lib of $bin"; status=1 ;;
            esac
        done
    else
        echo "ok: $bin is statically linked, needs no shared libraries"
    fi
done
exit $status
