/*
 * routerd_query — the read-only queries of the agent workspace, each
 * answered at once from one short read transaction:
 *
 *   {t:"inbox", id, limit?, after?}      open conversations, overdue marked
 *   {t:"history", id, from?, to?, campaign?, agent?, contact?, tag?,
 *    status?, after?, limit?}            every conversation is kept: these
 *                                        are the "recordings"
 *   {t:"search", id, q, after?, limit?}  by customer name or number
 *   {t:"window", id, within_ms, limit?}  customer-service windows closing
 *   {t:"route", id, conv}                why a conversation is where it is
 *
 * SMS conversations carry no customer name, so a search by name also looks
 * the name up in campaignd's contact book (read-only) and matches those
 * numbers.  A scan is bounded three ways so that one request never stalls
 * the event loop or outgrows a frame: at most `limit` records (500, at
 * most 5000), at most ANS_BYTES of them, and at most SCAN_MAX records
 * looked at.  When any bound stops it the answer says more: true and next:
 * the id to pass as "after" to continue.  Callers only see conversations of
 * campaigns they may see (auth_can_see), decided once per campaign per
 * request.  A handler: it calls routerd_store (the scans), routerd_queue
 * (the routing explanation), routerd_auth, routerd_campaign and lib/.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mp.h"
#include "rec.h"
#include "route.h"
#include "valid.h"
#include "window.h"
#include "routerd.h"

#define LIMIT_DEFAULT	500
#define LIMIT_MAX	5000
#define ANS_BYTES	(900u * 1024)	/* records per answer; frames <= 1 MiB */
#define OUT_BYTES	96u		/* conv_pack_out's fields, at most */
#define SCAN_MAX	200000		/* records looked at per request */
#define WITHIN_MAX	(30LL * 24 * 3600 * 1000)
#define SEE_CACHE	64
#define BOOK_MAX	256		/* contact-book addresses per search */
#define TAGLEN		(VALID_TAG_MAX * 4 + 1)	/* bytes of one tag + NUL */
#define INBOX_MAX	1000
#define INBOX_BYTES	(800u * 1024)

/* A refusal, named by the request ("history: ..."). */
static void
qrefuse(struct rclient *cl, int64_t re, const char *what, const char *code,
    const char *msg)
{
	bus_caller_refuse(&cl->bc, re, code, "%s: %s", what, msg);
}

/* The caller, or NULL after refusing someone who is not an agent. */
static struct who *
caller(struct rclient *cl, int64_t re, const char *what)
{
	struct who *w = auth_who(cl);

	if (w->role == RR_NONE) {
		qrefuse(cl, re, what, "denied", "you are not a parley agent");
		return NULL;
	}
	return w;
}

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
	    cv->status != CV_CLOSED)
		return 0;
	if (fl->status[0] && strcmp(fl->status, "open") == 0 &&
	    cv->status == CV_CLOSED)
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
page_args(struct rclient *cl, int64_t re, const char *what,
    const msgpack_object *f, int64_t *limit, char *after, size_t aftersz)
{
	*limit = LIMIT_DEFAULT;
	after[0] = '\0';
	if (mp_get(f, "limit") && (!mp_int(f, "limit", limit) ||
	    *limit < 1)) {
		qrefuse(cl, re, what, "invalid", "limit must be a positive number");
		return -1;
	}
	if (*limit > LIMIT_MAX)
		*limit = LIMIT_MAX;
	if (mp_get(f, "after") && mp_get(f, "after")->type !=
	    MSGPACK_OBJECT_NIL && !mp_strcpy(f, "after", after, aftersz)) {
		qrefuse(cl, re, what, "invalid", "after must be a conversation id");
		return -1;
	}
	return 0;
}

/* One scan of history or search: what matched, within the bounds. */
struct scan {
	MDB_txn			*txn;
	const struct filt	*fl;
	struct seen		 seen;
	int64_t			 limit;
	MDB_val			*vals;
	size_t			 n, bytes, scanned;
	char			 next[R_IDLEN];
	int			 more;
};

