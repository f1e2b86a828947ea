/*
 * msg window --expiring DURATION — open WhatsApp, Messenger and Instagram
 * conversations whose customer-service window closes within DURATION
 * ("90s", "45m", "2h", "1d", or "1h30m"), soonest first: after that only
 * templates (WhatsApp) or human-agent tagged messages (Messenger) may be
 * sent, so this is the list to answer first.  SMS has no window.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "rec.h"
#include "msg.h"
#include "msg_admin.h"

#define WITHIN_MAX	(30LL * 24 * 3600 * 1000)

/* "90s", "45m", "2h", "1d", "1h30m" -> ms; -1 if not a duration. */
static int64_t
parse_dur(const char *s)
{
	int64_t total = 0, n, unit;
	char *end;

	if (*s == '\0')
		return -1;
	while (*s) {
		if (*s < '0' || *s > '9')
			return -1;
		n = strtoll(s, &end, 10);
		if (end == s || n > 100000000)
			return -1;
		switch (*end) {
		case 's': unit = 1000; break;
		case 'm': unit = 60 * 1000; break;
		case 'h': unit = 3600 * 1000; break;
		case 'd': unit = 86400 * 1000; break;
		default: return -1;
		}
		total += n * unit;
		if (total > WITHIN_MAX)
			return -2;
		s = end + 1;
	}
	return total;
}

static void
left_text(int64_t ms, char *buf, size_t sz)
{
	int64_t s = ms < 0 ? 0 : ms / 1000;

	if (s < 3600)
		snprintf(buf, sz, "%lldm%02llds", (long long)(s / 60),
		    (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, sz, "%lldh%02lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else
		snprintf(buf, sz, "%lldd%02lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
}

int
msg_window(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "expiring", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const cols[] = { "conv", "channel", "contact",
	    "name", "campaign", "agent", "closes", "left", NULL };
	json_t *res, *convs, *c, *rows, *row, *v;
	int64_t within = -1, closes;
	char when[32], left[32];
	size_t i;
	int ch, json = 0;

	while ((ch = getopt_long(argc, argv, "e:jh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			within = parse_dur(optarg);
			if (within == -2)
				msg_die(MSG_EX_USAGE, "--expiring: at most 30 "
				    "days");
			if (within <= 0)
				msg_die(MSG_EX_USAGE, "--expiring: \"%.32s\" "
				    "is not a duration (say 90s, 45m, 2h or "
				    "1d)", optarg);
			break;
		case 'j':
			json = 1;
			break;
		default:
			msg_usage();
		}
	}
	if (within <= 0 || optind != argc)
		msg_usage();
	res = msg_work_call("window", json_pack("{s:I}", "within_ms",
	    (json_int_t)within));
	convs = json_object_get(res, "convs");
	if (!json_is_array(convs))
		msg_die(MSG_EX_UNREACH, "routerd: answer lacks convs");
	if (json || !msg_stdout_tty()) {
		json_array_foreach(convs, i, c)
			msg_work_print(c);
	} else if (json_array_size(convs) == 0)
		msg_out_line("no window closes that soon");
	else {
		rows = json_array();
		json_array_foreach(convs, i, c) {
			v = json_object_get(c, "closes_ts");
			if (json_is_string(v) && rec_ts_parse(
			    json_string_value(v), &closes) == 0)
				msg_local_time(closes, when);
			else
				snprintf(when, sizeof(when), "-");
			left_text(json_integer_value(json_object_get(c,
			    "left_ms")), left, sizeof(left));
			row = json_deep_copy(c);
			json_object_set_new(row, "closes", json_string(when));
			json_object_set_new(row, "left", json_string(left));
			json_array_append_new(rows, row);
		}
		admin_print_items(rows, cols);
		json_decref(rows);
	}
	if (json_is_true(json_object_get(res, "more")))
		msg_err("more windows close within that time than were "
		    "listed; ask for a shorter time");
	json_decref(res);
	return MSG_EX_OK;
}
