#!/bin/bash
# t_bot — msg bot runs a program as the bot of a bot-operated campaign,
# through the real daemons and sandboxd: the program's answers reach the
# customer; "I don't know" hands the conversation to agents (mode agent,
# needs attention, an idk event) or sends the campaign's custom response;
# msg mode CONV agent takes a conversation away from the bot (and bot gives
# it back); and whoever is killed mid-stream — the bot program, msg bot
# itself, routerd — every inbound message is answered exactly once.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

BOTS=$PARLEY_SRC/tests/integration/bots
ECHO_BOT="jq --unbuffered -c -f $BOTS/echo.jq"
US_A=+15550007777	# campaign helpbot: IDK hands over to agents
US_B=+15550008888	# campaign askbot: IDK sends the custom response
CUSTOM="Let me find a person who knows."

plan 38
stack_start

# start_bot LOGNAME CAMPAIGN COMMAND...: msg bot in the background; its PID
# in BOT_PID, its stderr in $T_HOME/LOGNAME.log.
start_bot() {
	local log=$T_HOME/$1.log camp=$2
	shift 2
	msg bot -v --campaign "$camp" -- "$@" </dev/null >/dev/null \
	    2>>"$log" &
	BOT_PID=$!
	bg_track "$BOT_PID"
}

# stop_bot PID: end a msg bot we started and wait for it.
stop_bot() {
	kill -TERM "$1" 2>/dev/null
	wait_for 10 proc_done "$1" || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	bg_untrack "$1"
}

# prog_pid MSGBOT_PID: the bot program msg bot runs (its living child).
prog_pid() {
	local p
	for p in $(pgrep -P "$1"); do
		proc_done "$p" || { echo "$p"; return 0; }
	done
	return 1
}

# echoes TEXT: how many times sandboxd received "echo: TEXT".
echoes() { sb_msgs "p(\"Body\")==\"echo: $1\"" | grep -c .; }

# conv_of TEXT: the conversation of the inbound message TEXT.
conv_of() {
	wait_event 10 ".type==\"message\" and .dir==\"in\" and .text==\"$1\"" |
	    jq -r .conv
}

exits 0 "a bot-operated campaign whose IDK hands over to agents" \
    msg campaign create helpbot --sms $US_A --operator bot --idk agent
exits 0 "one whose IDK sends a custom response" \
    msg campaign create askbot --sms $US_B --operator bot --idk custom \
    --idk-message "$CUSTOM"
camp_launch helpbot askbot || bail "launch helpbot, askbot"

# ---------------------------------------------------------------- answers
start_bot bot1 helpbot $ECHO_BOT
BOT1=$BOT_PID
sb_sms +15557100001 $US_A "hello bot" >/dev/null
wait_sb 15 'p("Body")=="echo: hello bot"' >/dev/null
is "$(echoes "hello bot")" 1 "the bot's answer reaches the customer"
m=$(wait_event 10 '.type=="message" and .dir=="in" and .text=="hello bot"')
is "$(jq -r .mode <<<"$m")" bot "the conversation started in bot mode"
CA=$(jq -r .conv <<<"$m")
out=$(wait_event 10 ".type==\"message\" and .dir==\"out\" and .conv==\"$CA\"")
is "$(jq -r '[.bot, .key] | @tsv' <<<"$out")" "true	bot:$(jq -r .id <<<"$m")" \
    "the reply is sent as the bot, keyed by the message it answers"

# ------------------------------------------------------ IDK: to the agents
sb_sms +15557100002 $US_A "I want a refund" >/dev/null
CI=$(conv_of "I want a refund")
ok "an IDK is recorded as an idk event" \
    wait_event 15 ".type==\"idk\" and .conv==\"$CI\" and .action==\"agent\""
ok "and the conversation is handed to agents" \
    wait_event 10 ".type==\"mode\" and .conv==\"$CI\" and .mode==\"agent\""
