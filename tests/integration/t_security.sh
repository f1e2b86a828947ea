#!/bin/bash
# t_security — agents are untrusted (issue 9): run as throwaway Unix users
# mapped as agents, the way an agent's own login reaches the sockets, every
# frame that only a daemon may send is refused "denied" and changes
# nothing (a forged customer message, a forged STOP, a forged status, an
# "out" straight to smsd or whatsappd, a token reload, a purge, a forged
# blacklist report); a demoted admin's and a deleted agent's open
# `msg tail -f` are cut off; `msg tail --conv` and `msg transcript` of a
# conversation of another campaign exit 1 with the reason; 1,100 idle
# connections from one agent are capped at bus_max_per_user while root's
# `msg ping routerd` and a signed webhook are still served; frames that
# never finish are dropped at bus_frame_timeout_ms and bounded by
# bus_input_budget_mb; a subscriber that stops reading is dropped past
# subscriber_queue_kb and a reader that catches up resumes from its seq
# without a gap.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv"
[ -x "$PARLEY_TOOLS/bustool" ] || bail "$PARLEY_TOOLS/bustool is not built"
[ -x "$PARLEY_TOOLS/loadgen" ] || bail "$PARLEY_TOOLS/loadgen is not built"

plan 64
stack_home
conf_set bus_frame_timeout_ms 2000
conf_set bus_input_budget_mb 16
conf_set subscriber_queue_kb 64
conf_set subscriber_stall_ms 2000
stack_start

ALPHA=+15550101000
BETA=+15550202000
RSOCK=$T_HOME/run/routerd.sock
SSOCK=$T_HOME/run/smsd.sock
WSOCK=$T_HOME/run/whatsappd.sock
CSOCK=$T_HOME/run/campaignd.sock
A=parleysa$$	# ann, an agent of alpha
B=parleysb$$	# bea, an admin who will be demoted
C=parleysc$$	# cid, an agent who will be deleted

exits 0 "campaign alpha" msg campaign create alpha --sms "$ALPHA"
exits 0 "campaign beta" msg campaign create beta --sms "$BETA"
tuser_add "$A"
tuser_add "$B"
tuser_add "$C"
msg agent add ann --user "$A" --role agent >/dev/null
msg member add alpha ann >/dev/null
msg agent add bea --user "$B" --role admin >/dev/null
msg agent add cid --user "$C" --role agent >/dev/null
msg member add alpha cid >/dev/null
camp_launch alpha beta || bail "launch alpha, beta"

# denied DESC SOCKET JSON: as ann, the frame is answered "denied".
denied() {
	local out rc
	out=$(as_user "$A" bustool req "$2" "$3" 2>&1) && rc=0 || rc=$?
	if [ "$rc" = 1 ] && [[ $out == *'"code":"denied"'* ]]; then
		pass "$1"
	else
		fail "$1" "exit $rc" "$out"
	fi
}

# a customer of beta, answered by root, so there is a sent message
CB=+15557300001
sb_sms "$CB" "$BETA" "hello beta" >/dev/null
cbeta=$(wait_event 10 ".type==\"message\" and .text==\"hello beta\"" |
    jq -r .conv)
like "$cbeta" '^c_' "a conversation in beta"
CA=+15557300002
sb_sms "$CA" "$ALPHA" "hello alpha" >/dev/null
calpha=$(wait_event 10 ".type==\"message\" and .text==\"hello alpha\"" |
    jq -r .conv)
like "$calpha" '^c_' "a conversation in alpha"
exits 0 "root replies in beta" msg send --conv "$cbeta" "beta answer"
ev=$(wait_event 15 ".type==\"status\" and .conv==\"$cbeta\" and .status==\"sent\"")
PID=$(jq -r .pid <<<"$ev")
MID=$(jq -r .id <<<"$ev")
like "$PID" '^SM' "the reply was sent (provider id $PID)"

# ------------------------------------------------------ forged frames
NOW=$(date +%s%3N)
denied "an agent's forged inbound message (in) is denied" "$RSOCK" \
    "{\"t\":\"in\",\"channel\":\"sms\",\"pid\":\"SMforged1\",\"from\":\"$CB\",\"to\":\"$BETA\",\"ts\":$NOW,\"text\":\"forged hello\"}"
