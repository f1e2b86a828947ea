/*
 * msg canned — canned responses (campaignd): a snippet, the shortcut an
 * agent types ("/hello"), and its text with {placeholders}.  They are
 * global; a campaign offers those assigned to it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "msg_admin.h"

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
		admin_res_deleted("/", res);
	else if (strcmp(op, "assign") == 0 || strcmp(op, "unassign") == 0)
		admin_res_assigned(res);
	else
		admin_print_doc(json_object_get(res, "doc"));
	json_decref(res);
	return MSG_EX_OK;
}
