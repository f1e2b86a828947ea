#!/bin/bash
# t_wa_fidelity — what real WhatsApp payloads and clients showed, end to end
# through sandboxd, whatsappd and routerd:
#   - sandboxd's mark-as-read call (with a typing indicator) and its errors;
#   - templates: every one is sent until sandboxd is told of one; then only
#     an APPROVED one in that language, else 132001;
#   - a customer known only by a business-scoped user id (BSUID): sandboxd
#     posts from_user_id without from; the conversation's contact is the
#     BSUID; a reply goes to Meta as "recipient", its statuses name
#     recipient_user_id and are stored with the message's pid;
#   - the simulated customer's new message kinds (a Flow's answers, an ad's
#     referral, an order, an edit, a deletion, a number change, forwarded)
#     stored with their text and facts; an edit and a deletion shown on
#     the original message (msg transcript), the conversation following
#     the customer's new number;
#   - a message without id or sender is refused with a logged reason and
#     stores nothing, while the rest of its notification is stored.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 43
stack_start

PN=106540352242922
V=$(conf_get whatsapp_api_version v23.0)
TOK=$(cat "$WA_TOKEN_FILE")
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
msg campaign create wa --whatsapp $PN --schedule "$ALWAYS" >/dev/null ||
    bail "msg campaign create wa"
camp_launch wa || bail "launch wa"

# api BODY: POST to the Cloud API's messages path at sandboxd; prints the
# HTTP status, the answer in $T_HOME/ans (ans JQ reads it).
api() {
	curl -s -m 20 -o "$T_HOME/ans" -w '%{http_code}' \
	    -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
	    --data-binary "$1" "$SANDBOX_URL/$V/$PN/messages"
}
ans() { jq -rc "${1:-.}" "$T_HOME/ans" 2>/dev/null; }
tmpl() {
	jq -nc --arg to "$1" --arg n "$2" --arg l "$3" '{messaging_product:
	    "whatsapp",to:$to,type:"template",template:{name:$n,
	    language:{code:$l}}}'
}
tell() { sb_post /sandbox/whatsapp/templates "$1" | head -n 1; }

# --- mark as read, with the typing indicator
is "$(api '{"messaging_product":"whatsapp","status":"read","message_id":"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRB","typing_indicator":{"type":"text"}}')" \
    200 "mark as read with a typing indicator: 200"
is "$(ans)" '{"success":true}' "answered {\"success\":true}"
is "$(sb_wa_sends '.body.status=="read"' | tail -n 1 | jq -r .id)" \
    "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRB" "the read is recorded with its wamid"
is "$(api '{"messaging_product":"whatsapp","status":"read"}')/$(ans .error.code)" \
    400/131008 "mark as read without message_id: 131008"
is "$(api '{"messaging_product":"whatsapp","status":"read","message_id":"wamid.X","typing_indicator":{"type":"audio"}}')/$(ans .error.code)" \
    400/100 "a typing indicator other than text: 100"

# --- templates: told about, approved or not
is "$(api "$(tmpl +16505550111 anything en_US)")" 200 \
    "no template told about yet: any template is sent"
out=$(tell '{"name":"order_update","language":"en_US"}')
is "$(jq -cS . <<<"$out")" \
    '{"language":"en_US","name":"order_update","status":"APPROVED"}' \
    "a template told about is APPROVED by default"
is "$(api "$(tmpl +16505550111 order_update en_US)")" 200 \
    "the approved template in its language is sent"
is "$(api "$(tmpl +16505550111 order_update fr)")/$(ans .error.code)" \
    400/132001 "the same name in another language: 132001"
like "$(ans .error.error_data.details)" "does not exist in fr" \
    "with Meta's details"
is "$(api "$(tmpl +16505550111 anything en_US)")/$(ans .error.code)" \
    400/132001 "a template never told about: 132001"
tell '{"name":"promo","language":"en_US","status":"PENDING"}' >/dev/null
is "$(api "$(tmpl +16505550111 promo en_US)")/$(ans .error.code)" \
    400/132001 "a PENDING template: 132001"
