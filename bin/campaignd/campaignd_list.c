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
 *           contact-id order (ct_<ULID>, so oldest contact first); the
 *           value is an import id while that import applies (a pending
 *           member, skipped by every reader until the import commits)
 *   lrev    contact id -> list names (dupsort): so that deleting a contact
 *           takes it out of every list in the same transaction
 *   limp    import id -> {list, by, started_ts, touched_ts, rows, state
 *           (staging, applying, committed, done, failed, aborting),
 *           applied, created, updated, added, skipped, errors, ...}
 *   lstage  "<import id>/<phone>" -> {line, row}: rows of an import staged,
 *           validated, not yet applied
 *
 * An import of a file of any size: msg sends "import-begin" (an id), then
 * batches of rows ("import-rows": each row validated, a bad one reported by
 * its line number, the good ones staged under the import id), then
 * "import-commit", which marks the import applying — or "import-abort".
 * The apply runs in bounded steps (see "The apply" below), invisible in the
 * list until its final flip; msg polls "import-status" until it ends.
 * Stages untouched for IMPORT_IDLE_MS (msg killed) are dropped.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
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
#define ROW_BYTES	2048		/* map bytes an applied row may take:
					   contact, indexes, membership */
#define APPLY_ROWS	1000		/* staged rows applied in one step */
#define SETTLE_KEYS	5000		/* keys settled or dropped in one step */
#define IMPORT_ERRS	100		/* rows left out at apply, listed */

/* ------------------------------------------------------------ helpers */

static void	shed(void);

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

static int
mem_key(char *buf, size_t bufsz, const char *list, const char *id)
{
	return (size_t)snprintf(buf, bufsz, "%s/%s", list, id) < bufsz ? 0 :
	    MDB_BAD_VALSIZE;
}

/*
 * A member's value is empty, or the id of the import that wrote it: such a
 * member is visible only once that import is committed (state "committed"
 * or "done"); until then every reader skips it.  vc caches the last import
 * looked at (NULL: none).
 */
struct vis {
	char	id[40];
	int	vis;
};

static int
mem_visible(MDB_txn *txn, const MDB_val *v, struct vis *vc)
{
	char id[40];
	const char *st;
	json_t *doc;
	int vis = 0;

	if (v->mv_size == 0)
		return 1;
	if (v->mv_size >= sizeof(id))
		return 0;
	memcpy(id, v->mv_data, v->mv_size);
	id[v->mv_size] = '\0';
	if (vc && strcmp(vc->id, id) == 0)
		return vc->vis;
	if (cdb_get(txn, C->db_limp, id, &doc) == 0) {
		st = rec_str(doc, "state", "");
		vis = strcmp(st, "committed") == 0 || strcmp(st, "done") == 0;
		json_decref(doc);
	}
	if (vc) {
		snprintf(vc->id, sizeof(vc->id), "%s", id);
		vc->vis = vis;
	}
	return vis;
}

/* A pending member of import v (not yet committed) was taken over or
 * removed: that import adds one fewer when it commits. */
static int
pend_adjust(MDB_txn *txn, const MDB_val *v)
{
	char id[40];
	json_t *doc;
	json_int_t n;
	int rc;

	if (v->mv_size == 0 || v->mv_size >= sizeof(id))
		return 0;
	memcpy(id, v->mv_data, v->mv_size);
	id[v->mv_size] = '\0';
	if (cdb_get(txn, C->db_limp, id, &doc) != 0)
		return 0;
	n = json_integer_value(json_object_get(doc, "added"));
	json_object_set_new(doc, "added", json_integer(n > 0 ? n - 1 : 0));
	rc = cdb_put(txn, C->db_limp, id, doc);
	json_decref(doc);
	return rc;
}

/* Add id to list, visibly (imp NULL) or pending under import imp: 1 added,
 * 0 already there, or an LMDB error (< 0). */
