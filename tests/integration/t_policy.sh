#!/bin/bash
# t_policy — what routerd does with an inbound message before routing, and
# the one suppression check on every outbound path, through the real
# daemons and sandboxd: a customer's STOP records the opt-out and a later
# send is refused (nothing reaches the provider, a "refused" event says
# why), START opts back in, HELP is answered with the configured text,
# "STOP PLEASE" is an ordinary message; `msg optout` records consent by
# hand; a blacklisted customer's message is stored as blocked, not routed,
# and shows in the blacklist history; a closed campaign answers two
# messages of one closed period with exactly one after-hours reply; canned
# responses expand with the contact's placeholders, and an unknown
# placeholder is refused.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

AGENT_TESTS=12
plan $((80 + AGENT_TESTS))
stack_home
conf_set sms_help_text "Acme support: reply STOP to opt out."
stack_start

OURS=+15550001000	# the "pol" campaign's number, open around the clock
LATE=+15550002000	# the "late" campaign's number, closed now
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],
 "wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],
 "sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
# open one day only, two days from today (UTC): closed now, whatever the time
DAYS=(mon tue wed thu fri sat sun)
OPEN_DAY=${DAYS[$(( ($(date -u +%u) - 1 + 2) % 7 ))]}
AH_TEXT="We are closed now; an agent will answer when we open."

# refused_send DESC PATTERN COMMAND...: exit 1, one stderr line matching.
refused() {
	local desc=$1 pat=$2
	shift 2
	exits 1 "$desc: exit 1" "$@"
	like "$T_ERR" "^msg: [a-z]+: .*$pat" "$desc: the reason says so"
}

# convof TEXT: the conversation of the inbound message with TEXT.
convof() {
	wait_event 10 ".type==\"message\" and .dir==\"in\" and .text==\"$1\"" |
	    jq -r .conv
}

# queued CONV: how many times CONV entered an agents' queue.
queued() { count_events ".type==\"queue\" and .conv==\"$1\""; }

# sent_to NUMBER [BODY]: message creations sandboxd received for NUMBER.
sent_to() {
	sb_msgs "p(\"To\")==\"$1\"${2:+ and p(\"Body\")==\"$2\"}" | grep -c .
}

exits 0 "campaign pol, open around the clock" \
    msg campaign create pol --sms "$OURS" --schedule "$ALWAYS"
exits 0 "campaign late, open on $OPEN_DAY only, with an after-hours message" \
    msg campaign create late --sms "$LATE" --timezone UTC \
    --schedule "{\"$OPEN_DAY\":[[\"09:00\",\"17:00\"]]}" --after-hours "$AH_TEXT"
camp_launch pol late || bail "launch pol, late"

# ------------------------------------------------------------- STOP
C1=+15557001001
sb_sms "$C1" "$OURS" "hello there" >/dev/null
c1=$(convof "hello there")
sb_sms "$C1" "$OURS" "Stop" >/dev/null
ev=$(wait_event 10 ".type==\"optout\" and .contact==\"$C1\"")
is "$(jq -c '[.conv,.campaign,.channel,.keyword,.by]' <<<"$ev")" \
    "[\"$c1\",\"pol\",\"sms\",\"STOP\",\"customer\"]" \
    "STOP records an optout event (conversation, channel, keyword)"
is "$(count_events ".type==\"message\" and .text==\"Stop\" and .conv==\"$c1\"")" 1 \
    "the STOP message itself is stored in the conversation"
refused "msg send --conv to an opted-out contact" "opted out of sms" \
    msg send --conv "$c1" "Are you still there?"
like "$T_ERR" "replied STOP" "the refusal names the keyword"
ev=$(wait_event 10 ".type==\"refused\" and .conv==\"$c1\"")
like "$(jq -r .reason <<<"$ev")" "opted out of sms" \
    "a refused event records the reason"
is "$(jq -r .by <<<"$ev")" admin "and who tried (root: admin)"
refused "a new conversation to the opted-out contact" "opted out of sms" \
    msg send --to "sms:$C1" --from "$LATE" "A fresh start?"
is "$(count_events ".type==\"conv\" and .contact==\"$C1\" and .addr==\"$LATE\"")" 0 \
    "and no conversation is opened for it"
is "$(count_events ".type==\"message\" and .dir==\"out\" and .contact==\"$C1\"")" 0 \
    "nothing was queued for the opted-out contact"
is "$(sent_to "$C1")" 0 \
    "no reply of ours to STOP (Twilio answers it on long codes)"

# ------------------------------------------------------------- START
sb_sms "$C1" "$OURS" "START" >/dev/null
ev=$(wait_event 10 ".type==\"optin\" and .contact==\"$C1\"")
is "$(jq -r .keyword <<<"$ev")" START "START records an optin event"
exits 0 "msg send --conv works again after START" \
    msg send --conv "$c1" "Welcome back"
