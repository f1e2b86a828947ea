#!/bin/bash
# t_route — routing through the real daemons: agents set their state, a
# campaign's strategy offers conversations (rrmemory alternates between two
# agents), an offer not claimed in time lapses to the next agent, max
# interactions are honoured under a burst of simultaneous conversations (the
# rest wait and are offered as slots free), claim, transfer, close with a
# required disposition, route --explain, and an agent refused on another
# campaign's conversation.  Agents are throwaway Unix users mapped with msg
# agent add; they run msg with lib.sh's as_user.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as agents"
plan 46
stack_start

U=prt$$
for a in a b c x; do
	tuser_add "$U$a"
done
# as AGENT COMMAND...: run msg as the agent's Unix user
as() {
	local u=$U$1
	shift
	as_user "$u" "$@"
}

# open around the clock, so the test does not depend on the day
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
for a in a b c x; do
	msg agent add "ag$a" --user "$U$a" --role agent >/dev/null ||
	    bail "msg agent add ag$a failed"
done
msg campaign create rr --sms +15550020001 --strategy rrmemory \
    --schedule "$ALWAYS" \
    --max-interactions 5 --offer-timeout 2 >/dev/null || bail "campaign rr"
msg member add rr aga >/dev/null && msg member add rr agb >/dev/null ||
    bail "members of rr"
msg campaign create other --sms +15550020009 --schedule "$ALWAYS" >/dev/null || bail "campaign other"
msg member add other agx >/dev/null || bail "member of other"
camp_launch rr other || bail "launch rr, other"

# ------------------------------------------------------------ status
exits 0 "an agent sets its state" as a msg status available
out=$(as a msg status)
like "$out" "available" "msg status shows the state"
exits 1 "an unknown status is refused" as a msg status lunchtime
exits 0 "the second agent too" as b msg status available
n=$(count_events '.type=="agent" and .agent=="aga" and .status=="available"')
is "$n" 1 "a state change is an agent event"

# ------------------------------------------------------------ rrmemory
# four customers one after another: offers alternate a, b, a, b
got=""
for i in 1 2 3 4; do
	sb_sms "+1555710000$i" +15550020001 "rr $i" >/dev/null
	o=$(wait_event 10 ".type==\"message\" and .text==\"rr $i\"")
	c=$(jq -r .conv <<<"$o")
	off=$(wait_event 10 ".type==\"offer\" and .conv==\"$c\"")
	ag=$(jq -r '.agents[0]' <<<"$off")
	got="$got$ag "
	exits 0 "$ag claims conversation $i" as "${ag#ag}" msg claim "$c"
done
is "$got" "aga agb aga agb " "rrmemory offers to the two agents alternately"
is "$(count_events '.type=="assign" and .via=="claim"')" 4 "four assign events"

# ------------------------------------------------------------ lapse
exits 0 "agent b takes a break" as b msg status break
sb_sms +15557100009 +15550020001 "will it lapse" >/dev/null
m=$(wait_event 10 '.type=="message" and .text=="will it lapse"')
c=$(jq -r .conv <<<"$m")
o1=$(wait_event 10 ".type==\"offer\" and .conv==\"$c\"")
is "$(jq -r '.agents[0]' <<<"$o1")" aga "offered to the only available agent"
exits 0 "agent b is available again" as b msg status available
l=$(wait_event 15 ".type==\"lapse\" and .conv==\"$c\"")
is "$(jq -r .agent <<<"$l")" aga "unclaimed within the timeout, the offer lapses"
like "$(jq -r .reason <<<"$l")" "within 2 s" "the lapse says why"
o2=$(wait_event 15 ".type==\"offer\" and .conv==\"$c\" and .agents[0]==\"agb\"")
is "$(jq -r '.agents[0]' <<<"$o2")" agb "then it goes to the next agent"
exits 0 "b claims it" as b msg claim "$c"
exits 1 "a can no longer claim it" as a msg claim "$c"

# ------------------------------------------------------------ explain
x=$(as a msg route --explain "$c" --json 2>/dev/null || msg route --explain "$c" --json)
like "$x" "assigned to agb" "route --explain says where it is"

# ------------------------------------------------------------ capacity
exits 0 "a campaign with one interaction per agent" msg campaign create cap \
    --sms +15550020002 --strategy ringall --max-interactions 1 \
    --schedule "$ALWAYS"
