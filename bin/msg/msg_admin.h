/*
 * msg_admin — what the admin command groups share (campaign, member, agent,
 * team, canned, template, disposition, statusdef, qa, holiday, blacklist,
 * contact): one request/answer with campaignd as JSON, flag tables that
 * build a document from "--flag value" arguments, and output as an aligned
 * table on a terminal or JSON Lines otherwise.
 */
#ifndef PARLEY_MSG_ADMIN_H
#define PARLEY_MSG_ADMIN_H

#include <jansson.h>

/*
 * Send {t:"cfg", kind, op, ...args} to campaignd (args is stolen; NULL for
 * none) and return the answer's fields as a JSON object (new reference).
 * Exits 1 with campaignd's reason when refused, 3 when unreachable.
 */
json_t	*admin_call(const char *kind, const char *op, json_t *args);
/* The same over an open connection, for many requests (imports). */
struct busc;
json_t	*admin_call_on(struct busc *, const char *kind, const char *op,
	    json_t *args);
/* Connect to campaignd or exit 3. */
void	admin_connect(struct busc *);

enum aflag_type {
	AF_STR,		/* "--title T"            -> "title": "T" */
	AF_INT,		/* "--max 3"              -> "max": 3 */
	AF_BOOL,	/* "--enabled yes|no"     -> true/false */
	AF_LIST,	/* "--tags a,b"           -> ["a","b"] */
	AF_JSON,	/* "--schedule '{...}'"   -> parsed JSON */
	AF_FLAG,	/* "--yes"                -> true, takes no value */
};

struct aflag {
	const char	*flag;		/* "title" for --title */
	const char	*field;		/* dotted path: "idk.message" */
	enum aflag_type	 type;
};

/*
 * Parse argv[i..] "--flag value" pairs by the table into obj (dotted fields
 * make nested objects).  Non-flag arguments are left in place: returns the
 * count of positional arguments moved to the front of argv+i.  Exits 2
 * with a one-line reason on an unknown flag or a bad value.
 */
int	admin_flags(int argc, char **argv, int i, const struct aflag *,
	    json_t *obj);
/*
 * Print a list answer: items (array of objects) as JSON Lines, or on a
 * terminal as a table of the given columns (dotted paths; arrays joined
 * with ","; objects as compact JSON).  Heads are the column names upper-cased.
 */
void	admin_print_items(json_t *items, const char *const *cols);
/* List every page of kind (op "list") with args, printing as above. */
int	admin_list(const char *kind, json_t *args, const char *const *cols);
/* Print one document: indented JSON on a terminal, one line otherwise. */
void	admin_print_doc(json_t *doc);
/* Ask "prompt [y/N]" on the terminal; 1 only for yes.  No tty: 0. */
int	admin_confirm(const char *prompt);
/* "a, b, c" from an array of strings into buf (cut at bufsz). */
void	admin_join(json_t *arr, char *buf, size_t bufsz);
/* Look a dotted path up in obj (NULL when absent). */
json_t	*admin_path(json_t *obj, const char *path);
/*
 * A text file ("-": stdin) of at most max bytes, NUL-ended (malloc'd);
 * exits 1 when it cannot be read, is longer or holds a NUL byte.
 */
char	*admin_file(const char *path, size_t max);

/* What the global-resource groups (canned, template, disposition,
 * statusdef, qa) share. */
/* Print a delete's answer; on stderr, the campaigns that used it. */
void	admin_res_deleted(const char *what, json_t *res);
/* Print an assign/unassign answer; a note when nothing changed. */
void	admin_res_assigned(json_t *res);

/* What the CSV imports (blacklist, contact) share. */
/* Add {line, reason} to errs, a refusal msg made itself. */
void	admin_line_err(json_t *errs, long line, const char *reason);
/*
 * Print two lists of {line, reason} (msg's own refusals and campaignd's),
 * each in line order, merged into one "import: line N: reason" per line on
 * stderr.  With shown, at most max lines are printed over all the calls
 * that count in *shown.
 */
void	admin_line_errs(json_t *a, json_t *b, size_t *shown, size_t max);

#endif
