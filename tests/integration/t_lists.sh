#!/bin/bash
# t_lists — contact lists through `msg list` against the running daemons:
# create/show/list/delete, add and remove by phone (a missing contact
# created), segments (--where on tags and fields, evaluated when read, so a
# contact edited later moves in or out), a CSV import (first/last names,
# time zone, tags, custom fields) staged and committed whole: a bad row is
# reported with its line number and nothing is applied; a duplicate phone
# names the other line; a 100,000-row import timed with msg's and
# campaignd's peak RSS bounded; deleting a contact takes it out of its
# lists; contacts split name into first and last; lists are admin-only (an
# agent is refused).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 104
stack_start

count() { grep -c . <<<"$1" | tr -d ' '; }

# ===================================================== contacts: names
exits 0 "a contact with first and last name, time zone and tags" \
    msg contact add --first-name Ada --last-name Lovelace --phone +15557000001 \
    --timezone Europe/London --tag vip --field city=Lyon
ADA=$(jq -r .id <<<"$T_OUT")
is "$(jq -r '[.first_name,.last_name,.name,.timezone,(.tags|join(";"))]|join("|")' <<<"$T_OUT")" \
    "Ada|Lovelace|Ada Lovelace|Europe/London|vip" "names joined, zone and tags kept"
exits 0 "a contact given one name" msg contact add --name "Grace Brewster Hopper" --phone +15557000002
is "$(jq -r '[.first_name,.last_name]|join("|")' <<<"$T_OUT")" "Grace|Brewster Hopper" \
    "is split at the first space"
exits 1 "an unknown time zone is refused" \
    msg contact add --name X --phone +15557000003 --timezone Mars/Olympus
like "$T_ERR" 'unknown time zone "Mars/Olympus"' "saying so"
exits 0 "search finds a contact by its last name" msg contact search lovelace
is "$(jq -r .id <<<"$T_OUT")" "$ADA" "the right one"
exits 0 "contact edit --last-name" msg contact edit "$ADA" --last-name King
is "$(jq -r .name <<<"$T_OUT")" "Ada King" "the name follows"
exits 0 "search by the new last name" msg contact search king
exits 1 "the old last name is gone from the index" msg contact search lovelace

# ===================================================== static lists
exits 0 "list create" msg list create clients --description "our clients"
is "$(jq -r '[.kind,.count]|join(" ")' <<<"$T_OUT")" "static 0" "a static list, empty"
exits 1 "the same name twice is refused" msg list create clients
like "$T_ERR" 'a contact list named "clients" exists' "saying so"
exits 1 "a bad name is refused" msg list create "Bad Name"
exits 0 "list add two numbers" msg list add clients +15557000001 +15557000009
is "$(jq -r '[.added,.created]|join(" ")' <<<"$T_OUT")" "2 1" \
    "both added, the unknown number created as a contact"
exits 0 "adding one again changes nothing" msg list add clients +15557000001
is "$(jq -r '[.added,.already]|join(" ")' <<<"$T_OUT")" "0 1" "and says so"
exits 1 "a number that is not E.164 is refused" msg list add clients 5551234
like "$T_ERR" "not E\.164.*nothing changed" "nothing changed"
exits 0 "list show" msg list show clients
is "$(jq -r .count <<<"$T_OUT")" 2 "counts two"
exits 0 "list show --members" msg list show clients --members
is "$(jq -r .phone <<<"$T_OUT" | tr '\n' ' ')" "+15557000001 +15557000009 " \
    "the members in contact order"
is "$(jq -r 'select(.phone=="+15557000001")|.first_name' <<<"$T_OUT")" "Ada" \
    "with their names split"
exits 0 "list remove" msg list remove clients +15557000009
is "$(jq -r .removed <<<"$T_OUT")" 1 "one removed"
exits 1 "removing a number no contact has is refused" msg list remove clients +15557000099
exits 0 "list list" msg list list
is "$(jq -r .name <<<"$T_OUT")" "clients" "lists it"

