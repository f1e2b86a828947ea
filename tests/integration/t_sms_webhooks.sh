#!/bin/bash
# t_sms_webhooks — smsd's webhook edge as Twilio and attackers see it: a
# duplicate delivery is stored once (also when the copies race), a wrong or
# missing X-Twilio-Signature gets 403 and stores nothing, a malformed body
# gets 400 and stores nothing; and the outbound failure paths driven by
# sandboxd faults: an undelivered callback with its error code, a 400 from the
# API that fails the message with code and reason, 429s that are retried
# until the message is delivered.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 32
stack_start

OURS=+15557654321
IN=/twilio/inbound
ST=/twilio/status
total() { count_events 'true'; }

# --- duplicates
SID=$(sm_sid)
mapfile -t P < <(inbound_params "$SID" +15551230201 "$OURS" "dup test")
is "$(tw_post $IN - "${P[@]}")" 200 "a signed inbound webhook gets 200"
is "$(tw_post $IN - "${P[@]}")" 200 "the same webhook again gets 200 too"
like "$(tw_answer)" '<Response' "answered with TwiML"
is "$(count_events ".pid==\"$SID\"")" 1 "it is stored once"

# Eight copies of a new webhook at the same moment: one commit batch.
SID2=$(sm_sid)
mapfile -t P2 < <(inbound_params "$SID2" +15551230202 "$OURS" "race test")
codes=$(for i in 1 2 3 4 5 6 7 8; do tw_post $IN - "${P2[@]}" & done; wait)
is "$(tr -s ' \n' ' ' <<<"$codes" | xargs)" "200 200 200 200 200 200 200 200" \
    "eight concurrent copies all get 200"
is "$(count_events ".pid==\"$SID2\"")" 1 "and are stored once"

# sandboxd posting one inbound webhook twice (it answers once both are done).
out=$(sb_sms +15551230203 "$OURS" "sandbox repeat" '{"repeat":2}')
is "$(head -n 1 <<<"$out" | jq -c '.statuses')" "[200,200]" \
    "sandboxd's two copies of a webhook both get 200"
is "$(count_events '.text=="sandbox repeat"')" 1 "a webhook delivered twice is stored once"

# --- signatures
before=$(total)
SID4=$(sm_sid)
mapfile -t P4 < <(inbound_params "$SID4" +15551230204 "$OURS" "forged")
is "$(tw_post $IN "$(tw_sign "$WEBHOOK_BASE$IN" "${P4[@]}" Extra=1)" "${P4[@]}")" 403 \
    "a wrong signature gets 403"
is "$(tw_post $IN "" "${P4[@]}")" 403 "a missing signature gets 403"
is "$(tw_post $IN "$(tw_sign "http://evil.example$IN" "${P4[@]}")" "${P4[@]}")" 403 \
    "a signature over another URL gets 403"
is "$(tw_post $IN "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" "${P4[@]}")" 403 \
    "a well-formed but wrong signature gets 403"
mapfile -t P4b < <(inbound_params "$SID4" +15551230204 "$OURS" "forged, changed body")
is "$(tw_post_raw $IN "$(tw_sign "$WEBHOOK_BASE$IN" "${P4[@]}")" "$(tw_body "${P4b[@]}")")" 403 \
    "a signature of another body gets 403"
is "$(count_events ".pid==\"$SID4\"")" 0 "nothing forged is stored"

# --- malformed bodies
SID5=$(sm_sid)
mapfile -t P5 < <(inbound_params "$SID5" +15551230205 "$OURS" "bad escape")
body="$(tw_body "${P5[@]}")&Junk=%ZZ"
is "$(tw_post_raw $IN "$(tw_sign "$WEBHOOK_BASE$IN" "${P5[@]}" "Junk=%ZZ")" "$body")" 400 \
    "a bad %-escape gets 400"
