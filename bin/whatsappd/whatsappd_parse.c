/*
 * whatsappd_parse — a WhatsApp Cloud API notification (the JSON body of a
 * webhook POST) turned into routerd's "in" and "st" frames.
 *
 * Meta nests everything: entry[].changes[] with field "messages" carry a
 * value whose metadata.phone_number_id names our number, contacts[] the
 * customers' profile names, messages[] what customers wrote, statuses[] what
 * became of our sends and errors[] problems with the notification itself.
 * One POST may batch many of each.  Every message type is forwarded: the
 * known ones with their text (or caption, or a text derived from a location,
 * contacts card, button or reaction) and their facts in "data"; an unknown
 * or unsupported one with its type and "" as text, so nothing a customer
 * sends is ever dropped without trace.
 *
 * Decided here, and documented in whatsappd(8):
 *   - not JSON, not an object, "object" other than whatsapp_business_account,
 *     or entry / changes / messages / statuses not arrays: the whole body is
 *     refused (the webhook answers 400; a 5xx would be retried for a week);
 *   - a change whose field is not "messages" is ignored (noted);
 *   - a change without metadata.phone_number_id, a message without id or a
 *     sender that is not a number, a status without id or status: that
 *     element is skipped with a note, the rest are forwarded;
 *   - a missing or bad timestamp leaves "ts" out (routerd uses its clock);
 *   - a missing message type is forwarded as type "unknown";
 *   - invalid UTF-8 or a NUL in a string refuses nothing: see below.
 *
 * jansson refuses a whole document for one invalid UTF-8 sequence, and
 * Meta batches many customers' messages in one notification, so one
 * customer's broken text would cost the others theirs (a 400 that Meta
 * retries for a week, to the same end).  So the body goes through
 * lib/jsonfix first: inside every string, each invalid UTF-8 sequence, a
 * raw NUL byte and an unpaired surrogate escape become NULs, the document
 * is parsed with JSON_ALLOW_NUL, and every NUL in a string, those and
 * Meta's own, becomes U+FFFD.
 * Each message whose strings, or whose sender's profile name, held one is
 * forwarded with its text made valid and "repaired": true in its data.
 * The signature was checked over the raw bytes before any of this.
 *
 * Pure (no I/O, no clock), so tests/unit/t_wa_parse.c drives it directly.
 * Frames are built as jansson objects and packed as msgpack maps.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "frame.h"
#include "jsonfix.h"
#include "log.h"
#include "mp.h"
#include "valid.h"
#include "whatsappd.h"

#define WA_TYPE_MAX	64	/* bytes of a message type kept */
#define REPAIRED_KEY	"\xff"	/* marks a repaired element in the parsed
				   tree: not UTF-8, so no body can hold it */

static void
note(struct wa_items *out, int warn, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
	if (out->nnotes == out->notescap) {
		out->notescap = out->notescap ? out->notescap * 2 : 8;
		out->notes = reallocarray(out->notes, out->notescap,
		    sizeof(*out->notes));
		if (out->notes == NULL)
			fatalx("out of memory");
	}
	out->notes[out->nnotes].warn = warn;
	out->notes[out->nnotes].text = s;
	out->nnotes++;
}

void
wa_items_init(struct wa_items *out)
{
	memset(out, 0, sizeof(*out));
}

void
wa_items_free(struct wa_items *out)
{
	size_t i;

	for (i = 0; i < out->n; i++)
		free(out->v[i].buf);
	for (i = 0; i < out->nnotes; i++)
		free(out->notes[i].text);
	free(out->v);
	free(out->notes);
	memset(out, 0, sizeof(*out));
}

/* Pack a JSON value we built ourselves (shallow, NUL-free strings). */
static void
pack_json(msgpack_packer *pk, json_t *v)
{
	const char *k;
	json_t *e;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		msgpack_pack_map(pk, json_object_size(v));
		json_object_foreach(v, k, e) {
			mp_pack_cstr(pk, k);
			pack_json(pk, e);
		}
		break;
	case JSON_ARRAY:
		msgpack_pack_array(pk, json_array_size(v));
		json_array_foreach(v, i, e)
			pack_json(pk, e);
		break;
	case JSON_STRING:
		mp_pack_strn(pk, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		msgpack_pack_int64(pk, (int64_t)json_integer_value(v));
		break;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(v));
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	default:
		msgpack_pack_nil(pk);
		break;
	}
}

