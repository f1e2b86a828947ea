/*
 * placeholder — "{name}" expansion and "/snippet" recognition for canned
 * responses.
 *
 * Expansion is one pass: a value that itself holds braces (a contact named
 * "{x}") is copied, not expanded, so what a customer typed can never pull
 * another field into a reply.  A placeholder with no value is an error
 * rather than an empty string because "Hi , your order  shipped" sent to a
 * customer is worse than a refusal the agent can fix; keep_unknown is for
 * previews.  "{name|fallback}" gives fallback when name has no value (or is
 * unknown), so an outbound message can say "Hi {first_name|there}".
 * Errors name the placeholders as written, at most a few and
 * each cut short, so the message stays one readable line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placeholder.h"

#define NAME_BUF	128	/* longer names are unknown without a lookup */
#define ERR_NAMES	4	/* distinct unknown names listed in err */
#define ERR_SHOW	40	/* bytes of one name shown in err */

struct buf {
	char	*p;
	size_t	 len, cap;
};

static int
put(struct buf *b, const char *s, size_t n)
{
	size_t cap;
	char *np;

	if (n > (size_t)-1 - b->len - 1)
		return -1;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap = cap > (size_t)-1 / 2 ? b->len + n + 1 : cap * 2;
		if ((np = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* n cut back to at most max bytes without splitting a UTF-8 sequence. */
static size_t
cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

struct problems {
	const char	*unk[ERR_NAMES];	/* at the '{' */
	size_t		 unklen[ERR_NAMES];	/* through the '}' */
	int		 nunk, more;
	const char	*unterm;		/* the first one, at '{' */
	size_t		 untermlen;
};

static void
note_unknown(struct problems *pr, const char *s, size_t n)
{
	int i;

	for (i = 0; i < pr->nunk; i++)
		if (pr->unklen[i] == n && memcmp(pr->unk[i], s, n) == 0)
			return;
	if (pr->nunk == ERR_NAMES) {
		pr->more = 1;
		return;
	}
	pr->unk[pr->nunk] = s;
	pr->unklen[pr->nunk++] = n;
}

/* "{name}" shown in err, cut short with "...}" when long. */
static size_t
show(char *out, size_t outsz, const char *s, size_t n, int closed)
{
	size_t inner = n - 1 - (closed ? 1 : 0), k = cut(s + 1, inner,
	    ERR_SHOW);
	int w;

	w = snprintf(out, outsz, "{%.*s%s%s", (int)k, s + 1,
	    k < inner ? "..." : "", closed ? "}" : "");
	return w < 0 ? 0 : (size_t)w;
}

static void
report(const struct problems *pr, char *err, size_t errsz)
{
	char line[512], one[ERR_SHOW + 16];
	size_t off = 0;
	int i;

	line[0] = '\0';
	if (pr->nunk > 0) {
		off += snprintf(line + off, sizeof(line) - off,
		    "unknown placeholder%s ", pr->nunk > 1 || pr->more ?
		    "s" : "");
		for (i = 0; i < pr->nunk; i++) {
			show(one, sizeof(one), pr->unk[i], pr->unklen[i], 1);
			off += snprintf(line + off, sizeof(line) - off, "%s%s",
			    i ? ", " : "", one);
		}
		if (pr->more)
			off += snprintf(line + off, sizeof(line) - off,
			    " and more");
	}
	if (pr->unterm) {
		show(one, sizeof(one), pr->unterm, pr->untermlen, 0);
		snprintf(line + off, sizeof(line) - off,
		    "%sunterminated placeholder %s (write {{ for a literal "
		    "brace)", off ? "; " : "", one);
	}
	if (err && errsz)
		snprintf(err, errsz, "%s", line);
}

char *
placeholder_expand(const char *text,
    const char *(*lookup)(const char *name, void *arg), void *arg,
    int keep_unknown, char *err, size_t errsz)
{
	struct buf b = { NULL, 0, 0 };
	struct problems pr;
	const char *p, *q, *run, *val, *bar;
	char name[NAME_BUF];
	size_t n, nl;

	memset(&pr, 0, sizeof(pr));
	if (err && errsz)
		err[0] = '\0';
	if (text == NULL) {
		if (err && errsz)
			snprintf(err, errsz, "no text to expand");
		return NULL;
	}
	if (put(&b, "", 0) == -1)
		goto nomem;
	for (p = run = text; *p; ) {
		if ((p[0] == '{' && p[1] == '{') ||
		    (p[0] == '}' && p[1] == '}')) {
			if (put(&b, run, (size_t)(p - run) + 1) == -1)
				goto nomem;
			p += 2;
			run = p;
			continue;
		}
		if (*p != '{') {
			p++;
			continue;
		}
		if (put(&b, run, (size_t)(p - run)) == -1)
			goto nomem;
		for (q = p + 1; *q && *q != '}' && *q != '{' && *q != '\n';
		    q++)
			;
		if (*q != '}') {
			/* unterminated: the '{' stays text; go on after it */
			if (pr.unterm == NULL) {
				pr.unterm = p;
				pr.untermlen = (size_t)(q - p);
			}
			run = p++;
			continue;
		}
		n = (size_t)(q - p - 1);
		val = NULL;
		bar = memchr(p + 1, '|', n);
		if ((bar ? (size_t)(bar - p - 1) : n) < sizeof(name) &&
		    lookup != NULL) {
			nl = bar ? (size_t)(bar - p - 1) : n;
			memcpy(name, p + 1, nl);
			name[nl] = '\0';
			val = lookup(name, arg);
		}
		if (bar && (val == NULL || *val == '\0')) {
			/* {name|fallback}: the fallback, as written */
			if (put(&b, bar + 1, (size_t)(q - bar - 1)) == -1)
				goto nomem;
			run = q + 1;
		} else if (val == NULL) {
			note_unknown(&pr, p, n + 2);
			run = p;	/* left as written */
		} else {
			if (put(&b, val, strlen(val)) == -1)
				goto nomem;
			run = q + 1;
		}
		p = q + 1;
	}
	if (put(&b, run, (size_t)(p - run)) == -1)
		goto nomem;
	if (!keep_unknown && (pr.nunk > 0 || pr.unterm != NULL)) {
		report(&pr, err, errsz);
		free(b.p);
		return NULL;
	}
	return b.p;

nomem:
	free(b.p);
	if (err && errsz)
		snprintf(err, errsz, "out of memory expanding placeholders");
	return NULL;
}

static int
snippet_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int
space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

int
placeholder_snippet(const char *text, char *buf, size_t bufsz,
    const char **rest)
{
	const char *p;
	size_t n, i;

	if (buf && bufsz)
		buf[0] = '\0';
	if (text == NULL || text[0] != '/' || buf == NULL)
		return 0;
	for (p = text + 1; snippet_char((unsigned char)*p); p++)
		;
	n = (size_t)(p - text - 1);
	if (n == 0 || n > PLACEHOLDER_SNIPPET_MAX || n >= bufsz ||
	    text[1] == '_' || text[1] == '-' ||
	    (*p != '\0' && !space((unsigned char)*p)))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[1 + i];
		buf[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	buf[n] = '\0';
	while (space((unsigned char)*p))
		p++;
	if (rest)
		*rest = p;
	return 1;
}
