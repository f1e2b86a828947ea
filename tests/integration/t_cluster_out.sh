#!/bin/bash
# t_cluster_out — outbound through NATS JetStream (parley-cluster(7)): an
# agent's reply on shard s1 is dispatched over the PARLEY_OUT stream to smsd
# on the edge, reaches sandboxd exactly as over a socket (Twilio's
# parameters, basic auth, the Messages API path), and its result and
# Twilio's status callback come back to s1 only: sent with the sid, then
# delivered, once.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cluster.sh"

plan 12
cluster_start

CUST=+15551230101
sb_sms "$CUST" "$CL_ADDR_A" "hello, anyone there?" >/dev/null
wait_for 20 bash -c "$(declare -f shard_in shard_msg shard_home); S1=$S1 S2=$S2; shard_in s1 | grep -q 'anyone there'" ||
    { cl_diag; bail "the customer's SMS never reached shard s1"; }
CONV=$(shard_in s1 | jq -r 'select(.text=="hello, anyone there?") | .conv')

shard_msg s1 send --conv "$CONV" "Yes, how can I help?" >/dev/null 2>&1
is "$?" 0 "msg send on shard s1 exits 0"
got=$(wait_sb 20 'p("Body")=="Yes, how can I help?"') ||
    diag "sandboxd never received the reply; it has:" "$(sb_get /sandbox/received | tail -n 5)"
got=$(head -n 1 <<<"$got")
is "$(jq -r "$JQ_DEFS p(\"To\")" <<<"$got")" "$CUST" "API To is the customer"
is "$(jq -r "$JQ_DEFS p(\"From\")" <<<"$got")" "$CL_ADDR_A" "API From is our number"
is "$(jq -r "$JQ_DEFS p(\"StatusCallback\")" <<<"$got")" "$WEBHOOK_BASE/twilio/status" \
    "API StatusCallback is twilio_webhook_url/twilio/status"
is "$(jq -r '.auth // empty' <<<"$got")" ok "basic auth accepted"
like "$(jq -r '.path // .url // empty' <<<"$got")" \
    "/2010-04-01/Accounts/$ACCOUNT_SID/Messages.json\$" "the Messages API path"

ev() { shard_msg "$1" tail --since 1 </dev/null 2>/dev/null | jq -c "select($2)"; }
out=$(ev s1 '.type=="message" and .dir=="out"')
MID=$(jq -r '.id // empty' <<<"$out" | head -n 1)
like "$MID" '^m_' "shard s1 has the outbound message"
wait_for 20 bash -c "$(declare -f shard_msg shard_home ev); S1=$S1 S2=$S2; ev s1 '.type==\"status\" and .id==\"$MID\" and .status==\"sent\"' | grep -q ." 
sent=$(ev s1 ".type==\"status\" and .id==\"$MID\" and .status==\"sent\"")
is "$(jq -r '.pid // empty' <<<"$sent")" "$(jq -r '.sid // empty' <<<"$got")" \
    "status sent (the result over NATS) carries the sid the API answered"
wait_for 20 bash -c "$(declare -f shard_msg shard_home ev); S1=$S1 S2=$S2; ev s1 '.type==\"status\" and .id==\"$MID\" and .status==\"delivered\"' | grep -q ."
is "$(ev s1 ".type==\"status\" and .id==\"$MID\" and .status==\"delivered\"" | wc -l)" 1 \
    "Twilio's status callback makes it delivered on s1, once"
is "$(ev s2 '.type=="message" and .dir=="out"' | wc -l)" 0 "shard s2 sent nothing"
is "$(sb_get /sandbox/received | jq -c "$JQ_DEFS"' select(p("Body")=="Yes, how can I help?")' 2>/dev/null | wc -l)" 1 \
    "the provider received it once"
is "$(ev s2 ".id==\"$MID\"" | wc -l)" 0 "shard s2 recorded nothing of it"
[ "$T_FAILED" -gt 0 ] && cl_diag
done_testing
