/*
 * sandboxd_messenger — the Messenger Platform (Meta's Graph API for
 * Facebook Pages and the Instagram accounts linked to them) as messengerd
 * sees it (providers.md §2), faithful enough that messengerd cannot tell it
 * from Meta:
 *
 *   POST /{version}/{PAGE-ID|me}/messages?access_token=...
 *	the Send API: the Page's token (190 with a subcode once it died),
 *	the JSON body checked in Meta's order with Meta's codes and error
 *	envelope (recipient known: 100/2018001; messaging_type and tag; text
 *	of 2,000 characters, 1,000 on Instagram; one attachment by url or
 *	attachment_id; at most 13 quick replies), each thread's window
 *	(10/2018278 on Messenger, 10/2534022 on Instagram, after 24 hours, or
 *	after 7 days with MESSAGE_TAG HUMAN_AGENT), the per-account rate
 *	(613); 200 {recipient_id, message_id(, attachment_id)}; then signed
 *	webhooks: the echo (with our metadata and app id), and on Messenger
 *	a delivery and a read watermark, on Instagram a read of the mid.
 *   POST /{version}/{PAGE-ID|me}/message_attachments?access_token=...
 *	the attachment upload API: multipart message (JSON) and filedata, or
 *	a payload url; {attachment_id}, which sends may then name.
 *   GET /{version}/{ID}?fields=...&access_token=...
 *	a Page (its name, for the token check) or a customer of one of the
 *	token's threads (first_name, last_name; Instagram: name, username).
 *   POST /sandbox/messenger/inbound (control)
 *	simulated customers act: every event kind of both objects (messages
 *	of every attachment type, quick replies, story replies and mentions,
 *	postbacks, referrals, reactions, unsends, reads, deliveries, unknown
 *	kinds), echoes of the Page answering from elsewhere, in messaging[] or
 *	standby[], batched over several entries, posted signed to
 *	sandbox_messenger_webhook_url, repeated on request ("dup").  A
 *	customer's message opens the thread's window.
 *   POST /sandbox/messenger/token (control)
 *	{page, subcode?}: that Page's token dies (190 with subcode, 463 by
 *	default) until its token file holds another one.
 *
 * Every API request is recorded in the received log with api "messenger"
 * or "instagram" (the thread's channel), the access token it carried, the
 * body as parsed JSON and the answer.  Fault rules (api "messenger",
 * "instagram" or "profile", to: the recipient) answer with Meta's error
 * (code and subcode), delay the answer, repeat or reorder the webhooks.
 * State lives in memory and goes with /sandbox/reset.
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

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sodium.h>

#include "conf.h"
#include "htab.h"
#include "log.h"
#include "media.h"
#include "sandboxd.h"
#include "sig.h"
#include "valid.h"

#define MG_ID_MAX	32
#define MG_MAX_PAGES	1000
#define MG_DEAD_MAX	8	/* dead tokens remembered per Page */
#define MG_MAX_THREADS	200000
#define MG_MAX_ATT	10000
#define MG_MAX_DUP	1000
#define MG_MAX_BATCH	100
#define MG_MAX_UPLOAD	(25 * MEDIA_MB + 256 * 1024)
#define MG_TEXT_CHARS	2000
#define IG_TEXT_CHARS	1000
#define MG_QR_MAX	13
#define MG_META_MAX	1000
#define MG_LOG_BODY_MAX	65536
#define MG_APP_ID	"1517776481860111"	/* the sandbox's app */
#define MG_INBOX_APP_ID	"263902037430900"	/* Page Inbox */
#define MG_WINDOW_MSG	"(#10) This message is sent outside of allowed window."
#define IG_WINDOW_MSG	"(#10) This message is sent outside of allowed " \
			"window. Learn more about the new policy here: " \
			"https://developers.facebook.com/docs/messenger-" \
			"platform/policy-overview"

/* A Page of messenger_pages, its Instagram account, its token. */
struct mg_page {
	char		 id[MG_ID_MAX + 1];
	char		 ig[MG_ID_MAX + 1];	/* "" : none */
	char		*token;		/* NULL: no file */
	struct stat	 st;		/* the file when read */
	int		 st_ok;
	char		*dead[MG_DEAD_MAX];	/* tokens that died */
	long		 dead_sub[MG_DEAD_MAX];	/* with these subcodes */
	int		 ndead;
};

/* A customer of an account: who, since when the window is open. */
struct mg_thread {
	struct htab_node hn;
	char		 key[2 * MG_ID_MAX + 2];	/* account "\n" user */
	int		 ig;
	char		 account[MG_ID_MAX + 1];
	char		 page[MG_ID_MAX + 1];
	char		 user[MG_ID_MAX + 1];
	char		 name[128];
	char		 username[64];
	long long	 last_in_ms;	/* the customer's last message, 0 */
	struct mg_thread *next;		/* all, for reset */
};

/* An attachment id the upload API (or a reusable send) gave. */
struct mg_att {
	struct htab_node hn;
	char		 id[24];
	char		 type[16];
	char		 page[MG_ID_MAX + 1];
	struct mg_att	*next;
};

/* The last sends of one account (a ring of times). */
struct mg_rate {
	struct htab_node hn;
	char		 account[MG_ID_MAX + 1];
	size_t		 head, n, cap;
	long long	*t;
	struct mg_rate	*next;
};

/* A sent message whose webhooks are still to come. */
struct mg_msg {
	struct sbx_chain c;		/* first: the webhooks */
	struct sbx_messenger *mg;
	int		 ig;
	char		 mid[200];
	char		 account[MG_ID_MAX + 1];
	char		 user[MG_ID_MAX + 1];
	char		*metadata;
	json_t		*content;	/* the echo's message fields */
	long long	 sent_ms;
};

struct mg_conf {
	struct mg_page	*pages;
	size_t		 npages;
	char		*token_dir;
	char		*secret;	/* app secret, NULL: missing */
	char		*url;
	long long	 rate, window_s, human_s, status_delay_ms;
};

struct sbx_messenger {
	struct sbx	*sb;
	struct mg_conf	 cf;
	struct htab	 threads, atts, rates;
	struct mg_thread *tlist;
	struct mg_att	*alist;
	struct mg_rate	*rlist;
	size_t		 nthreads, natts;
	unsigned long long seq;		/* made-up ids */
};

/* What one API request was and got, for the received log. */
struct mg_rec {
	const char	*path;
	const char	*api;		/* messenger or instagram */
	const char	*token;		/* as given */
	char		*body;		/* JSON text (malloc'd), NULL: null */
	int		 status;
	long		 code, subcode;
	char		 id[200];	/* mid or attachment id answered */
	int		 fault;
};

/* --- settings --- */

static void
dead_clear(struct mg_page *p)
{
	int i;

	for (i = 0; i < p->ndead; i++)
		conf_secret_free(p->dead[i]);
	p->ndead = 0;
}

/* The subcode tok died with on p, or 0 when it is alive. */
static long
dead_sub(const struct mg_page *p, const char *tok)
{
	int i;

	for (i = 0; i < p->ndead; i++)
		if (strcmp(p->dead[i], tok) == 0)
			return p->dead_sub[i];
	return 0;
}

static void
conf_clear(struct mg_conf *c)
{
	size_t i;

	for (i = 0; i < c->npages; i++) {
		conf_secret_free(c->pages[i].token);
		dead_clear(&c->pages[i]);
	}
	free(c->pages);
	free(c->token_dir);
	conf_secret_free(c->secret);
	free(c->url);
	memset(c, 0, sizeof(*c));
}

