#!/bin/bash
# t_send_progress_meta — whatsappd and messengerd tell routerd how a send
# goes, as smsd does (t_send_progress): "pending" when the Graph API has it
# and no answer came yet, "retrying" with the next attempt, its time, Meta's
# code and the reason when Meta answers a transient error (500 with 131000
# on WhatsApp, 2 on Messenger), then the final state.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as an agent"
plan 7
stack_start

U=psm$$
tuser_add "$U"
as() { as_user "$U" "$@"; }
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
PN=106540352242922
C=+16505550177
PS=6543210987670001
msg agent add eve --user "$U" --role agent >/dev/null || bail "agent eve"
msg campaign create pm --whatsapp $PN --messenger "$MG_PAGE" \
    --schedule "$ALWAYS" --strategy manual >/dev/null &&
    msg member add pm eve >/dev/null && camp_launch pm || bail "campaign pm"

# ------------------------------------------------------------- WhatsApp
sb_wa "$(jq -nc --arg p $PN --arg c $C '{from:$c, name:"Omar", to:$p, text:"hello"}')" >/dev/null
CW=$(wait_event 15 '.type=="message" and .dir=="in" and .channel=="whatsapp"' | jq -r .conv)
[ -n "$CW" ] || bail "the WhatsApp conversation"
sb_fault "{\"api\":\"whatsapp\",\"to\":\"$C\",\"http\":500,\"code\":131000,\"message\":\"Something went wrong\",\"count\":1}" >/dev/null
exits 0 "eve replies on WhatsApp while Meta fails once" \
    as msg send --conv "$CW" "on WhatsApp"
M=$(jq -r .id <<<"$T_OUT")
e=$(wait_event 15 ".type==\"status\" and .id==\"$M\" and .status==\"retrying\"")
is "$(jq -c '[.attempt,.code]' <<<"$e")" '[2,"131000"]' \
    "whatsappd: retrying attempt 2, Meta's code"
ok "pending attempt 2" wait_event 15 \
    ".type==\"status\" and .id==\"$M\" and .status==\"pending\" and .attempt==2"
ok "then sent" wait_event 15 ".type==\"status\" and .id==\"$M\" and .status==\"sent\""

# ------------------------------------------------------------ Messenger
sb_mg "{\"from\":\"$PS\",\"to\":\"$MG_PAGE\",\"name\":\"Ada\",\"text\":\"hi there\"}" >/dev/null
CM=$(wait_event 15 '.type=="message" and .dir=="in" and .channel=="messenger"' | jq -r .conv)
[ -n "$CM" ] || bail "the Messenger conversation"
sb_fault "{\"api\":\"messenger\",\"to\":\"$PS\",\"http\":500,\"code\":2,\"message\":\"Temporary\",\"count\":1}" >/dev/null
exits 0 "eve replies on Messenger while Meta fails once" \
    as msg send --conv "$CM" "on Messenger"
M=$(jq -r .id <<<"$T_OUT")
e=$(wait_event 15 ".type==\"status\" and .id==\"$M\" and .status==\"retrying\"")
is "$(jq -c '[.attempt,.code,.channel]' <<<"$e")" '[2,"2","messenger"]' \
    "messengerd: retrying attempt 2, Meta's code"
ok "then sent" wait_event 15 ".type==\"status\" and .id==\"$M\" and .status==\"sent\""
