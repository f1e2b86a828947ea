/*
 * campaignd_outbound — an outbound campaign before its run: the store
 * checks of its outbound fields (the list and the WhatsApp template exist,
 * the rate is within the channel's pacing), what readiness adds for it
 * (list, message, senders, pace, end, and the contacts whose placeholders
 * cannot be filled), `msg campaign preview` and `msg campaign launch
 * --dry-run`.
 *
 * Preview and dry run walk the campaign's list in its run order
 * (list_walk) in batches of PV_BATCH contacts: each contact's message is
 * rendered (lib/outbound) and its SMS segments counted (lib/sms), then
 * routerd is asked which of the batch it would refuse ({t:"suppress"}, its
 * one consent path: opt-out, blacklist; and numbers that are not E.164),
 * then the next batch is read from where the last one ended.  Only the
 * counts (and for a preview, the --limit contacts shown) are kept, so a
 * dry run of a million recipients holds one batch.  Neither writes
 * anything.
 *
 * The duration estimate: each sendable recipient may be sent from the
 * first instant its sending hours are open (its time zone, else the
 * campaign's), counted per minute; the run sends at the campaign's rate,
 * at most the channel's pacing per sender number times the senders, so
 * the end is when the last minute's recipients have been sent at that
 * rate.  It does not count windows that close before everyone in them has
 * been sent (the estimate is then a lower bound) nor retries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "frame.h"
#include "log.h"
#include "mp.h"
#include "outbound.h"
#include "rec.h"
#include "sms.h"
#include "valid.h"
#include "campaignd.h"

#define PV_BATCH	500	/* contacts per routerd question */
#define PV_LIMIT	20	/* contacts a preview shows by default */
#define PV_LIMIT_MAX	1000
#define UNFILLED_SHOWN	20	/* contacts readiness names */

/* The channel's pacing per sender number (parley.conf <ch>_rate). */
static double
pacing(const char *ch)
{
	char key[32], err[256];
	long long v;

	snprintf(key, sizeof(key), "%s_rate", ch);
	if (conf_get(C->d.conf, key) == NULL || conf_int(C->d.conf, key, 1,
	    100000, &v, err, sizeof(err)) == -1)
		return strcmp(ch, "whatsapp") == 0 ? 80 : 1;
	return (double)v;
}

/* What the run may send per second: the rate, within the pacing. */
static double
eff_rate(const json_t *ob)
{
	double r = json_number_value(json_object_get(ob, "rate"));
	double p = pacing(rec_str(ob, "channel", "sms")) *
	    (double)(json_array_size(json_object_get(ob, "senders")) ?
	    json_array_size(json_object_get(ob, "senders")) : 1);

	if (r <= 0)
		r = 1;
	return r < p ? r : p;
}

int
outbound_store_check(struct creq *r, const json_t *doc)
{
	const json_t *ob = json_object_get(doc, "outbound");
	const json_t *tpl;
	const char *list, *ch;
	char key[160];
	double p;
	size_t ns;

	if (ob == NULL)
		return 0;
	list = rec_str(ob, "list", "");
	if (*list && !cdb_exists(r->txn, C->db_lists, list)) {
		creq_err(r, "notfound", "no contact list named \"%s\" (msg list "
		    "create makes one)", list);
		return -1;
	}
	tpl = json_object_get(ob, "template");
	if (tpl) {
		snprintf(key, sizeof(key), "%s/%s", rec_str(tpl, "name", ""),
		    rec_str(tpl, "language", "en"));
		json_t *wt;
		json_int_t want;

		if (cdb_get(r->txn, C->db_wtemplates, key, &wt) != 0) {
			creq_err(r, "notfound", "no WhatsApp template %s in "
			    "language %s (msg template wa add)", rec_str(tpl,
			    "name", ""), rec_str(tpl, "language", "en"));
			return -1;
		}
		want = json_integer_value(json_object_get(wt, "params"));
		json_decref(wt);
		if ((json_int_t)json_array_size(json_object_get((json_t *)tpl,
		    "params")) != want) {
			creq_err(r, "invalid", "WhatsApp template %s takes %lld "
			    "parameter%s; --template-params gives %zu",
			    rec_str(tpl, "name", ""), (long long)want, want == 1 ?
			    "" : "s", json_array_size(json_object_get(
			    (json_t *)tpl, "params")));
			return -1;
		}
	}
	ch = rec_str(ob, "channel", "sms");
	ns = json_array_size(json_object_get(ob, "senders"));
	p = pacing(ch) * (double)(ns ? ns : 1);
	if (json_number_value(json_object_get(ob, "rate")) > p) {
		creq_err(r, "invalid", "outbound rate %g/s is above the %s "
		    "pacing: %g/s per number (%s_rate) x %zu sender%s = %g/s",
		    json_number_value(json_object_get(ob, "rate")), ch,
		    pacing(ch), ch, ns ? ns : 1, ns == 1 ? "" : "s", p);
		return -1;
	}
	return 0;
}

