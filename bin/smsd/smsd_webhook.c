/*
 * smsd_webhook — Twilio's webhooks in: POST /twilio/inbound (a customer's
 * SMS/MMS) and POST /twilio/status (delivery status callbacks).
 *
 * Each request is bounded (body and headers), parsed as a form, checked
 * against X-Twilio-Signature (computed over twilio_webhook_url + the path and
 * query Twilio requested, and every decoded parameter; the URL as configured,
 * and with its port removed or the scheme's default port added, as Twilio's
 * own validators try it: a proxy's "https://host" and "https://host:443"
 * are the same webhook), normalised into an
 * "in" or "st" frame and sent to routerd.  Twilio is answered only when
 * routerd answers: 200 with empty TwiML once the record is committed, 503
 * when routerd refuses, is not connected, goes away, or takes longer than
 * EDGE_ANSWER_MS — Twilio (or sandboxd) then tries again.  The listener
 * and its budgets are lib/httpd's, the wait for routerd and the drain
 * lib/hook's; this file knows Twilio: the paths, the form, the signature
 * and the frames.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bus.h"
#include "edge.h"
#include "form.h"
#include "frame.h"
#include "hook.h"
#include "httpd.h"
#include "log.h"
#include "mp.h"
#include "sig.h"
#include "smsd.h"

#define TWIML_EMPTY \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"
#define MEDIA_MAX	10	/* Twilio sends at most 10 media per message */

enum wh_kind { WH_IN, WH_ST };

static const char *
kind_name(enum wh_kind k)
{
	return k == WH_IN ? "inbound" : "status";
}

/* Parse a small non-negative decimal; -1 if not one or over max. */
static long
small_num(const char *v, long max)
{
	char *end;
	long n;

	if (v == NULL || *v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end != '\0' || n > max)
		return -1;
	return n;
}

/* Pack {t:"in", ...}; NULL, or why the form is not a usable message. */
static const char *
pack_in(struct fbuf *fb, int64_t id, const struct form *f)
{
	const char *sid = form_get(f, "MessageSid");
	const char *from = form_get(f, "From"), *to = form_get(f, "To");
	const char *body = form_get(f, "Body"), *ct;
	char key[48];
	long nmedia, segs, i;
	uint32_t nkeys = 9;

	if (sid == NULL || *sid == '\0' || from == NULL || *from == '\0' ||
	    to == NULL || *to == '\0')
		return "MessageSid, From and To are required";
	nmedia = form_get(f, "NumMedia") ? small_num(form_get(f, "NumMedia"),
	    MEDIA_MAX) : 0;
	if (nmedia < 0)
		return "bad NumMedia";
	for (i = 0; i < nmedia; i++) {
		snprintf(key, sizeof(key), "MediaUrl%ld", i);
		if (form_get(f, key) == NULL)
			return "NumMedia names a missing MediaUrl";
	}
	segs = small_num(form_get(f, "NumSegments"), 1000);
	if (nmedia > 0)
		nkeys++;
	if (segs > 0)
		nkeys++;
	fbuf_begin(fb, nkeys);
	mp_kv_str(&fb->pk, "t", "in");
	mp_kv_int(&fb->pk, "id", id);
	mp_kv_str(&fb->pk, "channel", "sms");
	mp_kv_str(&fb->pk, "pid", sid);
	mp_kv_str(&fb->pk, "from", from);
	mp_kv_str(&fb->pk, "to", to);
	mp_kv_int(&fb->pk, "ts", daemon_now_ms());
	mp_kv_str(&fb->pk, "text", body ? body : "");
	mp_kv_str(&fb->pk, "type", nmedia > 0 ? "media" : "text");
	if (nmedia > 0) {
		mp_pack_cstr(&fb->pk, "media");
		msgpack_pack_array(&fb->pk, (size_t)nmedia);
		for (i = 0; i < nmedia; i++) {
			snprintf(key, sizeof(key), "MediaContentType%ld", i);
			ct = form_get(f, key);
			msgpack_pack_map(&fb->pk, ct ? 2 : 1);
			snprintf(key, sizeof(key), "MediaUrl%ld", i);
			mp_kv_str(&fb->pk, "url", form_get(f, key));
			if (ct)
				mp_kv_str(&fb->pk, "type", ct);
		}
	}
	if (segs > 0)
		mp_kv_int(&fb->pk, "segments", segs);
	return NULL;
}

/* Pack {t:"st", ...}; NULL, or why the form is not a usable status. */
static const char *
pack_st(struct fbuf *fb, int64_t id, const struct form *f)
{
	const char *sid = form_get(f, "MessageSid");
	const char *st = form_get(f, "MessageStatus");
	const char *code = form_get(f, "ErrorCode");
	const char *reason = form_get(f, "ErrorMessage");
	uint32_t nkeys = 6;

	if (sid == NULL || *sid == '\0' || st == NULL || *st == '\0')
		return "MessageSid and MessageStatus are required";
	if (code && *code == '\0')
		code = NULL;
	if (reason && *reason == '\0')
		reason = NULL;
	nkeys += (code != NULL) + (reason != NULL);
	fbuf_begin(fb, nkeys);
	mp_kv_str(&fb->pk, "t", "st");
	mp_kv_int(&fb->pk, "id", id);
	mp_kv_str(&fb->pk, "channel", "sms");
	mp_kv_str(&fb->pk, "pid", sid);
	mp_kv_str(&fb->pk, "status", st);
	mp_kv_int(&fb->pk, "ts", daemon_now_ms());
	if (code)
		mp_kv_str(&fb->pk, "code", code);
	if (reason)
		mp_kv_str(&fb->pk, "reason", reason);
	return NULL;
}

