#!/bin/bash
# t_whatsapp — the WhatsApp channel end to end: whatsappd's webhook
# (verification handshake, signatures, dedupe), replies and templates as
# sandboxd (standing in for the Cloud API) receives them, the 24-hour window
# enforced before any call, files uploaded then sent by media id, Meta's
# errors 131047, 131026 and 190 turned into failed messages with reasons,
# and a token made inactive by 190 brought back by `msg channel token`.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 66
stack_start

ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
PN=106540352242922
VER=$(conf_get whatsapp_api_version v23.0)
msg campaign create wa --whatsapp $PN --schedule "$ALWAYS" \
    --files yes --files-local yes >/dev/null || bail "msg campaign create wa"
camp_launch wa || bail "launch wa"

# --- verification (GET)
vt=$(cat "$WA_VERIFY_FILE")
get() { curl -s -m 10 -o "$T_HOME/get" -w '%{http_code}' "$WA_URL$1"; }
is "$(get "/whatsapp/webhook?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=$vt")" \
    200 "verification with the right token: 200"
is "$(cat "$T_HOME/get")" 1158201444 "the answer is the raw hub.challenge"
is "$(get "/whatsapp/webhook?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wrong")" \
    403 "verification with a wrong token: 403"
is "$(get "/whatsapp/webhook?hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=$vt")" \
    403 "verification with another hub.mode: 403"
is "$(get "/whatsapp/webhook?hub.challenge=1")" 403 "verification without a token: 403"

# --- signatures: nothing stored without the right one
W1=$(wamid)
body=$(wa_text 16505550101 $PN "$W1" "signed?" "Ada Lovelace")
is "$(wa_post "$body" "")" 401 "a notification without X-Hub-Signature-256: 401"
is "$(wa_post "$body" "sha256=$(printf '%064d' 0)")" 403 \
    "a notification with a wrong signature: 403"
is "$(wa_post "${body/signed?/tampered}" "$(wa_sign "$body")")" 403 \
    "a signature of other bytes: 403"
is "$(count_events ".pid==\"$W1\"")" 0 "nothing was stored"

# --- a signed text: stored once, however often Meta delivers it
is "$(wa_post "$body")" 200 "a signed notification: 200"
is "$(wa_post "$body")" 200 "the same notification again: 200"
is "$(wa_post "$body")" 200 "and a third time: 200"
rec=$(wait_event 10 ".type==\"message\" and .pid==\"$W1\"") ||
    bail "the WhatsApp text was not stored"
is "$(count_events ".type==\"message\" and .pid==\"$W1\"")" 1 \
    "the duplicates were stored once"
f() { jq -r "$1 // empty" <<<"$rec"; }
is "$(f .channel)" whatsapp "channel whatsapp"
is "$(f .contact)" +16505550101 "contact is +wa_id"
is "$(f .addr)" $PN "addr is the phone_number_id"
is "$(f .campaign)" wa "the phone_number_id chose the campaign"
is "$(f .name)" "Ada Lovelace" "the profile name is the customer's name"
is "$(f .msgtype)" text "msgtype text"
CONV=$(f .conv)
MID=$(f .id)

# --- a reply, quoting the customer's message, as Meta expects it; the
# customer writes again through sandboxd, whose own record of the window
# (like Meta's) knows only what went through it
sb_wa "$(jq -nc --arg p $PN '{from:"+16505550101", to:$p, name:"Ada Lovelace",
    type:"text", text:"still there?"}')" >/dev/null
wait_event 10 ".type==\"message\" and .text==\"still there?\"" >/dev/null ||
    bail "the customer's second message was not stored"
out=$(msg send --conv "$CONV" --reply-to "$MID" "Hello Ada, how can I help?")
is "$?" 0 "msg send --reply-to queues the reply"
OUT_ID=$(jq -r .id <<<"$out")
req=$(wait_wa 15 '.body.text.body=="Hello Ada, how can I help?"') ||
    bail "sandboxd never received the reply"
g() { jq -r "$1 // empty" <<<"$req" | head -n 1; }
is "$(g .path)" "/$VER/$PN/messages" "POST /{version}/{phone-number-id}/messages"
is "$(g .method)" POST "method POST"
is "$(g .authorization)" "Bearer $(cat "$WA_TOKEN_FILE")" \
    "Authorization: Bearer <access token>"
like "$(g .content_type)" '^application/json' "Content-Type: application/json"
is "$(g .body.messaging_product)" whatsapp "messaging_product whatsapp"
is "$(g .body.to | tr -d +)" 16505550101 "to the customer"
is "$(g .body.type)" text "type text"
is "$(g .body.context.message_id)" "$W1" "context.message_id is the quoted wamid"
st=$(wait_event 15 ".type==\"status\" and .id==\"$OUT_ID\" and .status==\"sent\"") ||
    fail "the reply was never sent"