static int
scan_one(const char *id, const MDB_val *v, void *arg)
{
	struct scan *s = arg;
	struct conv cv;

	if (s->scanned++ == SCAN_MAX) {
		/* continue after the last one looked at */
		s->more = 1;
		return 1;
	}
	if (rs_conv_decode(v, &cv) != 0 || !matches(s->fl, &cv) ||
	    !may_see(&s->seen, cv.campaign)) {
		snprintf(s->next, sizeof(s->next), "%s", id);
		return 0;
	}
	if (s->n == (size_t)s->limit ||
	    s->bytes + v->mv_size + OUT_BYTES > ANS_BYTES) {
		/* continue after the last one answered */
		s->more = 1;
		return 1;
	}
	s->vals[s->n++] = *v;
	s->bytes += v->mv_size + OUT_BYTES;
	snprintf(s->next, sizeof(s->next), "%s", id);
	return 0;
}

static void	conv_pack_out(MDB_txn *, msgpack_packer *, const MDB_val *);

/*
 * Scan the conversations after `after` in id order (oldest first) and
 * answer {convs, more, next} with the stored records that match, each with
 * its last outbound message's delivery state (conv_pack_out).
 */
static void
scan_answer(struct rclient *cl, int64_t re, const char *what,
    const struct filt *fl, int64_t limit, const char *after)
{
	struct scan s;
	struct fbuf fb;
	size_t i;
	int rc;

	memset(&s, 0, sizeof(s));
	s.seen.w = auth_who(cl);
	s.fl = fl;
	s.limit = limit;
	if ((rc = store_rtxn(R->st, &s.txn)) != 0) {
		qrefuse(cl, re, what, "store", mdb_strerror(rc));
		return;
	}
	if ((s.vals = calloc((size_t)limit, sizeof(*s.vals))) == NULL)
		fatalx("out of memory");
	if ((rc = rs_convs_walk(s.txn, after, scan_one, &s)) != 0 &&
	    s.n == 0 && !s.more && s.scanned == 0) {
		mdb_txn_abort(s.txn);
		free(s.vals);
		qrefuse(cl, re, what, "store", mdb_strerror(rc));
		return;
	}
	fbuf_init(&fb);
	bus_answer_begin(&fb, re, 3);
	mp_kv_bool(&fb.pk, "more", s.more);
	mp_kv_str(&fb.pk, "next", s.more ? s.next : NULL);
	mp_pack_cstr(&fb.pk, "convs");
	msgpack_pack_array(&fb.pk, s.n);
	for (i = 0; i < s.n; i++)
		conv_pack_out(s.txn, &fb.pk, &s.vals[i]);
	mdb_txn_abort(s.txn);
	bus_caller_send(&cl->bc, &fb);
	fbuf_free(&fb);
	free(s.vals);
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
str_arg(struct rclient *cl, int64_t re, const char *what,
    const msgpack_object *f, const char *key, char *buf, size_t bufsz)
{
	const msgpack_object *o = mp_get(f, key);
	char why[120];

	buf[0] = '\0';
	if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (!mp_strcpy(f, key, buf, bufsz)) {
		snprintf(why, sizeof(why), "%s must be a string of at most "
		    "%zu bytes", key, bufsz - 1);
		qrefuse(cl, re, what, "invalid", why);
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
query_history(struct rclient *cl, const msgpack_object *f)
{
	const char *what = "history";
	struct filt fl;
	char after[R_IDLEN];
	int64_t re = 0, limit;

	mp_int(f, "id", &re);
	if (caller(cl, re, what) == NULL)
		return;
	memset(&fl, 0, sizeof(fl));
	if (time_arg(f, "from", &fl.from) == -1 ||
	    time_arg(f, "to", &fl.to) == -1) {
		qrefuse(cl, re, what, "invalid", "from and to must be RFC 3339 times "
		    "or milliseconds since the epoch");
		return;
	}
	if (fl.from && fl.to && fl.to <= fl.from) {
		qrefuse(cl, re, what, "invalid", "to must be later than from");
		return;
	}
	if (str_arg(cl, re, what, f, "campaign", fl.campaign,
	    sizeof(fl.campaign)) == -1 ||
	    str_arg(cl, re, what, f, "agent", fl.agent, sizeof(fl.agent)) == -1 ||
	    str_arg(cl, re, what, f, "contact", fl.contact,
	    sizeof(fl.contact)) == -1 ||
	    str_arg(cl, re, what, f, "tag", fl.tag, sizeof(fl.tag)) == -1 ||
	    str_arg(cl, re, what, f, "status", fl.status, sizeof(fl.status)) == -1)
		return;
	if (fl.status[0] && strcmp(fl.status, "open") != 0 &&
	    strcmp(fl.status, "closed") != 0) {
		qrefuse(cl, re, what, "invalid", "status must be open or closed");
		return;
	}
	if (fl.campaign[0] && !may_see(&(struct seen){ .w = auth_who(cl) },
	    fl.campaign)) {
		char why[160];

		snprintf(why, sizeof(why), "%s is not a member of campaign %s",
		    auth_who(cl)->agent, fl.campaign);
		qrefuse(cl, re, what, "denied", why);
		return;
	}
	if (page_args(cl, re, what, f, &limit, after, sizeof(after)) == -1)
		return;
	scan_answer(cl, re, what, &fl, limit, after);
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
query_search(struct rclient *cl, const msgpack_object *f)
{
	const char *what = "search";
	struct filt fl;
	char after[R_IDLEN], *p;
	int64_t re = 0, limit;

	mp_int(f, "id", &re);
	if (caller(cl, re, what) == NULL)
		return;
	memset(&fl, 0, sizeof(fl));
	fl.search = 1;
	if (!mp_strcpy(f, "q", fl.q, sizeof(fl.q))) {
		qrefuse(cl, re, what, "invalid", "q (a name or a number, at most 127 "
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
		qrefuse(cl, re, what, "invalid", "say what to search for: a name or a "
		    "number");
		return;
	}
	if (phone_like(fl.q)) {
		digits_of(fl.q, fl.qdigits, sizeof(fl.qdigits));
		fl.q[0] = '\0';		/* digits are not a name */
		if (strlen(fl.qdigits) < 3) {
			qrefuse(cl, re, what, "invalid", "give at least 3 digits of "
			    "a number");
			return;
		}
	}
	if (page_args(cl, re, what, f, &limit, after, sizeof(after)) == -1)
		return;
	if (fl.q[0])
		book_lookup(&fl);
	scan_answer(cl, re, what, &fl, limit, after);
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

/* One scan of the windows: open ones closing within `within`. */
struct wscan {
	struct seen	 seen;
	struct wwin	*ws;
	size_t		 n, cap;
	int64_t		 within, limit;
	long long	 now;
	int		 more;
};

static int
window_one(const char *id, const MDB_val *v, void *arg)
{
	struct wscan *s = arg;
	struct wwin *e;
	struct conv cv;
	long long closes;

	if (rs_conv_decode(v, &cv) != 0 || cv.status == CV_CLOSED ||
	    cv.last_in_ts <= 0)
		return 0;
	closes = window_closes(rs_chan_name(cv.channel), cv.last_in_ts,
	    cv.mode != CM_BOT);
	if (closes <= s->now || closes - s->now > s->within ||
	    !may_see(&s->seen, cv.campaign))
		return 0;
	if (s->n == s->cap) {
		if (s->cap >= 2 * (size_t)s->limit) {
			/* keep the soonest: sort, drop the rest */
			qsort(s->ws, s->n, sizeof(*s->ws), wwin_cmp);
			s->n = (size_t)s->limit;
			s->more = 1;
		} else {
			s->cap = s->cap ? s->cap * 2 : 64;
			if ((s->ws = reallocarray(s->ws, s->cap,
			    sizeof(*s->ws))) == NULL)
				fatalx("out of memory");
		}
	}
	e = &s->ws[s->n++];
	snprintf(e->conv, sizeof(e->conv), "%s", cv.id);
	snprintf(e->channel, sizeof(e->channel), "%s",
	    rs_chan_name(cv.channel));
	snprintf(e->contact, sizeof(e->contact), "%s", cv.contact);
	snprintf(e->campaign, sizeof(e->campaign), "%s", cv.campaign);
	snprintf(e->name, sizeof(e->name), "%s", cv.name);
	snprintf(e->agent, sizeof(e->agent), "%s", cv.agent);
	snprintf(e->mode, sizeof(e->mode), "%s", rs_mode_name(cv.mode));
	e->closes = closes;
	return 0;
}

/*
 * {t:"window", id, within_ms, limit?} -> {ok, convs:[{conv, channel,
 * contact, campaign, closes_ts, left_ms, ...}], more}: open conversations
 * whose customer-service window is still open and closes within within_ms,
 * soonest first.  Agent-operated Messenger/Instagram conversations count
 * the human-agent extension (7 days).
 */
void
query_window(struct rclient *cl, const msgpack_object *f)
{
	const char *what = "window";
	struct wscan s;
	struct wwin *e;
	size_t i, keep;
	int64_t re = 0;
	MDB_txn *txn;
	struct fbuf fb;
	int rc;

	memset(&s, 0, sizeof(s));
	s.limit = LIMIT_DEFAULT;
	s.now = daemon_now_ms();
	mp_int(f, "id", &re);
	if (caller(cl, re, what) == NULL)
		return;
	if (!mp_int(f, "within_ms", &s.within) || s.within <= 0 ||
	    s.within > WITHIN_MAX) {
		qrefuse(cl, re, what, "invalid", "within_ms must be a duration "
		    "in milliseconds, more than 0 and at most 30 days");
		return;
	}
	if (mp_get(f, "limit") && (!mp_int(f, "limit", &s.limit) ||
	    s.limit < 1)) {
		qrefuse(cl, re, what, "invalid", "limit must be a positive "
		    "number");
		return;
	}
	if (s.limit > LIMIT_MAX)
		s.limit = LIMIT_MAX;
	s.seen.w = auth_who(cl);
	if ((rc = store_rtxn(R->st, &txn)) != 0) {
		qrefuse(cl, re, what, "store", mdb_strerror(rc));
		return;
	}
	if ((rc = rs_convs_walk(txn, "", window_one, &s)) != 0 && s.n == 0) {
		mdb_txn_abort(txn);
		free(s.ws);
		qrefuse(cl, re, what, "store", mdb_strerror(rc));
		return;
	}
	mdb_txn_abort(txn);
	if (s.n > 0)
		qsort(s.ws, s.n, sizeof(*s.ws), wwin_cmp);
	keep = s.n;
	if (keep > (size_t)s.limit) {
		keep = (size_t)s.limit;
		s.more = 1;
	}
	fbuf_init(&fb);
	bus_answer_begin(&fb, re, 2);
	mp_kv_bool(&fb.pk, "more", s.more);
	mp_pack_cstr(&fb.pk, "convs");
	msgpack_pack_array(&fb.pk, keep);
	for (i = 0; i < keep; i++) {
		e = &s.ws[i];
		msgpack_pack_map(&fb.pk, 9);
		mp_kv_str(&fb.pk, "conv", e->conv);
		mp_kv_str(&fb.pk, "channel", e->channel);
		mp_kv_str(&fb.pk, "contact", e->contact);
		mp_kv_str(&fb.pk, "name", e->name[0] ? e->name : NULL);
		mp_kv_str(&fb.pk, "campaign", e->campaign);
		mp_kv_str(&fb.pk, "agent", e->agent[0] ? e->agent : NULL);
		mp_kv_str(&fb.pk, "mode", e->mode);
		mp_kv_int(&fb.pk, "closes_ts", e->closes);
		mp_kv_int(&fb.pk, "left_ms", e->closes - s.now);
	}
	bus_caller_send(&cl->bc, &fb);
	fbuf_free(&fb);
	free(s.ws);
}

/* -------------------------------------------------------------- inbox */

/* One inbox scan: open conversations the caller may see. */
struct iscan {
	const struct who	*w;
	int64_t			 limit;
	MDB_val			*vals;
	size_t			 n, bytes;
	int			 more;
};

static int
inbox_one(const char *id, const MDB_val *v, void *arg)
{
	struct iscan *s = arg;
	msgpack_unpacked up;
	size_t off = 0;
	int open = 0;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v->mv_data, v->mv_size, &off) ==
	    MSGPACK_UNPACK_SUCCESS) {
		const msgpack_object *st = mp_get(&up.data, "status");

		open = st && mp_streq(st, "open");
		/* agents and supervisors: their campaigns only */
		if (open && s->w->role != RR_ADMIN) {
			char camp[64] = "";

			mp_strcpy(&up.data, "campaign", camp, sizeof(camp));
			open = auth_can_see(s->w, camp);
		}
	}
	msgpack_unpacked_destroy(&up);
	if (!open)
		return 0;
	if (s->n == (size_t)s->limit || s->bytes + v->mv_size > INBOX_BYTES) {
		s->more = 1;
		return 1;
	}
	s->vals[s->n++] = *v;
	s->bytes += v->mv_size;
	return 0;
}

#define SHORT_MIN	10	/* "c_" and 8 of the 26: a unique prefix is
				   never shown shorter */

/* The delivery state of conv's last outbound message into state ("" when
 * none among its last events), with its attempt and next try while under
 * way (pending, retrying). */
struct outst {
	char	state[16];
	int	attempt;
	int64_t	next_ts;
};

static void
last_out_state(MDB_txn *txn, const char *conv, struct outst *o)
{
	char *state = o->state;
	size_t statesz = sizeof(o->state);
	struct rs_cursor c;
	msgpack_unpacked up;
	struct mrec m;
	uint64_t seq;
	MDB_val rec;
	char msgid[R_IDLEN] = "";
	size_t off;
	int rc, n = 0;

	state[0] = '\0';
	o->attempt = 0;
	o->next_ts = 0;
	if (rs_convev_open(txn, conv, &c) != 0)
		return;
	for (rc = rs_convev_last(&c, &seq); rc == 0 && n < 50 && !msgid[0];
	    rc = rs_convev_prev(&c, &seq), n++) {
		if (rs_event_get(txn, seq, &rec) != 0)
			break;
		off = 0;
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, rec.mv_data, rec.mv_size, &off) ==
		    MSGPACK_UNPACK_SUCCESS && mp_get(&up.data, "type") &&
		    mp_streq(mp_get(&up.data, "type"), "message") &&
		    mp_get(&up.data, "dir") &&
		    mp_streq(mp_get(&up.data, "dir"), "out"))
			mp_strcpy(&up.data, "id", msgid, sizeof(msgid));
		msgpack_unpacked_destroy(&up);
	}
	rs_cursor_close(&c);
	if (msgid[0] && rs_mrec_get(txn, msgid, &m) == 0) {
		snprintf(state, statesz, "%s", m.state);
		if (rs_state_underway(m.state)) {
			o->attempt = m.attempt;
			o->next_ts = m.next_ts;
		}
		rs_mrec_free(&m);
	}
}

/* Pack outst's fields (last_out_state, last_out_attempt,
 * last_out_next_ts), those it has; how many is out_n. */
static uint32_t
out_n(const struct outst *o)
{
	return (o->state[0] != '\0') + (o->attempt > 0) + (o->next_ts > 0);
}

static void
out_pack(msgpack_packer *pk, const struct outst *o)
{
	if (o->state[0])
		mp_kv_str(pk, "last_out_state", o->state);
	if (o->attempt > 0)
		mp_kv_int(pk, "last_out_attempt", o->attempt);
	if (o->next_ts > 0)
		mp_kv_int(pk, "last_out_next_ts", o->next_ts);
}

/* Pack the stored conversation record rec with its last outbound
 * message's delivery state (out_pack). */
static void
conv_pack_out(MDB_txn *txn, msgpack_packer *pk, const MDB_val *rec)
{
	char id[R_IDLEN] = "";
	struct outst o;
	msgpack_unpacked up;
	size_t off = 0;
	uint32_t j;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, rec->mv_data, rec->mv_size, &off) !=
	    MSGPACK_UNPACK_SUCCESS || up.data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(&up);
		mp_pack_raw(pk, rec->mv_data, rec->mv_size);
		return;
	}
	memset(&o, 0, sizeof(o));
	if (mp_strcpy(&up.data, "conv", id, sizeof(id)) && id[0])
		last_out_state(txn, id, &o);
	msgpack_pack_map(pk, up.data.via.map.size + out_n(&o));
	for (j = 0; j < up.data.via.map.size; j++) {
		msgpack_pack_object(pk, up.data.via.map.ptr[j].key);
		msgpack_pack_object(pk, up.data.via.map.ptr[j].val);
	}
	out_pack(pk, &o);
	msgpack_unpacked_destroy(&up);
}

