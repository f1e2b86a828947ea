/*
 * sandboxd_whatsapp — the WhatsApp Business Cloud API (Meta's Graph API) as
 * whatsappd sees it (providers.md §1), faithful enough that whatsappd
 * cannot tell it from Meta:
 *
 *   POST /{version}/{phone_number_id}/messages
 *	Bearer token; the JSON body validated in Meta's order with Meta's
 *	codes and the Graph error envelope; the per-number throughput limit
 *	(130429) and the 24-hour customer service window (131047); 200 with
 *	the wamid; then signed status webhooks "sent", "delivered", "read"
 *	(or "failed", or out of order, or repeated, when a fault rule asks).
 *   POST /{version}/{phone_number_id}/media
 *	a multipart upload (messaging_product, file, type) checked against
 *	Meta's types and size limits; the media id it answers can be sent.
 *   GET, DELETE /{version}/{media_id}
 *	the media's URL and facts; forgetting it.
 *   POST /sandbox/whatsapp/inbound (control)
 *	a simulated customer writes: Meta's webhook notification for every
 *	message type, signed with the app secret (X-Hub-Signature-256) and
 *	posted to sandbox_whatsapp_webhook_url; it opens the window.
 *
 * Every request on the API is recorded in the received log whatever its
 * outcome, with its Authorization header, Content-Type, the body as parsed
 * JSON and the answer given.  State (windows, media, rate history) lives in
 * memory and goes with /sandbox/reset.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
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
#include "log.h"
#include "media.h"
#include "sandboxd.h"
#include "sig.h"
#include "valid.h"

#define WA_MAX_DUP		1000	/* extra copies of an inbound webhook */
#define WA_MAX_BATCH		100	/* messages in one simulated notification */
#define WA_MAX_WINDOWS		200000	/* (number, customer) pairs remembered */
#define WA_MAX_NUMBERS		10000	/* phone_number_ids with a rate history */
#define WA_MAX_MEDIA		10000	/* media ids remembered, oldest forgotten */
#define WA_KEEP_ONE		(16 * MEDIA_MB)	/* bytes kept of one upload */
#define WA_KEEP_ALL		(64 * MEDIA_MB)	/* bytes kept of all uploads */
#define WA_MAX_UPLOAD		(100 * MEDIA_MB + 256 * 1024)
#define WA_MAX_PARTS		16
#define WA_MAX_PART_HEADERS	8192
#define WA_TEXT_MAX		4096	/* characters */
#define WA_CAPTION_MAX		1024
#define WA_BIZ_MAX		512	/* bytes of biz_opaque_callback_data */
#define WA_LOG_BODY_MAX		65536	/* a body that is not JSON, as logged */
#define WA_ID_MAX		32	/* digits of a phone_number_id or media id */
#define WA_HREF "https://developers.facebook.com/docs/whatsapp/cloud-api/" \
	"support/error-codes/"
#define WA_UNSUPPORTED "Unsupported %s request. Object with ID '%s' does " \
	"not exist, cannot be loaded due to missing permissions, or does not " \
	"support this operation. Please read the Graph API documentation at " \
	"https://developers.facebook.com/docs/graph-api"

enum wa_auth { WA_AUTH_MISSING, WA_AUTH_BAD, WA_AUTH_OK };
static const char *const auth_names[] = { "missing", "bad", "ok" };

/* The message types the send call takes (Meta's list). */
static const char *const send_types[] = { "text", "template", "image",
    "document", "audio", "video", "sticker", "location", "contacts",
    "interactive", "reaction", NULL };

/* --- a small chained hash of fixed-key nodes --- */

struct wa_node {
	struct wa_node	*hnext;
	char		 key[64];
};

struct wa_tab {
	struct wa_node	**b;
	size_t		 n, cap;	/* entries, buckets (power of 2) */
};

/* When the customer last wrote to the number: "pnid\nwa_id". */
struct wa_win {
	struct wa_node	 h;
	long long	 last_ms;
};

/* The last accepted sends of one number (a ring of rate times). */
struct wa_rate {
	struct wa_node	 h;
	size_t		 head, n;
	long long	 t[];
};

/* A media id: uploaded, or made up for a simulated inbound message. */
struct wa_media {
	struct wa_node	 h;		/* key: the id */
	TAILQ_ENTRY(wa_media) fifo;
	char		 mime[128];
	char		 sha256[65];	/* hex */
	char		 sha256_b64[48];
	char		*filename;	/* NULL */
	long long	 size;
	unsigned char	*bytes;		/* kept when small enough, else NULL */
};
TAILQ_HEAD(wa_media_q, wa_media);

/* A sent message whose status webhooks are still to come. */
struct wa_msg {
	struct sbx_chain c;		/* first: the webhooks */
	struct sbx_whatsapp *wa;
	char		 wamid[160];
	char		 pnid[WA_ID_MAX + 1];
	char		 recipient[24];
	char		 conv[40];
	char		*biz;		/* biz_opaque_callback_data, NULL */
	const char	*category;	/* "service", "marketing" */
	long		 error_code;
};

/* What a secret file was when last read: a change means read it again. */
struct wa_stamp {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	int		 valid;
};

struct sbx_whatsapp {
	struct sbx	*sb;
	char		*token;		/* NULL: unreadable, every call 190 */
	struct wa_stamp	 token_stamp;
	char		*secret;	/* app secret, NULL: webhooks unsigned */
	char		*webhook_url;
	char		 version[16];
	char		*listen;	/* sandbox_listen, for media URLs */
	long long	 rate, window_s, status_delay_ms;
	struct wa_tab	 windows, rates, media;
	struct wa_media_q mq;
	size_t		 kept;		/* bytes of media kept */
};

static int
tab_init(struct wa_tab *t)
{
	t->n = 0;
	t->cap = 64;
	return (t->b = calloc(t->cap, sizeof(*t->b))) == NULL ? -1 : 0;
}

static struct wa_node **
tab_slot(struct wa_tab *t, const char *key)
{
	struct wa_node **pp;

	for (pp = &t->b[sbx_hash(key) & (t->cap - 1)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (strcmp((*pp)->key, key) == 0)
			break;
	return pp;
}

static struct wa_node *
tab_get(struct wa_tab *t, const char *key)
{
	return *tab_slot(t, key);
}

static void
tab_grow(struct wa_tab *t)
{
	struct wa_node **nb, *nd, *next;
	size_t i, ncap = t->cap * 2, b;

	if ((nb = calloc(ncap, sizeof(*nb))) == NULL)
		return;		/* longer chains, still correct */
	for (i = 0; i < t->cap; i++)
		for (nd = t->b[i]; nd != NULL; nd = next) {
			next = nd->hnext;
			b = sbx_hash(nd->key) & (ncap - 1);
			nd->hnext = nb[b];
			nb[b] = nd;
		}
	free(t->b);
	t->b = nb;
	t->cap = ncap;
}

/* Add nd, whose key is not in t. */
static void
tab_add(struct wa_tab *t, struct wa_node *nd)
{
	size_t b = sbx_hash(nd->key) & (t->cap - 1);

	nd->hnext = t->b[b];
	t->b[b] = nd;
	if (++t->n > t->cap)
		tab_grow(t);
}

static void
tab_del(struct wa_tab *t, struct wa_node *nd)
{
	struct wa_node **pp = tab_slot(t, nd->key);

	if (*pp == nd) {
		*pp = nd->hnext;
		t->n--;
	}
}

/* Unlink every node and give it to fr. */
static void
tab_clear(struct wa_tab *t, void (*fr)(struct wa_node *))
{
	struct wa_node *nd, *next;
	size_t i;

	if (t->b == NULL)
		return;
	for (i = 0; i < t->cap; i++) {
		for (nd = t->b[i]; nd != NULL; nd = next) {
			next = nd->hnext;
			fr(nd);
		}
		t->b[i] = NULL;
	}
	t->n = 0;
}

static void
node_free(struct wa_node *nd)
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
secret_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static void
wa_conf_free(struct wa_conf *c)
{
	secret_free(c->token);
	secret_free(c->secret);
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
		tab_clear(&wa->rates, node_free);
	secret_free(wa->token);
	secret_free(wa->secret);
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
	if ((wa = calloc(1, sizeof(*wa))) == NULL ||
	    tab_init(&wa->windows) == -1 || tab_init(&wa->rates) == -1 ||
	    tab_init(&wa->media) == -1) {
		if (wa != NULL) {
			free(wa->windows.b);
			free(wa->rates.b);
			free(wa->media.b);
		}
		free(wa);
		wa_conf_free(&c);
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
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
			secret_free(wa->token);
			wa->token = NULL;
			log_warnx("whatsapp: %s; every API call is refused with "
			    "190 until it does", why);
		}
		return;
	}
	if (wa->token != NULL && strcmp(wa->token, tok) == 0) {
		secret_free(tok);
		return;
	}
	secret_free(wa->token);
	wa->token = tok;
	log_info("whatsapp: the token file changed; using the new token");
}

/* The app secret, read again if it was missing; NULL if still missing. */
static const char *
app_secret(struct sbx_whatsapp *wa)
{
	char why[320];

	if (wa->secret == NULL && optional_secret(wa->sb->d.conf,
	    "whatsapp_app_secret_file", &wa->secret, why, sizeof(why)) == 0)
		log_info("whatsapp: app secret read");
	return wa->secret;
}

/* --- media ids --- */

static void
media_free(struct wa_media *m)
{
	free(m->filename);
	free(m->bytes);
	free(m);
}

static void
media_forget(struct sbx_whatsapp *wa, struct wa_media *m)
{
	tab_del(&wa->media, &m->h);
	TAILQ_REMOVE(&wa->mq, m, fifo);
	if (m->bytes != NULL)
		wa->kept -= (size_t)m->size;
	media_free(m);
}

/* A new media id: 15 or 16 digits, not 0-led, not in use. */
static void
media_new_id(struct sbx_whatsapp *wa, char out[WA_ID_MAX + 1])
{
	unsigned char r[8];
	uint64_t v;
	int i;

	do {
		randombytes_buf(r, sizeof(r));
		for (v = 0, i = 0; i < 8; i++)
			v = (v << 8) | r[i];
		snprintf(out, WA_ID_MAX + 1, "%llu", (unsigned long long)
		    (1000000000000000ULL + v % 9000000000000000ULL));
	} while (tab_get(&wa->media, out) != NULL);
}

/*
 * Remember a media id with its facts; bytes (len) are copied when small
 * enough to keep.  The oldest ids, and kept bytes, go first.  NULL when out
 * of memory.
 */
static struct wa_media *
media_add(struct sbx_whatsapp *wa, const char *id, const char *mime,
    const char *filename, const unsigned char *data, size_t len)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	struct wa_media *m, *old;
	struct wa_node *nd;

	if ((nd = tab_get(&wa->media, id)) != NULL)
		media_forget(wa, (struct wa_media *)nd);
	while (wa->media.n >= WA_MAX_MEDIA && (old = TAILQ_FIRST(&wa->mq)))
		media_forget(wa, old);
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (filename != NULL && (m->filename = strdup(filename)) == NULL)) {
		free(m);
		return NULL;
	}
	snprintf(m->h.key, sizeof(m->h.key), "%s", id);
	snprintf(m->mime, sizeof(m->mime), "%s", mime);
	m->size = (long long)len;
	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(m->sha256, sizeof(m->sha256), h, sizeof(h));
	sodium_bin2base64(m->sha256_b64, sizeof(m->sha256_b64), h, sizeof(h),
	    sodium_base64_VARIANT_ORIGINAL);
	if (len <= WA_KEEP_ONE) {
		for (old = TAILQ_FIRST(&wa->mq); old != NULL &&
		    wa->kept + len > WA_KEEP_ALL; old = TAILQ_NEXT(old, fifo))
			if (old->bytes != NULL) {
				free(old->bytes);
				old->bytes = NULL;
				wa->kept -= (size_t)old->size;
			}
		if (wa->kept + len <= WA_KEEP_ALL &&
		    (m->bytes = malloc(len ? len : 1)) != NULL) {
			memcpy(m->bytes, data, len);
			wa->kept += len;
		}
	}
	tab_add(&wa->media, &m->h);
	TAILQ_INSERT_TAIL(&wa->mq, m, fifo);
	return m;
}

