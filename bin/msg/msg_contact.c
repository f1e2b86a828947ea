/*
 * msg contact — the contact book (campaignd): a name, a phone number, an
 * e-mail address and custom fields; search by name, phone or e-mail; CSV
 * import and export.
 *
 * An import streams the file with lib/csvr and sends it in batches of
 * BATCH_ROWS rows over one connection; campaignd applies each batch in one
 * transaction, keeps the good rows and says which rows it refused.  msg
 * holds one batch at a time, never the file.  It reads the file twice:
 * first only to check that its rows parse, since a file with more than
 * IMPORT_ERR_MAX rows that do not (one stray quote can make a mess of the
 * rest) is not what its owner meant to import, and nothing of it is; then
 * to import.  Standard input is copied to a temporary file for that (and
 * so that csvr can go back after a quote never closed).  At most
 * IMPORT_ERR_MAX errors are printed, then only counted, so that a bad file
 * costs a screenful and a count, not one line per row.  An export pages through the
 * list twice (first for the union of custom field names, then for the
 * rows) unless --fields names the columns, and quotes as RFC 4180 says,
 * so that what it writes imports again as the same contacts.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csvr.h"
#include "valid.h"
#include "msg.h"
#include "msg_admin.h"

#define BATCH_ROWS	1000
#define BATCH_BYTES	(512 * 1024)
#define ROW_MAX		(900 * 1024)
#define IMPORT_ERR_MAX	100	/* errors printed; more that do not parse:
				   nothing imported */

static const char *const cols[] = { "id", "first_name", "last_name", "phone",
    "email", NULL };

struct copts {
	json_t	*args;		/* name, phone, email, fields, unset, ... */
	int	 npos;
	char	*pos[2];
};

static void
need_value(int argc, char **argv, int i)
{
	if (i + 1 >= argc)
		msg_die(MSG_EX_USAGE, "%s needs a value", argv[i]);
}

/* Parse argv[2..] into o; allowed: a string of the option letters in use
 * ("npefuUlFNLzt": name, phone, email, field, unset-field, update, limit,
 * fields, first-name, last-name, timezone, tag). */
static void
copts_parse(int argc, char **argv, const char *allowed, struct copts *o)
{
	int i;
	char c;
	const char *a, *eq;
	json_t *fields = NULL, *unset = NULL;

	o->args = json_object();
	o->npos = 0;
	for (i = 2; i < argc; i++) {
		a = argv[i];
		if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++) {
				if (o->npos == 2)
					msg_usage();
				o->pos[o->npos++] = argv[i];
			}
			break;
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			if (o->npos == 2)
				msg_usage();
			o->pos[o->npos++] = argv[i];
			continue;
		}
		a += 2;
		if (strcmp(a, "json") == 0) {
			msg_json_force();
			continue;
		}
		c = !strcmp(a, "name") ? 'n' : !strcmp(a, "phone") ? 'p' :
		    !strcmp(a, "email") ? 'e' : !strcmp(a, "field") ? 'f' :
		    !strcmp(a, "unset-field") ? 'u' : !strcmp(a, "update") ?
		    'U' : !strcmp(a, "limit") ? 'l' : !strcmp(a, "fields") ?
		    'F' : !strcmp(a, "first-name") ? 'N' : !strcmp(a,
		    "last-name") ? 'L' : !strcmp(a, "timezone") ? 'z' :
		    !strcmp(a, "tag") ? 't' : 0;
		if (c == 0)
			msg_die(MSG_EX_USAGE, "unknown option %s", argv[i]);
		if (strchr(allowed, c) == NULL)
			msg_die(MSG_EX_USAGE, "%s does not apply to %s",
			    argv[i], argv[1]);
		if (c == 'U') {
			json_object_set_new(o->args, "update", json_true());
			continue;
		}
		need_value(argc, argv, i);
		a = argv[++i];
		switch (c) {
		case 'n':
			json_object_set_new(o->args, "name", json_string(a));
			break;
		case 'p':
			json_object_set_new(o->args, "phone", json_string(a));
			break;
		case 'N':
			json_object_set_new(o->args, "first_name",
			    json_string(a));
			break;
		case 'L':
			json_object_set_new(o->args, "last_name",
			    json_string(a));
			break;
		case 'z':
			json_object_set_new(o->args, "timezone", json_string(a));
			break;
		case 't':
			if (json_object_get(o->args, "tags") == NULL)
				json_object_set_new(o->args, "tags",
				    json_array());
			if (*a)
				json_array_append_new(json_object_get(o->args,
				    "tags"), json_string(a));
			break;
		case 'e':
			json_object_set_new(o->args, "email", json_string(a));
			break;
		case 'f':
			if ((eq = strchr(a, '=')) == NULL || eq == a)
				msg_die(MSG_EX_USAGE, "--field wants key=value, "
				    "not \"%s\"", a);
			if (fields == NULL) {
				fields = json_object();
				json_object_set_new(o->args, "fields", fields);
			}
			{
				char key[128];

				snprintf(key, sizeof(key), "%.*s",
				    (int)(eq - a), a);
				json_object_set_new(fields, key,
				    json_string(eq + 1));
			}
			break;
		case 'u':
			if (unset == NULL) {
				unset = json_array();
				json_object_set_new(o->args, "unset", unset);
			}
			json_array_append_new(unset, json_string(a));
			break;
		case 'l': {
			char *end;
			long long n = strtoll(a, &end, 10);

			if (*a == '\0' || *end != '\0' || n <= 0)
				msg_die(MSG_EX_USAGE, "--limit wants a positive "
				    "number");
			json_object_set_new(o->args, "limit", json_integer(n));
			break;
		}
		case 'F':
			json_object_set_new(o->args, "fields_list",
			    json_string(a));
			break;
		}
	}
}

