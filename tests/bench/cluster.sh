#!/bin/bash
# tests/bench/cluster.sh — the clustered inbound rate, printed by `make bench`
# beside the single-host one (parley-cluster(7)).  On this machine it starts
# what the t_cluster tests start (tests/integration/lib_cluster.sh): three
# nats-server nodes in a JetStream cluster (R3 streams), shards s1 and s2
# (routerd, campaignd, statsd each) and the edge (smsd, sandboxd), then
# posts BENCH_CL_N (10,000) signed Twilio webhooks, half to each shard's
# number, over BENCH_IN_C (64) kept-alive connections, and reports:
#   acked:  the rate at which smsd answered 200 — here after JetStream's
#           acknowledgement from the replicated stream (not routerd's
#           commit, as on one host);
#   stored: the rate until both shards' routerd had stored every message
#           (fetched, committed with fsync, acknowledged);
#   CPU:    the CPU each process spent per message (smsd, each routerd,
#           each NATS node).
# Everything — three NATS nodes, two shards, the edge and the load
# generator — shares this machine's cores, so the rate is below the
# single-host one; parley-cluster(7) explains on paper how it grows with
# hosts.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/../integration/lib.sh"
T_PLAN=none		# not a TAP file
command -v nats-server >/dev/null 2>&1 ||
    { echo "cluster   skipped: nats-server is not installed"; exit 0; }
. "$(dirname "$0")/../integration/lib_cluster.sh"

N=${BENCH_CL_N:-10000}
C=${BENCH_IN_C:-64}
LIMIT=${BENCH_TIMEOUT:-300}
TMPDIR=${BENCH_TMPDIR:-$PARLEY_SRC/build}
mkdir -p "$TMPDIR" && export TMPDIR
LG=$PARLEY_TOOLS/loadgen
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_ticks() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	set -- $s
	echo $(( ${12} + ${13} ))
}

cluster_start >&2
PROCS="smsd:$CL_PID_edge_smsd routerd-s1:$CL_PID_s1_routerd routerd-s2:$CL_PID_s2_routerd nats-n1:${NATS_PID[1]} nats-n2:${NATS_PID[2]} nats-n3:${NATS_PID[3]}"
declare -A T0 LGP
for np in $PROCS; do T0[${np%%:*}]=$(cpu_ticks "${np#*:}"); done
stored() { shard_in "$1" | jq -r 'select(.text|startswith("load ")) | .pid' | wc -l; }

echo "parley bench: clustered inbound ($N webhooks, $C connections, 2 shards, 3 NATS nodes)" >&2
t0=$(now_ms)
for s in A B; do
	to=CL_ADDR_$s
	timeout $((LIMIT + 30)) "$LG" inbound -u "$SMSD_URL/twilio/inbound" \
	    --sig-url "$WEBHOOK_BASE/twilio/inbound" -t "$TOKEN_FILE" \
	    --account "$ACCOUNT_SID" -n $((N / 2)) -c $((C / 2)) \
	    --from-base +155530000$([ $s = A ] && echo 0 || echo 5) \
	    --to "${!to}" --prefix "clbench-$s-$$" --timeout "$LIMIT" \
	    >"$T_HOME/lg.$s" 2>"$T_HOME/lg.$s.err" &
	LGP[$s]=$!
done
wait "${LGP[A]}"; ra=$?
wait "${LGP[B]}"; rb=$?
t_ack=$(now_ms)
limit=$(( t0 + LIMIT * 1000 ))
while [ $(( $(stored s1) + $(stored s2) )) -lt $((N / 2 * 2)) ] &&
    [ "$(now_ms)" -lt "$limit" ]; do
	sleep 0.5
done
t_st=$(now_ms)
got=$(( $(stored s1) + $(stored s2) ))
ok_a=$(jq -r '.ok // 0' "$T_HOME/lg.A" 2>/dev/null); ok_b=$(jq -r '.ok // 0' "$T_HOME/lg.B" 2>/dev/null)
p50=$(jq -r '.p50_ms // "?"' "$T_HOME/lg.A" 2>/dev/null)
p99=$(jq -r '.p99_ms // "?"' "$T_HOME/lg.A" 2>/dev/null)
sleep 1
cpu=""
tot=0
for np in $PROCS; do
	name=${np%%:*}
	d=$(( $(cpu_ticks "${np#*:}") - ${T0[$name]} ))
	us=$(awk -v d="$d" -v hz="$HZ" -v n="$N" 'BEGIN { printf "%.0f", d * 1e6 / hz / n }')
	tot=$((tot + us))
	cpu="$cpu${cpu:+ + }$name $us"
done
awk -v n="$N" -v ok=$((ok_a + ok_b)) -v got="$got" -v ta=$((t_ack - t0)) \
    -v ts=$((t_st - t0)) -v p50="$p50" -v p99="$p99" 'BEGIN {
	printf "cluster   inbound %d webhooks: %d answered 200 (JetStream ack) at %.0f/s (p50 %s ms, p99 %s ms); %d stored by the shards at %.0f/s\n",
	    n, ok, ok * 1000 / (ta > 0 ? ta : 1), p50, p99, got, got * 1000 / (ts > 0 ? ts : 1) }'
echo "          CPU per message: $cpu = $tot µs/msg (2 shards, 3 NATS nodes, R3, on this one machine)"
[ "$ra" = 0 ] && [ "$rb" = 0 ] && [ "$got" -ge "$N" ] ||
    echo "          (incomplete: loadgen exits $ra/$rb, $got of $N stored)"
exit 0
