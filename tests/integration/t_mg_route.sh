#!/bin/bash
# t_mg_route — Messenger and Instagram as first-class channels through the
# real daemons (sandboxd -> messengerd -> routerd -> messengerd -> sandboxd):
# a customer's message stored and routed to the Page's campaign, an agent's
# reply reaching sandboxd exactly as Meta expects (path, token, JSON body,
# messaging_type) with its echo, delivery and read recorded once each; msg
# send --to messenger:PSID; the windows (RESPONSE, HUMAN_AGENT for a person
# at 30 hours and refused for a script and for a bot, nothing at 8 days,
# refused before any call); watermarks marking every earlier message delivered and read
# (only forward); the Page's own sends from elsewhere, reactions on the
# message named, an Instagram unsend shown as unsent in msg transcript;
# the blacklist by messenger:PSID; 190 turning the Page inactive in msg
# channel status and msg campaign list, and msg channel token bringing it
# back.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as an agent"
plan 86
stack_start

ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
VER=v23.0
U=pmr$$
tuser_add "$U"
as() { as_user "$U" "$@"; }
msg agent add mra --user "$U" --role agent >/dev/null || bail "agent mra"
msg campaign create mg --messenger "$MG_PAGE" --instagram "$MG_IG" \
    --schedule "$ALWAYS" --strategy manual >/dev/null ||
    bail "msg campaign create mg"
msg member add mg mra >/dev/null || bail "member mra"
camp_launch mg || bail "launch mg"
is "$(msg campaign show mg | jq -c '[.channels.messenger.addresses[].addr, .channels.instagram.addresses[].addr]')" \
    "[\"$MG_PAGE\",\"$MG_IG\"]" "msg campaign show: the Page and the Instagram account"
exits 1 "a Page id that is not digits is refused" \
    msg campaign create mgbad --messenger "page-one"

PS1=6543210987660001
PS2=6543210987660002
PS3=6543210987660003
PS4=6543210987660004
IGS=987654321066001

# mid_of SB_OUTPUT: the first mid sandboxd made for a simulated event
mid_of() { head -n 1 <<<"$1" | jq -r '.mids[0]'; }
# st MSGID STATUS: how many status events of STATUS msg MSGID has
st() { count_events ".type==\"status\" and .id==\"$1\" and .status==\"$2\""; }

# --- a customer writes: stored, routed to the Page's campaign
sb_mg "{\"from\":\"$PS1\",\"to\":\"$MG_PAGE\",\"name\":\"Ada Lovelace\",\"text\":\"is my order late?\"}" >/dev/null
rec=$(wait_event 10 ".type==\"message\" and .text==\"is my order late?\"") ||
    bail "the Messenger message was not stored"
C1=$(jq -r .conv <<<"$rec")
is "$(jq -r '"\(.channel)/\(.contact)/\(.addr)/\(.campaign)/\(.dir)"' <<<"$rec")" \
    "messenger/$PS1/$MG_PAGE/mg/in" "channel messenger, the PSID, the Page, its campaign"
ok "routed: queued for the campaign's agents" \
    wait_event 10 ".type==\"queue\" and .conv==\"$C1\""
like "$(msg inbox --json 2>/dev/null | jq -c "select(.conv==\"$C1\")")" '"channel":"messenger"' \
    "msg inbox lists it, on messenger"

# --- the agent answers: as Meta expects, sent, delivered and read once each
exits 0 "the agent replies" as msg send --conv "$C1" "It left this morning."
M1=$(wait_event 10 ".type==\"message\" and .dir==\"out\" and .text==\"It left this morning.\"" | jq -r .id)
ok "the reply is sent" wait_event 15 ".type==\"status\" and .id==\"$M1\" and .status==\"sent\""
req=$(sb_mg_sends ".body.message.metadata==\"parley:$M1\"" | head -n 1)
is "$(jq -r .path <<<"$req")" "/$VER/$MG_PAGE/messages" "posted to /{version}/{PAGE-ID}/messages"
is "$(jq -r .access_token <<<"$req")" "$(cat "$MG_TOKEN_FILE")" "with the Page's token"
is "$(jq -c .body <<<"$req")" \
    "{\"recipient\":{\"id\":\"$PS1\"},\"messaging_type\":\"RESPONSE\",\"message\":{\"text\":\"It left this morning.\",\"metadata\":\"parley:$M1\"}}" \
    "the JSON body: RESPONSE, the text, our metadata"
