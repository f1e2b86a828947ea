/*
 * routerd_policy — what happens to an inbound message before it is routed,
 * and the one suppression check that guards every outbound path.
 *
 * Inbound (policy_inbound, after the message is stored in the batch):
 * a blacklisted customer's message is kept but marked blocked and reported
 * to campaignd's blacklist history; a whole-message consent keyword (SMS:
 * STOP and its kin, START, HELP; other channels: the configured ones)
 * records the contact's consent in our "consent" database and is not
 * routed; outside the campaign's schedule, or on a holiday, the customer
 * gets the after-hours message once per closed period and the conversation
 * waits for the opening.
 *
 * Outbound (policy_outbound, before anything is queued): opted-out and
 * blacklisted contacts are never sent to, WhatsApp and Messenger sends
 * outside the customer service window are refused with what is allowed
 * instead, and "/snippet" canned responses expand with the contact's
 * placeholders.  Every refusal is an event with its reason, so a
 * supervisor can see what was not sent and why.
 *
 * Consent is routerd's own ("consent": "<channel>:<contact>" -> {optout,
 * ts, keyword, by, reason}); the blacklist, canned responses, contacts,
 * campaigns and holidays are read from campaignd's environment read-only.
 * The automatic replies (help text, after-hours message, confirmations) are
 * ours: they are queued like any outbound message but are not subject to
 * policy_outbound, so a STOP confirmation still reaches the customer.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "media.h"
#include "mp.h"
#include "optout.h"
#include "placeholder.h"
#include "rec.h"
#include "schedule.h"
#include "ulid.h"
#include "valid.h"
#include "window.h"
#include "routerd.h"

#define KEYWORD_MAX	32	/* bytes of a keyword kept in records */
#define REASON_MAX	200	/* bytes of a reason given by hand */
#define HOLIDAYS_MAX	1024	/* holidays read for one schedule check */
#define REPORTS_MAX	1024	/* blacklist reports waiting for campaignd */
#define SCAN_MAX	100000	/* conversations one msg optout looks at */
#define NEVER		INT64_MAX	/* no opening within sched's horizon */

/* ------------------------------------------------------------ helpers */

static const char *
cfg(const char *key)
{
	const char *v = conf_get(R->d.conf, key);

	return v ? v : "";
}

/* The contact as campaignd keys it: e-mail addresses lower-cased. */
static void
norm_contact(const char *in, char *out, size_t outsz)
{
	size_t i;
	int mail = strchr(in, '@') != NULL;

	for (i = 0; in[i] && i + 1 < outsz; i++)
		out[i] = mail ? (char)tolower((unsigned char)in[i]) : in[i];
	out[i] = '\0';
}

/* Copy at most dstsz - 1 bytes of s, not splitting a UTF-8 character. */
static void
preview(char *dst, size_t dstsz, const char *s, size_t n)
{
	if (n >= dstsz) {
		n = dstsz - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* The keyword as recorded: trimmed, upper case, at most KEYWORD_MAX. */
static void
keyword_of(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0;

	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && (isspace((unsigned char)s[n - 1]) || s[n - 1] == '.' ||
	    s[n - 1] == '!'))
		n--;
	for (i = 0; i < n && o + 1 < outsz && o < KEYWORD_MAX; i++)
		out[o++] = (char)toupper((unsigned char)s[i]);
	out[o] = '\0';
}

static const char *
who_name(const struct who *w)
{
	if (w == NULL)
		return "parley";
	if (w->agent[0])
		return w->agent;
	return w->role == RR_ADMIN ? "admin" : "parley";
}

/* ------------------------------------------------------------ consent */

struct consent {
	int	optout;
	int64_t	ts;
	char	keyword[KEYWORD_MAX + 1];
	char	by[64];
};

/* 0 and c filled, MDB_NOTFOUND, or another mdb error. */
static int
consent_get(MDB_txn *txn, const char *channel, const char *contact,
    struct consent *c)
{
	char key[16 + R_ADDRLEN + 2], norm[R_ADDRLEN];
	MDB_val k, v;
	msgpack_unpacked up;
	size_t off = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	norm_contact(contact, norm, sizeof(norm));
	snprintf(key, sizeof(key), "%s:%s", channel, norm);
	k.mv_size = strlen(key);
	k.mv_data = key;
	if ((rc = mdb_get(txn, R->db_consent, &k, &v)) != 0)
		return rc;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) !=
	    MSGPACK_UNPACK_SUCCESS) {
		msgpack_unpacked_destroy(&up);
		return MDB_CORRUPTED;
	}
	mp_bool(&up.data, "optout", &c->optout);
	mp_int(&up.data, "ts", &c->ts);
	mp_strcpy(&up.data, "keyword", c->keyword, sizeof(c->keyword));
	mp_strcpy(&up.data, "by", c->by, sizeof(c->by));
	msgpack_unpacked_destroy(&up);
	return 0;
}

