/*
 * optout — is an inbound message a consent keyword?  SMS carries the
 * carrier-standard keywords (providers.md §3.5, §4: STOP and its kin to opt
 * out, START to opt back in, HELP for the help text); other channels have
 * only the keywords a campaign configures.  Pure: routerd records the
 * consent change and answers, this only classifies.  No I/O, no allocation.
 */
#ifndef PARLEY_OPTOUT_H
#define PARLEY_OPTOUT_H

#include <stddef.h>

enum optout_kw { OPT_NONE, OPT_OUT, OPT_IN, OPT_HELP };

/*
 * Classify the inbound body (len bytes, need not be NUL-terminated) for
 * channel.  A keyword counts only when it is the WHOLE body: case (ASCII
 * and Latin-1 letters), surrounding ASCII whitespace and trailing '.'/'!'
 * ignored, a run of inner whitespace equal to one space ("STOP PLEASE" is
 * not a keyword).
 * SMS ("sms", case-insensitive): STOP, STOPALL, UNSUBSCRIBE, CANCEL, END,
 * QUIT, REVOKE, OPTOUT, OPT OUT, OPT-OUT -> OPT_OUT; START, UNSTOP, YES ->
 * OPT_IN; HELP, INFO -> OPT_HELP.  Every channel: the configured keywords
 * extra_out / extra_in (comma-separated, may be NULL) -> OPT_OUT / OPT_IN;
 * on SMS they add to the lists above.  A word in both lists opts out.
 */
enum optout_kw optout_classify(const char *channel, const char *body,
	    size_t len, const char *extra_out, const char *extra_in);

#endif
