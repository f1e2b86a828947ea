# tests/integration/lib.sh — sourced by every integration test and by
# tests/bench/bench.sh.  It starts the real daemons (routerd, campaignd,
# smsd, whatsappd, messengerd, statsd, sandboxd)
# under runsvdir in a temporary PARLEY_HOME made by mk/mkhome.sh, waits until
# each one serves, and tears everything down again on exit, whatever happens
# (in a sanitizer build, a sanitizer report any of them left fails the test).
# It also holds the TAP helpers (plan, ok, is, like, ...), bounded waits
# (every wait polls with a deadline; nothing sleeps and hopes), a Twilio
# webhook signer written independently of lib/sig.c (openssl), and helpers
# for sandboxd's /sandbox/ control paths and for `msg tail`.
#
# Environment: PARLEY_SRC (the source tree), PARLEY_BIN (build/bin),
# SMSD_PORT / WHATSAPPD_PORT / MESSENGERD_PORT / SANDBOX_PORT / STATSD_PORT
# (test ports; by default free ones picked at random, so that a `make run`
# on 8083 / 8081 / 8082 / 8099 / 8090 and other test runs on this machine
# can run beside; a port another program takes before our daemon binds it
# is replaced, see stack_start), SMS_RATE, WA_RATE, SANDBOX_WA_RATE,
# PARLEY_KEEP=1 keeps the temporary home for a post-mortem.

set -u

PARLEY_SRC=${PARLEY_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
PARLEY_BIN=${PARLEY_BIN:-$PARLEY_SRC/build/bin}
PARLEY_TOOLS=${PARLEY_TOOLS:-${PARLEY_BIN%/}/../tools}
export PARLEY_SRC PARLEY_BIN
PATH=$PARLEY_BIN:$PATH
export PATH
# MEM_FACTOR: 4 in a sanitizer build (make asan), else 1.  ASan adds shadow
# memory and keeps freed memory in quarantine, which are not the program's:
# tests that bound a program's memory multiply their bound by it.  The
# quarantine (256 MiB by default, more than any bound here) is held to
# 16 MiB, still enough to catch a use after a recent free.
MEM_FACTOR=1
if ldd "$PARLEY_BIN/routerd" 2>/dev/null | grep -q libasan; then
	MEM_FACTOR=4
	case ${ASAN_OPTIONS:-} in
	*quarantine_size_mb=*) ;;
	*) export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16 ;;
	esac
fi

# Settings from the caller's environment must not leak into the test stack.
for _v in $(env | sed -n 's/^\(PARLEY_[A-Z0-9_]*\)=.*/\1/p'); do
	case $_v in
	PARLEY_SRC|PARLEY_BIN|PARLEY_TOOLS|PARLEY_KEEP) ;;
	*) unset "$_v" ;;
	esac
done
unset _v

# ------------------------------------------------------------------ TAP

T_NUM=0
T_FAILED=0
T_PLAN=""

plan() { T_PLAN=$1; echo "1..$1"; }

# diag LINE...: diagnostics, one "# " line each (stdin too with -).
diag() {
	if [ "${1:-}" = - ]; then
		sed 's/^/# /'
	else
		printf '%s\n' "$@" | sed 's/^/# /'
	fi
}

pass() { T_NUM=$((T_NUM + 1)); echo "ok $T_NUM - $1"; }

# fail DESC [DIAG...]: returns 1, as do ok/is/like/exits on failure, so
# that a test can add diagnostics with ||.
fail() {
	T_NUM=$((T_NUM + 1)); T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_NUM - $1"
	shift
	[ $# -gt 0 ] && diag "$@"
	return 1
}

# ok DESC COMMAND [ARG...]: passes when COMMAND exits 0.
ok() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$desc"
	else
		fail "$desc" "command: $*" "exit: $rc" "${out:0:2000}"
	fi
}

# is GOT EXPECTED DESC
is() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		fail "$3" "     got: '$1'" "expected: '$2'"
	fi
}

# like GOT EXTENDED_REGEX DESC
like() {
	if [[ $1 =~ $2 ]]; then
		pass "$3"
	else
		fail "$3" "     got: '${1:0:2000}'" "expected to match: /$2/"
	fi
}

# exits CODE DESC COMMAND [ARG...]: COMMAND exits with CODE; its stderr is
# kept in T_ERR and stdout in T_OUT for further checks.
T_OUT="" T_ERR=""
exits() {
	local want=$1 desc=$2 rc ef
	shift 2
	ef=$(mktemp)
	T_OUT=$("$@" 2>"$ef" </dev/null) && rc=0 || rc=$?
	T_ERR=$(cat "$ef"); rm -f "$ef"
	if [ "$rc" = "$want" ]; then
		pass "$desc"
	else
		fail "$desc" "command: $*" "exit: $rc, expected $want" \
		    "stdout: ${T_OUT:0:1000}" "stderr: ${T_ERR:0:1000}"
	fi
}

