# fish completion for tbucket(1)
#
# Install as ~/.config/fish/completions/tbucket.fish, or into the vendor
# completions directory (pkg-config --variable completionsdir fish).
#
# Bucket names come from `tbucket list` against the server the command line
# names (-u/--url, -h, -p, -n, --prefix, --password-file, the TLS options,
# else the environment), with
# short timeouts; when that fails, nothing is offered.

# Prints lines about the words before the cursor: the command (or "-"), how
# many of its positional arguments were given, "--" when the cursor is in
# the command that `run NAME --` runs (else "-"), then the first two of
# those arguments that were given (for `lease`: the action and the NAME).
function __tbucket_state
    set -l words (commandline -opc)
    set -e words[1]
    set -l sub -
    set -l npos 0
    set -l given
    set -l skip 0
    set -l after_wait 0
    for w in $words
        if test $skip -eq 1
            set skip 0
            continue
        end
        if test $after_wait -eq 1
            set after_wait 0
            # a word after --wait that is not an option is its duration
            if not string match -q -- '-*' $w
                continue
            end
        end
        if test "$sub" = run; and test "$w" = --
            printf '%s\n' run $npos --
            return
        end
        switch $w
            case -u --url -h -p -n -a --prefix --password-file --connect-timeout --timeout-io -E --denied-exit \
                --capacity --rate --window --tz --expire --tokens --timeout --cacert --cacertdir --cert --key --sni \
                --lease --ttl --on-lost --kill-after --note --format --sort --tls-keep
                set skip 1
            case --wait
                set after_wait 1
            case '-*'
            case '*'
                if test "$sub" = -
                    set sub $w
                else
                    test $npos -lt 2; and set -a given $w
                    set npos (math $npos + 1)
                end
        end
    end
    printf '%s\n' $sub $npos - $given
end

function __tbucket_needs_command
    set -l state (__tbucket_state)
    test "$state[1]" = -
end

# True when the command is one of the arguments (and the cursor is not in
# run's own command).
function __tbucket_using
    set -l state (__tbucket_state)
    test "$state[3]" = -; and contains -- $state[1] $argv
end

# True at the NAME argument of one of the commands given.
function __tbucket_at_name
    set -l state (__tbucket_state)
    test "$state[3]" = -; and test "$state[2]" -eq 0; and contains -- $state[1] $argv
end

# True at the action of `lease`, or at the NAME after it.
function __tbucket_at_lease_arg
    set -l state (__tbucket_state)
    test "$state[3]" = -; and test "$state[1]" = lease; and test "$state[2]" -eq $argv[1]
end

# True at take's count, where `all` may stand.
function __tbucket_at_take_count
    set -l state (__tbucket_state)
    test "$state[3]" = -; and test "$state[2]" -eq 1; and test "$state[1]" = take
end

# True right after a --wait of take or run: the next word, if it is not an
# option, is the duration.
function __tbucket_after_wait
    set -l words (commandline -opc)
    test "$words[-1]" = --wait; and __tbucket_using take run
end

# True at the ID of `lease renew NAME ID` or `lease release NAME ID`.
function __tbucket_at_lease_id
    set -l state (__tbucket_state)
    test "$state[3]" = -; and test "$state[1]" = lease; and test "$state[2]" -eq 2
    and contains -- "$state[4]" renew release
end

function __tbucket_in_run_command
    set -l state (__tbucket_state)
    test "$state[3]" = --
end

# This tbucket and the arguments that reach, with short timeouts, the server
# the command line names (the URL, prefix, password file and TLS options
# typed, else the environment), one a line.
function __tbucket_server
    set -l words (commandline -opc)
    set -l cmd $words[1]
    if not command -sq -- $cmd
        set cmd tbucket
    end
    set -l args -q --connect-timeout 300ms --timeout-io 500ms
    set -l i 2
    while test $i -le (count $words)
        set -l w $words[$i]
        switch $w
            case --
                break
            case -u --url -h -p -n --prefix --password-file --cacert --cacertdir --cert --key --sni
                set i (math $i + 1)
                set -a args $w $words[$i]
            case '--url=*' '--prefix=*' '--password-file=*' '--cacert=*' '--cacertdir=*' '--cert=*' '--key=*' \
                '--sni=*' --tls --insecure --no-session-cache
                set -a args $w
            case '-u?*'
                set -a args --url (string sub -s 3 -- $w)
        end
        set i (math $i + 1)
    end
    printf '%s\n' $cmd $args
