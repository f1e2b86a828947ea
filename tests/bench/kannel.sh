# tests/bench/kannel.sh — sourced by tests/bench/bench.sh when BENCH_PEERS=1:
# Kannel (Debian's `kannel`, 1.4.5), the gateway parley is measured against,
# on this machine beside parley's stack:
#   bearerbox  with one HTTP SMSC of system-type kannel: MO messages come
#              in as GET /sms?username&password&from&to&text on its port
#              (answered 202 "Sent." once bearerbox holds them), MT
#              messages go out as GET requests to the sink;
#   smsbox     its sendsms port takes MT messages (GET /cgi-bin/sendsms,
#              answered 202 once bearerbox acknowledged them), and one
#              catch-all sms-service hands every MO message to the sink
#              (get-url, max-messages 0: no reply);
#   sink       tests/bench/sink.c: answers every request 200 "Sent." and
#              notes when each "bench i" arrived.
# No message store and no delivery reports: Kannel keeps everything in
# memory (parley acknowledges only what an fsync'd commit holds); both
# boxes log errors only (-v 4 on stderr, log-level 3 in their files).
#
#   kannel_install   apt-get install kannel when bearerbox or smsbox is
#                    missing (root only; non-interactive)
#   kannel_start     pick free ports, write $T_HOME/kannel/kannel.conf,
#                    start the three and wait until the SMSC is online and
#                    smsbox connected; sets KANNEL_MO_URL, KANNEL_MT_URL,
#                    KANNEL_SINK_URL, KANNEL_PIDS ("name:pid ...")
#   kannel_stop      SIGTERM to the three, bounded wait, SIGKILL after

KANNEL_BEARERBOX=""
KANNEL_SMSBOX=""

kannel_find() {
	local d
	KANNEL_BEARERBOX=$(command -v bearerbox 2>/dev/null)
	KANNEL_SMSBOX=$(command -v smsbox 2>/dev/null)
	for d in /usr/sbin /usr/local/sbin; do
		[ -z "$KANNEL_BEARERBOX" ] && [ -x "$d/bearerbox" ] &&
		    KANNEL_BEARERBOX=$d/bearerbox
		[ -z "$KANNEL_SMSBOX" ] && [ -x "$d/smsbox" ] &&
		    KANNEL_SMSBOX=$d/smsbox
	done
	[ -n "$KANNEL_BEARERBOX" ] && [ -n "$KANNEL_SMSBOX" ]
}

kannel_install() {
	local log=$T_HOME/apt-kannel.log
	kannel_find && return 0
	[ "$(id -u)" = 0 ] ||
	    bail "Kannel is not installed; as root: apt-get install kannel"
	echo "parley bench: installing Kannel (apt-get install kannel)" >&2
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends kannel </dev/null >"$log" 2>&1; then
		# an old or missing package list: update once, then again
		DEBIAN_FRONTEND=noninteractive apt-get update -q \
		    </dev/null >>"$log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		    --no-install-recommends kannel </dev/null >>"$log" 2>&1 ||
		    { tail -n 5 "$log" >&2; bail "apt-get install kannel failed"; }
	fi
	kannel_find || bail "kannel installed, but no bearerbox or smsbox"
}

kannel_up() {
	curl -fsS -m 2 "http://127.0.0.1:$K_ADMIN/status.txt?password=bench" \
	    2>/dev/null | grep -q "$1"
}

kannel_start() {
	local d=$T_HOME/kannel
	take_port K_ADMIN; take_port K_BOX; take_port K_MO
	take_port K_SEND; take_port K_SINK
	mkdir -p "$d"
	cat >"$d/kannel.conf" <<EOF
group = core
admin-port = $K_ADMIN
admin-password = bench
status-password = bench
admin-allow-ip = 127.0.0.1
smsbox-port = $K_BOX
box-allow-ip = 127.0.0.1
log-level = 3
log-file = "$d/bearerbox.log"
dlr-storage = internal

group = smsc
smsc = http
smsc-id = sink
system-type = kannel
port = $K_MO
connect-allow-ip = 127.0.0.1
smsc-username = bench
smsc-password = bench
send-url = "http://127.0.0.1:$K_SINK/kannel/send"
log-level = 3

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $K_BOX
sendsms-port = $K_SEND
log-level = 3
log-file = "$d/smsbox.log"

group = sendsms-user
username = bench
password = bench
max-messages = 1

group = sms-service
keyword = default
catch-all = yes
max-messages = 0
get-url = "http://127.0.0.1:$K_SINK/kannel/mo?from=%p&to=%P&text=%a"
EOF
	local sk bb sb
	"$PARLEY_TOOLS/sink" -p "$K_SINK" >"$d/sink.out" 2>&1 &
	sk=$!; bg_track "$sk"
	"$KANNEL_BEARERBOX" -v 4 "$d/kannel.conf" >"$d/bearerbox.out" 2>&1 &
	bb=$!; bg_track "$bb"
	KANNEL_PIDS="bearerbox:$bb sink:$sk"
	wait_for 30 kannel_up 'Status: running' ||
	    { tail -n 5 "$d/bearerbox.out" "$d/bearerbox.log" >&2
	      bail "bearerbox did not start"; }
	"$KANNEL_SMSBOX" -v 4 "$d/kannel.conf" >"$d/smsbox.out" 2>&1 &
	sb=$!; bg_track "$sb"
	KANNEL_PIDS="bearerbox:$bb smsbox:$sb sink:$sk"
	wait_for 30 kannel_up 'smsbox:.*on-line' &&
	    wait_for 30 kannel_up 'HTTP:kannel:.*(online' &&
	    wait_for 30 curl -sS -m 2 -o /dev/null \
	    "http://127.0.0.1:$K_SEND/" &&
	    wait_for 30 curl -fsS -m 2 -o /dev/null \
	    "http://127.0.0.1:$K_SINK/sink/received" ||
	    { tail -n 5 "$d"/*.out "$d"/*.log >&2; bail "Kannel did not start"; }
	KANNEL_MO_URL="http://127.0.0.1:$K_MO/sms"
	KANNEL_MT_URL="http://127.0.0.1:$K_SEND/cgi-bin/sendsms"
	KANNEL_SINK_URL="http://127.0.0.1:$K_SINK"
}

kannel_stop() {
	local np p
	for np in $KANNEL_PIDS; do
		kill -TERM "${np#*:}" 2>/dev/null
	done
	for np in $KANNEL_PIDS; do
		p=${np#*:}
		wait_for 15 proc_done "$p" || kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		bg_untrack "$p"
	done
	KANNEL_PIDS=""
}
