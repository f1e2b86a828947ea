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
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mp.h"
#include "statsd.h"

static MDB_env		*cenv;
static MDB_dbi		 db_campaigns, db_agents, db_agentuser;
static long long	 next_try, next_say;

#define OPEN_RETRY_MS	100

static int
camp_open(void)
{
	char dir[4096], file[4200];
	struct stat st;
	MDB_txn *txn;
	int rc;

	if (cenv)
		return 0;
	/*
	 * Until campaignd has made its environment, every call looks (a
	 * stat): campaignd makes it, with all its databases, before it
	 * answers anyone, so the first read after that sees it.  (Tried at
	 * most once a second, a campaign created in the second after a
	 * failed look went unseen: inbound routed to "default", agents
	 * refused as strangers.)  An environment there that fails to open
	 * is tried again after OPEN_RETRY_MS, and said once in a while.
	 */
	daemon_path(&S->d, "db/campaignd", dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	if (stat(file, &st) == -1 || daemon_now_ms() < next_try)
		return -1;
	if ((rc = mdb_env_create(&cenv)) != 0 ||
	    (rc = mdb_env_set_maxdbs(cenv, 32)) != 0 ||
	    (rc = mdb_env_open(cenv, dir, MDB_RDONLY | MDB_NOTLS,
	    STORE_MODE)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(cenv, NULL, MDB_RDONLY, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "campaigns", 0, &db_campaigns)) != 0 ||
	    (rc = mdb_dbi_open(txn, "agents", 0, &db_agents)) != 0 ||
	    (rc = mdb_dbi_open(txn, "agentuser", 0, &db_agentuser)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return 0;
fail:
	next_try = daemon_now_ms() + OPEN_RETRY_MS;
	if (daemon_now_ms() >= next_say) {
		log_warnx("campaign configuration %s: %s (retrying)", dir,
		    mdb_strerror(rc));
		next_say = daemon_now_ms() + 10000;
	}
	if (cenv)
		mdb_env_close(cenv);
	cenv = NULL;
	return -1;
}

static int
rtxn(MDB_txn **txn)
{
	int rc;

	if (camp_open() == -1)
		return -1;
	rc = mdb_txn_begin(cenv, NULL, MDB_RDONLY, txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(cenv, 0);
		rc = mdb_txn_begin(cenv, NULL, MDB_RDONLY, txn);
	}
	return rc == 0 ? 0 : -1;
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
