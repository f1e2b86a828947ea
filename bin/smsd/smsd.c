/*
 * smsd — parley's Twilio Programmable Messaging edge (smsd(8)).
 *
 * Inbound: Twilio posts form-encoded webhooks to /twilio/inbound and
 * /twilio/status; smsd checks X-Twilio-Signature, turns each into an "in" or
 * "st" frame for routerd and answers Twilio only once routerd has committed
 * it (smsd_webhook.c).  Outbound: routerd sends "out" requests on smsd.sock;
 * smsd paces them per sender number, calls the Messages API with libcurl
 * multi and answers with the provider's id or error (smsd_send.c).
 *
 * smsd is stateless: it holds the auth token but never opens a store.  What
 * it has not answered, routerd still holds and sends again.  This file reads
 * the configuration, wires the event loop and the bus, and drains on SIGTERM.
 * The machinery it shares with the other channel daemons lives in lib/: the
 * webhook listener in hook, the paced send queue in outq.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "bus.h"
#include "conf.h"
#include "daemon.h"
#include "frame.h"
#include "http_out.h"
#include "log.h"
#include "mp.h"
#include "proto.h"
#include "smsd.h"

static struct smsd smsd;	/* one per process; reachable at exit */

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

void
smsd_conf_free(struct smsd_conf *cf)
{
	if (cf->token)
		sodium_memzero(cf->token, strlen(cf->token));
	if (cf->userpwd)
		sodium_memzero(cf->userpwd, strlen(cf->userpwd));
	free(cf->api_url);
	free(cf->sid);
	free(cf->token);
	free(cf->webhook_url);
	free(cf->listen_host);
	free(cf->msgs_url);
	free(cf->status_cb);
	free(cf->userpwd);
	memset(cf, 0, sizeof(*cf));
}

int
smsd_conf_load(struct smsd_conf *cf, const struct conf *c, char *err,
    size_t errsz)
{
	const char *v;
	char e[512];
	size_t i, n;

	memset(cf, 0, sizeof(*cf));
	if ((cf->api_url = conf_url(c, "twilio_api_url", err, errsz)) ==
	    NULL || (cf->webhook_url = conf_url(c, "twilio_webhook_url", err,
	    errsz)) == NULL)
		goto fail;
	v = conf_get(c, "twilio_account_sid");
	n = v ? strlen(v) : 0;
	if (n == 0) {
		snprintf(err, errsz, "twilio_account_sid is not set");
		goto fail;
	}
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) || n > 64) {
			snprintf(err, errsz, "twilio_account_sid: not an "
			    "account sid (AC and 32 hex digits)");
			goto fail;
		}
	cf->sid = xstrdup(v);
	if (conf_listen(c, "smsd_listen", &cf->listen_host, &cf->listen_port,
	    err, errsz) == -1)
		goto fail;
	if (conf_int(c, "sms_rate", 1, 10000, &cf->rate, err, errsz) == -1 ||
	    conf_int(c, "sms_burst", 1, 100000, &cf->burst, err, errsz) == -1 ||
	    conf_int(c, "sms_max_inflight", 1, 100000, &cf->max_inflight, err,
	    errsz) == -1 ||
	    conf_int(c, "http_timeout_ms", 100, 600000, &cf->http_timeout_ms,
	    err, errsz) == -1)
		goto fail;
	if ((cf->token = conf_secret(c, "twilio_auth_token_file", e,
	    sizeof(e))) == NULL) {
		snprintf(err, errsz, "twilio_auth_token_file: %s", e);
		goto fail;
	}
	if (cf->token[0] == '\0' || strpbrk(cf->token, "\r\n") != NULL) {
		snprintf(err, errsz, "twilio_auth_token_file: the token must "
		    "be one non-empty line");
		goto fail;
	}
	if (asprintf(&cf->msgs_url, "%s/2010-04-01/Accounts/%s/Messages.json",
	    cf->api_url, cf->sid) == -1 ||
	    asprintf(&cf->status_cb, "%s/twilio/status", cf->webhook_url) == -1 ||
	    asprintf(&cf->userpwd, "%s:%s", cf->sid, cf->token) == -1)
		fatalx("out of memory");
	return 0;
fail:
	smsd_conf_free(cf);
	return -1;
}

static void
on_flushed(evutil_socket_t fd, short what, void *arg)
{
	struct smsd *s = arg;

	daemon_stop(&s->d);
}