/* Pack the stored record rec, plus whether its reply is overdue, its
 * shortest unique id ("short"), the contact-book name ("book_name"), whether
 * it is offered to the caller now ("offered_to_you") and the delivery state
 * of its last outbound message ("last_out_state", and while under way
 * "last_out_attempt", "last_out_next_ts"). */
static void
inbox_pack(MDB_txn *txn, MDB_txn *ct, const struct who *w,
    msgpack_packer *pk, const MDB_val *rec, long long now)
{
	char id[R_IDLEN] = "", contact[R_ADDRLEN] = "", book[128] = "";
	struct outst os;
	int mine = 0, nx;
	msgpack_unpacked up;
	size_t off = 0;
	uint32_t j;
	int64_t ws = 0;
	char camp[64] = "";
	struct camp c;
	int overdue = 0;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, rec->mv_data, rec->mv_size, &off) !=
	    MSGPACK_UNPACK_SUCCESS || up.data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(&up);
		msgpack_pack_nil(pk);
		return;
	}
	mp_strcpy(&up.data, "campaign", camp, sizeof(camp));
	if (mp_int(&up.data, "waiting_since_ts", &ws) && ws > 0) {
		camp_get(camp, &c);
		overdue = now - ws > (long long)c.response_threshold_s * 1000;
	}
	mp_strcpy(&up.data, "conv", id, sizeof(id));
	mp_strcpy(&up.data, "contact", contact, sizeof(contact));
	if (ct != NULL && contact[0])
		camp_contact_name(ct, contact, book, sizeof(book));
	if (id[0] && w->agent[0])
		queue_offers(w->agent, id, &mine);
	memset(&os, 0, sizeof(os));
	if (id[0])
		last_out_state(txn, id, &os);
	nx = 2 + (id[0] != '\0') + (book[0] != '\0') + out_n(&os);
	msgpack_pack_map(pk, up.data.via.map.size + nx);
	for (j = 0; j < up.data.via.map.size; j++) {
		msgpack_pack_object(pk, up.data.via.map.ptr[j].key);
		msgpack_pack_object(pk, up.data.via.map.ptr[j].val);
	}
	mp_kv_bool(pk, "overdue", overdue);
	mp_kv_bool(pk, "offered_to_you", mine);
	if (id[0])
		mp_kv_strn(pk, "short", id, rs_conv_short(txn, id, SHORT_MIN));
	if (book[0])
		mp_kv_str(pk, "book_name", book);
	out_pack(pk, &os);
	msgpack_unpacked_destroy(&up);
}

