/*
 * statsd_fold — the figures of metrics.md as a pure fold of routerd's event
 * log: fold_event(state, event) and fold_advance(state, now), nothing else
 * moves them.  No clock, no socket and no file is read here: a campaign's
 * thresholds and time zone come through fold_env.camp, hourly rollups that
 * were flushed and evicted come back through fold_env.roll_load.  So a
 * replay from sequence 0 (statsd -r) builds what the live fold built, and a
 * unit test feeds a scripted day and checks every figure.
 *
 * State: the open conversations (their queue entry, offer, agent, the
 * oldest unanswered customer message), the agents (status, since, day
 * figures), the campaigns (day figures in their own zone, all-time totals
 * for /metrics), the channels and addresses (messages, statuses, provider
 * errors), and hourly rollups (UTC hours) that statsd stores for reports.
 * fold_save/fold_load carry everything but the rollups, which are flushed
 * one record each (fold_flush).
 */
#ifndef STATSD_FOLD_H
#define STATSD_FOLD_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "htab.h"

#define FOLD_SAMPLES_MAX	100000	/* exact medians up to this many */
#define FOLD_HIST_N		1100	/* 2% log buckets: 1 ms to 33 days */
#define FOLD_NAME		64
#define FOLD_WAIT_BUCKETS	11	/* /metrics histogram of waits */
#define FOLD_OFFER_MAX		8	/* agents of one offer we keep */

extern const double fold_wait_le[FOLD_WAIT_BUCKETS];	/* seconds; +Inf last */

/* A campaign's thresholds (msg-campaign(1)), in milliseconds. */
struct fold_cfg {
	int64_t	 sl_ms;		/* thresholds.service_level_s */
	int64_t	 dropout_ms;	/* thresholds.dropout_s */
	int64_t	 chat_ms;	/* thresholds.chat_time_s */
	int64_t	 resp_ms;	/* service_level.response_threshold_s */
	int	 acd;		/* most customers that may wait */
	int	 max_inter;	/* max_interactions */
	char	 tz[64];	/* IANA zone of "today" */
};
/* The defaults campaignd gives a campaign created with no options. */
void	fold_cfg_default(struct fold_cfg *);

/* Counters of a queue roll (per campaign, or campaign x channel). */
enum {
	R_OFFERED, R_ANSWERED, R_ANS_SL, R_ABANDONED, R_ABN_SL, R_ABN_TIMEOUT,
	R_WAIT_SUM, R_WAIT_MAX, R_HANDLED, R_TRANSFERRED, R_CONTACT_MSGS,
	R_AGENT_MSGS, R_BOT_MSGS, R_OTHER_OUT, R_SENT, R_DELIVERED, R_READ,
	R_FAILED, R_RESPONDED, R_OPTED_OUT, R_REFUSED, R_RESP_SUM, R_RESP_N,
	R_NQ
};
/* Counters of an agent roll (per agent, campaign "*", or agent x campaign). */
enum {
	A_REPLIES, A_RESP_SUM, A_RESP_N, A_COMPLETED, A_ASSIGNED, A_AVAIL_MS,
	A_BREAK_MS, A_BUSY_MS, A_NA
};
#define FOLD_NV	R_NQ		/* the larger of the two */
extern const char *const fold_q_names[R_NQ];
extern const char *const fold_a_names[A_NA];

/* Samples for an exact median, or a log-bucket sketch past the bound. */
struct fold_samples {
	int64_t		*v;
	int64_t		*ts;		/* parallel times (waits), or NULL */
	size_t		 n, cap;
	int		 with_ts;
	uint32_t	*hist;		/* FOLD_HIST_N buckets once sketched */
	uint64_t	 hn;		/* samples in the sketch */
};
void	fold_samples_add(struct fold_samples *, int64_t v, int64_t ts);
/* The median in ms, -1 when empty; *approx 1 when from the sketch. */
int64_t	fold_samples_median(const struct fold_samples *, int *approx);
void	fold_samples_free(struct fold_samples *);
void	fold_samples_reset(struct fold_samples *);
uint64_t fold_samples_count(const struct fold_samples *);

