/*
 * whatsappd_send — routerd's "out" requests to the Graph API's
 * /{version}/{phone-number-id}/messages.
 *
 * Each request is checked and turned into Meta's JSON body at once (a bad
 * frame is answered "invalid" without a call), then handed to lib/outq,
 * keyed by the phone-number id: never more than whatsapp_rate starts in any
 * second per number (a token bucket as deep as the rate, plus a sliding
 * window with a 20 ms guard), at most whatsapp_max_inflight calls at once,
 * and a message routerd sends again while it is still here is posted once.
 *
 * The customer is "to" (their number) or, for one known only by a
 * business-scoped user id, "recipient" (the BSUID), as Meta documents.
 * Bodies: text (preview_url false; context.message_id when it answers a
 * customer's message), template (header and body text parameters,
 * quick-reply button payloads), media by link (the type from the MIME type:
 * image/webp is a sticker), and a file, first uploaded to
 * /{phone-number-id}/media as multipart/form-data streamed from disk, then
 * sent by the media id it got (kept by the job, so a retried send does not
 * upload again).  The file is only ever a name in $PARLEY_HOME/spool/ and
 * the uid of the agent who sent it, as routerd checked them when the
 * message was queued; they are checked again here, on the descriptor that
 * is then streamed (lib/spool), since the spool is shared by every agent
 * and an entry can change between the two.
 *
 * Meta's answer decides, on error.code and never on the HTTP status alone
 * (providers.md §1.2): throughput and transient errors are retried with
 * backoff (outq), too many messages to one recipient hold that recipient
 * for 6 s, 131047 / 131026 and the rest fail with Meta's code, and 190 (or
 * 0) means the access token is dead: the number turns inactive, this
 * message and every queued one fail, and nothing more is sent from it until
 * a new token is read (chtoken or SIGHUP).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <sodium.h>

#include "bus.h"
#include "edge.h"
#include "frame.h"
#include "http_out.h"
#include "log.h"
#include "media.h"
#include "mp.h"
#include "outq.h"
#include "proto.h"
#include "spool.h"
#include "str.h"
#include "valid.h"
#include "whatsappd.h"

#define MSGID_MAX	64
#define TO_MAX		(VALID_BSUID_MAX + 1)	/* "+digits" or a BSUID */
#define REPLY_MAX	256		/* bytes of a wamid to answer */
#define URL_MAX		2048
#define TPL_NAME_MAX	512
#define PAIR_HOLD_MS	6000		/* 131056: ~1 message per 6 s */
#define THROTTLE_MS	1000		/* 130429, 80007, 4: at least 1 s */
#define UPLOAD_MAX_MS	(10 * 60 * 1000)	/* the longest upload */
#define INACTIVE_MSG	"access token inactive \xe2\x80\x94 set a new one " \
			"with msg channel token"
#define WINDOW_MSG	"outside the 24-hour window \xe2\x80\x94 send a template"

/* One message on its way: Meta's body, and the file to upload first. */
struct wa_job {
	struct whatsappd *w;
	json_t		*body;		/* the whole request body */
	json_t		*media;		/* body's media object (files: gets "id") */
	char		 type[16];	/* Meta's message type, for logs */
	char		 spool[SPOOL_NAMELEN + 1];	/* a file to upload */
	uid_t		 uid;		/* who sent it: the file's owner */
	long long	 size;		/* its size when queued */
	char		*fname, *mime;
	char		*media_id;	/* the upload's id, once uploaded */
};