static struct wa_media *
media_get(struct sbx_whatsapp *wa, const char *id)
{
	if (strlen(id) >= sizeof(((struct wa_node *)0)->key))
		return NULL;
	return (struct wa_media *)tab_get(&wa->media, id);
}

void
sbx_whatsapp_reset(struct sbx_whatsapp *wa)
{
	struct wa_media *m;

	tab_clear(&wa->windows, node_free);
	tab_clear(&wa->rates, node_free);
	while ((m = TAILQ_FIRST(&wa->mq)) != NULL)
		media_forget(wa, m);
	wa->kept = 0;
}

void
sbx_whatsapp_free(struct sbx_whatsapp *wa)
{
	if (wa == NULL)
		return;
	sbx_whatsapp_reset(wa);
	free(wa->windows.b);
	free(wa->rates.b);
	free(wa->media.b);
	secret_free(wa->token);
	secret_free(wa->secret);
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

/* The customer wa_id wrote to pnid at ms. */
static void
win_note(struct sbx_whatsapp *wa, const char *pnid, const char *wa_id,
    long long ms)
{
	struct wa_win *w;
	char key[64];

	if (win_key(key, sizeof(key), pnid, wa_id) == -1)
		return;
	if ((w = (struct wa_win *)tab_get(&wa->windows, key)) != NULL) {
		if (ms > w->last_ms)
			w->last_ms = ms;
		return;
	}
	if (wa->windows.n >= WA_MAX_WINDOWS) {
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
	tab_add(&wa->windows, &w->h);
}

static int
win_open(struct sbx_whatsapp *wa, const char *pnid, const char *wa_id,
    long long now)
{
	struct wa_win *w;
	char key[64];

	if (win_key(key, sizeof(key), pnid, wa_id) == -1 ||
	    (w = (struct wa_win *)tab_get(&wa->windows, key)) == NULL)
		return 0;
	return now - w->last_ms < wa->window_s * 1000;
}

/* Were rate sends from pnid accepted in the last 1000 ms? */
static int
rate_full(struct sbx_whatsapp *wa, const char *pnid, long long now)
{
	struct wa_rate *r = (struct wa_rate *)tab_get(&wa->rates, pnid);

	return r != NULL && (long long)r->n >= wa->rate &&
	    now - r->t[r->head] < 1000;
}

static void
rate_note(struct sbx_whatsapp *wa, const char *pnid, long long now)
{
	struct wa_rate *r = (struct wa_rate *)tab_get(&wa->rates, pnid);
	size_t cap = (size_t)wa->rate;

	if (r == NULL) {
		if (wa->rates.n >= WA_MAX_NUMBERS ||
		    (r = calloc(1, sizeof(*r) + cap * sizeof(r->t[0]))) == NULL)
			return;
		snprintf(r->h.key, sizeof(r->h.key), "%s", pnid);
		tab_add(&wa->rates, &r->h);
	}
	if (r->n < cap)
		r->t[(r->head + r->n++) % cap] = now;
	else {
		r->t[r->head] = now;
		r->head = (r->head + 1) % cap;
	}
}

/* --- identifiers --- */

/*
 * A wamid as Meta makes them: "wamid." and base64 of 0x1c 0x18 <len>
 * <customer digits> 0x15 0x02 0x00 <0x11 out | 0x12 in> 0x18 <len>
 * <random upper-case hex> 0x00.
 */
static void
make_wamid(const char *digits, int inbound, char *out, size_t outsz)
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
static void
display_number(const char *pnid, char out[24])
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
static int
all_digits(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n <= max && strspn(s, "0123456789") == n;
}

/* Characters (code points) of a UTF-8 string. */
static size_t
utf8_chars(const char *s)
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
static void __attribute__((format(printf, 3, 4)))
say(char *buf, size_t sz, const char *fmt, ...)
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

static const char *
err_title(long code)
{
	size_t i;

	for (i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
		if (errtab[i].code == code)
			return errtab[i].title;
	return "Unknown error";
}

static const char *
err_details(long code)
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
static void
graph_error(struct sbx_jw *jw, long code, const char *message,
    const char *details)
{
	char msg[320], trace[32];

	if (message == NULL) {
		snprintf(msg, sizeof(msg), "(#%ld) %s", code, err_title(code));
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

static void
www_authenticate(struct evhttp_request *req)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "WWW-Authenticate", "OAuth \"Facebook Platform\" \"invalid_token\" "
	    "\"Invalid OAuth access token\"");
}

/* 401 with code 190, and Graph's WWW-Authenticate. */
static long
auth_error(struct evhttp_request *req, struct sbx_jw *jw)
{
	www_authenticate(req);
	graph_error(jw, 190, "Invalid OAuth access token", NULL);
	return 190;
}

/* The error body for a fault's HTTP status into jw; its code. */
static long
fault_error(struct sbx_jw *jw, const struct sbx_fault *f)
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
	graph_error(jw, code, f->message[0] != '\0' ? f->message : NULL,
	    code == 190 ? NULL : err_details(code));
	return code;
}

/* --- auth and the received log --- */

static enum wa_auth
check_auth(struct sbx_whatsapp *wa, struct evhttp_request *req)
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
static const char *
graph_method(struct evhttp_request *req)
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

/* What one API request was and got, for the received log. */
struct wa_rec {
	const char	*path;
	const char	*version;
	enum wa_auth	 auth;
	char		*body;		/* JSON text (malloc'd), NULL: null */
	int		 status;
	long		 code;
	char		 id[160];	/* wamid or media id answered */
	int		 fault;
};

/* A request body for the log: compact JSON when it parses, else a string. */
static char *
body_for_log(json_t *j, const char *body, size_t len)
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

static void
record(struct sbx_whatsapp *wa, struct evhttp_request *req,
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
static void
finish(struct sbx_whatsapp *wa, struct evhttp_request *req, struct wa_rec *r,
    struct sbx_jw *jw)
{
	record(wa, req, r);
	if (r->status >= 400)
		log_debug("whatsapp: %s %s refused: %d code=%ld",
		    sbx_method(req), r->path, r->status, r->code);
	sbx_reply_jw(req, r->status, jw);
	free(r->body);
	r->body = NULL;
}

/* --- status webhooks --- */

static void
msg_done(struct sbx_chain *c)
{
	struct wa_msg *m = (struct wa_msg *)c;

	free(m->biz);
	free(m);
}

/* The notification envelope around one change's value (stolen). */
static json_t *
notification(const char *pnid, json_t *value)
{
	char waba[24];

	waba_id(pnid, waba);
	return json_pack("{s:s, s:[{s:s, s:[{s:o, s:s}]}]}",
	    "object", "whatsapp_business_account",
	    "entry", "id", waba, "changes", "value", value, "field", "messages");
}

/* A value's messaging_product and metadata for pnid. */
static json_t *
value_new(const char *pnid)
{
	char disp[24];

	display_number(pnid, disp);
	return json_pack("{s:s, s:{s:s, s:s}}", "messaging_product", "whatsapp",
	    "metadata", "display_phone_number", disp, "phone_number_id", pnid);
}

/* The signed headers of a webhook body into hdrs (sighdr holds one). */
static void
hook_headers(struct sbx_whatsapp *wa, const char *body, size_t len,
    const char *hdrs[4], char *sighdr, size_t sighdrsz)
{
	char sig[SIG_META_LEN + 1];
	const char *secret = app_secret(wa);
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

/* One status of m as Meta posts it. */
static json_t *
status_json(struct wa_msg *m, const char *st)
{
	char ts[24], exp[24];
	time_t now = time(NULL);
	json_t *s, *e;
	int billable = strcmp(m->category, "service") != 0;

	snprintf(ts, sizeof(ts), "%lld", (long long)now);
	s = json_pack("{s:s, s:s, s:s, s:s}", "id", m->wamid, "status", st,
	    "timestamp", ts, "recipient_id", m->recipient);
	if (s == NULL)
		return NULL;
	if (strcmp(st, "failed") == 0) {
		e = json_pack("[{s:I, s:s, s:s, s:{s:s}, s:s}]",
		    "code", (json_int_t)m->error_code,
		    "title", err_title(m->error_code),
		    "message", err_title(m->error_code),
		    "error_data", "details", err_details(m->error_code),
		    "href", WA_HREF);
		if (e != NULL)
			json_object_set_new(s, "errors", e);
	} else if (strcmp(st, "read") != 0) {
		if (strcmp(st, "sent") == 0) {
			snprintf(exp, sizeof(exp), "%lld",
			    (long long)now + 86400);
			e = json_pack("{s:s, s:s, s:{s:s}}", "id", m->conv,
			    "expiration_timestamp", exp, "origin", "type",
			    m->category);
		} else
			e = json_pack("{s:s, s:{s:s}}", "id", m->conv,
			    "origin", "type", m->category);
		if (e != NULL)
			json_object_set_new(s, "conversation", e);
		e = json_pack("{s:b, s:s, s:s, s:s}", "billable", billable,
		    "pricing_model", "PMP", "category", m->category, "type",
		    billable ? "regular" : "free_customer_service");
		if (e != NULL)
			json_object_set_new(s, "pricing", e);
	}
	if (m->biz != NULL)
		json_object_set_new(s, "biz_opaque_callback_data",
		    json_string(m->biz));
	return s;
}

/* Post step st's status webhook (repeat times). */
static void
msg_step(struct sbx_chain *c, const char *st)
{
	struct wa_msg *m = (struct wa_msg *)c;
	struct sbx_whatsapp *wa = m->wa;
	const char *hdrs[4];
	char sighdr[SIG_META_LEN + 32], *body = NULL;
	json_t *value, *n = NULL, *s;
	size_t len;

	if ((value = value_new(m->pnid)) != NULL &&
	    (s = status_json(m, st)) != NULL)
		json_object_set_new(value, "statuses", json_pack("[o]", s));
	if (value != NULL)
		n = notification(m->pnid, value);
	if (n == NULL || (body = json_dumps(n, JSON_COMPACT)) == NULL) {
		log_warnx("whatsapp: %s: cannot build the %s webhook", m->wamid,
		    st);
		json_decref(n);
		sbx_chain_end(c);
		return;
	}
	json_decref(n);
	len = strlen(body);
	hook_headers(wa, body, len, hdrs, sighdr, sizeof(sighdr));
	sbx_chain_post(c, "whatsapp", wa->webhook_url, hdrs, body, len,
	    body);	/* may free m */
	free(body);
}

/* A sent message whose status webhooks will follow, or NULL (logged). */
static struct wa_msg *
msg_new(struct sbx_whatsapp *wa, const char *wamid, const char *pnid,
    const char *wa_id, const char *biz, int tmpl, long fail_code,
    const struct sbx_fault *fault)
{
	static const char *const failed[] = { "failed" };
	static const char *const seq[] = { "sent", "delivered", "read" };
	unsigned char r[16];
	struct wa_msg *m;

	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (biz != NULL && (m->biz = strdup(biz)) == NULL) ||
	    sbx_chain_init(&m->c, wa->sb, &wa->status_delay_ms, msg_step,
	    msg_done, "whatsapp: %s", wamid) == -1) {
		if (m != NULL)
			msg_done(&m->c);
		log_warnx("whatsapp: %s: out of memory; no status webhooks",
		    wamid);
		return NULL;
	}
	m->wa = wa;
	snprintf(m->wamid, sizeof(m->wamid), "%s", wamid);
	snprintf(m->pnid, sizeof(m->pnid), "%s", pnid);
	snprintf(m->recipient, sizeof(m->recipient), "%s", wa_id);
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(m->conv, sizeof(m->conv), r, sizeof(r));
	m->category = tmpl ? "marketing" : "service";
	if (fault != NULL && fault->status[0] != '\0')
		fail_code = fault->error_code ? fault->error_code : 131026;
	/*
	 * A failed message was never sent; the others go sent, delivered,
	 * read (reordered: read, sent, delivered).
	 */
	m->error_code = fail_code;
	if (fail_code != 0)
		sbx_chain_plan(&m->c, failed, 1, fault);
	else
		sbx_chain_plan(&m->c, seq, 3, fault);
	return m;
}

/* --- validating a send call, in Meta's order --- */

/* What a valid send call is about. */
struct wa_send {
	const char	*to;		/* as given */
	char		 wa_id[24];
	const char	*type;
	int		 tmpl;
	int		 undeliverable;	/* accepted, then failed with 131026 */
	const char	*biz;
};

#define MISSING(what)	(say(d, dsz, "The parameter %s is required.", \
	what), 131008L)

/* A string member: 1 present (*out), 0 absent, -1 present but not a string. */
static int
get_s(json_t *o, const char *key, const char **out)
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

/* `to`: digits, an optional leading '+', and the separators people type. */
static int
parse_to(const char *to, struct wa_send *s)
{
	const char *p = to;
	size_t n = 0;

	if (*p == '+')
		p++;
	for (; *p != '\0'; p++) {
		if (isdigit((unsigned char)*p)) {
			if (n + 1 >= sizeof(s->wa_id))
				return -1;
			s->wa_id[n++] = *p;
		} else if (*p != ' ' && *p != '-' && *p != '(' && *p != ')' &&
		    *p != '.')
			return -1;
	}
	s->wa_id[n] = '\0';
	if (n == 0)
		return -1;
	/* Not a phone number anywhere: Meta accepts it, then fails it. */
	s->undeliverable = n < 8 || n > 15 || s->wa_id[0] == '0';
	return 0;
}

/* A media object (send call or template parameter); what names it. */
static long
check_media(struct sbx_whatsapp *wa, const char *type, json_t *o,
    const char *what, char *d, size_t dsz)
{
	const char *id, *link, *cap, *fn;
	int hid, hlink;
	char w[96];

	if (!json_is_object(o)) {
		say(d, dsz, "Param %s must be a JSON object.", what);
		return 100;
	}
	hid = get_s(o, "id", &id);
	hlink = get_s(o, "link", &link);
	if (hid == 0 && hlink == 0) {
		say(w, sizeof(w), "%s['id'] or %s['link']", what, what);
		return MISSING(w);
	}
	if (hid != 0 && hlink != 0) {
		say(d, dsz, "Param %s must have only one of id or link.",
		    what);
		return 100;
	}
	if (hid == -1 || hlink == -1) {
		say(d, dsz, "Param %s['%s'] must be a string.", what,
		    hid == -1 ? "id" : "link");
		return 100;
	}
	if (hid == 1 && media_get(wa, id) == NULL) {
		say(d, dsz, "Param %s['id'] is not a valid media ID: %.40s",
		    what, id);
		return 131009;
	}
	if (hlink == 1 && !sbx_valid_url(link)) {
		say(d, dsz, "Param %s['link'] is not a valid URI.", what);
		return 100;
	}
	if (type == NULL)
		return 0;	/* a template parameter: no caption rules */
	if (get_s(o, "caption", &cap) != 0) {
		if (strcmp(type, "audio") == 0 || strcmp(type, "sticker") == 0) {
			say(d, dsz, "Param %s['caption'] is not allowed for "
			    "%s messages.", what, type);
			return 100;
		}
		if (cap == NULL) {
			say(d, dsz, "Param %s['caption'] must be a string.",
			    what);
			return 100;
		}
		if (utf8_chars(cap) > WA_CAPTION_MAX) {
			say(d, dsz, "Param %s['caption'] must be at most %d "
			    "characters long.", what, WA_CAPTION_MAX);
			return 100;
		}
	}
	if (get_s(o, "filename", &fn) != 0) {
		if (strcmp(type, "document") != 0) {
			say(d, dsz, "Param %s['filename'] is only allowed for "
			    "document messages.", what);
			return 100;
		}
		if (fn == NULL || *fn == '\0' || strlen(fn) > 255) {
			say(d, dsz, "Param %s['filename'] must be a string of "
			    "1 to 255 bytes.", what);
			return 100;
		}
	}
	return 0;
}

static int
in_list(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* One template component parameter. */
static long
check_tparam(struct sbx_whatsapp *wa, json_t *p, const char *where, char *d,
    size_t dsz)
{
	static const char *const ptypes[] = { "text", "currency", "date_time",
	    "image", "document", "video", "location", "payload", "coupon_code",
	    "action", "product", NULL };
	const char *t, *v;
	char w[128];
	json_t *o;
	int r;

	if (!json_is_object(p)) {
		say(d, dsz, "Param %s must be a JSON object.", where);
		return 131009;
	}
	if ((r = get_s(p, "type", &t)) == 0) {
		say(w, sizeof(w), "%s['type']", where);
		return MISSING(w);
	}
	if (r == -1 || !in_list(t, ptypes)) {
		say(d, dsz, "Param %s['type'] must be one of {TEXT, "
		    "CURRENCY, DATE_TIME, IMAGE, DOCUMENT, VIDEO, LOCATION, "
		    "PAYLOAD, COUPON_CODE, ACTION, PRODUCT}.", where);
		return 131009;
	}
	if (strcmp(t, "text") == 0 || strcmp(t, "payload") == 0 ||
	    strcmp(t, "coupon_code") == 0) {
		if ((r = get_s(p, t, &v)) == 0) {
			say(w, sizeof(w), "%s['%s']", where, t);
			return MISSING(w);
		}
		if (r == -1 || (strcmp(t, "text") == 0 && *v == '\0')) {
			say(d, dsz, "Param %s['%s'] must be a non-empty "
			    "string.", where, t);
			return 131009;
		}
		return 0;
	}
	if ((o = json_object_get(p, t)) == NULL) {
		say(w, sizeof(w), "%s['%s']", where, t);
		return MISSING(w);
	}
	if (strcmp(t, "image") == 0 || strcmp(t, "document") == 0 ||
	    strcmp(t, "video") == 0) {
		say(w, sizeof(w), "%s['%s']", where, t);
		return check_media(wa, NULL, o, w, d, dsz);
	}
	if (!json_is_object(o)) {
		say(d, dsz, "Param %s['%s'] must be a JSON object.", where, t);
		return 131009;
	}
	if ((strcmp(t, "currency") == 0 || strcmp(t, "date_time") == 0) &&
	    get_s(o, "fallback_value", &v) != 1) {
		say(w, sizeof(w), "%s['%s']['fallback_value']", where, t);
		return MISSING(w);
	}
	return 0;
}

static long
check_template(struct sbx_whatsapp *wa, json_t *t, char *d, size_t dsz)
{
	static const char *const ctypes[] = { "header", "body", "button",
	    "footer", NULL };
	static const char *const subtypes[] = { "quick_reply", "url",
	    "copy_code", "flow", "catalog", "mpm", "voice_call", "otp", NULL };
	const char *name, *code, *ct, *st, *idx;
	json_t *lang, *comps, *c, *params, *p, *iv;
	char where[96], w[128];
	size_t i, k;
	long rc;
	int r;

	if ((r = get_s(t, "name", &name)) == 0)
		return MISSING("template['name']");
	if (r == -1 || *name == '\0' || strlen(name) > 512) {
		say(d, dsz, "Param template['name'] must be a string of 1 "
		    "to 512 characters.");
		return 131009;
	}
	if ((lang = json_object_get(t, "language")) == NULL)
		return MISSING("template['language']");
	if (!json_is_object(lang)) {
		say(d, dsz, "Param template['language'] must be a JSON "
		    "object.");
		return 131009;
	}
	if ((r = get_s(lang, "code", &code)) == 0)
		return MISSING("template['language']['code']");
	if (r == -1 || *code == '\0' || strlen(code) > 16) {
		say(d, dsz, "Param template['language']['code'] is not a "
		    "language code.");
		return 131009;
	}
	if ((comps = json_object_get(t, "components")) == NULL)
		return 0;
	if (!json_is_array(comps)) {
		say(d, dsz, "Param template['components'] must be an "
		    "array.");
		return 131009;
	}
	json_array_foreach(comps, i, c) {
		say(where, sizeof(where), "template['components'][%zu]", i);
		if (!json_is_object(c)) {
			say(d, dsz, "Param %s must be a JSON object.", where);
			return 131009;
		}
		if ((r = get_s(c, "type", &ct)) == 0) {
			say(w, sizeof(w), "%s['type']", where);
			return MISSING(w);
		}
		if (r == -1 || !in_list(ct, ctypes)) {
			say(d, dsz, "Param %s['type'] must be one of "
			    "{HEADER, BODY, BUTTON, FOOTER}.", where);
			return 131009;
		}
		if (strcmp(ct, "button") == 0) {
			if ((r = get_s(c, "sub_type", &st)) == 0) {
				say(w, sizeof(w), "%s['sub_type']", where);
				return MISSING(w);
			}
			if (r == -1 || !in_list(st, subtypes)) {
				say(d, dsz, "Param %s['sub_type'] is not a "
				    "button sub type.", where);
				return 131009;
			}
			if ((iv = json_object_get(c, "index")) == NULL) {
				say(w, sizeof(w), "%s['index']", where);
				return MISSING(w);
			}
			idx = json_is_string(iv) ? json_string_value(iv) : NULL;
			if (!(json_is_integer(iv) && json_integer_value(iv) >= 0 &&
			    json_integer_value(iv) <= 9) &&
			    !(idx != NULL && strlen(idx) == 1 &&
			    isdigit((unsigned char)idx[0]))) {
				say(d, dsz, "Param %s['index'] must be 0 to 9.",
				    where);
				return 131009;
			}
		}
		if ((params = json_object_get(c, "parameters")) == NULL)
			continue;
		if (!json_is_array(params)) {
			say(d, dsz, "Param %s['parameters'] must be an "
			    "array.", where);
			return 131009;
		}
		json_array_foreach(params, k, p) {
			say(w, sizeof(w), "%s['parameters'][%zu]", where, k);
			if ((rc = check_tparam(wa, p, w, d, dsz)) != 0)
				return rc;
		}
	}
	return 0;
}

static long
check_location(json_t *o, char *d, size_t dsz)
{
	static const char *const k[] = { "latitude", "longitude" };
	const char *s;
	json_t *v;
	double x;
	int i;

	for (i = 0; i < 2; i++) {
		if ((v = json_object_get(o, k[i])) == NULL) {
			say(d, dsz, "The parameter location['%s'] is "
			    "required.", k[i]);
			return 131008;
		}
		x = json_is_number(v) ? json_number_value(v) :
		    json_is_string(v) ? strtod(json_string_value(v), NULL) : NAN;
		if (isnan(x) || fabs(x) > (i == 0 ? 90 : 180)) {
			say(d, dsz, "Param location['%s'] is not a valid "
			    "coordinate.", k[i]);
			return 100;
		}
	}
	if (get_s(o, "name", &s) == -1 || get_s(o, "address", &s) == -1) {
		say(d, dsz, "Params location['name'] and "
		    "location['address'] must be strings.");
		return 100;
	}
	return 0;
}

static long
check_contacts(json_t *a, char *d, size_t dsz)
{
	const char *fn;
	json_t *c, *name;
	char w[96];
	size_t i;

	if (!json_is_array(a) || json_array_size(a) == 0) {
		say(d, dsz, "Param contacts must be a non-empty array.");
		return 100;
	}
	json_array_foreach(a, i, c) {
		if (!json_is_object(c) ||
		    (name = json_object_get(c, "name")) == NULL ||
		    !json_is_object(name) || get_s(name, "formatted_name", &fn) != 1) {
			say(w, sizeof(w), "contacts[%zu]['name']"
			    "['formatted_name']", i);
			return MISSING(w);
		}
	}
	return 0;
}

static long
check_interactive(json_t *o, char *d, size_t dsz)
{
	static const char *const itypes[] = { "button", "list", "cta_url",
	    "product", "product_list", "catalog_message", "flow",
	    "location_request_message", "address_message",
	    "call_permission_request", NULL };
	const char *t, *text;
	json_t *body;
	int r;

	if ((r = get_s(o, "type", &t)) == 0)
		return MISSING("interactive['type']");
	if (r == -1 || !in_list(t, itypes)) {
		say(d, dsz, "Param interactive['type'] must be one of "
		    "{BUTTON, LIST, CTA_URL, PRODUCT, PRODUCT_LIST, "
		    "CATALOG_MESSAGE, FLOW, LOCATION_REQUEST_MESSAGE, "
		    "ADDRESS_MESSAGE, CALL_PERMISSION_REQUEST}.");
		return 100;
	}
	if (strcmp(t, "product") != 0 && strcmp(t, "product_list") != 0) {
		if ((body = json_object_get(o, "body")) == NULL)
			return MISSING("interactive['body']");
		if (!json_is_object(body) || (r = get_s(body, "text", &text)) == 0)
			return MISSING("interactive['body']['text']");
		if (r == -1 || utf8_chars(text) > WA_TEXT_MAX) {
			say(d, dsz, "Param interactive['body']['text'] must "
			    "be a string of at most %d characters.", WA_TEXT_MAX);
			return 100;
		}
	}
	if (json_object_get(o, "action") == NULL)
		return MISSING("interactive['action']");
	if (!json_is_object(json_object_get(o, "action"))) {
		say(d, dsz, "Param interactive['action'] must be a JSON "
		    "object.");
		return 100;
	}
	return 0;
}

/*
 * Validate a send call the way Meta does, in its order.  0 when valid (s
 * filled), else the error code with the details in d.
 */
static long
validate(struct sbx_whatsapp *wa, json_t *j, struct wa_send *s, char *d,
    size_t dsz)
{
	const char *mp, *rt, *body, *mid, *emoji;
	json_t *o, *ctx, *pv;
	char what[48];
	size_t blen;
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = get_s(j, "messaging_product", &mp)) == 0) {
		say(d, dsz, "The parameter messaging_product is required.");
		return 100;
	}
	if (r == -1 || strcmp(mp, "whatsapp") != 0) {
		say(d, dsz, "Param messaging_product must be \"whatsapp\".");
		return 100;
	}
	if ((r = get_s(j, "recipient_type", &rt)) != 0 &&
	    (r == -1 || strcmp(rt, "individual") != 0)) {
		say(d, dsz, "Param recipient_type must be \"individual\".");
		return 100;
	}
	if ((r = get_s(j, "to", &s->to)) == 0) {
		say(d, dsz, "The parameter to is required.");
		return 100;
	}
	if (r == -1 || parse_to(s->to, s) == -1) {
		say(d, dsz, "Invalid parameter: to must be a phone number "
		    "(digits with an optional leading '+').");
		return 100;
	}
	if ((r = get_s(j, "type", &s->type)) == 0)
		s->type = "text";	/* Meta's default */
	if (r == -1 || !in_list(s->type, send_types)) {
		say(d, dsz, "Param type must be one of {AUDIO, CONTACTS, "
		    "DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, STICKER, "
		    "TEMPLATE, TEXT, VIDEO} - got \"%.32s\".",
		    r == -1 ? "?" : s->type);
		return 100;
	}
	s->tmpl = strcmp(s->type, "template") == 0;
	if ((o = json_object_get(j, s->type)) == NULL) {
		snprintf(what, sizeof(what), "%s", s->type);
		return MISSING(what);
	}
	if (strcmp(s->type, "contacts") == 0) {
		long rc = check_contacts(o, d, dsz);
		if (rc != 0)
			return rc;
	} else if (!json_is_object(o)) {
		say(d, dsz, "Param %s must be a JSON object.", s->type);
		return 100;
	} else if (strcmp(s->type, "text") == 0) {
		if ((r = get_s(o, "body", &body)) == 0)
			return MISSING("text['body']");
		if (r == -1) {
			say(d, dsz, "Param text['body'] must be a string.");
			return 100;
		}
		if ((blen = utf8_chars(body)) == 0) {
			say(d, dsz, "Param text['body'] must be at least 1 "
			    "character long.");
			return 100;
		}
		if (blen > WA_TEXT_MAX) {
			say(d, dsz, "Param text['body'] must be at most %d "
			    "characters long.", WA_TEXT_MAX);
			return 100;
		}
		if ((pv = json_object_get(o, "preview_url")) != NULL &&
		    !json_is_boolean(pv)) {
			say(d, dsz, "Param text['preview_url'] must be a "
			    "boolean.");
			return 100;
		}
	} else if (s->tmpl) {
		long rc = check_template(wa, o, d, dsz);
		if (rc != 0)
			return rc;
	} else if (strcmp(s->type, "location") == 0) {
		long rc = check_location(o, d, dsz);
		if (rc != 0)
			return rc;
	} else if (strcmp(s->type, "interactive") == 0) {
		long rc = check_interactive(o, d, dsz);
		if (rc != 0)
			return rc;
	} else if (strcmp(s->type, "reaction") == 0) {
		if ((r = get_s(o, "message_id", &mid)) == 0)
			return MISSING("reaction['message_id']");
		if (r == -1 || *mid == '\0') {
			say(d, dsz, "Param reaction['message_id'] must be a "
			    "wamid.");
			return 131009;
		}
		if ((r = get_s(o, "emoji", &emoji)) == 0)
			return MISSING("reaction['emoji']");
		if (r == -1) {
			say(d, dsz, "Param reaction['emoji'] must be a "
			    "string.");
			return 100;
		}
	} else {
		long rc = check_media(wa, s->type, o, s->type, d, dsz);
		if (rc != 0)
			return rc;
	}
	if ((ctx = json_object_get(j, "context")) != NULL) {
		if (!json_is_object(ctx) ||
		    (r = get_s(ctx, "message_id", &mid)) == 0)
			return MISSING("context['message_id']");
		if (r == -1 || *mid == '\0') {
			say(d, dsz, "Param context['message_id'] must be a "
			    "wamid.");
			return 131009;
		}
	}
	if ((r = get_s(j, "biz_opaque_callback_data", &s->biz)) != 0 &&
	    (r == -1 || strlen(s->biz) > WA_BIZ_MAX)) {
		say(d, dsz, "Param biz_opaque_callback_data must be a string "
		    "of at most %d bytes.", WA_BIZ_MAX);
		return 100;
	}
	return 0;
}

