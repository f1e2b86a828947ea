/*
 * routerd_campaign — routerd's view of campaignd's configuration, and the
 * purge of a deleted campaign's conversations.
 *
 * campaignd owns its LMDB environment; routerd opens it read-only once per
 * process and reads the "addr" index and "campaigns" documents zero-copy
 * inside short read transactions, so it always sees the current
 * configuration without any message passing.  If campaignd has not created
 * its environment yet, addresses belong to the campaign "default" and the
 * open is retried at most once a second.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mp.h"
#include "routerd.h"

static MDB_env		*cenv;
static MDB_dbi		 db_addr, db_campaigns;
static long long	 next_try;

static int
camp_open(void)
{
	char dir[4096], file[4200];
	struct stat st;
	MDB_txn *txn;
	int rc;

	if (cenv)
		return 0;
	if (daemon_now_ms() < next_try)
		return -1;
	next_try = daemon_now_ms() + 1000;
	daemon_path(&R->d, "db/campaignd", dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	if (stat(file, &st) == -1)
		return -1;
	if ((rc = mdb_env_create(&cenv)) != 0 ||
	    (rc = mdb_env_set_maxdbs(cenv, 32)) != 0 ||
	    (rc = mdb_env_open(cenv, dir, MDB_RDONLY | MDB_NOTLS,
	    STORE_MODE)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(cenv, NULL, MDB_RDONLY, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "addr", 0, &db_addr)) != 0 ||
	    (rc = mdb_dbi_open(txn, "campaigns", 0, &db_campaigns)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	/* a committed read-only txn keeps its dbi handles for later ones */
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	log_info("reading campaign configuration from %s", dir);
	return 0;
fail:
	log_warnx("campaign configuration %s: %s (retrying)", dir,
	    mdb_strerror(rc));
	if (cenv)
		mdb_env_close(cenv);
	cenv = NULL;
	return -1;
}

/* A read transaction on campaignd's environment, following map growth. */
static int
rtxn_begin(MDB_txn **txn)
{
	int rc;

	if (camp_open() == -1)
		return -1;
	rc = mdb_txn_begin(cenv, NULL, MDB_RDONLY, txn);
	if (rc == MDB_MAP_RESIZED) {
		/* campaignd grew its map: adopt the new size */
		mdb_env_set_mapsize(cenv, 0);
		rc = mdb_txn_begin(cenv, NULL, MDB_RDONLY, txn);
	}
	if (rc != 0) {
		log_warnx("campaign configuration: %s", mdb_strerror(rc));
		return -1;
	}
	return 0;
}

/*
 * A handle camp_dbi opens (in a transaction of its own) is valid only in
 * transactions begun after it: open every database routerd reads before
 * beginning one, so camp_doc/camp_dbi inside it always work.
 */
int
camp_rtxn(MDB_txn **txn)
{
	static const char *const dbs[] = { "agentuser", "agents", "members",
	    "statusdefs", "dispositions", "blacklist", "holidays", "canned",
	    "contacts", "cphone", "cemail", "cname", "wtemplates", NULL };
	static int all;
	MDB_dbi dbi;
	size_t i;
	int n = 0;

	if (!all && camp_open() == 0) {
		for (i = 0; dbs[i]; i++)
			n += camp_dbi(dbs[i], &dbi) == 0;
		all = (size_t)n == i;
	}
	return rtxn_begin(txn);
}

