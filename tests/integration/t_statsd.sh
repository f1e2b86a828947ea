#!/bin/bash
# t_statsd — statsd through the real daemons: customers write over SMS and
# the figures follow (msg stats, stats.sock read with socat, msg stats -f
# seeing the change, /api/stats, /events with ids, a heartbeat and a resume
# with Last-Event-ID), /metrics accepted by promtool (or, without it, by a
# small parser here), a restart that counts nothing twice, statsd -r
# rebuilding into another directory exactly what the live fold stored,
# msg stats --rebuild, msg report (table, CSV, JSON, SVG), and the clock
# moved forward (clock_offset_ms, SIGHUP) past the dropout threshold: the
# customers wait that long, but only routerd's abandon event abandons them
# (t_statsd_events); and messengerd's Page has its token state.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

plan 30
stack_start
trap stack_stop EXIT

SMS_TO=+15557654321
sms() { tw_post /twilio/inbound - $(inbound_params "$(sm_sid)" "$1" "$SMS_TO" "$2"); }
api() { curl -fsS -m 5 "$STATSD_URL/api/stats"; }
camp() { api | jq -r ".campaigns[] | select(.campaign==\"default\") | .$1"; }
waiting_has() { api | jq -e --arg c "$1" '[.waiting[] | select(.contact==$c)] | length == 1' >/dev/null; }

is "$(sms +15551110001 "Hello")" 200 "a customer writes"
ok "statsd shows the waiting customer within 2 s" wait_for 2 waiting_has +15551110001

out=$(msg stats)
like "$(jq -r 'select(.type=="waiting") | .contact' <<<"$out")" '\+15551110001' \
    "msg stats: the waiting customer"
is "$(tail -n 1 <<<"$out" | jq -r .type)" sync "msg stats ends with the snapshot's sync"
is "$(msg stats --campaign default | jq -r 'select(.type=="campaign") | .offered')" 1 \
    "msg stats --campaign default: offered 1"
is "$(msg stats --campaign nosuch | jq -r 'select(.type=="campaign")' | wc -l)" 0 \
    "msg stats --campaign of another: no campaign line"
if command -v socat >/dev/null; then
	out=$(timeout 3 socat -u UNIX-CONNECT:"$T_HOME/run/stats.sock" - 2>/dev/null | head -n 30)
	like "$out" '"type":"sync"' "socat reads stats.sock: JSON Lines ending in sync"
else
	skip "socat is not installed"
fi

# -f sees a change as it happens
msg stats -f --campaign default >"$T_HOME/follow.out" 2>&1 &
fpid=$!; bg_track "$fpid"
sleep 0.5
is "$(sms +15551110002 "Again")" 200 "a second customer writes"
seen2() { grep -q '+15551110002' "$T_HOME/follow.out"; }
ok "msg stats -f shows the second customer as it happens" wait_for 3 seen2
# the system line follows too: its last change is sent with the next
# heartbeat, even when nothing changes after it
sys2() { [ "$(jq -r 'select(.type=="system") | .conversations' "$T_HOME/follow.out" | tail -n 1)" = 2 ]; }
ok "msg stats -f: a system line counting 2 conversations follows within 3 s" wait_for 3 sys2
kill "$fpid" 2>/dev/null; wait "$fpid" 2>/dev/null; bg_untrack "$fpid"

# /events: a snapshot with an id, heartbeats, and a resume
timeout 2.5 curl -sN "$STATSD_URL/events" >"$T_HOME/sse.1" 2>/dev/null
like "$(head -n 5 "$T_HOME/sse.1")" 'event: snapshot' "/events starts with a snapshot"
n=$(grep -c '"type":"sync"' "$T_HOME/sse.1")
[ "$n" -ge 2 ] && pass "/events: a heartbeat each second ($n syncs in 2.5 s)" ||
    fail "/events: heartbeats" "syncs: $n"
id=$(grep '^id: ' "$T_HOME/sse.1" | sed -n '2p' | cut -c5-)
[ -n "$id" ] || id=$(grep '^id: ' "$T_HOME/sse.1" | head -n 1 | cut -c5-)
timeout 1.5 curl -sN -H "Last-Event-ID: $id" "$STATSD_URL/events" >"$T_HOME/sse.2" 2>/dev/null
if ! grep -q 'event: snapshot' "$T_HOME/sse.2" && grep -q '^id: ' "$T_HOME/sse.2"; then
	pass "/events with Last-Event-ID resumes without a new snapshot"
else
	fail "/events resume" "id: $id" "$(head -c 400 "$T_HOME/sse.2")"
