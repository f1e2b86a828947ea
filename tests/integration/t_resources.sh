#!/bin/bash
# t_resources — the global resources through msg against the running
# daemons: canned responses ({placeholders}, assign/unassign, delete in use
# naming the campaigns), templates (--file) and WhatsApp templates ({{n}}
# without gaps, per language), the disposition tree (--parents, tree order,
# --under, delete with its children, bulk import all-or-nothing with the bad
# line named), agent statuses and quality models (totals of maximum
# scores); every refusal exits 1 with a one-line reason and changes nothing;
# an agent may read the catalogues but not change them.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 205
stack_start

# jqs JSON FILTER: one value out of a JSON document.
jqs() { jq -rc "$2" <<<"$1" 2>/dev/null; }
# lines TEXT: non-empty lines in TEXT.
lines() { grep -c . <<<"$1"; }
# one_line TEXT: the reason is one line.
one_line() { is "$(lines "$T_ERR")" 1 "$1: the reason is one line"; }

exits 0 "msg campaign create sales" msg campaign create sales
exits 0 "msg campaign create support" msg campaign create support

# ------------------------------------------------------------- canned
exits 0 "canned add /hello with placeholders" \
    msg canned add /hello --text 'Hi {name}, order {order_id} is {status}. Bye {name}!'
is "$(jqs "$T_OUT" .snippet)" hello "the snippet is stored without the '/'"
is "$(jqs "$T_OUT" .placeholders)" '["name","order_id","status"]' \
    "the answer lists the placeholders, each once"
exits 0 "canned add bye" msg canned add bye --text 'Goodbye!'
is "$(jqs "$T_OUT" .placeholders)" '[]' "a text without placeholders has none"
exits 1 "canned add of an existing snippet is refused" msg canned add hello --text x
like "$T_ERR" '^msg: canned: .*exists' "and says it exists"
exits 1 "a snippet with capitals and '!' is refused" msg canned add 'Hello!' --text x
like "$T_ERR" 'snippet' "naming the snippet rule"
exits 1 "a snippet over 32 characters is refused" \
    msg canned add "$(printf 'a%.0s' {1..33})" --text x
exits 1 "an unclosed '{' is refused" msg canned add open --text 'Hi {name'
like "$T_ERR" "never closed" "and says the brace is never closed"
one_line "unclosed brace"
exits 1 "a '}' without '{' is refused" msg canned add close --text 'Hi name}'
like "$T_ERR" "has no '\{'" "and says which brace"
exits 1 "a placeholder name starting with a digit is refused" \
    msg canned add digit --text 'Hi {1name}'
exits 1 "nested braces are refused" msg canned add nest --text 'Hi {a{b}}'
exits 1 "a text over 4096 characters is refused" \
    msg canned add long --text "$(head -c 4097 /dev/zero | tr '\0' x)"
like "$T_ERR" '4096' "naming the limit"
exits 1 "an empty text is refused" msg canned add empty --text ''
exits 1 "show of a refused snippet: nothing was stored" msg canned show open
exits 2 "canned add without --text is a usage error" msg canned add x
exits 0 "canned show /hello" msg canned show /hello
is "$(jqs "$T_OUT" .text)" 'Hi {name}, order {order_id} is {status}. Bye {name}!' \
    "show prints the text"
exits 0 "canned list" msg canned list
is "$(lines "$T_OUT")" 2 "lists both, one JSON line each"
is "$(jqs "$(head -n 1 <<<"$T_OUT")" .snippet)" bye "in snippet order"

exits 0 "canned assign hello --campaign sales" msg canned assign hello --campaign sales
is "$(jqs "$T_OUT" .changed)" true "the campaign changed"
exits 0 "assigning twice is a no-op" msg canned assign /hello --campaign sales
like "$T_ERR" 'already assigned' "that says it was already assigned"
exits 0 "canned list --campaign sales" msg canned list --campaign sales
is "$(jq -r .snippet <<<"$T_OUT" | tr '\n' ' ')" "hello " "lists only what is assigned to sales"
exits 1 "assign to an unknown campaign is refused" msg canned assign hello --campaign nope
like "$T_ERR" 'no campaign' "naming the campaign"
exits 1 "assign of an unknown snippet is refused" msg canned assign nope --campaign sales
exits 1 "list --campaign of an unknown campaign is refused" msg canned list --campaign nope

