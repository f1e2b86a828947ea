/*
 * msg member — the agents of a campaign (campaignd), in position order,
 * each with a penalty and whether it receives and/or creates interactions.
 * Positions are always 1..n: adding at a position, removing and reordering
 * shift the others.  "copy" gives one campaign the members of another.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "busc.h"
#include "msg.h"
#include "msg_admin.h"

static const struct aflag edit_flags[] = {
	{ "position", "position", AF_INT },
	{ "penalty", "penalty", AF_INT },
	{ "receive", "receive", AF_BOOL },
	{ "create", "create", AF_BOOL },
	{ NULL, NULL, 0 },
};

static const struct aflag reorder_flags[] = {
	{ "position", "position", AF_INT },
	{ NULL, NULL, 0 },
};

static const struct aflag no_flags[] = {
	{ NULL, NULL, 0 },
};

/* Table columns; "pos" is position under a short head. */
static const char *const cols[] = { "pos", "agent", "penalty", "receive",
    "create", "role", "via", NULL };

/* Every page of a campaign's members, in position order. */
static int
list(const char *campaign)
{
	struct busc c;
	json_t *all = json_array(), *res, *args, *m;
	const char *next = NULL;
	char after[32] = "";
	size_t i;

	admin_connect(&c);
	for (;;) {
		args = json_pack("{s:s}", "campaign", campaign);
		if (*after)
			json_object_set_new(args, "after", json_string(after));
		res = admin_call_on(&c, "member", "list", args);
		json_array_extend(all, json_object_get(res, "items"));
		next = json_is_true(json_object_get(res, "more")) ?
		    json_string_value(json_object_get(res, "next")) : NULL;
		if (next)
			snprintf(after, sizeof(after), "%s", next);
		json_decref(res);
		if (next == NULL)
			break;
		if (!msg_stdout_tty()) {
			admin_print_items(all, NULL);
			json_array_clear(all);
		}
	}
	busc_close(&c);
	if (msg_stdout_tty())
		json_array_foreach(all, i, m)
			json_object_set(m, "pos", json_object_get(m,
			    "position"));
	admin_print_items(all, cols);
	json_decref(all);
	return MSG_EX_OK;
}

int
msg_member(int argc, char **argv)
{
	const struct aflag *tab = no_flags;
	const char *op;
	json_t *args = json_object(), *res;
	int npos, want;

	if (argc < 2)
		msg_usage();
	op = argv[1];
	if (strcmp(op, "add") == 0 || strcmp(op, "edit") == 0)
		tab = edit_flags;
	else if (strcmp(op, "reorder") == 0)
		tab = reorder_flags;
	else if (strcmp(op, "list") != 0 && strcmp(op, "remove") != 0 &&
	    strcmp(op, "copy") != 0)
		msg_usage();
	npos = admin_flags(argc, argv, 2, tab, args);
	want = strcmp(op, "list") == 0 ? 1 : 2;
	if (npos != want)
		msg_usage();
	if (strcmp(op, "list") == 0) {
		json_decref(args);
		return list(argv[2]);
	}
	if (strcmp(op, "copy") == 0) {
		json_object_set_new(args, "from", json_string(argv[2]));
		json_object_set_new(args, "to", json_string(argv[3]));
	} else {
		json_object_set_new(args, "campaign", json_string(argv[2]));
		json_object_set_new(args, "agent", json_string(argv[3]));
	}
	if (strcmp(op, "reorder") == 0 && json_object_get(args, "position") ==
	    NULL)
		msg_die(MSG_EX_USAGE, "--position N is required");
	res = admin_call("member", op, args);
	if (json_object_get(res, "doc"))
		admin_print_doc(json_object_get(res, "doc"));
	else if (strcmp(op, "copy") == 0) {
		if (msg_stdout_tty())
			printf("copied %lld members from %s to %s (%lld were "
			    "there already)\n", json_integer_value(
			    json_object_get(res, "copied")), argv[2], argv[3],
			    json_integer_value(json_object_get(res, "kept")));
		else
			admin_print_doc(res);
	}
	json_decref(res);
	return MSG_EX_OK;
}
