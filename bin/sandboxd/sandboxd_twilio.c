/*
 * sandboxd_twilio — Twilio's Programmable Messaging API as parley sees it
 * (providers.md §3), faithful enough that smsd cannot tell it from Twilio:
 *
 *   POST /2010-04-01/Accounts/{AccountSid}/Messages.json
 *	HTTP basic auth with the account sid and auth token; form parameters
 *	validated in Twilio's order with Twilio's error codes and texts;
 *	201 with the message resource; then, when StatusCallback was given,
 *	signed form callbacks "sent" and "delivered" (or the final status a
 *	fault rule asks for), not retried, as Twilio does by default.
 *   POST /sandbox/sms/inbound (control)
 *	a simulated customer's SMS: Twilio's inbound form, signed over
 *	sandbox_sms_inbound_url, posted to smsd; STOP/START keywords update
 *	the opt-out set first, as Twilio's default opt-out handling does, and
 *	later sends to an opted-out pair fail with 21610.
 *
 * Every request on the API is recorded in the received log whatever its
 * outcome, with the auth result and the answer given.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sodium.h>

#include "conf.h"
#include "form.h"
#include "log.h"
#include "sandboxd.h"
#include "sig.h"
#include "sms.h"

#define TW_API_PREFIX	"/2010-04-01/"
#define TW_ACCOUNTS	"/2010-04-01/Accounts/"
#define TW_API_VERSION	"2010-04-01"
#define TW_MAX_MEDIA	10
#define TW_MAX_REPEAT	1000

enum tw_auth { AUTH_MISSING, AUTH_BAD, AUTH_OK };
static const char *const auth_names[] = { "missing", "bad", "ok" };

/* One (customer, our number) pair that sent STOP. */
struct optout {
	struct optout	*next;
	char		 key[];		/* "customer\nour number" */
};

/* A created message whose status callbacks are still to come. */
struct tw_msg {
	struct sbx_chain c;		/* first: the callbacks */
	struct sbx_twilio *tw;
	char		 sid[35];
	char		*to, *from, *mss, *callback;
	long		 error_code;
};

struct sbx_twilio {
	struct sbx	*sb;
	char		*sid;
	char		*token;
	char		*inbound_url;
	long long	 status_delay_ms;
	struct optout	**opt;
	size_t		 nopt, optcap;	/* entries, buckets (power of 2) */
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
	    (tw->opt = calloc(64, sizeof(*tw->opt))) == NULL) {
		free(tw);
		tw_conf_free(&c);
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	tw->optcap = 64;
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
	free(tw->opt);
	c.sid = tw->sid;
	c.token = tw->token;
	c.inbound_url = tw->inbound_url;
	tw_conf_free(&c);
	free(tw);
}

/* --- opt-outs: a chained hash set of "customer\nour number" --- */

static void
opt_key(char *buf, size_t sz, const char *customer, const char *ours)
{
	snprintf(buf, sz, "%s\n%s", customer, ours);
}

