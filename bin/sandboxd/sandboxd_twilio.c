/*
 * sandboxd_twilio — Twilio's Programmable Messaging API as parley sees it
 * (providers.md §3), faithful enough that smsd, and Twilio's own helper
 * libraries, cannot tell it from Twilio:
 *
 *   POST /2010-04-01/Accounts/{AccountSid}/Messages.json
 *	create: form parameters validated in Twilio's order with Twilio's
 *	error codes and texts; 201 with the message resource; then, when
 *	StatusCallback was given, signed form callbacks "sent" and "delivered"
 *	(or the final status a fault rule asks for), not retried, as Twilio
 *	does by default.  ScheduleType=fixed with SendAt and a Messaging
 *	Service schedules it instead.
 *   GET  .../Messages.json		list, newest first, filtered by To,
 *	From and DateSent (exact, DateSent< and DateSent>), paged as Twilio
 *	pages (PageSize, Page, PageToken; next_page_uri null on the last page)
 *   GET  .../Messages/{Sid}.json	fetch
 *   POST .../Messages/{Sid}.json	update: Body="" redacts, Status=canceled
 *	cancels a scheduled message (30409 for any other)
 *   DELETE .../Messages/{Sid}.json	delete: 204
 *	all with HTTP basic auth (account sid and auth token), errors in
 *	Twilio's envelope {code, message, more_info, status}.
 *   POST /sandbox/sms/inbound (control)
 *	a simulated customer's SMS: Twilio's inbound form, signed over
 *	sandbox_sms_inbound_url, posted to smsd; STOP/START keywords update
 *	the opt-out set first, as Twilio's default opt-out handling does, and
 *	later sends to an opted-out pair fail with 21610.
 *
 * Messages created and received are kept, in memory and bounded (the
 * oldest go first), so that they can be fetched and listed: parley asks
 * the list, after a crash, whether a send whose answer it lost was made.
 * A message's status follows its callbacks (or, without a callback URL,
 * the same steps at the same pace).  Every request on the API is recorded
 * in the received log whatever its outcome, with the auth result and the
 * answer given.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sodium.h>

#include "conf.h"
#include "form.h"
#include "htab.h"
#include "log.h"
#include "proto.h"
#include "sandboxd.h"
#include "sig.h"
#include "sms.h"
#include "valid.h"

#define TW_API_PREFIX	"/2010-04-01/"
#define TW_ACCOUNTS	"/2010-04-01/Accounts/"
#define TW_API_VERSION	"2010-04-01"
#define TW_MAX_MEDIA	10
#define TW_MAX_REPEAT	1000
#define TW_MAX_MSGS	100000		/* messages kept; the oldest go first */
#define TW_PAGE_SIZE	50		/* Twilio's default PageSize */
#define TW_PAGE_MAX	1000		/* and its largest */
#define TW_SCHED_MIN_S	300		/* SendAt: more than 5 minutes ahead */
#define TW_SCHED_MAX_S	(35 * 86400)	/* and at most 35 days */
#define TW_SID_MAX	64

enum tw_auth { AUTH_MISSING, AUTH_BAD, AUTH_OK };
static const char *const auth_names[] = { "missing", "bad", "ok" };

/* One (customer, our number) pair that sent STOP. */
struct optout {
	struct htab_node hn;
	char		 key[];		/* "customer\nour number" */
};

/*
 * A message as the API shows it.  Deleted ones stay as tombstones until
 * they are evicted, so that a PageToken naming one still finds its place.
 */
struct tw_rec {
	struct sbx_twilio *tw;
	unsigned long long serial;	/* creation order */
	char		 sid[TW_SID_MAX + 1];
	char		*to, *from, *mss, *body, *callback;
	const char	*direction;	/* "outbound-api" or "inbound" */
	char		 status[16];
	int		 segments, media;
	long		 error_code;	/* 0: null */
	time_t		 created, sent, updated;	/* sent 0: null */
	struct event	*sched;		/* SendAt timer of a scheduled one */
	int		 deleted;
	struct htab_node hn;		/* by sid */
};

/* A created message whose status steps (and callbacks) are still to come. */
struct tw_msg {
	struct sbx_chain c;		/* first: the callbacks */
	struct sbx_twilio *tw;
	char		 sid[35];
	char		*to, *from, *mss, *callback;	/* callback NULL: none */
	long		 error_code;
};

struct sbx_twilio {
	struct sbx	*sb;
	char		*sid;
	char		*token;
	char		*inbound_url;
	long long	 status_delay_ms;
	struct htab	 opt;		/* struct optout by key */
	/* the messages: a ring oldest to newest, and a table by sid */
	struct tw_rec	**ring;
	size_t		 rhead, rlen, rcap;
	struct htab	 bysid;
	unsigned long long next_serial;
};

/* --- settings --- */

struct tw_conf {
	char		*sid, *token, *inbound_url;
	long long	 status_delay_ms;
};

static void
tw_conf_free(struct tw_conf *c)
{
	free(c->sid);
	if (c->token != NULL) {
		sodium_memzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->inbound_url);
}

static int
tw_conf_read(struct sbx *sb, struct tw_conf *c, char *why, size_t whysz)
{
	const char *sid, *url;
	char err[256];

	memset(c, 0, sizeof(*c));
	sid = conf_get(sb->d.conf, "twilio_account_sid");
	if (sid == NULL || *sid == '\0') {
		snprintf(why, whysz, "twilio_account_sid is not set (the sandbox "
		    "answers as this account)");
		goto fail;
	}
	if (strlen(sid) > 64) {
		snprintf(why, whysz, "twilio_account_sid is too long");
		goto fail;
	}
	url = conf_get(sb->d.conf, "sandbox_sms_inbound_url");
	if (!sbx_valid_url(url)) {
		snprintf(why, whysz, "sandbox_sms_inbound_url: \"%s\" is not an "
		    "http(s) URL", url ? url : "");
		goto fail;
	}
	if (conf_int(sb->d.conf, "sandbox_status_delay_ms", 0, 3600000,
	    &c->status_delay_ms, err, sizeof(err)) == -1) {
		snprintf(why, whysz, "%s", err);
		goto fail;
	}
	if ((c->token = conf_secret(sb->d.conf, "twilio_auth_token_file", err,
	    sizeof(err))) == NULL) {
		snprintf(why, whysz, "%s", err);
		goto fail;
	}
	if (*c->token == '\0') {
		snprintf(why, whysz, "twilio_auth_token_file: the token is empty");
		goto fail;
	}
	if ((c->sid = strdup(sid)) == NULL ||
	    (c->inbound_url = strdup(url)) == NULL) {
		snprintf(why, whysz, "out of memory");
		goto fail;
	}
	return 0;
fail:
	tw_conf_free(c);
	return -1;
}

static void
tw_conf_take(struct sbx_twilio *tw, struct tw_conf *c)
{
	struct tw_conf old = { tw->sid, tw->token, tw->inbound_url, 0 };

	tw_conf_free(&old);
	tw->sid = c->sid;
	tw->token = c->token;
	tw->inbound_url = c->inbound_url;
	tw->status_delay_ms = c->status_delay_ms;
}

