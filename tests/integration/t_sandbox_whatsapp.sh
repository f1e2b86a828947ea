#!/bin/bash
# t_sandbox_whatsapp — sandboxd standing in for the WhatsApp Cloud API, on its
# own (no whatsappd: webhooks go to a port nothing listens on and are
# recorded with status 0): the Graph error envelope for a bad token (190)
# and for validation (100, 131008, 131009), Meta's success shape, the 24-hour
# window (131047 before the customer wrote, 200 after a simulated inbound,
# 131047 again after /sandbox/reset), the per-number throughput limit
# (130429), media upload -> id -> GET -> send by id, the status webhooks
# sent/delivered/read and a failed one from a fault, simulated inbound
# message types, batches and duplicates, and a token file changed under a
# running sandbox.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

SERVICES=sandboxd	# only the sandbox: started by hand below
plan 60
stack_home

PN=106540352242922	# our phone_number_id
PN2=106540352200002	# another, for the rate limit
V=v23.0
C1=+16505550101		# a customer
C1D=16505550101
TOKF=$T_HOME/secrets/whatsapp_token
SECF=$T_HOME/secrets/whatsapp_app_secret
for f in "$TOKF" "$SECF"; do	# an older mk/mkhome.sh makes none
	[ -s "$f" ] || ( umask 077; od -An -N16 -tx1 /dev/urandom |
	    tr -d ' \n' >"$f"; echo >>"$f" )
done
TOK=$(cat "$TOKF")
conf_set sandbox_whatsapp_webhook_url \
    "http://127.0.0.1:$(free_port 18181)/whatsapp/webhook"
conf_set sandbox_whatsapp_rate 5
conf_set sandbox_status_delay_ms 5

"$PARLEY_BIN/sandboxd" -c "$PARLEY_CONF" >"$T_HOME/sandboxd.log" 2>&1 </dev/null &
SBX=$!
bg_track "$SBX"
wait_for 10 curl -fsS -m 2 "$SANDBOX_URL/sandbox/health" ||
    { diag - <"$T_HOME/sandboxd.log"; bail "sandboxd did not start"; }
pass "sandboxd serves with WhatsApp settings"

# api PATH BODY [TOKEN] [CONTENT_TYPE]: POST to the Cloud API; prints the
# HTTP status, the answer goes to $T_HOME/ans (read with ans [JQ]).
api() {
	curl -s -m 20 -o "$T_HOME/ans" -w '%{http_code}' \
	    -H "Authorization: Bearer ${3:-$TOK}" \
	    -H "Content-Type: ${4:-application/json}" --data-binary "$2" \
	    "$SANDBOX_URL$1"
}
ans() { jq -rc "${1:-.}" "$T_HOME/ans" 2>/dev/null; }
send() { api "/$V/${2:-$PN}/messages" "$1" "${3:-}"; }
text() {
	jq -nc --arg to "$1" --arg b "$2" \
	    '{messaging_product:"whatsapp",recipient_type:"individual",
	      to:$to,type:"text",text:{preview_url:false,body:$b}}'
}
tmpl() {
	jq -nc --arg to "$1" '{messaging_product:"whatsapp",to:$to,
	    type:"template",template:{name:"order_update",
	    language:{code:"en_US"},components:[{type:"body",
	    parameters:[{type:"text",text:"Ada"}]}]}}'
}
# hooks EVENT [JQ_SELECT]: the webhooks sandboxd posted, their bodies.
hooks() {
	sb_get "/sandbox/received?api=whatsapp&kind=webhook" |
	    jq -c "select(.event==\"$1\") | .params | select(${2:-true})"
}
# wait_hooks SECONDS EVENT JQ_SELECT N: wait for N matching webhooks.
wait_hooks() {
	local limit=$(( $(now_ms) + $1 * 1000 )) n
	while :; do
		n=$(hooks "$2" "$3" | grep -c .)
		[ "$n" -ge "$4" ] && return 0
		[ "$(now_ms)" -ge "$limit" ] && return 1
		sleep 0.1
	done
}
ST='.entry[0].changes[0].value.statuses[0]'
MS='.entry[0].changes[0].value.messages[0]'

# --- authentication
is "$(send "$(text $C1 hi)" "$PN" wrong-token)" 401 "a wrong token gets 401"
is "$(ans '.error.code')" 190 "with Graph code 190"
is "$(ans '.error.type')" OAuthException "in Graph's error envelope"
code=$(curl -s -m 20 -o "$T_HOME/ans" -w '%{http_code}' \
    -H 'Content-Type: application/json' --data-binary "$(text $C1 hi)" \
    "$SANDBOX_URL/$V/$PN/messages")
