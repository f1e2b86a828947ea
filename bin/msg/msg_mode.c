/*
 * msg mode — switch a conversation between its campaign's bot and the
 * agents.  "agent" hands a bot-mode conversation to the agent queue; "bot"
 * gives an agent-mode one back to the bot filter (msg bot).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "msg.h"

int
msg_mode(int argc, char **argv)
{
	json_t *res;
	const char *conv, *mode;
	int json;

	json = msg_json_opt(argc, argv);
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
