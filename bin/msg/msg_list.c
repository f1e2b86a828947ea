/*
 * msg list — contact lists (campaignd, admin only): static lists of
 * contacts from the contact book, and segments, a filter on contact fields
 * and tags evaluated whenever the list is read.
 *
 * An import streams the CSV file with lib/csvr and sends it in batches
 * (BATCH_ROWS rows, BATCH_BYTES bytes) under one import id: campaignd
 * validates and stages each batch; "import-commit" starts the apply, which
 * campaignd runs in bounded steps and makes visible in the list at once at
 * its end; msg polls "import-status" until then (across a restart of
 * campaignd, which carries the apply on).  A row msg or campaignd refuses
 * is reported with its line number (at most ERR_MAX printed, the rest
 * counted); any refused row means nothing is imported ("import-abort").
 * msg holds one batch at a time, never the file, so memory is bounded
 * whatever its size.  On a terminal a progress bar is drawn on stderr.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "busc.h"
#include "csvr.h"
#include "mp.h"
#include "rec.h"
#include "valid.h"
#include "msg.h"
#include "msg_admin.h"

#define BATCH_ROWS	2000
#define BATCH_BYTES	(512 * 1024)
#define ROW_MAX		(256 * 1024)
#define ERR_MAX		100	/* refusals printed; more are counted */
#define APPLY_LOST_MAX	(5 * 300)	/* 200 ms polls campaignd may be away */

static const char *const list_cols[] = { "name", "kind", "count", "where",
    "description", NULL };
static const char *const member_cols[] = { "id", "first_name", "last_name",
    "phone", "timezone", "tags", NULL };

enum { COL_FIELD = 0, COL_FIRST, COL_LAST, COL_NAME, COL_PHONE, COL_EMAIL,
    COL_TZ, COL_TAGS, COL_SKIP };

struct limp {
	struct busc	 c;
	const char	*list;
	char		 id[64];
	json_t		*rows, *lerr;
	size_t		 bytes, shown;
	long		 staged, refused, rows_read;
	FILE		*fp;
	off_t		 size;
	int		 tty;
};

static void
progress(struct limp *m, int done)
{
	char bar[41];
	off_t pos;
	int pct, n;

	if (!m->tty)
		return;
	if (done) {
		fprintf(stderr, "\r\033[K");
		return;
	}
	pos = ftello(m->fp);
	pct = m->size > 0 && pos > 0 ? (int)(pos * 100 / m->size) : 0;
	if (pct > 100)
		pct = 100;
	n = pct * 40 / 100;
	memset(bar, '#', (size_t)n);
	memset(bar + n, ' ', (size_t)(40 - n));
	bar[40] = '\0';
	fprintf(stderr, "\rimport %s: [%s] %3d%% %ld rows", m->list, bar, pct,
	    m->rows_read);
}

static void
flush(struct limp *m)
{
	json_t *res, *errs;

	if (json_array_size(m->rows) > 0) {
		res = admin_call_on(&m->c, "list", "import-rows",
		    json_pack("{s:s,s:s,s:O}", "name", m->list, "import",
		    m->id, "rows", m->rows));
		m->staged += json_integer_value(json_object_get(res,
		    "staged"));
		errs = json_object_get(res, "errors");
		m->refused += json_array_size(errs);
		if (m->tty && (json_array_size(errs) || json_array_size(
		    m->lerr)))
			progress(m, 1);
		admin_line_errs(m->lerr, errs, &m->shown, ERR_MAX);
		json_decref(res);
	} else
		admin_line_errs(m->lerr, NULL, &m->shown, ERR_MAX);
	json_array_clear(m->rows);
	json_array_clear(m->lerr);
	m->bytes = 0;
	progress(m, 0);
}

/* The header: which column is what; exits 1 on a bad one. */
static size_t
read_header(struct csvr *cr, int *kind, char ***names)
{
	char **f, err[256];
	size_t nf, i, j, n;
	long line;
	int rc, hasphone = 0;

	while ((rc = csvr_next(cr, &f, &nf, &line, err, sizeof(err))) == -1)
		msg_die(MSG_EX_REFUSED, "import: %s (the header)", err);
	if (rc == 0)
		msg_die(MSG_EX_REFUSED, "import: the file is empty; it needs a "
		    "header naming its columns (first_name,last_name,phone,...)");
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
		if (strcmp(f[i], "first_name") == 0)
			kind[i] = COL_FIRST;
		else if (strcmp(f[i], "last_name") == 0)
			kind[i] = COL_LAST;
		else if (strcmp(f[i], "name") == 0)
			kind[i] = COL_NAME;
		else if (strcmp(f[i], "phone") == 0) {
			kind[i] = COL_PHONE;
			hasphone = 1;
		} else if (strcmp(f[i], "email") == 0)
			kind[i] = COL_EMAIL;
		else if (strcmp(f[i], "timezone") == 0)
			kind[i] = COL_TZ;
		else if (strcmp(f[i], "tags") == 0)
			kind[i] = COL_TAGS;
		else if (strcmp(f[i], "id") == 0 || strcmp(f[i],
		    "created_ts") == 0 || strcmp(f[i], "updated_ts") == 0)
			kind[i] = COL_SKIP;
		else if (!valid_name(f[i], "field name", err, sizeof(err)))
			msg_die(MSG_EX_REFUSED, "import: line %ld: column "
			    "\"%s\": %s", line, f[i], err);
		else
			kind[i] = COL_FIELD;
	}
	if (!hasphone)
		msg_die(MSG_EX_REFUSED, "import: line %ld: the header has no "
		    "phone column (first_name,last_name,phone,...)", line);
	return nf;
}

