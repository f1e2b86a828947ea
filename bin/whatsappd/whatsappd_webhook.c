/*
 * whatsappd_webhook — Meta's webhooks in, on /whatsapp/webhook.
 *
 * GET is the subscription handshake: hub.mode "subscribe" and the right
 * hub.verify_token (compared in constant time) are answered 200 with
 * hub.challenge as the raw text/plain body, anything else 403.
 *
 * POST is a notification: the body (at most 3 MB, as Meta sends) must carry
 * X-Hub-Signature-256, the HMAC-SHA256 of the exact bytes received keyed
 * with the app secret — missing: 401, wrong: 403, and nothing is parsed or
 * forwarded.  whatsappd_parse.c turns it into frames; every frame of the POST
 * goes to routerd through one hook wait, so Meta gets 200 only when routerd
 * has committed all of them, 503 otherwise (Meta delivers again; routerd's
 * dedupe by wamid and by (wamid, status) makes that safe).  A body that is
 * not a WhatsApp notification is answered 400 and logged: a 5xx would be
 * retried for a week.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>

#include "bus.h"
#include "edge.h"
#include "frame.h"
#include "hook.h"
#include "log.h"
#include "sig.h"
#include "whatsappd.h"

#define WA_PATH		"/whatsapp/webhook"
#define CHALLENGE_MAX	1024

/* GET /whatsapp/webhook?hub.mode=subscribe&hub.verify_token=..&hub.challenge=.. */
static void
verify(struct whatsappd *w, struct evhttp_request *req, const char *query)
{
	struct evkeyvalq q;
	const char *mode, *tok, *ch;
	size_t tl, vl;
	int good;

	TAILQ_INIT(&q);
	if (query == NULL || evhttp_parse_query_str(query, &q) == -1) {
		log_warnx("verification from %s: no or bad query, answered 403",
		    hook_peer(req));
		hook_reply(w->e.hook, req, 403, "Forbidden", "verification "
		    "failed");
		evhttp_clear_headers(&q);
		return;
	}
	mode = evhttp_find_header(&q, "hub.mode");
	tok = evhttp_find_header(&q, "hub.verify_token");
	ch = evhttp_find_header(&q, "hub.challenge");
	tl = tok ? strlen(tok) : 0;
	vl = strlen(w->cf.verify_token);
	good = mode != NULL && strcmp(mode, "subscribe") == 0 && tok != NULL &&
	    tl == vl && sodium_memcmp(tok, w->cf.verify_token, vl) == 0;
	if (!good) {
		log_warnx("verification from %s: %s, answered 403",
		    hook_peer(req), mode == NULL || strcmp(mode, "subscribe") ?
		    "hub.mode is not subscribe" : tok == NULL ?
		    "no hub.verify_token" : "wrong hub.verify_token");
		hook_reply(w->e.hook, req, 403, "Forbidden", "verification "
		    "failed");
	} else if (ch == NULL || strlen(ch) > CHALLENGE_MAX) {
		log_warnx("verification from %s: no usable hub.challenge, "
		    "answered 400", hook_peer(req));
		hook_reply(w->e.hook, req, 400, "Bad Request", "hub.challenge "
		    "missing");
	} else {
		log_info("webhook subscription verified (from %s)",
		    hook_peer(req));
		hook_reply_body(w->e.hook, req, 200, "text/plain", ch,
		    strlen(ch));
	}
	evhttp_clear_headers(&q);
}

/* POST: a signed notification. */
static void
notification(struct whatsappd *w, struct evhttp_request *req)
{
	struct wa_items items;
	struct hook_wait *hw;
	struct fbuf fb;
	const char *body, *sig;
	char err[256], label[160];
	size_t len, i, nin = 0;
	int64_t id;

	if ((body = hook_body(w->e.hook, req, &len)) == NULL)
		return;			/* answered 413 or 503 */
	sig = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Hub-Signature-256");
	if (sig == NULL) {
		log_warnx("notification from %s: no X-Hub-Signature-256, "
		    "answered 401", hook_peer(req));
		hook_reply(w->e.hook, req, 401, "Unauthorized", "signature "
		    "missing");
		return;
	}
	if (sig_meta_check(body, len, w->cf.app_secret, sig) == -1) {
		log_warnx("notification from %s: wrong X-Hub-Signature-256, "
		    "answered 403", hook_peer(req));
		hook_reply(w->e.hook, req, 403, "Forbidden", "bad signature");
		return;
	}
	wa_items_init(&items);
	if (wa_parse(body, len, &items, err, sizeof(err)) == -1) {
		log_warnx("notification from %s: %s, answered 400",
		    hook_peer(req), err);
		hook_reply(w->e.hook, req, 400, "Bad Request", err);
		wa_items_free(&items);
		return;
	}
	for (i = 0; i < items.nnotes; i++) {
		if (items.notes[i].warn)
			log_warnx("notification: %s", items.notes[i].text);
		else
			log_info("notification: %s", items.notes[i].text);
	}
	for (i = 0; i < items.n; i++) {
		wa_number(w, items.v[i].pnid);
		nin += items.v[i].kind == WA_IN;
	}
	if (items.n == 1)
		snprintf(label, sizeof(label), "%s %s", items.v[0].kind ==
		    WA_IN ? "inbound" : "status", items.v[0].pid);
	else
		snprintf(label, sizeof(label), "notification (%zu messages, "
		    "%zu statuses)", nin, items.n - nin);
	hw = hook_wait_new(w->e.hook, req, label);
	fbuf_init(&fb);
	for (i = 0; i < items.n; i++) {
		id = w->e.router ? bus_next_id(w->e.router) : 0;
		wa_item_frame(&items.v[i], id, &fb);
		if (hook_wait_frame(hw, w->e.router, &fb, id) == -1)
			break;		/* armed below: answered 503 */
		log_debug("%s %s for %s sent to routerd",
		    items.v[i].kind == WA_IN ? "inbound" : "status",
		    items.v[i].pid, items.v[i].pnid);
	}
	fbuf_free(&fb);
	hook_wait_arm(hw);
	wa_items_free(&items);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct whatsappd *w = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (path == NULL || strcmp(path, WA_PATH) != 0) {
		hook_reply(w->e.hook, req, 404, "Not Found", "no such path");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_POST) {
		hook_reply(w->e.hook, req, 405, "Method Not Allowed",
		    "GET or POST only");
		return;
	}
	if (w->e.d.draining) {
		hook_reply(w->e.hook, req, 503, "Service Unavailable",
		    "shutting down");
		return;
	}
	if (cmd == EVHTTP_REQ_GET)
		verify(w, req, evhttp_uri_get_query(uri));
	else
		notification(w, req);
}

static void
on_answered(void *arg)
{
	struct whatsappd *w = arg;

	edge_drain_check(&w->e);
}

int
wa_webhook_start(struct whatsappd *w, char *err, size_t errsz)
{
	struct hook_conf hc;

	memset(&hc, 0, sizeof(hc));
	hc.host = w->cf.listen_host;
	hc.port = w->cf.listen_port;
	hc.body_max = WA_BODY_MAX;
	hc.ok_type = "text/plain";
	hc.ok_body = "";
	hc.request = on_request;
	hc.answered = on_answered;
	hc.arg = w;
	hc.allow = "GET, POST";
	return edge_hook_start(&w->e, &hc, err, errsz);
}
