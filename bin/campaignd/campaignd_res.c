/*
 * campaignd_res — the global resources every campaign may use: canned
 * responses, templates, WhatsApp message templates, dispositions, agent
 * statuses and quality models.
 *
 * Campaigns refer to canned responses, templates and dispositions by key
 * (their "canned", "templates" and "dispositions" arrays); nothing is copied
 * into a campaign, so an edit applies at once everywhere.  Deleting one that
 * is in use takes it out of those arrays in the same transaction and answers
 * which campaigns had it (used_by).  Dispositions form a tree keyed by their
 * path "Level/Sub/Leaf": a level's children go with it, and lists come in
 * tree order (a parent, then its subtree, siblings by name), which is not
 * LMDB's byte order, so they are sorted here.
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

#define CANNED_SNIPPET_MAX	32
#define CANNED_TEXT_MAX		4096
#define PLACEHOLDER_MAX		64
#define TEMPLATE_CONTENT_MAX	65536
#define WA_NAME_MAX		128
#define WA_BODY_MAX		1024
#define WA_HEADER_MAX		60
#define WA_BUTTONS_MAX		10
#define WA_BUTTON_TEXT_MAX	25
#define DISP_LEVEL_MAX		64	/* characters in one level */
#define DISP_DEPTH_MAX		8
#define DISP_PATH_MAX		400	/* bytes, well under LMDB's key size */
#define DISP_IMPORT_MAX		100000
#define STATUS_LABEL_MAX	64
#define QA_DESC_MAX		1000
#define QA_CAT_MAX		64	/* characters in a category name */
#define QA_CATS_MAX		50
#define QA_QUESTIONS_MAX	100
#define QA_TEXT_MAX		1000
#define QA_SCORE_MAX		1000
#define LIST_BYTES		(700 * 1024)

/* ------------------------------------------------------------ shared */

static int
is_op(struct creq *r, const char *op)
{
	return strcmp(r->op, op) == 0;
}

/* Index of string s in array a, or -1. */
static int
arr_find(json_t *a, const char *s)
{
	size_t i;
	json_t *e;

	json_array_foreach(a, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), s) == 0)
			return (int)i;
	return -1;
}

/* A required non-empty string argument; NULL (answered) when missing. */
static const char *
need_str(struct creq *r, const char *key, const char *what)
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
static int
opt_str(struct creq *r, const char *key, const char *what, const char **out)
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
static int
no_controls(const char *s, int ml)
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
static const char *
need_name(struct creq *r, const char *what)
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
static json_t *
campaign_get(struct creq *r, const char *name)
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
static int
del_prefix(MDB_txn *txn, MDB_dbi dbi, const char *prefix, json_t *gone,
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
static int
ref_match(const char *e, const char *key, int sub)
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
static int
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

			if (s && ref_match(s, key, sub)) {
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
static void
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
static void
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
	if ((camp = campaign_get(r, cname)) == NULL)
		return;
	a = json_object_get(camp, field);
	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(camp, field, a);
	}
	i = arr_find(a, key);
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
keep_assigned(struct creq *r, json_t *doc, void *arg)
{
	struct assigned *as = arg;
	const char *k = json_string_value(json_object_get(doc, as->keyfield));
	size_t i;
	json_t *e;

	if (k == NULL)
		return 0;
	json_array_foreach(as->keys, i, e) {
		const char *s = json_string_value(e);

		if (s && ref_match(k, s, as->sub))
			return 1;
	}
	return 0;
}

/* list, optionally of what is assigned to --campaign.  Answers r. */
static void
res_list(struct creq *r, MDB_dbi dbi, const char *keyfield,
    const char *field)
{
	struct assigned as;
	json_t *camp;
	const char *cname;

	if (creq_need(r, ROLE_AGENT) == -1)
		return;
	if (opt_str(r, "campaign", "--campaign", &cname) == -1)
		return;
	if (cname == NULL) {
		cdb_list(r, dbi, NULL, NULL, NULL);
		return;
	}
	if ((camp = campaign_get(r, cname)) == NULL)
		return;
	as.keys = json_object_get(camp, field);
	as.keyfield = keyfield;
	as.sub = 0;
	cdb_list(r, dbi, NULL, keep_assigned, &as);
	json_decref(camp);
}

/* Put doc under key, answering {doc} or the store's error. */
static void
put_answer(struct creq *r, MDB_dbi dbi, const char *key, json_t *doc)
{
	int rc;

	if ((rc = cdb_put(r->txn, dbi, key, doc)) != 0)
		creq_err(r, "store", "%s", mdb_strerror(rc));
	else
		creq_ok(r, json_pack("{s:O}", "doc", doc));
}

/* ------------------------------------------------------------ canned */

/*
 * The {placeholders} of t, each once in order of appearance, into out.
 * Braces must pair ({ then }, not nested) around [a-z_][a-z0-9_]*.
 */
static int
placeholders(const char *t, json_t *out, char *err, size_t errsz)
{
	const char *p, *open = NULL;
	size_t pos = 0, opos = 0, n;
	char name[PLACEHOLDER_MAX + 1];

	for (p = t; *p; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80)
			pos++;
		if (*p == '{') {
			if (open) {
				snprintf(err, errsz, "canned text: the '{' at "
				    "character %zu is not closed before the "
				    "next '{'", opos);
				return -1;
			}
			open = p;
			opos = pos;
		} else if (*p == '}') {
			if (open == NULL) {
				snprintf(err, errsz, "canned text: the '}' at "
				    "character %zu has no '{' before it", pos);
				return -1;
			}
			n = (size_t)(p - open - 1);
			if (n == 0 || n > PLACEHOLDER_MAX) {
				snprintf(err, errsz, "canned text: placeholder "
				    "at character %zu must have a name of 1 to "
				    "%d characters", opos, PLACEHOLDER_MAX);
				return -1;
			}
			memcpy(name, open + 1, n);
			name[n] = '\0';
			if (!(islower((unsigned char)name[0]) ||
			    name[0] == '_') ||
			    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_")
			    != n) {
				snprintf(err, errsz, "canned text: placeholder "
				    "{%.*s} at character %zu: use a name of "
				    "a-z, 0-9 and '_', not starting with a "
				    "digit", (int)(n > 40 ? 40 : n), name,
				    opos);
				return -1;
			}
			if (arr_find(out, name) < 0)
				json_array_append_new(out, json_string(name));
			open = NULL;
		}
	}
	if (open) {
		snprintf(err, errsz, "canned text: the '{' at character %zu is "
		    "never closed", opos);
		return -1;
	}
	return 0;
}

/* The snippet of the request: the name without a leading '/'; checked. */
static const char *
canned_key(struct creq *r)
{
	const char *s;
	size_t n;

	if ((s = need_name(r, "canned")) == NULL)
		return NULL;
	if (*s == '/')
		s++;
	n = strlen(s);
	if (n == 0 || n > CANNED_SNIPPET_MAX ||
	    !(islower((unsigned char)*s) || isdigit((unsigned char)*s)) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n) {
		creq_err(r, "invalid", "snippet \"%.40s\" must be 1 to %d "
		    "characters of a-z, 0-9, '_' and '-', starting with a "
		    "letter or a digit", r->name, CANNED_SNIPPET_MAX);
		return NULL;
	}
	return s;
}