static int
mem_add(MDB_txn *txn, const char *list, const char *id, const char *imp)
{
	char key[LIST_KEY_MAX];
	MDB_val k, v = { imp ? strlen(imp) : 0, (void *)(imp ? imp : "") },
	    old, rk, rv;
	int rc;

	if ((rc = mem_key(key, sizeof(key), list, id)) != 0)
		return rc;
	k.mv_size = strlen(key);
	k.mv_data = key;
	rc = mdb_get(txn, C->db_lmem, &k, &old);
	if (rc == 0) {
		if (mem_visible(txn, &old, NULL) || (old.mv_size ==
		    v.mv_size && memcmp(old.mv_data, v.mv_data, v.mv_size) ==
		    0))
			return 0;
		/* pending for an import not committed: now this one's */
		if ((rc = pend_adjust(txn, &old)) != 0)
			return rc;
	} else if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = mdb_put(txn, C->db_lmem, &k, &v, 0)) != 0)
		return rc;
	rk.mv_size = strlen(id);
	rk.mv_data = (void *)id;
	rv.mv_size = strlen(list);
	rv.mv_data = (void *)list;
	rc = mdb_put(txn, C->db_lrev, &rk, &rv, MDB_NODUPDATA);
	return rc == 0 || rc == MDB_KEYEXIST ? 1 : rc;
}

/* Take id out of list: 1 removed, 0 was not there (or only pending under
 * an import not committed: it is taken out of that import), or an LMDB
 * error. */
static int
mem_del(MDB_txn *txn, const char *list, const char *id)
{
	char key[LIST_KEY_MAX];
	MDB_val k, rk, rv, old;
	int rc, vis;

	if ((rc = mem_key(key, sizeof(key), list, id)) != 0)
		return 0;
	k.mv_size = strlen(key);
	k.mv_data = key;
	rc = mdb_get(txn, C->db_lmem, &k, &old);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (!(vis = mem_visible(txn, &old, NULL)) &&
	    (rc = pend_adjust(txn, &old)) != 0)
		return rc;
	if ((rc = mdb_del(txn, C->db_lmem, &k, NULL)) != 0)
		return rc;
	rk.mv_size = strlen(id);
	rk.mv_data = (void *)id;
	rv.mv_size = strlen(list);
	rv.mv_data = (void *)list;
	rc = mdb_del(txn, C->db_lrev, &rk, &rv);
	return rc == 0 || rc == MDB_NOTFOUND ? vis : rc;
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
	struct vis vc = { "", 0 };
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
			if ((ct = cdb_doc(&v)) == NULL)
				continue;
			contact_names(ct);
			if (!segment_match(filter, ct)) {
				json_decref(ct);
				continue;
			}
		} else {
			if (k.mv_size - pl >= sizeof(id) ||
			    !mem_visible(txn, &v, &vc))
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
		MDB_val mk, mv;
		int vis = 0;

		if (v.mv_size >= sizeof(list))
			continue;
		memcpy(list, v.mv_data, v.mv_size);
		list[v.mv_size] = '\0';
		if (mem_key(key, sizeof(key), list, id) != 0)
			continue;
		mk.mv_size = strlen(key);
		mk.mv_data = key;
		if ((rc = mdb_get(txn, C->db_lmem, &mk, &mv)) == 0) {
			vis = mem_visible(txn, &mv, NULL);
			rc = vis ? 0 : pend_adjust(txn, &mv);
		}
		if (rc == 0)
			rc = mdb_del(txn, C->db_lmem, &mk, NULL);
		if (rc == 0 && vis)
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
		    (doc = cdb_doc(&v)) == NULL)
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
	shed();
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
		rc = add ? mem_add(r->txn, r->name, id, NULL) : mem_del(r->txn,
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

static void	kick(void);
static int	state_is(const json_t *, const char *);

/* Imports untouched for IMPORT_IDLE_MS: a stage msg left (killed) is
 * dropped; the record of an ended import (done, failed) is deleted. */
static int
imp_clean(MDB_txn *txn, long long now)
{
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *doc, *old = json_array(), *e;
	int64_t t;
	size_t i;
	int rc, kick_it = 0;

	if ((rc = mdb_cursor_open(txn, C->db_limp, &cur)) != 0) {
		json_decref(old);
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((doc = cdb_doc(&v)) == NULL)
			continue;
		if ((state_is(doc, "staging") || state_is(doc, "done") ||
		    (state_is(doc, "failed") && !json_object_get(doc,
		    "stage"))) && (rec_ts_parse(rec_str(doc, "touched_ts", ""),
		    &t) == -1 || t + IMPORT_IDLE_MS < now))
			json_array_append_new(old, json_stringn(k.mv_data,
			    k.mv_size));
		json_decref(doc);
	}
	mdb_cursor_close(cur);
	rc = 0;
	json_array_foreach(old, i, e) {
		const char *id = json_string_value(e);

		if (cdb_get(txn, C->db_limp, id, &doc) != 0)
			continue;
		if (state_is(doc, "staging")) {
			log_info("list import %s abandoned: its stage is "
			    "deleted", id);
			json_object_set_new(doc, "state",
			    json_string("aborting"));
			rc = cdb_put(txn, C->db_limp, id, doc);
			kick_it = 1;
		} else
			rc = cdb_del(txn, C->db_limp, id);
		json_decref(doc);
		if (rc != 0)
			break;
	}
	json_decref(old);
	if (kick_it)
		kick();
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
	if (!state_is(imp, "staging")) {
		creq_err(r, "invalid", "import %s is %s: no more rows", id,
		    rec_str(imp, "state", ""));
		json_decref(imp);
		return;
	}
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
	shed();		/* the stage's pages read for duplicates */
out:
	json_decref(errs);
	json_decref(imp);
}

/*
 * The apply.  import-commit only marks the import "applying" and answers;
 * a stepper then applies APPLY_ROWS staged rows per transaction (each
 * row's contact created or updated, the contact added to the list as a
 * pending member: its lmem value is the import id, which every reader
 * skips), deleting the rows it applied in the same transaction, and waits
 * for that batch's commit before the next step, so that LMDB's dirty pages
 * (held in memory until the commit) are those of one step, whatever the
 * size of the file; other requests are served between steps.  When the
 * stage is empty one small transaction flips the import to "committed" and
 * adds its count to the list's: from then on its members are visible, all
 * at once.  The stepper then rewrites their values to "" (SETTLE_KEYS keys
 * a step) and marks the import "done"; its record, with the figures msg
 * reads through import-status, is kept for IMPORT_IDLE_MS.  Every step is
 * one transaction, so a SIGKILL loses at most the step in flight, and
 * list_start resumes an applying or committed import at the next start:
 * an import whose apply began always ends applied in full.
 */
static struct event *ev_step;
static int step_busy;		/* a step's batch waits for its commit */

static void	step_cb(evutil_socket_t, short, void *);

static void
kick_in(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ev_step == NULL && (ev_step = evtimer_new(C->d.base, step_cb,
	    NULL)) == NULL)
		fatalx("out of memory");
	if (!step_busy)
		evtimer_add(ev_step, &tv);
}