struct unfill {
	const char	*text;
	json_t		*params, *shown;
	long long	 n, total;
};

static int
unfill_one(void *arg, const char *key, json_t *ct)
{
	struct unfill *u = arg;
	json_t *miss = json_array(), *vals;

	u->total++;
	if (u->text && *u->text)
		outbound_missing(u->text, ct, miss);
	if (u->params) {
		outbound_params(u->params, ct, &vals, miss);
		json_decref(vals);
	}
	if (json_array_size(miss) > 0) {
		if (u->n++ < UNFILLED_SHOWN)
			json_array_append_new(u->shown, json_pack(
			    "{s:s,s:s,s:O}", "id", key, "phone", rec_str(ct,
			    "phone", ""), "missing", miss));
	}
	json_decref(miss);
	return 0;
}

int
outbound_readiness(struct creq *r, const json_t *doc, json_t *miss,
    json_t **unfilled)
{
	const json_t *ob = json_object_get(doc, "outbound"), *tpl;
	const char *name = rec_str(doc, "name", ""), *list, *ch, *end;
	struct unfill u;
	json_t *ldoc;
	char err[256];
	int64_t t;

	*unfilled = NULL;
	if (ob == NULL)
		return 0;
	ch = rec_str(ob, "channel", "sms");
	list = rec_str(ob, "list", "");
	tpl = json_object_get(ob, "template");
	if (*list == '\0')
		json_array_append_new(miss, json_sprintf("no contact list "
		    "(msg campaign edit %s --list LIST)", name));
	else if (list_get(r->txn, list, &ldoc) != 0)
		json_array_append_new(miss, json_sprintf("its contact list %s "
		    "no longer exists (msg list create %s, or --list)", list,
		    list));
	else
		json_decref(ldoc);
	if (strcmp(ch, "whatsapp") == 0 && tpl == NULL)
		json_array_append_new(miss, json_sprintf("no approved WhatsApp "
		    "template: a business-initiated WhatsApp message needs one "
		    "(msg campaign edit %s --template NAME --template-params "
		    "first_name,...)", name));
	else if (strcmp(ch, "sms") == 0 && *rec_str(ob, "text", "") == '\0')
		json_array_append_new(miss, json_sprintf("no message text (msg "
		    "campaign edit %s --text 'Hi {first_name|there}, ...')",
		    name));
	if (json_array_size(json_object_get(ob, "senders")) == 0)
		json_array_append_new(miss, json_sprintf("no sender number "
		    "(msg campaign edit %s --senders NUMBER[,NUMBER...], numbers "
		    "of its %s channel)", name, ch));
	if (json_number_value(json_object_get(ob, "rate")) > pacing(ch) *
	    (double)(json_array_size(json_object_get(ob, "senders")) ?
	    json_array_size(json_object_get(ob, "senders")) : 1))
		json_array_append_new(miss, json_sprintf("its rate %g/s is above "
		    "the %s pacing of its senders (%g/s each)",
		    json_number_value(json_object_get(ob, "rate")), ch,
		    pacing(ch)));
	end = rec_str(ob, "end", "done");
	if (strcmp(end, "done") != 0 && rec_ts_parse(end, &t) == 0 &&
	    t <= daemon_now_ms())
		json_array_append_new(miss, json_sprintf("its end %s has "
		    "passed (msg campaign edit %s --end TIME|done)", end, name));
	if (*list == '\0' || !cdb_exists(r->txn, C->db_lists, list))
		return 0;
	memset(&u, 0, sizeof(u));
	u.text = strcmp(ch, "sms") == 0 ? rec_str(ob, "text", "") : NULL;
	u.params = tpl ? json_object_get((json_t *)tpl, "params") : NULL;
	u.shown = json_array();
	if (list_walk(r->txn, list, NULL, unfill_one, &u, err, sizeof(err))
	    == -1) {
		json_decref(u.shown);
		creq_err(r, "store", "%s", err);
		return -1;
	}
	if (u.total == 0)
		json_array_append_new(miss, json_sprintf("its contact list %s "
		    "is empty", list));
	if (u.n > 0)
		json_array_append_new(miss, json_sprintf("%lld contact%s of list "
		    "%s ha%s no value for a placeholder without a fallback "
		    "(msg campaign preview %s; or write {field|fallback})",
		    u.n, u.n == 1 ? "" : "s", list, u.n == 1 ? "s" : "ve",
		    name));
	*unfilled = json_pack("{s:I,s:o}", "count", (json_int_t)u.n,
	    "contacts", u.shown);
	return 0;
}

