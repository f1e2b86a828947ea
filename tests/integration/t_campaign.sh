#!/bin/bash
# t_campaign — campaigns administered with `msg campaign` against the
# running daemons: create with defaults and with every field, show, list
# with its filters and computed hours (a global holiday closes a campaign
# today), the terminal table, partial edits, clone (provisioned numbers
# stay behind), enable/disable, launch, schedule, stop-and-archive,
# export | apply round trips, delete with its conversations (routerd routes
# an inbound SMS to the campaign's number first), delete's refusal without
# --yes, one refusal with exit 1 per validation rule, and what an agent and
# a supervisor may read.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 183
stack_start

RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
# j DOC FILTER: one jq value, compact.
j() { jq -c "$2" <<<"$1" 2>/dev/null; }
# refused DESC PATTERN COMMAND...: exit 1 with a one-line reason matching.
refused() {
	local desc=$1 pat=$2
	shift 2
	exits 1 "$desc: exit 1" "$@"
	if [[ $T_ERR =~ $pat ]] && [ "$(grep -c . <<<"$T_ERR")" = 1 ] &&
	    [[ $T_ERR == "msg: campaign: "* ]]; then
		pass "$desc: one line saying why"
	else
		fail "$desc: one line saying why" "stderr: $T_ERR" "wanted: /$pat/"
	fi
}
# tty COMMAND: run a command line on a pseudo-terminal (script(1)).
tty() { script -qefc "$1" /dev/null </dev/null | tr -d '\r'; }

# ---------------------------------------------------------------- create
exits 0 "create with only a name" msg campaign create basic
d=$(msg campaign show basic)
is "$(j "$d" '[.title,.operator,.idk.mode,.strategy,.max_interactions]')" \
    '["basic","agent","agent","ringall",3]' \
    "defaults: title=name, agent operator and IDK, ringall, 3 interactions"
is "$(j "$d" '[.service_level.period_s,.service_level.response_threshold_s,.thresholds.service_level_s,.thresholds.dropout_s,.thresholds.chat_time_s,.acd]')" \
    '[86400,60,60,300,900,50]' "defaults: service level, thresholds, ACD"
is "$(j "$d" '[.timezone,.schedule.mon,.schedule.fri,.schedule.sat,.schedule.sun]')" \
    '["UTC",[["09:00","18:00"]],[["09:00","18:00"]],[],[]]' \
    "defaults: UTC, Monday to Friday 09:00-18:00"
is "$(j "$d" '[.files.enabled,.files.library,.files.local,(.files.types.whatsapp|index("application/pdf")!=null)]')" \
    '[false,true,false,true]' "defaults: files off, library only, WhatsApp's types"
is "$(j "$d" '[.enabled,.state,.wrapup_s,.offer_timeout_s]')" '[true,"draft",0,30]' \
    "defaults: enabled, draft, no wrap-up, 30 s offer timeout"
like "$(jq -r .created_ts <<<"$d")" "$RFC3339" "created_ts is RFC 3339 UTC"

SCHED='{"mon":[["08:00","12:00"],["13:00","17:00"]],"sat":[["10:00","14:00"]]}'
exits 0 "create with every field given" msg campaign create sales \
    --title "Sales EMEA" --description "Inbound sales" --folder emea \
    --tags vip,emea --sms +15550001111,+15550002222 --provisioned +15550002222 \
    --whatsapp 123456789 --whatsapp-enabled no --timezone Europe/Paris \
    --schedule "$SCHED" --holidays 2026-12-25=Christmas --strategy linear \
    --max-interactions 5 --sl-period 3600 --sl-response 30 --threshold-sl 45 \
    --threshold-dropout 120 --threshold-chat 600 --acd 10 --operator bot \
    --idk custom --idk-message "Let me find a person" \
    --after-hours "We are closed" --files yes --files-local yes \
    --files-types '{"sms":["image/jpeg"]}' --wrapup 15 --offer-timeout 20
d=$T_OUT
is "$(j "$d" '[.title,.description,.folder,.tags]')" \
    '["Sales EMEA","Inbound sales","emea",["vip","emea"]]' "title, description, folder, tags"