/* A roll: an hour's, a day's or a total's counters and samples. */
struct fold_roll {
	struct htab_node	 hn;
	char			*key;	/* hourly: "HOUR|q|camp|chan", "HOUR|a|agent|camp" */
	int64_t			 hour;	/* UTC hours since the epoch; -1 for days */
	char			 kind;	/* 'q' or 'a' */
	int64_t			 v[FOLD_NV];
	struct fold_samples	 wait;	/* answered waits (with times) */
	struct fold_samples	 resp;	/* agent response times */
	int			 dirty;
	struct fold_roll	*dnext;	/* the dirty list */
};

struct fold_chan {			/* a campaign x channel */
	char			 name[16];
	struct fold_roll	 day;
	int64_t			 waiting;	/* maintained by the view */
	struct fold_chan	*next;
};

struct fold_camp {
	struct htab_node	 hn;
	char			 name[FOLD_NAME];
	struct fold_cfg		 cfg;
	int			 cfg_ok;
	int64_t			 day_start, day_end;
	struct fold_roll	 day;
	struct fold_chan	*chans;
	/* all time, for /metrics */
	int64_t			 t_offered, t_answered, t_abandoned, t_handled;
	int64_t			 t_wait_sum, t_wait_n;
	int64_t			 t_wait_b[FOLD_WAIT_BUCKETS];
	int64_t			 pending;	/* outbound with no status yet */
	int			 changed;
};

struct fold_ac {			/* an agent x campaign */
	char			 campaign[FOLD_NAME];
	struct fold_roll	 day;
	struct fold_ac		*next;
};

struct fold_agent {
	struct htab_node	 hn;
	char			 name[FOLD_NAME];
	char			 status[FOLD_NAME];	/* catalogue name */
	char			 kind[16];	/* available break busy offline */
	char			 reason[128];
	int64_t			 since;
	int64_t			 day_start, day_end;	/* in env->tz */
	struct fold_roll	 day;
	struct fold_ac		*acs;
	int			 active;	/* assigned open conversations */
	int			 offers;	/* pending offers naming it */
	int			 changed;
};

struct fold_conv {
	struct htab_node	 hn;
	char			 id[40];
	char			 campaign[FOLD_NAME];
	char			 channel[16];
	char			 contact[64];
	char			 addr[64];
	char			 name[64];
	char			 mode[8];	/* agent or bot */
	char			 rstate[12];	/* new waiting offered assigned bot */
	char			 agent[FOLD_NAME];
	/* the queue entry */
	int			 entry;		/* 1 while one is open */
	int64_t			 entry_ts;
	char			 entry_camp[FOLD_NAME];
	int			 answered, abandoned, attention;
	int			 logged;	/* routerd logs its answer and
						   dropout (a queue event with
						   "entry_ts") */
	int64_t			 entry_sl;	/* its sl threshold, -1 unknown */
	/* the offer */
	int			 noffer;
	char			 offer[FOLD_OFFER_MAX][FOLD_NAME];
	int64_t			 offer_exp;
	int64_t			 waiting_since;	/* oldest unanswered customer message */
	int64_t			 first_reply;	/* of the current assignment */
	int			 had_out, responded;
	char			 last_dir[4];
	/* saved record by record (fold_flush_sets): changed since the
	 * last flush, on the fold's list; gone once dropped */
	int			 dirty, gone;
	struct fold_conv	*dnext;
};

struct fold_addr {			/* a channel and our address */
	struct htab_node	 hn;
	char			 key[96];	/* "channel|addr" */
	int64_t			 in, out;
	int64_t			 st[5];		/* sent delivered read failed undelivered */
};

struct fold_err {			/* provider errors by channel and code */
	struct htab_node	 hn;
	char			 key[64];	/* "channel|code" */
	int64_t			 n;
};

