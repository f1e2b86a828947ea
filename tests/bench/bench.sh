#!/bin/bash
# tests/bench/bench.sh — what `make bench` runs.  Starts routerd, smsd and
# sandboxd under runsvdir in a temporary home (tests/integration/lib.sh),
# with pacing set so high it does not limit, and measures on this machine:
#   inbound:  signed Twilio webhooks posted concurrently over kept-alive
#             connections, counted when smsd answers 200 — which it does only
#             after routerd's fsync'd group commit;
#   outbound: `send` requests to routerd, counted when sandboxd (standing in
#             for Twilio) has received the API call.
# It prints messages per second and p50/p99 latency for each, and the
# machine facts that explain them.  No pass/fail on timing; it fails only
# when the stack cannot start or messages go missing.  Bounded in time.
#
# Environment: BENCH_IN_N, BENCH_IN_C, BENCH_OUT_N, BENCH_OUT_C, BENCH_SENDERS
# (counts and concurrency), BENCH_TMPDIR (where the home goes; by default
# build/, on the same disk as the tree rather than a tmpfs /tmp, so that
# fsync costs what it costs here).
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
TMPDIR=${BENCH_TMPDIR:-$PARLEY_SRC/build}
mkdir -p "$TMPDIR" && export TMPDIR
LG=$PARLEY_TOOLS/loadgen
[ -x "$LG" ] || bail "$LG is not built (make)"

stack_home
conf_set sms_rate 10000
conf_set sms_burst 10000
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

reference Kannel: about 7,000 inbound and 9,000 outbound messages/s on a
          comparable machine, without fsync.
raw       $IN
          $OUT
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
T_FAILED=$rc
exit "$rc"