like "$(jq -r .pid <<<"$st")" '^wamid\.' "sent with Meta's wamid"
wait_event 15 ".type==\"status\" and .id==\"$OUT_ID\" and .status==\"read\"" \
    >/dev/null
is "$?" 0 "sandboxd's signed status webhooks reach the message: read"

# --- the window: 25 hours after the customer's last message
W2=$(wamid)
old=$(( $(date +%s) - 25 * 3600 ))
wa_post "$(wa_text 16505550102 $PN "$W2" "an old question" "Grace" "$old")" \
    >/dev/null
rec=$(wait_event 10 ".type==\"message\" and .pid==\"$W2\"") ||
    bail "the old inbound message was not stored"
CONV2=$(jq -r .conv <<<"$rec")
before=$(sb_wa_sends | wc -l)
exits 1 "a free-form reply after 24 hours is refused" \
    msg send --conv "$CONV2" "sorry for the wait"
like "$T_ERR" "template" "the refusal says a template is what is allowed"
is "$(sb_wa_sends | wc -l)" "$before" "and no call reached the Cloud API"
is "$(count_events ".type==\"refused\" and .conv==\"$CONV2\"")" 1 \
    "a refused event is recorded"
msg template wa add order_update --lang en_US --category utility \
    --header "Order {{1}}" --body "Hi {{1}}, your order {{2}} has shipped." \
    --buttons '[{"type":"quick_reply","text":"Stop updates"}]' >/dev/null ||
    bail "msg template wa add"
exits 1 "a template with too few parameters is refused" \
    msg send --conv "$CONV2" --template order_update --lang en_US \
    --header-param 123 --param Grace
like "$T_ERR" "takes 2 body parameters" "the refusal gives the count"
exits 1 "an unknown template is refused" \
    msg send --conv "$CONV2" --template nope --lang en_US --param x
out=$(msg send --conv "$CONV2" --template order_update --lang en_US \
    --header-param 123 --param Grace --param '#123' --button STOP_UPDATES)
is "$?" 0 "a template after 24 hours is queued"
TID=$(jq -r .id <<<"$out")
req=$(wait_wa 15 '.body.type=="template"') || bail "no template at sandboxd"
is "$(jq -c '.body.template | {name, language}' <<<"$req" | head -n 1)" \
    '{"name":"order_update","language":{"code":"en_US"}}' \
    "template name and language as Meta expects"
is "$(jq -c '[.body.template.components[] | select(.type=="body") |
    .parameters[] | {type, text}]' <<<"$req" | head -n 1)" \
    '[{"type":"text","text":"Grace"},{"type":"text","text":"#123"}]' \
    "body parameters in order"
is "$(jq -c '[.body.template.components[] | select(.type=="header") |
    .parameters[].text]' <<<"$req" | head -n 1)" '["123"]' "the header parameter"
is "$(jq -c '[.body.template.components[] | select(.type=="button") |
    {sub_type, index: (.index|tostring), p: .parameters[0].payload}]' <<<"$req" |
    head -n 1)" '[{"sub_type":"quick_reply","index":"0","p":"STOP_UPDATES"}]' \
    "the quick-reply button's payload"
rec=$(events "select(.type==\"message\" and .id==\"$TID\")")
is "$(jq -r .text <<<"$rec")" "Hi Grace, your order #123 has shipped." \
    "the stored text is the rendered body"
is "$(jq -r .template <<<"$rec")" order_update "the record names the template"
wait_event 15 ".type==\"status\" and .id==\"$TID\" and .status==\"sent\"" \
    >/dev/null
is "$?" 0 "the template is sent"
win=$(msg window --expiring 30h --json)
like "$win" "$CONV" "msg window --expiring lists the open WhatsApp conversation"

# --- 131047 from the API itself: the sandbox never saw this customer write
W3=$(wamid)
wa_post "$(wa_text 16505550103 $PN "$W3" "direct to whatsappd" "Linus")" \
    >/dev/null
rec=$(wait_event 10 ".type==\"message\" and .pid==\"$W3\"") ||
    bail "the direct inbound was not stored"
CONV3=$(jq -r .conv <<<"$rec")
out=$(msg send --conv "$CONV3" "are you there?")
X=$(jq -r .id <<<"$out")
st=$(wait_event 15 ".type==\"status\" and .id==\"$X\" and .status==\"failed\"") ||
    fail "131047 did not fail the message"
is "$(jq -r .code <<<"$st")" 131047 "failed with code 131047"
like "$(jq -r .reason <<<"$st")" "outside the 24-hour window — send a template" \
    "and the reason says to send a template"

# --- 131026: undeliverable, permanent
sb_wa "$(jq -nc --arg p $PN '{from:"+16505550104", to:$p, name:"Ken",
    type:"text", text:"hi there"}')" >/dev/null
