#!/bin/bash
# tests/bench/contacts.sh — the contact import at scale, called by
# tests/bench/bench.sh (and runnable alone).  It starts the stack in a
# temporary home (tests/integration/lib.sh), writes a CSV of
# BENCH_CONTACTS_N rows (100,000 by default) with a few bad rows sprinkled
# in (a phone that is not E.164, a row that does not parse, a row with a
# field too many), imports it with `msg contact import`, then exports it
# again, and prints rows per second and peak memory: msg's VmHWM, sampled
# from /proc/<pid>/status while it runs (every 20 ms; msg's memory is
# flat after its first batch, so the sample finds the peak), and
# campaignd's VmHWM and RssAnon afterwards (VmHWM counts the LMDB pages
# campaignd touched through its map; RssAnon is its heap alone).
# No pass/fail on timing: it fails only when the stack does not start or
# the import does not keep exactly the good rows.
#
# Environment: PARLEY_SRC, PARLEY_BIN (as for the tests), BENCH_CONTACTS_N,
# BENCH_TMPDIR (where the home goes; build/ by default, on the disk that
# holds the tree, so that fsync costs what it costs here), BENCH_TIMEOUT.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/../integration/lib.sh"
T_PLAN=none		# not a TAP file

N=${BENCH_CONTACTS_N:-100000}
LIMIT=${BENCH_TIMEOUT:-300}
TMPDIR=${BENCH_TMPDIR:-$PARLEY_SRC/build}
mkdir -p "$TMPDIR" && export TMPDIR

stack_start

CSV=$T_HOME/contacts.csv
# Row i: bad phone when i % 20011 == 0, a stray quote when i % 30011 == 0,
# a field too many when i % 40009 == 0; every other row is good.
awk -v n="$N" 'BEGIN {
	print "name,phone,email,company,city"
	bad = 0
	for (i = 1; i <= n; i++) {
		if (i % 20011 == 0) {
			printf "Bad Phone %d,+12%d,,Co,X\n", i, i % 100000; bad++
		} else if (i % 30011 == 0) {
			printf "Stray %d,+1555%07d,,\"a\"b,X\n", i, i; bad++
		} else if (i % 40009 == 0) {
			printf "Wide %d,+1555%07d,,Co,X,extra\n", i, i; bad++
		} else
			printf "Customer %d,+1555%07d,c%d@example.com,\"Company %d, Inc\",City %d\n",
			    i, i, i, i % 100, i % 50
	}
	print bad > "/dev/stderr"
}' >"$CSV" 2>"$T_HOME/bad.count" || bail "could not write $CSV"
BAD=$(cat "$T_HOME/bad.count")
SIZE=$(stat -c %s "$CSV")

# kib FIELD PID: a /proc/PID/status field in KiB (empty when gone).
kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$2/status" 2>/dev/null; }
mib() { awk -v k="${1:-0}" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo "parley bench: importing $N contacts ($BAD bad rows)" >&2
t0=$(now_ms)
msg contact import "$CSV" >/dev/null 2>"$T_HOME/import.err" </dev/null &
MPID=$!
bg_track "$MPID"
peak=0
deadline=$((t0 + LIMIT * 1000))
while ! proc_done "$MPID"; do
	h=$(kib VmHWM "$MPID")
	[ -n "$h" ] && [ "$h" -gt "$peak" ] && peak=$h
	if [ "$(now_ms)" -ge "$deadline" ]; then
		kill -TERM "$MPID" 2>/dev/null
		break
	fi
	sleep 0.02
done
wait "$MPID"
import_rc=$?
bg_untrack "$MPID"
t1=$(now_ms)

summary=$(tail -n 1 "$T_HOME/import.err")
imported=$(sed -n 's/.*imported \([0-9]*\), refused \([0-9]*\).*/\1/p' <<<"$summary")
refused=$(sed -n 's/.*imported \([0-9]*\), refused \([0-9]*\).*/\2/p' <<<"$summary")
CPID=$(sv_pid campaignd)
chwm=$(kib VmHWM "$CPID")
canon=$(kib RssAnon "$CPID")

echo "parley bench: exporting them" >&2
t2=$(now_ms)
timeout "$LIMIT" msg contact export >"$T_HOME/export.csv" 2>"$T_HOME/export.err"
export_rc=$?
t3=$(now_ms)
exported=$(($(wc -l <"$T_HOME/export.csv") - 1))

# A name search that has to scan the whole name index (the part is not a
# prefix of any name): the worst case.
t4=$(now_ms)
found=$(msg contact search "ustomer 4242" 2>/dev/null | wc -l)
t5=$(now_ms)

rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }'; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }

cat <<EOF

contacts  CSV import: msg contact import -> campaignd (batches of 1000 rows, each
          one nested transaction, answered after its fsync'd commit)
          $N rows ($(mib $((SIZE / 1024))) MiB), $BAD bad: imported ${imported:-?}, refused ${refused:-?}
          in $(secs $((t1 - t0))) s = $(rate "$N" $((t1 - t0))) rows/s
          peak memory: msg $(mib "$peak") MiB (VmHWM, sampled); campaignd $(mib "$chwm") MiB VmHWM
          (with the LMDB pages it mapped), $(mib "$canon") MiB RssAnon after the import
          export: $exported rows in $(secs $((t3 - t2))) s = $(rate "$exported" $((t3 - t2))) rows/s
          search by a part of a name (a scan of the $((N - BAD)) names): $((t5 - t4)) ms
          for the whole msg command, $found found
EOF

rc=0
if [ "$import_rc" -gt 1 ] || [ "${imported:-x}" != $((N - BAD)) ] ||
    [ "${refused:-x}" != "$BAD" ]; then
	echo "parley bench: the contact import did not keep exactly the good rows (exit $import_rc)" >&2
	grep -v 'import: line' "$T_HOME/import.err" | tail -n 5 >&2
	rc=1
fi
if [ "$export_rc" -ne 0 ] || [ "$exported" -ne $((N - BAD)) ]; then
	echo "parley bench: the export did not complete (exit $export_rc, $exported rows)" >&2
	tail -n 5 "$T_HOME/export.err" >&2
	rc=1
fi
T_FAILED=$rc
exit "$rc"
