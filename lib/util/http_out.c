/*
 * http_out — parley's HTTP client: libcurl's multi interface driven by the
 * daemon's libevent loop, so a channel daemon keeps hundreds of provider
 * calls in flight on kept-alive connections without threads.
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION): each gets
 * one persistent event, remembered with curl_multi_assign.  It tells us when
 * to call it back (CURLMOPT_TIMERFUNCTION): one evtimer.  Neither callback
 * calls into libcurl; the event callbacks do, and then collect finished
 * transfers (check_done), so completions are only ever delivered from the
 * event loop, never from inside http_out_start.  Easy handles are kept for
 * reuse and connections live in the multi handle's cache (keep-alive).
 * A failing request is reported to its callback; nothing here exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "http_out.h"
#include "log.h"

#define HTTP_OUT_BODYMAX	(1024 * 1024)	/* response bodies */
#define HTTP_OUT_IDLE		64		/* easy handles kept, at least */
#define HTTP_OUT_IDLE_MAX	1024		/* and at most */
#define HTTP_OUT_TIMEOUT	30000L		/* default, ms */

struct http_sock {
	struct http_out		*ho;
	curl_socket_t		 fd;
	struct event		*ev;
	struct http_sock	*prev, *next;
};

struct http_call {
	struct http_out		*ho;
	CURL			*easy;
	struct curl_slist	*hdrs;
	curl_mime		*mime;		/* a multipart body, or NULL */
	char			*buf;
	size_t			 len, cap;
	int			 toobig;
	/* a call queued behind the cap holds no easy handle, but a copy of
	 * its request (rq's strings and body point into saved) until it
	 * becomes active */
	struct http_req		 rq;
	char			*saved;
	http_done_cb		 cb;
	void			*arg;
	char			 errbuf[CURL_ERROR_SIZE];
	struct http_call	*prev, *next;
	struct http_call	*qnext;		/* waiting for a slot */
};

struct http_out {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	size_t			 inflight;	/* queued + active */
	size_t			 active;	/* in the multi handle */
	long			 cap;		/* most active at once, 0: no cap */
	struct http_call	*qhead, *qtail;	/* started, not yet active */
	struct http_call	*calls;		/* in flight */
	struct http_sock	*socks;
	CURL			**idle;		/* easy handles for reuse */
	size_t			 nidle, capidle;
};

static int curl_inited;

static void fail_queued(struct http_out *, struct http_call *);
static int call_bind(struct http_out *, struct http_call *,
    const struct http_req *);

/*
 * libcurl 7.88 walks its lists of waiting handles on every completion and
 * removal, so thousands of easy handles in one multi cost O(n^2).  Handles
 * beyond the connection cap wait here instead and enter one per completion.
 */
static void
activate(struct http_out *ho)
{
	struct http_call *c;
	CURLMcode mc;

	while ((c = ho->qhead) != NULL && (ho->cap == 0 ||
	    ho->active < (size_t)ho->cap)) {
		ho->qhead = c->qnext;
		if (ho->qhead == NULL)
			ho->qtail = NULL;
		if (c->easy == NULL) {
			if (call_bind(ho, c, &c->rq) == -1) {
				c->qnext = NULL;
				fail_queued(ho, c);
				continue;
			}
			free(c->saved);		/* libcurl copied what it keeps */
			c->saved = NULL;
		}
		if ((mc = curl_multi_add_handle(ho->multi, c->easy)) !=
		    CURLM_OK) {
			/* report it through the normal path: a failed call */
			log_warnx("http_out: curl_multi_add_handle: %s",
			    curl_multi_strerror(mc));
			snprintf(c->errbuf, sizeof(c->errbuf), "%s",
			    curl_multi_strerror(mc));
			c->qnext = NULL;
			fail_queued(ho, c);
			continue;
		}
		ho->active++;
	}
}

static void check_done(struct http_out *);

static void
sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct http_sock *s = arg;
	struct http_out *ho = s->ho;
	int action = 0, running = 0;
	CURLMcode mc;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	/* s may be freed by sock_cb inside this call: do not touch it after */
	mc = curl_multi_socket_action(ho->multi, fd, action, &running);
	if (mc != CURLM_OK)
		log_warnx("http_out: curl_multi_socket_action: %s",
		    curl_multi_strerror(mc));
	check_done(ho);
	if (running == 0 && ho->inflight == 0)
		evtimer_del(ho->timer);
}

