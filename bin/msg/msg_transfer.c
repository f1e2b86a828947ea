/*
 * msg transfer — hand a conversation to another agent, or to another
 * campaign's queue.  The caller's slot is freed; routerd records a
 * "transfer" event saying from whom to whom.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "valid.h"
#include "msg.h"

int
msg_transfer(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "campaign", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *args, *res;
	const char *conv, *to = NULL, *camp = NULL;
	char err[160];
	int ch, json = 0;

	while ((ch = getopt_long(argc, argv, "t:C:jh", lopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (!valid_name(optarg, "agent name", err, sizeof(err)))
				msg_die(MSG_EX_USAGE, "--to: %s", err);
			to = optarg;
			break;
		case 'C':
			if (!valid_name(optarg, "campaign name", err,
			    sizeof(err)))
				msg_die(MSG_EX_USAGE, "--campaign: %s", err);
			camp = optarg;
			break;
		case 'j':
			json = 1;
			break;
		default:
			msg_usage();
		}
	}
	if (argc - optind != 1 || (to == NULL) == (camp == NULL))
		msg_usage();
	conv = msg_conv_arg(argv[optind]);
	args = json_pack("{s:s}", "conv", conv);
	if (to)
		json_object_set_new(args, "agent", json_string(to));
	else
		json_object_set_new(args, "campaign", json_string(camp));
	res = msg_work_call("transfer", args);
	json_object_set_new(res, "conv", json_string(conv));
	json_object_set_new(res, to ? "agent" : "campaign",
	    json_string(to ? to : camp));
	if (json || !msg_stdout_tty())
		msg_work_print(res);
	else
		printf("%s transferred to %s%s\n", conv, to ? "" :
		    "campaign ", to ? to : camp);
	json_decref(res);
	return MSG_EX_OK;
}
