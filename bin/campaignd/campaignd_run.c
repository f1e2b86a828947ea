/*
 * campaignd_run — outbound campaign runs: launch freezes the audience, the
 * runner walks it in order and sends each recipient the campaign's message
 * through routerd's one send path, and routerd's event log tells each
 * recipient's fate.
 *
 * A run belongs to a campaign (db "runs", keyed by the campaign's name) and
 * has an id "r_<ULID>".  Its recipients are numbered 0.. in list order, and
 * each is two records under the key <run id><be32 number>: the contact as it
 * was at launch ("rcpt", a msgpack map written once: later changes to the
 * list or the contact do not change a running campaign) and its state
 * ("rstate", a fixed-size struct rstate rewritten in place).  Indexes:
 * "rphone" (<run id><phone> -> number: replies, opt-outs, --preview),
 * "rmsg" (routerd's message id -> <run id><number>) and "rdue" (<run
 * id><be64 ms><be32 number>: the recipients waiting for a time — sending
 * hours, a retry — or for routerd's answer).  Figures per state are kept
 * exact in "rcount" beside every change, in the same transaction.
 *
 * The snapshot is taken in batches of SNAP_BATCH contacts per loop pass,
 * each its own group-commit transaction, so a list of millions is never in
 * memory and a restart goes on from the last batch.  The runner sends
 * nothing before the snapshot is whole.
 *
 * A send is {t:"csend"} to routerd with the recipient's text, or on
 * WhatsApp the campaign's outbound.template {name, lang, body} with the
 * body parameters filled from the recipient's fields (outbound_params), and
 * the key "cr:<run>:<n>:<attempt>":
 * routerd keeps the key, so a restarted campaignd asking again is answered
 * with the message it already queued ("dup") and never sends twice.  What
 * happens next comes back on the event log (a second connection to
 * routerd, subscribed from the sequence saved with every batch): the
 * message queued under our key, its statuses, replies and opt-outs of the
 * recipients.  routerd's own redispatch after its crash carries "again",
 * and a dispatch whose provider could not be asked counts as possibly
 * duplicated (status "sent" with data.again); those are counted and shown.
 *
 * outbound.end as a time ends the run when campaignd's clock passes it:
 * no more sends, the recipients not sent failed "not sent: the campaign
 * ended" (end_pass), the run done once those in flight are final.
 *
 * Pacing: the campaign's rate (a token bucket in memory), a bounded number
 * in flight (sent to routerd and not yet answered by the provider), and the
 * channel daemon's own bucket further down.  Sending hours are the
 * recipient's local time (the contact's zone, else the campaign's), by
 * campaignd's clock: the wall clock plus clock_offset_ms (a setting for
 * tests).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "conf.h"
#include "frame.h"
#include "log.h"
#include "mp.h"
#include "outbound.h"
#include "placeholder.h"
#include "rec.h"
#include "schedule.h"
#include "ulid.h"
#include "campaignd.h"

#define RUNS_MAX	256		/* runs going at once */
#define SNAP_BATCH	2000		/* contacts frozen per loop pass */
#define SEND_BATCH	500		/* sends started per loop pass */
#define TICK_MS		20
#define INFLIGHT_DEF	500
#define INFLIGHT_MAX	10000
#define LOST_RETRY_MS	2000		/* routerd gone before it answered */
#define PAGE_MAX	1000		/* recipients in one contacts answer */
#define RID_LEN		28		/* "r_" and 26 */
#define WHY_MAX		160

/* A recipient's state; names for people in st_names. */
enum rst { RS_PENDING = 0, RS_DEFERRED, RS_SENDING, RS_QUEUED, RS_SENT,
	RS_DELIVERED, RS_READ, RS_RETRYING, RS_FAILED, RS_SUPPRESSED, RS_N };
static const char *const st_names[RS_N] = { "pending", "deferred",
	"pending", "pending", "sent", "delivered", "read", "retrying",
	"failed", "suppressed" };
/* Figures kept per run besides the states. */
enum { RC_POSSDUP = RS_N, RC_REPLIED, RC_OPTOUT, RC_N };

#define F_REPLIED	0x01
#define F_OPTOUT	0x02
#define F_POSSDUP	0x04

/* What is rewritten as a recipient moves (db "rstate"). */
struct rstate {
	uint8_t		st, att, flags, pad;
	int32_t		pad2;
	int64_t		due;		/* its rdue entry, 0 for none */
	int64_t		qts, sts, dts, rts, fts;
	char		msg[32], conv[32];
	char		why[WHY_MAX];
	int64_t		nts;		/* the channel's next try (retrying) */
};

enum runstate { RUN_SNAPSHOT = 0, RUN_RUNNING, RUN_PAUSED, RUN_DONE,
	RUN_STOPPED };
static const char *const run_names[] = { "snapshot", "running", "paused",
	"done", "stopped" };

/* A run going on, with its campaign's settings as of the last tick. */
struct run {
	char		 name[64];
	char		 id[RID_LEN + 1];
	enum runstate	 state;
	uint32_t	 total, next;
	char		 snap_after[64];
	int64_t		 cnt[RC_N];
	int64_t		 started, done_ts;
	double		 tokens;
	int64_t		 tok_ts;
	int		 dirty;
	int		 unsaved;	/* its snapshot's end not yet on disk */
	/* settings */
	json_t		*camp;
	const char	*text, *tz, *channel;
	json_t		*tpl;		/* outbound.template on WhatsApp */
	json_t		*senders;
	int64_t		 end_ms;	/* outbound.end as a time, or 0 */
	int		 ended;		/* ended by it (saved) */
	double		 rate;		/* per second, 0 unlimited */
	int		 inflight, attempts, backoff_s;
	struct sched	 hours;
	char		 waiting[200];	/* why no send starts now, or "" */
	/* progress: sent figure a few seconds back */
	int64_t		 rate_ts[8], rate_sent[8];
	int		 rate_i;
};

static struct run	*runs[RUNS_MAX];
static size_t		 nruns;
static struct event	*tick_ev;
static int64_t		 boot_ms, clock_off;
static struct bus_conn	*subc;
static uint64_t		 sub_seq;	/* last event seen */
static int		 seq_lazy;	/* sub_seq not yet in the store */
static int		 loaded;
static long		 touched;	/* records handled since store_shed */
static long		 unsaved_n;	/* records in the batch not committed */
#define SHED_EVERY	1000
#define BATCH_MAX	2000

static int64_t		 wa_tier = 1000;	/* whatsapp_tier; 0 unlimited */
static void	tick_arm(int ms);
static void	runs_reset(void);

/* ------------------------------------------------------------ helpers */

/*
 * The group commit runs when the loop has nothing more urgent to do; under
 * a steady stream of events that may be never, and an LMDB write
 * transaction keeps every page it dirtied in memory until it commits.  So
 * a batch that has taken BATCH_MAX records is committed now.
 */
static void
batch_bound(void)
{
	unsaved_n = 0;
	store_commit(C->st);
}

static int64_t
now_ms(void)
{
	return daemon_now_ms() + clock_off;
}

static size_t
key_n(char *k, const char *rid, uint32_t n)
{
	uint32_t be = htonl(n);

	memcpy(k, rid, RID_LEN);
	memcpy(k + RID_LEN, &be, 4);
	return RID_LEN + 4;
}

static size_t
key_due(char *k, const char *rid, int64_t due, uint32_t n)
{
	uint32_t hi = htonl((uint32_t)((uint64_t)due >> 32)),
	    lo = htonl((uint32_t)due), be = htonl(n);

	memcpy(k, rid, RID_LEN);
	memcpy(k + RID_LEN, &hi, 4);
	memcpy(k + RID_LEN + 4, &lo, 4);
	memcpy(k + RID_LEN + 8, &be, 4);
	return RID_LEN + 12;
}

static int
put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl, const void *v,
    size_t vl)
{
	MDB_val mk = { kl, (void *)k }, mv = { vl, (void *)v };

	return mdb_put(txn, dbi, &mk, &mv, 0);
}

/* The event sequence seen while there was no run, saved with the next
 * transaction (a launch's, or the tick's) rather than one commit per
 * event: a restart reads those events again and still has no run for
 * them, and a launch saves it with the run, so none before the launch is
 * read again after it. */
static int
seq_save(MDB_txn *txn)
{
	if (!seq_lazy)
		return 0;
	seq_lazy = 0;
	return put(txn, C->db_meta, "run_seq", 7, &sub_seq, 8);
}

static int
get(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl, MDB_val *v)
{
	MDB_val mk = { kl, (void *)k };

	return mdb_get(txn, dbi, &mk, v);
}

static int
del(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl)
{
	MDB_val mk = { kl, (void *)k };
	int rc = mdb_del(txn, dbi, &mk, NULL);

	return rc == MDB_NOTFOUND ? 0 : rc;
}

static struct run *
run_find(const char *name)
{
	size_t i;

	for (i = 0; i < nruns; i++)
		if (strcmp(runs[i]->name, name) == 0)
			return runs[i];
	return NULL;
}

