#!/bin/bash
# t_spool — the spool and the daemons' state as an agent would attack them
# (issue 9, items 3 and 4), with throwaway Unix users mapped as agents of a
# WhatsApp campaign that takes local files.  The spool is set up as the
# install steps make it: a write-only drop, mode 3730, group "parleydrop"
# (here a throwaway group the agents are put in; the daemons are not).
#
# An agent names, in a send request it writes itself, a spool entry it
# planted: a symbolic link to a secret, a hard link to a file it does not
# own and one to its own file, another agent's file, a directory, a FIFO.
# Each is refused with exit 1 and one reason that says nothing about the
# target (no size), and nothing reaches sandboxd's Cloud API.  whatsappd
# checks again on its own (an "out" request naming such an entry, or a
# path, is refused).  A legitimate file still goes through, its copy in the
# spool unreadable by the other agent; the LMDB environments and secrets
# are unreadable by an agent and have the designed modes; and an over-wide
# store left by an older install is tightened when its daemon starts.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

tuser_ok || skip_all "needs root, useradd, userdel and setpriv"
plan 65
stack_start

ALWAYS='{"mon":[["00:00","24:00"]],"tue":[["00:00","24:00"]],"wed":[["00:00","24:00"]],"thu":[["00:00","24:00"]],"fri":[["00:00","24:00"]],"sat":[["00:00","24:00"]],"sun":[["00:00","24:00"]]}'
PN=106540352242977
CUST=16505550277
msg campaign create spooled --whatsapp $PN --schedule "$ALWAYS" \
    --files yes --files-local yes >/dev/null ||
    bail "msg campaign create spooled"
camp_launch spooled || bail "launch spooled"

# --- the people: agents ann and bob, and the spool's group
G=parleyg$$
A=parleya$$
B=parleyb$$
tuser_add "$G"			# its own group stands for parleydrop
DROP=$(id -g "$G")
tuser_add "$A"
UA=$TUSER_UID
tuser_add "$B"
UB=$TUSER_UID
msg agent add ann --user "$A" >/dev/null && msg member add spooled ann \
    >/dev/null && msg agent add bob --user "$B" >/dev/null &&
    msg member add spooled bob >/dev/null || bail "agents ann and bob"
# bustool req writes the requests msg never would (tuser_add copied it)
[ -x "$T_HOME/bin/bustool" ] || bail "bustool is not built"

SP=$T_HOME/spool
is "$(stat -c %a "$SP")" 3730 "mkhome makes the spool 3730"
chgrp "$DROP" "$SP"
# an agent who sends files: its own user and group, plus parleydrop
as_agent() { as_user -G "$DROP" "$@"; }
# each agent's own files, outside the spool
for u in "$A" "$B"; do
	install -d -o "$u" -g "$(id -g "$u")" -m 0700 "$T_HOME/files.$u"
done
# fails DESC COMMAND...: COMMAND exits non-zero (cat, ls: 1 or 2)
fails() {
	local desc=$1
	shift
	if "$@" >/dev/null 2>&1; then
		fail "$desc" "command: $*" "it succeeded"
	else
		pass "$desc"
	fi
}
pdf() { printf '%%PDF-1.4\n%%%s\n%%%%EOF\n' "$2" >"$1"; }

# --- a customer writes in on WhatsApp
sb_wa "$(jq -nc --arg p $PN --arg f "+$CUST" '{from:$f, to:$p, name:"Sam",
    type:"text", text:"the invoice please"}')" >/dev/null
rec=$(wait_event 10 ".type==\"message\" and .contact==\"+$CUST\"") ||
    bail "the customer's message was not stored"
CONV=$(jq -r .conv <<<"$rec")

uploads() {
	sb_get '/sandbox/received?api=whatsapp' |
	    jq -c 'select((.path // "") | endswith("/media"))' | wc -l
}
docs() { sb_wa_sends '.body.type=="document"' | wc -l; }

# --- a legitimate file, while whatsappd is down: its copy waits in the spool
svc_down whatsappd
as_agent "$A" sh -c "$(declare -f pdf); pdf '$T_HOME/files.$A/invoice.pdf' ann"
exits 0 "ann sends her own file (whatsappd down: it waits)" \
    as_agent "$A" msg send --conv "$CONV" --file "$T_HOME/files.$A/invoice.pdf" \
    "your invoice"
LEGIT=$(jq -r .id <<<"$T_OUT")
copy=$(ls "$SP" | grep '^f_' | head -n 1)
ok "msg put a copy in the spool" test -n "$copy"
is "$(stat -c '%a %U' "$SP/$copy")" "604 $A" \
    "the copy is ann's, mode 0604 (no group bits)"