static void
job_data_free(void *data)
{
	struct wa_job *wj = data;

	if (wj == NULL)
		return;
	json_decref(wj->body);
	free(wj->fname);
	free(wj->mime);
	free(wj->media_id);
	free(wj);
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

/* --- Meta's answers --- */

struct graph_err {
	long long	 code;		/* -1: no error envelope */
	char		 message[512];
	char		 details[512];
};

static void
graph_error(const struct http_resp *r, struct graph_err *ge)
{
	json_t *root, *e, *ed, *v;
	json_error_t je;

	ge->code = -1;
	ge->message[0] = ge->details[0] = '\0';
	root = json_loadb(r->body, r->bodylen, 0, &je);
	e = json_is_object(root) ? json_object_get(root, "error") : NULL;
	if (!json_is_object(e))
		goto done;
	v = json_object_get(e, "code");
	if (json_is_integer(v))
		ge->code = (long long)json_integer_value(v);
	else if (json_is_string(v))
		ge->code = strtoll(json_string_value(v), NULL, 10);
	v = json_object_get(e, "message");
	if (json_is_string(v))
		snprintf(ge->message, sizeof(ge->message), "%s",
		    json_string_value(v));
	ed = json_object_get(e, "error_data");
	v = json_is_object(ed) ? json_object_get(ed, "details") : NULL;
	if (json_is_string(v))
		snprintf(ge->details, sizeof(ge->details), "%s",
		    json_string_value(v));
done:
	json_decref(root);
}

static void
send_message(struct outq_job *);

/* The number key's token is dead: mark it, fail j and what waits behind it. */
static void
token_dead(struct whatsappd *w, struct outq_job *j, const struct graph_err *ge)
{
	char key[WA_ID_MAX + 1];
	struct wa_number *n;
	size_t failed;

	snprintf(key, sizeof(key), "%s", outq_job_key(j));
	if ((n = wa_number(w, key)) != NULL && n->active) {
		n->active = 0;
		n->since_ms = daemon_now_ms();
		snprintf(n->reason, sizeof(n->reason), "%.200s (%lld)",
		    ge->message[0] ? ge->message : "access token refused",
		    ge->code);
	}
	log_warnx("%s: Meta refused the access token (error %lld); the number "
	    "is inactive until a new token is set (msg channel token)", key,
	    ge->code);
	outq_fail(j, "190", INACTIVE_MSG);
	failed = outq_fail_key(w->e.q, key, "inactive", INACTIVE_MSG);
	if (failed > 0)
		log_warnx("%s: %zu queued message%s failed: token inactive",
		    key, failed, failed == 1 ? "" : "s");
}

/*
 * A call that did not succeed (what: "send" or "upload"): retry, hold or fail
 * j by Meta's error code (providers.md §1.2).
 */
static void
call_failed(struct outq_job *j, const struct http_resp *r, const char *what)
{
	struct wa_job *wj = outq_job_data(j);
	struct whatsappd *w = wj->w;
	struct graph_err ge;
	char why[1100], code[32];

	if (r->status == 0) {
		snprintf(why, sizeof(why), "%s: %s", what, r->timed_out ?
		    "the Graph API timed out" : r->error ? r->error :
		    "transport error");
		outq_retry_code(j, r->timed_out ? "timeout" : "transport", why,
		    0);
		return;
	}
	graph_error(r, &ge);
	snprintf(code, sizeof(code), "%lld", ge.code);
	if (ge.details[0])
		snprintf(why, sizeof(why), "%s: %s", ge.message[0] ?
		    ge.message : "error", ge.details);
	else
		snprintf(why, sizeof(why), "%s", ge.message[0] ? ge.message :
		    "no error message");
	switch (ge.code) {
	case 130429:	/* Cloud API throughput reached */
	case 80007:	/* WABA rate limit */
	case 4:		/* app API-call rate limit */
		snprintf(why, sizeof(why), "%s: throttled by Meta (%lld)",
		    what, ge.code);
		outq_retry_code(j, code, why, THROTTLE_MS);
		return;
	case 131000:	/* unknown error */
	case 131016:	/* service unavailable */
	case 2:		/* API service down */
	case 1:		/* API unknown: temporary */
		snprintf(why, sizeof(why), "%s: Meta error %lld (HTTP %ld)",
		    what, ge.code, r->status);
		outq_retry_code(j, code, why, 0);
		return;
	case 131056:	/* pair rate limit: this recipient only */
		outq_hold_code(j, code, "too many messages to this recipient "
		    "(131056)", PAIR_HOLD_MS);
		return;
	case 131047:
		log_info("msg=%s: refused: outside the 24-hour window "
		    "(131047)", outq_job_msg(j));
		outq_fail(j, "131047", WINDOW_MSG);
		return;
	case 131026:
		snprintf(why, sizeof(why), "undeliverable: %s", ge.details[0] ?
		    ge.details : ge.message[0] ? ge.message : "no details");
		log_info("msg=%s: refused: undeliverable (131026)",
		    outq_job_msg(j));
		outq_fail(j, "131026", why);
		return;
	case 190:
	case 0:
		token_dead(w, j, &ge);
		return;
	case 131048:	/* spam rate limit */
	case 368:	/* account restricted */
	case 131031:	/* account locked */
		log_warnx("%s: Meta error %lld (%s): pause sending from this "
		    "number and check it in WhatsApp Manager",
		    outq_job_key(j), ge.code, ge.message);
		snprintf(code, sizeof(code), "%lld", ge.code);
		outq_fail(j, code, ge.message[0] ? ge.message : why);
		return;
	case -1:	/* no envelope: the HTTP status alone */
		if (r->status == 429 || r->status >= 500) {
			snprintf(why, sizeof(why), "%s: HTTP %ld", what,
			    r->status);
			snprintf(code, sizeof(code), "http-%ld", r->status);
			outq_retry_code(j, code, why, r->status == 429 ?
			    THROTTLE_MS : 0);
			return;
		}
		snprintf(code, sizeof(code), "http-%ld", r->status);
		snprintf(why, sizeof(why), "HTTP %ld without a Graph error",
		    r->status);
		log_info("msg=%s: %s refused: %s", outq_job_msg(j), what, why);
		outq_fail(j, code, why);
		return;
	default:
		if (r->status >= 500) {
			snprintf(why, sizeof(why), "%s: Meta error %lld (HTTP "
			    "%ld)", what, ge.code, r->status);
			outq_retry_code(j, code, why, 0);
			return;
		}
		snprintf(code, sizeof(code), "%lld", ge.code);
		log_info("msg=%s: %s refused by Meta: %s (HTTP %ld)",
		    outq_job_msg(j), what, code, r->status);
		outq_fail(j, code, why);
		return;
	}
}

static void
sent(const struct http_resp *r, void *arg)
{
	struct outq_job *j = arg;
	json_t *root, *msgs, *id;
	json_error_t je;

	if (r->status < 200 || r->status > 299) {
		call_failed(j, r, "send");
		return;
	}
	root = json_loadb(r->body, r->bodylen, 0, &je);
	msgs = json_is_object(root) ? json_object_get(root, "messages") : NULL;
	id = json_object_get(json_array_get(msgs, 0), "id");
	if (json_is_string(id) && json_string_length(id) > 0 &&
	    json_string_length(id) <= WA_PID_MAX)
		outq_ok(j, json_string_value(id));
	else {
		log_warnx("msg=%s: HTTP %ld without a message id",
		    outq_job_msg(j), r->status);
		outq_fail(j, "provider", "the Graph API's answer carried no "
		    "message id");
	}
	json_decref(root);
}

static void
uploaded(const struct http_resp *r, void *arg)
{
	struct outq_job *j = arg;
	struct wa_job *wj = outq_job_data(j);
	json_t *root, *id;
	json_error_t je;

	if (r->status < 200 || r->status > 299) {
		call_failed(j, r, "upload");
		return;
	}
	root = json_loadb(r->body, r->bodylen, 0, &je);
	id = json_is_object(root) ? json_object_get(root, "id") : NULL;
	if (!json_is_string(id) || json_string_length(id) == 0 ||
	    json_string_length(id) > 256) {
		log_warnx("msg=%s: upload answered HTTP %ld without a media id",
		    outq_job_msg(j), r->status);
		outq_fail(j, "provider", "the Graph API's answer to the upload "
		    "carried no media id");
		json_decref(root);
		return;
	}
	wj->media_id = xstrndup(json_string_value(id), json_string_length(id));
	json_decref(root);
	log_debug("msg=%s: %s uploaded as media %s", outq_job_msg(j),
	    wj->fname, wj->media_id);
	send_message(j);
}

/* --- the calls --- */

static void
upload(struct outq_job *j)
{
	struct wa_job *wj = outq_job_data(j);
	struct whatsappd *w = wj->w;
	const char *hdrs[] = { w->cf.auth, "Accept: application/json", NULL };
	struct http_part parts[3];
	struct http_req rq;
	struct stat sb;
	char url[URL_MAX + 256], why[512];
	long long up_ms;
	int fd;

	/* the file routerd checked, checked again and streamed from this fd */
	if ((fd = spool_open(w->e.d.home, wj->spool, wj->uid, &sb, why,
	    sizeof(why))) == -1) {
		log_warnx("msg=%s: spool %s refused: %s", outq_job_msg(j),
		    wj->spool, why);
		outq_fail(j, "file", SPOOL_REFUSED);
		return;
	}
	if ((long long)sb.st_size != wj->size) {
		log_warnx("msg=%s: spool %s changed after it was queued",
		    outq_job_msg(j), wj->spool);
		outq_fail(j, "file", "the file changed in the spool after it "
		    "was queued");
		close(fd);
		return;
	}
	snprintf(url, sizeof(url), "%s/%s/%s/media", w->cf.api_url,
	    w->cf.version, outq_job_key(j));
	memset(parts, 0, sizeof(parts));
	parts[0].name = "messaging_product";
	parts[0].value = "whatsapp";
	parts[1].name = "type";
	parts[1].value = wj->mime;
	parts[2].name = "file";
	parts[2].fd = fd;
	parts[2].size = (long long)sb.st_size;
	parts[2].filename = wj->fname;
	parts[2].type = wj->mime;
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = url;
	rq.headers = hdrs;
	rq.parts = parts;
	rq.nparts = 3;
	/* http_timeout_ms, plus 1 s per MB: a 100 MB document at 1 MB/s */
	up_ms = w->cf.http_timeout_ms + (long long)sb.st_size / 1000;
	rq.timeout_ms = (long)(up_ms < UPLOAD_MAX_MS ? up_ms : UPLOAD_MAX_MS);
	/* http_out keeps its own duplicate of fd while it sends */
	if (http_out_start(w->e.ho, &rq, uploaded, j) == -1) {
		close(fd);
		outq_retry_code(j, "transport", "upload: HTTP request could "
		    "not be started", 0);
		return;
	}
	close(fd);
	outq_sending(j);	/* routerd hears "pending" */
	log_debug("msg=%s: uploading %s (%lld bytes, %s)", outq_job_msg(j),
	    wj->fname, (long long)sb.st_size, wj->mime);
}

static void
send_message(struct outq_job *j)
{
	struct wa_job *wj = outq_job_data(j);
	struct whatsappd *w = wj->w;
	const char *hdrs[] = { w->cf.auth, "Content-Type: application/json",
	    "Accept: application/json", NULL };
	struct http_req rq;
	char url[URL_MAX + 256], *body;
	int r;

	if (wj->media_id != NULL && wj->media != NULL)
		json_object_set_new(wj->media, "id",
		    json_string(wj->media_id));
	if ((body = json_dumps(wj->body, JSON_COMPACT)) == NULL)
		fatalx("out of memory");
	snprintf(url, sizeof(url), "%s/%s/%s/messages", w->cf.api_url,
	    w->cf.version, outq_job_key(j));
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = url;
	rq.headers = hdrs;
	rq.body = body;
	rq.bodylen = strlen(body);
	rq.timeout_ms = (long)w->cf.http_timeout_ms;
	r = http_out_start(w->e.ho, &rq, sent, j);
	sodium_memzero(body, rq.bodylen);
	free(body);
	if (r == -1) {
		outq_retry_code(j, "transport", "send: HTTP request could not "
		    "be started", 0);
		return;
	}
	outq_sending(j);	/* routerd hears "pending" (once an attempt) */
	log_debug("msg=%s: posting a %s message from %s (attempt %d)",
	    outq_job_msg(j), wj->type, outq_job_key(j),
	    outq_job_attempts(j) + 1);
}

/* outq's start: the job is counted in flight. */
static void
start(struct outq_job *j, void *arg)
{
	struct whatsappd *w = arg;
	struct wa_job *wj = outq_job_data(j);
	struct wa_number *n = wa_number_find(w, outq_job_key(j));

	if (n != NULL && !n->active) {
		outq_fail(j, "inactive", INACTIVE_MSG);
		return;
	}
	if (wj->spool[0] != '\0' && wj->media_id == NULL)
		upload(j);
	else
		send_message(j);
}

static void
on_idle(void *arg)
{
	struct whatsappd *w = arg;

	edge_drain_check(&w->e);
}

/* --- requests from routerd --- */

/* A JSON string of s[0..n), or NULL when it is not UTF-8 (or has a NUL). */
static json_t *
text_json(const char *s, size_t n)
{
	if (n == 0)
		return json_string("");
	if (memchr(s, '\0', n) != NULL)
		return NULL;
	return json_stringn(s, n);
}

/* Meta's message type for a MIME type. */
static const char *
media_type(const char *mime)
{
	if (strcmp(mime, "image/webp") == 0)
		return "sticker";
	if (strncmp(mime, "image/", 6) == 0)
		return "image";
	if (strncmp(mime, "audio/", 6) == 0)
		return "audio";
	if (strncmp(mime, "video/", 6) == 0)
		return "video";
	return "document";
}

/* A list of text parameters as [{type:text, text}]; NULL with why. */
static json_t *
text_params(const msgpack_object *o, const char *what, char *why,
    size_t whysz)
{
	const msgpack_object *e;
	json_t *list, *s;
	size_t i;

	if (o->type != MSGPACK_OBJECT_ARRAY ||
	    o->via.array.size > PROTO_TPL_PARAMS_MAX) {
		snprintf(why, whysz, "template %s must be a list of at most %d "
		    "texts", what, PROTO_TPL_PARAMS_MAX);
		return NULL;
	}
	list = json_array();
	for (i = 0; i < o->via.array.size; i++) {
		e = &o->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_STR ||
		    (s = text_json(e->via.str.ptr, e->via.str.size)) == NULL) {
			snprintf(why, whysz, "template %s parameter %zu is not "
			    "a UTF-8 string", what, i + 1);
			json_decref(list);
			return NULL;
		}
		json_array_append_new(list, json_pack("{s:s, s:o}", "type",
		    "text", "text", s));
	}
	return list;
}