skip() { T_NUM=$((T_NUM + 1)); echo "ok $T_NUM # SKIP $1"; }

skip_all() { echo "1..0 # SKIP $1"; T_PLAN=0; exit 0; }

# bail WHY: stop the whole file (cleanup runs from the EXIT trap).
bail() {
	echo "Bail out! $1"
	T_FAILED=$((T_FAILED + 1))
	exit 1
}

# The exit status of a test file: non-zero on any failure or a plan mismatch.
t_status() {
	if [ "$T_PLAN" = none ]; then
		:
	elif [ -z "$T_PLAN" ]; then
		echo "1..$T_NUM"
	elif [ "$T_PLAN" != "$T_NUM" ] && [ "$T_PLAN" != 0 ] &&
	    [ "$T_NUM" -gt 0 ]; then
		echo "# planned $T_PLAN tests but ran $T_NUM"
		return 1
	fi
	[ "$T_FAILED" -eq 0 ]
}

# --------------------------------------------------------- bounded waits

# now_ms: wall-clock milliseconds.
now_ms() { date +%s%3N; }

# wait_for SECONDS COMMAND [ARG...]: run COMMAND every 0.1 s until it exits
# 0 (returns 0) or SECONDS pass (returns 1).
wait_for() {
	local limit=$(( $(now_ms) + $1 * 1000 ))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(now_ms)" -ge "$limit" ] && return 1
		sleep 0.1
	done
}

# proc_done PID: the process has exited (gone, or a zombie not yet waited
# for; kill -0 cannot tell the two apart).
proc_done() {
	[ ! -e "/proc/$1" ] || grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}

