#!/bin/bash
# t_sms_reply — an agent's reply with `msg send` reaches the provider
# (sandboxd) with Twilio's parameters and basic auth, and its life shows in
# `msg tail`: queued, sent with the provider's sid, delivered.  Also: starting
# a conversation with --to/--from, msg send as a filter over JSON lines, and
# refusals (bad number, unknown conversation) with exit 1.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 31
stack_start

CUST=+15551230101
OURS=+15557654321

sb_sms "$CUST" "$OURS" "hello, anyone there?" >/dev/null
rec=$(wait_event 15 ".type==\"message\" and .dir==\"in\" and .contact==\"$CUST\"") ||
    bail "the customer's SMS never reached msg tail"
CONV=$(jq -r .conv <<<"$rec")

# --- msg send --conv
exits 0 "msg send --conv CONV TEXT exits 0" msg send --conv "$CONV" "Yes, how can I help?"
diag "msg send printed: $T_OUT"
got=$(wait_sb 15 'p("Body")=="Yes, how can I help?"') ||
    diag "sandboxd never received the reply; it has:" "$(sb_get /sandbox/received | tail -n 5)"
got=$(head -n 1 <<<"$got")
diag "sandboxd received: $got"
is "$(jq -r "$JQ_DEFS p(\"To\")" <<<"$got")" "$CUST" "API To is the customer"
is "$(jq -r "$JQ_DEFS p(\"From\")" <<<"$got")" "$OURS" "API From is our number"
is "$(jq -r "$JQ_DEFS p(\"StatusCallback\")" <<<"$got")" "$WEBHOOK_BASE/twilio/status" \
    "API StatusCallback is twilio_webhook_url/twilio/status"
is "$(jq -r '.auth // empty' <<<"$got")" ok "basic auth with the account sid and token was accepted"
like "$(jq -r '.path // .url // empty' <<<"$got")" \
    "/2010-04-01/Accounts/$ACCOUNT_SID/Messages.json\$" "the Messages API path of our account"
like "$(jq -r '.answer // empty' <<<"$got")" '^20[01]$' \
    "sandboxd answered the creation with 2xx"

out=$(wait_event 15 ".type==\"message\" and .dir==\"out\" and .conv==\"$CONV\"") || out='{}'
MID=$(jq -r '.id // empty' <<<"$out")
like "$MID" '^m_' "msg tail shows the outbound message"
is "$(jq -r '.status // empty' <<<"$out")" queued "its first event is queued"
is "$(jq -r '.text // empty' <<<"$out")" "Yes, how can I help?" "with the text"
is "$(jq -r '.contact // empty' <<<"$out")" "$CUST" "to the customer"
sent=$(wait_event 15 ".type==\"status\" and .id==\"$MID\" and .status==\"sent\"") || sent='{}'
like "$(jq -r '.pid // empty' <<<"$sent")" '^SM[0-9a-f]{32}$' "status sent carries the Twilio sid"
is "$(jq -r '.pid // empty' <<<"$sent")" "$(jq -r '.sid // empty' <<<"$got")" \
    "the sid is the one the API answered"
dl=$(wait_event 15 ".type==\"status\" and .id==\"$MID\" and .status==\"delivered\"") || dl='{}'
is "$(jq -r '.status // empty' <<<"$dl")" delivered "the status callback makes it delivered"
is "$(jq -r '.conv // empty' <<<"$dl")" "$CONV" "status events name the conversation"
s_seq=$(jq -r '.seq // 0' <<<"$sent"); d_seq=$(jq -r '.seq // 0' <<<"$dl")
[ "$s_seq" -gt 0 ] && [ "$d_seq" -gt "$s_seq" ] && pass "sent comes before delivered" ||
    fail "sent comes before delivered" "sent seq $s_seq, delivered seq $d_seq"
is "$(count_events ".type==\"status\" and .id==\"$MID\" and .status==\"delivered\"")" 1 \
    "delivered is recorded once"

# --- msg send --to / --from starts a conversation
NEW=+15551230102
exits 0 "msg send --to sms:+E164 --from +E164 TEXT exits 0" \
    msg send --to "sms:$NEW" --from "$OURS" "We have news for you"
got=$(wait_sb 15 'p("Body")=="We have news for you"') || got='{}'
is "$(jq -r "$JQ_DEFS p(\"To\")" <<<"$got" | head -n 1)" "$NEW" "the new contact gets it"
o2=$(wait_event 15 '.type=="message" and .dir=="out" and .text=="We have news for you"') || o2='{}'
c2=$(jq -r '.conv // empty' <<<"$o2")
[ -n "$c2" ] && [ "$c2" != "$CONV" ] && pass "a new conversation is opened" ||
    fail "a new conversation is opened" "conv: '$c2'"
is "$(jq -r '.contact // empty' <<<"$o2")" "$NEW" "the new conversation's contact"
is "$(jq -r '.addr // empty' <<<"$o2")" "$OURS" "the new conversation's address"

# --- msg send as a filter
ln1=$(jq -nc --arg c "$CONV" '{conv:$c,text:"filter one"}')
ln2=$(jq -nc --arg c "$CONV" '{conv:$c,text:"filter two"}')
printf '%s\n%s\n' "$ln1" "$ln2" | msg send >/dev/null 2>&1; rc=$?
is "$rc" 0 "msg send reading {conv,text} lines exits 0"
got=$(wait_sb 15 'p("Body")=="filter one" or p("Body")=="filter two"' 2) || true
is "$(grep -c . <<<"$got")" 2 "both filtered lines reach sandboxd"
is "$(count_events '.type=="message" and .dir=="out" and (.text=="filter one" or .text=="filter two")')" 2 \
    "both are in the event log"

# --- refusals
exits 1 "a bad E.164 number is refused with exit 1" \
    msg send --to sms:12345 --from "$OURS" "nope"
is "$(grep -c . <<<"$T_ERR")" 1 "with a one-line reason on stderr"
exits 1 "an unknown conversation is refused with exit 1" \
    msg send --conv c_00000000000000000000000000 "nope"
exits 2 "msg send --conv with no value is a usage error (exit 2)" \
    msg send --conv
is "$(count_events '.type=="message" and .text=="nope"')" 0 "nothing refused was stored"
is "$(sb_msgs 'p("Body")=="nope"' | grep -c .)" 0 "nothing refused was sent"

done_testing
