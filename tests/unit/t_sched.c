/*
 * t_sched — a campaign's opening hours, as an administrator checks them.
 *
 * The default week, the JSON an admin writes (and every class of mistake
 * refused with a line naming the day and interval), time zones refused,
 * and the calendar: open or closed at given UTC instants in New York,
 * London, Kolkata and Lord Howe (whose DST moves by 30 minutes) on both
 * sides of each 2026 DST change, holidays closing the whole *local* day,
 * today's ranges as msg shows them, and when it next opens or closes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "schedule.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

/* A UTC instant in ms. */
static int64_t
U(int y, int mo, int d, int h, int mi)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t)timegm(&tm) * 1000;
}

#define MIN	(60 * 1000LL)
#define HOUR	(60 * MIN)

static char lasterr[256];

/* Parse a schedule from JSON text; 0 or -1 with lasterr. */
static int
mk(const char *text, struct sched *s)
{
	json_error_t je;
	json_t *j;
	int r;

	lasterr[0] = '\0';
	if ((j = json_loads(text, 0, &je)) == NULL) {
		printf("# bad test JSON: %s\n", je.text);
		exit(99);
	}
	r = sched_from_json(j, s, lasterr, sizeof(lasterr));
	json_decref(j);
	return r;
}

/* The text is refused with an error containing a and b. */
static void
refused(const char *text, const char *a, const char *b, const char *desc)
{
	struct sched s;
	int r;

	r = mk(text, &s);
	ok(r == -1 && strstr(lasterr, a) != NULL &&
	    (b == NULL || strstr(lasterr, b) != NULL) &&
	    strchr(lasterr, '\n') == NULL, desc);
	printf("# %s\n", lasterr);
}

static const char *const none[1] = { NULL };

static int
open_at(const struct sched *s, const char *tz, int64_t t)
{
	return sched_open_at(s, tz, none, 0, t);
}

static void
t_default(void)
{
	struct sched s;
	json_t *j;
	char *txt;
	int d, good = 1;

	sched_default(&s);
	for (d = 0; d < 5; d++)
		good &= s.n[d] == 1 && s.iv[d][0].start == 540 &&
		    s.iv[d][0].end == 1080;
	ok(good && s.n[5] == 0 && s.n[6] == 0,
	    "default: Monday to Friday 09:00-18:00, weekend closed");
	j = sched_to_json(&s);
	txt = json_dumps(j, JSON_COMPACT);
	ok(txt != NULL && strcmp(txt, "{\"mon\":[[\"09:00\",\"18:00\"]],"
	    "\"tue\":[[\"09:00\",\"18:00\"]],\"wed\":[[\"09:00\",\"18:00\"]],"
	    "\"thu\":[[\"09:00\",\"18:00\"]],\"fri\":[[\"09:00\",\"18:00\"]],"
	    "\"sat\":[],\"sun\":[]}") == 0,
	    "default exports as JSON, days in order, closed days []");
	free(txt);
	json_decref(j);

	/* Monday 2026-03-02, New York is UTC-5 */
	ok(open_at(&s, "America/New_York", U(2026, 3, 2, 14, 0)) == 1,
	    "default NY: open Monday 09:00 EST (14:00Z)");
	ok(open_at(&s, "America/New_York", U(2026, 3, 2, 13, 59)) == 0,
	    "default NY: closed Monday 08:59 EST");
	ok(open_at(&s, "America/New_York", U(2026, 3, 2, 22, 59)) == 1,
	    "default NY: open Monday 17:59 EST");
	ok(open_at(&s, "America/New_York", U(2026, 3, 2, 23, 0)) == 0,
	    "default NY: closed Monday 18:00 EST (end is exclusive)");
	ok(open_at(&s, "America/New_York", U(2026, 3, 7, 15, 0)) == 0,
	    "default NY: closed Saturday at 10:00");
	ok(open_at(&s, "America/New_York", U(2026, 3, 8, 15, 0)) == 0,
	    "default NY: closed Sunday at 11:00");
	ok(open_at(&s, "UTC", U(2026, 3, 2, 9, 0)) == 1 &&
	    open_at(&s, "UTC", U(2026, 3, 2, 18, 0)) == 0,
	    "default UTC: open 09:00Z, closed 18:00Z Monday");
}