static int
all_digits(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > MG_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int
conf_read(struct sbx *sb, struct mg_conf *c, char *why, size_t whysz)
{
	const char *v, *w, *colon;
	char err[300], *path;
	struct mg_page *p;
	struct stat st;
	size_t n;

	memset(c, 0, sizeof(*c));
	v = conf_get(sb->d.conf, "sandbox_messenger_webhook_url");
	if (!sbx_valid_url(v)) {
		snprintf(why, whysz, "sandbox_messenger_webhook_url: \"%s\" is "
		    "not an http(s) URL", v ? v : "");
		goto fail;
	}
	if ((c->url = strdup(v)) == NULL ||
	    (c->token_dir = strdup(conf_get(sb->d.conf,
	    "messenger_token_dir"))) == NULL)
		goto oom;
	if (conf_int(sb->d.conf, "sandbox_messenger_rate", 1, 100000,
	    &c->rate, err, sizeof(err)) == -1 ||
	    conf_int(sb->d.conf, "sandbox_messenger_window_s", 0, 315360000,
	    &c->window_s, err, sizeof(err)) == -1 ||
	    conf_int(sb->d.conf, "sandbox_messenger_human_window_s", 0,
	    315360000, &c->human_s, err, sizeof(err)) == -1 ||
	    conf_int(sb->d.conf, "sandbox_status_delay_ms", 0, 3600000,
	    &c->status_delay_ms, err, sizeof(err)) == -1) {
		snprintf(why, whysz, "%s", err);
		goto fail;
	}
	for (v = conf_get(sb->d.conf, "messenger_pages");;) {
		v += strspn(v, " \t,");
		if (*v == '\0')
			break;
		w = v;
		n = strcspn(v, " \t,");
		v += n;
		colon = memchr(w, ':', n);
		if (!all_digits(w, colon ? (size_t)(colon - w) : n) ||
		    (colon && !all_digits(colon + 1, n - (size_t)(colon - w) -
		    1)) || c->npages == MG_MAX_PAGES) {
			snprintf(why, whysz, "messenger_pages: \"%.*s\" is not "
			    "PAGE-ID[:INSTAGRAM-ID]", (int)(n > 60 ? 60 : n), w);
			goto fail;
		}
		p = reallocarray(c->pages, c->npages + 1, sizeof(*p));
		if (p == NULL)
			goto oom;
		c->pages = p;
		p = &c->pages[c->npages++];
		memset(p, 0, sizeof(*p));
		snprintf(p->id, sizeof(p->id), "%.*s", (int)(colon ? colon - w :
		    (long)n), w);
		if (colon)
			snprintf(p->ig, sizeof(p->ig), "%.*s", (int)(n -
			    (size_t)(colon - w) - 1), colon + 1);
	}
	path = conf_path(sb->d.conf, conf_get(sb->d.conf,
	    "messenger_app_secret_file"));
	if (path == NULL)
		goto oom;
	if (stat(path, &st) == 0) {
		if ((c->secret = conf_secret(sb->d.conf,
		    "messenger_app_secret_file", err, sizeof(err))) == NULL) {
			snprintf(why, whysz, "messenger_app_secret_file: %s",
			    err);
			free(path);
			goto fail;
		}
	} else if (c->npages > 0)
		log_warnx("messenger: %s: %s; simulated messages are refused "
		    "until it exists", path, strerror(errno));
	free(path);
	return 0;
oom:
	snprintf(why, whysz, "out of memory");
fail:
	conf_clear(c);
	return -1;
}

/* The page id (or its Instagram account) of messenger_pages, or NULL. */
static struct mg_page *
page_of(struct sbx_messenger *mg, const char *id, int *ig)
{
	size_t i;

	for (i = 0; i < mg->cf.npages; i++) {
		if (strcmp(mg->cf.pages[i].id, id) == 0) {
			*ig = 0;
			return &mg->cf.pages[i];
		}
		if (mg->cf.pages[i].ig[0] && strcmp(mg->cf.pages[i].ig, id) ==
		    0) {
			*ig = 1;
			return &mg->cf.pages[i];
		}
	}
	return NULL;
}

/* p's token file again when it changed: a new token takes effect and a
 * dead one is forgotten. */
static void
token_reread(struct sbx_messenger *mg, struct mg_page *p)
{
	char rel[1200], err[300], *path, *tok;
	struct stat st;

	snprintf(rel, sizeof(rel), "%s/%s", mg->cf.token_dir, p->id);
	if ((path = conf_path(mg->sb->d.conf, rel)) == NULL)
		return;
	if (stat(path, &st) == -1) {
		free(path);
		conf_secret_free(p->token);
		p->token = NULL;
		p->st_ok = 0;
		return;
	}
	free(path);
	if (p->st_ok && st.st_ino == p->st.st_ino && st.st_dev ==
	    p->st.st_dev && st.st_size == p->st.st_size &&
	    st.st_mtim.tv_sec == p->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == p->st.st_mtim.tv_nsec)
		return;
	if ((tok = conf_secret_at(mg->sb->d.conf, rel, err, sizeof(err))) ==
	    NULL) {
		log_warnx("messenger: page %s: %s", p->id, err);
		return;
	}
	p->st = st;
	p->st_ok = 1;
	if (p->token != NULL && strcmp(p->token, tok) == 0) {
		conf_secret_free(tok);
		return;
	}
	conf_secret_free(p->token);
	p->token = tok;
	log_info("messenger: page %s: token (re)read", p->id);
}

/*
 * Is tok the one waiting in p's "<PAGE-ID>.new", where msg channel token
 * puts a new token before messengerd checks it?  Meta would know a token
 * it issued; the sandbox takes what is there as issued (unless it died:
 * POST /sandbox/messenger/token with that token).
 */
static int
token_issued(struct sbx_messenger *mg, struct mg_page *p, const char *tok)
{
	char rel[1200], err[300], *nt;
	size_t n = strlen(tok);

	snprintf(rel, sizeof(rel), "%s/%s.new", mg->cf.token_dir, p->id);
	if ((nt = conf_secret_at(mg->sb->d.conf, rel, err, sizeof(err))) ==
	    NULL)
		return 0;
	if (strlen(nt) != n || sodium_memcmp(nt, tok, n) != 0) {
		conf_secret_free(nt);
		return 0;
	}
	conf_secret_free(nt);
	return 1;
}

static void
state_free(struct sbx_messenger *mg)
{
	struct mg_thread *t;
	struct mg_att *a;
	struct mg_rate *r;

	while ((t = mg->tlist) != NULL) {
		mg->tlist = t->next;
		free(t);
	}
	while ((a = mg->alist) != NULL) {
		mg->alist = a->next;
		free(a);
	}
	while ((r = mg->rlist) != NULL) {
		mg->rlist = r->next;
		free(r->t);
		free(r);
	}
	htab_free(&mg->threads);
	htab_free(&mg->atts);
	htab_free(&mg->rates);
	htab_init(&mg->threads);
	htab_init(&mg->atts);
	htab_init(&mg->rates);
	mg->nthreads = mg->natts = 0;
}

struct sbx_messenger *
sbx_messenger_new(struct sbx *sb, char *why, size_t whysz)
{
	struct sbx_messenger *mg;

	if ((mg = calloc(1, sizeof(*mg))) == NULL) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	mg->sb = sb;
	htab_init(&mg->threads);
	htab_init(&mg->atts);
	htab_init(&mg->rates);
	if (conf_read(sb, &mg->cf, why, whysz) == -1) {
		free(mg);
		return NULL;
	}
	return mg;
}

int
sbx_messenger_reload(struct sbx_messenger *mg, char *why, size_t whysz)
{
	struct mg_conf c;
	size_t i;
	int ig;
	struct mg_page *old;

	if (conf_read(mg->sb, &c, why, whysz) == -1)
		return -1;
	/* a token that died stays dead across a reload */
	for (i = 0; i < c.npages; i++)
		if ((old = page_of(mg, c.pages[i].id, &ig)) != NULL && !ig) {
			memcpy(c.pages[i].dead, old->dead, sizeof(old->dead));
			memcpy(c.pages[i].dead_sub, old->dead_sub,
			    sizeof(old->dead_sub));
			c.pages[i].ndead = old->ndead;
			old->ndead = 0;
		}
	conf_clear(&mg->cf);
	mg->cf = c;
	return 0;
}

void
sbx_messenger_free(struct sbx_messenger *mg)
{
	if (mg == NULL)
		return;
	state_free(mg);
	htab_free(&mg->threads);
	htab_free(&mg->atts);
	htab_free(&mg->rates);
	conf_clear(&mg->cf);
	free(mg);
}

void
sbx_messenger_reset(struct sbx_messenger *mg)
{
	size_t i;

	state_free(mg);
	for (i = 0; i < mg->cf.npages; i++)
		dead_clear(&mg->cf.pages[i]);
}

/* --- threads, attachments, rates --- */

static int
thread_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct mg_thread *t = HTAB_ENTRY(n, struct mg_thread, hn);

	return strlen(t->key) == l && memcmp(t->key, k, l) == 0;
}

static struct mg_thread *
thread_get(struct sbx_messenger *mg, const char *account, const char *user)
{
	char key[2 * MG_ID_MAX + 2];
	struct htab_node *n;

	snprintf(key, sizeof(key), "%s\n%s", account, user);
	n = htab_find(&mg->threads, key, strlen(key), thread_eq);
	return n ? HTAB_ENTRY(n, struct mg_thread, hn) : NULL;
}

/* The thread (account, user), made when new; NULL when there are too many. */
static struct mg_thread *
thread_make(struct sbx_messenger *mg, const struct mg_page *p, int ig,
    const char *user)
{
	const char *account = ig ? p->ig : p->id;
	struct mg_thread *t;

	if ((t = thread_get(mg, account, user)) != NULL)
		return t;
	if (mg->nthreads >= MG_MAX_THREADS || (t = calloc(1,
	    sizeof(*t))) == NULL)
		return NULL;
	snprintf(t->key, sizeof(t->key), "%s\n%s", account, user);
	t->ig = ig;
	snprintf(t->account, sizeof(t->account), "%s", account);
	snprintf(t->page, sizeof(t->page), "%s", p->id);
	snprintf(t->user, sizeof(t->user), "%s", user);
	if (htab_insert(&mg->threads, &t->hn, t->key, strlen(t->key)) == -1) {
		free(t);
		return NULL;
	}
	t->next = mg->tlist;
	mg->tlist = t;
	mg->nthreads++;
	return t;
}

static int
att_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct mg_att *a = HTAB_ENTRY(n, struct mg_att, hn);

	return strlen(a->id) == l && memcmp(a->id, k, l) == 0;
}

static struct mg_att *
att_get(struct sbx_messenger *mg, const char *id)
{
	struct htab_node *n = htab_find(&mg->atts, id, strlen(id), att_eq);

	return n ? HTAB_ENTRY(n, struct mg_att, hn) : NULL;
}

/* A new attachment id of type for page into id[24]; -1 out of memory. */
static int
att_new(struct sbx_messenger *mg, const char *page, const char *type,
    char id[24])
{
	struct mg_att *a;

	if (mg->natts >= MG_MAX_ATT)
		return -1;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -1;
	snprintf(a->id, sizeof(a->id), "%llu", 2000000000000000ULL +
	    ++mg->seq * 7919 + (unsigned long long)randombytes_uniform(997));
	snprintf(a->type, sizeof(a->type), "%s", type);
	snprintf(a->page, sizeof(a->page), "%s", page);
	if (htab_insert(&mg->atts, &a->hn, a->id, strlen(a->id)) == -1) {
		free(a);
		return -1;
	}
	a->next = mg->alist;
	mg->alist = a;
	mg->natts++;
	memcpy(id, a->id, sizeof(a->id));
	return 0;
}

static int
rate_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct mg_rate *r = HTAB_ENTRY(n, struct mg_rate, hn);

	return strlen(r->account) == l && memcmp(r->account, k, l) == 0;
}

