/*
 * route — the routing decision, with Asterisk app_queue's semantics.
 *
 * app_queue gives every member a metric (penalty * 1000000 plus the
 * strategy's own number) and rings the lowest; wrandom alone folds the
 * penalty into a random weight instead of a tier.  We keep that shape but
 * compare (penalty, metric, tie-breaks) as a tuple, so no metric can spill
 * into the next tier and the explain line shows the strategy's own number.
 * A decision is one O(n) pass over the members (two for rrmemory, ringall
 * and random) with no allocation: routerd makes one per waiting
 * conversation every time an agent frees up, so this is its inner loop.
 */
#include <limits.h>
#include <string.h>

#include "log.h"
#include "route.h"

static const char *const names[] = {
	"ringall", "linear", "rrmemory", "leastrecent", "fewestcalls",
	"random", "wrandom", "leastbusy", "manual"
};
#define NSTRATEGIES	(sizeof(names) / sizeof(names[0]))

int
route_strategy_parse(const char *s, enum route_strategy *out)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < NSTRATEGIES; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum route_strategy)i;
			return 0;
		}
	return -1;
}

const char *
route_strategy_name(enum route_strategy s)
{
	if ((unsigned)s >= NSTRATEGIES)
		return "unknown";
	return names[s];
}

const char *
route_why_text(enum route_why w)
{
	switch (w) {
	case RW_OK:			return "eligible";
	case RW_PERMISSION:		return "no receive permission";
	case RW_STATUS:			return "not available";
	case RW_CAPACITY:		return "at capacity";
	case RW_WRAPUP:			return "in wrap-up";
	case RW_LAPSED:			return "offer lapsed";
	case RW_OFFERED_ELSEWHERE:	return "holding another offer";
	case RW_TIER:			return "a lower penalty is eligible";
	}
	return "unknown";
}

const char *
route_status_name(int status)
{
	switch (status) {
	case ROUTE_AVAILABLE:	return "available";
	case ROUTE_BREAK:	return "break";
	case ROUTE_BUSY:	return "busy";
	case ROUTE_OFFLINE:	return "offline";
	}
	return "unknown";
}

int
route_status_parse(const char *s)
{
	int k;

	for (k = ROUTE_AVAILABLE; k <= ROUTE_OFFLINE; k++)
		if (strcmp(s, route_status_name(k)) == 0)
			return k;
	return 0;
}

enum route_why
route_eligible(const struct route_member *m, long long now)
{
	if (!m->receive)
		return RW_PERMISSION;
	if (m->status != ROUTE_AVAILABLE)
		return RW_STATUS;
	if (m->active >= m->max)
		return RW_CAPACITY;
	if (now < m->wrapup_until)
		return RW_WRAPUP;
	if (m->offered)
		return RW_LAPSED;
	if (m->busy_offer)	/* keep last: ringall ignores it */
		return RW_OFFERED_ELSEWHERE;
	return RW_OK;
}

static enum route_why
why_for(const struct route_member *m, long long now, int ringall)
{
	enum route_why w;

	w = route_eligible(m, now);
	if (ringall && w == RW_OFFERED_ELSEWHERE)
		return RW_OK;
	return w;
}

/* wrandom's draw bound, (penalty + 1) * 1000, kept inside unsigned. */
static unsigned
weight(int penalty)
{
	if (penalty < 0)
		penalty = 0;
	if ((unsigned)penalty >= UINT_MAX / 1000 - 1)
		return UINT_MAX / 1000 * 1000;
	return ((unsigned)penalty + 1) * 1000;
}

static unsigned
draw(unsigned (*rnd)(unsigned), unsigned k)
{
	unsigned d;

	if ((d = rnd(k)) >= k)
		fatalx("route: rnd(%u) returned %u", k, d);
	return d;
}

