/*
 * routerd_queue — the contact centre's heart: which campaign a conversation
 * belongs to, campaign queues, offers as leases, assignment, and the
 * agents' live state.  The handlers (routerd_in, routerd_send, routerd_work,
 * routerd_bot, routerd_query) call it; it calls down into routerd_store,
 * routerd_campaign, routerd_hours and lib/ (route, lease, htab).
 *
 * A conversation is opened in the campaign that owns our address, in the
 * mode of that campaign's operator (agents or a bot).  One that needs an
 * agent enters its campaign's queue (campaign, then priority, then
 * arrival) and is offered by the campaign's strategy (lib/route.h,
 * Asterisk app_queue's semantics) to the eligible members.  An offer is a
 * lease: unless claimed or replied to within the campaign's offer timeout
 * it lapses, the event says why, and the next agent gets it.  With nobody
 * eligible it waits, and is offered as soon as somebody becomes eligible (a
 * freed slot, a status change, the end of a wrap-up, a new member: every
 * such change marks routing dirty, and a tick re-checks once a second for
 * configuration changes).
 *
 * Durable state (queue, conversations, agents' status and counters) is in
 * LMDB and every change is an event; offers live in memory: after a restart
 * offered conversations are simply offered again.
 *
 * Each queue event begins a queue entry (its "entry_ts", the conversation's
 * queued_ts) or continues the one still waiting.  The entry ends answered
 * by the first agent reply after it (the "answer" event), or abandoned when
 * it is still unanswered as its wait reaches the campaign's dropout
 * threshold (the "abandon" event, once): statsd's figures (metrics.md §1)
 * are folded from these, not guessed.  The entries not yet answered are
 * kept in memory with their deadline, rebuilt from the conversations at
 * start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "mp.h"
#include "lease.h"
#include "route.h"
#include "routerd.h"

#define MAX_MEMBERS	QX_MAX
#define PUMP_BUDGET	5000		/* conversations looked at per pump */

/* agents' live state, by name; the round-robin memory, by campaign */
static struct htab	 agents;
static struct htab	 rrs;
static struct lease_tab	*L;		/* offers: lib/lease */
static int		 dirty = 1;	/* the whole queue to look at again */
static int		 pumping;

/*
 * Conversations enqueued since the last pump, by themselves: a new
 * conversation changes nothing for those already waiting (an agent freed,
 * a member added, a wrap-up ended or a campaign opening does: those set
 * dirty), so the pump after its commit looks at it alone instead of
 * walking the queue, which under a steady load of thousands waiting cost
 * a walk per message.  Beyond FRESH_MAX the whole queue is walked.
 */
#define FRESH_MAX	1024
static struct fresh {
	char	campaign[64];
	char	conv[R_IDLEN];
} fresh[FRESH_MAX];
static size_t		 nfresh;

/* a queue entry not yet answered nor abandoned, by conversation */
struct entry {
	struct htab_node hn;
	char		 conv[R_IDLEN];
	int64_t		 ts;		/* its queued_ts */
	int64_t		 dl;		/* its dropout, as last computed */
	char		 campaign[64];	/* its campaign then */
};
static struct htab	 entries;
static long long	 next_dropout;	/* the earliest deadline */
static long long	 last_recheck;	/* every deadline computed again */
static size_t		 recheck_gen;	/* campaignd's commit then */

/* thresholds may have changed: every deadline computed again when
 * campaignd has committed since, looked at this often (a threshold made
 * longer is honoured anyway: a deadline reached is computed again before
 * the entry is abandoned; a walk of every entry is a stall when thousands
 * wait, so it is not made for nothing) */
#define DROPOUT_RECHECK_MS	10000

/* the agent given a campaign's last conversation */
struct rr {
	struct htab_node hn;
	char		 campaign[64];
	char		 agent[64];
};

static int
agent_eq(const struct htab_node *n, const void *key, size_t keylen)
{
	const struct agent *a = HTAB_ENTRY(n, struct agent, hn);

	return strlen(a->name) == keylen && memcmp(a->name, key, keylen) == 0;
}

static int
entry_eq(const struct htab_node *n, const void *key, size_t keylen)
{
	const struct entry *e = HTAB_ENTRY(n, struct entry, hn);

	return strlen(e->conv) == keylen && memcmp(e->conv, key, keylen) == 0;
}

/* cv's entry waits for its first agent reply, or its dropout at dl. */
static void
entry_note(const struct conv *cv, long long dl)
{
	struct htab_node *n;
	struct entry *e;

	if ((n = htab_find(&entries, cv->id, strlen(cv->id), entry_eq)))
		e = HTAB_ENTRY(n, struct entry, hn);
	else {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			fatalx("out of memory");
		snprintf(e->conv, sizeof(e->conv), "%s", cv->id);
		if (htab_insert(&entries, &e->hn, e->conv,
		    strlen(e->conv)) == -1)
			fatalx("out of memory");
	}
	e->ts = cv->queued_ts;
	e->dl = dl;
	snprintf(e->campaign, sizeof(e->campaign), "%s", cv->campaign);
	if (dl < next_dropout)
		next_dropout = dl;
}

/* Is cv's queue entry open: queued, in agent mode, neither answered nor
 * abandoned, and logged (an entry that began before routerd logged answers,
 * as a conversation stored then says, is statsd's to decide)? */
