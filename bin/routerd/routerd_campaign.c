/*
 * routerd_campaign — routerd's view of campaignd's configuration, on the
 * ground floor beside routerd_store: every read of campaignd's environment,
 * and the key formats of campaignd's databases that routerd reads ("addr",
 * "members", "blacklist", "wtemplates", the contact book's indexes).
 *
 * campaignd owns its LMDB environment; routerd opens it read-only once per
 * process and reads the "addr" index and "campaigns" documents zero-copy
 * inside short read transactions, so it always sees the current
 * configuration without any message passing.  If campaignd has not created
 * its environment yet, addresses belong to the campaign "default" and the
 * open is tried again at the next read.  Beside lib/, it uses only
 * routerd_store's channel names.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mp.h"
#include "valid.h"
#include "routerd.h"

static MDB_dbi		 db_addr, db_campaigns;
static const struct store_db camp_dbs[] = {
	{ "addr", 0, &db_addr },
	{ "campaigns", 0, &db_campaigns },
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
rtxn_begin(MDB_txn **txn)
{
	return store_ro_txn(&camp_env, R->d.home, txn);
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
	    "teams", "unsolicited",
	    "statusdefs", "dispositions", "blacklist", "holidays", "canned",
	    "contacts", "cphone", "cemail", "cname", "wtemplates", "templates",
	    "qa", NULL };
	static int all;
	MDB_dbi dbi;
	size_t i;
	int n = 0;

	if (!all && store_ro_open(&camp_env, R->d.home) == 0) {
		for (i = 0; dbs[i]; i++)
			n += camp_dbi(dbs[i], &dbi) == 0;
		all = (size_t)n == i;
	}
	return rtxn_begin(txn);
}

size_t
camp_gen(void)
{
	return store_ro_gen(&camp_env, R->d.home);
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

int
camp_has(const char *db, const char *key)
{
	MDB_txn *txn;
	msgpack_unpacked up;
	int ok;

	if (camp_rtxn(&txn) == -1)
		return 0;
	msgpack_unpacked_init(&up);
	ok = camp_doc(txn, db, key, &up) == 0;
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(txn);
	return ok;
}

/*
 * A campaign's document; for a reusable number's own queue
 * ("@<channel>:<addr>", camp_lookup) its unsolicited settings, whose
 * "teams" act as a campaign's and whose "agents" are its members.
 */
static int
get_doc(MDB_txn *txn, const char *name, msgpack_unpacked *up)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	size_t off = 0;

	if (name[0] == '@')
		return camp_doc(txn, "unsolicited", name + 1, up);
	if (mdb_get(txn, db_campaigns, &k, &v) != 0)
		return -1;
	if (msgpack_unpack_next(up, v.mv_data, v.mv_size, &off) !=
	    MSGPACK_UNPACK_SUCCESS || up->data.type != MSGPACK_OBJECT_MAP)
		return -1;
	return 0;
}

/* A number's unsolicited settings' (key "<channel>:<addr>") agents into
 * a list; 0 when none. */
static int
unsol_agent(MDB_txn *txn, const char *key, const char *agent)
{
	msgpack_unpacked up;
	const msgpack_object *a;
	uint32_t i;
	int found = 0;

	msgpack_unpacked_init(&up);
	if (camp_doc(txn, "unsolicited", key, &up) == 0 &&
	    (a = mp_get(&up.data, "agents")) != NULL &&
	    a->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < a->via.array.size && !found; i++)
			found = a->via.array.ptr[i].type ==
			    MSGPACK_OBJECT_STR &&
			    a->via.array.ptr[i].via.str.size == strlen(agent) &&
			    memcmp(a->via.array.ptr[i].via.str.ptr, agent,
			    strlen(agent)) == 0;
	msgpack_unpacked_destroy(&up);
	return found;
}

static void	unsolicited(MDB_txn *, const char *, char *, size_t);