static void
t_parse(void)
{
	struct sched s, s2, keep;
	json_t *j;
	int r;

	r = mk("{\"mon\":[[\"09:00\",\"12:00\"],[\"13:00\",\"18:00\"]],"
	    "\"sat\":[[\"10:00\",\"14:00\"]]}", &s);
	ok(r == 0 && s.n[0] == 2 && s.iv[0][0].start == 540 &&
	    s.iv[0][0].end == 720 && s.iv[0][1].start == 780 &&
	    s.iv[0][1].end == 1080 && s.n[5] == 1 && s.iv[5][0].start == 600,
	    "parse: two intervals on Monday, one on Saturday");
	ok(r == 0 && s.n[1] == 0 && s.n[2] == 0 && s.n[3] == 0 &&
	    s.n[4] == 0 && s.n[6] == 0, "parse: absent days are closed");

	r = mk("{\"tue\":[[\"15:00\",\"16:00\"],[\"08:00\",\"09:30\"],"
	    "[\"11:00\",\"12:00\"]]}", &s);
	ok(r == 0 && s.n[1] == 3 && s.iv[1][0].start == 480 &&
	    s.iv[1][1].start == 660 && s.iv[1][2].start == 900,
	    "parse: intervals given out of order are sorted");

	r = mk("{\"wed\":[[\"09:00\",\"12:00\"],[\"12:00\",\"18:00\"]]}", &s);
	ok(r == 0 && s.n[2] == 2, "parse: adjacent intervals do not overlap");

	r = mk("{\"fri\":[[\"22:00\",\"24:00\"]],\"sun\":[[\"00:00\","
	    "\"24:00\"]]}", &s);
	ok(r == 0 && s.iv[4][0].end == 1440 && s.iv[6][0].start == 0 &&
	    s.iv[6][0].end == 1440, "parse: \"24:00\" is allowed as an end");

	r = mk("{}", &s);
	ok(r == 0 && s.n[0] + s.n[1] + s.n[2] + s.n[3] + s.n[4] + s.n[5] +
	    s.n[6] == 0, "parse: {} is closed all week");
	r = mk("{\"mon\":[]}", &s);
	ok(r == 0 && s.n[0] == 0, "parse: an empty day is closed");

	r = mk("{\"mon\":[[\"00:00\",\"01:00\"],[\"02:00\",\"03:00\"],"
	    "[\"04:00\",\"05:00\"],[\"06:00\",\"07:00\"],[\"08:00\",\"09:00\"],"
	    "[\"10:00\",\"11:00\"],[\"12:00\",\"13:00\"],[\"14:00\","
	    "\"23:59\"]]}", &s);
	ok(r == 0 && s.n[0] == SCHED_MAXIV && s.iv[0][7].end == 1439,
	    "parse: eight intervals in a day are accepted");

	/* round trip */
	mk("{\"mon\":[[\"09:00\",\"12:00\"],[\"13:00\",\"18:00\"]],"
	    "\"thu\":[[\"00:00\",\"24:00\"]],\"sun\":[[\"07:15\",\"07:45\"]]}",
	    &s);
	j = sched_to_json(&s);
	memset(&s2, 0x55, sizeof(s2));
	ok(j != NULL && sched_from_json(j, &s2, lasterr, sizeof(lasterr)) ==
	    0 && memcmp(&s.n, &s2.n, sizeof(s.n)) == 0 &&
	    s2.iv[0][1].start == 780 && s2.iv[3][0].end == 1440 &&
	    s2.iv[6][0].start == 435 && s2.iv[6][0].end == 465,
	    "export then parse gives the same schedule");
	json_decref(j);

	/* every class of error, one line naming the day and interval */
	refused("[]", "not a JSON object", NULL,
	    "error: a schedule that is not an object");
	refused("{\"monday\":[]}", "unknown day", "monday",
	    "error: unknown day \"monday\"");
	refused("{\"Mon\":[]}", "unknown day", "Mon",
	    "error: day names are lower case (\"Mon\" refused)");
	refused("{\"tue\":\"09:00-18:00\"}", "tue", "not an array",
	    "error: a day that is not an array");
	refused("{\"wed\":[\"09:00\",\"18:00\"]}", "wed interval 1",
	    "pair", "error: an interval that is not a pair");
	refused("{\"wed\":[[\"09:00\",\"12:00\"],[\"13:00\"]]}",
	    "wed interval 2", "pair", "error: an interval of one time");
	refused("{\"wed\":[[\"09:00\",\"12:00\",\"13:00\"]]}",
	    "wed interval 1", "pair", "error: an interval of three times");
	refused("{\"wed\":[[900,1800]]}", "wed interval 1", "pair",
	    "error: times that are numbers, not strings");
	refused("{\"thu\":[[\"9:00\",\"18:00\"]]}", "thu interval 1",
	    "bad start \"9:00\"", "error: \"9:00\" is not HH:MM");
	refused("{\"thu\":[[\"09:00\",\"18:60\"]]}", "thu interval 1",
	    "bad end \"18:60\"", "error: minute 60");
	refused("{\"thu\":[[\"09:00\",\"25:00\"]]}", "thu interval 1",
	    "bad end \"25:00\"", "error: hour 25");
	refused("{\"thu\":[[\"09:00\",\"24:01\"]]}", "thu interval 1",
	    "bad end \"24:01\"", "error: 24:01");
	refused("{\"thu\":[[\"24:00\",\"24:00\"]]}", "thu interval 1",
	    "bad start \"24:00\"", "error: 24:00 as a start");
	refused("{\"thu\":[[\"ab:cd\",\"18:00\"]]}", "thu interval 1",
	    "bad start", "error: letters for a time");
	refused("{\"thu\":[[\"09:00\",\"18:00 \"]]}", "thu interval 1",
	    "bad end", "error: trailing space after a time");
	refused("{\"fri\":[[\"09:00\",\"12:00\"],[\"18:00\",\"09:00\"]]}",
	    "fri interval 2", "inverted", "error: inverted interval");
	refused("{\"fri\":[[\"09:00\",\"09:00\"]]}", "fri interval 1",
	    "inverted", "error: empty interval (end == start)");
	refused("{\"sat\":[[\"09:00\",\"12:00\"],[\"11:00\",\"13:00\"]]}",
	    "sat interval 2 (11:00-13:00) overlaps interval 1 (09:00-12:00)",
	    NULL, "error: overlapping intervals, both named");
	refused("{\"sat\":[[\"11:00\",\"13:00\"],[\"09:00\",\"18:00\"]]}",
	    "sat interval 2 (09:00-18:00) overlaps interval 1 (11:00-13:00)",
	    NULL, "error: one interval inside another");
	refused("{\"sun\":[[\"00:00\",\"01:00\"],[\"02:00\",\"03:00\"],"
	    "[\"04:00\",\"05:00\"],[\"06:00\",\"07:00\"],[\"08:00\",\"09:00\"],"
	    "[\"10:00\",\"11:00\"],[\"12:00\",\"13:00\"],[\"14:00\",\"15:00\"],"
	    "[\"16:00\",\"17:00\"]]}", "sun", "more than 8",
	    "error: nine intervals in a day");

	sched_default(&keep);
	s = keep;
	r = mk("{\"mon\":[[\"08:00\",\"10:00\"]],\"tue\":[[\"10:00\","
	    "\"08:00\"]]}", &s);
	ok(r == -1 && memcmp(&s, &keep, sizeof(s)) == 0,
	    "error: nothing half-applied, the schedule is left as it was");
}

