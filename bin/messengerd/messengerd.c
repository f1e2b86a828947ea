/*
 * messengerd — parley's Messenger Platform edge (messengerd(8)): Facebook
 * Pages (channel messenger) and the Instagram professional accounts linked
 * to them (channel instagram), one webhook, one token per Page.
 *
 * Inbound: Meta posts JSON notifications to /messenger/webhook (after a GET
 * handshake with the verify token); messengerd checks X-Hub-Signature-256,
 * turns every event into an "in" or "st" frame for routerd, adds the
 * customer's name from the profile API when it has it in time, and answers
 * Meta 200 only once routerd has committed all of them
 * (messengerd_webhook.c, messengerd_parse.c, messengerd_profile.c).
 * Outbound: routerd sends "out" requests on messengerd.sock; messengerd
 * paces them per Page and per Instagram account, calls the Send API with
 * libcurl multi and answers with the mid or Meta's error
 * (messengerd_send.c).
 *
 * messengerd is stateless: it holds the Pages' tokens, the app secret and
 * the verify token but never opens a store.  What it remembers is, per Page
 * and account, the Page's name and whether Meta last refused its token
 * (error 190): such a Page, and its Instagram account, are "inactive" and
 * get no calls until the token is replaced (chtoken, after a check with
 * GET /PAGE-ID?fields=name, or SIGHUP with a changed token file); inbound
 * events are stored all the same.  This file reads the configuration,
 * keeps the Pages and accounts, answers chstatus and chtoken and wires the
 * event loop; the bus wiring and the drain on SIGTERM are lib/edge's.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <sodium.h>

#include "bus.h"
#include "conf.h"
#include "daemon.h"
#include "edge.h"
#include "frame.h"
#include "http_out.h"
#include "log.h"
#include "messengerd.h"
#include "metahook.h"
#include "mp.h"
#include "outq.h"
#include "proto.h"

#define RECHECK_FIRST_S	2	/* a check Meta did not answer: again */
#define RECHECK_MAX_S	300

static struct messengerd mgd;	/* one per process; reachable at exit */

/* A chtoken request whose answer waits on the token checks. */
struct chreq {
	struct messengerd	*m;
	struct bus_conn		*c;	/* NULL once it went away */
	int64_t			 re;
	int			 all;	/* every Page, not one */
	size_t			 waiting;
	json_t			*pages;	/* all: [{page, ok, name|reason}] */
	struct chreq		*next;
};

/* One Page's token being checked (for chtoken, SIGHUP or the start). */
struct chone {
	struct messengerd	*m;
	struct chreq		*req;	/* NULL: logged only */
	char			 page[MG_ID_MAX + 1];
	char			*token;	/* the new one (a secret) */
	int			 install;	/* take it when it works */
};

static struct chreq *chreqs;

static int	check_start(struct messengerd *, const char *, char *, int,
		    struct chreq *);

/* A Page's background check again (Meta was out of reach). */
static void
recheck(evutil_socket_t fd, short what, void *arg)
{
	struct messengerd *m = &mgd;
	size_t i = (size_t)(uintptr_t)arg;	/* accts moves; indexes stay */
	struct mg_acct *p;
	char *tok;

	if (i >= m->naccts || (p = &m->accts[i])->token == NULL)
		return;
	if ((tok = strdup(p->token)) == NULL)
		fatalx("out of memory");
	if (check_start(m, p->id, tok, 0, NULL) == -1)
		log_warnx("page %s: cannot check the token", p->id);
}

/* Check p's token again later, backing off up to RECHECK_MAX_S. */
static void
recheck_later(struct messengerd *m, struct mg_acct *p)
{
	struct timeval tv;

	p->recheck_s = p->recheck_s ? p->recheck_s * 2 : RECHECK_FIRST_S;
	if (p->recheck_s > RECHECK_MAX_S)
		p->recheck_s = RECHECK_MAX_S;
	if (p->recheck == NULL && (p->recheck = evtimer_new(m->e.d.base,
	    recheck, (void *)(uintptr_t)(p - m->accts))) == NULL)
		return;
	tv.tv_sec = p->recheck_s;
	tv.tv_usec = 0;
	if (evtimer_add(p->recheck, &tv) == -1)
		log_warnx("cannot arm a token recheck");
}

