/*
 * t_form — form-encoded bodies as Twilio sends them: decoding, refusal of
 * malformed bodies (so smsd answers 400 instead of guessing), bounded pair
 * counts, and encode/parse round trips for what smsd posts to the API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

static int
parses(const char *body, size_t len)
{
	struct form f;
	const char *why = NULL;
	int r;

	form_init(&f);
	r = form_parse(&f, body, len, &why);
	if (r == -1 && (why == NULL || f.n != 0))
		r = -2;		/* a refusal must say why and leave f empty */
	form_free(&f);
	return r;
}

int
main(void)
{
	struct form f, g;
	const char *why;
	const char *b = "MessageSid=SM1f0e&From=%2B15017122661&Body=Hi+there"
	    "%21+%C3%A9&Empty=&Flag&NumMedia=0";
	char big[(FORM_MAXPAIRS + 1) * 4 + 1], *enc;
	size_t len, i;
	int same;

	printf("1..15\n");
	form_init(&f);
	ok(form_parse(&f, b, strlen(b), &why) == 0 && f.n == 6,
	    "a Twilio-like body parses into 6 pairs");
	ok(form_get(&f, "From") && strcmp(form_get(&f, "From"),
	    "+15017122661") == 0, "%2B decodes to '+'");
	ok(form_get(&f, "Body") && strcmp(form_get(&f, "Body"),
	    "Hi there! \xc3\xa9") == 0, "'+' is a space, UTF-8 escapes kept");
	ok(form_get(&f, "Empty") && *form_get(&f, "Empty") == '\0' &&
	    form_get(&f, "Flag") && *form_get(&f, "Flag") == '\0',
	    "empty and absent values are empty strings");
	ok(form_get(&f, "Missing") == NULL, "absent names are NULL");

	ok(parses("", 0) == 0 && parses("a=1&&b=2&", 9) == 0,
	    "empty body and empty segments are fine");
	ok(parses("a=%4", 4) == -1 && parses("a=%", 3) == -1 &&
	    parses("a=%zz", 5) == -1, "bad %-escapes are refused");
	ok(parses("a=%00", 5) == -1 && parses("a=b\0c", 5) == -1,
	    "NUL bytes, raw or escaped, are refused");
	ok(parses("=v", 2) == -1, "an empty name is refused");
	for (i = 0, len = 0; i <= FORM_MAXPAIRS; i++)
		len += (size_t)sprintf(big + len, "%sa=", i ? "&" : "");
	ok(parses(big, len) == -1, "more than FORM_MAXPAIRS pairs refused");
	ok(parses(big, len - 3) == 0, "exactly FORM_MAXPAIRS pairs accepted");

	form_init(&g);
	form_add(&g, "To", "+15558675310");
	form_add(&g, "Body", "Hi there & caf\xc3\xa9 100%/~-._");
	form_add(&g, "StatusCallback", "https://app.test/tw/status?a=1");
	enc = form_encode(&g, &len);
	ok(strcmp(enc, "To=%2B15558675310&Body=Hi+there+%26+caf%C3%A9+100%25"
	    "%2F~-._&StatusCallback=https%3A%2F%2Fapp.test%2Ftw%2Fstatus%3F"
	    "a%3D1") == 0 && len == strlen(enc),
	    "encoding keeps unreserved characters and escapes the rest");
	form_free(&f);
	form_init(&f);
	ok(form_parse(&f, enc, len, &why) == 0 && f.n == g.n,
	    "an encoded body parses back");
	same = f.n == g.n;
	for (i = 0; same && i < f.n; i++)
		same = strcmp(f.p[i].name, g.p[i].name) == 0 &&
		    strcmp(f.p[i].value, g.p[i].value) == 0;
	ok(same, "round trip gives the same pairs in order");
	free(enc);

	{
		struct form h;
		char all[256];

		form_init(&h);
		for (i = 1; i < 256; i++)
			all[i - 1] = (char)i;
		all[255] = '\0';
		form_add(&h, "all bytes", all);
		enc = form_encode(&h, &len);
		form_free(&h);
		form_init(&h);
		ok(form_parse(&h, enc, len, &why) == 0 && h.n == 1 &&
		    strcmp(h.p[0].name, "all bytes") == 0 &&
		    strcmp(h.p[0].value, all) == 0,
		    "every byte 1..255 survives a round trip");
		form_free(&h);
		free(enc);
	}
	form_free(&f);
	form_free(&g);
	return failed ? 1 : 0;
}
