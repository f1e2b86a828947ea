/*
 * sandboxd_wa_send — POST /{version}/{phone_number_id}/messages, the send
 * call of the WhatsApp Cloud API: a Bearer token; the JSON body validated
 * in Meta's order with Meta's codes and the Graph error envelope; the
 * per-number throughput limit (130429), the 24-hour customer service window
 * (131047); templates sandboxd was not told are approved (132001); 200
 * with the wamid; then signed status webhooks "sent", "delivered", "read"
 * (or "failed", or out of order, or repeated, or lost, when a fault rule
 * asks).  The customer is "to" (a number) or "recipient" (a business-scoped
 * user id; "to" wins when both are given), and the statuses of a message
 * sent to a BSUID name it in recipient_user_id, as Meta's do.  The same
 * path takes Meta's "mark as read" call ({"status":"read","message_id"},
 * optionally with "typing_indicator":{"type":"text"}), answered
 * {"success":true} and recorded.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sodium.h>

#include "log.h"
#include "sandboxd.h"
#include "sandboxd_wa.h"
#include "sig.h"
#include "valid.h"

/* The message types the send call takes (Meta's list). */
static const char *const send_types[] = { "text", "template", "image",
    "document", "audio", "video", "sticker", "location", "contacts",
    "interactive", "reaction", NULL };

/* A sent message whose status webhooks are still to come. */
struct wa_msg {
	struct sbx_chain c;		/* first: the webhooks */
	struct sbx_whatsapp *wa;
	char		 wamid[160];
	char		 pnid[WA_ID_MAX + 1];
	char		 recipient[WA_BSUID_MAX + 1];
	int		 bsuid;		/* recipient is a BSUID */
	char		 conv[40];
	char		*biz;		/* biz_opaque_callback_data, NULL */
	const char	*category;	/* "service", "marketing" */
	long		 error_code;
};

/* Were rate sends from pnid accepted in the last 1000 ms? */
static int
rate_full(struct sbx_whatsapp *wa, const char *pnid, long long now)
{
	struct wa_rate *r = (struct wa_rate *)sbx_wa_get(&wa->rates, pnid);

	return r != NULL && (long long)r->n >= wa->rate &&
	    now - r->t[r->head] < 1000;
}

static void
rate_note(struct sbx_whatsapp *wa, const char *pnid, long long now)
{
	struct wa_rate *r = (struct wa_rate *)sbx_wa_get(&wa->rates, pnid);
	size_t cap = (size_t)wa->rate;

	if (r == NULL) {
		if (htab_count(&wa->rates) >= WA_MAX_NUMBERS ||
		    (r = calloc(1, sizeof(*r) + cap * sizeof(r->t[0]))) == NULL)
			return;
		snprintf(r->h.key, sizeof(r->h.key), "%s", pnid);
		if (sbx_wa_add(&wa->rates, &r->h) == -1) {
			free(r);
			return;
		}
	}
	if (r->n < cap)
		r->t[(r->head + r->n++) % cap] = now;
	else {
		r->t[r->head] = now;
		r->head = (r->head + 1) % cap;
	}
}

/* --- status webhooks --- */

static void
msg_done(struct sbx_chain *c)
{
	struct wa_msg *m = (struct wa_msg *)c;

	free(m->biz);
	free(m);
}


/* One status of m as Meta posts it. */
static json_t *
status_json(struct wa_msg *m, const char *st)
{
	char ts[24], exp[24];
	time_t now = time(NULL);
	json_t *s, *e;
	int billable = strcmp(m->category, "service") != 0;

	snprintf(ts, sizeof(ts), "%lld", (long long)now);
	s = json_pack("{s:s, s:s, s:s, s:s}", "id", m->wamid, "status", st,
	    "timestamp", ts, m->bsuid ? "recipient_user_id" : "recipient_id",
	    m->recipient);
	if (s == NULL)
		return NULL;
	if (strcmp(st, "failed") == 0) {
		e = json_pack("[{s:I, s:s, s:s, s:{s:s}, s:s}]",
		    "code", (json_int_t)m->error_code,
		    "title", sbx_wa_err_title(m->error_code),
		    "message", sbx_wa_err_title(m->error_code),
		    "error_data", "details", sbx_wa_err_details(m->error_code),
		    "href", WA_HREF);
		if (e != NULL)
			json_object_set_new(s, "errors", e);
	} else if (strcmp(st, "read") != 0) {
		if (strcmp(st, "sent") == 0) {
			snprintf(exp, sizeof(exp), "%lld",
			    (long long)now + 86400);
			e = json_pack("{s:s, s:s, s:{s:s}}", "id", m->conv,
			    "expiration_timestamp", exp, "origin", "type",
			    m->category);
		} else
			e = json_pack("{s:s, s:{s:s}}", "id", m->conv,
			    "origin", "type", m->category);
		if (e != NULL)
			json_object_set_new(s, "conversation", e);
		e = json_pack("{s:b, s:s, s:s, s:s}", "billable", billable,
		    "pricing_model", "PMP", "category", m->category, "type",
		    billable ? "regular" : "free_customer_service");
		if (e != NULL)
			json_object_set_new(s, "pricing", e);
	}
	if (m->biz != NULL)
		json_object_set_new(s, "biz_opaque_callback_data",
		    json_string(m->biz));
	return s;
}