void
mg_conf_free(struct mg_conf *cf)
{
	conf_secret_free(cf->app_secret);
	conf_secret_free(cf->verify_token);
	free(cf->api_url);
	free(cf->version);
	free(cf->pages);
	free(cf->token_dir);
	free(cf->listen_host);
	memset(cf, 0, sizeof(*cf));
}

/*
 * The next word of messenger_pages at *v: "PAGE" or "PAGE:IG" into page
 * and ig ("" when none); 0 at the end, -1 with err when it is not that.
 */
static int
pages_next(const char **v, char page[MG_ID_MAX + 1], char ig[MG_ID_MAX + 1],
    char *err, size_t errsz)
{
	const char *w, *colon;
	size_t n;

	*v += strspn(*v, " \t,");
	if (**v == '\0')
		return 0;
	w = *v;
	n = strcspn(w, " \t,");
	*v += n;
	colon = memchr(w, ':', n);
	if (!mg_is_id(w, colon ? (size_t)(colon - w) : n) || (colon &&
	    !mg_is_id(colon + 1, n - (size_t)(colon - w) - 1))) {
		snprintf(err, errsz, "messenger_pages: \"%.*s\" is not "
		    "PAGE-ID or PAGE-ID:INSTAGRAM-ID (digits)", (int)(n > 70 ?
		    70 : n), w);
		return -1;
	}
	snprintf(page, MG_ID_MAX + 1, "%.*s", (int)(colon ? colon - w :
	    (long)n), w);
	if (colon)
		snprintf(ig, MG_ID_MAX + 1, "%.*s", (int)(n - (size_t)(colon -
		    w) - 1), colon + 1);
	else
		ig[0] = '\0';
	return 1;
}

/* Every word of messenger_pages right, no id twice; -1 with err. */
static int
pages_ok(const char *v, char *err, size_t errsz)
{
	char page[MG_ID_MAX + 1], ig[MG_ID_MAX + 1], *seen = NULL, *p;
	size_t len = 0;
	int r;

	while ((r = pages_next(&v, page, ig, err, errsz)) == 1) {
		char key[2][MG_ID_MAX + 3];
		int k;

		snprintf(key[0], sizeof(key[0]), " %s ", page);
		snprintf(key[1], sizeof(key[1]), " %s ", ig);
		for (k = 0; k < (ig[0] ? 2 : 1); k++) {
			if (seen != NULL && strstr(seen, key[k]) != NULL) {
				snprintf(err, errsz, "messenger_pages: %.*s is "
				    "listed twice", (int)strlen(key[k]) - 2,
				    key[k] + 1);
				free(seen);
				return -1;
			}
			if ((p = realloc(seen, len + strlen(key[k]) + 1)) ==
			    NULL)
				fatalx("out of memory");
			seen = p;
			memcpy(seen + len, key[k], strlen(key[k]) + 1);
			len += strlen(key[k]) - 1;	/* share the blank */
		}
	}
	free(seen);
	return r;
}

