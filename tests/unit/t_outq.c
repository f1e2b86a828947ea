/*
 * t_outq — the shared send queue (lib/outq) on a real event base with a fake
 * provider: no HTTP, the start op decides from the message id what the
 * "provider" does (accept after a delay, accept at once from inside start,
 * retry, hold the recipient, refuse, never answer).  Requests come over a
 * real bus (a server and a client on a Unix socket in a temporary
 * directory) so the answers routerd would get are observed as frames.
 *
 * Pacing is checked by counts against elapsed time (never faster than the
 * bucket or the window allows, and not much slower), never by exact timings.
 * Every wait is bounded by a timer, the whole run by alarm().
 */
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "bus.h"
#include "frame.h"
#include "log.h"
#include "mp.h"
#include "outq.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
	fflush(stdout);
}

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct event_base *base;
static char dir[256], path[300];

static int timed_out;
static struct event *ev_timeout;

static void
on_timeout(evutil_socket_t fd, short ev, void *arg)
{
	timed_out = 1;
	event_base_loopbreak(base);
}

#define WAIT_UNTIL(cond, ms) do {					\
	struct timeval tv_ = { (ms) / 1000, ((ms) % 1000) * 1000 };	\
	timed_out = 0;							\
	evtimer_add(ev_timeout, &tv_);					\
	while (!(cond) && !timed_out)					\
		event_base_loop(base, EVLOOP_ONCE);			\
	evtimer_del(ev_timeout);					\
} while (0)

static void
run_for(int ms)
{
	WAIT_UNTIL(0, ms);
}

/* ---- the fake provider ---- */

#define MAXS	256

static struct outq *q;		/* the queue under test */
static struct {
	char		 msg[64], key[32], to[32];
	long long	 at;
	int		 attempt;
} starts[MAXS];
static int nstarts;
static struct outq_job *parked[MAXS];	/* "never" jobs, still in flight */
static int nparked;
static long complete_ms = 5;	/* async answers after this */
static int nidle, data_allocs, data_frees;

struct pend {
	struct outq_job	*j;
	struct event	*ev;
	int		 action;
};
enum { A_OK, A_RETRY, A_FAIL, A_FOUND, A_AGAIN };

static void
pend_fire(evutil_socket_t fd, short what, void *arg)
{
	struct pend *p = arg;
	char pid[32];

	switch (p->action) {
	case A_OK:
		snprintf(pid, sizeof(pid), "P-%s", outq_job_msg(p->j));
		outq_ok(p->j, pid);
		break;
	case A_RETRY:
		outq_retry_code(p->j, "503", "fake 503", 0);
		break;
	case A_FAIL:
		outq_fail(p->j, "21211", "invalid To");
		break;
	case A_FOUND:
		outq_found(p->j, "P-found");
		break;
	case A_AGAIN:
		outq_again(p->j);
		break;
	}
	event_free(p->ev);
	free(p);
}

static void
later(struct outq_job *j, int action)
{
	struct pend *p = calloc(1, sizeof(*p));
	struct timeval tv = { 0, complete_ms * 1000 };

	p->j = j;
	p->action = action;
	p->ev = evtimer_new(base, pend_fire, p);
	evtimer_add(p->ev, &tv);
}

static int
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static int	starts_of(const char *);