struct fold_env {
	/* The campaign's thresholds (defaults when unknown). */
	void	(*camp)(void *arg, const char *campaign, struct fold_cfg *);
	/* A stored hourly roll for key into r (counters, samples); 1 found. */
	int	(*roll_load)(void *arg, struct fold_roll *r);
	void	*arg;
	char	 tz[64];	/* the zone of agents' "today" (stats_timezone) */
};

struct fold_pop;		/* statsd_fold.c */

struct fold {
	struct fold_env		 env;
	uint64_t		 seq;		/* last event folded */
	int64_t			 now;		/* the latest time seen */
	int64_t			 next_deadline;	/* earliest dropout to check */
	struct htab		 convs, camps, agents, rolls, addrs, errs, pend;
	struct fold_roll	*dirty;
	struct fold_conv	*cdirty;	/* conversations changed */
	struct fold_pop		*pops, **pops_tail;	/* pending: put, del */
	int64_t			 max_hour;
	int64_t			 t_msgs[8][2];	/* by channel index, in/out */
	uint64_t		 events;	/* folded by this process */
	int			 changed;	/* anything since fold_clear_changed */
	int			 waiting_changed;
};

struct fold *fold_new(const struct fold_env *);
void	fold_free(struct fold *);
/* Fold one event (a msgpack map) with its sequence; events at or below
 * the last folded sequence are ignored.  0, or -1 when rec is not a map. */
int	fold_event(struct fold *, uint64_t seq, const msgpack_object *rec);
/* Let time pass to now: dropouts reached, days that end. */
void	fold_advance(struct fold *, int64_t now);

/* Lookups for the view. */
struct fold_camp *fold_camp_get(struct fold *, const char *name, int create);
struct fold_agent *fold_agent_get(struct fold *, const char *name, int create);
/* Re-read every known campaign's thresholds (a SIGHUP, a config change). */
void	fold_reload_cfg(struct fold *);

/* Persist: everything but the hourly rolls, as one msgpack value. */
void	fold_save(const struct fold *, msgpack_packer *);
/* The same without the open conversations and the pending outbound
 * messages ("convs" and "pend" empty): those are saved record by record,
 * as they change (fold_flush_sets), so that a commit writes what changed
 * rather than every conversation still open. */
void	fold_save_base(const struct fold *, msgpack_packer *);
/* Restore what fold_save (or fold_save_base) wrote into a fresh fold;
 * -1 if malformed. */
int	fold_load(struct fold *, const msgpack_object *);
/* The conversations and pending messages changed since the last call:
 * cb for each, kind 'c' (a conversation: the map fold_save puts in
 * "convs") or 'p' (a pending message: [id, campaign]) with its id, and
 * the packed value, or NULL when it is gone; in the order they must be
 * applied.  Then clean. */
void	fold_flush_sets(struct fold *, void (*cb)(char kind, const char *id,
	    const void *val, size_t len, void *arg), void *arg);
/* One record fold_flush_sets handed out, back into a fold after
 * fold_load; -1 if malformed. */
int	fold_load_set(struct fold *, char kind, const msgpack_object *);
/* Forget what changed (what is loaded is what is on disk). */
void	fold_sets_clean(struct fold *);

/* Dirty hourly rolls: cb for each (key, msgpack value), then clean; rolls
 * of hours older than keep_hours before the newest are dropped from memory. */
void	fold_flush(struct fold *, void (*cb)(const char *key,
	    const void *val, size_t len, void *arg), void *arg,
	    int64_t keep_hours);
/* A roll's stored form, and back (roll_load implementations use this). */
void	fold_roll_pack(const struct fold_roll *, msgpack_packer *);
int	fold_roll_unpack(struct fold_roll *, const msgpack_object *);

/* strftime(fmt) of ms in zone tz ("" or NULL: UTC), into buf. */
void	fold_local_label(int64_t ms, const char *tz, const char *fmt,
	    char *buf, size_t sz);
/* Day start and end (ms) of the local date holding t in zone tz. */
void	fold_day_bounds(const char *tz, int64_t t, int64_t *start,
	    int64_t *end);
/* Channel index for t_msgs (sms whatsapp messenger instagram other). */
extern const char *const fold_chan_names[5];

#endif