int
mg_conf_load(struct mg_conf *cf, const struct conf *c, char *err,
    size_t errsz)
{
	const char *v;

	memset(cf, 0, sizeof(*cf));
	if ((cf->api_url = conf_url(c, "messenger_api_url", err, errsz)) ==
	    NULL)
		goto fail;
	v = conf_get(c, "messenger_api_version");
	if (!metahook_version_ok(v)) {
		snprintf(err, errsz, "messenger_api_version: expected a Graph "
		    "API version such as v23.0");
		goto fail;
	}
	if ((cf->version = strdup(v)) == NULL)
		fatalx("out of memory");
	if (conf_listen(c, "messengerd_listen", &cf->listen_host,
	    &cf->listen_port, err, errsz) == -1)
		goto fail;
	v = conf_get(c, "messenger_pages");
	if (pages_ok(v, err, errsz) == -1)
		goto fail;
	if ((cf->pages = strdup(v)) == NULL)
		fatalx("out of memory");
	v = conf_get(c, "messenger_token_dir");
	if (v[0] == '\0' || strlen(v) > 1024) {
		snprintf(err, errsz, "messenger_token_dir: a directory");
		goto fail;
	}
	if ((cf->token_dir = strdup(v)) == NULL)
		fatalx("out of memory");
	if (conf_int(c, "messenger_rate", 1, 10000, &cf->rate, err,
	    errsz) == -1 ||
	    conf_int(c, "instagram_rate", 1, 10000, &cf->ig_rate, err,
	    errsz) == -1 ||
	    conf_int(c, "messenger_av_rate", 1, 10000, &cf->av_rate, err,
	    errsz) == -1 ||
	    conf_int(c, "messenger_max_inflight", 1, 100000,
	    &cf->max_inflight, err, errsz) == -1 ||
	    conf_int(c, "http_timeout_ms", 100, 600000, &cf->http_timeout_ms,
	    err, errsz) == -1 ||
	    conf_int(c, "messenger_profile_ttl_s", 0, 315360000,
	    &cf->profile_ttl_s, err, errsz) == -1 ||
	    conf_int(c, "messenger_profile_wait_ms", 0, 10000,
	    &cf->profile_wait_ms, err, errsz) == -1 ||
	    httpd_limits_load(&cf->http, c, err, errsz) == -1)
		goto fail;
	if ((cf->app_secret = conf_secret_line(c,
	    "messenger_app_secret_file", err, errsz)) == NULL ||
	    (cf->verify_token = conf_secret_line(c,
	    "messenger_verify_token_file", err, errsz)) == NULL)
		goto fail;
	return 0;
fail:
	mg_conf_free(cf);
	return -1;
}

/* --- Pages and accounts --- */

struct mg_acct *
mg_acct_find(struct messengerd *m, const char *id)
{
	size_t i;

	for (i = 0; i < m->naccts; i++)
		if (strcmp(m->accts[i].id, id) == 0)
			return &m->accts[i];
	return NULL;
}

struct mg_acct *
mg_acct_seen(struct messengerd *m, const char *id, int ig)
{
	static int warned;
	struct mg_acct *a;

	if (!mg_is_id(id, strlen(id)))
		return NULL;
	if ((a = mg_acct_find(m, id)) != NULL)
		return a;
	if (m->naccts >= MG_ACCTS_MAX) {
		if (!warned)
			log_warnx("more than %d Pages and accounts seen; the "
			    "others are not listed by chstatus",
			    MG_ACCTS_MAX);
		warned = 1;
		return NULL;
	}
	if (m->naccts == m->acctscap) {
		m->acctscap = m->acctscap ? m->acctscap * 2 : 16;
		m->accts = reallocarray(m->accts, m->acctscap,
		    sizeof(*m->accts));
		if (m->accts == NULL)
			fatalx("out of memory");
	}
	a = &m->accts[m->naccts++];
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->ig = ig;
	if (!ig)
		snprintf(a->page, sizeof(a->page), "%s", id);
	snprintf(a->reason, sizeof(a->reason), "not in messenger_pages: no "
	    "token");
	a->since_ms = daemon_now_ms();
	return a;
}

struct mg_acct *
mg_acct_page(struct messengerd *m, const struct mg_acct *a)
{
	if (a == NULL || a->page[0] == '\0')
		return NULL;
	if (!a->ig)
		return (struct mg_acct *)a;
	return mg_acct_find(m, a->page);
}

/* The Instagram account linked to Page p, or NULL. */
static struct mg_acct *
linked(struct messengerd *m, struct mg_acct *p)
{
	return p->linked[0] ? mg_acct_find(m, p->linked) : NULL;
}

