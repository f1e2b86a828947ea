#!/bin/bash
# t_campaign_first — routerd and statsd read campaignd's configuration
# straight from its LMDB environment; until campaignd has made it, they
# find none.  Here campaignd starts after routerd has already looked (an
# inbound message before campaignd runs goes to "default"), and what is
# configured the moment campaignd answers counts at once: a campaign
# created and launched, then an inbound message for its number, is routed
# to it; an agent added, then acting as that agent, is known.  (routerd
# used to look again at most once a second: a campaign or an agent made in
# that second was unseen, inbound went to "default" and the agent was told
# "you are not a parley agent".)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as an agent"
plan 5
stack_home
# campaignd does not start with the others (runsv honours ./down)
touch "$(svc campaignd)/down"
runsvdir -P "$T_HOME/service" >"$T_HOME/runsvdir.log" 2>&1 </dev/null &
T_RUNSVDIR=$!
stack_listening 30 >/dev/null || bail "the daemons did not listen"
for s in routerd smsd statsd; do
	wait_for 30 msg ping -q -w 1 "$s" || bail "$s did not answer msg ping"
done
[ -e "$T_HOME/db/campaignd/data.mdb" ] && bail "campaignd's environment is there already"

OURS=+15550131001
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
sb_sms +15557310001 "$OURS" "before campaignd" >/dev/null
e=$(wait_event 15 '.type=="message" and .text=="before campaignd"')
is "$(jq -r .campaign <<<"$e")" default \
    "without campaignd's environment, inbound goes to default"

# campaignd starts; routerd looked less than a second ago
sv up "$(svc campaignd)" >/dev/null
wait_for 30 msg ping -q -w 1 campaignd || bail "campaignd did not answer msg ping"
U=pcf$$
tuser_add "$U"
msg agent add fay --user "$U" --role agent >/dev/null || bail "agent fay"
msg campaign create first --sms "$OURS" --schedule "$ALWAYS" --strategy manual \
    >/dev/null && msg member add first fay >/dev/null && camp_launch first ||
    bail "campaign first"
sb_sms +15557310002 "$OURS" "right after" >/dev/null
e=$(wait_event 15 '.type=="message" and .text=="right after"')
is "$(jq -r .campaign <<<"$e")" first \
    "inbound right after the campaign is launched goes to it"
exits 0 "the agent added a moment ago is known to routerd" \
    as_user "$U" msg inbox
C=$(jq -r .conv <<<"$e")
exits 0 "and may claim the conversation" as_user "$U" msg claim "$C"
e=$(wait_event 10 ".type==\"assign\" and .conv==\"$C\"")
is "$(jq -r .agent <<<"$e")" fay "routerd assigned it to fay"