static int
entry_open(const struct conv *cv)
{
	return cv->status == CV_OPEN && cv->mode == CM_AGENT &&
	    cv->queued_ts != 0 && cv->answered_ts == 0 &&
	    cv->abandoned_ts == 0 && !cv->entry_unlogged;
}

static int
rr_eq(const struct htab_node *n, const void *key, size_t keylen)
{
	const struct rr *r = HTAB_ENTRY(n, struct rr, hn);

	return strlen(r->campaign) == keylen &&
	    memcmp(r->campaign, key, keylen) == 0;
}

/* ---------------------------------------------------------- agents */

struct agent *
queue_agent(const char *name, int create)
{
	struct htab_node *n;
	struct agent *a;

	if ((n = htab_find(&agents, name, strlen(name), agent_eq)) != NULL)
		return HTAB_ENTRY(n, struct agent, hn);
	if (!create)
		return NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatalx("out of memory");
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->status, sizeof(a->status), "offline");
	a->kind = ROUTE_OFFLINE;
	if (htab_insert(&agents, &a->hn, a->name, strlen(a->name)) == -1)
		fatalx("out of memory");
	return a;
}

int
queue_agent_status(MDB_txn *txn, struct agent *a, const char *prev,
    long long prev_ms)
{
	msgpack_packer *pk;
	int rc;

	if (a->kind == ROUTE_AVAILABLE)
		dirty = 1;
	if ((rc = rs_agent_put(txn, a)) != 0)
		return rc;
	pk = rs_event(8);
	mp_kv_str(pk, "type", "agent");
	mp_kv_str(pk, "agent", a->name);
	mp_kv_str(pk, "status", a->status);
	mp_kv_str(pk, "kind", route_status_name(a->kind));
	mp_kv_str(pk, "reason", a->reason);
	mp_kv_str(pk, "prev", prev);
	mp_kv_int(pk, "prev_ms", prev_ms);
	mp_kv_int(pk, "ts", daemon_now_ms());
	return rs_append(txn, "", NULL);
}

int
queue_offers(const char *agent, const char *conv, int *for_conv)
{
	if (for_conv != NULL)
		*for_conv = conv != NULL && lease_has(L, conv, agent);
	return lease_held(L, agent);
}

/* the round-robin memory of a campaign: the agent given the last one */
static char *
rr_last(const char *campaign)
{
	struct htab_node *n;
	struct rr *r;

	if ((n = htab_find(&rrs, campaign, strlen(campaign), rr_eq)) != NULL)
		return HTAB_ENTRY(n, struct rr, hn)->agent;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatalx("out of memory");
	snprintf(r->campaign, sizeof(r->campaign), "%s", campaign);
	if (htab_insert(&rrs, &r->hn, r->campaign, strlen(r->campaign)) == -1)
		fatalx("out of memory");
	return r->agent;
}

/* ---------------------------------------------------- conversations */

int
queue_conv(MDB_txn *txn, enum chan ch, const char *addr, const char *contact,
    long long ts, struct conv *cv)
{
	struct camp c;
	int rc;

	if ((rc = rs_conv_find(txn, ch, addr, contact, cv)) != MDB_NOTFOUND)
		return rc;
	memset(cv, 0, sizeof(*cv));
	cv->channel = ch;
	snprintf(cv->addr, sizeof(cv->addr), "%s", addr);
	snprintf(cv->contact, sizeof(cv->contact), "%s", contact);
	/* the campaign that owns our address (campaignd), else "default" */
	camp_lookup(ch, addr, cv->campaign, sizeof(cv->campaign));
	/* bot-operated campaigns' conversations start in bot mode */
	camp_get(cv->campaign, &c);
	cv->mode = c.operator_;
	cv->rstate = cv->mode == CM_BOT ? CS_BOT : CS_NEW;
	cv->status = CV_OPEN;
	cv->opened_ts = cv->last_ts = ts;
	return rs_conv_create(txn, cv, ts);
}

void
queue_reopen(struct conv *cv)
{
	struct camp c;

	/* its campaign has ended or is not launched: the one that owns our
	 * address now takes it, as it would a new conversation */
	if (!camp_live(cv->campaign, NULL, 0))
		camp_lookup(cv->channel, cv->addr, cv->campaign,
		    sizeof(cv->campaign));
	camp_get(cv->campaign, &c);
	cv->status = CV_OPEN;
	cv->mode = c.operator_;
	cv->rstate = cv->mode == CM_BOT ? CS_BOT : CS_NEW;
	cv->agent[0] = '\0';
	cv->disposition[0] = '\0';
	cv->closed_ts = 0;
}

/* -------------------------------------------------------- the queue */