ok "delivered (Meta's delivery)" wait_event 15 ".type==\"status\" and .id==\"$M1\" and .status==\"delivered\""
ok "read (Meta's read watermark)" wait_event 15 ".type==\"status\" and .id==\"$M1\" and .status==\"read\""
sleep 1
is "$(st "$M1" sent)/$(st "$M1" delivered)/$(st "$M1" read)" 1/1/1 \
    "the echo, the answer and the webhooks: each status recorded once"
is "$(count_events ".type==\"message\" and .conv==\"$C1\" and .dir==\"out\"")" 1 \
    "our echo is not stored as another message"
MID1=$(jq -r .id <<<"$(sb_mg_sends ".body.message.metadata==\"parley:$M1\"" | head -n 1 | jq -c .answer)" 2>/dev/null)
[ -n "$MID1" ] && [ "$MID1" != null ] ||
    MID1=$(wait_event 5 ".type==\"status\" and .id==\"$M1\" and .status==\"sent\"" | jq -r .pid)

# msg send --to messenger:PSID --from PAGE
exits 0 "msg send --to messenger:PSID --from PAGE-ID" \
    msg send --to "messenger:$PS1" --from "$MG_PAGE" "and a note"
is "$(wait_event 10 ".type==\"message\" and .text==\"and a note\"" | jq -r .conv)" "$C1" \
    "the same conversation"
exits 1 "msg send --to messenger:NOT-AN-ID is refused" \
    msg send --to "messenger:+15551234567" --from "$MG_PAGE" x

# an image by URL (the campaign lets agents send files from the library)
msg campaign edit mg --files yes --files-library yes >/dev/null
exits 0 "the agent sends an image by URL" \
    as msg send --conv "$C1" --media-url https://example.test/catalogue.png
MU=$(wait_event 10 ".type==\"message\" and .conv==\"$C1\" and .media[0].url==\"https://example.test/catalogue.png\"" | jq -r .id)
ok "sent" wait_event 15 ".type==\"status\" and .id==\"$MU\" and .status==\"sent\""
is "$(sb_mg_sends ".body.message.metadata==\"parley:$MU\"" | jq -c .body.message.attachment)" \
    '{"type":"image","payload":{"url":"https://example.test/catalogue.png","is_reusable":true}}' \
    "as Meta expects: an image attachment by URL"

# --- the Page answered from Page Inbox: an outbound message, not routed
sb_mg "{\"from\":\"$PS1\",\"to\":\"$MG_PAGE\",\"type\":\"echo\",\"text\":\"from the Page Inbox\"}" >/dev/null
rec=$(wait_event 10 ".type==\"message\" and .text==\"from the Page Inbox\"") ||
    fail "the Page's own message was not stored"
is "$(jq -r '"\(.conv)/\(.dir)/\(.by)/\(.status)"' <<<"$rec")" "$C1/out/page/sent" \
    "stored as an outbound message of the conversation, by the page"

# --- a reaction on our reply: on that message, not a new one
sb_mg "{\"from\":\"$PS1\",\"to\":\"$MG_PAGE\",\"type\":\"reaction\",\"reply_to\":\"$MID1\",\"emoji\":\"👍\"}" >/dev/null
rec=$(wait_event 10 ".type==\"reaction\" and .conv==\"$C1\"") ||
    fail "the reaction was not stored"
