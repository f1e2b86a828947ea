/*
 * t_window — the customer service windows (lib/parley/window.c) as routerd applies
 * them before any provider call: SMS with none; WhatsApp's 24 hours of
 * free-form and templates at any time; Messenger and Instagram's 24 hours
 * then 7 days for human agents with the HUMAN_AGENT tag.  Each edge is
 * taken at exactly the boundary and 1 ms before it; the refusal lines say
 * what is allowed instead.  TAP output.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "window.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

#define MIN	(60 * 1000LL)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)

/* 2026-03-02T12:00:00Z: the customer's last message in most tests */
static const long long T0 = 1772452800000LL;

static struct window_verdict v;

static int
chk(const char *ch, long long last, long long now, int human, int tmpl)
{
	int r;

	memset(&v, 0x5a, sizeof(v));	/* nothing left from a previous call */
	r = window_check(ch, last, now, human, tmpl, &v);
	if (r == 0)
		printf("# %s\n", v.why);
	return r;
}

/* An allowed verdict: kind, closes_at, tag, no why. */
static int
allowed(int r, enum window_kind k, long long closes, const char *tag)
{
	return r == 1 && v.kind == k && v.closes_at == closes &&
	    (tag ? v.tag != NULL && strcmp(v.tag, tag) == 0 : v.tag == NULL) &&
	    v.why[0] == '\0';
}

/* A refusal: kind, closes_at, no tag, one line holding a and b. */
static int
refused(int r, enum window_kind k, long long closes, const char *a,
    const char *b)
{
	return r == 0 && v.kind == k && v.closes_at == closes &&
	    v.tag == NULL && strchr(v.why, '\n') == NULL &&
	    strlen(v.why) < sizeof(v.why) - 1 && strstr(v.why, a) != NULL &&
	    (b == NULL || strstr(v.why, b) != NULL);
}

static void
t_sms(void)
{
	ok(allowed(chk("sms", T0, T0 + 10, 0, 0), WIN_FREE, 0, NULL),
	    "sms: allowed just after the customer wrote, no closing time");
	ok(allowed(chk("sms", 0, T0, 0, 0), WIN_FREE, 0, NULL),
	    "sms: allowed when the customer never wrote (no window)");
	ok(allowed(chk("sms", T0, T0 + 365 * DAY, 0, 0), WIN_FREE, 0, NULL),
	    "sms: allowed a year later, bot sender");
	ok(allowed(chk("sms", T0, T0 + 30 * DAY, 1, 1), WIN_FREE, 0, NULL),
	    "sms: human and template flags change nothing");
	ok(allowed(chk("SMS", T0, T0 + 30 * DAY, 0, 0), WIN_FREE, 0, NULL),
	    "sms: channel name is case-insensitive");
	ok(window_closes("sms", T0, 0) == 0 && window_closes("sms", T0, 1) == 0,
	    "sms: window_closes is 0 (never)");
}

