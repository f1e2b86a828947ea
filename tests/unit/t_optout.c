/*
 * t_optout — consent keywords (lib/parley/optout.c) as customers type them: the
 * SMS keywords of providers.md §3.5 and §4 in every case, with the spaces,
 * newlines and full stops phones add; what is *not* a keyword ("STOP
 * PLEASE", "stopp", a keyword inside a sentence, UTF-8 look-alikes); and a
 * campaign's configured keywords on the other channels.  TAP output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optout.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

static enum optout_kw
C(const char *ch, const char *body, const char *xo, const char *xi)
{
	return optout_classify(ch, body, strlen(body), xo, xi);
}

/* Each body in the NULL-ended list classifies as want on SMS. */
static void
all(const char *const *bodies, enum optout_kw want, const char *desc)
{
	int good = 1;

	for (; *bodies; bodies++)
		if (C("sms", *bodies, NULL, NULL) != want) {
			printf("# \"%s\" is not %d\n", *bodies, want);
			good = 0;
		}
	ok(good, desc);
}

static void
t_sms(void)
{
	static const char *const out[] = { "STOP", "STOPALL", "UNSUBSCRIBE",
	    "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT", "OPT-OUT",
	    NULL };
	static const char *const in[] = { "START", "UNSTOP", "YES", NULL };
	static const char *const help[] = { "HELP", "INFO", NULL };
	static const char *const lower[] = { "stop", "stopall", "unsubscribe",
	    "cancel", "end", "quit", "revoke", "optout", "opt out", NULL };

	all(out, OPT_OUT, "sms: every opt-out keyword, upper case");
	all(lower, OPT_OUT, "sms: every opt-out keyword, lower case");
	all(in, OPT_IN, "sms: START, UNSTOP, YES opt back in");
	all(help, OPT_HELP, "sms: HELP and INFO ask for help");

	ok(C("sms", "Stop", NULL, NULL) == OPT_OUT, "sms: \"Stop\"");
	ok(C("sms", "sToP", NULL, NULL) == OPT_OUT, "sms: \"sToP\"");
	ok(C("sms", " stop ", NULL, NULL) == OPT_OUT, "sms: \" stop \"");
	ok(C("sms", "\tSTOP\r\n", NULL, NULL) == OPT_OUT,
	    "sms: tab before, CRLF after");
	ok(C("sms", "\n\n  Unsubscribe\n", NULL, NULL) == OPT_OUT,
	    "sms: blank lines around");
	ok(C("sms", "STOP.", NULL, NULL) == OPT_OUT, "sms: \"STOP.\"");
	ok(C("sms", "Stop!", NULL, NULL) == OPT_OUT, "sms: \"Stop!\"");
	ok(C("sms", "STOP!!!", NULL, NULL) == OPT_OUT, "sms: \"STOP!!!\"");
	ok(C("sms", " stop. ", NULL, NULL) == OPT_OUT, "sms: \" stop. \"");
	ok(C("sms", "STOP !", NULL, NULL) == OPT_OUT, "sms: \"STOP !\"");
	ok(C("sms", "opt   out", NULL, NULL) == OPT_OUT,
	    "sms: \"opt   out\": inner whitespace runs are one space");
	ok(C("sms", "yes.", NULL, NULL) == OPT_IN, "sms: \"yes.\"");
	ok(C("sms", "Help!", NULL, NULL) == OPT_HELP, "sms: \"Help!\"");

	ok(C("sms", "STOP PLEASE", NULL, NULL) == OPT_NONE,
	    "sms: \"STOP PLEASE\" is not a keyword");
	ok(C("sms", "please stop", NULL, NULL) == OPT_NONE,
	    "sms: \"please stop\" is not a keyword");
	ok(C("sms", "Stop sending me these", NULL, NULL) == OPT_NONE,
	    "sms: a sentence starting with stop is not a keyword");
	ok(C("sms", "STOPP", NULL, NULL) == OPT_NONE &&
	    C("sms", "STO", NULL, NULL) == OPT_NONE &&
	    C("sms", "STOPALLL", NULL, NULL) == OPT_NONE,
	    "sms: near misses STOPP, STO, STOPALLL are not keywords");
	ok(C("sms", "STOP?", NULL, NULL) == OPT_NONE &&
	    C("sms", "\"STOP\"", NULL, NULL) == OPT_NONE &&
	    C("sms", ".STOP", NULL, NULL) == OPT_NONE,
	    "sms: only a trailing '.' or '!' is ignored (not ?, quotes, "
	    "leading .)");
	ok(C("sms", "S T O P", NULL, NULL) == OPT_NONE,
	    "sms: spaced letters are not a keyword");
	ok(C("sms", "yes please", NULL, NULL) == OPT_NONE,
	    "sms: \"yes please\" is not an opt-in");
	ok(C("sms", "", NULL, NULL) == OPT_NONE &&
	    C("sms", "   ", NULL, NULL) == OPT_NONE &&
	    C("sms", ".", NULL, NULL) == OPT_NONE &&
	    C("sms", "!!", NULL, NULL) == OPT_NONE,
	    "sms: empty, blank and punctuation-only bodies");
	ok(optout_classify("sms", NULL, 0, NULL, NULL) == OPT_NONE,
	    "sms: NULL body");
	ok(optout_classify("SMS", "STOP", 4, NULL, NULL) == OPT_OUT,
	    "sms: channel name is case-insensitive");
}

