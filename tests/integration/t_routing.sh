#!/bin/bash
# t_routing — routerd reads campaignd's configuration read-only: an inbound
# SMS goes to the campaign that owns the number it was sent to; an address
# no campaign owns goes to "default"; on a disabled campaign, or a disabled
# channel of an enabled one, the message is stored (never lost) but marked
# not routed, with the reason, on the message and on the conversation.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

plan 16
stack_start

exits 0 "a campaign owns +15550003333" msg campaign create support \
    --sms +15550003333
exits 0 "another owns +15550004444" msg campaign create sales \
    --sms +15550004444
camp_launch support sales || bail "launch support, sales"

sb_sms +15557000001 +15550003333 "hello support" >/dev/null
m=$(wait_event 10 '.type=="message" and .text=="hello support"')
is "$(jq -r .campaign <<<"$m")" support "inbound goes to the number's campaign"
is "$(jq -r '.routed // "absent"' <<<"$m")" absent "and is routed"

sb_sms +15557000001 +15559999999 "hello nobody" >/dev/null
m=$(wait_event 10 '.type=="message" and .text=="hello nobody"')
is "$(jq -r .campaign <<<"$m")" default "a number no campaign owns: default"

exits 0 "disable sales" msg campaign disable sales
out=$(sb_sms +15557000002 +15550004444 "anyone there?")
is "$(tail -n 1 <<<"$out")" 200 "inbound on a disabled campaign is still answered 200"
m=$(wait_event 10 '.type=="message" and .text=="anyone there?"')
is "$([ -n "$m" ] && echo stored)" stored "inbound on a disabled campaign is stored"
is "$(jq -r .campaign <<<"$m")" sales "it belongs to its campaign"
is "$(jq -c '[.routed,.unrouted]' <<<"$m")" '[false,"campaign sales is disabled"]' \
    "it is marked not routed, with the reason"
c=$(jq -r .conv <<<"$m")
is "$(msg inbox --json | jq -r "select(.conv==\"$c\") | .unrouted")" \
    "campaign sales is disabled" "admins see it in msg inbox, with the reason"

exits 0 "enable sales, disable its sms channel" \
    msg campaign edit sales --sms-enabled no
msg campaign enable sales >/dev/null 2>&1
sb_sms +15557000002 +15550004444 "still there?" >/dev/null
m=$(wait_event 10 '.type=="message" and .text=="still there?"')
is "$(jq -c '[.routed,.unrouted]' <<<"$m")" \
    '[false,"channel sms of campaign sales is disabled"]' \
    "a disabled channel of an enabled campaign: stored, not routed"

exits 0 "enable the channel again" msg campaign edit sales --sms-enabled yes
sb_sms +15557000002 +15550004444 "and now?" >/dev/null
m=$(wait_event 10 '.type=="message" and .text=="and now?"')
is "$(jq -r '.routed // "absent"' <<<"$m")" absent "routed again once enabled"
is "$(msg inbox --json | jq -r "select(.conv==\"$c\") | .unrouted")" null \
    "the conversation is no longer marked"

done_testing
