/*
 * csvr — a streaming CSV reader (RFC 4180 on libcsv) for imports: contacts,
 * blacklists, dispositions.  It reads 64 KiB at a time and holds one record,
 * so memory is bounded whatever the size of the file, and a row that does
 * not parse is reported with its line number and skipped, so an import can
 * keep the good rows and list the bad ones.  A quote never closed is one
 * bad row, not the rest of the file, when the input can seek.
 */
#ifndef PARLEY_CSVR_H
#define PARLEY_CSVR_H

#include <stddef.h>
#include <stdio.h>

#define CSVR_CHUNK	(64 * 1024)	/* bytes read at a time */
#define CSVR_MAXFIELD	(64 * 1024)	/* bytes in one field */
#define CSVR_MAXFIELDS	256		/* fields in one record */

struct csvr;

/*
 * A reader on fp from where it is, which stays the caller's (csvr_close
 * does not close it).  NULL if out of memory.
 */
struct csvr *csvr_open(FILE *fp);
/*
 * The next record.  1: *fields holds *nfields NUL-terminated strings, valid
 * until the next call, and *line the line on which the record starts.
 * 0: end of input.  -1: a record that does not parse (a stray or unclosed
 * quote, a field over CSVR_MAXFIELD bytes, more than CSVR_MAXFIELDS fields,
 * a NUL byte) or a read error; err gets "line N: reason" and *line N; the
 * reader has skipped past it, so the caller may call again.  A quote that
 * is never closed is reported at the line where its field began, and when
 * fp can seek, reading goes on at the line after that one (from a pipe,
 * the rest of the input was that field).
 * Lines end in LF or CRLF; a UTF-8 BOM at the start is dropped; blank lines
 * are skipped; white space around an unquoted field is trimmed; a quoted
 * field may hold commas, doubled quotes and line breaks, kept as they are.
 */
int	csvr_next(struct csvr *, char ***fields, size_t *nfields, long *line,
	    char *err, size_t errsz);
void	csvr_close(struct csvr *);

#endif
