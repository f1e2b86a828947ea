/*
 * httpd — the HTTP/1.1 server (see httpd.h for the contract and why it
 * replaced evhttp).
 *
 * One struct hconn per TCP connection, a bufferevent under it and one timer
 * that always holds the deadline of the state the connection is in:
 *
 *   IDLE     no byte of a request yet (new, or kept alive)   idle_ms
 *   HEAD     request line and headers arriving              head_ms from the first byte
 *   BODY     the body arriving                              body_ms from the end of the head
 *   HANDLER  complete; the handler has it                   none (the handler's own)
 *   STREAM   a streamed answer is going out                 none (bounded output instead)
 *   FLUSH    the answer is written, not yet sent            idle_ms
 *   LINGER   closing: our side shut, the client's bytes dropped   HTTPD_LINGER_MS
 *
 * Connections with no request in progress (IDLE, and LINGER: closing
 * anyway) sit on h->idle, those with a request partly received (HEAD, BODY)
 * on h->partial, each oldest first: the order they are closed in when the
 * cap is hit.
 * Bodies are read straight into one buffer per request whose size was
 * reserved against the budget before the first body byte was read.
 *
 * Freeing: a connection may be closed from inside its own callbacks (the
 * handler answering synchronously, a failed write), so closing while busy
 * only marks it and the outermost callback frees it.  A request handed to
 * the handler outlives its connection (r->c becomes NULL) until answered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <http_parser.h>

#include "conf.h"
#include "daemon.h"
#include "httpd.h"
#include "log.h"

#define READ_HIGHWATER	(64 * 1024)	/* unread input per connection */
#define BODY_FIRST	(16 * 1024)	/* first buffer of a chunked body */
#define BACKLOG		1024
#define RATELOG_MS	60000

enum cstate { C_IDLE, C_HEAD, C_BODY, C_HANDLER, C_STREAM, C_FLUSH,
	C_LINGER };
enum clist { L_NONE, L_IDLE, L_PARTIAL };

struct hdr {
	char		*name, *value;
	size_t		 nlen, vlen;
};

struct httpd_req {
	struct httpd	*h;
	struct hconn	*c;		/* NULL once the client has gone */
	unsigned	 method;
	unsigned short	 major, minor;
	int		 keepalive;
	int		 dispatched;	/* the handler has it */
	int		 chunked_out;	/* a chunked stream */
	char		*target;
	size_t		 tlen;
	char		*path, *query;
	struct hdr	*hdrs;
	size_t		 nhdrs, hdrcap;
	int		 in_value;	/* the last header piece was a value */
	size_t		 head_bytes;
	char		*body;
	size_t		 blen, bcap;
	size_t		 reserved;	/* bytes of the budget held */
	struct evbuffer	*ohdrs;		/* headers added to the answer */
	void		(*gone)(struct httpd_req *, void *);
	void		*gone_arg;
	char		 peer[INET6_ADDRSTRLEN];
};

struct hconn {
	struct httpd		*h;
	struct bufferevent	*bev;
	struct event		*timer;
	struct event		*resume;	/* read what waited (pipelining) */
	http_parser		 p;
	enum cstate		 state;
	enum clist		 list;
	struct httpd_req	*req;		/* being read, or the handler's */
	int			 complete;	/* req's message is complete */
	int			 reject;	/* a callback refused: this code */
	int			 close_after;	/* the answer ends the connection */
	int			 eof;		/* the client shut its side */
	int			 busy, doomed;
	TAILQ_ENTRY(hconn)	 all;
	TAILQ_ENTRY(hconn)	 lru;		/* on h->idle or h->partial */
	char			 peer[INET6_ADDRSTRLEN];
	int			 uid_state;	/* 0 unasked, 1 known, -1 no */
	uid_t			 uid;		/* the peer's, when known */
};
TAILQ_HEAD(hconnq, hconn);

struct ratelog {
	int		 logged;
	long long	 last;
	unsigned long	 n;
};

struct httpd {
	struct event_base	*base;
	struct httpd_conf	 cf;
	struct evconnlistener	*lev;
	struct event		*ev_accept;	/* accept again after a pause */
	struct hconnq		 conns, idle, partial;
	size_t			 nconns;
	size_t			 fdcap;		/* the cap the descriptors allow */
	size_t			 reserved;	/* body bytes held */
	int			 draining;
	struct ratelog		 rl_evict, rl_full, rl_408, rl_413, rl_431,
				 rl_400, rl_503, rl_accept;
};

static int	p_url(http_parser *, const char *, size_t);
static int	p_field(http_parser *, const char *, size_t);
static int	p_value(http_parser *, const char *, size_t);
static int	p_headers_done(http_parser *);
static int	p_body(http_parser *, const char *, size_t);
static int	p_done(http_parser *);

static const http_parser_settings psettings = {
	.on_url = p_url,
	.on_header_field = p_field,
	.on_header_value = p_value,
	.on_headers_complete = p_headers_done,
	.on_body = p_body,
	.on_message_complete = p_done,
};

static void	conn_close(struct hconn *);
static void	conn_free(struct hconn *);
static void	conn_input(struct hconn *);

/* Around anything that may close c: closing then only marks it, and the
 * outermost conn_leave frees it. */
