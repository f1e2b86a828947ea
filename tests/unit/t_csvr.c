/*
 * t_csvr — the CSV reader imports go through.  Small files check the
 * format (quotes, doubled quotes, commas and line breaks inside quotes,
 * CRLF, a BOM, blank lines, a missing last newline) and that every record
 * carries the line it starts on; bad rows (stray and unclosed quotes,
 * over-long fields, too many fields, NUL bytes) are reported with their
 * line and the good rows after them still read.  A quote that is never
 * closed is reported once, at the line where its field began, and the rows
 * it swallowed are read after all (from a file; from a pipe they cannot
 * be); an over-long field that does end, quoted or not, costs one error
 * and no rows made of the rest of its record (a quoted line break after
 * an over-long unquoted field included).  Then 100,000 generated rows, a single 20 MiB
 * field and a 20 MiB quote never closed are read while peak memory is
 * watched: the reader must never hold the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "csvr.h"

/* Under AddressSanitizer peak RSS is ASan's shadow and quarantine. */
#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN	1
#endif
#endif

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

static long
maxrss_kb(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return 0;
	return ru.ru_maxrss;
}

/* A growable string. */
struct str {
	char	*p;
	size_t	 len, cap;
};

static void
str_add(struct str *s, const char *p, size_t len)
{
	if (s->p == NULL || s->len + len + 1 > s->cap) {
		s->cap = (s->len + len + 1) * 2;
		if ((s->p = realloc(s->p, s->cap)) == NULL) {
			perror("realloc");
			exit(99);
		}
	}
	memcpy(s->p + s->len, p, len);
	s->len += len;
	s->p[s->len] = '\0';
}

static void
str_addz(struct str *s, const char *p)
{
	str_add(s, p, strlen(p));
}

/* A field as the log shows it: CR and LF escaped, long fields summed up. */
static void
log_field(struct str *log, const char *f)
{
	char buf[64];
	size_t len = strlen(f);

	if (len > 100) {
		snprintf(buf, sizeof(buf), "<%zu bytes>", len);
		str_addz(log, buf);
		return;
	}
	for (; *f != '\0'; f++) {
		if (*f == '\n')
			str_addz(log, "\\n");
		else if (*f == '\r')
			str_addz(log, "\\r");
		else
			str_add(log, f, 1);
	}
}

/*
 * Everything the reader makes of len bytes of CSV: a line "N:f1|f2|..." per
 * record (N its line) and "E:reason" per bad row.  Malloc'd.
 */
static char *
read_all(const char *data, size_t len)
{
	struct str log = { 0 };
	struct csvr *r;
	FILE *fp;
	char **f, err[256], buf[32];
	size_t nf, i;
	long line;
	int rv, guard = 0;

	if ((fp = fmemopen((void *)data, len, "r")) == NULL ||
	    (r = csvr_open(fp)) == NULL) {
		perror("fmemopen");
		exit(99);
	}
	str_addz(&log, "");
	while ((rv = csvr_next(r, &f, &nf, &line, err, sizeof(err))) != 0 &&
	    guard++ < 1000) {
		if (rv == -1) {
			str_addz(&log, "E:");
			str_addz(&log, err);
			str_addz(&log, "\n");
			continue;
		}
		snprintf(buf, sizeof(buf), "%ld:", line);
		str_addz(&log, buf);
		for (i = 0; i < nf; i++) {
			if (i > 0)
				str_addz(&log, "|");
			log_field(&log, f[i]);
		}
		if (f[nf] != NULL)
			str_addz(&log, "<fields not NULL-terminated>");
		str_addz(&log, "\n");
	}
	if (csvr_next(r, &f, &nf, &line, err, sizeof(err)) != 0)
		str_addz(&log, "<not 0 after the end>\n");
	csvr_close(r);
	fclose(fp);
	return log.p;
}

