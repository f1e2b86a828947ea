#!/bin/bash
# t_files — msg send --file and --media-url through the real daemons: the
# campaign's file policy (disabled, library only), the channel's rules (a
# local file cannot go by SMS: Twilio fetches media from a public URL), the
# campaign's allowed types and the channel's size limit, each refused before
# anything is queued with one line, exit 1 and a "refused" event; and a
# --media-url that reaches sandboxd as repeated MediaUrl parameters, with
# the media on the message record.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 28
stack_start

ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
OURS=+15550030001
CUST=+15551230301
msg campaign create files --sms "$OURS" --schedule "$ALWAYS" >/dev/null ||
    bail "msg campaign create files"
camp_launch files || bail "launch files"

sb_sms "$CUST" "$OURS" "please send me the brochure" >/dev/null
rec=$(wait_event 15 ".type==\"message\" and .dir==\"in\" and .contact==\"$CUST\"") ||
    bail "the customer's SMS never reached msg tail"
CONV=$(jq -r .conv <<<"$rec")
is "$(jq -r .campaign <<<"$rec")" files "the conversation is in campaign files"

D=$T_HOME/files
mkdir -p "$D"
printf '%%PDF-1.4\n%%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%%%EOF\n' >"$D/brochure.pdf"
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR' >"$D/photo.png"
truncate -s 6M "$D/big.png"
printf '\x89PNG\r\n\x1a\n' | dd of="$D/big.png" conv=notrunc status=none

refusals() { count_events ".type==\"refused\" and .conv==\"$CONV\""; }
queued() { count_events ".type==\"message\" and .dir==\"out\" and .conv==\"$CONV\""; }

# --- msg's own checks
exits 1 "a missing file is refused by msg" \
    msg send --conv "$CONV" --file "$D/nope.pdf"
like "$T_ERR" "nope.pdf: No such file" "it says the file is not there"
exits 1 "a directory is not a file" msg send --conv "$CONV" --file "$D"
like "$T_ERR" "not a regular file" "it says so"
exits 2 "--media-url must be http(s)" \
    msg send --conv "$CONV" --media-url ftp://example.com/a.png

# --- files disabled (the default)
exits 1 "files disabled: --file refused" \
    msg send --conv "$CONV" --file "$D/brochure.pdf" "here it is"
like "$T_ERR" "campaign files does not allow agents to send files" \
    "the reason names the campaign's policy"
is "$(refusals)" 1 "a refused event is recorded"
ev=$(events "select(.type==\"refused\" and .conv==\"$CONV\")" | tail -n 1)
is "$(jq -r .reason <<<"$ev")" "campaign files does not allow agents to send files" \
    "the event carries the reason"

# --- enabled, but only from the library
msg campaign edit files --files yes --files-local no >/dev/null ||
    bail "msg campaign edit --files yes"
exits 1 "library only: a local file is refused" \
    msg send --conv "$CONV" --file "$D/brochure.pdf"
like "$T_ERR" "only from the library" "it says files come only from the library"

# --- local files allowed: SMS still cannot carry one
msg campaign edit files --files-local yes >/dev/null ||
    bail "msg campaign edit --files-local yes"
exits 1 "a PDF to SMS is refused" \
    msg send --conv "$CONV" --file "$D/brochure.pdf" "our brochure"
like "$T_ERR" "SMS \\(Twilio\\) takes media only as a public URL: msg send --media-url URL" \
    "with the --media-url hint"

# --- the size limit: a sparse 6 MB image
exits 1 "a 6 MB image is over SMS's 5 MB" \
    msg send --conv "$CONV" --file "$D/big.png"
like "$T_ERR" "big.png: the file is 6.0 MB; sms takes at most 5 MB" \
    "the reason gives the size and the limit"

# --- the campaign's allowed types
msg campaign edit files --files-types '{"sms":["image/jpeg","image/png"]}' \
    >/dev/null || bail "msg campaign edit --files-types"
exits 1 "a type not in the campaign's list is refused" \
    msg send --conv "$CONV" --media-url https://cdn.example.com/brochure.pdf
like "$T_ERR" "does not allow application/pdf files on sms \\(allowed: image/jpeg, image/png\\)" \
    "the reason lists what is allowed"
is "$(queued)" 0 "nothing refused was queued"
is "$(refusals)" 5 "each refusal is an event"

# --- --media-url reaches Twilio (sandboxd) as MediaUrl
U1=https://cdn.example.com/m/photo.png
U2=https://cdn.example.com/m/map.jpg?size=large
exits 0 "--media-url with text is queued" \
    msg send --conv "$CONV" --media-url "$U1" --media-url "$U2" "two pictures"
got=$(wait_sb 15 'p("Body")=="two pictures"') || got='{}'
got=$(head -n 1 <<<"$got")
diag "sandboxd received: ${got:0:600}"
media=$(jq -c '[(.params // .form // {}) | to_entries[]? |
    select(.key | startswith("MediaUrl")) | .value] |
    flatten' <<<"$got" 2>/dev/null)
[ -z "$media" ] || [ "$media" = "[]" ] &&
    media=$(jq -c '[(.params // .form // {}).MediaUrl] | flatten' <<<"$got")
is "$media" "[\"$U1\",\"$U2\"]" "sandboxd got both MediaUrl parameters, in order"
out=$(wait_event 15 ".type==\"message\" and .dir==\"out\" and .conv==\"$CONV\"") || out='{}'
is "$(jq -c '.media' <<<"$out")" \
    "[{\"url\":\"$U1\",\"mime\":\"image/png\"},{\"url\":\"$U2\",\"mime\":\"image/jpeg\"}]" \
    "the message record shows the media with their types"
MID=$(jq -r '.id // empty' <<<"$out")
st=$(wait_event 15 ".type==\"status\" and .id==\"$MID\" and .status==\"sent\"") || st='{}'
like "$(jq -r '.pid // empty' <<<"$st")" '^MM' "Twilio answers with an MMS sid"

exits 0 "--media-url alone (no text) is queued" \
    msg send --conv "$CONV" --media-url "$U1"
o2=$(wait_event 15 ".type==\"message\" and .dir==\"out\" and .conv==\"$CONV\" and .text==\"\"") || o2='{}'
M2=$(jq -r '.id // empty' <<<"$o2")
st=$(wait_event 15 ".type==\"status\" and .id==\"$M2\" and (.status==\"sent\" or .status==\"failed\")") || st='{}'
is "$(jq -r '.status // empty' <<<"$st")" sent "a media-only MMS is sent"

# --- media URLs are library files: refused when the library is off
msg campaign edit files --files-library no >/dev/null ||
    bail "msg campaign edit --files-library no"
exits 1 "library off: a media URL is refused" \
    msg send --conv "$CONV" --media-url "$U1" "again"
like "$T_ERR" "does not allow files from the library" "it says why"

done_testing
