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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp.h"
#include "optout.h"
#include "routerd.h"

#define BOT_TEXT_MAX	65536		/* as routerd_msg's TEXT_MAX */
#define PEND_MSGS	500		/* records in one "pending" answer */
#define PEND_BYTES	(640u * 1024)	/* keeps the answer inside a frame */
#define PEND_WALK	1000		/* events looked at per conversation */
#define PEND_CAND_MAX	100000		/* candidates kept in one scan */

/* An answer waiting on the commit. */
struct bans {
	struct rclient	*cl;
	int64_t		 re;
	int		 dup;
	char		 conv[R_IDLEN];
	char		 msg[R_IDLEN];
	char		 action[16];
};

/* 1 if map's key holds the string s. */
static int
kv_is(const msgpack_object *map, const char *key, const char *s)
{
	const msgpack_object *o = mp_get(map, key);

	return o != NULL && mp_streq(o, s);
}

static void
refuse(struct rclient *cl, int64_t re, const char *code, const char *msg)
{
	if (cl->alive)
		bus_answer_err(cl->c, re, code, msg);
}

static void
bans_done(void *arg, int ok)
{
	struct bans *a = arg;
	struct fbuf fb;

	if (a->cl->alive) {
		if (!ok)
			bus_answer_err(a->cl->c, a->re, "store",
			    store_error(R->st));
		else {
			fbuf_init(&fb);
			bus_answer_begin(&fb, a->re, 4);
			mp_kv_str(&fb.pk, "conv", a->conv[0] ? a->conv : NULL);
			mp_kv_str(&fb.pk, "msg", a->msg[0] ? a->msg : NULL);
			mp_kv_bool(&fb.pk, "dup", a->dup);
			mp_kv_str(&fb.pk, "action", a->action[0] ? a->action :
			    NULL);
			bus_send(a->cl->c, &fb);
			fbuf_free(&fb);
		}
	}
	client_unref(a->cl);
	free(a);
}

static struct bans *
bans_new(struct rclient *cl, int64_t re, const char *conv)
{
	struct bans *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatalx("out of memory");
	a->cl = cl;
	a->re = re;
	snprintf(a->conv, sizeof(a->conv), "%s", conv);
	client_ref(cl);
	return a;
}

/*
 * May the caller run a bot for campaign?  Admins (root, the daemons' user),
 * the campaign's members and its supervisors.  0, or -1 answered.
 */
static int
allowed(struct rclient *cl, int64_t re, const char *campaign)
{
	struct who *w = auth_who(cl);
	char why[160];
	int recv = 0, create = 0;

	if (w->role == RR_NONE) {
		refuse(cl, re, "denied", "bot: you are not a parley agent");
		return -1;
	}
	if (w->role == RR_ADMIN)
		return 0;
	if (auth_member(campaign, w->agent, &recv, &create) ||
	    (w->role == RR_SUPERVISOR && auth_can_see(w, campaign)))
		return 0;
	snprintf(why, sizeof(why), "bot: %s is not a member of campaign %s",
	    w->agent, campaign);
	refuse(cl, re, "denied", why);
	return -1;
}

static int
get_val(MDB_txn *txn, MDB_dbi dbi, const char *key, char *out, size_t outsz)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc;

	if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
		return rc;
	if (out) {
		size_t n = v.mv_size < outsz ? v.mv_size : outsz - 1;

		memcpy(out, v.mv_data, n);
		out[n] = '\0';
	}
	return 0;
}

/*
 * Has inbound message msgid been answered (a bot reply, an IDK, a refused
 * reply)?  1 (the reply's message id in reply, or ""), 0, or -1 with *rc.
 */