is "$(j "$d" .channels)" \
    '{"sms":{"enabled":true,"addresses":[{"addr":"+15550001111","mode":"reusable"},{"addr":"+15550002222","mode":"provisioned"}]},"whatsapp":{"enabled":false,"addresses":[{"addr":"123456789","mode":"reusable"}]}}' \
    "channels: SMS numbers with their modes, WhatsApp disabled"
is "$(j "$d" '[.operator,.idk,.strategy,.max_interactions]')" \
    '["bot",{"mode":"custom","message":"Let me find a person"},"linear",5]' \
    "operator, IDK message, strategy, interactions"
is "$(j "$d" '[.service_level,.thresholds,.acd,.wrapup_s,.offer_timeout_s]')" \
    '[{"period_s":3600,"response_threshold_s":30},{"service_level_s":45,"dropout_s":120,"chat_time_s":600},10,15,20]' \
    "service level, thresholds, ACD, wrap-up, offer timeout"
is "$(j "$d" '[.timezone,.schedule.mon,.schedule.sat,.schedule.tue,.holidays,.after_hours_message]')" \
    '["Europe/Paris",[["08:00","12:00"],["13:00","17:00"]],[["10:00","14:00"]],[],[{"date":"2026-12-25","name":"Christmas"}],"We are closed"]' \
    "zone, schedule, holidays, after-hours message"
is "$(j "$d" '.files')" '{"enabled":true,"library":true,"local":true,"types":{"sms":["image/jpeg"]}}' \
    "file sharing"
refused "a second campaign named sales" 'a campaign named "sales" exists' \
    msg campaign create sales

# ------------------------------------------------------------- routing
# a draft is not live: inbound on its numbers goes where it would go
# without it (here "default"), stored all the same
out=$(sb_sms +15557770009 +15550001111 "hello draft")
rec=$(wait_event 15 '.type=="message" and .dir=="in" and .contact=="+15557770009"') ||
    rec='{}'
is "$(jq -r .campaign <<<"$rec")" default "a draft's number routes to default"
# launch only when ready: every missing item named
refused "launch of a campaign with no channel and no member" \
    'campaign basic cannot be launched: no enabled channel with an address .*; no member who may receive conversations' \
    msg campaign launch basic
exits 1 "msg campaign check of a campaign that is not ready: exit 1" \
    msg campaign check basic
is "$(j "$T_OUT" '[.ready,(.missing|length)]')" '[false,2]' \
    "check: not ready, two items missing"
like "$(tty "msg campaign check basic")" \
    'campaign basic \(draft\): not ready.*- no enabled channel.*- no member who may receive' \
    "check on a terminal: one line per missing item"
refused "launch of sales, bot-operated, whose only want is a bot" \
    'campaign sales cannot be launched: no bot: it is bot-operated and has no member for msg bot to run as' \
    msg campaign launch sales
msg agent add standin --user nobody --role agent >/dev/null &&
    msg member add sales standin >/dev/null || bail "a member for sales"
exits 0 "check: sales is ready now" msg campaign check sales
is "$(j "$T_OUT" '[.ready,.missing]')" '[true,[]]' "ready, nothing missing"
exits 0 "launch sales" msg campaign launch sales
# routerd routes by campaignd's address index
out=$(sb_sms +15557770001 +15550001111 "hello sales")
rec=$(wait_event 15 '.type=="message" and .dir=="in" and .contact=="+15557770001"') ||
    rec='{}'
is "$(jq -r .campaign <<<"$rec")" sales "an inbound SMS to a campaign number belongs to it"
CONV=$(jq -r .conv <<<"$rec")

# ------------------------------------------------------------------ list
# basic has the default hours (weekdays 09:00-18:00): closed here, so that
# what is open now does not depend on when the test runs
msg campaign edit basic --schedule "{}" >/dev/null || bail "basic's hours"
exits 0 "create an always-open and a never-open campaign" sh -c \
    'msg campaign create always --schedule "{\"mon\":[[\"00:00\",\"24:00\"]],\"tue\":[[\"00:00\",\"24:00\"]],\"wed\":[[\"00:00\",\"24:00\"]],\"thu\":[[\"00:00\",\"24:00\"]],\"fri\":[[\"00:00\",\"24:00\"]],\"sat\":[[\"00:00\",\"24:00\"]],\"sun\":[[\"00:00\",\"24:00\"]]}" >/dev/null &&
     msg campaign create never --schedule "{}" --enabled no --tags vip >/dev/null'
