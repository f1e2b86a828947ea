/*
 * t_provcode — the providers' error codes in words (lib/parley/provcode.c): each
 * of Twilio's codes the issue names and Meta's common ones has a phrase,
 * a code of the other provider's family or an unknown one has none.  TAP.
 */
#include <stdio.h>
#include <string.h>

#include "provcode.h"

static int ntest, nfail;

static void
ok(int cond, const char *desc)
{
	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - %s\n", cond ? "" : "not ", ntest, desc);
}

int
main(void)
{
	static const char *tw[] = { "30003", "30004", "30005", "30006",
	    "30007", "30008", "30034", "21610" };
	static const char *mt[] = { "131026", "131047", "131048", "131056",
	    "130429", "132001" };
	const char *s;
	size_t i;
	char d[80];

	for (i = 0; i < sizeof(tw) / sizeof(tw[0]); i++) {
		snprintf(d, sizeof(d), "sms %s has a reason in words", tw[i]);
		ok((s = provcode_text("sms", tw[i])) != NULL && strlen(s) > 10,
		    d);
	}
	for (i = 0; i < sizeof(mt) / sizeof(mt[0]); i++) {
		snprintf(d, sizeof(d), "whatsapp %s has a reason in words",
		    mt[i]);
		ok(provcode_text("whatsapp", mt[i]) != NULL, d);
	}
	ok(strstr(provcode_text("sms", "21610"), "opted out") != NULL,
	    "21610 says the recipient opted out");
	ok(provcode_text("messenger", "131047") != NULL,
	    "Messenger shares Meta's codes");
	ok(provcode_text("sms", "131026") == NULL, "a Meta code on SMS: none");
	ok(provcode_text("whatsapp", "30003") == NULL,
	    "a Twilio code on WhatsApp: none");
	ok(provcode_text("sms", "99999") == NULL, "an unknown code: none");
	ok(provcode_text("sms", "") == NULL && provcode_text("sms", NULL) ==
	    NULL, "no code: none");
	printf("1..%d\n", ntest);
	return nfail != 0;
}
