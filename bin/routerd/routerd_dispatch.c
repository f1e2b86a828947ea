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

/* Send one message (read from the committed store) to its channel daemon. */
static int
dispatch_one(MDB_txn *txn, const char *msgid)
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
		return -1;
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
	fbuf_begin(&fb, 7 + (x ? x->via.map.size : 0));
	mp_kv_str(&fb.pk, "t", "out");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "msg", m.id);
	mp_kv_str(&fb.pk, "channel", m.channel);
	mp_kv_str(&fb.pk, "from", m.from);
	mp_kv_str(&fb.pk, "to", m.to);
	mp_kv_strn(&fb.pk, "text", m.text ? m.text : "", m.textlen);
	for (i = 0; x != NULL && i < x->via.map.size; i++) {
		msgpack_pack_object(&fb.pk, x->via.map.ptr[i].key);
		msgpack_pack_object(&fb.pk, x->via.map.ptr[i].val);
	}
	if (bus_request(c, &fb, id, on_answer, o) == -1) {
		free(o);
		rc = -1;
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

	if (store_rtxn(R->st, &txn) != 0)
		return;
	dispatch_one(txn, msgid);	/* when its daemon is down: on "up" */
	mdb_txn_abort(txn);
}

/* Dispatch every pending message of channel (NULL: all channels). */
static void
pending_scan(const char *channel)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	char id[R_IDLEN];
	size_t n = 0;
	int rc;

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
			if (channel != NULL) {
				if (mrec_get(txn, id, &m) != 0)
					continue;
				rc = strcmp(m.channel, channel);
				mrec_free(&m);
				if (rc != 0)
					continue;
			}
			if (dispatch_one(txn, id) == 0)
				n++;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	if (n)
		log_info("dispatched %zu queued %s messages again", n,
		    channel ? channel : "");
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