static int
answered(MDB_txn *txn, const char *msgid, char *reply, size_t replysz,
    int *rc)
{
	static const char *keys[] = { "k:bot:", "k:idk:" };
	char key[R_IDLEN + 16];
	size_t i;

	reply[0] = '\0';
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(key, sizeof(key), "%s%s", keys[i], msgid);
		*rc = get_val(txn, R->db_ids, key, reply, replysz);
		if (*rc == 0)
			return 1;
		if (*rc != MDB_NOTFOUND)
			return -1;
	}
	snprintf(key, sizeof(key), "a:%s", msgid);
	*rc = get_val(txn, R->db_bot, key, NULL, 0);
	if (*rc == 0)
		return 1;
	if (*rc != MDB_NOTFOUND)
		return -1;
	*rc = 0;
	return 0;
}

static int
mark(MDB_txn *txn, const char *msgid, const char *what)
{
	char key[R_IDLEN + 4];
	MDB_val k, v = { strlen(what), (void *)what };

	snprintf(key, sizeof(key), "a:%s", msgid);
	k.mv_size = strlen(key);
	k.mv_data = key;
	return mdb_put(txn, R->db_bot, &k, &v, 0);
}

/* Is an inbound record one the bot is to answer (bot mode, routed, and
 * not a consent keyword, which routerd's policy answers itself)? */
static int
for_bot(const msgpack_object *r)
{
	const char *text = "";
	size_t tl = 0;
	char channel[16] = "";
	int routed = 1;

	if (!kv_is(r, "type", "message") ||
	    !kv_is(r, "dir", "in") ||
	    !kv_is(r, "mode", "bot"))
		return 0;
	if (mp_bool(r, "routed", &routed) && !routed)
		return 0;
	mp_strcpy(r, "channel", channel, sizeof(channel));
	mp_str(r, "text", &text, &tl);
	return optout_classify(channel, text, tl, NULL, NULL) == OPT_NONE;
}

/*
 * Events that end a stretch of bot work in a conversation: what came
 * before a mode switch, a hand-over to agents, a close or a transfer is
 * never the bot's to answer later (an IDK answered with the custom
 * response keeps the conversation with the bot, so it is no boundary).
 */