static void
is_csv(const char *data, size_t len, const char *want, const char *desc)
{
	char *got = read_all(data, len);

	ok(strcmp(got, want) == 0, desc);
	if (strcmp(got, want) != 0)
		printf("#   got:\n%s#   want:\n%s", got, want);
	free(got);
}

#define CSV(s, want, desc)	is_csv(s, sizeof(s) - 1, want, desc)

static void
t_format(void)
{
	CSV("", "", "an empty file has no records");
	CSV("\xef\xbb\xbf", "", "a file of only a BOM has no records");
	CSV("name,phone\nAda,+16505551234\n",
	    "1:name|phone\n2:Ada|+16505551234\n", "plain records, LF");
	CSV("\"Lovelace, Ada\",\"say \"\"hi\"\"\",\"\",x\n",
	    "1:Lovelace, Ada|say \"hi\"||x\n",
	    "quoted fields: commas, doubled quotes, empty");
	CSV("a,\"multi\nline\nfield\",c\nd,e,f\n\"x\ny\",z\n",
	    "1:a|multi\\nline\\nfield|c\n4:d|e|f\n5:x\\ny|z\n",
	    "line breaks inside quotes are kept, line numbers stay right");
	CSV("a,b\r\nc,\"d\r\ne\"\r\nf,g\r\n",
	    "1:a|b\n2:c|d\\r\\ne\n4:f|g\n",
	    "CRLF ends records; a quoted CRLF is kept as it is");
	CSV("\xef\xbb\xbfname,phone\r\nAda,1\r\n", "1:name|phone\n2:Ada|1\n",
	    "a UTF-8 BOM at the start is dropped");
	CSV("\xef\xbb\xbf\"name\",phone\n", "1:name|phone\n",
	    "a BOM before a quoted first field");
	CSV("a,\xef\xbb\xbf\n", "1:a|\xef\xbb\xbf\n",
	    "a BOM elsewhere is data");
	CSV("a,b\nc,d", "1:a|b\n2:c|d\n", "a missing final newline");
	CSV("a,b\r\nc,\"d\"", "1:a|b\n2:c|d\n",
	    "a missing final newline after a quoted field");
	CSV("a,b\n\n  \r\n\nc, d \n", "1:a|b\n5:c|d\n",
	    "blank lines skipped; spaces around unquoted fields trimmed");
	CSV(",,\n\"\",x,\n", "1:||\n2:|x|\n", "empty fields");
	CSV("  \" a \" ,b\n", "1: a |b\n",
	    "spaces inside quotes kept, outside dropped");
	CSV("caf\xc3\xa9,\xe2\x82\xac\n", "1:caf\xc3\xa9|\xe2\x82\xac\n",
	    "UTF-8 passes through");
}

static void
t_bad(void)
{
	CSV("a,b\nc,d\"e\nf,g\n\"h\"i,j\nk,l\n",
	    "1:a|b\n"
	    "E:line 2: field 2 has a quote but does not start with one\n"
	    "3:f|g\n"
	    "E:line 4: field 1 has text after its closing quote (a quote "
	    "inside a quoted field is written \"\")\n"
	    "5:k|l\n",
	    "bad rows in the middle: reported with their lines, the good "
	    "rows after them read");
	CSV("a,\"x\ny\"z,w\nb,c\n",
	    "E:line 1: field 2 has text after its closing quote (a quote "
	    "inside a quoted field is written \"\") (on line 2)\n"
	    "3:b|c\n",
	    "an error inside a multi-line record names both lines");
	CSV("a,b\nc,\"d\ne,f\n",
	    "1:a|b\n"
	    "E:line 2: field 2 opens a quote that is never closed\n"
	    "3:e|f\n",
	    "a quote never closed is reported at its line, the rows after it "
	    "read");
	CSV("a,\"x\ny\",\"z\nb,c\nd,e",
	    "E:line 2: field 3 opens a quote that is never closed\n"
	    "3:b|c\n4:d|e\n",
	    "in a record over several lines: the line where the field began");
	CSV("a,b\n\"c\n",
	    "1:a|b\nE:line 2: field 1 opens a quote that is never closed\n",
	    "a quote never closed on the last line");
	CSV("a,b\0c\nd,e\n",
	    "E:line 1: field 2 has a NUL byte\n2:d|e\n",
	    "a NUL byte refuses the row");
}