struct sbx_twilio *
sbx_twilio_new(struct sbx *sb, char *why, size_t whysz)
{
	struct sbx_twilio *tw;
	struct tw_conf c;

	if (tw_conf_read(sb, &c, why, whysz) == -1)
		return NULL;
	if ((tw = calloc(1, sizeof(*tw))) == NULL ||
	    (tw->ring = calloc(1024, sizeof(*tw->ring))) == NULL) {
		free(tw);
		tw_conf_free(&c);
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	htab_init(&tw->opt);
	htab_init(&tw->bysid);
	tw->rcap = 1024;
	tw->next_serial = 1;
	tw->sb = sb;
	tw_conf_take(tw, &c);
	return tw;
}

int
sbx_twilio_reload(struct sbx_twilio *tw, char *why, size_t whysz)
{
	struct tw_conf c;

	if (tw_conf_read(tw->sb, &c, why, whysz) == -1)
		return -1;
	tw_conf_take(tw, &c);
	return 0;
}

void
sbx_twilio_free(struct sbx_twilio *tw)
{
	struct tw_conf c;

	if (tw == NULL)
		return;
	sbx_twilio_reset(tw);
	htab_free(&tw->opt);
	htab_free(&tw->bysid);
	free(tw->ring);
	c.sid = tw->sid;
	c.token = tw->token;
	c.inbound_url = tw->inbound_url;
	tw_conf_free(&c);
	free(tw);
}

/* --- opt-outs: a set of "customer\nour number" --- */

static void
opt_key(char *buf, size_t sz, const char *customer, const char *ours)
{
	snprintf(buf, sz, "%s\n%s", customer, ours);
}

static int
opt_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct optout *o = HTAB_ENTRY(n, struct optout, hn);

	return strlen(o->key) == l && memcmp(o->key, k, l) == 0;
}

static struct optout *
opt_find(struct sbx_twilio *tw, const char *key)
{
	struct htab_node *n = htab_find(&tw->opt, key, strlen(key), opt_eq);

	return n ? HTAB_ENTRY(n, struct optout, hn) : NULL;
}

static int
opt_has(struct sbx_twilio *tw, const char *customer, const char *ours)
{
	char key[256];

	opt_key(key, sizeof(key), customer, ours);
	return opt_find(tw, key) != NULL;
}

static void
opt_set(struct sbx_twilio *tw, const char *customer, const char *ours, int out)
{
	struct optout *o;
	char key[256];
	size_t len;

	opt_key(key, sizeof(key), customer, ours);
	o = opt_find(tw, key);
	if (out && o == NULL) {
		len = strlen(key) + 1;
		if ((o = malloc(sizeof(*o) + len)) == NULL) {
			log_warnx("opt-out of %s: out of memory", customer);
			return;
		}
		memcpy(o->key, key, len);
		if (htab_insert(&tw->opt, &o->hn, o->key, len - 1) == -1) {
			log_warnx("opt-out of %s: out of memory", customer);
			free(o);
			return;
		}
		log_info("opt-out: %s stopped messages from %s", customer, ours);
	} else if (!out && o != NULL) {
		htab_remove(&tw->opt, &o->hn);
		free(o);
		log_info("opt-in: %s restarted messages from %s", customer, ours);
	}
}

/* 1 opt-out keyword, -1 opt-in keyword, 0 neither (exact single word). */
static int
opt_keyword(const char *body)
{
	static const char *const out[] = { "STOP", "STOPALL", "UNSUBSCRIBE",
	    "CANCEL", "END", "QUIT", NULL };
	static const char *const in[] = { "START", "YES", "UNSTOP", NULL };
	char word[16];
	size_t n;
	int i;

	while (isspace((unsigned char)*body))
		body++;
	for (n = strlen(body); n > 0 && isspace((unsigned char)body[n - 1]); n--)
		;
	if (n == 0 || n >= sizeof(word))
		return 0;
	memcpy(word, body, n);
	word[n] = '\0';
	for (i = 0; out[i] != NULL; i++)
		if (strcasecmp(word, out[i]) == 0)
			return 1;
	for (i = 0; in[i] != NULL; i++)
		if (strcasecmp(word, in[i]) == 0)
			return -1;
	return 0;
}

/* --- the messages kept --- */

static void
rec_free(struct tw_rec *r)
{
	if (r->sched != NULL)
		event_free(r->sched);
	free(r->to);
	free(r->from);
	free(r->mss);
	if (r->body != NULL) {
		sodium_memzero(r->body, strlen(r->body));
		free(r->body);
	}
	free(r->callback);
	free(r);
}

static int
rec_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct tw_rec *r = HTAB_ENTRY(n, struct tw_rec, hn);

	return strlen(r->sid) == l && memcmp(r->sid, k, l) == 0;
}

/* The message sid names (a deleted one too), or NULL. */
static struct tw_rec *
rec_find(struct sbx_twilio *tw, const char *sid)
{
	struct htab_node *n = htab_find(&tw->bysid, sid, strlen(sid), rec_eq);

	return n ? HTAB_ENTRY(n, struct tw_rec, hn) : NULL;
}

/* The i-th message kept, oldest first. */
static struct tw_rec *
rec_at(const struct sbx_twilio *tw, size_t i)
{
	return tw->ring[(tw->rhead + i) % tw->rcap];
}

/* Where r is in the ring (it is there: it is in the hash). */
static size_t
rec_index(const struct sbx_twilio *tw, const struct tw_rec *r)
{
	return (size_t)(r->serial - rec_at(tw, 0)->serial);
}

/* Where r is counted from the newest (0), as lists are. */
static size_t
pos_of(const struct sbx_twilio *tw, const struct tw_rec *r)
{
	return tw->rlen - 1 - rec_index(tw, r);
}

/* The message at position pos counted from the newest. */
static struct tw_rec *
at_pos(const struct sbx_twilio *tw, size_t pos)
{
	return rec_at(tw, tw->rlen - 1 - pos);
}

/* Forget the oldest message. */
static void
rec_evict(struct sbx_twilio *tw)
{
	struct tw_rec *r = rec_at(tw, 0);

	htab_remove(&tw->bysid, &r->hn);
	tw->rhead = (tw->rhead + 1) % tw->rcap;
	tw->rlen--;
	rec_free(r);
}

/* Room for one more in the ring: grow it, or evict the oldest. */
static void
ring_room(struct sbx_twilio *tw)
{
	struct tw_rec **nr;
	size_t i, ncap;

	if (tw->rlen < tw->rcap)
		return;
	ncap = tw->rcap * 2;
	if (tw->rlen >= TW_MAX_MSGS ||
	    (nr = calloc(ncap, sizeof(*nr))) == NULL) {
		rec_evict(tw);
		return;
	}
	for (i = 0; i < tw->rlen; i++)
		nr[i] = rec_at(tw, i);
	free(tw->ring);
	tw->ring = nr;
	tw->rcap = ncap;
	tw->rhead = 0;
}

/*
 * Keep a new message (strings copied; from, mss, callback may be NULL).
 * NULL (logged) if out of memory or the sid is taken.
 */
static struct tw_rec *
rec_add(struct sbx_twilio *tw, const char *sid, const char *direction,
    const char *to, const char *from, const char *mss, const char *body,
    const char *callback, const char *status, int media)
{
	struct tw_rec *r;

	if (strlen(sid) > TW_SID_MAX || rec_find(tw, sid) != NULL)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->to = strdup(to)) == NULL ||
	    (from != NULL && (r->from = strdup(from)) == NULL) ||
	    (mss != NULL && (r->mss = strdup(mss)) == NULL) ||
	    (r->body = strdup(body ? body : "")) == NULL ||
	    (callback != NULL && (r->callback = strdup(callback)) == NULL)) {
		if (r != NULL)
			rec_free(r);
		log_warnx("sid=%s: out of memory; not kept for the list", sid);
		return NULL;
	}
	r->tw = tw;
	snprintf(r->sid, sizeof(r->sid), "%s", sid);
	r->direction = direction;
	snprintf(r->status, sizeof(r->status), "%s", status);
	/* With a Messaging Service Twilio accepts first and counts later. */
	r->segments = strcmp(direction, "inbound") != 0 && from == NULL ? 0 :
	    sms_segments(r->body, NULL);
	r->media = media;
	r->created = r->updated = time(NULL);
	if (strcmp(direction, "inbound") == 0)
		r->sent = r->created;
	if (htab_insert(&tw->bysid, &r->hn, r->sid, strlen(r->sid)) == -1) {
		rec_free(r);
		log_warnx("sid=%s: out of memory; not kept for the list", sid);
		return NULL;
	}
	ring_room(tw);
	r->serial = tw->next_serial++;
	tw->ring[(tw->rhead + tw->rlen) % tw->rcap] = r;
	tw->rlen++;
	return r;
}

