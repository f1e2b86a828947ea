#!/bin/bash
# t_preview — an outbound campaign before launch, through msg against the
# running daemons: its outbound fields (list, text with fallbacks, senders,
# rate within the SMS pacing, hours, retries, end) set with msg campaign
# edit and refused when wrong; readiness (msg campaign check) naming what
# is missing and the contacts whose placeholders cannot be filled;
# msg campaign preview with each recipient's message, encoding and
# segments, and the suppressed ones (opted out, blacklisted) with routerd's
# reason; msg campaign launch --dry-run with the figures (recipients,
# suppressed by reason, segments, estimated duration) and nothing changed;
# preview refused to an agent.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 71
stack_start

S1=+15558000001
exits 0 "an SMS campaign" msg campaign create promo --sms "$S1" --timezone UTC
CSV="$T_HOME/promo.csv"
cat >"$CSV" <<'CSV'
first_name,last_name,phone,timezone,city
Ada,King,+15559000001,UTC,Lyon
,Nameless,+15559000002,UTC,Paris
Zoë,Ünïcode,+15559000003,UTC,Nice
Opted,Out,+15559000004,UTC,Lyon
Black,Listed,+15559000005,UTC,Lyon
Night,Owl,+15559000006,Pacific/Kiritimati,
CSV
exits 0 "list create" msg list create promo
exits 0 "import six contacts" msg list import promo "$CSV"

# ===================================================== fields
exits 1 "an unknown list is refused" msg campaign edit promo --list nosuch
like "$T_ERR" 'no contact list named "nosuch"' "naming it"
exits 1 "a sender that is not the campaign's is refused" msg campaign edit promo --senders +15558000099
like "$T_ERR" "not one of the campaign's sms addresses" "saying so"
exits 1 "a rate above the SMS pacing is refused" msg campaign edit promo --senders "$S1" --rate 5000
like "$T_ERR" "above the sms pacing: 1000/s per number" "naming the pacing (the tests run smsd at 1000/s)"
exits 1 "bad hours are refused" msg campaign edit promo --hours 8-21
like "$T_ERR" "not HH:MM-HH:MM" "saying the form"
exits 1 "a bad end is refused" msg campaign edit promo --end soon
exits 0 "the outbound fields" msg campaign edit promo --list promo \
    --text 'Hi {first_name|there}, news from {city}!' --senders "$S1" --rate 1 \
    --hours 08:00-21:00 --retry-max 4 --retry-backoff 120
is "$(jq -c '.outbound|[.channel,.list,.senders,.rate,.hours.from,.hours.to,.retry.max_attempts,.retry.backoff_s,.end]' <<<"$T_OUT")" \
    '["sms","promo",["+15558000001"],1,"08:00","21:00",4,120,"done"]' \
    "stored with their defaults filled"

# ===================================================== readiness
exits 1 "check: not ready" msg campaign check promo
is "$(jq -r .unfilled.count <<<"$T_OUT")" 1 "one contact cannot be filled"
is "$(jq -r '.unfilled.contacts[0]|[.phone,(.missing|join(","))]|join(" ")' <<<"$T_OUT")" \
    "+15559000006 city" "the one without a city, naming the field"
like "$(jq -r '.missing|join(";")' <<<"$T_OUT")" "1 contact of list promo has no value for a placeholder" \
    "listed among what is missing"
exits 0 "a fallback for the city" msg campaign edit promo --text 'Hi {first_name|there}, news from {city|your town}!'
exits 1 "check" msg campaign check promo
is "$(jq -r .unfilled.count <<<"$T_OUT")" 0 "every contact can be filled now"

# ===================================================== suppression
exits 0 "opt one out" msg optout +15559000004 --channel sms
exits 0 "blacklist one" msg blacklist add +15559000005 --reason "asked"

# ===================================================== preview
exits 0 "preview" msg campaign preview promo --limit 10
is "$(count() { grep -c . <<<"$1"; }; count "$T_OUT")" 6 "six recipients"
is "$(jq -r 'select(.phone=="+15559000001")|.text' <<<"$T_OUT")" \
    "Hi Ada, news from Lyon!" "a message as Ada will get it"
is "$(jq -r 'select(.phone=="+15559000001")|[.encoding,.segments]|join(" ")' <<<"$T_OUT")" \
    "GSM-7 1" "GSM-7, one segment"
is "$(jq -r 'select(.phone=="+15559000002")|.text' <<<"$T_OUT")" \
    "Hi there, news from Paris!" "the fallback for a contact without a first name"
is "$(jq -r 'select(.phone=="+15559000003")|.encoding' <<<"$T_OUT")" \
    "UCS-2" "a name outside GSM-7 makes it UCS-2"
is "$(jq -r 'select(.phone=="+15559000006")|.text' <<<"$T_OUT")" \
    "Hi Night, news from your town!" "the city fallback"
is "$(jq -r 'select(.phone=="+15559000004")|.suppressed' <<<"$T_OUT")" \
    "opted_out" "the opted-out contact is suppressed"
