/*
 * campaign_check — a campaign document checked field by field and rebuilt
 * in canonical order with the defaults filled in (see campaign_check.h).
 *
 * Every refusal is one line naming the field and the rule, in the words an
 * administrator reading `msg campaign create` output would want.  The
 * builders below each read one field of the input and append it to the
 * output, so the order of the calls in campaign_check_norm is the order of
 * the keys in every stored and exported campaign.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec.h"
#include "schedule.h"
#include "str.h"
#include "valid.h"
#include "outbound.h"
#include "campaign_check.h"

const char *const campaign_states[] = {
	"draft", "scheduled", "active", "archived", NULL
};

static const char *const lifecycle[] = {
	"state", "created_ts", "updated_ts", "launched_ts", "scheduled_for",
	NULL
};

/* Top-level fields, in canonical order. */
static const char *const fields[] = {
	"name", "title", "description", "folder", "teams", "tags", "channels",
	"operator", "idk", "strategy", "max_interactions", "service_level",
	"thresholds", "acd", "timezone", "schedule", "holidays",
	"after_hours_message", "files", "canned", "templates", "dispositions",
	"wrapup_s", "offer_timeout_s", "disposition_required", "outbound",
	"enabled", "state", "created_ts", "updated_ts", "launched_ts", "scheduled_for",
	NULL
};

/* Computed by campaignd on show and list; never stored. */
static const char *const computed[] = { "today", "open_now", "members",
    NULL };

int
campaign_check_lifecycle(const char *key)
{
	return str_in(lifecycle, key);
}

/*
 * Every refusal goes through here.  Reasons quote the document (a field
 * name, an address), so its control characters are written "\x0a" as
 * valid.c writes them: the reason stays one line and cannot move an
 * administrator's cursor.
 */
static int
fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;
	char buf[1024], esc[8];
	size_t i, o = 0, n;

	if (err && errsz) {
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		for (i = 0; buf[i] && o + 1 < errsz; i++) {
			if ((unsigned char)buf[i] >= 0x20 && buf[i] != 0x7f) {
				err[o++] = buf[i];
				continue;
			}
			n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x",
			    (unsigned char)buf[i]);
			if (o + n + 1 > errsz)
				break;
			memcpy(err + o, esc, n);
			o += n;
		}
		err[o] = '\0';
	}
	return -1;
}

/* Refuse keys of obj (named path) that are not in allowed. */
static int
only(const json_t *obj, const char *path, const char *const *allowed,
    char *err, size_t errsz)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		if (!str_in(allowed, k))
			return fail(err, errsz, "unknown field \"%s%s%.40s\"",
			    path ? path : "", path ? "." : "", k);
	}
	return 0;
}

/* A string field (def when absent) of at most maxchars characters. */
static int
text(const json_t *in, const char *key, const char *path, const char *def,
    size_t maxchars, json_t *out, char *err, size_t errsz)
{
	json_t *v = json_object_get(in, key);
	const char *s;

	if (v == NULL || json_is_null(v))
		s = def;
	else if (!json_is_string(v))
		return fail(err, errsz, "%s must be a string", path);
	else
		s = json_string_value(v);
	if (!valid_text(s, maxchars, path, err, errsz))
		return -1;
	json_object_set_new(out, key, json_string(s));
	return 0;
}

static int
integer(const json_t *in, const char *key, const char *path, json_int_t lo,
    json_int_t hi, json_int_t def, json_t *out, char *err, size_t errsz)
{
	json_t *v = json_object_get(in, key);
	json_int_t n = def;

	if (v != NULL && !json_is_null(v)) {
		if (!json_is_integer(v))
			return fail(err, errsz, "%s must be a whole number",
			    path);
		n = json_integer_value(v);
		if (n < lo || n > hi)
			return fail(err, errsz, "%s must be %lld to %lld, not "
			    "%lld", path, (long long)lo, (long long)hi,
			    (long long)n);
	}
	json_object_set_new(out, key, json_integer(n));
	return 0;
}

static int
boolean(const json_t *in, const char *key, const char *path, int def,
    json_t *out, char *err, size_t errsz)
{
	json_t *v = json_object_get(in, key);

	if (v != NULL && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return fail(err, errsz, "%s must be true or false",
			    path);
		def = json_is_true(v);
	}
	json_object_set_new(out, key, json_boolean(def));
	return 0;
}