static void
set_active(struct messengerd *m, struct mg_acct *p, int active,
    const char *why)
{
	struct mg_acct *x[2] = { p, linked(m, p) };
	int i;

	for (i = 0; i < 2; i++) {
		if (x[i] == NULL)
			continue;
		if (active) {
			x[i]->active = 1;
			x[i]->reason[0] = '\0';
			x[i]->since_ms = 0;
		} else if (x[i]->active || strcmp(x[i]->reason, why) != 0) {
			x[i]->active = 0;
			snprintf(x[i]->reason, sizeof(x[i]->reason), "%s", why);
			x[i]->since_ms = daemon_now_ms();
		}
	}
}

void
mg_token_dead(struct messengerd *m, struct mg_acct *p, const char *why)
{
	struct mg_acct *ig = linked(m, p);

	if (p->active)
		log_warnx("page %s%s%s: Meta refused its token (%s); %s "
		    "inactive until a new token is set (msg channel token)",
		    p->id, ig ? " and instagram " : "", ig ? ig->id : "", why,
		    ig ? "both are" : "it is");
	set_active(m, p, 0, why);
	mg_send_fail_account(m, p->id, why);
	if (ig != NULL)
		mg_send_fail_account(m, ig->id, why);
}

/* "<token_dir>/<page>[.new]" as written (relative to the config file). */
static void
token_path(const struct messengerd *m, const char *page, int candidate,
    char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/%s%s", m->cf.token_dir, page, candidate ?
	    ".new" : "");
}

/*
 * The token in page's file: malloc'd; NULL with err (*absent set when the
 * file does not exist, a state and not an error at start).
 */
static char *
token_read(struct messengerd *m, const char *page, int candidate,
    int *absent, char *err, size_t errsz)
{
	char rel[1100], e[600], *path, *tok;
	struct stat st;

	*absent = 0;
	token_path(m, page, candidate, rel, sizeof(rel));
	if ((path = conf_path(m->e.d.conf, rel)) == NULL)
		fatalx("out of memory");
	if (lstat(path, &st) == -1 && errno == ENOENT) {
		snprintf(err, errsz, "no token file %s", path);
		*absent = 1;
		free(path);
		return NULL;
	}
	free(path);
	if ((tok = conf_secret_at(m->e.d.conf, rel, e, sizeof(e))) == NULL) {
		snprintf(err, errsz, "%s", e);
		return NULL;
	}
	if (strpbrk(tok, " \t\r\n") != NULL) {
		snprintf(err, errsz, "%.300s: the token must be one line "
		    "without spaces", rel);
		conf_secret_free(tok);
		return NULL;
	}
	return tok;
}

/* Add (or refresh) the Pages and accounts of messenger_pages. */
static void
pages_listed(struct messengerd *m)
{
	const char *v = m->cf.pages;
	char page[MG_ID_MAX + 1], ig[MG_ID_MAX + 1], err[8];
	struct mg_acct *p, *a;
	size_t i;

	for (i = 0; i < m->naccts; i++)
		m->accts[i].listed = 0;
	while (pages_next(&v, page, ig, err, sizeof(err)) == 1) {
		if ((p = mg_acct_seen(m, page, 0)) == NULL)
			continue;
		p->listed = 1;
		p->ig = 0;
		snprintf(p->page, sizeof(p->page), "%s", page);
		snprintf(p->linked, sizeof(p->linked), "%s", ig);
		if (ig[0] && (a = mg_acct_seen(m, ig, 1)) != NULL) {
			a->listed = 1;
			a->ig = 1;
			snprintf(a->page, sizeof(a->page), "%s", page);
			a->active = p->active;
			snprintf(a->reason, sizeof(a->reason), "%s", p->reason);
			a->since_ms = p->since_ms;
		}
	}
}

/* --- token checks --- */

static void
chreq_answer(struct chreq *rq, int ok, const char *page, const char *text)
{
	struct fbuf fb;

	if (rq->c == NULL)
		return;
	if (ok != 1) {
		bus_answer_err(rq->c, rq->re, ok == 0 ? "token" :
		    "unavailable", text);
		return;
	}
	fbuf_init(&fb);
	bus_answer_begin(&fb, rq->re, 2);
	mp_kv_str(&fb.pk, "page", page);
	mp_kv_str(&fb.pk, "name", text);
	if (bus_send(rq->c, &fb) == -1)
		log_debug("%s: chtoken answer not sent", bus_name(rq->c));
	fbuf_free(&fb);
}

