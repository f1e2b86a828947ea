/*
 * routerd_bot — what msg bot(1) asks of routerd: the inbound messages of a
 * campaign's bot-mode conversations that no bot has answered yet, the bot's
 * replies, and its "I don't know"s.
 *
 * Exactly-once answers rest on one rule: every bot reply names the inbound
 * message it answers, and answering a message is recorded in the same
 * group-commit transaction as the reply it queues.  The record is the
 * marker "a:<inbound id>" in db "bot" (what answered it: reply, idk) plus
 * the send path's own client key "bot:<inbound id>" (or "idk:<inbound id>"
 * for the IDK setting's custom response), so a reply to an answered message
 * is acknowledged as a duplicate and never sent again — whether the bot,
 * msg bot or routerd crashed in between.  "pending" is derived from the
 * store alone: after any crash a new runner asks for it and resumes from
 * the first unanswered message.
 *
 *   {t:"bot", id, op:"pending", campaign, after?, upto?}
 *       -> {re, ok, seq, more, msgs:[{seq, r:{record}}]}   in log order
 *   {t:"bot", id, op:"reply", conv, msg, text}
 *       -> the send answer {re, ok, conv, msg, dup} (dup: answered before)
 *   {t:"bot", id, op:"idk", conv, msg}
 *       -> {re, ok, conv, action:"agent"|"none"} or the custom response's
 *          send answer; the conversation's campaign IDK setting decides
 * A reply or IDK for a conversation no longer in bot mode is refused with
 * code "mode"; for a closed one with code "closed".
 *
 * A handler: the replies (and the IDK's custom response) are send requests
 * routerd makes itself, through the one send path (routerd_send's
 * send_as_bot); a hand-over goes through routerd_queue; the marks and keys
 * are routerd_store's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "log.h"
#include "mp.h"
#include "routerd.h"

#define PEND_MSGS	500		/* records in one "pending" answer */
#define PEND_BYTES	(640u * 1024)	/* keeps the answer inside a frame */
#define PEND_WALK	1000		/* events looked at per conversation */
#define PEND_CAND_MAX	100000		/* candidates kept in one scan */

/* The answer {conv, msg, dup, action}, after the commit. */
static void
bot_answer(struct held *h, const char *conv, const char *msg, int dup,
    const char *action)
{
	msgpack_packer *pk = held_ok(h, 4);

	mp_kv_str(pk, "conv", conv[0] ? conv : NULL);
	mp_kv_str(pk, "msg", msg[0] ? msg : NULL);
	mp_kv_bool(pk, "dup", dup);
	mp_kv_str(pk, "action", action);
}

/*
 * May the caller run a bot for campaign?  Admins (root, the daemons' user),
 * the campaign's members and its supervisors.  0, or -1 answered.
 */
static int
allowed(struct rclient *cl, int64_t re, const char *campaign)
{
	struct who *w = auth_who(cl);
	int recv = 0, create = 0;

	if (w->role == RR_NONE) {
		bus_caller_refuse(&cl->bc, re, "denied", "bot: you are not a "
		    "parley agent");
		return -1;
	}
	if (w->role == RR_ADMIN)
		return 0;
	if (camp_member(campaign, w->agent, &recv, &create) ||
	    (w->role == RR_SUPERVISOR && auth_can_see(w, campaign)))
		return 0;
	bus_caller_refuse(&cl->bc, re, "denied", "bot: %s is not a member of "
	    "campaign %s", w->agent, campaign);
	return -1;
}

struct cand {
	uint64_t	seq;
	size_t		size;
};

struct cands {
	struct cand	*v;
	size_t		 n, cap;
};

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * The unanswered bot messages of cv with after < seq <= upto, walking its
 * events back to where its current stretch in bot mode began.
 */