static void
t_whatsapp(void)
{
	ok(allowed(chk("whatsapp", T0, T0, 0, 0), WIN_FREE, T0 + DAY, NULL),
	    "whatsapp: free-form the instant the customer wrote");
	ok(allowed(chk("whatsapp", T0, T0 + DAY - 1, 0, 0), WIN_FREE,
	    T0 + DAY, NULL), "whatsapp: free-form at 24h - 1 ms, closes at "
	    "last_in + 24h");
	ok(refused(chk("whatsapp", T0, T0 + DAY, 0, 0), WIN_TEMPLATE_ONLY, 0,
	    "outside WhatsApp's 24-hour window (the customer last wrote 24h "
	    "ago)", "send a template (msg send --template NAME --lang CODE)"),
	    "whatsapp: free-form refused at exactly 24h, template suggested");
	ok(refused(chk("whatsapp", T0, T0 + 26 * HOUR + 59 * MIN, 0, 0),
	    WIN_TEMPLATE_ONLY, 0, "outside WhatsApp's 24-hour window (the "
	    "customer last wrote 26h ago): send a template (msg send "
	    "--template NAME --lang CODE)", NULL),
	    "whatsapp: 26h59m says '26h ago', the whole line as specified");
	ok(refused(chk("whatsapp", T0, T0 + 26 * HOUR, 1, 0),
	    WIN_TEMPLATE_ONLY, 0, "24-hour window", "template"),
	    "whatsapp: a human agent is refused free-form too (no tag "
	    "escape on WhatsApp)");
	ok(refused(chk("whatsapp", T0, T0 + 9 * DAY + 5 * HOUR, 0, 0),
	    WIN_TEMPLATE_ONLY, 0, "last wrote 9d 5h ago", NULL),
	    "whatsapp: days shown as '9d 5h'");
	ok(refused(chk("whatsapp", T0, T0 + 10 * DAY, 0, 0),
	    WIN_TEMPLATE_ONLY, 0, "last wrote 10d ago", NULL),
	    "whatsapp: whole days shown as '10d'");

	ok(allowed(chk("whatsapp", T0, T0 + HOUR, 0, 1), WIN_FREE, T0 + DAY,
	    NULL), "whatsapp: template inside the window, free window shown");
	ok(allowed(chk("whatsapp", T0, T0 + DAY, 0, 1), WIN_TEMPLATE_ONLY, 0,
	    NULL), "whatsapp: template at exactly 24h allowed");
	ok(allowed(chk("whatsapp", T0, T0 + 400 * DAY, 0, 1),
	    WIN_TEMPLATE_ONLY, 0, NULL),
	    "whatsapp: template 400 days later allowed");

	ok(refused(chk("whatsapp", 0, T0, 0, 0), WIN_TEMPLATE_ONLY, 0,
	    "never written on WhatsApp", "send a template (msg send "
	    "--template NAME --lang CODE)"),
	    "whatsapp: never wrote -> free-form refused, template suggested");
	ok(refused(chk("whatsapp", 0, T0, 1, 0), WIN_TEMPLATE_ONLY, 0,
	    "never written", "template"),
	    "whatsapp: never wrote, human agent: refused as well");
	ok(allowed(chk("whatsapp", 0, T0, 0, 1), WIN_TEMPLATE_ONLY, 0, NULL),
	    "whatsapp: never wrote -> template allowed");
	ok(refused(chk("whatsapp", -5, T0, 0, 0), WIN_TEMPLATE_ONLY, 0,
	    "never written", NULL),
	    "whatsapp: a negative last_in counts as never wrote");

	ok(allowed(chk("whatsapp", T0 + HOUR, T0, 0, 0), WIN_FREE,
	    T0 + HOUR + DAY, NULL),
	    "whatsapp: last_in ahead of now (clock skew) counts as just now");
	ok(allowed(chk("WhatsApp", T0, T0 + HOUR, 0, 0), WIN_FREE, T0 + DAY,
	    NULL), "whatsapp: channel name is case-insensitive");

	ok(window_closes("whatsapp", T0, 0) == T0 + DAY &&
	    window_closes("whatsapp", T0, 1) == T0 + DAY,
	    "whatsapp: closes at last_in + 24h, human or not");
	ok(window_closes("whatsapp", 0, 0) == 0,
	    "whatsapp: never wrote -> no closing time");
}

