#!/bin/bash
# tests/bench/bench.sh — what `make bench` runs.  Starts routerd, campaignd,
# smsd, whatsappd, messengerd and sandboxd under runsvdir in a temporary home
# (tests/integration/lib.sh), with pacing set so high it does not limit, and
# measures on this machine:
#   inbound:  signed Twilio webhooks posted concurrently over kept-alive
#             connections, counted when smsd answers 200 — which it does only
#             after routerd's fsync'd group commit;
#   outbound: `send` requests to routerd, counted when sandboxd (standing in
#             for Twilio) has received the API call;
#   wa in:    the same for WhatsApp: Meta's signed notifications (one text
#             each) posted to whatsappd, counted on its 200 (stored);
#   wa out:   `send` requests on WhatsApp, counted when sandboxd (standing in
#             for the Cloud API) has accepted the message call.  WhatsApp
#             refuses free-form text to a customer who has not written in
#             24 hours, so K customers (10 per sender number) first write
#             through sandboxd's simulated-customer control path, which opens
#             both sandboxd's window and routerd's conversation; the N
#             messages then go round robin to those K;
#   mg in:    the same for Messenger: Meta's signed notifications (one text
#             each, from 1,000 customers whose names messengerd looks up
#             once) posted to messengerd, counted on its 200 (stored).
#             (Messenger outbound waits for routerd to dispatch to
#             messengerd.)
# It prints messages per second and p50/p99 latency for each, and the
# machine facts that explain them.  No pass/fail on timing; it fails only
# when the stack cannot start or messages go missing.  Bounded in time.
#
# Environment: BENCH_IN_N, BENCH_IN_C, BENCH_OUT_N, BENCH_OUT_C, BENCH_SENDERS
# (counts and concurrency, the same for SMS and WhatsApp; BENCH_SENDERS
# sender numbers, phone-number ids on WhatsApp), BENCH_TIMEOUT (seconds per
# phase), BENCH_TMPDIR (where the home goes; by default build/, on the same
# disk as the tree rather than a tmpfs /tmp, so that fsync costs what it
# costs here).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/../integration/lib.sh"
T_PLAN=none		# not a TAP file

IN_N=${BENCH_IN_N:-20000}
IN_C=${BENCH_IN_C:-64}
OUT_N=${BENCH_OUT_N:-20000}
OUT_C=${BENCH_OUT_C:-256}
SENDERS=${BENCH_SENDERS:-16}
LIMIT=${BENCH_TIMEOUT:-300}	# seconds per phase
export SMS_RATE=10000		# the configuration's maximum, per sender number
WA_K=$((SENDERS * 10))		# WhatsApp customers who write first
WA_PNID=106540352242922		# the number WhatsApp inbound is for
WA_FROM=100000000000001		# the WhatsApp sender ids: WA_FROM + 0..SENDERS-1
TMPDIR=${BENCH_TMPDIR:-$PARLEY_SRC/build}
mkdir -p "$TMPDIR" && export TMPDIR
LG=$PARLEY_TOOLS/loadgen
[ -x "$LG" ] || bail "$LG is not built (make)"

stack_home
conf_set sms_rate 10000
conf_set sms_burst 10000
conf_set whatsapp_rate 1000		# its maximum, per phone-number id
conf_set sandbox_whatsapp_rate 100000	# ditto: sandboxd does not limit
stack_start

OURS=+15557654321
echo "parley bench: starting inbound ($IN_N webhooks, $IN_C connections)" >&2
IN=$(timeout $((LIMIT + 30)) "$LG" inbound -u "$SMSD_URL/twilio/inbound" \
    --sig-url "$WEBHOOK_BASE/twilio/inbound" -t "$TOKEN_FILE" \
    --account "$ACCOUNT_SID" -n "$IN_N" -c "$IN_C" --from-base +1555300000 \
    --to "$OURS" --prefix "bench-$$" --timeout "$LIMIT" 2>"$T_HOME/in.err")
in_rc=$?
echo "parley bench: starting outbound ($OUT_N messages, $OUT_C outstanding)" >&2
OUT=$(timeout $((LIMIT + 30)) "$LG" outbound -s "$ROUTERD_SOCK" -n "$OUT_N" \
    -c "$OUT_C" --to-base +1555400000 --from +1555500000 --senders "$SENDERS" \
    --sandbox "$SANDBOX_URL" --timeout "$LIMIT" 2>"$T_HOME/out.err")
out_rc=$?

