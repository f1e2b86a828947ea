/*
 * t_campaign_check — what an administrator is told about a campaign
 * document before campaignd stores it: the defaults a bare `msg campaign
 * create NAME` gets, each validation rule with its one-line reason, the
 * canonical form being a fixed point (so export | apply is "unchanged"),
 * partial edits that change only what was given, and address modes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign_check.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

static json_t *
J(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);

	if (j == NULL) {
		fprintf(stderr, "bad test JSON: %s: %s\n", s, je.text);
		exit(2);
	}
	return j;
}

/* Normalise s; NULL on refusal with the reason in err. */
static char err[512];
static json_t *
norm(const char *s)
{
	json_t *in = J(s), *out;

	err[0] = '\0';
	out = campaign_check_norm(in, err, sizeof(err));
	json_decref(in);
	return out;
}

/* Refused, and the reason contains want. */
static void
refused(const char *doc, const char *want, const char *desc)
{
	json_t *o = norm(doc);

	ok(o == NULL && strstr(err, want) != NULL && strchr(err, '\n') == NULL,
	    desc);
	if (o != NULL || strstr(err, want) == NULL)
		printf("# reason: \"%s\" (wanted \"%s\")\n", err, want);
	json_decref(o);
}

static const char *
str(json_t *o, const char *path)
{
	char buf[128], *p = buf, *dot;
	json_t *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	while ((dot = strchr(p, '.')) != NULL) {
		*dot = '\0';
		v = json_object_get(v, p);
		p = dot + 1;
	}
	v = json_object_get(v, p);
	return json_is_string(v) ? json_string_value(v) : "";
}

static long long
num(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	return json_is_integer(v) ? json_integer_value(v) : -999;
}