/* Would one more send from account go over the rate in the last second?
 * If not, it is counted. */
static int
rate_over(struct sbx_messenger *mg, const char *account, long long now)
{
	struct htab_node *n = htab_find(&mg->rates, account, strlen(account),
	    rate_eq);
	struct mg_rate *r;
	size_t cap = (size_t)mg->cf.rate;

	if (n == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return 0;
		snprintf(r->account, sizeof(r->account), "%s", account);
		if (htab_insert(&mg->rates, &r->hn, r->account,
		    strlen(r->account)) == -1) {
			free(r);
			return 0;
		}
		r->next = mg->rlist;
		mg->rlist = r;
	} else
		r = HTAB_ENTRY(n, struct mg_rate, hn);
	if (r->cap != cap) {
		free(r->t);
		if ((r->t = calloc(cap, sizeof(*r->t))) == NULL) {
			r->cap = r->n = 0;
			return 0;
		}
		r->cap = cap;
		r->n = r->head = 0;
	}
	/* the oldest of the last cap sends within the second: full */
	if (r->n == r->cap && now - r->t[r->head] < 1000)
		return 1;
	if (r->n == r->cap) {
		r->t[r->head] = now;
		r->head = (r->head + 1) % r->cap;
	} else
		r->t[(r->head + r->n++) % r->cap] = now;
	return 0;
}

/* --- answers --- */

static void
make_fbtrace(char out[32])
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
	    "uvwxyz0123456789";
	int i;

	for (i = 0; i < 11; i++)
		out[i] = al[randombytes_uniform(sizeof(al) - 1)];
	out[i] = '\0';
}

/* Meta's error envelope into jw. */
static void
graph_error(struct sbx_jw *jw, long code, long subcode, const char *message)
{
	char trace[32];

	make_fbtrace(trace);
	sbx_jw_open(jw, NULL);
	sbx_jw_open(jw, "error");
	sbx_jw_str(jw, "message", message);
	sbx_jw_str(jw, "type", "OAuthException");
	sbx_jw_int(jw, "code", code);
	if (subcode != 0)
		sbx_jw_int(jw, "error_subcode", subcode);
	sbx_jw_str(jw, "fbtrace_id", trace);
	sbx_jw_close(jw);
	sbx_jw_close(jw);
}

static void __attribute__((format(printf, 5, 6)))
fail(struct mg_rec *r, struct sbx_jw *jw, long code, long subcode,
    const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->status == 0 || r->status == 200)
		r->status = 400;
	r->code = code;
	r->subcode = subcode;
	graph_error(jw, code, subcode, msg);
}

static const char *
token_message(long subcode)
{
	switch (subcode) {
	case 463:
		return "Error validating access token: Session has expired.";
	case 460:
		return "Error validating access token: The session has been "
		    "invalidated because the user changed their password or "
		    "Facebook has changed the session for security reasons.";
	case 458:
		return "Error validating access token: The user has not "
		    "authorized application " MG_APP_ID ".";
	case 467:
		return "Error validating access token: The session is invalid "
		    "because the user logged out.";
	default:
		return "Error validating access token: The session is invalid.";
	}
}

/* A request body for the log: compact JSON when it parses, else text. */
static char *
body_for_log(json_t *j, const char *body, size_t len)
{
	struct sbx_jw jw;
	char *cut;

	if (j != NULL)
		return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (body == NULL || len == 0)
		return NULL;
	if ((cut = strndup(body, len > MG_LOG_BODY_MAX ? MG_LOG_BODY_MAX :
	    len)) == NULL)
		return NULL;
	sbx_jw_init(&jw);
	sbx_jw_str(&jw, NULL, cut);
	free(cut);
	if (jw.oom) {
		sbx_jw_free(&jw);
		return NULL;
	}
	return jw.buf;
}

static void
finish(struct sbx_messenger *mg, struct evhttp_request *req,
    struct mg_rec *r, struct sbx_jw *jw)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct sbx_jw lj;

	sbx_jw_init(&lj);
	sbx_jw_str(&lj, "method", sbx_method(req));
	sbx_jw_str(&lj, "path", r->path);
	sbx_jw_str(&lj, "query", u ? evhttp_uri_get_query(u) : NULL);
	sbx_jw_str(&lj, "access_token", r->token);
	sbx_jw_str(&lj, "content_type", evhttp_find_header(in,
	    "Content-Type"));
	if (r->body != NULL)
		sbx_jw_raw(&lj, "body", r->body, strlen(r->body));
	else
		sbx_jw_null(&lj, "body");
	sbx_jw_int(&lj, "answer", r->status);
	if (r->code != 0)
		sbx_jw_int(&lj, "code", r->code);
	if (r->subcode != 0)
		sbx_jw_int(&lj, "subcode", r->subcode);
	if (r->id[0] != '\0')
		sbx_jw_str(&lj, "id", r->id);
	if (r->fault != 0)
		sbx_jw_int(&lj, "fault", r->fault);
	sbx_jw_int(&lj, "ts_ms", daemon_now_ms());
	sbx_log_jw(mg->sb->log, "request", r->api, &lj);
	if (r->status >= 400)
		log_debug("messenger: %s %s refused: %d code=%ld/%ld",
		    sbx_method(req), r->path, r->status, r->code, r->subcode);
	free(r->body);
	r->body = NULL;
}

/*
 * The token a request carries (access_token in the query, or a Bearer
 * header) and the Page it is for; 0 fine (*page set), else the 190 written
 * into jw.  id is the path's object: a Page of ours, "me", or NULL.
 */
static int
auth(struct sbx_messenger *mg, struct evhttp_request *req,
    struct evkeyvalq *q, struct mg_rec *r, struct sbx_jw *jw,
    struct mg_page **page)
{
	const char *tok = evhttp_find_header(q, "access_token");
	size_t i, n;
	struct mg_page *p;
	long sub;

	*page = NULL;
	if (tok == NULL) {
		tok = evhttp_find_header(evhttp_request_get_input_headers(req),
		    "Authorization");
		if (tok != NULL && strncasecmp(tok, "Bearer ", 7) == 0)
			tok += 7;
		else
			tok = NULL;
	}
	r->token = tok;
	if (tok == NULL || *tok == '\0') {
		fail(r, jw, 2500, 0, "An active access token must be used to "
		    "query information about the current user.");
		return -1;
	}
	n = strlen(tok);
	for (i = 0; i < mg->cf.npages; i++) {
		p = &mg->cf.pages[i];
		token_reread(mg, p);
		if ((p->token == NULL || strlen(p->token) != n ||
		    sodium_memcmp(p->token, tok, n) != 0) &&
		    !token_issued(mg, p, tok))
			continue;
		if ((sub = dead_sub(p, tok)) != 0) {
			fail(r, jw, 190, sub, "%s", token_message(sub));
			return -1;
		}
		*page = p;
		return 0;
	}
	fail(r, jw, 190, 0, "Invalid OAuth access token - Cannot parse access "
	    "token");
	return -1;
}

/* The error body of a fault with an HTTP status into jw. */
static void
fault_error(struct mg_rec *r, struct sbx_jw *jw, const struct sbx_fault *f)
{
	long code = f->code;
	char msg[300];

	if (code == 0)
		code = f->http == 401 ? 190 : f->http == 403 ? 10 :
		    f->http == 429 ? 613 : f->http >= 500 ? 2 : 100;
	if (f->message[0] != '\0')
		snprintf(msg, sizeof(msg), "%s", f->message);
	else if (code == 190)
		snprintf(msg, sizeof(msg), "%s", token_message(f->subcode));
	else if (code == 10 && (f->subcode == 2018278 ||
	    f->subcode == 2534022))
		snprintf(msg, sizeof(msg), "%s", f->subcode == 2018278 ?
		    MG_WINDOW_MSG : IG_WINDOW_MSG);
	else if (code == 613)
		snprintf(msg, sizeof(msg), "(#613) Calls to this api have "
		    "exceeded the rate limit.");
	else if (code == 4)
		snprintf(msg, sizeof(msg), "(#4) Application request limit "
		    "reached");
	else if (code == 551)
		snprintf(msg, sizeof(msg), "(#551) This person isn't available "
		    "right now.");
	else if (code == 2)
		snprintf(msg, sizeof(msg), "An unexpected error has occurred. "
		    "Please retry your request later.");
	else
		snprintf(msg, sizeof(msg), "(#%ld) Sandbox fault", code);
	r->status = f->http;
	r->fault = f->id;
	r->code = code;
	r->subcode = f->subcode;
	graph_error(jw, code, f->subcode, msg);
}

/* --- webhooks --- */

static void
hook_headers(struct sbx_messenger *mg, const char *body, size_t len,
    const char *hdrs[4], char *sighdr, size_t sighdrsz)
{
	char sig[SIG_META_LEN + 1];
	int n = 0;

	hdrs[n++] = "Content-Type: application/json";
	if (mg->cf.secret != NULL) {
		sig_meta(body, len, mg->cf.secret, sig);
		snprintf(sighdr, sighdrsz, "X-Hub-Signature-256: %s", sig);
		hdrs[n++] = sighdr;
	}
	hdrs[n++] = "User-Agent: facebookexternalua";
	hdrs[n] = NULL;
}

/* {object, entry: [{id, time, messaging: [ev]}]} (ev stolen). */
static json_t *
envelope(int ig, const char *account, json_t *ev)
{
	return json_pack("{s:s, s:[{s:s, s:I, s:[o]}]}", "object", ig ?
	    "instagram" : "page", "entry", "id", account, "time",
	    (json_int_t)daemon_now_ms(), "messaging", ev);
}

static void
msg_done(struct sbx_chain *c)
{
	struct mg_msg *m = (struct mg_msg *)c;

	free(m->metadata);
	json_decref(m->content);
	free(m);
}

