/*
 * messengerd_parse — a Messenger Platform notification (the JSON body of a
 * webhook POST, for a Facebook Page or an Instagram account) turned into
 * routerd's "in" and "st" frames.
 *
 * Meta sends {object, entry[]}: object "page" (channel messenger) or
 * "instagram" (channel instagram); each entry names our Page or Instagram
 * account (entry.id) and holds events in messaging[], or in standby[] when
 * another app owns the thread (handover protocol: the same events, stored
 * the same way, marked data.standby).  Each event has a sender, a recipient,
 * a timestamp (ms) and one kind:
 *
 *   message   from the customer: "in" (text, attachments of every type by
 *             URL, quick-reply taps, replies, story replies, referrals,
 *             is_unsupported); is_deleted (an unsend): "st" "unsent" on the
 *             original mid, a tombstone, never a new message; is_echo (the
 *             Page's own send): "st" "sent" with our message id when its
 *             metadata is ours (MG_METADATA), else "in" with dir "out" and
 *             by "page", a message the Page sent from elsewhere;
 *   delivery  "st" "delivered" for each mid it names, and one watermark
 *             "st" (everything of the thread sent before it: upto,
 *             inclusive false);
 *   read      Messenger: a watermark "st" "read" (inclusive true);
 *             Instagram's read.mid: "st" "read" on that mid, earlier true;
 *   reaction  "in" of type reaction on the message it names;
 *   postback, referral: "in" of that type;
 *   any other kind: "in" of that type, its object kept in data, so that
 *             nothing a customer does is dropped unseen.
 *
 * pids are chosen so that routerd's dedupe by (channel, pid) keeps one copy
 * of each event however often Meta delivers it: the mid (mg_pid) for a
 * message, an echo, a postback and the statuses of a mid; "<mid>:<action>:
 * <ts>" for a reaction; "wm:<status>:<account>:<user>:<watermark>" for a
 * watermark; "<kind>:<account>:<user>:<ts>" for events without a mid.
 *
 * Decided here, and documented in messengerd(8):
 *   - not JSON, not an object, another object, or entry / messaging /
 *     standby not arrays: the whole body is refused (400; a 5xx would be
 *     retried);
 *   - an entry whose id is not an id, an event without a customer id
 *     (Meta's policy_enforcement names only the Page), a message or
 *     reaction without a mid, a delivery or read with neither mid nor
 *     watermark: skipped with a note, the rest forwarded;
 *   - changes[] (feed, comments) are not messaging: noted, ignored;
 *   - texts are cut at 64 KiB, URLs over 2 KiB dropped, at most 10
 *     attachments kept, and an unknown kind's object over 16 KiB replaced
 *     by a note of its size, so every frame stays far under the bus's 1 MiB;
 *   - invalid UTF-8 and NULs in strings: lib/jsonfix, data.repaired.
 *
 * Pure (no I/O, no clock), so tests/unit/t_mg_parse.c and the golden files
 * of tests/golden/messenger drive it directly.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>
#include <sodium.h>

#include "frame.h"
#include "jsonfix.h"
#include "log.h"
#include "messengerd.h"
#include "mp.h"
#include "rec.h"
#include "str.h"
#include "valid.h"

#define MG_URL_MAX	2048	/* bytes of an attachment URL kept */
#define MG_ATT_MAX	10	/* attachments kept of one message */
#define MG_RAW_MAX	(16 * 1024)	/* an unknown kind's object kept */
#define MG_SHORT_MAX	1024	/* bytes of a title, payload, ref kept */
#define REPAIRED_KEY	"\xff"	/* marks a repaired event in the parsed
				   tree: not UTF-8, so no body can hold it */

/* Where one event came from, as the parser walks it. */
struct ev {
	const char	*channel;
	const char	*account;	/* entry.id, or the Page of an echo */
	const char	*user;		/* the customer */
	long long	 ts;		/* ms, 0: none */
	int		 standby;
	int		 repaired;
	size_t		 entry, idx;	/* for notes */
};