/* ------------------------------------------------ preview and dry run */

struct pv {
	struct creq	*k;
	json_t		*doc, *ob, *batch, *items, *reasons, *hist;
	json_t		*tzopen;	/* zone -> next open (now is fixed) */
	char		 list[VALID_NAME_MAX + 1], after[64];
	const char	*tz;
	int		 dry, from, to, ended;
	long long	 limit, seen, sendable, segments, suppressed;
	int64_t		 now;
	char		 phone[64];	/* --contact */
};

static void pv_step(struct pv *);

static void
pv_free(struct pv *p)
{
	json_decref(p->doc);
	json_decref(p->batch);
	json_decref(p->items);
	json_decref(p->reasons);
	json_decref(p->hist);
	json_decref(p->tzopen);
	creq_release(p->k);
	free(p);
}

/* One contact as the run will see it: its message, segments, hours. */
static json_t *
pv_contact(struct pv *p, const char *key, json_t *ct)
{
	const json_t *ob = p->ob, *tpl = json_object_get(ob, "template");
	const char *tz = rec_str(ct, "timezone", NULL);
	json_t *e, *miss, *vals;
	char err[256];
	char *text;
	int64_t open;
	int ucs2 = 0;

	if (tz == NULL || *tz == '\0')
		tz = p->tz;
	e = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", key, "first_name",
	    rec_str(ct, "first_name", ""), "last_name", rec_str(ct,
	    "last_name", ""), "phone", rec_str(ct, "phone", ""), "timezone",
	    tz);
	if (tpl) {
		miss = json_array();
		if (outbound_params(json_object_get((json_t *)tpl, "params"),
		    ct, &vals, miss) == -1) {
			json_object_set_new(e, "error", json_sprintf("no value "
			    "for template parameter %s", json_string_value(
			    json_array_get(miss, 0))));
			json_decref(vals);
		} else {
			json_object_set_new(e, "template", json_string(rec_str(
			    tpl, "name", "")));
			json_object_set_new(e, "params", vals);
		}
		json_decref(miss);
	} else if ((text = outbound_render(rec_str(ob, "text", ""), ct, err,
	    sizeof(err))) == NULL)
		json_object_set_new(e, "error", json_string(err));
	else {
		int segs = sms_segments(text, &ucs2);

		json_object_set_new(e, "text", json_string(text));
		json_object_set_new(e, "encoding", json_string(ucs2 ? "UCS-2" :
		    "GSM-7"));
		json_object_set_new(e, "segments", json_integer(segs));
		free(text);
	}
	/* one zone's answer holds for every contact in it (switching TZ
	 * per contact would cost more than the rest of the preview) */
	if (json_is_integer(json_object_get(p->tzopen, tz)))
		open = json_integer_value(json_object_get(p->tzopen, tz));
	else {
		open = outbound_next_open(tz, p->from, p->to, p->now);
		if (json_object_size(p->tzopen) < 1000)
			json_object_set_new(p->tzopen, tz, json_integer(open));
	}
	if (open > p->now)
		json_object_set_new(e, "opens", cts(open));
	json_object_set_new(e, "open_ms", json_integer(open < 0 ? p->now :
	    open));
	return e;
}

