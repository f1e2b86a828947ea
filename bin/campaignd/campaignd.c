/*
 * campaignd — owner of campaign configuration and the global resources
 * (agents, teams, members, canned responses, templates, dispositions, agent
 * statuses, quality models, holidays, blacklist, contacts).
 *
 * It answers msg's {t:"cfg"} requests on campaignd.sock: the caller's role
 * comes from SO_PEERCRED (root and campaignd's own user are admins; other
 * Unix users are whatever agent maps to them), writes need the admin role,
 * every write is validated and applied whole in a nested transaction of the
 * group-commit batch, and answered after the fsync.  routerd reads the same
 * LMDB environment read-only.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "conf.h"
#include "frame.h"
#include "held.h"
#include "log.h"
#include "mp.h"
#include "proto.h"
#include "rec.h"
#include "campaignd.h"

struct campaignd *C;

static const struct ckind kinds[] = {
	{ "campaign", NULL, campaign_op },
	{ "agent", NULL, agent_op },
	{ "team", NULL, team_op },
	{ "member", NULL, member_op },
	{ "canned", NULL, canned_op },
	{ "template", NULL, template_op },
	{ "wtemplate", NULL, wtemplate_op },
	{ "disposition", NULL, disposition_op },
	{ "statusdef", NULL, statusdef_op },
	{ "qa", NULL, qa_op },
	{ "holiday", NULL, holiday_op },
	{ "blacklist", NULL, blacklist_op },
	{ "contact", NULL, contact_op },
};

json_t *
cts(long long ms)
{
	char buf[32];

	rec_ts_format(ms, buf);
	return json_string(buf);
}

/* clients: a bus_caller each, held while answers wait on it */

static void
on_up(struct bus_conn *c, void *arg)
{
	if (bus_caller_attach(c, sizeof(struct bus_caller)) == NULL)
		bus_drop(c, "out of memory");
}

static void
on_down(struct bus_conn *c, void *arg)
{
	struct bus_caller *cl = bus_data(c);

	if (cl != NULL)
		bus_caller_detach(cl);
}

enum role
role_of(struct bus_conn *c, char *who, size_t whosz)
{
	uid_t uid;
	struct passwd *pw;
	char agent[80];
	json_t *doc = NULL;
	MDB_txn *txn;
	enum role role = ROLE_NONE;
	const char *r;

	if (bus_peer(c, &uid, NULL, NULL) == -1) {
		snprintf(who, whosz, "unknown");
		return ROLE_NONE;
	}
	if (uid == 0 || uid == geteuid()) {
		snprintf(who, whosz, "uid %u", (unsigned)uid);
		return ROLE_ADMIN;
	}
	snprintf(who, whosz, "uid %u", (unsigned)uid);
	if ((pw = getpwuid(uid)) == NULL)
		return ROLE_NONE;
	if (store_rtxn(C->st, &txn) != 0)
		return ROLE_NONE;
	if (cdb_iget(txn, C->db_agentuser, pw->pw_name, agent,
	    sizeof(agent)) == 0 &&
	    cdb_get(txn, C->db_agents, agent, &doc) == 0) {
		snprintf(who, whosz, "%s", agent);
		r = json_string_value(json_object_get(doc, "role"));
		if (r && strcmp(r, "admin") == 0)
			role = ROLE_ADMIN;
		else if (r && strcmp(r, "supervisor") == 0)
			role = ROLE_SUPERVISOR;
		else
			role = ROLE_AGENT;
		json_decref(doc);
	}
	mdb_txn_abort(txn);
	return role;
}

/* answers: a write's after the commit (lib/held), a read's at once */

void
creq_ok(struct creq *r, json_t *obj)
{
	struct held *h;
	msgpack_packer *pk;
	const char *k;
	json_t *v;
	int rc;

	if (r->done)
		fatalx("request answered twice");
	r->done = 1;
	h = held_new(r->cl, r->re);
	pk = held_ok(h, obj ? json_object_size(obj) : 0);
	if (obj) {
		json_object_foreach(obj, k, v) {
			mp_pack_cstr(pk, k);
			if (rec_pack_json(pk, v) == -1)
				msgpack_pack_nil(pk);
		}
		json_decref(obj);
	}
	if (held_fits(h) == -1) {
		held_free(h);
		r->done = 0;
		creq_err(r, "invalid", "answer over 1 MiB; narrow the request");
		return;
	}
	if (r->write && r->txn) {
		if ((rc = mdb_txn_commit(r->txn)) != 0) {
			r->txn = NULL;
			log_warnx("%s %s: commit: %s", r->kind, r->op,
			    mdb_strerror(rc));
			held_free(h);
			r->done = 0;
			creq_err(r, "store", "%s", mdb_strerror(rc));
			return;
		}
		r->txn = NULL;
		/* answered only once the batch is on disk */
		held_after(h, C->st);
		return;
	}
	held_now(h);
}

