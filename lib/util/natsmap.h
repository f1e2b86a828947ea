/*
 * natsmap — NAME=VALUE lists of the nats_* settings, without libnats.
 */
#ifndef PARLEY_NATSMAP_H
#define PARLEY_NATSMAP_H

#include <stddef.h>

struct conf;

#define NB_NAME		32	/* a shard's name, with its NUL */
#define NB_MAXMAP	256	/* pairs in one list */

struct nb_map {
	char	k[128];
	char	v[1024];	/* a shard name; a path in nats_shard_confs */
};

/* Lower-case letters, digits, _ and -, shorter than NB_NAME: a name that
 * may sit in a subject and a stream name. */
int	natsmap_name_ok(const char *);
/* "k=v k=v" (spaces or commas between) into m[NB_MAXMAP], *n pairs; with
 * vnames the values must be names; -1 with err. */
int	natsmap_parse(const char *key, const char *val, struct nb_map *m,
	    size_t *n, int vnames, char *err, size_t errsz);
/* The value of k (klen bytes) in m, or NULL. */
const char *natsmap_get(const struct nb_map *m, size_t n, const char *k,
	    size_t klen);
/* The value of name in the NAME=VALUE list of key (nats_shards,
 * nats_addresses, nats_shard_confs) into out; -1 with err. */
int	natsbus_lookup(const struct conf *, const char *key, const char *name,
	    char *out, size_t outsz, char *err, size_t errsz);

#endif
