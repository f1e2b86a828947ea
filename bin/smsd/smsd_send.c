/*
 * smsd_send — routerd's "out" requests to Twilio's Messages API.
 *
 * Each request becomes an lib/outq job known by routerd's message id (so a
 * message sent again while in progress is posted once and both requests are
 * answered), keyed by the sender number: outq paces each sender with a token
 * bucket (sms_rate per second, sms_burst deep), bounds the calls in flight
 * (sms_max_inflight), retries and drains.  This file knows Twilio: it checks
 * the frame, builds the form and maps the answer: 2xx -> {ok, pid:sid}; 429,
 * 5xx, transport errors and timeouts -> retried (outq's capped backoff, given
 * up after 10 minutes with err "timeout"); any other status -> err {code:
 * Twilio's code or "http-NNN", msg: Twilio's message}.
 *
 * A request routerd marks {again: true, queued: ms} may have been sent
 * before: smsd (or its answer) died after Twilio accepted it.  Before
 * posting it, smsd asks: it lists Twilio's messages from the same number to
 * the same recipient, newest first, page after page until they are older
 * than the time the message was queued, and one with the same body (and
 * number of media) created since then is taken as this message: answered
 * {ok, pid, found: true}, not sent twice, and a final status the list shows
 * goes to routerd as its lost callback would have.  Not filtered by
 * DateSent: a message Twilio still holds queued has no date_sent yet, and
 * those are the ones most likely in doubt.  Asking costs no pacing token
 * (outq gives it back).  When the list cannot be read (a 4xx) the message
 * is sent, at least once as before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>
#include <sodium.h>

#include "bus.h"
#include "edge.h"
#include "form.h"
#include "frame.h"
#include "http_out.h"
#include "log.h"
#include "mp.h"
#include "outq.h"
#include "proto.h"
#include "smsd.h"

#define ADDR_MAX	128
#define MSGID_MAX	64
#define MEDIA_MAX	10		/* Twilio's MediaUrl limit per message */
#define URL_MAX		1024
#define LOOKUP_PAGE_SIZE 100		/* messages per page asked for */
#define LOOKUP_MAX_PAGES 50		/* then give up asking: send */
#define LOOKUP_SKEW_S	2		/* whole seconds, and clocks differ */

/* What one "out" asks for beyond msg, from and to (outq's job data). */
struct sms_out {
	struct smsd	*s;
	char		*text;
	char		*media[MEDIA_MAX];	/* MediaUrl, public URLs */
	size_t		 nmedia;
	int		 again;		/* may have been sent before: ask */
	int		 asked;		/* asked, not found: send */
	long long	 queued_ms;	/* when routerd queued it */
	int		 pages;		/* list pages read so far */
};

static void
out_free(void *data)
{
	struct sms_out *o = data;
	size_t i;

	if (o->text) {
		sodium_memzero(o->text, strlen(o->text));
		free(o->text);
	}
	for (i = 0; i < o->nmedia; i++)
		free(o->media[i]);
	free(o);
}

/* Twilio's error "code" (number or string) and "message" from a body. */
static void
provider_error(const struct http_resp *r, char *code, size_t codesz,
    char *msg, size_t msgsz)
{
	json_t *root, *c, *m;
	json_error_t je;

	snprintf(code, codesz, "http-%ld", r->status);
	snprintf(msg, msgsz, "HTTP %ld", r->status);
	root = json_loadb(r->body, r->bodylen, 0, &je);
	if (root == NULL || !json_is_object(root))
		goto done;
	c = json_object_get(root, "code");
	if (json_is_integer(c))
		snprintf(code, codesz, "%lld", (long long)json_integer_value(c));
	else if (json_is_string(c) && json_string_length(c) > 0)
		snprintf(code, codesz, "%s", json_string_value(c));
	m = json_object_get(root, "message");
	if (json_is_string(m) && json_string_length(m) > 0)
		snprintf(msg, msgsz, "%s", json_string_value(m));
done:
	json_decref(root);
}

