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
 * contacts card, button, reaction, Flow's answers, order, edit or system
 * message) and their facts in "data" (with a click-to-WhatsApp ad's
 * referral and the forwarded flags); an unknown or unsupported one with its
 * type and "" as text, so nothing a customer sends is ever dropped without
 * trace.  A status keeps Meta's conversation, pricing, callback data and
 * errors in its "data".
 *
 * Decided here, and documented in whatsappd(8):
 *   - not JSON, not an object, "object" other than whatsapp_business_account,
 *     or entry / changes / messages / statuses not arrays: the whole body is
 *     refused (the webhook answers 400; a 5xx would be retried for a week);
 *   - a change whose field is not "messages" is ignored (noted): it holds
 *     no customer's message nor a status of ours;
 *   - the sender is the number in "from" when Meta gives one, else the
 *     business-scoped user id in "from_user_id" (a customer with a
 *     username); the ids and username are kept in data beside the number;
 *   - a change without metadata.phone_number_id, a message without id or
 *     without a sender (neither a number nor a BSUID), a status without id
 *     or status: that element is skipped with a note saying why, the rest
 *     are forwarded;
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
#include "proto.h"
#include "rec.h"
#include "str.h"
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
		rec_pack_json(&pk, e);
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

/* Add key: a copy of o's string at key when it is one. */
static void
copy_str(json_t *dst, const char *dkey, const json_t *o, const char *key)
{
	const char *v = rec_str_nonempty(o, key, NULL);

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

	if (n <= PROTO_TEXT_MAX)
		return json_string(s);
	n = PROTO_TEXT_MAX;
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
		t = rec_str_nonempty(e, "title", NULL);
		if (t == NULL)
			t = rec_str_nonempty(e, "message", NULL);
		json_object_set_new(x, "title", json_string(t ? t : ""));
		if ((t = rec_str_nonempty(e, "message", NULL)) != NULL &&
		    strcmp(t, json_string_value(json_object_get(x, "title"))))
			json_object_set_new(x, "message", json_string(t));
		ed = json_object_get(e, "error_data");
		if (json_is_object(ed))
			copy_str(x, "details", ed, "details");
		if (json_object_get(x, "details") == NULL)
			copy_str(x, "details", e, "details");	/* older form */
		copy_str(x, "href", e, "href");
		json_array_append_new(list, x);
	}
	if (json_array_size(list) == 0) {
		json_decref(list);
		return NULL;
	}
	return list;
}

/*
 * The element of value.contacts[] for the customer wa_id (digits) or, when
 * that is NULL or not found, user_id (a BSUID); NULL if none.
 */
static const json_t *
contact_of(const json_t *contacts, const char *wa_id, const char *user_id)
{
	const json_t *c;
	const char *w;
	size_t i;

	if (!json_is_array(contacts))
		return NULL;
	if (wa_id != NULL)
		json_array_foreach(contacts, i, c)
			if ((w = rec_str_nonempty(c, "wa_id", NULL)) != NULL && strcmp(w, wa_id) == 0)
				return c;
	if (user_id != NULL)
		json_array_foreach(contacts, i, c)
			if ((w = rec_str_nonempty(c, "user_id", NULL)) != NULL &&
			    strcmp(w, user_id) == 0)
				return c;
	return NULL;
}

/* Its profile name, or NULL. */
static const char *
profile_name(const json_t *c)
{
	const json_t *p = json_object_get(c, "profile");

	return rec_str_nonempty(p, "name", NULL);
}

static int
is_media_type(const char *t)
{
	return strcmp(t, "image") == 0 || strcmp(t, "document") == 0 ||
	    strcmp(t, "audio") == 0 || strcmp(t, "video") == 0 ||
	    strcmp(t, "sticker") == 0;
}

/* Append "sep" and s to the malloc'd *text (which may be ""). */
static void
text_add(char **text, const char *sep, const char *s)
{
	char *t;

	if (asprintf(&t, "%s%s%s", *text, **text ? sep : "", s) == -1)
		fatalx("out of memory");
	free(*text);
	*text = t;
}