/* Content-Type is mime (parameters after ';' ignored, case too). */
static int
ctype_is(const char *h, const char *mime)
{
	size_t n = strlen(mime);

	if (h == NULL)
		return 0;
	while (*h == ' ')
		h++;
	return strncasecmp(h, mime, n) == 0 &&
	    (h[n] == '\0' || h[n] == ';' || h[n] == ' ');
}

/* POST /{version}/{phone_number_id}/messages */
static void
send_call(struct sbx_whatsapp *wa, struct evhttp_request *req,
    struct wa_rec *r, const char *pnid)
{
	struct sbx *sb = wa->sb;
	struct sbx_fault fault, *fp = NULL;
	struct wa_msg *m = NULL;
	struct wa_send s;
	struct sbx_jw ans;
	json_error_t jerr;
	json_t *j = NULL;
	const char *body, *ct;
	char d[512];
	long long now;
	size_t len;

	sbx_jw_init(&ans);
	r->auth = check_auth(wa, req);
	ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	if ((body = sbx_body(req, &len)) == NULL) {
		r->status = 413;
		r->code = 100;
		graph_error(&ans, r->code, NULL, "The request body is over 1 MiB.");
		goto done;
	}
	/* Parsed before the auth check only so that the log shows it. */
	j = json_loadb(body, len, 0, &jerr);
	r->body = body_for_log(j, body, len);
	if (r->auth != WA_AUTH_OK) {
		r->status = 401;
		r->code = auth_error(req, &ans);
		goto done;
	}
	r->status = 400;
	if (!ctype_is(ct, "application/json")) {
		r->code = 100;
		graph_error(&ans, r->code, NULL, "Content-Type must be "
		    "application/json.");
		goto done;
	}
	if (j == NULL || !json_is_object(j)) {
		r->code = 100;
		snprintf(d, sizeof(d), "The request body is not a JSON object%s%s",
		    j == NULL ? ": " : ".", j == NULL ? jerr.text : "");
		graph_error(&ans, r->code, NULL, d);
		goto done;
	}
	if ((r->code = validate(wa, j, &s, d, sizeof(d))) != 0) {
		graph_error(&ans, r->code, NULL, d);
		goto done;
	}
	now = daemon_now_ms();
	if (rate_full(wa, pnid, now)) {
		r->code = 130429;
		graph_error(&ans, r->code, NULL, err_details(r->code));
		goto done;
	}
	if (!s.tmpl && !win_open(wa, pnid, s.wa_id, now)) {
		r->code = 131047;
		graph_error(&ans, r->code, NULL, err_details(r->code));
		goto done;
	}
	if (sbx_fault_match(sb->faults, "whatsapp", s.wa_id, &fault))
		fp = &fault;
	if (fp != NULL && fp->http != 0) {
		r->status = fp->http;
		if ((r->code = fault_error(&ans, fp)) == 190)
			www_authenticate(req);
		goto done;
	}
	r->status = 200;
	r->code = 0;
	rate_note(wa, pnid, now);
	make_wamid(s.wa_id, 0, r->id, sizeof(r->id));
	sbx_jw_open(&ans, NULL);
	sbx_jw_str(&ans, "messaging_product", "whatsapp");
	sbx_jw_array(&ans, "contacts");
	sbx_jw_open(&ans, NULL);
	sbx_jw_str(&ans, "input", s.to);
	sbx_jw_str(&ans, "wa_id", s.wa_id);
	sbx_jw_close(&ans);
	sbx_jw_array_end(&ans);
	sbx_jw_array(&ans, "messages");
	sbx_jw_open(&ans, NULL);
	sbx_jw_str(&ans, "id", r->id);
	if (s.tmpl)
		sbx_jw_str(&ans, "message_status", "accepted");
	sbx_jw_close(&ans);
	sbx_jw_array_end(&ans);
	sbx_jw_close(&ans);
	m = msg_new(wa, r->id, pnid, s.wa_id, s.biz, s.tmpl,
	    s.undeliverable ? 131026 : 0, fp);
done:
	r->fault = fp ? fp->id : 0;
	record(wa, req, r);
	if (r->status != 200)
		log_debug("whatsapp: send refused: %d code=%ld", r->status,
		    r->code);
	if (sbx_answer(sb, req, r->status, &ans, fp ? fp->delay_ms : 0,
	    m ? &m->c : NULL) == -1)
		log_warnx("whatsapp: cannot delay an answer; answering now");
	free(r->body);
	r->body = NULL;
	json_decref(j);
}