/* Post step st (echo, delivery, read) of m's webhooks. */
static void
msg_step(struct sbx_chain *c, const char *st)
{
	struct mg_msg *m = (struct mg_msg *)c;
	struct sbx_messenger *mg = m->mg;
	const char *hdrs[4];
	char sighdr[SIG_META_LEN + 32], *body;
	long long now = daemon_now_ms();
	json_t *ev = NULL, *msg, *n;
	size_t len;

	if (strcmp(st, "echo") == 0) {
		msg = json_deep_copy(m->content);
		json_object_set_new(msg, "mid", json_string(m->mid));
		json_object_set_new(msg, "is_echo", json_true());
		if (!m->ig)
			json_object_set_new(msg, "app_id",
			    json_integer(strtoll(MG_APP_ID, NULL, 10)));
		if (m->metadata != NULL)
			json_object_set_new(msg, "metadata",
			    json_string(m->metadata));
		ev = json_pack("{s:{s:s}, s:{s:s}, s:I, s:o}", "sender", "id",
		    m->account, "recipient", "id", m->user, "timestamp",
		    (json_int_t)m->sent_ms, "message", msg);
	} else if (strcmp(st, "delivery") == 0)
		ev = json_pack("{s:{s:s}, s:{s:s}, s:I, s:{s:[s], s:I}}",
		    "sender", "id", m->user, "recipient", "id", m->account,
		    "timestamp", (json_int_t)now, "delivery", "mids", m->mid,
		    "watermark", (json_int_t)now);
	else if (m->ig)
		ev = json_pack("{s:{s:s}, s:{s:s}, s:I, s:{s:s}}", "sender",
		    "id", m->user, "recipient", "id", m->account, "timestamp",
		    (json_int_t)now, "read", "mid", m->mid);
	else
		ev = json_pack("{s:{s:s}, s:{s:s}, s:I, s:{s:I}}", "sender",
		    "id", m->user, "recipient", "id", m->account, "timestamp",
		    (json_int_t)now, "read", "watermark", (json_int_t)now);
	n = ev ? envelope(m->ig, m->account, ev) : NULL;
	if (n == NULL || (body = json_dumps(n, JSON_COMPACT)) == NULL) {
		log_warnx("messenger: %s: cannot build the %s webhook", m->mid,
		    st);
		json_decref(n);
		sbx_chain_end(c);
		return;
	}
	json_decref(n);
	len = strlen(body);
	hook_headers(mg, body, len, hdrs, sighdr, sizeof(sighdr));
	sbx_chain_post(c, m->ig ? "instagram" : "messenger", mg->cf.url, hdrs,
	    body, len, body);	/* may free m */
	free(body);
}

/* A mid as Meta makes them: "m_..." on Messenger, base64 on Instagram. */
static void
make_mid(struct sbx_messenger *mg, int ig, char *out, size_t outsz)
{
	unsigned char r[90];
	char b64[128];

	/* Instagram's are long (some 150 bytes); Messenger's about 90 */
	randombytes_buf(r, sizeof(r));
	sodium_bin2base64(b64, sizeof(b64), r, ig ? 90 : 63,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(out, outsz, "%s%s", ig ? "aWdfZAG1faXRlbToxOk" : "m_", b64);
}

/* --- the Send API --- */

static const char *const tags[] = { "HUMAN_AGENT", "CONFIRMED_EVENT_UPDATE",
    "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE", "CUSTOMER_FEEDBACK", NULL };
static const char *const att_types[] = { "image", "audio", "video", "file",
    "template", NULL };

static int
in_list(const char *s, const char *const *l)
{
	for (; *l != NULL; l++)
		if (strcmp(s, *l) == 0)
			return 1;
	return 0;
}

static const char *
jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The message object of a send checked; 0, or -1 with the error in jw. */
static int
check_message(struct sbx_messenger *mg, const struct mg_thread *t,
    json_t *msg, struct mg_rec *r, struct sbx_jw *jw, const char **att_url,
    const char **att_type)
{
	json_t *att, *pl, *qrs, *q, *v;
	const char *text, *type, *s;
	struct mg_att *a;
	size_t i, max = t->ig ? IG_TEXT_CHARS : MG_TEXT_CHARS;

	*att_url = *att_type = NULL;
	if (!json_is_object(msg)) {
		fail(r, jw, 100, 0, "(#100) param message must be an object");
		return -1;
	}
	text = jstr(msg, "text");
	att = json_object_get(msg, "attachment");
	if ((text == NULL) == (att == NULL)) {
		fail(r, jw, 100, 0, "(#100) Must send either message text or "
		    "an attachment");
		return -1;
	}
	if (text != NULL && (*text == '\0' || !valid_utf8(text,
	    strlen(text)) || valid_utf8_chars(text, strlen(text)) > max)) {
		fail(r, jw, 100, 0, "(#100) Length of param message[text] must "
		    "be less than or equal to %zu", max);
		return -1;
	}
	if (att != NULL) {
		pl = json_object_get(att, "payload");
		if (!json_is_object(att) || (type = jstr(att, "type")) ==
		    NULL || !in_list(type, att_types) || !json_is_object(pl)) {
			fail(r, jw, 100, 0, "(#100) param message[attachment] "
			    "needs a type (image, audio, video, file, template) "
			    "and a payload");
			return -1;
		}
		*att_type = type;
		if ((s = jstr(pl, "attachment_id")) != NULL) {
			if ((a = att_get(mg, s)) == NULL ||
			    strcmp(a->page, t->page) != 0) {
				fail(r, jw, 100, 0, "(#100) Invalid "
				    "attachment_id");
				return -1;
			}
		} else if ((s = jstr(pl, "url")) != NULL) {
			if (!sbx_valid_url(s)) {
				fail(r, jw, 100, 0, "(#100) param "
				    "message[attachment][payload][url] must be "
				    "a valid URL");
				return -1;
			}
			*att_url = s;
		} else if (strcmp(type, "template") != 0) {
			fail(r, jw, 100, 0, "(#100) Attachment payload needs "
			    "a url or an attachment_id");
			return -1;
		}
	}
	if ((qrs = json_object_get(msg, "quick_replies")) != NULL) {
		if (!json_is_array(qrs) || json_array_size(qrs) == 0 ||
		    json_array_size(qrs) > MG_QR_MAX) {
			fail(r, jw, 100, 0, "(#100) param "
			    "message[quick_replies] must be an array of 1 to "
			    "%d elements", MG_QR_MAX);
			return -1;
		}
		json_array_foreach(qrs, i, q) {
			s = jstr(q, "content_type");
			v = json_object_get(q, "title");
			if (s == NULL || (strcmp(s, "text") == 0 &&
			    (!json_is_string(v) || json_string_length(v) ==
			    0 || valid_utf8_chars(json_string_value(v),
			    json_string_length(v)) > 20 ||
			    jstr(q, "payload") == NULL ||
			    strlen(jstr(q, "payload")) > 1000))) {
				fail(r, jw, 100, 0, "(#100) quick_replies[%zu]: "
				    "a text quick reply needs a title of at "
				    "most 20 characters and a payload", i);
				return -1;
			}
		}
	}
	if ((s = jstr(msg, "metadata")) != NULL && strlen(s) > MG_META_MAX) {
		fail(r, jw, 100, 0, "(#100) Length of param message[metadata] "
		    "must be less than or equal to 1000");
		return -1;
	}
	return 0;
}

static void
send_call(struct sbx_messenger *mg, struct evhttp_request *req,
    struct mg_rec *r, struct evkeyvalq *q, const char *id)
{
	struct mg_page *page, *pp;
	struct mg_thread *t = NULL;
	struct sbx_fault f;
	struct sbx_jw ans;
	struct mg_msg *m;
	json_t *j = NULL, *msg, *content;
	json_error_t je;
	const char *body, *to, *mt, *tag, *att_url, *att_type;
	char att_id[24] = "";
	long long now = daemon_now_ms(), age;
	size_t len = 0;
	int ig, has_fault = 0, human;

	sbx_jw_init(&ans);
	r->api = "messenger";
	body = sbx_body(req, &len);
	if (body != NULL)
		j = json_loadb(body, len, 0, &je);
	r->body = body_for_log(j, body, len);
	if (auth(mg, req, q, r, &ans, &page) == -1)
		goto done;
	if (strcmp(id, "me") != 0 && ((pp = page_of(mg, id, &ig)) != page ||
	    ig)) {
		fail(r, &ans, 100, 33, "Unsupported post request. Object with "
		    "ID '%s' does not exist, cannot be loaded due to missing "
		    "permissions, or does not support this operation.", id);
		goto done;
	}
	if (!json_is_object(j)) {
		fail(r, &ans, 100, 0, "(#100) The request body must be JSON "
		    "(Content-Type: application/json)");
		goto done;
	}
	to = json_is_object(json_object_get(j, "recipient")) ?
	    jstr(json_object_get(j, "recipient"), "id") : NULL;
	if (to == NULL || !all_digits(to, strlen(to))) {
		fail(r, &ans, 100, 0, "(#100) param recipient must be "
		    "non-empty.");
		goto done;
	}
	/* the customer: a thread of the Page or of its Instagram account */
	if ((t = thread_get(mg, page->id, to)) == NULL && page->ig[0])
		t = thread_get(mg, page->ig, to);
	if (t != NULL)
		r->api = t->ig ? "instagram" : "messenger";
	if (sbx_fault_match(mg->sb->faults, r->api, to, &f)) {
		has_fault = 1;
		if (f.http != 0) {
			fault_error(r, &ans, &f);
			goto done;
		}
		r->fault = f.id;
	}
	if (t == NULL) {
		fail(r, &ans, 100, 2018001, "(#100) No matching user found");
		goto done;
	}
	mt = jstr(j, "messaging_type");
	tag = jstr(j, "tag");
	if (mt == NULL)
		mt = "RESPONSE";
	if (strcmp(mt, "RESPONSE") != 0 && strcmp(mt, "UPDATE") != 0 &&
	    strcmp(mt, "MESSAGE_TAG") != 0) {
		fail(r, &ans, 100, 0, "(#100) param messaging_type must be one "
		    "of {RESPONSE, UPDATE, MESSAGE_TAG}");
		goto done;
	}
	if (strcmp(mt, "MESSAGE_TAG") == 0 && (tag == NULL ||
	    !in_list(tag, tags) || (t->ig && strcmp(tag, "HUMAN_AGENT") !=
	    0))) {
		fail(r, &ans, 100, 0, "(#100) param tag must be one of {%s}",
		    t->ig ? "HUMAN_AGENT" : "HUMAN_AGENT, CONFIRMED_EVENT_UPDATE, "
		    "POST_PURCHASE_UPDATE, ACCOUNT_UPDATE, CUSTOMER_FEEDBACK");
		goto done;
	}
	msg = json_object_get(j, "message");
	if (check_message(mg, t, msg, r, &ans, &att_url, &att_type) == -1)
		goto done;
	/* the window: 24 h; a human agent's tag 7 days */
	age = t->last_in_ms > 0 ? now - t->last_in_ms : -1;
	human = strcmp(mt, "MESSAGE_TAG") == 0 && tag != NULL &&
	    strcmp(tag, "HUMAN_AGENT") == 0;
	if (age < 0 || (!human && age >= mg->cf.window_s * 1000) ||
	    (human && age >= mg->cf.human_s * 1000) ||
	    (strcmp(mt, "MESSAGE_TAG") == 0 && !human && t->ig)) {
		if (t->ig)
			fail(r, &ans, 10, 2534022, "%s", IG_WINDOW_MSG);
		else
			fail(r, &ans, 10, 2018278, "%s", MG_WINDOW_MSG);
		goto done;
	}
	if (rate_over(mg, t->account, now)) {
		fail(r, &ans, 613, 0, "(#613) Calls to this api have exceeded "
		    "the rate limit.");
		goto done;
	}
	r->status = 200;
	make_mid(mg, t->ig, r->id, sizeof(r->id));
	if (att_url != NULL && json_is_true(json_object_get(json_object_get(
	    json_object_get(msg, "attachment"), "payload"), "is_reusable")))
		att_new(mg, page->id, att_type, att_id);
	sbx_jw_open(&ans, NULL);
	sbx_jw_str(&ans, "recipient_id", t->user);
	sbx_jw_str(&ans, "message_id", r->id);
	if (att_id[0] != '\0')
		sbx_jw_str(&ans, "attachment_id", att_id);
	sbx_jw_close(&ans);
	/* the echo holds what was sent (an attachment as its URL) */
	content = json_object();
	if (jstr(msg, "text") != NULL)
		json_object_set_new(content, "text",
		    json_string(jstr(msg, "text")));
	else
		json_object_set_new(content, "attachments", json_pack(
		    "[{s:s, s:{s:s}}]", "type", att_type, "payload", "url",
		    att_url ? att_url : "https://cdn.sandbox.test/attachment"));
	if ((m = calloc(1, sizeof(*m))) == NULL || sbx_chain_init(&m->c,
	    mg->sb, &mg->cf.status_delay_ms, msg_step, msg_done,
	    "messenger: %s", r->id) == -1) {
		free(m);
		json_decref(content);
		log_warnx("messenger: %s: out of memory; no webhooks", r->id);
		finish(mg, req, r, &ans);
		sbx_reply_jw(req, r->status, &ans);
		goto out;
	}
	m->mg = mg;
	m->ig = t->ig;
	snprintf(m->mid, sizeof(m->mid), "%s", r->id);
	snprintf(m->account, sizeof(m->account), "%s", t->account);
	snprintf(m->user, sizeof(m->user), "%s", t->user);
	m->metadata = jstr(msg, "metadata") ? strdup(jstr(msg, "metadata")) :
	    NULL;
	m->content = content;
	m->sent_ms = now;
	{
		static const char *const mseq[] = { "echo", "delivery",
		    "read" };
		static const char *const iseq[] = { "echo", "read" };

		sbx_chain_plan(&m->c, t->ig ? iseq : mseq, t->ig ? 2 : 3,
		    has_fault ? &f : NULL);
	}
	finish(mg, req, r, &ans);
	sbx_answer(mg->sb, req, r->status, &ans, has_fault ? f.delay_ms : 0,
	    &m->c);
	goto out;
done:
	finish(mg, req, r, &ans);
	sbx_answer(mg->sb, req, r->status ? r->status : 400, &ans,
	    has_fault ? f.delay_ms : 0, NULL);
out:
	json_decref(j);
}

/* --- the attachment upload API --- */

/* A part of a multipart body. */
struct mp_part {
	char		 name[64];
	char		 filename[256];
	char		 type[128];
	const unsigned char *data;
	size_t		 len;
};

static const unsigned char *
memmem_u(const unsigned char *h, size_t hl, const char *n, size_t nl)
{
	return memmem(h, hl, n, nl);
}

/* name="..." of a Content-Disposition line into out. */
static void
disp_param(const char *line, size_t ll, const char *key, char *out,
    size_t outsz)
{
	char pat[32];
	const char *p, *e;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), "%s=\"", key);
	if ((p = memmem(line, ll, pat, strlen(pat))) == NULL)
		return;
	p += strlen(pat);
	if ((e = memchr(p, '"', (size_t)(line + ll - p))) == NULL)
		return;
	snprintf(out, outsz, "%.*s", (int)(e - p), p);
}

