#!/bin/bash
# The issue's restart scenario, N times: a holder of a capacity-1 semaphore
# (lease 4s) runs a deploy of 8 s that logs start/end under flock; the
# server is killed (no persistence) and started again; a second run loops
# trying to get the slot. Checks: never two deploys at once; the first one
# finishes; the loss is named and counted. From the repository root:
#   BUILD=build bash bench/restart_scenario.sh [ROUNDS]  (needs redis-server, flock, jq)
# The holder runs with TBUCKET_RESTART_GRACE=0: the server it starts on
# stands for one that has run longer than the grace.
B=${BUILD:-build}
N=${1:-20}
dir=$(mktemp -d)
port=$($B/lib_bench 0 port)
start() { redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --daemonize no --logfile $dir/redis.log & echo $! > $dir/pid; until redis-cli -p $port ping >/dev/null 2>&1; do sleep 0.02; done; }
U=redis://127.0.0.1:$port
cat > $dir/deploy.sh <<'EOS'
#!/bin/sh
log=$1; who=$2
flock "$log.lock" sh -c "echo start $who \$(date +%s.%N) >> $log"
sleep 8
flock "$log.lock" sh -c "echo end $who \$(date +%s.%N) >> $log"
EOS
chmod +x $dir/deploy.sh
ok=0; finished=0; named=0; counted=0
for round in $(seq $N); do
    start
    log=$dir/log.$round; : > $log
    TBUCKET_RESTART_GRACE=0 $B/tbucket -u $U run deploys --capacity 1 --lease 4s -- $dir/deploy.sh $log first 2> $dir/first.err &
    first=$!
    until grep -q "start first" $log; do sleep 0.05; done
    # newcomers keep trying, from before the restart to after the first ends
    ( for i in $(seq 200); do $B/tbucket -u $U -q run deploys --capacity 1 --lease 4s -- $dir/deploy.sh $log second-$i; sleep 0.05; [ -e $dir/stop ] && break; done ) &
    loop=$!
    sleep 1
    kill -9 $(cat $dir/pid); wait $(cat $dir/pid) 2>/dev/null
    sleep 0.5
    start
    wait $first; rc=$?
    touch $dir/stop; wait $loop; rm -f $dir/stop
    sleep 0.2
    # overlap: at any time more than one started and not ended
    over=$(sort -k3 -n $log | awk '$1=="start"{n++; if(n>m)m=n} $1=="end"{n--} END{print m+0}')
    [ "$over" -le 1 ] && ok=$((ok+1))
    [ $rc -eq 0 ] && grep -q "end first" $log && finished=$((finished+1))
    grep -q "Redis lost its data" $dir/first.err && named=$((named+1))
    [ "$($B/tbucket -u $U --json info deploys | jq .counters.data_losses)" -ge 1 ] && counted=$((counted+1))
    echo "round $round: most at once $over, first exit $rc, $(grep -c start $log) deploys started"
    kill $(cat $dir/pid); wait $(cat $dir/pid) 2>/dev/null
done
echo "never two at once: $ok/$N; first deploy finished: $finished/$N; loss named: $named/$N; counted: $counted/$N"
rm -rf $dir
