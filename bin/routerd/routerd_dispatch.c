/*
 * routerd_dispatch — the pending queue: an outbound message enters it when
 * it is queued (dispatch_queue, in the group-commit batch) and is handed to
 * its channel daemon once "queued" is on disk; the channel daemon's answer
 * goes to the hook main wires (routerd_result records it and takes the
 * message out).  The "pending" database is the queue: a message stays
 * there from "queued" until "sent" or "failed" is committed, so after a
 * crash or a lost channel daemon every unconfirmed message is found there
 * and dispatched again (Postfix's active queue).  A rule module: the send
 * path, routerd_policy's automatic replies and routerd_result call it; it
 * calls routerd_store and lib/.
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
#include "natsbus.h"
#include "mp.h"
#include "ulid.h"
#include "routerd.h"

/* The channel daemons routerd dispatches to, and whether their provider
 * can be asked about a send whose answer was lost. */
static struct chan_link {
	const char	*sock;		/* run/<sock>, or NULL: none (yet) */
	int		 asked;
	struct bus_conn	*c;
	const char	*prog;		/* over NATS: whom "out" is for */
} links[CH_N] = {
	[CH_SMS] = { "run/smsd.sock", 1, NULL, "smsd" },
	[CH_WHATSAPP] = { "run/whatsappd.sock", 0, NULL, "whatsappd" },
	/* one daemon for both: a connection each */
	[CH_MESSENGER] = { "run/messengerd.sock", 0, NULL, "messengerd" },
	[CH_INSTAGRAM] = { "run/messengerd.sock", 0, NULL, "messengerd" },
};

static const struct dispatch_hooks *hooks;
static size_t		 inflight;
/* Dispatches again of unknown outcome since start, per channel. */
static unsigned long long unknown_total[CH_N];

/* ------------------------------------------------------------ queueing */

int
dispatch_queue(MDB_txn *txn, struct conv *cv, const struct outmsg *om,
    char msgid[R_IDLEN])
{
	struct mrec m;
	msgpack_packer *pk;
	int rc;

	memset(&m, 0, sizeof(m));
	ulid_make("m_", m.id);
	snprintf(m.conv, sizeof(m.conv), "%s", cv->id);
	snprintf(m.dir, sizeof(m.dir), "out");
	m.channel = cv->channel;
	snprintf(m.from, sizeof(m.from), "%s", cv->addr);
	snprintf(m.to, sizeof(m.to), "%s", cv->contact);
	snprintf(m.state, sizeof(m.state), "queued");
	m.ts = om->ts;
	m.text = (char *)om->text;
	m.textlen = om->len;

	pk = rs_event(11 + (om->media != NULL) + (om->template_name != NULL) +
	    (om->file_name != NULL) + (om->reply_to != NULL) +
	    (om->key != NULL) + (om->agent != NULL) + om->bot +
	    (om->auto_ != NULL));
	mp_kv_str(pk, "type", "message");
	mp_kv_str(pk, "dir", "out");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "id", m.id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "channel", rs_chan_name(cv->channel));
	mp_kv_str(pk, "contact", cv->contact);
	mp_kv_str(pk, "addr", cv->addr);
	mp_kv_strn(pk, "text", om->text, om->len);
	if (om->media != NULL)
		mp_kv_obj(pk, "media", om->media);
	if (om->template_name != NULL)
		mp_kv_str(pk, "template", om->template_name);
	if (om->file_name != NULL)
		mp_kv_str(pk, "file", om->file_name);
	if (om->reply_to != NULL)
		mp_kv_str(pk, "reply_to", om->reply_to);
	mp_kv_str(pk, "status", "queued");
	if (om->key != NULL)
		mp_kv_str(pk, "key", om->key);
	if (om->agent != NULL)
		mp_kv_str(pk, "agent", om->agent);
	if (om->bot)
		mp_kv_bool(pk, "bot", 1);
	if (om->auto_ != NULL)
		mp_kv_str(pk, "auto", om->auto_);
	mp_kv_int(pk, "ts", om->ts);
	if ((rc = rs_append(txn, cv->id, NULL)) != 0 ||
	    (rc = rs_mrec_put(txn, &m)) != 0 ||
	    (rc = rs_pending_put(txn, m.id)) != 0)
		return rc;
	if (om->skey != NULL && (rc = rs_skey_put(txn, om->skey, m.id)) != 0)
		return rc;
	/* what it carries, for dispatch */
	if (om->extraslen > 0 && (rc = rs_extras_put(txn, m.id, om->extras,
	    om->extraslen)) != 0)
		return rc;
	cv->last_ts = om->ts;
	snprintf(cv->last_dir, sizeof(cv->last_dir), "out");
	if (om->len == 0 && (om->media != NULL || om->file_name != NULL))
		snprintf(cv->last_text, sizeof(cv->last_text), "(media)");
	else
		rs_preview(cv->last_text, sizeof(cv->last_text), om->text,
		    om->len);
	memcpy(msgid, m.id, R_IDLEN);
	return 0;
}