static void
t_zones(void)
{
	struct sched s;
	char buf[64];
	const char *cur;
	struct tm tm;
	time_t t0 = 0;

	ok(sched_tz_valid("UTC"), "zone: UTC is valid");
	ok(sched_tz_valid("America/New_York") &&
	    sched_tz_valid("Europe/London") && sched_tz_valid("Asia/Kolkata") &&
	    sched_tz_valid("Australia/Lord_Howe"),
	    "zone: New York, London, Kolkata, Lord Howe are valid");
	ok(sched_tz_valid("America/Argentina/Buenos_Aires"),
	    "zone: a three-level name is valid");
	ok(!sched_tz_valid("Mars/Base"), "zone: \"Mars/Base\" refused");
	ok(!sched_tz_valid("../etc/passwd"),
	    "zone: \"../etc/passwd\" refused");
	ok(!sched_tz_valid("Europe/../Europe/London"),
	    "zone: a \"..\" inside the name refused");
	ok(!sched_tz_valid(""), "zone: \"\" refused");
	ok(!sched_tz_valid(NULL), "zone: NULL refused");
	ok(!sched_tz_valid("Europe"), "zone: a directory (\"Europe\") refused");
	ok(!sched_tz_valid("/usr/share/zoneinfo/UTC"),
	    "zone: an absolute path refused");
	ok(!sched_tz_valid("zone.tab") && !sched_tz_valid("iso3166.tab"),
	    "zone: files that are not zones (zone.tab) refused");
	ok(!sched_tz_valid("America/New_York ") &&
	    !sched_tz_valid("EST5EDT,M3.2.0,M11.1.0"),
	    "zone: trailing space and POSIX rule strings refused");

	sched_default(&s);
	ok(sched_open_at(&s, "Mars/Base", none, 0, U(2026, 3, 2, 14, 0)) ==
	    -1 && sched_next_open(&s, "", none, 0, 0) == -1 &&
	    sched_close_at(&s, "Europe", none, 0, 0) == -1 &&
	    sched_today(&s, "../etc/passwd", none, 0, 0, buf, sizeof(buf)) ==
	    -1, "an invalid zone is an error (-1) for every query");

	setenv("TZ", "Asia/Tokyo", 1);
	tzset();
	sched_open_at(&s, "America/New_York", none, 0, U(2026, 3, 2, 14, 0));
	sched_next_open(&s, "Europe/London", none, 0, U(2026, 3, 7, 0, 0));
	sched_open_at(&s, "Mars/Base", none, 0, 0);
	cur = getenv("TZ");
	localtime_r(&t0, &tm);
	ok(cur != NULL && strcmp(cur, "Asia/Tokyo") == 0 && tm.tm_hour == 9,
	    "the process's TZ (Asia/Tokyo) is restored after each call");
	unsetenv("TZ");
	tzset();
	sched_today(&s, "Asia/Kolkata", none, 0, 0, buf, sizeof(buf));
	ok(getenv("TZ") == NULL, "an unset TZ stays unset");
	setenv("TZ", "America/New_York", 1);
	tzset();
	ok(open_at(&s, "America/New_York", U(2026, 3, 2, 14, 0)) == 1 &&
	    strcmp(getenv("TZ"), "America/New_York") == 0,
	    "a TZ equal to the campaign's zone works and is kept");
	unsetenv("TZ");
	tzset();

	s.n[0] = SCHED_MAXIV + 1;
	ok(sched_open_at(&s, "UTC", none, 0, 0) == -1,
	    "a corrupt schedule (9 intervals) is refused, not read past");
}

