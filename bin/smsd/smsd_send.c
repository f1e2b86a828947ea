/*
 * smsd_send — routerd's "out" requests to Twilio's Messages API.
 *
 * Each request becomes a job, known by routerd's message id: if routerd sends
 * the same message again while its job is still here (it re-dispatches after
 * a reconnect), the new request waits on the same job and both are answered
 * together, so a message is never posted twice by one smsd.
 *
 * Jobs queue per sender number behind a token bucket (sms_rate per second,
 * sms_burst deep) and at most sms_max_inflight calls run at once.  One evtimer
 * wakes the pump when the next token or retry is due; completions pump too.
 * Twilio's answer decides: 2xx -> {ok, pid:sid}; 429, 5xx, transport errors
 * and timeouts -> retried with capped exponential backoff and jitter (500 ms
 * doubling to 30 s), given up after 10 minutes with err "timeout"; any other
 * status -> err {code: Twilio's code or "http-NNN", msg: Twilio's message}.
 * On drain nothing new starts; queued and waiting jobs are dropped without an
 * answer (routerd still holds them and sends them again later).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>
#include <sodium.h>

#include "bus.h"
#include "form.h"
#include "frame.h"
#include "http_out.h"
#include "log.h"
#include "mp.h"
#include "smsd.h"

#define RETRY_FIRST_MS	500
#define RETRY_CAP_MS	30000
#define RETRY_GIVEUP_MS	(10 * 60 * 1000)
#define TEXT_MAX	(64 * 1024)	/* bytes; Twilio enforces its 1600 chars */
#define ADDR_MAX	128
#define MSGID_MAX	64
#define MEDIA_MAX	10		/* Twilio's MediaUrl limit per message */
#define URL_MAX		1024

enum job_state { J_QUEUED, J_INFLIGHT, J_RETRY };

struct waiter {
	struct bus_conn	*conn;
	int64_t		 re;
};

struct bucket;

struct job {
	struct smsd_send	*ss;
	char		*msg, *from, *to, *text;
	char		*media[MEDIA_MAX];	/* MediaUrl, public URLs */
	size_t		 nmedia;
	struct waiter	*w;
	size_t		 nw, wcap;
	struct bucket	*b;
	enum job_state	 state;
	int		 attempts;
	long long	 first_ms, due_ms;
	size_t		 heapi;			/* in the retry heap */
	struct job	*hnext;			/* msg id hash chain */
	struct job	*qnext;			/* bucket queue */
};

struct bucket {
	char		*from;
	double		 tokens;
	long long	 last_ms;
	struct job	*qhead, *qtail;
	int		 active;
	struct bucket	*hnext;			/* hash chain */
	struct bucket	*anext, *aprev;		/* buckets with queued jobs */
};

struct smsd_send {
	struct smsd	*s;
	struct job	**jtab;			/* by msg id */
	size_t		 jcap, njobs;
	struct bucket	**btab;			/* by sender */
	size_t		 bcap, nbuckets;
	struct bucket	*ahead, *atail;
	struct job	**heap;			/* retries by due time */
	size_t		 nheap, heapcap;
	size_t		 inflight;
	struct event	*timer;
	int		 draining;
};

static void pump(struct smsd_send *);

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

static void *
xreallocarray(void *p, size_t n, size_t sz)
{
	void *q = reallocarray(p, n, sz);

	if (q == NULL)
		fatalx("out of memory");
	return q;
}

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* --- jobs by message id --- */

static struct job *
job_find(struct smsd_send *ss, const char *msg)
{
	struct job *j;

	for (j = ss->jtab[hash(msg) & (ss->jcap - 1)]; j; j = j->hnext)
		if (strcmp(j->msg, msg) == 0)
			return j;
	return NULL;
}

static void
job_insert(struct smsd_send *ss, struct job *j)
{
	struct job **nt, *k, *next;
	size_t i, ncap;

	if (ss->njobs + 1 > ss->jcap) {		/* keep the load under 1 */
		ncap = ss->jcap * 2;
		nt = xcalloc(ncap, sizeof(*nt));
		for (i = 0; i < ss->jcap; i++)
			for (k = ss->jtab[i]; k; k = next) {
				next = k->hnext;
				k->hnext = nt[hash(k->msg) & (ncap - 1)];
				nt[hash(k->msg) & (ncap - 1)] = k;
			}
		free(ss->jtab);
		ss->jtab = nt;
		ss->jcap = ncap;
	}
	i = hash(j->msg) & (ss->jcap - 1);
	j->hnext = ss->jtab[i];
	ss->jtab[i] = j;
	ss->njobs++;
}