is "$code/$(ans .error.code)" 401/190 "no Authorization header: 401, 190"

# --- the window: closed until the customer writes
is "$(send "$(text $C1 'too early')")" 400 "free-form text to a customer who never wrote gets 400"
is "$(ans '.error.code')" 131047 "code 131047"
is "$(ans '.error.message')" "(#131047) Re-engagement message" "Meta's title"
like "$(ans '.error.error_data.details')" "24 hours" "Meta's details"
like "$(ans '.error.fbtrace_id')" '^A' "and a fbtrace_id"

out=$(sb_wa "$(jq -nc --arg f $C1 --arg p $PN \
    '{from:$f,to:$p,name:"Ada",text:"hello from Ada"}')")
is "$(tail -n 1 <<<"$out")" 200 "a simulated inbound message is accepted"
W1=$(head -n 1 <<<"$out" | jq -r '.wamid[0]')
like "$W1" '^wamid\.' "and answered with its wamid"
is "$(head -n 1 <<<"$out" | jq -c '.status')" 0 "the webhook's status (0: nothing listens)"
h=$(hooks inbound "$MS.id==\"$W1\"" | head -n 1)
is "$(jq -r "$MS.text.body" <<<"$h")" "hello from Ada" "the webhook carries the text"
is "$(jq -r '.entry[0].changes[0].value | [.metadata.phone_number_id,
    .contacts[0].wa_id, .contacts[0].profile.name, .messages[0].from] | join(" ")' \
    <<<"$h")" "$PN $C1D Ada $C1D" "metadata, contacts and from as Meta sends them"

# --- a send inside the window
is "$(send "$(text $C1 'Hello Ada')")" 200 "after the customer wrote, text gets 200"
is "$(ans '[.messaging_product, .contacts[0].input, .contacts[0].wa_id] | join(" ")')" \
    "whatsapp $C1 $C1D" "Meta's success shape: input as given, wa_id digits"
M1=$(ans '.messages[0].id')
like "$M1" '^wamid\.[A-Za-z0-9+/=]+$' "messages[0].id is a wamid"
r=$(sb_get "/sandbox/received?api=whatsapp&kind=request" |
    jq -c "select(.id==\"$M1\")")
is "$(jq -r '[.method, .path, .authorization, .content_type, .answer] | join(" ")' \
    <<<"$r")" "POST /$V/$PN/messages Bearer $TOK application/json 200" \
    "the received log has method, path, Authorization, Content-Type, answer"
is "$(jq -r '.body.text.body' <<<"$r")" "Hello Ada" "and the body as parsed JSON"
wait_hooks 10 status "$ST.id==\"$M1\"" 3
is "$(hooks status "$ST.id==\"$M1\"" | jq -r "$ST.status" | tr '\n' ' ')" \
    "sent delivered read " "status webhooks: sent, delivered, read, in order"
