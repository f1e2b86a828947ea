/*
 * msg send — queue outbound messages with routerd.
 *
 * With TEXT on the command line it sends one message.  Without, it is a
 * filter: one JSON object per input line ({"conv","text"} or
 * {"to","from","text"}, optional "key"), one result line per input line in
 * input order.  Requests are pipelined (up to SEND_WINDOW in flight) and
 * stdin and the socket are polled together, so a slow producer
 * ("msg tail -f | ... | msg send") still gets each answer at once.
 * routerd answers only after "queued" is committed, so a printed result is
 * a message that will be sent; every request carries a client key, so one
 * whose answer a routerd restart lost is sent again and queued once.
 *
 * --file PATH and --media-url URL attach a file: msg checks the file (a
 * regular, readable file), names its type from its first bytes or its
 * extension (lib/media) and sends its name, type and size; routerd decides
 * by the campaign's file policy and the channel's limits.  A file is first
 * copied into $home/spool/ (written, synced, then renamed into place, as
 * Postfix's postdrop does), since the channel daemon that uploads it runs
 * as another user; a refused send removes the copy again.
 *
 * --template NAME --lang CODE [--param TEXT]... [--header-param TEXT]
 * [--button PAYLOAD]... sends an approved WhatsApp template; --reply-to MSG
 * quotes the customer's message MSG.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>

#include "conf.h"
#include "daemon.h"
#include "media.h"
#include "mp.h"
#include "msg.h"
#include "proto.h"
#include "rec.h"
#include "ulid.h"
#include "valid.h"

#define SEND_WINDOW	256		/* requests in flight (a power of 2) */
#define LINE_MAX_IN	(1024 * 1024)
#define MEDIA_MAX	10		/* --media-url, as Twilio takes */
#define TPL_BUTTONS_MAX	10		/* --button */

struct sreq {
	const char	*conv;
	const char	*to;		/* E.164, channel prefix removed */
	const char	*from;
	const char	*channel;
	const char	*text;
	size_t		 textlen;
	const char	*key;
	/* --file */
	const char	*fname;		/* its base name */
	const char	*fmime;
	long long	 fsize;
	const char	*fspool;	/* its copy in the spool: "f_..." */
	/* --media-url */
	const char	*media[MEDIA_MAX];
	const char	*mmime[MEDIA_MAX];
	int		 nmedia;
	/* --template ... or "template" on a line: {name, lang, ...} */
	json_t		*tpl;
	const char	*reply_to;
};

static void spool_drop(const struct sreq *);

static int
utf8_ok(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);

	json_decref(j);
	return j != NULL;
}

/*
 * Check a request and split "sms:+E164".  chanbuf holds the channel name.
 * 0, or -1 with *why.
 */