static void
fake_start(struct outq_job *j, void *arg)
{
	const char *m = outq_job_msg(j);
	int a = outq_job_attempts(j);

	if (nstarts < MAXS) {
		snprintf(starts[nstarts].msg, sizeof(starts[0].msg), "%s", m);
		snprintf(starts[nstarts].key, sizeof(starts[0].key), "%s",
		    outq_job_key(j));
		snprintf(starts[nstarts].to, sizeof(starts[0].to), "%s",
		    outq_job_to(j));
		starts[nstarts].at = mono_ms();
		starts[nstarts].attempt = a;
		nstarts++;
	}
	if (strcmp((char *)outq_job_data(j), m) != 0)
		printf("# data of %s is %s\n", m, (char *)outq_job_data(j));
	outq_sending(j);	/* handed to the provider */
	outq_sending(j);	/* told once an attempt */
	if (has_prefix(m, "sync"))
		outq_ok(j, "P-sync");		/* from inside start */
	else if (has_prefix(m, "retry1"))
		later(j, a == 0 ? A_RETRY : A_OK);
	else if (has_prefix(m, "retryall"))
		later(j, A_RETRY);
	else if (has_prefix(m, "hold"))
		if (a == 0)
			outq_hold(j, "131056", 400);	/* from inside start */
		else
			later(j, A_OK);
	else if (has_prefix(m, "fail"))
		later(j, A_FAIL);
	else if (has_prefix(m, "never"))
		parked[nparked++] = j;
	else if (has_prefix(m, "askfound"))
		later(j, A_FOUND);	/* asked: the provider has it */
	else if (has_prefix(m, "askagain"))
		later(j, starts_of(m) == 1 ? A_AGAIN : A_OK);
	else
		later(j, A_OK);
}

static void
fake_free(void *data)
{
	data_frees++;
	free(data);
}

static void
fake_idle(void *arg)
{
	nidle++;
}

/* What ops->progress heard: "msg status attempt code" lines. */
static char progress_log[8192];
static long long progress_next_ts;

static void
fake_progress(const struct outq_job *j, const struct outq_progress *p,
    void *arg)
{
	size_t l = strlen(progress_log);

	snprintf(progress_log + l, sizeof(progress_log) - l, "%s %s %d %s;",
	    outq_job_msg(j), p->status, p->attempt, p->code);
	if (strcmp(p->status, "retrying") == 0)
		progress_next_ts = p->next_ts;
}

static const struct outq_ops ops = {
	.start = fake_start, .free_data = fake_free, .idle = fake_idle,
	.progress = fake_progress,
};

static struct outq *
new_q(double rate, double burst, int window, size_t max_inflight)
{
	struct outq_limits l;

	memset(&l, 0, sizeof(l));
	l.rate = rate;
	l.burst = burst;
	l.window = window;
	l.window_guard_ms = 20;
	l.max_inflight = max_inflight;
	nstarts = nparked = nidle = 0;
	return outq_new(base, &l, &ops, NULL);
}

static int
starts_of(const char *msg)
{
	int i, c = 0;

	for (i = 0; i < nstarts; i++)
		if (strcmp(starts[i].msg, msg) == 0)
			c++;
	return c;
}

static long long
start_at(const char *msg, int attempt)
{
	int i;

	for (i = 0; i < nstarts; i++)
		if (strcmp(starts[i].msg, msg) == 0 &&
		    starts[i].attempt == attempt)
			return starts[i].at;
	return -1;
}

/* ---- the bus: routerd's side is the client ---- */

static int srv_frames;

static void
srv_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	char msg[64], key[32], to[32];
	int64_t id;
	char *data;

	srv_frames++;
	if (!mp_int(f, "id", &id) || !mp_strcpy(f, "msg", msg, sizeof(msg)) ||
	    !mp_strcpy(f, "from", key, sizeof(key)) ||
	    !mp_strcpy(f, "to", to, sizeof(to)))
		return;
	data = strdup(msg);
	data_allocs++;
	outq_submit(q, msg, key, to, data, c, id);
}

static struct bus_conn *srv_conn;

static void
srv_up(struct bus_conn *c, void *arg)
{
	srv_conn = c;
}

static void
srv_down(struct bus_conn *c, void *arg)
{
	if (q != NULL)
		outq_conn_down(q, c);
}

static const struct bus_handlers srv_h = {
	srv_frame, srv_up, srv_down, NULL
};

static int cli_is_up;

static void
cli_up(struct bus_conn *c, void *arg)
{
	cli_is_up = 1;
}

