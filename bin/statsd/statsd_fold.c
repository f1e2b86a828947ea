/*
 * statsd_fold — metrics.md folded from the event log, one event at a time
 * (see statsd_fold.h for the contract).  The rules, per event type:
 *
 *   conv       a conversation opens (its campaign, channel, addresses)
 *   message    in: a contact message; the oldest unanswered one starts the
 *              response clock.  out: with "agent" and no "bot", an agent
 *              reply: it answers the open queue entry (wait = reply -
 *              entry), stops the response clock (response sample), and
 *              starts the chat clock of the assignment; "bot": a bot reply;
 *              neither: a system or campaign send
 *   status     delivery figures of the campaign, the channel and address,
 *              provider errors by code
 *   queue      an entry: one offer to the campaign.  With "entry_ts"
 *              (routerd since the answer and abandon events): the entry
 *              routerd names, continued by a queue event of the same
 *              entry_ts, answered and abandoned at the dropout threshold
 *              only by its answer and abandon events.  Without (older
 *              logs): a second queue event of an entry still unanswered in
 *              the same campaign continues it, another campaign ends it as
 *              transferred, and the fold decides answers and dropouts
 *   answer     the first agent reply of a logged entry (wait = ts - entry)
 *   abandon    a logged entry reached its dropout threshold unanswered
 *   offer, lapse   pending offers, which hold agents' slots
 *   assign     the agent has it (active)
 *   close      handled; an unanswered entry is abandoned; completed for
 *              the agent who had it (or who closed it)
 *   optout, blocked   an unanswered entry is abandoned
 *   mode bot   the entry ends, neither answered nor abandoned
 *   agent      status changes: time in the previous kind
 *   refused    a send suppressed
 *   campaign   deleted: its live conversations are forgotten
 * An entry of an older log still unanswered when its wait reaches the
 * campaign's dropout threshold is abandoned at that moment (fold_advance),
 * once.  Thresholds: an answer or abandon event's "sl_s", else the one its
 * queue event carried, else the campaign's configuration now.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>

#include "log.h"
#include "mp.h"
#include "statsd_fold.h"

const double fold_wait_le[FOLD_WAIT_BUCKETS] = { 5, 10, 20, 30, 60, 120,
    300, 600, 1800, 3600, INFINITY };
const char *const fold_q_names[R_NQ] = { "offered", "answered", "ans_sl",
    "abandoned", "abn_sl", "abn_timeout", "wait_sum", "wait_max", "handled",
    "transferred", "contact_messages", "agent_responses", "bot_responses",
    "other_out", "sent", "delivered", "read", "failed", "responded",
    "opted_out", "refused", "resp_sum", "resp_n" };
const char *const fold_a_names[A_NA] = { "replies", "resp_sum", "resp_n",
    "completed", "assigned", "available_ms", "break_ms", "busy_ms" };
const char *const fold_chan_names[5] = { "sms", "whatsapp", "messenger",
    "instagram", "other" };

#define HOUR_MS	3600000LL

static void	rcache_clear(struct fold *);

void
fold_cfg_default(struct fold_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->sl_ms = 60000;
	c->dropout_ms = 300000;
	c->chat_ms = 900000;
	c->resp_ms = 60000;
	c->acd = 50;
	c->max_inter = 3;
	snprintf(c->tz, sizeof(c->tz), "UTC");
}

static void *
xcalloc(size_t n, size_t s)
{
	void *p = calloc(n, s);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

/* samples */

static int
hist_bucket(int64_t v)
{
	/* 2% wide buckets from 1 ms: bucket i holds [1.02^i, 1.02^(i+1)) */
	int b;

	if (v < 1)
		return 0;
	b = (int)(log((double)v) / log(1.02)) + 1;
	return b >= FOLD_HIST_N ? FOLD_HIST_N - 1 : b;
}

void
fold_samples_add(struct fold_samples *s, int64_t v, int64_t ts)
{
	size_t i;

	if (s->hist == NULL && s->n == FOLD_SAMPLES_MAX) {
		s->hist = xcalloc(FOLD_HIST_N, sizeof(*s->hist));
		for (i = 0; i < s->n; i++)
			s->hist[hist_bucket(s->v[i])]++;
		s->hn = s->n;
	}
	if (s->hist) {
		s->hist[hist_bucket(v)]++;
		s->hn++;
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		if ((s->v = realloc(s->v, s->cap * sizeof(*s->v))) == NULL)
			fatalx("out of memory");
		if (s->with_ts && (s->ts = realloc(s->ts,
		    s->cap * sizeof(*s->ts))) == NULL)
			fatalx("out of memory");
	}
	s->v[s->n] = v;
	if (s->with_ts)
		s->ts[s->n] = ts;
	s->n++;
}

uint64_t
fold_samples_count(const struct fold_samples *s)
{
	return s->hist ? s->hn : s->n;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int64_t
fold_samples_median(const struct fold_samples *s, int *approx)
{
	int64_t *t, m;
	uint64_t half, acc = 0;
	int i;

	*approx = 0;
	if (s->hist) {
		*approx = 1;
		half = (s->hn + 1) / 2;
		for (i = 0; i < FOLD_HIST_N; i++) {
			acc += s->hist[i];
			if (acc >= half)
				return i == 0 ? 0 :
				    (int64_t)llround(pow(1.02, i - 0.5));
		}
		return -1;
	}
	if (s->n == 0)
		return -1;
	t = xcalloc(s->n, sizeof(*t));
	memcpy(t, s->v, s->n * sizeof(*t));
	qsort(t, s->n, sizeof(*t), cmp64);
	/* the exact median; for an even count the mean of the two middle */
	m = s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
	free(t);
	return m;
}

void
fold_samples_reset(struct fold_samples *s)
{
	int w = s->with_ts;

	fold_samples_free(s);
	s->with_ts = w;
}

void
fold_samples_free(struct fold_samples *s)
{
	free(s->v);
	free(s->ts);
	free(s->hist);
	memset(s, 0, sizeof(*s));
}

static void
roll_init(struct fold_roll *r, char kind)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->hour = -1;
	r->wait.with_ts = 1;
}

static void
roll_reset(struct fold_roll *r)
{
	memset(r->v, 0, sizeof(r->v));
	fold_samples_reset(&r->wait);
	fold_samples_reset(&r->resp);
}

static void
roll_free(struct fold_roll *r)
{
	fold_samples_free(&r->wait);
	fold_samples_free(&r->resp);
	free(r->key);
	r->key = NULL;
}

/* tables */

static int
conv_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct fold_conv *c = HTAB_ENTRY(n, struct fold_conv, hn);

	return strlen(c->id) == l && memcmp(c->id, k, l) == 0;
}

static int
camp_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct fold_camp *c = HTAB_ENTRY(n, struct fold_camp, hn);

	return strlen(c->name) == l && memcmp(c->name, k, l) == 0;
}

static int
agent_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct fold_agent *a = HTAB_ENTRY(n, struct fold_agent, hn);

	return strlen(a->name) == l && memcmp(a->name, k, l) == 0;
}

static int
roll_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct fold_roll *r = HTAB_ENTRY(n, struct fold_roll, hn);

	return strlen(r->key) == l && memcmp(r->key, k, l) == 0;
}

static int
addr_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct fold_addr *a = HTAB_ENTRY(n, struct fold_addr, hn);

	return strlen(a->key) == l && memcmp(a->key, k, l) == 0;
}

static int
err_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct fold_err *e = HTAB_ENTRY(n, struct fold_err, hn);

	return strlen(e->key) == l && memcmp(e->key, k, l) == 0;
}

/* a pending outbound message: id -> campaign */
struct pend {
	struct htab_node	 hn;
	char			 id[40];
	char			 campaign[FOLD_NAME];
};

/* a change to the pending set, for fold_flush_sets: put or delete */
struct fold_pop {
	struct fold_pop		*next;
	int			 del;
	char			 id[40];
	char			 campaign[FOLD_NAME];
};

static void
pend_log(struct fold *f, const struct pend *p, int del)
{
	struct fold_pop *o = xcalloc(1, sizeof(*o));

	o->del = del;
	memcpy(o->id, p->id, sizeof(o->id));
	memcpy(o->campaign, p->campaign, sizeof(o->campaign));
	*f->pops_tail = o;
	f->pops_tail = &o->next;
}

static int
pend_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct pend *p = HTAB_ENTRY(n, struct pend, hn);

	return strlen(p->id) == l && memcmp(p->id, k, l) == 0;
}

struct fold *
fold_new(const struct fold_env *env)
{
	struct fold *f = xcalloc(1, sizeof(*f));

	f->env = *env;
	if (f->env.tz[0] == '\0')
		snprintf(f->env.tz, sizeof(f->env.tz), "UTC");
	htab_init(&f->convs);
	htab_init(&f->camps);
	htab_init(&f->agents);
	htab_init(&f->rolls);
	htab_init(&f->addrs);
	htab_init(&f->errs);
	htab_init(&f->pend);
	f->pops_tail = &f->pops;
	f->next_deadline = INT64_MAX;
	f->max_hour = -1;
	return f;
}