/* ------------------------------------------------------------- import */

struct cimp {
	struct busc	 c;
	json_t		*rows, *lerr;
	size_t		 bytes;
	int		 update;
	long		 imported, updated, refused;
	size_t		 shown;		/* errors counted for printing */
};

/* Send a batch; print msg's and campaignd's refusals of it, in line
 * order, while fewer than IMPORT_ERR_MAX have been. */
static void
flush(struct cimp *m)
{
	json_t *res, *errs;

	if (json_array_size(m->rows) > 0) {
		res = admin_call_on(&m->c, "contact", "import",
		    json_pack("{s:O,s:b}", "rows", m->rows, "update",
		    m->update));
		m->imported += json_integer_value(json_object_get(res,
		    "imported"));
		m->updated += json_integer_value(json_object_get(res,
		    "updated"));
		errs = json_object_get(res, "errors");
		m->refused += json_array_size(errs);
		admin_line_errs(m->lerr, errs, &m->shown, IMPORT_ERR_MAX);
		json_decref(res);
	} else
		admin_line_errs(m->lerr, NULL, &m->shown, IMPORT_ERR_MAX);
	json_array_clear(m->rows);
	json_array_clear(m->lerr);
	m->bytes = 0;
}

enum { COL_FIELD = 0, COL_ID, COL_NAME, COL_PHONE, COL_EMAIL, COL_SKIP,
    COL_FIRST, COL_LAST, COL_TZ, COL_TAGS };

