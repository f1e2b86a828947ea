/*
 * messengerd_send — routerd's "out" requests to the Send API,
 * POST /{version}/{PAGE-ID}/messages with the Page's token, for a Page's
 * customers (channel messenger, from the Page) and for its Instagram
 * account's (channel instagram, from the account, with its Page's token).
 *
 * Each request is checked and taken apart at once (a bad frame is answered
 * "invalid" without a call): text (2,000 characters on Messenger, 1,000 on
 * Instagram), at most one attachment (by URL, or a file from the spool),
 * quick replies (at most 13, titles of at most 20 characters), a reply to
 * one of the customer's messages (reply_to.mid), and the messaging_type:
 * RESPONSE, or MESSAGE_TAG with the tag HUMAN_AGENT when routerd sends
 * "tag" (it decides the window; messengerd only says what it was told).
 * The attachment's type and size are checked against the channel's
 * (lib/media) before any upload.  Every message carries metadata
 * "parley:<msg>", so that its echo is known as ours.
 *
 * The Send API takes text or one attachment per message: an attachment with
 * a text goes as two messages, the attachment first (answered with its mid;
 * the text's echo still names our message).  A file is uploaded once to
 * /{PAGE-ID}/message_attachments (multipart, filedata, is_reusable) and
 * sent by the attachment_id it got, kept by the job so a retry does not
 * upload again; an attachment by URL is sent with is_reusable and the id
 * Meta answers is kept per account and URL (MG_REUSE_MAX, MG_REUSE_MS), so
 * a campaign sending one picture to many customers has it fetched once.
 *
 * Pacing is lib/outq's, per key: the Page (messenger_rate, 300/s) or the
 * Instagram account (instagram_rate, 300/s), and a key of its own for
 * audio and video (messenger_av_rate, 10/s, providers.md §2.1).
 *
 * Meta's answer decides, on error.code and error_subcode, never on the HTTP
 * status alone (providers.md §2.2): 190 (any subcode) turns the Page and its
 * Instagram account inactive with the reason, fails this message and every
 * queued one, and nothing more is sent on them until a new token is taken;
 * 10/2018278 (Messenger) and 10/2534022 (Instagram) fail it "window"; 551
 * fails it for good; 4, 613, 2, 1200 and 5xx (and the network) retry with
 * lib/outq's capped backoff and jitter; 100 and the rest fail with Meta's
 * code and message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "bus.h"
#include "edge.h"
#include "frame.h"
#include "htab.h"
#include "http_out.h"
#include "log.h"
#include "media.h"
#include "messengerd.h"
#include "mp.h"
#include "outq.h"
#include "spool.h"
#include "str.h"
#include "valid.h"

#define MSGID_MAX	64
#define URL_MAX		2048
#define CALL_URL_MAX	(URL_MAX + 4096)
#define MG_TEXT_CHARS	2000		/* Messenger's text limit */
#define IG_TEXT_CHARS	1000		/* Instagram's */
#define QR_MAX		13
#define QR_TITLE_CHARS	20
#define QR_PAYLOAD_MAX	1000
#define REPLY_MAX	1024		/* bytes of a mid to answer */
#define THROTTLE_MS	1000		/* 4, 613: at least 1 s */
#define UPLOAD_MAX_MS	(10 * 60 * 1000)
#define MG_REUSE_MAX	10000		/* attachment ids kept */
#define MG_REUSE_MS	(30LL * 24 * 3600 * 1000)	/* Meta: 90 days */
#define INACTIVE_MSG	"Page token inactive \xe2\x80\x94 set a new one with " \
			"msg channel token"
#define WINDOW_MSG	"outside the messaging window"

/* One message on its way. */
struct mg_job {
	struct messengerd *m;
	char		 channel[16];
	char		 account[MG_ID_MAX + 1];
	char		 to[MG_ID_MAX + 1];
	char		 msg[MSGID_MAX];
	json_t		*text;		/* JSON string, or NULL */
	json_t		*qr;		/* quick replies, or NULL */
	char		*reply_mid;	/* the customer's mid answered */
	int		 tag;		/* MESSAGE_TAG HUMAN_AGENT */
	char		 att_type[16];	/* "" : no attachment */
	char		*url;		/* by URL */
	char		 spool[SPOOL_NAMELEN + 1];	/* a file to upload */
	uid_t		 uid;
	long long	 size;
	char		*fname, *mime;
	char		*att_id;	/* uploaded, or reused */
	char		 mid1[MG_PID_MAX * 4];	/* the attachment's mid */
	int		 part;		/* the call in flight: 0 att, 1 text */
};

