/*
 * statsd_view — entities and Prometheus text from the fold (statsd_view.h).
 *
 * Figures computed here, at "now", rather than folded: waiting and the
 * longest wait, ACD exceeded, long chats, overdue, the agents' channels,
 * free capacity and time in the current status, and every ratio (SL, SL2,
 * dropout rate, engagement), which are exact quotients of folded counts.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "rec.h"
#include "statsd_view.h"

#define DUMP	(JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

json_t *
view_secs(int64_t ms)
{
	return json_real((double)ms / 1000.0);
}

static json_t *
ts_json(int64_t ms)
{
	char b[32];

	if (ms <= 0)
		return json_null();
	rec_ts_format(ms, b);
	return json_string(b);
}

static double
pct(int64_t a, int64_t b)
{
	return b > 0 ? round(10000.0 * (double)a / (double)b) / 100.0 : 0;
}

/* what a pass over the conversations finds, per campaign x channel */
struct live {
	int64_t	waiting, oldest, long_chats, overdue;
};

static void
live_add(struct live *l, const struct fold_conv *c, const struct fold_cfg *g,
    int64_t now)
{
	if (c->entry && !c->answered && strcmp(c->mode, "agent") == 0) {
		l->waiting++;
		if (l->oldest == 0 || c->entry_ts < l->oldest)
			l->oldest = c->entry_ts;
	}
	if (strcmp(c->rstate, "assigned") == 0 && c->first_reply > 0 &&
	    now - c->first_reply > g->chat_ms)
		l->long_chats++;
	if (strcmp(c->mode, "agent") == 0 && c->waiting_since > 0 &&
	    strcmp(c->last_dir, "in") == 0 &&
	    now - c->waiting_since > g->resp_ms)
		l->overdue++;
}

static void
queue_figs(json_t *o, const struct fold_roll *d, const struct live *l,
    const struct fold_cfg *g, int64_t now, json_t *alert)
{
	int64_t ans = d->v[R_ANSWERED], ab = d->v[R_ABANDONED];
	int64_t lw = l->oldest ? now - l->oldest : 0;
	int64_t med;
	int approx;
	double sl = pct(d->v[R_ANS_SL], ans);

	json_object_set_new(o, "waiting", json_integer(l->waiting));
	json_object_set_new(o, "longest_wait", view_secs(lw < 0 ? 0 : lw));
	json_object_set_new(o, "oldest_ts", ts_json(l->oldest));
	json_object_set_new(o, "offered", json_integer(d->v[R_OFFERED]));
	json_object_set_new(o, "answered", json_integer(ans));
	json_object_set_new(o, "abandoned", json_integer(ab));
	json_object_set_new(o, "abandoned_timeout",
	    json_integer(d->v[R_ABN_TIMEOUT]));
	json_object_set_new(o, "transferred",
	    json_integer(d->v[R_TRANSFERRED]));
	json_object_set_new(o, "sl", json_real(sl));
	json_object_set_new(o, "sl2", json_real(pct(d->v[R_ANS_SL] +
	    d->v[R_ABN_SL], ans + ab)));
	json_object_set_new(o, "dropout_rate", json_real(pct(ab,
	    d->v[R_OFFERED])));
	json_object_set_new(o, "acd_over", json_boolean(l->waiting > g->acd));
	json_object_set_new(o, "long_chats", json_integer(l->long_chats));
	json_object_set_new(o, "overdue", json_integer(l->overdue));
	json_object_set_new(o, "avg_wait", ans ? view_secs(d->v[R_WAIT_SUM] /
	    ans) : json_real(0));
	json_object_set_new(o, "max_wait", view_secs(d->v[R_WAIT_MAX]));
	med = fold_samples_median(&d->wait, &approx);
	json_object_set_new(o, "median_wait", med < 0 ? json_real(0) :
	    view_secs(med));
	if (approx)
		json_object_set_new(o, "median_wait_approx", json_true());
	json_object_set_new(o, "handled", json_integer(d->v[R_HANDLED]));
	if (alert) {
		if (l->waiting > g->acd)
			json_array_append_new(alert, json_string("acd"));
		if (lw > g->dropout_ms)
			json_array_append_new(alert, json_string("longest_wait"));
		if (ans > 0 && d->v[R_ANS_SL] * 100 < ans * 80)
			json_array_append_new(alert, json_string("sl"));
		if (l->long_chats)
			json_array_append_new(alert, json_string("long_chats"));
		if (l->overdue)
			json_array_append_new(alert, json_string("overdue"));
	}
}

