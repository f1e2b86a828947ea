/*
 * routerd_route — the contact centre's heart: campaign queues, offers as
 * leases, assignment, and the agents' live state.
 *
 * A conversation that needs an agent enters its campaign's queue (LMDB
 * "queue": campaign, then priority, then arrival) and is offered by the
 * campaign's strategy (lib/route.h, Asterisk app_queue's semantics) to the
 * eligible members.  An offer is a lease: unless claimed or replied to
 * within the campaign's offer timeout it lapses, the event says why, and
 * the next agent gets it.  With nobody eligible it waits, and is offered as
 * soon as somebody becomes eligible (a freed slot, a status change, the end
 * of a wrap-up, a new member: every such change marks routing dirty, and a
 * tick re-checks once a second for configuration changes).
 *
 * Durable state (queue, conversations, agents' status and counters) is in
 * LMDB and every change is an event; offers live in memory: after a restart
 * offered conversations are simply offered again.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "mp.h"
#include "lease.h"
#include "route.h"
#include "routerd.h"

#define MAX_MEMBERS	4096
#define PUMP_BUDGET	5000		/* conversations looked at per pump */

/* An agent's live state, kept in memory and in db "agents". */
struct agent {
	char		 name[64];
	char		 status[64];	/* catalogue name */
	int		 kind;		/* ROUTE_AVAILABLE ... */
	char		 reason[128];
	int64_t		 since;
	int64_t		 last_ts;
	int64_t		 wrapup_until;
	int		 taken;
	int		 active;	/* assigned conversations (derived) */
	struct agent	*next;
};


#define HBUCKETS	1024
static struct agent	*agents[HBUCKETS];
static struct lease_tab	*L;		/* offers: lib/lease */
static int		 dirty = 1;
static int		 pumping;

static unsigned
hash(const char *s)
{
	unsigned h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h & (HBUCKETS - 1);
}

static long long
now_ms(void)
{
	return daemon_now_ms();
}

/* agents */

static struct agent *
agent_get(const char *name, int create)
{
	struct agent *a;
	unsigned h = hash(name);

	for (a = agents[h]; a; a = a->next)
		if (strcmp(a->name, name) == 0)
			return a;
	if (!create)
		return NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatalx("out of memory");
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->status, sizeof(a->status), "offline");
	a->kind = ROUTE_OFFLINE;
	a->next = agents[h];
	agents[h] = a;
	return a;
}

static int
kind_parse(const char *s)
{
	if (strcmp(s, "available") == 0)
		return ROUTE_AVAILABLE;
	if (strcmp(s, "break") == 0)
		return ROUTE_BREAK;
	if (strcmp(s, "busy") == 0)
		return ROUTE_BUSY;
	if (strcmp(s, "offline") == 0)
		return ROUTE_OFFLINE;
	return 0;
}

static int
agent_save(MDB_txn *txn, const struct agent *a)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	MDB_val k = { strlen(a->name), (void *)a->name }, v;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 7);
	mp_kv_str(&pk, "status", a->status);
	mp_kv_str(&pk, "kind", route_status_name(a->kind));
	mp_kv_str(&pk, "reason", a->reason);
	mp_kv_int(&pk, "since_ts", a->since);
	mp_kv_int(&pk, "last_ts", a->last_ts);
	mp_kv_int(&pk, "wrapup_until", a->wrapup_until);
	mp_kv_int(&pk, "taken", a->taken);
	v.mv_size = sb.size;
	v.mv_data = sb.data;
	rc = mdb_put(txn, R->db_agents, &k, &v, 0);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* the round-robin memory of a campaign: the agent given the last one */
static char *
rr_last(const char *campaign)
{
	static struct rr {
		char		 campaign[64];
		char		 agent[64];
		struct rr	*next;
	} *tab[HBUCKETS];
	struct rr *r;
	unsigned h = hash(campaign);

	for (r = tab[h]; r; r = r->next)
		if (strcmp(r->campaign, campaign) == 0)
			return r->agent;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatalx("out of memory");
	snprintf(r->campaign, sizeof(r->campaign), "%s", campaign);
	r->next = tab[h];
	tab[h] = r;
	return r->agent;
}

/* the queue */

static size_t
qkey(const struct conv *cv, char *k, size_t ksz)
{
	size_t cl = strlen(cv->campaign), il = strlen(cv->id);
	uint32_t pr = 0x7fffffffu - (uint32_t)(cv->priority < 0 ? 0 :
	    cv->priority);
	uint64_t ts = (uint64_t)cv->queued_ts;
	int i;

	if (cl + 1 + 4 + 8 + il > ksz)
		return 0;
	memcpy(k, cv->campaign, cl);
	k[cl] = '\0';
	for (i = 0; i < 4; i++)
		k[cl + 1 + i] = (char)(pr >> (24 - 8 * i));
	for (i = 0; i < 8; i++)
		k[cl + 5 + i] = (char)(ts >> (56 - 8 * i));
	memcpy(k + cl + 13, cv->id, il);
	return cl + 13 + il;
}

int
route_enqueue(MDB_txn *txn, struct conv *cv)
{
	char k[256];
	MDB_val key, v = { 0, (void *)"" };
	msgpack_packer *pk;
	int rc;

	if (cv->queued_ts == 0 || strcmp(cv->rstate, "waiting") != 0)
		cv->queued_ts = now_ms();
	if ((key.mv_size = qkey(cv, k, sizeof(k))) == 0)
		return MDB_BAD_VALSIZE;
	key.mv_data = k;
	if ((rc = mdb_put(txn, R->db_queue, &key, &v, 0)) != 0)
		return rc;
	snprintf(cv->rstate, sizeof(cv->rstate), "waiting");
	if ((rc = conv_put(txn, cv)) != 0)
		return rc;
	pk = rec_begin(6);
	mp_kv_str(pk, "type", "queue");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_int(pk, "priority", cv->priority);
	mp_kv_bool(pk, "attention", cv->attention);
	mp_kv_int(pk, "ts", now_ms());
	dirty = 1;
	return rec_append(txn, cv->id, NULL);
}