static const struct bus_handlers cli_h = { NULL, cli_up, NULL, NULL };

#define NREQ	256
static struct {
	int	 got, ok, found;
	char	 pid[64], code[32], text[64];
	long long at;
} ans[NREQ];
static int nans, nreq;
static struct bus_conn *cli;

static void
answer_cb(struct bus_conn *c, const msgpack_object *a, void *arg)
{
	intptr_t i = (intptr_t)arg;
	const msgpack_object *e;
	int v = 0;

	ans[i].got++;
	ans[i].at = mono_ms();
	nans++;
	if (a == NULL)
		return;
	if (mp_bool(a, "ok", &v) && v) {
		ans[i].ok = 1;
		mp_strcpy(a, "pid", ans[i].pid, sizeof(ans[i].pid));
		if (mp_bool(a, "found", &v) && v)
			ans[i].found = 1;
	} else if ((e = mp_get(a, "err")) != NULL) {
		mp_strcpy(e, "code", ans[i].code, sizeof(ans[i].code));
		mp_strcpy(e, "msg", ans[i].text, sizeof(ans[i].text));
	}
}

/* Send {t:out, id, msg, from, to}; returns its answer slot. */
static int
out(const char *msg, const char *from, const char *to)
{
	struct fbuf fb;
	int64_t id = bus_next_id(cli);
	int i = nreq++;

	memset(&ans[i], 0, sizeof(ans[i]));
	fbuf_init(&fb);
	fbuf_begin(&fb, 5);
	mp_kv_str(&fb.pk, "t", "out");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "msg", msg);
	mp_kv_str(&fb.pk, "from", from);
	mp_kv_str(&fb.pk, "to", to);
	if (bus_request(cli, &fb, id, answer_cb, (void *)(intptr_t)i) == -1)
		printf("# request %s not sent\n", msg);
	fbuf_free(&fb);
	return i;
}

static void
reset_answers(void)
{
	nreq = nans = 0;
	srv_frames = 0;
}

static void
end_q(void)
{
	outq_free(q);
	q = NULL;
}

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

/* ---- the tests ---- */

/* N jobs at rate r, burst 1: never faster than the bucket, done in ~N/r. */
static void
t_bucket(void)
{
	const int N = 21;
	double rate = 20;
	long long t0, last;
	char m[32];
	int i, early = 0, good = 1;

	q = new_q(rate, 1, 0, 64);
	reset_answers();
	for (i = 0; i < N; i++) {
		snprintf(m, sizeof(m), "b%02d", i);
		out(m, "+15550000001", "+15551110000");
	}
	WAIT_UNTIL(nans >= N, 4000);
	ok(nstarts == N && nans == N, "bucket: every job started once and "
	    "was answered");
	for (i = 0; i < N; i++)
		if (ans[i].got != 1 || !ans[i].ok)
			good = 0;
	ok(good, "bucket: every answer is {ok, pid}");
	t0 = starts[0].at;
	for (i = 1; i < nstarts; i++)
		if (starts[i].at - t0 < (long long)(i * 1000 / rate) - 3)
			early++;
	ok(early == 0, "bucket: start i is never before i / rate");
	last = starts[nstarts - 1].at - t0;
	/* never faster; how much slower a loaded machine is, is not tested */
	ok(last >= 950, "bucket: 21 jobs at 20/s burst 1 take at least a "
	    "second");
	if (!(last >= 950))
		printf("# last start after %lld ms\n", last);
	/* per 250 ms slot: at most 1 + 5 started by its end */
	for (i = 0, good = 1; i < nstarts; i++)
		if (i + 1 > 1 + (int)((starts[i].at - t0) * rate / 1000) + 1)
			good = 0;
	ok(good, "bucket: starts by time t never exceed burst + rate * t");
	end_q();
}