static void
analytics(json_t *o, const struct fold_roll *d, const struct fold_camp *c)
{
	int64_t med;
	int approx;

	json_object_set_new(o, "contact_messages",
	    json_integer(d->v[R_CONTACT_MSGS]));
	json_object_set_new(o, "agent_responses",
	    json_integer(d->v[R_AGENT_MSGS]));
	json_object_set_new(o, "bot_responses", json_integer(d->v[R_BOT_MSGS]));
	json_object_set_new(o, "other_out", json_integer(d->v[R_OTHER_OUT]));
	json_object_set_new(o, "sent", json_integer(d->v[R_SENT]));
	json_object_set_new(o, "delivered", json_integer(d->v[R_DELIVERED]));
	json_object_set_new(o, "read", json_integer(d->v[R_READ]));
	json_object_set_new(o, "failed", json_integer(d->v[R_FAILED]));
	if (c)
		json_object_set_new(o, "pending", json_integer(c->pending));
	json_object_set_new(o, "responded", json_integer(d->v[R_RESPONDED]));
	json_object_set_new(o, "opted_out", json_integer(d->v[R_OPTED_OUT]));
	json_object_set_new(o, "refused", json_integer(d->v[R_REFUSED]));
	json_object_set_new(o, "engagement_rate",
	    json_real(pct(d->v[R_RESPONDED], d->v[R_SENT])));
	json_object_set_new(o, "avg_agent_response", d->v[R_RESP_N] ?
	    view_secs(d->v[R_RESP_SUM] / d->v[R_RESP_N]) : json_real(0));
	med = fold_samples_median(&d->resp, &approx);
	json_object_set_new(o, "median_agent_response", med < 0 ?
	    json_real(0) : view_secs(med));
}

static json_t *
thresholds(const struct fold_cfg *g)
{
	return json_pack("{s:o,s:o,s:o,s:o,s:i,s:i,s:s}",
	    "service_level", view_secs(g->sl_ms),
	    "dropout", view_secs(g->dropout_ms),
	    "chat_time", view_secs(g->chat_ms),
	    "response_time", view_secs(g->resp_ms),
	    "acd", g->acd, "max_interactions", g->max_inter, "tz", g->tz);
}

static void
day_str(int64_t start, const char *tz, char buf[16])
{
	char b[32];

	/* the day's local date, named in the campaign's zone */
	fold_local_label(start, tz, "%Y-%m-%d", b, sizeof(b));
	memcpy(buf, b, 11);
	buf[11] = '\0';
}

static int
addr_eq_v(const struct htab_node *n, const void *k, size_t l)
{
	const struct fold_addr *a = HTAB_ENTRY(n, struct fold_addr, hn);

	return strlen(a->key) == l && memcmp(a->key, k, l) == 0;
}

/* {active, reason?, since?} of channel/addr from the daemons, or NULL. */
static json_t *
token_of(const struct view_sys *sys, const char *ch, const char *addr)
{
	size_t i;
	json_t *t, *o;

	if (sys == NULL || sys->tokens == NULL)
		return NULL;
	json_array_foreach(sys->tokens, i, t) {
		const char *tc = json_string_value(json_object_get(t,
		    "channel")), *ta = json_string_value(json_object_get(t,
		    "addr"));

		if (tc == NULL || ta == NULL || strcmp(tc, ch) != 0 ||
		    strcmp(ta, addr) != 0)
			continue;
		o = json_object();
		json_object_set_new(o, "active", json_boolean(json_is_true(
		    json_object_get(t, "active"))));
		if (json_object_get(t, "reason"))
			json_object_set(o, "reason", json_object_get(t,
			    "reason"));
		if (json_is_integer(json_object_get(t, "since")))
			json_object_set_new(o, "since_ts", ts_json(
			    json_integer_value(json_object_get(t, "since"))));
		return o;
	}
	return NULL;
}

/* one pass over the conversations */
struct pass {
	struct htab_iter it;
};

static struct live *
live_find(json_t *idx, const char *k, struct live *pool, size_t *np,
    size_t cap)
{
	json_t *v = json_object_get(idx, k);

	if (v)
		return &pool[json_integer_value(v)];
	if (*np == cap)
		return NULL;
	memset(&pool[*np], 0, sizeof(pool[*np]));
	json_object_set_new(idx, k, json_integer((json_int_t)*np));
	return &pool[(*np)++];
}

