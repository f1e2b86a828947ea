/*
 * provcode — see provcode.h.  Twilio's codes are its error dictionary's
 * (www.twilio.com/docs/api/errors) for Programmable Messaging; Meta's are
 * the Cloud API's and the Graph API's common ones, which WhatsApp,
 * Messenger and Instagram share.  The phrases say what happened and, where
 * there is one, what to do.
 */
#include <stddef.h>
#include <string.h>

#include "provcode.h"

struct pcode {
	const char	*code;
	const char	*text;
};

static const struct pcode twilio[] = {
	{ "21211", "invalid 'To' number" },
	{ "21408", "sending to this region is not enabled on the account" },
	{ "21610", "the recipient has opted out (replied STOP); send nothing "
	    "until they reply START" },
	{ "21614", "the 'To' number is not a mobile number" },
	{ "30001", "queue overflow: too many messages queued at the provider" },
	{ "30002", "the provider account is suspended" },
	{ "30003", "unreachable handset: the phone is off or out of coverage" },
	{ "30004", "message blocked by the recipient or their carrier" },
	{ "30005", "unknown destination: the number does not exist or is no "
	    "longer in service" },
	{ "30006", "landline or unreachable carrier: the number cannot "
	    "receive SMS" },
	{ "30007", "filtered by the carrier as spam or against its rules" },
	{ "30008", "unknown error at the carrier" },
	{ "30034", "sent from a US number not registered for A2P 10DLC" },
	{ NULL, NULL }
};

static const struct pcode meta[] = {
	{ "4", "too many calls to the provider: rate limited" },
	{ "10", "permission denied: outside the allowed messaging window or "
	    "not permitted for this app" },
	{ "100", "a parameter of the request is invalid" },
	{ "190", "the access token has expired or is invalid" },
	{ "200", "the app lacks the permission" },
	{ "368", "temporarily blocked for a policy violation" },
	{ "551", "this person is not available right now" },
	{ "130429", "throughput rate limit reached" },
	{ "131000", "something went wrong at the provider" },
	{ "131005", "access denied" },
	{ "131008", "a required parameter is missing" },
	{ "131009", "a parameter value is not valid" },
	{ "131021", "the recipient is the sender" },
	{ "131026", "undeliverable: the number is not on WhatsApp or cannot "
	    "receive this message" },
	{ "131031", "the business account is locked" },
	{ "131047", "more than 24 hours since the customer last wrote: send a "
	    "template" },
	{ "131048", "spam rate limit: too many messages were blocked or "
	    "reported" },
	{ "131049", "not delivered to keep engagement healthy (marketing "
	    "limit per user)" },
	{ "131051", "message type not supported" },
	{ "131052", "the media could not be downloaded from the customer" },
	{ "131053", "the media could not be uploaded" },
	{ "131056", "too many messages to this customer in a short time" },
	{ "132000", "the template's parameters do not match its placeholders" },
	{ "132001", "the template does not exist in this language" },
	{ "132012", "a template parameter has the wrong format" },
	{ "133010", "the business phone number is not registered" },
	{ "2018001", "no such user: the recipient cannot be found" },
	{ "2018278", "outside the allowed messaging window" },
	{ NULL, NULL }
};

static const char *
look(const struct pcode *t, const char *code)
{
	for (; t->code; t++)
		if (strcmp(t->code, code) == 0)
			return t->text;
	return NULL;
}

const char *
provcode_text(const char *channel, const char *code)
{
	if (channel == NULL || code == NULL || *code == '\0')
		return NULL;
	if (strcmp(channel, "sms") == 0)
		return look(twilio, code);
	if (strcmp(channel, "whatsapp") == 0 ||
	    strcmp(channel, "messenger") == 0 ||
	    strcmp(channel, "instagram") == 0)
		return look(meta, code);
	return NULL;
}
