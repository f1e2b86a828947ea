/*
 * edge — the skeleton of a channel daemon (see edge.h for the contract).
 *
 * smsd and whatsappd grew the same wiring twice: the answers to ping and to
 * requests they do not serve, routerd's client and the peers of their own
 * socket, the SIGTERM order (webhooks, socket, queue) and the short timer
 * that lets the last answers out before the loop ends.  It lives here once;
 * what a provider needs (its configuration, calls and webhooks) stays in
 * each daemon.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "bus.h"
#include "daemon.h"
#include "edge.h"
#include "frame.h"
#include "hook.h"
#include "http_out.h"
#include "log.h"
#include "mp.h"
#include "outq.h"
#include "proto.h"

void
edge_frame_common(struct edge *e, struct bus_conn *c, const msgpack_object *f)
{
	struct fbuf fb;
	char msg[128];
	int64_t id;

	switch (proto_type(f)) {
	case PT_PING:
		if (!mp_int(f, "id", &id))
			break;
		fbuf_init(&fb);
		bus_answer_begin(&fb, id, 0);
		if (bus_send(c, &fb) == -1)
			log_debug("%s: ping answer not sent", bus_name(c));
		fbuf_free(&fb);
		break;
	default:
		if (mp_int(f, "id", &id)) {
			snprintf(msg, sizeof(msg), "%s does not serve this "
			    "request", e->d.prog);
			bus_answer_err(c, id, "unknown", msg);
		} else
			log_debug("%s: unexpected frame ignored", bus_name(c));
		break;
	}
}

static void
on_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	struct edge *e = arg;

	e->frame(c, f, e->arg);
}

/* On our own socket every peer is checked: only routerd (the daemons'
 * user) sends work, only root or that user a new token. */
static void
on_srv_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	struct edge *e = arg;

	if (!bus_check_peer(c, f))
		return;
	e->frame(c, f, e->arg);
}

static void
router_up(struct bus_conn *c, void *arg)
{
	log_info("connected to routerd");
}

static void
router_down(struct bus_conn *c, void *arg)
{
	struct edge *e = arg;

	log_warnx("lost routerd; webhooks get 503 until it is back");
	if (e->q)
		outq_conn_down(e->q, c);
	if (e->down)
		e->down(c, e->arg);
}

static void
peer_down(struct bus_conn *c, void *arg)
{
	struct edge *e = arg;

	if (e->q)
		outq_conn_down(e->q, c);
	if (e->down)
		e->down(c, e->arg);
}

static const struct bus_handlers router_h = {
	.frame = on_frame, .up = router_up, .down = router_down,
};
static const struct bus_handlers server_h = {
	.frame = on_srv_frame, .down = peer_down,
};

int
edge_listen(struct edge *e, char *err, size_t errsz)
{
	char sub[256], path[4096];

	snprintf(sub, sizeof(sub), "run/%s.sock", e->d.prog);
	e->srv = bus_listen(e->d.base, daemon_path(&e->d, sub, path,
	    sizeof(path)), &server_h, e, err, errsz);
	if (e->srv == NULL)
		return -1;
	bus_server_limit(e->srv, &e->d.bus);
	return 0;
}

int
edge_connect(struct edge *e, char *err, size_t errsz)
{
	char path[4096];

	e->router = bus_client(e->d.base, daemon_path(&e->d,
	    "run/routerd.sock", path, sizeof(path)), e->d.prog, &router_h, e);
	if (e->router == NULL) {
		snprintf(err, errsz, "cannot create the routerd client");
		return -1;
	}
	return 0;
}

int
edge_hook_start(struct edge *e, struct hook_conf *hc, char *err,
    size_t errsz)
{
	hc->name = e->d.prog;
	hc->headers_max = EDGE_HEADERS_MAX;
	hc->answer_ms = EDGE_ANSWER_MS;
	hc->drain_answer_ms = EDGE_DRAIN_ANSWER_MS;
	e->hook = hook_new(e->d.base, hc, err, errsz);
	return e->hook ? 0 : -1;
}

void
edge_hook_limits(struct edge *e, const struct httpd_limits *lim)
{
	if (e->hook != NULL)
		hook_set_limits(e->hook, lim);
}

static void
on_flushed(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;

	daemon_stop(&e->d);
}

void
edge_drain_check(struct edge *e)
{
	struct timeval tv = { 0, EDGE_FLUSH_MS * 1000 };

	if (!e->d.draining || e->ev_flush != NULL ||
	    hook_open(e->hook) > 0 || (e->q && outq_inflight(e->q) > 0))
		return;
	log_info("drained, exiting");
	/* the last answers sit in output buffers: give the loop a moment */
	if ((e->ev_flush = evtimer_new(e->d.base, on_flushed, e)) == NULL ||
	    evtimer_add(e->ev_flush, &tv) == -1)
		daemon_stop(&e->d);
}

void
edge_term(struct edge *e, const char *calls)
{
	log_info("SIGTERM: draining (%zu webhooks, %zu %s open)",
	    hook_open(e->hook), e->q ? outq_inflight(e->q) : 0, calls);
	if (e->hook)
		hook_drain(e->hook);
	if (e->srv)
		bus_server_stop(e->srv);
	if (e->q)
		outq_drain(e->q);
	edge_drain_check(e);
}

static void
progress_answered(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	/* stored, or not news to routerd: nothing to do either way */
}

void
edge_progress(struct edge *e, const char *channel, const char *msg,
    const struct outq_progress *p)
{
	struct fbuf fb;
	int retrying = strcmp(p->status, "retrying") == 0;
	int64_t id;

	if (e->router == NULL || !bus_is_up(e->router) || e->d.draining)
		return;
	id = bus_next_id(e->router);
	fbuf_init(&fb);
	fbuf_begin(&fb, 7 + (retrying ? 3 : 0));
	mp_kv_str(&fb.pk, "t", "st");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "channel", channel);
	mp_kv_str(&fb.pk, "msg", msg);
	mp_kv_str(&fb.pk, "status", p->status);
	mp_kv_int(&fb.pk, "attempt", p->attempt);
	mp_kv_int(&fb.pk, "ts", daemon_now_ms());
	if (retrying) {
		mp_kv_int(&fb.pk, "next_ts", p->next_ts);
		mp_kv_str(&fb.pk, "code", p->code ? p->code : "");
		mp_kv_str(&fb.pk, "reason", p->reason ? p->reason : "");
	}
	if (bus_request(e->router, &fb, id, progress_answered, NULL) == -1)
		log_debug("msg=%s: %s not told: routerd is gone", msg,
		    p->status);
	fbuf_free(&fb);
}

void
edge_free(struct edge *e)
{
	/* routerd's pending answers fail first: waiting webhooks get 503 */
	if (e->router != NULL) {
		bus_client_free(e->router);
		e->router = NULL;
	}
	hook_free(e->hook);
	e->hook = NULL;
	/* in-flight calls die with http_out_free, which never calls back */
	outq_free(e->q);
	e->q = NULL;
	http_out_free(e->ho);
	e->ho = NULL;
	if (e->ev_flush) {
		event_free(e->ev_flush);
		e->ev_flush = NULL;
	}
}