static void
timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct http_out *ho = arg;
	int running = 0;
	CURLMcode mc;

	mc = curl_multi_socket_action(ho->multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	if (mc != CURLM_OK)
		log_warnx("http_out: curl_multi_socket_action(timeout): %s",
		    curl_multi_strerror(mc));
	check_done(ho);
}

/* CURLMOPT_TIMERFUNCTION: only (re)arm our timer; never call libcurl here. */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_out *ho = userp;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(ho->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (evtimer_add(ho->timer, &tv) == -1) {
		log_warnx("http_out: evtimer_add failed");
		return -1;
	}
	return 0;
}

static void
sock_free(struct http_sock *s)
{
	struct http_out *ho = s->ho;

	if (s->ev != NULL)
		event_free(s->ev);
	if (s->prev)
		s->prev->next = s->next;
	else
		ho->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

/* CURLMOPT_SOCKETFUNCTION: keep one persistent event per curl socket. */
static int
sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http_out *ho = userp;
	struct http_sock *s = socketp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			curl_multi_assign(ho->multi, fd, NULL);
			sock_free(s);
		}
		return 0;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			log_warnx("http_out: out of memory");
			return -1;
		}
		s->ho = ho;
		s->fd = fd;
		s->next = ho->socks;
		if (ho->socks)
			ho->socks->prev = s;
		ho->socks = s;
		if (curl_multi_assign(ho->multi, fd, s) != CURLM_OK) {
			sock_free(s);
			return -1;
		}
	}
	kind = EV_PERSIST;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (s->ev != NULL) {
		if (event_get_events(s->ev) == kind)
			return 0;
		event_free(s->ev);
	}
	s->ev = event_new(ho->base, fd, kind, sock_event, s);
	if (s->ev == NULL || event_add(s->ev, NULL) == -1) {
		log_warnx("http_out: cannot watch socket %d", (int)fd);
		return -1;
	}
	return 0;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_call *c = userdata;
	size_t n = size * nmemb, cap;
	char *nb;

	if (c->len + n > HTTP_OUT_BODYMAX) {
		c->toobig = 1;
		return 0;	/* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (c->len + n + 1 > c->cap) {
		cap = c->cap ? c->cap : 1024;
		while (cap < c->len + n + 1)
			cap *= 2;
		if ((nb = realloc(c->buf, cap)) == NULL)
			return 0;
		c->buf = nb;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, ptr, n);
	c->len += n;
	c->buf[c->len] = '\0';
	return n;
}

static void
call_unlink(struct http_call *c)
{
	struct http_out *ho = c->ho;

	if (c->prev)
		c->prev->next = c->next;
	else
		ho->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ho->inflight--;
}

/*
 * Give an easy handle back to the idle pool (or free it).  The pool grows
 * to as many handles as were in flight at once (queued calls hold one
 * too), up to HTTP_OUT_IDLE_MAX: a new handle is a large zeroed
 * allocation and its buffers, and at a few hundred calls in flight a pool
 * smaller than that made and freed one per call (sandboxd's status
 * callbacks spent an eighth of its CPU in curl_easy_init).
 */
static void
easy_release(struct http_out *ho, CURL *easy)
{
	size_t need = ho->inflight + 1, ncap;
	CURL **n;

	if (easy == NULL)
		return;
	if (need < HTTP_OUT_IDLE)
		need = HTTP_OUT_IDLE;
	if (need > HTTP_OUT_IDLE_MAX)
		need = HTTP_OUT_IDLE_MAX;
	if (ho->nidle == ho->capidle && ho->capidle < need) {
		ncap = ho->capidle * 2 > need ? ho->capidle * 2 : need;
		if (ncap > HTTP_OUT_IDLE_MAX)
			ncap = HTTP_OUT_IDLE_MAX;
		if ((n = reallocarray(ho->idle, ncap, sizeof(*n))) != NULL) {
			ho->idle = n;
			ho->capidle = ncap;
		}
	}
	if (ho->nidle < ho->capidle) {
		curl_easy_reset(easy);
		ho->idle[ho->nidle++] = easy;
	} else
		curl_easy_cleanup(easy);
}

static void
call_free(struct http_call *c)
{
	curl_mime_free(c->mime);	/* after the easy handle let go of it */
	curl_slist_free_all(c->hdrs);
	free(c->saved);
	free(c->buf);
	free(c);
}

/* A call that never became active fails with its error text. */
static void
fail_queued(struct http_out *ho, struct http_call *c)
{
	struct http_resp resp;

	memset(&resp, 0, sizeof(resp));
	resp.body = "";
	resp.error = c->errbuf[0] ? c->errbuf : "request not started";
	call_unlink(c);
	c->cb(&resp, c->arg);
	easy_release(ho, c->easy);
	call_free(c);
}

/* Deliver every finished transfer.  Callbacks may start new requests. */
static void
check_done(struct http_out *ho)
{
	struct http_resp resp;
	struct http_call *c;
	CURLMsg *msg;
	CURLcode rc;
	long status = 0;
	int left;
	char *priv;

	while ((msg = curl_multi_info_read(ho->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		rc = msg->data.result;
		priv = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		c = (struct http_call *)priv;
		if (c == NULL)
			fatalx("http_out: transfer without its call");
		memset(&resp, 0, sizeof(resp));
		status = 0;
		if (rc == CURLE_OK)
			curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE,
			    &status);
		curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME, &resp.seconds);
		resp.status = rc == CURLE_OK ? status : 0;
		resp.body = c->buf ? c->buf : "";
		resp.bodylen = c->len;
		if (rc != CURLE_OK) {
			if (c->toobig)
				resp.error = "response body over 1 MiB";
			else
				resp.error = c->errbuf[0] ? c->errbuf :
				    curl_easy_strerror(rc);
			resp.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
		}
		curl_multi_remove_handle(ho->multi, c->easy);
		ho->active--;
		call_unlink(c);
		c->cb(&resp, c->arg);
		easy_release(ho, c->easy);
		call_free(c);
		activate(ho);
	}
}

struct http_out *
http_out_new(struct event_base *base, long max_conns)
{
	struct http_out *ho;

	if (!curl_inited) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return NULL;
		curl_inited = 1;
	}
	if ((ho = calloc(1, sizeof(*ho))) == NULL)
		return NULL;
	ho->base = base;
	ho->cap = max_conns > 0 ? max_conns : 0;
	if ((ho->multi = curl_multi_init()) == NULL)
		goto fail;
	if ((ho->timer = evtimer_new(base, timer_event, ho)) == NULL)
		goto fail;
	if (curl_multi_setopt(ho->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) ||
	    curl_multi_setopt(ho->multi, CURLMOPT_SOCKETDATA, ho) ||
	    curl_multi_setopt(ho->multi, CURLMOPT_TIMERFUNCTION, timer_cb) ||
	    curl_multi_setopt(ho->multi, CURLMOPT_TIMERDATA, ho) ||
	    curl_multi_setopt(ho->multi, CURLMOPT_PIPELINING,
	    (long)CURLPIPE_MULTIPLEX))
		goto fail;
	if (max_conns > 0 &&
	    (curl_multi_setopt(ho->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    max_conns) ||
	    curl_multi_setopt(ho->multi, CURLMOPT_MAXCONNECTS, max_conns)))
		goto fail;
	return ho;
fail:
	if (ho->timer)
		event_free(ho->timer);
	if (ho->multi)
		curl_multi_cleanup(ho->multi);
	free(ho);
	return NULL;
}