/* Build every entity into arr (each an object with "type"). */
static void
entities(struct fold *f, const struct view_sys *sys, int64_t now,
    json_t *arr)
{
	struct htab_iter it;
	struct htab_node *n;
	json_t *idx = json_object(), *achan = json_object();
	size_t np = 0, cap = 4096;
	struct live *pool = calloc(cap, sizeof(*pool)), zero;
	char k[200];

	if (pool == NULL)
		fatalx("out of memory");
	memset(&zero, 0, sizeof(zero));
	/* the conversations: live figures, waiting customers, channels */
	htab_iter_init(&it, &f->convs);
	while ((n = htab_iter_next(&it)) != NULL) {
		const struct fold_conv *c = HTAB_ENTRY(n, struct fold_conv, hn);
		const char *camp = c->entry && !c->answered ? c->entry_camp :
		    c->campaign;
		struct fold_camp *cp = fold_camp_get(f, camp, 0);
		struct fold_cfg g;
		struct live *l;

		if (cp)
			g = cp->cfg;
		else
			fold_cfg_default(&g);
		snprintf(k, sizeof(k), "%s", camp);
		if ((l = live_find(idx, k, pool, &np, cap)) != NULL)
			live_add(l, c, &g, now);
		snprintf(k, sizeof(k), "%s|%s", camp, c->channel);
		if ((l = live_find(idx, k, pool, &np, cap)) != NULL)
			live_add(l, c, &g, now);
		if (c->entry && !c->answered && strcmp(c->mode, "agent") == 0) {
			json_t *w = json_object();

			json_object_set_new(w, "type", json_string("waiting"));
			json_object_set_new(w, "conv", json_string(c->id));
			json_object_set_new(w, "campaign", json_string(camp));
			json_object_set_new(w, "channel",
			    json_string(c->channel));
			json_object_set_new(w, "contact",
			    json_string(c->contact));
			json_object_set_new(w, "name", c->name[0] ?
			    json_string(c->name) : json_null());
			json_object_set_new(w, "state", json_string(c->rstate));
			json_object_set_new(w, "agent", c->agent[0] ?
			    json_string(c->agent) : json_null());
			json_object_set_new(w, "since", ts_json(c->entry_ts));
			json_object_set_new(w, "on_hold",
			    view_secs(now - c->entry_ts));
			json_object_set_new(w, "attention",
			    json_boolean(c->attention));
			json_object_set_new(w, "abandoned",
			    json_boolean(c->abandoned));
			if (cp && now - c->entry_ts > cp->cfg.dropout_ms)
				json_object_set_new(w, "alert",
				    json_pack("[s]", "on_hold"));
			json_array_append_new(arr, w);
		}
		if (strcmp(c->rstate, "assigned") == 0 && c->agent[0]) {
			json_t *s = json_object_get(achan, c->agent);
			const char *have = s ? json_string_value(s) : "";
			char buf[128];

			if (strstr(have, c->channel) == NULL) {
				snprintf(buf, sizeof(buf), "%s%s%s", have,
				    have[0] ? "," : "", c->channel);
				json_object_set_new(achan, c->agent,
				    json_string(buf));
			}
		}
	}
	/* campaigns, with their channels */
	htab_iter_init(&it, &f->camps);
	while ((n = htab_iter_next(&it)) != NULL) {
		struct fold_camp *c = HTAB_ENTRY(n, struct fold_camp, hn);
		struct fold_chan *ch;
		json_t *o = json_object(), *al = json_array(), *chs = json_array();
		struct live *l;
		char day[16];

		l = (l = live_find(idx, c->name, pool, &np, cap)) ? l : &zero;
		day_str(c->day_start, c->cfg.tz, day);
		json_object_set_new(o, "type", json_string("campaign"));
		json_object_set_new(o, "campaign", json_string(c->name));
		json_object_set_new(o, "day", json_string(day));
		queue_figs(o, &c->day, l, &c->cfg, now, al);
		analytics(o, &c->day, c);
		json_object_set_new(o, "thresholds", thresholds(&c->cfg));
		for (ch = c->chans; ch; ch = ch->next) {
			json_t *x = json_object();
			struct live *cl;

			snprintf(k, sizeof(k), "%s|%s", c->name, ch->name);
			cl = (cl = live_find(idx, k, pool, &np, cap)) ? cl :
			    &zero;
			json_object_set_new(x, "channel",
			    json_string(ch->name));
			queue_figs(x, &ch->day, cl, &c->cfg, now, NULL);
			analytics(x, &ch->day, NULL);
			json_array_append_new(chs, x);
		}
		json_object_set_new(o, "channels", chs);
		json_object_set_new(o, "alert", al);
		json_array_append_new(arr, o);
	}
	/* agents */
	htab_iter_init(&it, &f->agents);
	while ((n = htab_iter_next(&it)) != NULL) {
		struct fold_agent *a = HTAB_ENTRY(n, struct fold_agent, hn);
		struct fold_ac *ac;
		json_t *o = json_object(), *cs = json_array(), *s;
		int64_t t[3], med, from = a->since > a->day_start ? a->since :
		    a->day_start;
		int cap_ = 0, approx;

		t[0] = a->day.v[A_AVAIL_MS];
		t[1] = a->day.v[A_BREAK_MS];
		t[2] = a->day.v[A_BUSY_MS];
		if (a->since > 0 && now > from) {
			if (strcmp(a->kind, "available") == 0)
				t[0] += now - from;
			else if (strcmp(a->kind, "break") == 0)
				t[1] += now - from;
			else if (strcmp(a->kind, "busy") == 0)
				t[2] += now - from;
		}
		for (ac = a->acs; ac; ac = ac->next) {
			struct fold_camp *cp = fold_camp_get(f, ac->campaign, 0);
			int mx = cp ? cp->cfg.max_inter : 3;
			json_t *x = json_object();

			if (mx > cap_)
				cap_ = mx;
			json_object_set_new(x, "campaign",
			    json_string(ac->campaign));
			json_object_set_new(x, "capacity", json_integer(mx));
			json_object_set_new(x, "completed",
			    json_integer(ac->day.v[A_COMPLETED]));
			json_object_set_new(x, "replies",
			    json_integer(ac->day.v[A_REPLIES]));
			json_object_set_new(x, "avg_response",
			    ac->day.v[A_RESP_N] ? view_secs(ac->day.v[A_RESP_SUM]
			    / ac->day.v[A_RESP_N]) : json_real(0));
			json_array_append_new(cs, x);
		}
		if (cap_ == 0)
			cap_ = 3;
		s = json_object_get(achan, a->name);
		json_object_set_new(o, "type", json_string("agent"));
		json_object_set_new(o, "agent", json_string(a->name));
		json_object_set_new(o, "status", json_string(a->status));
		json_object_set_new(o, "kind", json_string(a->kind));
		json_object_set_new(o, "reason", json_string(a->reason));
		json_object_set_new(o, "since", ts_json(a->since));
		json_object_set_new(o, "in_status", view_secs(a->since > 0 ?
		    now - a->since : 0));
		json_object_set_new(o, "channels", json_string(s ?
		    json_string_value(s) : ""));
		json_object_set_new(o, "active", json_integer(a->active));
		json_object_set_new(o, "offers", json_integer(a->offers));
		json_object_set_new(o, "capacity", json_integer(cap_));
		json_object_set_new(o, "free", json_integer(cap_ - a->active -
		    a->offers > 0 ? cap_ - a->active - a->offers : 0));
		json_object_set_new(o, "completed",
		    json_integer(a->day.v[A_COMPLETED]));
		json_object_set_new(o, "replies",
		    json_integer(a->day.v[A_REPLIES]));
		json_object_set_new(o, "avg_response", a->day.v[A_RESP_N] ?
		    view_secs(a->day.v[A_RESP_SUM] / a->day.v[A_RESP_N]) :
		    json_real(0));
		med = fold_samples_median(&a->day.resp, &approx);
		json_object_set_new(o, "median_response", med < 0 ?
		    json_real(0) : view_secs(med));
		json_object_set_new(o, "available_time", view_secs(t[0]));
		json_object_set_new(o, "break_time", view_secs(t[1]));
		json_object_set_new(o, "busy_time", view_secs(t[2]));
		json_object_set_new(o, "campaigns", cs);
		json_array_append_new(arr, o);
	}
	/* channels and addresses */
	htab_iter_init(&it, &f->addrs);
	while ((n = htab_iter_next(&it)) != NULL) {
		const struct fold_addr *a = HTAB_ENTRY(n, struct fold_addr, hn);
		char ch[96], *bar;
		json_t *o, *errs = json_object();
		struct htab_iter ei;
		struct htab_node *en;

		snprintf(ch, sizeof(ch), "%s", a->key);
		if ((bar = strchr(ch, '|')) == NULL)
			continue;
		*bar++ = '\0';
		htab_iter_init(&ei, &f->errs);
		while ((en = htab_iter_next(&ei)) != NULL) {
			const struct fold_err *e = HTAB_ENTRY(en, struct
			    fold_err, hn);
			size_t cl = strlen(ch);

			if (strncmp(e->key, ch, cl) == 0 && e->key[cl] == '|')
				json_object_set_new(errs, e->key + cl + 1,
				    json_integer(e->n));
		}
		o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}",
		    "type", "channel", "channel", ch, "addr", bar,
		    "in", (json_int_t)a->in, "out", (json_int_t)a->out,
		    "sent", (json_int_t)a->st[0],
		    "delivered", (json_int_t)a->st[1],
		    "read", (json_int_t)a->st[2],
		    "failed", (json_int_t)a->st[3],
		    "undelivered", (json_int_t)a->st[4], "errors", errs);
		if (o) {
			json_t *tk = token_of(sys, ch, bar);

			if (tk)
				json_object_set_new(o, "token", tk);
			json_array_append_new(arr, o);
		}
	}
	/* addresses a channel daemon knows that no event has named yet */
	if (sys && sys->tokens) {
		size_t ti;
		json_t *t;

		json_array_foreach(sys->tokens, ti, t) {
			const char *tc = json_string_value(json_object_get(t,
			    "channel")), *ta = json_string_value(
			    json_object_get(t, "addr"));
			json_t *o;

			if (tc == NULL || ta == NULL)
				continue;
			snprintf(k, sizeof(k), "%s|%s", tc, ta);
			if (htab_find(&f->addrs, k, strlen(k), addr_eq_v))
				continue;
			o = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,"
			    "s:o}", "type", "channel", "channel", tc, "addr", ta,
			    "in", 0, "out", 0, "sent", 0, "delivered", 0,
			    "read", 0, "failed", 0, "undelivered", 0,
			    "errors", json_object());
			if (o) {
				json_object_set_new(o, "token",
				    token_of(sys, tc, ta));
				json_array_append_new(arr, o);
			}
		}
	}
	if (sys) {
		json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:I,"
		    "s:i,s:b,s:I,s:I,s:f}",
		    "type", "system", "seq", (json_int_t)f->seq,
		    "log_seq", (json_int_t)sys->log_seq,
		    "lag", (json_int_t)(sys->log_seq > f->seq ?
		    sys->log_seq - f->seq : 0),
		    "events", (json_int_t)f->events,
		    "commits", (json_int_t)sys->commits,
		    "commit_ms", sys->commit_ms,
		    "map_used", (json_int_t)sys->map_used,
		    "map_size", (json_int_t)sys->map_size,
		    "subscribers", (int)sys->subscribers,
		    "following", sys->following,
		    "conversations", (json_int_t)htab_count(&f->convs),
		    "pending_out", (json_int_t)htab_count(&f->pend),
		    "rebuild_s", sys->rebuild_s);
		if (o)
			json_array_append_new(arr, o);
	}
	if (sys && sys->shard) {
		size_t i;

		for (i = 0; i < json_array_size(arr); i++)
			json_object_set_new(json_array_get(arr, i), "shard",
			    json_string(sys->shard));
	}
	json_decref(idx);
	json_decref(achan);
	free(pool);
}