is "$(jq -r '"\(.id)/\(.action)/\(.emoji)"' <<<"$rec")" "$M1/react/👍" \
    "a reaction event on the message it names"
is "$(count_events ".type==\"message\" and .msgtype==\"reaction\"")" 0 \
    "and no new customer message"

# --- watermarks: earlier messages delivered, then read; only forward
sb_fault "{\"api\":\"messenger\",\"to\":\"$PS1\",\"repeat\":0,\"count\":2}" >/dev/null
as msg send --conv "$C1" "first of two" >/dev/null
as msg send --conv "$C1" "second of two" >/dev/null
W1=$(wait_event 10 ".type==\"message\" and .text==\"first of two\"" | jq -r .id)
W2=$(wait_event 10 ".type==\"message\" and .text==\"second of two\"" | jq -r .id)
ok "both sent (their webhooks lost)" wait_event 15 ".type==\"status\" and .id==\"$W2\" and .status==\"sent\""
sleep 1
is "$(st "$W1" delivered)$(st "$W2" delivered)" 00 "not delivered yet"
sb_mg "{\"from\":\"$PS1\",\"to\":\"$MG_PAGE\",\"type\":\"delivery\"}" >/dev/null
ok "a delivery watermark: the later one delivered" \
    wait_event 10 ".type==\"status\" and .id==\"$W2\" and .status==\"delivered\""
is "$(st "$W1" delivered)" 1 "and the earlier one"
sb_mg "{\"from\":\"$PS1\",\"to\":\"$MG_PAGE\",\"type\":\"read\"}" >/dev/null
ok "a read watermark: read" wait_event 10 ".type==\"status\" and .id==\"$W2\" and .status==\"read\""
is "$(st "$W1" read)" 1 "and the earlier one read too"
sb_mg "{\"from\":\"$PS1\",\"to\":\"$MG_PAGE\",\"type\":\"read\",\"watermark\":$(( $(now_ms) - 3600000 ))}" >/dev/null
sleep 1
is "$(st "$W1" read)$(st "$W2" read)" 11 "an older watermark changes nothing"

# --- the windows
now=$(date +%s)
sb_mg "{\"from\":\"$PS2\",\"to\":\"$MG_PAGE\",\"text\":\"yesterday's question\",\"ts\":$((now - 30 * 3600))}" >/dev/null
C2=$(wait_event 10 ".type==\"message\" and .text==\"yesterday's question\"" | jq -r .conv)
exits 1 "30 hours on: a send without an agent (a script, a bot) is refused" \
    msg send --conv "$C2" "automated"
like "$T_ERR" 'HUMAN_AGENT' "saying only a human agent may answer"
is "$(sb_mg_sends ".body.recipient.id==\"$PS2\"" | grep -c .)" 0 "making no call"
exits 0 "30 hours on: the human agent's reply goes" \
    as msg send --conv "$C2" "a person answers"
M2=$(wait_event 10 ".type==\"message\" and .text==\"a person answers\"" | jq -r .id)
ok "sent" wait_event 15 ".type==\"status\" and .id==\"$M2\" and .status==\"sent\""
is "$(sb_mg_sends ".body.message.metadata==\"parley:$M2\"" | jq -c '[.body.messaging_type, .body.tag]')" \
    '["MESSAGE_TAG","HUMAN_AGENT"]' "as MESSAGE_TAG HUMAN_AGENT"
win=$(msg window --expiring 7d --json)
is "$(jq -r "select(.conv==\"$C2\") | .channel" <<<"$win")" messenger \
    "msg window --expiring: the conversation's human-agent window, closing within 7 days"
# a bot answering the same customer at 30 hours: refused, no call
msg bot --campaign mg -- jq --unbuffered -c \
    -f "$PARLEY_SRC/tests/integration/bots/echo.jq" </dev/null >/dev/null \
    2>"$T_HOME/bot.log" &
