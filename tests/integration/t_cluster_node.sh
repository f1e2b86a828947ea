#!/bin/bash
# t_cluster_node — one of the three NATS nodes killed (SIGKILL) during a
# burst of 2,000 signed webhooks (loadgen --retry posts each again until it
# is answered 200, as a provider retries), then started again: once all is
# back exactly 2,000 distinct messages are stored on the shard, none lost
# (each 200 followed a JetStream acknowledgement from a replicated stream)
# and none duplicated (Nats-Msg-Id within the stream's window, MessageSid
# in routerd).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cluster.sh"

N=${CRASH_N:-2000}
plan 6
[ -x "$PARLEY_TOOLS/loadgen" ] || bail "$PARLEY_TOOLS/loadgen is not built"
cluster_start

LG_OUT=$T_HOME/loadgen.out
"$PARLEY_TOOLS/loadgen" inbound -u "$SMSD_URL/twilio/inbound" \
    --sig-url "$WEBHOOK_BASE/twilio/inbound" -t "$TOKEN_FILE" \
    --account "$ACCOUNT_SID" -n "$N" -c 8 --from-base +1555200000 \
    --to "$CL_ADDR_A" --prefix node-in --retry --timeout 240 \
    >"$LG_OUT" 2>"$T_HOME/loadgen.err" &
LG=$!
bg_track "$LG"

stored() { shard_in s1 | jq -r 'select(.text|startswith("load ")) | .pid' | wc -l; }
wait_for 120 bash -c "$(declare -f shard_in shard_msg shard_home stored); S1=$S1 S2=$S2; [ \$(stored) -ge $((N / 10)) ]" ||
    { cl_diag; bail "fewer than $((N / 10)) stored after 120 s"; }
[ -s "$LG_OUT" ] && running=no || running=yes
nats_kill 1
is "$running" yes "loadgen was still posting when NATS node n1 got SIGKILL"
diag "stored before the kill: $(stored) of $N"
sleep 3
nats_start 1

wait_for 260 test -s "$LG_OUT" || kill -TERM "$LG"
wait "$LG"; rc=$?
bg_untrack "$LG"
sum=$(tail -n 1 "$LG_OUT")
diag "loadgen: $sum"
is "$rc" 0 "loadgen got a 200 for every one of the $N webhooks"
wait_for 120 bash -c "$(declare -f shard_in shard_msg shard_home stored); S1=$S1 S2=$S2; [ \$(stored) -ge $N ]"
msgs=$(shard_in s1 | jq -r 'select(.text|startswith("load ")) | [.pid, .text] | @tsv')
is "$(grep -c . <<<"$msgs")" "$N" "exactly $N inbound messages on shard s1"
is "$(cut -f1 <<<"$msgs" | sort -u | grep -c .)" "$N" "$N distinct MessageSids: none duplicated"
missing=$(comm -13 <(cut -f2 <<<"$msgs" | sort -u) \
    <(seq 0 $((N - 1)) | sed 's/^/load /' | sort))
is "$(grep -c . <<<"$missing")" 0 "every 'load 0' .. 'load $((N - 1))' is there: none lost"
is "$(shard_in s2 | grep -c '"load ')" 0 "none went to shard s2"
[ "$T_FAILED" -gt 0 ] && cl_diag
done_testing