/* --- media uploads: a small multipart/form-data parser --- */

struct mp_part {
	char		 name[64];
	char		 filename[256];
	char		 ctype[128];
	int		 has_filename;
	const unsigned char *data;
	size_t		 len;
};

/* The boundary of a multipart/form-data Content-Type into out; -1 if none. */
static int
mp_boundary(const char *ct, char *out, size_t outsz)
{
	const char *p;
	size_t n;

	if (!ctype_is(ct, "multipart/form-data"))
		return -1;
	for (p = ct; (p = strchr(p, ';')) != NULL; ) {
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		if (strncasecmp(p, "boundary=", 9) != 0)
			continue;
		p += 9;
		if (*p == '"') {
			p++;
			n = strcspn(p, "\"");
			if (p[n] != '"')
				return -1;
		} else
			n = strcspn(p, "; \t");
		if (n == 0 || n > 70 || n >= outsz)
			return -1;
		memcpy(out, p, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

/*
 * The value of parameter name in a header value's ";"-separated list
 * (h, hl bytes; the first item, the disposition type, is skipped) into out:
 * 1 found, 0 absent, -1 malformed or too long.
 */
static int
mp_param(const char *h, size_t hl, const char *name, char *out, size_t outsz)
{
	size_t i = 0, ks, ke, o;
	int match, quoted;

	while (i < hl && h[i] != ';')
		i++;
	while (i < hl) {
		i++;	/* the ';' */
		while (i < hl && (h[i] == ' ' || h[i] == '\t'))
			i++;
		ks = i;
		while (i < hl && h[i] != '=' && h[i] != ';')
			i++;
		for (ke = i; ke > ks && (h[ke - 1] == ' ' || h[ke - 1] == '\t');
		    ke--)
			;
		match = ke - ks == strlen(name) &&
		    strncasecmp(h + ks, name, ke - ks) == 0;
		if (i >= hl || h[i] == ';')
			continue;	/* a parameter without a value */
		i++;	/* the '=' */
		while (i < hl && (h[i] == ' ' || h[i] == '\t'))
			i++;
		o = 0;
		quoted = i < hl && h[i] == '"';
		if (quoted) {
			for (i++; i < hl && h[i] != '"'; i++) {
				if (h[i] == '\\' && i + 1 < hl)
					i++;
				if (match) {
					if (o + 1 >= outsz)
						return -1;
					out[o++] = h[i];
				}
			}
			if (i >= hl)
				return -1;	/* unterminated */
			i++;
			while (i < hl && h[i] != ';')
				i++;
		} else {
			for (; i < hl && h[i] != ';'; i++)
				if (match) {
					if (o + 1 >= outsz)
						return -1;
					out[o++] = h[i];
				}
			while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
				o--;
		}
		if (match) {
			out[o] = '\0';
			return 1;
		}
	}
	return 0;
}

/* A part's header block (hl bytes, lines split by CRLF) into part. */
static int
mp_headers(const char *h, size_t hl, struct mp_part *part, const char **why)
{
	const char *line = h, *end = h + hl, *eol, *colon, *v;
	size_t ll, vl;
	int disp = 0, r;

	if (memchr(h, '\0', hl) != NULL) {
		*why = "a NUL byte in part headers";
		return -1;
	}
	while (line < end) {
		eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		ll = eol ? (size_t)(eol - line) : (size_t)(end - line);
		if (ll > 0 && line[0] != ' ' && line[0] != '\t') {
			if ((colon = memchr(line, ':', ll)) == NULL) {
				*why = "a part header line without ':'";
				return -1;
			}
			for (v = colon + 1; v < line + ll && (*v == ' ' ||
			    *v == '\t'); v++)
				;
			vl = (size_t)(line + ll - v);
			if ((size_t)(colon - line) == 19 &&
			    strncasecmp(line, "Content-Disposition", 19) == 0) {
				if (vl < 9 || strncasecmp(v, "form-data", 9) != 0 ||
				    (vl > 9 && v[9] != ';' && v[9] != ' ')) {
					*why = "a part that is not form-data";
					return -1;
				}
				disp = 1;
				if (mp_param(v, vl, "name", part->name,
				    sizeof(part->name)) != 1) {
					*why = "a part without a usable name";
					return -1;
				}
				if ((r = mp_param(v, vl, "filename",
				    part->filename, sizeof(part->filename))) == -1) {
					*why = "a part filename over 255 bytes";
					return -1;
				}
				part->has_filename = r == 1;
			} else if ((size_t)(colon - line) == 12 &&
			    strncasecmp(line, "Content-Type", 12) == 0) {
				if (vl >= sizeof(part->ctype)) {
					*why = "a part Content-Type too long";
					return -1;
				}
				memcpy(part->ctype, v, vl);
				part->ctype[vl] = '\0';
			}
		}
		line += ll + 2;
	}
	if (!disp) {
		*why = "a part without Content-Disposition";
		return -1;
	}
	return 0;
}

/*
 * Split a multipart body (len bytes) at boundary into at most max parts,
 * pointing into b (nothing copied).  -1 with why when malformed.
 */
static int
mp_parse(const unsigned char *b, size_t len, const char *boundary,
    struct mp_part *parts, size_t max, size_t *np, const char **why)
{
	const unsigned char *p, *end = b + len, *hend, *data, *next;
	char delim[80];
	size_t dl, hl;

	*np = 0;
	dl = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	/* The first delimiter starts the body or a line (after a preamble). */
	if (len >= dl - 2 && memcmp(b, delim + 2, dl - 2) == 0)
		p = b + dl - 2;
	else if ((p = memmem(b, len, delim, dl)) != NULL)
		p += dl;
	else {
		*why = "no boundary delimiter";
		return -1;
	}
	for (;;) {
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return 0;	/* the close delimiter; the rest is epilogue */
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
			*why = "a malformed boundary line";
			return -1;
		}
		p += 2;
		if (*np == max) {
			*why = "too many parts";
			return -1;
		}
		memset(&parts[*np], 0, sizeof(parts[*np]));
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
			*why = "a part without Content-Disposition";
			return -1;
		}
		hl = (size_t)(end - p) < WA_MAX_PART_HEADERS + 4 ?
		    (size_t)(end - p) : WA_MAX_PART_HEADERS + 4;
		if ((hend = memmem(p, hl, "\r\n\r\n", 4)) == NULL) {
			*why = "part headers too long or cut short";
			return -1;
		}
		if (mp_headers((const char *)p, (size_t)(hend - p), &parts[*np],
		    why) == -1)
			return -1;
		data = hend + 4;
		if ((next = memmem(data, (size_t)(end - data), delim, dl)) ==
		    NULL) {
			*why = "cut short: no closing boundary";
			return -1;
		}
		parts[*np].data = data;
		parts[*np].len = (size_t)(next - data);
		(*np)++;
		p = next + dl;
	}
}

/* The first part named name, or NULL. */
static const struct mp_part *
mp_find(const struct mp_part *parts, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(parts[i].name, name) == 0)
			return &parts[i];
	return NULL;
}

