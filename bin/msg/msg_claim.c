/*
 * msg claim — take a waiting or offered conversation: it becomes the
 * caller's, routerd stops offering it elsewhere, and the customer's next
 * messages reach this agent.  Under the manual strategy this is how agents
 * pick work from the queue.
 *
 * Also holds msg_conv_arg, the conversation-id check every agent workspace
 * command shares.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "msg.h"

const char *
msg_conv_arg(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 3 || n > 31 || strncmp(s, "c_", 2) != 0)
		goto bad;
	for (i = 2; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
			goto bad;
	return s;
bad:
	msg_die(MSG_EX_USAGE, "\"%.64s\" is not a conversation id (c_...)", s);
}

int
msg_claim(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *res;
	const char *conv;
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