/* Post step st's status webhook (repeat times). */
static void
msg_step(struct sbx_chain *c, const char *st)
{
	struct wa_msg *m = (struct wa_msg *)c;
	struct sbx_whatsapp *wa = m->wa;
	const char *hdrs[4];
	char sighdr[SIG_META_LEN + 32], *body = NULL;
	json_t *value, *n = NULL, *s;
	size_t len;

	if ((value = sbx_wa_value_new(m->pnid)) != NULL &&
	    (s = status_json(m, st)) != NULL)
		json_object_set_new(value, "statuses", json_pack("[o]", s));
	if (value != NULL)
		n = sbx_wa_notification(m->pnid, value);
	if (n == NULL || (body = json_dumps(n, JSON_COMPACT)) == NULL) {
		log_warnx("whatsapp: %s: cannot build the %s webhook", m->wamid,
		    st);
		json_decref(n);
		sbx_chain_end(c);
		return;
	}
	json_decref(n);
	len = strlen(body);
	sbx_wa_hook_headers(wa, body, len, hdrs, sighdr, sizeof(sighdr));
	sbx_chain_post(c, "whatsapp", wa->webhook_url, hdrs, body, len,
	    body);	/* may free m */
	free(body);
}

/* A sent message whose status webhooks will follow, or NULL (logged). */
static struct wa_msg *
msg_new(struct sbx_whatsapp *wa, const char *wamid, const char *pnid,
    const char *wa_id, const char *biz, int tmpl, long fail_code,
    const struct sbx_fault *fault)
{
	static const char *const failed[] = { "failed" };
	static const char *const seq[] = { "sent", "delivered", "read" };
	unsigned char r[16];
	struct wa_msg *m;

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (biz != NULL && (m->biz = strdup(biz)) == NULL) ||
	    sbx_chain_init(&m->c, wa->sb, &wa->status_delay_ms, msg_step,
	    msg_done, "whatsapp: %s", wamid) == -1) {
		if (m != NULL)
			msg_done(&m->c);
		log_warnx("whatsapp: %s: out of memory; no status webhooks",
		    wamid);
		return NULL;
	}
	m->wa = wa;
	snprintf(m->wamid, sizeof(m->wamid), "%s", wamid);
	snprintf(m->pnid, sizeof(m->pnid), "%s", pnid);
	snprintf(m->recipient, sizeof(m->recipient), "%s", wa_id);
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(m->conv, sizeof(m->conv), r, sizeof(r));
	m->category = tmpl ? "marketing" : "service";
	if (fault != NULL && fault->status[0] != '\0')
		fail_code = fault->error_code ? fault->error_code : 131026;
	/*
	 * A failed message was never sent; the others go sent, delivered,
	 * read (reordered: read, sent, delivered).
	 */
	m->error_code = fail_code;
	if (fail_code != 0)
		sbx_chain_plan(&m->c, failed, 1, fault);
	else
		sbx_chain_plan(&m->c, seq, 3, fault);
	return m;
}

/* --- validating a send call, in Meta's order --- */

/* What a valid send call is about. */
struct wa_send {
	const char	*to;		/* as given */
	char		 wa_id[WA_BSUID_MAX + 1];	/* digits, or the BSUID */
	int		 bsuid;		/* sent to a business-scoped user id */
	const char	*type;
	int		 tmpl;
	int		 undeliverable;	/* accepted, then failed with 131026 */
	const char	*biz;
};

#define MISSING(what)	(sbx_wa_say(d, dsz, "The parameter %s is required.", \
	what), 131008L)


