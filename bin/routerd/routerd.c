/*
 * routerd — the conversation owner.
 *
 * Every inbound message, outbound message and status is appended to the
 * event log in LMDB and answered only after the group commit; conversations
 * are found or opened by (channel, our address, the contact); outbound
 * messages are dispatched to the channel daemons after "queued" is on disk,
 * and the ones never confirmed are found in the store and dispatched again
 * after a crash.  Subscribers read the log from any sequence.
 *
 * This file is the top of the house (routerd.h draws the floors): main,
 * the event wiring, and one switch from a frame's type to its handler.
 * Below it the handlers, the rules and the ground floor (routerd_store),
 * each calling only down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "mp.h"
#include "natsbus.h"
#include "proto.h"
#include "routerd.h"

struct routerd *R;

static void
on_up(struct bus_conn *c, void *arg)
{
	if (bus_caller_attach(c, sizeof(struct rclient)) == NULL)
		bus_drop(c, "out of memory");
}

static void
on_down(struct bus_conn *c, void *arg)
{
	struct rclient *cl = bus_data(c);

	if (cl == NULL)
		return;
	if (cl->sub)
		TAILQ_REMOVE(&R->subs, cl, entry);
	cl->sub = 0;
	bus_caller_detach(&cl->bc);
}

static void
on_drained(struct bus_conn *c, void *arg)
{
	struct rclient *cl = bus_data(c);

	if (cl && cl->sub)
		sub_pump(cl);
}

static void
ping(struct rclient *cl, const msgpack_object *f)
{
	struct fbuf fb;
	int64_t id = 0;

	mp_int(f, "id", &id);
	fbuf_init(&fb);
	bus_answer_begin(&fb, id, 1);
	mp_kv_int(&fb.pk, "seq", (int64_t)R->log.committed);
	bus_caller_send(&cl->bc, &fb);
	fbuf_free(&fb);
}

static void
on_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	struct rclient *cl = bus_data(c);
	int64_t id;

	if (cl == NULL)
		return;
	if (!mp_int(f, "id", &id)) {
		bus_drop(c, "request without id");
		return;
	}
	if (!bus_check_peer(c, f))
		return;
	switch (proto_type(f)) {
	case PT_PING:
		ping(cl, f);
		break;
	case PT_IN:
		in_request(cl, f);
		break;
	case PT_ST:
		status_request(cl, f);
		break;
	case PT_SEND:
		send_request(cl, f);
		break;
	case PT_CSEND:
		send_campaign(cl, f);
		break;
	case PT_SUB:
		sub_request(cl, f);
		break;
	case PT_INBOX:
		query_inbox(cl, f);
		break;
	case PT_PURGE:
		purge_request(cl, f);
		break;
	case PT_STATUS:
		work_status(cl, f);
		break;
	case PT_CLAIM:
		work_claim(cl, f);
		break;
	case PT_CLOSE:
		work_close(cl, f);
		break;
	case PT_TRANSFER:
		work_transfer(cl, f);
		break;
	case PT_MODE:
		work_mode(cl, f);
		break;
	case PT_ROUTE:
		query_route(cl, f);
		break;
	case PT_CONV:
		query_conv(cl, f);
		break;
	case PT_QA:
		qa_request(cl, f);
		break;
	case PT_TAG:
		work_tag(cl, f);
		break;
	case PT_ATTENTION:
		work_attention(cl, f);
		break;
	case PT_HISTORY:
		query_history(cl, f);
		break;
	case PT_SEARCH:
		query_search(cl, f);
		break;
	case PT_WINDOW:
		query_window(cl, f);
		break;
	case PT_OPTOUT:
		work_optout(cl, f);
		break;
	case PT_BOT:
		bot_request(cl, f);
		break;
	case PT_SUPPRESS:
		suppress_request(cl, f);
		break;
	default:
		bus_answer_err(c, id, "unknown", "unknown request type");
		break;
	}
}

static const struct bus_handlers handlers = {
	.frame = on_frame,
	.up = on_up,
	.down = on_down,
	.drained = on_drained,
};

/* After every batch: settle the log's mark, then feed subscribers; an
 * abandoned batch leaves the attention index to be filled again. */
static void
on_commit(void *arg, int ok)
{
	evlog_settle(&R->log, ok);
	if (!ok)
		attn_reset(0);
	if (ok) {
		sub_publish();
		queue_pump();
	}
}

static void
maybe_exit(void)
{
	if (R->d.draining && dispatch_inflight() == 0) {
		store_commit(R->st);
		daemon_stop(&R->d);
	}
}