static void
conn_enter(struct hconn *c)
{
	c->busy++;
}

static void
conn_leave(struct hconn *c)
{
	if (--c->busy == 0 && c->doomed)
		conn_free(c);
}

/* Log a client-caused event at most once a minute per kind, with a count
 * of the ones left out, so that an attack cannot flood the log. */
static void __attribute__((format(printf, 2, 3)))
ratelog(struct ratelog *rl, const char *fmt, ...)
{
	long long now = daemon_mono_ms();
	char line[512];
	va_list ap;

	if (rl->logged && now - rl->last < RATELOG_MS) {
		rl->n++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (rl->n > 0)
		log_warnx("http: %s (and %lu more like it since the last "
		    "such line)", line, rl->n);
	else
		log_warnx("http: %s", line);
	rl->logged = 1;
	rl->last = now;
	rl->n = 0;
}

static const char *
reason(int code)
{
	const char *s = http_status_str((enum http_status)code);

	return s == NULL || *s == '<' ? "Unknown" : s;
}

static const char *
http_date(void)
{
	static char buf[64];
	static time_t last = -1;
	time_t now = time(NULL);
	struct tm tm;

	if (now != last && gmtime_r(&now, &tm) != NULL) {
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return buf;
}

/* --- lists and timers --- */

static void
list_leave(struct hconn *c)
{
	if (c->list == L_IDLE)
		TAILQ_REMOVE(&c->h->idle, c, lru);
	else if (c->list == L_PARTIAL)
		TAILQ_REMOVE(&c->h->partial, c, lru);
	c->list = L_NONE;
}

static void
list_join(struct hconn *c, enum clist l)
{
	list_leave(c);
	if (l == L_IDLE)
		TAILQ_INSERT_TAIL(&c->h->idle, c, lru);
	else if (l == L_PARTIAL)
		TAILQ_INSERT_TAIL(&c->h->partial, c, lru);
	c->list = l;
}

/* Arm the connection's one timer (ms <= 0: none); -1 if it cannot be. */
static int
timer_set(struct hconn *c, long ms)
{
	struct timeval tv;

	if (ms <= 0)
		return evtimer_del(c->timer);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return evtimer_add(c->timer, &tv);
}

/* Enter state s with its deadline; a connection whose deadline cannot be
 * armed is closed (an unbounded connection is what this module prevents). */
static int
conn_state(struct hconn *c, enum cstate s, long ms)
{
	c->state = s;
	if (timer_set(c, ms) == -1) {
		log_warnx("http: cannot arm a connection timer; closing it");
		conn_close(c);
		return -1;
	}
	return 0;
}

/* --- requests --- */

static void
budget_release(struct httpd_req *r)
{
	if (r->reserved > 0) {
		if (r->h->reserved < r->reserved)
			fatalx("httpd: body budget underflow");
		r->h->reserved -= r->reserved;
		r->reserved = 0;
	}
}

static void
req_free(struct httpd_req *r)
{
	size_t i;

	if (r == NULL)
		return;
	budget_release(r);
	for (i = 0; i < r->nhdrs; i++) {
		free(r->hdrs[i].name);
		free(r->hdrs[i].value);
	}
	free(r->hdrs);
	free(r->target);
	free(r->path);
	free(r->query);
	free(r->body);
	if (r->ohdrs)
		evbuffer_free(r->ohdrs);
	free(r);
}

/* Append n bytes to the NUL-terminated *s of *len bytes; -1 on ENOMEM. */
static int
append(char **s, size_t *len, const char *at, size_t n)
{
	char *p;

	if ((p = realloc(*s, *len + n + 1)) == NULL)
		return -1;
	memcpy(p + *len, at, n);
	*len += n;
	p[*len] = '\0';
	*s = p;
	return 0;
}

static int
head_grow(struct hconn *c, size_t n)
{
	struct httpd_req *r = c->req;

	r->head_bytes += n;
	if (r->head_bytes > c->h->cf.head_max) {
		c->reject = 431;
		return -1;
	}
	return 0;
}

static int
p_url(http_parser *p, const char *at, size_t n)
{
	struct hconn *c = p->data;

	if (head_grow(c, n) == -1)
		return -1;
	if (append(&c->req->target, &c->req->tlen, at, n) == -1) {
		c->reject = 503;
		return -1;
	}
	return 0;
}

static int
p_field(http_parser *p, const char *at, size_t n)
{
	struct hconn *c = p->data;
	struct httpd_req *r = c->req;
	struct hdr *h;

	if (r->nhdrs == 0 || r->in_value) {
		if (r->nhdrs >= HTTPD_HEADERS_MAX) {
			c->reject = 431;
			return -1;
		}
		if (r->nhdrs == r->hdrcap) {
			size_t ncap = r->hdrcap ? r->hdrcap * 2 : 16;

			if ((h = reallocarray(r->hdrs, ncap, sizeof(*h))) ==
			    NULL) {
				c->reject = 503;
				return -1;
			}
			r->hdrs = h;
			r->hdrcap = ncap;
		}
		memset(&r->hdrs[r->nhdrs++], 0, sizeof(*h));
		r->in_value = 0;
		if (head_grow(c, 4) == -1)	/* ": " and CRLF */
			return -1;
	}
	h = &r->hdrs[r->nhdrs - 1];
	if (head_grow(c, n) == -1)
		return -1;
	if (append(&h->name, &h->nlen, at, n) == -1) {
		c->reject = 503;
		return -1;
	}
	return 0;
}

static int
p_value(http_parser *p, const char *at, size_t n)
{
	struct hconn *c = p->data;
	struct httpd_req *r = c->req;
	struct hdr *h;

	if (r->nhdrs == 0)
		return -1;
	h = &r->hdrs[r->nhdrs - 1];
	r->in_value = 1;
	if (head_grow(c, n) == -1)
		return -1;
	if (append(&h->value, &h->vlen, at, n) == -1) {
		c->reject = 503;
		return -1;
	}
	return 0;
}

/* Split the request target into path and query; -1 if it is not one. */
static int
target_split(struct httpd_req *r)
{
	struct http_parser_url u;
	const char *t = r->target, *q, *end;
	size_t off = 0;

	if (t == NULL || r->tlen == 0 || strlen(t) != r->tlen)
		return -1;
	if (t[0] != '/' && strcmp(t, "*") != 0) {
		/* absolute form: http://host/path?query */
		http_parser_url_init(&u);
		if (http_parser_parse_url(t, r->tlen, 0, &u) != 0)
			return -1;
		if (!(u.field_set & (1 << UF_PATH))) {
			r->path = strdup("/");
			return r->path ? 0 : -1;
		}
		off = u.field_data[UF_PATH].off;
	}
	end = t + r->tlen;
	if ((q = memchr(t + off, '#', (size_t)(end - (t + off)))) != NULL)
		end = q;
	q = memchr(t + off, '?', (size_t)(end - (t + off)));
	if ((r->path = strndup(t + off, (size_t)((q ? q : end) - (t +
	    off)))) == NULL)
		return -1;
	if (q != NULL && (r->query = strndup(q + 1, (size_t)(end - q - 1))) ==
	    NULL)
		return -1;
	return 0;
}

static int
p_headers_done(http_parser *p)
{
	struct hconn *c = p->data;
	struct httpd_req *r = c->req;
	struct httpd *h = c->h;
	const char *expect;
	size_t i, cl;

	for (i = 0; i < r->nhdrs; i++) {
		struct hdr *hd = &r->hdrs[i];

		if (hd->name == NULL || hd->value == NULL) {
			if (hd->name == NULL || append(&hd->value, &hd->vlen,
			    "", 0) == -1) {
				c->reject = hd->name ? 503 : 400;
				return -1;
			}
		}
		while (hd->vlen > 0 && (hd->value[hd->vlen - 1] == ' ' ||
		    hd->value[hd->vlen - 1] == '\t'))
			hd->value[--hd->vlen] = '\0';
	}
	r->method = p->method;
	r->major = p->http_major;
	r->minor = p->http_minor;
	r->keepalive = http_should_keep_alive(p);
	if (p->upgrade || !r->keepalive)
		c->close_after = 1;
	if (target_split(r) == -1) {
		c->reject = 400;
		return -1;
	}
	if (p->flags & F_CHUNKED) {
		/* reserved as it grows (p_body) */
	} else if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0) {
		if (p->content_length > h->cf.body_max) {
			c->reject = 413;
			return -1;
		}
		cl = (size_t)p->content_length;
		if (cl > h->cf.lim.body_budget - h->reserved ||
		    h->reserved > h->cf.lim.body_budget) {
			c->reject = 503;
			return -1;
		}
		if ((r->body = malloc(cl + 1)) == NULL) {
			c->reject = 503;
			return -1;
		}
		r->bcap = cl;
		r->reserved = cl;
		h->reserved += cl;
	}
	if ((expect = httpd_req_header(r, "Expect")) != NULL) {
		if (strcasecmp(expect, "100-continue") != 0) {
			c->reject = 417;
			return -1;
		}
		if (r->major == 1 && r->minor >= 1 &&
		    ((p->flags & F_CHUNKED) || r->bcap > 0) &&
		    bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n",
		    25) == -1) {
			c->reject = 503;
			return -1;
		}
	}
	/* the head is done: now the body's deadline */
	c->state = C_BODY;
	if (timer_set(c, h->cf.lim.body_ms) == -1) {
		c->reject = 503;
		return -1;
	}
	return 0;
}