static void
t_limits(void)
{
	struct str s = { 0 }, want = { 0 };
	char *big, *got, buf[64];
	int i;

	big = malloc(70001);
	memset(big, 'x', 70000);
	big[70000] = '\0';

	/* exactly 65536 bytes: fine */
	str_addz(&s, "a,");
	str_add(&s, big, 65536);
	str_addz(&s, "\nb,c\n");
	got = read_all(s.p, s.len);
	ok(strcmp(got, "1:a|<65536 bytes>\n2:b|c\n") == 0,
	    "a field of 65536 bytes is read");
	free(got);

	/* one more byte, unquoted, then quoted across lines */
	s.len = 0;
	str_addz(&s, "a,b\n");
	str_add(&s, big, 65537);
	str_addz(&s, ",y\nc,d\n\"");
	str_add(&s, big, 30000);
	str_addz(&s, "\n");
	str_add(&s, big, 40000);
	str_addz(&s, "\"\ne,f\n");
	got = read_all(s.p, s.len);
	ok(strcmp(got, "1:a|b\n"
	    "E:line 2: field 1 is over 65536 bytes\n"
	    "3:c|d\n"
	    "E:line 4: field 1 is over 65536 bytes\n"
	    "6:e|f\n") == 0,
	    "fields over 64 KiB refused, the rows after them read");
	if (strcmp(got, "1:a|b\nE:line 2: field 1 is over 65536 bytes\n"
	    "3:c|d\nE:line 4: field 1 is over 65536 bytes\n"
	    "6:e|f\n") != 0)
		printf("# got:\n%s", got);
	free(got);

	/* an over-long unquoted field, then a quoted one over lines: the
	 * lines inside the quotes are not rows (they were, once) */
	s.len = 0;
	str_addz(&s, "name,note\n");
	str_add(&s, big, 70000);
	str_addz(&s, ",\"one\nMallory,+15550009999\nend\"\nBob,+15550001111\n");
	got = read_all(s.p, s.len);
	ok(strcmp(got, "1:name|note\n"
	    "E:line 2: field 1 is over 65536 bytes\n"
	    "5:Bob|+15550001111\n") == 0,
	    "an over-long unquoted field, then a quoted line break: no rows "
	    "made of the quoted lines");
	if (strcmp(got, "1:name|note\nE:line 2: field 1 is over 65536 "
	    "bytes\n5:Bob|+15550001111\n") != 0)
		printf("# got:\n%s", got);
	free(got);

	/* and with a quote inside it: the error a short field gets */
	s.len = 0;
	str_add(&s, big, 70000);
	str_addz(&s, "x\"y,z\nd,e\n");
	got = read_all(s.p, s.len);
	ok(strcmp(got, "E:line 1: field 1 is over 65536 bytes\n2:d|e\n") == 0,
	    "an over-long unquoted field with a quote in it");
	free(got);

	/* an over-long quoted field that closes, its lines like rows */
	s.len = 0;
	str_addz(&s, "a,\"");
	for (i = 0; i < 3000; i++)
		str_addz(&s, "Ada,+15551230000,ada@example.com\n");
	str_addz(&s, "\",c,\"q\nq\"\nd,e\n");
	got = read_all(s.p, s.len);
	ok(strcmp(got, "E:line 1: field 2 is over 65536 bytes\n3003:d|e\n")
	    == 0, "an over-long quoted field over 3,000 lines: one error, "
	    "no rows made of its lines, the next row read");
	if (strcmp(got, "E:line 1: field 2 is over 65536 bytes\n3003:d|e\n")
	    != 0)
		printf("# got:\n%s", got);
	free(got);

	/* the same closed by a quote with text after it */
	s.len = 0;
	str_addz(&s, "\"");
	str_add(&s, big, 70000);
	str_addz(&s, "\nx\"y,z\nd,e\n");
	got = read_all(s.p, s.len);
	ok(strcmp(got, "E:line 1: field 1 is over 65536 bytes (on line 2)\n"
	    "3:d|e\n") == 0, "an over-long quoted field with text after its "
	    "closing quote");
	free(got);

	/* 256 fields, then 257 */
	s.len = 0;
	for (i = 0; i < 256; i++)
		str_addz(&s, i ? ",f" : "f");
	str_addz(&s, "\n");
	for (i = 0; i < 257; i++)
		str_addz(&s, i ? ",f" : "f");
	str_addz(&s, "\nlast\n");
	got = read_all(s.p, s.len);
	str_addz(&want, "1:");
	for (i = 0; i < 256; i++)
		str_addz(&want, i ? "|f" : "f");
	str_addz(&want, "\nE:line 2: more than 256 fields\n3:last\n");
	ok(strcmp(got, want.p) == 0, "256 fields are read, 257 refused");
	free(got);

	/* too many fields with a line break in a quote: stays in step */
	s.len = 0;
	for (i = 0; i < 300; i++)
		str_addz(&s, i == 260 ? ",\"x\ny\"" : i ? ",f" : "f");
	str_addz(&s, "\n\"k\nk\",l\n");
	got = read_all(s.p, s.len);
	ok(strcmp(got, "E:line 1: more than 256 fields\n3:k\\nk|l\n") == 0,
	    "a refused record is read to its end, the next is in step");
	free(got);

	/* 300 fields of 60 KiB each on one line: refused, memory bounded */
	s.len = 0;
	for (i = 0; i < 300; i++) {
		if (i)
			str_addz(&s, ",");
		str_add(&s, big, 60 * 1024);
	}
	str_addz(&s, "\nok\n");
	got = read_all(s.p, s.len);
	snprintf(buf, sizeof(buf), "E:line 1: more than 256 fields\n2:ok\n");
	ok(strcmp(got, buf) == 0, "300 fields of 60 KiB refused");
	free(got);

	free(big);
	free(s.p);
	free(want.p);
}