int
camp_unsolicited(enum chan ch, const char *addr, char *campaign, size_t sz)
{
	char key[160], out[64] = "";
	MDB_txn *txn;

	if (camp_rtxn(&txn) == -1)
		return 0;
	snprintf(key, sizeof(key), "%s:%s", rs_chan_name(ch), addr);
	unsolicited(txn, key, out, sizeof(out));
	mdb_txn_abort(txn);
	if (out[0] == '\0')
		return 0;
	snprintf(campaign, sz, "%s", out);
	return 1;
}

void
camp_archived(size_t max, void (*cb)(const char *, void *), void *arg)
{
	char name[64], state[16];
	msgpack_unpacked up;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	size_t n = 0, off;
	int rc;

	if (camp_rtxn(&txn) == -1)
		return;
	if (mdb_cursor_open(txn, db_campaigns, &cur) != 0) {
		mdb_txn_abort(txn);
		return;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < max;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size == 0 || k.mv_size >= sizeof(name))
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		off = 0;
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) ==
		    MSGPACK_UNPACK_SUCCESS && mp_strcpy(&up.data, "state",
		    state, sizeof(state)) && strcmp(state, "archived") == 0) {
			cb(name, arg);
			n++;
		}
		msgpack_unpacked_destroy(&up);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
}

/*
 * No active campaign owns the number key ("<channel>:<addr>"): its
 * unsolicited settings say who receives (campaignd_unsolicited.c): the
 * campaign named when it is live, else with teams or agents the number's
 * own queue "@<key>", else "default" (campaign left as it is).
 */
static void
unsolicited(MDB_txn *txn, const char *key, char *campaign, size_t sz)
{
	msgpack_unpacked up;
	const msgpack_object *t, *a;
	char camp[64];

	msgpack_unpacked_init(&up);
	if (camp_doc(txn, "unsolicited", key, &up) == 0) {
		if (mp_strcpy(&up.data, "campaign", camp, sizeof(camp)) &&
		    camp[0] && camp_live(camp, NULL, 0))
			snprintf(campaign, sz, "%s", camp);
		else if (((t = mp_get(&up.data, "teams")) != NULL &&
		    t->type == MSGPACK_OBJECT_ARRAY && t->via.array.size > 0) ||
		    ((a = mp_get(&up.data, "agents")) != NULL &&
		    a->type == MSGPACK_OBJECT_ARRAY && a->via.array.size > 0)) {
			if (strlen(key) + 1 < sz)	/* else it cannot be named */
				snprintf(campaign, sz, "@%s", key);
		}
	}
	msgpack_unpacked_destroy(&up);
}

void
camp_lookup(enum chan ch, const char *addr, char *campaign, size_t sz)
{
	char key[160];
	MDB_txn *txn;
	MDB_val k, v;

	snprintf(campaign, sz, "default");
	if (camp_rtxn(&txn) == -1)
		return;
	/* "<channel>:<addr>" -> campaign */
	snprintf(key, sizeof(key), "%s:%s", rs_chan_name(ch), addr);
	k.mv_size = strlen(key);
	k.mv_data = key;
	if (mdb_get(txn, db_addr, &k, &v) == 0 && v.mv_size > 0 &&
	    v.mv_size < sz) {
		memcpy(campaign, v.mv_data, v.mv_size);
		campaign[v.mv_size] = '\0';
	} else
		unsolicited(txn, key, campaign, sz);
	mdb_txn_abort(txn);
}