void
creq_err(struct creq *r, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (r->done)
		fatalx("request answered twice");
	r->done = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->write && r->txn) {
		mdb_txn_abort(r->txn);	/* nothing half applied */
		r->txn = NULL;
	}
	bus_caller_refuse(r->cl, r->re, code, "%s", msg);
}

int
creq_need(struct creq *r, enum role need)
{
	if (r->role >= need)
		return 0;
	creq_err(r, "denied", "%s %s needs the %s role (you are %s)", r->kind,
	    r->op, need == ROLE_ADMIN ? "admin" : need == ROLE_SUPERVISOR ?
	    "supervisor" : "agent", r->who);
	return -1;
}

int
creq_begin(struct creq *r)
{
	MDB_txn *parent;
	int rc;

	if (creq_need(r, ROLE_ADMIN) == -1)
		return -1;
	if (r->txn && !r->write) {
		mdb_txn_abort(r->txn);
		r->txn = NULL;
	}
	if ((parent = store_txn(C->st)) == NULL) {
		creq_err(r, "store", "%s", store_error(C->st));
		return -1;
	}
	if ((rc = mdb_txn_begin(store_env(C->st), parent, 0, &r->txn)) != 0) {
		r->txn = NULL;
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return -1;
	}
	r->write = 1;
	return 0;
}

struct creq *
creq_keep(struct creq *r)
{
	struct creq *k;

	if ((k = malloc(sizeof(*k))) == NULL)
		fatalx("out of memory");
	*k = *r;
	json_incref(k->args);
	bus_caller_hold(k->cl);
	if (k->txn && !k->write)
		mdb_txn_abort(k->txn);
	k->txn = NULL;
	r->done = 1;		/* the original frame's handler is finished */
	r->txn = NULL;
	return k;
}

void
creq_release(struct creq *k)
{
	if (k->txn) {
		if (k->write)
			mdb_txn_abort(k->txn);
		else
			mdb_txn_abort(k->txn);
	}
	json_decref(k->args);
	bus_caller_release(k->cl);
	free(k);
}

/* arguments */

json_t *
arg(struct creq *r, const char *key)
{
	return json_object_get(r->args, key);
}

const char *
arg_str(struct creq *r, const char *key)
{
	return json_string_value(json_object_get(r->args, key));
}

int
arg_bool(struct creq *r, const char *key, int def)
{
	json_t *v = json_object_get(r->args, key);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

/* documents */

int
cdb_get(MDB_txn *txn, MDB_dbi dbi, const char *key, json_t **doc)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	msgpack_unpacked up;
	size_t off = 0;
	int rc;

	*doc = NULL;
	if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
		return rc;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) ==
	    MSGPACK_UNPACK_SUCCESS)
		*doc = rec_to_json(&up.data);
	msgpack_unpacked_destroy(&up);
	return *doc ? 0 : MDB_CORRUPTED;
}

int
cdb_put(MDB_txn *txn, MDB_dbi dbi, const char *key, const json_t *doc)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc;

	if (k.mv_size == 0 || k.mv_size > 500)
		return MDB_BAD_VALSIZE;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (rec_pack_json(&pk, doc) == -1) {
		msgpack_sbuffer_destroy(&sb);
		return MDB_BAD_VALSIZE;
	}
	v.mv_size = sb.size;
	v.mv_data = sb.data;
	rc = mdb_put(txn, dbi, &k, &v, 0);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

int
cdb_del(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
	MDB_val k = { strlen(key), (void *)key };

	return mdb_del(txn, dbi, &k, NULL);
}

int
cdb_exists(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
	MDB_val k = { strlen(key), (void *)key }, v;

	return mdb_get(txn, dbi, &k, &v) == 0;
}

int
cdb_iput(MDB_txn *txn, MDB_dbi dbi, const char *key, const char *val)
{
	MDB_val k = { strlen(key), (void *)key }, v = { strlen(val),
	    (void *)val };

	if (k.mv_size == 0 || k.mv_size > 500)
		return MDB_BAD_VALSIZE;
	return mdb_put(txn, dbi, &k, &v, 0);
}

