/*
 * msg campaign — campaigns (campaignd): create, show, list, edit, clone,
 * enable/disable, check, launch, schedule, stop, delete, export and apply.
 *
 * Every field of a campaign has a flag (msg-campaign(1)); campaignd checks
 * them all, so this file only turns flags into a document and prints the
 * answers.  delete is irreversible and takes the campaign's conversations
 * with it: without --yes it asks on the terminal, and refuses when there is
 * none, suggesting `msg campaign disable` instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "busc.h"
#include "msg.h"
#include "msg_admin.h"
#include "rec.h"

#define DOC_FILE_MAX	(1024 * 1024)	/* bytes of a campaign document */

#define FIELD_FLAGS \
	{ "title", "title", AF_STR }, \
	{ "description", "description", AF_STR }, \
	{ "folder", "folder", AF_STR }, \
	{ "teams", "teams", AF_LIST }, \
	{ "tags", "tags", AF_LIST }, \
	{ "sms", "channels.sms.addresses", AF_LIST }, \
	{ "sms-enabled", "channels.sms.enabled", AF_BOOL }, \
	{ "whatsapp", "channels.whatsapp.addresses", AF_LIST }, \
	{ "whatsapp-enabled", "channels.whatsapp.enabled", AF_BOOL }, \
	{ "messenger", "channels.messenger.addresses", AF_LIST }, \
	{ "messenger-enabled", "channels.messenger.enabled", AF_BOOL }, \
	{ "instagram", "channels.instagram.addresses", AF_LIST }, \
	{ "instagram-enabled", "channels.instagram.enabled", AF_BOOL }, \
	{ "channels", "channels", AF_JSON }, \
	{ "provisioned", "provisioned", AF_LIST }, \
	{ "reusable", "reusable", AF_LIST }, \
	{ "operator", "operator", AF_STR }, \
	{ "idk", "idk.mode", AF_STR }, \
	{ "idk-message", "idk.message", AF_STR }, \
	{ "strategy", "strategy", AF_STR }, \
	{ "max-interactions", "max_interactions", AF_INT }, \
	{ "sl-period", "service_level.period_s", AF_INT }, \
	{ "sl-response", "service_level.response_threshold_s", AF_INT }, \
	{ "threshold-sl", "thresholds.service_level_s", AF_INT }, \
	{ "threshold-dropout", "thresholds.dropout_s", AF_INT }, \
	{ "threshold-chat", "thresholds.chat_time_s", AF_INT }, \
	{ "acd", "acd", AF_INT }, \
	{ "timezone", "timezone", AF_STR }, \
	{ "schedule", "schedule", AF_JSON }, \
	{ "holidays", "holidays", AF_LIST }, \
	{ "after-hours", "after_hours_message", AF_STR }, \
	{ "files", "files.enabled", AF_BOOL }, \
	{ "files-library", "files.library", AF_BOOL }, \
	{ "files-local", "files.local", AF_BOOL }, \
	{ "files-types", "files.types", AF_JSON }, \
	{ "canned", "canned", AF_LIST }, \
	{ "templates", "templates", AF_LIST }, \
	{ "dispositions", "dispositions", AF_LIST }, \
	{ "wrapup", "wrapup_s", AF_INT }, \
	{ "offer-timeout", "offer_timeout_s", AF_INT }, \
	{ "disposition-required", "disposition_required", AF_BOOL }, \
	{ "outbound", "outbound", AF_JSON }, \
	{ "outbound-channel", "outbound.channel", AF_STR }, \
	{ "list", "outbound.list", AF_STR }, \
	{ "text", "outbound.text", AF_STR }, \
	{ "template", "outbound.template.name", AF_STR }, \
	{ "template-language", "outbound.template.language", AF_STR }, \
	{ "template-params", "outbound.template.params", AF_LIST }, \
	{ "senders", "outbound.senders", AF_LIST }, \
	{ "rate", "outbound.rate", AF_JSON }, \
	{ "hours", "outbound.hours", AF_STR }, \
	{ "retry-max", "outbound.retry.max_attempts", AF_INT }, \
	{ "retry-backoff", "outbound.retry.backoff_s", AF_INT }, \
	{ "end", "outbound.end", AF_STR }, \
	{ "enabled", "enabled", AF_BOOL }

