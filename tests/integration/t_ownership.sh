#!/bin/bash
# t_ownership — who may act on a conversation, through the real daemons
# with msg driven by agents, a supervisor and an admin: a held conversation
# belongs to its holder (another agent's send refused, exit 1, naming the
# holder; a supervisor's goes; a transfer moves the hold); max interactions
# is a hard limit on the reply path too (20 simultaneous replies by one
# agent never take more than the limit); a campaign's teams act (a team's
# agent is a member with the team's defaults, shown by msg member list,
# and receives an offer; a personal membership overrides); a close takes
# only the dispositions assigned to the campaign, and a renamed level
# leaves recorded closes as they were; msg route --explain marks
# exactly one agent chosen; msg transcript of a conversation the caller may
# not see exits 1 with the reason.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as agents"
plan 55
stack_start

U=pow$$
for a in a b c d s; do
	tuser_add "$U$a"
done
as() {
	local u=$U$1
	shift
	as_user "$u" "$@"
}
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
	wait_event 15 ".type==\"message\" and .dir==\"in\" and .text==\"$1\"" |
	    jq -r .conv
}

ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
msg agent add ada --user "${U}a" --role agent >/dev/null || bail "agent ada"
msg agent add bob --user "${U}b" --role agent >/dev/null || bail "agent bob"
msg agent add cat --user "${U}c" --role agent >/dev/null || bail "agent cat"
msg agent add dan --user "${U}d" --role agent >/dev/null || bail "agent dan"
msg agent add sue --user "${U}s" --role supervisor >/dev/null || bail "agent sue"
msg campaign create own --sms +15550071001 --strategy manual \
    --max-interactions 2 --schedule "$ALWAYS" >/dev/null || bail "campaign own"
msg member add own ada >/dev/null && msg member add own bob >/dev/null &&
    msg member add own sue --receive no >/dev/null || bail "members of own"
camp_launch own || bail "launch own"

# ------------------------------------------------------------- holding
sb_sms +15557710001 +15550071001 "who holds me" >/dev/null
C1=$(conv_of "who holds me")
[ -n "$C1" ] || bail "the first conversation"
exits 0 "ada claims it" as a msg claim "$C1"
refused "bob's send in ada's conversation" "$C1 is held by ada" \
    as b msg send --conv "$C1" "let me"
exits 0 "ada's own send goes" as a msg send --conv "$C1" "ada here"
exits 0 "a supervisor's send (sue supervises own) goes" as s msg send --conv "$C1" "supervisor here"
exits 0 "an admin's send goes" msg send --conv "$C1" "admin here"
exits 0 "ada transfers it to bob" as a msg transfer "$C1" --to bob
refused "now ada's send is refused" "$C1 is held by bob" \
    as a msg send --conv "$C1" "still mine?"
exits 0 "and bob's goes" as b msg send --conv "$C1" "bob here"
exits 0 "bob closes it" as b msg close "$C1"

# -------------------------------------------- max interactions, replies
for i in $(seq -w 1 20); do
	sb_sms "+155577200$i" +15550071001 "burst $i" >/dev/null
done
wait_count 30 '.type=="queue" and .campaign=="own"' 21 ||
    bail "twenty conversations waiting"
convs=$(events 'select(.type=="message" and .dir=="in" and (.text|startswith("burst "))) | .conv' | sort -u)
is "$(wc -l <<<"$convs" | tr -d ' ')" 20 "twenty conversations wait"
pids=""
n=0
for c in $convs; do
	n=$((n + 1))
	( as a msg send --conv "$c" "on it" >"$T_HOME/r.$n" 2>&1
	  echo $? >"$T_HOME/rc.$n" ) &
	pids="$pids $!"
done
wait $pids
okn=$(cat "$T_HOME"/rc.* | grep -cx 0)
is "$okn" 2 "of 20 simultaneous replies, the limit's 2 went"
is "$(cat "$T_HOME"/rc.* | grep -cx 1)" 18 "the other 18 were refused (exit 1)"
like "$(cat "$T_HOME"/r.* | grep -m1 capacity)" \
    'would claim .* you are at capacity \(2 of 2 conversations' \
    "saying the reply would claim beyond the limit"
max=$(events 'select(.campaign=="own" and (.type=="assign" or .type=="close" or .type=="transfer") and (.agent=="ada" or .from=="ada")) | .type' |
    awk '/assign/{n++; if (n>m) m=n} /close|transfer/{n--} END{print m+0}')
is "$max" 2 "ada never held more than 2"
is "$(as a msg inbox --json | jq -r 'select(.agent=="ada") | .conv' | wc -l | tr -d ' ')" 2 \
    "ada's inbox holds 2"

# ----------------------------------------------------------------- teams
exits 0 "team desk with a default penalty" msg team add desk --penalty 5
exits 0 "cat and dan join desk" sh -c \
    "msg agent edit cat --teams desk >/dev/null && msg agent edit dan --teams desk >/dev/null"
