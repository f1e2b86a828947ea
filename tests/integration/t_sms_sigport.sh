#!/bin/bash
# t_sms_sigport — X-Twilio-Signature behind a reverse proxy whose public
# URL may be written with or without its port.  Twilio signs over the URL
# it was given; its own validators accept the signature over that URL with
# the port removed or the scheme's default port added.  smsd does the same
# (smsd(8)): with twilio_webhook_url https://sms.example.com, a webhook
# signed over https://sms.example.com:443 is accepted, and the other way
# round; with :8443, one signed over the URL without a port is too; a
# signature over another port is refused with 403 and stores nothing.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"	# run by sh too
. "$(dirname "$0")/lib.sh"

plan 20
stack_home
conf_set twilio_webhook_url https://sms.example.com
stack_start

OURS=+15557654321
IN=/twilio/inbound
n=0

# post_as URL_BASE: a new inbound SMS (its sid in $SID) signed over
# URL_BASE/twilio/inbound; prints the HTTP status.
post_as() {
	local p
	mapfile -t p < <(inbound_params "$SID" "+1555123$(printf %04d $n)" \
	    "$OURS" "port spelling $n")
	tw_post_raw $IN "$(tw_sign "$1$IN" "${p[@]}")" "$(tw_body "${p[@]}")"
}
new() { n=$((n + 1)); SID=$(sm_sid); }

# configure URL: twilio_webhook_url = URL, smsd reloaded (SIGHUP), and a
# webhook signed over URL itself accepted (which shows the reload took).
accepted() { new; [ "$(post_as "$1")" = 200 ]; }
configure() {
	conf_set twilio_webhook_url "$1"
	sv hup "$(svc smsd)" >/dev/null
	wait_for 10 accepted "${1%/}"
}

stored() { is "$(count_events ".pid==\"$SID\"")" 1 "$1"; }
none() { is "$(count_events ".pid==\"$SID\"")" 0 "$1"; }

# 1. configured without a port
new; is "$(post_as https://sms.example.com)" 200 \
    "https://sms.example.com: a signature over the URL as configured"
stored "that webhook is stored"
new; is "$(post_as https://sms.example.com:443)" 200 \
    "https://sms.example.com: a signature over :443 is accepted"
stored "that webhook is stored"
new; is "$(post_as https://sms.example.com:8443)" 403 \
    "https://sms.example.com: a signature over :8443 is refused"
none "nothing is stored"

# 2. configured with the default port
configure https://sms.example.com:443 || bail "smsd did not take :443"
pass "https://sms.example.com:443: a signature over the URL as configured"
new; is "$(post_as https://sms.example.com)" 200 \
    "https://sms.example.com:443: a signature without the port is accepted"
stored "that webhook is stored"
new; is "$(post_as http://sms.example.com)" 403 \
    "https://sms.example.com:443: a signature over http:// is refused"

# 3. configured with another port
configure https://sms.example.com:8443 || bail "smsd did not take :8443"
pass "https://sms.example.com:8443: a signature over the URL as configured"
new; is "$(post_as https://sms.example.com)" 200 \
    "https://sms.example.com:8443: a signature without the port is accepted"
stored "that webhook is stored"
new; is "$(post_as https://sms.example.com:443)" 403 \
    "https://sms.example.com:8443: a signature over :443 is refused"
none "nothing is stored"

# 4. plain http and its default port
configure http://sms.example.com || bail "smsd did not take http://"
pass "http://sms.example.com: a signature over the URL as configured"
new; is "$(post_as http://sms.example.com:80)" 200 \
    "http://sms.example.com: a signature over :80 is accepted"
new; is "$(post_as http://sms.example.com:443)" 403 \
    "http://sms.example.com: a signature over :443 is refused"

# 5. a status callback with a query string, behind :443
configure https://sms.example.com:443/ || bail "smsd did not take :443/"
mapfile -t S < <(printf '%s\n' "MessageSid=$(sm_sid)" "MessageStatus=sent" \
    "SmsStatus=sent" "AccountSid=$ACCOUNT_SID" "From=$OURS" \
    "To=+15551239999" "ApiVersion=2010-04-01")
is "$(tw_post_raw "/twilio/status?x=1" \
    "$(tw_sign "https://sms.example.com/twilio/status?x=1" "${S[@]}")" \
    "$(tw_body "${S[@]}")")" 200 \
    "a status callback signed without the port, with a query, is accepted"
is "$(tw_post_raw "/twilio/status?x=1" \
    "$(tw_sign "https://sms.example.com:443/twilio/status?x=2" "${S[@]}")" \
    "$(tw_body "${S[@]}")")" 403 \
    "and one signed over another query is refused"
