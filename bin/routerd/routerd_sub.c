/*
 * routerd_sub — the handler of {t:"sub"}: subscriptions to the event log.
 *
 * A subscriber is fed from the store, never from memory: its cursor is a
 * sequence number, and events are read (zero-copy from LMDB) and written
 * only while its output buffer is below subscriber_queue_kb.  So a slow
 * reader costs at most that much memory; one whose queue stays full for
 * subscriber_stall_ms is dropped (a "slow" frame naming its last sequence
 * is queued first) and resumes from its last sequence when it comes back.
 *
 * What a subscriber sees follows its role now, not the one it connected
 * with: when campaignd has committed a change to the caller's role or
 * mapping (an admin demoted, an agent deleted), the subscription ends with
 * "denied" and the connection is closed.  It reads the log through
 * routerd_store's cursors; main feeds subscribers after every commit
 * (sub_publish) and checks them once a second (sub_tick).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp.h"
#include "routerd.h"

/* May this subscriber see the record?  Admins see all; others their
 * campaigns' events and their own agent events. */
static int
visible(struct rclient *cl, const MDB_val *r)
{
	struct who *w = &cl->who;	/* refreshed by sub_pump */
	msgpack_unpacked up;
	size_t off = 0;
	char camp[64] = "", agent[64] = "";
	int i, ok = 0;

	if (w->role == RR_ADMIN)
		return 1;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, r->mv_data, r->mv_size, &off) ==
	    MSGPACK_UNPACK_SUCCESS) {
		mp_strcpy(&up.data, "campaign", camp, sizeof(camp));
		mp_strcpy(&up.data, "agent", agent, sizeof(agent));
	}
	msgpack_unpacked_destroy(&up);
	if (camp[0] == '\0')
		return agent[0] && strcmp(agent, w->agent) == 0;
	for (i = 0; i < cl->vis_n; i++)
		if (strcmp(cl->vis_camp[i], camp) == 0)
			return cl->vis_ok[i];
	ok = auth_can_see(w, camp);
	i = cl->vis_n < 16 ? cl->vis_n++ : 15;
	snprintf(cl->vis_camp[i], sizeof(cl->vis_camp[i]), "%s", camp);
	cl->vis_ok[i] = (signed char)ok;
	return ok;
}

static void
send_ev(struct rclient *cl, struct fbuf *fb, uint64_t seq, const MDB_val *r)
{
	if (!visible(cl, r))
		return;
	fbuf_begin(fb, 3);
	mp_kv_str(&fb->pk, "t", "ev");
	mp_kv_int(&fb->pk, "seq", (int64_t)seq);
	mp_pack_cstr(&fb->pk, "r");
	mp_pack_raw(&fb->pk, r->mv_data, r->mv_size);
	bus_send(cl->bc.c, fb);
}

/* The caller's role changed: end the subscription, say why, close. */
static void
sub_end_denied(struct rclient *cl)
{
	struct who *w = &cl->who;
	char why[200];

	if (w->role == RR_NONE)
		snprintf(why, sizeof(why), "your agent mapping was removed; "
		    "the subscription is ended");
	else
		snprintf(why, sizeof(why), "your role changed (now %s%s%s); "
		    "subscribe again", w->agent[0] ? w->agent : "admin",
		    w->role == RR_AGENT ? ", agent" : w->role ==
		    RR_SUPERVISOR ? ", supervisor" : w->agent[0] ? ", admin" :
		    "", "");
	log_info("%s: subscription ended: %s", bus_name(cl->bc.c), why);
	cl->vis_n = 0;
	bus_answer_err(cl->bc.c, cl->sub_id, "denied", why);
	/* stop feeding it; close once the answer has left */
	TAILQ_REMOVE(&R->subs, cl, entry);
	cl->sub = 0;
	bus_finish(cl->bc.c, "subscriber's role changed");
}

