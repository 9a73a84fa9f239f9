#!/bin/bash
# Runs the README's examples as a new user would paste them, in order,
# against a private redis-server: every ```sh block, and the command of
# every ```cron line under cron's own PATH. A block that cannot run here
# (a build, or a server elsewhere) is preceded by an HTML comment
# "<!-- not run: REASON -->" and is only counted.
# An example fails when a command in it exits 2 (usage), 3 (no such
# bucket), 4, 5, 65, 69, 70, 77, 126 or 127, or runs past its bound (killed:
# 137); 1 (denied), 75 and 124 are answers an example may meet. Every block
# runs twice in a row, as a user pastes an example again: a second paste
# that hangs or fails is a failure too.
# usage: test_readme.sh README TBUCKET_BINARY
set -u
readme=$1
bin=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
name="README examples"
. "$(dirname "$0")/../completions/common.sh"  # private server: $tmp, $port, $url
redis-cli -p "$port" flushall >/dev/null

work=$tmp/work
mkdir -p "$work/bin"
# What the examples call besides tbucket: harmless stand-ins.
for stub in sync.sh deploy.sh job.sh; do
    printf '#!/bin/sh\necho "%s ran"\n' "$stub" >"$work/$stub"
    chmod +x "$work/$stub"
done
ln -s "$bin" "$work/bin/tbucket"

# The blocks, numbered, into files: sh-N for shell, cron-N for crontabs,
# skip-N (with the reason as first line) for those marked not run.
awk -v dir="$work" '
    /^<!-- not run: / { reason = $0; next }
    /^```/ {
        if (inside) { close(file); inside = 0; next }
        if (other) { other = 0; next }
        if ($0 ~ /^```(sh|cron)$/) {
            n++
            file = dir "/" (reason != "" ? "skip" : substr($0, 4)) "-" n
            if (reason != "") print reason > file
            reason = ""; inside = 1; next
        }
        other = 1; reason = ""; next
    }
    inside { print >> file; next }
    other { next }
    NF { reason = "" }
' "$readme"

fail=0
ran=0
skipped=0
# A shell function for every example: tbucket with a bound, so that a
# follow or a wait that never ends is a failure, not a hang; a --follow ends
# after a second, as ^C would.
# The server here is seconds old; a reader's has run for longer than the
# restart grace (12 s) that holds a new semaphore on a young server without
# an append-only file: off, as it is for the other tests.
cat >"$work/prelude" <<EOF
export TBUCKET_URL=$url PATH=$work/bin:\$PATH TBUCKET_RESTART_GRACE=0
tbucket() {
    case " \$* " in
        *" --follow "*) timeout -s INT 1 "$work/bin/tbucket" "\$@"; rc=\$?; [ \$rc = 130 ] && rc=0 ;;
        *) timeout -s KILL 20 "$work/bin/tbucket" "\$@"; rc=\$? ;;
    esac
    case \$rc in 2|3|4|5|65|69|70|77|126|127|137) echo "example: 'tbucket \$*' exited \$rc" >&2; echo x >>"$work/bad" ;; esac
    return \$rc
}
cd "$work"
EOF

for block in $(ls "$work" | grep -E '^(sh|cron|skip)-[0-9]+$' | sort -t- -k2 -n); do
    case $block in
        skip-*)
            skipped=$((skipped + 1))
            echo "not run: block ${block#skip-}: $(head -1 "$work/$block")"
            continue ;;
        sh-*)
            script="$work/$block.run"
            { cat "$work/prelude"; cat "$work/$block"; } >"$script" ;;
        cron-*)
            # Variables as cron sets them, then each line's command (after
            # its five time fields) under cron's PATH; /usr/local/bin is
            # where the README installs to.
            if ! grep -q '^TBUCKET_URL=' "$work/$block"; then
                echo "FAIL: crontab block ${block#cron-} names no TBUCKET_URL"
                fail=1
            fi
            script="$work/$block.run"
            {
                echo "export PATH=/usr/bin:/bin"
                echo "cd $work"
                grep -E '^[A-Z_]+=' "$work/$block" | sed "s|^TBUCKET_URL=.*|TBUCKET_URL=$url|; s|^|export |"
                grep -vE '^[A-Z_]+=|^#|^$' "$work/$block" | cut -d' ' -f6- |
                    sed "s|/usr/local/bin/tbucket|$work/bin/tbucket|g; s|/usr/local/bin/|$work/|g" |
                    sed 's/$/ || echo "exit $?" >>bad-cron/'
            } >"$script"
            ;;
    esac
    ran=$((ran + 1))
    rm -f "$work/bad" "$work/bad-cron"
    for paste in 1 2; do
        echo "# paste $paste" >>"$work/$block.out"
        if ! timeout 60 bash "$script" >>"$work/$block.out" 2>&1; then :; fi
    done
    if [ -e "$work/bad" ] || [ -e "$work/bad-cron" ]; then
        echo "FAIL: block ${block#*-} ($block):"
        sed 's/^/    /' "$work/$block"
        echo "  printed:"
        sed 's/^/    /' "$work/$block.out"
        fail=1
    else
        echo "ok: block ${block#*-} ($block)"
    fi
done

echo "$ran blocks run, $skipped not run"
[ "$ran" -ge 5 ] || { echo "FAIL: fewer blocks run than the README has examples"; fail=1; }
exit $fail