void
dispatch_after(void *arg, int committed)
{
	if (committed)
		dispatch(arg);
	free(arg);
}

/* ------------------------------------------------- untried messages */

/*
 * Messages whose first dispatch never left routerd (their daemon was
 * down): when the pending scan sends them they are first tries, not
 * again.  A set of ids (lib/htab); entries go when such a message is
 * dispatched, or when a scan of its channel no longer finds it pending.
 */
struct untried {
	struct htab_node hn;
	char		 id[R_IDLEN];
	enum chan	 channel;
	int		 keep;		/* still pending and unsent in this scan */
};
static struct htab	 untried;

static int
ut_eq(const struct htab_node *n, const void *key, size_t keylen)
{
	const struct untried *u = HTAB_ENTRY(n, struct untried, hn);

	return strlen(u->id) == keylen && memcmp(u->id, key, keylen) == 0;
}

static struct untried *
ut_find(const char *id)
{
	struct htab_node *n;

	n = htab_find(&untried, id, strlen(id), ut_eq);
	return n ? HTAB_ENTRY(n, struct untried, hn) : NULL;
}

static void
ut_add(const char *id, enum chan ch)
{
	struct untried *u;

	if (ut_find(id) != NULL)
		return;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		fatalx("out of memory");
	snprintf(u->id, sizeof(u->id), "%s", id);
	u->channel = ch;
	if (htab_insert(&untried, &u->hn, u->id, strlen(u->id)) == -1)
		fatalx("out of memory");
}

static void
ut_del(struct untried *u)
{
	htab_remove(&untried, &u->hn);
	free(u);
}

/* After a scan of channel ch (all: -1): forget what it did not keep. */
static void
ut_prune(int ch)
{
	struct htab_iter it;
	struct htab_node *n;
	struct untried *u;

	htab_iter_init(&it, &untried);
	while ((n = htab_iter_next(&it)) != NULL) {
		u = HTAB_ENTRY(n, struct untried, hn);
		if (ch != -1 && (int)u->channel != ch)
			continue;
		if (!u->keep)
			ut_del(u);
		else
			u->keep = 0;
	}
}

/* ------------------------------------------------------------ dispatch */

struct outreq {
	char	msg[R_IDLEN];
	int	doubt;		/* again, where the provider cannot be asked */
};
/* The doubt of the answer being handed to the result hook. */
static int	cur_doubt;

int
dispatch_in_doubt(void)
{
	return cur_doubt;
}

static void
on_answer(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	struct outreq *o = arg;
	const msgpack_object *err;
	char pid[128], code[32] = "", reason[256] = "";
	int found = 0;

	inflight--;
	if (ans == NULL) {
		/* channel daemon gone: the message stays pending */
		log_debug("msg=%s dispatch interrupted", o->msg);
	} else if ((err = mp_get(ans, "err")) != NULL) {
		mp_strcpy(err, "code", code, sizeof(code));
		mp_strcpy(err, "msg", reason, sizeof(reason));
		hooks->result(o->msg, NULL, code[0] ? code : "error", reason);
	} else if (mp_strcpy(ans, "pid", pid, sizeof(pid)) && pid[0]) {
		if (mp_bool(ans, "found", &found) && found)
			log_info("msg=%s was already at the provider as %s: "
			    "recorded sent, not sent twice", o->msg, pid);
		cur_doubt = o->doubt;
		hooks->result(o->msg, pid, NULL, NULL);
		cur_doubt = 0;
	} else
		hooks->result(o->msg, NULL, "protocol",
		    "channel daemon answered without a provider id");
	free(o);
	if (inflight == 0 && hooks->idle != NULL)
		hooks->idle();
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
	MDB_val mv;
	size_t off = 0, i;
	int64_t id;
	int rc;

	if ((rc = rs_mrec_get(txn, msgid, &m)) != 0) {
		log_warnx("msg=%s pending but unreadable: %s", msgid,
		    mdb_strerror(rc));
		return -1;
	}
	if ((c = links[m.channel].c) == NULL || !bus_is_up(c)) {
		rs_mrec_free(&m);
		return 1;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL)
		fatalx("out of memory");
	snprintf(o->msg, sizeof(o->msg), "%s", msgid);
	o->doubt = again && !links[m.channel].asked;
	/* media, file, template, reply_to, tag: kept beside the message */
	msgpack_unpacked_init(&xu);
	if (rs_extras_get(txn, msgid, &mv) == 0 &&
	    msgpack_unpack_next(&xu, mv.mv_data, mv.mv_size, &off) ==
	    MSGPACK_UNPACK_SUCCESS && xu.data.type == MSGPACK_OBJECT_MAP)
		x = &xu.data;
	id = bus_next_id(c);
	fbuf_init(&fb);
	fbuf_begin(&fb, 7 + (again ? 2 : 0) + (x ? x->via.map.size : 0));
	mp_kv_str(&fb.pk, "t", "out");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "msg", m.id);
	mp_kv_str(&fb.pk, "channel", rs_chan_name(m.channel));
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
		inflight++;
		rc = 0;
	}
	fbuf_free(&fb);
	msgpack_unpacked_destroy(&xu);
	rs_mrec_free(&m);
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
	if (dispatch_one(txn, msgid, 0) == 1 &&
	    rs_mrec_get(txn, msgid, &m) == 0) {
		ut_add(msgid, m.channel);
		rs_mrec_free(&m);
	}
	mdb_txn_abort(txn);
}