static int
check_req(struct sreq *q, char *chanbuf, size_t chansz, char *why,
    size_t whysz)
{
	const char *colon;
	size_t n;

	if (q->tpl != NULL && (q->text != NULL || q->fname != NULL ||
	    q->nmedia > 0)) {
		snprintf(why, whysz, "a template goes alone: no text, file or "
		    "media with it");
		return -1;
	}
	if (q->text == NULL && q->fname == NULL && q->nmedia == 0 &&
	    q->tpl == NULL) {
		snprintf(why, whysz, "no text");
		return -1;
	}
	if (q->text == NULL) {
		q->text = "";
		q->textlen = 0;
	} else if (q->textlen == 0 && q->fname == NULL && q->nmedia == 0) {
		snprintf(why, whysz, "empty text");
		return -1;
	}
	if (q->textlen > PROTO_TEXT_MAX) {
		snprintf(why, whysz, "text too long (%zu bytes, at most %d)",
		    q->textlen, PROTO_TEXT_MAX);
		return -1;
	}
	if (!utf8_ok(q->text, q->textlen)) {
		snprintf(why, whysz, "text is not UTF-8");
		return -1;
	}
	if (q->conv != NULL && q->to != NULL) {
		snprintf(why, whysz, "give either a conversation or to/from, "
		    "not both");
		return -1;
	}
	if (q->conv != NULL) {
		if (q->conv[0] == '\0') {
			snprintf(why, whysz, "empty conversation id");
			return -1;
		}
		return 0;
	}
	if (q->to == NULL) {
		snprintf(why, whysz, "no conversation (conv) and no recipient "
		    "(to)");
		return -1;
	}
	if ((colon = strchr(q->to, ':')) != NULL) {
		n = (size_t)(colon - q->to);
		if (n + 1 > chansz)
			n = chansz - 1;
		memcpy(chanbuf, q->to, n);
		chanbuf[n] = '\0';
		q->to = colon + 1;
	} else if (q->channel != NULL)
		snprintf(chanbuf, chansz, "%s", q->channel);
	else {
		snprintf(why, whysz, "recipient %.64s needs a channel prefix, "
		    "e.g. sms:+15551234567", q->to);
		return -1;
	}
	if (strcmp(chanbuf, "messenger") == 0 ||
	    strcmp(chanbuf, "instagram") == 0) {
		/* the customer's page-scoped id and our Page or account:
		 * only a customer who wrote can be answered (routerd says) */
		q->channel = chanbuf;
		if (!valid_psid(q->to)) {
			snprintf(why, whysz, "recipient %.64s is not a %s id "
			    "(1 to 32 digits)", q->to, strcmp(chanbuf,
			    "messenger") == 0 ? "page-scoped (PSID)" :
			    "Instagram-scoped (IGSID)");
			return -1;
		}
		if (q->from == NULL || !valid_psid(q->from)) {
			snprintf(why, whysz, "sender %.64s is not a %s id (1 "
			    "to 32 digits)", q->from ? q->from : "(none)",
			    strcmp(chanbuf, "messenger") == 0 ? "Page" :
			    "Instagram account");
			return -1;
		}
		return 0;
	}
	if (strcmp(chanbuf, "sms") != 0 && strcmp(chanbuf, "whatsapp") != 0) {
		snprintf(why, whysz, "channel \"%.32s\" is not sms, whatsapp, "
		    "messenger or instagram", chanbuf);
		return -1;
	}
	q->channel = chanbuf;
	if (!valid_e164(q->to)) {
		snprintf(why, whysz, "recipient %.64s is not an E.164 number "
		    "(+ and 8 to 15 digits)", q->to);
		return -1;
	}
	if (q->from == NULL) {
		snprintf(why, whysz, "no sender (from) for %.64s", q->to);
		return -1;
	}
	if (strcmp(chanbuf, "whatsapp") == 0) {
		size_t i;

		for (i = 0; q->from[i] >= '0' && q->from[i] <= '9'; i++)
			;
		if (i == 0 || i > 32 || q->from[i] != '\0') {
			snprintf(why, whysz, "sender %.64s is not a WhatsApp "
			    "phone-number id (1 to 32 digits)", q->from);
			return -1;
		}
	} else if (!valid_e164(q->from)) {
		snprintf(why, whysz, "sender %.64s is not an E.164 number "
		    "(+ and 8 to 15 digits)", q->from);
		return -1;
	}
	return 0;
}

static void
pack_req(struct fbuf *fb, int64_t id, const struct sreq *q)
{
	uint32_t n = 3 + (q->key != NULL) + (q->conv != NULL ? 1 : 3) +
	    (q->fname != NULL) + (q->nmedia > 0) + (q->tpl != NULL) +
	    (q->reply_to != NULL);
	int i;

	fbuf_begin(fb, n);
	mp_kv_str(&fb->pk, "t", "send");
	mp_kv_int(&fb->pk, "id", id);
	mp_kv_strn(&fb->pk, "text", q->text, q->textlen);
	if (q->fname != NULL) {
		mp_pack_cstr(&fb->pk, "file");
		msgpack_pack_map(&fb->pk, 4 + (q->fspool != NULL));
		mp_kv_str(&fb->pk, "name", q->fname);
		mp_kv_str(&fb->pk, "mime", q->fmime);
		mp_kv_int(&fb->pk, "size", q->fsize);
		mp_kv_str(&fb->pk, "source", "local");
		if (q->fspool != NULL)
			mp_kv_str(&fb->pk, "spool", q->fspool);
	}
	if (q->tpl != NULL) {
		mp_pack_cstr(&fb->pk, "template");
		rec_pack_json(&fb->pk, q->tpl);
	}
	if (q->reply_to != NULL)
		mp_kv_str(&fb->pk, "reply_to", q->reply_to);
	if (q->nmedia > 0) {
		mp_pack_cstr(&fb->pk, "media");
		msgpack_pack_array(&fb->pk, (uint32_t)q->nmedia);
		for (i = 0; i < q->nmedia; i++) {
			msgpack_pack_map(&fb->pk, 1 + (q->mmime[i] != NULL));
			mp_kv_str(&fb->pk, "url", q->media[i]);
			if (q->mmime[i] != NULL)
				mp_kv_str(&fb->pk, "mime", q->mmime[i]);
		}
	}
	if (q->conv != NULL)
		mp_kv_str(&fb->pk, "conv", q->conv);
	else {
		mp_kv_str(&fb->pk, "to", q->to);
		mp_kv_str(&fb->pk, "from", q->from);
		mp_kv_str(&fb->pk, "channel", q->channel);
	}
	if (q->key != NULL)
		mp_kv_str(&fb->pk, "key", q->key);
}

/*
 * The result line for an answer, or NULL with why (a refusal or a broken
 * answer).  malloc'd.
 */