static const struct aflag create_flags[] = {
	FIELD_FLAGS,
	{ NULL, NULL, 0 },
};

static const struct aflag edit_flags[] = {
	FIELD_FLAGS,
	{ "name", "rename", AF_STR },
	{ NULL, NULL, 0 },
};

static const struct aflag list_flags[] = {
	{ "search", "search", AF_STR },
	{ "state", "state", AF_STR },
	{ "tag", "tag", AF_STR },
	{ "folder", "folder", AF_STR },
	{ "enabled", "enabled", AF_BOOL },
	{ "open-now", "open_now", AF_BOOL },
	{ NULL, NULL, 0 },
};

static const struct aflag schedule_flags[] = {
	{ "at", "at", AF_STR },
	{ NULL, NULL, 0 },
};

static const struct aflag stop_flags[] = {
	{ "yes", "yes", AF_FLAG },
	{ NULL, NULL, 0 },
};

static const struct aflag delete_flags[] = {
	{ "yes", "yes", AF_FLAG },
	{ NULL, NULL, 0 },
};

static const struct aflag calendar_flags[] = {
	{ "month", "month", AF_STR },
	{ "date", "date", AF_STR },
	{ NULL, NULL, 0 },
};

static const struct aflag clone_flags[] = {
	{ "title", "title", AF_STR },
	{ NULL, NULL, 0 },
};

static const struct aflag preview_flags[] = {
	{ "contact", "contact", AF_STR },
	{ "limit", "limit", AF_INT },
	{ NULL, NULL, 0 },
};

static const struct aflag launch_flags[] = {
	{ "dry-run", "dry_run", AF_FLAG },
	{ NULL, NULL, 0 },
};

static const struct aflag no_flags[] = {
	{ NULL, NULL, 0 },
};

static const char *const cols[] = {
	"name", "title", "state", "channels", "operator", "members", "tags",
	"updated", "when", "open", "tokens", NULL
};

/*
 * The token state of a campaign's WhatsApp numbers, Pages and Instagram
 * accounts (from the channel daemons' chstatus, st): [{channel, addr,
 * active, reason?}] for the JSON, and "ok", or the inactive ones with
 * their reason, for the table.
 */
static json_t *
tokens_of(json_t *channels, json_t *st, json_t **summary)
{
	char buf[512] = "";
	const char *k, *a;
	json_t *ch, *addr, *e, *out = json_array(), *x;
	size_t i, j;
	int any = 0;

	json_object_foreach(channels, k, ch) {
		if (strcmp(k, "sms") == 0)
			continue;
		json_array_foreach(json_object_get(ch, "addresses"), i, addr) {
			/* {addr, mode}, or a bare string */
			if ((a = json_string_value(addr)) == NULL &&
			    (a = json_string_value(json_object_get(addr,
			    "addr"))) == NULL)
				continue;
			json_array_foreach(st, j, e) {
				if (strcmp(json_string_value(json_object_get(e,
				    "channel")), k) != 0 || strcmp(
				    json_string_value(json_object_get(e,
				    "addr")), a) != 0)
					continue;
				any = 1;
				x = json_pack("{s:s, s:s, s:O}", "channel", k,
				    "addr", a, "active", json_object_get(e,
				    "active"));
				if (x == NULL)
					break;
				if (json_object_get(e, "reason"))
					json_object_set(x, "reason",
					    json_object_get(e, "reason"));
				json_array_append_new(out, x);
				if (!json_is_true(json_object_get(e,
				    "active")))
					snprintf(buf + strlen(buf), sizeof(buf) -
					    strlen(buf), "%s%s:%s inactive (%s)",
					    buf[0] ? ", " : "", k, a,
					    json_is_string(json_object_get(e,
					    "reason")) ? json_string_value(
					    json_object_get(e, "reason")) :
					    "no reason given");
				break;
			}
		}
	}
	*summary = json_string(buf[0] ? buf : any ? "ok" : "-");
	return out;
}

/*
 * "sms:+15550001,+15550002 whatsapp:1234(off)": a campaign's channels that
 * have addresses, with their addresses ("(off)" when disabled).
 */