like "$(ans .error.error_data.details)" "PENDING" "the details say so"
is "$(sb_get /sandbox/whatsapp/templates | jq -c '[.templates[].name] | sort')" \
    '["order_update","promo"]' "GET lists the templates told about"
like "$(tell '{"name":"x","language":"en_US","status":"MAYBE"}')" \
    'must be APPROVED' "an unknown status is refused"
curl -s -m 10 -X DELETE "$SANDBOX_URL/sandbox/whatsapp/templates" >/dev/null
is "$(api "$(tmpl +16505550111 anything en_US)")" 200 \
    "after DELETE every template is sent again"

# --- a customer known only by a business-scoped user id
B=US.13491208655302741918
out=$(sb_wa "$(jq -nc --arg p $PN --arg b $B '{user_id:$b,
    username:"@kai", name:"Kai", to:$p, text:"no number for you"}')")
is "$(head -n 1 <<<"$out" | jq -r .status)" 200 \
    "a BSUID-only customer's message: 200"
hook=$(sb_get '/sandbox/received?api=whatsapp&kind=webhook' |
    jq -c 'select(.event=="inbound") | .params' | tail -n 1)
is "$(jq -c '.entry[0].changes[0].value |
    [.messages[0].from, .messages[0].from_user_id, .contacts[0].user_id,
     .contacts[0].profile.username, .contacts[0].wa_id]' <<<"$hook")" \
    "[null,\"$B\",\"$B\",\"@kai\",null]" \
    "sandboxd posts from_user_id and no number, as Meta does"
rec=$(wait_event 15 ".type==\"message\" and .text==\"no number for you\"") ||
    bail "the BSUID message was not stored"
is "$(jq -r .contact <<<"$rec")" "$B" "the conversation's contact is the BSUID"
is "$(jq -c .data <<<"$rec")" "{\"user_id\":\"$B\",\"username\":\"@kai\"}" \
    "and the record keeps the BSUID and username"
BCONV=$(jq -r .conv <<<"$rec")
out=$(msg send --conv "$BCONV" "a reply to a BSUID") || bail "msg send"
BID=$(jq -r .id <<<"$out")
req=$(wait_wa 15 '.body.text.body=="a reply to a BSUID"') ||
    bail "the reply did not reach sandboxd"
is "$(jq -c '.body | [.recipient, .to]' <<<"$req")" "[\"$B\",null]" \
    "the reply goes to Meta as recipient, without to"
is "$(jq -r .answer <<<"$req")" 200 "and sandboxd takes it (the window is open)"
st=$(wait_event 15 ".type==\"status\" and .id==\"$BID\" and .status==\"delivered\"") ||
    st='{}'
is "$(jq -r .data.recipient_user_id <<<"$st")" "$B" \
    "its delivered status names recipient_user_id"
is "$(jq -r .pid <<<"$st")" "$(jq -r .id <<<"$req")" \
    "and carries the message's pid"
is "$(api "$(jq -nc '{messaging_product:"whatsapp",recipient:"US.999999",
    type:"text",text:{body:"cold"}}')")/$(ans .error.code)" 400/131047 \
    "a free-form message to a BSUID that never wrote: 131047"
is "$(api '{"messaging_product":"whatsapp","recipient":"not-a-bsuid","type":"text","text":{"body":"x"}}')/$(ans .error.code)" \
    400/100 "a recipient that is not a BSUID: 100"

# --- the simulated customer's other kinds, stored
C=+16505550112
inb() { sb_wa "$(jq -nc --arg p $PN --arg c $C \
    "{from:\$c, name:\"Omar\", to:\$p} + $1")" | head -n 1 |
    jq -r '.wamid[0]'; }
stored() {	# WAMID: the record of it
	wait_event 15 ".type==\"message\" and .pid==\"$1\""
}
w=$(inb '{type:"interactive", interactive:{type:"nfm_reply",
    response:{flow_token:"t1", size:"42", colour:"red"}}}')
is "$(stored "$w" | jq -c '[.text, .data.interactive.response.size]')" \
    '["size: 42\ncolour: red","42"]' "a Flow's answers: readable text and the JSON"
w=$(inb '{text:"saw your ad", referral:{source_type:"ad",
    source_id:"120226305854810726", headline:"Boots"}}')