/* Statuses only move forward as steps (or reordered callbacks) come. */
static int
status_rank(const char *s)
{
	if (strcmp(s, "sending") == 0)
		return 1;
	if (strcmp(s, "sent") == 0)
		return 2;
	if (strcmp(s, "delivered") == 0 || strcmp(s, "undelivered") == 0 ||
	    strcmp(s, "failed") == 0 || strcmp(s, "canceled") == 0 ||
	    strcmp(s, "received") == 0 || strcmp(s, "read") == 0)
		return 3;
	return 0;		/* accepted, scheduled, queued */
}

/* Finished: nothing more will happen to it (it may be deleted). */
static int
rec_final(const struct tw_rec *r)
{
	return status_rank(r->status) == 3;
}

void
sbx_twilio_reset(struct sbx_twilio *tw)
{
	struct htab_iter it;
	struct htab_node *n;

	htab_iter_init(&it, &tw->opt);
	while ((n = htab_iter_next(&it)) != NULL) {
		htab_remove(&tw->opt, n);
		free(HTAB_ENTRY(n, struct optout, hn));
	}
	while (tw->rlen > 0)
		rec_evict(tw);
}

/* --- small helpers --- */

static void
make_sid(const char *prefix, char out[35])
{
	unsigned char rnd[16];

	randombytes_buf(rnd, sizeof(rnd));
	memcpy(out, prefix, 2);
	sodium_bin2hex(out + 2, 33, rnd, sizeof(rnd));
}

/* t as RFC 2822, the way Twilio writes dates. */
static void
rfc2822(time_t t, char buf[40])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 40, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		snprintf(buf, 40, "Thu, 01 Jan 1970 00:00:00 +0000");
}

/*
 * An ISO 8601 UTC date "YYYY-MM-DD", or time "YYYY-MM-DDTHH:MM:SS" with
 * optional fraction and "Z" or "+00:00", into *t (the day's start for a
 * date) and *date_only.  -1 if it is neither.
 */
static int
parse_iso(const char *s, time_t *t, int *date_only)
{
	struct tm tm;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%d", &tm)) == NULL ||
	    strspn(s, "0123456789") != 4)
		return -1;
	*date_only = *p == '\0';
	if (!*date_only) {
		if ((p = strptime(p, "T%H:%M:%S", &tm)) == NULL)
			return -1;
		if (*p == '.')
			for (p++; isdigit((unsigned char)*p); p++)
				;
		if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0 &&
		    strcmp(p, "+0000") != 0)
			return -1;
	}
	if ((*t = timegm(&tm)) == (time_t)-1)
		return -1;
	return 0;
}

/* Twilio's error body into jw. */
static void
tw_error(struct sbx_jw *jw, long code, const char *message, int status)
{
	char more[80];

	snprintf(more, sizeof(more), "https://www.twilio.com/docs/errors/%ld",
	    code);
	sbx_jw_open(jw, NULL);
	sbx_jw_int(jw, "code", code);
	sbx_jw_str(jw, "message", message);
	sbx_jw_str(jw, "more_info", more);
	sbx_jw_int(jw, "status", status);
	sbx_jw_close(jw);
}

static enum tw_auth
check_auth(struct sbx_twilio *tw, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	unsigned char dec[512];
	size_t declen, toklen;
	char *colon;

	if (h == NULL)
		return AUTH_MISSING;
	if (strncasecmp(h, "Basic ", 6) != 0)
		return AUTH_BAD;
	for (h += 6; *h == ' '; h++)
		;
	if (sodium_base642bin(dec, sizeof(dec) - 1, h, strlen(h), NULL,
	    &declen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return AUTH_BAD;
	dec[declen] = '\0';
	if (memchr(dec, '\0', declen) != NULL ||
	    (colon = strchr((char *)dec, ':')) == NULL)
		return AUTH_BAD;
	*colon++ = '\0';
	toklen = strlen(tw->token);
	if (strcmp((char *)dec, tw->sid) != 0 || strlen(colon) != toklen ||
	    sodium_memcmp(colon, tw->token, toklen) != 0)
		return AUTH_BAD;
	return AUTH_OK;
}

/* A short code (5-6 digits) or an alphanumeric sender id (1-11, a letter). */
static int
valid_sender(const char *s)
{
	size_t n = strlen(s), i;
	int digits = 1, alpha = 0;

	if (valid_e164(s))
		return 1;
	if (n == 0 || n > 11)
		return 0;
	for (i = 0; i < n; i++) {
		if (isdigit((unsigned char)s[i]))
			continue;
		digits = 0;
		if (isalpha((unsigned char)s[i]))
			alpha = 1;
		else if (s[i] != ' ' && s[i] != '-' && s[i] != '.' &&
		    s[i] != '_' && s[i] != '&' && s[i] != '+')
			return 0;
	}
	return (digits && (n == 5 || n == 6)) || alpha;
}

/* --- status callbacks --- */

/* The signed headers of form f posted to url into hdrs (sighdr holds one). */
static void
hook_headers(struct sbx_twilio *tw, const char *url, const struct form *f,
    const char *hdrs[4], char *sighdr, size_t sighdrsz)
{
	char sig[SIG_TWILIO_LEN + 1];

	sig_twilio(url, f, tw->token, sig);
	snprintf(sighdr, sighdrsz, "X-Twilio-Signature: %s", sig);
	hdrs[0] = "Content-Type: application/x-www-form-urlencoded";
	hdrs[1] = sighdr;
	hdrs[2] = "User-Agent: TwilioProxy/1.1";
	hdrs[3] = NULL;
}

static void
msg_done(struct sbx_chain *c)
{
	struct tw_msg *m = (struct tw_msg *)c;

	free(m->to);
	free(m->from);
	free(m->mss);
	free(m->callback);
	free(m);
}

/* The kept message reaches step st (unless deleted or gone meanwhile). */
static void
rec_step(struct sbx_twilio *tw, const char *sid, const char *st, long ec)
{
	struct tw_rec *r = rec_find(tw, sid);

	if (r == NULL || r->deleted)
		return;
	r->updated = time(NULL);
	if (strcmp(st, "failed") != 0 && r->sent == 0)
		r->sent = r->updated;
	if (strcmp(st, "failed") == 0 || strcmp(st, "undelivered") == 0)
		r->error_code = ec;
	if (status_rank(st) > status_rank(r->status))
		snprintf(r->status, sizeof(r->status), "%s", st);
}

/* Step st: the message's status, then its callback (repeat times). */
static void
msg_step(struct sbx_chain *c, const char *st)
{
	struct tw_msg *m = (struct tw_msg *)c;
	struct sbx_twilio *tw = m->tw;
	const char *hdrs[4];
	char sighdr[64], ec[24], *body = NULL;
	struct sbx_jw params;
	struct form f;
	size_t len;
	int final;

	final = strcmp(st, "undelivered") == 0 || strcmp(st, "failed") == 0;
	rec_step(tw, m->sid, st, m->error_code);
	if (m->callback == NULL) {
		sbx_chain_skip(c);	/* may free m */
		return;
	}
	form_init(&f);
	form_add(&f, "MessageSid", m->sid);
	form_add(&f, "SmsSid", m->sid);
	form_add(&f, "MessageStatus", st);
	form_add(&f, "SmsStatus", st);
	if (final) {
		snprintf(ec, sizeof(ec), "%ld", m->error_code);
		form_add(&f, "ErrorCode", ec);
	}
	form_add(&f, "AccountSid", tw->sid);
	if (m->mss != NULL)
		form_add(&f, "MessagingServiceSid", m->mss);
	if (m->from != NULL)
		form_add(&f, "From", m->from);
	form_add(&f, "To", m->to);
	form_add(&f, "ApiVersion", TW_API_VERSION);
	hook_headers(tw, m->callback, &f, hdrs, sighdr, sizeof(sighdr));
	if ((body = form_encode(&f, &len)) == NULL) {
		log_warnx("sid=%s: cannot encode the %s callback", m->sid, st);
		form_free(&f);
		sbx_chain_end(c);
		return;
	}
	sbx_jw_init(&params);
	sbx_jw_form(&params, NULL, &f);
	sbx_chain_post(c, "twilio", m->callback, hdrs, body, len,
	    params.oom ? NULL : params.buf);	/* may free m */
	sbx_jw_free(&params);
	free(body);
	form_free(&f);
}

/* A message whose status steps (and callbacks, when callback is not
 * NULL) will follow, or NULL (logged). */
static struct tw_msg *
msg_new(struct sbx_twilio *tw, const char *sid, const char *to,
    const char *from, const char *mss, const char *callback,
    const struct sbx_fault *fault)
{
	struct tw_msg *m;
	const char *final = "delivered", *seq[2];

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->to = strdup(to)) == NULL ||
	    (from != NULL && (m->from = strdup(from)) == NULL) ||
	    (mss != NULL && (m->mss = strdup(mss)) == NULL) ||
	    (callback != NULL && (m->callback = strdup(callback)) == NULL) ||
	    sbx_chain_init(&m->c, tw->sb, &tw->status_delay_ms, msg_step,
	    msg_done, "sid=%s", sid) == -1) {
		if (m != NULL)
			msg_done(&m->c);
		log_warnx("sid=%s: out of memory; no status callbacks", sid);
		return NULL;
	}
	m->tw = tw;
	snprintf(m->sid, sizeof(m->sid), "%s", sid);
	if (fault != NULL && fault->status[0] != '\0') {
		final = strcmp(fault->status, "failed") == 0 ?
		    "failed" : "undelivered";
		m->error_code = fault->error_code ? fault->error_code :
		    (strcmp(final, "failed") == 0 ? 30008 : 30003);
	}
	/* A failed message was never sent; the others go sent -> final. */
	seq[0] = "sent";
	seq[1] = final;
	if (strcmp(final, "failed") == 0)
		sbx_chain_plan(&m->c, &final, 1, fault);
	else
		sbx_chain_plan(&m->c, seq, 2, fault);
	return m;
}