msg campaign create tm --sms +15550071002 --teams desk --schedule "$ALWAYS" \
    >/dev/null || bail "campaign tm"
exits 0 "a campaign whose only members are its team's is ready" msg campaign check tm
exits 0 "dan's personal membership overrides: he does not receive" \
    msg member add tm dan --receive no
m=$(msg member list tm)
is "$(jq -c 'select(.agent=="cat") | [.via,.penalty,.receive]' <<<"$m")" \
    '["team desk",5,true]' "msg member list: cat through desk, with its defaults"
is "$(jq -c 'select(.agent=="dan") | [.via,.receive]' <<<"$m")" \
    '["personal",false]' "dan's own membership"
exits 0 "launch tm" msg campaign launch tm
exits 0 "cat is available" as c msg status available
exits 0 "dan is available" as d msg status available
exits 0 "a team's agent sees the campaign" as c msg campaign show tm
sb_sms +15557730001 +15550071002 "for the team" >/dev/null
C2=$(conv_of "for the team")
o=$(wait_event 10 ".type==\"offer\" and .conv==\"$C2\"")
is "$(jq -c .agents <<<"$o")" '["cat"]' "the team's agent gets the offer, dan not"
exits 0 "route --explain" msg route --explain "$C2" --json
is "$(jq '[.candidates[] | select(.chosen)] | length' <<<"$T_OUT")" 1 \
    "exactly one agent is chosen"
is "$(jq -r '.candidates[] | select(.chosen) | .agent' <<<"$T_OUT")" cat \
    "the one offered"
exits 0 "cat answers the offer" as c msg send --conv "$C2" "cat here"

# ---------------------------------------------------------- dispositions
msg disposition add Sale --parents >/dev/null &&
    msg disposition add Sale/Won --parents >/dev/null &&
    msg disposition add Lost >/dev/null &&
    msg disposition assign Sale --campaign tm >/dev/null || bail "dispositions"
refused "a close with a disposition not assigned to tm" \
    'disposition "Lost" is not assigned to campaign tm' \
    as c msg close "$C2" --disposition Lost
exits 0 "a level below an assigned one is accepted" as c msg close "$C2" \
    --disposition Sale/Won
exits 0 "rename a level" msg disposition rename Sale/Won Closed
is "$(jq -c '[.renamed,.to]' <<<"$T_OUT")" '["Sale/Won","Sale/Closed"]' \
    "Sale/Won is Sale/Closed now"
is "$(msg disposition show Sale/Closed | jq -c '[.name,.parent]')" \
    '["Closed","Sale"]' "with its new name, under the same parent"
exits 1 "the old path is gone" msg disposition show Sale/Won
exits 0 "renaming the assigned level moves the assignment" \
    msg disposition rename Sale Deal
is "$(msg campaign show tm | jq -c .dispositions)" '["Deal"]' \
    "tm has Deal assigned now"
is "$(events "select(.type==\"close\" and .conv==\"$C2\") | .disposition")" \
    Sale/Won "the close already recorded keeps what it was"

# ------------------------------------------------------------ visibility
refused "the transcript of another campaign's conversation" \
    "not a member of campaign own" as c msg transcript "$C1"
is "$T_OUT" "" "nothing printed"
exits 0 "a member reads it" as b msg transcript "$C1"

# ------------------------------------------------------------ quality
msg qa add basic --file - >/dev/null <<'JSON' || bail "qa model"
{"categories":[{"name":"Opening","questions":[{"text":"Greeted?","max_score":10}]},
 {"name":"Resolution","questions":[{"text":"Solved?","max_score":20},
  {"text":"Kind?","max_score":5}]}]}
JSON
exits 1 "an agent may not score" as a msg qa score "$C1" --model basic --answers 1,2,3
exits 1 "one answer per question" as s msg qa score "$C1" --model basic --answers 1,2
like "$T_ERR" 'model basic has 3 questions' "saying how many"
exits 1 "an answer over its question's maximum" as s msg qa score "$C1" \
    --model basic --answers 11,2,3
exits 0 "a supervisor scores bob's closed conversation" as s msg qa score "$C1" \
    --model basic --answers 8,15,5 --note "good save"
is "$(jq -c '[.agent,.score,.max]' <<<"$T_OUT")" '["bob",28,35]' \
    "its total against the model's maximum"
e=$(wait_event 5 ".type==\"qa\" and .conv==\"$C1\"")
is "$(jq -c '[.by,.answers,.note]' <<<"$e")" '["sue",[8,15,5],"good save"]' \
    "the score is an event"
is "$(msg qa scores --agent bob | jq -c '[.conv,.score,.max]')" "[\"$C1\",28,35]" \
    "msg qa scores --agent bob lists it"
is "$(msg qa scores --agent ada | wc -l | tr -d ' ')" 0 "and none for ada"
done_testing