static void
kick(void)
{
	kick_in(0);
}

/* Drop the pages LMDB's map brought into our resident set (the walk over
 * the stage and the indexes reads them) and the heap's free memory. */
static void
shed(void)
{
	daemon_trim();
	store_shed(C->st);
}

static int
state_is(const json_t *imp, const char *st)
{
	return strcmp(rec_str(imp, "state", "staging"), st) == 0;
}

/* The first import with work for the stepper (its id in id). */
static json_t *
find_work(MDB_txn *txn, char *id, size_t idsz)
{
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *doc;
	int rc;

	if (mdb_cursor_open(txn, C->db_limp, &cur) != 0)
		return NULL;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size >= idsz || (doc = cdb_doc(&v)) == NULL)
			continue;
		if (state_is(doc, "applying") || state_is(doc, "committed") ||
		    state_is(doc, "aborting") || (state_is(doc, "failed") &&
		    json_is_true(json_object_get(doc, "stage")))) {
			memcpy(id, k.mv_data, k.mv_size);
			id[k.mv_size] = '\0';
			mdb_cursor_close(cur);
			return doc;
		}
		json_decref(doc);
	}
	mdb_cursor_close(cur);
	return NULL;
}

static void
imp_count(json_t *imp, const char *key, long long n)
{
	json_object_set_new(imp, key, json_integer(json_integer_value(
	    json_object_get(imp, key)) + n));
}