static struct run *
run_by_id(const char *id, size_t idlen)
{
	size_t i;

	if (idlen != RID_LEN)
		return NULL;
	for (i = 0; i < nruns; i++)
		if (memcmp(runs[i]->id, id, RID_LEN) == 0)
			return runs[i];
	return NULL;
}

static int
rs_get(MDB_txn *txn, const struct run *u, uint32_t n, struct rstate *s)
{
	char k[RID_LEN + 4];
	MDB_val v;
	int rc;

	if ((rc = get(txn, C->db_rstate, k, key_n(k, u->id, n), &v)) != 0)
		return rc;
	if (v.mv_size != sizeof(*s))
		return MDB_CORRUPTED;
	memcpy(s, v.mv_data, sizeof(*s));
	return 0;
}

/* The state of recipient n becomes s (its figures moved from old). */
static int
rs_put(MDB_txn *txn, struct run *u, uint32_t n, int old,
    const struct rstate *s)
{
	char k[RID_LEN + 4];

	if (old >= 0 && old != s->st) {
		u->cnt[old]--;
		u->cnt[s->st]++;
		u->dirty = 1;
	}
	return put(txn, C->db_rstate, k, key_n(k, u->id, n), s, sizeof(*s));
}

/* rdue entry of recipient n: set to due (0: none), the old one gone. */
static int
due_set(MDB_txn *txn, struct run *u, uint32_t n, struct rstate *s,
    int64_t due)
{
	char k[RID_LEN + 12];
	int rc;

	if (s->due != 0 && (rc = del(txn, C->db_rdue, k, key_due(k, u->id,
	    s->due, n))) != 0)
		return rc;
	s->due = due;
	if (due != 0)
		return put(txn, C->db_rdue, k, key_due(k, u->id, due, n), "",
		    0);
	return 0;
}

/* The run's document and figures, stored. */
static int
run_save(MDB_txn *txn, struct run *u)
{
	json_t *doc;
	int rc;

	doc = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "id", u->id, "campaign",
	    u->name, "state", run_names[u->state], "total",
	    (json_int_t)u->total, "next", (json_int_t)u->next, "snap_after",
	    u->snap_after);
	if (doc == NULL)
		return ENOMEM;
	json_object_set_new(doc, "started_ts", cts(u->started));
	if (u->done_ts)
		json_object_set_new(doc, "done_ts", cts(u->done_ts));
	if (u->ended)
		json_object_set_new(doc, "ended", json_true());
	rc = cdb_put(txn, C->db_runs, u->name, doc);
	json_decref(doc);
	if (rc == 0)
		rc = put(txn, C->db_rcount, u->id, RID_LEN, u->cnt,
		    sizeof(u->cnt));
	if (rc == 0)
		u->dirty = 0;
	return rc;
}

static void
run_free(struct run *u)
{
	json_decref(u->camp);
	free(u);
}

/* ---------------------------------------------------------- settings */

static int
hhmm(const char *s, int def)
{
	int h, m;

	if (s == NULL || sscanf(s, "%d:%d", &h, &m) != 2 || h < 0 || h > 24 ||
	    m < 0 || m > 59 || h * 60 + m > 1440)
		return def;
	return h * 60 + m;
}

/* The campaign's outbound settings into u (its document reread). */
static void
run_conf(MDB_txn *txn, struct run *u)
{
	json_t *camp, *ob, *h, *r;
	json_int_t v;
	int from, to, d;

	if (cdb_get(txn, C->db_campaigns, u->name, &camp) != 0)
		return;
	json_decref(u->camp);
	u->camp = camp;
	ob = json_object_get(camp, "outbound");
	u->text = rec_str(ob, "text", "");
	u->tz = rec_str(camp, "timezone", "UTC");
	u->channel = rec_str(ob, "channel", "sms");
	u->tpl = strcmp(u->channel, "whatsapp") == 0 ?
	    json_object_get(ob, "template") : NULL;
	if (!json_is_object(u->tpl))
		u->tpl = NULL;
	u->end_ms = 0;
	if (strcmp(rec_str(ob, "end", "done"), "done") != 0 &&
	    rec_ts_parse(rec_str(ob, "end", ""), &u->end_ms) == -1)
		u->end_ms = 0;
	u->senders = json_object_get(ob, "senders");
	if (json_array_size(u->senders) == 0)
		u->senders = json_object_get(json_object_get(json_object_get(
		    camp, "channels"), u->channel), "addresses");
	u->rate = json_number_value(json_object_get(ob, "rate"));
	if (u->rate < 0)
		u->rate = 0;
	v = json_integer_value(json_object_get(ob, "inflight"));
	u->inflight = v > 0 && v <= INFLIGHT_MAX ? (int)v : INFLIGHT_DEF;
	r = json_object_get(ob, "retry");
	v = json_integer_value(json_object_get(r, "max_attempts"));
	u->attempts = v > 0 && v <= 20 ? (int)v : 3;
	v = json_integer_value(json_object_get(r, "backoff_s"));
	u->backoff_s = v > 0 && v <= 86400 ? (int)v : 60;
	h = json_object_get(ob, "hours");
	from = hhmm(rec_str(h, "from", NULL), 8 * 60);
	to = hhmm(rec_str(h, "to", NULL), 21 * 60);
	memset(&u->hours, 0, sizeof(u->hours));
	for (d = 0; d < 7; d++) {
		u->hours.iv[d][0].start = from;
		u->hours.iv[d][0].end = to > from ? to : 1440;
		u->hours.n[d] = 1;
	}
}

/* ------------------------------------------------------------ launch */

int
run_launch(MDB_txn *txn, const json_t *camp, long long now)
{
	const char *name = rec_str(camp, "name", "");
	json_t *ob = json_object_get(camp, "outbound");
	struct run *u;
	size_t i;
	int rc;

	if (ob == NULL || *rec_str(ob, "list", "") == '\0')
		return 0;	/* not an outbound campaign */
	if (nruns == RUNS_MAX)
		return MDB_MAP_FULL;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return ENOMEM;
	snprintf(u->name, sizeof(u->name), "%s", name);
	ulid_make("r_", u->id);
	u->state = RUN_SNAPSHOT;
	u->started = daemon_now_ms();
	(void)now;
	if ((rc = run_save(txn, u)) != 0 || (rc = seq_save(txn)) != 0) {
		free(u);
		return rc;
	}
	/* a run of the same name before (the campaign deleted and made
	 * again) gives way */
	for (i = 0; i < nruns; i++)
		if (strcmp(runs[i]->name, name) == 0) {
			run_free(runs[i]);
			runs[i] = runs[--nruns];
			break;
		}
	runs[nruns++] = u;
	touched = SHED_EVERY;	/* start with the map's pages shed */
	log_info("campaign %s: run %s launched", u->name, u->id);
	tick_arm(1);
	return 0;
}

int
run_stop(MDB_txn *txn, const char *name)
{
	struct run *u = run_find(name);

	if (u == NULL || u->state == RUN_DONE || u->state == RUN_STOPPED)
		return 0;
	u->state = RUN_STOPPED;
	u->done_ts = daemon_now_ms();
	return run_save(txn, u);
}

/* A batch of the snapshot: the list's walk (list_walk) into txn. */
struct snap {
	MDB_txn		*txn;
	struct run	*u;
	int		 n, rc;
};

/* One contact frozen as recipient u->total (key: its id). */
static int
snap_one(void *arg, const char *key, json_t *ct)
{
	struct snap *sn = arg;
	struct run *u = sn->u;
	MDB_txn *txn = sn->txn;
	char k[RID_LEN + 4], pk[RID_LEN + 64];
	const char *phone = rec_str(ct, "phone", "");
	struct rstate s;
	uint32_t be = htonl(u->total);
	size_t pl = strlen(phone);
	int rc;

	if (sn->n == SNAP_BATCH)
		return 1;	/* this one with the next batch */
	sn->n++;
	touched++;
	unsaved_n++;
	snprintf(u->snap_after, sizeof(u->snap_after), "%s", key);
	if (pl == 0 || pl > 60)
		return 0;	/* no number to send to: not a recipient */
	/* a number twice in the list is one recipient */
	memcpy(pk, u->id, RID_LEN);
	memcpy(pk + RID_LEN, phone, pl);
	if (get(txn, C->db_rphone, pk, RID_LEN + pl, &(MDB_val){0}) == 0)
		return 0;
	{
		msgpack_sbuffer sb;
		msgpack_packer mpk;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&mpk, &sb, msgpack_sbuffer_write);
		rc = rec_pack_json(&mpk, ct) == -1 ? MDB_BAD_VALSIZE :
		    put(txn, C->db_rcpt, k, key_n(k, u->id, u->total), sb.data,
		    sb.size);
		msgpack_sbuffer_destroy(&sb);
		if (rc != 0)
		{
			sn->rc = rc;
			return 2;
		}
	}
	memset(&s, 0, sizeof(s));
	s.st = RS_PENDING;
	if ((rc = put(txn, C->db_rstate, k, sizeof(k), &s, sizeof(s))) != 0 ||
	    (rc = put(txn, C->db_rphone, pk, RID_LEN + pl, &be, 4)) != 0) {
		sn->rc = rc;
		return 2;
	}
	u->cnt[RS_PENDING]++;
	u->total++;
	return 0;
}