static struct optout **
opt_find(struct sbx_twilio *tw, const char *key)
{
	struct optout **pp;

	for (pp = &tw->opt[sbx_hash(key) & (tw->optcap - 1)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0)
			break;
	return pp;
}

static void
opt_grow(struct sbx_twilio *tw)
{
	struct optout **nt, *o, *next;
	size_t i, ncap = tw->optcap * 2, b;

	if ((nt = calloc(ncap, sizeof(*nt))) == NULL)
		return;		/* longer chains, still correct */
	for (i = 0; i < tw->optcap; i++)
		for (o = tw->opt[i]; o != NULL; o = next) {
			next = o->next;
			b = sbx_hash(o->key) & (ncap - 1);
			o->next = nt[b];
			nt[b] = o;
		}
	free(tw->opt);
	tw->opt = nt;
	tw->optcap = ncap;
}

static int
opt_has(struct sbx_twilio *tw, const char *customer, const char *ours)
{
	char key[256];

	opt_key(key, sizeof(key), customer, ours);
	return *opt_find(tw, key) != NULL;
}

static void
opt_set(struct sbx_twilio *tw, const char *customer, const char *ours, int out)
{
	struct optout **pp, *o;
	char key[256];
	size_t len;

	opt_key(key, sizeof(key), customer, ours);
	pp = opt_find(tw, key);
	if (out && *pp == NULL) {
		len = strlen(key) + 1;
		if ((o = malloc(sizeof(*o) + len)) == NULL) {
			log_warnx("opt-out of %s: out of memory", customer);
			return;
		}
		memcpy(o->key, key, len);
		o->next = NULL;
		*pp = o;
		if (++tw->nopt > tw->optcap)
			opt_grow(tw);
		log_info("opt-out: %s stopped messages from %s", customer, ours);
	} else if (!out && *pp != NULL) {
		o = *pp;
		*pp = o->next;
		free(o);
		tw->nopt--;
		log_info("opt-in: %s restarted messages from %s", customer, ours);
	}
}

void
sbx_twilio_reset(struct sbx_twilio *tw)
{
	struct optout *o, *next;
	size_t i;

	for (i = 0; i < tw->optcap; i++) {
		for (o = tw->opt[i]; o != NULL; o = next) {
			next = o->next;
			free(o);
		}
		tw->opt[i] = NULL;
	}
	tw->nopt = 0;
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

/* --- small helpers --- */

static void
make_sid(const char *prefix, char out[35])
{
	unsigned char rnd[16];

	randombytes_buf(rnd, sizeof(rnd));
	memcpy(out, prefix, 2);
	sodium_bin2hex(out + 2, 33, rnd, sizeof(rnd));
}

/* Now as RFC 2822, the way Twilio writes dates. */
static void
rfc2822_now(char buf[40])
{
	struct tm tm;
	time_t t = time(NULL);

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, 40, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		snprintf(buf, 40, "Thu, 01 Jan 1970 00:00:00 +0000");
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

	if (sms_e164_valid(s))
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

/* Post step st's callback (repeat times). */
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

/* A message whose callbacks will follow, or NULL (logged). */
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
	    (m->callback = strdup(callback)) == NULL ||
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

/* --- answering the create call --- */

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
 * else the error code with its message in msg.
 */
static long
validate(struct sbx_twilio *tw, const struct form *f, char *msg, size_t msgsz)
{
	const char *to = form_get(f, "To"), *from = form_get(f, "From");
	const char *mss = form_get(f, "MessagingServiceSid");
	const char *body = form_get(f, "Body"), *cb = form_get(f, "StatusCallback");

	if (to == NULL || *to == '\0') {
		snprintf(msg, msgsz, "A 'To' phone number is required.");
		return 21604;
	}
	if (!sms_e164_valid(to)) {
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
	if (body != NULL && sms_chars(body) > SMS_MAX_CHARS) {
		snprintf(msg, msgsz, "The concatenated message body exceeds the "
		    "1600 character limit.");
		return 21617;
	}
	if (cb != NULL && !sbx_valid_url(cb)) {
		snprintf(msg, msgsz, "Invalid StatusCallback");
		return 21609;
	}
	if (from != NULL && *from != '\0' && opt_has(tw, to, from)) {
		snprintf(msg, msgsz, "Attempt to send to unsubscribed recipient");
		return 21610;
	}
	return 0;
}

/* The message resource Twilio answers a create call with, into jw. */
static void
resource(struct sbx_jw *jw, struct sbx_twilio *tw, const struct form *f,
    const char *sid)
{
	const char *to = form_get(f, "To"), *from = form_get(f, "From");
	const char *mss = form_get(f, "MessagingServiceSid");
	const char *body = form_get(f, "Body");
	char date[40], uri[160], media[160], segs[16], nmedia[24];
	size_t i, n = 0;

	if (from != NULL && *from == '\0')
		from = NULL;
	if (mss != NULL && *mss == '\0')
		mss = NULL;
	for (i = 0; i < f->n; i++)
		if (strcmp(f->p[i].name, "MediaUrl") == 0)
			n++;
	rfc2822_now(date);
	snprintf(uri, sizeof(uri), "/2010-04-01/Accounts/%s/Messages/%s.json",
	    tw->sid, sid);
	snprintf(media, sizeof(media),
	    "/2010-04-01/Accounts/%s/Messages/%s/Media.json", tw->sid, sid);
	/* With a Messaging Service Twilio accepts first and counts later. */
	snprintf(segs, sizeof(segs), "%d", from == NULL ? 0 :
	    sms_segments(body ? body : "", NULL));
	snprintf(nmedia, sizeof(nmedia), "%zu", n);
	sbx_jw_open(jw, NULL);
	sbx_jw_str(jw, "account_sid", tw->sid);
	sbx_jw_str(jw, "api_version", TW_API_VERSION);
	sbx_jw_str(jw, "body", body ? body : "");
	sbx_jw_str(jw, "date_created", date);
	sbx_jw_null(jw, "date_sent");
	sbx_jw_str(jw, "date_updated", date);
	sbx_jw_str(jw, "direction", "outbound-api");
	sbx_jw_null(jw, "error_code");
	sbx_jw_null(jw, "error_message");
	sbx_jw_str(jw, "from", from);
	sbx_jw_str(jw, "messaging_service_sid", mss);
	sbx_jw_str(jw, "num_media", nmedia);
	sbx_jw_str(jw, "num_segments", segs);
	sbx_jw_null(jw, "price");
	sbx_jw_str(jw, "price_unit", "USD");
	sbx_jw_str(jw, "sid", sid);
	sbx_jw_str(jw, "status", from == NULL ? "accepted" : "queued");
	sbx_jw_open(jw, "subresource_uris");
	sbx_jw_str(jw, "media", media);
	sbx_jw_close(jw);
	sbx_jw_str(jw, "to", to);
	sbx_jw_str(jw, "uri", uri);
	sbx_jw_close(jw);
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

/* POST .../Messages.json */
static void
create(struct sbx_twilio *tw, struct evhttp_request *req, const char *path,
    const char *path_sid)
{
	struct sbx *sb = tw->sb;
	struct sbx_fault fault, *fp = NULL;
	struct tw_msg *m = NULL;
	enum tw_auth auth;
	struct sbx_jw ans;
	struct form f;
	const char *body, *why = NULL, *cb, *to;
	char msg[320], sid[35] = "";
	size_t len;
	long code = 0;
	int status, parsed = 1;

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
		tw_error(&ans, code, "Authentication Error - invalid username",
		    status);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Basic realm=\"Twilio API\"");
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
	if ((code = validate(tw, &f, msg, sizeof(msg))) != 0) {
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
	resource(&ans, tw, &f, sid);
	if ((cb = form_get(&f, "StatusCallback")) != NULL)
		m = msg_new(tw, sid, to, form_get(&f, "From"),
		    form_get(&f, "MessagingServiceSid"), cb, fp);
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

/* A request on Twilio's API that is not a create call: record and refuse. */
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

int
sbx_twilio_route(struct sbx *sb, struct evhttp_request *req, const char *path)
{
	struct sbx_twilio *tw = sb->twilio;
	const char *sid, *slash;
	char psid[72], msg[300];
	size_t n;

	if (strncmp(path, TW_API_PREFIX, strlen(TW_API_PREFIX)) != 0)
		return 0;
	if (strncmp(path, TW_ACCOUNTS, strlen(TW_ACCOUNTS)) == 0) {
		sid = path + strlen(TW_ACCOUNTS);
		slash = strchr(sid, '/');
		n = slash ? (size_t)(slash - sid) : 0;
		if (slash != NULL && n > 0 && n < sizeof(psid) &&
		    strcmp(slash, "/Messages.json") == 0) {
			memcpy(psid, sid, n);
			psid[n] = '\0';
			if (evhttp_request_get_command(req) == EVHTTP_REQ_POST)
				create(tw, req, path, psid);
			else
				other(tw, req, path, 405, 20004,
				    "Method not allowed");
			return 1;
		}
	}
	snprintf(msg, sizeof(msg), "The requested resource %.200s was not found",
	    path);
	other(tw, req, path, 404, 20404, msg);
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
	if (!sms_e164_valid(from)) {
		snprintf(why, sizeof(why), "\"from\" is not an E.164 number");
		goto refuse;
	}
	if (!sms_e164_valid(to) && !(valid_sender(to) &&
	    strspn(to, "0123456789") == strlen(to))) {
		snprintf(why, sizeof(why), "\"to\" is not an E.164 number or "
		    "short code");
		goto refuse;
	}
	if (text == NULL)
		text = "";
	if (sms_chars(text) > SMS_MAX_CHARS) {
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
