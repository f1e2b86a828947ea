/*
 * str — the small string routines that parley's files each wrote for
 * themselves: a strdup that cannot fail, membership in a NULL-ended list,
 * and trimming white space.  Plumbing only: no parley rule lives here.
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

#endif
