/*
 * hook — webhooks in, answered only once routerd has committed them.
 *
 * A channel daemon's HTTP listener (libevent evhttp): bodies and headers are
 * bounded, every method reaches the daemon's request callback, which checks
 * the path, method and signature and then either answers at once
 * (hook_reply) or turns the request into one or more frames for routerd
 * (hook_wait_new, hook_wait_frame per frame, hook_wait_arm).  A waiting
 * webhook is answered 200 (with the daemon's ok body) when routerd has
 * answered ok to every frame, and 503 when routerd refuses one, is not
 * connected, goes away or takes longer than answer_ms; the provider then
 * delivers again and routerd's dedupe makes that safe.  A webhook answered
 * 503 on time-out keeps its small record until routerd's late answers (or
 * the lost connection) arrive, so they never touch freed memory.
 *
 * On drain the listener closes, waiting webhooks get at most drain_answer_ms
 * more, and answers carry "Connection: close".
 */
#ifndef PARLEY_HOOK_H
#define PARLEY_HOOK_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <event2/http.h>

struct bus_conn;
struct fbuf;
struct hook;
struct hook_wait;

struct hook_conf {
	const char	*name;		/* for logs: "smsd" */
	const char	*host;
	int		 port;
	size_t		 body_max;	/* larger bodies: 413 */
	size_t		 headers_max;
	long		 answer_ms;	/* routerd's answer, else 503 */
	long		 drain_answer_ms;
	const char	*ok_type;	/* Content-Type of the 200 */
	const char	*ok_body;	/* the 200's body ("" for none) */
	/* every request (any method, any path) */
	void		(*request)(struct evhttp_request *, void *arg);
	/* a waiting webhook was answered: for drain checks; may be NULL */
	void		(*answered)(void *arg);
	void		*arg;
	const char	*allow;		/* the 405's Allow (NULL: "GET, POST") */
};

/* Bind and serve; NULL with err (e.g. "cannot listen on h:p: ..."). */
struct hook *hook_new(struct event_base *, const struct hook_conf *,
	    char *err, size_t errsz);
/* Answer req now: code and a one-line text body (text/plain), or for 200
 * the ok body.  405 adds "Allow: GET, POST" (or hook_conf's allow).  */
void	hook_reply(struct hook *, struct evhttp_request *, int code,
	    const char *reason, const char *text);
/* Answer req now with a body of ctype (e.g. the hub.challenge). */
void	hook_reply_body(struct hook *, struct evhttp_request *, int code,
	    const char *ctype, const char *body, size_t len);
/* The peer's address for logs. */
const char *hook_peer(struct evhttp_request *);
/* The request body (NUL-terminated copy is not made: len bytes, may be
 * ""), pulled up contiguous; NULL when over body_max (then answered 413)
 * or out of memory (then answered 503). */
const char *hook_body(struct hook *, struct evhttp_request *, size_t *len);

/* Start waiting on routerd for req; label names it in logs (a message id). */
struct hook_wait *hook_wait_new(struct hook *, struct evhttp_request *,
	    const char *label);
/* Send one request frame (id = bus_next_id(router)) and wait for its answer;
 * -1 when it could not be sent (then hook_wait_arm answers 503). */
int	hook_wait_frame(struct hook_wait *, struct bus_conn *router,
	    struct fbuf *, int64_t id);
/* Every frame is sent: start the clock.  With no frame sent at all the
 * webhook is answered 200 at once (nothing to store). */
void	hook_wait_arm(struct hook_wait *);

size_t	hook_open(const struct hook *);		/* webhooks not yet answered */
void	hook_drain(struct hook *);
/* Answer whatever still waits with 503 and free everything (at exit, after
 * the routerd client is freed). */
void	hook_free(struct hook *);

#endif
