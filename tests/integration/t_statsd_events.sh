#!/bin/bash
# t_statsd_events — the events routerd logs for statsd's figures, through
# the real daemons: an agent's status change with its reason, a queue entry
# (entry_ts and the thresholds in force), its assignment by a claim, its
# first agent reply (the answer event, with the wait), the close; and a
# second customer nobody answers, abandoned by routerd when the wait
# reaches the campaign's dropout threshold (the abandon event, once).  Each
# is seen in msg tail and its figure in msg stats; a rebuild from the log
# stores what the live fold stored.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as agents"
plan 29
stack_start
trap stack_stop EXIT

U=pst$$
tuser_add "${U}a"
as() { as_user "${U}a" "$@"; }
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
OURS=+15550050001
msg agent add ann --user "${U}a" --role agent >/dev/null || bail "agent ann"
msg statusdef add lunch --kind break --label Lunch >/dev/null || bail "statusdef"
# a 30 s service level, a 60 s dropout (3 s for the second customer);
# agents pick from the queue
msg campaign create desk --sms "$OURS" --strategy manual --threshold-sl 30 \
    --threshold-dropout 60 --schedule "$ALWAYS" >/dev/null || bail "campaign desk"
msg member add desk ann >/dev/null || bail "member ann"
camp_launch desk || bail "launch desk"

stat_of() { msg stats --campaign desk | jq -r "select(.type==\"$1\") | $2"; }
agent_of() { msg stats --agent ann | jq -r "select(.type==\"agent\" and .agent==\"ann\") | $1"; }

# --- an agent's status, with a reason
exits 0 "ann goes to lunch, with a reason" as msg status lunch back at two
e=$(wait_event 5 '.type=="agent" and .agent=="ann"')
is "$(jq -c '[.status,.kind,.reason]' <<<"$e")" '["lunch","break","back at two"]' \
    "msg tail: the agent event has the status, its kind and the reason"
lunch() { [ "$(agent_of .reason)" = "back at two" ]; }
ok "msg stats: ann on a break, the reason shown" wait_for 5 lunch
is "$(agent_of .kind)" break "msg stats: ann's kind is break"
exits 0 "ann is available" as msg status available
e=$(wait_event 5 '.type=="agent" and .agent=="ann" and .status=="available"')
is "$(jq -r .prev <<<"$e")" lunch "the next agent event names the previous status"

# --- an entry: claimed, answered, closed
sb_sms +15557500001 "$OURS" "hello desk" >/dev/null
C1=$(wait_event 10 '.type=="message" and .text=="hello desk"' | jq -r .conv)
[ -n "$C1" ] || bail "the first conversation"
q=$(wait_event 5 ".type==\"queue\" and .conv==\"$C1\"")
is "$(jq -c '[.campaign,.channel,.sl_s,.dropout_s]' <<<"$q")" '["desk","sms",30,60]' \
    "msg tail: the queue event carries the channel and the thresholds in force"
like "$(jq -r .entry_ts <<<"$q")" '^20[0-9-]+T' "the queue event names its entry (entry_ts)"
exits 0 "ann claims it" as msg claim "$C1"
e=$(wait_event 5 ".type==\"assign\" and .conv==\"$C1\"")
is "$(jq -c '[.agent,.via]' <<<"$e")" '["ann","claim"]' "msg tail: assign, by claim"
is "$(count_events ".type==\"answer\" and .conv==\"$C1\"")" 0 "a claim alone does not answer"
sleep 1
exits 0 "ann replies" as msg send --conv "$C1" "Hi, how can I help?"
a=$(wait_event 5 ".type==\"answer\" and .conv==\"$C1\"")
is "$(jq -c '[.agent,.channel,.entry_ts==$q.entry_ts]' --argjson q "$q" <<<"$a")" \
    '["ann","sms",true]' "msg tail: the answer event names the agent and the entry"
wait_ms=$(jq -r .wait_ms <<<"$a")
[ "$wait_ms" -ge 1000 ] && [ "$wait_ms" -lt 10000 ] &&
    pass "the answer's wait is the reply less the entry ($wait_ms ms)" ||
    fail "the answer's wait" "wait_ms: $wait_ms"
is "$(jq -r .msg <<<"$a")" "$(wait_event 5 ".type==\"message\" and .dir==\"out\" and .conv==\"$C1\"" | jq -r .id)" \
    "the answer names the reply"