/* Read the header: which column is what; exits 1 on a bad header. */
static size_t
read_header(struct csvr *cr, int *kind, char ***names)
{
	char **f, err[256];
	size_t nf, i, j, n;
	long line;
	int rc, hasname = 0, hascontact = 0;

	while ((rc = csvr_next(cr, &f, &nf, &line, err, sizeof(err))) == -1)
		msg_die(MSG_EX_REFUSED, "import: %s (the header)", err);
	if (rc == 0)
		msg_die(MSG_EX_REFUSED, "import: the file is empty; it needs "
		    "a header naming its columns (name,phone,email,...)");
	if ((*names = calloc(nf, sizeof(char *))) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	for (i = 0; i < nf; i++) {
		for (n = 0; f[i][n]; n++)
			f[i][n] = (char)tolower((unsigned char)f[i][n]);
		if (((*names)[i] = strdup(f[i])) == NULL)
			msg_die(MSG_EX_REFUSED, "out of memory");
		for (j = 0; j < i; j++)
			if (strcmp((*names)[j], f[i]) == 0)
				msg_die(MSG_EX_REFUSED, "import: line %ld: "
				    "column \"%s\" twice", line, f[i]);
		if (strcmp(f[i], "id") == 0)
			kind[i] = COL_ID;
		else if (strcmp(f[i], "name") == 0) {
			kind[i] = COL_NAME;
			hasname = 1;
		} else if (strcmp(f[i], "first_name") == 0) {
			kind[i] = COL_FIRST;
			hasname = 1;
		} else if (strcmp(f[i], "last_name") == 0) {
			kind[i] = COL_LAST;
			hasname = 1;
		} else if (strcmp(f[i], "timezone") == 0)
			kind[i] = COL_TZ;
		else if (strcmp(f[i], "tags") == 0)
			kind[i] = COL_TAGS;
		else if (strcmp(f[i], "phone") == 0) {
			kind[i] = COL_PHONE;
			hascontact = 1;
		} else if (strcmp(f[i], "email") == 0) {
			kind[i] = COL_EMAIL;
			hascontact = 1;
		} else if (strcmp(f[i], "created_ts") == 0 ||
		    strcmp(f[i], "updated_ts") == 0)
			kind[i] = COL_SKIP;
		else if (!valid_name(f[i], "field name", err, sizeof(err)))
			msg_die(MSG_EX_REFUSED, "import: line %ld: column "
			    "\"%s\": %s", line, f[i], err);
		else
			kind[i] = COL_FIELD;
	}
	if (!hasname)
		msg_die(MSG_EX_REFUSED, "import: line %ld: the header has no "
		    "name column (name or first_name,last_name; phone,email,...)",
		    line);
	if (!hascontact)
		msg_die(MSG_EX_REFUSED, "import: line %ld: the header has "
		    "neither a phone nor an email column", line);
	return nf;
}

/*
 * The file to import as a stream that can seek (read twice, and csvr goes
 * back after a quote never closed): the file itself, or a copy of standard
 * input or a pipe in an unlinked temporary file.  *start: where it begins.
 */
static FILE *
open_input(const char *file, off_t *start)
{
	char tmp[4096], buf[65536];
	const char *dir;
	FILE *in, *fp;
	size_t n;
	int fd;

	if (strcmp(file, "-") == 0)
		in = stdin;
	else if ((in = fopen(file, "r")) == NULL)
		msg_die(MSG_EX_REFUSED, "import: %s: %s", file, strerror(errno));
	if ((*start = ftello(in)) != -1 && fseeko(in, *start, SEEK_SET) == 0)
		return in;
	if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0')
		dir = "/tmp";
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/msg-import.XXXXXX", dir) >=
	    sizeof(tmp))
		msg_die(MSG_EX_REFUSED, "import: TMPDIR is too long");
	if ((fd = mkstemp(tmp)) == -1)
		msg_die(MSG_EX_REFUSED, "import: %s: %s", tmp, strerror(errno));
	unlink(tmp);
	if ((fp = fdopen(fd, "w+")) == NULL)
		msg_die(MSG_EX_REFUSED, "import: %s", strerror(errno));
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, fp) != n)
			msg_die(MSG_EX_REFUSED, "import: copying the input to "
			    "%s: %s", dir, strerror(errno));
	if (ferror(in))
		msg_die(MSG_EX_REFUSED, "import: reading %s: %s", file,
		    strerror(errno));
	if (fflush(fp) == EOF || fseeko(fp, 0, SEEK_SET) == -1)
		msg_die(MSG_EX_REFUSED, "import: copying the input to %s: %s",
		    dir, strerror(errno));
	if (in != stdin)
		fclose(in);
	*start = 0;
	return fp;
}

/* The bytes a row takes in a request, roughly; over ROW_MAX is refused. */
static size_t
row_bytes(char **f, size_t nf, const int *kind, char **names)
{
	size_t i, rb = 64;

	for (i = 0; i < nf; i++)
		if (kind[i] != COL_SKIP && (f[i][0] != '\0' ||
		    kind[i] == COL_NAME))
			rb += strlen(f[i]) + strlen(names[i]) + 8;
	return rb;
}

/*
 * What is wrong with a record before campaignd sees it (rc and err from
 * csvr_next): its reason, or NULL.  why is the buffer for it.
 */
static const char *
row_error(int rc, const char *err, char **f, size_t nf, size_t ncols,
    const int *kind, char **names, char *why, size_t whysz)
{
	if (rc == -1)
		return strchr(err, ':') ? strchr(err, ':') + 2 : err;
	if (nf != ncols) {
		snprintf(why, whysz, "%zu fields, the header has %zu", nf,
		    ncols);
		return why;
	}
	if (row_bytes(f, nf, kind, names) > ROW_MAX)
		return "the row is over 900 KiB";
	return NULL;
}

