/*
 * routerd_dispatch — hands committed outbound messages to the channel
 * daemons and records what they answer.  The "pending" database is the
 * queue: a message stays there from "queued" until "sent" or "failed" is
 * committed, so after a crash or a lost channel daemon every unconfirmed
 * message is found there and dispatched again (Postfix's active queue).
 *
 * A message dispatched again may already have been sent: the channel
 * daemon can die, or the connection drop, after the provider accepted it
 * and before its answer reached us.  Such a dispatch carries {again: true,
 * queued: <ms>}, so that a daemon whose provider can be asked (smsd asks
 * Twilio's list of messages) answers with the copy already made instead of
 * sending a second one.  Only a message that never left routerd (its
 * daemon was down when it was queued) goes again without the flag.  Where
 * the provider cannot be asked (WhatsApp) the message is sent at least
 * once, and those dispatches of unknown outcome are counted per channel
 * and logged with every pending scan: the exposure to duplicates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp.h"
#include "routerd.h"

/* The channels routerd dispatches to, and whether their provider can be
 * asked about a send whose answer was lost. */
static const struct {
	const char	*name;
	int		 asked;
} chans[] = {
	{ "sms", 1 },
	{ "whatsapp", 0 },
};
#define NCHANS	(sizeof(chans) / sizeof(chans[0]))

/* Dispatches again of unknown outcome since start, per channel. */
static unsigned long long unknown_total[NCHANS];

static int
chan_index(const char *channel)
{
	size_t i;

	for (i = 0; i < NCHANS; i++)
		if (strcmp(chans[i].name, channel) == 0)
			return (int)i;
	return -1;
}

/*
 * Messages whose first dispatch never left routerd (their daemon was
 * down): when the pending scan sends them they are first tries, not
 * again.  A set of ids, chained hash; entries go when such a message is
 * dispatched, or when a scan of its channel no longer finds it pending.
 */
struct untried {
	struct untried	*next;
	char		 id[R_IDLEN];
	char		 channel[16];
	int		 keep;		/* still pending and unsent in this scan */
};
static struct untried	**ut;
static size_t		  utcap, utn;

