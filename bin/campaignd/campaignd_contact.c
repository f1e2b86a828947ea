/*
 * campaignd_contact — the blacklist and the contacts, two global resources
 * keyed by a customer's phone number or e-mail address.
 *
 * Blacklist records are keyed "<campaign or *>/<contact>" (campaign names
 * cannot hold '/', so the first '/' splits the key); every addition and
 * removal, and every blocked attempt that routerd reports with op "blocked",
 * is appended to the history db bhist under a ULID, so history reads newest
 * first by walking the keys backwards.
 *
 * Contacts are keyed "ct_<ULID>" with three indexes kept exact on every
 * write: cphone and cemail (value -> id; at most one contact per phone
 * number or address) and cname (lower-cased name -> ids) for searches.
 * An import arrives in batches of rows; each batch is one request and so
 * one nested transaction: every row is validated first (reads only), a bad
 * row is reported with its line number and skipped, the good rows are
 * written, and a store error refuses the whole batch.
 *
 * Phone numbers are E.164 as given; e-mail addresses are lower-cased, so
 * that "Ada@Example.COM" and "ada@example.com" are one customer.
 */
#include <ctype.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "log.h"
#include "rec.h"
#include "schedule.h"
#include "ulid.h"
#include "valid.h"
#include "campaignd.h"

#define NAME_MAX_CHARS	200	/* a contact's name */
#define NAME_KEY_MAX	400	/* bytes of the lower-cased name in cname */
#define FIELD_MAX_CHARS	1000	/* a custom field's value */
#define FIELDS_MAX	200	/* custom fields on one contact */
#define REASON_MAX	200	/* a blacklist reason, a history detail */
#define CONTACT_MAX	256	/* bytes of a normalised contact */
#define SEARCH_LIMIT	100	/* results by default */
#define SEARCH_SCAN	1000000	/* most name index entries one search reads */
#define HIST_SCAN	50000	/* most history records one page reads */
#define IMPORT_ROWS	5000	/* most rows in one import request */

/* ------------------------------------------------------------ helpers */

/* Lower-case UTF-8 text into out (at most outsz - 1 bytes, cut at a
 * character boundary).  Uses C.UTF-8's case mapping when the locale is
 * there, ASCII otherwise. */
