#!/bin/bash
# t_wallboard_peer — who may read statsd's HTTP (the wallboard, /events,
# /api/stats, /metrics) and stats.sock, as throwaway Unix users: an agent
# is refused (403, one line) on every path, a supervisor served, a user
# named in statsd_http_users served after SIGHUP (a bad value refused with
# the old kept), and a supervisor demoted while reading has its /events
# stream and its stats.sock subscription ended.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as agents"
command -v socat >/dev/null || skip_all "needs socat"
plan 17
stack_start
trap stack_stop EXIT

U=pwb$$
tuser_add "${U}a"
tuser_add "${U}s"
tuser_add "${U}p"
msg agent add ann --user "${U}a" --role agent >/dev/null || bail "agent ann"
msg agent add sue --user "${U}s" --role supervisor >/dev/null || bail "agent sue"
sb_sms +15557510001 +15550050001 "a customer's number on the board" >/dev/null
has_customer() { curl -fsS "$STATSD_URL/api/stats" | grep -q 15557510001; }
wait_for 10 has_customer || bail "the customer never reached /api/stats"

code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$STATSD_URL$1"; }
as_code() { local u=$1; shift; as_user "$u" curl -s -o /dev/null -m 5 -w '%{http_code}' "$STATSD_URL$1"; }

is "$(code /api/stats)" 200 "root reads /api/stats"
is "$(as_code "${U}a" /api/stats) $(as_code "${U}a" /) $(as_code "${U}a" /events) $(as_code "${U}a" /metrics)" \
    "403 403 403 403" "an agent is refused on /api/stats, /, /events and /metrics"
out=$(as_user "${U}a" curl -s -m 5 "$STATSD_URL/api/stats")
is "$out" "statsd: supervisors and admins only" "the refusal says why, in one line"
ok "the agent sees no customer's number" eval '! grep -q 15557510001 <<<"$out"'
like "$(tail -n 50 "$T_HOME/service/statsd/log/main/current")" \
    "http: refused uid $(id -u "${U}a") at 127.0.0.1" "the refusal is logged with the uid"
is "$(as_code "${U}s" /api/stats)" 200 "a supervisor reads /api/stats"
like "$(as_user "${U}s" curl -s -m 5 "$STATSD_URL/api/stats")" 15557510001 \
    "and sees the waiting customer"
is "$(as_code "${U}p" /metrics)" 403 "a Unix user mapped to no agent is refused"

# --- statsd_http_users, read again on SIGHUP
echo "statsd_http_users = ${U}p" >>"$T_HOME/parley.conf"
kill -HUP "$(sv_pid statsd)"
p_ok() { [ "$(as_code "${U}p" /metrics)" = 200 ]; }
ok "after SIGHUP the user named in statsd_http_users reads /metrics" wait_for 5 p_ok
is "$(as_code "${U}a" /metrics)" 403 "the agent still is refused"
sed -i "s/^statsd_http_users = .*/statsd_http_users = ${U}p, Not A User!/" "$T_HOME/parley.conf"
kill -HUP "$(sv_pid statsd)"
said() { grep -q 'statsd_http_users: "Not" is not a Unix user name' \
    "$T_HOME/service/statsd/log/main/current"; }
ok "a bad statsd_http_users is refused with the reason" wait_for 5 said
is "$(as_code "${U}p" /metrics)" 200 "and the readers of before are kept"

# --- a supervisor demoted while reading
as_user "${U}s" curl -sN -m 60 "$STATSD_URL/events" >"$T_HOME/sse.out" 2>&1 &
SSE=$!
bg_track $SSE
as_user "${U}s" socat -u UNIX-CONNECT:"$T_HOME/run/stats.sock" - >"$T_HOME/sock.out" 2>&1 &
SOCK=$!
bg_track $SOCK
snap() { grep -q '^event: snapshot' "$T_HOME/sse.out" && grep -q '"type":"sync"' "$T_HOME/sock.out"; }
ok "the supervisor follows /events and stats.sock" wait_for 10 snap
msg agent edit sue --role agent >/dev/null || bail "demote sue"
gone() { ! kill -0 "$1" 2>/dev/null; }
ok "demoted, the supervisor's /events stream is ended" wait_for 5 gone $SSE
ok "and the stats.sock subscription is closed" wait_for 5 gone $SOCK
is "$(tail -n 1 "$T_HOME/sock.out")" \
    '{"type":"error","msg":"stats: no longer a supervisor or admin"}' \
    "stats.sock's last line says why"
is "$(as_code "${U}s" /api/stats)" 403 "and a new request is refused"
bg_untrack $SSE
bg_untrack $SOCK
