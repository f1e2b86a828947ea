/*
 * routerd_canned — canned responses: an agent's message "/snippet rest"
 * becomes the snippet's text from campaignd's catalogue, its placeholders
 * ({first_name}, {agent}, a contact field...) filled from the
 * conversation and campaignd's contact book (lib/placeholder), followed by
 * the rest.  A rule module under routerd_policy's outbound check; it calls
 * routerd_store, routerd_campaign and lib/.
 *
 * A placeholder that is known but has no value for this contact refuses
 * the message (saying which), so a customer never reads "Dear ,".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp.h"
#include "placeholder.h"
#include "rec.h"
#include "valid.h"
#include "routerd.h"

/* What placeholders are filled from. */
struct pctx {
	const struct who	*w;
	const struct conv	*cv;
	json_t			*contact;	/* campaignd's document, or NULL */
	char			 first[128];
	char			 num[4][32];	/* numeric field values */
	int			 nnum;
	char			 missing[64];	/* known, but no value */
};

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : NULL;
}

static const char *
known(struct pctx *p, const char *name, const char *v)
{
	if (v == NULL || *v == '\0') {
		snprintf(p->missing, sizeof(p->missing), "%s", name);
		return NULL;
	}
	return v;
}

static const char *
lookup(const char *name, void *arg)
{
	struct pctx *p = arg;
	const char *v;
	json_t *f;
	size_t n;

	/* a contact's own first and last name (msg-contact(1)); older
	 * records have only name, split at its first space below */
	if ((strcmp(name, "first_name") == 0 || strcmp(name, "last_name") ==
	    0) && p->contact && jstr(p->contact, name))
		return jstr(p->contact, name);
	if (strcmp(name, "last_name") == 0 && p->contact &&
	    jstr(p->contact, "name")) {
		v = jstr(p->contact, "name");
		n = strcspn(v, " ");
		while (v[n] == ' ')
			n++;
		return known(p, name, v[n] ? v + n : NULL);
	}
	if (strcmp(name, "name") == 0 || strcmp(name, "first_name") == 0) {
		v = p->contact ? jstr(p->contact, "name") : NULL;
		if (v == NULL && p->cv->name[0])
			v = p->cv->name;
		if (v && strcmp(name, "first_name") == 0) {
			n = strcspn(v, " \t");
			rs_preview(p->first, sizeof(p->first), v, n);
			v = p->first;
		}
		return known(p, name, v);
	}
	if (strcmp(name, "phone") == 0) {
		v = p->contact ? jstr(p->contact, "phone") : NULL;
		if (v == NULL && p->cv->contact[0] == '+')
			v = p->cv->contact;
		return known(p, name, v);
	}
	if (strcmp(name, "email") == 0) {
		v = p->contact ? jstr(p->contact, "email") : NULL;
		if (v == NULL && strchr(p->cv->contact, '@'))
			v = p->cv->contact;
		return known(p, name, v);
	}
	if (strcmp(name, "agent") == 0)
		return known(p, name, p->w && p->w->agent[0] ? p->w->agent :
		    p->cv->agent);
	if (strcmp(name, "campaign") == 0)
		return known(p, name, p->cv->campaign);
	if (strcmp(name, "contact") == 0)
		return known(p, name, p->cv->contact);
	f = p->contact ? json_object_get(json_object_get(p->contact,
	    "fields"), name) : NULL;
	if (f == NULL)
		return NULL;		/* unknown */
	if (json_is_string(f))
		return known(p, name, json_string_value(f));
	if ((json_is_integer(f) || json_is_real(f)) && p->nnum < 4) {
		if (json_is_integer(f))
			snprintf(p->num[p->nnum], sizeof(p->num[0]), "%lld",
			    (long long)json_integer_value(f));
		else
			snprintf(p->num[p->nnum], sizeof(p->num[0]), "%g",
			    json_real_value(f));
		return p->num[p->nnum++];
	}
	return known(p, name, NULL);
}

/* campaignd's contact document for cv's customer (phone or e-mail), or NULL. */
static json_t *
contact_doc(MDB_txn *ct, const struct conv *cv)
{
	char norm[R_ADDRLEN + 1], id[128];
	const char *index;
	msgpack_unpacked up;
	json_t *doc = NULL;

	if (strchr(cv->contact, '@')) {
		index = "cemail";
		valid_contact_key(cv->contact, norm, sizeof(norm));
	} else {
		index = "cphone";
		/* WhatsApp ids are numbers without the '+' */
		if (cv->contact[0] != '+' && isdigit((unsigned char)
		    cv->contact[0]))
			snprintf(norm, sizeof(norm), "+%s", cv->contact);
		else
			snprintf(norm, sizeof(norm), "%s", cv->contact);
	}
	if (camp_contact_id(ct, index, norm, id, sizeof(id)) != 0)
		return NULL;
	msgpack_unpacked_init(&up);
	if (camp_doc(ct, "contacts", id, &up) == 0)
		doc = rec_to_json(&up.data);
	msgpack_unpacked_destroy(&up);
	return doc;
}