end

function __tbucket_buckets
    set -l server (__tbucket_server)
    # After a comma (a bucket list, NAME[=N],...): the names not yet in it,
    # with the list so far in front.
    set -l token (commandline -ct)
    set -l head ''
    if string match -q -- '*,*' $token
        set head (string replace -r -- ',[^,]*$' ',' $token)
    end
    # Text output whatever TBUCKET_JSON says; what is typed narrows the
    # lookup in the index of names (glob characters in it are dropped).
    set -l typed (string replace -ra '[\\\\*?\[\]^]' '' -- (string replace -r -- '^.*,' '' $token))
    for n in (env TBUCKET_JSON= $server list "$typed*" 2>/dev/null </dev/null)
        if not string match -q -- "*,$n,*" ",$head"; and not string match -q -- "*,$n=*" ",$head"
            echo $head$n
        end
    end
end

# The ids of the leases held on the bucket named before them, from `tbucket
# lease list NAME` (one lease a line, the id first), each with what the
# lease is as its description.
function __tbucket_lease_ids
    set -l state (__tbucket_state)
    set -l name $state[5]
    # no name would list the leases of every bucket, each line led by its name
    test -n "$name"; or return
    set -l server (__tbucket_server)
    for l in (env TBUCKET_JSON= $server lease list $name 2>/dev/null </dev/null)
        set -l id (string match -r -- '^[0-9a-f]{24}(?= )' $l); or continue
        set -l what (string replace -r -- '^\S+\s+' '' $l | string replace -ra -- '\s{2,}' ', ')
        printf '%s\t%s\n' $id "$what"
    end
end

# The command after `run NAME [N] --` and its arguments, completed as if
# typed alone.
function __tbucket_run_command
    set -l words (commandline -opc)
    set -l i (contains -i -- -- $words)
    set -l line (string escape -- $words[(math $i + 1)..-1])
    set -a line (commandline -ct)
    complete -C (string join ' ' -- $line)
end

set -l durations '250ms 500ms 1s 5s 30s 1m 5m 1h 1d'
set -l rates '1/s 10/s 100/min 1/h 10/h 1000/d'

complete -c tbucket -f

# Commands
complete -c tbucket -n __tbucket_needs_command -a create -d 'Ensure a bucket exists with these settings'
complete -c tbucket -n __tbucket_needs_command -a take -d 'Take N tokens at once, or none'
complete -c tbucket -n __tbucket_needs_command -a put -d 'Give N tokens back'
complete -c tbucket -n __tbucket_needs_command -a info -d "Show buckets' state"
complete -c tbucket -n __tbucket_needs_command -a list -d 'Names of buckets matching a glob'
complete -c tbucket -n __tbucket_needs_command -a top -d 'Live view of buckets'
complete -c tbucket -n __tbucket_needs_command -a delete -d 'Remove buckets'
complete -c tbucket -n __tbucket_needs_command -a reset -d "Set a bucket's level"
complete -c tbucket -n __tbucket_needs_command -a doctor -d 'Check the server for what would make buckets wrong'
complete -c tbucket -n __tbucket_needs_command -a config -d 'Show the settings in effect and where each came from'
complete -c tbucket -n __tbucket_needs_command -a watch -d 'Block until N tokens are there'
complete -c tbucket -n __tbucket_needs_command -a run -d 'Take N tokens and run a command'
complete -c tbucket -n __tbucket_needs_command -a lease -d 'Hold tokens of a semaphore until released or expired'
complete -c tbucket -n __tbucket_needs_command -a help -d 'Usage of tbucket or of a command'

