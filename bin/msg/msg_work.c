/*
 * msg_work — what the agent workspace commands (claim, close, transfer,
 * mode, tag, attention, history, search, route, window, ...) share: one
 * request to routerd with its answer as JSON (times in RFC 3339), the
 * paged conversation query that history and search both run, the
 * conversation table, dates as people type them, and the check of a
 * conversation id given as an argument.
 */
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
	return msg_call_json(c, "routerd", t, NULL, NULL, args, 1);
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

void
msg_convs_print(json_t *convs, int json)
{
	static const char *const cols[] = { "conv", "opened", "campaign",
	    "channel", "contact", "name", "agent", "status", "tags", "last",
	    NULL };
	json_t *rows, *c, *row;
	char when[32], tags[200], last[400], ostate[100];
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
		/* > (the last outbound message's delivery state) text */
		ostate[0] = '\0';
		if (strcmp(rec_str(c, "last_dir", ""), "out") == 0 &&
		    rec_str(c, "last_out_state", NULL) != NULL) {
			msg_delivery_state(ostate + 1, sizeof(ostate) - 3,
			    rec_str(c, "last_out_state", ""),
			    json_integer_value(json_object_get(c,
			    "last_out_attempt")),
			    msg_json_ts(json_object_get(c,
			    "last_out_next_ts")));
			ostate[0] = '(';
			strcat(ostate, ") ");
		}
		snprintf(last, sizeof(last), "%s%s%s",
		    strcmp(rec_str(c, "last_dir", ""), "in") == 0 ? "< " :
		    strcmp(rec_str(c, "last_dir", ""), "out") == 0 ? "> " : "",
		    ostate, rec_str(c, "last_text", ""));
		row = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		    "conv", rec_str_nonempty(c, "conv", "?"), "opened", when,
		    "campaign", rec_str_nonempty(c, "campaign", "-"),
		    "channel", rec_str_nonempty(c, "channel", "-"),
		    "contact", rec_str_nonempty(c, "contact", "-"),
		    "name", rec_str_nonempty(c, "name", ""),
		    "agent", rec_str_nonempty(c, "agent", "-"),
		    "status", rec_str_nonempty(c, "status", "-"),
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

#define CONV_ID_LEN	28	/* "c_" and a ULID's 26 characters */

const char *
msg_conv_arg(const char *s)
{
	static char ids[4][CONV_ID_LEN + 1];
	static int next;
	const msgpack_object *ans;
	char *id = ids[next++ % 4], got[64];
	struct busc c;
	struct fbuf fb;
	size_t i, n = strlen(s);
	int64_t rid;

	if (n < 3 || n > CONV_ID_LEN || strncmp(s, "c_", 2) != 0)
		goto bad;
	memcpy(id, s, n + 1);
	for (i = 2; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
			goto bad;
		/* ULIDs are upper case; a prefix may be typed either way */
		if (s[i] >= 'a' && s[i] <= 'z')
			id[i] = (char)(s[i] - 'a' + 'A');
	}
	msg_conv_shard(id);
	if (n == CONV_ID_LEN)
		return id;
	/* a prefix, as git takes one for a commit: routerd knows if it is
	 * unique (exit 1 with its reason when it is not) */
	msg_connect_or_die(&c, "routerd");
	fbuf_init(&fb);
	rid = busc_next_id(&c);
	fbuf_begin(&fb, 3);
	mp_kv_str(&fb.pk, "t", "conv");
	mp_kv_int(&fb.pk, "id", rid);
	mp_kv_str(&fb.pk, "conv", id);
	ans = msg_call(&c, &fb, rid);
	if (!mp_strcpy(ans, "conv", got, sizeof(got)) ||
	    strlen(got) != CONV_ID_LEN)
		msg_die(MSG_EX_UNREACH, "routerd: answer lacks conv");
	memcpy(id, got, CONV_ID_LEN + 1);
	fbuf_free(&fb);
	busc_close(&c);
	return id;
bad:
	msg_die(MSG_EX_USAGE, "\"%.64s\" is not a conversation id (c_...)", s);
}