static char *
result_line(const msgpack_object *ans, char *why, size_t whysz)
{
	char conv[64], id[64];
	json_t *j;
	char *s;

	if (msg_answer_err(ans, why, whysz))
		return NULL;
	if (!mp_strcpy(ans, "msg", id, sizeof(id))) {
		snprintf(why, whysz, "routerd's answer names no message");
		return NULL;
	}
	/* the message is queued even if the answer forgot its conversation */
	j = json_pack("{s:s?, s:s, s:s}", "conv",
	    mp_strcpy(ans, "conv", conv, sizeof(conv)) ? conv : NULL, "id", id,
	    "status", "queued");
	if (j == NULL) {
		snprintf(why, whysz, "routerd's answer is not UTF-8");
		return NULL;
	}
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (s == NULL)
		snprintf(why, whysz, "out of memory");
	return s;
}

static int
send_one(struct sreq *q)
{
	struct busc c;
	struct fbuf fb;
	const msgpack_object *ans;
	char chan[32], why[512], *line;
	int64_t id;

	if (check_req(q, chan, sizeof(chan), why, sizeof(why)) == -1)
		msg_die(MSG_EX_REFUSED, "%s", why);
	msg_connect_or_die(&c, "routerd");
	fbuf_init(&fb);
	id = busc_next_id(&c);
	pack_req(&fb, id, q);
	/* not msg_call: a refused file leaves the spool again */
	if (busc_call(&c, &fb, id, &ans) == -1)
		msg_die(MSG_EX_UNREACH, "routerd: %s", c.err);
	if ((line = result_line(ans, why, sizeof(why))) == NULL) {
		spool_drop(q);
		msg_die(MSG_EX_REFUSED, "%s", why);
	}
	msg_out_line(line);
	free(line);
	fbuf_free(&fb);
	busc_close(&c);
	return MSG_EX_OK;
}

/*
 * The filter.  Each input line becomes an entry in a ring of SEND_WINDOW;
 * an entry moves READY (its request packed, not on the wire) -> SENT (on
 * the wire, its answer awaited) -> DONE or FAILED, and the ring is printed
 * from its head in input order.  Every request carries a key (the line's
 * own, or "msg:<run>:<line>"), and routerd stores the key with the message
 * in the same commit, so a request whose answer was lost with the
 * connection goes back to READY and is sent again on the next one: routerd
 * answers a key it already has with the message queued the first time, and
 * every line is queued exactly once.  The loop does what can be done at
 * once (take buffered lines while there is room, send what is READY, take
 * the answers already there, print) and waits only when nothing can:
 * on stdin when there is room and no buffered line, on the socket when
 * requests are in flight; one of the two always holds then.
 */
enum ent_state {
	ENT_READY,		/* packed, not on the wire (yet, or again) */
	ENT_SENT,		/* on the wire: its answer awaited */
	ENT_DONE,		/* queued: out is the result line */
	ENT_FAILED		/* refused or not valid: out is the reason */
};

struct ent {
	long		 line;
	enum ent_state	 state;
	int		 tries;		/* times it went on the wire */
	char		*req;		/* the whole frame, until answered */
	size_t		 reqlen;
	char		 key[64];	/* for messages (a long key is cut) */
	char		*out;		/* result line, or the reason */
};

#define SEND_TRIES	5		/* a request lost with 5 connections fails */
#define HELD_MAX	(8 * 1024 * 1024)	/* request bytes kept for resending */

struct filter {
	struct busc	 c;
	struct fbuf	 fb;
	struct ent	 ring[SEND_WINDOW];
	uint64_t	 head, tail;	/* entries [head, tail) */
	int64_t		 idbase;	/* request id of entry 0 */
	size_t		 nready, nsent;
	size_t		 held;		/* bytes of the frames kept */
	int		 failed;	/* a line was refused: exit 1 */
	int		 lost;		/* a line's fate is unknown: exit 3 */
	long long	 down_since;	/* ms: connection lost, not yet back */
	long		 pause;		/* ms before the next reconnection */
	char		 run[32];	/* "msg:<ULID>", for keys of our own */
	const struct sreq *dflt;	/* defaults from the command line */
	/* input */
	char		*in;
	size_t		 inlen, incap;
	int		 eof, skipping;
	long		 lineno;
};

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static struct ent *
ent_at(struct filter *fl, uint64_t i)
{
	return &fl->ring[i % SEND_WINDOW];
}

static struct ent *
ent_new(struct filter *fl)
{
	struct ent *e = ent_at(fl, fl->tail);

	fl->tail++;
	memset(e, 0, sizeof(*e));
	e->line = fl->lineno;
	e->state = ENT_FAILED;		/* until a request is packed */
	return e;
}