/* A JSON value as text people read: strings as they are, the rest as JSON. */
static char *
value_text(const json_t *v)
{
	char *s;

	if (json_is_string(v))
		s = strdup(json_string_value(v));
	else if (json_is_array(v) && json_array_size(v) > 0) {
		const json_t *e;
		size_t i;

		if ((s = strdup("")) == NULL)
			fatalx("out of memory");
		json_array_foreach(v, i, e) {
			char *x = value_text(e);

			text_add(&s, ", ", x);
			free(x);
		}
		return s;
	} else
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s == NULL)
		fatalx("out of memory");
	return s;
}

/*
 * A Flow's (or address message's) answers as text: "key: value" for each
 * answer, one per line, in the order the customer's app sent them; the
 * flow_token (ours, not the customer's) left out.
 */
static char *
response_text(const json_t *resp)
{
	const char *k;
	json_t *v;
	char *text, *x, *line;

	if ((text = strdup("")) == NULL)
		fatalx("out of memory");
	json_object_foreach((json_t *)resp, k, v) {
		if (strcmp(k, "flow_token") == 0 || json_is_null(v))
			continue;
		x = value_text(v);
		if (asprintf(&line, "%s: %s", k, x) == -1)
			fatalx("out of memory");
		text_add(&text, "\n", line);
		free(line);
		free(x);
	}
	return text;
}

/* interactive: a button or list reply, a Flow's reply (nfm_reply), other. */
static char *
interactive_body(const json_t *o, json_t *data)
{
	const json_t *r;
	const char *rt, *s;
	json_t *x, *resp;
	char *text;

	x = json_object();
	rt = rec_str_nonempty(o, "type", NULL);
	r = rt ? json_object_get(o, rt) : NULL;
	json_object_set_new(x, "type", json_string(rt ? rt : ""));
	json_object_set_new(data, "interactive", x);
	if (rt != NULL && strcmp(rt, "nfm_reply") == 0 && json_is_object(r)) {
		/* a WhatsApp Flow's (or address message's) answers */
		copy_str(x, "name", r, "name");
		copy_str(x, "body", r, "body");
		s = rec_str_nonempty(r, "response_json", NULL);
		resp = s ? json_loads(s, JSON_REJECT_DUPLICATES, NULL) : NULL;
		if (json_is_object(resp)) {
			json_object_set(x, "response", resp);
			text = response_text(resp);
		} else {
			/* not an object: kept as it came */
			if (s != NULL)
				json_object_set_new(x, "response_json",
				    text_value(s));
			text = strdup(s ? s : "");
		}
		json_decref(resp);
		if (text != NULL && *text == '\0' && (s = rec_str_nonempty(r, "body", NULL)))
			text_add(&text, "", s);
		return text;
	}
	if (rt != NULL && strcmp(rt, "call_permission_reply") == 0 &&
	    json_is_object(r)) {
		s = rec_str_nonempty(r, "response", NULL);
		json_object_set_new(x, "response", json_string(s ? s : ""));
		return strdup(s ? s : "");
	}
	s = json_is_object(r) ? rec_str_nonempty(r, "id", NULL) : NULL;
	json_object_set_new(x, "id", json_string(s ? s : ""));
	s = json_is_object(r) ? rec_str_nonempty(r, "title", NULL) : NULL;
	json_object_set_new(x, "title", json_string(s ? s : ""));
	text = strdup(s ? s : "");
	if (json_is_object(r))
		copy_str(x, "description", r, "description");
	return text;
}

/* order: the catalog, its items, the customer's note; a readable summary. */
static char *
order_body(const json_t *o, json_t *data)
{
	const json_t *items, *e;
	json_t *x, *list, *it;
	const char *sku, *cur, *note;
	char q[32], p[32], *sum, *line, *text;
	double d;
	size_t i;

	x = json_object();
	copy_str(x, "catalog_id", o, "catalog_id");
	if ((note = rec_str_nonempty(o, "text", NULL)) != NULL)
		json_object_set_new(x, "text", text_value(note));
	list = json_array();
	if ((sum = strdup("")) == NULL)
		fatalx("out of memory");
	items = json_object_get(o, "product_items");
	json_array_foreach(items, i, e) {
		if (!json_is_object(e))
			continue;
		it = json_object();
		sku = rec_str_nonempty(e, "product_retailer_id", NULL);
		cur = rec_str_nonempty(e, "currency", NULL);
		json_object_set_new(it, "product_retailer_id",
		    json_string(sku ? sku : ""));
		snprintf(q, sizeof(q), "1");
		if (number(e, "quantity", &d)) {
			json_object_set_new(it, "quantity", json_real(d));
			str_num(q, sizeof(q), d);
		}
		p[0] = '\0';
		if (number(e, "item_price", &d)) {
			json_object_set_new(it, "item_price", json_real(d));
			str_num(p, sizeof(p), d);
		}
		if (cur != NULL)
			json_object_set_new(it, "currency", json_string(cur));
		json_array_append_new(list, it);
		if (asprintf(&line, "%s x %s%s%s%s%s", q, sku ? sku : "?",
		    p[0] ? " @ " : "", p, cur && p[0] ? " " : "",
		    cur && p[0] ? cur : "") == -1)
			fatalx("out of memory");
		text_add(&sum, ", ", line);
		free(line);
	}
	json_object_set_new(x, "items", list);
	json_object_set_new(data, "order", x);
	if (note == NULL)
		return sum;
	if (asprintf(&text, "%s%s%s%s", note, *sum ? " (" : "", sum,
	    *sum ? ")" : "") == -1)
		fatalx("out of memory");
	free(sum);
	return text;
}