/* What the reader makes of data read from a pipe (it cannot seek). */
static char *
read_pipe(const char *data, size_t len)
{
	struct str log = { 0 };
	struct csvr *r;
	FILE *fp;
	char **f, err[256], buf[32];
	size_t nf;
	long line;
	int fd[2], rv, st;
	pid_t pid;

	if (pipe(fd) == -1 || (pid = fork()) == -1) {
		perror("pipe");
		exit(99);
	}
	if (pid == 0) {
		close(fd[0]);
		while (len > 0) {
			ssize_t w = write(fd[1], data, len);

			if (w <= 0)
				_exit(1);
			data += w;
			len -= (size_t)w;
		}
		_exit(0);
	}
	close(fd[1]);
	if ((fp = fdopen(fd[0], "r")) == NULL || (r = csvr_open(fp)) == NULL)
		exit(99);
	str_addz(&log, "");
	while ((rv = csvr_next(r, &f, &nf, &line, err, sizeof(err))) != 0) {
		if (rv == -1) {
			str_addz(&log, "E:");
			str_addz(&log, err);
		} else {
			snprintf(buf, sizeof(buf), "%ld:%zu fields", line, nf);
			str_addz(&log, buf);
		}
		str_addz(&log, "\n");
	}
	csvr_close(r);
	fclose(fp);
	waitpid(pid, &st, 0);
	return log.p;
}

/*
 * One unclosed quote near the top of a large file (the file of the issue):
 * reported once, at its line, and every row after it read; from a pipe,
 * reported once, saying the rest went into that field.
 */