/* The frame goes: the entry's answer is in (or it will never be sent). */
static void
ent_drop_req(struct filter *fl, struct ent *e)
{
	fl->held -= e->reqlen;
	free(e->req);
	e->req = NULL;
	e->reqlen = 0;
}

static void
ent_fail(struct filter *fl, struct ent *e, const char *why)
{
	if (e->state == ENT_READY)
		fl->nready--;
	else if (e->state == ENT_SENT)
		fl->nsent--;
	ent_drop_req(fl, e);
	e->state = ENT_FAILED;
	free(e->out);
	e->out = strdup(why);
}

/* Room for one more line: a free slot, and the frames kept under bound. */
static int
room(const struct filter *fl)
{
	return fl->tail - fl->head < SEND_WINDOW &&
	    (fl->held < HELD_MAX || fl->tail == fl->head);
}

/* Print finished entries from the head, in input order. */
static void
print_done(struct filter *fl)
{
	struct ent *e;

	while (fl->head < fl->tail) {
		e = ent_at(fl, fl->head);
		if (e->state == ENT_READY || e->state == ENT_SENT)
			break;
		if (e->state == ENT_DONE)
			msg_out_line(e->out);
		else {
			msg_err("line %ld: %s", e->line,
			    e->out ? e->out : "out of memory");
			fl->failed = 1;
		}
		free(e->out);
		e->out = NULL;
		fl->head++;
	}
}

/*
 * Stop for good (routerd is gone for longer than MSG_TIMEOUT_MS): every
 * line not known to be queued is named on stderr, then exit 3.
 */
static void
give_up(struct filter *fl, const char *why)
{
	struct ent *e;
	uint64_t i;

	for (i = fl->head; i < fl->tail; i++) {
		e = ent_at(fl, i);
		if (e->state == ENT_READY)
			ent_fail(fl, e, "not sent: routerd is unreachable");
		else if (e->state == ENT_SENT) {
			char r[256];

			snprintf(r, sizeof(r), "routerd did not answer; it may "
			    "or may not be queued (key %s)", e->key);
			ent_fail(fl, e, r);
		}
	}
	print_done(fl);
	if (!fl->eof || fl->inlen > 0)
		msg_err("lines after %ld were not read", fl->lineno);
	msg_out_flush();
	msg_die(MSG_EX_UNREACH, "routerd: %s", why);
}

/*
 * The connection is gone: requests in flight go back to READY, to be sent
 * again with the same key; one lost SEND_TRIES times fails.
 */
static void
conn_lost(struct filter *fl)
{
	struct ent *e;
	uint64_t i;
	char why[256];

	if (fl->c.fd == -1)
		return;
	msg_err("routerd: %s; reconnecting", fl->c.err);
	busc_close(&fl->c);
	if (fl->down_since == 0)
		fl->down_since = daemon_mono_ms();
	for (i = fl->head; i < fl->tail; i++) {
		e = ent_at(fl, i);
		if (e->state != ENT_SENT)
			continue;
		if (e->tries >= SEND_TRIES) {
			snprintf(why, sizeof(why), "routerd went away %d times "
			    "before answering; it may or may not be queued "
			    "(key %s)", e->tries, e->key);
			ent_fail(fl, e, why);
			fl->lost = 1;
			continue;
		}
		e->state = ENT_READY;
		fl->nsent--;
		fl->nready++;
	}
}

/*
 * Be connected.  After a loss, wait with backoff between attempts; give
 * up when routerd has been gone for MSG_TIMEOUT_MS.
 */
static void
ensure_conn(struct filter *fl)
{
	const char *why = "connection lost";

	while (fl->c.fd == -1) {
		if (fl->down_since != 0) {
			if (daemon_mono_ms() - fl->down_since >= MSG_TIMEOUT_MS)
				give_up(fl, why);
			pause_ms(fl->pause);
			if (fl->pause < 5000)
				fl->pause *= 2;
		}
		if (msg_connect(&fl->c, "routerd", MSG_TIMEOUT_MS, &why) == 0)
			return;
		if (fl->down_since == 0)
			fl->down_since = daemon_mono_ms();
	}
}

/* Put every READY entry on the wire, in order, reconnecting as needed. */
static void
send_ready(struct filter *fl)
{
	struct ent *e;
	uint64_t i;

	while (fl->nready > 0) {
		ensure_conn(fl);
		for (i = fl->head; i < fl->tail && fl->c.fd != -1; i++) {
			e = ent_at(fl, i);
			if (e->state != ENT_READY)
				continue;
			fl->fb.sb.size = 0;
			msgpack_sbuffer_write(&fl->fb.sb, e->req, e->reqlen);
			if (busc_send(&fl->c, &fl->fb) == -1) {
				/* a frame not out whole was not taken */
				conn_lost(fl);
				break;
			}
			e->state = ENT_SENT;
			e->tries++;
			fl->nready--;
			fl->nsent++;
		}
	}
}