/*
 * system: the customer changed number (or BSUID, or identity): the body
 * Meta wrote, and the new number and ids, so the conversation can follow.
 */
static char *
system_body(const json_t *o, json_t *data)
{
	json_t *x = json_object();
	const char *s, *w;
	char nw[WA_ID_MAX + 2];

	copy_str(x, "type", o, "type");
	if ((w = rec_str_nonempty(o, "wa_id", NULL)) == NULL)
		w = rec_str_nonempty(o, "new_wa_id", NULL);	/* before v12 */
	if (w != NULL && is_number(w)) {
		snprintf(nw, sizeof(nw), "+%s", *w == '+' ? w + 1 : w);
		json_object_set_new(x, "new_contact", json_string(nw));
	}
	copy_str(x, "user_id", o, "user_id");
	copy_str(x, "parent_user_id", o, "parent_user_id");
	copy_str(x, "identity", o, "identity");
	copy_str(x, "customer", o, "customer");
	json_object_set_new(data, "system", x);
	s = rec_str_nonempty(o, "body", NULL);
	return strdup(s ? s : "");
}

static char *message_body(const json_t *, const char *, json_t *, json_t **,
	    int);

/*
 * edit: the new content of an earlier message (original_message_id),
 * read as a message of its own type; revoke: an earlier message deleted.
 * Both name the original in data, which readers show on it.
 */
static char *
change_body(const json_t *o, const char *t, json_t *data, json_t **media,
    int depth)
{
	const json_t *nm;
	const char *nt;
	json_t *x = json_object();
	char *text;

	copy_str(x, "original", o, "original_message_id");
	json_object_set_new(data, t, x);
	if (strcmp(t, "revoke") == 0)
		return strdup("");
	nm = json_object_get(o, "message");
	if (!json_is_object(nm))
		return strdup("");
	if ((nt = rec_str_nonempty(nm, "type", NULL)) == NULL)
		nt = json_object_get(nm, "text") ? "text" : "unknown";
	if (strlen(nt) > WA_TYPE_MAX)
		nt = "unknown";
	json_object_set_new(x, "type", json_string(nt));
	text = message_body(nm, nt, data, media, depth + 1);
	return text;
}

/*
 * The text of message m of type t, and its facts into data (and media).
 * Returns the text (malloc'd).  depth bounds an edit inside an edit.
 */
