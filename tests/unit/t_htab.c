/*
 * t_htab — lib/htab: insert, find, remove, growth past many doublings,
 * integer keys, and a walk that removes what it visits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"

static int tn, tfail;
static void
ok(int c, const char *d)
{
	tn++;
	if (!c)
		tfail++;
	printf("%sok %d - %s\n", c ? "" : "not ", tn, d);
}

struct rec {
	struct htab_node	 hn;
	char			 name[16];
	uint64_t		 id;
};

static int
name_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct rec *r = HTAB_ENTRY(n, struct rec, hn);

	return strlen(r->name) == l && memcmp(r->name, k, l) == 0;
}

static int
id_eq(const struct htab_node *n, const void *k, size_t l)
{
	return l == sizeof(uint64_t) &&
	    memcmp(&HTAB_ENTRY(n, struct rec, hn)->id, k, l) == 0;
}

int
main(void)
{
	struct htab t, u;
	struct rec *r = calloc(10000, sizeof(*r));
	struct htab_iter it;
	struct htab_node *n;
	char k[16];
	size_t i, found = 0, seen = 0;
	uint64_t id;

	printf("1..10\n");
	htab_init(&t);
	htab_init(&u);
	ok(htab_find(&t, "x", 1, name_eq) == NULL, "an empty table finds nothing");
	for (i = 0; i < 10000; i++) {
		snprintf(r[i].name, sizeof(r[i].name), "agent%zu", i);
		r[i].id = (uint64_t)i * 7919;
		htab_insert(&t, &r[i].hn, r[i].name, strlen(r[i].name));
	}
	ok(htab_count(&t) == 10000, "10,000 records after inserts");
	for (i = 0; i < 10000; i++) {
		snprintf(k, sizeof(k), "agent%zu", i);
		n = htab_find(&t, k, strlen(k), name_eq);
		found += n == &r[i].hn;
	}
	ok(found == 10000, "each is found under its own key");
	ok(htab_find(&t, "agent10000", 10, name_eq) == NULL,
	    "an absent key is not found");
	ok(htab_find(&t, "agent1", 5, name_eq) == NULL,
	    "a key's prefix is another key");
	htab_remove(&t, &r[42].hn);
	ok(htab_find(&t, "agent42", 7, name_eq) == NULL &&
	    htab_count(&t) == 9999, "a removed record is gone");
	htab_iter_init(&it, &t);
	while ((n = htab_iter_next(&it)) != NULL) {
		seen++;
		htab_remove(&t, n);
	}
	ok(seen == 9999 && htab_count(&t) == 0,
	    "a walk visits each record once and may remove it");
	for (i = 0; i < 100; i++)
		htab_insert(&u, &r[i].hn, HTAB_U64(r[i].id));
	id = 99 * 7919;
	ok(htab_find(&u, HTAB_U64(id), id_eq) == &r[99].hn,
	    "integer keys");
	id = 5;
	ok(htab_find(&u, HTAB_U64(id), id_eq) == NULL, "an absent integer key");
	ok(htab_hash("a", 1) == htab_hash("a", 1) &&
	    htab_hash("a", 1) != htab_hash("b", 1), "the hash is a function");
	htab_free(&t);
	htab_free(&u);
	free(r);
	return tfail != 0;
}