static int
pv_one(void *arg, const char *key, json_t *ct)
{
	struct pv *p = arg;

	if (json_array_size(p->batch) >= PV_BATCH || (!p->dry &&
	    p->seen + (long long)json_array_size(p->batch) >= p->limit))
		return 1;
	json_array_append_new(p->batch, pv_contact(p, key, ct));
	snprintf(p->after, sizeof(p->after), "%s", key);
	return 0;
}

/* Add one batch contact to the counts (and the preview). */
static void
pv_count(struct pv *p, json_t *e)
{
	json_t *reason = json_object_get(e, "suppressed");
	char minute[32];
	int64_t open = json_integer_value(json_object_get(e, "open_ms"));

	p->seen++;
	if (reason) {
		p->suppressed++;
		json_object_set_new(p->reasons, json_string_value(reason),
		    json_integer(json_integer_value(json_object_get(p->reasons,
		    json_string_value(reason))) + 1));
	} else if (json_object_get(e, "error")) {
		json_object_set_new(p->reasons, "unfilled", json_integer(
		    json_integer_value(json_object_get(p->reasons,
		    "unfilled")) + 1));
	} else {
		p->sendable++;
		p->segments += json_integer_value(json_object_get(e,
		    "segments"));
		snprintf(minute, sizeof(minute), "%lld", (long long)(open /
		    60000));
		json_object_set_new(p->hist, minute, json_integer(
		    json_integer_value(json_object_get(p->hist, minute)) + 1));
	}
	json_object_del(e, "open_ms");
	if (!p->dry)
		json_array_append(p->items, e);
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static void
pv_finish(struct pv *p)
{
	json_t *ans, *v;
	const char *k;
	long long *mins, t;
	size_t n = 0, i;
	double rate = eff_rate(p->ob), at;

	if (!p->dry) {
		creq_ok(p->k, json_pack("{s:s,s:O,s:I}", "campaign",
		    rec_str(p->doc, "name", ""), "items", p->items,
		    "shown", (json_int_t)p->seen));
		pv_free(p);
		return;
	}
	/* the queue: each minute's recipients at the rate, in order */
	mins = calloc(json_object_size(p->hist) + 1, sizeof(*mins));
	if (mins == NULL)
		fatalx("out of memory");
	json_object_foreach(p->hist, k, v)
		mins[n++] = strtoll(k, NULL, 10);
	qsort(mins, n, sizeof(*mins), cmp_ll);
	at = (double)p->now / 1000.0;
	for (i = 0; i < n; i++) {
		char key[32];

		snprintf(key, sizeof(key), "%lld", mins[i]);
		if ((double)mins[i] * 60.0 > at)
			at = (double)mins[i] * 60.0;
		at += (double)json_integer_value(json_object_get(p->hist, key)) /
		    rate;
	}
	free(mins);
	t = (long long)(at * 1000.0);
	ans = json_pack("{s:s,s:b,s:s,s:I,s:I,s:I,s:O,s:I,s:f,s:f,s:I,s:o}",
	    "campaign", rec_str(p->doc, "name", ""), "dry_run", 1, "list",
	    p->list, "recipients", (json_int_t)p->seen, "sendable",
	    (json_int_t)p->sendable, "suppressed", (json_int_t)p->suppressed,
	    "by_reason", p->reasons, "segments", (json_int_t)p->segments,
	    "rate", rate, "pacing", pacing(rec_str(p->ob, "channel", "sms")),
	    "estimated_s", (json_int_t)((t - p->now + 999) / 1000),
	    "estimated_end", cts(t));
	creq_ok(p->k, ans);
	pv_free(p);
}

/* routerd's answer for the batch: mark, count, go on. */
static void
pv_suppressed(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	struct pv *p = arg;
	const msgpack_object *items, *it, *e;
	char contact[64], reason[32], why[512];
	json_t *b;
	uint32_t i;
	size_t j;

	if (ans == NULL || (e = mp_get(ans, "err")) != NULL) {
		why[0] = '\0';
		if (ans && e)
			mp_strcpy(e, "msg", why, sizeof(why));
		creq_err(p->k, "unavailable", "routerd could not say who is "
		    "suppressed%s%s", why[0] ? ": " : "", why);
		pv_free(p);
		return;
	}
	items = mp_get(ans, "items");
	for (i = 0; items && items->type == MSGPACK_OBJECT_ARRAY &&
	    i < items->via.array.size; i++) {
		it = &items->via.array.ptr[i];
		if (!mp_strcpy(it, "contact", contact, sizeof(contact)) ||
		    !mp_strcpy(it, "reason", reason, sizeof(reason)))
			continue;
		if (!mp_strcpy(it, "why", why, sizeof(why)))
			why[0] = '\0';
		json_array_foreach(p->batch, j, b)
			if (strcmp(rec_str(b, "phone", ""), contact) == 0) {
				json_object_set_new(b, "suppressed",
				    json_string(reason));
				json_object_set_new(b, "why", json_string(why));
			}
	}
	json_array_foreach(p->batch, j, b)
		pv_count(p, b);
	json_array_clear(p->batch);
	if (p->ended || (!p->dry && p->seen >= p->limit))
		pv_finish(p);
	else
		pv_step(p);
}

/* Read the next batch and ask routerd about it. */
static void
pv_step(struct pv *p)
{
	MDB_txn *txn;
	struct fbuf fb;
	char err[256];
	json_t *b, *ct;
	int64_t id;
	size_t j;
	int rc;

	if ((rc = store_rtxn(C->st, &txn)) != 0) {
		creq_err(p->k, "store", "%s", mdb_strerror(rc));
		pv_free(p);
		return;
	}
	if (p->phone[0]) {
		char cid[64];

		p->ended = 1;
		if (contact_by_phone(txn, p->phone, cid, sizeof(cid)) == 0 &&
		    cdb_get(txn, C->db_contacts, cid, &ct) == 0) {
			contact_names(ct);
			json_array_append_new(p->batch, pv_contact(p, cid, ct));
			json_decref(ct);
		}
	} else {
		rc = list_walk(txn, p->list, p->after, pv_one, p, err,
		    sizeof(err));
		if (rc == -1) {
			mdb_txn_abort(txn);
			creq_err(p->k, "store", "%s", err);
			pv_free(p);
			return;
		}
		if (rc == 0)
			p->ended = 1;
	}
	mdb_txn_abort(txn);
	if (json_array_size(p->batch) == 0) {
		if (p->phone[0] && !p->dry) {
			creq_err(p->k, "notfound", "no contact has phone %s",
			    p->phone);
			pv_free(p);
			return;
		}
		pv_finish(p);
		return;
	}
	if (!bus_is_up(C->router)) {
		creq_err(p->k, "unavailable", "routerd is not reachable: it "
		    "says who is suppressed");
		pv_free(p);
		return;
	}
	id = bus_next_id(C->router);
	fbuf_init(&fb);
	fbuf_begin(&fb, 5);
	mp_kv_str(&fb.pk, "t", "suppress");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "channel", rec_str(p->ob, "channel", "sms"));
	mp_kv_str(&fb.pk, "campaign", rec_str(p->doc, "name", ""));
	mp_pack_cstr(&fb.pk, "contacts");
	msgpack_pack_array(&fb.pk, (uint32_t)json_array_size(p->batch));
	json_array_foreach(p->batch, j, b)
		mp_pack_cstr(&fb.pk, rec_str(b, "phone", ""));
	if (bus_request(C->router, &fb, id, pv_suppressed, p) == -1) {
		creq_err(p->k, "unavailable", "routerd is not reachable: it "
		    "says who is suppressed");
		pv_free(p);
	}
	fbuf_free(&fb);
}

