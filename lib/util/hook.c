/*
 * hook — webhooks in, answered only once routerd has committed them (see
 * hook.h).  It grew out of smsd's webhook machinery: a Twilio webhook is one
 * frame, a Meta notification may be many (several messages and statuses in
 * one POST), so a waiting webhook counts the answers it still expects and
 * is answered 200 only when every frame was stored, 503 at the first one
 * that was not (and never twice).
 *
 * A wait record lives until the webhook is answered and no routerd answer is
 * still due: routerd's late answers (after a 503 on time-out) and the bus
 * client's "lost" callbacks always find it.  It is also kept until the
 * daemon armed it, so an answer arriving while frames are still being sent
 * never frees it under the daemon's feet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "bus.h"
#include "daemon.h"
#include "frame.h"
#include "hook.h"
#include "httpd.h"
#include "log.h"
#include "mp.h"
#include "str.h"

#define LABEL_MAX	96

struct hook_wait {
	struct hook		*h;
	struct httpd_req	*req;		/* NULL once answered */
	struct event		*timer;
	size_t			 awaiting;	/* routerd answers still due */
	size_t			 sent;		/* frames sent */
	int			 armed;
	int			 failed;	/* a frame was not stored */
	long long		 deadline_ms;	/* when 503 is answered */
	char			 label[LABEL_MAX];
	struct hook_wait	*prev, *next;
};

struct hook {
	struct event_base		*base;
	struct hook_conf		 cf;
	struct httpd			*http;
	struct hook_wait		*waits;
	size_t				 open;
	int				 draining;
};

static void
on_request(struct httpd_req *req, void *arg)
{
	struct hook *h = arg;

	h->cf.request(req, h->cf.arg);
}

struct hook *
hook_new(struct event_base *base, const struct hook_conf *cf, char *err,
    size_t errsz)
{
	struct httpd_conf hc;
	struct hook *h;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	h->base = base;
	h->cf = *cf;
	h->cf.name = str_dup(cf->name);
	h->cf.host = str_dup(cf->host);
	h->cf.ok_type = str_dup(cf->ok_type);
	h->cf.ok_body = str_dup(cf->ok_body);
	h->cf.allow = str_dup(cf->allow ? cf->allow : "GET, POST");
	memset(&hc, 0, sizeof(hc));
	hc.name = cf->name;
	hc.host = cf->host;
	hc.port = cf->port;
	hc.body_max = cf->body_max;
	hc.head_max = cf->headers_max;
	hc.lim = cf->lim;
	/* every method and path reaches the daemon, which answers 404 and
	 * 405 itself */
	hc.request = on_request;
	hc.arg = h;
	if ((h->http = httpd_new(base, &hc, err, errsz)) == NULL)
		goto fail;
	return h;
fail:
	free((char *)h->cf.name);
	free((char *)h->cf.host);
	free((char *)h->cf.ok_type);
	free((char *)h->cf.ok_body);
	free((char *)h->cf.allow);
	free(h);
	return NULL;
}

void
hook_set_limits(struct hook *h, const struct httpd_limits *lim)
{
	h->cf.lim = *lim;
	httpd_set_limits(h->http, lim);
}

static void
send_reply(struct hook *h, struct httpd_req *req, int code,
    const char *ctype, const char *body, size_t len)
{
	if (code == 405 && httpd_add_header(req, "Allow", h->cf.allow) == -1)
		log_warnx("webhook from %s: cannot add Allow to the 405",
		    httpd_req_peer(req));
	/* while draining, httpd adds "Connection: close" itself */
	httpd_reply(req, code, ctype, body, len);
}

void
hook_reply(struct hook *h, struct httpd_req *req, int code, const char *text)
{
	char line[1024];
	int n;

	if (code == 200) {
		send_reply(h, req, code, h->cf.ok_type, h->cf.ok_body,
		    strlen(h->cf.ok_body));
		return;
	}
	n = snprintf(line, sizeof(line), "%s\n", text ? text : "");
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	send_reply(h, req, code, "text/plain; charset=utf-8", line,
	    (size_t)n);
}

void
hook_reply_body(struct hook *h, struct httpd_req *req, int code,
    const char *ctype, const char *body, size_t len)
{
	send_reply(h, req, code, ctype, body, len);
}

/* --- webhooks waiting for routerd --- */

static void
wait_free(struct hook_wait *w)
{
	struct hook *h = w->h;

	if (w->timer)
		event_free(w->timer);
	if (w->prev)
		w->prev->next = w->next;
	else
		h->waits = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w);
}

/* Free w once it is answered, armed and owed no answer. */
static void
wait_maybe_free(struct hook_wait *w)
{
	if (w->req == NULL && w->armed && w->awaiting == 0)
		wait_free(w);
}

/* Answer the webhook (once); the record may be freed. */
static void
wait_answer(struct hook_wait *w, int code, const char *text)
{
	struct hook *h = w->h;

	if (w->req != NULL) {
		hook_reply(h, w->req, code, text);
		w->req = NULL;
		h->open--;
		if (w->timer)
			evtimer_del(w->timer);
		wait_maybe_free(w);
		if (h->cf.answered)
			h->cf.answered(h->cf.arg);
		return;
	}
	wait_maybe_free(w);
}

