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
#             once) posted to messengerd, counted on its 200 (stored);
#   mg out:   `send` requests on Messenger to "messenger:PSID", counted when
#             sandboxd (standing in for the Send API) has accepted the call.
#             The Send API answers only customers who wrote within 24
#             hours, so MG_K (1,000) customers first write to the Page
#             through sandboxd's simulated-customer control path (batches
#             of 100), which opens both sandboxd's thread and routerd's
#             conversation (the mg in customers wrote to messengerd
#             directly, so sandboxd does not know them); the N messages then
#             go round robin to those K, all from the one Page;
#   paced:    the same SMS inbound and outbound, but at a steady
#             BENCH_PACED_RATE messages a second (1,000) for BENCH_PACED_SECS
#             (30) rather than as fast as possible: latency under a load
#             the stack keeps up with, p50/p99/p99.9 of webhook -> 200
#             (stored) and of "queued" -> provider (routerd's answer as
#             loadgen read it, to sandboxd's receive time; 1 ms resolution:
#             sandboxd stamps whole milliseconds, counted as their middle);
#   msg:      how long `msg --help` takes, fork to exit (p50 of
#             BENCH_SPAWN_N runs, 100), beside /bin/true's on this machine;
#   storage:  a 4 KiB O_DSYNC write (dd), and the disk's own cost of the
#             writes of an LMDB commit without LMDB or parley (`loadgen
#             commit`: 24 random pages, about what routerd's commit of one
#             inbound message writes, then fdatasync and the meta page, and
#             the same with one page): the floor under the paced latencies.
# For every phase it also prints the CPU each daemon spent per message:
# utime + stime from /proc/PID/stat before and after the phase (once the
# daemons went idle again, so that trailing work such as status callbacks
# counts), divided by the messages; a figure that depends much less on
# how busy the machine is than the rates do.  For the SMS phases (and
# Kannel's) it also says how near the machine's limit they ran: the share
# of all CPUs busy (and idle waiting on the disk) while the load generator
# ran, from /proc/stat, and all the CPU one message took -- the daemons',
# the stand-in's and the load generator's own (bash's `time`) -- which on
# this machine's CPUs bounds the rate: N CPUs / that = at most so many a
# second, however the work were spread.
#
# With BENCH_PEERS=1 it also runs Kannel 1.4.5 (tests/bench/kannel.sh;
# Debian's `kannel`, installed with apt-get when missing) on this machine,
# with the same load shape (N messages, the same concurrency, loopback, a
# sink that only answers: tests/bench/sink.c), right after parley's SMS
# phases:
#   MO:       Kannel's HTTP SMSC on bearerbox takes GET /sms (202 "Sent."),
#             smsbox hands each message to the sink (get-url): compared with
#             parley's SMS inbound; Kannel's rate counts a message when the
#             sink has it (its rate on the 202 is printed too);
#   MT:       smsbox's sendsms (202), bearerbox sends to the sink: compared
#             with parley's SMS outbound, counted when the provider has it.
#             Kannel's MT does no delivery reports, so parley's outbound runs
#             twice: with sandboxd's status callbacks flowing (parley's real
#             work: each "sent" and "delivered" is a webhook to smsd and a
#             commit in routerd) and with sandboxd told to send none (a
#             fault rule with repeat 0, sandboxd(8));
#   paced:    Kannel's MO and MT at the same steady rate, for latency.
# It prints parley's rate, Kannel's and the ratio for each direction, and
# the CPU per message of both side by side (bearerbox + smsbox; the sink,
# like sandboxd, stands in for the provider or the application and is
# shown apart).  Kannel keeps messages in memory, parley fsyncs each
# commit: the comparison is parley's durable path against Kannel's
# volatile one.
#
# No pass/fail on timing; it fails only when a stack cannot start or
# messages go missing.  Bounded in time.  On a machine shared with other
# work the rates move from run to run; the CPU per message moves less.
#
# Environment: BENCH_IN_N, BENCH_IN_C, BENCH_OUT_N, BENCH_OUT_C, BENCH_SENDERS
# (counts and concurrency, the same for SMS, WhatsApp and Kannel;
# BENCH_SENDERS sender numbers, phone-number ids on WhatsApp),
# BENCH_TIMEOUT (seconds per phase), BENCH_PACED_RATE, BENCH_PACED_SECS
# (0 leaves the paced phases out), BENCH_SPAWN_N, BENCH_PEERS (1: Kannel
# too), BENCH_TMPDIR (where the home goes; by default build/, on the same
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
PEERS=${BENCH_PEERS:-0}
PACED_RATE=${BENCH_PACED_RATE:-1000}
PACED_SECS=${BENCH_PACED_SECS:-30}
PACED_N=$((PACED_RATE * PACED_SECS))
SPAWN_N=${BENCH_SPAWN_N:-100}
export SMS_RATE=10000		# the configuration's maximum, per sender number
WA_K=$((SENDERS * 10))		# WhatsApp customers who write first
WA_PNID=106540352242922		# the number WhatsApp inbound is for
WA_FROM=100000000000001		# the WhatsApp sender ids: WA_FROM + 0..SENDERS-1
MG_K=1000			# Messenger customers who write first
MG_PSID=6543230000000000	# their page-scoped ids: MG_PSID + 0..MG_K-1
TMPDIR=${BENCH_TMPDIR:-$PARLEY_SRC/build}
mkdir -p "$TMPDIR" && export TMPDIR
LG=$PARLEY_TOOLS/loadgen
[ -x "$LG" ] || bail "$LG is not built (make)"
[ "$PEERS" = 1 ] && { [ -x "$PARLEY_TOOLS/sink" ] ||
    bail "$PARLEY_TOOLS/sink is not built (make)"; }

