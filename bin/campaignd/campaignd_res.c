/*
 * campaignd_res — what the global resources every campaign may use share:
 * canned responses (campaignd_canned.c), templates and WhatsApp message
 * templates (campaignd_template.c), dispositions (campaignd_disposition.c),
 * agent statuses (campaignd_statusdef.c) and quality models
 * (campaignd_qa.c).
 *
 * Campaigns refer to canned responses, templates and dispositions by key
 * (their "canned", "templates" and "dispositions" arrays); nothing is copied
 * into a campaign, so an edit applies at once everywhere.  Deleting one that
 * is in use takes it out of those arrays in the same transaction and answers
 * which campaigns had it (used_by): res_delete and res_unref here, with
 * res_assign and res_list for a campaign's assignments.
 *
 * Reads are open to every role (agents choose from these catalogues; an
 * agent lists a campaign's assignments only for campaigns it is a member
 * of); writes need admin (creq_begin) and run whole in their nested txn.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rec.h"
#include "valid.h"
#include "str.h"
#include "campaignd.h"

/* ------------------------------------------------------------ shared */

int
res_is_op(struct creq *r, const char *op)
{
	return strcmp(r->op, op) == 0;
}

/* Index of string s in array a, or -1. */
int
res_arr_find(json_t *a, const char *s)
{
	size_t i;
	json_t *e;

	json_array_foreach(a, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), s) == 0)
			return (int)i;
	return -1;
}

/* A required non-empty string argument; NULL (answered) when missing. */
const char *
res_need_str(struct creq *r, const char *key, const char *what)
{
	json_t *v = arg(r, key);

	if (v != NULL && !json_is_string(v)) {
		creq_err(r, "invalid", "%s must be text", what);
		return NULL;
	}
	if (v == NULL || *json_string_value(v) == '\0') {
		creq_err(r, "invalid", "%s is required", what);
		return NULL;
	}
	return json_string_value(v);
}

/* An optional string argument: NULL when absent; -1 answered when not text. */
int
res_opt_str(struct creq *r, const char *key, const char *what, const char **out)
{
	json_t *v = arg(r, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		creq_err(r, "invalid", "%s must be text", what);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* Text with no control characters (tabs and line breaks allowed if ml). */
int
res_no_controls(const char *s, int ml)
{
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == 0x7f || (c < 0x20 && !(ml && (c == '\n' ||
		    c == '\t' || c == '\r'))))
			return 0;
	}
	return 1;
}

/* The name of the request, with a reason when missing. */
const char *
res_need_name(struct creq *r, const char *what)
{
	if (r->name == NULL || *r->name == '\0') {
		creq_err(r, "invalid", "%s: a name is required", what);
		return NULL;
	}
	return r->name;
}

/*
 * The campaign called name, for r: agents only see the campaigns they are
 * members of.  NULL when answered (not found, denied).
 */
json_t *
res_campaign_get(struct creq *r, const char *name)
{
	json_t *doc;
	char key[512];

	if (name == NULL || *name == '\0') {
		creq_err(r, "invalid", "--campaign needs a campaign name");
		return NULL;
	}
	if (cdb_get(r->txn, C->db_campaigns, name, &doc) != 0) {
		creq_err(r, "notfound", "no campaign named \"%s\"", name);
		return NULL;
	}
	if (r->role < ROLE_SUPERVISOR) {
		snprintf(key, sizeof(key), "%s/%s", name, r->who);
		if (!cdb_exists(r->txn, C->db_members, key)) {
			json_decref(doc);
			creq_err(r, "denied", "you are not a member of "
			    "campaign \"%s\"", name);
			return NULL;
		}
	}
	return doc;
}

/*
 * Delete every key of dbi starting with prefix; the rest of each key after
 * the prefix is appended to gone (unless NULL), *count gets how many.
 * 0 or an LMDB error.
 */
