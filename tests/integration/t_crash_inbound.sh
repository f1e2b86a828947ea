#!/bin/bash
# t_crash_inbound — the promise behind every 200: routerd is killed with
# SIGKILL while 2,000 signed inbound webhooks are being posted (loadgen
# --retry posts each one again until it gets 200, as a provider that retries
# would).  Once runsv has restarted routerd, exactly 2,000 distinct inbound
# messages are in the event log: none lost (each was acknowledged only after
# its commit) and none duplicated (MessageSid is deduplicated across the
# crash).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

N=${CRASH_N:-2000}
plan 11
[ -x "$PARLEY_TOOLS/loadgen" ] || bail "$PARLEY_TOOLS/loadgen is not built"
stack_start

OURS=+15557654321
LG_OUT=$T_HOME/loadgen.out
"$PARLEY_TOOLS/loadgen" inbound -u "$SMSD_URL/twilio/inbound" \
    --sig-url "$WEBHOOK_BASE/twilio/inbound" -t "$TOKEN_FILE" \
    --account "$ACCOUNT_SID" -n "$N" -c 8 --from-base +1555200000 \
    --to "$OURS" --prefix crash-in --retry --timeout 240 \
    >"$LG_OUT" 2>"$T_HOME/loadgen.err" &
LG=$!
bg_track "$LG"

inbound() { count_events '.type=="message" and .dir=="in"'; }

# Kill routerd once a tenth of the messages are stored, while loadgen posts.
wait_count 120 '.type=="message" and .dir=="in"' $((N / 10)) ||
    bail "fewer than $((N / 10)) messages stored after 120s"
OLD=$(sv_pid routerd)
like "$OLD" '^[0-9]+$' "routerd runs under runsv (pid $OLD)"
before=$(inbound)
# loadgen prints its summary only when it is done.
[ -s "$LG_OUT" ] && running=no || running=yes
kill -KILL "$OLD"
is "$running" yes "loadgen was still posting when routerd got SIGKILL"
diag "inbound messages stored just before the kill: $before of $N"

restarted() { p=$(sv_pid routerd); [ -n "$p" ] && [ "$p" != "$OLD" ]; }
ok "runsv restarted routerd" wait_for 30 restarted
ok "the restarted routerd answers" wait_for 30 msg ping -q -w 1 routerd

# loadgen ends by itself (every message answered 200, or its --timeout).
wait_for 260 test -s "$LG_OUT" || kill -TERM "$LG"
wait "$LG"; rc=$?
bg_untrack "$LG"
sum=$(tail -n 1 "$LG_OUT")
diag "loadgen: $sum"
is "$rc" 0 "loadgen got a 200 for every one of the $N webhooks"
is "$(jq -r '.ok // empty' <<<"$sum")" "$N" "its summary counts $N acknowledged"

msgs=$(events 'select(.type=="message" and .dir=="in") | [.pid, .text] | @tsv')
is "$(grep -c . <<<"$msgs")" "$N" "exactly $N inbound messages are in the log"
is "$(cut -f1 <<<"$msgs" | sort -u | grep -c .)" "$N" "$N distinct MessageSids: none duplicated"
missing=$(comm -13 <(cut -f2 <<<"$msgs" | sort -u) \
    <(seq 0 $((N - 1)) | sed 's/^/load /' | sort))
is "$(grep -c . <<<"$missing")" 0 "every text 'load 0' .. 'load $((N - 1))' is there: none lost"
[ -n "$missing" ] && diag "missing (first 10):" "$(head -n 10 <<<"$missing")"

# A provider re-delivering everything after the restart changes nothing.
again=$(timeout 300 "$PARLEY_TOOLS/loadgen" inbound -u "$SMSD_URL/twilio/inbound" \
    --sig-url "$WEBHOOK_BASE/twilio/inbound" -t "$TOKEN_FILE" \
    --account "$ACCOUNT_SID" -n "$N" -c 8 --from-base +1555200000 \
    --to "$OURS" --prefix crash-in --retry --timeout 240 2>/dev/null)
is "$(jq -r '.ok // empty' <<<"$again")" "$N" "all $N posted again are acknowledged"
is "$(inbound)" "$N" "and the log still holds exactly $N inbound messages"

done_testing
