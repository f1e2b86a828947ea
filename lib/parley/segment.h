/*
 * segment — filters on contacts for contact-list segments.
 *
 * A --where is conditions separated by ',', each FIELD=VALUE, FIELD!=VALUE
 * or FIELD~TEXT (contains); a VALUE ending in '*' matches as a prefix; an
 * empty VALUE with '=' means the field is empty or absent, with '!=' that
 * it is set.  FIELD is tag (one of the contact's tags), one of the
 * contact's own fields (first_name, last_name, name, phone, email,
 * timezone) or a custom field.  Comparisons ignore ASCII case.  All
 * conditions must hold.
 */
#ifndef PARLEY_SEGMENT_H
#define PARLEY_SEGMENT_H

#include <stddef.h>
#include <jansson.h>

#define SEGMENT_WHERE_MAX	1000	/* bytes of a --where */
#define SEGMENT_CONDS_MAX	20	/* conditions in one --where */

/* The conditions of where as a new array of {field, op, value}, or NULL
 * with a one-line reason. */
json_t	*segment_parse(const char *where, char *err, size_t errsz);
/* 1 when contact (names split: first_name, last_name) passes every
 * condition of filter, else 0. */
int	segment_match(const json_t *filter, const json_t *contact);

#endif