static void
on_tick(evutil_socket_t fd, short ev, void *arg)
{
	sub_tick();
	queue_tick();
	queue_ended_tick();
	/* the log and the records it walked are page cache, not ours to keep
	 * resident: a campaign of millions would otherwise map them all */
	store_shed(R->st);
	maybe_exit();
}

/* Unanswered customers marked as they pass their threshold, in small
 * batches often rather than a stall of thousands every few seconds. */
static void
on_attn(evutil_socket_t fd, short ev, void *arg)
{
	work_attention_tick();
}

static void
on_term(struct daemon *d)
{
	/* stop taking work, let committed answers and dispatches finish */
	bus_server_stop(R->srv);
	store_commit(R->st);
	maybe_exit();
}

/* SIGHUP: the settings that may change under a running routerd. */
static void
on_hup(struct daemon *d)
{
	char err[512];
	long long mmax, sq, ss;

	if (conf_int(d->conf, "store_map_max_mb", 1, 1 << 24, &mmax, err,
	    sizeof(err)) == -1 ||
	    conf_int(d->conf, "subscriber_queue_kb", 16, 1 << 20, &sq, err,
	    sizeof(err)) == -1 ||
	    conf_int(d->conf, "subscriber_stall_ms", 100, 3600000, &ss, err,
	    sizeof(err)) == -1) {
		log_warnx("reload: %s; the previous values stay", err);
		return;
	}
	store_set_max(R->st, (size_t)mmax << 20);
	R->sub_queue = (size_t)sq << 10;
	R->sub_stall_ms = ss;
}

int
main(int argc, char *argv[])
{
	static struct routerd r;
	static const struct dispatch_hooks hooks = {
		.result = result_record,
		.idle = maybe_exit,
	};
	char path[4096], err[1024];
	long long msz, mmax, sq, ss;
	int rc;
	struct timeval tick = { 1, 0 }, attn = { 0, 100000 };

	R = &r;
	daemon_init(&r.d, "routerd", argc, argv);
	if (conf_int(r.d.conf, "store_map_size_mb", 1, 1 << 20, &msz, err,
	    sizeof(err)) == -1 ||
	    conf_int(r.d.conf, "store_map_max_mb", 1, 1 << 24, &mmax, err,
	    sizeof(err)) == -1 ||
	    conf_int(r.d.conf, "subscriber_queue_kb", 16, 1 << 20, &sq, err,
	    sizeof(err)) == -1 ||
	    conf_int(r.d.conf, "subscriber_stall_ms", 100, 3600000, &ss, err,
	    sizeof(err)) == -1)
		log_exit(EX_CONFIG, "%s", err);
	r.sub_queue = (size_t)sq << 10;
	r.sub_stall_ms = ss;
	if (natsbus_on(r.d.conf) &&
	    natsbus_start(&r.d, 1, err, sizeof(err)) == -1)
		log_exit(EX_CONFIG, "%s", err);
	if (r.d.check_only)
		daemon_checked(&r.d);

	TAILQ_INIT(&r.subs);
	daemon_path(&r.d, "db/routerd", path, sizeof(path));
	if ((r.st = rs_open(r.d.base, path, (size_t)msz << 20,
	    (size_t)mmax << 20, &r.log, err, sizeof(err))) == NULL)
		log_exit(EX_TEMP, "%s", err);
	store_on_commit(r.st, on_commit, NULL);

	daemon_path(&r.d, "run/routerd.sock", path, sizeof(path));
	if ((r.srv = bus_listen(r.d.base, path, &handlers, NULL, err,
	    sizeof(err))) == NULL)
		log_exit(EX_TEMP, "%s", err);
	bus_server_limit(r.srv, &r.d.bus);
	if (natsbus_on(r.d.conf))
		natsbus_router_in();	/* the shard's stream to our socket */
	dispatch_init(&hooks);
	queue_init();
	if ((r.ev_tick = event_new(r.d.base, -1, EV_PERSIST, on_tick,
	    NULL)) == NULL || event_add(r.ev_tick, &tick) == -1)
		log_exit(EX_TEMP, "cannot create the tick timer");
	if ((r.ev_attn = event_new(r.d.base, -1, EV_PERSIST, on_attn,
	    NULL)) == NULL || event_add(r.ev_attn, &attn) == -1)
		log_exit(EX_TEMP, "cannot create the attention timer");
	r.d.on_term = on_term;
	r.d.on_hup = on_hup;
	log_info("serving, event log at %llu",
	    (unsigned long long)r.log.committed);
	daemon_ready(&r.d);
	rc = daemon_run(&r.d);
	store_close(r.st);
	return rc;
}
