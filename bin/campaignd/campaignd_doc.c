/*
 * campaignd_doc — the request and the document store every kind module
 * works with: who is asking (role_of, from SO_PEERCRED and the agents
 * database), answering a request (creq_ok holds a write's answer until the
 * group commit is on disk, lib/held; creq_err aborts the nested
 * transaction), its arguments (arg_*), and documents as msgpack maps in
 * LMDB and JSON in C (cdb_*), with the generic list and show answers.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "held.h"
#include "log.h"
#include "mp.h"
#include "rec.h"
#include "campaignd.h"

json_t *
cts(long long ms)
{
	char buf[32];

	rec_ts_format(ms, buf);
	return json_string(buf);
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

/* Decode a stored msgpack value (NULL when unreadable). */
json_t *
cdb_doc(const MDB_val *v)
{
	msgpack_unpacked up;
	size_t off = 0;
	json_t *doc = NULL;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v->mv_data, v->mv_size, &off) ==
	    MSGPACK_UNPACK_SUCCESS)
		doc = rec_to_json(&up.data);
	msgpack_unpacked_destroy(&up);
	return doc;
}
