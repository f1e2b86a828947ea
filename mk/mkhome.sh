#!/bin/sh
# mkhome.sh HOME — make a parley home for development and tests: the layout
# of DESIGN §7 under HOME, a parley.conf that points Twilio at sandboxd on
# this machine, random sandbox secrets (Twilio's auth token; WhatsApp's
# access token, app secret and verify token; Messenger's app secret, verify
# token and one Page's token), and runit service directories for routerd,
# campaignd, smsd, whatsappd, messengerd, statsd and sandboxd, ready for
# `runsvdir -P HOME/service`.
#
#   HOME/parley.conf                     regenerated on every run
#   HOME/secrets/                        0700
#   HOME/secrets/twilio_auth_token       0600, kept when it already exists
#   HOME/secrets/whatsapp_{token,app_secret,verify_token}   the same
#   HOME/secrets/messenger_{app_secret,verify_token}   the same
#   HOME/secrets/messenger/<PAGE-ID>     the sandbox Page's token, the same
#   HOME/run/  HOME/db/                  sockets, LMDB environments (the
#                                        daemons make db/<daemon>/ 0700)
#   HOME/spool/                          3730: files msg send --file hands over
#   HOME/service/<daemon>/run            runit run scripts
#   HOME/service/<daemon>/log/run        svlogd into log/main (MKHOME_LOGS=svlogd)
#   HOME/log/<daemon>                    -> ../service/<daemon>/log/main
#
# Environment: SMSD_PORT (8083), WHATSAPPD_PORT (8081), MESSENGERD_PORT
# (8082), SANDBOX_PORT (8099), STATSD_PORT (8090), MG_PAGE (106540352242001)
# and MG_IG (17841400000000001): the sandbox's Page and its Instagram account,
# SMS_RATE (1000), WA_RATE (1000), SANDBOX_WA_RATE (WA_RATE),
# SMS_BURST (SMS_RATE), PARLEY_BIN (<repo>/build/bin), MKHOME_LOGS: svlogd
# (default: each daemon's log in HOME/log/<daemon>/current) or terminal (no
# log services: daemons write to runsvdir's output, as `make run` wants).
# Idempotent: run it again to change ports or binaries; data is kept.
set -eu

usage() { echo "usage: SMSD_PORT=N SANDBOX_PORT=N sh mk/mkhome.sh HOME" >&2; exit 2; }
[ $# -eq 1 ] && [ -n "$1" ] || usage

repo=$(cd "$(dirname "$0")/.." && pwd -P)
SMSD_PORT=${SMSD_PORT:-8083}
WHATSAPPD_PORT=${WHATSAPPD_PORT:-8081}
MESSENGERD_PORT=${MESSENGERD_PORT:-8082}
MG_PAGE=${MG_PAGE:-106540352242001}
MG_IG=${MG_IG:-17841400000000001}
SANDBOX_PORT=${SANDBOX_PORT:-8099}
STATSD_PORT=${STATSD_PORT:-8090}
WA_RATE=${WA_RATE:-1000}
SANDBOX_WA_RATE=${SANDBOX_WA_RATE:-$WA_RATE}
SMS_RATE=${SMS_RATE:-1000}
SMS_BURST=${SMS_BURST:-$SMS_RATE}
PARLEY_BIN=${PARLEY_BIN:-$repo/build/bin}
MKHOME_LOGS=${MKHOME_LOGS:-svlogd}
SID=AC00000000000000000000000000000001

for v in "$SMSD_PORT" "$WHATSAPPD_PORT" "$MESSENGERD_PORT" "$SANDBOX_PORT" \
    "$STATSD_PORT" "$SMS_RATE" "$SMS_BURST" "$WA_RATE" "$SANDBOX_WA_RATE" \
    "$MG_PAGE" "$MG_IG"; do
	case $v in
	''|*[!0-9]*) echo "mkhome: not a number: '$v'" >&2; exit 2 ;;
	esac