# WhatsApp.  Let the SMS status callbacks still in flight settle first.
sleep 2
echo "parley bench: starting WhatsApp inbound ($IN_N notifications, $IN_C connections)" >&2
WIN=$(timeout $((LIMIT + 30)) "$LG" inbound -u "$WA_URL/whatsapp/webhook" \
    --whatsapp "$WA_SECRET_FILE" --phone-number-id "$WA_PNID" -n "$IN_N" \
    -c "$IN_C" --from-base +1555600000 --prefix "bench-$$" \
    --timeout "$LIMIT" 2>"$T_HOME/wa_in.err")
wa_in_rc=$?
sleep 2
echo "parley bench: $WA_K WhatsApp customers write first (sandboxd control path)" >&2
# Customer j writes to sender id WA_FROM + j % SENDERS, so that message i
# (to customer i % WA_K, from sender i % SENDERS) finds its conversation
# open.  Sixteen at a time; sandboxd answers once whatsappd answered 200.
wa_open_rc=0
wa_open_t0=$(now_ms)
mkdir -p "$T_HOME/wa_open"
for ((j = 0; j < WA_K; j += 16)); do
	pids=""
	for ((k = j; k < j + 16 && k < WA_K; k++)); do
		curl -sS -m 30 -o "$T_HOME/wa_open/$k" \
		    -H 'Content-Type: application/json' --data-binary \
		    "{\"from\":\"+$((1555700000 + k))\",\"to\":\"$((WA_FROM + k % SENDERS))\",\"type\":\"text\",\"text\":\"hello\",\"name\":\"Bench Customer $k\"}" \
		    "$SANDBOX_URL/sandbox/whatsapp/inbound" \
		    2>>"$T_HOME/wa_open.err" &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p"; done
done
for ((j = 0; j < WA_K; j++)); do
	if [ "$(jq -r '.status // 0' "$T_HOME/wa_open/$j" 2>/dev/null)" != 200 ]; then
		echo "customer $j: $(cat "$T_HOME/wa_open/$j" 2>/dev/null)" \
		    >>"$T_HOME/wa_open.err"
		wa_open_rc=1
	fi
done
wa_open_s=$(awk -v ms=$(( $(now_ms) - wa_open_t0 )) 'BEGIN { printf "%.1f", ms / 1000 }')
sleep 2
echo "parley bench: starting WhatsApp outbound ($OUT_N messages, $OUT_C outstanding)" >&2
WOUT=$(timeout $((LIMIT + 30)) "$LG" outbound -s "$ROUTERD_SOCK" \
    --channel whatsapp -n "$OUT_N" -c "$OUT_C" --to-base +1555700000 \
    --recipients "$WA_K" --from "$WA_FROM" --senders "$SENDERS" \
    --sandbox "$SANDBOX_URL" --timeout "$LIMIT" 2>"$T_HOME/wa_out.err")
wa_out_rc=$?

# Messenger inbound.
sleep 2
echo "parley bench: starting Messenger inbound ($IN_N webhooks, $IN_C connections)" >&2
MIN=$(timeout $((LIMIT + 30)) "$LG" inbound -u "$MG_URL/messenger/webhook" \
    --messenger "$MG_SECRET_FILE" --page "$MG_PAGE" -n "$IN_N" -c "$IN_C" \
    --prefix "bench-$$" --timeout "$LIMIT" 2>"$T_HOME/mg_in.err")
mg_in_rc=$?

# Machine facts.
fs=$(stat -f -c %T "$T_HOME" 2>/dev/null)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
dd_out=$(dd if=/dev/zero of="$T_HOME/fsync.probe" bs=4k count=200 oflag=dsync 2>&1 | tail -n 1)
dd_s=$(sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p' <<<"$dd_out")
fsync_ms=$(awk -v s="${dd_s:-0}" 'BEGIN { printf "%.2f", s * 1000 / 200 }')

f() { jq -r "$2 // 0" <<<"$1" 2>/dev/null; }
r() { printf '%.0f' "$(f "$1" "$2")"; }
ms() { printf '%.1f' "$(f "$1" "$2")"; }
secs() { printf '%.2f' "$(f "$1" "$2")"; }

cat <<EOF

parley bench — $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)
machine   $(nproc) CPUs (${cpu:-unknown}), $mem, Linux $(uname -r)
storage   home on ${fs:-?} ($T_HOME); a 4 KiB O_DSYNC write takes ${fsync_ms} ms here
          (every 200 and every "queued" is answered only after an fsync'd LMDB
          commit; commits are grouped per event-loop pass)

inbound   signed Twilio webhooks -> smsd -> routerd, counted on 200 (stored)
          $(f "$IN" .ok) of $IN_N in $(secs "$IN" .seconds) s = $(r "$IN" .rate) msg/s
          latency p50 $(ms "$IN" .p50_ms) ms, p99 $(ms "$IN" .p99_ms) ms
          ($IN_C kept-alive connections; non-200 answers: $(jq -c '.non200 // {}' <<<"$IN" 2>/dev/null))