/* {t:"inbox", id, limit?, after?} -> open conversations */
void
query_inbox(struct rclient *cl, const msgpack_object *f)
{
	int64_t re = 0;
	char after[R_IDLEN] = "";
	struct iscan s;
	MDB_txn *txn, *ct;
	struct fbuf fb;
	size_t i;
	int rc;
	long long now = daemon_now_ms();

	memset(&s, 0, sizeof(s));
	s.w = auth_who(cl);
	s.limit = 500;
	mp_int(f, "id", &re);
	if (mp_get(f, "limit") && (!mp_int(f, "limit", &s.limit) ||
	    s.limit < 1))
		s.limit = 500;
	if (s.limit > INBOX_MAX)
		s.limit = INBOX_MAX;
	mp_strcpy(f, "after", after, sizeof(after));
	if ((rc = store_rtxn(R->st, &txn)) != 0) {
		bus_caller_refuse(&cl->bc, re, "store", "%s", mdb_strerror(rc));
		return;
	}
	if ((s.vals = calloc(s.limit, sizeof(*s.vals))) == NULL)
		fatalx("out of memory");
	/* what was read before an error is answered */
	if ((rc = rs_convs_walk(txn, after, inbox_one, &s)) != 0)
		log_warnx("inbox: %s", mdb_strerror(rc));
	fbuf_init(&fb);
	bus_answer_begin(&fb, re, 2);
	mp_kv_bool(&fb.pk, "more", s.more);
	mp_pack_cstr(&fb.pk, "convs");
	msgpack_pack_array(&fb.pk, s.n);
	if (camp_rtxn(&ct) == -1)
		ct = NULL;
	for (i = 0; i < s.n; i++)
		inbox_pack(txn, ct, s.w, &fb.pk, &s.vals[i], now);
	if (ct != NULL)
		mdb_txn_abort(ct);
	mdb_txn_abort(txn);
	bus_caller_send(&cl->bc, &fb);
	fbuf_free(&fb);
	free(s.vals);
}

