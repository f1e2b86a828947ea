/*
 * campaignd_list — contact lists: static lists of contacts from the contact
 * book, and segments (a filter on contact fields and tags, evaluated when
 * the list is walked).  Every operation is admin-only.
 *
 * Storage (see campaignd.h for the walk API the outbound run uses):
 *   lists   name -> {name, kind "static"|"segment", description, where,
 *           filter [{field, op, value}], count (static), created_ts,
 *           updated_ts, by}
 *   lmem    "<list>/<contact id>" -> "" : a static list's members, in
 *           contact-id order (ct_<ULID>, so oldest contact first)
 *   lrev    contact id -> list names (dupsort): so that deleting a contact
 *           takes it out of every list in the same transaction
 *   limp    import id -> {list, by, started_ts, touched_ts, rows}
 *   lstage  "<import id>/<phone>" -> {line, row}: rows of an import staged,
 *           validated, not yet visible
 *
 * An import of a file of any size: msg sends "import-begin" (an id), then
 * batches of rows ("import-rows": each row validated, a bad one reported by
 * its line number, the good ones staged under the import id), then
 * "import-commit", which in one transaction creates or updates the contacts
 * and adds them to the list, and drops the stage — or "import-abort".  Until
 * the commit nothing of the import is visible, and a failed commit applies
 * nothing.  Stages untouched for IMPORT_IDLE_MS (msg killed) are deleted at
 * the next import-begin.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <event2/event.h>

#include "log.h"
#include "rec.h"
#include "ulid.h"
#include "segment.h"
#include "valid.h"
#include "campaignd.h"

#define LIST_KEY_MAX	128		/* "<list>/<contact id>" */
#define DESC_MAX	500		/* characters of a description */
#define ROWS_MAX	5000		/* rows in one import-rows request */
#define PHONES_MAX	5000		/* numbers in one add or remove */
#define MEMBERS_PAGE	1000		/* contacts in one members answer */
#define IMPORT_IDLE_MS	(3600 * 1000LL)	/* an import's stage kept this long */
#define COMMIT_TRIES	10		/* map doublings a commit waits for */
#define ROW_BYTES	2048		/* map bytes a committed row may take:
					   contact, indexes, membership */

/* ------------------------------------------------------------ helpers */

/* "a, b, c" from an array of strings (cut at bufsz). */
static void
join(json_t *a, char *buf, size_t bufsz)
{
	json_t *e;
	size_t i, n;

	buf[0] = '\0';
	json_array_foreach(a, i, e) {
		n = strlen(buf);
		snprintf(buf + n, bufsz - n, "%s%s", i ? "; " : "",
		    json_string_value(e) ? json_string_value(e) : "?");
	}
}

/* Decode a stored msgpack value (NULL when unreadable). */
static json_t *
val_doc(const MDB_val *v)
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

static int
mem_key(char *buf, size_t bufsz, const char *list, const char *id)
{
	return (size_t)snprintf(buf, bufsz, "%s/%s", list, id) < bufsz ? 0 :
	    MDB_BAD_VALSIZE;
}

