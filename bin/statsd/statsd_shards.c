/*
 * statsd_shards — the wallboard over every shard (bus_transport = nats).
 *
 * A shard's statsd folds only its own routerd's log, so its wallboard
 * would show its own campaigns only.  With NATS each statsd publishes the
 * entities it sends its own clients, and follows the other shards':
 *
 *	<prefix>.stats.<shard>		a header line, then entity lines
 *	<prefix>.statswant.<shard|all>	"send me a snapshot"
 *
 * The header is {"type":"shard","shard","boot","n","reset"}: n counts the
 * messages of one boot, and "reset" starts a snapshot (the entities of
 * that shard are replaced; a snapshot too large for one message goes on in
 * the next ones, counted on).  A receiver that misses a message (core NATS
 * may drop: this is state, not messages, and is sent again) or hears a
 * shard for the first time asks it for a snapshot, at most every few
 * seconds.  A shard not heard from for SHARD_TTL_S (every statsd sends its
 * heartbeat once a second) leaves the wallboard.
 *
 * Campaign, agent and waiting entities are kept, each tagged with its
 * shard; channels (the same on every shard, from the channel daemons) and
 * the system line (the shard's own) are not.  Only the HTTP side uses them
 * (/api/stats, /events, the page): stats.sock stays one shard's, and
 * msg stats --shards merges the shards' sockets itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "htab.h"
#include "log.h"
#include "natsbus.h"
#include "statsd.h"

#define SHARD_TTL_S	15		/* silent this long: off the wallboard */
#define SHARD_MAX	32		/* other shards followed */
#define ENT_MAX		100000		/* entities kept per shard */
#define CHUNK		(256 * 1024)	/* bytes of lines per message */
#define WANT_EVERY_MS	3000		/* snapshots asked of one shard */
#define SNAP_EVERY_MS	1000		/* snapshots sent at most */

struct rent {
	struct htab_node	 hn;
	char			*key;		/* "type|name" */
	char			*line;		/* tagged with "shard" */
};

struct peer {
	char		 name[64];
	char		 boot[32];
	uint64_t	 n;		/* the last message's */
	int		 synced;	/* a snapshot since the last gap */
	int64_t		 seen;		/* ms */
	int64_t		 asked;		/* ms: the last want */
	int		 full_said;
	struct htab	 ents;
};

static struct peer	*peers[SHARD_MAX];
static char		 own[64];
static char		 bootid[32];
static uint64_t		 sent_n;
static int		 on, want_snap, asked_all, drop_said;
static int64_t		 last_snap;

static int
rent_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct rent *e = HTAB_ENTRY(n, struct rent, hn);

	return strlen(e->key) == l && memcmp(e->key, k, l) == 0;
}

int
shards_on(void)
{
	return on;
}

/* ------------------------------------------------------------ sending */

struct out {
	struct lines	 l;
	int		 reset;
};

static void
out_flush(struct out *o)
{
	char head[200];
	size_t hl;
	char *m;
	char subj[96];

	if (o->l.len == 0 && !o->reset)
		return;
	hl = (size_t)snprintf(head, sizeof(head), "{\"type\":\"shard\","
	    "\"shard\":\"%s\",\"boot\":\"%s\",\"n\":%llu,\"reset\":%s}\n",
	    own, bootid, (unsigned long long)++sent_n,
	    o->reset ? "true" : "false");
	if ((m = malloc(hl + o->l.len)) == NULL)
		fatalx("out of memory");
	memcpy(m, head, hl);
	memcpy(m + hl, o->l.b, o->l.len);
	snprintf(subj, sizeof(subj), "stats.%s", own);
	if (natsbus_core_pub(subj, m, hl + o->l.len) == -1)
		log_debug("shards: not connected: a batch not published");
	free(m);
	o->l.len = 0;
	o->reset = 0;
}

static void
out_line(const char *s, size_t n, void *arg)
{
	struct out *o = arg;

	if (o->l.len > 0 && o->l.len + n + 1 > CHUNK)
		out_flush(o);
	lines_add(s, n, &o->l);
}

void
shards_publish(const char *b, size_t len)
{
	struct out o = { 0 };
	const char *p = b, *e = b + len, *nl;

	if (!on)
		return;
	for (; p < e; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
			nl = e;
		if (nl > p)
			out_line(p, (size_t)(nl - p), &o);
	}
	out_flush(&o);
	free(o.l.b);
}

static void
snapshot_send(void)
{
	struct out o = { 0 };

	o.reset = 1;
	view_snapshot(&S->view, S->fold, &S->sys, statsd_now(), out_line, &o);
	out_flush(&o);
	free(o.l.b);
	last_snap = daemon_now_ms();
	want_snap = 0;
}