static json_t *
chan_summary(json_t *channels)
{
	char buf[512] = "";
	const char *k;
	json_t *ch, *a;
	size_t i, n;

	json_object_foreach(channels, k, ch) {
		if (json_array_size(json_object_get(ch, "addresses")) == 0)
			continue;
		n = strlen(buf);
		snprintf(buf + n, sizeof(buf) - n, "%s%s:", n ? " " : "", k);
		json_array_foreach(json_object_get(ch, "addresses"), i, a) {
			n = strlen(buf);
			snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? "," :
			    "", json_is_string(a) ? json_string_value(a) :
			    json_string_value(json_object_get(a, "addr")) ?
			    json_string_value(json_object_get(a, "addr")) :
			    "?");
		}
		if (!json_is_true(json_object_get(ch, "enabled"))) {
			n = strlen(buf);
			snprintf(buf + n, sizeof(buf) - n, "(off)");
		}
	}
	return json_string(buf[0] ? buf : "-");
}

/* "YYYY-MM-DD HH:MM" of an RFC 3339 time, or "-". */
static json_t *
short_time(json_t *ts)
{
	const char *s = json_string_value(ts);
	char buf[32];

	if (s == NULL || strlen(s) < 16)
		return json_string("-");
	snprintf(buf, sizeof(buf), "%.10s %.5s", s, s + 11);
	return json_string(buf);
}

/* A campaign as a row of the terminal table. */
static json_t *
row(json_t *it)
{
	json_t *when = json_object_get(it, "launched_ts");

	if (json_object_get(it, "scheduled_for"))
		when = json_object_get(it, "scheduled_for");
	return json_pack("{s:O*,s:O*,s:O*,s:o,s:O*,s:O*,s:O*,s:o,s:o,s:O*}",
	    "name", json_object_get(it, "name"),
	    "title", json_object_get(it, "title"),
	    "state", json_object_get(it, "state"),
	    "channels", chan_summary(json_object_get(it, "channels")),
	    "operator", json_object_get(it, "operator"),
	    "members", json_object_get(it, "members"),
	    "tags", json_object_get(it, "tags"),
	    "updated", short_time(json_object_get(it, "updated_ts")),
	    "when", short_time(when),
	    "open", json_object_get(it, "open_now"));
}

/*
 * msg campaign check NAME: the readiness list.  A terminal gets one line
 * per missing item; pipes the answer as one JSON line.  Exit 1 when the
 * campaign is not ready.
 */
static int
check(json_t *args)
{
	json_t *res = admin_call("campaign", "check", args), *e;
	int ready = json_is_true(json_object_get(res, "ready"));
	size_t i;
	char *s;

	if (msg_stdout_tty()) {
		printf("campaign %s (%s): %s\n", json_string_value(
		    json_object_get(res, "name")), json_string_value(
		    json_object_get(res, "state")), ready ? "ready" :
		    "not ready");
		json_array_foreach(json_object_get(res, "missing"), i, e)
			printf("  - %s\n", json_string_value(e));
		/* an outbound campaign's contacts it cannot fill */
		json_array_foreach(admin_path(res, "unfilled.contacts"), i, e) {
			char miss[256];

			admin_join(json_object_get(e, "missing"), miss,
			    sizeof(miss));
			printf("    %s (%s): no value for %s\n",
			    json_string_value(json_object_get(e, "phone")),
			    json_string_value(json_object_get(e, "id")), miss);
		}
	} else if ((s = json_dumps(res, JSON_COMPACT |
	    JSON_PRESERVE_ORDER)) != NULL) {
		msg_out_line(s);
		free(s);
	}
	msg_out_flush();
	json_decref(res);
	return ready ? MSG_EX_OK : MSG_EX_REFUSED;
}

/*
 * msg campaign preview NAME [--contact PHONE] [--limit N]: each recipient's
 * message as they will get it, its encoding and segments, or why they will
 * not get it.  JSON Lines on pipes.
 */
