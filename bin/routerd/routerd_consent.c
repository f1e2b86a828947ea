/*
 * routerd_consent — opt-out, opt-in and the blacklist: whether a customer
 * may be written to, and what their keywords mean.  A rule module under
 * routerd_policy (and msg optout in routerd_work); it calls routerd_store,
 * routerd_campaign, routerd_auth and lib/.
 *
 * Consent is routerd's own (db "consent", routerd_store): a whole-message
 * keyword from the customer (SMS: STOP and its kin, START, HELP; other
 * channels: the configured ones) or msg optout records it, with an
 * "optout" or "optin" event.  The blacklist is campaignd's, read-only; a
 * blacklisted customer's message is kept but marked blocked, and each
 * blocked attempt is reported to campaignd's blacklist history.  Consent
 * is recorded even for a blacklisted customer: it outlives the blacklist
 * entry, and revocation by any means must be honoured.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "mp.h"
#include "optout.h"
#include "rec.h"
#include "valid.h"
#include "routerd.h"

#define KEYWORD_MAX	32	/* bytes of a keyword kept in records */
#define REPORTS_MAX	1024	/* blacklist reports waiting for campaignd */

static const char *
cfg(const char *key)
{
	const char *v = conf_get(R->d.conf, key);

	return v ? v : "";
}