is "$(stored "$w" | jq -c '.data.referral | [.source_type, .headline]')" \
    '["ad","Boots"]' "a referral is kept with the message"
w=$(inb '{type:"order", order:{catalog_id:"15374", items:[
    {product_retailer_id:"boot-42", quantity:2, item_price:89.5,
     currency:"USD"}]}}')
is "$(stored "$w" | jq -c '[.text, .data.order.items[0].quantity]')" \
    '["2 x boot-42 @ 89.5 USD",2]' "an order: its items, summed up as text"
o=$(inb '{text:"see you at 3"}')
orec=$(stored "$o")
OID=$(jq -r .id <<<"$orec") OC=$(jq -r .conv <<<"$orec")
w=$(inb "{type:\"edit\", original:\"$o\", text:\"see you at 4\"}")
rec=$(wait_event 15 ".type==\"status\" and .id==\"$OID\" and .status==\"edited\"")
is "$(jq -c '.data.edit | [.text, .pid, .data.edit.original]' <<<"$rec")" \
    "[\"see you at 4\",\"$w\",\"$o\"]" "an edit: shown on the original, with the new text"
is "$(count_events ".type==\"message\" and .pid==\"$w\"")" 0 \
    "and not as a message of its own"
w=$(inb "{type:\"revoke\", original:\"$o\"}")
ok "a deletion: the original is unsent (a tombstone)" \
    wait_event 15 ".type==\"status\" and .id==\"$OID\" and .status==\"unsent\" and .data.revoke.pid==\"$w\""
tr=$(script -qefc "msg transcript $OC" /dev/null </dev/null | tr -d '\r')
like "$tr" 'edited by the customer: "see you at 3" is now: see you at 4' \
    "msg transcript shows the edit on the original"
like "$tr" 'unsent by the customer: "see you at 3"' "and that it was deleted"
w=$(inb '{type:"system", new_from:"+16505550999"}')
rec=$(stored "$w")
is "$(jq -c '[.msgtype, .data.system.type, .data.system.new_contact]' <<<"$rec")" \
    '["system","customer_changed_number","+16505550999"]' \
    "a number change: the new number kept"
like "$(jq -r .text <<<"$rec")" "changed from" "with Meta's text"
ok "the conversation follows the customer" \
    wait_event 15 ".type==\"contact\" and .conv==\"$OC\" and .contact==\"+16505550999\" and .old==\"$C\" and .followed"
C=+16505550999
w=$(inb '{text:"from my new phone"}')
is "$(stored "$w" | jq -r .conv)" "$OC" \
    "the new number's messages reach the same conversation"
C=+16505550112
w=$(inb '{text:"pass it on", forwarded:true, frequently_forwarded:true}')
is "$(stored "$w" | jq -c '.data.context')" \
    '{"forwarded":true,"frequently_forwarded":true}' "forwarded flags are kept"

# --- refused elements: logged, the rest stored
body=$(jq -nc --arg p $PN '{object:"whatsapp_business_account",
    entry:[{id:"1",changes:[{field:"messages",value:{messaging_product:
    "whatsapp",metadata:{display_phone_number:"15550783881",
    phone_number_id:$p},messages:[
    {from:"16505550113",timestamp:"1749416383",type:"text",
     text:{body:"no id"}},
    {id:"wamid.FIDnosender",timestamp:"1749416383",type:"text",
     text:{body:"no sender"}},
    {from:"16505550113",id:"wamid.FIDok",timestamp:"1749416383",
     type:"text",text:{body:"the good one"}}]}}]}]}')
is "$(wa_post "$body")" 200 "a notification with two bad messages: 200"
wait_event 15 '.pid=="wamid.FIDok"' >/dev/null
is "$(count_events '.text=="no id" or .text=="no sender"')/$(count_events '.pid=="wamid.FIDok"')" \
    0/1 "the bad ones are not stored, the good one is"
log=$(cat "$T_HOME/service/whatsappd/log/main/current")
like "$log" "without a usable id, skipped" "a message without id: logged why"
like "$log" "wamid.FIDnosender: no sender" "a message without sender: logged why"
