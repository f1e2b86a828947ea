/*
 * bus — parley's Unix-socket message bus: a server that accepts clients and
 * a client that reconnects forever with capped exponential backoff.  Frames
 * are frame.h maps; requests carry "id", answers carry "re".
 *
 * The bus answers "hello" itself (protocol version check) and every client
 * sends one on connect.  Backpressure: a connection whose output is over
 * BUS_HIWAT stops being read until it drains below BUS_LOWAT; callers that
 * push (subscriptions) check bus_outlen() and the drained callback.
 * A malformed frame drops that connection with a log line.
 *
 * Every peer is untrusted (agents reach the sockets as their own Unix
 * users), so a server holds budgets (struct bus_limits, parley.conf(5)):
 * connections per Unix user, a deadline for a frame to arrive whole once
 * its first byte has, and the bytes buffered from unprivileged peers across
 * all connections.  Root and the daemons' own user are always served.  The
 * peer's credentials are read once, at accept (SO_PEERCRED).
 */
#ifndef PARLEY_BUS_H
#define PARLEY_BUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <event2/event.h>
#include <msgpack.h>

#include "frame.h"

#define BUS_HIWAT	(4u * 1024 * 1024)
#define BUS_LOWAT	(256u * 1024)

struct bus_conn;
struct bus_server;
struct conf;

struct bus_limits {
	unsigned	per_user;	/* connections per Unix user; 0: no cap */
	long		frame_ms;	/* a started frame must end within this */
	size_t		input_max;	/* bytes buffered from unprivileged peers */
};
#define BUS_PER_USER_DEFAULT	64
#define BUS_FRAME_MS_DEFAULT	10000
#define BUS_INPUT_MB_DEFAULT	64

/* The limits from bus_max_per_user, bus_frame_timeout_ms and
 * bus_input_budget_mb; -1 with err naming the key. */
int	bus_conf(const struct conf *, struct bus_limits *, char *err,
	    size_t errsz);

struct bus_handlers {
	/* A request or push frame (answers to bus_request go to their cb). */
	void	(*frame)(struct bus_conn *, const msgpack_object *, void *);
	/* Client: connected (hello sent).  Server: client accepted. */
	void	(*up)(struct bus_conn *, void *);
	/* Connection lost.  Server side the conn is freed after this returns. */
	void	(*down)(struct bus_conn *, void *);
	/* The output fell to what bus_want_drain asked for. */
	void	(*drained)(struct bus_conn *, void *);
};

/* Listen on path (mode 0660); NULL with err on failure. */
struct bus_server *bus_listen(struct event_base *, const char *path,
	    const struct bus_handlers *, void *arg, char *err, size_t errsz);
/* Hold a server to *l (bus_listen starts with the defaults); l must outlive
 * the server, and a change to *l (a reload) applies at once. */
void	bus_server_limit(struct bus_server *, const struct bus_limits *);
/* Stop accepting new clients; existing ones stay. */
void	bus_server_stop(struct bus_server *);
/* Number of connected clients. */
size_t	bus_server_clients(struct bus_server *);

/* A client for path that connects now and reconnects with backoff forever. */
struct bus_conn *bus_client(struct event_base *, const char *path,
	    const char *name, const struct bus_handlers *, void *arg);
/*
 * A client whose peer is in this process: the far end of a bufferevent
 * pair, given to the caller (lib/util/natsbus reads the requests there and
 * writes the answers), framed as on a socket.  It says hello and is "up"
 * from the loop once this has returned; it never reconnects.
 */
struct bufferevent;
struct bus_conn *bus_pair(struct event_base *, const char *name,
	    const struct bus_handlers *, void *arg, struct bufferevent **far);
/* Close a client for good (no reconnect) and free it. */
void	bus_client_free(struct bus_conn *);

int	bus_is_up(struct bus_conn *);
/* Finish f and queue it; -1 if the connection is down or f too large. */
int	bus_send(struct bus_conn *, struct fbuf *);
/* Queue already-framed bytes. */
int	bus_send_raw(struct bus_conn *, const void *, size_t);
/* Bytes waiting in the output buffer. */
size_t	bus_outlen(struct bus_conn *);
/* Ask for one drained callback once the output is at most lowat bytes
 * (called back from the loop, never from here). */
