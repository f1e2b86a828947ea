#!/bin/sh
# run.sh — what `make run` runs: the whole stack (routerd, campaignd, smsd,
# whatsappd, messengerd, statsd and sandboxd standing in for Twilio and
# Meta) under runsvdir with ./var as PARLEY_HOME, in the foreground.  It
# makes the home (mk/mkhome.sh), starts runsvdir, waits until
# every daemon answers, prints how to use msg and the sandbox, and stays
# until Ctrl-C (SIGINT, SIGTERM or SIGHUP), which brings every service down
# (SIGTERM: each daemon drains), ends runsvdir and exits 0.  Daemons log to
# this terminal.
#
# Environment: SMSD_PORT (8083), WHATSAPPD_PORT (8081), MESSENGERD_PORT
# (8082), SANDBOX_PORT (8099), STATSD_PORT (8090),
# SMS_RATE (1000), WA_RATE (1000),
# BUILD (build) or PARLEY_BIN (<repo>/$BUILD/bin), READY_SECS (30).
set -u

repo=$(cd "$(dirname "$0")/.." && pwd -P)
home=$repo/var
BUILD=${BUILD:-build}
PARLEY_BIN=${PARLEY_BIN:-$repo/$BUILD/bin}
SMSD_PORT=${SMSD_PORT:-8083}
WHATSAPPD_PORT=${WHATSAPPD_PORT:-8081}
MESSENGERD_PORT=${MESSENGERD_PORT:-8082}
MG_PAGE=${MG_PAGE:-106540352242001}	# the sandbox's Page
MG_IG=${MG_IG:-17841400000000001}	# and its Instagram account
SANDBOX_PORT=${SANDBOX_PORT:-8099}
STATSD_PORT=${STATSD_PORT:-8090}
SMS_RATE=${SMS_RATE:-1000}
READY_SECS=${READY_SECS:-30}
SERVICES="routerd campaignd smsd whatsappd messengerd statsd sandboxd"
sandbox=http://127.0.0.1:$SANDBOX_PORT
pid=""

say() { echo "parley: $*"; }
die() { echo "parley: $*" >&2; exit 1; }

# Settings in the caller's environment would override ./var/parley.conf in
# the daemons (PARLEY_<KEY>); the home's file is the truth here.
for v in $(env | sed -n 's/^\(PARLEY_[A-Z0-9_]*\)=.*/\1/p'); do
	[ "$v" = PARLEY_BIN ] || unset "$v"
done
PARLEY_HOME=$home
export PARLEY_HOME PARLEY_BIN SMSD_PORT WHATSAPPD_PORT MESSENGERD_PORT \
    SANDBOX_PORT STATSD_PORT SMS_RATE MG_PAGE MG_IG

for t in runsvdir sv curl setsid; do
	command -v "$t" >/dev/null 2>&1 ||
	    die "$t is not installed (apt-get install runit curl util-linux)"
done
for d in $SERVICES msg; do
	[ -x "$PARLEY_BIN/$d" ] || die "$PARLEY_BIN/$d is not built; run make"
done

# Is a stack already running from ./var?  A live runsv answers sv status
# (even when its daemon is down), and a second runsv could not supervise.
for d in $SERVICES; do
	if sv status "$home/service/$d" >/dev/null 2>&1; then
		die "already running from $home (another make run?); stop it" \
		    "first: sv down $home/service/*; sv exit $home/service/*"
	fi
done
if "$PARLEY_BIN/msg" ping -q routerd >/dev/null 2>&1; then
	die "a routerd already answers on $home/run/routerd.sock; stop it first"
fi