const char *
view_key(json_t *o, char *buf, size_t sz)
{
	const char *t = json_string_value(json_object_get(o, "type"));
	const char *k = "";

	if (t == NULL)
		t = "?";
	if (strcmp(t, "campaign") == 0)
		k = json_string_value(json_object_get(o, "campaign"));
	else if (strcmp(t, "agent") == 0)
		k = json_string_value(json_object_get(o, "agent"));
	else if (strcmp(t, "waiting") == 0)
		k = json_string_value(json_object_get(o, "conv"));
	else if (strcmp(t, "channel") == 0) {
		snprintf(buf, sz, "channel|%s|%s",
		    json_string_value(json_object_get(o, "channel")),
		    json_string_value(json_object_get(o, "addr")));
		return buf;
	}
	snprintf(buf, sz, "%s|%s", t, k ? k : "");
	return buf;
}

/* the comparable form: without the times that merely run on */
static char *
stable_dump(json_t *o)
{
	static const char *const vol[] = { "longest_wait", "on_hold",
	    "in_status", "available_time", "break_time", "busy_time",
	    "lag", "log_seq", "seq", "events", "commits", "commit_ms",
	    "map_used", "subscribers", NULL };
	json_t *c = json_deep_copy(o), *chs;
	size_t i, j;
	char *s;

	for (i = 0; vol[i]; i++)
		json_object_del(c, vol[i]);
	if ((chs = json_object_get(c, "channels")) && json_is_array(chs))
		for (j = 0; j < json_array_size(chs); j++)
			json_object_del(json_array_get(chs, j), "longest_wait");
	s = json_dumps(c, DUMP);
	json_decref(c);
	return s;
}