/* ------------------------------------------------------ short ids */

void
query_conv(struct rclient *cl, const msgpack_object *f)
{
	char prefix[R_IDLEN], id[R_IDLEN];
	int64_t re = 0;
	MDB_txn *txn;
	struct fbuf fb;
	int rc;

	mp_int(f, "id", &re);
	if (!mp_strcpy(f, "conv", prefix, sizeof(prefix)) ||
	    strncmp(prefix, "c_", 2) != 0 || strlen(prefix) < 3) {
		bus_caller_refuse(&cl->bc, re, "invalid", "conv: a conversation "
		    "id or a prefix of one (c_...) is required");
		return;
	}
	if ((rc = store_rtxn(R->st, &txn)) != 0) {
		bus_caller_refuse(&cl->bc, re, "store", "%s", mdb_strerror(rc));
		return;
	}
	rc = rs_conv_prefix(txn, prefix, id, sizeof(id));
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		bus_caller_refuse(&cl->bc, re, "notfound", "no conversation "
		    "%s...", prefix);
	else if (rc == MDB_KEYEXIST)
		bus_caller_refuse(&cl->bc, re, "invalid", "%s is ambiguous: "
		    "several conversations start so; give more of it", prefix);
	else if (rc != 0)
		bus_caller_refuse(&cl->bc, re, "store", "%s", mdb_strerror(rc));
	else {
		fbuf_init(&fb);
		bus_answer_begin(&fb, re, 1);
		mp_kv_str(&fb.pk, "conv", id);
		bus_caller_send(&cl->bc, &fb);
		fbuf_free(&fb);
	}
}