void
camp_get(const char *name, struct camp *c)
{
	MDB_txn *txn;
	msgpack_unpacked up;
	const msgpack_object *o;
	char op[8];
	int64_t v;
	int b;

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	/* defaults match campaignd's for a campaign created with no options */
	c->enabled = 1;
	snprintf(c->strategy, sizeof(c->strategy), "ringall");
	c->max_interactions = 3;
	c->offer_timeout_s = 30;
	c->operator_ = CM_AGENT;
	snprintf(c->idk_mode, sizeof(c->idk_mode), "agent");
	snprintf(c->timezone, sizeof(c->timezone), "UTC");
	c->response_threshold_s = 60;
	c->sl_s = 60;
	c->dropout_s = 300;
	snprintf(c->state, sizeof(c->state), "active");
	if (strcmp(name, "default") == 0 || camp_rtxn(&txn) == -1)
		return;
	msgpack_unpacked_init(&up);
	if (get_doc(txn, name, &up) == 0) {
		const msgpack_object *d = &up.data;

		c->exists = 1;
		if (mp_bool(d, "enabled", &b))
			c->enabled = b;
		mp_strcpy(d, "strategy", c->strategy, sizeof(c->strategy));
		mp_strcpy(d, "state", c->state, sizeof(c->state));
		if (mp_int(d, "max_interactions", &v) && v > 0)
			c->max_interactions = (int)v;
		if (mp_int(d, "offer_timeout_s", &v) && v > 0)
			c->offer_timeout_s = (int)v;
		if (mp_int(d, "wrapup_s", &v) && v >= 0)
			c->wrapup_s = (int)v;
		if (mp_strcpy(d, "operator", op, sizeof(op)) &&
		    strcmp(op, "bot") == 0)
			c->operator_ = CM_BOT;
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
		if ((o = mp_get(d, "thresholds")) != NULL) {
			if (mp_int(o, "service_level_s", &v) && v >= 0 &&
			    v <= INT32_MAX)
				c->sl_s = (int)v;
			if (mp_int(o, "dropout_s", &v) && v >= 0 &&
			    v <= INT32_MAX)
				c->dropout_s = (int)v;
		}
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

int
camp_disposition(const char *campaign, const char *disp)
{
	MDB_txn *txn;
	msgpack_unpacked up;
	const msgpack_object *a, *p;
	size_t dl = strlen(disp);
	uint32_t i;
	int ok = 0;

	if (camp_rtxn(&txn) == -1)
		return 0;
	msgpack_unpacked_init(&up);
	if (get_doc(txn, campaign, &up) == 0 &&
	    (a = mp_get(&up.data, "dispositions")) != NULL &&
	    a->type == MSGPACK_OBJECT_ARRAY) {
		for (i = 0; i < a->via.array.size && !ok; i++) {
			p = &a->via.array.ptr[i];
			if (p->type != MSGPACK_OBJECT_STR ||
			    p->via.str.size == 0 || p->via.str.size > dl ||
			    memcmp(p->via.str.ptr, disp, p->via.str.size) != 0)
				continue;
			ok = p->via.str.size == dl ||
			    disp[p->via.str.size] == '/';
		}
	}
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(txn);
	return ok;
}

int
camp_provisioned(const char *campaign, enum chan ch, const char *addr)
{
	MDB_txn *txn;
	msgpack_unpacked up;
	const msgpack_object *a, *e;
	char ad[R_ADDRLEN], mode[16];
	uint32_t i;
	int yes = 0;

	if (camp_rtxn(&txn) == -1)
		return 0;
	msgpack_unpacked_init(&up);
	if (get_doc(txn, campaign, &up) == 0 &&
	    (a = mp_get(mp_get(mp_get(&up.data, "channels"),
	    rs_chan_name(ch)), "addresses")) != NULL &&
	    a->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < a->via.array.size && !yes; i++) {
			e = &a->via.array.ptr[i];
			yes = mp_strcpy(e, "addr", ad, sizeof(ad)) &&
			    strcmp(ad, addr) == 0 &&
			    mp_strcpy(e, "mode", mode, sizeof(mode)) &&
			    strcmp(mode, "provisioned") == 0;
		}
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(txn);
	return yes;
}

int
camp_live(const char *campaign, char *why, size_t whysz)
{
	struct camp c;

	camp_get(campaign, &c);
	if (!c.exists || strcmp(c.state, "active") == 0)
		return 1;
	if (why == NULL)
		return 0;
	if (strcmp(c.state, "archived") == 0)
		snprintf(why, whysz, "campaign %s has ended (archived): nothing "
		    "more is sent in its name", campaign);
	else
		snprintf(why, whysz, "campaign %s is %s: nothing is sent in "
		    "its name until it is launched", campaign,
		    strcmp(c.state, "scheduled") == 0 ? "scheduled, not "
		    "launched yet" : "a draft");
	return 0;
}

void
camp_check(const char *campaign, enum chan c, char *why, size_t sz)
{
	const char *channel = rs_chan_name(c);
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

/*
 * The first of campaign's teams (in its order) that agent is in, into team;
 * 1, or 0 when it is in none of them.  A campaign's teams act: their agents
 * are its members, with the team's defaults, unless a personal membership
 * says otherwise (campaignd's members_effective is the same rule).
 */
static int
team_of(MDB_txn *txn, const char *campaign, const char *agent, char *team,
    size_t teamsz)
{
	msgpack_unpacked cu, au;
	const msgpack_object *ct, *at;
	uint32_t i, j;
	int found = 0;

	msgpack_unpacked_init(&cu);
	msgpack_unpacked_init(&au);
	if (get_doc(txn, campaign, &cu) == -1 ||
	    (ct = mp_get(&cu.data, "teams")) == NULL ||
	    ct->type != MSGPACK_OBJECT_ARRAY || ct->via.array.size == 0 ||
	    camp_doc(txn, "agents", agent, &au) == -1 ||
	    (at = mp_get(&au.data, "teams")) == NULL ||
	    at->type != MSGPACK_OBJECT_ARRAY)
		goto out;
	for (i = 0; i < ct->via.array.size && !found; i++) {
		const msgpack_object *t = &ct->via.array.ptr[i];

		if (t->type != MSGPACK_OBJECT_STR)
			continue;
		for (j = 0; j < at->via.array.size; j++) {
			const msgpack_object *u = &at->via.array.ptr[j];

			if (u->type == MSGPACK_OBJECT_STR &&
			    u->via.str.size == t->via.str.size &&
			    memcmp(u->via.str.ptr, t->via.str.ptr,
			    t->via.str.size) == 0 && t->via.str.size < teamsz) {
				memcpy(team, t->via.str.ptr, t->via.str.size);
				team[t->via.str.size] = '\0';
				found = 1;
				break;
			}
		}
	}
out:
	msgpack_unpacked_destroy(&cu);
	msgpack_unpacked_destroy(&au);
	return found;
}

/* A team's member defaults (penalty, receive, create: 0, yes, yes). */
static void
team_defaults(MDB_txn *txn, const char *team, int64_t *penalty, int *receive,
    int *create)
{
	msgpack_unpacked up;
	int b;

	*penalty = 0;
	*receive = *create = 1;
	msgpack_unpacked_init(&up);
	if (camp_doc(txn, "teams", team, &up) == 0) {
		mp_int(&up.data, "penalty", penalty);
		if (mp_bool(&up.data, "receive", &b))
			*receive = b;
		if (mp_bool(&up.data, "create", &b))
			*create = b;
	}
	msgpack_unpacked_destroy(&up);
}

int
camp_member(const char *campaign, const char *agent, int *receive,
    int *create)
{
	char key[160], team[64];
	MDB_txn *txn;
	msgpack_unpacked up;
	int found = 0, b;

	if (receive)
		*receive = 0;
	if (create)
		*create = 0;
	if (camp_rtxn(&txn) == -1)
		return 0;
	/* "<campaign>/<agent>" */
	snprintf(key, sizeof(key), "%s/%s", campaign, agent);
	msgpack_unpacked_init(&up);
	if (camp_doc(txn, "members", key, &up) == 0) {
		found = 1;
		if (receive)
			*receive = !mp_bool(&up.data, "receive", &b) || b;
		if (create)
			*create = !mp_bool(&up.data, "create", &b) || b;
	} else if (campaign[0] == '@' && unsol_agent(txn, campaign + 1,
	    agent)) {
		found = 1;		/* a number's own agent: receives */
		if (receive)
			*receive = 1;
		if (create)
			*create = 1;
	} else if (team_of(txn, campaign, agent, team, sizeof(team))) {
		int64_t pen;
		int rcv, crt;

		found = 1;
		team_defaults(txn, team, &pen, &rcv, &crt);
		if (receive)
			*receive = rcv;
		if (create)
			*create = crt;
	}
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(txn);
	return found;
}

/*
 * After campaign's n own members: the agents of its teams who are not
 * members themselves, each with a member document made of its team's
 * defaults and the next position.
 */
static void
team_members(MDB_txn *txn, const char *campaign, size_t n, size_t max,
    camp_member_cb cb, void *arg)
{
	char agent[64], team[64], key[160];
	MDB_dbi adb, mdb;
	MDB_cursor *cur;
	MDB_val k, v, mk, mv;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	int64_t pen;
	int rcv, crt, rc;
	size_t off;

	if (camp_dbi("agents", &adb) == -1 || camp_dbi("members", &mdb) == -1 ||
	    mdb_cursor_open(txn, adb, &cur) != 0)
		return;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < max;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size == 0 || k.mv_size >= sizeof(agent))
			continue;
		memcpy(agent, k.mv_data, k.mv_size);
		agent[k.mv_size] = '\0';
		snprintf(key, sizeof(key), "%s/%s", campaign, agent);
		mk.mv_size = strlen(key);
		mk.mv_data = key;
		if (mdb_get(txn, mdb, &mk, &mv) == 0)
			continue;		/* a personal membership */
		if (!team_of(txn, campaign, agent, team, sizeof(team)))
			continue;
		team_defaults(txn, team, &pen, &rcv, &crt);
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 5);
		mp_kv_int(&pk, "position", (int64_t)++n);
		mp_kv_int(&pk, "penalty", pen);
		mp_kv_bool(&pk, "receive", rcv);
		mp_kv_bool(&pk, "create", crt);
		mp_kv_str(&pk, "team", team);
		off = 0;
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, sb.data, sb.size, &off) ==
		    MSGPACK_UNPACK_SUCCESS)
			cb(agent, &up.data, arg);
		msgpack_unpacked_destroy(&up);
		msgpack_sbuffer_destroy(&sb);
	}
	mdb_cursor_close(cur);
}