static int
consent_put(MDB_txn *txn, const char *channel, const char *contact,
    int optout, const char *keyword, const char *by, const char *reason,
    long long ts)
{
	char key[16 + R_ADDRLEN + 2], norm[R_ADDRLEN];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	MDB_val k, v;
	int rc;

	norm_contact(contact, norm, sizeof(norm));
	snprintf(key, sizeof(key), "%s:%s", channel, norm);
	k.mv_size = strlen(key);
	k.mv_data = key;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	mp_kv_bool(&pk, "optout", optout);
	mp_kv_int(&pk, "ts", ts);
	mp_kv_str(&pk, "keyword", keyword && *keyword ? keyword : NULL);
	mp_kv_str(&pk, "by", by);
	mp_kv_str(&pk, "reason", reason && *reason ? reason : NULL);
	v.mv_size = sb.size;
	v.mv_data = sb.data;
	rc = mdb_put(txn, R->db_consent, &k, &v, 0);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/*
 * Record a consent change and its event ("optout" or "optin"), indexed
 * under conv when there is one.
 */
static int
consent_record(MDB_txn *txn, const char *conv, const char *campaign,
    const char *channel, const char *contact, int optout, const char *keyword,
    const char *by, const char *reason)
{
	long long ts = daemon_now_ms();
	msgpack_packer *pk;
	int rc;

	if ((rc = consent_put(txn, channel, contact, optout, keyword, by,
	    reason, ts)) != 0)
		return rc;
	pk = rec_begin(6 + (conv && *conv) + (keyword && *keyword) +
	    (reason && *reason));
	mp_kv_str(pk, "type", optout ? "optout" : "optin");
	if (conv && *conv)
		mp_kv_str(pk, "conv", conv);
	mp_kv_str(pk, "campaign", campaign);
	mp_kv_str(pk, "channel", channel);
	mp_kv_str(pk, "contact", contact);
	if (keyword && *keyword)
		mp_kv_str(pk, "keyword", keyword);
	if (reason && *reason)
		mp_kv_str(pk, "reason", reason);
	mp_kv_str(pk, "by", by);
	mp_kv_int(pk, "ts", ts);
	if ((rc = rec_append(txn, conv ? conv : "", NULL)) != 0)
		return rc;
	log_info("conv=%s contact=%s opted %s %s (%s)", conv && *conv ?
	    conv : "-", contact, optout ? "out of" : "back in to", channel,
	    keyword && *keyword ? keyword : by);
	return 0;
}

/* -------------------------------------------------- campaignd, read-only */

/*
 * 1 when contact is blacklisted for campaign or for all ("*"): its
 * reason and scope (the campaign, or "*") out.  0 when not, or when
 * campaignd has no environment yet (then there is no blacklist).
 */
static int
blacklisted(const char *campaign, const char *contact, char *reason,
    size_t rsz, char *scope, size_t ssz)
{
	const char *scopes[2] = { campaign, "*" };
	char key[64 + R_ADDRLEN + 2], norm[R_ADDRLEN];
	msgpack_unpacked up;
	MDB_txn *ct;
	int i, found = 0;

	reason[0] = scope[0] = '\0';
	if (camp_rtxn(&ct) == -1)
		return 0;
	norm_contact(contact, norm, sizeof(norm));
	for (i = 0; i < 2 && !found; i++) {
		snprintf(key, sizeof(key), "%s/%s", scopes[i], norm);
		msgpack_unpacked_init(&up);
		if (camp_doc(ct, "blacklist", key, &up) == 0) {
			found = 1;
			snprintf(scope, ssz, "%s", scopes[i]);
			if (!mp_strcpy(&up.data, "reason", reason, rsz))
				reason[0] = '\0';
		}
		msgpack_unpacked_destroy(&up);
	}
	mdb_txn_abort(ct);
	return found;
}

/* Add the "date" strings of a holidays array or map values to hol. */
static void
add_holiday(const msgpack_object *doc, char (*hol)[16], size_t *nh)
{
	char d[16];

	if (*nh < HOLIDAYS_MAX && mp_strcpy(doc, "date", d, sizeof(d)) &&
	    strlen(d) == 10)
		memcpy(hol[(*nh)++], d, sizeof(d));
}

int
policy_open(const char *campaign, long long now, long long *next)
{
	char tz[64] = "UTC", err[256], (*hol)[16] = NULL;
	const char **hp = NULL;
	const msgpack_object *sj, *own;
	msgpack_unpacked up;
	struct sched s;
	json_t *js = NULL;
	MDB_txn *ct;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t nh = 0, i;
	int64_t n;
	int open = 1, rc;

	*next = 0;
	if (strcmp(campaign, "default") == 0 || camp_rtxn(&ct) == -1)
		return 1;
	msgpack_unpacked_init(&up);
	if (camp_doc(ct, "campaigns", campaign, &up) == -1 ||
	    (sj = mp_get(&up.data, "schedule")) == NULL ||
	    sj->type == MSGPACK_OBJECT_NIL)
		goto out;		/* no schedule: always open */
	if ((js = rec_to_json(sj)) == NULL ||
	    sched_from_json(js, &s, err, sizeof(err)) == -1) {
		log_warnx("campaign %s: bad schedule, taken as open", campaign);
		goto out;
	}
	mp_strcpy(&up.data, "timezone", tz, sizeof(tz));
	if ((hol = calloc(HOLIDAYS_MAX, sizeof(*hol))) == NULL ||
	    (hp = calloc(HOLIDAYS_MAX, sizeof(*hp))) == NULL)
		fatalx("out of memory");
	own = mp_get(&up.data, "holidays");
	if (own && own->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < own->via.array.size; i++)
			add_holiday(&own->via.array.ptr[i], hol, &nh);
	if (camp_dbi("holidays", &dbi) == 0 &&
	    mdb_cursor_open(ct, dbi, &cur) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 &&
		    nh < HOLIDAYS_MAX; rc = mdb_cursor_get(cur, &k, &v,
		    MDB_NEXT)) {
			msgpack_unpacked hu;
			size_t off = 0;

			msgpack_unpacked_init(&hu);
			if (msgpack_unpack_next(&hu, v.mv_data, v.mv_size,
			    &off) == MSGPACK_UNPACK_SUCCESS)
				add_holiday(&hu.data, hol, &nh);
			msgpack_unpacked_destroy(&hu);
		}
		mdb_cursor_close(cur);
	}
	for (i = 0; i < nh; i++)
		hp[i] = hol[i];
	switch (sched_open_at(&s, tz, hp, nh, now)) {
	case 0:
		open = 0;
		n = sched_next_open(&s, tz, hp, nh, now);
		*next = n > 0 ? n : NEVER;
		break;
	case -1:
		log_warnx("campaign %s: time zone %s unknown, taken as open",
		    campaign, tz);
		break;
	}
out:
	json_decref(js);
	free(hol);
	free(hp);
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(ct);
	return open;
}