static int
preview(json_t *args)
{
	json_t *res = admin_call("campaign", "preview", args), *e;
	size_t i;
	char *s;

	json_array_foreach(json_object_get(res, "items"), i, e) {
		const char *sup = json_string_value(json_object_get(e,
		    "suppressed"));
		const char *err = json_string_value(json_object_get(e, "error"));

		if (!msg_stdout_tty()) {
			if ((s = json_dumps(e, JSON_COMPACT |
			    JSON_PRESERVE_ORDER)) != NULL) {
				msg_out_line(s);
				free(s);
			}
			continue;
		}
		printf("%s %s %s (%s)%s%s\n", json_string_value(
		    json_object_get(e, "phone")), json_string_value(
		    json_object_get(e, "first_name")), json_string_value(
		    json_object_get(e, "last_name")), json_string_value(
		    json_object_get(e, "timezone")), json_object_get(e,
		    "opens") ? ", waits until " : "", json_object_get(e,
		    "opens") ? json_string_value(json_object_get(e, "opens")) :
		    "");
		if (sup)
			printf("  suppressed (%s): %s\n", sup, json_string_value(
			    json_object_get(e, "why")));
		else if (err)
			printf("  not sent: %s\n", err);
		else if (json_object_get(e, "template"))
			printf("  template %s with %s\n", json_string_value(
			    json_object_get(e, "template")), (s = json_dumps(
			    json_object_get(e, "params"), JSON_COMPACT)) ? s :
			    "[]"), free(s);
		else
			printf("  %s, %lld segment%s: %s\n", json_string_value(
			    json_object_get(e, "encoding")), (long long)
			    json_integer_value(json_object_get(e, "segments")),
			    json_integer_value(json_object_get(e, "segments"))
			    == 1 ? "" : "s", json_string_value(json_object_get(e,
			    "text")));
	}
	msg_out_flush();
	json_decref(res);
	return MSG_EX_OK;
}

/* msg campaign launch NAME --dry-run: the run's figures, nothing changed. */
static int
dry_run(json_t *args)
{
	json_t *res, *br;
	char *s;

	struct busc c;

	json_object_del(args, "dry_run");
	/* every recipient is read and asked about: a minute or more for a
	 * million, so no time limit on the answer */
	admin_connect(&c);
	c.timeout_ms = -1;
	res = admin_call_on(&c, "campaign", "dryrun", args);
	busc_close(&c);
	if (msg_stdout_tty()) {
		long long est = json_integer_value(json_object_get(res,
		    "estimated_s"));

		br = json_object_get(res, "by_reason");
		printf("campaign %s, list %s (dry run: nothing sent, nothing "
		    "changed)\n", json_string_value(json_object_get(res,
		    "campaign")), json_string_value(json_object_get(res,
		    "list")));
		printf("  recipients   %lld\n", (long long)json_integer_value(
		    json_object_get(res, "recipients")));
		printf("  to be sent   %lld\n", (long long)json_integer_value(
		    json_object_get(res, "sendable")));
		printf("  suppressed   %lld (opted out %lld, blacklisted %lld, "
		    "invalid number %lld, no consent %lld)\n", (long long)
		    json_integer_value(json_object_get(res, "suppressed")),
		    (long long)json_integer_value(json_object_get(br,
		    "opted_out")), (long long)json_integer_value(
		    json_object_get(br, "blacklisted")), (long long)
		    json_integer_value(json_object_get(br, "invalid_number")),
		    (long long)json_integer_value(json_object_get(br,
		    "no_consent")));
		printf("  unfilled     %lld (a placeholder without a value)\n",
		    (long long)json_integer_value(json_object_get(br,
		    "unfilled")));
		printf("  SMS segments %lld\n", (long long)json_integer_value(
		    json_object_get(res, "segments")));
		printf("  rate         %g/s (pacing %g/s per number)\n",
		    json_number_value(json_object_get(res, "rate")),
		    json_number_value(json_object_get(res, "pacing")));
		printf("  estimated    %lldh%02lldm%02llds, until %s\n",
		    est / 3600, est / 60 % 60, est % 60, json_string_value(
		    json_object_get(res, "estimated_end")));
	} else if ((s = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER))
	    != NULL) {
		msg_out_line(s);
		free(s);
	}
	msg_out_flush();
	json_decref(res);
	return MSG_EX_OK;
}