/* `to`: digits, an optional leading '+', and the separators people type. */
static int
parse_to(const char *to, struct wa_send *s)
{
	const char *p = to;
	size_t n = 0;

	if (*p == '+')
		p++;
	for (; *p != '\0'; p++) {
		if (isdigit((unsigned char)*p)) {
			if (n + 1 >= sizeof(s->wa_id))
				return -1;
			s->wa_id[n++] = *p;
		} else if (*p != ' ' && *p != '-' && *p != '(' && *p != ')' &&
		    *p != '.')
			return -1;
	}
	s->wa_id[n] = '\0';
	if (n == 0)
		return -1;
	/* Not a phone number anywhere: Meta accepts it, then fails it. */
	s->undeliverable = n < 8 || n > 15 || s->wa_id[0] == '0';
	return 0;
}

/* A media object (send call or template parameter); what names it. */
static long
check_media(struct sbx_whatsapp *wa, const char *type, json_t *o,
    const char *what, char *d, size_t dsz)
{
	const char *id, *link, *cap, *fn;
	int hid, hlink;
	char w[96];

	if (!json_is_object(o)) {
		sbx_wa_say(d, dsz, "Param %s must be a JSON object.", what);
		return 100;
	}
	hid = sbx_wa_get_s(o, "id", &id);
	hlink = sbx_wa_get_s(o, "link", &link);
	if (hid == 0 && hlink == 0) {
		sbx_wa_say(w, sizeof(w), "%s['id'] or %s['link']", what, what);
		return MISSING(w);
	}
	if (hid != 0 && hlink != 0) {
		sbx_wa_say(d, dsz, "Param %s must have only one of id or link.",
		    what);
		return 100;
	}
	if (hid == -1 || hlink == -1) {
		sbx_wa_say(d, dsz, "Param %s['%s'] must be a string.", what,
		    hid == -1 ? "id" : "link");
		return 100;
	}
	if (hid == 1 && sbx_wa_media_get(wa, id) == NULL) {
		sbx_wa_say(d, dsz, "Param %s['id'] is not a valid media ID: %.40s",
		    what, id);
		return 131009;
	}
	if (hlink == 1 && !sbx_valid_url(link)) {
		sbx_wa_say(d, dsz, "Param %s['link'] is not a valid URI.", what);
		return 100;
	}
	if (type == NULL)
		return 0;	/* a template parameter: no caption rules */
	if (sbx_wa_get_s(o, "caption", &cap) != 0) {
		if (strcmp(type, "audio") == 0 || strcmp(type, "sticker") == 0) {
			sbx_wa_say(d, dsz, "Param %s['caption'] is not allowed for "
			    "%s messages.", what, type);
			return 100;
		}
		if (cap == NULL) {
			sbx_wa_say(d, dsz, "Param %s['caption'] must be a string.",
			    what);
			return 100;
		}
		if (sbx_wa_utf8_chars(cap) > WA_CAPTION_MAX) {
			sbx_wa_say(d, dsz, "Param %s['caption'] must be at most %d "
			    "characters long.", what, WA_CAPTION_MAX);
			return 100;
		}
	}
	if (sbx_wa_get_s(o, "filename", &fn) != 0) {
		if (strcmp(type, "document") != 0) {
			sbx_wa_say(d, dsz, "Param %s['filename'] is only allowed for "
			    "document messages.", what);
			return 100;
		}
		if (fn == NULL || *fn == '\0' || strlen(fn) > 255) {
			sbx_wa_say(d, dsz, "Param %s['filename'] must be a string of "
			    "1 to 255 bytes.", what);
			return 100;
		}
	}
	return 0;
}