static void
t_bytes(void)
{
	const char buf[] = "STOPALL";
	const char nul[] = "STOP\0ALL";

	ok(optout_classify("sms", buf, 4, NULL, NULL) == OPT_OUT,
	    "len is honoured: the first 4 bytes of STOPALL are STOP");
	ok(optout_classify("sms", nul, sizeof(nul) - 1, NULL, NULL) ==
	    OPT_NONE, "an embedded NUL is not whitespace: \"STOP\\0ALL\"");
	ok(optout_classify("sms", "STOP", 0, NULL, NULL) == OPT_NONE,
	    "len 0 is empty whatever the pointer holds");

	/* UTF-8 */
	ok(C("sms", "STOP \xf0\x9f\x9b\x91", NULL, NULL) == OPT_NONE,
	    "utf-8: \"STOP \xf0\x9f\x9b\x91\" (emoji after) is not a keyword");
	ok(C("sms", "\xef\xbc\xb3\xef\xbc\xb4\xef\xbc\xaf\xef\xbc\xb0", NULL,
	    NULL) == OPT_NONE, "utf-8: fullwidth \xef\xbc\xb3\xef\xbc\xb4"
	    "\xef\xbc\xaf\xef\xbc\xb0 is not STOP");
	ok(C("sms", "ST\xc3\x96P", NULL, NULL) == OPT_NONE,
	    "utf-8: ST\xc3\x96P is not STOP");
	ok(C("sms", "\xc2\xa0STOP", NULL, NULL) == OPT_NONE,
	    "utf-8: a no-break space is not ASCII whitespace");
	ok(C("sms", "ARR\xc3\x8aTE", "arr\xc3\xaate", NULL) == OPT_OUT &&
	    C("whatsapp", "\xc3\x91O M\xc3\x81S", "\xc3\xb1o m\xc3\xa1s",
	    NULL) == OPT_OUT,
	    "utf-8: Latin-1 letters fold too (ARR\xc3\x8aTE is arr\xc3\xaate, "
	    "\xc3\x91O M\xc3\x81S is \xc3\xb1o m\xc3\xa1s)");
	ok(C("sms", "\xc3\x97", "\xc3\xb7", NULL) == OPT_NONE &&
	    C("sms", "\xce\xa3\xce\xa4\xce\x9f\xce\xa0", "\xcf\x83\xcf"
	    "\x84\xce\xbf\xcf\x80", NULL) == OPT_NONE,
	    "utf-8: \xc3\x97 is not \xc3\xb7; other scripts compare as bytes");
	ok(C("sms", "ARR\xc3", "arr\xc3", NULL) == OPT_OUT &&
	    C("sms", "ARR\xc3", "arr\xc3\xaa", NULL) == OPT_NONE,
	    "utf-8: a truncated sequence compares without reading past it");
	ok(C("sms", "arr\xc3\xaate", NULL, "arr\xc3\xaate") == OPT_IN,
	    "utf-8: a configured opt-in word");
	ok(C("sms", "ARR\xc3\xaaTE.", "arr\xc3\xaate", NULL) == OPT_OUT,
	    "utf-8: configured ARR\xc3\xaaTE matches, ASCII letters folded");
	ok(C("sms", "\xe5\x81\x9c\xe6\xad\xa2", NULL, NULL) == OPT_NONE,
	    "utf-8: a Chinese 'stop' is not a default keyword");
	ok(C("whatsapp", " \xe5\x81\x9c\xe6\xad\xa2 ", "\xe5\x81\x9c\xe6\xad"
	    "\xa2", NULL) == OPT_OUT,
	    "utf-8: configured as a whatsapp keyword it is");
}

