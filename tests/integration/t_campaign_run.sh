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

plan 39
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
	echo "first_name,last_name,phone,timezone,city"
	for i in $(seq 1 20); do printf 'Ada%02d,Lovelace,+1555017%04d,,Lyon\n' $i $i; done
	echo "Noname,,+15550149901,,"
	echo "Opted,Out,+15550149902,,Paris"
	echo "Black,Listed,+15550149903,,Paris"
	echo "Kenji,Tanaka,+15550149904,Asia/Tokyo,Osaka"
} >"$T_HOME/contacts.csv"
msg list create all >/dev/null || bail "list"
exits 0 "a list imported" msg list import all "$T_HOME/contacts.csv"

msg campaign create out1 --sms $OURS --schedule "$ALWAYS" \
    --outbound "{\"list\":\"all\",\"senders\":[\"$OURS\"],\"rate\":100,\"text\":\"Hi {first_name|there}, news from {city|your town}\",\"hours\":$HOURS}" \
    >/dev/null || bail "campaign out1"
msg optout +15550149902 --channel sms >/dev/null 2>&1 || msg optout +15550149902 >/dev/null 2>&1
msg blacklist add +15550149903 --reason "abusive" >/dev/null 2>&1 ||
    msg blacklist add +15550149903 >/dev/null || bail "blacklist"
if tuser_ok; then
	U=pcr$$
	tuser_add "${U}a"
	msg agent add ada --user "${U}a" --role agent >/dev/null || bail "ada"
	msg member add out1 ada >/dev/null || bail "member ada"
fi
exits 0 "launch" camp_launch out1
ok "every sendable recipient reaches sandboxd" wait_sb 30 "p(\"To\")|test(\"^[+]1555(017|0149)\")" 22
is "$(sb_msgs 'p("To")=="+15550170007"' | jq -r '.params.Body // .form.Body')" \
    "Hi Ada07, news from Lyon" "placeholders filled"
is "$(sb_msgs 'p("To")=="+15550149901"' | jq -r '.params.Body // .form.Body')" \
    "Hi Noname, news from your town" "a fallback fills an empty field"
is "$(sb_msgs 'true' | jq -r '.params.To // .form.To' | sort | uniq -d | wc -l)" 0 \
    "nobody got it twice"
done_p() { msg campaign progress out1 | jq -e '.state=="done"' >/dev/null; }
ok "the run ends" wait_for 30 done_p
p=$(msg campaign progress out1)
is "$(jq -c '[.total,.sent,.suppressed,.failed]' <<<"$p")" '[24,22,2,0]' \
    "progress: 24 recipients, 22 sent, 2 suppressed"
c=$(msg campaign contacts out1 --json)
is "$(grep -c . <<<"$c")" 24 "contacts lists every recipient"
is "$(jq -c 'select(.phone=="+15550149904") | [.first_name,.last_name]' <<<"$c")" \
    '["Kenji","Tanaka"]' "with first and last names"
like "$(jq -r 'select(.phone=="+15550149902") | .state + ": " + .reason' <<<"$c")" \
    '^suppressed: .*opted out' "the opted-out one is suppressed, saying why"
like "$(jq -r 'select(.phone=="+15550149903") | .state + ": " + .reason' <<<"$c")" \
    '^suppressed: .*blacklisted' "the blacklisted one too"
is "$(msg campaign contacts out1 --state suppressed --json | grep -c .)" 2 "--state suppressed"
is "$(msg campaign contacts out1 --search ada07 --json | jq -r .phone)" "+15550170007" "--search"
is "$(msg campaign contacts out1 --preview +15550170003 --json | jq -r .text)" \
    "Hi Ada03, news from Lyon" "--preview shows the recipient's message"
like "$(msg campaign contacts out1 --csv | head -n 1)" '^first_name,last_name,phone,state' "CSV out"

# a reply goes to the campaign's conversation and is counted
sb_sms +15550170005 $OURS "yes please" >/dev/null
e=$(wait_event 15 '.type=="message" and .dir=="in" and .text=="yes please"')
is "$(jq -r .campaign <<<"$e")" out1 "the reply is in the campaign's conversation"
if tuser_ok; then
	CV=$(jq -r .conv <<<"$e")
	inb() { as_user "${U}a" msg inbox --json | grep -q "\"conv\":\"$CV\""; }
	ok "the reply reaches the campaign's agent (ada's inbox)" wait_for 15 inb ||
	    diag "$(as_user "${U}a" msg inbox --json 2>&1 | grep -c .) in ada's inbox; $(msg inbox --json | grep -c .) in root's"
else
	skip "needs root to act as an agent"
fi
rep() { msg campaign contacts out1 --search ada05 --json | jq -e '.replied' >/dev/null; }
ok "and the Contacts view says replied" wait_for 10 rep

