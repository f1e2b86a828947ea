#!/bin/bash
# t_crash_dedupe — no duplicate SMS when smsd dies with sends in flight.
#
# A slow provider (sandboxd answers Twilio's create 1.5 s late) and a burst
# of outbound SMS, each with its own body, paced at 20 a second and queued
# in ten waves; smsd is SIGKILLed ten times in the middle of it, each time
# right after it started new sends of the latest wave, and runsv restarts
# it.  Those sends reached Twilio but their answers were lost; routerd
# dispatches them again, and smsd first asks Twilio's list of messages
# whether each was made.  When everything has settled, every message
# reached sandboxd's Twilio API exactly once and ends sent (or delivered)
# in routerd's event log.
#
# Before that, the guard: two identical messages whose outcome is unknown
# (routerd restarted) both find the one copy Twilio has; the first claims
# it, the second is sent anew, so each has its own provider message.  And
# WhatsApp, whose API cannot be asked: a send whose answer was lost goes
# again (at least once), and routerd counts and logs that exposure.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 24
SMS_RATE=20		# per sender: the burst lasts through the kills
stack_home
conf_set sandbox_status_delay_ms 5
stack_start

OURS=+15557654321
RUN=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
TOK=$(cat "$TOKEN_FILE")
SMSD_LOG=$T_HOME/service/smsd/log/main/current
ROUTERD_LOG=$T_HOME/service/routerd/log/main/current