l=$(msg campaign list)
is "$(jq -r .name <<<"$l" | tr '\n' ' ')" "always basic never sales " \
    "list: one JSON line per campaign, in name order"
is "$(jq -c 'select(.name=="always") | [.today,.open_now]' <<<"$l")" \
    '["00:00-24:00",true]' "list: today's hours and open now, computed"
is "$(jq -c 'select(.name=="never") | [.today,.open_now]' <<<"$l")" \
    '["closed",false]' "list: a closed day says closed"
is "$(msg campaign list --search emea | jq -r .name)" sales \
    "--search matches the title, case-insensitively"
is "$(msg campaign list --search LWAY | jq -r .name)" always \
    "--search matches the name"
is "$(msg campaign list --tag vip | jq -r .name | tr '\n' ' ')" "never sales " "--tag"
is "$(msg campaign list --folder emea | jq -r .name)" sales "--folder"
is "$(msg campaign list --enabled no | jq -r .name)" never "--enabled no"
is "$(msg campaign list --open-now yes | jq -r .name)" always "--open-now yes"
like "$(msg campaign list --open-now no | jq -r .name | tr '\n' ' ')" "never" \
    "--open-now no"
is "$(msg campaign list --state active | jq -r .name)" sales "--state active"
refused "an unknown state filter" 'unknown state "paused"' \
    msg campaign list --state paused
today=$(date -u +%F)
exits 0 "a global holiday today" msg holiday add t-campaign-today --date "$today"
is "$(msg campaign show always | jq -c '[.today,.open_now]')" '["holiday",false]' \
    "a global holiday closes a campaign for the day"
exits 0 "remove the global holiday" msg holiday delete t-campaign-today
is "$(msg campaign show always | jq -c '[.today,.open_now]')" '["00:00-24:00",true]' \
    "and it opens again"
t=$(tty "msg campaign list")
like "$(head -n 1 <<<"$t")" '^NAME +TITLE +STATE +CHANNELS +OPERATOR +MEMBERS +TAGS +UPDATED +WHEN +OPEN +TOKENS$' \
    "on a terminal: an aligned table with its heads"
like "$(grep '^sales ' <<<"$t")" 'sales +Sales EMEA +active +sms:\+15550001111,\+15550002222 whatsapp:[^ ]* +bot +1 +vip,emea +[0-9-]+ [0-9:]+ +[0-9-]+ [0-9:]+ +(yes|no) +(-|ok)$' \
    "the table shows title, state, numbers, operator, members, tags, times"
is "$(tty "msg campaign list --json" | jq -r .name | tr '\n' ' ')" "always basic never sales " \
    "--json: JSON Lines on a terminal too"

# ------------------------------------------------------------------ edit
exits 0 "edit one nested field" msg campaign edit sales --sl-period 7200
is "$(j "$T_OUT" '[.service_level,.title,.strategy]')" \
    '[{"period_s":7200,"response_threshold_s":30},"Sales EMEA","linear"]' \
    "only that field changed"
u1=$(msg campaign show sales | jq -r .updated_ts)
exits 0 "edit the numbers: add one, the provisioned one listed again" \
    msg campaign edit sales --sms +15550001111,+15550002222,+15550003333
is "$(j "$T_OUT" '[.channels.sms.addresses[].mode]')" '["reusable","provisioned","reusable"]' \
    "a listed number keeps its mode, a new one is reusable"
exits 0 "--provisioned marks a number" msg campaign edit sales --provisioned +15550003333
is "$(j "$T_OUT" '.channels.sms.addresses[2].mode')" '"provisioned"' "it is provisioned"
exits 0 "--sms-enabled no" msg campaign edit sales --sms-enabled no
is "$(j "$T_OUT" '[.channels.sms.enabled,(.channels.sms.addresses|length)]')" '[false,3]' \
    "the channel is off, its numbers kept"
exits 0 "--channels JSON" msg campaign edit sales \
    --channels '{"sms":{"enabled":true},"messenger":{"addresses":["998877"]}}'