static void
job_free(struct smsd_send *ss, struct job *j)
{
	struct job **pp;
	size_t i;

	for (pp = &ss->jtab[hash(j->msg) & (ss->jcap - 1)]; *pp;
	    pp = &(*pp)->hnext)
		if (*pp == j) {
			*pp = j->hnext;
			ss->njobs--;
			break;
		}
	free(j->msg);
	free(j->from);
	free(j->to);
	if (j->text)
		sodium_memzero(j->text, strlen(j->text));
	free(j->text);
	for (i = 0; i < j->nmedia; i++)
		free(j->media[i]);
	free(j->w);
	free(j);
}

static void
job_wait(struct job *j, struct bus_conn *c, int64_t re)
{
	if (j->nw == j->wcap) {
		j->wcap = j->wcap ? j->wcap * 2 : 2;
		j->w = xreallocarray(j->w, j->wcap, sizeof(*j->w));
	}
	j->w[j->nw].conn = c;
	j->w[j->nw].re = re;
	j->nw++;
}

/* --- the retry heap (min by due_ms) --- */

static void
heap_swap(struct smsd_send *ss, size_t a, size_t b)
{
	struct job *t = ss->heap[a];

	ss->heap[a] = ss->heap[b];
	ss->heap[b] = t;
	ss->heap[a]->heapi = a;
	ss->heap[b]->heapi = b;
}

static void
heap_push(struct smsd_send *ss, struct job *j)
{
	size_t i, p;

	if (ss->nheap == ss->heapcap) {
		ss->heapcap = ss->heapcap ? ss->heapcap * 2 : 64;
		ss->heap = xreallocarray(ss->heap, ss->heapcap,
		    sizeof(*ss->heap));
	}
	i = ss->nheap++;
	ss->heap[i] = j;
	j->heapi = i;
	while (i > 0 && ss->heap[p = (i - 1) / 2]->due_ms >
	    ss->heap[i]->due_ms) {
		heap_swap(ss, i, p);
		i = p;
	}
}

static struct job *
heap_pop(struct smsd_send *ss)
{
	struct job *top = ss->heap[0];
	size_t i = 0, l, r, m;

	ss->heap[0] = ss->heap[--ss->nheap];
	ss->heap[0]->heapi = 0;
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < ss->nheap && ss->heap[l]->due_ms < ss->heap[m]->due_ms)
			m = l;
		if (r < ss->nheap && ss->heap[r]->due_ms < ss->heap[m]->due_ms)
			m = r;
		if (m == i)
			break;
		heap_swap(ss, i, m);
		i = m;
	}
	return top;
}

/* --- token buckets per sender --- */

static struct bucket *
bucket_get(struct smsd_send *ss, const char *from)
{
	struct bucket *b, **nt, *k, *next;
	size_t i, ncap;

	for (b = ss->btab[hash(from) & (ss->bcap - 1)]; b; b = b->hnext)
		if (strcmp(b->from, from) == 0)
			return b;
	if (ss->nbuckets + 1 > ss->bcap) {
		ncap = ss->bcap * 2;
		nt = xcalloc(ncap, sizeof(*nt));
		for (i = 0; i < ss->bcap; i++)
			for (k = ss->btab[i]; k; k = next) {
				next = k->hnext;
				k->hnext = nt[hash(k->from) & (ncap - 1)];
				nt[hash(k->from) & (ncap - 1)] = k;
			}
		free(ss->btab);
		ss->btab = nt;
		ss->bcap = ncap;
	}
	b = xcalloc(1, sizeof(*b));
	if ((b->from = strdup(from)) == NULL)
		fatalx("out of memory");
	b->tokens = (double)ss->s->cf.burst;
	b->last_ms = daemon_now_ms();
	i = hash(from) & (ss->bcap - 1);
	b->hnext = ss->btab[i];
	ss->btab[i] = b;
	ss->nbuckets++;
	return b;
}

static void
bucket_refill(struct smsd_send *ss, struct bucket *b, long long now)
{
	double burst = (double)ss->s->cf.burst;

	if (now > b->last_ms) {
		b->tokens += (double)(now - b->last_ms) *
		    (double)ss->s->cf.rate / 1000.0;
		b->last_ms = now;
	}
	if (b->tokens > burst)
		b->tokens = burst;
}

static void
bucket_activate(struct smsd_send *ss, struct bucket *b)
{
	if (b->active)
		return;
	b->active = 1;
	b->anext = NULL;
	b->aprev = ss->atail;
	if (ss->atail)
		ss->atail->anext = b;
	else
		ss->ahead = b;
	ss->atail = b;
}

