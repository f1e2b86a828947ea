/*
 * sandboxd_whatsapp — the WhatsApp Business Cloud API (Meta's Graph API) as
 * whatsappd sees it (providers.md §1), faithful enough that whatsappd
 * cannot tell it from Meta.  This file is the API's ground floor: its
 * settings and token, Graph's errors and auth, the received log, the
 * customer service windows, the webhook envelope and its signature, and the
 * router of the Graph paths to the endpoint modules (sandboxd_wa.h lists
 * them):
 *
 *   POST /{version}/{phone_number_id}/messages	sandboxd_wa_send.c
 *   POST /{version}/{phone_number_id}/media	sandboxd_wa_media.c
 *   GET, DELETE /{version}/{media_id}		sandboxd_wa_media.c
 *   POST /sandbox/whatsapp/inbound (control)	sandboxd_wa_inbound.c
 *   /sandbox/whatsapp/templates (control)	sandboxd_wa_tmpl.c
 *
 * Every request on the API is recorded in the received log whatever its
 * outcome, with its Authorization header, Content-Type, the body as parsed
 * JSON and the answer given.  State (windows, media, rate history,
 * templates) lives in memory and goes with /sandbox/reset.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
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
#include "htab.h"
#include "log.h"
#include "sandboxd.h"
#include "sandboxd_wa.h"
#include "sig.h"

static const char *const auth_names[] = { "missing", "bad", "ok" };

/* --- records kept by a string --- */

static int
node_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct sbx_wa_node *w = HTAB_ENTRY(n, struct sbx_wa_node, hn);

	return strlen(w->key) == l && memcmp(w->key, k, l) == 0;
}

struct sbx_wa_node *
sbx_wa_get(const struct htab *t, const char *key)
{
	struct htab_node *n = htab_find(t, key, strlen(key), node_eq);

	return n ? HTAB_ENTRY(n, struct sbx_wa_node, hn) : NULL;
}

int
sbx_wa_add(struct htab *t, struct sbx_wa_node *nd)
{
	return htab_insert(t, &nd->hn, nd->key, strlen(nd->key));
}

void
sbx_wa_del(struct htab *t, struct sbx_wa_node *nd)
{
	htab_remove(t, &nd->hn);
}

void
sbx_wa_clear(struct htab *t, void (*fr)(struct sbx_wa_node *))
{
	struct htab_iter it;
	struct htab_node *n;

	htab_iter_init(&it, t);
	while ((n = htab_iter_next(&it)) != NULL) {
		htab_remove(t, n);
		fr(HTAB_ENTRY(n, struct sbx_wa_node, hn));
	}
}

static void
node_free(struct sbx_wa_node *nd)
{
	free(nd);
}

/* --- settings --- */

struct wa_conf {
	char		*token, *secret, *url, *listen;
	struct wa_stamp	 token_stamp;
	char		 version[16];
	long long	 rate, window_s, status_delay_ms;
};

static void
wa_conf_free(struct wa_conf *c)
{
	conf_secret_free(c->token);
	conf_secret_free(c->secret);
	free(c->url);
	free(c->listen);
	memset(c, 0, sizeof(*c));
}

/* "vN.N": the Graph API version segment of a path. */
static int
valid_version(const char *s, size_t n)
{
	size_t i = 1, d;

	if (n < 4 || n > 9 || s[0] != 'v')
		return 0;
	for (d = 0; i < n && isdigit((unsigned char)s[i]); i++, d++)
		;
	if (d == 0 || d > 3 || i >= n || s[i++] != '.')
		return 0;
	for (d = 0; i < n && isdigit((unsigned char)s[i]); i++, d++)
		;
	return d > 0 && d <= 3 && i == n;
}

/*
 * A secret that may be absent: 0 read (*out set), 1 the file does not
 * exist (*out NULL, why says so), -1 refused (why).
 */
static int
optional_secret(const struct conf *c, const char *key, char **out, char *why,
    size_t whysz)
{
	const char *v = conf_get(c, key);
	struct stat st;
	char *path, err[256];

	*out = NULL;
	if (v == NULL || *v == '\0') {
		snprintf(why, whysz, "%s is not set", key);
		return 1;
	}
	if ((path = conf_path(c, v)) == NULL) {
		snprintf(why, whysz, "out of memory");
		return -1;
	}
	if (lstat(path, &st) == -1 && errno == ENOENT) {
		snprintf(why, whysz, "%s: %s does not exist", key, path);
		free(path);
		return 1;
	}
	free(path);
	if ((*out = conf_secret(c, key, err, sizeof(err))) == NULL) {
		snprintf(why, whysz, "%s: %s", key, err);
		return -1;
	}
	return 0;
}

