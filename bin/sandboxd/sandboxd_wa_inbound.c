/*
 * sandboxd_wa_inbound — POST /sandbox/whatsapp/inbound (control): a
 * simulated customer writes.  The request names the customer, our number
 * (by number, business-scoped user id, or both), our number and what was
 * sent (text, media, location, contacts, interactive replies including a
 * Flow's, button, reaction, order, an edit, a deletion, a system message,
 * unsupported and unknown types; any with a click-to-WhatsApp ad's
 * referral or forwarded); sandboxd builds Meta's webhook
 * notification (a batch may hold many, grouped per number), signs it with
 * the app secret (X-Hub-Signature-256) and posts it to
 * sandbox_whatsapp_webhook_url, as often as asked.  A customer's message
 * opens the 24-hour window for replies to them.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <jansson.h>

#include "daemon.h"
#include "log.h"
#include "sandboxd.h"
#include "sandboxd_wa.h"
#include "sig.h"
#include "valid.h"

/* --- simulated inbound messages --- */

/* Fields an inbound item takes, and those an item inherits from the top. */
static const char *const item_keys[] = { "from", "to", "name", "type", "text",
    "caption", "mime", "media_id", "filename", "latitude", "longitude",
    "place", "address", "url", "payload", "emoji", "reply_to", "ts", "id",
    "contacts", "interactive", "raw", "user_id", "parent_user_id",
    "username", "referral", "order", "original", "new_from", "new_user_id",
    "forwarded", "frequently_forwarded", "voice", "animated", NULL };
static const char *const inherited[] = { "from", "to", "name", "ts",
    "user_id", "parent_user_id", "username", NULL };

/* Who the simulated customer is: a number, a BSUID, or both. */
struct in_who {
	const char	*from;		/* E.164, NULL when withheld */
	const char	*user_id, *parent_user_id, *username, *name;
	const char	*key;		/* digits of from, else user_id */
};

/* Member key of the item, else (for inherited keys) of the top object. */
static json_t *
ifield(json_t *it, json_t *top, const char *key)
{
	json_t *v = json_object_get(it, key);

	if (v == NULL && top != NULL && top != it && sbx_wa_in_list(key, inherited))
		v = json_object_get(top, key);
	return v;
}

