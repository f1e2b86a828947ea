/*
 * msg tag — add and remove a conversation's tags: "msg tag CONV +vip -new"
 * (a bare TAG adds it too).  A conversation has at most 3 tags of at most 30
 * characters; routerd refuses a fourth with the ones it has.  Removals are
 * applied before additions, so "-old +new" swaps a tag in one request.
 * Without changes it prints the tags the conversation has.
 */
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "valid.h"
#include "msg.h"

int
msg_tag(int argc, char **argv)
{
	json_t *add, *del, *res, *tags, *t;
	const char *conv = NULL, *a;
	char err[160];
	int i, json = 0, opts = 1;
	size_t k;

	add = json_array();
	del = json_array();
	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (opts && strcmp(a, "--") == 0) {
			opts = 0;
			continue;
		}
		if (opts && strcmp(a, "--json") == 0) {
			json = 1;
			continue;
		}
		if (opts && (strcmp(a, "--help") == 0 || strncmp(a, "--",
		    2) == 0))
			msg_usage();
		if (conv == NULL) {
			conv = msg_conv_arg(a);
			continue;
		}
		if (*a == '+' || *a == '-')
			a++;
		if (!valid_tag(a, err, sizeof(err)))
			msg_die(MSG_EX_REFUSED, "%s", err);
		json_array_append_new(argv[i][0] == '-' ? del : add,
		    json_string(a));
	}
	if (conv == NULL)
		msg_usage();
	res = msg_work_call("tag", json_pack("{s:s,s:o,s:o}", "conv", conv,
	    "add", add, "remove", del));
	tags = json_object_get(res, "tags");
	if (!json_is_array(tags))
		msg_die(MSG_EX_UNREACH, "routerd: answer lacks tags");
	json_object_set_new(res, "conv", json_string(conv));
	if (json || !msg_stdout_tty())
		msg_work_print(res);
	else {
		fputs(conv, stdout);
		fputs(json_array_size(tags) ? ":" : ": no tags", stdout);
		json_array_foreach(tags, k, t) {
			putchar(k ? ',' : ' ');
			msg_term_text(stdout, json_string_value(t),
			    json_string_length(t), 0, 0, 1);
		}
		putchar('\n');
	}
	json_decref(res);
	return MSG_EX_OK;
}