/* A field part's value as a string into out; -1 if it has a NUL or is long. */
static int
mp_value(const struct mp_part *p, char *out, size_t outsz)
{
	if (p->len >= outsz || memchr(p->data, '\0', p->len) != NULL)
		return -1;
	memcpy(out, p->data, p->len);
	out[p->len] = '\0';
	return 0;
}

/* The base MIME type of a type value (parameters dropped, lower case). */
static void
base_mime(const char *t, char *out, size_t outsz)
{
	size_t n, i;

	while (*t == ' ')
		t++;
	n = strcspn(t, "; ");
	if (n >= outsz)
		n = outsz - 1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)t[i]);
	out[n] = '\0';
}

/* The upload as the log shows it: fields, and the file without its bytes. */
static char *
upload_for_log(const struct mp_part *parts, size_t n, const char *sha)
{
	struct sbx_jw jw;
	char v[1024];
	size_t i;

	sbx_jw_init(&jw);
	sbx_jw_open(&jw, NULL);
	for (i = 0; i < n; i++) {
		if (parts[i].has_filename) {
			sbx_jw_open(&jw, parts[i].name);
			sbx_jw_str(&jw, "filename", parts[i].filename);
			sbx_jw_str(&jw, "content_type", parts[i].ctype[0] ?
			    parts[i].ctype : NULL);
			sbx_jw_int(&jw, "size", (long long)parts[i].len);
			if (strcmp(parts[i].name, "file") == 0 && sha != NULL)
				sbx_jw_str(&jw, "sha256", sha);
			sbx_jw_close(&jw);
		} else if (mp_value(&parts[i], v, sizeof(v)) == 0)
			sbx_jw_str(&jw, parts[i].name, v);
		else
			sbx_jw_str(&jw, parts[i].name, "(binary or long value)");
	}
	sbx_jw_close(&jw);
	if (jw.oom) {
		sbx_jw_free(&jw);
		return NULL;
	}
	return jw.buf;	/* taken over */
}

