#!/bin/bash
# t_wa_golden — golden tests of the WhatsApp webhook: each example
# notification in tests/golden/whatsapp/NN-*.json (every message type, a
# batch of several entries and changes, statuses) is posted to whatsappd,
# signed as Meta signs it, and the records routerd stored are compared with
# NN-*.expected, one JSON line per record, with what differs from run to run
# (seq, ts, our ids) taken out.  GOLDEN_UPDATE=1 writes the .expected files
# instead (review them before committing).
#
# Status examples carry @WAMID@, replaced by the provider id of a message
# sent in this test; sandboxd posts no statuses of its own for those sends
# (a fault rule with repeat 0), so the example's conversation, pricing and
# errors are the ones stored.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

GOLD=$PARLEY_SRC/tests/golden/whatsapp
PN=106540352242922
# the status examples first: they send on the conversation of
# +16505551234, which 29-system-number later moves to a new number
files=$(cd "$GOLD" && grep -l @WAMID@ [0-9][0-9]-*.json;
    grep -L @WAMID@ [0-9][0-9]-*.json)
n=$(wc -w <<<"$files")
plan $((n * 2))
stack_start

ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
msg campaign create wa --whatsapp $PN --schedule "$ALWAYS" >/dev/null ||
    bail "msg campaign create wa"
camp_launch wa || bail "launch wa"

# norm: a record without what differs between runs, keys sorted.
norm() {
	jq -cS 'del(.seq, .ts, .conv, .id, .msg) |
	    if .type == "status" and .pid then .pid = "@WAMID@" else . end'
}

# records PREFIX: the stored message records whose pid starts with PREFIX
# (and the statuses an edit or a deletion put on such a message), or with a
# message id (m_...) that message's status records; normalised, sorted.
records() {
	case $1 in
	m_*) events "select(.type==\"status\" and .id==\"$1\")" ;;
	*) events "select((.type==\"message\" or .type==\"status\") and
	    ((.pid // \"\") | startswith(\"$1\")))" ;;
	esac | norm | LC_ALL=C sort
}

# sandboxd's status webhooks for the sends below are lost (see the top)
sb_fault '{"api":"whatsapp","to":"+16505551234","repeat":0,"count":-1}' \
    >/dev/null || bail "sb_fault"

# the wamid of an outbound message, for the status examples
# (through sandboxd, whose window, like Meta's, knows only what it saw)
sb_wa "$(jq -nc --arg p $PN '{from:"+16505551234", to:$p,
    name:"Sheena Nelson", type:"text", text:"hello for the statuses"}')" \
    >/dev/null
rec=$(wait_event 15 ".type==\"message\" and .dir==\"in\" and
    .text==\"hello for the statuses\"") || bail "the inbound text was not stored"
CONV=$(jq -r .conv <<<"$rec")

for f in $files; do
	name=${f%.json}
	body=$(cat "$GOLD/$f")
	case $body in
	*@WAMID@*)
		out=$(msg send --conv "$CONV" "status example $name") ||
		    bail "msg send for $name failed"
		mid=$(jq -r .id <<<"$out")
		st=$(wait_event 20 ".type==\"status\" and .id==\"$mid\" and
		    .status==\"sent\"") || bail "no sent status for $mid"
		wid=$(jq -r .pid <<<"$st")
		body=${body//@WAMID@/$wid}
		prefix=$mid
		;;
	*)
		prefix=wamid.GOLDEN${name%%-*}
		;;
	esac
	code=$(wa_post "$body")
	is "$code" 200 "$name: whatsappd answers 200 once routerd stored it"
	# every item of the example is in: as many records as expected lines
	want=$(cat "$GOLD/$name.expected" 2>/dev/null | grep -c .)
	[ "$want" -gt 0 ] || want=1
	limit=$(( $(now_ms) + 15000 ))
	while got=$(records "$prefix"); [ "$(grep -c . <<<"$got")" -lt "$want" ] &&
	    [ "$(now_ms)" -lt "$limit" ]; do
		sleep 0.2
	done
	# statuses: only those of the example (sandboxd posts its own too)
	if [ "$prefix" != "${prefix#m_}" ]; then
		sts=$(jq -c '[.entry[].changes[].value.statuses[]?.status]' \
		    <<<"$body")
		got=$(jq -c --argjson s "$sts" \
		    'select(.status as $x | $s | index($x))' <<<"$got")
	fi
	if [ "${GOLDEN_UPDATE:-0}" = 1 ]; then
		printf '%s\n' "$got" >"$GOLD/$name.expected"
		pass "$name: written"
		continue
	fi
	is "$got" "$(cat "$GOLD/$name.expected" 2>/dev/null)" \
	    "$name: the stored records are the golden ones"
done