/* One template component parameter. */
static long
check_tparam(struct sbx_whatsapp *wa, json_t *p, const char *where, char *d,
    size_t dsz)
{
	static const char *const ptypes[] = { "text", "currency", "date_time",
	    "image", "document", "video", "location", "payload", "coupon_code",
	    "action", "product", NULL };
	const char *t, *v;
	char w[128];
	json_t *o;
	int r;

	if (!json_is_object(p)) {
		sbx_wa_say(d, dsz, "Param %s must be a JSON object.", where);
		return 131009;
	}
	if ((r = sbx_wa_get_s(p, "type", &t)) == 0) {
		sbx_wa_say(w, sizeof(w), "%s['type']", where);
		return MISSING(w);
	}
	if (r == -1 || !sbx_wa_in_list(t, ptypes)) {
		sbx_wa_say(d, dsz, "Param %s['type'] must be one of {TEXT, "
		    "CURRENCY, DATE_TIME, IMAGE, DOCUMENT, VIDEO, LOCATION, "
		    "PAYLOAD, COUPON_CODE, ACTION, PRODUCT}.", where);
		return 131009;
	}
	if (strcmp(t, "text") == 0 || strcmp(t, "payload") == 0 ||
	    strcmp(t, "coupon_code") == 0) {
		if ((r = sbx_wa_get_s(p, t, &v)) == 0) {
			sbx_wa_say(w, sizeof(w), "%s['%s']", where, t);
			return MISSING(w);
		}
		if (r == -1 || (strcmp(t, "text") == 0 && *v == '\0')) {
			sbx_wa_say(d, dsz, "Param %s['%s'] must be a non-empty "
			    "string.", where, t);
			return 131009;
		}
		return 0;
	}
	if ((o = json_object_get(p, t)) == NULL) {
		sbx_wa_say(w, sizeof(w), "%s['%s']", where, t);
		return MISSING(w);
	}
	if (strcmp(t, "image") == 0 || strcmp(t, "document") == 0 ||
	    strcmp(t, "video") == 0) {
		sbx_wa_say(w, sizeof(w), "%s['%s']", where, t);
		return check_media(wa, NULL, o, w, d, dsz);
	}
	if (!json_is_object(o)) {
		sbx_wa_say(d, dsz, "Param %s['%s'] must be a JSON object.", where, t);
		return 131009;
	}
	if ((strcmp(t, "currency") == 0 || strcmp(t, "date_time") == 0) &&
	    sbx_wa_get_s(o, "fallback_value", &v) != 1) {
		sbx_wa_say(w, sizeof(w), "%s['%s']['fallback_value']", where, t);
		return MISSING(w);
	}
	return 0;
}

static long
check_template(struct sbx_whatsapp *wa, json_t *t, char *d, size_t dsz)
{
	static const char *const ctypes[] = { "header", "body", "button",
	    "footer", NULL };
	static const char *const subtypes[] = { "quick_reply", "url",
	    "copy_code", "flow", "catalog", "mpm", "voice_call", "otp", NULL };
	const char *name, *code, *ct, *st, *idx;
	json_t *lang, *comps, *c, *params, *p, *iv;
	char where[96], w[128];
	size_t i, k;
	long rc;
	int r;

	if ((r = sbx_wa_get_s(t, "name", &name)) == 0)
		return MISSING("template['name']");
	if (r == -1 || *name == '\0' || strlen(name) > 512) {
		sbx_wa_say(d, dsz, "Param template['name'] must be a string of 1 "
		    "to 512 characters.");
		return 131009;
	}
	if ((lang = json_object_get(t, "language")) == NULL)
		return MISSING("template['language']");
	if (!json_is_object(lang)) {
		sbx_wa_say(d, dsz, "Param template['language'] must be a JSON "
		    "object.");
		return 131009;
	}
	if ((r = sbx_wa_get_s(lang, "code", &code)) == 0)
		return MISSING("template['language']['code']");
	if (r == -1 || *code == '\0' || strlen(code) > 16) {
		sbx_wa_say(d, dsz, "Param template['language']['code'] is not a "
		    "language code.");
		return 131009;
	}
	if ((comps = json_object_get(t, "components")) == NULL)
		return 0;
	if (!json_is_array(comps)) {
		sbx_wa_say(d, dsz, "Param template['components'] must be an "
		    "array.");
		return 131009;
	}
	json_array_foreach(comps, i, c) {
		sbx_wa_say(where, sizeof(where), "template['components'][%zu]", i);
		if (!json_is_object(c)) {
			sbx_wa_say(d, dsz, "Param %s must be a JSON object.", where);
			return 131009;
		}
		if ((r = sbx_wa_get_s(c, "type", &ct)) == 0) {
			sbx_wa_say(w, sizeof(w), "%s['type']", where);
			return MISSING(w);
		}
		if (r == -1 || !sbx_wa_in_list(ct, ctypes)) {
			sbx_wa_say(d, dsz, "Param %s['type'] must be one of "
			    "{HEADER, BODY, BUTTON, FOOTER}.", where);
			return 131009;
		}
		if (strcmp(ct, "button") == 0) {
			if ((r = sbx_wa_get_s(c, "sub_type", &st)) == 0) {
				sbx_wa_say(w, sizeof(w), "%s['sub_type']", where);
				return MISSING(w);
			}
			if (r == -1 || !sbx_wa_in_list(st, subtypes)) {
				sbx_wa_say(d, dsz, "Param %s['sub_type'] is not a "
				    "button sub type.", where);
				return 131009;
			}
			if ((iv = json_object_get(c, "index")) == NULL) {
				sbx_wa_say(w, sizeof(w), "%s['index']", where);
				return MISSING(w);
			}
			idx = json_is_string(iv) ? json_string_value(iv) : NULL;
			if (!(json_is_integer(iv) && json_integer_value(iv) >= 0 &&
			    json_integer_value(iv) <= 9) &&
			    !(idx != NULL && strlen(idx) == 1 &&
			    isdigit((unsigned char)idx[0]))) {
				sbx_wa_say(d, dsz, "Param %s['index'] must be 0 to 9.",
				    where);
				return 131009;
			}
		}
		if ((params = json_object_get(c, "parameters")) == NULL)
			continue;
		if (!json_is_array(params)) {
			sbx_wa_say(d, dsz, "Param %s['parameters'] must be an "
			    "array.", where);
			return 131009;
		}
		json_array_foreach(params, k, p) {
			sbx_wa_say(w, sizeof(w), "%s['parameters'][%zu]", where, k);
			if ((rc = check_tparam(wa, p, w, d, dsz)) != 0)
				return rc;
		}
	}
	return 0;
}