/* One of list (def when absent). */
static int
choice(const json_t *in, const char *key, const char *path,
    const char *const *list, const char *def, json_t *out, char *err,
    size_t errsz)
{
	json_t *v = json_object_get(in, key);
	const char *s = def;
	char all[256] = "";
	size_t i;

	if (v != NULL && !json_is_null(v)) {
		s = json_string_value(v);
		if (s == NULL || !str_in(list, s)) {
			for (i = 0; list[i]; i++) {
				if (i)
					strncat(all, list[i + 1] ? ", " :
					    " or ", sizeof(all) - strlen(all)
					    - 1);
				strncat(all, list[i], sizeof(all) -
				    strlen(all) - 1);
			}
			if (s == NULL)
				return fail(err, errsz, "%s must be a string: "
				    "%s", path, all);
			return fail(err, errsz, "unknown %s \"%.40s\": use %s",
			    path, s, all);
		}
	}
	json_object_set_new(out, key, json_string(s));
	return 0;
}

/* 1 if s has an ASCII control character. */
static int
has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/*
 * An array of unique strings, each checked by kind: 't' tag, 'n' name,
 * 's' canned snippet (a leading '/' dropped), 'p' disposition path.
 */
static int
strlist(const json_t *in, const char *key, const char *what, int kind,
    json_t *out, char *err, size_t errsz)
{
	json_t *v = json_object_get(in, key), *a, *e, *f;
	const char *s;
	size_t i, j;
	char why[256];

	a = json_array();
	if (v != NULL && !json_is_null(v) && !json_is_array(v)) {
		json_decref(a);
		return fail(err, errsz, "%s must be a list", key);
	}
	json_array_foreach(v, i, e) {
		if ((s = json_string_value(e)) == NULL) {
			json_decref(a);
			return fail(err, errsz, "%s: entry %zu is not a string",
			    key, i + 1);
		}
		if (kind == 's' && s[0] == '/')
			s++;
		switch (kind) {
		case 't':
			if (!valid_tag(s, why, sizeof(why)))
				goto bad;
			break;
		case 'n':
			if (!valid_name(s, what, why, sizeof(why)))
				goto bad;
			break;
		default:
			if (!valid_text(s, 200, what, why, sizeof(why)))
				goto bad;
			if (*s == '\0' || has_ctl(s) ||
			    (kind == 's' && strchr(s, '/') != NULL)) {
				snprintf(why, sizeof(why), "%s \"%.60s\" is not "
				    "valid", what, s);
				goto bad;
			}
			break;
		}
		json_array_foreach(a, j, f) {
			if (strcmp(json_string_value(f), s) == 0) {
				json_decref(a);
				return fail(err, errsz, "%s \"%.60s\" is listed "
				    "twice", what, s);
			}
		}
		json_array_append_new(a, json_string(s));
	}
	json_object_set_new(out, key, a);
	return 0;
bad:
	json_decref(a);
	return fail(err, errsz, "%s", why);
}

static const char *const chan_keys[] = { "enabled", "addresses", NULL };
static const char *const addr_keys[] = { "addr", "mode", NULL };
static const char *const modes[] = { "reusable", "provisioned", NULL };

static int
channels(const json_t *in, json_t *out, char *err, size_t errsz)
{
	json_t *v = json_object_get(in, "channels"), *ch, *o, *addrs, *e,
	    *a, *f;
	const char *k, *addr, *mode;
	char path[64], why[256];
	size_t i, j;
	int c;

	o = json_object();
	json_object_set_new(out, "channels", o);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail(err, errsz, "channels must be an object of "
		    "sms, whatsapp, messenger and instagram");
	json_object_foreach(v, k, ch) {
		if (!valid_channel(k))
			return fail(err, errsz, "unknown channel \"%.40s\": use "
			    "sms, whatsapp, messenger or instagram", k);
	}
	for (c = 0; valid_channels[c]; c++) {
		k = valid_channels[c];
		if ((ch = json_object_get(v, k)) == NULL || json_is_null(ch))
			continue;
		snprintf(path, sizeof(path), "channels.%s", k);
		if (!json_is_object(ch))
			return fail(err, errsz, "%s must be an object {enabled, "
			    "addresses}", path);
		if (only(ch, path, chan_keys, err, errsz) == -1)
			return -1;
		f = json_object();
		json_object_set_new(o, k, f);
		snprintf(path, sizeof(path), "channels.%s.enabled", k);
		if (boolean(ch, "enabled", path, 1, f, err, errsz) == -1)
			return -1;
		addrs = json_array();
		json_object_set_new(f, "addresses", addrs);
		e = json_object_get(ch, "addresses");
		if (e != NULL && !json_is_null(e) && !json_is_array(e))
			return fail(err, errsz, "channels.%s.addresses must be "
			    "a list", k);
		json_array_foreach(json_object_get(ch, "addresses"), i, e) {
			mode = "reusable";
			if (json_is_string(e))
				addr = json_string_value(e);
			else if (json_is_object(e)) {
				snprintf(path, sizeof(path),
				    "channels.%s.addresses", k);
				if (only(e, path, addr_keys, err, errsz) == -1)
					return -1;
				addr = json_string_value(json_object_get(e,
				    "addr"));
				if (json_object_get(e, "mode") != NULL)
					mode = json_string_value(
					    json_object_get(e, "mode"));
				if (mode == NULL || !str_in(modes, mode))
					return fail(err, errsz, "address mode "
					    "must be reusable or provisioned");
			} else
				addr = NULL;
			if (addr == NULL)
				return fail(err, errsz, "channels.%s address "
				    "%zu is not a string", k, i + 1);
			if (!valid_addr(k, addr, why, sizeof(why)))
				return fail(err, errsz, "%s", why);
			json_array_foreach(addrs, j, a) {
				if (strcmp(json_string_value(json_object_get(a,
				    "addr")), addr) == 0)
					return fail(err, errsz, "%s address %s "
					    "is listed twice", k, addr);
			}
			json_array_append_new(addrs, json_pack("{s:s,s:s}",
			    "addr", addr, "mode", mode));
		}
	}
	return 0;
}

