/*
 * fz_placeholder — fuzz target for lib/placeholder, which routerd runs on
 * what agents type ("/snippet" recognition) and on canned responses
 * ("{first_name}" expansion with values from the contact, which customers
 * wrote).  The input up to its first NUL is the text.  Both functions are
 * checked against a plain reading of their contracts in placeholder.h,
 * written here again without looking at how the library does it:
 *
 *   - placeholder_expand with a fixed table of values (some holding braces
 *     and line breaks, which must come out as they are, never expanded),
 *     with and without keep_unknown, and "{name|fallback}" (the fallback
 *     when the value is unknown or empty): the same text as the reference, or
 *     NULL exactly when the reference found an unknown or unterminated
 *     placeholder, with one line naming them (valid UTF-8 when the text
 *     is), cut to any errsz;
 *   - placeholder_snippet with buffers of several sizes, none written past.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "placeholder.h"
#include "valid.h"

#define NAME_MAX_LOOKUP	127	/* longer names are never looked up */
#define TAIL		" (write {{ for a literal brace)"

static const char *const table[][2] = {
	{ "first_name", "Ana" },
	{ "last_name", "{last_name}" },	/* a value is never expanded */
	{ "order", "" },		/* empty is a value */
	{ "agent", "}}{{ {x" },
	{ "x", "two\nlines" },
	{ "name with spaces", "ok" },
	{ "é", "accent" },
	{ NULL, NULL }
};

static const char *
lookup(const char *name, void *arg)
{
	int i;

	if (arg != (void *)table)
		abort();
	if (strlen(name) > NAME_MAX_LOOKUP || strpbrk(name, "{}\n") != NULL)
		abort();	/* not a name as the contract reads it */
	if (name[0] == '=')
		return name + 1;	/* values the input chooses */
	for (i = 0; table[i][0]; i++)
		if (strcmp(table[i][0], name) == 0)
			return table[i][1];
	return NULL;
}

struct ref {
	char	*out;
	size_t	 len;
	int	 unknown, unterm;
};

static void
add(struct ref *r, const char *s, size_t n)
{
	if ((r->out = realloc(r->out, r->len + n + 1)) == NULL)
		abort();
	memcpy(r->out + r->len, s, n);
	r->len += n;
	r->out[r->len] = '\0';
}

/* The contract of placeholder_expand, read literally. */
static void
reference(const char *t, struct ref *r)
{
	size_t i = 0, j, n = strlen(t), nl;
	const char *v, *bar;
	char name[NAME_MAX_LOOKUP + 1];

	memset(r, 0, sizeof(*r));
	add(r, "", 0);
	while (i < n) {
		if ((t[i] == '{' || t[i] == '}') && t[i + 1] == t[i]) {
			add(r, t + i, 1);	/* "{{" or "}}" */
			i += 2;
			continue;
		}
		if (t[i] != '{') {
			add(r, t + i, 1);
			i++;
			continue;
		}
		for (j = i + 1; j < n && t[j] != '}' && t[j] != '{' &&
		    t[j] != '\n'; j++)
			;
		if (j == n || t[j] != '}') {
			r->unterm = 1;	/* the '{' is text */
			add(r, t + i, 1);
			i++;
			continue;
		}
		v = NULL;
		bar = memchr(t + i + 1, '|', j - i - 1);
		nl = bar ? (size_t)(bar - (t + i + 1)) : j - i - 1;
		if (nl <= NAME_MAX_LOOKUP) {
			memcpy(name, t + i + 1, nl);
			name[nl] = '\0';
			v = lookup(name, (void *)table);
		}
		if (bar && (v == NULL || *v == '\0'))
			add(r, bar + 1, (size_t)(t + j - bar - 1));
		else if (v != NULL)
			add(r, v, strlen(v));
		else {
			r->unknown = 1;
			add(r, t + i, j - i + 1);	/* as written */
		}
		i = j + 1;
	}
}