/* A row as campaignd takes it: {line, first_name, ..., tags, fields}. */
static json_t *
make_row(char **f, size_t nf, const int *kind, char **names, long line,
    size_t *bytes)
{
	static const char *const keys[] = { NULL, "first_name", "last_name",
	    "name", "phone", "email", "timezone" };
	json_t *row = json_pack("{s:I}", "line", (json_int_t)line), *fields,
	    *tags;
	char *tok, *save, *p;
	size_t i;

	fields = json_object();
	*bytes = 64;
	for (i = 0; i < nf; i++) {
		if (kind[i] == COL_SKIP || f[i][0] == '\0')
			continue;
		*bytes += strlen(f[i]) + strlen(names[i]) + 8;
		if (kind[i] == COL_FIELD)
			json_object_set_new(fields, names[i],
			    json_string(f[i]));
		else if (kind[i] == COL_TAGS) {
			tags = json_array();
			for (tok = strtok_r(f[i], ",;", &save); tok;
			    tok = strtok_r(NULL, ",;", &save)) {
				while (*tok == ' ')
					tok++;
				for (p = tok + strlen(tok); p > tok &&
				    p[-1] == ' '; p--)
					p[-1] = '\0';
				if (*tok)
					json_array_append_new(tags,
					    json_string(tok));
			}
			json_object_set_new(row, "tags", tags);
		} else
			json_object_set_new(row, keys[kind[i]],
			    json_string(f[i]));
	}
	json_object_set_new(row, "fields", fields);
	return row;
}

/*
 * import-status on a fresh connection: 0 with *res, or -1 when campaignd
 * cannot be reached now (restarting); a refusal exits.
 */
static int
imp_status(struct limp *m, json_t **res)
{
	struct busc c;
	struct fbuf fb;
	const msgpack_object *ans;
	const char *why;
	char err[512];
	int64_t id;
	int rc = -1;

	if (msg_connect(&c, "campaignd", MSG_TIMEOUT_MS, &why) == -1)
		return -1;
	id = busc_next_id(&c);
	fbuf_init(&fb);
	fbuf_begin(&fb, 6);
	mp_kv_str(&fb.pk, "t", "cfg");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "kind", "list");
	mp_kv_str(&fb.pk, "op", "import-status");
	mp_kv_str(&fb.pk, "name", m->list);
	mp_kv_str(&fb.pk, "import", m->id);
	if (fbuf_finish(&fb) == 0 && busc_call(&c, &fb, id, &ans) == 1) {
		if (msg_answer_err(ans, err, sizeof(err)))
			msg_die(MSG_EX_REFUSED, "import %s: %s", m->id, err);
		if ((*res = rec_to_json(ans)) != NULL)
			rc = 0;
	}
	fbuf_free(&fb);
	busc_close(&c);
	return rc;
}