static int
p_body(http_parser *p, const char *at, size_t n)
{
	struct hconn *c = p->data;
	struct httpd_req *r = c->req;
	struct httpd *h = c->h;
	size_t need = r->blen + n, ncap, extra;
	char *nb;

	if (need > r->bcap) {
		/* chunked (a Content-Length body never outgrows its size) */
		if (need > h->cf.body_max) {
			c->reject = 413;
			return -1;
		}
		ncap = r->bcap ? r->bcap * 2 : BODY_FIRST;
		if (ncap < need)
			ncap = need;
		if (ncap > h->cf.body_max)
			ncap = h->cf.body_max;
		extra = ncap - r->bcap;
		if (extra > h->cf.lim.body_budget - h->reserved ||
		    h->reserved > h->cf.lim.body_budget) {
			c->reject = 503;
			return -1;
		}
		if ((nb = realloc(r->body, ncap + 1)) == NULL) {
			c->reject = 503;
			return -1;
		}
		r->body = nb;
		r->bcap = ncap;
		r->reserved += extra;
		h->reserved += extra;
	}
	memcpy(r->body + r->blen, at, n);
	r->blen += n;
	return 0;
}

static int
p_done(http_parser *p)
{
	struct hconn *c = p->data;

	if (c->req->body != NULL)
		c->req->body[c->req->blen] = '\0';
	c->complete = 1;
	http_parser_pause(p, 1);
	return 0;
}

