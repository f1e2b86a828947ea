/*
 * routerd_in — the handler of {t:"in"}: a customer's message, from a
 * channel daemon that answers its provider's webhook only once we have
 * answered (so nothing acknowledged to a provider is ever lost).
 *
 *   {t:"in", id, channel, pid, from, to, ts, text, name?, type?, media?,
 *    data?, dir?, by?} -> {re, ok, conv, msg, dup}
 *
 * Not every "in" is a new message of the customer's: what the Page sent
 * from elsewhere (Messenger, Instagram: dir out, by page) is stored as an
 * outbound message, sent (in_echo); a reaction naming one of our messages
 * is recorded on it (in_react); a WhatsApp edit or revoke of the
 * customer's message becomes that message's status "edited" or "unsent"
 * (in_change, the tombstone messengerd's unsend makes too); a WhatsApp
 * system message announcing a new number is stored, and the conversation
 * follows the customer (in_follow).  Whatever names a message we do not
 * have is stored as a message of its own: nothing is dropped.
 *
 * A provider id seen before is a duplicate: answered with what the first
 * delivery stored, stored once.  Otherwise the message is stored in the
 * current group-commit batch — its conversation found or opened
 * (routerd_queue), reopened if it was closed, marked not routed if its
 * campaign or channel is disabled — and passes routerd_policy's inbound
 * checkpoint (blacklist, keywords, after hours) before it is queued for the
 * agents.  The answer waits for the commit (lib/held).
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mp.h"
#include "ulid.h"
#include "valid.h"
#include "routerd.h"

/* What an "in" frame says. */
struct inreq {
	enum chan		 channel;
	char			 pid[128], from[R_ADDRLEN], to[R_ADDRLEN],
				 name[128], mtype[64];
	const char		*text;
	size_t			 textlen;
	int64_t			 ts;
	const msgpack_object	*media, *data;
	int			 echo;		/* dir out, by the Page */
};

/* Read f into r; 0, or -1 refused (answered). */
static int
in_parse(struct rclient *cl, int64_t re, const msgpack_object *f,
    struct inreq *r)
{
	char channel[16];

	memset(r, 0, sizeof(*r));
	r->text = "";
	snprintf(r->mtype, sizeof(r->mtype), "text");
	if (!mp_strcpy(f, "channel", channel, sizeof(channel)) ||
	    !mp_strcpy(f, "pid", r->pid, sizeof(r->pid)) || r->pid[0] == '\0' ||
	    !mp_strcpy(f, "from", r->from, sizeof(r->from)) ||
	    r->from[0] == '\0' ||
	    !mp_strcpy(f, "to", r->to, sizeof(r->to)) || r->to[0] == '\0') {
		bus_caller_refuse(&cl->bc, re, "invalid", "in: channel, pid, "
		    "from and to are required strings");
		return -1;
	}
	if (rs_chan_parse(channel, &r->channel) == -1) {
		bus_caller_refuse(&cl->bc, re, "invalid", "in: channel must "
		    "be sms, whatsapp, messenger or instagram");
		return -1;
	}
	if (mp_get(f, "text") && !mp_str(f, "text", &r->text, &r->textlen)) {
		bus_caller_refuse(&cl->bc, re, "invalid", "in: text must be a "
		    "string");
		return -1;
	}
	if (r->textlen > R_TEXT_MAX) {
		bus_caller_refuse(&cl->bc, re, "invalid", "in: text over 64 "
		    "KiB");
		return -1;
	}
	mp_strcpy(f, "name", r->name, sizeof(r->name));
	if (mp_get(f, "type") && !mp_strcpy(f, "type", r->mtype,
	    sizeof(r->mtype)))
		snprintf(r->mtype, sizeof(r->mtype), "unknown"); /* not a name */
	if (!mp_int(f, "ts", &r->ts) || r->ts <= 0)
		r->ts = daemon_now_ms();
	r->media = mp_get(f, "media");
	if (r->media && r->media->type != MSGPACK_OBJECT_ARRAY)
		r->media = NULL;
	/* type-specific facts (a location, a reply's context): kept as given */
	r->data = mp_get(f, "data");
	if (r->data && r->data->type != MSGPACK_OBJECT_MAP)
		r->data = NULL;
	/* Messenger, Instagram: what the Page sent from elsewhere */
	r->echo = mp_str_is(f, "dir", "out");
	if (r->echo && r->channel != CH_MESSENGER &&
	    r->channel != CH_INSTAGRAM) {
		bus_caller_refuse(&cl->bc, re, "invalid", "in: dir out is "
		    "for messenger and instagram");
		return -1;
	}
	return 0;
}

