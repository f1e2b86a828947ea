/*
 * msg_admin — shared plumbing of msg's admin command groups: a JSON
 * request/answer with campaignd, flag tables, and table/JSON Lines output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "mp.h"
#include "rec.h"
#include "msg.h"
#include "msg_admin.h"

void
admin_connect(struct busc *c)
{
	msg_connect_or_die(c, "campaignd");
}

json_t *
admin_call_on(struct busc *c, const char *kind, const char *op, json_t *args)
{
	return msg_call_json(c, "campaignd", "cfg", kind, op, args, 0);
}

json_t *
admin_call(const char *kind, const char *op, json_t *args)
{
	struct busc c;
	json_t *res;

	admin_connect(&c);
	res = admin_call_on(&c, kind, op, args);
	busc_close(&c);
	return res;
}

/* Set a dotted path in obj, making objects on the way. */
static void
set_path(json_t *obj, const char *path, json_t *val)
{
	char buf[128], *dot, *p = buf;
	json_t *o = obj, *sub;

	snprintf(buf, sizeof(buf), "%s", path);
	while ((dot = strchr(p, '.')) != NULL) {
		*dot = '\0';
		sub = json_object_get(o, p);
		if (!json_is_object(sub)) {
			sub = json_object();
			json_object_set_new(o, p, sub);
		}
		o = sub;
		p = dot + 1;
	}
	json_object_set_new(o, p, val);
}

void
admin_join(json_t *arr, char *buf, size_t bufsz)
{
	size_t i, len = 0;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(arr, i, v) {
		int n = snprintf(buf + len, bufsz - len, "%s%s", i ? ", " : "",
		    json_string_value(v) ? json_string_value(v) : "?");

		if (n < 0 || (size_t)n >= bufsz - len)
			break;
		len += (size_t)n;
	}
}

json_t *
admin_path(json_t *obj, const char *path)
{
	char buf[128], *dot, *p = buf;
	json_t *o = obj;

	snprintf(buf, sizeof(buf), "%s", path);
	while (o && (dot = strchr(p, '.')) != NULL) {
		*dot = '\0';
		o = json_object_get(o, p);
		p = dot + 1;
	}
	return o ? json_object_get(o, p) : NULL;
}

static json_t *
flag_value(const struct aflag *f, const char *v)
{
	json_error_t je;
	json_t *j, *a;
	char *end, *s, *tok, *save;
	long long n;

	switch (f->type) {
	case AF_STR:
		return json_string(v);
	case AF_INT:
		n = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0')
			msg_die(MSG_EX_USAGE, "--%s: \"%s\" is not an integer",
			    f->flag, v);
		return json_integer(n);
	case AF_BOOL:
		if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on")
		    || !strcmp(v, "1"))
			return json_true();
		if (!strcmp(v, "no") || !strcmp(v, "false") ||
		    !strcmp(v, "off") || !strcmp(v, "0"))
			return json_false();
		msg_die(MSG_EX_USAGE, "--%s: say yes or no", f->flag);
	case AF_LIST:
		a = json_array();
		if ((s = strdup(v)) == NULL)
			msg_die(MSG_EX_REFUSED, "out of memory");
		for (tok = strtok_r(s, ",", &save); tok;
		    tok = strtok_r(NULL, ",", &save))
			json_array_append_new(a, json_string(tok));
		free(s);
		return a;
	case AF_JSON:
		if ((j = json_loads(v, JSON_DECODE_ANY, &je)) == NULL)
			msg_die(MSG_EX_USAGE, "--%s: bad JSON: %s", f->flag,
			    je.text);
		return j;
	case AF_FLAG:
		return json_true();
	}
	return NULL;
}