/* A key's own rate (ops->key_rate): "/av" keys at 10/s beside 100/s. */
static double
av_rate(const char *key, void *arg)
{
	size_t n = strlen(key);

	return n > 3 && strcmp(key + n - 3, "/av") == 0 ? 10 : 0;
}

static void
t_key_rate(void)
{
	static const struct outq_ops kops = {
		.start = fake_start, .free_data = fake_free,
		.idle = fake_idle, .key_rate = av_rate,
	};
	struct outq_limits l;
	const int N = 6;
	long long t0 = -1, fast_last = 0, av_first = -1;
	char m[32];
	int i, nav = 0, early = 0;

	memset(&l, 0, sizeof(l));
	l.rate = 100;
	l.burst = 1;
	l.max_inflight = 64;
	nstarts = nparked = nidle = 0;
	q = outq_new(base, &l, &kops, NULL);
	reset_answers();
	for (i = 0; i < N; i++) {
		snprintf(m, sizeof(m), "kr-av%02d", i);
		out(m, "123/av", "+15551110000");
		snprintf(m, sizeof(m), "kr-tx%02d", i);
		out(m, "123", "+15551110000");
	}
	WAIT_UNTIL(nans >= 2 * N, 4000);
	ok(nans == 2 * N && nstarts == 2 * N, "key rate: every job started "
	    "once and was answered");
	for (i = 0; i < nstarts; i++) {
		if (t0 == -1)
			t0 = starts[i].at;
		if (strcmp(starts[i].key, "123") == 0) {
			fast_last = starts[i].at - t0;
			continue;
		}
		if (av_first == -1)
			av_first = starts[i].at;
		if (starts[i].at - av_first < (long long)nav * 100 - 3)
			early++;
		nav++;
	}
	ok(nav == N && early == 0, "key rate: the slow key's start i is never "
	    "before i / 10 s");
	ok(fast_last < 400, "key rate: the other key keeps its own 100/s");
	if (!(fast_last < 400))
		printf("# last fast start after %lld ms\n", fast_last);
	end_q();
}

/* The window: at most rate starts in any 1000 (+ guard) ms per key. */
static void
t_window(void)
{
	const int N = 30;
	char m[32];
	int i, bad = 0, b = 0, nb = 0, ok_b = 1;
	long long gap_min = 1 << 30;

	q = new_q(20, 20, 1, 64);
	reset_answers();
	for (i = 0; i < N; i++) {
		snprintf(m, sizeof(m), "w%02d", i);
		out(m, "106540352242922", "+16505550000");
	}
	out("w-other", "999", "+16505550000");	/* another key: not held */
	WAIT_UNTIL(nans >= N + 1, 4000);
	ok(nans == N + 1 && nstarts == N + 1, "window: every job started "
	    "once and was answered");
	for (i = 0; i < nstarts; i++)
		if (strcmp(starts[i].key, "106540352242922") == 0)
			starts[nb++] = starts[i];
		else
			b = i;
	for (i = 0; i + 20 < nb; i++) {
		if (starts[i + 20].at - starts[i].at < 1000)
			bad++;
		if (starts[i + 20].at - starts[i].at < gap_min)
			gap_min = starts[i + 20].at - starts[i].at;
	}
	ok(nb == N && bad == 0, "window: never more than rate starts in any "
	    "1000 ms");
	if (bad)
		printf("# smallest gap over 20 starts: %lld ms\n", gap_min);
	ok(nb == N && gap_min >= 1020,
	    "window: the 21st start waits for the window (1000 + 20 ms)");
	/* the bucket alone would have let 20 + 20 * t through */
	for (i = 0; i < 20 && i < nb; i++)
		if (starts[i].at - starts[0].at > 300)
			ok_b = 0;
	ok(ok_b, "window: the first burst of 20 went at once");
	(void)b;
	end_q();
}

