/*
 * routerd_status — the handler of {t:"st"}: a provider's status callback
 * (delivered, read, failed, undelivered...) for one of our messages, from
 * the channel daemon that received the webhook.
 *
 *   {t:"st", id, channel, pid, status, code?, reason?, data?, ts} -> {re,
 *   ok, msg, dup}
 *
 * data (a map) is the channel daemon's facts about the status (the
 * conversation and pricing a WhatsApp status names, its errors); the status
 * event carries it, and the provider id, as they came.
 *
 * A status seen before for the same provider id is a duplicate.  One for a
 * provider id we do not know yet — the provider called back before its API
 * answer reached us — is kept aside (db "orphan") until routerd_result
 * learns the id and applies it.  Otherwise the message's "status" event is
 * appended and its state moves forward (never back: a late "sent" after
 * "delivered" changes nothing).  The answer waits for the commit.
 *
 * Messenger and Instagram (messengerd) add: the echo of our own send,
 * status sent with msg, our message id, taken for that message when it is
 * an outbound one of the thread named (from: the customer, to: the Page)
 * before the send's answer names the mid (st_echo); a watermark (upto,
 * inclusive), every outbound message of the thread sent before it
 * delivered or read, only forward, the watermark kept per conversation
 * (st_watermark); Instagram's read of a mid (earlier), that message and
 * every earlier one (st_earlier).
 *
 * A channel daemon also tells how a send it holds goes, before any answer
 * (st_progress): {t:"st", id, channel, msg, status: "pending", attempt, ts}
 * when attempt is handed to the provider, {..., status: "retrying",
 * attempt, next_ts, code, reason, ts} when a transient failure put the
 * next attempt at next_ts (Unix seconds).  msg is our message id (there is
 * no provider id yet); a message that has its result, or a state past
 * these, takes nothing (dup).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mp.h"
#include "routerd.h"

/* What a Messenger status says besides the common fields. */
struct stx {
	char		from[R_ADDRLEN], to[R_ADDRLEN];	/* customer, Page */
	char		msg[R_IDLEN];	/* our id, from our send's echo */
	int64_t		upto;		/* a watermark, ms; 0 none */
	int		inclusive, earlier;
};

/* The answer {conv: nil, msg, dup}. */
static void
st_answer(struct held *h, const char *msg, int dup)
{
	msgpack_packer *pk = held_ok(h, 3);

	mp_kv_str(pk, "conv", NULL);
	mp_kv_str(pk, "msg", msg[0] ? msg : NULL);
	mp_kv_bool(pk, "dup", dup);
}

/* Is status (delivered, read) news for m, whose state it moves on? */
static int
st_forward(const struct mrec *m, const char *status)
{
	if (m->pid[0] == '\0')
		return 0;	/* never sent */
	if (strcmp(status, "delivered") == 0)
		return strcmp(m->state, "sent") == 0;
	return strcmp(m->state, "sent") == 0 ||
	    strcmp(m->state, "delivered") == 0;
}

#define WM_MAX	1000	/* messages one watermark marks at most */

/*
 * Mark every outbound message of conv queued in [from, below) with status
 * (only forward: delivered, then read), newest first, and remember below
 * as conv's watermark for status.  pid: the watermark's, in each event's
 * data.  0 or an mdb error.
 */
