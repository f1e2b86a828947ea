#!/bin/bash
# t_sandbox_messenger — sandboxd standing in for the Messenger Platform, on
# its own (no messengerd: webhooks go to a port nothing listens on and are
# recorded with status 0): GET /PAGE-ID and the profile API, Meta's error
# envelope (190 and its subcodes, 100/2018001, 10/2018278 and 10/2534022,
# 613), the Send API's checks (text length, quick replies, tags,
# attachments), each thread's window and HUMAN_AGENT's 7 days, the upload
# API and sends by attachment id, the webhooks after a send (echo with our
# metadata, delivery and read watermarks; Instagram's read of the mid),
# every simulated event kind of both objects in messaging[] or standby[],
# batches over two Pages, duplicates, faults with subcodes, repeats and
# reordering, tokens that die on request, and /sandbox/reset.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

SERVICES=sandboxd	# only the sandbox: started by hand below
plan 58
stack_home

P2=106540352242002		# a second Page, without Instagram
V=v23.0
U=6543210987654321		# a Messenger customer
IU=987654321012345		# an Instagram customer
conf_set messenger_pages "$MG_PAGE:$MG_IG $P2"
( umask 077; echo "page-two-token" >"$T_HOME/secrets/messenger/$P2" )
conf_set sandbox_messenger_webhook_url \
    "http://127.0.0.1:$(free_port 18182)/messenger/webhook"
conf_set sandbox_messenger_rate 2
conf_set sandbox_status_delay_ms 5
TOK=$(cat "$MG_TOKEN_FILE")

"$PARLEY_BIN/sandboxd" -c "$PARLEY_CONF" >"$T_HOME/sandboxd.log" 2>&1 </dev/null &
SBX=$!
bg_track "$SBX"
wait_for 10 curl -fsS -m 2 "$SANDBOX_URL/sandbox/health" && ! proc_done "$SBX" ||
    { diag - <"$T_HOME/sandboxd.log"; bail "sandboxd did not start"; }
pass "sandboxd serves with Messenger settings"

# api METHOD PATH [BODY] [TOKEN]: a Graph call; prints the HTTP status, the
# answer in $T_HOME/ans (read with ans [JQ]).
api() {
	local m=$1 path=$2 body=${3:-} tok=${4:-$TOK} sep='?'
	case $path in *\?*) sep='&' ;; esac
	curl -s -m 20 -o "$T_HOME/ans" -w '%{http_code}' -X "$m" \
	    -H 'Content-Type: application/json' ${body:+--data-binary "$body"} \
	    "$SANDBOX_URL$path${sep}access_token=$tok"
}
ans() { jq -rc "${1:-.}" "$T_HOME/ans" 2>/dev/null; }
send() { api POST "/$V/${2:-$MG_PAGE}/messages" "$1" "${3:-}"; }
text() {
	jq -nc --arg to "$1" --arg t "$2" '{recipient:{id:$to},
	    messaging_type:"RESPONSE", message:{text:$t, metadata:"parley:m_1"}}'
}
# hooks [JQ_SELECT]: the bodies of the webhooks sandboxd posted.
hooks() {
	{ sb_get "/sandbox/received?api=messenger&kind=webhook"
	  sb_get "/sandbox/received?api=instagram&kind=webhook"; } |
	    jq -c ".params | select(${1:-true})"
}
wait_hooks() {
	local limit=$(( $(now_ms) + $1 * 1000 ))
	while [ "$(hooks "$2" | grep -c .)" -lt "$3" ]; do
		[ "$(now_ms)" -ge "$limit" ] && return 1
		sleep 0.1
	done
}
EV='.entry[0].messaging[0]'

# --- the Page and tokens
is "$(api GET "/$V/$MG_PAGE?fields=name")" 200 "GET /PAGE-ID with its token: 200"
is "$(ans .name)" "Sandbox Page $MG_PAGE" "the Page's name"
is "$(api GET "/$V/$MG_PAGE?fields=name" "" bogus)" 400 "an unknown token: 400"
is "$(ans '[.error.code, .error.type]')" '[190,"OAuthException"]' "190 in Meta's envelope"
like "$(ans .error.fbtrace_id)" '^[A-Za-z0-9]{11}$' "with an fbtrace_id"
is "$(api GET "/$V/$P2?fields=name")" 400 "another Page's object with this token: 400"

# --- sends before the customer wrote
is "$(send "$(text $U hi)")" 400 "a customer who never wrote: 400"
is "$(ans '[.error.code, .error.error_subcode]')" '[100,2018001]' "100/2018001 No matching user found"

