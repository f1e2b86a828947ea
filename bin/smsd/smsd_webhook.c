/*
 * smsd_webhook — Twilio's webhooks in: POST /twilio/inbound (a customer's
 * SMS/MMS) and POST /twilio/status (delivery status callbacks).
 *
 * Each request is bounded (body and headers), parsed as a form, checked
 * against X-Twilio-Signature (computed over twilio_webhook_url + the path and
 * query Twilio requested, and every decoded parameter), normalised into an
 * "in" or "st" frame and sent to routerd.  Twilio is answered only when
 * routerd answers: 200 with empty TwiML once the record is committed, 503
 * when routerd refuses, is not connected, goes away, or takes longer than
 * SMSD_ANSWER_MS — Twilio (or sandboxd) then tries again.  A webhook answered
 * 503 on timeout keeps its small record until routerd's late answer (or the
 * lost connection) arrives, so that answer never touches a freed request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "bus.h"
#include "form.h"
#include "frame.h"
#include "log.h"
#include "mp.h"
#include "sig.h"
#include "smsd.h"

#define TWIML_EMPTY \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"
#define MEDIA_MAX	10	/* Twilio sends at most 10 media per message */

enum wh_kind { WH_IN, WH_ST };

struct smsd_wh {
	struct smsd		*s;
	struct evhttp_request	*req;		/* NULL once answered */
	struct event		*timer;
	int			 awaiting;	/* routerd's answer still due */
	enum wh_kind		 kind;
	long long		 deadline_ms;	/* when 503 is answered */
	char			 pid[64];	/* MessageSid, for logs */
	struct smsd_wh		*prev, *next;
};

static const char *
kind_name(enum wh_kind k)
{
	return k == WH_IN ? "inbound" : "status";
}

/* Answer req: 200 carries empty TwiML, anything else a one-line text. */
static void
reply(struct smsd *s, struct evhttp_request *req, int code,
    const char *reason, const char *text)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(req, 500, "Out of memory");
		return;
	}
	if (code == 200) {
		evhttp_add_header(h, "Content-Type", "text/xml");
		evbuffer_add(b, TWIML_EMPTY, sizeof(TWIML_EMPTY) - 1);
	} else {
		evhttp_add_header(h, "Content-Type",
		    "text/plain; charset=utf-8");
		evbuffer_add_printf(b, "%s\n", text);
	}
	if (code == 405)
		evhttp_add_header(h, "Allow", "POST");
	if (s->d.draining)
		evhttp_add_header(h, "Connection", "close");
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

static void
wh_free(struct smsd_wh *w)
{
	struct smsd *s = w->s;

	if (w->timer)
		event_free(w->timer);
	if (w->prev)
		w->prev->next = w->next;
	else
		s->whs = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w);
}

/* Answer the webhook (once) and free the record when nothing refers to it. */
static void
wh_answer(struct smsd_wh *w, int code, const char *reason, const char *text)
{
	struct smsd *s = w->s;

	if (w->req != NULL) {
		reply(s, w->req, code, reason, text);
		w->req = NULL;
		s->wh_open--;
	}
	if (w->timer) {
		event_free(w->timer);
		w->timer = NULL;
	}
	if (!w->awaiting)
		wh_free(w);
	smsd_drain_check(s);
}

static void
wh_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct smsd_wh *w = arg;

	log_warnx("%s %s: no answer from routerd in time, answered 503",
	    kind_name(w->kind), w->pid);
	wh_answer(w, 503, "Service Unavailable", "store did not answer");
}

