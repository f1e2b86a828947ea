#!/bin/bash
# t_cluster — two campaigns on two shards over a real three-node NATS
# JetStream cluster (parley-cluster(7)): smsd publishes each signed inbound
# webhook to the shard that owns its address's campaign and answers 200
# only once JetStream stored it; each shard's routerd stores only its own;
# a provider's retry of the same MessageSid is stored once.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_cluster.sh"

plan 40
cluster_start

SA=$(sm_sid) SB=$(sm_sid)
is "$(sms_in "$SA" +15551110001 "$CL_ADDR_A" "for sales")" 200 \
    "a webhook for sales' number is answered 200 (stored in JetStream)"
is "$(sms_in "$SB" +15551110002 "$CL_ADDR_B" "for support")" 200 \
    "a webhook for support's number is answered 200"
is "$(sms_in "$SA" +15551110001 "$CL_ADDR_A" "for sales")" 200 \
    "Twilio's retry of the same MessageSid is answered 200 too"

wait_for 20 bash -c "$(declare -f shard_in shard_msg shard_home); S1=$S1 S2=$S2; shard_in s1 | grep -q $SA" ||
    cl_diag
in1=$(shard_in s1) in2=$(shard_in s2)
is "$(jq -r 'select(.pid=="'"$SA"'") | .addr' <<<"$in1")" "$CL_ADDR_A" \
    "shard s1 stored the sales message"
is "$(grep -c "$SA" <<<"$in1")" 1 "once, the retry deduplicated"
wait_for 20 bash -c "$(declare -f shard_in shard_msg shard_home); S1=$S1 S2=$S2; shard_in s2 | grep -q $SB"
in2=$(shard_in s2)
is "$(jq -r 'select(.pid=="'"$SB"'") | .addr' <<<"$in2")" "$CL_ADDR_B" \
    "shard s2 stored the support message"
is "$(grep -c "$SB" <<<"$in1")" 0 "shard s1 did not store support's"
is "$(grep -c "$SA" <<<"$in2")" 0 "shard s2 did not store sales'"

# whatsappd too: a notification for support's phone-number id goes to s2
WAMID=$(wamid)
is "$(wa_post "$(wa_text 15551110003 "$CL_WA_PNID" "$WAMID" "wa for support")")" 200 \
    "whatsappd answers a signed notification 200 once JetStream has it"
wait_for 20 bash -c "$(declare -f shard_in shard_msg shard_home); S1=$S1 S2=$S2; shard_in s2 | grep -q '$WAMID'"
is "$(shard_in s2 | jq -r 'select(.pid=="'"$WAMID"'") | .channel')" whatsapp \
    "shard s2 stored the WhatsApp message"

# messengerd too: a notification for support's Page goes to s2
MID="m_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
is "$(mg_post "$(mg_text 6543210000000101 "$MID" "mg for support")")" 200 \
    "messengerd answers a signed notification 200 once JetStream has it"
wait_for 20 bash -c "$(declare -f shard_in shard_msg shard_home); S1=$S1 S2=$S2; shard_in s2 | grep -q '$MID'"
is "$(shard_in s2 | jq -r 'select(.pid=="'"$MID"'") | .channel')/$(shard_in s1 | grep -c "$MID")" messenger/0 \
    "shard s2 stored the Messenger message, s1 not"

# the channel daemons' token state reaches each shard's statsd over NATS
# (no whatsappd or messengerd socket on a shard host)
chan_tok() { PARLEY_CONF=$S1/parley.conf msg stats 2>/dev/null |
    jq -n -e --arg a "$1" '[inputs | select(.type=="channel" and .addr==$a) | .token | objects] | length == 1' >/dev/null; }
ok "shard s1's statsd lists whatsappd's number with its token state (chstatus over NATS)" \
    wait_for 30 chan_tok "$CL_WA_PNID"
ok "and messengerd's Page" wait_for 30 chan_tok "$MG_PAGE"

# msg -S CAMPAIGN / -s SHARD: the shard's parley.conf from nats_shard_confs
is "$(msg -S support inbox </dev/null 2>/dev/null | jq -r 'select(.contact=="+15551110002") | .addr')" \
    "$CL_ADDR_B" "msg -S support asks the shard that owns support (s2)"
is "$(msg -s s1 inbox </dev/null 2>/dev/null | jq -r 'select(.contact=="+15551110001") | .addr')" \
    "$CL_ADDR_A" "msg -s s1 asks shard s1"
msg -s s9 inbox </dev/null >/dev/null 2>&1
is "$?" 2 "msg -s with a shard nats_shard_confs does not name is a usage error"

# a conversation's shard found by msg itself (the operator's file lists
# nats_shard_confs; no -s or -S): s1 does not know it, s2 does
CONV_B=$(shard_in s2 | jq -r 'select(.pid=="'"$SB"'") | .conv')
like "$(msg transcript "$CONV_B" 2>&1)" 'for support' \
    "msg transcript of a conversation on s2 finds its shard without -s"
