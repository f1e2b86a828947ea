/*
 * messengerd_webhook — Meta's webhooks in, on /messenger/webhook, for
 * Pages and Instagram accounts alike (object "page" or "instagram").
 *
 * GET is the subscription handshake and POST must carry a right
 * X-Hub-Signature-256: Meta's rules, done by lib/metahook exactly as for
 * whatsappd; a POST whose signature is missing (401) or wrong (403) is
 * neither parsed nor forwarded, one that is not a Messenger notification
 * is answered 400 (a 5xx would be retried).  messengerd_parse.c turns the
 * body into frames; all of them go to routerd through one hook wait, so
 * Meta gets 200 only when routerd has committed every one, 503 otherwise
 * (Meta delivers again; routerd's dedupe by pid makes that safe).
 *
 * Webhooks carry no names.  Before the frames go, each customer who wrote
 * is looked up (messengerd_profile.c): a name in the cache goes at once; an
 * unknown one is asked of the profile API, and the webhook waits for the
 * answers at most messenger_profile_wait_ms.  Whatever has not come by
 * then, or failed, leaves that message without a name: a lookup never
 * holds a message longer, and never fails one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "bus.h"
#include "edge.h"
#include "frame.h"
#include "hook.h"
#include "httpd.h"
#include "log.h"
#include "messengerd.h"
#include "metahook.h"

#define MG_PATH		"/messenger/webhook"

/* A webhook parsed, waiting for its customers' names. */
struct mg_pend {
	struct messengerd	*m;
	struct hook_wait	*hw;
	struct mg_items		 items;
	struct event		*timer;
	size_t			 nwait;		/* lookups still due */
	int			 refs;		/* the list's, and lookups' */
	int			 done;		/* frames sent */
	struct mg_pend		*prev, *next;	/* m->pends */
};

void
mg_pend_ref(struct mg_pend *p)
{
	p->refs++;
}

void
mg_pend_unref(struct mg_pend *p)
{
	if (--p->refs > 0)
		return;
	mg_items_free(&p->items);
	if (p->timer)
		event_free(p->timer);
	free(p);
}

/* Send every frame of p to routerd (with the names known now) and arm. */
static void
pend_send(struct mg_pend *p)
{
	struct messengerd *m = p->m;
	struct mg_item *it;
	struct fbuf fb;
	const char *name;
	size_t i;
	int64_t id;

	p->done = 1;
	if (p->timer)
		evtimer_del(p->timer);
	if (p->prev)
		p->prev->next = p->next;
	else
		m->pends = p->next;
	if (p->next)
		p->next->prev = p->prev;
	fbuf_init(&fb);
	for (i = 0; i < p->items.n; i++) {
		it = &p->items.v[i];
		name = it->want_name ? mg_profile_name(m, it->channel,
		    it->account, it->user) : NULL;
		id = m->e.router ? bus_next_id(m->e.router) : 0;
		mg_item_frame(it, id, name, &fb);
		if (hook_wait_frame(p->hw, m->e.router, &fb, id) == -1)
			break;		/* armed below: answered 503 */
		log_debug("%s %s %s for %s sent to routerd", it->channel,
		    it->kind == MG_IN ? "event" : "status", it->pid,
		    it->account);
	}
	fbuf_free(&fb);
	hook_wait_arm(p->hw);
	mg_pend_unref(p);		/* the list's */
}

void
mg_pend_ready(struct mg_pend *p)
{
	if (p->done || p->nwait == 0)
		return;
	if (--p->nwait == 0)
		pend_send(p);
}

static void
pend_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct mg_pend *p = arg;

	log_info("%zu name lookup%s not answered in time: sent without", 
	    p->nwait, p->nwait == 1 ? "" : "s");
	pend_send(p);
}