/* --- answers --- */

/* Write the status line and headers; clen < 0: no Content-Length. */
static int
write_head(struct hconn *c, struct httpd_req *r, int code, const char *ctype,
    long long clen, int chunked)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int http10 = r != NULL && r->major == 1 && r->minor == 0;

	if (c->h->draining || c->eof || (r != NULL && !r->keepalive))
		c->close_after = 1;
	if (evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", code,
	    reason(code), http_date()) < 0)
		return -1;
	if (ctype != NULL && *ctype != '\0' &&
	    evbuffer_add_printf(out, "Content-Type: %s\r\n", ctype) < 0)
		return -1;
	if (clen >= 0 && code != 204 && code != 304 &&
	    evbuffer_add_printf(out, "Content-Length: %lld\r\n", clen) < 0)
		return -1;
	if (chunked && evbuffer_add_printf(out,
	    "Transfer-Encoding: chunked\r\n") < 0)
		return -1;
	if (r != NULL && r->ohdrs != NULL &&
	    evbuffer_add_buffer(out, r->ohdrs) == -1)
		return -1;
	if (c->close_after) {
		if (evbuffer_add_printf(out, "Connection: close\r\n") < 0)
			return -1;
	} else if (http10 && evbuffer_add_printf(out,
	    "Connection: keep-alive\r\n") < 0)
		return -1;
	return evbuffer_add(out, "\r\n", 2);
}

/* The answer is written: wait until it has left. */
static void
conn_flush(struct hconn *c)
{
	list_leave(c);
	conn_state(c, C_FLUSH, c->h->cf.lim.idle_ms);
}

/* Answer a request the handler never saw (or the client never finished)
 * with code and close the connection after it. */
static void
conn_refuse(struct hconn *c, int code)
{
	struct httpd *h = c->h;
	struct httpd_req *r = c->req;
	char body[128];
	int n;

	switch (code) {
	case 408:
		ratelog(&h->rl_408, "408 to %s: request %s not complete "
		    "within %ld ms", c->peer, c->state == C_BODY ? "body" :
		    "head", c->state == C_BODY ? h->cf.lim.body_ms :
		    h->cf.lim.head_ms);
		break;
	case 413:
		ratelog(&h->rl_413, "413 to %s: body over %zu bytes",
		    c->peer, h->cf.body_max);
		break;
	case 431:
		ratelog(&h->rl_431, "431 to %s: request head over %zu bytes "
		    "or %d fields", c->peer, h->cf.head_max,
		    HTTPD_HEADERS_MAX);
		break;
	case 503:
		ratelog(&h->rl_503, "503 to %s: the body does not fit the "
		    "body budget (%zu of %zu bytes held)", c->peer,
		    h->reserved, h->cf.lim.body_budget);
		break;
	default:
		ratelog(&h->rl_400, "%d to %s: %s", code, c->peer,
		    code == 417 ? "unsupported Expect" :
		    http_errno_description(HTTP_PARSER_ERRNO(&c->p)));
		break;
	}
	c->close_after = 1;
	n = snprintf(body, sizeof(body), "%s\n", reason(code));
	c->req = NULL;
	if (write_head(c, r, code, "text/plain; charset=utf-8", n, 0) == -1 ||
	    (!(r && r->method == HTTP_HEAD) && bufferevent_write(c->bev, body,
	    (size_t)n) == -1)) {
		req_free(r);
		conn_close(c);
		return;
	}
	req_free(r);
	conn_flush(c);
}

/* --- connections --- */

static void
conn_free(struct hconn *c)
{
	struct httpd *h = c->h;
	struct httpd_req *r = c->req;

	list_leave(c);
	TAILQ_REMOVE(&h->conns, c, all);
	h->nconns--;
	c->req = NULL;
	if (r != NULL) {
		if (r->dispatched) {
			r->c = NULL;	/* the handler still answers it */
			if (r->gone != NULL)
				r->gone(r, r->gone_arg);
		} else
			req_free(r);
	}
	event_free(c->timer);
	event_free(c->resume);
	bufferevent_free(c->bev);
	free(c);
}

static void
conn_close(struct hconn *c)
{
	if (c->busy > 0) {
		c->doomed = 1;
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		evtimer_del(c->timer);
		return;
	}
	conn_free(c);
}

/* Back to idle after an answer: a fresh parser, the idle deadline, and
 * whatever the client already sent next is read at once. */
