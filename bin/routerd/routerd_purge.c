/*
 * routerd_purge — the handler of {t:"purge", id, campaign}: campaignd has
 * deleted a campaign, and its conversations go with it — their events,
 * messages, pending sends and keys (routerd_store's rs_conv_purge) — in one
 * batch.  The deletion itself stays in the log, as a "campaign" event.
 * Only campaignd (root or the daemons' user) may ask.
 *
 *   -> {re, ok, convs, events}   answered after the commit
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mp.h"
#include "routerd.h"

#define PURGE_BATCH	256	/* ids collected per walk */

/* One walk over the conversations: ids of the campaign's, at most a batch. */
struct purge {
	const char	*campaign;
	char		 ids[PURGE_BATCH][R_IDLEN];
	size_t		 n;
};

static int
purge_collect(const char *id, const MDB_val *v, void *arg)
{
	struct purge *p = arg;
	msgpack_unpacked up;
	const msgpack_object *c;
	size_t off = 0;

	if (p->n == PURGE_BATCH)
		return 1;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v->mv_data, v->mv_size, &off) ==
	    MSGPACK_UNPACK_SUCCESS &&
	    (c = mp_get(&up.data, "campaign")) != NULL &&
	    mp_streq(c, p->campaign))
		snprintf(p->ids[p->n++], R_IDLEN, "%s", id);
	msgpack_unpacked_destroy(&up);
	return 0;
}

/* Delete every conversation of campaign; their count and their events'. */
static int
purge_all(MDB_txn *txn, struct purge *p, long *convs, long *events)
{
	struct conv cv;
	size_t i;
	int rc;

	/* collect a batch of ids, then delete; repeat until none is left */
	do {
		p->n = 0;
		if ((rc = rs_convs_walk(txn, "", purge_collect, p)) != 0)
			return rc;
		for (i = 0; i < p->n; i++) {
			if ((rc = rs_conv_get(txn, p->ids[i], &cv)) != 0 ||
			    (rc = rs_conv_purge(txn, &cv, events)) != 0)
				return rc;
			(*convs)++;
		}
	} while (p->n == PURGE_BATCH);
	return 0;
}

void
purge_request(struct rclient *cl, const msgpack_object *f)
{
	static struct purge p;
	char campaign[64];
	struct held *h;
	msgpack_packer *pk;
	MDB_txn *txn;
	uid_t uid;
	int64_t re = 0;
	long convs = 0, events = 0;
	int rc;

	mp_int(f, "id", &re);
	if (bus_peer(cl->bc.c, &uid, NULL, NULL) == -1 ||
	    (uid != 0 && uid != geteuid())) {
		bus_caller_refuse(&cl->bc, re, "denied", "purge: only campaignd "
		    "may delete a campaign's conversations");
		return;
	}
	if (!mp_strcpy(f, "campaign", campaign, sizeof(campaign)) ||
	    campaign[0] == '\0') {
		bus_caller_refuse(&cl->bc, re, "invalid", "purge: campaign is "
		    "required");
		return;
	}
	if ((txn = store_txn(R->st)) == NULL) {
		bus_caller_refuse(&cl->bc, re, "store", "%s",
		    store_error(R->st));
		return;
	}
	h = held_new(&cl->bc, re);
	p.campaign = campaign;
	if ((rc = purge_all(txn, &p, &convs, &events)) != 0)
		goto fail;
	/* the deletion itself stays in the log */
	pk = rs_event(6);
	mp_kv_str(pk, "type", "campaign");
	mp_kv_str(pk, "op", "deleted");
	mp_kv_str(pk, "campaign", campaign);
	mp_kv_int(pk, "convs", convs);
	mp_kv_int(pk, "events", events);
	mp_kv_int(pk, "ts", daemon_now_ms());
	if ((rc = rs_append(txn, "", NULL)) != 0)
		goto fail;
	log_info("campaign %s deleted: %ld conversations, %ld events purged",
	    campaign, convs, events);
	pk = held_ok(h, 2);
	mp_kv_int(pk, "convs", convs);
	mp_kv_int(pk, "events", events);
	held_after(h, R->st);
	return;
fail:
	held_fail(h, R->st, rc, "purging a campaign's conversations");
}
