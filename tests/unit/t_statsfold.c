/*
 * t_statsfold — statsd's fold (bin/statsd/statsd_fold.c) fed a scripted
 * day, the clock under the test's control, every figure of metrics.md
 * checked against values worked out by hand (below, next to each check).
 * Then: a replay equals the live fold, a fold saved and loaded halfway
 * (a restart) ends the same and ignores events it already folded, and the
 * day ends at midnight in the campaign's zone.
 *
 * The day, campaign "support" (UTC; SL 60 s, dropout 300 s, chat 1200 s,
 * response 60 s, ACD 0, 2 conversations per agent):
 *   08:00 ann available; 08:30 bob available; 09:15 bob on break (lunch)
 *   A sms  09:00:00 writes, queued, offered to ann; 09:00:30 ann replies
 *          (wait 30 s, response 30 s); 09:05 writes; 09:06:30 ann replies
 *          (response 90 s); 09:10 ann closes it
 *   B wa   09:01 writes, queued; 09:02 bob claims; 09:03 bob replies (wait
 *          120 s, response 120 s; its delivery fails, 30008); 09:20 writes
 *          again (overdue from 09:21)
 *   C sms  09:02 writes, queued, nobody answers: abandoned at 09:07 (the
 *          dropout threshold), still waiting
 *   D sms  09:03 writes, queued; 09:03:40 closed by an admin: abandoned
 *          within the SL threshold
 *   E sms  09:10 writes to the bot, the bot answers at 09:10:05; 09:11 the
 *          bot does not know: to the agents; 09:11:20 ann replies (wait
 *          20 s; no response time: the bot had answered)
 * At 09:30: offered 5, answered 3 (2 within 60 s), abandoned 2 (1 within),
 * SL 66.67, SL2 60, dropout 40, waits 30/120/20 (avg 56.666, max 120,
 * median 30), handled 1, waiting 1 (C, 28 min), ACD over, long chats 1
 * (B: 27 min since bob's reply; E only 18:40), overdue 2 (B and C).
 *
 * That day is a log of routerd before the answer and abandon events: the
 * fold decides answers and dropouts itself.  The same day again as routerd
 * logs it now: queue events with "entry_ts" and the thresholds in force
 * (here "sl_s": 25, where the campaign's configuration says 60), an answer
 * event after each entry's first agent reply, C's abandon event at
 * 09:07:01 (routerd's tick), and a stray answer naming an entry C is not.
 * And F, whose entry began at 08:59 before the upgrade (a queue event
 * without entry_ts), nobody answers: the fold's clock abandons it at 09:04
 * by the campaign's configured thresholds.  Hand-worked: offered 6,
 * answered 3 with the same waits, abandoned 3 (C by its event, D closed, F
 * by the clock; 2 at the threshold); by the log's 25 s threshold SL = 100 x
 * 1 (E, 20 s) / 3 = 33.33, SL2 = 100 x (1 + 0; D waited 40 s) / 6 = 16.67,
 * dropout rate 50; waiting C and F, the longest F's 31 min; at 09:08, before
 * C's abandon event, only D and F are abandoned (the fold's clock no longer
 * decides C).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rec.h"
#include "../../bin/statsd/statsd_fold.h"
#include "../../bin/statsd/statsd_view.h"

static int tn, tfail;

/* A rollup in f->rolls, by its key. */
static int
roll_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct fold_roll *r = HTAB_ENTRY(n, struct fold_roll, hn);

	return strlen(r->key) == l && memcmp(r->key, k, l) == 0;
}

static void
ok(int c, const char *d)
{
	tn++;
	if (!c)
		tfail++;
	printf("%sok %d - %s\n", c ? "" : "not ", tn, d);
}

static void
isn(double got, double want, const char *d)
{
	char b[200];

	snprintf(b, sizeof(b), "%s (%g)", d, want);
	ok(fabs(got - want) < 0.0015, b);
	if (fabs(got - want) >= 0.0015)
		printf("#      got: %g\n", got);
}