/* A scheduled message's SendAt came: it is sent like any other. */
static void
sched_fire(evutil_socket_t fd, short what, void *arg)
{
	struct tw_rec *r = arg;
	struct tw_msg *m;

	event_free(r->sched);
	r->sched = NULL;
	snprintf(r->status, sizeof(r->status), "queued");
	r->updated = time(NULL);
	log_info("sid=%s: scheduled time reached; sending", r->sid);
	if ((m = msg_new(r->tw, r->sid, r->to, r->from, r->mss, r->callback,
	    NULL)) != NULL)
		sbx_chain_start(&m->c);
}

/* --- answers --- */

/* The message resource of r, as Twilio writes it, into jw. */
static void
resource(struct sbx_jw *jw, const char *key, const struct sbx_twilio *tw,
    const struct tw_rec *r)
{
	char created[40], sent[40], updated[40], uri[200], media[200];
	char segs[16], nmedia[16];

	rfc2822(r->created, created);
	rfc2822(r->sent, sent);
	rfc2822(r->updated, updated);
	snprintf(uri, sizeof(uri), "/2010-04-01/Accounts/%s/Messages/%s.json",
	    tw->sid, r->sid);
	snprintf(media, sizeof(media),
	    "/2010-04-01/Accounts/%s/Messages/%s/Media.json", tw->sid, r->sid);
	snprintf(segs, sizeof(segs), "%d", r->segments);
	snprintf(nmedia, sizeof(nmedia), "%d", r->media);
	sbx_jw_open(jw, key);
	sbx_jw_str(jw, "account_sid", tw->sid);
	sbx_jw_str(jw, "api_version", TW_API_VERSION);
	sbx_jw_str(jw, "body", r->body);
	sbx_jw_str(jw, "date_created", created);
	sbx_jw_str(jw, "date_sent", r->sent ? sent : NULL);
	sbx_jw_str(jw, "date_updated", updated);
	sbx_jw_str(jw, "direction", r->direction);
	if (r->error_code != 0)
		sbx_jw_int(jw, "error_code", r->error_code);
	else
		sbx_jw_null(jw, "error_code");
	sbx_jw_null(jw, "error_message");
	sbx_jw_str(jw, "from", r->from);
	sbx_jw_str(jw, "messaging_service_sid", r->mss);
	sbx_jw_str(jw, "num_media", nmedia);
	sbx_jw_str(jw, "num_segments", segs);
	sbx_jw_null(jw, "price");
	sbx_jw_str(jw, "price_unit", "USD");
	sbx_jw_str(jw, "sid", r->sid);
	sbx_jw_str(jw, "status", r->status);
	sbx_jw_open(jw, "subresource_uris");
	sbx_jw_str(jw, "media", media);
	sbx_jw_close(jw);
	sbx_jw_str(jw, "to", r->to);
	sbx_jw_str(jw, "uri", uri);
	sbx_jw_close(jw);
}

/* The error body for a fault's HTTP status into jw; its code. */
static long
fault_error(struct sbx_jw *jw, const struct sbx_fault *f)
{
	const char *msg;
	long code = f->code;

	switch (f->http) {
	case 429:
		msg = "Too Many Requests";
		break;
	case 500:
		msg = "Internal Server Error";
		break;
	case 503:
		msg = "Service Unavailable";
		break;
	case 401:
		msg = "Authentication Error - invalid username";
		break;
	case 404:
		msg = "The requested resource was not found";
		break;
	default:
		msg = f->http < 500 ? "Bad Request" : "Server Error";
		break;
	}
	if (code == 0)
		code = f->http == 401 ? 20003 : 20000 + f->http;
	tw_error(jw, code, f->message[0] != '\0' ? f->message : msg, f->http);
	return code;
}

/*
 * Validate a create call the way Twilio does, in its order.  0 when valid,
 * else the error code with its message in msg; *send_at is set (0: not
 * scheduled).
 */