/* ---------------------------------------------------------- receiving */

static void
ent_free(struct peer *p, struct rent *e)
{
	htab_remove(&p->ents, &e->hn);
	free(e->key);
	free(e->line);
	free(e);
}

/* Every entity of p as a gone line into o (the page forgets them). */
static void
peer_clear(struct peer *p, struct lines *o)
{
	struct htab_iter it;
	struct htab_node *n;

	htab_iter_init(&it, &p->ents);
	while ((n = htab_iter_next(&it)) != NULL) {
		struct rent *e = HTAB_ENTRY(n, struct rent, hn);

		if (o != NULL)
			view_gone(e->key, p->name, lines_add, o);
		ent_free(p, e);
	}
}

static void
ask(struct peer *p, int64_t now)
{
	char subj[96];

	if (now - p->asked < WANT_EVERY_MS)
		return;
	p->asked = now;
	snprintf(subj, sizeof(subj), "statswant.%s", p->name);
	if (natsbus_core_pub(subj, "", 0) == -1)
		p->asked = 0;
}

static struct peer *
peer_get(const char *name)
{
	size_t i, fr = SHARD_MAX;

	for (i = 0; i < SHARD_MAX; i++) {
		if (peers[i] && strcmp(peers[i]->name, name) == 0)
			return peers[i];
		if (peers[i] == NULL && fr == SHARD_MAX)
			fr = i;
	}
	if (fr == SHARD_MAX)
		return NULL;
	if ((peers[fr] = calloc(1, sizeof(*peers[fr]))) == NULL)
		fatalx("out of memory");
	snprintf(peers[fr]->name, sizeof(peers[fr]->name), "%s", name);
	htab_init(&peers[fr]->ents);
	log_info("shards: following shard %s for the wallboard", name);
	return peers[fr];
}

/* One entity line of p: kept (or forgotten when gone), tagged, into o. */
static void
ent_apply(struct peer *p, const char *line, size_t n, struct lines *o)
{
	json_t *j = json_loadb(line, n, 0, NULL);
	const char *t, *name, *key;
	char kb[300], *s;
	struct htab_node *hn;
	struct rent *e;

	if (j == NULL || !json_is_object(j))
		goto out;
	t = json_string_value(json_object_get(j, "type"));
	if (t == NULL || (strcmp(t, "campaign") != 0 &&
	    strcmp(t, "agent") != 0 && strcmp(t, "waiting") != 0))
		goto out;	/* sync, system, channel: not merged */
	name = json_string_value(json_object_get(j,
	    strcmp(t, "waiting") == 0 ? "conv" : t));
	if (name == NULL || strlen(name) > 200)
		goto out;
	key = view_key(j, kb, sizeof(kb));	/* as view_gone reads it */
	/* the shard is the one the subject names, whatever the line says */
	json_object_set_new(j, "shard", json_string(p->name));
	hn = htab_find(&p->ents, key, strlen(key), rent_eq);
	if (json_is_true(json_object_get(j, "gone"))) {
		if (hn == NULL)
			goto out;
		ent_free(p, HTAB_ENTRY(hn, struct rent, hn));
	} else if (hn == NULL && htab_count(&p->ents) >= ENT_MAX) {
		if (!p->full_said)
			log_warnx("shards: shard %s has over %d entities: "
			    "the wallboard shows the first", p->name, ENT_MAX);
		p->full_said = 1;
		goto out;
	}
	if ((s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(15))) == NULL)
		goto out;
	lines_add(s, strlen(s), o);
	if (json_is_true(json_object_get(j, "gone"))) {
		free(s);
	} else if (hn != NULL) {
		e = HTAB_ENTRY(hn, struct rent, hn);
		free(e->line);
		e->line = s;
	} else {
		if ((e = calloc(1, sizeof(*e))) == NULL ||
		    (e->key = strdup(key)) == NULL)
			fatalx("out of memory");
		e->line = s;
		if (htab_insert(&p->ents, &e->hn, e->key,
		    strlen(e->key)) == -1)
			fatalx("out of memory");
	}
out:
	json_decref(j);
}

