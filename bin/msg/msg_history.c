/*
 * msg history — every conversation routerd keeps (the "recordings"),
 * filtered by date range, campaign, agent, contact, tag and status.
 *
 * Also what the agent workspace commands share: one request to routerd
 * with its answer as JSON (times in RFC 3339), the paged conversation
 * query that history and search both run, and the conversation table.
 * On a terminal an aligned table; on a pipe (or with --json) the stored
 * conversation records as JSON Lines, so `msg transcript` and jq can take
 * them further.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "mp.h"
#include "rec.h"
#include "valid.h"
#include "msg.h"
#include "msg_admin.h"

json_t *
msg_work_call_on(struct busc *c, const char *t, json_t *args)
{
	struct fbuf fb;
	const msgpack_object *ans;
	const char *k;
	json_t *v, *res;
	int64_t id = busc_next_id(c);

	if (args) {
		json_object_del(args, "t");
		json_object_del(args, "id");
	}
	fbuf_init(&fb);
	fbuf_begin(&fb, 2 + (args ? json_object_size(args) : 0));
	mp_kv_str(&fb.pk, "t", t);
	mp_kv_int(&fb.pk, "id", id);
	if (args) {
		json_object_foreach(args, k, v) {
			mp_pack_cstr(&fb.pk, k);
			if (rec_pack_json(&fb.pk, v) == -1)
				msgpack_pack_nil(&fb.pk);
		}
	}
	if (fbuf_finish(&fb) == -1)
		msg_die(MSG_EX_USAGE, "request over 1 MiB");
	ans = msg_call(c, &fb, id);
	res = rec_record_json(ans);
	fbuf_free(&fb);
	json_decref(args);
	if (res == NULL || !json_is_object(res))
		msg_die(MSG_EX_UNREACH, "routerd: unreadable answer");
	json_object_del(res, "re");
	json_object_del(res, "ok");
	return res;
}

json_t *
msg_work_call(const char *t, json_t *args)
{
	struct busc c;
	json_t *res;

	msg_connect_or_die(&c, "routerd");
	res = msg_work_call_on(&c, t, args);
	busc_close(&c);
	return res;
}

void
msg_work_print(json_t *rec)
{
	char *s = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (s == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	msg_out_line(s);
	free(s);
}

/* "2026-11-21T10:00:00.123Z" -> local "2026-11-21 10:00"; "-" if none. */
static void
short_time(json_t *v, char *buf, size_t sz)
{
	int64_t ms;
	char full[32];

	if (!json_is_string(v) || rec_ts_parse(json_string_value(v), &ms) ==
	    -1) {
		snprintf(buf, sz, "-");
		return;
	}
	msg_local_time(ms, full);
	snprintf(buf, sz, "%.16s", full);
}

/* Tags as "a,b" whether stored as text or as a list. */
static void
tags_text(json_t *v, char *buf, size_t sz)
{
	size_t i, n = 0;
	json_t *t;

	buf[0] = '\0';
	if (json_is_string(v))
		snprintf(buf, sz, "%s", json_string_value(v));
	else if (json_is_array(v))
		json_array_foreach(v, i, t)
			if (json_is_string(t) && n < sz)
				n += snprintf(buf + n, sz - n, "%s%s",
				    n ? "," : "", json_string_value(t));
}

static const char *
str_or(json_t *o, const char *k, const char *dflt)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) && json_string_length(v) > 0 ?
	    json_string_value(v) : dflt;
}

void
msg_convs_print(json_t *convs, int json)
{
	static const char *const cols[] = { "conv", "opened", "campaign",
	    "channel", "contact", "name", "agent", "status", "tags", "last",
	    NULL };
	json_t *rows, *c, *row;
	char when[32], tags[200], last[300];
	size_t i;

	if (json) {
		json_array_foreach(convs, i, c)
			msg_work_print(c);
		return;
	}
	if (json_array_size(convs) == 0) {
		msg_out_line("no conversations");
		return;
	}
	rows = json_array();
	json_array_foreach(convs, i, c) {
		short_time(json_object_get(c, "opened_ts"), when, sizeof(when));
		tags_text(json_object_get(c, "tags"), tags, sizeof(tags));
		snprintf(last, sizeof(last), "%s%s",
		    strcmp(str_or(c, "last_dir", ""), "in") == 0 ? "< " :
		    strcmp(str_or(c, "last_dir", ""), "out") == 0 ? "> " : "",
		    str_or(c, "last_text", ""));
		row = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		    "conv", str_or(c, "conv", "?"), "opened", when,
		    "campaign", str_or(c, "campaign", "-"),
		    "channel", str_or(c, "channel", "-"),
		    "contact", str_or(c, "contact", "-"),
		    "name", str_or(c, "name", ""),
		    "agent", str_or(c, "agent", "-"),
		    "status", str_or(c, "status", "-"),
		    "tags", tags, "last", last);
		if (row == NULL)
			msg_die(MSG_EX_REFUSED, "out of memory");
		json_array_append_new(rows, row);
	}
	admin_print_items(rows, cols);
	json_decref(rows);
}

