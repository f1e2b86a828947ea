/*
 * routerd_work — what an agent does to a conversation besides routing it:
 * tags and the needs-attention flag (writes, each an event in the log), and
 * the read-only queries of the agent workspace: history (every conversation
 * is kept; these are the "recordings"), search by customer name or number,
 * and the customer-service windows about to close.  SMS conversations carry
 * no customer name, so a search by name also looks the name up in
 * campaignd's contact book (read-only) and matches those numbers.
 *
 * The queries scan the "convs" database in one short read transaction.  A
 * scan is bounded three ways so that one request never stalls the event
 * loop or outgrows a frame: at most `limit` records (500, at most 5000), at
 * most ANS_BYTES of them, and at most SCAN_MAX records looked at.  When any
 * bound stops it the answer says more: true and next: the id to pass as
 * "after" to continue.  Callers only see conversations of campaigns they may
 * see (auth_can_see), decided once per campaign per request.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mp.h"
#include "rec.h"
#include "valid.h"
#include "window.h"
#include "routerd.h"

#define LIMIT_DEFAULT	500
#define LIMIT_MAX	5000
#define ANS_BYTES	(900u * 1024)	/* records per answer; frames <= 1 MiB */
#define SCAN_MAX	200000		/* records looked at per request */
#define TAGS_MAX	3
#define WITHIN_MAX	(30LL * 24 * 3600 * 1000)
#define SEE_CACHE	64
#define BOOK_MAX	256		/* contact-book addresses per search */
#define TAGLEN		(VALID_TAG_MAX * 4 + 1)	/* bytes of one tag + NUL */

/* An answer waiting on the commit of a tag or attention change. */
struct wans {
	struct rclient	*cl;
	int64_t		 re;
	int		 kind;		/* 't' tags, 'a' attention */
	char		 tags[sizeof(((struct conv *)0)->tags)];
};

/* The request being handled, naming refusals as the other handlers do. */
static const char *req_name = "work";

static void
refuse(struct rclient *cl, int64_t re, const char *code, const char *msg)
{
	char why[700];

	snprintf(why, sizeof(why), "%s: %s", req_name, msg);
	if (cl->alive)
		bus_answer_err(cl->c, re, code, why);
}

/* The caller, or NULL after refusing someone who is not an agent. */
static struct who *
caller(struct rclient *cl, int64_t re)
{
	struct who *w = auth_who(cl);

	if (w->role == RR_NONE) {
		refuse(cl, re, "denied", "you are not a parley agent");
		return NULL;
	}
	return w;
}

/* Pack "a,b,c" as an array of strings. */
static void
pack_tags(msgpack_packer *pk, const char *tags)
{
	const char *p, *e;
	uint32_t n = 0;

	for (p = tags; *p; p = *e ? e + 1 : e) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if (e > p)
			n++;
	}
	msgpack_pack_array(pk, n);
	for (p = tags; *p; p = *e ? e + 1 : e) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if (e > p)
			mp_pack_strn(pk, p, (size_t)(e - p));
	}
}

static void
wanswered(void *arg, int ok)
{
	struct wans *a = arg;
	struct fbuf fb;

	if (a->cl->alive) {
		if (!ok)
			bus_answer_err(a->cl->c, a->re, "store",
			    store_error(R->st));
		else if (a->kind == 't') {
			fbuf_init(&fb);
			bus_answer_begin(&fb, a->re, 1);
			mp_pack_cstr(&fb.pk, "tags");
			pack_tags(&fb.pk, a->tags);
			bus_send(a->cl->c, &fb);
			fbuf_free(&fb);
		} else {
			fbuf_init(&fb);
			bus_answer_begin(&fb, a->re, 0);
			bus_send(a->cl->c, &fb);
			fbuf_free(&fb);
		}
	}
	client_unref(a->cl);
	free(a);
}

static struct wans *
wans_new(struct rclient *cl, int64_t re, int kind)
{
	struct wans *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatalx("out of memory");
	a->cl = cl;
	a->re = re;
	a->kind = kind;
	client_ref(cl);
	return a;
}

/* Find conv for a write; 0, or -1 after refusing (answered). */
static int
conv_for_write(struct rclient *cl, int64_t re, MDB_txn *txn, const char *id,
    struct conv *cv)
{
	char why[160];
	int rc;

