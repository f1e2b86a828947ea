/*
 * str — small string routines shared by every program (str.h).
 */
#include <ctype.h>
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