static void
t_unclosed(void)
{
	struct str s = { 0 };
	char line[128], *got;
	struct csvr *r;
	FILE *fp;
	char **f, err[256];
	size_t nf;
	long ln, rows = 0, bad = 0, badline = 0, last = 0;
	int i, rv;

	str_addz(&s, "name,phone,email\n");
	for (i = 0; i < 20000; i++) {
		if (i == 2)
			str_addz(&s, "\"Bob Unclosed,+15550000002,bob@example.com\n");
		else {
			snprintf(line, sizeof(line), "Contact %d,+1555%07d,"
			    "c%d@example.com\n", i, i, i);
			str_addz(&s, line);
		}
	}
	if ((fp = fmemopen(s.p, s.len, "r")) == NULL ||
	    (r = csvr_open(fp)) == NULL)
		exit(99);
	while ((rv = csvr_next(r, &f, &nf, &ln, err, sizeof(err))) != 0) {
		if (rv == -1) {
			bad++;
			badline = ln;
			printf("# %s\n", err);
			continue;
		}
		if (nf == 3)
			rows++;
		last = ln;
	}
	csvr_close(r);
	fclose(fp);
	ok(bad == 1 && badline == 4, "one unclosed quote in 20,000 rows: "
	    "one error, at the line where its field began");
	ok(rows == 20000 && last == 20001, "and every other row is read, "
	    "the header and the 19,999 after it");

	got = read_pipe(s.p, s.len);
	ok(strcmp(got, "1:3 fields\n2:3 fields\n3:3 fields\n"
	    "E:line 4: field 1 opens a quote that is never closed (the rest of "
	    "the input was read as that field)\n") == 0,
	    "from a pipe: one error, saying the rest went into that field");
	free(got);
	free(s.p);
}

#define NROWS	100000

/*
 * 100,000 generated rows in a file (every 1000th with a line break in a
 * quote, every 25,000th bad), read back: each record with its line and
 * fields, each bad row with its line.  Then a single 20 MiB field.
 */