# ===================================================== segments
exits 0 "a segment on a tag and a field" msg list create lyonvip --where 'tag=vip,city=Lyon'
is "$(jq -r .kind <<<"$T_OUT")" segment "is a segment"
exits 1 "a --where that is not FIELD=VALUE is refused" msg list create bad --where 'tag'
like "$T_ERR" "is not FIELD=VALUE" "saying so"
exits 0 "segment show counts at read time" msg list show lyonvip
is "$(jq -r .count <<<"$T_OUT")" 1 "one contact matches"
exits 0 "a second VIP in Lyon" msg contact add --name "Bob Lyon" --phone +15557000010 --tag vip --field city=lyon
exits 0 "segment members" msg list show lyonvip --members
is "$(jq -r .phone <<<"$T_OUT" | tr '\n' ' ')" "+15557000001 +15557000010 " \
    "the new contact is in (case is ignored)"
exits 0 "a prefix and a negation" msg list create notus --where 'phone!=+1555700001*'
exits 0 "members" msg list show notus --members
is "$(jq -r .phone <<<"$T_OUT" | sort | tr '\n' ' ')" "+15557000001 +15557000002 +15557000009 " \
    "every contact but the one whose number has the prefix"
exits 1 "list add to a segment is refused" msg list add lyonvip +15557000002
like "$T_ERR" "is a segment" "saying so"

# ===================================================== import
IMP="$T_HOME/imp.csv"
cat >"$IMP" <<'CSV'
first_name,last_name,phone,timezone,tags,city
Chloé,Martin,+33612345001,Europe/Paris,"vip,fr",Lyon
Jean,Dupont,+33612345002,,fr,Paris
Amir,,+33612345003,Europe/Paris,,Lyon
CSV
exits 0 "import of three rows" msg list import clients "$IMP"
like "$T_ERR" "imported 3 rows into clients: 3 contacts created" "says what it did"
exits 0 "the list" msg list show clients
is "$(jq -r .count <<<"$T_OUT")" 4 "has four members"
exits 0 "the segment sees the imported VIP in Lyon" msg list show lyonvip
is "$(jq -r .count <<<"$T_OUT")" 3 "three now"

BAD="$T_HOME/bad.csv"
cat >"$BAD" <<'CSV'
first_name,last_name,phone,timezone
Zoe,A,+33612345101,Europe/Paris
Yann,B,+33612345102,Nowhere/City
Xavier,C,12345
Will,D,+33612345101,
CSV
exits 1 "an import with bad rows exits 1" msg list import clients "$BAD"
like "$T_ERR" "import: line 3: unknown time zone" "line 3: the time zone"
like "$T_ERR" "import: line 4: 3 fields, the header has 4" "line 4: its fields"
like "$T_ERR" "import: line 5: phone \+33612345101 is also on line 2" "line 5: a duplicate"
like "$T_ERR" "nothing imported" "and nothing imported"
exits 1 "not even the good row" msg contact search +33612345101
exits 0 "the list is as it was" msg list show clients
is "$(jq -r .count <<<"$T_OUT")" 4 "four members"

# a progress bar on a terminal (script(1) gives msg one)
if command -v script >/dev/null 2>&1; then
	msg list create ttyl >/dev/null
	script -qec "msg list import ttyl '$IMP'" /dev/null >"$T_HOME/tty.out" 2>&1 </dev/null
	like "$(tr '\r' '\n' <"$T_HOME/tty.out")" "import ttyl: \[#+ *\] +[0-9]+% [0-9]+ rows" \
	    "a progress bar is drawn on a terminal"
else
	skip "script(1) is not installed"
fi

# ===================================================== contact deletion
exits 0 "delete a member contact" msg contact delete "$ADA"
exits 0 "the list" msg list show clients
is "$(jq -r .count <<<"$T_OUT")" 3 "lost it"
exits 0 "members" msg list show clients --members
ok "it is no longer listed" sh -c "! grep -q +15557000001 <<'E'
$T_OUT
E"