/* Split body by boundary into parts; -1 when malformed. */
static int
mp_split(const unsigned char *b, size_t len, const char *boundary,
    struct mp_part *parts, size_t max, size_t *n)
{
	char delim[100];
	const unsigned char *p, *end = b + len, *next, *hend, *line, *le;
	size_t dl;

	*n = 0;
	snprintf(delim, sizeof(delim), "--%s", boundary);
	dl = strlen(delim);
	if ((p = memmem_u(b, len, delim, dl)) == NULL)
		return -1;
	for (;;) {
		p += dl;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return 0;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n' || *n == max)
			return -1;
		p += 2;
		if ((hend = memmem_u(p, (size_t)(end - p), "\r\n\r\n", 4)) ==
		    NULL)
			return -1;
		memset(&parts[*n], 0, sizeof(parts[*n]));
		for (line = p; line < hend; line = le + 2) {
			if ((le = memmem_u(line, (size_t)(hend + 2 - line),
			    "\r\n", 2)) == NULL)
				le = hend;
			if ((size_t)(le - line) > 20 && strncasecmp(
			    (const char *)line, "Content-Disposition:", 20) ==
			    0) {
				disp_param((const char *)line, (size_t)(le -
				    line), "name", parts[*n].name,
				    sizeof(parts[*n].name));
				disp_param((const char *)line, (size_t)(le -
				    line), "filename", parts[*n].filename,
				    sizeof(parts[*n].filename));
			} else if ((size_t)(le - line) > 13 && strncasecmp(
			    (const char *)line, "Content-Type:", 13) == 0) {
				line += 13;
				while (*line == ' ')
					line++;
				snprintf(parts[*n].type, sizeof(parts[*n].type),
				    "%.*s", (int)(le - line), line);
			}
		}
		p = hend + 4;
		if ((next = memmem_u(p, (size_t)(end - p), delim, dl)) ==
		    NULL || next - p < 2)
			return -1;
		parts[*n].data = p;
		parts[*n].len = (size_t)(next - p) - 2;	/* the CRLF */
		(*n)++;
		p = next;
	}
}