/* Keep the frame fr (a JSON object, consumed) as an item. */
static void
item_add(struct wa_items *out, enum wa_kind kind, const char *pid,
    const char *pnid, json_t *fr)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct wa_item *it;
	const char *k;
	json_t *e;

	if (out->n == out->cap) {
		out->cap = out->cap ? out->cap * 2 : 8;
		out->v = reallocarray(out->v, out->cap, sizeof(*out->v));
		if (out->v == NULL)
			fatalx("out of memory");
	}
	it = &out->v[out->n++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	snprintf(it->pid, sizeof(it->pid), "%s", pid);
	snprintf(it->pnid, sizeof(it->pnid), "%s", pnid);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	json_object_foreach(fr, k, e) {
		mp_pack_cstr(&pk, k);
		pack_json(&pk, e);
		it->nkeys++;
	}
	it->buf = sb.data;	/* NULL when empty: never, "t" is always there */
	it->len = sb.size;
	json_decref(fr);
}

void
wa_item_frame(const struct wa_item *it, int64_t id, struct fbuf *fb)
{
	fbuf_begin(fb, it->nkeys + 1);
	mp_kv_int(&fb->pk, "id", id);
	mp_pack_raw(&fb->pk, it->buf, it->len);
}

/* --- reading Meta's JSON --- */

/* The string at key, or NULL (also when empty). */
static const char *
str(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	return json_string_value(v);
}

/* Add key: a copy of o's string at key when it is one. */
static void
copy_str(json_t *dst, const char *dkey, const json_t *o, const char *key)
{
	const char *v = str(o, key);

	if (v != NULL)
		json_object_set_new(dst, dkey, json_string(v));
}

/* A Unix time in seconds, as a string of digits or a number, in ms; -1. */
static long long
ts_ms(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	long long t = -1;
	const char *s;
	char *end;

	if (json_is_integer(v))
		t = (long long)json_integer_value(v);
	else if (json_is_string(v)) {
		s = json_string_value(v);
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		t = strtoll(s, &end, 10);
		if (errno || *end != '\0')
			return -1;
	}
	/* after 1970, before the year 5138: ms fit with room to spare */
	if (t <= 0 || t >= 100000000000LL)
		return -1;
	return t * 1000;
}

/* A number (JSON number, or a decimal string); 0 if neither. */
static int
number(const json_t *o, const char *key, double *d)
{
	json_t *v = json_object_get(o, key);
	char *end;

	if (json_is_number(v)) {
		*d = json_number_value(v);
		return 1;
	}
	if (json_is_string(v) && json_string_length(v) > 0) {
		errno = 0;
		*d = strtod(json_string_value(v), &end);
		return errno == 0 && *end == '\0';
	}
	return 0;
}

/* The shortest decimal that reads back as d ("37.483307", not ...9996). */
static void
fmt_num(char *buf, size_t sz, double d)
{
	int p;

	for (p = 1; p <= 17; p++) {
		snprintf(buf, sz, "%.*g", p, d);
		/* shortest that reads back, without an exponent ("4e+01") */
		if (strtod(buf, NULL) == d && strchr(buf, 'e') == NULL)
			return;
	}
}

