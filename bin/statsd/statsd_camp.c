/*
 * statsd_camp — statsd's view of campaignd's configuration: each
 * campaign's thresholds and time zone for the fold, and the role of the
 * Unix user behind a stats.sock or statsd.sock peer.
 *
 * campaignd owns its LMDB environment; statsd opens it read-only once per
 * process, as routerd does (routerd_campaign.c), and reads documents inside
 * short read transactions.  Until campaignd has made its environment every
 * campaign has campaignd's defaults, and the open is tried again at the
 * next read.
 */
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mp.h"
#include "statsd.h"

static MDB_dbi		 db_campaigns, db_agents, db_agentuser;
static const struct store_db camp_dbs[] = {
	{ "campaigns", 0, &db_campaigns },
	{ "agents", 0, &db_agents },
	{ "agentuser", 0, &db_agentuser },
	{ NULL, 0, NULL },
};
static struct store_ro	 camp_env = {
	.what = "campaign configuration",
	.sub = "db/campaignd",
	.dbs = camp_dbs,
};

/* A read transaction on campaignd's environment (lib/store: opened on
 * first use, following its map growth). */
static int
rtxn(MDB_txn **txn)
{
	return store_ro_txn(&camp_env, S->d.home, txn);
}

size_t
camp_gen(void)
{
	return store_ro_gen(&camp_env, S->d.home);
}

static int
doc(MDB_txn *txn, MDB_dbi dbi, const char *key, msgpack_unpacked *up)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	size_t off = 0;

	if (k.mv_size == 0 || mdb_get(txn, dbi, &k, &v) != 0)
		return -1;
	if (msgpack_unpack_next(up, v.mv_data, v.mv_size, &off) !=
	    MSGPACK_UNPACK_SUCCESS || up->data.type != MSGPACK_OBJECT_MAP)
		return -1;
	return 0;
}

void
camp_cfg(void *arg, const char *campaign, struct fold_cfg *c)
{
	MDB_txn *txn;
	msgpack_unpacked up;
	const msgpack_object *d, *o;
	int64_t v;

	(void)arg;
	if (strcmp(campaign, "default") == 0 || rtxn(&txn) == -1)
		return;
	msgpack_unpacked_init(&up);
	if (doc(txn, db_campaigns, campaign, &up) == 0) {
		d = &up.data;
		if ((o = mp_get(d, "thresholds")) != NULL) {
			if (mp_int(o, "service_level_s", &v) && v >= 0)
				c->sl_ms = v * 1000;
			if (mp_int(o, "dropout_s", &v) && v >= 0)
				c->dropout_ms = v * 1000;
			if (mp_int(o, "chat_time_s", &v) && v >= 0)
				c->chat_ms = v * 1000;
		}
		if ((o = mp_get(d, "service_level")) != NULL &&
		    mp_int(o, "response_threshold_s", &v) && v >= 0)
			c->resp_ms = v * 1000;
		if (mp_int(d, "acd", &v) && v >= 0)
			c->acd = (int)v;
		if (mp_int(d, "max_interactions", &v) && v > 0)
			c->max_inter = (int)v;
		mp_strcpy(d, "timezone", c->tz, sizeof(c->tz));
	}
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(txn);
}

int
camp_role(uid_t uid)
{
	struct passwd *pw;
	MDB_txn *txn;
	MDB_val k, v;
	msgpack_unpacked up;
	char agent[64], role[16] = "";

	if (uid == 0 || uid == geteuid())
		return 2;
	if ((pw = getpwuid(uid)) == NULL || rtxn(&txn) == -1)
		return 0;
	k.mv_size = strlen(pw->pw_name);
	k.mv_data = pw->pw_name;
	if (mdb_get(txn, db_agentuser, &k, &v) == 0 && v.mv_size > 0 &&
	    v.mv_size < sizeof(agent)) {
		memcpy(agent, v.mv_data, v.mv_size);
		agent[v.mv_size] = '\0';
		msgpack_unpacked_init(&up);
		if (doc(txn, db_agents, agent, &up) == 0)
			mp_strcpy(&up.data, "role", role, sizeof(role));
		msgpack_unpacked_destroy(&up);
	}
	mdb_txn_abort(txn);
	return strcmp(role, "admin") == 0 ? 2 :
	    strcmp(role, "supervisor") == 0 ? 1 : 0;
}
