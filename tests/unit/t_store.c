/*
 * t_store — group commit, batch abandonment, map growth, the event log and
 * the environment's modes (owner only, tightened when an older install left
 * them wider), against a real LMDB environment in a temporary directory.
 *
 * The event base is set up the way daemon_init does it (three priorities) so
 * the commit event runs after the I/O of its pass.  "Requests" are either
 * plain calls made before the loop runs or priority-0 events activated
 * together, as the bus's reads would be.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <lmdb.h>

#include "daemon.h"
#include "evlog.h"
#include "log.h"
#include "store.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
	fflush(stdout);
}

static struct event_base *base;
static char dir[256];
static MDB_dbi dbi_kv, dbi_log, dbi_log2;

static const struct store_db dbs[] = {
	{ "kv", 0, &dbi_kv },
	{ "log", 0, &dbi_log },
	{ "log2", 0, &dbi_log2 },
	{ NULL, 0, NULL },
};

/* the store_on_commit hook: counts batches, settles an event log if set */
struct hook {
	int		 batches, ok, notok;
	struct evlog	*log;
	int		 waiters_seen;	/* waiter callbacks already run at hook time */
};
static struct hook hk;

/* per-request completion records */
#define NREQ_MAX	(3 * STORE_BATCH_MAX + 200)
static int calls[NREQ_MAX], committed_val[NREQ_MAX];
static int ncalls;

static void
hook_cb(void *arg, int committed)
{
	struct hook *h = arg;

	h->batches++;
	if (committed)
		h->ok++;
	else
		h->notok++;
	h->waiters_seen = ncalls;
	if (h->log)
		evlog_settle(h->log, committed);
}

static void
done_cb(void *arg, int committed)
{
	intptr_t i = (intptr_t)arg;

	calls[i]++;
	committed_val[i] = committed;
	ncalls++;
}

static void
reset_calls(void)
{
	memset(calls, 0, sizeof(calls));
	memset(committed_val, -1, sizeof(committed_val));
	ncalls = 0;
	memset(&hk, 0, sizeof(hk));
}

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void
keyname(char *buf, size_t sz, const char *pfx, int i)
{
	snprintf(buf, sz, "%s-%06d", pfx, i);
}

static int
put_kv(MDB_txn *txn, const char *k, const void *v, size_t vlen)
{
	MDB_val key = { strlen(k), (void *)k }, val = { vlen, (void *)v };

	return mdb_put(txn, dbi_kv, &key, &val, 0);
}

/* Number of keys pfx-000000 .. pfx-(cnt-1) visible to a fresh read txn. */
static int
visible(struct store *s, const char *pfx, int cnt)
{
	MDB_txn *rt;
	MDB_val key, val;
	char k[64];
	int i, seen = 0;

	if (store_rtxn(s, &rt) != 0)
		return -1;
	for (i = 0; i < cnt; i++) {
		keyname(k, sizeof(k), pfx, i);
		key.mv_size = strlen(k);
		key.mv_data = k;
		if (mdb_get(rt, dbi_kv, &key, &val) == 0)
			seen++;
	}
	mdb_txn_abort(rt);
	return seen;
}

static int
all_called_with(int cnt, int want)
{
	int i;

	for (i = 0; i < cnt; i++)
		if (calls[i] != 1 || committed_val[i] != want)
			return 0;
	return 1;
}

/* a timeout so that no loop can hang */
static int timed_out;
static struct event *ev_timeout;

static void
on_timeout(evutil_socket_t fd, short ev, void *arg)
{
	timed_out = 1;
	event_base_loopbreak(base);
}

#define WAIT_UNTIL(cond, secs) do {					\
	struct timeval tv_ = { (secs), 0 };				\
	timed_out = 0;							\
	evtimer_add(ev_timeout, &tv_);					\
	while (!(cond) && !timed_out)					\
		event_base_loop(base, EVLOOP_ONCE);			\
	evtimer_del(ev_timeout);					\
} while (0)