/* -------------------------------------- campaignd's blacklist history */

/*
 * routerd reports each blocked attempt to campaignd ({t:"cfg", kind:
 * "blacklist", op:"blocked"}), after our commit.  Fire and forget: the
 * "blocked" event in our log is the durable record; a report that cannot
 * be made is logged.  Reports made while campaignd is away wait (at most
 * REPORTS_MAX) and go when it is back.
 */
struct report {
	char			 contact[R_ADDRLEN];
	char			 campaign[64];
	char			 detail[160];
	TAILQ_ENTRY(report)	 entry;
};
TAILQ_HEAD(reports, report);

static struct bus_conn	*campd;
static struct reports	 waiting = TAILQ_HEAD_INITIALIZER(waiting);
static size_t		 nwaiting;

static void
report_answer(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	struct report *r = arg;
	const msgpack_object *err;
	char why[256] = "";

	if (ans == NULL)
		log_warnx("contact=%s blocked attempt not reported: campaignd "
		    "went away", r->contact);
	else if ((err = mp_get(ans, "err")) != NULL) {
		mp_strcpy(err, "msg", why, sizeof(why));
		log_warnx("contact=%s blocked attempt not reported: %s",
		    r->contact, why);
	}
	free(r);
}

/* Send r now; 0, or -1 when campaignd is not there (r kept by caller). */
static int
report_send(struct report *r)
{
	struct fbuf fb;
	int64_t id;
	int rc;

	if (campd == NULL || !bus_is_up(campd))
		return -1;
	id = bus_next_id(campd);
	fbuf_init(&fb);
	fbuf_begin(&fb, 7);
	mp_kv_str(&fb.pk, "t", "cfg");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "kind", "blacklist");
	mp_kv_str(&fb.pk, "op", "blocked");
	mp_kv_str(&fb.pk, "contact", r->contact);
	mp_kv_str(&fb.pk, "campaign", r->campaign);
	mp_kv_str(&fb.pk, "detail", r->detail);
	rc = bus_request(campd, &fb, id, report_answer, r);
	fbuf_free(&fb);
	return rc;
}

static void
campd_up(struct bus_conn *c, void *arg)
{
	struct report *r;

	campd = c;	/* bus_client may call this before it returns */
	while ((r = TAILQ_FIRST(&waiting)) != NULL) {
		TAILQ_REMOVE(&waiting, r, entry);
		nwaiting--;
		if (report_send(r) == -1) {
			TAILQ_INSERT_HEAD(&waiting, r, entry);
			nwaiting++;
			break;
		}
	}
}

static const struct bus_handlers campd_handlers = {
	.up = campd_up,
};

static void
report_committed(void *arg, int ok)
{
	struct report *r = arg;
	char path[4096];

	if (!ok) {
		free(r);
		return;
	}
	if (campd == NULL) {
		daemon_path(&R->d, "run/campaignd.sock", path, sizeof(path));
		campd = bus_client(R->d.base, path, "routerd", &campd_handlers,
		    NULL);
	}
	if (report_send(r) == 0)
		return;
	if (nwaiting >= REPORTS_MAX) {
		log_warnx("contact=%s blocked attempt not reported: campaignd "
		    "unreachable and %d reports waiting", r->contact,
		    REPORTS_MAX);
		free(r);
		return;
	}
	TAILQ_INSERT_TAIL(&waiting, r, entry);
	nwaiting++;
}

/* ----------------------------------------------- our automatic replies */

static void
reply_committed(void *arg, int ok)
{
	if (ok)
		dispatch(arg);
	free(arg);
}

/*
 * Queue text to cv's contact as routerd's own reply ("auto" says why):
 * the outbound message event, its record, the pending entry and cv's
 * last-message fields (the caller puts cv), dispatched after the commit.
 * Not subject to policy_outbound.
 */
static int
policy_queue_reply(MDB_txn *txn, struct conv *cv, const char *text,
    const char *why)
{
	struct mrec m;
	msgpack_packer *pk;
	MDB_val k, v = { 0, (void *)"" };
	long long ts = daemon_now_ms();
	size_t len = strlen(text);
	char *id;
	int rc;

	memset(&m, 0, sizeof(m));
	ulid_make("m_", m.id);
	snprintf(m.conv, sizeof(m.conv), "%s", cv->id);
	snprintf(m.dir, sizeof(m.dir), "out");
	snprintf(m.channel, sizeof(m.channel), "%s", cv->channel);
	snprintf(m.from, sizeof(m.from), "%s", cv->addr);
	snprintf(m.to, sizeof(m.to), "%s", cv->contact);
	snprintf(m.state, sizeof(m.state), "queued");
	m.ts = ts;
	m.text = (char *)text;
	m.textlen = len;

	pk = rec_begin(13);
	mp_kv_str(pk, "type", "message");
	mp_kv_str(pk, "dir", "out");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "id", m.id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "channel", cv->channel);
	mp_kv_str(pk, "contact", cv->contact);
	mp_kv_str(pk, "addr", cv->addr);
	mp_kv_strn(pk, "text", text, len);
	mp_kv_str(pk, "status", "queued");
	mp_kv_str(pk, "agent", "parley");
	mp_kv_str(pk, "auto", why);
	mp_kv_int(pk, "ts", ts);
	if ((rc = rec_append(txn, cv->id, NULL)) != 0 ||
	    (rc = mrec_put(txn, &m)) != 0)
		return rc;
	k.mv_size = strlen(m.id);
	k.mv_data = m.id;
	if ((rc = mdb_put(txn, R->db_pending, &k, &v, 0)) != 0)
		return rc;
	cv->last_ts = ts;
	snprintf(cv->last_dir, sizeof(cv->last_dir), "out");
	preview(cv->last_text, sizeof(cv->last_text), text, len);
	if ((id = strdup(m.id)) == NULL)
		fatalx("out of memory");
	store_after(R->st, reply_committed, id);
	return 0;
}

