/*
 * sandboxd — a local stand-in for the messaging providers' APIs (Twilio's
 * Messages API, the WhatsApp Cloud API and the Messenger Platform),
 * so parley runs and is tested with no provider account.
 *
 * One evhttp listener serves the providers' own paths, answered the way the
 * provider answers them (same auth, parameters, errors and callbacks), and
 * control paths under /sandbox/ that tests and people use to make a
 * simulated customer write, to read back everything sandboxd received, and
 * to inject faults.  State lives in memory only.  Webhooks go out through
 * the shared libcurl-multi client on kept-alive connections, never retried.
 *
 * This file holds main, the dispatcher, the /sandbox/ control paths and the
 * helpers the provider modules share: replies, JSON, the webhook poster,
 * and what every provider does with it (answers a fault delays, the chain
 * of status webhooks after a send, a simulated customer's message posted
 * and answered for).
 */
#include <sys/queue.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "conf.h"
#include "daemon.h"
#include "form.h"
#include "http_out.h"
#include "log.h"
#include "sandboxd.h"

#define SBX_MAX_HEADERS		(64 * 1024)
#define SBX_IDLE_TIMEOUT_S	120
#define SBX_HOOK_CONNS		64	/* connections per webhook host */

/* A send call whose answer a fault delays. */
struct sbx_delayed {
	struct sbx		*sb;
	struct evhttp_request	*req;
	struct event		*timer;
	int			 code;
	struct sbx_jw		 answer;
	struct sbx_chain	*chain;		/* started after the answer */
};

/* A simulated inbound message being posted (total times). */
struct sbx_inbound {
	struct sbx		*sb;
	struct evhttp_request	*req;
	char			 api[16];
	char			*url;
	char			**headers;	/* NULL-terminated */
	char			*body;
	size_t			 bodylen;
	char			*params;
	char			 idkey[16];
	json_t			*id, *statuses;
	int			 total, started, done, concurrent;
	long			 last;
};

/* One webhook in flight. */
struct sbx_hook {
	struct sbx	*sb;
	char		 api[16];
	char		 event[16];
	char		*url;
	char		*params;	/* JSON */
	sbx_hook_cb	 cb;
	void		*arg;
};

void
sbx_hold(struct sbx *sb)
{
	sb->inflight++;
}

void
sbx_release(struct sbx *sb)
{
	if (sb->inflight == 0)
		fatalx("in-flight count underflow");
	if (--sb->inflight == 0 && sb->d.draining) {
		log_info("drained, exiting");
		daemon_stop(&sb->d);
	}
}

const char *
sbx_body(struct evhttp_request *req, size_t *len)
{
	struct evbuffer *b = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(b);
	unsigned char *p;

	if (n > SBX_MAX_BODY)
		return NULL;
	if (evbuffer_add(b, "", 1) == -1 ||
	    (p = evbuffer_pullup(b, -1)) == NULL)
		return NULL;
	*len = n;
	return (const char *)p;
}

void
sbx_reply_json(struct evhttp_request *req, int code, json_t *j)
{
	struct evbuffer *b = evbuffer_new();
	char *s = NULL;

	if (j != NULL)
		s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (b == NULL || s == NULL || evbuffer_add(b, s, strlen(s)) == -1 ||
	    evbuffer_add(b, "\n", 1) == -1) {
		log_warnx("out of memory answering %s",
		    evhttp_request_get_uri(req));
		evhttp_send_error(req, 500, NULL);
		goto done;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json; charset=utf-8");
	evhttp_send_reply(req, code, NULL, b);
done:
	free(s);
	if (b != NULL)
		evbuffer_free(b);
	json_decref(j);
}

void
sbx_reply_error(struct evhttp_request *req, int code, const char *why)
{
	sbx_reply_json(req, code, json_pack("{s:o}", "error", sbx_json_str(why)));
}

void
sbx_reply_jw(struct evhttp_request *req, int code, struct sbx_jw *jw)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL || jw->oom || evbuffer_add(b, jw->buf, jw->len) == -1 ||
	    evbuffer_add(b, "\n", 1) == -1) {
		log_warnx("out of memory answering %s",
		    evhttp_request_get_uri(req));
		evhttp_send_error(req, 500, NULL);
	} else {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", "application/json; charset=utf-8");
		evhttp_send_reply(req, code, NULL, b);
	}
	if (b != NULL)
		evbuffer_free(b);
	sbx_jw_free(jw);
}