static void
upload_call(struct sbx_messenger *mg, struct evhttp_request *req,
    struct mg_rec *r, struct evkeyvalq *q, const char *id)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type"), *bp, *type;
	struct mp_part parts[8], *mpart = NULL, *file = NULL;
	size_t len = evbuffer_get_length(in), n = 0, i;
	const unsigned char *b;
	struct mg_page *page, *pp;
	struct sbx_jw ans;
	char boundary[80], mime[128], why[200], *mtext = NULL;
	json_t *mj = NULL, *att, *pl;
	json_error_t je;
	int ig;

	sbx_jw_init(&ans);
	r->api = "messenger";
	if (auth(mg, req, q, r, &ans, &page) == -1)
		goto done;
	if (strcmp(id, "me") != 0 && ((pp = page_of(mg, id, &ig)) != page ||
	    ig)) {
		fail(r, &ans, 100, 33, "Unsupported post request. Object with "
		    "ID '%s' does not exist, cannot be loaded due to missing "
		    "permissions, or does not support this operation.", id);
		goto done;
	}
	if (len > MG_MAX_UPLOAD) {
		r->status = 413;
		fail(r, &ans, 100, 0, "(#100) The file is over 25 MB");
		goto done;
	}
	if (ct == NULL || strncasecmp(ct, "multipart/form-data", 19) != 0 ||
	    (bp = strstr(ct, "boundary=")) == NULL ||
	    strlen(bp + 9) >= sizeof(boundary)) {
		fail(r, &ans, 100, 0, "(#100) The upload must be "
		    "multipart/form-data");
		goto done;
	}
	snprintf(boundary, sizeof(boundary), "%s", bp + 9);
	if (boundary[0] == '"') {
		memmove(boundary, boundary + 1, strlen(boundary));
		boundary[strcspn(boundary, "\"")] = '\0';
	}
	if ((b = evbuffer_pullup(in, -1)) == NULL && len > 0) {
		r->status = 500;
		fail(r, &ans, 2, 0, "Out of memory");
		goto done;
	}
	if (mp_split(b, len, boundary, parts, 8, &n) == -1) {
		fail(r, &ans, 100, 0, "(#100) The multipart body is malformed");
		goto done;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(parts[i].name, "message") == 0)
			mpart = &parts[i];
		else if (strcmp(parts[i].name, "filedata") == 0 &&
		    parts[i].filename[0] != '\0')
			file = &parts[i];
	}
	if (mpart == NULL || (mtext = strndup((const char *)mpart->data,
	    mpart->len)) == NULL ||
	    (mj = json_loads(mtext, 0, &je)) == NULL) {
		fail(r, &ans, 100, 0, "(#100) param message must be JSON");
		goto done;
	}
	att = json_object_get(mj, "attachment");
	pl = json_object_get(att, "payload");
	type = jstr(att, "type");
	if (type == NULL || !in_list(type, att_types) ||
	    strcmp(type, "template") == 0 || !json_is_object(pl)) {
		fail(r, &ans, 100, 0, "(#100) param message[attachment] needs a "
		    "type (image, audio, video, file) and a payload");
		goto done;
	}
	if (file == NULL && jstr(pl, "url") == NULL) {
		fail(r, &ans, 100, 0, "(#100) Upload a file (filedata) or give "
		    "a payload url");
		goto done;
	}
	if (file != NULL) {
		snprintf(mime, sizeof(mime), "%.*s", (int)strcspn(file->type,
		    "; "), file->type[0] ? file->type :
		    "application/octet-stream");
		if (file->len == 0 || media_check_size("messenger", mime,
		    (long long)file->len, why, sizeof(why)) == -1) {
			fail(r, &ans, 100, 0, "(#100) %s", file->len == 0 ?
			    "The file is empty" : why);
			goto done;
		}
	}
	if (att_new(mg, page->id, type, r->id) == -1) {
		r->status = 500;
		fail(r, &ans, 2, 0, "Out of memory");
		goto done;
	}
	r->status = 200;
	sbx_jw_open(&ans, NULL);
	sbx_jw_str(&ans, "attachment_id", r->id);
	sbx_jw_close(&ans);
	log_debug("messenger: attachment %s uploaded: %s, %zu bytes", r->id,
	    type, file ? file->len : 0);
done:
	if (mtext != NULL || file != NULL) {
		json_t *lg = json_object();

		if (mj != NULL)
			json_object_set(lg, "message", mj);
		if (file != NULL)
			json_object_set_new(lg, "filedata", json_pack(
			    "{s:s, s:s, s:I}", "filename", file->filename,
			    "type", file->type, "size", (json_int_t)file->len));
		r->body = json_dumps(lg, JSON_COMPACT);
		json_decref(lg);
	}
	free(mtext);
	json_decref(mj);
	finish(mg, req, r, &ans);
	sbx_reply_jw(req, r->status ? r->status : 400, &ans);
}

/* --- GET /{id}: a Page, or a customer's profile --- */

static void
get_call(struct sbx_messenger *mg, struct evhttp_request *req,
    struct mg_rec *r, struct evkeyvalq *q, const char *id)
{
	struct mg_page *page, *pp;
	struct mg_thread *t;
	struct sbx_fault f;
	struct sbx_jw ans;
	const char *fields = evhttp_find_header(q, "fields");
	char first[128], *sp;
	int ig;

	sbx_jw_init(&ans);
	r->api = "messenger";
	if (auth(mg, req, q, r, &ans, &page) == -1)
		goto done;
	if (strcmp(id, "me") == 0)
		id = page->id;
	if ((pp = page_of(mg, id, &ig)) != NULL) {
		if (pp != page) {
			fail(r, &ans, 100, 33, "Unsupported get request. "
			    "Object with ID '%s' does not exist, cannot be "
			    "loaded due to missing permissions, or does not "
			    "support this operation.", id);
			goto done;
		}
		r->status = 200;
		sbx_jw_open(&ans, NULL);
		if (fields == NULL || strstr(fields, "name") != NULL) {
			snprintf(first, sizeof(first), "%s %s", ig ?
			    "Sandbox Instagram" : "Sandbox Page", id);
			sbx_jw_str(&ans, ig ? "username" : "name", first);
		}
		sbx_jw_str(&ans, "id", id);
		sbx_jw_close(&ans);
		goto done;
	}
	if ((t = thread_get(mg, page->id, id)) == NULL && page->ig[0])
		t = thread_get(mg, page->ig, id);
	if (t != NULL)
		r->api = t->ig ? "instagram" : "messenger";
	if (sbx_fault_match(mg->sb->faults, "profile", id, &f) && f.http) {
		fault_error(r, &ans, &f);
		goto done;
	}
	if (t == NULL) {
		fail(r, &ans, 100, 33, "Unsupported get request. Object with "
		    "ID '%s' does not exist, cannot be loaded due to missing "
		    "permissions, or does not support this operation.", id);
		goto done;
	}
	r->status = 200;
	sbx_jw_open(&ans, NULL);
	if (t->ig) {
		if (fields == NULL || strstr(fields, "name") != NULL)
			sbx_jw_str(&ans, "name", t->name[0] ? t->name : NULL);
		if (fields == NULL || strstr(fields, "username") != NULL)
			sbx_jw_str(&ans, "username", t->username);
	} else {
		snprintf(first, sizeof(first), "%s", t->name);
		sp = strchr(first, ' ');
		if (sp != NULL)
			*sp = '\0';
		if (fields == NULL || strstr(fields, "first_name") != NULL)
			sbx_jw_str(&ans, "first_name", first);
		if (fields == NULL || strstr(fields, "last_name") != NULL)
			sbx_jw_str(&ans, "last_name", sp ? sp + 1 : "");
		if (fields != NULL && strstr(fields, "profile_pic") != NULL)
			sbx_jw_str(&ans, "profile_pic",
			    "https://cdn.sandbox.test/profile.jpg");
	}
	sbx_jw_str(&ans, "id", t->user);
	sbx_jw_close(&ans);
done:
	finish(mg, req, r, &ans);
	sbx_reply_jw(req, r->status ? r->status : 400, &ans);
}

/* "vN.N" */
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

int
sbx_messenger_route(struct sbx *sb, struct evhttp_request *req,
    const char *path)
{
	struct sbx_messenger *mg = sb->messenger;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *query = u ? evhttp_uri_get_query(u) : NULL, *seg, *slash,
	    *rest;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	char id[MG_ID_MAX + 1];
	struct evkeyvalq q;
	struct mg_rec r;
	struct sbx_jw ans;
	size_t n;

	/* Graph calls with an access_token are the Messenger Platform's */
	if (query == NULL || strstr(query, "access_token=") == NULL)
		return 0;
	seg = path + 1;
	if ((slash = strchr(seg, '/')) == NULL ||
	    !valid_version(seg, (size_t)(slash - seg)))
		return 0;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(query, &q) == -1)
		return 0;
	memset(&r, 0, sizeof(r));
	r.path = path;
	r.api = "messenger";
	seg = slash + 1;
	rest = strchr(seg, '/');
	n = rest ? (size_t)(rest - seg) : strlen(seg);
	snprintf(id, sizeof(id), "%.*s", (int)(n < MG_ID_MAX ? n : MG_ID_MAX),
	    seg);
	if (n > 0 && n <= MG_ID_MAX && (all_digits(seg, n) ||
	    strcmp(id, "me") == 0)) {
		if (rest == NULL && (cmd == EVHTTP_REQ_GET ||
		    cmd == EVHTTP_REQ_HEAD)) {
			get_call(mg, req, &r, &q, id);
			goto out;
		}
		if (cmd == EVHTTP_REQ_POST && rest != NULL &&
		    strcmp(rest, "/messages") == 0) {
			send_call(mg, req, &r, &q, id);
			goto out;
		}
		if (cmd == EVHTTP_REQ_POST && rest != NULL &&
		    strcmp(rest, "/message_attachments") == 0) {
			upload_call(mg, req, &r, &q, id);
			goto out;
		}
	}
	sbx_jw_init(&ans);
	fail(&r, &ans, 100, 0, "Unknown path components: %.200s",
	    rest ? rest : seg);
	finish(mg, req, &r, &ans);
	sbx_reply_jw(req, 400, &ans);
out:
	evhttp_clear_headers(&q);
	return 1;
}

/* --- simulated customers --- */

static const char *const item_keys[] = { "object", "from", "to", "name",
    "username", "type", "text", "url", "title", "payload", "ref", "source",
    "emoji", "reaction", "action", "reply_to", "story_url", "story_id",
    "latitude", "longitude", "watermark", "mid", "ts", "standby", "raw",
    "metadata", "app_id", NULL };
static const char *const inherited[] = { "object", "from", "to", "name",
    "username", "ts", "standby", NULL };
static const char *const media_types[] = { "image", "audio", "video", "file",
    "fallback", "share", "story_mention", "ig_reel", "reel", "ig_post",
    NULL };

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

/* What one simulated event is about. */
struct in_ev {
	int		 ig;
	struct mg_page	*page;
	const char	*account, *user, *name, *username;
	long long	 ts_ms;
	int		 standby;
	int		 opens;		/* a customer's message: the window */
	json_t		*ev;
	char		 mid[160];
};

/* One simulated event; -1 with why. */
static int
in_item(struct sbx_messenger *mg, json_t *it, json_t *top, long long now,
    struct in_ev *e, char *why, size_t whysz)
{
	const char *obj, *from, *to, *type, *text, *url, *title, *payload,
	    *ref, *source, *emoji, *reaction, *action, *reply, *surl, *sid,
	    *mid, *meta, *appid, *key;
	json_t *v, *msg = NULL, *x, *lat, *lon, *raw;
	long long ts;
	int ig;