/*
 * The first pass: every record parsed and its fields counted, nothing
 * sent.  More than IMPORT_ERR_MAX bad rows: the first IMPORT_ERR_MAX and a
 * count are printed and msg exits 1, nothing imported.
 */
static void
check_rows(struct csvr *cr, size_t ncols, const int *kind, char **names)
{
	json_t *first = json_array();
	char **f, err[256], why[128];
	const char *bad;
	size_t nf, i;
	long line, nbad = 0;
	int rc;

	while ((rc = csvr_next(cr, &f, &nf, &line, err, sizeof(err))) != 0) {
		if ((bad = row_error(rc, err, f, nf, ncols, kind, names, why,
		    sizeof(why))) == NULL)
			continue;
		if (nbad++ < IMPORT_ERR_MAX)
			admin_line_err(first, line, bad);
	}
	if (nbad > IMPORT_ERR_MAX) {
		for (i = 0; i < json_array_size(first); i++)
			msg_err("import: line %lld: %s", (long long)
			    json_integer_value(json_object_get(json_array_get(
			    first, i), "line")), json_string_value(
			    json_object_get(json_array_get(first, i),
			    "reason")));
		msg_die(MSG_EX_REFUSED, "import: ... and %ld more errors; "
		    "nothing imported", nbad - IMPORT_ERR_MAX);
	}
	json_decref(first);
}

