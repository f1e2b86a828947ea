/*
 * natsbus — the bus's second transport: the same frames (a 4-byte length
 * and one msgpack map, frame.h) carried between channel daemons and the
 * routerd of each shard over NATS JetStream instead of Unix sockets, when
 * parley.conf(5) says bus_transport = nats (parley-cluster(7)).
 *
 * Programs do not see NATS: a channel daemon's link to routerd and routerd's
 * links to the channel daemons are bus_conn's (bus_pair) whose far end is
 * here, and what arrives from a stream is handed to the daemon's own socket
 * through an ordinary bus_client, so every check a frame meets on a socket
 * it meets here too.
 *
 *   channel daemon --"in"/"st"--> JetStream <prefix>.<shard>.in (stream
 *     PARLEY_<SHARD>, R<nats_replicas>); the request is answered ok (the
 *     webhook's 200) only once JetStream acknowledged the publication.
 *   routerd of <shard> pulls "in" (durable "in"), hands each to its own
 *     socket, acknowledges the JetStream message once routerd answered ok
 *     (after its commit), naks it on a store error.
 *   routerd --"out"--> <prefix>.out.<prog> (stream PARLEY_OUT); the channel
 *     daemon pulls it (durable "out-<prog>"), answers, and the answer goes
 *     to <prefix>.<shard>.res, pulled by that shard's routerd (durable
 *     "res") and given back to the request that is waiting for it.
 *
 * Threads: libnats reads and writes its socket on the daemon's libevent
 * loop through libnats' libevent adapter; on the loop thread only
 * asynchronous calls are made (js_PublishMsgAsync, natsMsg_Ack).  Connecting,
 * creating streams and consumers and every fetch run on helper threads;
 * publication acknowledgements and fetched messages are queued and handed
 * to the loop through a pipe.
 */
#ifndef PARLEY_NATSBUS_H
#define PARLEY_NATSBUS_H

#include <stddef.h>

#include "natsmap.h"

struct bus_conn;
struct bus_handlers;
struct conf;
struct daemon;

/* 1 when the configuration's bus_transport is nats. */
int	natsbus_on(const struct conf *);
/* Before the event base exists: libevent made thread-safe (the adapter's
 * natsLibevent_Init), when natsbus_on. */
void	natsbus_preinit(const struct conf *);
/*
 * Read the nats_* settings of d's configuration and start connecting (a
 * helper thread, retried for ever).  router: this process is a shard's
 * routerd (nats_shard required).  -1 with err on a bad setting.
 */
int	natsbus_start(struct daemon *d, int router, char *err, size_t errsz);
/* SIGHUP (daemon.c, before the daemon's own on_hup): the maps again, a
 * warning for each setting that needs a restart. */
void	natsbus_reload(const struct conf *);
/* Stop the helper threads and close the connection (at exit). */
void	natsbus_stop(void);


/*
 * Core NATS, for state that may be lost (a channel daemon's token state):
 * fn is called on the loop with each message on <prefix>.<suffix>
 * (wildcards allowed), from when the connection is up; at most 256 wait
 * for the loop, the rest are dropped.  natsbus_core_pub publishes on
 * <prefix>.<suffix>, -1 when not connected.  Channel daemons publish their
 * chstatus answer on chstatus.<prog>.<boot> every 10 s by themselves.
 */
typedef void (*natsbus_core_fn)(const char *subj, const void *data,
	    size_t len, void *arg);
void	natsbus_core_sub(const char *suffix, natsbus_core_fn, void *arg);
int	natsbus_core_pub(const char *suffix, const void *data, size_t len);

/* A channel daemon's link to routerd: its "in" and "st" requests are
 * published to the owning shard's stream and answered once stored there. */
struct bus_conn *natsbus_edge_router(const struct bus_handlers *, void *arg);
/* A channel daemon takes its "out" requests from the stream and hands them
 * to its own socket run/<prog>.sock. */
void	natsbus_edge_out(void);

/* routerd: "in" and "st" from the shard's stream to run/routerd.sock. */
void	natsbus_router_in(void);
/* routerd: the link to channel link (sms, whatsapp, ...) served by prog:
 * "out" requests published for prog, answered from the shard's results. */
struct bus_conn *natsbus_router_link(const char *link, const char *prog,
	    const struct bus_handlers *, void *arg);

#endif
