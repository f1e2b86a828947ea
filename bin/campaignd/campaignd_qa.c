/*
 * campaignd_qa — quality models (msg qa): categories of scored questions
 * for reviewing conversations, with their totals kept in the document.
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

#define QA_DESC_MAX		1000
#define QA_CAT_MAX		64	/* characters in a category name */
#define QA_CATS_MAX		50
#define QA_QUESTIONS_MAX	100
#define QA_TEXT_MAX		1000
#define QA_SCORE_MAX		1000

/* ---------------------------------------------------------------- qa */

/* A category or question text: one line (categories) of 1..max chars. */
static int
qa_text_ok(const char *s, size_t max, int ml)
{
	return s && *s && res_no_controls(s, ml) && valid_utf8(s, strlen(s)) &&
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

	if ((cat = res_need_str(r, "category", "--category")) == NULL)
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
	if (res_is_op(r, "edit")) {
		if (res_opt_str(r, "description", "--description", &s) == -1)
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
	} else if (res_is_op(r, "category_add")) {
		if ((s = res_need_str(r, "category", "--name")) == NULL)
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
	} else if (res_is_op(r, "category_delete")) {
		if ((i = qa_cat_arg(r, doc, key)) < 0)
			goto out;
		json_array_remove(cats, (size_t)i);
	} else if (res_is_op(r, "question_add")) {
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
	} else if (res_is_op(r, "question_delete")) {
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

	if (res_is_op(r, "list")) {
		if (creq_need(r, ROLE_AGENT) == 0)
			cdb_list(r, C->db_qa, NULL, keep_qa, NULL);
		return 0;
	}
	if ((key = res_need_name(r, "qa")) == NULL)
		return 0;
	if (res_is_op(r, "show")) {
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
	if (res_is_op(r, "add")) {
		if (creq_begin(r) == -1)
			return 0;
		if (!valid_name(key, "quality model name", err, sizeof(err))) {
			creq_err(r, "invalid", "%s", err);
			return 0;
		}
		if (res_opt_str(r, "description", "--description", &desc) == -1)
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
	if (res_is_op(r, "delete"))
		res_delete(r, C->db_qa, "quality model", NULL, key);
	else if (res_is_op(r, "edit") || res_is_op(r, "category_add") ||
	    res_is_op(r, "category_delete") || res_is_op(r, "question_add") ||
	    res_is_op(r, "question_delete"))
		qa_change(r, key);
	return 0;
}