/* List every page: JSON Lines on pipes, a table on a terminal. */
static int
list(json_t *args)
{
	struct busc c;
	json_t *res, *rows = json_array(), *it, *st, *sum;
	const char *next;
	char why[700];
	size_t i;
	int tty = msg_stdout_tty();

	/* the tokens' state: what the channel daemons that run say */
	st = msg_chstatus(why, sizeof(why));
	admin_connect(&c);
	for (;;) {
		res = admin_call_on(&c, "campaign", "list",
		    json_deep_copy(args));
		json_array_foreach(json_object_get(res, "items"), i, it) {
			json_t *tk = tokens_of(json_object_get(it, "channels"),
			    st, &sum);

			if (!tty) {
				json_object_set_new(it, "tokens", tk);
				json_decref(sum);
				json_array_append(rows, it);
				continue;
			}
			json_decref(tk);
			tk = row(it);
			json_object_set_new(tk, "tokens", sum);
			json_array_append_new(rows, tk);
		}
		if (!tty) {
			admin_print_items(rows, NULL);
			json_array_clear(rows);
		}
		if (!json_is_true(json_object_get(res, "more")) ||
		    (next = json_string_value(json_object_get(res,
		    "next"))) == NULL) {
			json_decref(res);
			break;
		}
		json_object_set_new(args, "after", json_string(next));
		json_decref(res);
	}
	busc_close(&c);
	json_decref(st);
	if (tty)
		admin_print_items(rows, cols);
	json_decref(rows);
	json_decref(args);
	return MSG_EX_OK;
}

/* ---- the scheduled view ---- */

/* The day "YYYY-MM-DD" (UTC) a campaign is scheduled or was launched on,
 * into day; 0, or -1 when it has neither. */
static int
camp_day(json_t *it, char day[11])
{
	const char *t = json_string_value(json_object_get(it,
	    "scheduled_for"));

	if (t == NULL)
		t = json_string_value(json_object_get(it, "launched_ts"));
	if (t == NULL || strlen(t) < 10)
		return -1;
	memcpy(day, t, 10);
	day[10] = '\0';
	return 0;
}

/* Every campaign the caller may read (new array). */
static json_t *
all_campaigns(void)
{
	struct busc c;
	json_t *all = json_array(), *res, *args = json_object();
	const char *next;

	admin_connect(&c);
	for (;;) {
		res = admin_call_on(&c, "campaign", "list",
		    json_deep_copy(args));
		json_array_extend(all, json_object_get(res, "items"));
		if (!json_is_true(json_object_get(res, "more")) ||
		    (next = json_string_value(json_object_get(res,
		    "next"))) == NULL) {
			json_decref(res);
			break;
		}
		json_object_set_new(args, "after", json_string(next));
		json_decref(res);
	}
	busc_close(&c);
	json_decref(args);
	return all;
}

/*
 * msg campaign calendar [--month YYYY-MM] | --date YYYY-MM-DD: a month
 * grid with how many campaigns are scheduled (or were launched) each day,
 * or one day's campaigns with their title, numbers and teams.  Days are
 * UTC days.  On a pipe (or --json), one JSON line per day / campaign.
 */