BOT=$!
bg_track "$BOT"
exits 0 "the conversation handed to the bot" msg mode "$C2" bot
sleep 1
sb_mg "{\"from\":\"$PS2\",\"to\":\"$MG_PAGE\",\"text\":\"and the bot?\",\"ts\":$((now - 30 * 3600 + 60))}" >/dev/null
wait_count 15 ".type==\"refused\" and .conv==\"$C2\"" 2
rec=$(events "select(.type==\"refused\" and .conv==\"$C2\")" | sed -n 2p)
like "$rec" 'HUMAN_AGENT' "30 hours on, the bot's answer is refused (only a human agent may)"
is "$(sb_mg_sends ".body.recipient.id==\"$PS2\" and .body.message.text==\"echo: and the bot?\"" | grep -c .)" 0 \
    "and never reaches Meta"
kill -TERM "$BOT" 2>/dev/null
wait_for 10 proc_done "$BOT"
wait "$BOT" 2>/dev/null
bg_untrack "$BOT"
sb_mg "{\"from\":\"$PS3\",\"to\":\"$MG_PAGE\",\"text\":\"last week's question\",\"ts\":$((now - 8 * 86400))}" >/dev/null
C3=$(wait_event 10 ".type==\"message\" and .text==\"last week's question\"" | jq -r .conv)
exits 1 "8 days on: even the agent's reply is refused" \
    as msg send --conv "$C3" "too late"
like "$T_ERR" '7-day' "with the reason"
is "$(sb_mg_sends ".body.recipient.id==\"$PS3\"" | grep -c .)" 0 "before any call"
ok "a refused event says why" \
    wait_event 5 ".type==\"refused\" and .conv==\"$C3\""

# --- Instagram: routed, answered, read; an unsend shown as unsent
out=$(sb_mg "{\"from\":\"$IGS\",\"to\":\"$MG_IG\",\"name\":\"Grace Hopper\",\"text\":\"hola\"}")
IGM=$(mid_of "$out")
rec=$(wait_event 10 ".type==\"message\" and .channel==\"instagram\" and .text==\"hola\"") ||
    bail "the Instagram message was not stored"
CI=$(jq -r .conv <<<"$rec")
is "$(jq -r '"\(.contact)/\(.addr)/\(.campaign)"' <<<"$rec")" "$IGS/$MG_IG/mg" \
    "instagram: the IGSID, the account, the Page's campaign"
exits 0 "the agent answers on Instagram" as msg send --conv "$CI" "¡hola!"
MI=$(wait_event 10 ".type==\"message\" and .text==\"¡hola!\"" | jq -r .id)
ok "Instagram's read of the mid: read" \
    wait_event 15 ".type==\"status\" and .id==\"$MI\" and .status==\"read\""
is "$(sb_mg_sends ".body.message.metadata==\"parley:$MI\"" | jq -r .body.messaging_type)" \
    RESPONSE "RESPONSE on Instagram"
IGID=$(jq -r .id <<<"$rec")
exits 0 "a reply quoting the customer's message" \
    as msg send --conv "$CI" --reply-to "$IGID" "quoted"
MQ=$(wait_event 10 ".type==\"message\" and .text==\"quoted\"" | jq -r .id)
ok "sent" wait_event 15 ".type==\"status\" and .id==\"$MQ\" and .status==\"sent\""
is "$(sb_mg_sends ".body.message.metadata==\"parley:$MQ\"" | jq -r .body.reply_to.mid)" \
    "$IGM" "with Instagram's whole mid (its pid is folded)"