struct lastent {
	struct htab_node	 hn;
	char			*key;
	char			*dump;
	int			 seen;
};

static int
last_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct lastent *e = HTAB_ENTRY(n, struct lastent, hn);

	return strlen(e->key) == l && memcmp(e->key, k, l) == 0;
}

void
view_init(struct view *v)
{
	htab_init(&v->last);
}

void
view_free(struct view *v)
{
	struct htab_iter it;
	struct htab_node *n;

	htab_iter_init(&it, &v->last);
	while ((n = htab_iter_next(&it)) != NULL) {
		struct lastent *e = HTAB_ENTRY(n, struct lastent, hn);

		free(e->key);
		free(e->dump);
		free(e);
	}
	htab_free(&v->last);
}

void
view_reset(struct view *v)
{
	view_free(v);
	view_init(v);
}

static void
emit(json_t *o, view_sink sink, void *arg)
{
	char *s = json_dumps(o, DUMP);

	if (s) {
		sink(s, strlen(s), arg);
		free(s);
	}
}

void
view_gone(const char *key, const char *shard, view_sink sink, void *arg)
{
	const char *bar = strchr(key, '|');
	char t[32];
	json_t *o;

	snprintf(t, sizeof(t), "%.*s", bar ? (int)(bar - key) : 31, key);
	o = json_object();
	json_object_set_new(o, "type", json_string(t));
	json_object_set_new(o, strcmp(t, "waiting") == 0 ? "conv" :
	    strcmp(t, "channel") == 0 ? "addr" : t,
	    json_string(bar ? bar + 1 : ""));
	if (shard)
		json_object_set_new(o, "shard", json_string(shard));
	json_object_set_new(o, "gone", json_true());
	emit(o, sink, arg);
	json_decref(o);
}

static void
sync_line(struct fold *f, int64_t now, view_sink sink, void *arg)
{
	json_t *o = json_pack("{s:s,s:I,s:o}", "type", "sync",
	    "seq", (json_int_t)f->seq, "ts", ts_json(now));

	emit(o, sink, arg);
	json_decref(o);
}

