#!/bin/bash
# t_send_filter — `msg send` as a filter over many lines, as README's bulk
# example uses it: every line is queued and reaches the provider exactly
# once, with one result line per input line in input order.  First 1,200
# lines, three times over (a pass that receives every outstanding answer
# while lines are still buffered used to leave "nothing to wait for" and
# stop partway); then 5,000 lines with routerd restarted in the middle:
# requests whose answers were lost are sent again with the same key, so
# sandboxd's Twilio API sees exactly 5,000 distinct messages, each once.
# Last, a line routerd refuses is named on stderr by its line number while
# the lines around it are sent.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 30
stack_start

OURS=+15557654321

# lines TAG FIRST LAST: {"to","text"} lines, one customer per line.
lines() {
	local i
	for ((i = $2; i <= $3; i++)); do
		printf '{"to":"sms:+1555%07d","text":"%s %d"}\n' "$i" "$1" "$i"
	done
}

# bodies TAG: the bodies sandboxd's Twilio API received that start with TAG.
bodies() {
	sb_msgs "p(\"Body\") | startswith(\"$1 \")" | jq -r "$JQ_DEFS p(\"Body\")"
}

# wait_bodies SECONDS TAG N: until sandboxd has at least N such bodies.
wait_bodies() {
	local limit=$(( $(now_ms) + $1 * 1000 ))
	while [ "$(bodies "$2" | wc -l)" -lt "$3" ]; do
		[ "$(now_ms)" -ge "$limit" ] && return 1
		sleep 0.5
	done
}

# ----------------------------------------------- 1,200 lines, three runs
for run in a b c; do
	out=$T_HOME/out.$run err=$T_HOME/err.$run
	lines "bulk-$run" 1 1200 | msg send --from "$OURS" >"$out" 2>"$err"
	rc=$?
	is "$rc" 0 "run $run: msg send of 1,200 lines exits 0" ||
	    diag "stderr: $(head -c 2000 "$err")"
	is "$(grep -c . "$out")" 1200 "run $run: 1,200 result lines" ||
	    diag "stderr: $(head -c 2000 "$err")"
	is "$(jq -r .status "$out" | sort -u | tr '\n' ' ')" "queued " \
	    "run $run: every one queued"
done
is "$(cat "$T_HOME"/out.[abc] | jq -r .id | sort -u | wc -l | tr -d ' ')" 3600 \
    "3,600 distinct messages queued"
wait_bodies 120 bulk-a 1200 && wait_bodies 60 bulk-b 1200 &&
    wait_bodies 60 bulk-c 1200
for run in a b c; do
	got=$(bodies "bulk-$run")
	is "$(wc -l <<<"$got" | tr -d ' ')/$(sort -u <<<"$got" | wc -l | tr -d ' ')" \
	    1200/1200 "run $run: sandboxd received all 1,200, each once"
done

# ------------------------------- 5,000 lines with a routerd restart
# The lines are written into a FIFO 100 at a time over a few seconds;
# routerd is restarted (SIGTERM: it drains) once 1,000 results
# are out, and killed (SIGKILL: the answers in flight are lost) once 3,000
# are, while msg send goes on reading and sending.
fifo=$T_HOME/lines.fifo
mkfifo "$fifo" || bail "mkfifo failed"
rout=$T_HOME/out.r rerr=$T_HOME/err.r
msg send --from "$OURS" <"$fifo" >"$rout" 2>"$rerr" &
SEND=$!
bg_track "$SEND"
(
	for ((k = 0; k < 50; k++)); do
		lines restart $((k * 100 + 1)) $((k * 100 + 100))
		sleep 0.1
	done
) >"$fifo" &
WRITER=$!
bg_track "$WRITER"
results() { [ "$(grep -c . "$rout")" -ge "$1" ]; }
pid1=$(sv_pid routerd)
ok "1,000 lines are answered" wait_for 120 results 1000
ok "routerd restarted (SIGTERM) in the middle" svc_restart routerd 30
pid2=$(sv_pid routerd)
[ -n "$pid2" ] && [ "$pid2" != "$pid1" ] && pass "routerd runs again under a new pid" ||
    fail "routerd runs again under a new pid" "before $pid1, after '$pid2'"
ok "3,000 lines are answered" wait_for 120 results 3000
kill -KILL "$pid2" 2>/dev/null
ok "runsv starts routerd again after SIGKILL" \
    wait_for 30 sh -c "p=\$(sv status '$(svc routerd)' | sed -n 's/^run: [^(]*(pid \([0-9]*\)).*/\1/p'); [ -n \"\$p\" ] && [ \"\$p\" != '$pid2' ]"
ok "msg send finishes" wait_for 180 proc_done "$SEND"
wait "$SEND"; rc=$?
bg_untrack "$SEND"
wait "$WRITER"
bg_untrack "$WRITER"
is "$rc" 0 "msg send through the restarts exits 0" ||
    diag "stderr: $(head -c 3000 "$rerr")"
is "$(grep -c . "$rout")" 5000 "5,000 result lines" ||
    diag "stderr: $(head -c 3000 "$rerr")"
is "$(jq -r .id "$rout" | sort -u | wc -l | tr -d ' ')" 5000 \
    "naming 5,000 distinct messages"
like "$(cat "$rerr")" "routerd: .*reconnecting" "msg send saw routerd go and reconnected"
is "$(grep -vc 'reconnecting' "$rerr")" 0 "and reported no line as failed"
wait_bodies 240 restart 5000 ||
    diag "sandboxd has $(bodies restart | wc -l) of 5000"
got=$(bodies restart)
is "$(wc -l <<<"$got" | tr -d ' ')" 5000 "sandboxd's Twilio API received 5,000 messages"
is "$(sort -u <<<"$got" | wc -l | tr -d ' ')" 5000 "5,000 distinct ones: each line once"
is "$(count_events '.type=="message" and .dir=="out" and (.text | startswith("restart "))')" 5000 \
    "the event log holds each of them once"

# ------------------------------- a refused line among good ones
{
	lines refusal 9001 9002
	printf '{"to":"sms:12345","text":"refusal bad"}\n'
	lines refusal 9004 9005
} | msg send --from "$OURS" >"$T_HOME/out.f" 2>"$T_HOME/err.f"
is "$?" 1 "a refused line makes the exit status 1"
is "$(grep -c . "$T_HOME/out.f")" 4 "the four good lines are queued"
like "$(cat "$T_HOME/err.f")" "^msg: send: line 3: .*E\.164" \
    "the refused line is named by its number"

done_testing
