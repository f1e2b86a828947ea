#!/bin/bash
# t_campaign_wa — a WhatsApp outbound campaign run (issue 14): csend carries
# the campaign's outbound.template with each recipient's parameters
# (outbound.template.params mapped from contact fields, fallbacks after
# "|"), and every recipient reaches sandboxd's Cloud API once as a template
# message with its parameters filled (a contact whose parameter has neither
# a value nor a fallback keeps the campaign from launching: readiness).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

plan 12
stack_start

PN=106540352242977
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
{
	echo "first_name,last_name,phone,city,code"
	for i in $(seq 1 8); do printf 'Wa%02d,Run,+1650556%04d,Lyon,C%d\n' $i $i $i; done
	echo ",Nofirst,+16505569901,,C9"
} >"$T_HOME/wa.csv"
msg list create walist >/dev/null || bail "list"
exits 0 "a list of 9" msg list import walist "$T_HOME/wa.csv"
exits 0 "an approved template with two body parameters" \
    msg template wa add wa_news --lang en_US --category marketing \
    --body 'Hi {{1}}, news from {{2}} (ref {{3}})'
msg campaign create wa --whatsapp $PN --schedule "$ALWAYS" \
    --outbound "{\"list\":\"walist\",\"channel\":\"whatsapp\",\"template\":{\"name\":\"wa_news\",\"language\":\"en_US\",\"params\":[\"first_name|there\",\"city|your town\",\"code\"]},\"rate\":20,\"senders\":[\"$PN\"],\"hours\":{\"from\":\"00:00\",\"to\":\"24:00\"}}" \
    >/dev/null || bail "campaign wa"
exits 0 "launch the WhatsApp run" camp_launch wa
ok "every recipient with its values reaches the Cloud API as a template" \
    wait_wa 30 '.body.type=="template" and (.body.to|test("16505569?[0-9]{4}"))' 9
done_p() { msg campaign progress wa | jq -e '.state=="done"' >/dev/null; }
ok "the run ends" wait_for 30 done_p
s=$(sb_wa_sends '.body.type=="template" and .body.template.name=="wa_news"')
is "$(grep -c . <<<"$s")" 9 "nine template messages, no more"
is "$(jq -r .body.to <<<"$s" | sort | uniq -d | wc -l)" 0 "nobody got it twice"
is "$(jq -c 'select(.body.to|test("16505560003")) | [.body.template.language.code,
    [.body.template.components[] | select(.type=="body") | .parameters[].text]]' <<<"$s")" \
    '["en_US",["Wa03","Lyon","C3"]]' "the recipient's parameters, in order"
is "$(jq -c 'select(.body.to|test("16505569901")) |
    [.body.template.components[] | select(.type=="body") | .parameters[].text]' <<<"$s")" \
    '["there","your town","C9"]' "fallbacks fill empty fields"
p=$(msg campaign progress wa)
is "$(jq -c '[.total,.sent,.failed]' <<<"$p")" '[9,9,0]' "progress: 9, all sent"
is "$(msg campaign contacts wa --preview +16505560005 --json | jq -c '[.template,.params]')" \
    '["wa_news",["Wa05","Lyon","C5"]]' "--preview shows the template and its parameters"
e=$(wait_event 10 '.type=="message" and .dir=="out" and .campaign=="wa"')
is "$(jq -r .template <<<"$e")" wa_news "routerd records the template on the message"
done_testing
