/*
 * outq — the send queue every channel daemon shares (see outq.h for the
 * contract).  It grew out of smsd's pacing and now also carries WhatsApp's
 * needs: a sliding one-second window on top of the token bucket (Meta counts
 * messages per second per number, and a bucket alone lets rate+burst through
 * in one second), per-recipient holds (131056: too many messages to one
 * user) and failing every waiting job of a sender whose token went inactive.
 *
 * Jobs live in a hash by message id (dedupe), and in exactly one of: their
 * key's FIFO (queued), the heap by due time (waiting a retry or a hold), or
 * nowhere (in flight: the daemon's HTTP callback holds the pointer).  Keys
 * with queued jobs are on a round-robin list.  Nothing here starts a job from
 * inside an answer: completions only mark the pump as due and an event runs
 * it, so the daemon's start op may end its own job at once.
 *
 * Times are CLOCK_MONOTONIC milliseconds: a wall-clock step must not stall
 * or burst the pacing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "bus.h"
#include "daemon.h"
#include "frame.h"
#include "htab.h"
#include "log.h"
#include "mp.h"
#include "outq.h"
#include "str.h"

#define RETRY_FIRST_MS	500
#define RETRY_CAP_MS	30000
#define RETRY_GIVEUP_MS	(10 * 60 * 1000)
#define WINDOW_MS	1000
#define RING_MAX	100000	/* window slots per key (rate is bounded anyway) */

enum job_state { J_QUEUED, J_INFLIGHT, J_WAIT };

struct waiter {
	struct bus_conn	*conn;
	int64_t		 re;
};

struct okey;

struct outq_job {
	struct outq	*q;
	struct okey	*k;
	char		*msg, *to;
	void		*data;
	struct waiter	*w;
	size_t		 nw, wcap;
	enum job_state	 state;
	int		 attempts;
	int		 told;		/* attempt told "pending" (progress) */
	long long	 first_ms, due_ms;
	size_t		 heapi;		/* in the heap (J_WAIT) */
	struct htab_node hn;		/* in q->jobs, by msg id */
	struct outq_job	*qnext;		/* key FIFO */
};

/* A recipient held until some time (131056). */
struct ohold {
	char		*to;
	long long	 until_ms;
	struct ohold	*next;
};

struct okey {
	char		*key;
	double		 rate, burst;	/* this key's (ops->key_rate) */
	double		 tokens;
	long long	 last_ms;
	long long	*ring;		/* start times, oldest at ring[rhead] */
	size_t		 rcap, rlen, rhead;
	struct ohold	*holds;
	struct outq_job	*qhead, *qtail;
	int		 active;
	struct htab_node hn;		/* in q->keys, by key */
	struct okey	*anext, *aprev;	/* keys with queued jobs */
};

struct outq {
	struct event_base *base;
	struct outq_limits lim;
	struct outq_ops	 ops;
	void		*arg;
	struct htab	 jobs;		/* struct outq_job by msg id */
	struct htab	 keys;		/* struct okey by key */
	struct okey	*ahead, *atail;
	size_t		 nactive;
	struct outq_job	**heap;		/* J_WAIT jobs by due_ms */
	size_t		 nheap, heapcap;
	size_t		 inflight;
	struct event	*timer;		/* next token, slot, retry or hold */
	struct event	*ev_pump;	/* deferred pump */
	int		 pumping;
	int		 draining;
	long		 giveup_ms;
};

static void pump(struct outq *);

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
	void *r = reallocarray(p, n, sz);

	if (r == NULL)
		fatalx("out of memory");
	return r;
}

static int
job_eq(const struct htab_node *n, const void *key, size_t keylen)
{
	const struct outq_job *j = HTAB_ENTRY(n, struct outq_job, hn);

	return strlen(j->msg) == keylen && memcmp(j->msg, key, keylen) == 0;
}

static int
key_eq(const struct htab_node *n, const void *key, size_t keylen)
{
	const struct okey *k = HTAB_ENTRY(n, struct okey, hn);

	return strlen(k->key) == keylen && memcmp(k->key, key, keylen) == 0;
}

/* d/2 .. d, uniformly */
static long long
jitter(long long d)
{
	if (d <= 1)
		return d;
	if (d > 0x7fffffff)
		d = 0x7fffffff;
	return d / 2 + (long long)randombytes_uniform((uint32_t)(d / 2 + 1));
}