int
route_dequeue(MDB_txn *txn, struct conv *cv)
{
	char k[256];
	MDB_val key;
	int rc;

	lease_drop(L, cv->id);
	if ((key.mv_size = qkey(cv, k, sizeof(k))) == 0)
		return 0;
	key.mv_data = k;
	rc = mdb_del(txn, R->db_queue, &key, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
route_assign(MDB_txn *txn, struct conv *cv, const char *agent,
    const char *via)
{
	struct agent *a = agent_get(agent, 1);
	msgpack_packer *pk;
	int rc;

	if ((rc = route_dequeue(txn, cv)) != 0)
		return rc;
	if (strcmp(cv->rstate, "assigned") == 0 && cv->agent[0] &&
	    strcmp(cv->agent, agent) != 0 &&
	    (rc = route_release(txn, cv, 0)) != 0)
		return rc;
	snprintf(cv->agent, sizeof(cv->agent), "%s", agent);
	snprintf(cv->rstate, sizeof(cv->rstate), "assigned");
	if ((rc = conv_put(txn, cv)) != 0)
		return rc;
	a->active++;
	a->taken++;
	a->last_ts = now_ms();
	snprintf(rr_last(cv->campaign), 64, "%s", agent);
	if ((rc = agent_save(txn, a)) != 0)
		return rc;
	pk = rec_begin(6);
	mp_kv_str(pk, "type", "assign");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "agent", agent);
	mp_kv_str(pk, "via", via);
	mp_kv_int(pk, "ts", now_ms());
	return rec_append(txn, cv->id, NULL);
}

int
route_release(MDB_txn *txn, struct conv *cv, int wrapup)
{
	struct agent *a;
	struct camp c;

	if (cv->agent[0] == '\0' || strcmp(cv->rstate, "assigned") != 0)
		return 0;
	if ((a = agent_get(cv->agent, 0)) == NULL)
		return 0;
	if (a->active > 0)
		a->active--;
	if (wrapup) {
		camp_get(cv->campaign, &c);
		if (c.wrapup_s > 0)
			a->wrapup_until = now_ms() + (long long)c.wrapup_s * 1000;
	}
	dirty = 1;
	return agent_save(txn, a);
}

int
route_to_agents(MDB_txn *txn, struct conv *cv, int attention, const char *why)
{
	msgpack_packer *pk;
	int rc;

	snprintf(cv->mode, sizeof(cv->mode), "agent");
	if (attention)
		cv->attention = 1;
	pk = rec_begin(6);
	mp_kv_str(pk, "type", "mode");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "mode", "agent");
	mp_kv_str(pk, "why", why ? why : "");
	mp_kv_int(pk, "ts", now_ms());
	if ((rc = rec_append(txn, cv->id, NULL)) != 0)
		return rc;
	if (strcmp(cv->rstate, "assigned") == 0)
		return conv_put(txn, cv);
	return route_enqueue(txn, cv);
}

/* members of a campaign with their live state */

struct members {
	struct route_member	 m[MAX_MEMBERS];
	char			 names[MAX_MEMBERS][64];
	size_t			 n;
};

static void
members_load(const char *campaign, const struct camp *c, struct members *ms)
{
	char prefix[80];
	size_t pl;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	ms->n = 0;
	if (strcmp(campaign, "default") == 0 || camp_rtxn(&txn) == -1)
		return;
	pl = (size_t)snprintf(prefix, sizeof(prefix), "%s/", campaign);
	if (camp_dbi("members", &dbi) == -1 ||
	    mdb_cursor_open(txn, dbi, &cur) != 0) {
		mdb_txn_abort(txn);
		return;
	}
	k.mv_size = pl;
	k.mv_data = prefix;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == 0 && ms->n < MAX_MEMBERS;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		msgpack_unpacked up;
		size_t off = 0;
		struct route_member *m = &ms->m[ms->n];
		struct agent *a;
		int64_t iv;
		int b;

		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0)
			break;
		if (k.mv_size - pl >= 64)
			continue;
		memset(m, 0, sizeof(*m));
		memcpy(ms->names[ms->n], (char *)k.mv_data + pl,
		    k.mv_size - pl);
		ms->names[ms->n][k.mv_size - pl] = '\0';
		m->agent = ms->names[ms->n];
		m->receive = 1;
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) ==
		    MSGPACK_UNPACK_SUCCESS) {
			if (mp_int(&up.data, "position", &iv))
				m->position = (int)iv;
			if (mp_int(&up.data, "penalty", &iv))
				m->penalty = (int)iv;
			if (mp_bool(&up.data, "receive", &b))
				m->receive = b;
		}
		msgpack_unpacked_destroy(&up);
		a = agent_get(m->agent, 0);
		m->status = a ? a->kind : ROUTE_OFFLINE;
		/* pending offers hold slots: never offer more than are free */
		m->active = (a ? a->active : 0) + lease_held(L, m->agent);
		m->max = c->max_interactions;
		m->wrapup_until = a ? a->wrapup_until : 0;
		m->last_ts = a ? a->last_ts : 0;
		m->taken = a ? a->taken : 0;
		m->busy_offer = lease_held(L, m->agent) > 0;
		ms->n++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
}