static void
sent(const struct http_resp *r, void *arg)
{
	struct outq_job *j = arg;
	const char *msg = outq_job_msg(j);
	json_t *root = NULL, *sid;
	json_error_t je;
	char code[64], text[512], why[300];

	if (r->status >= 200 && r->status < 300) {
		root = json_loadb(r->body, r->bodylen, 0, &je);
		sid = root ? json_object_get(root, "sid") : NULL;
		if (json_is_string(sid) && json_string_length(sid) > 0) {
			outq_ok(j, json_string_value(sid));
		} else {
			log_warnx("msg=%s: HTTP %ld without a message sid",
			    msg, r->status);
			outq_fail(j, "provider",
			    "the provider's answer carried no message sid");
		}
		json_decref(root);
	} else if (r->status == 0 || r->status == 429 || r->status >= 500) {
		if (r->status == 0) {
			snprintf(code, sizeof(code), "%s", r->timed_out ?
			    "timeout" : "transport");
			snprintf(why, sizeof(why), "%s", r->timed_out ?
			    "provider timed out" : r->error ? r->error :
			    "transport error");
		} else {
			/* Twilio's code when its body has one */
			provider_error(r, code, sizeof(code), text,
			    sizeof(text));
			snprintf(why, sizeof(why), "provider answered HTTP %ld",
			    r->status);
		}
		outq_retry_code(j, code, why, 0);
	} else {
		provider_error(r, code, sizeof(code), text, sizeof(text));
		log_info("msg=%s: refused by the provider: %s (HTTP %ld)",
		    msg, code, r->status);
		outq_fail(j, code, text);
	}
}

/* --- was it sent before?  Twilio's list of messages --- */

static void	lookup_get(struct outq_job *, const char *url);

/* Twilio's RFC 2822 date ("Thu, 30 Jul 2015 20:12:31 +0000"); -1 if not. */
static time_t
rfc2822_parse(const char *s)
{
	struct tm tm;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm)) == NULL ||
	    strcmp(p, " +0000") != 0)
		return (time_t)-1;
	return timegm(&tm);
}

static void
status_answered(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	/* stored, or a duplicate routerd already had: nothing to do */
}

/*
 * A found message's final status as Twilio's list shows it, to routerd as
 * its callback would have brought it: a callback posted while smsd was
 * down is lost (Twilio does not retry them).  routerd keeps a status once.
 */
static void
forward_status(struct smsd *s, const char *pid, json_t *m)
{
	const char *st = json_string_value(json_object_get(m, "status"));
	json_t *ec = json_object_get(m, "error_code");
	struct fbuf fb;
	char code[32] = "";
	int64_t id;

	if (st == NULL || (strcmp(st, "delivered") != 0 &&
	    strcmp(st, "undelivered") != 0 && strcmp(st, "failed") != 0 &&
	    strcmp(st, "read") != 0))
		return;		/* not final: its callbacks are still to come */
	if (s->e.router == NULL || !bus_is_up(s->e.router))
		return;
	if (json_is_integer(ec))
		snprintf(code, sizeof(code), "%lld",
		    (long long)json_integer_value(ec));
	id = bus_next_id(s->e.router);
	fbuf_init(&fb);
	fbuf_begin(&fb, 6 + (code[0] != '\0'));
	mp_kv_str(&fb.pk, "t", "st");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "channel", "sms");
	mp_kv_str(&fb.pk, "pid", pid);
	mp_kv_str(&fb.pk, "status", st);
	mp_kv_int(&fb.pk, "ts", daemon_now_ms());
	if (code[0] != '\0')
		mp_kv_str(&fb.pk, "code", code);
	if (bus_request(s->e.router, &fb, id, status_answered, NULL) == -1)
		log_debug("sid=%s: status %s not passed on: routerd is gone",
		    pid, st);
	fbuf_free(&fb);
}