static int
boundary(const msgpack_object *r)
{
	if (kv_is(r, "type", "idk"))
		return !kv_is(r, "action", "custom");
	return kv_is(r, "type", "mode") || kv_is(r, "type", "close") ||
	    kv_is(r, "type", "conv") || kv_is(r, "type", "transfer");
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
conv_pending(MDB_txn *txn, MDB_cursor *ix, const struct conv *cv,
    uint64_t after, uint64_t upto, struct cands *cs)
{
	MDB_val k = { strlen(cv->id), (void *)cv->id }, v, rec;
	msgpack_unpacked up;
	char msgid[R_IDLEN], reply[R_IDLEN];
	uint64_t seq;
	size_t off;
	int rc, r2, walked, stop = 0;

	rc = mdb_cursor_get(ix, &k, &v, MDB_SET_KEY);
	if (rc == 0)
		rc = mdb_cursor_get(ix, &k, &v, MDB_LAST_DUP);
	msgpack_unpacked_init(&up);
	for (walked = 0; rc == 0 && !stop && walked < PEND_WALK; walked++) {
		seq = evlog_seq(v.mv_data);
		if (seq <= after)
			break;
		if (seq > upto)
			goto next;
		if ((rc = evlog_get(&R->log, txn, seq, &rec)) != 0)
			break;
		off = 0;
		if (msgpack_unpack_next(&up, rec.mv_data, rec.mv_size, &off) !=
		    MSGPACK_UNPACK_SUCCESS ||
		    up.data.type != MSGPACK_OBJECT_MAP)
			goto next;
		if (boundary(&up.data)) {
			stop = 1;
			continue;
		}
		if (!for_bot(&up.data) ||
		    !mp_strcpy(&up.data, "id", msgid, sizeof(msgid)))
			goto next;
		if ((r2 = answered(txn, msgid, reply, sizeof(reply), &rc)) ==
		    -1)
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
		rc = mdb_cursor_get(ix, &k, &v, MDB_PREV_DUP);
	}
	msgpack_unpacked_destroy(&up);
	return rc == MDB_NOTFOUND ? 0 : rc;
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
	MDB_txn *txn;
	MDB_cursor *cur = NULL, *ix = NULL;
	MDB_val k, v, rec;
	struct cands cs = { NULL, 0, 0 };
	struct conv cv;
	struct camp c;
	struct fbuf fb;
	size_t i, n, bytes;
	char id[R_IDLEN], why[120];
	int rc;

	if (!mp_strcpy(f, "campaign", campaign, sizeof(campaign)) ||
	    campaign[0] == '\0') {
		refuse(cl, re, "invalid", "bot: pending needs a campaign");
		return;
	}
	if ((mp_get(f, "after") && (!mp_int(f, "after", &after) ||
	    after < 0)) || (mp_get(f, "upto") && (!mp_int(f, "upto", &upto) ||
	    upto < 0))) {
		refuse(cl, re, "invalid", "bot: after and upto are sequence "
		    "numbers");
		return;
	}
	if (allowed(cl, re, campaign) == -1)
		return;
	camp_get(campaign, &c);
	if (!c.exists && strcmp(campaign, "default") != 0) {
		snprintf(why, sizeof(why), "bot: no campaign named \"%s\"",
		    campaign);
		refuse(cl, re, "notfound", why);
		return;
	}
	if (upto == 0 || (uint64_t)upto > R->log.committed)
		upto = (int64_t)R->log.committed;
	if ((rc = store_rtxn(R->st, &txn)) != 0) {
		refuse(cl, re, "store", mdb_strerror(rc));
		return;
	}
	if ((rc = mdb_cursor_open(txn, R->db_convs, &cur)) != 0 ||
	    (rc = mdb_cursor_open(txn, R->db_convev, &ix)) != 0)
		goto fail;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size >= sizeof(id))
			continue;
		memcpy(id, k.mv_data, k.mv_size);
		id[k.mv_size] = '\0';
		if (conv_get(txn, id, &cv) != 0)
			continue;
		if (strcmp(cv.campaign, campaign) != 0 ||
		    strcmp(cv.mode, "bot") != 0 ||
		    strcmp(cv.status, "closed") == 0 ||
		    strcmp(cv.rstate, "closed") == 0)
			continue;
		if ((rc = conv_pending(txn, ix, &cv, (uint64_t)after,
		    (uint64_t)upto, &cs)) != 0)
			goto fail;
	}
	if (rc != MDB_NOTFOUND)
		goto fail;
	if (cs.n > 1)
		qsort(cs.v, cs.n, sizeof(*cs.v), cand_cmp);
	for (n = 0, bytes = 0; n < cs.n && n < PEND_MSGS; n++) {
		if (n > 0 && bytes + cs.v[n].size + 32 > PEND_BYTES)
			break;
		bytes += cs.v[n].size + 32;
	}
	fbuf_init(&fb);
	bus_answer_begin(&fb, re, 3);
	mp_kv_int(&fb.pk, "seq", upto);
	mp_kv_bool(&fb.pk, "more", n < cs.n);
	mp_pack_cstr(&fb.pk, "msgs");
	msgpack_pack_array(&fb.pk, (uint32_t)n);
	for (i = 0; i < n; i++) {
		if ((rc = evlog_get(&R->log, txn, cs.v[i].seq, &rec)) != 0) {
			fbuf_free(&fb);
			goto fail;
		}
		msgpack_pack_map(&fb.pk, 2);
		mp_kv_int(&fb.pk, "seq", (int64_t)cs.v[i].seq);
		mp_pack_cstr(&fb.pk, "r");
		mp_pack_raw(&fb.pk, rec.mv_data, rec.mv_size);
	}
	if (cl->alive)
		bus_send(cl->c, &fb);
	fbuf_free(&fb);
	mdb_cursor_close(ix);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	free(cs.v);
	return;