/* The stamp of the file key names; invalid when it cannot be stat'ed. */
static void
secret_stamp(const struct conf *c, const char *key, struct wa_stamp *st)
{
	const char *v = conf_get(c, key);
	struct stat sb;
	char *path;

	memset(st, 0, sizeof(*st));
	if (v == NULL || *v == '\0' || (path = conf_path(c, v)) == NULL)
		return;
	if (stat(path, &sb) == 0) {
		st->dev = sb.st_dev;
		st->ino = sb.st_ino;
		st->size = sb.st_size;
		st->mtime = sb.st_mtim;
		st->valid = 1;
	}
	free(path);
}

static int
stamp_same(const struct wa_stamp *a, const struct wa_stamp *b)
{
	return a->valid == b->valid && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static int
wa_conf_read(struct sbx *sb, struct wa_conf *c, char *why, size_t whysz)
{
	const char *url, *ver, *listen;
	char err[256];
	int rc;

	memset(c, 0, sizeof(*c));
	url = conf_get(sb->d.conf, "sandbox_whatsapp_webhook_url");
	if (!sbx_valid_url(url)) {
		snprintf(why, whysz, "sandbox_whatsapp_webhook_url: \"%s\" is not "
		    "an http(s) URL", url ? url : "");
		goto fail;
	}
	ver = conf_get(sb->d.conf, "whatsapp_api_version");
	if (ver == NULL || !valid_version(ver, strlen(ver))) {
		snprintf(why, whysz, "whatsapp_api_version: \"%s\" is not like "
		    "v23.0", ver ? ver : "");
		goto fail;
	}
	snprintf(c->version, sizeof(c->version), "%s", ver);
	if (conf_int(sb->d.conf, "sandbox_whatsapp_rate", 1, 100000, &c->rate,
	    err, sizeof(err)) == -1 ||
	    conf_int(sb->d.conf, "sandbox_whatsapp_window_s", 0, 315360000,
	    &c->window_s, err, sizeof(err)) == -1 ||
	    conf_int(sb->d.conf, "sandbox_status_delay_ms", 0, 3600000,
	    &c->status_delay_ms, err, sizeof(err)) == -1) {
		snprintf(why, whysz, "%s", err);
		goto fail;
	}
	secret_stamp(sb->d.conf, "whatsapp_token_file", &c->token_stamp);
	if ((rc = optional_secret(sb->d.conf, "whatsapp_token_file", &c->token,
	    why, whysz)) == -1)
		goto fail;
	if (rc == 1)
		log_warnx("whatsapp: %s; every API call is refused with 190 "
		    "until it does", why);
	if ((rc = optional_secret(sb->d.conf, "whatsapp_app_secret_file",
	    &c->secret, why, whysz)) == -1)
		goto fail;
	if (rc == 1)
		log_warnx("whatsapp: %s; webhooks go unsigned and simulated "
		    "messages are refused until it does", why);
	listen = conf_get(sb->d.conf, "sandbox_listen");
	if ((c->url = strdup(url)) == NULL ||
	    (c->listen = strdup(listen ? listen : "127.0.0.1:8099")) == NULL) {
		snprintf(why, whysz, "out of memory");
		goto fail;
	}
	return 0;
fail:
	wa_conf_free(c);
	return -1;
}

static void
wa_conf_take(struct sbx_whatsapp *wa, struct wa_conf *c)
{
	/* Rings are sized by the rate: a new rate starts a new history. */
	if (wa->rate != c->rate)
		sbx_wa_clear(&wa->rates, node_free);
	conf_secret_free(wa->token);
	conf_secret_free(wa->secret);
	free(wa->webhook_url);
	free(wa->listen);
	wa->token = c->token;
	wa->token_stamp = c->token_stamp;
	wa->secret = c->secret;
	wa->webhook_url = c->url;
	wa->listen = c->listen;
	memcpy(wa->version, c->version, sizeof(wa->version));
	wa->rate = c->rate;
	wa->window_s = c->window_s;
	wa->status_delay_ms = c->status_delay_ms;
	memset(c, 0, sizeof(*c));
}

struct sbx_whatsapp *
sbx_whatsapp_new(struct sbx *sb, char *why, size_t whysz)
{
	struct sbx_whatsapp *wa;
	struct wa_conf c;

	if (wa_conf_read(sb, &c, why, whysz) == -1)
		return NULL;
	if ((wa = calloc(1, sizeof(*wa))) == NULL) {
		wa_conf_free(&c);
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	htab_init(&wa->windows);
	htab_init(&wa->rates);
	htab_init(&wa->media);
	htab_init(&wa->templates);
	wa->sb = sb;
	TAILQ_INIT(&wa->mq);
	wa->rate = c.rate;
	wa_conf_take(wa, &c);
	return wa;
}

int
sbx_whatsapp_reload(struct sbx_whatsapp *wa, char *why, size_t whysz)
{
	struct wa_conf c;

	if (wa_conf_read(wa->sb, &c, why, whysz) == -1)
		return -1;
	wa_conf_take(wa, &c);
	return 0;
}

/*
 * The token file again, when it changed or a request's token did not match:
 * a new token then takes effect, and `msg channel token` works, without
 * restarting the sandbox.  A file that cannot be read keeps the old token;
 * one that was removed leaves none (every call 190).
 */
static void
token_reread(struct sbx_whatsapp *wa)
{
	char why[320], *tok;
	int rc;

	secret_stamp(wa->sb->d.conf, "whatsapp_token_file", &wa->token_stamp);
	if ((rc = optional_secret(wa->sb->d.conf, "whatsapp_token_file", &tok,
	    why, sizeof(why))) != 0) {
		if (rc == 1 && wa->token != NULL) {
			conf_secret_free(wa->token);
			wa->token = NULL;
			log_warnx("whatsapp: %s; every API call is refused with "
			    "190 until it does", why);
		}
		return;
	}
	if (wa->token != NULL && strcmp(wa->token, tok) == 0) {
		conf_secret_free(tok);
		return;
	}
	conf_secret_free(wa->token);
	wa->token = tok;
	log_info("whatsapp: the token file changed; using the new token");
}

/* The app secret, read again if it was missing; NULL if still missing. */
const char *
sbx_wa_app_secret(struct sbx_whatsapp *wa)
{
	char why[320];

	if (wa->secret == NULL && optional_secret(wa->sb->d.conf,
	    "whatsapp_app_secret_file", &wa->secret, why, sizeof(why)) == 0)
		log_info("whatsapp: app secret read");
	return wa->secret;
}

void
sbx_whatsapp_reset(struct sbx_whatsapp *wa)
{
	struct wa_media *m;

	sbx_wa_clear(&wa->windows, node_free);
	sbx_wa_clear(&wa->rates, node_free);
	sbx_wa_clear(&wa->templates, sbx_wa_tmpl_free);
	while ((m = TAILQ_FIRST(&wa->mq)) != NULL)
		sbx_wa_media_forget(wa, m);
	wa->kept = 0;
}

void
sbx_whatsapp_free(struct sbx_whatsapp *wa)
{
	if (wa == NULL)
		return;
	sbx_whatsapp_reset(wa);
	htab_free(&wa->windows);
	htab_free(&wa->rates);
	htab_free(&wa->media);
	htab_free(&wa->templates);
	conf_secret_free(wa->token);
	conf_secret_free(wa->secret);
	free(wa->webhook_url);
	free(wa->listen);
	free(wa);
}

/* --- windows and throughput --- */

static int
win_key(char *buf, size_t sz, const char *pnid, const char *wa_id)
{
	int n = snprintf(buf, sz, "%s\n%s", pnid, wa_id);

	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

void
sbx_wa_win_note(struct sbx_whatsapp *wa, const char *pnid, const char *wa_id,
    long long ms)
{
	struct wa_win *w;
	char key[sizeof(w->h.key)];

	if (win_key(key, sizeof(key), pnid, wa_id) == -1)
		return;
	if ((w = (struct wa_win *)sbx_wa_get(&wa->windows, key)) != NULL) {
		if (ms > w->last_ms)
			w->last_ms = ms;
		return;
	}
	if (htab_count(&wa->windows) >= WA_MAX_WINDOWS) {
		log_warnx("whatsapp: %d windows open; not recording more until "
		    "/sandbox/reset", WA_MAX_WINDOWS);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warnx("whatsapp: window of %s: out of memory", wa_id);
		return;
	}
	memcpy(w->h.key, key, sizeof(key));
	w->last_ms = ms;
	if (sbx_wa_add(&wa->windows, &w->h) == -1) {
		log_warnx("whatsapp: window of %s: out of memory", wa_id);
		free(w);
	}
}

int
sbx_wa_win_open(struct sbx_whatsapp *wa, const char *pnid, const char *wa_id,
    long long now)
{
	struct wa_win *w;
	char key[sizeof(w->h.key)];

	if (win_key(key, sizeof(key), pnid, wa_id) == -1 ||
	    (w = (struct wa_win *)sbx_wa_get(&wa->windows, key)) == NULL)
		return 0;
	return now - w->last_ms < wa->window_s * 1000;
}

/* --- identifiers --- */

/*
 * A wamid as Meta makes them: "wamid." and base64 of 0x1c 0x18 <len>
 * <customer digits> 0x15 0x02 0x00 <0x11 out | 0x12 in> 0x18 <len>
 * <random upper-case hex> 0x00.
 */
void
sbx_wa_make_wamid(const char *digits, int inbound, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char raw[96], rnd[16];
	size_t n = 0, dl = strlen(digits), hl = inbound ? 32 : 18, i;

	if (dl > 20)
		dl = 20;
	raw[n++] = 0x1c;
	raw[n++] = 0x18;
	raw[n++] = (unsigned char)dl;
	memcpy(raw + n, digits, dl);
	n += dl;
	raw[n++] = 0x15;
	raw[n++] = 0x02;
	raw[n++] = 0x00;
	raw[n++] = inbound ? 0x12 : 0x11;
	raw[n++] = 0x18;
	raw[n++] = (unsigned char)hl;
	randombytes_buf(rnd, sizeof(rnd));
	for (i = 0; i < hl; i++)
		raw[n++] = (unsigned char)hex[(rnd[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	raw[n++] = 0x00;
	memcpy(out, "wamid.", 6);
	sodium_bin2base64(out + 6, outsz - 6, raw, n,
	    sodium_base64_VARIANT_ORIGINAL);
}

/* fbtrace_id: "A" and 22 URL-safe base64 characters. */
static void
make_fbtrace(char out[32])
{
	unsigned char r[17];

	randombytes_buf(r, sizeof(r));
	out[0] = 'A';
	sodium_bin2base64(out + 1, 31, r, sizeof(r),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	out[23] = '\0';
}

/* The WhatsApp Business Account a number belongs to (made up, stable). */
static void
waba_id(const char *pnid, char out[24])
{
	snprintf(out, 24, "1%014llu",
	    (unsigned long long)(sbx_hash(pnid) % 100000000000000ULL));
}

/* The number's display form: "1555" and its last 7 digits. */
void
sbx_wa_display_number(const char *pnid, char out[24])
{
	size_t n = strlen(pnid), i;

	memcpy(out, "15550000000", 12);
	if (n > 7) {
		pnid += n - 7;
		n = 7;
	}
	for (i = 0; i < n; i++)
		out[11 - n + i] = pnid[i];
}

/* All digits, 1..max of them. */
int
sbx_wa_all_digits(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n <= max && strspn(s, "0123456789") == n;
}

/* Characters (code points) of a UTF-8 string. */
size_t
sbx_wa_utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * snprintf for messages that may be cut short on purpose (a parameter's
 * path in a reason, a reason with a prefix): truncation is harmless here.
 */
void
sbx_wa_say(char *buf, size_t sz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
}

/* --- errors --- */

static const struct {
	long		 code;
	const char	*title;
	const char	*details;
} errtab[] = {
	{ 0, "AuthException", "We were unable to authenticate the app user." },
	{ 2, "API Service", "Temporary due to downtime or due to being "
	    "overloaded." },
	{ 3, "API Method", "Capability or permissions issue." },
	{ 4, "Application request limit reached", "The app has reached its "
	    "API call rate limit." },
	{ 10, "Permission Denied", "Permission is either not granted or has "
	    "been removed." },
	{ 100, "Invalid parameter", "The request included one or more "
	    "unsupported or misspelled parameters." },
	{ 190, "Access token has expired", "Your access token has expired." },
	{ 200, "Permission Denied", "Permission is either not granted or has "
	    "been removed." },
	{ 368, "Temporarily blocked for policies violations", "The WhatsApp "
	    "Business Account associated with the app has been restricted or "
	    "disabled for violating a platform policy." },
	{ 80007, "Rate limit issues", "The WhatsApp Business Account has "
	    "reached its rate limit." },
	{ 130429, "Rate limit hit", "Cloud API message throughput has been "
	    "reached." },
	{ 131000, "Something went wrong", "Message failed to send due to an "
	    "unknown error." },
	{ 131005, "Access denied", "Permission is either not granted or has "
	    "been removed." },
	{ 131008, "Required parameter is missing", "The request is missing a "
	    "required parameter." },
	{ 131009, "Parameter value is not valid", "One or more parameter "
	    "values are invalid." },
	{ 131016, "Service unavailable", "A service is temporarily "
	    "unavailable." },
	{ 131021, "Recipient cannot be sender", "Sender and recipient phone "
	    "number is the same." },
	{ 131026, "Message undeliverable", "Unable to deliver message. Reasons "
	    "can include: the recipient phone number is not a WhatsApp phone "
	    "number; the recipient has not accepted our new Terms of Service "
	    "and Privacy Policy; the recipient is using an old WhatsApp "
	    "version." },
	{ 131031, "Account has been locked", "The WhatsApp Business Account "
	    "associated with the app has been restricted or disabled." },
	{ 131047, "Re-engagement message", "Message failed to send because "
	    "more than 24 hours have passed since the customer last replied to "
	    "this number." },
	{ 131048, "Spam rate limit hit", "Message failed to send because there "
	    "are restrictions on how many messages can be sent from this phone "
	    "number." },
	{ 131051, "Unsupported message type", "Message type is not currently "
	    "supported." },
	{ 131052, "Media download error", "Unable to download the media sent "
	    "by the user." },
	{ 131053, "Media upload error", "Unable to upload the media used in "
	    "the message." },
	{ 131056, "(Business Account, Consumer Account) pair rate limit hit",
	    "Too many messages sent from the sender phone number to the same "
	    "recipient phone number in a short period of time." },
	{ 132000, "Number of parameters does not match the expected number of "
	    "params", "The number of variable parameter values included in the "
	    "request did not match the number of variable parameters defined "
	    "in the template." },
	{ 132001, "Template does not exist", "The template does not exist in "
	    "the specified language or the template has not been approved." },
	{ 133010, "Phone number Not Registered", "The phone number is not "
	    "registered on the WhatsApp Business Platform." },
};

const char *
sbx_wa_err_title(long code)
{
	size_t i;

	for (i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
		if (errtab[i].code == code)
			return errtab[i].title;
	return "Unknown error";
}

const char *
sbx_wa_err_details(long code)
{
	size_t i;

	for (i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
		if (errtab[i].code == code)
			return errtab[i].details;
	return "An unknown error occurred.";
}

/*
 * The Graph error envelope into jw: message NULL is "(#code) Title";
 * details NULL leaves out error_data (Graph's own errors, like 190).
 */
void
sbx_wa_graph_error(struct sbx_jw *jw, long code, const char *message,
    const char *details)
{
	char msg[320], trace[32];

	if (message == NULL) {
		snprintf(msg, sizeof(msg), "(#%ld) %s", code, sbx_wa_err_title(code));
		message = msg;
	}
	make_fbtrace(trace);
	sbx_jw_open(jw, NULL);
	sbx_jw_open(jw, "error");
	sbx_jw_str(jw, "message", message);
	sbx_jw_str(jw, "type", "OAuthException");
	sbx_jw_int(jw, "code", code);
	if (details != NULL) {
		sbx_jw_open(jw, "error_data");
		sbx_jw_str(jw, "messaging_product", "whatsapp");
		sbx_jw_str(jw, "details", details);
		sbx_jw_close(jw);
	}
	sbx_jw_str(jw, "fbtrace_id", trace);
	sbx_jw_close(jw);
	sbx_jw_close(jw);
}

void
sbx_wa_www_authenticate(struct evhttp_request *req)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "WWW-Authenticate", "OAuth \"Facebook Platform\" \"invalid_token\" "
	    "\"Invalid OAuth access token\"");
}

/* 401 with code 190, and Graph's WWW-Authenticate. */
long
sbx_wa_auth_error(struct evhttp_request *req, struct sbx_jw *jw)
{
	sbx_wa_www_authenticate(req);
	sbx_wa_graph_error(jw, 190, "Invalid OAuth access token", NULL);
	return 190;
}

/* The error body for a fault's HTTP status into jw; its code. */
long
sbx_wa_fault_error(struct sbx_jw *jw, const struct sbx_fault *f)
{
	long code = f->code;

	if (code == 0) {
		switch (f->http) {
		case 401:
			code = 190;
			break;
		case 403:
			code = 10;
			break;
		case 429:
			code = 130429;
			break;
		case 500:
			code = 131000;
			break;
		case 503:
			code = 131016;
			break;
		default:
			code = f->http < 500 ? 100 : 2;
			break;
		}
	}
	sbx_wa_graph_error(jw, code, f->message[0] != '\0' ? f->message : NULL,
	    code == 190 ? NULL : sbx_wa_err_details(code));
	return code;
}

/* --- auth and the received log --- */

enum wa_auth
sbx_wa_check_auth(struct sbx_whatsapp *wa, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	struct wa_stamp now;
	size_t n;

	secret_stamp(wa->sb->d.conf, "whatsapp_token_file", &now);
	if (!stamp_same(&now, &wa->token_stamp))
		token_reread(wa);
	if (h == NULL)
		return WA_AUTH_MISSING;
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return WA_AUTH_BAD;
	for (h += 7; *h == ' '; h++)
		;
	n = strlen(h);
	if (wa->token != NULL && n == strlen(wa->token) &&
	    sodium_memcmp(h, wa->token, n) == 0)
		return WA_AUTH_OK;
	token_reread(wa);
	if (wa->token != NULL && n == strlen(wa->token) &&
	    sodium_memcmp(h, wa->token, n) == 0)
		return WA_AUTH_OK;
	return WA_AUTH_BAD;
}

/* The method as Graph names it in "Unsupported get request". */
const char *
sbx_wa_graph_method(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		return "get";
	case EVHTTP_REQ_DELETE:
		return "delete";
	default:
		return "post";
	}
}

/* A request body for the log: compact JSON when it parses, else a string. */
char *
sbx_wa_body_for_log(json_t *j, const char *body, size_t len)
{
	struct sbx_jw jw;
	char *s, *cut;

	if (j != NULL)
		return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (body == NULL || len == 0)
		return NULL;
	if ((cut = strndup(body, len > WA_LOG_BODY_MAX ? WA_LOG_BODY_MAX :
	    len)) == NULL)
		return NULL;
	sbx_jw_init(&jw);
	sbx_jw_str(&jw, NULL, cut);
	free(cut);
	if (jw.oom) {
		sbx_jw_free(&jw);
		return NULL;
	}
	s = jw.buf;	/* taken over */
	return s;
}

void
sbx_wa_record(struct sbx_whatsapp *wa, struct evhttp_request *req,
    const struct wa_rec *r)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct sbx_jw jw;

	sbx_jw_init(&jw);
	sbx_jw_str(&jw, "method", sbx_method(req));
	sbx_jw_str(&jw, "path", r->path);
	sbx_jw_str(&jw, "version", r->version);
	sbx_jw_str(&jw, "auth", auth_names[r->auth]);
	sbx_jw_str(&jw, "authorization", evhttp_find_header(in,
	    "Authorization"));
	sbx_jw_str(&jw, "content_type", evhttp_find_header(in,
	    "Content-Type"));
	if (r->body != NULL)
		sbx_jw_raw(&jw, "body", r->body, strlen(r->body));
	else
		sbx_jw_null(&jw, "body");
	sbx_jw_int(&jw, "answer", r->status);
	if (r->code != 0)
		sbx_jw_int(&jw, "code", r->code);
	if (r->id[0] != '\0')
		sbx_jw_str(&jw, "id", r->id);
	if (r->fault != 0)
		sbx_jw_int(&jw, "fault", r->fault);
	sbx_jw_int(&jw, "ts_ms", daemon_now_ms());
	sbx_log_jw(wa->sb->log, "request", "whatsapp", &jw);
}

/* Record r, answer with the text in jw, forget r's body. */
void
sbx_wa_finish(struct sbx_whatsapp *wa, struct evhttp_request *req, struct wa_rec *r,
    struct sbx_jw *jw)
{
	sbx_wa_record(wa, req, r);
	if (r->status >= 400)
		log_debug("whatsapp: %s %s refused: %d code=%ld",
		    sbx_method(req), r->path, r->status, r->code);
	sbx_reply_jw(req, r->status, jw);
	free(r->body);
	r->body = NULL;
}

/* The sbx_wa_notification envelope around one change's value (stolen). */
json_t *
sbx_wa_notification(const char *pnid, json_t *value)
{
	char waba[24];

	waba_id(pnid, waba);
	return json_pack("{s:s, s:[{s:s, s:[{s:o, s:s}]}]}",
	    "object", "whatsapp_business_account",
	    "entry", "id", waba, "changes", "value", value, "field", "messages");
}

/* A value's messaging_product and metadata for pnid. */
json_t *
sbx_wa_value_new(const char *pnid)
{
	char disp[24];

	sbx_wa_display_number(pnid, disp);
	return json_pack("{s:s, s:{s:s, s:s}}", "messaging_product", "whatsapp",
	    "metadata", "display_phone_number", disp, "phone_number_id", pnid);
}

/* The signed headers of a webhook body into hdrs (sighdr holds one). */
void
sbx_wa_hook_headers(struct sbx_whatsapp *wa, const char *body, size_t len,
    const char *hdrs[4], char *sighdr, size_t sighdrsz)
{
	char sig[SIG_META_LEN + 1];
	const char *secret = sbx_wa_app_secret(wa);
	int n = 0;

	hdrs[n++] = "Content-Type: application/json";
	if (secret != NULL) {
		sig_meta(body, len, secret, sig);
		snprintf(sighdr, sighdrsz, "X-Hub-Signature-256: %s", sig);
		hdrs[n++] = sighdr;
	}
	hdrs[n++] = "User-Agent: facebookexternalua";
	hdrs[n] = NULL;
}


/* A string member: 1 present (*out), 0 absent, -1 present but not a string. */
int
sbx_wa_get_s(json_t *o, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*out = json_string_value(v);
	return 1;
}

int
sbx_wa_in_list(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

int
sbx_whatsapp_route(struct sbx *sb, struct evhttp_request *req,
    const char *path)
{
	struct sbx_whatsapp *wa = sb->whatsapp;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *seg = path + 1, *slash, *rest;
	char version[16], id[WA_ID_MAX + 1], msg[512];
	struct wa_rec r;
	struct sbx_jw ans;
	size_t n;

	if ((slash = strchr(seg, '/')) == NULL ||
	    !valid_version(seg, (size_t)(slash - seg)))
		return 0;
	memset(&r, 0, sizeof(r));
	memcpy(version, seg, (size_t)(slash - seg));
	version[slash - seg] = '\0';
	r.path = path;
	r.version = version;
	seg = slash + 1;
	rest = strchr(seg, '/');
	n = rest ? (size_t)(rest - seg) : strlen(seg);
	/* The object id as given (cut to fit), for Graph's answers. */
	memcpy(id, seg, n < WA_ID_MAX ? n : WA_ID_MAX);
	id[n < WA_ID_MAX ? n : WA_ID_MAX] = '\0';
	if (n > 0 && n <= WA_ID_MAX && strspn(seg, "0123456789") >= n) {
		if (rest == NULL) {
			sbx_wa_media_call(wa, req, &r, id);
			return 1;
		}
		if (cmd == EVHTTP_REQ_POST && strcmp(rest, "/messages") == 0) {
			sbx_wa_send_call(wa, req, &r, id);
			return 1;
		}
		if (cmd == EVHTTP_REQ_POST && strcmp(rest, "/media") == 0) {
			sbx_wa_upload_call(wa, req, &r);
			return 1;
		}
	}
	/* Graph answers what it does not serve with 400, code 100. */
	sbx_jw_init(&ans);
	r.auth = sbx_wa_check_auth(wa, req);
	if (r.auth != WA_AUTH_OK) {
		r.status = 401;
		r.code = sbx_wa_auth_error(req, &ans);
	} else {
		r.status = 400;
		r.code = 100;
		if (rest != NULL && (strcmp(rest, "/messages") == 0 ||
		    strcmp(rest, "/media") == 0))
			snprintf(msg, sizeof(msg), WA_UNSUPPORTED,
			    sbx_wa_graph_method(req), id);
		else
			snprintf(msg, sizeof(msg), "Unknown path components: "
			    "%.200s", rest ? rest : seg);
		sbx_wa_graph_error(&ans, r.code, msg, NULL);
	}
	sbx_wa_finish(wa, req, &r, &ans);
	return 1;
}