int
queue_enqueue(MDB_txn *txn, struct conv *cv)
{
	msgpack_packer *pk;
	struct camp c;
	int rc;

	if (cv->queued_ts == 0 || cv->rstate != CS_WAITING ||
	    cv->entry_unlogged) {
		/* a new entry */
		cv->queued_ts = daemon_now_ms();
		cv->answered_ts = cv->abandoned_ts = 0;
		cv->entry_unlogged = 0;
	}
	if ((rc = rs_queue_put(txn, cv)) != 0)
		return rc;
	cv->rstate = CS_WAITING;
	if ((rc = rs_conv_put(txn, cv)) != 0)
		return rc;
	camp_get(cv->campaign, &c);
	if (entry_open(cv))
		entry_note(cv, cv->queued_ts + (long long)c.dropout_s * 1000);
	pk = rs_event(10);
	mp_kv_str(pk, "type", "queue");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "channel", rs_chan_name(cv->channel));
	mp_kv_int(pk, "priority", cv->priority);
	mp_kv_bool(pk, "attention", cv->attention);
	mp_kv_int(pk, "entry_ts", cv->queued_ts);
	mp_kv_int(pk, "sl_s", c.sl_s);
	mp_kv_int(pk, "dropout_s", c.dropout_s);
	mp_kv_int(pk, "ts", daemon_now_ms());
	if (nfresh < FRESH_MAX) {
		snprintf(fresh[nfresh].campaign, sizeof(fresh[0].campaign),
		    "%s", cv->campaign);
		snprintf(fresh[nfresh].conv, sizeof(fresh[0].conv), "%s",
		    cv->id);
		nfresh++;
	} else
		dirty = 1;
	return rs_append(txn, cv->id, NULL);
}

int
queue_dequeue(MDB_txn *txn, struct conv *cv)
{
	lease_drop(L, cv->id);
	return rs_queue_del(txn, cv);
}

int
queue_assign(MDB_txn *txn, struct conv *cv, const char *agent,
    const char *via)
{
	struct agent *a = queue_agent(agent, 1);
	msgpack_packer *pk;
	int rc;

	if ((rc = queue_dequeue(txn, cv)) != 0)
		return rc;
	if (cv->rstate == CS_ASSIGNED && cv->agent[0] &&
	    strcmp(cv->agent, agent) != 0 &&
	    (rc = queue_release(txn, cv, 0)) != 0)
		return rc;
	snprintf(cv->agent, sizeof(cv->agent), "%s", agent);
	cv->rstate = CS_ASSIGNED;
	if ((rc = rs_conv_put(txn, cv)) != 0)
		return rc;
	a->active++;
	a->taken++;
	a->last_ts = daemon_now_ms();
	snprintf(rr_last(cv->campaign), 64, "%s", agent);
	if ((rc = rs_agent_put(txn, a)) != 0)
		return rc;
	pk = rs_event(6);
	mp_kv_str(pk, "type", "assign");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "agent", agent);
	mp_kv_str(pk, "via", via);
	mp_kv_int(pk, "ts", daemon_now_ms());
	return rs_append(txn, cv->id, NULL);
}

int
queue_answered(MDB_txn *txn, struct conv *cv, const char *agent,
    const char *msgid, long long ts)
{
	msgpack_packer *pk;
	struct camp c;

	/* its entry in memory goes at its deadline (the batch may fail) */
	if (!entry_open(cv))
		return 0;
	cv->answered_ts = ts;
	camp_get(cv->campaign, &c);
	pk = rs_event(10);
	mp_kv_str(pk, "type", "answer");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "channel", rs_chan_name(cv->channel));
	mp_kv_str(pk, "agent", agent);
	mp_kv_str(pk, "msg", msgid);
	mp_kv_int(pk, "entry_ts", cv->queued_ts);
	mp_kv_int(pk, "wait_ms", ts > cv->queued_ts ? ts - cv->queued_ts : 0);
	mp_kv_int(pk, "sl_s", c.sl_s);
	mp_kv_int(pk, "ts", ts);
	return rs_append(txn, cv->id, NULL);
}

int
queue_capacity(const char *agent, const struct conv *cv, char *why,
    size_t whysz)
{
	struct agent *a = queue_agent(agent, 1);
	struct camp c;
	int offers, mine = 0;

	camp_get(cv->campaign, &c);
	offers = queue_offers(agent, cv->id, &mine);
	if (a->active + offers - mine < c.max_interactions)
		return 0;
	snprintf(why, whysz, "at capacity (%d of %d conversations%s)",
	    a->active, c.max_interactions, offers - mine > 0 ? ", counting "
	    "offers waiting" : "");
	return -1;
}

int
queue_release(MDB_txn *txn, struct conv *cv, int wrapup)
{
	struct agent *a;
	struct camp c;

	if (cv->agent[0] == '\0' || cv->rstate != CS_ASSIGNED)
		return 0;
	if ((a = queue_agent(cv->agent, 0)) == NULL)
		return 0;
	if (a->active > 0)
		a->active--;
	if (wrapup) {
		camp_get(cv->campaign, &c);
		if (c.wrapup_s > 0)
			a->wrapup_until = daemon_now_ms() +
			    (long long)c.wrapup_s * 1000;
	}
	dirty = 1;
	return rs_agent_put(txn, a);
}

int
queue_to_agents(MDB_txn *txn, struct conv *cv, int attention, const char *why)
{
	msgpack_packer *pk;
	int rc;

	cv->mode = CM_AGENT;
	if (attention)
		cv->attention = 1;
	pk = rs_event(6);
	mp_kv_str(pk, "type", "mode");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "mode", "agent");
	mp_kv_str(pk, "why", why ? why : "");
	mp_kv_int(pk, "ts", daemon_now_ms());
	if ((rc = rs_append(txn, cv->id, NULL)) != 0)
		return rc;
	if (cv->rstate == CS_ASSIGNED)
		return rs_conv_put(txn, cv);
	return queue_enqueue(txn, cv);
}

