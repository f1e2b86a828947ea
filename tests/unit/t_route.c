/*
 * t_route — the routing decision against tables worked out by hand.
 *
 * Each strategy on a small campaign with Asterisk app_queue's semantics:
 * eligibility and the reason for every skip, penalty tiers (a free tier-0
 * member beats every tier-1 one; tier 1 gets it when tier 0 is all busy),
 * rrmemory's wrap-around and an unknown last agent, ties, an empty campaign,
 * the capacity boundary, and wrandom's weights: over 100,000 seeded draws a
 * penalty-0 member beats a penalty-3 one in the exact proportion the metric
 * rnd((penalty + 1) * 1000) implies.  Last, random tables checked against a
 * naive sort-based reference of the same rules.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "valid.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

#define NOW	1000000LL
#define MAXM	16

/* An available member with permission, 0 of 3 active, never assigned. */
static struct route_member
M(const char *agent, int position, int penalty)
{
	struct route_member m;

	memset(&m, 0, sizeof(m));
	m.agent = agent;
	m.position = position;
	m.penalty = penalty;
	m.receive = 1;
	m.status = ROUTE_AVAILABLE;
	m.max = 3;
	return m;
}

/* A scripted rnd: returns script[i] (mod k) and records each k asked. */
static unsigned script[64], asked[64];
static int nscript, nasked;

static unsigned
scripted(unsigned k)
{
	unsigned v;

	v = nasked < nscript ? script[nasked] : 0;
	if (nasked < 64)
		asked[nasked] = k;
	nasked++;
	return v % k;
}

static void
set_script(int cnt, const unsigned *v)
{
	if (cnt > 0)
		memcpy(script, v, sizeof(unsigned) * (size_t)cnt);
	nscript = cnt;
	nasked = 0;
}

/* A seeded PRNG: splitmix64, reduced by modulo (bias < 2^-50 here). */
static uint64_t seed;

