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
 * retried for a week.  The listener and its budgets (deadlines, connection
 * cap, body budget) are lib/httpd's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bus.h"
#include "edge.h"
#include "form.h"
#include "frame.h"
#include "hook.h"
#include "httpd.h"
#include "log.h"
#include "sig.h"
#include "whatsappd.h"

#define WA_PATH		"/whatsapp/webhook"
#define CHALLENGE_MAX	1024

/* GET /whatsapp/webhook?hub.mode=subscribe&hub.verify_token=..&hub.challenge=..
 * (the query decoded as a form: %XX and '+') */
static void
verify(struct whatsappd *w, struct httpd_req *req, const char *query)
{
	struct form q;
	const char *mode, *tok, *ch, *why = NULL;
	size_t tl, vl;
	int good;

	form_init(&q);
	if (query == NULL || form_parse(&q, query, strlen(query), &why) == -1) {
		log_warnx("verification from %s: no or bad query, answered 403",
		    httpd_req_peer(req));
		hook_reply(w->e.hook, req, 403, "verification failed");
		form_free(&q);
		return;
	}
	mode = form_get(&q, "hub.mode");
	tok = form_get(&q, "hub.verify_token");
	ch = form_get(&q, "hub.challenge");
	tl = tok ? strlen(tok) : 0;
	vl = strlen(w->cf.verify_token);
	good = mode != NULL && strcmp(mode, "subscribe") == 0 && tok != NULL &&
	    tl == vl && sodium_memcmp(tok, w->cf.verify_token, vl) == 0;
	if (!good) {
		log_warnx("verification from %s: %s, answered 403",
		    httpd_req_peer(req), mode == NULL ||
		    strcmp(mode, "subscribe") ? "hub.mode is not subscribe" :
		    tok == NULL ? "no hub.verify_token" :
		    "wrong hub.verify_token");
		hook_reply(w->e.hook, req, 403, "verification failed");
	} else if (ch == NULL || strlen(ch) > CHALLENGE_MAX) {
		log_warnx("verification from %s: no usable hub.challenge, "
		    "answered 400", httpd_req_peer(req));
		hook_reply(w->e.hook, req, 400, "hub.challenge missing");
	} else {
		log_info("webhook subscription verified (from %s)",
		    httpd_req_peer(req));
		hook_reply_body(w->e.hook, req, 200, "text/plain", ch,
		    strlen(ch));
	}
	form_free(&q);
}

/* POST: a signed notification. */
static void
notification(struct whatsappd *w, struct httpd_req *req)
{
	struct wa_items items;
	struct hook_wait *hw;
	struct fbuf fb;
	const char *body, *sig;
	char err[256], label[160];
	size_t len, i, nin = 0;
	int64_t id;

	body = httpd_req_body(req, &len);	/* within WA_BODY_MAX */
	sig = httpd_req_header(req, "X-Hub-Signature-256");
	if (sig == NULL) {
		log_warnx("notification from %s: no X-Hub-Signature-256, "
		    "answered 401", httpd_req_peer(req));
		hook_reply(w->e.hook, req, 401, "signature missing");
		return;
	}
	if (sig_meta_check(body, len, w->cf.app_secret, sig) == -1) {
		log_warnx("notification from %s: wrong X-Hub-Signature-256, "
		    "answered 403", httpd_req_peer(req));
		hook_reply(w->e.hook, req, 403, "bad signature");
		return;
	}
	wa_items_init(&items);
	if (wa_parse(body, len, &items, err, sizeof(err)) == -1) {
		log_warnx("notification from %s: %s, answered 400",
		    httpd_req_peer(req), err);
		hook_reply(w->e.hook, req, 400, err);
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
on_request(struct httpd_req *req, void *arg)
{
	struct whatsappd *w = arg;
	const char *method = httpd_req_method(req);

	if (strcmp(httpd_req_path(req), WA_PATH) != 0) {
		hook_reply(w->e.hook, req, 404, "no such path");
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
		hook_reply(w->e.hook, req, 405, "GET or POST only");
		return;
	}
	if (w->e.d.draining) {
		hook_reply(w->e.hook, req, 503, "shutting down");
		return;
	}
	if (strcmp(method, "GET") == 0)
		verify(w, req, httpd_req_query(req));
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
	hc.lim = w->cf.http;
	hc.ok_type = "text/plain";
	hc.ok_body = "";
	hc.request = on_request;
	hc.answered = on_answered;
	hc.arg = w;
	hc.allow = "GET, POST";
	return edge_hook_start(&w->e, &hc, err, errsz);
}
