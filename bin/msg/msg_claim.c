/*
 * msg claim — take a waiting or offered conversation: it becomes the
 * caller's, routerd stops offering it elsewhere, and the customer's next
 * messages reach this agent.  Under the manual strategy this is how agents
 * pick work from the queue.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "msg.h"

int
msg_claim(int argc, char **argv)
{
	json_t *res;
	const char *conv;
	int json;

	json = msg_json_opt(argc, argv);
	if (argc - optind != 1)
		msg_usage();
	conv = msg_conv_arg(argv[optind]);
	res = msg_work_call("claim", json_pack("{s:s}", "conv", conv));
	if (json_object_get(res, "conv") == NULL)
		json_object_set_new(res, "conv", json_string(conv));
	if (json || !msg_stdout_tty())
		msg_work_print(res);
	else
		printf("%s is yours%s%s\n", conv,
		    json_is_string(json_object_get(res, "agent")) ? ", " : "",
		    json_is_string(json_object_get(res, "agent")) ?
		    json_string_value(json_object_get(res, "agent")) : "");
	json_decref(res);
	return MSG_EX_OK;
}