int
wa_is_id(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > WA_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* 1 if s is 1..WA_ID_MAX digits, after one optional '+'. */
static int
is_number(const char *s)
{
	if (s == NULL)
		return 0;
	if (*s == '+')
		s++;
	return wa_is_id(s, strlen(s));
}

/* s cut to at most max bytes on a UTF-8 character boundary (a copy). */
static json_t *
text_value(const char *s)
{
	size_t n = strlen(s);

	if (n <= WA_TEXT_MAX)
		return json_string(s);
	n = WA_TEXT_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return json_stringn(s, n);
}

/* errors[] of a message or status as [{code, title, details?}]; NULL if none. */
static json_t *
errors_list(const json_t *errs)
{
	json_t *list, *e, *x, *ed;
	const char *t;
	size_t i;

	if (!json_is_array(errs) || json_array_size(errs) == 0)
		return NULL;
	list = json_array();
	json_array_foreach(errs, i, e) {
		if (!json_is_object(e))
			continue;
		x = json_object();
		if (json_is_integer(json_object_get(e, "code")))
			json_object_set_new(x, "code", json_integer(
			    json_integer_value(json_object_get(e, "code"))));
		t = str(e, "title");
		if (t == NULL)
			t = str(e, "message");
		json_object_set_new(x, "title", json_string(t ? t : ""));
		ed = json_object_get(e, "error_data");
		if (json_is_object(ed))
			copy_str(x, "details", ed, "details");
		json_array_append_new(list, x);
	}
	if (json_array_size(list) == 0) {
		json_decref(list);
		return NULL;
	}
	return list;
}

/* The element of value.contacts[] for wa_id, or NULL. */
static const json_t *
contact_of(const json_t *contacts, const char *wa_id)
{
	const json_t *c;
	const char *w;
	size_t i;

	if (!json_is_array(contacts))
		return NULL;
	json_array_foreach(contacts, i, c)
		if ((w = str(c, "wa_id")) != NULL && strcmp(w, wa_id) == 0)
			return c;
	return NULL;
}

/* Its profile name, or NULL. */
static const char *
profile_name(const json_t *c)
{
	const json_t *p = json_object_get(c, "profile");

	return json_is_object(p) ? str(p, "name") : NULL;
}

static int
is_media_type(const char *t)
{
	return strcmp(t, "image") == 0 || strcmp(t, "document") == 0 ||
	    strcmp(t, "audio") == 0 || strcmp(t, "video") == 0 ||
	    strcmp(t, "sticker") == 0;
}

/*
 * The text of message m of type t, and its facts into data (and media).
 * Returns the text (malloc'd).
 */
static char *
message_body(const json_t *m, const char *t, json_t *data, json_t **media)
{
	const json_t *o, *e, *ph, *nm, *r;
	json_t *x, *list, *phones;
	const char *s, *name, *addr, *rt;
	char lat[32], lon[32], *text = NULL;
	double la, lo;
	size_t i, j;
	int coords;

	o = json_object_get(m, t);
	if (!json_is_object(o) && !json_is_array(o))
		o = NULL;
	if (strcmp(t, "text") == 0) {
		s = o ? str(o, "body") : NULL;
		text = strdup(s ? s : "");
	} else if (is_media_type(t)) {
		s = o ? str(o, "caption") : NULL;
		text = strdup(s ? s : "");
		if (o != NULL && str(o, "id") != NULL) {
			x = json_object();
			copy_str(x, "id", o, "id");
			s = str(o, "mime_type");
			json_object_set_new(x, "mime", json_string(s ? s :
			    "application/octet-stream"));
			copy_str(x, "sha256", o, "sha256");
			copy_str(x, "filename", o, "filename");
			*media = json_array();
			json_array_append_new(*media, x);
		}
	} else if (strcmp(t, "location") == 0 && json_is_object(o)) {
		x = json_object();
		coords = number(o, "latitude", &la) &&
		    number(o, "longitude", &lo);
		if (coords) {
			json_object_set_new(x, "latitude", json_real(la));
			json_object_set_new(x, "longitude", json_real(lo));
			fmt_num(lat, sizeof(lat), la);
			fmt_num(lon, sizeof(lon), lo);
		}
		name = str(o, "name");
		addr = str(o, "address");
		copy_str(x, "name", o, "name");
		copy_str(x, "address", o, "address");
		json_object_set_new(data, "location", x);
		if (asprintf(&text, "%s%s%s%s%s%s%s%s%s",
		    name ? name : "", name && addr ? ", " : "",
		    addr ? addr : "", (name || addr) && coords ? " " : "",
		    coords ? "(" : "", coords ? lat : "", coords ? ", " : "",
		    coords ? lon : "", coords ? ")" : "") == -1)
			text = NULL;
	} else if (strcmp(t, "contacts") == 0 && json_is_array(o)) {
		list = json_array();
		text = strdup("");
		json_array_foreach(o, i, e) {
			if (!json_is_object(e))
				continue;
			x = json_object();
			nm = json_object_get(e, "name");
			name = json_is_object(nm) ? str(nm, "formatted_name") :
			    NULL;
			if (name == NULL && json_is_object(nm))
				name = str(nm, "first_name");
			json_object_set_new(x, "name", json_string(name ? name :
			    ""));
			phones = json_array();
			ph = json_object_get(e, "phones");
			if (json_is_array(ph))
				json_array_foreach(ph, j, r)
					if ((s = str(r, "phone")) != NULL)
						json_array_append_new(phones,
						    json_string(s));
			json_object_set_new(x, "phones", phones);
			json_array_append_new(list, x);
			if (name != NULL && text != NULL) {
				char *t2;

				if (asprintf(&t2, "%s%s%s", text, text[0] ?
				    ", " : "", name) == -1)
					t2 = NULL;
				free(text);
				text = t2;
			}
		}
		json_object_set_new(data, "contacts", list);
	} else if (strcmp(t, "interactive") == 0 && json_is_object(o)) {
		x = json_object();
		rt = str(o, "type");
		r = rt ? json_object_get(o, rt) : NULL;
		json_object_set_new(x, "type", json_string(rt ? rt : ""));
		s = json_is_object(r) ? str(r, "id") : NULL;
		json_object_set_new(x, "id", json_string(s ? s : ""));
		s = json_is_object(r) ? str(r, "title") : NULL;
		json_object_set_new(x, "title", json_string(s ? s : ""));
		text = strdup(s ? s : "");
		if (json_is_object(r))
			copy_str(x, "description", r, "description");
		json_object_set_new(data, "interactive", x);
	} else if (strcmp(t, "button") == 0 && json_is_object(o)) {
		x = json_object();
		s = str(o, "payload");
		json_object_set_new(x, "payload", json_string(s ? s : ""));
		s = str(o, "text");
		json_object_set_new(x, "text", json_string(s ? s : ""));
		text = strdup(s ? s : "");
		json_object_set_new(data, "button", x);
	} else if (strcmp(t, "reaction") == 0 && json_is_object(o)) {
		x = json_object();
		s = str(o, "message_id");
		json_object_set_new(x, "message_id", json_string(s ? s : ""));
		s = str(o, "emoji");		/* absent: reaction removed */
		json_object_set_new(x, "emoji", json_string(s ? s : ""));
		text = strdup(s ? s : "");
		json_object_set_new(data, "reaction", x);
	} else
		text = strdup("");		/* unsupported, unknown */
	if (text == NULL)
		fatalx("out of memory");
	return text;
}

/* One element of value.messages[]: an "in" item, or a note. */
static void
message(struct wa_items *out, const json_t *m, const char *pnid,
    const json_t *contacts, size_t idx)
{
	json_t *fr, *data, *media = NULL, *x, *ctx, *errs;
	const json_t *who;
	const char *id, *from, *type, *name;
	char *text, sender[WA_ID_MAX + 2];
	long long ts;

	if (!json_is_object(m)) {
		note(out, 1, "to %s: messages[%zu] is not an object, skipped",
		    pnid, idx);
		out->skipped++;
		return;
	}
	id = str(m, "id");
	from = str(m, "from");
	if (id == NULL || strlen(id) > WA_PID_MAX) {
		note(out, 1, "to %s: messages[%zu] without a usable id, skipped",
		    pnid, idx);
		out->skipped++;
		return;
	}
	if (!is_number(from)) {
		note(out, 1, "to %s: message %s: sender is not a phone number, "
		    "skipped", pnid, id);
		out->skipped++;
		return;
	}
	if (*from == '+')
		from++;
	snprintf(sender, sizeof(sender), "+%s", from);
	if ((type = str(m, "type")) == NULL || strlen(type) > WA_TYPE_MAX)
		type = "unknown";
	data = json_object();
	text = message_body(m, type, data, &media);
	ctx = json_object_get(m, "context");
	if (json_is_object(ctx) && str(ctx, "id") != NULL) {
		x = json_object();
		copy_str(x, "id", ctx, "id");
		copy_str(x, "from", ctx, "from");
		json_object_set_new(data, "context", x);
	}
	if ((errs = errors_list(json_object_get(m, "errors"))) != NULL)
		json_object_set_new(data, "errors", errs);
	who = contact_of(contacts, from);
	if (json_object_get(m, REPAIRED_KEY) != NULL ||
	    (who != NULL && json_object_get(who, REPAIRED_KEY) != NULL)) {
		/* its text (or its sender's name) was not valid: it is now */
		json_object_set_new(data, "repaired", json_true());
		note(out, 1, "to %s: message %s: invalid UTF-8 or NUL replaced "
		    "by U+FFFD", pnid, id);
	}

	fr = json_object();
	json_object_set_new(fr, "t", json_string("in"));
	json_object_set_new(fr, "channel", json_string("whatsapp"));
	json_object_set_new(fr, "pid", json_string(id));
	json_object_set_new(fr, "from", json_string(sender));
	json_object_set_new(fr, "to", json_string(pnid));
	if ((ts = ts_ms(m, "timestamp")) > 0)
		json_object_set_new(fr, "ts", json_integer(ts));
	json_object_set_new(fr, "text", text_value(text));
	json_object_set_new(fr, "type", json_string(type));
	if (who != NULL && (name = profile_name(who)) != NULL)
		json_object_set_new(fr, "name", json_string(name));
	if (media != NULL)
		json_object_set_new(fr, "media", media);
	if (json_object_size(data) > 0)
		json_object_set_new(fr, "data", data);
	else
		json_decref(data);
	free(text);
	item_add(out, WA_IN, id, pnid, fr);
}

/* One element of value.statuses[]: an "st" item, or a note. */
static void
status(struct wa_items *out, const json_t *st, const char *pnid, size_t idx)
{
	const json_t *errs, *e, *ed;
	const char *id, *s, *title, *details;
	char *reason = NULL;
	json_t *fr;
	long long ts;

	if (!json_is_object(st)) {
		note(out, 1, "from %s: statuses[%zu] is not an object, skipped",
		    pnid, idx);
		out->skipped++;
		return;
	}
	id = str(st, "id");
	s = str(st, "status");
	if (id == NULL || strlen(id) > WA_PID_MAX || s == NULL ||
	    strlen(s) > 32) {
		note(out, 1, "from %s: statuses[%zu] without a usable id and "
		    "status, skipped", pnid, idx);
		out->skipped++;
		return;
	}
	fr = json_object();
	json_object_set_new(fr, "t", json_string("st"));
	json_object_set_new(fr, "channel", json_string("whatsapp"));
	json_object_set_new(fr, "pid", json_string(id));
	json_object_set_new(fr, "status", json_string(s));
	if ((ts = ts_ms(st, "timestamp")) > 0)
		json_object_set_new(fr, "ts", json_integer(ts));
	errs = json_object_get(st, "errors");
	e = json_is_array(errs) ? json_array_get(errs, 0) : NULL;
	if (json_is_object(e)) {
		if (json_is_integer(json_object_get(e, "code")))
			json_object_set_new(fr, "code", json_sprintf("%lld",
			    (long long)json_integer_value(
			    json_object_get(e, "code"))));
		if ((title = str(e, "title")) == NULL)
			title = str(e, "message");
		ed = json_object_get(e, "error_data");
		details = json_is_object(ed) ? str(ed, "details") : NULL;
		if (title || details) {
			if (asprintf(&reason, "%s%s%s", title ? title : "",
			    title && details ? ": " : "",
			    details ? details : "") == -1)
				fatalx("out of memory");
			json_object_set_new(fr, "reason", text_value(reason));
			free(reason);
		}
	}
	item_add(out, WA_ST, id, pnid, fr);
}

/* value.errors[]: problems Meta reports about the notification itself. */
static void
value_errors(struct wa_items *out, const json_t *errs, const char *pnid)
{
	const json_t *e, *ed;
	const char *t, *d;
	size_t i;

	json_array_foreach(errs, i, e) {
		if (!json_is_object(e))
			continue;
		if ((t = str(e, "title")) == NULL)
			t = str(e, "message");
		ed = json_object_get(e, "error_data");
		d = json_is_object(ed) ? str(ed, "details") : NULL;
		note(out, 1, "%s: Meta reports error %lld: %s%s%s", pnid,
		    json_is_integer(json_object_get(e, "code")) ?
		    (long long)json_integer_value(json_object_get(e, "code")) :
		    -1LL, t ? t : "(no title)", d ? ": " : "", d ? d : "");
	}
}

/*
 * The NULs of a parsed notification made U+FFFD, each messages[] and
 * contacts[] element that had one marked with REPAIRED_KEY (message()
 * reads the mark); then the rest of the tree, whatever its shape.
 */
static void
repair(json_t *root)
{
	static const char *const lists[] = { "messages", "contacts" };
	json_t *en, *ch, *val, *el;
	size_t i, j, k, l;

	json_array_foreach(json_object_get(root, "entry"), i, en)
		json_array_foreach(json_object_get(en, "changes"), j, ch) {
			val = json_object_get(ch, "value");
			for (l = 0; l < 2; l++)
				json_array_foreach(json_object_get(val,
				    lists[l]), k, el)
					if (json_is_object(el) &&
					    jsonfix_nuls(el) > 0 &&
					    json_object_set_new_nocheck(el,
					    REPAIRED_KEY, json_true()) == -1)
						fatalx("out of memory");
		}
	jsonfix_nuls(root);
}

#define FAIL(...) do {					\
	snprintf(err, errsz, __VA_ARGS__);		\
	goto fail;					\
} while (0)