/* Mark the pump as due: it runs from the event loop, never from here. */
static void
pump_later(struct outq *q)
{
	event_active(q->ev_pump, EV_TIMEOUT, 0);
}

/* --- jobs by message id --- */

static struct outq_job *
job_find(struct outq *q, const char *msg)
{
	struct htab_node *n;

	n = htab_find(&q->jobs, msg, strlen(msg), job_eq);
	return n ? HTAB_ENTRY(n, struct outq_job, hn) : NULL;
}

static void
job_insert(struct outq *q, struct outq_job *j)
{
	if (htab_insert(&q->jobs, &j->hn, j->msg, strlen(j->msg)) == -1)
		fatalx("out of memory");
}

/* Unlink j from the hash and free it (it is in no queue or heap). */
static void
job_free(struct outq *q, struct outq_job *j)
{
	htab_remove(&q->jobs, &j->hn);
	if (q->ops.free_data != NULL && j->data != NULL)
		q->ops.free_data(j->data);
	free(j->msg);
	free(j->to);
	free(j->w);
	free(j);
}

static void
job_wait(struct outq_job *j, struct bus_conn *c, int64_t re)
{
	if (j->nw == j->wcap) {
		j->wcap = j->wcap ? j->wcap * 2 : 2;
		j->w = xreallocarray(j->w, j->wcap, sizeof(*j->w));
	}
	j->w[j->nw].conn = c;
	j->w[j->nw].re = re;
	j->nw++;
}

/* --- the heap of waiting jobs (min by due_ms) --- */

static void
heap_swap(struct outq *q, size_t a, size_t b)
{
	struct outq_job *t = q->heap[a];

	q->heap[a] = q->heap[b];
	q->heap[b] = t;
	q->heap[a]->heapi = a;
	q->heap[b]->heapi = b;
}

static void
heap_up(struct outq *q, size_t i)
{
	size_t p;

	while (i > 0 && q->heap[p = (i - 1) / 2]->due_ms >
	    q->heap[i]->due_ms) {
		heap_swap(q, i, p);
		i = p;
	}
}

static void
heap_down(struct outq *q, size_t i)
{
	size_t l, r, m;

	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < q->nheap && q->heap[l]->due_ms < q->heap[m]->due_ms)
			m = l;
		if (r < q->nheap && q->heap[r]->due_ms < q->heap[m]->due_ms)
			m = r;
		if (m == i)
			break;
		heap_swap(q, i, m);
		i = m;
	}
}

static void
heap_push(struct outq *q, struct outq_job *j)
{
	if (q->nheap == q->heapcap) {
		q->heapcap = q->heapcap ? q->heapcap * 2 : 64;
		q->heap = xreallocarray(q->heap, q->heapcap, sizeof(*q->heap));
	}
	j->state = J_WAIT;
	j->heapi = q->nheap++;
	q->heap[j->heapi] = j;
	heap_up(q, j->heapi);
}

/* Take j (anywhere in the heap) out of it. */
static void
heap_remove(struct outq *q, struct outq_job *j)
{
	size_t i = j->heapi;

	if (i >= q->nheap || q->heap[i] != j)
		fatalx("outq: job not in the heap");
	q->nheap--;
	if (i != q->nheap) {
		q->heap[i] = q->heap[q->nheap];
		q->heap[i]->heapi = i;
		heap_down(q, i);
		heap_up(q, i);
	}
}

/* --- keys: bucket, window ring, holds, FIFO --- */

static size_t
ring_cap(const struct okey *k)
{
	double c = ceil(k->rate);

	if (c < 1)
		c = 1;
	if (c > RING_MAX)
		c = RING_MAX;
	return (size_t)c;
}

/* Resize k's ring to cap, keeping the newest start times. */
static void
ring_resize(struct okey *k, size_t cap)
{
	long long *nr;
	size_t i, n, skip;

	if (k->ring != NULL && k->rcap == cap)
		return;
	nr = xcalloc(cap, sizeof(*nr));
	n = k->rlen < cap ? k->rlen : cap;
	skip = k->rlen - n;
	for (i = 0; i < n; i++)
		nr[i] = k->ring[(k->rhead + skip + i) % k->rcap];
	free(k->ring);
	k->ring = nr;
	k->rcap = cap;
	k->rlen = n;
	k->rhead = 0;
}