done
case $MKHOME_LOGS in
svlogd|terminal) ;;
*) echo "mkhome: MKHOME_LOGS must be svlogd or terminal" >&2; exit 2 ;;
esac
case $PARLEY_BIN in
/*) ;;
*) PARLEY_BIN=$(pwd -P)/$PARLEY_BIN ;;
esac

mkdir -p "$1"
home=$(cd "$1" && pwd -P)
umask 022
mkdir -p "$home/run" "$home/db" "$home/log" "$home/service"
mkdir -p "$home/secrets" "$home/spool"
chmod 0700 "$home/secrets"
# The spool is a write-only drop (README, "Installing on a server"): its
# group (parleydrop on a server) may create files but neither list nor read
# them, setgid so every file gets that group, sticky so no one removes
# another's file.  msg makes each copy 0604: not even a fellow agent who
# knows the name can read it; the daemons, not in the group, can.  Here the
# group is yours, so it changes nothing for a development home.
chmod 3730 "$home/spool"

# The sandbox's auth token: Twilio's are 32 hex digits.  Kept across runs so
# that a running stack and scripts that signed with it stay valid.
tok=$home/secrets/twilio_auth_token
if [ ! -s "$tok" ]; then
	( umask 077
	  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$tok.tmp"
	  echo >>"$tok.tmp"
	  mv -f "$tok.tmp" "$tok" )
fi
chmod 0600 "$tok"

# The sandbox's WhatsApp secrets, made the same way and kept likewise.
for f in whatsapp_token whatsapp_app_secret whatsapp_verify_token; do
	w=$home/secrets/$f
	if [ ! -s "$w" ]; then
		( umask 077
		  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$w.tmp"
		  echo >>"$w.tmp"
		  mv -f "$w.tmp" "$w" )
	fi
	chmod 0600 "$w"
done

# The sandbox's Messenger secrets and its Page's token, likewise.
mkdir -p "$home/secrets/messenger"
chmod 0700 "$home/secrets/messenger"
for f in messenger_app_secret messenger_verify_token messenger/$MG_PAGE; do
	w=$home/secrets/$f
	if [ ! -s "$w" ]; then
		( umask 077
		  od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$w.tmp"
		  echo >>"$w.tmp"
		  mv -f "$w.tmp" "$w" )
	fi
	chmod 0600 "$w"
done

# parley.conf: written whole to a temporary file, then renamed into place.
conf=$home/parley.conf
cat >"$conf.tmp" <<EOF
# parley.conf for a development or test home, written by mk/mkhome.sh
# (regenerated on each run: change SMSD_PORT, SANDBOX_PORT, SMS_RATE there).
# Twilio is the local sandboxd; see parley.conf(5) for every key.
home = $home
twilio_api_url = http://127.0.0.1:$SANDBOX_PORT
twilio_account_sid = $SID
twilio_auth_token_file = secrets/twilio_auth_token
twilio_webhook_url = http://127.0.0.1:$SMSD_PORT
smsd_listen = 127.0.0.1:$SMSD_PORT
sms_rate = $SMS_RATE
sms_burst = $SMS_BURST
sandbox_listen = 127.0.0.1:$SANDBOX_PORT
sandbox_sms_inbound_url = http://127.0.0.1:$SMSD_PORT/twilio/inbound
whatsapp_api_url = http://127.0.0.1:$SANDBOX_PORT
whatsappd_listen = 127.0.0.1:$WHATSAPPD_PORT
whatsapp_rate = $WA_RATE
sandbox_whatsapp_webhook_url = http://127.0.0.1:$WHATSAPPD_PORT/whatsapp/webhook
sandbox_whatsapp_rate = $SANDBOX_WA_RATE
messenger_api_url = http://127.0.0.1:$SANDBOX_PORT
messengerd_listen = 127.0.0.1:$MESSENGERD_PORT
messenger_pages = $MG_PAGE:$MG_IG
sandbox_messenger_webhook_url = http://127.0.0.1:$MESSENGERD_PORT/messenger/webhook
statsd_listen = 127.0.0.1:$STATSD_PORT
EOF
mv -f "$conf.tmp" "$conf"

# One runit service directory per daemon.  A run script is replaced by
# rename so that a runsv reading it never sees half a file.
for d in routerd campaignd smsd whatsappd messengerd statsd sandboxd; do
	sd=$home/service/$d
	mkdir -p "$sd"
	cat >"$sd/run.tmp" <<EOF
#!/bin/sh
# $d for the parley home $home (made by mk/mkhome.sh)
exec 2>&1
umask 077
exec "$PARLEY_BIN/$d" -c "$conf"
EOF
	chmod 0755 "$sd/run.tmp"
	mv -f "$sd/run.tmp" "$sd/run"
	if [ "$MKHOME_LOGS" = svlogd ]; then
		mkdir -p "$sd/log/main"
		cat >"$sd/log/run.tmp" <<EOF
#!/bin/sh
# $d's log: $sd/log/main/current (svlogd rotates it)
exec svlogd -tt "$sd/log/main"
EOF
		chmod 0755 "$sd/log/run.tmp"
		mv -f "$sd/log/run.tmp" "$sd/log/run"
		ln -sfn "../service/$d/log/main" "$home/log/$d"
	else
		# no log service: a runsv already supervising log/ keeps
		# running until it is told to exit, so leave a stale one be
		rm -f "$sd/log/run"
		[ -d "$sd/log/supervise" ] || rm -rf "$sd/log"
		rm -f "$home/log/$d"
	fi
done

echo "mkhome: parley home ready in $home"