void
http_out_free(struct http_out *ho)
{
	struct http_call *c;

	if (ho == NULL)
		return;
	while ((c = ho->calls) != NULL) {
		curl_multi_remove_handle(ho->multi, c->easy);
		call_unlink(c);
		curl_easy_cleanup(c->easy);
		call_free(c);
	}
	while (ho->nidle > 0)
		curl_easy_cleanup(ho->idle[--ho->nidle]);
	free(ho->idle);
	curl_multi_cleanup(ho->multi);	/* may report sockets removed */
	while (ho->socks != NULL)
		sock_free(ho->socks);
	event_free(ho->timer);
	free(ho);
}

size_t
http_out_inflight(struct http_out *ho)
{
	return ho->inflight;
}

/*
 * A file part's source: size bytes of fd, read with pread at our own
 * offset (libcurl may rewind to send the body again), so the descriptor's
 * shared file position is never used.  Freed, and fd closed, with the mime.
 */
struct part_src {
	int		 fd;
	curl_off_t	 size, off;
};

static size_t
part_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct part_src *ps = arg;
	size_t want = size * nitems;
	ssize_t n;

	if (ps->off >= ps->size)
		return 0;
	if ((curl_off_t)want > ps->size - ps->off)
		want = (size_t)(ps->size - ps->off);
	while ((n = pread(ps->fd, buf, want, (off_t)ps->off)) == -1 &&
	    errno == EINTR)
		;
	/* an error, or the file shrank under us: fail this request */
	if (n <= 0)
		return CURL_READFUNC_ABORT;
	ps->off += n;
	return (size_t)n;
}