static void
ring_add(struct okey *k, long long now)
{
	if (k->rlen == k->rcap) {
		k->ring[k->rhead] = now;
		k->rhead = (k->rhead + 1) % k->rcap;
	} else
		k->ring[(k->rhead + k->rlen++) % k->rcap] = now;
}

/* With the window on: when k may start again (<= now: it may). */
static long long
window_free_at(struct outq *q, struct okey *k)
{
	if (!q->lim.window || k->ring == NULL || k->rlen < k->rcap)
		return 0;
	return k->ring[k->rhead] + WINDOW_MS + q->lim.window_guard_ms;
}

/* k's rate and bucket depth: the daemon's for this key, else the limits';
 * a slower key gets a proportionally shallower bucket (at least 1). */
static void
key_limits(struct outq *q, struct okey *k)
{
	double r = q->ops.key_rate ? q->ops.key_rate(k->key, q->arg) : 0;

	if (!(r > 0) || r == q->lim.rate) {
		k->rate = q->lim.rate;
		k->burst = q->lim.burst;
		return;
	}
	k->rate = r;
	k->burst = q->lim.burst * r / q->lim.rate;
	if (k->burst < 1)
		k->burst = 1;
}

static struct okey *
key_get(struct outq *q, const char *key)
{
	struct htab_node *n;
	struct okey *k;

	if ((n = htab_find(&q->keys, key, strlen(key), key_eq)) != NULL)
		return HTAB_ENTRY(n, struct okey, hn);
	k = xcalloc(1, sizeof(*k));
	k->key = str_dup(key);
	key_limits(q, k);
	k->tokens = k->burst;
	k->last_ms = daemon_mono_ms();
	if (q->lim.window)
		ring_resize(k, ring_cap(k));
	if (htab_insert(&q->keys, &k->hn, k->key, strlen(k->key)) == -1)
		fatalx("out of memory");
	return k;
}

static void
key_refill(struct outq *q, struct okey *k, long long now)
{
	if (now > k->last_ms) {
		k->tokens += (double)(now - k->last_ms) * k->rate / 1000.0;
		k->last_ms = now;
	}
	if (k->tokens > k->burst)
		k->tokens = k->burst;
}

/* When k's bucket has a whole token (<= now: it has). */
static long long
token_at(struct outq *q, struct okey *k, long long now)
{
	if (k->tokens >= 1.0)
		return now;
	return now + (long long)ceil((1.0 - k->tokens) * 1000.0 /
	    k->rate);
}

/* Until when to is held on k (0: not held); forgets holds that ended. */
static long long
hold_until(struct okey *k, const char *to, long long now)
{
	struct ohold **pp = &k->holds, *h;
	long long until = 0;

	while ((h = *pp) != NULL) {
		if (h->until_ms <= now) {
			*pp = h->next;
			free(h->to);
			free(h);
			continue;
		}
		if (strcmp(h->to, to) == 0)
			until = h->until_ms;
		pp = &h->next;
	}
	return until;
}

static void
hold_set(struct okey *k, const char *to, long long until)
{
	struct ohold *h;

	for (h = k->holds; h != NULL; h = h->next)
		if (strcmp(h->to, to) == 0) {
			if (until > h->until_ms)
				h->until_ms = until;
			return;
		}
	h = xcalloc(1, sizeof(*h));
	h->to = str_dup(to);
	h->until_ms = until;
	h->next = k->holds;
	k->holds = h;
}

static void
key_activate(struct outq *q, struct okey *k)
{
	if (k->active)
		return;
	k->active = 1;
	k->anext = NULL;
	k->aprev = q->atail;
	if (q->atail)
		q->atail->anext = k;
	else
		q->ahead = k;
	q->atail = k;
	q->nactive++;
}

static void
key_deactivate(struct outq *q, struct okey *k)
{
	if (!k->active)
		return;
	if (k->aprev)
		k->aprev->anext = k->anext;
	else
		q->ahead = k->anext;
	if (k->anext)
		k->anext->aprev = k->aprev;
	else
		q->atail = k->aprev;
	k->active = 0;
	k->anext = k->aprev = NULL;
	q->nactive--;
}

/* Round robin: k goes to the end of the active list. */
static void
key_rotate(struct outq *q, struct okey *k)
{
	if (!k->active || q->atail == k)
		return;
	key_deactivate(q, k);
	key_activate(q, k);
}