static int
ct_import(const char *file, int update)
{
	int kind[CSVR_MAXFIELDS];
	char **names = NULL, **f, err[256], why[128];
	const char *bad;
	struct cimp m;
	struct csvr *cr;
	FILE *fp;
	off_t start;
	size_t ncols, nf, i, rb;
	long line;
	int rc;

	fp = open_input(file, &start);
	if ((cr = csvr_open(fp)) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	ncols = read_header(cr, kind, &names);
	check_rows(cr, ncols, kind, names);
	csvr_close(cr);
	/* the second pass imports */
	if (fseeko(fp, start, SEEK_SET) == -1)
		msg_die(MSG_EX_REFUSED, "import: %s: %s", file, strerror(errno));
	if ((cr = csvr_open(fp)) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	if (csvr_next(cr, &f, &nf, &line, err, sizeof(err)) != 1)
		msg_die(MSG_EX_REFUSED, "import: %s changed while read", file);
	memset(&m, 0, sizeof(m));
	m.rows = json_array();
	m.lerr = json_array();
	m.update = update;
	admin_connect(&m.c);
	while ((rc = csvr_next(cr, &f, &nf, &line, err, sizeof(err))) != 0) {
		json_t *row, *fields;

		if ((bad = row_error(rc, err, f, nf, ncols, kind, names, why,
		    sizeof(why))) != NULL) {
			admin_line_err(m.lerr, line, bad);
			m.refused++;
			continue;
		}
		row = json_pack("{s:I,s:s}", "line", (json_int_t)line, "name",
		    "");
		fields = json_object();
		for (i = 0; i < nf; i++) {
			const char *key = kind[i] == COL_ID ? "id" :
			    kind[i] == COL_NAME ? "name" : kind[i] ==
			    COL_PHONE ? "phone" : kind[i] == COL_EMAIL ?
			    "email" : kind[i] == COL_FIRST ? "first_name" :
			    kind[i] == COL_LAST ? "last_name" : kind[i] ==
			    COL_TZ ? "timezone" : NULL;

			if (kind[i] == COL_SKIP || (f[i][0] == '\0' &&
			    kind[i] != COL_NAME))
				continue;
			if (kind[i] == COL_TAGS) {
				json_t *tags = json_array();
				char *tok, *save;

				for (tok = strtok_r(f[i], ",;", &save); tok;
				    tok = strtok_r(NULL, ",;", &save))
					if (*tok)
						json_array_append_new(tags,
						    json_string(tok));
				json_object_set_new(row, "tags", tags);
			} else if (key)
				json_object_set_new(row, key,
				    json_string(f[i]));
			else
				json_object_set_new(fields, names[i],
				    json_string(f[i]));
		}
		json_object_set_new(row, "fields", fields);
		rb = row_bytes(f, nf, kind, names);
		if (m.bytes + rb > BATCH_BYTES)
			flush(&m);
		json_array_append_new(m.rows, row);
		m.bytes += rb;
		if (json_array_size(m.rows) >= BATCH_ROWS)
			flush(&m);
	}
	flush(&m);
	busc_close(&m.c);
	csvr_close(cr);
	if (fp != stdin)
		fclose(fp);
	for (i = 0; i < ncols; i++)
		free(names[i]);
	free(names);
	json_decref(m.rows);
	json_decref(m.lerr);
	if (m.shown > IMPORT_ERR_MAX)
		msg_err("import: ... and %zu more errors", m.shown -
		    IMPORT_ERR_MAX);
	if (update)
		msg_err("imported %ld, updated %ld, refused %ld", m.imported,
		    m.updated, m.refused);
	else
		msg_err("imported %ld, refused %ld", m.imported, m.refused);
	return m.refused ? MSG_EX_REFUSED : MSG_EX_OK;
}

/* ------------------------------------------------------------- export */

/* One CSV field, quoted when it must be (csvr trims unquoted blanks). */
static void
csv_field(const char *s, int first)
{
	const char *p;
	size_t n = strlen(s);

	if (!first)
		msg_out_raw(",", 1);
	if (strpbrk(s, ",\"\r\n") == NULL && (n == 0 || (s[0] != ' ' &&
	    s[0] != '\t' && s[n - 1] != ' ' && s[n - 1] != '\t'))) {
		msg_out_raw(s, n);
		return;
	}
	msg_out_raw("\"", 1);
	while ((p = strchr(s, '"')) != NULL) {
		msg_out_raw(s, (size_t)(p - s) + 1);
		msg_out_raw("\"", 1);
		s = p + 1;
	}
	msg_out_raw(s, strlen(s));
	msg_out_raw("\"", 1);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Page through every contact, calling fn on each page's items. */
static void
each_page(struct busc *c, void (*fn)(json_t *items, void *), void *arg)
{
	json_t *res, *a;
	char next[512] = "";

	for (;;) {
		a = json_object();
		if (next[0])
			json_object_set_new(a, "after", json_string(next));
		res = admin_call_on(c, "contact", "list", a);
		fn(json_object_get(res, "items"), arg);
		if (!json_is_true(json_object_get(res, "more")) ||
		    json_string_value(json_object_get(res, "next")) == NULL) {
			json_decref(res);
			return;
		}
		snprintf(next, sizeof(next), "%s", json_string_value(
		    json_object_get(res, "next")));
		json_decref(res);
	}
}

static void
collect_fields(json_t *items, void *arg)
{
	json_t *set = arg, *it, *v;
	const char *k;
	size_t i;

	json_array_foreach(items, i, it)
		json_object_foreach(json_object_get(it, "fields"), k, v)
			json_object_set(set, k, json_true());
}

struct xcols {
	char	**names;
	size_t	  n;
};

static void
print_rows(json_t *items, void *arg)
{
	struct xcols *x = arg;
	json_t *it, *fl;
	const char *s;
	size_t i, j;

	json_array_foreach(items, i, it) {
		static const char *const own[] = { "id", "name", "first_name",
		    "last_name", "phone", "email", "timezone" };
		char tags[4096];

		for (j = 0; j < 7; j++) {
			s = json_string_value(json_object_get(it, own[j]));
			csv_field(s ? s : "", j == 0);
		}
		tags[0] = '\0';
		{
			json_t *t;
			size_t k, o = 0;

			json_array_foreach(json_object_get(it, "tags"), k, t)
				if (o < sizeof(tags))
					o += (size_t)snprintf(tags + o,
					    sizeof(tags) - o, "%s%s", k ? "," :
					    "", json_string_value(t));
		}
		csv_field(tags, 0);
		fl = json_object_get(it, "fields");
		for (j = 0; j < x->n; j++) {
			s = json_string_value(json_object_get(fl,
			    x->names[j]));
			csv_field(s ? s : "", 0);
		}
		msg_out_raw("\n", 1);
	}
	msg_out_flush();
}

static int
ct_export(json_t *args)
{
	struct busc c;
	struct xcols x = { NULL, 0 };
	const char *list = json_string_value(json_object_get(args,
	    "fields_list")), *k;
	char *dup, *tok, *save, err[256];
	json_t *set = json_object(), *v;
	size_t j;

	admin_connect(&c);
	if (list) {
		if ((dup = strdup(list)) == NULL)
			msg_die(MSG_EX_REFUSED, "out of memory");
		for (tok = strtok_r(dup, ",", &save); tok;
		    tok = strtok_r(NULL, ",", &save)) {
			if (!valid_name(tok, "field name", err, sizeof(err)))
				msg_die(MSG_EX_USAGE, "--fields: %s", err);
			json_object_set_new(set, tok, json_true());
		}
		free(dup);
	} else
		each_page(&c, collect_fields, set);
	if ((x.names = calloc(json_object_size(set) + 1, sizeof(char *)))
	    == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	json_object_foreach(set, k, v)
		x.names[x.n++] = (char *)k;
	if (list == NULL)
		qsort(x.names, x.n, sizeof(char *), cmp_str);
	msg_out_raw("id,name,first_name,last_name,phone,email,timezone,tags",
	    54);
	for (j = 0; j < x.n; j++)
		csv_field(x.names[j], 0);
	msg_out_raw("\n", 1);
	each_page(&c, print_rows, &x);
	busc_close(&c);
	free(x.names);
	json_decref(set);
	json_decref(args);
	msg_out_flush();
	return MSG_EX_OK;
}

/* ------------------------------------------------------------ dispatch */

int
msg_contact(int argc, char **argv)
{
	struct copts o;
	const char *op;
	json_t *res;

	if (argc < 2)
		msg_usage();
	op = argv[1];
	if (strcmp(op, "add") == 0) {
		copts_parse(argc, argv, "npefNLzt", &o);
		if (o.npos != 0)
			msg_usage();
		res = admin_call("contact", "add", o.args);
		admin_print_doc(json_object_get(res, "doc"));
	} else if (strcmp(op, "edit") == 0) {
		copts_parse(argc, argv, "npefuNLzt", &o);
		if (o.npos != 1)
			msg_usage();
		/* on the wire "name" is the id; a new name is "newname" */
		if (json_object_get(o.args, "name"))
			json_object_set(o.args, "newname",
			    json_object_get(o.args, "name"));
		json_object_set_new(o.args, "name", json_string(o.pos[0]));
		res = admin_call("contact", "edit", o.args);
		admin_print_doc(json_object_get(res, "doc"));
	} else if (strcmp(op, "show") == 0 || strcmp(op, "delete") == 0) {
		copts_parse(argc, argv, "", &o);
		if (o.npos != 1)
			msg_usage();
		json_object_set_new(o.args, "name", json_string(o.pos[0]));
		res = admin_call("contact", op, o.args);
		if (json_object_get(res, "doc"))
			admin_print_doc(json_object_get(res, "doc"));
	} else if (strcmp(op, "search") == 0) {
		copts_parse(argc, argv, "l", &o);
		if (o.npos != 1)
			msg_usage();
		json_object_set_new(o.args, "query", json_string(o.pos[0]));
		res = admin_call("contact", "search", o.args);
		admin_print_items(json_object_get(res, "items"), cols);
		if (json_is_true(json_object_get(res, "more")))
			msg_err("search: more contacts may match; narrow the "
			    "query or raise --limit");
		if (json_array_size(json_object_get(res, "items")) == 0) {
			json_decref(res);
			msg_die(MSG_EX_REFUSED, "no contact matches \"%s\"",
			    o.pos[0]);
		}
	} else if (strcmp(op, "list") == 0) {
		copts_parse(argc, argv, "", &o);
		if (o.npos != 0)
			msg_usage();
		return admin_list("contact", o.args, cols);
	} else if (strcmp(op, "import") == 0) {
		int update;

		copts_parse(argc, argv, "U", &o);
		if (o.npos != 1)
			msg_usage();
		update = json_is_true(json_object_get(o.args, "update"));
		json_decref(o.args);
		return ct_import(o.pos[0], update);
	} else if (strcmp(op, "export") == 0) {
		copts_parse(argc, argv, "F", &o);
		if (o.npos != 0)
			msg_usage();
		return ct_export(o.args);
	} else
		msg_usage();
	json_decref(res);
	return MSG_EX_OK;
}
