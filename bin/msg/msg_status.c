/*
 * msg status — the caller's own agent state: "msg status available",
 * "msg status break lunch", "msg status busy", "msg status offline", or any
 * status of the catalogue (msg statusdef) with an optional reason.  Without
 * arguments it shows the current state and how long the agent has been in
 * it.  Going available makes the agent eligible for offers at once; any
 * other state stops new offers (conversations already held stay).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "daemon.h"
#include "rec.h"
#include "valid.h"
#include "msg.h"

#define REASON_MAX	200

int
msg_status(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *args, *res;
	char reason[REASON_MAX * 4 + 1] = "", err[160], when[32], d[32];
	const char *st, *kind, *why;
	int64_t since;
	size_t n = 0;
	int ch, json = 0, i;

	while ((ch = getopt_long(argc, argv, "+jh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		default:
			msg_usage();
		}
	}
	args = json_object();
	if (optind < argc) {
		if (!valid_name(argv[optind], "status", err, sizeof(err)))
			msg_die(MSG_EX_USAGE, "%s (available, break, busy, "
			    "offline or a status of msg statusdef list)", err);
		json_object_set_new(args, "status", json_string(argv[optind]));
		for (i = optind + 1; i < argc; i++) {
			if (n + strlen(argv[i]) + 2 > sizeof(reason))
				msg_die(MSG_EX_USAGE, "the reason is too long "
				    "(at most %d characters)", REASON_MAX);
			n += snprintf(reason + n, sizeof(reason) - n, "%s%s",
			    n ? " " : "", argv[i]);
		}
		if (n > 0) {
			if (!valid_text(reason, REASON_MAX, "reason", err,
			    sizeof(err)))
				msg_die(MSG_EX_USAGE, "%s", err);
			json_object_set_new(args, "reason",
			    json_string(reason));
		}
	}
	res = msg_work_call("status", args);
	if (json || !msg_stdout_tty()) {
		msg_work_print(res);
		json_decref(res);
		return MSG_EX_OK;
	}
	st = rec_str(res, "status", NULL);
	kind = rec_str(res, "kind", NULL);
	why = rec_str(res, "reason", NULL);
	printf("%s: %s", rec_str(res, "agent", "you"), st ? st : "unknown");
	if (kind && st && strcmp(kind, st) != 0)
		printf(" (%s)", kind);
	if (why && *why) {
		fputs(": ", stdout);
		msg_term_text(stdout, why, strlen(why), 60, 0, 1);
	}
	if (rec_ts_parse(rec_str(res, "since_ts", NULL), &since) == 0) {
		msg_local_time(since, when);
		msg_duration(daemon_now_ms() - since, d, sizeof(d));
		printf(", since %s (%s)", when, d);
	}
	putchar('\n');
	json_decref(res);
	return MSG_EX_OK;
}