/* Check text and set doc's text and placeholders; -1 answered. */
static int
canned_text(struct creq *r, json_t *doc, const char *text)
{
	char err[256];
	json_t *ph = json_array();

	if (*text == '\0') {
		creq_err(r, "invalid", "canned text must not be empty");
		goto fail;
	}
	if (!valid_text(text, CANNED_TEXT_MAX, "canned text", err,
	    sizeof(err)) || placeholders(text, ph, err, sizeof(err)) == -1) {
		creq_err(r, "invalid", "%s", err);
		goto fail;
	}
	json_object_set_new(doc, "text", json_string(text));
	json_object_set_new(doc, "placeholders", ph);
	return 0;
fail:
	json_decref(ph);
	return -1;
}

int
canned_op(struct creq *r)
{
	const char *key, *text;
	json_t *doc;

	if (is_op(r, "list")) {
		res_list(r, C->db_canned, "snippet", "canned");
		return 0;
	}
	if ((key = canned_key(r)) == NULL)
		return 0;
	if (is_op(r, "show")) {
		if (creq_need(r, ROLE_AGENT) == -1)
			return 0;
		if (cdb_get(r->txn, C->db_canned, key, &doc) != 0)
			creq_err(r, "notfound", "no canned response /%s", key);
		else
			creq_ok(r, json_pack("{s:o}", "doc", doc));
		return 0;
	}
	if (is_op(r, "add") || is_op(r, "edit")) {
		int add = is_op(r, "add");

		if (creq_begin(r) == -1 ||
		    (text = need_str(r, "text", "--text")) == NULL)
			return 0;
		if (add) {
			if (cdb_exists(r->txn, C->db_canned, key)) {
				creq_err(r, "exists", "canned response /%s "
				    "exists", key);
				return 0;
			}
			doc = json_pack("{s:s}", "snippet", key);
		} else if (cdb_get(r->txn, C->db_canned, key, &doc) != 0) {
			creq_err(r, "notfound", "no canned response /%s", key);
			return 0;
		}
		if (canned_text(r, doc, text) == 0) {
			json_object_set_new(doc, add ? "created_ts" :
			    "updated_ts", cts(daemon_now_ms()));
			put_answer(r, C->db_canned, key, doc);
		}
		json_decref(doc);
		return 0;
	}
	if (is_op(r, "delete"))
		res_delete(r, C->db_canned, "canned response", "canned", key);
	else if (is_op(r, "assign") || is_op(r, "unassign"))
		res_assign(r, C->db_canned, "canned", "canned response",
		    "canned", key, is_op(r, "assign"));
	return 0;
}

/*
 * add/edit of a document keyed by a name: a new name must be valid (as
 * namewhat) and free ("<a_what> named ... exists"), an edit loads the stored
 * one ("no <what> named ..."); fields() fills and checks it; then it is
 * stamped and stored.  Answers r.
 */
static void
named_upsert(struct creq *r, MDB_dbi dbi, const char *key,
    const char *namewhat, const char *a_what, const char *what,
    int (*fields)(struct creq *, json_t *, int))
{
	int add = is_op(r, "add");
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
		put_answer(r, dbi, key, doc);
	}
	json_decref(doc);
}

/* ---------------------------------------------------------- template */

static const char *const template_types[] = { "text", "richtext", "html",
	NULL };