# ===================================================== 100,000 rows
BIG="$T_HOME/big.csv"
awk 'BEGIN { print "first_name,last_name,phone,timezone,plan"
	for (i = 0; i < 100000; i++)
		printf "F%d,L%d,+1444%07d,America/New_York,p%d\n", i, i, i, i % 7 }' >"$BIG"
exits 0 "list create big" msg list create big
rss() { /usr/bin/time -f %M -o "$T_HOME/rss" "$@"; }
RSS_MAX=$((65536 * MEM_FACTOR))
t0=$(now_ms)
if [ -x /usr/bin/time ]; then TIME=rss; else TIME=; fi
exits 0 "a 100,000-row import" $TIME msg list import big "$BIG"
t1=$(now_ms)
grep -h "import\|map" "$T_HOME"/service/campaignd/log/main/current | tail -n 5 | while read -r l; do diag "$l"; done
diag "100,000-row import: $((t1 - t0)) ms; msg max RSS $(cat "$T_HOME/rss" 2>/dev/null | tail -n 1) KiB; campaignd VmHWM $(awk '/^VmHWM/ {print $2}' /proc/$(sv_pid campaignd)/status) KiB"
if [ -n "$TIME" ]; then
	[ "$(tail -n 1 "$T_HOME/rss")" -lt "$RSS_MAX" ] && pass "msg stayed under $((64 * MEM_FACTOR)) MiB" ||
	    fail "msg stayed under $((64 * MEM_FACTOR)) MiB" "max RSS $(tail -n 1 "$T_HOME/rss") KiB"
else
	skip "/usr/bin/time is not installed"
fi
exits 0 "big" msg list show big
is "$(jq -r .count <<<"$T_OUT")" 100000 "holds 100,000"
exits 0 "a segment over 100,000 contacts" msg list create p3 --where 'plan=p3'
exits 0 "counted at read time" msg list show p3
is "$(jq -r .count <<<"$T_OUT")" 14286 "one in seven"

# ===================================================== 300,000 rows: bounded, unseen until the end
# The apply runs in steps of 1,000 rows (one transaction each): campaignd's
# peak RSS stays bounded whatever the file's size, and a reader sees the
# list empty until the import's final flip, then whole.
HUGE="$T_HOME/huge.csv"
awk 'BEGIN { print "first_name,last_name,phone"
	for (i = 0; i < 300000; i++)
		printf "H%d,K%d,+1445%07d\n", i, i, i }' >"$HUGE"
exits 0 "list create huge" msg list create huge
# the import's own peak: a campaignd started afresh (VmHWM is since start)
diag "campaignd VmHWM before: $(awk '/^VmHWM/ {print $2}' /proc/"$(sv_pid campaignd)"/status) KiB"
ok "campaignd restarted for a clean peak" svc_restart campaignd
wait_for 20 msg list show huge
CPID=$(sv_pid campaignd)
t0=$(now_ms)
msg list import huge "$HUGE" >"$T_HOME/huge.out" 2>"$T_HOME/huge.err" &
IPID=$!
bg_track $IPID
looks=0 partial=""
while ! proc_done $IPID; do
	grep -q applying "$T_HOME/huge.err" || { sleep 0.2; continue; }
	# members first, then the count: a flip between the two is whole.
	# The members walk steps over the pending entries (RSS: see
	# campaignd(8)), so it is looked at once, the count throughout
	m=0
	[ "$looks" = 0 ] && m=$(msg list show huge --members --limit 5 2>/dev/null | grep -c +1445)
	n=$(msg list show huge 2>/dev/null | jq -r .count)
	looks=$((looks + 1))
	if { [ "$n" != 0 ] && [ "$n" != 300000 ]; } || { [ "$m" != 0 ] && [ "$n" != 300000 ]; }; then
		partial="$partial members=$m count=$n;"
	fi
	sleep 0.3