static char *
message_body(const json_t *m, const char *t, json_t *data, json_t **media,
    int depth)
{
	const json_t *o, *e, *ph, *nm, *r;
	json_t *x, *list, *phones;
	const char *s, *name, *addr;
	char lat[32], lon[32], *text = NULL;
	double la, lo;
	size_t i, j;
	int coords;

	o = json_object_get(m, t);
	if (!json_is_object(o) && !json_is_array(o))
		o = NULL;
	if (strcmp(t, "text") == 0) {
		s = o ? rec_str_nonempty(o, "body", NULL) : NULL;
		text = strdup(s ? s : "");
	} else if (is_media_type(t)) {
		s = o ? rec_str_nonempty(o, "caption", NULL) : NULL;
		text = strdup(s ? s : "");
		if (o != NULL && rec_str_nonempty(o, "id", NULL) != NULL) {
			x = json_object();
			copy_str(x, "id", o, "id");
			s = rec_str_nonempty(o, "mime_type", NULL);
			json_object_set_new(x, "mime", json_string(s ? s :
			    "application/octet-stream"));
			copy_str(x, "sha256", o, "sha256");
			copy_str(x, "filename", o, "filename");
			copy_str(x, "url", o, "url");
			/* a voice note (push to talk), an animated sticker */
			if (json_is_true(json_object_get(o, "voice")))
				json_object_set_new(x, "voice", json_true());
			if (json_is_true(json_object_get(o, "animated")))
				json_object_set_new(x, "animated", json_true());
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
			str_num(lat, sizeof(lat), la);
			str_num(lon, sizeof(lon), lo);
		}
		name = rec_str_nonempty(o, "name", NULL);
		addr = rec_str_nonempty(o, "address", NULL);
		copy_str(x, "name", o, "name");
		copy_str(x, "address", o, "address");
		copy_str(x, "url", o, "url");
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
			name = rec_str_nonempty(nm, "formatted_name", NULL);
			if (name == NULL && json_is_object(nm))
				name = rec_str_nonempty(nm, "first_name", NULL);
			json_object_set_new(x, "name", json_string(name ? name :
			    ""));
			phones = json_array();
			ph = json_object_get(e, "phones");
			if (json_is_array(ph))
				json_array_foreach(ph, j, r)
					if ((s = rec_str_nonempty(r,
					    "phone", NULL)) != NULL)
						json_array_append_new(phones,
						    json_string(s));
			json_object_set_new(x, "phones", phones);
			json_array_append_new(list, x);
			if (name != NULL && text != NULL)
				text_add(&text, ", ", name);
		}
		json_object_set_new(data, "contacts", list);
	} else if (strcmp(t, "interactive") == 0 && json_is_object(o)) {
		text = interactive_body(o, data);
	} else if (strcmp(t, "button") == 0 && json_is_object(o)) {
		x = json_object();
		s = rec_str_nonempty(o, "payload", NULL);
		json_object_set_new(x, "payload", json_string(s ? s : ""));
		s = rec_str_nonempty(o, "text", NULL);
		json_object_set_new(x, "text", json_string(s ? s : ""));
		text = strdup(s ? s : "");
		json_object_set_new(data, "button", x);
	} else if (strcmp(t, "reaction") == 0 && json_is_object(o)) {
		x = json_object();
		s = rec_str_nonempty(o, "message_id", NULL);
		json_object_set_new(x, "message_id", json_string(s ? s : ""));
		/* absent: the reaction was removed */
		s = rec_str_nonempty(o, "emoji", NULL);
		json_object_set_new(x, "emoji", json_string(s ? s : ""));
		text = strdup(s ? s : "");
		json_object_set_new(data, "reaction", x);
	} else if (strcmp(t, "order") == 0 && json_is_object(o)) {
		text = order_body(o, data);
	} else if (strcmp(t, "system") == 0 && json_is_object(o)) {
		text = system_body(o, data);
	} else if ((strcmp(t, "edit") == 0 || strcmp(t, "revoke") == 0) &&
	    json_is_object(o) && depth == 0) {
		text = change_body(o, t, data, media, depth);
	} else {
		/* unsupported (the type Meta could not show), unknown */
		if (strcmp(t, "unsupported") == 0 && json_is_object(o) &&
		    rec_str_nonempty(o, "type", NULL) != NULL) {
			x = json_object();
			copy_str(x, "type", o, "type");
			json_object_set_new(data, "unsupported", x);
		}
		text = strdup("");
	}
	if (text == NULL)
		fatalx("out of memory");
	return text;
}

/* A click-to-WhatsApp ad's referral: where the customer came from. */
static json_t *
referral_of(const json_t *r)
{
	static const char *const keys[] = { "source_url", "source_id",
	    "source_type", "headline", "body", "media_type", "image_url",
	    "video_url", "thumbnail_url", "ctwa_clid", NULL };
	const json_t *wm;
	json_t *x;
	size_t i;

	if (!json_is_object(r))
		return NULL;
	x = json_object();
	for (i = 0; keys[i] != NULL; i++)
		copy_str(x, keys[i], r, keys[i]);
	wm = json_object_get(r, "welcome_message");
	if (json_is_object(wm))
		copy_str(x, "welcome_message", wm, "text");
	return x;
}