static int
pending_in(MDB_txn *txn, const struct conv *cv, uint64_t after,
    uint64_t upto, struct cands *cs)
{
	struct rs_cursor ix;
	msgpack_unpacked up;
	char msgid[R_IDLEN], reply[R_IDLEN];
	MDB_val rec;
	uint64_t seq = 0;
	size_t off;
	int rc, r2, walked, stop = 0;

	if ((rc = rs_convev_open(txn, cv->id, &ix)) != 0)
		return rc;
	rc = rs_convev_last(&ix, &seq);
	msgpack_unpacked_init(&up);
	for (walked = 0; rc == 0 && !stop && walked < PEND_WALK; walked++) {
		if (seq <= after)
			break;
		if (seq > upto)
			goto next;
		if ((rc = rs_event_get(txn, seq, &rec)) != 0)
			break;
		off = 0;
		if (msgpack_unpack_next(&up, rec.mv_data, rec.mv_size, &off) !=
		    MSGPACK_UNPACK_SUCCESS ||
		    up.data.type != MSGPACK_OBJECT_MAP)
			goto next;
		if (bot_boundary(&up.data)) {
			stop = 1;
			continue;
		}
		if (!bot_eligible(&up.data, NULL) ||
		    !mp_strcpy(&up.data, "id", msgid, sizeof(msgid)))
			goto next;
		if ((r2 = rs_answered(txn, msgid, reply, sizeof(reply),
		    &rc)) == -1)
			break;
		if (r2 == 0 && cs->n < PEND_CAND_MAX) {
			if (cs->n == cs->cap) {
				size_t nc = cs->cap ? cs->cap * 2 : 64;
				struct cand *nv;

				if ((nv = reallocarray(cs->v, nc,
				    sizeof(*nv))) == NULL)
					fatalx("out of memory");
				cs->v = nv;
				cs->cap = nc;
			}
			cs->v[cs->n].seq = seq;
			cs->v[cs->n].size = rec.mv_size;
			cs->n++;
		}
next:
		rc = rs_convev_prev(&ix, &seq);
	}
	msgpack_unpacked_destroy(&up);
	rs_cursor_close(&ix);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The conversations of a pending scan: the campaign's in bot mode. */
struct scan {
	MDB_txn		*txn;
	const char	*campaign;
	uint64_t	 after, upto;
	struct cands	 cs;
	int		 rc;
};

static int
scan_conv(const char *id, const MDB_val *v, void *arg)
{
	struct scan *sc = arg;
	struct conv cv;

	if (rs_conv_decode(v, &cv) != 0)
		return 0;
	if (strcmp(cv.campaign, sc->campaign) != 0 || cv.mode != CM_BOT ||
	    cv.status == CV_CLOSED || cv.rstate == CS_CLOSED)
		return 0;
	if ((sc->rc = pending_in(sc->txn, &cv, sc->after, sc->upto,
	    &sc->cs)) != 0)
		return 1;
	return 0;
}

/*
 * {t:"bot", id, op:"pending", campaign, after?, upto?}: the unanswered
 * inbound messages of campaign's bot-mode conversations in log order, from
 * one read snapshot.  "seq" is the log's committed end (or upto): follow
 * the live log from seq + 1.  With more, ask again with after = the last
 * seq returned and upto = seq.
 */
static void
bot_pending(struct rclient *cl, const msgpack_object *f, int64_t re)
{
	char campaign[64];
	int64_t after = 0, upto = 0;
	struct scan sc;
	struct camp c;
	struct fbuf fb;
	MDB_val rec;
	size_t i, n, bytes;
	int rc;

	if (!mp_strcpy(f, "campaign", campaign, sizeof(campaign)) ||
	    campaign[0] == '\0') {
		bus_caller_refuse(&cl->bc, re, "invalid", "bot: pending needs "
		    "a campaign");
		return;
	}
	if ((mp_get(f, "after") && (!mp_int(f, "after", &after) ||
	    after < 0)) || (mp_get(f, "upto") && (!mp_int(f, "upto", &upto) ||
	    upto < 0))) {
		bus_caller_refuse(&cl->bc, re, "invalid", "bot: after and upto "
		    "are sequence numbers");
		return;
	}
	if (allowed(cl, re, campaign) == -1)
		return;
	camp_get(campaign, &c);
	if (!c.exists && strcmp(campaign, "default") != 0) {
		bus_caller_refuse(&cl->bc, re, "notfound", "bot: no campaign "
		    "named \"%s\"", campaign);
		return;
	}
	if (upto == 0 || (uint64_t)upto > R->log.committed)
		upto = (int64_t)R->log.committed;
	memset(&sc, 0, sizeof(sc));
	sc.campaign = campaign;
	sc.after = (uint64_t)after;
	sc.upto = (uint64_t)upto;
	if ((rc = store_rtxn(R->st, &sc.txn)) != 0) {
		bus_caller_refuse(&cl->bc, re, "store", "%s", mdb_strerror(rc));
		return;
	}
	if ((rc = rs_convs_walk(sc.txn, "", scan_conv, &sc)) != 0 ||
	    (rc = sc.rc) != 0)
		goto fail;
	if (sc.cs.n > 1)
		qsort(sc.cs.v, sc.cs.n, sizeof(*sc.cs.v), cand_cmp);
	for (n = 0, bytes = 0; n < sc.cs.n && n < PEND_MSGS; n++) {
		if (n > 0 && bytes + sc.cs.v[n].size + 32 > PEND_BYTES)
			break;
		bytes += sc.cs.v[n].size + 32;
	}
	fbuf_init(&fb);
	bus_answer_begin(&fb, re, 3);
	mp_kv_int(&fb.pk, "seq", upto);
	mp_kv_bool(&fb.pk, "more", n < sc.cs.n);
	mp_pack_cstr(&fb.pk, "msgs");
	msgpack_pack_array(&fb.pk, (uint32_t)n);
	for (i = 0; i < n; i++) {
		if ((rc = rs_event_get(sc.txn, sc.cs.v[i].seq, &rec)) != 0) {
			fbuf_free(&fb);
			goto fail;
		}
		msgpack_pack_map(&fb.pk, 2);
		mp_kv_int(&fb.pk, "seq", (int64_t)sc.cs.v[i].seq);
		mp_pack_cstr(&fb.pk, "r");
		mp_pack_raw(&fb.pk, rec.mv_data, rec.mv_size);
	}
	bus_caller_send(&cl->bc, &fb);
	fbuf_free(&fb);
	mdb_txn_abort(sc.txn);
	free(sc.cs.v);
	return;
fail:
	mdb_txn_abort(sc.txn);
	free(sc.cs.v);
	log_warnx("bot pending for campaign %s: %s", campaign,
	    mdb_strerror(rc));
	bus_caller_refuse(&cl->bc, re, "store", "%s", mdb_strerror(rc));
}

/*
 * The checks reply and idk share: conv and msg given, the conversation
 * exists and the caller may run its campaign's bot, msg is one of its
 * inbound messages.  If msg was answered before, the duplicate is answered
 * (after the commit).  Otherwise the conversation must still be in bot
 * mode and open.  0 to go on (txn and cv set), -1 answered.
 */
static int
check(struct rclient *cl, const msgpack_object *f, int64_t re,
    const char *op, MDB_txn **txnp, struct conv *cv, char *msgid,
    size_t msgidsz)
{
	char conv[R_IDLEN], reply[R_IDLEN];
	struct mrec m;
	struct held *h;
	MDB_txn *txn;
	int rc, r;

	if (!mp_strcpy(f, "conv", conv, sizeof(conv)) || conv[0] == '\0' ||
	    !mp_strcpy(f, "msg", msgid, msgidsz) || msgid[0] == '\0') {
		bus_caller_refuse(&cl->bc, re, "invalid", "bot: %s needs conv "
		    "and msg (the inbound message it answers)", op);
		return -1;
	}
	if ((txn = store_txn(R->st)) == NULL) {
		bus_caller_refuse(&cl->bc, re, "store", "%s",
		    store_error(R->st));
		return -1;
	}
	if ((rc = rs_conv_get(txn, conv, cv)) != 0) {
		if (rc != MDB_NOTFOUND)
			goto fail;
		bus_caller_refuse(&cl->bc, re, "notfound", "bot: no "
		    "conversation %s", conv);
		return -1;
	}
	if (allowed(cl, re, cv->campaign) == -1)
		return -1;
	if ((rc = rs_mrec_get(txn, msgid, &m)) != 0 && rc != MDB_NOTFOUND)
		goto fail;
	r = rc == 0 && strcmp(m.conv, conv) == 0 && strcmp(m.dir, "in") == 0;
	if (rc == 0)
		rs_mrec_free(&m);
	if (!r) {
		bus_caller_refuse(&cl->bc, re, "invalid", "bot: %s is not an "
		    "inbound message of %s", msgid, conv);
		return -1;
	}
	if ((r = rs_answered(txn, msgid, reply, sizeof(reply), &rc)) == -1)
		goto fail;
	if (r == 1) {
		h = held_new(&cl->bc, re);
		bot_answer(h, conv, reply, 1, NULL);
		held_after(h, R->st);
		return -1;
	}
	if (cv->status == CV_CLOSED || cv->rstate == CS_CLOSED) {
		bus_caller_refuse(&cl->bc, re, "closed", "bot: conversation %s "
		    "is closed", conv);
		return -1;
	}
	if (cv->mode != CM_BOT) {
		bus_caller_refuse(&cl->bc, re, "mode", "bot: conversation %s is "
		    "in %s mode", conv, rs_mode_name(cv->mode));
		return -1;
	}
	*txnp = txn;
	return 0;
fail:
	h = held_new(&cl->bc, re);
	held_fail(h, R->st, rc, "reading for a bot request");
	return -1;
}

/* {t:"bot", id, op:"reply", conv, msg, text} */
static void
bot_reply(struct rclient *cl, const msgpack_object *f, int64_t re)
{
	char msgid[R_IDLEN], key[RS_BOTKEYLEN];
	const char *text;
	size_t tl;
	struct conv cv;
	struct held *h;
	MDB_txn *txn;
	int rc;

	if (!mp_str(f, "text", &text, &tl) || tl == 0) {
		bus_caller_refuse(&cl->bc, re, "invalid", "bot: a reply needs "
		    "text");
		return;
	}
	if (tl > R_TEXT_MAX) {
		bus_caller_refuse(&cl->bc, re, "invalid", "bot: text over 64 "
		    "KiB");
		return;
	}
	if (check(cl, f, re, "reply", &txn, &cv, msgid, sizeof(msgid)) == -1)
		return;
	/* answered in this very batch, with the send it queues */
	if ((rc = rs_answered_put(txn, msgid, "reply")) != 0) {
		h = held_new(&cl->bc, re);
		held_fail(h, R->st, rc, "recording a bot reply");
		return;
	}
	rs_botkey(key, sizeof(key), "bot", msgid);
	send_as_bot(cl, re, cv.id, text, tl, key);
}

/* {t:"bot", id, op:"idk", conv, msg}: the campaign's IDK setting. */
static void
bot_idk(struct rclient *cl, const msgpack_object *f, int64_t re)
{
	char msgid[R_IDLEN], key[RS_BOTKEYLEN];
	struct camp c;
	struct conv cv;
	struct held *h;
	msgpack_packer *pk;
	MDB_txn *txn;
	int rc, custom;

	if (check(cl, f, re, "idk", &txn, &cv, msgid, sizeof(msgid)) == -1)
		return;
	camp_get(cv.campaign, &c);
	custom = strcmp(c.idk_mode, "custom") == 0 &&
	    c.idk_message[0] != '\0';
	if ((rc = rs_answered_put(txn, msgid, "idk")) != 0)
		goto fail;
	pk = rs_event(8);
	mp_kv_str(pk, "type", "idk");
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "id", msgid);
	mp_kv_str(pk, "campaign", cv.campaign);
	mp_kv_str(pk, "channel", rs_chan_name(cv.channel));
	mp_kv_str(pk, "contact", cv.contact);
	mp_kv_str(pk, "action", custom ? "custom" : "agent");
	mp_kv_int(pk, "ts", daemon_now_ms());
	if ((rc = rs_append(txn, cv.id, NULL)) != 0)
		goto fail;
	if (custom) {
		rs_botkey(key, sizeof(key), "idk", msgid);
		send_as_bot(cl, re, cv.id, c.idk_message,
		    strlen(c.idk_message), key);
		return;
	}
	if ((rc = queue_to_agents(txn, &cv, 1, "idk")) != 0 ||
	    (rc = rs_conv_put(txn, &cv)) != 0)
		goto fail;
	log_info("conv=%s handed to agents: the bot does not know", cv.id);
	h = held_new(&cl->bc, re);
	bot_answer(h, cv.id, "", 0, "agent");
	held_after(h, R->st);
	return;
fail:
	h = held_new(&cl->bc, re);
	held_fail(h, R->st, rc, "recording a bot IDK");
}

void
bot_request(struct rclient *cl, const msgpack_object *f)
{
	char op[16] = "";
	int64_t re = 0;

	mp_int(f, "id", &re);
	mp_strcpy(f, "op", op, sizeof(op));
	if (strcmp(op, "pending") == 0)
		bot_pending(cl, f, re);
	else if (strcmp(op, "reply") == 0)
		bot_reply(cl, f, re);
	else if (strcmp(op, "idk") == 0)
		bot_idk(cl, f, re);
	else
		bus_caller_refuse(&cl->bc, re, "invalid", "bot: op must be "
		    "pending, reply or idk");
}