/* ------------------------------------------------------------ inbound */

static enum optout_kw
classify(const char *channel, const char *text, size_t len)
{
	const char *out, *in;

	if (strcmp(channel, "sms") == 0) {
		out = cfg("optout_keywords_sms");
		in = cfg("optin_keywords_sms");
	} else if (strcmp(channel, "whatsapp") == 0) {
		out = cfg("optout_keywords_whatsapp");
		in = cfg("optin_keywords_whatsapp");
	} else if (strcmp(channel, "messenger") == 0 ||
	    strcmp(channel, "instagram") == 0) {
		out = cfg("optout_keywords_messenger");
		in = cfg("optin_keywords_messenger");
	} else
		return OPT_NONE;
	return optout_classify(channel, text, len, *out ? out : NULL,
	    *in ? in : NULL);
}

/* The blocked event, the conversation marked, the report registered. */
static int
blocked(MDB_txn *txn, struct conv *cv, const struct mrec *m,
    const char *reason, const char *scope)
{
	msgpack_packer *pk;
	struct report *r;
	int rc;

	pk = rec_begin(9);
	mp_kv_str(pk, "type", "blocked");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "channel", cv->channel);
	mp_kv_str(pk, "contact", cv->contact);
	mp_kv_str(pk, "id", m->id);
	mp_kv_str(pk, "reason", *reason ? reason : "blacklisted");
	mp_kv_str(pk, "scope", scope);
	mp_kv_int(pk, "ts", daemon_now_ms());
	if ((rc = rec_append(txn, cv->id, NULL)) != 0)
		return rc;
	snprintf(cv->unrouted, sizeof(cv->unrouted), "blacklisted");
	log_info("conv=%s contact=%s inbound blocked: blacklisted (%s)",
	    cv->id, cv->contact, strcmp(scope, "*") ? scope :
	    "all campaigns");
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatalx("out of memory");
	norm_contact(cv->contact, r->contact, sizeof(r->contact));
	snprintf(r->campaign, sizeof(r->campaign), "%s", cv->campaign);
	snprintf(r->detail, sizeof(r->detail), "inbound %s message %s "
	    "(conversation %s) not routed", cv->channel, m->id, cv->id);
	store_after(R->st, report_committed, r);
	return 0;
}

int
policy_inbound(MDB_txn *txn, struct conv *cv, const struct mrec *m, int *rc)
{
	char reason[256], scope[64], kwbuf[KEYWORD_MAX + 1];
	const char *text = m->text ? m->text : "", *reply = NULL, *why = NULL;
	enum optout_kw kw;
	long long next;
	int flags = 0, bl, sms = strcmp(cv->channel, "sms") == 0;

	*rc = 0;
	bl = blacklisted(cv->campaign, cv->contact, reason, sizeof(reason),
	    scope, sizeof(scope));
	/* consent is recorded even for a blacklisted customer: it outlives
	 * the blacklist entry, and revocation by any means must be honoured */
	kw = classify(cv->channel, text, m->textlen);
	keyword_of(text, m->textlen, kwbuf, sizeof(kwbuf));
	switch (kw) {
	case OPT_OUT:
	case OPT_IN:
		if ((*rc = consent_record(txn, cv->id, cv->campaign,
		    cv->channel, cv->contact, kw == OPT_OUT, kwbuf, "customer",
		    NULL)) != 0)
			return -1;
		if (kw == OPT_OUT)
			reply = cfg(sms ? "sms_stop_text" : "optout_reply_text");
		else
			reply = cfg(sms ? "sms_start_text" : "optin_reply_text");
		why = kw == OPT_OUT ? "optout" : "optin";
		flags |= POL_NOROUTE;
		break;
	case OPT_HELP:
		reply = cfg("sms_help_text");
		why = "help";
		flags |= POL_NOROUTE;
		break;
	case OPT_NONE:
		break;
	}
	if (bl) {
		if (cv->waiting_since == m->ts)
			cv->waiting_since = 0;
		if ((*rc = blocked(txn, cv, m, reason, scope)) != 0 ||
		    (*rc = conv_put(txn, cv)) != 0)
			return -1;
		return POL_NOROUTE;
	}
	if (flags & POL_NOROUTE) {
		/* a keyword is not a customer waiting for an agent */
		if (cv->waiting_since == m->ts)
			cv->waiting_since = 0;
		if (reply && *reply && (*rc = policy_queue_reply(txn, cv, reply,
		    why)) != 0)
			return -1;
		if ((*rc = conv_put(txn, cv)) != 0)
			return -1;
		return flags;
	}

	/* after hours: for what waits for the agents' queue only (bots
	 * answer at any hour, an agent who has the conversation answers it,
	 * and a conversation that is not routed waits for no opening) */
	if (cv->unrouted[0] || strcmp(cv->mode, "bot") == 0 ||
	    strcmp(cv->rstate, "assigned") == 0 ||
	    policy_open(cv->campaign, daemon_now_ms(), &next))
		return flags;
	{
		struct camp c;
		msgpack_packer *pk;
		int send;

		camp_get(cv->campaign, &c);
		send = c.after_hours_message[0] && cv->ah_until != next;
		pk = rec_begin(6);
		mp_kv_str(pk, "type", "after_hours");
		mp_kv_str(pk, "conv", cv->id);
		mp_kv_str(pk, "campaign", cv->campaign);
		if (next == NEVER)
			mp_kv_nil(pk, "opens_ts");
		else
			mp_kv_int(pk, "opens_ts", next);
		mp_kv_bool(pk, "replied", send);
		mp_kv_int(pk, "ts", daemon_now_ms());
		if ((*rc = rec_append(txn, cv->id, NULL)) != 0)
			return -1;
		if (send) {
			if ((*rc = policy_queue_reply(txn, cv,
			    c.after_hours_message, "after_hours")) != 0)
				return -1;
			cv->ah_until = next;
		}
		if ((*rc = conv_put(txn, cv)) != 0)
			return -1;
	}
	return flags | POL_CLOSED;
}