c=$(msg inbox --json | jq -c "select(.conv==\"$CI\") | [.mode, .attention]")
is "$c" '["agent",true]' "it is in agent mode with needs-attention set"
sb_sms +15557100002 $US_A "hello? anyone?" >/dev/null
sb_sms +15557100001 $US_A "marker one" >/dev/null
wait_sb 15 'p("Body")=="echo: marker one"' >/dev/null
is "$(echoes "hello? anyone?")" 0 "the bot no longer answers it"
is "$(echoes "I want a refund")" 0 "nor was the IDK message itself answered"

# ---------------------------------------------- IDK: the custom response
start_bot bot2 askbot $ECHO_BOT
BOT2=$BOT_PID
sb_sms +15557100003 $US_B "refund please" >/dev/null
CC=$(conv_of "refund please")
ok "the custom IDK response is sent" \
    wait_sb 15 "p(\"Body\")==\"$CUSTOM\" and p(\"To\")==\"+15557100003\""
ok "recorded as an idk event with action custom" \
    wait_event 10 ".type==\"idk\" and .conv==\"$CC\" and .action==\"custom\""
sb_sms +15557100003 $US_B "thanks" >/dev/null
wait_sb 15 'p("Body")=="echo: thanks"' >/dev/null
is "$(echoes thanks)" 1 "the conversation stays with the bot"
stop_bot "$BOT2"

# --------------------------------------------------------------- msg mode
exits 0 "msg mode CONV agent" msg mode "$CA" agent
sb_sms +15557100001 $US_A "are you a person" >/dev/null
sb_sms +15557100004 $US_A "marker two" >/dev/null
wait_sb 15 'p("Body")=="echo: marker two"' >/dev/null
is "$(echoes "are you a person")" 0 "a conversation in agent mode is not the bot's"
exits 0 "msg mode CONV bot" msg mode "$CA" bot
sb_sms +15557100001 $US_A "back to the bot" >/dev/null
wait_sb 15 'p("Body")=="echo: back to the bot"' >/dev/null
is "$(echoes "back to the bot")" 1 "given back, the bot answers it again"
is "$(echoes "are you a person")" 0 \
    "but not what came while agents had it"

# ------------------------------------------- the bot program killed mid-stream
stop_bot "$BOT1"
start_bot bot3 helpbot env BOT_DELAY=0.05 "$BOTS/slow_echo.sh"
BOT3=$BOT_PID
ok "msg bot started the slow bot" wait_for 10 prog_pid "$BOT3"
P1=$(prog_pid "$BOT3")
for i in $(seq 1 20); do
	sb_sms "+1555720000$((i % 4))" $US_A "burst $i" >/dev/null
	if [ "$i" = 8 ] || [ "$i" = 15 ]; then
		# mid-stream: it holds messages it was given and not answered
		wait_for 10 prog_pid "$BOT3"
		kill -KILL "$(prog_pid "$BOT3")" 2>/dev/null
	fi
done
ok "all 20 answered after two kills of the bot" \
    wait_sb 60 '(p("Body") // "" | startswith("echo: burst "))' 20
P2=$(prog_pid "$BOT3")
like "${P2:-none} $P1" '^[0-9]+ [0-9]+$' "the bot program was restarted"
[ "${P2:-x}" != "$P1" ] && pass "with a new process" || fail "with a new process"
sb_sms +15557200001 $US_A "marker three" >/dev/null
wait_sb 30 'p("Body")=="echo: marker three"' >/dev/null
bad=""
for i in $(seq 1 20); do
	n=$(echoes "burst $i")
	[ "$n" = 1 ] || bad="$bad burst$i=$n"
done
is "${bad:-none}" none "each of the 20 answered exactly once"
is "$(count_events '.type=="message" and .dir=="out" and (.text | startswith("echo: burst "))')" \
    20 "the event log holds 20 bot replies to them, not more"
