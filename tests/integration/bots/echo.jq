# echo.jq — a bot for msg-bot(1) tests: answers each inbound record with
# "echo: TEXT", and says it does not know ({"idk":true}) when the text
# mentions a refund.  Run it as: jq --unbuffered -c -f echo.jq
if (.text // "" | test("refund"; "i"))
then {conv, idk: true}
else {conv, text: ("echo: " + (.text // ""))}
end