/* (account, URL) -> the attachment id Meta gave for it. */
struct mg_reuse {
	struct htab_node hn;
	char		*key;		/* account "\n" url */
	char		*att_id;
	long long	 at_ms;
	struct mg_reuse	*prev, *next;	/* oldest first */
};

static void
job_data_free(void *data)
{
	struct mg_job *mj = data;

	if (mj == NULL)
		return;
	json_decref(mj->text);
	json_decref(mj->qr);
	free(mj->reply_mid);
	free(mj->url);
	free(mj->fname);
	free(mj->mime);
	free(mj->att_id);
	free(mj);
}

/* --- reusable attachments --- */

static int
reuse_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct mg_reuse *r = HTAB_ENTRY(n, struct mg_reuse, hn);

	return strlen(r->key) == l && memcmp(r->key, k, l) == 0;
}

static void
reuse_unlink(struct messengerd *m, struct mg_reuse *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		m->rfirst = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		m->rlast = r->prev;
}

static void
reuse_free(struct messengerd *m, struct mg_reuse *r)
{
	htab_remove(&m->reuse, &r->hn);
	reuse_unlink(m, r);
	free(r->key);
	free(r->att_id);
	free(r);
}

static char *
reuse_key(const char *account, const char *url)
{
	char *k;

	if (asprintf(&k, "%s\n%s", account, url) == -1)
		fatalx("out of memory");
	return k;
}

static const char *
reuse_get(struct messengerd *m, const char *account, const char *url)
{
	char *k = reuse_key(account, url);
	struct htab_node *n = htab_find(&m->reuse, k, strlen(k), reuse_eq);
	struct mg_reuse *r;

	free(k);
	if (n == NULL)
		return NULL;
	r = HTAB_ENTRY(n, struct mg_reuse, hn);
	if (daemon_now_ms() - r->at_ms > MG_REUSE_MS) {
		reuse_free(m, r);
		return NULL;
	}
	return r->att_id;
}

static void
reuse_put(struct messengerd *m, const char *account, const char *url,
    const char *att_id)
{
	char *k = reuse_key(account, url);
	struct htab_node *n = htab_find(&m->reuse, k, strlen(k), reuse_eq);
	struct mg_reuse *r;

	if (n != NULL)
		reuse_free(m, HTAB_ENTRY(n, struct mg_reuse, hn));
	if (htab_count(&m->reuse) >= MG_REUSE_MAX && m->rfirst != NULL)
		reuse_free(m, m->rfirst);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatalx("out of memory");
	r->key = k;
	r->att_id = str_dup(att_id);
	r->at_ms = daemon_now_ms();
	if (htab_insert(&m->reuse, &r->hn, k, strlen(k)) == -1)
		fatalx("out of memory");
	r->prev = m->rlast;
	if (m->rlast)
		m->rlast->next = r;
	else
		m->rfirst = r;
	m->rlast = r;
}

/* --- Meta's answers --- */

static void send_part(struct outq_job *);

/*
 * A call that did not succeed (what: "send", "send the text" or "upload"):
 * retry, or fail j by Meta's error (providers.md §2.2).
 */