static unsigned
rnd(unsigned n)
{
	return n ? randombytes_uniform(n) : 0;
}

/* Offer cv to the chosen members; events appended; 0 or rc. */
static int
offer_make(MDB_txn *txn, struct conv *cv, const struct camp *c,
    enum route_strategy s, struct members *ms, const size_t *idx,
    size_t n)
{
	const char *names[LEASE_MAXAGENTS];
	long long now = now_ms();
	msgpack_packer *pk;
	size_t i;
	int rc;

	if (n > LEASE_MAXAGENTS)
		n = LEASE_MAXAGENTS;
	for (i = 0; i < n; i++) {
		names[i] = ms->names[idx[i]];
		/* the offer holds one of the agent's slots */
		ms->m[idx[i]].active++;
		if (s != RS_RINGALL)
			ms->m[idx[i]].busy_offer = 1;
	}
	if (lease_offer(L, cv->id, names, n, s == RS_RINGALL, now,
	    (long long)c->offer_timeout_s * 1000) == -1)
		return MDB_BAD_VALSIZE;
	snprintf(cv->rstate, sizeof(cv->rstate), "offered");
	if ((rc = conv_put(txn, cv)) != 0)
		return rc;
	pk = rec_begin(7);
	mp_kv_str(pk, "type", "offer");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_pack_cstr(pk, "agents");
	msgpack_pack_array(pk, n);
	for (i = 0; i < n; i++)
		mp_pack_cstr(pk, names[i]);
	mp_kv_str(pk, "strategy", route_strategy_name(s));
	mp_kv_int(pk, "expires_ts", lease_deadline(L, cv->id));
	mp_kv_int(pk, "ts", now);
	return rec_append(txn, cv->id, NULL);
}

/* Decide for one conversation: fill explain when ex is not NULL. */
static size_t
decide(struct conv *cv, const struct camp *c, enum route_strategy s,
    struct members *ms, size_t *idx, struct route_explain *ex)
{
	const char *rr = rr_last(cv->campaign)[0] ? rr_last(cv->campaign) :
	    NULL;
	size_t i, n;

	for (i = 0; i < ms->n; i++)
		ms->m[i].offered = lease_lapsed(L, cv->id, ms->names[i]);
	n = route_choose(s, ms->m, ms->n, rr, now_ms(), rnd, idx,
	    LEASE_MAXAGENTS, ex);
	if (n == 0) {
		/* everyone eligible let it lapse: start the round again */
		for (i = 0; i < ms->n; i++)
			ms->m[i].offered = 0;
		n = route_choose(s, ms->m, ms->n, rr, now_ms(), rnd, idx,
		    LEASE_MAXAGENTS, NULL);
		if (n > 0)
			lease_reset_lapsed(L, cv->id);
	}
	return n;
}

static struct members	 ms_buf;

void
route_pump(void)
{
	MDB_txn *rtxn, *txn = NULL;
	MDB_cursor *cur;
	MDB_val k, v;
	char campaign[64] = "", conv[R_IDLEN];
	struct camp c;
	enum route_strategy s = RS_RINGALL;
	int skip = 0, rc, budget = PUMP_BUDGET;
	size_t idx[LEASE_MAXAGENTS], n;
	long long now = now_ms(), next;

	if (pumping || !dirty || R->d.draining)
		return;
	pumping = 1;
	dirty = 0;
	if (store_rtxn(R->st, &rtxn) != 0)
		goto out;
	if (mdb_cursor_open(rtxn, R->db_queue, &cur) != 0) {
		mdb_txn_abort(rtxn);
		goto out;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && budget > 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), budget--) {
		const char *key = k.mv_data;
		size_t cl = strnlen(key, k.mv_size), il;
		struct conv cv;

		if (cl >= sizeof(campaign) || k.mv_size < cl + 13)
			continue;
		if (strncmp(campaign, key, cl) != 0 || campaign[cl] != '\0') {
			/* a new campaign's segment */
			memcpy(campaign, key, cl);
			campaign[cl] = '\0';
			camp_get(campaign, &c);
			skip = !c.enabled ||
			    route_strategy_parse(c.strategy, &s) == -1 ||
			    s == RS_MANUAL || !policy_open(campaign, now, &next);
			if (!skip)
				members_load(campaign, &c, &ms_buf);
			if (!skip && ms_buf.n == 0)
				skip = 1;
		}
		if (skip)
			continue;
		il = k.mv_size - cl - 13;
		if (il >= sizeof(conv))
			continue;
		memcpy(conv, key + cl + 13, il);
		conv[il] = '\0';
		if (lease_live(L, conv))
			continue;		/* its lease runs */
		if (conv_get(rtxn, conv, &cv) != 0)
			continue;
		if ((n = decide(&cv, &c, s, &ms_buf, idx, NULL)) == 0)
			continue;
		if (txn == NULL && (txn = store_txn(R->st)) == NULL)
			break;
		/* the write txn sees the same conversation, maybe newer */
		if (conv_get(txn, conv, &cv) != 0 ||
		    strcmp(cv.rstate, "waiting") != 0)
			continue;
		if ((rc = offer_make(txn, &cv, &c, s, &ms_buf, idx, n)) != 0) {
			store_fail(R->st, rc, "making an offer");
			txn = NULL;
			break;
		}
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(rtxn);
	if (budget == 0)
		dirty = 1;	/* more next time */
out:
	pumping = 0;
}

/* Offers whose lease ran out lapse; wrap-ups that end make agents free. */
struct lapse {
	char	conv[R_IDLEN];
	char	agent[64];
};

struct lapses {
	struct lapse	*v;
	size_t		 n, cap;
};