/* The answer {conv, msg, dup}. */
static void
in_answer(struct held *h, const char *conv, const char *msg, int dup)
{
	msgpack_packer *pk = held_ok(h, 3);

	mp_kv_str(pk, "conv", conv[0] ? conv : NULL);
	mp_kv_str(pk, "msg", msg[0] ? msg : NULL);
	mp_kv_bool(pk, "dup", dup);
}

/* The "message" event of m, an inbound message of cv. */
static int
in_event(MDB_txn *txn, const struct conv *cv, const struct inreq *r,
    const struct mrec *m)
{
	msgpack_packer *pk;

	pk = rs_event(13 + (cv->name[0] != 0) + (r->media != NULL) +
	    (r->data != NULL) + 2 * (cv->unrouted[0] != 0));
	mp_kv_str(pk, "type", "message");
	mp_kv_str(pk, "dir", "in");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "id", m->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "channel", rs_chan_name(r->channel));
	mp_kv_str(pk, "contact", r->from);
	mp_kv_str(pk, "addr", r->to);
	if (cv->name[0])
		mp_kv_str(pk, "name", cv->name);
	mp_kv_strn(pk, "text", r->text, r->textlen);
	mp_kv_str(pk, "msgtype", r->mtype);
	if (r->media)
		mp_kv_obj(pk, "media", r->media);
	if (r->data)
		mp_kv_obj(pk, "data", r->data);
	mp_kv_str(pk, "pid", r->pid);
	mp_kv_str(pk, "mode", rs_mode_name(cv->mode));
	if (cv->unrouted[0]) {
		mp_kv_bool(pk, "routed", 0);
		mp_kv_str(pk, "unrouted", cv->unrouted);
	}
	mp_kv_int(pk, "ts", r->ts);
	return rs_append(txn, cv->id, NULL);
}

/*
 * A message the Page sent from elsewhere (Page Inbox, the Instagram app):
 * an outbound message of the conversation, sent, by "page"; not the
 * customer's, so it neither opens the window nor is routed.  0 or rc.
 */
static int
in_echo(MDB_txn *txn, const struct inreq *r, char *conv, char *msgid)
{
	struct conv cv;
	struct mrec m;
	msgpack_packer *pk;
	int rc;

	if ((rc = queue_conv(txn, r->channel, r->to, r->from, r->ts,
	    &cv)) != 0)
		return rc;
	memset(&m, 0, sizeof(m));
	ulid_make("m_", m.id);
	snprintf(m.conv, sizeof(m.conv), "%s", cv.id);
	snprintf(m.dir, sizeof(m.dir), "out");
	m.channel = r->channel;
	snprintf(m.from, sizeof(m.from), "%s", r->to);
	snprintf(m.to, sizeof(m.to), "%s", r->from);
	snprintf(m.state, sizeof(m.state), "sent");
	snprintf(m.pid, sizeof(m.pid), "%s", r->pid);
	m.ts = r->ts;
	m.text = (char *)r->text;
	m.textlen = r->textlen;
	pk = rs_event(14 + (r->media != NULL) + (r->data != NULL));
	mp_kv_str(pk, "type", "message");
	mp_kv_str(pk, "dir", "out");
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "id", m.id);
	mp_kv_str(pk, "campaign", cv.campaign);
	mp_kv_str(pk, "channel", rs_chan_name(r->channel));
	mp_kv_str(pk, "contact", r->from);
	mp_kv_str(pk, "addr", r->to);
	mp_kv_strn(pk, "text", r->text, r->textlen);
	mp_kv_str(pk, "msgtype", r->mtype);
	if (r->media)
		mp_kv_obj(pk, "media", r->media);
	if (r->data)
		mp_kv_obj(pk, "data", r->data);
	mp_kv_str(pk, "pid", r->pid);
	mp_kv_str(pk, "status", "sent");
	mp_kv_str(pk, "by", "page");
	mp_kv_int(pk, "ts", r->ts);
	if ((rc = rs_append(txn, cv.id, NULL)) != 0 ||
	    (rc = rs_mrec_put(txn, &m)) != 0 ||
	    (rc = rs_pid_put(txn, r->channel, r->pid, m.id)) != 0 ||
	    (rc = rs_seen_put(txn, r->channel, r->pid, "sent", m.id)) != 0)
		return rc;
	if (r->ts >= cv.last_ts) {
		cv.last_ts = r->ts;
		snprintf(cv.last_dir, sizeof(cv.last_dir), "out");
		rs_preview(cv.last_text, sizeof(cv.last_text), r->text,
		    r->textlen);
	}
	if ((rc = rs_conv_put(txn, &cv)) != 0)
		return rc;
	snprintf(conv, R_IDLEN, "%s", cv.id);
	snprintf(msgid, R_IDLEN, "%s", m.id);
	return 0;
}