static void
call_failed(struct outq_job *j, const struct http_resp *r, const char *what)
{
	struct mg_job *mj = outq_job_data(j);
	struct messengerd *m = mj->m;
	struct mg_acct *a, *page;
	struct mg_err ge;
	char why[900], code[32], reason[300];

	if (r->status == 0) {
		snprintf(why, sizeof(why), "%s: %s", what, r->timed_out ?
		    "the Graph API timed out" : r->error ? r->error :
		    "transport error");
		outq_retry_code(j, r->timed_out ? "timeout" : "transport", why,
		    0);
		return;
	}
	mg_graph_error(r, &ge);
	if (ge.subcode > 0)
		snprintf(code, sizeof(code), "%lld/%lld", ge.code, ge.subcode);
	else
		snprintf(code, sizeof(code), "%lld", ge.code);
	snprintf(why, sizeof(why), "%.500s", ge.message[0] ? ge.message :
	    "no error message");
	switch (ge.code) {
	case 190:
		a = mg_acct_find(m, mj->account);
		page = mg_acct_page(m, a);
		mg_token_reason(&ge, reason, sizeof(reason));
		outq_fail(j, "190", INACTIVE_MSG);
		if (page != NULL)
			mg_token_dead(m, page, reason);
		return;
	case 4:		/* app request limit */
	case 613:	/* calls to this API exceeded the rate limit */
		snprintf(why, sizeof(why), "%s: throttled by Meta (%s)", what,
		    code);
		outq_retry_code(j, code, why, THROTTLE_MS);
		return;
	case 1:		/* unknown, temporary */
	case 2:		/* unexpected or temporary */
	case 1200:	/* temporary send message failure */
		snprintf(why, sizeof(why), "%s: Meta error %s (HTTP %ld)",
		    what, code, r->status);
		outq_retry_code(j, code, why, 0);
		return;
	case 10:
		if (ge.subcode == 2018278 || ge.subcode == 2534022) {
			log_info("msg=%s: refused: outside the window (%s)",
			    mj->msg, code);
			outq_fail(j, "window", WINDOW_MSG);
			return;
		}
		break;
	case 551:
		log_info("msg=%s: refused: the person is not available (%s)",
		    mj->msg, code);
		snprintf(why, sizeof(why), "this person isn't available right "
		    "now (%s)", code);
		outq_fail(j, "551", why);
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
		break;
	default:
		if (r->status >= 500) {
			snprintf(why, sizeof(why), "%s: Meta error %s (HTTP "
			    "%ld)", what, code, r->status);
			outq_retry_code(j, code, why, 0);
			return;
		}
		break;
	}
	log_info("msg=%s: %s refused by Meta: %s (HTTP %ld)", mj->msg, what,
	    code, r->status);
	/* the code routerd keys on is Meta's, the subcode in the reason */
	if (ge.subcode > 0) {
		snprintf(reason, sizeof(reason), " (%s)", code);
		snprintf(code, sizeof(code), "%lld", ge.code);
	} else
		reason[0] = '\0';
	if (mj->part == 1 && mj->mid1[0] != '\0') {
		char both[1100];

		snprintf(both, sizeof(both), "the attachment was sent, its "
		    "text was not: %.700s%s", why, reason);
		outq_fail(j, code, both);
		return;
	}
	{
		char full[1100];

		snprintf(full, sizeof(full), "%.800s%s", why, reason);
		outq_fail(j, code, full);
	}
}

static void
sent(const struct http_resp *r, void *arg)
{
	struct outq_job *j = arg;
	struct mg_job *mj = outq_job_data(j);
	json_t *root, *mid, *aid;
	json_error_t je;
	char pid[MG_PID_MAX + 1];

	if (r->status < 200 || r->status > 299) {
		call_failed(j, r, mj->part == 0 ? "send" : "send the text");
		return;
	}
	root = json_loadb(r->body, r->bodylen, 0, &je);
	mid = json_is_object(root) ? json_object_get(root, "message_id") : NULL;
	if (!json_is_string(mid) || json_string_length(mid) == 0 ||
	    json_string_length(mid) >= sizeof(mj->mid1) ||
	    strlen(json_string_value(mid)) != json_string_length(mid)) {
		log_warnx("msg=%s: HTTP %ld without a message id", mj->msg,
		    r->status);
		outq_fail(j, "provider", "the Send API's answer carried no "
		    "message_id");
		json_decref(root);
		return;
	}
	if (mj->part == 0) {
		snprintf(mj->mid1, sizeof(mj->mid1), "%s",
		    json_string_value(mid));
		aid = json_object_get(root, "attachment_id");
		if (mj->url != NULL && mj->att_id == NULL &&
		    json_is_string(aid) && json_string_length(aid) > 0 &&
		    json_string_length(aid) <= 256)
			reuse_put(mj->m, mj->account, mj->url,
			    json_string_value(aid));
		json_decref(root);
		if (mj->text != NULL) {
			mj->part = 1;
			send_part(j);
			return;
		}
		mg_pid(mj->mid1, pid);
		outq_ok(j, pid);
		return;
	}
	mg_pid(mj->mid1[0] ? mj->mid1 : json_string_value(mid), pid);
	json_decref(root);
	outq_ok(j, pid);
}

static void
uploaded(const struct http_resp *r, void *arg)
{
	struct outq_job *j = arg;
	struct mg_job *mj = outq_job_data(j);
	json_t *root, *id;
	json_error_t je;

	if (r->status < 200 || r->status > 299) {
		call_failed(j, r, "upload");
		return;
	}
	root = json_loadb(r->body, r->bodylen, 0, &je);
	id = json_is_object(root) ? json_object_get(root, "attachment_id") :
	    NULL;
	if (!json_is_string(id) || json_string_length(id) == 0 ||
	    json_string_length(id) > 256 ||
	    strlen(json_string_value(id)) != json_string_length(id)) {
		log_warnx("msg=%s: upload answered HTTP %ld without an "
		    "attachment_id", mj->msg, r->status);
		outq_fail(j, "provider", "the attachment upload's answer "
		    "carried no attachment_id");
		json_decref(root);
		return;
	}
	mj->att_id = str_dup(json_string_value(id));
	json_decref(root);
	log_debug("msg=%s: %s uploaded as attachment %s", mj->msg, mj->fname,
	    mj->att_id);
	mj->part = 0;
	send_part(j);
}

