/*
 * jsonfix — a provider's JSON made parseable whatever bytes one string of
 * it holds (see jsonfix.h).  It grew in whatsappd's parser, where one
 * customer's broken text cost a whole notification of other customers'
 * messages; messengerd parses the same kind of batched Meta JSON.
 *
 * The body is scanned once to count what needs fixing and, only when
 * something does, once more into a copy: inside strings each invalid UTF-8
 * sequence (each maximal bad subpart, as Unicode recommends), a raw NUL
 * byte and an unpaired surrogate escape become the escape \u0000, so that
 * jansson (with JSON_ALLOW_NUL) takes the document; a NUL in a key, where
 * jansson takes none, becomes \uFFFD already here.  Bytes outside strings
 * are left alone: a body broken there is not JSON and stays refused.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonfix.h"
#include "log.h"
#include "valid.h"

static int
hex4(const unsigned char *s, size_t n, unsigned *v)
{
	size_t i;
	int d;

	if (n < 4)
		return 0;
	for (*v = 0, i = 0; i < 4; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f')
			d = (s[i] | 0x20) - 'a' + 10;
		else
			return 0;
		*v = *v * 16 + (unsigned)d;
	}
	return 1;
}

struct sbuf {
	char	*p;
	size_t	 len, cap;
	int	 count;		/* only count the bytes */
};

static void
sb_add(struct sbuf *b, const void *p, size_t n)
{
	if (b->count) {
		b->len += n;
		return;
	}
	if (b->len + n > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 4096;
		while (b->cap < b->len + n)
			b->cap *= 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			fatalx("out of memory");
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/*
 * The body with every string made parseable into b (see the top of the
 * file): invalid UTF-8, raw NULs and unpaired surrogate escapes as \u0000,
 * NULs in keys as \uFFFD.  Bytes outside strings are left alone: a body
 * broken there is not JSON and is refused.  The number of changes.
 */
static size_t
sanitize_into(const char *body, size_t len, struct sbuf *b)
{
	const unsigned char *s = (const unsigned char *)body;
	size_t i = 0, k, bad, nuls = 0, fixes = 0, *nulat = NULL, nulcap = 0;
	unsigned v, w;
	int instr = 0;

	while (i < len) {
		if (!instr) {
			if (s[i] == '"') {
				instr = 1;
				nuls = 0;
			}
			sb_add(b, s + i++, 1);
			continue;
		}
		if (s[i] == '"') {
			instr = 0;
			sb_add(b, s + i++, 1);
			/* a key takes no NUL: U+FFFD there, the same size */
			for (k = i; k < len && (s[k] == ' ' || s[k] == '\t' ||
			    s[k] == '\n' || s[k] == '\r'); k++)
				;
			if (nuls > 0 && k < len && s[k] == ':') {
				for (k = 0; k < nuls && !b->count; k++)
					memcpy(b->p + nulat[k], "\\uFFFD", 6);
				fixes++;
			}
			continue;
		}
		if (s[i] == '\\' && i + 1 < len && s[i + 1] == 'u' &&
		    hex4(s + i + 2, len - i - 2, &v)) {
			if (v >= 0xd800 && v <= 0xdbff && i + 11 < len &&
			    s[i + 6] == '\\' && s[i + 7] == 'u' &&
			    hex4(s + i + 8, len - i - 8, &w) &&
			    w >= 0xdc00 && w <= 0xdfff) {
				sb_add(b, s + i, 12);	/* a surrogate pair */
				i += 12;
				continue;
			}
			if (v != 0 && (v < 0xd800 || v > 0xdfff)) {
				sb_add(b, s + i, 6);
				i += 6;
				continue;
			}
			if (v != 0)
				fixes++;	/* an unpaired surrogate */
			i += 6;
			goto nul;
		}
		if (s[i] == '\\') {
			/* any other escape: two bytes as they are */
			sb_add(b, s + i, i + 1 < len ? 2 : 1);
			i += 2;
			continue;
		}
		if (s[i] == 0) {
			fixes++;
			i++;
			goto nul;
		}
		if ((k = valid_utf8_next(body + i, len - i, &bad)) > 0) {
			sb_add(b, s + i, k);
			i += k;
			continue;
		}
		fixes++;
		i += bad;
nul:
		/* \u0000: ours or Meta's, noted in case this is a key */
		if (nuls == nulcap) {
			nulcap = nulcap ? nulcap * 2 : 8;
			if ((nulat = reallocarray(nulat, nulcap,
			    sizeof(*nulat))) == NULL)
				fatalx("out of memory");
		}
		nulat[nuls++] = b->len;
		sb_add(b, "\\u0000", 6);
	}
	free(nulat);
	return fixes;
}

char *
jsonfix_body(const char *body, size_t len, size_t *outlen)
{
	struct sbuf b = { NULL, 0, 0, 1 };

	if (sanitize_into(body, len, &b) == 0)
		return NULL;
	b.len = 0;
	b.count = 0;
	sanitize_into(body, len, &b);
	*outlen = b.len;
	return b.p;
}

size_t
jsonfix_nuls(json_t *v)
{
	struct sbuf b = { NULL, 0, 0, 0 };
	const char *k, *p;
	json_t *e;
	size_t i, n = 0, len, j, run;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach(v, k, e)
			n += jsonfix_nuls(e);
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, e)
			n += jsonfix_nuls(e);
		break;
	case JSON_STRING:
		p = json_string_value(v);
		len = json_string_length(v);
		if (memchr(p, '\0', len) == NULL)
			break;
		for (j = 0; j < len; j += run) {
			if (p[j] == '\0') {
				sb_add(&b, "\xef\xbf\xbd", 3);
				run = 1;
				continue;
			}
			run = strnlen(p + j, len - j);
			sb_add(&b, p + j, run);
		}
		if (json_string_setn_nocheck(v, b.p, b.len) == -1)
			fatalx("out of memory");
		free(b.p);
		n = 1;
		break;
	default:
		break;
	}
	return n;
}
