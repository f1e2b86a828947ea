#!/bin/bash
# t_sandbox_twilio — sandboxd standing in for Twilio's Messages API beyond
# create, on its own (no smsd: the inbound URL is a port nothing listens
# on): fetch a message, list messages filtered by To, From and DateSent and
# walk Twilio's paging to the end and back, update (redact a body, cancel a
# scheduled message, 30409 for one that is not scheduled), delete (204, then
# 20404), each with HTTP basic auth and Twilio's error envelope; every answer
# is checked with jq field by field.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

SERVICES=sandboxd	# only the sandbox: started by hand below
plan 113
stack_home
conf_set sandbox_sms_inbound_url \
    "http://127.0.0.1:$(free_port 18183)/twilio/inbound"
conf_set sandbox_status_delay_ms 5

"$PARLEY_BIN/sandboxd" -c "$PARLEY_CONF" >"$T_HOME/sandboxd.log" 2>&1 </dev/null &
SBX=$!
bg_track "$SBX"
wait_for 10 curl -fsS -m 2 "$SANDBOX_URL/sandbox/health" ||
    { diag - <"$T_HOME/sandboxd.log"; bail "sandboxd did not start"; }
pass "sandboxd serves"

TOK=$(cat "$TOKEN_FILE")
BASE=/2010-04-01/Accounts/$ACCOUNT_SID
OURS=+15557650001
OURS2=+15557650002
C1=+15551110001
C2=+15551110002
MG=MG$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
RFC2822='^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} \+0000$'

# tw METHOD PATH [CURL_ARGS...]: call the API as the account; prints the
# HTTP status, the answer goes to $T_HOME/ans (read with ans [JQ]).
tw() {
	local m=$1 p=$2
	shift 2
	curl -s -m 20 -o "$T_HOME/ans" -w '%{http_code}' -X "$m" \
	    -u "$ACCOUNT_SID:$TOK" "$@" "$SANDBOX_URL$p"
}
ans() { jq -rc "${1:-.}" "$T_HOME/ans" 2>/dev/null; }
# create TO FROM BODY [NAME=VALUE...]: create a message; prints its sid.
create() {
	local to=$1 from=$2 body=$3 a=()
	shift 3
	for kv in "$@"; do a+=(--data-urlencode "$kv"); done
	tw POST "$BASE/Messages.json" --data-urlencode "To=$to" \
	    ${from:+--data-urlencode "From=$from"} \
	    --data-urlencode "Body=$body" "${a[@]}" >/dev/null
	ans .sid
}
# list QUERY: GET the list with QUERY (already encoded); prints the status.
list() { tw GET "$BASE/Messages.json${1:+?$1}"; }
# envelope STATUS CODE DESC: the answer is Twilio's error envelope.
envelope() {
	is "$(ans '[.code,.status,.more_info,(.message|type)]')" \
	    "[$2,$1,\"https://www.twilio.com/docs/errors/$2\",\"string\"]" "$3"
}
utc_date() { date -u -d "@$(( $(date +%s) + ${1:-0} * 86400 ))" +%Y-%m-%d; }

# --- fetch ------------------------------------------------------------
S1=$(create "$C1" "$OURS" "first of seven")
like "$S1" '^SM[0-9a-f]{32}$' "create answers a message sid"
sent() { tw GET "$BASE/Messages/$S1.json" >/dev/null;
	[ "$(ans .status)" = delivered ]; }
ok "the message goes sent, then delivered, without a callback URL" \
    wait_for 10 sent
is "$(tw GET "$BASE/Messages/$S1.json")" 200 "fetch answers 200"
is "$(ans '[.sid,.account_sid,.to,.from,.body,.direction,.api_version]')" \
    "[\"$S1\",\"$ACCOUNT_SID\",\"$C1\",\"$OURS\",\"first of seven\",\"outbound-api\",\"2010-04-01\"]" \
    "fetch: sid, account, to, from, body, direction, api version"
is "$(ans '[.status,.num_segments,.num_media,.price,.price_unit,.error_code,.error_message,.messaging_service_sid]')" \
    '["delivered","1","0",null,"USD",null,null,null]' \
    "fetch: status, counts as strings, price, error fields, no service"