/* One step of an applying import: APPLY_ROWS rows, or the flip. */
static int
step_apply(MDB_txn *txn, const char *id, json_t *imp, char *err,
    size_t errsz)
{
	const char *list = rec_str(imp, "list", "");
	char prefix[64], cid[64], why[512];
	json_t *st, *errs;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t pl;
	long long n = 0;
	int rc, c, made, a;

	if (!cdb_exists(txn, C->db_lists, list)) {
		log_warnx("list import %s: list %s was deleted during the "
		    "apply; the rest of its rows are dropped", id, list);
		json_object_set_new(imp, "state", json_string("failed"));
		json_object_set_new(imp, "reason", json_sprintf("list %s was "
		    "deleted during the import", list));
		json_object_set_new(imp, "stage", json_true());
		return 0;
	}
	if ((errs = json_object_get(imp, "errors")) == NULL ||
	    !json_is_array(errs)) {
		errs = json_array();
		json_object_set_new(imp, "errors", errs);
	}
	snprintf(prefix, sizeof(prefix), "%s/", id);
	pl = strlen(prefix);
	if ((rc = mdb_cursor_open(txn, C->db_lstage, &cur)) != 0)
		return rc;
	k.mv_size = pl;
	k.mv_data = prefix;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 &&
	    n < APPLY_ROWS; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0) {
			rc = MDB_NOTFOUND;
			break;
		}
		if ((st = cdb_doc(&v)) != NULL) {
			c = contact_upsert(txn, json_object_get(st, "row"), 1,
			    cid, sizeof(cid), &made, why, sizeof(why));
			if (c == -1) {
				/* the book refuses it now (e.g. its e-mail
				 * became another contact's): left out, said */
				imp_count(imp, "skipped", 1);
				if (json_array_size(errs) < IMPORT_ERRS)
					json_array_append_new(errs, json_pack(
					    "{s:I,s:s}", "line",
					    json_integer_value(json_object_get(
					    st, "line")), "reason", why));
			} else if (c != 0) {
				json_decref(st);
				mdb_cursor_close(cur);
				snprintf(err, errsz, "%s", why);
				return strcmp(why, mdb_strerror(MDB_MAP_FULL))
				    == 0 ? MDB_MAP_FULL : MDB_PANIC;
			} else {
				imp_count(imp, made ? "created" : "updated", 1);
				if ((a = mem_add(txn, list, cid, id)) < 0) {
					json_decref(st);
					mdb_cursor_close(cur);
					return a;
				}
				imp_count(imp, "added", a);
			}
			json_decref(st);
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		imp_count(imp, "applied", 1);
		n++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (rc == MDB_NOTFOUND || n == 0) {
		/* the stage is applied: the flip, after which the import's
		 * members are visible, all at once */
		if ((rc = count_add(txn, list, json_integer_value(
		    json_object_get(imp, "added")))) != 0)
			return rc;
		json_object_set_new(imp, "state", json_string("committed"));
		json_object_set_new(imp, "committed_ts",
		    cts(daemon_now_ms()));
		log_info("list %s: import %s committed: %lld rows, %lld "
		    "contacts created, %lld updated, %lld added to the list, "
		    "%lld left out", list, id, (long long)json_integer_value(
		    json_object_get(imp, "applied")), (long long)
		    json_integer_value(json_object_get(imp, "created")),
		    (long long)json_integer_value(json_object_get(imp,
		    "updated")), (long long)json_integer_value(
		    json_object_get(imp, "added")), (long long)
		    json_integer_value(json_object_get(imp, "skipped")));
	}
	return 0;
}

/* One step of a committed import: its members' values made "". */
static int
step_settle(MDB_txn *txn, const char *id, json_t *imp)
{
	const char *list = rec_str(imp, "list", "");
	char prefix[LIST_KEY_MAX], start[LIST_KEY_MAX], last[LIST_KEY_MAX];
	MDB_cursor *cur;
	MDB_val k, v, empty = { 0, "" };
	size_t pl, il = strlen(id);
	long n = 0;
	int rc;

	snprintf(prefix, sizeof(prefix), "%s/", list);
	pl = strlen(prefix);
	snprintf(start, sizeof(start), "%s%s", prefix, rec_str(imp,
	    "settle_next", ""));
	last[0] = '\0';
	if ((rc = mdb_cursor_open(txn, C->db_lmem, &cur)) != 0)
		return rc;
	k.mv_size = strlen(start);
	k.mv_data = start;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 &&
	    n < SETTLE_KEYS; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0) {
			rc = MDB_NOTFOUND;
			break;
		}
		n++;
		if (k.mv_size - pl < sizeof(last)) {
			memcpy(last, (char *)k.mv_data + pl, k.mv_size - pl);
			last[k.mv_size - pl] = '\0';
		}
		if (v.mv_size == il && memcmp(v.mv_data, id, il) == 0) {
			/* k points into the page the put rewrites: a copy */
			char kb[LIST_KEY_MAX];
			MDB_val kc = { k.mv_size, kb };

			if (k.mv_size > sizeof(kb)) {
				rc = MDB_BAD_VALSIZE;
				break;
			}
			memcpy(kb, k.mv_data, k.mv_size);
			if ((rc = mdb_cursor_put(cur, &kc, &empty,
			    MDB_CURRENT)) != 0)
				break;
		}
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (rc == MDB_NOTFOUND || n == 0) {
		json_object_set_new(imp, "state", json_string("done"));
		json_object_del(imp, "settle_next");
		json_object_set_new(imp, "ended_ts", cts(daemon_now_ms()));
	} else {
		/* resume at the key after last: its value is settled */
		size_t ll = strlen(last);

		if (ll + 1 < sizeof(last)) {
			last[ll] = '\x01';	/* sorts after last's key */
			last[ll + 1] = '\0';
		}
		json_object_set_new(imp, "settle_next", json_string(last));
	}
	return 0;
}

