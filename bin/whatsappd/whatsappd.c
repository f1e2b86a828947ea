/*
 * whatsappd — parley's WhatsApp Business Cloud API edge (whatsappd(8)).
 *
 * Inbound: Meta posts JSON notifications to /whatsapp/webhook (after a GET
 * handshake with the verify token); whatsappd checks X-Hub-Signature-256,
 * turns every message and status of a notification into an "in" or "st"
 * frame for routerd and answers Meta 200 only once routerd has committed all
 * of them (whatsappd_webhook.c, whatsappd_parse.c).  Outbound: routerd sends
 * "out" requests on whatsappd.sock; whatsappd paces them per phone-number id,
 * calls the Graph API with libcurl multi and answers with the wamid or
 * Meta's error (whatsappd_send.c).
 *
 * whatsappd is stateless: it holds the access token, the app secret and the
 * verify token but never opens a store.  The one thing it remembers is, per
 * phone-number id, whether Meta last refused its token (error 190): such a
 * number is "inactive" and gets no calls until the token is replaced (msg
 * channel token, which sends "chtoken", or SIGHUP with a changed token
 * file).  msg channel status reads that list with "chstatus".  This file
 * reads the configuration, keeps the numbers, answers chstatus and chtoken
 * and wires the event loop; the bus wiring and the drain on SIGTERM are
 * lib/edge's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bus.h"
#include "conf.h"
#include "daemon.h"
#include "edge.h"
#include "frame.h"
#include "http_out.h"
#include "log.h"
#include "metahook.h"
#include "mp.h"
#include "outq.h"
#include "proto.h"
#include "whatsappd.h"

static struct whatsappd wad;	/* one per process; reachable at exit */

void
wa_conf_free(struct wa_conf *cf)
{
	conf_secret_free(cf->token);
	conf_secret_free(cf->auth);
	conf_secret_free(cf->app_secret);
	conf_secret_free(cf->verify_token);
	free(cf->api_url);
	free(cf->version);
	free(cf->numbers);
	free(cf->listen_host);
	memset(cf, 0, sizeof(*cf));
}

int
wa_set_token(struct wa_conf *cf, const char *token, char *err, size_t errsz)
{
	char *t, *a;

	if (token[0] == '\0' || strpbrk(token, " \t\r\n") != NULL) {
		snprintf(err, errsz, "the access token must be one line "
		    "without spaces");
		return -1;
	}
	if ((t = strdup(token)) == NULL ||
	    asprintf(&a, "Authorization: Bearer %s", token) == -1)
		fatalx("out of memory");
	conf_secret_free(cf->token);
	conf_secret_free(cf->auth);
	cf->token = t;
	cf->auth = a;
	return 0;
}

/* Every word of whatsapp_numbers a phone-number id; -1 with err. */
static int
numbers_ok(const char *v, char *err, size_t errsz)
{
	size_t n;

	for (;;) {
		v += strspn(v, " \t,");
		if (*v == '\0')
			return 0;
		n = strcspn(v, " \t,");
		if (!wa_is_id(v, n)) {
			snprintf(err, errsz, "whatsapp_numbers: \"%.*s\" is not "
			    "a phone-number id (digits)", (int)(n > 40 ? 40 :
			    n), v);
			return -1;
		}
		v += n;
	}
}

int
wa_conf_load(struct wa_conf *cf, const struct conf *c, char *err,
    size_t errsz)
{
	const char *v;
	char *tok;

	memset(cf, 0, sizeof(*cf));
	if ((cf->api_url = conf_url(c, "whatsapp_api_url", err, errsz)) ==
	    NULL)
		goto fail;
	v = conf_get(c, "whatsapp_api_version");
	if (!metahook_version_ok(v)) {
		snprintf(err, errsz, "whatsapp_api_version: expected a Graph "
		    "API version such as v23.0");
		goto fail;
	}
	if ((cf->version = strdup(v)) == NULL)
		fatalx("out of memory");
	if (conf_listen(c, "whatsappd_listen", &cf->listen_host,
	    &cf->listen_port, err, errsz) == -1)
		goto fail;
	v = conf_get(c, "whatsapp_numbers");
	if (numbers_ok(v, err, errsz) == -1)
		goto fail;
	if ((cf->numbers = strdup(v)) == NULL)
		fatalx("out of memory");
	if (conf_int(c, "whatsapp_rate", 1, 1000, &cf->rate, err, errsz) ==
	    -1 ||
	    conf_int(c, "whatsapp_max_inflight", 1, 100000, &cf->max_inflight,
	    err, errsz) == -1 ||
	    conf_int(c, "http_timeout_ms", 100, 600000, &cf->http_timeout_ms,
	    err, errsz) == -1 ||
	    httpd_limits_load(&cf->http, c, err, errsz) == -1)
		goto fail;
	if ((tok = conf_secret_line(c, "whatsapp_token_file", err,
	    errsz)) == NULL)
		goto fail;
	if (wa_set_token(cf, tok, err, errsz) == -1) {
		conf_secret_free(tok);
		snprintf(err, errsz, "whatsapp_token_file: the token must be "
		    "one line without spaces");
		goto fail;
	}
	conf_secret_free(tok);
	if ((cf->app_secret = conf_secret_line(c,
	    "whatsapp_app_secret_file", err, errsz)) == NULL ||
	    (cf->verify_token = conf_secret_line(c,
	    "whatsapp_verify_token_file", err, errsz)) == NULL)
		goto fail;
	return 0;
fail:
	wa_conf_free(cf);
	return -1;
}

