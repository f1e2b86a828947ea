/*
 * t_held — answers held until the group commit (lib/held) and the bus
 * callers they hold (lib/bus), with a real LMDB store and a real bus server
 * and client over a Unix socket in a temporary directory: an answer leaves
 * only once its write is on disk, a refusal recorded in the batch waits the
 * same way, an abandoned batch answers err "store", a caller whose
 * connection went first is answered nothing and freed after the commit,
 * and what waited on the same commit runs after the answer either way.
 *
 * Every wait is bounded by a timer (and the whole run by alarm()).
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <lmdb.h>

#include "bus.h"
#include "frame.h"
#include "held.h"
#include "log.h"
#include "mp.h"
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
static struct store *st;
static MDB_dbi dbi_kv;
static char dir[256], sock[300];

static const struct store_db dbs[] = {
	{ "kv", 0, &dbi_kv },
	{ NULL, 0, NULL },
};

/* bounded waits */
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

/* ---- the store ---- */

static int
put_key(MDB_txn *txn, const char *k)
{
	MDB_val key = { strlen(k), (void *)k }, val = { 1, (void *)"1" };

	return mdb_put(txn, dbi_kv, &key, &val, 0);
}

/* 1 when a fresh read transaction sees k: it is committed. */
static int
committed(const char *k)
{
	MDB_txn *txn;
	MDB_val key = { strlen(k), (void *)k }, val;
	int rc;

	if (store_rtxn(st, &txn) != 0)
		return 0;
	rc = mdb_get(txn, dbi_kv, &key, &val);
	mdb_txn_abort(txn);
	return rc == 0;
}

/* ---- the server: one handler per "op" ---- */

static struct {
	int		 then_calls, then_committed;
	int		 ups, downs;
} sv;

static void
then_cb(void *arg, int ok_)
{
	sv.then_calls++;
	sv.then_committed = ok_;
	free(arg);
}

static void
srv_up(struct bus_conn *c, void *arg)
{
	sv.ups++;
	if (bus_caller_attach(c, sizeof(struct bus_caller)) == NULL)
		bus_drop(c, "out of memory");
}

static void
srv_down(struct bus_conn *c, void *arg)
{
	struct bus_caller *bc = bus_data(c);

	sv.downs++;
	if (bc != NULL)
		bus_caller_detach(bc);
}

static void
srv_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	struct bus_caller *bc = bus_data(c);
	char op[16] = "", key[32] = "";
	struct held *h;
	msgpack_packer *pk;
	MDB_txn *txn;
	int64_t id = 0;

	mp_int(f, "id", &id);
	mp_strcpy(f, "op", op, sizeof(op));
	mp_strcpy(f, "key", key, sizeof(key));
	if (strcmp(op, "now") == 0) {
		/* a read while a batch is open: answered at once */
		txn = store_txn(st);
		put_key(txn, key);
		h = held_new(bc, id);
		mp_kv_int(held_ok(h, 1), "x", 1);
		held_now(h);
		return;
	}
	if ((txn = store_txn(st)) == NULL) {
		bus_caller_refuse(bc, id, "store", "%s", store_error(st));
		return;
	}
	h = held_new(bc, id);
	if (strcmp(op, "ok") == 0) {
		put_key(txn, key);
		pk = held_ok(h, 2);
		mp_kv_int(pk, "x", 7);
		/* the answer says whether its write is on disk yet */
		mp_kv_bool(pk, "early", committed(key));
		held_then(h, then_cb, strdup(key));
		held_after(h, st);
	} else if (strcmp(op, "bare") == 0) {
		put_key(txn, key);
		held_after(h, st);
	} else if (strcmp(op, "refuse") == 0) {
		put_key(txn, key);
		held_ok(h, 0);
		held_refuse(h, "refused", "not %s: %d", key, 5);
		held_after(h, st);
	} else if (strcmp(op, "fail") == 0) {
		put_key(txn, key);
		held_then(h, then_cb, strdup(key));
		held_fail(h, st, MDB_BAD_TXN, "testing an abandoned batch");
	} else if (strcmp(op, "gone") == 0) {
		/* the connection goes before the commit: nothing is sent,
		 * the caller lives until the answer lets it go */
		put_key(txn, key);
		mp_kv_int(held_ok(h, 1), "x", 1);
		held_then(h, then_cb, strdup(key));
		held_after(h, st);
		bus_drop(c, "dropped by the test");
	} else {
		held_free(h);
		bus_caller_refuse(bc, id, "unknown", "op %s?", op);
	}
}

static const struct bus_handlers srv_handlers = {
	.frame = srv_frame,
	.up = srv_up,
	.down = srv_down,
};

/* ---- the client ---- */

static struct {
	int		 up, answers;
	int		 got, okv, early, x;
	char		 code[32], msg[128];
} cl;

static void
cli_up(struct bus_conn *c, void *arg)
{
	cl.up = 1;
}

static void
cli_down(struct bus_conn *c, void *arg)
{
	cl.up = 0;
}

static const struct bus_handlers cli_handlers = {
	.up = cli_up,
	.down = cli_down,
};