# --- simulated customers
out=$(sb_mg "{\"from\":\"$U\",\"to\":\"$MG_PAGE\",\"name\":\"Ada Lovelace\",\"text\":\"hello\",\"reply_to\":\"m_prev\"}")
like "$out" '"statuses":\[0\]' "inbound: posted once (nothing listens: 0)"
MIDU=$(head -n 1 <<<"$out" | jq -r '.mids[0]')
like "$MIDU" '^m_' "a Messenger mid"
h=$(hooks "$EV.message.mid==\"$MIDU\"")
is "$(jq -c "[.object, .entry[0].id, $EV.sender.id, $EV.recipient.id, $EV.message.text, $EV.message.reply_to.mid]" <<<"$h")" \
    "[\"page\",\"$MG_PAGE\",\"$U\",\"$MG_PAGE\",\"hello\",\"m_prev\"]" \
    "Meta's webhook: object page, the Page's entry, sender, recipient, text, reply_to"
is "$(api GET "/$V/$U?fields=first_name,last_name")" 200 "the profile API: 200"
is "$(ans '[.first_name, .last_name]')" '["Ada","Lovelace"]' "first and last name"
out=$(sb_mg "{\"from\":\"$IU\",\"to\":\"$MG_IG\",\"name\":\"Grace Hopper\",\"username\":\"grace\",\"type\":\"story_mention\"}")
MIDI=$(head -n 1 <<<"$out" | jq -r '.mids[0]')
ok "an Instagram mid is long (folded by messengerd)" test ${#MIDI} -gt 96
h=$(hooks "$EV.message.mid==\"$MIDI\"")
is "$(jq -c "[.object, .entry[0].id, $EV.message.attachments[0].type]" <<<"$h")" \
    "[\"instagram\",\"$MG_IG\",\"story_mention\"]" "object instagram, the account's entry, a story mention"
is "$(api GET "/$V/$IU?fields=name,username")" 200 "the Instagram profile: 200"
is "$(ans '[.name, .username]')" '["Grace Hopper","grace"]' "name and username"

# every kind
kinds='image audio video file sticker location fallback share ig_reel quick_reply story_reply unsupported postback referral reaction unsend read delivery echo optin'
for k in $kinds; do
	case $k in
	location) extra=',"latitude":40.4,"longitude":-3.7' ;;
	quick_reply|story_reply) extra=',"text":"t"' ;;
	reaction|unsend|delivery) extra=",\"reply_to\":\"$MIDU\"" ;;
	echo) extra=',"text":"from Page Inbox"' ;;
	optin) extra=',"raw":{"payload":"P"}' ;;
	*) extra='' ;;
	esac
	sb_mg "{\"from\":\"$U\",\"to\":\"$MG_PAGE\",\"type\":\"$k\"$extra}" >/dev/null
done
shapes=$(hooks "$EV.sender.id==\"$U\" or $EV.recipient.id==\"$U\"" | jq -r "$EV | if .message then (if .message.is_echo then \"echo\" elif .message.is_deleted then \"unsend\" elif .message.is_unsupported then \"unsupported\" elif .message.quick_reply then \"quick_reply\" elif .message.reply_to.story then \"story_reply\" elif .message.attachments then (.message.attachments[0] | if .payload.sticker_id then \"sticker\" else .type end) else \"text\" end) else (keys - [\"sender\",\"recipient\",\"timestamp\"])[0] end" | tail -n 20 | tr '\n' ' ')
is "$shapes" "$(echo $kinds) " "every simulated kind has Meta's shape"
h=$(hooks "$EV.message.is_echo == true and $EV.message.text==\"from Page Inbox\"")
is "$(jq -c "[$EV.sender.id, $EV.recipient.id, $EV.message.app_id]" <<<"$h")" \
    "[\"$MG_PAGE\",\"$U\",263902037430900]" "an echo from Page Inbox: from the Page, Page Inbox's app id"
h=$(hooks "$EV.reaction != null" | tail -n 1)
is "$(jq -c "$EV.reaction" <<<"$h")" "{\"mid\":\"$MIDU\",\"action\":\"react\",\"reaction\":\"love\",\"emoji\":\"❤\"}" \
    "a reaction names the mid"