void
fold_free(struct fold *f)
{
	struct htab_iter it;
	struct htab_node *n;

	if (f == NULL)
		return;
	rcache_clear(f);
	fold_sets_clean(f);	/* frees the dropped conversations */
	htab_iter_init(&it, &f->convs);
	while ((n = htab_iter_next(&it)) != NULL)
		free(HTAB_ENTRY(n, struct fold_conv, hn));
	htab_iter_init(&it, &f->camps);
	while ((n = htab_iter_next(&it)) != NULL) {
		struct fold_camp *c = HTAB_ENTRY(n, struct fold_camp, hn);
		struct fold_chan *ch, *nx;

		for (ch = c->chans; ch; ch = nx) {
			nx = ch->next;
			roll_free(&ch->day);
			free(ch);
		}
		roll_free(&c->day);
		free(c);
	}
	htab_iter_init(&it, &f->agents);
	while ((n = htab_iter_next(&it)) != NULL) {
		struct fold_agent *a = HTAB_ENTRY(n, struct fold_agent, hn);
		struct fold_ac *ac, *nx;

		for (ac = a->acs; ac; ac = nx) {
			nx = ac->next;
			roll_free(&ac->day);
			free(ac);
		}
		roll_free(&a->day);
		free(a);
	}
	htab_iter_init(&it, &f->rolls);
	while ((n = htab_iter_next(&it)) != NULL) {
		struct fold_roll *r = HTAB_ENTRY(n, struct fold_roll, hn);

		roll_free(r);
		free(r);
	}
	htab_iter_init(&it, &f->addrs);
	while ((n = htab_iter_next(&it)) != NULL)
		free(HTAB_ENTRY(n, struct fold_addr, hn));
	htab_iter_init(&it, &f->errs);
	while ((n = htab_iter_next(&it)) != NULL)
		free(HTAB_ENTRY(n, struct fold_err, hn));
	htab_iter_init(&it, &f->pend);
	while ((n = htab_iter_next(&it)) != NULL)
		free(HTAB_ENTRY(n, struct pend, hn));
	htab_free(&f->convs);
	htab_free(&f->camps);
	htab_free(&f->agents);
	htab_free(&f->rolls);
	htab_free(&f->addrs);
	htab_free(&f->errs);
	htab_free(&f->pend);
	free(f);
}

/* days in a zone */

void
fold_local_label(int64_t ms, const char *tz, const char *fmt, char *buf,
    size_t sz)
{
	char *old = getenv("TZ"), saved[128] = "";
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (old)
		snprintf(saved, sizeof(saved), "%s", old);
	setenv("TZ", tz && *tz ? tz : "UTC", 1);
	tzset();
	localtime_r(&t, &tm);
	strftime(buf, sz, fmt, &tm);
	if (old)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
}

void
fold_day_bounds(const char *tz, int64_t t, int64_t *start, int64_t *end)
{
	char *old = getenv("TZ"), saved[128] = "";
	time_t s = (time_t)(t / 1000);
	struct tm tm;
	int hadtz = old != NULL;

	if (tz == NULL || tz[0] == '\0' || strcmp(tz, "UTC") == 0) {
		int64_t d = t >= 0 ? t / 86400000 : (t - 86399999) / 86400000;

		*start = d * 86400000;
		*end = *start + 86400000;
		return;
	}
	if (hadtz)
		snprintf(saved, sizeof(saved), "%s", old);
	setenv("TZ", tz, 1);
	tzset();
	localtime_r(&s, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	*start = (int64_t)mktime(&tm) * 1000;
	tm.tm_mday++;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	*end = (int64_t)mktime(&tm) * 1000;
	if (hadtz)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	if (*end <= *start || *start > t) {	/* an unknown zone: UTC days */
		fold_day_bounds("UTC", t, start, end);
	}
}

struct fold_camp *
fold_camp_get(struct fold *f, const char *name, int create)
{
	struct htab_node *n;
	struct fold_camp *c;
	size_t l = strlen(name);

	if ((n = htab_find(&f->camps, name, l, camp_eq)) != NULL)
		return HTAB_ENTRY(n, struct fold_camp, hn);
	if (!create || l >= FOLD_NAME)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	roll_init(&c->day, 'q');
	fold_cfg_default(&c->cfg);
	if (f->env.camp)
		f->env.camp(f->env.arg, name, &c->cfg);
	c->cfg_ok = 1;
	fold_day_bounds(c->cfg.tz, f->now, &c->day_start, &c->day_end);
	if (htab_insert(&f->camps, &c->hn, c->name, l) == -1)
		fatalx("out of memory");
	return c;
}

void
fold_reload_cfg(struct fold *f)
{
	struct htab_iter it;
	struct htab_node *n;

	htab_iter_init(&it, &f->camps);
	while ((n = htab_iter_next(&it)) != NULL) {
		struct fold_camp *c = HTAB_ENTRY(n, struct fold_camp, hn);
		char tz[64];

		snprintf(tz, sizeof(tz), "%s", c->cfg.tz);
		fold_cfg_default(&c->cfg);
		if (f->env.camp)
			f->env.camp(f->env.arg, c->name, &c->cfg);
		if (strcmp(tz, c->cfg.tz) != 0)
			fold_day_bounds(c->cfg.tz, f->now, &c->day_start,
			    &c->day_end);
		c->changed = 1;
	}
	f->next_deadline = INT64_MIN;	/* dropouts may have moved */
	f->changed = 1;
}

static struct fold_chan *
chan_get(struct fold_camp *c, const char *channel)
{
	struct fold_chan *ch;

	for (ch = c->chans; ch; ch = ch->next)
		if (strcmp(ch->name, channel) == 0)
			return ch;
	struct fold_chan **p;

	ch = xcalloc(1, sizeof(*ch));
	snprintf(ch->name, sizeof(ch->name), "%s", channel);
	roll_init(&ch->day, 'q');
	/* kept in name order: what is shown does not depend on history */
	for (p = &c->chans; *p && strcmp((*p)->name, ch->name) < 0;
	    p = &(*p)->next)
		;
	ch->next = *p;
	*p = ch;
	return ch;
}

struct fold_agent *
fold_agent_get(struct fold *f, const char *name, int create)
{
	struct htab_node *n;
	struct fold_agent *a;
	size_t l = strlen(name);

	if ((n = htab_find(&f->agents, name, l, agent_eq)) != NULL)
		return HTAB_ENTRY(n, struct fold_agent, hn);
	if (!create || l == 0 || l >= FOLD_NAME)
		return NULL;
	a = xcalloc(1, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->status, sizeof(a->status), "offline");
	snprintf(a->kind, sizeof(a->kind), "offline");
	roll_init(&a->day, 'a');
	fold_day_bounds(f->env.tz, f->now, &a->day_start, &a->day_end);
	if (htab_insert(&f->agents, &a->hn, a->name, l) == -1)
		fatalx("out of memory");
	return a;
}

static struct fold_ac *
ac_get(struct fold_agent *a, const char *campaign)
{
	struct fold_ac *ac;

	for (ac = a->acs; ac; ac = ac->next)
		if (strcmp(ac->campaign, campaign) == 0)
			return ac;
	struct fold_ac **p;

	ac = xcalloc(1, sizeof(*ac));
	snprintf(ac->campaign, sizeof(ac->campaign), "%s", campaign);
	roll_init(&ac->day, 'a');
	for (p = &a->acs; *p && strcmp((*p)->campaign, ac->campaign) < 0;
	    p = &(*p)->next)
		;
	ac->next = *p;
	*p = ac;
	return ac;
}

/* c changes: on the list of those fold_flush_sets saves */
static void
conv_touch(struct fold *f, struct fold_conv *c)
{
	if (c->dirty)
		return;
	c->dirty = 1;
	c->dnext = f->cdirty;
	f->cdirty = c;
}

/* (an event that names a conversation may change it: it is saved) */
static struct fold_conv *
conv_get(struct fold *f, const char *id)
{
	struct htab_node *n = htab_find(&f->convs, id, strlen(id), conv_eq);
	struct fold_conv *c;

	if (n == NULL)
		return NULL;
	c = HTAB_ENTRY(n, struct fold_conv, hn);
	conv_touch(f, c);
	return c;
}

static struct fold_conv *
conv_new(struct fold *f, const char *id)
{
	struct fold_conv *c;
	size_t l = strlen(id);

	if (l == 0 || l >= sizeof(c->id))
		return NULL;
	c = xcalloc(1, sizeof(*c));
	memcpy(c->id, id, l);
	snprintf(c->mode, sizeof(c->mode), "agent");
	snprintf(c->rstate, sizeof(c->rstate), "new");
	c->entry_sl = -1;
	if (htab_insert(&f->convs, &c->hn, c->id, l) == -1)
		fatalx("out of memory");
	conv_touch(f, c);
	return c;
}

/* hourly rolls */

/*
 * The rolls found last, so that the events of one conversation, which
 * touch the same hour's rolls again and again, skip formatting the key and
 * hashing it (a replay spends its time here otherwise).  Emptied whenever
 * rolls leave memory.
 */
#define RCACHE	16
static struct rcache {
	struct fold		*f;
	int64_t			 hour;
	char			 kind;
	char			 a[FOLD_NAME], b[FOLD_NAME];
	struct fold_roll	*r;
} rcache[RCACHE];
static unsigned		 rcache_next;

static void
rcache_clear(struct fold *f)
{
	int i;

	for (i = 0; i < RCACHE; i++)
		if (rcache[i].f == f)
			rcache[i].f = NULL;
}

static struct fold_roll *
hour_roll(struct fold *f, int64_t ts, char kind, const char *a,
    const char *b)
{
	char key[200];
	int64_t hour = (ts >= 0 ? ts : 0) / HOUR_MS;
	struct htab_node *n;
	struct fold_roll *r = NULL;
	struct rcache *rc;
	int l, i;

	for (i = 0; i < RCACHE; i++) {
		rc = &rcache[i];
		if (rc->f == f && rc->hour == hour && rc->kind == kind &&
		    strcmp(rc->a, a) == 0 && strcmp(rc->b, b) == 0) {
			r = rc->r;
			goto found;
		}
	}
	l = snprintf(key, sizeof(key), "%010lld|%c|%s|%s", (long long)hour,
	    kind, a, b);
	if (l <= 0 || (size_t)l >= sizeof(key))
		return NULL;
	if ((n = htab_find(&f->rolls, key, (size_t)l, roll_eq)) != NULL)
		r = HTAB_ENTRY(n, struct fold_roll, hn);
	else {
		r = xcalloc(1, sizeof(*r));
		roll_init(r, kind);
		r->hour = hour;
		if ((r->key = strdup(key)) == NULL)
			fatalx("out of memory");
		if (f->env.roll_load)
			f->env.roll_load(f->env.arg, r);
		if (htab_insert(&f->rolls, &r->hn, r->key, (size_t)l) == -1)
			fatalx("out of memory");
	}
	if (strlen(a) < FOLD_NAME && strlen(b) < FOLD_NAME) {
		rc = &rcache[rcache_next++ % RCACHE];
		rc->f = f;
		rc->hour = hour;
		rc->kind = kind;
		memcpy(rc->a, a, strlen(a) + 1);
		memcpy(rc->b, b, strlen(b) + 1);
		rc->r = r;
	}
found:
	if (!r->dirty) {
		r->dirty = 1;
		r->dnext = f->dirty;
		f->dirty = r;
	}
	if (hour > f->max_hour)
		f->max_hour = hour;
	return r;
}

/* The day rolls of campaign c (and its channel ch) and the hourly one. */
struct qrolls {
	struct fold_roll	*r[3];
	size_t			 n;
};

static void
day_check_camp(struct fold *f, struct fold_camp *c)
{
	struct fold_chan *ch;

	if (f->now < c->day_end)
		return;
	fold_day_bounds(c->cfg.tz, f->now, &c->day_start, &c->day_end);
	roll_reset(&c->day);
	for (ch = c->chans; ch; ch = ch->next)
		roll_reset(&ch->day);
	c->changed = 1;
	f->changed = 1;
}

static void
qrolls(struct fold *f, const char *campaign, const char *channel, int64_t ts,
    struct qrolls *q)
{
	struct fold_camp *c;
	struct fold_roll *h;

	q->n = 0;
	if (campaign == NULL || campaign[0] == '\0' ||
	    (c = fold_camp_get(f, campaign, 1)) == NULL)
		return;
	day_check_camp(f, c);
	c->changed = 1;
	f->changed = 1;
	q->r[q->n++] = &c->day;
	if (channel && channel[0]) {
		q->r[q->n++] = &chan_get(c, channel)->day;
		if ((h = hour_roll(f, ts, 'q', campaign, channel)) != NULL)
			q->r[q->n++] = h;
	} else if ((h = hour_roll(f, ts, 'q', campaign, "-")) != NULL)
		q->r[q->n++] = h;
}

static void
qadd(struct qrolls *q, int k, int64_t v)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		if (k == R_WAIT_MAX) {
			if (v > q->r[i]->v[k])
				q->r[i]->v[k] = v;
		} else
			q->r[i]->v[k] += v;
	}
}