/* template: {name, lang, header?, body?, buttons?[{index, payload}]}. */
static json_t *
template_obj(const msgpack_object *t, char *why, size_t whysz)
{
	const msgpack_object *h, *b, *btns, *e;
	json_t *tpl = NULL, *comps, *params, *s;
	const char *name, *lang, *pay;
	size_t nl, ll, pl, i;
	int64_t idx;
	char ibuf[24];

	if (t->type != MSGPACK_OBJECT_MAP ||
	    !mp_str(t, "name", &name, &nl) || nl == 0 || nl > TPL_NAME_MAX ||
	    !mp_str(t, "lang", &lang, &ll) || ll == 0 || ll > 32) {
		snprintf(why, whysz, "a template needs a name and a lang");
		return NULL;
	}
	tpl = json_object();
	if ((s = text_json(name, nl)) == NULL) {
		snprintf(why, whysz, "the template name is not UTF-8");
		goto fail;
	}
	json_object_set_new(tpl, "name", s);
	if ((s = text_json(lang, ll)) == NULL) {
		snprintf(why, whysz, "the template lang is not UTF-8");
		goto fail;
	}
	json_object_set_new(tpl, "language", json_pack("{s:o}", "code", s));
	comps = json_array();
	json_object_set_new(tpl, "components", comps);
	if ((h = mp_get(t, "header")) != NULL && h->type != MSGPACK_OBJECT_NIL) {
		if ((params = text_params(h, "header", why, whysz)) == NULL)
			goto fail;
		if (json_array_size(params) > 0)
			json_array_append_new(comps, json_pack("{s:s, s:o}",
			    "type", "header", "parameters", params));
		else
			json_decref(params);
	}
	if ((b = mp_get(t, "body")) != NULL && b->type != MSGPACK_OBJECT_NIL) {
		if ((params = text_params(b, "body", why, whysz)) == NULL)
			goto fail;
		if (json_array_size(params) > 0)
			json_array_append_new(comps, json_pack("{s:s, s:o}",
			    "type", "body", "parameters", params));
		else
			json_decref(params);
	}
	btns = mp_get(t, "buttons");
	if (btns != NULL && btns->type != MSGPACK_OBJECT_NIL) {
		if (btns->type != MSGPACK_OBJECT_ARRAY ||
		    btns->via.array.size > 10) {
			snprintf(why, whysz, "template buttons must be a list "
			    "of at most 10 {index, payload}");
			goto fail;
		}
		for (i = 0; i < btns->via.array.size; i++) {
			e = &btns->via.array.ptr[i];
			if (e->type != MSGPACK_OBJECT_MAP ||
			    !mp_int(e, "index", &idx) || idx < 0 || idx > 9 ||
			    !mp_str(e, "payload", &pay, &pl) || pl == 0 ||
			    (s = text_json(pay, pl)) == NULL) {
				snprintf(why, whysz, "template button %zu needs "
				    "an index 0..9 and a payload", i + 1);
				goto fail;
			}
			snprintf(ibuf, sizeof(ibuf), "%lld", (long long)idx);
			json_array_append_new(comps, json_pack(
			    "{s:s, s:s, s:s, s:[{s:s, s:o}]}", "type", "button",
			    "sub_type", "quick_reply", "index", ibuf,
			    "parameters", "type", "payload", "payload", s));
		}
	}
	if (json_array_size(comps) == 0)
		json_object_del(tpl, "components");
	return tpl;
fail:
	json_decref(tpl);
	return NULL;
}