sb_mg "{\"from\":\"$IU\",\"to\":\"$MG_IG\",\"type\":\"read\",\"reply_to\":\"$MIDI\"}" >/dev/null
is "$(hooks ".object==\"instagram\" and $EV.read != null" | tail -n 1 | jq -c "$EV.read")" \
    "{\"mid\":\"$MIDI\"}" "an Instagram read names the mid"
sb_mg "{\"from\":\"$U\",\"to\":\"$MG_PAGE\",\"text\":\"standby\",\"standby\":true}" >/dev/null
is "$(hooks '.entry[0].standby != null' | jq -r '.entry[0].standby[0].message.text')" standby \
    "standby: in entry[].standby[]"
out=$(sb_mg "{\"from\":\"$U\",\"batch\":[{\"to\":\"$MG_PAGE\",\"text\":\"b1\"},{\"to\":\"$P2\",\"text\":\"b2\"},{\"to\":\"$MG_PAGE\",\"text\":\"b3\"}]}")
h=$(hooks "[.entry[].messaging[]?.message.text] == [\"b1\",\"b3\",\"b2\"]")
is "$(jq -c '[.entry[] | [.id, (.messaging | length)]]' <<<"$h")" \
    "[[\"$MG_PAGE\",2],[\"$P2\",1]]" "a batch over two Pages: one entry each"
out=$(sb_mg "{\"from\":\"$U\",\"batch\":[{\"to\":\"$MG_PAGE\",\"text\":\"x\"},{\"to\":\"$MG_IG\",\"text\":\"y\"}]}")
like "$out" '^\{"error":"a batch is of one object' "a batch mixing Pages and Instagram: refused"
out=$(sb_mg "{\"from\":\"$U\",\"to\":\"$MG_PAGE\",\"text\":\"twice\",\"dup\":2}")
like "$out" '"statuses":\[0,0,0\]' "dup 2: posted three times"
out=$(sb_mg "{\"from\":\"$U\",\"to\":\"999\",\"text\":\"x\"}")
like "$out" '"error":"\\"to\\" must be a Page' "an unknown Page: refused"

# --- the Send API
is "$(send "$(text $U 'On its way!')")" 200 "a text to a customer who wrote: 200"
MO=$(ans .message_id)
is "$(ans .recipient_id)" "$U" "recipient_id"
like "$MO" '^m_' "message_id"
ok "then the echo, a delivery and a read" wait_hooks 10 "$EV.message.mid==\"$MO\" or $EV.delivery.mids[0]==\"$MO\" or ($EV.read.watermark != null and $EV.timestamp > 0)" 3
h=$(hooks "$EV.message.mid==\"$MO\"")
is "$(jq -c "[$EV.sender.id, $EV.message.is_echo, $EV.message.metadata, $EV.message.text, ($EV.message.app_id|tostring)]" <<<"$h")" \
    "[\"$MG_PAGE\",true,\"parley:m_1\",\"On its way!\",\"1517776481860111\"]" "the echo: ours, with our metadata and the app's id"
is "$(send "$(jq -nc --arg u $U '{recipient:{id:$u},message:{text:"hi"}}')" me)" 200 "/me/messages: the token's Page"
is "$(send "$(jq -nc --arg u $U '{recipient:{id:$u},messaging_type:"RESPONSE",message:{text:("x"*2001)}}')")" 400 \
    "2,001 characters: 400"
is "$(ans .error.code)" 100 "code 100"
is "$(send "$(jq -nc --arg u $U '{recipient:{id:$u},message:{text:"q",quick_replies:[range(14)|{content_type:"text",title:"t",payload:"p"}]}}')")" 400 \
    "14 quick replies: 400"
is "$(send "$(jq -nc --arg u $U '{recipient:{id:$u},message:{text:"t"},messaging_type:"MESSAGE_TAG"}')")" 400 \
    "MESSAGE_TAG without a tag: 400"

# upload once, send by id
printf '\x89PNG\r\n\x1a\nsandbox' >"$T_HOME/pic.png"
code=$(curl -s -m 20 -o "$T_HOME/ans" -w '%{http_code}' \
    -F 'message={"attachment":{"type":"image","payload":{"is_reusable":true}}}' \
    -F "filedata=@$T_HOME/pic.png;type=image/png" \
    "$SANDBOX_URL/$V/$MG_PAGE/message_attachments?access_token=$TOK")
is "$code" 200 "the upload API: 200"
AID=$(ans .attachment_id)
like "$AID" '^[0-9]+$' "an attachment_id"
sleep 1.1	# under the rate of 2 a second
is "$(send "$(jq -nc --arg u $U --arg a "$AID" '{recipient:{id:$u},message:{attachment:{type:"image",payload:{attachment_id:$a}}}}')")" 200 \
    "a send by that attachment_id: 200"
is "$(send "$(jq -nc --arg u $U '{recipient:{id:$u},message:{attachment:{type:"image",payload:{attachment_id:"42"}}}}')")" 400 \
    "an unknown attachment_id: 400"
sleep 1.1
is "$(send "$(jq -nc --arg u $U '{recipient:{id:$u},message:{attachment:{type:"image",payload:{url:"https://example.test/a.png",is_reusable:true}}}}')")" 200 \
    "an attachment by URL, reusable: 200"
like "$(ans .attachment_id)" '^[0-9]+$' "with an attachment_id to reuse"

# --- windows
now=$(date +%s)
sb_mg "{\"from\":\"6543210987650030\",\"to\":\"$MG_PAGE\",\"text\":\"old\",\"ts\":$((now - 30 * 3600))}" >/dev/null
sleep 1.1	# a new second for the rate
is "$(send "$(text 6543210987650030 late)")" 400 "30 hours later: 400"
is "$(ans '[.error.code, .error.error_subcode]')" '[10,2018278]' "10/2018278"
is "$(send "$(jq -nc '{recipient:{id:"6543210987650030"},messaging_type:"MESSAGE_TAG",tag:"HUMAN_AGENT",message:{text:"a person"}}')")" 200 \
    "with MESSAGE_TAG HUMAN_AGENT: 200"
sb_mg "{\"from\":\"987654321010008\",\"to\":\"$MG_IG\",\"text\":\"old\",\"ts\":$((now - 8 * 86400))}" >/dev/null
is "$(send "$(jq -nc '{recipient:{id:"987654321010008"},messaging_type:"MESSAGE_TAG",tag:"HUMAN_AGENT",message:{text:"too late"}}')")" 400 \
    "Instagram, 8 days later, even tagged: 400"
is "$(ans '[.error.code, .error.error_subcode]')" '[10,2534022]' "10/2534022"

# --- the rate: 2 a second per Page (6 sends at once: the first two only)
sleep 1.1
body=$(text $U burst)
pids=""
for i in 1 2 3 4 5 6; do
	curl -s -m 20 -o "$T_HOME/rate$i" -w '%{http_code}\n' \
	    -H 'Content-Type: application/json' --data-binary "$body" \
	    "$SANDBOX_URL/$V/$MG_PAGE/messages?access_token=$TOK" \
	    >"$T_HOME/rcode$i" &
	pids="$pids $!"
	bg_track $!
done
for p in $pids; do wait "$p"; bg_untrack "$p"; done
n200=$(cat "$T_HOME"/rcode[0-9] | grep -c '^200$')
ok "at most 2 of 6 sends at once are taken ($n200)" test "$n200" -le 2
is "$(cat "$T_HOME"/rate[0-9] | jq -r 'select(.error) | .error.code' | sort -u)" 613 \
    "the others are refused with 613"
# --- faults: subcodes, repeats, reordering
sleep 1.1
sb_fault "{\"api\":\"messenger\",\"to\":\"$U\",\"http\":400,\"code\":190,\"subcode\":460}" >/dev/null
is "$(send "$(text $U f1)")" 400 "a fault: 400"
is "$(ans '[.error.code, .error.error_subcode]')" '[190,460]' "with its code and subcode"
sb_fault "{\"api\":\"messenger\",\"to\":\"$U\",\"repeat\":2,\"reorder\":true}" >/dev/null
send "$(text $U f2)" >/dev/null
MF=$(ans .message_id)
ok "repeat 2: the echo is posted twice" wait_hooks 10 "$EV.message.mid==\"$MF\"" 2
n_before=$(sb_get "/sandbox/received?api=messenger&kind=webhook" | jq -r "select(.params.entry[0].messaging[0].message.mid==\"$MF\") | .n" | head -n 1)
n_read=$(sb_get "/sandbox/received?api=messenger&kind=webhook" | jq -r "select(.params.entry[0].messaging[0].read != null) | .n" | tail -n 2 | head -n 1)
ok "reorder: the read came before the echo" test "$n_read" -lt "$n_before"

# --- tokens that die
sb_post /sandbox/messenger/token "{\"page\":\"$MG_PAGE\",\"subcode\":458}" >/dev/null
is "$(send "$(text $U dead)")" 400 "a dead token: 400"
is "$(ans '[.error.code, .error.error_subcode]')" '[190,458]' "190/458"
( umask 077; echo "a-fresh-token" >"$MG_TOKEN_FILE" )
is "$(api GET "/$V/$MG_PAGE?fields=name" "" a-fresh-token)" 200 "a new token in the file works at once"

# --- reset
sb_post /sandbox/reset '{}' >/dev/null
is "$(send "$(text $U after-reset)" "" a-fresh-token)" 400 "after /sandbox/reset the customer is unknown again"