is "$(j "$T_OUT" '[.channels.sms.enabled,(.channels.sms.addresses|length),.channels.messenger.addresses[0].addr,.channels.whatsapp.enabled]')" \
    '[true,3,"998877",false]' "merged channel by channel"
u2=$(jq -r .updated_ts <<<"$T_OUT")
[[ "$u2" > "$u1" ]] && pass "updated_ts moves on" || fail "updated_ts moves on" "$u1 then $u2"
refused "--name is refused" "name never changes" msg campaign edit sales --name other
refused "an edit with nothing to change" "nothing to change" msg campaign edit sales
refused "edit of a campaign that does not exist" 'no campaign named "nosuch"' \
    msg campaign edit nosuch --title x

# ----------------------------------------------------------------- clone
exits 0 "clone sales with a title of its own" msg campaign clone sales sales-copy \
    --title "Sales copy"
c=$T_OUT
is "$(j "$c" '[.name,.title,.state,.strategy,.schedule.sat]')" \
    '["sales-copy","Sales copy","draft","linear",[["10:00","14:00"]]]' \
    "the copy has everything but the name and title, as a draft"
is "$(j "$c" '[.channels.sms.addresses[].addr]')" '["+15550001111"]' \
    "provisioned numbers are not copied, reusable ones are"
o=$(msg campaign show sales | jq -r .created_ts)
[ "$(jq -r .created_ts <<<"$c")" != "$o" ] && [ "$(j "$c" .launched_ts)" = null ] &&
    pass "created time is new, never launched" ||
    fail "created time is new, never launched" "$c"
refused "clone onto an existing name" 'a campaign named "basic" exists' \
    msg campaign clone sales basic

# -------------------------------------------------------------- lifecycle
exits 0 "disable" msg campaign disable basic
is "$(j "$T_OUT" .enabled)" false "disabled"
exits 0 "enable" msg campaign enable basic
is "$(j "$T_OUT" .enabled)" true "enabled"
is "$(msg campaign show sales | jq -r .state)" active "sales is active"
like "$(msg campaign show sales | jq -r .launched_ts)" "$RFC3339" "launched_ts is set"
refused "launch an active campaign" "campaign sales is already active" \
    msg campaign launch sales
refused "schedule refuses what launch refuses" \
    'campaign sales-copy cannot be scheduled: no bot' \
    msg campaign schedule sales-copy --at 2099-01-01T09:00:00Z
msg member add sales-copy standin >/dev/null || bail "a member for sales-copy"
exits 0 "schedule a draft in the future" msg campaign schedule sales-copy \
    --at 2099-01-01T09:00:00Z
is "$(j "$T_OUT" '[.state,.scheduled_for]')" '["scheduled","2099-01-01T09:00:00.000Z"]' \
    "scheduled, for that time"
refused "schedule in the past" "not in the future" \
    msg campaign schedule basic --at 2001-01-01T00:00:00Z
refused "schedule with a time that is not RFC 3339" "RFC 3339" \
    msg campaign schedule basic --at tomorrow
refused "schedule an active campaign" "campaign sales is active" \
    msg campaign schedule sales --at 2099-01-01T09:00:00Z
out=$(sb_sms +15557770008 +15550001111 "hello scheduled")
rec=$(wait_event 15 '.type=="message" and .dir=="in" and .contact=="+15557770008"') ||
    rec='{}'
is "$(jq -r .campaign <<<"$rec")" sales \
    "a scheduled campaign is not live: its reusable number stays with sales"
exits 0 "launch a scheduled campaign" msg campaign launch sales-copy
is "$(j "$T_OUT" '[.state,has("scheduled_for")]')" '["active",false]' "active now"
msg campaign edit basic --sms +15550004444 >/dev/null &&
    msg member add basic standin >/dev/null || bail "basic made ready"
at=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
exits 0 "schedule a campaign two seconds ahead" msg campaign schedule basic --at "$at"
wait_for 20 sh -c 'msg campaign show basic | jq -e ".state == \"active\""' &&
    pass "it is launched when its time comes" ||
    fail "it is launched when its time comes" "$(msg campaign show basic)"