is "$(stat -c %g "$SP/$copy")" "$DROP" "it has the spool's group (setgid)"
exits 1 "bob cannot read ann's copy, even by its name" \
    as_agent "$B" cat "$SP/$copy"
fails "no agent can list the spool" as_agent "$A" ls "$SP"
exits 1 "bob cannot remove ann's copy (sticky)" as_agent "$B" rm -f "$SP/$copy"
ok "ann's copy is still there" test -f "$SP/$copy"
exits 1 "without the spool's group no one reaches into it" \
    as_user "$A" cat "$SP/$copy"

# --- the attacks: a send naming an entry the agent planted
SECRET=$T_HOME/secrets/whatsapp_app_secret
SSIZE=$(stat -c %s "$SECRET")
ulid() { echo "f_$(msg_ulid)"; }
# a ULID as msg makes them: 26 Crockford base32 characters, time first
msg_ulid() {
	local a=0123456789ABCDEFGHJKMNPQRSTVWXYZ s=0 i
	for ((i = 1; i < 26; i++)); do s+=${a:RANDOM % 32:1}; done
	echo "$s"
}
# sendreq USER SPOOLNAME SIZE: a send request for that spool entry
sendreq() {
	as_agent "$1" bustool req "$T_HOME/run/routerd.sock" "$(jq -nc \
	    --arg c "$CONV" --arg s "$2" --argjson n "$3" '{t:"send", conv:$c,
	    text:"here it is", file:{name:"invoice.pdf",
	    mime:"application/pdf", size:$n, source:"local", spool:$s}}')"
}
REASON="not a regular file of yours in the spool"
up0=$(uploads)
docs0=$(docs)
# refused WHAT USER NAME SIZE: the request is refused with REASON alone
refused() {
	local what=$1
	exits 1 "$what: refused" sendreq "$2" "$3" "$4"
	is "$(jq -r '.err.msg // empty' <<<"$T_OUT")" "send: $REASON" \
	    "$what: one reason, whatever the entry is"
	if [[ $T_OUT$T_ERR =~ \"msg\":\"[^\"]*[0-9] ]]; then
		fail "$what: the refusal shows no size" "$T_OUT"
	else
		pass "$what: the refusal shows no size"
	fi
}

S1=$(ulid)
as_agent "$A" ln -s "$SECRET" "$SP/$S1"
ok "ann can plant a symbolic link in the spool" test -L "$SP/$S1"
refused "a symlink to the app secret" "$A" "$S1" "$SSIZE"

S2=$(ulid)
ln "$SECRET" "$SP/$S2" 2>/dev/null	# root may, whatever protected_hardlinks
ok "a hard link to the app secret is in the spool" test -f "$SP/$S2"
refused "a hard link to a file ann does not own" "$A" "$S2" "$SSIZE"

S3=$(ulid)
as_agent "$A" sh -c "$(declare -f pdf); pdf '$T_HOME/files.$A/own.pdf' mine
    ln '$T_HOME/files.$A/own.pdf' '$SP/$S3'"
refused "a hard link to ann's own file" "$A" "$S3" \
    "$(stat -c %s "$T_HOME/files.$A/own.pdf")"

S4=$(ulid)
as_agent "$B" sh -c "$(declare -f pdf); umask 022; pdf '$SP/$S4' bob"
ok "bob's file is in the spool" test -f "$SP/$S4"
refused "bob's file, named by ann" "$A" "$S4" "$(stat -c %s "$SP/$S4")"

S5=$(ulid)
as_agent "$A" mkdir "$SP/$S5"
refused "a directory" "$A" "$S5" 4096

S6=$(ulid)
as_agent "$A" mkfifo "$SP/$S6"
refused "a FIFO" "$A" "$S6" 0

S7=$(ulid)
refused "a name with nothing behind it" "$A" "$S7" 33

exits 1 "a spool name with a path in it is refused" sendreq "$A" \
    "../secrets/whatsapp_app_secret" "$SSIZE"

# --- whatsappd checks on its own: an out request naming such an entry
outreq() {
	"$T_HOME/bin/bustool" req "$T_HOME/run/whatsappd.sock" "$(jq -nc --arg p $PN \
	    --arg to "+$CUST" --arg m "m_$(msg_ulid)" --argjson f "$1" \
	    '{t:"out", msg:$m, channel:"whatsapp", from:$p, to:$to, text:"x",
	    file:$f}')"
}
sv -w 15 up "$(svc whatsappd)" >/dev/null
wait_for 15 msg ping -q -w 1 whatsappd || bail "whatsappd did not come back"
st=$(wait_event 20 ".type==\"status\" and .id==\"$LEGIT\" and .status==\"sent\"")
ok "ann's legitimate file was sent once whatsappd was up" test -n "$st"
is "$(docs)" $((docs0 + 1)) "sandboxd received one document: ann's"
is "$(uploads)" $((up0 + 1)) "and one upload"
ok "its copy left the spool" wait_for 10 test ! -e "$SP/$copy"

exits 1 "whatsappd: an out request naming a symlink is refused" \
    outreq "$(jq -nc --arg s "$S1" --argjson u "$UA" --argjson n "$SSIZE" \
    '{spool:$s, name:"a.pdf", mime:"application/pdf", size:$n, uid:$u}')"
is "$(jq -r '.err.code + " " + .err.msg' <<<"$T_OUT")" "file $REASON" \
    "with the one reason, as code file"
exits 1 "whatsappd: a hard link to the secret is refused" \
    outreq "$(jq -nc --arg s "$S2" --argjson u 0 --argjson n "$SSIZE" \
    '{spool:$s, name:"a.pdf", mime:"application/pdf", size:$n, uid:$u}')"
exits 1 "whatsappd: bob's file as ann's is refused" \
    outreq "$(jq -nc --arg s "$S4" --argjson u "$UA" \
    --argjson n "$(stat -c %s "$SP/$S4")" \
    '{spool:$s, name:"a.pdf", mime:"application/pdf", size:$n, uid:$u}')"
exits 1 "whatsappd: a path instead of a spool name is refused" \
    outreq "$(jq -nc --arg p "$SECRET" --argjson n "$SSIZE" \
    '{path:$p, name:"a.pdf", mime:"application/pdf", size:$n}')"
is "$(jq -r .err.code <<<"$T_OUT")" invalid "as invalid"
is "$(uploads)" $((up0 + 1)) "nothing else was uploaded to the Cloud API"
is "$(docs)" $((docs0 + 1)) "and no other document was sent"
secret_sha=$(sha256sum "$SECRET" | cut -d' ' -f1)
ok "the secret's bytes never reached sandboxd" sh -c \
    "! curl -s '$SANDBOX_URL/sandbox/received?api=whatsapp' | grep -q '$secret_sha'"

# --- msg itself reads only what its user can
exits 1 "msg send --file of a secret: ann cannot read it" \
    as_agent "$A" msg send --conv "$CONV" --file "$SECRET"
like "$T_ERR" "Permission denied" "msg says so"
ok "no refused send left a copy in the spool" sh -c \
    "! ls -A '$SP' | grep -q '^\\.f_'"

# --- daemon state and secrets: the agents' group gives no way in
for d in routerd campaignd; do
	is "$(stat -c %a "$T_HOME/db/$d")" 700 "db/$d is 0700"
	is "$(stat -c %a "$T_HOME/db/$d/data.mdb") $(stat -c %a \
	    "$T_HOME/db/$d/lock.mdb")" "600 600" "db/$d/data.mdb and lock.mdb are 0600"
	exits 1 "ann cannot read db/$d/data.mdb" \
	    as_agent "$A" cat "$T_HOME/db/$d/data.mdb"
done
is "$(stat -c %a "$T_HOME/secrets")" 700 "secrets/ is 0700"
is "$(find "$T_HOME/secrets" -type f -exec stat -c %a {} + | sort -u)" 600 \
    "every secret is 0600"
is "$(find "$T_HOME/secrets" -mindepth 1 -type d -exec stat -c %a {} + | sort -u)" \
    700 "and the Pages' token directory 0700"
exits 1 "ann cannot read the app secret" as_agent "$A" cat "$SECRET"
exits 1 "ann cannot read the Twilio auth token" \
    as_agent "$A" cat "$T_HOME/secrets/twilio_auth_token"

# --- an older install's over-wide store is tightened when routerd starts
svc_down routerd
chmod 0755 "$T_HOME/db/routerd"
chmod 0644 "$T_HOME/db/routerd/data.mdb" "$T_HOME/db/routerd/lock.mdb"
sv -w 15 up "$(svc routerd)" >/dev/null
wait_for 15 msg ping -q -w 1 routerd || bail "routerd did not come back"
is "$(stat -c %a "$T_HOME/db/routerd") $(stat -c %a \
    "$T_HOME/db/routerd/data.mdb") $(stat -c %a "$T_HOME/db/routerd/lock.mdb")" \
    "700 600 600" "routerd tightened 0755/0644/0644 to 0700/0600/0600 at start"
ok "and logged it" wait_for 5 grep -q \
    "db/routerd/data.mdb: mode 0644 tightened to 0600" "$T_HOME/log/routerd/current"
exits 1 "ann still cannot read it" as_agent "$A" cat "$T_HOME/db/routerd/data.mdb"

done_testing
