#!/bin/bash
# t_http_budget — the webhook listeners' budgets (issue 9), as a provider and
# an attacker on the same 127.0.0.1 see them.  The probe found that 1,100
# idle connections made a webhook wait 12 s and flooded the log, that a
# client trickling a header line every 20 s kept a connection for a minute,
# and that 100 unfinished 3 MB bodies grew whatsappd from 15 to 323 MB.
# Here, with tests/bench/sockhog holding the connections:
#   - 1,100 idle connections against whatsappd (run with the 1,024
#     descriptors the probe had) and against smsd: a signed webhook still
#     gets 200 within 5 s, the oldest idle connections were closed for it,
#     and the log grew by a few lines, not thousands;
#   - 50 clients trickling a header line every 2 s are all answered 408 at
#     the head deadline (3 s here), not kept by each line;
#   - 100 bodies declaring 3 MiB and sending 1 MiB: those over the 64 MiB
#     body budget are answered 503 unread, whatsappd's VmRSS stays within
#     the budget, and a signed webhook still gets 200;
#   - and the listener's manners: 413 over 3 MiB, 405 with Allow, kept-alive
#     connections, and the drain's 503 with Connection: close.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

HOG=$PARLEY_TOOLS/sockhog
[ -x "$HOG" ] || bail "$HOG is not built"
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 1200 ] ||
    skip_all "sockhog needs 1,200 descriptors (the hard limit is $hard)"
plan 34

stack_home
conf_set http_header_timeout_ms 3000
# whatsappd gets the 1,024 descriptors of an unconfigured service (dash's
# ulimit sets the hard limit too, so whatsappd cannot raise it)
sed -i 's/^exec "\(.*\)\/whatsappd" /ulimit -n 1024\n&/' "$(svc whatsappd)/run"
grep -q '^ulimit -n 1024' "$(svc whatsappd)/run" ||
    bail "cannot limit whatsappd's descriptors in its run script"
# make asan: ASan keeps freed memory in a quarantine (256 MB), which VmRSS
# would count; keep it small so that VmRSS is what whatsappd holds
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1
stack_start

PN=106540352242922
msg campaign create wa --whatsapp $PN >/dev/null || bail "msg campaign create wa"
camp_launch wa || bail "launch wa"
WLOG=$T_HOME/log/whatsappd/current
SLOG=$T_HOME/log/smsd/current
WPID=$(sv_pid whatsappd)