static void
collect(const char *conv, const char *agent, int ringall, void *arg)
{
	struct lapses *ls = arg;

	if (ls->n == ls->cap) {
		size_t ncap = ls->cap ? ls->cap * 2 : 64;
		struct lapse *nv = realloc(ls->v, ncap * sizeof(*nv));

		if (nv == NULL)
			fatalx("out of memory");
		ls->v = nv;
		ls->cap = ncap;
	}
	snprintf(ls->v[ls->n].conv, sizeof(ls->v[ls->n].conv), "%s", conv);
	snprintf(ls->v[ls->n].agent, sizeof(ls->v[ls->n].agent), "%s", agent);
	ls->n++;
}

void
route_tick(void)
{
	struct agent *a;
	struct lapses ls = { 0 };
	long long now = now_ms();
	MDB_txn *txn;
	struct conv cv;
	struct camp c;
	msgpack_packer *pk;
	char why[96];
	size_t i;
	int rc = 0, h;

	for (h = 0; h < HBUCKETS; h++)
		for (a = agents[h]; a; a = a->next)
			if (a->wrapup_until && a->wrapup_until <= now)
				a->wrapup_until = 0;
	/* once a second, whatever changed: wrap-ups ending, new members,
	 * campaigns enabled or opening, agents' catalogue edited */
	dirty = 1;
	if (lease_expire(L, now, collect, &ls) == 0) {
		route_pump();
		return;
	}
	if ((txn = store_txn(R->st)) == NULL) {
		free(ls.v);
		return;
	}
	for (i = 0; i < ls.n && rc == 0; i++) {
		if (conv_get(txn, ls.v[i].conv, &cv) != 0 ||
		    strcmp(cv.rstate, "offered") != 0)
			continue;
		camp_get(cv.campaign, &c);
		snprintf(why, sizeof(why), "not claimed or answered within "
		    "%d s", c.offer_timeout_s);
		pk = rec_begin(6);
		mp_kv_str(pk, "type", "lapse");
		mp_kv_str(pk, "conv", cv.id);
		mp_kv_str(pk, "campaign", cv.campaign);
		mp_kv_str(pk, "agent", ls.v[i].agent);
		mp_kv_str(pk, "reason", why);
		mp_kv_int(pk, "ts", now);
		if ((rc = rec_append(txn, cv.id, NULL)) != 0)
			break;
		/* back to waiting once all its agents' lapses are written */
		if (i + 1 == ls.n || strcmp(ls.v[i + 1].conv, cv.id) != 0) {
			snprintf(cv.rstate, sizeof(cv.rstate), "waiting");
			rc = conv_put(txn, &cv);
		}
	}
	free(ls.v);
	if (rc != 0)
		store_fail(R->st, rc, "lapsing offers");
}

/* Rebuild agents' counters and put offered conversations back to waiting. */
void
route_init(void)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (store_rtxn(R->st, &txn) != 0)
		return;
	if (mdb_cursor_open(txn, R->db_agents, &cur) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			msgpack_unpacked up;
			size_t off = 0;
			char name[64], kind[16] = "";
			struct agent *a;
			int64_t iv;

			if (k.mv_size >= sizeof(name))
				continue;
			memcpy(name, k.mv_data, k.mv_size);
			name[k.mv_size] = '\0';
			a = agent_get(name, 1);
			msgpack_unpacked_init(&up);
			if (msgpack_unpack_next(&up, v.mv_data, v.mv_size,
			    &off) == MSGPACK_UNPACK_SUCCESS) {
				mp_strcpy(&up.data, "status", a->status,
				    sizeof(a->status));
				mp_strcpy(&up.data, "kind", kind, sizeof(kind));
				mp_strcpy(&up.data, "reason", a->reason,
				    sizeof(a->reason));
				mp_int(&up.data, "since_ts", &a->since);
				mp_int(&up.data, "last_ts", &a->last_ts);
				mp_int(&up.data, "wrapup_until",
				    &a->wrapup_until);
				if (mp_int(&up.data, "taken", &iv))
					a->taken = (int)iv;
			}
			msgpack_unpacked_destroy(&up);
			a->kind = kind_parse(kind) ? kind_parse(kind) :
			    ROUTE_OFFLINE;
		}
		mdb_cursor_close(cur);
	}
	if (mdb_cursor_open(txn, R->db_convs, &cur) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			char id[R_IDLEN];
			struct conv cv;

			if (k.mv_size >= sizeof(id))
				continue;
			memcpy(id, k.mv_data, k.mv_size);
			id[k.mv_size] = '\0';
			if (conv_get(txn, id, &cv) != 0)
				continue;
			if (strcmp(cv.rstate, "assigned") == 0 && cv.agent[0])
				agent_get(cv.agent, 1)->active++;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	if (L == NULL && (L = lease_new()) == NULL)
		fatalx("out of memory");
	dirty = 1;
}

/* requests */

struct rans {
	struct rclient	*cl;
	int64_t		 re;
	struct fbuf	 fb;		/* the answer, sent after the commit */
};

static void
rans_done(void *arg, int ok)
{
	struct rans *a = arg;

	if (a->cl->alive) {
		if (ok)
			bus_send(a->cl->c, &a->fb);
		else
			bus_answer_err(a->cl->c, a->re, "store",
			    store_error(R->st));
	}
	fbuf_free(&a->fb);
	client_unref(a->cl);
	free(a);
}

/* An answer with nextra fields to pack into a->fb, sent after the commit. */
static struct rans *
rans_new(struct rclient *cl, int64_t re, uint32_t nextra)
{
	struct rans *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatalx("out of memory");
	a->cl = cl;
	a->re = re;
	client_ref(cl);
	fbuf_init(&a->fb);
	bus_answer_begin(&a->fb, re, nextra);
	return a;
}

