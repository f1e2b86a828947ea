#!/bin/bash
# t_messenger — messengerd through the real daemons (routerd's side of
# Messenger, dispatch, windows and watermarks, is t_mg_route's): the
# verification handshake and signatures exactly as whatsappd's, a text
# stored once however often Meta delivers it, the Page choosing the
# campaign, customers' names from the profile API (and none, without delay
# past the bound, when the lookup fails), Instagram messages, reactions,
# unknown kinds and an unsend shown as a status on the original message.
# Then the sending side, with "out" frames as routerd sends them: a
# reply reaching sandboxd exactly as Meta expects (path, token, JSON body,
# metadata), quick replies, an attachment by URL and a file uploaded once,
# HUMAN_AGENT at 30 hours, refusals outside the window, a Page's token dying
# (190) and coming back with chtoken after Meta accepted the new one, and a
# Page's rate never exceeded.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 73
stack_home
# a slow Page, so the pacing shows in a few seconds
conf_set messenger_rate 5
conf_set sandbox_messenger_rate 5
stack_start
[ -x "$PARLEY_TOOLS/bustool" ] || bail "$PARLEY_TOOLS/bustool is not built"

ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
VER=v23.0
MSOCK=$T_HOME/run/messengerd.sock
PSID=6543210987654321
IGSID=987654321012345
msg campaign create mg --messenger "$MG_PAGE" --instagram "$MG_IG" \
    --schedule "$ALWAYS" >/dev/null || bail "msg campaign create mg"
camp_launch mg || bail "launch mg"

# out JSON: an "out" request to messengerd as routerd sends it; the answer
# in OUT, exit 0 ok / 1 err.
out() { OUT=$("$PARLEY_TOOLS/bustool" req "$MSOCK" "$1" 2>&1); }
ojq() { jq -r "$1 // empty" <<<"$OUT"; }

# --- verification (GET), exactly as whatsappd
vt=$(cat "$MG_VERIFY_FILE")
get() { curl -s -m 10 -o "$T_HOME/get" -w '%{http_code}' "$MG_URL$1"; }
is "$(get "/messenger/webhook?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=$vt")" \
    200 "verification with the right token: 200"
is "$(cat "$T_HOME/get")" 1158201444 "the answer is the raw hub.challenge"
is "$(get "/messenger/webhook?hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong")" \
    403 "verification with a wrong token: 403"
is "$(get "/messenger/webhook?hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=$vt")" \
    403 "verification with another hub.mode: 403"
is "$(get "/messenger/webhook?hub.mode=subscribe&hub.verify_token=$vt")" 400 \
    "verification without a challenge: 400"
is "$(get "/other")" 404 "another path: 404"
is "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X PUT "$MG_URL/messenger/webhook")" \
    405 "another method: 405"

# --- signatures: nothing stored without the right one
M1=m_T1$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
body=$(mg_text $PSID "$M1" "signed?")
is "$(mg_post "$body" "")" 401 "a notification without X-Hub-Signature-256: 401"
is "$(mg_post "$body" "sha256=$(printf '%064d' 0)")" 403 \
    "a notification with a wrong signature: 403"
is "$(mg_post "${body/signed?/tampered}" "$(mg_sign "$body")")" 403 \
    "a signature of other bytes: 403"
is "$(mg_post '{"object":"whatsapp_business_account","entry":[]}')" 400 \
    "a signed body of another object: 400"
is "$(count_events ".pid==\"$M1\"")" 0 "nothing was stored"

# --- a signed text, stored once; the Page chose the campaign
is "$(mg_post "$body")" 200 "a signed notification: 200"
is "$(mg_post "$body")" 200 "the same notification again: 200"
rec=$(wait_event 10 ".type==\"message\" and .pid==\"$M1\"") ||
    bail "the Messenger text was not stored"
is "$(count_events ".type==\"message\" and .pid==\"$M1\"")" 1 \
    "the duplicate was stored once"
f() { jq -r "$1 // empty" <<<"$rec"; }
is "$(f .channel)/$(f .contact)/$(f .addr)" "messenger/$PSID/$MG_PAGE" \
    "channel messenger, the PSID, the Page"
is "$(f .campaign)" mg "the Page chose the campaign"
is "$(f .text)" "signed?" "the text"