static int
st_earlier(MDB_txn *txn, const char *conv, const char *status,
    long long below, const char *pid, long long ts)
{
	static char ids[WM_MAX][R_IDLEN];
	struct rs_cursor c;
	msgpack_unpacked up;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	long long from;
	struct mrec m;
	MDB_val rec;
	uint64_t seq;
	int64_t ets;
	size_t n = 0, i, off;
	int rc;

	if ((rc = rs_wm_get(txn, conv, status, &from)) != 0)
		return rc;
	if (below <= from)
		return 0;
	/* the ids first: marking appends to the conversation walked */
	if ((rc = rs_convev_open(txn, conv, &c)) != 0)
		return rc;
	msgpack_unpacked_init(&up);
	for (rc = rs_convev_last(&c, &seq); rc == 0 && n < WM_MAX;
	    rc = rs_convev_prev(&c, &seq)) {
		if (rs_event_get(txn, seq, &rec) != 0)
			continue;
		off = 0;
		if (msgpack_unpack_next(&up, rec.mv_data, rec.mv_size, &off) !=
		    MSGPACK_UNPACK_SUCCESS ||
		    !mp_str_is(&up.data, "type", "message") ||
		    !mp_str_is(&up.data, "dir", "out") ||
		    !mp_int(&up.data, "ts", &ets))
			continue;
		if (ets < from)
			break;		/* marked by an earlier watermark */
		if (ets >= below ||
		    !mp_strcpy(&up.data, "id", ids[n], sizeof(ids[n])))
			continue;
		n++;
	}
	msgpack_unpacked_destroy(&up);
	rs_cursor_close(&c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	/* data: {watermark: pid} */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	mp_kv_str(&pk, "watermark", pid);
	msgpack_unpacked_init(&up);
	off = 0;
	if (msgpack_unpack_next(&up, sb.data, sb.size, &off) !=
	    MSGPACK_UNPACK_SUCCESS)
		fatalx("a map packed by us does not unpack");
	for (rc = 0, i = n; rc == 0 && i-- > 0; ) {
		if ((rc = rs_mrec_get(txn, ids[i], &m)) != 0) {
			if (rc == MDB_NOTFOUND)
				rc = 0;
			continue;
		}
		if (st_forward(&m, status) &&
		    (rc = rs_seen_put(txn, m.channel, m.pid, status,
		    m.id)) == 0)
			rc = rs_mrec_status(txn, &m, status, NULL, NULL, NULL,
			    &up.data, ts);
		rs_mrec_free(&m);
	}
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	if (rc == 0)
		rc = rs_wm_put(txn, conv, status, below);
	return rc;
}

/*
 * A Messenger watermark: every outbound message of the thread (channel,
 * Page x->to, customer x->from) sent before x->upto (at or before, when
 * inclusive) takes status.  1 when it moved nothing (a redelivery, or an
 * unknown thread), 0 done, or an mdb error.
 */
static int
st_watermark(MDB_txn *txn, enum chan ch, const char *status, const char *pid,
    const struct stx *x, long long ts)
{
	struct conv cv;
	long long from;
	int rc;

	if ((rc = rs_conv_find(txn, ch, x->to, x->from, &cv)) != 0)
		return rc == MDB_NOTFOUND ? 1 : rc;
	if ((rc = rs_wm_get(txn, cv.id, status, &from)) != 0)
		return rc;
	if (x->upto + x->inclusive <= from)
		return 1;	/* only forward */
	if ((rc = st_earlier(txn, cv.id, status, x->upto + x->inclusive, pid,
	    ts)) != 0)
		return rc;
	/* read implies delivered */
	if (strcmp(status, "read") == 0 && (rc = rs_wm_get(txn, cv.id,
	    "delivered", &from)) == 0 && from < x->upto + x->inclusive)
		rc = rs_wm_put(txn, cv.id, "delivered", x->upto + x->inclusive);
	return rc;
}

/*
 * The echo of our own send (status sent, with our message id x->msg):
 * the message learns its provider id now, before the send's answer names
 * it.  1 when x->msg is no outbound message of this thread (the status is
 * then kept as an orphan), 0 done, or an mdb error.
 */
static int
st_echo(MDB_txn *txn, enum chan ch, const char *pid, const struct stx *x,
    const msgpack_object *data, long long ts)
{
	struct mrec m;
	int rc;

	if ((rc = rs_mrec_get(txn, x->msg, &m)) != 0)
		return rc == MDB_NOTFOUND ? 1 : rc;
	if (strcmp(m.dir, "out") != 0 || m.channel != ch ||
	    strcmp(m.from, x->to) != 0 || strcmp(m.to, x->from) != 0 ||
	    (m.pid[0] && strcmp(m.pid, pid) != 0)) {
		rs_mrec_free(&m);
		return 1;
	}
	if ((rc = rs_pid_put(txn, ch, pid, m.id)) == 0 &&
	    (rc = rs_seen_put(txn, ch, pid, "sent", m.id)) == 0 &&
	    (rc = rs_mrec_status(txn, &m, "sent", pid, NULL, NULL, data,
	    ts)) == 0)
		rc = result_orphans(txn, &m);
	rs_mrec_free(&m);
	return rc;
}

#define ATTEMPT_MAX	1000000
#define NEXT_TS_MAX	(1LL << 40)	/* Unix seconds, far beyond any retry */

/* {t:"st", status: pending or retrying}: a send under way (see above). */
static void
st_progress(struct rclient *cl, const msgpack_object *f, int64_t re,
    enum chan ch, const char *status)
{
	char msgid[R_IDLEN], code[32] = "", reason[256] = "";
	int64_t attempt = 0, next_ts = 0, ts = 0;
	int retrying = strcmp(status, "retrying") == 0, rc;
	struct held *h;
	struct mrec m;
	MDB_txn *txn;

	if (!mp_strcpy(f, "msg", msgid, sizeof(msgid)) || msgid[0] == '\0' ||
	    !mp_int(f, "attempt", &attempt) || attempt < 1 ||
	    attempt > ATTEMPT_MAX) {
		bus_caller_refuse(&cl->bc, re, "invalid", "st: %s needs msg "
		    "and attempt (1 or more)", status);
		return;
	}
	if (retrying && (!mp_int(f, "next_ts", &next_ts) || next_ts <= 0 ||
	    next_ts > NEXT_TS_MAX)) {
		bus_caller_refuse(&cl->bc, re, "invalid", "st: retrying needs "
		    "next_ts, Unix seconds");
		return;
	}
	if ((mp_get(f, "code") && !mp_strcpy(f, "code", code,
	    sizeof(code))) || (mp_get(f, "reason") && !mp_strcpy(f, "reason",
	    reason, sizeof(reason)))) {
		bus_caller_refuse(&cl->bc, re, "invalid", "st: code (at most "
		    "31 bytes) and reason (255) are strings");
		return;
	}
	if (!retrying)
		code[0] = reason[0] = '\0';
	if (!mp_int(f, "ts", &ts) || ts <= 0)
		ts = daemon_now_ms();
	if ((txn = store_txn(R->st)) == NULL) {
		bus_caller_refuse(&cl->bc, re, "store", "%s",
		    store_error(R->st));
		return;
	}
	if ((rc = rs_mrec_get(txn, msgid, &m)) != 0) {
		if (rc != MDB_NOTFOUND) {
			held_fail(held_new(&cl->bc, re), R->st, rc, "reading "
			    "a message");
			return;
		}
		bus_caller_refuse(&cl->bc, re, "notfound", "st: no message "
		    "%s", msgid);
		return;
	}
	if (strcmp(m.dir, "out") != 0 || m.channel != ch) {
		rs_mrec_free(&m);
		bus_caller_refuse(&cl->bc, re, "invalid", "st: %s is no "
		    "outbound message of channel %s", msgid, rs_chan_name(ch));
		return;
	}
	h = held_new(&cl->bc, re);
	/* its result is in (sent, failed), or a later state came first */
	if ((rc = rs_pending_has(txn, msgid)) == MDB_NOTFOUND ||
	    (rc == 0 && strcmp(m.state, "queued") != 0 &&
	    strcmp(m.state, "sending") != 0 && !rs_state_underway(m.state))) {
		rs_mrec_free(&m);
		st_answer(h, msgid, 1);
		held_after(h, R->st);
		return;
	}
	if (rc == 0)	/* next_ts in ms, as every "*_ts" in a record */
		rc = rs_mrec_progress(txn, &m, status, (int)attempt,
		    next_ts * 1000, code, reason, ts);
	rs_mrec_free(&m);
	if (rc != 0) {
		held_fail(h, R->st, rc, "storing a send's progress");
		return;
	}
	st_answer(h, msgid, 0);
	held_after(h, R->st);
}

void
status_request(struct rclient *cl, const msgpack_object *f)
{
	char channel[16], pid[128], status[24], code[32] = "",
	    reason[256] = "", msgid[R_IDLEN] = "";
	int64_t re = 0, ts = 0;
	const msgpack_object *data;
	struct held *h;
	struct mrec m;
	struct stx x;
	enum chan ch;
	MDB_txn *txn;
	int rc;

	mp_int(f, "id", &re);
	/* a send under way: no provider id yet, our message id instead */
	if (mp_strcpy(f, "status", status, sizeof(status)) &&
	    (strcmp(status, "pending") == 0 ||
	    strcmp(status, "retrying") == 0)) {
		if (!mp_strcpy(f, "channel", channel, sizeof(channel)) ||
		    rs_chan_parse(channel, &ch) == -1) {
			bus_caller_refuse(&cl->bc, re, "invalid", "st: channel "
			    "must be sms, whatsapp, messenger or instagram");
			return;
		}
		st_progress(cl, f, re, ch, status);
		return;
	}
	if ((data = mp_get(f, "data")) != NULL &&
	    data->type != MSGPACK_OBJECT_MAP)
		data = NULL;
	if (!mp_strcpy(f, "channel", channel, sizeof(channel)) ||
	    !mp_strcpy(f, "pid", pid, sizeof(pid)) || pid[0] == '\0' ||
	    !mp_strcpy(f, "status", status, sizeof(status)) ||
	    status[0] == '\0') {
		bus_caller_refuse(&cl->bc, re, "invalid", "st: channel, pid "
		    "and status are required strings");
		return;
	}
	if (rs_chan_parse(channel, &ch) == -1) {
		bus_caller_refuse(&cl->bc, re, "invalid", "st: channel must "
		    "be sms, whatsapp, messenger or instagram");
		return;
	}
	mp_strcpy(f, "code", code, sizeof(code));
	mp_strcpy(f, "reason", reason, sizeof(reason));
	memset(&x, 0, sizeof(x));
	if (ch == CH_MESSENGER || ch == CH_INSTAGRAM) {
		mp_strcpy(f, "from", x.from, sizeof(x.from));
		mp_strcpy(f, "to", x.to, sizeof(x.to));
		mp_strcpy(f, "msg", x.msg, sizeof(x.msg));
		if (!mp_int(f, "upto", &x.upto) || x.upto < 0 ||
		    x.upto > INT64_MAX / 2)
			x.upto = 0;
		mp_bool(f, "inclusive", &x.inclusive);
		mp_bool(f, "earlier", &x.earlier);
		x.inclusive = x.inclusive != 0;
		if ((x.upto > 0 || x.earlier) &&
		    strcmp(status, "delivered") != 0 &&
		    strcmp(status, "read") != 0) {
			bus_caller_refuse(&cl->bc, re, "invalid", "st: upto "
			    "and earlier go with delivered or read");
			return;
		}
		if (x.upto > 0 && (x.from[0] == '\0' || x.to[0] == '\0')) {
			bus_caller_refuse(&cl->bc, re, "invalid", "st: a "
			    "watermark needs from and to");
			return;
		}
	}
	if (!mp_int(f, "ts", &ts) || ts <= 0)
		ts = daemon_now_ms();
	if ((txn = store_txn(R->st)) == NULL) {
		bus_caller_refuse(&cl->bc, re, "store", "%s",
		    store_error(R->st));
		return;
	}
	h = held_new(&cl->bc, re);
	if (x.upto > 0) {
		if ((rc = st_watermark(txn, ch, status, pid, &x, ts)) < 0 ||
		    rc > 1)
			goto fail;
		st_answer(h, "", rc == 1);
		held_after(h, R->st);
		return;
	}
	if ((rc = rs_seen_get(txn, ch, pid, status, msgid,
	    sizeof(msgid))) == 0) {
		st_answer(h, msgid, 1);
		held_after(h, R->st);
		return;
	}
	if (rc != MDB_NOTFOUND)
		goto fail;
	rc = rs_pid_get(txn, ch, pid, msgid, sizeof(msgid));
	if (rc == MDB_NOTFOUND && x.msg[0] && strcmp(status, "sent") == 0) {
		/* Messenger's echo of our send, before the send's answer */
		if ((rc = st_echo(txn, ch, pid, &x, data, ts)) == 0) {
			st_answer(h, x.msg, 0);
			held_after(h, R->st);
			return;
		}
		if (rc != 1)
			goto fail;
		rc = MDB_NOTFOUND;
	}
	if (rc == MDB_NOTFOUND) {
		/*
		 * The provider called back before its API answer reached us:
		 * keep the status until the "sent" result names this pid.
		 */
		if ((rc = rs_orphan_put(txn, ch, pid, status, code, reason,
		    data, ts)) != 0)
			goto fail;
		st_answer(h, "", 0);
		held_after(h, R->st);
		return;
	}
	if (rc != 0 || (rc = rs_mrec_get(txn, msgid, &m)) != 0)
		goto fail;
	rc = rs_seen_put(txn, ch, pid, status, msgid);
	if (rc == 0)
		rc = rs_mrec_status(txn, &m, status, NULL, code, reason, data,
		    ts);
	/* Instagram's read: that message and every earlier one */
	if (rc == 0 && x.earlier && strcmp(m.dir, "out") == 0)
		rc = st_earlier(txn, m.conv, status, m.ts + 1, pid, ts);
	rs_mrec_free(&m);
	if (rc != 0)
		goto fail;
	st_answer(h, msgid, 0);
	held_after(h, R->st);
	return;
fail:
	held_fail(h, R->st, rc, "storing a status");
}