# hog NAME ARGS...: run sockhog in the background (its report in
# $T_HOME/NAME); HOG_PID is its pid.
hog() {
	local name=$1
	shift
	"$HOG" "$@" >"$T_HOME/$name" 2>"$T_HOME/$name.err" </dev/null &
	HOG_PID=$!
	bg_track "$HOG_PID"
}
# hog_wait NAME SECONDS: wait for sockhog's first report.
hog_wait() { wait_for "$2" grep -qx . "$T_HOME/$1"; }
# hog_get NAME KEY: a value of the first report (0 when absent).
hog_get() {
	local v
	v=$(sed -n "1,/^\.\$/s/^$2 //p" "$T_HOME/$1" | head -n 1)
	echo "${v:-0}"
}
hog_stop() {
	kill -TERM "$HOG_PID" 2>/dev/null
	wait "$HOG_PID" 2>/dev/null
	bg_untrack "$HOG_PID"
}
lines() { wc -l <"$1" | tr -d ' '; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# wa_post5 BODY: a signed notification, answered within 5 s; prints the code.
wa_post5() {
	curl -s -m 5 -o /dev/null -w '%{http_code}' \
	    -H 'Content-Type: application/json' \
	    -H "X-Hub-Signature-256: $(wa_sign "$1")" --data-binary "$1" \
	    "$WA_URL/whatsapp/webhook"
}

# --- 1,100 idle connections against whatsappd, at 1,024 descriptors
is "$(awk '/^Max open files/ { print $4 }' "/proc/$WPID/limits")" 1024 \
    "whatsappd runs with 1,024 descriptors"
l0=$(lines "$WLOG")
hog idle-wa -p "$WHATSAPPD_PORT" -n 1100 -m idle -w 1000 -t 120
hog_wait idle-wa 90 || fail "sockhog reported on its idle connections" "$(cat "$T_HOME/idle-wa.err")"
is "$(hog_get idle-wa connected)" 1100 "1,100 idle connections were made to whatsappd"
ok "whatsappd closed the oldest idle ones to stay under its cap" \
    test "$(hog_get idle-wa closed)" -ge 100
is "$(grep -c 'out of descriptors' "$WLOG")" 0 \
    "the cap kept whatsappd from running out of descriptors"
W1=$(wamid)
is "$(wa_post5 "$(wa_text 16505550111 $PN "$W1" "through the crowd")")" 200 \
    "a signed notification still gets 200 within 5 s"
ok "and it is stored" wait_event 10 ".pid==\"$W1\""
ok "msg ping whatsappd answers" msg ping -q -w 5 whatsappd
is "$(sv_pid whatsappd)" "$WPID" "whatsappd did not restart"
hog_stop
n=$(( $(lines "$WLOG") - l0 ))
ok "whatsappd's log grew by $n lines, not one per connection" test "$n" -le 10

# --- and against smsd (which raised its descriptor limit at start)
SPID=$(sv_pid smsd)
l0=$(lines "$SLOG")
hog idle-sms -p "$SMSD_PORT" -n 1100 -m idle -w 1000 -t 120
hog_wait idle-sms 90 || fail "sockhog reported on its idle connections" "$(cat "$T_HOME/idle-sms.err")"
is "$(hog_get idle-sms connected)" 1100 "1,100 idle connections were made to smsd"
ok "smsd closed the oldest idle ones past http_max_connections (1,000)" \
    test "$(hog_get idle-sms closed)" -ge 100
SID=$(sm_sid)
mapfile -t P < <(inbound_params "$SID" +15551239901 +15557654321 "through the crowd")
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    -H "X-Twilio-Signature: $(tw_sign "$WEBHOOK_BASE/twilio/inbound" "${P[@]}")" \
    --data-binary "$(tw_body "${P[@]}")" "$SMSD_URL/twilio/inbound")
is "$code" 200 "a signed SMS webhook still gets 200 within 5 s"
ok "and it is stored" wait_event 10 ".pid==\"$SID\""
is "$(sv_pid smsd)" "$SPID" "smsd did not restart"
hog_stop
n=$(( $(lines "$SLOG") - l0 ))
ok "smsd's log grew by $n lines" test "$n" -le 10

# --- trickled headers: one line every 2 s, a 3 s head deadline
l0=$(lines "$WLOG")
hog trickle -p "$WHATSAPPD_PORT" -n 50 -m trickle -i 2000 -t 40
hog_wait trickle 45 || fail "sockhog reported on its trickling connections"
is "$(hog_get trickle answered-408)" 50 "all 50 trickling clients are answered 408"
is "$(hog_get trickle open)" 0 "and none of them is left open"
ms=$(hog_get trickle max-open-ms)
ok "the longest lived ${ms} ms: cut at the deadline, not kept by each line" \
    test "$ms" -lt 10000
hog_stop
n=$(( $(lines "$WLOG") - l0 ))
ok "whatsappd's log grew by $n lines, not 50" test "$n" -le 5

# --- 100 unfinished 3 MiB bodies, 1 MiB of each sent
rss0=$(rss_kb "$WPID")
l0=$(lines "$WLOG")
hog body -p "$WHATSAPPD_PORT" -n 100 -m body -l 3145728 -s 1048576 -w 2000 -t 120
hog_wait body 90 || fail "sockhog reported on its unfinished bodies" "$(cat "$T_HOME/body.err")"
rss1=$(rss_kb "$WPID")
is "$(hog_get body connected)" 100 "100 connections each declared a 3 MiB body"
ok "those past the 64 MiB body budget are answered 503 ($(hog_get body answered-503))" \
    test "$(hog_get body answered-503)" -ge 79