/* one "request" per event: all activated in the same pass */
struct req {
	struct store	*s;
	struct event	*ev;
	int		 i;
	int		 put_ok;
	int		 seen_at_start;	/* waiters called before this request */
};

static void
req_run(evutil_socket_t fd, short ev, void *arg)
{
	struct req *r = arg;
	MDB_txn *txn;
	char k[64];

	r->seen_at_start = ncalls + hk.batches;
	keyname(k, sizeof(k), "ev", r->i);
	if ((txn = store_txn(r->s)) == NULL)
		return;
	r->put_ok = put_kv(txn, k, "v", 1) == 0;
	store_after(r->s, done_cb, (void *)(intptr_t)r->i);
}

static void
test_group_commit(struct store *s)
{
	MDB_txn *txn;
	char k[64];
	int i, puts_ok = 1, nvis;
	struct req reqs[100];

	/* 100 requests from outside the loop (same pass) */
	reset_calls();
	store_on_commit(s, hook_cb, &hk);
	for (i = 0; i < 100; i++) {
		keyname(k, sizeof(k), "gc", i);
		if ((txn = store_txn(s)) == NULL) {
			puts_ok = 0;
			break;
		}
		if (put_kv(txn, k, "value", 5) != 0)
			puts_ok = 0;
		store_after(s, done_cb, (void *)(intptr_t)i);
	}
	ok(puts_ok, "group commit: 100 requests got the batch txn and put");
	ok(ncalls == 0 && hk.batches == 0,
	    "group commit: no callback before the loop runs");
	nvis = visible(s, "gc", 100);
	ok(nvis == 0, "group commit: a read txn sees none of the keys yet");
	if (nvis != 0)
		printf("# %d keys visible\n", nvis);
	event_base_loop(base, EVLOOP_ONCE);
	ok(all_called_with(100, 1),
	    "group commit: every callback called exactly once with committed=1");
	ok(hk.batches == 1 && hk.ok == 1,
	    "group commit: one transaction (store_on_commit ran once)");
	ok(hk.waiters_seen == 0,
	    "group commit: the commit hook runs before the waiters");
	ok(visible(s, "gc", 100) == 100,
	    "group commit: all 100 keys visible after the loop pass");

	/* 100 requests as 100 I/O events of one pass */
	reset_calls();
	for (i = 0; i < 100; i++) {
		reqs[i].s = s;
		reqs[i].i = i;
		reqs[i].put_ok = 0;
		reqs[i].seen_at_start = -1;
		reqs[i].ev = event_new(base, -1, 0, req_run, &reqs[i]);
		event_priority_set(reqs[i].ev, DAEMON_PRI_IO);
	}
	for (i = 0; i < 100; i++)
		event_active(reqs[i].ev, 0, 0);
	WAIT_UNTIL(ncalls >= 100, 5);
	puts_ok = 1;
	for (i = 0; i < 100; i++) {
		if (!reqs[i].put_ok || reqs[i].seen_at_start != 0)
			puts_ok = 0;
		event_free(reqs[i].ev);
	}
	ok(puts_ok, "group commit: 100 I/O events all ran before any commit");
	ok(all_called_with(100, 1) && hk.batches == 1,
	    "group commit: 100 I/O events of one pass share one transaction");
	ok(visible(s, "ev", 100) == 100, "group commit: their keys are visible");
}