int
main(void)
{
	json_t *d, *d2, *cfg, *c2, *patch, *marks;
	char *s;
	const char *k;
	json_t *v;
	int i, inorder;
	static const char *order[] = { "name", "title", "description",
	    "folder", "teams", "tags", "channels", "operator", "idk",
	    "strategy", "max_interactions", "service_level", "thresholds",
	    "acd", "timezone", "schedule", "holidays", "after_hours_message",
	    "files", "canned", "templates", "dispositions", "wrapup_s",
	    "offer_timeout_s", "disposition_required", "enabled", "state" };

	printf("1..50\n");

	/* defaults */
	d = norm("{\"name\":\"sales\"}");
	ok(d != NULL, "a bare name is a valid campaign");
	ok(!strcmp(str(d, "title"), "sales"), "title defaults to the name");
	ok(!strcmp(str(d, "operator"), "agent") &&
	    !strcmp(str(d, "idk.mode"), "agent"),
	    "operated by agents, IDK goes to an agent");
	ok(!strcmp(str(d, "strategy"), "ringall") &&
	    num(d, "max_interactions", NULL) == 3,
	    "ringall, 3 interactions per agent");
	ok(num(d, "service_level", "period_s") == 86400 &&
	    num(d, "service_level", "response_threshold_s") == 60,
	    "service level: a day, 60 s response threshold");
	ok(num(d, "thresholds", "service_level_s") == 60 &&
	    num(d, "thresholds", "dropout_s") == 300 &&
	    num(d, "thresholds", "chat_time_s") == 900 &&
	    num(d, "acd", NULL) == 50, "thresholds 60/300/900 s, ACD 50");
	ok(!strcmp(str(d, "timezone"), "UTC"), "time zone UTC");
	s = json_dumps(json_object_get(d, "schedule"), JSON_COMPACT);
	ok(s && !strcmp(s, "{\"mon\":[[\"09:00\",\"18:00\"]],\"tue\":[[\"09:00\","
	    "\"18:00\"]],\"wed\":[[\"09:00\",\"18:00\"]],\"thu\":[[\"09:00\","
	    "\"18:00\"]],\"fri\":[[\"09:00\",\"18:00\"]],\"sat\":[],\"sun\":[]}"),
	    "schedule Monday to Friday 09:00-18:00");
	free(s);
	ok(json_is_false(json_object_get(json_object_get(d, "files"),
	    "enabled")) && json_is_true(json_object_get(json_object_get(d,
	    "files"), "library")) && json_is_false(json_object_get(
	    json_object_get(d, "files"), "local")),
	    "files: off, library yes, local no");
	ok(json_array_size(json_object_get(json_object_get(json_object_get(d,
	    "files"), "types"), "whatsapp")) > 10,
	    "files: WhatsApp's MIME list by default");
	ok(json_is_true(json_object_get(d, "enabled")) &&
	    !strcmp(str(d, "state"), "draft") && num(d, "wrapup_s", NULL) == 0
	    && num(d, "offer_timeout_s", NULL) == 30,
	    "enabled, draft, no wrap-up, 30 s offer timeout");
	inorder = 1;
	i = 0;
	json_object_foreach(d, k, v) {
		if (i >= (int)(sizeof(order) / sizeof(order[0])) ||
		    strcmp(k, order[i]) != 0)
			inorder = 0;
		i++;
	}
	ok(inorder && i == (int)(sizeof(order) / sizeof(order[0])),
	    "every field present, in the canonical order");

	/* fixed point */
	d2 = campaign_check_norm(d, err, sizeof(err));
	ok(d2 != NULL && json_equal(d, d2), "the canonical form is a fixed "
	    "point");
	json_decref(d2);
	json_decref(d);

	/* validation, one line each */
	refused("{\"name\":\"Sales\"}", "campaign name",
	    "an upper-case name is refused");
	refused("{\"name\":\"s\",\"strategy\":\"roundrobin\"}",
	    "unknown strategy \"roundrobin\": use ringall, linear",
	    "an unknown strategy lists the valid ones");
	refused("{\"name\":\"s\",\"timezone\":\"Mars/Olympus\"}",
	    "unknown time zone \"Mars/Olympus\"", "an unknown time zone");
	refused("{\"name\":\"s\",\"schedule\":{\"mon\":[[\"09:00\",\"12:00\"],"
	    "[\"11:00\",\"14:00\"]]}}", "overlaps", "overlapping intervals");
	refused("{\"name\":\"s\",\"schedule\":{\"tue\":[[\"18:00\",\"09:00\"]]}}",
	    "inverted", "an inverted interval");
	refused("{\"name\":\"s\",\"tags\":[\"abcdefghijklmnopqrstuvwxyz01234\"]}",
	    "over 30 characters", "a tag of 31 characters");
	refused("{\"name\":\"s\",\"tags\":[\"vip\",\"vip\"]}", "listed twice",
	    "a duplicated tag");
	refused("{\"name\":\"s\",\"channels\":{\"sms\":{\"addresses\":"
	    "[\"5551234\"]}}}", "E.164", "an SMS number that is not E.164");
	refused("{\"name\":\"s\",\"channels\":{\"whatsapp\":{\"addresses\":"
	    "[\"abc\"]}}}", "phone-number id", "a WhatsApp id that is not one");
	refused("{\"name\":\"s\",\"channels\":{\"fax\":{}}}",
	    "unknown channel \"fax\"", "an unknown channel");
	refused("{\"name\":\"s\",\"channels\":{\"sms\":{\"addresses\":"
	    "[\"+15551234567\",\"+15551234567\"]}}}", "listed twice",
	    "the same number twice");
	refused("{\"name\":\"s\",\"operator\":\"robot\"}",
	    "unknown operator \"robot\": use agent or bot", "operator values");
	refused("{\"name\":\"s\",\"idk\":{\"mode\":\"custom\"}}",
	    "idk mode custom needs a message", "IDK custom needs a message");
	refused("{\"name\":\"s\",\"acd\":-1}", "acd must be 0 to 100000, "
	    "not -1", "a negative ACD");
	refused("{\"name\":\"s\",\"max_interactions\":0}",
	    "max_interactions must be 1 to 1000", "zero interactions");
	refused("{\"name\":\"s\",\"thresholds\":{\"dropout_s\":1.5}}",
	    "thresholds.dropout_s must be a whole number", "a fractional "
	    "threshold");
	refused("{\"name\":\"s\",\"files\":{\"types\":{\"sms\":[\"jpeg\"]}}}",
	    "not a MIME type", "a MIME type without a subtype");
	refused("{\"name\":\"s\",\"holidays\":[\"2026-02-30\"]}",
	    "not a real YYYY-MM-DD date", "a holiday on 30 February");
	refused("{\"name\":\"s\",\"colour\":\"red\"}",
	    "unknown field \"colour\"", "an unknown field");
	refused("{\"name\":\"s\",\"col\\nour\\u001b[2J\":\"red\"}",
	    "unknown field \"col\\x0aour\\x1b[2J\"", "an unknown field with "
	    "control characters: escaped, on one line");
	refused("{\"name\":\"s\",\"service_level\":{\"period\":5}}",
	    "unknown field \"service_level.period\"", "an unknown nested field");
	refused("{\"name\":\"s\",\"teams\":[\"Support Team\"]}", "team name",
	    "a team name that is not a name");

	/* accepted shapes */
	d = norm("{\"name\":\"s\",\"title\":\"\",\"holidays\":[\"2026-12-25="
	    "Christmas\",{\"date\":\"2026-01-01\",\"name\":\"New year\"}],"
	    "\"canned\":[\"/hello\"],\"channels\":{\"whatsapp\":{\"addresses\":"
	    "[\"1234567890\"]},\"sms\":{\"enabled\":false,\"addresses\":"
	    "[{\"addr\":\"+15551234567\",\"mode\":\"provisioned\"}]}},"
	    "\"today\":\"09:00-18:00\",\"open_now\":true}");
	ok(d != NULL, "holidays, canned, channels and computed fields accepted");
	if (d == NULL)
		printf("# reason: %s\n", err);
	ok(d && !strcmp(str(d, "title"), "s"), "an empty title is the name");
	s = d ? json_dumps(json_object_get(d, "holidays"), JSON_COMPACT) : NULL;
	ok(s && !strcmp(s, "[{\"date\":\"2026-01-01\",\"name\":\"New year\"},"
	    "{\"date\":\"2026-12-25\",\"name\":\"Christmas\"}]"),
	    "holidays sorted by date, DATE=NAME understood");
	free(s);
	ok(d && !strcmp(json_string_value(json_array_get(json_object_get(d,
	    "canned"), 0)), "hello"), "a canned snippet's slash is dropped");
	s = d ? json_dumps(json_object_get(d, "channels"), JSON_COMPACT) : NULL;
	ok(s && !strcmp(s, "{\"sms\":{\"enabled\":false,\"addresses\":[{\"addr\":"
	    "\"+15551234567\",\"mode\":\"provisioned\"}]},\"whatsapp\":"
	    "{\"enabled\":true,\"addresses\":[{\"addr\":\"1234567890\",\"mode\":"
	    "\"reusable\"}]}}"), "channels in order, enabled by default, plain "
	    "addresses reusable");
	free(s);
	ok(d && json_object_get(d, "today") == NULL &&
	    json_object_get(d, "open_now") == NULL, "computed fields dropped");

	/* partial edits */
	patch = J("{\"service_level\":{\"period_s\":3600},\"schedule\":"
	    "{\"sat\":[[\"10:00\",\"14:00\"]]},\"channels\":{\"sms\":"
	    "{\"addresses\":[\"+15551234567\",\"+15557654321\"]}}}");
	ok(d && campaign_check_merge(d, patch, err, sizeof(err)) == 0,
	    "an edit merges");
	json_decref(patch);
	d2 = d ? campaign_check_norm(d, err, sizeof(err)) : NULL;
	ok(d2 && num(d2, "service_level", "period_s") == 3600 &&
	    num(d2, "service_level", "response_threshold_s") == 60,
	    "a nested field changes alone");
	s = d2 ? json_dumps(json_object_get(d2, "schedule"), JSON_COMPACT) :
	    NULL;
	ok(s && !strcmp(s, "{\"mon\":[],\"tue\":[],\"wed\":[],\"thu\":[],"
	    "\"fri\":[],\"sat\":[[\"10:00\",\"14:00\"]],\"sun\":[]}"),
	    "a schedule given replaces the whole week");
	free(s);
	s = d2 ? json_dumps(json_object_get(json_object_get(d2, "channels"),
	    "sms"), JSON_COMPACT) : NULL;
	ok(s && !strcmp(s, "{\"enabled\":false,\"addresses\":[{\"addr\":"
	    "\"+15551234567\",\"mode\":\"provisioned\"},{\"addr\":"
	    "\"+15557654321\",\"mode\":\"reusable\"}]}"),
	    "a listed number keeps its mode; a new one is reusable; enabled "
	    "kept");
	free(s);

	/* modes */
	marks = J("[\"+15557654321\"]");
	ok(d2 && campaign_check_mark(d2, marks, "provisioned", err,
	    sizeof(err)) == 0 && !strcmp(json_string_value(json_object_get(
	    json_array_get(json_object_get(json_object_get(json_object_get(d2,
	    "channels"), "sms"), "addresses"), 1), "mode")), "provisioned"),
	    "--provisioned marks a number");
	json_decref(marks);
	marks = J("[\"+19999999999\"]");
	ok(d2 && campaign_check_mark(d2, marks, "reusable", err,
	    sizeof(err)) == -1 && strstr(err, "+19999999999 is not one of"),
	    "marking a number the campaign lacks is refused");
	json_decref(marks);

	/* export */
	if (d2) {
		json_object_set_new(d2, "created_ts",
		    json_string("2026-01-01T00:00:00.000Z"));
		json_object_set_new(d2, "state", json_string("active"));
	}
	cfg = d2 ? campaign_check_config(d2) : NULL;
	ok(cfg && json_object_get(cfg, "state") == NULL &&
	    json_object_get(cfg, "created_ts") == NULL &&
	    json_object_get(cfg, "schedule") != NULL,
	    "the exported configuration has no lifecycle fields");
	json_decref(d);
	d = cfg ? campaign_check_norm(cfg, err, sizeof(err)) : NULL;
	c2 = d ? campaign_check_config(d) : NULL;
	ok(c2 && json_equal(cfg, c2), "export then apply compares equal");
	json_decref(c2);
	json_decref(cfg);
	json_decref(d);
	json_decref(d2);
	d = norm("{\"name\":\"s\",\"state\":\"paused\"}");
	ok(d == NULL && strstr(err, "unknown state \"paused\""),
	    "an unknown state is refused");
	json_decref(d);

	return failed ? 1 : 0;
}