int
cdb_iget(MDB_txn *txn, MDB_dbi dbi, const char *key, char *val,
    size_t valsz)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc;

	if (k.mv_size == 0 || k.mv_size > 500)
		return MDB_NOTFOUND;
	if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
		return rc;
	if (v.mv_size >= valsz)
		return MDB_BAD_VALSIZE;
	memcpy(val, v.mv_data, v.mv_size);
	val[v.mv_size] = '\0';
	return 0;
}

#define LIST_BYTES	(700 * 1024)

void
cdb_list(struct creq *r, MDB_dbi dbi, const char *prefix, cdb_filter keep,
    void *karg)
{
	const char *after = arg_str(r, "after");
	json_int_t limit = json_integer_value(arg(r, "limit"));
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *items = json_array(), *ans, *doc;
	size_t bytes = 0, pl = prefix ? strlen(prefix) : 0;
	char last[512] = "";
	int rc, more = 0;

	if (limit <= 0 || limit > 100000)
		limit = 100000;
	if ((rc = mdb_cursor_open(r->txn, dbi, &cur)) != 0) {
		json_decref(items);
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return;
	}
	if (after && *after) {
		k.mv_size = strlen(after);
		k.mv_data = (void *)after;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && k.mv_size == strlen(after) &&
		    memcmp(k.mv_data, after, k.mv_size) == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	} else if (pl) {
		k.mv_size = pl;
		k.mv_data = (void *)prefix;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	} else
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		msgpack_unpacked up;
		size_t off = 0;

		if (pl && (k.mv_size < pl || memcmp(k.mv_data, prefix, pl)))
			break;
		if ((json_int_t)json_array_size(items) >= limit ||
		    bytes + v.mv_size > LIST_BYTES) {
			more = 1;
			break;
		}
		msgpack_unpacked_init(&up);
		doc = NULL;
		if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) ==
		    MSGPACK_UNPACK_SUCCESS)
			doc = rec_to_json(&up.data);
		msgpack_unpacked_destroy(&up);
		if (doc == NULL)
			continue;
		if (k.mv_size < sizeof(last)) {
			memcpy(last, k.mv_data, k.mv_size);
			last[k.mv_size] = '\0';
		}
		if (keep && !keep(r, doc, karg)) {
			json_decref(doc);
			continue;
		}
		bytes += v.mv_size + v.mv_size / 2;
		json_array_append_new(items, doc);
	}
	mdb_cursor_close(cur);
	ans = json_pack("{s:o,s:b}", "items", items, "more", more);
	if (more)
		json_object_set_new(ans, "next", json_string(last));
	creq_ok(r, ans);
}

void
cdb_show(struct creq *r, MDB_dbi dbi, const char *what)
{
	json_t *doc;

	if (r->name == NULL || *r->name == '\0') {
		creq_err(r, "invalid", "%s: a name is required", what);
		return;
	}
	if (cdb_get(r->txn, dbi, r->name, &doc) != 0) {
		creq_err(r, "notfound", "no %s named \"%s\"", what, r->name);
		return;
	}
	creq_ok(r, json_pack("{s:o}", "doc", doc));
}

/* dispatch */

static void
on_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	struct bus_caller *cl = bus_data(c);
	struct creq r;
	const struct ckind *k = NULL;
	int64_t id;
	size_t i;
	int rc;

	if (cl == NULL)
		return;
	if (!mp_int(f, "id", &id)) {
		bus_drop(c, "request without id");
		return;
	}
	if (!bus_check_peer(c, f))
		return;
	if (proto_type(f) == PT_PING) {
		struct fbuf fb;

		fbuf_init(&fb);
		bus_answer_begin(&fb, id, 0);
		bus_send(c, &fb);
		fbuf_free(&fb);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.c = c;
	r.cl = cl;
	r.re = id;
	if (proto_type(f) != PT_CFG) {
		bus_answer_err(c, id, "unknown", "unknown request type");
		return;
	}
	if ((r.args = rec_to_json(f)) == NULL) {
		bus_answer_err(c, id, "invalid", "unreadable request");
		return;
	}
	r.kind = json_string_value(json_object_get(r.args, "kind"));
	r.op = json_string_value(json_object_get(r.args, "op"));
	r.name = json_string_value(json_object_get(r.args, "name"));
	for (i = 0; r.kind && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, r.kind) == 0)
			k = &kinds[i];
	if (k == NULL || r.op == NULL) {
		bus_answer_err(c, id, "invalid", k ? "op is required" :
		    "unknown kind");
		json_decref(r.args);
		return;
	}
	r.role = role_of(c, r.who, sizeof(r.who));
	if (r.role == ROLE_NONE) {
		bus_answer_err(c, id, "denied", "you are not a parley agent; "
		    "an admin adds you with msg agent add");
		json_decref(r.args);
		return;
	}
	/* reads run in a read transaction; writes switch with creq_begin */
	if ((rc = store_rtxn(C->st, &r.txn)) != 0) {
		bus_answer_err(c, id, "store", mdb_strerror(rc));
		json_decref(r.args);
		return;
	}
	k->op(&r);
	if (!r.done)
		creq_err(&r, "invalid", "%s: unknown operation \"%s\"",
		    r.kind, r.op);
	if (r.txn)
		mdb_txn_abort(r.txn);
	json_decref(r.args);
}

