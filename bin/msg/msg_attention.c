/*
 * msg attention — set or clear a conversation's needs-attention flag.
 * Flagged conversations head the inbox ("needs attention"); each change is
 * an "attention" event in the log.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "msg.h"

int
msg_attention(int argc, char **argv)
{
	json_t *res;
	const char *conv, *v;
	int json, on;

	json = msg_json_opt(argc, argv);
	if (argc - optind != 2)
		msg_usage();
	conv = msg_conv_arg(argv[optind]);
	v = argv[optind + 1];
	if (strcmp(v, "on") == 0)
		on = 1;
	else if (strcmp(v, "off") == 0)
		on = 0;
	else
		msg_die(MSG_EX_USAGE, "say on or off, not \"%.32s\"", v);
	res = msg_work_call("attention", json_pack("{s:s,s:b}", "conv", conv,
	    "on", on));
	json_object_set_new(res, "conv", json_string(conv));
	json_object_set_new(res, "attention", json_boolean(on));
	if (json || !msg_stdout_tty())
		msg_work_print(res);
	else
		printf("%s %s\n", conv, on ? "needs attention" :
		    "no longer needs attention");
	json_decref(res);
	return MSG_EX_OK;
}
