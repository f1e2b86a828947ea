/*
 * form — application/x-www-form-urlencoded bodies, both ways.
 *
 * Twilio posts its webhooks in this encoding and takes its Messages API
 * parameters in it, and its signature is computed over the *decoded* pairs,
 * so decoding must be exact: %XX and '+' are decoded, a bad escape or a NUL
 * byte (raw or %00) makes the whole body malformed, and the number of pairs
 * is bounded so a hostile body cannot make us allocate without limit.
 * Encoding keeps RFC 3986 unreserved characters, turns space into '+' and
 * escapes everything else as %XX.
 */
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "log.h"
#include "str.h"

static void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL)
		fatalx("out of memory (%zu bytes)", n);
	return q;
}

void
form_init(struct form *f)
{
	f->p = NULL;
	f->n = f->cap = 0;
}

void
form_free(struct form *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->p[i].name);
		free(f->p[i].value);
	}
	free(f->p);
	form_init(f);
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode s[0..n) into a new NUL-terminated string; NULL with *why on a bad
 * escape or a NUL byte.
 */
static char *
decode(const char *s, size_t n, const char **why)
{
	char *out, *o;
	size_t i;
	int hi, lo;

	out = xrealloc(NULL, n + 1);
	o = out;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '+') {
			*o++ = ' ';
		} else if (c == '%') {
			if (n - i < 3)	/* need two hex digits after '%' */
				goto bad;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				goto bad;
			c = (unsigned char)(hi << 4 | lo);
			if (c == '\0')
				goto nul;
			*o++ = (char)c;
			i += 2;
		} else if (c == '\0') {
			goto nul;
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	return out;
bad:
	*why = "bad %-escape";
	free(out);
	return NULL;
nul:
	*why = "NUL byte";
	free(out);
	return NULL;
}

static void
push(struct form *f, char *name, char *value)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->p = xrealloc(f->p, f->cap * sizeof(*f->p));
	}
	f->p[f->n].name = name;
	f->p[f->n].value = value;
	f->n++;
}

int
form_parse(struct form *f, const char *body, size_t len, const char **why)
{
	const char *p = body, *end = body + len, *amp, *eq;
	char *name = NULL, *value = NULL;

	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp == p) {		/* "a=1&&b=2": empty segment */
			p++;
			continue;
		}
		if (f->n >= FORM_MAXPAIRS) {
			*why = "too many parameters";
			goto fail;
		}
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == NULL)
			eq = amp;
		if (eq == p) {
			*why = "empty parameter name";
			goto fail;
		}
		if ((name = decode(p, (size_t)(eq - p), why)) == NULL)
			goto fail;
		if (eq < amp)
			value = decode(eq + 1, (size_t)(amp - eq - 1), why);
		else
			value = decode("", 0, why);
		if (value == NULL)
			goto fail;
		push(f, name, value);
		name = value = NULL;
		p = amp + 1;
	}
	return 0;
fail:
	free(name);
	form_free(f);
	return -1;
}

const char *
form_get(const struct form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->p[i].name, name) == 0)
			return f->p[i].value;
	return NULL;
}

void
form_add(struct form *f, const char *name, const char *value)
{
	push(f, str_dup(name), str_dup(value));
}

static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* Append the encoding of s to out at *o (room checked by the caller). */
static void
encode_into(char *out, size_t *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u;

	for (u = (const unsigned char *)s; *u; u++) {
		if (unreserved(*u)) {
			out[(*o)++] = (char)*u;
		} else if (*u == ' ') {
			out[(*o)++] = '+';
		} else {
			out[(*o)++] = '%';
			out[(*o)++] = hex[*u >> 4];
			out[(*o)++] = hex[*u & 15];
		}
	}
}

char *
form_encode(const struct form *f, size_t *len)
{
	size_t i, need = 1, o = 0;
	char *out;

	for (i = 0; i < f->n; i++)
		need += 3 * (strlen(f->p[i].name) + strlen(f->p[i].value)) + 2;
	out = xrealloc(NULL, need);
	for (i = 0; i < f->n; i++) {
		if (i > 0)
			out[o++] = '&';
		encode_into(out, &o, f->p[i].name);
		out[o++] = '=';
		encode_into(out, &o, f->p[i].value);
	}
	out[o] = '\0';
	*len = o;
	return out;
}
