/*
 * edge — the skeleton every channel daemon shares (smsd, whatsappd): the
 * parts of one process that take a provider's webhooks in (lib/hook over
 * lib/httpd), send routerd's "out" requests to the provider (lib/outq over
 * lib/http_out), talk to routerd as a client of routerd.sock and serve
 * run/<prog>.sock.
 *
 * A channel daemon embeds a struct edge in its own state, fills in frame and
 * arg, and keeps its own configuration, provider calls and webhook parsing.
 * edge answers what every channel daemon answers the same way (ping, an
 * unknown request), handles routerd and its peers coming and going, and
 * drains on SIGTERM: stop the webhooks, stop the socket, drop the queue, and
 * once nothing is in flight give the last answers EDGE_FLUSH_MS to leave
 * before the loop ends.
 */
#ifndef PARLEY_EDGE_H
#define PARLEY_EDGE_H

#include <stddef.h>
#include <msgpack.h>

#include "daemon.h"

struct bus_conn;
struct bus_server;
struct event;
struct hook;
struct hook_conf;
struct http_out;
struct httpd_limits;
struct outq;
struct outq_progress;

#define EDGE_HEADERS_MAX	(16 * 1024)	/* webhook headers, in all */
#define EDGE_ANSWER_MS		10000	/* routerd's answer to a webhook */
#define EDGE_DRAIN_ANSWER_MS	5000	/* the same, once draining */
#define EDGE_FLUSH_MS		100	/* after the drain, before exit */

struct edge {
	struct daemon		 d;
	/* webhooks in */
	struct hook		*hook;		/* the listener (lib/hook) */
	struct bus_conn		*router;	/* client of routerd.sock */
	/* messages out */
	struct bus_server	*srv;		/* run/<prog>.sock */
	struct http_out		*ho;		/* the provider's API */
	struct outq		*q;		/* paced sends (lib/outq) */
	struct event		*ev_flush;	/* drained: let answers out */
	/* A frame on either socket, with arg; what the daemon does not serve
	 * itself it passes to edge_frame_common. */
	void			(*frame)(struct bus_conn *,
				    const msgpack_object *, void *arg);
	/* A connection on either socket went away (after the queue forgot
	 * it), for answers the daemon itself still owes it; may be NULL. */
	void			(*down)(struct bus_conn *, void *arg);
	void			*arg;
};

/* Answer ping ok and any other request err "unknown"; ignore the rest. */
void	edge_frame_common(struct edge *, struct bus_conn *,
	    const msgpack_object *);
/* Listen on $HOME/run/<prog>.sock; -1 with err. */
int	edge_listen(struct edge *, char *err, size_t errsz);
/* Connect to $HOME/run/routerd.sock (and reconnect for ever); -1 with err. */
int	edge_connect(struct edge *, char *err, size_t errsz);
/* Serve webhooks as hc says (its name, header bound and answer times are
 * set here: the program's name, EDGE_*; hc->lim, the http_* budgets, is
 * the daemon's, from httpd_limits_load); -1 with err. */
int	edge_hook_start(struct edge *, struct hook_conf *hc, char *err,
	    size_t errsz);
/* SIGHUP: the webhook listener's new http_* budgets. */
void	edge_hook_limits(struct edge *, const struct httpd_limits *);
/* SIGTERM: log what is open (calls names the provider calls), stop
 * accepting, drop the queue and end the loop once drained. */
void	edge_term(struct edge *, const char *calls);
/* When draining and nothing is left in flight, end the loop. */
void	edge_drain_check(struct edge *);
/*
 * Tell routerd how the send of its message msg on channel goes (outq's
 * progress): {t:"st", id, channel, msg, status: "pending", attempt, ts},
 * or "retrying" with next_ts (Unix seconds), code and reason as well
 * (parley-proto(7)).  Not told when routerd is away; its answer is not
 * waited for.
 */
void	edge_progress(struct edge *, const char *channel, const char *msg,
	    const struct outq_progress *);
/* Free all of it, routerd's client first (waiting webhooks get 503). */
void	edge_free(struct edge *);

#endif
