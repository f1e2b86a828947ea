/*
 * optout — consent keywords in inbound messages.
 *
 * Twilio's rule (§3.5) is that only an exact single-keyword body counts, so
 * "STOP PLEASE" or "stop sending me these" is a message for an agent, not a
 * keyword; we follow it on every channel so a customer sees one behaviour.
 * The tolerance is what phones add: case, surrounding spaces and newlines,
 * a closing '.' or '!'.  The FCC's list (§4) adds REVOKE and "opt out".
 * When a word is both an opt-out and an opt-in keyword (a campaign
 * configured YES to opt out, say), opting out wins: sending to someone
 * who asked us to stop is the mistake that costs, not the other way round.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "optout.h"

static const char *const sms_out[] = {
	"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT",
	"REVOKE", "OPTOUT", "OPT OUT", "OPT-OUT", NULL
};
static const char *const sms_in[] = { "START", "UNSTOP", "YES", NULL };
static const char *const sms_help[] = { "HELP", "INFO", NULL };

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/*
 * The second byte of a UTF-8 "\xc3 x" pair (U+00C0..U+00FF), folded to
 * lower case: À..Þ (but not ×) to à..þ, so a configured "arrête" matches
 * "ARRÊTE".  Other scripts are compared as they are.
 */
static unsigned char
latin1_lower(unsigned char c)
{
	return c >= 0x80 && c <= 0x9e && c != 0x97 ? c + 0x20 : c;
}

/*
 * 1 if [a, a+an) equals [k, k+kn): ASCII and Latin-1 case ignored, a run
 * of whitespace in one equal to a run in the other.  Both are trimmed.
 */
static int
same(const char *a, size_t an, const char *k, size_t kn)
{
	size_t i = 0, j = 0;

	while (i < an && j < kn) {
		if (is_ws(a[i]) && is_ws(k[j])) {
			while (i < an && is_ws(a[i]))
				i++;
			while (j < kn && is_ws(k[j]))
				j++;
			continue;
		}
		if ((unsigned char)a[i] == 0xc3 && (unsigned char)k[j] == 0xc3 &&
		    i + 1 < an && j + 1 < kn) {
			if (latin1_lower(a[i + 1]) != latin1_lower(k[j + 1]))
				return 0;
			i += 2;
			j += 2;
			continue;
		}
		if (lower(a[i]) != lower(k[j]))
			return 0;
		i++;
		j++;
	}
	return i == an && j == kn;
}

static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_ws((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_ws((*s)[*n - 1]))
		(*n)--;
}

static int
in_table(const char *const *t, const char *w, size_t wn)
{
	for (; *t; t++)
		if (same(w, wn, *t, strlen(*t)))
			return 1;
	return 0;
}

/* 1 if w is one of the entries of the comma-separated list (may be NULL). */
static int
in_list(const char *list, const char *w, size_t wn)
{
	const char *p, *e;
	size_t n;

	if (list == NULL)
		return 0;
	for (p = list; ; p = e + 1) {
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		trim(&p, &n);
		while (n > 0 && (p[n - 1] == '.' || p[n - 1] == '!'))
			n--;
		trim(&p, &n);
		if (n > 0 && same(w, wn, p, n))
			return 1;
		if (*e == '\0')
			return 0;
	}
}

enum optout_kw
optout_classify(const char *channel, const char *body, size_t len,
    const char *extra_out, const char *extra_in)
{
	int sms = channel != NULL && strcasecmp(channel, "sms") == 0;
	const char *w = body;
	size_t n = len;

	if (body == NULL || len == 0)
		return OPT_NONE;
	trim(&w, &n);
	while (n > 0 && (w[n - 1] == '.' || w[n - 1] == '!'))
		n--;
	trim(&w, &n);
	if (n == 0)
		return OPT_NONE;

	if ((sms && in_table(sms_out, w, n)) || in_list(extra_out, w, n))
		return OPT_OUT;
	if ((sms && in_table(sms_in, w, n)) || in_list(extra_in, w, n))
		return OPT_IN;
	if (sms && in_table(sms_help, w, n))
		return OPT_HELP;
	return OPT_NONE;
}