like "$(msg transcript "${CONV_B:0:20}" 2>&1)" 'for support' \
    "and from a prefix of its id"
msg transcript c_0000000000000000000000000Z >/dev/null 2>&1
is "$?" 1 "a conversation no shard knows is refused as before (exit 1)"

# msg stats --shards: each shard's snapshot tagged, the system lines summed
wait_for 20 bash -c "PARLEY_CONF=$S1/parley.conf msg stats | grep -q '\"conversations\":2'"
wait_for 20 bash -c "PARLEY_CONF=$S2/parley.conf msg stats | grep -q '\"conversations\":4'"
st=$(msg stats --shards "$S1/parley.conf,$S2/parley.conf" 2>&1)
c1=$(jq -r 'select(.type=="system" and .shard=="s1") | .conversations' <<<"$st")
c2=$(jq -r 'select(.type=="system" and .shard=="s2") | .conversations' <<<"$st")
is "$c1/$c2" "2/4" "msg stats --shards shows each shard's system line (2 and 4 conversations)"
is "$(jq -r 'select(.type=="system" and .shard=="*") | .conversations' <<<"$st")" 6 \
    "and one summing them"
is "$(jq -r 'select(.type=="sync") | .type' <<<"$st")" sync "ending with one sync line"

# the wallboard of one shard shows every shard (statsd_shards.c: each
# statsd publishes its entities on core NATS and follows the others')
WB1=http://$(sed -n 's/^statsd_listen *= *//p' "$S1/parley.conf")
wb_camps() { curl -fsS -m 3 "$WB1/api/stats" |
    jq -c '[.campaigns[] | [.campaign, .shard]] | sort'; }
# (the shards hold no campaigns: their conversations are in each one's
# "default", which the board must keep apart)
wb_both() { [ "$(wb_camps)" = '[["default","s1"],["default","s2"]]' ]; }
ok "s1's wallboard (/api/stats) shows default of s1 and default of s2, each tagged" \
    wait_for 20 wb_both
timeout 40 curl -sN "$WB1/events" >"$T_HOME/sse1" 2>/dev/null &
SPID=$!; bg_track "$SPID"
wait_for 10 grep -q '^event: snapshot' "$T_HOME/sse1"
sse_camp() {	# the offered figure of default on s2 in s1's /events: in the snapshot, or after it
	sed -n "$1" "$T_HOME/sse1" | sed -n 's/^data: //p' |
	    jq -r 'select(.type=="campaign" and .campaign=="default" and .shard=="s2") | .offered'
}
OFF0=$(sse_camp '/^event: snapshot/,/^$/p')
like "$OFF0" '^[0-9]+$' "its /events snapshot carries s2's campaign ($OFF0 offered)"
if CHROMIUM=$(command -v chromium || command -v chromium-browser); then
	d=$(mktemp -d "$T_HOME/chrome.XXXXXX")
	timeout -k 5 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
	    --disable-quic --no-first-run --disable-background-networking \
	    --disable-component-update --disable-sync --user-data-dir="$d" \
	    --timeout=5000 --dump-dom "$WB1/" >"$T_HOME/dom1.html" \
	    2>>"$T_HOME/chromium.log" &
	cpid=$!; bg_track "$cpid"; wait "$cpid" 2>/dev/null; bg_untrack "$cpid"
	is "$(grep -o '<h3>[^<]*</h3>' "$T_HOME/dom1.html" | sort | tr '\n' ' ')" \
	    '<h3>default · s1</h3> <h3>default · s2</h3> ' \
	    "the page of s1 shows both shards' campaigns, each with its shard"
else
	skip "chromium is not installed: the page itself is not drawn"
fi

# msg stats -f --shards: the changes follow, tagged, with a new sum
msg stats -f --shards "$S1/parley.conf,$S2/parley.conf" >"$T_HOME/follow" 2>&1 &
FPID=$!; bg_track "$FPID"
wait_for 10 grep -q '"type":"sync"}' "$T_HOME/follow"
SC=$(sm_sid)
sms_in_retry "$SC" +15551110004 "$CL_ADDR_B" "later, for support" >/dev/null
wait_for 20 bash -c "jq -r 'select(.type==\"system\" and .shard==\"*\") | .conversations' <'$T_HOME/follow' | grep -qx 7"
is "$(jq -r 'select(.type=="system" and .shard=="*") | .conversations' <"$T_HOME/follow" | tail -n 1)" 7 \
    "msg stats -f --shards follows: the sum counts a conversation that came later (7)"
is "$(jq -r 'select(.type=="system" and .shard=="s2") | .conversations' <"$T_HOME/follow" | tail -n 1)" 5 \
    "and shard s2's own system line, tagged, counts 5"
kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null; bg_untrack "$FPID"
# the same new conversation on s2 reached s1's /events as a change
sse_s2() { sse_camp '/^event: snapshot/,$p' | grep -qx "$((OFF0 + 1))"; }
ok "s1's /events carries the change of s2's campaign as it happens" \
    wait_for 10 sse_s2
kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; bg_untrack "$SPID"

# SIGHUP: an address added to nats_addresses goes to its campaign's shard
# from the next webhook on (before, to nats_default_shard, s1)
ADDR_C=+15550000003 SD=$(sm_sid) SE=$(sm_sid)
is "$(sms_in_retry "$SD" +15551110005 "$ADDR_C" "before the reload")" 200 \
    "a webhook for an address the map lacks is answered 200 (default shard)"
wait_for 20 bash -c "$(declare -f shard_in shard_msg shard_home); S1=$S1 S2=$S2; shard_in s1 | grep -q $SD"
sed -i "s/^nats_addresses = .*/& $ADDR_C=support/" "$T_HOME/parley.conf"
kill -HUP "$CL_PID_edge_smsd"
wait_for 10 grep -q "nats: maps reloaded" "$T_HOME/smsd.log"
is "$(sms_in_retry "$SE" +15551110005 "$ADDR_C" "after the reload")" 200 \
    "after SIGHUP the same address is answered 200"
wait_for 20 bash -c "$(declare -f shard_in shard_msg shard_home); S1=$S1 S2=$S2; shard_in s2 | grep -q $SE"
is "$(shard_in s2 | grep -c "$SE")/$(shard_in s1 | grep -c "$SE")/$(shard_in s1 | grep -c "$SD")" 1/0/1 \
    "and is stored by support's shard s2 now, s1 keeping the one before"
sed -i "s/^nats_replicas = .*/nats_replicas = 1/" "$T_HOME/parley.conf"
kill -HUP "$CL_PID_edge_smsd"
wait_for 10 grep -q "nats_replicas changes need a restart" "$T_HOME/smsd.log"
is "$?" 0 "a reload changing nats_replicas says it needs a restart"
# an agent (a Unix user mapped as one on shard s1) against the cluster: it
# can read neither the clients' token nor a node's configuration, and a
# NATS connection without the token is refused before it can publish a
# forged inbound frame (NATS' own protocol, spoken with bash's /dev/tcp)
nats_raw() {	# PORT TOKEN: CONNECT (with TOKEN if given), PUB, PING
	local c='{"verbose":false}' l
	[ -n "$2" ] && c="{\"verbose\":false,\"auth_token\":\"$2\"}"
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	read -r -t 3 l <&3 && echo "$l"
	printf 'CONNECT %s\r\n' "$c" >&3
	# a refused CONNECT is answered -ERR and closed: read that first (a
	# write to the closed socket would reset it and lose the answer)
	[ -n "$2" ] || { read -r -t 3 l <&3 && echo "$l"; }
	if [ -n "$2" ]; then
		printf 'PING\r\n' >&3
	else
		printf 'PUB parley.s1.in 6\r\nforged\r\nPING\r\n' >&3 2>/dev/null
	fi
	while read -r -t 3 l <&3; do echo "$l"; done
}
if tuser_ok; then
	U=parleycl$$
	tuser_add "$U"
	shard_msg s1 agent add cla --user "$U" --role agent >/dev/null
	chmod 0711 "$S1" "$T_HOME/nats"
	n1=$(shard_in s1 | wc -l)
	out=$(as_user "$U" cat "$S1/secrets/nats_token" 2>&1) && rc=0 || rc=$?
	like "$rc $out" '^1 .*Permission denied' "an agent cannot read the shard's NATS token"
	out=$(as_user "$U" cat "$T_HOME/nats/n1.conf" 2>&1) && rc=0 || rc=$?
	like "$rc $out" '^1 .*Permission denied' "nor a NATS node's configuration (the token, the routes' password)"
	out=$(as_user "$U" bash -c "$(declare -f nats_raw); nats_raw ${NATS_PORT[1]} ''" 2>&1)
	like "$out" 'auth_required":true' "the NATS node tells every client it requires authorization"
	like "$out" 'Authorization Violation' "an agent's connection without the token is refused"
	is "$(grep -c PONG <<<"$out")" 0 "and never gets to PING"
	sleep 1
	is "$(shard_in s1 | wc -l)" "$n1" "nothing was stored on shard s1"
	like "$(nats_raw "${NATS_PORT[1]}" "$CL_TOKEN" 2>&1)" 'PONG' \
	    "with the token (the daemons' secret) the same client is served"
	tuser_cleanup
else
	skip "not root: no throwaway Unix user" 7
fi

[ "$T_FAILED" -gt 0 ] && cl_diag
done_testing