# Instagram's read names one mid: it and every earlier message are read
sb_fault "{\"api\":\"instagram\",\"to\":\"$IGS\",\"repeat\":0,\"count\":1}" >/dev/null
as msg send --conv "$CI" "its webhooks are lost" >/dev/null
MI1=$(wait_event 10 ".type==\"message\" and .text==\"its webhooks are lost\"" | jq -r .id)
ok "sent, not read" wait_event 15 ".type==\"status\" and .id==\"$MI1\" and .status==\"sent\""
as msg send --conv "$CI" "this one is read" >/dev/null
MI2=$(wait_event 10 ".type==\"message\" and .text==\"this one is read\"" | jq -r .id)
ok "the later one read" wait_event 15 ".type==\"status\" and .id==\"$MI2\" and .status==\"read\""
ok "and the earlier one with it" \
    wait_event 5 ".type==\"status\" and .id==\"$MI1\" and .status==\"read\""
sb_mg "{\"from\":\"$IGS\",\"to\":\"$MG_IG\",\"type\":\"unsend\",\"reply_to\":\"$IGM\"}" >/dev/null
IGID=$(jq -r .id <<<"$rec")
ok "the unsend: a tombstone on the original" \
    wait_event 10 ".type==\"status\" and .id==\"$IGID\" and .status==\"unsent\""
tr=$(script -qefc "msg transcript $CI" /dev/null </dev/null | tr -d '\r')
like "$tr" 'unsent by the customer: "hola"' "msg transcript shows it was unsent, on the message"
like "$(msg transcript "$CI" | jq -c "select(.type==\"status\" and .status==\"unsent\")")" "\"id\":\"$IGID\"" \
    "and its JSON names the original"
tr=$(script -qefc "msg transcript $C1" /dev/null </dev/null | tr -d '\r')
like "$tr" 'reaction 👍 on "It left this morning."' "msg transcript shows the reaction on the message"
like "$tr" '\(by the page\): from the Page Inbox' "and the Page's own message"

# --- the blacklist: a page-scoped id with its channel
exits 0 "msg blacklist add messenger:PSID" msg blacklist add "messenger:$PS4" --campaign mg
exits 1 "a bare PSID is refused (no channel)" msg blacklist add "$PS4"
sb_mg "{\"from\":\"$PS4\",\"to\":\"$MG_PAGE\",\"text\":\"let me in\"}" >/dev/null
ok "a blacklisted customer's message: blocked, not routed" \
    wait_event 10 ".type==\"blocked\" and .contact==\"$PS4\""
blocked() { msg blacklist history --contact "messenger:$PS4" | grep -q blocked; }
ok "the blocked attempt is in the blacklist's history" wait_for 10 blocked

# --- the token: 190 turns the Page inactive; a new one brings it back
sb_post /sandbox/messenger/token "{\"page\":\"$MG_PAGE\",\"subcode\":463}" >/dev/null
as msg send --conv "$C1" "are you still there?" >/dev/null
MD=$(wait_event 10 ".type==\"message\" and .text==\"are you still there?\"" | jq -r .id)
rec=$(wait_event 15 ".type==\"status\" and .id==\"$MD\" and .status==\"failed\"")
is "$(jq -r .code <<<"$rec")" 190 "the send fails with Meta's 190"
cs=$(msg channel status --json)
is "$(jq -r "select(.channel==\"messenger\" and .addr==\"$MG_PAGE\") | .active" <<<"$cs")" false \
    "msg channel status: the Page inactive"
like "$(jq -r "select(.channel==\"messenger\" and .addr==\"$MG_PAGE\") | .reason" <<<"$cs")" \
    'expired' "with the reason"
is "$(jq -r "select(.channel==\"instagram\") | .active" <<<"$cs")" false \
    "and its Instagram account"
is "$(msg campaign list | jq -r "select(.name==\"mg\") | .tokens[] | select(.addr==\"$MG_PAGE\") | .active")" \
    false "msg campaign list: the campaign's Page token inactive"
like "$(script -qefc "msg campaign list" /dev/null </dev/null | tr -d '\r' | grep '^mg ')" \
    "messenger:$MG_PAGE inactive" "the table shows which one, at a glance"
od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$T_HOME/newtoken"
exits 0 "msg channel token messenger PAGE-ID: Meta takes the new token" \
    msg channel token messenger "$MG_PAGE" --file "$T_HOME/newtoken"