static void
bucket_deactivate(struct smsd_send *ss, struct bucket *b)
{
	if (!b->active)
		return;
	if (b->aprev)
		b->aprev->anext = b->anext;
	else
		ss->ahead = b->anext;
	if (b->anext)
		b->anext->aprev = b->aprev;
	else
		ss->atail = b->aprev;
	b->active = 0;
	b->anext = b->aprev = NULL;
}

static void
queue_tail(struct smsd_send *ss, struct job *j)
{
	struct bucket *b = j->b;

	j->state = J_QUEUED;
	j->qnext = NULL;
	if (b->qtail)
		b->qtail->qnext = j;
	else
		b->qhead = j;
	b->qtail = j;
	bucket_activate(ss, b);
}

/* A retry goes before the sender's newer messages. */
static void
queue_head(struct smsd_send *ss, struct job *j)
{
	struct bucket *b = j->b;

	j->state = J_QUEUED;
	j->qnext = b->qhead;
	b->qhead = j;
	if (b->qtail == NULL)
		b->qtail = j;
	bucket_activate(ss, b);
}

static struct job *
queue_pop(struct bucket *b)
{
	struct job *j = b->qhead;

	if (j != NULL) {
		b->qhead = j->qnext;
		if (b->qhead == NULL)
			b->qtail = NULL;
		j->qnext = NULL;
	}
	return j;
}

/* --- answers --- */

static void
answer_ok(struct job *j, const char *sid)
{
	struct fbuf fb;
	size_t i;

	fbuf_init(&fb);
	for (i = 0; i < j->nw; i++) {
		bus_answer_begin(&fb, j->w[i].re, 1);
		mp_kv_str(&fb.pk, "pid", sid);
		if (bus_send(j->w[i].conn, &fb) == -1)
			log_warnx("msg=%s: sent as %s but routerd is gone; "
			    "it will be sent again", j->msg, sid);
	}
	fbuf_free(&fb);
}

static void
answer_err(struct job *j, const char *code, const char *msg)
{
	size_t i;

	for (i = 0; i < j->nw; i++)
		if (bus_answer_err(j->w[i].conn, j->w[i].re, code, msg) == -1)
			log_warnx("msg=%s: failed (%s) but routerd is gone",
			    j->msg, code);
}

/* --- the provider call --- */

static void sent(const struct http_resp *, void *);

static void
retry_or_fail(struct smsd_send *ss, struct job *j, const char *why)
{
	long long now = daemon_now_ms(), d;
	int shift = j->attempts < 16 ? j->attempts : 16;

	j->attempts++;
	d = (long long)RETRY_FIRST_MS << shift;
	if (d > RETRY_CAP_MS)
		d = RETRY_CAP_MS;
	d = d / 2 + (long long)randombytes_uniform((uint32_t)(d / 2 + 1));
	if (ss->draining) {
		log_info("msg=%s: %s; not retried while draining (routerd "
		    "sends it again)", j->msg, why);
		job_free(ss, j);
		return;
	}
	if (now + d - j->first_ms > RETRY_GIVEUP_MS) {
		log_warnx("msg=%s: %s; gave up after %d attempts", j->msg, why,
		    j->attempts);
		answer_err(j, "timeout", why);
		job_free(ss, j);
		return;
	}
	if (j->attempts == 1)
		log_warnx("msg=%s: %s; retrying", j->msg, why);
	else
		log_debug("msg=%s: %s; retry %d in %lld ms", j->msg, why,
		    j->attempts, d);
	j->state = J_RETRY;
	j->due_ms = now + d;
	heap_push(ss, j);
}

