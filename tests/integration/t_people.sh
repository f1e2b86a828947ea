#!/bin/bash
# t_people — agents, teams and campaign members through `msg agent`, `msg
# team` and `msg member` against the running daemons: every operation, each
# validation class refused with exit 1 and a one-line reason, positions kept
# 1..n through add/remove/reorder/copy, the Unix-user index kept in step,
# deletes that say where a thing was used.  Then the roles for real (as
# root): a throwaway Unix user mapped to an agent runs msg as agent,
# supervisor and admin, and only the admin may write.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

ROLE_TESTS=35
plan $((148 + ROLE_TESTS))
stack_start

# Existing Unix logins to map agents to (not root: root is always admin).
mapfile -t U < <(getent passwd | cut -d: -f1 | grep -vx root | head -n 5)
[ "${#U[@]}" -ge 5 ] || bail "need five Unix users besides root"

# refused DESC PATTERN COMMAND...: exit 1 with one stderr line matching.
refused() {
	local desc=$1 pat=$2
	shift 2
	exits 1 "$desc: exit 1" "$@"
	if [ "$(grep -c . <<<"$T_ERR")" = 1 ] &&
	    [[ $T_ERR =~ ^msg:\ [a-z]+:\ .*$pat ]]; then
		pass "$desc: one-line reason"
	else
		fail "$desc: one-line reason" "     got: '$T_ERR'" \
		    "expected one line matching: /^msg: [a-z]+: .*$pat/"
	fi
}

# members CAMPAIGN: "agent:position" in list order, space-separated.
members() {
	msg member list "$1" | jq -r '"\(.agent):\(.position)"' | tr '\n' ' ' |
	    sed 's/ $//'
}

# ------------------------------------------------------------- teams
exits 0 "team add t1 --description" msg team add t1 --description "Tier one"
is "$(jq -r .description <<<"$T_OUT")" "Tier one" "team add prints the team"
exits 0 "team add t2" msg team add t2
refused "duplicate team" 'a team named "t1" exists' msg team add t1
refused "bad team name" 'team name "Bad" must start' msg team add Bad
exits 0 "team edit t1 --description" msg team edit t1 --description "Tier 1"
is "$(msg team show t1 | jq -r .description)" "Tier 1" "the new description shows"
refused "team edit unknown" 'no team named "t9"' msg team edit t9 --description x
exits 2 "team edit without --description is a usage error" msg team edit t1
is "$(msg team list | jq -r .name | tr '\n' ' ')" "t1 t2 " "team list, JSON Lines"

# ------------------------------------------------------------- agents
exits 0 "agent add alice (agent, t1)" \
    msg agent add alice --user "${U[0]}" --role agent --teams t1
is "$(jq -c '[.name,.user,.role,.teams]' <<<"$T_OUT")" \
    "[\"alice\",\"${U[0]}\",\"agent\",[\"t1\"]]" "agent add prints the agent"
like "$(jq -r .created_ts <<<"$T_OUT")" '^20[0-9]{2}-' "with created_ts"
exits 0 "agent add bob (supervisor, t1,t2)" \
    msg agent add bob --user "${U[1]}" --role supervisor --teams t1,t2
exits 0 "agent add carol (role defaults to agent)" \
    msg agent add carol --user "${U[2]}"
is "$(jq -r .role <<<"$T_OUT")" agent "the default role is agent"
refused "duplicate agent" 'an agent named "alice" exists' \
    msg agent add alice --user "${U[3]}"
refused "bad role" 'role must be agent, supervisor or admin' \
    msg agent add dave --user "${U[3]}" --role boss
refused "unknown Unix user" "no Unix user named \"nosuch$$\"" \
    msg agent add dave --user "nosuch$$"
refused "duplicate user mapping" "Unix user ${U[0]} is already agent alice" \
    msg agent add dave --user "${U[0]}"