is "$(grep -c "killed by signal 9; restarting in" "$T_HOME/bot3.log")" 2 \
    "msg bot said it restarted the program, twice"

# ------------------------------------------------- msg bot itself killed
for i in $(seq 1 20); do
	sb_sms "+1555730000$((i % 3))" $US_A "again $i" >/dev/null
	if [ "$i" = 6 ]; then
		kill -KILL "$BOT3" 2>/dev/null
		wait "$BOT3" 2>/dev/null
		bg_untrack "$BOT3"
	fi
done
# messages arrived while no bot ran: the next msg bot answers them
start_bot bot4 helpbot env BOT_DELAY=0.01 "$BOTS/slow_echo.sh"
BOT4=$BOT_PID
ok "all 20 answered across a killed and restarted msg bot" \
    wait_sb 60 '(p("Body") // "" | startswith("echo: again "))' 20
sb_sms +15557300001 $US_A "marker four" >/dev/null
wait_sb 30 'p("Body")=="echo: marker four"' >/dev/null
bad=""
for i in $(seq 1 20); do
	n=$(echoes "again $i")
	[ "$n" = 1 ] || bad="$bad again$i=$n"
done
is "${bad:-none}" none "each answered exactly once"

# ------------------------------------------------------- routerd restarted
stop_bot "$BOT4"
start_bot bot5 helpbot $ECHO_BOT
BOT5=$BOT_PID
sb_sms +15557400001 $US_A "before the restart" >/dev/null
wait_sb 15 'p("Body")=="echo: before the restart"' >/dev/null
exits 0 "restart routerd" svc_restart routerd 20
wait_ready 30
sb_sms +15557400001 $US_A "after the restart" >/dev/null
ok "msg bot reconnects and answers after a routerd restart" \
    wait_sb 30 'p("Body")=="echo: after the restart"'
sb_sms +15557400002 $US_A "marker five" >/dev/null
wait_sb 15 'p("Body")=="echo: marker five"' >/dev/null
is "$(echoes "before the restart") $(echoes "after the restart")" "1 1" \
    "each answered once"

# ------------------------------------------------------------ refusals
exits 2 "msg bot without a command is a usage error" msg bot --campaign helpbot
exits 1 "a campaign that does not exist is refused" \
    msg bot --campaign nosuch -- cat
like "$T_ERR" 'no campaign named "nosuch"' "and msg bot says so"
if tuser_ok; then
	U=parleyb$$
	tuser_add "$U"
	as() { as_user "$U" "$@"; }
	msg agent add tess --user "$U" >/dev/null 2>&1
	exits 1 "an agent who is no member of the campaign may not run its bot" \
	    as msg bot --campaign helpbot -- cat
	like "$T_ERR" "tess is not a member of campaign helpbot" "and is told why"
	msg member add helpbot tess >/dev/null 2>&1
	as_user "$U" msg bot -v --campaign helpbot -- \
	    jq --unbuffered -c -f "$T_HOME/bin/echo.jq" \
	    </dev/null >/dev/null 2>>"$T_HOME/bot6.log" &
	BOT6=$!
	bg_track "$BOT6"
	ok "a member may run it" wait_for 10 prog_pid "$BOT6"
	# two runners on one campaign: still one answer per message
	sb_sms +15557400003 $US_A "two bots" >/dev/null
	wait_sb 15 'p("Body")=="echo: two bots"' >/dev/null
	sb_sms +15557400003 $US_A "marker six" >/dev/null
	wait_sb 15 'p("Body")=="echo: marker six"' >/dev/null
	is "$(echoes "two bots")" 1 "two bots at once answer each message once"
	ok "the second answer was acknowledged as a duplicate, not sent" \
	    grep -q "answered before" "$T_HOME/bot5.log" "$T_HOME/bot6.log"
	stop_bot "$BOT6"
else
	for i in 1 2 3 4 5; do skip "not root: no throwaway agent user"; done
fi
stop_bot "$BOT5"

done_testing