void
view_snapshot(struct view *v, struct fold *f, const struct view_sys *sys,
    int64_t now, view_sink sink, void *arg)
{
	json_t *arr = json_array();
	size_t i;

	(void)v;
	entities(f, sys, now, arr);
	for (i = 0; i < json_array_size(arr); i++)
		emit(json_array_get(arr, i), sink, arg);
	sync_line(f, now, sink, arg);
	json_decref(arr);
}

size_t
view_batch(struct view *v, struct fold *f, const struct view_sys *sys,
    int64_t now, int heartbeat, view_sink sink, void *arg)
{
	json_t *arr = json_array();
	struct htab_iter it;
	struct htab_node *n;
	size_t i, sent = 0;
	char kb[300];

	entities(f, sys, now, arr);
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i);
		const char *k = view_key(o, kb, sizeof(kb));
		char *d = stable_dump(o);
		struct lastent *e;

		if (d == NULL)
			continue;
		n = htab_find(&v->last, k, strlen(k), last_eq);
		/* the system entity changes with every event: it is compared
		 * and sent only with a heartbeat, once a second (compared
		 * between, its last change would never be sent) */
		if (!heartbeat && strcmp(json_string_value(
		    json_object_get(o, "type")), "system") == 0) {
			if (n != NULL)
				HTAB_ENTRY(n, struct lastent, hn)->seen = 1;
			free(d);
			continue;
		}
		if (n != NULL) {
			e = HTAB_ENTRY(n, struct lastent, hn);
			e->seen = 1;
			if (strcmp(e->dump, d) == 0) {
				free(d);
				continue;
			}
			free(e->dump);
			e->dump = d;
		} else {
			if ((e = calloc(1, sizeof(*e))) == NULL ||
			    (e->key = strdup(k)) == NULL)
				fatalx("out of memory");
			e->dump = d;
			e->seen = 1;
			if (htab_insert(&v->last, &e->hn, e->key,
			    strlen(e->key)) == -1)
				fatalx("out of memory");
		}
		emit(o, sink, arg);
		sent++;
	}
	/* gone since the last batch */
	htab_iter_init(&it, &v->last);
	while ((n = htab_iter_next(&it)) != NULL) {
		struct lastent *e = HTAB_ENTRY(n, struct lastent, hn);

		if (e->seen) {
			e->seen = 0;
			continue;
		}
		view_gone(e->key, sys ? sys->shard : NULL, sink, arg);
		sent++;
		htab_remove(&v->last, n);
		free(e->key);
		free(e->dump);
		free(e);
	}
	if (sent > 0 || heartbeat) {
		sync_line(f, now, sink, arg);
		sent++;
	}
	json_decref(arr);
	return sent;
}

json_t *
view_doc(struct fold *f, const struct view_sys *sys, int64_t now)
{
	json_t *arr = json_array(), *doc, *lists[5];
	static const char *const names[5] = { "campaigns", "agents",
	    "waiting", "channels", "system" };
	size_t i;
	int j;

	entities(f, sys, now, arr);
	for (j = 0; j < 5; j++)
		lists[j] = json_array();
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i);
		const char *t = json_string_value(json_object_get(o, "type"));

		j = strcmp(t, "campaign") == 0 ? 0 : strcmp(t, "agent") == 0 ?
		    1 : strcmp(t, "waiting") == 0 ? 2 :
		    strcmp(t, "channel") == 0 ? 3 : 4;
		json_array_append(lists[j], o);
	}
	doc = json_pack("{s:o,s:I}", "ts", ts_json(now), "seq",
	    (json_int_t)f->seq);
	for (j = 0; j < 4; j++)
		json_object_set_new(doc, names[j], lists[j]);
	json_object_set_new(doc, "system", json_array_size(lists[4]) ?
	    json_incref(json_array_get(lists[4], 0)) : json_object());
	json_decref(lists[4]);
	json_decref(arr);
	return doc;
}

/* Prometheus */

/* A label value: backslash, quote and newline escaped. */
static void
lv(FILE *fp, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(fp, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", fp);
		else
			fputc(*s, fp);
	}
}