int
res_del_prefix(MDB_txn *txn, MDB_dbi dbi, const char *prefix, json_t *gone,
    long *count)
{
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *keys = json_array(), *e;
	size_t pl = strlen(prefix), i;
	int rc;

	*count = 0;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		goto out;
	k.mv_size = pl;
	k.mv_data = (void *)prefix;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 &&
	    k.mv_size > pl && memcmp(k.mv_data, prefix, pl) == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		json_array_append_new(keys, json_stringn(k.mv_data,
		    k.mv_size));
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
	json_array_foreach(keys, i, e) {
		if ((rc = cdb_del(txn, dbi, json_string_value(e))) != 0)
			goto out;
		if (gone)
			json_array_append_new(gone, json_string(
			    json_string_value(e) + pl));
		(*count)++;
	}
out:
	json_decref(keys);
	return rc;
}

/* Does key match entry e (equal, or with sub, a path below it)? */
int
res_ref_match(const char *e, const char *key, int sub)
{
	size_t n = strlen(key);

	if (strcmp(e, key) == 0)
		return 1;
	return sub && strncmp(e, key, n) == 0 && e[n] == '/';
}

/*
 * Take key (and with sub, the paths below it) out of field of every
 * campaign, appending the names of those that had it to used_by.
 * 0 or an LMDB error.
 */
int
res_unref(MDB_txn *txn, const char *field, const char *key, int sub,
    json_t *used_by)
{
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *names = json_array(), *doc, *a, *e;
	size_t i;
	int rc, j, hit;

	if ((rc = mdb_cursor_open(txn, C->db_campaigns, &cur)) != 0)
		goto out;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		json_array_append_new(names, json_stringn(k.mv_data,
		    k.mv_size));
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
	json_array_foreach(names, i, e) {
		const char *cn = json_string_value(e);

		if (cn == NULL || cdb_get(txn, C->db_campaigns, cn, &doc) != 0)
			continue;
		a = json_object_get(doc, field);
		hit = 0;
		for (j = (int)json_array_size(a) - 1; j >= 0; j--) {
			const char *s = json_string_value(json_array_get(a, j));

			if (s && res_ref_match(s, key, sub)) {
				json_array_remove(a, j);
				hit = 1;
			}
		}
		if (hit) {
			json_object_set_new(doc, "updated_ts",
			    cts(daemon_now_ms()));
			rc = cdb_put(txn, C->db_campaigns, cn, doc);
			json_array_append_new(used_by, json_string(cn));
		}
		json_decref(doc);
		if (rc != 0)
			break;
	}
out:
	json_decref(names);
	return rc;
}

/* Delete key from dbi, unassigning it everywhere; answers r. */
void
res_delete(struct creq *r, MDB_dbi dbi, const char *what, const char *field,
    const char *key)
{
	json_t *used_by;
	int rc;

	if (creq_begin(r) == -1)
		return;
	if ((rc = cdb_del(r->txn, dbi, key)) != 0) {
		if (rc == MDB_NOTFOUND || rc == MDB_BAD_VALSIZE)
			creq_err(r, "notfound", "no %s named \"%s\"", what,
			    key);
		else
			creq_err(r, "store", "%s", mdb_strerror(rc));
		return;
	}
	used_by = json_array();
	if (field && (rc = res_unref(r->txn, field, key, 0, used_by)) != 0) {
		json_decref(used_by);
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return;
	}
	creq_ok(r, json_pack("{s:s,s:o}", "deleted", key, "used_by", used_by));
}

/*
 * Assign (on) or unassign key to the campaign named by --campaign: its
 * array field.  Assigning needs the resource to exist; assigning twice and
 * unassigning what is not assigned change nothing and say so ("changed":
 * false).  Unassigning never deletes the resource.  Answers r.
 */
