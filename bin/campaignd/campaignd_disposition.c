/*
 * campaignd_disposition — dispositions (msg disposition): a tree keyed by
 * its path "Level/Sub/Leaf".  A level's children go with it, and lists come
 * in tree order (a parent, then its subtree, siblings by name), which is not
 * LMDB's byte order, so they are sorted here.  Assigning a level to a
 * campaign assigns its subtree.
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

#define DISP_LEVEL_MAX		64	/* characters in one level */
#define DISP_DEPTH_MAX		8
#define DISP_PATH_MAX		400	/* bytes, well under LMDB's key size */
#define DISP_IMPORT_MAX		100000
#define LIST_BYTES		(700 * 1024)

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
	if (!res_no_controls(path, 0)) {
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
	    res_opt_str(r, "under", "--under", &under) == -1 ||
	    res_opt_str(r, "campaign", "--campaign", &cname) == -1 ||
	    res_opt_str(r, "after", "after", &after) == -1)
		goto out;
	if (under && !cdb_exists(r->txn, C->db_dispositions, under)) {
		creq_err(r, "notfound", "no disposition \"%.200s\"", under);
		goto out;
	}
	if (cname) {
		if ((camp = res_campaign_get(r, cname)) == NULL)
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
		if ((under && !res_ref_match(p, under, 1)) ||
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
				    res_ref_match(p, json_string_value(e), 1))
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
	if ((rc = res_del_prefix(r->txn, C->db_dispositions, pre, NULL,
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

			if (d == NULL || !res_ref_match(d, path, 1))
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

	if (res_is_op(r, "list")) {
		disp_list(r);
		return 0;
	}
	if (res_is_op(r, "import")) {
		disp_import(r);
		return 0;
	}
	if ((path = res_need_name(r, "disposition")) == NULL)
		return 0;
	if (res_is_op(r, "show")) {
		if (creq_need(r, ROLE_AGENT) == -1)
			return 0;
		if (cdb_get(r->txn, C->db_dispositions, path, &doc) != 0)
			creq_err(r, "notfound", "no disposition \"%.200s\"",
			    path);
		else
			creq_ok(r, json_pack("{s:o}", "doc", doc));
		return 0;
	}
	if (res_is_op(r, "add")) {
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
	if (res_is_op(r, "delete"))
		disp_delete(r, path);
	else if (res_is_op(r, "rename"))
		disp_rename(r, path);
	else if (res_is_op(r, "assign") || res_is_op(r, "unassign"))
		res_assign(r, C->db_dispositions, "disposition",
		    "disposition", "dispositions", path,
		    res_is_op(r, "assign"));
	return 0;
}