/* One input line: a READY entry (its frame packed) or a FAILED one. */
static void
take_line(struct filter *fl, const char *line, size_t len)
{
	struct ent *e = ent_new(fl);
	struct sreq q;
	json_error_t jerr;
	json_t *j = NULL, *t;
	char chan[32], why[512];
	const char *bad = NULL;
	int isbad = 0;

	memset(&q, 0, sizeof(q));
	if ((j = json_loadb(line, len, 0, &jerr)) == NULL) {
		snprintf(why, sizeof(why), "not JSON: %s", jerr.text);
		ent_fail(fl, e, why);
		return;
	}
	if (!json_is_object(j)) {
		ent_fail(fl, e, "not a JSON object");
		goto done;
	}
	if ((q.conv = rec_str_typed(j, "conv", &isbad)), isbad)
		bad = "conv";
	else if ((q.to = rec_str_typed(j, "to", &isbad)), isbad)
		bad = "to";
	else if ((q.from = rec_str_typed(j, "from", &isbad)), isbad)
		bad = "from";
	else if ((q.key = rec_str_typed(j, "key", &isbad)), isbad)
		bad = "key";
	else if ((q.channel = rec_str_typed(j, "channel", &isbad)), isbad)
		bad = "channel";
	else if ((q.reply_to = rec_str_typed(j, "reply_to", &isbad)), isbad)
		bad = "reply_to";
	if (bad != NULL) {
		snprintf(why, sizeof(why), "\"%s\" is not a string", bad);
		ent_fail(fl, e, why);
		goto done;
	}
	if ((t = json_object_get(j, "template")) != NULL &&
	    !json_is_null(t)) {
		if (!json_is_object(t)) {
			ent_fail(fl, e, "\"template\" is not an object {name, "
			    "lang, body, header, buttons}");
			goto done;
		}
		q.tpl = t;
	}
	if ((t = json_object_get(j, "text")) != NULL) {
		if (!json_is_string(t)) {
			ent_fail(fl, e, "\"text\" is not a string");
			goto done;
		}
		q.text = json_string_value(t);
		q.textlen = json_string_length(t);
	}
	/* command-line defaults fill what the line leaves out */
	if (q.conv == NULL && q.to == NULL) {
		q.conv = fl->dflt->conv;
		q.to = fl->dflt->to;
	}
	if (q.from == NULL)
		q.from = fl->dflt->from;
	if (check_req(&q, chan, sizeof(chan), why, sizeof(why)) == -1) {
		ent_fail(fl, e, why);
		goto done;
	}
	/* a key makes sending it again safe: the line's own, or ours */
	if (q.key == NULL) {
		snprintf(e->key, sizeof(e->key), "%s:%ld", fl->run, e->line);
		q.key = e->key;
	} else			/* for messages; routerd checks the key */
		snprintf(e->key, sizeof(e->key), "%s", q.key);
	pack_req(&fl->fb, fl->idbase + (int64_t)(fl->tail - 1), &q);
	if (fbuf_finish(&fl->fb) == -1) {
		ent_fail(fl, e, "the request is over 1 MiB");
		goto done;
	}
	if ((e->req = malloc(fbuf_len(&fl->fb))) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	memcpy(e->req, fbuf_data(&fl->fb), fbuf_len(&fl->fb));
	e->reqlen = fbuf_len(&fl->fb);
	fl->held += e->reqlen;
	e->state = ENT_READY;
	fl->nready++;
done:
	json_decref(j);
}

static void
take_answer(struct filter *fl, const msgpack_object *f)
{
	struct ent *e;
	int64_t re;
	uint64_t n;
	char why[512];

	if (!mp_int(f, "re", &re) || re < fl->idbase)
		return;
	n = (uint64_t)(re - fl->idbase);
	if (n < fl->head || n >= fl->tail)
		return;
	e = ent_at(fl, n);
	if (e->state != ENT_SENT)
		return;
	fl->down_since = 0;		/* routerd is back for good */
	fl->pause = 100;
	if ((e->out = result_line(f, why, sizeof(why))) != NULL) {
		fl->nsent--;
		ent_drop_req(fl, e);
		e->state = ENT_DONE;
	} else
		ent_fail(fl, e, why);
}

/* Take every answer already there; a lost connection is noted. */
static void
take_answers(struct filter *fl)
{
	const msgpack_object *f;
	int r;

	while (fl->c.fd != -1 && fl->nsent > 0 &&
	    (r = busc_recv(&fl->c, 0, &f)) != 0) {
		if (r == -1) {
			conn_lost(fl);
			return;
		}
		take_answer(fl, f);
	}
}

/*
 * The next complete input line (at eof, the rest); NULL if none yet.  It
 * stays in the buffer (consumed says how much to drop), but the tail of
 * an over-long line is skipped here.
 */
static char *
next_line(struct filter *fl, size_t *len, size_t *consumed)
{
	char *nl;

	for (;;) {
		if (fl->inlen == 0)
			return NULL;
		nl = memchr(fl->in, '\n', fl->inlen);
		if (fl->skipping) {
			/* the tail of an over-long line */
			if (nl == NULL) {
				fl->inlen = 0;
				return NULL;
			}
			*consumed = (size_t)(nl - fl->in) + 1;
			memmove(fl->in, fl->in + *consumed,
			    fl->inlen - *consumed);
			fl->inlen -= *consumed;
			fl->skipping = 0;
			continue;
		}
		if (nl != NULL) {
			*len = (size_t)(nl - fl->in);
			*consumed = *len + 1;
			return fl->in;
		}
		if (fl->eof) {
			*len = fl->inlen;
			*consumed = fl->inlen;
			return fl->in;
		}
		return NULL;
	}
}

static int
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

/* Take buffered lines while there is room. */
static void
take_lines(struct filter *fl)
{
	char *line;
	size_t len, consumed;

	while (room(fl) && (line = next_line(fl, &len, &consumed)) != NULL) {
		fl->lineno++;
		if (!blank(line, len))
			take_line(fl, line, len);
		memmove(fl->in, fl->in + consumed, fl->inlen - consumed);
		fl->inlen -= consumed;
	}
}

static void
read_input(struct filter *fl)
{
	ssize_t n;
	char *nb;

	if (fl->incap - fl->inlen < 65536) {
		size_t ncap = fl->incap ? fl->incap * 2 : 131072;

		if ((nb = realloc(fl->in, ncap)) == NULL)
			msg_die(MSG_EX_REFUSED, "out of memory");
		fl->in = nb;
		fl->incap = ncap;
	}
	n = read(STDIN_FILENO, fl->in + fl->inlen, fl->incap - fl->inlen);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		msg_die(MSG_EX_REFUSED, "stdin: %s", strerror(errno));
	}
	if (n == 0) {
		fl->eof = 1;
		return;
	}
	fl->inlen += (size_t)n;
	if (fl->inlen > LINE_MAX_IN && memchr(fl->in, '\n', fl->inlen) ==
	    NULL) {
		/* no line is this long: fail it and skip to its end */
		fl->lineno++;
		ent_fail(fl, ent_new(fl), "line too long");
		fl->inlen = 0;
		fl->skipping = 1;
	}
}