# --- simulated customers: names from the profile API
out=$(sb_mg "{\"from\":\"6543210987650001\",\"to\":\"$MG_PAGE\",\"name\":\"Ada Lovelace\",\"text\":\"where is my order?\",\"dup\":2}")
like "$out" '"statuses":\[200,200,200\]' "a Messenger customer writes: three copies answered 200"
MID_A=$(head -n 1 <<<"$out" | jq -r '.mids[0]')
rec=$(wait_event 10 ".type==\"message\" and .pid==\"$MID_A\"") ||
    bail "the simulated message was not stored"
is "$(f .name)" "Ada Lovelace" "the name came from the profile API (first and last)"
is "$(count_events ".type==\"message\" and .pid==\"$MID_A\"")" 1 \
    "three deliveries, one message"
is "$(sb_get '/sandbox/received?api=messenger&kind=request' |
    jq -c 'select(.path | endswith("/6543210987650001"))' | grep -c .)" 1 \
    "the profile was asked once"
sb_mg "{\"from\":\"6543210987650001\",\"to\":\"$MG_PAGE\",\"text\":\"again\"}" >/dev/null
rec=$(wait_event 10 ".type==\"message\" and .text==\"again\"") ||
    bail "the second message was not stored"
is "$(f .name)" "Ada Lovelace" "the next message has the cached name"
is "$(sb_get '/sandbox/received?api=messenger&kind=request' |
    jq -c 'select(.path | endswith("/6543210987650001"))' | grep -c .)" 1 \
    "and the profile API was not asked again"

sb_fault '{"api":"profile","to":"6543210987650002","http":500}' >/dev/null
t0=$(now_ms)
sb_mg "{\"from\":\"6543210987650002\",\"to\":\"$MG_PAGE\",\"name\":\"Nobody\",\"text\":\"no name for me\"}" >/dev/null
rec=$(wait_event 10 ".type==\"message\" and .text==\"no name for me\"") ||
    bail "the message whose lookup failed was not stored"
is "$(f .name)" "" "a failed lookup: stored without a name"
ok "and not held past the wait" test $(( $(now_ms) - t0 )) -lt 5000

# --- Instagram
out=$(sb_mg "{\"from\":\"$IGSID\",\"to\":\"$MG_IG\",\"name\":\"Grace Hopper\",\"username\":\"grace\",\"text\":\"hola\"}")
IGM=$(head -n 1 <<<"$out" | jq -r '.mids[0]')
rec=$(wait_event 10 ".type==\"message\" and .channel==\"instagram\" and .text==\"hola\"") ||
    bail "the Instagram message was not stored"
is "$(f .contact)/$(f .addr)/$(f .campaign)" "$IGSID/$MG_IG/mg" \
    "instagram: the IGSID, the account, its campaign"
is "$(f .name)" "Grace Hopper" "the Instagram name from the profile API"
IGPID=$(f .pid)
is "${IGPID:0:1}" "~" "a long Instagram mid is folded into the pid"
sb_mg "{\"from\":\"$IGSID\",\"to\":\"$MG_IG\",\"type\":\"story_mention\"}" >/dev/null
rec=$(wait_event 10 ".type==\"message\" and .msgtype==\"story_mention\"") ||
    fail "a story mention was not stored"
like "$(f '.media[0].url')" '^https://' "a story mention keeps its URL"
sb_mg "{\"from\":\"$IGSID\",\"to\":\"$MG_IG\",\"type\":\"reaction\",\"reply_to\":\"$IGM\",\"emoji\":\"❤\"}" >/dev/null
IGREC=$(events "select(.type==\"message\" and .pid==\"$IGPID\")" | head -n 1)
rec=$(wait_event 10 ".type==\"reaction\" and .channel==\"instagram\"") ||
    fail "a reaction was not stored"
is "$(f .id)/$(f .data.reaction.message_id)" "$(jq -r .id <<<"$IGREC")/$IGPID" \
    "the reaction is on the message it names"
sb_mg "{\"from\":\"$IGSID\",\"to\":\"$MG_IG\",\"type\":\"unsend\",\"reply_to\":\"$IGM\"}" >/dev/null
IGREC=$(events "select(.type==\"message\" and .pid==\"$IGPID\")" | head -n 1)
ok "an unsend is shown as a status on the original message" \
    wait_event 10 ".type==\"status\" and .status==\"unsent\" and .id==\"$(jq -r .id <<<"$IGREC")\""