refused "unknown team" 'no team named "t7"' \
    msg agent add dave --user "${U[3]}" --teams t1,t7
refused "bad agent name" 'agent name "Dave" must start' \
    msg agent add Dave --user "${U[3]}"
exits 2 "agent add without --user is a usage error" msg agent add dave
exits 2 "an unknown option is a usage error" msg agent add dave --user x --bogus y
exits 1 "nothing was half-applied: dave does not exist" msg agent show dave
exits 0 "agent show alice" msg agent show alice
is "$(jq -c '[.user,.role,.teams,.campaigns]' <<<"$T_OUT")" \
    "[\"${U[0]}\",\"agent\",[\"t1\"],[]]" "agent show: user, role, teams, campaigns"
refused "agent show unknown" 'no agent named "zed"' msg agent show zed
is "$(msg agent list | jq -r .name | tr '\n' ' ')" "alice bob carol " "agent list"
is "$(msg agent list --role supervisor | jq -r .name)" bob "agent list --role"
is "$(msg agent list --team t2 | jq -r .name)" bob "agent list --team"
is "$(msg agent list --search CAR | jq -r .name)" carol "agent list --search (name)"
is "$(msg agent list --search "${U[2]}" | jq -r .name)" carol "agent list --search (user)"
refused "agent list --role bad" 'role must be' msg agent list --role boss
exits 0 "agent edit alice --role supervisor --teams t1,t2" \
    msg agent edit alice --role supervisor --teams t1,t2
is "$(msg agent show alice | jq -c '[.role,.teams]')" '["supervisor",["t1","t2"]]' \
    "the edit shows"
exits 0 "agent edit alice --role agent --teams t1" \
    msg agent edit alice --role agent --teams t1
refused "agent edit: bad role" 'role must be' msg agent edit alice --role boss
refused "agent edit: unknown agent" 'no agent named "zed"' msg agent edit zed --role agent
refused "agent edit: nothing to change" 'nothing to change' msg agent edit alice
refused "agent edit: taken user" "Unix user ${U[1]} is already agent bob" \
    msg agent edit alice --user "${U[1]}"
exits 0 "agent edit carol --user (a new login)" msg agent edit carol --user "${U[3]}"
is "$(msg agent show carol | jq -r .user)" "${U[3]}" "carol's new login"
exits 0 "carol's old login is free again (index kept in step)" \
    msg agent add dave --user "${U[2]}"
refused "carol's new login is taken" "Unix user ${U[3]} is already agent carol" \
    msg agent add erin --user "${U[3]}"
is "$(msg team show t1 | jq -c .agents)" '["alice","bob"]' "team show lists its agents"
is "$(msg team list | jq -r 'select(.name=="t2") | .agents | join(",")')" bob \
    "team list shows the agents"
is "$(msg agent whoami)" "admin (uid 0)" "whoami as root: admin (uid 0)"
is "$(msg agent whoami --json | jq -c '[.role,.agent]')" '["admin",null]' "whoami --json"

# ------------------------------------------------------------ members
exits 0 "campaign create sales (teams t2)" msg campaign create sales --teams t2
exits 0 "campaign create support" msg campaign create support
exits 0 "member add sales alice" msg member add sales alice
is "$(jq -c '[.campaign,.agent,.position,.penalty,.receive,.create]' <<<"$T_OUT")" \
    '["sales","alice",1,0,true,true]' "defaults: position 1, penalty 0, receive and create"
exits 0 "member add sales bob --penalty 2 --receive no" \
    msg member add sales bob --penalty 2 --receive no
is "$(jq -c '[.position,.penalty,.receive,.create]' <<<"$T_OUT")" '[2,2,false,true]' \
    "appended at the end with its settings"
exits 0 "member add sales carol --position 1 --create no" \
    msg member add sales carol --position 1 --create no
