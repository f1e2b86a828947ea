#!/bin/bash
# t_work — the agent workspace through the real daemons: msg tag (+/-, at
# most 3 tags of at most 30 characters, the 4th and a 31-character one
# refused), msg attention on/off, msg inbox (its sections, the overdue mark
# and the per-conversation fields of its JSON), msg history with each filter
# (date range, campaign, agent, contact, tag, status), msg search by name
# (campaignd's contact book) and by number, msg window --expiring (an
# SMS-only stack has no windows: the empty list and the argument checks),
# claim/transfer/close round trips through msg, and the refusals an agent
# gets on another campaign's conversation (exit 1, one line).  Agents are
# throwaway Unix users mapped with msg agent add; they run msg with as_user.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as agents"
plan 127
stack_start

U=pwk$$
for a in a b n; do
	tuser_add "$U$a"
done
# as AGENT COMMAND...: run a command as the agent's Unix user
as() {
	local u=$U$1
	shift
	as_user "$u" "$@"
}

# refused DESC PATTERN COMMAND...: exit 1 with one stderr line matching.
refused() {
	local desc=$1 pat=$2
	shift 2
	exits 1 "$desc: exit 1" "$@"
	if [ "$(grep -c . <<<"$T_ERR")" = 1 ] &&
	    [[ $T_ERR =~ ^msg:\ [a-z]+:\ .*$pat ]]; then
		pass "$desc: one-line reason"
	else
		fail "$desc: one-line reason" "     got: '$T_ERR'" \
		    "expected one line matching: /^msg: [a-z]+: .*$pat/"
	fi
}

# convs JQ_FILTER COMMAND...: the conv ids a listing printed, sorted, joined.
convs() { "$@" | jq -r .conv | sort | tr '\n' ' ' | sed 's/ $//'; }
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }

ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
msg agent add aga --user "${U}a" --role agent >/dev/null || bail "agent aga"
msg agent add agb --user "${U}b" --role agent >/dev/null || bail "agent agb"
# support answers within 1 s or is overdue; sales has an hour
msg campaign create support --sms +15550030001 --strategy manual \
    --sl-response 1 --schedule "$ALWAYS" >/dev/null || bail "campaign support"
msg campaign create sales --sms +15550030002 --strategy manual \
    --sl-response 3600 --schedule "$ALWAYS" >/dev/null || bail "campaign sales"
msg member add support aga >/dev/null || bail "member aga"
msg member add sales agb >/dev/null || bail "member agb"
camp_launch support sales || bail "launch support, sales"
msg contact add --name "Ada Lovelace" --phone +15557300001 >/dev/null ||
    bail "contact Ada"

sb_sms +15557300001 +15550030001 "where is my order" >/dev/null
sb_sms +15557300002 +15550030001 "hello again" >/dev/null
sb_sms +15557300003 +15550030002 "pricing?" >/dev/null
C1=$(wait_event 10 '.type=="message" and .text=="where is my order"' | jq -r .conv)
C2=$(wait_event 10 '.type=="message" and .text=="hello again"' | jq -r .conv)
C3=$(wait_event 10 '.type=="message" and .text=="pricing?"' | jq -r .conv)
[ -n "$C1" ] && [ -n "$C2" ] && [ -n "$C3" ] || bail "three conversations"

# ------------------------------------------------------------------ tags
exits 0 "tag +vip +new" msg tag "$C1" +vip +new
is "$(jq -c .tags <<<"$T_OUT")" '["vip","new"]' "the answer lists the tags"
e=$(wait_event 5 ".type==\"tag\" and .conv==\"$C1\"")
is "$(jq -c '[.campaign,.tags,.add,.remove]' <<<"$e")" \
    '["support",["vip","new"],["vip","new"],[]]' "a tag event with what changed"
exits 0 "a third tag" msg tag "$C1" +late
is "$(jq -c .tags <<<"$T_OUT")" '["vip","new","late"]' "three tags"
refused "a fourth tag" 'at most 3 tags \(it has vip, new, late\)' \
    msg tag "$C1" +fourth
is "$(msg history --contact +15557300001 | jq -r .tags)" "vip,new,late" \
    "the refusal changed nothing"
exits 0 "-new +fourth swaps one in one request" msg tag "$C1" -new +fourth
is "$(jq -c .tags <<<"$T_OUT")" '["vip","late","fourth"]' "removed first, then added"
n=$(count_events ".type==\"tag\" and .conv==\"$C1\"")
exits 0 "msg tag without changes prints the tags" msg tag "$C1"
is "$(jq -c .tags <<<"$T_OUT")" '["vip","late","fourth"]' "the current tags"
is "$(count_events ".type==\"tag\" and .conv==\"$C1\"")" "$n" \
    "and appends no event"