static void
queue_tail(struct outq *q, struct outq_job *j)
{
	struct okey *k = j->k;

	j->state = J_QUEUED;
	j->qnext = NULL;
	if (k->qtail)
		k->qtail->qnext = j;
	else
		k->qhead = j;
	k->qtail = j;
	key_activate(q, k);
}

/* A retried job goes before its key's newer jobs. */
static void
queue_head(struct outq *q, struct outq_job *j)
{
	struct okey *k = j->k;

	j->state = J_QUEUED;
	j->qnext = k->qhead;
	k->qhead = j;
	if (k->qtail == NULL)
		k->qtail = j;
	key_activate(q, k);
}

static struct outq_job *
queue_pop(struct okey *k)
{
	struct outq_job *j = k->qhead;

	if (j != NULL) {
		k->qhead = j->qnext;
		if (k->qhead == NULL)
			k->qtail = NULL;
		j->qnext = NULL;
	}
	return j;
}

/* --- answers and the end of a job --- */

static void
answer_ok(struct outq_job *j, const char *pid, int found)
{
	struct fbuf fb;
	size_t i;

	fbuf_init(&fb);
	for (i = 0; i < j->nw; i++) {
		bus_answer_begin(&fb, j->w[i].re, found ? 2 : 1);
		mp_kv_str(&fb.pk, "pid", pid);
		if (found)
			mp_kv_bool(&fb.pk, "found", 1);
		if (bus_send(j->w[i].conn, &fb) == -1)
			log_warnx("msg=%s: sent as %s but routerd is gone; "
			    "it will be sent again", j->msg, pid);
	}
	fbuf_free(&fb);
}

static void
answer_err(struct outq_job *j, const char *code, const char *msg)
{
	size_t i;

	for (i = 0; i < j->nw; i++)
		if (bus_answer_err(j->w[i].conn, j->w[i].re, code, msg) == -1)
			log_warnx("msg=%s: failed (%s) but routerd is gone",
			    j->msg, code);
}

static void
idle(struct outq *q)
{
	if (q->ops.idle != NULL)
		q->ops.idle(q->arg);
}

/* An in-flight job ends (answered or dropped): free it, pump later. */
static void
job_end(struct outq_job *j)
{
	struct outq *q = j->q;

	if (j->state != J_INFLIGHT)
		fatalx("outq: msg=%s ended while not in flight", j->msg);
	q->inflight--;
	job_free(q, j);
	pump_later(q);
	idle(q);
}

/*
 * j (in flight) waits until due (a retry or a hold); answered "timeout"
 * instead when that is past the give-up bound, dropped when draining.
 */
static void
job_defer(struct outq_job *j, const char *code, const char *why,
    long long due, long long now)
{
	struct outq_progress p;

	struct outq *q = j->q;

	if (j->state != J_INFLIGHT)
		fatalx("outq: msg=%s deferred while not in flight", j->msg);
	if (q->draining) {
		log_info("msg=%s: %s; not retried while draining (routerd "
		    "sends it again)", j->msg, why);
		job_end(j);
		return;
	}
	if (due - j->first_ms > q->giveup_ms) {
		log_warnx("msg=%s: %s; gave up after %d attempts", j->msg, why,
		    j->attempts);
		answer_err(j, "timeout", why);
		job_end(j);
		return;
	}
	q->inflight--;
	j->due_ms = due;
	heap_push(q, j);
	pump_later(q);
	if (q->ops.progress != NULL) {
		memset(&p, 0, sizeof(p));
		p.status = "retrying";
		p.attempt = j->attempts + 1;
		p.next_ts = (daemon_now_ms() + (due - now) + 999) / 1000;
		p.code = code ? code : "";
		p.reason = why;
		q->ops.progress(j, &p, q->arg);
	}
}

/* --- the pump --- */

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

static void
on_pump(evutil_socket_t fd, short what, void *arg)
{
	pump(arg);
}

/*
 * Try to start k's next job; 1 if the queue changed (a start, or a held
 * recipient's job moved to the heap).
 */
static int
try_start(struct outq *q, struct okey *k, long long now)
{
	struct outq_job *j;
	long long until;

	if (k->qhead == NULL)
		return 0;
	key_refill(q, k, now);
	if (k->tokens < 1.0 || window_free_at(q, k) > now)
		return 0;
	j = queue_pop(k);
	if ((until = hold_until(k, j->to, now)) > 0) {
		log_debug("msg=%s: recipient held for %lld ms more", j->msg,
		    until - now);
		j->due_ms = until;
		heap_push(q, j);
		return 1;
	}
	k->tokens -= 1.0;
	if (k->ring != NULL)
		ring_add(k, now);
	j->state = J_INFLIGHT;
	q->inflight++;
	q->ops.start(j, q->arg);	/* may end or defer j at once */
	return 1;
}