static void
t_newyork(void)
{
	struct sched s;
	const char *tz = "America/New_York";
	int64_t t;

	sched_default(&s);
	/* spring forward: Sunday 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z) */
	ok(open_at(&s, tz, U(2026, 3, 6, 14, 0)) == 1 &&
	    open_at(&s, tz, U(2026, 3, 6, 13, 30)) == 0,
	    "NY Friday before spring forward: 09:00 is 14:00Z");
	ok(open_at(&s, tz, U(2026, 3, 9, 13, 0)) == 1 &&
	    open_at(&s, tz, U(2026, 3, 9, 12, 59)) == 0,
	    "NY Monday after spring forward: 09:00 is 13:00Z");
	ok(open_at(&s, tz, U(2026, 3, 9, 21, 59)) == 1 &&
	    open_at(&s, tz, U(2026, 3, 9, 22, 0)) == 0,
	    "NY Monday after spring forward: 18:00 is 22:00Z");

	mk("{\"sun\":[[\"00:00\",\"03:00\"]]}", &s);
	ok(open_at(&s, tz, U(2026, 3, 8, 4, 59)) == 0 &&
	    open_at(&s, tz, U(2026, 3, 8, 5, 0)) == 1 &&
	    open_at(&s, tz, U(2026, 3, 8, 6, 59)) == 1 &&
	    open_at(&s, tz, U(2026, 3, 8, 7, 0)) == 0,
	    "NY spring forward: Sunday 00:00-03:00 is open 05:00Z-07:00Z");
	ok(sched_close_at(&s, tz, none, 0, U(2026, 3, 8, 5, 0)) ==
	    U(2026, 3, 8, 7, 0), "NY spring forward: 00:00-03:00 lasts 2h");

	mk("{\"sun\":[[\"02:30\",\"04:00\"]]}", &s);
	ok(open_at(&s, tz, U(2026, 3, 8, 6, 59)) == 0 &&
	    open_at(&s, tz, U(2026, 3, 8, 7, 0)) == 1,
	    "NY spring forward: 02:30 does not exist, opens at 03:00 EDT");
	ok(sched_next_open(&s, tz, none, 0, U(2026, 3, 8, 0, 0)) ==
	    U(2026, 3, 8, 7, 0) && sched_close_at(&s, tz, none, 0,
	    U(2026, 3, 8, 7, 0)) == U(2026, 3, 8, 8, 0),
	    "NY spring forward: 02:30-04:00 runs 07:00Z-08:00Z");
	ok(sched_next_open(&s, tz, none, 0, U(2026, 3, 15, 0, 0)) ==
	    U(2026, 3, 15, 6, 30), "NY: the week after, 02:30 EDT is 06:30Z");

	mk("{\"sun\":[[\"02:15\",\"02:45\"]]}", &s);
	ok(sched_next_open(&s, tz, none, 0, U(2026, 3, 8, 0, 0)) ==
	    U(2026, 3, 15, 6, 15),
	    "NY spring forward: an interval wholly in the gap never opens "
	    "that day; next open is a week later");

	/* fall back: Sunday 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z) */
	mk("{\"sun\":[[\"00:00\",\"03:00\"]]}", &s);
	ok(open_at(&s, tz, U(2026, 11, 1, 3, 59)) == 0 &&
	    open_at(&s, tz, U(2026, 11, 1, 4, 0)) == 1 &&
	    open_at(&s, tz, U(2026, 11, 1, 5, 30)) == 1 &&
	    open_at(&s, tz, U(2026, 11, 1, 6, 30)) == 1 &&
	    open_at(&s, tz, U(2026, 11, 1, 7, 59)) == 1 &&
	    open_at(&s, tz, U(2026, 11, 1, 8, 0)) == 0,
	    "NY fall back: Sunday 00:00-03:00 is open 04:00Z-08:00Z, both 01:30s");
	ok(sched_close_at(&s, tz, none, 0, U(2026, 11, 1, 4, 0)) ==
	    U(2026, 11, 1, 8, 0), "NY fall back: 00:00-03:00 lasts 4h");

	mk("{\"sun\":[[\"01:30\",\"05:00\"]]}", &s);
	t = sched_next_open(&s, tz, none, 0, U(2026, 11, 1, 0, 0));
	ok(t == U(2026, 11, 1, 5, 30),
	    "NY fall back: 01:30 opens at its first occurrence (EDT, 05:30Z)");
	ok(open_at(&s, tz, U(2026, 11, 1, 6, 10)) == 1,
	    "NY fall back: still open at 01:10 EST (the repeated hour)");
	ok(sched_close_at(&s, tz, none, 0, t) == U(2026, 11, 1, 10, 0),
	    "NY fall back: 01:30-05:00 closes at 05:00 EST (10:00Z)");

	sched_default(&s);
	ok(open_at(&s, tz, U(2026, 10, 30, 13, 0)) == 1 &&
	    open_at(&s, tz, U(2026, 11, 2, 13, 0)) == 0 &&
	    open_at(&s, tz, U(2026, 11, 2, 14, 0)) == 1,
	    "NY fall back: 09:00 is 13:00Z the Friday before, 14:00Z after");
}