static void
qsample(struct qrolls *q, int wait, int64_t v, int64_t ts)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		fold_samples_add(wait ? &q->r[i]->wait : &q->r[i]->resp, v, ts);
}

static void
day_check_agent(struct fold *f, struct fold_agent *a)
{
	struct fold_ac *ac;

	if (f->now < a->day_end)
		return;
	fold_day_bounds(f->env.tz, f->now, &a->day_start, &a->day_end);
	roll_reset(&a->day);
	for (ac = a->acs; ac; ac = ac->next)
		roll_reset(&ac->day);
	a->changed = 1;
}

/* Agent rolls: the agent's day, its day in campaign, and the hour's. */
static void
aadd(struct fold *f, const char *agent, const char *campaign, int64_t ts,
    int k, int64_t v, int64_t sample)
{
	struct fold_agent *a;
	struct fold_roll *r[4];
	size_t n = 0, i;

	if ((a = fold_agent_get(f, agent, 1)) == NULL)
		return;
	day_check_agent(f, a);
	a->changed = 1;
	f->changed = 1;
	r[n++] = &a->day;
	if ((r[n] = hour_roll(f, ts, 'a', agent, "*")) != NULL)
		n++;
	if (campaign && campaign[0]) {
		r[n++] = &ac_get(a, campaign)->day;
		if ((r[n] = hour_roll(f, ts, 'a', agent, campaign)) != NULL)
			n++;
	}
	for (i = 0; i < n; i++) {
		r[i]->v[k] += v;
		if (sample >= 0)
			fold_samples_add(&r[i]->resp, sample, ts);
	}
}

/* Time in a status kind from t0 to t1, split over hours and today. */
static void
agent_time(struct fold *f, struct fold_agent *a, int64_t t0, int64_t t1)
{
	int k;
	int64_t h, from, to;
	struct fold_roll *r;

	if (strcmp(a->kind, "available") == 0)
		k = A_AVAIL_MS;
	else if (strcmp(a->kind, "break") == 0)
		k = A_BREAK_MS;
	else if (strcmp(a->kind, "busy") == 0)
		k = A_BUSY_MS;
	else
		return;
	if (t0 <= 0 || t1 <= t0)
		return;
	day_check_agent(f, a);
	from = t0 > a->day_start ? t0 : a->day_start;
	if (t1 > from)
		a->day.v[k] += t1 - from;
	/* at most 31 days of hours: an agent left on for months counts the
	 * month before the change (the rest stays in the live figures) */
	if (t1 - t0 > 31 * 24 * HOUR_MS)
		t0 = t1 - 31 * 24 * HOUR_MS;
	for (h = t0 / HOUR_MS; h * HOUR_MS < t1; h++) {
		from = h * HOUR_MS > t0 ? h * HOUR_MS : t0;
		to = (h + 1) * HOUR_MS < t1 ? (h + 1) * HOUR_MS : t1;
		if ((r = hour_roll(f, from, 'a', a->name, "*")) != NULL)
			r->v[k] += to - from;
	}
}

/* the queue entry */

/* The service level threshold an ending entry is measured by: the
 * ending event's (ev_sl, -1 when it has none), the entry's, the
 * campaign's. */
static int64_t
entry_sl(struct fold *f, const struct fold_conv *c, int64_t ev_sl)
{
	struct fold_camp *cp;

	if (ev_sl >= 0)
		return ev_sl;
	if (c->entry_sl >= 0)
		return c->entry_sl;
	if ((cp = fold_camp_get(f, c->entry_camp, 0)) != NULL)
		return cp->cfg.sl_ms;
	return 0;
}

/* "sl_s" of an event in ms, or -1. */
static int64_t
ev_sl_ms(const msgpack_object *r)
{
	int64_t v;

	if (mp_int(r, "sl_s", &v) && v >= 0 && v < INT64_MAX / 1000)
		return v * 1000;
	return -1;
}

static void
entry_end(struct fold *f, struct fold_conv *c, int64_t ts, int abandon,
    int timeout, int64_t ev_sl)
{
	struct qrolls q;
	struct fold_camp *cp;
	int64_t w;

	if (!c->entry || c->answered || c->abandoned)
		goto out;
	if (abandon) {
		w = ts - c->entry_ts;
		qrolls(f, c->entry_camp, c->channel, ts, &q);
		qadd(&q, R_ABANDONED, 1);
		if (timeout)
			qadd(&q, R_ABN_TIMEOUT, 1);
		if (w <= entry_sl(f, c, ev_sl))
			qadd(&q, R_ABN_SL, 1);
		if ((cp = fold_camp_get(f, c->entry_camp, 0)) != NULL)
			cp->t_abandoned++;
		c->abandoned = 1;
		f->waiting_changed = 1;
		if (timeout)
			return;		/* it stays in the queue, flagged */
	} else if (!abandon && timeout == 0) {
		qrolls(f, c->entry_camp, c->channel, ts, &q);
		qadd(&q, R_TRANSFERRED, 1);
	}
out:
	c->entry = 0;
	c->answered = c->abandoned = 0;
	f->waiting_changed = 1;
}

/* A queue event at ts; ets is routerd's entry time ("entry_ts"), 0 in an
 * older log; sl the threshold it carries (ms, -1 when none). */