static int
refuse(struct rclient *cl, int64_t re, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
static int
refuse(struct rclient *cl, int64_t re, const char *code, const char *fmt,
    ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cl->alive)
		bus_answer_err(cl->c, re, code, msg);
	return -1;
}

/* The caller's agent name, or a refusal. */
static const char *
caller_agent(struct rclient *cl, int64_t re, const char *what)
{
	struct who *w = auth_who(cl);

	if (w->role == RR_NONE) {
		refuse(cl, re, "denied", "%s: you are not a parley agent",
		    what);
		return NULL;
	}
	if (w->agent[0] == '\0') {
		refuse(cl, re, "denied", "%s: only agents have a state; "
		    "this Unix user is not mapped to an agent", what);
		return NULL;
	}
	return w->agent;
}

/* A conversation by the frame's "conv", checked against the caller. */
static MDB_txn *
load_conv(struct rclient *cl, const msgpack_object *f, int64_t re,
    struct conv *cv, const char *what)
{
	char id[R_IDLEN];
	MDB_txn *txn;
	int rc;

	if (!mp_strcpy(f, "conv", id, sizeof(id)) || id[0] == '\0') {
		refuse(cl, re, "invalid", "%s: conv is required", what);
		return NULL;
	}
	if ((txn = store_txn(R->st)) == NULL) {
		refuse(cl, re, "store", "%s", store_error(R->st));
		return NULL;
	}
	if ((rc = conv_get(txn, id, cv)) != 0) {
		refuse(cl, re, "notfound", "%s: no conversation %s", what, id);
		return NULL;
	}
	if (auth_check_conv(cl, re, cv) != 0)
		return NULL;
	return txn;
}

static void
event_agent(MDB_txn *txn, const struct agent *a, const char *prev,
    long long prev_ms, int *rc)
{
	msgpack_packer *pk = rec_begin(8);

	mp_kv_str(pk, "type", "agent");
	mp_kv_str(pk, "agent", a->name);
	mp_kv_str(pk, "status", a->status);
	mp_kv_str(pk, "kind", route_status_name(a->kind));
	mp_kv_str(pk, "reason", a->reason);
	mp_kv_str(pk, "prev", prev);
	mp_kv_int(pk, "prev_ms", prev_ms);
	mp_kv_int(pk, "ts", now_ms());
	*rc = rec_append(txn, "", NULL);
}

void
route_status(struct rclient *cl, const msgpack_object *f)
{
	const char *name;
	char status[64] = "", reason[128] = "", prev[64];
	int64_t re = 0;
	struct agent *a;
	struct rans *ans;
	MDB_txn *txn;
	long long now = now_ms(), prev_ms;
	int kind, rc = 0;

	mp_int(f, "id", &re);
	if ((name = caller_agent(cl, re, "status")) == NULL)
		return;
	a = agent_get(name, 1);
	if (!mp_strcpy(f, "status", status, sizeof(status)) ||
	    status[0] == '\0') {
		/* no status: tell the current one */
		struct fbuf fb;

		fbuf_init(&fb);
		bus_answer_begin(&fb, re, 6);
		mp_kv_str(&fb.pk, "agent", a->name);
		mp_kv_str(&fb.pk, "status", a->status);
		mp_kv_str(&fb.pk, "kind", route_status_name(a->kind));
		mp_kv_str(&fb.pk, "reason", a->reason);
		mp_kv_int(&fb.pk, "since_ts", a->since);
		mp_kv_int(&fb.pk, "active", a->active);
		bus_send(cl->c, &fb);
		fbuf_free(&fb);
		return;
	}
	mp_strcpy(f, "reason", reason, sizeof(reason));
	if ((kind = kind_parse(status)) == 0) {
		/* a name from the status catalogue (msg statusdef) */
		MDB_txn *ct;
		msgpack_unpacked up;
		char k[16] = "";

		if (camp_rtxn(&ct) == 0) {
			msgpack_unpacked_init(&up);
			if (camp_doc(ct, "statusdefs", status, &up) == 0)
				mp_strcpy(&up.data, "kind", k, sizeof(k));
			msgpack_unpacked_destroy(&up);
			mdb_txn_abort(ct);
		}
		if ((kind = kind_parse(k)) == 0) {
			refuse(cl, re, "invalid", "status: \"%s\" is not "
			    "available, break, busy, offline or a status of "
			    "the catalogue (msg statusdef list)", status);
			return;
		}
	}
	if ((txn = store_txn(R->st)) == NULL) {
		refuse(cl, re, "store", "%s", store_error(R->st));
		return;
	}
	snprintf(prev, sizeof(prev), "%s", a->status);
	prev_ms = a->since ? now - a->since : 0;
	snprintf(a->status, sizeof(a->status), "%s", status);
	snprintf(a->reason, sizeof(a->reason), "%s", reason);
	a->kind = kind;
	a->since = now;
	if (kind == ROUTE_AVAILABLE)
		dirty = 1;
	ans = rans_new(cl, re, 4);
	mp_kv_str(&ans->fb.pk, "agent", a->name);
	mp_kv_str(&ans->fb.pk, "status", a->status);
	mp_kv_str(&ans->fb.pk, "kind", route_status_name(kind));
	mp_kv_int(&ans->fb.pk, "since_ts", now);
	if ((rc = agent_save(txn, a)) == 0)
		event_agent(txn, a, prev, prev_ms, &rc);
	store_after(R->st, rans_done, ans);
	if (rc != 0)
		store_fail(R->st, rc, "changing an agent's status");
}