static uint64_t
ut_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct untried **
ut_slot(const char *id)
{
	struct untried **pp;

	if (ut == NULL)
		return NULL;
	for (pp = &ut[ut_hash(id) & (utcap - 1)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0)
			break;
	return pp;
}

static void
ut_add(const char *id, const char *channel)
{
	struct untried **pp, *u, **nt, *next;
	size_t i, ncap;

	if (ut == NULL) {
		utcap = 256;
		if ((ut = calloc(utcap, sizeof(*ut))) == NULL)
			fatalx("out of memory");
	}
	if (*(pp = ut_slot(id)) != NULL)
		return;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		fatalx("out of memory");
	snprintf(u->id, sizeof(u->id), "%s", id);
	snprintf(u->channel, sizeof(u->channel), "%s", channel);
	*pp = u;
	if (++utn > utcap) {
		ncap = utcap * 2;
		if ((nt = calloc(ncap, sizeof(*nt))) == NULL)
			fatalx("out of memory");
		for (i = 0; i < utcap; i++)
			for (u = ut[i]; u != NULL; u = next) {
				next = u->next;
				u->next = nt[ut_hash(u->id) & (ncap - 1)];
				nt[ut_hash(u->id) & (ncap - 1)] = u;
			}
		free(ut);
		ut = nt;
		utcap = ncap;
	}
}

static void
ut_del(struct untried **pp)
{
	struct untried *u = *pp;

	*pp = u->next;
	free(u);
	utn--;
}

/* After a scan of channel (NULL: all): forget what it did not keep. */
static void
ut_prune(const char *channel)
{
	struct untried **pp;
	size_t i;

	for (i = 0; ut != NULL && i < utcap; i++)
		for (pp = &ut[i]; *pp != NULL; ) {
			if (channel != NULL &&
			    strcmp((*pp)->channel, channel) != 0) {
				pp = &(*pp)->next;
			} else if (!(*pp)->keep) {
				ut_del(pp);
			} else {
				(*pp)->keep = 0;
				pp = &(*pp)->next;
			}
		}
}

struct outreq {
	char	msg[R_IDLEN];
};

static void
on_answer(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	struct outreq *o = arg;
	const msgpack_object *err;
	char pid[128], code[32] = "", reason[256] = "";
	int found = 0;

	R->dispatching--;
	if (ans == NULL) {
		/* channel daemon gone: the message stays pending */
		log_debug("msg=%s dispatch interrupted", o->msg);
	} else if ((err = mp_get(ans, "err")) != NULL) {
		mp_strcpy(err, "code", code, sizeof(code));
		mp_strcpy(err, "msg", reason, sizeof(reason));
		msg_result(o->msg, NULL, code[0] ? code : "error", reason);
	} else if (mp_strcpy(ans, "pid", pid, sizeof(pid)) && pid[0]) {
		if (mp_bool(ans, "found", &found) && found)
			log_info("msg=%s was already at the provider as %s: "
			    "recorded sent, not sent twice", o->msg, pid);
		msg_result(o->msg, pid, NULL, NULL);
	} else
		msg_result(o->msg, NULL, "protocol",
		    "channel daemon answered without a provider id");
	free(o);
	routerd_dispatch_done();
}

/* The channel daemon of channel, or NULL when there is none (yet). */
static struct bus_conn *
chan_conn(const char *channel)
{
	if (strcmp(channel, "sms") == 0)
		return R->sms;
	if (strcmp(channel, "whatsapp") == 0)
		return R->wa;
	return NULL;
}

/*
 * Send one message (read from the committed store) to its channel daemon;
 * again: it may have been tried before (see the top of this file).  0 sent,
 * 1 not sent because its daemon is not there, -1 it cannot be read.
 */
static int
dispatch_one(MDB_txn *txn, const char *msgid, int again)
{
	const msgpack_object *x = NULL;
	msgpack_unpacked xu;
	struct bus_conn *c;
	struct mrec m;
	struct outreq *o;
	struct fbuf fb;
	char mkey[R_IDLEN + 8];
	MDB_val mk, mv;
	size_t off = 0, i;
	int64_t id;
	int rc;

	if ((rc = mrec_get(txn, msgid, &m)) != 0) {
		log_warnx("msg=%s pending but unreadable: %s", msgid,
		    mdb_strerror(rc));
		return -1;
	}
	if ((c = chan_conn(m.channel)) == NULL || !bus_is_up(c)) {
		mrec_free(&m);
		return 1;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL)
		fatalx("out of memory");
	snprintf(o->msg, sizeof(o->msg), "%s", msgid);
	/* media, file, template, reply_to, tag: kept beside the message */
	msgpack_unpacked_init(&xu);
	snprintf(mkey, sizeof(mkey), "x:%s", msgid);
	mk.mv_size = strlen(mkey);
	mk.mv_data = mkey;
	if (mdb_get(txn, R->db_ids, &mk, &mv) == 0 &&
	    msgpack_unpack_next(&xu, mv.mv_data, mv.mv_size, &off) ==
	    MSGPACK_UNPACK_SUCCESS && xu.data.type == MSGPACK_OBJECT_MAP)
		x = &xu.data;
	id = bus_next_id(c);
	fbuf_init(&fb);
	fbuf_begin(&fb, 7 + (again ? 2 : 0) + (x ? x->via.map.size : 0));
	mp_kv_str(&fb.pk, "t", "out");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "msg", m.id);
	mp_kv_str(&fb.pk, "channel", m.channel);
	mp_kv_str(&fb.pk, "from", m.from);
	mp_kv_str(&fb.pk, "to", m.to);
	mp_kv_strn(&fb.pk, "text", m.text ? m.text : "", m.textlen);
	if (again) {
		mp_kv_bool(&fb.pk, "again", 1);
		mp_kv_int(&fb.pk, "queued", m.ts);
	}
	for (i = 0; x != NULL && i < x->via.map.size; i++) {
		msgpack_pack_object(&fb.pk, x->via.map.ptr[i].key);
		msgpack_pack_object(&fb.pk, x->via.map.ptr[i].val);
	}
	if (bus_request(c, &fb, id, on_answer, o) == -1) {
		free(o);
		rc = 1;		/* nothing left routerd */
	} else {
		R->dispatching++;
		rc = 0;
	}
	fbuf_free(&fb);
	msgpack_unpacked_destroy(&xu);
	mrec_free(&m);
	return rc;
}