/* The media object {caption?, filename?} of type (link or id added later);
 * the caption (jtext, borrowed) only when the type takes one. */
static json_t *
media_obj(const char *type, json_t *jtext, const char *fname, const char *msg)
{
	json_t *m = json_object();
	int captions = strcmp(type, "image") == 0 ||
	    strcmp(type, "video") == 0 || strcmp(type, "document") == 0;

	if (json_string_length(jtext) > 0 && captions)
		json_object_set(m, "caption", jtext);
	else if (json_string_length(jtext) > 0)
		log_info("msg=%s: WhatsApp takes no caption on %s; the text "
		    "is not sent", msg, type);
	if (strcmp(type, "document") == 0 && fname != NULL && fname[0])
		json_object_set_new(m, "filename", json_string(fname));
	return m;
}

/*
 * Meta's body for out frame f into wj (type, body, media, file); -1 with
 * why (answered "invalid").
 */
static int
build(struct wa_job *wj, const msgpack_object *f, const char *to,
    const char *text, size_t tlen, const char *msg, char *why, size_t whysz)
{
	const msgpack_object *tpl, *media, *file, *e;
	const char *rt, *u, *mi, *type;
	char url[URL_MAX + 1], mime[128], fname[256];
	int64_t uid, fsize;
	size_t rl, ul, ml;
	json_t *root, *t, *m, *s, *jtext;

	if ((tpl = mp_get(f, "template")) != NULL &&
	    tpl->type == MSGPACK_OBJECT_NIL)
		tpl = NULL;
	if ((media = mp_get(f, "media")) != NULL &&
	    (media->type == MSGPACK_OBJECT_NIL ||
	    (media->type == MSGPACK_OBJECT_ARRAY && media->via.array.size == 0)))
		media = NULL;
	if ((file = mp_get(f, "file")) != NULL &&
	    file->type == MSGPACK_OBJECT_NIL)
		file = NULL;
	if ((tpl != NULL) + (media != NULL) + (file != NULL) > 1) {
		snprintf(why, whysz, "one of template, media and file at most");
		return -1;
	}
	if ((jtext = text_json(text, tlen)) == NULL) {
		snprintf(why, whysz, "text is not UTF-8");
		return -1;
	}
	root = json_object();
	json_object_set_new(root, "messaging_product", json_string("whatsapp"));
	json_object_set_new(root, "recipient_type", json_string("individual"));
	/* a customer known by their business-scoped user id: "recipient" */
	json_object_set_new(root, valid_bsuid(to) ? "recipient" : "to",
	    json_string(to));
	json_object_set_new(root, "type", json_string("text"));
	if ((e = mp_get(f, "reply_to")) != NULL && e->type != MSGPACK_OBJECT_NIL) {
		if (!mp_str(f, "reply_to", &rt, &rl) || rl == 0 ||
		    rl > REPLY_MAX || (s = text_json(rt, rl)) == NULL) {
			snprintf(why, whysz, "reply_to must be a wamid");
			goto fail;
		}
		json_object_set_new(root, "context", json_pack("{s:o}",
		    "message_id", s));
	}
	if (tpl != NULL) {
		if ((t = template_obj(tpl, why, whysz)) == NULL)
			goto fail;
		type = "template";
		json_object_set_new(root, "template", t);
	} else if (file != NULL) {
		/* a name in the spool, never a path; its sender; its size */
		if (file->type != MSGPACK_OBJECT_MAP ||
		    !mp_strcpy(file, "spool", wj->spool, sizeof(wj->spool)) ||
		    !spool_name_ok(wj->spool) || !mp_int(file, "uid", &uid) ||
		    uid < 0 || uid > UINT32_MAX || !mp_int(file, "size", &fsize) ||
		    fsize < 0) {
			wj->spool[0] = '\0';
			snprintf(why, whysz, "file needs spool (a name in the "
			    "spool), uid and size");
			goto fail;
		}
		wj->uid = (uid_t)uid;
		wj->size = fsize;
		if (!mp_strcpy(file, "name", fname, sizeof(fname)) ||
		    fname[0] == '\0' || strpbrk(fname, "/\"\r\n") != NULL ||
		    !valid_utf8(fname, strlen(fname)))
			snprintf(fname, sizeof(fname), "file");
		if (!mp_strcpy(file, "mime", mime, sizeof(mime)) ||
		    mime[0] == '\0' || strpbrk(mime, "\r\n\";") != NULL) {
			mi = media_mime(fname, NULL, 0);
			snprintf(mime, sizeof(mime), "%s", mi ? mi :
			    "application/octet-stream");
		}
		wj->fname = xstrndup(fname, strlen(fname));
		wj->mime = xstrndup(mime, strlen(mime));
		type = media_type(mime);
		m = media_obj(type, jtext, fname, msg);
		wj->media = m;
		json_object_set_new(root, type, m);
	} else if (media != NULL) {
		if (media->type != MSGPACK_OBJECT_ARRAY ||
		    media->via.array.size != 1) {
			snprintf(why, whysz, "WhatsApp sends one media per "
			    "message");
			goto fail;
		}
		e = &media->via.array.ptr[0];
		if (e->type != MSGPACK_OBJECT_MAP ||
		    !mp_str(e, "url", &u, &ul) || ul < 8 || ul > URL_MAX ||
		    memchr(u, '\0', ul) != NULL ||
		    (strncmp(u, "https://", 8) != 0 &&
		    strncmp(u, "http://", 7) != 0)) {
			snprintf(why, whysz, "media needs an http(s) url");
			goto fail;
		}
		snprintf(url, sizeof(url), "%.*s", (int)ul, u);
		if ((s = text_json(url, strlen(url))) == NULL) {
			snprintf(why, whysz, "media url is not UTF-8");
			goto fail;
		}
		str_url_filename(url, fname, sizeof(fname));
		if (mp_str(e, "mime", &mi, &ml) && ml > 0 && ml < sizeof(mime))
			snprintf(mime, sizeof(mime), "%.*s", (int)ml, mi);
		else {
			mi = media_mime(fname, NULL, 0);
			snprintf(mime, sizeof(mime), "%s", mi ? mi :
			    "application/octet-stream");
		}
		type = media_type(mime);
		m = media_obj(type, jtext, fname, msg);
		json_object_set_new(m, "link", s);
		json_object_set_new(root, type, m);
	} else {
		if (tlen == 0) {
			snprintf(why, whysz, "nothing to send: no text, "
			    "template, media or file");
			goto fail;
		}
		type = "text";
		json_object_set_new(root, "text", json_pack("{s:b, s:O}",
		    "preview_url", 0, "body", jtext));
	}
	json_object_set_new(root, "type", json_string(type));
	snprintf(wj->type, sizeof(wj->type), "%s", type);
	wj->body = root;
	json_decref(jtext);
	return 0;
fail:
	json_decref(jtext);
	json_decref(root);
	return -1;
}