exits 0 "canned edit hello" msg canned edit hello --text 'Hello {first_name}!'
is "$(jqs "$T_OUT" .placeholders)" '["first_name"]' "the placeholders follow the text"
exits 0 "the edit shows at once in the campaign's list" msg canned list --campaign sales
is "$(jq -r .text <<<"$T_OUT")" 'Hello {first_name}!' "with the new text (nothing copied)"
exits 1 "an edit with a bad brace is refused" msg canned edit hello --text 'x {'
exits 0 "and changed nothing" msg canned show hello
is "$(jqs "$T_OUT" .text)" 'Hello {first_name}!' "the text is the previous one"
exits 1 "canned edit of an unknown snippet" msg canned edit nope --text x

exits 0 "canned assign hello --campaign support" msg canned assign hello --campaign support
exits 0 "canned unassign hello --campaign support" msg canned unassign hello --campaign support
exits 0 "unassigning never deletes the response" msg canned show hello
exits 0 "canned list --campaign support" msg canned list --campaign support
is "$T_OUT" "" "support has none assigned"
exits 0 "unassigning what is not assigned is a no-op" msg canned unassign bye --campaign support
like "$T_ERR" 'not assigned' "that says so"

exits 0 "canned assign hello --campaign support (again)" msg canned assign hello --campaign support
exits 0 "canned delete of a response in use" msg canned delete hello
like "$T_ERR" '^msg: canned: deleted /hello; it was used by: sales, support$' \
    "says which campaigns used it"
is "$(jqs "$T_OUT" '.used_by|join(",")')" "sales,support" "the answer has used_by"
exits 1 "it is unavailable at once" msg canned show hello
exits 0 "canned list --campaign sales" msg canned list --campaign sales
is "$T_OUT" "" "and gone from the campaign"
exits 0 "canned delete of an unused response" msg canned delete bye
is "$T_ERR" "" "says nothing about campaigns"
exits 1 "canned delete of an unknown snippet" msg canned delete bye

# ----------------------------------------------------------- template
exits 0 "template add welcome --type html" \
    msg template add welcome --type html --content '<p>Welcome, <b>friend</b></p>'
is "$(jqs "$T_OUT" .type)" html "the type is kept"
printf 'Line one\nLine "two" with {braces}\n' >"$T_HOME/terms.txt"
exits 0 "template add terms --file" msg template add terms --type text --file "$T_HOME/terms.txt"
is "$(jqs "$T_OUT" .content)" "$(cat "$T_HOME/terms.txt")" "the content is the file's"
exits 1 "an unknown type is refused" msg template add bad --type pdf --content x
like "$T_ERR" 'text, richtext, html' "listing the types"
exits 1 "a duplicate name is refused" msg template add welcome --type text --content x
exits 1 "a bad name is refused" msg template add 'Bad Name' --type text --content x
exits 2 "add without --type is a usage error" msg template add x --content x
exits 2 "--content and --file together is a usage error" \
    msg template add x --type text --content x --file "$T_HOME/terms.txt"
exits 1 "--file that does not exist" msg template add x --type text --file "$T_HOME/none"
exits 0 "template edit welcome --type richtext" msg template edit welcome --type richtext
exits 0 "template show welcome" msg template show welcome
is "$(jqs "$T_OUT" '[.type,.content]|join("|")')" 'richtext|<p>Welcome, <b>friend</b></p>' \
    "the type changed, the content did not"
exits 0 "template list" msg template list
is "$(lines "$T_OUT")" 2 "lists both"
exits 0 "template assign welcome --campaign sales" msg template assign welcome --campaign sales
exits 0 "template list --campaign sales" msg template list --campaign sales
is "$(jq -r .name <<<"$T_OUT")" welcome "lists what is assigned"
exits 0 "template unassign terms (not assigned) is a no-op" \
    msg template unassign terms --campaign sales
exits 0 "template delete welcome (in use)" msg template delete welcome
like "$T_ERR" 'deleted template welcome; it was used by: sales$' "names the campaign"
exits 1 "template show welcome after delete" msg template show welcome