/* --- the calls --- */

/* The Page's token for j's account; NULL after failing j. */
static const char *
token_of(struct outq_job *j)
{
	struct mg_job *mj = outq_job_data(j);
	struct messengerd *m = mj->m;
	struct mg_acct *page = mg_acct_page(m, mg_acct_find(m, mj->account));

	if (page == NULL || page->token == NULL || !page->active) {
		outq_fail(j, "inactive", INACTIVE_MSG);
		return NULL;
	}
	return page->token;
}

static const char *
page_of(struct mg_job *mj)
{
	struct mg_acct *page = mg_acct_page(mj->m, mg_acct_find(mj->m,
	    mj->account));

	return page ? page->id : mj->account;
}

static void
upload(struct outq_job *j)
{
	struct mg_job *mj = outq_job_data(j);
	struct messengerd *m = mj->m;
	const char *hdrs[] = { "Accept: application/json", NULL };
	const char *tok;
	struct http_part parts[2];
	struct http_req rq;
	struct stat sb;
	char url[CALL_URL_MAX], path[64], why[512], *msg;
	long long up_ms;
	int fd;

	if ((tok = token_of(j)) == NULL)
		return;
	if ((fd = spool_open(m->e.d.home, mj->spool, mj->uid, &sb, why,
	    sizeof(why))) == -1) {
		log_warnx("msg=%s: spool %s refused: %s", mj->msg, mj->spool,
		    why);
		outq_fail(j, "file", SPOOL_REFUSED);
		return;
	}
	if ((long long)sb.st_size != mj->size) {
		log_warnx("msg=%s: spool %s changed after it was queued",
		    mj->msg, mj->spool);
		outq_fail(j, "file", "the file changed in the spool after it "
		    "was queued");
		close(fd);
		return;
	}
	snprintf(path, sizeof(path), "%s/message_attachments", page_of(mj));
	if (mg_url(m, path, NULL, tok, url, sizeof(url)) == -1 ||
	    asprintf(&msg, "{\"attachment\":{\"type\":\"%s\",\"payload\":"
	    "{\"is_reusable\":true}}}", mj->att_type) == -1) {
		close(fd);
		outq_fail(j, "invalid", "the upload's URL is too long");
		return;
	}
	memset(parts, 0, sizeof(parts));
	parts[0].name = "message";
	parts[0].value = msg;
	parts[1].name = "filedata";
	parts[1].fd = fd;
	parts[1].size = (long long)sb.st_size;
	parts[1].filename = mj->fname;
	parts[1].type = mj->mime;
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = url;
	rq.headers = hdrs;
	rq.parts = parts;
	rq.nparts = 2;
	up_ms = m->cf.http_timeout_ms + (long long)sb.st_size / 1000;
	rq.timeout_ms = (long)(up_ms < UPLOAD_MAX_MS ? up_ms : UPLOAD_MAX_MS);
	if (http_out_start(m->e.ho, &rq, uploaded, j) == -1) {
		close(fd);
		free(msg);
		sodium_memzero(url, sizeof(url));
		outq_retry_code(j, "transport", "upload: HTTP request could "
		    "not be started", 0);
		return;
	}
	close(fd);
	free(msg);
	outq_sending(j);	/* routerd hears "pending" */
	sodium_memzero(url, sizeof(url));
	log_debug("msg=%s: uploading %s (%lld bytes, %s)", mj->msg, mj->fname,
	    (long long)sb.st_size, mj->mime);
}

