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
 * the configuration and wires the event loop.  The machinery it shares with
 * the other channel daemons lives in lib/: the bus wiring and the drain on
 * SIGTERM in edge, the webhook listener in hook, the paced send queue in
 * outq.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "conf.h"
#include "daemon.h"
#include "edge.h"
#include "http_out.h"
#include "httpd.h"
#include "log.h"
#include "proto.h"
#include "str.h"
#include "smsd.h"

static struct smsd smsd;	/* one per process; reachable at exit */

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
	cf->sid = str_dup(v);
	if (conf_listen(c, "smsd_listen", &cf->listen_host, &cf->listen_port,
	    err, errsz) == -1)
		goto fail;
	if (conf_int(c, "sms_rate", 1, 10000, &cf->rate, err, errsz) == -1 ||
	    conf_int(c, "sms_burst", 1, 100000, &cf->burst, err, errsz) == -1 ||
	    conf_int(c, "sms_max_inflight", 1, 100000, &cf->max_inflight, err,
	    errsz) == -1 ||
	    conf_int(c, "http_timeout_ms", 100, 600000, &cf->http_timeout_ms,
	    err, errsz) == -1 ||
	    httpd_limits_load(&cf->http, c, err, errsz) == -1)
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

/* Frames pushed to us on either socket: "out" from routerd; ping and the
 * rest are lib/edge's. */
static void
on_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	struct smsd *s = arg;

	if (proto_type(f) == PT_OUT)
		smsd_send_frame(s, c, f);
	else
		edge_frame_common(&s->e, c, f);
}

static void
on_term(struct daemon *d)
{
	struct smsd *s = d->arg;

	edge_term(&s->e, "provider calls");
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
	edge_hook_limits(&s->e, &s->cf.http);
	smsd_send_reconf(s);
}

int
main(int argc, char **argv)
{
	struct smsd *s = &smsd;
	char err[1024];
	int rc;

	daemon_init(&s->e.d, "smsd", argc, argv);
	if (smsd_conf_load(&s->cf, s->e.d.conf, err, sizeof(err)) == -1)
		log_exit(EX_CONFIG, "%s", err);
	if (s->e.d.check_only)
		daemon_checked(&s->e.d);
	if (sodium_init() < 0)
		log_exit(EX_TEMP, "sodium_init failed");
	s->e.d.arg = s;
	s->e.d.on_term = on_term;
	s->e.d.on_hup = on_hup;
	s->e.frame = on_frame;
	s->e.arg = s;

	if ((s->e.ho = http_out_new(s->e.d.base, (long)s->cf.max_inflight)) ==
	    NULL)
		log_exit(EX_TEMP, "cannot set up the HTTP client");
	smsd_send_start(s);
	if (edge_listen(&s->e, err, sizeof(err)) == -1 ||
	    smsd_webhook_start(s, err, sizeof(err)) == -1 ||
	    edge_connect(&s->e, err, sizeof(err)) == -1)
		log_exit(EX_TEMP, "%s", err);

	log_info("serving webhooks on %s:%d, Messages API at %s",
	    s->cf.listen_host, s->cf.listen_port, s->cf.api_url);
	daemon_ready(&s->e.d);
	rc = daemon_run(&s->e.d);

	edge_free(&s->e);
	smsd_conf_free(&s->cf);
	return rc;
}
