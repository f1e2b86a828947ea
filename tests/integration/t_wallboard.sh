#!/bin/bash
# t_wallboard — statsd's wallboard page in headless Chromium (Debian's
# chromium): the page is self-contained, /events carries a customer who
# writes within 2 s of the webhook, the page shows the customer waiting,
# and its screenshot shows the live board.  The
# screenshot is kept: $T_HOME/wallboard.png while the test runs, copied to
# $BUILD/test-artifacts/wallboard.png (build/ by default) for afterwards.
# Every Chromium this test starts is ended by its PID.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser) ||
    skip_all "chromium is not installed (apt-get install chromium)"
plan 7
stack_start
trap stack_stop EXIT

chrome() {
	local dir
	dir=$(mktemp -d "$T_HOME/chrome.XXXXXX")
	# --timeout bounds the page's load, not chromium: a headless
	# chromium that never exits (seen on a loaded machine) is killed
	timeout -k 5 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
	    --no-first-run --disable-background-networking \
	    --disable-component-update --disable-sync \
	    --user-data-dir="$dir" "$@" 2>>"$T_HOME/chromium.log"
}
subscribers() { curl -fsS -m 2 "$STATSD_URL/api/stats" | jq -r .system.subscribers; }
has_sub() { [ "$(subscribers)" -ge 1 ]; }

page=$(curl -fsS "$STATSD_URL/")
like "$page" '<!DOCTYPE html>' "GET / is the wallboard page"
if grep -Eq '(src|href)="(https?:)?//' <<<"$page"; then
	fail "the page loads nothing from elsewhere"
else
	pass "the page loads nothing from elsewhere"
fi

# A customer writes; /events (what the page follows) carries the change
# within 2 s, and a page opened then shows the customer waiting.  Headless
# --dump-dom dumps the page once it has loaded, and the page draws the
# snapshot before that, so the DOM holds what it first showed.
timeout 6 curl -sN "$STATSD_URL/events" >"$T_HOME/sse.out" 2>/dev/null &
spid=$!; bg_track "$spid"
ok "the stream is open" wait_for 10 has_sub
t0=$(now_ms)
is "$(tw_post /twilio/inbound - $(inbound_params "$(sm_sid)" +15552220001 +15557654321 Hi))" \
    200 "a customer writes"
on_stream() { grep -q '15552220001' "$T_HOME/sse.out"; }
if wait_for 2 on_stream; then
	pass "/events carries the waiting customer $(( $(now_ms) - t0 )) ms after the webhook"
else
	fail "/events carries the waiting customer within 2 s"
fi
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; bg_untrack "$spid"
chrome --timeout=5000 --dump-dom "$STATSD_URL/" >"$T_HOME/dom.html" &
cpid=$!; bg_track "$cpid"
wait "$cpid" 2>/dev/null; bg_untrack "$cpid"
if grep -q 'data-conv="c_[0-9A-Z]*"' "$T_HOME/dom.html" &&
    grep -q '+15552220001' "$T_HOME/dom.html"; then
	pass "the page shows the waiting customer"
else
	fail "the page shows the waiting customer" "$(head -c 600 "$T_HOME/dom.html")"
fi

chrome --timeout=3000 --window-size=1280,800 \
    --screenshot="$T_HOME/wallboard.png" "$STATSD_URL/" >/dev/null &
cpid=$!; bg_track "$cpid"
wait "$cpid" 2>/dev/null; bg_untrack "$cpid"
if [ -s "$T_HOME/wallboard.png" ] &&
    [ "$(head -c 8 "$T_HOME/wallboard.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
	mkdir -p "$PARLEY_SRC/${BUILD:-build}/test-artifacts"
	cp "$T_HOME/wallboard.png" "$PARLEY_SRC/${BUILD:-build}/test-artifacts/wallboard.png"
	pass "a screenshot: ${BUILD:-build}/test-artifacts/wallboard.png"
else
	fail "a screenshot" "$(tail -n 5 "$T_HOME/chromium.log")"
fi