like "$(jq -r 'select(.phone=="+15559000004")|.why' <<<"$T_OUT")" "opted out of sms" \
    "with routerd's reason"
is "$(jq -r 'select(.phone=="+15559000005")|.suppressed' <<<"$T_OUT")" \
    "blacklisted" "the blacklisted one too"
exits 0 "preview --limit 2" msg campaign preview promo --limit 2
is "$(grep -c . <<<"$T_OUT")" 2 "two shown"
exits 0 "preview --contact" msg campaign preview promo --contact +15559000003
is "$(jq -r .last_name <<<"$T_OUT")" "Ünïcode" "that contact"
exits 1 "preview --contact of nobody" msg campaign preview promo --contact +15559999999

# a long UCS-2 text: segments counted
exits 0 "a long text" msg campaign edit promo --text "$(printf 'ж%.0s' $(seq 1 100)) {first_name|there}"
exits 0 "preview" msg campaign preview promo --contact +15559000001
is "$(jq -r '[.encoding,.segments]|join(" ")' <<<"$T_OUT")" "UCS-2 2" "104 UCS-2 characters: 2 segments"
exits 0 "back to a short one" msg campaign edit promo --text 'Hi {first_name|there}, news from {city|your town}!'

# ===================================================== dry run
exits 0 "launch --dry-run" msg campaign launch promo --dry-run
is "$(jq -r '[.recipients,.sendable,.suppressed,.by_reason.opted_out,.by_reason.blacklisted,.by_reason.invalid_number,.segments]|join(" ")' <<<"$T_OUT")" \
    "6 4 2 1 1 0 4" "recipients, to be sent, suppressed by reason, segments"
is "$(jq -r .rate <<<"$T_OUT")" 1 "at the rate"
EST=$(jq -r .estimated_s <<<"$T_OUT")
ok "the estimate covers 4 messages at 1/s (at least 4 s, at most a day for the closed zones)" \
    test "$EST" -ge 4 -a "$EST" -le 90000
exits 0 "sending hours all day" msg campaign edit promo --hours 00:00-24:00
exits 0 "launch --dry-run" msg campaign launch promo --dry-run
is "$(jq -r .estimated_s <<<"$T_OUT")" 4 "4 messages at 1/s: 4 s"
exits 0 "half the rate" msg campaign edit promo --rate 0.5
exits 0 "launch --dry-run" msg campaign launch promo --dry-run
is "$(jq -r .estimated_s <<<"$T_OUT")" 8 "4 messages at 0.5/s: 8 s"
exits 0 "nothing changed" msg campaign show promo
is "$(jq -r .state <<<"$T_OUT")" "draft" "still a draft"

# ===================================================== a segment as the list
exits 0 "a Lyon segment" msg list create lyon --where 'city=Lyon'
exits 0 "the campaign to it" msg campaign edit promo --list lyon
exits 0 "dry run on the segment" msg campaign launch promo --dry-run
is "$(jq -r '[.recipients,.sendable]|join(" ")' <<<"$T_OUT")" "3 1" \
    "three in Lyon, one of them sendable"

# ===================================================== WhatsApp
PN=106540352242922
exits 0 "a WhatsApp template" msg template wa add promo_wa --lang en --category marketing \
    --body 'Hi {{1}}, news from {{2}}'
exits 0 "a WhatsApp campaign" msg campaign create wapromo --whatsapp $PN
exits 1 "an unknown template is refused" msg campaign edit wapromo --outbound-channel whatsapp \
    --list promo --senders $PN --template nosuch --template-params first_name
like "$T_ERR" "no WhatsApp template nosuch" "naming it"
exits 1 "the wrong number of parameters is refused" msg campaign edit wapromo \
    --outbound-channel whatsapp --list promo --senders $PN --template promo_wa \
    --template-params first_name
like "$T_ERR" "takes 2 parameters; --template-params gives 1" "saying so"
exits 0 "template and parameters from contact fields" msg campaign edit wapromo \
    --outbound-channel whatsapp --list promo --senders $PN --template promo_wa \
    --template-params 'first_name|there,city|your town'
exits 0 "preview" msg campaign preview wapromo --contact +15559000002
is "$(jq -c '[.template,.params]' <<<"$T_OUT")" '["promo_wa",["there","Paris"]]' \
    "the template with the contact's values and fallbacks"
exits 0 "dry run" msg campaign launch wapromo --dry-run
is "$(jq -r '[.recipients,.segments]|join(" ")' <<<"$T_OUT")" "6 0" \
    "six recipients, no SMS segments"

# ===================================================== roles
U=parleyp$$
if ! tuser_ok; then
	for i in 1 2; do skip "roles need root, useradd, userdel and setpriv"; done
else
	tuser_add "$U"
	msg agent add pagent --user "$U" --role agent >/dev/null || bail "agent add"
	exits 1 "an agent cannot preview" as_user "$U" msg campaign preview promo
	like "$T_ERR" "needs the admin role" "the admin role is needed"
fi

done_testing
