#!/bin/bash
# tests/bench/statsd.sh — statsd's rebuild rate, for `make bench`: evgen
# writes BENCH_EVENTS (10,000,000) events of a busy contact centre straight
# into a routerd-format event log in a temporary home (under build/, on the
# tree's disk), then `statsd -r -x` replays them into fresh rollups and
# prints the events, the time, the rate, the CPU it took and its peak
# resident memory.  The target is under 30 s for 10,000,000 on this
# machine; the wall time counts what other processes take of the two
# cores, the CPU seconds do not.  It reports; it never fails on timing.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
src=$(cd "$(dirname "$0")/../.." && pwd -P)
BUILD=${BUILD:-build}
bin=$src/$BUILD/bin
tools=$src/$BUILD/tools
n=${BENCH_EVENTS:-10000000}
home=$(mktemp -d "$src/$BUILD/bench-statsd.XXXXXX") || exit 1
trap 'rm -rf "$home"' EXIT
mkdir -p "$home/db/routerd"
printf 'home = %s\n' "$home" >"$home/parley.conf"
echo "statsd    rebuild: $n events written straight into a routerd-format log"
"$tools/evgen" "$home/db/routerd" "$n" | sed 's/^/          /' || exit 1
"$bin/statsd" -c "$home/parley.conf" -r -x 2>/dev/null | sed 's/^statsd: /          /'
echo "          load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
