/*
 * htab — the one hash table of the tree: intrusive, chained, keyed by
 * bytes (a string, or an integer's bytes), hashed with SipHash-2-4 under a
 * random key per process (libsodium's crypto_shorthash) so that keys a
 * peer chooses (provider ids, agent names, request ids) cannot be made to
 * collide.
 *
 * The caller embeds a struct htab_node in its own record, gives the key's
 * bytes on insert and lookup, and compares keys itself through an equality
 * callback (the table keeps only the hash).  The table grows by doubling
 * at a load of one and never shrinks; it owns no records: htab_free frees
 * only the buckets.
 *
 *	struct job { struct htab_node hn; char id[32]; ... };
 *	static int job_eq(const struct htab_node *n, const void *k, size_t l)
 *	{ return strlen(HTAB_ENTRY(n, struct job, hn)->id) == l &&
 *	    memcmp(HTAB_ENTRY(n, struct job, hn)->id, k, l) == 0; }
 *	htab_insert(&t, &j->hn, j->id, strlen(j->id));
 *	n = htab_find(&t, id, strlen(id), job_eq);
 */
#ifndef PARLEY_HTAB_H
#define PARLEY_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct htab_node {
	struct htab_node	*next;
	uint64_t		 hash;
};

struct htab {
	struct htab_node	**b;
	size_t			 nb;	/* buckets, a power of two (0: none yet) */
	size_t			 n;	/* records */
};

#define HTAB_ENTRY(node, type, member) \
	((type *)(void *)((char *)(node) - offsetof(type, member)))

typedef int (*htab_eq_cb)(const struct htab_node *, const void *key,
	    size_t keylen);

/* An empty table (no allocation until the first insert). */
void	htab_init(struct htab *);
/* Free the buckets; the records are the caller's. */
void	htab_free(struct htab *);
/* The hash of key, as insert and find compute it. */
uint64_t htab_hash(const void *key, size_t keylen);
/* Add n under key (no check for an existing key); -1 out of memory. */
int	htab_insert(struct htab *, struct htab_node *n, const void *key,
	    size_t keylen);
/* The record under key, or NULL. */
struct htab_node *htab_find(const struct htab *, const void *key,
	    size_t keylen, htab_eq_cb eq);
/* Take n out of the table (n must be in it). */
void	htab_remove(struct htab *, struct htab_node *n);
/* Records in the table. */
size_t	htab_count(const struct htab *);
/*
 * Walk every record, in no order:
 *	htab_iter_init(&it, &t); while ((n = htab_iter_next(&it)) != NULL) ...
 * The record just returned may be removed (or freed) before the next
 * call; nothing may be inserted during the walk.
 */
struct htab_iter {
	const struct htab	*t;
	size_t			 b;
	struct htab_node	*nx;
};
void	htab_iter_init(struct htab_iter *, const struct htab *);
struct htab_node *htab_iter_next(struct htab_iter *);

/* Keys that are 64-bit integers (request ids): the 8 bytes, host order. */
#define HTAB_U64(v)	(&(v)), sizeof(uint64_t)

#endif