# ------------------------------------------------------- CPU per message
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# cpu_ticks PID: its utime + stime in clock ticks (0 when it is gone).
cpu_ticks() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }		# the fields after the command name, from 3
	set -- $s
	echo $(( ${12} + ${13} ))
}
cpu_sum() {
	local np t=0
	for np; do t=$((t + $(cpu_ticks "${np#*:}"))); done
	echo "$t"
}
# cpu_settle NAME:PID...: wait until they are idle (under 2 ticks in half a
# second, twice running), at most 20 s: the tail of a phase (callbacks,
# statsd following the event log) belongs to it.
cpu_settle() {
	local a b quiet=0 limit=$(( $(now_ms) + 20000 ))
	a=$(cpu_sum "$@")
	while [ "$quiet" -lt 2 ] && [ "$(now_ms)" -lt "$limit" ]; do
		sleep 0.5
		b=$(cpu_sum "$@")
		if [ $((b - a)) -lt 2 ]; then quiet=$((quiet + 1)); else quiet=0; fi
		a=$b
	done
}
# cpu_mark NAME:PID...: settle, then remember each one's ticks.
cpu_mark() {
	local np
	cpu_settle "$@"
	CPU_MARK=""
	for np; do CPU_MARK="$CPU_MARK $np:$(cpu_ticks "${np#*:}")"; done
}
# cpu_per_msg N: after cpu_mark and a phase of N messages, settle and print
# "name=µs ..." (CPU microseconds per message of each process marked).
cpu_per_msg() {
	local n=$1 e nps="" out=""
	for e in $CPU_MARK; do nps="$nps ${e%:*}"; done
	cpu_settle $nps
	for e in $CPU_MARK; do
		local name=${e%%:*} rest=${e#*:} pid t0 t1
		pid=${rest%%:*} t0=${rest#*:}
		t1=$(cpu_ticks "$pid")
		out="$out $name=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$n" \
		    'BEGIN { printf "%.0f", (n > 0 ? d * 1e6 / hz / n : 0) }')"
	done
	echo "${out# }"
}
# cpu_fmt "name=µs ..." STANDIN: "a 50 + b 30 = 80 µs/msg; STANDIN 20"
# (processes under 1 µs left out; STANDIN, the provider's or the
# application's stand-in, apart from the sum).
cpu_fmt() {
	local e sum=0 parts="" st=""
	for e in $1; do
		if [ "${e%%=*}" = "$2" ]; then st="; ${e%%=*} (stand-in) ${e#*=}"
		elif [ "${e#*=}" -gt 0 ]; then
			parts="$parts + ${e%%=*} ${e#*=}"
			sum=$((sum + ${e#*=}))
		fi
	done
	parts=${parts# + }
	echo "${parts:-none} = $sum µs/msg$st"
}
cpu_total() {	# the sum of cpu_fmt, without the stand-in
	local e sum=0
	for e in $1; do [ "${e%%=*}" = "$2" ] || sum=$((sum + ${e#*=})); done
	echo "$sum"
}
# cpu_stat: all CPUs' "busy idle iowait" ticks so far, from /proc/stat.
cpu_stat() { awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $5, $6 }' /proc/stat; }
# The machine around one load generator run.  mach_begin before it;
# mach_end TIMEFILE N after it (TIMEFILE holds bash's `time` of the
# loadgen, "user sys" seconds): prints "busy wait lg" -- the percent of
# all CPUs busy and waiting on the disk while it ran, and the load
# generator's own CPU microseconds per message.
mach_begin() { MACH0=$(cpu_stat); }
mach_end() {
	awk -v a="$MACH0" -v b="$(cpu_stat)" \
	    -v t="$(tail -n 1 "$1" 2>/dev/null)" -v n="$2" 'BEGIN {
		split(a, x, " "); split(b, y, " "); split(t, z, " ")
		db = y[1] - x[1]; dw = y[3] - x[3]; all = db + (y[2] - x[2]) + dw
		if (all <= 0) all = 1
		printf "%.0f %.0f %.0f", 100 * db / all, 100 * dw / all,
		    (n > 0 ? (z[1] + z[2]) * 1e6 / n : 0) }'
}
# mach_fmt "busy wait lg" CPU_STRING [NOTE]: the line that says how near the
# machine's limit a phase ran: all the CPU one message took (the
# processes', the stand-in's and the load generator's) and the rate the
# machine's CPUs could give at that cost.
mach_fmt() {
	local busy wait lg all
	read -r busy wait lg <<<"$1"
	all=$(mach_all "$1" "$2")
	echo "machine: ${busy:-?}% of $NCPU CPUs busy, ${wait:-?}% idle waiting on the disk, while it ran;
          all CPU per message, the stand-in's and the load generator's (${lg:-?}) included:
          $all µs, so at most $(mach_cap "$all") msg/s sustained on this machine's $NCPU CPUs${3:+
          $3}"
}
mach_cap() { awk -v a="$1" -v c="$NCPU" 'BEGIN { printf "%.0f", (a > 0 ? c * 1e6 / a : 0) }'; }
mach_all() {	# all µs per message of "busy wait lg" and a CPU string
	local lg
	read -r _ _ lg <<<"$1"
	echo $(( ${lg:-0} + $(cpu_total "$2" "") ))	# "": the stand-in too
}
NCPU=$(nproc)
TIMEFORMAT='%U %S'

parley_procs() {
	local s
	for s in routerd smsd whatsappd messengerd campaignd statsd sandboxd; do
		echo "$s:$(sv_pid "$s")"
	done
}

stack_home
conf_set sms_rate 10000
conf_set sms_burst 10000
conf_set whatsapp_rate 1000		# its maximum, per phone-number id
conf_set sandbox_whatsapp_rate 100000	# ditto: sandboxd does not limit
conf_set messenger_rate 10000		# its maximum, per Page
conf_set sandbox_messenger_rate 100000	# its maximum: sandboxd does not limit
[ "$PEERS" = 1 ] && { . "$(dirname "$0")/kannel.sh"; kannel_install; }
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
stack_start
PROCS=$(parley_procs)

# sandbox_fresh: forget what sandboxd received (and its fault rules), so
# that an outbound phase counts only its own "bench i".
sandbox_fresh() {
	curl -fsS -m 10 -X POST -o /dev/null "$SANDBOX_URL/sandbox/reset" ||
	    bail "POST /sandbox/reset failed"
}

OURS=+15557654321
cpu_mark $PROCS
echo "parley bench: starting inbound ($IN_N webhooks, $IN_C connections)" >&2
mach_begin
IN=$( { time timeout $((LIMIT + 30)) "$LG" inbound -u "$SMSD_URL/twilio/inbound" \
    --sig-url "$WEBHOOK_BASE/twilio/inbound" -t "$TOKEN_FILE" \
    --account "$ACCOUNT_SID" -n "$IN_N" -c "$IN_C" --from-base +1555300000 \
    --to "$OURS" --prefix "bench-$$" --timeout "$LIMIT" 2>"$T_HOME/in.err"; } 2>"$T_HOME/in.time")
in_rc=$?
MACH_IN=$(mach_end "$T_HOME/in.time" "$IN_N")
CPU_IN=$(cpu_per_msg "$IN_N")
sandbox_fresh
cpu_mark $PROCS
echo "parley bench: starting outbound ($OUT_N messages, $OUT_C outstanding)" >&2
mach_begin
OUT=$( { time timeout $((LIMIT + 30)) "$LG" outbound -s "$ROUTERD_SOCK" -n "$OUT_N" \
    -c "$OUT_C" --to-base +1555400000 --from +1555500000 --senders "$SENDERS" \
    --sandbox "$SANDBOX_URL" --timeout "$LIMIT" 2>"$T_HOME/out.err"; } 2>"$T_HOME/out.time")
out_rc=$?
MACH_OUT=$(mach_end "$T_HOME/out.time" "$OUT_N")
CPU_OUT=$(cpu_per_msg "$OUT_N")

# Side by side with Kannel: parley's outbound again without status
# callbacks (Kannel's MT does no delivery reports), then Kannel's MO and MT.
NOCB="" nocb_rc=0 KIN="" kin_rc=0 KOUT="" kout_rc=0
if [ "$PEERS" = 1 ]; then
	sandbox_fresh
	curl -fsS -m 10 -o /dev/null "$SANDBOX_URL/sandbox/faults" \
	    -d '{"api":"twilio","repeat":0,"count":-1}' ||
	    bail "POST /sandbox/faults failed"
	cpu_mark $PROCS
	echo "parley bench: starting outbound without status callbacks ($OUT_N messages, $OUT_C outstanding)" >&2
	mach_begin
	NOCB=$( { time timeout $((LIMIT + 30)) "$LG" outbound -s "$ROUTERD_SOCK" \
	    -n "$OUT_N" -c "$OUT_C" --to-base +1556400000 --from +1555500000 \
	    --senders "$SENDERS" --sandbox "$SANDBOX_URL" --timeout "$LIMIT" \
	    2>"$T_HOME/nocb.err"; } 2>"$T_HOME/nocb.time")
	nocb_rc=$?
	MACH_NOCB=$(mach_end "$T_HOME/nocb.time" "$OUT_N")
	CPU_NOCB=$(cpu_per_msg "$OUT_N")
	curl -fsS -m 10 -X DELETE -o /dev/null "$SANDBOX_URL/sandbox/faults"

	kannel_start
	cpu_mark $KANNEL_PIDS
	echo "parley bench: starting Kannel MO ($IN_N requests, $IN_C connections)" >&2
	mach_begin
	KIN=$( { time timeout $((LIMIT + 30)) "$LG" inbound -u "$KANNEL_MO_URL" \
	    --kannel bench:bench -n "$IN_N" -c "$IN_C" --from-base +1555300000 \
	    --to "$OURS" --sink "$KANNEL_SINK_URL" --timeout "$LIMIT" \
	    2>"$T_HOME/kin.err"; } 2>"$T_HOME/kin.time")
	kin_rc=$?
	MACH_KIN=$(mach_end "$T_HOME/kin.time" "$IN_N")
	CPU_KIN=$(cpu_per_msg "$IN_N")
	cpu_mark $KANNEL_PIDS
	echo "parley bench: starting Kannel MT ($OUT_N requests, $OUT_C connections)" >&2
	mach_begin
	KOUT=$( { time timeout $((LIMIT + 30)) "$LG" inbound -u "$KANNEL_MT_URL" \
	    --kannel bench:bench -n "$OUT_N" -c "$OUT_C" \
	    --from-base +1555400000 --to +1555500000 --sink "$KANNEL_SINK_URL" \
	    --timeout "$LIMIT" 2>"$T_HOME/kout.err"; } 2>"$T_HOME/kout.time")
	kout_rc=$?
	MACH_KOUT=$(mach_end "$T_HOME/kout.time" "$OUT_N")
	CPU_KOUT=$(cpu_per_msg "$OUT_N")
	kannel_stop
fi

# WhatsApp.  Let the SMS status callbacks still in flight settle first.
cpu_mark $PROCS
echo "parley bench: starting WhatsApp inbound ($IN_N notifications, $IN_C connections)" >&2
WIN=$(timeout $((LIMIT + 30)) "$LG" inbound -u "$WA_URL/whatsapp/webhook" \
    --whatsapp "$WA_SECRET_FILE" --phone-number-id "$WA_PNID" -n "$IN_N" \
    -c "$IN_C" --from-base +1555600000 --prefix "bench-$$" \
    --timeout "$LIMIT" 2>"$T_HOME/wa_in.err")
wa_in_rc=$?
CPU_WIN=$(cpu_per_msg "$IN_N")
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
cpu_mark $PROCS
echo "parley bench: starting WhatsApp outbound ($OUT_N messages, $OUT_C outstanding)" >&2
WOUT=$(timeout $((LIMIT + 30)) "$LG" outbound -s "$ROUTERD_SOCK" \
    --channel whatsapp -n "$OUT_N" -c "$OUT_C" --to-base +1555700000 \
    --recipients "$WA_K" --from "$WA_FROM" --senders "$SENDERS" \
    --sandbox "$SANDBOX_URL" --timeout "$LIMIT" 2>"$T_HOME/wa_out.err")
wa_out_rc=$?
CPU_WOUT=$(cpu_per_msg "$OUT_N")

# Messenger inbound.
cpu_mark $PROCS
echo "parley bench: starting Messenger inbound ($IN_N webhooks, $IN_C connections)" >&2
MIN=$(timeout $((LIMIT + 30)) "$LG" inbound -u "$MG_URL/messenger/webhook" \
    --messenger "$MG_SECRET_FILE" --page "$MG_PAGE" -n "$IN_N" -c "$IN_C" \
    --prefix "bench-$$" --timeout "$LIMIT" 2>"$T_HOME/mg_in.err")
mg_in_rc=$?
CPU_MIN=$(cpu_per_msg "$IN_N")

# Messenger outbound.  MG_K customers write to the Page first, through
# sandboxd (batches of 100, each one signed webhook to messengerd; sandboxd
# answers once messengerd answered it), so that both the Send API
# (sandboxd) and routerd's window take a RESPONSE to them.
echo "parley bench: $MG_K Messenger customers write first (sandboxd control path)" >&2
mg_open_rc=0
mg_open_t0=$(now_ms)
mkdir -p "$T_HOME/mg_open"
pids=""
for ((j = 0; j < MG_K; j += 100)); do
	jq -nc --argjson j "$j" --argjson k "$MG_K" --arg page "$MG_PAGE" \
	    --argjson base "$MG_PSID" '{batch: [range($j; [$j + 100, $k] | min) |
	    {from: ($base + . | tostring), to: $page, type: "text",
	    text: "hello", name: "Bench Customer \(.)"}]}' \
	    >"$T_HOME/mg_open/$j.json"
	curl -sS -m 60 -o "$T_HOME/mg_open/$j" \
	    -H 'Content-Type: application/json' \
	    --data-binary "@$T_HOME/mg_open/$j.json" \
	    "$SANDBOX_URL/sandbox/messenger/inbound" \
	    2>>"$T_HOME/mg_open.err" &
	pids="$pids $!"
done
for p in $pids; do wait "$p"; done
for ((j = 0; j < MG_K; j += 100)); do
	if [ "$(jq -r '.status // 0' "$T_HOME/mg_open/$j" 2>/dev/null)" != 200 ]; then
		echo "customers $j..: $(cat "$T_HOME/mg_open/$j" 2>/dev/null)" \
		    >>"$T_HOME/mg_open.err"
		mg_open_rc=1
	fi
done
mg_open_s=$(awk -v ms=$(( $(now_ms) - mg_open_t0 )) 'BEGIN { printf "%.1f", ms / 1000 }')
cpu_mark $PROCS
echo "parley bench: starting Messenger outbound ($OUT_N messages, $OUT_C outstanding)" >&2
MOUT=$(timeout $((LIMIT + 30)) "$LG" outbound -s "$ROUTERD_SOCK" \
    --channel messenger -n "$OUT_N" -c "$OUT_C" --to-base "$MG_PSID" \
    --recipients "$MG_K" --from "$MG_PAGE" --sandbox "$SANDBOX_URL" \
    --timeout "$LIMIT" 2>"$T_HOME/mg_out.err")
mg_out_rc=$?
CPU_MOUT=$(cpu_per_msg "$OUT_N")

# Latency under a steady load: SMS in and out at PACED_RATE a second.
PIN="" pin_rc=0 POUT="" pout_rc=0 KPIN="" kpin_rc=0 KPOUT="" kpout_rc=0
# The disk's own cost of a commit shaped like routerd's for one inbound
# message at the paced rate (strace counted 21 single-page pwrites and one
# run of 2-3 pages, then fdatasync and the meta page), without LMDB or
# parley: the floor under the paced latencies.  Right before the paced
# phases, since what the disk takes moves over minutes here.
COMMIT_PAGES=24
echo "parley bench: the disk's own commit ($COMMIT_PAGES pages and 1 page, 2000 times)" >&2
PROBE=$("$LG" commit -f "$T_HOME/commit.probe" -p "$COMMIT_PAGES" -n 2000 2>/dev/null)
PROBE1=$("$LG" commit -f "$T_HOME/commit.probe" -p 1 -n 2000 2>/dev/null)
if [ "$PACED_SECS" -gt 0 ]; then
	cpu_mark $PROCS
	echo "parley bench: paced inbound ($PACED_RATE/s for $PACED_SECS s)" >&2
	PIN=$(timeout $((LIMIT + PACED_SECS + 30)) "$LG" inbound \
	    -u "$SMSD_URL/twilio/inbound" \
	    --sig-url "$WEBHOOK_BASE/twilio/inbound" -t "$TOKEN_FILE" \
	    --account "$ACCOUNT_SID" -n "$PACED_N" -c "$IN_C" \
	    --from-base +1558300000 --to "$OURS" --prefix "paced-$$" \
	    --rate "$PACED_RATE" --timeout $((LIMIT + PACED_SECS)) \
	    2>"$T_HOME/pin.err")
	pin_rc=$?
	CPU_PIN=$(cpu_per_msg "$PACED_N")
	sandbox_fresh
	cpu_mark $PROCS
	echo "parley bench: paced outbound ($PACED_RATE/s for $PACED_SECS s)" >&2
	POUT=$(timeout $((LIMIT + PACED_SECS + 30)) "$LG" outbound \
	    -s "$ROUTERD_SOCK" -n "$PACED_N" -c "$OUT_C" \
	    --to-base +1557400000 --from +1555500000 --senders "$SENDERS" \
	    --sandbox "$SANDBOX_URL" --rate "$PACED_RATE" \
	    --timeout $((LIMIT + PACED_SECS)) 2>"$T_HOME/pout.err")
	pout_rc=$?
	CPU_POUT=$(cpu_per_msg "$PACED_N")
	if [ "$PEERS" = 1 ]; then
		kannel_start
		echo "parley bench: paced Kannel MO and MT ($PACED_RATE/s for $PACED_SECS s)" >&2
		cpu_mark $KANNEL_PIDS
		KPIN=$(timeout $((LIMIT + PACED_SECS + 30)) "$LG" inbound \
		    -u "$KANNEL_MO_URL" --kannel bench:bench -n "$PACED_N" \
		    -c "$IN_C" --from-base +1558300000 --to "$OURS" \
		    --sink "$KANNEL_SINK_URL" --rate "$PACED_RATE" \
		    --timeout $((LIMIT + PACED_SECS)) 2>"$T_HOME/kpin.err")
		kpin_rc=$?
		CPU_KPIN=$(cpu_per_msg "$PACED_N")
		cpu_mark $KANNEL_PIDS
		KPOUT=$(timeout $((LIMIT + PACED_SECS + 30)) "$LG" inbound \
		    -u "$KANNEL_MT_URL" --kannel bench:bench -n "$PACED_N" \
		    -c "$OUT_C" --from-base +1557400000 --to +1555500000 \
		    --sink "$KANNEL_SINK_URL" --rate "$PACED_RATE" \
		    --timeout $((LIMIT + PACED_SECS)) 2>"$T_HOME/kpout.err")
		kpout_rc=$?
		CPU_KPOUT=$(cpu_per_msg "$PACED_N")
		kannel_stop
	fi
fi

# How long msg takes to start (no daemon asked), and a baseline.
echo "parley bench: msg start-up ($SPAWN_N runs)" >&2
SPAWN=$("$LG" spawn -n "$SPAWN_N" "$PARLEY_BIN/msg" --help 2>/dev/null)
spawn_rc=$?
TRUE=$("$LG" spawn -n "$SPAWN_N" /bin/true 2>/dev/null)


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
# lat JSON [PREFIX]: "p50 a ms, p99 b ms, p99.9 c ms"
lat() {
	echo "p50 $(ms "$1" ".${2:-}p50_ms") ms, p99 $(ms "$1" ".${2:-}p99_ms") ms, p99.9 $(ms "$1" ".${2:-}p999_ms") ms"
}
# ratio A B: A / B as "1.23x" ("-" when B is 0)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'; }

cat <<EOF

parley bench — $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)
machine   $(nproc) CPUs (${cpu:-unknown}), $mem, Linux $(uname -r)
load      load average $LOAD0 before, $(cut -d' ' -f1-3 /proc/loadavg) after: what else
          ran here moves the rates; the CPU per message moves much less
storage   home on ${fs:-?} ($T_HOME); a 4 KiB O_DSYNC write takes ${fsync_ms} ms here
          (every 200 and every "queued" is answered only after an fsync'd LMDB
          commit; commits are grouped per event-loop pass)
          the disk alone doing an LMDB commit's writes (loadgen commit: random
          4 KiB pages, fdatasync, then the meta page O_DSYNC; 2000, 1 ms apart):
          $COMMIT_PAGES pages, about what routerd's commit of one inbound message writes,
          $(lat "$PROBE"); one page, $(lat "$PROBE1")

inbound   signed Twilio webhooks -> smsd -> routerd, counted on 200 (stored)
          $(f "$IN" .ok) of $IN_N in $(secs "$IN" .seconds) s = $(r "$IN" .rate) msg/s
          latency $(lat "$IN")
          ($IN_C kept-alive connections; non-200 answers: $(jq -c '.non200 // {}' <<<"$IN" 2>/dev/null))
          CPU: $(cpu_fmt "$CPU_IN" sandboxd)
          $(mach_fmt "$MACH_IN" "$CPU_IN")

outbound  msg send -> routerd -> smsd -> Twilio API (sandboxd), counted when received
          $(f "$OUT" .received) of $OUT_N in $(secs "$OUT" .seconds) s = $(r "$OUT" .rate) msg/s
          latency (send -> API) $(lat "$OUT")
          ($OUT_C requests outstanding on one bus connection, $SENDERS sender numbers;
          refused: $(f "$OUT" .refused), duplicates at the API: $(f "$OUT" .duplicates))
          CPU: $(cpu_fmt "$CPU_OUT" sandboxd)
          (with sandboxd's "sent" and "delivered" status callbacks into smsd)
          $(mach_fmt "$MACH_OUT" "$CPU_OUT" "(a burst goes faster: the status callbacks come after it)")

wa in     signed Meta notifications (one text each) -> whatsappd -> routerd,
          counted on 200 (stored)
          $(f "$WIN" .ok) of $IN_N in $(secs "$WIN" .seconds) s = $(r "$WIN" .rate) msg/s
          latency $(lat "$WIN")
          ($IN_C kept-alive connections; non-200 answers: $(jq -c '.non200 // {}' <<<"$WIN" 2>/dev/null))
          CPU: $(cpu_fmt "$CPU_WIN" sandboxd)

wa out    msg send -> routerd -> whatsappd -> Cloud API (sandboxd), counted when accepted
          $(f "$WOUT" .received) of $OUT_N in $(secs "$WOUT" .seconds) s = $(r "$WOUT" .rate) msg/s
          latency (send -> API) $(lat "$WOUT")
          CPU: $(cpu_fmt "$CPU_WOUT" sandboxd)
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
          latency $(lat "$MIN")
          ($IN_C kept-alive connections, 1,000 customers, each name asked of
          the profile API once; non-200 answers: $(jq -c '.non200 // {}' <<<"$MIN" 2>/dev/null))
          CPU: $(cpu_fmt "$CPU_MIN" sandboxd)

mg out    msg send -> routerd -> messengerd -> Send API (sandboxd), counted when accepted
          $(f "$MOUT" .received) of $OUT_N in $(secs "$MOUT" .seconds) s = $(r "$MOUT" .rate) msg/s
          latency (send -> API) $(lat "$MOUT")
          CPU: $(cpu_fmt "$CPU_MOUT" sandboxd)
          ($OUT_C requests outstanding on one bus connection, round robin to
          $MG_K customers who wrote first (${mg_open_s} s through sandboxd), from one
          Page; refused: $(f "$MOUT" .refused), API error answers: $(f "$MOUT" .api_errors),
          duplicates at the API: $(f "$MOUT" .duplicates); with sandboxd's echo,
          delivery and read webhooks into messengerd)
          messenger_rate is 10000/s per Page (its maximum) and sandboxd does
          not limit, so this is what the machine does.  Meta itself caps the
          Send API at 300 calls/s per Page: in production a Page's sends go
          at most 300 msg/s, however fast parley is.
EOF

if [ "$PACED_SECS" -gt 0 ]; then
	cat <<EOF

paced     a steady $PACED_RATE messages a second for $PACED_SECS s ($PACED_N messages)
  in      signed Twilio webhooks -> smsd -> routerd: $(f "$PIN" .ok) of $PACED_N answered 200
          at $(r "$PIN" .rate) msg/s; webhook -> 200 (stored)
          $(lat "$PIN")
          (loadgen at most $(ms "$PIN" .max_late_ms) ms behind its schedule; the disk's
          own commit of $COMMIT_PAGES pages, under it all: p99 $(ms "$PROBE" .p99_ms) ms, see storage)
          CPU: $(cpu_fmt "$CPU_PIN" sandboxd)
  out     msg send -> routerd -> smsd -> sandboxd: $(f "$POUT" .received) of $PACED_N received
          "queued" -> API $(lat "$POUT" q_)
          send -> API     $(lat "$POUT")
          (loadgen at most $(ms "$POUT" .max_late_ms) ms behind its schedule; status callbacks flowing)
          CPU: $(cpu_fmt "$CPU_POUT" sandboxd)
EOF
	[ "$PEERS" = 1 ] && cat <<EOF
  Kannel  MO: GET -> 202 $(lat "$KPIN")
              -> the sink $(lat "$KPIN" through_)
              CPU: $(cpu_fmt "$CPU_KPIN" sink)
          MT: sendsms -> 202 $(lat "$KPOUT")
              -> the sink $(lat "$KPOUT" through_)
              CPU: $(cpu_fmt "$CPU_KPOUT" sink)
          ($(f "$KPIN" .through) and $(f "$KPOUT" .through) of $PACED_N reached the sink)
EOF
fi

cat <<EOF

msg       'msg --help', fork to exit: p50 $(ms "$SPAWN" .p50_ms) ms, p90 $(ms "$SPAWN" .p90_ms) ms, fastest $(ms "$SPAWN" .min_ms) ms
          ($SPAWN_N runs; /bin/true here: p50 $(ms "$TRUE" .p50_ms) ms, fastest $(ms "$TRUE" .min_ms) ms)
EOF

# limits MACH_P CPU_P MACH_K CPU_K KRATE [WHAT]: how far the machine
# lets either go.  The load generator, the stand-ins and the daemons share
# these CPUs, so all the CPU a message takes, theirs included, bounds the
# rate; three times Kannel's rate set beside parley's bound.
limits() {
	local ap ak bp bk wp
	ap=$(mach_all "$1" "$2") ak=$(mach_all "$3" "$4")
	read -r bp wp _ <<<"$1"
	read -r bk _ <<<"$3"
	echo "all CPU per message${6:+ ($6)}, stand-in and load generator included:
          parley $ap µs (at most $(mach_cap "$ap") msg/s sustained on $NCPU CPUs; ${bp:-?}% busy,
          ${wp:-?}% disk wait while it ran), Kannel $ak µs (at most $(mach_cap "$ak") msg/s; ${bk:-?}% busy);
          3x Kannel's rate would be $(awk -v k="$5" 'BEGIN { printf "%.0f", 3 * k }') msg/s"
}
if [ "$PEERS" = 1 ]; then
	in_p=$(f "$IN" .rate) in_k=$(f "$KIN" .through_rate)
	out_p=$(f "$OUT" .rate) nocb_p=$(f "$NOCB" .rate)
	out_k=$(f "$KOUT" .through_rate)
	kver=$("$KANNEL_BEARERBOX" --version 2>&1 | head -n 1 | tr -d "\`'")
	cat <<EOF

vs Kannel ${kver:-Kannel}
          (bearerbox + smsbox, HTTP SMSC of system-type kannel to a sink
          that only answers; no store, no fsync, no delivery reports), on
          this machine in this run, same N, same concurrency, loopback.
          parley acknowledges only after an fsync'd commit; Kannel holds
          messages in memory.
  MO      parley: signed Twilio webhook -> smsd -> routerd, counted on 200 (stored)
          Kannel: GET /sms -> bearerbox -> smsbox -> get-url to the sink,
          counted when the sink has it ($IN_C connections both)
          parley $(r "$IN" .rate) msg/s, Kannel $(r "$KIN" .through_rate) msg/s: $(ratio "$in_p" "$in_k")
          (Kannel's 202s came at $(r "$KIN" .rate) msg/s, latency $(lat "$KIN");
          to the sink $(lat "$KIN" through_); $(f "$KIN" .through) of $IN_N reached it)
          CPU parley: $(cpu_fmt "$CPU_IN" sandboxd)
          CPU Kannel: $(cpu_fmt "$CPU_KIN" sink)
          parley's CPU per message is $(ratio "$(cpu_total "$CPU_IN" sandboxd)" "$(cpu_total "$CPU_KIN" sink)") Kannel's
          $(limits "$MACH_IN" "$CPU_IN" "$MACH_KIN" "$CPU_KIN" "$in_k")
  MT      parley: msg send -> routerd -> smsd -> Twilio API (sandboxd), counted when received
          Kannel: GET /cgi-bin/sendsms -> smsbox -> bearerbox -> the sink,
          counted when the sink has it ($OUT_C requests outstanding both)
          with status callbacks:   parley $(r "$OUT" .rate) msg/s, Kannel $(r "$KOUT" .through_rate) msg/s: $(ratio "$out_p" "$out_k")
          without (as Kannel's):   parley $(r "$NOCB" .rate) msg/s, Kannel $(r "$KOUT" .through_rate) msg/s: $(ratio "$nocb_p" "$out_k")
          (parley without callbacks: $(f "$NOCB" .received) of $OUT_N received, send -> API $(lat "$NOCB");
          Kannel: $(f "$KOUT" .through) of $OUT_N reached the sink, sendsms -> 202 $(lat "$KOUT"),
          -> sink $(lat "$KOUT" through_))
          CPU parley with callbacks:    $(cpu_fmt "$CPU_OUT" sandboxd)
          CPU parley without callbacks: $(cpu_fmt "$CPU_NOCB" sandboxd)
          CPU Kannel:                   $(cpu_fmt "$CPU_KOUT" sink)
          parley's CPU per message is $(ratio "$(cpu_total "$CPU_OUT" sandboxd)" "$(cpu_total "$CPU_KOUT" sink)") Kannel's with callbacks, $(ratio "$(cpu_total "$CPU_NOCB" sandboxd)" "$(cpu_total "$CPU_KOUT" sink)") without
          $(limits "$MACH_NOCB" "$CPU_NOCB" "$MACH_KOUT" "$CPU_KOUT" "$out_k" "without callbacks")
EOF
fi

cat <<EOF

raw       $IN
          $OUT
          $WIN
          $WOUT
          $MIN
          $MOUT
EOF
for j in "$NOCB" "$KIN" "$KOUT" "$PIN" "$POUT" "$KPIN" "$KPOUT" "$SPAWN" "$TRUE" "$PROBE" "$PROBE1"; do
	[ -n "$j" ] && echo "          $j"
done

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
if [ "$mg_open_rc" -ne 0 ]; then
	echo "parley bench: some Messenger customers could not write first" >&2
	tail -n 5 "$T_HOME/mg_open.err" >&2
	rc=1
fi
if [ "$mg_out_rc" -ne 0 ]; then
	echo "parley bench: Messenger outbound did not complete (exit $mg_out_rc)" >&2
	tail -n 5 "$T_HOME/mg_out.err" >&2
	rc=1
fi
# check_rc RC WHAT ERRFILE
check_rc() {
	[ "$1" -eq 0 ] && return 0
	echo "parley bench: $2 did not complete (exit $1)" >&2
	tail -n 5 "$T_HOME/$3" >&2
	rc=1
}
check_rc "$nocb_rc" "outbound without status callbacks" nocb.err
check_rc "$kin_rc" "Kannel MO" kin.err
check_rc "$kout_rc" "Kannel MT" kout.err
check_rc "$pin_rc" "paced inbound" pin.err
check_rc "$pout_rc" "paced outbound" pout.err
check_rc "$kpin_rc" "paced Kannel MO" kpin.err
check_rc "$kpout_rc" "paced Kannel MT" kpout.err
if [ "$spawn_rc" -ne 0 ]; then
	echo "parley bench: msg --help failed" >&2
	rc=1
fi
T_FAILED=$rc
exit "$rc"