void
outbound_preview(struct creq *r, int dry)
{
	json_t *doc, *ob;
	struct pv *p;
	const char *ph = arg_str(r, "contact");
	int rc;

	if (creq_need(r, ROLE_ADMIN) == -1)
		return;
	if (r->name == NULL || (rc = cdb_get(r->txn, C->db_campaigns,
	    r->name, &doc)) != 0) {
		creq_err(r, "notfound", "no campaign named \"%s\"", r->name ?
		    r->name : "");
		return;
	}
	if ((ob = json_object_get(doc, "outbound")) == NULL ||
	    *rec_str(ob, "list", "") == '\0') {
		creq_err(r, "invalid", "campaign %s has no contact list to "
		    "send to (msg campaign edit %s --list LIST --text TEXT)",
		    r->name, r->name);
		json_decref(doc);
		return;
	}
	if (ph && !valid_e164(ph)) {
		creq_err(r, "invalid", "--contact %s is not an E.164 number",
		    ph);
		json_decref(doc);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatalx("out of memory");
	p->doc = doc;
	p->ob = ob;
	p->dry = dry;
	p->now = daemon_now_ms();
	p->tz = rec_str(doc, "timezone", "UTC");
	snprintf(p->list, sizeof(p->list), "%s", rec_str(ob, "list", ""));
	if (ph)
		snprintf(p->phone, sizeof(p->phone), "%s", ph);
	if (outbound_hhmm(rec_str(json_object_get(ob, "hours"), "from",
	    "08:00"), &p->from) == -1 || outbound_hhmm(rec_str(
	    json_object_get(ob, "hours"), "to", "21:00"), &p->to) == -1) {
		p->from = 8 * 60;
		p->to = 21 * 60;
	}
	p->limit = json_integer_value(arg(r, "limit"));
	if (p->limit <= 0)
		p->limit = PV_LIMIT;
	if (p->limit > PV_LIMIT_MAX)
		p->limit = PV_LIMIT_MAX;
	p->batch = json_array();
	p->items = json_array();
	p->reasons = json_pack("{s:i,s:i,s:i,s:i,s:i}", "opted_out", 0,
	    "blacklisted", 0, "invalid_number", 0, "no_consent", 0,
	    "unfilled", 0);
	p->hist = json_object();
	p->tzopen = json_object();
	if (!cdb_exists(r->txn, C->db_lists, p->list)) {
		creq_err(r, "notfound", "contact list %s no longer exists",
		    p->list);
		p->k = NULL;
		json_decref(p->doc);
		json_decref(p->batch);
		json_decref(p->items);
		json_decref(p->reasons);
		json_decref(p->hist);
		json_decref(p->tzopen);
		free(p);
		return;
	}
	p->k = creq_keep(r);
	pv_step(p);
}