/* ----------------------------------------------------------- outbound */

/* What placeholders are filled from. */
struct pctx {
	const struct who	*w;
	const struct conv	*cv;
	json_t			*contact;	/* campaignd's document, or NULL */
	char			 first[128];
	char			 num[4][32];	/* numeric field values */
	int			 nnum;
	char			 missing[64];	/* known, but no value */
};

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : NULL;
}

static const char *
known(struct pctx *p, const char *name, const char *v)
{
	if (v == NULL || *v == '\0') {
		snprintf(p->missing, sizeof(p->missing), "%s", name);
		return NULL;
	}
	return v;
}

static const char *
lookup(const char *name, void *arg)
{
	struct pctx *p = arg;
	const char *v;
	json_t *f;
	size_t n;

	if (strcmp(name, "name") == 0 || strcmp(name, "first_name") == 0) {
		v = p->contact ? jstr(p->contact, "name") : NULL;
		if (v == NULL && p->cv->name[0])
			v = p->cv->name;
		if (v && strcmp(name, "first_name") == 0) {
			n = strcspn(v, " \t");
			preview(p->first, sizeof(p->first), v, n);
			v = p->first;
		}
		return known(p, name, v);
	}
	if (strcmp(name, "phone") == 0) {
		v = p->contact ? jstr(p->contact, "phone") : NULL;
		if (v == NULL && p->cv->contact[0] == '+')
			v = p->cv->contact;
		return known(p, name, v);
	}
	if (strcmp(name, "email") == 0) {
		v = p->contact ? jstr(p->contact, "email") : NULL;
		if (v == NULL && strchr(p->cv->contact, '@'))
			v = p->cv->contact;
		return known(p, name, v);
	}
	if (strcmp(name, "agent") == 0)
		return known(p, name, p->w && p->w->agent[0] ? p->w->agent :
		    p->cv->agent);
	if (strcmp(name, "campaign") == 0)
		return known(p, name, p->cv->campaign);
	if (strcmp(name, "contact") == 0)
		return known(p, name, p->cv->contact);
	f = p->contact ? json_object_get(json_object_get(p->contact,
	    "fields"), name) : NULL;
	if (f == NULL)
		return NULL;		/* unknown */
	if (json_is_string(f))
		return known(p, name, json_string_value(f));
	if ((json_is_integer(f) || json_is_real(f)) && p->nnum < 4) {
		if (json_is_integer(f))
			snprintf(p->num[p->nnum], sizeof(p->num[0]), "%lld",
			    (long long)json_integer_value(f));
		else
			snprintf(p->num[p->nnum], sizeof(p->num[0]), "%g",
			    json_real_value(f));
		return p->num[p->nnum++];
	}
	return known(p, name, NULL);
}

/* campaignd's contact document for cv's customer (phone or e-mail), or NULL. */
static json_t *
contact_doc(MDB_txn *ct, const struct conv *cv)
{
	char norm[R_ADDRLEN + 1], id[128];
	const char *index;
	msgpack_unpacked up;
	MDB_dbi dbi;
	MDB_val k, v;
	json_t *doc = NULL;

	if (strchr(cv->contact, '@')) {
		index = "cemail";
		norm_contact(cv->contact, norm, sizeof(norm));
	} else {
		index = "cphone";
		/* WhatsApp ids are numbers without the '+' */
		if (cv->contact[0] != '+' && isdigit((unsigned char)
		    cv->contact[0]))
			snprintf(norm, sizeof(norm), "+%s", cv->contact);
		else
			snprintf(norm, sizeof(norm), "%s", cv->contact);
	}
	k.mv_size = strlen(norm);
	k.mv_data = norm;
	if (k.mv_size == 0 || camp_dbi(index, &dbi) != 0 ||
	    mdb_get(ct, dbi, &k, &v) != 0 || v.mv_size >= sizeof(id))
		return NULL;
	memcpy(id, v.mv_data, v.mv_size);
	id[v.mv_size] = '\0';
	msgpack_unpacked_init(&up);
	if (camp_doc(ct, "contacts", id, &up) == 0)
		doc = rec_to_json(&up.data);
	msgpack_unpacked_destroy(&up);
	return doc;
}

/* 1 if the campaign document lists snippet among its canned responses. */
static int
canned_assigned(MDB_txn *ct, const char *campaign, const char *snippet)
{
	const msgpack_object *a;
	msgpack_unpacked up;
	uint32_t i;
	int yes = 0;

	msgpack_unpacked_init(&up);
	if (camp_doc(ct, "campaigns", campaign, &up) == 0 &&
	    (a = mp_get(&up.data, "canned")) != NULL &&
	    a->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < a->via.array.size && !yes; i++)
			yes = mp_streq(&a->via.array.ptr[i], snippet);
	msgpack_unpacked_destroy(&up);
	return yes;
}

/*
 * Expand a "/snippet" message: 1 and *out (malloc'd), 0 when text is not
 * one, -1 with why.  The snippet must be assigned to cv's campaign (any
 * canned response on "default", which has no campaign document).
 */
