# lib_cluster.sh — helpers for the t_cluster* tests, sourced after lib.sh: a
# three-node nats-server JetStream cluster on loopback random ports (store
# directories under the test home), two parley shards (homes of their own,
# routerd, campaignd and statsd each) and an edge home (smsd, whatsappd,
# messengerd, sandboxd) whose bus
# is NATS (parley-cluster(7)).  Every process is started here, tracked by
# PID (bg_track) and ended by lib.sh's EXIT trap; nothing else is touched.
#
#	cluster_start		NATS nodes, shards s1 and s2, the edge
#	nats_kill N / nats_start N	stop (SIGKILL) or restart node N
#	shard_kill S / shard_routerd S	the routerd of shard S
#	shard_in S		the inbound messages shard S stored (JSON Lines)

command -v nats-server >/dev/null 2>&1 || skip_all "nats-server is not installed"

CL_ADDR_A=+15550000001		# campaign sales, shard s1
CL_ADDR_B=+15550000002		# campaign support, shard s2
CL_WA_PNID=106540352242922	# a WhatsApp number of support's, shard s2

# cl_conf HOME SHARD: the cluster settings appended to HOME's parley.conf,
# and the clients' token as HOME's secret (0600).
cl_conf() {
	mkdir -p "$1/secrets"
	( umask 077; echo "$CL_TOKEN" >"$1/secrets/nats_token" )
	cat >>"$1/parley.conf" <<EOC
bus_transport = nats
nats_token_file = secrets/nats_token
nats_servers = nats://127.0.0.1:${NATS_PORT[1]},nats://127.0.0.1:${NATS_PORT[2]},nats://127.0.0.1:${NATS_PORT[3]}
nats_shards = sales=s1 support=s2
nats_addresses = $CL_ADDR_A=sales $CL_ADDR_B=support $CL_WA_PNID=support $MG_PAGE=support
nats_default_shard = s1
nats_replicas = 3
nats_ack_wait_ms = 5000
EOC
	[ -n "$2" ] && echo "nats_shard = $2" >>"$1/parley.conf"
	return 0
}

# nats_start N: node N from a configuration file of its own (mode 0600:
# the clients' token and the routes' password are in it, not on a command
# line every user can read): clients need CL_TOKEN, other nodes the route
# password.
nats_start() {
	local n=$1 routes="" m f
	f=$T_HOME/nats/n$n.conf
	for m in 1 2 3; do
		[ "$m" = "$n" ] && continue
		routes="$routes${routes:+, }nats-route://route:$CL_ROUTE_PW@127.0.0.1:${NATS_CPORT[$m]}"
	done
	mkdir -p "$T_HOME/nats/n$n"
	( umask 077; cat >"$f" <<EOC
listen: 127.0.0.1:${NATS_PORT[$n]}
server_name: n$n
jetstream { store_dir: "$T_HOME/nats/n$n" }
authorization { token: "$CL_TOKEN" }
cluster {
	name: parley-t
	listen: 127.0.0.1:${NATS_CPORT[$n]}
	authorization { user: route, password: "$CL_ROUTE_PW" }
	routes: [ $routes ]
}
EOC
	)
	nats-server -c "$f" >>"$T_HOME/nats/n$n.log" 2>&1 </dev/null &
	NATS_PID[$n]=$!
	bg_track "${NATS_PID[$n]}"
}

nats_kill() {
	kill -KILL "${NATS_PID[$1]}" 2>/dev/null
	wait "${NATS_PID[$1]}" 2>/dev/null
	bg_untrack "${NATS_PID[$1]}"
}

# cl_run HOME PROG: PROG of HOME in the background, logged to HOME/PROG.log.
cl_run() {
	PARLEY_CONF=$1/parley.conf "$PARLEY_BIN/$2" ${CL_DEBUG:+-d} >>"$1/$2.log" 2>&1 </dev/null &
	bg_track $!
	eval "CL_PID_${3:-x}_$2=$!"
}

shard_routerd() { cl_run "$(shard_home "$1")" routerd "$1"; }
shard_kill() {
	local v="CL_PID_$1_routerd"
	kill -KILL "${!v}" 2>/dev/null
	wait "${!v}" 2>/dev/null
	bg_untrack "${!v}"
}
shard_home() { case $1 in s1) echo "$S1" ;; s2) echo "$S2" ;; esac; }