rec=$(wait_event 10 ".type==\"message\" and .contact==\"+16505550104\"") ||
    bail "the sandbox customer's message was not stored"
CONV4=$(jq -r .conv <<<"$rec")
sb_fault '{"api":"whatsapp","to":"16505550104","http":400,"code":131026,"count":1}' \
    >/dev/null
out=$(msg send --conv "$CONV4" "your parcel")
X=$(jq -r .id <<<"$out")
st=$(wait_event 15 ".type==\"status\" and .id==\"$X\" and .status==\"failed\"") ||
    fail "131026 did not fail the message"
is "$(jq -r .code <<<"$st")" 131026 "failed with code 131026"
like "$(jq -r .reason <<<"$st")" "^undeliverable" "the reason says undeliverable"

# --- a file: uploaded first, then sent by its media id
D=$T_HOME/files
mkdir -p "$D"
printf '%%PDF-1.4\n%%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%%%EOF\n' >"$D/invoice.pdf"
out=$(msg send --conv "$CONV4" --file "$D/invoice.pdf" "your invoice")
is "$?" 0 "msg send --file on WhatsApp is queued"
X=$(jq -r .id <<<"$out")
up=$(sb_get '/sandbox/received?api=whatsapp' |
    jq -c 'select((.path // "") | endswith("/media"))' | tail -n 1)
limit=$(( $(now_ms) + 15000 ))
while [ -z "$up" ] && [ "$(now_ms)" -lt "$limit" ]; do
	sleep 0.2
	up=$(sb_get '/sandbox/received?api=whatsapp' |
	    jq -c 'select((.path // "") | endswith("/media"))' | tail -n 1)
done
like "$up" "invoice.pdf" "the file was uploaded to /{phone-number-id}/media"
req=$(wait_wa 15 '.body.type=="document"') || fail "no document send"
like "$(jq -r '.body.document.id // empty' <<<"$req" | head -n 1)" '^[0-9]+$' \
    "the document is sent by its media id"
is "$(jq -r '.body.document.caption // empty' <<<"$req" | head -n 1)" \
    "your invoice" "with the text as its caption"
wait_event 15 ".type==\"status\" and .id==\"$X\" and .status==\"sent\"" >/dev/null
is "$?" 0 "the file message is sent"
spool_empty() { ! ls "$T_HOME/spool" | grep -q '^f_'; }
ok "its copy left the spool once sent" wait_for 10 spool_empty

# --- media by link: WhatsApp fetches it; the type follows its MIME type
msg campaign edit wa --files-library yes >/dev/null ||
    bail "msg campaign edit wa --files-library yes"
out=$(msg send --conv "$CONV4" --media-url https://cdn.example.com/p/photo.png \
    "a photo")
is "$?" 0 "msg send --media-url on WhatsApp is queued"
req=$(wait_wa 15 '.body.type=="image"') || fail "no image send"
is "$(jq -cS '.body.image' <<<"$req" | head -n 1)" \
    '{"caption":"a photo","link":"https://cdn.example.com/p/photo.png"}' \
    "sent as an image by link, the text its caption"

# --- 190: the token is inactive until a new one is configured
sb_fault '{"api":"whatsapp","http":401,"code":190,"count":1}' >/dev/null
out=$(msg send --conv "$CONV4" "token test")
X=$(jq -r .id <<<"$out")
st=$(wait_event 15 ".type==\"status\" and .id==\"$X\" and .status==\"failed\"") ||
    fail "190 did not fail the message"
is "$(jq -r .code <<<"$st")" 190 "failed with code 190"
cs=$(msg channel status --json | jq -c "select(.addr==\"$PN\")")
is "$(jq -r .active <<<"$cs")" false "msg channel status shows the number inactive"
like "$(jq -r .reason <<<"$cs")" "190" "with the reason"
before=$(sb_wa_sends | wc -l)
out=$(msg send --conv "$CONV4" "while inactive")
X=$(jq -r .id <<<"$out")
st=$(wait_event 15 ".type==\"status\" and .id==\"$X\" and .status==\"failed\"")
is "$(jq -r .code <<<"$st")" inactive "a send on the inactive number fails at once"
is "$(sb_wa_sends | wc -l)" "$before" "without calling the Cloud API"
cat "$WA_TOKEN_FILE" | msg channel token whatsapp >/dev/null
is "$?" 0 "msg channel token whatsapp takes a new token"
is "$(msg channel status --json | jq -r "select(.addr==\"$PN\") | .active")" \
    true "the number is active again, without a restart"
out=$(msg send --conv "$CONV4" "back again")
X=$(jq -r .id <<<"$out")
wait_event 15 ".type==\"status\" and .id==\"$X\" and .status==\"sent\"" >/dev/null
is "$?" 0 "and messages go out again"