fi

# /metrics
curl -fsS -D "$T_HOME/m.h" -o "$T_HOME/m.txt" "$STATSD_URL/metrics"
like "$(tr -d '\r' <"$T_HOME/m.h")" 'Content-Type: text/plain; version=0.0.4' \
    "/metrics: text/plain; version=0.0.4"
if command -v promtool >/dev/null; then
	out=$(promtool check metrics <"$T_HOME/m.txt" 2>&1) && rc=0 || rc=$?
	if [ "$rc" = 0 ] && [ -z "$out" ]; then
		pass "promtool check metrics reports nothing"
	else
		fail "promtool check metrics" "exit $rc" "$out"
	fi
else
	# without promtool: every line a comment (HELP/TYPE) or a sample
	bad=$(grep -Ev '^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+Inf-]+$' "$T_HOME/m.txt")
	is "$bad" "" "/metrics parses as text format 0.0.4 (promtool is not installed)"
fi
like "$(cat "$T_HOME/m.txt")" 'parley_queue_waiting\{campaign="default"\} 2' \
    "/metrics: parley_queue_waiting 2"

# a restart counts nothing twice
sv restart "$(svc statsd)" >/dev/null
wait_for 10 msg ping -q -w 1 statsd
is "$(camp offered)" 2 "after a restart: offered still 2"
is "$(camp contact_messages)" 2 "after a restart: contact messages still 2"

# statsd -r into another directory stores what the live fold stored
sv -w 10 down "$(svc statsd)" >/dev/null
statsd -p >"$T_HOME/live.txt" 2>"$T_HOME/p.err"
statsd -r -x -D "$T_HOME/rebuilt" >"$T_HOME/rb.out" 2>&1
like "$(cat "$T_HOME/rb.out")" 'rebuilt [0-9]+ events in .* peak RSS' "statsd -r -x reports its rate"
statsd -p -D "$T_HOME/rebuilt" >"$T_HOME/rebuilt.txt" 2>>"$T_HOME/p.err"
if [ -s "$T_HOME/live.txt" ] && cmp -s "$T_HOME/live.txt" "$T_HOME/rebuilt.txt"; then
	pass "the rebuild equals the live fold ($(wc -l <"$T_HOME/live.txt") records)"
else
	fail "the rebuild equals the live fold" "$(diff "$T_HOME/live.txt" "$T_HOME/rebuilt.txt" | head -c 1500)"
fi
sv up "$(svc statsd)" >/dev/null
wait_for 10 msg ping -q -w 1 statsd
out=$(msg stats --rebuild)
like "$out" '^\{"events":[0-9]+,' "msg stats --rebuild replays the log"
is "$(camp offered)" 2 "after the rebuild: offered 2"

# reports
day=$(date -u +%Y-%m-%d)
out=$(msg report --from "$day" --by hour --tz UTC --csv)
like "$(head -n 1 <<<"$out")" '^hour,offered,answered,abandoned' "msg report --csv: a header"
is "$(tail -n +2 <<<"$out" | awk -F, '{s += $2} END {print s}')" 2 "msg report --csv: offered 2 over the hours"
is "$(msg report --from "$day" --json | jq -r 'select(.campaign=="default") | .contact_messages')" 2 \
    "msg report --json by campaign: contact messages 2"
msg report --from "$day" --svg >"$T_HOME/report.svg"
if python3 -c 'import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); sys.exit(0 if d.documentElement.tagName == "svg" and d.getElementsByTagName("rect") else 1)' "$T_HOME/report.svg" 2>/dev/null; then
	pass "msg report --svg: a well-formed standalone SVG with bars"
else
	fail "msg report --svg" "$(head -c 300 "$T_HOME/report.svg")"
fi
exits 2 "msg report without --from: usage" msg report

# the clock moves past the dropout threshold (300 s): statsd shows the
# wait, but routerd, whose clock has not moved, decides the abandonment
conf_set clock_offset_ms 400000
sv hup "$(svc statsd)" >/dev/null
held() { [ "$(camp longest_wait | cut -d. -f1)" -ge 400 ]; }
ok "statsd's clock moved: the longest wait is past 400 s" wait_for 5 held
is "$(camp abandoned)" 0 "a logged entry is not abandoned by statsd's clock"
# each address's token state, messengerd's too
tok() { api | jq -e '[.channels[] | select(.channel=="messenger" and .token.active==true)] | length == 1' >/dev/null; }
ok "the Messenger Page's token state, from messengerd's chstatus" wait_for 12 tok
