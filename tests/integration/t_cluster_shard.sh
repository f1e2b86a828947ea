#!/bin/bash
# t_cluster_shard — a shard's routerd killed (SIGKILL): webhooks for its
# campaign are still answered 200, because JetStream (R3) holds them; they
# wait in the shard's stream and are stored once each when routerd comes
# back (what it had fetched and not acknowledged is delivered again and
# deduplicated by MessageSid).  The other shard is not affected meanwhile.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cluster.sh"

N=50
plan 7
cluster_start

shard_kill s1
ok "shard s1's routerd is gone" bash -c "! PARLEY_CONF=$S1/parley.conf msg ping -q -w 1 routerd"
codes=""
for i in $(seq 1 $N); do
	codes+="$(sms_in "SMwait$(printf %026d "$i")" +15552220000 "$CL_ADDR_A" "wait $i") "
	codes+="$(sms_in "SMlive$(printf %026d "$i")" +15552220001 "$CL_ADDR_B" "live $i") "
done
is "$(tr ' ' '\n' <<<"$codes" | grep -c '^200$')" $((2 * N)) \
    "all $((2 * N)) webhooks answered 200 while s1's routerd is down"
cnt() { shard_in "$1" | jq -r "select(.text|startswith(\"$2 \")) | .pid" | sort -u | wc -l; }
is "$(cnt s2 live)" "$N" "shard s2 stored its $N meanwhile"
is "$(cnt s1 wait 2>/dev/null || echo 0)" 0 "nothing of s1's is stored while its routerd is down"

shard_routerd s1
wait_for 60 bash -c "$(declare -f shard_in shard_msg shard_home cnt); S1=$S1 S2=$S2; [ \$(cnt s1 wait) -ge $N ]"
is "$(cnt s1 wait)" "$N" "the restarted routerd stored the $N that waited in the stream"
is "$(shard_in s1 | jq -r 'select(.text|startswith("wait ")) | .pid' | wc -l)" "$N" \
    "each once"
is "$(cnt s2 wait)" 0 "none of them went to s2"
[ "$T_FAILED" -gt 0 ] && cl_diag
done_testing
