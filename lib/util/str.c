/*
 * str — small string routines shared by every program (str.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "str.h"

char *
str_dup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

int
str_in(const char *const *list, const char *s)
{
	if (s == NULL)
		return 0;
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

char *
str_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

void
str_url_filename(const char *url, char *out, size_t outsz)
{
	const char *p = strstr(url, "://"), *end, *slash;
	size_t n;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += 3;
	end = p + strcspn(p, "?#");
	if ((slash = memchr(p, '/', (size_t)(end - p))) == NULL)
		return;
	for (p = slash; (slash = memchr(p + 1, '/', (size_t)(end - p - 1)))
	    != NULL; p = slash)
		;
	n = (size_t)(end - p - 1);
	if (n > 0 && n < outsz)
		snprintf(out, outsz, "%.*s", (int)n, p + 1);
}

void
str_num(char *buf, size_t sz, double d)
{
	int p;

	for (p = 1; p <= 17; p++) {
		snprintf(buf, sz, "%.*g", p, d);
		if (strtod(buf, NULL) == d && strchr(buf, 'e') == NULL)
			return;
	}
}
