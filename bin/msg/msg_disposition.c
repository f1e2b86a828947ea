/*
 * msg disposition — the disposition tree (campaignd): how an agent
 * classifies a finished conversation, by path "Level/Sub/Leaf"; a level
 * can be renamed (what is below it moves along).  Lists come
 * in tree order, indented on a terminal.  An import reads a file here (one
 * path a line, or CSV "level1,level2,level3"), checks it whole, and sends
 * it as one request, so campaignd applies all of it or none.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csvr.h"
#include "str.h"
#include "msg.h"
#include "msg_admin.h"

#define IMPORT_PATH_MAX	1024	/* longer is refused (campaignd: 400) */

static const struct aflag flags[] = {
	{ "parents", "parents", AF_FLAG },
	{ "under", "under", AF_STR },
	{ "campaign", "campaign", AF_STR },
	{ NULL, NULL, 0 },
};

static int
is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* On a terminal: each name indented by its depth below the shallowest. */
static void
print_tree(json_t *items)
{
	json_t *it;
	size_t i;
	json_int_t d, min = 0;
	const char *name;

	json_array_foreach(items, i, it) {
		d = json_integer_value(json_object_get(it, "depth"));
		if (i == 0 || d < min)
			min = d;
	}
	json_array_foreach(items, i, it) {
		d = json_integer_value(json_object_get(it, "depth"));
		name = json_string_value(json_object_get(it, "name"));
		if (name == NULL)
			continue;
		printf("%*s", (int)(2 * (d - min)), "");
		msg_term_text(stdout, name, strlen(name), 0, 0, 1);
		putchar('\n');
	}
	msg_out_flush();
}

static int
disp_list(json_t *args)
{
	struct busc c;
	json_t *res, *all = json_array(), *a;
	const char *next;
	int tty = msg_stdout_tty();

	admin_connect(&c);
	for (;;) {
		a = json_deep_copy(args);
		res = admin_call_on(&c, "disposition", "list", a);
		json_array_extend(all, json_object_get(res, "items"));
		if (!tty) {
			admin_print_items(all, NULL);
			json_array_clear(all);
		}
		if (!json_is_true(json_object_get(res, "more")) ||
		    (next = json_string_value(json_object_get(res,
		    "next"))) == NULL) {
			json_decref(res);
			break;
		}
		json_object_set_new(args, "after", json_string(next));
		json_decref(res);
	}
	busc_close(&c);
	if (tty)
		print_tree(all);
	json_decref(all);
	json_decref(args);
	return MSG_EX_OK;
}

/* "level1,level2,..." as a first row is a header. */
static int
is_header(char **f, size_t n)
{
	size_t i;
	const char *p;

	for (i = 0; i < n; i++) {
		if (strncasecmp(f[i], "level", 5) != 0)
			return 0;
		for (p = f[i] + 5; *p == ' ' || *p == '_'; p++)
			;
		if (strspn(p, "0123456789") != strlen(p))
			return 0;
	}
	return n > 0;
}

/*
 * The path of one record, into buf: a lone field is a path (white space
 * around each '/' trimmed); several are its levels, trailing empty ones
 * dropped.  -1 with why.
 */
static int
record_path(char **f, size_t n, char *buf, size_t bufsz, const char **why)
{
	size_t i, len = 0, w;
	char *lev, *next;

	buf[0] = '\0';
	while (n > 1 && *str_trim(f[n - 1]) == '\0')
		n--;
	for (i = 0; i < n; i++) {
		if (n > 1 && strchr(f[i], '/')) {
			*why = "a level in CSV cannot contain '/'";
			return -1;
		}
		/* a lone field is a path: split it on '/' */
		for (lev = f[i]; lev; lev = next) {
			if ((next = strchr(lev, '/')) != NULL)
				*next++ = '\0';
			lev = str_trim(lev);
			if (*lev == '\0') {
				*why = n > 1 ? "empty level between two others" :
				    "empty level (a leading, trailing or "
				    "doubled '/')";
				return -1;
			}
			w = (size_t)snprintf(buf + len, bufsz - len, "%s%s",
			    len ? "/" : "", lev);
			if (w >= bufsz - len) {
				*why = "path too long";
				return -1;
			}
			len += w;
		}
	}
	return 0;
}

