/*
 * routerd_dispatch — hands committed outbound messages to the channel
 * daemons and records what they answer.  The "pending" database is the
 * queue: a message stays there from "queued" until "sent" or "failed" is
 * committed, so after a crash or a lost channel daemon every unconfirmed
 * message is found there and dispatched again (Postfix's active queue).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp.h"
#include "routerd.h"

struct outreq {
	char	msg[R_IDLEN];
};

static void
on_answer(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	struct outreq *o = arg;
	const msgpack_object *err;
	char pid[128], code[32] = "", reason[256] = "";

	R->dispatching--;
	if (ans == NULL) {
		/* channel daemon gone: the message stays pending */
		log_debug("msg=%s dispatch interrupted", o->msg);
	} else if ((err = mp_get(ans, "err")) != NULL) {
		mp_strcpy(err, "code", code, sizeof(code));
		mp_strcpy(err, "msg", reason, sizeof(reason));
		msg_result(o->msg, NULL, code[0] ? code : "error", reason);
	} else if (mp_strcpy(ans, "pid", pid, sizeof(pid)) && pid[0])
		msg_result(o->msg, pid, NULL, NULL);
	else
		msg_result(o->msg, NULL, "protocol",
		    "channel daemon answered without a provider id");
	free(o);
	routerd_dispatch_done();
}

/* Send one message (read from the committed store) to its channel daemon. */
static int
dispatch_one(MDB_txn *txn, const char *msgid)
{
	struct mrec m;
	struct outreq *o;
	struct fbuf fb;
	char mkey[R_IDLEN + 8];
	MDB_val mk, mv;
	int64_t id;
	int rc, media;

	if ((rc = mrec_get(txn, msgid, &m)) != 0) {
		log_warnx("msg=%s pending but unreadable: %s", msgid,
		    mdb_strerror(rc));
		return -1;
	}
	if (strcmp(m.channel, "sms") != 0 || !bus_is_up(R->sms)) {
		mrec_free(&m);
		return -1;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL)
		fatalx("out of memory");
	snprintf(o->msg, sizeof(o->msg), "%s", msgid);
	/* media URLs (msg send --media-url), kept beside the message */
	snprintf(mkey, sizeof(mkey), "media:%s", msgid);
	mk.mv_size = strlen(mkey);
	mk.mv_data = mkey;
	media = mdb_get(txn, R->db_ids, &mk, &mv) == 0 && mv.mv_size > 0;
	id = bus_next_id(R->sms);
	fbuf_init(&fb);
	fbuf_begin(&fb, 7 + media);
	mp_kv_str(&fb.pk, "t", "out");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "msg", m.id);
	mp_kv_str(&fb.pk, "channel", m.channel);
	mp_kv_str(&fb.pk, "from", m.from);
	mp_kv_str(&fb.pk, "to", m.to);
	mp_kv_strn(&fb.pk, "text", m.text ? m.text : "", m.textlen);
	if (media) {
		mp_pack_cstr(&fb.pk, "media");
		mp_pack_raw(&fb.pk, mv.mv_data, mv.mv_size);
	}
	if (bus_request(R->sms, &fb, id, on_answer, o) == -1) {
		free(o);
		rc = -1;
	} else {
		R->dispatching++;
		rc = 0;
	}
	fbuf_free(&fb);
	mrec_free(&m);
	return rc;
}

void
dispatch(const char *msgid)
{
	MDB_txn *txn;

	if (!bus_is_up(R->sms))
		return;		/* dispatched when smsd comes back */
	if (store_rtxn(R->st, &txn) != 0)
		return;
	dispatch_one(txn, msgid);
	mdb_txn_abort(txn);
}

void
dispatch_pending(void)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	char id[R_IDLEN];
	size_t n = 0;
	int rc;

	if (!bus_is_up(R->sms))
		return;
	if ((rc = store_rtxn(R->st, &txn)) != 0) {
		log_warnx("pending scan: %s", mdb_strerror(rc));
		return;
	}
	if (mdb_cursor_open(txn, R->db_pending, &cur) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size >= sizeof(id))
				continue;
			memcpy(id, k.mv_data, k.mv_size);
			id[k.mv_size] = '\0';
			if (dispatch_one(txn, id) == 0)
				n++;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	if (n)
		log_info("dispatched %zu queued messages again", n);
}

static void
on_sms_up(struct bus_conn *c, void *arg)
{
	dispatch_pending();
}

static const struct bus_handlers sms_handlers = {
	.up = on_sms_up,
};

void
dispatch_init(void)
{
	char path[4096];

	daemon_path(&R->d, "run/smsd.sock", path, sizeof(path));
	R->sms = bus_client(R->d.base, path, "routerd", &sms_handlers, NULL);
}
