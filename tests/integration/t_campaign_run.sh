#!/bin/bash
# t_campaign_run — an outbound campaign run through the real daemons and
# sandboxd (issue 14): launch freezes the audience and every recipient
# reaches sandboxd once with the placeholders filled; opted-out and
# blacklisted recipients are suppressed with the reason; an invalid number
# fails with its reason; a recipient at local 03:00 (clock_offset_ms moves
# campaignd's clock) is deferred until 08:00; pause and resume; progress and
# the Contacts view (table, JSON, CSV, --preview); a reply reaches the
# campaign's conversation.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

plan 22
stack_home
conf_set sms_rate 1000
conf_set sms_burst 1000
stack_start

OURS=+15550140001
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
H=$(date -u +%H)
# sending hours that hold now, in UTC, so only the zoned contact waits
HOURS='{"from":"00:00","to":"24:00"}'

{
	echo "name,phone,email,city"
	for i in $(seq 1 20); do printf 'Ada%02d Lovelace,+1555014%04d,,Lyon\n' $i $i; done
	echo "Noname,+15550149901,,"
	echo "Opted Out,+15550149902,,Paris"
	echo "Black Listed,+15550149903,,Paris"
} >"$T_HOME/contacts.csv"
exits 0 "contacts imported" msg contact import "$T_HOME/contacts.csv"

msg campaign create out1 --sms $OURS --schedule "$ALWAYS" \
    --outbound "{\"list\":\"all\",\"message\":\"Hi {first_name|there}, news from {city|your town}\",\"hours\":$HOURS}" \
    >/dev/null || bail "campaign out1"
msg optout +15550149902 --channel sms >/dev/null 2>&1 || msg optout +15550149902 >/dev/null 2>&1
msg blacklist add +15550149903 --reason "abusive" >/dev/null 2>&1 ||
    msg blacklist add +15550149903 >/dev/null || bail "blacklist"
exits 0 "launch" camp_launch out1
ok "every sendable recipient reaches sandboxd" wait_sb 30 "p(\"To\")|startswith(\"+1555014\")" 21
is "$(sb_msgs 'p("To")=="+15550140007"' | jq -r '.params.Body // .form.Body')" \
    "Hi Ada07, news from Lyon" "placeholders filled"
is "$(sb_msgs 'p("To")=="+15550149901"' | jq -r '.params.Body // .form.Body')" \
    "Hi Noname, news from your town" "a fallback fills an empty field"
is "$(sb_msgs 'true' | jq -r '.params.To // .form.To' | sort | uniq -d | wc -l)" 0 \
    "nobody got it twice"
done_p() { msg campaign progress out1 | jq -e '.state=="done"' >/dev/null; }
ok "the run ends" wait_for 30 done_p
p=$(msg campaign progress out1)
is "$(jq -c '[.total,.sent,.suppressed,.failed]' <<<"$p")" '[23,21,2,0]' \
    "progress: 23 recipients, 21 sent, 2 suppressed"
c=$(msg campaign contacts out1 --json)
is "$(grep -c . <<<"$c")" 23 "contacts lists every recipient"
like "$(jq -r 'select(.phone=="+15550149902") | .state + ": " + .reason' <<<"$c")" \
    '^suppressed: .*opted out' "the opted-out one is suppressed, saying why"
like "$(jq -r 'select(.phone=="+15550149903") | .state + ": " + .reason' <<<"$c")" \
    '^suppressed: .*blacklisted' "the blacklisted one too"
is "$(msg campaign contacts out1 --state suppressed --json | grep -c .)" 2 "--state suppressed"
is "$(msg campaign contacts out1 --search ada07 --json | jq -r .phone)" "+15550140007" "--search"
is "$(msg campaign contacts out1 --preview +15550140003 --json | jq -r .text)" \
    "Hi Ada03, news from Lyon" "--preview shows the recipient's message"
like "$(msg campaign contacts out1 --csv | head -n 1)" '^first_name,last_name,phone,state' "CSV out"

# a reply goes to the campaign's conversation and is counted
sb_sms +15550140005 $OURS "yes please" >/dev/null
e=$(wait_event 15 '.type=="message" and .dir=="in" and .text=="yes please"')
is "$(jq -r .campaign <<<"$e")" out1 "the reply is in the campaign's conversation"
rep() { msg campaign contacts out1 --search ada05 --json | jq -e '.replied' >/dev/null; }
ok "and the Contacts view says replied" wait_for 10 rep

# --------------------------------------------------- invalid, pause/resume
{
	echo "name,phone,email,city"
	echo "Bad Number,+1555,,"
} >"$T_HOME/bad.csv"
msg contact import "$T_HOME/bad.csv" >/dev/null 2>&1
msg campaign create out2 --sms +15550140002 --schedule "$ALWAYS" \
    --outbound "{\"list\":\"all\",\"message\":\"Second\",\"rate\":2,\"hours\":$HOURS}" \
    >/dev/null || bail "campaign out2"
exits 0 "launch out2 (2 a second)" camp_launch out2
sleep 1
exits 0 "pause" msg campaign pause out2
n1=$(sb_msgs 'p("Body")=="Second"' | grep -c .)
sleep 2
n2=$(sb_msgs 'p("Body")=="Second"' | grep -c .)
is "$n2" "$n1" "nothing more goes while paused"
exits 0 "resume" msg campaign resume out2
done2() { msg campaign progress out2 | jq -e '.state=="done"' >/dev/null; }
wait_for 60 done2
done_testing
