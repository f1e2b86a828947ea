/*
 * msg close — close a conversation, with a disposition from the campaign's
 * tree (required when the campaign says so).  The agent's slot is freed and
 * the campaign's wrap-up time starts; the conversation stays in the history.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "msg.h"

int
msg_close(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "disposition", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *args, *res;
	const char *conv, *disp = NULL;
	int ch, json = 0;

	while ((ch = getopt_long(argc, argv, "d:jh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if (*optarg == '\0' || strlen(optarg) > 190)
				msg_die(MSG_EX_USAGE, "--disposition: give a "
				    "path such as Sale/Won/Upsell");
			disp = optarg;
			break;
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
	args = json_pack("{s:s}", "conv", conv);
	if (disp)
		json_object_set_new(args, "disposition", json_string(disp));
	res = msg_work_call("close", args);
	json_object_set_new(res, "conv", json_string(conv));
	json_object_set_new(res, "status", json_string("closed"));
	if (disp && json_object_get(res, "disposition") == NULL)
		json_object_set_new(res, "disposition", json_string(disp));
	if (json || !msg_stdout_tty())
		msg_work_print(res);
	else
		printf("%s closed%s%s\n", conv, disp ? " as " : "",
		    disp ? disp : "");
	json_decref(res);
	return MSG_EX_OK;
}