# mark: the serial sandboxd's received log gives its next entry.
mark() {
	local n
	n=$(sb_get '/sandbox/received?api=twilio' | tail -n 1 | jq -r '.n // 0')
	echo $(( ${n:-0} + 1 ))
}
# creates_since N [JQ_SELECT]: Twilio create calls smsd made (answered 201)
# since entry N, one per line.
creates_since() {
	sb_get "/sandbox/received?api=twilio&kind=request&since=$1" | jq -c "
	    $JQ_DEFS select(.method==\"POST\" and
	    (.path|endswith(\"/Messages.json\")) and .answer==201 and
	    p(\"StatusCallback\") != null) | select(${2:-true})"
}
restarted_from() { p=$(sv_pid "$1"); [ -n "$p" ] && [ "$p" != "$2" ]; }

# --- the guard: two identical messages, one provider copy ---------------
CG=+15551239100
SAME="the same words twice $RUN"
ok "smsd down" svc_down smsd
A=$(msg send --to "sms:$CG" --from "$OURS" "$SAME" | jq -r .id)
B=$(msg send --to "sms:$CG" --from "$OURS" "$SAME" | jq -r .id)
# Twilio already has one copy, as if A's send had been made and its answer
# lost: made here, straight on the API, after both were queued.
X=$(curl -s -m 20 -u "$ACCOUNT_SID:$TOK" --data-urlencode "To=$CG" \
    --data-urlencode "From=$OURS" --data-urlencode "Body=$SAME" \
    "$SANDBOX_URL/2010-04-01/Accounts/$ACCOUNT_SID/Messages.json" | jq -r .sid)
M0=$(mark)
OLD=$(sv_pid routerd)
kill -KILL "$OLD"
ok "routerd restarts after SIGKILL: both messages' outcome is unknown" \
    wait_for 30 restarted_from routerd "$OLD"
ok "sv up smsd" sv -w 15 up "$(svc smsd)"
both_sent() {
	[ "$(count_events "(.id==\"$A\" or .id==\"$B\") and .type==\"status\" and .status==\"sent\"")" -ge 2 ]
}
ok "both are sent" wait_for 60 both_sent
PA=$(events "select(.id==\"$A\" and .type==\"status\" and .status==\"sent\") | .pid" | head -n 1)
PB=$(events "select(.id==\"$B\" and .type==\"status\" and .status==\"sent\") | .pid" | head -n 1)
is "$(printf '%s\n' "$PA" "$PB" | sort -u | grep -c .)" 2 \
    "each has its own provider message"
is "$(printf '%s\n' "$PA" "$PB" | grep -cx "$X")" 1 \
    "one of them is the copy Twilio already had"
is "$(creates_since "$M0" "p(\"Body\")==\"$SAME\"" | grep -c .)" 1 \
    "smsd sent the words once more, not twice"
like "$(grep -c 'already belongs to' "$ROUTERD_LOG")" '^[1-9]' \
    "routerd logged the second claim on one provider message"

# --- WhatsApp cannot be asked: at least once, and counted ---------------
PN=106540352242922
WC=+16505550909
WTEXT="whatsapp in doubt $RUN"
# routerd was restarted above: whatsappd may still be in its reconnect
# backoff, answering 503 (and Meta would deliver again).
ok "whatsappd takes a customer's message once it is back on routerd" \
    wait_for 30 sb_wa_taken "$(jq -nc --arg p $PN --arg f "$WC" \
    '{from:$f, to:$p, type:"text", text:"hello"}')"
CONVW=$(wait_event 10 ".type==\"message\" and .contact==\"$WC\"" | jq -r .conv)
sb_fault '{"api":"whatsapp","delay_ms":3000,"count":1}' >/dev/null
W=$(msg send --conv "$CONVW" "$WTEXT" | jq -r .id)
ok "a WhatsApp send reaches the Cloud API, its answer delayed" \
    wait_wa 15 ".body.text.body==\"$WTEXT\""
OLD=$(sv_pid whatsappd)
kill -KILL "$OLD"
ok "runsv restarts whatsappd after SIGKILL" wait_for 30 restarted_from whatsappd "$OLD"
ok "the message is sent" wait_event 30 \
    ".id==\"$W\" and .type==\"status\" and .status==\"sent\""
is "$(sb_wa_sends ".body.text.body==\"$WTEXT\"" | grep -c .)" 2 \
    "the Cloud API cannot be asked: sent again, so twice (at least once)"
like "$(grep -c 'whatsapp 1 (1 of unknown outcome, may arrive twice)' "$ROUTERD_LOG")" \
    '^[1-9]' "routerd counts it as a dispatch of unknown outcome on whatsapp"

# --- the burst -----------------------------------------------------------
# Queued in ten waves, one before each kill: a burst queued all at once
# ran dry before the tenth kill on a slow or busy machine (each kill and
# restart takes longer there, while smsd sends on at its rate).
CUSTS="+15551239001 +15551239002 +15551239003"
WAVE=12			# messages per customer and wave
TOTAL=$(( WAVE * 10 * 3 ))
sb_fault '{"api":"twilio","delay_ms":1500,"count":-1}' >/dev/null
M1=$(mark)
# wave K: the K-th twelve messages to each customer, queued by msg send
wave() {
	local c i p senders=""
	for c in $CUSTS; do
		for i in $(seq $(( ($1 - 1) * WAVE + 1 )) $(( $1 * WAVE ))); do
			printf '{"to":"sms:%s","from":"%s","text":"burst %s %s %d"}\n' \
			    "$c" "$OURS" "$RUN" "$c" "$i"
		done | msg send >>"$T_HOME/sent.${c#+}" 2>&1 &
		senders="$senders $!"
		bg_track $!
	done
	for p in $senders; do wait "$p"; bg_untrack "$p"; done
}

new_sends() { [ "$(creates_since "$1" "p(\"Body\")|startswith(\"burst $RUN\")" |
    grep -c .)" -ge 5 ]; }
kills=0 inflight=""
for k in 1 2 3 4 5 6 7 8 9 10; do
	m=$(mark)
	wave "$k"
	wait_for 60 new_sends "$m" || break
	pid=$(sv_pid smsd)
	[ -n "$pid" ] || break
	kill -KILL "$pid"
	kills=$((kills + 1))
	inflight="$inflight $(creates_since "$m" "p(\"Body\")|startswith(\"burst $RUN\")" | grep -c .)"
	wait_for 30 restarted_from smsd "$pid" || break
	wait_for 30 msg ping -q -w 1 smsd || break
done
cat "$T_HOME"/sent.* | jq -r '.id // empty' >"$T_HOME/ids"
is "$(sort -u "$T_HOME/ids" | grep -c .)" "$TOTAL" "msg send queued all $TOTAL"
is "$kills" 10 "smsd was SIGKILLed 10 times, each right after it started new sends"
diag "sends made by each smsd before its SIGKILL:$inflight"

jq -R . "$T_HOME/ids" | jq -s . >"$T_HOME/ids.json"
# with_status S: how many of the burst's messages have a status S event
with_status() {
	msg tail --since 1 | jq -rc --slurpfile ids "$T_HOME/ids.json" \
	    --arg s "$1" 'select(.type=="status" and .status==$s and
	     (.id as $i | $ids[0] | index($i))) | .id' | sort -u | grep -c .
}
all_sent() { [ "$(with_status sent)" -ge "$TOTAL" ]; }
ok "everything settles: all $TOTAL recorded sent" wait_for 180 all_sent
# A delivery callback Twilio posted while smsd was down is lost (Twilio
# does not retry them): such a message rightly stays "sent".
diag "delivered: $(with_status delivered) of $TOTAL"

got=$(creates_since "$M1" "p(\"Body\")|startswith(\"burst $RUN\")" |
    jq -r "$JQ_DEFS p(\"Body\")")
dups=$(( $(grep -c . <<<"$got") - $(sort -u <<<"$got" | grep -c .) ))
diag "Twilio creates for the burst: $(grep -c . <<<"$got"), duplicates: $dups"
is "$(sort -u <<<"$got" | grep -c .)" "$TOTAL" "sandboxd's Twilio API got every message"
is "$dups" 0 "... each exactly once: no body twice"

msg tail --since 1 | jq -c --slurpfile ids "$T_HOME/ids.json" \
    'select(.type=="status" and (.id as $i | $ids[0] | index($i)))' \
    >"$T_HOME/statuses"
is "$(jq -r 'select(.status=="sent") | .id' "$T_HOME/statuses" | sort | uniq -d | grep -c .)" 0 \
    "routerd recorded each as sent once"
is "$(jq -r 'select(.status=="sent") | .pid' "$T_HOME/statuses" | sort | uniq -d | grep -c .)" 0 \
    "no two messages share a provider id"
# pending (an attempt handed to Twilio) and retrying come before the end
is "$(jq -r 'select(.status!="sent" and .status!="delivered" and
    .status!="pending" and .status!="retrying") | .id' "$T_HOME/statuses" | grep -c .)" 0 \
    "every message ends sent or delivered: nothing failed"

lookups=$(sb_get "/sandbox/received?api=twilio&kind=request&since=$M1" |
    jq -c 'select(.method=="GET" and (.path|endswith("/Messages.json")))' | grep -c .)
found=$(grep -c 'already at the provider' "$SMSD_LOG")
diag "list calls smsd made: $lookups; messages it found already sent: $found"
like "$found" '^[1-9]' "smsd found sends whose answer was lost, and did not send them again"
like "$(grep -c 'dispatched again: sms [1-9]' "$ROUTERD_LOG")" '^[1-9]' \
    "routerd logs how many it dispatched again with their outcome unknown"

done_testing
