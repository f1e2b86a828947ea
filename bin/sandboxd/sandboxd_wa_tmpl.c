/*
 * sandboxd_wa_tmpl — the message templates sandboxd was told about.
 *
 * Meta sends a template only if it exists in the language asked for and
 * has been approved; anything else fails with 132001.  parley keeps its
 * own copy of the templates (msg template wa), which sandboxd cannot read,
 * so a test, or a person running the stack, tells sandboxd which templates
 * Meta would have approved:
 *
 *   POST /sandbox/whatsapp/templates  {"name", "language", "status"?}
 *	remember a template in a language with its review status
 *	(APPROVED, the default; PENDING, REJECTED, PAUSED, DISABLED), or
 *	change it; answers the template;
 *   GET /sandbox/whatsapp/templates   {"templates": [...]}
 *   DELETE /sandbox/whatsapp/templates  forget them all.
 *
 * Until a first template is told about, every template is sent (a stack
 * nobody told about templates works as before); from then on only an
 * APPROVED one in that language is.  /sandbox/reset forgets them too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <jansson.h>

#include "log.h"
#include "sandboxd.h"
#include "sandboxd_wa.h"

/* One template in one language: key "name\ncode". */
struct wa_tmpl {
	struct sbx_wa_node h;
	char		 status[16];
};

static const char *const tmpl_statuses[] = { "APPROVED", "PENDING",
    "REJECTED", "PAUSED", "DISABLED", NULL };

void
sbx_wa_tmpl_free(struct sbx_wa_node *nd)
{
	free(nd);
}

static int
tmpl_key(char *buf, size_t sz, const char *name, const char *code)
{
	int n = snprintf(buf, sz, "%s\n%s", name, code);

	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

long
sbx_wa_tmpl_check(struct sbx_whatsapp *wa, const char *name,
    const char *code, char *d, size_t dsz)
{
	struct wa_tmpl *t;
	char key[sizeof(t->h.key)];

	if (htab_count(&wa->templates) == 0)
		return 0;		/* told nothing: every one goes */
	if (name == NULL || code == NULL ||
	    tmpl_key(key, sizeof(key), name, code) == -1 ||
	    (t = (struct wa_tmpl *)sbx_wa_get(&wa->templates, key)) == NULL) {
		sbx_wa_say(d, dsz, "template name (%.100s) does not exist in "
		    "%.16s", name ? name : "", code ? code : "");
		return 132001;
	}
	if (strcmp(t->status, "APPROVED") != 0) {
		sbx_wa_say(d, dsz, "template name (%.100s) in %.16s is %s, "
		    "not approved", name, code, t->status);
		return 132001;
	}
	return 0;
}

static json_t *
tmpl_json(const struct wa_tmpl *t)
{
	const char *nl = strchr(t->h.key, '\n');

	return json_pack("{s:s%, s:s, s:s}", "name", t->h.key,
	    (size_t)(nl - t->h.key), "language", nl + 1, "status", t->status);
}

static void
tmpl_list(struct sbx_whatsapp *wa, struct evhttp_request *req)
{
	struct htab_iter it;
	struct htab_node *n;
	json_t *a = json_array();

	htab_iter_init(&it, &wa->templates);
	while ((n = htab_iter_next(&it)) != NULL)
		json_array_append_new(a, tmpl_json(HTAB_ENTRY(n,
		    struct wa_tmpl, h.hn)));
	sbx_reply_json(req, 200, json_pack("{s:o}", "templates", a));
}

static void
tmpl_tell(struct sbx_whatsapp *wa, struct evhttp_request *req,
    const char *body, size_t len)
{
	const char *name, *code, *st = "APPROVED", *k;
	struct wa_tmpl *t;
	json_error_t jerr;
	json_t *j, *v;
	char key[sizeof(t->h.key)], why[256];
	size_t i;

	if ((j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_object(j)) {
		snprintf(why, sizeof(why), "expected a JSON object%s%s",
		    j == NULL ? ": " : "", j == NULL ? jerr.text : "");
		goto refuse;
	}
	json_object_foreach(j, k, v)
		if (strcmp(k, "name") != 0 && strcmp(k, "language") != 0 &&
		    strcmp(k, "status") != 0) {
			snprintf(why, sizeof(why), "unknown field \"%.40s\"", k);
			goto refuse;
		}
	if (sbx_wa_get_s(j, "name", &name) != 1 || *name == '\0' ||
	    strlen(name) > 512 || strchr(name, '\n') != NULL ||
	    sbx_wa_get_s(j, "language", &code) != 1 || *code == '\0' ||
	    strlen(code) > 16 || strchr(code, '\n') != NULL) {
		snprintf(why, sizeof(why), "\"name\" (1 to 512 bytes) and "
		    "\"language\" (a code such as en_US) are required strings");
		goto refuse;
	}
	if ((v = json_object_get(j, "status")) != NULL) {
		st = json_is_string(v) ? json_string_value(v) : "";
		for (i = 0; tmpl_statuses[i] != NULL &&
		    strcmp(tmpl_statuses[i], st) != 0; i++)
			;
		if (tmpl_statuses[i] == NULL) {
			snprintf(why, sizeof(why), "\"status\" must be APPROVED, "
			    "PENDING, REJECTED, PAUSED or DISABLED");
			goto refuse;
		}
	}
	if (tmpl_key(key, sizeof(key), name, code) == -1) {
		snprintf(why, sizeof(why), "\"name\" is too long");
		goto refuse;
	}
	if ((t = (struct wa_tmpl *)sbx_wa_get(&wa->templates, key)) == NULL) {
		if (htab_count(&wa->templates) >= WA_MAX_TEMPLATES) {
			snprintf(why, sizeof(why), "%d templates already; "
			    "DELETE them first", WA_MAX_TEMPLATES);
			goto refuse;
		}
		if ((t = calloc(1, sizeof(*t))) == NULL)
			goto oom;
		memcpy(t->h.key, key, sizeof(key));
		if (sbx_wa_add(&wa->templates, &t->h) == -1) {
			free(t);
			goto oom;
		}
	}
	snprintf(t->status, sizeof(t->status), "%s", st);
	log_info("whatsapp: template %s (%s) is %s", name, code, st);
	json_decref(j);
	sbx_reply_json(req, 200, tmpl_json(t));
	return;
oom:
	json_decref(j);
	sbx_reply_error(req, 500, "out of memory");
	return;
refuse:
	json_decref(j);
	sbx_reply_error(req, 400, why);
}

void
sbx_whatsapp_templates(struct sbx *sb, struct evhttp_request *req,
    const char *body, size_t len)
{
	struct sbx_whatsapp *wa = sb->whatsapp;

	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		tmpl_list(wa, req);
		break;
	case EVHTTP_REQ_POST:
		tmpl_tell(wa, req, body, len);
		break;
	case EVHTTP_REQ_DELETE:
		sbx_wa_clear(&wa->templates, sbx_wa_tmpl_free);
		sbx_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
		break;
	default:
		sbx_reply_error(req, 405, "use GET, POST or DELETE");
		break;
	}
}