# ------------------------------------------------- throwaway Unix users
# Agents run msg as their own Unix users.  Tests that act as one make a
# throwaway system user, give it exactly what an agent has (search on the
# home and run/, the sockets, parley.conf, and a copy of msg and the test
# helpers it runs in $T_HOME/bin: build/bin may sit under a 0700 home such
# as /root), and run commands as it with setpriv.  Every such user, and any
# process it still runs, is removed when the test file ends.
#
#   tuser_ok             root, useradd, userdel and setpriv are here
#   tuser_add NAME       make NAME (after stack_start); its uid in TUSER_UID
#   as_user [-G GID] NAME CMD...
#                        run CMD as NAME (-G: in group GID too, as an agent
#                        in parleydrop); with exec in a subshell the PID
#                        of `as_user ... &` is CMD's own (so kill ends it)
T_USERS=""
tuser_ok() {
	[ "$(id -u)" = 0 ] && command -v useradd >/dev/null 2>&1 &&
	    command -v userdel >/dev/null 2>&1 &&
	    command -v setpriv >/dev/null 2>&1
}
tuser_access() {
	local f
	chmod 0711 "$T_HOME" "$T_HOME/run"
	chmod 0644 "$T_HOME/parley.conf"
	for f in "$T_HOME"/run/*.sock; do
		[ -S "$f" ] && chmod 0666 "$f"
	done
	if [ ! -x "$T_HOME/bin/msg" ]; then
		mkdir -p "$T_HOME/bin"
		cp "$PARLEY_BIN/msg" "$T_HOME/bin/msg"
		[ -x "$PARLEY_TOOLS/bustool" ] &&
		    cp "$PARLEY_TOOLS/bustool" "$T_HOME/bin/bustool"
		[ -d "$PARLEY_SRC/tests/integration/bots" ] &&
		    cp "$PARLEY_SRC"/tests/integration/bots/* "$T_HOME/bin/" 2>/dev/null
		chmod -R a+rX "$T_HOME/bin"
		chmod 0711 "$T_HOME/bin"
	fi
}
tuser_add() {
	useradd -M -r -s /usr/sbin/nologin "$1" >/dev/null 2>&1 ||
	    bail "useradd $1 failed"
	T_USERS="$T_USERS $1"
	TUSER_UID=$(id -u "$1")
	tuser_access
}
as_user() {
	local u groups=--clear-groups
	if [ "$1" = -G ]; then
		groups=--groups=$2
		shift 2
	fi
	u=$1
	shift
	( exec setpriv --reuid="$u" --regid="$(id -g "$u")" "$groups" \
	    env PATH="$T_HOME/bin:/usr/bin:/bin" PARLEY_CONF="$PARLEY_CONF" "$@" )
}
tuser_cleanup() {
	local u
	for u in $T_USERS; do
		pkill -KILL -u "$u" 2>/dev/null
		wait_for 5 sh -c "! pgrep -u $u >/dev/null" 
		userdel "$u" >/dev/null 2>&1 ||
		    echo "# userdel $u failed"
	done
	T_USERS=""
}

# ------------------------------------------------------------- the stack

T_HOME=""
T_RUNSVDIR=""
T_BG=""		# other processes a test started in the background

# bg_track PID: end PID (if still running) when the test file exits.
# bg_untrack PID: PID was waited for (its number may be reused: forget it).
bg_track() { T_BG="$T_BG $1"; }
bg_untrack() { T_BG=$(tr ' ' '\n' <<<"$T_BG" | grep -vx "$1" | tr '\n' ' '); }
SERVICES="routerd campaignd smsd whatsappd messengerd statsd sandboxd"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port [PREFERRED]: PREFERRED if given and nobody listens there, else
# a free port picked at random in 20000-32767 (below Linux's ephemeral
# ports).  Random, not fixed: test runs side by side on one machine would
# all try the same fixed ports at the same moment.  Never one of T_PORTS,
# the ports this test has taken (take_port): a daemon not yet listening
# would otherwise share its port with another, and moving one would move
# both.
T_PORTS=""
free_port() {
	local p=${1:-} tries=0
	[ -n "$p" ] || p=$((20000 + RANDOM % 12768))
	while port_busy "$p" || [[ " $T_PORTS " == *" $p "* ]]; do
		tries=$((tries + 1))
		[ $tries -gt 50 ] && break
		p=$((20000 + RANDOM % 12768))
	done
	echo "$p"
}

# take_port VAR [PREFERRED]: VAR set to free_port's pick, which joins
# T_PORTS (VAR may be an array element, "NATS_PORT[1]").
take_port() {
	local _p
	_p=$(free_port "${2:-}")
	printf -v "$1" %s "$_p"
	T_PORTS="$T_PORTS $_p"
}

# port_state SERVICE PORT: "ours" when SERVICE's daemon listens on
# 127.0.0.1:PORT, "taken" when another process does, "free" otherwise
# (read from /proc/net/tcp and the daemon's open files, so no ss and no
# root needed for our own processes).
port_state() {
	local pid hex ino found=free
	hex=$(printf '%04X' "$2")
	pid=$(sv_pid "$1")
	for ino in $(awk -v p=":$hex" '$4 == "0A" &&
	    substr($2, length($2) - 4) == p { print $10 }' \
	    /proc/net/tcp /proc/net/tcp6 2>/dev/null); do
		found=taken
		if [ -n "$pid" ] &&
		    ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "socket:\[$ino\]"; then
			echo ours
			return
		fi
	done
	echo "$found"
}

# conf_get KEY [DEFAULT]: a value from the test home's parley.conf.
conf_get() {
	local v
	v=$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" \
	    "$T_HOME/parley.conf" | tail -n 1 | sed 's/[[:space:]]*$//')
	echo "${v:-${2:-}}"
}

# conf_set KEY VALUE: set a key in the test home's parley.conf (before start).
conf_set() {
	sed -i "/^[[:space:]]*$1[[:space:]]*=/d" "$T_HOME/parley.conf"
	echo "$1 = $2" >>"$T_HOME/parley.conf"
}

svc() { echo "$T_HOME/service/$1"; }

# sv_pid SERVICE: the daemon's PID per runsv, empty when it is not running.
sv_pid() {
	sv status "$(svc "$1")" 2>/dev/null |
	    sed -n 's/^run: [^(]*(pid \([0-9]*\)).*/\1/p'
}