static long
validate(struct sbx_twilio *tw, const struct form *f, time_t *send_at,
    char *msg, size_t msgsz)
{
	const char *to = form_get(f, "To"), *from = form_get(f, "From");
	const char *mss = form_get(f, "MessagingServiceSid");
	const char *body = form_get(f, "Body"), *cb = form_get(f, "StatusCallback");
	const char *stype = form_get(f, "ScheduleType");
	const char *at = form_get(f, "SendAt");
	time_t now = time(NULL);
	int date_only;

	*send_at = 0;
	if (to == NULL || *to == '\0') {
		snprintf(msg, msgsz, "A 'To' phone number is required.");
		return 21604;
	}
	if (!valid_e164(to)) {
		snprintf(msg, msgsz, "The 'To' number %.64s is not a valid phone "
		    "number.", to);
		return 21211;
	}
	if ((from == NULL || *from == '\0') && (mss == NULL || *mss == '\0')) {
		snprintf(msg, msgsz, "A 'From' phone number is required.");
		return 21603;
	}
	if (from != NULL && *from != '\0' && !valid_sender(from)) {
		snprintf(msg, msgsz, "The 'From' number %.64s is not a valid "
		    "phone number, shortcode, or alphanumeric sender ID.", from);
		return 21212;
	}
	if ((body == NULL || *body == '\0') && form_get(f, "MediaUrl") == NULL) {
		snprintf(msg, msgsz, "Message body is required.");
		return 21602;
	}
	if (body != NULL && sms_chars(body) > PROTO_SMS_CHARS_MAX) {
		snprintf(msg, msgsz, "The concatenated message body exceeds the "
		    "1600 character limit.");
		return 21617;
	}
	if (cb != NULL && !sbx_valid_url(cb)) {
		snprintf(msg, msgsz, "Invalid StatusCallback");
		return 21609;
	}
	if (stype != NULL) {
		if (strcmp(stype, "fixed") != 0) {
			snprintf(msg, msgsz, "The ScheduleType value provided is "
			    "not supported for this channel");
			return 35126;
		}
		if (at == NULL || *at == '\0') {
			snprintf(msg, msgsz, "SendAt timestamp is missing");
			return 35111;
		}
		if (mss == NULL || *mss == '\0') {
			snprintf(msg, msgsz, "MessagingServiceSid is required to "
			    "schedule a message");
			return 35118;
		}
		if (parse_iso(at, send_at, &date_only) == -1 || date_only ||
		    *send_at <= now + TW_SCHED_MIN_S ||
		    *send_at > now + TW_SCHED_MAX_S) {
			*send_at = 0;
			snprintf(msg, msgsz, "Scheduling does not support this "
			    "timestamp");
			return 35115;
		}
	}
	if (from != NULL && *from != '\0' && opt_has(tw, to, from)) {
		snprintf(msg, msgsz, "Attempt to send to unsubscribed recipient");
		return 21610;
	}
	return 0;
}

/* Record one request on the API in the received log. */
static void
record(struct sbx_twilio *tw, const char *method, const char *path,
    enum tw_auth auth, const struct form *f, int status, const char *sid,
    long code, int fault_id)
{
	struct sbx_jw jw;

	sbx_jw_init(&jw);
	sbx_jw_str(&jw, "method", method);
	sbx_jw_str(&jw, "path", path);
	sbx_jw_str(&jw, "auth", auth_names[auth]);
	if (f != NULL)
		sbx_jw_form(&jw, "params", f);
	else
		sbx_jw_raw(&jw, "params", "{}", 2);
	sbx_jw_int(&jw, "answer", status);
	sbx_jw_str(&jw, "sid", sid);
	if (code != 0)
		sbx_jw_int(&jw, "code", code);
	if (fault_id != 0)
		sbx_jw_int(&jw, "fault", fault_id);
	sbx_log_jw(tw->sb->log, "request", "twilio", &jw);
}

/* 401 with code 20003 and Twilio's WWW-Authenticate, into ans. */
static void
refuse_auth(struct evhttp_request *req, struct sbx_jw *ans)
{
	tw_error(ans, 20003, "Authentication Error - invalid username", 401);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "WWW-Authenticate", "Basic realm=\"Twilio API\"");
}

/* POST .../Messages.json */
static void
create(struct sbx_twilio *tw, struct evhttp_request *req, const char *path,
    const char *path_sid)
{
	struct sbx *sb = tw->sb;
	struct sbx_fault fault, *fp = NULL;
	struct tw_msg *m = NULL;
	struct tw_rec *r;
	enum tw_auth auth;
	struct sbx_jw ans;
	struct form f;
	const char *body, *why = NULL, *cb, *to, *from, *mss;
	char msg[320], sid[35] = "";
	size_t len, i;
	time_t send_at = 0;
	long code = 0;
	int status, parsed = 1, nmedia = 0;

	form_init(&f);
	sbx_jw_init(&ans);
	auth = check_auth(tw, req);
	if ((body = sbx_body(req, &len)) == NULL) {
		status = 413;
		code = 20413;
		tw_error(&ans, code, "Request Entity Too Large", status);
		goto done;
	}
	/* Parsed before the auth check only so that the log shows it. */
	if (form_parse(&f, body, len, &why) == -1) {
		form_free(&f);
		form_init(&f);
		parsed = 0;
	}
	if (auth != AUTH_OK || strcmp(path_sid, tw->sid) != 0) {
		status = 401;
		code = 20003;
		refuse_auth(req, &ans);
		goto done;
	}
	if (!parsed) {
		status = 400;
		code = 20001;
		snprintf(msg, sizeof(msg), "Invalid request body: %s",
		    why ? why : "malformed");
		tw_error(&ans, code, msg, status);
		goto done;
	}
	if ((code = validate(tw, &f, &send_at, msg, sizeof(msg))) != 0) {
		status = 400;
		tw_error(&ans, code, msg, status);
		goto done;
	}
	to = form_get(&f, "To");
	if (sbx_fault_match(sb->faults, "twilio", to, &fault))
		fp = &fault;
	if (fp != NULL && fp->http != 0) {
		status = fp->http;
		code = fault_error(&ans, fp);
		goto done;
	}
	status = 201;
	make_sid(form_get(&f, "MediaUrl") ? "MM" : "SM", sid);
	if ((from = form_get(&f, "From")) != NULL && *from == '\0')
		from = NULL;
	if ((mss = form_get(&f, "MessagingServiceSid")) != NULL && *mss == '\0')
		mss = NULL;
	for (i = 0; i < f.n; i++)
		if (strcmp(f.p[i].name, "MediaUrl") == 0)
			nmedia++;
	cb = form_get(&f, "StatusCallback");
	r = rec_add(tw, sid, "outbound-api", to, from, mss,
	    form_get(&f, "Body"), cb, send_at ? "scheduled" :
	    from == NULL ? "accepted" : "queued", nmedia);
	if (r != NULL) {
		resource(&ans, NULL, tw, r);
	} else {
		/* not kept (out of memory): still answered as created */
		struct tw_rec tmp;

		memset(&tmp, 0, sizeof(tmp));
		snprintf(tmp.sid, sizeof(tmp.sid), "%s", sid);
		tmp.to = (char *)to;
		tmp.from = (char *)from;
		tmp.mss = (char *)mss;
		tmp.body = (char *)(form_get(&f, "Body") ? form_get(&f, "Body") :
		    "");
		tmp.direction = "outbound-api";
		snprintf(tmp.status, sizeof(tmp.status), "%s", from == NULL ?
		    "accepted" : "queued");
		tmp.created = tmp.updated = time(NULL);
		resource(&ans, NULL, tw, &tmp);
	}
	if (send_at != 0 && r != NULL) {
		struct timeval tv = { send_at - time(NULL), 0 };

		/* not held: sandboxd need not wait days to exit */
		if ((r->sched = evtimer_new(sb->d.base, sched_fire, r)) == NULL ||
		    evtimer_add(r->sched, &tv) == -1)
			log_warnx("sid=%s: cannot arm the SendAt timer; it "
			    "stays scheduled", sid);
	} else if (send_at == 0)
		m = msg_new(tw, sid, to, from, mss, cb, fp);
done:
	record(tw, "POST", path, auth, &f, status, sid[0] ? sid : NULL, code,
	    fp ? fp->id : 0);
	if (status != 201)
		log_debug("create refused: %d code=%ld", status, code);
	if (sbx_answer(sb, req, status, &ans, fp ? fp->delay_ms : 0,
	    m ? &m->c : NULL) == -1)
		log_warnx("cannot delay an answer; answering now");
	form_free(&f);
}