static int
disp_import(const char *file)
{
	FILE *fp;
	struct csvr *cr;
	char **f, err[512], path[IMPORT_PATH_MAX];
	const char *why;
	size_t n;
	long line;
	int rc, first = 1;
	json_t *paths = json_array(), *lines = json_array(), *res, *j;

	if (is(file, "-"))
		fp = stdin;
	else if ((fp = fopen(file, "r")) == NULL)
		msg_die(MSG_EX_REFUSED, "%s: %s", file, strerror(errno));
	if ((cr = csvr_open(fp)) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	while ((rc = csvr_next(cr, &f, &n, &line, err, sizeof(err))) != 0) {
		if (rc == -1)
			msg_die(MSG_EX_REFUSED, "%s: %s; nothing imported",
			    file, err);
		if (first && is_header(f, n)) {
			first = 0;
			continue;
		}
		first = 0;
		if (n == 1 && *str_trim(f[0]) == '\0')
			continue;
		if (record_path(f, n, path, sizeof(path), &why) == -1)
			msg_die(MSG_EX_REFUSED, "%s: line %ld: %s; nothing "
			    "imported", file, line, why);
		if ((j = json_string(path)) == NULL)
			msg_die(MSG_EX_REFUSED, "%s: line %ld: not valid UTF-8; "
			    "nothing imported", file, line);
		json_array_append_new(paths, j);
		json_array_append_new(lines, json_integer(line));
	}
	csvr_close(cr);
	if (fp != stdin)
		fclose(fp);
	if (json_array_size(paths) == 0)
		msg_die(MSG_EX_REFUSED, "%s: no dispositions in it", file);
	res = admin_call("disposition", "import", json_pack("{s:o,s:o}",
	    "paths", paths, "lines", lines));
	json_object_del(res, "created");
	admin_print_doc(res);
	json_decref(res);
	return MSG_EX_OK;
}

int
msg_disposition(int argc, char **argv)
{
	const char *op;
	json_t *args = json_object(), *res;
	int npos;

	if (argc < 2)
		msg_usage();
	op = argv[1];
	npos = admin_flags(argc, argv, 2, flags, args);
	if (is(op, "list")) {
		if (npos != 0)
			msg_usage();
		return disp_list(args);
	}
	if (is(op, "rename")) {
		/* msg disposition rename PATH NEWNAME */
		if (npos != 2)
			msg_usage();
		res = admin_call("disposition", "rename", json_pack("{s:s,s:s}",
		    "name", argv[2], "to", argv[3]));
		admin_print_doc(res);
		json_decref(res);
		json_decref(args);
		return MSG_EX_OK;
	}
	if (npos != 1)
		msg_usage();
	if (is(op, "import")) {
		json_decref(args);
		return disp_import(argv[2]);
	}
	json_object_set_new(args, "name", json_string(argv[2]));
	if (json_object_get(args, "name") == NULL)
		msg_die(MSG_EX_REFUSED, "the path is not valid UTF-8");
	if (is(op, "assign") || is(op, "unassign")) {
		if (json_object_get(args, "campaign") == NULL)
			msg_die(MSG_EX_USAGE, "--campaign is required");
	} else if (!is(op, "add") && !is(op, "show") && !is(op, "delete"))
		msg_usage();
	res = admin_call("disposition", op, args);
	if (is(op, "delete")) {
		json_int_t below = json_integer_value(json_object_get(res,
		    "below"));

		admin_res_deleted("", res);
		if (below > 0)
			msg_err("deleted %s and %lld below it",
			    json_string_value(json_object_get(res, "deleted")),
			    (long long)below);
	} else if (is(op, "assign") || is(op, "unassign"))
		admin_res_assigned(res);
	else
		admin_print_doc(json_object_get(res, "doc"));
	json_decref(res);
	return MSG_EX_OK;
}