is "$(members sales)" "carol:1 alice:2 bob:3" "inserting at 1 shifts the others"
is "$(msg member list sales | jq -r .role | tr '\n' ' ')" "agent agent supervisor " \
    "member list carries each agent's role"
refused "member: not an agent" 'zed is not an agent' msg member add sales zed
refused "member: unknown campaign" 'no campaign named "nosuch"' msg member add nosuch alice
refused "member: duplicate" 'alice is already a member of sales' msg member add sales alice
refused "member: position past the end" 'position must be a whole number from 1 to 4' \
    msg member add sales dave --position 9
refused "member: position 0" 'position must be' msg member add sales dave --position 0
refused "member: negative penalty" 'penalty must be a whole number from 0' \
    msg member add sales dave --penalty -1
refused "member: penalty too large" 'penalty must be' msg member add sales dave --penalty 5000
exits 2 "member: --receive maybe is a usage error" msg member add sales dave --receive maybe
exits 2 "member: --penalty x is a usage error" msg member add sales dave --penalty x
is "$(members sales)" "carol:1 alice:2 bob:3" "nothing half-applied by the refusals"
exits 0 "member edit sales bob --penalty 5 --receive yes" \
    msg member edit sales bob --penalty 5 --receive yes
is "$(jq -c '[.position,.penalty,.receive]' <<<"$T_OUT")" '[3,5,true]' "re-penalised"
refused "member edit: nothing to change" 'nothing to change' msg member edit sales bob
refused "member edit: not a member" 'dave is not a member of sales' \
    msg member edit sales dave --penalty 1
refused "member edit: bad penalty" 'penalty must be' msg member edit sales bob --penalty 1001
exits 0 "member reorder sales bob --position 1" msg member reorder sales bob --position 1
is "$(members sales)" "bob:1 carol:2 alice:3" "reorder moves bob first, the others shift"
exits 0 "member reorder sales bob --position 3" msg member reorder sales bob --position 3
is "$(members sales)" "carol:1 alice:2 bob:3" "and back to the end"
refused "member reorder: position past the end" 'position must be a whole number from 1 to 3' \
    msg member reorder sales bob --position 4
exits 2 "member reorder without --position is a usage error" msg member reorder sales bob
exits 0 "member remove sales carol" msg member remove sales carol
is "$(members sales)" "alice:1 bob:2" "positions close up after a removal"
refused "member remove: not a member" 'carol is not a member of sales' \
    msg member remove sales carol
exits 0 "member add support dave" msg member add support dave --penalty 7
exits 0 "member add support bob (kept in the copy)" msg member add support bob --penalty 9
exits 0 "member copy sales support" msg member copy sales support
is "$(jq -c '[.copied,.kept]' <<<"$T_OUT")" '[1,1]' "copy answers how many were copied"
is "$(members support)" "dave:1 bob:2 alice:3" "copied members are appended in order"
is "$(msg member list support | jq -r 'select(.agent=="bob") | .penalty')" 9 \
    "a member already there keeps its settings"
is "$(members sales)" "alice:1 bob:2" "the source is unchanged"
exits 0 "member copy again" msg member copy sales support
is "$(jq -r .copied <<<"$T_OUT")" 0 "copying again copies nothing"
refused "member copy to itself" 'cannot copy the members of sales to itself' \
    msg member copy sales sales
refused "member copy to an unknown campaign" 'no campaign named "nosuch"' \
    msg member copy sales nosuch
refused "member list of an unknown campaign" 'no campaign named "nosuch"' \
    msg member list nosuch
is "$(msg agent show alice | jq -c .campaigns)" '["sales","support"]' \
    "agent show lists its campaigns"

# ------------------------------------------------------------ deletes
refused "agent delete while a member" 'agent alice is a member of sales, support' \
    msg agent delete alice
is "$(members sales)" "alice:1 bob:2" "the refused delete changed nothing"
exits 0 "agent delete alice --force" msg agent delete alice --force
like "$T_ERR" 'deleted alice; it was a member of: sales, support' \
    "--force says which campaigns it was removed from"