void
res_assign(struct creq *r, MDB_dbi dbi, const char *what, const char *label,
    const char *field, const char *key, int on)
{
	const char *cname = arg_str(r, "campaign");
	json_t *camp, *a;
	int i, rc, changed = 0;

	if (creq_begin(r) == -1)
		return;
	if (on && !cdb_exists(r->txn, dbi, key)) {
		creq_err(r, "notfound", "no %s \"%s\"", label, key);
		return;
	}
	if ((camp = res_campaign_get(r, cname)) == NULL)
		return;
	a = json_object_get(camp, field);
	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(camp, field, a);
	}
	i = res_arr_find(a, key);
	if (on && i < 0) {
		json_array_append_new(a, json_string(key));
		changed = 1;
	} else if (!on && i >= 0) {
		json_array_remove(a, i);
		changed = 1;
	}
	if (changed) {
		json_object_set_new(camp, "updated_ts", cts(daemon_now_ms()));
		if ((rc = cdb_put(r->txn, C->db_campaigns, cname, camp)) != 0) {
			json_decref(camp);
			creq_err(r, "store", "%s", mdb_strerror(rc));
			return;
		}
	}
	json_decref(camp);
	creq_ok(r, json_pack("{s:s,s:s,s:b,s:b}", "campaign", cname, what, key,
	    "assigned", on, "changed", changed));
}

/* list --campaign: keep the documents whose key field is in the array. */
struct assigned {
	json_t		*keys;
	const char	*keyfield;
	int		 sub;	/* dispositions: paths below count too */
};

static int
res_keep_assigned(struct creq *r, json_t *doc, void *arg)
{
	struct assigned *as = arg;
	const char *k = json_string_value(json_object_get(doc, as->keyfield));
	size_t i;
	json_t *e;

	if (k == NULL)
		return 0;
	json_array_foreach(as->keys, i, e) {
		const char *s = json_string_value(e);

		if (s && res_ref_match(k, s, as->sub))
			return 1;
	}
	return 0;
}

/* list, optionally of what is assigned to --campaign.  Answers r. */
void
res_list(struct creq *r, MDB_dbi dbi, const char *keyfield,
    const char *field)
{
	struct assigned as;
	json_t *camp;
	const char *cname;

	if (creq_need(r, ROLE_AGENT) == -1)
		return;
	if (res_opt_str(r, "campaign", "--campaign", &cname) == -1)
		return;
	if (cname == NULL) {
		cdb_list(r, dbi, NULL, NULL, NULL);
		return;
	}
	if ((camp = res_campaign_get(r, cname)) == NULL)
		return;
	as.keys = json_object_get(camp, field);
	as.keyfield = keyfield;
	as.sub = 0;
	cdb_list(r, dbi, NULL, res_keep_assigned, &as);
	json_decref(camp);
}

/* Put doc under key, answering {doc} or the store's error. */
void
res_put_answer(struct creq *r, MDB_dbi dbi, const char *key, json_t *doc)
{
	int rc;

	if ((rc = cdb_put(r->txn, dbi, key, doc)) != 0)
		creq_err(r, "store", "%s", mdb_strerror(rc));
	else
		creq_ok(r, json_pack("{s:O}", "doc", doc));
}

/*
 * add/edit of a document keyed by a name: a new name must be valid (as
 * namewhat) and free ("<a_what> named ... exists"), an edit loads the stored
 * one ("no <what> named ..."); fields() fills and checks it; then it is
 * stamped and stored.  Answers r.
 */
void
res_upsert(struct creq *r, MDB_dbi dbi, const char *key,
    const char *namewhat, const char *a_what, const char *what,
    int (*fields)(struct creq *, json_t *, int))
{
	int add = res_is_op(r, "add");
	char err[256];
	json_t *doc;

	if (creq_begin(r) == -1)
		return;
	if (add) {
		if (!valid_name(key, namewhat, err, sizeof(err))) {
			creq_err(r, "invalid", "%s", err);
			return;
		}
		if (cdb_exists(r->txn, dbi, key)) {
			creq_err(r, "exists", "%s named \"%s\" exists", a_what,
			    key);
			return;
		}
		doc = json_pack("{s:s}", "name", key);
	} else if (cdb_get(r->txn, dbi, key, &doc) != 0) {
		creq_err(r, "notfound", "no %s named \"%s\"", what, key);
		return;
	}
	if (fields(r, doc, add) == 0) {
		json_object_set_new(doc, add ? "created_ts" : "updated_ts",
		    cts(daemon_now_ms()));
		res_put_answer(r, dbi, key, doc);
	}
	json_decref(doc);
}