/* One step of an aborted, abandoned or failed import: its stage deleted. */
static int
step_drop(MDB_txn *txn, const char *id, json_t *imp, int *gone)
{
	char prefix[64];
	MDB_cursor *cur;
	MDB_val k, v;
	size_t pl;
	long n = 0;
	int rc;

	*gone = 0;
	snprintf(prefix, sizeof(prefix), "%s/", id);
	pl = strlen(prefix);
	if ((rc = mdb_cursor_open(txn, C->db_lstage, &cur)) != 0)
		return rc;
	k.mv_size = pl;
	k.mv_data = prefix;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 &&
	    n < SETTLE_KEYS; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0) {
			rc = MDB_NOTFOUND;
			break;
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (rc == MDB_NOTFOUND || n == 0) {
		if (state_is(imp, "aborting")) {
			*gone = 1;
			rc = cdb_del(txn, C->db_limp, id);
			return rc == MDB_NOTFOUND ? 0 : rc;
		}
		json_object_del(imp, "stage");
	}
	return 0;
}

static void
step_done(void *arg, int committed)
{
	step_busy = 0;
	shed();
	kick_in(committed ? 0 : 1000);
}

static void
step_cb(evutil_socket_t fd, short what, void *arg)
{
	MDB_txn *bt, *txn;
	json_t *imp;
	char id[40], err[512] = "";
	int rc, gone = 0;

	if (step_busy)
		return;
	if ((bt = store_txn(C->st)) == NULL) {
		kick_in(1000);
		return;
	}
	if ((rc = mdb_txn_begin(store_env(C->st), bt, 0, &txn)) != 0) {
		log_warnx("list import: %s", mdb_strerror(rc));
		kick_in(1000);
		return;
	}
	if ((imp = find_work(txn, id, sizeof(id))) == NULL) {
		mdb_txn_abort(txn);
		return;
	}
	if (state_is(imp, "applying"))
		rc = step_apply(txn, id, imp, err, sizeof(err));
	else if (state_is(imp, "committed"))
		rc = step_settle(txn, id, imp);
	else
		rc = step_drop(txn, id, imp, &gone);
	if (rc == 0 && !gone) {
		json_object_set_new(imp, "touched_ts", cts(daemon_now_ms()));
		rc = cdb_put(txn, C->db_limp, id, imp);
	}
	json_decref(imp);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc == MDB_MAP_FULL) {
		/* the step again once the map has grown */
		store_grow_next(C->st, (size_t)APPLY_ROWS * ROW_BYTES);
		store_commit(C->st);
		kick();
		return;
	}
	if (rc != 0) {
		log_warnx("list import %s: %s; trying again in a second", id,
		    err[0] ? err : mdb_strerror(rc));
		kick_in(1000);
		return;
	}
	step_busy = 1;
	store_after(C->st, step_done, NULL);
}

/* At start: an import whose apply began is carried on to its end. */
void
list_start(void)
{
	MDB_txn *txn;
	json_t *imp;
	char id[40];

	if (store_rtxn(C->st, &txn) == 0) {
		if ((imp = find_work(txn, id, sizeof(id))) != NULL) {
			log_info("list %s: import %s was %s when campaignd "
			    "stopped; carrying it on", rec_str(imp, "list", ""),
			    id, rec_str(imp, "state", ""));
			json_decref(imp);
		}
		mdb_txn_abort(txn);
	}
	kick();
}

