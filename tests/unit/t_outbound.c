/*
 * t_outbound — an outbound message for one contact (lib/parley/outbound.c):
 * placeholders from own and custom fields with fallbacks, the contacts
 * whose placeholders cannot be filled, WhatsApp template parameters, "HH:MM"
 * hours, and the next instant a recipient's sending hours are open in their
 * time zone (also across midnight).  TAP output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbound.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

static int
render_is(const char *text, const json_t *c, const char *want)
{
	char err[256] = "", *r = outbound_render(text, c, err, sizeof(err));
	int good;

	good = want ? r && strcmp(r, want) == 0 : r == NULL &&
	    strstr(err, "no value for") != NULL;
	if (!good)
		printf("# got \"%s\" err \"%s\"\n", r ? r : "(null)", err);
	free(r);
	return good;
}

int
main(void)
{
	json_t *ada = json_pack("{s:s,s:s,s:s,s:{s:s,s:s}}", "first_name",
	    "Ada", "last_name", "King", "phone", "+15550000001", "fields",
	    "city", "Lyon", "empty", "");
	json_t *anon = json_pack("{s:s}", "phone", "+15550000002");
	json_t *miss = json_array(), *vals, *params;
	int m;

	ok(render_is("Hi {first_name} {last_name} from {city}", ada,
	    "Hi Ada King from Lyon"), "own and custom fields");
	ok(render_is("Hi {first_name|there}", anon, "Hi there"),
	    "a fallback for a contact without a first name");
	ok(render_is("Hi {first_name}", anon, NULL),
	    "no value and no fallback: refused");
	ok(render_is("{empty|n/a}", ada, "n/a"), "an empty field falls back");
	ok(render_is("Call {phone}", anon, "Call +15550000002"), "the phone");
	ok(outbound_missing("Hi {first_name}, {city}, {first_name}, "
	    "{zip|00000} {{lit}}", anon, miss) == 3 && json_array_size(miss) ==
	    2, "missing: each name once, fallbacks and {{ }} not counted");
	json_decref(miss);
	miss = json_array();
	params = json_pack("[s,s,s]", "first_name", "city|Paris", "last_name");
	ok(outbound_params(params, ada, &vals, miss) == 0 &&
	    strcmp(json_string_value(json_array_get(vals, 1)), "Lyon") == 0,
	    "template parameters from fields");
	json_decref(vals);
	ok(outbound_params(params, anon, &vals, miss) == -1 &&
	    strcmp(json_string_value(json_array_get(vals, 1)), "Paris") == 0 &&
	    json_array_size(miss) == 2, "a parameter fallback; two missing");
	json_decref(vals);
	json_decref(params);
	ok(outbound_hhmm("08:00", &m) == 0 && m == 480, "08:00");
	ok(outbound_hhmm("24:00", &m) == 0 && m == 1440, "24:00");
	ok(outbound_hhmm("24:01", &m) == -1 && outbound_hhmm("8:00", &m) ==
	    -1 && outbound_hhmm("08:60", &m) == -1, "bad hours refused");
	/* 2026-12-02 03:00 UTC (a Wednesday) */
	{
		int64_t t = 1764644400000LL, day = 86400000LL;

		ok(outbound_next_open("UTC", 480, 1260, t) == t + 5 * 3600000LL,
		    "03:00 UTC waits until 08:00");
		ok(outbound_next_open("Asia/Tokyo", 480, 1260, t) == t,
		    "it is 12:00 in Tokyo: open now");
		ok(outbound_next_open("America/New_York", 480, 1260, t) ==
		    t + 10 * 3600000LL, "22:00 in New York: 08:00 next day");
		ok(outbound_next_open("UTC", 1320, 360, t) == t,
		    "22:00-06:00 across midnight: 03:00 is open");
		ok(outbound_next_open("UTC", 1320, 360, t + 4 * 3600000LL) ==
		    t + 19 * 3600000LL, "07:00: waits until 22:00");
		ok(outbound_next_open("Nowhere/City", 480, 1260, t) == -1,
		    "a bad zone: -1");
		(void)day;
	}
	json_decref(ada);
	json_decref(anon);
	json_decref(miss);
	printf("1..%d\n", n);
	if (failed)
		printf("# %d of %d failed\n", failed, n);
	return failed != 0;
}
