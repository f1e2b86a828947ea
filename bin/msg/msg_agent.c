/*
 * msg agent — the people who work in parley (campaignd): each agent is a
 * Unix login with a role (agent, supervisor or admin) and teams.  The role
 * decides what msg lets that login do; "msg agent whoami" says which one
 * the caller has.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "msg_admin.h"

static const struct aflag add_flags[] = {
	{ "user", "user", AF_STR },
	{ "role", "role", AF_STR },
	{ "teams", "teams", AF_LIST },
	{ NULL, NULL, 0 },
};

static const struct aflag list_flags[] = {
	{ "role", "role", AF_STR },
	{ "team", "team", AF_STR },
	{ "search", "search", AF_STR },
	{ NULL, NULL, 0 },
};

static const struct aflag delete_flags[] = {
	{ "force", "force", AF_FLAG },
	{ NULL, NULL, 0 },
};

static const struct aflag whoami_flags[] = {
	{ "json", "json", AF_FLAG },
	{ NULL, NULL, 0 },
};

static const struct aflag no_flags[] = {
	{ NULL, NULL, 0 },
};

static const char *const cols[] = { "name", "user", "role", "teams", NULL };

/* "a, b, c" from an array of strings. */
static int
whoami(json_t *args)
{
	json_t *res;
	const char *agent, *role, *who;
	char *s;
	int json = json_is_true(json_object_get(args, "json"));

	json_object_del(args, "json");
	res = admin_call("agent", "whoami", args);
	if (json) {
		if ((s = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER)) !=
		    NULL) {
			msg_out_line(s);
			free(s);
		}
	} else {
		agent = json_string_value(json_object_get(res, "agent"));
		role = json_string_value(json_object_get(res, "role"));
		who = json_string_value(json_object_get(res, "who"));
		if (agent)
			printf("%s (%s)\n", agent, role ? role : "?");
		else
			printf("%s (%s)\n", role ? role : "?", who ? who : "?");
	}
	json_decref(res);
	return MSG_EX_OK;
}

int
msg_agent(int argc, char **argv)
{
	const struct aflag *tab;
	const char *op;
	json_t *args = json_object(), *res;
	char list[1024];
	int npos;

	if (argc < 2)
		msg_usage();
	op = argv[1];
	if (strcmp(op, "add") == 0 || strcmp(op, "edit") == 0)
		tab = add_flags;
	else if (strcmp(op, "list") == 0)
		tab = list_flags;
	else if (strcmp(op, "delete") == 0)
		tab = delete_flags;
	else if (strcmp(op, "whoami") == 0)
		tab = whoami_flags;
	else if (strcmp(op, "show") == 0)
		tab = no_flags;
	else
		msg_usage();
	npos = admin_flags(argc, argv, 2, tab, args);
	if (strcmp(op, "whoami") == 0) {
		if (npos != 0)
			msg_usage();
		return whoami(args);
	}
	if (strcmp(op, "list") == 0) {
		if (npos != 0)
			msg_usage();
		return admin_list("agent", args, cols);
	}
	if (npos != 1)
		msg_usage();
	json_object_set_new(args, "name", json_string(argv[2]));
	if (strcmp(op, "add") == 0 && json_object_get(args, "user") == NULL)
		msg_die(MSG_EX_USAGE, "--user UNIXUSER is required");
	res = admin_call("agent", op, args);
	if (json_object_get(res, "doc"))
		admin_print_doc(json_object_get(res, "doc"));
	if (json_array_size(json_object_get(res, "used_by")) > 0) {
		admin_join(json_object_get(res, "used_by"), list,
		    sizeof(list));
		msg_err("deleted %s; it was a member of: %s", argv[2], list);
	}
	json_decref(res);
	return MSG_EX_OK;
}