static void
conn_idle(struct hconn *c)
{
	http_parser_init(&c->p, HTTP_REQUEST);
	c->p.data = c;
	c->complete = 0;
	c->reject = 0;
	if (conn_state(c, C_IDLE, c->h->cf.lim.idle_ms) == -1)
		return;
	list_join(c, L_IDLE);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		event_active(c->resume, EV_TIMEOUT, 0);
}

/* The first byte of a request: the head's deadline starts. */
static int
conn_head(struct hconn *c)
{
	struct httpd_req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warnx("http: out of memory; closing a connection");
		conn_close(c);
		return -1;
	}
	r->h = c->h;
	r->c = c;
	memcpy(r->peer, c->peer, sizeof(r->peer));
	c->req = r;
	if (conn_state(c, C_HEAD, c->h->cf.lim.head_ms) == -1)
		return -1;
	list_join(c, L_PARTIAL);
	return 0;
}

/* The request is complete: hand it to the handler. */
static void
conn_dispatch(struct hconn *c)
{
	struct httpd_req *r = c->req;

	list_leave(c);
	if (conn_state(c, C_HANDLER, 0) == -1)
		return;
	r->dispatched = 1;
	c->h->cf.request(r, c->h->cf.arg);
}

/* Parse what the client sent, while a request is being read. */
static void
conn_input(struct hconn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec v;
	enum http_errno e;
	size_t n;

	while (!c->doomed && (c->state == C_IDLE || c->state == C_HEAD ||
	    c->state == C_BODY) && evbuffer_get_length(in) > 0) {
		if (c->state == C_IDLE && conn_head(c) == -1)
			return;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		n = http_parser_execute(&c->p, &psettings, v.iov_base,
		    v.iov_len);
		if (n > v.iov_len)
			n = v.iov_len;
		e = HTTP_PARSER_ERRNO(&c->p);
		if (c->reject != 0) {
			conn_refuse(c, c->reject);
			return;
		}
		if (evbuffer_drain(in, n) == -1) {
			conn_close(c);
			return;
		}
		if (e == HPE_PAUSED && c->complete) {
			conn_dispatch(c);
			continue;
		}
		if (e != HPE_OK) {
			conn_refuse(c, e == HPE_HEADER_OVERFLOW ? 431 : 400);
			return;
		}
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct hconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	conn_enter(c);
	switch (c->state) {
	case C_IDLE:
	case C_HEAD:
	case C_BODY:
		conn_input(c);
		break;
	case C_LINGER:
		(void)evbuffer_drain(in, evbuffer_get_length(in));
		break;
	default:
		break;		/* one request at a time: read it later */
	}
	conn_leave(c);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	on_read(((struct hconn *)arg)->bev, arg);
}

/* The answer has left: close (after a linger) or wait for the next. */
static void
conn_flushed(struct hconn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (c->eof) {
		conn_close(c);
	} else if (c->close_after || c->h->draining) {
		/* let the client read the answer before the close: shut our
		 * side and drop what it still sends, for a while */
		if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) == -1)
			conn_close(c);
		else if (conn_state(c, C_LINGER, HTTPD_LINGER_MS) == 0) {
			(void)evbuffer_drain(in, evbuffer_get_length(in));
			list_join(c, L_IDLE);	/* first to go at the cap */
		}
	} else
		conn_idle(c);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct hconn *c = arg;

	if (c->state != C_FLUSH ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	conn_enter(c);
	conn_flushed(c);
	conn_leave(c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct hconn *c = arg;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		c->eof = 1;
		/* half closed: the answer still goes out, then the close */
		if (c->state == C_HANDLER || c->state == C_FLUSH)
			return;
	}
	conn_close(c);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *c = arg;

	conn_enter(c);
	if (c->state == C_HEAD || c->state == C_BODY)
		conn_refuse(c, 408);
	else
		conn_close(c);
	conn_leave(c);
}

static size_t
conn_cap(const struct httpd *h)
{
	return h->cf.lim.max_conns < h->fdcap ? h->cf.lim.max_conns :
	    h->fdcap;
}

/* At the cap: close the oldest connection with no request in progress,
 * else the one whose request has been arriving longest (a slow client, or
 * one holding a connection with a request it never finishes); -1 when every
 * connection has a complete request. */