/* ------------------------------- members of a campaign, with their state */

struct members {
	struct route_member	 m[MAX_MEMBERS];
	char			 names[MAX_MEMBERS][64];
	size_t			 n;
	const struct camp	*c;
};

static void
member_add(const char *agent, const msgpack_object *doc, void *arg)
{
	struct members *ms = arg;
	struct route_member *m = &ms->m[ms->n];
	struct agent *a;
	int64_t iv;
	int b;

	memset(m, 0, sizeof(*m));
	snprintf(ms->names[ms->n], sizeof(ms->names[0]), "%s", agent);
	m->agent = ms->names[ms->n];
	m->receive = 1;
	if (doc != NULL) {
		if (mp_int(doc, "position", &iv))
			m->position = (int)iv;
		if (mp_int(doc, "penalty", &iv))
			m->penalty = (int)iv;
		if (mp_bool(doc, "receive", &b))
			m->receive = b;
	}
	a = queue_agent(m->agent, 0);
	m->status = a ? a->kind : ROUTE_OFFLINE;
	/* pending offers hold slots: never offer more than are free */
	m->active = (a ? a->active : 0) + lease_held(L, m->agent);
	m->max = ms->c->max_interactions;
	m->wrapup_until = a ? a->wrapup_until : 0;
	m->last_ts = a ? a->last_ts : 0;
	m->taken = a ? a->taken : 0;
	m->busy_offer = lease_held(L, m->agent) > 0;
	ms->n++;
}

static void
members_load(const char *campaign, const struct camp *c, struct members *ms)
{
	ms->n = 0;
	ms->c = c;
	camp_members(campaign, MAX_MEMBERS, member_add, ms);
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
	long long now = daemon_now_ms();
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
	cv->rstate = CS_OFFERED;
	if ((rc = rs_conv_put(txn, cv)) != 0)
		return rc;
	pk = rs_event(7);
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
	return rs_append(txn, cv->id, NULL);
}

/* Decide for one conversation: fill explain when ex is not NULL. */
static size_t
decide(const struct conv *cv, enum route_strategy s, struct members *ms,
    size_t *idx, struct route_explain *ex)
{
	const char *rr = rr_last(cv->campaign)[0] ? rr_last(cv->campaign) :
	    NULL;
	size_t i, n;

	for (i = 0; i < ms->n; i++)
		ms->m[i].offered = lease_lapsed(L, cv->id, ms->names[i]);
	n = route_choose(s, ms->m, ms->n, rr, daemon_now_ms(), rnd, idx,
	    LEASE_MAXAGENTS, ex);
	if (n == 0) {
		/* everyone eligible let it lapse: start the round again */
		for (i = 0; i < ms->n; i++)
			ms->m[i].offered = 0;
		n = route_choose(s, ms->m, ms->n, rr, daemon_now_ms(), rnd,
		    idx, LEASE_MAXAGENTS, NULL);
		if (n > 0)
			lease_reset_lapsed(L, cv->id);
	}
	return n;
}

static struct members	 ms_buf;

/* One pass over the queue, from one read snapshot. */
struct pump {
	MDB_txn			*rtxn, *txn;
	char			 campaign[64];
	struct camp		 c;
	enum route_strategy	 s;
	int			 skip;
	int			 ended;		/* the campaign is archived */
	int			 budget;
	long long		 now;
};

static int queue_ended(MDB_txn *, const char *);

static int
pump_one(const char *campaign, const char *conv, void *arg)
{
	struct pump *p = arg;
	size_t idx[LEASE_MAXAGENTS], n;
	struct conv cv;
	long long next;
	int rc;

	if (p->budget == 0)
		return 1;
	if (strcmp(p->campaign, campaign) != 0) {
		/* a new campaign's segment */
		snprintf(p->campaign, sizeof(p->campaign), "%s", campaign);
		camp_get(campaign, &p->c);
		p->ended = strcmp(p->c.state, "archived") == 0;
		p->skip = !p->c.enabled ||
		    route_strategy_parse(p->c.strategy, &p->s) == -1 ||
		    p->s == RS_MANUAL || !hours_open(campaign, p->now, &next);
		if (!p->skip)
			members_load(campaign, &p->c, &ms_buf);
		if (!p->skip && ms_buf.n == 0)
			p->skip = 1;
		if (p->skip && !p->ended) {
			/* nobody can be offered any of its conversations */
			p->budget--;
			return RS_QUEUE_SKIP;
		}
	}
	if (p->ended) {
		/* the campaign was stopped: its waiting conversations leave */
		if (p->txn == NULL && (p->txn = store_txn(R->st)) == NULL)
			return 1;
		if ((rc = queue_ended(p->txn, conv)) != 0) {
			store_fail(R->st, rc, "ending a stopped campaign's queue");
			p->txn = NULL;
			return 1;
		}
		p->budget--;
		return 0;
	}
	if (p->skip || lease_live(L, conv) ||	/* its lease runs */
	    rs_conv_get(p->rtxn, conv, &cv) != 0 ||
	    (n = decide(&cv, p->s, &ms_buf, idx, NULL)) == 0) {
		p->budget--;
		return 0;
	}
	if (p->txn == NULL && (p->txn = store_txn(R->st)) == NULL)
		return 1;
	/* the write txn sees the same conversation, maybe newer */
	if (rs_conv_get(p->txn, conv, &cv) != 0 || cv.rstate != CS_WAITING) {
		p->budget--;
		return 0;
	}
	if ((rc = offer_make(p->txn, &cv, &p->c, p->s, &ms_buf, idx,
	    n)) != 0) {
		store_fail(R->st, rc, "making an offer");
		p->txn = NULL;
		return 1;
	}
	p->budget--;
	return 0;
}

