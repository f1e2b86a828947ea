/*
 * msg statusdef — the catalogue of agent statuses (campaignd): each a name,
 * a kind (available, break, busy, offline) and the label agents see when
 * they choose one with msg status.  Nothing is seeded: an admin defines
 * the statuses the centre uses.
 */
#include <string.h>

#include "msg.h"
#include "msg_admin.h"

static const struct aflag flags[] = {
	{ "kind", "status_kind", AF_STR },
	{ "label", "label", AF_STR },
	{ NULL, NULL, 0 },
};

static const char *const cols[] = { "name", "kind", "label", NULL };

int
msg_statusdef(int argc, char **argv)
{
	const char *op;
	json_t *args = json_object(), *res;
	int npos;

	if (argc < 2)
		msg_usage();
	op = argv[1];
	npos = admin_flags(argc, argv, 2, flags, args);
	if (strcmp(op, "list") == 0) {
		if (npos != 0 || json_object_size(args) != 0)
			msg_usage();
		return admin_list("statusdef", args, cols);
	}
	if (npos != 1)
		msg_usage();
	json_object_set_new(args, "name", json_string(argv[2]));
	if (strcmp(op, "add") == 0) {
		if (!json_object_get(args, "status_kind") ||
		    !json_object_get(args, "label"))
			msg_die(MSG_EX_USAGE, "add needs --kind "
			    "available|break|busy|offline and --label");
	} else if (strcmp(op, "edit") == 0) {
		if (!json_object_get(args, "status_kind") &&
		    !json_object_get(args, "label"))
			msg_die(MSG_EX_USAGE, "edit needs --kind or --label");
	} else if (strcmp(op, "show") != 0 && strcmp(op, "delete") != 0)
		msg_usage();
	res = admin_call("statusdef", op, args);
	if (strcmp(op, "delete") == 0)
		admin_res_deleted("status ", res);
	else
		admin_print_doc(json_object_get(res, "doc"));
	json_decref(res);
	return MSG_EX_OK;
}