/* The agents a number's unsolicited settings name (key "<channel>:<addr>"),
 * as members who receive; n so far, the new count returned. */
static size_t
unsol_members(MDB_txn *txn, const char *key, size_t n, size_t max,
    camp_member_cb cb, void *arg)
{
	msgpack_unpacked up, mu;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const msgpack_object *a;
	char agent[64];
	uint32_t i;
	size_t off;

	msgpack_unpacked_init(&up);
	if (camp_doc(txn, "unsolicited", key, &up) == 0 &&
	    (a = mp_get(&up.data, "agents")) != NULL &&
	    a->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < a->via.array.size && n < max; i++) {
			if (a->via.array.ptr[i].type != MSGPACK_OBJECT_STR ||
			    a->via.array.ptr[i].via.str.size >= sizeof(agent))
				continue;
			memcpy(agent, a->via.array.ptr[i].via.str.ptr,
			    a->via.array.ptr[i].via.str.size);
			agent[a->via.array.ptr[i].via.str.size] = '\0';
			msgpack_sbuffer_init(&sb);
			msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
			msgpack_pack_map(&pk, 4);
			mp_kv_int(&pk, "position", (int64_t)++n);
			mp_kv_int(&pk, "penalty", 0);
			mp_kv_bool(&pk, "receive", 1);
			mp_kv_bool(&pk, "create", 1);
			off = 0;
			msgpack_unpacked_init(&mu);
			if (msgpack_unpack_next(&mu, sb.data, sb.size, &off) ==
			    MSGPACK_UNPACK_SUCCESS)
				cb(agent, &mu.data, arg);
			msgpack_unpacked_destroy(&mu);
			msgpack_sbuffer_destroy(&sb);
		}
	msgpack_unpacked_destroy(&up);
	return n;
}