static void
t_london(void)
{
	struct sched s;
	const char *tz = "Europe/London";

	sched_default(&s);
	ok(open_at(&s, tz, U(2026, 3, 27, 8, 30)) == 0 &&
	    open_at(&s, tz, U(2026, 3, 27, 9, 0)) == 1,
	    "London Friday 2026-03-27 (GMT): 09:00 is 09:00Z");
	ok(open_at(&s, tz, U(2026, 3, 30, 7, 59)) == 0 &&
	    open_at(&s, tz, U(2026, 3, 30, 8, 0)) == 1 &&
	    open_at(&s, tz, U(2026, 3, 30, 16, 59)) == 1 &&
	    open_at(&s, tz, U(2026, 3, 30, 17, 0)) == 0,
	    "London Monday 2026-03-30 (BST): open 08:00Z-17:00Z");
	ok(open_at(&s, tz, U(2026, 10, 23, 8, 0)) == 1 &&
	    open_at(&s, tz, U(2026, 10, 26, 8, 30)) == 0 &&
	    open_at(&s, tz, U(2026, 10, 26, 9, 0)) == 1,
	    "London around 2026-10-25: 09:00 is 08:00Z before, 09:00Z after");

	/* 2026-03-29 01:00 GMT -> 02:00 BST (01:00Z) */
	mk("{\"sun\":[[\"00:00\",\"02:00\"]]}", &s);
	ok(open_at(&s, tz, U(2026, 3, 29, 0, 0)) == 1 &&
	    open_at(&s, tz, U(2026, 3, 29, 0, 59)) == 1 &&
	    open_at(&s, tz, U(2026, 3, 29, 1, 0)) == 0 &&
	    sched_close_at(&s, tz, none, 0, U(2026, 3, 29, 0, 0)) ==
	    U(2026, 3, 29, 1, 0),
	    "London spring forward: 00:00-02:00 lasts 1h");
	mk("{\"sun\":[[\"01:30\",\"03:00\"]]}", &s);
	ok(open_at(&s, tz, U(2026, 3, 29, 0, 59)) == 0 &&
	    sched_next_open(&s, tz, none, 0, U(2026, 3, 28, 12, 0)) ==
	    U(2026, 3, 29, 1, 0) && sched_close_at(&s, tz, none, 0,
	    U(2026, 3, 29, 1, 0)) == U(2026, 3, 29, 2, 0),
	    "London spring forward: 01:30 (in the gap) opens at 02:00 BST");

	/* 2026-10-25 02:00 BST -> 01:00 GMT (01:00Z) */
	mk("{\"sun\":[[\"00:00\",\"03:00\"]]}", &s);
	ok(open_at(&s, tz, U(2026, 10, 24, 22, 59)) == 0 &&
	    open_at(&s, tz, U(2026, 10, 24, 23, 0)) == 1 &&
	    open_at(&s, tz, U(2026, 10, 25, 2, 59)) == 1 &&
	    open_at(&s, tz, U(2026, 10, 25, 3, 0)) == 0 &&
	    sched_close_at(&s, tz, none, 0, U(2026, 10, 24, 23, 0)) ==
	    U(2026, 10, 25, 3, 0),
	    "London fall back: 00:00-03:00 lasts 4h (23:00Z-03:00Z)");
}

static void
t_kolkata_lordhowe(void)
{
	struct sched s;
	const char *kol = "Asia/Kolkata", *lh = "Australia/Lord_Howe";
	const char *h1[] = { "2026-03-02" }, *h2[] = { "2026-03-01" };
	char buf[64];

	sched_default(&s);
	ok(open_at(&s, kol, U(2026, 3, 2, 3, 29)) == 0 &&
	    open_at(&s, kol, U(2026, 3, 2, 3, 30)) == 1 &&
	    open_at(&s, kol, U(2026, 3, 2, 12, 29)) == 1 &&
	    open_at(&s, kol, U(2026, 3, 2, 12, 30)) == 0,
	    "Kolkata (UTC+05:30): open 03:30Z-12:30Z on a Monday");
	ok(open_at(&s, kol, U(2026, 7, 6, 3, 30)) == 1 &&
	    open_at(&s, kol, U(2026, 7, 6, 3, 29)) == 0,
	    "Kolkata: no DST, the same in July");

	/* Lord Howe: +11 in March, Monday 09:00 is Sunday 22:00Z */
	ok(open_at(&s, lh, U(2026, 3, 1, 21, 59)) == 0 &&
	    open_at(&s, lh, U(2026, 3, 1, 22, 0)) == 1,
	    "Lord Howe: open Monday 09:00 +11, which is Sunday 22:00Z");
	ok(sched_open_at(&s, lh, h1, 1, U(2026, 3, 1, 22, 0)) == 0 &&
	    sched_open_at(&s, lh, h2, 1, U(2026, 3, 1, 22, 0)) == 1,
	    "Lord Howe: the local date counts for holidays, not UTC's");
	ok(sched_today(&s, lh, none, 0, U(2026, 3, 1, 22, 0), buf,
	    sizeof(buf)) == 0 && strcmp(buf, "09:00-18:00") == 0,
	    "Lord Howe: today at Sunday 22:00Z is Monday's 09:00-18:00");

	/* 2026-04-05 02:00 +11 -> 01:30 +10:30 (15:00Z on the 4th) */
	mk("{\"sun\":[[\"00:00\",\"03:00\"]]}", &s);
	ok(open_at(&s, lh, U(2026, 4, 4, 12, 59)) == 0 &&
	    open_at(&s, lh, U(2026, 4, 4, 13, 0)) == 1 &&
	    open_at(&s, lh, U(2026, 4, 4, 16, 29)) == 1 &&
	    open_at(&s, lh, U(2026, 4, 4, 16, 30)) == 0 &&
	    sched_close_at(&s, lh, none, 0, U(2026, 4, 4, 13, 0)) ==
	    U(2026, 4, 4, 16, 30),
	    "Lord Howe 30-min fall back: 00:00-03:00 lasts 3h30");
	sched_default(&s);
	ok(open_at(&s, lh, U(2026, 4, 5, 22, 0)) == 0 &&
	    open_at(&s, lh, U(2026, 4, 5, 22, 30)) == 1,
	    "Lord Howe: Monday 09:00 +10:30 after it is 22:30Z");

	/* 2026-10-04 02:00 +10:30 -> 02:30 +11 (15:30Z on the 3rd) */
	mk("{\"sun\":[[\"00:00\",\"03:00\"]]}", &s);
	ok(open_at(&s, lh, U(2026, 10, 3, 13, 29)) == 0 &&
	    open_at(&s, lh, U(2026, 10, 3, 13, 30)) == 1 &&
	    open_at(&s, lh, U(2026, 10, 3, 15, 59)) == 1 &&
	    open_at(&s, lh, U(2026, 10, 3, 16, 0)) == 0,
	    "Lord Howe 30-min spring forward: 00:00-03:00 lasts 2h30");
	mk("{\"sun\":[[\"02:10\",\"04:00\"]]}", &s);
	ok(open_at(&s, lh, U(2026, 10, 3, 15, 29)) == 0 &&
	    sched_next_open(&s, lh, none, 0, U(2026, 10, 3, 13, 0)) ==
	    U(2026, 10, 3, 15, 30),
	    "Lord Howe: 02:10 is in the 30-min gap, opens at 02:30 +11");
}