/*
 * Start what the buckets, windows and the in-flight bound allow, round robin
 * over the keys, and arm the timer for the next token, slot or due job.
 */
static void
pump(struct outq *q)
{
	long long now, wake = -1, w;
	struct outq_job *due = NULL, *j;
	struct okey *k, *next;
	struct timeval tv;
	size_t i, n;
	int progress;

	if (q->draining) {
		evtimer_del(q->timer);
		return;
	}
	if (q->pumping) {
		pump_later(q);
		return;
	}
	q->pumping = 1;
	now = daemon_mono_ms();
	/* due jobs go back to the head of their queues, oldest due first */
	while (q->nheap > 0 && q->heap[0]->due_ms <= now) {
		j = q->heap[0];
		heap_remove(q, j);
		j->qnext = due;
		due = j;
	}
	while ((j = due) != NULL) {
		due = j->qnext;
		queue_head(q, j);
	}
	do {
		progress = 0;
		n = q->nactive;
		for (i = 0; i < n && q->ahead != NULL &&
		    q->inflight < q->lim.max_inflight; i++) {
			k = q->ahead;
			key_rotate(q, k);
			if (try_start(q, k, now))
				progress = 1;
		}
	} while (progress && q->inflight < q->lim.max_inflight);
	for (k = q->ahead; k != NULL; k = next) {
		next = k->anext;
		if (k->qhead == NULL) {
			key_deactivate(q, k);
			continue;
		}
		if (q->inflight >= q->lim.max_inflight)
			continue;	/* a completion pumps again */
		key_refill(q, k, now);
		w = token_at(q, k, now);
		if (window_free_at(q, k) > w)
			w = window_free_at(q, k);
		if (w <= now)
			w = now + 1;
		if (wake == -1 || w < wake)
			wake = w;
	}
	if (q->nheap > 0 && (wake == -1 || q->heap[0]->due_ms < wake))
		wake = q->heap[0]->due_ms;
	if (wake == -1) {
		evtimer_del(q->timer);
	} else {
		w = wake > now ? wake - now : 1;
		tv.tv_sec = w / 1000;
		tv.tv_usec = (w % 1000) * 1000;
		if (evtimer_add(q->timer, &tv) == -1)
			log_warnx("cannot arm the pacing timer");
	}
	q->pumping = 0;
}

/* --- the API --- */

static void
limits_copy(struct outq *q, const struct outq_limits *l)
{
	q->lim = *l;
	if (!(q->lim.rate > 0))
		q->lim.rate = 1;
	if (q->lim.burst < 1)
		q->lim.burst = 1;
	if (q->lim.max_inflight < 1)
		q->lim.max_inflight = 1;
	if (q->lim.window_guard_ms < 0)
		q->lim.window_guard_ms = 0;
}

struct outq *
outq_new(struct event_base *base, const struct outq_limits *l,
    const struct outq_ops *ops, void *arg)
{
	struct outq *q = xcalloc(1, sizeof(*q));

	q->base = base;
	limits_copy(q, l);
	q->ops = *ops;
	q->arg = arg;
	q->giveup_ms = RETRY_GIVEUP_MS;
	htab_init(&q->jobs);
	htab_init(&q->keys);
	if ((q->timer = evtimer_new(base, on_timer, q)) == NULL ||
	    (q->ev_pump = event_new(base, -1, 0, on_pump, q)) == NULL)
		fatalx("out of memory");
	return q;
}

void
outq_set_limits(struct outq *q, const struct outq_limits *l)
{
	struct htab_iter it;
	struct htab_node *n;
	struct okey *k;

	limits_copy(q, l);
	htab_iter_init(&it, &q->keys);
	while ((n = htab_iter_next(&it)) != NULL) {
		k = HTAB_ENTRY(n, struct okey, hn);
		key_limits(q, k);
		if (k->tokens > k->burst)
			k->tokens = k->burst;
		if (q->lim.window)
			ring_resize(k, ring_cap(k));
	}
	pump_later(q);
}