is "$(count_events ".type==\"message\" and .channel==\"instagram\" and .dir==\"in\" and (.msgtype==\"text\" or .msgtype==\"unknown\")")" 1 \
    "and not as a new message"
sb_mg "{\"from\":\"$PSID\",\"to\":\"$MG_PAGE\",\"type\":\"optin\",\"raw\":{\"type\":\"one_time_notif_req\",\"payload\":\"P\"}}" >/dev/null
ok "an unknown kind is stored under its own type" \
    wait_event 10 ".type==\"message\" and .msgtype==\"optin\" and .data.optin.payload==\"P\""

# --- chstatus: Pages and accounts, with the Page's name
out '{"t":"chstatus"}'
is "$(ojq '[.channels[] | "\(.channel):\(.addr):\(.active)"] | join(" ")')" \
    "messenger:$MG_PAGE:true instagram:$MG_IG:true" "chstatus: the Page and its account, active"
is "$(ojq '.channels[0].name')" "Sandbox Page $MG_PAGE" "with the Page's name"

# --- a reply, as Meta expects it
TOK=$(cat "$MG_TOKEN_FILE")
out "{\"t\":\"out\",\"msg\":\"m_01OUT1\",\"channel\":\"messenger\",\"from\":\"$MG_PAGE\",\"to\":\"6543210987650001\",\"text\":\"On its way!\",\"reply_to\":\"$MID_A\",\"quick_replies\":[{\"title\":\"Thanks\",\"payload\":\"THX\"}]}"
ok "a reply is sent" test -n "$(ojq .pid)"
req=$(sb_mg_sends '.body.message.metadata=="parley:m_01OUT1"' | head -n 1)
is "$(jq -r .path <<<"$req")" "/$VER/$MG_PAGE/messages" "posted to /{version}/{PAGE-ID}/messages"
is "$(jq -r .access_token <<<"$req")" "$TOK" "with the Page's token"
is "$(jq -c '.body | del(.message.quick_replies)' <<<"$req")" \
    "{\"recipient\":{\"id\":\"6543210987650001\"},\"messaging_type\":\"RESPONSE\",\"message\":{\"text\":\"On its way!\",\"metadata\":\"parley:m_01OUT1\"},\"reply_to\":{\"mid\":\"$MID_A\"}}" \
    "the JSON body Meta expects: RESPONSE, the text, our metadata, the reply"
is "$(jq -c '.body.message.quick_replies' <<<"$req")" \
    '[{"content_type":"text","title":"Thanks","payload":"THX"}]' "the quick replies"
is "$(ojq .pid)" "$(jq -r .id <<<"$req")" "the pid is Meta's mid"

# attachments: by URL (reused), and a file uploaded once
out "{\"t\":\"out\",\"msg\":\"m_01OUT2\",\"channel\":\"messenger\",\"from\":\"$MG_PAGE\",\"to\":\"6543210987650001\",\"text\":\"\",\"media\":[{\"url\":\"https://example.test/catalogue.png\"}]}"
req=$(sb_mg_sends '.body.message.metadata=="parley:m_01OUT2"' | head -n 1)
is "$(jq -c .body.message.attachment <<<"$req")" \
    '{"type":"image","payload":{"url":"https://example.test/catalogue.png","is_reusable":true}}' \
    "an image by URL, reusable"
out "{\"t\":\"out\",\"msg\":\"m_01OUT3\",\"channel\":\"messenger\",\"from\":\"$MG_PAGE\",\"to\":\"6543210987650001\",\"text\":\"\",\"media\":[{\"url\":\"https://example.test/catalogue.png\"}]}"
req=$(sb_mg_sends '.body.message.metadata=="parley:m_01OUT3"' | head -n 1)
like "$(jq -c .body.message.attachment.payload <<<"$req")" '^\{"attachment_id":"[0-9]+"\}$' \
    "the same URL again goes by the attachment id Meta gave"
