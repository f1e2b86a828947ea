/*
 * fz_csv — fuzz target for lib/csvr, the streaming CSV reader that
 * `msg contact import`, blacklist and disposition imports run on files
 * anyone may hand an administrator.  The input is one CSV file, read to the
 * end several ways, and the readings must agree:
 *
 *   - from a file (seekable) by the real reader and from a pipe (not) by
 *     lib/util/csvr.c built a second time in this file with reads of 5 bytes
 *     instead of 64 KiB, so that reads cross every field and line: the
 *     same records and errors (the size of the reads never shows), up to
 *     a quote never closed, where the pipe's reading ends (the rest was
 *     that field) and the file's goes on after its line;
 *   - from a file by that copy with fields limited to 200 bytes instead
 *     of 64 KiB, so that over-long fields are cheap: the same rows on the
 *     same lines, each row either as read before or refused (for a field
 *     over the limit, when it was read before), the rows after it never
 *     out of step;
 *   - the records read, written back with every field quoted and read
 *     again: the same fields, on the lines where they were written.
 *
 * Each reading also keeps the contract of csvr_next: records of 1 to
 * CSVR_MAXFIELDS fields of at most CSVR_MAXFIELD bytes, errors "line N:
 * reason" on one line with *line N, line numbers that only go up and never
 * past the end, 0 for ever after the end, and a bounded number of calls
 * (each byte is read at most twice).
 *
 * Inputs are kept to 512 bytes: with 5-byte reads and 200-byte fields
 * every path of the reader is reached well within that (257 fields take
 * 257 bytes), and four readings of 4 KiB under ASan ran 10 million inputs
 * in hours, not minutes.
 * libFuzzer flags: -max_len=512
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/*
 * lib/util/csvr.c again, with its read size and field limit in variables: its
 * header is stood in for (same declarations under other names), so the
 * copy links beside libparley.a's.
 */
static size_t	small_chunk = 5, small_maxfield = 64 * 1024;

#define PARLEY_CSVR_H
#define CSVR_CHUNK	small_chunk
#define CSVR_MAXFIELD	small_maxfield
#define CSVR_MAXFIELDS	256
#define csvr_open	small_csvr_open
#define csvr_next	small_csvr_next
#define csvr_close	small_csvr_close
struct csvr;
struct csvr *csvr_open(FILE *fp);
int	csvr_next(struct csvr *, char ***fields, size_t *nfields, long *line,
	    char *err, size_t errsz);
void	csvr_close(struct csvr *);
#include "../../lib/util/csvr.c"
#undef csvr_open
#undef csvr_next
#undef csvr_close
#undef CSVR_CHUNK
#undef CSVR_MAXFIELD
#undef CSVR_MAXFIELDS
#undef PARLEY_CSVR_H
#define SMALL_MAXFIELD	200
#define OVER_LONG	"is over 65536 bytes"	/* csvr.c's words, any limit */

#include "csvr.h"

#define PIPE_TAIL	" (the rest of the input was read as that field)"

/* ---- the input as a FILE, seekable or not ---- */

struct mem {
	const uint8_t	*p;
	size_t		 len, pos;
};