static void
entry_begin(struct fold *f, struct fold_conv *c, int64_t ts, int64_t ets,
    int64_t sl)
{
	struct qrolls q;
	struct fold_camp *cp;

	if (ets > 0 && c->entry && c->logged && c->entry_ts == ets) {
		if (sl >= 0)
			c->entry_sl = sl;
		return;		/* routerd's same entry goes on */
	}
	if (ets == 0 && c->entry && !c->answered && !c->abandoned &&
	    strcmp(c->entry_camp, c->campaign) == 0)
		return;		/* the same entry goes on */
	if (c->entry && !c->answered && !c->abandoned)
		entry_end(f, c, ts, 0, 0, -1);
	c->entry = 1;
	c->entry_ts = ets > 0 ? ets : ts;
	c->logged = ets > 0;
	c->entry_sl = sl;
	c->answered = c->abandoned = 0;
	c->first_reply = 0;
	snprintf(c->entry_camp, sizeof(c->entry_camp), "%s", c->campaign);
	qrolls(f, c->campaign, c->channel, ts, &q);
	qadd(&q, R_OFFERED, 1);
	if ((cp = fold_camp_get(f, c->campaign, 0)) != NULL) {
		cp->t_offered++;
		if (!c->logged && c->entry_ts + cp->cfg.dropout_ms <
		    f->next_deadline)
			f->next_deadline = c->entry_ts + cp->cfg.dropout_ms;
	}
	f->waiting_changed = 1;
}

/* The first agent reply of c's entry, at ts: answered, its wait. */
static void
entry_answer(struct fold *f, struct fold_conv *c, int64_t ts, int64_t ev_sl)
{
	int64_t w = ts - c->entry_ts;
	struct fold_camp *cp;
	struct qrolls e;
	int b;

	if (w < 0)
		w = 0;
	qrolls(f, c->entry_camp, c->channel, ts, &e);
	qadd(&e, R_ANSWERED, 1);
	qadd(&e, R_WAIT_SUM, w);
	qadd(&e, R_WAIT_MAX, w);
	qsample(&e, 1, w, ts);
	if (w <= entry_sl(f, c, ev_sl))
		qadd(&e, R_ANS_SL, 1);
	if ((cp = fold_camp_get(f, c->entry_camp, 0)) != NULL) {
		cp->t_answered++;
		cp->t_wait_sum += w;
		cp->t_wait_n++;
		for (b = 0; b < FOLD_WAIT_BUCKETS; b++)
			if ((double)w / 1000.0 <= fold_wait_le[b])
				cp->t_wait_b[b]++;
	}
	c->answered = 1;
	f->waiting_changed = 1;
}

static void
offer_clear(struct fold *f, struct fold_conv *c)
{
	struct fold_agent *a;
	int i;

	for (i = 0; i < c->noffer; i++)
		if ((a = fold_agent_get(f, c->offer[i], 0)) != NULL) {
			if (a->offers > 0)
				a->offers--;
			a->changed = 1;
		}
	c->noffer = 0;
	c->offer_exp = 0;
}

static void
unassign(struct fold *f, struct fold_conv *c)
{
	struct fold_agent *a;

	if (strcmp(c->rstate, "assigned") == 0 && c->agent[0] &&
	    (a = fold_agent_get(f, c->agent, 0)) != NULL) {
		if (a->active > 0)
			a->active--;
		a->changed = 1;
	}
	c->agent[0] = '\0';
}

static void
conv_drop(struct fold *f, struct fold_conv *c)
{
	offer_clear(f, c);
	unassign(f, c);
	htab_remove(&f->convs, &c->hn);
	/* freed once its deletion is handed out (fold_flush_sets) */
	c->gone = 1;
	conv_touch(f, c);
	f->waiting_changed = 1;
}

/* event helpers */

static void
str(const msgpack_object *r, const char *k, char *buf, size_t sz)
{
	if (!mp_strcpy(r, k, buf, sz))
		buf[0] = '\0';
}

static int
chan_index(const char *ch)
{
	int i;

	for (i = 0; i < 4; i++)
		if (strcmp(ch, fold_chan_names[i]) == 0)
			return i;
	return 4;
}

static struct fold_addr *
addr_get(struct fold *f, const char *channel, const char *addr)
{
	char key[96];
	struct htab_node *n;
	struct fold_addr *a;
	int l;

	l = snprintf(key, sizeof(key), "%s|%s", channel, addr[0] ? addr : "-");
	if (l <= 0 || (size_t)l >= sizeof(key))
		return NULL;
	if ((n = htab_find(&f->addrs, key, (size_t)l, addr_eq)) != NULL)
		return HTAB_ENTRY(n, struct fold_addr, hn);
	a = xcalloc(1, sizeof(*a));
	memcpy(a->key, key, (size_t)l + 1);
	if (htab_insert(&f->addrs, &a->hn, a->key, (size_t)l) == -1)
		fatalx("out of memory");
	return a;
}

static void
err_add(struct fold *f, const char *channel, const char *code)
{
	char key[64];
	struct htab_node *n;
	struct fold_err *e;
	int l;

	l = snprintf(key, sizeof(key), "%s|%s", channel, code[0] ? code :
	    "unknown");
	if (l <= 0 || (size_t)l >= sizeof(key))
		return;
	if ((n = htab_find(&f->errs, key, (size_t)l, err_eq)) != NULL)
		e = HTAB_ENTRY(n, struct fold_err, hn);
	else {
		e = xcalloc(1, sizeof(*e));
		memcpy(e->key, key, (size_t)l + 1);
		if (htab_insert(&f->errs, &e->hn, e->key, (size_t)l) == -1)
			fatalx("out of memory");
	}
	e->n++;
}

static struct fold_conv *
conv_from(struct fold *f, const msgpack_object *r, const char *id)
{
	struct fold_conv *c = conv_get(f, id);

	if (c == NULL && (c = conv_new(f, id)) == NULL)
		return NULL;
	if (mp_get(r, "campaign"))
		str(r, "campaign", c->campaign, sizeof(c->campaign));
	if (mp_get(r, "channel"))
		str(r, "channel", c->channel, sizeof(c->channel));
	if (mp_get(r, "contact"))
		str(r, "contact", c->contact, sizeof(c->contact));
	if (mp_get(r, "addr"))
		str(r, "addr", c->addr, sizeof(c->addr));
	if (mp_get(r, "name"))
		str(r, "name", c->name, sizeof(c->name));
	return c;
}

static void
ev_message(struct fold *f, const msgpack_object *r, const char *id,
    int64_t ts)
{
	char dir[4], agent[FOLD_NAME], mid[40], mode[8];
	struct fold_conv *c;
	struct fold_addr *ad;
	struct fold_camp *cp;
	struct qrolls q;
	int bot = 0;

	str(r, "dir", dir, sizeof(dir));
	if ((c = conv_from(f, r, id)) == NULL)
		return;
	if ((ad = addr_get(f, c->channel, c->addr)) != NULL) {
		if (strcmp(dir, "in") == 0)
			ad->in++;
		else
			ad->out++;
	}
	f->t_msgs[chan_index(c->channel)][strcmp(dir, "in") != 0]++;
	qrolls(f, c->campaign, c->channel, ts, &q);
	if (strcmp(dir, "in") == 0) {
		str(r, "mode", mode, sizeof(mode));
		if (mode[0])
			snprintf(c->mode, sizeof(c->mode), "%s", mode);
		qadd(&q, R_CONTACT_MSGS, 1);
		if (c->had_out && !c->responded) {
			c->responded = 1;
			qadd(&q, R_RESPONDED, 1);
		}
		if (c->waiting_since == 0)
			c->waiting_since = ts;
		snprintf(c->last_dir, sizeof(c->last_dir), "in");
		f->waiting_changed = 1;
		return;
	}
	str(r, "agent", agent, sizeof(agent));
	mp_bool(r, "bot", &bot);
	str(r, "id", mid, sizeof(mid));
	c->had_out = 1;
	snprintf(c->last_dir, sizeof(c->last_dir), "out");
	if (mid[0] && htab_find(&f->pend, mid, strlen(mid), pend_eq) == NULL) {
		struct pend *p = xcalloc(1, sizeof(*p));

		snprintf(p->id, sizeof(p->id), "%s", mid);
		snprintf(p->campaign, sizeof(p->campaign), "%s", c->campaign);
		if (htab_insert(&f->pend, &p->hn, p->id, strlen(p->id)) == -1)
			fatalx("out of memory");
		pend_log(f, p, 0);
		if ((cp = fold_camp_get(f, c->campaign, 0)) != NULL)
			cp->pending++;
	}
	if (bot) {
		qadd(&q, R_BOT_MSGS, 1);
		c->waiting_since = 0;
		f->waiting_changed = 1;
		return;
	}
	if (agent[0] == '\0') {
		qadd(&q, R_OTHER_OUT, 1);
		c->waiting_since = 0;
		f->waiting_changed = 1;
		return;
	}
	/* an agent's reply */
	qadd(&q, R_AGENT_MSGS, 1);
	if (c->waiting_since > 0) {
		int64_t rt = ts - c->waiting_since;

		if (rt < 0)
			rt = 0;
		qadd(&q, R_RESP_SUM, rt);
		qadd(&q, R_RESP_N, 1);
		qsample(&q, 0, rt, ts);
		aadd(f, agent, c->campaign, ts, A_REPLIES, 1, rt);
		aadd(f, agent, c->campaign, ts, A_RESP_SUM, rt, -1);
		aadd(f, agent, c->campaign, ts, A_RESP_N, 1, -1);
	} else
		aadd(f, agent, c->campaign, ts, A_REPLIES, 1, -1);
	c->waiting_since = 0;
	if (c->first_reply == 0)
		c->first_reply = ts;
	/* an older log: the reply answers the entry (a logged entry waits
	 * for routerd's answer event) */
	if (c->entry && !c->logged && !c->answered && !c->abandoned)
		entry_answer(f, c, ts, -1);
	f->waiting_changed = 1;
}