# Stopping and restarting a daemon: with a plain SIGTERM, never `sv down`,
# `sv restart` or `sv force-stop`, which follow the SIGTERM with a SIGCONT.
# In a sanitizer build the daemon's exit runs LeakSanitizer, whose
# stop-the-world attaches to the daemon with ptrace (a SIGSTOP); a SIGCONT
# sent before that SIGSTOP is taken discards it (signal(7)), and the tracer
# then waits for ever for a stop that will not come: the daemon never exits
# (make asan hung so in t_bot's restart of routerd, about one run in three).
#   svc_down SERVICE [SECONDS]     stop it (runsv leaves it down: sv once)
#   svc_restart SERVICE [SECONDS]  stop it; runsv starts it again (new pid)
# Both return 0 once that happened, 1 after SECONDS (15, 20).  sv up
# signals no running daemon and is used as it is.
svc_is_down() { sv status "$(svc "$1")" 2>/dev/null | grep -q '^down: '; }
svc_restarted() { local p; p=$(sv_pid "$1"); [ -n "$p" ] && [ "$p" != "$2" ]; }
svc_down() {
	local pid
	svc_is_down "$1" && return 0
	sv once "$(svc "$1")" >/dev/null 2>&1 || return 1
	pid=$(sv_pid "$1")
	[ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null
	wait_for "${2:-15}" svc_is_down "$1"
}
svc_restart() {
	local pid
	pid=$(sv_pid "$1")
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || return 1
	wait_for "${2:-20}" svc_restarted "$1" "$pid"
}

# stack_home: make the temporary home (mk/mkhome.sh) without starting it,
# so that a test can change the configuration first.
stack_home() {
	local s
	for s in runsvdir sv curl jq; do
		command -v "$s" >/dev/null 2>&1 || skip_all "$s is not installed"
	done
	for s in $SERVICES msg; do
		[ -x "$PARLEY_BIN/$s" ] || bail "$PARLEY_BIN/$s is not built"
	done
	MKHOME=${MKHOME:-$PARLEY_SRC/mk/mkhome.sh}
	[ -f "$MKHOME" ] || bail "$MKHOME is missing"
	T_HOME=$(mktemp -d "${TMPDIR:-/tmp}/parley-t.XXXXXX") ||
	    bail "mktemp failed"
	take_port SMSD_PORT "${SMSD_PORT:-}"
	take_port WHATSAPPD_PORT "${WHATSAPPD_PORT:-}"
	take_port MESSENGERD_PORT "${MESSENGERD_PORT:-}"
	take_port SANDBOX_PORT "${SANDBOX_PORT:-}"
	take_port STATSD_PORT "${STATSD_PORT:-}"
	SMS_RATE=${SMS_RATE:-1000}
	WA_RATE=${WA_RATE:-1000}
	SANDBOX_WA_RATE=${SANDBOX_WA_RATE:-$WA_RATE}
	export SMSD_PORT WHATSAPPD_PORT MESSENGERD_PORT SANDBOX_PORT STATSD_PORT \
	    SMS_RATE WA_RATE SANDBOX_WA_RATE
	sh "$MKHOME" "$T_HOME" >"$T_HOME/mkhome.log" 2>&1 ||
	    { cat "$T_HOME/mkhome.log" | diag -; bail "$MKHOME $T_HOME failed"; }
	for s in $SERVICES; do
		[ -x "$(svc "$s")/run" ] || bail "mkhome made no $(svc "$s")/run"
	done
	export PARLEY_CONF=$T_HOME/parley.conf
	stack_urls
	WA_SECRET_FILE=$T_HOME/secrets/whatsapp_app_secret
	WA_TOKEN_FILE=$T_HOME/secrets/whatsapp_token
	WA_VERIFY_FILE=$T_HOME/secrets/whatsapp_verify_token
	MG_SECRET_FILE=$T_HOME/secrets/messenger_app_secret
	MG_VERIFY_FILE=$T_HOME/secrets/messenger_verify_token
	MG_PAGE=$(conf_get messenger_pages | sed 's/[:, ].*//')
	MG_IG=$(conf_get messenger_pages | sed -n 's/^[0-9]*:\([0-9]*\).*/\1/p')
	MG_TOKEN_FILE=$T_HOME/secrets/messenger/$MG_PAGE
	ROUTERD_SOCK=$T_HOME/run/routerd.sock
	TOKEN_FILE=$(conf_get twilio_auth_token_file secrets/twilio_auth_token)
	case $TOKEN_FILE in /*) ;; *) TOKEN_FILE=$T_HOME/$TOKEN_FILE ;; esac
	ACCOUNT_SID=$(conf_get twilio_account_sid AC00000000000000000000000000000001)
}

# stack_urls: the daemons' URLs, from the ports and parley.conf.
stack_urls() {
	SMSD_URL="http://127.0.0.1:$SMSD_PORT"
	SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"
	WA_URL="http://127.0.0.1:$WHATSAPPD_PORT"
	MG_URL="http://127.0.0.1:$MESSENGERD_PORT"
	STATSD_URL="http://127.0.0.1:$STATSD_PORT"
	WEBHOOK_BASE=$(conf_get twilio_webhook_url "$SMSD_URL")
	WEBHOOK_BASE=${WEBHOOK_BASE%/}
}

# wait_ready SECONDS: every daemon answers (msg ping, sandbox health).
wait_ready() {
	local t=${1:-30} s
	for s in routerd campaignd smsd whatsappd messengerd statsd; do
		wait_for "$t" msg ping -q -w 1 "$s" ||
		    { bail "$s did not answer msg ping within ${t}s"; }
	done
	wait_for "$t" curl -fsS -m 2 "$SANDBOX_URL/sandbox/health" ||
	    { bail "sandboxd /sandbox/health did not answer within ${t}s"; }
}

# stack_listening SECONDS: smsd, whatsappd, messengerd, statsd and sandboxd
# each listen on
# their port (returns 0); or another program took one of the ports between
# free_port and the daemon's bind (another test run on this machine: then
# the daemon cannot start, or a stranger answers in its place): that port
# is replaced by a free one in parley.conf and the five are restarted
# (returns 2); or SECONDS passed (returns 1).
stack_listening() {
	local limit=$(( $(now_ms) + $1 * 1000 )) s v st old new moved
	while :; do
		moved="" st=ours
		for s in smsd:SMSD_PORT whatsappd:WHATSAPPD_PORT \
		    messengerd:MESSENGERD_PORT statsd:STATSD_PORT \
		    sandboxd:SANDBOX_PORT; do
			v=${s#*:} s=${s%%:*}
			case $(port_state "$s" "${!v}") in
			ours) ;;
			taken)
				old=${!v}
				take_port new
				sed -i "s/127\.0\.0\.1:$old\([^0-9]\|\$\)/127.0.0.1:$new\1/g" \
				    "$T_HOME/parley.conf"
				printf -v "$v" %s "$new"
				export "$v"
				moved="$moved $s:$old->$new"
				;;
			*) st=waiting ;;
			esac
		done
		if [ -n "$moved" ]; then
			echo "# ports taken by another program, moved:$moved"
			stack_urls
			for s in smsd whatsappd messengerd statsd sandboxd; do
				svc_restart "$s" 15
			done
			return 2
		fi
		[ "$st" = ours ] && return 0
		[ "$(now_ms)" -ge "$limit" ] && return 1
		sleep 0.1
	done
}

# stack_start: stack_home (unless done) then runsvdir, then wait until the
# daemons listen on their own ports (moving a port another program took)
# and wait_ready.
stack_start() {
	local try=0 rc
	[ -n "$T_HOME" ] || stack_home
	runsvdir -P "$T_HOME/service" >"$T_HOME/runsvdir.log" 2>&1 </dev/null &
	T_RUNSVDIR=$!
	while :; do
		stack_listening 30 && rc=0 || rc=$?
		[ "$rc" = 2 ] && [ $((try += 1)) -lt 5 ] && continue
		[ "$rc" = 0 ] || bail "smsd, whatsappd and sandboxd did not all listen on their ports"
		break
	done
	wait_ready 30
}

# stack_diag: the end of every log, as TAP diagnostics.
stack_diag() {
	local f s
	for s in $SERVICES; do
		diag "sv status: $(sv status "$(svc "$s")" 2>&1)"
	done
	for f in "$T_HOME"/runsvdir.log "$T_HOME"/service/*/log/main/current; do
		[ -s "$f" ] || continue
		diag "--- tail $f"
		tail -n 30 "$f" | diag -
	done
}

# stack_sanitized: in a sanitizer build (make asan) a daemon's report goes
# to its log and a background program's to the file its stderr went to;
# none may hold one.  Each report found is shown and fails the test file.
SAN_REPORT='==[0-9]+==ERROR: [A-Za-z]+Sanitizer|: runtime error: '
stack_sanitized() {
	local f
	for f in $(grep -rIlE --exclude-dir=db --exclude-dir=spool \
	    "$SAN_REPORT" "$T_HOME" 2>/dev/null); do
		grep -E -A 10 "$SAN_REPORT" "$f" | head -n 12 | diag -
		echo "# a sanitizer report in ${f#"$T_HOME"/} (above)"
		T_FAILED=$((T_FAILED + 1))
	done
}

# stack_stop: bring every service down, end runsvdir and its runsv children
# (all started by us), remove the home.  The EXIT trap; keeps the status.
stack_stop() {
	local rc=$? s pids="" runsvs p d
	trap - EXIT
	for p in $T_BG; do
		proc_done "$p" || kill -TERM "$p" 2>/dev/null
	done
	tuser_cleanup
	[ "$T_FAILED" -gt 0 ] && [ -n "$T_HOME" ] && [ -n "$T_RUNSVDIR" ] &&
	    stack_diag
	if [ -n "$T_RUNSVDIR" ]; then
		for s in $SERVICES; do
			p=$(sv_pid "$s"); [ -n "$p" ] && pids="$pids $p"
		done
		runsvs=$(ps -o pid= --ppid "$T_RUNSVDIR" 2>/dev/null)
		# all at once, each with a plain SIGTERM (see svc_down); one
		# still running after its drain_timeout and more is killed
		for d in "$T_HOME"/service/*/; do
			s=${d%/} s=${s##*/}
			svc_is_down "$s" && continue
			sv once "$d" >/dev/null 2>&1
			p=$(sv_pid "$s")
			[ -n "$p" ] && kill -TERM "$p" 2>/dev/null
		done
		for d in "$T_HOME"/service/*/; do
			s=${d%/} s=${s##*/}
			wait_for 20 svc_is_down "$s" && continue
			echo "# $s did not exit within 20 s of SIGTERM; killing it"
			T_FAILED=$((T_FAILED + 1))
			sv kill "$d" >/dev/null 2>&1
		done
		for d in "$T_HOME"/service/*/; do
			sv exit "$d" >/dev/null 2>&1
			[ -d "$d/log" ] && sv exit "$d/log" >/dev/null 2>&1
		done
		kill -HUP "$T_RUNSVDIR" 2>/dev/null
		d=$(( $(now_ms) + 10000 ))
		while kill -0 "$T_RUNSVDIR" 2>/dev/null &&
		    [ "$(now_ms)" -lt "$d" ]; do sleep 0.1; done
		kill -KILL "$T_RUNSVDIR" 2>/dev/null
		wait "$T_RUNSVDIR" 2>/dev/null
		for p in $runsvs; do
			wait_for 10 proc_done "$p" || kill -KILL "$p" 2>/dev/null
		done
		for p in $pids; do
			if kill -0 "$p" 2>/dev/null; then
				echo "# daemon pid $p still running after stop; killing it"
				kill -KILL "$p" 2>/dev/null
			fi
		done
	fi
	[ -n "$T_HOME" ] && stack_sanitized
	if [ -n "$T_HOME" ]; then
		if [ "${PARLEY_KEEP:-0}" = 1 ]; then
			echo "# kept $T_HOME"
		else
			rm -rf "$T_HOME"
		fi
	fi
	t_status || { [ "$rc" -eq 0 ] && rc=1; }
	exit "$rc"
}

trap stack_stop EXIT
trap 'exit 130' INT TERM HUP

# done_testing: end of a test file (the EXIT trap does the rest).
done_testing() { exit 0; }

# ------------------------------------------------------------ webhooks

# urlencode STRING: application/x-www-form-urlencoded form of STRING.
urlencode() {
	local LC_ALL=C s=$1 out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[a-zA-Z0-9._~-]) out+=$c ;;
		' ') out+=+ ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

# tw_sign URL NAME=VALUE...: X-Twilio-Signature (providers.md §3.4): the URL,
# then each name and value sorted by name then value, HMAC-SHA1 with the
# auth token, base64.  Independent of lib/sig.c on purpose.
tw_sign() {
	local url=$1 data
	shift
	data=$url$(printf '%s\n' "$@" | LC_ALL=C sort -t= -k1,1 -k2 |
	    sed 's/=//' | tr -d '\n')
	printf '%s' "$data" |
	    openssl dgst -sha1 -hmac "$(cat "$TOKEN_FILE")" -binary | base64
}

# tw_body NAME=VALUE...: the encoded form body.
tw_body() {
	local p sep="" out=""
	for p in "$@"; do
		out+="$sep$(urlencode "${p%%=*}")=$(urlencode "${p#*=}")"
		sep="&"
	done
	printf '%s' "$out"
}

# tw_post PATH SIG NAME=VALUE...: POST a form to smsd at PATH with signature
# SIG ("-" computes the right one, "" sends none).  Prints the HTTP status
# (000 when smsd could not be reached); tw_answer prints the answer's body.
tw_post() {
	local path=$1 sig=$2
	shift 2
	[ "$sig" = - ] && sig=$(tw_sign "$WEBHOOK_BASE$path" "$@")
	tw_post_raw "$path" "$sig" "$(tw_body "$@")"
}

# tw_post_raw PATH SIG BODY: POST BODY as it is.
tw_post_raw() {
	local code f=$T_HOME/answer.$BASHPID
	code=$(curl -s -m 20 -o "$f" -w '%{http_code}' \
	    -H 'Content-Type: application/x-www-form-urlencoded' \
	    ${2:+-H "X-Twilio-Signature: $2"} --data-binary "$3" \
	    "$SMSD_URL$1")
	echo "${code:-000}"
	mv -f "$f" "$T_HOME/answer" 2>/dev/null
}
tw_answer() { cat "$T_HOME/answer" 2>/dev/null; }

# sm_sid: a fresh MessageSid (SM + 32 hex).
sm_sid() { echo "SM$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"; }

# inbound_params SID FROM TO BODY: the form Twilio posts for an inbound SMS.
inbound_params() {
	printf '%s\n' "MessageSid=$1" "SmsSid=$1" "SmsMessageSid=$1" \
	    "AccountSid=$ACCOUNT_SID" "From=$2" "To=$3" "Body=$4" \
	    "NumMedia=0" "NumSegments=1" "SmsStatus=received" \
	    "ApiVersion=2010-04-01"
}

# ------------------------------------------------------------- WhatsApp

# wa_sign BODY: X-Hub-Signature-256 of BODY with the app secret
# (providers.md §1.4), by openssl: independent of lib/sig.c.
wa_sign() {
	printf '%s' "$1" | openssl dgst -sha256 -hmac "$(cat "$WA_SECRET_FILE")" |
	    sed 's/^.*= */sha256=/'
}