/* Length of a valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t
utf8_valid_len(const unsigned char *s)
{
	size_t n, i;
	long v;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, v = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, v = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, v = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	return n;
}

json_t *
sbx_json_str(const char *s)
{
	const unsigned char *p;
	json_t *j;
	char *buf, *o;
	size_t n;

	if (s == NULL)
		return json_null();
	if ((j = json_string(s)) != NULL)
		return j;
	/* Not UTF-8: show each bad byte as U+FFFD rather than lose the value. */
	if ((buf = malloc(strlen(s) * 3 + 1)) == NULL)
		return json_null();
	for (p = (const unsigned char *)s, o = buf; *p != '\0'; ) {
		if ((n = utf8_valid_len(p)) == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		} else {
			memcpy(o, p, n);
			o += n;
			p += n;
		}
	}
	*o = '\0';
	j = json_string(buf);
	free(buf);
	return j ? j : json_null();
}

/* --- the JSON writer --- */

void
sbx_jw_init(struct sbx_jw *jw)
{
	memset(jw, 0, sizeof(*jw));
}

void
sbx_jw_free(struct sbx_jw *jw)
{
	free(jw->buf);
	sbx_jw_init(jw);
}

/* Room for n more bytes. */
static int
jw_room(struct sbx_jw *jw, size_t n)
{
	size_t cap;
	char *p;

	if (jw->oom)
		return -1;
	if (jw->len + n + 1 <= jw->cap)
		return 0;
	for (cap = jw->cap ? jw->cap : 512; cap < jw->len + n + 1; cap *= 2)
		;
	if ((p = realloc(jw->buf, cap)) == NULL) {
		jw->oom = 1;
		return -1;
	}
	jw->buf = p;
	jw->cap = cap;
	return 0;
}

static void
jw_put(struct sbx_jw *jw, const char *s, size_t n)
{
	if (jw_room(jw, n) == -1)
		return;
	memcpy(jw->buf + jw->len, s, n);
	jw->len += n;
	jw->buf[jw->len] = '\0';
}

/* A quoted, escaped JSON string. */
static void
jw_quote(struct sbx_jw *jw, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run;
	char esc[8];
	size_t n;

	jw_put(jw, "\"", 1);
	while (*p != '\0') {
		for (run = p; *p >= 0x20 && *p < 0x80 && *p != '"' &&
		    *p != '\\'; p++)
			;
		if (p > run)
			jw_put(jw, (const char *)run, (size_t)(p - run));
		if (*p == '\0')
			break;
		if (*p >= 0x80) {
			if ((n = utf8_valid_len(p)) == 0) {
				jw_put(jw, "\xef\xbf\xbd", 3);
				p++;
			} else {
				jw_put(jw, (const char *)p, n);
				p += n;
			}
			continue;
		}
		esc[0] = '\\';
		switch (*p) {
		case '"':
		case '\\':
			esc[1] = (char)*p;
			n = 2;
			break;
		case '\n':
			esc[1] = 'n';
			n = 2;
			break;
		case '\r':
			esc[1] = 'r';
			n = 2;
			break;
		case '\t':
			esc[1] = 't';
			n = 2;
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			n = 6;
			break;
		}
		jw_put(jw, esc, n);
		p++;
	}
	jw_put(jw, "\"", 1);
}

/* The comma and "key": before a value. */
static void
jw_key(struct sbx_jw *jw, const char *key)
{
	if (jw->comma)
		jw_put(jw, ",", 1);
	if (key != NULL) {
		jw_quote(jw, key);
		jw_put(jw, ":", 1);
	}
	jw->comma = 1;
}

void
sbx_jw_open(struct sbx_jw *jw, const char *key)
{
	jw_key(jw, key);
	jw_put(jw, "{", 1);
	jw->comma = 0;
}