/*
 * One page of the list: j's message (same recipient, sender and body,
 * created since it was queued) -> found; a page reaching older messages,
 * or the last page -> not there, send it; else the next page.
 */
static void
looked(const struct http_resp *r, void *arg)
{
	struct outq_job *j = arg;
	struct sms_out *o = outq_job_data(j);
	struct smsd_conf *cf = &o->s->cf;
	const char *msg = outq_job_msg(j), *sid = NULL, *next;
	json_t *root = NULL, *msgs, *m = NULL, *nx;
	json_error_t je;
	time_t since = (time_t)(o->queued_ms / 1000) - LOOKUP_SKEW_S, t;
	char why[300], prefix[256], *url = NULL;
	size_t i;
	int older = 0;

	if (r->status == 0 || r->status == 429 || r->status >= 500) {
		snprintf(why, sizeof(why), "asking the provider: %s",
		    r->status == 0 ? (r->timed_out ? "timed out" :
		    r->error ? r->error : "transport error") : "HTTP error");
		outq_retry(j, why, 0);	/* asked again, from the first page */
		return;
	}
	if (r->status < 200 || r->status >= 300 ||
	    (root = json_loadb(r->body, r->bodylen, 0, &je)) == NULL ||
	    !json_is_array(msgs = json_object_get(root, "messages"))) {
		log_warnx("msg=%s: cannot ask the provider whether it was sent "
		    "(HTTP %ld); sending it, it may arrive twice", msg,
		    r->status);
		goto send;
	}
	o->pages++;
	json_array_foreach(msgs, i, m) {
		const char *to = json_string_value(json_object_get(m, "to"));
		const char *from = json_string_value(json_object_get(m, "from"));
		const char *body = json_string_value(json_object_get(m, "body"));
		const char *dc = json_string_value(json_object_get(m,
		    "date_created"));
		const char *dir = json_string_value(json_object_get(m,
		    "direction"));
		const char *nm = json_string_value(json_object_get(m,
		    "num_media"));

		if (dc == NULL || (t = rfc2822_parse(dc)) == (time_t)-1)
			continue;
		if (t < since) {
			older = 1;	/* newest first: the rest are older */
			break;
		}
		if (to != NULL && from != NULL && body != NULL && dir != NULL &&
		    strncmp(dir, "outbound", 8) == 0 &&
		    strcmp(to, outq_job_to(j)) == 0 &&
		    strcmp(from, outq_job_key(j)) == 0 &&
		    strcmp(body, o->text) == 0 &&
		    (nm == NULL || strtol(nm, NULL, 10) == (long)o->nmedia) &&
		    (sid = json_string_value(json_object_get(m, "sid"))) != NULL &&
		    *sid != '\0')
			break;
		sid = NULL;
	}
	if (sid != NULL) {
		log_info("msg=%s: already at the provider as %s (its answer was "
		    "lost); not sent again", msg, sid);
		forward_status(o->s, sid, m);
		outq_found(j, sid);
		json_decref(root);
		return;
	}
	nx = json_object_get(root, "next_page_uri");
	next = json_string_value(nx);
	snprintf(prefix, sizeof(prefix), "/2010-04-01/Accounts/%s/Messages.json?",
	    cf->sid);
	if (older || next == NULL || *next == '\0') {
		log_debug("msg=%s: not at the provider (%d pages); sending", msg,
		    o->pages);
		goto send;
	}
	if (strncmp(next, prefix, strlen(prefix)) != 0 ||
	    o->pages >= LOOKUP_MAX_PAGES) {
		log_warnx("msg=%s: gave up asking the provider after %d pages; "
		    "sending it, it may arrive twice", msg, o->pages);
		goto send;
	}
	if (asprintf(&url, "%s%s", cf->api_url, next) == -1)
		fatalx("out of memory");
	json_decref(root);
	lookup_get(j, url);
	free(url);
	return;
send:
	json_decref(root);
	o->asked = 1;
	outq_again(j);		/* started again: this time posted */
}