static void
wait_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct hook_wait *w = arg;

	log_warnx("%s: no answer from routerd in time, answered 503",
	    w->label);
	wait_answer(w, 503, "store did not answer");
}

static void
wait_routed(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	struct hook_wait *w = arg;
	const msgpack_object *err;
	const char *code = "?";
	size_t codelen = 1;
	int ok = 0;

	if (w->awaiting == 0)
		fatalx("hook: %s answered more often than asked", w->label);
	w->awaiting--;
	if (w->req == NULL) {		/* already answered */
		if (ans != NULL)
			log_debug("%s: late answer from routerd ignored",
			    w->label);
		wait_maybe_free(w);
		return;
	}
	if (ans == NULL) {
		/* "lost routerd" is logged once, by the bus client */
		log_debug("%s: routerd went away, answered 503", w->label);
		w->failed = 1;
		wait_answer(w, 503, "store unavailable");
	} else if ((err = mp_get(ans, "err")) != NULL) {
		mp_str(err, "code", &code, &codelen);
		log_warnx("%s: routerd refused (%.*s), answered 503",
		    w->label, (int)codelen, code);
		w->failed = 1;
		wait_answer(w, 503, "store refused");
	} else if (mp_bool(ans, "ok", &ok) && ok) {
		if (w->armed && w->awaiting == 0 && !w->failed) {
			log_debug("%s: stored", w->label);
			wait_answer(w, 200, NULL);
		}
	} else {
		log_warnx("%s: malformed answer from routerd, answered 503",
		    w->label);
		w->failed = 1;
		wait_answer(w, 503, "store unavailable");
	}
}

struct hook_wait *
hook_wait_new(struct hook *h, struct httpd_req *req, const char *label)
{
	struct hook_wait *w;

	/* parsed already: its bytes go back to the body budget while the
	 * webhook waits */
	httpd_req_body_release(req);
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->timer = evtimer_new(h->base, wait_timeout, w)) == NULL)
		fatalx("out of memory");
	w->h = h;
	w->req = req;
	snprintf(w->label, sizeof(w->label), "%s", label ? label : "webhook");
	w->next = h->waits;
	if (h->waits)
		h->waits->prev = w;
	h->waits = w;
	h->open++;
	return w;
}

int
hook_wait_frame(struct hook_wait *w, struct bus_conn *router,
    struct fbuf *fb, int64_t id)
{
	if (w->armed)
		fatalx("hook: %s: a frame after hook_wait_arm", w->label);
	if (w->failed || w->req == NULL)
		return -1;
	if (router == NULL || !bus_is_up(router) ||
	    bus_request(router, fb, id, wait_routed, w) == -1) {
		if (!w->failed)
			log_warnx("%s: cannot reach routerd, answered 503",
			    w->label);
		w->failed = 1;
		return -1;
	}
	w->awaiting++;
	w->sent++;
	return 0;
}

void
hook_wait_arm(struct hook_wait *w)
{
	struct hook *h = w->h;
	struct timeval tv;
	long ms;

	if (w->armed)
		fatalx("hook: %s armed twice", w->label);
	w->armed = 1;
	if (w->req == NULL) {			/* answered already */
		wait_maybe_free(w);
		return;
	}
	if (w->failed) {
		wait_answer(w, 503, "store unavailable");
		return;
	}
	if (w->sent == 0 || w->awaiting == 0) {
		/* nothing to store, or every answer came already */
		log_debug("%s: %s", w->label, w->sent ? "stored" :
		    "nothing to store");
		wait_answer(w, 200, NULL);
		return;
	}
	ms = h->draining && h->cf.drain_answer_ms < h->cf.answer_ms ?
	    h->cf.drain_answer_ms : h->cf.answer_ms;
	w->deadline_ms = daemon_mono_ms() + ms;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (evtimer_add(w->timer, &tv) == -1) {
		log_warnx("%s: cannot arm the answer timer, answered 503",
		    w->label);
		wait_answer(w, 503, "out of memory");
	}
}

size_t
hook_open(const struct hook *h)
{
	return h ? h->open : 0;
}

void
hook_drain(struct hook *h)
{
	long long now = daemon_mono_ms();
	struct hook_wait *w;
	struct timeval tv;
	long ms = h->cf.drain_answer_ms;

	h->draining = 1;
	httpd_drain(h->http);
	/* answer within the drain bound, so the answers get out before exit */
	for (w = h->waits; w != NULL; w = w->next) {
		if (w->req == NULL || !w->armed ||
		    w->deadline_ms - now <= ms)
			continue;
		w->deadline_ms = now + ms;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		if (evtimer_add(w->timer, &tv) == -1)
			log_warnx("hook: cannot shorten a wait to the "
			    "drain bound");
	}
}

void
hook_free(struct hook *h)
{
	struct hook_wait *w, *next;

	if (h == NULL)
		return;
	for (w = h->waits; w != NULL; w = next) {
		next = w->next;
		if (w->req != NULL) {
			hook_reply(h, w->req, 503, "shutting down");
			w->req = NULL;
			h->open--;
		}
		/* routerd's client is gone: no answer will refer to w */
		wait_free(w);
	}
	httpd_free(h->http);
	free((char *)h->cf.name);
	free((char *)h->cf.host);
	free((char *)h->cf.ok_type);
	free((char *)h->cf.ok_body);
	free((char *)h->cf.allow);
	free(h);
}
