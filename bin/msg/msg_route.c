/*
 * msg route --explain — why a conversation went (or would go) to whom: the
 * campaign's strategy, every member considered with its penalty, position,
 * status and the metric the strategy compared, why each skipped one was
 * skipped (capacity, status, wrap-up, penalty tier, permission), and the
 * decision.  A table on a terminal; routerd's answer as one JSON object
 * otherwise.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "msg.h"
#include "msg_admin.h"

/* A number or text value as a cell; "-" when absent. */
static json_t *
cellv(json_t *v)
{
	char buf[64];

	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld",
		    (long long)json_integer_value(v));
		return json_string(buf);
	}
	if (json_is_real(v)) {
		snprintf(buf, sizeof(buf), "%.3g", json_real_value(v));
		return json_string(buf);
	}
	if (json_is_string(v))
		return json_string(json_string_value(v));
	return json_string("-");
}

int
msg_route(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "explain", no_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const cols[] = { "agent", "penalty", "pos",
	    "status", "metric", "why", NULL };
	json_t *res, *cands, *c, *rows, *row;
	const char *conv, *s;
	char name[80];
	size_t i;
	int ch, json = 0, explain = 0;

	while ((ch = getopt_long(argc, argv, "ejh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			explain = 1;
			break;
		case 'j':
			json = 1;
			break;
		default:
			msg_usage();
		}
	}
	if (!explain || argc - optind != 1)
		msg_usage();
	conv = msg_conv_arg(argv[optind]);
	res = msg_work_call("route", json_pack("{s:s}", "conv", conv));
	if (json || !msg_stdout_tty()) {
		msg_work_print(res);
		json_decref(res);
		return MSG_EX_OK;
	}
	printf("%s  campaign %s  strategy %s\n", conv,
	    json_string_value(json_object_get(res, "campaign")) ?
	    json_string_value(json_object_get(res, "campaign")) : "?",
	    json_string_value(json_object_get(res, "strategy")) ?
	    json_string_value(json_object_get(res, "strategy")) : "?");
	cands = json_object_get(res, "candidates");
	if (json_array_size(cands) == 0)
		printf("no members\n");
	else {
		rows = json_array();
		json_array_foreach(cands, i, c) {
			s = json_string_value(json_object_get(c, "agent"));
			snprintf(name, sizeof(name), "%s%.64s",
			    json_is_true(json_object_get(c, "chosen")) ?
			    "* " : json_is_true(json_object_get(c,
			    "offered")) ? "+ " : "  ", s ? s : "?");
			row = json_object();
			json_object_set_new(row, "agent", json_string(name));
			json_object_set_new(row, "penalty",
			    cellv(json_object_get(c, "penalty")));
			json_object_set_new(row, "pos",
			    cellv(json_object_get(c, "position")));
			json_object_set_new(row, "status",
			    cellv(json_object_get(c, "status")));
			json_object_set_new(row, "metric",
			    cellv(json_object_get(c, "metric")));
			json_object_set_new(row, "why",
			    cellv(json_object_get(c, "why")));
			json_array_append_new(rows, row);
		}
		admin_print_items(rows, cols);
		json_decref(rows);
	}
	s = json_string_value(json_object_get(res, "decision"));
	if (s) {
		fputs("decision: ", stdout);
		msg_term_text(stdout, s, strlen(s), 0, 10, 0);
		putchar('\n');
	}
	json_decref(res);
	return MSG_EX_OK;
}