/* The body of the call for j's current part. */
static char *
body_of(struct mg_job *mj)
{
	json_t *root, *msg, *payload;
	const char *reused;
	char meta[MSGID_MAX + 16], *s;
	int last = mj->part == 1 || mj->text == NULL;

	root = json_pack("{s:{s:s}}", "recipient", "id", mj->to);
	if (mj->tag) {
		json_object_set_new(root, "messaging_type",
		    json_string("MESSAGE_TAG"));
		json_object_set_new(root, "tag", json_string("HUMAN_AGENT"));
	} else
		json_object_set_new(root, "messaging_type",
		    json_string("RESPONSE"));
	msg = json_object();
	if (mj->part == 0) {
		payload = json_object();
		reused = mj->url && !mj->att_id ? reuse_get(mj->m, mj->account,
		    mj->url) : NULL;
		if (mj->att_id != NULL)
			json_object_set_new(payload, "attachment_id",
			    json_string(mj->att_id));
		else if (reused != NULL)
			json_object_set_new(payload, "attachment_id",
			    json_string(reused));
		else {
			json_object_set_new(payload, "url",
			    json_string(mj->url));
			json_object_set_new(payload, "is_reusable",
			    json_true());
		}
		json_object_set_new(msg, "attachment", json_pack("{s:s, s:o}",
		    "type", mj->att_type, "payload", payload));
	} else
		json_object_set(msg, "text", mj->text);
	if (last && mj->qr != NULL)
		json_object_set(msg, "quick_replies", mj->qr);
	snprintf(meta, sizeof(meta), "%s%s", MG_METADATA, mj->msg);
	json_object_set_new(msg, "metadata", json_string(meta));
	json_object_set_new(root, "message", msg);
	/* the reply goes with the first message */
	if (mj->reply_mid != NULL && (mj->part == 0 || mj->att_type[0] == '\0'))
		json_object_set_new(root, "reply_to", json_pack("{s:s}", "mid",
		    mj->reply_mid));
	if ((s = json_dumps(root, JSON_COMPACT)) == NULL)
		fatalx("out of memory");
	json_decref(root);
	return s;
}

static void
send_part(struct outq_job *j)
{
	struct mg_job *mj = outq_job_data(j);
	struct messengerd *m = mj->m;
	const char *hdrs[] = { "Content-Type: application/json",
	    "Accept: application/json", NULL };
	const char *tok;
	struct http_req rq;
	char url[CALL_URL_MAX], path[64], *body;
	int r;

	if ((tok = token_of(j)) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/messages", page_of(mj));
	if (mg_url(m, path, NULL, tok, url, sizeof(url)) == -1) {
		outq_fail(j, "invalid", "the Send API's URL is too long");
		return;
	}
	body = body_of(mj);
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = url;
	rq.headers = hdrs;
	rq.body = body;
	rq.bodylen = strlen(body);
	rq.timeout_ms = (long)m->cf.http_timeout_ms;
	r = http_out_start(m->e.ho, &rq, sent, j);
	sodium_memzero(url, sizeof(url));
	sodium_memzero(body, rq.bodylen);
	free(body);
	if (r == -1) {
		outq_retry_code(j, "transport", "send: HTTP request could not "
		    "be started", 0);
		return;
	}
	outq_sending(j);	/* routerd hears "pending" (once an attempt) */
	log_debug("msg=%s: posting %s to %s on %s (attempt %d)", mj->msg,
	    mj->part == 0 ? mj->att_type : "text", mj->to, mj->account,
	    outq_job_attempts(j) + 1);
}

/* outq's start: the job is counted in flight. */
static void
start(struct outq_job *j, void *arg)
{
	struct mg_job *mj = outq_job_data(j);

	if (mj->spool[0] != '\0' && mj->att_id == NULL)
		upload(j);
	else {
		mj->part = mj->att_type[0] && mj->mid1[0] == '\0' ? 0 : 1;
		send_part(j);
	}
}

static void
on_idle(void *arg)
{
	struct messengerd *m = arg;

	edge_drain_check(&m->e);
}

/* --- requests from routerd --- */

/* Meta's attachment type for a MIME type. */
static const char *
att_type(const char *mime)
{
	if (strncmp(mime, "image/", 6) == 0)
		return "image";
	if (strncmp(mime, "audio/", 6) == 0)
		return "audio";
	if (strncmp(mime, "video/", 6) == 0)
		return "video";
	return "file";
}

/* quick_replies [{title, payload}] (or titles alone) into mj; -1 why. */
static int
quick_replies(struct mg_job *mj, const msgpack_object *o, char *why,
    size_t whysz)
{
	const msgpack_object *e;
	const char *t, *p;
	size_t tl, pl, i;
	json_t *list;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0 ||
	    o->via.array.size > QR_MAX) {
		snprintf(why, whysz, "quick_replies: 1 to %d {title, payload}",
		    QR_MAX);
		return -1;
	}
	list = json_array();
	for (i = 0; i < o->via.array.size; i++) {
		e = &o->via.array.ptr[i];
		if (e->type == MSGPACK_OBJECT_STR) {
			t = p = e->via.str.ptr;
			tl = pl = e->via.str.size;
		} else if (e->type != MSGPACK_OBJECT_MAP ||
		    !mp_str(e, "title", &t, &tl)) {
			t = NULL;
			tl = pl = 0;
			p = NULL;
		} else if (!mp_str(e, "payload", &p, &pl)) {
			p = t;
			pl = tl;
		}
		if (t == NULL || tl == 0 || !valid_utf8(t, tl) ||
		    memchr(t, '\0', tl) != NULL ||
		    valid_utf8_chars(t, tl) > QR_TITLE_CHARS || pl == 0 ||
		    pl > QR_PAYLOAD_MAX || !valid_utf8(p, pl) ||
		    memchr(p, '\0', pl) != NULL) {
			snprintf(why, whysz, "quick reply %zu: a title of 1 to "
			    "%d characters and a payload of 1 to %d bytes",
			    i + 1, QR_TITLE_CHARS, QR_PAYLOAD_MAX);
			json_decref(list);
			return -1;
		}
		json_array_append_new(list, json_pack("{s:s, s:s%, s:s%}",
		    "content_type", "text", "title", t, tl, "payload", p, pl));
	}
	mj->qr = list;
	return 0;
}

