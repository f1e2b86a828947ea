#!/bin/bash
# t_attention — needs attention by itself, through the real daemons: an
# agent-operated conversation whose customer wrote last and got no answer
# within the campaign's response time threshold is marked (an "attention"
# event without "by", the inbox's needs-attention section); it leaves when
# an agent answers, or when someone marks it "does not need attention",
# and is not marked again until the customer waits anew.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as agents"
plan 11
stack_start

U=pat$$
tuser_add "${U}a"
as() { as_user "${U}a" "$@"; }
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
OURS=+15550091001
msg agent add ada --user "${U}a" --role agent >/dev/null || bail "agent ada"
msg campaign create att --sms $OURS --strategy manual --sl-response 2 \
    --schedule "$ALWAYS" >/dev/null && msg member add att ada >/dev/null &&
    msg campaign launch att >/dev/null || bail "campaign att"

sb_sms +15557910001 $OURS "anyone there" >/dev/null
C1=$(wait_event 15 '.type=="message" and .text=="anyone there"' | jq -r .conv)
sb_sms +15557910002 $OURS "hello?" >/dev/null
C2=$(wait_event 15 '.type=="message" and .text=="hello?"' | jq -r .conv)
[ -n "$C1" ] && [ -n "$C2" ] || bail "two conversations"
e=$(wait_event 20 ".type==\"attention\" and .conv==\"$C1\" and .on")
is "$(jq -c '[.on,.by,.reason]' <<<"$e")" '[true,null,"no answer within 2 s"]' \
    "unanswered past the threshold: needs attention, by routerd itself"
is "$(as msg inbox --json | jq -r "select(.conv==\"$C1\") | .section")" attention \
    "in the inbox's needs-attention section"
exits 0 "ada answers" as msg send --conv "$C1" "here I am"
e=$(wait_event 10 ".type==\"attention\" and .conv==\"$C1\" and (.on|not)")
is "$(jq -c '[.on,.by,.reason]' <<<"$e")" '[false,"ada","answered"]' \
    "answered: it leaves needs attention"
is "$(as msg inbox --json | jq -r "select(.conv==\"$C1\") | .attention")" false \
    "the inbox says so"
ok "the other one is marked too" wait_event 20 \
    ".type==\"attention\" and .conv==\"$C2\" and .on"
exits 0 "ada says it does not need attention" as msg attention "$C2" off
sleep 7		# more than a pass of the automatic marking (5 s)
is "$(count_events ".type==\"attention\" and .conv==\"$C2\" and .on")" 1 \
    "not marked again while the customer waits on"
sb_sms +15557910002 $OURS "still there?" >/dev/null
exits 0 "ada answers C2" as msg send --conv "$C2" "yes"
sb_sms +15557910002 $OURS "ok and now?" >/dev/null
ok "waiting anew past the threshold: marked again" wait_count 20 \
    ".type==\"attention\" and .conv==\"$C2\" and .on" 2
is "$(count_events ".type==\"attention\" and .conv==\"$C2\" and .on")" 2 \
    "twice in all"
done_testing