/* POST: a signed notification. */
static void
notification(struct messengerd *m, struct httpd_req *req)
{
	struct mg_pend *p;
	struct mg_item *it;
	struct timeval tv;
	const char *body, *name;
	char err[256], label[160];
	size_t len, i, nin = 0;

	/* the body is within MG_BODY_MAX */
	if (metahook_signed(m->e.hook, req, m->cf.app_secret, &body,
	    &len) == -1)
		return;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatalx("out of memory");
	p->m = m;
	mg_items_init(&p->items);
	if (mg_parse(body, len, &p->items, err, sizeof(err)) == -1) {
		log_warnx("notification from %s: %s, answered 400",
		    httpd_req_peer(req), err);
		hook_reply(m->e.hook, req, 400, err);
		mg_items_free(&p->items);
		free(p);
		return;
	}
	for (i = 0; i < p->items.nnotes; i++) {
		if (p->items.notes[i].warn)
			log_warnx("notification: %s", p->items.notes[i].text);
		else
			log_info("notification: %s", p->items.notes[i].text);
	}
	for (i = 0; i < p->items.n; i++) {
		it = &p->items.v[i];
		mg_acct_seen(m, it->account, strcmp(it->channel,
		    "instagram") == 0);
		nin += it->kind == MG_IN;
	}
	if (p->items.n == 1)
		snprintf(label, sizeof(label), "%s %s %s",
		    p->items.v[0].channel, p->items.v[0].kind == MG_IN ?
		    "event" : "status", p->items.v[0].pid);
	else
		snprintf(label, sizeof(label), "notification (%zu events, "
		    "%zu statuses)", nin, p->items.n - nin);
	p->hw = hook_wait_new(m->e.hook, req, label);
	p->refs = 1;			/* the list's */
	p->next = m->pends;
	if (m->pends)
		m->pends->prev = p;
	m->pends = p;
	for (i = 0; i < p->items.n; i++) {
		it = &p->items.v[i];
		if (it->want_name && mg_profile_want(m, it->channel,
		    it->account, it->user, p, &name) == 0)
			p->nwait++;
	}
	if (p->nwait == 0 || m->cf.profile_wait_ms == 0) {
		p->nwait = 0;
		pend_send(p);
		return;
	}
	tv.tv_sec = m->cf.profile_wait_ms / 1000;
	tv.tv_usec = (m->cf.profile_wait_ms % 1000) * 1000;
	if ((p->timer = evtimer_new(m->e.d.base, pend_timeout, p)) == NULL ||
	    evtimer_add(p->timer, &tv) == -1) {
		log_warnx("%s: cannot wait for names; sent without", label);
		pend_send(p);
	}
}

static void
on_request(struct httpd_req *req, void *arg)
{
	struct messengerd *m = arg;
	const char *method = httpd_req_method(req);

	if (strcmp(httpd_req_path(req), MG_PATH) != 0) {
		hook_reply(m->e.hook, req, 404, "no such path");
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
		hook_reply(m->e.hook, req, 405, "GET or POST only");
		return;
	}
	if (m->e.d.draining) {
		hook_reply(m->e.hook, req, 503, "shutting down");
		return;
	}
	if (strcmp(method, "GET") == 0)
		metahook_verify(m->e.hook, req, m->cf.verify_token);
	else
		notification(m, req);
}

static void
on_answered(void *arg)
{
	struct messengerd *m = arg;

	edge_drain_check(&m->e);
}

int
mg_webhook_start(struct messengerd *m, char *err, size_t errsz)
{
	struct hook_conf hc;

	memset(&hc, 0, sizeof(hc));
	hc.host = m->cf.listen_host;
	hc.port = m->cf.listen_port;
	hc.body_max = MG_BODY_MAX;
	hc.lim = m->cf.http;
	hc.ok_type = "text/plain";
	hc.ok_body = "";
	hc.request = on_request;
	hc.answered = on_answered;
	hc.arg = m;
	hc.allow = "GET, POST";
	return edge_hook_start(&m->e, &hc, err, errsz);
}

void
mg_webhook_free(struct messengerd *m)
{
	struct mg_pend *p;

	/* their requests were answered 503 by hook_free; the lookups that
	 * named them were forgotten by mg_profiles_free */
	while ((p = m->pends) != NULL) {
		m->pends = p->next;
		mg_items_free(&p->items);
		if (p->timer)
			event_free(p->timer);
		free(p);
	}
}