void
wa_send_frame(struct whatsappd *w, struct bus_conn *c,
    const msgpack_object *f)
{
	char msg[MSGID_MAX], from[WA_ID_MAX + 1], to[TO_MAX], why[256];
	const char *text, *ch;
	size_t tlen, chlen;
	struct wa_number *n;
	struct wa_job *wj;
	int64_t id;

	if (!mp_int(f, "id", &id)) {
		log_warnx("%s: out request without id ignored", bus_name(c));
		return;
	}
	if (!mp_strcpy(f, "msg", msg, sizeof(msg)) || msg[0] == '\0' ||
	    !mp_strcpy(f, "from", from, sizeof(from)) ||
	    !wa_is_id(from, strlen(from)) ||
	    !mp_strcpy(f, "to", to, sizeof(to)) ||
	    (!wa_is_id(to[0] == '+' ? to + 1 : to, strlen(to[0] == '+' ?
	    to + 1 : to)) && !valid_bsuid(to)) ||
	    !mp_str(f, "text", &text, &tlen)) {
		bus_answer_err(c, id, "invalid", "out needs msg, from (a "
		    "phone-number id), to (+digits or a business-scoped user "
		    "id) and text strings");
		return;
	}
	if (mp_str(f, "channel", &ch, &chlen) &&
	    (chlen != 8 || memcmp(ch, "whatsapp", 8) != 0)) {
		bus_answer_err(c, id, "invalid", "whatsappd sends channel "
		    "whatsapp only");
		return;
	}
	if (tlen > PROTO_TEXT_MAX || (tlen > 0 &&
	    (memchr(text, '\0', tlen) != NULL || !valid_utf8(text, tlen)))) {
		bus_answer_err(c, id, "invalid", "text too long, with NUL or "
		    "not UTF-8");
		return;
	}
	if ((n = wa_number(w, from)) != NULL && !n->active) {
		log_debug("msg=%s: %s is inactive, refused", msg, from);
		bus_answer_err(c, id, "inactive", INACTIVE_MSG);
		return;
	}
	if ((wj = calloc(1, sizeof(*wj))) == NULL)
		fatalx("out of memory");
	wj->w = w;
	if (build(wj, f, to, text, tlen, msg, why, sizeof(why)) == -1) {
		log_info("msg=%s: invalid out request: %s", msg, why);
		bus_answer_err(c, id, "invalid", why);
		job_data_free(wj);
		return;
	}
	outq_submit(w->e.q, msg, from, to, wj, c, id);
}