/* --- the numbers --- */

struct wa_number *
wa_number_find(struct whatsappd *w, const char *id)
{
	size_t i;

	for (i = 0; i < w->nnums; i++)
		if (strcmp(w->nums[i].id, id) == 0)
			return &w->nums[i];
	return NULL;
}

struct wa_number *
wa_number(struct whatsappd *w, const char *id)
{
	static int warned;
	struct wa_number *n;

	if (!wa_is_id(id, strlen(id)))
		return NULL;
	if ((n = wa_number_find(w, id)) != NULL)
		return n;
	if (w->nnums >= WA_NUMBERS_MAX) {
		if (!warned)
			log_warnx("more than %d phone-number ids seen; the "
			    "others are not listed by chstatus",
			    WA_NUMBERS_MAX);
		warned = 1;
		return NULL;
	}
	if (w->nnums == w->numscap) {
		w->numscap = w->numscap ? w->numscap * 2 : 16;
		w->nums = reallocarray(w->nums, w->numscap, sizeof(*w->nums));
		if (w->nums == NULL)
			fatalx("out of memory");
	}
	n = &w->nums[w->nnums++];
	memset(n, 0, sizeof(*n));
	snprintf(n->id, sizeof(n->id), "%s", id);
	n->active = 1;
	return n;
}

void
wa_numbers_activate(struct whatsappd *w)
{
	size_t i, n = 0;

	for (i = 0; i < w->nnums; i++)
		if (!w->nums[i].active) {
			w->nums[i].active = 1;
			w->nums[i].reason[0] = '\0';
			w->nums[i].since_ms = 0;
			n++;
		}
	if (n > 0)
		log_info("new access token: %zu inactive number%s active "
		    "again", n, n == 1 ? "" : "s");
}

/* Add the ids of whatsapp_numbers (checked by wa_conf_load). */
static void
numbers_listed(struct whatsappd *w)
{
	const char *v = w->cf.numbers;
	char id[WA_ID_MAX + 1];
	size_t n;

	for (;;) {
		v += strspn(v, " \t,");
		if (*v == '\0')
			return;
		n = strcspn(v, " \t,");
		snprintf(id, sizeof(id), "%.*s", (int)n, v);
		wa_number(w, id);
		v += n;
	}
}

static int
num_cmp(const void *a, const void *b)
{
	const struct wa_number *const *x = a, *const *y = b;

	return strcmp((*x)->id, (*y)->id);
}

