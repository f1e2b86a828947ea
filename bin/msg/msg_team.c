/*
 * msg team — teams of agents (campaignd): a name, a description and the
 * member defaults (penalty, receive, create) its agents have in the
 * campaigns it works.  Agents list the teams they belong to (msg agent
 * --teams) and campaigns the teams that work them; deleting a team takes
 * it out of both and says where it was used.
 */
#include <stdio.h>
#include <string.h>

#include "msg.h"
#include "msg_admin.h"

static const struct aflag flags[] = {
	{ "description", "description", AF_STR },
	{ "penalty", "penalty", AF_INT },
	{ "receive", "receive", AF_BOOL },
	{ "create", "create", AF_BOOL },
	{ NULL, NULL, 0 },
};

static const struct aflag no_flags[] = {
	{ NULL, NULL, 0 },
};

static const char *const cols[] = { "name", "description", "penalty",
    "receive", "create", "agents", NULL };

/* "a, b, c" from an array of strings. */
int
msg_team(int argc, char **argv)
{
	const char *op;
	json_t *args = json_object(), *res, *camps, *agents;
	char c[1024], a[1024];
	int npos;

	if (argc < 2)
		msg_usage();
	op = argv[1];
	if (strcmp(op, "list") != 0 && strcmp(op, "show") != 0 &&
	    strcmp(op, "add") != 0 && strcmp(op, "edit") != 0 &&
	    strcmp(op, "delete") != 0)
		msg_usage();
	npos = admin_flags(argc, argv, 2, strcmp(op, "add") == 0 ||
	    strcmp(op, "edit") == 0 ? flags : no_flags, args);
	if (strcmp(op, "list") == 0) {
		if (npos != 0)
			msg_usage();
		return admin_list("team", args, cols);
	}
	if (npos != 1)
		msg_usage();
	json_object_set_new(args, "name", json_string(argv[2]));
	if (strcmp(op, "edit") == 0 && json_object_size(args) == 1)
		msg_die(MSG_EX_USAGE, "--description, --penalty, --receive or "
		    "--create is required");
	res = admin_call("team", op, args);
	if (json_object_get(res, "doc"))
		admin_print_doc(json_object_get(res, "doc"));
	camps = json_object_get(res, "used_by");
	agents = json_object_get(res, "agents");
	if (json_array_size(camps) > 0 || json_array_size(agents) > 0) {
		admin_join(camps, c, sizeof(c));
		admin_join(agents, a, sizeof(a));
		msg_err("deleted %s; it was used by: %s%s%s", argv[2],
		    json_array_size(camps) ? c : "no campaign",
		    json_array_size(agents) ? "; listed by agents: " : "",
		    json_array_size(agents) ? a : "");
	}
	json_decref(res);
	return MSG_EX_OK;
}
