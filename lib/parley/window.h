/*
 * window — may a message go out on a channel now?  The customer service
 * windows of providers.md §1.5 and §2.4 as one pure function, so routerd
 * refuses a send before any provider call (and says what is allowed
 * instead), `msg window --expiring` lists what closes soon, and the unit
 * tests pin the edges.  No I/O, no allocation, no clock: the caller passes
 * the times (ms since the epoch).
 *
 * A window is [last inbound, last inbound + length): at exactly 24 hours
 * after the customer's last message it is closed, one millisecond earlier
 * it is open.  A last inbound time of 0 (or less) means the customer never
 * wrote; one in the future (clock skew) counts as "just now".
 */
#ifndef PARLEY_WINDOW_H
#define PARLEY_WINDOW_H

#define WINDOW_FREE_MS	(24LL * 3600 * 1000)		/* 24 hours */
#define WINDOW_HUMAN_MS	(7LL * 24 * 3600 * 1000)	/* 7 days */

enum window_kind {
	WIN_FREE,		/* free-form messages allowed */
	WIN_TEMPLATE_ONLY,	/* WhatsApp: approved templates only */
	WIN_HUMAN_AGENT_TAG,	/* Messenger/Instagram: humans, tagged */
	WIN_CLOSED		/* nothing may be sent */
};

struct window_verdict {
	enum window_kind kind;
	long long	closes_at;	/* ms, when this allowance ends; 0 none */
	const char	*tag;		/* "HUMAN_AGENT" when the send must
					   carry it, else NULL */
	char		why[200];	/* refusals: one line, what is allowed
					   instead; "" when allowed */
};

/*
 * May we send on channel ("sms", "whatsapp", "messenger", "instagram";
 * case-insensitive) at now_ms, given the customer's last inbound message
 * time (0 = never wrote), whether the sender is a human agent and whether
 * the message is an approved template?  1 allowed, 0 refused with v->why
 * set.  SMS has no window.  WhatsApp: free-form within 24h, templates
 * always.  Messenger and Instagram (no templates there; is_template is
 * ignored): free within 24h, then a human agent only, with the HUMAN_AGENT
 * tag, until 7 days; then closed.  An unknown channel is refused (WIN_CLOSED).
 * v may be NULL.
 */
int	window_check(const char *channel, long long last_in_ms, long long now_ms,
	    int human, int is_template, struct window_verdict *v);

/*
 * When the conversation's current window closes (ms), for
 * `msg window --expiring`: WhatsApp last_in + 24h; Messenger and Instagram
 * last_in + 24h, or + 7 days for a human agent; 0 for SMS (never), an
 * unknown channel or a customer who never wrote.
 */
long long window_closes(const char *channel, long long last_in_ms, int human);

#endif
