/*
 * lease — offers with deadlines, lapses and held slots; see lease.h.
 * Two tables (lib/htab): offers by conversation, held counts by agent.
 */
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "lease.h"
#include "log.h"

#define NAMEMAX	64

struct offer {
	struct htab_node hn;
	char		 conv[NAMEMAX];
	char		 agents[LEASE_MAXAGENTS][NAMEMAX];
	int		 n;			/* 0: no live offer */
	int		 ringall;
	long long	 deadline;
	char		 lapsed[LEASE_MAXLAPSED][NAMEMAX];
	int		 nlapsed;
};

struct held {
	struct htab_node hn;
	char		 agent[NAMEMAX];
	int		 n;
};

struct lease_tab {
	struct htab	 o;		/* struct offer by conv */
	struct htab	 h;		/* struct held by agent */
};

static int
offer_eq(const struct htab_node *n, const void *key, size_t keylen)
{
	const struct offer *o = HTAB_ENTRY(n, struct offer, hn);

	return strlen(o->conv) == keylen && memcmp(o->conv, key, keylen) == 0;
}

static int
held_eq(const struct htab_node *n, const void *key, size_t keylen)
{
	const struct held *h = HTAB_ENTRY(n, struct held, hn);

	return strlen(h->agent) == keylen &&
	    memcmp(h->agent, key, keylen) == 0;
}

struct lease_tab *
lease_new(void)
{
	struct lease_tab *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	htab_init(&t->o);
	htab_init(&t->h);
	return t;
}

void
lease_free(struct lease_tab *t)
{
	struct htab_iter it;
	struct htab_node *n;

	if (t == NULL)
		return;
	htab_iter_init(&it, &t->o);
	while ((n = htab_iter_next(&it)) != NULL)
		free(HTAB_ENTRY(n, struct offer, hn));
	htab_iter_init(&it, &t->h);
	while ((n = htab_iter_next(&it)) != NULL)
		free(HTAB_ENTRY(n, struct held, hn));
	htab_free(&t->o);
	htab_free(&t->h);
	free(t);
}

static struct offer *
find(struct lease_tab *t, const char *conv)
{
	struct htab_node *n;

	n = htab_find(&t->o, conv, strlen(conv), offer_eq);
	return n ? HTAB_ENTRY(n, struct offer, hn) : NULL;
}

static struct held *
held(struct lease_tab *t, const char *agent, int create)
{
	struct htab_node *n;
	struct held *h;

	if ((n = htab_find(&t->h, agent, strlen(agent), held_eq)) != NULL)
		return HTAB_ENTRY(n, struct held, hn);
	if (!create)
		return NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatalx("out of memory");
	strncpy(h->agent, agent, NAMEMAX - 1);
	if (htab_insert(&t->h, &h->hn, h->agent, strlen(h->agent)) == -1)
		fatalx("out of memory");
	return h;
}

/* End o's live offer: its agents release the slots they held. */
static void
end(struct lease_tab *t, struct offer *o)
{
	struct held *h;
	int i;

	for (i = 0; i < o->n; i++)
		if ((h = held(t, o->agents[i], 0)) != NULL && h->n > 0)
			h->n--;
	o->n = 0;
	o->deadline = 0;
}

int
lease_offer(struct lease_tab *t, const char *conv, const char *const *agents,
    size_t n, int ringall, long long now, long long timeout_ms)
{
	struct offer *o;
	size_t i;

	if (conv == NULL || strlen(conv) >= NAMEMAX || n == 0 ||
	    n > LEASE_MAXAGENTS || timeout_ms < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (agents[i] == NULL || strlen(agents[i]) >= NAMEMAX)
			return -1;
	if ((o = find(t, conv)) == NULL) {
		if ((o = calloc(1, sizeof(*o))) == NULL)
			fatalx("out of memory");
		strcpy(o->conv, conv);
		if (htab_insert(&t->o, &o->hn, o->conv, strlen(o->conv)) == -1)
			fatalx("out of memory");
	} else
		end(t, o);
	for (i = 0; i < n; i++) {
		strcpy(o->agents[i], agents[i]);
		held(t, agents[i], 1)->n++;
	}
	o->n = (int)n;
	o->ringall = ringall;
	o->deadline = now + timeout_ms;
	return 0;
}

int
lease_live(struct lease_tab *t, const char *conv)
{
	struct offer *o = find(t, conv);

	return o != NULL && o->n > 0;
}

long long
lease_deadline(struct lease_tab *t, const char *conv)
{
	struct offer *o = find(t, conv);

	return o && o->n > 0 ? o->deadline : 0;
}

int
lease_has(struct lease_tab *t, const char *conv, const char *agent)
{
	struct offer *o = find(t, conv);
	int i;

	for (i = 0; o && i < o->n; i++)
		if (strcmp(o->agents[i], agent) == 0)
			return 1;
	return 0;
}

size_t
lease_agents(struct lease_tab *t, const char *conv, const char **out,
    size_t cap)
{
	struct offer *o = find(t, conv);
	size_t i;

	for (i = 0; o && i < (size_t)o->n && i < cap; i++)
		out[i] = o->agents[i];
	return i;
}

int
lease_lapsed(struct lease_tab *t, const char *conv, const char *agent)
{
	struct offer *o = find(t, conv);
	int i;

	for (i = 0; o && i < o->nlapsed; i++)
		if (strcmp(o->lapsed[i], agent) == 0)
			return 1;
	return 0;
}

void
lease_reset_lapsed(struct lease_tab *t, const char *conv)
{
	struct offer *o = find(t, conv);

	if (o)
		o->nlapsed = 0;
}

int
lease_held(struct lease_tab *t, const char *agent)
{
	struct held *h = held(t, agent, 0);

	return h ? h->n : 0;
}

void
lease_withdraw(struct lease_tab *t, const char *conv)
{
	struct offer *o = find(t, conv);

	if (o)
		end(t, o);
}

void
lease_drop(struct lease_tab *t, const char *conv)
{
	struct offer *o = find(t, conv);

	if (o == NULL)
		return;
	end(t, o);
	htab_remove(&t->o, &o->hn);
	free(o);
}

size_t
lease_expire(struct lease_tab *t, long long now,
    void (*cb)(const char *, const char *, int, void *), void *arg)
{
	struct htab_iter it;
	struct htab_node *hn;
	struct offer *o;
	size_t n = 0;
	int j;

	htab_iter_init(&it, &t->o);
	while ((hn = htab_iter_next(&it)) != NULL) {
		o = HTAB_ENTRY(hn, struct offer, hn);
		if (o->n == 0 || o->deadline > now)
			continue;
		for (j = 0; j < o->n; j++) {
			if (cb)
				cb(o->conv, o->agents[j], o->ringall, arg);
			/* ringall rings everyone again; others move on */
			if (!o->ringall && o->nlapsed < LEASE_MAXLAPSED &&
			    !lease_lapsed(t, o->conv, o->agents[j]))
				strcpy(o->lapsed[o->nlapsed++], o->agents[j]);
		}
		end(t, o);
		n++;
	}
	return n;
}