ok "at most 21 bodies (64 MiB / 3 MiB) are being read ($(hog_get body open))" \
    test "$(hog_get body open)" -le 21
diag "whatsappd VmRSS: ${rss0} kB before, ${rss1} kB holding the bodies"
ok "whatsappd's memory grew by $(( (rss1 - rss0) / 1024 )) MiB: within the 64 MiB budget" \
    test $((rss1 - rss0)) -le $(( (64 + 16) * 1024 ))
head -c 2097152 /dev/zero >"$T_HOME/2mb"
code=$(curl -s -m 5 -D "$T_HOME/hdr" -o /dev/null -w '%{http_code}' \
    -H 'X-Hub-Signature-256: sha256=00' --data-binary @"$T_HOME/2mb" \
    "$WA_URL/whatsapp/webhook")
is "$code" 503 "a 2 MiB notification that does not fit is answered 503"
ok "with Connection: close" grep -qi '^Connection: close' "$T_HOME/hdr"
W2=$(wamid)
is "$(wa_post5 "$(wa_text 16505550112 $PN "$W2" "after the bodies")")" 200 \
    "a signed notification still gets 200"
hog_stop
n=$(( $(lines "$WLOG") - l0 ))
ok "whatsappd's log grew by $n lines, not 79" test "$n" -le 5
is "$(sv_pid whatsappd)" "$WPID" "whatsappd did not restart"

# --- the listener's manners
head -c $((3 * 1024 * 1024 + 1)) /dev/zero >"$T_HOME/big"
is "$(curl -s -m 10 -o /dev/null -w '%{http_code}' --data-binary @"$T_HOME/big" \
    "$WA_URL/whatsapp/webhook")" 413 "a body over 3 MiB: 413"
is "$(curl -s -m 5 -D "$T_HOME/hdr" -o /dev/null -w '%{http_code}' -X PUT \
    "$WA_URL/whatsapp/webhook")" 405 "PUT: 405"
ok "with Allow: GET, POST" grep -q '^Allow: GET, POST' "$T_HOME/hdr"
vt=$(cat "$WA_VERIFY_FILE")
u="$WA_URL/whatsapp/webhook?hub.mode=subscribe&hub.challenge=7&hub.verify_token=$vt"
is "$(curl -s -m 5 -o /dev/null -o /dev/null -w '%{num_connects} ' "$u" "$u")" "1 0 " \
    "two requests share one kept-alive connection"

# --- drain: a webhook waiting for a stalled routerd gets 503, Connection: close.
# Last, and with svc_down: whatsappd is not restarted, since its port is free
# for the 5 s of the drain and another stack on this machine may take it.
RPID=$(sv_pid routerd)
kill -STOP "$RPID"
W3=$(wamid)
b=$(wa_text 16505550113 $PN "$W3" "during the drain")
curl -s -m 20 -D "$T_HOME/hdr" -o /dev/null -w '%{http_code}' \
    -H "X-Hub-Signature-256: $(wa_sign "$b")" --data-binary "$b" \
    "$WA_URL/whatsapp/webhook" >"$T_HOME/code" &
CP=$!
bg_track "$CP"
waiting() { ss -Htn state established "( sport = :$WHATSAPPD_PORT )" | grep -q .; }
wait_for 5 waiting || diag "no connection seen waiting on whatsappd"
svc_down whatsappd 30
wait "$CP"
bg_untrack "$CP"
kill -CONT "$RPID"
is "$(cat "$T_HOME/code")" 503 "SIGTERM: a webhook still waiting for routerd gets 503"
ok "with Connection: close" grep -qi '^Connection: close' "$T_HOME/hdr"

done_testing