static int
canned(const struct who *w, const struct conv *cv, const char *text,
    char **out, char *why, size_t whysz)
{
	char snip[PLACEHOLDER_SNIPPET_MAX + 1], err[256];
	const char *rest = NULL, *ctext;
	size_t ctl;
	struct pctx p;
	msgpack_unpacked up;
	MDB_txn *ct;
	char *exp = NULL;
	int rc = -1;

	*out = NULL;
	if (!placeholder_snippet(text, snip, sizeof(snip), &rest))
		return 0;
	if (camp_rtxn(&ct) == -1) {
		snprintf(why, whysz, "canned response /%s: the canned "
		    "responses cannot be read now", snip);
		return -1;
	}
	msgpack_unpacked_init(&up);
	memset(&p, 0, sizeof(p));
	if (camp_doc(ct, "canned", snip, &up) == -1 ||
	    !mp_str(&up.data, "text", &ctext, &ctl)) {
		snprintf(why, whysz, "no canned response /%s", snip);
		goto out;
	}
	if (strcmp(cv->campaign, "default") != 0 &&
	    !canned_assigned(ct, cv->campaign, snip)) {
		snprintf(why, whysz, "canned response /%s is not assigned to "
		    "campaign %s (msg canned assign %s --campaign %s)", snip,
		    cv->campaign, snip, cv->campaign);
		goto out;
	}
	if ((exp = malloc(ctl + 1)) == NULL)
		fatalx("out of memory");
	memcpy(exp, ctext, ctl);
	exp[ctl] = '\0';
	p.w = w;
	p.cv = cv;
	p.contact = contact_doc(ct, cv);
	if ((*out = placeholder_expand(exp, lookup, &p, 0, err,
	    sizeof(err))) == NULL) {
		if (p.missing[0])
			snprintf(why, whysz, "canned response /%s: {%s} has no "
			    "value for contact %s", snip, p.missing,
			    cv->contact);
		else
			snprintf(why, whysz, "canned response /%s: %s", snip,
			    err);
		goto out;
	}
	if (rest && *rest) {
		size_t a = strlen(*out), b = strlen(rest);
		char *t;

		if ((t = realloc(*out, a + 1 + b + 1)) == NULL)
			fatalx("out of memory");
		t[a] = ' ';
		memcpy(t + a + 1, rest, b + 1);
		*out = t;
	}
	rc = 1;
out:
	free(exp);
	json_decref(p.contact);
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(ct);
	return rc;
}

/* Append the "refused" event; -1 (refused), *rc set on a store error. */
static int
refused(MDB_txn *txn, const struct who *w, const struct conv *cv,
    const char *why, int *rc)
{
	msgpack_packer *pk;

	/* a conversation being started has no id until the send is allowed */
	pk = rec_begin(7 + (cv->id[0] != '\0'));
	mp_kv_str(pk, "type", "refused");
	if (cv->id[0])
		mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "channel", cv->channel);
	mp_kv_str(pk, "contact", cv->contact);
	mp_kv_str(pk, "reason", why);
	mp_kv_str(pk, "by", who_name(w));
	mp_kv_int(pk, "ts", daemon_now_ms());
	*rc = rec_append(txn, cv->id, NULL);
	log_info("conv=%s send refused: %s", cv->id[0] ? cv->id : "(new)",
	    why);
	return -1;
}

int
policy_outbound(MDB_txn *txn, const struct who *w, struct conv *cv,
    const char *text, size_t len, int human, const char *template_name,
    char **out, const char **tag, char *why, size_t whysz, int *rc)
{
	struct consent c;
	struct window_verdict v;
	char reason[256], scope[64], when[32], *t;
	int r;

	*out = NULL;
	*tag = NULL;
	*rc = 0;
	why[0] = '\0';
	r = consent_get(txn, cv->channel, cv->contact, &c);
	if (r != 0 && r != MDB_NOTFOUND) {
		*rc = r;
		snprintf(why, whysz, "store: %s", mdb_strerror(r));
		return -1;
	}
	if (r == 0 && c.optout) {
		rec_ts_format(c.ts, when);
		if (c.keyword[0])
			snprintf(why, whysz, "%s opted out of %s messages "
			    "(replied %s on %s); nothing is sent until they "
			    "opt back in", cv->contact, cv->channel, c.keyword,
			    when);
		else
			snprintf(why, whysz, "%s opted out of %s messages "
			    "(recorded by %s on %s); nothing is sent until "
			    "they opt back in", cv->contact, cv->channel, c.by,
			    when);
		return refused(txn, w, cv, why, rc);
	}
	if (blacklisted(cv->campaign, cv->contact, reason, sizeof(reason),
	    scope, sizeof(scope))) {
		snprintf(why, whysz, "%s is blacklisted for %s%s%s%s",
		    cv->contact, strcmp(scope, "*") ? "campaign " : "",
		    strcmp(scope, "*") ? scope : "all campaigns",
		    reason[0] ? ": " : "", reason);
		return refused(txn, w, cv, why, rc);
	}
	if (strcmp(cv->channel, "sms") != 0 &&
	    !window_check(cv->channel, cv->last_in_ts, daemon_now_ms(), human,
	    template_name != NULL, &v)) {
		snprintf(why, whysz, "%s", v.why);
		return refused(txn, w, cv, why, rc);
	}
	if (strcmp(cv->channel, "sms") != 0)
		*tag = v.tag;
	if (template_name == NULL && len > 0 && text[0] == '/') {
		if ((t = malloc(len + 1)) == NULL)
			fatalx("out of memory");
		memcpy(t, text, len);
		t[len] = '\0';
		r = canned(w, cv, t, out, why, whysz);
		free(t);
		if (r == -1)
			return refused(txn, w, cv, why, rc);
	}
	return 0;
}

/* --------------------------------------------------------- files */

/*
 * Is mime in the campaign's files.types list for channel?  1 yes, 0 no
 * (the list is put in list, comma-separated, for the reason); a campaign
 * without a list for the channel allows every type, except on WhatsApp,
 * which takes only Meta's types (lib/valid.h).
 */