static long
check_location(json_t *o, char *d, size_t dsz)
{
	static const char *const k[] = { "latitude", "longitude" };
	const char *s;
	json_t *v;
	double x;
	int i;

	for (i = 0; i < 2; i++) {
		if ((v = json_object_get(o, k[i])) == NULL) {
			sbx_wa_say(d, dsz, "The parameter location['%s'] is "
			    "required.", k[i]);
			return 131008;
		}
		x = json_is_number(v) ? json_number_value(v) :
		    json_is_string(v) ? strtod(json_string_value(v), NULL) : NAN;
		if (isnan(x) || fabs(x) > (i == 0 ? 90 : 180)) {
			sbx_wa_say(d, dsz, "Param location['%s'] is not a valid "
			    "coordinate.", k[i]);
			return 100;
		}
	}
	if (sbx_wa_get_s(o, "name", &s) == -1 || sbx_wa_get_s(o, "address", &s) == -1) {
		sbx_wa_say(d, dsz, "Params location['name'] and "
		    "location['address'] must be strings.");
		return 100;
	}
	return 0;
}

static long
check_contacts(json_t *a, char *d, size_t dsz)
{
	const char *fn;
	json_t *c, *name;
	char w[96];
	size_t i;

	if (!json_is_array(a) || json_array_size(a) == 0) {
		sbx_wa_say(d, dsz, "Param contacts must be a non-empty array.");
		return 100;
	}
	json_array_foreach(a, i, c) {
		if (!json_is_object(c) ||
		    (name = json_object_get(c, "name")) == NULL ||
		    !json_is_object(name) || sbx_wa_get_s(name, "formatted_name", &fn) != 1) {
			sbx_wa_say(w, sizeof(w), "contacts[%zu]['name']"
			    "['formatted_name']", i);
			return MISSING(w);
		}
	}
	return 0;
}

static long
check_interactive(json_t *o, char *d, size_t dsz)
{
	static const char *const itypes[] = { "button", "list", "cta_url",
	    "product", "product_list", "catalog_message", "flow",
	    "location_request_message", "address_message",
	    "call_permission_request", NULL };
	const char *t, *text;
	json_t *body;
	int r;

	if ((r = sbx_wa_get_s(o, "type", &t)) == 0)
		return MISSING("interactive['type']");
	if (r == -1 || !sbx_wa_in_list(t, itypes)) {
		sbx_wa_say(d, dsz, "Param interactive['type'] must be one of "
		    "{BUTTON, LIST, CTA_URL, PRODUCT, PRODUCT_LIST, "
		    "CATALOG_MESSAGE, FLOW, LOCATION_REQUEST_MESSAGE, "
		    "ADDRESS_MESSAGE, CALL_PERMISSION_REQUEST}.");
		return 100;
	}
	if (strcmp(t, "product") != 0 && strcmp(t, "product_list") != 0) {
		if ((body = json_object_get(o, "body")) == NULL)
			return MISSING("interactive['body']");
		if (!json_is_object(body) || (r = sbx_wa_get_s(body, "text", &text)) == 0)
			return MISSING("interactive['body']['text']");
		if (r == -1 || sbx_wa_utf8_chars(text) > WA_TEXT_MAX) {
			sbx_wa_say(d, dsz, "Param interactive['body']['text'] must "
			    "be a string of at most %d characters.", WA_TEXT_MAX);
			return 100;
		}
	}
	if (json_object_get(o, "action") == NULL)
		return MISSING("interactive['action']");
	if (!json_is_object(json_object_get(o, "action"))) {
		sbx_wa_say(d, dsz, "Param interactive['action'] must be a JSON "
		    "object.");
		return 100;
	}
	return 0;
}