static void
t_holidays(void)
{
	struct sched s;
	const char *ny = "America/New_York";
	const char *hmon[] = { "2026-03-02" }, *htue[] = { "2026-03-03" };
	const char *hmany[] = { "2025-12-25", NULL, "garbage", "2026-03-02" };
	const char *hthu[] = { "2026-03-05" };

	sched_default(&s);
	ok(sched_open_at(&s, ny, hmon, 1, U(2026, 3, 2, 15, 0)) == 0,
	    "holiday: closed on Monday 2026-03-02 during working hours");
	ok(sched_open_at(&s, ny, htue, 1, U(2026, 3, 2, 15, 0)) == 1,
	    "holiday: another day's holiday does not close Monday");
	ok(sched_open_at(&s, ny, hmany, 4, U(2026, 3, 2, 15, 0)) == 0,
	    "holiday: found among several (own and global), NULLs skipped");

	mk("{\"mon\":[[\"00:00\",\"24:00\"]],\"tue\":[[\"00:00\",\"24:00\"]],"
	    "\"wed\":[[\"00:00\",\"24:00\"]],\"thu\":[[\"00:00\",\"24:00\"]],"
	    "\"fri\":[[\"00:00\",\"24:00\"]],\"sat\":[[\"00:00\",\"24:00\"]],"
	    "\"sun\":[[\"00:00\",\"24:00\"]]}", &s);
	/* Tuesday 03:00Z is still Monday 22:00 in New York */
	ok(sched_open_at(&s, ny, htue, 1, U(2026, 3, 3, 3, 0)) == 1 &&
	    sched_open_at(&s, ny, hmon, 1, U(2026, 3, 3, 3, 0)) == 0,
	    "holiday: NY at Tuesday 03:00Z follows Monday's local date");
	ok(sched_open_at(&s, ny, hmon, 1, U(2026, 3, 2, 4, 59)) == 1 &&
	    sched_open_at(&s, ny, hmon, 1, U(2026, 3, 2, 5, 0)) == 0 &&
	    sched_open_at(&s, ny, hmon, 1, U(2026, 3, 3, 4, 59)) == 0 &&
	    sched_open_at(&s, ny, hmon, 1, U(2026, 3, 3, 5, 0)) == 1,
	    "holiday: closes exactly the local day, 05:00Z to 05:00Z");
	ok(sched_close_at(&s, ny, hthu, 1, U(2026, 3, 2, 15, 0)) ==
	    U(2026, 3, 5, 5, 0),
	    "open all week: closes at the start of Thursday's holiday");
	ok(sched_close_at(&s, ny, none, 0, U(2026, 3, 2, 15, 0)) == INT64_MAX,
	    "open all week, no holidays: never closes (INT64_MAX)");
	ok(sched_next_open(&s, ny, hthu, 1, U(2026, 3, 5, 12, 0)) ==
	    U(2026, 3, 6, 5, 0), "open all week: reopens after the holiday");
}

static void
t_today(void)
{
	struct sched s;
	const char *ny = "America/New_York";
	const char *hmon[] = { "2026-03-02" };
	char buf[64];

	sched_default(&s);
	ok(sched_today(&s, ny, none, 0, U(2026, 3, 2, 15, 0), buf,
	    sizeof(buf)) == 0 && strcmp(buf, "09:00-18:00") == 0,
	    "today: default Monday is \"09:00-18:00\"");
	ok(sched_today(&s, ny, none, 0, U(2026, 3, 7, 15, 0), buf,
	    sizeof(buf)) == 0 && strcmp(buf, "closed") == 0,
	    "today: Saturday is \"closed\"");
	ok(sched_today(&s, ny, hmon, 1, U(2026, 3, 2, 15, 0), buf,
	    sizeof(buf)) == 0 && strcmp(buf, "holiday") == 0,
	    "today: a holiday is \"holiday\"");
	ok(sched_today(&s, ny, none, 0, U(2026, 3, 2, 23, 30), buf,
	    sizeof(buf)) == 0 && strcmp(buf, "09:00-18:00") == 0,
	    "today: after hours it still shows the day's ranges");
	ok(sched_today(&s, ny, none, 0, U(2026, 3, 7, 3, 0), buf,
	    sizeof(buf)) == 0 && strcmp(buf, "09:00-18:00") == 0,
	    "today: Saturday 03:00Z is Friday evening in New York");
	mk("{\"mon\":[[\"13:00\",\"18:00\"],[\"09:00\",\"12:00\"],"
	    "[\"22:00\",\"24:00\"]]}", &s);
	ok(sched_today(&s, ny, none, 0, U(2026, 3, 2, 15, 0), buf,
	    sizeof(buf)) == 0 &&
	    strcmp(buf, "09:00-12:00,13:00-18:00,22:00-24:00") == 0,
	    "today: several ranges, sorted, comma separated, 24:00 kept");
	sched_default(&s);
	ok(sched_today(&s, ny, none, 0, U(2026, 3, 2, 15, 0), buf, 12) == 0 &&
	    sched_today(&s, ny, none, 0, U(2026, 3, 2, 15, 0), buf, 11) == -1,
	    "today: a buffer one byte short is an error, exact fit is not");
	ok(sched_today(&s, ny, none, 0, U(2026, 3, 7, 15, 0), buf, 6) == -1,
	    "today: \"closed\" does not fit in 6 bytes");
}