fail:
	if (ix)
		mdb_cursor_close(ix);
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	free(cs.v);
	log_warnx("bot pending for campaign %s: %s", campaign,
	    mdb_strerror(rc));
	refuse(cl, re, "store", mdb_strerror(rc));
}

/*
 * Queue text on conv through the one send path (routerd_msg's msg_send,
 * with its suppression check and client-key idempotency), as a bot.  It
 * answers re on cl itself.
 */
static void
forward_send(struct rclient *cl, int64_t re, const char *conv,
    const char *text, size_t tl, const char *key)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	size_t off = 0;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 6);
	mp_kv_str(&pk, "t", "send");
	mp_kv_int(&pk, "id", re);
	mp_kv_str(&pk, "conv", conv);
	mp_kv_strn(&pk, "text", text, tl);
	mp_kv_str(&pk, "key", key);
	mp_kv_bool(&pk, "bot", 1);
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, sb.data, sb.size, &off) !=
	    MSGPACK_UNPACK_SUCCESS)
		fatalx("bot: cannot read back a send frame");
	msg_send_internal(cl, &up.data);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

/*
 * The checks reply and idk share: conv and msg given, the conversation
 * exists and the caller may run its campaign's bot, msg is one of its
 * inbound messages.  Then, if msg was answered before, a duplicate answer
 * is registered (*dup = 1).  Otherwise the conversation must still be in
 * bot mode.  0 to go on (txn and cv set), -1 answered.
 */
static int
check(struct rclient *cl, const msgpack_object *f, int64_t re,
    const char *op, MDB_txn **txnp, struct conv *cv, char *msgid,
    size_t msgidsz, int *dup)
{
	char conv[R_IDLEN], reply[R_IDLEN], why[200];
	struct mrec m;
	struct bans *a;
	MDB_txn *txn;
	int rc, r;

	*dup = 0;
	if (!mp_strcpy(f, "conv", conv, sizeof(conv)) || conv[0] == '\0' ||
	    !mp_strcpy(f, "msg", msgid, msgidsz) || msgid[0] == '\0') {
		snprintf(why, sizeof(why), "bot: %s needs conv and msg (the "
		    "inbound message it answers)", op);
		refuse(cl, re, "invalid", why);
		return -1;
	}
	if ((txn = store_txn(R->st)) == NULL) {
		refuse(cl, re, "store", store_error(R->st));
		return -1;
	}
	if ((rc = conv_get(txn, conv, cv)) != 0) {
		if (rc != MDB_NOTFOUND)
			goto fail;
		snprintf(why, sizeof(why), "bot: no conversation %s", conv);
		refuse(cl, re, "notfound", why);
		return -1;
	}
	if (allowed(cl, re, cv->campaign) == -1)
		return -1;
	if ((rc = mrec_get(txn, msgid, &m)) != 0 && rc != MDB_NOTFOUND)
		goto fail;
	r = rc == 0 && strcmp(m.conv, conv) == 0 && strcmp(m.dir, "in") == 0;
	if (rc == 0)
		mrec_free(&m);
	if (!r) {
		snprintf(why, sizeof(why), "bot: %s is not an inbound message "
		    "of %s", msgid, conv);
		refuse(cl, re, "invalid", why);
		return -1;
	}
	if ((r = answered(txn, msgid, reply, sizeof(reply), &rc)) == -1)
		goto fail;
	if (r == 1) {
		a = bans_new(cl, re, conv);
		a->dup = 1;
		snprintf(a->msg, sizeof(a->msg), "%s", reply);
		store_after(R->st, bans_done, a);
		*dup = 1;
		return -1;
	}
	if (strcmp(cv->status, "closed") == 0 ||
	    strcmp(cv->rstate, "closed") == 0) {
		snprintf(why, sizeof(why), "bot: conversation %s is closed",
		    conv);
		refuse(cl, re, "closed", why);
		return -1;
	}
	if (strcmp(cv->mode, "bot") != 0) {
		snprintf(why, sizeof(why), "bot: conversation %s is in %s "
		    "mode", conv, cv->mode);
		refuse(cl, re, "mode", why);
		return -1;
	}
	*txnp = txn;
	return 0;
fail:
	a = bans_new(cl, re, conv);
	store_after(R->st, bans_done, a);
	store_fail(R->st, rc, "reading for a bot request");
	return -1;
}