/* The provider id of the message the event r is about, from data.<obj>.
 * <key> (a reaction's message_id, an edit's original); "" when none. */
static void
in_target(const struct inreq *r, const char *obj, const char *key,
    char *pid, size_t pidsz)
{
	const msgpack_object *o;

	pid[0] = '\0';
	if (r->data != NULL && (o = mp_get(r->data, obj)) != NULL &&
	    o->type == MSGPACK_OBJECT_MAP)
		mp_strcpy(o, key, pid, pidsz);
}

/*
 * A reaction (Messenger, Instagram) on the message it names: a "reaction"
 * event on that message of ours, never a new customer message.  1 done
 * (conv, msgid: the message reacted to), 0 when the message is not known
 * (stored as a message of type reaction instead), -1 with *rc.
 */
static int
in_react(MDB_txn *txn, const struct inreq *r, char *conv, char *msgid,
    int *rc)
{
	const msgpack_object *o;
	char tpid[128], tid[R_IDLEN], action[16] = "react", emoji[64] = "";
	struct conv cv;
	struct mrec m;
	msgpack_packer *pk;

	in_target(r, "reaction", "message_id", tpid, sizeof(tpid));
	if (tpid[0] == '\0')
		return 0;
	if ((*rc = rs_pid_get(txn, r->channel, tpid, tid, sizeof(tid))) != 0) {
		if (*rc != MDB_NOTFOUND)
			return -1;
		*rc = 0;
		return 0;
	}
	if ((*rc = rs_mrec_get(txn, tid, &m)) != 0)
		return -1;
	*rc = rs_conv_get(txn, m.conv, &cv);
	rs_mrec_free(&m);
	if (*rc != 0)
		return -1;
	/* only a message of this customer's thread with this Page */
	if (cv.channel != r->channel || strcmp(cv.contact, r->from) != 0 ||
	    strcmp(cv.addr, r->to) != 0)
		return 0;
	o = mp_get(r->data, "reaction");
	mp_strcpy(o, "action", action, sizeof(action));
	if (!mp_strcpy(o, "emoji", emoji, sizeof(emoji)))
		mp_strcpy(o, "reaction", emoji, sizeof(emoji));
	pk = rs_event(11 + (emoji[0] != '\0'));
	mp_kv_str(pk, "type", "reaction");
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "id", tid);
	mp_kv_str(pk, "campaign", cv.campaign);
	mp_kv_str(pk, "channel", rs_chan_name(r->channel));
	mp_kv_str(pk, "contact", cv.contact);
	mp_kv_str(pk, "pid", r->pid);
	mp_kv_str(pk, "action", strcmp(action, "unreact") == 0 ? "unreact" :
	    "react");
	if (emoji[0])
		mp_kv_str(pk, "emoji", emoji);
	mp_kv_str(pk, "by", "customer");
	mp_kv_obj(pk, "data", r->data);
	mp_kv_int(pk, "ts", r->ts);
	/* a redelivery finds the message reacted to */
	if ((*rc = rs_append(txn, cv.id, NULL)) != 0 ||
	    (*rc = rs_pid_put(txn, r->channel, r->pid, tid)) != 0)
		return -1;
	snprintf(conv, R_IDLEN, "%s", cv.id);
	snprintf(msgid, R_IDLEN, "%s", tid);
	return 1;
}

/*
 * A WhatsApp edit or revoke of an earlier message of the customer's
 * (data.edit / data.revoke .original): shown on that message as its
 * status "edited" (data.edit: the new text, type, media and the edit's
 * wamid) or "unsent" (the tombstone Messenger's unsend makes), never a new
 * message.  1 done, 0 when the original is not known (stored as a message
 * of its own), -1 with *rc.
 */