static void
test_fail(struct store *s)
{
	MDB_txn *txn;
	char k[64];
	int i;

	reset_calls();
	store_on_commit(s, hook_cb, &hk);
	for (i = 0; i < 50; i++) {
		keyname(k, sizeof(k), "fail", i);
		txn = store_txn(s);
		put_kv(txn, k, "x", 1);
		store_after(s, done_cb, (void *)(intptr_t)i);
	}
	store_fail(s, MDB_BAD_VALSIZE, "test failure");
	ok(all_called_with(50, 0),
	    "store_fail: every waiter called once with committed=0");
	ok(hk.batches == 1 && hk.notok == 1,
	    "store_fail: the hook is told the batch was abandoned");
	ok(strstr(store_error(s), "test failure") != NULL,
	    "store_fail: store_error names what failed");
	printf("# store_error: %s\n", store_error(s));
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ok(ncalls == 50 && hk.batches == 1,
	    "store_fail: the loop commits nothing more afterwards");
	ok(visible(s, "fail", 50) == 0, "store_fail: none of its keys visible");

	reset_calls();
	for (i = 0; i < 50; i++) {
		keyname(k, sizeof(k), "after", i);
		txn = store_txn(s);
		if (txn)
			put_kv(txn, k, "y", 1);
		store_after(s, done_cb, (void *)(intptr_t)i);
	}
	WAIT_UNTIL(ncalls >= 50, 5);
	ok(all_called_with(50, 1) && hk.batches == 1 &&
	    visible(s, "after", 50) == 50,
	    "store_fail: the next batch commits normally");
}

static void
test_batch_max(struct store *s)
{
	MDB_txn *txn;
	char k[64];
	int i, total = 2 * STORE_BATCH_MAX + 100, puts_ok = 1;

	reset_calls();
	store_on_commit(s, hook_cb, &hk);
	for (i = 0; i < total; i++) {
		keyname(k, sizeof(k), "bm", i);
		if ((txn = store_txn(s)) == NULL || put_kv(txn, k, "z", 1) != 0)
			puts_ok = 0;
		store_after(s, done_cb, (void *)(intptr_t)i);
	}
	WAIT_UNTIL(ncalls >= total, 10);
	ok(puts_ok, "batch max: every request got a txn and put");
	ok(hk.batches > 1 && hk.notok == 0,
	    "batch max: more than STORE_BATCH_MAX requests span several "
	    "transactions");
	printf("# %d requests in %d transactions\n", total, hk.batches);
	ok(hk.batches == 3, "batch max: exactly ceil(n / STORE_BATCH_MAX) "
	    "transactions");
	ok(all_called_with(total, 1),
	    "batch max: every callback called once with committed=1");
	ok(visible(s, "bm", total) == total, "batch max: all keys visible");
}

static size_t
mapsize(struct store *s)
{
	MDB_envinfo info;

	mdb_env_info(store_env(s), &info);
	return info.me_mapsize;
}

/* One batch of nval 64 KiB values; 1 committed, 0 abandoned, -1 refused. */
static int
big_batch(struct store *s, const char *pfx, int *seq, int nval)
{
	static char val[64 * 1024];
	MDB_txn *txn;
	char k[64];
	int j, rc, before = ncalls;

	memset(val, 'q', sizeof(val));
	for (j = 0; j < nval; j++) {
		if ((txn = store_txn(s)) == NULL)
			return -1;
		keyname(k, sizeof(k), pfx, (*seq)++);
		if ((rc = put_kv(txn, k, val, sizeof(val))) != 0) {
			store_fail(s, rc, "put");
			return 0;
		}
	}
	store_after(s, done_cb, (void *)(intptr_t)0);
	WAIT_UNTIL(ncalls > before, 5);
	return committed_val[0] == 1;
}

/* 64 KiB values under pfx that a read txn can read back intact */
static int
readable(struct store *s, const char *pfx, int cnt)
{
	MDB_txn *rt;
	MDB_val key, val;
	char k[64];
	int i, good = 0;

	if (store_rtxn(s, &rt) != 0)
		return -1;
	for (i = 0; i < cnt; i++) {
		keyname(k, sizeof(k), pfx, i);
		key.mv_size = strlen(k);
		key.mv_data = k;
		if (mdb_get(rt, dbi_kv, &key, &val) == 0 &&
		    val.mv_size == 64 * 1024 &&
		    ((char *)val.mv_data)[0] == 'q' &&
		    ((char *)val.mv_data)[val.mv_size - 1] == 'q')
			good++;
	}
	mdb_txn_abort(rt);
	return good;
}