/* Wait for the apply's end; the outcome as campaignd recorded it. */
static int
wait_apply(struct limp *m)
{
	json_t *res = NULL, *e;
	const char *st;
	int64_t lost = 0;
	size_t i;

	for (;;) {
		if (imp_status(m, &res) == -1) {
			if (lost == 0)
				msg_err("import %s: campaignd went away during "
				    "the apply; waiting for it (it carries the "
				    "apply on when it starts)", m->id);
			if (++lost > APPLY_LOST_MAX)
				msg_die(MSG_EX_UNREACH, "import %s: campaignd "
				    "unreachable for %d s; the import will be "
				    "applied in full when it starts (msg list "
				    "show %s)", m->id, APPLY_LOST_MAX / 5,
				    m->list);
			usleep(200 * 1000);
			continue;
		}
		lost = 0;
		st = json_string_value(json_object_get(res, "state"));
		if (st && (strcmp(st, "committed") == 0 || strcmp(st,
		    "done") == 0 || strcmp(st, "failed") == 0))
			break;
		if (m->tty)
			fprintf(stderr, "\rimport %s: applying %lld of %lld "
			    "rows", m->list, (long long)json_integer_value(
			    json_object_get(res, "applied")), (long long)
			    json_integer_value(json_object_get(res, "rows")));
		json_decref(res);
		usleep(200 * 1000);
	}
	progress(m, 1);
	json_array_foreach(json_object_get(res, "errors"), i, e)
		msg_err("line %lld: %s (left out)", (long long)
		    json_integer_value(json_object_get(e, "line")),
		    json_string_value(json_object_get(e, "reason")) ?
		    json_string_value(json_object_get(e, "reason")) : "?");
	if (strcmp(st, "failed") == 0) {
		msg_err("import %s failed: %s", m->id, json_string_value(
		    json_object_get(res, "reason")) ? json_string_value(
		    json_object_get(res, "reason")) : "?");
		json_decref(res);
		return MSG_EX_REFUSED;
	}
	msg_err("imported %lld rows into %s: %lld contacts created, %lld "
	    "updated, %lld added to the list%s", (long long)json_integer_value(
	    json_object_get(res, "applied")) - json_integer_value(
	    json_object_get(res, "skipped")), m->list, (long long)
	    json_integer_value(json_object_get(res, "created")), (long long)
	    json_integer_value(json_object_get(res, "updated")), (long long)
	    json_integer_value(json_object_get(res, "added")),
	    json_integer_value(json_object_get(res, "skipped")) ?
	    "; some rows left out (above)" : "");
	i = json_integer_value(json_object_get(res, "skipped")) != 0;
	json_decref(res);
	return i ? MSG_EX_REFUSED : MSG_EX_OK;
}

