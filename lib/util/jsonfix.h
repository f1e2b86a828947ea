/*
 * jsonfix — JSON from a provider made parseable without refusing it whole
 * for one bad string: invalid UTF-8, raw NUL bytes and unpaired surrogate
 * escapes inside strings become NULs jansson can hold (JSON_ALLOW_NUL),
 * and NULs in parsed strings then become U+FFFD.  Meta batches many
 * customers' messages in one webhook; one customer's broken text must not
 * cost the others theirs.
 */
#ifndef PARLEY_JSONFIX_H
#define PARLEY_JSONFIX_H

#include <stddef.h>
#include <jansson.h>

/*
 * The body with every string made parseable (malloc'd, its length in
 * *outlen), or NULL when nothing needed it: then parse the body as it came.
 * Parse the result with JSON_ALLOW_NUL.
 */
char	*jsonfix_body(const char *body, size_t len, size_t *outlen);
/*
 * Every NUL in the strings under v becomes U+FFFD; returns how many
 * strings changed.  (jansson bounds the depth of what it parses.)
 */
size_t	jsonfix_nuls(json_t *v);

#endif