void
route_claim(struct rclient *cl, const msgpack_object *f)
{
	const char *name;
	int64_t re = 0;
	struct conv cv;
	struct camp c;
	struct agent *a;
	struct rans *ans;
	MDB_txn *txn;
	int receive = 0, rc;

	mp_int(f, "id", &re);
	if ((name = caller_agent(cl, re, "claim")) == NULL)
		return;
	if ((txn = load_conv(cl, f, re, &cv, "claim")) == NULL)
		return;
	if (strcmp(cv.status, "open") != 0) {
		refuse(cl, re, "invalid", "claim: %s is closed", cv.id);
		return;
	}
	if (strcmp(cv.mode, "bot") == 0) {
		refuse(cl, re, "invalid", "claim: %s is with the bot; "
		    "msg mode %s agent hands it to agents", cv.id, cv.id);
		return;
	}
	if (strcmp(cv.rstate, "assigned") == 0) {
		if (strcmp(cv.agent, name) == 0)
			refuse(cl, re, "invalid", "claim: %s is already yours",
			    cv.id);
		else
			refuse(cl, re, "invalid", "claim: %s is assigned to %s",
			    cv.id, cv.agent);
		return;
	}
	if (!auth_member(cv.campaign, name, &receive, NULL) || !receive) {
		refuse(cl, re, "denied", "claim: %s may not receive "
		    "conversations of campaign %s", name, cv.campaign);
		return;
	}
	camp_get(cv.campaign, &c);
	a = agent_get(name, 1);
	/* offers held for other conversations count; this one's does not */
	if (a->active + lease_held(L, name) - lease_has(L, cv.id, name) >=
	    c.max_interactions) {
		refuse(cl, re, "invalid", "claim: you are at capacity (%d of "
		    "%d conversations%s)", a->active, c.max_interactions,
		    lease_held(L, name) ? ", counting offers waiting for you" :
		    "");
		return;
	}
	ans = rans_new(cl, re, 2);
	mp_kv_str(&ans->fb.pk, "conv", cv.id);
	mp_kv_str(&ans->fb.pk, "agent", name);
	rc = route_assign(txn, &cv, name, "claim");
	store_after(R->st, rans_done, ans);
	if (rc != 0)
		store_fail(R->st, rc, "claiming a conversation");
}

/* Is path one of the dispositions (campaignd db "dispositions")? */
static int
disposition_known(const char *path)
{
	MDB_txn *t;
	msgpack_unpacked up;
	int ok = 0;

	if (camp_rtxn(&t) == -1)
		return 0;
	msgpack_unpacked_init(&up);
	ok = camp_doc(t, "dispositions", path, &up) == 0;
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(t);
	return ok;
}

void
route_close(struct rclient *cl, const msgpack_object *f)
{
	struct who *w = auth_who(cl);
	char disp[200] = "";
	int64_t re = 0;
	struct conv cv;
	struct camp c;
	struct rans *ans;
	msgpack_packer *pk;
	MDB_txn *txn;
	int rc;

	mp_int(f, "id", &re);
	if ((txn = load_conv(cl, f, re, &cv, "close")) == NULL)
		return;
	if (strcmp(cv.status, "closed") == 0) {
		refuse(cl, re, "invalid", "close: %s is already closed", cv.id);
		return;
	}
	if (w->role < RR_SUPERVISOR && cv.agent[0] &&
	    strcmp(cv.rstate, "assigned") == 0 &&
	    strcmp(cv.agent, w->agent) != 0) {
		refuse(cl, re, "denied", "close: %s is assigned to %s", cv.id,
		    cv.agent);
		return;
	}
	mp_strcpy(f, "disposition", disp, sizeof(disp));
	camp_get(cv.campaign, &c);
	if (disp[0] == '\0' && c.disposition_required) {
		refuse(cl, re, "invalid", "close: campaign %s requires a "
		    "disposition (--disposition Level/Sub/Leaf)", cv.campaign);
		return;
	}
	if (disp[0] && !disposition_known(disp)) {
		refuse(cl, re, "invalid", "close: no disposition \"%s\" "
		    "(msg disposition list)", disp);
		return;
	}
	ans = rans_new(cl, re, 1);
	mp_kv_str(&ans->fb.pk, "conv", cv.id);
	if ((rc = route_dequeue(txn, &cv)) != 0 ||
	    (rc = route_release(txn, &cv, 1)) != 0)
		goto fail;
	snprintf(cv.status, sizeof(cv.status), "closed");
	snprintf(cv.rstate, sizeof(cv.rstate), "closed");
	snprintf(cv.disposition, sizeof(cv.disposition), "%s", disp);
	cv.closed_ts = now_ms();
	cv.waiting_since = 0;
	if ((rc = conv_put(txn, &cv)) != 0)
		goto fail;
	pk = rec_begin(6);
	mp_kv_str(pk, "type", "close");
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "campaign", cv.campaign);
	mp_kv_str(pk, "agent", cv.agent[0] ? cv.agent : w->agent);
	mp_kv_str(pk, "disposition", disp[0] ? disp : NULL);
	mp_kv_int(pk, "ts", now_ms());
	if ((rc = rec_append(txn, cv.id, NULL)) != 0)
		goto fail;
	store_after(R->st, rans_done, ans);
	return;
fail:
	store_after(R->st, rans_done, ans);
	store_fail(R->st, rc, "closing a conversation");
}

