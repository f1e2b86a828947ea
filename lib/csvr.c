/*
 * csvr — a streaming CSV reader on libcsv, for imports of any size.
 *
 * libcsv parses strictly (CSV_STRICT | CSV_STRICT_FINI: a stray quote, text
 * after a closing quote and a quote never closed are errors) but knows
 * nothing of lines and buffers a field without limit.  So the input is fed
 * to it in pieces that never cross a line feed and are at most PIECE bytes:
 * the line number is then known exactly for every piece, a record can only
 * end at the end of a piece (LF is the only terminator; CR is white space,
 * trimmed, so CRLF works), and the field being built is checked against
 * CSVR_MAXFIELD after every piece, before it can grow far.  A record is
 * copied into one buffer as it arrives, at most CSVR_MAXFIELDS fields of at
 * most CSVR_MAXFIELD bytes, so memory is bounded by those limits and the
 * 64 KiB read buffer, never by the file.
 *
 * On a bad row the parser is reset and the input skipped to the next line
 * feed: the caller reports the row and goes on.  Where a record breaks only
 * a limit (too many fields, a NUL byte) and still parses, the whole record
 * is consumed first, so a quoted line break in it cannot desynchronise the
 * rows that follow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "csvr.h"

#define PIECE		4096	/* most bytes given to libcsv at once */
#define OPTS		(CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)

struct csvr {
	FILE		*fp;
	struct csv_parser p;
	unsigned char	*chunk;
	size_t		 clen, cpos;
	int		 started;	/* first chunk read (BOM checked) */
	int		 eof;		/* fread has returned short */
	int		 ended;		/* csv_fini done: only 0 from now on */
	int		 skipping;	/* discarding up to the next LF */
	long		 line;		/* line of the byte at cpos */
	long		 start;		/* line on which the record starts */
	int		 in_row;	/* a record has started */

	/* the record being read */
	char		*rbuf;
	size_t		 rlen, rcap;
	size_t		 off[CSVR_MAXFIELDS];
	char		*fields[CSVR_MAXFIELDS + 1];
	size_t		 nf;		/* fields stored */
	size_t		 nseen;		/* fields seen, stored or not */
	int		 done;		/* libcsv ended the record */
	int		 bad;		/* why holds what is wrong with it */
	char		 why[128];
};

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int
is_term(unsigned char c)
{
	return c == '\n';
}

static void
parser_init(struct csvr *r)
{
	csv_init(&r->p, OPTS);
	csv_set_space_func(&r->p, is_space);
	csv_set_term_func(&r->p, is_term);
	csv_set_blk_size(&r->p, PIECE);
}

/* Forget the parser's state (after an error): a fresh parser. */
static void
parser_reset(struct csvr *r)
{
	csv_free(&r->p);
	parser_init(r);
}

static void
record_reset(struct csvr *r)
{
	r->rlen = r->nf = r->nseen = 0;
	r->done = r->bad = 0;
	r->why[0] = '\0';
}

static void
record_bad(struct csvr *r, const char *why, size_t field)
{
	if (r->bad)
		return;
	r->bad = 1;
	if (field)
		snprintf(r->why, sizeof(r->why), "field %zu %s", field, why);
	else
		snprintf(r->why, sizeof(r->why), "%s", why);
}

/* libcsv: a field has ended. */
static void
on_field(void *s, size_t len, void *arg)
{
	struct csvr *r = arg;
	size_t k = r->nseen++, cap;
	char *p;

	if (r->bad)
		return;
	if (k >= CSVR_MAXFIELDS) {
		record_bad(r, "more than 256 fields", 0);
		return;
	}
	if (len > CSVR_MAXFIELD) {
		record_bad(r, "is over 65536 bytes", k + 1);
		return;
	}
	if (len && memchr(s, '\0', len) != NULL) {
		record_bad(r, "has a NUL byte", k + 1);
		return;
	}
	if (r->rlen + len + 1 > r->rcap) {
		cap = r->rcap ? r->rcap : 1024;
		while (cap < r->rlen + len + 1)
			cap *= 2;
		if ((p = realloc(r->rbuf, cap)) == NULL) {
			record_bad(r, "out of memory", 0);
			return;
		}
		r->rbuf = p;
		r->rcap = cap;
	}
	if (len)
		memcpy(r->rbuf + r->rlen, s, len);
	r->rbuf[r->rlen + len] = '\0';
	r->off[k] = r->rlen;
	r->rlen += len + 1;
	r->nf = k + 1;
}

/* libcsv: a record has ended. */
static void
on_record(int c, void *arg)
{
	struct csvr *r = arg;

	r->done = 1;
}

struct csvr *
csvr_open(FILE *fp)
{
	struct csvr *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->chunk = malloc(CSVR_CHUNK)) == NULL) {
		free(r);
		return NULL;
	}
	r->fp = fp;
	r->line = 1;
	parser_init(r);
	return r;
}

void
csvr_close(struct csvr *r)
{
	if (r == NULL)
		return;
	csv_free(&r->p);
	free(r->chunk);
	free(r->rbuf);
	free(r);
}