static const struct bus_handlers handlers = {
	.frame = on_frame,
	.up = on_up,
	.down = on_down,
};

static const struct bus_handlers router_handlers = { 0 };

static void
on_term(struct daemon *d)
{
	bus_server_stop(C->srv);
	store_commit(C->st);
	daemon_stop(d);
}

/* SIGHUP: a raised store_map_max_mb lets writes through again. */
static void
on_hup(struct daemon *d)
{
	char err[512];
	long long mmax;

	if (conf_int(d->conf, "store_map_max_mb", 1, 1 << 24, &mmax, err,
	    sizeof(err)) == -1) {
		log_warnx("reload: %s; the previous value stays", err);
		return;
	}
	store_set_max(C->st, (size_t)mmax << 20);
}

int
main(int argc, char *argv[])
{
	static struct campaignd c;
	char path[4096], err[1024];
	long long msz, mmax;
	struct store_db dbs[] = {
		{ "campaigns", 0, &c.db_campaigns },
		{ "addr", 0, &c.db_addr },
		{ "agents", 0, &c.db_agents },
		{ "agentuser", 0, &c.db_agentuser },
		{ "teams", 0, &c.db_teams },
		{ "members", 0, &c.db_members },
		{ "canned", 0, &c.db_canned },
		{ "templates", 0, &c.db_templates },
		{ "wtemplates", 0, &c.db_wtemplates },
		{ "dispositions", 0, &c.db_dispositions },
		{ "statusdefs", 0, &c.db_statusdefs },
		{ "qa", 0, &c.db_qa },
		{ "holidays", 0, &c.db_holidays },
		{ "blacklist", 0, &c.db_blacklist },
		{ "bhist", 0, &c.db_bhist },
		{ "contacts", 0, &c.db_contacts },
		{ "cphone", MDB_DUPSORT, &c.db_cphone },
		{ "cemail", MDB_DUPSORT, &c.db_cemail },
		{ "cname", MDB_DUPSORT, &c.db_cname },
		{ "meta", 0, &c.db_meta },
		{ NULL, 0, NULL },
	};

	C = &c;
	daemon_init(&c.d, "campaignd", argc, argv);
	if (conf_int(c.d.conf, "store_map_size_mb", 1, 1 << 20, &msz, err,
	    sizeof(err)) == -1 ||
	    conf_int(c.d.conf, "store_map_max_mb", 1, 1 << 24, &mmax, err,
	    sizeof(err)) == -1)
		log_exit(EX_CONFIG, "%s", err);
	if (c.d.check_only)
		daemon_checked(&c.d);
	daemon_path(&c.d, "db/campaignd", path, sizeof(path));
	if ((c.st = store_open(c.d.base, path, (size_t)msz << 20,
	    (size_t)mmax << 20, dbs, err, sizeof(err))) == NULL)
		log_exit(EX_TEMP, "%s", err);
	campaign_start();
	daemon_path(&c.d, "run/campaignd.sock", path, sizeof(path));
	if ((c.srv = bus_listen(c.d.base, path, &handlers, NULL, err,
	    sizeof(err))) == NULL)
		log_exit(EX_TEMP, "%s", err);
	bus_server_limit(c.srv, &c.d.bus);
	daemon_path(&c.d, "run/routerd.sock", path, sizeof(path));
	c.router = bus_client(c.d.base, path, "campaignd", &router_handlers,
	    NULL);
	c.d.on_term = on_term;
	c.d.on_hup = on_hup;
	log_info("serving");
	daemon_ready(&c.d);
	return daemon_run(&c.d);
}