/* A string field: 0 (absent: *out NULL) or -1 when not a string. */
static int
istr(json_t *it, json_t *top, const char *key, const char **out)
{
	json_t *v = ifield(it, top, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

/* Default MIME type of a simulated media message. */
static const char *
default_mime(const char *type)
{
	if (strcmp(type, "image") == 0)
		return "image/jpeg";
	if (strcmp(type, "video") == 0)
		return "video/mp4";
	if (strcmp(type, "audio") == 0)
		return "audio/ogg; codecs=opus";
	if (strcmp(type, "sticker") == 0)
		return "image/webp";
	return "application/pdf";
}

/* Build the media object of a simulated media message into msg. */
static int
in_media(struct sbx_whatsapp *wa, json_t *it, const char *type, json_t *msg,
    char *why, size_t whysz)
{
	const char *mid, *mime, *cap, *fn;
	char idbuf[WA_ID_MAX + 1], synth[96];
	struct wa_media *m;
	json_t *o;

	if (istr(it, NULL, "media_id", &mid) == -1 ||
	    istr(it, NULL, "mime", &mime) == -1 ||
	    istr(it, NULL, "caption", &cap) == -1 ||
	    istr(it, NULL, "filename", &fn) == -1) {
		snprintf(why, whysz, "media_id, mime, caption and filename must "
		    "be strings");
		return -1;
	}
	if (mid != NULL && !sbx_wa_all_digits(mid, WA_ID_MAX)) {
		snprintf(why, whysz, "\"media_id\" must be 1 to %d digits",
		    WA_ID_MAX);
		return -1;
	}
	if (mime != NULL && (*mime == '\0' || strlen(mime) >= 128)) {
		snprintf(why, whysz, "\"mime\" must be 1 to 127 bytes");
		return -1;
	}
	if (fn != NULL && strlen(fn) > 255) {
		snprintf(why, whysz, "\"filename\" is over 255 bytes");
		return -1;
	}
	if (cap != NULL && sbx_wa_utf8_chars(cap) > WA_CAPTION_MAX) {
		snprintf(why, whysz, "\"caption\" is over %d characters",
		    WA_CAPTION_MAX);
		return -1;
	}
	if ((m = mid ? sbx_wa_media_get(wa, mid) : NULL) == NULL) {
		/* Made-up media: small bytes that GET and download agree on. */
		if (mid == NULL) {
			sbx_wa_media_new_id(wa, idbuf);
			mid = idbuf;
		}
		snprintf(synth, sizeof(synth), "sandbox %s media %s\n", type, mid);
		if ((m = sbx_wa_media_add(wa, mid, mime ? mime : default_mime(type), fn,
		    (const unsigned char *)synth, strlen(synth))) == NULL) {
			snprintf(why, whysz, "out of memory");
			return -1;
		}
	}
	o = json_object();
	if (cap != NULL && (strcmp(type, "image") == 0 ||
	    strcmp(type, "video") == 0 || strcmp(type, "document") == 0))
		json_object_set_new(o, "caption", json_string(cap));
	if (fn != NULL && strcmp(type, "document") == 0)
		json_object_set_new(o, "filename", json_string(fn));
	json_object_set_new(o, "mime_type", json_string(mime ? mime : m->mime));
	json_object_set_new(o, "sha256", json_string(m->sha256_b64));
	json_object_set_new(o, "id", json_string(m->h.key));
	if (strcmp(type, "audio") == 0)
		json_object_set_new(o, "voice", json_object_get(it, "voice") ?
		    json_boolean(json_is_true(json_object_get(it, "voice"))) :
		    json_boolean(strncmp(mime ? mime : m->mime, "audio/ogg",
		    9) == 0));
	if (strcmp(type, "sticker") == 0)
		json_object_set_new(o, "animated", json_boolean(json_is_true(
		    json_object_get(it, "animated"))));
	json_object_set_new(msg, type, o);
	return 0;
}

static int
in_location(json_t *it, json_t *msg, char *why, size_t whysz)
{
	json_t *lat = json_object_get(it, "latitude");
	json_t *lon = json_object_get(it, "longitude");
	const char *place, *addr, *url;
	json_t *o;

	if (!json_is_number(lat) || !json_is_number(lon) ||
	    fabs(json_number_value(lat)) > 90 ||
	    fabs(json_number_value(lon)) > 180) {
		snprintf(why, whysz, "a location needs numeric \"latitude\" "
		    "(-90..90) and \"longitude\" (-180..180)");
		return -1;
	}
	if (istr(it, NULL, "place", &place) == -1 ||
	    istr(it, NULL, "address", &addr) == -1 ||
	    istr(it, NULL, "url", &url) == -1) {
		snprintf(why, whysz, "\"place\", \"address\" and \"url\" must "
		    "be strings");
		return -1;
	}
	o = json_pack("{s:O, s:O}", "latitude", lat, "longitude", lon);
	if (place != NULL)
		json_object_set_new(o, "name", json_string(place));
	if (addr != NULL)
		json_object_set_new(o, "address", json_string(addr));
	if (url != NULL)
		json_object_set_new(o, "url", json_string(url));
	json_object_set_new(msg, "location", o);
	return 0;
}

static int
in_contacts(json_t *it, json_t *msg, char *why, size_t whysz)
{
	json_t *a = json_object_get(it, "contacts"), *c, *phones, *p, *out, *po;
	const char *name, *ph;
	char digits[24];
	size_t i, k, n;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > 20) {
		snprintf(why, whysz, "\"contacts\" must be an array of 1 to 20 "
		    "{\"name\", \"phones\"}");
		return -1;
	}
	out = json_array();
	json_array_foreach(a, i, c) {
		phones = json_object_get(c, "phones");
		if (!json_is_object(c) || istr(c, NULL, "name", &name) == -1 ||
		    name == NULL || *name == '\0' ||
		    (phones != NULL && !json_is_array(phones))) {
			snprintf(why, whysz, "contacts[%zu] needs a \"name\" and "
			    "optional \"phones\" (an array of strings)", i);
			json_decref(out);
			return -1;
		}
		po = json_array();
		json_array_foreach(phones, k, p) {
			if (!json_is_string(p)) {
				snprintf(why, whysz, "contacts[%zu].phones[%zu] "
				    "must be a string", i, k);
				json_decref(po);
				json_decref(out);
				return -1;
			}
			ph = json_string_value(p);
			for (n = 0; *ph != '\0' && n + 1 < sizeof(digits); ph++)
				if (isdigit((unsigned char)*ph))
					digits[n++] = *ph;
			digits[n] = '\0';
			json_array_append_new(po, json_pack("{s:s, s:s, s:s}",
			    "phone", json_string_value(p), "wa_id", digits,
			    "type", "CELL"));
		}
		json_array_append_new(out, json_pack("{s:{s:s, s:s}, s:o}",
		    "name", "formatted_name", name, "first_name", name,
		    "phones", po));
	}
	json_object_set_new(msg, "contacts", out);
	return 0;
}

static int
in_interactive(json_t *it, json_t *msg, char *why, size_t whysz)
{
	json_t *o = json_object_get(it, "interactive"), *r, *resp;
	const char *t, *id, *title, *desc, *name, *body;
	char *rj;

	if (json_is_object(o) && istr(o, NULL, "type", &t) == 0 && t != NULL &&
	    strcmp(t, "nfm_reply") == 0) {
		/* a WhatsApp Flow's answers: response_json is a JSON string */
		resp = json_object_get(o, "response");
		if (!json_is_object(resp) || istr(o, NULL, "name", &name) == -1 ||
		    istr(o, NULL, "body", &body) == -1) {
			snprintf(why, whysz, "an nfm_reply needs \"response\" "
			    "(the answers, a JSON object) and optional \"name\" "
			    "(default flow) and \"body\"");
			return -1;
		}
		if ((rj = json_dumps(resp, JSON_COMPACT)) == NULL) {
			snprintf(why, whysz, "out of memory");
			return -1;
		}
		json_object_set_new(msg, "interactive", json_pack("{s:s, s:{s:s, "
		    "s:s, s:s}}", "type", "nfm_reply", "nfm_reply", "name",
		    name ? name : "flow", "body", body ? body : "Sent",
		    "response_json", rj));
		free(rj);
		return 0;
	}
	if (!json_is_object(o) || istr(o, NULL, "type", &t) == -1 ||
	    istr(o, NULL, "id", &id) == -1 || istr(o, NULL, "title", &title) == -1 ||
	    istr(o, NULL, "description", &desc) == -1 || id == NULL ||
	    title == NULL) {
		snprintf(why, whysz, "\"interactive\" must be {\"type\": "
		    "\"button_reply\"|\"list_reply\", \"id\", \"title\", "
		    "\"description\"?} or {\"type\": \"nfm_reply\", "
		    "\"response\": {...}, \"name\"?, \"body\"?}");
		return -1;
	}
	if (t == NULL)
		t = "button_reply";
	if (strcmp(t, "button_reply") != 0 && strcmp(t, "list_reply") != 0) {
		snprintf(why, whysz, "interactive.type must be \"button_reply\", "
		    "\"list_reply\" or \"nfm_reply\"");
		return -1;
	}
	r = json_pack("{s:s, s:s}", "id", id, "title", title);
	if (desc != NULL && strcmp(t, "list_reply") == 0)
		json_object_set_new(r, "description", json_string(desc));
	json_object_set_new(msg, "interactive", json_pack("{s:s, s:o}", "type",
	    t, t, r));
	return 0;
}

/* order: {"catalog_id", "text"?, "items": [{product_retailer_id,
 * quantity, item_price, currency}]} as Meta's product_items. */
static int
in_order(json_t *it, json_t *msg, char *why, size_t whysz)
{
	json_t *o = json_object_get(it, "order"), *items, *e, *out, *pi;
	const char *cat, *text, *sku, *cur;
	size_t i;

	items = json_object_get(o, "items");
	if (!json_is_object(o) || istr(o, NULL, "catalog_id", &cat) == -1 ||
	    cat == NULL || istr(o, NULL, "text", &text) == -1 ||
	    !json_is_array(items) || json_array_size(items) == 0 ||
	    json_array_size(items) > 100) {
		snprintf(why, whysz, "an order needs \"order\": {\"catalog_id\", "
		    "\"items\": [1 to 100 {\"product_retailer_id\", "
		    "\"quantity\", \"item_price\", \"currency\"}], \"text\"?}");
		return -1;
	}
	pi = json_array();
	json_array_foreach(items, i, e) {
		if (!json_is_object(e) ||
		    istr(e, NULL, "product_retailer_id", &sku) == -1 ||
		    sku == NULL || istr(e, NULL, "currency", &cur) == -1 ||
		    cur == NULL || !json_is_integer(json_object_get(e,
		    "quantity")) || !json_is_number(json_object_get(e,
		    "item_price"))) {
			snprintf(why, whysz, "order.items[%zu] needs "
			    "\"product_retailer_id\", an integer \"quantity\", "
			    "a number \"item_price\" and \"currency\"", i);
			json_decref(pi);
			return -1;
		}
		json_array_append_new(pi, json_pack("{s:s, s:O, s:O, s:s}",
		    "product_retailer_id", sku, "quantity", json_object_get(e,
		    "quantity"), "item_price", json_object_get(e, "item_price"),
		    "currency", cur));
	}
	out = json_pack("{s:s, s:o}", "catalog_id", cat, "product_items", pi);
	if (text != NULL)
		json_object_set_new(out, "text", json_string(text));
	json_object_set_new(msg, "order", out);
	return 0;
}

/*
 * edit: {"original", "text"}: the customer changed an earlier text;
 * revoke: {"original"}: the customer deleted it.  Meta sends these to
 * numbers also on the WhatsApp Business app (coexistence).
 */
static int
in_change(json_t *it, const char *type, const char *text, json_t *msg,
    char *why, size_t whysz)
{
	const char *orig;
	json_t *o;

	if (istr(it, NULL, "original", &orig) == -1 || orig == NULL ||
	    *orig == '\0' || strlen(orig) > 159 ||
	    (strcmp(type, "edit") == 0 && (text == NULL ||
	    sbx_wa_utf8_chars(text) > WA_TEXT_MAX))) {
		snprintf(why, whysz, "%s needs \"original\" (the wamid of the "
		    "customer's message)%s", type, strcmp(type, "edit") == 0 ?
		    " and \"text\" (its new text)" : "");
		return -1;
	}
	o = json_pack("{s:s}", "original_message_id", orig);
	if (strcmp(type, "edit") == 0)
		json_object_set_new(o, "message", json_pack("{s:s, s:{s:s}}",
		    "type", "text", "text", "body", text));
	json_object_set_new(msg, type, o);
	return 0;
}

/*
 * system: the customer changed number ("new_from", E.164) or business-
 * scoped user id ("new_user_id"); Meta's text names the change.
 */
static int
in_system(json_t *it, const struct in_who *w, json_t *msg, char *why,
    size_t whysz)
{
	const char *nf, *nu;
	char body[512];
	json_t *o;

	if (istr(it, NULL, "new_from", &nf) == -1 ||
	    istr(it, NULL, "new_user_id", &nu) == -1 ||
	    (nf == NULL && nu == NULL) || (nf != NULL && !valid_e164(nf)) ||
	    (nu != NULL && !valid_bsuid(nu))) {
		snprintf(why, whysz, "a system message needs \"new_from\" (the "
		    "customer's new E.164 number) or \"new_user_id\" (their "
		    "new business-scoped user id)");
		return -1;
	}
	if (nf != NULL) {
		sbx_wa_say(body, sizeof(body), "User %s changed from %s to %s",
		    w->name ? w->name : "A", w->from ? w->from : w->user_id, nf);
		o = json_pack("{s:s, s:s, s:s}", "body", body, "type",
		    "customer_changed_number", "wa_id", nf + 1);
		if (w->from != NULL)
			json_object_set_new(o, "customer", json_string(w->from +
			    1));
	} else {
		sbx_wa_say(body, sizeof(body), "User %s changed their "
		    "business-scoped user id", w->name ? w->name : "A");
		o = json_pack("{s:s, s:s}", "body", body, "type",
		    "user_changed_user_id");
	}
	json_object_set_new(o, "user_id", json_string(nu ? nu : w->user_id ?
	    w->user_id : ""));
	if (json_string_length(json_object_get(o, "user_id")) == 0)
		json_object_del(o, "user_id");
	json_object_set_new(msg, "system", o);
	return 0;
}

/* A type name: 1..32 of [a-z_]. */
static int
valid_type(const char *t)
{
	size_t n = strlen(t);

	return n > 0 && n <= 32 &&
	    strspn(t, "abcdefghijklmnopqrstuvwxyz_") == n;
}

/* One simulated message; its customer into *w and our number into *to. */
static json_t *
in_item(struct sbx_whatsapp *wa, json_t *it, json_t *top, long long now,
    struct in_who *w, const char **to, long long *ts_ms, char *why,
    size_t whysz)
{
	const char *type, *text, *id, *reply, *payload, *emoji;
	char wamid[160], tsbuf[24], disp[24];
	json_t *msg = NULL, *v, *raw, *ctx = NULL;
	const char *key;
	long long ts;
	int fw, ffw;

	json_object_foreach(it, key, v) {
		if (!sbx_wa_in_list(key, item_keys) && (it != top ||
		    (strcmp(key, "dup") != 0 && strcmp(key, "batch") != 0))) {
			snprintf(why, whysz, "unknown field \"%.40s\"", key);
			return NULL;
		}
	}
	memset(w, 0, sizeof(*w));
	if (istr(it, top, "from", &w->from) == -1 ||
	    istr(it, top, "to", to) == -1 ||
	    istr(it, top, "name", &w->name) == -1 ||
	    istr(it, top, "user_id", &w->user_id) == -1 ||
	    istr(it, top, "parent_user_id", &w->parent_user_id) == -1 ||
	    istr(it, top, "username", &w->username) == -1 ||
	    istr(it, NULL, "type", &type) == -1 ||
	    istr(it, NULL, "text", &text) == -1 ||
	    istr(it, NULL, "id", &id) == -1 ||
	    istr(it, NULL, "reply_to", &reply) == -1 ||
	    istr(it, NULL, "payload", &payload) == -1 ||
	    istr(it, NULL, "emoji", &emoji) == -1) {
		snprintf(why, whysz, "from, to, name, user_id, parent_user_id, "
		    "username, type, text, id, reply_to, payload and emoji must "
		    "be strings");
		return NULL;
	}
	if ((w->from == NULL && w->user_id == NULL) ||
	    (w->from != NULL && !valid_e164(w->from))) {
		snprintf(why, whysz, "\"from\" must be the customer's E.164 "
		    "number (+ and 8 to 15 digits), or give \"user_id\" (their "
		    "business-scoped user id) alone");
		return NULL;
	}
	if ((w->user_id != NULL && !valid_bsuid(w->user_id)) ||
	    (w->parent_user_id != NULL && !valid_bsuid(w->parent_user_id))) {
		snprintf(why, whysz, "\"user_id\" and \"parent_user_id\" must "
		    "be business-scoped user ids (\"US.1349...\")");
		return NULL;
	}
	if (w->username != NULL && (*w->username == '\0' ||
	    strlen(w->username) > 64)) {
		snprintf(why, whysz, "\"username\" must be 1 to 64 bytes");
		return NULL;
	}
	w->key = w->from != NULL ? w->from + 1 : w->user_id;
	if (*to == NULL || !sbx_wa_all_digits(*to, WA_ID_MAX)) {
		snprintf(why, whysz, "\"to\" must be our phone_number_id (1 to "
		    "%d digits)", WA_ID_MAX);
		return NULL;
	}
	if (w->name != NULL && strlen(w->name) > 256) {
		snprintf(why, whysz, "\"name\" is over 256 bytes");
		return NULL;
	}
	if (type == NULL)
		type = "text";
	if (!valid_type(type)) {
		snprintf(why, whysz, "\"type\" must be 1 to 32 of a-z and _");
		return NULL;
	}
	if (id != NULL && (*id == '\0' || strlen(id) >= sizeof(wamid))) {
		snprintf(why, whysz, "\"id\" must be 1 to %zu bytes",
		    sizeof(wamid) - 1);
		return NULL;
	}
	ts = now / 1000;
	if ((v = ifield(it, top, "ts")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 32503680000LL) {
			snprintf(why, whysz, "\"ts\" must be seconds since the "
			    "epoch");
			return NULL;
		}
		ts = (long long)json_integer_value(v);
	}
	*ts_ms = ts * 1000 > now ? now : ts * 1000;
	if (id != NULL)
		snprintf(wamid, sizeof(wamid), "%s", id);
	else
		sbx_wa_make_wamid(w->key, 1, wamid, sizeof(wamid));
	snprintf(tsbuf, sizeof(tsbuf), "%lld", ts);
	msg = json_pack("{s:s, s:s, s:s}", "id", wamid, "timestamp", tsbuf,
	    "type", type);
	if (msg == NULL) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	/* the number is withheld from a customer with a username */
	if (w->from != NULL)
		json_object_set_new(msg, "from", json_string(w->from + 1));
	if (w->user_id != NULL)
		json_object_set_new(msg, "from_user_id",
		    json_string(w->user_id));
	if (w->parent_user_id != NULL)
		json_object_set_new(msg, "from_parent_user_id",
		    json_string(w->parent_user_id));
	if (reply != NULL && strcmp(type, "reaction") != 0) {
		sbx_wa_display_number(*to, disp);
		ctx = json_pack("{s:s, s:s}", "from", disp, "id", reply);
	}
	fw = json_is_true(json_object_get(it, "forwarded"));
	ffw = json_is_true(json_object_get(it, "frequently_forwarded"));
	if (fw || ffw) {
		if (ctx == NULL)
			ctx = json_object();
		json_object_set_new(ctx, "forwarded", json_true());
		if (ffw)
			json_object_set_new(ctx, "frequently_forwarded",
			    json_true());
	}
	if (ctx != NULL)
		json_object_set_new(msg, "context", ctx);
	if ((v = json_object_get(it, "referral")) != NULL) {
		/* a click-to-WhatsApp ad: Meta's referral object as given */
		if (!json_is_object(v) || istr(v, NULL, "source_type",
		    &key) == -1 || key == NULL) {
			snprintf(why, whysz, "\"referral\" must be an object with "
			    "at least \"source_type\" (ad or post)");
			goto fail;
		}
		json_object_set_new(msg, "referral", json_deep_copy(v));
	}
	if (strcmp(type, "text") == 0) {
		if (text == NULL || sbx_wa_utf8_chars(text) > WA_TEXT_MAX) {
			snprintf(why, whysz, "a text message needs \"text\" (at "
			    "most %d characters)", WA_TEXT_MAX);
			goto fail;
		}
		json_object_set_new(msg, "text", json_pack("{s:s}", "body", text));
	} else if (strcmp(type, "image") == 0 || strcmp(type, "video") == 0 ||
	    strcmp(type, "audio") == 0 || strcmp(type, "sticker") == 0 ||
	    strcmp(type, "document") == 0) {
		if (in_media(wa, it, type, msg, why, whysz) == -1)
			goto fail;
	} else if (strcmp(type, "location") == 0) {
		if (in_location(it, msg, why, whysz) == -1)
			goto fail;
	} else if (strcmp(type, "contacts") == 0) {
		if (in_contacts(it, msg, why, whysz) == -1)
			goto fail;
	} else if (strcmp(type, "interactive") == 0) {
		if (in_interactive(it, msg, why, whysz) == -1)
			goto fail;
	} else if (strcmp(type, "button") == 0) {
		if (text == NULL) {
			snprintf(why, whysz, "a button message needs \"text\" "
			    "(the button's label) and optional \"payload\"");
			goto fail;
		}
		json_object_set_new(msg, "button", json_pack("{s:s, s:s}",
		    "payload", payload ? payload : text, "text", text));
	} else if (strcmp(type, "reaction") == 0) {
		if (reply == NULL) {
			snprintf(why, whysz, "a reaction needs \"reply_to\" (the "
			    "wamid reacted to) and optional \"emoji\"");
			goto fail;
		}
		v = json_pack("{s:s}", "message_id", reply);
		if (emoji != NULL && *emoji != '\0')	/* none: removed */
			json_object_set_new(v, "emoji", json_string(emoji));
		json_object_set_new(msg, "reaction", v);
	} else if (strcmp(type, "order") == 0) {
		if (in_order(it, msg, why, whysz) == -1)
			goto fail;
	} else if (strcmp(type, "edit") == 0 || strcmp(type, "revoke") == 0) {
		if (in_change(it, type, text, msg, why, whysz) == -1)
			goto fail;
	} else if (strcmp(type, "system") == 0) {
		if (in_system(it, w, msg, why, whysz) == -1)
			goto fail;
	} else if (strcmp(type, "unsupported") == 0) {
		json_object_set_new(msg, "errors", json_pack("[{s:i, s:s, s:s, "
		    "s:{s:s}}]", "code", 131051, "title", "Message type unknown",
		    "message", "Message type unknown", "error_data", "details",
		    "Message type is currently not supported."));
	} else {
		/* A type Meta may add some day: whatever "raw" says, or {}. */
		raw = json_object_get(it, "raw");
		if (raw != NULL && !json_is_object(raw)) {
			snprintf(why, whysz, "\"raw\" must be a JSON object");
			goto fail;
		}
		json_object_set_new(msg, type, raw ? json_deep_copy(raw) :
		    json_object());
	}
	return msg;
fail:
	json_decref(msg);
	return NULL;
}

/* One entry per phone_number_id, in the order the items name them. */
struct in_group {
	const char	*to;
	json_t		*contacts, *messages;
};

void
sbx_whatsapp_inbound(struct sbx *sb, struct evhttp_request *req,
    const char *body, size_t len)
{
	struct sbx_whatsapp *wa = sb->whatsapp;
	struct in_group groups[WA_MAX_BATCH];
	struct {
		const char	*to, *from, *user_id;
		long long	 ms;
	} notes[WA_MAX_BATCH];
	struct in_who w;
	const char *to, *key, *hdrs[4], *ck;
	char why[320], sighdr[SIG_META_LEN + 32], *nbody;
	json_t *j, *batch, *it, *msg, *c, *entries = NULL, *wamids = NULL;
	json_t *value, *n = NULL, *notif = NULL;
	json_error_t jerr;
	long long now = daemon_now_ms(), ts_ms, dup = 0;
	size_t i, k, x, ng = 0, nitems, nlen;
	int known, status = 400;

	memset(groups, 0, sizeof(groups));
	if ((j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		snprintf(why, sizeof(why), "bad JSON: %s", jerr.text);
		goto refuse;
	}
	if (!json_is_object(j)) {
		snprintf(why, sizeof(why), "expected a JSON object");
		goto refuse;
	}
	if ((c = json_object_get(j, "dup")) != NULL) {
		if (!json_is_integer(c) || json_integer_value(c) < 0 ||
		    json_integer_value(c) > WA_MAX_DUP) {
			snprintf(why, sizeof(why), "\"dup\" must be 0 to %d",
			    WA_MAX_DUP);
			goto refuse;
		}
		dup = (long long)json_integer_value(c);
	}
	batch = json_object_get(j, "batch");
	if (batch != NULL && (!json_is_array(batch) ||
	    json_array_size(batch) == 0 ||
	    json_array_size(batch) > WA_MAX_BATCH)) {
		snprintf(why, sizeof(why), "\"batch\" must be an array of 1 to %d "
		    "messages", WA_MAX_BATCH);
		goto refuse;
	}
	if (batch != NULL) {
		/* The top holds only what the items inherit. */
		json_object_foreach(j, key, c)
			if (!sbx_wa_in_list(key, inherited) && strcmp(key, "dup") != 0 &&
			    strcmp(key, "batch") != 0) {
				snprintf(why, sizeof(why), "with \"batch\", only "
				    "from, to, name, ts, user_id, parent_user_id, "
				    "username and dup go beside it, not \"%.40s\"",
				    key);
				goto refuse;
			}
	}
	if (sbx_wa_app_secret(wa) == NULL) {
		json_decref(j);
		sbx_reply_error(req, 503, "whatsapp_app_secret_file is missing: "
		    "cannot sign the webhook");
		return;
	}
	nitems = batch ? json_array_size(batch) : 1;
	if ((entries = json_array()) == NULL || (wamids = json_array()) == NULL) {
		snprintf(why, sizeof(why), "out of memory");
		status = 500;
		goto refuse;
	}
	for (i = 0; i < nitems; i++) {
		it = batch ? json_array_get(batch, i) : j;
		if (!json_is_object(it)) {
			snprintf(why, sizeof(why), "batch[%zu] is not an object", i);
			goto refuse;
		}
		if ((msg = in_item(wa, it, j, now, &w, &to, &ts_ms,
		    why, sizeof(why) - 16)) == NULL) {
			if (batch != NULL) {
				char tmp[320];

				sbx_wa_say(tmp, sizeof(tmp), "batch[%zu]: %s", i, why);
				memcpy(why, tmp, sizeof(why));
			}
			goto refuse;
		}
		for (k = 0; k < ng && strcmp(groups[k].to, to) != 0; k++)
			;
		if (k == ng) {
			groups[k].to = to;
			groups[k].contacts = json_array();
			groups[k].messages = json_array();
			ng++;
		}
		known = 0;
		json_array_foreach(groups[k].contacts, x, c) {
			ck = json_string_value(json_object_get(c, w.from ?
			    "wa_id" : "user_id"));
			if (ck != NULL && strcmp(ck, w.key) == 0)
				known = 1;
		}
		if (!known) {
			c = json_object();
			if (w.name != NULL || w.username != NULL) {
				json_t *p = json_object();

				if (w.name != NULL)
					json_object_set_new(p, "name",
					    json_string(w.name));
				if (w.username != NULL)
					json_object_set_new(p, "username",
					    json_string(w.username));
				json_object_set_new(c, "profile", p);
			}
			if (w.from != NULL)
				json_object_set_new(c, "wa_id",
				    json_string(w.from + 1));
			if (w.user_id != NULL)
				json_object_set_new(c, "user_id",
				    json_string(w.user_id));
			if (w.parent_user_id != NULL)
				json_object_set_new(c, "parent_user_id",
				    json_string(w.parent_user_id));
			json_array_append_new(groups[k].contacts, c);
		}
		json_array_append(wamids, json_object_get(msg, "id"));
		json_array_append_new(groups[k].messages, msg);
		notes[i].to = to;
		notes[i].from = w.from ? w.from + 1 : NULL;
		notes[i].user_id = w.user_id;
		notes[i].ms = ts_ms;
	}
	/* Every item is valid: now each customer has written (both ids). */
	for (i = 0; i < nitems; i++) {
		if (notes[i].from != NULL)
			sbx_wa_win_note(wa, notes[i].to, notes[i].from,
			    notes[i].ms);
		if (notes[i].user_id != NULL)
			sbx_wa_win_note(wa, notes[i].to, notes[i].user_id,
			    notes[i].ms);
	}
	for (k = 0; k < ng; k++) {
		value = sbx_wa_value_new(groups[k].to);
		json_object_set(value, "contacts", groups[k].contacts);
		json_object_set(value, "messages", groups[k].messages);
		n = sbx_wa_notification(groups[k].to, value);
		json_array_append(entries, json_array_get(json_object_get(n,
		    "entry"), 0));
		json_decref(n);
	}
	notif = json_pack("{s:s, s:O}", "object", "whatsapp_business_account",
	    "entry", entries);
	if (notif == NULL ||
	    (nbody = json_dumps(notif, JSON_COMPACT)) == NULL) {
		snprintf(why, sizeof(why), "out of memory");
		status = 500;
		json_decref(notif);
		goto refuse;
	}
	json_decref(notif);
	nlen = strlen(nbody);
	sbx_wa_hook_headers(wa, nbody, nlen, hdrs, sighdr, sizeof(sighdr));
	for (k = 0; k < ng; k++) {
		json_decref(groups[k].contacts);
		json_decref(groups[k].messages);
	}
	json_decref(entries);
	json_decref(j);
	log_debug("whatsapp: inbound of %zu message(s), %d post(s)", nitems,
	    (int)dup + 1);
	/* The copies go one after the other. */
	if (sbx_inbound_post(sb, req, "whatsapp", wa->webhook_url, hdrs, nbody,
	    nlen, nbody, (int)dup + 1, 0, "wamid", wamids) == -1)
		sbx_reply_error(req, 500, "out of memory");
	free(nbody);
	return;
refuse:
	for (k = 0; k < ng; k++) {
		json_decref(groups[k].contacts);
		json_decref(groups[k].messages);
	}
	json_decref(entries);
	json_decref(wamids);
	json_decref(j);
	sbx_reply_error(req, status, why);
}