static void
chreq_done(struct chreq *rq)
{
	struct chreq **pp;
	struct fbuf fb;
	json_t *e;
	size_t i;

	if (rq->all && rq->c != NULL) {
		fbuf_init(&fb);
		bus_answer_begin(&fb, rq->re, 1);
		mp_pack_cstr(&fb.pk, "pages");
		msgpack_pack_array(&fb.pk, json_array_size(rq->pages));
		json_array_foreach(rq->pages, i, e) {
			msgpack_pack_map(&fb.pk, 3);
			mp_kv_str(&fb.pk, "page", json_string_value(
			    json_object_get(e, "page")));
			mp_kv_bool(&fb.pk, "ok", json_is_true(
			    json_object_get(e, "ok")));
			mp_kv_str(&fb.pk, json_is_true(json_object_get(e,
			    "ok")) ? "name" : "reason", json_string_value(
			    json_object_get(e, "text")));
		}
		if (bus_send(rq->c, &fb) == -1)
			log_debug("%s: chtoken answer not sent",
			    bus_name(rq->c));
		fbuf_free(&fb);
	}
	for (pp = &chreqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == rq) {
			*pp = rq->next;
			break;
		}
	json_decref(rq->pages);
	free(rq);
}

static void
checked(int ok, const char *text, void *arg)
{
	struct chone *one = arg;
	struct messengerd *m = one->m;
	struct mg_acct *p = mg_acct_find(m, one->page);

	if (m->closing) {
		if (one->req != NULL && --one->req->waiting == 0)
			chreq_done(one->req);
		conf_secret_free(one->token);
		free(one);
		return;
	}
	if (p != NULL && ok == 1) {
		snprintf(p->name, sizeof(p->name), "%s", text);
		if (one->install) {
			conf_secret_free(p->token);
			p->token = one->token;
			one->token = NULL;
		}
		if (!p->active)
			log_info("page %s (%s): token accepted, active again",
			    p->id, p->name);
		else
			log_info("page %s: token works (the Page is \"%s\")",
			    p->id, p->name);
		set_active(m, p, 1, NULL);
		if (m->e.q)
			outq_kick(m->e.q);
	} else if (p != NULL && ok == 0) {
		if (one->install && one->req != NULL)
			log_warnx("page %s: the new token was refused (%s); "
			    "the old one stays", p->id, text);
		else if (!one->install || p->token == NULL ||
		    strcmp(p->token, one->token) == 0)
			mg_token_dead(m, p, text);
		else
			log_warnx("page %s: the new token was refused (%s); "
			    "the old one stays", p->id, text);
	} else if (p != NULL)
		log_warnx("page %s: the token could not be checked: %s%s",
		    p->id, text, one->install && one->req == NULL ?
		    "; taken unchecked" : "");
	if (p != NULL && ok == -1 && !one->install && one->req == NULL)
		recheck_later(m, p);
	else if (p != NULL && ok != -1)
		p->recheck_s = 0;
	if (p != NULL && ok == -1 && one->install && one->req == NULL) {
		/* SIGHUP with a new token and Meta out of reach: take it */
		conf_secret_free(p->token);
		p->token = one->token;
		one->token = NULL;
		set_active(m, p, 1, NULL);
	}
	if (one->req != NULL) {
		if (one->req->all)
			json_array_append_new(one->req->pages, json_pack(
			    "{s:s, s:b, s:s}", "page", one->page, "ok",
			    ok == 1, "text", text));
		else
			chreq_answer(one->req, ok, one->page, text);
		if (--one->req->waiting == 0)
			chreq_done(one->req);
	}
	conf_secret_free(one->token);
	free(one);
}