like "$(msg campaign show basic | jq -r .launched_ts)" "$RFC3339" "with its launch time"
exits 0 "stop: archive" msg campaign stop sales-copy
is "$(j "$T_OUT" '[.state,.enabled]')" '["archived",false]' "archived and disabled"
refused "enable an archived campaign" "campaign sales-copy is archived; clone it to start again" \
    msg campaign enable sales-copy
refused "launch an archived campaign" "is archived; clone it" msg campaign launch sales-copy
refused "edit an archived campaign" "is archived; clone it" \
    msg campaign edit sales-copy --title x
is "$(msg campaign list --state archived | jq -r .name)" sales-copy "--state archived"

# -------------------------------------------------------- export / apply
exits 0 "export" msg campaign export sales
e=$T_OUT
printf '%s\n' "$e" >"$T_HOME/sales.json"
is "$(jq -c 'keys_unsorted[0:3]' <<<"$e")" '["name","title","description"]' \
    "export: keys in a stable order, name first"
is "$(jq -c '[has("state"),has("created_ts"),has("today"),has("open_now")]' <<<"$e")" \
    '[false,false,false,false]' "export: no lifecycle or computed fields"
is "$(msg campaign export sales)" "$e" "export twice: the same bytes"
is "$(msg campaign export sales | msg campaign apply - | jq -r .result)" unchanged \
    "export | apply: unchanged"
exits 0 "apply the exported file" msg campaign apply "$T_HOME/sales.json"
is "$(jq -r .result <<<"$T_OUT")" unchanged "apply FILE: unchanged"
jq '.title = "Sales Europe" | .acd = 12' "$T_HOME/sales.json" >"$T_HOME/edited.json"
is "$(msg campaign apply "$T_HOME/edited.json" | jq -r .result)" updated \
    "an edited file: updated"
is "$(msg campaign show sales | jq -c '[.title,.acd,.state]')" '["Sales Europe",12,"active"]' \
    "the edit took, the state is the stored one"
is "$(msg campaign apply "$T_HOME/edited.json" | jq -r .result)" unchanged \
    "applying it again: unchanged"
jq '.name = "sales-v2" | .channels.sms.addresses |= map(select(.mode=="reusable"))' \
    "$T_HOME/sales.json" >"$T_HOME/new.json"
is "$(msg campaign apply "$T_HOME/new.json" | jq -r .result)" created "a new name: created"
is "$(msg campaign show sales-v2 | jq -c '[.title,.state]')" '["Sales EMEA","draft"]' \
    "created as a draft"
jq '.strategy = "roundrobin"' "$T_HOME/sales.json" >"$T_HOME/bad.json"
refused "apply validates like create" 'unknown strategy "roundrobin"' \
    msg campaign apply "$T_HOME/bad.json"
jq '.colour = "red"' "$T_HOME/sales.json" >"$T_HOME/bad.json"
refused "apply refuses unknown fields" 'unknown field "colour"' \
    msg campaign apply "$T_HOME/bad.json"
jq '.name = "basic"' "$T_HOME/sales.json" >"$T_HOME/bad.json"
refused "apply refuses a provisioned number another campaign holds" \
    '\+15550002222 is provisioned to campaign sales' msg campaign apply "$T_HOME/bad.json"

# ------------------------------------------------------------ validation
refused "a name with capitals" 'campaign name "Bad" must start' msg campaign create Bad
refused "an unknown strategy" 'unknown strategy "fastest": use ringall, linear' \
    msg campaign create v1 --strategy fastest
refused "an unknown time zone" 'unknown time zone "Mars/Olympus"' \
    msg campaign create v1 --timezone Mars/Olympus
refused "overlapping intervals" 'mon interval 2 \(11:00-14:00\) overlaps' \
    msg campaign create v1 --schedule '{"mon":[["09:00","12:00"],["11:00","14:00"]]}'
refused "an inverted interval" 'inverted' \
    msg campaign create v1 --schedule '{"tue":[["18:00","09:00"]]}'
refused "a tag over 30 characters" 'over 30 characters' \
    msg campaign create v1 --tags abcdefghijklmnopqrstuvwxyz01234
refused "a tag twice" 'tag "vip" is listed twice' msg campaign create v1 --tags vip,vip
refused "an SMS number that is not E.164" 'not an E.164 number' \
    msg campaign create v1 --sms 5551234