size_t
route_choose(enum route_strategy s, const struct route_member *m, size_t n,
    const char *rr_last, long long now, unsigned (*rnd)(unsigned),
    size_t *out, size_t outcap, struct route_explain *ex)
{
	const struct route_member *p;
	long long rrpos = 0, wrap = 0, key = 0, key2 = 0, bkey = 0, bkey2 = 0;
	size_t i, best = n, k = 0, j, nout = 0;
	unsigned d = 0;
	int have = 0, minpen = 0, ringall = s == RS_RINGALL, better;
	int tiered = s != RS_WRANDOM && s != RS_MANUAL;
	enum route_why w;

	if ((unsigned)s >= NSTRATEGIES)
		fatalx("route_choose: strategy %d", (int)s);
	if ((s == RS_RANDOM || s == RS_WRANDOM) && rnd == NULL)
		fatalx("route_choose: %s without rnd", names[s]);

	if (s == RS_RRMEMORY) {
		/* Asterisk keeps rrpos; we find it from the agent's name. */
		for (i = 0; i < n; i++) {
			if (m[i].position > wrap)
				wrap = m[i].position;
			if (rr_last != NULL && rrpos == 0 && m[i].agent != NULL &&
			    strcmp(m[i].agent, rr_last) == 0)
				rrpos = m[i].position;
		}
	}

	/*
	 * Pass 1: eligibility, the lowest penalty, and for the strategies
	 * with a fixed metric the best member of that penalty.  Meeting a
	 * lower penalty starts the tier (and the best) afresh.
	 */
	for (i = 0; i < n; i++) {
		p = &m[i];
		w = why_for(p, now, ringall);
		if (ex != NULL) {
			ex[i].why = w;
			ex[i].metric = 0;
			ex[i].chosen = 0;
		}
		if (w != RW_OK)
			continue;
		switch (s) {
		case RS_RINGALL:	key = p->penalty; break;
		case RS_LINEAR:		key = p->position; break;
		case RS_RRMEMORY:
			key = p->position > rrpos ? p->position - rrpos :
			    p->position - rrpos + wrap;
			break;
		case RS_LEASTRECENT:	key = p->last_ts; break;
		case RS_FEWESTCALLS:	key = p->taken; break;
		case RS_LEASTBUSY:	key = p->active; key2 = p->last_ts; break;
		case RS_WRANDOM:	key = draw(rnd, weight(p->penalty)); break;
		case RS_RANDOM:		/* the ordinal, in pass 2 */
		case RS_MANUAL:		key = 0; break;
		}
		if (ex != NULL && s != RS_RANDOM)
			ex[i].metric = key;
		if (s == RS_MANUAL)
			continue;
		if (tiered) {
			if (have && p->penalty > minpen)
				continue;
			if (!have || p->penalty < minpen) {
				have = 1;
				minpen = p->penalty;
				k = 0;
				best = n;
			}
		}
		k++;
		if (best == n)
			better = 1;
		else if (key != bkey)
			better = key < bkey;
		else if (key2 != bkey2)
			better = key2 < bkey2;
		else
			better = p->position < m[best].position;
		if (better) {
			best = i;
			bkey = key;
			bkey2 = key2;
		}
	}

	switch (s) {
	case RS_MANUAL:
		break;
	case RS_RINGALL:
	case RS_RANDOM:
		/* Pass 2: walk the lowest tier. */
		if (k == 0)
			break;
		if (s == RS_RANDOM) {
			if (k > UINT_MAX)
				fatalx("route_choose: %zu members", k);
			d = draw(rnd, (unsigned)k);
		}
		for (i = 0, j = 0; i < n && j < k; i++) {
			w = ex != NULL ? ex[i].why : why_for(&m[i], now, ringall);
			if (w != RW_OK || m[i].penalty != minpen)
				continue;
			if (s == RS_RANDOM) {
				if (ex != NULL)
					ex[i].metric = (long long)j;
				if (j++ != d)
					continue;
			}
			if (nout < outcap)
				out[nout++] = i;
			if (ex != NULL)
				ex[i].chosen = 1;
			if (s == RS_RINGALL)
				j++;
			else if (ex == NULL)
				break;
		}
		break;
	default:
		if (best == n)
			break;
		if (nout < outcap)
			out[nout++] = best;
		if (ex != NULL)
			ex[best].chosen = 1;
		break;
	}

	if (ex != NULL && tiered && have)
		for (i = 0; i < n; i++)
			if (ex[i].why == RW_OK && m[i].penalty > minpen)
				ex[i].why = RW_TIER;
	return nout;
}
