/*
 * whatsappd_webhook — Meta's webhooks in, on /whatsapp/webhook.
 *
 * GET is the subscription handshake and POST must carry a right
 * X-Hub-Signature-256 (at most 3 MB, as Meta sends): both are Meta's rules,
 * done by lib/metahook for every Meta webhook receiver; a POST whose
 * signature is missing (401) or wrong (403) is neither parsed nor forwarded.
 * whatsappd_parse.c turns it into frames; every frame of the POST goes to
 * routerd through one hook wait, so Meta gets 200 only when routerd
 * has committed all of them, 503 otherwise (Meta delivers again; routerd's
 * dedupe by wamid and by (wamid, status) makes that safe).  A body that is
 * not a WhatsApp notification is answered 400 and logged: a 5xx would be
 * retried for a week.  The listener and its budgets (deadlines, connection
 * cap, body budget) are lib/httpd's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "edge.h"
#include "frame.h"
#include "hook.h"
#include "httpd.h"
#include "log.h"
#include "metahook.h"
#include "whatsappd.h"

#define WA_PATH		"/whatsapp/webhook"

/* POST: a signed notification. */
static void
notification(struct whatsappd *w, struct httpd_req *req)
{
	struct wa_items items;
	struct hook_wait *hw;
	struct fbuf fb;
	const char *body;
	char err[256], label[160];
	size_t len, i, nin = 0;
	int64_t id;

	/* the body is within WA_BODY_MAX */
	if (metahook_signed(w->e.hook, req, w->cf.app_secret, &body,
	    &len) == -1)
		return;
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
		metahook_verify(w->e.hook, req, w->cf.verify_token);
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
