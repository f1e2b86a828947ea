#!/bin/bash
# t_lifecycle — a campaign's lifecycle acting through the real daemons, as
# an admin, a supervisor and an agent drive it with msg: a draft is not
# live (inbound on its number goes to "default", or to the active campaign
# that also lists a reusable number), launch refused with every missing
# item named and msg campaign check showing the same list (a supervisor
# may check), nothing sent
# in the name of a campaign once it is archived (exit 1 with the reason),
# a closed conversation of an ended campaign reopening in the next active
# campaign on the number, clone --title, and --json on list commands.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as agents"
plan 36
stack_start

U=plc$$
for a in a s; do
	tuser_add "$U$a"
done
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
	if [ "$(grep -c . <<<"$T_ERR")" = 1 ] && [[ $T_ERR =~ $pat ]]; then
		pass "$desc: one-line reason"
	else
		fail "$desc: one-line reason" "     got: '$T_ERR'" \
		    "expected one line matching: /$pat/"
	fi
}
conv_of() {
	wait_event 10 ".type==\"message\" and .dir==\"in\" and .text==\"$1\""
}

ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
N1=+15550061001		# reusable: listed by old and new
N2=+15550061002		# a draft's own
msg agent add ada --user "${U}a" --role agent >/dev/null || bail "agent ada"
msg agent add sue --user "${U}s" --role supervisor >/dev/null || bail "agent sue"
msg campaign create old --sms $N1 --schedule "$ALWAYS" >/dev/null ||
    bail "campaign old"
msg campaign create new --sms $N1 --schedule "$ALWAYS" >/dev/null ||
    bail "campaign new"
msg campaign create solo --sms $N2 --schedule "$ALWAYS" >/dev/null ||
    bail "campaign solo"

# ------------------------------------------------------------ drafts
sb_sms +15557610001 $N2 "to a draft" >/dev/null
is "$(conv_of "to a draft" | jq -r .campaign)" default \
    "inbound on a draft's number goes to default"
sb_sms +15557610002 $N1 "to two drafts" >/dev/null
is "$(conv_of "to two drafts" | jq -r .campaign)" default \
    "and on a number only drafts list"

# ------------------------------------------------------------ readiness
refused "launch of an agent-operated campaign without members" \
    'campaign old cannot be launched: no member who may receive conversations' \
    msg campaign launch old
exits 1 "a supervisor checks it: not ready" as s msg campaign check old
is "$(jq -c '[.ready,.missing[0]]' <<<"$T_OUT" | cut -c1-40)" \
    '[false,"no member who may receive conver' "the same item, as JSON"
exits 1 "an agent may not check a campaign it is not in" as a msg campaign check old
refused "schedule is refused the same" 'cannot be scheduled: no member' \
    msg campaign schedule old --at 2099-01-01T00:00:00Z
exits 0 "ada becomes a member of old" msg member add old ada
exits 0 "now old is ready" msg campaign check old
is "$(msg member list --json old | jq -r .agent)" ada "msg member list --json"
exits 0 "launch old" msg campaign launch old
is "$(msg campaign list --state active | jq -r .name)" old "old is active"
is "$(msg campaign list --json --state active | jq -r .members)" 1 \
    "with one member in effect"

# --------------------------------------------------------- owned number
sb_sms +15557610003 $N1 "to old" >/dev/null
m=$(conv_of "to old")
is "$(jq -r .campaign <<<"$m")" old \
    "the active campaign takes its reusable number, the draft beside it not"
C=$(jq -r .conv <<<"$m")
exits 0 "ada answers" as a msg send --conv "$C" "hello from old"

# ------------------------------------------------------------- stopped
exits 0 "stop old" msg campaign stop old
refused "a reply in the name of an archived campaign" \
    'campaign old has ended \(archived\): nothing more is sent in its name' \
    as a msg send --conv "$C" "too late"
ok "the refusal is an event" wait_event 5 \
    ".type==\"refused\" and .conv==\"$C\""
refused "an admin's too" 'campaign old has ended' msg send --conv "$C" "late"
exits 0 "the conversation can still be closed" msg close "$C"
exits 0 "new has a member and launches" sh -c \
    "msg member add new ada >/dev/null && msg campaign launch new"
sb_sms +15557610003 $N1 "back again" >/dev/null
m=$(conv_of "back again")
is "$(jq -c '[.conv,.campaign]' <<<"$m")" "[\"$C\",\"new\"]" \
    "the customer writes again: the conversation reopens in new"
exits 0 "and ada may answer in new's name" as a msg send --conv "$C" "hello from new"

# ----------------------------------------------------------------- clone
exits 0 "clone with a title" msg campaign clone new newer --title "New, again"
is "$(jq -c '[.title,.state]' <<<"$T_OUT")" '["New, again","draft"]' \
    "the clone has its own title, as a draft"

# -------------------------------------------------------------- calendar
tty() { script -qefc "$1" /dev/null </dev/null | tr -d '\r'; }
exits 0 "schedule newer for 2099-01-15" msg member add newer ada
exits 0 "it is ready and scheduled" msg campaign schedule newer \
    --at 2099-01-15T09:00:00Z
is "$(msg campaign calendar --month 2099-01 | jq -c 'select(.campaigns>0)')" \
    '{"date":"2099-01-15","campaigns":1}' "calendar: one JSON line per day"
t=$(tty "msg campaign calendar --month 2099-01")
like "$t" 'January 2099' "on a terminal: the month"
like "$t" ' 15\[1\]' "the 15th has one campaign"
is "$(msg campaign calendar --date 2099-01-15 | jq -c '[.name,.title,.channels]')" \
    '["newer","New, again","sms:+15550061001"]' \
    "--date lists that day's campaigns with title and number"
exits 2 "a month that is not one" msg campaign calendar --month 2099-13
done_testing
