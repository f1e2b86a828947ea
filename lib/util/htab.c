/*
 * htab — the tree's one hash table (see htab.h for the contract).
 *
 * Six modules used to carry their own chained tables, each with its own
 * growth rule and hash (some a plain FNV that a peer choosing keys could
 * flood into one chain).  This is the one they share: chains of intrusive
 * nodes, the full 64-bit SipHash kept in each node so growth rehashes
 * nothing, and a per-process random hash key.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "htab.h"

static unsigned char	hkey[crypto_shorthash_KEYBYTES];
static int		hkey_set;

void
htab_init(struct htab *t)
{
	t->b = NULL;
	t->nb = 0;
	t->n = 0;
}

void
htab_free(struct htab *t)
{
	free(t->b);
	htab_init(t);
}

uint64_t
htab_hash(const void *key, size_t keylen)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h;

	if (!hkey_set) {
		/* sodium_init is idempotent; randombytes works without it
		 * failing only when /dev/urandom is gone */
		if (sodium_init() < 0)
			abort();
		crypto_shorthash_keygen(hkey);
		hkey_set = 1;
	}
	crypto_shorthash(out, key, keylen, hkey);
	memcpy(&h, out, sizeof(h));
	return h;
}

/* Double the buckets (from 16), moving every node by its kept hash. */
static int
grow(struct htab *t)
{
	size_t nb = t->nb ? t->nb * 2 : 16, i;
	struct htab_node **b, *n;

	if ((b = calloc(nb, sizeof(*b))) == NULL)
		return -1;
	for (i = 0; i < t->nb; i++) {
		while ((n = t->b[i]) != NULL) {
			t->b[i] = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
	return 0;
}

int
htab_insert(struct htab *t, struct htab_node *n, const void *key,
    size_t keylen)
{
	if (t->n + 1 > t->nb && grow(t) == -1)
		return -1;
	n->hash = htab_hash(key, keylen);
	n->next = t->b[n->hash & (t->nb - 1)];
	t->b[n->hash & (t->nb - 1)] = n;
	t->n++;
	return 0;
}

struct htab_node *
htab_find(const struct htab *t, const void *key, size_t keylen,
    htab_eq_cb eq)
{
	struct htab_node *n;
	uint64_t h;

	if (t->n == 0)
		return NULL;
	h = htab_hash(key, keylen);
	for (n = t->b[h & (t->nb - 1)]; n != NULL; n = n->next)
		if (n->hash == h && eq(n, key, keylen))
			return n;
	return NULL;
}

void
htab_remove(struct htab *t, struct htab_node *n)
{
	struct htab_node **pp;

	for (pp = &t->b[n->hash & (t->nb - 1)]; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			t->n--;
			return;
		}
	}
}

size_t
htab_count(const struct htab *t)
{
	return t->n;
}

void
htab_iter_init(struct htab_iter *it, const struct htab *t)
{
	it->t = t;
	it->b = 0;
	it->nx = NULL;
}

struct htab_node *
htab_iter_next(struct htab_iter *it)
{
	struct htab_node *n = it->nx;

	while (n == NULL) {
		if (it->b >= it->t->nb)
			return NULL;
		n = it->t->b[it->b++];
	}
	it->nx = n->next;
	return n;
}