static const char *const idk_keys[] = { "mode", "message", NULL };
static const char *const idk_modes[] = { "agent", "custom", NULL };
static const char *const operators[] = { "agent", "bot", NULL };

static int
idk(const json_t *in, json_t *out, char *err, size_t errsz)
{
	json_t *v = json_object_get(in, "idk"), *o, *empty = NULL;
	int rc = -1;

	if (v == NULL || json_is_null(v))
		v = empty = json_object();
	if (!json_is_object(v)) {
		fail(err, errsz, "idk must be an object {mode, message}");
		goto out;
	}
	o = json_object();
	json_object_set_new(out, "idk", o);
	if (only(v, "idk", idk_keys, err, errsz) == -1 ||
	    choice(v, "mode", "idk mode", idk_modes, "agent", o, err,
	    errsz) == -1 ||
	    text(v, "message", "idk message", "", 1000, o, err, errsz) == -1)
		goto out;
	if (strcmp(json_string_value(json_object_get(o, "mode")),
	    "custom") == 0 &&
	    *json_string_value(json_object_get(o, "message")) == '\0') {
		fail(err, errsz, "idk mode custom needs a message "
		    "(--idk-message TEXT)");
		goto out;
	}
	rc = 0;
out:
	json_decref(empty);
	return rc;
}

/* A nested object of integer fields: keys[i] in lo[i]..hi[i], def[i]. */
struct numf {
	const char	*key;
	json_int_t	 lo, hi, def;
};

static int
numobj(const json_t *in, const char *key, const struct numf *nf,
    json_t *out, char *err, size_t errsz)
{
	json_t *v = json_object_get(in, key), *o, *empty = NULL;
	const char *allowed[8];
	char path[96];
	int i, rc = -1;

	if (v == NULL || json_is_null(v))
		v = empty = json_object();
	if (!json_is_object(v)) {
		fail(err, errsz, "%s must be an object", key);
		goto out;
	}
	for (i = 0; nf[i].key && i < 7; i++)
		allowed[i] = nf[i].key;
	allowed[i] = NULL;
	if (only(v, key, allowed, err, errsz) == -1)
		goto out;
	o = json_object();
	json_object_set_new(out, key, o);
	for (i = 0; nf[i].key; i++) {
		snprintf(path, sizeof(path), "%s.%s", key, nf[i].key);
		if (integer(v, nf[i].key, path, nf[i].lo, nf[i].hi, nf[i].def,
		    o, err, errsz) == -1)
			goto out;
	}
	rc = 0;
out:
	json_decref(empty);
	return rc;
}

static const struct numf sl_fields[] = {
	{ "period_s", 1, 31 * 86400, 86400 },
	{ "response_threshold_s", 0, 86400, 60 },
	{ NULL, 0, 0, 0 },
};

static const struct numf th_fields[] = {
	{ "service_level_s", 0, 86400, 60 },
	{ "dropout_s", 0, 86400, 300 },
	{ "chat_time_s", 0, 7 * 86400, 900 },
	{ NULL, 0, 0, 0 },
};