static ssize_t
mem_read(void *c, char *buf, size_t n)
{
	struct mem *m = c;

	if (n > m->len - m->pos)
		n = m->len - m->pos;
	if (n == 0)
		return 0;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static int
mem_seek(void *c, off64_t *off, int whence)
{
	struct mem *m = c;
	off64_t to;

	switch (whence) {
	case SEEK_SET:
		to = *off;
		break;
	case SEEK_CUR:
		to = (off64_t)m->pos + *off;
		break;
	default:
		to = (off64_t)m->len + *off;
		break;
	}
	if (to < 0 || to > (off64_t)m->len)
		return -1;
	m->pos = (size_t)to;
	*off = to;
	return 0;
}

static FILE *
mem_open(struct mem *m, const uint8_t *p, size_t len, int seekable)
{
	static char buf[4096];	/* one stream at a time: no stdio malloc */
	cookie_io_functions_t io = { mem_read, NULL, NULL, NULL };
	FILE *fp;

	m->p = p;
	m->len = len;
	m->pos = 0;
	if (seekable)
		io.seek = mem_seek;
	if ((fp = fopencookie(m, "r", io)) == NULL ||
	    setvbuf(fp, buf, _IOFBF, sizeof(buf)) != 0)
		abort();	/* the environment, not the input */
	return fp;
}

/* ---- one reading: its results ---- */

struct res {
	int	 rc;
	long	 line;
	size_t	 nf;
	char	*data;		/* the fields, each with its NUL */
	size_t	 dlen;
	char	 err[256];
};

struct reading {
	struct res	*r;
	size_t		 n, cap;
	int		 unclosed;	/* index of the first "never closed" */
};

static void
reading_free(struct reading *rd)
{
	size_t i;

	for (i = 0; i < rd->n; i++)
		free(rd->r[i].data);
	free(rd->r);
	memset(rd, 0, sizeof(*rd));
}

struct impl {
	struct csvr	*(*open)(FILE *);
	int		 (*next)(struct csvr *, char ***, size_t *, long *,
			    char *, size_t);
	void		 (*close)(struct csvr *);
	size_t		 chunk, maxfield;	/* for the copy */
};

static const struct impl real = { csvr_open, csvr_next, csvr_close,
	CSVR_CHUNK, CSVR_MAXFIELD };
static const struct impl small1k = { small_csvr_open, small_csvr_next,
	small_csvr_close, 1024, CSVR_MAXFIELD };
static const struct impl small5 = { small_csvr_open, small_csvr_next,
	small_csvr_close, 5, CSVR_MAXFIELD };
static const struct impl short5 = { small_csvr_open, small_csvr_next,
	small_csvr_close, 5, SMALL_MAXFIELD };

static size_t
count_lf(const uint8_t *p, size_t len)
{
	size_t i, k = 0;

	for (i = 0; i < len; i++)
		k += p[i] == '\n';
	return k;
}

/* Read p to the end with impl, checking csvr_next's contract. */
static void
read_all(const struct impl *im, const uint8_t *p, size_t len, int seekable,
    struct reading *rd)
{
	struct mem m;
	struct csvr *cr;
	struct res *x;
	FILE *fp;
	char **f, err[256], head[40];
	size_t nf, i, lines = count_lf(p, len) + 1, calls = 0, dl, fl;
	long line, last = 0;
	int rc;

	memset(rd, 0, sizeof(*rd));
	rd->unclosed = -1;
	small_chunk = im->chunk;
	small_maxfield = im->maxfield;
	fp = mem_open(&m, p, len, seekable);
	if ((cr = im->open(fp)) == NULL)
		abort();
	for (;;) {
		memset(err, 'x', sizeof(err));
		rc = im->next(cr, &f, &nf, &line, err, sizeof(err));
		if (rc == 0)
			break;
		/* every line is read at most twice, and gives one result */
		if (++calls > 2 * lines + 2)
			abort();
		if (rc != 1 && rc != -1)
			abort();
		if (line < 1 || (size_t)line > lines || line < last)
			abort();
		last = line;
		if (rd->n == rd->cap) {
			rd->cap = rd->cap ? rd->cap * 2 : 16;
			if ((rd->r = realloc(rd->r, rd->cap *
			    sizeof(*rd->r))) == NULL)
				abort();
		}
		x = &rd->r[rd->n++];
		memset(x, 0, sizeof(*x));
		x->rc = rc;
		x->line = line;
		if (rc == -1) {
			if (f != NULL || nf != 0 || memchr(err, '\0',
			    sizeof(err)) == NULL || strchr(err, '\n') != NULL)
				abort();
			snprintf(head, sizeof(head), "line %ld: ", line);
			if (strncmp(err, head, strlen(head)) != 0 ||
			    err[strlen(head)] == '\0')
				abort();	/* "line N: why", N = *line */
			memcpy(x->err, err, sizeof(x->err));
			if (rd->unclosed == -1 && strstr(err, "opens a quote "
			    "that is never closed") != NULL)
				rd->unclosed = (int)rd->n - 1;
			continue;
		}
		if (f == NULL || nf == 0 || nf > CSVR_MAXFIELDS || f[nf] != NULL)
			abort();
		for (i = 0, dl = 0; i < nf; i++) {
			if ((fl = strlen(f[i])) > im->maxfield)
				abort();
			dl += fl + 1;
		}
		if ((x->data = malloc(dl)) == NULL)
			abort();
		for (i = 0, dl = 0; i < nf; i++) {
			fl = strlen(f[i]) + 1;
			memcpy(x->data + dl, f[i], fl);
			dl += fl;
		}
		x->nf = nf;
		x->dlen = dl;
	}
	/* the end stays the end */
	if (im->next(cr, &f, &nf, &line, err, sizeof(err)) != 0 ||
	    f != NULL || nf != 0)
		abort();
	im->close(cr);
	fclose(fp);
}

/* Show two readings that should agree, and stop. */
static void
mismatch(const char *what, const struct reading *a, const struct reading *b)
{
	const struct reading *rd;
	const char *s;
	size_t i, k;
	int w;

	fprintf(stderr, "fz_csv: %s disagree\n", what);
	for (w = 0; w < 2; w++) {
		rd = w ? b : a;
		fprintf(stderr, "-- reading %d: %zu results\n", w + 1, rd->n);
		for (i = 0; i < rd->n; i++) {
			fprintf(stderr, "%d line %ld:", rd->r[i].rc,
			    rd->r[i].line);
			if (rd->r[i].rc == -1)
				fprintf(stderr, " %s", rd->r[i].err);
			for (k = 0, s = rd->r[i].data; k < rd->r[i].nf;
			    k++, s += strlen(s) + 1)
				fprintf(stderr, " [%.40s]%s", s,
				    strlen(s) > 40 ? "..." : "");
			fprintf(stderr, "\n");
		}
	}
	abort();
}

static int
same(const struct res *a, const struct res *b)
{
	return a->rc == b->rc && a->line == b->line && a->nf == b->nf &&
	    a->dlen == b->dlen && (a->dlen == 0 ||
	    memcmp(a->data, b->data, a->dlen) == 0) &&
	    strcmp(a->err, b->err) == 0;
}

/* ---- writing records back ---- */

struct out {
	char	*p;
	size_t	 len, cap;
};

static void
out_add(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		if ((o->p = realloc(o->p, o->cap)) == NULL)
			abort();
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* The records of rd, every field quoted; line[i] where record i starts. */
static void
write_back(const struct reading *rd, struct out *o, long *lines, size_t *nrec)
{
	const struct res *x;
	const char *s, *q;
	long line = 1;
	size_t i, k, n = 0;

	for (i = 0; i < rd->n; i++) {
		x = &rd->r[i];
		if (x->rc != 1)
			continue;
		lines[n++] = line;
		for (k = 0, s = x->data; k < x->nf; k++, s += strlen(s) + 1) {
			if (k)
				out_add(o, ",", 1);
			out_add(o, "\"", 1);
			for (q = s; *q; q++) {
				out_add(o, q, 1);
				if (*q == '"')
					out_add(o, "\"", 1);
				else if (*q == '\n')
					line++;
			}
			out_add(o, "\"", 1);
		}
		out_add(o, "\n", 1);
		line++;
	}
	*nrec = n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reading file, pipe, shrt, again;
	struct out o = { NULL, 0, 0 };
	long *lines;
	size_t i, n, k, tl = strlen(PIPE_TAIL), el;

	read_all(&real, data, size, 1, &file);
	read_all(&small5, data, size, 0, &pipe);
	read_all(&short5, data, size, 1, &shrt);

	/* a file and a pipe agree up to a quote never closed */
	n = file.unclosed >= 0 ? (size_t)file.unclosed : file.n;
	if (pipe.n < n)
		mismatch("a file and a pipe", &file, &pipe);
	for (i = 0; i < n; i++)
		if (!same(&file.r[i], &pipe.r[i]))
			mismatch("a file and a pipe", &file, &pipe);
	if (file.unclosed >= 0) {
		/* there the pipe's reading ends, saying so */
		if (pipe.n != n + 1 || pipe.r[n].rc != -1 ||
		    pipe.r[n].line != file.r[n].line)
			mismatch("a file and a pipe", &file, &pipe);
		el = strlen(pipe.r[n].err);
		if (strcmp(pipe.r[n].err, file.r[n].err) != 0 &&
		    (el < tl || strcmp(pipe.r[n].err + el - tl,
		    PIPE_TAIL) != 0 || strncmp(pipe.r[n].err,
		    file.r[n].err, el - tl) != 0))
			mismatch("a file and a pipe", &file, &pipe);
	} else if (pipe.n != file.n)
		mismatch("a file and a pipe", &file, &pipe);

	/*
	 * Fields limited to 200 bytes: row for row the same, or refused, for
	 * a field over the limit ("over 65536 bytes", csvr.c's words
	 * whatever the limit) where it was read before.  A row refused
	 * before may be refused for another reason: the first one found
	 * is the one given.
	 */
	if (shrt.n != file.n)
		mismatch("fields of 64 KiB and of 200 bytes", &file, &shrt);
	for (i = 0; i < file.n; i++) {
		if (same(&file.r[i], &shrt.r[i]))
			continue;
		if (shrt.r[i].rc != -1 || shrt.r[i].line != file.r[i].line ||
		    (file.r[i].rc == 1 && strstr(shrt.r[i].err, OVER_LONG) ==
		    NULL))
			mismatch("fields of 64 KiB and of 200 bytes", &file,
			    &shrt);
	}

	/* the records read, written back and read again */
	if ((lines = calloc(file.n + 1, sizeof(*lines))) == NULL)
		abort();
	write_back(&file, &o, lines, &n);
	read_all(&small1k, (const uint8_t *)o.p, o.len, 1, &again);
	if (again.n != n)
		mismatch("records and their copy", &file, &again);
	for (i = 0, k = 0; i < file.n; i++) {
		if (file.r[i].rc != 1)
			continue;
		if (again.r[k].rc != 1 || again.r[k].line != lines[k] ||
		    again.r[k].nf != file.r[i].nf ||
		    again.r[k].dlen != file.r[i].dlen ||
		    memcmp(again.r[k].data, file.r[i].data,
		    file.r[i].dlen) != 0)
			mismatch("records and their copy", &file, &again);
		k++;
	}
	free(lines);
	free(o.p);
	reading_free(&file);
	reading_free(&pipe);
	reading_free(&shrt);
	reading_free(&again);
	return 0;
}
