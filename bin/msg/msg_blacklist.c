/*
 * msg blacklist — customers (a phone number or an e-mail address) who must
 * not be contacted, for one campaign or for all ("*"), and the history of
 * every addition, removal and blocked attempt (campaignd).
 *
 * An import streams a CSV file ("contact,campaign[,reason]", an optional
 * header naming those columns) with lib/csvr in batches over one
 * connection, so the file is never held in memory: the good rows are kept,
 * each bad one is reported with its line number, and msg exits 1 when any
 * row was refused.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvr.h"
#include "msg.h"
#include "msg_admin.h"

#define BATCH_ROWS	1000
#define BATCH_BYTES	(512 * 1024)

static const struct aflag flags[] = {
	{ "campaign", "campaign", AF_STR },
	{ "reason", "reason", AF_STR },
	{ "contact", "contact", AF_STR },
	{ "detail", "detail", AF_STR },
	{ "all-campaigns", "all_campaigns", AF_FLAG },
	{ "all", "all", AF_FLAG },
	{ "limit", "limit", AF_INT },
	{ NULL, NULL, 0 },
};

static const char *const cols[] = { "contact", "campaign", "reason",
	"created_ts", "by", NULL };
static const char *const hcols[] = { "ts", "event", "contact", "campaign",
	"detail", "by", NULL };

/* Refuse (exit 2) any option of args not among the NULL-ended allowed. */
static void
only(const char *op, json_t *args, ...)
{
	const char *k, *a;
	json_t *v;
	va_list ap;
	int found;

	json_object_foreach(args, k, v) {
		found = 0;
		va_start(ap, args);
		while ((a = va_arg(ap, const char *)) != NULL)
			if (strcmp(a, k) == 0)
				found = 1;
		va_end(ap);
		if (!found) {
			const struct aflag *f;

			for (f = flags; f->flag; f++)
				if (strcmp(f->field, k) == 0)
					break;
			msg_err("--%s does not apply to %s", f->flag ? f->flag :
			    k, op);
			msg_usage();
		}
	}
}

/* ------------------------------------------------------------- import */

struct bimp {
	struct busc	 c;
	json_t		*rows;		/* the batch */
	json_t		*lerr;		/* msg's own refusals in this batch */
	size_t		 bytes;
	long		 added, existing, refused;
};

static void
flush(struct bimp *m)
{
	json_t *res, *errs;

	if (json_array_size(m->rows) > 0) {
		res = admin_call_on(&m->c, "blacklist", "import",
		    json_pack("{s:O}", "rows", m->rows));
		m->added += json_integer_value(json_object_get(res, "added"));
		m->existing += json_integer_value(json_object_get(res,
		    "existing"));
		errs = json_object_get(res, "errors");
		m->refused += json_array_size(errs);
		admin_line_errs(m->lerr, errs, NULL, 0);
		json_decref(res);
	} else
		admin_line_errs(m->lerr, NULL, NULL, 0);
	json_array_clear(m->rows);
	json_array_clear(m->lerr);
	m->bytes = 0;
}