const char *
consent_by(const struct who *w)
{
	if (w == NULL)
		return "parley";
	if (w->agent[0])
		return w->agent;
	return w->role == RR_ADMIN ? "admin" : "parley";
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

int
consent_record(MDB_txn *txn, const char *conv, const char *campaign,
    enum chan ch, const char *contact, int optout, const char *keyword,
    const char *by, const char *reason)
{
	long long ts = daemon_now_ms();
	char norm[R_ADDRLEN];
	msgpack_packer *pk;
	int rc;

	valid_contact_key(contact, norm, sizeof(norm));
	if ((rc = rs_consent_put(txn, ch, norm, optout, keyword, by, reason,
	    ts)) != 0)
		return rc;
	pk = rs_event(6 + (conv && *conv) + (keyword && *keyword) +
	    (reason && *reason));
	mp_kv_str(pk, "type", optout ? "optout" : "optin");
	if (conv && *conv)
		mp_kv_str(pk, "conv", conv);
	mp_kv_str(pk, "campaign", campaign);
	mp_kv_str(pk, "channel", rs_chan_name(ch));
	mp_kv_str(pk, "contact", contact);
	if (keyword && *keyword)
		mp_kv_str(pk, "keyword", keyword);
	if (reason && *reason)
		mp_kv_str(pk, "reason", reason);
	mp_kv_str(pk, "by", by);
	mp_kv_int(pk, "ts", ts);
	if ((rc = rs_append(txn, conv ? conv : "", NULL)) != 0)
		return rc;
	log_info("conv=%s contact=%s opted %s %s (%s)", conv && *conv ?
	    conv : "-", contact, optout ? "out of" : "back in to",
	    rs_chan_name(ch), keyword && *keyword ? keyword : by);
	return 0;
}

/* cv's contact as the blacklist keys it: a page-scoped id with its
 * channel ("messenger:<psid>", lib/valid), anything else as
 * valid_contact_key makes it. */
static void
bl_key(const struct conv *cv, char *out, size_t outsz)
{
	if (cv->channel == CH_MESSENGER || cv->channel == CH_INSTAGRAM)
		snprintf(out, outsz, "%s:%.*s", rs_chan_name(cv->channel),
		    R_ADDRLEN - 12, cv->contact);
	else
		valid_contact_key(cv->contact, out, outsz);
}

int
consent_blacklisted(const struct conv *cv, char *reason, size_t rsz,
    char *scope, size_t ssz)
{
	const char *scopes[2] = { cv->campaign, "*" };
	char norm[R_ADDRLEN];
	msgpack_unpacked up;
	MDB_txn *ct;
	int i, found = 0;

	reason[0] = scope[0] = '\0';
	/* no environment of campaignd's yet: there is no blacklist */
	if (camp_rtxn(&ct) == -1)
		return 0;
	bl_key(cv, norm, sizeof(norm));
	for (i = 0; i < 2 && !found; i++) {
		msgpack_unpacked_init(&up);
		if (camp_blacklist(ct, scopes[i], norm, &up) == 0) {
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

int
consent_refuses(MDB_txn *txn, const struct conv *cv, char *why,
    size_t whysz, int *rc)
{
	struct consent c;
	char norm[R_ADDRLEN], reason[256], scope[64], when[32];
	const char *ch = rs_chan_name(cv->channel);
	int r;

	*rc = 0;
	valid_contact_key(cv->contact, norm, sizeof(norm));
	r = rs_consent_get(txn, cv->channel, norm, &c);
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
			    "opt back in", cv->contact, ch, c.keyword, when);
		else
			snprintf(why, whysz, "%s opted out of %s messages "
			    "(recorded by %s on %s); nothing is sent until "
			    "they opt back in", cv->contact, ch, c.by, when);
		return 1;
	}
	if (consent_blacklisted(cv, reason, sizeof(reason), scope,
	    sizeof(scope))) {
		snprintf(why, whysz, "%s is blacklisted for %s%s%s%s",
		    cv->contact, strcmp(scope, "*") ? "campaign " : "",
		    strcmp(scope, "*") ? scope : "all campaigns",
		    reason[0] ? ": " : "", reason);
		return 1;
	}
	return 0;
}

/* ------------------------------------------ outbound suppression query */

void
suppress_request(struct rclient *cl, const msgpack_object *f)
{
	const msgpack_object *a = mp_get(f, "contacts"), *e;
	struct fbuf fb;
	struct conv cv;
	char chname[16], why[512];
	enum chan ch;
	MDB_txn *txn;
	uid_t uid;
	int64_t re = 0;
	uint32_t i, n = 0;
	int r, rc;
	struct { uint32_t i; const char *reason; char why[512]; } *hits;

	mp_int(f, "id", &re);
	if (bus_peer(cl->bc.c, &uid, NULL, NULL) == -1 ||
	    (uid != 0 && uid != geteuid())) {
		bus_caller_refuse(&cl->bc, re, "denied", "suppress: only "
		    "campaignd asks");
		return;
	}
	memset(&cv, 0, sizeof(cv));
	if (!mp_strcpy(f, "channel", chname, sizeof(chname)) ||
	    rs_chan_parse(chname, &ch) == -1) {
		bus_caller_refuse(&cl->bc, re, "invalid", "suppress: channel "
		    "is required");
		return;
	}
	if (!mp_strcpy(f, "campaign", cv.campaign, sizeof(cv.campaign)))
		cv.campaign[0] = '\0';
	if (a == NULL || a->type != MSGPACK_OBJECT_ARRAY ||
	    a->via.array.size > SUPPRESS_MAX) {
		bus_caller_refuse(&cl->bc, re, "invalid", "suppress: contacts "
		    "must be a list of at most %d", SUPPRESS_MAX);
		return;
	}
	if ((hits = calloc(a->via.array.size + 1, sizeof(*hits))) == NULL)
		fatalx("out of memory");
	if ((rc = store_rtxn(R->st, &txn)) != 0) {
		free(hits);
		bus_caller_refuse(&cl->bc, re, "store", "%s", mdb_strerror(rc));
		return;
	}
	cv.channel = ch;
	for (i = 0; i < a->via.array.size; i++) {
		e = &a->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_STR || e->via.str.size >=
		    sizeof(cv.contact))
			continue;
		memcpy(cv.contact, e->via.str.ptr, e->via.str.size);
		cv.contact[e->via.str.size] = '\0';
		if ((ch == CH_SMS || ch == CH_WHATSAPP) &&
		    !valid_e164(cv.contact)) {
			hits[n].i = i;
			hits[n].reason = "invalid_number";
			snprintf(hits[n].why, sizeof(hits[n].why), "%s is not "
			    "an E.164 number", cv.contact);
			n++;
			continue;
		}
		r = consent_refuses(txn, &cv, why, sizeof(why), &rc);
		if (r == -1) {
			mdb_txn_abort(txn);
			free(hits);
			bus_caller_refuse(&cl->bc, re, "store", "%s", why);
			return;
		}
		if (r == 1) {
			hits[n].i = i;
			hits[n].reason = strstr(why, "opted out") ?
			    "opted_out" : "blacklisted";
			snprintf(hits[n].why, sizeof(hits[n].why), "%s", why);
			n++;
		}
	}
	mdb_txn_abort(txn);
	fbuf_init(&fb);
	bus_answer_begin(&fb, re, 1);
	mp_pack_cstr(&fb.pk, "items");
	msgpack_pack_array(&fb.pk, n);
	for (i = 0; i < n; i++) {
		e = &a->via.array.ptr[hits[i].i];
		msgpack_pack_map(&fb.pk, 3);
		mp_kv_strn(&fb.pk, "contact", e->via.str.ptr, e->via.str.size);
		mp_kv_str(&fb.pk, "reason", hits[i].reason);
		mp_kv_str(&fb.pk, "why", hits[i].why);
	}
	bus_caller_send(&cl->bc, &fb);
	fbuf_free(&fb);
	free(hits);
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

/* ------------------------------------------------------------ inbound */

int
consent_blocked(MDB_txn *txn, struct conv *cv, const struct mrec *m,
    const char *reason, const char *scope)
{
	msgpack_packer *pk;
	struct report *r;
	int rc;

	pk = rs_event(9);
	mp_kv_str(pk, "type", "blocked");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "channel", rs_chan_name(cv->channel));
	mp_kv_str(pk, "contact", cv->contact);
	mp_kv_str(pk, "id", m->id);
	mp_kv_str(pk, "reason", *reason ? reason : "blacklisted");
	mp_kv_str(pk, "scope", scope);
	mp_kv_int(pk, "ts", daemon_now_ms());
	if ((rc = rs_append(txn, cv->id, NULL)) != 0)
		return rc;
	snprintf(cv->unrouted, sizeof(cv->unrouted), "blacklisted");
	log_info("conv=%s contact=%s inbound blocked: blacklisted (%s)",
	    cv->id, cv->contact, strcmp(scope, "*") ? scope :
	    "all campaigns");
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatalx("out of memory");
	bl_key(cv, r->contact, sizeof(r->contact));
	snprintf(r->campaign, sizeof(r->campaign), "%s", cv->campaign);
	snprintf(r->detail, sizeof(r->detail), "inbound %s message %s "
	    "(conversation %s) not routed", rs_chan_name(cv->channel), m->id,
	    cv->id);
	store_after(R->st, report_committed, r);
	return 0;
}

static enum optout_kw
classify(enum chan ch, const char *text, size_t len)
{
	const char *out, *in;

	switch (ch) {
	case CH_SMS:
		out = cfg("optout_keywords_sms");
		in = cfg("optin_keywords_sms");
		break;
	case CH_WHATSAPP:
		out = cfg("optout_keywords_whatsapp");
		in = cfg("optin_keywords_whatsapp");
		break;
	case CH_MESSENGER:
	case CH_INSTAGRAM:
		out = cfg("optout_keywords_messenger");
		in = cfg("optin_keywords_messenger");
		break;
	default:
		return OPT_NONE;
	}
	return optout_classify(rs_chan_name(ch), text, len, *out ? out : NULL,
	    *in ? in : NULL);
}

int
consent_keyword(MDB_txn *txn, struct conv *cv, const struct mrec *m,
    const char **reply, const char **why, int *rc)
{
	const char *text = m->text ? m->text : "";
	char kwbuf[KEYWORD_MAX + 1];
	enum optout_kw kw;
	int sms = cv->channel == CH_SMS;

	*rc = 0;
	*reply = *why = NULL;
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
			*reply = cfg(sms ? "sms_stop_text" : "optout_reply_text");
		else
			*reply = cfg(sms ? "sms_start_text" : "optin_reply_text");
		*why = kw == OPT_OUT ? "optout" : "optin";
		return 1;
	case OPT_HELP:
		*reply = cfg("sms_help_text");
		*why = "help";
		return 1;
	case OPT_NONE:
		break;
	}
	return 0;
}