denied "an agent's forged STOP is denied" "$RSOCK" \
    "{\"t\":\"in\",\"channel\":\"sms\",\"pid\":\"SMforged2\",\"from\":\"$CB\",\"to\":\"$BETA\",\"ts\":$NOW,\"text\":\"STOP\"}"
denied "an agent's forged status (st) is denied" "$RSOCK" \
    "{\"t\":\"st\",\"channel\":\"sms\",\"pid\":\"$PID\",\"status\":\"failed\",\"code\":\"30003\",\"ts\":$NOW}"
denied "an agent's purge is denied" "$RSOCK" '{"t":"purge","campaign":"beta"}'
denied "an agent's out frame to smsd is denied" "$SSOCK" \
    "{\"t\":\"out\",\"msg\":\"m_forged\",\"channel\":\"sms\",\"from\":\"$BETA\",\"to\":\"+15557399999\",\"text\":\"sent past every check\"}"
denied "an agent's out frame with a secret as its file is denied" "$WSOCK" \
    "{\"t\":\"out\",\"msg\":\"m_forged2\",\"channel\":\"whatsapp\",\"from\":\"106540352242922\",\"to\":\"15557399998\",\"text\":\"\",\"file\":{\"path\":\"$T_HOME/secrets/twilio_auth_token\",\"name\":\"t.txt\",\"mime\":\"text/plain\",\"size\":33}}"
denied "an agent's chtoken is denied" "$WSOCK" '{"t":"chtoken"}'
denied "an agent's forged blacklist report is denied" "$CSOCK" \
    "{\"t\":\"cfg\",\"kind\":\"blacklist\",\"op\":\"blocked\",\"contact\":\"$CB\",\"campaign\":\"beta\",\"detail\":\"forged\"}"
sleep 1
is "$(count_events '.text=="forged hello" or .text=="STOP"')" 0 \
    "no forged message is stored"
is "$(count_events ".type==\"optout\" and .contact==\"$CB\"")" 0 \
    "the forged STOP opted no one out"
is "$(count_events ".type==\"status\" and .id==\"$MID\" and .status==\"failed\"")" 0 \
    "the forged status changed nothing"
is "$(msg transcript "$cbeta" 2>/dev/null | jq -r 'select(.type=="message") | .text' | tr '\n' '|')" \
    "hello beta|beta answer|" "beta's conversation is whole (no purge)"
is "$(sb_msgs 'p("Body")=="sent past every check"' | grep -c .)" 0 \
    "nothing reached the provider from the forged out frame"
is "$(sb_get '/sandbox/received?api=whatsapp' | jq -c 'select((.path // "") | endswith("/media"))' | grep -c .)" 0 \
    "nothing was uploaded to Meta"
is "$(msg blacklist history 2>/dev/null | grep -c forged)" 0 \
    "no forged blacklist report in its history"
ok "the refusals are logged (once per connection)" \
    grep -q 'denied: "in" frames are accepted only from the parley daemons' \
    "$T_HOME/log/routerd/current"
exits 0 "root's chtoken is still accepted" "$PARLEY_TOOLS/bustool" req "$WSOCK" '{"t":"chtoken"}'
exits 0 "an agent may still ping" as_user "$A" msg ping routerd
exits 0 "and send in its own campaign" as_user "$A" msg send --conv "$calpha" "from ann"

# ------------------------------------------------- client keys are one's own
exits 0 "root sends with key k1" msg send --conv "$calpha" --key k1 "root with k1"
exits 0 "ann sends with the same key" as_user "$A" msg send --conv "$calpha" --key k1 "ann with k1"
is "$(count_events '.type=="message" and (.text=="root with k1" or .text=="ann with k1")')" 2 \
    "both messages are stored: a key is its sender's own"
denied_send=$(as_user "$A" bustool req "$RSOCK" \
    "{\"t\":\"send\",\"conv\":\"$calpha\",\"text\":\"posing as the bot\",\"bot\":true,\"key\":\"bot:m_x\"}")
