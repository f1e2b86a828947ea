/*
 * msg canned — canned responses (campaignd): a snippet, the shortcut an
 * agent types ("/hello"), and its text with {placeholders}.  They are
 * global; a campaign offers those assigned to it.
 *
 * This file also holds what the global-resource groups share (canned,
 * template, disposition, statusdef, qa): printing a delete's answer with
 * the campaigns that used the resource, an assignment's answer, and
 * reading a file given with --file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "msg_admin.h"

void
msg_res_deleted(const char *what, json_t *res)
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
msg_res_assigned(json_t *res)
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
msg_res_file(const char *path, size_t max)
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

static const struct aflag flags[] = {
	{ "text", "text", AF_STR },
	{ "campaign", "campaign", AF_STR },
	{ NULL, NULL, 0 },
};

static const char *const cols[] = { "snippet", "placeholders", "text",
	NULL };

int
msg_canned(int argc, char **argv)
{
	const char *op;
	json_t *args = json_object(), *res;
	int npos;

	if (argc < 2)
		msg_usage();
	op = argv[1];
	npos = admin_flags(argc, argv, 2, flags, args);
	if (strcmp(op, "list") == 0) {
		if (npos != 0 || json_object_get(args, "text"))
			msg_usage();
		return admin_list("canned", args, cols);
	}
	if (npos != 1)
		msg_usage();
	json_object_set_new(args, "name", json_string(argv[2]));
	if (strcmp(op, "add") == 0 || strcmp(op, "edit") == 0) {
		if (json_object_get(args, "text") == NULL)
			msg_die(MSG_EX_USAGE, "--text is required");
	} else if (strcmp(op, "assign") == 0 || strcmp(op, "unassign") == 0) {
		if (json_object_get(args, "campaign") == NULL)
			msg_die(MSG_EX_USAGE, "--campaign is required");
	} else if (strcmp(op, "show") != 0 && strcmp(op, "delete") != 0)
		msg_usage();
	res = admin_call("canned", op, args);
	if (strcmp(op, "delete") == 0)
		msg_res_deleted("/", res);
	else if (strcmp(op, "assign") == 0 || strcmp(op, "unassign") == 0)
		msg_res_assigned(res);
	else
		admin_print_doc(json_object_get(res, "doc"));
	json_decref(res);
	return MSG_EX_OK;
}
