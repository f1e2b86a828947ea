/*
 * lease — offers as leases: a conversation offered to one agent (or, for
 * ringall, to several) until a deadline.  Unclaimed at the deadline, the
 * offer lapses: each agent's lapse is reported, a non-ringall lapse is
 * remembered so the next offer goes to someone else, and the agents' held
 * offers are released.  Pure bookkeeping in memory; routerd turns it into
 * events (after a restart offered conversations are simply offered again).
 */
#ifndef PARLEY_LEASE_H
#define PARLEY_LEASE_H

#include <stddef.h>

#define LEASE_MAXAGENTS	64	/* agents on one offer */
#define LEASE_MAXLAPSED	16	/* lapses remembered per conversation */

struct lease_tab;

struct lease_tab *lease_new(void);
void	lease_free(struct lease_tab *);
/*
 * Offer conv to agents[0..n) until now + timeout_ms (a live offer of conv is
 * replaced).  Every agent holds the offer until it ends.  -1 on bad input.
 */
int	lease_offer(struct lease_tab *, const char *conv,
	    const char *const *agents, size_t n, int ringall, long long now,
	    long long timeout_ms);
/* 1 while conv has a live offer. */
int	lease_live(struct lease_tab *, const char *conv);
/* The live offer's deadline, or 0. */
long long lease_deadline(struct lease_tab *, const char *conv);
/* 1 if agent is on conv's live offer. */
int	lease_has(struct lease_tab *, const char *conv, const char *agent);
/* The agents on conv's live offer (up to cap); returns the count. */
size_t	lease_agents(struct lease_tab *, const char *conv, const char **out,
	    size_t cap);
/* 1 if agent let conv's offer lapse (since the last reset). */
int	lease_lapsed(struct lease_tab *, const char *conv, const char *agent);
/* Forget conv's lapses: everyone may be offered it again. */
void	lease_reset_lapsed(struct lease_tab *, const char *conv);
/* Live offers agent holds (each holds one of its slots). */
int	lease_held(struct lease_tab *, const char *agent);
/* End conv's live offer (claimed, withdrawn); its lapses are kept. */
void	lease_withdraw(struct lease_tab *, const char *conv);
/* Forget conv entirely (assigned, closed, dequeued). */
void	lease_drop(struct lease_tab *, const char *conv);
/*
 * End every live offer whose deadline is <= now: cb(conv, agent, ringall,
 * arg) once per agent on it, non-ringall lapses remembered, offers ended.
 * Returns the number of offers that lapsed.
 */
size_t	lease_expire(struct lease_tab *, long long now,
	    void (*cb)(const char *conv, const char *agent, int ringall,
	    void *arg), void *arg);

#endif