# WhatsApp templates
exits 0 "template wa add order_update (en_US)" msg template wa add order_update --lang en_US \
    --category utility --body 'Hi {{1}}, your order {{2}} shipped. {{1}}!' \
    --header 'Order news' --buttons '[{"type":"quick_reply","text":"Thanks"}]'
is "$(jqs "$T_OUT" .params)" 2 "parameters counted from {{n}}"
is "$(jqs "$T_OUT" '[.components[].type]|join(",")')" "HEADER,BODY,BUTTONS" \
    "header, body and buttons are components"
exits 0 "template wa add order_update (es)" msg template wa add order_update --lang es \
    --category UTILITY --body 'Hola {{1}}'
exits 1 "a gap in the parameters is refused" msg template wa add gap --lang en \
    --category marketing --body 'Hi {{1}} and {{3}}'
like "$T_ERR" '\{\{2\}\} is missing' "naming the missing one"
exits 1 "a parameter that is not a number is refused" msg template wa add named --lang en \
    --category marketing --body 'Hi {{name}}'
exits 1 "an unknown category is refused" msg template wa add c --lang en \
    --category spam --body 'Hi'
like "$T_ERR" 'marketing, utility, authentication' "listing the categories"
exits 1 "a bad language code is refused" msg template wa add c --lang english \
    --category utility --body 'Hi'
exits 1 "a bad button is refused" msg template wa add c --lang en --category utility \
    --body 'Hi' --buttons '[{"type":"url","text":"Go"}]'
exits 1 "the same name and language twice is refused" msg template wa add order_update \
    --lang es --category utility --body 'x'
exits 2 "wa add without --body is a usage error" msg template wa add c --lang en --category utility
exits 0 "template wa list" msg template wa list
is "$(lines "$T_OUT")" 2 "one per name and language"
exits 0 "template wa list NAME --lang es" msg template wa list order_update --lang es
is "$(jq -r .language <<<"$T_OUT")" es "filters by language"
exits 0 "template wa show order_update --lang en_US" msg template wa show order_update --lang en_US
is "$(jqs "$T_OUT" '[.name,.language,.category]|join(" ")')" "order_update en_US utility" \
    "shows it"
exits 1 "wa show of a language it lacks" msg template wa show order_update --lang fr
exits 0 "template wa delete NAME --lang es" msg template wa delete order_update --lang es
exits 1 "that language is gone" msg template wa show order_update --lang es
exits 0 "template wa delete NAME (every language)" msg template wa delete order_update
is "$(jqs "$T_OUT" '.languages|join(",")')" en_US "says which languages went"
exits 1 "wa delete of an unknown template" msg template wa delete order_update

# -------------------------------------------------------- disposition
exits 0 "disposition add Sales" msg disposition add Sales
exits 1 "a child of a missing parent is refused" msg disposition add Sales/Won/Upsell
like "$T_ERR" 'parent "Sales/Won" does not exist' "naming the missing parent"
exits 0 "with --parents the missing levels are made" msg disposition add Sales/Won/Upsell --parents
exits 0 "disposition add Sales/Lost" msg disposition add Sales/Lost
exits 0 "disposition add Sales-EMEA" msg disposition add Sales-EMEA
exits 0 "disposition add Support/Billing --parents" msg disposition add Support/Billing --parents
exits 1 "an existing path is refused" msg disposition add Sales/Lost
exits 1 "an empty level is refused" msg disposition add 'Sales//X'
exits 1 "a level over 64 characters is refused" \
    msg disposition add "Sales/$(printf 'x%.0s' {1..65})"
exits 0 "disposition list" msg disposition list
is "$(jq -r .path <<<"$T_OUT" | tr '\n' ' ')" \
    "Sales Sales/Lost Sales/Won Sales/Won/Upsell Sales-EMEA Support Support/Billing " \
    "in tree order: a level, then its subtree"
exits 0 "disposition list --under Sales" msg disposition list --under Sales
is "$(jq -r .path <<<"$T_OUT" | tr '\n' ' ')" "Sales Sales/Lost Sales/Won Sales/Won/Upsell " \
    "only that subtree"