T31=abcdefghijabcdefghijabcdefghijk
refused "a 31-character tag" 'over 30 characters' msg tag "$C2" "+$T31"
exits 0 "a 30-character tag is fine" msg tag "$C2" "+${T31:0:30}"
is "$(jq -r '.tags[0]' <<<"$T_OUT")" "${T31:0:30}" "and kept whole"
exits 0 "removing a tag the conversation lacks is no error" msg tag "$C2" -nope
exits 2 "not a conversation id: usage" msg tag nope +x
refused "an unknown conversation" 'no conversation' msg tag c_00000000000000000000000000 +x
refused "a tag with a comma" 'comma' msg tag "$C2" "+a,b"

# ------------------------------------------------------------- attention
exits 0 "attention on" msg attention "$C2" on
is "$(jq -r .attention <<<"$T_OUT")" true "the answer says on"
e=$(wait_event 5 ".type==\"attention\" and .conv==\"$C2\"")
is "$(jq -c '[.campaign,.on]' <<<"$e")" '["support",true]' "an attention event"
r=$(msg inbox --json | jq -c "select(.conv==\"$C2\") | [.attention,.section]")
is "$r" '[true,"attention"]' "the inbox puts it under needs attention"
exits 0 "attention off" msg attention "$C2" off
r=$(msg inbox --json | jq -c "select(.conv==\"$C2\") | [.attention,.section]")
is "$r" '[false,"agent"]' "and back among the agent-operated"
is "$(count_events ".type==\"attention\" and .conv==\"$C2\"")" 2 \
    "two attention events"
exits 0 "off again is no error" msg attention "$C2" off
is "$(count_events ".type==\"attention\" and .conv==\"$C2\"")" 2 \
    "and no event when nothing changes"
exits 2 "attention takes on or off" msg attention "$C2" maybe

# ----------------------------------------------------------------- inbox
sleep 1.2	# support's response threshold (1 s) passes for C1 and C2
exits 0 "msg attention on for the sections" msg attention "$C1" on
inbox=$(msg inbox --json)
is "$(jq -s 'length' <<<"$inbox")" 3 "the inbox lists the three open ones"
keys=$(jq -sc 'map(has("overdue") and has("mode") and has("attention") and
    has("agent") and has("rstate") and has("tags") and has("section") and
    has("contact") and has("channel") and has("campaign") and
    has("last_text") and has("waiting_since_ts")) | all' <<<"$inbox")
is "$keys" true "each record has overdue, mode, attention, agent, rstate, tags, section"
is "$(jq -r "select(.conv==\"$C2\") | .overdue" <<<"$inbox")" true \
    "waiting past the campaign's response threshold: overdue"
is "$(jq -r "select(.conv==\"$C3\") | .overdue" <<<"$inbox")" false \
    "within it: not overdue"
is "$(jq -r "select(.conv==\"$C1\") | .section" <<<"$inbox")" attention \
    "needs attention"
is "$(jq -r "select(.conv==\"$C3\") | [.section,.mode] | join(\" \")" <<<"$inbox")" \
    "agent agent" "agent-operated"
like "$(jq -r "select(.conv==\"$C1\") | .waiting_since_ts" <<<"$inbox")" \
    '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T' "times are RFC 3339"
tty=$(COLUMNS=200 script -qec "msg inbox" /dev/null 2>&1 | tr -d '\r')
like "$tty" "NEEDS ATTENTION \(1\)" "on a terminal: the needs-attention section"
like "$tty" "AGENT-OPERATED \(2\)" "the agent-operated section"
like "$tty" "CUSTOMER +CHANNEL +CAMPAIGN" "with the customer, channel and campaign"
like "$tty" "[0-9]+s overdue" "an overdue mark"
like "$tty" "< where is my order" "and the last message"
exits 0 "attention off again" msg attention "$C1" off

# --------------------------------------------------------------- history
is "$(convs msg history)" "$(sorted "$C1" "$C2" "$C3")" "history: every conversation"
is "$(convs msg history --campaign sales)" "$C3" "--campaign"
is "$(convs msg history --tag vip)" "$C1" "--tag"
is "$(convs msg history --tag fourth --campaign support)" "$C1" "filters combine"
is "$(convs msg history --tag vip --campaign sales)" "" "filters combine (none)"
is "$(convs msg history --contact +15557300002)" "$C2" "--contact, the number"
is "$(convs msg history --contact 7300002)" "$C2" "--contact, its last digits"
today=$(date +%F)
is "$(convs msg history --from "$today" --to "$today")" "$(sorted "$C1" "$C2" "$C3")" \
    "--from/--to today: all three"
is "$(convs msg history --from "$(date -d tomorrow +%F)")" "" "--from tomorrow: none"
is "$(convs msg history --to "$(date -d yesterday +%F)")" "" "--to yesterday: none"
is "$(convs msg history --from "$(date -u -d '-1 hour' +%FT%TZ)")" \
    "$(sorted "$C1" "$C2" "$C3")" "--from an RFC 3339 time"
is "$(msg history --limit 2 | wc -l | tr -d ' ')" 2 "--limit"
exits 2 "--from not a date: usage" msg history --from yesterdayish
exits 2 "--to before --from: usage" msg history --from "$today" \
    --to "$(date -d '2 days ago' +%F)"
