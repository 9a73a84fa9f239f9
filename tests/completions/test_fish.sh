#!/bin/sh
# Tests completions/tbucket.fish against a private redis-server.
#
#   sh tests/completions/test_fish.sh TBUCKET_BINARY [COMPLETIONS_DIR]
#
# Starts redis-server on a free port of 127.0.0.1 and creates buckets there,
# then asks fish what it would offer: fish -c 'source FILE; complete -C LINE'.
# Exits 0 when every check passes.

name=test_fish
bin=${1:?usage: test_fish.sh TBUCKET_BINARY [COMPLETIONS_DIR]}
compdir=${2:-$(cd "$(dirname "$0")/../../completions" && pwd)}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
case $compdir in /*) ;; *) compdir=$PWD/$compdir ;; esac
[ -x "$bin" ] || { echo "$name: FAIL: $bin is not an executable" >&2; exit 1; }
[ -f "$compdir/tbucket.fish" ] || { echo "$name: FAIL: no $compdir/tbucket.fish" >&2; exit 1; }
for tool in fish redis-server redis-cli; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$name: FAIL: $tool is not installed" >&2; exit 1; }
done

. "$(dirname "$0")/common.sh"

mkdir "$tmp/bin" && ln -s "$bin" "$tmp/bin/tbucket" || exit 1
# fish keeps its history and variables under HOME and the XDG directories.
PATH="$tmp/bin:$PATH" TBUCKET_URL=$url HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data
XDG_CACHE_HOME=$tmp/cache
export PATH TBUCKET_URL HOME XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME
unset REDIS_URL TBUCKET_PREFIX TBUCKET_JSON TBUCKET_PASSWORD REDISCLI_AUTH

failures=0

# complete LINE: what fish offers for LINE, one candidate a line (without
# descriptions), in $tmp/offered.
complete() {
    TB_FILE=$compdir/tbucket.fish TB_LINE=$1 timeout 20 fish --no-config -c \
        'source $TB_FILE; or exit 1; complete -C $TB_LINE' >"$tmp/raw" 2>"$tmp/err"
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$tmp/err" ]; then
        echo "$name: FAIL: fish failed (status $rc) completing '$1':" >&2
        head -n 20 "$tmp/err" >&2
        failures=$((failures + 1))
    fi
    cut -f1 "$tmp/raw" >"$tmp/offered"
}

# expect LINE WORD...: completing LINE offers every WORD.
expect() {
    line=$1
    shift
    complete "$line"
    for want in "$@"; do
        if ! grep -qxF -- "$want" "$tmp/offered"; then
            echo "$name: FAIL: completing '$line' does not offer '$want'; got:" $(cat "$tmp/offered") >&2
            failures=$((failures + 1))
        fi
    done
}

# expect_none LINE WORD...: completing LINE offers none of the WORDs.
expect_none() {
    line=$1
    shift
    complete "$line"
    for bad in "$@"; do
        if grep -qxF -- "$bad" "$tmp/offered"; then
            echo "$name: FAIL: completing '$line' offers '$bad'; got:" $(cat "$tmp/offered") >&2
            failures=$((failures + 1))
        fi
    done
}

# expect_once LINE WORD: completing LINE offers WORD exactly once.
expect_once() {
    complete "$1"
    count=$(grep -cxF -- "$2" "$tmp/offered")
    if [ "$count" -ne 1 ]; then
        echo "$name: FAIL: completing '$1' offers '$2' $count times, not once; got:" $(cat "$tmp/offered") >&2
        failures=$((failures + 1))
    fi
}

while IFS='|' read -r kind line words; do
    case $kind in expect | expect_none) $kind "$line" $words ;; esac
done <"$TB_CASES"
# a command's own --help and the global one are the same option
expect_once 'tbucket take alpha --h' --help
expect_once 'tbucket lease renew alpha --' --help
expect 'tbucket take alpha --wait ' 250ms 5s 1m 1h
expect 'tbucket take alpha --wait=' --wait=250ms --wait=1h
expect 'tbucket watch alpha --timeout ' 250ms 5s 1m 1h
expect 'tbucket info team:' team:api
expect_none 'tbucket take alpha ' alpha beta
expect "tbucket -u $url --prefix other: take " gamma
expect_none "tbucket -u $url --prefix other: take " alpha beta
# --url on the command line wins over TBUCKET_URL (here a closed port)
TBUCKET_URL=redis://127.0.0.1:1
expect "tbucket --url=$url take " alpha beta
expect "tbucket -p ${url##*:} take " alpha beta
expect_none 'tbucket take ' alpha beta
TBUCKET_URL=$url
# names stay names whatever TBUCKET_JSON says
TBUCKET_JSON=1
export TBUCKET_JSON
expect 'tbucket take ' alpha beta
unset TBUCKET_JSON

if [ $failures -gt 0 ]; then
    exit 1
fi
echo "$name: ok"