void
route_transfer(struct rclient *cl, const msgpack_object *f)
{
	struct who *w = auth_who(cl);
	char to[64] = "", tocamp[64] = "", from[64];
	int64_t re = 0;
	struct conv cv;
	struct camp c;
	struct rans *ans;
	msgpack_packer *pk;
	MDB_txn *txn;
	int receive = 0, rc;

	mp_int(f, "id", &re);
	mp_strcpy(f, "agent", to, sizeof(to));
	mp_strcpy(f, "campaign", tocamp, sizeof(tocamp));
	if ((to[0] == '\0') == (tocamp[0] == '\0')) {
		refuse(cl, re, "invalid", "transfer: say --to AGENT or "
		    "--campaign CAMPAIGN");
		return;
	}
	if ((txn = load_conv(cl, f, re, &cv, "transfer")) == NULL)
		return;
	if (strcmp(cv.status, "open") != 0) {
		refuse(cl, re, "invalid", "transfer: %s is closed", cv.id);
		return;
	}
	if (w->role < RR_SUPERVISOR && strcmp(cv.rstate, "assigned") == 0 &&
	    strcmp(cv.agent, w->agent) != 0) {
		refuse(cl, re, "denied", "transfer: %s is assigned to %s",
		    cv.id, cv.agent);
		return;
	}
	snprintf(from, sizeof(from), "%s", cv.agent);
	if (to[0]) {
		struct agent *a;

		if (!auth_member(cv.campaign, to, &receive, NULL) || !receive) {
			refuse(cl, re, "invalid", "transfer: %s is not a "
			    "member of campaign %s who may receive", to,
			    cv.campaign);
			return;
		}
		camp_get(cv.campaign, &c);
		a = agent_get(to, 1);
		if (a->active >= c.max_interactions &&
		    strcmp(cv.agent, to) != 0) {
			refuse(cl, re, "invalid", "transfer: %s is at capacity "
			    "(%d of %d conversations)", to, a->active,
			    c.max_interactions);
			return;
		}
		ans = rans_new(cl, re, 1);
		mp_kv_str(&ans->fb.pk, "conv", cv.id);
		if ((rc = route_release(txn, &cv, 0)) != 0)
			goto fail;
		snprintf(cv.rstate, sizeof(cv.rstate), "new");
		if ((rc = route_assign(txn, &cv, to, "transfer")) != 0)
			goto fail;
	} else {
		MDB_txn *ct;
		msgpack_unpacked up;
		int exists = 0;

		if (camp_rtxn(&ct) == 0) {
			msgpack_unpacked_init(&up);
			exists = camp_doc(ct, "campaigns", tocamp, &up) == 0;
			msgpack_unpacked_destroy(&up);
			mdb_txn_abort(ct);
		}
		if (!exists) {
			refuse(cl, re, "invalid", "transfer: no campaign %s",
			    tocamp);
			return;
		}
		ans = rans_new(cl, re, 1);
		mp_kv_str(&ans->fb.pk, "conv", cv.id);
		if ((rc = route_dequeue(txn, &cv)) != 0 ||
		    (rc = route_release(txn, &cv, 0)) != 0)
			goto fail;
		snprintf(cv.campaign, sizeof(cv.campaign), "%s", tocamp);
		cv.agent[0] = '\0';
		snprintf(cv.rstate, sizeof(cv.rstate), "new");
		snprintf(cv.mode, sizeof(cv.mode), "agent");
		if ((rc = route_enqueue(txn, &cv)) != 0)
			goto fail;
	}
	pk = rec_begin(8);
	mp_kv_str(pk, "type", "transfer");
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "campaign", cv.campaign);
	mp_kv_str(pk, "from", from[0] ? from : NULL);
	mp_kv_str(pk, "to", to[0] ? to : NULL);
	mp_kv_str(pk, "to_campaign", tocamp[0] ? tocamp : NULL);
	mp_kv_str(pk, "by", w->agent[0] ? w->agent : "admin");
	mp_kv_int(pk, "ts", now_ms());
	if ((rc = rec_append(txn, cv.id, NULL)) != 0)
		goto fail;
	store_after(R->st, rans_done, ans);
	return;
fail:
	store_after(R->st, rans_done, ans);
	store_fail(R->st, rc, "transferring a conversation");
}

void
route_mode(struct rclient *cl, const msgpack_object *f)
{
	struct who *w = auth_who(cl);
	char mode[8] = "";
	int64_t re = 0;
	struct conv cv;
	struct rans *ans;
	msgpack_packer *pk;
	MDB_txn *txn;
	int rc;

	mp_int(f, "id", &re);
	if (!mp_strcpy(f, "mode", mode, sizeof(mode)) ||
	    (strcmp(mode, "bot") != 0 && strcmp(mode, "agent") != 0)) {
		refuse(cl, re, "invalid", "mode: say bot or agent");
		return;
	}
	if ((txn = load_conv(cl, f, re, &cv, "mode")) == NULL)
		return;
	if (strcmp(cv.mode, mode) == 0) {
		refuse(cl, re, "invalid", "mode: %s is already in %s mode",
		    cv.id, mode);
		return;
	}
	ans = rans_new(cl, re, 2);
	mp_kv_str(&ans->fb.pk, "conv", cv.id);
	mp_kv_str(&ans->fb.pk, "mode", mode);
	if (strcmp(mode, "bot") == 0) {
		if ((rc = route_dequeue(txn, &cv)) != 0 ||
		    (rc = route_release(txn, &cv, 0)) != 0)
			goto fail;
		snprintf(cv.mode, sizeof(cv.mode), "bot");
		snprintf(cv.rstate, sizeof(cv.rstate), "bot");
		cv.agent[0] = '\0';
		if ((rc = conv_put(txn, &cv)) != 0)
			goto fail;
		pk = rec_begin(6);
		mp_kv_str(pk, "type", "mode");
		mp_kv_str(pk, "conv", cv.id);
		mp_kv_str(pk, "campaign", cv.campaign);
		mp_kv_str(pk, "mode", "bot");
		mp_kv_str(pk, "by", w->agent[0] ? w->agent : "admin");
		mp_kv_int(pk, "ts", now_ms());
		rc = rec_append(txn, cv.id, NULL);
	} else {
		snprintf(cv.rstate, sizeof(cv.rstate), "new");
		rc = strcmp(cv.status, "open") == 0 ?
		    route_to_agents(txn, &cv, 0, w->agent[0] ? w->agent :
		    "admin") : 0;
		if (rc == 0 && strcmp(cv.status, "open") != 0) {
			snprintf(cv.mode, sizeof(cv.mode), "agent");
			rc = conv_put(txn, &cv);
		}
	}
	if (rc != 0)
		goto fail;
	store_after(R->st, rans_done, ans);
	return;
fail:
	store_after(R->st, rans_done, ans);
	store_fail(R->st, rc, "changing a conversation's mode");
}

