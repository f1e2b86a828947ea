/*
 * t_segments — SMS segment counting (lib/parley/sms.c) as a sender sees it on a
 * Twilio bill: GSM-7 160/153, UCS-2 70/67, extension characters costing two
 * septets, escape and surrogate pairs never split; plus the 1600-character
 * count (E.164 syntax is valid.h's, tested in t_valid).  TAP output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sms.h"

static int ntest, nfail;

static void
ok(int cond, const char *desc)
{
	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - %s\n", cond ? "" : "not ", ntest, desc);
}

/* a x na, then b x nb, then c x nc, into a static buffer (UTF-8 units). */
static const char *
mk(const char *a, int na, const char *b, int nb, const char *c, int nc)
{
	static char buf[16384];
	const char *u[3] = { a, b, c };
	int k[3] = { na, nb, nc }, i, j;
	size_t off = 0, l;

	for (i = 0; i < 3; i++) {
		if (u[i] == NULL)
			continue;
		l = strlen(u[i]);
		for (j = 0; j < k[i] && off + l < sizeof(buf); j++, off += l)
			memcpy(buf + off, u[i], l);
	}
	buf[off] = '\0';
	return buf;
}

#define rep(u, n)	mk((u), (n), NULL, 0, NULL, 0)

static void
seg(const char *text, int want, int want_ucs2, const char *desc)
{
	int u = -1, n;

	n = sms_segments(text, &u);
	if (n != want || u != want_ucs2)
		printf("# %s: got %d segments ucs2=%d, want %d ucs2=%d\n",
		    desc, n, u, want, want_ucs2);
	ok(n == want && u == want_ucs2, desc);
}

int
main(void)
{
	printf("1..25\n");

	seg("", 1, 0, "empty text is one segment");
	seg("Hi there", 1, 0, "short ASCII text is one GSM-7 segment");
	seg(rep("a", 160), 1, 0, "160 GSM-7 characters fit one segment");
	seg(rep("a", 161), 2, 0, "161 GSM-7 characters need two segments");
	seg(rep("a", 306), 2, 0, "306 GSM-7 characters fit two segments (153 each)");
	seg(rep("a", 307), 3, 0, "307 GSM-7 characters need three segments");
	seg(rep("{", 80), 1, 0, "80 extension characters (160 septets) fit one segment");
	seg(rep("{", 81), 2, 0, "81 extension characters (162 septets) need two");
	seg(rep("\xe2\x82\xac", 80), 1, 0, "80 euro signs are GSM-7 and fit one segment");
	/* 152 'a' + '[' : the escape pair would straddle 153, so it moves. */
	seg(mk("a", 158, "[", 1, NULL, 0), 1, 0,
	    "158 letters and one extension char (160 septets) fit one segment");
	seg(mk("a", 159, "[", 1, NULL, 0), 2, 0,
	    "159 letters and one extension char (161 septets) need two");
	seg(mk("a", 152, "[", 1, "b", 152), 3, 0,
	    "an escape pair is not split across segments (306 septets, 3 segments)");
	seg("caf\xc3\xa9 \xc3\xa0 \xc3\xbc\xc3\xb1", 1, 0,
	    "accented letters of the GSM table stay GSM-7");
	seg("\xce\x94\xce\xa9\xce\xa3", 1, 0, "Greek capitals of the GSM table stay GSM-7");
	seg("it`s", 1, 1, "a backtick is not GSM-7 and switches to UCS-2");
	seg("Hi \xf0\x9f\x98\x80", 1, 1, "an emoji switches the text to UCS-2");
	seg(rep("\xd0\x96", 70), 1, 1, "70 Cyrillic characters fit one UCS-2 segment");
	seg(rep("\xd0\x96", 71), 2, 1, "71 Cyrillic characters need two UCS-2 segments");
	seg(rep("\xd0\x96", 134), 2, 1, "134 UCS-2 characters fit two segments (67 each)");
	seg(rep("\xd0\x96", 135), 3, 1, "135 UCS-2 characters need three");
	seg(mk("a", 159, "\xc3\xa7", 1, NULL, 0), 3, 1,
	    "one non-GSM character turns a 160-char text into three UCS-2 segments");
	seg(mk("\xd0\x96", 66, "\xf0\x9f\x98\x80", 1, "\xd0\x96", 66), 3, 1,
	    "a surrogate pair is not split across segments (134 units, 3 segments)");
	seg("a\xff" "b", 1, 1, "invalid UTF-8 bytes count as UCS-2 units, no crash");

	ok(sms_segments(NULL, NULL) == 1, "NULL text and NULL flag are accepted");
	ok(sms_chars("h\xc3\xa9llo \xf0\x9f\x98\x80") == 7,
	    "characters are counted as code points, not bytes");

	return nfail ? 1 : 0;
}
