/*
 * httpd — an HTTP/1.1 server on libevent bufferevents whose budgets hold
 * against idle, slow and half-sent clients.  Parsing is Debian's
 * http-parser; this module owns the connections, the deadlines and the
 * memory.
 *
 * libevent's evhttp could not be made to hold: its timeout counts only idle
 * time (a client trickling one header line every 20 s kept a connection for
 * ever), it buffers a whole body before anyone may look at it (100 unsigned,
 * unfinished 3 MB bodies grew whatsappd by 300 MB), it has no connection cap
 * and its accept loop spins and floods the log at EMFILE.  So, per listener:
 *
 *   - the request head (request line and headers) must arrive within
 *     head_ms of its first byte and the body within body_ms of the end of
 *     the head: total time, not idle time.  Past either the client gets 408
 *     and the connection is closed.  A connection with no request in
 *     progress (new, or kept alive between requests) is closed after
 *     idle_ms.
 *   - at most max_conns connections (and never more than seven eighths of
 *     the descriptor limit) are open.  A connection over the cap closes the
 *     oldest idle one (no request in progress); failing that, the one whose
 *     request (head or body) has been arriving longest; failing that (every
 *     connection has a complete request), the newcomer is answered 503.  All
 *     clients may share one address (a reverse proxy), so nothing here is
 *     per address.
 *   - bodies are buffered only within body_budget bytes across all
 *     connections: a request whose Content-Length (or chunked growth) does
 *     not fit what is left is answered 503 with "Connection: close" before
 *     its body is read (providers deliver again); one over body_max gets
 *     413, also unread.  Heads over head_max bytes or HTTPD_HEADERS_MAX
 *     fields get 431, malformed requests 400.
 *   - EMFILE/ENFILE at accept hands the listener to daemon_emfile and stops
 *     accepting for DAEMON_EMFILE_PAUSE_MS; it never spins.
 *
 * Events a client causes (408, 413, 431, 503, evictions) are logged at most
 * once a minute per kind, with a count, so an attack cannot flood the log.
 *
 * A complete request (head and body) is handed to the request callback,
 * which answers it now or later, exactly once: httpd_reply, or a stream
 * (httpd_stream_begin, httpd_stream_write..., httpd_stream_end).  Until then
 * the request stays valid even if its client goes away (the answer is then
 * dropped), so a handler may wait on another daemon.  Requests on one
 * connection are answered in order: the next one is not read before the
 * current one is answered.
 */
#ifndef PARLEY_HTTPD_H
#define PARLEY_HTTPD_H

#include <stddef.h>
#include <sys/types.h>
#include <event2/event.h>

struct conf;
struct httpd;
struct httpd_req;

#define HTTPD_HEADERS_MAX	100	/* header fields per request: 431 */
#define HTTPD_LINGER_MS		2000	/* reading (and dropping) after a close */
#define HTTPD_STREAM_OUT_MAX	(256 * 1024)	/* a stream's unsent bytes */

/* The budgets parley.conf(5) sets (the http_* keys), shared by every
 * listener; httpd_limits_load reads them. */
struct httpd_limits {
	long		 head_ms;	/* http_header_timeout_ms */
	long		 body_ms;	/* http_body_timeout_ms */
	long		 idle_ms;	/* http_idle_timeout_ms */
	size_t		 max_conns;	/* http_max_connections */
	size_t		 body_budget;	/* http_body_budget_mb, in bytes */
};

struct httpd_conf {
	const char	*name;		/* for logs: "whatsappd" */
	const char	*host;
	int		 port;
	size_t		 body_max;	/* larger bodies: 413, unread */
	size_t		 head_max;	/* larger heads: 431 */
	struct httpd_limits lim;
	/* A complete request; answer it now or later (exactly once). */
	void		(*request)(struct httpd_req *, void *arg);
	void		*arg;
};

/* Read the http_* keys of parley.conf into lim; -1 with err naming the key. */
int	httpd_limits_load(struct httpd_limits *, const struct conf *,
	    char *err, size_t errsz);
/* Bind host:port and serve; NULL with err ("cannot listen on h:p: ..."). */
struct httpd *httpd_new(struct event_base *, const struct httpd_conf *,
	    char *err, size_t errsz);
/* New budgets (SIGHUP): deadlines apply from the next state a connection
 * enters, the cap and the budget at once (nothing open is closed for it). */
void	httpd_set_limits(struct httpd *, const struct httpd_limits *);
/* Stop accepting and close idle connections; every answer from now on
 * carries "Connection: close" and ends its connection. */
void	httpd_drain(struct httpd *);
/* Close every connection and the listener.  Requests not yet answered are
 * freed too: the handler must not touch them afterwards. */
void	httpd_free(struct httpd *);
/* Open connections, and body bytes reserved now (for tests and logs). */
size_t	httpd_conns(const struct httpd *);
size_t	httpd_body_reserved(const struct httpd *);
/* The port bound (the one the kernel chose when port 0 was asked); -1 after
 * httpd_drain. */
int	httpd_port(const struct httpd *);

/* --- a request, valid from the request callback until it is answered --- */

/* The method as sent ("GET", "POST", ...). */
const char *httpd_req_method(const struct httpd_req *);
/* The path of the request target, raw (not %-decoded), never NULL. */
const char *httpd_req_path(const struct httpd_req *);
/* The query after '?', raw; NULL when the target has no '?'. */
const char *httpd_req_query(const struct httpd_req *);
/* The first header named name (case ignored), trimmed; NULL if absent. */
const char *httpd_req_header(const struct httpd_req *, const char *name);
/* The body: len bytes (NUL-terminated for convenience), "" when none. */
const char *httpd_req_body(const struct httpd_req *, size_t *len);
/* The body is no longer needed: free it and give its bytes back to the
 * budget (a handler that waits on another daemon calls this first). */
void	httpd_req_body_release(struct httpd_req *);
/* The client's address, for logs. */
const char *httpd_req_peer(const struct httpd_req *);
/* The Unix user of the client, when it is on this host (a loopback
 * address): 0 and *uid, read once per connection from /proc/net/tcp(6);
 * -1 for a remote client, or one gone. */
int	httpd_req_peer_uid(const struct httpd_req *, uid_t *uid);
/* 1 when the client has gone: an answer would be dropped. */
int	httpd_req_gone(const struct httpd_req *);
/* Call gone(req, arg) once if the client goes away before the answer is
 * complete (a stream's writer stops then).  The request is still answered
 * (httpd_stream_end or httpd_reply) to free it. */
void	httpd_req_on_gone(struct httpd_req *,
	    void (*gone)(struct httpd_req *, void *), void *arg);

/* --- the answer: exactly once per request --- */

/* Add a header to the answer (before httpd_reply or httpd_stream_begin);
 * -1 if name or value holds CR or LF or memory is short. */
int	httpd_add_header(struct httpd_req *, const char *name,
	    const char *value);
/* Answer code with the standard reason, body of ctype (NULL: none).  The
 * request is freed. */
void	httpd_reply(struct httpd_req *, int code, const char *ctype,
	    const void *body, size_t len);
/* Start a streamed answer (chunked for HTTP/1.1, else ended by closing);
 * -1 if the client has gone. */
int	httpd_stream_begin(struct httpd_req *, int code, const char *ctype);
/* Send len bytes of the stream; -1 if the client has gone or is more than
 * HTTPD_STREAM_OUT_MAX behind (the writer should then end the stream). */
int	httpd_stream_write(struct httpd_req *, const void *, size_t len);
/* End the stream; the request is freed. */
void	httpd_stream_end(struct httpd_req *);

#endif
