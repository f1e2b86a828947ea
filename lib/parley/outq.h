/*
 * outq — the send queue every channel daemon shares (smsd, whatsappd, ...).
 *
 * routerd sends {t:"out", id, msg, ...} requests; the channel daemon turns
 * each into a job known by routerd's message id (msg).  If routerd sends the
 * same message again while its job is still here (it re-dispatches after a
 * reconnect), the request waits on the same job and both are answered
 * together, so one daemon never posts a message twice.
 *
 * Jobs queue per key (the sender: a Twilio number, a WhatsApp phone-number
 * id, a Page) behind a token bucket (rate per second, burst deep; a key
 * may have its own rate, ops->key_rate) and, when
 * limits.window is set, a sliding window: at most rate starts in any
 * 1000 + window_guard_ms milliseconds, so the provider never counts more than
 * rate in one second even with some jitter on the way.  Keys are served round
 * robin; at most max_inflight calls run at once.  One evtimer wakes the pump
 * when the next token, window slot, hold or retry is due.
 *
 * The daemon supplies ops->start, called with the job already counted in
 * flight.  start builds and starts the provider call and returns; the job
 * then ends with exactly one of outq_ok, outq_fail, outq_retry or outq_hold
 * (or, when the call only asked whether the message was already sent,
 * outq_found or outq_again),
 * called from the HTTP completion (or from start itself when the call cannot
 * be made).  Those never start other jobs directly: the pump runs again from
 * the event loop, so calling them from inside start is safe.
 *
 * Retries back off from 500 ms doubling to 30 s, each delay with jitter
 * (half to all of it); a job still failing 10 minutes after it arrived is
 * answered err {code:"timeout", msg: the last reason}.  A retried job goes
 * before its key's newer jobs.  On drain nothing new starts; queued and
 * waiting jobs are dropped without an answer (routerd still holds them and
 * sends them again).
 */
#ifndef PARLEY_OUTQ_H
#define PARLEY_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

struct bus_conn;
struct outq;
struct outq_job;

struct outq_limits {
	double	rate;		/* starts per second per key, > 0 */
	double	burst;		/* token bucket depth, >= 1 */
	int	window;		/* 1: also at most rate starts per second */
	long	window_guard_ms;/* added to the 1000 ms window (e.g. 20) */
	size_t	max_inflight;	/* calls at once over all keys, >= 1 */
};

/*
 * What ops->progress reports: "pending", attempt n was handed to the
 * provider (outq_sending) and has no answer yet; "retrying", attempt n - 1
 * failed with a transient error (code, reason: what failed; code may be
 * "") and attempt n starts at next_ts (Unix seconds).
 */
struct outq_progress {
	const char	*status;	/* "pending" or "retrying" */
	int		 attempt;	/* 1 for the first call */
	long long	 next_ts;	/* retrying: the next try, Unix seconds */
	const char	*code;		/* retrying: the provider's code, or "" */
	const char	*reason;	/* retrying: why, in words */
};

struct outq_ops {
	/* Start the provider call for j (counted in flight); see above. */
	void	(*start)(struct outq_job *j, void *arg);
	/* Free a job's payload (outq_submit's data); may be NULL. */
	void	(*free_data)(void *data);
	/* A job ended (answered, dropped or given up): for drain checks.
	 * Called once per batch by outq_fail_key and outq_drain. */
	void	(*idle)(void *arg);
	/* key's own rate (starts per second), read when the key is first
	 * seen and on outq_set_limits; its bucket is limits.burst scaled by
	 * rate / limits.rate (at least 1).  NULL, or <= 0: limits.rate. */
	double	(*key_rate)(const char *key, void *arg);
	/* A job's progress for routerd's delivery states; may be NULL.  See
	 * outq_sending and outq_retry_code. */
	void	(*progress)(const struct outq_job *j,
		    const struct outq_progress *p, void *arg);
};

struct outq *outq_new(struct event_base *, const struct outq_limits *,
	    const struct outq_ops *, void *arg);
/* New limits (SIGHUP); buckets keep their tokens, capped to the new burst. */
void	outq_set_limits(struct outq *, const struct outq_limits *);
void	outq_free(struct outq *);	/* in-flight jobs are forgotten */
/* Give up after ms instead of 10 minutes (0: the default); for tests. */
void	outq_set_giveup(struct outq *, long ms);

/*
 * A request from routerd on c with request id re, for message msg from key
 * to recipient to, with the daemon's payload data (owned by outq from here,
 * freed with ops->free_data in every case).  Returns 1 queued, 0 joined the
 * job already here for msg (answered together), -1 not taken because
 * draining (not answered: routerd sends it again later).
 */
int	outq_submit(struct outq *, const char *msg, const char *key,
	    const char *to, void *data, struct bus_conn *c, int64_t re);

const char *outq_job_msg(const struct outq_job *);
const char *outq_job_key(const struct outq_job *);
const char *outq_job_to(const struct outq_job *);
void	*outq_job_data(const struct outq_job *);
int	 outq_job_attempts(const struct outq_job *);	/* calls before this */

/* Accepted by the provider as pid: answer {ok, pid}; the job ends. */
void	outq_ok(struct outq_job *, const char *pid);
/*
 * What start did was only a question (was this message sent before?), and
 * the provider already has it as pid: answer {ok, pid, found: true}, give
 * back the pacing token; the job ends.
 */
void	outq_found(struct outq_job *, const char *pid);
/*
 * What start did was only a question and the job must now really start:
 * its pacing token is given back and it goes to the head of its key's
 * queue, to be started again (not counted as an attempt).
 */
void	outq_again(struct outq_job *);
/* Refused for good: answer err {code, msg}; the job ends. */
void	outq_fail(struct outq_job *, const char *code, const char *msg);
/*
 * The job's provider call (its send, or an upload before it) is started:
 * ops->progress hears "pending" once per attempt.
 */
void	outq_sending(struct outq_job *);
/* Transient (5xx, 429, throughput, transport): back off and call again;
 * at least min_delay_ms (0: the backoff alone).  why is logged, and with
 * code (the provider's, or NULL) told to ops->progress as "retrying" when
 * the job is to be tried again. */
void	outq_retry(struct outq_job *, const char *why, long min_delay_ms);
void	outq_retry_code(struct outq_job *, const char *code, const char *why,
	    long min_delay_ms);
/*
 * Too many messages to this recipient (WhatsApp 131056): this job and every
 * job of the same key to the same recipient wait ms (plus jitter); other
 * recipients go on.  Counts as an attempt; the 10-minute bound still holds.
 */
void	outq_hold(struct outq_job *, const char *why, long ms);
void	outq_hold_code(struct outq_job *, const char *code, const char *why,
	    long ms);
/*
 * Fail every job of key that is not in flight (queued, waiting a retry or a
 * hold) with code and msg: a sender that cannot send (token inactive).
 * Returns how many.
 */
size_t	outq_fail_key(struct outq *, const char *key, const char *code,
	    const char *msg);

/* conn is gone: forget the answers owed to it (jobs go on). */
void	outq_conn_down(struct outq *, struct bus_conn *);
/* Start nothing new; drop what is not in flight (not answered). */
void	outq_drain(struct outq *);
size_t	outq_inflight(const struct outq *);
size_t	outq_jobs(const struct outq *);		/* all jobs held */
/* Run the pump now (after limits or a sender's state changed); called
 * from inside ops->start it runs from the event loop instead. */
void	outq_kick(struct outq *);

#endif