size_t
dispatch_inflight(void)
{
	return inflight;
}

/* A scan of the pending queue: its channel (-1: all) and what it sent. */
struct scan {
	MDB_txn		*txn;
	int		 ch;
	size_t		 n, sent[CH_N], unknown[CH_N];
};

static int
scan_one(const char *id, void *arg)
{
	struct scan *s = arg;
	struct untried *u;
	struct mrec m;
	enum chan ch;
	int again;

	if (rs_mrec_get(s->txn, id, &m) != 0)
		return 0;
	ch = m.channel;
	rs_mrec_free(&m);
	if (s->ch != -1 && (int)ch != s->ch)
		return 0;
	u = ut_find(id);
	again = u == NULL;
	if (dispatch_one(s->txn, id, again) == 0) {
		s->n++;
		s->sent[ch]++;
		s->unknown[ch] += again;
		unknown_total[ch] += again;
		if (!again)
			ut_del(u);
	} else if (!again)
		u->keep = 1;
	return 0;
}

/*
 * Dispatch every pending message of channel ch (-1: all channels), flagged
 * as tried before unless it never left routerd; log what went again.
 */
static void
pending_scan(int ch)
{
	struct scan s;
	char line[512];
	size_t len, i;
	int rc;

	memset(&s, 0, sizeof(s));
	s.ch = ch;
	if ((rc = store_rtxn(R->st, &s.txn)) != 0) {
		log_warnx("pending scan: %s", mdb_strerror(rc));
		return;
	}
	if ((rc = rs_pending_walk(s.txn, scan_one, &s)) != 0)
		log_warnx("pending scan: %s", mdb_strerror(rc));
	mdb_txn_abort(s.txn);
	ut_prune(ch);
	if (s.n == 0)
		return;
	/* one line: what went again, and the exposure to duplicates */
	len = (size_t)snprintf(line, sizeof(line), "dispatched again:");
	for (i = 0; i < CH_N && len < sizeof(line); i++)
		if (links[i].sock != NULL && s.sent[i] > 0)
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			    " %s %zu (%zu of unknown outcome%s)",
			    rs_chan_name(i), s.sent[i], s.unknown[i],
			    s.unknown[i] == 0 ? "" : links[i].asked ?
			    ", checked with the provider" :
			    ", may arrive twice");
	for (i = 0; i < CH_N && len < sizeof(line); i++)
		if (links[i].sock != NULL)
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			    "%s %s %llu", i == 0 ?
			    "; unknown outcome since start:" : ",",
			    rs_chan_name(i), unknown_total[i]);
	log_info("%s", line);
}

static void
on_up(struct bus_conn *c, void *arg)
{
	const struct chan_link *l = arg;

	pending_scan((int)(l - links));
}

static const struct bus_handlers chan_handlers = {
	.up = on_up,
};

void
dispatch_init(const struct dispatch_hooks *h)
{
	char path[4096];
	size_t i;

	hooks = h;
	htab_init(&untried);
	for (i = 0; i < CH_N; i++) {
		if (links[i].sock == NULL)
			continue;
		if (natsbus_on(R->d.conf)) {
			/* the bus is NATS JetStream (lib/util/natsbus) */
			links[i].c = natsbus_router_link(rs_chan_name((enum chan)i),
			    links[i].prog, &chan_handlers, &links[i]);
			continue;
		}
		daemon_path(&R->d, links[i].sock, path, sizeof(path));
		links[i].c = bus_client(R->d.base, path, "routerd",
		    &chan_handlers, &links[i]);
	}
}