static void
camp(void *arg, const char *name, struct fold_cfg *c)
{
	if (strcmp(name, "support") != 0)
		return;
	c->sl_ms = 60000;
	c->dropout_ms = 300000;
	c->chat_ms = 1200000;
	c->resp_ms = 60000;
	c->acd = 0;
	c->max_inter = 2;
	snprintf(c->tz, sizeof(c->tz), "UTC");
}

#define DAY	1795219200000LL		/* 2026-11-21T00:00:00Z */
#define AT(h, m, s)	(DAY + ((h) * 3600LL + (m) * 60LL + (s)) * 1000)

struct ev {
	int64_t	 ts;
	char	 json[400];
};
static struct ev evs[200];
static int nev;

static void
E(int64_t ts, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
E(int64_t ts, const char *fmt, ...)
{
	va_list ap;
	char b[360];

	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	evs[nev].ts = ts;
	snprintf(evs[nev].json, sizeof(evs[nev].json), "{%s,\"ts\":%lld}", b,
	    (long long)ts);
	nev++;
}

static void
feed(struct fold *f, int from, int to)
{
	int i;

	for (i = from; i < to; i++) {
		json_t *j = json_loads(evs[i].json, 0, NULL);
		msgpack_sbuffer sb;
		msgpack_packer pk;
		msgpack_unpacked up;
		size_t off = 0;

		if (j == NULL) {
			printf("# bad event %d: %s\n", i, evs[i].json);
			exit(1);
		}
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		rec_pack_json(&pk, j);
		msgpack_unpacked_init(&up);
		msgpack_unpack_next(&up, sb.data, sb.size, &off);
		fold_event(f, (uint64_t)i + 1, &up.data);
		msgpack_unpacked_destroy(&up);
		msgpack_sbuffer_destroy(&sb);
		json_decref(j);
	}
}

#define MSG_IN(ts, conv, ch, contact, mode) \
	E(ts, "\"type\":\"message\",\"dir\":\"in\",\"conv\":\"%s\"," \
	    "\"id\":\"m_%s%lld\",\"campaign\":\"support\",\"channel\":\"%s\"," \
	    "\"contact\":\"%s\",\"addr\":\"+15550001111\",\"text\":\"hi\"," \
	    "\"mode\":\"%s\"", conv, conv, (long long)ts, ch, contact, mode)
#define MSG_OUT(ts, conv, ch, who, id) \
	E(ts, "\"type\":\"message\",\"dir\":\"out\",\"conv\":\"%s\"," \
	    "\"id\":\"%s\",\"campaign\":\"support\",\"channel\":\"%s\"," \
	    "\"contact\":\"x\",\"addr\":\"+15550001111\",\"text\":\"ok\"," \
	    "\"status\":\"queued\",%s", conv, id, ch, who)
static int v2;		/* routerd's log with answer and abandon events */
static int v2_abandon;	/* the index of C's abandon event */

static void
QUEUE(int64_t ts, const char *conv)
{
	char x[120] = "";

	if (v2)
		snprintf(x, sizeof(x), ",\"entry_ts\":%lld,\"sl_s\":25,"
		    "\"dropout_s\":300", (long long)ts);
	E(ts, "\"type\":\"queue\",\"conv\":\"%s\",\"campaign\":\"support\","
	    "\"priority\":0,\"attention\":false%s", conv, x);
}
#define ANSWER(ts, conv, ch, agent, msg, ets) do { if (v2) \
	E(ts, "\"type\":\"answer\",\"conv\":\"%s\",\"campaign\":" \
	    "\"support\",\"channel\":\"%s\",\"agent\":\"%s\",\"msg\":\"%s\"," \
	    "\"entry_ts\":%lld,\"wait_ms\":%lld,\"sl_s\":25", conv, ch, agent, \
	    msg, (long long)(ets), (long long)((ts) - (ets))); } while (0)