int
camp_dbi(const char *name, MDB_dbi *dbi)
{
	static struct {
		char	name[32];
		MDB_dbi	dbi;
	} cache[32];
	static int n;
	MDB_txn *txn;
	int i, rc;

	for (i = 0; i < n; i++)
		if (strcmp(cache[i].name, name) == 0) {
			*dbi = cache[i].dbi;
			return 0;
		}
	if (n == 32 || strlen(name) >= sizeof(cache[0].name) ||
	    rtxn_begin(&txn) == -1)
		return -1;
	if ((rc = mdb_dbi_open(txn, name, 0, dbi)) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	if (mdb_txn_commit(txn) != 0)
		return -1;
	snprintf(cache[n].name, sizeof(cache[n].name), "%s", name);
	cache[n].dbi = *dbi;
	n++;
	return 0;
}

int
camp_doc(MDB_txn *txn, const char *db, const char *key, msgpack_unpacked *up)
{
	MDB_dbi dbi;
	MDB_val k = { strlen(key), (void *)key }, v;
	size_t off = 0;

	if (k.mv_size == 0 || camp_dbi(db, &dbi) == -1 ||
	    mdb_get(txn, dbi, &k, &v) != 0)
		return -1;
	if (msgpack_unpack_next(up, v.mv_data, v.mv_size, &off) !=
	    MSGPACK_UNPACK_SUCCESS || up->data.type != MSGPACK_OBJECT_MAP)
		return -1;
	return 0;
}

static int
get_doc(MDB_txn *txn, const char *name, msgpack_unpacked *up)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	size_t off = 0;

	if (mdb_get(txn, db_campaigns, &k, &v) != 0)
		return -1;
	if (msgpack_unpack_next(up, v.mv_data, v.mv_size, &off) !=
	    MSGPACK_UNPACK_SUCCESS || up->data.type != MSGPACK_OBJECT_MAP)
		return -1;
	return 0;
}

void
camp_lookup(const char *channel, const char *addr, char *campaign,
    size_t sz)
{
	char key[160];
	MDB_txn *txn;
	MDB_val k, v;

	snprintf(campaign, sz, "default");
	if (camp_rtxn(&txn) == -1)
		return;
	snprintf(key, sizeof(key), "%s:%s", channel, addr);
	k.mv_size = strlen(key);
	k.mv_data = key;
	if (mdb_get(txn, db_addr, &k, &v) == 0 && v.mv_size > 0 &&
	    v.mv_size < sz) {
		memcpy(campaign, v.mv_data, v.mv_size);
		campaign[v.mv_size] = '\0';
	}
	mdb_txn_abort(txn);
}

void
camp_get(const char *name, struct camp *c)
{
	MDB_txn *txn;
	msgpack_unpacked up;
	const msgpack_object *o;
	int64_t v;
	int b;

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	/* defaults match campaignd's for a campaign created with no options */
	c->enabled = 1;
	snprintf(c->strategy, sizeof(c->strategy), "ringall");
	c->max_interactions = 3;
	c->offer_timeout_s = 30;
	snprintf(c->operator_, sizeof(c->operator_), "agent");
	snprintf(c->idk_mode, sizeof(c->idk_mode), "agent");
	snprintf(c->timezone, sizeof(c->timezone), "UTC");
	c->response_threshold_s = 60;
	if (strcmp(name, "default") == 0 || camp_rtxn(&txn) == -1)
		return;
	msgpack_unpacked_init(&up);
	if (get_doc(txn, name, &up) == 0) {
		const msgpack_object *d = &up.data;

		c->exists = 1;
		if (mp_bool(d, "enabled", &b))
			c->enabled = b;
		mp_strcpy(d, "strategy", c->strategy, sizeof(c->strategy));
		if (mp_int(d, "max_interactions", &v) && v > 0)
			c->max_interactions = (int)v;
		if (mp_int(d, "offer_timeout_s", &v) && v > 0)
			c->offer_timeout_s = (int)v;
		if (mp_int(d, "wrapup_s", &v) && v >= 0)
			c->wrapup_s = (int)v;
		mp_strcpy(d, "operator", c->operator_, sizeof(c->operator_));
		if ((o = mp_get(d, "idk")) != NULL) {
			mp_strcpy(o, "mode", c->idk_mode, sizeof(c->idk_mode));
			mp_strcpy(o, "message", c->idk_message,
			    sizeof(c->idk_message));
		}
		mp_strcpy(d, "timezone", c->timezone, sizeof(c->timezone));
		mp_strcpy(d, "after_hours_message", c->after_hours_message,
		    sizeof(c->after_hours_message));
		if (mp_bool(d, "disposition_required", &b))
			c->disposition_required = b;
		if ((o = mp_get(d, "service_level")) != NULL &&
		    mp_int(o, "response_threshold_s", &v) && v > 0)
			c->response_threshold_s = (int)v;
		if ((o = mp_get(d, "files")) != NULL) {
			if (mp_bool(o, "enabled", &b))
				c->files_enabled = b;
			if (mp_bool(o, "library", &b))
				c->files_library = b;
			if (mp_bool(o, "local", &b))
				c->files_local = b;
		}
	}
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(txn);
}