static uint64_t
next64(void)
{
	uint64_t z;

	z = (seed += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned
prng(unsigned k)
{
	return (unsigned)(next64() % k);
}

/* Choose one: the index, or -1 when nobody (and "more" when several). */
static int
one(enum route_strategy s, const struct route_member *m, size_t cnt,
    const char *rr_last, struct route_explain *ex)
{
	size_t out[MAXM], r;

	r = route_choose(s, m, cnt, rr_last, NOW, scripted, out, MAXM, ex);
	if (r == 0)
		return -1;
	if (r > 1)
		return -2;
	return (int)out[0];
}

static void
t_names(void)
{
	enum route_strategy s;
	int i, good = 1;

	for (i = 0; valid_strategies[i] != NULL; i++) {
		if (route_strategy_parse(valid_strategies[i], &s) != 0 ||
		    (int)s != i ||
		    strcmp(route_strategy_name(s), valid_strategies[i]) != 0)
			good = 0;
	}
	ok(good && i == RS_MANUAL + 1,
	    "every valid_strategies name parses, in enum order, and round-trips");
	ok(route_strategy_parse("roundrobin", &s) == -1 &&
	    route_strategy_parse("RINGALL", &s) == -1 &&
	    route_strategy_parse("", &s) == -1 &&
	    route_strategy_parse(NULL, &s) == -1,
	    "unknown, upper-case, empty and NULL names are refused");
	ok(strcmp(route_strategy_name((enum route_strategy)99), "unknown") == 0,
	    "an out-of-range strategy is named unknown");
	ok(strcmp(route_status_name(ROUTE_BREAK), "break") == 0 &&
	    strcmp(route_status_name(0), "unknown") == 0,
	    "status names, and 0 is no status");
}

static void
t_eligible(void)
{
	struct route_member m, z;
	const char *t[RW_TIER + 1];
	int i, j, distinct = 1;

	m = M("ann", 1, 0);
	ok(route_eligible(&m, NOW) == RW_OK, "available, free, permitted: eligible");
	m.receive = 0;
	ok(route_eligible(&m, NOW) == RW_PERMISSION, "no receive permission");
	m = M("ann", 1, 0);
	m.status = ROUTE_BREAK;
	ok(route_eligible(&m, NOW) == RW_STATUS, "on a break: status");
	m.status = ROUTE_BUSY;
	ok(route_eligible(&m, NOW) == RW_STATUS, "busy: status");
	m.status = ROUTE_OFFLINE;
	ok(route_eligible(&m, NOW) == RW_STATUS, "offline: status");
	memset(&z, 0, sizeof(z));
	z.receive = 1;
	z.max = 3;
	ok(route_eligible(&z, NOW) == RW_STATUS,
	    "a status never filled in (0) is not available");
	m = M("ann", 1, 0);
	m.active = 2;
	ok(route_eligible(&m, NOW) == RW_OK, "capacity: 2 of 3 is eligible");
	m.active = 3;
	ok(route_eligible(&m, NOW) == RW_CAPACITY,
	    "capacity boundary: active == max is not eligible");
	m.active = 4;
	ok(route_eligible(&m, NOW) == RW_CAPACITY, "over capacity (max lowered)");
	m = M("ann", 1, 0);
	m.max = 0;
	ok(route_eligible(&m, NOW) == RW_CAPACITY, "max 0: nobody takes any");
	m = M("ann", 1, 0);
	m.wrapup_until = NOW + 1;
	ok(route_eligible(&m, NOW) == RW_WRAPUP, "wrap-up ends 1 ms from now");
	m.wrapup_until = NOW;
	ok(route_eligible(&m, NOW) == RW_OK, "wrap-up ending now is over");
	m = M("ann", 1, 0);
	m.offered = 1;
	ok(route_eligible(&m, NOW) == RW_LAPSED, "offer of this conversation lapsed");
	m = M("ann", 1, 0);
	m.busy_offer = 1;
	ok(route_eligible(&m, NOW) == RW_OFFERED_ELSEWHERE,
	    "holding an offer for another conversation");
	m = M("ann", 1, 0);
	m.receive = 0;
	m.status = ROUTE_BREAK;
	m.active = 3;
	m.wrapup_until = NOW + 5;
	m.offered = m.busy_offer = 1;
	ok(route_eligible(&m, NOW) == RW_PERMISSION, "precedence: permission first");
	m.receive = 1;
	ok(route_eligible(&m, NOW) == RW_STATUS, "then status");
	m.status = ROUTE_AVAILABLE;
	ok(route_eligible(&m, NOW) == RW_CAPACITY, "then capacity");
	m.active = 0;
	ok(route_eligible(&m, NOW) == RW_WRAPUP, "then wrap-up");
	m.wrapup_until = 0;
	ok(route_eligible(&m, NOW) == RW_LAPSED, "then lapsed, then elsewhere");

	for (i = 0; i <= RW_TIER; i++)
		t[i] = route_why_text((enum route_why)i);
	for (i = 0; i <= RW_TIER; i++)
		for (j = 0; j < i; j++)
			if (t[i] == NULL || t[i][0] == '\0' || strcmp(t[i], t[j]) == 0)
				distinct = 0;
	ok(distinct && strcmp(route_why_text(RW_CAPACITY), "at capacity") == 0 &&
	    strcmp(route_why_text((enum route_why)42), "unknown") == 0,
	    "every reason has its own text");
}

static void
t_empty(void)
{
	struct route_member m[1];
	size_t out[1] = { 77 };
	int s, good = 1;

	for (s = RS_RINGALL; s <= RS_MANUAL; s++) {
		set_script(0, NULL);
		if (route_choose((enum route_strategy)s, m, 0, "ann", NOW,
		    scripted, out, 1, NULL) != 0 || out[0] != 77 || nasked != 0)
			good = 0;
	}
	ok(good, "n = 0: every strategy chooses nobody and draws nothing");

	m[0] = M("ann", 1, 0);
	m[0].status = ROUTE_BREAK;
	good = 1;
	for (s = RS_RINGALL; s <= RS_MANUAL; s++) {
		set_script(0, NULL);
		if (one((enum route_strategy)s, m, 1, NULL, NULL) != -1 ||
		    nasked != 0)
			good = 0;
	}
	ok(good, "nobody eligible: every strategy chooses nobody");
}

static void
t_linear(void)
{
	struct route_member m[4];
	struct route_explain ex[4];

	/* given out of position order: the array order must not matter */
	m[0] = M("cat", 3, 0);
	m[1] = M("ann", 1, 0);
	m[2] = M("dan", 4, 0);
	m[3] = M("bob", 2, 0);
	ok(one(RS_LINEAR, m, 4, NULL, ex) == 1 && ex[1].chosen &&
	    ex[1].metric == 1 && ex[0].metric == 3 && !ex[0].chosen,
	    "linear: position 1 (ann), metric = position");
	m[1].active = 3;
	ok(one(RS_LINEAR, m, 4, NULL, ex) == 3 && ex[1].why == RW_CAPACITY &&
	    ex[1].metric == 0,
	    "linear: ann at capacity, so position 2 (bob)");
	m[1].active = 2;
	m[1].last_ts = NOW - 1;
	m[1].taken = 900;
	ok(one(RS_LINEAR, m, 4, NULL, NULL) == 1,
	    "linear: ann with a free slot again, whatever her load");
}

static void
t_ringall(void)
{
	struct route_member m[6];
	struct route_explain ex[6];
	size_t out[6], r;

	m[0] = M("ann", 1, 0);
	m[1] = M("bob", 2, 0);
	m[1].busy_offer = 1;		/* ringall rings him anyway */
	m[2] = M("cat", 3, 0);
	m[2].offered = 1;		/* lapsed on this one: not again */
	m[3] = M("dan", 4, 1);		/* eligible, higher tier */
	m[4] = M("eve", 5, 0);
	m[4].status = ROUTE_BUSY;
	m[5] = M("fay", 6, 0);
	r = route_choose(RS_RINGALL, m, 6, NULL, NOW, NULL, out, 6, ex);
	ok(r == 3 && out[0] == 0 && out[1] == 1 && out[2] == 5,
	    "ringall: every eligible member of penalty 0 (ann, bob, fay)");
	ok(ex[1].why == RW_OK && ex[1].chosen && ex[2].why == RW_LAPSED &&
	    ex[3].why == RW_TIER && !ex[3].chosen && ex[3].metric == 1 &&
	    ex[4].why == RW_STATUS && ex[0].metric == 0,
	    "ringall explain: another offer is no bar, lapsed, tier, status");
	r = route_choose(RS_RINGALL, m, 6, NULL, NOW, NULL, out, 2, ex);
	ok(r == 2 && out[0] == 0 && out[1] == 1 && ex[5].chosen,
	    "ringall: outcap 2 writes two; explain still marks all three");
	r = route_choose(RS_RINGALL, m, 6, NULL, NOW, NULL, NULL, 0, ex);
	ok(r == 0 && ex[0].chosen && ex[1].chosen && ex[5].chosen,
	    "explain only (out NULL, outcap 0)");
	m[0].active = 3;
	m[1].status = ROUTE_BREAK;
	m[5].wrapup_until = NOW + 1000;
	r = route_choose(RS_RINGALL, m, 6, NULL, NOW, NULL, out, 6, ex);
	ok(r == 1 && out[0] == 3 && ex[3].why == RW_OK,
	    "ringall: tier 0 all unable, so tier 1 (dan) alone");
}

static void
t_rrmemory(void)
{
	struct route_member m[4];
	struct route_explain ex[4];
	const char *last;
	char seq[16];
	int i, c;

	m[0] = M("ann", 1, 0);
	m[1] = M("bob", 2, 0);
	m[2] = M("cat", 3, 0);
	m[3] = M("dan", 4, 0);
	ok(one(RS_RRMEMORY, m, 4, "bob", ex) == 2 && ex[2].metric == 1 &&
	    ex[3].metric == 2 && ex[0].metric == 3 && ex[1].metric == 4,
	    "rrmemory: after bob comes cat; metrics are steps after bob");
	ok(one(RS_RRMEMORY, m, 4, "dan", NULL) == 0,
	    "rrmemory: after dan, wrap around to ann");
	m[3].status = ROUTE_OFFLINE;
	ok(one(RS_RRMEMORY, m, 4, "cat", NULL) == 0,
	    "rrmemory: after cat, dan offline, wrap to ann");
	m[3].status = ROUTE_AVAILABLE;
	ok(one(RS_RRMEMORY, m, 4, "zed", ex) == 0 && ex[0].metric == 1 &&
	    ex[3].metric == 4,
	    "rrmemory: rr_last not a member: from the start");
	ok(one(RS_RRMEMORY, m, 4, NULL, NULL) == 0,
	    "rrmemory: no rr_last: from the start");
	m[0].active = m[2].active = m[3].active = 3;
	ok(one(RS_RRMEMORY, m, 4, "bob", ex) == 1 && ex[1].metric == 4,
	    "rrmemory: only bob free: bob again, after everyone else");
	m[0].active = m[2].active = m[3].active = 0;
	m[2].penalty = 1;
	ok(one(RS_RRMEMORY, m, 4, "bob", ex) == 3 && ex[2].why == RW_TIER,
	    "rrmemory: cat is next but in tier 1, so dan");
	m[2].penalty = 0;
	/* members given in reverse: the rotation follows position */
	{
		struct route_member r[3];

		r[0] = M("cat", 3, 0);
		r[1] = M("bob", 2, 0);
		r[2] = M("ann", 1, 0);
		ok(one(RS_RRMEMORY, r, 3, "ann", NULL) == 1 &&
		    one(RS_RRMEMORY, r, 3, "cat", NULL) == 2,
		    "rrmemory: array order does not matter");
	}
	/* gaps in positions (a member removed): still the next one */
	m[1].position = 5;	/* ann 1, cat 3, dan 4, bob 5 */
	ok(one(RS_RRMEMORY, m, 4, "dan", NULL) == 1 &&
	    one(RS_RRMEMORY, m, 4, "bob", NULL) == 0 &&
	    one(RS_RRMEMORY, m, 4, "ann", NULL) == 2,
	    "rrmemory: positions with gaps rotate in order");
	m[1].position = 2;

	/* two agents, each assignment remembered: they alternate */
	last = NULL;
	for (i = 0; i < 6; i++) {
		c = one(RS_RRMEMORY, m, 2, last, NULL);
		seq[i] = c == 0 ? 'a' : c == 1 ? 'b' : '?';
		last = m[c < 0 ? 0 : c].agent;
	}
	seq[6] = '\0';
	ok(strcmp(seq, "ababab") == 0, "rrmemory: two agents receive alternately");
}

static void
t_leastrecent(void)
{
	struct route_member m[4];
	struct route_explain ex[4];

	m[0] = M("ann", 1, 0);
	m[0].last_ts = 5000;
	m[1] = M("bob", 2, 0);		/* never assigned */
	m[2] = M("cat", 3, 0);
	m[2].last_ts = 3000;
	m[3] = M("dan", 4, 0);
	m[3].last_ts = 3000;
	ok(one(RS_LEASTRECENT, m, 4, NULL, ex) == 1 && ex[1].metric == 0 &&
	    ex[0].metric == 5000,
	    "leastrecent: never assigned (0) first");
	m[1].wrapup_until = NOW + 1;
	ok(one(RS_LEASTRECENT, m, 4, NULL, ex) == 2 && ex[1].why == RW_WRAPUP,
	    "leastrecent: bob in wrap-up; cat and dan tie at 3000, cat's "
	    "position is lower");
	m[2].position = 9;
	ok(one(RS_LEASTRECENT, m, 4, NULL, NULL) == 3,
	    "leastrecent: the tie follows position, not array order");
}

static void
t_fewestcalls(void)
{
	struct route_member m[4];
	struct route_explain ex[4];

	m[0] = M("ann", 1, 0);
	m[0].taken = 7;
	m[1] = M("bob", 2, 0);
	m[1].taken = 2;
	m[2] = M("cat", 3, 0);
	m[2].taken = 2;
	m[3] = M("dan", 4, 0);
	m[3].taken = 1;
	m[3].receive = 0;
	ok(one(RS_FEWESTCALLS, m, 4, NULL, ex) == 1 && ex[1].metric == 2 &&
	    ex[3].why == RW_PERMISSION,
	    "fewestcalls: dan (1) may not receive; bob and cat tie at 2, bob "
	    "by position");
	m[1].offered = 1;
	ok(one(RS_FEWESTCALLS, m, 4, NULL, ex) == 2 && ex[1].why == RW_LAPSED,
	    "fewestcalls: bob's offer lapsed, so cat");
}

static void
t_random(void)
{
	struct route_member m[5];
	struct route_explain ex[5];
	unsigned v;
	int c, hits[5] = { 0 }, i, good;

	m[0] = M("ann", 1, 0);
	m[1] = M("bob", 2, 1);		/* tier 1 */
	m[2] = M("cat", 3, 0);
	m[3] = M("dan", 4, 0);
	m[3].status = ROUTE_BREAK;
	m[4] = M("eve", 5, 0);
	for (v = 0, good = 1; v < 3; v++) {
		set_script(1, &v);
		c = one(RS_RANDOM, m, 5, NULL, ex);
		if (nasked != 1 || asked[0] != 3 ||
		    c != (v == 0 ? 0 : v == 1 ? 2 : 4) || ex[c].metric != v)
			good = 0;
	}
	ok(good, "random: one draw rnd(3) over the tier (ann, cat, eve) picks "
	    "that ordinal");
	ok(ex[1].why == RW_TIER && ex[3].why == RW_STATUS && ex[0].metric == 0 &&
	    ex[2].metric == 1 && ex[4].metric == 2,
	    "random explain: ordinals, tier, status");

	seed = 42;
	for (i = 0; i < 30000; i++) {
		route_choose(RS_RANDOM, m, 5, NULL, NOW, prng, NULL, 0, ex);
		for (c = 0; c < 5; c++)
			if (ex[c].chosen)
				hits[c]++;
	}
	ok(hits[1] == 0 && hits[3] == 0 && abs(hits[0] - 10000) < 500 &&
	    abs(hits[2] - 10000) < 500 && abs(hits[4] - 10000) < 500,
	    "random: uniform over the tier in 30,000 seeded decisions");
	printf("# random: %d %d %d of 30000\n", hits[0], hits[2], hits[4]);
}

static void
t_wrandom(void)
{
	struct route_member m[4], two[2];
	struct route_explain ex[4];
	unsigned v[3];
	double p, exact, tol;
	long wins, pairs;
	int i, x, y;

	m[0] = M("ann", 1, 0);
	m[1] = M("bob", 2, 3);
	m[2] = M("cat", 3, 1);
	m[2].status = ROUTE_BUSY;
	m[3] = M("dan", 4, 1);
	v[0] = 900; v[1] = 100; v[2] = 1500;
	set_script(3, v);
	ok(one(RS_WRANDOM, m, 4, NULL, ex) == 1 && nasked == 3 &&
	    asked[0] == 1000 && asked[1] == 4000 && asked[2] == 2000 &&
	    ex[1].metric == 100 && ex[0].metric == 900 && ex[2].metric == 0,
	    "wrandom: draws rnd((penalty+1)*1000) per eligible member; "
	    "penalty 3 drawing 100 beats penalty 0 drawing 900: no tiers");
	ok(ex[0].why == RW_OK && ex[3].why == RW_OK && ex[2].why == RW_STATUS,
	    "wrandom explain: higher penalties are not skipped as a tier");
	v[0] = 250; v[1] = 250; v[2] = 250;
	set_script(3, v);
	ok(one(RS_WRANDOM, m, 4, NULL, NULL) == 0,
	    "wrandom: equal draws go to the lower position");

	/*
	 * Two members, penalties 0 and 3: X uniform on 0..999, Y on
	 * 0..3999; ann (position 1) wins when X <= Y.  P = sum over x of
	 * (4000 - x) / 4000 / 1000 = (4,000,000 - 499,500) / 4,000,000
	 * = 0.875125 (0.874875 strictly less, 1/4000 ties).
	 */
	pairs = 0;
	for (x = 0; x < 1000; x++)
		for (y = x; y < 4000; y++)
			pairs++;
	exact = pairs / (1000.0 * 4000.0);
	two[0] = M("ann", 1, 0);
	two[1] = M("bob", 2, 3);
	seed = 20260101;
	wins = 0;
	for (i = 0; i < 100000; i++) {
		size_t o;

		if (route_choose(RS_WRANDOM, two, 2, NULL, NOW, prng, &o, 1,
		    NULL) == 1 && o == 0)
			wins++;
	}
	p = wins / 100000.0;
	tol = 5 * sqrt(exact * (1 - exact) / 100000.0);	/* ~0.0052 */
	ok(fabs(exact - 0.875125) < 1e-9, "wrandom: the hand-derived 0.875125 "
	    "matches the exact sum");
	ok(fabs(p - exact) < tol, "wrandom: penalty 0 beats penalty 3 in "
	    "0.875125 of 100,000 seeded draws (within 5 sigma)");
	printf("# wrandom: %.5f observed, %.6f expected, tolerance %.4f\n", p,
	    exact, tol);
}

static void
t_leastbusy(void)
{
	struct route_member m[4];
	struct route_explain ex[4];

	m[0] = M("ann", 1, 0);
	m[0].active = 2;
	m[1] = M("bob", 2, 0);
	m[1].active = 1;
	m[1].last_ts = 9000;
	m[2] = M("cat", 3, 0);
	m[2].active = 1;
	m[2].last_ts = 4000;
	m[3] = M("dan", 4, 0);
	m[3].active = 1;
	m[3].last_ts = 4000;
	ok(one(RS_LEASTBUSY, m, 4, NULL, ex) == 2 && ex[0].metric == 2 &&
	    ex[2].metric == 1,
	    "leastbusy: bob, cat, dan have 1; cat and dan least recent; cat "
	    "by position");
	m[0].active = 0;
	m[0].last_ts = NOW - 1;
	ok(one(RS_LEASTBUSY, m, 4, NULL, NULL) == 0,
	    "leastbusy: fewest active beats least recent");
	m[0].active = 3;
	m[1].active = m[2].active = m[3].active = 2;
	ok(one(RS_LEASTBUSY, m, 4, NULL, ex) == 2 && ex[0].why == RW_CAPACITY,
	    "leastbusy: ann full, the rest tie on 2 and fall back to last_ts");
}

static void
t_manual(void)
{
	struct route_member m[2];
	struct route_explain ex[2];

	m[0] = M("ann", 1, 0);
	m[1] = M("bob", 2, 1);
	m[1].status = ROUTE_BREAK;
	set_script(0, NULL);
	ok(one(RS_MANUAL, m, 2, "ann", ex) == -1 && nasked == 0 &&
	    ex[0].why == RW_OK && !ex[0].chosen && ex[1].why == RW_STATUS,
	    "manual: nobody is offered; explain still says who could claim");
}

/*
 * The tier rule for every tiered strategy: zed, alone in tier 0, is the
 * worst by every metric (last position, most recent, most taken, busiest)
 * and still wins; when zed cannot take it, tier 1 does.
 */
static void
t_tiers(void)
{
	static const enum route_strategy tiered[] = { RS_LINEAR, RS_RRMEMORY,
	    RS_LEASTRECENT, RS_FEWESTCALLS, RS_RANDOM, RS_LEASTBUSY };
	struct route_member m[4];
	struct route_explain ex[4];
	size_t out[4], r;
	unsigned v = 1;
	int c, ti, good, good2, good3;

	m[0] = M("ann", 1, 1);
	m[1] = M("bob", 2, 1);
	m[1].last_ts = 100;
	m[2] = M("cat", 3, 2);
	m[3] = M("zed", 4, 0);
	m[3].last_ts = NOW - 1;
	m[3].taken = 500;
	m[3].active = 2;

	good = good2 = good3 = 1;
	for (ti = 0; ti < (int)(sizeof(tiered) / sizeof(tiered[0])); ti++) {
		set_script(1, &v);
		m[3].active = 2;
		m[3].status = ROUTE_AVAILABLE;
		c = one(tiered[ti], m, 4, "ann", ex);
		if (c != 3 || ex[0].why != RW_TIER || ex[1].why != RW_TIER ||
		    ex[2].why != RW_TIER) {
			good = 0;
			printf("# %s chose %d\n", route_strategy_name(tiered[ti]), c);
		}
		m[3].status = ROUTE_BUSY;
		set_script(1, &v);
		c = one(tiered[ti], m, 4, "ann", ex);
		if (c != 0 && c != 1)
			good2 = 0;
		if (ex[2].why != RW_TIER || ex[3].why != RW_STATUS)
			good3 = 0;
		m[3].status = ROUTE_AVAILABLE;
		m[3].active = 3;
		set_script(1, &v);
		if (one(tiered[ti], m, 4, "ann", NULL) != c)
			good2 = 0;
	}
	ok(good, "tiers: a free tier-0 member beats tier 1 under every tiered "
	    "strategy, however bad its metric");
	ok(good2, "tiers: tier 0 busy or full, tier 1 gets it");
	ok(good3, "tiers: tier 2 still waits behind tier 1");

	/* the one-per-strategy expectations for tier 1 (ann, bob) */
	m[3].status = ROUTE_BUSY;
	set_script(1, &v);
	ok(one(RS_LINEAR, m, 4, NULL, NULL) == 0 &&
	    one(RS_RRMEMORY, m, 4, "ann", NULL) == 1 &&
	    one(RS_LEASTRECENT, m, 4, NULL, NULL) == 0 &&
	    one(RS_RANDOM, m, 4, NULL, NULL) == 1,
	    "tiers: within tier 1 each strategy applies its own rule");
	m[0].status = m[1].status = ROUTE_OFFLINE;
	r = route_choose(RS_RINGALL, m, 4, NULL, NOW, NULL, out, 4, ex);
	ok(r == 1 && out[0] == 2 && ex[2].why == RW_OK,
	    "tiers: only tier 2 left: it is rung");
}

/* ---- random tables against a naive reference ---- */

static int
ref_key_less(enum route_strategy s, const struct route_member *m, int a,
    int b, int rrpos)
{
	const struct route_member *x = &m[a], *y = &m[b];
	long long kx = 0, ky = 0;

	switch (s) {
	case RS_LINEAR:
		break;
	case RS_RRMEMORY:
		/* after rrpos first, then the wrapped ones; each by position */
		kx = x->position > rrpos ? 0 : 1;
		ky = y->position > rrpos ? 0 : 1;
		break;
	case RS_LEASTRECENT: kx = x->last_ts; ky = y->last_ts; break;
	case RS_FEWESTCALLS: kx = x->taken; ky = y->taken; break;
	case RS_LEASTBUSY:
		if (x->active != y->active)
			return x->active < y->active;
		kx = x->last_ts; ky = y->last_ts;
		break;
	default:
		break;
	}
	if (kx != ky)
		return kx < ky;
	if (x->position != y->position)
		return x->position < y->position;
	return a < b;
}

static void
t_reference(void)
{
	static const enum route_strategy det[] = { RS_RINGALL, RS_LINEAR,
	    RS_RRMEMORY, RS_LEASTRECENT, RS_FEWESTCALLS, RS_LEASTBUSY };
	struct route_member m[MAXM];
	struct route_explain ex[MAXM];
	char names[MAXM][16];
	size_t out[MAXM], r;
	int trial, cnt, i, di, minpen, best, rrpos, rri, bad = 0, elig, ringn;
	enum route_strategy s;
	enum route_why w;

	seed = 7;
	for (trial = 0; trial < 20000; trial++) {
		cnt = (int)(next64() % MAXM);
		for (i = 0; i < cnt; i++) {
			snprintf(names[i], sizeof(names[i]), "a%d", i);
			m[i] = M(names[i], 1 + (int)(next64() % 12),
			    (int)(next64() % 3));
			m[i].receive = next64() % 10 != 0;
			m[i].status = 1 + (int)(next64() % 5 == 0 ?
			    next64() % 4 : 0);
			m[i].max = 1 + (int)(next64() % 3);
			m[i].active = (int)(next64() % 4);
			m[i].wrapup_until = next64() % 6 == 0 ? NOW + 1 : NOW;
			m[i].last_ts = next64() % 4 == 0 ? 0 :
			    (long long)(next64() % 5) * 1000;
			m[i].taken = (int)(next64() % 4);
			m[i].offered = next64() % 8 == 0;
			m[i].busy_offer = next64() % 8 == 0;
		}
		rri = cnt > 0 && next64() % 4 != 0 ? (int)(next64() % cnt) : -1;
		for (di = 0; di < (int)(sizeof(det) / sizeof(det[0])); di++) {
			s = det[di];
			r = route_choose(s, m, (size_t)cnt,
			    rri >= 0 ? m[rri].agent : "nobody", NOW, NULL, out,
			    MAXM, ex);
			/* the reference: filter, lowest penalty, sort */
			minpen = 1 << 30;
			elig = 0;
			for (i = 0; i < cnt; i++) {
				w = route_eligible(&m[i], NOW);
				if (s == RS_RINGALL && w == RW_OFFERED_ELSEWHERE)
					w = RW_OK;
				if (w == RW_OK && m[i].penalty < minpen)
					minpen = m[i].penalty;
				if (w == RW_OK)
					elig++;
				if (ex[i].why != (w == RW_OK ? ex[i].why : w))
					bad++;
			}
			rrpos = rri >= 0 ? m[rri].position : 0;
			best = -1;
			ringn = 0;
			for (i = 0; i < cnt; i++) {
				w = route_eligible(&m[i], NOW);
				if (s == RS_RINGALL && w == RW_OFFERED_ELSEWHERE)
					w = RW_OK;
				if (w != RW_OK)
					continue;
				if (ex[i].why != (m[i].penalty == minpen ?
				    RW_OK : RW_TIER))
					bad++;
				if (m[i].penalty != minpen)
					continue;
				if (s == RS_RINGALL) {
					if (r <= (size_t)ringn ||
					    out[ringn] != (size_t)i)
						bad++;
					ringn++;
				} else if (best < 0 ||
				    ref_key_less(s, m, i, best, rrpos))
					best = i;
			}
			if (s == RS_RINGALL ? r != (size_t)ringn :
			    elig == 0 ? r != 0 :
			    r != 1 || out[0] != (size_t)best) {
				if (bad < 5)
					printf("# trial %d %s: got %zu/%zu want "
					    "%d\n", trial,
					    route_strategy_name(s), r,
					    r ? out[0] : 0, best);
				bad++;
			}
		}
	}
	ok(bad == 0, "20,000 random tables x 6 strategies agree with a naive "
	    "filter-tier-sort reference, explain reasons included");
}

int
main(void)
{
	t_names();
	t_eligible();
	t_empty();
	t_linear();
	t_ringall();
	t_rrmemory();
	t_leastrecent();
	t_fewestcalls();
	t_random();
	t_wrandom();
	t_leastbusy();
	t_manual();
	t_tiers();
	t_reference();
	printf("1..%d\n", n);
	if (failed)
		printf("# %d of %d failed\n", failed, n);
	return failed != 0;
}