/* Add id to list: 1 added, 0 already there, or an LMDB error (< 0). */
static int
mem_add(MDB_txn *txn, const char *list, const char *id)
{
	char key[LIST_KEY_MAX];
	MDB_val k, v = { 0, "" }, rk, rv;
	int rc;

	if ((rc = mem_key(key, sizeof(key), list, id)) != 0)
		return rc;
	k.mv_size = strlen(key);
	k.mv_data = key;
	rc = mdb_put(txn, C->db_lmem, &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		return 0;
	if (rc != 0)
		return rc;
	rk.mv_size = strlen(id);
	rk.mv_data = (void *)id;
	rv.mv_size = strlen(list);
	rv.mv_data = (void *)list;
	rc = mdb_put(txn, C->db_lrev, &rk, &rv, MDB_NODUPDATA);
	return rc == 0 || rc == MDB_KEYEXIST ? 1 : rc;
}

/* Take id out of list: 1 removed, 0 was not there, or an LMDB error. */
static int
mem_del(MDB_txn *txn, const char *list, const char *id)
{
	char key[LIST_KEY_MAX];
	MDB_val k, rk, rv;
	int rc;

	if ((rc = mem_key(key, sizeof(key), list, id)) != 0)
		return 0;
	k.mv_size = strlen(key);
	k.mv_data = key;
	rc = mdb_del(txn, C->db_lmem, &k, NULL);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	rk.mv_size = strlen(id);
	rk.mv_data = (void *)id;
	rv.mv_size = strlen(list);
	rv.mv_data = (void *)list;
	rc = mdb_del(txn, C->db_lrev, &rk, &rv);
	return rc == 0 || rc == MDB_NOTFOUND ? 1 : rc;
}

/* Add n (may be negative) to a static list's count. */
static int
count_add(MDB_txn *txn, const char *list, long long n)
{
	json_t *doc;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = cdb_get(txn, C->db_lists, list, &doc)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	n += json_integer_value(json_object_get(doc, "count"));
	json_object_set_new(doc, "count", json_integer(n < 0 ? 0 : n));
	json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
	rc = cdb_put(txn, C->db_lists, list, doc);
	json_decref(doc);
	return rc;
}

/* --------------------------------------------------------------- walk */

int
list_get(MDB_txn *txn, const char *name, json_t **doc)
{
	if (name == NULL || *name == '\0' || strlen(name) > VALID_NAME_MAX)
		return MDB_NOTFOUND;
	return cdb_get(txn, C->db_lists, name, doc);
}

int
list_walk(MDB_txn *txn, const char *list, const char *after_key,
    list_walk_fn fn, void *arg, char *err, size_t errsz)
{
	char prefix[LIST_KEY_MAX], id[64];
	json_t *doc = NULL, *filter = NULL, *ct;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t pl;
	int rc, segment, stop = 0;

	if ((rc = list_get(txn, list, &doc)) != 0) {
		snprintf(err, errsz, rc == MDB_NOTFOUND ? "no contact list "
		    "named \"%.64s\"" : "list %.64s: %s", list ? list : "",
		    mdb_strerror(rc));
		return -1;
	}
	segment = strcmp(json_string_value(json_object_get(doc, "kind")) ?
	    json_string_value(json_object_get(doc, "kind")) : "", "segment")
	    == 0;
	filter = json_incref(json_object_get(doc, "filter"));
	json_decref(doc);
	if (segment) {
		snprintf(prefix, sizeof(prefix), "ct_");
		rc = mdb_cursor_open(txn, C->db_contacts, &cur);
	} else {
		snprintf(prefix, sizeof(prefix), "%s/", list);
		rc = mdb_cursor_open(txn, C->db_lmem, &cur);
	}
	if (rc != 0)
		goto store;
	pl = strlen(prefix);
	if (after_key && *after_key) {
		char start[LIST_KEY_MAX];

		if ((size_t)snprintf(start, sizeof(start), "%s%s", segment ?
		    "" : prefix, after_key) >= sizeof(start)) {
			snprintf(err, errsz, "resume key \"%.64s\" is too long",
			    after_key);
			mdb_cursor_close(cur);
			json_decref(filter);
			return -1;
		}
		k.mv_size = strlen(start);
		k.mv_data = start;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && k.mv_size == strlen(start) &&
		    memcmp(k.mv_data, start, k.mv_size) == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	} else {
		k.mv_size = pl;
		k.mv_data = prefix;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0)
			break;
		if (segment) {
			if (k.mv_size >= sizeof(id))
				continue;
			memcpy(id, k.mv_data, k.mv_size);
			id[k.mv_size] = '\0';
			if ((ct = val_doc(&v)) == NULL)
				continue;
			contact_names(ct);
			if (!segment_match(filter, ct)) {
				json_decref(ct);
				continue;
			}
		} else {
			if (k.mv_size - pl >= sizeof(id))
				continue;
			memcpy(id, (char *)k.mv_data + pl, k.mv_size - pl);
			id[k.mv_size - pl] = '\0';
			if (cdb_get(txn, C->db_contacts, id, &ct) != 0)
				continue;
			contact_names(ct);
		}
		stop = fn(arg, id, ct);
		json_decref(ct);
		if (stop != 0)
			break;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto store;
	mdb_cursor_close(cur);
	json_decref(filter);
	return stop;
store:
	if (cur)
		mdb_cursor_close(cur);
	json_decref(filter);
	snprintf(err, errsz, "list %.64s: %s", list, mdb_strerror(rc));
	return -1;
}

/* Take a contact being deleted out of every static list. */
int
list_forget(MDB_txn *txn, const char *id)
{
	MDB_cursor *cur;
	MDB_val k = { strlen(id), (void *)id }, v;
	char list[VALID_NAME_MAX + 1], key[LIST_KEY_MAX];
	int rc;

	if ((rc = mdb_cursor_open(txn, C->db_lrev, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		MDB_val mk;

		if (v.mv_size >= sizeof(list))
			continue;
		memcpy(list, v.mv_data, v.mv_size);
		list[v.mv_size] = '\0';
		if (mem_key(key, sizeof(key), list, id) != 0)
			continue;
		mk.mv_size = strlen(key);
		mk.mv_data = key;
		rc = mdb_del(txn, C->db_lmem, &mk, NULL);
		if (rc == 0)
			rc = count_add(txn, list, -1);
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	rc = mdb_del(txn, C->db_lrev, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ----------------------------------------------------------------- ops */

/* The list r names; NULL answered. */
static json_t *
load(struct creq *r)
{
	json_t *doc;
	char err[256];
	int rc;

	if (r->name == NULL || *r->name == '\0') {
		creq_err(r, "invalid", "list: a list name is required");
		return NULL;
	}
	if (!valid_name(r->name, "list name", err, sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		return NULL;
	}
	if ((rc = list_get(r->txn, r->name, &doc)) != 0) {
		if (rc == MDB_NOTFOUND)
			creq_err(r, "notfound", "no contact list named \"%s\" "
			    "(msg list create makes one)", r->name);
		else
			creq_err(r, "store", "list %s: %s", r->name,
			    mdb_strerror(rc));
		return NULL;
	}
	return doc;
}

static int
is_segment(const json_t *doc)
{
	const char *k = json_string_value(json_object_get(doc, "kind"));

	return k && strcmp(k, "segment") == 0;
}

static void
op_create(struct creq *r)
{
	const char *where = arg_str(r, "where"), *desc = arg_str(r,
	    "description");
	json_t *doc, *filter = NULL;
	char err[512];
	int rc;

	if (creq_begin(r) == -1)
		return;
	if (r->name == NULL || !valid_name(r->name, "list name", err,
	    sizeof(err))) {
		creq_err(r, "invalid", "%s", r->name ? err : "list create: a "
		    "name is required");
		return;
	}
	if (arg(r, "where") && (where == NULL ||
	    (filter = segment_parse(where, err, sizeof(err))) == NULL)) {
		creq_err(r, "invalid", "%s", where ? err : "where must be text");
		return;
	}
	if (desc && !valid_text(desc, DESC_MAX, "description", err,
	    sizeof(err))) {
		json_decref(filter);
		creq_err(r, "invalid", "%s", err);
		return;
	}
	if (cdb_exists(r->txn, C->db_lists, r->name)) {
		json_decref(filter);
		creq_err(r, "exists", "a contact list named \"%s\" exists",
		    r->name);
		return;
	}
	doc = json_pack("{s:s,s:s,s:s}", "name", r->name, "kind",
	    filter ? "segment" : "static", "description", desc ? desc : "");
	if (filter) {
		json_object_set_new(doc, "where", json_string(where));
		json_object_set_new(doc, "filter", filter);
	} else
		json_object_set_new(doc, "count", json_integer(0));
	json_object_set_new(doc, "created_ts", cts(daemon_now_ms()));
	json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
	json_object_set_new(doc, "by", json_string(r->who));
	if ((rc = cdb_put(r->txn, C->db_lists, r->name, doc)) != 0)
		creq_err(r, "store", "%s", mdb_strerror(rc));
	else
		creq_ok(r, json_pack("{s:O}", "doc", doc));
	json_decref(doc);
}

/* The campaigns not archived whose outbound list is name (new array). */
static json_t *
used_by(MDB_txn *txn, const char *name)
{
	json_t *a = json_array(), *doc;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (mdb_cursor_open(txn, C->db_campaigns, &cur) != 0)
		return a;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (memmem(v.mv_data, v.mv_size, name, strlen(name)) == NULL ||
		    (doc = val_doc(&v)) == NULL)
			continue;
		if (strcmp(rec_str(json_object_get(doc, "outbound"), "list",
		    ""), name) == 0 && strcmp(rec_str(doc, "state", ""),
		    "archived") != 0)
			json_array_append(a, json_object_get(doc, "name"));
		json_decref(doc);
	}
	mdb_cursor_close(cur);
	return a;
}

static void
op_delete(struct creq *r)
{
	json_t *doc, *users;
	char prefix[LIST_KEY_MAX], buf[512];
	MDB_cursor *cur;
	MDB_val k, v;
	size_t pl;
	long n = 0;
	int rc;

	if (creq_begin(r) == -1 || (doc = load(r)) == NULL)
		return;
	json_decref(doc);
	users = used_by(r->txn, r->name);
	if (json_array_size(users) > 0) {
		join(users, buf, sizeof(buf));
		creq_err(r, "inuse", "list %s is the contact list of campaign "
		    "%s; change or archive it first", r->name, buf);
		json_decref(users);
		return;
	}
	json_decref(users);
	snprintf(prefix, sizeof(prefix), "%s/", r->name);
	pl = strlen(prefix);
	if ((rc = mdb_cursor_open(r->txn, C->db_lmem, &cur)) != 0)
		goto store;
	k.mv_size = pl;
	k.mv_data = prefix;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		MDB_val rk, rv = { strlen(r->name), (void *)r->name };

		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0)
			break;
		rk.mv_size = k.mv_size - pl;
		rk.mv_data = (char *)k.mv_data + pl;
		rc = mdb_del(r->txn, C->db_lrev, &rk, &rv);
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto store;
	if ((rc = cdb_del(r->txn, C->db_lists, r->name)) != 0)
		goto store;
	creq_ok(r, json_pack("{s:s,s:I}", "deleted", r->name, "members",
	    (json_int_t)n));
	return;
store:
	creq_err(r, "store", "%s", mdb_strerror(rc));
}

struct cnt {
	long long	n;
};

static int
count_one(void *arg, const char *key, json_t *ct)
{
	((struct cnt *)arg)->n++;
	return 0;
}

static void
op_show(struct creq *r)
{
	json_t *doc;
	struct cnt c = { 0 };
	char err[256];

	if (creq_need(r, ROLE_ADMIN) == -1 || (doc = load(r)) == NULL)
		return;
	if (is_segment(doc)) {
		/* a segment is counted when it is looked at */
		if (list_walk(r->txn, r->name, NULL, count_one, &c, err,
		    sizeof(err)) == -1) {
			json_decref(doc);
			creq_err(r, "store", "%s", err);
			return;
		}
		json_object_set_new(doc, "count", json_integer(c.n));
	}
	creq_ok(r, json_pack("{s:o}", "doc", doc));
}

struct page {
	json_t		*items;
	json_int_t	 limit;
	char		 last[64];
	int		 more;
};

static int
page_one(void *arg, const char *key, json_t *ct)
{
	struct page *p = arg;

	if ((json_int_t)json_array_size(p->items) >= p->limit) {
		p->more = 1;
		return 1;
	}
	snprintf(p->last, sizeof(p->last), "%s", key);
	json_array_append(p->items, ct);
	return 0;
}

/* {op:"members", name, after?, limit?}: a page of the list's contacts. */
static void
op_members(struct creq *r)
{
	struct page p;
	json_t *doc, *ans;
	char err[256];

	if (creq_need(r, ROLE_ADMIN) == -1 || (doc = load(r)) == NULL)
		return;
	json_decref(doc);
	memset(&p, 0, sizeof(p));
	p.items = json_array();
	p.limit = json_integer_value(arg(r, "limit"));
	if (p.limit <= 0 || p.limit > MEMBERS_PAGE)
		p.limit = MEMBERS_PAGE;
	if (list_walk(r->txn, r->name, arg_str(r, "after"), page_one, &p, err,
	    sizeof(err)) == -1) {
		json_decref(p.items);
		creq_err(r, "store", "%s", err);
		return;
	}
	ans = json_pack("{s:o,s:b}", "items", p.items, "more", p.more);
	if (p.more)
		json_object_set_new(ans, "next", json_string(p.last));
	creq_ok(r, ans);
}

/* add and remove: phones of contacts (add creates the missing ones). */
static void
op_addrm(struct creq *r, int add)
{
	json_t *phones = arg(r, "phones"), *e, *doc, *errs;
	char id[64], err[256];
	long long changed = 0, same = 0, created = 0;
	size_t i;
	int rc;

	if (creq_begin(r) == -1 || (doc = load(r)) == NULL)
		return;
	if (is_segment(doc)) {
		creq_err(r, "invalid", "list %s is a segment (%s): its contacts "
		    "are those its filter matches", r->name,
		    rec_str(doc, "where", ""));
		json_decref(doc);
		return;
	}
	json_decref(doc);
	if (!json_is_array(phones) || json_array_size(phones) == 0 ||
	    json_array_size(phones) > PHONES_MAX) {
		creq_err(r, "invalid", "list %s: give 1 to %d phone numbers",
		    r->op, PHONES_MAX);
		return;
	}
	errs = json_array();
	json_array_foreach(phones, i, e) {
		const char *ph = json_string_value(e);

		if (ph == NULL || !valid_e164(ph)) {
			json_array_append_new(errs, json_sprintf("\"%.40s\" is "
			    "not E.164", ph ? ph : "?"));
			continue;
		}
		if ((rc = contact_by_phone(r->txn, ph, id, sizeof(id))) != 0 &&
		    rc != MDB_NOTFOUND)
			goto store;
		if (rc == MDB_NOTFOUND && !add) {
			json_array_append_new(errs, json_sprintf("no contact "
			    "has phone %s", ph));
			continue;
		}
		if (rc == MDB_NOTFOUND) {
			json_t *row = json_pack("{s:s}", "phone", ph);
			int made;

			rc = contact_upsert(r->txn, row, 0, id, sizeof(id),
			    &made, err, sizeof(err));
			json_decref(row);
			if (rc == -1) {
				json_array_append_new(errs, json_sprintf("%s: %s",
				    ph, err));
				continue;
			}
			if (rc != 0) {
				json_decref(errs);
				creq_err(r, "store", "%s", err);
				return;
			}
			created++;
		}
		rc = add ? mem_add(r->txn, r->name, id) : mem_del(r->txn,
		    r->name, id);
		if (rc < 0 || rc > 1)
			goto store;
		if (rc == 1)
			changed++;
		else
			same++;
	}
	if (json_array_size(errs) > 0) {
		char buf[1024];

		join(errs, buf, sizeof(buf));
		json_decref(errs);
		creq_err(r, add ? "invalid" : "notfound", "list %s: %s "
		    "(nothing changed)", r->op, buf);
		return;
	}
	json_decref(errs);
	if ((rc = count_add(r->txn, r->name, add ? changed : -changed)) != 0)
		goto store;
	creq_ok(r, json_pack("{s:s,s:I,s:I,s:I}", "list", r->name,
	    add ? "added" : "removed", (json_int_t)changed,
	    add ? "already" : "absent", (json_int_t)same, "created",
	    (json_int_t)created));
	return;
store:
	json_decref(errs);
	creq_err(r, "store", "%s", mdb_strerror(rc));
}

/* ------------------------------------------------------------- import */

/* Delete every key of dbi starting with prefix. */
static int
del_prefix(MDB_txn *txn, MDB_dbi dbi, const char *prefix, long *n)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t pl = strlen(prefix);
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return rc;
	k.mv_size = pl;
	k.mv_data = (void *)prefix;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		if (n)
			(*n)++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Drop the stage and record of import id. */
static int
imp_drop(MDB_txn *txn, const char *id)
{
	char prefix[64];
	int rc;

	snprintf(prefix, sizeof(prefix), "%s/", id);
	if ((rc = del_prefix(txn, C->db_lstage, prefix, NULL)) != 0)
		return rc;
	rc = cdb_del(txn, C->db_limp, id);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Drop the stages of imports untouched for IMPORT_IDLE_MS. */
static int
imp_clean(MDB_txn *txn, long long now)
{
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *doc, *old = json_array(), *e;
	int64_t t;
	size_t i;
	int rc;

	if ((rc = mdb_cursor_open(txn, C->db_limp, &cur)) != 0) {
		json_decref(old);
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((doc = val_doc(&v)) == NULL)
			continue;
		if (rec_ts_parse(rec_str(doc, "touched_ts", ""), &t) == -1 ||
		    t + IMPORT_IDLE_MS < now)
			json_array_append_new(old, json_stringn(k.mv_data,
			    k.mv_size));
		json_decref(doc);
	}
	mdb_cursor_close(cur);
	rc = 0;
	json_array_foreach(old, i, e) {
		log_info("list import %s abandoned: its stage is deleted",
		    json_string_value(e));
		if ((rc = imp_drop(txn, json_string_value(e))) != 0)
			break;
	}
	json_decref(old);
	return rc;
}

static void
op_import_begin(struct creq *r)
{
	json_t *doc;
	char id[40];
	int rc;

	if (creq_begin(r) == -1 || (doc = load(r)) == NULL)
		return;
	if (is_segment(doc)) {
		creq_err(r, "invalid", "list %s is a segment (%s): import into "
		    "a static list", r->name, rec_str(doc, "where", ""));
		json_decref(doc);
		return;
	}
	json_decref(doc);
	if ((rc = imp_clean(r->txn, daemon_now_ms())) != 0)
		goto store;
	ulid_make("imp_", id);
	doc = json_pack("{s:s,s:s,s:o,s:o,s:i}", "list", r->name, "by", r->who,
	    "started_ts", cts(daemon_now_ms()), "touched_ts",
	    cts(daemon_now_ms()), "rows", 0);
	rc = cdb_put(r->txn, C->db_limp, id, doc);
	json_decref(doc);
	if (rc != 0)
		goto store;
	creq_ok(r, json_pack("{s:s,s:s}", "import", id, "list", r->name));
	return;
store:
	creq_err(r, "store", "%s", mdb_strerror(rc));
}

/* The import named by r's "import", for its list r->name; NULL answered. */
static json_t *
imp_load(struct creq *r, const char **idp)
{
	const char *id = arg_str(r, "import");
	json_t *doc;

	if (id == NULL || strncmp(id, "imp_", 4) != 0 || strlen(id) != 4 +
	    ULID_LEN || !ulid_valid(id + 4) ||
	    cdb_get(r->txn, C->db_limp, id, &doc) != 0) {
		creq_err(r, "notfound", "no import %.40s in progress (it was "
		    "committed, aborted, or abandoned for an hour)",
		    id ? id : "(none given)");
		return NULL;
	}
	if (r->name == NULL || strcmp(rec_str(doc, "list", ""), r->name)) {
		json_decref(doc);
		creq_err(r, "invalid", "import %s is for list %s", id,
		    rec_str(doc, "list", "?"));
		return NULL;
	}
	*idp = id;
	return doc;
}

static void
op_import_rows(struct creq *r)
{
	json_t *rows = arg(r, "rows"), *row, *imp, *errs, *st;
	const char *id;
	char key[128], err[512];
	size_t i;
	long long staged = 0;
	int rc;

	if (creq_begin(r) == -1 || (imp = imp_load(r, &id)) == NULL)
		return;
	if (!json_is_array(rows) || json_array_size(rows) > ROWS_MAX) {
		json_decref(imp);
		creq_err(r, "invalid", "import: rows must be an array of at "
		    "most %d rows", ROWS_MAX);
		return;
	}
	errs = json_array();
	json_array_foreach(rows, i, row) {
		json_t *doc;
		json_int_t line;

		if (!json_is_object(row)) {
			rc = MDB_BAD_VALSIZE;
			creq_err(r, "invalid", "import: a row is not an object");
			goto out;
		}
		line = json_integer_value(json_object_get(row, "line"));
		doc = json_deep_copy(row);
		json_object_del(doc, "line");
		if (contact_check_row(doc, 0, err, sizeof(err)) == -1) {
			json_array_append_new(errs, json_pack("{s:I,s:s}",
			    "line", line, "reason", err));
			json_decref(doc);
			continue;
		}
		if (rec_str(doc, "phone", NULL) == NULL) {
			json_array_append_new(errs, json_pack("{s:I,s:s}",
			    "line", line, "reason", "a list's contact needs a "
			    "phone number"));
			json_decref(doc);
			continue;
		}
		snprintf(key, sizeof(key), "%s/%s", id, rec_str(doc, "phone",
		    ""));
		if (cdb_get(r->txn, C->db_lstage, key, &st) == 0) {
			snprintf(err, sizeof(err), "phone %s is also on line "
			    "%lld", rec_str(doc, "phone", ""), (long long)
			    json_integer_value(json_object_get(st, "line")));
			json_decref(st);
			json_array_append_new(errs, json_pack("{s:I,s:s}",
			    "line", line, "reason", err));
			json_decref(doc);
			continue;
		}
		st = json_pack("{s:I,s:o}", "line", line, "row", doc);
		rc = cdb_put(r->txn, C->db_lstage, key, st);
		json_decref(st);
		if (rc != 0) {
			creq_err(r, "store", "%s", mdb_strerror(rc));
			goto out;
		}
		staged++;
	}
	json_object_set_new(imp, "touched_ts", cts(daemon_now_ms()));
	json_object_set_new(imp, "rows", json_integer(json_integer_value(
	    json_object_get(imp, "rows")) + staged));
	if ((rc = cdb_put(r->txn, C->db_limp, id, imp)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	creq_ok(r, json_pack("{s:I,s:O}", "staged", (json_int_t)staged,
	    "errors", errs));
out:
	json_decref(errs);
	json_decref(imp);
}

static void op_import_end(struct creq *r, int commit);

/* A commit that filled the map, tried again in a batch of its own after
 * the map has grown. */
static void
commit_again(evutil_socket_t fd, short what, void *arg)
{
	struct creq *k = arg;

	k->done = 0;
	if (store_rtxn(C->st, &k->txn) != 0)
		k->txn = NULL;
	k->write = 0;
	op_import_end(k, 1);
	if (!k->done)
		creq_err(k, "store", "import commit: not answered");
	creq_release(k);
}

static void
op_import_end(struct creq *r, int commit)
{
	json_t *imp, *st;
	const char *id;
	char prefix[64], cid[64], err[512];
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	long long created = 0, updated = 0, added = 0, rows = 0;
	size_t pl, need;
	int rc;

	if (creq_begin(r) == -1 || (imp = imp_load(r, &id)) == NULL)
		return;
	need = (size_t)json_integer_value(json_object_get(imp, "rows")) *
	    ROW_BYTES;
	json_decref(imp);
	if (commit && !store_room(C->st, need) && json_integer_value(arg(r,
	    "tries")) < COMMIT_TRIES) {
		/* grow first rather than fill the map halfway and redo */
		rc = MDB_MAP_FULL;
		goto store;
	}
	if (!commit) {
		if ((rc = imp_drop(r->txn, id)) != 0)
			goto store;
		creq_ok(r, json_pack("{s:s}", "aborted", id));
		return;
	}
	if (!cdb_exists(r->txn, C->db_lists, r->name)) {
		creq_err(r, "notfound", "list %s was deleted during the import",
		    r->name);
		return;
	}
	snprintf(prefix, sizeof(prefix), "%s/", id);
	pl = strlen(prefix);
	if ((rc = mdb_cursor_open(r->txn, C->db_lstage, &cur)) != 0)
		goto store;
	k.mv_size = pl;
	k.mv_data = prefix;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		int c, made;

		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0)
			break;
		if ((st = val_doc(&v)) == NULL) {
			rc = MDB_CORRUPTED;
			break;
		}
		c = contact_upsert(r->txn, json_object_get(st, "row"), 1, cid,
		    sizeof(cid), &made, err, sizeof(err));
		if (c == -1) {
			creq_err(r, "invalid", "import: line %lld: %s; nothing "
			    "imported", (long long)json_integer_value(
			    json_object_get(st, "line")), err);
			json_decref(st);
			mdb_cursor_close(cur);
			return;
		}
		json_decref(st);
		if (c != 0 && strcmp(err, mdb_strerror(MDB_MAP_FULL)) == 0) {
			rc = MDB_MAP_FULL;
			break;
		}
		if (c != 0) {
			mdb_cursor_close(cur);
			creq_err(r, "store", "%s", err);
			return;
		}
		if (made)
			created++;
		else
			updated++;
		if ((rc = mem_add(r->txn, r->name, cid)) < 0 || rc > 1)
			break;
		added += rc;
		rows++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND && rc != 1)
		goto store;
	if ((rc = imp_drop(r->txn, id)) != 0 ||
	    (rc = count_add(r->txn, r->name, added)) != 0)
		goto store;
	rc = 0;
	log_info("list %s: import %s committed: %lld rows, %lld contacts "
	    "created, %lld updated, %lld added to the list", r->name, id, rows,
	    created, updated, added);
	creq_ok(r, json_pack("{s:s,s:I,s:I,s:I,s:I}", "list", r->name, "rows",
	    (json_int_t)rows, "created", (json_int_t)created, "updated",
	    (json_int_t)updated, "added", (json_int_t)added));
	return;
store:
	if (rc == MDB_MAP_FULL && json_integer_value(arg(r, "tries")) <
	    COMMIT_TRIES) {
		struct timeval now = { 0, 0 };
		struct creq *k;

		/* the whole import is one transaction: grow, try again */
		mdb_txn_abort(r->txn);
		r->txn = NULL;
		r->write = 0;
		json_object_set_new(r->args, "tries", json_integer(
		    json_integer_value(arg(r, "tries")) + 1));
		log_info("list %s: import %s filled the map; trying again "
		    "once it has grown", r->name, id);
		store_grow_next(C->st, need);
		store_commit(C->st);	/* the others' writes: the map grows
					   before the next batch */
		k = creq_keep(r);
		if (event_base_once(C->d.base, -1, EV_TIMEOUT, commit_again, k,
		    &now) == 0)
			return;
		k->done = 0;
		creq_err(k, "store", "%s", mdb_strerror(rc));
		creq_release(k);
		return;
	}
	creq_err(r, "store", "%s", mdb_strerror(rc));
}

int
list_op(struct creq *r)
{
	const char *op = r->op;

	if (strcmp(op, "create") == 0)
		op_create(r);
	else if (strcmp(op, "delete") == 0)
		op_delete(r);
	else if (strcmp(op, "show") == 0)
		op_show(r);
	else if (strcmp(op, "list") == 0) {
		if (creq_need(r, ROLE_ADMIN) == 0)
			cdb_list(r, C->db_lists, NULL, NULL, NULL);
	} else if (strcmp(op, "members") == 0)
		op_members(r);
	else if (strcmp(op, "add") == 0)
		op_addrm(r, 1);
	else if (strcmp(op, "remove") == 0)
		op_addrm(r, 0);
	else if (strcmp(op, "import-begin") == 0)
		op_import_begin(r);
	else if (strcmp(op, "import-rows") == 0)
		op_import_rows(r);
	else if (strcmp(op, "import-commit") == 0)
		op_import_end(r, 1);
	else if (strcmp(op, "import-abort") == 0)
		op_import_end(r, 0);
	else if (creq_need(r, ROLE_ADMIN) == -1)
		return 0;	/* an agent learns nothing, not even the ops */
	return 0;
}
