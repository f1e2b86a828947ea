#!/bin/bash
# t_unsolicited — a reusable number's unsolicited-message settings, through
# the real daemons: set with msg channel unsolicited (admins only; not for a
# provisioned number), shown in msg channel status; inbound on a number no
# active campaign owns (a draft's) goes to the agents they name, offered to
# them (a team named: its agents); with a campaign named (and live), to
# that campaign; cleared, to "default" again; a stopped campaign's
# conversation needing attention on the number moves to them.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv to act as agents"
plan 26
stack_start

U=pus$$
tuser_add "${U}a"
tuser_add "${U}n"
as() { local u=$U$1; shift; as_user "$u" "$@"; }
conv_of() {
	wait_event 15 ".type==\"message\" and .dir==\"in\" and .text==\"$1\""
}
R=+15550121001		# reusable, listed by the draft dr only
P=+15550121002		# provisioned by pv
msg agent add ada --user "${U}a" --role agent >/dev/null || bail "ada"
msg agent add nia --user "${U}n" --role agent >/dev/null || bail "nia"
msg campaign create dr --sms $R >/dev/null || bail "campaign dr"
msg campaign create pv --sms $P --provisioned $P >/dev/null || bail "campaign pv"
msg campaign create other --sms +15550121003 >/dev/null &&
    msg member add other ada >/dev/null && camp_launch other ||
    bail "campaign other"
as n msg status available >/dev/null || bail "nia available"

exits 1 "an agent may not set a number's unsolicited settings" \
    as a msg channel unsolicited sms:$R --agent ada
exits 1 "a provisioned number has none" \
    msg channel unsolicited sms:$P --agent nia
like "$T_ERR" "provisioned by campaign pv" "saying which campaign provisions it"
exits 1 "an agent that does not exist is refused" \
    msg channel unsolicited sms:$R --agent nobody$$
exits 0 "an admin sets them: nia receives" \
    msg channel unsolicited sms:$R --agent nia
t=$(COLUMNS=200 script -qefc "msg channel status" /dev/null </dev/null | tr -d '\r')
like "$t" "sms +\\$R .*unsolicited -> agents nia" "msg channel status shows them"
is "$(msg channel status --json | jq -r "select(.addr==\"$R\") | .unsolicited.agents[0]")" nia \
    "and in JSON"

# a draft's number: the unsolicited settings
sb_sms +15571210001 $R "anyone there" >/dev/null
m=$(conv_of "anyone there")
C=$(jq -r .conv <<<"$m")
is "$(jq -r .campaign <<<"$m")" "@sms:$R" "inbound on the draft's number goes to the number's own queue"
ok "offered to nia, the number's agent" \
    wait_event 15 ".type==\"offer\" and .conv==\"$C\" and (.agents|index(\"nia\")) != null"
exits 0 "nia claims it" as n msg claim "$C"

# a campaign named: it takes the number's unsolicited messages
exits 0 "settings naming campaign other" \
    msg channel unsolicited sms:$R --campaign other
sb_sms +15571210002 $R "second customer" >/dev/null
is "$(conv_of "second customer" | jq -r .campaign)" other \
    "inbound from a new customer goes to campaign other"

# a team named: its agents receive
msg team add night >/dev/null && msg agent edit ada --teams night >/dev/null ||
    bail "team night"
exits 0 "settings naming team night" msg channel unsolicited sms:$R --team night
as a msg status available >/dev/null || bail "ada available"
sb_sms +15571210006 $R "late at night" >/dev/null
m=$(conv_of "late at night")
is "$(jq -r .campaign <<<"$m")" "@sms:$R" "to the number's own queue"
ok "offered to ada, an agent of team night" wait_event 15 \
    ".type==\"offer\" and .conv==\"$(jq -r .conv <<<"$m")\" and (.agents|index(\"ada\")) != null"
as a msg status offline >/dev/null || bail "ada offline"

# cleared: default
msg channel unsolicited sms:$R --clear >/dev/null
sb_sms +15571210003 $R "third customer" >/dev/null
is "$(conv_of "third customer" | jq -r .campaign)" default \
    "without settings, to default"

# stop: a conversation needing attention moves to the unsolicited settings
exits 0 "nia receives R's unsolicited messages again" \
    msg channel unsolicited sms:$R --agent nia
msg campaign create reu --sms $R --strategy manual >/dev/null &&
    msg member add reu ada >/dev/null && camp_launch reu || bail "campaign reu"
msg campaign create reu2 --sms $R >/dev/null && camp_launch reu2 ||
    bail "campaign reu2"
sb_sms +15571210004 $R "help me" >/dev/null
m=$(conv_of "help me")
CA=$(jq -r .conv <<<"$m")
is "$(jq -r .campaign <<<"$m")" reu "the oldest active campaign listing R takes it"
sb_sms +15571210009 $R "still waiting" >/dev/null
m=$(conv_of "still waiting")
CB=$(jq -r .conv <<<"$m")
is "$(jq -r .campaign <<<"$m")" reu "a second one waits in reu, unclaimed"
msg attention "$CB" on >/dev/null || bail "an unclaimed one needing attention"
as a msg claim "$CA" >/dev/null && as a msg attention "$CA" on >/dev/null ||
    bail "ada holds it, needing attention"
exits 0 "stop reu" msg campaign stop reu --yes
e=$(wait_event 20 ".type==\"transfer\" and .conv==\"$CA\"")
is "$(jq -c '[.campaign,.from,.to_campaign,.by,.reason]' <<<"$e")" \
    "[\"reu\",\"ada\",\"@sms:$R\",\"parley\",\"campaign ended\"]" \
    "it moves from ada to R's unsolicited settings"
is "$(as a msg inbox --json | jq -r "select(.conv==\"$CA\") | .conv")" "" \
    "it left ada's inbox"
ok "and is offered to nia" wait_event 15 \
    ".type==\"offer\" and .conv==\"$CA\" and (.agents|index(\"nia\")) != null"
e=$(wait_event 20 ".type==\"transfer\" and .conv==\"$CB\"")
is "$(jq -c '[.campaign,.to_campaign,.reason]' <<<"$e")" \
    "[\"reu\",\"@sms:$R\",\"campaign ended\"]" \
    "one waiting unclaimed, needing attention, goes to the settings too"
ok "and is offered to nia" wait_event 15 \
    ".type==\"offer\" and .conv==\"$CB\" and (.agents|index(\"nia\")) != null"
sb_sms +15571210005 $R "after the stop" >/dev/null
is "$(conv_of "after the stop" | jq -r .campaign)" reu2 \
    "later inbound on R reaches the next active campaign listing it"