/*
 * The other spelling of base a Twilio signature may be over, as Twilio's
 * validators try it (malloc'd), or NULL: base without its port when it has
 * one, else with the scheme's default port (443 for https, 80 for http).
 */
static char *
url_respelled(const char *base)
{
	const char *auth, *end, *host, *colon = NULL, *p;
	char *v;
	int https;

	if ((p = strstr(base, "://")) == NULL)
		return NULL;
	https = (size_t)(p - base) == 5 && strncasecmp(base, "https", 5) == 0;
	if (!https && !((size_t)(p - base) == 4 &&
	    strncasecmp(base, "http", 4) == 0))
		return NULL;
	auth = p + 3;
	end = auth + strcspn(auth, "/?#");
	for (host = auth, p = auth; p < end; p++)
		if (*p == '@')
			host = p + 1;
	if (*host == '[') {		/* [v6]:port */
		if ((p = memchr(host, ']', (size_t)(end - host))) == NULL)
			return NULL;
		if (p + 1 < end && p[1] == ':')
			colon = p + 1;
	} else
		colon = memchr(host, ':', (size_t)(end - host));
	if (colon != NULL) {
		if (colon + 1 == end ||
		    strspn(colon + 1, "0123456789") != (size_t)(end - colon - 1))
			return NULL;
		if (asprintf(&v, "%.*s%s", (int)(colon - base), base, end) == -1)
			return NULL;
	} else if (asprintf(&v, "%.*s:%s%s", (int)(end - base), base,
	    https ? "443" : "80", end) == -1)
		return NULL;
	return v;
}

/* Is hdr the signature of f over base + path (+ query), in either spelling? */
static int
signed_right(struct smsd *s, const char *path, const char *query,
    const struct form *f, const char *hdr)
{
	char *alt, *url = NULL;
	int ok = 0, i;

	alt = url_respelled(s->cf.webhook_url);
	for (i = 0; i < 2 && !ok; i++) {
		if (i == 1 && alt == NULL)
			break;
		if (asprintf(&url, "%s%s%s%s", i == 0 ? s->cf.webhook_url : alt,
		    path, query ? "?" : "", query ? query : "") == -1)
			fatalx("out of memory");
		ok = sig_twilio_check(url, f, s->cf.token, hdr) == 0;
		free(url);
	}
	free(alt);
	return ok;
}

static void
on_request(struct httpd_req *req, void *arg)
{
	struct smsd *s = arg;
	struct hook *h = s->e.hook;
	const char *path, *query, *why = NULL, *body, *hdr;
	struct hook_wait *w;
	struct form f;
	struct fbuf fb;
	enum wh_kind kind;
	size_t len;
	char label[96];
	int64_t id;

	form_init(&f);
	fbuf_init(&fb);
	path = httpd_req_path(req);
	query = httpd_req_query(req);
	if (strcmp(path, "/twilio/inbound") == 0)
		kind = WH_IN;
	else if (strcmp(path, "/twilio/status") == 0)
		kind = WH_ST;
	else {
		hook_reply(h, req, 404, "no such path");
		goto done;
	}
	if (strcmp(httpd_req_method(req), "POST") != 0) {
		hook_reply(h, req, 405, "POST only");
		goto done;
	}
	if (s->e.d.draining) {
		hook_reply(h, req, 503, "shutting down");
		goto done;
	}
	body = httpd_req_body(req, &len);	/* within SMSD_BODY_MAX */
	if (form_parse(&f, body, len, &why) == -1) {
		log_warnx("%s webhook from %s: malformed form body (%s), "
		    "answered 400", kind_name(kind), httpd_req_peer(req),
		    why ? why : "out of memory");
		hook_reply(h, req, 400, "malformed form body");
		goto done;
	}
	hdr = httpd_req_header(req, "X-Twilio-Signature");
	if (!signed_right(s, path, query, &f, hdr)) {
		log_warnx("%s webhook from %s: %s signature, answered 403",
		    kind_name(kind), httpd_req_peer(req), hdr ? "wrong" :
		    "missing");
		hook_reply(h, req, 403, "bad signature");
		goto done;
	}
	if (s->e.router == NULL || !bus_is_up(s->e.router)) {
		log_debug("%s webhook: routerd not connected, answered 503",
		    kind_name(kind));
		hook_reply(h, req, 503, "store unavailable");
		goto done;
	}
	id = bus_next_id(s->e.router);
	why = kind == WH_IN ? pack_in(&fb, id, &f) : pack_st(&fb, id, &f);
	if (why != NULL) {
		log_warnx("%s webhook from %s: %s, answered 400",
		    kind_name(kind), httpd_req_peer(req), why);
		hook_reply(h, req, 400, why);
		goto done;
	}
	snprintf(label, sizeof(label), "%s %s", kind_name(kind),
	    form_get(&f, "MessageSid"));
	w = hook_wait_new(h, req, label);
	hook_wait_frame(w, s->e.router, &fb, id);	/* on failure: 503 */
	hook_wait_arm(w);
done:
	fbuf_free(&fb);
	form_free(&f);
}

static void
on_answered(void *arg)
{
	struct smsd *s = arg;

	edge_drain_check(&s->e);
}

int
smsd_webhook_start(struct smsd *s, char *err, size_t errsz)
{
	struct hook_conf hc;

	memset(&hc, 0, sizeof(hc));
	hc.host = s->cf.listen_host;
	hc.port = s->cf.listen_port;
	hc.body_max = SMSD_BODY_MAX;
	hc.lim = s->cf.http;
	hc.ok_type = "text/xml";
	hc.ok_body = TWIML_EMPTY;
	hc.allow = "POST";
	hc.request = on_request;
	hc.answered = on_answered;
	hc.arg = s;
	return edge_hook_start(&s->e, &hc, err, errsz);
}