void
sbx_jw_close(struct sbx_jw *jw)
{
	jw_put(jw, "}", 1);
	jw->comma = 1;
}

void
sbx_jw_array(struct sbx_jw *jw, const char *key)
{
	jw_key(jw, key);
	jw_put(jw, "[", 1);
	jw->comma = 0;
}

void
sbx_jw_array_end(struct sbx_jw *jw)
{
	jw_put(jw, "]", 1);
	jw->comma = 1;
}

void
sbx_jw_str(struct sbx_jw *jw, const char *key, const char *val)
{
	jw_key(jw, key);
	if (val == NULL)
		jw_put(jw, "null", 4);
	else
		jw_quote(jw, val);
}

void
sbx_jw_int(struct sbx_jw *jw, const char *key, long long val)
{
	char num[32];
	int n;

	jw_key(jw, key);
	n = snprintf(num, sizeof(num), "%lld", val);
	jw_put(jw, num, (size_t)n);
}

void
sbx_jw_null(struct sbx_jw *jw, const char *key)
{
	jw_key(jw, key);
	jw_put(jw, "null", 4);
}

void
sbx_jw_raw(struct sbx_jw *jw, const char *key, const char *json, size_t len)
{
	jw_key(jw, key);
	jw_put(jw, json, len);
}

void
sbx_jw_form(struct sbx_jw *jw, const char *key, const struct form *f)
{
	size_t i, j;
	int repeated;

	sbx_jw_open(jw, key);
	for (i = 0; i < f->n; i++) {
		/* Names are few: a repeated one is found by looking back. */
		for (j = 0; j < i && strcmp(f->p[j].name, f->p[i].name) != 0; j++)
			;
		if (j < i)
			continue;	/* written with its first occurrence */
		for (repeated = 0, j = i + 1; j < f->n && !repeated; j++)
			repeated = strcmp(f->p[j].name, f->p[i].name) == 0;
		if (!repeated) {
			sbx_jw_str(jw, f->p[i].name, f->p[i].value);
			continue;
		}
		sbx_jw_array(jw, f->p[i].name);
		for (j = i; j < f->n; j++)
			if (strcmp(f->p[j].name, f->p[i].name) == 0)
				sbx_jw_str(jw, NULL, f->p[j].value);
		sbx_jw_array_end(jw);
	}
	sbx_jw_close(jw);
}

/* --- webhooks --- */

/* Record a webhook and what it got. */
static void
hook_record(struct sbx *sb, const char *api, const char *event,
    const char *url, const char *params, long status, const char *error)
{
	struct sbx_jw jw;

	sbx_jw_init(&jw);
	sbx_jw_str(&jw, "event", event);
	sbx_jw_str(&jw, "url", url);
	if (params != NULL)
		sbx_jw_raw(&jw, "params", params, strlen(params));
	else
		sbx_jw_raw(&jw, "params", "{}", 2);
	sbx_jw_int(&jw, "status", status);
	if (error != NULL)
		sbx_jw_str(&jw, "error", error);
	sbx_log_jw(sb->log, "webhook", api, &jw);
}

static void
hook_done(const struct http_resp *resp, void *arg)
{
	struct sbx_hook *h = arg;
	struct sbx *sb = h->sb;
	const char *err = NULL;

	if (resp->status == 0) {
		err = resp->timed_out ? "timed out" :
		    (resp->error ? resp->error : "transport error");
		log_info("webhook %s to %s failed: %s", h->event, h->url, err);
	} else if (resp->status >= 300)
		log_info("webhook %s to %s answered %ld", h->event, h->url,
		    resp->status);
	hook_record(sb, h->api, h->event, h->url, h->params, resp->status, err);
	if (h->cb != NULL)
		h->cb(resp->status, h->arg);
	free(h->params);
	free(h->url);
	free(h);
	sbx_release(sb);
}