if command -v script >/dev/null 2>&1; then
	tree=$(script -qec "msg disposition list --under Sales" /dev/null | tr -d '\r')
	is "$tree" "$(printf 'Sales\n  Lost\n  Won\n    Upsell')" "a terminal shows indentation"
else
	skip "script(1) is not installed"
fi
exits 0 "disposition assign Sales --campaign sales" msg disposition assign Sales --campaign sales
exits 0 "disposition assign Support/Billing --campaign support" \
    msg disposition assign Support/Billing --campaign support
exits 0 "disposition list --campaign sales" msg disposition list --campaign sales
is "$(lines "$T_OUT")" 4 "a level assigned brings its subtree"

# bulk import: path lines and CSV rows
cat >"$T_HOME/disp.csv" <<'EOF'
level1,level2,level3
Billing/Refund
Billing,Invoice,Copy
"Billing, other",Misc,
Sales,Won
EOF
exits 0 "disposition import (paths and CSV rows)" msg disposition import "$T_HOME/disp.csv"
is "$(jqs "$T_OUT" '[.added,.existing]|join(" ")')" "6 1" \
    "6 made (parents too), 1 existed"
exits 0 "a CSV level with a quoted comma" msg disposition show 'Billing, other/Misc'
is "$(jqs "$T_OUT" .parent)" 'Billing, other' "has its parent"
cat >"$T_HOME/bad.csv" <<EOF
Tech/Network
Tech,Hardware
Tech/$(printf 'y%.0s' {1..65})
Tech/Other
EOF
exits 1 "an import with a bad line is refused" msg disposition import "$T_HOME/bad.csv"
like "$T_ERR" 'line 3:' "naming the line"
one_line "bad import"
exits 1 "nothing of it was imported" msg disposition show Tech
printf 'Tech/Network\nTech//Hardware\n' >"$T_HOME/bad2.csv"
exits 1 "an empty level in an import is refused" msg disposition import "$T_HOME/bad2.csv"
like "$T_ERR" 'line 2:' "naming the line"
printf 'Tech,Network\nTech,"Hard"ware\n' >"$T_HOME/bad3.csv"
exits 1 "a CSV row that does not parse is refused" msg disposition import "$T_HOME/bad3.csv"
like "$T_ERR" 'line 2' "naming the line"
exits 1 "and nothing was imported" msg disposition show Tech

exits 0 "disposition delete Sales (with children, in use)" msg disposition delete Sales
is "$(jqs "$T_OUT" '[.count,.below]|join(" ")')" "4 3" "answers how many went"
like "$T_ERR" 'deleted Sales and 3 below it' "and says so"
like "$T_ERR" 'it was used by: sales' "and which campaign used it"
exits 1 "its children went too" msg disposition show Sales/Won/Upsell
exits 0 "a sibling with a common prefix stays" msg disposition show Sales-EMEA
exits 0 "disposition list --campaign sales" msg disposition list --campaign sales
is "$T_OUT" "" "the campaign no longer has it"
exits 0 "deleting a parent of an assigned level" msg disposition delete Support
like "$T_ERR" 'used by: support' "names the campaign of the child"

# ---------------------------------------------------------- statusdef
exits 0 "statusdef list on a fresh home" msg statusdef list
is "$T_OUT" "" "nothing is seeded"
exits 0 "statusdef add lunch" msg statusdef add lunch --kind break --label 'Lunch'
exits 0 "statusdef add ready" msg statusdef add ready --kind available --label 'Ready'
exits 1 "an unknown kind is refused" msg statusdef add nap --kind sleeping --label Nap
like "$T_ERR" 'available, break, busy, offline' "listing the kinds"
exits 1 "a duplicate is refused" msg statusdef add lunch --kind break --label x
exits 2 "add without --label is a usage error" msg statusdef add nap --kind break
exits 0 "statusdef edit lunch --label" msg statusdef edit lunch --label 'Lunch break'
exits 1 "an edit to a bad kind is refused" msg statusdef edit lunch --kind nap
exits 0 "statusdef show lunch" msg statusdef show lunch
is "$(jqs "$T_OUT" '[.kind,.label]|join("|")')" 'break|Lunch break' "the label changed, the kind did not"
exits 0 "statusdef list" msg statusdef list
is "$(jq -r .name <<<"$T_OUT" | tr '\n' ' ')" "lunch ready " "lists both"
exits 0 "statusdef delete ready" msg statusdef delete ready
exits 1 "statusdef show ready after delete" msg statusdef show ready

