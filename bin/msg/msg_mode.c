/*
 * msg mode — switch a conversation between its campaign's bot and the
 * agents.  "agent" hands a bot-mode conversation to the agent queue; "bot"
 * gives an agent-mode one back to the bot filter (msg bot).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "msg.h"

int
msg_mode(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *res;
	const char *conv, *mode;
	int ch, json = 0;

	while ((ch = getopt_long(argc, argv, "jh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		default:
			msg_usage();
		}
	}
	if (argc - optind != 2)
		msg_usage();
	conv = msg_conv_arg(argv[optind]);
	mode = argv[optind + 1];
	if (strcmp(mode, "bot") != 0 && strcmp(mode, "agent") != 0)
		msg_die(MSG_EX_USAGE, "say bot or agent, not \"%.32s\"", mode);
	res = msg_work_call("mode", json_pack("{s:s,s:s}", "conv", conv,
	    "mode", mode));
	json_object_set_new(res, "conv", json_string(conv));
	json_object_set_new(res, "mode", json_string(mode));
	if (json || !msg_stdout_tty())
		msg_work_print(res);
	else
		printf("%s is now %s-operated\n", conv, mode);
	json_decref(res);
	return MSG_EX_OK;
}