msg member add cap agc >/dev/null
camp_launch cap || bail "launch cap"
exits 0 "agent c is available" as c msg status available
pids=""
for i in 1 2 3; do
	sb_sms "+1555720000$i" +15550020002 "burst $i" >/dev/null &
	pids="$pids $!"
done
wait $pids
wait_event 10 '.type=="message" and .text=="burst 3"' >/dev/null
sleep 1
n=$(count_events '.type=="offer" and .campaign=="cap"')
is "$n" 1 "three at once, max 1: only one offer goes out"
o=$(wait_event 5 '.type=="offer" and .campaign=="cap"')
c1=$(jq -r .conv <<<"$o")
exits 0 "c claims the first" as c msg claim "$c1"
x=$(msg route --explain "$(events 'select(.type=="queue" and .campaign=="cap") | .conv' | grep -v "$c1" | head -n 1)" --json)
like "$x" "capacity" "the others wait: explain names capacity"
n=$(as c msg inbox --json | jq -s 'map(select(.campaign=="cap" and .agent=="agc")) | length')
is "$n" 1 "the agent holds exactly one"
exits 0 "closing frees the slot" as c msg close "$c1"
o=$(wait_event 10 ".type==\"offer\" and .campaign==\"cap\" and .conv!=\"$c1\"")
ok_c=$(jq -r .conv <<<"$o")
is "$([ -n "$ok_c" ] && echo offered)" offered "the next waiting conversation is offered as the slot frees"
exits 1 "at capacity a claim is refused" as c msg claim \
    "$(events 'select(.type=="queue" and .campaign=="cap") | .conv' | grep -v "$c1" | grep -v "$ok_c" | head -n 1)"
exits 0 "c claims the offered one" as c msg claim "$ok_c"
max=$(events 'select(.campaign=="cap" and (.type=="assign" or .type=="close")) | .type' |
    awk '/assign/{n++; if (n>m) m=n} /close/{n--} END{print m+0}')
is "$max" 1 "max interactions was never exceeded"

# ------------------------------------------------------------ close, transfer
exits 0 "dispositions: a campaign requiring one" msg campaign edit cap \
    --disposition-required yes
msg disposition add Sale --parents >/dev/null 2>&1 || msg disposition add Sale >/dev/null
msg disposition add Other >/dev/null && msg disposition add Sale/Won >/dev/null &&
    msg disposition assign Sale --campaign cap >/dev/null || bail "dispositions of cap"
exits 1 "close without a disposition is refused" as c msg close "$ok_c"
exits 1 "an unknown disposition is refused" as c msg close "$ok_c" --disposition Nope
exits 1 "a disposition not assigned to cap is refused" as c msg close "$ok_c" \
    --disposition Other
like "$T_ERR" 'disposition "Other" is not assigned to campaign cap' "it says why"
exits 0 "close with a disposition" as c msg close "$ok_c" --disposition Sale
e=$(wait_event 5 ".type==\"close\" and .conv==\"$ok_c\"")
is "$(jq -r .disposition <<<"$e")" Sale "the close event carries the disposition"

# transfer from a to b within rr
ca=$(as a msg inbox --json | jq -r 'select(.agent=="aga") | .conv' | head -n 1)
exits 0 "a transfers a conversation to b" as a msg transfer "$ca" --to agb
e=$(wait_event 5 ".type==\"transfer\" and .conv==\"$ca\"")
is "$(jq -c '[.from,.to]' <<<"$e")" '["aga","agb"]' "the transfer event names both"
exits 0 "a supervisor moves a conversation to another campaign" \
    msg transfer "$ca" --campaign other
e=$(wait_event 5 ".type==\"queue\" and .conv==\"$ca\" and .campaign==\"other\"")
is "$([ -n "$e" ] && echo queued)" queued "it enters the other campaign's queue"

# ------------------------------------------------------------ permissions
exits 1 "an agent is refused on another campaign's conversation" \
    as x msg claim "$c"
like "$T_ERR" "not a member of campaign rr" "the refusal says why"
exits 1 "and cannot send in it" as x msg send --conv "$c" "hello"
n=$(as x msg tail --since 1 | jq -s 'map(select(.campaign=="rr")) | length')
is "$n" 0 "msg tail shows an agent only its campaigns' events"

done_testing