/* The attachment of an out frame (media by URL, or a file) into mj. */
static int
attachment(struct mg_job *mj, const msgpack_object *media,
    const msgpack_object *file, char *why, size_t whysz)
{
	const msgpack_object *e;
	const char *u, *mi;
	char url[URL_MAX + 1], mime[128], fname[256];
	int64_t uid, fsize;
	size_t ul, ml;

	if (file != NULL) {
		if (file->type != MSGPACK_OBJECT_MAP ||
		    !mp_strcpy(file, "spool", mj->spool, sizeof(mj->spool)) ||
		    !spool_name_ok(mj->spool) || !mp_int(file, "uid", &uid) ||
		    uid < 0 || uid > UINT32_MAX || !mp_int(file, "size",
		    &fsize) || fsize < 0) {
			mj->spool[0] = '\0';
			snprintf(why, whysz, "file needs spool (a name in the "
			    "spool), uid and size");
			return -1;
		}
		mj->uid = (uid_t)uid;
		mj->size = fsize;
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
		if (strcmp(mj->channel, "instagram") == 0 &&
		    strncmp(mime, "image/", 6) == 0) {
			snprintf(why, whysz, "Instagram takes images by URL "
			    "only (msg send --media-url)");
			return -1;
		}
		if (media_check_type(mj->channel, mime, why, whysz) == -1 ||
		    media_check_size(mj->channel, mime, fsize, why,
		    whysz) == -1)
			return -1;
		mj->fname = str_dup(fname);
		mj->mime = str_dup(mime);
		snprintf(mj->att_type, sizeof(mj->att_type), "%s",
		    att_type(mime));
		return 0;
	}
	if (media->type != MSGPACK_OBJECT_ARRAY || media->via.array.size != 1) {
		snprintf(why, whysz, "%s sends one attachment per message",
		    mj->channel);
		return -1;
	}
	e = &media->via.array.ptr[0];
	if (e->type != MSGPACK_OBJECT_MAP || !mp_str(e, "url", &u, &ul) ||
	    ul < 8 || ul > URL_MAX || memchr(u, '\0', ul) != NULL ||
	    !valid_utf8(u, ul) || (strncmp(u, "https://", 8) != 0 &&
	    strncmp(u, "http://", 7) != 0)) {
		snprintf(why, whysz, "media needs an http(s) url");
		return -1;
	}
	snprintf(url, sizeof(url), "%.*s", (int)ul, u);
	str_url_filename(url, fname, sizeof(fname));
	if (mp_str(e, "mime", &mi, &ml) && ml > 0 && ml < sizeof(mime))
		snprintf(mime, sizeof(mime), "%.*s", (int)ml, mi);
	else {
		mi = media_mime(fname, NULL, 0);
		snprintf(mime, sizeof(mime), "%s", mi ? mi :
		    "application/octet-stream");
	}
	if (media_check_type(mj->channel, mime, why, whysz) == -1)
		return -1;
	mj->url = str_dup(url);
	snprintf(mj->att_type, sizeof(mj->att_type), "%s", att_type(mime));
	return 0;
}