void
camp_check(const char *campaign, const char *channel, char *why, size_t sz)
{
	MDB_txn *txn;
	msgpack_unpacked up;
	const msgpack_object *ch;
	int on = 1;

	why[0] = '\0';
	if (strcmp(campaign, "default") == 0 || camp_rtxn(&txn) == -1)
		return;
	msgpack_unpacked_init(&up);
	if (get_doc(txn, campaign, &up) == -1) {
		snprintf(why, sz, "campaign %s no longer exists", campaign);
		goto out;
	}
	if (mp_bool(&up.data, "enabled", &on) && !on) {
		snprintf(why, sz, "campaign %s is disabled", campaign);
		goto out;
	}
	if ((ch = mp_get(mp_get(&up.data, "channels"), channel)) != NULL &&
	    mp_bool(ch, "enabled", &on) && !on)
		snprintf(why, sz, "channel %s of campaign %s is disabled",
		    channel, campaign);
out:
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(txn);
}

/* purge: delete every conversation of a campaign, and its events */

struct purge_ans {
	struct rclient	*cl;
	int64_t		 re;
	long		 convs, events;
};

static void
purge_answered(void *arg, int ok)
{
	struct purge_ans *a = arg;
	struct fbuf fb;

	if (a->cl->alive) {
		if (!ok)
			bus_answer_err(a->cl->c, a->re, "store",
			    store_error(R->st));
		else {
			fbuf_init(&fb);
			bus_answer_begin(&fb, a->re, 2);
			mp_kv_int(&fb.pk, "convs", a->convs);
			mp_kv_int(&fb.pk, "events", a->events);
			bus_send(a->cl->c, &fb);
			fbuf_free(&fb);
		}
	}
	client_unref(a->cl);
	free(a);
}