static void
start(struct smsd_send *ss, struct job *j)
{
	static const char *hdrs[] = {
		"Content-Type: application/x-www-form-urlencoded",
		"Accept: application/json",
		NULL,
	};
	struct smsd_conf *cf = &ss->s->cf;
	struct http_req rq;
	struct form f;
	char *body;
	size_t len, i;
	int r;

	form_init(&f);
	form_add(&f, "To", j->to);
	form_add(&f, "From", j->from);
	/* with media the body may be empty: Twilio then sends the media only */
	if (j->text[0] != '\0' || j->nmedia == 0)
		form_add(&f, "Body", j->text);
	for (i = 0; i < j->nmedia; i++)
		form_add(&f, "MediaUrl", j->media[i]);
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
	r = http_out_start(ss->s->ho, &rq, sent, j);
	sodium_memzero(body, len);
	free(body);
	form_free(&f);
	if (r == -1) {
		retry_or_fail(ss, j, "HTTP request could not be started");
		return;
	}
	j->state = J_INFLIGHT;
	ss->inflight++;
	log_debug("msg=%s: posting to the Messages API (attempt %d)", j->msg,
	    j->attempts + 1);
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
	struct job *j = arg;
	struct smsd_send *ss = j->ss;
	json_t *root = NULL, *sid;
	json_error_t je;
	char code[64], msg[512], why[300];

	ss->inflight--;
	if (r->status >= 200 && r->status < 300) {
		root = json_loadb(r->body, r->bodylen, 0, &je);
		sid = root ? json_object_get(root, "sid") : NULL;
		if (json_is_string(sid) && json_string_length(sid) > 0) {
			log_debug("msg=%s: accepted as %s", j->msg,
			    json_string_value(sid));
			answer_ok(j, json_string_value(sid));
		} else {
			log_warnx("msg=%s: HTTP %ld without a message sid",
			    j->msg, r->status);
			answer_err(j, "provider",
			    "the provider's answer carried no message sid");
		}
		json_decref(root);
		job_free(ss, j);
	} else if (r->status == 0 || r->status == 429 || r->status >= 500) {
		if (r->status == 0)
			snprintf(why, sizeof(why), "%s", r->timed_out ?
			    "provider timed out" : r->error ? r->error :
			    "transport error");
		else
			snprintf(why, sizeof(why), "provider answered HTTP %ld",
			    r->status);
		retry_or_fail(ss, j, why);
	} else {
		provider_error(r, code, sizeof(code), msg, sizeof(msg));
		log_info("msg=%s: refused by the provider: %s (HTTP %ld)",
		    j->msg, code, r->status);
		answer_err(j, code, msg);
		job_free(ss, j);
	}
	pump(ss);
	smsd_drain_check(ss->s);
}

/* --- pacing --- */

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

/*
 * Start what the buckets and the in-flight bound allow, round robin over the
 * senders, and arm the timer for the next token or retry that is due.
 */
static void
pump(struct smsd_send *ss)
{
	long long now = daemon_now_ms(), wake = -1, w;
	size_t max = (size_t)ss->s->cf.max_inflight;
	double rate = (double)ss->s->cf.rate;
	struct bucket *b, *next;
	struct job *j;
	int progress;

	if (ss->draining) {
		evtimer_del(ss->timer);
		return;
	}
	while (ss->nheap > 0 && ss->heap[0]->due_ms <= now)
		queue_head(ss, heap_pop(ss));
	do {
		progress = 0;
		for (b = ss->ahead; b != NULL && ss->inflight < max;
		    b = b->anext) {
			bucket_refill(ss, b, now);
			if (b->qhead == NULL || b->tokens < 1.0)
				continue;
			j = queue_pop(b);
			b->tokens -= 1.0;
			start(ss, j);	/* may put j in the retry heap */
			progress = 1;
		}
	} while (progress && ss->inflight < max);
	for (b = ss->ahead; b != NULL; b = next) {
		next = b->anext;
		if (b->qhead == NULL) {
			bucket_deactivate(ss, b);
			continue;
		}
		if (ss->inflight >= max)
			continue;	/* a completion pumps again */
		bucket_refill(ss, b, now);
		if (b->tokens < 1.0) {
			w = now + (long long)((1.0 - b->tokens) * 1000.0 /
			    rate) + 1;
			if (wake == -1 || w < wake)
				wake = w;
		}
	}
	if (ss->nheap > 0 && (wake == -1 || ss->heap[0]->due_ms < wake))
		wake = ss->heap[0]->due_ms;
	if (wake == -1) {
		evtimer_del(ss->timer);
	} else {
		struct timeval tv;

		w = wake > now ? wake - now : 1;
		tv.tv_sec = w / 1000;
		tv.tv_usec = (w % 1000) * 1000;
		if (evtimer_add(ss->timer, &tv) == -1)
			log_warnx("cannot arm the pacing timer");
	}
}

/* --- requests from routerd --- */

