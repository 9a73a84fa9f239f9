#!/bin/sh
# Tests completions/_tbucket (zsh) against a private redis-server.
#
#   sh tests/completions/test_zsh.sh TBUCKET_BINARY [COMPLETIONS_DIR]
#
# Starts redis-server on a free port of 127.0.0.1 and creates buckets there.
# Then a zsh script starts an interactive `zsh -f` on a pseudo-terminal
# (the zsh/zpty module), runs compinit with the completions directory first
# in $fpath, types command lines followed by TAB, and records every match
# the completion system adds (a compadd wrapper writes them to a file).
# Exits 0 when every check passes.

name=test_zsh
bin=${1:?usage: test_zsh.sh TBUCKET_BINARY [COMPLETIONS_DIR]}
compdir=${2:-$(cd "$(dirname "$0")/../../completions" && pwd)}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
case $compdir in /*) ;; *) compdir=$PWD/$compdir ;; esac
[ -x "$bin" ] || { echo "$name: FAIL: $bin is not an executable" >&2; exit 1; }
[ -f "$compdir/_tbucket" ] || { echo "$name: FAIL: no $compdir/_tbucket" >&2; exit 1; }
for tool in zsh redis-server redis-cli; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$name: FAIL: $tool is not installed" >&2; exit 1; }
done

. "$(dirname "$0")/common.sh"

mkdir "$tmp/bin" && ln -s "$bin" "$tmp/bin/tbucket" || exit 1
PATH="$tmp/bin:$PATH" TBUCKET_URL=$url HOME=$tmp
export PATH TBUCKET_URL HOME
unset REDIS_URL TBUCKET_PREFIX TBUCKET_JSON TBUCKET_PASSWORD REDISCLI_AUTH ZDOTDIR

# What the interactive zsh runs first: compinit, and a TAB that records.
cat >"$tmp/init.zsh" <<'EOF'
PS1='' RPS1='' PS2=''
bindkey -e
LISTMAX=100000
stty columns 200 rows 100 2>/dev/null
fpath=("$TB_COMPDIR" $fpath)
autoload -Uz compinit
compinit -u -D
# Every match that a completion function adds, after matching against what
# was typed, goes to $TB_OUT. Calls that only collect matches in an array
# (-O, -A, -D) are passed through untouched.
compadd() {
  local arg
  for arg in "$@"; do
    [[ $arg == (-|--) ]] && break
    [[ $arg == -[OAD]* ]] && { builtin compadd "$@"; return }
  done
  local -a tb_matches
  builtin compadd -A tb_matches "$@"
  (( $#tb_matches )) && print -rl -- "${tb_matches[@]}" >>"$TB_OUT"
  builtin compadd "$@"
}
tb-complete() {
  zle complete-word
  print -r -- __TB_DONE__ >>"$TB_OUT"
}
zle -N tb-complete
bindkey '^I' tb-complete
print -r -- __TB_READY__ >>"$TB_OUT"
EOF

# The zsh that types into the interactive one and checks what it offers.
cat >"$tmp/drive.zsh" <<'EOF'
zmodload zsh/zpty || { print -u2 "test_zsh: FAIL: no zsh/zpty module"; exit 1 }
zmodload zsh/datetime
out=$TB_OUT
failures=0

# Waits until $out holds the line $1; keeps the terminal drained.
await() {
  local deadline=$(( EPOCHREALTIME + 10 )) junk
  until grep -qx -- "$1" "$out" 2>/dev/null; do
    while zpty -r -t tb junk; do :; done
    if (( EPOCHREALTIME > deadline )); then
      print -u2 "test_zsh: FAIL: no answer from the interactive zsh (waiting for $1)"
      return 1
    fi
    sleep 0.05
  done
}

# complete LINE: the matches offered for LINE, in $matches.
complete() {
  : >| $out
  zpty -w -n tb $'\C-u'"$1"$'\t'
  await __TB_DONE__ || exit 1
  matches=(${(f)"$(<$out)"})
  matches=(${matches:#__TB_DONE__})
}

# expect LINE WORD...: completing LINE offers every WORD.
expect() {
  local line=$1 want
  shift
  complete $line
  for want; do
    if (( ! ${matches[(Ie)$want]} )); then
      print -u2 "test_zsh: FAIL: completing '$line' does not offer '$want'; got: ${matches:-(nothing)}"
      (( failures++ ))
    fi
  done
}

# expect_none LINE WORD...: completing LINE offers none of the WORDs.
expect_none() {
  local line=$1 bad
  shift
  complete $line
  for bad; do
    if (( ${matches[(Ie)$bad]} )); then
      print -u2 "test_zsh: FAIL: completing '$line' offers '$bad'; got: $matches"
      (( failures++ ))
    fi
  done
}

# expect_once LINE WORD: completing LINE offers WORD exactly once.
expect_once() {
  local line=$1 want=$2
  complete $line
  local -a found=(${(M)matches:#${(b)want}})
  if (( $#found != 1 )); then
    print -u2 "test_zsh: FAIL: completing '$line' offers '$want' $#found times, not once; got: ${matches:-(nothing)}"
    (( failures++ ))
  fi
}

zpty tb zsh -f -i || { print -u2 "test_zsh: FAIL: cannot start zsh on a pty"; exit 1 }
: >| $out
zpty -w tb "source ${(q)TB_INIT}"
await __TB_READY__ || exit 1

while IFS='|' read -r kind line words; do
  [[ $kind == expect || $kind == expect_none ]] && $kind "$line" ${=words}
done <$TB_CASES
# a command's own --help and the global one are the same option
expect_once 'tbucket take alpha --h' --help
expect_once 'tbucket lease renew alpha --' --help
expect 'tbucket take alpha --wait ' 250ms 5s 1m 1h
expect 'tbucket take alpha --wait=' 250ms 5s 1m 1h
expect 'tbucket watch alpha --timeout ' 250ms 5s 1m 1h
expect 'tbucket info team:' team:api
expect "tbucket -u $TB_SERVER_URL --prefix other: take " gamma
expect_none "tbucket -u $TB_SERVER_URL --prefix other: take " alpha beta
expect "tbucket take --prefix=other: " gamma
expect "tbucket -u redis://127.0.0.1:1 -p ${TB_SERVER_URL##*:} take " alpha beta

zpty -d tb
exit $(( failures > 0 ))
EOF

TB_COMPDIR=$compdir TB_OUT=$tmp/matches TB_INIT=$tmp/init.zsh TB_SERVER_URL=$url
export TB_COMPDIR TB_OUT TB_INIT TB_SERVER_URL
if timeout 60 zsh -f "$tmp/drive.zsh"; then
    echo "$name: ok"
else
    exit 1
fi
