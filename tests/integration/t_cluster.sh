#!/bin/bash
# t_cluster — two campaigns on two shards over a real three-node NATS
# JetStream cluster (parley-cluster(7)): smsd publishes each signed inbound
# webhook to the shard that owns its address's campaign and answers 200
# only once JetStream stored it; each shard's routerd stores only its own;
# a provider's retry of the same MessageSid is stored once.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cluster.sh"

plan 16
cluster_start

SA=$(sm_sid) SB=$(sm_sid)
is "$(sms_in "$SA" +15551110001 "$CL_ADDR_A" "for sales")" 200 \
    "a webhook for sales' number is answered 200 (stored in JetStream)"
is "$(sms_in "$SB" +15551110002 "$CL_ADDR_B" "for support")" 200 \
    "a webhook for support's number is answered 200"
is "$(sms_in "$SA" +15551110001 "$CL_ADDR_A" "for sales")" 200 \
    "Twilio's retry of the same MessageSid is answered 200 too"

wait_for 20 bash -c "$(declare -f shard_in shard_msg shard_home); S1=$S1 S2=$S2; shard_in s1 | grep -q $SA" ||
    cl_diag
in1=$(shard_in s1) in2=$(shard_in s2)
is "$(jq -r 'select(.pid=="'"$SA"'") | .addr' <<<"$in1")" "$CL_ADDR_A" \
    "shard s1 stored the sales message"
is "$(grep -c "$SA" <<<"$in1")" 1 "once, the retry deduplicated"
wait_for 20 bash -c "$(declare -f shard_in shard_msg shard_home); S1=$S1 S2=$S2; shard_in s2 | grep -q $SB"
in2=$(shard_in s2)
is "$(jq -r 'select(.pid=="'"$SB"'") | .addr' <<<"$in2")" "$CL_ADDR_B" \
    "shard s2 stored the support message"
is "$(grep -c "$SB" <<<"$in1")" 0 "shard s1 did not store support's"
is "$(grep -c "$SA" <<<"$in2")" 0 "shard s2 did not store sales'"

# whatsappd too: a notification for support's phone-number id goes to s2
WAMID=$(wamid)
is "$(wa_post "$(wa_text 15551110003 "$CL_WA_PNID" "$WAMID" "wa for support")")" 200 \
    "whatsappd answers a signed notification 200 once JetStream has it"
wait_for 20 bash -c "$(declare -f shard_in shard_msg shard_home); S1=$S1 S2=$S2; shard_in s2 | grep -q '$WAMID'"
is "$(shard_in s2 | jq -r 'select(.pid=="'"$WAMID"'") | .channel')" whatsapp \
    "shard s2 stored the WhatsApp message"

# msg -S CAMPAIGN / -s SHARD: the shard's parley.conf from nats_shard_confs
is "$(msg -S support inbox </dev/null 2>/dev/null | jq -r 'select(.contact=="+15551110002") | .addr')" \
    "$CL_ADDR_B" "msg -S support asks the shard that owns support (s2)"
is "$(msg -s s1 inbox </dev/null 2>/dev/null | jq -r 'select(.contact=="+15551110001") | .addr')" \
    "$CL_ADDR_A" "msg -s s1 asks shard s1"
msg -s s9 inbox </dev/null >/dev/null 2>&1
is "$?" 2 "msg -s with a shard nats_shard_confs does not name is a usage error"

# msg stats --shards: each shard's snapshot tagged, the system lines summed
wait_for 20 bash -c "PARLEY_CONF=$S1/parley.conf msg stats | grep -q '\"conversations\":2'"
wait_for 20 bash -c "PARLEY_CONF=$S2/parley.conf msg stats | grep -q '\"conversations\":3'"
st=$(msg stats --shards "$S1/parley.conf,$S2/parley.conf" 2>&1)
c1=$(jq -r 'select(.type=="system" and .shard=="s1") | .conversations' <<<"$st")
c2=$(jq -r 'select(.type=="system" and .shard=="s2") | .conversations' <<<"$st")
is "$c1/$c2" "2/3" "msg stats --shards shows each shard's system line (2 and 3 conversations)"
is "$(jq -r 'select(.type=="system" and .shard=="*") | .conversations' <<<"$st")" 5 \
    "and one summing them"
is "$(jq -r 'select(.type=="sync") | .type' <<<"$st")" sync "ending with one sync line"
[ "$T_FAILED" -gt 0 ] && cl_diag
done_testing
