/*
 * form — application/x-www-form-urlencoded bodies: parse into decoded
 * name/value pairs (bounded), look up, build and encode.  Twilio speaks
 * this both ways.
 */
#ifndef PARLEY_FORM_H
#define PARLEY_FORM_H

#include <stddef.h>

#define FORM_MAXPAIRS	256

struct form_pair {
	char	*name;
	char	*value;
};

struct form {
	struct form_pair *p;
	size_t		  n, cap;
};

void	form_init(struct form *);
void	form_free(struct form *);
/*
 * Parse body (len bytes) into f, decoding %XX and '+'.  -1 with *why on a
 * malformed body: bad escape, NUL byte, more than FORM_MAXPAIRS pairs.
 */
int	form_parse(struct form *, const char *body, size_t len,
	    const char **why);
/* The first value for name, or NULL. */
const char *form_get(const struct form *, const char *name);
/* Append a pair (copied). */
void	form_add(struct form *, const char *name, const char *value);
/* Encode as a body; malloc'd, NUL-terminated, *len set. */
char	*form_encode(const struct form *, size_t *len);

#endif
