#!/bin/bash
# tests/bench/lists.sh — contact lists at scale, called by `make bench`
# (and runnable alone).  It starts the stack in a temporary home
# (tests/integration/lib.sh), writes a CSV of BENCH_LISTS_N rows (100,000
# by default; 1,000,000 with BENCH_BIG=1), imports it into a static list
# with `msg list import` (staged in batches, then applied in steps of
# 1,000 rows, one transaction each, made visible at once at the end),
# then runs `msg campaign launch --dry-run` of an SMS
# campaign on that list (every recipient rendered, counted and asked
# about at routerd in batches of 500), and prints rows per second and
# peak memory: msg's VmHWM sampled every 20 ms while it runs, campaignd's
# VmHWM (with the LMDB pages it touched through its map) and RssAnon (its
# heap) after the import.  No pass/fail on timing: it fails only when the
# stack does not start or the numbers are wrong.
#
# Environment: PARLEY_SRC, PARLEY_BIN (as for the tests), BENCH_LISTS_N,
# BENCH_BIG, BENCH_TMPDIR (build/ by default), BENCH_TIMEOUT.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/../integration/lib.sh"
T_PLAN=none		# not a TAP file

if [ -n "${BENCH_BIG:-}" ]; then N=${BENCH_LISTS_N:-1000000}; else N=${BENCH_LISTS_N:-100000}; fi
LIMIT=${BENCH_TIMEOUT:-1800}
TMPDIR=${BENCH_TMPDIR:-$PARLEY_SRC/build}
mkdir -p "$TMPDIR" && export TMPDIR

stack_start

CSV=$T_HOME/list.csv
awk -v n="$N" 'BEGIN {
	print "first_name,last_name,phone,timezone,tags,city"
	split("America/New_York Europe/Paris Asia/Tokyo UTC", tz, " ")
	for (i = 1; i <= n; i++)
		printf "First%d,Last%d,+1444%07d,%s,%s,City %d\n", i, i, i,
		    tz[i % 4 + 1], i % 10 ? "std" : "vip", i % 50
}' >"$CSV" || bail "could not write $CSV"
SIZE=$(stat -c %s "$CSV")

kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$2/status" 2>/dev/null; }
mib() { awk -v k="${1:-0}" 'BEGIN { printf "%.1f", k / 1024 }'; }
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }'; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }

# run_sampled CMD...: run it in the background, sample its VmHWM into peak
run_sampled() {
	local pid deadline h
	"$@" &
	pid=$!
	bg_track "$pid"
	peak=0
	deadline=$(($(now_ms) + LIMIT * 1000))
	while ! proc_done "$pid"; do
		h=$(kib VmHWM "$pid")
		[ -n "$h" ] && [ "$h" -gt "$peak" ] && peak=$h
		if [ "$(now_ms)" -ge "$deadline" ]; then
			kill -TERM "$pid" 2>/dev/null
			break
		fi
		sleep 0.02
	done
	wait "$pid"
	run_rc=$?
	bg_untrack "$pid"
}

msg list create big >/dev/null || bail "list create"
echo "parley bench: importing $N rows into a list" >&2
t0=$(now_ms)
run_sampled sh -c "exec msg list import big '$CSV' >/dev/null 2>'$T_HOME/import.err' </dev/null"
import_rc=$run_rc
mpeak=$peak
t1=$(now_ms)
CPID=$(sv_pid campaignd)
chwm=$(kib VmHWM "$CPID")
canon=$(kib RssAnon "$CPID")
count=$(msg list show big | jq -r .count)
commit=$(grep -h "import .* committed" "$T_HOME"/service/campaignd/log/main/current | tail -n 1)

msg campaign create bigc --sms +15558000001 >/dev/null &&
    msg campaign edit bigc --list big --senders +15558000001 --rate 100 \
    --text 'Hi {first_name|there}, news from {city|your town}!' >/dev/null ||
    bail "campaign"
echo "parley bench: a dry run of a campaign to it" >&2
t2=$(now_ms)
run_sampled sh -c "exec msg campaign launch bigc --dry-run >'$T_HOME/dry.json' 2>'$T_HOME/dry.err' </dev/null"
dry_rc=$run_rc
t3=$(now_ms)
chwm2=$(kib VmHWM "$CPID")
recipients=$(jq -r .recipients "$T_HOME/dry.json" 2>/dev/null)

cat <<EOF

lists     msg list import -> campaignd: rows staged in batches of 2000, then
          applied in steps of 1000 rows (a transaction each), visible at the end
          $N rows ($(mib $((SIZE / 1024))) MiB): list count ${count:-?}
          in $(secs $((t1 - t0))) s = $(rate "$N" $((t1 - t0))) rows/s
          peak memory: msg $(mib "$mpeak") MiB (VmHWM, sampled); campaignd $(mib "$chwm") MiB
          VmHWM (with the LMDB pages it mapped), $(mib "$canon") MiB RssAnon after
          $commit
          dry run of a campaign to it: $recipients recipients in $(secs $((t3 - t2))) s
          = $(rate "${recipients:-0}" $((t3 - t2))) recipients/s; campaignd VmHWM $(mib "$chwm2") MiB after
EOF

rc=0
if [ "$import_rc" -ne 0 ] || [ "${count:-x}" != "$N" ]; then
	echo "parley bench: the list import did not keep every row (exit $import_rc)" >&2
	tail -n 5 "$T_HOME/import.err" >&2
	rc=1
fi
if [ "$dry_rc" -ne 0 ] || [ "${recipients:-x}" != "$N" ]; then
	echo "parley bench: the dry run did not count every recipient (exit $dry_rc)" >&2
	tail -n 5 "$T_HOME/dry.err" >&2
	rc=1
fi
T_FAILED=$rc
exit "$rc"