static int
l_import(const char *list, const char *file)
{
	int kind[CSVR_MAXFIELDS];
	char **names = NULL, **f, err[256], why[128];
	struct limp m;
	struct csvr *cr;
	struct stat st;
	json_t *res, *row;
	size_t ncols, nf, i, rb;
	long line;
	int rc;

	memset(&m, 0, sizeof(m));
	m.list = list;
	if (strcmp(file, "-") == 0)
		m.fp = stdin;
	else if ((m.fp = fopen(file, "r")) == NULL)
		msg_die(MSG_EX_REFUSED, "import: %s: %s", file, strerror(errno));
	if (fstat(fileno(m.fp), &st) == 0 && S_ISREG(st.st_mode))
		m.size = st.st_size;
	m.tty = isatty(2) && m.size > 0;
	if ((cr = csvr_open(m.fp)) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	ncols = read_header(cr, kind, &names);
	m.rows = json_array();
	m.lerr = json_array();
	admin_connect(&m.c);
	res = admin_call_on(&m.c, "list", "import-begin", json_pack("{s:s}",
	    "name", list));
	snprintf(m.id, sizeof(m.id), "%s", json_string_value(json_object_get(
	    res, "import")) ? json_string_value(json_object_get(res,
	    "import")) : "");
	json_decref(res);
	while ((rc = csvr_next(cr, &f, &nf, &line, err, sizeof(err))) != 0) {
		m.rows_read++;
		if (rc == -1) {
			admin_line_err(m.lerr, line, strchr(err, ':') ?
			    strchr(err, ':') + 2 : err);
			m.refused++;
			continue;
		}
		if (nf != ncols) {
			snprintf(why, sizeof(why), "%zu fields, the header has "
			    "%zu", nf, ncols);
			admin_line_err(m.lerr, line, why);
			m.refused++;
			continue;
		}
		row = make_row(f, nf, kind, names, line, &rb);
		if (rb > ROW_MAX) {
			json_decref(row);
			admin_line_err(m.lerr, line, "the row is over 256 KiB");
			m.refused++;
			continue;
		}
		if (m.bytes + rb > BATCH_BYTES)
			flush(&m);
		json_array_append_new(m.rows, row);
		m.bytes += rb;
		if (json_array_size(m.rows) >= BATCH_ROWS)
			flush(&m);
	}
	flush(&m);
	progress(&m, 1);
	if (m.shown > ERR_MAX)
		msg_err("import: ... and %zu more errors", m.shown - ERR_MAX);
	if (m.refused > 0) {
		json_decref(admin_call_on(&m.c, "list", "import-abort",
		    json_pack("{s:s,s:s}", "name", list, "import", m.id)));
		msg_die(MSG_EX_REFUSED, "import: %ld of %ld rows refused; "
		    "nothing imported", m.refused, m.rows_read);
	}
	/* campaignd applies the stage in steps; msg waits for the end,
	 * across a restart of campaignd (which carries the apply on) */
	res = admin_call_on(&m.c, "list", "import-commit", json_pack(
	    "{s:s,s:s}", "name", list, "import", m.id));
	json_decref(res);
	busc_close(&m.c);
	csvr_close(cr);
	if (m.fp != stdin)
		fclose(m.fp);
	for (i = 0; i < ncols; i++)
		free(names[i]);
	free(names);
	json_decref(m.rows);
	json_decref(m.lerr);
	if (!m.tty)
		msg_err("import %s: %ld rows staged; applying", m.id,
		    m.staged);
	return wait_apply(&m);
}

/* Every page of the list's contacts. */
static int
l_members(const char *list, long long limit)
{
	struct busc c;
	json_t *res, *a;
	char next[128] = "";
	long long n = 0;

	admin_connect(&c);
	for (;;) {
		a = json_pack("{s:s}", "name", list);
		if (next[0])
			json_object_set_new(a, "after", json_string(next));
		if (limit > 0)
			json_object_set_new(a, "limit", json_integer(limit - n <
			    1000 ? limit - n : 1000));
		res = admin_call_on(&c, "list", "members", a);
		admin_print_items(json_object_get(res, "items"), member_cols);
		n += (long long)json_array_size(json_object_get(res, "items"));
		if (!json_is_true(json_object_get(res, "more")) ||
		    json_string_value(json_object_get(res, "next")) == NULL ||
		    (limit > 0 && n >= limit)) {
			json_decref(res);
			break;
		}
		snprintf(next, sizeof(next), "%s", json_string_value(
		    json_object_get(res, "next")));
		json_decref(res);
	}
	busc_close(&c);
	msg_out_flush();
	return MSG_EX_OK;
}

int
msg_list(int argc, char **argv)
{
	const char *op, *where = NULL, *desc = NULL, *pos[2] = { NULL, NULL };
	json_t *res, *phones;
	long long limit = 0;
	int i, npos = 0, members = 0, rc;

	if (argc < 2)
		msg_usage();
	op = argv[1];
	phones = json_array();
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			msg_json_force();
		else if (strcmp(argv[i], "--where") == 0 && i + 1 < argc)
			where = argv[++i];
		else if (strcmp(argv[i], "--description") == 0 && i + 1 < argc)
			desc = argv[++i];
		else if (strcmp(argv[i], "--members") == 0)
			members = 1;
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			char *end;

			limit = strtoll(argv[++i], &end, 10);
			if (*end != '\0' || limit <= 0)
				msg_die(MSG_EX_USAGE, "--limit wants a positive "
				    "number");
		} else if (strncmp(argv[i], "--", 2) == 0)
			msg_die(MSG_EX_USAGE, "unknown option %s (or it needs "
			    "a value)", argv[i]);
		else if (npos < 2)
			pos[npos++] = argv[i];
		else if (strcmp(op, "add") == 0 || strcmp(op, "remove") == 0)
			json_array_append_new(phones, json_string(argv[i]));
		else
			msg_usage();
	}
	if ((where || desc) && strcmp(op, "create") != 0)
		msg_die(MSG_EX_USAGE, "--where and --description go with "
		    "list create");
	if (strcmp(op, "create") == 0) {
		json_t *a;

		if (npos != 1)
			msg_usage();
		json_decref(phones);
		a = json_pack("{s:s}", "name", pos[0]);
		if (where)
			json_object_set_new(a, "where", json_string(where));
		if (desc)
			json_object_set_new(a, "description", json_string(desc));
		res = admin_call("list", "create", a);
		admin_print_doc(json_object_get(res, "doc"));
		json_decref(res);
		return MSG_EX_OK;
	}
	if (strcmp(op, "list") == 0) {
		if (npos != 0)
			msg_usage();
		json_decref(phones);
		return admin_list("list", json_object(), list_cols);
	}
	if (npos < 1)
		msg_usage();
	if (strcmp(op, "show") == 0 && members) {
		json_decref(phones);
		return l_members(pos[0], limit);
	}
	if (strcmp(op, "import") == 0) {
		if (npos != 2)
			msg_usage();
		json_decref(phones);
		return l_import(pos[0], pos[1]);
	}
	if (strcmp(op, "add") == 0 || strcmp(op, "remove") == 0) {
		if (npos == 2)
			json_array_insert_new(phones, 0, json_string(pos[1]));
		if (json_array_size(phones) == 0)
			msg_usage();
		res = admin_call("list", op, json_pack("{s:s,s:o}", "name",
		    pos[0], "phones", phones));
		admin_print_doc(res);
		json_decref(res);
		return MSG_EX_OK;
	}
	json_decref(phones);
	if (npos != 1)
		msg_usage();
	if (strcmp(op, "show") == 0 || strcmp(op, "delete") == 0) {
		res = admin_call("list", op, json_pack("{s:s}", "name",
		    pos[0]));
		admin_print_doc(json_object_get(res, "doc") ?
		    json_object_get(res, "doc") : res);
		json_decref(res);
		return MSG_EX_OK;
	}
	rc = MSG_EX_USAGE;
	msg_usage();
	return rc;
}