static int
bl_import(const char *file)
{
	enum { COL_CONTACT, COL_CAMPAIGN, COL_REASON, COL_N };
	static const char *const names[COL_N] = { "contact", "campaign",
	    "reason" };
	int map[CSVR_MAXFIELDS];
	struct bimp m;
	struct csvr *cr;
	FILE *fp;
	char **f, err[256];
	size_t nf, i, ncols = 0, n;
	long line;
	int rc, first = 1, header = 0;

	if (strcmp(file, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(file, "r")) == NULL)
		msg_die(MSG_EX_REFUSED, "import: %s: %s", file, strerror(errno));
	if ((cr = csvr_open(fp)) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	memset(&m, 0, sizeof(m));
	m.rows = json_array();
	m.lerr = json_array();
	admin_connect(&m.c);
	while ((rc = csvr_next(cr, &f, &nf, &line, err, sizeof(err))) != 0) {
		json_t *row;

		if (rc == -1) {
			admin_line_err(m.lerr, line, strchr(err, ':') ?
			    strchr(err, ':') + 2 : err);
			m.refused++;
			continue;
		}
		if (first) {
			char low[32];

			first = 0;
			for (n = 0; n < sizeof(low) - 1 && f[0][n]; n++)
				low[n] = (char)tolower((unsigned char)f[0][n]);
			low[n] = '\0';
			if (strcmp(low, "contact") == 0) {
				header = 1;
				ncols = nf;
				for (i = 0; i < nf; i++) {
					size_t k;

					for (n = 0; f[i][n]; n++)
						f[i][n] = (char)tolower(
						    (unsigned char)f[i][n]);
					for (k = 0; k < COL_N; k++)
						if (strcmp(f[i], names[k]) == 0)
							break;
					if (k == COL_N)
						msg_die(MSG_EX_REFUSED, "import: "
						    "line %ld: unknown column "
						    "\"%s\" (contact, campaign, "
						    "reason)", line, f[i]);
					for (n = 0; n < i; n++)
						if (map[n] == (int)k)
							msg_die(MSG_EX_REFUSED,
							    "import: line %ld: "
							    "column %s twice",
							    line, f[i]);
					map[i] = (int)k;
				}
				continue;
			}
		}
		if (header && nf != ncols) {
			snprintf(err, sizeof(err), "%zu fields, the header has "
			    "%zu", nf, ncols);
			admin_line_err(m.lerr, line, err);
			m.refused++;
			continue;
		}
		if (!header && nf > COL_N) {
			snprintf(err, sizeof(err), "%zu fields; a row is "
			    "contact,campaign[,reason]", nf);
			admin_line_err(m.lerr, line, err);
			m.refused++;
			continue;
		}
		row = json_pack("{s:I}", "line", (json_int_t)line);
		for (i = 0; i < nf; i++) {
			int col = header ? map[i] : (int)i;

			json_object_set_new(row, names[col], json_string(f[i]));
			m.bytes += strlen(f[i]) + 16;
		}
		if (json_object_get(row, "contact") == NULL)
			json_object_set_new(row, "contact", json_string(""));
		json_array_append_new(m.rows, row);
		if (json_array_size(m.rows) >= BATCH_ROWS ||
		    m.bytes >= BATCH_BYTES)
			flush(&m);
	}
	flush(&m);
	busc_close(&m.c);
	csvr_close(cr);
	if (fp != stdin)
		fclose(fp);
	json_decref(m.rows);
	json_decref(m.lerr);
	msg_err("imported %ld, already there %ld, refused %ld", m.added,
	    m.existing, m.refused);
	return m.refused ? MSG_EX_REFUSED : MSG_EX_OK;
}

/* ------------------------------------------------------------ history */

static int
bl_history(json_t *args)
{
	struct busc c;
	json_t *res, *a;
	const char *next;
	json_int_t want = json_integer_value(json_object_get(args, "limit"));
	json_int_t got = 0;
	json_t *all = json_array();

	admin_connect(&c);
	for (;;) {
		a = json_deep_copy(args);
		if (want > 0)
			json_object_set_new(a, "limit", json_integer(want -
			    got));
		res = admin_call_on(&c, "blacklist", "history", a);
		got += (json_int_t)json_array_size(json_object_get(res,
		    "items"));
		json_array_extend(all, json_object_get(res, "items"));
		if (!json_is_true(json_object_get(res, "more")) ||
		    (next = json_string_value(json_object_get(res,
		    "next"))) == NULL || (want > 0 && got >= want)) {
			json_decref(res);
			break;
		}
		json_object_set_new(args, "after", json_string(next));
		json_decref(res);
		if (!msg_stdout_tty()) {
			admin_print_items(all, NULL);
			json_array_clear(all);
		}
	}
	busc_close(&c);
	admin_print_items(all, hcols);
	json_decref(all);
	json_decref(args);
	return MSG_EX_OK;
}

int
msg_blacklist(int argc, char **argv)
{
	const char *op;
	json_t *args = json_object(), *res, *it;
	int npos;
	size_t i;

	if (argc < 2)
		msg_usage();
	op = argv[1];
	npos = admin_flags(argc, argv, 2, flags, args);
	if (strcmp(op, "list") == 0) {
		only(op, args, "campaign", "contact", NULL);
		if (npos != 0)
			msg_usage();
		return admin_list("blacklist", args, cols);
	}
	if (strcmp(op, "history") == 0) {
		only(op, args, "contact", "campaign", "limit", NULL);
		if (npos != 0)
			msg_usage();
		return bl_history(args);
	}
	if (strcmp(op, "import") == 0) {
		only(op, args, NULL);
		if (npos != 1)
			msg_usage();
		json_decref(args);
		return bl_import(argv[2]);
	}
	if (strcmp(op, "delete") == 0) {
		int allc = json_object_get(args, "all_campaigns") != NULL;
		int all = json_object_get(args, "all") != NULL;
		int camp = json_object_get(args, "campaign") != NULL;

		only(op, args, "campaign", "all_campaigns", "all", NULL);
		if (!((npos == 1 && camp && !allc && !all) ||
		    (npos == 1 && allc && !camp && !all) ||
		    (npos == 0 && camp && all && !allc))) {
			msg_err("say which records: CONTACT --campaign C, "
			    "CONTACT --all-campaigns, or --campaign C --all");
			msg_usage();
		}
		if (npos == 1)
			json_object_set_new(args, "name", json_string(argv[2]));
		res = admin_call("blacklist", "delete", args);
		if (allc || all)
			msg_err("deleted %lld record%s", (long long)
			    json_integer_value(json_object_get(res, "deleted")),
			    json_integer_value(json_object_get(res,
			    "deleted")) == 1 ? "" : "s");
		json_decref(res);
		return MSG_EX_OK;
	}
	if (npos != 1)
		msg_usage();
	json_object_set_new(args, "name", json_string(argv[2]));
	if (strcmp(op, "add") == 0) {
		only(op, args, "name", "campaign", "reason", NULL);
		res = admin_call("blacklist", "add", args);
		admin_print_doc(json_object_get(res, "doc"));
		json_decref(res);
		return MSG_EX_OK;
	}
	if (strcmp(op, "check") == 0) {
		const char *camp;
		char for_[128] = "";

		only(op, args, "name", "campaign", NULL);
		if ((camp = json_string_value(json_object_get(args,
		    "campaign"))) != NULL)
			snprintf(for_, sizeof(for_), " for %s", camp);
		res = admin_call("blacklist", "check", args);
		if (!json_is_true(json_object_get(res, "blocked"))) {
			msg_err("%s is not blacklisted%s", json_string_value(
			    json_object_get(res, "contact")), for_);
			json_decref(res);
			return MSG_EX_REFUSED;
		}
		json_array_foreach(json_object_get(res, "items"), i, it)
			admin_print_doc(it);
		json_decref(res);
		return MSG_EX_OK;
	}
	if (strcmp(op, "blocked") == 0) {
		only(op, args, "name", "campaign", "detail", NULL);
		json_object_set(args, "contact", json_object_get(args, "name"));
		json_decref(admin_call("blacklist", "blocked", args));
		return MSG_EX_OK;
	}
	msg_usage();
}