static void
on_answer(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	const msgpack_object *err;
	int64_t x = 0;

	cl.answers++;
	cl.got = ans != NULL;
	cl.okv = cl.early = 0;
	cl.x = 0;
	cl.code[0] = cl.msg[0] = '\0';
	if (ans == NULL)
		return;
	mp_bool(ans, "ok", &cl.okv);
	mp_bool(ans, "early", &cl.early);
	if (mp_int(ans, "x", &x))
		cl.x = (int)x;
	if ((err = mp_get(ans, "err")) != NULL) {
		mp_strcpy(err, "code", cl.code, sizeof(cl.code));
		mp_strcpy(err, "msg", cl.msg, sizeof(cl.msg));
	}
}

/* Send {t:"ping", id, op, key} and wait for its answer (or the loss). */
static void
ask(struct bus_conn *c, const char *op, const char *key)
{
	struct fbuf fb;
	int64_t id = bus_next_id(c);
	int before = cl.answers;

	fbuf_init(&fb);
	fbuf_begin(&fb, 4);
	mp_kv_str(&fb.pk, "t", "ping");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "op", op);
	mp_kv_str(&fb.pk, "key", key);
	if (bus_request(c, &fb, id, on_answer, NULL) == -1)
		printf("# request %s not sent\n", op);
	fbuf_free(&fb);
	WAIT_UNTIL(cl.answers > before, 10);
}

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

int
main(void)
{
	struct bus_server *srv;
	struct bus_conn *c;
	struct bus_caller *bc;
	struct held *h;
	msgpack_packer *pk;
	char err[512], big[1024];
	int i, then0, downs0;

	alarm(120);	/* never hang, whatever happens */
	log_init("t_held", 0);
	snprintf(dir, sizeof(dir), "/tmp/t_held.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(sock, sizeof(sock), "%s/held.sock", dir);
	if ((base = event_base_new()) == NULL ||
	    event_base_priority_init(base, 3) == -1 ||
	    (ev_timeout = evtimer_new(base, on_timeout, NULL)) == NULL) {
		printf("Bail out! event base\n");
		return 1;
	}
	snprintf(err, sizeof(err), "%s/db", dir);
	if ((st = store_open(base, err, 1 << 20, 1 << 22, dbs, err,
	    sizeof(err))) == NULL ||
	    (srv = bus_listen(base, sock, &srv_handlers, NULL, err,
	    sizeof(err))) == NULL) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	c = bus_client(base, sock, "t_held", &cli_handlers, NULL);
	WAIT_UNTIL(cl.up && sv.ups == 1, 10);
	ok(cl.up && sv.ups == 1, "client connected");

	ask(c, "ok", "k1");
	ok(cl.got && cl.okv && cl.x == 7, "the held answer arrives with its "
	    "fields");
	ok(!cl.early, "it was packed before its write was on disk");
	ok(committed("k1"), "and sent only after the commit: its write is "
	    "there");
	ok(sv.then_calls == 1 && sv.then_committed == 1, "what waited on the "
	    "same commit ran after it, committed");

	ask(c, "bare", "k2");
	ok(cl.got && cl.okv && cl.x == 0 && cl.code[0] == '\0',
	    "an answer never packed is a bare {ok: true}");

	ask(c, "refuse", "k3");
	ok(cl.got && !cl.okv && strcmp(cl.code, "refused") == 0 &&
	    strcmp(cl.msg, "not k3: 5") == 0, "a refusal replaces the ok "
	    "answer, formatted");
	ok(committed("k3"), "a refusal waits for the commit like an answer");

	then0 = sv.then_calls;
	ask(c, "fail", "k4");
	ok(cl.got && strcmp(cl.code, "store") == 0, "an abandoned batch "
	    "answers err \"store\"");
	ok(strstr(cl.msg, "testing an abandoned batch") != NULL,
	    "with the store's reason");
	ok(!committed("k4"), "and its write is not there");
	ok(sv.then_calls == then0 + 1 && sv.then_committed == 0,
	    "what waited on it is told: not committed");

	ask(c, "now", "k5");
	ok(cl.got && cl.okv && cl.x == 1, "held_now answers at once");
	WAIT_UNTIL(committed("k5"), 5);

	then0 = sv.then_calls;
	downs0 = sv.downs;
	ask(c, "gone", "k6");
	ok(!cl.got, "a caller gone before the commit gets no answer");
	WAIT_UNTIL(sv.then_calls > then0, 5);
	ok(sv.downs == downs0 + 1 && committed("k6") &&
	    sv.then_calls == then0 + 1 && sv.then_committed == 1,
	    "the write commits, what waited runs, the caller is let go");
	WAIT_UNTIL(cl.up, 10);
	ask(c, "ok", "k7");
	ok(cl.got && cl.okv, "the client reconnects and is served again");

	/* a caller record without a connection */
	bc = calloc(1, sizeof(*bc));
	bc->refs = 1;
	ok(bus_caller_refuse(bc, 1, "x", "y") == -1, "refusing a caller whose "
	    "connection is gone sends nothing");
	h = held_new(bc, 1);
	ok(bc->refs == 2, "a held answer holds its caller");
	held_ok(h, 0);
	ok(held_fits(h) == 0, "a small answer fits in a frame");
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	pk = held_ok(h, 1100);
	for (i = 0; i < 1100; i++)
		mp_kv_str(pk, "k", big);
	ok(held_fits(h) == -1, "an answer over 1 MiB does not");
	held_free(h);
	ok(bc->refs == 1, "held_free releases it");
	bus_caller_release(bc);	/* freed: ASan would say otherwise */

	bus_client_free(c);
	store_close(st);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