void
camp_members(const char *campaign, size_t max, camp_member_cb cb, void *arg)
{
	char prefix[80], agent[64];
	size_t pl, n = 0;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (strcmp(campaign, "default") == 0 || camp_rtxn(&txn) == -1)
		return;
	pl = (size_t)snprintf(prefix, sizeof(prefix), "%s/", campaign);
	if (camp_dbi("members", &dbi) == -1 ||
	    mdb_cursor_open(txn, dbi, &cur) != 0) {
		mdb_txn_abort(txn);
		return;
	}
	k.mv_size = pl;
	k.mv_data = prefix;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == 0 && n < max;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		msgpack_unpacked up;
		size_t off = 0;

		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0)
			break;
		if (k.mv_size - pl >= sizeof(agent))
			continue;
		memcpy(agent, (char *)k.mv_data + pl, k.mv_size - pl);
		agent[k.mv_size - pl] = '\0';
		msgpack_unpacked_init(&up);
		cb(agent, msgpack_unpack_next(&up, v.mv_data, v.mv_size,
		    &off) == MSGPACK_UNPACK_SUCCESS ? &up.data : NULL, arg);
		msgpack_unpacked_destroy(&up);
		n++;
	}
	mdb_cursor_close(cur);
	if (campaign[0] == '@')
		n = unsol_members(txn, campaign + 1, n, max, cb, arg);
	team_members(txn, campaign, n, max, cb, arg);
	mdb_txn_abort(txn);
}