	if ((rc = conv_get(txn, id, cv)) == MDB_NOTFOUND) {
		snprintf(why, sizeof(why), "no conversation %.64s", id);
		refuse(cl, re, "notfound", why);
		return -1;
	}
	if (rc != 0) {
		log_warnx("conv=%s cannot be read: %s", id, mdb_strerror(rc));
		refuse(cl, re, "store", mdb_strerror(rc));
		return -1;
	}
	return auth_check_conv(cl, re, cv);
}

/* ------------------------------------------------------------- tags */

/* Index of tag t (n bytes) in list "a,b,c", or -1. */
static int
tag_find(char list[][TAGLEN], int n, const char *t)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], t) == 0)
			return i;
	return -1;
}

/*
 * Read the add/remove arrays of f into add[]/del[]: each a valid tag.
 * 0, or -1 with why.
 */
static int
tag_args(const msgpack_object *f, const char *key,
    char out[][TAGLEN], int *nout, int max, char *why,
    size_t whysz)
{
	const msgpack_object *a = mp_get(f, key), *o;
	char err[160], t[TAGLEN];
	uint32_t i;

	*nout = 0;
	if (a == NULL || a->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (a->type != MSGPACK_OBJECT_ARRAY) {
		snprintf(why, whysz, "%s must be a list of tags", key);
		return -1;
	}
	for (i = 0; i < a->via.array.size; i++) {
		o = &a->via.array.ptr[i];
		if (o->type != MSGPACK_OBJECT_STR) {
			snprintf(why, whysz, "%s must be a list of tags", key);
			return -1;
		}
		if (o->via.str.size >= sizeof(t)) {
			snprintf(why, whysz, "tag \"%.30s...\" is longer than "
			    "%d characters", o->via.str.ptr, VALID_TAG_MAX);
			return -1;
		}
		memcpy(t, o->via.str.ptr, o->via.str.size);
		t[o->via.str.size] = '\0';
		if (strlen(t) != o->via.str.size || !valid_tag(t, err,
		    sizeof(err))) {
			snprintf(why, whysz, "%s", err);
			return -1;
		}
		if (tag_find(out, *nout, t) != -1)
			continue;
		if (*nout == max) {
			snprintf(why, whysz, "a conversation has at most %d "
			    "tags", TAGS_MAX);
			return -1;
		}
		memcpy(out[(*nout)++], t, strlen(t) + 1);
	}
	return 0;
}

/*
 * {t:"tag", id, conv, add:[..], remove:[..]} -> {ok, tags:[..]}
 * Removes first, then adds; more than TAGS_MAX tags is refused with the
 * current ones named.  A change appends a "tag" event.
 */
void
work_tag(struct rclient *cl, const msgpack_object *f)
{
	char id[R_IDLEN], why[600], newtags[sizeof(((struct conv *)0)->tags)];
	char add[8][TAGLEN], del[8][TAGLEN],
	    cur[TAGS_MAX + 8][TAGLEN];
	int nadd, ndel, ncur = 0, nnew = 0, i, rc, j;
	int64_t re = 0;
	struct conv cv;
	struct who *w;
	struct wans *a;
	msgpack_packer *pk;
	MDB_txn *txn;
	char *p, *save, buf[sizeof(newtags)], list[TAGS_MAX * (TAGLEN + 2)];
	size_t len;

	req_name = "tag";
	mp_int(f, "id", &re);
	if ((w = caller(cl, re)) == NULL)
		return;
	if (!mp_strcpy(f, "conv", id, sizeof(id)) || id[0] == '\0') {
		refuse(cl, re, "invalid", "conv is required");
		return;
	}
	if (tag_args(f, "add", add, &nadd, 8, why, sizeof(why)) == -1 ||
	    tag_args(f, "remove", del, &ndel, 8, why, sizeof(why)) == -1) {
		refuse(cl, re, "invalid", why);
		return;
	}
	if ((txn = store_txn(R->st)) == NULL) {
		refuse(cl, re, "store", store_error(R->st));
		return;
	}
	if (conv_for_write(cl, re, txn, id, &cv) == -1)
		return;
	snprintf(buf, sizeof(buf), "%s", cv.tags);
	for (p = strtok_r(buf, ",", &save); p && ncur < TAGS_MAX + 8;
	    p = strtok_r(NULL, ",", &save))
		if (tag_find(cur, ncur, p) == -1)
			snprintf(cur[ncur++], sizeof(cur[0]), "%s", p);
	/* the new list: current minus removed, then added ones not there */
	for (i = 0; i < ncur; i++) {
		if (tag_find(del, ndel, cur[i]) != -1)
			continue;
		if (i != nnew)
			memcpy(cur[nnew], cur[i], sizeof(cur[0]));
		nnew++;
	}
	for (i = 0; i < nadd; i++) {
		if (tag_find(cur, nnew, add[i]) != -1)
			continue;
		if (nnew == TAGS_MAX) {
			list[0] = '\0';
			for (j = 0; j < nnew; j++) {
				if (j)
					strcat(list, ", ");
				strcat(list, cur[j]);
			}
			snprintf(why, sizeof(why), "a conversation has at most "
			    "%d tags (it has %s); remove one first", TAGS_MAX,
			    list);
			refuse(cl, re, "invalid", why);
			return;
		}
		memcpy(cur[nnew++], add[i], sizeof(cur[0]));
	}
	for (len = 0, i = 0; i < nnew; i++)
		len += strlen(cur[i]) + (i > 0);
	if (len >= sizeof(newtags)) {
		snprintf(why, sizeof(why), "these tags are too long together "
		    "(%zu bytes, at most %zu)", len, sizeof(newtags) - 1);
		refuse(cl, re, "invalid", why);
		return;
	}
	newtags[0] = '\0';
	for (i = 0; i < nnew; i++) {
		if (i)
			strcat(newtags, ",");
		strcat(newtags, cur[i]);
	}
	a = wans_new(cl, re, 't');
	snprintf(a->tags, sizeof(a->tags), "%s", newtags);
	if (strcmp(newtags, cv.tags) == 0) {
		/* nothing changes: answer with the tags, no event */
		store_after(R->st, wanswered, a);
		return;
	}
	pk = rec_begin(8);
	mp_kv_str(pk, "type", "tag");
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "campaign", cv.campaign);
	mp_pack_cstr(pk, "tags");
	pack_tags(pk, newtags);
	mp_pack_cstr(pk, "add");
	msgpack_pack_array(pk, nadd);
	for (i = 0; i < nadd; i++)
		mp_pack_cstr(pk, add[i]);
	mp_pack_cstr(pk, "remove");
	msgpack_pack_array(pk, ndel);
	for (i = 0; i < ndel; i++)
		mp_pack_cstr(pk, del[i]);
	mp_kv_str(pk, "by", w->agent[0] ? w->agent : NULL);
	mp_kv_int(pk, "ts", daemon_now_ms());
	if ((rc = rec_append(txn, cv.id, NULL)) != 0)
		goto fail;
	snprintf(cv.tags, sizeof(cv.tags), "%s", newtags);
	if ((rc = conv_put(txn, &cv)) != 0)
		goto fail;
	store_after(R->st, wanswered, a);
	return;
fail:
	store_after(R->st, wanswered, a);
	store_fail(R->st, rc, "tagging a conversation");
}