done
wait $IPID
irc=$?
bg_untrack $IPID
t1=$(now_ms)
is "$irc" 0 "a 300,000-row import exits 0"
like "$(cat "$T_HOME/huge.err")" "imported 300000 rows into huge: 300000 contacts created" "says what it did"
ok "a reader saw the list empty, then whole ($looks looks during the apply)" test -z "$partial" -a "$looks" -gt 0
if [ -n "$partial" ]; then diag "partial: $partial"; fi
HWM=$(awk '/^VmHWM/ {print $2}' /proc/"$CPID"/status)
diag "300,000-row import: $((t1 - t0)) ms; campaignd VmHWM $HWM KiB"
is "$(sv_pid campaignd)" "$CPID" "campaignd was not restarted"
ok "campaignd's peak RSS stayed under $((64 * MEM_FACTOR)) MiB ($HWM KiB)" test "$HWM" -lt "$RSS_MAX"
exits 0 "huge" msg list show huge
is "$(jq -r .count <<<"$T_OUT")" 300000 "holds 300,000"

# ===================================================== SIGKILL mid-apply
# campaignd killed while it applies a 200,000-row import: the supervisor
# starts it again, it carries the apply on to the end, and msg (waiting)
# reports the outcome; the list is whole (never partial); a rerun works.
KL="$T_HOME/kill.csv"
awk 'BEGIN { print "first_name,last_name,phone"
	for (i = 0; i < 200000; i++)
		printf "J%d,M%d,+1446%07d\n", i, i, i }' >"$KL"
exits 0 "list create killed" msg list create killed
msg list import killed "$KL" >"$T_HOME/kill.out" 2>"$T_HOME/kill.err" &
IPID=$!
bg_track $IPID
ok "the apply began" wait_for 300 grep -q applying "$T_HOME/kill.err"
sleep 0.5
CPID=$(sv_pid campaignd)
kill -KILL "$CPID"
ok "campaignd killed mid-apply is started again" wait_for 30 svc_restarted campaignd "$CPID"
wait $IPID
irc=$?
bg_untrack $IPID
is "$irc" 0 "msg waited and reports the import"
like "$(cat "$T_HOME"/service/campaignd/log/main/current)" "import imp_[0-9A-Z]+ was applying when campaignd stopped; carrying it on" \
    "the restarted campaignd carries the apply on"
like "$(cat "$T_HOME/kill.err")" "imported 200000 rows into killed" "and the outcome"
grep -h "killed\|apply" "$T_HOME"/service/campaignd/log/main/current | tail -n 4 | while read -r l; do diag "$l"; done
exits 0 "killed" msg list show killed
is "$(jq -r .count <<<"$T_OUT")" 200000 "the list is whole"
is "$(msg list show killed --members | grep -c +1446)" 200000 "every member is listed once"
exits 0 "a rerun of the import" msg list import killed "$KL"
like "$T_ERR" "imported 200000 rows into killed: 0 contacts created, 200000 updated, 0 added" "updates, adds none"
exits 0 "killed again" msg list show killed
is "$(jq -r .count <<<"$T_OUT")" 200000 "still 200,000"

# ===================================================== delete
exits 1 "delete an unknown list" msg list delete nosuch
exits 0 "delete a list" msg list delete big
is "$(jq -r .members <<<"$T_OUT")" 100000 "with its members"
exits 0 "its contacts stay in the book" msg contact search +14440000005

# ===================================================== roles
U=parleyl$$
if ! tuser_ok; then
	for i in 1 2 3; do skip "roles need root, useradd, userdel and setpriv"; done
else
	tuser_add "$U"
	msg agent add lagent --user "$U" --role agent >/dev/null || bail "agent add"
	exits 1 "an agent cannot list the lists" as_user "$U" msg list list
	like "$T_ERR" "needs the admin role" "the admin role is needed"
	exits 1 "nor create one" as_user "$U" msg list create mine
fi

done_testing
