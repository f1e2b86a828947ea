/*
 * msg history — every conversation routerd keeps (the "recordings"),
 * filtered by date range, campaign, agent, contact, tag and status: the
 * paged query of msg_work.c, shown as an aligned table on a terminal, or
 * on a pipe (or with --json) as the stored conversation records in JSON
 * Lines, so `msg transcript` and jq can take them further.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "mp.h"
#include "rec.h"
#include "valid.h"
#include "msg.h"
#include "msg_admin.h"

int
msg_history(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "campaign", required_argument, NULL, 'C' },
		{ "agent", required_argument, NULL, 'a' },
		{ "contact", required_argument, NULL, 'x' },
		{ "tag", required_argument, NULL, 'g' },
		{ "status", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *args = json_object();
	int64_t from = 0, to = 0;
	long limit = 0;
	char *end;
	int ch, json = 0;

	while ((ch = getopt_long(argc, argv, "jh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
		case 't':
			if ((ch == 'f' ? (from = msg_parse_date(optarg, 0)) :
			    (to = msg_parse_date(optarg, 1))) < 0)
				msg_die(MSG_EX_USAGE, "--%s: \"%s\" is not a "
				    "date (YYYY-MM-DD, YYYY-MM-DD HH:MM or "
				    "RFC 3339)", ch == 'f' ? "from" : "to",
				    optarg);
			json_object_set_new(args, ch == 'f' ? "from" : "to",
			    json_integer(ch == 'f' ? from : to));
			break;
		case 'C':
			json_object_set_new(args, "campaign",
			    json_string(optarg));
			break;
		case 'a':
			json_object_set_new(args, "agent", json_string(optarg));
			break;
		case 'x':
			json_object_set_new(args, "contact",
			    json_string(optarg));
			break;
		case 'g':
			json_object_set_new(args, "tag", json_string(optarg));
			break;
		case 's':
			if (strcmp(optarg, "open") != 0 &&
			    strcmp(optarg, "closed") != 0)
				msg_die(MSG_EX_USAGE, "--status: say open or "
				    "closed");
			json_object_set_new(args, "status",
			    json_string(optarg));
			break;
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
	if (optind != argc)
		msg_usage();
	if (from && to && to <= from)
		msg_die(MSG_EX_USAGE, "--to must be later than --from");
	if (limit > 0 && limit < 5000)
		json_object_set_new(args, "limit", json_integer(limit));
	return msg_convs_query("history", args, limit,
	    json || !msg_stdout_tty());
}