static void
snap_saved(void *arg, int committed)
{
	struct run *u = run_by_id(arg, RID_LEN);

	if (u != NULL)
		u->unsaved = 0;
	if (!committed)
		runs_reset();	/* what memory holds is not on disk: reread */
	tick_arm(1);
}

/* One batch of the snapshot in txn; 0 or an LMDB error. */
static int
snap_batch(MDB_txn *txn, struct run *u)
{
	struct snap sn = { txn, u, 0, 0 };
	const char *list = rec_str(json_object_get(u->camp, "outbound"),
	    "list", "");
	char err[256];
	int rc;

	rc = list_walk(txn, list, u->snap_after, snap_one, &sn, err,
	    sizeof(err));
	if (rc == 2 || sn.rc != 0)
		return sn.rc ? sn.rc : MDB_CORRUPTED;
	if (rc == -1) {
		/* no such list (deleted since the launch): an empty run */
		log_warnx("campaign %s: run %s: list %s: %s", u->name, u->id,
		    list, err);
		rc = 0;
	}
	if (rc == 0) {
		u->state = RUN_RUNNING;
		u->tok_ts = 0;
		/* nothing goes before the launch and the audience are on
		 * disk, where routerd sees the campaign live */
		u->unsaved = 1;
		store_after(C->st, snap_saved, u->id);
		log_info("campaign %s: run %s: %u recipients frozen", u->name,
		    u->id, u->total);
	}
	return run_save(txn, u);
}

/* ------------------------------------------------------------- sends */

struct fillctx {
	json_t	*ct;
	char	 buf[256];
};

/* The first word of a single name (first), or what follows it. */
static void
name_split(const char *name, int first, char *buf, size_t bufsz)
{
	const char *sp;

	while (*name == ' ')
		name++;
	sp = strchr(name, ' ');
	if (first)
		snprintf(buf, bufsz, "%.*s", sp ? (int)(sp - name) :
		    (int)strlen(name), name);
	else {
		while (sp && *sp == ' ')
			sp++;
		snprintf(buf, bufsz, "%s", sp ? sp : "");
	}
}

static const char *
fill_lookup(const char *name, void *arg)
{
	struct fillctx *f = arg;
	const char *bar = strchr(name, '|'), *v;
	char key[128];
	size_t kl = bar ? (size_t)(bar - name) : strlen(name);
	json_t *j;

	if (kl >= sizeof(key))
		return NULL;
	memcpy(key, name, kl);
	key[kl] = '\0';
	while (kl > 0 && key[kl - 1] == ' ')
		key[--kl] = '\0';
	j = json_object_get(f->ct, key);
	if (j == NULL)
		j = json_object_get(json_object_get(f->ct, "fields"), key);
	v = json_string_value(j);
	if (j == NULL && (strcmp(key, "first_name") == 0 ||
	    strcmp(key, "last_name") == 0)) {
		/* a contact with one name: its first word, and the rest */
		name_split(rec_str(f->ct, "name", ""), key[0] == 'f', f->buf,
		    sizeof(f->buf));
		v = f->buf;
	}
	if (v != NULL && *v != '\0')
		return v;
	if (json_is_integer(j)) {
		snprintf(f->buf, sizeof(f->buf), "%lld",
		    (long long)json_integer_value(j));
		return f->buf;
	}
	if (bar != NULL) {
		bar++;
		while (*bar == ' ')
			bar++;
		return bar;
	}
	return NULL;
}

/* The message as recipient ct gets it (malloc'd), or NULL with why. */
static char *
fill(const char *text, json_t *ct, char *why, size_t whysz)
{
	struct fillctx f = { ct, "" };
	char err[256];
	char *out;

	if ((out = placeholder_expand(text, fill_lookup, &f, 0, err,
	    sizeof(err))) == NULL)
		snprintf(why, whysz, "cannot fill the message: %.100s (and "
		    "no fallback)", err);
	return out;
}

/*
 * The WhatsApp template's body parameters as recipient ct gets them
 * (outbound.template.params mapped from its fields, fallbacks after "|"),
 * or NULL with why.
 */
static json_t *
tpl_fill(const struct run *u, json_t *ct, char *why, size_t whysz)
{
	json_t *vals = NULL, *miss = json_array();

	if (outbound_params(json_object_get(u->tpl, "params"), ct, &vals,
	    miss) == -1) {
		snprintf(why, whysz, "cannot fill template %s: no value for "
		    "{%.60s} (and no fallback)", rec_str(u->tpl, "name", ""),
		    json_string_value(json_array_get(miss, 0)));
		json_decref(vals);
		vals = NULL;
	}
	json_decref(miss);
	return vals;
}

static json_t *
rcpt_get(MDB_txn *txn, const struct run *u, uint32_t n)
{
	char k[RID_LEN + 4];
	MDB_val v;
	json_t *doc = NULL;

	if (get(txn, C->db_rcpt, k, key_n(k, u->id, n), &v) != 0)
		return NULL;
	doc = cdb_doc(&v);
	return doc;
}

/* ------------------------------------------- WhatsApp's messaging tier */

/*
 * Meta lets a WhatsApp number start conversations with so many unique
 * customers in a rolling 24 hours (its tier: 250, 1,000, 10,000, 100,000
 * or unlimited; whatsapp_tier).  campaignd counts the recipients it sends
 * to per sending number ("watier": <addr> 0x01 <phone> -> be64 ms, and
 * "walog": <addr> 0x01 <be64 ms> <phone>, oldest first, to let them
 * expire) and a run waits at the limit instead of earning errors.  Every
 * campaign recipient counts (whether the customer wrote in the last 24
 * hours is not asked), so the count errs on the side of waiting.
 */
#define WA_DAY_MS	(24LL * 3600 * 1000)
#define WA_ADDRS	64
static struct wacount {
	char	addr[80];
	long	n;
	int64_t	oldest;
} wac[WA_ADDRS];
static size_t	nwac;

static size_t
wa_prefix(char *k, const char *addr)
{
	size_t l = strlen(addr);

	memcpy(k, addr, l);
	k[l] = 0x01;
	return l + 1;
}

/* addr's counter, loaded from walog (expiring what is older than a day). */
static struct wacount *
wa_count(MDB_txn *txn, const char *addr, int64_t now, int *rcp)
{
	struct wacount *w = NULL;
	MDB_cursor *cur;
	MDB_val k, v;
	char pk[96];
	size_t i, pl;
	uint32_t hi, lo;
	int64_t ts;
	int rc;

	*rcp = 0;
	for (i = 0; i < nwac; i++)
		if (strcmp(wac[i].addr, addr) == 0)
			w = &wac[i];
	if (strlen(addr) >= 80)
		return NULL;
	if (w == NULL) {
		if (nwac == WA_ADDRS)
			return NULL;
		w = &wac[nwac++];
		snprintf(w->addr, sizeof(w->addr), "%s", addr);
		w->n = -1;
	}
	if (w->n >= 0 && (w->oldest == 0 || w->oldest > now - WA_DAY_MS))
		return w;
	/* count again, dropping the expired */
	pl = wa_prefix(pk, addr);
	if ((rc = mdb_cursor_open(txn, C->db_walog, &cur)) != 0) {
		*rcp = rc;
		return NULL;
	}
	w->n = 0;
	w->oldest = 0;
	k.mv_size = pl;
	k.mv_data = pk;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < pl + 8 || memcmp(k.mv_data, pk, pl) != 0)
			break;
		memcpy(&hi, (char *)k.mv_data + pl, 4);
		memcpy(&lo, (char *)k.mv_data + pl + 4, 4);
		ts = (int64_t)((uint64_t)ntohl(hi) << 32 | ntohl(lo));
		if (ts <= now - WA_DAY_MS) {
			char tk[160];
			size_t tl = k.mv_size - 8;

			/* its watier entry goes with it, unless renewed */
			memcpy(tk, k.mv_data, pl);
			memcpy(tk + pl, (char *)k.mv_data + pl + 8, tl - pl);
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			if (get(txn, C->db_watier, tk, tl, &v) == 0 &&
			    v.mv_size == 8 && memcmp(v.mv_data, &ts, 8) == 0 &&
			    (rc = del(txn, C->db_watier, tk, tl)) != 0)
				break;
			continue;
		}
		if (w->oldest == 0)
			w->oldest = ts;
		w->n++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		w->n = -1;
		*rcp = rc;
		return NULL;
	}
	return w;
}

/* May addr start a conversation with phone now?  1 yes (counted), 0 not
 * before *next, or -(an LMDB error). */