static void
t_next_close(void)
{
	struct sched s;
	const char *ny = "America/New_York", *ldn = "Europe/London";
	const char *hmon[] = { "2026-03-09" };
	const char *hsat[] = { "2026-03-07" };

	sched_default(&s);
	ok(sched_next_open(&s, ny, none, 0, U(2026, 3, 6, 23, 0)) ==
	    U(2026, 3, 9, 13, 0),
	    "next open: Friday 18:00 EST -> Monday 09:00 EDT, across the "
	    "weekend and the DST change");
	ok(sched_next_open(&s, ny, hmon, 1, U(2026, 3, 6, 23, 0)) ==
	    U(2026, 3, 10, 13, 0),
	    "next open: with Monday a holiday, Tuesday 09:00 EDT");
	ok(sched_next_open(&s, ny, hsat, 1, U(2026, 3, 6, 23, 0)) ==
	    U(2026, 3, 9, 13, 0),
	    "next open: a holiday on a closed day changes nothing");
	ok(sched_next_open(&s, ny, none, 0, U(2026, 3, 2, 12, 0)) ==
	    U(2026, 3, 2, 14, 0), "next open: later the same morning");
	ok(sched_next_open(&s, ny, none, 0, U(2026, 3, 2, 15, 0) + 500) ==
	    U(2026, 3, 2, 15, 0) + 500, "next open: when open, it is now");
	ok(sched_next_open(&s, ldn, none, 0, U(2026, 3, 28, 12, 0)) ==
	    U(2026, 3, 30, 8, 0),
	    "next open: London Saturday -> Monday 09:00 BST (08:00Z)");
	ok(sched_next_open(&s, ldn, none, 0, U(2026, 10, 23, 17, 0)) ==
	    U(2026, 10, 26, 9, 0),
	    "next open: London Friday 18:00 BST -> Monday 09:00 GMT (09:00Z)");
	mk("{}", &s);
	ok(sched_next_open(&s, ny, none, 0, U(2026, 3, 2, 12, 0)) == -1,
	    "next open: a schedule closed all week never opens (-1)");
	ok(sched_close_at(&s, ny, none, 0, U(2026, 3, 2, 12, 0)) == -1,
	    "close at: closed all week, -1");

	sched_default(&s);
	ok(sched_close_at(&s, ny, none, 0, U(2026, 3, 2, 15, 0)) ==
	    U(2026, 3, 2, 23, 0), "close at: Monday closes at 18:00 EST");
	ok(sched_close_at(&s, ny, none, 0, U(2026, 3, 2, 23, 0)) == -1,
	    "close at: already closed, -1");
	mk("{\"mon\":[[\"09:00\",\"12:00\"],[\"12:00\",\"18:00\"]]}", &s);
	ok(sched_close_at(&s, ny, none, 0, U(2026, 3, 2, 15, 0)) ==
	    U(2026, 3, 2, 23, 0),
	    "close at: adjacent intervals close at the end of the last");
	mk("{\"mon\":[[\"09:00\",\"12:00\"],[\"13:00\",\"18:00\"]]}", &s);
	ok(sched_close_at(&s, ny, none, 0, U(2026, 3, 2, 15, 0)) ==
	    U(2026, 3, 2, 17, 0) && open_at(&s, ny, U(2026, 3, 2, 17, 30)) == 0,
	    "close at: lunch break closes at 12:00");
	ok(sched_next_open(&s, ny, none, 0, U(2026, 3, 2, 17, 0)) ==
	    U(2026, 3, 2, 18, 0), "next open: after lunch, 13:00");
	mk("{\"mon\":[[\"22:00\",\"24:00\"]],\"tue\":[[\"00:00\",\"06:00\"]]}",
	    &s);
	ok(sched_close_at(&s, ny, none, 0, U(2026, 3, 3, 4, 0)) ==
	    U(2026, 3, 3, 11, 0),
	    "close at: a night shift across midnight closes Tuesday 06:00");
	{
		const char *htue[] = { "2026-03-03" };

		ok(sched_close_at(&s, ny, htue, 1, U(2026, 3, 3, 4, 0)) ==
		    U(2026, 3, 3, 5, 0),
		    "close at: ... at midnight when Tuesday is a holiday");
	}
}

