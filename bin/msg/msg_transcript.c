/*
 * msg transcript — every event of one conversation, oldest first.
 *
 * A subscription to routerd's event log filtered by conversation, from the
 * beginning and without following.  On a pipe (or with --json) the events
 * are JSON Lines exactly as msg tail prints them; on a terminal they read as
 * a chat, one line per event with the local time, a direction arrow for
 * messages ("<" from the customer, ">" to them) and the delivery statuses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mp.h"
#include "msg.h"
#include "rec.h"

#define TIME_COLS	19	/* "2026-11-21 10:00:00" */

/* Print string field k (sanitised), or dflt when absent; returns cols. */
static size_t
put_field(const msgpack_object *r, const char *k, const char *dflt)
{
	const char *s;
	size_t n;

	if (!mp_str(r, k, &s, &n)) {
		if (dflt == NULL)
			return 0;
		s = dflt;
		n = strlen(dflt);
	}
	return msg_term_text(stdout, s, n, 0, 0, 1);
}

static void
emit_term(uint64_t seq, const msgpack_object *r, void *arg)
{
	char when[32];
	const char *s, *dir = "";
	size_t n;
	int64_t ts;

	if (mp_int(r, "ts", &ts))
		msg_local_time(ts, when);
	else
		snprintf(when, sizeof(when), "%-*s", TIME_COLS, "-");
	fputs(when, stdout);
	if (mp_get(r, "type") && mp_streq(mp_get(r, "type"), "message")) {
		if (mp_str(r, "dir", &s, &n) && n == 2 &&
		    memcmp(s, "in", 2) == 0)
			dir = "in";
		fputs(*dir ? " < " : " > ", stdout);
		put_field(r, "contact", "?");
		if (*dir && mp_str(r, "name", &s, &n) && n > 0) {
			fputs(" (", stdout);
			msg_term_text(stdout, s, n, 32, 0, 1);
			putchar(')');
		}
		fputs(": ", stdout);
		if (mp_str(r, "text", &s, &n))
			msg_term_text(stdout, s, n, 0, TIME_COLS + 3, 0);
		else if (mp_str(r, "type", &s, &n))
			fputs("(media)", stdout);
		if (mp_str(r, "status", &s, &n)) {
			fputs(" [", stdout);
			msg_term_text(stdout, s, n, 32, 0, 1);
			putchar(']');
		}
	} else if (mp_get(r, "type") && mp_streq(mp_get(r, "type"),
	    "status")) {
		fputs(" * ", stdout);
		put_field(r, "id", "?");
		putchar(' ');
		put_field(r, "status", "?");
		if (mp_str(r, "code", &s, &n) || mp_str(r, "reason", &s, &n)) {
			fputs(" (", stdout);
			if (put_field(r, "code", NULL) > 0 &&
			    mp_str(r, "reason", &s, &n))
				fputs(": ", stdout);
			put_field(r, "reason", NULL);
			putchar(')');
		}
	} else if (mp_get(r, "type") && mp_streq(mp_get(r, "type"), "conv")) {
		fputs(" * conversation ", stdout);
		put_field(r, "status", "?");
		fputs(": ", stdout);
		put_field(r, "channel", "?");
		putchar(' ');
		put_field(r, "contact", "?");
		if (mp_str(r, "addr", &s, &n)) {
			fputs(" with ", stdout);
			msg_term_text(stdout, s, n, 0, 0, 1);
		}
	} else {
		fputs(" * ", stdout);
		put_field(r, "type", "event");
	}
	putchar('\n');
}

int
msg_transcript(int argc, char **argv)
{
	struct msg_sub s;
	int json;

	json = msg_json_opt(argc, argv);
	if (argc - optind != 1 || argv[optind][0] == '\0')
		msg_usage();
	memset(&s, 0, sizeof(s));
	s.follow = 0;
	s.since = 0;
	s.last = -1;
	s.conv = argv[optind];
	s.emit = json || !msg_stdout_tty() ? msg_sub_json : emit_term;
	return msg_sub_run(&s);
}