/*
 * Validate a send call the way Meta does, in its order.  0 when valid (s
 * filled), else the error code with the details in d.
 */
static long
validate(struct sbx_whatsapp *wa, json_t *j, struct wa_send *s, char *d,
    size_t dsz)
{
	const char *mp, *rt, *body, *mid, *emoji;
	json_t *o, *ctx, *pv;
	char what[48];
	size_t blen;
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = sbx_wa_get_s(j, "messaging_product", &mp)) == 0) {
		sbx_wa_say(d, dsz, "The parameter messaging_product is required.");
		return 100;
	}
	if (r == -1 || strcmp(mp, "whatsapp") != 0) {
		sbx_wa_say(d, dsz, "Param messaging_product must be \"whatsapp\".");
		return 100;
	}
	if ((r = sbx_wa_get_s(j, "recipient_type", &rt)) != 0 &&
	    (r == -1 || strcmp(rt, "individual") != 0)) {
		sbx_wa_say(d, dsz, "Param recipient_type must be \"individual\".");
		return 100;
	}
	if ((r = sbx_wa_get_s(j, "to", &s->to)) == 0) {
		/* a customer known by their business-scoped user id */
		if ((r = sbx_wa_get_s(j, "recipient", &s->to)) == 0) {
			sbx_wa_say(d, dsz, "The parameter to (or recipient) is "
			    "required.");
			return 100;
		}
		if (r == -1 || !valid_bsuid(s->to)) {
			sbx_wa_say(d, dsz, "Invalid parameter: recipient must "
			    "be a business-scoped user id.");
			return 100;
		}
		snprintf(s->wa_id, sizeof(s->wa_id), "%s", s->to);
		s->bsuid = 1;
	} else if (r == -1 || parse_to(s->to, s) == -1) {
		sbx_wa_say(d, dsz, "Invalid parameter: to must be a phone number "
		    "(digits with an optional leading '+').");
		return 100;
	}
	if ((r = sbx_wa_get_s(j, "type", &s->type)) == 0)
		s->type = "text";	/* Meta's default */
	if (r == -1 || !sbx_wa_in_list(s->type, send_types)) {
		sbx_wa_say(d, dsz, "Param type must be one of {AUDIO, CONTACTS, "
		    "DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, STICKER, "
		    "TEMPLATE, TEXT, VIDEO} - got \"%.32s\".",
		    r == -1 ? "?" : s->type);
		return 100;
	}
	s->tmpl = strcmp(s->type, "template") == 0;
	if ((o = json_object_get(j, s->type)) == NULL) {
		snprintf(what, sizeof(what), "%s", s->type);
		return MISSING(what);
	}
	if (strcmp(s->type, "contacts") == 0) {
		long rc = check_contacts(o, d, dsz);
		if (rc != 0)
			return rc;
	} else if (!json_is_object(o)) {
		sbx_wa_say(d, dsz, "Param %s must be a JSON object.", s->type);
		return 100;
	} else if (strcmp(s->type, "text") == 0) {
		if ((r = sbx_wa_get_s(o, "body", &body)) == 0)
			return MISSING("text['body']");
		if (r == -1) {
			sbx_wa_say(d, dsz, "Param text['body'] must be a string.");
			return 100;
		}
		if ((blen = sbx_wa_utf8_chars(body)) == 0) {
			sbx_wa_say(d, dsz, "Param text['body'] must be at least 1 "
			    "character long.");
			return 100;
		}
		if (blen > WA_TEXT_MAX) {
			sbx_wa_say(d, dsz, "Param text['body'] must be at most %d "
			    "characters long.", WA_TEXT_MAX);
			return 100;
		}
		if ((pv = json_object_get(o, "preview_url")) != NULL &&
		    !json_is_boolean(pv)) {
			sbx_wa_say(d, dsz, "Param text['preview_url'] must be a "
			    "boolean.");
			return 100;
		}
	} else if (s->tmpl) {
		long rc = check_template(wa, o, d, dsz);
		if (rc != 0)
			return rc;
		/* checked as they came: name and language are strings */
		rc = sbx_wa_tmpl_check(wa, json_string_value(json_object_get(o,
		    "name")), json_string_value(json_object_get(json_object_get(
		    o, "language"), "code")), d, dsz);
		if (rc != 0)
			return rc;
	} else if (strcmp(s->type, "location") == 0) {
		long rc = check_location(o, d, dsz);
		if (rc != 0)
			return rc;
	} else if (strcmp(s->type, "interactive") == 0) {
		long rc = check_interactive(o, d, dsz);
		if (rc != 0)
			return rc;
	} else if (strcmp(s->type, "reaction") == 0) {
		if ((r = sbx_wa_get_s(o, "message_id", &mid)) == 0)
			return MISSING("reaction['message_id']");
		if (r == -1 || *mid == '\0') {
			sbx_wa_say(d, dsz, "Param reaction['message_id'] must be a "
			    "wamid.");
			return 131009;
		}
		if ((r = sbx_wa_get_s(o, "emoji", &emoji)) == 0)
			return MISSING("reaction['emoji']");
		if (r == -1) {
			sbx_wa_say(d, dsz, "Param reaction['emoji'] must be a "
			    "string.");
			return 100;
		}
	} else {
		long rc = check_media(wa, s->type, o, s->type, d, dsz);
		if (rc != 0)
			return rc;
	}
	if ((ctx = json_object_get(j, "context")) != NULL) {
		if (!json_is_object(ctx) ||
		    (r = sbx_wa_get_s(ctx, "message_id", &mid)) == 0)
			return MISSING("context['message_id']");
		if (r == -1 || *mid == '\0') {
			sbx_wa_say(d, dsz, "Param context['message_id'] must be a "
			    "wamid.");
			return 131009;
		}
	}
	if ((r = sbx_wa_get_s(j, "biz_opaque_callback_data", &s->biz)) != 0 &&
	    (r == -1 || strlen(s->biz) > WA_BIZ_MAX)) {
		sbx_wa_say(d, dsz, "Param biz_opaque_callback_data must be a string "
		    "of at most %d bytes.", WA_BIZ_MAX);
		return 100;
	}
	return 0;
}