static int
wa_admit(MDB_txn *txn, const char *addr, const char *phone, int64_t now,
    int64_t *next)
{
	struct wacount *w;
	char tk[160], lk[168];
	size_t pl, ph = strlen(phone);
	uint32_t hi = htonl((uint32_t)((uint64_t)now >> 32)),
	    lo = htonl((uint32_t)now);
	MDB_val v;
	int64_t ts;
	int rc;

	if (wa_tier == 0)
		return 1;
	pl = wa_prefix(tk, addr);
	if (pl + ph > sizeof(tk))
		return 1;
	memcpy(tk + pl, phone, ph);
	if (get(txn, C->db_watier, tk, pl + ph, &v) == 0 && v.mv_size == 8) {
		memcpy(&ts, v.mv_data, 8);
		if (ts > now - WA_DAY_MS)
			return 1;	/* counted already today */
	}
	if ((w = wa_count(txn, addr, now, &rc)) == NULL)
		return rc ? -rc : 1;
	if (w->n >= wa_tier) {
		*next = w->oldest + WA_DAY_MS;
		return 0;
	}
	memcpy(lk, tk, pl);
	memcpy(lk + pl, &hi, 4);
	memcpy(lk + pl + 4, &lo, 4);
	memcpy(lk + pl + 8, phone, ph);
	if ((rc = put(txn, C->db_watier, tk, pl + ph, &now, 8)) != 0 ||
	    (rc = put(txn, C->db_walog, lk, pl + 8 + ph, "", 0)) != 0)
		return -rc;
	w->n++;
	if (w->oldest == 0)
		w->oldest = now;
	return 1;
}

/* What a csend answer goes back to. */
struct sendref {
	char		id[RID_LEN + 1];
	uint32_t	n;
	int		att;
};

static void	answered(struct bus_conn *, const msgpack_object *, void *);

/* Ask routerd to send recipient n; 0 or an LMDB error (-1: not sent now,
 * routerd away: left as it was). */
static int
send_one(MDB_txn *txn, struct run *u, uint32_t n, struct rstate *s,
    int64_t now)
{
	json_t *ct, *snd, *vals = NULL, *e;
	char *text = NULL, why[WHY_MAX], key[80], to[80];
	const char *tz, *from, *ph;
	struct sendref *ref;
	struct fbuf fb;
	int64_t id, open;
	int old = s->st, rc = 0;
	size_t ns, i;

	touched++;
	unsaved_n++;
	if ((ct = rcpt_get(txn, u, n)) == NULL)
		return MDB_CORRUPTED;
	tz = rec_str_nonempty(ct, "tz", rec_str_nonempty(ct, "timezone",
	    rec_str_nonempty(json_object_get(ct, "fields"), "tz", u->tz)));
	if (!sched_tz_valid(tz))
		tz = u->tz;
	if (sched_open_at(&u->hours, tz, NULL, 0, now) == 0) {
		open = sched_next_open(&u->hours, tz, NULL, 0, now);
		s->st = RS_DEFERRED;
		if (open <= now)
			open = now + 60000;
		rc = due_set(txn, u, n, s, open);
		if (rc == 0)
			rc = rs_put(txn, u, n, old, s);
		goto out;
	}
	if ((ns = json_array_size(u->senders)) == 0 ||
	    (u->tpl != NULL && (vals = tpl_fill(u, ct, why,
	    sizeof(why))) == NULL) ||
	    (u->tpl == NULL && (text = fill(u->text, ct, why,
	    sizeof(why))) == NULL)) {
		if (ns == 0)
			snprintf(why, sizeof(why), "the campaign has no "
			    "sending number");
		s->st = RS_FAILED;
		s->fts = now;
		snprintf(s->why, sizeof(s->why), "%s", why);
		if ((rc = due_set(txn, u, n, s, 0)) == 0)
			rc = rs_put(txn, u, n, old, s);
		goto out;
	}
	if (!bus_is_up(C->router)) {
		rc = -1;
		goto out;
	}
	snd = json_array_get(u->senders, n % ns);
	from = json_is_object(snd) ? rec_str(snd, "addr", NULL) :
	    json_string_value(snd);
	ph = rec_str(ct, "phone", "");
	if (from == NULL)
		from = "";
	/* the channel is the campaign's outbound.channel */
	if (strchr(from, ':') != NULL)
		from = strchr(from, ':') + 1;
	if (strcmp(u->channel, "sms") != 0)
		snprintf(to, sizeof(to), "%s:%s", u->channel, ph);
	else
		snprintf(to, sizeof(to), "%s", ph);
	if (strncmp(to, "whatsapp:", 9) == 0) {
		int64_t wall = daemon_now_ms(), next = 0;
		char nb[32];

		if ((rc = wa_admit(txn, from, ph, wall, &next)) < 0) {
			rc = -rc;
			goto out;
		}
		if (rc == 0) {
			rec_ts_format(next, nb);
			snprintf(u->waiting, sizeof(u->waiting), "WhatsApp "
			    "tier: %lld unique recipients in 24 hours reached "
			    "on %s; the next at %s", (long long)wa_tier, from,
			    nb);
			rc = -1;
			goto out;
		}
		rc = 0;
	}
	u->waiting[0] = '\0';
	snprintf(key, sizeof(key), "cr:%s:%u:%d", u->id, n, s->att);
	if ((ref = calloc(1, sizeof(*ref))) == NULL)
		fatalx("out of memory");
	memcpy(ref->id, u->id, RID_LEN + 1);
	ref->n = n;
	ref->att = s->att;
	id = bus_next_id(C->router);
	fbuf_init(&fb);
	fbuf_begin(&fb, 7);
	mp_kv_str(&fb.pk, "t", "csend");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "campaign", u->name);
	mp_kv_str(&fb.pk, "key", key);
	mp_kv_str(&fb.pk, "to", to);
	mp_kv_str(&fb.pk, "from", from);
	if (vals != NULL) {
		/* template: {name, lang, body: the recipient's values} */
		mp_pack_cstr(&fb.pk, "template");
		msgpack_pack_map(&fb.pk, 3);
		mp_kv_str(&fb.pk, "name", rec_str(u->tpl, "name", ""));
		mp_kv_str(&fb.pk, "lang", rec_str(u->tpl, "language", "en"));
		mp_pack_cstr(&fb.pk, "body");
		msgpack_pack_array(&fb.pk, json_array_size(vals));
		json_array_foreach(vals, i, e)
			mp_pack_cstr(&fb.pk, json_string_value(e));
	} else
		mp_kv_str(&fb.pk, "text", text);
	if (bus_request(C->router, &fb, id, answered, ref) == -1) {
		free(ref);
		fbuf_free(&fb);
		rc = -1;
		goto out;
	}
	fbuf_free(&fb);
	s->st = RS_SENDING;
	if ((rc = due_set(txn, u, n, s, now)) == 0)
		rc = rs_put(txn, u, n, old, s);
out:
	free(text);
	json_decref(vals);
	json_decref(ct);
	return rc;
}