static int
calendar(json_t *args)
{
	const char *month = json_string_value(json_object_get(args, "month")),
	    *date = json_string_value(json_object_get(args, "date"));
	json_t *all, *it, *rows;
	char day[11], m[8], buf[64];
	int y, mo, d, ndays, wd, counts[32] = { 0 }, tty = msg_stdout_tty();
	size_t i;
	struct tm tm;
	time_t now;

	if (date && (strlen(date) != 10 || sscanf(date, "%4d-%2d-%2d", &y,
	    &mo, &d) != 3 || mo < 1 || mo > 12 || d < 1 || d > 31))
		msg_die(MSG_EX_USAGE, "--date is YYYY-MM-DD");
	if (month && (strlen(month) != 7 || sscanf(month, "%4d-%2d", &y,
	    &mo) != 2 || mo < 1 || mo > 12))
		msg_die(MSG_EX_USAGE, "--month is YYYY-MM");
	if (month == NULL && date == NULL) {
		now = time(NULL);
		gmtime_r(&now, &tm);
		y = tm.tm_year + 1900;
		mo = tm.tm_mon + 1;
	}
	all = all_campaigns();
	if (date) {
		rows = json_array();
		json_array_foreach(all, i, it) {
			if (camp_day(it, day) == -1 || strcmp(day, date) != 0)
				continue;
			json_array_append_new(rows, json_pack("{s:O*,s:O*,s:O*,"
			    "s:o,s:O*,s:s}", "name", json_object_get(it,
			    "name"), "title", json_object_get(it, "title"),
			    "state", json_object_get(it, "state"), "channels",
			    chan_summary(json_object_get(it, "channels")),
			    "teams", json_object_get(it, "teams"), "list",
			    "-"));
		}
		if (tty && json_array_size(rows) == 0)
			printf("no campaigns on %s\n", date);
		else {
			static const char *const dcols[] = { "name", "title",
			    "state", "channels", "teams", "list", NULL };

			admin_print_items(rows, dcols);
		}
		json_decref(rows);
		json_decref(all);
		return MSG_EX_OK;
	}
	snprintf(m, sizeof(m), "%04d-%02d", y, mo);
	json_array_foreach(all, i, it) {
		if (camp_day(it, day) == 0 && strncmp(day, m, 7) == 0 &&
		    (d = atoi(day + 8)) >= 1 && d <= 31)
			counts[d]++;
	}
	json_decref(all);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = 1;
	tm.tm_hour = 12;
	now = timegm(&tm);
	gmtime_r(&now, &tm);
	wd = (tm.tm_wday + 6) % 7;	/* Monday first */
	ndays = (mo == 2) ? ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ?
	    29 : 28) : (mo == 4 || mo == 6 || mo == 9 || mo == 11) ? 30 : 31;
	if (!tty) {
		for (d = 1; d <= ndays; d++) {
			snprintf(buf, sizeof(buf), "{\"date\":\"%s-%02d\","
			    "\"campaigns\":%d}", m, d, counts[d]);
			msg_out_line(buf);
		}
		msg_out_flush();
		return MSG_EX_OK;
	}
	strftime(buf, sizeof(buf), "%B %Y", &tm);
	printf("%*s\n", (int)(21 + strlen(buf) / 2), buf);
	printf("  Mon   Tue   Wed   Thu   Fri   Sat   Sun\n");
	for (i = 0; i < (size_t)wd; i++)
		fputs("      ", stdout);
	for (d = 1; d <= ndays; d++) {
		if (counts[d])
			snprintf(buf, sizeof(buf), "%2d[%d]", d, counts[d]);
		else
			snprintf(buf, sizeof(buf), "%2d", d);
		printf(" %-5s", buf);
		if ((wd + d) % 7 == 0 || d == ndays)
			putchar('\n');
	}
	printf("[n]: campaigns scheduled or launched that day (UTC); "
	    "--date YYYY-MM-DD lists them\n");
	return MSG_EX_OK;
}

/* A JSON document from path ("-": stdin), at most 1 MiB; exits 1. */
static json_t *
read_doc(const char *path)
{
	json_error_t je;
	json_t *doc;
	char *buf = admin_file(path, DOC_FILE_MAX);

	if ((doc = json_loads(buf, 0, &je)) == NULL)
		msg_die(MSG_EX_REFUSED, "%s:%d: %s", strcmp(path, "-") ? path :
		    "stdin", je.line, je.text);
	free(buf);
	if (!json_is_object(doc))
		msg_die(MSG_EX_REFUSED, "%s: a campaign is a JSON object",
		    path);
	return doc;
}

static int
apply(const char *path)
{
	json_t *doc = read_doc(path), *res, *args, *line;
	const char *name = json_string_value(json_object_get(doc, "name"));
	char *s;

	args = json_pack("{s:o}", "doc", doc);
	if (name)
		json_object_set_new(args, "name", json_string(name));
	res = admin_call("campaign", "apply", args);
	if (msg_stdout_tty())
		printf("campaign %s: %s\n", json_string_value(json_object_get(
		    res, "name")), json_string_value(json_object_get(res,
		    "result")));
	else {
		line = json_pack("{s:O*,s:O*}", "name", json_object_get(res,
		    "name"), "result", json_object_get(res, "result"));
		if ((s = json_dumps(line, JSON_COMPACT |
		    JSON_PRESERVE_ORDER)) != NULL) {
			msg_out_line(s);
			free(s);
		}
		json_decref(line);
	}
	msg_out_flush();
	json_decref(res);
	return MSG_EX_OK;
}