void
smsd_drain_check(struct smsd *s)
{
	struct timeval tv = { 0, SMSD_FLUSH_MS * 1000 };

	if (!s->d.draining || s->ev_flush != NULL ||
	    smsd_webhook_open(s) > 0 || smsd_send_inflight(s) > 0)
		return;
	log_info("drained, exiting");
	/* the last answers sit in output buffers: give the loop a moment */
	if ((s->ev_flush = evtimer_new(s->d.base, on_flushed, s)) == NULL ||
	    evtimer_add(s->ev_flush, &tv) == -1)
		daemon_stop(&s->d);
}

/* Frames pushed to us on either socket: "out" from routerd, "ping". */
static void
on_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	struct smsd *s = arg;
	struct fbuf fb;
	int64_t id;

	switch (proto_type(f)) {
	case PT_OUT:
		smsd_send_frame(s, c, f);
		break;
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
		if (mp_int(f, "id", &id))
			bus_answer_err(c, id, "unknown",
			    "smsd does not serve this request");
		else
			log_debug("%s: unexpected frame ignored", bus_name(c));
		break;
	}
}

static void
router_up(struct bus_conn *c, void *arg)
{
	log_info("connected to routerd");
}

static void
router_down(struct bus_conn *c, void *arg)
{
	struct smsd *s = arg;

	log_warnx("lost routerd; webhooks get 503 until it is back");
	smsd_send_conn_down(s, c);
}

static void
peer_down(struct bus_conn *c, void *arg)
{
	struct smsd *s = arg;

	smsd_send_conn_down(s, c);
}

static const struct bus_handlers router_h = {
	.frame = on_frame, .up = router_up, .down = router_down,
};
static const struct bus_handlers server_h = {
	.frame = on_frame, .down = peer_down,
};

static void
on_term(struct daemon *d)
{
	struct smsd *s = d->arg;

	log_info("SIGTERM: draining (%zu webhooks, %zu provider calls open)",
	    smsd_webhook_open(s), smsd_send_inflight(s));
	smsd_webhook_drain(s);
	if (s->srv)
		bus_server_stop(s->srv);
	smsd_send_drain(s);
	smsd_drain_check(s);
}

static void
on_hup(struct daemon *d)
{
	struct smsd *s = d->arg;
	struct smsd_conf cf;
	char err[1024];

	if (smsd_conf_load(&cf, d->conf, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the previous settings", err);
		return;
	}
	if (strcmp(cf.listen_host, s->cf.listen_host) != 0 ||
	    cf.listen_port != s->cf.listen_port)
		log_warnx("reload: smsd_listen changes need a restart");
	smsd_conf_free(&s->cf);
	s->cf = cf;
	smsd_send_reconf(s);
}

int
main(int argc, char **argv)
{
	struct smsd *s = &smsd;
	char err[1024], path[4096];
	int rc;

	daemon_init(&s->d, "smsd", argc, argv);
	if (smsd_conf_load(&s->cf, s->d.conf, err, sizeof(err)) == -1)
		log_exit(EX_CONFIG, "%s", err);
	if (s->d.check_only)
		daemon_checked(&s->d);
	if (sodium_init() < 0)
		log_exit(EX_TEMP, "sodium_init failed");
	s->d.arg = s;
	s->d.on_term = on_term;
	s->d.on_hup = on_hup;

	if ((s->ho = http_out_new(s->d.base, (long)s->cf.max_inflight)) == NULL)
		log_exit(EX_TEMP, "cannot set up the HTTP client");
	if (smsd_send_start(s, &server_h, err, sizeof(err)) == -1)
		log_exit(EX_TEMP, "%s", err);
	if (smsd_webhook_start(s, err, sizeof(err)) == -1)
		log_exit(EX_TEMP, "%s", err);
	s->router = bus_client(s->d.base, daemon_path(&s->d, "run/routerd.sock",
	    path, sizeof(path)), "smsd", &router_h, s);
	if (s->router == NULL)
		log_exit(EX_TEMP, "cannot create the routerd client");

	log_info("serving webhooks on %s:%d, Messages API at %s",
	    s->cf.listen_host, s->cf.listen_port, s->cf.api_url);
	daemon_ready(&s->d);
	rc = daemon_run(&s->d);

	/* routerd's pending answers fail first: waiting webhooks get 503 */
	bus_client_free(s->router);
	s->router = NULL;
	smsd_webhook_free(s);
	smsd_send_free(s);
	http_out_free(s->ho);
	s->ho = NULL;
	smsd_conf_free(&s->cf);
	if (s->ev_flush)
		event_free(s->ev_flush);
	return rc;
}
