#!/usr/bin/env bash
# Tests completions/tbucket (bash) against a private redis-server.
#
#   bash tests/completions/test_bash.sh TBUCKET_BINARY [COMPLETIONS_DIR]
#
# Starts redis-server on a free port of 127.0.0.1, creates buckets there,
# then drives the completion function as bash would (COMP_WORDS, COMP_CWORD,
# COMP_LINE, COMP_POINT) and inspects COMPREPLY: once with the completion
# file alone, and once more on top of the bash-completion package when it is
# installed. Exits 0 when every check passes.

set -u
name=test_bash

if [ "${1:-}" = --inner ]; then
    # Second stage, in a fresh bash: $2 = completion file, $3 = "plain" or
    # the path of bash_completion to load first.
    mode=$3
    if [ "$mode" != plain ]; then
        # shellcheck disable=SC1090
        source "$mode" || { echo "$name: cannot load $mode" >&2; exit 1; }
    fi
    # shellcheck disable=SC1090
    source "$2" || { echo "$name: cannot load $2" >&2; exit 1; }
    complete -p tbucket >/dev/null 2>&1 || { echo "$name: FAIL: 'complete -p tbucket' shows nothing" >&2; exit 1; }
    failures=0
    # Called by hand, not by readline, the function's compopt has nothing
    # to change; keep its complaint out of the report.
    compopt() { builtin compopt "$@" 2>/dev/null || true; }

    # Sets COMP_* for a line with the cursor at its end, splitting it as
    # bash does (blanks, and '=' and ':' from COMP_WORDBREAKS as words of
    # their own), calls the function and leaves the result in COMPREPLY.
    complete_line() {
        local line=$1 word= c i
        COMP_LINE=$line
        COMP_POINT=${#line}
        COMP_WORDS=()
        for ((i = 0; i < ${#line}; i++)); do
            c=${line:i:1}
            if [[ $c == [[:blank:]] ]]; then
                [[ -n $word ]] && COMP_WORDS+=("$word")
                word=
            elif [[ $c == [=:] ]]; then
                if [[ -n $word && $word != *[=:] ]]; then
                    COMP_WORDS+=("$word")
                    word=
                fi
                word+=$c
            else
                if [[ -n $word && $word == *[=:] ]]; then
                    COMP_WORDS+=("$word")
                    word=
                fi
                word+=$c
            fi
        done
        COMP_WORDS+=("$word")  # the word at the cursor, maybe empty
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMPREPLY=()
        local spec func
        spec=$(complete -p tbucket)
        func=${spec#*-F }
        func=${func%% *}
        "$func" tbucket "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]:-}"
    }

    # expect LINE WORD...: completing LINE offers every WORD.
    expect() {
        local line=$1 want got
        shift
        complete_line "$line"
        for want in "$@"; do
            got=
            for c in "${COMPREPLY[@]}"; do
                [[ $c == "$want" ]] && got=1
            done
            if [[ -z $got ]]; then
                echo "$name [$mode]: FAIL: completing '$line' does not offer '$want'; got: ${COMPREPLY[*]:-(nothing)}" >&2
                failures=$((failures + 1))
            fi
        done
    }

    # expect_none LINE WORD...: completing LINE offers none of the WORDs
    # (with no WORD: offers nothing at all).
    expect_none() {
        local line=$1 bad c
        shift
        complete_line "$line"
        if [ $# -eq 0 ] && [ ${#COMPREPLY[@]} -gt 0 ]; then
            echo "$name [$mode]: FAIL: completing '$line' should offer nothing; got: ${COMPREPLY[*]}" >&2
            failures=$((failures + 1))
        fi
        for bad in "$@"; do
            for c in "${COMPREPLY[@]}"; do
                if [[ $c == "$bad" ]]; then
                    echo "$name [$mode]: FAIL: completing '$line' offers '$bad'; got: ${COMPREPLY[*]}" >&2
                    failures=$((failures + 1))
                fi
            done
        done
    }

    # expect_once LINE WORD: completing LINE offers WORD exactly once.
    expect_once() {
        local line=$1 want=$2 c count=0
        complete_line "$line"
        for c in "${COMPREPLY[@]}"; do
            [[ $c == "$want" ]] && count=$((count + 1))
        done
        if [ $count -ne 1 ]; then
            echo "$name [$mode]: FAIL: completing '$line' offers '$want' $count times, not once; got: ${COMPREPLY[*]:-(nothing)}" >&2
            failures=$((failures + 1))
        fi
    }

    while IFS='|' read -r kind line words; do
        # shellcheck disable=SC2086
        case $kind in expect | expect_none) $kind "$line" $words ;; esac
    done <"$TB_CASES"
    # a command's own --help and the global one are the same option
    expect_once 'tbucket take alpha --h' --help
    expect_once 'tbucket lease renew alpha --' --help
    expect 'tbucket take alpha --' --url
    expect 'tbucket --' --help --version
    expect_none 'tbucket info alpha b' alpha
    expect 'tbucket delete alpha ' beta
    expect 'tbucket take alpha --wait ' 250ms 5s 1m 1h
    # after '=' readline completes only the text behind it
    expect 'tbucket take alpha --wait=1' 1s 1m 1h 1d
    expect 'tbucket watch alpha --timeout 5' 5s 5m
    expect 'tbucket --connect-timeout ' 250ms 1s
    expect 'tbucket -E ' 0 1 75
    expect 'tbucket take alpha --wait -' --partial --json
    expect_none 'tbucket take alpha --wait -' 1s
    expect 'tbucket take alpha --wait 5m --' --partial
    expect 'tbucket --url ' redis://127.0.0.1:6379
    # a name holding ':' (a word-break character)
    expect 'tbucket info team:' api
    # N is a number: no names there
    expect_none 'tbucket take alpha ' alpha beta
    # --url and --prefix on the command line reach `tbucket list`
    TBUCKET_URL=redis://127.0.0.1:1 expect "tbucket -u $SERVER_URL take " alpha beta
    TBUCKET_URL=redis://127.0.0.1:1 expect "tbucket take --url=$SERVER_URL a" alpha
    TBUCKET_URL=redis://127.0.0.1:1 expect_none 'tbucket take '
    TBUCKET_URL=redis://127.0.0.1:1 expect "tbucket -p ${SERVER_URL##*:} take " alpha beta
    expect "tbucket --prefix other: take " gamma
    expect_none "tbucket --prefix other: take " alpha beta
    # after '=' in a list readline completes only the text behind it
    expect 'tbucket take alpha=2,b' 2,beta
    expect_none 'tbucket take alpha=2,' 2,alpha
    # names stay names whatever TBUCKET_JSON says
    TBUCKET_JSON=1 expect 'tbucket take ' alpha beta

    exit $((failures > 0))
fi

bin=${1:?usage: test_bash.sh TBUCKET_BINARY [COMPLETIONS_DIR]}
compdir=${2:-$(cd "$(dirname "$0")/../../completions" && pwd)}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
[ -x "$bin" ] || { echo "$name: FAIL: $bin is not an executable" >&2; exit 1; }
[ -f "$compdir/tbucket" ] || { echo "$name: FAIL: no $compdir/tbucket" >&2; exit 1; }
for tool in redis-server redis-cli; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$name: FAIL: $tool is not installed" >&2; exit 1; }
done

. "$(dirname "$0")/common.sh"

# `tbucket` on PATH is the binary under test.
mkdir "$tmp/bin" && ln -s "$bin" "$tmp/bin/tbucket" || exit 1
export PATH="$tmp/bin:$PATH" TBUCKET_URL=$url SERVER_URL=$url HOME=$tmp
unset REDIS_URL TBUCKET_PREFIX TBUCKET_JSON TBUCKET_PASSWORD REDISCLI_AUTH

status=0
modes=plain
for file in /usr/share/bash-completion/bash_completion /etc/bash_completion; do
    if [ -f "$file" ]; then
        modes="$modes $file"
        break
    fi
done
for mode in $modes; do
    timeout 60 bash --norc --noprofile "$0" --inner "$compdir/tbucket" "$mode" || status=1
done
if [ $status -eq 0 ]; then
    echo "$name: ok ($modes)"
fi
exit $status