/* {ok, channels:[{channel, addr, active, reason?, since?}]} sorted by addr. */
static void
answer_chstatus(struct whatsappd *w, struct bus_conn *c, int64_t id)
{
	struct wa_number **v = NULL;
	size_t i, n = w->nnums;
	struct fbuf fb;

	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++)
		v[i] = &w->nums[i];
	if (n > 1)
		qsort(v, n, sizeof(*v), num_cmp);
	fbuf_init(&fb);
	bus_answer_begin(&fb, id, 1);
	mp_pack_cstr(&fb.pk, "channels");
	msgpack_pack_array(&fb.pk, n);
	for (i = 0; i < n; i++) {
		msgpack_pack_map(&fb.pk, v[i]->active ? 3 : 5);
		mp_kv_str(&fb.pk, "channel", "whatsapp");
		mp_kv_str(&fb.pk, "addr", v[i]->id);
		mp_kv_bool(&fb.pk, "active", v[i]->active);
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

/* Re-read whatsapp_token_file now: every number active again. */
static void
answer_chtoken(struct whatsappd *w, struct bus_conn *c, int64_t id)
{
	char err[600], *tok;
	struct fbuf fb;

	if ((tok = conf_secret_line(w->e.d.conf, "whatsapp_token_file", err,
	    sizeof(err))) == NULL ||
	    wa_set_token(&w->cf, tok, err, sizeof(err)) == -1) {
		conf_secret_free(tok);
		log_warnx("chtoken from %s refused: %s", bus_name(c), err);
		bus_answer_err(c, id, "config", err);
		return;
	}
	conf_secret_free(tok);
	log_info("chtoken from %s: access token re-read", bus_name(c));
	wa_numbers_activate(w);
	if (w->e.q)
		outq_kick(w->e.q);
	fbuf_init(&fb);
	bus_answer_begin(&fb, id, 0);
	if (bus_send(c, &fb) == -1)
		log_debug("%s: chtoken answer not sent", bus_name(c));
	fbuf_free(&fb);
}

/* --- the bus --- */

/* Frames on either socket: "out" from routerd, chstatus, chtoken; ping and
 * the rest are lib/edge's. */
static void
on_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	struct whatsappd *w = arg;
	int64_t id;

	switch (proto_type(f)) {
	case PT_OUT:
		wa_send_frame(w, c, f);
		break;
	case PT_CHSTATUS:
		if (mp_int(f, "id", &id))
			answer_chstatus(w, c, id);
		break;
	case PT_CHTOKEN:
		if (mp_int(f, "id", &id))
			answer_chtoken(w, c, id);
		break;
	default:
		edge_frame_common(&w->e, c, f);
		break;
	}
}

static void
on_term(struct daemon *d)
{
	struct whatsappd *w = d->arg;

	edge_term(&w->e, "Graph API calls");
}

static void
on_hup(struct daemon *d)
{
	struct whatsappd *w = d->arg;
	struct wa_conf cf;
	char err[1024];
	int changed;

	if (wa_conf_load(&cf, d->conf, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the previous settings", err);
		return;
	}
	if (strcmp(cf.listen_host, w->cf.listen_host) != 0 ||
	    cf.listen_port != w->cf.listen_port)
		log_warnx("reload: whatsappd_listen changes need a restart");
	if (cf.max_inflight != w->cf.max_inflight)
		log_info("reload: whatsapp_max_inflight bounds the queue now; "
		    "the HTTP client keeps its connection bound until a "
		    "restart");
	changed = strcmp(cf.token, w->cf.token) != 0;
	wa_conf_free(&w->cf);
	w->cf = cf;
	edge_hook_limits(&w->e, &w->cf.http);
	numbers_listed(w);
	if (changed)
		wa_numbers_activate(w);
	wa_send_reconf(w);
}

int
main(int argc, char **argv)
{
	struct whatsappd *w = &wad;
	char err[1024];
	int rc;

	daemon_init(&w->e.d, "whatsappd", argc, argv);
	if (wa_conf_load(&w->cf, w->e.d.conf, err, sizeof(err)) == -1)
		log_exit(EX_CONFIG, "%s", err);
	if (w->e.d.check_only)
		daemon_checked(&w->e.d);
	if (sodium_init() < 0)
		log_exit(EX_TEMP, "sodium_init failed");
	w->e.d.arg = w;
	w->e.d.on_term = on_term;
	w->e.d.on_hup = on_hup;
	w->e.frame = on_frame;
	w->e.arg = w;
	numbers_listed(w);

	if ((w->e.ho = http_out_new(w->e.d.base, (long)w->cf.max_inflight)) ==
	    NULL)
		log_exit(EX_TEMP, "cannot set up the HTTP client");
	if (wa_send_start(w, err, sizeof(err)) == -1 ||
	    edge_listen(&w->e, err, sizeof(err)) == -1 ||
	    wa_webhook_start(w, err, sizeof(err)) == -1 ||
	    edge_connect(&w->e, err, sizeof(err)) == -1)
		log_exit(EX_TEMP, "%s", err);

	log_info("serving webhooks on %s:%d, Graph API %s at %s",
	    w->cf.listen_host, w->cf.listen_port, w->cf.version,
	    w->cf.api_url);
	daemon_ready(&w->e.d);
	rc = daemon_run(&w->e.d);

	edge_free(&w->e);
	wa_conf_free(&w->cf);
	free(w->nums);
	return rc;
}