/*
 * Meta's "mark as read": {"messaging_product":"whatsapp","status":"read",
 * "message_id":wamid} and, to show the customer that a reply is being
 * typed, "typing_indicator":{"type":"text"}.  0 (r->id is the wamid), or
 * the error code with the details in d.
 */
static long
mark_read(json_t *j, struct wa_rec *r, char *d, size_t dsz)
{
	const char *mp, *st, *mid, *tt;
	json_t *ti;
	int n;

	if ((n = sbx_wa_get_s(j, "messaging_product", &mp)) != 1 ||
	    strcmp(mp, "whatsapp") != 0) {
		sbx_wa_say(d, dsz, "Param messaging_product must be "
		    "\"whatsapp\".");
		return 100;
	}
	if (sbx_wa_get_s(j, "status", &st) != 1 || strcmp(st, "read") != 0) {
		sbx_wa_say(d, dsz, "Param status must be \"read\".");
		return 100;
	}
	if ((n = sbx_wa_get_s(j, "message_id", &mid)) == 0) {
		sbx_wa_say(d, dsz, "The parameter message_id is required.");
		return 131008;
	}
	if (n == -1 || strncmp(mid, "wamid.", 6) != 0 ||
	    strlen(mid) >= sizeof(r->id)) {
		sbx_wa_say(d, dsz, "Param message_id must be a wamid.");
		return 131009;
	}
	if ((ti = json_object_get(j, "typing_indicator")) != NULL &&
	    (!json_is_object(ti) || sbx_wa_get_s(ti, "type", &tt) != 1 ||
	    strcmp(tt, "text") != 0)) {
		sbx_wa_say(d, dsz, "Param typing_indicator['type'] must be "
		    "\"text\".");
		return 100;
	}
	snprintf(r->id, sizeof(r->id), "%s", mid);
	return 0;
}

/* POST /{version}/{phone_number_id}/messages */
void
sbx_wa_send_call(struct sbx_whatsapp *wa, struct evhttp_request *req,
    struct wa_rec *r, const char *pnid)
{
	struct sbx *sb = wa->sb;
	struct sbx_fault fault, *fp = NULL;
	struct wa_msg *m = NULL;
	struct wa_send s;
	struct sbx_jw ans;
	json_error_t jerr;
	json_t *j = NULL;
	const char *body, *ct;
	char d[512];
	long long now;
	size_t len;

