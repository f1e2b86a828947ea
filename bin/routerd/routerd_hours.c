/*
 * routerd_hours — when a campaign is open (its schedule, its own holidays
 * and the global ones, in its time zone: lib/schedule), and what a customer
 * who writes while it is closed is told.  A rule module: routerd_policy
 * asks it about every inbound message, routerd_queue before offering a
 * conversation; it calls routerd_store, routerd_campaign and lib/.
 *
 * The after-hours message goes once per closed period: the conversation
 * remembers the opening it was sent for (ah_until), and the "after_hours"
 * event says whether it was sent and when the campaign opens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp.h"
#include "rec.h"
#include "schedule.h"
#include "routerd.h"

#define HOLIDAYS_MAX	1024	/* holidays read for one schedule check */

/* Add the "date" of a holiday document to hol. */
static void
add_holiday(const msgpack_object *doc, char (*hol)[16], size_t *nh)
{
	char d[16];

	if (*nh < HOLIDAYS_MAX && mp_strcpy(doc, "date", d, sizeof(d)) &&
	    strlen(d) == 10)
		memcpy(hol[(*nh)++], d, sizeof(d));
}

int
hours_open(const char *campaign, long long now, long long *next)
{
	char tz[64] = "UTC", err[256], (*hol)[16] = NULL;
	const char **hp = NULL;
	const msgpack_object *sj, *own;
	msgpack_unpacked up;
	struct sched s;
	json_t *js = NULL;
	MDB_txn *ct;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t nh = 0, i;
	int64_t n;
	int open = 1, rc;

	*next = 0;
	if (strcmp(campaign, "default") == 0 || camp_rtxn(&ct) == -1)
		return 1;
	msgpack_unpacked_init(&up);
	if (camp_doc(ct, "campaigns", campaign, &up) == -1 ||
	    (sj = mp_get(&up.data, "schedule")) == NULL ||
	    sj->type == MSGPACK_OBJECT_NIL)
		goto out;		/* no schedule: always open */
	if ((js = rec_to_json(sj)) == NULL ||
	    sched_from_json(js, &s, err, sizeof(err)) == -1) {
		log_warnx("campaign %s: bad schedule, taken as open", campaign);
		goto out;
	}
	mp_strcpy(&up.data, "timezone", tz, sizeof(tz));
	if ((hol = calloc(HOLIDAYS_MAX, sizeof(*hol))) == NULL ||
	    (hp = calloc(HOLIDAYS_MAX, sizeof(*hp))) == NULL)
		fatalx("out of memory");
	own = mp_get(&up.data, "holidays");
	if (own && own->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < own->via.array.size; i++)
			add_holiday(&own->via.array.ptr[i], hol, &nh);
	if (camp_dbi("holidays", &dbi) == 0 &&
	    mdb_cursor_open(ct, dbi, &cur) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 &&
		    nh < HOLIDAYS_MAX; rc = mdb_cursor_get(cur, &k, &v,
		    MDB_NEXT)) {
			msgpack_unpacked hu;
			size_t off = 0;

			msgpack_unpacked_init(&hu);
			if (msgpack_unpack_next(&hu, v.mv_data, v.mv_size,
			    &off) == MSGPACK_UNPACK_SUCCESS)
				add_holiday(&hu.data, hol, &nh);
			msgpack_unpacked_destroy(&hu);
		}
		mdb_cursor_close(cur);
	}
	for (i = 0; i < nh; i++)
		hp[i] = hol[i];
	switch (sched_open_at(&s, tz, hp, nh, now)) {
	case 0:
		open = 0;
		n = sched_next_open(&s, tz, hp, nh, now);
		*next = n > 0 ? n : R_NEVER;
		break;
	case -1:
		log_warnx("campaign %s: time zone %s unknown, taken as open",
		    campaign, tz);
		break;
	}
out:
	json_decref(js);
	free(hol);
	free(hp);
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(ct);
	return open;
}

int
hours_after(MDB_txn *txn, struct conv *cv, long long next, char *reply,
    size_t replysz)
{
	struct camp c;
	msgpack_packer *pk;
	int send, rc;

	reply[0] = '\0';
	camp_get(cv->campaign, &c);
	send = c.after_hours_message[0] && cv->ah_until != next;
	pk = rs_event(6);
	mp_kv_str(pk, "type", "after_hours");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	if (next == R_NEVER)
		mp_kv_nil(pk, "opens_ts");
	else
		mp_kv_int(pk, "opens_ts", next);
	mp_kv_bool(pk, "replied", send);
	mp_kv_int(pk, "ts", daemon_now_ms());
	if ((rc = rs_append(txn, cv->id, NULL)) != 0)
		return rc;
	if (send) {
		snprintf(reply, replysz, "%s", c.after_hours_message);
		cv->ah_until = next;
	}
	return 0;
}
