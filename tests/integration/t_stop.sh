#!/bin/bash
# t_stop — stopping a campaign acts, through the real daemons: on a number
# it provisioned, a late reply is refused (exit 1 with the reason), its
# waiting conversations are closed ("campaign ended", an event each) and
# the number is released for another campaign; on a reusable number, its
# waiting conversations move to the next active campaign listing the number
# and later inbound goes there; on a terminal, stop asks first unless --yes.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as agents"
plan 17
stack_start

U=pst$$
tuser_add "${U}a"
tuser_add "${U}b"
as() { local u=$U$1; shift; as_user "$u" "$@"; }
conv_of() {
	wait_event 15 ".type==\"message\" and .dir==\"in\" and .text==\"$1\""
}
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
P=+15550101001		# provisioned to prov
R=+15550101002		# reusable: reu1, then reu2
msg agent add ada --user "${U}a" --role agent >/dev/null || bail "ada"
msg agent add bob --user "${U}b" --role agent >/dev/null || bail "bob"
for c in prov reu1 reu2; do
	n=$R; [ $c = prov ] && n=$P
	msg campaign create $c --sms $n --strategy manual --schedule "$ALWAYS" \
	    >/dev/null || bail "campaign $c"
done
msg campaign edit prov --provisioned $P >/dev/null || bail "provision"
msg member add prov ada >/dev/null && msg member add reu1 ada >/dev/null &&
    msg member add reu2 bob >/dev/null || bail "members"
camp_launch prov reu1 reu2 || bail "launch"

# -------------------------------------------------------- provisioned
sb_sms +15571010001 $P "held one" >/dev/null
CH=$(conv_of "held one" | jq -r .conv)
sb_sms +15571010002 $P "waiting one" >/dev/null
CW=$(conv_of "waiting one" | jq -r .conv)
[ -n "$CH" ] && [ -n "$CW" ] || bail "conversations of prov"
exits 0 "ada claims one" as a msg claim "$CH"
t=$(printf 'n\n' | script -qefc "msg campaign stop prov" /dev/null 2>&1 | tr -d '\r')
like "$t" 'Stop campaign prov for good.*\[y/N\].*prov was not stopped' \
    "on a terminal stop asks; no keeps it"
like "$t" 'provisioned \(released\): 1 conversation waiting closed \(campaign ended\), 1 conversation held by agents stay with them' \
    "saying how many each rule closes and how many agents hold"
like "$t" 'on reusable numbers: 0 conversations waiting moved' \
    "and how many it moves"
is "$(msg campaign show prov | jq -r .state)" active "still active"
exits 0 "stop prov --yes" msg campaign stop prov --yes
exits 1 "a late reply in its name is refused" as a msg send --conv "$CH" "late"
like "$T_ERR" 'campaign prov has ended' "saying the campaign has ended"
e=$(wait_event 15 ".type==\"close\" and .conv==\"$CW\"")
is "$(jq -c '[.reason,.by,.campaign]' <<<"$e")" '["campaign ended","parley","prov"]' \
    "its waiting conversation is closed: campaign ended"
is "$(msg inbox --json | jq -r "select(.conv==\"$CW\") | .conv")" "" \
    "it left the inbox"
exits 0 "the number is released: another campaign provisions it" \
    msg campaign create prov2 --sms $P --provisioned $P
is "$(count_events ".type==\"message\" and .dir==\"out\" and .text==\"late\"")" 0 \
    "nothing was sent in prov's name"

# ----------------------------------------------------------- reusable
sb_sms +15571010003 $R "to reu1" >/dev/null
m=$(conv_of "to reu1")
is "$(jq -r .campaign <<<"$m")" reu1 "the oldest active campaign takes the number"
CR=$(jq -r .conv <<<"$m")
exits 0 "stop reu1" msg campaign stop reu1 --yes
e=$(wait_event 15 ".type==\"transfer\" and .conv==\"$CR\"")
is "$(jq -c '[.campaign,.to_campaign,.reason]' <<<"$e")" '["reu1","reu2","campaign ended"]' \
    "its waiting conversation moves to reu2"
ok "and waits in reu2's queue" wait_event 10 \
    ".type==\"queue\" and .conv==\"$CR\" and .campaign==\"reu2\""
sb_sms +15571010004 $R "after the stop" >/dev/null
is "$(conv_of "after the stop" | jq -r .campaign)" reu2 \
    "later inbound on the number goes to reu2"
done_testing
