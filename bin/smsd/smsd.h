/*
 * smsd — the state the three parts of the Twilio edge share: smsd.c (main,
 * configuration, the frames smsd serves), smsd_webhook.c (Twilio's webhooks
 * in, forwarded to routerd through lib/hook) and smsd_send.c (routerd's "out"
 * requests, paced per sender by lib/outq, to the Messages API).  The bus
 * wiring and the drain are lib/edge's, shared with whatsappd.
 */
#ifndef SMSD_H
#define SMSD_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "daemon.h"
#include "edge.h"
#include "httpd.h"

struct bus_conn;

#define SMSD_BODY_MAX		(64 * 1024)	/* webhook bodies */

/* Settings, copied out of the configuration (SIGHUP frees the old one). */
struct smsd_conf {
	char		*api_url;	/* no trailing '/' */
	char		*sid;
	char		*token;		/* the auth token (a secret) */
	char		*webhook_url;	/* public base, no trailing '/' */
	char		*listen_host;
	int		 listen_port;
	char		*msgs_url;	/* .../Accounts/{sid}/Messages.json */
	char		*status_cb;	/* {webhook_url}/twilio/status */
	char		*userpwd;	/* "sid:token" (a secret) */
	long long	 rate, burst, max_inflight, http_timeout_ms;
	struct httpd_limits http;	/* the webhook listener's budgets */
};

struct smsd {
	struct edge		 e;	/* daemon, hook, bus, outq (lib/edge) */
	struct smsd_conf	 cf;
};

/* smsd.c */
/* Read and check every setting smsd uses into cf; -1 with err. */
int	smsd_conf_load(struct smsd_conf *, const struct conf *, char *err,
	    size_t errsz);
void	smsd_conf_free(struct smsd_conf *);

/* smsd_webhook.c */
/* Bind smsd_listen and serve the webhooks; -1 with err. */
int	smsd_webhook_start(struct smsd *, char *err, size_t errsz);

/* smsd_send.c */
/* Set up the pacing of sends (the queue, s->e.q). */
void	smsd_send_start(struct smsd *);
/* A request frame from routerd on conn (either socket). */
void	smsd_send_frame(struct smsd *, struct bus_conn *,
	    const msgpack_object *);
/* Settings changed (SIGHUP): new pacing limits. */
void	smsd_send_reconf(struct smsd *);

#endif