/* 1 if the campaign document lists snippet among its canned responses. */
static int
assigned(MDB_txn *ct, const char *campaign, const char *field,
    const char *snippet)
{
	const msgpack_object *a;
	msgpack_unpacked up;
	uint32_t i;
	int yes = 0;

	msgpack_unpacked_init(&up);
	if (camp_doc(ct, "campaigns", campaign, &up) == 0 &&
	    (a = mp_get(&up.data, field)) != NULL &&
	    a->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < a->via.array.size && !yes; i++)
			yes = mp_streq(&a->via.array.ptr[i], snippet);
	msgpack_unpacked_destroy(&up);
	return yes;
}

/*
 * text (len bytes, not NUL-ended) with its placeholders filled for w in cv
 * (ct a read transaction of campaignd's environment): a new string, or NULL
 * with why, which starts with label ("canned response /hello").
 */
static char *
fill(MDB_txn *ct, const struct who *w, const struct conv *cv,
    const char *text, size_t len, const char *label, char *why, size_t whysz)
{
	char err[256], *exp, *out;
	struct pctx p;

	memset(&p, 0, sizeof(p));
	if ((exp = malloc(len + 1)) == NULL)
		fatalx("out of memory");
	memcpy(exp, text, len);
	exp[len] = '\0';
	p.w = w;
	p.cv = cv;
	p.contact = contact_doc(ct, cv);
	if ((out = placeholder_expand(exp, lookup, &p, 0, err,
	    sizeof(err))) == NULL) {
		if (p.missing[0])
			snprintf(why, whysz, "%s: {%s} has no value for "
			    "contact %s", label, p.missing, cv->contact);
		else
			snprintf(why, whysz, "%s: %s", label, err);
	}
	free(exp);
	json_decref(p.contact);
	return out;
}

/*
 * A "/snippet" message: the snippet must be assigned to cv's campaign (any
 * canned response on "default", which has no campaign document).
 */
int
canned_expand(const struct who *w, const struct conv *cv, const char *text,
    char **out, char *why, size_t whysz)
{
	char snip[PLACEHOLDER_SNIPPET_MAX + 1];
	char label[PLACEHOLDER_SNIPPET_MAX + 32];
	const char *rest = NULL, *ctext;
	size_t ctl;
	msgpack_unpacked up;
	MDB_txn *ct;
	int rc = -1;

	*out = NULL;
	if (!placeholder_snippet(text, snip, sizeof(snip), &rest))
		return 0;
	if (camp_rtxn(&ct) == -1) {
		snprintf(why, whysz, "canned response /%s: the canned "
		    "responses cannot be read now", snip);
		return -1;
	}
	msgpack_unpacked_init(&up);
	if (camp_doc(ct, "canned", snip, &up) == -1 ||
	    !mp_str(&up.data, "text", &ctext, &ctl)) {
		snprintf(why, whysz, "no canned response /%s", snip);
		goto out;
	}
	if (strcmp(cv->campaign, "default") != 0 &&
	    !assigned(ct, cv->campaign, "canned", snip)) {
		snprintf(why, whysz, "canned response /%s is not assigned to "
		    "campaign %s (msg canned assign %s --campaign %s)", snip,
		    cv->campaign, snip, cv->campaign);
		goto out;
	}
	snprintf(label, sizeof(label), "canned response /%s", snip);
	if ((*out = fill(ct, w, cv, ctext, ctl, label, why, whysz)) == NULL)
		goto out;
	if (rest && *rest) {
		size_t a = strlen(*out), b = strlen(rest);
		char *t;

		if ((t = realloc(*out, a + 1 + b + 1)) == NULL)
			fatalx("out of memory");
		t[a] = ' ';
		memcpy(t + a + 1, rest, b + 1);
		*out = t;
	}
	rc = 1;
out:
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(ct);
	return rc;
}

/*
 * A global text template (campaignd's "templates", type text) assigned to
 * cv's campaign, sent as a message on a channel without templates of its
 * own (SMS, Messenger): its placeholders filled as a canned response's.
 */
int
canned_template(const struct who *w, const struct conv *cv, const char *name,
    char **out, char *why, size_t whysz)
{
	const char *ctext, *type;
	size_t ctl, tl;
	char label[300];
	msgpack_unpacked up;
	MDB_txn *ct;
	int rc = -1;

	*out = NULL;
	if (camp_rtxn(&ct) == -1) {
		snprintf(why, whysz, "send: template %s: the templates cannot "
		    "be read now", name);
		return -1;
	}
	msgpack_unpacked_init(&up);
	if (camp_doc(ct, "templates", name, &up) == -1 ||
	    !mp_str(&up.data, "content", &ctext, &ctl)) {
		snprintf(why, whysz, "send: no template %s (msg template list)",
		    name);
		goto out;
	}
	if (mp_str(&up.data, "type", &type, &tl) &&
	    !(tl == 4 && memcmp(type, "text", 4) == 0)) {
		snprintf(why, whysz, "send: template %s is %.*s; only text "
		    "templates go on %s", name, (int)tl, type,
		    rs_chan_name(cv->channel));
		goto out;
	}
	if (!assigned(ct, cv->campaign, "templates", name)) {
		snprintf(why, whysz, "send: template %s is not assigned to "
		    "campaign %s (msg template assign %s --campaign %s)", name,
		    cv->campaign, name, cv->campaign);
		goto out;
	}
	snprintf(label, sizeof(label), "send: template %s", name);
	if ((*out = fill(ct, w, cv, ctext, ctl, label, why, whysz)) == NULL)
		goto out;
	rc = 0;
out:
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(ct);
	return rc;
}