static int
make_room(struct httpd *h)
{
	struct hconn *v;
	const char *what = "idle";

	if ((v = TAILQ_FIRST(&h->idle)) == NULL) {
		v = TAILQ_FIRST(&h->partial);
		what = "still sending its request";
	}
	if (v == NULL)
		return -1;
	ratelog(&h->rl_evict, "%zu connections open (the cap): closed the "
	    "oldest %s (%s) to admit a new one", h->nconns, what, v->peer);
	conn_close(v);
	return 0;
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n";
	struct httpd *h = arg;
	struct hconn *c = NULL;

	if (h->nconns >= conn_cap(h)) {
		if (make_room(h) == -1) {
			ratelog(&h->rl_full, "%zu connections open (the cap), "
			    "all with a request in progress: a new one "
			    "answered 503", h->nconns);
			(void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL |
			    MSG_DONTWAIT);
			close(fd);
			return;
		}
		/* libevent closes the evicted descriptor on its next pass:
		 * accept no more until then, or a burst of connections at the
		 * cap would run out of descriptors all the same */
		if (evconnlistener_disable(l) == 0)
			event_active(h->ev_accept, EV_TIMEOUT, 0);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto fail;
	c->h = h;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr,
		    c->peer, sizeof(c->peer));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
		    c->peer, sizeof(c->peer));
	else
		snprintf(c->peer, sizeof(c->peer), "?");
	if ((c->bev = bufferevent_socket_new(h->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		goto fail;
	fd = -1;			/* the bufferevent's now */
	if ((c->timer = evtimer_new(h->base, on_timer, c)) == NULL ||
	    (c->resume = event_new(h->base, -1, 0, on_resume, c)) == NULL)
		goto fail;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGHWATER);
	if (bufferevent_priority_set(c->bev, DAEMON_PRI_IO) == -1 ||
	    bufferevent_enable(c->bev, EV_READ | EV_WRITE) == -1)
		goto fail;
	TAILQ_INSERT_TAIL(&h->conns, c, all);
	h->nconns++;
	conn_idle(c);
	return;
fail:
	log_warnx("http: cannot set up a connection from %s: out of memory",
	    c ? c->peer : "?");
	if (c != NULL) {
		if (c->timer)
			event_free(c->timer);
		if (c->resume)
			event_free(c->resume);
		if (c->bev)
			bufferevent_free(c->bev);
		free(c);
	}
	if (fd != -1)
		close(fd);
}

/* After an EMFILE pause, or the pass that closes an evicted connection. */
static void
on_accept_again(evutil_socket_t fd, short what, void *arg)
{
	struct httpd *h = arg;

	if (h->lev != NULL && !h->draining &&
	    evconnlistener_enable(h->lev) == -1)
		log_warnx("http: cannot accept connections again");
}

/* accept(2) failed for another reason than a retriable one: never spin. */
static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	struct httpd *h = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, DAEMON_EMFILE_PAUSE_MS * 1000 };

	if (err == EMFILE || err == ENFILE)
		daemon_emfile(evconnlistener_get_fd(l), "http");
	else
		ratelog(&h->rl_accept, "accept: %s; pausing %d ms",
		    strerror(err), DAEMON_EMFILE_PAUSE_MS);
	if (evconnlistener_disable(l) == -1)
		log_warnx("http: cannot pause accepting");
	else if (evtimer_add(h->ev_accept, &tv) == -1) {
		log_warnx("http: cannot arm the accept timer");
		evconnlistener_enable(l);
	}
}

/* Connections the descriptor limit allows, keeping an eighth (at least
 * 64) for everything else the daemon opens. */
static size_t
fd_cap(void)
{
	long n = daemon_nofile(), keep;

	if (n <= 0)
		return (size_t)-1;
	keep = n / 8 > 64 ? n / 8 : 64;
	return n - keep >= 16 ? (size_t)(n - keep) : 16;
}

/* --- the API --- */

int
httpd_limits_load(struct httpd_limits *lim, const struct conf *c, char *err,
    size_t errsz)
{
	long long head, body, idle, conns, mb;

	if (conf_int(c, "http_header_timeout_ms", 100, 3600000, &head, err,
	    errsz) == -1 ||
	    conf_int(c, "http_body_timeout_ms", 100, 3600000, &body, err,
	    errsz) == -1 ||
	    conf_int(c, "http_idle_timeout_ms", 100, 3600000, &idle, err,
	    errsz) == -1 ||
	    conf_int(c, "http_max_connections", 1, 1000000, &conns, err,
	    errsz) == -1 ||
	    conf_int(c, "http_body_budget_mb", 4, 65536, &mb, err,
	    errsz) == -1)
		return -1;
	lim->head_ms = (long)head;
	lim->body_ms = (long)body;
	lim->idle_ms = (long)idle;
	lim->max_conns = (size_t)conns;
	lim->body_budget = (size_t)mb * 1024 * 1024;
	return 0;
}