refused "a provisioned number of another campaign" \
    '\+15550002222 is provisioned to campaign sales' \
    msg campaign create v1 --sms +15550002222
refused "provisioning a number another campaign uses" \
    '\+15550001111 is already used by campaign' \
    msg campaign create v1 --sms +15550001111 --provisioned +15550001111
refused "an unknown operator" 'unknown operator "robot": use agent or bot' \
    msg campaign create v1 --operator robot
refused "IDK custom without a message" 'idk mode custom needs a message' \
    msg campaign create v1 --idk custom
refused "a negative ACD" 'acd must be 0 to 100000, not -1' msg campaign create v1 --acd -1
refused "a MIME type that is not one" 'not a MIME type' \
    msg campaign create v1 --files-types '{"sms":["jpeg"]}'
refused "a team that does not exist" 'no team named "ghosts"' \
    msg campaign create v1 --teams ghosts
refused "a canned response that does not exist" 'no canned response named "/nope"' \
    msg campaign create v1 --canned /nope
refused "a template that does not exist" 'no template named "nope"' \
    msg campaign create v1 --templates nope
refused "a disposition that does not exist" 'no disposition named "Sale/Won"' \
    msg campaign create v1 --dispositions Sale/Won
refused "a holiday that is not a date" 'holiday date "2026-02-30"' \
    msg campaign create v1 --holidays 2026-02-30
is "$(msg campaign list | jq -r 'select(.name=="v1") | .name')" "" \
    "nothing of the refused creates was stored"

# ----------------------------------------------------------------- delete
inbox=$(msg inbox </dev/null)
is "$(jq -r "select(.conv==\"$CONV\") | .campaign" <<<"$inbox")" sales \
    "the sales conversation is in msg inbox"
exits 1 "delete without --yes and no terminal: refused" setsid -w msg campaign delete sales
like "$T_ERR" 'irreversible.*--yes.*msg campaign disable sales' \
    "it says why and suggests disabling"
exits 0 "the campaign is still there" msg campaign show sales
t=$(printf 'n\n' | script -qefc "msg campaign delete basic" /dev/null 2>&1 | tr -d '\r')
like "$t" 'Delete campaign basic.*\[y/N\].*basic was not deleted' \
    "on a terminal it asks; no keeps it"
exits 0 "delete --yes" msg campaign delete sales --yes
is "$(j "$T_OUT" '[.deleted,.convs]')" '["sales",2]' "deleted, with its two conversations"
refused "it is gone" 'no campaign named "sales"' msg campaign show sales
is "$(msg inbox </dev/null | jq -r "select(.conv==\"$CONV\") | .conv")" "" \
    "its conversation is gone from msg inbox"
exits 0 "its provisioned number is free again" msg campaign create sales \
    --sms +15550002222 --provisioned +15550002222
refused "delete a campaign that does not exist" 'no campaign named "nosuch"' \
    msg campaign delete nosuch --yes

# ------------------------------------------------------------------ roles
if ! tuser_ok; then
	for i in 1 2 3 4 5 6 7 8; do skip "roles: needs root, useradd, userdel and setpriv"; done
else
	U=parleyt$$
	tuser_add "$U"
	as() { as_user "$U" "$@"; }
	exits 1 "a Unix user who is not an agent is refused" as msg campaign list
	msg agent add ann --user "$U" --role agent >/dev/null 2>&1 &&
	    msg member add always ann >/dev/null 2>&1 &&
	    pass "make an agent, member of always" ||
	    fail "make an agent, member of always"
	exits 0 "an agent lists campaigns" as msg campaign list
	is "$(jq -r .name <<<"$T_OUT" | tr '\n' ' ')" "always " \
	    "an agent sees only the campaigns it is a member of"
	exits 1 "an agent cannot show another campaign" as msg campaign show never
	exits 1 "an agent cannot create" as msg campaign create mine
	like "$T_ERR" 'admin' "it needs the admin role"
	msg agent edit ann --role supervisor >/dev/null 2>&1
	is "$(as msg campaign list | jq -r .name | tr '\n' ' ')" \
	    "always basic never sales sales-copy sales-v2 " "a supervisor sees them all"
fi

done_testing
