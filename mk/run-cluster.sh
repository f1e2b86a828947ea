#!/bin/bash
# run-cluster.sh — what `make run-cluster` runs (parley-cluster(7)): on this
# machine, three nats-server nodes in one JetStream cluster (clients on
# 127.0.0.1:4222-4224, routes on 6222-6224, stores and logs under
# ./var-cluster/nats/), two parley shards s1 and s2 (routerd, campaignd and
# statsd each, homes ./var-cluster/s1 and ./var-cluster/s2, statsd on :8090
# and :8091) and the edge home ./var-cluster/edge (smsd, whatsappd,
# messengerd and sandboxd on their usual ports), all with bus_transport =
# nats.  Campaign "support" lives on s2 (the sandbox number +15557654322),
# everything else on s1.  It stays in the foreground, daemons logging to
# files beside their homes, until Ctrl-C (SIGINT, SIGTERM or SIGHUP): then
# each process it started gets SIGTERM (the daemons drain), and it exits 0.
#
# Environment: BUILD (build) or PARLEY_BIN, NATS_PORT_BASE (4222),
# NATS_ROUTE_BASE (6222), STATSD_PORT (8090; s2 the next), READY_SECS (60),
# and the ports mk/mkhome.sh reads for the edge (SMSD_PORT, SANDBOX_PORT...).
set -u

repo=$(cd "$(dirname "$0")/.." && pwd -P)
top=$repo/var-cluster
BUILD=${BUILD:-build}
PARLEY_BIN=${PARLEY_BIN:-$repo/$BUILD/bin}
NP=${NATS_PORT_BASE:-4222}
NR=${NATS_ROUTE_BASE:-6222}
READY_SECS=${READY_SECS:-60}
SP=${STATSD_PORT:-8090}
pids=""

say() { echo "parley-cluster: $*"; }
die() { echo "parley-cluster: $*" >&2; stop 1; }

for v in $(env | sed -n 's/^\(PARLEY_[A-Z0-9_]*\)=.*/\1/p'); do
	[ "$v" = PARLEY_BIN ] || unset "$v"
done
command -v nats-server >/dev/null 2>&1 ||
    { echo "nats-server is not installed (apt-get install nats-server)" >&2; exit 1; }
for d in routerd campaignd statsd smsd whatsappd messengerd sandboxd msg; do
	[ -x "$PARLEY_BIN/$d" ] || { echo "$PARLEY_BIN/$d is not built; run make" >&2; exit 1; }
done

stop() {
	local p
	trap - INT TERM HUP
	say "stopping"
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	exit "${1:-0}"
}
trap stop INT TERM HUP

# bg LOG CMD...: start CMD, logged to LOG, remembered for stop.
bg() {
	local log=$1
	shift
	"$@" >>"$log" 2>&1 </dev/null &
	pids="$pids $!"
}

# The nodes require a token of their clients and a password of each other
# (routes): any local user could otherwise publish frames as a channel
# daemon would.  Both are made once, kept in var-cluster/nats/ (0700), and
# given to the nodes in configuration files (0600), never on a command
# line that every user can read in ps.
mkdir -p "$top/nats"
chmod 0700 "$top/nats"
for f in token route_pw; do
	[ -s "$top/nats/$f" ] ||
	    ( umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$top/nats/$f" )
done
token=$(cat "$top/nats/token")
route_pw=$(cat "$top/nats/route_pw")
servers=""
for n in 1 2 3; do
	servers="$servers${servers:+,}nats://127.0.0.1:$((NP + n - 1))"
done
for n in 1 2 3; do
	routes=""
	for m in 1 2 3; do
		[ "$m" = "$n" ] ||
		    routes="$routes${routes:+, }nats-route://route:$route_pw@127.0.0.1:$((NR + m - 1))"
	done
	mkdir -p "$top/nats/n$n"
	( umask 077; cat >"$top/nats/n$n.conf" <<EOC
listen: 127.0.0.1:$((NP + n - 1))
server_name: n$n
jetstream { store_dir: "$top/nats/n$n" }
authorization { token: "$token" }
cluster {
	name: parley
	listen: 127.0.0.1:$((NR + n - 1))
	authorization { user: route, password: "$route_pw" }
	routes: [ $routes ]
}
EOC
	)
	bg "$top/nats/n$n.log" nats-server -c "$top/nats/n$n.conf"
done

cluster_keys() {
	( umask 077; echo "$token" >"$1/secrets/nats_token" )
	cat >>"$1/parley.conf" <<EOC
# the cluster (parley-cluster(7)), added by mk/run-cluster.sh
bus_transport = nats
nats_token_file = secrets/nats_token
nats_servers = $servers
nats_shards = support=s2
nats_addresses = +15557654322=support
nats_default_shard = s1
EOC
	[ -z "$2" ] || echo "nats_shard = $2" >>"$1/parley.conf"
	[ -n "$2" ] || echo "nats_shard_confs = s1=$top/s1/parley.conf s2=$top/s2/parley.conf" >>"$1/parley.conf"
}

# homes: mkhome writes parley.conf afresh each time
for h in edge s1 s2; do
	mkdir -p "$top/$h"
	STATSD_PORT=$([ "$h" = s2 ] && echo $((SP + 1)) || echo "$SP") \
	    sh "$repo/mk/mkhome.sh" "$top/$h" >/dev/null ||
	    die "mk/mkhome.sh $top/$h failed"
	cluster_keys "$top/$h" "$([ "$h" = edge ] || echo "$h")"
done
for h in s1 s2; do
	for d in campaignd routerd statsd; do
		bg "$top/$h/$d.log" "$PARLEY_BIN/$d" -c "$top/$h/parley.conf"
	done
done
for d in sandboxd smsd whatsappd messengerd; do
	bg "$top/edge/$d.log" "$PARLEY_BIN/$d" -c "$top/edge/parley.conf"
done

ready() {
	grep -q "consuming parley.s1.in" "$top/s1/routerd.log" 2>/dev/null &&
	grep -q "consuming parley.s2.in" "$top/s2/routerd.log" 2>/dev/null &&
	grep -q "nats: connected" "$top/edge/smsd.log" 2>/dev/null
}
i=0
until ready; do
	i=$((i + 1))
	[ "$i" -le $((READY_SECS * 10)) ] || die "not ready after ${READY_SECS}s; see $top/*/*.log"
	sleep 0.1
done
say "three NATS nodes (127.0.0.1:$NP-$((NP + 2))), shards s1 and s2, the edge: ready"
say "  a customer writes:  curl -s -d '{\"from\":\"+15551230001\",\"to\":\"+15557654321\",\"body\":\"hi\"}' http://127.0.0.1:${SANDBOX_PORT:-8099}/sandbox/sms/inbound"
say "  shard s1's inbox:   $PARLEY_BIN/msg -c $top/s1/parley.conf inbox"
say "  support's shard:    $PARLEY_BIN/msg -c $top/edge/parley.conf -S support inbox"
say "  both shards' stats: $PARLEY_BIN/msg stats --shards $top/s1/parley.conf,$top/s2/parley.conf"
say "  logs: $top/{edge,s1,s2}/*.log, $top/nats/*.log; Ctrl-C stops all"
while :; do
	sleep 1 &
	wait $! 2>/dev/null
done