/* Check token for page (taken over); install it when it works. */
static int
check_start(struct messengerd *m, const char *page, char *token,
    int install, struct chreq *rq)
{
	struct chone *one;

	if ((one = calloc(1, sizeof(*one))) == NULL)
		fatalx("out of memory");
	one->m = m;
	one->req = rq;
	one->install = install;
	one->token = token;
	snprintf(one->page, sizeof(one->page), "%s", page);
	if (rq != NULL)
		rq->waiting++;
	if (mg_check_token(m, page, token, checked, one) == -1) {
		if (rq != NULL)
			rq->waiting--;
		conf_secret_free(one->token);
		free(one);
		return -1;
	}
	return 0;
}

/* Read every listed Page's token file; at start (first) or SIGHUP.  A
 * changed token is checked before it is taken; -1 with err at start. */
static int
tokens_load(struct messengerd *m, int first, char *err, size_t errsz)
{
	struct mg_acct *p;
	char e[700], *tok;
	size_t i;
	int absent;

	for (i = 0; i < m->naccts; i++) {
		p = &m->accts[i];
		if (!p->listed || p->ig)
			continue;
		if ((tok = token_read(m, p->id, 0, &absent, e, sizeof(e))) ==
		    NULL) {
			if (!absent && first) {
				snprintf(err, errsz, "page %s: %s", p->id, e);
				return -1;
			}
			if (absent) {
				conf_secret_free(p->token);
				p->token = NULL;
				set_active(m, p, 0, e);
			}
			log_warnx("page %s: %s", p->id, e);
			continue;
		}
		if (first) {
			p->token = tok;
			set_active(m, p, 1, NULL);
			/* its name, and whether Meta takes it: in the
			 * background, nothing waits on it */
			if ((tok = strdup(p->token)) == NULL)
				fatalx("out of memory");
			if (check_start(m, p->id, tok, 0, NULL) == -1)
				log_warnx("page %s: cannot check the token",
				    p->id);
			continue;
		}
		if (p->token != NULL && strcmp(p->token, tok) == 0) {
			conf_secret_free(tok);
			continue;
		}
		log_info("page %s: the token file changed; checking the new "
		    "token", p->id);
		if (check_start(m, p->id, tok, 1, NULL) == -1)
			log_warnx("page %s: cannot check the new token", p->id);
	}
	return 0;
}

/* {ok, channels:[{channel, addr, active, name?, page?, reason?, since?}]}
 * sorted by channel and addr. */
static int
acct_cmp(const void *a, const void *b)
{
	const struct mg_acct *const *x = a, *const *y = b;

	if ((*x)->ig != (*y)->ig)
		return (*x)->ig - (*y)->ig;
	return strcmp((*x)->id, (*y)->id);
}

static void
answer_chstatus(struct messengerd *m, struct bus_conn *c, int64_t id)
{
	struct mg_acct **v = NULL, *p;
	size_t i, n = m->naccts;
	struct fbuf fb;
	uint32_t nk;

	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++)
		v[i] = &m->accts[i];
	if (n > 1)
		qsort(v, n, sizeof(*v), acct_cmp);
	fbuf_init(&fb);
	bus_answer_begin(&fb, id, 1);
	mp_pack_cstr(&fb.pk, "channels");
	msgpack_pack_array(&fb.pk, n);
	for (i = 0; i < n; i++) {
		p = mg_acct_page(m, v[i]);
		nk = 3 + (p && p->name[0]) + (v[i]->ig && v[i]->page[0]) +
		    2 * !v[i]->active;
		msgpack_pack_map(&fb.pk, nk);
		mp_kv_str(&fb.pk, "channel", v[i]->ig ? "instagram" :
		    "messenger");
		mp_kv_str(&fb.pk, "addr", v[i]->id);
		mp_kv_bool(&fb.pk, "active", v[i]->active);
		if (p && p->name[0])
			mp_kv_str(&fb.pk, "name", p->name);
		if (v[i]->ig && v[i]->page[0])
			mp_kv_str(&fb.pk, "page", v[i]->page);
		if (!v[i]->active) {
			mp_kv_str(&fb.pk, "reason", v[i]->reason);
			mp_kv_int(&fb.pk, "since", v[i]->since_ms);
		}
	}
	if (bus_send(c, &fb) == -1)
		log_debug("%s: chstatus answer not sent", bus_name(c));
	fbuf_free(&fb);
	free(v);
}