/* Is provider code retryable (throttling, the provider's trouble)? */
static int
code_retryable(const char *code)
{
	static const char *const codes[] = { "429", "500", "502", "503",
	    "504", "timeout", "131049", "130429", "131000", "131016",
	    "30001", "20429", NULL };
	size_t i;

	for (i = 0; codes[i]; i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return code[0] == '5' && strlen(code) == 3;
}

/* routerd answered the csend of ref. */
static void
answered(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	struct sendref *ref = arg;
	struct run *u = run_by_id(ref->id, RID_LEN);
	const msgpack_object *e;
	struct rstate s;
	MDB_txn *txn;
	char code[32] = "", why[WHY_MAX] = "";
	int old, rc;

	if (u == NULL || (txn = store_txn(C->st)) == NULL)
		goto out;
	if ((rc = rs_get(txn, u, ref->n, &s)) != 0 || s.att != ref->att ||
	    s.st != RS_SENDING)
		goto out;	/* moved on meanwhile (its event came first) */
	old = s.st;
	if (ans == NULL) {
		/* asked again later, with the same key */
		s.st = RS_PENDING;
		rc = due_set(txn, u, ref->n, &s, now_ms() + LOST_RETRY_MS);
	} else if ((e = mp_get(ans, "err")) != NULL) {
		mp_strcpy(e, "code", code, sizeof(code));
		mp_strcpy(e, "msg", why, sizeof(why));
		if (strcmp(code, "unavailable") == 0 ||
		    strcmp(code, "store") == 0) {
			s.st = RS_PENDING;
			rc = due_set(txn, u, ref->n, &s, now_ms() +
			    LOST_RETRY_MS);
		} else {
			s.st = strcmp(code, "refused") == 0 ? RS_SUPPRESSED :
			    RS_FAILED;
			s.fts = daemon_now_ms();
			snprintf(s.why, sizeof(s.why), "%s", why);
			rc = due_set(txn, u, ref->n, &s, 0);
		}
	} else {
		char mk[RID_LEN + 4];

		s.st = RS_QUEUED;
		mp_strcpy(ans, "msg", s.msg, sizeof(s.msg));
		mp_strcpy(ans, "conv", s.conv, sizeof(s.conv));
		s.qts = daemon_now_ms();
		rc = due_set(txn, u, ref->n, &s, 0);
		if (rc == 0 && s.msg[0])
			rc = put(txn, C->db_rmsg, s.msg, strlen(s.msg), mk,
			    key_n(mk, u->id, ref->n));
	}
	if (rc == 0)
		rc = rs_put(txn, u, ref->n, old, &s);
	if (rc == 0 && u->dirty)
		rc = run_save(txn, u);
	if (rc != 0)
		store_fail(C->st, rc, "a campaign send's answer");
	tick_arm(1);
out:
	free(ref);
}

/* What the rate lets go now. */
static int
tokens(struct run *u, int64_t now)
{
	double burst;

	if (u->rate <= 0)
		return SEND_BATCH;
	burst = u->rate < 1 ? 1 : u->rate;
	if (u->tok_ts == 0)
		u->tokens = 1;
	else
		u->tokens += (double)(now - u->tok_ts) * u->rate / 1000.0;
	if (u->tokens > burst)
		u->tokens = burst;
	u->tok_ts = now;
	return (int)u->tokens;
}

/* One pass of a running run in txn: the due recipients, then the next
 * ones; 0 or an LMDB error. */
/* A run is done when everyone is final: its end logged. */
static void
run_done_check(struct run *u, int64_t wall)
{
	if (u->next < u->total || u->cnt[RS_PENDING] + u->cnt[RS_DEFERRED] +
	    u->cnt[RS_SENDING] + u->cnt[RS_QUEUED] + u->cnt[RS_RETRYING] != 0)
		return;
	u->state = RUN_DONE;
	u->done_ts = wall;
	u->dirty = 1;
	log_info("campaign %s: run %s done: %lld sent, %lld failed, %lld "
	    "suppressed", u->name, u->id, (long long)(u->cnt[RS_SENT] +
	    u->cnt[RS_DELIVERED] + u->cnt[RS_READ]),
	    (long long)u->cnt[RS_FAILED], (long long)u->cnt[RS_SUPPRESSED]);
}

/* Recipient n, not yet sent, is not sent: the campaign's end passed. */
static int
end_one(MDB_txn *txn, struct run *u, uint32_t n, struct rstate *s,
    int64_t wall)
{
	char nb[32];
	int old = s->st, rc;

	rec_ts_format(u->end_ms, nb);
	s->st = RS_FAILED;
	s->fts = wall;
	snprintf(s->why, sizeof(s->why), "not sent: the campaign ended (its "
	    "end %s passed)", nb);
	touched++;
	unsaved_n++;
	if ((rc = due_set(txn, u, n, s, 0)) != 0)
		return rc;
	return rs_put(txn, u, n, old, s);
}

/*
 * One pass of a run whose outbound.end has passed (campaignd's clock):
 * nothing more is sent; the recipients waiting (pending, deferred, a
 * retry of the campaign's own) end failed, "campaign ended", SEND_BATCH
 * at a time; those in routerd's or the channel's hands finish as they
 * do.  0 or an LMDB error.
 */
static int
end_pass(MDB_txn *txn, struct run *u, int *more)
{
	MDB_cursor *cur;
	MDB_val k, v;
	char dk[RID_LEN + 12], nb[32];
	int64_t wall = daemon_now_ms();
	uint32_t n, ends[SEND_BATCH];
	struct rstate s;
	int rc, r, nend = 0, seen = 0, i;

	rec_ts_format(u->end_ms, nb);
	snprintf(u->waiting, sizeof(u->waiting), "the campaign's end %s has "
	    "passed: no more are sent", nb);
	if (!u->ended) {
		u->ended = 1;
		u->dirty = 1;
		log_info("campaign %s: run %s: its end %s passed", u->name,
		    u->id, nb);
	}
	if ((rc = mdb_cursor_open(txn, C->db_rdue, &cur)) != 0)
		return rc;
	memcpy(dk, u->id, RID_LEN);
	memset(dk + RID_LEN, 0, 12);
	k.mv_size = RID_LEN + 12;
	k.mv_data = dk;
	for (r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    r == 0 && nend < SEND_BATCH && seen < 4 * SEND_BATCH;
	    r = mdb_cursor_get(cur, &k, &v, MDB_NEXT), seen++) {
		if (k.mv_size != RID_LEN + 12 || memcmp(k.mv_data, u->id,
		    RID_LEN) != 0)
			break;
		memcpy(&n, (char *)k.mv_data + RID_LEN + 8, 4);
		n = ntohl(n);
		if ((rc = rs_get(txn, u, n, &s)) != 0) {
			mdb_cursor_close(cur);
			return rc;
		}
		if (s.st == RS_PENDING || s.st == RS_DEFERRED ||
		    s.st == RS_RETRYING)
			ends[nend++] = n;
	}
	mdb_cursor_close(cur);
	for (i = 0; i < nend; i++) {
		if ((rc = rs_get(txn, u, ends[i], &s)) != 0 ||
		    (rc = end_one(txn, u, ends[i], &s, wall)) != 0)
			return rc;
	}
	for (i = 0; i < SEND_BATCH && u->next < u->total; i++) {
		if ((rc = rs_get(txn, u, u->next, &s)) != 0)
			return rc;
		if (s.st == RS_PENDING && s.due == 0 &&
		    (rc = end_one(txn, u, u->next, &s, wall)) != 0)
			return rc;
		u->next++;
		u->dirty = 1;
	}
	*more = nend == SEND_BATCH || u->next < u->total;
	run_done_check(u, wall);
	return 0;
}

static int
run_pass(MDB_txn *txn, struct run *u, int *more)
{
	MDB_cursor *cur;
	MDB_val k, v;
	char dk[RID_LEN + 12];
	int64_t now = now_ms(), due, wall = daemon_now_ms();
	uint32_t n, hi, lo32, dues[SEND_BATCH];
	struct rstate s;
	int budget, room, sent = 0, rc = 0, r, ndue = 0, i;

	if (u->end_ms != 0 && now >= u->end_ms)
		return end_pass(txn, u, more);
	room = u->inflight - (int)(u->cnt[RS_SENDING] + u->cnt[RS_QUEUED]);
	budget = tokens(u, wall);
	if (budget > room)
		budget = room;
	if (budget > SEND_BATCH)
		budget = SEND_BATCH;
	/* the due: deferred whose hours opened, retries, lost answers;
	 * gathered first, as sending rewrites the index under a cursor */
	if ((rc = mdb_cursor_open(txn, C->db_rdue, &cur)) != 0)
		return rc;
	memcpy(dk, u->id, RID_LEN);
	memset(dk + RID_LEN, 0, 12);
	k.mv_size = RID_LEN + 12;
	k.mv_data = dk;
	for (r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    r == 0 && ndue < budget && ndue < SEND_BATCH;
	    r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != RID_LEN + 12 || memcmp(k.mv_data, u->id,
		    RID_LEN) != 0)
			break;
		memcpy(&hi, (char *)k.mv_data + RID_LEN, 4);
		memcpy(&lo32, (char *)k.mv_data + RID_LEN + 4, 4);
		memcpy(&n, (char *)k.mv_data + RID_LEN + 8, 4);
		due = (int64_t)((uint64_t)ntohl(hi) << 32 | ntohl(lo32));
		if (due > now && due > wall)
			break;		/* in due order: none later is due */
		dues[ndue++] = ntohl(n);
	}
	mdb_cursor_close(cur);
	for (i = 0; i < ndue && sent < budget; i++) {
		if ((rc = rs_get(txn, u, dues[i], &s)) != 0)
			return rc;
		if (s.st == RS_SENDING) {
			/* asked before a restart: ask again (same key) */
			if (s.due >= boot_ms)
				continue;
		} else if (s.due > (s.st == RS_DEFERRED ? now : wall))
			continue;
		if ((rc = send_one(txn, u, dues[i], &s, now)) == -1)
			return 0;	/* routerd away */
		if (rc != 0)
			return rc;
		sent++;
	}
	/* then the next in order */
	while (sent < budget && u->next < u->total) {
		if ((rc = rs_get(txn, u, u->next, &s)) != 0)
			return rc;
		if (s.st == RS_PENDING && s.due == 0) {
			if ((rc = send_one(txn, u, u->next, &s, now)) == -1)
				break;
			if (rc != 0)
				return rc;
			sent++;
		}
		u->next++;
		u->dirty = 1;
	}
	if (u->rate > 0)
		u->tokens -= sent;
	*more = sent == budget && budget > 0;
	/* done: everyone final */
	run_done_check(u, wall);
	return 0;
}

/* ------------------------------------------------------------- runner */