/* GET one page of the list for j. */
static void
lookup_get(struct outq_job *j, const char *url)
{
	static const char *hdrs[] = { "Accept: application/json", NULL };
	struct sms_out *o = outq_job_data(j);
	struct smsd_conf *cf = &o->s->cf;
	struct http_req rq;

	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.url = url;
	rq.userpwd = cf->userpwd;
	rq.headers = hdrs;
	rq.timeout_ms = (long)cf->http_timeout_ms;
	if (http_out_start(o->s->e.ho, &rq, looked, j) == -1)
		outq_retry(j, "HTTP request could not be started", 0);
}

/* Ask Twilio for j's message: the first page of To, From, newest first. */
static void
lookup_start(struct smsd *s, struct outq_job *j)
{
	struct sms_out *o = outq_job_data(j);
	struct form f;
	char *q, *url, size[16];
	size_t len;

	o->pages = 0;
	snprintf(size, sizeof(size), "%d", LOOKUP_PAGE_SIZE);
	form_init(&f);
	form_add(&f, "To", outq_job_to(j));
	form_add(&f, "From", outq_job_key(j));
	form_add(&f, "PageSize", size);
	q = form_encode(&f, &len);
	if (asprintf(&url, "%s?%s", s->cf.msgs_url, q) == -1)
		fatalx("out of memory");
	log_debug("msg=%s: may have been sent before; asking the provider",
	    outq_job_msg(j));
	lookup_get(j, url);
	free(url);
	free(q);
	form_free(&f);
}

/* outq's start op: ask first when it may have been sent, else post j to
 * the Messages API. */
static void
start(struct outq_job *j, void *arg)
{
	static const char *hdrs[] = {
		"Content-Type: application/x-www-form-urlencoded",
		"Accept: application/json",
		NULL,
	};
	struct smsd *s = arg;
	struct smsd_conf *cf = &s->cf;
	struct sms_out *o = outq_job_data(j);
	struct http_req rq;
	struct form f;
	char *body;
	size_t len, i;
	int r;

	if (o->again && !o->asked) {
		lookup_start(s, j);
		return;
	}
	form_init(&f);
	form_add(&f, "To", outq_job_to(j));
	form_add(&f, "From", outq_job_key(j));
	/* with media the body may be empty: Twilio then sends the media only */
	if (o->text[0] != '\0' || o->nmedia == 0)
		form_add(&f, "Body", o->text);
	for (i = 0; i < o->nmedia; i++)
		form_add(&f, "MediaUrl", o->media[i]);
	form_add(&f, "StatusCallback", cf->status_cb);
	body = form_encode(&f, &len);
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = cf->msgs_url;
	rq.userpwd = cf->userpwd;
	rq.headers = hdrs;
	rq.body = body;
	rq.bodylen = len;
	rq.timeout_ms = (long)cf->http_timeout_ms;
	r = http_out_start(s->e.ho, &rq, sent, j);
	sodium_memzero(body, len);
	free(body);
	form_free(&f);
	if (r == -1) {
		outq_retry_code(j, "transport", "HTTP request could not be "
		    "started", 0);
		return;
	}
	outq_sending(j);	/* routerd hears "pending" */
	log_debug("msg=%s: posting to the Messages API (attempt %d)",
	    outq_job_msg(j), outq_job_attempts(j) + 1);
}

static void
on_idle(void *arg)
{
	struct smsd *s = arg;

	edge_drain_check(&s->e);
}

/* outq's progress: pending and retrying, told to routerd */
static void
on_progress(const struct outq_job *j, const struct outq_progress *p,
    void *arg)
{
	struct smsd *s = arg;

	edge_progress(&s->e, "sms", outq_job_msg(j), p);
}

static const struct outq_ops sms_ops = {
	.start = start, .free_data = out_free, .idle = on_idle,
	.progress = on_progress,
};