int
admin_flags(int argc, char **argv, int i, const struct aflag *tab,
    json_t *obj)
{
	int npos = 0, j;
	const struct aflag *f;
	json_t *v;

	for (j = i; j < argc; j++) {
		const char *a = argv[j];

		if (strcmp(a, "--") == 0) {
			for (j++; j < argc; j++)
				argv[i + npos++] = argv[j];
			break;
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			argv[i + npos++] = argv[j];
			continue;
		}
		for (f = tab; f && f->flag; f++)
			if (strcmp(f->flag, a + 2) == 0)
				break;
		if ((f == NULL || f->flag == NULL) &&
		    strcmp(a, "--json") == 0) {
			/* every command: JSON Lines even on a terminal */
			msg_json_force();
			continue;
		}
		if (f == NULL || f->flag == NULL)
			msg_die(MSG_EX_USAGE, "unknown option %s", a);
		if (f->type == AF_FLAG)
			v = flag_value(f, NULL);
		else {
			if (j + 1 >= argc)
				msg_die(MSG_EX_USAGE, "%s needs a value", a);
			v = flag_value(f, argv[++j]);
		}
		set_path(obj, f->field, v);
	}
	return npos;
}

static char *
cell(json_t *v)
{
	char *s;
	size_t i;
	json_t *e;

	if (v == NULL || json_is_null(v))
		return strdup("-");
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_true(v))
		return strdup("yes");
	if (json_is_false(v))
		return strdup("no");
	if (json_is_array(v)) {
		size_t len = 0;
		char *out = strdup(""), *c;

		json_array_foreach(v, i, e) {
			c = cell(e);
			out = realloc(out, len + strlen(c) + 2);
			if (i)
				out[len++] = ',';
			strcpy(out + len, c);
			len += strlen(c);
			free(c);
		}
		return out;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	return s ? s : strdup("?");
}

void
admin_print_items(json_t *items, const char *const *cols)
{
	size_t i, c, ncols = 0, *w;
	json_t *it;
	char ***cells;

	if (!msg_stdout_tty() || cols == NULL) {
		json_array_foreach(items, i, it) {
			char *s = json_dumps(it, JSON_COMPACT |
			    JSON_PRESERVE_ORDER);

			if (s) {
				msg_out_line(s);
				free(s);
			}
		}
		msg_out_flush();
		return;
	}
	while (cols[ncols])
		ncols++;
	w = calloc(ncols, sizeof(*w));
	cells = calloc(json_array_size(items) + 1, sizeof(*cells));
	for (c = 0; c < ncols; c++)
		w[c] = strlen(cols[c]);
	json_array_foreach(items, i, it) {
		cells[i] = calloc(ncols, sizeof(char *));
		for (c = 0; c < ncols; c++) {
			size_t cw;

			cells[i][c] = cell(admin_path(it, cols[c]));
			cw = msg_text_cols(cells[i][c], strlen(cells[i][c]));
			if (cw > 40)
				cw = 40;
			if (cw > w[c])
				w[c] = cw;
		}
	}
	for (c = 0; c < ncols; c++) {
		const char *h = strrchr(cols[c], '.') ? strrchr(cols[c], '.') +
		    1 : cols[c];
		size_t k;

		for (k = 0; h[k]; k++)
			putchar(h[k] >= 'a' && h[k] <= 'z' ? h[k] - 32 : h[k]);
		if (c + 1 < ncols)
			printf("%*s", (int)(w[c] - strlen(h) + 2), "");
	}
	putchar('\n');
	for (i = 0; i < json_array_size(items); i++) {
		for (c = 0; c < ncols; c++) {
			size_t cw = msg_term_text(stdout, cells[i][c],
			    strlen(cells[i][c]), 40, 0, 1);

			if (c + 1 < ncols)
				printf("%*s", (int)(w[c] - cw + 2), "");
			free(cells[i][c]);
		}
		putchar('\n');
		free(cells[i]);
	}
	free(cells);
	free(w);
	msg_out_flush();
}

int
admin_list(const char *kind, json_t *args, const char *const *cols)
{
	struct busc c;
	json_t *res, *all = json_array(), *a;
	const char *next;

	if (args == NULL)
		args = json_object();
	admin_connect(&c);
	for (;;) {
		a = json_deep_copy(args);
		res = admin_call_on(&c, kind, "list", a);
		json_array_extend(all, json_object_get(res, "items"));
		if (!json_is_true(json_object_get(res, "more")) ||
		    (next = json_string_value(json_object_get(res,
		    "next"))) == NULL) {
			json_decref(res);
			break;
		}
		json_object_set_new(args, "after", json_string(next));
		json_decref(res);
		if (!msg_stdout_tty()) {
			/* stream pages to pipes rather than holding them */
			admin_print_items(all, NULL);
			json_array_clear(all);
		}
	}
	busc_close(&c);
	admin_print_items(all, cols);
	json_decref(all);
	json_decref(args);
	return MSG_EX_OK;
}