like "$(ans .date_created)" "$RFC2822" "date_created is RFC 2822 as Twilio writes it"
like "$(ans .date_sent)" "$RFC2822" "date_sent is set once sent"
like "$(ans .date_updated)" "$RFC2822" "date_updated too"
is "$(ans .uri)" "$BASE/Messages/$S1.json" "fetch: uri"
is "$(ans .subresource_uris.media)" "$BASE/Messages/$S1/Media.json" \
    "fetch: subresource_uris.media"
is "$(ans 'keys|length')" 20 "fetch: the resource has Twilio's 20 fields"
is "$(curl -s -m 20 -o "$T_HOME/ans" -w '%{http_code}' \
    "$SANDBOX_URL$BASE/Messages/$S1.json")" 401 "fetch without auth: 401"
envelope 401 20003 "... with code 20003 in Twilio's envelope"
is "$(curl -s -m 20 -o "$T_HOME/ans" -w '%{http_code}' \
    -u "$ACCOUNT_SID:wrong$TOK" "$SANDBOX_URL$BASE/Messages/$S1.json")" 401 \
    "fetch with a wrong token: 401"
is "$(tw GET "/2010-04-01/Accounts/AC00000000000000000000000000000999/Messages/$S1.json")" \
    401 "fetch under another account: 401"
UNKNOWN=SM0123456789abcdef0123456789abcdef
is "$(tw GET "$BASE/Messages/$UNKNOWN.json")" 404 "fetch of an unknown sid: 404"
envelope 404 20404 "... code 20404 in the envelope"
is "$(ans .message)" \
    "The requested resource $BASE/Messages/$UNKNOWN.json was not found" \
    "... naming the resource"

# --- list and paging --------------------------------------------------
SIDS=("$S1")
for i in 2 3 4 5 6 7; do
	SIDS+=("$(create "$C1" "$OURS" "message $i of seven")")
	create "$C2" "$OURS" "to another customer $i" >/dev/null
	create "$C1" "$OURS2" "from another number $i" >/dev/null
