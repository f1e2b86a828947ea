/*
 * sms — GSM-7/UCS-2 segment counting and character counting.
 *
 * Segment counting follows GSM 03.38 and the concatenation rules carriers and
 * Twilio apply (providers.md §3.6): one segment holds 160 septets or 70
 * UTF-16 units; once a text needs more, each segment loses room to the
 * 6-byte concatenation header (153 septets, 67 units) and a character that
 * takes two slots (a GSM escape pair, a UTF-16 surrogate pair) moves whole to
 * the next segment rather than being split.
 */
#include <stddef.h>
#include <stdint.h>

#include "sms.h"
#include "utf8.h"

/*
 * One character of NUL-terminated s: its length (>= 1), with its code
 * point in *cp, or -1 in *cp (length 1) for a byte that does not start a
 * well-formed sequence.  Asking for 4 bytes never reads past the NUL: the
 * decoder stops at the first byte that is not a continuation.
 */
static int
utf8_next(const unsigned char *s, long *cp)
{
	uint32_t c;
	size_t n;

	if ((n = utf8_decode(s, 4, &c)) == 0) {
		*cp = -1;
		return 1;
	}
	*cp = (long)c;
	return (int)n;
}

/* Septets cp takes in GSM-7: 1 (basic table), 2 (extension table), 0 (none). */
static int
gsm_septets(long cp)
{
	static const long basic[] = {
		0x00a3, 0x00a5, 0x00e8, 0x00e9, 0x00f9, 0x00ec, 0x00f2, 0x00c7,
		0x00d8, 0x00f8, 0x00c5, 0x00e5, 0x0394, 0x03a6, 0x0393, 0x039b,
		0x03a9, 0x03a0, 0x03a8, 0x03a3, 0x0398, 0x039e, 0x00c6, 0x00e6,
		0x00df, 0x00c9, 0x00a4, 0x00a1, 0x00c4, 0x00d6, 0x00d1, 0x00dc,
		0x00a7, 0x00bf, 0x00e4, 0x00f6, 0x00f1, 0x00fc, 0x00e0,
	};
	size_t i;

	if (cp == '\n' || cp == '\r')
		return 1;
	if (cp >= 0x20 && cp <= 0x7e) {
		switch (cp) {
		case '`':
			return 0;
		case '^': case '{': case '}': case '\\': case '[': case ']':
		case '~': case '|':
			return 2;
		default:
			return 1;
		}
	}
	if (cp == 0x0c || cp == 0x20ac)	/* form feed, euro sign */
		return 2;
	for (i = 0; i < sizeof(basic) / sizeof(basic[0]); i++)
		if (basic[i] == cp)
			return 1;
	return 0;
}

/*
 * Segments for a text whose characters take the given slot counts, with
 * single/multi segment capacities one and multi.  total is the sum of slots.
 */
static int
count_segments(const unsigned char *s, int gsm, size_t total, size_t one,
    size_t multi)
{
	size_t used = 0;
	int segs = 1, n, w;
	long cp;

	if (total <= one)
		return 1;
	while (*s != '\0') {
		n = utf8_next(s, &cp);
		s += n;
		if (gsm)
			w = gsm_septets(cp);
		else
			w = (cp > 0xffff) ? 2 : 1;
		if (used + (size_t)w > multi) {
			segs++;
			used = 0;
		}
		used += (size_t)w;
	}
	return segs;
}

int
sms_segments(const char *utf8, int *ucs2)
{
	const unsigned char *s = (const unsigned char *)utf8;
	size_t septets = 0, units = 0;
	int gsm = 1, n, w;
	long cp;

	if (ucs2 != NULL)
		*ucs2 = 0;
	if (s == NULL || *s == '\0')
		return 1;
	while (*s != '\0') {
		n = utf8_next(s, &cp);
		s += n;
		units += (cp > 0xffff) ? 2 : 1;
		if (gsm) {
			w = (cp < 0) ? 0 : gsm_septets(cp);
			if (w == 0)
				gsm = 0;
			septets += (size_t)w;
		}
	}
	if (gsm)
		return count_segments((const unsigned char *)utf8, 1, septets,
		    160, 153);
	if (ucs2 != NULL)
		*ucs2 = 1;
	return count_segments((const unsigned char *)utf8, 0, units, 70, 67);
}

size_t
sms_chars(const char *utf8)
{
	const unsigned char *s = (const unsigned char *)utf8;
	size_t n = 0;
	long cp;

	if (s == NULL)
		return 0;
	while (*s != '\0') {
		s += utf8_next(s, &cp);
		n++;
	}
	return n;
}