static int
type_allowed(const char *campaign, const char *channel, const char *mime,
    char *list, size_t listsz)
{
	msgpack_unpacked up;
	const msgpack_object *files, *types, *l = NULL;
	MDB_txn *ct;
	size_t i, off = 0;
	int found = 0, haslist = 0;

	list[0] = '\0';
	msgpack_unpacked_init(&up);
	if (camp_rtxn(&ct) == 0) {
		if (camp_doc(ct, "campaigns", campaign, &up) == 0 &&
		    (files = mp_get(&up.data, "files")) != NULL &&
		    (types = mp_get(files, "types")) != NULL &&
		    (l = mp_get(types, channel)) != NULL &&
		    l->type == MSGPACK_OBJECT_ARRAY) {
			haslist = 1;
			for (i = 0; i < l->via.array.size; i++) {
				const msgpack_object *e = &l->via.array.ptr[i];

				if (e->type != MSGPACK_OBJECT_STR)
					continue;
				if (mime && mp_streq(e, mime))
					found = 1;
				if (off + e->via.str.size + 3 < listsz) {
					off += (size_t)snprintf(list + off,
					    listsz - off, "%s%.*s", off ? ", " :
					    "", (int)e->via.str.size,
					    e->via.str.ptr);
				}
			}
		}
		mdb_txn_abort(ct);
	}
	msgpack_unpacked_destroy(&up);
	if (haslist)
		return found;
	if (strcmp(channel, "whatsapp") != 0)
		return 1;
	for (i = 0; valid_whatsapp_mimes[i]; i++) {
		if (mime && strcmp(valid_whatsapp_mimes[i], mime) == 0)
			found = 1;
		if (off + strlen(valid_whatsapp_mimes[i]) + 3 < listsz)
			off += (size_t)snprintf(list + off, listsz - off, "%s%s",
			    off ? ", " : "", valid_whatsapp_mimes[i]);
	}
	return found;
}

int
policy_file(MDB_txn *txn, const struct who *w, struct conv *cv,
    const msgpack_object *file, const msgpack_object *media, char *why,
    size_t whysz, int *rc)
{
	struct camp c;
	char mime[128], name[128], src[16] = "local", list[400], sz[200];
	const msgpack_object *e;
	int64_t size = 0;
	size_t i, n;

	*rc = 0;
	why[0] = '\0';
	if (file == NULL && media == NULL)
		return 0;
	camp_get(cv->campaign, &c);
	if (!c.files_enabled) {
		snprintf(why, whysz, "campaign %s does not allow agents to send "
		    "files", cv->campaign);
		return refused(txn, w, cv, why, rc);
	}
	if (file != NULL)
		mp_strcpy(file, "source", src, sizeof(src));
	if (file != NULL && strcmp(src, "local") == 0 && !c.files_local) {
		snprintf(why, whysz, "campaign %s allows agents to send files "
		    "only from the library", cv->campaign);
		return refused(txn, w, cv, why, rc);
	}
	/* a media URL is a file from the library: not one of the agent's */
	if ((media != NULL || strcmp(src, "library") == 0) &&
	    !c.files_library) {
		snprintf(why, whysz, "campaign %s does not allow files from the "
		    "library (media URLs); only local files", cv->campaign);
		return refused(txn, w, cv, why, rc);
	}
	n = media ? media->via.array.size : 1;
	if (n > (size_t)media_max_count(cv->channel)) {
		snprintf(why, whysz, "%s takes at most %d file%s per message",
		    cv->channel, media_max_count(cv->channel),
		    media_max_count(cv->channel) == 1 ? "" : "s");
		return refused(txn, w, cv, why, rc);
	}
	for (i = 0; i < n; i++) {
		e = media ? &media->via.array.ptr[i] : file;
		mime[0] = name[0] = '\0';
		mp_strcpy(e, "mime", mime, sizeof(mime));
		if (!mp_strcpy(e, "name", name, sizeof(name)))
			mp_strcpy(e, "url", name, sizeof(name));
		if (!type_allowed(cv->campaign, cv->channel, mime[0] ? mime :
		    NULL, list, sizeof(list))) {
			if (mime[0])
				snprintf(why, whysz, "campaign %s does not allow "
				    "%s files on %s (allowed: %s)", cv->campaign,
				    mime, cv->channel, list);
			else
				snprintf(why, whysz, "the type of %.80s is not "
				    "known, and campaign %s allows only %s on %s",
				    name, cv->campaign, list, cv->channel);
			return refused(txn, w, cv, why, rc);
		}
		if (file != NULL && mp_int(file, "size", &size) &&
		    media_check_size(cv->channel, mime[0] ? mime :
		    "application/octet-stream", size, sz, sizeof(sz)) == -1) {
			snprintf(why, whysz, "%.100s: %s", name, sz);
			return refused(txn, w, cv, why, rc);
		}
	}
	if (file != NULL && strcmp(cv->channel, "sms") == 0) {
		snprintf(why, whysz, "SMS (Twilio) takes media only as a public "
		    "URL: msg send --media-url URL");
		return refused(txn, w, cv, why, rc);
	}
	if (strcmp(cv->channel, "messenger") == 0 ||
	    strcmp(cv->channel, "instagram") == 0) {
		snprintf(why, whysz, "sending files on %s arrives with "
		    "messengerd", cv->channel);
		return refused(txn, w, cv, why, rc);
	}
	return 0;
}

/* ------------------------------------------------------- msg optout */

struct oans {
	struct rclient	*cl;
	int64_t		 re;
	int		 optout;
	char		 channel[16];
	char		 contact[R_ADDRLEN];
	char		 conv[R_IDLEN];
};

static void
optout_answered(void *arg, int ok)
{
	struct oans *a = arg;
	struct fbuf fb;

	if (a->cl->alive) {
		if (!ok)
			bus_answer_err(a->cl->c, a->re, "store",
			    store_error(R->st));
		else {
			fbuf_init(&fb);
			bus_answer_begin(&fb, a->re, 4);
			mp_kv_str(&fb.pk, "contact", a->contact);
			mp_kv_str(&fb.pk, "channel", a->channel);
			mp_kv_bool(&fb.pk, "optout", a->optout);
			mp_kv_str(&fb.pk, "conv", a->conv[0] ? a->conv : NULL);
			bus_send(a->cl->c, &fb);
			fbuf_free(&fb);
		}
	}
	client_unref(a->cl);
	free(a);
}