/*
 * A waiting conversation of a stopped (archived) campaign: on a number the
 * campaign had provisioned it is closed ("campaign ended"); on a reusable
 * one it moves to the campaign that owns the number now (the next active
 * one listing it, else "default") and waits there, or, when it needs
 * attention, to the number's unsolicited settings.  An event each.
 */
static int
queue_ended(MDB_txn *txn, const char *id)
{
	char from[64];
	msgpack_packer *pk;
	struct conv cv;
	int rc;

	if ((rc = rs_conv_get(txn, id, &cv)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	if (cv.status != CV_OPEN || cv.rstate != CS_WAITING)
		return 0;
	snprintf(from, sizeof(from), "%s", cv.campaign);
	if ((rc = queue_dequeue(txn, &cv)) != 0)
		return rc;
	if (camp_provisioned(from, cv.channel, cv.addr)) {
		cv.status = CV_CLOSED;
		cv.rstate = CS_CLOSED;
		cv.closed_ts = daemon_now_ms();
		cv.waiting_since = 0;
		pk = rs_event(6);
		mp_kv_str(pk, "type", "close");
		mp_kv_str(pk, "conv", cv.id);
		mp_kv_str(pk, "campaign", from);
		mp_kv_str(pk, "by", "parley");
		mp_kv_str(pk, "reason", "campaign ended");
		mp_kv_int(pk, "ts", daemon_now_ms());
		if ((rc = rs_append(txn, cv.id, NULL)) != 0)
			return rc;
		return rs_conv_put(txn, &cv);
	}
	/* needing attention, it goes where the number's unsolicited
	 * settings say, as a held one does (ended_move) */
	if (!cv.attention || !camp_unsolicited(cv.channel, cv.addr,
	    cv.campaign, sizeof(cv.campaign)))
		camp_lookup(cv.channel, cv.addr, cv.campaign,
		    sizeof(cv.campaign));
	pk = rs_event(7);
	mp_kv_str(pk, "type", "transfer");
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "campaign", from);
	mp_kv_str(pk, "to_campaign", cv.campaign);
	mp_kv_str(pk, "by", "parley");
	mp_kv_str(pk, "reason", "campaign ended");
	mp_kv_int(pk, "ts", daemon_now_ms());
	if ((rc = rs_append(txn, cv.id, NULL)) != 0)
		return rc;
	cv.rstate = CS_NEW;
	return queue_enqueue(txn, &cv);
}

#define ENDED_EVERY_MS	5000	/* how often stopped campaigns are looked for */
#define ENDED_CAMPS	64	/* archived campaigns looked at in one pass */
#define ENDED_BATCH	1024	/* conversations moved in one pass at most */

struct ended {
	char	names[ENDED_CAMPS][64];
	size_t	n;
	char	(*ids)[R_IDLEN];
	size_t	nids;
	const char *campaign;
};

static void
ended_camp(const char *name, void *arg)
{
	struct ended *e = arg;

	if (e->n < ENDED_CAMPS)
		snprintf(e->names[e->n++], sizeof(e->names[0]), "%s", name);
}

/* An open conversation of the ended campaign that needs attention on a
 * number the campaign did not provision. */
static int
ended_due(const struct conv *cv, const char *campaign)
{
	return cv->status == CV_OPEN && cv->attention &&
	    strcmp(cv->campaign, campaign) == 0 &&
	    !camp_provisioned(campaign, cv->channel, cv->addr);
}

static int
ended_one(const char *id, const MDB_val *rec, void *arg)
{
	struct ended *e = arg;
	struct conv cv;

	if (rs_conv_decode(rec, &cv) != 0 || !ended_due(&cv, e->campaign))
		return 0;
	snprintf(e->ids[e->nids++], R_IDLEN, "%s", id);
	return e->nids == ENDED_BATCH;
}

/*
 * cv (needing attention, of stopped campaign from) goes where the number's
 * unsolicited settings say (else to its next owner): its agent keeps it
 * when a member there who may receive; else it leaves that agent's inbox
 * and waits in the new queue, offered to the agents who are.  A transfer
 * event, by parley, reason "campaign ended".
 */
static int
ended_move(MDB_txn *txn, struct conv *cv, const char *from)
{
	char to[sizeof(cv->campaign)], agent[64] = "";
	msgpack_packer *pk;
	int receive = 0, rc;

	if (!camp_unsolicited(cv->channel, cv->addr, to, sizeof(to)))
		camp_lookup(cv->channel, cv->addr, to, sizeof(to));
	if (cv->agent[0] && (!camp_member(to, cv->agent, &receive, NULL) ||
	    !receive)) {
		snprintf(agent, sizeof(agent), "%s", cv->agent);
		if ((rc = queue_dequeue(txn, cv)) != 0 ||
		    (rc = queue_release(txn, cv, 0)) != 0)
			return rc;
		cv->agent[0] = '\0';
	}
	snprintf(cv->campaign, sizeof(cv->campaign), "%s", to);
	pk = rs_event(8);
	mp_kv_str(pk, "type", "transfer");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", from);
	mp_kv_str(pk, "from", agent[0] ? agent : NULL);
	mp_kv_str(pk, "to_campaign", to);
	mp_kv_str(pk, "by", "parley");
	mp_kv_str(pk, "reason", "campaign ended");
	mp_kv_int(pk, "ts", daemon_now_ms());
	if ((rc = rs_append(txn, cv->id, NULL)) != 0)
		return rc;
	if (cv->agent[0])
		return rs_conv_put(txn, cv);	/* stays with its agent */
	if ((rc = queue_dequeue(txn, cv)) != 0)
		return rc;
	cv->rstate = CS_NEW;
	cv->mode = CM_AGENT;
	return queue_enqueue(txn, cv);
}

void
queue_ended_tick(void)
{
	static long long last;
	static char ids[ENDED_BATCH][R_IDLEN];
	static struct ended e;
	struct conv cv;
	MDB_txn *txn;
	long long now = daemon_now_ms();
	size_t i, k;
	int rc = 0;

	if (now - last < ENDED_EVERY_MS)
		return;
	last = now;
	e.n = 0;
	camp_archived(ENDED_CAMPS, ended_camp, &e);
	for (k = 0; k < e.n && rc == 0; k++) {
		if (store_rtxn(R->st, &txn) != 0)
			return;
		if (rs_ended_get(txn, e.names[k]) == 0) {
			mdb_txn_abort(txn);
			continue;	/* done before */
		}
		e.ids = ids;
		e.nids = 0;
		e.campaign = e.names[k];
		rc = rs_convs_walk(txn, "", ended_one, &e);
		mdb_txn_abort(txn);
		if (rc != 0 || (txn = store_txn(R->st)) == NULL)
			return;
		for (i = 0; i < e.nids && rc == 0; i++)
			if (rs_conv_get(txn, ids[i], &cv) == 0 &&
			    ended_due(&cv, e.names[k]))
				rc = ended_move(txn, &cv, e.names[k]);
		/* all of it moved: marked, not looked at again */
		if (rc == 0 && e.nids < ENDED_BATCH)
			rc = rs_ended_put(txn, e.names[k]);
		if (rc != 0)
			store_fail(R->st, rc, "moving a stopped campaign's "
			    "conversations");
		if (e.nids == ENDED_BATCH)
			break;		/* the rest next time */
	}
}

void
queue_pump(void)
{
	struct pump p;
	size_t i, n;
	int rc;

	if (pumping || (!dirty && nfresh == 0) || R->d.draining)
		return;
	pumping = 1;
	memset(&p, 0, sizeof(p));
	p.s = RS_RINGALL;
	p.budget = PUMP_BUDGET;
	p.now = daemon_now_ms();
	if (store_rtxn(R->st, &p.rtxn) != 0) {
		pumping = 0;
		return;
	}
	if (dirty) {
		/* the whole queue: the fresh ones are in it */
		dirty = 0;
		nfresh = 0;
		if ((rc = rs_queue_walk(p.rtxn, pump_one, &p)) != 0)
			log_warnx("routing: the queue: %s", mdb_strerror(rc));
		if (p.budget == 0)
			dirty = 1;	/* more next time */
	} else {
		/* only what came since: in the order it came */
		n = nfresh;
		nfresh = 0;
		for (i = 0; i < n; i++) {
			if ((rc = pump_one(fresh[i].campaign, fresh[i].conv,
			    &p)) != 0 && rc != RS_QUEUE_SKIP)
				break;
		}
		if (i < n)
			dirty = 1;	/* stopped short: all next time */
	}
	mdb_txn_abort(p.rtxn);
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

/* The dropout thresholds of the last few campaigns looked up. */
#define DCACHE	16
struct dcache {
	char	name[64];
	int	dropout_s;
};

static int
dropout_of(const char *campaign, struct dcache *dc, size_t *n)
{
	struct camp c;
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(dc[i].name, campaign) == 0)
			return dc[i].dropout_s;
	camp_get(campaign, &c);
	i = *n < DCACHE ? (*n)++ : 0;
	snprintf(dc[i].name, sizeof(dc[i].name), "%s", campaign);
	dc[i].dropout_s = c.dropout_s;
	return c.dropout_s;
}

/* Entries whose wait reached their campaign's dropout threshold while
 * unanswered: the "abandon" event, once.  The rest: the next deadline. */
static void
dropouts(long long now)
{
	struct htab_iter it;
	struct htab_node *hn;
	struct entry *e;
	struct conv cv;
	struct camp c;
	msgpack_packer *pk;
	MDB_txn *rtxn, *txn = NULL;
	long long next = INT64_MAX;
	struct dcache dc[DCACHE];
	size_t ndc = 0;
	int rc = 0, recheck;

	recheck = 0;
	if (now >= last_recheck + DROPOUT_RECHECK_MS) {
		size_t gen = camp_gen();

		last_recheck = now;
		recheck = gen != recheck_gen;
		recheck_gen = gen;
	}
	if ((now < next_dropout && !recheck) || htab_count(&entries) == 0)
		return;
	if (store_rtxn(R->st, &rtxn) != 0)
		return;
	c.name[0] = '\0';
	htab_iter_init(&it, &entries);
	while ((hn = htab_iter_next(&it)) != NULL && rc == 0) {
		e = HTAB_ENTRY(hn, struct entry, hn);
		if (recheck)
			/* the threshold in force now, by the campaign the
			 * entry was noted in (a transfer notes it again): no
			 * read of the conversation until its deadline */
			e->dl = e->ts + dropout_of(e->campaign, dc, &ndc) *
			    1000LL;
		if (e->dl > now) {
			if (e->dl < next)
				next = e->dl;
			continue;
		}
		if (rs_conv_get(rtxn, e->conv, &cv) != 0 ||
		    !entry_open(&cv) || cv.queued_ts != e->ts)
			goto forget;
		/* the threshold in force now */
		if (strcmp(c.name, cv.campaign) != 0)
			camp_get(cv.campaign, &c);
		e->dl = e->ts + (long long)c.dropout_s * 1000;
		if (e->dl > now) {
			if (e->dl < next)
				next = e->dl;
			continue;
		}
		/* the write txn sees the same conversation, maybe newer */
		if (txn == NULL && (txn = store_txn(R->st)) == NULL) {
			next = now + 1000;
			break;
		}
		if ((rc = rs_conv_get(txn, e->conv, &cv)) != 0) {
			rc = rc == MDB_NOTFOUND ? 0 : rc;
			goto forget;
		}
		if (!entry_open(&cv) || cv.queued_ts != e->ts)
			goto forget;
		cv.abandoned_ts = now;
		pk = rs_event(10);
		mp_kv_str(pk, "type", "abandon");
		mp_kv_str(pk, "conv", cv.id);
		mp_kv_str(pk, "campaign", cv.campaign);
		mp_kv_str(pk, "channel", rs_chan_name(cv.channel));
		mp_kv_str(pk, "reason", "dropout");
		mp_kv_int(pk, "entry_ts", cv.queued_ts);
		mp_kv_int(pk, "wait_ms", now - cv.queued_ts);
		mp_kv_int(pk, "sl_s", c.sl_s);
		mp_kv_int(pk, "dropout_s", c.dropout_s);
		mp_kv_int(pk, "ts", now);
		if ((rc = rs_append(txn, cv.id, NULL)) != 0 ||
		    (rc = rs_conv_put(txn, &cv)) != 0)
			break;
		/* forgotten once the commit shows it abandoned: a batch that
		 * fails leaves it to be abandoned again */
		if (now + 1000 < next)
			next = now + 1000;
		continue;
forget:
		htab_remove(&entries, hn);
		free(e);
	}
	mdb_txn_abort(rtxn);
	next_dropout = next;
	if (rc != 0) {
		store_fail(R->st, rc, "abandoning entries at their dropout");
		next_dropout = now + 1000;
	}
}

void
queue_tick(void)
{
	struct htab_iter it;
	struct htab_node *hn;
	struct agent *a;
	struct lapses ls = { 0 };
	long long now = daemon_now_ms();
	MDB_txn *txn;
	struct conv cv;
	struct camp c;
	msgpack_packer *pk;
	char why[96];
	size_t i;
	int rc = 0;

	htab_iter_init(&it, &agents);
	while ((hn = htab_iter_next(&it)) != NULL) {
		a = HTAB_ENTRY(hn, struct agent, hn);
		if (a->wrapup_until && a->wrapup_until <= now)
			a->wrapup_until = 0;
	}
	/* once a second, whatever changed: wrap-ups ending, new members,
	 * campaigns enabled or opening, agents' catalogue edited */
	dirty = 1;
	dropouts(now);
	if (lease_expire(L, now, collect, &ls) == 0) {
		queue_pump();
		return;
	}
	if ((txn = store_txn(R->st)) == NULL) {
		free(ls.v);
		return;
	}
	for (i = 0; i < ls.n && rc == 0; i++) {
		if (rs_conv_get(txn, ls.v[i].conv, &cv) != 0 ||
		    cv.rstate != CS_OFFERED)
			continue;
		camp_get(cv.campaign, &c);
		snprintf(why, sizeof(why), "not claimed or answered within "
		    "%d s", c.offer_timeout_s);
		pk = rs_event(6);
		mp_kv_str(pk, "type", "lapse");
		mp_kv_str(pk, "conv", cv.id);
		mp_kv_str(pk, "campaign", cv.campaign);
		mp_kv_str(pk, "agent", ls.v[i].agent);
		mp_kv_str(pk, "reason", why);
		mp_kv_int(pk, "ts", now);
		if ((rc = rs_append(txn, cv.id, NULL)) != 0)
			break;
		/* back to waiting once all its agents' lapses are written */
		if (i + 1 == ls.n || strcmp(ls.v[i + 1].conv, cv.id) != 0) {
			cv.rstate = CS_WAITING;
			rc = rs_conv_put(txn, &cv);
		}
	}
	free(ls.v);
	if (rc != 0)
		store_fail(R->st, rc, "lapsing offers");
}

static void
agent_loaded(const struct agent *saved, void *arg)
{
	struct agent *a = queue_agent(saved->name, 1);

	snprintf(a->status, sizeof(a->status), "%s", saved->status);
	snprintf(a->reason, sizeof(a->reason), "%s", saved->reason);
	a->kind = saved->kind;
	a->since = saved->since;
	a->last_ts = saved->last_ts;
	a->wrapup_until = saved->wrapup_until;
	a->taken = saved->taken;
}

static int
count_assigned(const char *id, const MDB_val *rec, void *arg)
{
	struct conv cv;
	struct camp c;

	if (rs_conv_decode(rec, &cv) != 0)
		return 0;
	if (cv.rstate == CS_ASSIGNED && cv.agent[0])
		queue_agent(cv.agent, 1)->active++;
	if (entry_open(&cv)) {
		camp_get(cv.campaign, &c);
		entry_note(&cv, cv.queued_ts + (long long)c.dropout_s * 1000);
	}
	return 0;
}

/* Rebuild agents' counters and put offered conversations back to waiting. */
void
queue_init(void)
{
	MDB_txn *txn;
	int rc;

	htab_init(&agents);
	htab_init(&rrs);
	htab_init(&entries);
	next_dropout = INT64_MAX;
	if ((rc = store_rtxn(R->st, &txn)) == 0) {
		if ((rc = rs_agents_walk(txn, agent_loaded, NULL)) != 0 ||
		    (rc = rs_convs_walk(txn, "", count_assigned, NULL)) != 0)
			log_warnx("agents' state: %s", mdb_strerror(rc));
		mdb_txn_abort(txn);
	} else
		log_warnx("agents' state: %s", mdb_strerror(rc));
	if (L == NULL && (L = lease_new()) == NULL)
		fatalx("out of memory");
	dirty = 1;
}

/* ------------------------------------------------------------ explain */

void
queue_explain(const struct conv *cv, struct queue_explain *qx)
{
	static struct route_explain ex[MAX_MEMBERS];
	enum route_strategy s = RS_RINGALL;
	size_t idx[LEASE_MAXAGENTS], n, i;
	long long now = daemon_now_ms(), next = 0;
	struct camp c;
	char *d = qx->decision, first[64] = "";
	size_t dsz = sizeof(qx->decision);
	int open;

	camp_get(cv->campaign, &c);
	if (route_strategy_parse(c.strategy, &s) == -1)
		s = RS_RINGALL;
	members_load(cv->campaign, &c, &ms_buf);
	memset(ex, 0, sizeof(ex));
	n = decide(cv, s, &ms_buf, idx, ex);
	open = hours_open(cv->campaign, now, &next);
	snprintf(qx->strategy, sizeof(qx->strategy), "%s",
	    route_strategy_name(s));
	if (cv->rstate == CS_ASSIGNED)
		snprintf(d, dsz, "assigned to %s", cv->agent);
	else if (cv->mode == CM_BOT)
		snprintf(d, dsz, "with the bot");
	else if (cv->status != CV_OPEN)
		snprintf(d, dsz, "closed");
	else if (!c.enabled)
		snprintf(d, dsz, "campaign %s is disabled", cv->campaign);
	else if (!open)
		snprintf(d, dsz, "outside hours: waits for the opening");
	else if (s == RS_MANUAL)
		snprintf(d, dsz, "manual: waits for an agent to claim it");
	else if (ms_buf.n == 0)
		snprintf(d, dsz, "campaign %s has no members", cv->campaign);
	else if (n == 0)
		snprintf(d, dsz, "nobody eligible: waits");
	else if (lease_live(L, cv->id)) {
		const char *on[LEASE_MAXAGENTS];
		size_t k = lease_agents(L, cv->id, on, LEASE_MAXAGENTS);

		snprintf(d, dsz, "offered to %s%s", on[0],
		    k > 1 ? " and others" : "");
		if (k > 0)
			snprintf(first, sizeof(first), "%s", on[0]);
	} else
		snprintf(d, dsz, "next offer to %s%s", ms_buf.names[idx[0]],
		    n > 1 ? " and others" : "");
	qx->n = ms_buf.n;
	for (i = 0; i < ms_buf.n; i++) {
		const struct route_member *m = &ms_buf.m[i];
		struct queue_member *q = &qx->m[i];

		snprintf(q->agent, sizeof(q->agent), "%s", m->agent);
		q->position = m->position;
		q->penalty = m->penalty;
		q->status = m->status;
		q->active = m->active;
		q->max = m->max;
		q->metric = ex[i].metric;
		if (ex[i].why == RW_CAPACITY)
			snprintf(q->why, sizeof(q->why), "at capacity (%d of "
			    "%d)", m->active, m->max);
		else
			snprintf(q->why, sizeof(q->why), "%s", ex[i].why ==
			    RW_OK ? "eligible" : route_why_text(ex[i].why));
		q->offered = lease_has(L, cv->id, m->agent);
		/* exactly one is chosen: whom it is assigned to, else the
		 * first the live offer went to, else the next offer's first */
		if (cv->rstate == CS_ASSIGNED)
			q->chosen = strcmp(cv->agent, m->agent) == 0;
		else if (lease_live(L, cv->id))
			q->chosen = strcmp(first, m->agent) == 0;
		else
			q->chosen = n > 0 && idx[0] == i;
	}
}
