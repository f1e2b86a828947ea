/*
 * placeholder — canned responses as an agent uses them: "/hello" at the
 * start of `msg send` picks the response whose snippet is hello, and its
 * "{first_name}" style placeholders are filled from the contact.  Pure
 * string work shared by msg and routerd (what campaignd stores is checked
 * by campaignd, msg-canned(1)); the lookup of values is the caller's.
 */
#ifndef PARLEY_PLACEHOLDER_H
#define PARLEY_PLACEHOLDER_H

#include <stddef.h>

#define PLACEHOLDER_SNIPPET_MAX	32	/* bytes in a snippet name */

/*
 * Expand "{name}" placeholders in text: lookup(name, arg) gives the value
 * (inserted as is, never expanded again) or NULL for unknown.
 * "{name|fallback}" inserts fallback (as written, up to the '}') when the
 * value is NULL or empty: never an error.  "{{" and
 * "}}" are literal braces; a lone '}' is itself.  A '{' not closed by '}'
 * before the next '{', a newline or the end is unterminated.  Unknown or
 * unterminated placeholders: NULL with a one-line err naming them
 * ("unknown placeholder {order}"), unless keep_unknown (then they are left
 * as written).  Result malloc'd; NULL with err also when out of memory.
 */
char	*placeholder_expand(const char *text,
	    const char *(*lookup)(const char *name, void *arg), void *arg,
	    int keep_unknown, char *err, size_t errsz);

/*
 * A message that starts with "/NAME" followed by the end or whitespace,
 * NAME a snippet (1 to PLACEHOLDER_SNIPPET_MAX of a-z, 0-9, '_', '-',
 * starting with a letter or a digit; upper case is folded to lower): NAME
 * into buf and *rest (rest may be NULL) to what follows, leading whitespace
 * skipped; 1.  Else 0 ("/etc/hosts", "/ hi", "hi /x", a name that does not
 * fit bufsz), buf "" if it has room.
 */
int	placeholder_snippet(const char *text, char *buf, size_t bufsz,
	    const char **rest);

#endif