static int
schedule(const json_t *in, json_t *out, char *err, size_t errsz)
{
	json_t *v = json_object_get(in, "schedule"), *j;
	struct sched s;
	char why[256];

	if (v == NULL || json_is_null(v))
		sched_default(&s);
	else if (sched_from_json(v, &s, why, sizeof(why)) == -1)
		return fail(err, errsz, "schedule: %s", why);
	if ((j = sched_to_json(&s)) == NULL)
		return fail(err, errsz, "out of memory");
	json_object_set_new(out, "schedule", j);
	return 0;
}

static int
hol_cmp(const void *a, const void *b)
{
	json_t *const *x = a, *const *y = b;

	return strcmp(json_string_value(json_object_get(*x, "date")),
	    json_string_value(json_object_get(*y, "date")));
}

static const char *const hol_keys[] = { "date", "name", NULL };

static int
holidays(const json_t *in, json_t *out, char *err, size_t errsz)
{
	json_t *v = json_object_get(in, "holidays"), *e, **tab = NULL, *a;
	const char *s, *eq;
	char date[16], name[256], why[256];
	size_t i, j, n;
	int rc = -1;

	a = json_array();
	json_object_set_new(out, "holidays", a);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return fail(err, errsz, "holidays must be a list of "
		    "{date, name}");
	n = json_array_size(v);
	if (n > 1000)
		return fail(err, errsz, "holidays: %zu, more than 1000", n);
	if ((tab = calloc(n + 1, sizeof(*tab))) == NULL)
		return fail(err, errsz, "out of memory");
	json_array_foreach(v, i, e) {
		if (json_is_string(e)) {
			s = json_string_value(e);
			if ((eq = strchr(s, '=')) != NULL) {
				snprintf(date, sizeof(date), "%.*s",
				    (int)(eq - s < 15 ? eq - s : 15), s);
				snprintf(name, sizeof(name), "%s", eq + 1);
			} else {
				snprintf(date, sizeof(date), "%.15s", s);
				name[0] = '\0';
			}
		} else if (json_is_object(e)) {
			if (only(e, "holidays", hol_keys, err, errsz) == -1)
				goto out;
			s = json_string_value(json_object_get(e, "date"));
			snprintf(date, sizeof(date), "%.15s", s ? s : "");
			s = json_string_value(json_object_get(e, "name"));
			if (json_object_get(e, "name") && s == NULL) {
				fail(err, errsz, "holiday %s: name must be a "
				    "string", date);
				goto out;
			}
			snprintf(name, sizeof(name), "%s", s ? s : "");
		} else {
			fail(err, errsz, "holiday %zu is not {date, name}",
			    i + 1);
			goto out;
		}
		if (!valid_date(date, NULL, NULL, NULL)) {
			fail(err, errsz, "holiday date \"%s\" is not a real "
			    "YYYY-MM-DD date", date);
			goto out;
		}
		if (!valid_text(name, 80, "holiday name", why, sizeof(why))) {
			fail(err, errsz, "%s", why);
			goto out;
		}
		for (j = 0; j < i; j++)
			if (strcmp(json_string_value(json_object_get(tab[j],
			    "date")), date) == 0) {
				fail(err, errsz, "holiday %s is listed twice",
				    date);
				goto out;
			}
		tab[i] = json_pack("{s:s,s:s}", "date", date, "name", name);
	}
	if (n > 1)
		qsort(tab, n, sizeof(*tab), hol_cmp);
	for (i = 0; i < n; i++) {
		json_array_append_new(a, tab[i]);
		tab[i] = NULL;
	}
	rc = 0;
out:
	for (i = 0; tab && i < n; i++)
		json_decref(tab[i]);
	free(tab);
	return rc;
}

static const char *const files_keys[] = {
	"enabled", "library", "local", "types", NULL
};

