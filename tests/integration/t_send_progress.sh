#!/bin/bash
# t_send_progress — a send under way, through the real daemons: while
# sandboxd holds Twilio's answer the message is "pending" (handed to the
# provider, attempt 1); when Twilio answers 503 it is "retrying" (attempt 2,
# the next try's time, the code and reason) and then "pending" again, until
# the final state ("sent", or "failed" with the provider's code).  Status
# events carry attempt and next_ts; msg inbox, msg history and msg
# transcript show them; a state past them never goes back.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as agents"
plan 23
stack_start
[ -x "$PARLEY_TOOLS/bustool" ] || bail "$PARLEY_TOOLS/bustool is not built"

U=psp$$
tuser_add "${U}a"
as() { as_user "${U}a" "$@"; }
tty() { COLUMNS=200 script -qefc "$1" /dev/null </dev/null | tr -d '\r'; }
RSOCK=$T_HOME/run/routerd.sock

ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
OURS=+15550091001
CUST=+15557910001
msg agent add ada --user "${U}a" --role agent >/dev/null || bail "agent ada"
msg campaign create sp --sms $OURS --schedule "$ALWAYS" >/dev/null &&
    msg member add sp ada >/dev/null && msg campaign launch sp >/dev/null ||
    bail "campaign sp"
as msg status available >/dev/null || bail "ada available"
sb_sms $CUST $OURS "where is it" >/dev/null
C=$(wait_event 30 '.type=="message" and .dir=="in"' | jq -r .conv)
[ -n "$C" ] || bail "the conversation"
wait_event 30 ".type==\"offer\" and .conv==\"$C\"" >/dev/null ||
    bail "the offer to ada"
as msg claim "$C" >/dev/null || bail "ada claims"

st() { jq -c "select(.type==\"status\" and .id==\"$1\" and .status==\"$2\")"; }
state() { as msg inbox --json | jq -r "select(.conv==\"$C\") | .last_out_state"; }

# ---------------------------------------------- a delayed answer: pending
sb_fault '{"api":"twilio","to":"'$CUST'","delay_ms":4000,"count":1}' >/dev/null
exits 0 "ada replies while Twilio is slow" as msg send --conv "$C" "slow one"
M=$(jq -r .id <<<"$T_OUT")
e=$(wait_event 10 ".type==\"status\" and .id==\"$M\" and .status==\"pending\"")
is "$(jq -c '[.attempt,.campaign,.channel]' <<<"$e")" '[1,"sp","sms"]' \
    "handed to Twilio, no answer yet: pending, attempt 1"
is "$(state)" pending "the inbox shows pending while the answer waits"
t=$(tty "msg history --campaign sp")
like "$t" '> \(pending \(attempt 1\)\) slow one' "so does msg history"
ok "then the final state: sent" \
    wait_event 15 ".type==\"status\" and .id==\"$M\" and .status==\"sent\""
like "$(state)" '^(sent|delivered)$' "the inbox moved on"
is "$(events | st "$M" pending | wc -l | tr -d ' ')" 1 "one pending event"

# ---------------------------------- a failing answer: retrying, then sent
sb_fault '{"api":"twilio","to":"'$CUST'","http":503,"code":20500,"message":"Internal Server Error","count":2}' >/dev/null
before=$(date +%s)
exits 0 "ada replies while Twilio fails" as msg send --conv "$C" "second try"
M2=$(jq -r .id <<<"$T_OUT")
e=$(wait_event 10 ".type==\"status\" and .id==\"$M2\" and .status==\"retrying\" and .attempt==2")
is "$(jq -c '[.code,.reason]' <<<"$e")" '["20500","provider answered HTTP 503"]' \
    "Twilio's 503: retrying attempt 2, with the code and the reason"
n=$(jq -r '.next_ts | sub("\\.[0-9]+Z$"; "Z") | fromdate' <<<"$e")
ok "next_ts is the next try's time" \
    test "${n:-0}" -ge "$before" -a "${n:-0}" -le $((before + 10))
ok "then retrying attempt 3" wait_event 15 \
    ".type==\"status\" and .id==\"$M2\" and .status==\"retrying\" and .attempt==3"
ok "and pending attempt 3" wait_event 15 \
    ".type==\"status\" and .id==\"$M2\" and .status==\"pending\" and .attempt==3"
ok "and sent at last" wait_event 15 \
    ".type==\"status\" and .id==\"$M2\" and .status==\"sent\""
t=$(tty "msg transcript $C")
like "$t" "$M2 retrying \\(attempt 2, next try at [0-9]{2}:[0-9]{2}:[0-9]{2}\\) \\(20500" \
    "the transcript: retrying (attempt 2, next try at HH:MM:SS) with the code"
like "$t" "$M2 pending \\(attempt 3\\)" "and pending (attempt 3)"

# -------------------------------- a failing answer that ends in a refusal
sb_fault '{"api":"twilio","to":"'$CUST'","http":503,"count":1}' >/dev/null
sb_fault '{"api":"twilio","to":"'$CUST'","http":400,"code":21211,"message":"Invalid To","count":1}' >/dev/null
exits 0 "ada replies once more" as msg send --conv "$C" "third one"
M3=$(jq -r .id <<<"$T_OUT")
ok "retrying attempt 2" wait_event 10 \
    ".type==\"status\" and .id==\"$M3\" and .status==\"retrying\" and .attempt==2"
e=$(wait_event 15 ".type==\"status\" and .id==\"$M3\" and .status==\"failed\"")
is "$(jq -r .code <<<"$e")" 21211 "then failed, with the provider's code"
is "$(state)" failed "the inbox shows failed"

# ---------------------------------------- never back; only the daemons
o=$("$PARLEY_TOOLS/bustool" req "$RSOCK" "{\"t\":\"st\",\"channel\":\"sms\",\"msg\":\"$M2\",\"status\":\"retrying\",\"attempt\":9,\"next_ts\":$((before + 60)),\"code\":\"x\",\"reason\":\"late\"}" 2>&1)
is "$(jq -c '.dup' <<<"$o" 2>/dev/null)" true "a late retrying after sent is not news"
is "$(events | st "$M2" retrying | jq -r .attempt | tr '\n' ,)" 2,3, \
    "no event for it; the state stays"
o=$("$PARLEY_TOOLS/bustool" req "$RSOCK" "{\"t\":\"st\",\"channel\":\"sms\",\"msg\":\"$M2\",\"status\":\"retrying\",\"attempt\":2}" 2>&1)
like "$o" 'retrying needs next_ts' "retrying without next_ts is refused"
o=$(as_user "${U}a" "$T_HOME/bin/bustool" req "$RSOCK" "{\"t\":\"st\",\"channel\":\"sms\",\"msg\":\"$M\",\"status\":\"pending\",\"attempt\":1}" 2>&1)
like "$o" 'accepted only from the parley daemons' "an agent may not send st"