/*
 * Wait for what can move things on: stdin when there is room for a line
 * and none is buffered, the socket when answers are awaited.
 */
static void
wait_input(struct filter *fl)
{
	struct pollfd pfd[2];
	int nfd = 0, r, instdin;

	if ((instdin = !fl->eof && room(fl))) {
		pfd[nfd].fd = STDIN_FILENO;
		pfd[nfd].events = POLLIN;
		pfd[nfd++].revents = 0;
	}
	if (fl->nsent > 0) {
		pfd[nfd].fd = fl->c.fd;
		pfd[nfd].events = POLLIN;
		pfd[nfd++].revents = 0;
	}
	if (nfd == 0)
		msg_die(MSG_EX_REFUSED, "internal error: nothing to wait for "
		    "(%zu ready, %zu buffered bytes)", fl->nready, fl->inlen);
	msg_out_flush();
	r = poll(pfd, (nfds_t)nfd, fl->nsent > 0 ? MSG_TIMEOUT_MS : -1);
	if (r == -1 && errno != EINTR)
		msg_die(MSG_EX_REFUSED, "poll: %s", strerror(errno));
	if (r == 0)
		give_up(fl, "no answer (timed out)");
	if (r > 0 && instdin && pfd[0].revents)
		read_input(fl);
}

static int
filter_run(const struct sreq *dflt)
{
	static struct filter fl;
	size_t len, consumed;
	int rc;

	fl.dflt = dflt;
	fl.pause = 100;
	ulid_make("msg:", fl.run);
	msg_connect_or_die(&fl.c, "routerd");
	fbuf_init(&fl.fb);
	fl.idbase = busc_next_id(&fl.c) + 1;
	for (;;) {
		take_lines(&fl);
		send_ready(&fl);
		take_answers(&fl);
		print_done(&fl);
		if (fl.eof && fl.inlen == 0 && fl.head == fl.tail)
			break;
		/* answers made room for buffered lines, or a loss for resends */
		if ((room(&fl) && next_line(&fl, &len, &consumed) != NULL) ||
		    fl.nready > 0)
			continue;
		wait_input(&fl);
	}
	rc = fl.lost ? MSG_EX_UNREACH : fl.failed ? MSG_EX_REFUSED : MSG_EX_OK;
	fbuf_free(&fl.fb);
	busc_close(&fl.c);
	free(fl.in);
	return rc;
}