/* 404 for a path (or message) that is not there, as Twilio words it. */
static void
not_found(struct sbx_jw *ans, const char *path)
{
	char msg[300];

	snprintf(msg, sizeof(msg), "The requested resource %.200s was not "
	    "found", path);
	tw_error(ans, 20404, msg, 404);
}

/* GET, POST (update) and DELETE .../Messages/{Sid}.json */
static void
instance(struct sbx_twilio *tw, struct evhttp_request *req, const char *path,
    const char *path_sid, const char *msid)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	enum tw_auth auth;
	struct tw_rec *r;
	struct sbx_jw ans;
	struct form f;
	const char *body, *why = NULL, *nb, *ns;
	char msg[320];
	size_t len;
	long code = 0;
	int status = 200;

	form_init(&f);
	sbx_jw_init(&ans);
	auth = check_auth(tw, req);
	if (cmd == EVHTTP_REQ_POST) {
		if ((body = sbx_body(req, &len)) == NULL) {
			status = 413;
			code = 20413;
			tw_error(&ans, code, "Request Entity Too Large", status);
			goto done;
		}
		if (form_parse(&f, body, len, &why) == -1) {
			form_free(&f);
			form_init(&f);
			if (auth == AUTH_OK && strcmp(path_sid, tw->sid) == 0) {
				status = 400;
				code = 20001;
				snprintf(msg, sizeof(msg), "Invalid request body: "
				    "%s", why ? why : "malformed");
				tw_error(&ans, code, msg, status);
				goto done;
			}
		}
	}
	if (auth != AUTH_OK || strcmp(path_sid, tw->sid) != 0) {
		status = 401;
		code = 20003;
		refuse_auth(req, &ans);
		goto done;
	}
	if ((r = rec_find(tw, msid)) == NULL || r->deleted) {
		status = 404;
		code = 20404;
		not_found(&ans, path);
		goto done;
	}
	if (cmd == EVHTTP_REQ_GET) {
		resource(&ans, NULL, tw, r);
		goto done;
	}
	if (cmd == EVHTTP_REQ_DELETE) {
		if (!rec_final(r)) {
			status = 409;
			code = 20009;
			tw_error(&ans, code, "Cannot delete this resource before "
			    "it is complete", status);
			goto done;
		}
		status = 204;
		r->deleted = 1;
		free(r->body);
		r->body = NULL;
		log_info("sid=%s: deleted", r->sid);
		goto done;
	}
	/* update: redact the body, or cancel a scheduled message */
	nb = form_get(&f, "Body");
	ns = form_get(&f, "Status");
	status = 400;
	code = 30400;
	if (nb == NULL && ns == NULL) {
		tw_error(&ans, code, "Parameters are not valid: Body or Status "
		    "is required", status);
		goto done;
	}
	if (nb != NULL && ns != NULL) {
		tw_error(&ans, code, "Parameters are not valid: a message cannot "
		    "be canceled and redacted at once", status);
		goto done;
	}
	if (nb != NULL && *nb != '\0') {
		tw_error(&ans, code, "Parameters are not valid: Body must be "
		    "empty to redact a message", status);
		goto done;
	}
	if (ns != NULL && strcmp(ns, "canceled") != 0) {
		tw_error(&ans, code, "Parameters are not valid: Status can only "
		    "be canceled", status);
		goto done;
	}
	if (ns != NULL && strcmp(r->status, "scheduled") != 0) {
		code = 30409;
		tw_error(&ans, code, "This message cannot be canceled", status);
		goto done;
	}
	if (nb != NULL && !rec_final(r)) {
		status = 409;
		code = 20009;
		tw_error(&ans, code, "Cannot redact this resource before it is "
		    "complete", status);
		goto done;
	}
	status = 200;
	code = 0;
	r->updated = time(NULL);
	if (ns != NULL) {
		if (r->sched != NULL) {
			event_free(r->sched);
			r->sched = NULL;
		}
		snprintf(r->status, sizeof(r->status), "canceled");
		log_info("sid=%s: canceled", r->sid);
	} else {
		sodium_memzero(r->body, strlen(r->body));
		r->body[0] = '\0';
		log_info("sid=%s: body redacted", r->sid);
	}
	resource(&ans, NULL, tw, r);
done:
	record(tw, sbx_method(req), path, auth, cmd == EVHTTP_REQ_POST ? &f :
	    NULL, status, msid, code, 0);
	if (status == 204) {
		sbx_jw_free(&ans);
		evhttp_send_reply(req, 204, "No Content", NULL);
	} else
		sbx_reply_jw(req, status, &ans);
	form_free(&f);
}

/* The DateSent filters of a list call. */
struct date_filter {
	int	 on;
	time_t	 lo, hi;	/* date_sent in [lo, hi] */
};

/*
 * Add one DateSent filter (op '=', '<' or '>') with value v; -1 if v is
 * not a date or time.  A date means its whole day (UTC): on, on or
 * before, on or after it; with '<' and '>' a time is compared to the
 * second, and DateSent= a time means its day (Twilio's helper libraries
 * send a date as midnight of it).
 */
static int
date_filter_add(struct date_filter *df, char op, const char *v)
{
	time_t t, lo, hi;
	int date_only;

	if (parse_iso(v, &t, &date_only) == -1)
		return -1;
	if (op == '=')
		t -= t % 86400, date_only = 1;
	lo = t;
	hi = date_only ? t + 86399 : t;
	if (!df->on) {
		df->on = 1;
		df->lo = (time_t)0;
		df->hi = (time_t)0x7fffffffffffffffLL;
	}
	if ((op == '=' || op == '>') && lo > df->lo)
		df->lo = lo;
	if ((op == '=' || op == '<') && hi < df->hi)
		df->hi = hi;
	return 0;
}

/* Does r pass the list's filters? */
static int
list_match(const struct tw_rec *r, const char *to, const char *from,
    const struct date_filter *df)
{
	if (r->deleted)
		return 0;
	if (to != NULL && strcmp(r->to, to) != 0)
		return 0;
	if (from != NULL && (r->from == NULL || strcmp(r->from, from) != 0))
		return 0;
	if (df->on && (r->sent == 0 || r->sent < df->lo || r->sent > df->hi))
		return 0;
	return 1;
}

/* A page URI: path, the filters (encoded), PageSize, Page, PageToken. */
static void
page_uri(char *buf, size_t sz, const char *path, const char *filters,
    long size, long page, const char *token_pfx, const char *token_sid)
{
	snprintf(buf, sz, "%s?%s%sPageSize=%ld&Page=%ld%s%s%s", path, filters,
	    *filters ? "&" : "", size, page, token_pfx ? "&PageToken=" : "",
	    token_pfx ? token_pfx : "", token_pfx ? token_sid : "");
}

/* An integer query parameter in [min, max] into *v (absent: def). */
static int
query_long(const struct form *q, const char *name, long min, long max,
    long def, long *v)
{
	const char *s = form_get(q, name);
	char *end;
	long n;

	*v = def;
	if (s == NULL)
		return 0;
	errno = 0;
	n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || n < min || n > max)
		return -1;
	*v = n;
	return 0;
}