static int
part_seek(void *arg, curl_off_t offset, int origin)
{
	struct part_src *ps = arg;

	if (origin != SEEK_SET || offset < 0 || offset > ps->size)
		return CURL_SEEKFUNC_FAIL;
	ps->off = offset;
	return CURL_SEEKFUNC_OK;
}

static void
part_free(void *arg)
{
	struct part_src *ps = arg;

	close(ps->fd);
	free(ps);
}

/* The parts of rq as c's curl_mime; files are streamed when sent. */
static int
make_mime(struct http_call *c, const struct http_req *rq)
{
	curl_mimepart *p;
	struct part_src *ps;
	size_t i;

	if ((c->mime = curl_mime_init(c->easy)) == NULL)
		return -1;
	for (i = 0; i < rq->nparts; i++) {
		const struct http_part *hp = &rq->parts[i];

		if ((p = curl_mime_addpart(c->mime)) == NULL ||
		    curl_mime_name(p, hp->name) != CURLE_OK)
			return -1;
		if (hp->value == NULL) {
			if (hp->fd < 0 || hp->size < 0 ||
			    (ps = calloc(1, sizeof(*ps))) == NULL)
				return -1;
			ps->size = (curl_off_t)hp->size;
			if ((ps->fd = fcntl(hp->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
				free(ps);
				return -1;
			}
			/* from here the mime owns ps (part_free) */
			if (curl_mime_data_cb(p, ps->size, part_read,
			    part_seek, part_free, ps) != CURLE_OK) {
				part_free(ps);
				return -1;
			}
			if (curl_mime_filename(p, hp->filename ? hp->filename :
			    "file") != CURLE_OK)
				return -1;
		} else if (curl_mime_data(p, hp->value,
		    CURL_ZERO_TERMINATED) != CURLE_OK)
			return -1;
		if (hp->type != NULL && curl_mime_type(p, hp->type) != CURLE_OK)
			return -1;
	}
	return 0;
}

#define SETOPT(o, v) do {						\
	if (curl_easy_setopt(c->easy, (o), (v)) != CURLE_OK)		\
		return -1;						\
} while (0)

/*
 * Give c an easy handle (from the pool, or new) set up for rq; -1 when
 * libcurl refuses (c->easy is then released by the caller's call_free
 * path through easy_release).
 */
static int
call_bind(struct http_out *ho, struct http_call *c, const struct http_req *rq)
{
	long timeout = rq->timeout_ms > 0 ? rq->timeout_ms : HTTP_OUT_TIMEOUT;

	if (ho->nidle > 0)
		c->easy = ho->idle[--ho->nidle];
	else if ((c->easy = curl_easy_init()) == NULL) {
		snprintf(c->errbuf, sizeof(c->errbuf), "out of memory");
		return -1;
	}
	SETOPT(CURLOPT_URL, rq->url);
	SETOPT(CURLOPT_PRIVATE, (char *)c);
	SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(CURLOPT_WRITEDATA, c);
	SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_TIMEOUT_MS, timeout);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, timeout < 10000 ? timeout : 10000L);
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_TCP_NODELAY, 1L);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(CURLOPT_PIPEWAIT, 1L);
	SETOPT(CURLOPT_HTTPHEADER, c->hdrs);
	if (rq->userpwd != NULL) {
		SETOPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SETOPT(CURLOPT_USERPWD, rq->userpwd);
	}
	if (rq->nparts > 0) {
		/* multipart/form-data: libcurl sets the method and the type */
		if (make_mime(c, rq) == -1)
			return -1;
		SETOPT(CURLOPT_MIMEPOST, c->mime);
	} else if (rq->body != NULL || (rq->method &&
	    strcmp(rq->method, "POST") == 0)) {
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->bodylen);
		SETOPT(CURLOPT_COPYPOSTFIELDS, rq->body ? rq->body : "");
	}
	if (rq->method == NULL || strcmp(rq->method, "GET") == 0) {
		if (rq->body == NULL)
			SETOPT(CURLOPT_HTTPGET, 1L);
		else
			SETOPT(CURLOPT_CUSTOMREQUEST, "GET");
	} else if (strcmp(rq->method, "POST") != 0)
		SETOPT(CURLOPT_CUSTOMREQUEST, rq->method);
	return 0;
}

