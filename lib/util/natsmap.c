/*
 * natsmap — the NAME=VALUE lists of parley.conf's nats_* settings
 * (nats_shards, nats_addresses, nats_shard_confs) read without libnats, so
 * that msg picks a shard's parley.conf (-s, -S) without loading the NATS
 * client and what it links (natsbus.c uses the same readers).
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "conf.h"
#include "natsmap.h"

/* A name that may sit in a subject and a stream name. */
int
natsmap_name_ok(const char *s)
{
	size_t i;

	if (s[0] == '\0' || strlen(s) >= NB_NAME)
		return 0;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/* "k=v k=v" (spaces or commas between) into m; -1 with err. */
int
natsmap_parse(const char *key, const char *val, struct nb_map *m, size_t *n,
    int vnames, char *err, size_t errsz)
{
	char *s, *p, *tok, *eq, *save = NULL;

	*n = 0;
	if ((s = strdup(val ? val : "")) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (p = s; (tok = strtok_r(p, " ,\t", &save)) != NULL; p = NULL) {
		if ((eq = strchr(tok, '=')) == NULL || eq == tok ||
		    eq[1] == '\0' || (size_t)(eq - tok) >= sizeof(m->k) ||
		    strlen(eq + 1) >= sizeof(m->v) || *n >= NB_MAXMAP ||
		    (vnames && !natsmap_name_ok(eq + 1))) {
			snprintf(err, errsz, "%s: expected NAME=%s pairs "
			    "(\"%.40s\")", key, vnames ? "SHARD" : "CAMPAIGN",
			    tok);
			free(s);
			return -1;
		}
		*eq = '\0';
		snprintf(m[*n].k, sizeof(m->k), "%s", tok);
		snprintf(m[*n].v, sizeof(m->v), "%s", eq + 1);
		(*n)++;
	}
	free(s);
	return 0;
}

const char *
natsmap_get(const struct nb_map *m, size_t n, const char *k, size_t klen)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(m[i].k) == klen && memcmp(m[i].k, k, klen) == 0)
			return m[i].v;
	return NULL;
}

int
natsbus_lookup(const struct conf *cf, const char *key, const char *name,
    char *out, size_t outsz, char *err, size_t errsz)
{
	struct nb_map *m;
	const char *v;
	size_t n;

	if ((m = calloc(NB_MAXMAP, sizeof(*m))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (natsmap_parse(key, conf_get(cf, key), m, &n, 0, err, errsz) == -1) {
		free(m);
		return -1;
	}
	if ((v = natsmap_get(m, n, name, strlen(name))) == NULL) {
		snprintf(err, errsz, "%s: no %s", key, name);
		free(m);
		return -1;
	}
	snprintf(out, outsz, "%s", v);
	free(m);
	return 0;
}
