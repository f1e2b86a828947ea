/*
 * sandboxd_multipart — a small multipart/form-data parser (RFC 7578) for
 * the uploads sandboxd takes (the WhatsApp Cloud API's media endpoint).
 * It splits a body held in one piece into parts that point into it (no
 * copies), reads each part's Content-Disposition name and filename and its
 * Content-Type, and refuses what a strict server refuses: no boundary, a
 * malformed delimiter line, headers over a bound, a body cut short.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sandboxd.h"

#define MP_MAX_PART_HEADERS	8192

/* The boundary of a multipart/form-data Content-Type into out; -1 if none. */
int
sbx_mp_boundary(const char *ct, char *out, size_t outsz)
{
	const char *p;
	size_t n;

	if (!sbx_ctype_is(ct, "multipart/form-data"))
		return -1;
	for (p = ct; (p = strchr(p, ';')) != NULL; ) {
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		if (strncasecmp(p, "boundary=", 9) != 0)
			continue;
		p += 9;
		if (*p == '"') {
			p++;
			n = strcspn(p, "\"");
			if (p[n] != '"')
				return -1;
		} else
			n = strcspn(p, "; \t");
		if (n == 0 || n > 70 || n >= outsz)
			return -1;
		memcpy(out, p, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

/*
 * The value of parameter name in a header value's ";"-separated list
 * (h, hl bytes; the first item, the disposition type, is skipped) into out:
 * 1 found, 0 absent, -1 malformed or too long.
 */
static int
mp_param(const char *h, size_t hl, const char *name, char *out, size_t outsz)
{
	size_t i = 0, ks, ke, o;
	int match, quoted;

	while (i < hl && h[i] != ';')
		i++;
	while (i < hl) {
		i++;	/* the ';' */
		while (i < hl && (h[i] == ' ' || h[i] == '\t'))
			i++;
		ks = i;
		while (i < hl && h[i] != '=' && h[i] != ';')
			i++;
		for (ke = i; ke > ks && (h[ke - 1] == ' ' || h[ke - 1] == '\t');
		    ke--)
			;
		match = ke - ks == strlen(name) &&
		    strncasecmp(h + ks, name, ke - ks) == 0;
		if (i >= hl || h[i] == ';')
			continue;	/* a parameter without a value */
		i++;	/* the '=' */
		while (i < hl && (h[i] == ' ' || h[i] == '\t'))
			i++;
		o = 0;
		quoted = i < hl && h[i] == '"';
		if (quoted) {
			for (i++; i < hl && h[i] != '"'; i++) {
				if (h[i] == '\\' && i + 1 < hl)
					i++;
				if (match) {
					if (o + 1 >= outsz)
						return -1;
					out[o++] = h[i];
				}
			}
			if (i >= hl)
				return -1;	/* unterminated */
			i++;
			while (i < hl && h[i] != ';')
				i++;
		} else {
			for (; i < hl && h[i] != ';'; i++)
				if (match) {
					if (o + 1 >= outsz)
						return -1;
					out[o++] = h[i];
				}
			while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
				o--;
		}
		if (match) {
			out[o] = '\0';
			return 1;
		}
	}
	return 0;
}

/* A part's header block (hl bytes, lines split by CRLF) into part. */
static int
mp_headers(const char *h, size_t hl, struct sbx_mp_part *part, const char **why)
{
	const char *line = h, *end = h + hl, *eol, *colon, *v;
	size_t ll, vl;
	int disp = 0, r;

	if (memchr(h, '\0', hl) != NULL) {
		*why = "a NUL byte in part headers";
		return -1;
	}
	while (line < end) {
		eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		ll = eol ? (size_t)(eol - line) : (size_t)(end - line);
		if (ll > 0 && line[0] != ' ' && line[0] != '\t') {
			if ((colon = memchr(line, ':', ll)) == NULL) {
				*why = "a part header line without ':'";
				return -1;
			}
			for (v = colon + 1; v < line + ll && (*v == ' ' ||
			    *v == '\t'); v++)
				;
			vl = (size_t)(line + ll - v);
			if ((size_t)(colon - line) == 19 &&
			    strncasecmp(line, "Content-Disposition", 19) == 0) {
				if (vl < 9 || strncasecmp(v, "form-data", 9) != 0 ||
				    (vl > 9 && v[9] != ';' && v[9] != ' ')) {
					*why = "a part that is not form-data";
					return -1;
				}
				disp = 1;
				if (mp_param(v, vl, "name", part->name,
				    sizeof(part->name)) != 1) {
					*why = "a part without a usable name";
					return -1;
				}
				if ((r = mp_param(v, vl, "filename",
				    part->filename, sizeof(part->filename))) == -1) {
					*why = "a part filename over 255 bytes";
					return -1;
				}
				part->has_filename = r == 1;
			} else if ((size_t)(colon - line) == 12 &&
			    strncasecmp(line, "Content-Type", 12) == 0) {
				if (vl >= sizeof(part->ctype)) {
					*why = "a part Content-Type too long";
					return -1;
				}
				memcpy(part->ctype, v, vl);
				part->ctype[vl] = '\0';
			}
		}
		line += ll + 2;
	}
	if (!disp) {
		*why = "a part without Content-Disposition";
		return -1;
	}
	return 0;
}

/*
 * Split a multipart body (len bytes) at boundary into at most max parts,
 * pointing into b (nothing copied).  -1 with why when malformed.
 */
int
sbx_mp_parse(const unsigned char *b, size_t len, const char *boundary,
    struct sbx_mp_part *parts, size_t max, size_t *np, const char **why)
{
	const unsigned char *p, *end = b + len, *hend, *data, *next;
	char delim[80];
	size_t dl, hl;

	*np = 0;
	dl = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	/* The first delimiter starts the body or a line (after a preamble). */
	if (len >= dl - 2 && memcmp(b, delim + 2, dl - 2) == 0)
		p = b + dl - 2;
	else if ((p = memmem(b, len, delim, dl)) != NULL)
		p += dl;
	else {
		*why = "no boundary delimiter";
		return -1;
	}
	for (;;) {
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return 0;	/* the close delimiter; the rest is epilogue */
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
			*why = "a malformed boundary line";
			return -1;
		}
		p += 2;
		if (*np == max) {
			*why = "too many parts";
			return -1;
		}
		memset(&parts[*np], 0, sizeof(parts[*np]));
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
			*why = "a part without Content-Disposition";
			return -1;
		}
		hl = (size_t)(end - p) < MP_MAX_PART_HEADERS + 4 ?
		    (size_t)(end - p) : MP_MAX_PART_HEADERS + 4;
		if ((hend = memmem(p, hl, "\r\n\r\n", 4)) == NULL) {
			*why = "part headers too long or cut short";
			return -1;
		}
		if (mp_headers((const char *)p, (size_t)(hend - p), &parts[*np],
		    why) == -1)
			return -1;
		data = hend + 4;
		if ((next = memmem(data, (size_t)(end - data), delim, dl)) ==
		    NULL) {
			*why = "cut short: no closing boundary";
			return -1;
		}
		parts[*np].data = data;
		parts[*np].len = (size_t)(next - data);
		(*np)++;
		p = next + dl;
	}
}

/* The first part named name, or NULL. */
const struct sbx_mp_part *
sbx_mp_find(const struct sbx_mp_part *parts, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(parts[i].name, name) == 0)
			return &parts[i];
	return NULL;
}

/* A field part's value as a string into out; -1 if it has a NUL or is long. */
int
sbx_mp_value(const struct sbx_mp_part *p, char *out, size_t outsz)
{
	if (p->len >= outsz || memchr(p->data, '\0', p->len) != NULL)
		return -1;
	memcpy(out, p->data, p->len);
	out[p->len] = '\0';
	return 0;
}