/*
 * {t:chtoken, id, page?, candidate?}: read that Page's token file (with
 * candidate, "<page>.new", which the caller renames into place once
 * answered ok), check it with Meta and take it when it works; without
 * page, every listed Page's.
 */
static void
answer_chtoken(struct messengerd *m, struct bus_conn *c,
    const msgpack_object *f, int64_t id)
{
	char page[MG_ID_MAX + 1] = "", err[700], *tok;
	struct mg_acct *a, *p;
	struct chreq *rq;
	int candidate = 0, absent;
	size_t i;

	if (mp_get(f, "page") != NULL && (!mp_strcpy(f, "page", page,
	    sizeof(page)) || !mg_is_id(page, strlen(page)))) {
		bus_answer_err(c, id, "invalid", "chtoken: page must be a "
		    "Page or Instagram account id");
		return;
	}
	mp_bool(f, "candidate", &candidate);
	if ((rq = calloc(1, sizeof(*rq))) == NULL)
		fatalx("out of memory");
	rq->m = m;
	rq->c = c;
	rq->re = id;
	rq->next = chreqs;
	chreqs = rq;
	if (page[0] == '\0') {
		rq->all = 1;
		rq->pages = json_array();
		rq->waiting++;		/* until every check is started */
		for (i = 0; i < m->naccts; i++) {
			p = &m->accts[i];
			if (!p->listed || p->ig)
				continue;
			if ((tok = token_read(m, p->id, 0, &absent, err,
			    sizeof(err))) == NULL ||
			    check_start(m, p->id, tok, 1, rq) == -1)
				json_array_append_new(rq->pages, json_pack(
				    "{s:s, s:b, s:s}", "page", p->id, "ok", 0,
				    "text", tok ? "cannot check it" : err));
		}
		log_info("chtoken from %s: every Page's token re-read",
		    bus_name(c));
		if (--rq->waiting == 0)
			chreq_done(rq);
		return;
	}
	a = mg_acct_find(m, page);
	p = mg_acct_page(m, a);
	if (p == NULL || !p->listed) {
		snprintf(err, sizeof(err), "%s is not a Page or Instagram "
		    "account of messenger_pages", page);
		bus_answer_err(c, id, "config", err);
		rq->c = NULL;
		chreq_done(rq);
		return;
	}
	if ((tok = token_read(m, p->id, candidate, &absent, err,
	    sizeof(err))) == NULL) {
		log_warnx("chtoken from %s refused: %s", bus_name(c), err);
		bus_answer_err(c, id, "config", err);
		rq->c = NULL;
		chreq_done(rq);
		return;
	}
	log_info("chtoken from %s: checking page %s's %stoken", bus_name(c),
	    p->id, candidate ? "new " : "");
	if (check_start(m, p->id, tok, 1, rq) == -1) {
		bus_answer_err(c, id, "unavailable", "cannot check the token "
		    "now");
		rq->c = NULL;
		chreq_done(rq);
	}
}

/* --- the bus --- */

static void
on_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	struct messengerd *m = arg;
	int64_t id;

	switch (proto_type(f)) {
	case PT_OUT:
		mg_send_frame(m, c, f);
		break;
	case PT_CHSTATUS:
		if (mp_int(f, "id", &id))
			answer_chstatus(m, c, id);
		break;
	case PT_CHTOKEN:
		if (mp_int(f, "id", &id))
			answer_chtoken(m, c, f, id);
		break;
	default:
		edge_frame_common(&m->e, c, f);
		break;
	}
}

static void
on_down(struct bus_conn *c, void *arg)
{
	struct chreq *rq;

	for (rq = chreqs; rq != NULL; rq = rq->next)
		if (rq->c == c)
			rq->c = NULL;
}