# A port in use: curl connects (exit 7 means nothing listens there).
port_busy() {
	curl -s -o /dev/null -m 2 "http://127.0.0.1:$1/" 2>/dev/null
	[ $? -ne 7 ]
}
for p in "$SMSD_PORT:smsd:SMSD_PORT" "$WHATSAPPD_PORT:whatsappd:WHATSAPPD_PORT" \
    "$MESSENGERD_PORT:messengerd:MESSENGERD_PORT" \
    "$SANDBOX_PORT:sandboxd:SANDBOX_PORT" "$STATSD_PORT:statsd:STATSD_PORT"; do
	port=${p%%:*}; rest=${p#*:}; who=${rest%%:*}; var=${rest#*:}
	if port_busy "$port"; then
		echo "parley: port $port ($who) is already in use on 127.0.0.1:" >&2
		command -v ss >/dev/null 2>&1 &&
		    ss -ltnp "sport = :$port" 2>/dev/null | sed 's/^/    /' >&2
		die "stop what listens there, or choose another port:" \
		    "make run $var=<port>"
	fi
done

MKHOME_LOGS=terminal sh "$repo/mk/mkhome.sh" "$home" >/dev/null ||
    die "mk/mkhome.sh $home failed"

# Stop everything we started: services down (each daemon drains on
# SIGTERM), then runsvdir (so it restarts nothing), then each runsv.
stop() {
	trap '' INT TERM HUP
	echo
	say "stopping..."
	svcs=""
	for d in $SERVICES; do svcs="$svcs $home/service/$d"; done
	# shellcheck disable=SC2086
	if ! sv -w 15 down $svcs >/dev/null 2>&1; then
		say "a service did not stop within 15 s; killing it"
		sv kill $svcs >/dev/null 2>&1
	fi
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	for d in $svcs; do
		sv exit "$d" >/dev/null 2>&1
		[ -f "$d/log/run" ] && sv exit "$d/log" >/dev/null 2>&1
	done
	# runsv exits at once when told to; give it a moment to release
	n=0
	while [ $n -lt 50 ]; do
		alive=0
		for d in $svcs; do
			sv status "$d" >/dev/null 2>&1 && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
		n=$((n + 1))
	done
	say "stopped"
}

trap 'stop; exit 0' INT TERM HUP

# runsvdir in its own session, so that Ctrl-C reaches only this script,
# which then stops the services in order.
setsid runsvdir -P "$home/service" </dev/null &
pid=$!

ready() {
	# the daemons: msg ping; sandboxd: its health path
	for d in routerd campaignd smsd whatsappd messengerd statsd; do
		"$PARLEY_BIN/msg" ping -q -w "$READY_SECS" "$d" ||
		    { echo "parley: $d did not answer within ${READY_SECS}s" >&2
		      return 1; }
	done
	n=0
	until curl -fsS -o /dev/null -m 2 "$sandbox/sandbox/health" \
	    2>/dev/null; do
		n=$((n + 1))
		if [ $n -gt $((READY_SECS * 10)) ]; then
			echo "parley: sandboxd did not answer within" \
			    "${READY_SECS}s" >&2
			return 1
		fi
		sleep 0.1
	done
}

if ! ready; then
	echo "parley: the daemons' own messages are above" >&2
	stop
	exit 1
fi

cat <<EOF

parley is running: routerd, campaignd, statsd (wallboard on 127.0.0.1:$STATSD_PORT),
smsd (Twilio webhooks on 127.0.0.1:$SMSD_PORT), whatsappd (WhatsApp webhooks on
127.0.0.1:$WHATSAPPD_PORT), messengerd (Messenger and Instagram webhooks on
127.0.0.1:$MESSENGERD_PORT) and sandboxd (a local Twilio, WhatsApp Cloud API and
Messenger Platform) on 127.0.0.1:$SANDBOX_PORT; home $home.  Ctrl-C stops it.

In another terminal:

  export PARLEY_HOME=$home PATH=$PARLEY_BIN:\$PATH

  msg tail -f                  # every event as JSON Lines, as it happens
  msg inbox                    # open conversations, who is waiting

A simulated customer writes (sandboxd posts a signed webhook to smsd):

  curl -s -X POST $sandbox/sandbox/sms/inbound \\
      -d '{"from":"+15551234567","to":"+15557654321","body":"Hello"}'

A WhatsApp customer writes (sandboxd posts a signed Cloud API webhook):

  curl -s -X POST $sandbox/sandbox/whatsapp/inbound \\
      -d '{"from":"+15551234567","to":"106540352242922","name":"Ada","type":"text","text":"Hi"}'

A Messenger customer writes to the sandbox Page, and an Instagram customer to
its Instagram account (sandboxd posts signed webhooks; messengerd asks the
profile API for their names):

  curl -s -X POST $sandbox/sandbox/messenger/inbound \\
      -d '{"from":"6543210987654321","to":"$MG_PAGE","name":"Ada Lovelace","text":"Hi"}'
  curl -s -X POST $sandbox/sandbox/messenger/inbound \\
      -d '{"from":"987654321012345","to":"$MG_IG","name":"Grace","type":"image"}'

Answer in that conversation (CONV is the "conv" of the message, c_...):

  msg send --conv CONV 'Hi! How can I help?'

Or start a conversation yourself:

  msg send --to sms:+15551234567 --from +15557654321 'Your order has shipped'

Channel numbers and their tokens (a number turns inactive on error 190):

  msg channel status

The sandbox Page's token dies on request (190/463); messengerd then shows it
inactive (its chstatus on $home/run/messengerd.sock) until a new token is
read:

  curl -s -X POST $sandbox/sandbox/messenger/token -d '{"page":"$MG_PAGE"}'

Supervision: the wallboard at http://127.0.0.1:$STATSD_PORT/ (Prometheus text at
/metrics), the live board on this terminal, and the figures as JSON Lines:

  msg monitor
  msg stats -f

What the sandbox received (message creations, callbacks) as JSON Lines:

  curl -s $sandbox/sandbox/received

EOF

# Stay until a signal (the trap exits) or until runsvdir ends by itself.
while kill -0 "$pid" 2>/dev/null; do
	wait "$pid"
done
say "runsvdir exited unexpectedly"
pid=""
stop
exit 1