mapfile -t P6 < <(inbound_params "$(sm_sid)" +15551230206 "$OURS" "no sid" | grep -v '^MessageSid=\|^SmsSid=\|^SmsMessageSid=')
is "$(tw_post $IN - "${P6[@]}")" 400 "a signed webhook without MessageSid gets 400"
mapfile -t P7 < <(inbound_params "$(sm_sid)" +15551230207 "$OURS" "no from" | grep -v '^From=')
is "$(tw_post $IN - "${P7[@]}")" 400 "a signed webhook without From gets 400"
is "$(tw_post_raw $IN "x" "$(printf 'a=%%00')")" 400 "a NUL byte in a value gets 400"
code=$(curl -sS -m 20 -o /dev/null -w '%{http_code}' -X GET "$SMSD_URL$IN")
like "$code" '^(400|405)$' "GET on the webhook is refused (400/405)"
is "$(total)" "$before" "nothing refused was stored"
is "$(count_events '.text=="bad escape" or .text=="no sid" or .text=="no from"')" 0 \
    "no malformed webhook left a message"

# --- a status callback with a wrong signature
is "$(tw_post $ST "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" MessageSid="$SID" MessageStatus=delivered)" 403 \
    "a status callback with a wrong signature gets 403"

# --- undelivered with an error code
X=+15551230301
sb_fault "{\"api\":\"twilio\",\"to\":\"$X\",\"status\":\"undelivered\",\"error_code\":30003}" >/dev/null
msg send --to "sms:$X" --from "$OURS" "to a phone that is off" >/dev/null 2>&1
m=$(wait_event 15 '.type=="message" and .text=="to a phone that is off"' | jq -r '.id // empty')
st=$(wait_event 20 ".type==\"status\" and .id==\"$m\" and .status==\"undelivered\"") || st='{}'
is "$(jq -r '.status // empty' <<<"$st")" undelivered "an undelivered callback shows as undelivered"
is "$(jq -r '.code // empty | tostring' <<<"$st")" 30003 "with Twilio's error code 30003"
is "$(count_events ".type==\"status\" and .id==\"$m\" and .status==\"delivered\"")" 0 \
    "and never as delivered"

# --- the API refuses with 400 / 21211
Y=+15551230302
sb_fault "{\"api\":\"twilio\",\"to\":\"$Y\",\"http\":400,\"code\":21211}" >/dev/null
msg send --to "sms:$Y" --from "$OURS" "to a bad number" >/dev/null 2>&1
m=$(wait_event 15 '.type=="message" and .text=="to a bad number"' | jq -r '.id // empty')
st=$(wait_event 20 ".type==\"status\" and .id==\"$m\" and .status==\"failed\"") || st='{}'
is "$(jq -r '.status // empty' <<<"$st")" failed "a 400 from the API makes the message failed"
is "$(jq -r '.code // empty | tostring' <<<"$st")" 21211 "with the provider's code"
like "$(jq -r '.reason // empty' <<<"$st")" '.' "and its reason"
is "$(count_events ".type==\"status\" and .id==\"$m\" and .status==\"sent\"")" 0 \
    "a refused message is never sent"

# --- 429 twice, then success
Z=+15551230303
sb_fault "{\"api\":\"twilio\",\"to\":\"$Z\",\"http\":429,\"code\":20429,\"count\":2}" >/dev/null
msg send --to "sms:$Z" --from "$OURS" "after a rate limit" >/dev/null 2>&1
m=$(wait_event 15 '.type=="message" and .text=="after a rate limit"' | jq -r '.id // empty')
st=$(wait_event 30 ".type==\"status\" and .id==\"$m\" and .status==\"delivered\"") || st='{}'
is "$(jq -r '.status // empty' <<<"$st")" delivered "429s are retried until the message is delivered"
is "$(count_events ".type==\"status\" and .id==\"$m\" and .status==\"sent\"")" 1 \
    "it is sent once"
hits=$(sb_get /sandbox/faults | jq -r "[.. | objects | select(.to==\"$Z\") | .hits] | first // empty")
is "$hits" 2 "both 429s were served (the retries happened)"

done_testing
