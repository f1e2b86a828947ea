#!/bin/bash
# tests/bench/campaign.sh — an outbound campaign run at scale, called by
# `make bench` (and runnable alone).  It starts the stack in a temporary
# home, imports a list of BENCH_CAMPAIGN_N recipients (100,000 by default;
# 1,000,000 with BENCH_BIG=1) with `msg list import`, launches a campaign
# to it at the highest pacing (campaign rate and sms_rate 10000, the sandbox at
# its maximum, 500 in flight) and waits until every recipient is
# final.  It prints recipients per second from the launch to the end of
# the run, and the peak memory of campaignd and routerd: VmHWM (with the
# LMDB pages they touched through their maps) and RssAnon (their heaps),
# sampled every 200 ms while the run goes (the high-water marks reset at
# the launch through /proc/PID/clear_refs, so the import's peak is not
# counted).  No pass/fail on timing: it
# fails only when the run does not end with every recipient sent.
#
# Environment: PARLEY_SRC, PARLEY_BIN, BENCH_CAMPAIGN_N, BENCH_BIG,
# BENCH_TMPDIR (build/ by default), BENCH_TIMEOUT (seconds for the run).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/../integration/lib.sh"
T_PLAN=none		# not a TAP file

N=${BENCH_CAMPAIGN_N:-100000}
[ "${BENCH_BIG:-0}" = 1 ] && N=${BENCH_CAMPAIGN_N:-1000000}
LIMIT=${BENCH_TIMEOUT:-$((N / 50 + 120))}
TMPDIR=${BENCH_TMPDIR:-$PARLEY_SRC/build}
mkdir -p "$TMPDIR" && export TMPDIR

stack_home
conf_set sms_rate 10000
conf_set sms_burst 100000
conf_set sms_max_inflight 1000
conf_set store_map_size_mb 1024
stack_start

CSV=$T_HOME/list.csv
awk -v n="$N" 'BEGIN {
	print "first_name,last_name,phone,city"
	for (i = 1; i <= n; i++)
		printf "First%d,Last%d,+1556%07d,City %d\n", i, i, i, i % 50
}' >"$CSV" || bail "could not write $CSV"

kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$2/status" 2>/dev/null; }
mib() { awk -v k="${1:-0}" 'BEGIN { printf "%.1f", k / 1024 }'; }
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }'; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; }

echo "parley bench: importing a list of $N recipients" >&2
msg list create bench >/dev/null || bail "list"
ti=$(now_ms)
msg list import bench "$CSV" >/dev/null 2>"$T_HOME/import.err" </dev/null ||
    bail "import: $(tail -n 2 "$T_HOME/import.err")"
ti=$(( $(now_ms) - ti ))
ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
msg campaign create bench --sms +15557650000 --schedule "$ALWAYS" \
    --outbound '{"list":"bench","senders":["+15557650000"],"text":"Hi {first_name}, news from {city}","rate":10000,"hours":{"from":"00:00","to":"24:00"}}' \
    >/dev/null || bail "campaign"
CPID=$(sv_pid campaignd)
RPID=$(sv_pid routerd)
echo "parley bench: running the campaign" >&2
t0=$(now_ms)
camp_launch bench || bail "launch"
# the run's own peak, not the import's: the high-water marks reset once
# the launch has shed what the import left resident
sleep 0.3
echo 5 >"/proc/$CPID/clear_refs" 2>/dev/null
echo 5 >"/proc/$RPID/clear_refs" 2>/dev/null
deadline=$((t0 + LIMIT * 1000))
cpk=0 rpk=0 cak=0 rak=0 cfk=0 crk=0 st=
while :; do
	for v in "cpk VmHWM $CPID" "rpk VmHWM $RPID" "cak RssAnon $CPID" "rak RssAnon $RPID" "cfk RssFile $CPID" "crk VmRSS $CPID"; do
		set -- $v
		k=$(kib "$2" "$3")
		[ -n "$k" ] && [ "$k" -gt "${!1}" ] && eval "$1=$k"
	done
	p=$(msg campaign progress bench 2>/dev/null)
	st=$(jq -r .state <<<"$p" 2>/dev/null)
	[ "$st" = done ] && break
	[ "$(now_ms)" -ge "$deadline" ] && break
	sleep 0.2
done
t1=$(now_ms)
sent=$(jq -r .sent <<<"$p")
total=$(jq -r .total <<<"$p")

cat <<EOF

campaign  an outbound run: list of $N (imported in $(secs "$ti") s), launched at
          the highest pacing (rate and sms_rate 10000, 500 in flight) through routerd,
          smsd and sandboxd, until every recipient is final
          $total recipients, $sent sent, in $(secs $((t1 - t0))) s = $(rate "${sent:-0}" $((t1 - t0))) recipients/s
          peak memory: campaignd $(mib "$cpk") MiB VmHWM (sampled VmRSS $(mib "$crk"), RssFile
          $(mib "$cfk"), RssAnon $(mib "$cak") MiB at most);
          routerd $(mib "$rpk") MiB VmHWM, $(mib "$rak") MiB RssAnon
EOF
rc=0
if [ "$st" != done ] || [ "$sent" != "$N" ]; then
	echo "parley bench: the run did not end with every recipient sent ($p)" >&2
	rc=1
fi
T_FAILED=$rc
exit "$rc"