/* GET .../Messages.json: the list, newest first, one page. */
static void
list(struct sbx_twilio *tw, struct evhttp_request *req, const char *path,
    const char *path_sid)
{
	static const char *const fnames[] = { "To", "From", "DateSent",
	    "DateSent<", "DateSent>", NULL };
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *query = u ? evhttp_uri_get_query(u) : NULL;
	const char *why = NULL, *to, *from, *tok, *v;
	struct date_filter df = { 0, 0, 0 };
	struct tw_rec **page = NULL, *r, *anchor = NULL;
	struct form q, flt;
	struct sbx_jw ans;
	enum tw_auth auth;
	char msg[320], *filters = NULL, uri[1200];
	size_t flen, i, n = 0, skip, pos;
	long size, pageno, code = 0;
	int status = 200, back = 0, more = 0;

	form_init(&q);
	form_init(&flt);
	sbx_jw_init(&ans);
	auth = check_auth(tw, req);
	if (query != NULL && form_parse(&q, query, strlen(query), &why) == -1) {
		form_free(&q);
		form_init(&q);
		if (auth == AUTH_OK && strcmp(path_sid, tw->sid) == 0) {
			status = 400;
			code = 20001;
			snprintf(msg, sizeof(msg), "Invalid query string: %s",
			    why ? why : "malformed");
			tw_error(&ans, code, msg, status);
			goto done;
		}
	}
	if (auth != AUTH_OK || strcmp(path_sid, tw->sid) != 0) {
		status = 401;
		code = 20003;
		refuse_auth(req, &ans);
		goto done;
	}
	status = 400;
	code = 20001;
	if (query_long(&q, "PageSize", 1, TW_PAGE_MAX, TW_PAGE_SIZE,
	    &size) == -1) {
		tw_error(&ans, code, "Invalid PageSize: must be 1 to 1000",
		    status);
		goto done;
	}
	if (query_long(&q, "Page", 0, 1000000, 0, &pageno) == -1) {
		tw_error(&ans, code, "Invalid Page", status);
		goto done;
	}
	to = form_get(&q, "To");
	from = form_get(&q, "From");
	for (i = 0; fnames[i] != NULL; i++) {
		if ((v = form_get(&q, fnames[i])) == NULL)
			continue;
		form_add(&flt, fnames[i], v);
		if (i >= 2 && date_filter_add(&df, i == 2 ? '=' :
		    fnames[i][8], v) == -1) {
			snprintf(msg, sizeof(msg), "Invalid %s: expected "
			    "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", fnames[i]);
			tw_error(&ans, code, msg, status);
			goto done;
		}
	}
	if ((tok = form_get(&q, "PageToken")) != NULL) {
		if (strlen(tok) < 4 || tok[0] != 'P' ||
		    (tok[1] != 'A' && tok[1] != 'B') ||
		    (anchor = rec_find(tw, tok + 2)) == NULL) {
			tw_error(&ans, code, "Invalid PageToken", status);
			goto done;
		}
		back = tok[1] == 'B';
	}
	if ((filters = form_encode(&flt, &flen)) == NULL ||
	    (page = calloc((size_t)size, sizeof(*page))) == NULL) {
		status = 500;
		code = 20500;
		tw_error(&ans, code, "Internal Server Error", status);
		goto done;
	}
	status = 200;
	code = 0;
	/* positions count from the newest (0) to the oldest (rlen - 1) */
	if (back) {
		/* the page that ends just before the anchor, newest first */
		for (pos = pos_of(tw, anchor); pos > 0 && n < (size_t)size;
		    pos--)
			if (list_match((r = at_pos(tw, pos - 1)), to, from, &df))
				page[n++] = r;
		for (i = 0; i < n / 2; i++) {
			r = page[i];
			page[i] = page[n - 1 - i];
			page[n - 1 - i] = r;
		}
	} else {
		pos = anchor ? pos_of(tw, anchor) + 1 : 0;
		skip = anchor ? 0 : (size_t)pageno * (size_t)size;
		for (; pos < tw->rlen && n < (size_t)size; pos++) {
			if (!list_match((r = at_pos(tw, pos)), to, from, &df))
				continue;
			if (skip > 0)
				skip--;
			else
				page[n++] = r;
		}
	}
	/* a next page only when a match follows this page's last one */
	for (pos = n > 0 ? pos_of(tw, page[n - 1]) + 1 : tw->rlen;
	    pos < tw->rlen && !more; pos++)
		more = list_match(at_pos(tw, pos), to, from, &df);
	sbx_jw_open(&ans, NULL);
	sbx_jw_int(&ans, "end", n > 0 ? (long long)pageno * size +
	    (long long)n - 1 : (long long)pageno * size);
	page_uri(uri, sizeof(uri), path, filters, size, 0, NULL, NULL);
	sbx_jw_str(&ans, "first_page_uri", uri);
	sbx_jw_array(&ans, "messages");
	for (i = 0; i < n; i++)
		resource(&ans, NULL, tw, page[i]);
	sbx_jw_array_end(&ans);
	if (more) {
		page_uri(uri, sizeof(uri), path, filters, size, pageno + 1,
		    "PA", page[n - 1]->sid);
		sbx_jw_str(&ans, "next_page_uri", uri);
	} else
		sbx_jw_null(&ans, "next_page_uri");
	sbx_jw_int(&ans, "page", pageno);
	sbx_jw_int(&ans, "page_size", size);
	if (pageno > 0 && n > 0) {
		page_uri(uri, sizeof(uri), path, filters, size, pageno - 1,
		    "PB", page[0]->sid);
		sbx_jw_str(&ans, "previous_page_uri", uri);
	} else
		sbx_jw_null(&ans, "previous_page_uri");
	sbx_jw_int(&ans, "start", (long long)pageno * size);
	page_uri(uri, sizeof(uri), path, filters, size, pageno,
	    tok ? "" : NULL, tok ? tok : "");
	sbx_jw_str(&ans, "uri", uri);
	sbx_jw_close(&ans);
done:
	record(tw, "GET", path, auth, &q, status, NULL, code, 0);
	sbx_reply_jw(req, status, &ans);
	free(page);
	free(filters);
	form_free(&flt);
	form_free(&q);
}

/* A request on Twilio's API that is not served: record and refuse. */
static void
other(struct sbx_twilio *tw, struct evhttp_request *req, const char *path,
    int status, long code, const char *message)
{
	enum tw_auth auth = check_auth(tw, req);
	struct sbx_jw ans;

	record(tw, sbx_method(req), path, auth, NULL, status, NULL, code, 0);
	sbx_jw_init(&ans);
	tw_error(&ans, code, message, status);
	sbx_reply_jw(req, status, &ans);
}