# Global options: before the command or after it
set -l not_in_run_command 'not __tbucket_in_run_command'
complete -c tbucket -n $not_in_run_command -s u -l url -x -a 'redis://127.0.0.1:6379 unix:/// redis-sentinel://127.0.0.1:26379/' -d 'Redis URL'
complete -c tbucket -n $not_in_run_command -s h -x -a '(__fish_print_hostnames)' -d "Redis host, replacing the URL's"
complete -c tbucket -n $not_in_run_command -s p -x -a 6379 -d "Redis port, replacing the URL's"
complete -c tbucket -n $not_in_run_command -s n -x -a '0 1 2 3' -d "Database number, replacing the URL's"
complete -c tbucket -n $not_in_run_command -s c -l cluster -d 'Accepted for redis-cli habits'
complete -c tbucket -n $not_in_run_command -l prefix -x -a 'tbucket:' -d 'Key prefix'
complete -c tbucket -n $not_in_run_command -l json -d 'Print JSON Lines'
complete -c tbucket -n $not_in_run_command -s q -l quiet -d 'Print nothing but errors'
complete -c tbucket -n $not_in_run_command -s v -l verbose -d 'Print the state line of a change in a script too'
complete -c tbucket -n $not_in_run_command -l connect-timeout -x -a $durations -d 'Time to connect'
complete -c tbucket -n $not_in_run_command -l timeout-io -x -a $durations -d "Time for one command's reply"
complete -c tbucket -n $not_in_run_command -l password-file -r -F -d 'Read the password from this file'
complete -c tbucket -n $not_in_run_command -l tls -d 'Connect with TLS'
complete -c tbucket -n $not_in_run_command -l cacert -r -F -d 'Trust the CAs in this PEM file'
complete -c tbucket -n $not_in_run_command -l cacertdir -x -a '(__fish_complete_directories)' -d 'Trust the CAs in this directory'
complete -c tbucket -n $not_in_run_command -l cert -r -F -d 'Client certificate'
complete -c tbucket -n $not_in_run_command -l key -r -F -d 'Private key of --cert'
complete -c tbucket -n $not_in_run_command -l sni -x -d 'Server name to send and check'
complete -c tbucket -n $not_in_run_command -l insecure -d 'Do not verify the server certificate'
complete -c tbucket -n $not_in_run_command -l no-session-cache -d 'No TLS session resumption'
complete -c tbucket -n $not_in_run_command -l tls-keep -x -a $durations -d 'Keep a TLS connection ready this long'
complete -c tbucket -n $not_in_run_command -s E -l denied-exit -x -a '0 1 75' -d 'Exit status of a denial'
complete -c tbucket -n $not_in_run_command -l durable -d 'Report a change only once a replica has it'
complete -c tbucket -n $not_in_run_command -l help -d 'Show help'
complete -c tbucket -n __tbucket_needs_command -s V -l version -d 'Show the version'