struct httpd *
httpd_new(struct event_base *base, const struct httpd_conf *cf, char *err,
    size_t errsz)
{
	struct evutil_addrinfo hints, *ai = NULL;
	struct httpd *h;
	char port[16];
	int rc;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	h->base = base;
	h->cf = *cf;
	TAILQ_INIT(&h->conns);
	TAILQ_INIT(&h->idle);
	TAILQ_INIT(&h->partial);
	h->fdcap = fd_cap();
	if ((h->cf.name = strdup(cf->name ? cf->name : "http")) == NULL ||
	    (h->cf.host = strdup(cf->host)) == NULL ||
	    (h->ev_accept = evtimer_new(base, on_accept_again, h)) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_ADDRCONFIG;
	snprintf(port, sizeof(port), "%d", cf->port);
	if ((rc = evutil_getaddrinfo(cf->host, port, &hints, &ai)) != 0) {
		snprintf(err, errsz, "cannot listen on %s:%d: %s", cf->host,
		    cf->port, evutil_gai_strerror(rc));
		goto fail;
	}
	h->lev = evconnlistener_new_bind(base, on_accept, h,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
	if (h->lev == NULL) {
		snprintf(err, errsz, "cannot listen on %s:%d: %s", cf->host,
		    cf->port, strerror(errno));
		goto fail;
	}
	evconnlistener_set_error_cb(h->lev, on_accept_error);
	evutil_freeaddrinfo(ai);
	return h;
fail:
	if (ai != NULL)
		evutil_freeaddrinfo(ai);
	if (h->ev_accept)
		event_free(h->ev_accept);
	free((char *)h->cf.name);
	free((char *)h->cf.host);
	free(h);
	return NULL;
}

void
httpd_set_limits(struct httpd *h, const struct httpd_limits *lim)
{
	h->cf.lim = *lim;
	h->fdcap = fd_cap();
}

void
httpd_drain(struct httpd *h)
{
	struct hconn *c;

	h->draining = 1;
	evtimer_del(h->ev_accept);
	if (h->lev != NULL) {
		evconnlistener_free(h->lev);
		h->lev = NULL;
	}
	while ((c = TAILQ_FIRST(&h->idle)) != NULL)
		conn_close(c);
}

void
httpd_free(struct httpd *h)
{
	struct hconn *c;
	struct httpd_req *r;

	if (h == NULL)
		return;
	while ((c = TAILQ_FIRST(&h->conns)) != NULL) {
		if ((r = c->req) != NULL && r->dispatched) {
			/* never answered: freed here, as documented */
			c->req = NULL;
			req_free(r);
		}
		conn_free(c);
	}
	if (h->lev != NULL)
		evconnlistener_free(h->lev);
	event_free(h->ev_accept);
	free((char *)h->cf.name);
	free((char *)h->cf.host);
	free(h);
}

size_t
httpd_conns(const struct httpd *h)
{
	return h ? h->nconns : 0;
}

size_t
httpd_body_reserved(const struct httpd *h)
{
	return h ? h->reserved : 0;
}

int
httpd_port(const struct httpd *h)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (h == NULL || h->lev == NULL || getsockname(evconnlistener_get_fd(
	    h->lev), (struct sockaddr *)&ss, &sl) == -1)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

const char *
httpd_req_method(const struct httpd_req *r)
{
	return http_method_str((enum http_method)r->method);
}

const char *
httpd_req_path(const struct httpd_req *r)
{
	return r->path ? r->path : "/";
}

const char *
httpd_req_query(const struct httpd_req *r)
{
	return r->query;
}

const char *
httpd_req_header(const struct httpd_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nhdrs; i++)
		if (r->hdrs[i].name != NULL &&
		    strcasecmp(r->hdrs[i].name, name) == 0)
			return r->hdrs[i].value ? r->hdrs[i].value : "";
	return NULL;
}

const char *
httpd_req_body(const struct httpd_req *r, size_t *len)
{
	*len = r->body ? r->blen : 0;
	return r->body ? r->body : "";
}

void
httpd_req_body_release(struct httpd_req *r)
{
	free(r->body);
	r->body = NULL;
	r->blen = r->bcap = 0;
	budget_release(r);
}

const char *
httpd_req_peer(const struct httpd_req *r)
{
	return r->peer[0] ? r->peer : "?";
}

/*
 * The kernel's table of TCP sockets (/proc/net/tcp or tcp6) has a line for
 * the client's end of a loopback connection, its local address being our
 * peer's and its remote address ours, with the uid that owns it: what an
 * identd answers, read here without one.  Addresses are printed as the raw
 * 32-bit words in host order, ports in hex.
 */
static void
addr_hex(const struct sockaddr_storage *ss, char *out, size_t sz,
    unsigned *port)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	uint32_t w[4];

	if (ss->ss_family == AF_INET) {
		snprintf(out, sz, "%08X", (unsigned)s4->sin_addr.s_addr);
		*port = ntohs(s4->sin_port);
	} else {
		memcpy(w, &s6->sin6_addr, sizeof(w));
		snprintf(out, sz, "%08X%08X%08X%08X", (unsigned)w[0],
		    (unsigned)w[1], (unsigned)w[2], (unsigned)w[3]);
		*port = ntohs(s6->sin6_port);
	}
}

static int
is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr)
		    >> 24) == 127;
	if (ss->ss_family != AF_INET6)
		return 0;
	return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
	    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
	    s6->sin6_addr.s6_addr[12] == 127);
}

/* ::ffff:a.b.c.d as the IPv4 address it is. */
static void
unmap(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	if (ss->ss_family != AF_INET6)
		return;
	memcpy(&s6, ss, sizeof(s6));
	if (!IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr))
		return;
	memset(ss, 0, sizeof(*ss));
	s4->sin_family = AF_INET;
	s4->sin_port = s6.sin6_port;
	memcpy(&s4->sin_addr, &s6.sin6_addr.s6_addr[12], 4);
}

