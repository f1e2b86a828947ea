/*
 * msg transcript — every event of one conversation, oldest first.
 *
 * A subscription to routerd's event log filtered by conversation, from the
 * beginning and without following.  On a pipe (or with --json) the events
 * are JSON Lines exactly as msg tail prints them; on a terminal they read as
 * a chat, one line per event with the local time, a direction arrow for
 * messages ("<" from the customer, ">" to them, with who sent it; "(by
 * the page)" for what a Page sent from elsewhere), the delivery statuses (a
 * failure's code and its reason in words) and who did what ("offered to
 * ada", "assigned to bob (claim)", "refused (opted out)"); a reaction, an
 * edit or an unsend is shown on the message it names, quoted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mp.h"
#include "msg.h"
#include "rec.h"

#define TIME_COLS	19	/* "2026-11-21 10:00:00" */
#define SEEN_MAX	1024	/* messages remembered to name them later */
#define SEEN_TEXT	120	/* bytes of each kept */

/* The messages printed so far, so that a later reaction, edit or unsend
 * can say which one it is on (by its text). */
static struct seen {
	char	id[40];
	char	text[SEEN_TEXT];
	size_t	len;
} seen[SEEN_MAX];
static size_t nseen;

static size_t put_field(const msgpack_object *, const char *, const char *);

static void
seen_add(const msgpack_object *r)
{
	struct seen *e = &seen[nseen++ % SEEN_MAX];
	const char *s;
	size_t n;

	e->id[0] = '\0';
	e->len = 0;
	mp_strcpy(r, "id", e->id, sizeof(e->id));
	if (mp_str(r, "text", &s, &n)) {
		e->len = n < sizeof(e->text) ? n : sizeof(e->text);
		memcpy(e->text, s, e->len);
	}
}

/* " on \"text\"" for the message r names (its id), or its id. */
static void
put_on(const msgpack_object *r)
{
	char id[40] = "";
	size_t i;

	mp_strcpy(r, "id", id, sizeof(id));
	for (i = 0; i < SEEN_MAX && i < nseen; i++)
		if (id[0] && strcmp(seen[i].id, id) == 0) {
			fputs(" \"", stdout);
			msg_term_text(stdout, seen[i].text, seen[i].len, 40, 0,
			    1);
			putchar('"');
			return;
		}
	putchar(' ');
	put_field(r, "id", "?");
}

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

/* 1 when r's field k is the string v. */
static int
is_str(const msgpack_object *r, const char *k, const char *v)
{
	return mp_get(r, k) && mp_streq(mp_get(r, k), v);
}

/* " WORD FIELD" when r has string field k (sanitised). */
static void
put_opt(const msgpack_object *r, const char *word, const char *k)
{
	const char *s;
	size_t n;

	if (!mp_str(r, k, &s, &n) || n == 0)
		return;
	printf(" %s ", word);
	msg_term_text(stdout, s, n, 64, 0, 1);
}