void
dispatch(const char *msgid)
{
	MDB_txn *txn;
	struct mrec m;

	if (store_rtxn(R->st, &txn) != 0)
		return;
	/* when its daemon is down: on "up", as a first try */
	if (dispatch_one(txn, msgid, 0) == 1 && mrec_get(txn, msgid, &m) == 0) {
		ut_add(msgid, m.channel);
		mrec_free(&m);
	}
	mdb_txn_abort(txn);
}

/*
 * Dispatch every pending message of channel (NULL: all channels), flagged
 * as tried before unless it never left routerd; log what went again.
 */
static void
pending_scan(const char *channel)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	struct untried **pp;
	char id[R_IDLEN], line[512];
	size_t n = 0, sent[NCHANS], unknown[NCHANS], i;
	size_t len;
	int rc, ci, again;

	memset(sent, 0, sizeof(sent));
	memset(unknown, 0, sizeof(unknown));
	if ((rc = store_rtxn(R->st, &txn)) != 0) {
		log_warnx("pending scan: %s", mdb_strerror(rc));
		return;
	}
	if (mdb_cursor_open(txn, R->db_pending, &cur) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			struct mrec m;

			if (k.mv_size >= sizeof(id))
				continue;
			memcpy(id, k.mv_data, k.mv_size);
			id[k.mv_size] = '\0';
			if (mrec_get(txn, id, &m) != 0)
				continue;
			ci = chan_index(m.channel);
			rc = channel != NULL && strcmp(m.channel, channel) != 0;
			mrec_free(&m);
			if (rc != 0)
				continue;
			pp = ut_slot(id);
			again = pp == NULL || *pp == NULL;
			rc = dispatch_one(txn, id, again);
			if (rc == 0) {
				n++;
				if (ci >= 0) {
					sent[ci]++;
					unknown[ci] += again;
					unknown_total[ci] += again;
				}
				if (!again)
					ut_del(pp);
			} else if (!again)
				(*pp)->keep = 1;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	ut_prune(channel);
	if (n == 0)
		return;
	/* one line: what went again, and the exposure to duplicates */
	len = (size_t)snprintf(line, sizeof(line), "dispatched again:");
	for (i = 0; i < NCHANS && len < sizeof(line); i++)
		if (sent[i] > 0)
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			    " %s %zu (%zu of unknown outcome%s)", chans[i].name,
			    sent[i], unknown[i], unknown[i] == 0 ? "" :
			    chans[i].asked ? ", checked with the provider" :
			    ", may arrive twice");
	for (i = 0; i < NCHANS && len < sizeof(line); i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len,
		    "%s %s %llu", i == 0 ? "; unknown outcome since start:" :
		    ",", chans[i].name, unknown_total[i]);
	log_info("%s", line);
}

void
dispatch_pending(void)
{
	pending_scan(NULL);
}

static void
on_up(struct bus_conn *c, void *arg)
{
	pending_scan(arg);
}

static const struct bus_handlers chan_handlers = {
	.up = on_up,
};

void
dispatch_init(void)
{
	char path[4096];

	daemon_path(&R->d, "run/smsd.sock", path, sizeof(path));
	R->sms = bus_client(R->d.base, path, "routerd", &chan_handlers,
	    (void *)"sms");
	daemon_path(&R->d, "run/whatsappd.sock", path, sizeof(path));
	R->wa = bus_client(R->d.base, path, "routerd", &chan_handlers,
	    (void *)"whatsapp");
}