/*
 * Keep what call_bind will need of rq in c, in one allocation: the
 * method, URL, credentials and body.  A multipart request is not
 * deferred (its parts are files the caller may close).
 */
static int
call_save(struct http_call *c, const struct http_req *rq)
{
	const char *str[3] = { rq->method, rq->url, rq->userpwd };
	const char **dst[3] = { &c->rq.method, &c->rq.url, &c->rq.userpwd };
	size_t n = rq->bodylen + 1, len[3], i;
	char *p;

	for (i = 0; i < 3; i++) {
		len[i] = str[i] ? strlen(str[i]) + 1 : 0;
		n += len[i];
	}
	if ((c->saved = p = malloc(n)) == NULL)
		return -1;
	c->rq = *rq;
	c->rq.headers = NULL;		/* already in c->hdrs */
	for (i = 0; i < 3; i++) {
		*dst[i] = str[i] ? memcpy(p, str[i], len[i]) : NULL;
		p += len[i];
	}
	if (rq->body != NULL) {
		c->rq.body = memcpy(p, rq->body, rq->bodylen);
		p[rq->bodylen] = '\0';
	}
	return 0;
}

int
http_out_start(struct http_out *ho, const struct http_req *rq,
    http_done_cb cb, void *arg)
{
	struct http_call *c;
	struct curl_slist *l;
	const char *const *h;
	CURLMcode mc;
	int queue;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->ho = ho;
	c->cb = cb;
	c->arg = arg;
	/* no "Expect: 100-continue" round trip before bodies */
	if ((c->hdrs = curl_slist_append(NULL, "Expect:")) == NULL)
		goto fail;
	for (h = rq->headers; h != NULL && *h != NULL; h++) {
		if ((l = curl_slist_append(c->hdrs, *h)) == NULL)
			goto fail;
		c->hdrs = l;
	}
	queue = ho->qhead != NULL ||
	    (ho->cap > 0 && ho->active >= (size_t)ho->cap);
	if (queue && rq->nparts == 0) {
		if (call_save(c, rq) == -1)
			goto fail;
	} else if (call_bind(ho, c, rq) == -1)
		goto fail;
	c->next = ho->calls;
	if (ho->calls)
		ho->calls->prev = c;
	ho->calls = c;
	ho->inflight++;
	if (queue) {
		/* activated by check_done when a slot frees */
		if (ho->qtail)
			ho->qtail->qnext = c;
		else
			ho->qhead = c;
		ho->qtail = c;
		return 0;
	}
	/* completion only ever comes through the event loop (timer_cb) */
	if ((mc = curl_multi_add_handle(ho->multi, c->easy)) != CURLM_OK) {
		log_warnx("http_out: curl_multi_add_handle: %s",
		    curl_multi_strerror(mc));
		call_unlink(c);
		goto fail;
	}
	ho->active++;
	return 0;
fail:
	easy_release(ho, c->easy);
	call_free(c);
	return -1;
}