/* Chile changes its clocks at midnight: the day itself moves. */
static void
t_santiago(void)
{
	struct sched s;
	const char *tz = "America/Santiago";
	char buf[64];

	/* Saturday 2026-04-04 24:00 -03 -> 23:00 -04 (03:00Z on the 5th) */
	mk("{\"sat\":[[\"22:00\",\"24:00\"]],\"sun\":[[\"00:00\","
	    "\"02:00\"]]}", &s);
	ok(open_at(&s, tz, U(2026, 4, 5, 0, 59)) == 0 &&
	    open_at(&s, tz, U(2026, 4, 5, 1, 0)) == 1 &&
	    open_at(&s, tz, U(2026, 4, 5, 3, 30)) == 1 &&
	    open_at(&s, tz, U(2026, 4, 5, 5, 59)) == 1 &&
	    open_at(&s, tz, U(2026, 4, 5, 6, 0)) == 0,
	    "Santiago fall back at midnight: Saturday 22:00-24:00 lasts 3h");
	ok(sched_close_at(&s, tz, none, 0, U(2026, 4, 5, 1, 0)) ==
	    U(2026, 4, 5, 6, 0),
	    "Santiago: Saturday night runs on into Sunday 00:00-02:00");
	ok(sched_today(&s, tz, none, 0, U(2026, 4, 5, 3, 30), buf,
	    sizeof(buf)) == 0 && strcmp(buf, "22:00-24:00") == 0,
	    "Santiago: the repeated 23:30 is still Saturday");

	/* Sunday 2026-09-06 00:00 -04 -> 01:00 -03 (04:00Z): no midnight */
	mk("{\"sat\":[[\"20:00\",\"24:00\"]],\"sun\":[[\"00:00\","
	    "\"03:00\"]]}", &s);
	ok(sched_close_at(&s, tz, none, 0, U(2026, 9, 6, 3, 0)) ==
	    U(2026, 9, 6, 6, 0) && open_at(&s, tz, U(2026, 9, 6, 4, 0)) == 1,
	    "Santiago spring forward at midnight: Saturday runs into Sunday");
	mk("{\"sun\":[[\"00:00\",\"03:00\"]]}", &s);
	ok(sched_next_open(&s, tz, none, 0, U(2026, 9, 6, 0, 0)) ==
	    U(2026, 9, 6, 4, 0) && sched_close_at(&s, tz, none, 0,
	    U(2026, 9, 6, 4, 0)) == U(2026, 9, 6, 6, 0),
	    "Santiago: Sunday 00:00 does not exist, opens at 01:00 -03, 2h");
	sched_default(&s);
	ok(open_at(&s, tz, U(2026, 9, 7, 11, 59)) == 0 &&
	    open_at(&s, tz, U(2026, 9, 7, 12, 0)) == 1,
	    "Santiago: Monday 09:00 -03 is 12:00Z");
}

/*
 * A sweep through 2026 every 37 minutes in each zone: away from a DST
 * change the answer is the wall clock's; everywhere, next_open lands on an
 * open instant just after a closed one and close_at on the first closed one.
 */
static void
t_sweep(void)
{
	static const char *const zones[] = { "America/New_York",
	    "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe",
	    "America/Santiago" };
	struct sched s;
	struct tm a, b, w;
	int64_t t, t0 = U(2026, 1, 1, 0, 0), t1 = U(2027, 1, 1, 0, 0), x;
	time_t tt;
	int z, i, m, wd, want, bad_wall, bad_next, bad_close, checked;
	char desc[160];

	mk("{\"mon\":[[\"09:00\",\"12:00\"],[\"13:00\",\"18:00\"]],"
	    "\"tue\":[[\"09:00\",\"18:00\"]],\"wed\":[[\"00:30\",\"02:30\"]],"
	    "\"thu\":[[\"01:00\",\"03:00\"],[\"22:00\",\"24:00\"]],"
	    "\"fri\":[[\"00:00\",\"06:00\"],[\"09:00\",\"17:45\"]],"
	    "\"sat\":[[\"10:00\",\"14:00\"],[\"23:00\",\"24:00\"]],"
	    "\"sun\":[[\"00:00\",\"03:00\"],[\"22:00\",\"24:00\"]]}", &s);
	for (z = 0; z < 5; z++) {
		/* the campaign's zone as TZ: the sweep and sched share it */
		setenv("TZ", zones[z], 1);
		tzset();
		bad_wall = bad_next = bad_close = checked = 0;
		for (t = t0; t < t1; t += 37 * MIN) {
			tt = (time_t)(t / 1000);
			localtime_r(&tt, &w);
			tt = (time_t)(t / 1000 - 27 * 3600);
			localtime_r(&tt, &a);
			tt = (time_t)(t / 1000 + 27 * 3600);
			localtime_r(&tt, &b);
			if (a.tm_gmtoff == b.tm_gmtoff) {
				wd = (w.tm_wday + 6) % 7;
				m = w.tm_hour * 60 + w.tm_min;
				for (want = 0, i = 0; i < s.n[wd]; i++)
					want |= s.iv[wd][i].start <= m &&
					    m < s.iv[wd][i].end;
				if (open_at(&s, zones[z], t) != want)
					bad_wall++;
				checked++;
			}
			x = sched_next_open(&s, zones[z], none, 0, t);
			if (x < t || open_at(&s, zones[z], x) != 1 ||
			    (x > t && open_at(&s, zones[z], x - 1) != 0))
				bad_next++;
			x = sched_close_at(&s, zones[z], none, 0, t);
			if (open_at(&s, zones[z], t) == 1 ? (x <= t ||
			    open_at(&s, zones[z], x - 1) != 1 ||
			    open_at(&s, zones[z], x) != 0) : x != -1)
				bad_close++;
		}
		snprintf(desc, sizeof(desc), "sweep %s: open as the wall clock "
		    "says away from DST changes (%d instants)", zones[z],
		    checked);
		ok(bad_wall == 0 && checked > 13000, desc);
		snprintf(desc, sizeof(desc), "sweep %s: next_open and "
		    "close_at land on the edges", zones[z]);
		ok(bad_next == 0 && bad_close == 0, desc);
		if (bad_wall + bad_next + bad_close)
			printf("# wall %d next %d close %d\n", bad_wall,
			    bad_next, bad_close);
	}
	unsetenv("TZ");
	tzset();
}

int
main(void)
{
	t_default();
	t_parse();
	t_zones();
	t_newyork();
	t_london();
	t_kolkata_lordhowe();
	t_holidays();
	t_today();
	t_next_close();
	t_santiago();
	t_sweep();
	printf("1..%d\n", n);
	if (failed)
		printf("# %d of %d failed\n", failed, n);
	return failed != 0;
}