/* POST /{version}/{phone_number_id}/media */
static void
upload_call(struct sbx_whatsapp *wa, struct evhttp_request *req,
    struct wa_rec *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct mp_part parts[WA_MAX_PARTS];
	const struct mp_part *mpp, *typ, *file;
	struct wa_media *m;
	const unsigned char *b = NULL;
	const char *ct, *why = NULL;
	char boundary[80], v[256], mime[128], d[1024];
	size_t len = evbuffer_get_length(in), n = 0;
	long long limit;
	struct sbx_jw ans;

	sbx_jw_init(&ans);
	r->auth = check_auth(wa, req);
	ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	if (len > WA_MAX_UPLOAD) {
		r->status = 413;
		r->code = 100;
		graph_error(&ans, r->code, NULL, "The request body is over "
		    "100 MiB.");
		goto done;
	}
	if (r->auth != WA_AUTH_OK) {
		r->status = 401;
		r->code = auth_error(req, &ans);
		goto done;
	}
	r->status = 400;
	r->code = 100;
	if (mp_boundary(ct, boundary, sizeof(boundary)) == -1) {
		/* Shown in the log as text, its start only. */
		b = evbuffer_pullup(in, len < WA_LOG_BODY_MAX ? (ev_ssize_t)len :
		    WA_LOG_BODY_MAX);
		r->body = body_for_log(NULL, (const char *)b, len <
		    WA_LOG_BODY_MAX ? len : WA_LOG_BODY_MAX);
		graph_error(&ans, r->code, NULL, "Content-Type must be "
		    "multipart/form-data with a boundary.");
		goto done;
	}
	/* One contiguous copy at most; the parts point into it. */
	if (len > 0 && (b = evbuffer_pullup(in, -1)) == NULL) {
		r->status = 500;
		r->code = 131000;
		graph_error(&ans, r->code, NULL, "Out of memory.");
		goto done;
	}
	if (mp_parse(b, len, boundary, parts, WA_MAX_PARTS, &n, &why) == -1) {
		snprintf(d, sizeof(d), "The multipart body is malformed: %s.",
		    why);
		graph_error(&ans, r->code, NULL, d);
		goto done;
	}
	mpp = mp_find(parts, n, "messaging_product");
	typ = mp_find(parts, n, "type");
	file = mp_find(parts, n, "file");
	if (file != NULL && !file->has_filename)
		file = NULL;
	if (mpp == NULL) {
		graph_error(&ans, r->code, NULL, "The parameter "
		    "messaging_product is required.");
		goto done;
	}
	if (mp_value(mpp, v, sizeof(v)) == -1 || strcmp(v, "whatsapp") != 0) {
		graph_error(&ans, r->code, NULL, "Param messaging_product must "
		    "be \"whatsapp\".");
		goto done;
	}
	if (file == NULL) {
		graph_error(&ans, r->code, NULL, "The parameter file is "
		    "required (a file part with a filename).");
		goto done;
	}
	if (typ == NULL) {
		graph_error(&ans, r->code, NULL, "The parameter type is "
		    "required.");
		goto done;
	}
	if (mp_value(typ, v, sizeof(v)) == -1)
		v[0] = '\0';
	base_mime(v, mime, sizeof(mime));
	r->code = 131053;
	if (!in_list(mime, valid_whatsapp_mimes)) {
		snprintf(d, sizeof(d), "Param file must be a file with one of "
		    "the following types: audio/aac, audio/amr, audio/mpeg, "
		    "audio/mp4, audio/ogg, text/plain, application/pdf, "
		    "application/vnd.ms-powerpoint, application/msword, "
		    "application/vnd.ms-excel, application/vnd.openxmlformats-"
		    "officedocument.wordprocessingml.document, application/vnd."
		    "openxmlformats-officedocument.presentationml.presentation, "
		    "application/vnd.openxmlformats-officedocument.spreadsheetml."
		    "sheet, image/jpeg, image/png, image/webp, video/3gpp, "
		    "video/mp4. Received file of type '%.100s'.", v);
		graph_error(&ans, r->code, NULL, d);
		goto done;
	}
	limit = media_limit("whatsapp", mime);
	if (file->len == 0 || (long long)file->len > limit) {
		snprintf(d, sizeof(d), file->len == 0 ? "The file is empty." :
		    "The file is %zu bytes; %s media may be at most %lld bytes.",
		    file->len, mime, limit);
		graph_error(&ans, r->code, NULL, d);
		goto done;
	}
	media_new_id(wa, r->id);
	if ((m = media_add(wa, r->id, mime, file->filename, file->data,
	    file->len)) == NULL) {
		r->id[0] = '\0';
		r->status = 500;
		r->code = 131000;
		graph_error(&ans, r->code, NULL, "Out of memory.");
		goto done;
	}
	r->status = 200;
	r->code = 0;
	r->body = upload_for_log(parts, n, m->sha256);
	sbx_jw_open(&ans, NULL);
	sbx_jw_str(&ans, "id", r->id);
	sbx_jw_close(&ans);
	log_debug("whatsapp: media %s uploaded: %s, %zu bytes", r->id, mime,
	    file->len);
done:
	if (r->body == NULL && n > 0)
		r->body = upload_for_log(parts, n, NULL);
	finish(wa, req, r, &ans);
}

/* This sandbox as the client reached it: the Host header, else the listener. */
static const char *
sandbox_host(struct sbx_whatsapp *wa, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Host");

	if (h != NULL && *h != '\0' && strlen(h) < 256 &&
	    strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-:[]") == strlen(h))
		return h;
	return wa->listen;
}

/* GET or DELETE /{version}/{media_id} */
static void
media_call(struct sbx_whatsapp *wa, struct evhttp_request *req,
    struct wa_rec *r, const char *id)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct wa_media *m;
	struct sbx_jw ans;
	char msg[512], url[512];

	sbx_jw_init(&ans);
	r->auth = check_auth(wa, req);
	if (r->auth != WA_AUTH_OK) {
		r->status = 401;
		r->code = auth_error(req, &ans);
		goto done;
	}
	if ((m = media_get(wa, id)) == NULL ||
	    (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_DELETE)) {
		r->status = 400;
		r->code = 100;
		snprintf(msg, sizeof(msg), WA_UNSUPPORTED, graph_method(req), id);
		graph_error(&ans, r->code, msg, NULL);
		goto done;
	}
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->status = 200;
	sbx_jw_open(&ans, NULL);
	if (cmd == EVHTTP_REQ_DELETE) {
		sbx_jw_raw(&ans, "success", "true", 4);
		sbx_jw_close(&ans);
		media_forget(wa, m);
		goto done;
	}
	snprintf(url, sizeof(url), "http://%s/sandbox/whatsapp/media/%s",
	    sandbox_host(wa, req), id);
	sbx_jw_str(&ans, "messaging_product", "whatsapp");
	sbx_jw_str(&ans, "url", url);
	sbx_jw_str(&ans, "mime_type", m->mime);
	sbx_jw_str(&ans, "sha256", m->sha256);
	sbx_jw_int(&ans, "file_size", m->size);
	sbx_jw_str(&ans, "id", id);
	sbx_jw_close(&ans);
done:
	finish(wa, req, r, &ans);
}

void
sbx_whatsapp_media_bytes(struct sbx *sb, struct evhttp_request *req,
    const char *id)
{
	struct sbx_whatsapp *wa = sb->whatsapp;
	struct wa_rec r;
	struct wa_media *m;
	struct evbuffer *b;
	struct sbx_jw ans;

	memset(&r, 0, sizeof(r));
	r.path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	sbx_jw_init(&ans);
	r.auth = check_auth(wa, req);
	if (r.auth != WA_AUTH_OK) {
		r.status = 401;
		r.code = auth_error(req, &ans);
		finish(wa, req, &r, &ans);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		r.status = 405;
		sbx_jw_open(&ans, NULL);
		sbx_jw_str(&ans, "error", "use GET");
		sbx_jw_close(&ans);
		finish(wa, req, &r, &ans);
		return;
	}
	if ((m = media_get(wa, id)) == NULL || m->bytes == NULL) {
		r.status = 404;
		sbx_jw_open(&ans, NULL);
		sbx_jw_str(&ans, "error", m == NULL ? "no such media id" :
		    "the bytes of this media were not kept (over 16 MiB, or "
		    "64 MiB of newer media kept)");
		sbx_jw_close(&ans);
		finish(wa, req, &r, &ans);
		return;
	}
	snprintf(r.id, sizeof(r.id), "%s", id);
	r.status = 200;
	record(wa, req, &r);
	if ((b = evbuffer_new()) == NULL ||
	    evbuffer_add(b, m->bytes, (size_t)m->size) == -1) {
		evhttp_send_error(req, 500, NULL);
	} else {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", m->mime);
		evhttp_send_reply(req, 200, NULL, b);
	}
	if (b != NULL)
		evbuffer_free(b);
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
			media_call(wa, req, &r, id);
			return 1;
		}
		if (cmd == EVHTTP_REQ_POST && strcmp(rest, "/messages") == 0) {
			send_call(wa, req, &r, id);
			return 1;
		}
		if (cmd == EVHTTP_REQ_POST && strcmp(rest, "/media") == 0) {
			upload_call(wa, req, &r);
			return 1;
		}
	}
	/* Graph answers what it does not serve with 400, code 100. */
	sbx_jw_init(&ans);
	r.auth = check_auth(wa, req);
	if (r.auth != WA_AUTH_OK) {
		r.status = 401;
		r.code = auth_error(req, &ans);
	} else {
		r.status = 400;
		r.code = 100;
		if (rest != NULL && (strcmp(rest, "/messages") == 0 ||
		    strcmp(rest, "/media") == 0))
			snprintf(msg, sizeof(msg), WA_UNSUPPORTED,
			    graph_method(req), id);
		else
			snprintf(msg, sizeof(msg), "Unknown path components: "
			    "%.200s", rest ? rest : seg);
		graph_error(&ans, r.code, msg, NULL);
	}
	finish(wa, req, &r, &ans);
	return 1;
}

