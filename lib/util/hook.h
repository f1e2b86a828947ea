/*
 * hook — webhooks in, answered only once routerd has committed them.
 *
 * A channel daemon's HTTP listener (lib/httpd, with its budgets: deadlines,
 * the connection cap, the body budget): bodies and headers are bounded,
 * every method reaches the daemon's request callback, which checks the
 * path, method and signature (reading the request with httpd_req_*) and then
 * either answers at once (hook_reply) or turns the request into one or more
 * frames for routerd (hook_wait_new, hook_wait_frame per frame,
 * hook_wait_arm).  A waiting webhook is answered 200 (with the daemon's ok
 * body) when routerd has answered ok to every frame, and 503 when routerd
 * refuses one, is not connected, goes away or takes longer than answer_ms;
 * the provider then delivers again and routerd's dedupe makes that safe.
 * Its body goes back to lib/httpd's body budget while it waits.  A webhook
 * answered 503 on time-out keeps its small record until routerd's late
 * answers (or the lost connection) arrive, so they never touch freed memory.
 *
 * On drain the listener closes, waiting webhooks get at most drain_answer_ms
 * more, and answers carry "Connection: close".
 */
#ifndef PARLEY_HOOK_H
#define PARLEY_HOOK_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

#include "httpd.h"

struct bus_conn;
struct fbuf;
struct hook;
struct hook_wait;

struct hook_conf {
	const char	*name;		/* for logs: "smsd" */
	const char	*host;
	int		 port;
	size_t		 body_max;	/* larger bodies: 413 */
	size_t		 headers_max;	/* larger heads: 431 */
	struct httpd_limits lim;	/* the http_* settings */
	long		 answer_ms;	/* routerd's answer, else 503 */
	long		 drain_answer_ms;
	const char	*ok_type;	/* Content-Type of the 200 */
	const char	*ok_body;	/* the 200's body ("" for none) */
	/* every request (any method, any path) */
	void		(*request)(struct httpd_req *, void *arg);
	/* a waiting webhook was answered: for drain checks; may be NULL */
	void		(*answered)(void *arg);
	void		*arg;
	const char	*allow;		/* the 405's Allow (NULL: "GET, POST") */
};

/* Bind and serve; NULL with err (e.g. "cannot listen on h:p: ..."). */
struct hook *hook_new(struct event_base *, const struct hook_conf *,
	    char *err, size_t errsz);
/* New http_* budgets (SIGHUP). */
void	hook_set_limits(struct hook *, const struct httpd_limits *);
/* Answer req now: code and a one-line text body (text/plain), or for 200
 * the ok body.  405 adds "Allow: GET, POST" (or hook_conf's allow).  */
void	hook_reply(struct hook *, struct httpd_req *, int code,
	    const char *text);
/* Answer req now with a body of ctype (e.g. the hub.challenge). */
void	hook_reply_body(struct hook *, struct httpd_req *, int code,
	    const char *ctype, const char *body, size_t len);

/* Start waiting on routerd for req (its body is released: parse it before);
 * label names it in logs (a message id). */
struct hook_wait *hook_wait_new(struct hook *, struct httpd_req *,
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