#define OPEN(ts, conv, ch) \
	E(ts, "\"type\":\"conv\",\"conv\":\"%s\",\"campaign\":\"support\"," \
	    "\"channel\":\"%s\",\"contact\":\"+1555%s\",\"addr\":" \
	    "\"+15550001111\",\"status\":\"open\"", conv, ch, conv)
#define ST(ts, conv, ch, id, st, code) \
	E(ts, "\"type\":\"status\",\"conv\":\"%s\",\"id\":\"%s\"," \
	    "\"campaign\":\"support\",\"channel\":\"%s\",\"contact\":\"x\"," \
	    "\"status\":\"%s\"%s", conv, id, ch, st, code)

static void
script(void)
{
	E(AT(8, 0, 0), "\"type\":\"agent\",\"agent\":\"ann\",\"status\":"
	    "\"available\",\"kind\":\"available\",\"reason\":\"\",\"prev\":"
	    "\"offline\",\"prev_ms\":0");
	if (v2) {
		/* F: an entry from before the upgrade, its queue event without
		 * entry_ts: the fold's clock abandons it at 09:04 */
		v2 = 0;
		OPEN(AT(8, 59, 0), "cF", "sms");
		MSG_IN(AT(8, 59, 0), "cF", "sms", "+1555000F", "agent");
		QUEUE(AT(8, 59, 0), "cF");
		v2 = 1;
	}
	E(AT(8, 30, 0), "\"type\":\"agent\",\"agent\":\"bob\",\"status\":"
	    "\"available\",\"kind\":\"available\",\"reason\":\"\",\"prev\":"
	    "\"offline\",\"prev_ms\":0");
	/* A */
	OPEN(AT(9, 0, 0), "cA", "sms");
	MSG_IN(AT(9, 0, 0), "cA", "sms", "+1555000A", "agent");
	QUEUE(AT(9, 0, 0), "cA");
	E(AT(9, 0, 1), "\"type\":\"offer\",\"conv\":\"cA\",\"campaign\":"
	    "\"support\",\"agents\":[\"ann\"],\"strategy\":\"ringall\","
	    "\"expires_ts\":%lld", (long long)AT(9, 0, 31));
	/* B */
	OPEN(AT(9, 1, 0), "cB", "whatsapp");
	MSG_IN(AT(9, 1, 0), "cB", "whatsapp", "+1555000B", "agent");
	QUEUE(AT(9, 1, 0), "cB");
	/* A answered */
	E(AT(9, 0, 30), "\"type\":\"assign\",\"conv\":\"cA\",\"campaign\":"
	    "\"support\",\"agent\":\"ann\",\"via\":\"reply\"");
	MSG_OUT(AT(9, 0, 30), "cA", "sms", "\"agent\":\"ann\"", "m_a1");
	ANSWER(AT(9, 0, 30), "cA", "sms", "ann", "m_a1", AT(9, 0, 0));
	ST(AT(9, 0, 31), "cA", "sms", "m_a1", "sent", "");
	ST(AT(9, 0, 35), "cA", "sms", "m_a1", "delivered", "");
	/* C, B claimed */
	OPEN(AT(9, 2, 0), "cC", "sms");
	MSG_IN(AT(9, 2, 0), "cC", "sms", "+1555000C", "agent");
	QUEUE(AT(9, 2, 0), "cC");
	E(AT(9, 2, 0), "\"type\":\"assign\",\"conv\":\"cB\",\"campaign\":"
	    "\"support\",\"agent\":\"bob\",\"via\":\"claim\"");
	/* D */
	OPEN(AT(9, 3, 0), "cD", "sms");
	MSG_IN(AT(9, 3, 0), "cD", "sms", "+1555000D", "agent");
	QUEUE(AT(9, 3, 0), "cD");
	MSG_OUT(AT(9, 3, 0), "cB", "whatsapp", "\"agent\":\"bob\"", "m_b1");
	ANSWER(AT(9, 3, 0), "cB", "whatsapp", "bob", "m_b1", AT(9, 1, 0));
	/* not C's entry: ignored */
	ANSWER(AT(9, 3, 0), "cC", "sms", "bob", "m_x", AT(8, 2, 0));
	ST(AT(9, 3, 2), "cB", "whatsapp", "m_b1", "failed",
	    ",\"code\":\"30008\",\"reason\":\"unknown\"");
	E(AT(9, 3, 40), "\"type\":\"close\",\"conv\":\"cD\",\"campaign\":"
	    "\"support\",\"agent\":\"\",\"disposition\":null");
	/* A goes on */
	MSG_IN(AT(9, 5, 0), "cA", "sms", "+1555000A", "agent");
	MSG_OUT(AT(9, 6, 30), "cA", "sms", "\"agent\":\"ann\"", "m_a2");
	ST(AT(9, 6, 31), "cA", "sms", "m_a2", "sent", "");
	/* 09:07 passes: C reaches the dropout threshold (folded lazily, or
	 * routerd's abandon event) */
	if (v2) {
		v2_abandon = nev;
		E(AT(9, 7, 1), "\"type\":\"abandon\",\"conv\":\"cC\","
		    "\"campaign\":\"support\",\"channel\":\"sms\",\"reason\":"
		    "\"dropout\",\"entry_ts\":%lld,\"wait_ms\":301000,\"sl_s\":25,"
		    "\"dropout_s\":300", (long long)AT(9, 2, 0));
	}
	E(AT(9, 10, 0), "\"type\":\"close\",\"conv\":\"cA\",\"campaign\":"
	    "\"support\",\"agent\":\"ann\",\"disposition\":\"Sales/Won\"");
	/* E: the bot, then the agents */
	OPEN(AT(9, 10, 0), "cE", "sms");
	MSG_IN(AT(9, 10, 0), "cE", "sms", "+1555000E", "bot");
	MSG_OUT(AT(9, 10, 5), "cE", "sms", "\"bot\":true", "m_e1");
	ST(AT(9, 10, 6), "cE", "sms", "m_e1", "sent", "");
	E(AT(9, 11, 0), "\"type\":\"idk\",\"conv\":\"cE\",\"campaign\":"
	    "\"support\",\"action\":\"agent\"");
	E(AT(9, 11, 0), "\"type\":\"mode\",\"conv\":\"cE\",\"campaign\":"
	    "\"support\",\"mode\":\"agent\",\"why\":\"idk\"");
	QUEUE(AT(9, 11, 0), "cE");
	E(AT(9, 11, 20), "\"type\":\"assign\",\"conv\":\"cE\",\"campaign\":"
	    "\"support\",\"agent\":\"ann\",\"via\":\"reply\"");
	MSG_OUT(AT(9, 11, 20), "cE", "sms", "\"agent\":\"ann\"", "m_e2");
	ANSWER(AT(9, 11, 20), "cE", "sms", "ann", "m_e2", AT(9, 11, 0));
	ST(AT(9, 11, 21), "cE", "sms", "m_e2", "sent", "");
	/* bob's lunch; B writes again */
	E(AT(9, 15, 0), "\"type\":\"agent\",\"agent\":\"bob\",\"status\":"
	    "\"lunch\",\"kind\":\"break\",\"reason\":\"lunch\",\"prev\":"
	    "\"available\",\"prev_ms\":2700000");
	MSG_IN(AT(9, 20, 0), "cB", "whatsapp", "+1555000B", "agent");
}