static int
delete(const char *name, json_t *args)
{
	json_t *res;
	char prompt[256];
	int fd;

	if (!json_is_true(json_object_get(args, "yes"))) {
		/* the campaign must exist before we ask about it */
		json_decref(admin_call("campaign", "show", json_pack("{s:s}",
		    "name", name)));
		if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY)) == -1)
			msg_die(MSG_EX_REFUSED, "deleting %s is irreversible and "
			    "deletes its conversations too: give --yes to "
			    "confirm, or stop it with msg campaign disable %s",
			    name, name);
		close(fd);
		snprintf(prompt, sizeof(prompt), "Delete campaign %s and all "
		    "its conversations for good? (msg campaign disable %s only "
		    "stops it)", name, name);
		if (!admin_confirm(prompt))
			msg_die(MSG_EX_REFUSED, "%s was not deleted", name);
	}
	json_object_del(args, "yes");
	res = admin_call("campaign", "delete", args);
	admin_print_doc(res);
	json_decref(res);
	return MSG_EX_OK;
}

/* Is our address addr on channel ch one campaign doc provisioned? */
static int
provisioned_in(json_t *doc, const char *ch, const char *addr)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(json_object_get(doc,
	    "channels"), ch), "addresses"), i, e)
		if (strcmp(rec_str(e, "addr", ""), addr) == 0)
			return strcmp(rec_str(e, "mode", ""),
			    "provisioned") == 0;
	return 0;
}

/* "1 conversation", "2 conversations" */
static const char *
convs_n(long n, char *buf, size_t sz)
{
	snprintf(buf, sz, "%ld conversation%s", n, n == 1 ? "" : "s");
	return buf;
}

/*
 * The question stop asks on a terminal: what each rule does to the
 * campaign's open conversations (routerd's history of them, the numbers'
 * modes from the campaign): waiting (or offered) ones on numbers it
 * provisioned are closed, on reusable numbers moved to the number's next
 * owner; those needing attention on reusable numbers go to the number's
 * unsolicited settings; those held by agents stay with them, replies on
 * provisioned numbers refused; those with the bot stay with it.
 */
static void
stop_prompt(const char *name, char *prompt, size_t sz)
{
	json_t *shown, *doc, *args, *res, *convs, *cv, *next;
	struct busc c;
	long wp = 0, wr = 0, hp = 0, hr = 0, ar = 0, bot = 0;
	char a[40], b[40], d[40], e[40], f[40];
	const char *rs;
	size_t i;
	int more, prov;

	shown = admin_call("campaign", "show", json_pack("{s:s}", "name",
	    name));
	if (!json_is_object(doc = json_object_get(shown, "doc")))
		doc = shown;
	msg_connect_or_die(&c, "routerd");
	args = json_pack("{s:s,s:s}", "campaign", name, "status", "open");
	do {
		res = msg_work_call_on(&c, "history", json_deep_copy(args));
		convs = json_object_get(res, "convs");
		json_array_foreach(convs, i, cv) {
			prov = provisioned_in(doc, rec_str(cv, "channel", ""),
			    rec_str(cv, "addr", ""));
			rs = rec_str(cv, "rstate", "");
			if (strcmp(rs, "waiting") == 0 ||
			    strcmp(rs, "offered") == 0 || strcmp(rs, "new") == 0)
				prov ? wp++ : wr++;
			else if (strcmp(rs, "bot") == 0)
				bot++;
			else if (prov)
				hp++;
			else if (json_is_true(json_object_get(cv,
			    "attention")))
				ar++;
			else
				hr++;
		}
		next = json_object_get(res, "next");
		more = json_is_true(json_object_get(res, "more")) &&
		    json_is_string(next);
		if (more)
			json_object_set(args, "after", next);
		json_decref(res);
	} while (more);
	busc_close(&c);
	json_decref(args);
	json_decref(shown);
	snprintf(prompt, sz, "Stop campaign %s for good? Nothing more is sent "
	    "in its name.\n"
	    "  on numbers it provisioned (released): %s waiting closed "
	    "(campaign ended), %s held by agents stay with them (replies "
	    "refused)\n"
	    "  on reusable numbers: %s waiting moved to the campaign that owns "
	    "the number next, %s needing attention moved to the number's "
	    "unsolicited settings (leaving agents who do not receive there), "
	    "%s held by agents stay with them\n"
	    "  with the bot: %ld\n",
	    name, convs_n(wp, a, sizeof(a)), convs_n(hp, b, sizeof(b)),
	    convs_n(wr, d, sizeof(d)), convs_n(ar, f, sizeof(f)),
	    convs_n(hr, e, sizeof(e)), bot);
}