/*
 * A conversation with contact on channel that w may see: its id and
 * campaign into conv/campaign (the first one the caller may see); 1, 0
 * when none, or -1 with *rc.
 */
static int
find_conv(MDB_txn *txn, const struct who *w, const char *channel,
    const char *contact, char *conv, char *campaign, size_t campsz, int *rc)
{
	char prefix[24], id[R_IDLEN];
	size_t pl = 0, cl = strlen(contact), n = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	struct conv cv;
	int r, found = 0;

	pl = (size_t)snprintf(prefix, sizeof(prefix), "%s|", channel);
	if ((*rc = mdb_cursor_open(txn, R->db_convkey, &cur)) != 0)
		return -1;
	k.mv_size = pl;
	k.mv_data = prefix;
	for (r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); r == 0 &&
	    n < SCAN_MAX && !found; r = mdb_cursor_get(cur, &k, &v, MDB_NEXT),
	    n++) {
		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0)
			break;
		/* "<channel>|<addr>|<contact>" */
		if (k.mv_size < pl + cl + 1 || memcmp((char *)k.mv_data +
		    k.mv_size - cl, contact, cl) != 0 ||
		    ((char *)k.mv_data)[k.mv_size - cl - 1] != '|' ||
		    v.mv_size >= sizeof(id))
			continue;
		memcpy(id, v.mv_data, v.mv_size);
		id[v.mv_size] = '\0';
		if ((r = conv_get(txn, id, &cv)) != 0) {
			if (r == MDB_NOTFOUND)
				continue;
			break;
		}
		if (w->role == RR_ADMIN || auth_can_see(w, cv.campaign)) {
			snprintf(conv, R_IDLEN, "%s", cv.id);
			snprintf(campaign, campsz, "%s", cv.campaign);
			found = 1;
		}
	}
	mdb_cursor_close(cur);
	if (r != 0 && r != MDB_NOTFOUND) {
		*rc = r;
		return -1;
	}
	return found;
}

/*
 * {t:"optout", id, contact, channel?, in?, reason?}: record a contact's
 * consent by hand.  Admins and supervisors may; an agent only for a
 * contact who has a conversation in one of the agent's campaigns.
 */
void
policy_optout(struct rclient *cl, const msgpack_object *f)
{
	char contact[R_ADDRLEN], norm[R_ADDRLEN], channel[16] = "sms",
	    reason[REASON_MAX + 1] = "", campaign[64] = "*";
	struct who *w = auth_who(cl);
	struct oans *a;
	const char *s;
	size_t n;
	int64_t re = 0;
	int optin = 0, rc = 0, found;
	MDB_txn *txn;

	mp_int(f, "id", &re);
	if (w == NULL || w->role == RR_NONE) {
		bus_answer_err(cl->c, re, "denied", "optout: you are not a "
		    "parley agent");
		return;
	}
	if (!mp_str(f, "contact", &s, &n) || n == 0 ||
	    n >= sizeof(contact) || memchr(s, '\0', n) || memchr(s, '|', n)) {
		bus_answer_err(cl->c, re, "invalid", "optout: contact is "
		    "required (a phone number, e-mail address or channel id)");
		return;
	}
	memcpy(contact, s, n);
	contact[n] = '\0';
	if (mp_get(f, "channel") && (!mp_strcpy(f, "channel", channel,
	    sizeof(channel)) || (strcmp(channel, "sms") != 0 &&
	    strcmp(channel, "whatsapp") != 0 && strcmp(channel, "messenger") !=
	    0 && strcmp(channel, "instagram") != 0))) {
		bus_answer_err(cl->c, re, "invalid", "optout: channel must be "
		    "sms, whatsapp, messenger or instagram");
		return;
	}
	if (mp_get(f, "in") && !mp_bool(f, "in", &optin)) {
		bus_answer_err(cl->c, re, "invalid", "optout: in must be "
		    "true or false");
		return;
	}
	if (mp_get(f, "reason") && (!mp_str(f, "reason", &s, &n) ||
	    n > REASON_MAX || memchr(s, '\0', n) || memchr(s, '\n', n))) {
		bus_answer_err(cl->c, re, "invalid", "optout: reason is one "
		    "line of at most 200 bytes");
		return;
	}
	mp_strcpy(f, "reason", reason, sizeof(reason));
	if (strcmp(channel, "sms") == 0 && !valid_e164(contact)) {
		bus_answer_err(cl->c, re, "invalid", "optout: an sms contact "
		    "is an E.164 number (+ and 8 to 15 digits)");
		return;
	}
	norm_contact(contact, norm, sizeof(norm));
	if ((txn = store_txn(R->st)) == NULL) {
		bus_answer_err(cl->c, re, "store", store_error(R->st));
		return;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatalx("out of memory");
	a->cl = cl;
	a->re = re;
	a->optout = !optin;
	client_ref(cl);
	snprintf(a->channel, sizeof(a->channel), "%s", channel);
	snprintf(a->contact, sizeof(a->contact), "%s", norm);
	found = find_conv(txn, w, channel, norm, a->conv, campaign,
	    sizeof(campaign), &rc);
	if (found == -1)
		goto fail;
	if (!found && w->role == RR_AGENT) {
		if (cl->alive)
			bus_answer_err(cl->c, re, "denied", "optout: you have no "
			    "conversation with this contact in your campaigns");
		client_unref(cl);
		free(a);
		return;
	}
	if ((rc = consent_record(txn, a->conv, campaign, channel, norm,
	    !optin, NULL, who_name(w), reason)) != 0)
		goto fail;
	store_after(R->st, optout_answered, a);
	return;
fail:
	store_after(R->st, optout_answered, a);
	store_fail(R->st, rc, "recording a consent");
}