int
wa_parse(const char *body, size_t len, struct wa_items *out, char *err,
    size_t errsz)
{
	json_t *root, *entries, *en, *changes, *ch, *val, *md, *msgs, *sts,
	    *errs, *el;
	json_error_t je;
	const char *obj, *field, *pnid;
	char *fixed;
	size_t i, j, k, flen;

	/* one customer's broken text must not cost the others theirs */
	if ((fixed = jsonfix_body(body, len, &flen)) != NULL)
		root = json_loadb(fixed, flen, JSON_ALLOW_NUL, &je);
	else
		root = json_loadb(body, len, JSON_ALLOW_NUL, &je);
	free(fixed);
	if (root == NULL)
		FAIL("not JSON: %s at line %d column %d", je.text, je.line,
		    je.column);
	repair(root);
	if (!json_is_object(root))
		FAIL("the body is not a JSON object");
	if ((obj = str(root, "object")) == NULL ||
	    strcmp(obj, "whatsapp_business_account") != 0)
		FAIL("object is %s%s%s, not whatsapp_business_account",
		    obj ? "\"" : "", obj ? obj : "missing", obj ? "\"" : "");
	entries = json_object_get(root, "entry");
	if (!json_is_array(entries))
		FAIL("entry is not an array");
	/* check the shape first: a refused body forwards nothing */
	json_array_foreach(entries, i, en) {
		if (!json_is_object(en))
			FAIL("entry[%zu] is not an object", i);
		changes = json_object_get(en, "changes");
		if (changes != NULL && !json_is_array(changes))
			FAIL("entry[%zu].changes is not an array", i);
		json_array_foreach(changes, j, ch) {
			val = json_object_get(ch, "value");
			if (!json_is_object(ch) || !json_is_object(val))
				continue;
			msgs = json_object_get(val, "messages");
			sts = json_object_get(val, "statuses");
			if ((msgs && !json_is_array(msgs)) ||
			    (sts && !json_is_array(sts)))
				FAIL("entry[%zu].changes[%zu]: messages and "
				    "statuses must be arrays", i, j);
		}
	}
	json_array_foreach(entries, i, en) {
		changes = json_object_get(en, "changes");
		json_array_foreach(changes, j, ch) {
			if (!json_is_object(ch)) {
				note(out, 1, "entry[%zu].changes[%zu] is not "
				    "an object, ignored", i, j);
				continue;
			}
			field = str(ch, "field");
			if (field == NULL || strcmp(field, "messages") != 0) {
				note(out, 0, "a change of field %s ignored",
				    field ? field : "(none)");
				continue;
			}
			val = json_object_get(ch, "value");
			if (!json_is_object(val)) {
				note(out, 1, "entry[%zu].changes[%zu] has no "
				    "value, ignored", i, j);
				continue;
			}
			md = json_object_get(val, "metadata");
			pnid = json_is_object(md) ? str(md, "phone_number_id") :
			    NULL;
			msgs = json_object_get(val, "messages");
			sts = json_object_get(val, "statuses");
			errs = json_object_get(val, "errors");
			if (pnid == NULL || !wa_is_id(pnid, strlen(pnid))) {
				k = json_array_size(msgs) + json_array_size(sts);
				note(out, 1, "entry[%zu].changes[%zu] without "
				    "a phone_number_id: %zu messages and "
				    "statuses skipped", i, j, k);
				out->skipped += k;
				continue;
			}
			json_array_foreach(msgs, k, el)
				message(out, el, pnid,
				    json_object_get(val, "contacts"), k);
			json_array_foreach(sts, k, el)
				status(out, el, pnid, k);
			if (json_is_array(errs))
				value_errors(out, errs, pnid);
		}
	}
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	return -1;
}