void
smsd_send_frame(struct smsd *s, struct bus_conn *c, const msgpack_object *f)
{
	struct smsd_send *ss = s->send;
	char msg[MSGID_MAX], from[ADDR_MAX], to[ADDR_MAX];
	const char *text, *ch, *u;
	const msgpack_object *media, *e;
	size_t tlen, chlen, ul, i;
	struct job *j;
	int64_t id;

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
	if (tlen > TEXT_MAX || memchr(text, '\0', tlen) != NULL) {
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
	if ((j = job_find(ss, msg)) != NULL) {
		log_debug("msg=%s: sent again while in progress; answered "
		    "together", msg);
		job_wait(j, c, id);
		return;
	}
	if (ss->draining) {
		/* not answered: routerd gets "lost" and dispatches it later */
		log_debug("msg=%s: not taken while draining", msg);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->ss = ss;
	if ((j->msg = strdup(msg)) == NULL || (j->from = strdup(from)) ==
	    NULL || (j->to = strdup(to)) == NULL ||
	    (j->text = strndup(text, tlen)) == NULL)
		fatalx("out of memory");
	for (i = 0; media != NULL && i < media->via.array.size; i++) {
		mp_str(&media->via.array.ptr[i], "url", &u, &ul);
		if ((j->media[j->nmedia++] = strndup(u, ul)) == NULL)
			fatalx("out of memory");
	}
	j->first_ms = daemon_now_ms();
	j->b = bucket_get(ss, from);
	job_wait(j, c, id);
	job_insert(ss, j);
	queue_tail(ss, j);
	pump(ss);
}

void
smsd_send_conn_down(struct smsd *s, struct bus_conn *c)
{
	struct smsd_send *ss = s->send;
	struct job *j;
	size_t i, k, o;

	if (ss == NULL)
		return;
	for (i = 0; i < ss->jcap; i++)
		for (j = ss->jtab[i]; j; j = j->hnext) {
			for (k = o = 0; k < j->nw; k++)
				if (j->w[k].conn != c)
					j->w[o++] = j->w[k];
			j->nw = o;
		}
}

int
smsd_send_start(struct smsd *s, const struct bus_handlers *h, char *err,
    size_t errsz)
{
	struct smsd_send *ss;
	char path[4096];

	ss = xcalloc(1, sizeof(*ss));
	ss->s = s;
	ss->jcap = 256;
	ss->jtab = xcalloc(ss->jcap, sizeof(*ss->jtab));
	ss->bcap = 16;
	ss->btab = xcalloc(ss->bcap, sizeof(*ss->btab));
	if ((ss->timer = evtimer_new(s->d.base, on_timer, ss)) == NULL) {
		snprintf(err, errsz, "evtimer_new failed");
		return -1;
	}
	s->send = ss;
	s->srv = bus_listen(s->d.base, daemon_path(&s->d, "run/smsd.sock",
	    path, sizeof(path)), h, s, err, errsz);
	return s->srv ? 0 : -1;
}

void
smsd_send_drain(struct smsd *s)
{
	struct smsd_send *ss = s->send;
	struct bucket *b;
	struct job *j;
	size_t dropped = 0;

	if (ss == NULL)
		return;
	ss->draining = 1;
	evtimer_del(ss->timer);
	while ((b = ss->ahead) != NULL) {
		while ((j = queue_pop(b)) != NULL) {
			job_free(ss, j);
			dropped++;
		}
		bucket_deactivate(ss, b);
	}
	while (ss->nheap > 0) {
		job_free(ss, heap_pop(ss));
		dropped++;
	}
	if (dropped)
		log_info("draining: %zu queued messages left for routerd to "
		    "send again", dropped);
}

size_t
smsd_send_inflight(struct smsd *s)
{
	return s->send ? s->send->inflight : 0;
}

void
smsd_send_reconf(struct smsd *s)
{
	if (s->send)
		pump(s->send);
}

void
smsd_send_free(struct smsd *s)
{
	struct smsd_send *ss = s->send;
	struct bucket *b, *bn;
	struct job *j, *jn;
	size_t i;

	if (ss == NULL)
		return;
	/* in-flight calls die with http_out_free, which never calls back */
	for (i = 0; i < ss->jcap; i++)
		for (j = ss->jtab[i]; j; j = jn) {
			jn = j->hnext;
			ss->jtab[i] = jn;
			ss->njobs--;
			j->hnext = NULL;
			free(j->msg);
			free(j->from);
			free(j->to);
			free(j->text);
			while (j->nmedia > 0)
				free(j->media[--j->nmedia]);
			free(j->w);
			free(j);
		}
	for (i = 0; i < ss->bcap; i++)
		for (b = ss->btab[i]; b; b = bn) {
			bn = b->hnext;
			free(b->from);
			free(b);
		}
	event_free(ss->timer);
	free(ss->jtab);
	free(ss->btab);
	free(ss->heap);
	free(ss);
	s->send = NULL;
}
