#!/bin/sh
# Tests the manual page man/tbucket.1.
#
#   sh tests/completions/test_man.sh MAN_PAGE TBUCKET_BINARY
#
# (The two arguments may come in either order.) Checks that groff and
# mandoc find nothing to complain about, and that the page covers every
# command, every exit status of SPEC §5 (in EXIT STATUS) and every long
# option that `tbucket --help` and `tbucket COMMAND --help` print.
# Exits 0 when every check passes.

name=test_man
usage="usage: test_man.sh MAN_PAGE TBUCKET_BINARY"
[ $# -eq 2 ] || { echo "$usage" >&2; exit 2; }
if [ -x "$1" ] && [ ! -d "$1" ] && case $1 in *.1) false ;; *) true ;; esac; then
    bin=$1 page=$2
else
    page=$1 bin=$2
fi
[ -f "$page" ] || { echo "$name: FAIL: no manual page $page" >&2; exit 1; }
[ -x "$bin" ] || { echo "$name: FAIL: $bin is not an executable" >&2; exit 1; }
for tool in groff mandoc; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$name: FAIL: $tool is not installed" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tbucket-man.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
failures=0
fail() {
    echo "$name: FAIL: $*" >&2
    failures=$((failures + 1))
}

# 1. The formatters are silent.
groff -man -ww -z "$page" >"$tmp/groff" 2>&1
if [ -s "$tmp/groff" ]; then
    fail "groff -man -ww -z complains:"
    cat "$tmp/groff" >&2
fi
mandoc -T lint "$page" >"$tmp/mandoc" 2>&1
if [ -s "$tmp/mandoc" ]; then
    fail "mandoc -T lint complains:"
    cat "$tmp/mandoc" >&2
fi

# The page as plain text: long lines, no hyphenation, no overstriking, so
# that every option name stays whole.
groff -man -Tascii -P-c -P-b -P-o -P-u -rLL=400n -rHY=0 "$page" >"$tmp/page.txt" 2>/dev/null
[ -s "$tmp/page.txt" ] || { fail "groff renders nothing"; exit 1; }

# 2. Every command has its place.
"$bin" --help >"$tmp/help" 2>&1 || fail "$bin --help failed"
commands=$(sed -n '/^Subcommands:/,/^$/p' "$tmp/help" | awk 'NR > 1 && NF { print $1 }')
for cmd in create take put watch info list delete reset run $commands; do
    grep -Eq "(^|[^a-z])$cmd([^a-z]|$)" "$tmp/page.txt" || fail "command '$cmd' is not in the page"
    grep -Eq "^ +$cmd( |$)" "$tmp/page.txt" || fail "command '$cmd' has no subsection heading"
done

# 3. EXIT STATUS lists every code of SPEC §5 (and run's 126 and 127).
sed -n '/^EXIT STATUS/,/^[A-Z]/p' "$tmp/page.txt" | sed '1d;$d' >"$tmp/exit"
[ -s "$tmp/exit" ] || fail "no EXIT STATUS section"
for code in 0 1 2 3 4 5 65 69 70 75 77 124 126 127 130 143; do
    grep -Eq "^ +$code( |$)" "$tmp/exit" || fail "exit status $code is not listed in EXIT STATUS"
done

# 4. Every long option of every --help is in the page.
for cmd in $commands; do
    "$bin" "$cmd" --help >>"$tmp/help" 2>&1 || fail "$bin $cmd --help failed"
done
options=$(grep -Eo -- '--[a-z][a-z-]*' "$tmp/help" | sort -u)
[ -n "$options" ] || fail "no long options found in the --help output"
for option in $options; do
    grep -Eq -- "(^|[^a-z-])$option([^a-z-]|$)" "$tmp/page.txt" || fail "option $option is not in the page"
done

if [ $failures -gt 0 ]; then
    exit 1
fi
echo "$name: ok ($(echo $options | wc -w) options, $(echo $commands | wc -w) commands)"
