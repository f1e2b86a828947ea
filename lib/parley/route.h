/*
 * route — whom to offer a waiting conversation to: the pure decision.
 *
 * routerd owns the queues, the leases and the store; this module only looks
 * at one campaign's members with their live state and says who gets the
 * offer, with Asterisk app_queue's semantics adapted to chats (an agent holds
 * up to the campaign's max interactions at once, and an offer is a lease that
 * can lapse).  It does no I/O and keeps no state, so every strategy can be
 * tested against tables worked out by hand, and `msg route --explain` prints
 * exactly the comparison that was made.
 */
#ifndef PARLEY_ROUTE_H
#define PARLEY_ROUTE_H

#include <stddef.h>

/* Same names and order as valid_strategies[] (lib/valid.h). */
enum route_strategy {
	RS_RINGALL, RS_LINEAR, RS_RRMEMORY, RS_LEASTRECENT, RS_FEWESTCALLS,
	RS_RANDOM, RS_WRANDOM, RS_LEASTBUSY, RS_MANUAL
};

/* Agent status.  0 is deliberately none of them: a member whose status was
 * never filled in is not available. */
#define ROUTE_AVAILABLE	1
#define ROUTE_BREAK	2
#define ROUTE_BUSY	3
#define ROUTE_OFFLINE	4

/* Name -> strategy: 0, or -1 when s is not one of valid_strategies[]. */
int	route_strategy_parse(const char *s, enum route_strategy *out);
/* Strategy -> its name; "unknown" for a value outside the enum. */
const char *route_strategy_name(enum route_strategy s);

struct route_member {		/* one campaign member, with its live state */
	const char *agent;	/* name */
	int position;		/* 1.. (order in the campaign) */
	int penalty;		/* 0.. */
	int receive;		/* permission to receive interactions */
	int status;		/* ROUTE_AVAILABLE, ROUTE_BREAK, ... */
	int active;		/* conversations assigned now */
	int max;		/* the campaign's max interactions per agent */
	long long wrapup_until;	/* ms; in wrap-up while now < this */
	long long last_ts;	/* ms of the last assignment; 0 never */
	int taken;		/* conversations taken (fewestcalls) */
	int offered;		/* offered this conversation, it lapsed: skip */
	int busy_offer;		/* holds a pending offer for another
				 * conversation (non-ringall): skip */
};

/*
 * Why a member was not chosen.  The eligibility reasons are checked in this
 * order and the first that applies is reported; RW_TIER means eligible, but
 * an eligible member of a lower penalty exists.
 */
enum route_why {
	RW_OK = 0, RW_PERMISSION, RW_STATUS, RW_CAPACITY, RW_WRAPUP,
	RW_LAPSED, RW_OFFERED_ELSEWHERE, RW_TIER
};

/* A short static text ("at capacity"); the explain line adds the numbers. */
const char *route_why_text(enum route_why w);
/* Agent status -> "available", "break", "busy", "offline" or "unknown". */
const char *route_status_name(int status);
/* The status named s (ROUTE_AVAILABLE...), or 0 when s names none. */
int	route_status_parse(const char *s);

/*
 * Why m cannot take a conversation at now, or RW_OK.  RW_OFFERED_ELSEWHERE
 * is only ever the last reason: under ringall route_choose treats it as
 * eligible (an agent may be rung for several conversations at once).
 */
enum route_why route_eligible(const struct route_member *m, long long now);

/*
 * Per member, what route_choose saw.  metric is what was compared, set for
 * every member that passed eligibility (RW_OK or RW_TIER) and 0 otherwise:
 *   ringall      penalty (everyone of the lowest one is rung)
 *   linear       position
 *   rrmemory     steps after rr_last in position order, wrapping (1 = next;
 *                rr_last itself comes last); from the start when rr_last is
 *                NULL or not a member
 *   leastrecent  last_ts (0, never, first)
 *   fewestcalls  taken
 *   random       the member's ordinal among the lowest tier (0..k-1), in the
 *                order given; the one whose ordinal equals the draw rnd(k)
 *                is chosen
 *   wrandom      its draw rnd((penalty + 1) * 1000): lowest wins, no tiers
 *   leastbusy    active (ties: lowest last_ts)
 *   manual       0 (nobody is offered: agents claim)
 * Remaining ties go to the lower position, then the earlier index.
 */
struct route_explain {
	enum route_why why;
	long long metric;
	int chosen;
};

/*
 * Decide whom to offer a waiting conversation to among m[0..n-1].  rr_last:
 * the agent last given a conversation of this campaign (rrmemory), or NULL.
 * rnd(k): uniform in [0,k), needed by random and wrandom only (a NULL rnd
 * there is a bug).  Writes the chosen indexes to out, at most outcap of them
 * (ringall: every eligible member of the lowest penalty, in the order given;
 * manual: none; the others: one) and returns how many it wrote.  When ex is
 * not NULL it receives one entry per member; its chosen marks whom the
 * decision picked even past outcap (out may be NULL with outcap 0 to explain).
 */
size_t	route_choose(enum route_strategy s, const struct route_member *m,
	    size_t n, const char *rr_last, long long now,
	    unsigned (*rnd)(unsigned), size_t *out, size_t outcap,
	    struct route_explain *ex);

#endif
