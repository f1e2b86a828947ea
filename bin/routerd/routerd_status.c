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
 */
#include <stdio.h>
#include <string.h>

#include "mp.h"
#include "routerd.h"

/* The answer {conv: nil, msg, dup}. */
static void
st_answer(struct held *h, const char *msg, int dup)
{
	msgpack_packer *pk = held_ok(h, 3);

	mp_kv_str(pk, "conv", NULL);
	mp_kv_str(pk, "msg", msg[0] ? msg : NULL);
	mp_kv_bool(pk, "dup", dup);
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
	enum chan ch;
	MDB_txn *txn;
	int rc;

	mp_int(f, "id", &re);
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
	if (!mp_int(f, "ts", &ts) || ts <= 0)
		ts = daemon_now_ms();
	if ((txn = store_txn(R->st)) == NULL) {
		bus_caller_refuse(&cl->bc, re, "store", "%s",
		    store_error(R->st));
		return;
	}
	h = held_new(&cl->bc, re);
	if ((rc = rs_seen_get(txn, ch, pid, status, msgid,
	    sizeof(msgid))) == 0) {
		st_answer(h, msgid, 1);
		held_after(h, R->st);
		return;
	}
	if (rc != MDB_NOTFOUND)
		goto fail;
	rc = rs_pid_get(txn, ch, pid, msgid, sizeof(msgid));
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
	rs_mrec_free(&m);
	if (rc != 0)
		goto fail;
	st_answer(h, msgid, 0);
	held_after(h, R->st);
	return;
fail:
	held_fail(h, R->st, rc, "storing a status");
}