exits 0 "ann replies again" as msg send --conv "$C1" "Anything else?"
sleep 0.5
is "$(count_events ".type==\"answer\" and .conv==\"$C1\"")" 1 "only the first reply answers"
ans() { [ "$(stat_of campaign .answered)" = 1 ]; }
ok "msg stats: answered 1" wait_for 5 ans
want=$(awk -v w="$wait_ms" 'BEGIN { printf "%.3f", w / 1000 }')
is "$(stat_of campaign '.avg_wait * 1000 | round / 1000' | awk '{ printf "%.3f", $1 }')" "$want" \
    "msg stats: avg_wait is the answer's wait"
exits 0 "ann closes it" as msg close "$C1"
e=$(wait_event 5 ".type==\"close\" and .conv==\"$C1\"")
is "$(jq -r .agent <<<"$e")" ann "msg tail: the close names ann"
done1() { [ "$(stat_of campaign .handled)" = 1 ] && [ "$(agent_of .completed)" = 1 ]; }
ok "msg stats: handled 1, ann completed 1" wait_for 5 done1

# --- nobody answers: abandoned at the dropout threshold, by routerd
msg campaign edit desk --threshold-dropout 3 >/dev/null || bail "dropout 3 s"
sb_sms +15557500002 "$OURS" "anyone?" >/dev/null
C2=$(wait_event 10 '.type=="message" and .text=="anyone?"' | jq -r .conv)
[ -n "$C2" ] || bail "the second conversation"
e=$(wait_event 10 ".type==\"abandon\" and .conv==\"$C2\"")
is "$(jq -c '[.reason,.dropout_s,.sl_s]' <<<"$e")" '["dropout",3,30]' \
    "msg tail: an abandon event at the dropout threshold"
w=$(jq -r .wait_ms <<<"$e")
[ "$w" -ge 3000 ] && [ "$w" -lt 8000 ] && pass "abandoned as its wait reached 3 s ($w ms)" ||
    fail "the abandon's wait" "wait_ms: $w"
abn() { [ "$(stat_of campaign .abandoned_timeout)" = 1 ]; }
ok "msg stats: abandoned at the threshold 1" wait_for 5 abn
is "$(stat_of waiting .abandoned)" true "msg stats: the customer still waits, flagged abandoned"
sleep 2
is "$(count_events ".type==\"abandon\" and .conv==\"$C2\"")" 1 "abandoned once"

# --- a threshold made shorter applies to a customer already waiting:
# routerd computes every deadline again once campaignd has committed since
# it last did (looked at every 10 s)
msg campaign edit desk --threshold-dropout 120 >/dev/null || bail "dropout 120 s"
sb_sms +15557500003 "$OURS" "still there?" >/dev/null
C3=$(wait_event 10 '.type=="message" and .text=="still there?"' | jq -r .conv)
[ -n "$C3" ] || bail "the third conversation"
sleep 1
msg campaign edit desk --threshold-dropout 2 >/dev/null || bail "dropout 2 s"
e=$(wait_event 25 ".type==\"abandon\" and .conv==\"$C3\"")
is "$(jq -c '[.reason,.dropout_s]' <<<"$e")" '["dropout",2]' \
    "a customer waiting when the threshold is shortened is abandoned by the new one"

# --- a rebuild from the log stores what the live fold stored
sv -w 10 down "$(svc statsd)" >/dev/null
statsd -p >"$T_HOME/live.txt" 2>"$T_HOME/p.err"
statsd -r -x -D "$T_HOME/rebuilt" >"$T_HOME/rb.out" 2>&1
statsd -p -D "$T_HOME/rebuilt" >"$T_HOME/rebuilt.txt" 2>>"$T_HOME/p.err"
if [ -s "$T_HOME/live.txt" ] && cmp -s "$T_HOME/live.txt" "$T_HOME/rebuilt.txt"; then
	pass "the rebuild equals the live fold ($(wc -l <"$T_HOME/live.txt") records)"
else
	fail "the rebuild equals the live fold" "$(diff "$T_HOME/live.txt" "$T_HOME/rebuilt.txt" | head -c 1500)"
fi
sv up "$(svc statsd)" >/dev/null

done_testing