static void
t_other(void)
{
	const char *chans[] = { "whatsapp", "messenger", "instagram",
	    "telegram", NULL };
	int i, good = 1;

	for (i = 0; chans[i]; i++)
		good &= C(chans[i], "STOP", NULL, NULL) == OPT_NONE &&
		    C(chans[i], "START", NULL, NULL) == OPT_NONE &&
		    C(chans[i], "HELP", NULL, NULL) == OPT_NONE;
	ok(good, "other channels: SMS keywords do not count unconfigured");
	ok(C(NULL, "STOP", NULL, NULL) == OPT_NONE,
	    "NULL channel: nothing unconfigured counts");

	ok(C("whatsapp", "stop", "STOP", "START") == OPT_OUT &&
	    C("whatsapp", "Start!", "STOP", "START") == OPT_IN,
	    "whatsapp: configured STOP and START");
	ok(C("messenger", "unsubscribe", "stop, unsubscribe ,baja", "start")
	    == OPT_OUT && C("messenger", "BAJA", "stop, unsubscribe ,baja",
	    NULL) == OPT_OUT, "messenger: comma list, spaces around entries");
	ok(C("messenger", "stop unsubscribe", "stop, unsubscribe", NULL) ==
	    OPT_NONE, "messenger: two keywords together are not one");
	ok(C("messenger", "", ",,", ",") == OPT_NONE &&
	    C("messenger", ",", ",", NULL) == OPT_NONE,
	    "empty list entries match nothing");
	ok(C("instagram", "no more messages", "no more messages", NULL) ==
	    OPT_OUT && C("instagram", "NO  MORE\nMESSAGES", "no more messages",
	    NULL) == OPT_OUT,
	    "instagram: a configured phrase, inner whitespace folded");
	ok(C("instagram", "no more messages please", "no more messages",
	    NULL) == OPT_NONE, "instagram: the phrase must be the whole body");
	ok(C("instagram", "stop", "stop.", NULL) == OPT_OUT,
	    "a configured entry's trailing '.' is ignored too");
	ok(C("whatsapp", "HELP", "stop", "start") == OPT_NONE,
	    "HELP is SMS only");

	ok(C("sms", "BASTA", "basta", "vale") == OPT_OUT &&
	    C("sms", "vale", "basta", "vale") == OPT_IN &&
	    C("sms", "STOP", "basta", "vale") == OPT_OUT,
	    "sms: configured keywords add to the defaults");
	ok(C("sms", "YES", "yes", NULL) == OPT_OUT,
	    "a word in both lists (YES configured to opt out) opts out");
	ok(C("whatsapp", "ok", "ok", "ok") == OPT_OUT,
	    "in both configured lists: opt-out wins");
}

int
main(void)
{
	t_sms();
	t_bytes();
	t_other();
	printf("1..%d\n", n);
	if (failed)
		printf("# %d of %d failed\n", failed, n);
	return failed != 0;
}