static void
wh_routed(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	struct smsd_wh *w = arg;
	const msgpack_object *err;
	const char *code = "?";
	size_t codelen = 1;
	int ok = 0;

	w->awaiting = 0;
	if (w->req == NULL) {		/* already answered 503 on timeout */
		log_debug("%s %s: late answer from routerd ignored",
		    kind_name(w->kind), w->pid);
		wh_free(w);
		return;
	}
	if (ans == NULL) {
		/* "lost routerd" is logged once, by the bus client */
		log_debug("%s %s: routerd went away, answered 503",
		    kind_name(w->kind), w->pid);
		wh_answer(w, 503, "Service Unavailable", "store unavailable");
	} else if ((err = mp_get(ans, "err")) != NULL) {
		mp_str(err, "code", &code, &codelen);
		log_warnx("%s %s: routerd refused (%.*s), answered 503",
		    kind_name(w->kind), w->pid, (int)codelen, code);
		wh_answer(w, 503, "Service Unavailable", "store refused");
	} else if (mp_bool(ans, "ok", &ok) && ok) {
		log_debug("%s %s: stored", kind_name(w->kind), w->pid);
		wh_answer(w, 200, "OK", NULL);
	} else {
		log_warnx("%s %s: malformed answer from routerd, answered 503",
		    kind_name(w->kind), w->pid);
		wh_answer(w, 503, "Service Unavailable", "store unavailable");
	}
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

static const char *
peer(struct evhttp_request *req)
{
	struct evhttp_connection *ec = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port;

	if (ec == NULL)
		return "?";
	evhttp_connection_get_peer(ec, &addr, &port);
	return addr ? addr : "?";
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct smsd *s = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *path, *query, *why = NULL, *body, *hdr;
	struct smsd_wh *w = NULL;
	struct form f;
	struct fbuf fb;
	enum wh_kind kind;
	size_t len;
	char *url = NULL;
	int64_t id;

	form_init(&f);
	fbuf_init(&fb);
	path = uri ? evhttp_uri_get_path(uri) : NULL;
	query = uri ? evhttp_uri_get_query(uri) : NULL;
	if (path != NULL && strcmp(path, "/twilio/inbound") == 0)
		kind = WH_IN;
	else if (path != NULL && strcmp(path, "/twilio/status") == 0)
		kind = WH_ST;
	else {
		reply(s, req, 404, "Not Found", "no such path");
		goto done;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		reply(s, req, 405, "Method Not Allowed", "POST only");
		goto done;
	}
	if (s->d.draining) {
		reply(s, req, 503, "Service Unavailable", "shutting down");
		goto done;
	}
	if ((len = evbuffer_get_length(in)) > SMSD_BODY_MAX) {
		reply(s, req, 413, "Payload Too Large", "body too large");
		goto done;
	}
	body = len ? (const char *)evbuffer_pullup(in, -1) : "";
	if (body == NULL || form_parse(&f, body, len, &why) == -1) {
		log_warnx("%s webhook from %s: malformed form body (%s), "
		    "answered 400", kind_name(kind), peer(req),
		    why ? why : "out of memory");
		reply(s, req, 400, "Bad Request", "malformed form body");
		goto done;
	}
	if (asprintf(&url, "%s%s%s%s", s->cf.webhook_url, path,
	    query ? "?" : "", query ? query : "") == -1) {
		url = NULL;
		reply(s, req, 500, "Internal Server Error", "out of memory");
		goto done;
	}
	hdr = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Twilio-Signature");
	if (sig_twilio_check(url, &f, s->cf.token, hdr) == -1) {
		log_warnx("%s webhook from %s: %s signature, answered 403",
		    kind_name(kind), peer(req), hdr ? "wrong" : "missing");
		reply(s, req, 403, "Forbidden", "bad signature");
		goto done;
	}
	if (s->router == NULL || !bus_is_up(s->router)) {
		log_debug("%s webhook: routerd not connected, answered 503",
		    kind_name(kind));
		reply(s, req, 503, "Service Unavailable", "store unavailable");
		goto done;
	}
	id = bus_next_id(s->router);
	why = kind == WH_IN ? pack_in(&fb, id, &f) : pack_st(&fb, id, &f);
	if (why != NULL) {
		log_warnx("%s webhook from %s: %s, answered 400",
		    kind_name(kind), peer(req), why);
		reply(s, req, 400, "Bad Request", why);
		goto done;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->timer = evtimer_new(s->d.base, wh_timeout, w)) == NULL) {
		log_warnx("%s webhook: out of memory, answered 503",
		    kind_name(kind));
		reply(s, req, 503, "Service Unavailable", "out of memory");
		goto done;
	}
	w->s = s;
	w->kind = kind;
	snprintf(w->pid, sizeof(w->pid), "%s", form_get(&f, "MessageSid"));
	if (bus_request(s->router, &fb, id, wh_routed, w) == -1) {
		log_warnx("%s %s: cannot reach routerd, answered 503",
		    kind_name(kind), w->pid);
		reply(s, req, 503, "Service Unavailable", "store unavailable");
		goto done;
	}
	{
		struct timeval tv = { SMSD_ANSWER_MS / 1000,
		    (SMSD_ANSWER_MS % 1000) * 1000 };

		evtimer_add(w->timer, &tv);
	}
	w->deadline_ms = daemon_now_ms() + SMSD_ANSWER_MS;
	w->req = req;
	w->awaiting = 1;
	w->next = s->whs;
	if (s->whs)
		s->whs->prev = w;
	s->whs = w;
	s->wh_open++;
	w = NULL;		/* owned by the list now */
done:
	if (w != NULL) {
		if (w->timer)
			event_free(w->timer);
		free(w);
	}
	free(url);
	fbuf_free(&fb);
	form_free(&f);
}