# ------------------------------- pause/resume, a 500 then success, invalid
sb_fault '{"api":"twilio","to":"+15550170011","http":500,"count":2}' >/dev/null
sb_fault '{"api":"twilio","to":"+15550170012","http":400,"code":21211,"message":"The To number is not a valid phone number.","count":-1}' >/dev/null
msg campaign create out2 --sms +15550140002 --schedule "$ALWAYS" \
    --outbound "{\"list\":\"all\",\"senders\":[\"+15550140002\"],\"text\":\"Second\",\"rate\":4,\"hours\":$HOURS}" \
    >/dev/null || bail "campaign out2"
exits 0 "launch out2 (4 a second)" camp_launch out2
sleep 1.5
exits 0 "pause" msg campaign pause out2
sleep 1
n1=$(sb_msgs 'p("Body")=="Second"' | grep -c .)
sleep 2
n2=$(sb_msgs 'p("Body")=="Second"' | grep -c .)
is "$n2" "$n1" "nothing more goes while paused"
is "$(msg campaign progress out2 | jq -r .state)" paused "progress says paused"
exits 0 "resume" msg campaign resume out2
retr() {
	msg campaign contacts out2 --search ada11 --json >"$T_HOME/r.json"
	jq -e '.state=="retrying"' "$T_HOME/r.json" >/dev/null
}
ok "a sandbox 500 shows the recipient retrying" wait_for 30 retr
like "$(jq -r .reason "$T_HOME/r.json")" '500|[Ss]erver|tries again' \
    "with the provider's trouble as the reason"
done2() { msg campaign progress out2 | jq -e '.state=="done"' >/dev/null; }
ok "out2 ends after the resume" wait_for 60 done2
c=$(msg campaign contacts out2 --json)
like "$(jq -r 'select(.phone=="+15550170012") | .state + ": " + .reason' <<<"$c")" \
    '^failed: .*(21211|not a valid)' "an invalid number fails with its reason"
deliv() { msg campaign contacts out2 --search ada11 --json | jq -e '.state=="delivered"' >/dev/null; }
ok "a sandbox 500 then success ends delivered" wait_for 20 deliv
is "$(sb_get '/sandbox/received?api=twilio' | jq -c "$JQ_DEFS select(p(\"To\")==\"+15550170011\" and p(\"Body\")==\"Second\")" | grep -c .)" 3 \
    "the provider was asked three times for it"

# ------------------------------------ a bot-operated campaign's replies
BOTS=$PARLEY_SRC/tests/integration/bots
msg campaign create outbot --sms +15550140004 --schedule "$ALWAYS" --operator bot \
    --outbound "{\"list\":\"all\",\"senders\":[\"+15550140004\"],\"text\":\"From the bot campaign\",\"rate\":100,\"hours\":$HOURS}" \
    >/dev/null || bail "campaign outbot"
exits 0 "launch a bot-operated campaign" camp_launch outbot
msg bot --campaign outbot -- jq --unbuffered -c -f "$BOTS/echo.jq" </dev/null >/dev/null 2>>"$T_HOME/bot.log" &
BOT_PID=$!
bg_track "$BOT_PID"
doneb() { msg campaign progress outbot | jq -e '.state=="done"' >/dev/null; }
ok "its run ends" wait_for 30 doneb
sb_sms +15550140006 +15550140004 "hello bot" >/dev/null
ok "a reply to its message reaches the bot, which answers" \
    wait_sb 20 'p("Body")=="echo: hello bot" and p("To")=="+15550140006"'
kill -TERM "$BOT_PID" 2>/dev/null
wait "$BOT_PID" 2>/dev/null
bg_untrack "$BOT_PID"

# ------------------------------------- sending hours: 03:00 waits for 08:00
day=$(date -u +%Y-%m-%d)
at() { echo $(( $(date -u -d "$day $1" +%s%3N) - $(now_ms) )); }
conf_set clock_offset_ms "$(at 03:00:00)"
kill -HUP "$(sv_pid campaignd)"
sleep 0.5
msg campaign create out3 --sms +15550140003 --schedule "$ALWAYS" \
    --outbound '{"list":"all","senders":["+15550140003"],"text":"Third","rate":100}' >/dev/null || bail "campaign out3"
exits 0 "launch out3 at 03:00 UTC (hours 08:00-21:00)" camp_launch out3
defer() { msg campaign progress out3 | jq -e '.deferred==23' >/dev/null; }
ok "the 23 recipients in UTC are deferred" wait_for 20 defer
is "$(msg campaign contacts out3 --search ada01 --json | jq -r '.state + " " + .next_ts')" \
    "deferred ${day}T08:00:00.000Z" "until 08:00 in their zone"
is "$(sb_msgs 'p("Body")=="Third"' | jq -r .params.To)" "+15550149904" \
    "only the contact in Asia/Tokyo (12:00 there) gets it at 03:00 UTC"
conf_set clock_offset_ms "$(at 08:00:01)"
kill -HUP "$(sv_pid campaignd)"
done3() { msg campaign progress out3 | jq -e '.state=="done"' >/dev/null; }
ok "at 08:00 they are sent" wait_for 30 done3
is "$(sb_msgs 'p("Body")=="Third"' | jq -r .params.To | sort | uniq -c | awk '{print $1}' | sort -u | tr "\n" " ")" "1 " "each of the 21 not suppressed asked for once"
done_testing