static void
op_import_commit(struct creq *r)
{
	json_t *imp, *doc;
	const char *id;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (creq_begin(r) == -1 || (imp = imp_load(r, &id)) == NULL)
		return;
	if (!state_is(imp, "staging")) {
		/* asked again (msg reconnected): the state as it is */
		creq_ok(r, json_pack("{s:s,s:s}", "import", id, "state",
		    rec_str(imp, "state", "")));
		json_decref(imp);
		return;
	}
	if (!cdb_exists(r->txn, C->db_lists, r->name)) {
		json_decref(imp);
		creq_err(r, "notfound", "list %s was deleted during the import",
		    r->name);
		return;
	}
	/* one apply at a time into a list: their pending members would mix */
	if ((rc = mdb_cursor_open(r->txn, C->db_limp, &cur)) != 0)
		goto store;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((doc = cdb_doc(&v)) == NULL)
			continue;
		if (strcmp(rec_str(doc, "list", ""), r->name) == 0 &&
		    (state_is(doc, "applying") || state_is(doc, "committed"))) {
			json_decref(doc);
			mdb_cursor_close(cur);
			json_decref(imp);
			creq_err(r, "inuse", "another import into list %s is "
			    "being applied; commit again when it has ended",
			    r->name);
			return;
		}
		json_decref(doc);
	}
	mdb_cursor_close(cur);
	json_object_set_new(imp, "state", json_string("applying"));
	json_object_set_new(imp, "touched_ts", cts(daemon_now_ms()));
	json_object_set_new(imp, "applying_ts", cts(daemon_now_ms()));
	rc = cdb_put(r->txn, C->db_limp, id, imp);
	json_decref(imp);
	if (rc != 0)
		goto store;
	log_info("list %s: import %s: the apply begins", r->name, id);
	creq_ok(r, json_pack("{s:s,s:s}", "import", id, "state", "applying"));
	kick();
	return;
store:
	json_decref(imp);
	creq_err(r, "store", "%s", mdb_strerror(rc));
}

static void
op_import_abort(struct creq *r)
{
	json_t *imp;
	const char *id;
	int rc;

	if (creq_begin(r) == -1 || (imp = imp_load(r, &id)) == NULL)
		return;
	if (!state_is(imp, "staging")) {
		creq_err(r, "invalid", "import %s is %s: too late to abort",
		    id, rec_str(imp, "state", ""));
		json_decref(imp);
		return;
	}
	json_object_set_new(imp, "state", json_string("aborting"));
	json_object_set_new(imp, "touched_ts", cts(daemon_now_ms()));
	rc = cdb_put(r->txn, C->db_limp, id, imp);
	json_decref(imp);
	if (rc != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return;
	}
	creq_ok(r, json_pack("{s:s}", "aborted", id));
	kick();
}

/* {op:"import-status", name, import}: state, figures, left-out rows. */
static void
op_import_status(struct creq *r)
{
	json_t *imp, *ans;
	const char *id;

	if (creq_need(r, ROLE_ADMIN) == -1 || (imp = imp_load(r, &id)) == NULL)
		return;
	ans = json_pack("{s:s,s:s,s:s}", "import", id, "list", r->name,
	    "state", rec_str(imp, "state", "staging"));
	json_object_set(ans, "rows", json_object_get(imp, "rows"));
	json_object_set_new(ans, "applied", json_integer(json_integer_value(
	    json_object_get(imp, "applied"))));
	json_object_set_new(ans, "created", json_integer(json_integer_value(
	    json_object_get(imp, "created"))));
	json_object_set_new(ans, "updated", json_integer(json_integer_value(
	    json_object_get(imp, "updated"))));
	json_object_set_new(ans, "added", json_integer(json_integer_value(
	    json_object_get(imp, "added"))));
	json_object_set_new(ans, "skipped", json_integer(json_integer_value(
	    json_object_get(imp, "skipped"))));
	json_object_set_new(ans, "errors", json_is_array(json_object_get(imp,
	    "errors")) ? json_incref(json_object_get(imp, "errors")) :
	    json_array());
	if (rec_str(imp, "reason", NULL))
		json_object_set(ans, "reason", json_object_get(imp, "reason"));
	json_decref(imp);
	creq_ok(r, ans);
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
		op_import_commit(r);
	else if (strcmp(op, "import-abort") == 0)
		op_import_abort(r);
	else if (strcmp(op, "import-status") == 0)
		op_import_status(r);
	else if (creq_need(r, ROLE_ADMIN) == -1)
		return 0;	/* an agent learns nothing, not even the ops */
	return 0;
}