int
smsd_webhook_start(struct smsd *s, char *err, size_t errsz)
{
	if ((s->http = evhttp_new(s->d.base)) == NULL) {
		snprintf(err, errsz, "evhttp_new failed");
		return -1;
	}
	evhttp_set_max_body_size(s->http, SMSD_BODY_MAX);
	evhttp_set_max_headers_size(s->http, SMSD_HEADERS_MAX);
	evhttp_set_timeout(s->http, 30);
	/* every method reaches on_request, which answers 405 itself */
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(s->http, on_request, s);
	s->bound = evhttp_bind_socket_with_handle(s->http, s->cf.listen_host,
	    (ev_uint16_t)s->cf.listen_port);
	if (s->bound == NULL) {
		snprintf(err, errsz, "cannot listen on %s:%d: %s",
		    s->cf.listen_host, s->cf.listen_port, strerror(errno));
		evhttp_free(s->http);
		s->http = NULL;
		return -1;
	}
	return 0;
}

void
smsd_webhook_stop(struct smsd *s)
{
	if (s->http != NULL && s->bound != NULL) {
		evhttp_del_accept_socket(s->http, s->bound);
		s->bound = NULL;
	}
}

void
smsd_webhook_drain(struct smsd *s)
{
	long long now = daemon_now_ms(), left;
	struct smsd_wh *w;
	struct timeval tv;

	smsd_webhook_stop(s);
	/* answer within the drain bound, so the answers get out before exit */
	for (w = s->whs; w != NULL; w = w->next) {
		if (w->req == NULL || w->timer == NULL)
			continue;
		left = w->deadline_ms - now;
		if (left <= SMSD_DRAIN_ANSWER_MS)
			continue;
		w->deadline_ms = now + SMSD_DRAIN_ANSWER_MS;
		tv.tv_sec = SMSD_DRAIN_ANSWER_MS / 1000;
		tv.tv_usec = (SMSD_DRAIN_ANSWER_MS % 1000) * 1000;
		evtimer_add(w->timer, &tv);
	}
}

void
smsd_webhook_free(struct smsd *s)
{
	struct smsd_wh *w, *next;

	for (w = s->whs; w != NULL; w = next) {
		next = w->next;
		if (w->req != NULL) {
			reply(s, w->req, 503, "Service Unavailable",
			    "shutting down");
			w->req = NULL;
			s->wh_open--;
		}
		/* routerd's client is gone: no answer will refer to w */
		wh_free(w);
	}
	if (s->http != NULL) {
		evhttp_free(s->http);
		s->http = NULL;
	}
}