/* -------------------------------------------------------- attention */

/* {t:"attention", id, conv, on:bool} -> {ok}; a change appends an event. */
void
work_attention(struct rclient *cl, const msgpack_object *f)
{
	char id[R_IDLEN];
	int64_t re = 0;
	int on, rc;
	struct conv cv;
	struct who *w;
	struct wans *a;
	msgpack_packer *pk;
	MDB_txn *txn;

	req_name = "attention";
	mp_int(f, "id", &re);
	if ((w = caller(cl, re)) == NULL)
		return;
	if (!mp_strcpy(f, "conv", id, sizeof(id)) || id[0] == '\0') {
		refuse(cl, re, "invalid", "conv is required");
		return;
	}
	if (!mp_bool(f, "on", &on)) {
		refuse(cl, re, "invalid", "on must be true or false");
		return;
	}
	if ((txn = store_txn(R->st)) == NULL) {
		refuse(cl, re, "store", store_error(R->st));
		return;
	}
	if (conv_for_write(cl, re, txn, id, &cv) == -1)
		return;
	a = wans_new(cl, re, 'a');
	if ((cv.attention != 0) == (on != 0)) {
		store_after(R->st, wanswered, a);
		return;
	}
	pk = rec_begin(6);
	mp_kv_str(pk, "type", "attention");
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "campaign", cv.campaign);
	mp_kv_bool(pk, "on", on);
	mp_kv_str(pk, "by", w->agent[0] ? w->agent : NULL);
	mp_kv_int(pk, "ts", daemon_now_ms());
	if ((rc = rec_append(txn, cv.id, NULL)) != 0)
		goto fail;
	cv.attention = on != 0;
	if ((rc = conv_put(txn, &cv)) != 0)
		goto fail;
	store_after(R->st, wanswered, a);
	return;
