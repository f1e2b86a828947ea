#!/bin/bash
# t_crash_outbound — a message that `msg send` reported queued survives a
# routerd crash: with smsd down the message can only wait in routerd's store;
# routerd is then killed with SIGKILL, smsd comes back, runsv restarts
# routerd, and the restarted routerd finds the unsent message in its store
# and dispatches it.  The provider (sandboxd) gets it exactly once and
# `msg tail` shows it sent and delivered.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 11
stack_start

OURS=+15557654321
CUST=+15551230401
TEXT="queued before the crash"

ok "smsd down" svc_down smsd
exits 0 "msg send reports the message queued while smsd is down" \
    msg send --to "sms:$CUST" --from "$OURS" "$TEXT"
q=$(wait_event 10 ".type==\"message\" and .dir==\"out\" and .text==\"$TEXT\"") || q='{}'
MID=$(jq -r '.id // empty' <<<"$q")
is "$(jq -r '.status // empty' <<<"$q")" queued "msg tail shows it queued"
is "$(count_events ".type==\"status\" and .id==\"$MID\" and .status==\"sent\"")" 0 \
    "it is not sent while smsd is down"

OLD=$(sv_pid routerd)
kill -KILL "$OLD"
restarted() { p=$(sv_pid routerd); [ -n "$p" ] && [ "$p" != "$OLD" ]; }
ok "runsv restarts routerd after SIGKILL" wait_for 30 restarted
ok "sv up smsd" sv -w 15 up "$(svc smsd)"
ok "smsd answers again" wait_for 30 msg ping -q -w 1 smsd

st=$(wait_event 30 ".type==\"status\" and .id==\"$MID\" and .status==\"delivered\"") || st='{}'
is "$(jq -r '.status // empty' <<<"$st")" delivered "the restarted routerd sends it and it is delivered"
sent=$(events "select(.type==\"status\" and .id==\"$MID\" and .status==\"sent\") | .pid")
is "$(grep -c . <<<"$sent")" 1 "msg tail shows it sent once" ||
    diag "events of $MID:" "$(events "select(.id==\"$MID\")")"
got=$(sb_msgs "p(\"Body\")==\"$TEXT\" and .answer==201")
is "$(grep -c . <<<"$got")" 1 "sandboxd received it exactly once"
is "$(jq -r "$JQ_DEFS p(\"To\")" <<<"$got" | head -n 1)" "$CUST" "to the right number"

done_testing