/* "ada, bob" from r's array of strings k. */
static void
put_list(const msgpack_object *r, const char *k)
{
	const msgpack_object *a = mp_get(r, k);
	uint32_t i;

	if (a == NULL || a->type != MSGPACK_OBJECT_ARRAY)
		return;
	for (i = 0; i < a->via.array.size; i++) {
		if (a->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
			continue;
		if (i)
			fputs(", ", stdout);
		msg_term_text(stdout, a->via.array.ptr[i].via.str.ptr,
		    a->via.array.ptr[i].via.str.size, 64, 0, 1);
	}
}

/*
 * Who did what, in words, for the routing and work events: "offered to
 * ada, bob", "assigned to bob (claim)", "refused (opted out)", ...; 0 when
 * r is none of them.
 */
static int
put_action(const msgpack_object *r)
{
	int on;

	if (is_str(r, "type", "offer")) {
		fputs(" * offered to ", stdout);
		put_list(r, "agents");
	} else if (is_str(r, "type", "assign")) {
		fputs(" * assigned to ", stdout);
		put_field(r, "agent", "?");
		if (mp_get(r, "via")) {
			fputs(" (", stdout);
			put_field(r, "via", "?");
			putchar(')');
		}
	} else if (is_str(r, "type", "lapse")) {
		fputs(" * offer to ", stdout);
		put_field(r, "agent", "?");
		fputs(" lapsed", stdout);
	} else if (is_str(r, "type", "transfer")) {
		fputs(" * transferred", stdout);
		put_opt(r, "from", "from");
		put_opt(r, "to", "to");
		put_opt(r, "to campaign", "to_campaign");
		put_opt(r, "by", "by");
	} else if (is_str(r, "type", "close")) {
		fputs(" * closed", stdout);
		put_opt(r, "by", "agent");
		put_opt(r, "as", "disposition");
	} else if (is_str(r, "type", "refused")) {
		fputs(" * refused (", stdout);
		put_field(r, "reason", "?");
		putchar(')');
		put_opt(r, "for", "by");
	} else if (is_str(r, "type", "queue")) {
		fputs(" * waiting in ", stdout);
		put_field(r, "campaign", "?");
	} else if (is_str(r, "type", "attention")) {
		fputs(mp_bool(r, "on", &on) && !on ?
		    " * does not need attention" : " * needs attention",
		    stdout);
		put_opt(r, "by", "by");
		put_opt(r, "after", "reason");
	} else
		return 0;
	return 1;
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
		if (mp_str_is(r, "by", "page"))
			fputs(" (by the page)", stdout);
		else if (!*dir && (mp_str(r, "agent", &s, &n) ||
		    mp_str(r, "auto", &s, &n)) && n > 0) {
			fputs(" (by ", stdout);
			msg_term_text(stdout, s, n, 32, 0, 1);
			putchar(')');
		} else if (!*dir && mp_get(r, "bot") &&
		    mp_get(r, "bot")->type == MSGPACK_OBJECT_BOOLEAN &&
		    mp_get(r, "bot")->via.boolean)
			fputs(" (by the bot)", stdout);
		seen_add(r);
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
	} else if (mp_str_is(r, "type", "status") &&
	    mp_str_is(r, "status", "unsent")) {
		/* a tombstone: the customer took the message back */
		fputs(" * unsent by the customer:", stdout);
		put_on(r);
	} else if (mp_str_is(r, "type", "status") &&
	    mp_str_is(r, "status", "edited")) {
		const msgpack_object *ed = mp_get(mp_get(r, "data"), "edit");

		fputs(" * edited by the customer:", stdout);
		put_on(r);
		fputs(" is now: ", stdout);
		if (ed != NULL && mp_str(ed, "text", &s, &n))
			msg_term_text(stdout, s, n, 0, TIME_COLS + 3, 0);
	} else if (mp_str_is(r, "type", "reaction")) {
		if (mp_str_is(r, "action", "unreact"))
			fputs(" * reaction removed from", stdout);
		else {
			fputs(" * reaction ", stdout);
			put_field(r, "emoji", "?");
			fputs(" on", stdout);
		}
		put_on(r);
	} else if (mp_str_is(r, "type", "contact")) {
		fputs(" * the customer's number changed: ", stdout);
		put_field(r, "old", "?");
		fputs(" is now ", stdout);
		put_field(r, "contact", "?");
		if (mp_get(r, "followed") && mp_get(r, "followed")->type ==
		    MSGPACK_OBJECT_BOOLEAN && !mp_get(r, "followed")->via.boolean)
			fputs(" (not followed: another conversation has it)",
			    stdout);
	} else if (mp_get(r, "type") && mp_streq(mp_get(r, "type"),
	    "status")) {
		char st[16] = "", state[96];
		int64_t attempt = 0, next_ts = 0;

		fputs(" * ", stdout);
		put_field(r, "id", "?");
		putchar(' ');
		/* a send under way: "retrying (attempt 2, next try at ...)" */
		if (mp_strcpy(r, "status", st, sizeof(st)) &&
		    mp_int(r, "attempt", &attempt) && attempt > 0) {
			mp_int(r, "next_ts", &next_ts);
			msg_delivery_state(state, sizeof(state), st, attempt,
			    next_ts);
			fputs(state, stdout);
		} else
			put_field(r, "status", "?");
		/* the provider's code, and the reason in words (lib/provcode
		 * via routerd's "why"), else the provider's own */
		if (mp_str(r, "code", &s, &n) || mp_str(r, "reason", &s, &n)) {
			fputs(" (", stdout);
			if (put_field(r, "code", NULL) > 0 &&
			    (mp_get(r, "why") || mp_get(r, "reason")))
				fputs(": ", stdout);
			if (put_field(r, "why", NULL) == 0)
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
	} else if (!put_action(r)) {
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
	s.conv = msg_conv_arg(argv[optind]);
	s.emit = json || !msg_stdout_tty() ? msg_sub_json : emit_term;
	return msg_sub_run(&s);
}
