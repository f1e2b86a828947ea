/*
 * lease — offers with deadlines, lapses and held slots; see lease.h.
 * Two small chained hash tables: offers by conversation, held counts by
 * agent.
 */
#include <stdlib.h>
#include <string.h>

#include "lease.h"
#include "log.h"

#define NB	1024
#define NAMEMAX	64

struct offer {
	char		 conv[NAMEMAX];
	char		 agents[LEASE_MAXAGENTS][NAMEMAX];
	int		 n;			/* 0: no live offer */
	int		 ringall;
	long long	 deadline;
	char		 lapsed[LEASE_MAXLAPSED][NAMEMAX];
	int		 nlapsed;
	struct offer	*next;
};

struct held {
	char		 agent[NAMEMAX];
	int		 n;
	struct held	*next;
};

struct lease_tab {
	struct offer	*o[NB];
	struct held	*h[NB];
};

static unsigned
hash(const char *s)
{
	unsigned h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h & (NB - 1);
}

struct lease_tab *
lease_new(void)
{
	return calloc(1, sizeof(struct lease_tab));
}

void
lease_free(struct lease_tab *t)
{
	struct offer *o, *on;
	struct held *h, *hn;
	int i;

	if (t == NULL)
		return;
	for (i = 0; i < NB; i++) {
		for (o = t->o[i]; o; o = on) {
			on = o->next;
			free(o);
		}
		for (h = t->h[i]; h; h = hn) {
			hn = h->next;
			free(h);
		}
	}
	free(t);
}

static struct offer *
find(struct lease_tab *t, const char *conv)
{
	struct offer *o;

	for (o = t->o[hash(conv)]; o; o = o->next)
		if (strcmp(o->conv, conv) == 0)
			return o;
	return NULL;
}

static struct held *
held(struct lease_tab *t, const char *agent, int create)
{
	struct held *h;
	unsigned k = hash(agent);

	for (h = t->h[k]; h; h = h->next)
		if (strcmp(h->agent, agent) == 0)
			return h;
	if (!create)
		return NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatalx("out of memory");
	strncpy(h->agent, agent, NAMEMAX - 1);
	h->next = t->h[k];
	t->h[k] = h;
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
		unsigned k = hash(conv);

		if ((o = calloc(1, sizeof(*o))) == NULL)
			fatalx("out of memory");
		strcpy(o->conv, conv);
		o->next = t->o[k];
		t->o[k] = o;
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
	struct offer **op, *o;

	for (op = &t->o[hash(conv)]; (o = *op) != NULL; op = &o->next)
		if (strcmp(o->conv, conv) == 0) {
			end(t, o);
			*op = o->next;
			free(o);
			return;
		}
}

size_t
lease_expire(struct lease_tab *t, long long now,
    void (*cb)(const char *, const char *, int, void *), void *arg)
{
	struct offer *o;
	size_t n = 0;
	int i, j;

	for (i = 0; i < NB; i++)
		for (o = t->o[i]; o; o = o->next) {
			if (o->n == 0 || o->deadline > now)
				continue;
			for (j = 0; j < o->n; j++) {
				if (cb)
					cb(o->conv, o->agents[j], o->ringall,
					    arg);
				/* ringall rings everyone again; others move on */
				if (!o->ringall &&
				    o->nlapsed < LEASE_MAXLAPSED &&
				    !lease_lapsed(t, o->conv, o->agents[j]))
					strcpy(o->lapsed[o->nlapsed++],
					    o->agents[j]);
			}
			end(t, o);
			n++;
		}
	return n;
}