ok "sandboxd received it" wait_sb 10 "p(\"To\")==\"$C1\" and p(\"Body\")==\"Welcome back\""
is "$(sent_to "$C1" "Are you still there?")" 0 \
    "the refused message never reached the provider"
is "$(queued "$c1")" 1 "STOP and START were not routed (queued once, for hello)"

# ------------------------------------------------------------- HELP
C2=+15557001002
sb_sms "$C2" "$OURS" "help" >/dev/null
c2=$(convof help)
ok "HELP is answered with sms_help_text" \
    wait_sb 10 "p(\"To\")==\"$C2\" and p(\"Body\")==\"Acme support: reply STOP to opt out.\""
ev=$(wait_event 10 ".type==\"message\" and .dir==\"out\" and .conv==\"$c2\"")
is "$(jq -c '[.agent,.auto]' <<<"$ev")" '["parley","help"]' \
    "the answer is parley's own, marked auto: help"
is "$(queued "$c2")" 0 "the HELP message is not routed to agents"
is "$(count_events ".type==\"optout\" and .contact==\"$C2\"")" 0 "HELP is no opt-out"

# ------------------------------------------------------ STOP PLEASE
C3=+15557001003
sb_sms "$C3" "$OURS" "STOP PLEASE" >/dev/null
c3=$(convof "STOP PLEASE")
ok "\"STOP PLEASE\" is routed like any message" \
    wait_event 10 ".type==\"queue\" and .conv==\"$c3\""
is "$(count_events ".type==\"optout\" and .contact==\"$C3\"")" 0 \
    "\"STOP PLEASE\" is not an opt-out"
exits 0 "and may be answered" msg send --conv "$c3" "How can we help?"

# ------------------------------------------------------ msg optout
exits 0 "msg optout CONTACT (by hand)" \
    msg optout "$C3" --reason "asked on the phone"
is "$(jq -c '[.contact,.channel,.optout,.conv]' <<<"$T_OUT")" \
    "[\"$C3\",\"sms\",true,\"$c3\"]" "it answers the consent recorded"
ev=$(wait_event 10 ".type==\"optout\" and .contact==\"$C3\"")
is "$(jq -c '[.conv,.by,.reason,.keyword]' <<<"$ev")" \
    "[\"$c3\",\"admin\",\"asked on the phone\",null]" \
    "an optout event with who recorded it and why"
refused "a send after msg optout" "recorded by admin" \
    msg send --conv "$c3" "One more thing"
exits 0 "msg optout --in" msg optout "$C3" --in
is "$(jq -r .optout <<<"$T_OUT")" false "it answers optout false"
ok "an optin event" wait_event 10 ".type==\"optin\" and .contact==\"$C3\" and .by==\"admin\""
exits 0 "sends work again" msg send --conv "$c3" "One more thing"
exits 0 "msg optout on whatsapp for a contact never seen" \
    msg optout 15557009999 --channel whatsapp
is "$(jq -c '[.channel,.conv]' <<<"$T_OUT")" '["whatsapp",null]' \
    "recorded without a conversation"
exits 2 "msg optout without a contact is a usage error" msg optout
exits 2 "msg optout --channel fax is a usage error" msg optout "$C3" --channel fax
refused "msg optout with a bad sms number" "E.164" msg optout 5551234

# ------------------------------------------------------- blacklist
C4=+15557001004
exits 0 "blacklist a customer for pol" \
    msg blacklist add "$C4" --campaign pol --reason "abusive"
out=$(sb_sms "$C4" "$OURS" "let me in")
is "$(tail -n 1 <<<"$out")" 200 "the blacklisted customer's webhook is still answered 200"
c4=$(convof "let me in")
ok "the message is stored" test -n "$c4"
ev=$(wait_event 10 ".type==\"blocked\" and .conv==\"$c4\"")
is "$(jq -c '[.campaign,.contact,.reason,.scope]' <<<"$ev")" \
    "[\"pol\",\"$C4\",\"abusive\",\"pol\"]" "a blocked event with the reason"
is "$(queued "$c4")" 0 "the blocked message is not routed"
is "$(msg inbox --json | jq -r "select(.conv==\"$c4\") | .unrouted")" \
    blacklisted "the conversation is marked blacklisted"
hist() {
	msg blacklist history --contact "$C4" |
	    jq -c 'select(.event=="blocked" and .campaign=="pol")' | grep -q .
}
ok "the attempt is in msg blacklist history" wait_for 10 hist
refused "msg send to a blacklisted contact" "blacklisted for campaign pol: abusive" \
    msg send --conv "$c4" "Hello?"
C5=+15557001005
exits 0 "blacklist another customer for all campaigns" \
    msg blacklist add "$C5" --reason "legal hold"
refused "a new conversation to a globally blacklisted contact" \
    "blacklisted for all campaigns: legal hold" \
    msg send --to "sms:$C5" --from "$OURS" "Hi"
is "$(sent_to "$C4")$(sent_to "$C5")" 00 "nothing reached the blacklisted contacts"