void
mg_send_frame(struct messengerd *m, struct bus_conn *c,
    const msgpack_object *f)
{
	const msgpack_object *media, *file, *qr, *e;
	char msg[MSGID_MAX], from[MG_ID_MAX + 1], to[MG_ID_MAX + 1],
	    channel[16] = "", tag[32] = "", key[MG_ID_MAX + 8], why[300],
	    rpid[MG_PID_MAX + 1], rmid[REPLY_MAX + 1] = "";
	const char *text;
	size_t tlen, maxc;
	struct mg_acct *a, *page;
	struct mg_job *mj;
	int64_t id;

	if (!mp_int(f, "id", &id)) {
		log_warnx("%s: out request without id ignored", bus_name(c));
		return;
	}
	if (!mp_strcpy(f, "msg", msg, sizeof(msg)) || msg[0] == '\0' ||
	    !mp_strcpy(f, "from", from, sizeof(from)) ||
	    !mg_is_id(from, strlen(from)) ||
	    !mp_strcpy(f, "to", to, sizeof(to)) ||
	    !mg_is_id(to, strlen(to)) || !mp_str(f, "text", &text, &tlen)) {
		bus_answer_err(c, id, "invalid", "out needs msg, from (a Page "
		    "or Instagram account id), to (the customer's id) and "
		    "text strings");
		return;
	}
	a = mg_acct_find(m, from);
	if (mp_get(f, "channel") != NULL &&
	    !mp_strcpy(f, "channel", channel, sizeof(channel)))
		channel[0] = '?';
	if (channel[0] == '\0')
		snprintf(channel, sizeof(channel), "%s", a && a->ig ?
		    "instagram" : "messenger");
	if (strcmp(channel, "messenger") != 0 &&
	    strcmp(channel, "instagram") != 0) {
		bus_answer_err(c, id, "invalid", "messengerd sends channels "
		    "messenger and instagram only");
		return;
	}
	if (a == NULL || !a->listed || a->ig != (strcmp(channel,
	    "instagram") == 0)) {
		snprintf(why, sizeof(why), "%s is not a%s of messenger_pages",
		    from, strcmp(channel, "instagram") == 0 ?
		    "n Instagram account" : " Page");
		bus_answer_err(c, id, "config", why);
		return;
	}
	page = mg_acct_page(m, a);
	if (page == NULL || page->token == NULL || !page->active) {
		log_debug("msg=%s: %s is inactive, refused", msg, from);
		bus_answer_err(c, id, "inactive", INACTIVE_MSG);
		return;
	}
	maxc = strcmp(channel, "instagram") == 0 ? IG_TEXT_CHARS :
	    MG_TEXT_CHARS;
	if (tlen > 0 && (memchr(text, '\0', tlen) != NULL ||
	    !valid_utf8(text, tlen) || valid_utf8_chars(text, tlen) > maxc)) {
		snprintf(why, sizeof(why), "text: at most %zu characters of "
		    "UTF-8 on %s", maxc, channel);
		bus_answer_err(c, id, "invalid", why);
		return;
	}
	if ((mj = calloc(1, sizeof(*mj))) == NULL)
		fatalx("out of memory");
	mj->m = m;
	snprintf(mj->channel, sizeof(mj->channel), "%s", channel);
	snprintf(mj->account, sizeof(mj->account), "%s", from);
	snprintf(mj->to, sizeof(mj->to), "%s", to);
	snprintf(mj->msg, sizeof(mj->msg), "%s", msg);
	if (tlen > 0 && (mj->text = json_stringn(text, tlen)) == NULL)
		fatalx("out of memory");
	if ((media = mp_get(f, "media")) != NULL &&
	    (media->type == MSGPACK_OBJECT_NIL ||
	    (media->type == MSGPACK_OBJECT_ARRAY && media->via.array.size == 0)))
		media = NULL;
	if ((file = mp_get(f, "file")) != NULL &&
	    file->type == MSGPACK_OBJECT_NIL)
		file = NULL;
	if (media != NULL && file != NULL) {
		snprintf(why, sizeof(why), "one of media and file at most");
		goto invalid;
	}
	if (mp_get(f, "template") != NULL &&
	    mp_get(f, "template")->type != MSGPACK_OBJECT_NIL) {
		snprintf(why, sizeof(why), "templates are WhatsApp's");
		goto invalid;
	}
	if ((media != NULL || file != NULL) &&
	    attachment(mj, media, file, why, sizeof(why)) == -1)
		goto invalid;
	if (mj->text == NULL && mj->att_type[0] == '\0') {
		snprintf(why, sizeof(why), "nothing to send: no text, media or "
		    "file");
		goto invalid;
	}
	if ((qr = mp_get(f, "quick_replies")) != NULL &&
	    qr->type != MSGPACK_OBJECT_NIL &&
	    quick_replies(mj, qr, why, sizeof(why)) == -1)
		goto invalid;
	if ((e = mp_get(f, "tag")) != NULL && e->type != MSGPACK_OBJECT_NIL) {
		if (!mp_strcpy(f, "tag", tag, sizeof(tag)) ||
		    strcmp(tag, "HUMAN_AGENT") != 0) {
			snprintf(why, sizeof(why), "tag: HUMAN_AGENT only");
			goto invalid;
		}
		mj->tag = 1;
	}
	/* the mid answered: reply_mid (the whole of a folded pid), or a
	 * reply_to pid that is a mid itself */
	if ((e = mp_get(f, "reply_mid")) != NULL &&
	    e->type != MSGPACK_OBJECT_NIL && (!mp_strcpy(f, "reply_mid", rmid,
	    sizeof(rmid)) || strpbrk(rmid, "\r\n") != NULL ||
	    !valid_utf8(rmid, strlen(rmid)))) {
		snprintf(why, sizeof(why), "reply_mid must be a mid");
		goto invalid;
	}
	if (rmid[0] == '\0' && (e = mp_get(f, "reply_to")) != NULL &&
	    e->type != MSGPACK_OBJECT_NIL) {
		if (!mp_strcpy(f, "reply_to", rpid, sizeof(rpid)) ||
		    rpid[0] == '\0' || !valid_utf8(rpid, strlen(rpid))) {
			snprintf(why, sizeof(why), "reply_to must be a pid");
			goto invalid;
		}
		if (rpid[0] == '~')
			log_info("msg=%s: the message answered has a folded "
			    "mid and no reply_mid; sent without reply context",
			    msg);
		else
			snprintf(rmid, sizeof(rmid), "%s", rpid);
	}
	if (rmid[0] != '\0')
		mj->reply_mid = str_dup(rmid);
	snprintf(key, sizeof(key), "%s%s", from, strcmp(mj->att_type,
	    "audio") == 0 || strcmp(mj->att_type, "video") == 0 ? "/av" : "");
	outq_submit(m->e.q, msg, key, to, mj, c, id);
	return;
invalid:
	log_info("msg=%s: invalid out request: %s", msg, why);
	bus_answer_err(c, id, "invalid", why);
	job_data_free(mj);
}