static char spool_path[PATH_MAX];	/* the copy, until it is queued */

/* The send was refused: its copy in the spool goes. */
static void
spool_drop(const struct sreq *q)
{
	if (q->fspool != NULL && spool_path[0] != '\0' &&
	    unlink(spool_path) == -1 && errno != ENOENT)
		msg_err("%s: %s", spool_path, strerror(errno));
}

/*
 * Copy fd (a regular file of size bytes) into $home/spool/<name>: written
 * to a temporary name, synced, renamed into place, the directory synced.
 * The copy is ours, made here (O_EXCL, following no link) and mode 0604
 * whatever our umask: no group bits, so the other agents, who share the
 * spool's group, cannot read it even by name; "other" read for the channel
 * daemon, whose user is not in that group (the spool itself lets no one
 * else in).  routerd and the channel daemon take it only as ours.
 */
static void
spool_copy(int fd, const char *path, long long size, const char *name)
{
	char dir[PATH_MAX], tmp[PATH_MAX], buf[65536];
	long long left = size;
	ssize_t n, w, off;
	int out, dfd;

	msg_home_path("spool", dir, sizeof(dir));
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s", dir, name) >=
	    sizeof(tmp) || (size_t)snprintf(spool_path, sizeof(spool_path),
	    "%s/%s", dir, name) >= sizeof(spool_path))
		msg_die(MSG_EX_USAGE, "%s: path too long", dir);
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		msg_die(MSG_EX_REFUSED, "spool %s: %s (is it there, and are "
		    "you in its group?)", dir, strerror(errno));
	while (left > 0) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			unlink(tmp);
			msg_die(MSG_EX_REFUSED, "%s: %s", path, n == 0 ?
			    "changed while copied" : strerror(errno));
		}
		for (off = 0; off < n; off += w)
			if ((w = write(out, buf + off, (size_t)(n - off))) ==
			    -1) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				unlink(tmp);
				msg_die(MSG_EX_REFUSED, "spool: %s",
				    strerror(errno));
			}
		left -= n;
	}
	if (fchmod(out, 0604) == -1 || fsync(out) == -1 || close(out) == -1 ||
	    rename(tmp, spool_path) == -1) {
		unlink(tmp);
		msg_die(MSG_EX_REFUSED, "spool: %s", strerror(errno));
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) != -1) {
		fsync(dfd);
		close(dfd);
	}
}

/* --file PATH: a regular file we can read; its type, size and name, and
 * its copy in the spool. */
static void
take_file(struct sreq *q, const char *path)
{
	static char spool[32];
	unsigned char buf[MEDIA_MAGIC_LEN];
	struct stat sb;
	const char *base, *mime;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK)) == -1)
		msg_die(MSG_EX_REFUSED, "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) == -1)
		msg_die(MSG_EX_REFUSED, "%s: %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		msg_die(MSG_EX_REFUSED, "%s: not a regular file", path);
	while ((n = read(fd, buf, sizeof(buf))) == -1 && errno == EINTR)
		;
	if (n == -1)
		msg_die(MSG_EX_REFUSED, "%s: %s", path, strerror(errno));
	base = strrchr(path, '/');
	base = base && base[1] ? base + 1 : path;
	mime = media_mime(base, buf, (size_t)n);
	q->fname = base;
	q->fmime = mime ? mime : "application/octet-stream";
	q->fsize = (long long)sb.st_size;
	if (lseek(fd, 0, SEEK_SET) == -1)
		msg_die(MSG_EX_REFUSED, "%s: %s", path, strerror(errno));
	ulid_make("f_", spool);
	spool_copy(fd, path, q->fsize, spool);
	q->fspool = spool;
	close(fd);
}

/* --media-url URL: http(s), its type from the path's extension if any. */
static void
take_url(struct sreq *q, const char *url)
{
	char path[1024];
	size_t n;

	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
		msg_err("--media-url %.80s: not an http(s) URL", url);
		msg_usage();
	}
	if (q->nmedia == MEDIA_MAX) {
		msg_err("at most %d --media-url", MEDIA_MAX);
		msg_usage();
	}
	n = strcspn(url, "?#");
	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, url, n);
	path[n] = '\0';
	q->mmime[q->nmedia] = strchr(strstr(path, "://") + 3, '/') ?
	    media_mime(path, NULL, 0) : NULL;
	q->media[q->nmedia++] = url;
}

