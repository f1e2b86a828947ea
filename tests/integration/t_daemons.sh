#!/bin/bash
# t_daemons — what a sysadmin relies on: `-n` checks a configuration, a bad
# one exits 100 naming file:line, a secret readable by others is refused,
# SIGTERM drains and exits 0; `msg` exit codes (3 without a daemon, 2 for an
# unknown command, msg-foo from PATH runs as `msg foo`); and hostile frames
# on the bus sockets drop that client while the daemon keeps serving.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 37
stack_home
CONF=$T_HOME/parley.conf

# --- configuration checks
for d in routerd smsd sandboxd; do
	exits 0 "$d -n accepts the test configuration" "$d" -n -c "$CONF"
done
cp "$CONF" "$T_HOME/bad.conf"
echo "frobnicate = 1" >>"$T_HOME/bad.conf"
line=$(wc -l <"$T_HOME/bad.conf")
for d in routerd smsd sandboxd; do
	exits 100 "$d -n: an unknown key exits 100" "$d" -n -c "$T_HOME/bad.conf"
	like "$T_ERR" "bad\.conf:$line:" "$d names bad.conf:$line"
done
cp "$CONF" "$T_HOME/bad2.conf"
echo "this line has no equals sign" >>"$T_HOME/bad2.conf"
line=$(wc -l <"$T_HOME/bad2.conf")
exits 100 "a line without '=' exits 100" routerd -n -c "$T_HOME/bad2.conf"
like "$T_ERR" "bad2\.conf:$line:" "and names file:line"
is "$(grep -c . <<<"$T_ERR")" 1 "in one line"

chmod 0644 "$TOKEN_FILE"
exits 100 "smsd refuses a secret readable by others" smsd -n -c "$CONF"
like "$T_ERR" "twilio_auth_token|secret|mode|readable" "and says why"
chmod 0640 "$TOKEN_FILE"
exits 100 "smsd refuses a secret readable by the group" smsd -n -c "$CONF"
chmod 0600 "$TOKEN_FILE"
exits 0 "smsd accepts it at 0600" smsd -n -c "$CONF"

# --- msg without daemons
exits 3 "msg inbox with no routerd running exits 3" msg inbox
like "$T_ERR" 'routerd' "and names the daemon it could not reach"
exits 2 "msg frob (unknown, not on PATH) exits 2" msg frob
mkdir -p "$T_HOME/path"
printf '#!/bin/sh\necho "frob says $*"\n' >"$T_HOME/path/msg-frob"
chmod 0755 "$T_HOME/path/msg-frob"
exits 0 "msg frob runs msg-frob from PATH" env PATH="$T_HOME/path:$PATH" msg frob a b
is "$T_OUT" "frob says a b" "with its arguments"

stack_start

# --- SIGTERM: run each daemon in the foreground instead of runsv, drain, $?
# term_exit DAEMON READY_COMMAND: sets T_RC to the daemon's exit status.
term_exit() {
	local d=$1 ready=$2 pid
	svc_down "$d"
	"$d" -c "$CONF" >>"$T_HOME/$d.fg.log" 2>&1 </dev/null &
	pid=$!
	bg_track "$pid"
	if wait_for 20 $ready; then
		kill -TERM "$pid"
		wait_for 20 proc_done "$pid" || kill -KILL "$pid"
		wait "$pid"; T_RC=$?
	else
		kill -KILL "$pid" 2>/dev/null; wait "$pid"; T_RC=ready-timeout
	fi
	bg_untrack "$pid"
	sv -w 15 up "$(svc "$d")" >/dev/null 2>&1
}
term_exit routerd "msg ping -q -w 1 routerd"
is "$T_RC" 0 "routerd exits 0 on SIGTERM"
term_exit smsd "msg ping -q -w 1 smsd"
is "$T_RC" 0 "smsd exits 0 on SIGTERM"
term_exit sandboxd "curl -fsS -m 1 $SANDBOX_URL/sandbox/health"
is "$T_RC" 0 "sandboxd exits 0 on SIGTERM"
wait_ready 30

# --- hostile frames: the client is dropped, the daemon stays (same pid)
hostile() {
	local sock=$1 desc=$2 bytes=$3 out
	out=$(printf "$bytes" | "$PARLEY_TOOLS/loadgen" raw -s "$sock" -w 5000 2>&1)
	is "$out" closed "$desc: the client is dropped"
}
R=$T_HOME/run/routerd.sock
RPID=$(sv_pid routerd)
# The control: a well-formed ping keeps the connection open.
out=$(printf '\000\000\000\014\202\241t\244ping\242id\001' |
    "$PARLEY_TOOLS/loadgen" raw -s "$R" -w 1000 2>&1)
is "$out" open "a well-formed frame keeps the connection (the control)"
hostile "$R" "length 0xFFFFFFFF" '\377\377\377\377'
hostile "$R" "length just over 1 MiB" '\000\020\000\001'
hostile "$R" "a map claiming 2^32-1 entries" '\000\000\000\005\337\377\377\377\377'
hostile "$R" "an array claiming 2^32-1 entries" \
    '\000\000\000\010\201\241a\335\377\377\377\377'
deep=$(for i in $(seq 40); do printf '\\201\\241a'; done; printf '\\300')
hostile "$R" "maps nested 40 deep" "\\000\\000\\000\\171$deep"
hostile "$R" "a frame that is not a map" '\000\000\000\001\001'
hostile "$R" "a reserved msgpack byte" '\000\000\000\003\201\301\300'
is "$(sv_pid routerd)" "$RPID" "routerd did not crash or restart"
ok "routerd still answers msg ping" msg ping -q -w 5 routerd
S=$T_HOME/run/smsd.sock
SPID=$(sv_pid smsd)
hostile "$S" "smsd: length 0xFFFFFFFF" '\377\377\377\377'
hostile "$S" "smsd: a map claiming 2^32-1 entries" '\000\000\000\005\337\377\377\377\377'
is "$(sv_pid smsd)" "$SPID" "smsd did not crash or restart"

done_testing