/* A reply's context, forwarded flags, a product asked about; NULL if none. */
static json_t *
context_of(const json_t *ctx)
{
	const json_t *rp;
	json_t *x;

	if (!json_is_object(ctx))
		return NULL;
	x = json_object();
	copy_str(x, "id", ctx, "id");
	copy_str(x, "from", ctx, "from");
	if (json_is_true(json_object_get(ctx, "forwarded")))
		json_object_set_new(x, "forwarded", json_true());
	if (json_is_true(json_object_get(ctx, "frequently_forwarded")))
		json_object_set_new(x, "frequently_forwarded", json_true());
	rp = json_object_get(ctx, "referred_product");
	if (json_is_object(rp)) {
		json_t *p = json_object();

		copy_str(p, "catalog_id", rp, "catalog_id");
		copy_str(p, "product_retailer_id", rp, "product_retailer_id");
		json_object_set_new(x, "referred_product", p);
	}
	if (json_object_size(x) == 0) {
		json_decref(x);
		return NULL;
	}
	return x;
}

/*
 * One element of value.messages[]: an "in" item, or a note.  The sender is
 * the customer's number ("from") when Meta gives it, else their
 * business-scoped user id ("from_user_id", when they hide their number);
 * the BSUID, its parent and the username go in data beside the number.
 */
