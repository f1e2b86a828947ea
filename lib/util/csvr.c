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
 * a limit (too many fields, a field too long, a NUL byte) and still parses,
 * the whole record is consumed first, so a quoted line break in it cannot
 * desynchronise the rows that follow.
 *
 * One quote too many is the usual broken file: a field opens a quote that
 * nothing closes, and everything after it, line feeds included, becomes
 * that field until the end of the file or CSVR_MAXFIELD bytes.  Reporting
 * that once is not enough if the rows it swallowed are lost, so the reader
 * remembers the line on which an open quoted field began and the offset of
 * the line after it; when the quote turns out never to close (at the end,
 * or past the limit over several lines) the row is reported at that line
 * and, if the input can seek, reading goes on from the next line, where
 * the swallowed rows are read as the rows they are.  Those rows hold no
 * quote of their own (it would have closed the field), so each byte is
 * read at most twice.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "csvr.h"

#define PIECE		4096	/* most bytes given to libcsv at once */
#define FIELD_BEGUN	2	/* libcsv's pstate inside a field */

/* Reading past an over-long field (see qskip_scan). */
enum { QS_NONE, QS_IN, QS_QUOTE, QS_AFTER, QS_UNQ };
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
	off_t		 base;		/* offset of chunk[0]; -1: cannot seek */
	long		 qline;		/* line where an open quoted field began */
	size_t		 qfield;	/* and its number */
	off_t		 qnext;		/* offset of the line after qline, or -1 */
	int		 qskip;		/* QS_*: past an over-long field */

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

/* No quoted field is open (any more). */
static void
quote_reset(struct csvr *r)
{
	r->qline = 0;
	r->qfield = 0;
	r->qnext = -1;
}

/* libcsv: a field has ended. */
static void
on_field(void *s, size_t len, void *arg)
{
	struct csvr *r = arg;
	size_t k = r->nseen++, cap;
	char *p;

	quote_reset(r);
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
	r->base = ftello(fp);	/* -1 on a pipe: no going back */
	quote_reset(r);
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

	if (r->base >= 0)
		r->base += (off_t)r->clen;
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

/*
 * The open quoted field that began on r->qline never closes: report it at
 * that line, and go back to the line after it when the input can seek, so
 * that the rows it swallowed are read as rows.
 */
static int
quote_unclosed(struct csvr *r, long *line, char *err, size_t errsz)
{
	long q = r->qline ? r->qline : r->start;
	size_t field = r->qfield ? r->qfield : r->nseen + 1;
	int back;

	back = r->qnext >= 0 && r->base >= 0 &&
	    fseeko(r->fp, r->qnext, SEEK_SET) == 0;
	if (err != NULL && errsz > 0)
		snprintf(err, errsz, "line %ld: field %zu opens a quote that "
		    "is never closed%s", q, field, back ? "" : " (the rest "
		    "of the input was read as that field)");
	*line = q;
	parser_reset(r);
	r->in_row = 0;
	r->qskip = QS_NONE;
	record_reset(r);
	if (back) {
		r->base = r->qnext;
		r->clen = r->cpos = 0;
		r->eof = r->ended = r->skipping = 0;
		clearerr(r->fp);
		r->line = q + 1;
	}
	quote_reset(r);
	return -1;
}

/*
 * Read on past an over-long field without keeping it, as far as the chunk
 * goes: a quoted one (QS_IN, QS_QUOTE, QS_AFTER) or an unquoted one
 * (QS_UNQ).  0: still inside (or the chunk ran out); 1: the field has
 * ended and the record goes on (the delimiter at cpos is the parser's);
 * 2: the record ended with it (its LF consumed); 3: text follows its
 * closing quote, or a quote is inside the unquoted one.
 */
static int
qskip_scan(struct csvr *r)
{
	const unsigned char *s = r->chunk + r->cpos;
	size_t len = r->clen - r->cpos, i;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = s[i];
		switch (r->qskip) {
		case QS_IN:
			if (c == '"')
				r->qskip = QS_QUOTE;
			else if (c == '\n') {
				if (r->line == r->qline && r->base >= 0)
					r->qnext = r->base +
					    (off_t)(r->cpos + i + 1);
				r->line++;
			}
			continue;
		case QS_QUOTE:
			if (c == '"') {		/* a doubled quote */
				r->qskip = QS_IN;
				continue;
			}
			r->qskip = QS_AFTER;
			/* FALLTHROUGH */
		case QS_UNQ:
			/* unquoted: up to the comma or LF that ends it */
			if (r->qskip == QS_UNQ && c != ',' && c != '\n' &&
			    c != '"')
				continue;
			/* FALLTHROUGH */
		default:
			if (is_space(c))
				continue;
			r->qskip = QS_NONE;
			quote_reset(r);
			if (c == ',') {
				r->cpos += i;
				return 1;
			}
			if (c == '\n') {
				r->cpos += i + 1;
				r->line++;
				return 2;
			}
			r->cpos += i;
			return 3;
		}
	}
	r->cpos += len;
	return 0;
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
			if (r->qskip == QS_IN)
				return quote_unclosed(r, line, err, errsz);
			if (r->qskip != QS_NONE) {
				/* the over-long field closed at the very end */
				r->qskip = QS_NONE;
				r->done = 1;
				return fail(r, line, err, errsz);
			}
			if (csv_fini(&r->p, on_field, on_record, r) != 0)
				return quote_unclosed(r, line, err, errsz);
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
		if (r->qskip != QS_NONE) {
			switch (qskip_scan(r)) {
			case 0:		/* more of it */
			case 1:		/* the parser reads the rest */
				continue;
			case 2:
				r->done = 1;	/* no "(on line M)" */
				return fail(r, line, err, errsz);
			default:
				r->skipping = 1;
				return fail(r, line, err, errsz);
			}
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
		if (n == len && r->p.quoted && r->qline == 0) {
			/* a quoted field opened in this piece */
			r->qline = r->line;
			r->qfield = r->nseen + 1;
		}
		if (n == len && nl != NULL && r->p.quoted &&
		    r->qline == r->line && r->base >= 0)
			/* the LF is inside it: the line after is where to
			 * go back to should it never close */
			r->qnext = r->base + (off_t)(r->cpos + len);
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
			quote_reset(r);
			return fail(r, line, err, errsz);
		}
		r->cpos += len;
		if (nl != NULL && !r->done)
			r->line++;	/* a line feed inside quotes */
		if (r->done) {
			/* the piece ended in the LF that ended the record */
			r->line++;
			if (r->bad)
				return fail(r, line, err, errsz);
			return deliver(r, fields, nfields, line);
		}
		if (r->p.entry_pos > CSVR_MAXFIELD) {
			/* cannot read on without buffering it: the row goes */
			record_bad(r, "is over 65536 bytes", r->nseen + 1);
			if (r->p.quoted) {
				/* read past the rest of it, LFs and all, to
				 * see where it ends (if it ever does) */
				r->qskip = r->p.pstate == FIELD_BEGUN ? QS_IN :
				    r->p.spaces ? QS_AFTER : QS_QUOTE;
				parser_reset(r);
				continue;
			}
			/*
			 * unquoted: it ends at the next comma or LF, and the
			 * rest of the record is read as the parser's, so that
			 * a quoted line break after it is not taken for the
			 * end of the row
			 */
			r->qskip = QS_UNQ;
			parser_reset(r);
			continue;
		}
	}
}