int
sbx_webhook_post(struct sbx *sb, const char *api, const char *event,
    const char *url, const char *const *headers, const char *body,
    size_t bodylen, const char *params, sbx_hook_cb cb, void *arg)
{
	struct sbx_hook *h = NULL;
	struct http_req r;

	if (sb->closing || (h = calloc(1, sizeof(*h))) == NULL ||
	    (h->url = strdup(url)) == NULL ||
	    (params != NULL && (h->params = strdup(params)) == NULL))
		goto fail;
	h->sb = sb;
	snprintf(h->api, sizeof(h->api), "%s", api);
	snprintf(h->event, sizeof(h->event), "%s", event);
	h->cb = cb;
	h->arg = arg;
	memset(&r, 0, sizeof(r));
	r.method = "POST";
	r.url = url;
	r.headers = headers;
	r.body = body;
	r.bodylen = bodylen;
	r.timeout_ms = SBX_HOOK_TIMEOUT_MS;
	if (http_out_start(sb->out, &r, hook_done, h) == -1)
		goto fail;
	sbx_hold(sb);
	return 0;
fail:
	log_warnx("webhook %s to %s: cannot start the request", event, url);
	hook_record(sb, api, event, url, params, 0, "not started");
	if (h != NULL) {
		free(h->params);
		free(h->url);
		free(h);
	}
	return -1;
}

const char *
sbx_method(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	default:
		return "OTHER";
	}
}

int
sbx_valid_url(const char *s)
{
	struct evhttp_uri *u;
	const char *scheme, *host;
	int ok = 0;

	if (s == NULL || strlen(s) > 2048 ||
	    (u = evhttp_uri_parse_with_flags(s, 0)) == NULL)
		return 0;
	scheme = evhttp_uri_get_scheme(u);
	host = evhttp_uri_get_host(u);
	if (scheme != NULL && host != NULL && *host != '\0' &&
	    (strcasecmp(scheme, "http") == 0 || strcasecmp(scheme, "https") == 0))
		ok = 1;
	evhttp_uri_free(u);
	return ok;
}

int
sbx_ctype_is(const char *h, const char *mime)
{
	size_t n = strlen(mime);

	if (h == NULL)
		return 0;
	while (*h == ' ')
		h++;
	return strncasecmp(h, mime, n) == 0 &&
	    (h[n] == '\0' || h[n] == ';' || h[n] == ' ');
}

uint64_t
sbx_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* --- status webhooks, delayed answers, simulated inbound messages --- */

static void
chain_fire(evutil_socket_t fd, short what, void *arg)
{
	struct sbx_chain *c = arg;

	c->post(c, c->steps[c->step]);
}

static void
chain_arm(struct sbx_chain *c, long long ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	if (evtimer_add(c->timer, &tv) == -1) {
		log_warnx("%s: cannot arm the status timer", c->name);
		sbx_chain_end(c);
	}
}

static void
chain_posted(long status, void *arg)
{
	struct sbx_chain *c = arg;

	if (--c->pending > 0)
		return;
	if (++c->step >= c->nsteps || c->sb->closing)
		sbx_chain_end(c);
	else
		chain_arm(c, *c->delay_ms);
}

int
sbx_chain_init(struct sbx_chain *c, struct sbx *sb, const long long *delay_ms,
    void (*post)(struct sbx_chain *, const char *),
    void (*done)(struct sbx_chain *), const char *name, ...)
{
	va_list ap;

	if ((c->timer = evtimer_new(sb->d.base, chain_fire, c)) == NULL)
		return -1;
	c->sb = sb;
	c->delay_ms = delay_ms;
	c->post = post;
	c->done = done;
	va_start(ap, name);
	vsnprintf(c->name, sizeof(c->name), name, ap);
	va_end(ap);
	c->prev = NULL;
	c->next = sb->chains;
	if (sb->chains != NULL)
		sb->chains->prev = c;
	sb->chains = c;
	sbx_hold(sb);
	return 0;
}

void
sbx_chain_plan(struct sbx_chain *c, const char *const *seq, int n,
    const struct sbx_fault *fault)
{
	int i, reorder = fault != NULL && fault->reorder;

	if (n < 1 || n > SBX_CHAIN_STEPS)
		fatalx("a status chain of %d steps", n);
	for (i = 0; i < n; i++)
		c->steps[i] = seq[reorder ? (i + n - 1) % n : i];
	c->nsteps = n;
	c->step = 0;
	c->repeat = fault != NULL ? fault->repeat : 1;	/* 0: lost */
}