static void
lower_text(const char *s, char *out, size_t outsz)
{
	static locale_t lc;
	static int tried;
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, l, i;
	uint32_t cp;
	unsigned char enc[4];

	if (!tried) {
		tried = 1;
		lc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	while (*p) {
		if (*p < 0x80) {
			cp = *p;
			l = 1;
		} else if ((*p & 0xe0) == 0xc0 && p[1]) {
			cp = (uint32_t)(*p & 0x1f) << 6 | (p[1] & 0x3f);
			l = 2;
		} else if ((*p & 0xf0) == 0xe0 && p[1] && p[2]) {
			cp = (uint32_t)(*p & 0x0f) << 12 |
			    (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
			l = 3;
		} else if ((*p & 0xf8) == 0xf0 && p[1] && p[2] && p[3]) {
			cp = (uint32_t)(*p & 0x07) << 18 |
			    (uint32_t)(p[1] & 0x3f) << 12 |
			    (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
			l = 4;
		} else {
			cp = 0xfffd;	/* validated input never gets here */
			l = 1;
		}
		if (cp < 0x80)
			cp = (uint32_t)tolower((int)cp);
		else if (lc != (locale_t)0)
			cp = (uint32_t)towlower_l((wint_t)cp, lc);
		if (cp < 0x80) {
			enc[0] = (unsigned char)cp;
			i = 1;
		} else if (cp < 0x800) {
			enc[0] = 0xc0 | (cp >> 6);
			enc[1] = 0x80 | (cp & 0x3f);
			i = 2;
		} else if (cp < 0x10000) {
			enc[0] = 0xe0 | (cp >> 12);
			enc[1] = 0x80 | ((cp >> 6) & 0x3f);
			enc[2] = 0x80 | (cp & 0x3f);
			i = 3;
		} else {
			enc[0] = 0xf0 | (cp >> 18);
			enc[1] = 0x80 | ((cp >> 12) & 0x3f);
			enc[2] = 0x80 | ((cp >> 6) & 0x3f);
			enc[3] = 0x80 | (cp & 0x3f);
			i = 4;
		}
		if (o + i + 1 > outsz)
			break;
		memcpy(out + o, enc, i);
		o += i;
		p += l;
	}
	out[o] = '\0';
}

/* Put an index entry key -> val (dupsort: an existing pair is fine). */
static int
idx_put(MDB_txn *txn, MDB_dbi dbi, const char *key, const char *val)
{
	MDB_val k = { strlen(key), (void *)key }, v = { strlen(val),
	    (void *)val };
	int rc;

	if (k.mv_size == 0 || k.mv_size > 500)
		return MDB_BAD_VALSIZE;
	rc = mdb_put(txn, dbi, &k, &v, MDB_NODUPDATA);
	return rc == MDB_KEYEXIST ? 0 : rc;
}

/* Delete the index entry key -> val (a missing one is fine). */
static int
idx_del(MDB_txn *txn, MDB_dbi dbi, const char *key, const char *val)
{
	MDB_val k = { strlen(key), (void *)key }, v = { strlen(val),
	    (void *)val };
	int rc;

	if (k.mv_size == 0 || k.mv_size > 500)
		return 0;
	rc = mdb_del(txn, dbi, &k, &v);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* An import row's error: {line, reason} appended to errs. */
static void
row_err(json_t *errs, json_t *row, const char *reason)
{
	json_array_append_new(errs, json_pack("{s:I,s:s}", "line",
	    json_integer_value(json_object_get(row, "line")), "reason",
	    reason));
}

/* ---------------------------------------------------------- blacklist */

/* "*" or an existing campaign; 0, or -1 with a reason. */
static int
bl_campaign(MDB_txn *txn, const char *c, char *err, size_t errsz)
{
	if (c == NULL || strcmp(c, "*") == 0)
		return 0;
	if (!valid_name(c, "campaign name", err, errsz))
		return -1;
	if (!cdb_exists(txn, C->db_campaigns, c)) {
		snprintf(err, errsz, "no campaign named \"%s\"", c);
		return -1;
	}
	return 0;
}

/* Append one history record. */
static int
bl_hist(struct creq *r, const char *contact, const char *campaign,
    const char *event, const char *detail)
{
	char id[32];
	json_t *h;
	int rc;

	ulid_make("", id);
	h = json_pack("{s:o,s:s,s:s,s:s,s:s,s:s}", "ts", cts(daemon_now_ms()),
	    "contact", contact, "campaign", campaign, "event", event,
	    "detail", detail ? detail : "", "by", r->who);
	if (h == NULL)
		return MDB_BAD_VALSIZE;
	rc = cdb_put(r->txn, C->db_bhist, id, h);
	json_decref(h);
	return rc;
}

/*
 * Add one record in r's write txn.  1 added, 0 already there, -1 refused
 * (reason in err; *store set when it is the store's fault).
 */
static int
bl_add_one(struct creq *r, const char *in, const char *campaign,
    const char *reason, json_t **docp, char *err, size_t errsz, int *store)
{
	char contact[CONTACT_MAX], key[CONTACT_MAX + 80];
	json_t *doc;
	int rc;

	*store = 0;
	if (docp)
		*docp = NULL;
	if (campaign == NULL || *campaign == '\0')
		campaign = "*";
	if (!valid_contact(in, contact, sizeof(contact), err, errsz) ||
	    bl_campaign(r->txn, campaign, err, errsz) == -1)
		return -1;
	if (reason && *reason && !valid_text(reason, REASON_MAX, "reason",
	    err, errsz))
		return -1;
	snprintf(key, sizeof(key), "%s/%s", campaign, contact);
	if (cdb_get(r->txn, C->db_blacklist, key, &doc) == 0) {
		if (docp)
			*docp = doc;
		else
			json_decref(doc);
		return 0;
	}
	doc = json_pack("{s:s,s:s,s:s,s:o,s:s}", "contact", contact,
	    "campaign", campaign, "reason", reason ? reason : "",
	    "created_ts", cts(daemon_now_ms()), "by", r->who);
	if ((rc = cdb_put(r->txn, C->db_blacklist, key, doc)) != 0 ||
	    (rc = bl_hist(r, contact, campaign, "added", reason)) != 0) {
		json_decref(doc);
		snprintf(err, errsz, "%s", mdb_strerror(rc));
		*store = 1;
		return -1;
	}
	if (docp)
		*docp = doc;
	else
		json_decref(doc);
	return 1;
}

static void
bl_add(struct creq *r)
{
	char err[256];
	json_t *doc;
	int rc, store;

	if (creq_begin(r) == -1)
		return;
	rc = bl_add_one(r, r->name, arg_str(r, "campaign"),
	    arg_str(r, "reason"), &doc, err, sizeof(err), &store);
	if (rc == -1)
		creq_err(r, store ? "store" : "invalid", "%s", err);
	else if (rc == 0)
		creq_err(r, "exists", "%s is already blacklisted for %s",
		    rec_str(doc, "contact", NULL),
		    strcmp(rec_str(doc, "campaign", ""), "*") ?
		    rec_str(doc, "campaign", NULL) : "all campaigns");
	else
		creq_ok(r, json_pack("{s:O}", "doc", doc));
	json_decref(doc);
}

/* Filter of list: --contact. */
static int
bl_keep(struct creq *r, json_t *doc, void *arg)
{
	const char *c = arg;

	return c == NULL || strcmp(c, rec_str(doc, "contact", NULL) ?
	    rec_str(doc, "contact", NULL) : "") == 0;
}

static void
bl_list(struct creq *r)
{
	char contact[CONTACT_MAX], prefix[128], err[256];
	const char *camp = arg_str(r, "campaign"), *ct = arg_str(r, "contact");

	if (creq_need(r, ROLE_SUPERVISOR) == -1)
		return;
	if (ct && !valid_contact(ct, contact, sizeof(contact), err,
	    sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		return;
	}
	if (camp && strcmp(camp, "*") != 0 && !valid_name(camp,
	    "campaign name", err, sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		return;
	}
	if (camp)
		snprintf(prefix, sizeof(prefix), "%s/", camp);
	cdb_list(r, C->db_blacklist, camp ? prefix : NULL, bl_keep,
	    ct ? contact : NULL);
}

/* Delete the record at cursor (key k, value v): history, then the record. */
static int
bl_del_at(struct creq *r, MDB_cursor *cur, MDB_val *k, const char *how)
{
	char key[CONTACT_MAX + 80], *slash;
	int rc;

	if (k->mv_size >= sizeof(key))
		return MDB_BAD_VALSIZE;
	memcpy(key, k->mv_data, k->mv_size);
	key[k->mv_size] = '\0';
	if ((slash = strchr(key, '/')) == NULL)
		return MDB_CORRUPTED;
	*slash = '\0';
	if ((rc = bl_hist(r, slash + 1, key, "removed", how)) != 0)
		return rc;
	return mdb_cursor_del(cur, 0);
}

static void
bl_delete(struct creq *r)
{
	char contact[CONTACT_MAX], key[CONTACT_MAX + 80], err[256], how[160];
	const char *camp = arg_str(r, "campaign");
	int allc = arg_bool(r, "all_campaigns", 0), all = arg_bool(r, "all", 0);
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t n = 0, pl;
	int rc;

	if (creq_begin(r) == -1)
		return;
	if (r->name && *r->name && !valid_contact(r->name, contact,
	    sizeof(contact), err, sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		return;
	}
	if (camp && strcmp(camp, "*") != 0 && !valid_name(camp,
	    "campaign name", err, sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		return;
	}
	if ((rc = mdb_cursor_open(r->txn, C->db_blacklist, &cur)) != 0)
		goto store;
	if (r->name && *r->name && camp && !allc && !all) {
		/* one record */
		snprintf(key, sizeof(key), "%s/%s", camp, contact);
		k.mv_size = strlen(key);
		k.mv_data = key;
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET)) != 0) {
			mdb_cursor_close(cur);
			if (rc != MDB_NOTFOUND)
				goto store;
			creq_err(r, "notfound", "%s is not blacklisted for %s",
			    contact, strcmp(camp, "*") ? camp :
			    "all campaigns (\"*\")");
			return;
		}
		if ((rc = bl_del_at(r, cur, &k, "delete")) != 0)
			goto store;
		n = 1;
	} else if (r->name && *r->name && allc && !camp && !all) {
		/* every record of a customer: keys end in "/<contact>" */
		snprintf(how, sizeof(how), "delete --all-campaigns");
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			const char *s = memchr(k.mv_data, '/', k.mv_size);
			size_t rest;

			if (s == NULL)
				continue;
			rest = k.mv_size - (size_t)(s + 1 - (char *)k.mv_data);
			if (rest != strlen(contact) || memcmp(s + 1, contact,
			    rest) != 0)
				continue;
			if ((rc = bl_del_at(r, cur, &k, how)) != 0)
				goto store;
			n++;
		}
		if (rc != MDB_NOTFOUND)
			goto store;
		if (n == 0) {
			mdb_cursor_close(cur);
			creq_err(r, "notfound", "%s is not blacklisted for any "
			    "campaign", contact);
			return;
		}
	} else if ((r->name == NULL || *r->name == '\0') && camp && all &&
	    !allc) {
		/* every record of a campaign: keys start "<campaign>/" */
		snprintf(how, sizeof(how), "delete --campaign %s --all", camp);
		snprintf(key, sizeof(key), "%s/", camp);
		pl = strlen(key);
		k.mv_size = pl;
		k.mv_data = key;
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size < pl || memcmp(k.mv_data, key, pl) != 0)
				break;
			/* after a delete, MDB_NEXT gives the record that
			 * followed the deleted one */
			if ((rc = bl_del_at(r, cur, &k, how)) != 0)
				goto store;
			n++;
		}
		if (rc != 0 && rc != MDB_NOTFOUND)
			goto store;
		if (n == 0) {
			mdb_cursor_close(cur);
			creq_err(r, "notfound", "no blacklist records for %s",
			    strcmp(camp, "*") ? camp : "all campaigns (\"*\")");
			return;
		}
	} else {
		mdb_cursor_close(cur);
		creq_err(r, "invalid", "say which records: CONTACT --campaign "
		    "C, CONTACT --all-campaigns, or --campaign C --all");
		return;
	}
	mdb_cursor_close(cur);
	creq_ok(r, json_pack("{s:I}", "deleted", (json_int_t)n));
	return;
store:
	if (cur)
		mdb_cursor_close(cur);
	creq_err(r, "store", "%s", mdb_strerror(rc));
}

static void
bl_import(struct creq *r)
{
	json_t *rows = arg(r, "rows"), *row, *errs;
	char err[256];
	size_t i, added = 0, existing = 0;
	int rc, store;

	if (creq_begin(r) == -1)
		return;
	if (!json_is_array(rows) || json_array_size(rows) > IMPORT_ROWS) {
		creq_err(r, "invalid", "import: rows must be an array of at "
		    "most %d rows", IMPORT_ROWS);
		return;
	}
	errs = json_array();
	json_array_foreach(rows, i, row) {
		rc = bl_add_one(r, rec_str(row, "contact", NULL),
		    rec_str(row, "campaign", NULL),
		    rec_str(row, "reason", NULL), NULL, err, sizeof(err),
		    &store);
		if (rc == -1 && store) {
			json_decref(errs);
			creq_err(r, "store", "%s", err);
			return;
		}
		if (rc == -1)
			row_err(errs, row, err);
		else if (rc == 0)
			existing++;
		else
			added++;
	}
	creq_ok(r, json_pack("{s:I,s:I,s:o}", "added", (json_int_t)added,
	    "existing", (json_int_t)existing, "errors", errs));
}

static void
bl_check(struct creq *r)
{
	char contact[CONTACT_MAX], key[CONTACT_MAX + 80], err[256];
	const char *camp = arg_str(r, "campaign");
	json_t *items = json_array(), *doc;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (creq_need(r, ROLE_AGENT) == -1)
		goto out;
	if (!valid_contact(r->name, contact, sizeof(contact), err,
	    sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		goto out;
	}
	if (camp && strcmp(camp, "*") != 0) {
		if (bl_campaign(r->txn, camp, err, sizeof(err)) == -1) {
			creq_err(r, "invalid", "%s", err);
			goto out;
		}
		/* the campaign's own record first, then the global one */
		snprintf(key, sizeof(key), "%s/%s", camp, contact);
		if (cdb_get(r->txn, C->db_blacklist, key, &doc) == 0)
			json_array_append_new(items, doc);
		snprintf(key, sizeof(key), "*/%s", contact);
		if (cdb_get(r->txn, C->db_blacklist, key, &doc) == 0)
			json_array_append_new(items, doc);
	} else if (camp) {
		snprintf(key, sizeof(key), "*/%s", contact);
		if (cdb_get(r->txn, C->db_blacklist, key, &doc) == 0)
			json_array_append_new(items, doc);
	} else {
		/* any record of the customer */
		if ((rc = mdb_cursor_open(r->txn, C->db_blacklist, &cur))
		    != 0) {
			creq_err(r, "store", "%s", mdb_strerror(rc));
			goto out;
		}
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			const char *s = memchr(k.mv_data, '/', k.mv_size);
			size_t rest;

			if (s == NULL || k.mv_size >= sizeof(key))
				continue;
			rest = k.mv_size - (size_t)(s + 1 - (char *)k.mv_data);
			if (rest != strlen(contact) || memcmp(s + 1, contact,
			    rest) != 0)
				continue;
			memcpy(key, k.mv_data, k.mv_size);
			key[k.mv_size] = '\0';
			if (cdb_get(r->txn, C->db_blacklist, key, &doc) == 0)
				json_array_append_new(items, doc);
		}
		mdb_cursor_close(cur);
	}
	creq_ok(r, json_pack("{s:b,s:s,s:O}", "blocked",
	    json_array_size(items) > 0, "contact", contact, "items", items));
out:
	json_decref(items);
}

/* A blocked attempt (routerd, or a script enforcing the blacklist). */
static void
bl_blocked(struct creq *r)
{
	const char *ct = arg_str(r, "contact"), *camp = arg_str(r, "campaign");
	const char *detail = arg_str(r, "detail");
	char contact[CONTACT_MAX], err[256];
	int rc;

	/* routerd's report of a refused attempt: no person may forge one */
	if (!bus_peer_daemon(r->c)) {
		creq_err(r, "denied", "blacklist blocked is reported only by "
		    "routerd");
		return;
	}
	if (creq_begin(r) == -1)
		return;
	if (ct == NULL)
		ct = r->name;
	if (camp == NULL || *camp == '\0')
		camp = "*";
	/* the contact as routerd knows it: normalised when it is a phone
	 * number or an address, kept as it is otherwise (a page-scoped id) */
	if (!valid_contact(ct, contact, sizeof(contact), err, sizeof(err))) {
		if (ct == NULL || *ct == '\0' || strlen(ct) >= CONTACT_MAX ||
		    !valid_text(ct, CONTACT_MAX, "contact", err, sizeof(err))) {
			creq_err(r, "invalid", "%s", err);
			return;
		}
		snprintf(contact, sizeof(contact), "%s", ct);
	}
	if (strcmp(camp, "*") != 0 && !valid_name(camp, "campaign name", err,
	    sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		return;
	}
	if (detail && !valid_text(detail, REASON_MAX, "detail", err,
	    sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		return;
	}
	if ((rc = bl_hist(r, contact, camp, "blocked", detail)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return;
	}
	creq_ok(r, NULL);
}

/* History, newest first, paged by key ("after": the last key seen). */
static void
bl_history(struct creq *r)
{
	const char *after = arg_str(r, "after"), *ct = arg_str(r, "contact");
	const char *camp = arg_str(r, "campaign");
	json_int_t limit = json_integer_value(arg(r, "limit"));
	char contact[CONTACT_MAX], err[256], last[64] = "";
	json_t *items = json_array(), *doc, *ans;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t scanned = 0, cl = 0;
	int rc, more = 0;

	if (creq_need(r, ROLE_SUPERVISOR) == -1)
		goto out;
	if (ct) {
		if (!valid_contact(ct, contact, sizeof(contact), err,
		    sizeof(err)))
			snprintf(contact, sizeof(contact), "%s", ct);
		cl = strlen(contact);
	}
	if (limit <= 0 || limit > 1000)
		limit = 1000;
	if ((rc = mdb_cursor_open(r->txn, C->db_bhist, &cur)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	if (after && *after) {
		k.mv_size = strlen(after);
		k.mv_data = (void *)after;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
		else if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	} else
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		if ((json_int_t)json_array_size(items) >= limit ||
		    scanned >= HIST_SCAN) {
			more = 1;
			break;
		}
		scanned++;
		if (k.mv_size < sizeof(last)) {
			memcpy(last, k.mv_data, k.mv_size);
			last[k.mv_size] = '\0';
		}
		/* cheap test on the packed bytes before decoding */
		if (cl && memmem(v.mv_data, v.mv_size, contact, cl) == NULL)
			continue;
		if (cdb_get(r->txn, C->db_bhist, last, &doc) != 0)
			continue;
		if ((cl && strcmp(rec_str(doc, "contact", ""), contact) != 0) ||
		    (camp && strcmp(rec_str(doc, "campaign", ""), camp) != 0)) {
			json_decref(doc);
			continue;
		}
		json_array_append_new(items, doc);
	}
	mdb_cursor_close(cur);
	ans = json_pack("{s:O,s:b}", "items", items, "more", more);
	if (more)
		json_object_set_new(ans, "next", json_string(last));
	creq_ok(r, ans);
out:
	json_decref(items);
}

int
blacklist_op(struct creq *r)
{
	if (strcmp(r->op, "add") == 0)
		bl_add(r);
	else if (strcmp(r->op, "list") == 0)
		bl_list(r);
	else if (strcmp(r->op, "delete") == 0)
		bl_delete(r);
	else if (strcmp(r->op, "import") == 0)
		bl_import(r);
	else if (strcmp(r->op, "check") == 0)
		bl_check(r);
	else if (strcmp(r->op, "blocked") == 0)
		bl_blocked(r);
	else if (strcmp(r->op, "history") == 0)
		bl_history(r);
	return 0;
}

/* ----------------------------------------------------------- contacts */

/* A custom field's name: like an identifier, and not a built-in one. */
static int
ct_field_name(const char *k, char *err, size_t errsz)
{
	static const char *const builtin[] = { "id", "name", "first_name",
	    "last_name", "phone", "email", "timezone", "tags", "fields",
	    "created_ts", "updated_ts", NULL };
	size_t i;

	if (!valid_name(k, "field name", err, errsz))
		return 0;
	for (i = 0; builtin[i]; i++)
		if (strcmp(k, builtin[i]) == 0) {
			snprintf(err, errsz, "\"%s\" is not a custom field "
			    "(it is a contact's own)", k);
			return 0;
		}
	return 1;
}

void
contact_names(json_t *doc)
{
	const char *first = rec_str(doc, "first_name", NULL);
	const char *last = rec_str(doc, "last_name", NULL);
	const char *name = rec_str(doc, "name", NULL);
	char buf[NAME_MAX_CHARS * 4 * 2 + 2];
	size_t n;

	if (first && *first == '\0')
		first = NULL;
	if (last && *last == '\0')
		last = NULL;
	if (first || last) {
		snprintf(buf, sizeof(buf), "%s%s%s", first ? first : "",
		    first && last ? " " : "", last ? last : "");
		json_object_set_new(doc, "name", json_string(buf));
		return;
	}
	if (name == NULL || *name == '\0')
		return;
	/* a record from before the split: the first word, then the rest */
	n = strcspn(name, " ");
	json_object_set_new(doc, "first_name", json_stringn(name, n));
	while (name[n] == ' ')
		n++;
	if (name[n])
		json_object_set_new(doc, "last_name", json_string(name + n));
}

/* A name field: text without control characters, or empty (removed). */
static int
ct_name_field(json_t *doc, const char *key, const char *what, char *err,
    size_t errsz)
{
	json_t *v = json_object_get(doc, key);
	const char *s;
	size_t i;

	if (v == NULL)
		return 0;
	if (json_is_null(v) || (json_is_string(v) && json_string_length(v)
	    == 0)) {
		json_object_del(doc, key);
		return 0;
	}
	if ((s = json_string_value(v)) == NULL) {
		snprintf(err, errsz, "%s must be text", what);
		return -1;
	}
	if (!valid_text(s, NAME_MAX_CHARS, what, err, errsz))
		return -1;
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(err, errsz, "%s must not hold control "
			    "characters", what);
			return -1;
		}
	return 0;
}

/* Time zone (IANA, tzdata) and tags of a contact, checked in place. */
static int
ct_tz_tags(json_t *doc, char *err, size_t errsz)
{
	json_t *tz = json_object_get(doc, "timezone"), *tags, *t, *out, *u;
	size_t i, j;

	if (tz && (json_is_null(tz) || (json_is_string(tz) &&
	    json_string_length(tz) == 0)))
		json_object_del(doc, "timezone");
	else if (tz && (!json_is_string(tz) || json_string_length(tz) > 64 ||
	    !sched_tz_valid(json_string_value(tz)))) {
		snprintf(err, errsz, "unknown time zone \"%.60s\": use an IANA "
		    "name such as Europe/Paris or America/New_York",
		    json_is_string(tz) ? json_string_value(tz) : "?");
		return -1;
	}
	if ((tags = json_object_get(doc, "tags")) == NULL)
		return 0;
	if (json_is_null(tags)) {
		json_object_del(doc, "tags");
		return 0;
	}
	if (!json_is_array(tags) || json_array_size(tags) > 100) {
		snprintf(err, errsz, "tags must be a list of at most 100 tags");
		return -1;
	}
	out = json_array();
	json_array_foreach(tags, i, t) {
		if (!json_is_string(t) || !valid_tag(json_string_value(t), err,
		    errsz)) {
			if (!json_is_string(t))
				snprintf(err, errsz, "a tag must be text");
			json_decref(out);
			return -1;
		}
		json_array_foreach(out, j, u)
			if (strcmp(json_string_value(u), json_string_value(t))
			    == 0)
				break;
		if (j == json_array_size(out))
			json_array_append(out, t);
	}
	if (json_array_size(out) == 0)
		json_object_del(doc, "tags");
	else
		json_object_set(doc, "tags", out);
	json_decref(out);
	return 0;
}

/*
 * Check and normalise a contact document in place: names (first_name,
 * last_name and name kept together, see contact_names), phone (E.164),
 * email (lower-cased), timezone, tags, fields (text).  Empty phone, email
 * or field values are removed.  0, or -1 with a one-line reason.
 */
static int
ct_check_any(json_t *doc, int need_name, char *err, size_t errsz)
{
	const char *name, *k;
	const char *phone = rec_str(doc, "phone", NULL);
	const char *email = rec_str(doc, "email", NULL);
	char norm[CONTACT_MAX];
	json_t *fields = json_object_get(doc, "fields"), *v;
	void *tmp;

	if (ct_name_field(doc, "first_name", "first name", err, errsz) ==
	    -1 || ct_name_field(doc, "last_name", "last name", err, errsz) ==
	    -1 || ct_name_field(doc, "name", "contact name", err, errsz) == -1)
		return -1;
	contact_names(doc);
	name = rec_str(doc, "name", NULL);
	if (need_name && (name == NULL || *name == '\0')) {
		snprintf(err, errsz, "a contact needs a name");
		return -1;
	}
	if (name && !valid_text(name, NAME_MAX_CHARS, "contact name", err,
	    errsz))
		return -1;
	if (ct_tz_tags(doc, err, errsz) == -1)
		return -1;
	if (json_object_get(doc, "phone") && phone == NULL) {
		snprintf(err, errsz, "phone must be text");
		return -1;
	}
	if (json_object_get(doc, "email") && email == NULL) {
		snprintf(err, errsz, "email must be text");
		return -1;
	}
	if (phone && *phone == '\0') {
		json_object_del(doc, "phone");
		phone = NULL;
	}
	if (email && *email == '\0') {
		json_object_del(doc, "email");
		email = NULL;
	}
	if (phone == NULL && email == NULL) {
		snprintf(err, errsz, "a contact needs a phone number or an "
		    "e-mail address");
		return -1;
	}
	if (phone && !valid_e164(phone)) {
		snprintf(err, errsz, "phone \"%.80s\" is not E.164 ('+' and 8 "
		    "to 15 digits, e.g. +15551234567)", phone);
		return -1;
	}
	if (email) {
		if (!valid_contact(email, norm, sizeof(norm), err, errsz) ||
		    norm[0] == '+') {
			snprintf(err, errsz, "email \"%.80s\" is not a valid "
			    "e-mail address", email);
			return -1;
		}
		json_object_set_new(doc, "email", json_string(norm));
	}
	if (fields == NULL || json_is_null(fields)) {
		json_object_set_new(doc, "fields", json_object());
		return 0;
	}
	if (!json_is_object(fields)) {
		snprintf(err, errsz, "fields must be an object of text values");
		return -1;
	}
	json_object_foreach_safe(fields, tmp, k, v) {
		char what[96];

		if (!ct_field_name(k, err, errsz))
			return -1;
		if (!json_is_string(v)) {
			snprintf(err, errsz, "field %s must be text", k);
			return -1;
		}
		if (json_string_length(v) == 0) {
			json_object_del(fields, k);
			continue;
		}
		snprintf(what, sizeof(what), "field %s", k);
		if (!valid_text(json_string_value(v), FIELD_MAX_CHARS, what,
		    err, errsz))
			return -1;
	}
	if (json_object_size(fields) > FIELDS_MAX) {
		snprintf(err, errsz, "a contact has at most %d custom fields",
		    FIELDS_MAX);
		return -1;
	}
	return 0;
}

static int
ct_check(json_t *doc, char *err, size_t errsz)
{
	return ct_check_any(doc, 1, err, errsz);
}

int
contact_check_row(json_t *row, int need_name, char *err, size_t errsz)
{
	return ct_check_any(row, need_name, err, errsz);
}

/* The id of the contact holding val in index dbi, or "" for none. */
static int
ct_owner(MDB_txn *txn, MDB_dbi dbi, const char *val, char *id, size_t idsz)
{
	int rc;

	id[0] = '\0';
	if (val == NULL || *val == '\0')
		return 0;
	rc = cdb_iget(txn, dbi, val, id, idsz);
	if (rc == MDB_NOTFOUND) {
		id[0] = '\0';
		return 0;
	}
	return rc;
}

/* "contact ct_X (Name)" for a refusal. */
static void
ct_who(MDB_txn *txn, const char *id, char *buf, size_t bufsz)
{
	json_t *doc;

	if (cdb_get(txn, C->db_contacts, id, &doc) == 0) {
		snprintf(buf, bufsz, "contact %s (%.60s)", id,
		    rec_str(doc, "name", ""));
		json_decref(doc);
	} else
		snprintf(buf, bufsz, "contact %s", id);
}

/*
 * Refuse a phone or e-mail of doc already used by a contact other than
 * self (NULL for a new contact): 0 free, -1 with the reason in err.
 */
static int
ct_unique(MDB_txn *txn, json_t *doc, const char *self, char *err,
    size_t errsz, int *store)
{
	static const char *const what[] = { "phone", "email" };
	char id[64], who[128];
	MDB_dbi dbis[2] = { C->db_cphone, C->db_cemail };
	int i, rc;

	*store = 0;
	for (i = 0; i < 2; i++) {
		if ((rc = ct_owner(txn, dbis[i], rec_str(doc, what[i], NULL),
		    id, sizeof(id))) != 0) {
			*store = 1;
			snprintf(err, errsz, "%s", mdb_strerror(rc));
			return -1;
		}
		if (id[0] && (self == NULL || strcmp(id, self) != 0)) {
			ct_who(txn, id, who, sizeof(who));
			snprintf(err, errsz, "%s %s is already used by %s",
			    what[i], rec_str(doc, what[i], NULL), who);
			return -1;
		}
	}
	return 0;
}

/*
 * The name index keys of a contact: its name lower-cased, and "last
 * first" when it has both (so a search finds it by its last name too).
 * doc's names are split first (contact_names).
 */
static void
ct_name_keys(json_t *doc, char k[2][NAME_KEY_MAX + 1])
{
	char buf[NAME_MAX_CHARS * 4 * 2 + 2];

	k[0][0] = k[1][0] = '\0';
	if (doc == NULL)
		return;
	contact_names(doc);
	if (rec_str(doc, "name", NULL))
		lower_text(rec_str(doc, "name", NULL), k[0], NAME_KEY_MAX + 1);
	if (rec_str(doc, "first_name", NULL) && rec_str(doc, "last_name",
	    NULL)) {
		snprintf(buf, sizeof(buf), "%s %s", rec_str(doc, "last_name",
		    ""), rec_str(doc, "first_name", ""));
		lower_text(buf, k[1], NAME_KEY_MAX + 1);
	}
}

/* Write doc under its id and keep the indexes exact (old: the stored
 * version, or NULL for a new contact). */
static int
ct_store(MDB_txn *txn, json_t *old, json_t *doc)
{
	const char *id = rec_str(doc, "id", NULL);
	const char *op = old ? rec_str(old, "phone", NULL) : NULL;
	const char *oe = old ? rec_str(old, "email", NULL) : NULL;
	const char *np = rec_str(doc, "phone", NULL);
	const char *ne = rec_str(doc, "email", NULL);
	char on[2][NAME_KEY_MAX + 1], nn[2][NAME_KEY_MAX + 1];
	int rc, i;

	ct_name_keys(old, on);
	ct_name_keys(doc, nn);
	if (op && (np == NULL || strcmp(op, np) != 0) &&
	    (rc = idx_del(txn, C->db_cphone, op, id)) != 0)
		return rc;
	if (oe && (ne == NULL || strcmp(oe, ne) != 0) &&
	    (rc = idx_del(txn, C->db_cemail, oe, id)) != 0)
		return rc;
	for (i = 0; i < 2; i++)
		if (on[i][0] && strcmp(on[i], nn[0]) != 0 && strcmp(on[i],
		    nn[1]) != 0 && (rc = idx_del(txn, C->db_cname, on[i], id))
		    != 0)
			return rc;
	if (np && (rc = idx_put(txn, C->db_cphone, np, id)) != 0)
		return rc;
	if (ne && (rc = idx_put(txn, C->db_cemail, ne, id)) != 0)
		return rc;
	for (i = 0; i < 2; i++)
		if (nn[i][0] && (rc = idx_put(txn, C->db_cname, nn[i], id))
		    != 0)
			return rc;
	return cdb_put(txn, C->db_contacts, id, doc);
}

/* Remove a stored contact, its index entries and its list memberships. */
static int
ct_remove(MDB_txn *txn, json_t *old)
{
	const char *id = rec_str(old, "id", NULL);
	char on[2][NAME_KEY_MAX + 1];
	int rc, i;

	if (rec_str(old, "phone", NULL) && (rc = idx_del(txn, C->db_cphone,
	    rec_str(old, "phone", NULL), id)) != 0)
		return rc;
	if (rec_str(old, "email", NULL) && (rc = idx_del(txn, C->db_cemail,
	    rec_str(old, "email", NULL), id)) != 0)
		return rc;
	ct_name_keys(old, on);
	for (i = 0; i < 2; i++)
		if (on[i][0] && (rc = idx_del(txn, C->db_cname, on[i], id))
		    != 0)
			return rc;
	if ((rc = list_forget(txn, id)) != 0)
		return rc;
	return cdb_del(txn, C->db_contacts, id);
}

/* A new document from request-style fields {name, phone, email, fields}. */
static json_t *
ct_new(json_t *src, const char *id)
{
	json_t *doc = json_object();
	char buf[32];
	static const char *const keys[] = { "name", "first_name",
	    "last_name", "phone", "email", "timezone", "tags", "fields",
	    NULL };
	size_t i;

	if (id == NULL) {
		ulid_make("ct_", buf);
		id = buf;
	}
	json_object_set_new(doc, "id", json_string(id));
	for (i = 0; keys[i]; i++)
		if (json_object_get(src, keys[i]))
			json_object_set(doc, keys[i], json_object_get(src,
			    keys[i]));
	if (json_is_object(json_object_get(doc, "fields")))
		json_object_set_new(doc, "fields", json_deep_copy(
		    json_object_get(doc, "fields")));
	return doc;
}

/* Merge src's non-empty names, phone, email, time zone, tags and
 * fields into doc. */
static void
ct_merge(json_t *doc, json_t *src)
{
	static const char *const keys[] = { "phone", "email", "timezone",
	    NULL };
	json_t *f = json_object_get(src, "fields"), *df, *v;
	const char *k;
	size_t i;

	contact_names(doc);
	if (rec_str(src, "first_name", NULL) || rec_str(src, "last_name",
	    NULL)) {
		if (rec_str(src, "first_name", NULL))
			json_object_set(doc, "first_name", json_object_get(src,
			    "first_name"));
		if (rec_str(src, "last_name", NULL))
			json_object_set(doc, "last_name", json_object_get(src,
			    "last_name"));
		json_object_del(doc, "name");
	} else if (rec_str(src, "name", NULL)) {
		json_object_set(doc, "name", json_object_get(src, "name"));
		json_object_del(doc, "first_name");
		json_object_del(doc, "last_name");
	}
	if (json_array_size(json_object_get(src, "tags")) > 0)
		json_object_set(doc, "tags", json_object_get(src, "tags"));

	for (i = 0; keys[i]; i++)
		if (json_is_string(json_object_get(src, keys[i])) &&
		    json_string_length(json_object_get(src, keys[i])) > 0)
			json_object_set(doc, keys[i], json_object_get(src,
			    keys[i]));
	if (!json_is_object(f))
		return;
	df = json_object_get(doc, "fields");
	if (!json_is_object(df)) {
		df = json_object();
		json_object_set_new(doc, "fields", df);
	}
	json_object_foreach(f, k, v)
		if (!json_is_string(v) || json_string_length(v) > 0)
			json_object_set(df, k, v);
}

/* A well-formed contact id. */
static int
ct_id_ok(const char *id)
{
	return id && strncmp(id, "ct_", 3) == 0 && strlen(id) == 3 +
	    ULID_LEN && ulid_valid(id + 3);
}

static void
ct_add(struct creq *r)
{
	char err[256];
	json_t *doc;
	int rc, store;

	if (creq_begin(r) == -1)
		return;
	doc = ct_new(r->args, NULL);
	if (ct_check(doc, err, sizeof(err)) == -1) {
		creq_err(r, "invalid", "%s", err);
		goto out;
	}
	if (ct_unique(r->txn, doc, NULL, err, sizeof(err), &store) == -1) {
		creq_err(r, store ? "store" : "exists", "%s", err);
		goto out;
	}
	json_object_set_new(doc, "created_ts", cts(daemon_now_ms()));
	json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
	if ((rc = ct_store(r->txn, NULL, doc)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	creq_ok(r, json_pack("{s:O}", "doc", doc));
out:
	json_decref(doc);
}

static void
ct_edit(struct creq *r)
{
	char err[256];
	json_t *old = NULL, *doc = NULL, *unset = arg(r, "unset"), *f, *v;
	const char *k;
	size_t i;
	int rc, store;

	if (creq_begin(r) == -1)
		return;
	if (cdb_get(r->txn, C->db_contacts, r->name ? r->name : "", &old)
	    != 0) {
		creq_err(r, "notfound", "no contact %s", r->name ? r->name :
		    "(an id is required)");
		return;
	}
	doc = json_deep_copy(old);
	contact_names(doc);
	/* r->name is the id: a new name comes as "newname", split again */
	if (arg(r, "newname")) {
		json_object_set(doc, "name", arg(r, "newname"));
		json_object_del(doc, "first_name");
		json_object_del(doc, "last_name");
	}
	if (arg(r, "first_name") || arg(r, "last_name")) {
		if (arg(r, "first_name"))
			json_object_set(doc, "first_name", arg(r,
			    "first_name"));
		if (arg(r, "last_name"))
			json_object_set(doc, "last_name", arg(r,
			    "last_name"));
		json_object_del(doc, "name");
	}
	if (arg(r, "timezone"))
		json_object_set(doc, "timezone", arg(r, "timezone"));
	if (arg(r, "tags"))
		json_object_set(doc, "tags", arg(r, "tags"));
	if (json_object_get(r->args, "phone"))
		json_object_set(doc, "phone", json_object_get(r->args,
		    "phone"));
	if (json_object_get(r->args, "email"))
		json_object_set(doc, "email", json_object_get(r->args,
		    "email"));
	if (!json_is_object(json_object_get(doc, "fields")))
		json_object_set_new(doc, "fields", json_object());
	f = json_object_get(doc, "fields");
	if (json_is_object(arg(r, "fields")))
		json_object_foreach(arg(r, "fields"), k, v)
			json_object_set(f, k, v);
	else if (arg(r, "fields")) {
		creq_err(r, "invalid", "fields must be an object of text "
		    "values");
		goto out;
	}
	if (unset && !json_is_array(unset)) {
		creq_err(r, "invalid", "unset must be a list of field names");
		goto out;
	}
	json_array_foreach(unset, i, v) {
		if (!json_is_string(v) || json_object_get(f,
		    json_string_value(v)) == NULL) {
			creq_err(r, "invalid", "contact %s has no field %s",
			    r->name, json_is_string(v) ? json_string_value(v) :
			    "(not text)");
			goto out;
		}
		json_object_del(f, json_string_value(v));
	}
	if (ct_check(doc, err, sizeof(err)) == -1) {
		creq_err(r, "invalid", "%s", err);
		goto out;
	}
	if (ct_unique(r->txn, doc, r->name, err, sizeof(err), &store) == -1) {
		creq_err(r, store ? "store" : "exists", "%s", err);
		goto out;
	}
	json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
	if ((rc = ct_store(r->txn, old, doc)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	creq_ok(r, json_pack("{s:O}", "doc", doc));
out:
	json_decref(old);
	json_decref(doc);
}

static void
ct_delete(struct creq *r)
{
	json_t *old;
	int rc;

	if (creq_begin(r) == -1)
		return;
	if (cdb_get(r->txn, C->db_contacts, r->name ? r->name : "", &old)
	    != 0) {
		creq_err(r, "notfound", "no contact %s", r->name ? r->name :
		    "(an id is required)");
		return;
	}
	if ((rc = ct_remove(r->txn, old)) != 0)
		creq_err(r, "store", "%s", mdb_strerror(rc));
	else
		creq_ok(r, json_pack("{s:s}", "deleted", r->name));
	json_decref(old);
}

/* Append the contacts whose ids are in dbi under key (dupsort). */
static int
ct_fetch(MDB_txn *txn, MDB_dbi dbi, const char *key, json_t *items)
{
	char id[64];
	json_t *doc;
	int rc;

	if ((rc = ct_owner(txn, dbi, key, id, sizeof(id))) != 0 || !id[0])
		return rc;
	if (cdb_get(txn, C->db_contacts, id, &doc) == 0) {
		contact_names(doc);
		json_array_append_new(items, doc);
	}
	return 0;
}

/* Is id already among items? */
static int
ct_seen(json_t *ids, const char *id, size_t len)
{
	size_t i;
	json_t *v;

	json_array_foreach(ids, i, v)
		if (json_string_length(v) == len &&
		    memcmp(json_string_value(v), id, len) == 0)
			return 1;
	return 0;
}

/*
 * By name: the cname prefix range first (names starting with q), then a
 * bounded scan of the whole index for names holding q elsewhere.
 */
static int
ct_search_name(MDB_txn *txn, const char *q, json_int_t limit, json_t *items,
    int *more, size_t *scanned)
{
	char lq[NAME_KEY_MAX + 1];
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *ids = json_array(), *doc;
	size_t ql, i;
	int rc, pass;

	lower_text(q, lq, sizeof(lq));
	ql = strlen(lq);
	*more = 0;
	*scanned = 0;
	if ((rc = mdb_cursor_open(txn, C->db_cname, &cur)) != 0)
		goto out;
	for (pass = 0; pass < 2 && !*more; pass++) {
		if (pass == 0) {
			k.mv_size = ql;
			k.mv_data = lq;
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		} else
			rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			int prefix = k.mv_size >= ql &&
			    memcmp(k.mv_data, lq, ql) == 0;

			if (pass == 0 && !prefix)
				break;
			if (pass == 1 && ++*scanned > SEARCH_SCAN) {
				*more = 1;
				break;
			}
			if (pass == 1 && (prefix || memmem(k.mv_data,
			    k.mv_size, lq, ql) == NULL))
				continue;
			if ((json_int_t)json_array_size(ids) >= limit) {
				*more = 1;
				break;
			}
			if (!ct_seen(ids, v.mv_data, v.mv_size))
				json_array_append_new(ids, json_stringn(
				    v.mv_data, v.mv_size));
		}
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		rc = 0;
	}
	mdb_cursor_close(cur);
	if (rc != 0)
		goto out;
	for (i = 0; i < json_array_size(ids); i++)
		if (cdb_get(txn, C->db_contacts, json_string_value(
		    json_array_get(ids, i)), &doc) == 0) {
			contact_names(doc);
			json_array_append_new(items, doc);
		}
out:
	json_decref(ids);
	return rc;
}

static void
ct_search(struct creq *r)
{
	const char *q = arg_str(r, "query");
	json_int_t limit = json_integer_value(arg(r, "limit"));
	char norm[CONTACT_MAX], err[256];
	json_t *items = json_array(), *ans;
	size_t scanned = 0;
	int rc, more = 0;

	if (creq_need(r, ROLE_AGENT) == -1)
		goto out;
	if (q == NULL)
		q = r->name;
	if (q == NULL || *q == '\0') {
		creq_err(r, "invalid", "search: say what to look for: a name, "
		    "a phone number or an e-mail address");
		goto out;
	}
	if (limit <= 0 || limit > 1000)
		limit = SEARCH_LIMIT;
	if (q[0] == '+' || strchr(q, '@')) {
		if (!valid_contact(q, norm, sizeof(norm), err, sizeof(err))) {
			creq_err(r, "invalid", "%s", err);
			goto out;
		}
		rc = ct_fetch(r->txn, norm[0] == '+' ? C->db_cphone :
		    C->db_cemail, norm, items);
	} else if (!valid_text(q, NAME_MAX_CHARS, "query", err,
	    sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		goto out;
	} else
		rc = ct_search_name(r->txn, q, limit, items, &more, &scanned);
	if (rc != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	ans = json_pack("{s:O,s:b}", "items", items, "more", more);
	creq_ok(r, ans);
out:
	json_decref(items);
}

/*
 * One import row: validate, find the contact it may duplicate, then
 * create, or with update merge.  0 done (*what: 'c' created, 'u'
 * updated), -1 refused (reason in err), -2 store error (err).
 */
static int
ct_import_row(struct creq *r, json_t *row, int update, char *err,
    size_t errsz, int *what)
{
	const char *id = rec_str(row, "id", NULL);
	char owner[3][64], who[128];
	json_t *doc = NULL, *old = NULL;
	const char *hit = NULL;
	int i, rc = -1, store;

	if (id && *id == '\0')
		id = NULL;
	if (id && !ct_id_ok(id)) {
		snprintf(err, errsz, "id \"%.40s\" is not a contact id "
		    "(ct_ and a ULID)", id);
		return -1;
	}
	doc = ct_new(row, id);
	if (ct_check(doc, err, errsz) == -1)
		goto out;
	/* who holds this id, phone and e-mail already */
	owner[0][0] = '\0';
	if (id && cdb_exists(r->txn, C->db_contacts, id))
		snprintf(owner[0], sizeof(owner[0]), "%s", id);
	if (ct_owner(r->txn, C->db_cphone, rec_str(doc, "phone", NULL),
	    owner[1], sizeof(owner[1])) != 0 || ct_owner(r->txn, C->db_cemail,
	    rec_str(doc, "email", NULL), owner[2], sizeof(owner[2])) != 0) {
		snprintf(err, errsz, "store: reading the indexes failed");
		rc = -2;
		goto out;
	}
	for (i = 0; i < 3; i++) {
		if (!owner[i][0])
			continue;
		if (hit && strcmp(hit, owner[i]) != 0) {
			snprintf(err, errsz, "%s matches two contacts, %s "
			    "and %s", i == 1 ? "its phone" : "its e-mail",
			    hit, owner[i]);
			goto out;
		}
		hit = owner[i];
	}
	if (hit && !update) {
		ct_who(r->txn, hit, who, sizeof(who));
		if (owner[0][0])
			snprintf(err, errsz, "duplicate: %s exists", who);
		else if (owner[1][0])
			snprintf(err, errsz, "duplicate: phone %s is already "
			    "used by %s", rec_str(doc, "phone", NULL), who);
		else
			snprintf(err, errsz, "duplicate: email %s is already "
			    "used by %s", rec_str(doc, "email", NULL), who);
		goto out;
	}
	if (hit) {
		json_t *merged;

		if (cdb_get(r->txn, C->db_contacts, hit, &old) != 0) {
			snprintf(err, errsz, "contact %s is unreadable", hit);
			goto out;
		}
		merged = json_deep_copy(old);
		ct_merge(merged, doc);
		json_decref(doc);
		doc = merged;
		if (ct_check(doc, err, errsz) == -1)
			goto out;
		if (ct_unique(r->txn, doc, hit, err, errsz, &store) == -1) {
			rc = store ? -2 : -1;
			goto out;
		}
		json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
		*what = 'u';
	} else {
		json_object_set_new(doc, "created_ts", cts(daemon_now_ms()));
		json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
		*what = 'c';
	}
	if ((rc = ct_store(r->txn, old, doc)) != 0) {
		snprintf(err, errsz, "%s", mdb_strerror(rc));
		rc = -2;
		goto out;
	}
	rc = 0;
out:
	json_decref(doc);
	json_decref(old);
	return rc;
}

static void
ct_import(struct creq *r)
{
	json_t *rows = arg(r, "rows"), *row, *errs;
	int update = arg_bool(r, "update", 0), rc, what;
	size_t i, created = 0, updated = 0;
	char err[512];

	if (creq_begin(r) == -1)
		return;
	if (!json_is_array(rows) || json_array_size(rows) > IMPORT_ROWS) {
		creq_err(r, "invalid", "import: rows must be an array of at "
		    "most %d rows", IMPORT_ROWS);
		return;
	}
	errs = json_array();
	json_array_foreach(rows, i, row) {
		if (!json_is_object(row)) {
			json_decref(errs);
			creq_err(r, "invalid", "import: a row is not an object");
			return;
		}
		rc = ct_import_row(r, row, update, err, sizeof(err), &what);
		if (rc == -2) {
			json_decref(errs);
			creq_err(r, "store", "%s", err);
			return;
		}
		if (rc == -1)
			row_err(errs, row, err);
		else if (what == 'u')
			updated++;
		else
			created++;
	}
	creq_ok(r, json_pack("{s:I,s:I,s:o}", "imported", (json_int_t)created,
	    "updated", (json_int_t)updated, "errors", errs));
}

int
contact_by_phone(MDB_txn *txn, const char *phone, char *id, size_t idsz)
{
	int rc;

	if ((rc = ct_owner(txn, C->db_cphone, phone, id, idsz)) != 0)
		return rc;
	return id[0] ? 0 : MDB_NOTFOUND;
}

int
contact_upsert(MDB_txn *txn, json_t *row, int merge, char *id, size_t idsz,
    int *created, char *err, size_t errsz)
{
	json_t *doc, *old = NULL, *merged;
	char owner[64];
	int rc = -1, store;

	*created = 0;
	doc = ct_new(row, NULL);
	if (ct_check_any(doc, 0, err, errsz) == -1)
		goto out;
	if (ct_owner(txn, C->db_cphone, rec_str(doc, "phone", NULL), owner,
	    sizeof(owner)) != 0 || (!owner[0] && ct_owner(txn, C->db_cemail,
	    rec_str(doc, "email", NULL), owner, sizeof(owner)) != 0)) {
		snprintf(err, errsz, "store: reading the indexes failed");
		rc = -2;
		goto out;
	}
	if (owner[0]) {
		snprintf(id, idsz, "%s", owner);
		if (!merge) {
			rc = 0;
			goto out;
		}
		if (cdb_get(txn, C->db_contacts, owner, &old) != 0) {
			snprintf(err, errsz, "contact %s is unreadable", owner);
			goto out;
		}
		merged = json_deep_copy(old);
		ct_merge(merged, doc);
		json_decref(doc);
		doc = merged;
		if (ct_check_any(doc, 0, err, errsz) == -1)
			goto out;
	} else
		json_object_set_new(doc, "created_ts", cts(daemon_now_ms()));
	if (ct_unique(txn, doc, owner[0] ? owner : NULL, err, errsz, &store)
	    == -1) {
		rc = store ? -2 : -1;
		goto out;
	}
	json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
	if ((rc = ct_store(txn, old, doc)) != 0) {
		snprintf(err, errsz, "%s", mdb_strerror(rc));
		rc = -2;
		goto out;
	}
	if (!owner[0]) {
		snprintf(id, idsz, "%s", rec_str(doc, "id", ""));
		*created = 1;
	}
	rc = 0;
out:
	json_decref(doc);
	json_decref(old);
	return rc;
}

/* Contacts are read with their names split (contact_names). */
static int
ct_keep(struct creq *r, json_t *doc, void *arg)
{
	contact_names(doc);
	return 1;
}

static void
ct_show(struct creq *r)
{
	json_t *doc;

	if (r->name == NULL || cdb_get(r->txn, C->db_contacts, r->name, &doc)
	    != 0) {
		creq_err(r, "notfound", "no contact named \"%s\"", r->name ?
		    r->name : "");
		return;
	}
	contact_names(doc);
	creq_ok(r, json_pack("{s:o}", "doc", doc));
}

int
contact_op(struct creq *r)
{
	if (strcmp(r->op, "add") == 0)
		ct_add(r);
	else if (strcmp(r->op, "show") == 0) {
		if (creq_need(r, ROLE_AGENT) == 0)
			ct_show(r);
	} else if (strcmp(r->op, "edit") == 0)
		ct_edit(r);
	else if (strcmp(r->op, "delete") == 0)
		ct_delete(r);
	else if (strcmp(r->op, "search") == 0)
		ct_search(r);
	else if (strcmp(r->op, "list") == 0) {
		if (creq_need(r, ROLE_SUPERVISOR) == 0)
			cdb_list(r, C->db_contacts, "ct_", ct_keep, NULL);
	} else if (strcmp(r->op, "import") == 0)
		ct_import(r);
	return 0;
}