# Options of the commands
complete -c tbucket -n '__tbucket_using create' -l capacity -x -d 'Most tokens the bucket holds'
complete -c tbucket -n '__tbucket_using create' -l tokens -x -d 'Starting level (default: full)'
complete -c tbucket -n '__tbucket_using create' -l update -d 'Change the settings, keeping the level'
complete -c tbucket -n '__tbucket_using create' -l replace -d 'Replace the bucket with a fresh one'
complete -c tbucket -n '__tbucket_using create' -l rate -x -a $rates -d 'Refill rate AMOUNT/PERIOD'
complete -c tbucket -n '__tbucket_using create take put watch run' -l window -x -a '1m 15m 1h 1d 1w 1mo 3mo' -d 'Full again at each calendar window'
complete -c tbucket -n '__tbucket_using create take put watch run' -l tz -x -a '(string replace -r "^.*/zoneinfo/" "" (find -L /usr/share/zoneinfo -type f -path "*/*/*" 2>/dev/null))' -d 'Time zone of the windows'
complete -c tbucket -n '__tbucket_using create' -l expire -x -a $durations -d 'Delete after this long unused'
complete -c tbucket -n '__tbucket_using take put watch run' -l capacity -x -d 'Create a missing bucket with this capacity'
complete -c tbucket -n '__tbucket_using take put watch run' -l rate -x -a $rates -d 'Refill rate of a created bucket'
complete -c tbucket -n '__tbucket_using take put watch run' -l expire -x -a $durations -d 'Delete after this long unused'
complete -c tbucket -n '__tbucket_using take' -l partial -d 'Take as many whole tokens as are there, up to N'
complete -c tbucket -n '__tbucket_using take run' -l dry-run -d 'Would the tokens be granted now? Nothing taken'
complete -c tbucket -n '__tbucket_using take run' -l wait -a $durations -d 'Wait for the tokens, forever or up to a duration'
complete -c tbucket -n __tbucket_after_wait -a $durations -d 'Longest wait'
complete -c tbucket -n '__tbucket_using run' -l fail-open -d 'Redis unavailable: run the command anyway'
complete -c tbucket -n '__tbucket_using take watch lease' -l fail-open -d 'Redis unavailable: go on as if granted'
complete -c tbucket -n '__tbucket_using run' -l ttl -x -a $durations -d 'How long the lease lives without renewal'
complete -c tbucket -n '__tbucket_using run' -l lease -x -a $durations -d 'How long the lease lives without renewal'
complete -c tbucket -n '__tbucket_using run' -l on-lost -x -a 'term keep' -d 'When the lease is lost'
complete -c tbucket -n '__tbucket_using run' -l kill-after -x -a '1s 5s 30s' -d 'SIGKILL after SIGTERM on a lost lease'
complete -c tbucket -n '__tbucket_using run lease' -l note -x -d 'A few words on what holds the lease'
complete -c tbucket -n '__tbucket_using run' -l consume -d 'Take the tokens for good and exec the command'
complete -c tbucket -n '__tbucket_using lease' -l ttl -x -a $durations -d 'How long the lease lives without renewal'
complete -c tbucket -n '__tbucket_using lease' -l wait -a $durations -d 'Wait for the tokens, forever or up to a duration'
complete -c tbucket -n '__tbucket_using lease' -l capacity -x -d 'Create a missing bucket with this capacity'
complete -c tbucket -n '__tbucket_using put' -l force -d 'Let the level exceed the capacity'
complete -c tbucket -n '__tbucket_using watch' -l wait -x -a $durations -d 'Give up after this long'
complete -c tbucket -n '__tbucket_using watch' -l timeout -x -a $durations -d 'Give up after this long (as --wait)'
complete -c tbucket -n '__tbucket_using watch' -l take -d 'Take the tokens in the same step'
complete -c tbucket -n '__tbucket_using watch' -l follow -d 'Print the state now and after every change'
complete -c tbucket -n '__tbucket_using reset' -l tokens -x -d 'The new level (default: full)'
complete -c tbucket -n '__tbucket_using info list' -l format -x -a 'text json prometheus' -d 'Output format'
complete -c tbucket -n '__tbucket_using top' -l sort -x -a 'n\tname l\tlevel g\tgrants/s d\tdenials/s' -d 'Sort key'
complete -c tbucket -n '__tbucket_using top' -s d -x -a '0.5 1 2 5' -d 'Seconds between refreshes'
complete -c tbucket -n '__tbucket_using top' -s n -x -d 'Refresh this many times, then exit'
complete -c tbucket -n '__tbucket_using list' -l scan -d 'Find buckets with SCAN, not the index of names'

# Bucket names
complete -c tbucket -n '__tbucket_at_name create take put watch run reset list top' -a '(__tbucket_buckets)' -d Bucket
complete -c tbucket -n '__tbucket_using info delete' -a '(__tbucket_buckets)' -d Bucket
complete -c tbucket -n __tbucket_at_take_count -x -a all -d 'Every whole token there is'
complete -c tbucket -n '__tbucket_at_lease_arg 0' -x -a 'take renew release list' -d 'Lease action'
complete -c tbucket -n '__tbucket_at_lease_arg 1' -x -a '(__tbucket_buckets)' -d Bucket
complete -c tbucket -n __tbucket_at_lease_id -x -a '(__tbucket_lease_ids)'

# The command that run runs
complete -c tbucket -n __tbucket_in_run_command -x -a '(__tbucket_run_command)'