fail:
	store_after(R->st, wanswered, a);
	store_fail(R->st, rc, "setting attention");
}

/* ----------------------------------------------------------- scans */

/* Which campaigns the caller may see, asked once each per request. */
struct seen {
	const struct who *w;
	int		 n;
	char		 name[SEE_CACHE][64];
	int		 ok[SEE_CACHE];
};

static int
may_see(struct seen *s, const char *campaign)
{
	int i, ok;

	if (s->w->role == RR_ADMIN)
		return 1;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->name[i], campaign) == 0)
			return s->ok[i];
	ok = auth_can_see(s->w, campaign);
	if (s->n < SEE_CACHE) {
		snprintf(s->name[s->n], sizeof(s->name[0]), "%s", campaign);
		s->ok[s->n++] = ok;
	}
	return ok;
}

/* The filters of history and search. */
struct filt {
	int64_t	from, to;		/* 0: unbounded */
	char	campaign[64], agent[64], tag[TAGLEN],
		status[16];
	char	contact[R_ADDRLEN];	/* exact, or digits as a suffix */
	char	q[128];			/* search: name substring */
	char	qdigits[40];		/* search: number digits */
	int	search;
	/* search: the numbers and e-mail addresses of contact-book names */
	char	(*book)[R_ADDRLEN];
	int	nbook;
};

/* The digits of s when s looks like a phone number ("+1 555-0100"). */
static void
digits_of(const char *s, char *out, size_t outsz)
{
	size_t n = 0;

	for (; *s && n + 1 < outsz; s++)
		if (isdigit((unsigned char)*s))
			out[n++] = *s;
	out[n] = '\0';
}

static int
phone_like(const char *s)
{
	int d = 0;

	for (; *s; s++) {
		if (isdigit((unsigned char)*s))
			d++;
		else if (!strchr("+-. ()", *s))
			return 0;
	}
	return d > 0;
}

/* Does address a match wanted digits (exactly, or as its last digits)? */
static int
digits_match(const char *a, const char *want)
{
	char d[R_ADDRLEN];
	size_t n, m;

	digits_of(a, d, sizeof(d));
	n = strlen(d);
	m = strlen(want);
	return m > 0 && n >= m && strcmp(d + n - m, want) == 0;
}