void
sbx_chain_post(struct sbx_chain *c, const char *api, const char *url,
    const char *const *headers, const char *body, size_t bodylen,
    const char *params)
{
	int i, n;

	if (c->repeat == 0) {
		sbx_chain_skip(c);	/* the webhook is lost; may end c */
		return;
	}
	/* A failed start calls chain_posted: it ends c after the last one. */
	c->pending = n = c->repeat;
	for (i = 0; i < n; i++)
		if (sbx_webhook_post(c->sb, api, "status", url, headers, body,
		    bodylen, params, chain_posted, c) == -1)
			chain_posted(0, c);	/* may end c on the last one */
}

void
sbx_chain_skip(struct sbx_chain *c)
{
	c->pending = 1;
	chain_posted(0, c);	/* may end c */
}

void
sbx_chain_start(struct sbx_chain *c)
{
	chain_arm(c, SBX_SENT_DELAY_MS);
}

void
sbx_chain_end(struct sbx_chain *c)
{
	struct sbx *sb = c->sb;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		sb->chains = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	event_free(c->timer);
	c->done(c);
	sbx_release(sb);
}

static void
delayed_fire(evutil_socket_t fd, short what, void *arg)
{
	struct sbx_delayed *dl = arg;
	struct sbx *sb = dl->sb;

	sbx_reply_jw(dl->req, dl->code, &dl->answer);
	if (dl->chain != NULL)
		chain_arm(dl->chain, SBX_SENT_DELAY_MS);
	event_free(dl->timer);
	free(dl);
	sbx_release(sb);
}

int
sbx_answer(struct sbx *sb, struct evhttp_request *req, int code,
    struct sbx_jw *jw, long delay_ms, struct sbx_chain *c)
{
	struct sbx_delayed *dl;
	struct timeval tv;
	int rc = 0;

	if (delay_ms > 0) {
		if ((dl = calloc(1, sizeof(*dl))) != NULL &&
		    (dl->timer = evtimer_new(sb->d.base, delayed_fire,
		    dl)) != NULL) {
			dl->sb = sb;
			dl->req = req;
			dl->code = code;
			dl->answer = *jw;
			dl->chain = c;
			tv.tv_sec = delay_ms / 1000;
			tv.tv_usec = (delay_ms % 1000) * 1000;
			if (evtimer_add(dl->timer, &tv) == 0) {
				sbx_hold(sb);
				return 0;
			}
			event_free(dl->timer);
		}
		free(dl);
		rc = -1;
	}
	sbx_reply_jw(req, code, jw);
	if (c != NULL)
		chain_arm(c, SBX_SENT_DELAY_MS);
	return rc;
}

static void
inbound_free(struct sbx_inbound *in)
{
	char **h;

	for (h = in->headers; h != NULL && *h != NULL; h++)
		free(*h);
	free(in->headers);
	free(in->url);
	free(in->body);
	free(in->params);
	json_decref(in->id);
	json_decref(in->statuses);
	free(in);
}

static void
inbound_finish(struct sbx_inbound *in)
{
	struct sbx *sb = in->sb;

	sbx_reply_json(in->req, 200, json_pack("{s:O, s:I, s:O}", in->idkey,
	    in->id, "status", (json_int_t)in->last, "statuses", in->statuses));
	inbound_free(in);
	sbx_release(sb);
}

static void	inbound_next(struct sbx_inbound *);

static void
inbound_posted(long status, void *arg)
{
	struct sbx_inbound *in = arg;

	json_array_append_new(in->statuses, json_integer(status));
	in->last = status;
	if (++in->done == in->total)
		inbound_finish(in);
	else if (!in->concurrent)
		inbound_next(in);
}

/* Start the next post (all remaining ones when concurrent). */
static void
inbound_next(struct sbx_inbound *in)
{
	do {
		in->started++;
		if (sbx_webhook_post(in->sb, in->api, "inbound", in->url,
		    (const char *const *)in->headers, in->body, in->bodylen,
		    in->params, inbound_posted, in) == -1) {
			inbound_posted(0, in);	/* may finish and free in */
			return;
		}
	} while (in->concurrent && in->started < in->total);
}