refused "alice is gone" 'no agent named "alice"' msg agent show alice
is "$(members sales)" "bob:1" "its memberships are gone, positions closed up"
is "$(members support)" "dave:1 bob:2" "in every campaign"
exits 0 "alice's login is free again" msg agent add alice2 --user "${U[0]}"
exits 0 "agent delete alice2 (no memberships)" msg agent delete alice2
is "$T_ERR" "" "nothing to report"
refused "agent delete unknown" 'no agent named "zed"' msg agent delete zed
exits 0 "team delete t2" msg team delete t2
like "$T_ERR" 'deleted t2; it was used by: sales; listed by agents: bob' \
    "team delete says which campaigns and agents used it"
is "$(msg agent show bob | jq -c .teams)" '["t1"]' "t2 is gone from bob's teams"
is "$(msg campaign show sales | jq -c .teams)" '[]' "and from the campaign's teams"
refused "team show after delete" 'no team named "t2"' msg team show t2
refused "team delete unknown" 'no team named "t2"' msg team delete t2

# ------------------------------------------------------------- roles
if ! tuser_ok; then
	for i in $(seq "$ROLE_TESTS"); do
		skip "roles need root, useradd, userdel and setpriv"
	done
	done_testing
fi

TUSER=parleyt$$
tuser_add "$TUSER"

# as COMMAND...: run COMMAND as the throwaway user.
as() { as_user "$TUSER" "$@"; }

refused "an unmapped user is not an agent" 'you are not a parley agent' \
    as msg agent whoami
exits 0 "map the throwaway user to agent tess (role agent)" \
    msg agent add tess --user "$TUSER" --role agent
exits 0 "tess is a member of support" msg member add support tess

# role agent
is "$(as msg agent whoami 2>&1)" "tess (agent)" "whoami: tess (agent)"
refused "agent: agent add" 'agent add needs the admin role \(you are tess\)' \
    as msg agent add x --user "${U[4]}"
refused "agent: raise its own role" 'agent edit needs the admin role' \
    as msg agent edit tess --role admin
refused "agent: team add" 'team add needs the admin role' as msg team add t5
refused "agent: member add" 'member add needs the admin role' \
    as msg member add sales tess
exits 0 "agent: reads its own agent record" as msg agent show tess
refused "agent: another agent's record" 'needs the supervisor role' \
    as msg agent show bob
is "$(as msg agent list | jq -r .name)" tess "agent: agent list shows only itself"
is "$(as msg team list | jq -r .name)" t1 "agent: reads the teams"
is "$(as msg member list support | jq -r .agent | tr '\n' ' ')" "dave bob tess " \
    "agent: reads the members of its own campaign"
refused "agent: members of another campaign" 'needs the supervisor role or membership of sales' \
    as msg member list sales

# role supervisor: a role change applies at once
exits 0 "make tess a supervisor" msg agent edit tess --role supervisor
is "$(as msg agent whoami 2>&1)" "tess (supervisor)" "whoami: tess (supervisor)"
is "$(as msg agent show bob | jq -r .name)" bob "supervisor: reads other agents"
is "$(as msg member list sales | jq -r .agent)" bob "supervisor: reads every member list"
refused "supervisor: member remove" 'member remove needs the admin role' \
    as msg member remove support dave
refused "supervisor: team delete" 'team delete needs the admin role' as msg team delete t1

# role admin
exits 0 "make tess an admin" msg agent edit tess --role admin
exits 0 "admin: team add" as msg team add t5
exits 0 "admin: member add" as msg member add sales tess --penalty 1
is "$(members sales)" "bob:1 tess:2" "admin: the write took effect"
msg agent delete tess --force >/dev/null 2>&1
refused "deleted agent: the user is no agent any more" 'you are not a parley agent' \
    as msg team list

done_testing