# ----------------------------------------------------------------- qa
exits 0 "qa add basic" msg qa add basic --description 'Basic checks'
exits 0 "qa category add basic --name Greeting" msg qa category add basic --name Greeting
exits 1 "a duplicate category is refused" msg qa category add basic --name greeting
exits 0 "qa question add" msg qa question add basic --category Greeting \
    --text 'Greeted the customer by name?' --max 5
exits 0 "qa question add (second)" msg qa question add basic --category Greeting \
    --text 'Introduced themselves?' --max 3
exits 1 "a maximum score of 0 is refused" msg qa question add basic --category Greeting \
    --text 'x' --max 0
exits 1 "a question in an unknown category is refused" msg qa question add basic \
    --category Closing --text 'x' --max 1
exits 0 "qa show basic" msg qa show basic
is "$(jqs "$T_OUT" .max_score)" 8 "shows the total maximum score"
cat >"$T_HOME/qa.json" <<'EOF'
{"description": "Full review", "categories": [
 {"name": "Opening", "questions": [{"text": "Greeting", "max_score": 10}]},
 {"name": "Resolution", "questions": [{"text": "Solved?", "max_score": 20},
   {"text": "Follow-up offered?", "max": 5}]}]}
EOF
exits 0 "qa add full --file" msg qa add full --file "$T_HOME/qa.json"
is "$(jqs "$T_OUT" '[.description,.max_score,.categories[1].max_score]|join(" ")')" \
    "Full review 35 25" "categories, questions and totals from the file"
echo '[{"name":"A","questions":[{"text":"q","max_score":-1}]}]' >"$T_HOME/qa-bad.json"
exits 1 "a file with a bad maximum is refused" msg qa add broken --file "$T_HOME/qa-bad.json"
like "$T_ERR" 'maximum score' "saying why"
exits 1 "and nothing was made" msg qa show broken
exits 0 "qa edit basic --description" msg qa edit basic --description 'Basics'
exits 0 "qa list" msg qa list
is "$(jq -r '"\(.name)=\(.max_score)"' <<<"$T_OUT" | tr '\n' ' ')" "basic=8 full=35 " \
    "lists each with its total"
exits 0 "qa question delete" msg qa question delete basic --category Greeting --number 2
is "$(jqs "$T_OUT" .max_score)" 5 "the total follows"
exits 0 "qa category delete" msg qa category delete basic --name Greeting
is "$(jqs "$T_OUT" '.categories|length')" 0 "the category went"
exits 0 "qa delete full" msg qa delete full
exits 1 "qa show full after delete" msg qa show full

# -------------------------------------------------------------- roles
if ! tuser_ok; then
	for i in $(seq 12); do skip "roles need root, useradd, userdel and setpriv"; done
else
	TUSER=parleyt$$
	tuser_add "$TUSER"
	as() { as_user "$TUSER" "$@"; }
	exits 0 "msg agent add an agent for the Unix user" \
	    msg agent add ann --user "$TUSER" --role agent
	msg canned add hi --text 'Hi {name}' >/dev/null
	exits 0 "an agent may list canned responses" as msg canned list
	is "$(jq -r .snippet <<<"$T_OUT")" hi "and sees them"
	exits 0 "an agent may list agent statuses" as msg statusdef list
	exits 1 "an agent may not add a canned response" as msg canned add x --text y
	like "$T_ERR" 'admin' "the reason names the admin role"
	exits 1 "an agent may not delete a disposition" as msg disposition delete Billing
	exits 1 "an agent may not list another campaign's assignments" \
	    as msg canned list --campaign sales
	like "$T_ERR" 'not a member' "saying it is not a member"
	msg canned assign hi --campaign support >/dev/null 2>&1
	exits 0 "msg member add support ann" msg member add support ann
	exits 0 "a member lists its campaign's assignments" \
	    as msg canned list --campaign support
	is "$(jq -r .snippet <<<"$T_OUT")" hi "and sees them"
fi

done_testing