F=f_01JABCDEFGHJKMNPQRSTVWXYZ0
printf '%%PDF-1.4 a tiny invoice\n' >"$T_HOME/spool/$F"
sz=$(stat -c %s "$T_HOME/spool/$F")
out "{\"t\":\"out\",\"msg\":\"m_01OUT4\",\"channel\":\"messenger\",\"from\":\"$MG_PAGE\",\"to\":\"6543210987650001\",\"text\":\"your invoice\",\"file\":{\"spool\":\"$F\",\"name\":\"invoice.pdf\",\"mime\":\"application/pdf\",\"size\":$sz,\"uid\":$(id -u)}}"
ok "a file is sent" test -n "$(ojq .pid)"
up=$(sb_get '/sandbox/received?api=messenger&kind=request' | jq -c 'select(.path | endswith("/message_attachments"))')
is "$(grep -c . <<<"$up")" 1 "uploaded once to message_attachments"
is "$(jq -c '[.body.message.attachment.type, .body.filedata.filename, .body.filedata.size]' <<<"$up")" \
    "[\"file\",\"invoice.pdf\",$sz]" "as a reusable file, the spool copy streamed"
is "$(sb_mg_sends '.body.message.metadata=="parley:m_01OUT4"' | jq -r '.body.message | if .attachment then "att:\(.attachment.payload.attachment_id != null)" else "text:\(.text)" end' | tr '\n' ' ')" \
    "att:true text:your invoice " "then the attachment by its id, and the text after it"

# --- the window: 30 hours needs HUMAN_AGENT, 8 days nothing
now=$(date +%s)
sb_mg "{\"from\":\"6543210987650030\",\"to\":\"$MG_PAGE\",\"text\":\"yesterday\",\"ts\":$((now - 30 * 3600))}" >/dev/null
out "{\"t\":\"out\",\"msg\":\"m_01W1\",\"channel\":\"messenger\",\"from\":\"$MG_PAGE\",\"to\":\"6543210987650030\",\"text\":\"late\"}"
is "$(ojq .err.code)" window "30 hours later without a tag: failed \"window\" (Meta's 10/2018278)"
out "{\"t\":\"out\",\"msg\":\"m_01W2\",\"channel\":\"messenger\",\"from\":\"$MG_PAGE\",\"to\":\"6543210987650030\",\"text\":\"a person answers\",\"tag\":\"HUMAN_AGENT\"}"
ok "with HUMAN_AGENT it is sent" test -n "$(ojq .pid)"
is "$(sb_mg_sends '.body.message.metadata=="parley:m_01W2"' | jq -c '[.body.messaging_type, .body.tag]')" \
    '["MESSAGE_TAG","HUMAN_AGENT"]' "as MESSAGE_TAG HUMAN_AGENT"
sb_mg "{\"from\":\"987654321010008\",\"to\":\"$MG_IG\",\"text\":\"last week\",\"ts\":$((now - 8 * 86400))}" >/dev/null
out "{\"t\":\"out\",\"msg\":\"m_01W3\",\"channel\":\"instagram\",\"from\":\"$MG_IG\",\"to\":\"987654321010008\",\"text\":\"too late\",\"tag\":\"HUMAN_AGENT\"}"
is "$(ojq .err.code)" window "8 days later on Instagram, even tagged: \"window\" (10/2534022)"
out "{\"t\":\"out\",\"msg\":\"m_01W4\",\"channel\":\"messenger\",\"from\":\"$MG_PAGE\",\"to\":\"6543210987650001\",\"text\":\"$(head -c 2100 /dev/zero | tr '\0' x)\"}"
is "$(ojq .err.code)" invalid "2,100 characters: invalid, no call"

# --- a dead token: the Page and its account inactive, inbound still stored
sb_post /sandbox/messenger/token "{\"page\":\"$MG_PAGE\",\"subcode\":463}" >/dev/null
out "{\"t\":\"out\",\"msg\":\"m_01D1\",\"channel\":\"messenger\",\"from\":\"$MG_PAGE\",\"to\":\"6543210987650001\",\"text\":\"hello?\"}"
is "$(ojq .err.code)" 190 "Meta's 190: failed \"190\""
out '{"t":"chstatus"}'
is "$(ojq '[.channels[] | "\(.addr):\(.active)"] | join(" ")')" \
    "$MG_PAGE:false $MG_IG:false" "the Page and its Instagram account are inactive"