/* Two requests for one message: one start, both answered together. */
static void
t_dedupe(void)
{
	int a, b, c;

	q = new_q(100, 10, 0, 64);
	reset_answers();
	complete_ms = 100;
	a = out("d1", "K", "+1");
	b = out("d1", "K", "+1");
	c = out("d2", "K", "+2");
	WAIT_UNTIL(nans >= 3, 2000);
	complete_ms = 5;
	ok(starts_of("d1") == 1, "dedupe: a message sent twice starts once");
	ok(ans[a].got == 1 && ans[b].got == 1 && ans[a].ok && ans[b].ok &&
	    strcmp(ans[a].pid, "P-d1") == 0 && strcmp(ans[b].pid, "P-d1") == 0,
	    "dedupe: both requests are answered with the same pid");
	ok(ans[c].ok && starts_of("d2") == 1, "dedupe: another message is "
	    "its own job");
	ok(outq_jobs(q) == 0 && outq_inflight(q) == 0, "dedupe: nothing "
	    "left");
	/* once answered, the same id is a new job (routerd's decision) */
	a = out("d1", "K", "+1");
	WAIT_UNTIL(nans >= 4, 2000);
	ok(ans[a].ok && starts_of("d1") == 2, "dedupe: an answered message "
	    "sent again is a new job");
	a = out("sync1", "K", "+3");
	WAIT_UNTIL(nans >= 5, 2000);
	ok(ans[a].ok && strcmp(ans[a].pid, "P-sync") == 0 &&
	    outq_inflight(q) == 0, "ok from inside start is safe");
	end_q();
}

/* A transient error, then ok; the give-up bound with a short clock. */
static void
t_retry(void)
{
	int a, b;
	long long gap;

	q = new_q(100, 10, 0, 64);
	reset_answers();
	progress_log[0] = '\0';
	a = out("retry1-x", "K", "+1");
	WAIT_UNTIL(nans >= 1, 2500);
	ok(strcmp(progress_log, "retry1-x pending 1 ;retry1-x retrying 2 503;"
	    "retry1-x pending 2 ;") == 0, "progress: pending 1, retrying 2 "
	    "with the code, pending 2");
	if (strcmp(progress_log, "retry1-x pending 1 ;retry1-x retrying 2 "
	    "503;retry1-x pending 2 ;") != 0)
		printf("# progress: %s\n", progress_log);
	ok(progress_next_ts >= time(NULL) - 1 && progress_next_ts <=
	    time(NULL) + 2, "progress: next_ts is the retry's time, Unix "
	    "seconds");
	gap = start_at("retry1-x", 1) - start_at("retry1-x", 0);
	ok(ans[a].ok && starts_of("retry1-x") == 2, "retry: a retried job "
	    "starts again and is answered ok");
	ok(gap >= 250, "retry: the first backoff waits at least 250 ms");
	if (!(gap >= 250))
		printf("# gap %lld ms\n", gap);

	outq_set_giveup(q, 300);
	b = out("retryall-y", "K", "+1");
	WAIT_UNTIL(nans >= 2, 2500);
	ok(ans[b].got == 1 && !ans[b].ok &&
	    strcmp(ans[b].code, "timeout") == 0 &&
	    strcmp(ans[b].text, "fake 503") == 0,
	    "give-up: err {timeout, the last reason} past the bound");
	ok(starts_of("retryall-y") >= 1 && outq_jobs(q) == 0,
	    "give-up: the job is gone");
	end_q();
}

/* 131056: the held recipient waits, others go on. */
static void
t_hold(void)
{
	int a, b, c;
	long long t0;

	q = new_q(100, 10, 0, 64);
	reset_answers();
	t0 = mono_ms();
	a = out("hold-a1", "K", "+1001");
	b = out("a2", "K", "+1001");
	c = out("b1", "K", "+2002");
	WAIT_UNTIL(nans >= 3, 2500);
	ok(ans[a].ok && ans[b].ok && ans[c].ok, "hold: every job is "
	    "answered ok in the end");
	ok(start_at("b1", 0) < start_at("a2", 0), "hold: another recipient is "
	    "not held (its job, queued last, starts before the held one's)");
	ok(start_at("a2", 0) - t0 >= 400 && start_at("hold-a1", 1) - t0 >= 400,
	    "hold: the held recipient's jobs wait the hold (400 ms)");
	ok(starts_of("a2") == 1 && starts_of("hold-a1") == 2,
	    "hold: a job popped while held is not started");
	end_q();
}