static int
files(const json_t *in, json_t *out, char *err, size_t errsz)
{
	json_t *v = json_object_get(in, "files"), *o, *t, *types, *list, *e,
	    *f, *empty = NULL;
	const char *k, *m;
	size_t i, j;
	int c, rc = -1;

	if (v == NULL || json_is_null(v))
		v = empty = json_object();
	if (!json_is_object(v)) {
		fail(err, errsz, "files must be an object {enabled, library, "
		    "local, types}");
		goto out;
	}
	o = json_object();
	json_object_set_new(out, "files", o);
	if (only(v, "files", files_keys, err, errsz) == -1 ||
	    boolean(v, "enabled", "files.enabled", 0, o, err, errsz) == -1 ||
	    boolean(v, "library", "files.library", 1, o, err, errsz) == -1 ||
	    boolean(v, "local", "files.local", 0, o, err, errsz) == -1)
		goto out;
	types = json_object();
	json_object_set_new(o, "types", types);
	t = json_object_get(v, "types");
	if (t == NULL || json_is_null(t)) {
		list = json_array();
		for (i = 0; valid_whatsapp_mimes[i]; i++)
			json_array_append_new(list,
			    json_string(valid_whatsapp_mimes[i]));
		json_object_set_new(types, "whatsapp", list);
		rc = 0;
		goto out;
	}
	if (!json_is_object(t)) {
		fail(err, errsz, "files.types must be an object: channel -> "
		    "[MIME types]");
		goto out;
	}
	json_object_foreach(t, k, e) {
		if (!valid_channel(k)) {
			fail(err, errsz, "files.types: unknown channel "
			    "\"%.40s\"", k);
			goto out;
		}
	}
	for (c = 0; valid_channels[c]; c++) {
		k = valid_channels[c];
		if ((e = json_object_get(t, k)) == NULL || json_is_null(e))
			continue;
		if (!json_is_array(e)) {
			fail(err, errsz, "files.types.%s must be a list of "
			    "MIME types", k);
			goto out;
		}
		list = json_array();
		json_object_set_new(types, k, list);
		json_array_foreach(e, i, f) {
			m = json_string_value(f);
			if (m == NULL || !valid_mime(m)) {
				fail(err, errsz, "files.types.%s: \"%.60s\" is "
				    "not a MIME type (type/subtype)", k,
				    m ? m : "?");
				goto out;
			}
			for (j = 0; j < i; j++)
				if (strcmp(json_string_value(json_array_get(
				    list, j)), m) == 0) {
					fail(err, errsz, "files.types.%s: %s is "
					    "listed twice", k, m);
					goto out;
				}
			json_array_append_new(list, json_string(m));
		}
	}
	rc = 0;
out:
	json_decref(empty);
	return rc;
}


/* ---- outbound: the message, its list, senders, pace, hours, retries ---- */

static const char *const ob_keys[] = { "channel", "list", "text",
    "template", "senders", "rate", "hours", "retry", "end", NULL };
static const char *const ob_channels[] = { "sms", "whatsapp", NULL };
static const char *const tpl_keys[] = { "name", "language", "params", NULL };
static const char *const hours_keys[] = { "from", "to", NULL };
static const struct numf retry_fields[] = {
	{ "max_attempts", 1, 20, 3 },
	{ "backoff_s", 1, 86400, 300 },
	{ NULL, 0, 0, 0 },
};

static int
ob_template(const json_t *in, json_t *o, char *err, size_t errsz)
{
	json_t *v = json_object_get(in, "template"), *t, *pa, *e;
	const char *s;
	char why[256];
	size_t i;

	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v))		/* a name alone */
		v = json_pack("{s:O}", "name", v);
	else
		json_incref(v);
	if (!json_is_object(v)) {
		json_decref(v);
		return fail(err, errsz, "outbound.template must be {name, "
		    "language, params}");
	}
	if (only(v, "outbound.template", tpl_keys, err, errsz) == -1)
		goto bad;
	t = json_object();
	json_object_set_new(o, "template", t);
	s = json_string_value(json_object_get(v, "name"));
	if (s == NULL || !valid_name(s, "template name", why, sizeof(why))) {
		fail(err, errsz, "%s", s ? why : "outbound.template needs a "
		    "name");
		goto bad;
	}
	json_object_set_new(t, "name", json_string(s));
	if (text(v, "language", "outbound.template.language", "en", 16, t,
	    err, errsz) == -1)
		goto bad;
	pa = json_object_get(v, "params");
	if (pa != NULL && !json_is_null(pa) && !json_is_array(pa)) {
		fail(err, errsz, "outbound.template.params must be a list of "
		    "contact fields");
		goto bad;
	}
	if (json_array_size(pa) > 32) {
		fail(err, errsz, "outbound.template.params: at most 32");
		goto bad;
	}
	json_array_foreach(pa, i, e) {
		char name[80];
		const char *bar;

		s = json_string_value(e);
		bar = s ? strchr(s, '|') : NULL;
		snprintf(name, sizeof(name), "%.*s", bar ? (int)(bar - s) :
		    60, s ? s : "");
		if (s == NULL || !valid_name(name, "template parameter field",
		    why, sizeof(why)) || !valid_text(s, 200,
		    "template parameter", why, sizeof(why))) {
			fail(err, errsz, "outbound.template.params %zu: %s",
			    i + 1, s ? why : "not text");
			goto bad;
		}
	}
	json_object_set_new(t, "params", pa ? json_deep_copy(pa) :
	    json_array());
	json_decref(v);
	return 0;
bad:
	json_decref(v);
	return -1;
}