void
admin_print_doc(json_t *doc)
{
	char *s = json_dumps(doc, JSON_PRESERVE_ORDER | (msg_stdout_tty() ?
	    JSON_INDENT(2) : JSON_COMPACT));

	if (s) {
		msg_out_line(s);
		free(s);
	}
	msg_out_flush();
}

int
admin_confirm(const char *prompt)
{
	FILE *tty;
	char line[16] = "";
	int yes;

	if ((tty = fopen("/dev/tty", "r+")) == NULL)
		return 0;
	fprintf(tty, "%s [y/N] ", prompt);
	fflush(tty);
	if (fgets(line, sizeof(line), tty) == NULL)
		line[0] = '\0';
	fclose(tty);
	yes = line[0] == 'y' || line[0] == 'Y';
	return yes;
}

void
admin_res_deleted(const char *what, json_t *res)
{
	json_t *used = json_object_get(res, "used_by"), *e;
	const char *name = json_string_value(json_object_get(res, "deleted"));
	char *list = NULL;
	size_t i, len = 0;

	admin_print_doc(res);
	if (json_array_size(used) == 0)
		return;
	json_array_foreach(used, i, e) {
		const char *s = json_string_value(e);
		size_t n = s ? strlen(s) : 0;

		if ((list = realloc(list, len + n + 3)) == NULL)
			msg_die(MSG_EX_REFUSED, "out of memory");
		if (i) {
			memcpy(list + len, ", ", 2);
			len += 2;
		}
		memcpy(list + len, s ? s : "", n);
		len += n;
		list[len] = '\0';
	}
	msg_err("deleted %s%s; it was used by: %s", what, name ? name : "?",
	    list);
	free(list);
}

void
admin_res_assigned(json_t *res)
{
	const char *camp = json_string_value(json_object_get(res, "campaign"));
	int on = json_is_true(json_object_get(res, "assigned"));
	const char *k;
	json_t *v;

	admin_print_doc(res);
	if (json_is_true(json_object_get(res, "changed")))
		return;
	json_object_foreach(res, k, v) {
		if (strcmp(k, "campaign") && json_is_string(v)) {
			msg_err("%s was %s assigned to campaign %s; nothing "
			    "changed", json_string_value(v), on ? "already" :
			    "not", camp ? camp : "?");
			return;
		}
	}
}

char *
admin_file(const char *path, size_t max)
{
	FILE *fp;
	char *buf;
	size_t n;

	if (strcmp(path, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(path, "r")) == NULL)
		msg_die(MSG_EX_REFUSED, "%s: %s", path, strerror(errno));
	if ((buf = malloc(max + 2)) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	n = fread(buf, 1, max + 1, fp);
	if (ferror(fp))
		msg_die(MSG_EX_REFUSED, "%s: %s", path, strerror(errno));
	if (fp != stdin)
		fclose(fp);
	if (n > max)
		msg_die(MSG_EX_REFUSED, "%s: over %zu bytes", path, max);
	if (memchr(buf, '\0', n))
		msg_die(MSG_EX_REFUSED, "%s: has a NUL byte; is it text?", path);
	buf[n] = '\0';
	return buf;
}

void
admin_line_err(json_t *errs, long line, const char *reason)
{
	json_array_append_new(errs, json_pack("{s:I,s:s}", "line",
	    (json_int_t)line, "reason", reason));
}

void
admin_line_errs(json_t *a, json_t *b, size_t *shown, size_t max)
{
	size_t i = 0, j = 0;
	json_t *e;

	while (i < json_array_size(a) || j < json_array_size(b)) {
		json_t *x = json_array_get(a, i), *y = json_array_get(b, j);

		if (y == NULL || (x && json_integer_value(json_object_get(x,
		    "line")) <= json_integer_value(json_object_get(y,
		    "line")))) {
			e = x;
			i++;
		} else {
			e = y;
			j++;
		}
		if (shown != NULL && (*shown)++ >= max)
			continue;
		msg_err("import: line %lld: %s", (long long)json_integer_value(
		    json_object_get(e, "line")), json_string_value(
		    json_object_get(e, "reason")));
	}
}