/* A sender that cannot send: everything not in flight fails. */
static void
t_fail_key(void)
{
	int a, b, c, d, e;
	size_t nf;

	q = new_q(0.5, 2, 0, 64);	/* two starts, then one per 2 s */
	reset_answers();
	a = out("hold-f0", "F", "+1");	/* held: waits in the heap */
	b = out("never-f1", "F", "+2");	/* in flight */
	c = out("f2", "F", "+3");	/* queued */
	d = out("f3", "F", "+4");
	e = out("g1", "G", "+5");
	WAIT_UNTIL(ans[e].got, 1000);
	run_for(50);
	ok(nparked == 1 && outq_inflight(q) == 1 && outq_jobs(q) == 4,
	    "fail_key: one job in flight, three waiting");
	nidle = 0;
	nf = outq_fail_key(q, "F", "inactive", "token inactive");
	WAIT_UNTIL(nans >= 4, 1000);
	ok(nf == 3, "fail_key: three jobs failed");
	ok(ans[a].got && ans[c].got && ans[d].got &&
	    strcmp(ans[a].code, "inactive") == 0 &&
	    strcmp(ans[c].code, "inactive") == 0 &&
	    strcmp(ans[d].code, "inactive") == 0 &&
	    strcmp(ans[c].text, "token inactive") == 0,
	    "fail_key: answered err {inactive, token inactive}");
	ok(!ans[b].got && outq_inflight(q) == 1 && outq_jobs(q) == 1,
	    "fail_key: the job in flight goes on");
	ok(ans[e].ok, "fail_key: another key was not touched");
	ok(nidle >= 1, "fail_key: idle is called");
	ok(outq_fail_key(q, "nobody", "x", "y") == 0, "fail_key: an unknown "
	    "key fails nothing");
	outq_ok(parked[0], "P-late");
	WAIT_UNTIL(ans[b].got, 1000);
	ok(ans[b].ok && strcmp(ans[b].pid, "P-late") == 0 &&
	    outq_jobs(q) == 0, "fail_key: the in-flight job is answered later");
	end_q();
}

/* Drain: queued jobs are dropped without answers, in flight finishes. */
static void
t_drain(void)
{
	int a, b, c, d, r;
	char *data;

	q = new_q(1, 1, 0, 64);
	reset_answers();
	a = out("never-d1", "D", "+1");
	b = out("d2", "D", "+2");
	c = out("retryall-d3", "E", "+3");
	WAIT_UNTIL(starts_of("retryall-d3") == 1 && nparked == 1, 1000);
	run_for(50);		/* d3 now waits its retry in the heap */
	ok(outq_jobs(q) == 3 && outq_inflight(q) == 1, "drain: one in "
	    "flight, one queued, one waiting a retry");
	nidle = 0;
	outq_drain(q);
	ok(outq_jobs(q) == 1 && outq_inflight(q) == 1 && nidle >= 1,
	    "drain: queued and waiting jobs are dropped (idle called)");
	data = strdup("d4");
	data_allocs++;
	r = outq_submit(q, "d4", "D", "+4", data, srv_conn, 999);
	ok(r == -1, "drain: a new job is not taken");
	run_for(300);
	ok(nans == 0 && !ans[b].got && !ans[c].got, "drain: nothing "
	    "dropped is answered");
	ok(nstarts == 2, "drain: nothing new starts");
	d = nidle;
	outq_ok(parked[0], "P-d1");
	WAIT_UNTIL(ans[a].got, 1000);
	ok(ans[a].ok && outq_jobs(q) == 0 && outq_inflight(q) == 0 &&
	    nidle == d + 1, "drain: the job in flight is still answered");
	end_q();
}

