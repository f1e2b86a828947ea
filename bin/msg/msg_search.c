/*
 * msg search — find conversations by the customer's name (any part of it,
 * case-insensitive) or number (all of it, or its last digits: "0100" finds
 * +15555550100), or by conversation id.  Agents find only conversations of
 * their campaigns.  Output as msg history(1): a table on a terminal, the
 * conversation records as JSON Lines otherwise.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "msg.h"

int
msg_search(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char q[128] = "", *end;
	json_t *args;
	long limit = 0;
	size_t n = 0;
	int ch, json = 0, i;

	while ((ch = getopt_long(argc, argv, "n:jh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			limit = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || limit < 1)
				msg_die(MSG_EX_USAGE, "--limit: \"%s\" is not "
				    "a positive number", optarg);
			break;
		case 'j':
			json = 1;
			break;
		default:
			msg_usage();
		}
	}
	if (optind == argc)
		msg_usage();
	/* "msg search Ada Lovelace" searches for the whole name */
	for (i = optind; i < argc; i++) {
		if (n + strlen(argv[i]) + 2 > sizeof(q))
			msg_die(MSG_EX_USAGE, "the search is too long (at most "
			    "%zu bytes)", sizeof(q) - 1);
		n += snprintf(q + n, sizeof(q) - n, "%s%s", n ? " " : "",
		    argv[i]);
	}
	if (strspn(q, " \t") == strlen(q))
		msg_die(MSG_EX_USAGE, "say what to search for: a name or a "
		    "number");
	args = json_pack("{s:s}", "q", q);
	if (limit > 0 && limit < 5000)
		json_object_set_new(args, "limit", json_integer(limit));
	return msg_convs_query("search", args, limit,
	    json || !msg_stdout_tty());
}
