/*
 * routerd_attn — the ordered index behind the automatic "needs attention"
 * (routerd_work's work_attention_tick): the conversations whose customer
 * waits for an agent's answer, per campaign, oldest wait first, so that
 * each pass looks only at what is due instead of every conversation.
 *
 * Every conversation put (rs_conv_put) is noted: one that may come to need
 * attention (open, agent-operated, routed, not marked, its customer
 * waiting) gets an entry in its campaign's heap keyed by waiting_since; the
 * campaign's response threshold is read when the heap is looked at, so a
 * changed threshold applies at once, either way.  Nothing is taken out on
 * a put: an entry keeps the earliest wait it was given (a batch abandoned
 * after its put must not leave a due conversation unindexed), and
 * attn_take hands back whatever is due for the caller to check against
 * the store, and note again when it is not due yet.  An entry is thus
 * looked at once at its due time at most, plus once per wait.
 *
 * The index lives in memory: empty at start (and after a pass whose batch
 * was abandoned), when the caller fills it with one walk of the store.
 */
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "log.h"
#include "routerd.h"

struct acamp;

struct aent {
	struct htab_node hn;		/* in ents, by conversation id */
	char		 id[R_IDLEN];
	struct acamp	*c;
	int64_t		 ws;		/* waiting since, ms */
	size_t		 hi;		/* in c->heap */
};

struct acamp {
	struct htab_node hn;		/* in camps, by name */
	char		 name[64];
	struct aent	**heap;		/* min by ws */
	size_t		 n, cap;
};

static struct htab ents, camps;
static int loaded;

static int
ent_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct aent *e = HTAB_ENTRY(n, struct aent, hn);

	return strlen(e->id) == l && memcmp(e->id, k, l) == 0;
}

static int
camp_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct acamp *c = HTAB_ENTRY(n, struct acamp, hn);

	return strlen(c->name) == l && memcmp(c->name, k, l) == 0;
}

static void
hswap(struct acamp *c, size_t a, size_t b)
{
	struct aent *t = c->heap[a];

	c->heap[a] = c->heap[b];
	c->heap[b] = t;
	c->heap[a]->hi = a;
	c->heap[b]->hi = b;
}

static void
hup(struct acamp *c, size_t i)
{
	size_t p;

	while (i > 0 && c->heap[p = (i - 1) / 2]->ws > c->heap[i]->ws) {
		hswap(c, i, p);
		i = p;
	}
}

static void
hdown(struct acamp *c, size_t i)
{
	size_t l, r, m;

	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < c->n && c->heap[l]->ws < c->heap[m]->ws)
			m = l;
		if (r < c->n && c->heap[r]->ws < c->heap[m]->ws)
			m = r;
		if (m == i)
			return;
		hswap(c, i, m);
		i = m;
	}
}

static void
hpush(struct acamp *c, struct aent *e)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		if ((c->heap = reallocarray(c->heap, c->cap,
		    sizeof(*c->heap))) == NULL)
			fatalx("out of memory");
	}
	e->c = c;
	e->hi = c->n++;
	c->heap[e->hi] = e;
	hup(c, e->hi);
}

static void
hremove(struct acamp *c, struct aent *e)
{
	size_t i = e->hi;

	c->n--;
	if (i != c->n) {
		c->heap[i] = c->heap[c->n];
		c->heap[i]->hi = i;
		hdown(c, i);
		hup(c, i);
	}
	e->c = NULL;
}

static struct acamp *
camp_of(const char *name)
{
	struct htab_node *n;
	struct acamp *c;
	size_t l = strlen(name);

	if ((n = htab_find(&camps, name, l, camp_eq)) != NULL)
		return HTAB_ENTRY(n, struct acamp, hn);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatalx("out of memory");
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (htab_insert(&camps, &c->hn, c->name, strlen(c->name)) == -1)
		fatalx("out of memory");
	return c;
}

int
attn_candidate(const struct conv *cv)
{
	return cv->status == CV_OPEN && cv->mode == CM_AGENT &&
	    !cv->attention && cv->unrouted[0] == '\0' && cv->waiting_since > 0;
}

void
attn_note(const struct conv *cv)
{
	struct htab_node *n;
	struct aent *e;
	struct acamp *c;
	size_t l = strlen(cv->id);

	if (!loaded || !attn_candidate(cv))
		return;
	if ((n = htab_find(&ents, cv->id, l, ent_eq)) != NULL) {
		e = HTAB_ENTRY(n, struct aent, hn);
		if (strcmp(e->c->name, cv->campaign) == 0) {
			if (cv->waiting_since < e->ws) {
				e->ws = cv->waiting_since;
				hup(e->c, e->hi);
			}
			return;
		}
		hremove(e->c, e);	/* moved to another campaign */
	} else {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			fatalx("out of memory");
		snprintf(e->id, sizeof(e->id), "%s", cv->id);
		if (htab_insert(&ents, &e->hn, e->id, l) == -1)
			fatalx("out of memory");
	}
	c = camp_of(cv->campaign);
	e->ws = cv->waiting_since;
	hpush(c, e);
}

size_t
attn_take(long long now, char (*ids)[R_IDLEN], size_t max)
{
	struct htab_iter it;
	struct htab_node *n;
	struct acamp *c;
	struct aent *e;
	struct camp cp;
	long long thr;
	size_t k = 0;

	htab_iter_init(&it, &camps);
	while (k < max && (n = htab_iter_next(&it)) != NULL) {
		c = HTAB_ENTRY(n, struct acamp, hn);
		if (c->n == 0)
			continue;
		camp_get(c->name, &cp);
		thr = (long long)cp.response_threshold_s * 1000;
		while (k < max && c->n > 0 && now - c->heap[0]->ws >= thr) {
			e = c->heap[0];
			hremove(c, e);
			htab_remove(&ents, &e->hn);
			snprintf(ids[k++], R_IDLEN, "%s", e->id);
			free(e);
		}
	}
	return k;
}

size_t
attn_count(void)
{
	return htab_count(&ents);
}

int
attn_loaded(void)
{
	return loaded;
}

void
attn_reset(int load)
{
	struct htab_iter it;
	struct htab_node *n;
	struct acamp *c;

	htab_iter_init(&it, &ents);
	while ((n = htab_iter_next(&it)) != NULL) {
		htab_remove(&ents, n);
		free(HTAB_ENTRY(n, struct aent, hn));
	}
	htab_iter_init(&it, &camps);
	while ((n = htab_iter_next(&it)) != NULL) {
		c = HTAB_ENTRY(n, struct acamp, hn);
		htab_remove(&camps, n);
		free(c->heap);
		free(c);
	}
	htab_free(&ents);
	htab_free(&camps);
	htab_init(&ents);
	htab_init(&camps);
	loaded = load;
}