/* A message sid in a path: letters and digits, 2 to TW_SID_MAX. */
static int
path_sid_ok(const char *s, size_t n)
{
	size_t i;

	if (n < 2 || n > TW_SID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

int
sbx_twilio_route(struct sbx *sb, struct evhttp_request *req, const char *path)
{
	struct sbx_twilio *tw = sb->twilio;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *sid, *slash, *rest;
	char psid[72], msid[TW_SID_MAX + 1];
	struct sbx_jw ans;
	size_t n, ml;

	if (strncmp(path, TW_API_PREFIX, strlen(TW_API_PREFIX)) != 0)
		return 0;
	if (strncmp(path, TW_ACCOUNTS, strlen(TW_ACCOUNTS)) != 0)
		goto unknown;
	sid = path + strlen(TW_ACCOUNTS);
	slash = strchr(sid, '/');
	n = slash ? (size_t)(slash - sid) : 0;
	if (slash == NULL || n == 0 || n >= sizeof(psid))
		goto unknown;
	memcpy(psid, sid, n);
	psid[n] = '\0';
	rest = slash;
	if (strcmp(rest, "/Messages.json") == 0) {
		if (cmd == EVHTTP_REQ_POST)
			create(tw, req, path, psid);
		else if (cmd == EVHTTP_REQ_GET)
			list(tw, req, path, psid);
		else
			other(tw, req, path, 405, 20004, "Method not allowed");
		return 1;
	}
	if (strncmp(rest, "/Messages/", 10) == 0 &&
	    (ml = strlen(rest + 10)) > 5 &&
	    strcmp(rest + 10 + ml - 5, ".json") == 0 &&
	    path_sid_ok(rest + 10, ml - 5)) {
		memcpy(msid, rest + 10, ml - 5);
		msid[ml - 5] = '\0';
		if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_POST ||
		    cmd == EVHTTP_REQ_DELETE)
			instance(tw, req, path, psid, msid);
		else
			other(tw, req, path, 405, 20004, "Method not allowed");
		return 1;
	}
unknown:
	record(tw, sbx_method(req), path, check_auth(tw, req), NULL, 404, NULL,
	    20404, 0);
	sbx_jw_init(&ans);
	not_found(&ans, path);
	sbx_reply_jw(req, 404, &ans);
	return 1;
}

/* --- simulated inbound SMS --- */

/* The JSON control request's string member, NULL if absent; -1 if not a string. */
static int
jstr(json_t *o, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

static int
valid_sid_text(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 2 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

void
sbx_twilio_inbound(struct sbx *sb, struct evhttp_request *req,
    const char *body, size_t len)
{
	static const char *const known[] = { "from", "to", "body", "sid",
	    "media", "repeat", "concurrent", NULL };
	struct sbx_twilio *tw = sb->twilio;
	const char *from, *to, *text, *sid, *key, *url, *type, *hdrs[4];
	char why[300], name[48], num[24], msid[65], sighdr[64], *fbody;
	json_t *j, *v, *media, *it;
	struct sbx_jw pj;
	struct form f;
	json_error_t jerr;
	long repeat = 1;
	size_t i, flen;
	int kw, concurrent;

	if ((j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		snprintf(why, sizeof(why), "bad JSON: %s", jerr.text);
		goto refuse;
	}
	if (!json_is_object(j)) {
		snprintf(why, sizeof(why), "expected a JSON object");
		goto refuse;
	}
	json_object_foreach(j, key, v) {
		for (i = 0; known[i] != NULL && strcmp(known[i], key) != 0; i++)
			;
		if (known[i] == NULL) {
			snprintf(why, sizeof(why), "unknown field \"%.40s\"", key);
			goto refuse;
		}
	}
	if (jstr(j, "from", &from) == -1 || jstr(j, "to", &to) == -1 ||
	    jstr(j, "body", &text) == -1 || jstr(j, "sid", &sid) == -1) {
		snprintf(why, sizeof(why), "from, to, body and sid must be strings");
		goto refuse;
	}
	if (from == NULL || to == NULL) {
		snprintf(why, sizeof(why), "\"from\" and \"to\" are required");
		goto refuse;
	}
	if (!valid_e164(from)) {
		snprintf(why, sizeof(why), "\"from\" is not an E.164 number");
		goto refuse;
	}
	if (!valid_e164(to) && !(valid_sender(to) &&
	    strspn(to, "0123456789") == strlen(to))) {
		snprintf(why, sizeof(why), "\"to\" is not an E.164 number or "
		    "short code");
		goto refuse;
	}
	if (text == NULL)
		text = "";
	if (sms_chars(text) > PROTO_SMS_CHARS_MAX) {
		snprintf(why, sizeof(why), "\"body\" is over 1600 characters");
		goto refuse;
	}
	if (sid != NULL && !valid_sid_text(sid)) {
		snprintf(why, sizeof(why), "\"sid\" must be 2-64 letters, digits, "
		    "'_' or '-'");
		goto refuse;
	}
	if ((v = json_object_get(j, "repeat")) != NULL &&
	    (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > TW_MAX_REPEAT)) {
		snprintf(why, sizeof(why), "\"repeat\" must be 1 to %d",
		    TW_MAX_REPEAT);
		goto refuse;
	}
	if (v != NULL)
		repeat = (long)json_integer_value(v);
	media = json_object_get(j, "media");
	if (media != NULL && (!json_is_array(media) ||
	    json_array_size(media) > TW_MAX_MEDIA)) {
		snprintf(why, sizeof(why), "\"media\" must be an array of at most "
		    "%d {\"url\",\"type\"}", TW_MAX_MEDIA);
		goto refuse;
	}
	json_array_foreach(media, i, it) {
		if (!json_is_object(it) || jstr(it, "url", &url) == -1 ||
		    jstr(it, "type", &type) == -1 || !sbx_valid_url(url)) {
			snprintf(why, sizeof(why), "media[%zu] needs an http(s) "
			    "\"url\" and a string \"type\"", i);
			goto refuse;
		}
	}
	if ((v = json_object_get(j, "concurrent")) != NULL && !json_is_boolean(v)) {
		snprintf(why, sizeof(why), "\"concurrent\" must be true or false");
		goto refuse;
	}

	concurrent = v != NULL && json_is_true(v);
	if (sid != NULL)
		snprintf(msid, sizeof(msid), "%s", sid);
	else
		make_sid(json_array_size(media) > 0 ? "MM" : "SM", msid);

	/* Twilio acts on the keyword itself, then forwards the message. */
	if ((kw = opt_keyword(text)) != 0)
		opt_set(tw, from, to, kw > 0);
	/* kept for fetch and list (once: a repeated sid is the same message) */
	if (rec_find(tw, msid) == NULL)
		rec_add(tw, msid, "inbound", to, from, NULL, text, NULL,
		    "received", (int)json_array_size(media));

	form_init(&f);
	/* Twilio sends geography too; receivers must sign over every param. */
	if (strncmp(to, "+1", 2) == 0)
		form_add(&f, "ToCountry", "US");
	if (strncmp(from, "+1", 2) == 0)
		form_add(&f, "FromCountry", "US");
	form_add(&f, "SmsMessageSid", msid);
	snprintf(num, sizeof(num), "%zu", json_array_size(media));
	form_add(&f, "NumMedia", num);
	form_add(&f, "SmsSid", msid);
	form_add(&f, "SmsStatus", "received");
	form_add(&f, "Body", text);
	form_add(&f, "To", to);
	snprintf(num, sizeof(num), "%d", sms_segments(text, NULL));
	form_add(&f, "NumSegments", num);
	form_add(&f, "MessageSid", msid);
	form_add(&f, "AccountSid", tw->sid);
	form_add(&f, "From", from);
	form_add(&f, "ApiVersion", TW_API_VERSION);
	json_array_foreach(media, i, it) {
		jstr(it, "url", &url);
		jstr(it, "type", &type);
		snprintf(name, sizeof(name), "MediaContentType%zu", i);
		form_add(&f, name, type ? type : "application/octet-stream");
		snprintf(name, sizeof(name), "MediaUrl%zu", i);
		form_add(&f, name, url);
	}
	json_decref(j);
	if ((fbody = form_encode(&f, &flen)) == NULL) {
		form_free(&f);
		sbx_reply_error(req, 500, "out of memory");
		return;
	}
	sbx_jw_init(&pj);
	sbx_jw_form(&pj, NULL, &f);
	hook_headers(tw, tw->inbound_url, &f, hdrs, sighdr, sizeof(sighdr));
	log_debug("inbound sid=%s repeat=%ld", msid, repeat);
	if (sbx_inbound_post(sb, req, "twilio", tw->inbound_url, hdrs, fbody,
	    flen, pj.oom ? NULL : pj.buf, (int)repeat, concurrent, "sid",
	    json_string(msid)) == -1)
		sbx_reply_error(req, 500, "out of memory");
	sbx_jw_free(&pj);
	free(fbody);
	form_free(&f);
	return;
refuse:
	json_decref(j);
	sbx_reply_error(req, 400, why);
}
