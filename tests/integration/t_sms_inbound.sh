#!/bin/bash
# t_sms_inbound — a simulated customer's SMS, sent by sandboxd exactly as
# Twilio would (signed form POST to smsd), is stored by routerd and shows up
# in `msg tail` with every field an agent or a script relies on, opens a
# conversation that `msg inbox` lists as waiting, and reads back with
# `msg transcript`.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 27
stack_start

CUST=+15551230001
OURS=+15557654321
TEXT="Where is my order? Où est ma commande 📦"
RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'

out=$(sb_sms "$CUST" "$OURS" "$TEXT")
is "$(head -n 1 <<<"$out" | jq -r '.status // empty' 2>/dev/null)" 200 \
    "smsd answers the simulated customer's signed webhook 200"

rec=$(wait_event 15 ".type==\"message\" and .dir==\"in\" and .contact==\"$CUST\"") ||
    bail "no inbound message from $CUST in msg tail after 15s"
diag "record: $rec"
f() { jq -r "$1 // empty" <<<"$rec"; }
is "$(f .text)" "$TEXT" "text arrives intact (UTF-8, punctuation)"
is "$(f .channel)" sms "channel is sms"
is "$(f .contact)" "$CUST" "contact is the sender's number"
is "$(f .addr)" "$OURS" "addr is our number"
is "$(f .campaign)" default "campaign is default"
like "$(f .conv)" '^c_[0-9A-HJKMNP-TV-Z]{26}$' "conv is a c_ ULID"
like "$(f .id)" '^m_[0-9A-HJKMNP-TV-Z]{26}$' "id is an m_ ULID"
like "$(f .pid)" '^SM[0-9a-f]{32}$' "pid is the Twilio MessageSid"
like "$(f .seq)" '^[1-9][0-9]*$' "seq is a positive integer"
like "$(f .ts)" "$RFC3339" "ts is RFC 3339 UTC with milliseconds"
is "$(jq -r 'keys_unsorted[0]' <<<"$rec")" seq "seq comes first on the line"
CONV=$(f .conv)

is "$(count_events ".type==\"conv\" and .conv==\"$CONV\"")" 1 \
    "one conv event opened the conversation"

# A second message from the same customer stays in the conversation; another
# customer gets a conversation of their own.
sb_sms "$CUST" "$OURS" "second message" >/dev/null
sb_sms +15551230002 "$OURS" "another customer" >/dev/null
rec2=$(wait_event 15 '.type=="message" and .text=="second message"') || rec2='{}'
rec3=$(wait_event 15 '.type=="message" and .text=="another customer"') || rec3='{}'
is "$(jq -r .conv <<<"$rec2")" "$CONV" "same customer, same conversation"
c3=$(jq -r .conv <<<"$rec3")
[ -n "$c3" ] && [ "$c3" != "$CONV" ] && pass "another customer, another conversation" ||
    fail "another customer, another conversation" "conv: $c3 vs $CONV"
s1=$(f .seq); s2=$(jq -r .seq <<<"$rec2")
[ "$s2" -gt "$s1" ] 2>/dev/null && pass "seq grows" || fail "seq grows" "$s1 then $s2"

# msg tail --conv keeps to one conversation.
n=$(msg tail --since 1 --conv "$CONV" | jq -c 'select(.type=="message")' | wc -l)
is "$n" 2 "msg tail --conv shows only that conversation's two messages"

# msg inbox: the open conversation, its last message and the wait.
inbox=$(msg inbox </dev/null 2>&1); rc=$?
is "$rc" 0 "msg inbox exits 0"
row=$(jq -c "select(.conv==\"$CONV\")" <<<"$inbox" 2>/dev/null | head -n 1)
[ -n "$row" ] && pass "msg inbox lists the conversation" ||
    fail "msg inbox lists the conversation" "inbox: ${inbox:0:1500}"
is "$(jq -r '.contact // empty' <<<"$row")" "$CUST" "inbox row names the contact"
is "$(jq -r '.last_text // .text // empty' <<<"$row")" "second message" \
    "inbox row shows the last message"
w=$(jq -r '[to_entries[] | select(.key|test("wait")) | .value | select(. != null)] | length' \
    <<<"$row" 2>/dev/null)
[ "${w:-0}" -gt 0 ] && pass "inbox row says how long the customer has waited" ||
    fail "inbox row says how long the customer has waited" "row: $row"
is "$(jq -r '.status // empty' <<<"$row")" open "inbox row status is open"
rows=$(jq -c 'select(.conv)' <<<"$inbox" 2>/dev/null | wc -l)
is "$rows" 2 "msg inbox lists exactly the two open conversations"

# msg transcript: the conversation, in order.
tr=$(msg transcript "$CONV" </dev/null 2>&1); rc=$?
is "$rc" 0 "msg transcript exits 0"
grep -qF "Where is my order" <<<"$tr" && grep -qF "second message" <<<"$tr" &&
    ! grep -qF "another customer" <<<"$tr" &&
    pass "msg transcript shows this conversation's messages only" ||
    fail "msg transcript shows this conversation's messages only" "${tr:0:1500}"
first=$(grep -nF "Where is my order" <<<"$tr" | head -n 1 | cut -d: -f1)
second=$(grep -nF "second message" <<<"$tr" | head -n 1 | cut -d: -f1)
[ -n "$first" ] && [ -n "$second" ] && [ "$first" -lt "$second" ] &&
    pass "msg transcript is in order" || fail "msg transcript is in order" "${tr:0:1500}"

done_testing