static void
ev_status(struct fold *f, const msgpack_object *r, int64_t ts)
{
	static const char *const sts[5] = { "sent", "delivered", "read",
	    "failed", "undelivered" };
	char st[24], mid[40], code[32], channel[16];
	struct fold_conv *c;
	struct fold_addr *ad;
	struct qrolls q;
	struct htab_node *n;
	int i;

	str(r, "status", st, sizeof(st));
	/* a send under way (pending, retrying) is no answer yet: the message
	 * stays pending here, and no status figure counts it */
	if (strcmp(st, "pending") == 0 || strcmp(st, "retrying") == 0)
		return;
	str(r, "id", mid, sizeof(mid));
	str(r, "code", code, sizeof(code));
	str(r, "channel", channel, sizeof(channel));
	{
		char conv[40], camp[FOLD_NAME];

		str(r, "conv", conv, sizeof(conv));
		str(r, "campaign", camp, sizeof(camp));
		c = conv[0] ? conv_get(f, conv) : NULL;
		qrolls(f, camp, channel, ts, &q);
	}
	if ((ad = addr_get(f, channel, c ? c->addr : "")) != NULL)
		for (i = 0; i < 5; i++)
			if (strcmp(st, sts[i]) == 0)
				ad->st[i]++;
	if (strcmp(st, "sent") == 0)
		qadd(&q, R_SENT, 1);
	else if (strcmp(st, "delivered") == 0)
		qadd(&q, R_DELIVERED, 1);
	else if (strcmp(st, "read") == 0)
		qadd(&q, R_READ, 1);
	else if (strcmp(st, "failed") == 0 || strcmp(st, "undelivered") == 0) {
		qadd(&q, R_FAILED, 1);
		err_add(f, channel, code);
	}
	if (mid[0] && (n = htab_find(&f->pend, mid, strlen(mid), pend_eq))) {
		struct pend *p = HTAB_ENTRY(n, struct pend, hn);
		struct fold_camp *cp = fold_camp_get(f, p->campaign, 0);

		if (cp && cp->pending > 0)
			cp->pending--;
		htab_remove(&f->pend, n);
		pend_log(f, p, 1);
		free(p);
	}
}

static void
ev_agent(struct fold *f, const msgpack_object *r, int64_t ts)
{
	char name[FOLD_NAME];
	struct fold_agent *a;

	str(r, "agent", name, sizeof(name));
	if ((a = fold_agent_get(f, name, 1)) == NULL)
		return;
	agent_time(f, a, a->since, ts);
	str(r, "status", a->status, sizeof(a->status));
	str(r, "kind", a->kind, sizeof(a->kind));
	str(r, "reason", a->reason, sizeof(a->reason));
	if (a->kind[0] == '\0')
		snprintf(a->kind, sizeof(a->kind), "offline");
	a->since = ts;
	a->changed = 1;
	f->changed = 1;
}

/* Abandon, at their deadline, entries whose wait passed the dropout. */
static void
dropouts(struct fold *f, int64_t now)
{
	struct htab_iter it;
	struct htab_node *n;
	int64_t next = INT64_MAX;

	if (now < f->next_deadline)
		return;
	htab_iter_init(&it, &f->convs);
	while ((n = htab_iter_next(&it)) != NULL) {
		struct fold_conv *c = HTAB_ENTRY(n, struct fold_conv, hn);
		struct fold_camp *cp;
		int64_t dl;

		if (!c->entry || c->logged || c->answered || c->abandoned ||
		    (cp = fold_camp_get(f, c->entry_camp, 1)) == NULL)
			continue;
		dl = c->entry_ts + cp->cfg.dropout_ms;
		if (dl <= now) {
			conv_touch(f, c);
			entry_end(f, c, dl, 1, 1, -1);
		}
		else if (dl < next)
			next = dl;
	}
	f->next_deadline = next;
}

void
fold_advance(struct fold *f, int64_t now)
{
	struct htab_iter it;
	struct htab_node *n;

	if (now > f->now)
		f->now = now;
	dropouts(f, f->now);
	htab_iter_init(&it, &f->camps);
	while ((n = htab_iter_next(&it)) != NULL)
		day_check_camp(f, HTAB_ENTRY(n, struct fold_camp, hn));
	htab_iter_init(&it, &f->agents);
	while ((n = htab_iter_next(&it)) != NULL)
		day_check_agent(f, HTAB_ENTRY(n, struct fold_agent, hn));
}

/* Days and dropouts before an event at ts, cheaply: only when due. */
static void
advance_to(struct fold *f, int64_t ts)
{
	if (ts > f->now)
		f->now = ts;
	if (f->now >= f->next_deadline)
		dropouts(f, f->now);
}