static void
t_big(long rss0)
{
	struct csvr *r;
	FILE *fp;
	char **f, err[256], want[64], zz[1024];
	size_t nf;
	long line, expect = 2, rows = 0, bad = 0, wrong = 0, badline = 0;
	int i, rv;

	if ((fp = tmpfile()) == NULL) {
		perror("tmpfile");
		exit(99);
	}
	fputs("\xef\xbb\xbfid,name,phone,note\r\n", fp);
	for (i = 0; i < NROWS; i++) {
		if (i % 25000 == 12345)
			fprintf(fp, "bad,\"unclosed\"x,+1,\r\n");
		if (i % 1000 == 999)
			fprintf(fp, "%d,\"Doe, J%d\",+1650555%04d,\"two\r\n"
			    "lines \"\"q\"\"\"\r\n", i, i, i % 10000);
		else
			fprintf(fp, "%d,Contact %d,+1650555%04d,\r\n", i, i,
			    i % 10000);
	}
	fputs("end,of,file,x", fp);
	rewind(fp);

	if ((r = csvr_open(fp)) == NULL)
		exit(99);
	rv = csvr_next(r, &f, &nf, &line, err, sizeof(err));
	ok(rv == 1 && nf == 4 && strcmp(f[0], "id") == 0 && line == 1,
	    "generated file: header (after a BOM)");
	for (i = 0; i < NROWS; i++) {
		if (i % 25000 == 12345) {
			rv = csvr_next(r, &f, &nf, &line, err, sizeof(err));
			snprintf(want, sizeof(want), "line %ld: ", expect);
			if (rv == -1 && line == expect &&
			    strncmp(err, want, strlen(want)) == 0)
				bad++;
			else if (badline++ == 0)
				printf("# rv %d at line %ld: %s\n", rv, line,
				    err);
			expect++;
		}
		rv = csvr_next(r, &f, &nf, &line, err, sizeof(err));
		if (rv != 1 || nf != 4 || atoi(f[0]) != i || line != expect ||
		    (i % 1000 == 999 ? strcmp(f[3], "two\r\nlines \"q\"") :
		    strcmp(f[3], "")) != 0) {
			if (wrong++ == 0)
				printf("# row %d: rv %d nf %zu line %ld (want "
				    "%ld) %s\n", i, rv, nf, line, expect,
				    rv == -1 ? err : "");
		} else
			rows++;
		expect += i % 1000 == 999 ? 2 : 1;
	}
	ok(rows == NROWS && wrong == 0, "100,000 generated rows read with "
	    "their fields and lines");
	ok(bad == 4 && badline == 0, "the 4 bad rows among them reported "
	    "with their lines");
	rv = csvr_next(r, &f, &nf, &line, err, sizeof(err));
	ok(rv == 1 && nf == 4 && strcmp(f[3], "x") == 0 && line == expect,
	    "the last row, without a newline");
	ok(csvr_next(r, &f, &nf, &line, err, sizeof(err)) == 0,
	    "then the end");
	csvr_close(r);
	fclose(fp);

	/* one 20 MiB line: refused without holding it */
	if ((fp = tmpfile()) == NULL)
		exit(99);
	fputs("a,", fp);
	memset(zz, 'z', sizeof(zz));
	for (i = 0; i < 20 * 1024; i++)
		fwrite(zz, 1, sizeof(zz), fp);
	fputs(",b\nc,d\n", fp);
	rewind(fp);
	if ((r = csvr_open(fp)) == NULL)
		exit(99);
	rv = csvr_next(r, &f, &nf, &line, err, sizeof(err));
	ok(rv == -1 && strcmp(err, "line 1: field 2 is over 65536 bytes") == 0,
	    "a 20 MiB field is refused");
	rv = csvr_next(r, &f, &nf, &line, err, sizeof(err));
	ok(rv == 1 && nf == 2 && line == 2 && strcmp(f[0], "c") == 0,
	    "and the next line read");
	csvr_close(r);
	fclose(fp);

	/* a quote never closed over 20 MiB of lines: one error, then the
	 * lines after it */
	if ((fp = tmpfile()) == NULL)
		exit(99);
	fputs("a,\"b\n", fp);
	memset(zz, 'z', sizeof(zz) - 1);
	zz[sizeof(zz) - 1] = '\n';
	for (i = 0; i < 20 * 1024; i++)
		fwrite(zz, 1, sizeof(zz), fp);
	fputs("c,d\n", fp);
	rewind(fp);
	if ((r = csvr_open(fp)) == NULL)
		exit(99);
	rv = csvr_next(r, &f, &nf, &line, err, sizeof(err));
	ok(rv == -1 && strcmp(err, "line 1: field 2 opens a quote that is "
	    "never closed") == 0, "a quote never closed over 20 MiB of lines "
	    "is one error");
	for (i = 0; i < 20 * 1024 && (rv = csvr_next(r, &f, &nf, &line, err,
	    sizeof(err))) == 1 && nf == 1 && strlen(f[0]) == sizeof(zz) - 1;
	    i++)
		;
	rv = csvr_next(r, &f, &nf, &line, err, sizeof(err));
	ok(i == 20 * 1024 && rv == 1 && nf == 2 && line == 20 * 1024 + 2,
	    "and the 20,481 lines after it are read as rows");
	csvr_close(r);
	fclose(fp);

#ifdef T_ASAN
	n++;
	printf("ok %d # SKIP peak RSS is ASan's shadow and quarantine here\n",
	    n);
	(void)rss0;
#else
	ok(maxrss_kb() - rss0 < 8 * 1024,
	    "peak memory stayed bounded (under 8 MiB over the start)");
	printf("# max rss grew %ld KiB\n", maxrss_kb() - rss0);
#endif
}

int
main(void)
{
	long rss0;

	rss0 = maxrss_kb();
	t_format();
	t_bad();
	t_unclosed();
	t_big(rss0);	/* before t_limits, whose inputs are large */
	t_limits();
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
