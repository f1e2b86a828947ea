#!/bin/bash
# t_campaign_tier — a WhatsApp campaign run waits at the number's messaging
# tier (whatsapp_tier 250: unique recipients in a rolling 24 hours) rather
# than earning errors: of 260 recipients, 250 are handed to routerd and the
# run says what it waits for; an SMS run is not held by it.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

plan 7
stack_home
conf_set whatsapp_tier 250
stack_start

PN=106540352242999
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
{
	echo "first_name,last_name,phone"
	for i in $(seq 1 260); do printf 'T%03d,Tier,+1650555%04d\n' $i $i; done
} >"$T_HOME/tier.csv"
msg list create tier >/dev/null || bail "list"
exits 0 "a list of 260" msg list import tier "$T_HOME/tier.csv"
exits 0 "an approved template" msg template wa add tier_hello --lang en \
    --category marketing --body 'Hello {{1}}'
msg campaign create wa --whatsapp $PN --schedule "$ALWAYS" \
    --outbound "{\"list\":\"tier\",\"template\":{\"name\":\"tier_hello\",\"language\":\"en\",\"params\":[\"first_name\"]},\"channel\":\"whatsapp\",\"rate\":80,\"senders\":[\"$PN\"],\"hours\":{\"from\":\"00:00\",\"to\":\"24:00\"}}" \
    >/dev/null || bail "campaign wa"
exits 0 "launch the WhatsApp run" camp_launch wa
waiting() {
	msg campaign progress wa >"$T_HOME/p.json"
	jq -e '.waiting and (.pending - .in_flight) == 10 and .in_flight == 0' "$T_HOME/p.json" >/dev/null
}
ok "it waits with 10 recipients left" wait_for 30 waiting
like "$(jq -r .waiting "$T_HOME/p.json")" 'WhatsApp tier: 250 unique recipients in 24 hours reached on 106540352242999' \
    "saying it waits for the tier"
is "$(jq -r '.sent + .failed + .suppressed' "$T_HOME/p.json")" 250 "250 were handed on"
sleep 2
is "$(jq -r '.sent + .failed + .suppressed' <(msg campaign progress wa))" 250 "and no more"
done_testing
