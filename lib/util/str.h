/*
 * str — the small string routines that parley's files each wrote for
 * themselves: a strdup that cannot fail, membership in a NULL-ended list,
 * trimming white space, a URL's file name and a double written short.
 * Plumbing only: no parley rule lives here.
 */
#ifndef PARLEY_STR_H
#define PARLEY_STR_H

/* A malloc'd copy of s (NULL copies as ""); fatalx when memory runs out. */
char	*str_dup(const char *s);
/* 1 if s is one of the strings of the NULL-ended list; a NULL s is not. */
int	str_in(const char *const *list, const char *s);
/*
 * s without its leading and trailing white space (isspace in the C
 * locale): trailing space is cut in place, the result points into s.
 */
char	*str_trim(char *s);
/* The last path component of url (no query or fragment), or "" when it
 * has none or it does not fit in out. */
void	str_url_filename(const char *url, char *out, size_t outsz);
/* The shortest decimal that reads back as d, without an exponent
 * ("37.483307", not ...9996; "40", not "4e+01"). */
void	str_num(char *buf, size_t sz, double d);

#endif
