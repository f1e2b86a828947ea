/*
 * smsd — the state the three parts of the Twilio edge share: smsd.c (main,
 * configuration, bus wiring, drain), smsd_webhook.c (Twilio's webhooks in,
 * forwarded to routerd through lib/hook) and smsd_send.c (routerd's "out"
 * requests, paced per sender by lib/outq, to the Messages API).
 */
#ifndef SMSD_H
#define SMSD_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "daemon.h"

struct bus_conn;
struct bus_handlers;
struct bus_server;
struct event;
struct hook;
struct http_out;
struct outq;

#define SMSD_BODY_MAX		(64 * 1024)	/* webhook bodies */
#define SMSD_HEADERS_MAX	(16 * 1024)	/* webhook headers, in all */
#define SMSD_ANSWER_MS		10000		/* routerd's answer to a webhook */
#define SMSD_DRAIN_ANSWER_MS	5000		/* the same, once draining */
#define SMSD_FLUSH_MS		100		/* after the drain, before exit */

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
};

struct smsd {
	struct daemon		 d;
	struct smsd_conf	 cf;
	/* webhooks in */
	struct hook		*hook;		/* the listener (lib/hook) */
	struct bus_conn		*router;	/* client of routerd.sock */
	/* messages out */
	struct bus_server	*srv;		/* smsd.sock */
	struct http_out		*ho;
	struct outq		*q;		/* paced sends (lib/outq) */
	struct event		*ev_flush;	/* drained: let answers out */
};

/* smsd.c */
/* Read and check every setting smsd uses into cf; -1 with err. */
int	smsd_conf_load(struct smsd_conf *, const struct conf *, char *err,
	    size_t errsz);
void	smsd_conf_free(struct smsd_conf *);
/* When draining and nothing is left in flight, end the loop. */
void	smsd_drain_check(struct smsd *);

/* smsd_webhook.c */
/* Bind smsd_listen and serve the webhooks; -1 with err. */
int	smsd_webhook_start(struct smsd *, char *err, size_t errsz);
/* Stop accepting and answer waiting webhooks within SMSD_DRAIN_ANSWER_MS. */
void	smsd_webhook_drain(struct smsd *);
/* Webhooks not yet answered. */
size_t	smsd_webhook_open(struct smsd *);
/* Answer whatever still waits with 503 and free everything (at exit). */
void	smsd_webhook_free(struct smsd *);

/* smsd_send.c */
/* Listen on $HOME/run/smsd.sock with h and set up pacing; -1 with err. */
int	smsd_send_start(struct smsd *, const struct bus_handlers *h, char *err,
	    size_t errsz);
/* A request frame from routerd on conn (either socket). */
void	smsd_send_frame(struct smsd *, struct bus_conn *,
	    const msgpack_object *);
/* conn is gone: forget the answers owed to it. */
void	smsd_send_conn_down(struct smsd *, struct bus_conn *);
/* Drain: start nothing new; queued sends are dropped for routerd to retry. */
void	smsd_send_drain(struct smsd *);
/* Provider calls in flight. */
size_t	smsd_send_inflight(struct smsd *);
/* Settings changed (SIGHUP): new pacing limits. */
void	smsd_send_reconf(struct smsd *);
void	smsd_send_free(struct smsd *);

#endif