static int
ob_hours(const json_t *in, json_t *o, char *err, size_t errsz)
{
	json_t *v = json_object_get(in, "hours"), *h;
	const char *from = "08:00", *to = "21:00", *s;
	char f[8], t[8];
	int a, b;

	if (json_is_string(v)) {
		s = json_string_value(v);
		if (strlen(s) != 11 || s[5] != '-')
			return fail(err, errsz, "outbound.hours \"%.20s\" is not "
			    "HH:MM-HH:MM", s);
		snprintf(f, sizeof(f), "%.5s", s);
		snprintf(t, sizeof(t), "%.5s", s + 6);
		from = f;
		to = t;
	} else if (json_is_object(v)) {
		if (only(v, "outbound.hours", hours_keys, err, errsz) == -1)
			return -1;
		if (json_object_get(v, "from"))
			from = json_string_value(json_object_get(v, "from"));
		if (json_object_get(v, "to"))
			to = json_string_value(json_object_get(v, "to"));
	} else if (v != NULL && !json_is_null(v))
		return fail(err, errsz, "outbound.hours must be HH:MM-HH:MM");
	if (from == NULL || to == NULL || outbound_hhmm(from, &a) == -1 ||
	    outbound_hhmm(to, &b) == -1)
		return fail(err, errsz, "outbound.hours: %.10s-%.10s is not "
		    "HH:MM-HH:MM (00:00 to 24:00)", from ? from : "?",
		    to ? to : "?");
	if (a == b)
		return fail(err, errsz, "outbound.hours: %s-%s is empty", from,
		    to);
	h = json_pack("{s:s,s:s}", "from", from, "to", to);
	json_object_set_new(o, "hours", h);
	return 0;
}

static int
outbound(const json_t *in, json_t *out, char *err, size_t errsz)
{
	json_t *v = json_object_get(in, "outbound"), *o, *a, *e, *f, *addrs;
	const char *ch, *s;
	char why[256];
	size_t i, j;
	double rate;
	int64_t ms;

	if (v == NULL || json_is_null(v))
		return 0;		/* not an outbound campaign */
	if (!json_is_object(v))
		return fail(err, errsz, "outbound must be an object");
	if (only(v, "outbound", ob_keys, err, errsz) == -1)
		return -1;
	o = json_object();
	json_object_set_new(out, "outbound", o);
	if (choice(v, "channel", "outbound.channel", ob_channels, "sms", o,
	    err, errsz) == -1)
		return -1;
	ch = json_string_value(json_object_get(o, "channel"));
	s = json_string_value(json_object_get(v, "list"));
	if (json_object_get(v, "list") && !json_is_null(json_object_get(v,
	    "list")) && s == NULL)
		return fail(err, errsz, "outbound.list must be a list name");
	if (s && *s && !valid_name(s, "list name", why, sizeof(why)))
		return fail(err, errsz, "outbound.list: %s", why);
	json_object_set_new(o, "list", json_string(s ? s : ""));
	if (text(v, "text", "outbound.text", "", 4096, o, err, errsz) == -1 ||
	    ob_template(v, o, err, errsz) == -1)
		return -1;
	a = json_array();
	json_object_set_new(o, "senders", a);
	e = json_object_get(v, "senders");
	if (e != NULL && !json_is_null(e) && !json_is_array(e))
		return fail(err, errsz, "outbound.senders must be a list of "
		    "the campaign's %s numbers", ch);
	addrs = json_object_get(json_object_get(json_object_get(out,
	    "channels"), ch), "addresses");
	json_array_foreach(e, i, f) {
		int found = 0;

		if ((s = json_string_value(f)) == NULL ||
		    !valid_addr(ch, s, why, sizeof(why)))
			return fail(err, errsz, "outbound.senders: %s", s ? why :
			    "not text");
		json_array_foreach(addrs, j, f)
			if (strcmp(json_string_value(json_object_get(f,
			    "addr")), s) == 0)
				found = 1;
		if (!found)
			return fail(err, errsz, "outbound sender %s is not one of "
			    "the campaign's %s addresses (--%s %s)", s, ch, ch,
			    s);
		json_array_foreach(a, j, f)
			if (strcmp(json_string_value(f), s) == 0)
				return fail(err, errsz, "outbound sender %s is "
				    "listed twice", s);
		json_array_append_new(a, json_string(s));
	}
	e = json_object_get(v, "rate");
	rate = 1;
	if (e != NULL && !json_is_null(e)) {
		if (!json_is_number(e))
			return fail(err, errsz, "outbound.rate must be a number "
			    "of messages per second");
		rate = json_number_value(e);
		if (!(rate >= 0.001 && rate <= 10000))
			return fail(err, errsz, "outbound.rate must be 0.001 to "
			    "10000 messages per second, not %g", rate);
	}
	if (json_is_integer(e))
		json_object_set(o, "rate", e);
	else
		json_object_set_new(o, "rate", json_real(rate));
	if (ob_hours(v, o, err, errsz) == -1 ||
	    numobj(v, "retry", retry_fields, o, err, errsz) == -1)
		return -1;
	/* numobj names paths by its key: retry.* means outbound.retry.* */
	s = json_string_value(json_object_get(v, "end"));
	if (json_object_get(v, "end") && !json_is_null(json_object_get(v,
	    "end")) && s == NULL)
		return fail(err, errsz, "outbound.end must be \"done\" or an RFC "
		    "3339 time");
	if (s == NULL || *s == '\0')
		s = "done";
	if (strcmp(s, "done") != 0 && rec_ts_parse(s, &ms) == -1)
		return fail(err, errsz, "outbound.end \"%.40s\" is neither "
		    "\"done\" nor an RFC 3339 time", s);
	json_object_set_new(o, "end", json_string(s));
	return 0;
}