	memset(e, 0, sizeof(*e));
	json_object_foreach(it, key, v)
		if (!in_list(key, item_keys) && (it != top ||
		    (strcmp(key, "dup") != 0 && strcmp(key, "batch") != 0))) {
			snprintf(why, whysz, "unknown field \"%.40s\"", key);
			return -1;
		}
	if (istr(it, top, "object", &obj) == -1 ||
	    istr(it, top, "from", &from) == -1 ||
	    istr(it, top, "to", &to) == -1 ||
	    istr(it, top, "name", &e->name) == -1 ||
	    istr(it, top, "username", &e->username) == -1 ||
	    istr(it, NULL, "type", &type) == -1 ||
	    istr(it, NULL, "text", &text) == -1 ||
	    istr(it, NULL, "url", &url) == -1 ||
	    istr(it, NULL, "title", &title) == -1 ||
	    istr(it, NULL, "payload", &payload) == -1 ||
	    istr(it, NULL, "ref", &ref) == -1 ||
	    istr(it, NULL, "source", &source) == -1 ||
	    istr(it, NULL, "emoji", &emoji) == -1 ||
	    istr(it, NULL, "reaction", &reaction) == -1 ||
	    istr(it, NULL, "action", &action) == -1 ||
	    istr(it, NULL, "reply_to", &reply) == -1 ||
	    istr(it, NULL, "story_url", &surl) == -1 ||
	    istr(it, NULL, "story_id", &sid) == -1 ||
	    istr(it, NULL, "mid", &mid) == -1 ||
	    istr(it, NULL, "metadata", &meta) == -1 ||
	    istr(it, NULL, "app_id", &appid) == -1) {
		snprintf(why, whysz, "fields other than ts, latitude, "
		    "longitude, watermark, standby and raw are strings");
		return -1;
	}
	if (from == NULL || !all_digits(from, strlen(from))) {
		snprintf(why, whysz, "\"from\" must be the customer's id (1 to "
		    "%d digits)", MG_ID_MAX);
		return -1;
	}
	if (to == NULL || (e->page = page_of(mg, to, &ig)) == NULL) {
		snprintf(why, whysz, "\"to\" must be a Page or Instagram "
		    "account of messenger_pages");
		return -1;
	}
	if (obj != NULL && strcmp(obj, ig ? "instagram" : "page") != 0) {
		snprintf(why, whysz, "\"object\" must be \"%s\" for %s",
		    ig ? "instagram" : "page", to);
		return -1;
	}
	e->ig = ig;
	e->account = to;
	e->user = from;
	v = ifield(it, top, "standby");
	e->standby = json_is_true(v);
	ts = now;
	if ((v = ifield(it, top, "ts")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 32503680000LL) {
			snprintf(why, whysz, "\"ts\" must be seconds since the "
			    "epoch");
			return -1;
		}
		ts = (long long)json_integer_value(v) * 1000;
		if (ts > now)
			ts = now;
	}
	e->ts_ms = ts;
	if (type == NULL)
		type = "text";
	if (mid != NULL && (*mid == '\0' || strlen(mid) >= sizeof(e->mid))) {
		snprintf(why, whysz, "\"mid\" must be 1 to %zu bytes",
		    sizeof(e->mid) - 1);
		return -1;
	}
	if (mid != NULL)
		snprintf(e->mid, sizeof(e->mid), "%s", mid);
	else
		make_mid(mg, ig, e->mid, sizeof(e->mid));
	x = NULL;
	if (strcmp(type, "text") == 0 || strcmp(type, "quick_reply") == 0 ||
	    strcmp(type, "story_reply") == 0) {
		if (text == NULL || *text == '\0') {
			snprintf(why, whysz, "a %s needs \"text\"", type);
			return -1;
		}
		msg = json_pack("{s:s, s:s}", "mid", e->mid, "text", text);
		if (strcmp(type, "quick_reply") == 0)
			json_object_set_new(msg, "quick_reply", json_pack(
			    "{s:s}", "payload", payload ? payload : text));
		if (strcmp(type, "story_reply") == 0)
			json_object_set_new(msg, "reply_to", json_pack(
			    "{s:{s:s, s:s}}", "story", "url", surl ? surl :
			    "https://cdn.sandbox.test/story.mp4", "id", sid ?
			    sid : "17900000000000001"));
		else if (reply != NULL)
			json_object_set_new(msg, "reply_to", json_pack("{s:s}",
			    "mid", reply));
		e->opens = 1;
	} else if (in_list(type, media_types) || strcmp(type, "sticker") == 0) {
		char u[300];

		snprintf(u, sizeof(u), "https://cdn.sandbox.test/%s/%s", type,
		    e->mid);
		x = json_pack("{s:s}", "url", url ? url : u);
		if (strcmp(type, "sticker") == 0)
			json_object_set_new(x, "sticker_id",
			    json_integer(369239263222822LL));
		if (title != NULL)
			json_object_set_new(x, "title", json_string(title));
		msg = json_pack("{s:s, s:[{s:s, s:o}]}", "mid", e->mid,
		    "attachments", "type", strcmp(type, "sticker") == 0 ?
		    "image" : type, "payload", x);
		if (text != NULL)
			json_object_set_new(msg, "text", json_string(text));
		e->opens = 1;
	} else if (strcmp(type, "location") == 0) {
		lat = json_object_get(it, "latitude");
		lon = json_object_get(it, "longitude");
		if (!json_is_number(lat) || !json_is_number(lon) ||
		    fabs(json_number_value(lat)) > 90 ||
		    fabs(json_number_value(lon)) > 180) {
			snprintf(why, whysz, "a location needs numeric "
			    "\"latitude\" and \"longitude\"");
			return -1;
		}
		msg = json_pack("{s:s, s:[{s:s, s:s, s:{s:{s:O, s:O}}}]}",
		    "mid", e->mid, "attachments", "type", "location", "title",
		    title ? title : "Pinned Location", "payload",
		    "coordinates", "lat", lat, "long", lon);
		e->opens = 1;
	} else if (strcmp(type, "unsupported") == 0) {
		msg = json_pack("{s:s, s:b}", "mid", e->mid, "is_unsupported",
		    1);
		e->opens = 1;
	} else if (strcmp(type, "unsend") == 0) {
		if (reply == NULL) {
			snprintf(why, whysz, "an unsend needs \"reply_to\" (the "
			    "mid unsent)");
			return -1;
		}
		msg = json_pack("{s:s, s:b}", "mid", reply, "is_deleted", 1);
		snprintf(e->mid, sizeof(e->mid), "%s", reply);
	} else if (strcmp(type, "echo") == 0) {
		if (text == NULL) {
			snprintf(why, whysz, "an echo needs \"text\"");
			return -1;
		}
		msg = json_pack("{s:s, s:b, s:s}", "mid", e->mid, "is_echo", 1,
		    "text", text);
		if (!ig)
			json_object_set_new(msg, "app_id", json_integer(
			    strtoll(appid ? appid : MG_INBOX_APP_ID, NULL,
			    10)));
		if (meta != NULL)
			json_object_set_new(msg, "metadata", json_string(meta));
		e->ev = json_pack("{s:{s:s}, s:{s:s}, s:I, s:o}", "sender",
		    "id", to, "recipient", "id", from, "timestamp",
		    (json_int_t)ts, "message", msg);
		return 0;
	}
	if (msg != NULL) {
		e->ev = json_pack("{s:{s:s}, s:{s:s}, s:I, s:o}", "sender",
		    "id", from, "recipient", "id", to, "timestamp",
		    (json_int_t)ts, "message", msg);
		return 0;
	}
	if (strcmp(type, "postback") == 0) {
		x = json_pack("{s:s, s:s, s:s}", "mid", e->mid, "title", title ?
		    title : text ? text : "Get Started", "payload", payload ?
		    payload : "GET_STARTED");
		e->opens = 1;
	} else if (strcmp(type, "referral") == 0) {
		x = json_pack("{s:s, s:s, s:s}", "ref", ref ? ref : "sandbox",
		    "source", source ? source : "SHORTLINK", "type",
		    "OPEN_THREAD");
		e->opens = 1;
	} else if (strcmp(type, "reaction") == 0) {
		if (reply == NULL) {
			snprintf(why, whysz, "a reaction needs \"reply_to\" "
			    "(the mid reacted to)");
			return -1;
		}
		if (action == NULL)
			action = "react";
		x = json_pack("{s:s, s:s}", "mid", reply, "action", action);
		if (strcmp(action, "react") == 0) {
			json_object_set_new(x, "reaction", json_string(reaction ?
			    reaction : "love"));
			json_object_set_new(x, "emoji", json_string(emoji ?
			    emoji : "\xe2\x9d\xa4"));
		}
	} else if (strcmp(type, "read") == 0) {
		v = json_object_get(it, "watermark");
		if (ig) {
			if (reply == NULL) {
				snprintf(why, whysz, "an Instagram read needs "
				    "\"reply_to\" (the mid read)");
				return -1;
			}
			x = json_pack("{s:s}", "mid", reply);
		} else
			x = json_pack("{s:I}", "watermark", json_is_integer(v) ?
			    (json_int_t)json_integer_value(v) :
			    (json_int_t)now);
	} else if (strcmp(type, "delivery") == 0) {
		v = json_object_get(it, "watermark");
		x = json_pack("{s:I}", "watermark", json_is_integer(v) ?
		    (json_int_t)json_integer_value(v) : (json_int_t)now);
		if (reply != NULL)
			json_object_set_new(x, "mids", json_pack("[s]", reply));
	} else {
		/* a kind Meta may add some day: whatever "raw" says, or {} */
		if (strlen(type) > 32 || strspn(type,
		    "abcdefghijklmnopqrstuvwxyz_-") != strlen(type)) {
			snprintf(why, whysz, "\"type\" must be 1 to 32 of a-z, "
			    "_ and -");
			return -1;
		}
		raw = json_object_get(it, "raw");
		if (raw != NULL && !json_is_object(raw)) {
			snprintf(why, whysz, "\"raw\" must be a JSON object");
			return -1;
		}
		x = raw ? json_deep_copy(raw) : json_object();
	}
	e->ev = json_pack("{s:{s:s}, s:{s:s}, s:I}", "sender", "id", from,
	    "recipient", "id", to, "timestamp", (json_int_t)ts);
	json_object_set_new(e->ev, type, x);
	return 0;
}