/* A key's rate: audio and video, Instagram accounts, Pages. */
static double
key_rate(const char *key, void *arg)
{
	struct messengerd *m = arg;
	struct mg_acct *a;
	size_t n = strlen(key);

	if (n > 3 && strcmp(key + n - 3, "/av") == 0)
		return (double)m->cf.av_rate;
	if ((a = mg_acct_find(m, key)) != NULL && a->ig)
		return (double)m->cf.ig_rate;
	return 0;
}

static void
limits(const struct messengerd *m, struct outq_limits *l)
{
	memset(l, 0, sizeof(*l));
	/* smooth, not bunched, as whatsappd paces: a bucket of 50 ms of
	 * tokens, and a window of 1000 + 50 ms */
	l->rate = (double)m->cf.rate;
	l->burst = m->cf.rate >= 40 ? (double)(m->cf.rate / 20) : 1.0;
	l->window = 1;
	l->window_guard_ms = 50;
	l->max_inflight = (size_t)m->cf.max_inflight;
}

/* outq's progress: pending and retrying, told to routerd */
static void
on_progress(const struct outq_job *j, const struct outq_progress *p,
    void *arg)
{
	struct messengerd *m = arg;
	struct mg_job *mj = outq_job_data(j);

	edge_progress(&m->e, mj->channel, outq_job_msg(j), p);
}

int
mg_send_start(struct messengerd *m, char *err, size_t errsz)
{
	static const struct outq_ops ops = {
		.start = start, .free_data = job_data_free, .idle = on_idle,
		.key_rate = key_rate, .progress = on_progress,
	};
	struct outq_limits l;

	limits(m, &l);
	if ((m->e.q = outq_new(m->e.d.base, &l, &ops, m)) == NULL) {
		snprintf(err, errsz, "cannot set up the send queue");
		return -1;
	}
	return 0;
}

void
mg_send_reconf(struct messengerd *m)
{
	struct outq_limits l;

	if (m->e.q == NULL)
		return;
	limits(m, &l);
	outq_set_limits(m->e.q, &l);
	outq_kick(m->e.q);
}

void
mg_send_fail_account(struct messengerd *m, const char *id, const char *why)
{
	char key[MG_ID_MAX + 8];
	size_t n;

	if (m->e.q == NULL)
		return;
	n = outq_fail_key(m->e.q, id, "inactive", INACTIVE_MSG);
	snprintf(key, sizeof(key), "%s/av", id);
	n += outq_fail_key(m->e.q, key, "inactive", INACTIVE_MSG);
	if (n > 0)
		log_warnx("%s: %zu queued message%s failed: token inactive "
		    "(%s)", id, n, n == 1 ? "" : "s", why);
}

void
mg_send_free(struct messengerd *m)
{
	while (m->rfirst != NULL)
		reuse_free(m, m->rfirst);
}