/* --- simulated inbound messages --- */

/* Fields an inbound item takes, and those an item inherits from the top. */
static const char *const item_keys[] = { "from", "to", "name", "type", "text",
    "caption", "mime", "media_id", "filename", "latitude", "longitude",
    "place", "address", "payload", "emoji", "reply_to", "ts", "id",
    "contacts", "interactive", "raw", NULL };
static const char *const inherited[] = { "from", "to", "name", "ts", NULL };

/* Member key of the item, else (for inherited keys) of the top object. */
static json_t *
ifield(json_t *it, json_t *top, const char *key)
{
	json_t *v = json_object_get(it, key);

	if (v == NULL && top != NULL && top != it && in_list(key, inherited))
		v = json_object_get(top, key);
	return v;
}

/* A string field: 0 (absent: *out NULL) or -1 when not a string. */
static int
istr(json_t *it, json_t *top, const char *key, const char **out)
{
	json_t *v = ifield(it, top, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

/* Default MIME type of a simulated media message. */
static const char *
default_mime(const char *type)
{
	if (strcmp(type, "image") == 0)
		return "image/jpeg";
	if (strcmp(type, "video") == 0)
		return "video/mp4";
	if (strcmp(type, "audio") == 0)
		return "audio/ogg; codecs=opus";
	if (strcmp(type, "sticker") == 0)
		return "image/webp";
	return "application/pdf";
}

/* Build the media object of a simulated media message into msg. */
static int
in_media(struct sbx_whatsapp *wa, json_t *it, const char *type, json_t *msg,
    char *why, size_t whysz)
{
	const char *mid, *mime, *cap, *fn;
	char idbuf[WA_ID_MAX + 1], synth[96];
	struct wa_media *m;
	json_t *o;

	if (istr(it, NULL, "media_id", &mid) == -1 ||
	    istr(it, NULL, "mime", &mime) == -1 ||
	    istr(it, NULL, "caption", &cap) == -1 ||
	    istr(it, NULL, "filename", &fn) == -1) {
		snprintf(why, whysz, "media_id, mime, caption and filename must "
		    "be strings");
		return -1;
	}
	if (mid != NULL && !all_digits(mid, WA_ID_MAX)) {
		snprintf(why, whysz, "\"media_id\" must be 1 to %d digits",
		    WA_ID_MAX);
		return -1;
	}
	if (mime != NULL && (*mime == '\0' || strlen(mime) >= 128)) {
		snprintf(why, whysz, "\"mime\" must be 1 to 127 bytes");
		return -1;
	}
	if (fn != NULL && strlen(fn) > 255) {
		snprintf(why, whysz, "\"filename\" is over 255 bytes");
		return -1;
	}
	if (cap != NULL && utf8_chars(cap) > WA_CAPTION_MAX) {
		snprintf(why, whysz, "\"caption\" is over %d characters",
		    WA_CAPTION_MAX);
		return -1;
	}
	if ((m = mid ? media_get(wa, mid) : NULL) == NULL) {
		/* Made-up media: small bytes that GET and download agree on. */
		if (mid == NULL) {
			media_new_id(wa, idbuf);
			mid = idbuf;
		}
		snprintf(synth, sizeof(synth), "sandbox %s media %s\n", type, mid);
		if ((m = media_add(wa, mid, mime ? mime : default_mime(type), fn,
		    (const unsigned char *)synth, strlen(synth))) == NULL) {
			snprintf(why, whysz, "out of memory");
			return -1;
		}
	}
	o = json_object();
	if (cap != NULL && (strcmp(type, "image") == 0 ||
	    strcmp(type, "video") == 0 || strcmp(type, "document") == 0))
		json_object_set_new(o, "caption", json_string(cap));
	if (fn != NULL && strcmp(type, "document") == 0)
		json_object_set_new(o, "filename", json_string(fn));
	json_object_set_new(o, "mime_type", json_string(mime ? mime : m->mime));
	json_object_set_new(o, "sha256", json_string(m->sha256_b64));
	json_object_set_new(o, "id", json_string(m->h.key));
	if (strcmp(type, "audio") == 0)
		json_object_set_new(o, "voice", json_boolean(strncmp(mime ?
		    mime : m->mime, "audio/ogg", 9) == 0));
	if (strcmp(type, "sticker") == 0)
		json_object_set_new(o, "animated", json_false());
	json_object_set_new(msg, type, o);
	return 0;
}

static int
in_location(json_t *it, json_t *msg, char *why, size_t whysz)
{
	json_t *lat = json_object_get(it, "latitude");
	json_t *lon = json_object_get(it, "longitude");
	const char *place, *addr;
	json_t *o;

	if (!json_is_number(lat) || !json_is_number(lon) ||
	    fabs(json_number_value(lat)) > 90 ||
	    fabs(json_number_value(lon)) > 180) {
		snprintf(why, whysz, "a location needs numeric \"latitude\" "
		    "(-90..90) and \"longitude\" (-180..180)");
		return -1;
	}
	if (istr(it, NULL, "place", &place) == -1 ||
	    istr(it, NULL, "address", &addr) == -1) {
		snprintf(why, whysz, "\"place\" and \"address\" must be strings");
		return -1;
	}
	o = json_pack("{s:O, s:O}", "latitude", lat, "longitude", lon);
	if (place != NULL)
		json_object_set_new(o, "name", json_string(place));
	if (addr != NULL)
		json_object_set_new(o, "address", json_string(addr));
	json_object_set_new(msg, "location", o);
	return 0;
}

static int
in_contacts(json_t *it, json_t *msg, char *why, size_t whysz)
{
	json_t *a = json_object_get(it, "contacts"), *c, *phones, *p, *out, *po;
	const char *name, *ph;
	char digits[24];
	size_t i, k, n;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > 20) {
		snprintf(why, whysz, "\"contacts\" must be an array of 1 to 20 "
		    "{\"name\", \"phones\"}");
		return -1;
	}
	out = json_array();
	json_array_foreach(a, i, c) {
		phones = json_object_get(c, "phones");
		if (!json_is_object(c) || istr(c, NULL, "name", &name) == -1 ||
		    name == NULL || *name == '\0' ||
		    (phones != NULL && !json_is_array(phones))) {
			snprintf(why, whysz, "contacts[%zu] needs a \"name\" and "
			    "optional \"phones\" (an array of strings)", i);
			json_decref(out);
			return -1;
		}
		po = json_array();
		json_array_foreach(phones, k, p) {
			if (!json_is_string(p)) {
				snprintf(why, whysz, "contacts[%zu].phones[%zu] "
				    "must be a string", i, k);
				json_decref(po);
				json_decref(out);
				return -1;
			}
			ph = json_string_value(p);
			for (n = 0; *ph != '\0' && n + 1 < sizeof(digits); ph++)
				if (isdigit((unsigned char)*ph))
					digits[n++] = *ph;
			digits[n] = '\0';
			json_array_append_new(po, json_pack("{s:s, s:s, s:s}",
			    "phone", json_string_value(p), "wa_id", digits,
			    "type", "CELL"));
		}
		json_array_append_new(out, json_pack("{s:{s:s, s:s}, s:o}",
		    "name", "formatted_name", name, "first_name", name,
		    "phones", po));
	}
	json_object_set_new(msg, "contacts", out);
	return 0;
}

static int
in_interactive(json_t *it, json_t *msg, char *why, size_t whysz)
{
	json_t *o = json_object_get(it, "interactive"), *r;
	const char *t, *id, *title, *desc;

	if (!json_is_object(o) || istr(o, NULL, "type", &t) == -1 ||
	    istr(o, NULL, "id", &id) == -1 || istr(o, NULL, "title", &title) == -1 ||
	    istr(o, NULL, "description", &desc) == -1 || id == NULL ||
	    title == NULL) {
		snprintf(why, whysz, "\"interactive\" must be {\"type\": "
		    "\"button_reply\"|\"list_reply\", \"id\", \"title\", "
		    "\"description\"?}");
		return -1;
	}
	if (t == NULL)
		t = "button_reply";
	if (strcmp(t, "button_reply") != 0 && strcmp(t, "list_reply") != 0) {
		snprintf(why, whysz, "interactive.type must be \"button_reply\" "
		    "or \"list_reply\"");
		return -1;
	}
	r = json_pack("{s:s, s:s}", "id", id, "title", title);
	if (desc != NULL && strcmp(t, "list_reply") == 0)
		json_object_set_new(r, "description", json_string(desc));
	json_object_set_new(msg, "interactive", json_pack("{s:s, s:o}", "type",
	    t, t, r));
	return 0;
}

/* A type name: 1..32 of [a-z_]. */
static int
valid_type(const char *t)
{
	size_t n = strlen(t);

	return n > 0 && n <= 32 &&
	    strspn(t, "abcdefghijklmnopqrstuvwxyz_") == n;
}

/* One simulated message; its customer and our number into *from, *to. */
static json_t *
in_item(struct sbx_whatsapp *wa, json_t *it, json_t *top, long long now,
    const char **from, const char **to, const char **name, long long *ts_ms,
    char *why, size_t whysz)
{
	const char *type, *text, *id, *reply, *payload, *emoji;
	char wamid[160], tsbuf[24], disp[24];
	json_t *msg = NULL, *v, *raw;
	const char *key;
	long long ts;

	json_object_foreach(it, key, v) {
		if (!in_list(key, item_keys) && (it != top ||
		    (strcmp(key, "dup") != 0 && strcmp(key, "batch") != 0))) {
			snprintf(why, whysz, "unknown field \"%.40s\"", key);
			return NULL;
		}
	}
	if (istr(it, top, "from", from) == -1 || istr(it, top, "to", to) == -1 ||
	    istr(it, top, "name", name) == -1 ||
	    istr(it, NULL, "type", &type) == -1 ||
	    istr(it, NULL, "text", &text) == -1 ||
	    istr(it, NULL, "id", &id) == -1 ||
	    istr(it, NULL, "reply_to", &reply) == -1 ||
	    istr(it, NULL, "payload", &payload) == -1 ||
	    istr(it, NULL, "emoji", &emoji) == -1) {
		snprintf(why, whysz, "from, to, name, type, text, id, reply_to, "
		    "payload and emoji must be strings");
		return NULL;
	}
	if (*from == NULL || !valid_e164(*from)) {
		snprintf(why, whysz, "\"from\" must be the customer's E.164 "
		    "number (+ and 8 to 15 digits)");
		return NULL;
	}
	if (*to == NULL || !all_digits(*to, WA_ID_MAX)) {
		snprintf(why, whysz, "\"to\" must be our phone_number_id (1 to "
		    "%d digits)", WA_ID_MAX);
		return NULL;
	}
	if (*name != NULL && strlen(*name) > 256) {
		snprintf(why, whysz, "\"name\" is over 256 bytes");
		return NULL;
	}
	if (type == NULL)
		type = "text";
	if (!valid_type(type)) {
		snprintf(why, whysz, "\"type\" must be 1 to 32 of a-z and _");
		return NULL;
	}
	if (id != NULL && (*id == '\0' || strlen(id) >= sizeof(wamid))) {
		snprintf(why, whysz, "\"id\" must be 1 to %zu bytes",
		    sizeof(wamid) - 1);
		return NULL;
	}
	ts = now / 1000;
	if ((v = ifield(it, top, "ts")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 32503680000LL) {
			snprintf(why, whysz, "\"ts\" must be seconds since the "
			    "epoch");
			return NULL;
		}
		ts = (long long)json_integer_value(v);
	}
	*ts_ms = ts * 1000 > now ? now : ts * 1000;
	if (id != NULL)
		snprintf(wamid, sizeof(wamid), "%s", id);
	else
		make_wamid(*from + 1, 1, wamid, sizeof(wamid));
	snprintf(tsbuf, sizeof(tsbuf), "%lld", ts);
	msg = json_pack("{s:s, s:s, s:s, s:s}", "from", *from + 1, "id", wamid,
	    "timestamp", tsbuf, "type", type);
	if (msg == NULL) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	if (reply != NULL && strcmp(type, "reaction") != 0) {
		display_number(*to, disp);
		json_object_set_new(msg, "context", json_pack("{s:s, s:s}",
		    "from", disp, "id", reply));
	}
	if (strcmp(type, "text") == 0) {
		if (text == NULL || utf8_chars(text) > WA_TEXT_MAX) {
			snprintf(why, whysz, "a text message needs \"text\" (at "
			    "most %d characters)", WA_TEXT_MAX);
			goto fail;
		}
		json_object_set_new(msg, "text", json_pack("{s:s}", "body", text));
	} else if (strcmp(type, "image") == 0 || strcmp(type, "video") == 0 ||
	    strcmp(type, "audio") == 0 || strcmp(type, "sticker") == 0 ||
	    strcmp(type, "document") == 0) {
		if (in_media(wa, it, type, msg, why, whysz) == -1)
			goto fail;
	} else if (strcmp(type, "location") == 0) {
		if (in_location(it, msg, why, whysz) == -1)
			goto fail;
	} else if (strcmp(type, "contacts") == 0) {
		if (in_contacts(it, msg, why, whysz) == -1)
			goto fail;
	} else if (strcmp(type, "interactive") == 0) {
		if (in_interactive(it, msg, why, whysz) == -1)
			goto fail;
	} else if (strcmp(type, "button") == 0) {
		if (text == NULL) {
			snprintf(why, whysz, "a button message needs \"text\" "
			    "(the button's label) and optional \"payload\"");
			goto fail;
		}
		json_object_set_new(msg, "button", json_pack("{s:s, s:s}",
		    "payload", payload ? payload : text, "text", text));
	} else if (strcmp(type, "reaction") == 0) {
		if (reply == NULL) {
			snprintf(why, whysz, "a reaction needs \"reply_to\" (the "
			    "wamid reacted to) and optional \"emoji\"");
			goto fail;
		}
		v = json_pack("{s:s}", "message_id", reply);
		if (emoji != NULL && *emoji != '\0')	/* none: removed */
			json_object_set_new(v, "emoji", json_string(emoji));
		json_object_set_new(msg, "reaction", v);
	} else if (strcmp(type, "unsupported") == 0) {
		json_object_set_new(msg, "errors", json_pack("[{s:i, s:s, s:s, "
		    "s:{s:s}}]", "code", 131051, "title", "Message type unknown",
		    "message", "Message type unknown", "error_data", "details",
		    "Message type is currently not supported."));
	} else {
		/* A type Meta may add some day: whatever "raw" says, or {}. */
		raw = json_object_get(it, "raw");
		if (raw != NULL && !json_is_object(raw)) {
			snprintf(why, whysz, "\"raw\" must be a JSON object");
			goto fail;
		}
		json_object_set_new(msg, type, raw ? json_deep_copy(raw) :
		    json_object());
	}
	return msg;
fail:
	json_decref(msg);
	return NULL;
}

/* One entry per phone_number_id, in the order the items name them. */
struct in_group {
	const char	*to;
	json_t		*contacts, *messages;
};

void
sbx_whatsapp_inbound(struct sbx *sb, struct evhttp_request *req,
    const char *body, size_t len)
{
	struct sbx_whatsapp *wa = sb->whatsapp;
	struct in_group groups[WA_MAX_BATCH];
	struct {
		const char	*to, *from;
		long long	 ms;
	} notes[WA_MAX_BATCH];
	const char *from, *to, *name, *key, *hdrs[4];
	char why[320], sighdr[SIG_META_LEN + 32], *nbody;
	json_t *j, *batch, *it, *msg, *c, *entries = NULL, *wamids = NULL;
	json_t *value, *n = NULL, *notif = NULL;
	json_error_t jerr;
	long long now = daemon_now_ms(), ts_ms, dup = 0;
	size_t i, k, x, ng = 0, nitems, nlen;
	int known, status = 400;

	memset(groups, 0, sizeof(groups));
	if ((j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		snprintf(why, sizeof(why), "bad JSON: %s", jerr.text);
		goto refuse;
	}
	if (!json_is_object(j)) {
		snprintf(why, sizeof(why), "expected a JSON object");
		goto refuse;
	}
	if ((c = json_object_get(j, "dup")) != NULL) {
		if (!json_is_integer(c) || json_integer_value(c) < 0 ||
		    json_integer_value(c) > WA_MAX_DUP) {
			snprintf(why, sizeof(why), "\"dup\" must be 0 to %d",
			    WA_MAX_DUP);
			goto refuse;
		}
		dup = (long long)json_integer_value(c);
	}
	batch = json_object_get(j, "batch");
	if (batch != NULL && (!json_is_array(batch) ||
	    json_array_size(batch) == 0 ||
	    json_array_size(batch) > WA_MAX_BATCH)) {
		snprintf(why, sizeof(why), "\"batch\" must be an array of 1 to %d "
		    "messages", WA_MAX_BATCH);
		goto refuse;
	}
	if (batch != NULL) {
		/* The top holds only what the items inherit. */
		json_object_foreach(j, key, c)
			if (!in_list(key, inherited) && strcmp(key, "dup") != 0 &&
			    strcmp(key, "batch") != 0) {
				snprintf(why, sizeof(why), "with \"batch\", only "
				    "from, to, name, ts and dup go beside it, not "
				    "\"%.40s\"", key);
				goto refuse;
			}
	}
	if (app_secret(wa) == NULL) {
		json_decref(j);
		sbx_reply_error(req, 503, "whatsapp_app_secret_file is missing: "
		    "cannot sign the webhook");
		return;
	}
	nitems = batch ? json_array_size(batch) : 1;
	if ((entries = json_array()) == NULL || (wamids = json_array()) == NULL) {
		snprintf(why, sizeof(why), "out of memory");
		status = 500;
		goto refuse;
	}
	for (i = 0; i < nitems; i++) {
		it = batch ? json_array_get(batch, i) : j;
		if (!json_is_object(it)) {
			snprintf(why, sizeof(why), "batch[%zu] is not an object", i);
			goto refuse;
		}
		if ((msg = in_item(wa, it, j, now, &from, &to, &name, &ts_ms,
		    why, sizeof(why) - 16)) == NULL) {
			if (batch != NULL) {
				char tmp[320];

				say(tmp, sizeof(tmp), "batch[%zu]: %s", i, why);
				memcpy(why, tmp, sizeof(why));
			}
			goto refuse;
		}
		for (k = 0; k < ng && strcmp(groups[k].to, to) != 0; k++)
			;
		if (k == ng) {
			groups[k].to = to;
			groups[k].contacts = json_array();
			groups[k].messages = json_array();
			ng++;
		}
		known = 0;
		json_array_foreach(groups[k].contacts, x, c)
			if (strcmp(json_string_value(json_object_get(c, "wa_id")),
			    from + 1) == 0)
				known = 1;
		if (!known) {
			c = name != NULL ? json_pack("{s:{s:s}, s:s}", "profile",
			    "name", name, "wa_id", from + 1) :
			    json_pack("{s:s}", "wa_id", from + 1);
			json_array_append_new(groups[k].contacts, c);
		}
		json_array_append(wamids, json_object_get(msg, "id"));
		json_array_append_new(groups[k].messages, msg);
		notes[i].to = to;
		notes[i].from = from + 1;
		notes[i].ms = ts_ms;
	}
	/* Every item is valid: now each customer has written. */
	for (i = 0; i < nitems; i++)
		win_note(wa, notes[i].to, notes[i].from, notes[i].ms);
	for (k = 0; k < ng; k++) {
		value = value_new(groups[k].to);
		json_object_set(value, "contacts", groups[k].contacts);
		json_object_set(value, "messages", groups[k].messages);
		n = notification(groups[k].to, value);
		json_array_append(entries, json_array_get(json_object_get(n,
		    "entry"), 0));
		json_decref(n);
	}
	notif = json_pack("{s:s, s:O}", "object", "whatsapp_business_account",
	    "entry", entries);
	if (notif == NULL ||
	    (nbody = json_dumps(notif, JSON_COMPACT)) == NULL) {
		snprintf(why, sizeof(why), "out of memory");
		status = 500;
		json_decref(notif);
		goto refuse;
	}
	json_decref(notif);
	nlen = strlen(nbody);
	hook_headers(wa, nbody, nlen, hdrs, sighdr, sizeof(sighdr));
	for (k = 0; k < ng; k++) {
		json_decref(groups[k].contacts);
		json_decref(groups[k].messages);
	}
	json_decref(entries);
	json_decref(j);
	log_debug("whatsapp: inbound of %zu message(s), %d post(s)", nitems,
	    (int)dup + 1);
	/* The copies go one after the other. */
	if (sbx_inbound_post(sb, req, "whatsapp", wa->webhook_url, hdrs, nbody,
	    nlen, nbody, (int)dup + 1, 0, "wamid", wamids) == -1)
		sbx_reply_error(req, 500, "out of memory");
	free(nbody);
	return;
refuse:
	for (k = 0; k < ng; k++) {
		json_decref(groups[k].contacts);
		json_decref(groups[k].messages);
	}
	json_decref(entries);
	json_decref(wamids);
	json_decref(j);
	sbx_reply_error(req, status, why);
}