# wa_post BODY [SIG]: POST BODY to whatsappd's webhook, signed ("-" or
# absent: the right signature; "" none).  Prints the HTTP status.
wa_post() {
	local sig=${2--} code f=$T_HOME/answer.$BASHPID
	[ "$sig" = - ] && sig=$(wa_sign "$1")
	code=$(curl -s -m 20 -o "$f" -w '%{http_code}' \
	    -H 'Content-Type: application/json' \
	    ${sig:+-H "X-Hub-Signature-256: $sig"} --data-binary "$1" \
	    "$WA_URL/whatsapp/webhook")
	echo "${code:-000}"
	mv -f "$f" "$T_HOME/answer" 2>/dev/null
}

# wa_text FROM(wa_id digits) PHONE_NUMBER_ID WAMID TEXT [NAME] [TS]: Meta's
# notification of one inbound text (providers.md §1.4).
wa_text() {
	jq -nc --arg f "$1" --arg p "$2" --arg id "$3" --arg b "$4" \
	    --arg n "${5:-Ada}" --arg ts "${6:-$(date +%s)}" '{
	  object: "whatsapp_business_account",
	  entry: [{ id: "102290129340398", changes: [{ field: "messages",
	    value: { messaging_product: "whatsapp",
	      metadata: { display_phone_number: "15550783881",
	        phone_number_id: $p },
	      contacts: [{ profile: { name: $n }, wa_id: $f }],
	      messages: [{ from: $f, id: $id, timestamp: $ts, type: "text",
	        text: { body: $b } }] } }] }] }'
}