static void
on_term(struct daemon *d)
{
	struct messengerd *m = d->arg;

	edge_term(&m->e, "Graph API calls");
}

static void
on_hup(struct daemon *d)
{
	struct messengerd *m = d->arg;
	struct mg_conf cf;
	char err[1024];

	if (mg_conf_load(&cf, d->conf, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the previous settings", err);
		return;
	}
	if (strcmp(cf.listen_host, m->cf.listen_host) != 0 ||
	    cf.listen_port != m->cf.listen_port)
		log_warnx("reload: messengerd_listen changes need a restart");
	mg_conf_free(&m->cf);
	m->cf = cf;
	edge_hook_limits(&m->e, &m->cf.http);
	pages_listed(m);
	tokens_load(m, 0, err, sizeof(err));
	mg_send_reconf(m);
}

int
main(int argc, char **argv)
{
	struct messengerd *m = &mgd;
	struct chreq *rq;
	char err[1024];
	size_t i, npages;
	int rc;

	daemon_init(&m->e.d, "messengerd", argc, argv);
	if (mg_conf_load(&m->cf, m->e.d.conf, err, sizeof(err)) == -1)
		log_exit(EX_CONFIG, "%s", err);
	if (sodium_init() < 0)
		log_exit(EX_TEMP, "sodium_init failed");
	m->e.d.arg = m;
	m->e.d.on_term = on_term;
	m->e.d.on_hup = on_hup;
	m->e.frame = on_frame;
	m->e.down = on_down;
	m->e.arg = m;
	htab_init(&m->profiles);
	htab_init(&m->reuse);
	pages_listed(m);
	if (m->e.d.check_only) {
		/* the token files too: present ones must be readable */
		for (i = 0; i < m->naccts; i++) {
			int absent;
			char *t;

			if (m->accts[i].ig)
				continue;
			if ((t = token_read(m, m->accts[i].id, 0, &absent, err,
			    sizeof(err))) == NULL && !absent)
				log_exit(EX_CONFIG, "page %s: %s",
				    m->accts[i].id, err);
			conf_secret_free(t);
		}
		daemon_checked(&m->e.d);
	}
	if ((m->e.ho = http_out_new(m->e.d.base, (long)m->cf.max_inflight)) ==
	    NULL)
		log_exit(EX_TEMP, "cannot set up the HTTP client");
	if (tokens_load(m, 1, err, sizeof(err)) == -1)
		log_exit(EX_CONFIG, "%s", err);
	if (mg_send_start(m, err, sizeof(err)) == -1 ||
	    edge_listen(&m->e, err, sizeof(err)) == -1 ||
	    mg_webhook_start(m, err, sizeof(err)) == -1 ||
	    edge_connect(&m->e, err, sizeof(err)) == -1)
		log_exit(EX_TEMP, "%s", err);

	for (i = 0, npages = 0; i < m->naccts; i++)
		npages += !m->accts[i].ig;
	log_info("serving webhooks on %s:%d, Graph API %s at %s, %zu Page%s "
	    "and %zu Instagram account%s", m->cf.listen_host,
	    m->cf.listen_port, m->cf.version, m->cf.api_url, npages,
	    npages == 1 ? "" : "s", m->naccts - npages, m->naccts - npages ==
	    1 ? "" : "s");
	daemon_ready(&m->e.d);
	rc = daemon_run(&m->e.d);

	/* nothing answers or logs from here on */
	m->closing = 1;
	for (rq = chreqs; rq != NULL; rq = rq->next)
		rq->c = NULL;
	edge_free(&m->e);
	mg_checks_free(m);
	mg_profiles_free(m);
	mg_webhook_free(m);
	mg_send_free(m);
	while (chreqs != NULL)
		chreq_done(chreqs);
	for (i = 0; i < m->naccts; i++) {
		conf_secret_free(m->accts[i].token);
		if (m->accts[i].recheck != NULL)
			event_free(m->accts[i].recheck);
	}
	free(m->accts);
	htab_free(&m->profiles);
	htab_free(&m->reuse);
	mg_conf_free(&m->cf);
	return rc;
}