void
sub_pump(struct rclient *cl)
{
	MDB_txn *txn;
	struct rs_cursor cur = { NULL, "" };
	MDB_val rec;
	struct fbuf fb;
	uint64_t seq, last = R->log.committed, stuck_next;
	size_t gen;
	int rc, first = 1;

	if (cl->bc.c == NULL || !cl->sub || cl->done)
		return;
	stuck_next = cl->next;
	gen = cl->who.gen;
	if (auth_changed(cl)) {
		sub_end_denied(cl);
		return;
	}
	if (cl->who.gen != gen)
		cl->vis_n = 0;	/* memberships may have changed too */
	if (cl->next <= last) {
		if (store_rtxn(R->st, &txn) != 0)
			return;
		fbuf_init(&fb);
		if (cl->conv[0])
			rc = rs_convev_open(txn, cl->conv, &cur);
		else
			rc = rs_events_open(txn, &cur);
		while (rc == 0 && cl->next <= last &&
		    bus_outlen(cl->bc.c) < R->sub_queue) {
			if (cl->conv[0]) {
				/* the conversation's next, from its index */
				if ((rc = first ? rs_convev_from(&cur, cl->next,
				    &seq) : rs_convev_next(&cur, &seq)) != 0)
					break;
				if (seq > last)
					break;
				if ((rc = rs_event_get(txn, seq, &rec)) != 0)
					break;
			} else {
				rc = first ? rs_events_from(&cur, cl->next,
				    &seq, &rec) : rs_events_next(&cur, &seq,
				    &rec);
				if (rc != 0 || seq > last)
					break;
			}
			first = 0;
			send_ev(cl, &fb, seq, &rec);
			cl->next = seq + 1;
		}
		if (rc == MDB_NOTFOUND || (rc == 0 && cl->next <= last &&
		    bus_outlen(cl->bc.c) < R->sub_queue))
			cl->next = last + 1;	/* nothing more for this filter */
		rs_cursor_close(&cur);
		mdb_txn_abort(txn);
		fbuf_free(&fb);
	}
	if (cl->next <= last) {
		/* output full: continue when the reader has taken half;
		 * stuck_since counts from the last progress, so a reader
		 * taking a long backlog is never dropped */
		if (cl->stuck_since == 0 || cl->next != stuck_next)
			cl->stuck_since = daemon_now_ms();
		bus_want_drain(cl->bc.c, R->sub_queue / 2);
		return;
	}
	cl->stuck_since = 0;
	if (!cl->follow) {
		fbuf_init(&fb);
		fbuf_begin(&fb, 2);
		mp_kv_str(&fb.pk, "t", "eof");
		mp_kv_int(&fb.pk, "seq", (int64_t)last);
		bus_send(cl->bc.c, &fb);
		fbuf_free(&fb);
		cl->done = 1;
	}
}

/* A subscription to one conversation: it exists and the caller may see it;
 * 0, or -1 answered. */
static int
sub_conv_check(struct rclient *cl, int64_t re)
{
	struct conv cv;
	MDB_txn *txn;
	char why[200];
	int rc;

	if ((rc = store_rtxn(R->st, &txn)) != 0) {
		bus_answer_err(cl->bc.c, re, "store", mdb_strerror(rc));
		return -1;
	}
	rc = rs_conv_get(txn, cl->conv, &cv);
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND) {
		snprintf(why, sizeof(why), "no conversation %s", cl->conv);
		bus_answer_err(cl->bc.c, re, "notfound", why);
		return -1;
	}
	if (rc != 0) {
		bus_answer_err(cl->bc.c, re, "store", mdb_strerror(rc));
		return -1;
	}
	return auth_check_conv(cl, re, &cv);
}