int
sbx_inbound_post(struct sbx *sb, struct evhttp_request *req, const char *api,
    const char *url, const char *const *headers, const char *body,
    size_t bodylen, const char *params, int total, int concurrent,
    const char *idkey, json_t *id)
{
	struct sbx_inbound *in;
	size_t i, n;

	for (n = 0; headers[n] != NULL; n++)
		;
	if ((in = calloc(1, sizeof(*in))) == NULL) {
		json_decref(id);
		return -1;
	}
	in->id = id;
	if ((in->headers = calloc(n + 1, sizeof(*in->headers))) == NULL)
		goto fail;
	for (i = 0; i < n; i++)
		if ((in->headers[i] = strdup(headers[i])) == NULL)
			goto fail;
	if ((in->url = strdup(url)) == NULL ||
	    (in->body = malloc(bodylen + 1)) == NULL ||
	    (params != NULL && (in->params = strdup(params)) == NULL) ||
	    (in->statuses = json_array()) == NULL)
		goto fail;
	memcpy(in->body, body, bodylen);
	in->body[bodylen] = '\0';
	in->bodylen = bodylen;
	in->sb = sb;
	in->req = req;
	snprintf(in->api, sizeof(in->api), "%s", api);
	snprintf(in->idkey, sizeof(in->idkey), "%s", idkey);
	in->total = total;
	in->concurrent = concurrent;
	sbx_hold(sb);
	inbound_next(in);
	return 0;
fail:
	inbound_free(in);
	return -1;
}

/* The query parameter name of req, or NULL. */
static const char *
query_get(struct evkeyvalq *q, const char *name)
{
	return evhttp_find_header(q, name);
}

/* An unsigned decimal in s (the whole of it) into *v; -1 if not one. */
static int
parse_u64(const char *s, unsigned long long *v)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return (errno != 0 || *end != '\0') ? -1 : 0;
}

/* GET /sandbox/received[?since=N][&api=A][&kind=K][&limit=L] */
static void
ctl_received(struct sbx *sb, struct evhttp_request *req)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *query = evhttp_uri_get_query(u), *api, *kind, *s;
	unsigned long long since = 0, limit = 0;
	struct evkeyvalq q;
	struct evbuffer *b;

	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) == -1) {
		sbx_reply_error(req, 400, "malformed query string");
		return;
	}
	api = query_get(&q, "api");
	kind = query_get(&q, "kind");
	if (((s = query_get(&q, "since")) != NULL && parse_u64(s, &since) == -1) ||
	    ((s = query_get(&q, "limit")) != NULL && parse_u64(s, &limit) == -1)) {
		sbx_reply_error(req, 400, "since and limit must be unsigned integers");
		goto done;
	}
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 500, NULL);
		goto done;
	}
	sbx_log_dump(sb->log, since, api, kind,
	    limit > SIZE_MAX ? SIZE_MAX : (size_t)limit, b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/x-ndjson");
	evhttp_send_reply(req, 200, NULL, b);
	evbuffer_free(b);
done:
	evhttp_clear_headers(&q);
}

/* POST, GET, DELETE /sandbox/faults */
static void
ctl_faults(struct sbx *sb, struct evhttp_request *req)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	json_error_t jerr;
	const char *body;
	char why[256];
	json_t *spec;
	size_t len;
	int id;

	if (m == EVHTTP_REQ_GET) {
		sbx_reply_json(req, 200, json_pack("{s:o}", "faults",
		    sbx_fault_list(sb->faults)));
		return;
	}
	if (m == EVHTTP_REQ_DELETE) {
		sbx_fault_clear(sb->faults);
		log_info("faults cleared");
		sbx_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
		return;
	}
	if (m != EVHTTP_REQ_POST) {
		sbx_reply_error(req, 405, "use GET, POST or DELETE");
		return;
	}
	if ((body = sbx_body(req, &len)) == NULL) {
		sbx_reply_error(req, 413, "request body too large");
		return;
	}
	if ((spec = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		snprintf(why, sizeof(why), "bad JSON: %s", jerr.text);
		sbx_reply_error(req, 400, why);
		return;
	}
	if ((id = sbx_fault_add(sb->faults, spec, why, sizeof(why))) == -1)
		sbx_reply_error(req, 400, why);
	else
		sbx_reply_json(req, 200, json_pack("{s:i}", "id", id));
	json_decref(spec);
}