static void
note(struct mg_items *out, int warn, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
	if (out->nnotes == out->notescap) {
		out->notescap = out->notescap ? out->notescap * 2 : 8;
		out->notes = reallocarray(out->notes, out->notescap,
		    sizeof(*out->notes));
		if (out->notes == NULL)
			fatalx("out of memory");
	}
	out->notes[out->nnotes].warn = warn;
	out->notes[out->nnotes].text = s;
	out->nnotes++;
}

void
mg_items_init(struct mg_items *out)
{
	memset(out, 0, sizeof(*out));
}

void
mg_items_free(struct mg_items *out)
{
	size_t i;

	for (i = 0; i < out->n; i++)
		json_decref(out->v[i].fr);
	for (i = 0; i < out->nnotes; i++)
		free(out->notes[i].text);
	free(out->v);
	free(out->notes);
	memset(out, 0, sizeof(*out));
}

int
mg_is_id(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > MG_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

void
mg_pid(const char *mid, char out[MG_PID_MAX + 1])
{
	unsigned char h[16];
	size_t i, n = strlen(mid);
	int plain = n > 0 && n <= MG_MID_KEEP && mid[0] != '~';

	for (i = 0; plain && i < n; i++)
		if (mid[i] <= ' ' || mid[i] > '~')
			plain = 0;
	if (plain) {
		memcpy(out, mid, n + 1);
		return;
	}
	if (crypto_generichash(h, sizeof(h), (const unsigned char *)mid, n,
	    NULL, 0) != 0)
		fatalx("BLAKE2b failed");
	out[0] = '~';
	sodium_bin2hex(out + 1, MG_PID_MAX, h, sizeof(h));
}

/* --- frames --- */

void
mg_item_frame(const struct mg_item *it, int64_t id, const char *name,
    struct fbuf *fb)
{
	const char *k;
	json_t *e;
	int addname = it->want_name && name != NULL && name[0] != '\0';

	fbuf_begin(fb, json_object_size(it->fr) + 1 + addname);
	mp_kv_int(&fb->pk, "id", id);
	json_object_foreach(it->fr, k, e) {
		mp_pack_cstr(&fb->pk, k);
		rec_pack_json(&fb->pk, e);
	}
	if (addname)
		mp_kv_str(&fb->pk, "name", name);
}

char *
mg_item_json(const struct mg_item *it, const char *name)
{
	json_t *fr = json_deep_copy(it->fr);
	char *s;

	if (fr == NULL)
		fatalx("out of memory");
	if (it->want_name && name != NULL && name[0] != '\0')
		json_object_set_new(fr, "name", json_string(name));
	if ((s = json_dumps(fr, JSON_COMPACT | JSON_SORT_KEYS |
	    JSON_REAL_PRECISION(15))) == NULL)
		fatalx("out of memory");
	json_decref(fr);
	return s;
}

/* A new frame of type t ("in", "st") for the event, pid set. */
static json_t *
frame_new(const char *t, const struct ev *ev, const char *pid)
{
	json_t *fr = json_object();

	json_object_set_new(fr, "t", json_string(t));
	json_object_set_new(fr, "channel", json_string(ev->channel));
	json_object_set_new(fr, "pid", json_string(pid));
	json_object_set_new(fr, "from", json_string(ev->user));
	json_object_set_new(fr, "to", json_string(ev->account));
	if (ev->ts > 0)
		json_object_set_new(fr, "ts", json_integer(ev->ts));
	return fr;
}

/* Keep fr (consumed) as an item. */
static void
item_add(struct mg_items *out, enum mg_kind kind, const struct ev *ev,
    int want_name, json_t *fr)
{
	struct mg_item *it;

	if (out->n == out->cap) {
		out->cap = out->cap ? out->cap * 2 : 8;
		out->v = reallocarray(out->v, out->cap, sizeof(*out->v));
		if (out->v == NULL)
			fatalx("out of memory");
	}
	it = &out->v[out->n++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	snprintf(it->channel, sizeof(it->channel), "%s", ev->channel);
	snprintf(it->pid, sizeof(it->pid), "%s",
	    json_string_value(json_object_get(fr, "pid")));
	snprintf(it->account, sizeof(it->account), "%s", ev->account);
	snprintf(it->user, sizeof(it->user), "%s", ev->user);
	it->want_name = want_name;
	it->fr = fr;
}

/* --- reading Meta's JSON --- */

/* The string at key, or NULL (also when empty). */
static const char *
str(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	return json_string_value(v);
}

/* An id (digits) at o.key.id, or NULL. */
static const char *
id_of(const json_t *o, const char *key)
{
	const json_t *x = json_object_get(o, key);
	const char *s = json_is_object(x) ? str(x, "id") : NULL;

	return s && mg_is_id(s, strlen(s)) ? s : NULL;
}

/* A time in ms (a number, or a string of digits); 0 if none or absurd. */
static long long
ms_of(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	long long t = 0;
	const char *s;
	char *end;

	if (json_is_integer(v))
		t = (long long)json_integer_value(v);
	else if (json_is_real(v)) {
		/* the range checked as a double: out of range, the cast is UB */
		double d = json_real_value(v);

		if (!(d > 0 && d < 1e14))
			return 0;
		t = (long long)d;
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		if (*s < '0' || *s > '9')
			return 0;
		errno = 0;
		t = strtoll(s, &end, 10);
		if (errno || *end != '\0')
			return 0;
	}
	/* after 1970, before the year 5138 */
	return t > 0 && t < 100000000000000LL ? t : 0;
}

/* s cut to at most max bytes on a UTF-8 character boundary. */
static json_t *
cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return json_string(s);
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return json_stringn(s, n);
}

/* Add dkey: o's string at key (cut to MG_SHORT_MAX) when it is one. */
static void
copy_str(json_t *dst, const char *dkey, const json_t *o, const char *key)
{
	const char *v = str(o, key);

	if (v != NULL)
		json_object_set_new(dst, dkey, cut(v, MG_SHORT_MAX));
}

/*
 * A copy of v for data: strings cut to MG_SHORT_MAX, and when its JSON is
 * over MG_RAW_MAX, {"omitted": bytes} instead.
 */
static json_t *
small_copy(const json_t *v)
{
	char *s;
	size_t n;
	json_t *c;

	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		fatalx("out of memory");
	n = strlen(s);
	free(s);
	if (n > MG_RAW_MAX)
		return json_pack("{s:I}", "omitted", (json_int_t)n);
	if ((c = json_deep_copy(v)) == NULL)
		fatalx("out of memory");
	json_object_del(c, REPAIRED_KEY);
	return c;
}

/* A kind's name as kept: [a-z_]{1,32}, else "unknown". */
static const char *
kind_name(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > MG_KIND_MAX ||
	    strspn(k, "abcdefghijklmnopqrstuvwxyz_-") != n)
		return "unknown";
	return k;
}