/* The runs found in the store (after a restart). */
static void
runs_load(void)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *doc;
	struct run *u;
	const char *st;
	size_t i;
	int rc;

	loaded = 1;
	if (store_rtxn(C->st, &txn) != 0)
		return;
	if (mdb_cursor_open(txn, C->db_runs, &cur) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		    rc == 0 && nruns < RUNS_MAX;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			doc = cdb_doc(&v);
			if (doc == NULL || (u = calloc(1, sizeof(*u))) == NULL) {
				json_decref(doc);
				continue;
			}
			snprintf(u->name, sizeof(u->name), "%s",
			    rec_str(doc, "campaign", ""));
			snprintf(u->id, sizeof(u->id), "%s", rec_str(doc, "id",
			    ""));
			st = rec_str(doc, "state", "");
			for (i = 0; i < sizeof(run_names) /
			    sizeof(run_names[0]); i++)
				if (strcmp(st, run_names[i]) == 0)
					u->state = (enum runstate)i;
			u->total = (uint32_t)json_integer_value(
			    json_object_get(doc, "total"));
			u->next = (uint32_t)json_integer_value(
			    json_object_get(doc, "next"));
			snprintf(u->snap_after, sizeof(u->snap_after), "%s",
			    rec_str(doc, "snap_after", ""));
			rec_ts_parse(rec_str(doc, "started_ts", ""),
			    &u->started);
			rec_ts_parse(rec_str(doc, "done_ts", ""), &u->done_ts);
			u->ended = json_is_true(json_object_get(doc, "ended"));
			if (get(txn, C->db_rcount, u->id, RID_LEN, &v) == 0 &&
			    v.mv_size == sizeof(u->cnt))
				memcpy(u->cnt, v.mv_data, sizeof(u->cnt));
			run_conf(txn, u);
			runs[nruns++] = u;
			json_decref(doc);
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
}

/* Forget the runs in memory; the next tick reads them from the store. */
static void
runs_reset(void)
{
	while (nruns > 0)
		run_free(runs[--nruns]);
	loaded = 0;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	MDB_txn *txn = NULL;
	struct run *u;
	size_t i;
	int more = 0, rc = 0, m;
	int64_t wall = daemon_now_ms();

	if (!loaded)
		runs_load();
	for (i = 0; i < nruns; i++) {
		u = runs[i];
		if ((u->state != RUN_SNAPSHOT && u->state != RUN_RUNNING) ||
		    u->unsaved)
			continue;
		if (txn == NULL && (txn = store_txn(C->st)) == NULL)
			break;
		run_conf(txn, u);
		m = 0;
		if (u->state == RUN_SNAPSHOT) {
			rc = snap_batch(txn, u);
			m = 1;
		} else
			rc = run_pass(txn, u, &m);
		if (rc == 0 && u->dirty)
			rc = run_save(txn, u);
		if (rc != 0) {
			store_fail(C->st, rc, "a campaign run");
			break;
		}
		more |= m;
		/* the sent figure once a second, for the rate */
		if (wall - u->rate_ts[u->rate_i] >= 1000) {
			u->rate_i = (u->rate_i + 1) % 8;
			u->rate_ts[u->rate_i] = wall;
			u->rate_sent[u->rate_i] = u->cnt[RS_SENT] +
			    u->cnt[RS_DELIVERED] + u->cnt[RS_READ] +
			    u->cnt[RS_FAILED];
		}
	}
	if (rc == 0 && seq_lazy && (txn != NULL ||
	    (txn = store_txn(C->st)) != NULL) && (rc = seq_save(txn)) != 0)
		store_fail(C->st, rc, "the event sequence");
	if (unsaved_n >= BATCH_MAX)
		batch_bound();
	/* a walk over millions touches as many pages of the map: they are
	 * page cache, not ours to keep resident */
	if (touched >= SHED_EVERY) {
		store_shed(C->st);
		daemon_trim();
		touched = 0;
	}
	/* never 0: the batch's commit (a low-priority event) must get its
	 * turn between passes, and nothing is sent for a run before its
	 * launch and snapshot are on disk */
	tick_arm(more ? 1 : TICK_MS * 10);
}

static void
tick_arm(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (tick_ev == NULL && (tick_ev = evtimer_new(C->d.base, tick,
	    NULL)) == NULL)
		fatalx("campaign runs: cannot make a timer");
	if (ms > 0 && evtimer_pending(tick_ev, NULL))
		return;
	if (evtimer_add(tick_ev, &tv) == -1)
		fatalx("campaign runs: cannot arm the timer");
}

/* ------------------------------------------------------- the event log */

/* The recipient a message id is, from rmsg. */
static struct run *
by_msg(MDB_txn *txn, const char *msgid, uint32_t *n)
{
	MDB_val v;
	uint32_t be;

	if (msgid == NULL || get(txn, C->db_rmsg, msgid, strlen(msgid), &v) != 0 ||
	    v.mv_size != RID_LEN + 4)
		return NULL;
	memcpy(&be, (char *)v.mv_data + RID_LEN, 4);
	*n = ntohl(be);
	return run_by_id(v.mv_data, RID_LEN);
}

static int
by_phone(MDB_txn *txn, struct run *u, const char *phone, uint32_t *n)
{
	char pk[RID_LEN + 64];
	size_t pl = strlen(phone);
	MDB_val v;
	uint32_t be;

	if (pl == 0 || pl > 60)
		return -1;
	memcpy(pk, u->id, RID_LEN);
	memcpy(pk + RID_LEN, phone, pl);
	if (get(txn, C->db_rphone, pk, RID_LEN + pl, &v) != 0 ||
	    v.mv_size != 4)
		return -1;
	memcpy(&be, v.mv_data, 4);
	*n = ntohl(be);
	return 0;
}