/* Apply --type and --content to doc; -1 answered. */
static int
template_fields(struct creq *r, json_t *doc, int add)
{
	const char *type, *content;
	char err[256];

	if (opt_str(r, "type", "--type", &type) == -1 ||
	    opt_str(r, "content", "--content", &content) == -1)
		return -1;
	if (add && type == NULL) {
		creq_err(r, "invalid", "--type text|richtext|html is required");
		return -1;
	}
	if (add && content == NULL) {
		creq_err(r, "invalid", "--content or --file is required");
		return -1;
	}
	if (!add && type == NULL && content == NULL) {
		creq_err(r, "invalid", "nothing to change: give --type, "
		    "--content or --file");
		return -1;
	}
	if (type && !str_in(template_types, type)) {
		creq_err(r, "invalid", "template type \"%.40s\" is not one of "
		    "text, richtext, html", type);
		return -1;
	}
	if (content && *content == '\0') {
		creq_err(r, "invalid", "template content must not be empty");
		return -1;
	}
	if (content && !valid_text(content, TEMPLATE_CONTENT_MAX,
	    "template content", err, sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		return -1;
	}
	if (type)
		json_object_set_new(doc, "type", json_string(type));
	if (content)
		json_object_set_new(doc, "content", json_string(content));
	return 0;
}

int
template_op(struct creq *r)
{
	const char *key;

	if (is_op(r, "list")) {
		res_list(r, C->db_templates, "name", "templates");
		return 0;
	}
	if ((key = need_name(r, "template")) == NULL)
		return 0;
	if (is_op(r, "show")) {
		if (creq_need(r, ROLE_AGENT) == 0)
			cdb_show(r, C->db_templates, "template");
		return 0;
	}
	if (is_op(r, "add") || is_op(r, "edit")) {
		named_upsert(r, C->db_templates, key, "template name",
		    "a template", "template", template_fields);
		return 0;
	}
	if (is_op(r, "delete"))
		res_delete(r, C->db_templates, "template", "templates", key);
	else if (is_op(r, "assign") || is_op(r, "unassign"))
		res_assign(r, C->db_templates, "template", "template",
		    "templates", key, is_op(r, "assign"));
	return 0;
}

/* --------------------------------------------------- WhatsApp template */

static const char *const wa_categories[] = { "marketing", "utility",
	"authentication", NULL };

/* A WhatsApp template name: [a-z0-9_], 1..WA_NAME_MAX. */
static int
wa_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= WA_NAME_MAX &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* A language code as WhatsApp writes them: "en", "fil", "en_US". */
static int
wa_lang_ok(const char *s)
{
	size_t n = 0;

	while (islower((unsigned char)s[n]))
		n++;
	if (n < 2 || n > 3)
		return 0;
	if (s[n] == '\0')
		return 1;
	return s[n] == '_' && isupper((unsigned char)s[n + 1]) &&
	    isupper((unsigned char)s[n + 2]) && s[n + 3] == '\0';
}

/*
 * Count the {{n}} parameters of t (what: "body"): they must be {{1}} to
 * {{n}} without gaps (each may appear more than once).  -1 with err.
 */
static int
wa_params(const char *t, const char *what, int *count, char *err,
    size_t errsz)
{
	unsigned char seen[WA_BODY_MAX + 2] = { 0 };
	const char *p = t, *q;
	long n, max = 0, i;
	char *end;

	while ((p = strstr(p, "{{")) != NULL) {
		q = p + 2;
		n = isdigit((unsigned char)*q) ? strtol(q, &end, 10) : -1;
		if (n < 1 || n > WA_BODY_MAX || strncmp(end, "}}", 2) != 0) {
			snprintf(err, errsz, "%s: \"%.12s\" is not a parameter: "
			    "write {{1}}, {{2}}, ...", what, p);
			return -1;
		}
		seen[n] = 1;
		if (n > max)
			max = n;
		p = end + 2;
	}
	for (i = 1; i <= max; i++)
		if (!seen[i]) {
			snprintf(err, errsz, "%s: parameters must be {{1}} to "
			    "{{%ld}} without gaps; {{%ld}} is missing", what,
			    max, i);
			return -1;
		}
	*count = (int)max;
	return 0;
}

/* Check and normalise --buttons into a new array; NULL with err. */
static json_t *
wa_buttons(json_t *in, char *err, size_t errsz)
{
	json_t *out = json_array(), *b, *o;
	const char *type, *text, *url, *phone;
	char t[32], e2[256];
	size_t i, k;

	if (!json_is_array(in) || json_array_size(in) == 0 ||
	    json_array_size(in) > WA_BUTTONS_MAX) {
		snprintf(err, errsz, "--buttons must be a JSON array of 1 to %d "
		    "buttons", WA_BUTTONS_MAX);
		goto fail;
	}
	json_array_foreach(in, i, b) {
		type = json_string_value(json_object_get(b, "type"));
		text = json_string_value(json_object_get(b, "text"));
		if (!json_is_object(b) || type == NULL || strlen(type) >=
		    sizeof(t)) {
			snprintf(err, errsz, "button %zu: needs a \"type\": "
			    "quick_reply, url or phone_number", i + 1);
			goto fail;
		}
		for (k = 0; type[k]; k++)
			t[k] = toupper((unsigned char)type[k]);
		t[k] = '\0';
		if (strcmp(t, "QUICK_REPLY") && strcmp(t, "URL") &&
		    strcmp(t, "PHONE_NUMBER")) {
			snprintf(err, errsz, "button %zu: type \"%s\" is not "
			    "quick_reply, url or phone_number", i + 1, type);
			goto fail;
		}
		if (text == NULL || *text == '\0' || !no_controls(text, 0) ||
		    !valid_text(text, WA_BUTTON_TEXT_MAX, "text", e2,
		    sizeof(e2))) {
			snprintf(err, errsz, "button %zu: \"text\" must be 1 to "
			    "%d characters", i + 1, WA_BUTTON_TEXT_MAX);
			goto fail;
		}
		o = json_pack("{s:s,s:s}", "type", t, "text", text);
		json_array_append_new(out, o);
		if (strcmp(t, "URL") == 0) {
			url = json_string_value(json_object_get(b, "url"));
			if (url == NULL || (strncmp(url, "https://", 8) &&
			    strncmp(url, "http://", 7)) || strlen(url) > 2000 ||
			    !no_controls(url, 0) || strchr(url, ' ')) {
				snprintf(err, errsz, "button %zu: a url button "
				    "needs \"url\": an http(s) address", i + 1);
				goto fail;
			}
			json_object_set_new(o, "url", json_string(url));
		} else if (strcmp(t, "PHONE_NUMBER") == 0) {
			phone = json_string_value(json_object_get(b,
			    "phone_number"));
			if (phone == NULL || !valid_e164(phone)) {
				snprintf(err, errsz, "button %zu: a phone_number "
				    "button needs \"phone_number\" in E.164 "
				    "(+ and 8 to 15 digits)", i + 1);
				goto fail;
			}
			json_object_set_new(o, "phone_number",
			    json_string(phone));
		}
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* The wtemplate key "name/lang" of the request; -1 answered. */
static int
wa_key(struct creq *r, char *key, size_t keysz, const char **lang)
{
	if (need_name(r, "template wa") == NULL)
		return -1;
	if (!wa_name_ok(r->name)) {
		creq_err(r, "invalid", "WhatsApp template name \"%.40s\" must "
		    "be 1 to %d characters of a-z, 0-9 and '_'", r->name,
		    WA_NAME_MAX);
		return -1;
	}
	if ((*lang = need_str(r, "language", "--lang")) == NULL)
		return -1;
	if (!wa_lang_ok(*lang)) {
		creq_err(r, "invalid", "language \"%.20s\" is not a WhatsApp "
		    "language code such as en, fil or en_US", *lang);
		return -1;
	}
	snprintf(key, keysz, "%s/%s", r->name, *lang);
	return 0;
}

static void
wa_add(struct creq *r)
{
	const char *lang, *cat, *body, *header;
	char key[256], err[256], lc[32];
	json_t *comps, *buttons = NULL, *doc;
	int nbody = 0, nhead = 0;
	size_t k;

	if (creq_begin(r) == -1 ||
	    wa_key(r, key, sizeof(key), &lang) == -1 ||
	    (cat = need_str(r, "category", "--category")) == NULL ||
	    (body = need_str(r, "body", "--body")) == NULL ||
	    opt_str(r, "header", "--header", &header) == -1)
		return;
	for (k = 0; cat[k] && k < sizeof(lc) - 1; k++)
		lc[k] = tolower((unsigned char)cat[k]);
	lc[k] = '\0';
	if (!str_in(wa_categories, lc)) {
		creq_err(r, "invalid", "category \"%.40s\" is not one of "
		    "marketing, utility, authentication", cat);
		return;
	}
	if (!valid_text(body, WA_BODY_MAX, "body", err, sizeof(err)) ||
	    wa_params(body, "body", &nbody, err, sizeof(err)) == -1) {
		creq_err(r, "invalid", "%s", err);
		return;
	}
	if (header && (*header == '\0' || !no_controls(header, 0) ||
	    !valid_text(header, WA_HEADER_MAX, "header", err, sizeof(err)))) {
		creq_err(r, "invalid", "header must be one line of 1 to %d "
		    "characters", WA_HEADER_MAX);
		return;
	}
	if (header && (wa_params(header, "header", &nhead, err,
	    sizeof(err)) == -1 || nhead > 1)) {
		creq_err(r, "invalid", "%s", nhead > 1 ? "header: at most one "
		    "parameter, {{1}}" : err);
		return;
	}
	if (arg(r, "buttons") && !json_is_null(arg(r, "buttons")) &&
	    (buttons = wa_buttons(arg(r, "buttons"), err, sizeof(err))) ==
	    NULL) {
		creq_err(r, "invalid", "%s", err);
		return;
	}
	if (cdb_exists(r->txn, C->db_wtemplates, key)) {
		json_decref(buttons);
		creq_err(r, "exists", "WhatsApp template %s in %s exists",
		    r->name, lang);
		return;
	}
	comps = json_array();
	if (header)
		json_array_append_new(comps, json_pack("{s:s,s:s,s:s,s:i}",
		    "type", "HEADER", "format", "TEXT", "text", header,
		    "params", nhead));
	json_array_append_new(comps, json_pack("{s:s,s:s,s:i}", "type", "BODY",
	    "text", body, "params", nbody));
	if (buttons)
		json_array_append_new(comps, json_pack("{s:s,s:o}", "type",
		    "BUTTONS", "buttons", buttons));
	doc = json_pack("{s:s,s:s,s:s,s:o,s:i,s:o}", "name", r->name,
	    "language", lang, "category", lc, "components", comps, "params",
	    nbody, "created_ts", cts(daemon_now_ms()));
	put_answer(r, C->db_wtemplates, key, doc);
	json_decref(doc);
}

static int
keep_wa(struct creq *r, json_t *doc, void *arg)
{
	const char *lang = arg_str(r, "language"), *cat = arg_str(r,
	    "category"), *s;

	if (lang && ((s = json_string_value(json_object_get(doc,
	    "language"))) == NULL || strcmp(s, lang)))
		return 0;
	if (cat && ((s = json_string_value(json_object_get(doc,
	    "category"))) == NULL || strcasecmp(s, cat)))
		return 0;
	return 1;
}

/* wa delete NAME [--lang L]: one language, or every language of NAME. */
static void
wa_delete(struct creq *r)
{
	const char *lang;
	char key[256];
	json_t *gone;
	long n;
	int rc;

	if (creq_begin(r) == -1)
		return;
	if (arg(r, "language")) {
		if (wa_key(r, key, sizeof(key), &lang) == -1)
			return;
		if ((rc = cdb_del(r->txn, C->db_wtemplates, key)) != 0) {
			creq_err(r, rc == MDB_NOTFOUND ? "notfound" : "store",
			    "no WhatsApp template %s in %s", r->name, lang);
			return;
		}
		creq_ok(r, json_pack("{s:s,s:[s]}", "deleted", r->name,
		    "languages", lang));
		return;
	}
	if (need_name(r, "template wa") == NULL)
		return;
	if (!wa_name_ok(r->name)) {
		creq_err(r, "notfound", "no WhatsApp template %.40s", r->name);
		return;
	}
	snprintf(key, sizeof(key), "%s/", r->name);
	gone = json_array();
	if ((rc = del_prefix(r->txn, C->db_wtemplates, key, gone, &n)) != 0) {
		json_decref(gone);
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return;
	}
	if (json_array_size(gone) == 0) {
		json_decref(gone);
		creq_err(r, "notfound", "no WhatsApp template %s", r->name);
		return;
	}
	creq_ok(r, json_pack("{s:s,s:o}", "deleted", r->name, "languages",
	    gone));
}

int
wtemplate_op(struct creq *r)
{
	const char *lang;
	char key[256];
	json_t *doc;

	if (is_op(r, "list")) {
		if (creq_need(r, ROLE_AGENT) == -1)
			return 0;
		if (r->name && *r->name) {
			snprintf(key, sizeof(key), "%s/", r->name);
			cdb_list(r, C->db_wtemplates, key, keep_wa, NULL);
		} else
			cdb_list(r, C->db_wtemplates, NULL, keep_wa, NULL);
		return 0;
	}
	if (is_op(r, "show")) {
		if (creq_need(r, ROLE_AGENT) == -1 ||
		    wa_key(r, key, sizeof(key), &lang) == -1)
			return 0;
		if (cdb_get(r->txn, C->db_wtemplates, key, &doc) != 0)
			creq_err(r, "notfound", "no WhatsApp template %s in %s",
			    r->name, lang);
		else
			creq_ok(r, json_pack("{s:o}", "doc", doc));
		return 0;
	}
	if (is_op(r, "add"))
		wa_add(r);
	else if (is_op(r, "delete"))
		wa_delete(r);
	return 0;
}

/* ------------------------------------------------------- disposition */

/* Check a path "Level/Sub/Leaf"; *depth gets its number of levels. */
static int
disp_check(const char *path, int *depth, char *err, size_t errsz)
{
	const char *p = path, *e;
	size_t n, chars;
	int d = 0;

	if (path == NULL || *path == '\0') {
		snprintf(err, errsz, "a disposition path is required");
		return -1;
	}
	if (strlen(path) > DISP_PATH_MAX || !valid_utf8(path, strlen(path))) {
		snprintf(err, errsz, "disposition path must be UTF-8 of at most "
		    "%d bytes", DISP_PATH_MAX);
		return -1;
	}
	for (;;) {
		e = strchr(p, '/');
		n = e ? (size_t)(e - p) : strlen(p);
		d++;
		if (n == 0) {
			snprintf(err, errsz, "disposition \"%.60s\": empty level "
			    "(a leading, trailing or doubled '/')", path);
			return -1;
		}
		chars = valid_utf8_chars(p, n);
		if (chars > DISP_LEVEL_MAX) {
			snprintf(err, errsz, "disposition \"%.60s\": level %d is "
			    "over %d characters", path, d, DISP_LEVEL_MAX);
			return -1;
		}
		if (isspace((unsigned char)p[0]) ||
		    isspace((unsigned char)p[n - 1])) {
			snprintf(err, errsz, "disposition \"%.60s\": level %d "
			    "starts or ends with white space", path, d);
			return -1;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	if (!no_controls(path, 0)) {
		snprintf(err, errsz, "disposition \"%.60s\": control "
		    "characters are not allowed", path);
		return -1;
	}
	if (d > DISP_DEPTH_MAX) {
		snprintf(err, errsz, "disposition \"%.60s\": at most %d levels",
		    path, DISP_DEPTH_MAX);
		return -1;
	}
	if (depth)
		*depth = d;
	return 0;
}

/*
 * Create path (checked) and, with parents, its missing ancestors; names of
 * what was made are appended to made.  0, MDB_NOTFOUND (a parent is
 * missing and not parents: *missing is it), or an LMDB error.
 */
static int
disp_make(MDB_txn *txn, const char *path, int parents, json_t *made,
    char *missing, size_t missingsz)
{
	char buf[DISP_PATH_MAX + 1];
	char *slash = NULL, *name;
	json_t *doc;
	int rc;

	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		slash = strchr(slash ? slash + 1 : buf, '/');
		if (slash)
			*slash = '\0';
		if (!cdb_exists(txn, C->db_dispositions, buf)) {
			if (slash && !parents) {
				snprintf(missing, missingsz, "%s", buf);
				return MDB_NOTFOUND;
			}
			name = strrchr(buf, '/');
			doc = json_pack("{s:s,s:s,s:o,s:o}", "path", buf,
			    "name", name ? name + 1 : buf, "parent", name ?
			    json_stringn(buf, (size_t)(name - buf)) :
			    json_null(), "created_ts", cts(daemon_now_ms()));
			rc = cdb_put(txn, C->db_dispositions, buf, doc);
			json_decref(doc);
			if (rc != 0)
				return rc;
			json_array_append_new(made, json_string(buf));
		}
		if (slash == NULL)
			return 0;
		*slash = '/';
	}
}

/*
 * Tree order: a path before the paths below it, siblings by name (bytes).
 * As bytes with the end of a path lowest and '/' next.
 */
static int
path_rank(unsigned char c)
{
	return c == '\0' ? 0 : c == '/' ? 1 : c + 2;
}

static int
path_cmp(const char *a, const char *b)
{
	for (; *a && *a == *b; a++, b++)
		;
	return path_rank(*a) - path_rank(*b);
}

static int
path_qcmp(const void *a, const void *b)
{
	return path_cmp(*(char *const *)a, *(char *const *)b);
}

/* list [--under PATH] [--campaign C], in tree order, paged by "after". */
static void
disp_list(struct creq *r)
{
	const char *under, *cname, *after;
	json_int_t limit = json_integer_value(arg(r, "limit"));
	json_t *camp = NULL, *keys = NULL, *items = json_array(), *doc, *ans;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	char **paths = NULL, *p;
	size_t n = 0, cap = 0, i, bytes = 0;
	int rc, more = 0, depth;

	if (creq_need(r, ROLE_AGENT) == -1 ||
	    opt_str(r, "under", "--under", &under) == -1 ||
	    opt_str(r, "campaign", "--campaign", &cname) == -1 ||
	    opt_str(r, "after", "after", &after) == -1)
		goto out;
	if (under && !cdb_exists(r->txn, C->db_dispositions, under)) {
		creq_err(r, "notfound", "no disposition \"%.200s\"", under);
		goto out;
	}
	if (cname) {
		if ((camp = campaign_get(r, cname)) == NULL)
			goto out;
		keys = json_object_get(camp, "dispositions");
	}
	if (limit <= 0 || limit > 100000)
		limit = 100000;
	if ((rc = mdb_cursor_open(r->txn, C->db_dispositions, &cur)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((p = strndup(k.mv_data, k.mv_size)) == NULL)
			fatalx("out of memory");
		if ((under && !ref_match(p, under, 1)) ||
		    (after && path_cmp(p, after) <= 0)) {
			free(p);
			continue;
		}
		if (keys) {
			size_t j;
			json_t *e;
			int hit = 0;

			json_array_foreach(keys, j, e)
				if (json_is_string(e) &&
				    ref_match(p, json_string_value(e), 1))
					hit = 1;
			if (!hit) {
				free(p);
				continue;
			}
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((paths = realloc(paths, cap * sizeof(*paths))) ==
			    NULL)
				fatalx("out of memory");
		}
		paths[n++] = p;
	}
	if (rc != MDB_NOTFOUND) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	if (n > 1)
		qsort(paths, n, sizeof(*paths), path_qcmp);
	for (i = 0; i < n; i++) {
		if ((json_int_t)json_array_size(items) >= limit ||
		    bytes > LIST_BYTES) {
			more = 1;
			break;
		}
		if (cdb_get(r->txn, C->db_dispositions, paths[i], &doc) != 0)
			continue;
		depth = 1;
		for (p = paths[i]; *p; p++)
			depth += *p == '/';
		json_object_set_new(doc, "depth", json_integer(depth));
		bytes += strlen(paths[i]) * 3 + 100;
		json_array_append_new(items, doc);
	}
	ans = json_pack("{s:O,s:b}", "items", items, "more", more);
	if (more)
		json_object_set_new(ans, "next", json_string(paths[i - 1]));
	creq_ok(r, ans);
out:
	if (cur)
		mdb_cursor_close(cur);
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	json_decref(items);
	json_decref(camp);
}

/* delete PATH: it and every level below it; unassigned everywhere. */
static void
disp_delete(struct creq *r, const char *path)
{
	char pre[DISP_PATH_MAX + 2];
	json_t *used_by;
	long count = 1, below;
	int rc;

	if (creq_begin(r) == -1)
		return;
	if ((rc = cdb_del(r->txn, C->db_dispositions, path)) != 0) {
		if (rc == MDB_NOTFOUND || rc == MDB_BAD_VALSIZE)
			creq_err(r, "notfound", "no disposition \"%.200s\"",
			    path);
		else
			creq_err(r, "store", "%s", mdb_strerror(rc));
		return;
	}
	snprintf(pre, sizeof(pre), "%s/", path);
	if ((rc = del_prefix(r->txn, C->db_dispositions, pre, NULL,
	    &below)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return;
	}
	count += below;
	used_by = json_array();
	if ((rc = res_unref(r->txn, "dispositions", path, 1, used_by)) != 0) {
		json_decref(used_by);
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return;
	}
	creq_ok(r, json_pack("{s:s,s:i,s:i,s:o}", "deleted", path, "count",
	    (json_int_t)count, "below", (json_int_t)(count - 1), "used_by",
	    used_by));
}

/* path with its prefix old (itself or below it) moved to new, into buf. */
static void
disp_moved(const char *path, const char *old, const char *new, char *buf,
    size_t bufsz)
{
	snprintf(buf, bufsz, "%s%s", new, path + strlen(old));
}

/*
 * rename {name: path, to: level}: the last level of path gets a new name,
 * and everything below it moves with it; campaigns that had any of them
 * assigned have the new paths.  Closes already recorded keep the path
 * they were closed with (the event log is never rewritten).
 */
static void
disp_rename(struct creq *r, const char *path)
{
	const char *to = arg_str(r, "to"), *slash;
	char new[DISP_PATH_MAX + 2], pre[DISP_PATH_MAX + 2],
	    buf[DISP_PATH_MAX * 2 + 2], err[512];
	json_t *keys = json_array(), *used_by = json_array(), *e, *doc, *a;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t i, j, pl, moved;
	int rc, hit;

	if (creq_begin(r) == -1)
		goto out;
	if (to == NULL || *to == '\0' || strchr(to, '/') != NULL) {
		creq_err(r, "invalid", "disposition rename needs the level's new "
		    "name (one level, no \"/\")");
		goto out;
	}
	if (!cdb_exists(r->txn, C->db_dispositions, path)) {
		creq_err(r, "notfound", "no disposition \"%.200s\"", path);
		goto out;
	}
	slash = strrchr(path, '/');
	snprintf(new, sizeof(new), "%.*s%s%s", slash ? (int)(slash - path) :
	    0, path, slash ? "/" : "", to);
	if (disp_check(new, NULL, err, sizeof(err)) == -1) {
		creq_err(r, "invalid", "%s", err);
		goto out;
	}
	if (cdb_exists(r->txn, C->db_dispositions, new)) {
		creq_err(r, "exists", "disposition \"%s\" exists", new);
		goto out;
	}
	/* the level and every path below it */
	json_array_append_new(keys, json_string(path));
	pl = (size_t)snprintf(pre, sizeof(pre), "%s/", path);
	if ((rc = mdb_cursor_open(r->txn, C->db_dispositions, &cur)) != 0)
		goto fail;
	k.mv_size = pl;
	k.mv_data = pre;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 &&
	    k.mv_size > pl && memcmp(k.mv_data, pre, pl) == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		json_array_append_new(keys, json_stringn(k.mv_data,
		    k.mv_size));
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	json_array_foreach(keys, i, e) {
		const char *o = json_string_value(e), *ls;

		disp_moved(o, path, new, buf, sizeof(buf));
		if (strlen(buf) > DISP_PATH_MAX) {
			creq_err(r, "invalid", "\"%.200s\" would be over %d "
			    "bytes", buf, DISP_PATH_MAX);
			goto out;
		}
		if ((rc = cdb_get(r->txn, C->db_dispositions, o, &doc)) != 0)
			goto fail;
		ls = strrchr(buf, '/');
		json_object_set_new(doc, "path", json_string(buf));
		json_object_set_new(doc, "name", json_string(ls ? ls + 1 :
		    buf));
		json_object_set_new(doc, "parent", ls ? json_stringn(buf,
		    (size_t)(ls - buf)) : json_null());
		json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
		rc = cdb_put(r->txn, C->db_dispositions, buf, doc);
		json_decref(doc);
		if (rc != 0 || (rc = cdb_del(r->txn, C->db_dispositions,
		    o)) != 0)
			goto fail;
	}
	/* the campaigns that had them assigned */
	moved = json_array_size(keys);
	json_array_clear(keys);
	if ((rc = mdb_cursor_open(r->txn, C->db_campaigns, &cur)) != 0)
		goto fail;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		json_array_append_new(keys, json_stringn(k.mv_data,
		    k.mv_size));
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		goto fail;
	json_array_foreach(keys, i, e) {
		const char *cn = json_string_value(e);

		if (cn == NULL || cdb_get(r->txn, C->db_campaigns, cn, &doc) !=
		    0)
			continue;
		a = json_object_get(doc, "dispositions");
		hit = 0;
		for (j = 0; j < json_array_size(a); j++) {
			const char *d = json_string_value(json_array_get(a, j));

			if (d == NULL || !ref_match(d, path, 1))
				continue;
			disp_moved(d, path, new, buf, sizeof(buf));
			json_array_set_new(a, j, json_string(buf));
			hit = 1;
		}
		rc = 0;
		if (hit) {
			json_object_set_new(doc, "updated_ts",
			    cts(daemon_now_ms()));
			rc = cdb_put(r->txn, C->db_campaigns, cn, doc);
			json_array_append_new(used_by, json_string(cn));
		}
		json_decref(doc);
		if (rc != 0)
			goto fail;
	}
	creq_ok(r, json_pack("{s:s,s:s,s:I,s:O}", "renamed", path, "to", new,
	    "count", (json_int_t)moved, "used_by", used_by));
	goto out;
fail:
	creq_err(r, "store", "%s", mdb_strerror(rc));
out:
	json_decref(keys);
	json_decref(used_by);
}

/*
 * import {paths:[...], lines:[...]}: all or nothing.  Every path is
 * checked first (a bad one refuses the whole import, naming its line);
 * then each is made with its missing parents.
 */
static void
disp_import(struct creq *r)
{
	json_t *paths = arg(r, "paths"), *lines = arg(r, "lines"), *e, *made;
	char err[512], miss[8];
	const char *s;
	size_t i;
	long existed = 0, before;
	int rc;

	if (creq_begin(r) == -1)
		return;
	if (!json_is_array(paths) || json_array_size(paths) == 0) {
		creq_err(r, "invalid", "nothing to import");
		return;
	}
	if (json_array_size(paths) > DISP_IMPORT_MAX) {
		creq_err(r, "invalid", "at most %d dispositions in one import",
		    DISP_IMPORT_MAX);
		return;
	}
	json_array_foreach(paths, i, e) {
		json_int_t line = json_integer_value(json_array_get(lines, i));

		if (line <= 0)
			line = (json_int_t)i + 1;
		s = json_string_value(e);
		if (s == NULL) {
			creq_err(r, "invalid", "line %lld: not a path",
			    (long long)line);
			return;
		}
		if (disp_check(s, NULL, err, sizeof(err)) == -1) {
			creq_err(r, "invalid", "line %lld: %s",
			    (long long)line, err);
			return;
		}
	}
	made = json_array();
	json_array_foreach(paths, i, e) {
		before = (long)json_array_size(made);
		rc = disp_make(r->txn, json_string_value(e), 1, made, miss,
		    sizeof(miss));
		if (rc != 0) {
			json_decref(made);
			creq_err(r, "store", "%s", mdb_strerror(rc));
			return;
		}
		if ((long)json_array_size(made) == before)
			existed++;
	}
	creq_ok(r, json_pack("{s:i,s:i,s:o}", "added",
	    (json_int_t)json_array_size(made), "existing", (json_int_t)existed,
	    "created", made));
}

int
disposition_op(struct creq *r)
{
	const char *path;
	char err[512], miss[DISP_PATH_MAX + 1];
	json_t *made, *doc;
	int rc;

	if (is_op(r, "list")) {
		disp_list(r);
		return 0;
	}
	if (is_op(r, "import")) {
		disp_import(r);
		return 0;
	}
	if ((path = need_name(r, "disposition")) == NULL)
		return 0;
	if (is_op(r, "show")) {
		if (creq_need(r, ROLE_AGENT) == -1)
			return 0;
		if (cdb_get(r->txn, C->db_dispositions, path, &doc) != 0)
			creq_err(r, "notfound", "no disposition \"%.200s\"",
			    path);
		else
			creq_ok(r, json_pack("{s:o}", "doc", doc));
		return 0;
	}
	if (is_op(r, "add")) {
		if (creq_begin(r) == -1)
			return 0;
		if (disp_check(path, NULL, err, sizeof(err)) == -1) {
			creq_err(r, "invalid", "%s", err);
			return 0;
		}
		if (cdb_exists(r->txn, C->db_dispositions, path)) {
			creq_err(r, "exists", "disposition \"%s\" exists", path);
			return 0;
		}
		made = json_array();
		rc = disp_make(r->txn, path, arg_bool(r, "parents", 0), made,
		    miss, sizeof(miss));
		if (rc == MDB_NOTFOUND)
			creq_err(r, "notfound", "parent \"%s\" does not exist: "
			    "add it first, or use --parents", miss);
		else if (rc != 0)
			creq_err(r, "store", "%s", mdb_strerror(rc));
		else if (cdb_get(r->txn, C->db_dispositions, path, &doc) != 0)
			creq_err(r, "store", "disposition vanished");
		else
			creq_ok(r, json_pack("{s:o,s:O}", "doc", doc,
			    "created", made));
		json_decref(made);
		return 0;
	}
	if (is_op(r, "delete"))
		disp_delete(r, path);
	else if (is_op(r, "rename"))
		disp_rename(r, path);
	else if (is_op(r, "assign") || is_op(r, "unassign"))
		res_assign(r, C->db_dispositions, "disposition",
		    "disposition", "dispositions", path, is_op(r, "assign"));
	return 0;
}

/* --------------------------------------------------------- statusdef */

static const char *const status_kinds[] = { "available", "break", "busy",
	"offline", NULL };

/* Apply --kind and --label to doc; -1 answered. */
static int
status_fields(struct creq *r, json_t *doc, int add)
{
	const char *kind, *label;
	char err[256];

	if (opt_str(r, "status_kind", "--kind", &kind) == -1 ||
	    opt_str(r, "label", "--label", &label) == -1)
		return -1;
	if (add && (kind == NULL || label == NULL)) {
		creq_err(r, "invalid", "%s is required", kind == NULL ?
		    "--kind available|break|busy|offline" : "--label");
		return -1;
	}
	if (!add && kind == NULL && label == NULL) {
		creq_err(r, "invalid", "nothing to change: give --kind or "
		    "--label");
		return -1;
	}
	if (kind && !str_in(status_kinds, kind)) {
		creq_err(r, "invalid", "status kind \"%.40s\" is not one of "
		    "available, break, busy, offline", kind);
		return -1;
	}
	if (label && (*label == '\0' || !no_controls(label, 0) ||
	    !valid_text(label, STATUS_LABEL_MAX, "label", err, sizeof(err)))) {
		creq_err(r, "invalid", "label must be one line of 1 to %d "
		    "characters", STATUS_LABEL_MAX);
		return -1;
	}
	if (kind)
		json_object_set_new(doc, "kind", json_string(kind));
	if (label)
		json_object_set_new(doc, "label", json_string(label));
	return 0;
}

int
statusdef_op(struct creq *r)
{
	const char *key;

	if (is_op(r, "list")) {
		if (creq_need(r, ROLE_AGENT) == 0)
			cdb_list(r, C->db_statusdefs, NULL, NULL, NULL);
		return 0;
	}
	if ((key = need_name(r, "statusdef")) == NULL)
		return 0;
	if (is_op(r, "show")) {
		if (creq_need(r, ROLE_AGENT) == 0)
			cdb_show(r, C->db_statusdefs, "agent status");
		return 0;
	}
	if (is_op(r, "add") || is_op(r, "edit")) {
		named_upsert(r, C->db_statusdefs, key, "status name",
		    "an agent status", "agent status", status_fields);
		return 0;
	}
	if (is_op(r, "delete"))
		res_delete(r, C->db_statusdefs, "agent status", NULL, key);
	return 0;
}

/* ---------------------------------------------------------------- qa */

/* A category or question text: one line (categories) of 1..max chars. */
static int
qa_text_ok(const char *s, size_t max, int ml)
{
	return s && *s && no_controls(s, ml) && valid_utf8(s, strlen(s)) &&
	    valid_utf8_chars(s, strlen(s)) <= max && !isspace((unsigned char)
	    s[0]) && !isspace((unsigned char)s[strlen(s) - 1]);
}

/* Index of category name in cats (ASCII case-insensitive), or -1. */
static int
qa_cat_find(json_t *cats, const char *name)
{
	size_t i;
	json_t *c;
	const char *n;

	json_array_foreach(cats, i, c)
		if ((n = json_string_value(json_object_get(c, "name"))) &&
		    strcasecmp(n, name) == 0)
			return (int)i;
	return -1;
}

/* Check a question and make its stored form; NULL with err. */
static json_t *
qa_question(json_t *q, char *err, size_t errsz)
{
	const char *text = json_string_value(json_object_get(q, "text"));
	json_t *m = json_object_get(q, "max_score");

	if (m == NULL)
		m = json_object_get(q, "max");
	if (!qa_text_ok(text, QA_TEXT_MAX, 1)) {
		snprintf(err, errsz, "question text must be 1 to %d characters",
		    QA_TEXT_MAX);
		return NULL;
	}
	if (!json_is_integer(m) || json_integer_value(m) < 1 ||
	    json_integer_value(m) > QA_SCORE_MAX) {
		snprintf(err, errsz, "a question's maximum score must be a "
		    "whole number from 1 to %d", QA_SCORE_MAX);
		return NULL;
	}
	return json_pack("{s:s,s:I}", "text", text, "max_score",
	    (json_int_t)json_integer_value(m));
}

/* Check --file's categories; a new normalised array or NULL with err. */
static json_t *
qa_categories(json_t *in, char *err, size_t errsz)
{
	json_t *out = json_array(), *c, *qs, *q, *nq, *cat;
	const char *name;
	size_t i, j;
	char e2[256];

	if (!json_is_array(in) || json_array_size(in) > QA_CATS_MAX) {
		snprintf(err, errsz, "categories must be an array of at most %d",
		    QA_CATS_MAX);
		goto fail;
	}
	json_array_foreach(in, i, c) {
		name = json_string_value(json_object_get(c, "name"));
		if (!json_is_object(c) || !qa_text_ok(name, QA_CAT_MAX, 0)) {
			snprintf(err, errsz, "category %zu: a name of 1 to %d "
			    "characters is required", i + 1, QA_CAT_MAX);
			goto fail;
		}
		if (qa_cat_find(out, name) >= 0) {
			snprintf(err, errsz, "category \"%.64s\" is given twice",
			    name);
			goto fail;
		}
		qs = json_object_get(c, "questions");
		if (qs != NULL && (!json_is_array(qs) ||
		    json_array_size(qs) > QA_QUESTIONS_MAX)) {
			snprintf(err, errsz, "category \"%.64s\": questions "
			    "must be an array of at most %d", name,
			    QA_QUESTIONS_MAX);
			goto fail;
		}
		cat = json_pack("{s:s,s:[]}", "name", name, "questions");
		json_array_append_new(out, cat);
		json_array_foreach(qs, j, q) {
			if ((nq = qa_question(q, e2, sizeof(e2))) == NULL) {
				snprintf(err, errsz, "category \"%.64s\", "
				    "question %zu: %.120s", name, j + 1, e2);
				goto fail;
			}
			json_array_append_new(json_object_get(cat, "questions"),
			    nq);
		}
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* Add the total maximum score to each category and to the model. */
static void
qa_totals(json_t *doc)
{
	json_t *c, *q;
	size_t i, j;
	json_int_t total = 0, sub;

	json_array_foreach(json_object_get(doc, "categories"), i, c) {
		sub = 0;
		json_array_foreach(json_object_get(c, "questions"), j, q)
			sub += json_integer_value(json_object_get(q,
			    "max_score"));
		json_object_set_new(c, "max_score", json_integer(sub));
		total += sub;
	}
	json_object_set_new(doc, "max_score", json_integer(total));
}

/* What is stored has no totals: they are derived on the way out. */
static void
qa_strip(json_t *doc)
{
	json_t *c;
	size_t i;

	json_object_del(doc, "max_score");
	json_array_foreach(json_object_get(doc, "categories"), i, c)
		json_object_del(c, "max_score");
}

static int
keep_qa(struct creq *r, json_t *doc, void *arg)
{
	json_t *c;
	size_t i;
	json_int_t n = 0;

	qa_totals(doc);
	json_array_foreach(json_object_get(doc, "categories"), i, c)
		n += (json_int_t)json_array_size(json_object_get(c,
		    "questions"));
	json_object_set_new(doc, "questions", json_integer(n));
	return 1;
}

/* Store doc (without its totals) and answer it with them. */
static void
qa_put(struct creq *r, const char *key, json_t *doc)
{
	int rc;

	qa_strip(doc);
	if ((rc = cdb_put(r->txn, C->db_qa, key, doc)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return;
	}
	qa_totals(doc);
	creq_ok(r, json_pack("{s:O}", "doc", doc));
}

/* The --category argument's index in doc, or -1 answered. */
static int
qa_cat_arg(struct creq *r, json_t *doc, const char *key)
{
	const char *cat;
	int i;

	if ((cat = need_str(r, "category", "--category")) == NULL)
		return -1;
	if ((i = qa_cat_find(json_object_get(doc, "categories"), cat)) < 0)
		creq_err(r, "notfound", "quality model %s has no category "
		    "\"%.64s\"", key, cat);
	return i;
}

/* The qa ops on an existing model (edit, category_*, question_*). */
static void
qa_change(struct creq *r, const char *key)
{
	json_t *doc, *cats, *cat, *qs, *q;
	const char *s;
	char err[256];
	int i;
	json_int_t n;

	if (creq_begin(r) == -1)
		return;
	if (cdb_get(r->txn, C->db_qa, key, &doc) != 0) {
		creq_err(r, "notfound", "no quality model named \"%s\"", key);
		return;
	}
	cats = json_object_get(doc, "categories");
	if (!json_is_array(cats)) {
		cats = json_array();
		json_object_set_new(doc, "categories", cats);
	}
	if (is_op(r, "edit")) {
		if (opt_str(r, "description", "--description", &s) == -1)
			goto out;
		if (s == NULL && arg(r, "categories") == NULL) {
			creq_err(r, "invalid", "nothing to change: give "
			    "--description or --file");
			goto out;
		}
		if (s && !valid_text(s, QA_DESC_MAX, "description", err,
		    sizeof(err))) {
			creq_err(r, "invalid", "%s", err);
			goto out;
		}
		if (s)
			json_object_set_new(doc, "description", json_string(s));
		if (arg(r, "categories")) {
			if ((cats = qa_categories(arg(r, "categories"), err,
			    sizeof(err))) == NULL) {
				creq_err(r, "invalid", "%s", err);
				goto out;
			}
			json_object_set_new(doc, "categories", cats);
		}
	} else if (is_op(r, "category_add")) {
		if ((s = need_str(r, "category", "--name")) == NULL)
			goto out;
		if (!qa_text_ok(s, QA_CAT_MAX, 0)) {
			creq_err(r, "invalid", "a category name must be one "
			    "line of 1 to %d characters", QA_CAT_MAX);
			goto out;
		}
		if (qa_cat_find(cats, s) >= 0) {
			creq_err(r, "exists", "quality model %s has a category "
			    "\"%s\"", key, s);
			goto out;
		}
		if (json_array_size(cats) >= QA_CATS_MAX) {
			creq_err(r, "invalid", "a quality model has at most %d "
			    "categories", QA_CATS_MAX);
			goto out;
		}
		json_array_append_new(cats, json_pack("{s:s,s:[]}", "name", s,
		    "questions"));
	} else if (is_op(r, "category_delete")) {
		if ((i = qa_cat_arg(r, doc, key)) < 0)
			goto out;
		json_array_remove(cats, (size_t)i);
	} else if (is_op(r, "question_add")) {
		if ((i = qa_cat_arg(r, doc, key)) < 0)
			goto out;
		cat = json_array_get(cats, (size_t)i);
		qs = json_object_get(cat, "questions");
		if (!json_is_array(qs)) {
			qs = json_array();
			json_object_set_new(cat, "questions", qs);
		}
		if (json_array_size(qs) >= QA_QUESTIONS_MAX) {
			creq_err(r, "invalid", "a category has at most %d "
			    "questions", QA_QUESTIONS_MAX);
			goto out;
		}
		if ((q = qa_question(r->args, err, sizeof(err))) == NULL) {
			creq_err(r, "invalid", "%s", err);
			goto out;
		}
		json_array_append_new(qs, q);
	} else if (is_op(r, "question_delete")) {
		if ((i = qa_cat_arg(r, doc, key)) < 0)
			goto out;
		qs = json_object_get(json_array_get(cats, (size_t)i),
		    "questions");
		n = json_integer_value(arg(r, "number"));
		if (n < 1 || n > (json_int_t)json_array_size(qs)) {
			creq_err(r, "invalid", "--number must be a question's "
			    "number in its category, 1 to %zu",
			    json_array_size(qs));
			goto out;
		}
		json_array_remove(qs, (size_t)(n - 1));
	} else
		goto out;
	json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
	qa_put(r, key, doc);
out:
	json_decref(doc);
}

int
qa_op(struct creq *r)
{
	const char *key, *desc;
	char err[256];
	json_t *doc, *cats;

	if (is_op(r, "list")) {
		if (creq_need(r, ROLE_AGENT) == 0)
			cdb_list(r, C->db_qa, NULL, keep_qa, NULL);
		return 0;
	}
	if ((key = need_name(r, "qa")) == NULL)
		return 0;
	if (is_op(r, "show")) {
		if (creq_need(r, ROLE_AGENT) == -1)
			return 0;
		if (cdb_get(r->txn, C->db_qa, key, &doc) != 0) {
			creq_err(r, "notfound", "no quality model named \"%s\"",
			    key);
			return 0;
		}
		qa_totals(doc);
		creq_ok(r, json_pack("{s:o}", "doc", doc));
		return 0;
	}
	if (is_op(r, "add")) {
		if (creq_begin(r) == -1)
			return 0;
		if (!valid_name(key, "quality model name", err, sizeof(err))) {
			creq_err(r, "invalid", "%s", err);
			return 0;
		}
		if (opt_str(r, "description", "--description", &desc) == -1)
			return 0;
		if (desc && !valid_text(desc, QA_DESC_MAX, "description", err,
		    sizeof(err))) {
			creq_err(r, "invalid", "%s", err);
			return 0;
		}
		if (arg(r, "categories") == NULL)
			cats = json_array();
		else if ((cats = qa_categories(arg(r, "categories"), err,
		    sizeof(err))) == NULL) {
			creq_err(r, "invalid", "%s", err);
			return 0;
		}
		if (cdb_exists(r->txn, C->db_qa, key)) {
			json_decref(cats);
			creq_err(r, "exists", "a quality model named \"%s\" "
			    "exists", key);
			return 0;
		}
		doc = json_pack("{s:s,s:s,s:o,s:o}", "name", key,
		    "description", desc ? desc : "", "categories", cats,
		    "created_ts", cts(daemon_now_ms()));
		qa_put(r, key, doc);
		json_decref(doc);
		return 0;
	}
	if (is_op(r, "delete"))
		res_delete(r, C->db_qa, "quality model", NULL, key);
	else if (is_op(r, "edit") || is_op(r, "category_add") ||
	    is_op(r, "category_delete") || is_op(r, "question_add") ||
	    is_op(r, "question_delete"))
		qa_change(r, key);
	return 0;
}
