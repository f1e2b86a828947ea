/*
 * msg qa — quality models (campaignd): a name, a description and
 * categories of questions, each with a maximum score; show adds the totals
 * per category and for the model.  A whole model can be given as JSON with
 * --file.
 */
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "msg_admin.h"

#define QA_FILE_MAX	(512 * 1024)

static const struct aflag flags[] = {
	{ "description", "description", AF_STR },
	{ "file", "file", AF_STR },
	{ "name", "category", AF_STR },
	{ "category", "category", AF_STR },
	{ "text", "text", AF_STR },
	{ "max", "max_score", AF_INT },
	{ "number", "number", AF_INT },
	{ NULL, NULL, 0 },
};

static const char *const cols[] = { "name", "max_score", "questions",
	"description", NULL };

static int
is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* --file: {"description"?, "categories": [...]} or just the array. */
static void
load_file(json_t *args)
{
	const char *file = json_string_value(json_object_get(args, "file"));
	json_error_t je;
	json_t *j, *cats, *d;
	char *text;

	if (file == NULL)
		return;
	text = admin_file(file, QA_FILE_MAX);
	if ((j = json_loads(text, 0, &je)) == NULL)
		msg_die(MSG_EX_REFUSED, "%s: line %d: %s", file, je.line,
		    je.text);
	free(text);
	if (json_is_array(j))
		cats = j;
	else if (json_is_object(j) && json_is_array(cats =
	    json_object_get(j, "categories"))) {
		d = json_object_get(j, "description");
		if (json_is_string(d) &&
		    !json_object_get(args, "description"))
			json_object_set(args, "description", d);
	} else
		msg_die(MSG_EX_REFUSED, "%s: want an object with "
		    "\"categories\": [...], or that array", file);
	json_object_set(args, "categories", cats);
	json_object_del(args, "file");
	json_decref(j);
}

int
msg_qa(int argc, char **argv)
{
	const char *op;
	json_t *args = json_object(), *res;
	char sub[32];
	int npos, base = 2;

	if (argc < 2)
		msg_usage();
	op = argv[1];
	if (is(op, "category") || is(op, "question")) {
		if (argc < 3 || (!is(argv[2], "add") && !is(argv[2],
		    "delete")))
			msg_usage();
		snprintf(sub, sizeof(sub), "%s_%s", op, argv[2]);
		op = sub;
		base = 3;
	}
	npos = admin_flags(argc, argv, base, flags, args);
	if (is(op, "list")) {
		if (npos != 0 || json_object_size(args) != 0)
			msg_usage();
		return admin_list("qa", args, cols);
	}
	if (npos != 1)
		msg_usage();
	json_object_set_new(args, "name", json_string(argv[base]));
	if (is(op, "add") || is(op, "edit")) {
		load_file(args);
		if (is(op, "edit") && !json_object_get(args, "description") &&
		    !json_object_get(args, "categories"))
			msg_die(MSG_EX_USAGE, "edit needs --description or "
			    "--file");
	} else if (is(op, "category_add") || is(op, "category_delete")) {
		if (!json_object_get(args, "category"))
			msg_die(MSG_EX_USAGE, "--name CATEGORY is required");
	} else if (is(op, "question_add")) {
		if (!json_object_get(args, "category") ||
		    !json_object_get(args, "text") ||
		    !json_object_get(args, "max_score"))
			msg_die(MSG_EX_USAGE, "question add needs --category, "
			    "--text and --max");
	} else if (is(op, "question_delete")) {
		if (!json_object_get(args, "category") ||
		    !json_object_get(args, "number"))
			msg_die(MSG_EX_USAGE, "question delete needs "
			    "--category and --number");
	} else if (!is(op, "show") && !is(op, "delete"))
		msg_usage();
	res = admin_call("qa", op, args);
	if (is(op, "delete"))
		admin_res_deleted("quality model ", res);
	else
		admin_print_doc(json_object_get(res, "doc"));
	json_decref(res);
	return MSG_EX_OK;
}