void
outq_set_giveup(struct outq *q, long ms)
{
	q->giveup_ms = ms > 0 ? ms : RETRY_GIVEUP_MS;
}

void
outq_free(struct outq *q)
{
	struct htab_iter it;
	struct htab_node *n;
	struct okey *k;
	struct ohold *h, *hn;

	if (q == NULL)
		return;
	htab_iter_init(&it, &q->jobs);
	while ((n = htab_iter_next(&it)) != NULL)
		job_free(q, HTAB_ENTRY(n, struct outq_job, hn));
	htab_iter_init(&it, &q->keys);
	while ((n = htab_iter_next(&it)) != NULL) {
		k = HTAB_ENTRY(n, struct okey, hn);
		for (h = k->holds; h; h = hn) {
			hn = h->next;
			free(h->to);
			free(h);
		}
		free(k->ring);
		free(k->key);
		free(k);
	}
	event_free(q->timer);
	event_free(q->ev_pump);
	htab_free(&q->jobs);
	htab_free(&q->keys);
	free(q->heap);
	free(q);
}

int
outq_submit(struct outq *q, const char *msg, const char *key, const char *to,
    void *data, struct bus_conn *c, int64_t re)
{
	struct outq_job *j;

	if ((j = job_find(q, msg)) != NULL) {
		log_debug("msg=%s: sent again while in progress; answered "
		    "together", msg);
		job_wait(j, c, re);
		if (q->ops.free_data != NULL && data != NULL)
			q->ops.free_data(data);
		return 0;
	}
	if (q->draining) {
		/* not answered: routerd gets "lost" and dispatches it later */
		log_debug("msg=%s: not taken while draining", msg);
		if (q->ops.free_data != NULL && data != NULL)
			q->ops.free_data(data);
		return -1;
	}
	j = xcalloc(1, sizeof(*j));
	j->q = q;
	j->msg = str_dup(msg);
	j->to = str_dup(to);
	j->data = data;
	j->first_ms = daemon_mono_ms();
	j->k = key_get(q, key);
	job_wait(j, c, re);
	job_insert(q, j);
	queue_tail(q, j);
	pump_later(q);
	return 1;
}

const char *
outq_job_msg(const struct outq_job *j)
{
	return j->msg;
}

const char *
outq_job_key(const struct outq_job *j)
{
	return j->k->key;
}

const char *
outq_job_to(const struct outq_job *j)
{
	return j->to;
}

void *
outq_job_data(const struct outq_job *j)
{
	return j->data;
}

int
outq_job_attempts(const struct outq_job *j)
{
	return j->attempts;
}

void
outq_ok(struct outq_job *j, const char *pid)
{
	log_debug("msg=%s: accepted as %s", j->msg, pid);
	answer_ok(j, pid, 0);
	job_end(j);
}

/*
 * Give back the bucket token j's start took: the call it made was not a
 * send.  The window ring keeps the start (at worst a little slower).
 */
static void
token_refund(struct outq_job *j)
{
	struct okey *k = j->k;

	k->tokens += 1.0;
	if (k->tokens > k->burst)
		k->tokens = k->burst;
}

void
outq_found(struct outq_job *j, const char *pid)
{
	log_debug("msg=%s: found at the provider as %s", j->msg, pid);
	token_refund(j);
	answer_ok(j, pid, 1);
	job_end(j);
}

void
outq_again(struct outq_job *j)
{
	struct outq *q = j->q;

	if (j->state != J_INFLIGHT)
		fatalx("outq: msg=%s started again while not in flight", j->msg);
	token_refund(j);
	if (q->draining) {
		log_info("msg=%s: not started again while draining (routerd "
		    "sends it again)", j->msg);
		job_end(j);
		return;
	}
	q->inflight--;
	queue_head(q, j);
	pump_later(q);
}

void
outq_fail(struct outq_job *j, const char *code, const char *msg)
{
	answer_err(j, code, msg);
	job_end(j);
}

void
outq_sending(struct outq_job *j)
{
	struct outq *q = j->q;
	struct outq_progress p;

	if (j->state != J_INFLIGHT || j->told == j->attempts + 1 ||
	    q->ops.progress == NULL)
		return;
	j->told = j->attempts + 1;
	memset(&p, 0, sizeof(p));
	p.status = "pending";
	p.attempt = j->attempts + 1;
	p.code = p.reason = "";
	q->ops.progress(j, &p, q->arg);
}