void	bus_want_drain(struct bus_conn *, size_t lowat);

/*
 * The next frame at the head of in (not drained), decoded into up: 1 with
 * its bytes in *data (*used of them), 0 when more bytes are needed, -1
 * with *why when it is over FRAME_MAX, empty or malformed.  The bus's own
 * reader and natsbus's read through it.
 */
struct evbuffer;
int	bus_frame_next(struct evbuffer *in, msgpack_unpacked *up,
	    const char **data, size_t *used, const char **why);

/* A fresh request id for this connection. */
int64_t	bus_next_id(struct bus_conn *);
typedef void (*bus_answer_cb)(struct bus_conn *, const msgpack_object *ans,
	    void *arg);
/*
 * Send f (which the caller packed with "id" = id) and call cb with the answer,
 * or with ans NULL if the connection is lost first.  -1 if not sent (cb not
 * called).
 */
int	bus_request(struct bus_conn *, struct fbuf *, int64_t id,
	    bus_answer_cb cb, void *arg);
/* Number of requests awaiting answers. */
size_t	bus_pending(struct bus_conn *);

/* Begin an answer {re, ok:true, ...} with nextra more keys to be packed. */
void	bus_answer_begin(struct fbuf *, int64_t re, uint32_t nextra);
/* Send {re, err:{code,msg}}. */
int	bus_answer_err(struct bus_conn *, int64_t re, const char *code,
	    const char *msg);

/* Drop a connection, logged with why (clients reconnect later). */
void	bus_drop(struct bus_conn *, const char *why);
/* Read nothing more from c, let what is queued for it (a last error
 * answer) leave, then drop it with why; dropped at once by the sweep if
 * the peer does not read it within frame_ms. */
void	bus_finish(struct bus_conn *, const char *why);
void	bus_set_data(struct bus_conn *, void *);
void	*bus_data(struct bus_conn *);
/* The peer's credentials (SO_PEERCRED); -1 if unknown. */
int	bus_peer(struct bus_conn *, uid_t *, gid_t *, pid_t *);
/* 1 when the peer runs as this process's own user: another parley daemon
 * (or an operator's shell as that user). */
int	bus_peer_daemon(struct bus_conn *);
/* 1 when the peer is root or this process's own user. */
int	bus_peer_privileged(struct bus_conn *);
/* Answer request id with err {code:"denied", msg:why}; the first refusal
 * on a connection is logged, the rest are not (a peer cannot flood). */
void	bus_deny(struct bus_conn *, int64_t id, const char *why);
/*
 * May this peer send frame f (proto_peer)?  1: yes.  0: no, and the
 * request was answered "denied" (or, for a frame without id, the peer
 * dropped).  Person frames pass here; their handlers check roles.
 */
int	bus_check_peer(struct bus_conn *, const msgpack_object *f);
/* Name for logs: the peer's hello name, or "uid N pid M". */
const char *bus_name(struct bus_conn *);

/*
 * A server's record of one client, kept while answers wait on it (a
 * commit, another daemon's answer): the connection may go first, and what
 * is answered to a caller whose connection is gone is dropped.  A program
 * puts its own per-client state after it:
 *	struct rclient { struct bus_caller bc; struct who who; ... };
 * attached in the up handler, detached in the down handler, held by every
 * answer that waits (lib/held holds it for an answer after the commit).
 */
struct bus_caller {
	struct bus_conn	*c;		/* NULL once the connection is gone */
	unsigned	 refs;
};
/* A zeroed record of size bytes (a struct bus_caller first) set as c's
 * data, held once for the connection; NULL out of memory. */
void	*bus_caller_attach(struct bus_conn *c, size_t size);
/* The connection is gone (call from the down handler): c is forgotten and
 * the connection's hold released; the record lives while others hold it. */
void	bus_caller_detach(struct bus_caller *);
void	bus_caller_hold(struct bus_caller *);
/* Release one hold; the record is freed with the last. */
void	bus_caller_release(struct bus_caller *);
/* Send f to the caller; -1 when its connection is gone (or bus_send's). */
int	bus_caller_send(struct bus_caller *, struct fbuf *);
/* Answer re with err {code, msg: the formatted reason} now; -1 when the
 * caller's connection is gone. */
int	bus_caller_refuse(struct bus_caller *, int64_t re, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