/* -------------------------------------------------------------- route */

/* {t:"route", id, conv} -> {conv, campaign, strategy, rstate, decision,
 * candidates:[{agent, position, penalty, status, active, metric, why,
 * chosen, offered}]}: routerd_queue's explanation. */
void
query_route(struct rclient *cl, const msgpack_object *f)
{
	static struct queue_explain qx;
	char id[R_IDLEN];
	int64_t re = 0;
	struct conv cv;
	struct fbuf fb;
	MDB_txn *txn;
	size_t i;

	mp_int(f, "id", &re);
	if (!mp_strcpy(f, "conv", id, sizeof(id))) {
		bus_caller_refuse(&cl->bc, re, "invalid", "route: conv is "
		    "required");
		return;
	}
	if (store_rtxn(R->st, &txn) != 0) {
		bus_caller_refuse(&cl->bc, re, "store", "route: store "
		    "unavailable");
		return;
	}
	if (rs_conv_get(txn, id, &cv) != 0) {
		mdb_txn_abort(txn);
		bus_caller_refuse(&cl->bc, re, "notfound", "route: no "
		    "conversation %s", id);
		return;
	}
	mdb_txn_abort(txn);
	if (auth_check_conv(cl, re, &cv) != 0)
		return;
	queue_explain(&cv, &qx);
	fbuf_init(&fb);
	bus_answer_begin(&fb, re, 6);
	mp_kv_str(&fb.pk, "conv", cv.id);
	mp_kv_str(&fb.pk, "campaign", cv.campaign);
	mp_kv_str(&fb.pk, "strategy", qx.strategy);
	mp_kv_str(&fb.pk, "rstate", rs_state_name(cv.rstate));
	mp_kv_str(&fb.pk, "decision", qx.decision);
	mp_pack_cstr(&fb.pk, "candidates");
	msgpack_pack_array(&fb.pk, qx.n);
	for (i = 0; i < qx.n; i++) {
		const struct queue_member *m = &qx.m[i];

		msgpack_pack_map(&fb.pk, 9);
		mp_kv_str(&fb.pk, "agent", m->agent);
		mp_kv_int(&fb.pk, "position", m->position);
		mp_kv_int(&fb.pk, "penalty", m->penalty);
		mp_kv_str(&fb.pk, "status", route_status_name(m->status));
		mp_kv_int(&fb.pk, "active", m->active);
		mp_kv_int(&fb.pk, "metric", m->metric);
		mp_kv_str(&fb.pk, "why", m->why);
		mp_kv_bool(&fb.pk, "chosen", m->chosen);
		mp_kv_bool(&fb.pk, "offered", m->offered);
	}
	bus_caller_send(&cl->bc, &fb);
	fbuf_free(&fb);
}