/* Everything under /sandbox/. */
static void
control(struct sbx *sb, struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct evbuffer *b;
	const char *body;
	size_t len;
	uint64_t next;

	if (strcmp(path, "/sandbox/health") == 0) {
		if ((b = evbuffer_new()) == NULL ||
		    evbuffer_add(b, "ok\n", 3) == -1) {
			evhttp_send_error(req, 500, NULL);
		} else {
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "Content-Type", "text/plain");
			evhttp_send_reply(req, 200, NULL, b);
		}
		if (b != NULL)
			evbuffer_free(b);
	} else if (strcmp(path, "/sandbox/received") == 0) {
		if (m != EVHTTP_REQ_GET)
			sbx_reply_error(req, 405, "use GET");
		else
			ctl_received(sb, req);
	} else if (strcmp(path, "/sandbox/faults") == 0) {
		ctl_faults(sb, req);
	} else if (strcmp(path, "/sandbox/reset") == 0) {
		if (m != EVHTTP_REQ_POST) {
			sbx_reply_error(req, 405, "use POST");
			return;
		}
		next = sbx_log_clear(sb->log);
		sbx_fault_clear(sb->faults);
		sbx_twilio_reset(sb->twilio);
		sbx_whatsapp_reset(sb->whatsapp);
		sbx_messenger_reset(sb->messenger);
		log_info("reset: received log, faults, opt-outs, Twilio "
		    "messages, WhatsApp windows, media, rate history and "
		    "templates, Messenger windows, media and rate history "
		    "cleared");
		sbx_reply_json(req, 200, json_pack("{s:b, s:I}", "ok", 1, "next",
		    (json_int_t)next));
	} else if (strcmp(path, "/sandbox/sms/inbound") == 0) {
		if (m != EVHTTP_REQ_POST)
			sbx_reply_error(req, 405, "use POST");
		else if ((body = sbx_body(req, &len)) == NULL)
			sbx_reply_error(req, 413, "request body too large");
		else
			sbx_twilio_inbound(sb, req, body, len);
	} else if (strcmp(path, "/sandbox/whatsapp/inbound") == 0) {
		if (m != EVHTTP_REQ_POST)
			sbx_reply_error(req, 405, "use POST");
		else if ((body = sbx_body(req, &len)) == NULL)
			sbx_reply_error(req, 413, "request body too large");
		else
			sbx_whatsapp_inbound(sb, req, body, len);
	} else if (strcmp(path, "/sandbox/whatsapp/templates") == 0) {
		if (m == EVHTTP_REQ_POST && (body = sbx_body(req, &len)) == NULL)
			sbx_reply_error(req, 413, "request body too large");
		else
			sbx_whatsapp_templates(sb, req, m == EVHTTP_REQ_POST ?
			    body : NULL, m == EVHTTP_REQ_POST ? len : 0);
	} else if (strncmp(path, "/sandbox/messenger/", 19) == 0) {
		sbx_messenger_control(sb, req, path);
	} else if (strncmp(path, "/sandbox/whatsapp/media/", 24) == 0 &&
	    path[24] != '\0' && strchr(path + 24, '/') == NULL) {
		sbx_whatsapp_media_bytes(sb, req, path + 24);
	} else {
		sbx_reply_error(req, 404, "no such control path");
	}
}

/* The one request callback: provider APIs first, then /sandbox/. */
static void
dispatch(struct evhttp_request *req, void *arg)
{
	struct sbx *sb = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;

	if (path == NULL || *path == '\0')
		path = "/";
	if (strncmp(path, "/sandbox/", 9) == 0)
		control(sb, req, path);
	else if (!sbx_twilio_route(sb, req, path) &&
	    !sbx_messenger_route(sb, req, path) &&
	    !sbx_whatsapp_route(sb, req, path))
		sbx_reply_error(req, 404, "not found");
}