void
sub_request(struct rclient *cl, const msgpack_object *f)
{
	int64_t re = 0, since = 0, lastn = 0;
	int follow = 0;
	uint64_t last = R->log.committed;
	struct fbuf fb;
	struct who *w;

	mp_int(f, "id", &re);
	if (cl->sub) {
		bus_answer_err(cl->bc.c, re, "invalid", "already subscribed");
		return;
	}
	w = auth_who(cl);
	if (w->role == RR_NONE) {
		bus_deny(cl->bc.c, re, "you are not a parley agent; an admin "
		    "adds you with msg agent add");
		return;
	}
	mp_bool(f, "follow", &follow);
	if (mp_get(f, "conv") && !mp_strcpy(f, "conv", cl->conv,
	    sizeof(cl->conv))) {
		bus_answer_err(cl->bc.c, re, "invalid", "sub: bad conv");
		return;
	}
	if (cl->conv[0] && sub_conv_check(cl, re) == -1) {
		cl->conv[0] = '\0';
		return;
	}
	if (mp_get(f, "since") && (!mp_int(f, "since", &since) || since < 0)) {
		bus_answer_err(cl->bc.c, re, "invalid", "sub: since must be a "
		    "sequence number");
		return;
	}
	if (mp_get(f, "last") && (!mp_int(f, "last", &lastn) || lastn < 0)) {
		bus_answer_err(cl->bc.c, re, "invalid", "sub: last must be a "
		    "count");
		return;
	}
	if (mp_get(f, "since"))
		cl->next = since < 1 ? 1 : (uint64_t)since;
	else if (mp_get(f, "last") && !cl->conv[0])
		cl->next = (uint64_t)lastn >= last ? 1 : last - lastn + 1;
	else if (mp_get(f, "last")) {
		/* the conversation's last N events, from its index */
		MDB_txn *txn;
		struct rs_cursor cur;
		uint64_t seq;
		int64_t i;

		cl->next = last + 1;
		if (lastn > 0 && store_rtxn(R->st, &txn) == 0) {
			if (rs_convev_open(txn, cl->conv, &cur) == 0) {
				if (rs_convev_last(&cur, &seq) == 0) {
					cl->next = seq;
					for (i = 1; i < lastn &&
					    rs_convev_prev(&cur, &seq) == 0; i++)
						cl->next = seq;
				}
				rs_cursor_close(&cur);
			}
			mdb_txn_abort(txn);
		}
	} else
		cl->next = last + 1;
	cl->follow = follow;
	cl->sub = 1;
	cl->sub_id = re;
	TAILQ_INSERT_TAIL(&R->subs, cl, entry);
	fbuf_init(&fb);
	bus_answer_begin(&fb, re, 1);
	mp_kv_int(&fb.pk, "seq", (int64_t)last);
	bus_send(cl->bc.c, &fb);
	fbuf_free(&fb);
	sub_pump(cl);
}

void
sub_publish(void)
{
	struct rclient *cl, *tmp;

	for (cl = TAILQ_FIRST(&R->subs); cl != NULL; cl = tmp) {
		tmp = TAILQ_NEXT(cl, entry);
		sub_pump(cl);
	}
}

void
sub_tick(void)
{
	struct rclient *cl, *tmp;
	long long now = daemon_now_ms();

	int dropped = 0;

	for (cl = TAILQ_FIRST(&R->subs); cl != NULL; cl = tmp) {
		tmp = TAILQ_NEXT(cl, entry);
		if (auth_changed(cl)) {
			sub_end_denied(cl);
			dropped++;
		} else if (cl->stuck_since && now - cl->stuck_since >
		    R->sub_stall_ms) {
			struct fbuf fb;

			fbuf_init(&fb);
			fbuf_begin(&fb, 2);
			mp_kv_str(&fb.pk, "t", "slow");
			mp_kv_int(&fb.pk, "seq", (int64_t)cl->next - 1);
			bus_send(cl->bc.c, &fb);
			fbuf_free(&fb);
			bus_drop(cl->bc.c, "subscriber's queue stayed full "
			    "(subscriber_queue_kb); it may resume from its "
			    "last seq");
			dropped++;
		}
	}
	/* give the dropped queues' memory back to the system */
	if (dropped)
		daemon_trim();
}