static void
test_growth(void)
{
	struct store *s;
	char err[256], gdir[300];
	int seq = 0, r = 0, iter, committed = 0, abandoned = 0, fails_in_row;
	int refused_ok, after_reopen, seq2;
	size_t m;
	const size_t MiB = 1024 * 1024;

	snprintf(gdir, sizeof(gdir), "%s/grow", dir);
	reset_calls();
	s = store_open(base, gdir, MiB, 4 * MiB, dbs, err, sizeof(err));
	ok(s != NULL, "growth: store opened with map 1 MiB, max 4 MiB");
	if (s == NULL) {
		printf("# %s\n", err);
		return;
	}
	ok(mapsize(s) == MiB, "growth: the map starts at 1 MiB");
	for (iter = 0; iter < 200; iter++) {
		r = big_batch(s, "big", &seq, 1);
		if (r == -1)
			break;
		if (r == 1)
			committed++;
		else
			abandoned++;
	}
	m = mapsize(s);
	printf("# %d batches committed, %d abandoned, map %zu KiB, "
	    "store_error: %s\n", committed, abandoned, m >> 10,
	    store_error(s));
	ok(r == -1, "growth: store_txn eventually returns NULL (refusal)");
	ok(strstr(store_error(s), "store full") != NULL,
	    "growth: store_error says \"store full\"");
	ok(m > MiB && m <= 4 * MiB, "growth: the map grew past 1 MiB and "
	    "stays at most 4 MiB");
	ok(abandoned == 0, "growth: single-value batches were refused "
	    "up front, never abandoned with MDB_MAP_FULL");
	ok(committed > 16, "growth: more than 1 MiB of data was committed");
	ok(readable(s, "big", seq) == committed,
	    "growth: committed data still readable");
	ok(store_txn(s) == NULL && strstr(store_error(s), "store full"),
	    "growth: still refused on the next attempt");
	store_close(s);

	/* reopen: consistent refusal (at most a few more writes fit) */
	s = store_open(base, gdir, MiB, 4 * MiB, dbs, err, sizeof(err));
	ok(s != NULL, "growth: the full store reopens");
	if (s == NULL) {
		printf("# %s\n", err);
		return;
	}
	ok(readable(s, "big", seq) == committed,
	    "growth: committed data readable after reopen");
	after_reopen = 0;
	refused_ok = 1;
	seq2 = seq;
	for (iter = 0; iter < 10; iter++) {
		r = big_batch(s, "big", &seq2, 1);
		if (r == -1)
			break;
		if (r == 0)
			refused_ok = 0;	/* accepted, then abandoned */
		else
			after_reopen++;
	}
	printf("# after reopen: %d more batches committed, map %zu KiB\n",
	    after_reopen, mapsize(s) >> 10);
	ok(r == -1 && refused_ok && after_reopen <= 2 &&
	    strstr(store_error(s), "store full") != NULL,
	    "growth: after reopen writes are refused again (no abandoned "
	    "batch, at most 2 more fit)");
	ok(mapsize(s) <= 4 * MiB, "growth: map at most 4 MiB after reopen");
	ok(readable(s, "big", seq2) >= committed,
	    "growth: everything committed is readable");
	store_close(s);

	/*
	 * A batch larger than the free space of the current map, well under
	 * map_max: abandoned with MDB_MAP_FULL once, it must fit after the
	 * map grows (the store is meant to grow up to its limit).
	 */
	snprintf(gdir, sizeof(gdir), "%s/grow2", dir);
	reset_calls();
	s = store_open(base, gdir, MiB, 8 * MiB, dbs, err, sizeof(err));
	if (s == NULL) {
		ok(0, "growth: second store opens");
		printf("# %s\n", err);
		return;
	}
	seq = 0;
	fails_in_row = 0;
	for (iter = 0; iter < 10; iter++) {
		int start = seq;

		/* 20 x 64 KiB = 1.3 MiB in one batch: more than the 1 MiB map */
		r = big_batch(s, "b2", &seq, 20);
		if (r == 1)
			break;
		seq = start;
		fails_in_row++;
	}
	printf("# 1.3 MiB batch: %d abandoned attempts, result %d, map %zu KiB,"
	    " store_error: %s\n", fails_in_row, r, mapsize(s) >> 10,
	    store_error(s));
	ok(r == 1, "growth: a batch over the current map's free space "
	    "commits after the map grows (map_max 8 MiB)");
	store_close(s);
}