/* Report the current record as bad: "line N: why[ (on line M)]". */
static int
fail(struct csvr *r, long *line, char *err, size_t errsz)
{
	long at = r->in_row ? r->start : r->line;

	if (err != NULL && errsz > 0) {
		if (r->in_row && r->line != r->start && !r->done)
			snprintf(err, errsz, "line %ld: %s (on line %ld)", at,
			    r->why, r->line);
		else
			snprintf(err, errsz, "line %ld: %s", at, r->why);
	}
	*line = at;
	r->in_row = 0;
	record_reset(r);
	return -1;
}

/* Hand the finished record over. */
static int
deliver(struct csvr *r, char ***fields, size_t *nfields, long *line)
{
	size_t i;

	for (i = 0; i < r->nf; i++)
		r->fields[i] = r->rbuf + r->off[i];
	r->fields[r->nf] = NULL;
	*fields = r->fields;
	*nfields = r->nf;
	*line = r->start;
	r->in_row = 0;
	return 1;
}

/* Read the next chunk; 0 at end of input, -1 on a read error. */
static int
fill(struct csvr *r)
{
	size_t n;

	n = fread(r->chunk, 1, CSVR_CHUNK, r->fp);
	if (n < CSVR_CHUNK) {
		if (ferror(r->fp))
			return -1;
		r->eof = 1;
	}
	r->clen = n;
	r->cpos = 0;
	if (!r->started) {
		r->started = 1;
		if (n >= 3 && memcmp(r->chunk, "\xef\xbb\xbf", 3) == 0)
			r->cpos = 3;
	}
	return n > 0;
}

int
csvr_next(struct csvr *r, char ***fields, size_t *nfields, long *line,
    char *err, size_t errsz)
{
	const unsigned char *s, *nl;
	size_t len, n, i;
	int rv;

	*fields = NULL;
	*nfields = 0;
	*line = r->line;
	if (err != NULL && errsz > 0)
		err[0] = '\0';
	record_reset(r);
	if (r->ended)
		return 0;

	for (;;) {
		if (r->cpos == r->clen) {
			if (!r->eof) {
				if ((rv = fill(r)) == -1) {
					snprintf(r->why, sizeof(r->why),
					    "read error: %s", strerror(errno));
					r->ended = 1;
					return fail(r, line, err, errsz);
				}
				continue;
			}
			/* end of input: a last line without its LF */
			r->ended = 1;
			if (r->skipping)
				return 0;
			if (csv_fini(&r->p, on_field, on_record, r) != 0) {
				snprintf(r->why, sizeof(r->why), "field %zu "
				    "has a quote that is never closed",
				    r->nseen + 1);
				r->done = 1;	/* no "(on line M)" */
				parser_reset(r);
				return fail(r, line, err, errsz);
			}
			if (!r->done)
				return 0;
			if (r->bad)
				return fail(r, line, err, errsz);
			return deliver(r, fields, nfields, line);
		}

		s = r->chunk + r->cpos;
		len = r->clen - r->cpos;
		if (r->skipping) {
			if ((nl = memchr(s, '\n', len)) == NULL) {
				r->cpos = r->clen;
				continue;
			}
			r->cpos += nl - s + 1;
			r->line++;
			r->skipping = 0;
			continue;
		}

		/* One piece: up to and including the next LF, at most PIECE. */
		if (len > PIECE)
			len = PIECE;
		if ((nl = memchr(s, '\n', len)) != NULL)
			len = nl - s + 1;
		if (!r->in_row) {
			for (i = 0; i < len; i++)
				if (!is_space(s[i]) && s[i] != '\n')
					break;
			if (i < len) {
				r->in_row = 1;
				r->start = r->line;
			}
		}
		n = csv_parse(&r->p, s, len, on_field, on_record, r);
		if (n < len) {
			/* libcsv stopped at byte n: never a LF */
			if (csv_error(&r->p) == CSV_EPARSE)
				snprintf(r->why, sizeof(r->why), "field %zu %s",
				    r->nseen + 1, r->p.quoted ?
				    "has text after its closing quote (a quote "
				    "inside a quoted field is written \"\")" :
				    "has a quote but does not start with one");
			else
				snprintf(r->why, sizeof(r->why), "%s",
				    csv_strerror(csv_error(&r->p)));
			r->bad = 1;
			r->cpos += n;
			r->skipping = 1;
			parser_reset(r);
			return fail(r, line, err, errsz);
		}
		r->cpos += len;
		if (r->done) {
			/* the piece ended in the LF that ended the record */
			r->line++;
			if (r->bad)
				return fail(r, line, err, errsz);
			return deliver(r, fields, nfields, line);
		}
		if (r->p.entry_pos > CSVR_MAXFIELD) {
			/* cannot read on without buffering it: give up the row */
			record_bad(r, "is over 65536 bytes", r->nseen + 1);
			rv = fail(r, line, err, errsz);
			parser_reset(r);
			if (nl != NULL)
				r->line++;	/* inside quotes: next line */
			else
				r->skipping = 1;
			return rv;
		}
		if (nl != NULL)
			r->line++;
	}
}
