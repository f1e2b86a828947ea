#!/bin/sh
# Check that the libraries and tools parley builds and runs with are present
# (and what its tests drive: promtool from prometheus checks /metrics,
# chromium loads the wallboard, tmux drives msg monitor, socat reads
# stats.sock; nats-server runs make run-cluster and the t_cluster tests,
# libnats-dev builds the NATS transport of the bus; libjemalloc-dev is the
# daemons' allocator).
# As root, install what is missing with apt-get; otherwise print the exact
# apt-get line and stop.
pkgs=""
need() { dpkg -s "$1" >/dev/null 2>&1 || pkgs="$pkgs $1"; }
for p in build-essential pkg-config libevent-dev liblmdb-dev libmsgpack-dev \
         libcurl4-openssl-dev libsodium-dev libjansson-dev libssl-dev \
         runit mandoc curl jq libcsv-dev libhttp-parser-dev tzdata \
         prometheus chromium tmux socat libnats-dev nats-server \
         libjemalloc-dev; do
	need "$p"
done
[ -z "$pkgs" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "parley: installing missing packages:$pkgs"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $pkgs >/dev/null || {
		echo "parley: apt-get install failed" >&2; exit 1; }
	exit 0
fi
echo "parley: missing packages; run as root:" >&2
echo "  apt-get install -y$pkgs" >&2
exit 1