/* data, created on first use. */
static json_t *
data_of(json_t **data)
{
	if (*data == NULL)
		*data = json_object();
	return *data;
}

/* Finish an "in" frame: its data (when any) and the event's marks. */
static void
in_finish(json_t *fr, json_t *data, const struct ev *ev, struct mg_items *out)
{
	if (ev->standby)
		json_object_set_new(data_of(&data), "standby", json_true());
	if (ev->repaired) {
		json_object_set_new(data_of(&data), "repaired", json_true());
		note(out, 1, "%s %s: invalid UTF-8 or NUL replaced by U+FFFD",
		    ev->channel, json_string_value(json_object_get(fr,
		    "pid")));
	}
	if (data != NULL)
		json_object_set_new(fr, "data", data);
}

/*
 * One attachment into media (and location into data): its type, or NULL
 * when it is not an object.
 */
static const char *
attachment(const json_t *a, json_t *media, json_t **data, char *lbuf,
    size_t lbufsz)
{
	const json_t *p, *co;
	const char *type, *url, *s;
	json_t *m;
	double la, lo;
	char lat[32], lon[32];

	if (!json_is_object(a))
		return NULL;
	if ((type = str(a, "type")) == NULL)
		type = "unknown";
	type = kind_name(type);
	p = json_object_get(a, "payload");
	if (json_is_object(p) && json_object_get(p, "sticker_id") != NULL)
		type = "sticker";
	m = json_object();
	json_object_set_new(m, "type", json_string(type));
	if (json_is_object(p)) {
		url = str(p, "url");
		if (url != NULL && strlen(url) <= MG_URL_MAX)
			json_object_set_new(m, "url", json_string(url));
		copy_str(m, "title", a, "title");
		copy_str(m, "title", p, "title");
		if (json_is_integer(json_object_get(p, "sticker_id")))
			json_object_set_new(m, "sticker_id", json_sprintf(
			    "%lld", (long long)json_integer_value(
			    json_object_get(p, "sticker_id"))));
		else
			copy_str(m, "sticker_id", p, "sticker_id");
		if ((s = str(p, "reel_video_id")) == NULL &&
		    (s = str(p, "ig_post_media_id")) == NULL &&
		    (s = str(p, "attachment_id")) == NULL)
			s = str(p, "id");
		if (s != NULL)
			json_object_set_new(m, "id", cut(s, MG_SHORT_MAX));
		co = json_object_get(p, "coordinates");
		if (json_is_object(co) &&
		    json_is_number(json_object_get(co, "lat")) &&
		    json_is_number(json_object_get(co, "long"))) {
			la = json_number_value(json_object_get(co, "lat"));
			lo = json_number_value(json_object_get(co, "long"));
			json_object_set_new(data_of(data), "location",
			    json_pack("{s:f, s:f}", "latitude", la,
			    "longitude", lo));
			str_num(lat, sizeof(lat), la);
			str_num(lon, sizeof(lon), lo);
			snprintf(lbuf, lbufsz, "(%s, %s)", lat, lon);
		}
	} else
		copy_str(m, "title", a, "title");
	json_array_append_new(media, m);
	return type;
}