int
fold_event(struct fold *f, uint64_t seq, const msgpack_object *r)
{
	char type[16], id[40], tmp[FOLD_NAME];
	struct fold_conv *c;
	struct qrolls q;
	int64_t ts = 0, ets;

	if (r->type != MSGPACK_OBJECT_MAP)
		return -1;
	if (seq != 0 && seq <= f->seq)
		return 0;
	if (seq)
		f->seq = seq;
	f->events++;
	if (!mp_int(r, "ts", &ts) || ts <= 0)
		ts = f->now;
	advance_to(f, ts);
	str(r, "type", type, sizeof(type));
	str(r, "conv", id, sizeof(id));
	c = id[0] ? conv_get(f, id) : NULL;
	f->changed = 1;

	if (strcmp(type, "message") == 0 && id[0])
		ev_message(f, r, id, ts);
	else if (strcmp(type, "status") == 0)
		ev_status(f, r, ts);
	else if (strcmp(type, "conv") == 0 && id[0]) {
		char st[12];

		str(r, "status", st, sizeof(st));
		if (strcmp(st, "open") == 0)
			conv_from(f, r, id);
	} else if (strcmp(type, "queue") == 0 && id[0]) {
		int b = 0;

		if ((c = conv_from(f, r, id)) == NULL)
			return 0;
		offer_clear(f, c);
		unassign(f, c);
		snprintf(c->rstate, sizeof(c->rstate), "waiting");
		snprintf(c->mode, sizeof(c->mode), "agent");
		if (mp_bool(r, "attention", &b))
			c->attention = b;
		if (!mp_int(r, "entry_ts", &ets) || ets < 0)
			ets = 0;
		entry_begin(f, c, ts, ets, ev_sl_ms(r));
	} else if ((strcmp(type, "answer") == 0 ||
	    strcmp(type, "abandon") == 0) && c) {
		/* routerd's end of a logged entry: the one it names */
		if (!mp_int(r, "entry_ts", &ets) || !c->entry ||
		    !c->logged || c->entry_ts != ets || c->answered ||
		    c->abandoned)
			return 0;
		if (type[1] == 'n')
			entry_answer(f, c, ts, ev_sl_ms(r));
		else
			entry_end(f, c, ts, 1, 1, ev_sl_ms(r));
	} else if (strcmp(type, "offer") == 0 && c) {
		const msgpack_object *ag = mp_get(r, "agents");
		struct fold_agent *a;
		uint32_t i;

		offer_clear(f, c);
		if (ag && ag->type == MSGPACK_OBJECT_ARRAY)
			for (i = 0; i < ag->via.array.size &&
			    c->noffer < FOLD_OFFER_MAX; i++) {
				const msgpack_object *o = &ag->via.array.ptr[i];

				if (o->type != MSGPACK_OBJECT_STR ||
				    o->via.str.size >= FOLD_NAME ||
				    o->via.str.size == 0)
					continue;
				memcpy(c->offer[c->noffer], o->via.str.ptr,
				    o->via.str.size);
				c->offer[c->noffer][o->via.str.size] = '\0';
				if ((a = fold_agent_get(f, c->offer[c->noffer],
				    1)) != NULL) {
					a->offers++;
					a->changed = 1;
				}
				c->noffer++;
			}
		mp_int(r, "expires_ts", &c->offer_exp);
		snprintf(c->rstate, sizeof(c->rstate), "offered");
		f->waiting_changed = 1;
	} else if (strcmp(type, "lapse") == 0 && c) {
		int i, j;
		struct fold_agent *a;

		str(r, "agent", tmp, sizeof(tmp));
		for (i = 0; i < c->noffer; i++)
			if (strcmp(c->offer[i], tmp) == 0) {
				if ((a = fold_agent_get(f, tmp, 0)) != NULL &&
				    a->offers > 0) {
					a->offers--;
					a->changed = 1;
				}
				for (j = i; j + 1 < c->noffer; j++)
					memcpy(c->offer[j], c->offer[j + 1],
					    FOLD_NAME);
				c->noffer--;
				break;
			}
		if (c->noffer == 0) {
			snprintf(c->rstate, sizeof(c->rstate), "waiting");
			f->waiting_changed = 1;
		}
	} else if (strcmp(type, "assign") == 0 && id[0]) {
		struct fold_agent *a;
		char via[16];

		if ((c = conv_from(f, r, id)) == NULL)
			return 0;
		str(r, "agent", tmp, sizeof(tmp));
		str(r, "via", via, sizeof(via));
		offer_clear(f, c);
		unassign(f, c);
		if ((a = fold_agent_get(f, tmp, 1)) != NULL) {
			a->active++;
			a->changed = 1;
			snprintf(c->agent, sizeof(c->agent), "%s", tmp);
			aadd(f, tmp, c->campaign, ts, A_ASSIGNED, 1, -1);
		}
		snprintf(c->rstate, sizeof(c->rstate), "assigned");
		c->first_reply = 0;
		f->waiting_changed = 1;
	} else if (strcmp(type, "close") == 0 && id[0]) {
		char camp[FOLD_NAME], channel[16] = "";

		str(r, "agent", tmp, sizeof(tmp));
		str(r, "campaign", camp, sizeof(camp));
		if (c) {
			snprintf(channel, sizeof(channel), "%s", c->channel);
			entry_end(f, c, ts, 1, 0, -1);
		}
		if (tmp[0]) {
			qrolls(f, camp, channel, ts, &q);
			qadd(&q, R_HANDLED, 1);
			{
				struct fold_camp *cp = fold_camp_get(f, camp, 0);

				if (cp)
					cp->t_handled++;
			}
			aadd(f, c && c->agent[0] ? c->agent : tmp, camp, ts,
			    A_COMPLETED, 1, -1);
		}
		if (c)
			conv_drop(f, c);
	} else if (strcmp(type, "transfer") == 0 && c) {
		/* the assign or queue event before it did the work */
		f->waiting_changed = 1;
	} else if (strcmp(type, "mode") == 0 && c) {
		str(r, "mode", tmp, sizeof(tmp));
		if (strcmp(tmp, "bot") == 0) {
			entry_end(f, c, ts, 0, -1, -1);
			offer_clear(f, c);
			unassign(f, c);
			snprintf(c->mode, sizeof(c->mode), "bot");
			snprintf(c->rstate, sizeof(c->rstate), "bot");
		} else
			snprintf(c->mode, sizeof(c->mode), "agent");
		f->waiting_changed = 1;
	} else if (strcmp(type, "attention") == 0 && c) {
		int b = 0;

		if (mp_bool(r, "on", &b) || mp_bool(r, "attention", &b))
			c->attention = b;
		f->waiting_changed = 1;
	} else if (strcmp(type, "optout") == 0) {
		char camp[FOLD_NAME], channel[16];

		str(r, "campaign", camp, sizeof(camp));
		str(r, "channel", channel, sizeof(channel));
		if (c) {
			if (c->had_out) {
				qrolls(f, camp, channel, ts, &q);
				qadd(&q, R_OPTED_OUT, 1);
			}
			entry_end(f, c, ts, 1, 0, -1);
		}
	} else if (strcmp(type, "blocked") == 0 && c) {
		entry_end(f, c, ts, 1, 0, -1);
	} else if (strcmp(type, "refused") == 0) {
		char camp[FOLD_NAME], channel[16];

		str(r, "campaign", camp, sizeof(camp));
		str(r, "channel", channel, sizeof(channel));
		qrolls(f, camp, channel, ts, &q);
		qadd(&q, R_REFUSED, 1);
	} else if (strcmp(type, "agent") == 0)
		ev_agent(f, r, ts);
	else if (strcmp(type, "campaign") == 0) {
		struct htab_iter it;
		struct htab_node *n;
		char op[16];

		str(r, "op", op, sizeof(op));
		str(r, "campaign", tmp, sizeof(tmp));
		if (strcmp(op, "deleted") == 0) {
			htab_iter_init(&it, &f->convs);
			while ((n = htab_iter_next(&it)) != NULL) {
				c = HTAB_ENTRY(n, struct fold_conv, hn);
				if (strcmp(c->campaign, tmp) == 0)
					conv_drop(f, c);
			}
		}
	}
	return 0;
}

/* persistence */

static void
pk_str(msgpack_packer *pk, const char *s)
{
	mp_pack_cstr(pk, s);
}

static void
samples_pack(const struct fold_samples *s, msgpack_packer *pk)
{
	size_t i;

	if (s->hist) {
		msgpack_pack_map(pk, 1);
		pk_str(pk, "h");
		msgpack_pack_array(pk, FOLD_HIST_N);
		for (i = 0; i < FOLD_HIST_N; i++)
			msgpack_pack_uint32(pk, s->hist[i]);
		return;
	}
	msgpack_pack_map(pk, s->with_ts ? 2 : 1);
	pk_str(pk, "v");
	msgpack_pack_array(pk, s->n);
	for (i = 0; i < s->n; i++)
		msgpack_pack_int64(pk, s->v[i]);
	if (s->with_ts) {
		pk_str(pk, "t");
		msgpack_pack_array(pk, s->n);
		for (i = 0; i < s->n; i++)
			msgpack_pack_int64(pk, s->ts[i]);
	}
}

static void
samples_unpack(struct fold_samples *s, const msgpack_object *o)
{
	const msgpack_object *v = mp_get(o, "v"), *t = mp_get(o, "t"),
	    *h = mp_get(o, "h");
	uint32_t i;

	fold_samples_reset(s);
	if (h && h->type == MSGPACK_OBJECT_ARRAY &&
	    h->via.array.size == FOLD_HIST_N) {
		s->hist = xcalloc(FOLD_HIST_N, sizeof(*s->hist));
		for (i = 0; i < FOLD_HIST_N; i++) {
			s->hist[i] = (uint32_t)h->via.array.ptr[i].via.u64;
			s->hn += s->hist[i];
		}
		return;
	}
	if (v == NULL || v->type != MSGPACK_OBJECT_ARRAY)
		return;
	if (t && (t->type != MSGPACK_OBJECT_ARRAY ||
	    t->via.array.size != v->via.array.size))
		t = NULL;
	for (i = 0; i < v->via.array.size; i++)
		fold_samples_add(s, v->via.array.ptr[i].via.i64,
		    t ? t->via.array.ptr[i].via.i64 : 0);
}

void
fold_roll_pack(const struct fold_roll *r, msgpack_packer *pk)
{
	int i, n = r->kind == 'a' ? A_NA : R_NQ;

	msgpack_pack_map(pk, 3);
	pk_str(pk, "v");
	msgpack_pack_array(pk, n);
	for (i = 0; i < n; i++)
		msgpack_pack_int64(pk, r->v[i]);
	pk_str(pk, "w");
	samples_pack(&r->wait, pk);
	pk_str(pk, "r");
	samples_pack(&r->resp, pk);
}

int
fold_roll_unpack(struct fold_roll *r, const msgpack_object *o)
{
	const msgpack_object *v = mp_get(o, "v");
	uint32_t i;

	if (v == NULL || v->type != MSGPACK_OBJECT_ARRAY)
		return -1;
	for (i = 0; i < v->via.array.size && i < FOLD_NV; i++)
		r->v[i] = v->via.array.ptr[i].via.i64;
	if (mp_get(o, "w"))
		samples_unpack(&r->wait, mp_get(o, "w"));
	if (mp_get(o, "r"))
		samples_unpack(&r->resp, mp_get(o, "r"));
	return 0;
}

static void
kv_i(msgpack_packer *pk, const char *k, int64_t v)
{
	mp_kv_int(pk, k, v);
}

static void
conv_pack(const struct fold_conv *c, msgpack_packer *pk)
{
	int i;

	msgpack_pack_map(pk, 22);
	mp_kv_str(pk, "id", c->id);
	mp_kv_str(pk, "campaign", c->campaign);
	mp_kv_str(pk, "channel", c->channel);
	mp_kv_str(pk, "contact", c->contact);
	mp_kv_str(pk, "addr", c->addr);
	mp_kv_str(pk, "name", c->name);
	mp_kv_str(pk, "mode", c->mode);
	mp_kv_str(pk, "rstate", c->rstate);
	mp_kv_str(pk, "agent", c->agent);
	kv_i(pk, "entry", c->entry);
	kv_i(pk, "entry_ts", c->entry_ts);
	mp_kv_str(pk, "entry_camp", c->entry_camp);
	kv_i(pk, "flags", c->answered | c->abandoned << 1 |
	    c->attention << 2 | c->had_out << 3 | c->responded << 4 |
	    c->logged << 5);
	pk_str(pk, "offer");
	msgpack_pack_array(pk, c->noffer);
	for (i = 0; i < c->noffer; i++)
		pk_str(pk, c->offer[i]);
	kv_i(pk, "offer_exp", c->offer_exp);
	kv_i(pk, "waiting_since", c->waiting_since);
	kv_i(pk, "first_reply", c->first_reply);
	mp_kv_str(pk, "last_dir", c->last_dir);
	kv_i(pk, "entry_sl", c->entry_sl);
	kv_i(pk, "x2", 0);
	kv_i(pk, "x3", 0);
	kv_i(pk, "x4", 0);
}