	sbx_jw_init(&ans);
	r->auth = sbx_wa_check_auth(wa, req);
	ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	if ((body = sbx_body(req, &len)) == NULL) {
		r->status = 413;
		r->code = 100;
		sbx_wa_graph_error(&ans, r->code, NULL, "The request body is over 1 MiB.");
		goto done;
	}
	/* Parsed before the auth check only so that the log shows it. */
	j = json_loadb(body, len, 0, &jerr);
	r->body = sbx_wa_body_for_log(j, body, len);
	if (r->auth != WA_AUTH_OK) {
		r->status = 401;
		r->code = sbx_wa_auth_error(req, &ans);
		goto done;
	}
	r->status = 400;
	if (!sbx_ctype_is(ct, "application/json")) {
		r->code = 100;
		sbx_wa_graph_error(&ans, r->code, NULL, "Content-Type must be "
		    "application/json.");
		goto done;
	}
	if (j == NULL || !json_is_object(j)) {
		r->code = 100;
		snprintf(d, sizeof(d), "The request body is not a JSON object%s%s",
		    j == NULL ? ": " : ".", j == NULL ? jerr.text : "");
		sbx_wa_graph_error(&ans, r->code, NULL, d);
		goto done;
	}
	if (json_object_get(j, "status") != NULL &&
	    json_object_get(j, "type") == NULL) {
		/* not a message: marking the customer's message read */
		if ((r->code = mark_read(j, r, d, sizeof(d))) != 0) {
			sbx_wa_graph_error(&ans, r->code, NULL, d);
			goto done;
		}
		r->status = 200;
		sbx_jw_open(&ans, NULL);
		sbx_jw_raw(&ans, "success", "true", 4);
		sbx_jw_close(&ans);
		goto done;
	}
	if ((r->code = validate(wa, j, &s, d, sizeof(d))) != 0) {
		sbx_wa_graph_error(&ans, r->code, NULL, d);
		goto done;
	}
	now = daemon_now_ms();
	if (rate_full(wa, pnid, now)) {
		r->code = 130429;
		sbx_wa_graph_error(&ans, r->code, NULL, sbx_wa_err_details(r->code));
		goto done;
	}
	if (!s.tmpl && !sbx_wa_win_open(wa, pnid, s.wa_id, now)) {
		r->code = 131047;
		sbx_wa_graph_error(&ans, r->code, NULL, sbx_wa_err_details(r->code));
		goto done;
	}
	if (sbx_fault_match(sb->faults, "whatsapp", s.wa_id, &fault))
		fp = &fault;
	if (fp != NULL && fp->http != 0) {
		r->status = fp->http;
		if ((r->code = sbx_wa_fault_error(&ans, fp)) == 190)
			sbx_wa_www_authenticate(req);
		goto done;
	}
	r->status = 200;
	r->code = 0;
	rate_note(wa, pnid, now);
	sbx_wa_make_wamid(s.wa_id, 0, r->id, sizeof(r->id));
	sbx_jw_open(&ans, NULL);
	sbx_jw_str(&ans, "messaging_product", "whatsapp");
	sbx_jw_array(&ans, "contacts");
	sbx_jw_open(&ans, NULL);
	sbx_jw_str(&ans, "input", s.to);
	sbx_jw_str(&ans, s.bsuid ? "user_id" : "wa_id", s.wa_id);
	sbx_jw_close(&ans);
	sbx_jw_array_end(&ans);
	sbx_jw_array(&ans, "messages");
	sbx_jw_open(&ans, NULL);
	sbx_jw_str(&ans, "id", r->id);
	if (s.tmpl)
		sbx_jw_str(&ans, "message_status", "accepted");
	sbx_jw_close(&ans);
	sbx_jw_array_end(&ans);
	sbx_jw_close(&ans);
	if ((m = msg_new(wa, r->id, pnid, s.wa_id, s.biz, s.tmpl,
	    s.undeliverable ? 131026 : 0, fp)) != NULL)
		m->bsuid = s.bsuid;
done:
	r->fault = fp ? fp->id : 0;
	sbx_wa_record(wa, req, r);
	if (r->status != 200)
		log_debug("whatsapp: send refused: %d code=%ld", r->status,
		    r->code);
	if (sbx_answer(sb, req, r->status, &ans, fp ? fp->delay_ms : 0,
	    m ? &m->c : NULL) == -1)
		log_warnx("whatsapp: cannot delay an answer; answering now");
	free(r->body);
	r->body = NULL;
	json_decref(j);
}