static void
test_evlog(void)
{
	struct store *s;
	struct evlog l, l2;
	MDB_txn *txn, *rt;
	MDB_cursor *cur;
	MDB_val rec;
	char err[256], ldir[300], rb[64];
	uint64_t seq, want, prev;
	unsigned char ka[8], kb[8];
	int i, inorder, rc, good;

	snprintf(ldir, sizeof(ldir), "%s/log", dir);
	s = store_open(base, ldir, 16u << 20, 64u << 20, dbs, err, sizeof(err));
	ok(s != NULL, "evlog: store opened");
	if (s == NULL) {
		printf("# %s\n", err);
		return;
	}
	reset_calls();
	hk.log = &l;
	store_on_commit(s, hook_cb, &hk);
	store_rtxn(s, &rt);
	rc = evlog_open(&l, rt, dbi_log);
	mdb_txn_abort(rt);
	ok(rc == 0 && l.last == 0 && l.committed == 0,
	    "evlog: an empty log opens with last 0");

	/* 1000 records in two batches */
	inorder = 1;
	for (i = 1; i <= 1000; i++) {
		int len = snprintf(rb, sizeof(rb), "record %d", i);

		txn = store_txn(s);
		if (txn == NULL || evlog_append(&l, txn, rb, len, &seq) != 0 ||
		    seq != (uint64_t)i)
			inorder = 0;
		store_after(s, done_cb, (void *)(intptr_t)(i - 1));
		if (i == 600) {
			ok(l.last == 600 && l.committed == 0,
			    "evlog: last moves on append, committed waits");
			WAIT_UNTIL(ncalls >= 600, 5);
			ok(l.committed == 600,
			    "evlog: the commit hook settles committed");
		}
	}
	WAIT_UNTIL(ncalls >= 1000, 5);
	ok(inorder, "evlog: 1000 appends return seq 1..1000 in order");
	ok(hk.batches == 2 && all_called_with(1000, 1),
	    "evlog: two batches, all committed");
	ok(l.last == 1000 && l.committed == 1000, "evlog: last = committed = "
	    "1000");

	/* an abandoned batch rewinds */
	reset_calls();
	hk.log = &l;
	for (i = 0; i < 10; i++) {
		txn = store_txn(s);
		evlog_append(&l, txn, "doomed", 6, &seq);
		store_after(s, done_cb, (void *)(intptr_t)i);
	}
	ok(l.last == 1010, "evlog: 10 more appended (uncommitted)");
	store_fail(s, MDB_BAD_TXN, "abandon test");
	ok(l.last == 1000 && l.committed == 1000 && all_called_with(10, 0),
	    "evlog: evlog_settle(0) after an abandoned batch rewinds last to "
	    "committed");
	evlog_settle(&l, 0);
	ok(l.last == 1000, "evlog: evlog_settle(0) is idempotent");
	store_rtxn(s, &rt);
	ok(evlog_get(&l, rt, 1001, &rec) == MDB_NOTFOUND,
	    "evlog: the abandoned records are not stored");
	mdb_txn_abort(rt);

	/* big-endian keys */
	evlog_key(255, ka);
	evlog_key(256, kb);
	good = memcmp(ka, kb, 8) < 0;
	evlog_key(65535, ka);
	evlog_key(65536, kb);
	good = good && memcmp(ka, kb, 8) < 0;
	evlog_key(0x0102030405060708ull, ka);
	good = good && ka[0] == 1 && ka[7] == 8 &&
	    evlog_seq(ka) == 0x0102030405060708ull;
	ok(good, "evlog: keys are big-endian and compare numerically");

	/* numeric order across 255/256 and 65535/65536 in LMDB */
	store_rtxn(s, &rt);
	mdb_cursor_open(rt, dbi_log, &cur);
	prev = 0;
	good = 1;
	rc = evlog_seek(cur, 1, &seq, &rec);
	for (i = 0; rc == 0; i++) {
		if (seq != prev + 1)
			good = 0;
		prev = seq;
		rc = evlog_next(cur, &seq, &rec);
	}
	ok(good && i == 1000 && prev == 1000,
	    "evlog: a cursor walks 1..1000 in numeric order (past 255)");
	mdb_cursor_close(cur);
	mdb_txn_abort(rt);

	memset(&hk, 0, sizeof(hk));
	hk.log = &l2;
	store_rtxn(s, &rt);
	evlog_open(&l2, rt, dbi_log2);
	mdb_txn_abort(rt);
	l2.last = l2.committed = 65530;	/* as if 65530 were already there */
	txn = store_txn(s);
	good = 1;
	for (i = 0; i < 10; i++) {
		int len = snprintf(rb, sizeof(rb), "high %d", 65531 + i);

		if (evlog_append(&l2, txn, rb, len, &seq) != 0 ||
		    seq != (uint64_t)(65531 + i))
			good = 0;
	}
	store_commit(s);
	ok(good && l2.committed == 65540,
	    "evlog: appends 65531..65540 with MDB_APPEND (past 65535)");
	store_rtxn(s, &rt);
	mdb_cursor_open(rt, dbi_log2, &cur);
	rc = evlog_seek(cur, 65535, &seq, &rec);
	want = 65535;
	good = rc == 0;
	while (rc == 0) {
		char exp[32];

		snprintf(exp, sizeof(exp), "high %llu", (unsigned long long)want);
		if (seq != want || rec.mv_size != strlen(exp) ||
		    memcmp(rec.mv_data, exp, rec.mv_size) != 0)
			good = 0;
		want++;
		rc = evlog_next(cur, &seq, &rec);
	}
	ok(good && want == 65541 && rc == MDB_NOTFOUND,
	    "evlog: seek 65535 then next gives 65535..65540 in order");
	mdb_cursor_close(cur);
	mdb_txn_abort(rt);

	/* seek 500, next to 1000 with the right bytes */
	store_rtxn(s, &rt);
	mdb_cursor_open(rt, dbi_log, &cur);
	rc = evlog_seek(cur, 500, &seq, &rec);
	want = 500;
	good = rc == 0;
	while (rc == 0) {
		char exp[32];

		snprintf(exp, sizeof(exp), "record %llu",
		    (unsigned long long)want);
		if (seq != want || rec.mv_size != strlen(exp) ||
		    memcmp(rec.mv_data, exp, rec.mv_size) != 0)
			good = 0;
		want++;
		rc = evlog_next(cur, &seq, &rec);
	}
	ok(good && want == 1001 && rc == MDB_NOTFOUND,
	    "evlog: seek(500) then next returns 500..1000 with their bytes");
	ok(evlog_seek(cur, 1001, &seq, &rec) == MDB_NOTFOUND,
	    "evlog: seek past the end is MDB_NOTFOUND");
	ok(evlog_get(&l, rt, 777, &rec) == 0 && rec.mv_size == 10 &&
	    memcmp(rec.mv_data, "record 777", 10) == 0,
	    "evlog: evlog_get(777)");
	mdb_cursor_close(cur);
	mdb_txn_abort(rt);
	store_close(s);

	/* reopen */
	s = store_open(base, ldir, 16u << 20, 64u << 20, dbs, err, sizeof(err));
	if (s == NULL) {
		ok(0, "evlog: reopen");
		printf("# %s\n", err);
		return;
	}
	reset_calls();
	hk.log = &l;
	store_on_commit(s, hook_cb, &hk);
	store_rtxn(s, &rt);
	rc = evlog_open(&l, rt, dbi_log);
	mdb_txn_abort(rt);
	ok(rc == 0 && l.last == 1000 && l.committed == 1000,
	    "evlog: evlog_open on reopen finds last = 1000");
	txn = store_txn(s);
	rc = evlog_append(&l, txn, "after reopen", 12, &seq);
	store_after(s, done_cb, (void *)(intptr_t)0);
	WAIT_UNTIL(ncalls >= 1, 5);
	store_rtxn(s, &rt);
	ok(rc == 0 && seq == 1001 && l.committed == 1001 &&
	    evlog_get(&l, rt, 1001, &rec) == 0 && rec.mv_size == 12,
	    "evlog: the next append after reopen is 1001 and commits");
	mdb_txn_abort(rt);
	store_close(s);
}