/* A lost connection: its answers are forgotten, the job goes on. */
static void
t_conn_down(void)
{
	char *data;

	q = new_q(100, 10, 0, 64);
	reset_answers();
	data = strdup("never-c1");
	data_allocs++;
	ok(outq_submit(q, "never-c1", "K", "+1", data, srv_conn, 7) == 1,
	    "conn_down: submitted");
	WAIT_UNTIL(nparked == 1, 1000);
	outq_conn_down(q, srv_conn);
	outq_ok(parked[0], "P-c1");
	run_for(50);
	ok(nans == 0 && outq_jobs(q) == 0, "conn_down: no answer to a "
	    "forgotten conn, the job ended");
	end_q();
}

/*
 * A start that only asked the provider whether the message was sent costs
 * no token: found -> {ok, pid, found}; not there -> started again at once,
 * not counted as an attempt.  At 0.1 token a second, burst 1, only the
 * refunds let the second and third starts happen within two seconds.
 */
static void
t_ask(void)
{
	int a, b, c, i, att = 0;

	q = new_q(0.1, 1, 0, 64);
	reset_answers();
	a = out("askfound1", "K", "+1");
	b = out("askagain1", "K", "+2");
	c = out("plain-ask", "K", "+3");
	WAIT_UNTIL(nans >= 2, 2000);
	ok(ans[a].got == 1 && ans[a].ok && ans[a].found &&
	    strcmp(ans[a].pid, "P-found") == 0 && starts_of("askfound1") == 1,
	    "ask: found at the provider: answered {ok, pid, found: true}");
	for (i = 0; i < nstarts; i++)
		if (strcmp(starts[i].msg, "askagain1") == 0)
			att += starts[i].attempt;
	ok(starts_of("askagain1") == 2 && att == 0 && ans[b].ok &&
	    !ans[b].found && strcmp(ans[b].pid, "P-askagain1") == 0,
	    "ask: not there: started again, not as a new attempt, and sent");
	ok(ans[c].got == 0 && starts_of("plain-ask") == 0, "ask: the send "
	    "took the one token the questions gave back; the next waits");
	end_q();
}

static struct bus_server *srv;	/* no bus_server_free: kept reachable */

int
main(void)
{
	char err[256];

	alarm(60);
	signal(SIGPIPE, SIG_IGN);
	log_init("t_outq", 0);
	if (sodium_init() < 0)
		return 99;
	snprintf(dir, sizeof(dir), "%s/t_outq.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(path, sizeof(path), "%s/q.sock", dir);
	if ((base = event_base_new()) == NULL)
		return 99;
	ev_timeout = evtimer_new(base, on_timeout, NULL);
	srv = bus_listen(base, path, &srv_h, NULL, err, sizeof(err));
	ok(srv != NULL, "a bus server for the requests");
	if (srv == NULL) {
		printf("# %s\n1..%d\n", err, n);
		return 1;
	}
	cli = bus_client(base, path, "t_outq", &cli_h, NULL);
	WAIT_UNTIL(cli_is_up && srv_conn != NULL, 2000);
	ok(cli_is_up && srv_conn != NULL, "routerd's side is connected");

	t_bucket();
	t_key_rate();
	t_window();
	t_dedupe();
	t_retry();
	t_hold();
	t_fail_key();
	t_drain();
	t_conn_down();
	t_ask();

	ok(data_allocs == data_frees, "every payload was freed once");
	if (data_allocs != data_frees)
		printf("# %d payloads, %d freed\n", data_allocs, data_frees);

	bus_client_free(cli);
	run_for(20);
	evtimer_del(ev_timeout);
	event_free(ev_timeout);
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