static int
in_change(MDB_txn *txn, const struct inreq *r, char *conv, char *msgid,
    int *rc)
{
	int edit = strcmp(r->mtype, "edit") == 0;
	char opid[128], oid[R_IDLEN], ntype[64];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	size_t off = 0;
	struct mrec m;

	in_target(r, edit ? "edit" : "revoke", "original", opid,
	    sizeof(opid));
	if (opid[0] == '\0')
		return 0;
	if ((*rc = rs_pid_get(txn, r->channel, opid, oid, sizeof(oid))) != 0) {
		if (*rc != MDB_NOTFOUND)
			return -1;
		*rc = 0;
		return 0;
	}
	if ((*rc = rs_mrec_get(txn, oid, &m)) != 0)
		return -1;
	if (strcmp(m.dir, "in") != 0 || strcmp(m.from, r->from) != 0) {
		/* only the customer's own message is theirs to change */
		rs_mrec_free(&m);
		return 0;
	}
	/* data: {edit | revoke: {pid, text?, msgtype?, media?, data}} */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	mp_pack_cstr(&pk, edit ? "edit" : "revoke");
	msgpack_pack_map(&pk, 2 + (edit ? 2 + (r->media != NULL) : 0));
	mp_kv_str(&pk, "pid", r->pid);
	if (edit) {
		mp_kv_strn(&pk, "text", r->text, r->textlen);
		in_target(r, "edit", "type", ntype, sizeof(ntype));
		mp_kv_str(&pk, "msgtype", ntype[0] ? ntype : "text");
		if (r->media != NULL)
			mp_kv_obj(&pk, "media", r->media);
	}
	mp_kv_obj(&pk, "data", r->data);
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, sb.data, sb.size, &off) !=
	    MSGPACK_UNPACK_SUCCESS)
		fatalx("a map packed by us does not unpack");
	*rc = rs_mrec_status(txn, &m, edit ? "edited" : "unsent", NULL, NULL,
	    NULL, &up.data, r->ts);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	if (*rc == 0)
		*rc = rs_pid_put(txn, r->channel, r->pid, m.id);
	snprintf(conv, R_IDLEN, "%s", m.conv);
	snprintf(msgid, R_IDLEN, "%s", m.id);
	rs_mrec_free(&m);
	return *rc == 0 ? 1 : -1;
}

/*
 * A WhatsApp system message saying the customer changed number (or
 * business-scoped user id): the conversation follows the customer, so the
 * new number's messages reach it.  A "contact" event says so; when
 * another conversation has the new number already, nothing moves and the
 * event says why.  0 or rc.
 */
static int
in_follow(MDB_txn *txn, struct conv *cv, const struct inreq *r)
{
	const msgpack_object *sys;
	char nw[R_ADDRLEN] = "", old[R_ADDRLEN];
	msgpack_packer *pk;
	int rc;

	if (r->data == NULL || (sys = mp_get(r->data, "system")) == NULL ||
	    sys->type != MSGPACK_OBJECT_MAP)
		return 0;
	if (!mp_strcpy(sys, "new_contact", nw, sizeof(nw)) ||
	    !valid_e164(nw)) {
		nw[0] = '\0';
		if (!mp_strcpy(sys, "user_id", nw, sizeof(nw)) ||
		    !valid_bsuid(nw))
			return 0;
	}
	if (strcmp(nw, cv->contact) == 0)
		return 0;
	snprintf(old, sizeof(old), "%s", cv->contact);
	rc = rs_conv_rekey(txn, cv, nw);
	if (rc != 0 && rc != MDB_KEYEXIST)
		return rc;
	pk = rs_event(8 + (rc == MDB_KEYEXIST));
	mp_kv_str(pk, "type", "contact");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "channel", rs_chan_name(cv->channel));
	mp_kv_str(pk, "contact", nw);
	mp_kv_str(pk, "old", old);
	mp_kv_bool(pk, "followed", rc == 0);
	if (rc == MDB_KEYEXIST)
		mp_kv_str(pk, "reason", "another conversation has the new "
		    "number already");
	mp_kv_int(pk, "ts", r->ts);
	return rs_append(txn, cv->id, NULL);
}

