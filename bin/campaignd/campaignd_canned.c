/*
 * campaignd_canned — canned responses (msg canned): a snippet key, a text
 * and the {placeholders} it uses, assignable to campaigns.  The shared
 * resource rules (assignment, deletion with unassignment) are in
 * campaignd_res.c.
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
			if (res_arr_find(out, name) < 0)
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

	if ((s = res_need_name(r, "canned")) == NULL)
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

	if (res_is_op(r, "list")) {
		res_list(r, C->db_canned, "snippet", "canned");
		return 0;
	}
	if ((key = canned_key(r)) == NULL)
		return 0;
	if (res_is_op(r, "show")) {
		if (creq_need(r, ROLE_AGENT) == -1)
			return 0;
		if (cdb_get(r->txn, C->db_canned, key, &doc) != 0)
			creq_err(r, "notfound", "no canned response /%s", key);
		else
			creq_ok(r, json_pack("{s:o}", "doc", doc));
		return 0;
	}
	if (res_is_op(r, "add") || res_is_op(r, "edit")) {
		int add = res_is_op(r, "add");

		if (creq_begin(r) == -1 ||
		    (text = res_need_str(r, "text", "--text")) == NULL)
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
			res_put_answer(r, C->db_canned, key, doc);
		}
		json_decref(doc);
		return 0;
	}
	if (res_is_op(r, "delete"))
		res_delete(r, C->db_canned, "canned response", "canned", key);
	else if (res_is_op(r, "assign") || res_is_op(r, "unassign"))
		res_assign(r, C->db_canned, "canned", "canned response",
		    "canned", key, res_is_op(r, "assign"));
	return 0;
}