void
outq_retry(struct outq_job *j, const char *why, long min_delay_ms)
{
	outq_retry_code(j, NULL, why, min_delay_ms);
}

void
outq_retry_code(struct outq_job *j, const char *code, const char *why,
    long min_delay_ms)
{
	long long now = daemon_mono_ms(), d;
	int shift = j->attempts < 16 ? j->attempts : 16;

	j->attempts++;
	d = (long long)RETRY_FIRST_MS << shift;
	if (d > RETRY_CAP_MS)
		d = RETRY_CAP_MS;
	d = jitter(d);
	if (d < min_delay_ms)
		d = min_delay_ms;
	if (!j->q->draining && d + now - j->first_ms <= j->q->giveup_ms) {
		if (j->attempts == 1)
			log_warnx("msg=%s: %s; retrying", j->msg, why);
		else
			log_debug("msg=%s: %s; retry %d in %lld ms", j->msg,
			    why, j->attempts, d);
	}
	job_defer(j, code, why, now + d, now);
}

void
outq_hold(struct outq_job *j, const char *why, long ms)
{
	outq_hold_code(j, NULL, why, ms);
}

void
outq_hold_code(struct outq_job *j, const char *code, const char *why,
    long ms)
{
	long long now = daemon_mono_ms(), until;

	j->attempts++;
	if (ms < 1)
		ms = 1;
	/* plus up to a fifth more, so held recipients do not all wake at once */
	until = now + ms + (long long)randombytes_uniform(
	    (uint32_t)(ms / 5 + 1));
	hold_set(j->k, j->to, until);
	if (!j->q->draining && until - j->first_ms <= j->q->giveup_ms)
		log_info("msg=%s: %s; recipient held for %lld ms", j->msg, why,
		    until - now);
	job_defer(j, code, why, until, now);
}

size_t
outq_fail_key(struct outq *q, const char *key, const char *code,
    const char *msg)
{
	struct htab_node *hn;
	struct okey *k;
	struct outq_job *j;
	size_t i, n = 0;

	if ((hn = htab_find(&q->keys, key, strlen(key), key_eq)) == NULL)
		return 0;
	k = HTAB_ENTRY(hn, struct okey, hn);
	/* the FIFO; k stays on the active list (the pump drops it) */
	while ((j = queue_pop(k)) != NULL) {
		answer_err(j, code, msg);
		job_free(q, j);
		n++;
	}
	for (i = 0; i < q->nheap; ) {
		j = q->heap[i];
		if (j->k != k) {
			i++;
			continue;
		}
		heap_remove(q, j);	/* another job moved to i: look again */
		answer_err(j, code, msg);
		job_free(q, j);
		n++;
	}
	if (n > 0) {
		log_info("%zu queued messages from %s failed: %s", n, key,
		    code);
		pump_later(q);
		idle(q);
	}
	return n;
}

void
outq_conn_down(struct outq *q, struct bus_conn *c)
{
	struct htab_iter it;
	struct htab_node *n;
	struct outq_job *j;
	size_t k, o;

	htab_iter_init(&it, &q->jobs);
	while ((n = htab_iter_next(&it)) != NULL) {
		j = HTAB_ENTRY(n, struct outq_job, hn);
		for (k = o = 0; k < j->nw; k++)
			if (j->w[k].conn != c)
				j->w[o++] = j->w[k];
		j->nw = o;
	}
}

void
outq_drain(struct outq *q)
{
	struct outq_job *j;
	struct okey *k;
	size_t dropped = 0;

	q->draining = 1;
	evtimer_del(q->timer);
	event_del(q->ev_pump);
	while ((k = q->ahead) != NULL) {
		while ((j = queue_pop(k)) != NULL) {
			job_free(q, j);
			dropped++;
		}
		key_deactivate(q, k);
	}
	while (q->nheap > 0) {
		j = q->heap[0];
		heap_remove(q, j);
		job_free(q, j);
		dropped++;
	}
	if (dropped) {
		log_info("draining: %zu queued messages left for routerd to "
		    "send again", dropped);
		idle(q);
	}
}

size_t
outq_inflight(const struct outq *q)
{
	return q->inflight;
}

size_t
outq_jobs(const struct outq *q)
{
	return htab_count(&q->jobs);
}

void
outq_kick(struct outq *q)
{
	pump(q);	/* from inside the pump: deferred */
}