static void
head(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
view_metrics(struct fold *f, const struct view_sys *sys, int64_t now,
    FILE *fp)
{
	static const char *const kinds[4] = { "available", "break", "busy",
	    "offline" };
	struct htab_iter it;
	struct htab_node *n;
	int i, b;
	json_t *arr = json_array();
	size_t k;

	entities(f, sys, now, arr);
	head(fp, "parley_messages_total", "counter",
	    "Messages folded from the event log, by channel and direction.");
	for (i = 0; i < 5; i++)
		for (b = 0; b < 2; b++)
			if (f->t_msgs[i][b] || i < 2)
				fprintf(fp, "parley_messages_total{channel=\"%s\","
				    "dir=\"%s\"} %lld\n", fold_chan_names[i],
				    b ? "out" : "in",
				    (long long)f->t_msgs[i][b]);
	head(fp, "parley_queue_waiting", "gauge",
	    "Customers in the queue with no agent reply yet.");
	for (k = 0; k < json_array_size(arr); k++) {
		json_t *o = json_array_get(arr, k);

		if (strcmp(json_string_value(json_object_get(o, "type")),
		    "campaign") != 0)
			continue;
		fputs("parley_queue_waiting{campaign=\"", fp);
		lv(fp, json_string_value(json_object_get(o, "campaign")));
		fprintf(fp, "\"} %lld\n", (long long)json_integer_value(
		    json_object_get(o, "waiting")));
	}
	head(fp, "parley_queue_longest_wait_seconds", "gauge",
	    "How long the oldest waiting customer has waited.");
	for (k = 0; k < json_array_size(arr); k++) {
		json_t *o = json_array_get(arr, k);

		if (strcmp(json_string_value(json_object_get(o, "type")),
		    "campaign") != 0)
			continue;
		fputs("parley_queue_longest_wait_seconds{campaign=\"", fp);
		lv(fp, json_string_value(json_object_get(o, "campaign")));
		fprintf(fp, "\"} %.3f\n", json_real_value(
		    json_object_get(o, "longest_wait")));
	}
	head(fp, "parley_service_level_ratio", "gauge",
	    "Today's answered within the service level threshold over "
	    "answered (0 to 1).");
	for (k = 0; k < json_array_size(arr); k++) {
		json_t *o = json_array_get(arr, k);

		if (strcmp(json_string_value(json_object_get(o, "type")),
		    "campaign") != 0)
			continue;
		fputs("parley_service_level_ratio{campaign=\"", fp);
		lv(fp, json_string_value(json_object_get(o, "campaign")));
		fprintf(fp, "\"} %.4f\n", json_real_value(
		    json_object_get(o, "sl")) / 100.0);
	}
	head(fp, "parley_queue_offered_total", "counter",
	    "Queue entries (offers to a campaign).");
	htab_iter_init(&it, &f->camps);
	while ((n = htab_iter_next(&it)) != NULL) {
		const struct fold_camp *c = HTAB_ENTRY(n, struct fold_camp, hn);

		fputs("parley_queue_offered_total{campaign=\"", fp);
		lv(fp, c->name);
		fprintf(fp, "\"} %lld\n", (long long)c->t_offered);
	}
	head(fp, "parley_queue_answered_total", "counter",
	    "Queue entries answered by an agent's reply.");
	htab_iter_init(&it, &f->camps);
	while ((n = htab_iter_next(&it)) != NULL) {
		const struct fold_camp *c = HTAB_ENTRY(n, struct fold_camp, hn);

		fputs("parley_queue_answered_total{campaign=\"", fp);
		lv(fp, c->name);
		fprintf(fp, "\"} %lld\n", (long long)c->t_answered);
	}
	head(fp, "parley_queue_abandoned_total", "counter",
	    "Queue entries that ended without an agent reply (dropouts).");
	htab_iter_init(&it, &f->camps);
	while ((n = htab_iter_next(&it)) != NULL) {
		const struct fold_camp *c = HTAB_ENTRY(n, struct fold_camp, hn);

		fputs("parley_queue_abandoned_total{campaign=\"", fp);
		lv(fp, c->name);
		fprintf(fp, "\"} %lld\n", (long long)c->t_abandoned);
	}
	head(fp, "parley_conversations_handled_total", "counter",
	    "Conversations closed by an agent.");
	htab_iter_init(&it, &f->camps);
	while ((n = htab_iter_next(&it)) != NULL) {
		const struct fold_camp *c = HTAB_ENTRY(n, struct fold_camp, hn);

		fputs("parley_conversations_handled_total{campaign=\"", fp);
		lv(fp, c->name);
		fprintf(fp, "\"} %lld\n", (long long)c->t_handled);
	}
	head(fp, "parley_queue_wait_seconds", "histogram",
	    "Wait of answered entries: entry to the first agent reply.");
	htab_iter_init(&it, &f->camps);
	while ((n = htab_iter_next(&it)) != NULL) {
		const struct fold_camp *c = HTAB_ENTRY(n, struct fold_camp, hn);

		for (b = 0; b < FOLD_WAIT_BUCKETS; b++) {
			fputs("parley_queue_wait_seconds_bucket{campaign=\"", fp);
			lv(fp, c->name);
			if (isinf(fold_wait_le[b]))
				fputs("\",le=\"+Inf\"}", fp);
			else
				fprintf(fp, "\",le=\"%g\"}", fold_wait_le[b]);
			fprintf(fp, " %lld\n", (long long)c->t_wait_b[b]);
		}
		fputs("parley_queue_wait_seconds_sum{campaign=\"", fp);
		lv(fp, c->name);
		fprintf(fp, "\"} %.3f\n", (double)c->t_wait_sum / 1000.0);
		fputs("parley_queue_wait_seconds_count{campaign=\"", fp);
		lv(fp, c->name);
		fprintf(fp, "\"} %lld\n", (long long)c->t_wait_n);
	}
	head(fp, "parley_agents", "gauge",
	    "Agents by campaign and status kind (campaign \"*\": all).");
	{
		int cnt[4] = { 0 };

		htab_iter_init(&it, &f->agents);
		while ((n = htab_iter_next(&it)) != NULL) {
			const struct fold_agent *a = HTAB_ENTRY(n,
			    struct fold_agent, hn);

			for (i = 0; i < 4; i++)
				if (strcmp(a->kind, kinds[i]) == 0)
					cnt[i]++;
		}
		for (i = 0; i < 4; i++)
			fprintf(fp, "parley_agents{campaign=\"*\",status=\"%s\"}"
			    " %d\n", kinds[i], cnt[i]);
		htab_iter_init(&it, &f->camps);
		while ((n = htab_iter_next(&it)) != NULL) {
			const struct fold_camp *c = HTAB_ENTRY(n,
			    struct fold_camp, hn);
			struct htab_iter ai;
			struct htab_node *an;

			memset(cnt, 0, sizeof(cnt));
			htab_iter_init(&ai, &f->agents);
			while ((an = htab_iter_next(&ai)) != NULL) {
				const struct fold_agent *a = HTAB_ENTRY(an,
				    struct fold_agent, hn);
				const struct fold_ac *ac;

				for (ac = a->acs; ac; ac = ac->next)
					if (strcmp(ac->campaign, c->name) == 0)
						break;
				if (ac == NULL)
					continue;
				for (i = 0; i < 4; i++)
					if (strcmp(a->kind, kinds[i]) == 0)
						cnt[i]++;
			}
			for (i = 0; i < 4; i++) {
				fputs("parley_agents{campaign=\"", fp);
				lv(fp, c->name);
				fprintf(fp, "\",status=\"%s\"} %d\n", kinds[i],
				    cnt[i]);
			}
		}
	}
	head(fp, "parley_message_status_total", "counter",
	    "Delivery statuses of outbound messages, by channel.");
	{
		static const char *const sts[5] = { "sent", "delivered",
		    "read", "failed", "undelivered" };
		int64_t tot[5][5];
		int ci;

		memset(tot, 0, sizeof(tot));
		htab_iter_init(&it, &f->addrs);
		while ((n = htab_iter_next(&it)) != NULL) {
			const struct fold_addr *a = HTAB_ENTRY(n,
			    struct fold_addr, hn);
			char ch[16];

			snprintf(ch, sizeof(ch), "%.*s",
			    (int)strcspn(a->key, "|"), a->key);
			ci = 4;
			for (i = 0; i < 4; i++)
				if (strcmp(ch, fold_chan_names[i]) == 0)
					ci = i;
			for (i = 0; i < 5; i++)
				tot[ci][i] += a->st[i];
		}
		for (ci = 0; ci < 5; ci++)
			for (i = 0; i < 5; i++)
				if (tot[ci][i] || ci < 2)
					fprintf(fp, "parley_message_status_total"
					    "{channel=\"%s\",status=\"%s\"} "
					    "%lld\n", fold_chan_names[ci],
					    sts[i], (long long)tot[ci][i]);
	}
	head(fp, "parley_provider_errors_total", "counter",
	    "Failed and undelivered statuses by channel and provider code.");
	htab_iter_init(&it, &f->errs);
	while ((n = htab_iter_next(&it)) != NULL) {
		const struct fold_err *e = HTAB_ENTRY(n, struct fold_err, hn);
		char ch[64];
		const char *code;

		snprintf(ch, sizeof(ch), "%s", e->key);
		ch[strcspn(ch, "|")] = '\0';
		code = e->key + strlen(ch) + (e->key[strlen(ch)] == '|');
		fputs("parley_provider_errors_total{channel=\"", fp);
		lv(fp, ch);
		fputs("\",code=\"", fp);
		lv(fp, code);
		fprintf(fp, "\"} %lld\n", (long long)e->n);
	}
	head(fp, "parley_eventlog_sequence", "gauge",
	    "The newest event log sequence routerd has sent statsd.");
	fprintf(fp, "parley_eventlog_sequence %llu\n", (unsigned long long)
	    (sys && sys->log_seq > f->seq ? sys->log_seq : f->seq));
	head(fp, "parley_statsd_sequence", "gauge",
	    "The last event log sequence statsd has folded.");
	fprintf(fp, "parley_statsd_sequence %llu\n",
	    (unsigned long long)f->seq);
	if (sys) {
		head(fp, "parley_statsd_commits_total", "counter",
		    "Commits of statsd's rollups and cursor.");
		fprintf(fp, "parley_statsd_commits_total %llu\n",
		    (unsigned long long)sys->commits);
		head(fp, "parley_statsd_map_used_bytes", "gauge",
		    "Bytes used of statsd's LMDB map.");
		fprintf(fp, "parley_statsd_map_used_bytes %zu\n",
		    sys->map_used);
		head(fp, "parley_statsd_subscribers", "gauge",
		    "Clients of stats.sock and /events.");
		fprintf(fp, "parley_statsd_subscribers %u\n", sys->subscribers);
	}
	json_decref(arr);
}