/* Delete one conversation's events, messages, pending sends and keys. */
static int
purge_conv(MDB_txn *txn, const struct conv *cv, long *nev)
{
	MDB_cursor *cur;
	MDB_val k = { strlen(cv->id), (void *)cv->id }, v, ev, mk;
	char key[16 + 2 * R_ADDRLEN + 4];
	int rc;

	if ((rc = mdb_cursor_open(txn, R->db_convev, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		msgpack_unpacked up;
		size_t off = 0;
		const char *id;
		size_t idl;

		ev.mv_size = 8;
		ev.mv_data = v.mv_data;
		if (mdb_get(txn, R->db_events, &ev, &mk) == 0) {
			msgpack_unpacked_init(&up);
			if (msgpack_unpack_next(&up, mk.mv_data, mk.mv_size,
			    &off) == MSGPACK_UNPACK_SUCCESS &&
			    mp_str(&up.data, "id", &id, &idl) && idl < 64) {
				char mid[64];

				memcpy(mid, id, idl);
				mid[idl] = '\0';
				mk.mv_size = idl;
				mk.mv_data = mid;
				mdb_del(txn, R->db_msgs, &mk, NULL);
				mdb_del(txn, R->db_pending, &mk, NULL);
				{
					/* what it carries, kept for dispatch */
					char mkey[80];
					MDB_val mv;

					snprintf(mkey, sizeof(mkey), "x:%s",
					    mid);
					mv.mv_size = strlen(mkey);
					mv.mv_data = mkey;
					mdb_del(txn, R->db_ids, &mv, NULL);
				}
			}
			msgpack_unpacked_destroy(&up);
			if ((rc = mdb_del(txn, R->db_events, &ev, NULL)) != 0 &&
			    rc != MDB_NOTFOUND)
				break;
			(*nev)++;
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND && rc != 0)
		return rc;
	k.mv_size = strlen(cv->id);
	k.mv_data = (void *)cv->id;
	if ((rc = mdb_del(txn, R->db_convev, &k, NULL)) != 0 &&
	    rc != MDB_NOTFOUND)
		return rc;
	if ((rc = mdb_del(txn, R->db_convs, &k, NULL)) != 0)
		return rc;
	snprintf(key, sizeof(key), "%s|%s|%s", cv->channel, cv->addr,
	    cv->contact);
	k.mv_size = strlen(key);
	k.mv_data = key;
	rc = mdb_del(txn, R->db_convkey, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

void
camp_purge(struct rclient *cl, const msgpack_object *f)
{
	char campaign[64], ids[256][R_IDLEN];
	struct purge_ans *a;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	struct conv cv;
	uid_t uid;
	int64_t re = 0;
	size_t n, i;
	int rc;

	mp_int(f, "id", &re);
	if (bus_peer(cl->c, &uid, NULL, NULL) == -1 ||
	    (uid != 0 && uid != geteuid())) {
		bus_answer_err(cl->c, re, "denied", "purge: only campaignd "
		    "may delete a campaign's conversations");
		return;
	}
	if (!mp_strcpy(f, "campaign", campaign, sizeof(campaign)) ||
	    campaign[0] == '\0') {
		bus_answer_err(cl->c, re, "invalid", "purge: campaign is "
		    "required");
		return;
	}
	if ((txn = store_txn(R->st)) == NULL) {
		bus_answer_err(cl->c, re, "store", store_error(R->st));
		return;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatalx("out of memory");
	a->cl = cl;
	a->re = re;
	client_ref(cl);
	/* collect a batch of ids, then delete; repeat until none is left */
	for (;;) {
		n = 0;
		if ((rc = mdb_cursor_open(txn, R->db_convs, &cur)) != 0)
			goto fail;
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		    rc == 0 && n < 256;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			msgpack_unpacked up;
			size_t off = 0;
			const msgpack_object *c;

			msgpack_unpacked_init(&up);
			if (msgpack_unpack_next(&up, v.mv_data, v.mv_size,
			    &off) == MSGPACK_UNPACK_SUCCESS &&
			    (c = mp_get(&up.data, "campaign")) != NULL &&
			    mp_streq(c, campaign) && k.mv_size < R_IDLEN) {
				memcpy(ids[n], k.mv_data, k.mv_size);
				ids[n][k.mv_size] = '\0';
				n++;
			}
			msgpack_unpacked_destroy(&up);
		}
		mdb_cursor_close(cur);
		if (rc != 0 && rc != MDB_NOTFOUND)
			goto fail;
		for (i = 0; i < n; i++) {
			if ((rc = conv_get(txn, ids[i], &cv)) != 0 ||
			    (rc = purge_conv(txn, &cv, &a->events)) != 0)
				goto fail;
			a->convs++;
		}
		if (n < 256)
			break;
	}
	{
		msgpack_packer pk;
		uint64_t seq;

		/* the deletion itself stays in the log */
		R->rec.size = 0;
		msgpack_packer_init(&pk, &R->rec, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 6);
		mp_kv_str(&pk, "type", "campaign");
		mp_kv_str(&pk, "op", "deleted");
		mp_kv_str(&pk, "campaign", campaign);
		mp_kv_int(&pk, "convs", a->convs);
		mp_kv_int(&pk, "events", a->events);
		mp_kv_int(&pk, "ts", daemon_now_ms());
		if ((rc = evlog_append(&R->log, txn, R->rec.data, R->rec.size,
		    &seq)) != 0)
			goto fail;
	}
	log_info("campaign %s deleted: %ld conversations, %ld events purged",
	    campaign, a->convs, a->events);
	store_after(R->st, purge_answered, a);
	return;
fail:
	store_after(R->st, purge_answered, a);
	store_fail(R->st, rc, "purging a campaign's conversations");
}