static void
limits(const struct whatsappd *w, struct outq_limits *l)
{
	memset(l, 0, sizeof(*l));
	/*
	 * Smooth, not bunched: a bucket of 50 ms worth of tokens, so that a
	 * second's messages leave spread out on warm connections instead of
	 * as one burst whose tail reaches Meta late; and a window of
	 * 1000 + 50 ms, so the jitter on the way does not put more than the
	 * rate into any second Meta counts.
	 */
	l->rate = (double)w->cf.rate;
	l->burst = w->cf.rate >= 40 ? (double)(w->cf.rate / 20) : 1.0;
	l->window = 1;
	l->window_guard_ms = 50;
	l->max_inflight = (size_t)w->cf.max_inflight;
}

/* outq's progress: pending and retrying, told to routerd */
static void
on_progress(const struct outq_job *j, const struct outq_progress *p,
    void *arg)
{
	struct whatsappd *w = arg;

	edge_progress(&w->e, "whatsapp", outq_job_msg(j), p);
}

int
wa_send_start(struct whatsappd *w, char *err, size_t errsz)
{
	static const struct outq_ops ops = {
		.start = start, .free_data = job_data_free, .idle = on_idle,
		.progress = on_progress,
	};
	struct outq_limits l;

	limits(w, &l);
	if ((w->e.q = outq_new(w->e.d.base, &l, &ops, w)) == NULL) {
		snprintf(err, errsz, "cannot set up the send queue");
		return -1;
	}
	return 0;
}

void
wa_send_reconf(struct whatsappd *w)
{
	struct outq_limits l;

	if (w->e.q == NULL)
		return;
	limits(w, &l);
	outq_set_limits(w->e.q, &l);
	outq_kick(w->e.q);
}
