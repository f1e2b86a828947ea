#!/bin/bash
# t_campaign_end — a campaign run with outbound.end a time (issue 14): once
# that time passes by campaignd's clock (clock_offset_ms moves it), the run
# starts no more sends; the recipients not sent end failed, "not sent: the
# campaign ended", those already sent stay so, the run is done and progress
# says it ended.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

plan 10
stack_home
stack_start

OURS=+15550140091
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
{
	echo "first_name,last_name,phone"
	for i in $(seq 1 40); do printf 'End%02d,Run,+1555018%04d\n' $i $i; done
} >"$T_HOME/end.csv"
msg list create endl >/dev/null || bail "list"
exits 0 "a list of 40" msg list import endl "$T_HOME/end.csv"
# an end a day ahead by the wall clock: the campaign is ready
END=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
msg campaign create ends --sms $OURS --schedule "$ALWAYS" \
    --outbound "{\"list\":\"endl\",\"senders\":[\"$OURS\"],\"text\":\"Until the end\",\"rate\":1,\"hours\":{\"from\":\"00:00\",\"to\":\"24:00\"},\"end\":\"$END\"}" \
    >/dev/null || bail "campaign ends"
exits 0 "launch at one a second, its end a day ahead" camp_launch ends
ok "a few are sent" wait_sb 20 'p("Body")=="Until the end"' 3
# campaignd's clock a day and a minute ahead: the end has passed
conf_set clock_offset_ms $(( 86400000 + 60000 ))
kill -HUP "$(sv_pid campaignd)"
done_p() { msg campaign progress ends | jq -e '.state=="done"' >/dev/null; }
ok "the run ends at once" wait_for 15 done_p
p=$(msg campaign progress ends)
n=$(sb_msgs 'p("Body")=="Until the end"' | grep -c .)
is "$(jq -r '.sent + .failed' <<<"$p")" 40 "every recipient is sent or failed"
is "$(jq -r .sent <<<"$p")" "$n" "those sent are those sandboxd got"
ok "most were not sent" test "$(jq -r .failed <<<"$p")" -ge 20
like "$(jq -r .ended <<<"$p")" "its end $END|its end ${END%Z}" "progress says the run ended"
c=$(msg campaign contacts ends --state failed --json)
is "$(jq -r .reason <<<"$c" | sort -u)" \
    "not sent: the campaign ended (its end $(jq -r .ended <<<"$p" | sed 's/^its end \([^ ]*\) .*/\1/') passed)" \
    "each not sent says the campaign ended"
sleep 2
is "$(sb_msgs 'p("Body")=="Until the end"' | grep -c .)" "$n" "and nothing more goes"
done_testing