int
msg_campaign(int argc, char **argv)
{
	const struct aflag *tab = no_flags;
	const char *op;
	json_t *args = json_object(), *res, *doc;
	char *s, prompt[1024];
	int npos, want = 1, fd;

	if (argc < 2)
		msg_usage();
	op = argv[1];
	/* an outbound run's commands (msg_campaign_run.c) */
	if (strcmp(op, "pause") == 0 || strcmp(op, "resume") == 0 ||
	    strcmp(op, "progress") == 0 || strcmp(op, "contacts") == 0) {
		json_decref(args);
		return msg_campaign_run(argc, argv);
	}
	if (strcmp(op, "list") == 0) {
		tab = list_flags;
		want = 0;
	} else if (strcmp(op, "calendar") == 0) {
		tab = calendar_flags;
		want = 0;
	} else if (strcmp(op, "create") == 0)
		tab = create_flags;
	else if (strcmp(op, "edit") == 0)
		tab = edit_flags;
	else if (strcmp(op, "schedule") == 0)
		tab = schedule_flags;
	else if (strcmp(op, "delete") == 0)
		tab = delete_flags;
	else if (strcmp(op, "stop") == 0)
		tab = stop_flags;
	else if (strcmp(op, "clone") == 0) {
		tab = clone_flags;
		want = 2;
	} else if (strcmp(op, "preview") == 0)
		tab = preview_flags;
	else if (strcmp(op, "launch") == 0)
		tab = launch_flags;
	else if (strcmp(op, "show") && strcmp(op, "export") &&
	    strcmp(op, "check") &&
	    strcmp(op, "apply") && strcmp(op, "enable") &&
	    strcmp(op, "disable") && strcmp(op, "launch") && strcmp(op, "stop"))
		msg_usage();
	npos = admin_flags(argc, argv, 2, tab, args);
	if (npos != want)
		msg_usage();
	if (strcmp(op, "list") == 0)
		return list(args);
	if (strcmp(op, "calendar") == 0) {
		npos = calendar(args);
		json_decref(args);
		return npos;
	}
	if (strcmp(op, "apply") == 0) {
		json_decref(args);
		return apply(argv[2]);
	}
	json_object_set_new(args, "name", json_string(argv[2]));
	if (strcmp(op, "clone") == 0)
		json_object_set_new(args, "new", json_string(argv[3]));
	if (strcmp(op, "schedule") == 0 && json_object_get(args, "at") == NULL)
		msg_die(MSG_EX_USAGE, "schedule needs --at TIME (RFC 3339)");
	if (strcmp(op, "delete") == 0)
		return delete(argv[2], args);
	if (strcmp(op, "check") == 0)
		return check(args);
	if (strcmp(op, "preview") == 0)
		return preview(args);
	if (strcmp(op, "launch") == 0 && json_is_true(json_object_get(args,
	    "dry_run")))
		return dry_run(args);
	if (strcmp(op, "stop") == 0) {
		if (!json_is_true(json_object_get(args, "yes")) &&
		    (fd = open("/dev/tty", O_RDWR | O_NOCTTY)) != -1) {
			close(fd);
			stop_prompt(argv[2], prompt, sizeof(prompt));
			if (!admin_confirm(prompt))
				msg_die(MSG_EX_REFUSED, "%s was not stopped",
				    argv[2]);
		}
		json_object_del(args, "yes");
	}
	res = admin_call("campaign", op, args);
	doc = json_object_get(res, "doc");
	if (strcmp(op, "export") == 0 && doc) {
		/* one document, indented, for files under version control */
		if ((s = json_dumps(doc, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER)) != NULL) {
			msg_out_line(s);
			free(s);
		}
		msg_out_flush();
	} else if (doc)
		admin_print_doc(doc);
	json_decref(res);
	return MSG_EX_OK;
}