static void
message(struct wa_items *out, const json_t *m, const char *pnid,
    const json_t *contacts, size_t idx)
{
	json_t *fr, *data, *media = NULL, *x, *errs;
	const json_t *who, *p;
	const char *id, *from, *type, *name, *uid, *puid, *uname;
	char *text, sender[VALID_BSUID_MAX + 2];
	long long ts;

	if (!json_is_object(m)) {
		note(out, 1, "to %s: messages[%zu] is not an object, skipped",
		    pnid, idx);
		out->skipped++;
		return;
	}
	id = rec_str_nonempty(m, "id", NULL);
	from = rec_str_nonempty(m, "from", NULL);
	if ((uid = rec_str_nonempty(m, "from_user_id", NULL)) != NULL && !valid_bsuid(uid))
		uid = NULL;
	if ((puid = rec_str_nonempty(m, "from_parent_user_id", NULL)) != NULL &&
	    !valid_bsuid(puid))
		puid = NULL;
	if (id == NULL || strlen(id) > WA_PID_MAX) {
		note(out, 1, "to %s: messages[%zu] without a usable id, skipped",
		    pnid, idx);
		out->skipped++;
		return;
	}
	if (!is_number(from))
		from = NULL;
	if (from == NULL && uid == NULL) {
		note(out, 1, "to %s: message %s: no sender (neither a phone "
		    "number in from nor a business-scoped user id in "
		    "from_user_id), skipped", pnid, id);
		out->skipped++;
		return;
	}
	if (from != NULL) {
		if (*from == '+')
			from++;
		snprintf(sender, sizeof(sender), "+%s", from);
	} else
		snprintf(sender, sizeof(sender), "%s", uid);
	if ((type = rec_str_nonempty(m, "type", NULL)) == NULL || strlen(type) > WA_TYPE_MAX)
		type = "unknown";
	data = json_object();
	text = message_body(m, type, data, &media, 0);
	if ((x = context_of(json_object_get(m, "context"))) != NULL)
		json_object_set_new(data, "context", x);
	if ((x = referral_of(json_object_get(m, "referral"))) != NULL)
		json_object_set_new(data, "referral", x);
	if ((errs = errors_list(json_object_get(m, "errors"))) != NULL)
		json_object_set_new(data, "errors", errs);
	who = contact_of(contacts, from, uid);
	if (uid == NULL && who != NULL && (uid = rec_str_nonempty(who, "user_id", NULL)) != NULL &&
	    !valid_bsuid(uid))
		uid = NULL;
	if (puid == NULL && who != NULL &&
	    (puid = rec_str_nonempty(who, "parent_user_id", NULL)) != NULL && !valid_bsuid(puid))
		puid = NULL;
	if (uid != NULL)
		json_object_set_new(data, "user_id", json_string(uid));
	if (puid != NULL)
		json_object_set_new(data, "parent_user_id", json_string(puid));
	p = who ? json_object_get(who, "profile") : NULL;
	if (json_is_object(p) && (uname = rec_str_nonempty(p, "username", NULL)) != NULL)
		json_object_set_new(data, "username", json_string(uname));
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

/* Meta's number as a contact: "+" and the digits; "" if not a number. */
static void
plus_number(const char *s, char *out, size_t outsz)
{
	if (!is_number(s)) {
		out[0] = '\0';
		return;
	}
	snprintf(out, outsz, "+%s", *s == '+' ? s + 1 : s);
}

/*
 * One element of value.statuses[]: an "st" item, or a note.  Besides the
 * status and the first error's code and reason, its facts go in data:
 * every error (code, title, details), the conversation (id, origin,
 * expiry), the pricing (billable, model, category, type), what we put in
 * biz_opaque_callback_data, and the recipient (number, BSUID, parent).
 */
static void
status(struct wa_items *out, const json_t *st, const char *pnid, size_t idx)
{
	const json_t *errs, *e, *ed, *cv, *pr, *v;
	const char *id, *s, *title, *details;
	char *reason = NULL, num[WA_ID_MAX + 2];
	json_t *fr, *data, *x;
	long long ts;

	if (!json_is_object(st)) {
		note(out, 1, "from %s: statuses[%zu] is not an object, skipped",
		    pnid, idx);
		out->skipped++;
		return;
	}
	id = rec_str_nonempty(st, "id", NULL);
	s = rec_str_nonempty(st, "status", NULL);
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
		if ((title = rec_str_nonempty(e, "title", NULL)) == NULL)
			title = rec_str_nonempty(e, "message", NULL);
		ed = json_object_get(e, "error_data");
		details = rec_str_nonempty(ed, "details", NULL);
		if (title || details) {
			if (asprintf(&reason, "%s%s%s", title ? title : "",
			    title && details ? ": " : "",
			    details ? details : "") == -1)
				fatalx("out of memory");
			json_object_set_new(fr, "reason", text_value(reason));
			free(reason);
		}
	}
	data = json_object();
	if ((x = errors_list(errs)) != NULL)
		json_object_set_new(data, "errors", x);
	cv = json_object_get(st, "conversation");
	if (json_is_object(cv)) {
		x = json_object();
		copy_str(x, "id", cv, "id");
		v = json_object_get(cv, "origin");
		if (json_is_object(v))
			copy_str(x, "origin", v, "type");
		if ((ts = ts_ms(cv, "expiration_timestamp")) > 0)
			json_object_set_new(x, "expires", json_integer(ts));
		json_object_set_new(data, "conversation", x);
	}
	pr = json_object_get(st, "pricing");
	if (json_is_object(pr)) {
		x = json_object();
		v = json_object_get(pr, "billable");	/* deprecated, kept */
		if (json_is_boolean(v))
			json_object_set_new(x, "billable", json_boolean(
			    json_is_true(v)));
		copy_str(x, "pricing_model", pr, "pricing_model");
		copy_str(x, "category", pr, "category");
		copy_str(x, "type", pr, "type");
		json_object_set_new(data, "pricing", x);
	}
	if ((s = rec_str_nonempty(st, "biz_opaque_callback_data", NULL)) != NULL)
		json_object_set_new(data, "biz_opaque_callback_data",
		    text_value(s));
	plus_number(rec_str_nonempty(st, "recipient_id", NULL), num, sizeof(num));
	if (num[0] != '\0')
		json_object_set_new(data, "recipient", json_string(num));
	if ((s = rec_str_nonempty(st, "recipient_user_id", NULL)) != NULL && valid_bsuid(s))
		json_object_set_new(data, "recipient_user_id", json_string(s));
	if ((s = rec_str_nonempty(st, "parent_recipient_user_id", NULL)) != NULL &&
	    valid_bsuid(s))
		json_object_set_new(data, "parent_recipient_user_id",
		    json_string(s));
	if (json_object_size(data) > 0)
		json_object_set_new(fr, "data", data);
	else
		json_decref(data);
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
		if ((t = rec_str_nonempty(e, "title", NULL)) == NULL)
			t = rec_str_nonempty(e, "message", NULL);
		ed = json_object_get(e, "error_data");
		d = rec_str_nonempty(ed, "details", NULL);
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
	if ((obj = rec_str_nonempty(root, "object", NULL)) == NULL ||
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
			field = rec_str_nonempty(ch, "field", NULL);
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
			pnid = rec_str_nonempty(md, "phone_number_id", NULL);
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
