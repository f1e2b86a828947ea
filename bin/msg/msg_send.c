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
 * a message that will be sent.
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
#include "media.h"
#include "mp.h"
#include "msg.h"
#include "proto.h"
#include "rec.h"
#include "ulid.h"

#define SEND_WINDOW	256		/* requests in flight (a power of 2) */
#define TEXT_MAX	(256 * 1024)	/* keeps a request well inside a frame */
#define LINE_MAX_IN	(1024 * 1024)
#define MEDIA_MAX	10		/* --media-url, as Twilio takes */
#define TPL_PARAMS_MAX	32		/* --param */
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

struct ent {
	long		 line;
	int		 state;		/* 0 waiting, 1 done, 2 failed */
	int		 sent;		/* its request is on the wire */
	char		*out;		/* result line, or the reason */
};

static int
utf8_ok(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);

	json_decref(j);
	return j != NULL;
}

static int
e164_ok(const char *s)
{
	size_t i;

	if (s[0] != '+' || s[1] < '1' || s[1] > '9')
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return i - 1 >= 8 && i - 1 <= 15;
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
	if (q->textlen > TEXT_MAX) {
		snprintf(why, whysz, "text too long (%zu bytes, at most %d)",
		    q->textlen, TEXT_MAX);
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
	if (strcmp(chanbuf, "sms") != 0 && strcmp(chanbuf, "whatsapp") != 0) {
		snprintf(why, whysz, "channel \"%.32s\": new conversations "
		    "start on sms or whatsapp", chanbuf);
		return -1;
	}
	q->channel = chanbuf;
	if (!e164_ok(q->to)) {
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
	} else if (!e164_ok(q->from)) {
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

/* The filter's state. */
struct filter {
	struct busc	 c;
	struct fbuf	 fb;
	struct ent	 ring[SEND_WINDOW];
	uint64_t	 head, tail;	/* entries [head, tail) */
	int64_t		 idbase;	/* request id of entry 0 */
	size_t		 waiting;
	int		 failed;
	int		 lost;		/* answers lost with a connection */
	const struct sreq *dflt;	/* defaults from the command line */
	/* input */
	char		*in;
	size_t		 inlen, incap;
	int		 eof, skipping;
	long		 lineno;
};

static struct ent *
ent_new(struct filter *fl)
{
	struct ent *e = &fl->ring[fl->tail % SEND_WINDOW];

	fl->tail++;
	e->line = fl->lineno;
	e->state = 0;
	e->sent = 0;
	e->out = NULL;
	return e;
}

static void
ent_fail(struct ent *e, const char *why)
{
	e->state = 2;
	e->out = strdup(why);
}

/* Print finished entries from the head, in input order. */
static void
print_done(struct filter *fl)
{
	struct ent *e;

	while (fl->head < fl->tail) {
		e = &fl->ring[fl->head % SEND_WINDOW];
		if (e->state == 0)
			break;
		if (e->state == 1)
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

static const char *
jstr(json_t *o, const char *k, int *bad)
{
	json_t *v = json_object_get(o, k);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

/*
 * The connection is gone: requests in flight are failed, since nobody can
 * tell whether routerd queued them (a "key" makes resending them safe).
 */
static void
conn_lost(struct filter *fl)
{
	struct ent *e;
	uint64_t i;

	if (fl->c.fd == -1)
		return;
	msg_err("routerd: %s; reconnecting", fl->c.err);
	for (i = fl->head; i < fl->tail; i++) {
		e = &fl->ring[i % SEND_WINDOW];
		if (e->state == 0 && e->sent) {
			ent_fail(e, "routerd went away before answering; "
			    "the message may or may not be queued");
			fl->lost = 1;
		}
	}
	fl->waiting = 0;
	busc_close(&fl->c);
}

/* Be connected, retrying with backoff for up to MSG_TIMEOUT_MS; or exit 3. */
static void
ensure_conn(struct filter *fl)
{
	struct timespec ts;
	const char *why;
	long waited = 0, pause = 100;

	while (fl->c.fd == -1) {
		if (msg_connect(&fl->c, "routerd", MSG_TIMEOUT_MS, &why) == 0)
			return;
		if (waited >= MSG_TIMEOUT_MS)
			msg_die(MSG_EX_UNREACH, "routerd: %s", why);
		ts.tv_sec = pause / 1000;
		ts.tv_nsec = pause % 1000 * 1000000;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		waited += pause;
		if (pause < 5000)
			pause *= 2;
	}
}

/* One input line: a request on the wire or a failed entry. */
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
		ent_fail(e, why);
		return;
	}
	if (!json_is_object(j)) {
		ent_fail(e, "not a JSON object");
		goto done;
	}
	if ((q.conv = jstr(j, "conv", &isbad)), isbad)
		bad = "conv";
	else if ((q.to = jstr(j, "to", &isbad)), isbad)
		bad = "to";
	else if ((q.from = jstr(j, "from", &isbad)), isbad)
		bad = "from";
	else if ((q.key = jstr(j, "key", &isbad)), isbad)
		bad = "key";
	else if ((q.channel = jstr(j, "channel", &isbad)), isbad)
		bad = "channel";
	else if ((q.reply_to = jstr(j, "reply_to", &isbad)), isbad)
		bad = "reply_to";
	if (bad != NULL) {
		snprintf(why, sizeof(why), "\"%s\" is not a string", bad);
		ent_fail(e, why);
		goto done;
	}
	if ((t = json_object_get(j, "template")) != NULL &&
	    !json_is_null(t)) {
		if (!json_is_object(t)) {
			ent_fail(e, "\"template\" is not an object {name, lang, "
			    "body, header, buttons}");
			goto done;
		}
		q.tpl = t;
	}
	if ((t = json_object_get(j, "text")) != NULL) {
		if (!json_is_string(t)) {
			ent_fail(e, "\"text\" is not a string");
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
		ent_fail(e, why);
		goto done;
	}
	pack_req(&fl->fb, fl->idbase + (int64_t)(fl->tail - 1), &q);
	/* a frame that did not get out whole was not taken: send it again */
	while (ensure_conn(fl), busc_send(&fl->c, &fl->fb) == -1)
		conn_lost(fl);
	e->sent = 1;
	fl->waiting++;
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
	e = &fl->ring[n % SEND_WINDOW];
	if (e->state != 0)
		return;
	fl->waiting--;
	if ((e->out = result_line(f, why, sizeof(why))) != NULL)
		e->state = 1;
	else
		ent_fail(e, why);
}

/* The next complete input line (at eof, the rest); NULL if none yet. */
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
		if (fl->eof && fl->inlen > 0) {
			*len = fl->inlen;
			*consumed = fl->inlen;
			return fl->in;
		}
		return NULL;
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
		struct ent *e;

		/* no line is this long: fail it and skip to its end */
		fl->lineno++;
		e = ent_new(fl);
		ent_fail(e, "line too long");
		fl->inlen = 0;
		fl->skipping = 1;
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

static int
filter_run(const struct sreq *dflt)
{
	static struct filter fl;
	const msgpack_object *f;
	struct pollfd pfd[2];
	char *line;
	size_t len, consumed;
	int r = 0, nfd, rc, instdin;

	fl.dflt = dflt;
	msg_connect_or_die(&fl.c, "routerd");
	fbuf_init(&fl.fb);
	fl.idbase = busc_next_id(&fl.c) + 1;
	for (;;) {
		while (fl.tail - fl.head < SEND_WINDOW &&
		    (line = next_line(&fl, &len, &consumed)) != NULL) {
			fl.lineno++;
			if (!blank(line, len))
				take_line(&fl, line, len);
			memmove(fl.in, fl.in + consumed, fl.inlen - consumed);
			fl.inlen -= consumed;
		}
		while (fl.c.fd != -1 && (r = busc_recv(&fl.c, 0, &f)) == 1)
			take_answer(&fl, f);
		if (fl.c.fd != -1 && r == -1)
			conn_lost(&fl);
		print_done(&fl);
		if (fl.eof && fl.inlen == 0 && fl.head == fl.tail)
			break;
		msg_out_flush();
		nfd = 0;
		if ((instdin = !fl.eof && fl.tail - fl.head < SEND_WINDOW)) {
			pfd[nfd].fd = STDIN_FILENO;
			pfd[nfd].events = POLLIN;
			pfd[nfd++].revents = 0;
		}
		if (fl.waiting > 0 && fl.c.fd != -1) {
			pfd[nfd].fd = fl.c.fd;
			pfd[nfd].events = POLLIN;
			pfd[nfd++].revents = 0;
		}
		if (nfd == 0)	/* cannot happen: the head is waiting */
			msg_die(MSG_EX_REFUSED, "internal error: nothing to "
			    "wait for");
		r = poll(pfd, (nfds_t)nfd, fl.waiting > 0 ? MSG_TIMEOUT_MS : -1);
		if (r == -1 && errno != EINTR)
			msg_die(MSG_EX_REFUSED, "poll: %s", strerror(errno));
		if (r == 0)
			msg_die(MSG_EX_UNREACH, "routerd: no answer (timed "
			    "out); %zu request(s) unanswered", fl.waiting);
		if (r > 0 && instdin && pfd[0].revents)
			read_input(&fl);
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
			q.conv = optarg;
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
			if (json_array_size(tbody) == TPL_PARAMS_MAX ||
			    json_array_append_new(tbody,
			    json_string(optarg)) == -1) {
				msg_err("--param: at most %d, each UTF-8 text",
				    TPL_PARAMS_MAX);
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
	if ((tname == NULL) != (tlang == NULL)) {
		msg_err("--template and --lang go together");
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
		if ((q.tpl = json_pack("{s:s, s:s, s:O}", "name", tname,
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