static json_t *
find(json_t *doc, const char *list, const char *k, const char *v)
{
	json_t *a = json_object_get(doc, list), *o;
	size_t i;

	json_array_foreach(a, i, o) {
		char kk[200];

		if (strcmp(k, "addr") == 0) {
			snprintf(kk, sizeof(kk), "%s|%s", json_string_value(
			    json_object_get(o, "channel")), json_string_value(
			    json_object_get(o, "addr")));
			if (strcmp(kk, v) == 0)
				return o;
		} else if (strcmp(json_string_value(json_object_get(o, k)),
		    v) == 0)
			return o;
	}
	return NULL;
}

static double
num(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

/* A store of the records fold_flush_sets hands out, as statsd's meta
 * database keeps them: put replaces, NULL deletes. */
#define KEPT_MAX	64
static struct kept {
	char		 kind, id[48];
	unsigned char	*v;
	size_t		 len;
} kept[KEPT_MAX];
static int nkept, kept_bad;

static void
keep(char kind, const char *id, const void *val, size_t len, void *arg)
{
	int i;

	for (i = 0; i < nkept; i++)
		if (kept[i].kind == kind && strcmp(kept[i].id, id) == 0)
			break;
	if (val == NULL) {
		if (i < nkept) {
			free(kept[i].v);
			kept[i] = kept[--nkept];
		}
		return;
	}
	if (i == nkept) {
		if (nkept == KEPT_MAX || strlen(id) >= sizeof(kept[i].id)) {
			kept_bad = 1;
			return;
		}
		nkept++;
		kept[i].kind = kind;
		snprintf(kept[i].id, sizeof(kept[i].id), "%s", id);
		kept[i].v = NULL;
	}
	free(kept[i].v);
	if ((kept[i].v = malloc(len)) == NULL)
		abort();
	memcpy(kept[i].v, val, len);
	kept[i].len = len;
}

/* Two folds show the same entities (by key, whatever their order). */
static int
same(struct fold *a, struct fold *b, int64_t now)
{
	json_t *da = view_doc(a, NULL, now), *db = view_doc(b, NULL, now);
	static const char *const lists[] = { "campaigns", "agents", "waiting",
	    "channels" };
	static const char *const keys[] = { "campaign", "agent", "conv",
	    "addr" };
	int i, eq = 1;
	size_t j;
	json_t *o, *p;

	for (i = 0; i < 4; i++) {
		if (json_array_size(json_object_get(da, lists[i])) !=
		    json_array_size(json_object_get(db, lists[i])))
			eq = 0;
		json_array_foreach(json_object_get(da, lists[i]), j, o) {
			char kk[200];

			snprintf(kk, sizeof(kk), "%s|%s", json_string_value(
			    json_object_get(o, "channel")), json_string_value(
			    json_object_get(o, "addr")));
			p = find(db, lists[i], keys[i], i == 3 ? kk :
			    json_string_value(json_object_get(o, keys[i])));
			if (p == NULL || !json_equal(o, p)) {
				char *x = json_dumps(o, JSON_COMPACT);
				char *y = p ? json_dumps(p, JSON_COMPACT) : NULL;

				printf("# differs:\n#  %s\n#  %s\n", x,
				    y ? y : "(none)");
				free(x);
				free(y);
				eq = 0;
			}
		}
	}
	json_decref(da);
	json_decref(db);
	return eq;
}

int
main(void)
{
	struct fold_env env = { .camp = camp };
	struct fold *f, *g, *h;
	json_t *doc, *c, *a, *w, *ch;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	size_t off = 0;
	struct htab_node *n;
	struct fold_roll *r;
	int half;

	printf("1..78\n");
	script();
	f = fold_new(&env);
	feed(f, 0, nev);
	fold_advance(f, AT(9, 30, 0));
	doc = view_doc(f, NULL, AT(9, 30, 0));
	c = find(doc, "campaigns", "campaign", "support");
	ok(c != NULL, "campaign support has figures");
	isn(num(c, "offered"), 5, "offered: A B C D E");
	isn(num(c, "answered"), 3, "answered: A B E (a claim alone does not "
	    "answer)");
	isn(num(c, "abandoned"), 2, "abandoned: C at the dropout, D closed");
	isn(num(c, "abandoned_timeout"), 1, "abandoned at the threshold: C");
	isn(num(c, "sl"), 66.67, "SL = 100 x 2 / 3");
	isn(num(c, "sl2"), 60, "SL2 = 100 x (2 + 1) / (3 + 2)");
	isn(num(c, "dropout_rate"), 40, "dropout rate = 100 x 2 / 5");
	isn(num(c, "avg_wait"), 56.666, "avg wait = (30 + 120 + 20) / 3 s");
	isn(num(c, "max_wait"), 120, "max wait: B's 120 s");
	isn(num(c, "median_wait"), 30, "median wait of 20, 30, 120");
	isn(num(c, "handled"), 1, "handled: A (D was closed by no agent)");
	isn(num(c, "waiting"), 1, "waiting: C");
	isn(num(c, "longest_wait"), 1680, "longest wait: C since 09:02");
	ok(json_is_true(json_object_get(c, "acd_over")), "ACD exceeded: 1 > 0");
	isn(num(c, "long_chats"), 1, "long chats: B (27 min > 20), not E");
	isn(num(c, "overdue"), 2, "overdue: B (wrote 09:20) and C");
	isn(num(c, "contact_messages"), 7, "contact messages");
	isn(num(c, "agent_responses"), 4, "agent responses");
	isn(num(c, "bot_responses"), 1, "bot responses");
	isn(num(c, "avg_agent_response"), 80, "avg agent response (30 + 90 + "
	    "120) / 3");
	isn(num(c, "median_agent_response"), 90, "median agent response");
	isn(num(c, "sent"), 4, "sent");
	isn(num(c, "delivered"), 1, "delivered");
	isn(num(c, "failed"), 1, "failed");
	isn(num(c, "pending"), 0, "pending: every message has a status");
	isn(num(c, "responded"), 2, "responded: A and B wrote after a reply");
	isn(num(c, "engagement_rate"), 50, "engagement = 100 x 2 / 4");
	ch = json_array_get(json_object_get(c, "channels"), 0);
	ok(ch != NULL, "per channel figures");
	a = find(doc, "agents", "agent", "ann");
	isn(num(a, "replies"), 3, "ann: 3 replies");
	isn(num(a, "avg_response"), 60, "ann: avg response (30 + 90) / 2");
	isn(num(a, "median_response"), 60, "ann: median of 30 and 90");
	isn(num(a, "completed"), 1, "ann: completed A");
	isn(num(a, "active"), 1, "ann: active E");
	isn(num(a, "capacity"), 2, "ann: capacity");
	isn(num(a, "free"), 1, "ann: free = 2 - 1 - 0 offers");
	ok(strcmp(json_string_value(json_object_get(a, "channels")), "sms") == 0,
	    "ann: channels sms");
	isn(num(a, "available_time"), 5400, "ann: available 08:00-09:30");
	a = find(doc, "agents", "agent", "bob");
	ok(strcmp(json_string_value(json_object_get(a, "kind")), "break") == 0 &&
	    strcmp(json_string_value(json_object_get(a, "reason")), "lunch") == 0,
	    "bob: on a break, lunch");
	isn(num(a, "in_status"), 900, "bob: 15 min in it");
	isn(num(a, "available_time"), 2700, "bob: available 08:30-09:15");
	isn(num(a, "break_time"), 900, "bob: break 09:15-09:30");
	isn(num(a, "avg_response"), 120, "bob: response 120 s");
	ok(strcmp(json_string_value(json_object_get(a, "channels")),
	    "whatsapp") == 0, "bob: channels whatsapp");
	w = find(doc, "waiting", "conv", "cC");
	ok(w && json_is_true(json_object_get(w, "abandoned")) &&
	    json_object_get(w, "alert"), "C waits, flagged abandoned, on hold "
	    "past the dropout");
	json_decref(doc);

	/* the hourly rollup of 09:00 UTC */
	n = htab_find(&f->rolls, "0000498681|q|support|sms", 24, roll_eq);
	r = n ? HTAB_ENTRY(n, struct fold_roll, hn) : NULL;
	ok(r && r->v[R_OFFERED] == 4 && r->v[R_ANSWERED] == 2 &&
	    r->v[R_ABANDONED] == 2, "rollup 09:00 sms: offered 4, answered 2, "
	    "abandoned 2");
	n = htab_find(&f->rolls, "0000498681|q|support|whatsapp", 29, roll_eq);
	r = n ? HTAB_ENTRY(n, struct fold_roll, hn) : NULL;
	ok(r && r->v[R_OFFERED] == 1 && r->v[R_WAIT_MAX] == 120000,
	    "rollup 09:00 whatsapp: offered 1, max wait 120 s");

	/* a replay is the live fold */
	g = fold_new(&env);
	feed(g, 0, nev);
	fold_advance(g, AT(9, 30, 0));
	ok(same(f, g, AT(9, 30, 0)), "a replay from sequence 1 equals the "
	    "live fold");

	/* a restart halfway: saved, loaded, fed on (and fed again) */
	half = nev / 2;
	h = fold_new(&env);
	feed(h, 0, half);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	fold_save(h, &pk);
	fold_free(h);
	h = fold_new(&env);
	msgpack_unpacked_init(&up);
	ok(msgpack_unpack_next(&up, sb.data, sb.size, &off) ==
	    MSGPACK_UNPACK_SUCCESS && fold_load(h, &up.data) == 0,
	    "the saved state loads");
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	ok(h->seq == (uint64_t)half, "the cursor is where it was saved");
	feed(h, 0, nev);	/* the first half again: ignored */
	fold_advance(h, AT(9, 30, 0));
	ok(same(f, h, AT(9, 30, 0)), "after a restart nothing is counted twice");

	/* the same restart from what statsd stores: the state without the
	 * conversations and pending messages, and those as records written
	 * when they change (flushed twice, with conversations closed in
	 * between) */
	fold_free(h);
	h = fold_new(&env);
	feed(h, 0, half / 2);
	fold_flush_sets(h, keep, NULL);
	feed(h, half / 2, half);
	fold_flush_sets(h, keep, NULL);
	ok(!kept_bad && (size_t)nkept == htab_count(&h->convs) +
	    htab_count(&h->pend) && h->cdirty == NULL && h->pops == NULL,
	    "one record per open conversation and pending message, none "
	    "left to flush");
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	fold_save_base(h, &pk);
	fold_free(h);
	h = fold_new(&env);
	msgpack_unpacked_init(&up);
	off = 0;
	ok(msgpack_unpack_next(&up, sb.data, sb.size, &off) ==
	    MSGPACK_UNPACK_SUCCESS && fold_load(h, &up.data) == 0 &&
	    htab_count(&h->convs) == 0, "the state without the records loads");
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	{
		int i, bad = 0;

		for (i = 0; i < nkept; i++) {
			off = 0;
			msgpack_unpacked_init(&up);
			if (msgpack_unpack_next(&up, (char *)kept[i].v,
			    kept[i].len, &off) != MSGPACK_UNPACK_SUCCESS ||
			    fold_load_set(h, kept[i].kind, &up.data) == -1)
				bad = 1;
			msgpack_unpacked_destroy(&up);
			free(kept[i].v);
		}
		ok(!bad, "each record loads");
	}
	fold_sets_clean(h);
	feed(h, 0, nev);
	fold_advance(h, AT(9, 30, 0));
	ok(same(f, h, AT(9, 30, 0)), "restarted from the records, it ends "
	    "the same as the live fold");

	/* the day ends at midnight in the campaign's zone */
	fold_advance(f, AT(24, 0, 5));
	doc = view_doc(f, NULL, AT(24, 0, 5));
	c = find(doc, "campaigns", "campaign", "support");
	isn(num(c, "offered"), 0, "a new day: offered 0");
	isn(num(c, "waiting"), 1, "a new day: C still waits");
	a = find(doc, "agents", "agent", "bob");
	isn(num(a, "break_time"), 5, "a new day: bob's break counts from "
	    "midnight");
	ok(strcmp(json_string_value(json_object_get(c, "day")), "2026-11-22")
	    == 0, "the day is named in the zone");
	json_decref(doc);
	{
		int64_t s, e;

		fold_day_bounds("America/New_York", AT(3, 0, 0), &s, &e);
		ok(s == AT(-19, 0, 0) && e == AT(5, 0, 0), "New York's day "
		    "runs 05:00Z to 05:00Z in November");
	}
	{
		struct fold_samples sm = { 0 };
		int approx, i;

		for (i = 1; i <= FOLD_SAMPLES_MAX + 1001; i++)
			fold_samples_add(&sm, i, 0);
		ok(fabs((double)fold_samples_median(&sm, &approx) /
		    (FOLD_SAMPLES_MAX / 2.0 + 500) - 1.0) < 0.02, "past "
		    "100,000 samples the sketch's median is within 2%");
		ok(approx, "and says it is approximate");
		fold_samples_free(&sm);
	}
	fold_free(f);
	fold_free(g);
	fold_free(h);

	/* the day as routerd logs it now */
	nev = 0;
	v2 = 1;
	script();
	f = fold_new(&env);
	feed(f, 0, v2_abandon);
	fold_advance(f, AT(9, 8, 0));
	doc = view_doc(f, NULL, AT(9, 8, 0));
	c = find(doc, "campaigns", "campaign", "support");
	isn(num(c, "abandoned"), 2, "logged: at 09:08 D and F (the clock, an "
	    "entry from before) are abandoned; C waits for routerd's abandon "
	    "event");
	isn(num(c, "answered"), 2, "logged: A and B answered by their answer "
	    "events; the stray answer is ignored");
	json_decref(doc);
	feed(f, v2_abandon, nev);
	fold_advance(f, AT(9, 30, 0));
	doc = view_doc(f, NULL, AT(9, 30, 0));
	c = find(doc, "campaigns", "campaign", "support");
	isn(num(c, "offered"), 6, "logged: offered 6 (F's too)");
	isn(num(c, "answered"), 3, "logged: answered A B E");
	isn(num(c, "abandoned"), 3, "logged: abandoned C (its event), D "
	    "(closed) and F (the clock)");
	isn(num(c, "abandoned_timeout"), 2, "logged: C and F at the dropout");
	isn(num(c, "sl"), 33.33, "logged: SL by the log's 25 s = 100 x 1 / 3");
	isn(num(c, "sl2"), 16.67, "logged: SL2 = 100 x (1 + 0) / (3 + 3)");
	isn(num(c, "dropout_rate"), 50, "logged: dropout rate 100 x 3 / 6");
	isn(num(c, "avg_wait"), 56.666, "logged: avg wait (30 + 120 + 20) / 3");
	isn(num(c, "waiting"), 2, "logged: C and F wait");
	isn(num(c, "longest_wait"), 1860, "logged: F on hold since 08:59");
	w = find(doc, "waiting", "conv", "cC");
	ok(w && json_is_true(json_object_get(w, "abandoned")), "logged: C "
	    "waits, flagged abandoned");
	json_decref(doc);
	g = fold_new(&env);
	feed(g, 0, nev);
	fold_advance(g, AT(9, 30, 0));
	ok(same(f, g, AT(9, 30, 0)), "logged: a replay equals the live fold");
	h = fold_new(&env);
	feed(h, 0, nev / 2);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	fold_save(h, &pk);
	fold_free(h);
	h = fold_new(&env);
	off = 0;
	msgpack_unpacked_init(&up);
	ok(msgpack_unpack_next(&up, sb.data, sb.size, &off) ==
	    MSGPACK_UNPACK_SUCCESS && fold_load(h, &up.data) == 0 &&
	    h->seq == (uint64_t)(nev / 2), "logged: the state saved halfway "
	    "loads");
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	feed(h, 0, nev);
	fold_advance(h, AT(9, 30, 0));
	ok(same(f, h, AT(9, 30, 0)), "logged: after a restart the same");
	fold_free(f);
	fold_free(g);
	fold_free(h);
	return tfail != 0;
}