like "$(ojq '.channels[0].reason')" 'expired \(190/463\)' "with the reason"
n0=$(sb_mg_sends | grep -c .)
out "{\"t\":\"out\",\"msg\":\"m_01D2\",\"channel\":\"instagram\",\"from\":\"$MG_IG\",\"to\":\"$IGSID\",\"text\":\"hello?\"}"
is "$(ojq .err.code)" inactive "a send on the inactive account is refused at once"
is "$(sb_mg_sends | grep -c .)" "$n0" "making no call"
sb_mg "{\"from\":\"$PSID\",\"to\":\"$MG_PAGE\",\"text\":\"are you there\"}" >/dev/null
ok "inbound is still stored" wait_event 10 ".type==\"message\" and .text==\"are you there\""
# a new token, checked before it is taken
( umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$MG_TOKEN_FILE.new" )
out "{\"t\":\"chtoken\",\"page\":\"$MG_PAGE\",\"candidate\":true}"
is "$(ojq .name)" "Sandbox Page $MG_PAGE" "chtoken: Meta takes the new token, the Page's name is known"
mv "$MG_TOKEN_FILE.new" "$MG_TOKEN_FILE"
out '{"t":"chstatus"}'
is "$(ojq '[.channels[] | .active] | all')" true "both active again, without a restart"
out "{\"t\":\"out\",\"msg\":\"m_01D3\",\"channel\":\"messenger\",\"from\":\"$MG_PAGE\",\"to\":\"6543210987650001\",\"text\":\"back\"}"
ok "and sending works" test -n "$(ojq .pid)"
is "$(sb_mg_sends '.body.message.metadata=="parley:m_01D3"' | jq -r .access_token)" \
    "$(cat "$MG_TOKEN_FILE")" "with the new token"
( umask 077; echo bogus-token >"$MG_TOKEN_FILE.new" )
sb_post /sandbox/messenger/token "{\"page\":\"$MG_PAGE\",\"token\":\"bogus-token\",\"subcode\":460}" >/dev/null
out "{\"t\":\"chtoken\",\"page\":\"$MG_PAGE\",\"candidate\":true}"
is "$(ojq .err.code)" token "a token Meta refuses is not taken"
rm -f "$MG_TOKEN_FILE.new"
out '{"t":"chstatus"}'
is "$(ojq '[.channels[] | .active] | all')" true "and the working one stays"

# --- the Page's rate (messenger_rate 5): never more in any second
t0=$(now_ms)
pids=""
for i in $(seq 1 12); do
	"$PARLEY_TOOLS/bustool" req "$MSOCK" "{\"t\":\"out\",\"msg\":\"m_01R$i\",\"channel\":\"messenger\",\"from\":\"$MG_PAGE\",\"to\":\"6543210987650001\",\"text\":\"burst $i\"}" >"$T_HOME/r$i" 2>&1 &
	pids="$pids $!"
	bg_track $!
done
for p in $pids; do wait "$p"; bg_untrack "$p"; done
okn=$(cat "$T_HOME"/r[0-9]* | grep -c '"ok":true')
is "$okn" 12 "12 sends at once to a 5/s Page: all sent"
is "$(sb_get '/sandbox/received?api=messenger&kind=request' | jq -c 'select(.code==613)' | grep -c .)" 0 \
    "none over the sandbox's 5/s (no 613)"
ok "paced over two seconds or more" test $(( $(now_ms) - t0 )) -ge 2000

# --- who may ask what on messengerd.sock (an agent's Unix user)
if tuser_ok; then
	A=parleyma$$
	tuser_add "$A"
	o=$(as_user "$A" bustool req "$MSOCK" "{\"t\":\"out\",\"msg\":\"m_01X\",\"from\":\"$MG_PAGE\",\"to\":\"6543210987650001\",\"text\":\"forged\"}" 2>&1)
	like "$o" '"code":"denied"' "an agent's out straight to messengerd: denied"
	o=$(as_user "$A" bustool req "$MSOCK" "{\"t\":\"chtoken\",\"page\":\"$MG_PAGE\"}" 2>&1)
	like "$o" '"code":"denied"' "an agent's chtoken: denied"
	o=$(as_user "$A" bustool req "$MSOCK" '{"t":"chstatus"}' 2>&1)
	like "$o" '"ok":true' "chstatus: anyone who reaches the socket"
else
	skip "an agent's out: needs root, useradd and setpriv"
	skip "an agent's chtoken: likewise"
	skip "an agent's chstatus: likewise"
fi

# --- SIGTERM drains and exits 0
P=$(sv_pid messengerd)
sv -w 15 down "$(svc messengerd)" >/dev/null
ok "messengerd stops on SIGTERM" proc_done "$P"
like "$(tail -n 3 "$T_HOME/log/messengerd/current")" 'drained, exiting' "after draining"