static int
peer_uid(int fd, uid_t *uid)
{
	struct sockaddr_storage us, them;
	socklen_t ul = sizeof(us), tl = sizeof(them);
	char want_l[40], want_r[40], l[40], r[40], line[512];
	unsigned lp, rp, pl, pr, u;
	FILE *fp;
	int found = -1;

	if (getsockname(fd, (struct sockaddr *)&us, &ul) == -1 ||
	    getpeername(fd, (struct sockaddr *)&them, &tl) == -1 ||
	    us.ss_family != them.ss_family || !is_loopback(&them))
		return -1;
	/* an IPv4 client of a dual-stack listener: its socket is IPv4 */
	unmap(&us);
	unmap(&them);
	addr_hex(&them, want_l, sizeof(want_l), &pl);
	addr_hex(&us, want_r, sizeof(want_r), &pr);
	if ((fp = fopen(them.ss_family == AF_INET ? "/proc/net/tcp" :
	    "/proc/net/tcp6", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, " %*u: %39[0-9A-F]:%X %39[0-9A-F]:%X %*X "
		    "%*X:%*X %*X:%*X %*X %u", l, &lp, r, &rp, &u) == 5 &&
		    lp == pl && rp == pr && strcmp(l, want_l) == 0 &&
		    strcmp(r, want_r) == 0) {
			*uid = (uid_t)u;
			found = 0;
			break;
		}
	fclose(fp);
	return found;
}

int
httpd_req_peer_uid(const struct httpd_req *r, uid_t *uid)
{
	struct hconn *c = r->c;

	if (c == NULL)
		return -1;
	if (c->uid_state == 0)
		c->uid_state = peer_uid(bufferevent_getfd(c->bev), &c->uid)
		    == 0 ? 1 : -1;
	*uid = c->uid;
	return c->uid_state == 1 ? 0 : -1;
}

int
httpd_req_gone(const struct httpd_req *r)
{
	return r->c == NULL;
}

void
httpd_req_on_gone(struct httpd_req *r,
    void (*gone)(struct httpd_req *, void *), void *arg)
{
	r->gone = gone;
	r->gone_arg = arg;
}

int
httpd_add_header(struct httpd_req *r, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
		return -1;
	if (r->ohdrs == NULL && (r->ohdrs = evbuffer_new()) == NULL)
		return -1;
	return evbuffer_add_printf(r->ohdrs, "%s: %s\r\n", name, value) < 0 ?
	    -1 : 0;
}

/* The handler is done with r: detach it from its connection. */
static struct hconn *
req_detach(struct httpd_req *r, const char *what)
{
	struct hconn *c = r->c;

	if (!r->dispatched)
		fatalx("httpd: %s on a request the handler does not have",
		    what);
	if (c == NULL)
		return NULL;
	if (c->req != r)
		fatalx("httpd: %s on a request of another connection", what);
	return c;
}

void
httpd_reply(struct httpd_req *r, int code, const char *ctype,
    const void *body, size_t len)
{
	struct hconn *c = req_detach(r, "httpd_reply");

	if (c == NULL) {		/* the client went away */
		req_free(r);
		return;
	}
	if (c->state != C_HANDLER)
		fatalx("httpd: httpd_reply on a request already answering");
	c->req = NULL;
	r->c = NULL;
	conn_enter(c);
	if (write_head(c, r, code, ctype, (long long)len, 0) == -1 ||
	    (r->method != HTTP_HEAD && len > 0 &&
	    bufferevent_write(c->bev, body, len) == -1))
		conn_close(c);
	else
		conn_flush(c);
	req_free(r);
	conn_leave(c);
}

int
httpd_stream_begin(struct httpd_req *r, int code, const char *ctype)
{
	struct hconn *c = req_detach(r, "httpd_stream_begin");

	if (c == NULL)
		return -1;
	if (c->state != C_HANDLER)
		fatalx("httpd: httpd_stream_begin on a request already "
		    "answering");
	r->chunked_out = r->major > 1 || (r->major == 1 && r->minor >= 1);
	if (!r->chunked_out)
		c->close_after = 1;	/* the close ends the body */
	if (write_head(c, r, code, ctype, -1, r->chunked_out) == -1) {
		conn_close(c);
		return -1;
	}
	c->state = C_STREAM;
	return 0;
}

int
httpd_stream_write(struct httpd_req *r, const void *buf, size_t len)
{
	struct hconn *c = r->c;
	struct evbuffer *out;

	if (c == NULL || c->state != C_STREAM || c->doomed)
		return -1;
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) > HTTPD_STREAM_OUT_MAX)
		return -1;
	if (len == 0 || r->method == HTTP_HEAD)
		return 0;
	if (r->chunked_out ? evbuffer_add_printf(out, "%zx\r\n", len) < 0 ||
	    evbuffer_add(out, buf, len) == -1 || evbuffer_add(out, "\r\n",
	    2) == -1 : evbuffer_add(out, buf, len) == -1) {
		conn_close(c);
		return -1;
	}
	return 0;
}

void
httpd_stream_end(struct httpd_req *r)
{
	struct hconn *c = r->c;

	if (c == NULL || c->doomed) {
		if (c != NULL) {
			c->req = NULL;
			r->c = NULL;
		}
		req_free(r);
		return;
	}
	if (c->state != C_STREAM)
		fatalx("httpd: httpd_stream_end without httpd_stream_begin");
	c->req = NULL;
	r->c = NULL;
	conn_enter(c);
	if (r->chunked_out && r->method != HTTP_HEAD &&
	    bufferevent_write(c->bev, "0\r\n\r\n", 5) == -1)
		conn_close(c);
	else
		conn_flush(c);
	req_free(r);
	conn_leave(c);
}