static void
check_expand(const char *text, size_t cut)
{
	struct ref r;
	char err[1024], small[64];
	char *got;
	size_t k, el, tl = strlen(TAIL);

	reference(text, &r);

	/* keep_unknown: always the text, problems left as written */
	memset(err, 'x', sizeof(err));
	got = placeholder_expand(text, lookup, (void *)table, 1, err,
	    sizeof(err));
	if (got == NULL || strcmp(got, r.out) != 0 || err[0] != '\0')
		abort();
	free(got);

	memset(err, 'x', sizeof(err));
	got = placeholder_expand(text, lookup, (void *)table, 0, err,
	    sizeof(err));
	if (!r.unknown && !r.unterm) {
		if (got == NULL || strcmp(got, r.out) != 0 || err[0] != '\0')
			abort();
		free(got);
		free(r.out);
		return;
	}
	if (got != NULL)
		abort();
	/*
	 * One line, not much longer than a line, naming what is wrong: the
	 * unknown ones first, the unterminated one last (its advice ends
	 * the line; it holds a '{', which no name shown can).
	 */
	if (memchr(err, '\0', sizeof(err)) == NULL || strlen(err) > 400 ||
	    strchr(err, '\n') != NULL)
		abort();
	el = strlen(err);
	if ((strncmp(err, "unknown placeholder", 19) == 0) != r.unknown ||
	    (!r.unknown && strncmp(err, "unterminated placeholder {", 26) !=
	    0) || (el >= tl && strcmp(err + el - tl, TAIL) == 0) != r.unterm)
		abort();
	if (valid_utf8(text, strlen(text)) && !valid_utf8(err, strlen(err)))
		abort();	/* a name cut inside a character */

	/* a smaller err gets the start of the same line */
	k = cut % sizeof(small);
	memset(small, 'y', sizeof(small));
	if (placeholder_expand(text, lookup, (void *)table, 0, small, k) !=
	    NULL)
		abort();
	if (k > 0 && (strlen(small) != (strlen(err) < k ? strlen(err) :
	    k - 1) || strncmp(small, err, strlen(small)) != 0))
		abort();
	if (k == 0 && small[0] != 'y')
		abort();
	if (placeholder_expand(text, lookup, (void *)table, 0, NULL, 0) !=
	    NULL)
		abort();
	free(r.out);
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

static int
is_snip(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static void
check_snippet(const char *text)
{
	static const size_t sizes[] = { 0, 1, 5, PLACEHOLDER_SNIPPET_MAX,
	    PLACEHOLDER_SNIPPET_MAX + 1, 64 };
	char buf[80];
	const char *rest, *want_rest = NULL;
	size_t n = 0, s, i;
	int want;

	if (text[0] == '/')
		for (n = 0; is_snip((unsigned char)text[1 + n]); n++)
			;
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		want = text[0] == '/' && n >= 1 &&
		    n <= PLACEHOLDER_SNIPPET_MAX && n < sizes[s] &&
		    text[1] != '_' && text[1] != '-' &&
		    (text[1 + n] == '\0' || is_space((unsigned char)text[1 +
		    n]));
		if (want)
			for (want_rest = text + 1 + n;
			    is_space((unsigned char)*want_rest); want_rest++)
				;
		memset(buf, '#', sizeof(buf));
		rest = (const char *)buf;
		if (placeholder_snippet(text, buf, sizes[s], &rest) != want)
			abort();
		for (i = sizes[s]; i < sizeof(buf); i++)
			if (buf[i] != '#')
				abort();	/* past the buffer */
		if (!want) {
			if (sizes[s] > 0 && buf[0] != '\0')
				abort();
			if (rest != (const char *)buf)
				abort();	/* rest untouched */
			continue;
		}
		if (rest != want_rest || strlen(buf) != n)
			abort();
		for (i = 0; i < n; i++)
			if (buf[i] != (text[1 + i] >= 'A' && text[1 + i] <= 'Z' ?
			    text[1 + i] - 'A' + 'a' : text[1 + i]))
				abort();
		if (placeholder_snippet(text, buf, sizes[s], NULL) != 1)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if ((text = malloc(size + 1)) == NULL)
		abort();
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	check_expand(text, size);
	check_snippet(text);
	free(text);
	return 0;
}