/* Store r in its conversation; the answer's conv and msg out.  0 or rc. */
static int
in_store(MDB_txn *txn, const struct inreq *r, char *conv, char *msgid)
{
	struct conv cv;
	struct mrec m;
	int rc, flags, sysmsg;

	sysmsg = r->channel == CH_WHATSAPP && strcmp(r->mtype, "system") == 0;
	if (r->echo)
		return in_echo(txn, r, conv, msgid);
	if (r->channel != CH_SMS && strcmp(r->mtype, "reaction") == 0 &&
	    r->channel != CH_WHATSAPP &&
	    (flags = in_react(txn, r, conv, msgid, &rc)) != 0)
		return flags == 1 ? 0 : rc;
	if (r->channel == CH_WHATSAPP && (strcmp(r->mtype, "edit") == 0 ||
	    strcmp(r->mtype, "revoke") == 0) &&
	    (flags = in_change(txn, r, conv, msgid, &rc)) != 0)
		return flags == 1 ? 0 : rc;
	if ((rc = queue_conv(txn, r->channel, r->to, r->from, r->ts,
	    &cv)) != 0)
		return rc;
	memset(&m, 0, sizeof(m));
	ulid_make("m_", m.id);
	snprintf(m.conv, sizeof(m.conv), "%s", cv.id);
	snprintf(m.dir, sizeof(m.dir), "in");
	m.channel = r->channel;
	snprintf(m.from, sizeof(m.from), "%s", r->from);
	snprintf(m.to, sizeof(m.to), "%s", r->to);
	snprintf(m.state, sizeof(m.state), "received");
	snprintf(m.pid, sizeof(m.pid), "%s", r->pid);
	m.ts = r->ts;
	m.text = (char *)r->text;
	m.textlen = r->textlen;
	if (r->name[0])
		snprintf(cv.name, sizeof(cv.name), "%s", r->name);
	/* the customer writes again: a closed conversation reopens (in the
	 * campaign that owns our address now, if its own is not live) */
	if (cv.status == CV_CLOSED)
		queue_reopen(&cv);
	/* a disabled campaign or channel: stored, never lost, but not routed */
	camp_check(cv.campaign, r->channel, cv.unrouted, sizeof(cv.unrouted));
	if ((rc = in_event(txn, &cv, r, &m)) != 0 ||
	    (rc = rs_mrec_put(txn, &m)) != 0 ||
	    (rc = rs_pid_put(txn, r->channel, r->pid, m.id)) != 0)
		return rc;
	cv.last_ts = r->ts;
	snprintf(cv.last_dir, sizeof(cv.last_dir), "in");
	rs_preview(cv.last_text, sizeof(cv.last_text), r->text, r->textlen);
	if (cv.waiting_since == 0)
		cv.waiting_since = r->ts;
	/* a late redelivery of an older message never narrows the window;
	 * Meta's notice of a new number is not the customer writing */
	if (r->ts > cv.last_in_ts && !sysmsg)
		cv.last_in_ts = r->ts;
	if ((rc = rs_conv_put(txn, &cv)) != 0)
		return rc;
	/* the customer's new number: the conversation follows */
	if (sysmsg && (rc = in_follow(txn, &cv, r)) != 0)
		return rc;
	/* blacklist, keywords, after hours; then the queue */
	if ((flags = policy_inbound(txn, &cv, &m, &rc)) == -1)
		return rc;
	if (cv.unrouted[0] == '\0' && !(flags & POL_NOROUTE) &&
	    cv.mode == CM_AGENT &&
	    (cv.rstate == CS_NEW || cv.rstate == CS_CLOSED) &&
	    (rc = queue_enqueue(txn, &cv)) != 0)
		return rc;
	snprintf(conv, R_IDLEN, "%s", cv.id);
	snprintf(msgid, R_IDLEN, "%s", m.id);
	return 0;
}

void
in_request(struct rclient *cl, const msgpack_object *f)
{
	char conv[R_IDLEN] = "", msgid[R_IDLEN] = "";
	struct inreq r;
	struct held *h;
	struct mrec dm;
	int64_t re = 0;
	MDB_txn *txn;
	int rc;

	mp_int(f, "id", &re);
	if (in_parse(cl, re, f, &r) == -1)
		return;
	if ((txn = store_txn(R->st)) == NULL) {
		bus_caller_refuse(&cl->bc, re, "store", "%s",
		    store_error(R->st));
		return;
	}
	h = held_new(&cl->bc, re);
	rc = rs_pid_get(txn, r.channel, r.pid, msgid, sizeof(msgid));
	if (rc == 0) {
		/* a duplicate: answer what the first delivery stored */
		if (rs_mrec_get(txn, msgid, &dm) == 0) {
			snprintf(conv, sizeof(conv), "%s", dm.conv);
			rs_mrec_free(&dm);
		}
		in_answer(h, conv, msgid, 1);
		held_after(h, R->st);
		return;
	}
	if (rc != MDB_NOTFOUND ||
	    (rc = in_store(txn, &r, conv, msgid)) != 0) {
		/* the batch is abandoned: h is answered with the others */
		held_fail(h, R->st, rc, "storing an inbound message");
		return;
	}
	in_answer(h, conv, msgid, 0);
	held_after(h, R->st);
}