static int
has_tag(const char *tags, const char *t)
{
	size_t n = strlen(t);
	const char *p = tags;

	while ((p = strstr(p, t)) != NULL) {
		if ((p == tags || p[-1] == ',') && (p[n] == ',' ||
		    p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

static int
matches(const struct filt *fl, const struct conv *cv)
{
	int64_t end = cv->last_ts > cv->closed_ts ? cv->last_ts :
	    cv->closed_ts;

	if (fl->search) {
		if (strcmp(cv->id, fl->q) == 0)
			return 1;
		if (fl->q[0] && cv->name[0] && strcasestr(cv->name, fl->q))
			return 1;
		if (fl->qdigits[0] && digits_match(cv->contact, fl->qdigits))
			return 1;
		for (int i = 0; i < fl->nbook; i++)
			if (strcasecmp(cv->contact, fl->book[i]) == 0 ||
			    (cv->contact[0] != '+' && fl->book[i][0] == '+' &&
			    strcmp(cv->contact, fl->book[i] + 1) == 0))
				return 1;
		return strcasecmp(cv->contact, fl->q) == 0;
	}
	if (fl->from && end < fl->from)
		return 0;
	if (fl->to && cv->opened_ts >= fl->to)
		return 0;
	if (fl->campaign[0] && strcmp(cv->campaign, fl->campaign) != 0)
		return 0;
	if (fl->agent[0] && strcmp(cv->agent, fl->agent) != 0)
		return 0;
	if (fl->tag[0] && !has_tag(cv->tags, fl->tag))
		return 0;
	if (fl->status[0] && strcmp(fl->status, "closed") == 0 &&
	    strcmp(cv->status, "closed") != 0)
		return 0;
	if (fl->status[0] && strcmp(fl->status, "open") == 0 &&
	    strcmp(cv->status, "closed") == 0)
		return 0;
	if (fl->contact[0] && strcmp(cv->contact, fl->contact) != 0) {
		char d[40];

		if (!phone_like(fl->contact))
			return 0;
		digits_of(fl->contact, d, sizeof(d));
		if (!digits_match(cv->contact, d))
			return 0;
	}
	return 1;
}

/* limit and after of a query; 0, or -1 after refusing. */
static int
page_args(struct rclient *cl, int64_t re, const msgpack_object *f,
    int64_t *limit, char *after, size_t aftersz)
{
	*limit = LIMIT_DEFAULT;
	after[0] = '\0';
	if (mp_get(f, "limit") && (!mp_int(f, "limit", limit) ||
	    *limit < 1)) {
		refuse(cl, re, "invalid", "limit must be a positive number");
		return -1;
	}
	if (*limit > LIMIT_MAX)
		*limit = LIMIT_MAX;
	if (mp_get(f, "after") && mp_get(f, "after")->type !=
	    MSGPACK_OBJECT_NIL && !mp_strcpy(f, "after", after, aftersz)) {
		refuse(cl, re, "invalid", "after must be a conversation id");
		return -1;
	}
	return 0;
}

/*
 * Scan the conversations after `after` in id order (oldest first) and
 * answer {convs, more, next} with the stored records that match.
 */
static void
scan_answer(struct rclient *cl, int64_t re, const struct filt *fl,
    int64_t limit, const char *after)
{
	struct seen seen;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v, *vals;
	struct conv cv;
	struct fbuf fb;
	char key[R_IDLEN], next[R_IDLEN] = "";
	size_t n = 0, bytes = 0, scanned = 0;
	int rc, more = 0;

	memset(&seen, 0, sizeof(seen));
	seen.w = auth_who(cl);
	if ((rc = store_rtxn(R->st, &txn)) != 0) {
		refuse(cl, re, "store", mdb_strerror(rc));
		return;
	}
	if ((vals = calloc((size_t)limit, sizeof(*vals))) == NULL)
		fatalx("out of memory");
	if ((rc = mdb_cursor_open(txn, R->db_convs, &cur)) != 0) {
		mdb_txn_abort(txn);
		free(vals);
		refuse(cl, re, "store", mdb_strerror(rc));
		return;
	}
	k.mv_size = strlen(after);
	k.mv_data = (void *)after;
	rc = after[0] ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) :
	    mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	if (rc == 0 && after[0] && k.mv_size == strlen(after) &&
	    memcmp(k.mv_data, after, k.mv_size) == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size >= sizeof(key))
			continue;
		if (scanned++ == SCAN_MAX) {
			/* continue after the last one looked at */
			more = 1;
			break;
		}
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if (conv_get(txn, key, &cv) != 0 || !matches(fl, &cv) ||
		    !may_see(&seen, cv.campaign)) {
			snprintf(next, sizeof(next), "%s", key);
			continue;
		}
		if (n == (size_t)limit || bytes + v.mv_size > ANS_BYTES) {
			/* continue after the last one answered */
			more = 1;
			break;
		}
		vals[n++] = v;
		bytes += v.mv_size;
		snprintf(next, sizeof(next), "%s", key);
	}
	mdb_cursor_close(cur);
	fbuf_init(&fb);
	bus_answer_begin(&fb, re, 3);
	mp_kv_bool(&fb.pk, "more", more);
	mp_kv_str(&fb.pk, "next", more ? next : NULL);
	mp_pack_cstr(&fb.pk, "convs");
	msgpack_pack_array(&fb.pk, n);
	for (size_t i = 0; i < n; i++)
		mp_pack_raw(&fb.pk, vals[i].mv_data, vals[i].mv_size);
	mdb_txn_abort(txn);
	if (cl->alive)
		bus_send(cl->c, &fb);
	fbuf_free(&fb);
	free(vals);
}

/* A time argument: ms, or RFC 3339 text.  1 present, 0 absent, -1 bad. */
static int
time_arg(const msgpack_object *f, const char *key, int64_t *ms)
{
	const msgpack_object *o = mp_get(f, key);
	char buf[64];

	*ms = 0;
	if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (mp_int(f, key, ms))
		return *ms > 0 ? 1 : -1;
	if (!mp_strcpy(f, key, buf, sizeof(buf)) || rec_ts_parse(buf, ms) ==
	    -1 || *ms <= 0)
		return -1;
	return 1;
}

/* A string filter; 0, or -1 after refusing. */
static int
str_arg(struct rclient *cl, int64_t re, const msgpack_object *f,
    const char *key, char *buf, size_t bufsz)
{
	const msgpack_object *o = mp_get(f, key);
	char why[120];

	buf[0] = '\0';
	if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (!mp_strcpy(f, key, buf, bufsz)) {
		snprintf(why, sizeof(why), "%s must be a string of at most "
		    "%zu bytes", key, bufsz - 1);
		refuse(cl, re, "invalid", why);
		return -1;
	}
	return 0;
}

/*
 * {t:"history", id, from?, to?, campaign?, agent?, contact?, tag?,
 *  status?, after?, limit?} -> {ok, convs, more, next}
 * A conversation is in [from, to) when it was active then: opened before
 * to, and its last message (or close) at or after from.
 */
void
work_history(struct rclient *cl, const msgpack_object *f)
{
	struct filt fl;
	char after[R_IDLEN];
	int64_t re = 0, limit;

	req_name = "history";
	mp_int(f, "id", &re);
	if (caller(cl, re) == NULL)
		return;
	memset(&fl, 0, sizeof(fl));
	if (time_arg(f, "from", &fl.from) == -1 ||
	    time_arg(f, "to", &fl.to) == -1) {
		refuse(cl, re, "invalid", "from and to must be RFC 3339 times "
		    "or milliseconds since the epoch");
		return;
	}
	if (fl.from && fl.to && fl.to <= fl.from) {
		refuse(cl, re, "invalid", "to must be later than from");
		return;
	}
	if (str_arg(cl, re, f, "campaign", fl.campaign,
	    sizeof(fl.campaign)) == -1 ||
	    str_arg(cl, re, f, "agent", fl.agent, sizeof(fl.agent)) == -1 ||
	    str_arg(cl, re, f, "contact", fl.contact,
	    sizeof(fl.contact)) == -1 ||
	    str_arg(cl, re, f, "tag", fl.tag, sizeof(fl.tag)) == -1 ||
	    str_arg(cl, re, f, "status", fl.status, sizeof(fl.status)) == -1)
		return;
	if (fl.status[0] && strcmp(fl.status, "open") != 0 &&
	    strcmp(fl.status, "closed") != 0) {
		refuse(cl, re, "invalid", "status must be open or closed");
		return;
	}
	if (fl.campaign[0] && !may_see(&(struct seen){ .w = auth_who(cl) },
	    fl.campaign)) {
		char why[160];

		snprintf(why, sizeof(why), "%s is not a member of campaign %s",
		    auth_who(cl)->agent, fl.campaign);
		refuse(cl, re, "denied", why);
		return;
	}
	if (page_args(cl, re, f, &limit, after, sizeof(after)) == -1)
		return;
	scan_answer(cl, re, &fl, limit, after);
}

/*
 * The customers of campaignd's contact book whose name holds q (ASCII
 * case-insensitive): their numbers and e-mail addresses into fl->book, so
 * that a search by name finds SMS conversations, which carry no name.
 * Bounded like the scans; a contact book that cannot be read adds nothing.
 */
static void
book_lookup(struct filt *fl)
{
	char lq[sizeof(fl->q)], id[128], addr[R_ADDRLEN];
	MDB_txn *ct;
	MDB_cursor *cur;
	MDB_dbi dbi, cdbi;
	MDB_val k, v;
	msgpack_unpacked up;
	size_t i, ql, scanned = 0;
	int rc;

	for (i = 0; fl->q[i]; i++)
		lq[i] = (char)tolower((unsigned char)fl->q[i]);
	lq[i] = '\0';
	ql = i;
	/* handles first: a read txn does not see dbis opened after it began */
	if (ql == 0 || camp_dbi("cname", &dbi) != 0 ||
	    camp_dbi("contacts", &cdbi) != 0 || camp_rtxn(&ct) == -1)
		return;
	if (mdb_cursor_open(ct, dbi, &cur) != 0) {
		mdb_txn_abort(ct);
		return;
	}
	if ((fl->book = calloc(BOOK_MAX, sizeof(*fl->book))) == NULL)
		fatalx("out of memory");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 &&
	    scanned++ < SCAN_MAX && fl->nbook + 2 <= BOOK_MAX;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (memmem(k.mv_data, k.mv_size, lq, ql) == NULL ||
		    v.mv_size >= sizeof(id))
			continue;
		memcpy(id, v.mv_data, v.mv_size);
		id[v.mv_size] = '\0';
		msgpack_unpacked_init(&up);
		if (camp_doc(ct, "contacts", id, &up) == 0) {
			if (mp_strcpy(&up.data, "phone", addr, sizeof(addr)) &&
			    addr[0])
				snprintf(fl->book[fl->nbook++], R_ADDRLEN,
				    "%s", addr);
			if (mp_strcpy(&up.data, "email", addr, sizeof(addr)) &&
			    addr[0])
				snprintf(fl->book[fl->nbook++], R_ADDRLEN,
				    "%s", addr);
		}
		msgpack_unpacked_destroy(&up);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(ct);
}

/*
 * {t:"search", id, q, after?, limit?} -> {ok, convs, more, next}
 * By customer name (ASCII case-insensitive substring of the channel's name
 * or of a contact-book name), by number (digits, exact or as the last
 * digits, at least 3), by address, or by conversation id.
 */
void
work_search(struct rclient *cl, const msgpack_object *f)
{
	struct filt fl;
	char after[R_IDLEN], *p;
	int64_t re = 0, limit;

	req_name = "search";
	mp_int(f, "id", &re);
	if (caller(cl, re) == NULL)
		return;
	memset(&fl, 0, sizeof(fl));
	fl.search = 1;
	if (!mp_strcpy(f, "q", fl.q, sizeof(fl.q))) {
		refuse(cl, re, "invalid", "q (a name or a number, at most 127 "
		    "bytes) is required");
		return;
	}
	/* surrounding white space is never meant */
	for (p = fl.q + strlen(fl.q); p > fl.q && isspace((unsigned char)
	    p[-1]); p--)
		p[-1] = '\0';
	for (p = fl.q; isspace((unsigned char)*p); p++)
		;
	memmove(fl.q, p, strlen(p) + 1);
	if (fl.q[0] == '\0') {
		refuse(cl, re, "invalid", "say what to search for: a name or a "
		    "number");
		return;
	}
	if (phone_like(fl.q)) {
		digits_of(fl.q, fl.qdigits, sizeof(fl.qdigits));
		fl.q[0] = '\0';		/* digits are not a name */
		if (strlen(fl.qdigits) < 3) {
			refuse(cl, re, "invalid", "give at least 3 digits of "
			    "a number");
			return;
		}
	}
	if (page_args(cl, re, f, &limit, after, sizeof(after)) == -1)
		return;
	if (fl.q[0])
		book_lookup(&fl);
	scan_answer(cl, re, &fl, limit, after);
	free(fl.book);
}

/* ---------------------------------------------------------- windows */

struct wwin {
	char		conv[R_IDLEN], channel[16], contact[R_ADDRLEN],
			campaign[64], name[128], agent[64], mode[8];
	long long	closes;
};

static int
wwin_cmp(const void *a, const void *b)
{
	const struct wwin *x = a, *y = b;

	if (x->closes != y->closes)
		return x->closes < y->closes ? -1 : 1;
	return strcmp(x->conv, y->conv);
}

/*
 * {t:"window", id, within_ms, limit?} -> {ok, convs:[{conv, channel,
 * contact, campaign, closes_ts, left_ms, ...}], more}: open conversations
 * whose customer-service window is still open and closes within within_ms,
 * soonest first.  Agent-operated Messenger/Instagram conversations count
 * the human-agent extension (7 days).
 */
void
work_window(struct rclient *cl, const msgpack_object *f)
{
	struct seen seen;
	struct wwin *ws = NULL, *e;
	size_t n = 0, cap = 0, i, keep;
	int64_t re = 0, within = 0, limit = LIMIT_DEFAULT;
	long long now = daemon_now_ms(), closes;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	struct conv cv;
	struct fbuf fb;
	char key[R_IDLEN];
	int rc, more = 0, human;

	req_name = "window";
	mp_int(f, "id", &re);
	if (caller(cl, re) == NULL)
		return;
	if (!mp_int(f, "within_ms", &within) || within <= 0 ||
	    within > WITHIN_MAX) {
		refuse(cl, re, "invalid", "within_ms must be a duration in "
		    "milliseconds, more than 0 and at most 30 days");
		return;
	}
	if (mp_get(f, "limit") && (!mp_int(f, "limit", &limit) ||
	    limit < 1)) {
		refuse(cl, re, "invalid", "limit must be a positive number");
		return;
	}
	if (limit > LIMIT_MAX)
		limit = LIMIT_MAX;
	memset(&seen, 0, sizeof(seen));
	seen.w = auth_who(cl);
	if ((rc = store_rtxn(R->st, &txn)) != 0) {
		refuse(cl, re, "store", mdb_strerror(rc));
		return;
	}
	if ((rc = mdb_cursor_open(txn, R->db_convs, &cur)) != 0) {
		mdb_txn_abort(txn);
		refuse(cl, re, "store", mdb_strerror(rc));
		return;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size >= sizeof(key))
			continue;
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if (conv_get(txn, key, &cv) != 0 ||
		    strcmp(cv.status, "closed") == 0 || cv.last_in_ts <= 0)
			continue;
		human = strcmp(cv.mode, "bot") != 0;
		closes = window_closes(cv.channel, cv.last_in_ts, human);
		if (closes <= now || closes - now > within ||
		    !may_see(&seen, cv.campaign))
			continue;
		if (n == cap) {
			if (cap >= 2 * (size_t)limit) {
				/* keep the soonest: sort, drop the rest */
				qsort(ws, n, sizeof(*ws), wwin_cmp);
				n = (size_t)limit;
				more = 1;
			} else {
				cap = cap ? cap * 2 : 64;
				if ((ws = reallocarray(ws, cap,
				    sizeof(*ws))) == NULL)
					fatalx("out of memory");
			}
		}
		e = &ws[n++];
		snprintf(e->conv, sizeof(e->conv), "%s", cv.id);
		snprintf(e->channel, sizeof(e->channel), "%s", cv.channel);
		snprintf(e->contact, sizeof(e->contact), "%s", cv.contact);
		snprintf(e->campaign, sizeof(e->campaign), "%s", cv.campaign);
		snprintf(e->name, sizeof(e->name), "%s", cv.name);
		snprintf(e->agent, sizeof(e->agent), "%s", cv.agent);
		snprintf(e->mode, sizeof(e->mode), "%s", cv.mode);
		e->closes = closes;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (n > 0)
		qsort(ws, n, sizeof(*ws), wwin_cmp);
	keep = n;
	if (keep > (size_t)limit) {
		keep = (size_t)limit;
		more = 1;
	}
	fbuf_init(&fb);
	bus_answer_begin(&fb, re, 2);
	mp_kv_bool(&fb.pk, "more", more);
	mp_pack_cstr(&fb.pk, "convs");
	msgpack_pack_array(&fb.pk, keep);
	for (i = 0; i < keep; i++) {
		e = &ws[i];
		msgpack_pack_map(&fb.pk, 9);
		mp_kv_str(&fb.pk, "conv", e->conv);
		mp_kv_str(&fb.pk, "channel", e->channel);
		mp_kv_str(&fb.pk, "contact", e->contact);
		mp_kv_str(&fb.pk, "name", e->name[0] ? e->name : NULL);
		mp_kv_str(&fb.pk, "campaign", e->campaign);
		mp_kv_str(&fb.pk, "agent", e->agent[0] ? e->agent : NULL);
		mp_kv_str(&fb.pk, "mode", e->mode);
		mp_kv_int(&fb.pk, "closes_ts", e->closes);
		mp_kv_int(&fb.pk, "left_ms", e->closes - now);
	}
	if (cl->alive)
		bus_send(cl->c, &fb);
	fbuf_free(&fb);
	free(ws);
}
