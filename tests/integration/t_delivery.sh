#!/bin/bash
# t_delivery — delivery states a person can read, through the real daemons:
# a Twilio status callback "undelivered" with ErrorCode 30003 becomes a
# status event with the code, Twilio's text and the reason in words
# (lib/provcode, listed in parley-records(7)); msg transcript on a terminal
# names who did what: "offered to ada", "assigned to ada", the sender of
# each outbound message, "refused (...opted out...)", and the failure's
# code with its reason in words; a global text template sent on SMS
# (msg send --template NAME), its placeholders filled.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as agents"
plan 18
stack_start

U=pdl$$
tuser_add "${U}a"
as() { as_user "${U}a" "$@"; }
tty() { script -qefc "$1" /dev/null </dev/null | tr -d '\r'; }

ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
OURS=+15550081001
CUST=+15557810001
msg agent add ada --user "${U}a" --role agent >/dev/null || bail "agent ada"
msg campaign create dl --sms $OURS --schedule "$ALWAYS" >/dev/null &&
    msg member add dl ada >/dev/null && msg campaign launch dl >/dev/null ||
    bail "campaign dl"
as msg status available >/dev/null || bail "ada available"
msg contact add --name "Grace Hopper" --phone $CUST >/dev/null || bail "contact"

sb_sms $CUST $OURS "is my parcel coming" >/dev/null
C=$(wait_event 30 '.type=="message" and .dir=="in"' | jq -r .conv)
[ -n "$C" ] || bail "the conversation"
wait_event 30 ".type==\"offer\" and .conv==\"$C\"" >/dev/null ||
    bail "the offer to ada"
r=$(as msg inbox --json | jq -c "select(.conv==\"$C\") | [.offered_to_you,.book_name]")
is "$r" '[true,"Grace Hopper"]' \
    "the inbox: offered to ada now, the contact book's name"
t=$(COLUMNS=100 script -qec "msg inbox" /dev/null 2>&1 | tr -d '\r')
exits 0 "ada replies" as msg send --conv "$C" "it is on its way"
M=$(jq -r .id <<<"$T_OUT")
sent=$(wait_event 30 ".type==\"status\" and .id==\"$M\" and .status==\"sent\"")
SID=$(jq -r .pid <<<"$sent")
[ -n "$SID" ] || bail "the message was sent"
is "$(tw_post /twilio/status - "MessageSid=$SID" "MessageStatus=undelivered" \
    "ErrorCode=30003" "AccountSid=$ACCOUNT_SID" "From=$OURS" "To=$CUST")" 200 \
    "Twilio's callback: undelivered, 30003"
e=$(wait_event 15 ".type==\"status\" and .id==\"$M\" and .status==\"undelivered\"")
is "$(jq -r .code <<<"$e")" 30003 "the status has the provider's code"
like "$(jq -r .why <<<"$e")" 'unreachable handset' "and the reason in words"
# (sandboxd answers "delivered" itself too; a state only moves forward)
st=$(as msg inbox --json | jq -r "select(.conv==\"$C\") | .last_out_state")
like "$st" '^(delivered|undelivered)$' \
    "the inbox shows the last outbound message's delivery state"
t=$(COLUMNS=100 script -qec "msg inbox" /dev/null 2>&1 | tr -d '\r')
like "$t" "Grace Hopper \\+15557810001 .*> \\($st\\) it is" \
    "on a terminal: the book's name, the state before the last text"

# a global text template on SMS
msg template add thanks --type text --content "Thanks for waiting, this is {agent}." \
    >/dev/null && msg template add other --type text --content "x" >/dev/null &&
    msg template assign thanks --campaign dl >/dev/null || bail "templates"
exits 0 "ada sends a text template on SMS" as msg send --conv "$C" --template thanks
ok "the customer gets it, filled" wait_sb 15 \
    'p("Body")=="Thanks for waiting, this is ada."'
like "$(count_events '.type=="message" and .dir=="out" and .template=="thanks"')" '^1$' \
    "the message event names the template"
exits 1 "a template not assigned to dl is refused" \
    as msg send --conv "$C" --template other
like "$T_ERR" 'template other is not assigned to campaign dl' "saying why"
sb_sms $CUST $OURS "STOP" >/dev/null
wait_event 15 ".type==\"optout\" and .contact==\"$CUST\"" >/dev/null ||
    bail "the opt-out"
exits 1 "a reply to an opted-out customer is refused" \
    as msg send --conv "$C" "one more thing"
t=$(tty "msg transcript $C")
like "$t" 'offered to ada' "the transcript: offered to ada"
like "$t" 'assigned to ada \(reply\)' "assigned to ada, by her reply"
like "$t" "> \\$CUST \\(by ada\\): it is on its way" "who sent the reply"
like "$t" 'undelivered \(30003: unreachable handset' \
    "the failure with its code and reason in words"
like "$t" 'refused \([^)]*opted out' "the refusal, saying why"
done_testing