exits 2 "--status takes open or closed" msg history --status maybe

# ---------------------------------------------------------------- search
is "$(convs msg search ada)" "$C1" "search by a name in the contact book"
is "$(convs msg search LOVELACE)" "$C1" "case-insensitive"
is "$(convs msg search Ada Lovelace)" "$C1" "a whole name in several words"
is "$(convs msg search 7300002)" "$C2" "by the last digits of a number"
is "$(convs msg search +15557300003)" "$C3" "by the whole number"
is "$(convs msg search "+1 555 730 0003")" "$C3" "spaces in a number are ignored"
is "$(convs msg search "$C2")" "$C2" "by conversation id"
exits 0 "no match is no error" msg search zebra
is "$T_OUT" "" "and prints nothing on a pipe"
refused "too few digits" 'at least 3 digits' msg search 12
exits 2 "search needs something to search" msg search

# ---------------------------------------------------------------- window
exits 0 "window --expiring 2h" msg window --expiring 2h
is "$T_OUT" "" "an SMS-only stack has no windows: the list is empty"
exits 0 "90s" msg window --expiring 90s
exits 0 "45m" msg window --expiring 45m
exits 0 "1d" msg window --expiring 1d
exits 0 "1h30m" msg window --expiring 1h30m
exits 2 "2x is not a duration" msg window --expiring 2x
like "$T_ERR" 'say 90s, 45m, 2h or 1d' "the usage error says what is accepted"
exits 2 "0s is no time at all" msg window --expiring 0s
exits 2 "more than 30 days" msg window --expiring 31d
exits 2 "a bare number has no unit" msg window --expiring 90
exits 2 "--expiring is required" msg window

# ------------------------------------------------------ agents, refusals
exits 0 "aga goes available" as a msg status available
exits 0 "agb goes available" as b msg status available
refused "an agent tags another campaign's conversation" \
    'agb is not a member of campaign support' as b msg tag "$C1" +x
refused "sets attention on one" 'not a member of campaign support' \
    as b msg attention "$C1" on
refused "asks for another campaign's history" \
    'not a member of campaign support' as b msg history --campaign support
refused "claims one" 'not a member of campaign support' as b msg claim "$C1"
refused "closes one" 'not a member of campaign support' as b msg close "$C1"
is "$(convs as b msg history)" "$C3" "an agent's history has only its campaigns"
is "$(convs as b msg search ada)" "" "search finds nothing of other campaigns"
is "$(convs as b msg search 7300003)" "$C3" "but does find its own"
is "$(convs as b msg window --expiring 1d)" "" "window answers agents too"
refused "someone who is not an agent" 'not a parley agent' as n msg history
exits 0 "a member tags its campaign's conversation" as a msg tag "$C2" +mine
is "$(jq -r '.tags | join(",")' <<<"$T_OUT")" "${T31:0:30},mine" "its tags"
e=$(wait_event 5 ".type==\"tag\" and .conv==\"$C2\" and .by==\"aga\"")
is "$(jq -r .by <<<"$e")" aga "the tag event says who"

# ------------------------------------------- claim, transfer, close via msg
exits 0 "aga claims C1" as a msg claim "$C1"
is "$(jq -r .agent <<<"$T_OUT")" aga "the answer names the agent"
is "$(convs msg history --agent aga)" "$C1" "history --agent"
is "$(as a msg inbox --json | jq -r "select(.conv==\"$C1\") | .agent")" aga \
    "the inbox shows it as aga's"
exits 0 "aga claims C2 and transfers it to sales" as a msg claim "$C2"
exits 0 "transfer --campaign sales" as a msg transfer "$C2" --campaign sales
e=$(wait_event 5 ".type==\"transfer\" and .conv==\"$C2\"")
is "$([ -n "$e" ] && echo yes)" yes "a transfer event"
is "$(convs msg history --campaign sales)" "$(sorted "$C2" "$C3")" \
    "history follows it into sales"
exits 0 "agb may now tag it" as b msg tag "$C2" -mine
exits 0 "agb claims it" as b msg claim "$C2"
exits 0 "agb closes it" as b msg close "$C2"
is "$(jq -r .status <<<"$T_OUT")" closed "the answer says closed"
e=$(wait_event 5 ".type==\"close\" and .conv==\"$C2\"")
is "$([ -n "$e" ] && echo yes)" yes "a close event"
is "$(convs msg history --status closed)" "$C2" "history --status closed"
is "$(convs msg history --status open)" "$(sorted "$C1" "$C3")" "history --status open"
is "$(msg inbox --json | jq -r "select(.conv==\"$C2\") | .conv")" "" \
    "a closed conversation leaves the inbox"
is "$(convs msg search 7300002)" "$C2" "and is still found by search"
exits 2 "transfer needs --to or --campaign" msg transfer "$C1"
exits 2 "mode takes bot or agent" msg mode "$C1" robot
exits 2 "route needs --explain" msg route "$C1"

done_testing
