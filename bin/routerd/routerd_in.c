/*
 * routerd_in — the handler of {t:"in"}: a customer's message, from a
 * channel daemon that answers its provider's webhook only once we have
 * answered (so nothing acknowledged to a provider is ever lost).
 *
 *   {t:"in", id, channel, pid, from, to, ts, text, name?, type?, media?,
 *    data?} -> {re, ok, conv, msg, dup}
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

#include "mp.h"
#include "ulid.h"
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

/* Store r in its conversation; the answer's conv and msg out.  0 or rc. */
static int
in_store(MDB_txn *txn, const struct inreq *r, char *conv, char *msgid)
{
	struct conv cv;
	struct mrec m;
	int rc, flags;

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
	/* a late redelivery of an older message never narrows the window */
	if (r->ts > cv.last_in_ts)
		cv.last_in_ts = r->ts;
	if ((rc = rs_conv_put(txn, &cv)) != 0)
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
