#!/bin/bash
# t_wa_rate — whatsappd's pacing per phone-number id: with whatsapp_rate 50,
# 500 messages to one number never put more than 50 into any one-second
# window at sandboxd (which itself answers 130429 over 50/s, so none may
# see that), every one is sent; and throughput errors from the API (130429,
# 80007, 4) are retried until the message goes.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 11
WA_RATE=50 SANDBOX_WA_RATE=50 stack_home
stack_start

ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
PN=106540352242999
N=500
msg campaign create rate --whatsapp $PN --schedule "$ALWAYS" >/dev/null ||
    bail "msg campaign create rate"
camp_launch rate || bail "launch rate"
sb_wa "$(jq -nc --arg p $PN '{from:"+16505550201", to:$p, name:"Rate",
    type:"text", text:"go"}')" >/dev/null
rec=$(wait_event 10 ".type==\"message\" and .contact==\"+16505550201\"") ||
    bail "the customer's message was not stored"
CONV=$(jq -r .conv <<<"$rec")

seq 1 $N | jq -Rc --arg c "$CONV" '{conv: $c, text: ("rate " + .)}' |
    msg send >"$T_HOME/sent.jsonl"
is "$?" 0 "msg send queued $N messages"
is "$(grep -c '"queued"' "$T_HOME/sent.jsonl")" $N "each one answered queued"
ACC='.answer == 200 and ((.body.text.body // "") | startswith("rate "))'
wait_wa 90 "$ACC" $N >/dev/null
is "$(sb_wa_sends "$ACC" | jq -r '.body.text.body' | sort -u | wc -l)" $N \
    "sandboxd accepted all $N"
is "$(sb_wa_sends "$ACC" | wc -l)" $N "each once"
# the most requests in any window [t, t + 1000 ms) over the accepted sends
max=$(sb_wa_sends '(.body.text.body // "") | startswith("rate ")' |
    jq -r '(.ts | capture("^(?<s>.*)\\.(?<f>[0-9]{3})Z$")) as $c |
	(($c.s + "Z") | fromdateiso8601) * 1000 + ($c.f | tonumber)' |
    sort -n | awk '
	{ t[NR] = $1 }
	END { j = 1; m = 0
	      for (i = 1; i <= NR; i++) {
		while (t[i] - t[j] >= 1000) j++
		if (i - j + 1 > m) m = i - j + 1 }
	      print m }')
diag "most sends in one second: $max"
ok "never more than 50 in any one-second window" [ "${max:-999}" -le 50 ]
is "$(sb_get '/sandbox/received?api=whatsapp' |
    jq -c 'select(.code == 130429)' | wc -l)" 0 \
    "sandboxd never had to answer 130429"
wait_count 60 ".type==\"status\" and .status==\"sent\" and .conv==\"$CONV\"" $N
is "$(count_events ".type==\"status\" and .status==\"sent\" and .conv==\"$CONV\"")" \
    $N "routerd recorded $N sent"

# throughput errors are retried
sb_fault '{"api":"whatsapp","http":400,"code":130429,"count":2}' >/dev/null
sb_fault '{"api":"whatsapp","http":400,"code":80007,"count":1}' >/dev/null
out=$(msg send --conv "$CONV" "after the limits")
X=$(jq -r .id <<<"$out")
wait_event 60 ".type==\"status\" and .id==\"$X\" and .status==\"sent\"" >/dev/null
is "$?" 0 "a message refused with 130429 twice and 80007 once is sent after all"
is "$(sb_wa_sends '.body.text.body=="after the limits"' | wc -l)" 4 \
    "after four calls"

# 131056 holds only that recipient: B's message, sent after A's, goes first
sb_wa "$(jq -nc --arg p $PN '{from:"+16505550202", to:$p, name:"Other",
    type:"text", text:"me too"}')" >/dev/null
rec=$(wait_event 10 ".type==\"message\" and .contact==\"+16505550202\"") ||
    bail "the second customer's message was not stored"
CONVB=$(jq -r .conv <<<"$rec")
sb_fault '{"api":"whatsapp","to":"16505550201","http":400,"code":131056,"count":1}' \
    >/dev/null
A=$(msg send --conv "$CONV" "pair limited" | jq -r .id)
B=$(msg send --conv "$CONVB" "not limited" | jq -r .id)
wait_event 60 ".type==\"status\" and .id==\"$A\" and .status==\"sent\"" >/dev/null
is "$?" 0 "the message held by 131056 is sent after the hold"
is "$(events "select(.type==\"status\" and .status==\"sent\" and
    (.id==\"$A\" or .id==\"$B\")) | .id" | head -n 1)" "$B" \
    "and the other recipient's message went first"