# shard_msg S ARGS...: msg against shard S (its parley.conf).
shard_msg() {
	local h
	h=$(shard_home "$1"); shift
	PARLEY_CONF=$h/parley.conf msg "$@"
}
shard_in() {
	shard_msg "$1" tail --since 1 </dev/null 2>/dev/null |
	    jq -c 'select(.type=="message" and .dir=="in")'
}

cluster_start() {
	local m s p
	stack_home
	for m in 1 2 3; do
		take_port "NATS_PORT[$m]"; take_port "NATS_CPORT[$m]"
	done
	CL_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
	CL_ROUTE_PW=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
	for m in 1 2 3; do nats_start "$m"; done
	for s in 1 2; do
		mkdir -p "$T_HOME/shard$s"
		sh "$MKHOME" "$T_HOME/shard$s" >"$T_HOME/shard$s/mkhome.log" 2>&1 ||
		    bail "mkhome for shard $s failed"
		cl_conf "$T_HOME/shard$s" "s$s"
		take_port p
		sed -i "s/^statsd_listen.*/statsd_listen = 127.0.0.1:$p/" \
		    "$T_HOME/shard$s/parley.conf"
	done
	S1=$T_HOME/shard1 S2=$T_HOME/shard2
	cl_conf "$T_HOME" ""
	echo "nats_shard_confs = s1=$S1/parley.conf s2=$S2/parley.conf" >>"$T_HOME/parley.conf"
	for s in s1 s2; do
		cl_run "$(shard_home $s)" campaignd "$s"
		cl_run "$(shard_home $s)" routerd "$s"
		cl_run "$(shard_home $s)" statsd "$s"
	done
	cl_run "$T_HOME" sandboxd edge
	cl_run "$T_HOME" smsd edge
	cl_run "$T_HOME" whatsappd edge
	cl_run "$T_HOME" messengerd edge
	for s in s1 s2; do
		wait_for 30 shard_msg "$s" ping -q -w 1 routerd ||
		    bail "shard $s routerd did not answer"
	done
	wait_for 30 msg ping -q -w 1 smsd || bail "smsd did not answer"
	wait_for 30 grep -q "nats: connected" "$T_HOME/smsd.log" ||
	    bail "smsd did not connect to NATS: $(tail -n 5 "$T_HOME/smsd.log")"
	for s in s1 s2; do
		wait_for 30 grep -q "consuming parley.$s.in" \
		    "$(shard_home $s)/routerd.log" ||
		    bail "shard $s routerd consumes nothing: $(tail -n 5 "$(shard_home $s)/routerd.log")"
	done
	# a cluster just formed may still be electing stream leaders: one
	# webhook per shard answered 200 before the test begins
	for s in "$CL_ADDR_A" "$CL_ADDR_B"; do
		wait_for 60 cl_warm "$s" || bail "no shard stores for $s"
	done
}
cl_warm() { [ "$(sms_in "$(sm_sid)" +15559999999 "$1" warm-up)" = 200 ]; }

# cl_diag: the ends of every log, as TAP diagnostics (on failure).
cl_diag() {
	local f
	for f in "$T_HOME"/*.log "$T_HOME"/shard*/*.log "$T_HOME"/nats/*.log; do
		[ -s "$f" ] || continue
		diag "--- $f"
		tail -n 15 "$f" | diag -
	done
}

# sms_in_retry SID FROM TO BODY: as Twilio does, the same webhook again
# while it is answered 503 (a stream leader moving, say), up to 10 times
# half a second apart; the last status.
sms_in_retry() {
	local code n
	for n in 1 2 3 4 5 6 7 8 9 10; do
		code=$(sms_in "$@")
		[ "$code" = 503 ] || break
		sleep 0.5
	done
	echo "$code"
}

# sms_in SID FROM TO BODY: one signed inbound webhook to smsd; its status.
sms_in() {
	local p
	mapfile -t p < <(inbound_params "$1" "$2" "$3" "$4")
	tw_post /twilio/inbound - "${p[@]}"
}