void
route_explain(struct rclient *cl, const msgpack_object *f)
{
	char id[R_IDLEN], decision[300];
	int64_t re = 0;
	struct conv cv;
	struct camp c;
	struct route_explain ex[MAX_MEMBERS];
	enum route_strategy s = RS_RINGALL;
	size_t idx[LEASE_MAXAGENTS], n, i;
	struct fbuf fb;
	MDB_txn *txn;
	long long now = now_ms(), next = 0;
	int open;

	mp_int(f, "id", &re);
	if (!mp_strcpy(f, "conv", id, sizeof(id))) {
		refuse(cl, re, "invalid", "route: conv is required");
		return;
	}
	if (store_rtxn(R->st, &txn) != 0) {
		refuse(cl, re, "store", "route: store unavailable");
		return;
	}
	if (conv_get(txn, id, &cv) != 0) {
		mdb_txn_abort(txn);
		refuse(cl, re, "notfound", "route: no conversation %s", id);
		return;
	}
	mdb_txn_abort(txn);
	if (auth_check_conv(cl, re, &cv) != 0)
		return;
	camp_get(cv.campaign, &c);
	if (route_strategy_parse(c.strategy, &s) == -1)
		s = RS_RINGALL;
	members_load(cv.campaign, &c, &ms_buf);
	memset(ex, 0, sizeof(ex));
	n = decide(&cv, &c, s, &ms_buf, idx, ex);
	open = policy_open(cv.campaign, now, &next);
	if (strcmp(cv.rstate, "assigned") == 0)
		snprintf(decision, sizeof(decision), "assigned to %s", cv.agent);
	else if (strcmp(cv.mode, "bot") == 0)
		snprintf(decision, sizeof(decision), "with the bot");
	else if (strcmp(cv.status, "open") != 0)
		snprintf(decision, sizeof(decision), "closed");
	else if (!c.enabled)
		snprintf(decision, sizeof(decision), "campaign %s is disabled",
		    cv.campaign);
	else if (!open)
		snprintf(decision, sizeof(decision), "outside hours: waits for "
		    "the opening");
	else if (s == RS_MANUAL)
		snprintf(decision, sizeof(decision), "manual: waits for an "
		    "agent to claim it");
	else if (ms_buf.n == 0)
		snprintf(decision, sizeof(decision), "campaign %s has no "
		    "members", cv.campaign);
	else if (n == 0)
		snprintf(decision, sizeof(decision), "nobody eligible: waits");
	else if (lease_live(L, cv.id)) {
		const char *on[LEASE_MAXAGENTS];
		size_t k = lease_agents(L, cv.id, on, LEASE_MAXAGENTS);

		snprintf(decision, sizeof(decision), "offered to %s%s", on[0],
		    k > 1 ? " and others" : "");
	}
	else
		snprintf(decision, sizeof(decision), "next offer to %s%s",
		    ms_buf.names[idx[0]], n > 1 ? " and others" : "");
	fbuf_init(&fb);
	bus_answer_begin(&fb, re, 6);
	mp_kv_str(&fb.pk, "conv", cv.id);
	mp_kv_str(&fb.pk, "campaign", cv.campaign);
	mp_kv_str(&fb.pk, "strategy", route_strategy_name(s));
	mp_kv_str(&fb.pk, "rstate", cv.rstate);
	mp_kv_str(&fb.pk, "decision", decision);
	mp_pack_cstr(&fb.pk, "candidates");
	msgpack_pack_array(&fb.pk, ms_buf.n);
	for (i = 0; i < ms_buf.n; i++) {
		const struct route_member *m = &ms_buf.m[i];
		char why[120];

		if (ex[i].why == RW_CAPACITY)
			snprintf(why, sizeof(why), "at capacity (%d of %d)",
			    m->active, m->max);
		else
			snprintf(why, sizeof(why), "%s", ex[i].why == RW_OK ?
			    "eligible" : route_why_text(ex[i].why));
		msgpack_pack_map(&fb.pk, 8);
		mp_kv_str(&fb.pk, "agent", m->agent);
		mp_kv_int(&fb.pk, "position", m->position);
		mp_kv_int(&fb.pk, "penalty", m->penalty);
		mp_kv_str(&fb.pk, "status", route_status_name(m->status));
		mp_kv_int(&fb.pk, "active", m->active);
		mp_kv_int(&fb.pk, "metric", ex[i].metric);
		mp_kv_str(&fb.pk, "why", why);
		mp_kv_bool(&fb.pk, "chosen", ex[i].chosen ||
		    lease_has(L, cv.id, m->agent));
	}
	bus_send(cl->c, &fb);
	fbuf_free(&fb);
}