static void
pend_pack(const char *id, const char *campaign, msgpack_packer *pk)
{
	msgpack_pack_array(pk, 2);
	pk_str(pk, id);
	pk_str(pk, campaign);
}

static void
save(const struct fold *f, msgpack_packer *pk, int with_sets)
{
	struct htab_iter it;
	struct htab_node *n;
	int i;

	msgpack_pack_map(pk, 9);
	kv_i(pk, "seq", (int64_t)f->seq);
	kv_i(pk, "now", f->now);
	pk_str(pk, "msgs");
	msgpack_pack_array(pk, 10);
	for (i = 0; i < 5; i++) {
		msgpack_pack_int64(pk, f->t_msgs[i][0]);
		msgpack_pack_int64(pk, f->t_msgs[i][1]);
	}
	pk_str(pk, "convs");
	msgpack_pack_array(pk, with_sets ? htab_count(&f->convs) : 0);
	htab_iter_init(&it, &f->convs);
	while (with_sets && (n = htab_iter_next(&it)) != NULL)
		conv_pack(HTAB_ENTRY(n, struct fold_conv, hn), pk);
	pk_str(pk, "camps");
	msgpack_pack_array(pk, htab_count(&f->camps));
	htab_iter_init(&it, &f->camps);
	while ((n = htab_iter_next(&it)) != NULL) {
		const struct fold_camp *c = HTAB_ENTRY(n, struct fold_camp, hn);
		const struct fold_chan *ch;
		size_t nch = 0;

		for (ch = c->chans; ch; ch = ch->next)
			nch++;
		msgpack_pack_map(pk, 12);
		mp_kv_str(pk, "name", c->name);
		kv_i(pk, "day_start", c->day_start);
		kv_i(pk, "day_end", c->day_end);
		pk_str(pk, "day");
		fold_roll_pack(&c->day, pk);
		pk_str(pk, "chans");
		msgpack_pack_array(pk, nch);
		for (ch = c->chans; ch; ch = ch->next) {
			msgpack_pack_map(pk, 2);
			mp_kv_str(pk, "name", ch->name);
			pk_str(pk, "day");
			fold_roll_pack(&ch->day, pk);
		}
		kv_i(pk, "t_offered", c->t_offered);
		kv_i(pk, "t_answered", c->t_answered);
		kv_i(pk, "t_abandoned", c->t_abandoned);
		kv_i(pk, "t_handled", c->t_handled);
		kv_i(pk, "t_wait_sum", c->t_wait_sum);
		kv_i(pk, "t_wait_n", c->t_wait_n);
		pk_str(pk, "t_wait_b");
		msgpack_pack_array(pk, FOLD_WAIT_BUCKETS);
		for (i = 0; i < FOLD_WAIT_BUCKETS; i++)
			msgpack_pack_int64(pk, c->t_wait_b[i]);
	}
	pk_str(pk, "agents");
	msgpack_pack_array(pk, htab_count(&f->agents));
	htab_iter_init(&it, &f->agents);
	while ((n = htab_iter_next(&it)) != NULL) {
		const struct fold_agent *a = HTAB_ENTRY(n, struct fold_agent, hn);
		const struct fold_ac *ac;
		size_t nac = 0;

		for (ac = a->acs; ac; ac = ac->next)
			nac++;
		msgpack_pack_map(pk, 9);
		mp_kv_str(pk, "name", a->name);
		mp_kv_str(pk, "status", a->status);
		mp_kv_str(pk, "kind", a->kind);
		mp_kv_str(pk, "reason", a->reason);
		kv_i(pk, "since", a->since);
		kv_i(pk, "day_start", a->day_start);
		kv_i(pk, "day_end", a->day_end);
		pk_str(pk, "day");
		fold_roll_pack(&a->day, pk);
		pk_str(pk, "acs");
		msgpack_pack_array(pk, nac);
		for (ac = a->acs; ac; ac = ac->next) {
			msgpack_pack_map(pk, 2);
			mp_kv_str(pk, "campaign", ac->campaign);
			pk_str(pk, "day");
			fold_roll_pack(&ac->day, pk);
		}
	}
	pk_str(pk, "addrs");
	msgpack_pack_array(pk, htab_count(&f->addrs));
	htab_iter_init(&it, &f->addrs);
	while ((n = htab_iter_next(&it)) != NULL) {
		const struct fold_addr *a = HTAB_ENTRY(n, struct fold_addr, hn);

		msgpack_pack_array(pk, 8);
		pk_str(pk, a->key);
		msgpack_pack_int64(pk, a->in);
		msgpack_pack_int64(pk, a->out);
		for (i = 0; i < 5; i++)
			msgpack_pack_int64(pk, a->st[i]);
	}
	pk_str(pk, "errs");
	msgpack_pack_array(pk, htab_count(&f->errs));
	htab_iter_init(&it, &f->errs);
	while ((n = htab_iter_next(&it)) != NULL) {
		const struct fold_err *e = HTAB_ENTRY(n, struct fold_err, hn);

		msgpack_pack_array(pk, 2);
		pk_str(pk, e->key);
		msgpack_pack_int64(pk, e->n);
	}
	pk_str(pk, "pend");
	msgpack_pack_array(pk, with_sets ? htab_count(&f->pend) : 0);
	htab_iter_init(&it, &f->pend);
	while (with_sets && (n = htab_iter_next(&it)) != NULL) {
		const struct pend *p = HTAB_ENTRY(n, struct pend, hn);

		pend_pack(p->id, p->campaign, pk);
	}
}

void
fold_save(const struct fold *f, msgpack_packer *pk)
{
	save(f, pk, 1);
}

void
fold_save_base(const struct fold *f, msgpack_packer *pk)
{
	save(f, pk, 0);
}

static int64_t
gi(const msgpack_object *o, const char *k)
{
	int64_t v = 0;

	mp_int(o, k, &v);
	return v;
}

static void
ostr(const msgpack_object *o, char *buf, size_t sz)
{
	buf[0] = '\0';
	if (o->type == MSGPACK_OBJECT_STR && o->via.str.size < sz) {
		memcpy(buf, o->via.str.ptr, o->via.str.size);
		buf[o->via.str.size] = '\0';
	}
}

/* One conversation fold_save wrote (or fold_flush_sets), back. */
static int
conv_unpack(struct fold *f, const msgpack_object *e)
{
	const msgpack_object *of;
	struct fold_conv *c;
	struct fold_agent *ag;
	char id[40];
	uint32_t j;
	int fl;

	str(e, "id", id, sizeof(id));
	if (e->type != MSGPACK_OBJECT_MAP || (c = conv_get(f, id)) != NULL ||
	    (c = conv_new(f, id)) == NULL)
		return -1;
	str(e, "campaign", c->campaign, sizeof(c->campaign));
	str(e, "channel", c->channel, sizeof(c->channel));
	str(e, "contact", c->contact, sizeof(c->contact));
	str(e, "addr", c->addr, sizeof(c->addr));
	str(e, "name", c->name, sizeof(c->name));
	str(e, "mode", c->mode, sizeof(c->mode));
	str(e, "rstate", c->rstate, sizeof(c->rstate));
	str(e, "agent", c->agent, sizeof(c->agent));
	c->entry = (int)gi(e, "entry");
	c->entry_ts = gi(e, "entry_ts");
	str(e, "entry_camp", c->entry_camp,
	    sizeof(c->entry_camp));
	fl = (int)gi(e, "flags");
	c->answered = fl & 1;
	c->abandoned = fl >> 1 & 1;
	c->attention = fl >> 2 & 1;
	c->had_out = fl >> 3 & 1;
	c->responded = fl >> 4 & 1;
	c->logged = fl >> 5 & 1;
	/* a state saved before entry_sl: unknown */
	c->entry_sl = mp_get(e, "entry_sl") ?
	    gi(e, "entry_sl") : -1;
	if ((of = mp_get(e, "offer")) &&
	    of->type == MSGPACK_OBJECT_ARRAY)
		for (j = 0; j < of->via.array.size &&
		    c->noffer < FOLD_OFFER_MAX; j++) {
			ostr(&of->via.array.ptr[j],
			    c->offer[c->noffer], FOLD_NAME);
			if ((ag = fold_agent_get(f,
			    c->offer[c->noffer], 1)) != NULL)
				ag->offers++;
			c->noffer++;
		}
	c->offer_exp = gi(e, "offer_exp");
	c->waiting_since = gi(e, "waiting_since");
	c->first_reply = gi(e, "first_reply");
	str(e, "last_dir", c->last_dir, sizeof(c->last_dir));
	if (strcmp(c->rstate, "assigned") == 0 && c->agent[0] &&
	    (ag = fold_agent_get(f, c->agent, 1)) != NULL)
		ag->active++;
	return 0;
}

