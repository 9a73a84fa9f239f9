#!/bin/bash
# The issue's failover scenario: a primary, its replica and three Sentinels
# on loopback; 6 shells each run `tbucket run sem --lease 3s --wait 60s --
# critical.sh` 40 times on a capacity-3 semaphore, critical.sh logging its
# start, end and fence under flock; meanwhile the primary fails and the
# Sentinels promote the replica. From the repository root:
#   BUILD=build [RUNS=40] [CRIT=0.3] [LEASE=3s] [FAULT_AT=3] bash bench/sentinel_scenario.sh MODE [--durable]
# (RUNS per shell; CRIT: seconds each critical section lasts; LEASE: run's --lease); FAULT_AT: seconds
# into the load the fault comes)
# MODE: kill   the primary is SIGKILLed
#       stop   the primary is SIGSTOPped for 4 s (past down-after, 1 s), then
#              goes on, and is turned into a replica by the Sentinels
#       lag    the replica is paused (CLIENT PAUSE 2000 ALL) and misses the
#              writes of the next 1.5 s, when the primary is SIGKILLed
# After a kill the old primary starts again, empty, and the Sentinels make
# it a replica of the new one (so that --durable has a replica again).
# Prints the most holders at once, the runs' exit codes, the bucket at the
# end, and fences that went backwards. Needs redis-server, redis-cli, flock, jq.
set -u
B=${BUILD:-build}
mode=${1:?kill, stop or lag}
durable=${2:-}
dir=$(mktemp -d)
port() { $B/lib_bench 0 port; }
P=$(port); R=$(port); S1=$(port); S2=$(port); S3=$(port)
pids=()
server() {  # port, extra args...
    local p=$1; shift
    redis-server --port $p --bind 127.0.0.1 --save '' --appendonly no --dir $dir \
        --logfile $dir/$p.log --repl-diskless-sync-delay 0 "$@" &
    echo $! > $dir/$p.pid; disown $!
    until redis-cli -p $p ping >/dev/null 2>&1; do sleep 0.02; done
}
server $P
server $R --replicaof 127.0.0.1 $P
for s in $S1 $S2 $S3; do
    printf 'sentinel monitor main 127.0.0.1 %s 2\nsentinel down-after-milliseconds main 1000\nsentinel failover-timeout main 4000\n' $P > $dir/s$s.conf
    redis-server $dir/s$s.conf --sentinel --port $s --bind 127.0.0.1 --dir $dir --logfile $dir/$s.log &
    echo $! > $dir/$s.pid; disown $!
done
for s in $S1 $S2 $S3; do
    until [ "$(redis-cli -p $s sentinel sentinels main 2>/dev/null | grep -c '^name$')" = 2 ] &&
          [ "$(redis-cli -p $s sentinel replicas main 2>/dev/null | grep -c '^name$')" = 1 ]; do sleep 0.2; done
done
redis-cli -p $P wait 1 10000 >/dev/null
U=redis-sentinel://127.0.0.1:$S1,127.0.0.1:$S2,127.0.0.1:$S3/main
export TBUCKET_RESTART_GRACE=0  # the servers stand for ones that have run for long
$B/tbucket -u $U create sem --capacity 3 >/dev/null
cat > $dir/critical.sh <<'EOS'
#!/bin/bash
log=$1
flock "$log.lock" sh -c "echo start $TBUCKET_FENCE \$(date +%s.%N) >> $log"
trap 'flock "$log.lock" sh -c "echo end $TBUCKET_FENCE \$(date +%s.%N) killed >> $log"; exit 143' TERM
sleep $CRIT & wait $!
flock "$log.lock" sh -c "echo end $TBUCKET_FENCE \$(date +%s.%N) >> $log"
EOS
chmod +x $dir/critical.sh
export CRIT=${CRIT:-0.3}
log=$dir/log; : > $log
for shell in 1 2 3 4 5 6; do
    ( for i in $(seq ${RUNS:-40}); do
          $B/tbucket -u $U $durable run sem --lease ${LEASE:-3s} --wait 60s -- $dir/critical.sh $log 2>> $dir/err.$shell
          echo $? >> $dir/codes
      done ) &
    shells+=($!)
done
sleep ${FAULT_AT:-3}  # into the load
primary_is() { [ "$(redis-cli -p $S1 sentinel get-master-addr-by-name main | tail -1)" = "$1" ]; }
t0=$(date +%s.%N)
case $mode in
kill)
    kill -9 $(cat $dir/$P.pid) ;;
stop)
    kill -STOP $(cat $dir/$P.pid)
    sleep 4
    kill -CONT $(cat $dir/$P.pid) ;;
lag)
    # Paused, the replica does not read the replication stream, and what
    # was sent meanwhile is dropped with the primary's connection (a
    # SIGSTOP would not do: the kernel keeps the bytes for it).
    redis-cli -p $R client pause 2000 all >/dev/null
    sleep 1.5
    kill -9 $(cat $dir/$P.pid) ;;
esac
until primary_is $R; do sleep 0.1; done
t1=$(date +%s.%N)
[ $mode != stop ] && server $P
wait "${shells[@]}"
over=$(sort -k3 -n $log | awk '$1=="start"{n++; if(n>m)m=n} $1=="end"{n--} END{print m+0}')
backwards=$(awk '$1=="start"{print $3, $2}' $log | sort -n |
            awk '{ if (NR > 1 && $2 <= max && $1 - at[max] > 0.2) b++; if ($2 > max) { max = $2; at[max] = $1 } } END { print b+0 }')
dup=$(awk '$1=="start"{print $2}' $log | sort | uniq -d | wc -l)
echo "mode $mode ${durable:-(not durable)}, ${RUNS:-40} runs × 6 shells of ${CRIT}s, lease ${LEASE:-3s}: failover took $(echo "$t1 - $t0" | bc) s"
echo "  runs: $(wc -l < $dir/codes); exit codes: $(sort -n $dir/codes | uniq -c | awk '{printf "%s×%s ", $1, $2}')"
echo "  critical sections: $(grep -c '^start' $log) started, $(grep -c 'killed' $log) ended by SIGTERM"
echo "  most holders at once: $over (capacity 3)"
echo "  fences: $dup repeated, $backwards went backwards (a start >0.2 s after a higher fence's)"
echo "  at the end: $($B/tbucket -u $U --json info sem | jq -c '{tokens, leased, leases, waiters, node, losses: .counters.data_losses}')"
grep -h "" $dir/err.* | sed 's/[0-9]\{10,\}/N/g; s/127.0.0.1:[0-9]*/ADDR/g' | sort | uniq -c | sort -rn | head -5
for f in $dir/*.pid; do kill -9 $(cat $f) 2>/dev/null; done
wait 2>/dev/null
[ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf $dir