/* Lifecycle: state (default draft) and the times, kept when present. */
static int
lifecycle_fields(const json_t *in, json_t *out, char *err, size_t errsz)
{
	json_t *v;
	int64_t ms;
	int i;

	if (choice(in, "state", "state", campaign_states, "draft", out, err,
	    errsz) == -1)
		return -1;
	for (i = 1; lifecycle[i]; i++) {
		v = json_object_get(in, lifecycle[i]);
		if (v == NULL || json_is_null(v))
			continue;
		if (!json_is_string(v) ||
		    rec_ts_parse(json_string_value(v), &ms) == -1)
			return fail(err, errsz, "%s must be an RFC 3339 time",
			    lifecycle[i]);
		json_object_set(out, lifecycle[i], v);
	}
	return 0;
}

json_t *
campaign_check_norm(const json_t *in, char *err, size_t errsz)
{
	json_t *out, *v;
	const char *k, *name, *tz;
	char why[256];

	if (!json_is_object(in)) {
		fail(err, errsz, "a campaign must be a JSON object");
		return NULL;
	}
	json_object_foreach((json_t *)in, k, v) {
		if (!str_in(fields, k) && !str_in(computed, k)) {
			fail(err, errsz, "unknown field \"%.40s\"", k);
			return NULL;
		}
	}
	name = json_string_value(json_object_get(in, "name"));
	if (name == NULL) {
		fail(err, errsz, "a campaign needs a name");
		return NULL;
	}
	if (!valid_name(name, "campaign name", why, sizeof(why))) {
		fail(err, errsz, "%s", why);
		return NULL;
	}
	out = json_object();
	json_object_set_new(out, "name", json_string(name));
	v = json_object_get(in, "title");
	if (v == NULL || json_is_null(v) || (json_is_string(v) &&
	    *json_string_value(v) == '\0'))
		json_object_set_new(out, "title", json_string(name));
	else if (text(in, "title", "title", name, 200, out, err, errsz) == -1)
		goto fail;
	if (text(in, "description", "description", "", 2000, out, err,
	    errsz) == -1 ||
	    text(in, "folder", "folder", "", 100, out, err, errsz) == -1 ||
	    strlist(in, "teams", "team name", 'n', out, err, errsz) == -1 ||
	    strlist(in, "tags", "tag", 't', out, err, errsz) == -1 ||
	    channels(in, out, err, errsz) == -1 ||
	    choice(in, "operator", "operator", operators, "agent", out, err,
	    errsz) == -1 ||
	    idk(in, out, err, errsz) == -1 ||
	    choice(in, "strategy", "strategy", valid_strategies, "ringall",
	    out, err, errsz) == -1 ||
	    integer(in, "max_interactions", "max_interactions", 1, 1000, 3,
	    out, err, errsz) == -1 ||
	    numobj(in, "service_level", sl_fields, out, err, errsz) == -1 ||
	    numobj(in, "thresholds", th_fields, out, err, errsz) == -1 ||
	    integer(in, "acd", "acd", 0, 100000, 50, out, err, errsz) == -1)
		goto fail;
	v = json_object_get(in, "timezone");
	tz = v && !json_is_null(v) ? json_string_value(v) : "UTC";
	if (tz == NULL || !sched_tz_valid(tz)) {
		fail(err, errsz, "unknown time zone \"%.60s\": use an IANA "
		    "name such as Europe/Paris, or UTC", tz ? tz : "?");
		goto fail;
	}
	json_object_set_new(out, "timezone", json_string(tz));
	if (schedule(in, out, err, errsz) == -1 ||
	    holidays(in, out, err, errsz) == -1 ||
	    text(in, "after_hours_message", "after_hours_message", "", 1000,
	    out, err, errsz) == -1 ||
	    files(in, out, err, errsz) == -1 ||
	    strlist(in, "canned", "canned response", 's', out, err,
	    errsz) == -1 ||
	    strlist(in, "templates", "template name", 'n', out, err,
	    errsz) == -1 ||
	    strlist(in, "dispositions", "disposition", 'p', out, err,
	    errsz) == -1 ||
	    integer(in, "wrapup_s", "wrapup_s", 0, 86400, 0, out, err,
	    errsz) == -1 ||
	    integer(in, "offer_timeout_s", "offer_timeout_s", 0, 3600, 30,
	    out, err, errsz) == -1 ||
	    boolean(in, "disposition_required", "disposition_required", 0,
	    out, err, errsz) == -1 ||
	    outbound(in, out, err, errsz) == -1 ||
	    boolean(in, "enabled", "enabled", 1, out, err, errsz) == -1 ||
	    lifecycle_fields(in, out, err, errsz) == -1)
		goto fail;
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* The mode base lists for addr on channel ch, or NULL. */
static const char *
base_mode(const json_t *base, const char *ch, const char *addr)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(json_object_get(
	    base, "channels"), ch), "addresses"), i, e) {
		if (json_is_object(e) && json_is_string(json_object_get(e,
		    "addr")) && strcmp(json_string_value(json_object_get(e,
		    "addr")), addr) == 0)
			return json_string_value(json_object_get(e, "mode"));
	}
	return NULL;
}