static void
on_term(struct daemon *d)
{
	struct sbx *sb = d->arg;

	d->draining = 1;
	if (sb->bound != NULL) {
		evhttp_del_accept_socket(sb->http, sb->bound);
		sb->bound = NULL;
	}
	log_info("stopping: %zu in flight", sb->inflight);
	if (sb->inflight == 0)
		daemon_stop(d);
}

static void
on_hup(struct daemon *d)
{
	struct sbx *sb = d->arg;
	char why[256];

	if (sbx_twilio_reload(sb->twilio, why, sizeof(why)) == -1)
		log_warnx("reload: %s; keeping the old Twilio settings", why);
	else if (sbx_whatsapp_reload(sb->whatsapp, why, sizeof(why)) == -1)
		log_warnx("reload: %s; keeping the old WhatsApp settings", why);
	else if (sbx_messenger_reload(sb->messenger, why, sizeof(why)) == -1)
		log_warnx("reload: %s; keeping the old Messenger settings", why);
	else
		log_info("reloaded");
}

/* "host:port" or "[v6]:port" into host and port; -1 if malformed. */
static int
parse_listen(const char *s, char *host, size_t hostsz, unsigned short *port)
{
	const char *colon, *h = s;
	unsigned long long p;
	size_t hl;

	if ((colon = strrchr(s, ':')) == NULL || parse_u64(colon + 1, &p) == -1 ||
	    p == 0 || p > 65535)
		return -1;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		h = s + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= hostsz)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (unsigned short)p;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct sbx sb;
	const char *listen;
	char host[256], why[512];
	unsigned short port;
	int rc;

	daemon_init(&sb.d, "sandboxd", argc, argv);
	listen = conf_get(sb.d.conf, "sandbox_listen");
	if (listen == NULL ||
	    parse_listen(listen, host, sizeof(host), &port) == -1)
		log_exit(EX_CONFIG, "sandbox_listen: \"%s\" is not host:port",
		    listen ? listen : "");
	if ((sb.twilio = sbx_twilio_new(&sb, why, sizeof(why))) == NULL ||
	    (sb.whatsapp = sbx_whatsapp_new(&sb, why, sizeof(why))) == NULL ||
	    (sb.messenger = sbx_messenger_new(&sb, why, sizeof(why))) == NULL)
		log_exit(EX_CONFIG, "%s", why);
	if (sb.d.check_only)
		daemon_checked(&sb.d);

	if ((sb.log = sbx_log_new(SBX_LOG_MAX_ENTRIES, SBX_LOG_MAX_BYTES)) == NULL ||
	    (sb.faults = sbx_faults_new()) == NULL ||
	    (sb.out = http_out_new(sb.d.base, SBX_HOOK_CONNS)) == NULL ||
	    (sb.http = evhttp_new(sb.d.base)) == NULL)
		log_exit(EX_TEMP, "out of memory at start");
	evhttp_set_max_body_size(sb.http, SBX_MAX_UPLOAD);
	evhttp_set_max_headers_size(sb.http, SBX_MAX_HEADERS);
	evhttp_set_timeout(sb.http, SBX_IDLE_TIMEOUT_S);
	evhttp_set_allowed_methods(sb.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(sb.http, dispatch, &sb);
	if ((sb.bound = evhttp_bind_socket_with_handle(sb.http, host, port)) == NULL)
		log_exit(EX_TEMP, "cannot listen on %s: %s", listen,
		    strerror(errno));
	sb.d.arg = &sb;
	sb.d.on_term = on_term;
	sb.d.on_hup = on_hup;
	log_info("listening on %s", listen);
	daemon_ready(&sb.d);
	rc = daemon_run(&sb.d);

	/* Webhooks still out after the drain bound end here, then requests. */
	sb.closing = 1;
	http_out_free(sb.out);
	while (sb.chains != NULL)
		sbx_chain_end(sb.chains);
	sbx_twilio_free(sb.twilio);
	sbx_whatsapp_free(sb.whatsapp);
	sbx_messenger_free(sb.messenger);
	evhttp_free(sb.http);
	sbx_faults_free(sb.faults);
	sbx_log_free(sb.log);
	log_info("exiting");
	return rc;
}