# wamid: a fresh WhatsApp message id.
wamid() { echo "wamid.HBgL$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')"; }

# sb_wa JSON: a simulated WhatsApp customer writes (POST
# /sandbox/whatsapp/inbound); prints the body and the status line.
sb_wa() { sb_post /sandbox/whatsapp/inbound "$1"; }

# sb_wa_taken JSON: a simulated customer writes (as sb_wa) and whatsappd
# takes it, answering Meta 200.  whatsappd answers 503 while it is not on
# routerd, e.g. in its reconnect backoff (up to 5 s) after a routerd
# restart; Meta then delivers again, as "wait_for S sb_wa_taken JSON" does.
sb_wa_taken() {
	[ "$(sb_wa "$1" | head -n 1 | jq -r '.status // 0')" = 200 ]
}

# sb_wa_sends [JQ_SELECT]: the Cloud API message sends sandboxd received.
sb_wa_sends() {
	sb_get '/sandbox/received?api=whatsapp' | jq -c "
	    select((.kind // \"\") != \"webhook\" and
	    ((.path // \"\") | endswith(\"/messages\"))) | select(${1:-true})"
}

# wait_wa SECONDS JQ_SELECT [N]: wait for N (1) matching sends; print them.
wait_wa() {
	local limit=$(( $(now_ms) + $1 * 1000 )) out n
	while :; do
		out=$(sb_wa_sends "$2" 2>/dev/null)
		n=$(grep -c . <<<"$out")
		[ "$n" -ge "${3:-1}" ] && { echo "$out"; return 0; }
		[ "$(now_ms)" -ge "$limit" ] && { echo "$out"; return 1; }
		sleep 0.2
	done
}

# ------------------------------------------------------------ Messenger

# mg_sign BODY: X-Hub-Signature-256 of BODY with Messenger's app secret, by
# openssl (independent of lib/sig.c).
mg_sign() {
	printf '%s' "$1" | openssl dgst -sha256 -hmac "$(cat "$MG_SECRET_FILE")" |
	    sed 's/^.*= */sha256=/'
}

# mg_post BODY [SIG]: POST BODY to messengerd's webhook, signed ("-" or
# absent: the right signature; "" none).  Prints the HTTP status.
mg_post() {
	local sig=${2--} code f=$T_HOME/answer.$BASHPID
	[ "$sig" = - ] && sig=$(mg_sign "$1")
	code=$(curl -s -m 20 -o "$f" -w '%{http_code}' \
	    -H 'Content-Type: application/json' \
	    ${sig:+-H "X-Hub-Signature-256: $sig"} --data-binary "$1" \
	    "$MG_URL/messenger/webhook")
	echo "${code:-000}"
	mv -f "$f" "$T_HOME/answer" 2>/dev/null
}

# mg_text PSID MID TEXT [TS_MS]: Meta's notification of one Messenger text
# to the sandbox Page (providers.md §2.3).
mg_text() {
	jq -nc --arg p "$MG_PAGE" --arg u "$1" --arg m "$2" --arg t "$3" \
	    --argjson ts "${4:-$(now_ms)}" '{object: "page", entry: [{id: $p,
	    time: $ts, messaging: [{sender: {id: $u}, recipient: {id: $p},
	    timestamp: $ts, message: {mid: $m, text: $t}}]}]}'
}

# sb_mg JSON: simulated Messenger or Instagram customers act (POST
# /sandbox/messenger/inbound); prints the body and the status line.
sb_mg() { sb_post /sandbox/messenger/inbound "$1"; }

# sb_mg_sends [JQ_SELECT]: the Send API calls sandboxd received.
sb_mg_sends() {
	{ sb_get '/sandbox/received?api=messenger&kind=request'
	  sb_get '/sandbox/received?api=instagram&kind=request'; } | jq -c "
	    select((.path // \"\") | endswith(\"/messages\")) |
	    select(${1:-true})"
}

# ------------------------------------------------------------- sandboxd

# sb_get PATH / sb_post PATH JSON: sandboxd control calls; print the body.
sb_get() { curl -sS -m 20 "$SANDBOX_URL$1"; }
sb_post() {
	curl -sS -m 20 -H 'Content-Type: application/json' --data-binary "$2" \
	    -w '\n%{http_code}\n' "$SANDBOX_URL$1"
}

# sb_received [JQ_FILTER]: what sandboxd received, JSON Lines, filtered.
sb_received() { sb_get /sandbox/received | jq -rc "${1:-.}"; }

# sb_sms FROM TO TEXT [EXTRA_JSON_FIELDS]: a simulated customer writes.
sb_sms() {
	local j
	j=$(jq -nc --arg f "$1" --arg t "$2" --arg b "$3" \
	    '{from:$f,to:$t,body:$b}')
	[ -n "${4:-}" ] && j=$(jq -c ". + $4" <<<"$j")
	sb_post /sandbox/sms/inbound "$j"
}

# sb_fault JSON: add a fault rule.
sb_fault() { sb_post /sandbox/faults "$1"; }

# JQ_DEFS: p(NAME) is a form parameter of a received request.
JQ_DEFS='def p(k): (.params // .form // {})[k];'

# sb_msgs [JQ_SELECT]: the Twilio message creations sandboxd received (not
# the webhooks it posted), one JSON object per line, optionally filtered.
sb_msgs() {
	sb_get '/sandbox/received?api=twilio' | jq -c "$JQ_DEFS
	    select((.kind // \"\") != \"webhook\" and p(\"Body\") != null)
	    | select(${1:-true})"
}

# wait_sb SECONDS JQ_SELECT [N]: wait until sandboxd received at least N
# (1) matching message creations; print them.
wait_sb() {
	local limit=$(( $(now_ms) + $1 * 1000 )) out n
	while :; do
		out=$(sb_msgs "$2" 2>/dev/null)
		n=$(grep -c . <<<"$out")
		[ "$n" -ge "${3:-1}" ] && { echo "$out"; return 0; }
		[ "$(now_ms)" -ge "$limit" ] && { echo "$out"; return 1; }
		sleep 0.2
	done
}

# ------------------------------------------------------------------ msg

# events [JQ_FILTER]: the whole event log (msg tail --since 1), filtered.
events() { msg tail --since 1 | jq -rc "${1:-.}"; }

# count_events JQ_SELECT: how many events match.
count_events() { events "select($1)" | wc -l | tr -d ' '; }

# wait_event SECONDS JQ_SELECT: wait until an event matches; print the first.
wait_event() {
	local limit=$(( $(now_ms) + $1 * 1000 )) out
	while :; do
		out=$(events "select($2)" 2>/dev/null | head -n 1)
		[ -n "$out" ] && { echo "$out"; return 0; }
		[ "$(now_ms)" -ge "$limit" ] && return 1
		sleep 0.2
	done
}

# wait_count SECONDS JQ_SELECT N: wait until exactly N events match
# (at least N; the caller asserts the exact number after).
wait_count() {
	local limit=$(( $(now_ms) + $1 * 1000 )) n
	while :; do
		n=$(count_events "$2" 2>/dev/null)
		[ "${n:-0}" -ge "$3" ] && return 0
		[ "$(now_ms)" -ge "$limit" ] && return 1
		sleep 0.2
	done
}

# camp_launch NAME...: launch the campaigns a test made (a draft is not
# live: inbound on its addresses goes to "default").  One that is not ready
# only for want of a member gets the stand-in agent "standin" (the Unix
# user nobody; offline, so never offered anything) before its launch.
camp_launch() {
	local c
	for c in "$@"; do
		if ! msg campaign check "$c" >/dev/null 2>&1; then
			msg agent show standin >/dev/null 2>&1 ||
			    msg agent add standin --user nobody --role agent \
			    >/dev/null 2>&1
			msg member add "$c" standin >/dev/null 2>&1
		fi
		msg campaign launch "$c" >/dev/null || return 1
	done
}