is "$(count_events '.type=="message" and .text=="posing as the bot" and (.bot // false)')" 0 \
    "a client's \"bot\" flag is not taken"

# ------------------------------------------------- visibility of a conv
exits 1 "an agent's msg tail --conv of another campaign exits 1" \
    as_user "$A" msg tail --conv "$cbeta"
like "$T_ERR" "ann is not a member of campaign beta" "and says why"
exits 1 "an agent's msg transcript of another campaign exits 1" \
    as_user "$A" msg transcript "$cbeta"
like "$T_ERR" "ann is not a member of campaign beta" "and says why"
exits 0 "its own campaign's transcript works" as_user "$A" msg transcript "$calpha"
like "$T_OUT" "hello alpha" "and shows the conversation"
exits 1 "a conversation that does not exist exits 1" \
    as_user "$A" msg transcript c_01JZZZZZZZZZZZZZZZZZZZZZZZ
like "$T_ERR" "no conversation" "and says so"

# ---------------------------------------- a role change cuts a tail off
# reap PID: its exit status in REAPED ("killed" if it still ran)
reap() {
	if ! proc_done "$1"; then
		kill -KILL "$1" 2>/dev/null
		wait "$1" 2>/dev/null
		REAPED=killed
	else
		wait "$1"
		REAPED=$?
	fi
	bg_untrack "$1"
}
as_user "$B" msg tail -f >"$T_HOME/tail_b.out" 2>"$T_HOME/tail_b.err" &
TB=$!
bg_track "$TB"
as_user "$C" msg tail -f >"$T_HOME/tail_c.out" 2>"$T_HOME/tail_c.err" &
TC=$!
bg_track "$TC"
sleep 1
sb_sms "$CB" "$BETA" "seen by the admin" >/dev/null
ok "the admin's tail sees beta's message" \
    wait_for 10 grep -q "seen by the admin" "$T_HOME/tail_b.out"
exits 0 "demote bea to agent" msg agent edit bea --role agent
ok "the demoted admin's tail ends" wait_for 10 proc_done "$TB"
reap "$TB"; rc=$REAPED
is "$rc" 1 "with exit 1"
like "$(cat "$T_HOME/tail_b.err")" "role changed" "saying the role changed"
sb_sms "$CB" "$BETA" "after the demotion" >/dev/null
wait_event 10 '.text=="after the demotion"' >/dev/null
is "$(grep -c "after the demotion" "$T_HOME/tail_b.out")" 0 \
    "it received nothing after the demotion"
exits 0 "delete agent cid" msg agent delete cid --force
ok "the deleted agent's tail ends" wait_for 10 proc_done "$TC"
reap "$TC"; rc=$REAPED
is "$rc" 1 "with exit 1"
like "$(cat "$T_HOME/tail_c.err")" "mapping was removed" "saying why"

# ------------------------------------------------ connections and frames
as_user "$A" bustool hold "$RSOCK" 1100 6 >"$T_HOME/hold.out" 2>&1 &
HOLD=$!
bg_track "$HOLD"
sleep 2
exits 0 "with 1,100 idle connections from an agent, root's ping answers" \
    msg ping -w 2 routerd
SID=$(sm_sid)
mapfile -t P < <(inbound_params "$SID" +15557300009 "$ALPHA" "through the flood")
is "$(tw_post /twilio/inbound - "${P[@]}")" 200 "and a signed webhook gets 200"
wait "$HOLD"
bg_untrack "$HOLD"
like "$(cat "$T_HOME/hold.out")" "^accepted 64 " \
    "the agent got exactly bus_max_per_user (64) connections"
like "$(grep -c 'bus_max_per_user' "$T_HOME/log/routerd/current")" '^[12]$' \
    "the refusals are logged once a minute, not once each"

