/*
 * msg holiday — global holidays (campaignd): every campaign is closed on
 * them.  Also the smallest example of an admin command group.
 */
#include <string.h>

#include "msg.h"
#include "msg_admin.h"

static const struct aflag flags[] = {
	{ "date", "date", AF_STR },
	{ NULL, NULL, 0 },
};

static const char *const cols[] = { "name", "date", NULL };

int
msg_holiday(int argc, char **argv)
{
	const char *op;
	json_t *args = json_object(), *res;
	int npos;

	if (argc < 2)
		msg_usage();
	op = argv[1];
	npos = admin_flags(argc, argv, 2, flags, args);
	if (strcmp(op, "list") == 0) {
		if (npos != 0)
			msg_usage();
		return admin_list("holiday", args, cols);
	}
	if (npos != 1)
		msg_usage();
	json_object_set_new(args, "name", json_string(argv[2]));
	if (strcmp(op, "add") == 0 || strcmp(op, "edit") == 0) {
		if (json_object_get(args, "date") == NULL)
			msg_die(MSG_EX_USAGE, "--date YYYY-MM-DD is required");
	} else if (strcmp(op, "show") != 0 && strcmp(op, "delete") != 0)
		msg_usage();
	res = admin_call("holiday", op, args);
	if (json_object_get(res, "doc"))
		admin_print_doc(json_object_get(res, "doc"));
	json_decref(res);
	return MSG_EX_OK;
}
