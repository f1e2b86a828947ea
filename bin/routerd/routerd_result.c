/*
 * routerd_result — the handler of a channel daemon's answer to a dispatch
 * (routerd_dispatch hands it over through the hook main wires): the
 * provider's id when the message was sent, or the provider's error.
 *
 * The result is recorded once: "sent" (with the provider id, and the
 * statuses that arrived for that id before we knew it, kept by
 * routerd_status) or "failed", and the message leaves the pending queue.
 * A message no longer pending already has its result.  A provider id that
 * already belongs to another of our messages (two identical messages in
 * doubt both found the one copy the provider had) is not this message's:
 * it is taken as not sent and dispatched again as a first try, to be sent
 * anew.  Once the result is on disk the file the message carried leaves
 * the spool.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "spool.h"
#include "routerd.h"

struct rdone {
	char	msg[R_IDLEN];
	char	spool[64];	/* the spool name of the file it carried, or "" */
};

static void
result_done(void *arg, int ok)
{
	struct rdone *d = arg;

	if (!ok)
		log_warnx("msg=%s result not stored; it stays queued and is "
		    "dispatched again", d->msg);
	else if (d->spool[0] != '\0' && spool_unlink(R->d.home, d->spool) == -1)
		log_warnx("msg=%s: spool %s: %s", d->msg, d->spool,
		    strerror(errno));
	free(d);
}

/* An early status for m's provider id: recorded now, once. */
struct early {
	MDB_txn		*txn;
	struct mrec	*m;
};

static int
orphan_apply(const char *status, const char *code, const char *reason,
    const msgpack_object *data, int64_t ts, void *arg)
{
	struct early *e = arg;
	char seen[R_IDLEN];
	int rc;

	rc = rs_seen_get(e->txn, e->m->channel, e->m->pid, status, seen,
	    sizeof(seen));
	if (rc == 0)
		return 0;	/* already recorded, e.g. "sent" */
	if (rc != MDB_NOTFOUND ||
	    (rc = rs_seen_put(e->txn, e->m->channel, e->m->pid, status,
	    e->m->id)) != 0)
		return rc;
	return rs_mrec_status(e->txn, e->m, status, NULL, code, reason, data,
	    ts);
}

/* Statuses that arrived before the pid was known. */
int
result_orphans(MDB_txn *txn, struct mrec *m)
{
	struct early e = { txn, m };
	int rc;

	if ((rc = rs_orphan_walk(txn, m->channel, m->pid, orphan_apply,
	    &e)) != 0)
		return rc;
	return rs_orphan_del(txn, m->channel, m->pid);
}

/* Sent as pid: recorded, with the statuses that came early.  1 when pid
 * is another message's (m is dispatched again), else 0 or rc. */
static int
result_sent(MDB_txn *txn, struct mrec *m, const char *pid)
{
	char owner[R_IDLEN];
	int rc;

	rc = rs_pid_get(txn, m->channel, pid, owner, sizeof(owner));
	if (rc == 0 && strcmp(owner, m->id) != 0) {
		log_warnx("msg=%s: provider id %s already belongs to "
		    "msg=%s; taken as not sent, dispatched again", m->id,
		    pid, owner);
		dispatch(m->id);
		return 1;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	/* Messenger's echo of our send (routerd_status) may have come first:
	 * sent is recorded; the answer's id finds the message too */
	if (m->pid[0] && rs_seen_get(txn, m->channel, m->pid, "sent", owner,
	    sizeof(owner)) == 0 && strcmp(owner, m->id) == 0) {
		if (strcmp(m->pid, pid) == 0)
			return 0;
		if ((rc = rs_pid_put(txn, m->channel, pid, m->id)) != 0)
			return rc;
		return rs_seen_put(txn, m->channel, pid, "sent", m->id);
	}
	snprintf(m->pid, sizeof(m->pid), "%s", pid);
	if ((rc = rs_pid_put(txn, m->channel, pid, m->id)) != 0)
		return rc;
	/* the provider's own "sent" callback is then a duplicate */
	if ((rc = rs_seen_put(txn, m->channel, pid, "sent", m->id)) != 0)
		return rc;
	if (dispatch_in_doubt()) {
		/* sent again after a lost answer, the provider not asked:
		 * possibly a second copy, said so ({again: true}) */
		static const char dm[] = "\x81\xa5" "again" "\xc3";
		msgpack_unpacked du;
		size_t off = 0;

		msgpack_unpacked_init(&du);
		if (msgpack_unpack_next(&du, dm, sizeof(dm) - 1, &off) !=
		    MSGPACK_UNPACK_SUCCESS)
			fatalx("a constant map does not unpack");
		rc = rs_mrec_status(txn, m, "sent", pid, NULL, NULL, &du.data,
		    daemon_now_ms());
		msgpack_unpacked_destroy(&du);
	} else
		rc = rs_mrec_status(txn, m, "sent", pid, NULL, NULL, NULL,
		    daemon_now_ms());
	if (rc != 0)
		return rc;
	return result_orphans(txn, m);
}

void
result_record(const char *msgid, const char *pid, const char *code,
    const char *reason)
{
	MDB_txn *txn;
	struct mrec m;
	struct rdone *d;
	int rc;

	if ((txn = store_txn(R->st)) == NULL) {
		log_warnx("msg=%s result not stored: %s", msgid,
		    store_error(R->st));
		return;
	}
	if ((rc = rs_mrec_get(txn, msgid, &m)) != 0) {
		if (rc == MDB_NOTFOUND) {
			log_warnx("msg=%s result for an unknown message",
			    msgid);
			return;
		}
		store_fail(R->st, rc, "reading a message");
		return;
	}
	if ((rc = rs_pending_has(txn, msgid)) != 0) {
		rs_mrec_free(&m);
		if (rc != MDB_NOTFOUND) {
			store_fail(R->st, rc, "reading the pending queue");
			return;
		}
		log_debug("msg=%s already has its result; %s ignored", msgid,
		    pid ? pid : code ? code : "answer");
		return;
	}
	if (pid) {
		if ((rc = result_sent(txn, &m, pid)) == 1) {
			rs_mrec_free(&m);
			return;
		}
	} else {
		log_info("msg=%s failed: %s %s", msgid, code ? code : "",
		    reason ? reason : "");
		rc = rs_mrec_status(txn, &m, "failed", NULL, code, reason,
		    NULL, daemon_now_ms());
	}
	rs_mrec_free(&m);
	if (rc != 0 || (rc = rs_pending_del(txn, msgid)) != 0) {
		store_fail(R->st, rc, "storing a send result");
		return;
	}
	/* sent or failed for good: the spooled file is not needed */
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatalx("out of memory");
	snprintf(d->msg, sizeof(d->msg), "%s", msgid);
	out_spool_of(txn, msgid, d->spool, sizeof(d->spool));
	store_after(R->st, result_done, d);
}