static void
on_stats(const char *subj, const void *data, size_t len, void *arg)
{
	const char *b = data, *e = b + len, *nl, *p, *sh;
	const char *suffix = strstr(subj, ".stats.");
	json_t *h;
	json_int_t n;
	const char *boot;
	struct peer *pr;
	struct lines o = { 0 };
	int reset;

	if (suffix == NULL || strcmp(suffix + 7, own) == 0)
		return;		/* ours, echoed */
	if ((nl = memchr(b, '\n', len)) == NULL)
		nl = e;
	h = json_loadb(b, (size_t)(nl - b), 0, NULL);
	if (h == NULL || json_unpack(h, "{s:s,s:s,s:I,s:b}", "shard", &sh,
	    "boot", &boot, "n", &n, "reset", &reset) == -1 ||
	    strcmp(sh, suffix + 7) != 0 || strlen(boot) >= 32 || n < 1) {
		log_debug("shards: %s: not a stats message", subj);
		json_decref(h);
		return;
	}
	if ((pr = peer_get(sh)) == NULL) {
		if (!drop_said)
			log_warnx("shards: over %d shards: %s is not on the "
			    "wallboard", SHARD_MAX, sh);
		drop_said = 1;
		json_decref(h);
		return;
	}
	pr->seen = daemon_now_ms();
	if (reset) {
		peer_clear(pr, &o);
		pr->synced = 1;
	} else if (strcmp(pr->boot, boot) != 0 ||
	    (uint64_t)n != pr->n + 1) {
		/* a gap or a new boot: go on, and ask for the whole */
		pr->synced = 0;
	}
	snprintf(pr->boot, sizeof(pr->boot), "%s", boot);
	pr->n = (uint64_t)n;
	json_decref(h);
	for (p = nl + 1; p < e; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
			nl = e;
		if (nl > p)
			ent_apply(pr, p, (size_t)(nl - p), &o);
	}
	if (!pr->synced)
		ask(pr, pr->seen);
	if (o.len > 0)
		statsd_http_batch(o.b, o.len);
	free(o.b);
}

static void
on_want(const char *subj, const void *data, size_t len, void *arg)
{
	const char *w = strstr(subj, ".statswant.");

	if (w != NULL && (strcmp(w + 11, own) == 0 ||
	    strcmp(w + 11, "all") == 0))
		want_snap = 1;
}

void
shards_start(const char *shard)
{
	if (shard == NULL || shard[0] == '\0')
		return;
	snprintf(own, sizeof(own), "%s", shard);
	snprintf(bootid, sizeof(bootid), "%llx",
	    (unsigned long long)daemon_now_ms());
	natsbus_core_sub("stats.*", on_stats, NULL);
	natsbus_core_sub("statswant.*", on_want, NULL);
	on = 1;
}

void
shards_tick(void)
{
	int64_t now = daemon_now_ms();
	struct lines o = { 0 };
	size_t i;

	if (!on)
		return;
	/* once connected: everyone's snapshot, once */
	if (!asked_all && natsbus_core_pub("statswant.all", "", 0) == 0)
		asked_all = 1;
	if (want_snap && now - last_snap >= SNAP_EVERY_MS)
		snapshot_send();
	for (i = 0; i < SHARD_MAX; i++) {
		if (peers[i] == NULL)
			continue;
		if (now - peers[i]->seen > SHARD_TTL_S * 1000) {
			log_info("shards: shard %s silent for %d s: off the "
			    "wallboard", peers[i]->name, SHARD_TTL_S);
			peer_clear(peers[i], &o);
			htab_free(&peers[i]->ents);
			free(peers[i]);
			peers[i] = NULL;
		} else if (!peers[i]->synced)
			ask(peers[i], now);
	}
	if (o.len > 0)
		statsd_http_batch(o.b, o.len);
	free(o.b);
}

void
shards_lines(view_sink sink, void *arg)
{
	struct htab_iter it;
	struct htab_node *n;
	size_t i;

	for (i = 0; i < SHARD_MAX; i++) {
		if (peers[i] == NULL)
			continue;
		htab_iter_init(&it, &peers[i]->ents);
		while ((n = htab_iter_next(&it)) != NULL) {
			struct rent *e = HTAB_ENTRY(n, struct rent, hn);

			sink(e->line, strlen(e->line), arg);
		}
	}
}

static void
doc_line(const char *line, size_t len, void *arg)
{
	json_t *doc = arg, *j, *arr;
	const char *t;

	if ((j = json_loadb(line, len, 0, NULL)) == NULL)
		return;
	t = json_string_value(json_object_get(j, "type"));
	arr = json_object_get(doc, t == NULL ? "" :
	    strcmp(t, "campaign") == 0 ? "campaigns" :
	    strcmp(t, "agent") == 0 ? "agents" : "waiting");
	if (arr != NULL && json_is_array(arr))
		json_array_append(arr, j);
	json_decref(j);
}

void
shards_doc(json_t *doc)
{
	shards_lines(doc_line, doc);
}

void
shards_stop(void)
{
	size_t i;

	for (i = 0; i < SHARD_MAX; i++) {
		if (peers[i] == NULL)
			continue;
		peer_clear(peers[i], NULL);
		htab_free(&peers[i]->ents);
		free(peers[i]);
		peers[i] = NULL;
	}
}
