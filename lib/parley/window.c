/*
 * window — the customer service windows of WhatsApp (§1.5: 24 hours of
 * free-form after each customer message, templates at any time) and of
 * Messenger and Instagram (§2.1, §2.4: 24 hours, then up to 7 days for a
 * human agent with the HUMAN_AGENT tag).  SMS has none.  Sending outside a
 * window costs a provider error (131047, 10/2018278) and, worse, a policy
 * strike on the business account, so routerd asks here first and shows the
 * agent the refusal line as it is.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "window.h"

enum chan { CH_UNKNOWN, CH_SMS, CH_WHATSAPP, CH_MESSENGER, CH_INSTAGRAM };

static enum chan
chan_of(const char *channel)
{
	if (channel == NULL)
		return CH_UNKNOWN;
	if (strcasecmp(channel, "sms") == 0)
		return CH_SMS;
	if (strcasecmp(channel, "whatsapp") == 0)
		return CH_WHATSAPP;
	if (strcasecmp(channel, "messenger") == 0)
		return CH_MESSENGER;
	if (strcasecmp(channel, "instagram") == 0)
		return CH_INSTAGRAM;
	return CH_UNKNOWN;
}

/* a + b for b >= 0, saturating instead of overflowing. */
static long long
sat_add(long long a, long long b)
{
	return a > LLONG_MAX - b ? LLONG_MAX : a + b;
}

/* "26h", "8d", "8d 3h": how long ago, as an agent reads it (age >= 0). */
static void
fmt_age(char *buf, size_t sz, long long age)
{
	long long h = age / (3600 * 1000LL);

	if (h < 72)
		snprintf(buf, sz, "%lldh", h);
	else if (h % 24 == 0)
		snprintf(buf, sz, "%lldd", h / 24);
	else
		snprintf(buf, sz, "%lldd %lldh", h / 24, h % 24);
}

static int
verdict(struct window_verdict *v, int allowed, enum window_kind kind,
    long long closes_at, const char *tag)
{
	v->kind = kind;
	v->closes_at = closes_at;
	v->tag = tag;
	if (allowed)
		v->why[0] = '\0';
	return allowed;
}

int
window_check(const char *channel, long long last_in_ms, long long now_ms,
    int human, int is_template, struct window_verdict *vp)
{
	struct window_verdict local;
	struct window_verdict *v = vp ? vp : &local;
	enum chan c = chan_of(channel);
	const char *name = c == CH_INSTAGRAM ? "Instagram" : "Messenger";
	long long age, free_end, human_end;
	char ago[32];

	memset(v, 0, sizeof(*v));
	switch (c) {
	case CH_SMS:
		return verdict(v, 1, WIN_FREE, 0, NULL);
	case CH_UNKNOWN:
		snprintf(v->why, sizeof(v->why), "unknown channel \"%.40s\": "
		    "nothing may be sent", channel ? channel : "(none)");
		return verdict(v, 0, WIN_CLOSED, 0, NULL);
	default:
		break;
	}

	if (last_in_ms <= 0) {
		if (c == CH_WHATSAPP) {
			if (is_template)
				return verdict(v, 1, WIN_TEMPLATE_ONLY, 0,
				    NULL);
			snprintf(v->why, sizeof(v->why), "the customer has "
			    "never written on WhatsApp, so there is no "
			    "24-hour window: send a template (msg send "
			    "--template NAME --lang CODE)");
			return verdict(v, 0, WIN_TEMPLATE_ONLY, 0, NULL);
		}
		snprintf(v->why, sizeof(v->why), "the customer has never "
		    "written on %s: wait for the customer to write", name);
		return verdict(v, 0, WIN_CLOSED, 0, NULL);
	}

	age = now_ms > last_in_ms ? now_ms - last_in_ms : 0;
	free_end = sat_add(last_in_ms, WINDOW_FREE_MS);
	human_end = sat_add(last_in_ms, WINDOW_HUMAN_MS);
	fmt_age(ago, sizeof(ago), age);

	if (age < WINDOW_FREE_MS)
		return verdict(v, 1, WIN_FREE, free_end, NULL);

	if (c == CH_WHATSAPP) {
		if (is_template)
			return verdict(v, 1, WIN_TEMPLATE_ONLY, 0, NULL);
		snprintf(v->why, sizeof(v->why), "outside WhatsApp's 24-hour "
		    "window (the customer last wrote %s ago): send a template "
		    "(msg send --template NAME --lang CODE)", ago);
		return verdict(v, 0, WIN_TEMPLATE_ONLY, 0, NULL);
	}

	/* Messenger, Instagram: no template escape; HUMAN_AGENT or nothing. */
	if (age < WINDOW_HUMAN_MS) {
		if (human)
			return verdict(v, 1, WIN_HUMAN_AGENT_TAG, human_end,
			    "HUMAN_AGENT");
		snprintf(v->why, sizeof(v->why), "outside %s's 24-hour window "
		    "(the customer last wrote %s ago); a human agent may "
		    "answer with the HUMAN_AGENT tag until 7 days after the "
		    "customer's last message", name, ago);
		return verdict(v, 0, WIN_HUMAN_AGENT_TAG, human_end, NULL);
	}
	snprintf(v->why, sizeof(v->why), "outside %s's 7-day human agent "
	    "window (the customer last wrote %s ago): wait for the customer "
	    "to write", name, ago);
	return verdict(v, 0, WIN_CLOSED, 0, NULL);
}

long long
window_closes(const char *channel, long long last_in_ms, int human)
{
	enum chan c = chan_of(channel);

	if (last_in_ms <= 0)
		return 0;
	switch (c) {
	case CH_WHATSAPP:
		return sat_add(last_in_ms, WINDOW_FREE_MS);
	case CH_MESSENGER:
	case CH_INSTAGRAM:
		return sat_add(last_in_ms, human ? WINDOW_HUMAN_MS :
		    WINDOW_FREE_MS);
	default:
		return 0;
	}
}