s=$(hooks status "$ST.id==\"$M1\" and $ST.status==\"sent\"" | head -n 1)
is "$(jq -r "$ST | [.recipient_id, (.timestamp|test(\"^[0-9]+$\")),
    .conversation.origin.type, .pricing.pricing_model] | map(tostring) | join(\" \")" \
    <<<"$s")" "$C1D true service PMP" "shaped like Meta's: recipient_id, timestamp, conversation, pricing"

# --- templates pass the window
is "$(send "$(tmpl +16505550999)")" 200 "a template to a customer who never wrote gets 200"
is "$(ans '.messages[0].message_status')" accepted "with message_status accepted"

# --- validation, in Meta's order
is "$(send '{"to":"16505550101","text":{"body":"x"}}')/$(ans .error.code)" 400/100 \
    "no messaging_product: 400, code 100"
like "$(ans .error.error_data.details)" messaging_product "the details name it"
long=$(head -c 4097 /dev/zero | tr '\0' a)
is "$(send "$(text $C1 "$long")")/$(ans .error.code)" 400/100 \
    "a 4097-character body: 400, code 100"
like "$(ans .error.error_data.details)" 4096 "the details give the limit"
is "$(send "$(text $C1 "$(head -c 4096 /dev/zero | tr '\0' a)")")" 200 \
    "4096 characters are fine"
is "$(send '{"messaging_product":"whatsapp","to":"16505550101","type":"text","text":{}}')/$(ans .error.code)" \
    400/131008 "text without body: code 131008"
is "$(send '{"messaging_product":"whatsapp","to":"16505550101","type":"poll","poll":{}}')/$(ans .error.code)" \
    400/100 "an unknown type: code 100"
is "$(send '{"messaging_product":"whatsapp","to":"not a number","text":{"body":"x"}}')/$(ans .error.code)" \
    400/100 "a malformed to: code 100"
is "$(api "/$V/$PN/messages" "$(text $C1 x)" "$TOK" text/plain)/$(ans .error.code)" \
    400/100 "Content-Type not JSON: code 100"

# --- throughput: 5 per second on PN2 (templates: no window needed)
pids=""
for i in 1 2 3 4 5 6 7 8; do
	{ send "$(tmpl +1650555020$i)" "$PN2"; echo; } >"$T_HOME/rate.$i" &
	pids="$pids $!"
done
for p in $pids; do wait "$p"; done
codes=$(cat "$T_HOME"/rate.? | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
diag "eight at once: $codes"
n200=$(cat "$T_HOME"/rate.? | grep -c 200)
ok "at most 5 of 8 sends at once are accepted" [ "$n200" -le 5 ]
n429=$(sb_get "/sandbox/received?api=whatsapp&kind=request" |
    jq -c "select(.path==\"/$V/$PN2/messages\" and .code==130429)" | grep -c .)
is "$n429" "$((8 - n200))" "the others get code 130429"
sleep 1.1
is "$(send "$(tmpl +16505550209)" "$PN2")" 200 "a second later the number sends again"

# --- media: upload, facts, send by id
printf 'GIF89a\001\000\001\000\000\000\000;' >"$T_HOME/pixel.png"
head -c 3000 /dev/urandom >>"$T_HOME/pixel.png"
SHA=$(sha256sum "$T_HOME/pixel.png" | cut -c1-64)
SIZE=$(stat -c %s "$T_HOME/pixel.png")
code=$(curl -s -m 20 -o "$T_HOME/ans" -w '%{http_code}' -H "Authorization: Bearer $TOK" \
    -F messaging_product=whatsapp -F type=image/png \
    -F "file=@$T_HOME/pixel.png;type=image/png;filename=pixel.png" \
    "$SANDBOX_URL/$V/$PN/media")
MID=$(ans .id)
is "$code" 200 "a multipart media upload gets 200"
like "$MID" '^[1-9][0-9]{14,15}$' "and a numeric media id"
r=$(sb_get "/sandbox/received?api=whatsapp&kind=request" | jq -c "select(.id==\"$MID\")" |
    head -n 1)
is "$(jq -r '.body | [.messaging_product, .type, .file.filename, .file.size, .file.sha256] |
    map(tostring) | join(" ")' <<<"$r")" "whatsapp image/png pixel.png $SIZE $SHA" \
    "the log has the fields and the file's name, size and sha256, not its bytes"
curl -s -m 20 -o "$T_HOME/ans" -H "Authorization: Bearer $TOK" "$SANDBOX_URL/$V/$MID"
is "$(ans '[.mime_type, .sha256, .file_size, .id] | map(tostring) | join(" ")')" \
    "image/png $SHA $SIZE $MID" "GET /{version}/{media_id} gives its facts"
curl -s -m 20 -o "$T_HOME/dl" -H "Authorization: Bearer $TOK" "$(ans .url)"
ok "its url serves the bytes" cmp -s "$T_HOME/dl" "$T_HOME/pixel.png"
is "$(send "$(jq -nc --arg to $C1 --arg id "$MID" '{messaging_product:"whatsapp",
    to:$to,type:"image",image:{id:$id,caption:"Receipt"}}')")" 200 \
    "an image sent by that media id gets 200"
is "$(send "$(jq -nc --arg to $C1 '{messaging_product:"whatsapp",to:$to,
    type:"image",image:{id:"1234567890123"}}')")/$(ans .error.code)" 400/131009 \
    "a media id the sandbox never issued: code 131009"
head -c $((5 * 1024 * 1024 + 1)) /dev/zero >"$T_HOME/big.jpg"
code=$(curl -s -m 20 -o "$T_HOME/ans" -w '%{http_code}' -H "Authorization: Bearer $TOK" \
    -F messaging_product=whatsapp -F type=image/jpeg \
    -F "file=@$T_HOME/big.jpg;type=image/jpeg" "$SANDBOX_URL/$V/$PN/media")
is "$code/$(ans .error.code)" 400/131053 "an image over 5 MB: code 131053"

# --- faults
sb_fault '{"api":"whatsapp","to":"+16505550301","status":"failed","error_code":131026}' >/dev/null
is "$(send "$(tmpl +16505550301)")" 200 "a send a fault will fail is accepted first"
M2=$(ans '.messages[0].id')
wait_hooks 10 status "$ST.id==\"$M2\"" 1
f=$(hooks status "$ST.id==\"$M2\"")
is "$(jq -r "$ST | [.status, .errors[0].code, .errors[0].title] | map(tostring) | join(\"/\")" \
    <<<"$f")" "failed/131026/Message undeliverable" "then a failed status with errors[] (131026)"
is "$(grep -c . <<<"$f")" 1 "and no sent or delivered before it"
sb_fault '{"api":"whatsapp","to":"16505550302","http":500}' >/dev/null
is "$(send "$(tmpl +16505550302)")/$(ans .error.code)" 500/131000 \
    "a fault's HTTP 500 comes with code 131000"

# --- simulated inbound: types, batches, duplicates
out=$(sb_wa "$(jq -nc --arg f $C1 --arg p $PN '{from:$f,to:$p,type:"image",
    caption:"look",mime:"image/jpeg"}')")
W=$(head -n 1 <<<"$out" | jq -r '.wamid[0]')
h=$(hooks inbound "$MS.id==\"$W\"" | head -n 1)
IMID=$(jq -r "$MS.image.id" <<<"$h")
is "$(jq -r "$MS.image | [.caption, .mime_type, (.sha256|length > 0)] | map(tostring) |
    join(\" \")" <<<"$h")" "look image/jpeg true" "an inbound image has caption, mime_type, sha256"
curl -s -m 20 -o "$T_HOME/ans" -H "Authorization: Bearer $TOK" "$SANDBOX_URL/$V/$IMID"
is "$(ans .id)" "$IMID" "and its media id can be looked up"
out=$(sb_wa "$(jq -nc --arg f $C1 --arg p $PN '{from:$f,to:$p,type:"unsupported"}')")
W=$(head -n 1 <<<"$out" | jq -r '.wamid[0]')
is "$(hooks inbound "$MS.id==\"$W\"" | jq -r "$MS.errors[0].code" | head -n 1)" 131051 \
    "an unsupported message carries error 131051"
out=$(sb_wa "$(jq -nc --arg f $C1 '{from:$f,name:"Ada",batch:[
    {to:"111",text:"one"},{to:"111",text:"two"},{to:"222",text:"three"}]}')")
is "$(head -n 1 <<<"$out" | jq '.wamid | length')" 3 "a batch answers three wamids"
W=$(head -n 1 <<<"$out" | jq -r '.wamid[2]')
b=$(hooks inbound "[.entry[].changes[].value.messages[].id] | index(\"$W\")" | head -n 1)
is "$(jq -c '[.entry[] | [.changes[0].value.metadata.phone_number_id,
    (.changes[0].value.messages | length)]]' <<<"$b")" '[["111",2],["222",1]]' \
    "in one notification: an entry per number"
out=$(sb_wa "$(jq -nc --arg f $C1 --arg p $PN '{from:$f,to:$p,text:"twice",dup:2}')")
is "$(head -n 1 <<<"$out" | jq -c .statuses)" "[0,0,0]" "dup 2 posts the notification three times"
W=$(head -n 1 <<<"$out" | jq -r '.wamid[0]')
is "$(hooks inbound "$MS.id==\"$W\"" | grep -c .)" 3 "the same wamid each time"
is "$(sb_wa '{"from":"+16505550101","to":"'$PN'"}' | tail -n 1)" 400 \
    "a text without text is refused"

# --- reset forgets the window
sb_post /sandbox/reset '{}' >/dev/null
is "$(send "$(text $C1 'after reset')")/$(ans .error.code)" 400/131047 \
    "after /sandbox/reset the customer's window is closed again"

# --- a new token file takes effect without a restart
( umask 077; echo "rotated-$TOK" >"$TOKF" )
is "$(send "$(tmpl $C1)")/$(ans .error.code)" 401/190 "the old token is refused once the file changed"
is "$(send "$(tmpl $C1)" "$PN" "rotated-$TOK")" 200 "the new one is accepted"
ok "sandboxd is still running" kill -0 "$SBX"

done_testing