static void
t_meta(const char *ch, const char *name)
{
	char d[160], a[160];

	snprintf(d, sizeof(d), "%s: bot free at 24h - 1 ms", ch);
	ok(allowed(chk(ch, T0, T0 + DAY - 1, 0, 0), WIN_FREE, T0 + DAY, NULL),
	    d);
	snprintf(d, sizeof(d), "%s: human inside 24h: free, no tag", ch);
	ok(allowed(chk(ch, T0, T0 + 3 * HOUR, 1, 0), WIN_FREE, T0 + DAY, NULL),
	    d);

	snprintf(a, sizeof(a), "outside %s's 24-hour window (the customer "
	    "last wrote 24h ago); a human agent may answer with the "
	    "HUMAN_AGENT tag until 7 days after the customer's last message",
	    name);
	snprintf(d, sizeof(d), "%s: bot refused at exactly 24h, told a "
	    "human may answer with HUMAN_AGENT", ch);
	ok(refused(chk(ch, T0, T0 + DAY, 0, 0), WIN_HUMAN_AGENT_TAG,
	    T0 + 7 * DAY, a, NULL), d);
	snprintf(d, sizeof(d), "%s: a bot's template gets no exception", ch);
	ok(refused(chk(ch, T0, T0 + 2 * DAY, 0, 1), WIN_HUMAN_AGENT_TAG,
	    T0 + 7 * DAY, "HUMAN_AGENT tag", NULL), d);

	snprintf(d, sizeof(d), "%s: human at exactly 24h: HUMAN_AGENT tag, "
	    "until last_in + 7d", ch);
	ok(allowed(chk(ch, T0, T0 + DAY, 1, 0), WIN_HUMAN_AGENT_TAG,
	    T0 + 7 * DAY, "HUMAN_AGENT"), d);
	snprintf(d, sizeof(d), "%s: human at 7d - 1 ms: still tagged", ch);
	ok(allowed(chk(ch, T0, T0 + 7 * DAY - 1, 1, 0), WIN_HUMAN_AGENT_TAG,
	    T0 + 7 * DAY, "HUMAN_AGENT"), d);
	snprintf(d, sizeof(d), "%s: human template at 3d: tagged like any "
	    "message", ch);
	ok(allowed(chk(ch, T0, T0 + 3 * DAY, 1, 1), WIN_HUMAN_AGENT_TAG,
	    T0 + 7 * DAY, "HUMAN_AGENT"), d);

	snprintf(a, sizeof(a), "outside %s's 7-day human agent window (the "
	    "customer last wrote 7d ago): wait for the customer to write",
	    name);
	snprintf(d, sizeof(d), "%s: human refused at exactly 7 days", ch);
	ok(refused(chk(ch, T0, T0 + 7 * DAY, 1, 0), WIN_CLOSED, 0, a, NULL),
	    d);
	snprintf(d, sizeof(d), "%s: bot refused at 7 days: closed", ch);
	ok(refused(chk(ch, T0, T0 + 7 * DAY, 0, 0), WIN_CLOSED, 0,
	    "wait for the customer to write", NULL), d);
	snprintf(d, sizeof(d), "%s: 30 days later, human: closed", ch);
	ok(refused(chk(ch, T0, T0 + 30 * DAY, 1, 1), WIN_CLOSED, 0,
	    "7-day human agent window", "30d ago"), d);

	snprintf(a, sizeof(a), "never written on %s", name);
	snprintf(d, sizeof(d), "%s: never wrote: closed for humans too", ch);
	ok(refused(chk(ch, 0, T0, 1, 0), WIN_CLOSED, 0, a,
	    "wait for the customer to write"), d);

	snprintf(d, sizeof(d), "%s: window_closes bot last_in + 24h, human "
	    "last_in + 7d, never wrote 0", ch);
	ok(window_closes(ch, T0, 0) == T0 + DAY &&
	    window_closes(ch, T0, 1) == T0 + 7 * DAY &&
	    window_closes(ch, 0, 1) == 0, d);
}

static void
t_odd(void)
{
	int r;

	ok(refused(chk("telegram", T0, T0, 1, 0), WIN_CLOSED, 0,
	    "unknown channel \"telegram\"", NULL),
	    "unknown channel: refused (fail closed)");
	ok(refused(chk(NULL, T0, T0, 1, 0), WIN_CLOSED, 0, "unknown channel",
	    NULL), "NULL channel: refused");
	ok(refused(chk("", T0, T0, 1, 0), WIN_CLOSED, 0, "unknown channel",
	    NULL), "empty channel: refused");
	ok(window_closes("telegram", T0, 1) == 0 &&
	    window_closes(NULL, T0, 1) == 0,
	    "unknown channel: window_closes 0");
	r = window_check("whatsapp", T0, T0 + 2 * DAY, 0, 0, NULL);
	ok(r == 0 && window_check("whatsapp", T0, T0, 0, 0, NULL) == 1,
	    "a NULL verdict is allowed");
	ok(window_closes("messenger", LLONG_MAX - HOUR, 1) == LLONG_MAX &&
	    allowed(chk("messenger", LLONG_MAX - HOUR, LLONG_MAX, 0, 0),
	    WIN_FREE, LLONG_MAX, NULL),
	    "last_in near LLONG_MAX: closing time saturates, no overflow");
	ok(refused(chk("messenger", 1, LLONG_MAX, 1, 0), WIN_CLOSED, 0,
	    "wait for the customer", NULL) && strlen(v.why) < 190,
	    "a huge age still fits one line");
}

int
main(void)
{
	t_sms();
	t_whatsapp();
	t_meta("messenger", "Messenger");
	t_meta("instagram", "Instagram");
	t_odd();
	printf("1..%d\n", n);
	if (failed)
		printf("# %d of %d failed\n", failed, n);
	return failed != 0;
}