done
is "${#SIDS[@]}" 7 "seven messages from $OURS to $C1, mixed with others"
NEWEST=$(for ((i = ${#SIDS[@]} - 1; i >= 0; i--)); do echo "${SIDS[i]}"; done)
all_delivered() {
	list "To=%2B${C1#+}&PageSize=100" >/dev/null
	[ "$(ans '[.messages[].status]|unique')" = '["delivered"]' ]
}
ok "all of them delivered" wait_for 10 all_delivered

Q="To=%2B${C1#+}&From=%2B${OURS#+}"
is "$(list "$Q&PageSize=3")" 200 "list by To and From, PageSize 3: 200"
is "$(ans '[.page,.page_size,.start,.end]')" '[0,3,0,2]' \
    "page 0: page, page_size, start, end"
is "$(ans '[.messages[].sid]|join(" ")')" "$(head -n 3 <<<"$NEWEST" | paste -sd' ')" \
    "page 0 holds the three newest, newest first"
is "$(ans .first_page_uri)" "$BASE/Messages.json?$Q&PageSize=3&Page=0" \
    "first_page_uri"
is "$(ans .uri)" "$BASE/Messages.json?$Q&PageSize=3&Page=0" "uri of this page"
is "$(ans .previous_page_uri)" null "previous_page_uri is null on page 0"
is "$(ans .next_page_uri)" \
    "$BASE/Messages.json?$Q&PageSize=3&Page=1&PageToken=PA$(sed -n 3p <<<"$NEWEST")" \
    "next_page_uri: Page 1 and a PageToken after the page's last message"
is "$(jq -r --arg c "$C1" --arg o "$OURS" \
    '[.messages[]|.to==$c and .from==$o]|all' "$T_HOME/ans")" \
    true "every message on it is to $C1 from $OURS"
is "$(ans 'keys|join(",")')" \
    "end,first_page_uri,messages,next_page_uri,page,page_size,previous_page_uri,start,uri" \
    "the page has Twilio's paging fields"

# walk next_page_uri to the end
walked="" pages=0 next=$(ans .next_page_uri) pagenos="0" starts_ok=1 prev1=""
walked=$(ans '.messages[].sid')
while [ "$next" != null ] && [ "$pages" -lt 10 ]; do
	tw GET "$next" >/dev/null
	pages=$((pages + 1))
	pagenos="$pagenos $(ans .page)"
	[ "$(ans '.start == .page * .page_size and
	    .end == .start + (.messages|length) - 1')" = true ] || starts_ok=0
	[ "$pages" = 1 ] && prev1=$(ans .previous_page_uri)
	walked="$walked
$(ans '.messages[].sid')"
	next=$(ans .next_page_uri)
done
is "$pagenos" "0 1 2" "walking next_page_uri gives pages 0, 1, 2 and stops"
is "$next" null "next_page_uri is null on the last page"
is "$(ans '.messages|length')" 1 "the last page holds the one left"
is "$starts_ok" 1 "start and end count the messages before and on each page"
is "$walked" "$NEWEST" "the walk lists all seven once, newest first"
is "$prev1" \
    "$BASE/Messages.json?$Q&PageSize=3&Page=0&PageToken=PB$(sed -n 4p <<<"$NEWEST")" \
    "page 1's previous_page_uri: Page 0, PageToken before its first message"
tw GET "$prev1" >/dev/null
is "$(ans '[.messages[].sid]|join(" ")')" "$(head -n 3 <<<"$NEWEST" | paste -sd' ')" \
    "following previous_page_uri gives page 0 again"
is "$(ans '[.page,.previous_page_uri]')" '[0,null]' "... as page 0"
is "$(list "$Q&PageSize=3&Page=2")" 200 "Page=2 without a token: 200"
is "$(ans '.messages[].sid')" "$(sed -n 7p <<<"$NEWEST")" "... the third page by position"

is "$(list "To=%2B${C1#+}")" 200 "list by To only"
is "$(ans '[.page_size,(.messages|length),.next_page_uri]')" '[50,13,null]' \
    "default PageSize 50: all 13 to $C1 (both our numbers), one page"
is "$(list "From=%2B${OURS2#+}")" 200 "list by From only"
is "$(ans '[(.messages|length),(.messages|map(.from)|unique)]')" \
    "[6,[\"$OURS2\"]]" "... the six from $OURS2"
is "$(list "")" 200 "list with no filter"
is "$(ans '[(.messages|length),.first_page_uri]')" \
    "[19,\"$BASE/Messages.json?PageSize=50&Page=0\"]" \
    "... every message, and the first page's URI without filters"
is "$(list "PageSize=1000")" 200 "PageSize 1000 is allowed"
is "$(list "PageSize=1001")" 400 "PageSize 1001 is refused"
envelope 400 20001 "... 400 with code 20001"
is "$(list "PageSize=0")" 400 "PageSize 0 is refused"
is "$(list "PageToken=PAnosuchsid")" 400 "an unknown PageToken is refused"
is "$(curl -s -m 20 -o "$T_HOME/ans" -w '%{http_code}' \
    "$SANDBOX_URL$BASE/Messages.json")" 401 "list without auth: 401"
envelope 401 20003 "... code 20003"

TODAY=$(utc_date 0) YESTERDAY=$(utc_date -1) TOMORROW=$(utc_date 1)
count() { list "$1" >/dev/null; ans '.messages|length'; }
is "$(count "$Q&DateSent=$TODAY")" 7 "DateSent=today: all seven"
is "$(count "$Q&DateSent=$YESTERDAY")" 0 "DateSent=yesterday: none"
is "$(count "$Q&DateSent=${TODAY}T00:00:00Z")" 7 \
    "DateSent= a time stands for its day, as the helper libraries send a date"
is "$(count "$Q&DateSent%3C=$TODAY")" 7 "DateSent< today (on or before): seven"
is "$(count "$Q&DateSent%3C=$YESTERDAY")" 0 "DateSent< yesterday: none"
is "$(count "$Q&DateSent%3E=$TODAY")" 7 "DateSent> today (on or after): seven"
is "$(count "$Q&DateSent%3E=$TOMORROW")" 0 "DateSent> tomorrow: none"
HOUR_AGO=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
IN_HOUR=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
is "$(count "$Q&DateSent%3E=$HOUR_AGO&DateSent%3C=$IN_HOUR")" 7 \
    "DateSent> and DateSent< with times: a range"
is "$(count "$Q&DateSent%3E=$IN_HOUR")" 0 "DateSent> a time to come: none"
list "$Q&DateSent%3E=$TODAY&PageSize=2" >/dev/null
is "$(ans .first_page_uri)" \
    "$BASE/Messages.json?$Q&DateSent%3E=$TODAY&PageSize=2&Page=0" \
    "the DateSent> filter is kept in the page URIs"
next=$(ans .next_page_uri) n=$(ans '.messages|length')
while [ "$next" != null ]; do
	tw GET "$next" >/dev/null
	n=$((n + $(ans '.messages|length')))
	next=$(ans .next_page_uri)
done
is "$n" 7 "... and walking those pages finds the seven"
is "$(list "$Q&DateSent=yesterday")" 400 "a DateSent that is not a date: 400"
envelope 400 20001 "... code 20001"

# a simulated customer's SMS is listed too, as inbound and received
sb_sms "$C1" "$OURS" "a customer writes" >/dev/null
is "$(list "From=%2B${C1#+}")" 200 "list the customer's messages"
is "$(ans '.messages[0]|[.direction,.status,.to,.from,.body,.num_segments]')" \
    "[\"inbound\",\"received\",\"$OURS\",\"$C1\",\"a customer writes\",\"1\"]" \
    "a received message: direction inbound, status received"
like "$(ans '.messages[0].date_sent')" "$RFC2822" "... and its date_sent"

# --- scheduled messages and update ------------------------------------
SEND_AT=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
SCHED=$(create "$C1" "" "later, please" "MessagingServiceSid=$MG" \
    "ScheduleType=fixed" "SendAt=$SEND_AT")
like "$SCHED" '^SM[0-9a-f]{32}$' "a scheduled message is created"
is "$(tw GET "$BASE/Messages/$SCHED.json")" 200 "fetch it"
is "$(ans '[.status,.date_sent,.from,.messaging_service_sid,.num_segments]')" \
    "[\"scheduled\",null,null,\"$MG\",\"0\"]" \
    "scheduled: no date_sent, from the Messaging Service"
is "$(count "To=%2B${C1#+}")" 14 "the list has it"
is "$(count "To=%2B${C1#+}&DateSent=$TODAY")" 13 \
    "a DateSent filter leaves out what is not sent yet"
create "$C1" "" "too soon" "MessagingServiceSid=$MG" "ScheduleType=fixed" \
    "SendAt=$(date -u -d '+60 seconds' +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
envelope 400 35115 "SendAt a minute ahead: 35115"
create "$C1" "$OURS" "no service" "ScheduleType=fixed" "SendAt=$SEND_AT" >/dev/null
envelope 400 35118 "scheduling without a Messaging Service: 35118"
create "$C1" "" "no time" "MessagingServiceSid=$MG" "ScheduleType=fixed" >/dev/null
envelope 400 35111 "ScheduleType fixed without SendAt: 35111"
create "$C1" "" "odd type" "MessagingServiceSid=$MG" "ScheduleType=later" \
    "SendAt=$SEND_AT" >/dev/null
envelope 400 35126 "a ScheduleType other than fixed: 35126"

is "$(tw POST "$BASE/Messages/$SCHED.json" --data-urlencode "Body=")" 409 \
    "redacting a message that is not finished: 409"
envelope 409 20009 "... code 20009"
is "$(tw POST "$BASE/Messages/$SCHED.json" --data-urlencode "Status=canceled")" \
    200 "Status=canceled on a scheduled message: 200"
is "$(ans '[.sid,.status,.body]')" "[\"$SCHED\",\"canceled\",\"later, please\"]" \
    "... answered with the message, now canceled"
tw GET "$BASE/Messages/$SCHED.json" >/dev/null
is "$(ans .status)" canceled "fetch shows it canceled"
is "$(tw POST "$BASE/Messages/$SCHED.json" --data-urlencode "Status=canceled")" \
    400 "canceling it again: 400"
envelope 400 30409 "... 30409, as it is not scheduled any more"
is "$(tw POST "$BASE/Messages/$S1.json" --data-urlencode "Status=canceled")" \
    400 "canceling a delivered message: 400"
envelope 400 30409 "... 30409"

is "$(tw POST "$BASE/Messages/$S1.json" --data-urlencode "Body=")" 200 \
    "Body= on a delivered message redacts it: 200"
is "$(ans '[.sid,.body,.status,.to]')" "[\"$S1\",\"\",\"delivered\",\"$C1\"]" \
    "... answered with the body empty and the rest kept"
tw GET "$BASE/Messages/$S1.json" >/dev/null
is "$(ans .body)" "" "fetch shows the body redacted"
is "$(tw POST "$BASE/Messages/$S1.json" --data-urlencode "Body=new text")" 400 \
    "a non-empty Body: 400"
envelope 400 30400 "... 30400"
is "$(tw POST "$BASE/Messages/$S1.json" --data-urlencode "Body=" \
    --data-urlencode "Status=canceled")" 400 "Body and Status at once: 400"
envelope 400 30400 "... 30400"
is "$(tw POST "$BASE/Messages/$S1.json" --data-urlencode "Foo=bar")" 400 \
    "neither Body nor Status: 400"
envelope 400 30400 "... 30400"
is "$(tw POST "$BASE/Messages/$UNKNOWN.json" --data-urlencode "Body=")" 404 \
    "updating an unknown sid: 404"
envelope 404 20404 "... 20404"
is "$(curl -s -m 20 -o "$T_HOME/ans" -w '%{http_code}' --data-urlencode "Body=" \
    "$SANDBOX_URL$BASE/Messages/$S1.json")" 401 "update without auth: 401"

# --- delete -----------------------------------------------------------
S2=${SIDS[1]}
is "$(tw DELETE "$BASE/Messages/$S2.json")" 204 "DELETE a delivered message: 204"
is "$(wc -c <"$T_HOME/ans" | tr -d ' ')" 0 "... with an empty body"
is "$(tw GET "$BASE/Messages/$S2.json")" 404 "fetch after delete: 404"
envelope 404 20404 "... 20404"
is "$(tw DELETE "$BASE/Messages/$S2.json")" 404 "delete it again: 404"
envelope 404 20404 "... 20404"
is "$(tw DELETE "$BASE/Messages/$UNKNOWN.json")" 404 "delete an unknown sid: 404"
envelope 404 20404 "... 20404"
is "$(count "$Q&PageSize=100")" 6 "the list no longer has it"
list "$Q&PageSize=2&Page=1&PageToken=PA$S2" >/dev/null
is "$(ans '[.messages[].sid]|join(" ")')" "$(sed -n 7p <<<"$NEWEST")" \
    "a PageToken naming the deleted message still pages from its place"
is "$(curl -s -m 20 -o "$T_HOME/ans" -w '%{http_code}' -X DELETE \
    "$SANDBOX_URL$BASE/Messages/$S1.json")" 401 "delete without auth: 401"
is "$(tw HEAD "$BASE/Messages/$S1.json" -I)" 405 "another method on a message: 405"

# --- the received log ---------------------------------------------------
rl=$(sb_get '/sandbox/received?api=twilio' | jq -c \
    'select(.method=="GET" and (.path|endswith("/Messages.json")) and
     .params.PageSize=="3" and .params.Page==null)' | head -n 1)
is "$(jq -c '[.auth,.answer,.params.To,.params.From]' <<<"$rl")" \
    "[\"ok\",200,\"$C1\",\"$OURS\"]" \
    "a list call is in the received log with its parameters"
rl=$(sb_get '/sandbox/received?api=twilio' | jq -c \
    "select(.method==\"DELETE\" and .sid==\"$S2\")" | head -n 1)
is "$(jq -c '.answer' <<<"$rl")" 204 "a delete is logged with its answer"

done_testing