/* message (not deleted): an "in", or the "st" of our own echo. */
static void
message(struct mg_items *out, const json_t *m, struct ev *ev, int echo)
{
	const json_t *atts, *a, *qr, *rt, *story, *ref;
	json_t *fr, *media = NULL, *data = NULL, *x;
	const char *mid, *text, *meta, *t, *type = NULL, *rmid;
	char pid[MG_PID_MAX + 1], rpid[MG_PID_MAX + 1], lbuf[80] = "";
	size_t i, kept = 0;

	mid = str(m, "mid");
	mg_pid(mid, pid);
	meta = echo ? str(m, "metadata") : NULL;
	if (meta != NULL && strncmp(meta, MG_METADATA,
	    strlen(MG_METADATA)) == 0) {
		/* ours: the send it confirms */
		fr = frame_new("st", ev, pid);
		json_object_set_new(fr, "status", json_string("sent"));
		meta += strlen(MG_METADATA);
		if (*meta != '\0' && strlen(meta) < 64 &&
		    strspn(meta, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == strlen(meta))
			json_object_set_new(fr, "msg", json_string(meta));
		item_add(out, MG_ST, ev, 0, fr);
		return;
	}
	fr = frame_new("in", ev, pid);
	if (strcmp(pid, mid) != 0)	/* folded: the whole mid, for replies */
		json_object_set_new(data_of(&data), "mid", json_string(mid));
	text = str(m, "text");
	atts = json_object_get(m, "attachments");
	if (json_is_array(atts) && json_array_size(atts) > 0) {
		media = json_array();
		json_array_foreach(atts, i, a) {
			if (kept == MG_ATT_MAX)
				break;
			if ((t = attachment(a, media, &data, lbuf,
			    sizeof(lbuf))) == NULL)
				continue;
			if (type == NULL)
				type = t;
			kept++;
		}
		if (json_array_size(atts) > kept)
			note(out, 1, "%s %s: %zu of %zu attachments kept",
			    ev->channel, pid, kept, json_array_size(atts));
	}
	qr = json_object_get(m, "quick_reply");
	if (json_is_object(qr)) {
		x = json_object();
		copy_str(x, "payload", qr, "payload");
		json_object_set_new(data_of(&data), "quick_reply", x);
		if (type == NULL)
			type = "quick_reply";
	}
	rt = json_object_get(m, "reply_to");
	if (json_is_object(rt)) {
		if ((rmid = str(rt, "mid")) != NULL) {
			mg_pid(rmid, rpid);
			x = json_pack("{s:s}", "id", rpid);
			if (strcmp(rpid, rmid) != 0)
				json_object_set_new(x, "mid", json_string(rmid));
			json_object_set_new(data_of(&data), "context", x);
		}
		story = json_object_get(rt, "story");
		if (json_is_object(story)) {
			x = json_object();
			copy_str(x, "id", story, "id");
			if ((t = str(story, "url")) != NULL &&
			    strlen(t) <= MG_URL_MAX)
				json_object_set_new(x, "url", json_string(t));
			json_object_set_new(data_of(&data), "story", x);
			type = "story_reply";
		}
	}
	ref = json_object_get(m, "referral");
	if (ref != NULL && !json_is_null(ref))
		json_object_set_new(data_of(&data), "referral",
		    small_copy(ref));
	if (json_is_true(json_object_get(m, "is_unsupported")))
		type = "unsupported";
	if (type == NULL)
		type = text != NULL ? "text" : "unknown";
	if (text == NULL)
		text = lbuf;
	json_object_set_new(fr, "text", cut(text, MG_TEXT_MAX));
	json_object_set_new(fr, "type", json_string(type));
	if (media != NULL && json_array_size(media) > 0)
		json_object_set_new(fr, "media", media);
	else
		json_decref(media);
	if (echo) {
		/* the Page wrote, from Page Inbox, the app or another tool */
		json_object_set_new(fr, "dir", json_string("out"));
		json_object_set_new(fr, "by", json_string("page"));
		x = json_object();
		if (json_is_integer(json_object_get(m, "app_id")))
			json_object_set_new(x, "app_id", json_sprintf("%lld",
			    (long long)json_integer_value(json_object_get(m,
			    "app_id"))));
		else
			copy_str(x, "app_id", m, "app_id");
		copy_str(x, "metadata", m, "metadata");
		if (json_object_size(x) > 0)
			json_object_set_new(data_of(&data), "echo", x);
		else
			json_decref(x);
	}
	in_finish(fr, data, ev, out);
	item_add(out, MG_IN, ev, !echo, fr);
}

/* A watermark: "st" for everything of the thread sent up to it. */
static void
watermark(struct mg_items *out, const struct ev *ev, const char *status,
    long long wm, int inclusive)
{
	char pid[MG_PID_MAX + 1];
	json_t *fr;

	snprintf(pid, sizeof(pid), "wm:%.16s:%.32s:%.32s:%lld", status,
	    ev->account, ev->user, wm);
	fr = frame_new("st", ev, pid);
	json_object_set_new(fr, "status", json_string(status));
	json_object_set_new(fr, "upto", json_integer(wm));
	json_object_set_new(fr, "inclusive", json_boolean(inclusive));
	item_add(out, MG_ST, ev, 0, fr);
}

/* A status of one message. */
static void
status(struct mg_items *out, const struct ev *ev, const char *mid,
    const char *st, int earlier)
{
	char pid[MG_PID_MAX + 1];
	json_t *fr;

	mg_pid(mid, pid);
	fr = frame_new("st", ev, pid);
	json_object_set_new(fr, "status", json_string(st));
	if (earlier)
		json_object_set_new(fr, "earlier", json_true());
	item_add(out, MG_ST, ev, 0, fr);
}

static void
delivery(struct mg_items *out, const json_t *d, const struct ev *ev)
{
	const json_t *mids = json_object_get(d, "mids"), *e;
	long long wm = ms_of(d, "watermark");
	size_t i, n = 0;

	json_array_foreach(mids, i, e)
		if (json_is_string(e) && json_string_length(e) > 0) {
			status(out, ev, json_string_value(e), "delivered", 0);
			n++;
		}
	if (wm > 0)
		watermark(out, ev, "delivered", wm, 0);
	else if (n == 0) {
		note(out, 1, "%s entry[%zu] event %zu: a delivery with neither "
		    "mids nor watermark, skipped", ev->channel, ev->entry,
		    ev->idx);
		out->skipped++;
	}
}

static void
read_ev(struct mg_items *out, const json_t *r, const struct ev *ev)
{
	const char *mid = str(r, "mid");
	long long wm = ms_of(r, "watermark");

	if (mid != NULL)
		status(out, ev, mid, "read", 1);
	else if (wm > 0)
		watermark(out, ev, "read", wm, 1);
	else {
		note(out, 1, "%s entry[%zu] event %zu: a read with neither mid "
		    "nor watermark, skipped", ev->channel, ev->entry, ev->idx);
		out->skipped++;
	}
}

static void
reaction(struct mg_items *out, const json_t *r, const struct ev *ev)
{
	const char *mid = str(r, "mid"), *action, *emoji;
	char base[MG_PID_MAX + 1], pid[MG_PID_MAX + 1];
	json_t *fr, *x, *data = NULL;

	if (mid == NULL) {
		note(out, 1, "%s entry[%zu] event %zu: a reaction without a "
		    "mid, skipped", ev->channel, ev->entry, ev->idx);
		out->skipped++;
		return;
	}
	if ((action = str(r, "action")) == NULL)
		action = "react";
	action = kind_name(action);
	mg_pid(mid, base);
	snprintf(pid, sizeof(pid), "%.96s:%.8s:%lld", base, action, ev->ts);
	fr = frame_new("in", ev, pid);
	emoji = str(r, "emoji");
	json_object_set_new(fr, "text", cut(emoji && strcmp(action,
	    "unreact") != 0 ? emoji : "", MG_SHORT_MAX));
	json_object_set_new(fr, "type", json_string("reaction"));
	x = json_pack("{s:s, s:s}", "message_id", base, "action", action);
	copy_str(x, "reaction", r, "reaction");
	copy_str(x, "emoji", r, "emoji");
	json_object_set_new(data_of(&data), "reaction", x);
	in_finish(fr, data, ev, out);
	item_add(out, MG_IN, ev, 1, fr);
}

/* postback, referral and kinds parley does not know: an "in" of type
 * kind with the event's object in data. */
static void
other(struct mg_items *out, const char *kind, const json_t *v,
    const struct ev *ev)
{
	const char *mid = json_is_object(v) ? str(v, "mid") : NULL;
	const char *title = json_is_object(v) ? str(v, "title") : NULL;
	char base[MG_PID_MAX + 1], pid[MG_PID_MAX + 1];
	json_t *fr, *data = NULL, *x;

	kind = kind_name(kind);
	if (mid != NULL) {
		mg_pid(mid, base);
		if (strcmp(kind, "postback") == 0)
			snprintf(pid, sizeof(pid), "%s", base);
		else
			snprintf(pid, sizeof(pid), "%.96s:%.30s", base, kind);
	} else
		snprintf(pid, sizeof(pid), "%.32s:%.32s:%.32s:%lld", kind,
		    ev->account, ev->user, ev->ts);
	fr = frame_new("in", ev, pid);
	json_object_set_new(fr, "type", json_string(kind));
	if (strcmp(kind, "postback") == 0 && json_is_object(v)) {
		json_object_set_new(fr, "text", cut(title ? title : "",
		    MG_TEXT_MAX));
		x = json_object();
		copy_str(x, "title", v, "title");
		copy_str(x, "payload", v, "payload");
		json_object_set_new(data_of(&data), "postback", x);
		if (json_object_get(v, "referral") != NULL)
			json_object_set_new(data, "referral", small_copy(
			    json_object_get(v, "referral")));
	} else {
		json_object_set_new(fr, "text", json_string(""));
		json_object_set_new(data_of(&data), kind, small_copy(v));
	}
	in_finish(fr, data, ev, out);
	item_add(out, MG_IN, ev, 1, fr);
}

/* The kind of event e: its one key besides sender, recipient, timestamp
 * (the known ones first; else the first by name). */
static const char *
kind_of(const json_t *e)
{
	static const char *const known[] = { "message", "delivery", "read",
	    "reaction", "postback", "referral", NULL };
	const char *k, *best = NULL;
	json_t *v;
	size_t i;

	for (i = 0; known[i] != NULL; i++)
		if (json_object_get(e, known[i]) != NULL)
			return known[i];
	json_object_foreach((json_t *)e, k, v) {
		if (strcmp(k, "sender") == 0 || strcmp(k, "recipient") == 0 ||
		    strcmp(k, "timestamp") == 0 || strcmp(k, REPAIRED_KEY) == 0)
			continue;
		if (best == NULL || strcmp(k, best) < 0)
			best = k;
	}
	return best;
}

/* One element of messaging[] or standby[]. */
static void
event(struct mg_items *out, const json_t *e, const char *channel,
    const char *entry_id, size_t ei, size_t idx, int standby)
{
	const json_t *m;
	const char *kind, *sender, *recipient;
	struct ev ev;
	int echo = 0;

	memset(&ev, 0, sizeof(ev));
	ev.channel = channel;
	ev.entry = ei;
	ev.idx = idx;
	ev.standby = standby;
	if (!json_is_object(e)) {
		note(out, 1, "%s entry[%zu] event %zu is not an object, skipped",
		    channel, ei, idx);
		out->skipped++;
		return;
	}
	ev.repaired = json_object_get(e, REPAIRED_KEY) != NULL;
	ev.ts = ms_of(e, "timestamp");
	if ((kind = kind_of(e)) == NULL) {
		note(out, 1, "%s entry[%zu] event %zu has no event in it, "
		    "skipped", channel, ei, idx);
		out->skipped++;
		return;
	}
	m = json_object_get(e, kind);
	sender = id_of(e, "sender");
	recipient = id_of(e, "recipient");
	if (strcmp(kind, "message") == 0 && json_is_object(m) &&
	    json_is_true(json_object_get(m, "is_echo")))
		echo = 1;
	/* an echo goes from our Page (or account) to the customer */
	ev.user = echo ? recipient : sender;
	ev.account = echo ? sender : recipient;
	if (ev.account == NULL)
		ev.account = entry_id;
	if (ev.user == NULL) {
		note(out, 1, "%s entry[%zu] event %zu (%s): no customer id, "
		    "skipped", channel, ei, idx, kind_name(kind));
		out->skipped++;
		return;
	}
	if (strcmp(kind, "message") == 0) {
		if (!json_is_object(m) || str(m, "mid") == NULL) {
			note(out, 1, "%s entry[%zu] event %zu: a message "
			    "without a mid, skipped", channel, ei, idx);
			out->skipped++;
			return;
		}
		if (json_is_true(json_object_get(m, "is_deleted")))
			status(out, &ev, str(m, "mid"), "unsent", 0);
		else
			message(out, m, &ev, echo);
	} else if (strcmp(kind, "delivery") == 0 && json_is_object(m))
		delivery(out, m, &ev);
	else if (strcmp(kind, "read") == 0 && json_is_object(m))
		read_ev(out, m, &ev);
	else if (strcmp(kind, "reaction") == 0 && json_is_object(m))
		reaction(out, m, &ev);
	else
		other(out, kind, m, &ev);
}

/* Each event of entry en that had a NUL or bad bytes: marked. */
static void
repair(json_t *root)
{
	static const char *const lists[] = { "messaging", "standby" };
	json_t *en, *el;
	size_t i, k, l;

	json_array_foreach(json_object_get(root, "entry"), i, en)
		for (l = 0; l < 2; l++)
			json_array_foreach(json_object_get(en, lists[l]), k, el)
				if (json_is_object(el) &&
				    jsonfix_nuls(el) > 0 &&
				    json_object_set_new_nocheck(el,
				    REPAIRED_KEY, json_true()) == -1)
					fatalx("out of memory");
	jsonfix_nuls(root);
}

#define FAIL(...) do {					\
	snprintf(err, errsz, __VA_ARGS__);		\
	goto fail;					\
} while (0)