# ------------------------------------------------------ after hours
C6=+15557001006
sb_sms "$C6" "$LATE" "anyone there?" >/dev/null
c6=$(convof "anyone there?")
ok "after hours: the after-hours message is sent" \
    wait_sb 10 "p(\"To\")==\"$C6\" and p(\"Body\")==\"$AH_TEXT\""
ev=$(wait_event 10 ".type==\"after_hours\" and .conv==\"$c6\"")
is "$(jq -r .replied <<<"$ev")" true "an after_hours event, replied"
like "$(jq -r .opens_ts <<<"$ev")" "^20[0-9]{2}-.*T09:00:00" \
    "it names the opening ($OPEN_DAY 09:00 UTC)"
ok "the conversation is kept in the queue for the opening" \
    wait_event 10 ".type==\"queue\" and .conv==\"$c6\""
sb_sms "$C6" "$LATE" "hello??" >/dev/null
ok "a second message in the same closed period" \
    wait_count 10 ".type==\"after_hours\" and .conv==\"$c6\"" 2
is "$(events "select(.type==\"after_hours\" and .conv==\"$c6\") | .replied" | tr '\n' ' ')" \
    "true false " "the second is not answered again"
is "$(count_events ".type==\"message\" and .dir==\"out\" and .conv==\"$c6\"")" 1 \
    "exactly one after-hours reply was queued"
is "$(sent_to "$C6" "$AH_TEXT")" 1 "and sandboxd received exactly one"

# --------------------------------------------------------- canned
C7=+15557001007
exits 0 "a contact with a custom field" \
    msg contact add --name "Ada Lovelace" --phone "$C7" --field tier=gold
exits 0 "canned hello" msg canned add hello \
    --text "Hello {first_name} ({name}), welcome to {campaign}. Tier: {tier}."
exits 0 "canned order (with an unknown placeholder)" \
    msg canned add order --text "Your order {order_id} has shipped."
exits 0 "canned spare (not assigned)" msg canned add spare --text "Spare."
exits 0 "assign hello to pol" msg canned assign hello --campaign pol
exits 0 "assign order to pol" msg canned assign order --campaign pol
sb_sms "$C7" "$OURS" "hi, it is Ada" >/dev/null
c7=$(convof "hi, it is Ada")
exits 0 "msg send /hello" msg send --conv "$c7" "/hello"
ok "the customer receives the expansion" wait_sb 10 \
    "p(\"To\")==\"$C7\" and p(\"Body\")==\"Hello Ada (Ada Lovelace), welcome to pol. Tier: gold.\""
exits 0 "msg send /hello with more text" msg send --conv "$c7" "/hello See you soon."
ok "the rest follows the expansion" wait_sb 10 \
    "p(\"To\")==\"$C7\" and p(\"Body\")==\"Hello Ada (Ada Lovelace), welcome to pol. Tier: gold. See you soon.\""
refused "an unknown placeholder" "unknown placeholder \\{order_id\\}" \
    msg send --conv "$c7" "/order"
ok "refused event for it" wait_event 10 \
    ".type==\"refused\" and .conv==\"$c7\" and (.reason|test(\"order_id\"))"
refused "a canned response not assigned to the campaign" \
    "canned response /spare is not assigned to campaign pol" \
    msg send --conv "$c7" "/spare"
refused "no such canned response" "no canned response /nosuch" \
    msg send --conv "$c7" "/nosuch"
is "$(sent_to "$C7")" 2 "only the two expanded messages reached the customer"

# ------------------------------------------- msg optout by an agent
if ! tuser_ok; then
	for i in $(seq "$AGENT_TESTS"); do
		skip "agents need root, useradd, userdel and setpriv"
	done
	done_testing
fi
TUSER=parleyp$$
NOBODY=parleyn$$	# a Unix user who is no agent
tuser_add "$TUSER"
tuser_add "$NOBODY"
as() { as_user "$TUSER" "$@"; }

exits 0 "agent tess, a member of pol" msg agent add tess --user "$TUSER"
exits 0 "campaign other, without tess" msg campaign create other \
    --sms +15550003000 --schedule "$ALWAYS"
camp_launch other || bail "launch other"
exits 0 "tess is a member of pol" msg member add pol tess
refused "an unmapped user may not record consent" "not a parley agent" \
    as_user "$NOBODY" msg optout "$C7"
exits 0 "tess records the opt-out of a customer of pol" as msg optout "$C7"
ok "the event names tess" wait_event 10 \
    ".type==\"optout\" and .contact==\"$C7\" and .by==\"tess\""
refused "tess's send to that customer is refused" "recorded by tess" \
    as msg send --conv "$c7" "/hello"
C8=+15557001008
sb_sms "$C8" +15550003000 "hello other" >/dev/null
convof "hello other" >/dev/null
refused "tess may not for a customer of another campaign" \
    "no conversation with this contact in your campaigns" as msg optout "$C8"
is "$(count_events ".type==\"optout\" and .contact==\"$C8\"")" 0 \
    "nothing was recorded"

done_testing