static void
inbound(struct sbx_messenger *mg, struct evhttp_request *req,
    const char *body, size_t len)
{
	struct in_ev evs[MG_MAX_BATCH];
	const char *hdrs[4], *key;
	char why[320], sighdr[SIG_META_LEN + 32], *nbody;
	json_t *j, *batch, *it, *entries = NULL, *mids = NULL, *en, *c, *n;
	json_error_t jerr;
	struct mg_thread *t;
	long long now = daemon_now_ms(), dup = 0;
	size_t i, k, nitems = 0, nlen;
	int status = 400, ig = -1;

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
		    json_integer_value(c) > MG_MAX_DUP) {
			snprintf(why, sizeof(why), "\"dup\" must be 0 to %d",
			    MG_MAX_DUP);
			goto refuse;
		}
		dup = (long long)json_integer_value(c);
	}
	batch = json_object_get(j, "batch");
	if (batch != NULL && (!json_is_array(batch) ||
	    json_array_size(batch) == 0 ||
	    json_array_size(batch) > MG_MAX_BATCH)) {
		snprintf(why, sizeof(why), "\"batch\" must be an array of 1 to "
		    "%d events", MG_MAX_BATCH);
		goto refuse;
	}
	if (batch != NULL)
		json_object_foreach(j, key, c)
			if (!in_list(key, inherited) && strcmp(key, "dup") !=
			    0 && strcmp(key, "batch") != 0) {
				snprintf(why, sizeof(why), "with \"batch\", "
				    "only object, from, to, name, username, "
				    "ts, standby and dup go beside it, not "
				    "\"%.40s\"", key);
				goto refuse;
			}
	if (mg->cf.secret == NULL) {
		/* read again: it may have been made since */
		char err[300], *path = conf_path(mg->sb->d.conf, conf_get(
		    mg->sb->d.conf, "messenger_app_secret_file"));
		struct stat st;

		if (path != NULL && stat(path, &st) == 0)
			mg->cf.secret = conf_secret(mg->sb->d.conf,
			    "messenger_app_secret_file", err, sizeof(err));
		free(path);
		if (mg->cf.secret == NULL) {
			json_decref(j);
			sbx_reply_error(req, 503, "messenger_app_secret_file is "
			    "missing: cannot sign the webhook");
			return;
		}
	}
	nitems = batch ? json_array_size(batch) : 1;
	for (i = 0; i < nitems; i++) {
		it = batch ? json_array_get(batch, i) : j;
		if (!json_is_object(it)) {
			snprintf(why, sizeof(why), "batch[%zu] is not an object",
			    i);
			nitems = i;
			goto refuse;
		}
		if (in_item(mg, it, j, now, &evs[i], why, sizeof(why) - 16) ==
		    -1 || evs[i].ev == NULL) {
			if (batch != NULL) {
				char tmp[320];

				snprintf(tmp, sizeof(tmp), "batch[%zu]: %.280s",
				    i, why);
				memcpy(why, tmp, sizeof(why));
			}
			nitems = i;
			goto refuse;
		}
		if (ig != -1 && ig != evs[i].ig) {
			snprintf(why, sizeof(why), "a batch is of one object: "
			    "Pages or Instagram accounts, not both");
			nitems = i + 1;
			goto refuse;
		}
		ig = evs[i].ig;
	}
	/* Every item is valid: the threads, names and windows. */
	for (i = 0; i < nitems; i++) {
		if ((t = thread_make(mg, evs[i].page, evs[i].ig,
		    evs[i].user)) == NULL)
			continue;
		if (evs[i].name != NULL)
			snprintf(t->name, sizeof(t->name), "%s", evs[i].name);
		if (evs[i].username != NULL)
			snprintf(t->username, sizeof(t->username), "%s",
			    evs[i].username);
		else if (t->username[0] == '\0')
			snprintf(t->username, sizeof(t->username), "user%s",
			    t->user);
		if (evs[i].opens && evs[i].ts_ms > t->last_in_ms)
			t->last_in_ms = evs[i].ts_ms;
	}
	/* one entry per account, in the order the items name them */
	entries = json_array();
	mids = json_array();
	for (i = 0; i < nitems; i++) {
		json_array_append_new(mids, json_string(evs[i].mid));
		en = NULL;
		json_array_foreach(entries, k, c)
			if (strcmp(json_string_value(json_object_get(c, "id")),
			    evs[i].account) == 0)
				en = c;
		if (en == NULL) {
			en = json_pack("{s:s, s:I}", "id", evs[i].account,
			    "time", (json_int_t)now);
			json_array_append_new(entries, en);
		}
		key = evs[i].standby ? "standby" : "messaging";
		if (json_object_get(en, key) == NULL)
			json_object_set_new(en, key, json_array());
		json_array_append_new(json_object_get(en, key), evs[i].ev);
		evs[i].ev = NULL;
	}
	n = json_pack("{s:s, s:o}", "object", ig ? "instagram" : "page",
	    "entry", entries);
	if (n == NULL || (nbody = json_dumps(n, JSON_COMPACT)) == NULL) {
		json_decref(n);
		json_decref(mids);
		json_decref(j);
		sbx_reply_error(req, 500, "out of memory");
		return;
	}
	json_decref(n);
	json_decref(j);
	nlen = strlen(nbody);
	hook_headers(mg, nbody, nlen, hdrs, sighdr, sizeof(sighdr));
	log_debug("messenger: inbound of %zu event(s), %d post(s)", nitems,
	    (int)dup + 1);
	if (sbx_inbound_post(mg->sb, req, ig ? "instagram" : "messenger",
	    mg->cf.url, hdrs, nbody, nlen, nbody, (int)dup + 1, 0, "mids",
	    mids) == -1)
		sbx_reply_error(req, 500, "out of memory");
	free(nbody);
	return;
refuse:
	for (i = 0; i < nitems && i < MG_MAX_BATCH; i++)
		json_decref(evs[i].ev);
	json_decref(j);
	sbx_reply_error(req, status, why);
}

/* POST /sandbox/messenger/token {page, subcode?}: the token dies. */
static void
token_kill(struct sbx_messenger *mg, struct evhttp_request *req,
    const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL), *sc;
	const char *id = json_is_object(j) ? jstr(j, "page") : NULL;
	const char *tok = json_is_object(j) ? jstr(j, "token") : NULL;
	struct mg_page *p;
	char *d;
	long sub = 463;
	int ig, i;

	if (id == NULL || (p = page_of(mg, id, &ig)) == NULL ||
	    (json_object_get(j, "token") != NULL && (tok == NULL ||
	    *tok == '\0'))) {
		json_decref(j);
		sbx_reply_error(req, 400, "{\"page\": a Page or Instagram "
		    "account of messenger_pages, \"subcode\"?: 458, 460, 463, "
		    "467, \"token\"?: another token than the file's}");
		return;
	}
	if ((sc = json_object_get(j, "subcode")) != NULL) {
		if (!json_is_integer(sc) || json_integer_value(sc) < 1 ||
		    json_integer_value(sc) > 99999999) {
			json_decref(j);
			sbx_reply_error(req, 400, "\"subcode\" must be a "
			    "positive integer");
			return;
		}
		sub = (long)json_integer_value(sc);
	}
	token_reread(mg, p);
	if (tok == NULL && (tok = p->token) == NULL) {
		json_decref(j);
		sbx_reply_error(req, 409, "that Page has no token file");
		return;
	}
	if ((d = strdup(tok)) == NULL) {
		json_decref(j);
		sbx_reply_error(req, 500, "out of memory");
		return;
	}
	json_decref(j);
	for (i = 0; i < p->ndead && strcmp(p->dead[i], d) != 0; i++)
		;
	if (i == p->ndead && p->ndead == MG_DEAD_MAX) {
		conf_secret_free(p->dead[0]);
		memmove(p->dead, p->dead + 1, sizeof(p->dead[0]) *
		    (MG_DEAD_MAX - 1));
		memmove(p->dead_sub, p->dead_sub + 1, sizeof(p->dead_sub[0]) *
		    (MG_DEAD_MAX - 1));
		i = --p->ndead;
	}
	if (i == p->ndead)
		p->ndead++;
	else
		conf_secret_free(p->dead[i]);
	p->dead[i] = d;
	p->dead_sub[i] = sub;
	log_info("messenger: page %s: a token died (190/%ld)", p->id, sub);
	sbx_reply_json(req, 200, json_pack("{s:b, s:s, s:i}", "ok", 1, "page",
	    p->id, "subcode", (int)sub));
}

void
sbx_messenger_control(struct sbx *sb, struct evhttp_request *req,
    const char *path)
{
	struct sbx_messenger *mg = sb->messenger;
	const char *body;
	size_t len;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		sbx_reply_error(req, 405, "use POST");
		return;
	}
	if ((body = sbx_body(req, &len)) == NULL) {
		sbx_reply_error(req, 413, "request body too large");
		return;
	}
	if (strcmp(path, "/sandbox/messenger/inbound") == 0)
		inbound(mg, req, body, len);
	else if (strcmp(path, "/sandbox/messenger/token") == 0)
		token_kill(mg, req, body, len);
	else
		sbx_reply_error(req, 404, "no such control path");
}