static void
merge(json_t *base, const json_t *patch, int top)
{
	const char *k;
	json_t *pv, *bv;

	json_object_foreach((json_t *)patch, k, pv) {
		bv = json_object_get(base, k);
		if (json_is_object(bv) && json_is_object(pv) &&
		    !(top && strcmp(k, "schedule") == 0))
			merge(bv, pv, 0);
		else
			json_object_set(base, k, pv);
	}
}

int
campaign_check_merge(json_t *base, const json_t *patch, char *err,
    size_t errsz)
{
	json_t *p, *chans, *ch, *addrs, *e;
	const char *k, *mode;
	size_t i;

	if (!json_is_object(patch) || !json_is_object(base))
		return fail(err, errsz, "an edit must be a JSON object");
	p = json_deep_copy(patch);
	chans = json_object_get(p, "channels");
	json_object_foreach(chans, k, ch) {
		addrs = json_object_get(ch, "addresses");
		json_array_foreach(addrs, i, e) {
			if (!json_is_string(e))
				continue;
			mode = base_mode(base, k, json_string_value(e));
			json_array_set_new(addrs, i, json_pack("{s:s,s:s}",
			    "addr", json_string_value(e), "mode",
			    mode ? mode : "reusable"));
		}
	}
	merge(base, p, 1);
	json_decref(p);
	return 0;
}

int
campaign_check_mark(json_t *doc, const json_t *addrs, const char *mode,
    char *err, size_t errsz)
{
	json_t *a, *ch, *e;
	const char *k, *want;
	size_t i, j;
	int found;

	if (!json_is_array(addrs))
		return fail(err, errsz, "--%s takes a list of addresses", mode);
	json_array_foreach(addrs, i, a) {
		if ((want = json_string_value(a)) == NULL)
			return fail(err, errsz, "--%s takes a list of "
			    "addresses", mode);
		found = 0;
		json_object_foreach(json_object_get(doc, "channels"), k, ch) {
			json_array_foreach(json_object_get(ch, "addresses"), j,
			    e) {
				if (strcmp(json_string_value(json_object_get(e,
				    "addr")), want) == 0) {
					json_object_set_new(e, "mode",
					    json_string(mode));
					found = 1;
				}
			}
		}
		if (!found)
			return fail(err, errsz, "%.60s is not one of the "
			    "campaign's addresses (give it with --sms, "
			    "--whatsapp, --messenger or --instagram)", want);
	}
	return 0;
}

json_t *
campaign_check_config(const json_t *doc)
{
	json_t *out = json_object(), *v;
	int i;

	for (i = 0; fields[i]; i++) {
		if (str_in(lifecycle, fields[i]))
			continue;
		if ((v = json_object_get(doc, fields[i])) != NULL)
			json_object_set_new(out, fields[i], json_deep_copy(v));
	}
	return out;
}
