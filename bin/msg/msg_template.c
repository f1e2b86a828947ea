/*
 * msg template — message templates (campaignd): a unique name, a type
 * (text, richtext, html) and content, assigned to campaigns; and, under
 * "msg template wa", WhatsApp message templates by name and language with
 * their numbered {{n}} parameters.
 */
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "msg_admin.h"

#define TEMPLATE_FILE_MAX	(256 * 1024)

static const struct aflag flags[] = {
	{ "type", "type", AF_STR },
	{ "content", "content", AF_STR },
	{ "file", "file", AF_STR },
	{ "campaign", "campaign", AF_STR },
	{ NULL, NULL, 0 },
};

static const struct aflag waflags[] = {
	{ "lang", "language", AF_STR },
	{ "category", "category", AF_STR },
	{ "body", "body", AF_STR },
	{ "header", "header", AF_STR },
	{ "buttons", "buttons", AF_JSON },
	{ NULL, NULL, 0 },
};

static const char *const cols[] = { "name", "type", "content", NULL };
static const char *const wacols[] = { "name", "language", "category",
	"params", NULL };

static int
is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* msg template wa OP ... */
static int
template_wa(int argc, char **argv)
{
	const char *op;
	json_t *args = json_object(), *res;
	int npos;

	if (argc < 3)
		msg_usage();
	op = argv[2];
	npos = admin_flags(argc, argv, 3, waflags, args);
	if (is(op, "list")) {
		if (npos > 1)
			msg_usage();
		if (npos == 1)
			json_object_set_new(args, "name", json_string(argv[3]));
		return admin_list("wtemplate", args, wacols);
	}
	if (npos != 1)
		msg_usage();
	json_object_set_new(args, "name", json_string(argv[3]));
	if (is(op, "add")) {
		if (!json_object_get(args, "language") ||
		    !json_object_get(args, "category") ||
		    !json_object_get(args, "body"))
			msg_die(MSG_EX_USAGE, "wa add needs --lang, --category "
			    "and --body");
	} else if (is(op, "show")) {
		if (!json_object_get(args, "language"))
			msg_die(MSG_EX_USAGE, "--lang is required");
	} else if (!is(op, "delete"))
		msg_usage();
	res = admin_call("wtemplate", op, args);
	if (is(op, "delete"))
		admin_print_doc(res);
	else
		admin_print_doc(json_object_get(res, "doc"));
	json_decref(res);
	return MSG_EX_OK;
}

int
msg_template(int argc, char **argv)
{
	const char *op, *file;
	json_t *args, *res;
	char *content;
	int npos;

	if (argc < 2)
		msg_usage();
	if (is(argv[1], "wa"))
		return template_wa(argc, argv);
	op = argv[1];
	args = json_object();
	npos = admin_flags(argc, argv, 2, flags, args);
	if (is(op, "list")) {
		if (npos != 0)
			msg_usage();
		return admin_list("template", args, cols);
	}
	if (npos != 1)
		msg_usage();
	json_object_set_new(args, "name", json_string(argv[2]));
	if ((file = json_string_value(json_object_get(args, "file")))) {
		if (json_object_get(args, "content"))
			msg_die(MSG_EX_USAGE, "give --content or --file, not "
			    "both");
		content = admin_file(file, TEMPLATE_FILE_MAX);
		json_object_set_new(args, "content", json_string(content));
		json_object_del(args, "file");
		free(content);
		if (json_object_get(args, "content") == NULL)
			msg_die(MSG_EX_REFUSED, "%s: not valid UTF-8", file);
	}
	if (is(op, "add")) {
		if (!json_object_get(args, "type") ||
		    !json_object_get(args, "content"))
			msg_die(MSG_EX_USAGE, "add needs --type and --content "
			    "or --file");
	} else if (is(op, "edit")) {
		if (!json_object_get(args, "type") &&
		    !json_object_get(args, "content"))
			msg_die(MSG_EX_USAGE, "edit needs --type, --content or "
			    "--file");
	} else if (is(op, "assign") || is(op, "unassign")) {
		if (json_object_get(args, "campaign") == NULL)
			msg_die(MSG_EX_USAGE, "--campaign is required");
	} else if (!is(op, "show") && !is(op, "delete"))
		msg_usage();
	res = admin_call("template", op, args);
	if (is(op, "delete"))
		admin_res_deleted("template ", res);
	else if (is(op, "assign") || is(op, "unassign"))
		admin_res_assigned(res);
	else
		admin_print_doc(json_object_get(res, "doc"));
	json_decref(res);
	return MSG_EX_OK;
}