/* The permission bits of dir/name (name "" for dir itself); -1 if none. */
static int
mode_of(const char *d, const char *name)
{
	char p[600];
	struct stat sb;

	snprintf(p, sizeof(p), "%s%s%s", d, name[0] ? "/" : "", name);
	return stat(p, &sb) == -1 ? -1 : (int)(sb.st_mode & 07777);
}

/* A new environment is the owner's alone, whatever the umask; one an older
 * install left readable by group and others is tightened when opened. */
static void
test_modes(void)
{
	struct store *s;
	char err[256], mdir[300], p[400];
	mode_t old = umask(022);

	snprintf(mdir, sizeof(mdir), "%s/modes", dir);
	s = store_open(base, mdir, 1u << 20, 1u << 20, dbs, err, sizeof(err));
	umask(old);
	ok(s != NULL, "store_open (modes)");
	if (s == NULL)
		return;
	store_close(s);
	ok(mode_of(mdir, "") == 0700 && mode_of(mdir, "data.mdb") == 0600 &&
	    mode_of(mdir, "lock.mdb") == 0600,
	    "a new environment: directory 0700, data.mdb and lock.mdb 0600");
	chmod(mdir, 0755);
	snprintf(p, sizeof(p), "%s/data.mdb", mdir);
	chmod(p, 0644);
	snprintf(p, sizeof(p), "%s/lock.mdb", mdir);
	chmod(p, 0664);
	s = store_open(base, mdir, 1u << 20, 1u << 20, dbs, err, sizeof(err));
	ok(s != NULL && mode_of(mdir, "") == 0700 &&
	    mode_of(mdir, "data.mdb") == 0600 &&
	    mode_of(mdir, "lock.mdb") == 0600,
	    "an over-wide environment (0755, 0644, 0664) is tightened at open");
	store_close(s);
}

int
main(void)
{
	struct store *s;
	char err[256], kdir[300];

	alarm(300);	/* never hang, whatever happens */
	log_init("t_store", 0);
	snprintf(dir, sizeof(dir), "%s/t_store.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	if ((base = event_base_new()) == NULL ||
	    event_base_priority_init(base, 3) == -1) {
		fprintf(stderr, "event base\n");
		return 99;
	}
	ev_timeout = evtimer_new(base, on_timeout, NULL);

	snprintf(kdir, sizeof(kdir), "%s/kv", dir);
	s = store_open(base, kdir, 16u << 20, 64u << 20, dbs, err, sizeof(err));
	ok(s != NULL, "store_open creates the environment");
	if (s == NULL) {
		printf("# %s\n", err);
		printf("1..%d\n", n);
		return 1;
	}
	test_group_commit(s);
	test_fail(s);
	test_batch_max(s);
	store_close(s);
	test_growth();
	test_evlog();
	test_modes();

	event_free(ev_timeout);
	event_base_free(base);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
