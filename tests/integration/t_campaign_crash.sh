#!/bin/bash
# t_campaign_crash — a campaign run of 5,000 recipients survives SIGKILL:
# campaignd is killed mid-run, then routerd; runsv restarts each, the run
# goes on where it was, and at the end every recipient was asked for exactly
# once at sandboxd, except those the run's figures count as possibly
# duplicated (a send the provider took whose answer was lost).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

N=5000
plan 10
stack_home
conf_set sms_rate 2000
conf_set sms_burst 2000
stack_start

OURS=+15550150001
{
	echo "name,phone"
	for i in $(seq 1 $N); do printf 'C%05d Crash,+1555016%04d\n' $i $((i - 1)); done
} >"$T_HOME/contacts.csv"
msg list create crash >/dev/null || bail "list"
exits 0 "a list of $N imported" msg list import crash "$T_HOME/contacts.csv"
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
msg campaign create crash --sms $OURS --schedule "$ALWAYS" \
    --outbound '{"list":"crash","senders":["+15550150001"],"rate":2000,"text":"Crash run {first_name}","hours":{"from":"00:00","to":"24:00"}}' \
    >/dev/null || bail "campaign"
exits 0 "launch" camp_launch crash

sent_at_least() {
	[ "$(sb_get '/sandbox/received?api=twilio' | grep -c 'Crash run')" -ge "$1" ]
}
wait_for 120 sent_at_least 800 || diag "slow: fewer than 800 sent"
OLD=$(sv_pid campaignd)
kill -KILL "$OLD"
restarted() { p=$(sv_pid "$1"); [ -n "$p" ] && [ "$p" != "$2" ]; }
ok "campaignd killed mid-run and restarted" wait_for 30 restarted campaignd "$OLD"
wait_for 120 sent_at_least 2500 || diag "slow: fewer than 2500 sent"
OLD=$(sv_pid routerd)
kill -KILL "$OLD"
ok "routerd killed mid-run and restarted" wait_for 30 restarted routerd "$OLD"
done_p() { msg campaign progress crash 2>/dev/null | jq -e '.state=="done"' >/dev/null; }
ok "the run ends" wait_for 240 done_p
p=$(msg campaign progress crash)
diag "progress: $p"
is "$(jq -r .total <<<"$p")" $N "every recipient frozen"
is "$(jq -r .sent <<<"$p")" $N "every recipient sent"
tos=$(sb_get '/sandbox/received?api=twilio' | jq -r "$JQ_DEFS select(p(\"Body\") // \"\" | startswith(\"Crash run\")) | p(\"To\")")
is "$(sort -u <<<"$tos" | grep -c .)" $N "sandboxd got every recipient"
extra=$(( $(grep -c . <<<"$tos") - N ))
dup=$(jq -r .possibly_duplicated <<<"$p")
diag "extra copies at sandboxd: $extra; counted possibly duplicated: $dup"
ok "copies beyond one each are all counted as possibly duplicated" test "$extra" -le "$dup"
is "$(sort <<<"$tos" | uniq -d | grep -c .)" "$extra" "(each extra copy is one recipient's second)"
done_testing
