#!/bin/bash
# t_attention — needs attention by itself, through the real daemons: an
# agent-operated conversation whose customer wrote last and got no answer
# within the campaign's response time threshold is marked (an "attention"
# event without "by", the inbox's needs-attention section); it leaves when
# an agent answers, or when someone marks it "does not need attention",
# and is not marked again until the customer waits anew.  The inbox's
# filters (--campaign, --section, --tag, --agent, --search), conversation
# ids taken by any unique prefix and shown at the shortest unique length.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as agents"
plan 30
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

# ---------------------------------------------- inbox filters, short ids
exits 0 "tag C1 +vip" msg tag "$C1" +vip
exits 0 "admin claims C2 for ada" msg transfer "$C2" --to ada
ids() { "$@" | jq -r .conv | sort | tr '\n' ' ' | sed 's/ $//'; }
both=$(printf '%s\n' "$C1" "$C2" | sort | tr '\n' ' ' | sed 's/ $//')
is "$(ids msg inbox --json --campaign att)" "$both" "--campaign"
is "$(ids msg inbox --json --campaign nosuch)" "" "--campaign nosuch: none"
is "$(ids msg inbox --json --tag vip)" "$C1" "--tag"
is "$(ids msg inbox --json --agent ada)" "$(ids msg inbox --json --agent ada --campaign att)" \
    "--agent combines with --campaign"
is "$(ids msg inbox --json --search "OK AND")" "$C2" "--search the last text, any case"
is "$(ids msg inbox --json --search 7910001)" "$C1" "--search the number"
is "$(ids msg inbox --json --section attention)" "$C2" "--section attention"
exits 2 "--section must be a section" msg inbox --section later
sh=$(msg inbox --json | jq -r "select(.conv==\"$C1\") | .short")
like "$sh" '^c_[0-9A-Z]{8,25}$' "each record has its shortest unique id"
[[ $C1 == "$sh"* ]] && pass "a prefix of the id" || fail "a prefix of the id" "$sh $C1"
exits 0 "a unique prefix works as the id: msg transcript" msg transcript "$sh"
is "$(jq -r .conv <<<"$(head -n 1 <<<"$T_OUT")")" "$C1" "the right conversation"
exits 0 "in lower case too: msg tag" msg tag "$(tr 'A-Z' 'a-z' <<<"${sh}")" +lower
refused_c=$(msg tag c_0 +x 2>&1 >/dev/null; echo "rc=$?")
like "$refused_c" 'ambiguous.*rc=1' "an ambiguous prefix: exit 1, saying so"
exits 0 "a prefix in msg send" as msg send --conv "$sh" "by prefix"
t=$(COLUMNS=80 script -qec "msg inbox" /dev/null 2>&1 | tr -d '\r')
like "$t" "$sh " "on a terminal the table shows the short id"
# characters, not bytes: the cut cell ends in "..." (U+2026)
long=$(while IFS= read -r l; do [ "$(printf '%s' "$l" | LC_ALL=C.UTF-8 wc -m)" -gt 80 ] &&
    echo x; done <<<"$t" | wc -l | tr -d ' ')
is "$long" 0 \
    "on an 80-column terminal no line is longer" || diag "$t"
done_testing
