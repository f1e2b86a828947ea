/*
 * campaignd_template — templates (msg template): named content assignable to
 * campaigns; and WhatsApp message templates (msg template --whatsapp, kind
 * "wtemplate"): name, language, body parameters and buttons checked against
 * WhatsApp's limits before routerd may send one.
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

#define TEMPLATE_CONTENT_MAX	65536
#define WA_NAME_MAX		128
#define WA_BODY_MAX		1024
#define WA_HEADER_MAX		60
#define WA_BUTTONS_MAX		10
#define WA_BUTTON_TEXT_MAX	25

/* ---------------------------------------------------------- template */

static const char *const template_types[] = { "text", "richtext", "html",
	NULL };

/* Apply --type and --content to doc; -1 answered. */
static int
template_fields(struct creq *r, json_t *doc, int add)
{
	const char *type, *content;
	char err[256];

	if (res_opt_str(r, "type", "--type", &type) == -1 ||
	    res_opt_str(r, "content", "--content", &content) == -1)
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

	if (res_is_op(r, "list")) {
		res_list(r, C->db_templates, "name", "templates");
		return 0;
	}
	if ((key = res_need_name(r, "template")) == NULL)
		return 0;
	if (res_is_op(r, "show")) {
		if (creq_need(r, ROLE_AGENT) == 0)
			cdb_show(r, C->db_templates, "template");
		return 0;
	}
	if (res_is_op(r, "add") || res_is_op(r, "edit")) {
		res_upsert(r, C->db_templates, key, "template name",
		    "a template", "template", template_fields);
		return 0;
	}
	if (res_is_op(r, "delete"))
		res_delete(r, C->db_templates, "template", "templates", key);
	else if (res_is_op(r, "assign") || res_is_op(r, "unassign"))
		res_assign(r, C->db_templates, "template", "template",
		    "templates", key, res_is_op(r, "assign"));
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
		if (text == NULL || *text == '\0' ||
		    !res_no_controls(text, 0) ||
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
			    !res_no_controls(url, 0) || strchr(url, ' ')) {
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
	if (res_need_name(r, "template wa") == NULL)
		return -1;
	if (!wa_name_ok(r->name)) {
		creq_err(r, "invalid", "WhatsApp template name \"%.40s\" must "
		    "be 1 to %d characters of a-z, 0-9 and '_'", r->name,
		    WA_NAME_MAX);
		return -1;
	}
	if ((*lang = res_need_str(r, "language", "--lang")) == NULL)
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
	    (cat = res_need_str(r, "category", "--category")) == NULL ||
	    (body = res_need_str(r, "body", "--body")) == NULL ||
	    res_opt_str(r, "header", "--header", &header) == -1)
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
	if (header && (*header == '\0' || !res_no_controls(header, 0) ||
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
	res_put_answer(r, C->db_wtemplates, key, doc);
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
	if (res_need_name(r, "template wa") == NULL)
		return;
	if (!wa_name_ok(r->name)) {
		creq_err(r, "notfound", "no WhatsApp template %.40s", r->name);
		return;
	}
	snprintf(key, sizeof(key), "%s/", r->name);
	gone = json_array();
	if ((rc = res_del_prefix(r->txn, C->db_wtemplates, key, gone,
	    &n)) != 0) {
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

	if (res_is_op(r, "list")) {
		if (creq_need(r, ROLE_AGENT) == -1)
			return 0;
		if (r->name && *r->name) {
			snprintf(key, sizeof(key), "%s/", r->name);
			cdb_list(r, C->db_wtemplates, key, keep_wa, NULL);
		} else
			cdb_list(r, C->db_wtemplates, NULL, keep_wa, NULL);
		return 0;
	}
	if (res_is_op(r, "show")) {
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
	if (res_is_op(r, "add"))
		wa_add(r);
	else if (res_is_op(r, "delete"))
		wa_delete(r);
	return 0;
}