rss() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$(sv_pid routerd)/status"; }
R0=$(rss)
as_user "$A" bustool hold "$RSOCK" 60 5 1000000 >"$T_HOME/partial.out" 2>&1
like "$(cat "$T_HOME/partial.out")" "closed ([0-9]+)" "partial frames: the tool ran"
n=$(sed -n 's/.*closed \([0-9]*\).*/\1/p' "$T_HOME/partial.out")
a=$(sed -n 's/accepted \([0-9]*\).*/\1/p' "$T_HOME/partial.out")
is "$n" "$a" "every connection with an unfinished 1 MB frame was dropped"
ok "by the frame deadline or the input budget" \
    grep -Eq 'did not arrive whole in time|over the input budget' \
    "$T_HOME/log/routerd/current"
R1=$(rss)
ok "routerd grew by less than $((40 * MEM_FACTOR)) MB (${R0} -> ${R1} MB)" \
    test $((R1 - R0)) -lt $((40 * MEM_FACTOR))
exits 0 "routerd still serves" msg ping -w 2 routerd

# ------------------------------------------------- a stalled subscriber
# enough events in the log to overflow a 64 KiB queue many times over
"$PARLEY_TOOLS/loadgen" inbound -u "$SMSD_URL/twilio/inbound" \
    --sig-url "$WEBHOOK_BASE/twilio/inbound" -t "$TOKEN_FILE" \
    --account "$ACCOUNT_SID" -n 1500 -c 4 --from-base +1555300000 \
    --to "$ALPHA" --prefix sec-sub --retry --timeout 120 \
    >"$T_HOME/lg.out" 2>&1
ok "1,500 inbound messages stored" wait_count 60 \
    '.type=="message" and .dir=="in" and (.text // "" | startswith("load "))' 1500
LAST=$(msg ping routerd | sed -n "s/.*seq \([0-9]*\).*/\1/p")
[ -n "$LAST" ] || LAST=$(msg tail --since 1 | tail -n 1 | jq -r .seq)
R0=$(rss)
out=$(as_user "$A" bustool stall "$RSOCK" 8)
is "$out" closed "a subscriber that never reads is dropped"
ok "with a log line naming subscriber_queue_kb" \
    grep -q 'subscriber_queue_kb' "$T_HOME/log/routerd/current"
R1=$(rss)
ok "routerd's memory stayed bounded (${R0} -> ${R1} MB)" test $((R1 - R0)) -lt 20

# a reader that stops for a while, then catches up: no gap.  msg tail
# itself holds up to a frame's worth (1 MiB) and the kernel some more, so
# the log needs several MiB to overflow routerd's 64 KiB queue behind it.
"$PARLEY_TOOLS/loadgen" inbound -u "$SMSD_URL/twilio/inbound" \
    --sig-url "$WEBHOOK_BASE/twilio/inbound" -t "$TOKEN_FILE" \
    --account "$ACCOUNT_SID" -n 6000 -c 4 --from-base +1555400000 \
    --to "$ALPHA" --prefix sec-more --retry --timeout 120 \
    >"$T_HOME/lg2.out" 2>&1
LAST=$(msg ping routerd | sed -n "s/.*seq \([0-9]*\).*/\1/p")
( sh -c 'echo $$ >"$0"; exec msg tail -f --since 1' "$T_HOME/tf.pid" \
    2>"$T_HOME/resume.err" | { sleep 8; exec cat; } >"$T_HOME/resume.out" ) &
RD=$!
bg_track "$RD"
ok "the slow reader catches up to the end of the log" \
    wait_for 60 sh -c "[ \$(grep -c '^{.*}\$' '$T_HOME/resume.out') -ge $LAST ]"
kill "$(cat "$T_HOME/tf.pid")" 2>/dev/null
wait_for 10 proc_done "$RD"
is "$(sed '$d' "$T_HOME/resume.out" | jq -s '[.[].seq] | . as $s | ($s | length) == ($s[-1] - $s[0] + 1) and $s[0] == 1' )" \
    true "every sequence from 1 on, once, in order"
is "$(grep -c 'queue stayed full' "$T_HOME/log/routerd/current")" 2 \
    "routerd had dropped it too (and the raw subscriber before)"
ok "msg tail said so and resumed" grep -q 'fell behind\|reconnecting' "$T_HOME/resume.err"

done_testing