like "$T_OUT" "Sandbox Page $MG_PAGE" "and names the Page"
is "$(tr -d '\n' <"$MG_TOKEN_FILE")" "$(cat "$T_HOME/newtoken")" "written in place"
cs=$(msg channel status --json)
is "$(jq -c '[.[] | select(.channel=="messenger" or .channel=="instagram") | .active] | all' <<<"$(jq -s . <<<"$cs")")" \
    true "active again, without a restart"
is "$(msg campaign list | jq -r "select(.name==\"mg\") | [.tokens[].active] | all")" true \
    "msg campaign list: active"
as msg send --conv "$C1" "back again" >/dev/null
MB=$(wait_event 10 ".type==\"message\" and .text==\"back again\"" | jq -r .id)
ok "sending works again" wait_event 15 ".type==\"status\" and .id==\"$MB\" and .status==\"sent\""
echo bogus-token >"$T_HOME/badtoken"
sb_post /sandbox/messenger/token "{\"page\":\"$MG_PAGE\",\"token\":\"bogus-token\",\"subcode\":460}" >/dev/null
exits 1 "a token Meta refuses is not taken" \
    msg channel token messenger "$MG_PAGE" --file "$T_HOME/badtoken"
is "$(tr -d '\n' <"$MG_TOKEN_FILE")" "$(cat "$T_HOME/newtoken")" "the working one stays"

# --- our echo before the send's answer: the message found by its id
ok "messengerd down" svc_down messengerd
as msg send --conv "$C1" "echo first" >/dev/null
ME=$(wait_event 10 ".type==\"message\" and .text==\"echo first\"" | jq -r .id)
o=$("$PARLEY_TOOLS/bustool" req "$ROUTERD_SOCK" "{\"t\":\"st\",\"channel\":\"messenger\",\"pid\":\"m_ECHOFIRST$$\",\"status\":\"sent\",\"msg\":\"$ME\",\"from\":\"$PS1\",\"to\":\"$MG_PAGE\",\"ts\":$(now_ms)}" 2>&1)
like "$o" "\"msg\":\"$ME\"" "the echo (status sent with our id) names the message"
is "$(wait_event 5 ".type==\"status\" and .id==\"$ME\" and .status==\"sent\"" | jq -r .pid)" \
    "m_ECHOFIRST$$" "recorded sent with its mid, before any answer"
o=$("$PARLEY_TOOLS/bustool" req "$ROUTERD_SOCK" "{\"t\":\"st\",\"channel\":\"messenger\",\"pid\":\"m_ECHOFIRST$$\",\"status\":\"delivered\",\"from\":\"$PS1\",\"to\":\"$MG_PAGE\",\"ts\":$(now_ms)}" 2>&1)
ok "a status on that mid finds the message" \
    wait_event 5 ".type==\"status\" and .id==\"$ME\" and .status==\"delivered\""
o=$("$PARLEY_TOOLS/bustool" req "$ROUTERD_SOCK" "{\"t\":\"st\",\"channel\":\"messenger\",\"pid\":\"m_FORGED$$\",\"status\":\"sent\",\"msg\":\"$ME\",\"from\":\"$PS2\",\"to\":\"$MG_PAGE\",\"ts\":$(now_ms)}" 2>&1)
is "$(count_events ".type==\"status\" and .pid==\"m_FORGED$$\"")" 0 \
    "an echo naming our message on another thread is not taken"
ok "sv up messengerd" sv -w 15 up "$(svc messengerd)"
ok "messengerd answers again" wait_for 30 msg ping -q -w 1 messengerd
went() { [ "$(sb_mg_sends ".body.message.metadata==\"parley:$ME\"" | grep -c .)" -ge 1 ]; }
ok "the pending message goes when messengerd is back" wait_for 20 went
sleep 2
is "$(st "$ME" sent)" 1 "and its answer adds no second sent"