int
msg_send(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "conv", required_argument, NULL, 'C' },
		{ "to", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'F' },
		{ "key", required_argument, NULL, 'k' },
		{ "file", required_argument, NULL, 'f' },
		{ "media-url", required_argument, NULL, 'u' },
		{ "template", required_argument, NULL, 'T' },
		{ "lang", required_argument, NULL, 'L' },
		{ "param", required_argument, NULL, 'P' },
		{ "header-param", required_argument, NULL, 'H' },
		{ "button", required_argument, NULL, 'B' },
		{ "reply-to", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sreq q;
	const char *file = NULL, *tname = NULL, *tlang = NULL, *thead = NULL;
	json_t *tbody = json_array(), *tbtn = json_array();
	char *text = NULL;
	size_t len = 0, n;
	int ch, i, rc;

	memset(&q, 0, sizeof(q));
	while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			q.conv = msg_conv_arg(optarg);
			break;
		case 't':
			q.to = optarg;
			break;
		case 'F':
			q.from = optarg;
			break;
		case 'k':
			q.key = optarg;
			break;
		case 'f':
			if (file != NULL) {
				msg_err("one --file per message");
				msg_usage();
			}
			file = optarg;
			break;
		case 'u':
			take_url(&q, optarg);
			break;
		case 'T':
			tname = optarg;
			break;
		case 'L':
			tlang = optarg;
			break;
		case 'P':
			if (json_array_size(tbody) == PROTO_TPL_PARAMS_MAX ||
			    json_array_append_new(tbody,
			    json_string(optarg)) == -1) {
				msg_err("--param: at most %d, each UTF-8 text",
				    PROTO_TPL_PARAMS_MAX);
				msg_usage();
			}
			break;
		case 'H':
			thead = optarg;
			break;
		case 'B':
			if (json_array_size(tbtn) == TPL_BUTTONS_MAX ||
			    json_array_append_new(tbtn,
			    json_string(optarg)) == -1) {
				msg_err("--button: at most %d, each UTF-8 text",
				    TPL_BUTTONS_MAX);
				msg_usage();
			}
			break;
		case 'R':
			q.reply_to = optarg;
			break;
		default:
			msg_usage();
		}
	}
	if (tname == NULL && tlang != NULL) {
		msg_err("--lang goes with --template");
		msg_usage();
	}
	if (tname == NULL && (json_array_size(tbody) > 0 || thead != NULL ||
	    json_array_size(tbtn) > 0)) {
		msg_err("--param, --header-param and --button need --template");
		msg_usage();
	}
	if (tname != NULL) {
		if (file != NULL || q.nmedia > 0 || optind < argc) {
			msg_err("a template goes alone: no TEXT, --file or "
			    "--media-url");
			msg_usage();
		}
		/* without --lang: a text template (SMS, Messenger) */
		if ((q.tpl = json_pack("{s:s, s:s*, s:O}", "name", tname,
		    "lang", tlang, "body", tbody)) == NULL)
			msg_die(MSG_EX_USAGE, "--template and --lang must be "
			    "UTF-8");
		if (thead != NULL && json_object_set_new(q.tpl, "header",
		    json_pack("[s]", thead)) == -1)
			msg_die(MSG_EX_USAGE, "--header-param must be UTF-8");
		if (json_array_size(tbtn) > 0)
			json_object_set(q.tpl, "buttons", tbtn);
	}
	json_decref(tbody);
	json_decref(tbtn);
	if (q.conv != NULL && (q.to != NULL || q.from != NULL)) {
		msg_err("--conv and --to/--from exclude each other");
		msg_usage();
	}
	if (file != NULL && q.nmedia > 0) {
		msg_err("--file and --media-url exclude each other");
		msg_usage();
	}
	if (optind == argc && file == NULL && q.nmedia == 0 && q.tpl == NULL) {
		if (q.reply_to != NULL) {
			msg_err("--reply-to names one message to answer");
			msg_usage();
		}
		if (q.key != NULL) {
			msg_err("--key names one message; give a \"key\" per "
			    "input line instead");
			msg_usage();
		}
		return filter_run(&q);
	}
	if (q.conv == NULL && q.to == NULL) {
		msg_err("say where: --conv ID, or --to sms:+E164 --from +E164");
		msg_usage();
	}
	if (q.to != NULL && q.from == NULL) {
		msg_err("--to needs --from (our number)");
		msg_usage();
	}
	if (file != NULL)
		take_file(&q, file);
	if (optind == argc) {
		rc = send_one(&q);	/* a file, media or template alone */
		json_decref(q.tpl);
		return rc;
	}
	/* the words of TEXT, joined by single spaces */
	for (i = optind; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((text = malloc(len)) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	for (n = 0, i = optind; i < argc; i++) {
		size_t l = strlen(argv[i]);

		memcpy(text + n, argv[i], l);
		n += l;
		text[n++] = ' ';
	}
	text[n - 1] = '\0';
	q.text = text;
	q.textlen = n - 1;
	rc = send_one(&q);
	free(text);
	return rc;
}