/* One pending message fold_save wrote (or fold_flush_sets), back. */
static int
pend_unpack(struct fold *f, const msgpack_object *x)
{
	struct pend *p;
	struct fold_camp *cp;

	if (x->type != MSGPACK_OBJECT_ARRAY ||
	    x->via.array.size != 2)
		return -1;
	p = xcalloc(1, sizeof(*p));
	ostr(&x->via.array.ptr[0], p->id, sizeof(p->id));
	ostr(&x->via.array.ptr[1], p->campaign,
	    sizeof(p->campaign));
	if (p->id[0] == '\0' || htab_find(&f->pend, p->id,
	    strlen(p->id), pend_eq)) {
		free(p);
		return -1;
	}
	if (htab_insert(&f->pend, &p->hn, p->id,
	    strlen(p->id)) == -1)
		fatalx("out of memory");
	pend_log(f, p, 0);
	if ((cp = fold_camp_get(f, p->campaign, 1)) != NULL)
		cp->pending++;
	return 0;
}

int
fold_load(struct fold *f, const msgpack_object *o)
{
	const msgpack_object *a, *e;
	uint32_t i, j;

	if (o->type != MSGPACK_OBJECT_MAP)
		return -1;
	f->seq = (uint64_t)gi(o, "seq");
	f->now = gi(o, "now");
	if ((a = mp_get(o, "msgs")) && a->type == MSGPACK_OBJECT_ARRAY &&
	    a->via.array.size == 10)
		for (i = 0; i < 5; i++) {
			f->t_msgs[i][0] = a->via.array.ptr[2 * i].via.i64;
			f->t_msgs[i][1] = a->via.array.ptr[2 * i + 1].via.i64;
		}
	if ((a = mp_get(o, "camps")) && a->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < a->via.array.size; i++) {
			char name[FOLD_NAME];
			struct fold_camp *c;
			const msgpack_object *chs, *b;

			e = &a->via.array.ptr[i];
			str(e, "name", name, sizeof(name));
			if ((c = fold_camp_get(f, name, 1)) == NULL)
				continue;
			c->day_start = gi(e, "day_start");
			c->day_end = gi(e, "day_end");
			if (mp_get(e, "day"))
				fold_roll_unpack(&c->day, mp_get(e, "day"));
			if ((chs = mp_get(e, "chans")) &&
			    chs->type == MSGPACK_OBJECT_ARRAY)
				for (j = 0; j < chs->via.array.size; j++) {
					const msgpack_object *x =
					    &chs->via.array.ptr[j];
					char cn[16];

					str(x, "name", cn, sizeof(cn));
					if (mp_get(x, "day"))
						fold_roll_unpack(&chan_get(c,
						    cn)->day, mp_get(x, "day"));
				}
			c->t_offered = gi(e, "t_offered");
			c->t_answered = gi(e, "t_answered");
			c->t_abandoned = gi(e, "t_abandoned");
			c->t_handled = gi(e, "t_handled");
			c->t_wait_sum = gi(e, "t_wait_sum");
			c->t_wait_n = gi(e, "t_wait_n");
			if ((b = mp_get(e, "t_wait_b")) &&
			    b->type == MSGPACK_OBJECT_ARRAY &&
			    b->via.array.size == FOLD_WAIT_BUCKETS)
				for (j = 0; j < FOLD_WAIT_BUCKETS; j++)
					c->t_wait_b[j] =
					    b->via.array.ptr[j].via.i64;
		}
	if ((a = mp_get(o, "agents")) && a->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < a->via.array.size; i++) {
			char name[FOLD_NAME];
			struct fold_agent *ag;
			const msgpack_object *acs;

			e = &a->via.array.ptr[i];
			str(e, "name", name, sizeof(name));
			if ((ag = fold_agent_get(f, name, 1)) == NULL)
				continue;
			str(e, "status", ag->status, sizeof(ag->status));
			str(e, "kind", ag->kind, sizeof(ag->kind));
			str(e, "reason", ag->reason, sizeof(ag->reason));
			ag->since = gi(e, "since");
			ag->day_start = gi(e, "day_start");
			ag->day_end = gi(e, "day_end");
			if (mp_get(e, "day"))
				fold_roll_unpack(&ag->day, mp_get(e, "day"));
			if ((acs = mp_get(e, "acs")) &&
			    acs->type == MSGPACK_OBJECT_ARRAY)
				for (j = 0; j < acs->via.array.size; j++) {
					const msgpack_object *x =
					    &acs->via.array.ptr[j];
					char cn[FOLD_NAME];

					str(x, "campaign", cn, sizeof(cn));
					if (mp_get(x, "day"))
						fold_roll_unpack(&ac_get(ag,
						    cn)->day, mp_get(x, "day"));
				}
		}
	if ((a = mp_get(o, "convs")) && a->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < a->via.array.size; i++)
			conv_unpack(f, &a->via.array.ptr[i]);
	if ((a = mp_get(o, "addrs")) && a->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < a->via.array.size; i++) {
			const msgpack_object *x = &a->via.array.ptr[i];
			char key[96], *bar;
			struct fold_addr *ad;

			if (x->type != MSGPACK_OBJECT_ARRAY ||
			    x->via.array.size != 8)
				continue;
			ostr(&x->via.array.ptr[0], key, sizeof(key));
			if ((bar = strchr(key, '|')) == NULL)
				continue;
			*bar = '\0';
			if ((ad = addr_get(f, key, strcmp(bar + 1, "-") == 0 ?
			    "" : bar + 1)) == NULL)
				continue;
			ad->in = x->via.array.ptr[1].via.i64;
			ad->out = x->via.array.ptr[2].via.i64;
			for (j = 0; j < 5; j++)
				ad->st[j] = x->via.array.ptr[3 + j].via.i64;
		}
	if ((a = mp_get(o, "errs")) && a->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < a->via.array.size; i++) {
			const msgpack_object *x = &a->via.array.ptr[i];
			char key[64], *bar;
			struct htab_node *n;

			if (x->type != MSGPACK_OBJECT_ARRAY ||
			    x->via.array.size != 2)
				continue;
			ostr(&x->via.array.ptr[0], key, sizeof(key));
			if ((bar = strchr(key, '|')) == NULL)
				continue;
			*bar = '\0';
			err_add(f, key, bar + 1);
			*bar = '|';
			if ((n = htab_find(&f->errs, key, strlen(key),
			    err_eq)) != NULL)
				HTAB_ENTRY(n, struct fold_err, hn)->n =
				    x->via.array.ptr[1].via.i64;
		}
	if ((a = mp_get(o, "pend")) && a->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < a->via.array.size; i++)
			pend_unpack(f, &a->via.array.ptr[i]);
	f->next_deadline = INT64_MIN;	/* checked at the next advance */
	return 0;
}

int
fold_load_set(struct fold *f, char kind, const msgpack_object *o)
{
	return kind == 'c' ? conv_unpack(f, o) : pend_unpack(f, o);
}

void
fold_sets_clean(struct fold *f)
{
	struct fold_conv *c, *nx;
	struct fold_pop *o, *onx;

	for (c = f->cdirty; c; c = nx) {
		nx = c->dnext;
		c->dirty = 0;
		c->dnext = NULL;
		if (c->gone)
			free(c);
	}
	f->cdirty = NULL;
	for (o = f->pops; o; o = onx) {
		onx = o->next;
		free(o);
	}
	f->pops = NULL;
	f->pops_tail = &f->pops;
}

void
fold_flush_sets(struct fold *f, void (*cb)(char, const char *, const void *,
    size_t, void *), void *arg)
{
	struct fold_conv *c;
	struct fold_pop *o;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int pass;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* the dropped first: a conversation dropped and opened again since
	 * the last flush is on the list twice, gone and live, and the live
	 * one must be what stays */
	for (pass = 0; pass < 2; pass++)
		for (c = f->cdirty; c; c = c->dnext) {
			if (c->gone != (pass == 0))
				continue;
			if (c->gone) {
				cb('c', c->id, NULL, 0, arg);
				continue;
			}
			sb.size = 0;
			conv_pack(c, &pk);
			cb('c', c->id, sb.data, sb.size, arg);
		}
	/* the pending set's changes in the order they came */
	for (o = f->pops; o; o = o->next) {
		if (o->del) {
			cb('p', o->id, NULL, 0, arg);
			continue;
		}
		sb.size = 0;
		pend_pack(o->id, o->campaign, &pk);
		cb('p', o->id, sb.data, sb.size, arg);
	}
	msgpack_sbuffer_destroy(&sb);
	fold_sets_clean(f);
}

void
fold_flush(struct fold *f, void (*cb)(const char *, const void *, size_t,
    void *), void *arg, int64_t keep_hours)
{
	struct fold_roll *r, *nx;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct htab_iter it;
	struct htab_node *n;

	msgpack_sbuffer_init(&sb);
	for (r = f->dirty; r; r = nx) {
		nx = r->dnext;
		sb.size = 0;
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		fold_roll_pack(r, &pk);
		if (cb)
			cb(r->key, sb.data, sb.size, arg);
		r->dirty = 0;
		r->dnext = NULL;
	}
	f->dirty = NULL;
	msgpack_sbuffer_destroy(&sb);
	if (keep_hours < 0)
		return;
	rcache_clear(f);
	htab_iter_init(&it, &f->rolls);
	while ((n = htab_iter_next(&it)) != NULL) {
		r = HTAB_ENTRY(n, struct fold_roll, hn);
		if (r->hour < f->max_hour - keep_hours) {
			htab_remove(&f->rolls, n);
			roll_free(r);
			free(r);
		}
	}
}