/* ------------------------------------------------------- msg optout */

struct find {
	MDB_txn			*txn;
	const struct who	*w;
	char			*conv;
	char			*campaign;
	size_t			 campsz;
	int			 found, rc;
};

static int
find_one(const char *id, void *arg)
{
	struct find *f = arg;
	struct conv cv;
	int r;

	if ((r = rs_conv_get(f->txn, id, &cv)) != 0) {
		if (r == MDB_NOTFOUND)
			return 0;
		f->rc = r;
		return 1;
	}
	if (f->w->role == RR_ADMIN || auth_can_see(f->w, cv.campaign)) {
		snprintf(f->conv, R_IDLEN, "%s", cv.id);
		snprintf(f->campaign, f->campsz, "%s", cv.campaign);
		f->found = 1;
		return 1;
	}
	return 0;
}

#define SCAN_MAX	100000	/* conversations one msg optout looks at */

int
consent_find_conv(MDB_txn *txn, const struct who *w, enum chan ch,
    const char *contact, char *conv, char *campaign, size_t campsz, int *rc)
{
	struct find f = { txn, w, conv, campaign, campsz, 0, 0 };

	if ((*rc = rs_convs_of(txn, ch, contact, SCAN_MAX, find_one,
	    &f)) != 0)
		return -1;
	if ((*rc = f.rc) != 0)
		return -1;
	return f.found;
}