int
mg_parse(const char *body, size_t len, struct mg_items *out, char *err,
    size_t errsz)
{
	static const char *const lists[] = { "messaging", "standby" };
	json_t *root, *entries, *en, *list, *el, *ch, *f;
	json_error_t je;
	const char *obj, *channel, *eid;
	char *fixed;
	size_t i, j, k, l, flen, n;

	if ((fixed = jsonfix_body(body, len, &flen)) != NULL)
		root = json_loadb(fixed, flen, JSON_ALLOW_NUL, &je);
	else
		root = json_loadb(body, len, JSON_ALLOW_NUL, &je);
	free(fixed);
	if (root == NULL)
		FAIL("not JSON: %s at line %d column %d", je.text, je.line,
		    je.column);
	repair(root);
	if (!json_is_object(root))
		FAIL("the body is not a JSON object");
	obj = str(root, "object");
	if (obj != NULL && strcmp(obj, "page") == 0)
		channel = "messenger";
	else if (obj != NULL && strcmp(obj, "instagram") == 0)
		channel = "instagram";
	else
		FAIL("object is %s%.40s%s, not page or instagram",
		    obj ? "\"" : "", obj ? obj : "missing", obj ? "\"" : "");
	entries = json_object_get(root, "entry");
	if (!json_is_array(entries))
		FAIL("entry is not an array");
	/* the shape first: a refused body forwards nothing */
	json_array_foreach(entries, i, en) {
		if (!json_is_object(en))
			FAIL("entry[%zu] is not an object", i);
		for (l = 0; l < 2; l++) {
			list = json_object_get(en, lists[l]);
			if (list != NULL && !json_is_array(list))
				FAIL("entry[%zu].%s is not an array", i,
				    lists[l]);
		}
	}
	json_array_foreach(entries, i, en) {
		eid = str(en, "id");
		if (json_is_integer(json_object_get(en, "id")))
			eid = NULL;	/* Meta writes ids as strings */
		ch = json_object_get(en, "changes");
		if (json_is_array(ch) && json_array_size(ch) > 0) {
			f = json_object_get(json_array_get(ch, 0), "field");
			note(out, 0, "%s entry[%zu]: %zu change%s (field %.40s) "
			    "ignored: not messaging", channel, i,
			    json_array_size(ch), json_array_size(ch) == 1 ? "" :
			    "s", json_is_string(f) ? json_string_value(f) :
			    "none");
		}
		if (eid == NULL || !mg_is_id(eid, strlen(eid))) {
			n = json_array_size(json_object_get(en, "messaging")) +
			    json_array_size(json_object_get(en, "standby"));
			if (n > 0) {
				note(out, 1, "%s entry[%zu] without an id: %zu "
				    "events skipped", channel, i, n);
				out->skipped += n;
			}
			continue;
		}
		for (l = 0; l < 2; l++) {
			list = json_object_get(en, lists[l]);
			j = 0;
			json_array_foreach(list, k, el)
				event(out, el, channel, eid, i, j++, l == 1);
		}
	}
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	return -1;
}