outbound  msg send -> routerd -> smsd -> Twilio API (sandboxd), counted when received
          $(f "$OUT" .received) of $OUT_N in $(secs "$OUT" .seconds) s = $(r "$OUT" .rate) msg/s
          latency (queued -> API) p50 $(ms "$OUT" .p50_ms) ms, p99 $(ms "$OUT" .p99_ms) ms
          ($OUT_C requests outstanding on one bus connection, $SENDERS sender numbers;
          refused: $(f "$OUT" .refused), duplicates at the API: $(f "$OUT" .duplicates))

wa in     signed Meta notifications (one text each) -> whatsappd -> routerd,
          counted on 200 (stored)
          $(f "$WIN" .ok) of $IN_N in $(secs "$WIN" .seconds) s = $(r "$WIN" .rate) msg/s
          latency p50 $(ms "$WIN" .p50_ms) ms, p99 $(ms "$WIN" .p99_ms) ms
          ($IN_C kept-alive connections; non-200 answers: $(jq -c '.non200 // {}' <<<"$WIN" 2>/dev/null))

wa out    msg send -> routerd -> whatsappd -> Cloud API (sandboxd), counted when accepted
          $(f "$WOUT" .received) of $OUT_N in $(secs "$WOUT" .seconds) s = $(r "$WOUT" .rate) msg/s
          latency (queued -> API) p50 $(ms "$WOUT" .p50_ms) ms, p99 $(ms "$WOUT" .p99_ms) ms
          ($OUT_C requests outstanding on one bus connection, round robin to
          $WA_K customers who wrote first (${wa_open_s} s through sandboxd), from $SENDERS
          phone-number ids; refused: $(f "$WOUT" .refused), API error answers: $(f "$WOUT" .api_errors),
          duplicates at the API: $(f "$WOUT" .duplicates))
          whatsapp_rate is 1000/s per number (its maximum) and sandboxd does
          not limit, so this is what the machine does.  Meta itself caps each
          number at 80 messages/s (1,000/s once upgraded): in production
          WhatsApp sends go at most $((SENDERS * 80)) msg/s ($((SENDERS * 1000)) upgraded) with
          $SENDERS numbers, however fast parley is.

mg in     signed Meta Messenger notifications (one text each) -> messengerd ->
          routerd, counted on 200 (stored)
          $(f "$MIN" .ok) of $IN_N in $(secs "$MIN" .seconds) s = $(r "$MIN" .rate) msg/s
          latency p50 $(ms "$MIN" .p50_ms) ms, p99 $(ms "$MIN" .p99_ms) ms
          ($IN_C kept-alive connections, 1,000 customers, each name asked of
          the profile API once; non-200 answers: $(jq -c '.non200 // {}' <<<"$MIN" 2>/dev/null))

reference Kannel: about 7,000 inbound and 9,000 outbound messages/s on a
          comparable machine, without fsync.
raw       $IN
          $OUT
          $WIN
          $WOUT
          $MIN
EOF

rc=0
if [ "$in_rc" -ne 0 ]; then
	echo "parley bench: inbound did not complete (exit $in_rc)" >&2
	tail -n 5 "$T_HOME/in.err" >&2
	rc=1
fi
if [ "$out_rc" -ne 0 ]; then
	echo "parley bench: outbound did not complete (exit $out_rc)" >&2
	tail -n 5 "$T_HOME/out.err" >&2
	rc=1
fi
if [ "$wa_in_rc" -ne 0 ]; then
	echo "parley bench: WhatsApp inbound did not complete (exit $wa_in_rc)" >&2
	tail -n 5 "$T_HOME/wa_in.err" >&2
	rc=1
fi
if [ "$wa_open_rc" -ne 0 ]; then
	echo "parley bench: some WhatsApp customers could not write first" >&2
	tail -n 5 "$T_HOME/wa_open.err" >&2
	rc=1
fi
if [ "$wa_out_rc" -ne 0 ]; then
	echo "parley bench: WhatsApp outbound did not complete (exit $wa_out_rc)" >&2
	tail -n 5 "$T_HOME/wa_out.err" >&2
	rc=1
fi
if [ "$mg_in_rc" -ne 0 ]; then
	echo "parley bench: Messenger inbound did not complete (exit $mg_in_rc)" >&2
	tail -n 5 "$T_HOME/mg_in.err" >&2
	rc=1
fi
T_FAILED=$rc
exit "$rc"