static void
limits(const struct smsd_conf *cf, struct outq_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->rate = (double)cf->rate;
	l->burst = (double)cf->burst;
	l->window = 0;		/* a plain bucket, as Twilio queues itself */
	l->max_inflight = (size_t)cf->max_inflight;
}

/* --- requests from routerd --- */

void
smsd_send_frame(struct smsd *s, struct bus_conn *c, const msgpack_object *f)
{
	char msg[MSGID_MAX], from[ADDR_MAX], to[ADDR_MAX];
	const char *text, *ch, *u;
	const msgpack_object *media, *e;
	size_t tlen, chlen, ul, i;
	struct sms_out *o;
	int64_t id, queued = 0;
	int again = 0;

	if (!mp_int(f, "id", &id)) {
		log_warnx("%s: out request without id ignored", bus_name(c));
		return;
	}
	if (!mp_strcpy(f, "msg", msg, sizeof(msg)) || msg[0] == '\0' ||
	    !mp_strcpy(f, "from", from, sizeof(from)) || from[0] == '\0' ||
	    !mp_strcpy(f, "to", to, sizeof(to)) || to[0] == '\0' ||
	    !mp_str(f, "text", &text, &tlen)) {
		bus_answer_err(c, id, "invalid", "out needs msg, from, to and "
		    "text strings");
		return;
	}
	if (mp_str(f, "channel", &ch, &chlen) &&
	    (chlen != 3 || memcmp(ch, "sms", 3) != 0)) {
		bus_answer_err(c, id, "invalid", "smsd sends channel sms only");
		return;
	}
	if (tlen > PROTO_TEXT_MAX || memchr(text, '\0', tlen) != NULL) {
		bus_answer_err(c, id, "invalid", "text too long or with NUL");
		return;
	}
	/* media: [{url, mime?}], public http(s) URLs Twilio fetches */
	if ((media = mp_get(f, "media")) != NULL &&
	    media->type == MSGPACK_OBJECT_NIL)
		media = NULL;
	if (media != NULL && (media->type != MSGPACK_OBJECT_ARRAY ||
	    media->via.array.size > MEDIA_MAX)) {
		bus_answer_err(c, id, "invalid", "media must be a list of at "
		    "most 10 {url}");
		return;
	}
	for (i = 0; media != NULL && i < media->via.array.size; i++) {
		e = &media->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_MAP ||
		    !mp_str(e, "url", &u, &ul) || ul == 0 || ul > URL_MAX ||
		    memchr(u, '\0', ul) != NULL) {
			bus_answer_err(c, id, "invalid", "media needs a url "
			    "string each");
			return;
		}
	}
	/* may have been sent before: {again: true, queued: ms} */
	if (mp_get(f, "again") != NULL && (!mp_bool(f, "again", &again) ||
	    (again && (!mp_int(f, "queued", &queued) || queued <= 0)))) {
		bus_answer_err(c, id, "invalid", "again is true or false, and "
		    "comes with queued, a time in milliseconds");
		return;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (o->text = strndup(text, tlen)) == NULL)
		fatalx("out of memory");
	o->s = s;
	o->again = again;
	o->queued_ms = queued;
	for (i = 0; media != NULL && i < media->via.array.size; i++) {
		mp_str(&media->via.array.ptr[i], "url", &u, &ul);
		if ((o->media[o->nmedia++] = strndup(u, ul)) == NULL)
			fatalx("out of memory");
	}
	/* o is outq's now, whatever the outcome */
	outq_submit(s->e.q, msg, from, to, o, c, id);
}

void
smsd_send_start(struct smsd *s)
{
	struct outq_limits l;

	limits(&s->cf, &l);
	s->e.q = outq_new(s->e.d.base, &l, &sms_ops, s);
}

void
smsd_send_reconf(struct smsd *s)
{
	struct outq_limits l;

	if (s->e.q == NULL)
		return;
	limits(&s->cf, &l);
	outq_set_limits(s->e.q, &l);
}