/* Our message queued under key "cr:<run>:<n>:<att>". */
static int
ev_queued(MDB_txn *txn, const msgpack_object *r)
{
	const char *key, *p;
	size_t kl;
	char msg[32] = "", conv[32] = "", mk[RID_LEN + 4];
	struct run *u;
	struct rstate s;
	unsigned long n;
	int att, old, rc;

	if (!mp_str(r, "key", &key, &kl) || kl < 3 + RID_LEN + 4 ||
	    memcmp(key, "cr:", 3) != 0 || key[3 + RID_LEN] != ':' ||
	    (u = run_by_id(key + 3, RID_LEN)) == NULL)
		return 0;
	p = key + 4 + RID_LEN;
	n = strtoul(p, (char **)&p, 10);
	att = *p == ':' ? atoi(p + 1) : 0;
	if (n >= u->total || !mp_strcpy(r, "id", msg, sizeof(msg)))
		return 0;
	mp_strcpy(r, "conv", conv, sizeof(conv));
	if ((rc = put(txn, C->db_rmsg, msg, strlen(msg), mk, key_n(mk, u->id,
	    (uint32_t)n))) != 0)
		return rc;
	if ((rc = rs_get(txn, u, (uint32_t)n, &s)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	if (s.att != att || (s.st != RS_SENDING && s.st != RS_PENDING))
		return 0;
	old = s.st;
	s.st = RS_QUEUED;
	snprintf(s.msg, sizeof(s.msg), "%s", msg);
	snprintf(s.conv, sizeof(s.conv), "%s", conv);
	s.qts = daemon_now_ms();
	if ((rc = due_set(txn, u, (uint32_t)n, &s, 0)) != 0)
		return rc;
	return rs_put(txn, u, (uint32_t)n, old, &s);
}

/* A status of one of our messages. */
static int
ev_status(MDB_txn *txn, const msgpack_object *r)
{
	char msg[32] = "", st[24] = "", code[32] = "", why[WHY_MAX] = "";
	const msgpack_object *data;
	struct run *u;
	struct rstate s;
	uint32_t n;
	int old, rc, again = 0;
	int64_t ts = daemon_now_ms();

	mp_strcpy(r, "id", msg, sizeof(msg));
	if ((u = by_msg(txn, msg, &n)) == NULL)
		return 0;
	if ((rc = rs_get(txn, u, n, &s)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	if (strcmp(s.msg, msg) != 0)
		return 0;	/* an earlier attempt's */
	mp_strcpy(r, "status", st, sizeof(st));
	mp_strcpy(r, "code", code, sizeof(code));
	if (!mp_strcpy(r, "why", why, sizeof(why)))
		mp_strcpy(r, "reason", why, sizeof(why));
	if ((data = mp_get(r, "data")) != NULL)
		mp_bool(data, "again", &again);
	old = s.st;
	if (strcmp(st, "pending") == 0)
		return 0;	/* an attempt handed to the provider: no change */
	if (strcmp(st, "sent") == 0) {
		if (again && !(s.flags & F_POSSDUP)) {
			s.flags |= F_POSSDUP;
			u->cnt[RC_POSSDUP]++;
			u->dirty = 1;
		}
		if (s.st == RS_QUEUED || s.st == RS_SENDING ||
		    s.st == RS_RETRYING) {
			s.st = RS_SENT;
			s.sts = ts;
		}
	} else if (strcmp(st, "delivered") == 0) {
		if (s.st != RS_READ)
			s.st = RS_DELIVERED;
		s.dts = ts;
	} else if (strcmp(st, "read") == 0) {
		s.st = RS_READ;
		s.rts = ts;
	} else if (strcmp(st, "retrying") == 0) {
		int64_t nt = 0;

		if (s.st == RS_DELIVERED || s.st == RS_READ || s.st == RS_SENT)
			return 0;
		s.st = RS_RETRYING;
		if (mp_int(r, "next_ts", &nt) && nt > 0)
			s.nts = nt * 1000;
		/* cut to WHY_MAX, as every reason stored */
		if (snprintf(s.why, sizeof(s.why), "%s%s%s", why[0] ? why :
		    code, why[0] || code[0] ? "; " : "",
		    "the channel tries again") < 0)
			s.why[0] = '\0';
	} else if (strcmp(st, "failed") == 0 ||
	    strcmp(st, "undelivered") == 0) {
		if (s.st == RS_DELIVERED || s.st == RS_READ)
			return 0;
		if (snprintf(s.why, sizeof(s.why), "%s%s%s", why[0] ? why :
		    "failed", code[0] ? " (code " : "", code[0] ? code :
		    "") < 0)
			s.why[0] = '\0';
		if (code[0])
			strncat(s.why, ")", sizeof(s.why) - strlen(s.why) - 1);
		if (code_retryable(code) && s.att + 1 < u->attempts) {
			/* the campaign's policy: again later, a new key */
			s.st = RS_RETRYING;
			s.att++;
			if ((rc = due_set(txn, u, n, &s, ts +
			    (int64_t)u->backoff_s * 1000 * s.att)) != 0)
				return rc;
		} else {
			s.st = RS_FAILED;
			s.fts = ts;
		}
	} else
		return 0;
	return rs_put(txn, u, n, old, &s);
}

/* A reply or an opt-out of one of a run's recipients. */
static int
ev_contact(MDB_txn *txn, const msgpack_object *r, int flag)
{
	char camp[64] = "", contact[80] = "";
	struct run *u;
	struct rstate s;
	uint32_t n;
	size_t i;
	int rc;

	mp_strcpy(r, "campaign", camp, sizeof(camp));
	if (!mp_strcpy(r, "contact", contact, sizeof(contact)))
		return 0;
	for (i = 0; i < nruns; i++) {
		u = runs[i];
		if (camp[0] && strcmp(camp, u->name) != 0)
			continue;
		if (by_phone(txn, u, contact, &n) != 0)
			continue;
		if ((rc = rs_get(txn, u, n, &s)) != 0)
			return rc == MDB_NOTFOUND ? 0 : rc;
		if (s.flags & flag)
			continue;
		s.flags |= flag;
		u->cnt[flag == F_REPLIED ? RC_REPLIED : RC_OPTOUT]++;
		u->dirty = 1;
		if ((rc = rs_put(txn, u, n, -1, &s)) != 0)
			return rc;
	}
	return 0;
}

static void
sub_ask(struct bus_conn *c)
{
	struct fbuf fb;

	fbuf_init(&fb);
	fbuf_begin(&fb, sub_seq ? 4 : 3);
	mp_kv_str(&fb.pk, "t", "sub");
	mp_kv_int(&fb.pk, "id", bus_next_id(c));
	mp_kv_bool(&fb.pk, "follow", 1);
	if (sub_seq)
		mp_kv_int(&fb.pk, "since", (int64_t)sub_seq + 1);
	bus_send(c, &fb);
	fbuf_free(&fb);
}

static void
sub_up(struct bus_conn *c, void *arg)
{
	MDB_txn *txn;
	MDB_val v;

	if (store_rtxn(C->st, &txn) == 0) {
		if (get(txn, C->db_meta, "run_seq", 7, &v) == 0 &&
		    v.mv_size == 8)
			memcpy(&sub_seq, v.mv_data, 8);
		mdb_txn_abort(txn);
	}
	sub_ask(c);
}

static void
sub_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	const msgpack_object *r;
	MDB_txn *txn;
	int64_t seq;
	char type[16] = "", dir[4] = "";
	int rc = 0;

	if (!mp_str_is(f, "t", "ev") || !mp_int(f, "seq", &seq) ||
	    (r = mp_get(f, "r")) == NULL || r->type != MSGPACK_OBJECT_MAP)
		return;
	if ((uint64_t)seq <= sub_seq)
		return;
	if (!loaded)
		runs_load();
	if (nruns == 0) {
		/* nothing to count it for: no transaction per event */
		sub_seq = (uint64_t)seq;
		seq_lazy = 1;
		tick_arm(TICK_MS * 10);
		return;
	}
	if ((txn = store_txn(C->st)) == NULL)
		return;	/* not saved: seen again after a restart */
	mp_strcpy(r, "type", type, sizeof(type));
	mp_strcpy(r, "dir", dir, sizeof(dir));
	if (nruns > 0) {
		if (strcmp(type, "message") == 0 && strcmp(dir, "out") == 0)
			rc = ev_queued(txn, r);
		else if (strcmp(type, "message") == 0)
			rc = ev_contact(txn, r, F_REPLIED);
		else if (strcmp(type, "status") == 0)
			rc = ev_status(txn, r);
		else if (strcmp(type, "optout") == 0)
			rc = ev_contact(txn, r, F_OPTOUT);
	}
	sub_seq = (uint64_t)seq;
	touched++;
	unsaved_n++;
	seq_lazy = 1;
	if (rc == 0)
		rc = seq_save(txn);
	if (rc == 0) {
		size_t i;

		for (i = 0; i < nruns && rc == 0; i++)
			if (runs[i]->dirty)
				rc = run_save(txn, runs[i]);
	}
	if (rc != 0)
		store_fail(C->st, rc, "a campaign run's events");
	else if (unsaved_n >= BATCH_MAX)
		batch_bound();
	tick_arm(1);
}

static const struct bus_handlers sub_handlers = {
	.frame = sub_frame,
	.up = sub_up,
};

/* whatsapp_tier: 250, 1000, 10000, 100000 or unlimited; -1 if not. */
static int64_t
tier_conf(void)
{
	const char *v = conf_get(C->d.conf, "whatsapp_tier");
	static const char *const ok[] = { "250", "1000", "10000", "100000",
	    NULL };
	size_t i;

	if (v == NULL || strcmp(v, "unlimited") == 0)
		return 0;
	for (i = 0; ok[i]; i++)
		if (strcmp(v, ok[i]) == 0)
			return atoll(v);
	return -1;
}

void
run_start(void)
{
	char path[4096], err[256];
	long long off;

	boot_ms = daemon_now_ms();
	if ((wa_tier = tier_conf()) == -1)
		log_exit(EX_CONFIG, "whatsapp_tier is 250, 1000, 10000, 100000 "
		    "or unlimited");
	if (conf_int(C->d.conf, "clock_offset_ms", -(1LL << 50), 1LL << 50,
	    &off, err, sizeof(err)) == 0)
		clock_off = off;
	daemon_path(&C->d, "run/routerd.sock", path, sizeof(path));
	subc = bus_client(C->d.base, path, "campaignd-runs", &sub_handlers,
	    NULL);
	tick_arm(1);
}

void
run_reload(void)
{
	char err[256];
	long long off;
	int64_t t;

	if (conf_int(C->d.conf, "clock_offset_ms", -(1LL << 50), 1LL << 50,
	    &off, err, sizeof(err)) == 0)
		clock_off = off;
	if ((t = tier_conf()) == -1)
		log_warnx("reload: whatsapp_tier is 250, 1000, 10000, 100000 or "
		    "unlimited; %lld stays", (long long)wa_tier);
	else
		wa_tier = t;
	tick_arm(1);
}

/* ------------------------------------------------------------ requests */

static struct run *
req_run(struct creq *r)
{
	json_t *doc;
	struct run *u;

	if (!loaded)
		runs_load();
	if ((doc = res_campaign_get(r, r->name)) == NULL)
		return NULL;
	json_decref(doc);
	if ((u = run_find(r->name)) == NULL)
		creq_err(r, "notfound", "campaign %s has no run: give it an "
		    "outbound list and launch it", r->name);
	return u;
}

static json_t *
figures(struct run *u)
{
	int64_t sent = u->cnt[RS_SENT] + u->cnt[RS_DELIVERED] +
	    u->cnt[RS_READ], fin, left, dt, ds;
	int j = (u->rate_i + 1) % 8;
	double rate = 0;
	json_t *o;
	int i;

	/* the oldest sample of the last eight seconds */
	for (i = 0; i < 8 && u->rate_ts[j] == 0; i++)
		j = (j + 1) % 8;
	dt = u->rate_ts[u->rate_i] - u->rate_ts[j];
	ds = u->rate_sent[u->rate_i] - u->rate_sent[j];
	if (dt > 0)
		rate = (double)ds * 1000.0 / (double)dt;
	fin = sent + u->cnt[RS_FAILED] + u->cnt[RS_SUPPRESSED];
	left = (int64_t)u->total - fin;
	o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
	    "s:I,s:I,s:I,s:I}",
	    "campaign", u->name, "run", u->id, "state", run_names[u->state],
	    "total", (json_int_t)u->total, "sent", (json_int_t)sent,
	    "delivered", (json_int_t)u->cnt[RS_DELIVERED],
	    "read", (json_int_t)u->cnt[RS_READ],
	    "failed", (json_int_t)u->cnt[RS_FAILED],
	    "suppressed", (json_int_t)u->cnt[RS_SUPPRESSED],
	    "pending", (json_int_t)(u->cnt[RS_PENDING] + u->cnt[RS_SENDING] +
	    u->cnt[RS_QUEUED]),
	    "in_flight", (json_int_t)(u->cnt[RS_SENDING] + u->cnt[RS_QUEUED]),
	    "deferred", (json_int_t)u->cnt[RS_DEFERRED],
	    "retrying", (json_int_t)u->cnt[RS_RETRYING],
	    "possibly_duplicated", (json_int_t)u->cnt[RC_POSSDUP],
	    "replied", (json_int_t)u->cnt[RC_REPLIED],
	    "opted_out", (json_int_t)u->cnt[RC_OPTOUT],
	    "done", (json_int_t)fin);
	json_object_set_new(o, "rate", json_real(rate));
	if (rate > 0 && left > 0)
		json_object_set_new(o, "eta_s", json_integer((json_int_t)(
		    (double)left / rate)));
	json_object_set_new(o, "started_ts", cts(u->started));
	if (u->done_ts)
		json_object_set_new(o, "done_ts", cts(u->done_ts));
	if (u->waiting[0] && u->state == RUN_RUNNING)
		json_object_set_new(o, "waiting", json_string(u->waiting));
	if (u->ended) {
		char nb[32];

		rec_ts_format(u->end_ms, nb);
		json_object_set_new(o, "ended", json_sprintf("its end %s "
		    "passed: recipients not yet sent are failed, \"not sent: "
		    "the campaign ended\"", nb));
	}
	return o;
}

static void
op_pause(struct creq *r, int pause)
{
	struct run *u;

	if (creq_need(r, ROLE_ADMIN) == -1 || (u = req_run(r)) == NULL)
		return;
	if (u->state == RUN_DONE || u->state == RUN_STOPPED) {
		creq_err(r, "invalid", "campaign %s's run has ended (%s)",
		    r->name, run_names[u->state]);
		return;
	}
	if (creq_begin(r) == -1)
		return;
	if (pause && u->state == RUN_RUNNING)
		u->state = RUN_PAUSED;
	else if (!pause && u->state == RUN_PAUSED)
		u->state = u->total || u->snap_after[0] ? RUN_RUNNING :
		    RUN_SNAPSHOT;
	if (run_save(r->txn, u) != 0) {
		creq_err(r, "store", "campaign %s: the run's state", r->name);
		return;
	}
	log_info("campaign %s: run %s by %s", r->name, pause ? "paused" :
	    "resumed", r->who);
	creq_ok(r, figures(u));
	tick_arm(1);
}

/* One recipient for people. */
static json_t *
row(MDB_txn *txn, struct run *u, uint32_t n, const struct rstate *s,
    json_t *ct)
{
	json_t *o;
	char fn[256], ln[256];

	if (json_object_get(ct, "first_name") || json_object_get(ct,
	    "last_name")) {
		snprintf(fn, sizeof(fn), "%s", rec_str(ct, "first_name", ""));
		snprintf(ln, sizeof(ln), "%s", rec_str(ct, "last_name", ""));
	} else {
		name_split(rec_str(ct, "name", ""), 1, fn, sizeof(fn));
		name_split(rec_str(ct, "name", ""), 0, ln, sizeof(ln));
	}
	o = json_pack("{s:I,s:s,s:s,s:s,s:s}", "n", (json_int_t)n,
	    "first_name", fn, "last_name", ln,
	    "phone", rec_str(ct, "phone", ""), "state", st_names[s->st]);
	if (s->why[0] && (s->st == RS_FAILED || s->st == RS_SUPPRESSED ||
	    s->st == RS_RETRYING))
		json_object_set_new(o, "reason", json_string(s->why));
	if (s->qts)
		json_object_set_new(o, "queued_ts", cts(s->qts));
	if (s->sts)
		json_object_set_new(o, "sent_ts", cts(s->sts));
	if (s->dts)
		json_object_set_new(o, "delivered_ts", cts(s->dts));
	if (s->rts)
		json_object_set_new(o, "read_ts", cts(s->rts));
	if (s->fts)
		json_object_set_new(o, "failed_ts", cts(s->fts));
	if (s->due && (s->st == RS_DEFERRED || s->st == RS_RETRYING))
		json_object_set_new(o, "next_ts", cts(s->due));
	else if (s->nts && s->st == RS_RETRYING)
		json_object_set_new(o, "next_ts", cts(s->nts));
	if (s->att)
		json_object_set_new(o, "attempts", json_integer(s->att + 1));
	json_object_set_new(o, "replied", json_boolean(s->flags & F_REPLIED));
	json_object_set_new(o, "opted_out", json_boolean(s->flags & F_OPTOUT));
	if (s->flags & F_POSSDUP)
		json_object_set_new(o, "possibly_duplicated", json_true());
	if (s->msg[0])
		json_object_set_new(o, "msg", json_string(s->msg));
	if (s->conv[0])
		json_object_set_new(o, "conv", json_string(s->conv));
	return o;
}

static int
matches(json_t *ct, const char *q)
{
	const char *f[] = { "first_name", "last_name", "name", "phone",
	    "email" };
	size_t i;

	for (i = 0; i < 5; i++)
		if (strcasestr(rec_str(ct, f[i], ""), q) != NULL)
			return 1;
	return 0;
}

static void
op_contacts(struct creq *r)
{
	const char *want = arg_str(r, "state"), *q = arg_str(r, "search"),
	    *pv = arg_str(r, "preview");
	json_int_t after = json_integer_value(arg(r, "after")),
	    limit = json_integer_value(arg(r, "limit"));
	struct run *u;
	struct rstate s;
	json_t *items, *ct;
	MDB_cursor *cur;
	MDB_val k, v;
	char key[RID_LEN + 4], why[WHY_MAX], *text;
	uint32_t n, be;
	size_t i;
	int rc, more = 0, known = 0;

	if (creq_need(r, ROLE_SUPERVISOR) == -1 || (u = req_run(r)) == NULL)
		return;
	if (want) {
		for (i = 0; i < RS_N; i++)
			if (strcmp(want, st_names[i]) == 0)
				known = 1;
		if (!known) {
			creq_err(r, "invalid", "unknown state \"%.30s\": use "
			    "pending, deferred, sent, delivered, read, "
			    "retrying, failed or suppressed", want);
			return;
		}
	}
	if (pv) {
		if (by_phone(r->txn, u, pv, &n) != 0) {
			creq_err(r, "notfound", "%.60s is not a recipient of "
			    "campaign %s", pv, r->name);
			return;
		}
		if ((rc = rs_get(r->txn, u, n, &s)) != 0 ||
		    (ct = rcpt_get(r->txn, u, n)) == NULL) {
			creq_err(r, "store", "recipient %u unreadable", n);
			return;
		}
		items = row(r->txn, u, n, &s, ct);
		if (u->tpl != NULL) {
			json_t *vals = tpl_fill(u, ct, why, sizeof(why));

			json_object_set_new(items, "template", json_string(
			    rec_str(u->tpl, "name", "")));
			if (vals != NULL)
				json_object_set_new(items, "params", vals);
			else
				json_object_set_new(items, "text_error",
				    json_string(why));
		} else if ((text = fill(u->text, ct, why, sizeof(why))) != NULL) {
			json_object_set_new(items, "text", json_string(text));
			free(text);
		} else
			json_object_set_new(items, "text_error",
			    json_string(why));
		json_decref(ct);
		creq_ok(r, json_pack("{s:o}", "recipient", items));
		return;
	}
	if (limit <= 0 || limit > PAGE_MAX)
		limit = PAGE_MAX;
	items = json_array();
	if (mdb_cursor_open(r->txn, C->db_rstate, &cur) != 0) {
		json_decref(items);
		creq_err(r, "store", "recipients unreadable");
		return;
	}
	k.mv_size = key_n(key, u->id, after > 0 ? (uint32_t)after : 0);
	k.mv_data = key;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != RID_LEN + 4 || memcmp(k.mv_data, u->id,
		    RID_LEN) != 0 || v.mv_size != sizeof(s))
			break;
		memcpy(&be, (char *)k.mv_data + RID_LEN, 4);
		n = ntohl(be);
		memcpy(&s, v.mv_data, sizeof(s));
		if (want && strcmp(want, st_names[s.st]) != 0)
			continue;
		if ((json_int_t)json_array_size(items) == limit) {
			more = 1;
			break;
		}
		if ((ct = rcpt_get(r->txn, u, n)) == NULL)
			continue;
		if (q == NULL || matches(ct, q))
			json_array_append_new(items, row(r->txn, u, n, &s, ct));
		json_decref(ct);
		after = n + 1;
	}
	mdb_cursor_close(cur);
	creq_ok(r, json_pack("{s:o,s:b,s:I}", "items", items, "more", more,
	    "next", after));
}

int
run_op(struct creq *r)
{
	if (r->name == NULL) {
		creq_err(r, "invalid", "campaign %s needs a name", r->op);
		return 0;
	}
	if (strcmp(r->op, "pause") == 0)
		op_pause(r, 1);
	else if (strcmp(r->op, "resume") == 0)
		op_pause(r, 0);
	else if (strcmp(r->op, "progress") == 0) {
		struct run *u;

		if (creq_need(r, ROLE_SUPERVISOR) == 0 &&
		    (u = req_run(r)) != NULL)
			creq_ok(r, figures(u));
	} else if (strcmp(r->op, "contacts") == 0)
		op_contacts(r);
	else
		return -1;
	return 0;
}