int
msg_convs_query(const char *t, json_t *args, long max, int json)
{
	struct busc c;
	json_t *res, *convs, *all, *cv, *next;
	long got = 0;
	size_t i;
	int more;

	msg_connect_or_die(&c, "routerd");
	all = json_array();
	do {
		res = msg_work_call_on(&c, t, json_deep_copy(args));
		convs = json_object_get(res, "convs");
		if (!json_is_array(convs))
			msg_die(MSG_EX_UNREACH, "routerd: answer lacks convs");
		json_array_foreach(convs, i, cv) {
			if (max > 0 && got == max)
				break;
			got++;
			if (json)
				msg_work_print(cv);
			else
				json_array_append(all, cv);
		}
		if (json)
			msg_out_flush();
		next = json_object_get(res, "next");
		more = json_is_true(json_object_get(res, "more")) &&
		    json_is_string(next) && (max <= 0 || got < max);
		if (more)
			json_object_set(args, "after", next);
		json_decref(res);
	} while (more);
	busc_close(&c);
	if (!json)
		msg_convs_print(all, 0);
	json_decref(all);
	json_decref(args);
	return MSG_EX_OK;
}

/*
 * A date for --from/--to: RFC 3339, "YYYY-MM-DD" (local midnight; for
 * --to the end of that day), or "YYYY-MM-DD HH:MM[:SS]" / "...THH:MM" in
 * local time.  Milliseconds since the epoch, or -1.
 */
int64_t
msg_parse_date(const char *s, int end_of_day)
{
	struct tm tm;
	const char *e;
	int64_t ms;
	time_t t;
	int y, m, d, i;
	static const char *const fmts[] = { "%Y-%m-%d %H:%M:%S",
	    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", NULL };

	if (rec_ts_parse(s, &ms) == 0)
		return ms;
	memset(&tm, 0, sizeof(tm));
	if (valid_date(s, &y, &m, &d)) {
		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = d + (end_of_day ? 1 : 0);
		tm.tm_isdst = -1;
		if ((t = mktime(&tm)) == (time_t)-1)
			return -1;
		return (int64_t)t * 1000;
	}
	for (i = 0; fmts[i]; i++) {
		memset(&tm, 0, sizeof(tm));
		if ((e = strptime(s, fmts[i], &tm)) != NULL && *e == '\0')
			break;
	}
	if (fmts[i] == NULL)
		return -1;
	tm.tm_isdst = -1;
	if ((t = mktime(&tm)) == (time_t)-1)
		return -1;
	return (int64_t)t * 1000;
}

int
msg_history(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "campaign", required_argument, NULL, 'C' },
		{ "agent", required_argument, NULL, 'a' },
		{ "contact", required_argument, NULL, 'x' },
		{ "tag", required_argument, NULL, 'g' },
		{ "status", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *args = json_object();
	int64_t from = 0, to = 0;
	long limit = 0;
	char *end;
	int ch, json = 0;

	while ((ch = getopt_long(argc, argv, "jh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
		case 't':
			if ((ch == 'f' ? (from = msg_parse_date(optarg, 0)) :
			    (to = msg_parse_date(optarg, 1))) < 0)
				msg_die(MSG_EX_USAGE, "--%s: \"%s\" is not a "
				    "date (YYYY-MM-DD, YYYY-MM-DD HH:MM or "
				    "RFC 3339)", ch == 'f' ? "from" : "to",
				    optarg);
			json_object_set_new(args, ch == 'f' ? "from" : "to",
			    json_integer(ch == 'f' ? from : to));
			break;
		case 'C':
			json_object_set_new(args, "campaign",
			    json_string(optarg));
			break;
		case 'a':
			json_object_set_new(args, "agent", json_string(optarg));
			break;
		case 'x':
			json_object_set_new(args, "contact",
			    json_string(optarg));
			break;
		case 'g':
			json_object_set_new(args, "tag", json_string(optarg));
			break;
		case 's':
			if (strcmp(optarg, "open") != 0 &&
			    strcmp(optarg, "closed") != 0)
				msg_die(MSG_EX_USAGE, "--status: say open or "
				    "closed");
			json_object_set_new(args, "status",
			    json_string(optarg));
			break;
		case 'n':
			limit = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || limit < 1)
				msg_die(MSG_EX_USAGE, "--limit: \"%s\" is not "
				    "a positive number", optarg);
			break;
		case 'j':
			json = 1;
			break;
		default:
			msg_usage();
		}
	}
	if (optind != argc)
		msg_usage();
	if (from && to && to <= from)
		msg_die(MSG_EX_USAGE, "--to must be later than --from");
	if (limit > 0 && limit < 5000)
		json_object_set_new(args, "limit", json_integer(limit));
	return msg_convs_query("history", args, limit,
	    json || !msg_stdout_tty());
}