/* {t:"bot", id, op:"reply", conv, msg, text} */
static void
bot_reply(struct rclient *cl, const msgpack_object *f, int64_t re)
{
	char msgid[R_IDLEN], key[R_IDLEN + 8];
	const char *text;
	size_t tl;
	struct conv cv;
	struct bans *a;
	MDB_txn *txn;
	int rc, dup;

	if (!mp_str(f, "text", &text, &tl) || tl == 0) {
		refuse(cl, re, "invalid", "bot: a reply needs text");
		return;
	}
	if (tl > BOT_TEXT_MAX) {
		refuse(cl, re, "invalid", "bot: text over 64 KiB");
		return;
	}
	if (check(cl, f, re, "reply", &txn, &cv, msgid, sizeof(msgid),
	    &dup) == -1)
		return;
	/* answered in this very batch, with the send it queues */
	if ((rc = mark(txn, msgid, "reply")) != 0) {
		a = bans_new(cl, re, cv.id);
		store_after(R->st, bans_done, a);
		store_fail(R->st, rc, "recording a bot reply");
		return;
	}
	snprintf(key, sizeof(key), "bot:%s", msgid);
	forward_send(cl, re, cv.id, text, tl, key);
}

/* {t:"bot", id, op:"idk", conv, msg}: the campaign's IDK setting. */
static void
bot_idk(struct rclient *cl, const msgpack_object *f, int64_t re)
{
	char msgid[R_IDLEN], key[R_IDLEN + 8];
	struct camp c;
	struct conv cv;
	struct bans *a;
	msgpack_packer *pk;
	MDB_txn *txn;
	int rc, dup, custom;

	if (check(cl, f, re, "idk", &txn, &cv, msgid, sizeof(msgid),
	    &dup) == -1)
		return;
	camp_get(cv.campaign, &c);
	custom = strcmp(c.idk_mode, "custom") == 0 &&
	    c.idk_message[0] != '\0';
	if ((rc = mark(txn, msgid, "idk")) != 0)
		goto fail;
	pk = rec_begin(8);
	mp_kv_str(pk, "type", "idk");
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "id", msgid);
	mp_kv_str(pk, "campaign", cv.campaign);
	mp_kv_str(pk, "channel", cv.channel);
	mp_kv_str(pk, "contact", cv.contact);
	mp_kv_str(pk, "action", custom ? "custom" : "agent");
	mp_kv_int(pk, "ts", daemon_now_ms());
	if ((rc = rec_append(txn, cv.id, NULL)) != 0)
		goto fail;
	if (custom) {
		snprintf(key, sizeof(key), "idk:%s", msgid);
		forward_send(cl, re, cv.id, c.idk_message,
		    strlen(c.idk_message), key);
		return;
	}
	if ((rc = route_to_agents(txn, &cv, 1, "idk")) != 0 ||
	    (rc = conv_put(txn, &cv)) != 0)
		goto fail;
	log_info("conv=%s handed to agents: the bot does not know", cv.id);
	a = bans_new(cl, re, cv.id);
	snprintf(a->action, sizeof(a->action), "agent");
	store_after(R->st, bans_done, a);
	return;
fail:
	a = bans_new(cl, re, cv.id);
	store_after(R->st, bans_done, a);
	store_fail(R->st, rc, "recording a bot IDK");
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
		refuse(cl, re, "invalid", "bot: op must be pending, reply or "
		    "idk");
}