int
camp_blacklist(MDB_txn *txn, const char *scope, const char *contact,
    msgpack_unpacked *up)
{
	char key[64 + R_ADDRLEN + 2];

	/* "<campaign or *>/<contact>" */
	snprintf(key, sizeof(key), "%s/%s", scope, contact);
	return camp_doc(txn, "blacklist", key, up);
}

int
camp_wtemplate(MDB_txn *txn, const char *name, const char *lang,
    msgpack_unpacked *up)
{
	char key[200];

	/* "<name>/<lang>" */
	snprintf(key, sizeof(key), "%s/%s", name, lang);
	return camp_doc(txn, "wtemplates", key, up);
}

int
camp_contact_name(MDB_txn *txn, const char *contact, char *name,
    size_t namesz)
{
	char norm[R_ADDRLEN + 1], id[128];
	msgpack_unpacked up;
	int rc = -1;

	if (strchr(contact, '@'))
		valid_contact_key(contact, norm, sizeof(norm));
	else if (contact[0] != '+' && isdigit((unsigned char)contact[0]))
		snprintf(norm, sizeof(norm), "+%s", contact);
	else
		snprintf(norm, sizeof(norm), "%s", contact);
	if (camp_contact_id(txn, strchr(contact, '@') ? "cemail" : "cphone",
	    norm, id, sizeof(id)) != 0)
		return -1;
	msgpack_unpacked_init(&up);
	if (camp_doc(txn, "contacts", id, &up) == 0 &&
	    mp_strcpy(&up.data, "name", name, namesz) && name[0])
		rc = 0;
	msgpack_unpacked_destroy(&up);
	return rc;
}

int
camp_contact_id(MDB_txn *txn, const char *index, const char *addr, char *id,
    size_t idsz)
{
	MDB_dbi dbi;
	MDB_val k = { strlen(addr), (void *)addr }, v;

	if (k.mv_size == 0 || camp_dbi(index, &dbi) != 0 ||
	    mdb_get(txn, dbi, &k, &v) != 0 || v.mv_size >= idsz)
		return -1;
	memcpy(id, v.mv_data, v.mv_size);
	id[v.mv_size] = '\0';
	return 0;
}
