/*
 * statsd — live statistics and history folded from routerd's event log
 * (DESIGN §1, metrics.md; the contract is statsd(8)).
 *
 * At start statsd loads its saved fold state and cursor from db/statsd,
 * catches up by reading routerd's event log straight from its LMDB
 * environment (read-only), then subscribes on routerd.sock from the next
 * sequence and folds each event as it comes (statsd_fold.c, a pure
 * function of state and event).  Once a second it lets time pass in the
 * fold (dropouts reached, days that end), sends what changed to stats.sock
 * and /events clients, and commits the dirty hourly rollups with the state
 * and the cursor in one transaction, so a restart counts nothing twice.
 *
 *	statsd [-dn] [-c file] [-R fd]		serve
 *	statsd -r [-x] [-D dir] [-c file]	rebuild from sequence 0 first
 *	statsd -p [-D dir] [-c file]		print the stored rollups and state
 *
 * Listens on statsd.sock (bus frames: report, rebuild, ping), stats.sock
 * (JSON Lines) and HTTP 127.0.0.1:8090 (statsd_listen).
 *
 * This file holds main, the subscription and the timers.  The fold is
 * statsd_fold.c (pure), the entities and Prometheus text statsd_view.c,
 * the stores statsd_store.c, campaignd's thresholds and roles
 * statsd_camp.c, the listeners statsd_sock.c, statsd_http.c and the
 * wallboard statsd_page.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "conf.h"
#include "log.h"
#include "mp.h"
#include "natsbus.h"
#include "proto.h"
#include "rec.h"
#include "statsd.h"

struct statsd	*S;

static struct event	*ev_tick, *ev_soon;
static uint64_t		 batch_id;
static int64_t		 last_commit;
static const char	*opt_dir;
static int		 opt_rebuild, opt_exit, opt_print;
static char		 shard[64];	/* nats_shard, kept over reloads */

#define TOKEN_POLL_S	10		/* seconds between chstatus asks */
static void	poll_tokens(void);

int64_t
statsd_now(void)
{
	return daemon_now_ms() + S->clock_offset;
}

void
statsd_fold_one(uint64_t seq, const msgpack_object *r)
{
	fold_event(S->fold, seq, r);
	S->dirty = 1;
	if (seq > S->sys.log_seq)
		S->sys.log_seq = seq;
}

/* the batches of changes */

void
lines_add(const char *s, size_t n, void *arg)
{
	struct lines *l = arg;

	if (l->len + n + 1 > l->cap) {
		l->cap = (l->len + n + 1) * 2;
		if ((l->b = realloc(l->b, l->cap)) == NULL)
			fatalx("out of memory");
	}
	memcpy(l->b + l->len, s, n);
	l->len += n;
	l->b[l->len++] = '\n';
}

static void
sys_fill(void)
{
	MDB_envinfo ei;
	MDB_stat ms;

	S->sys.subscribers = sock_clients() + http_clients();
	S->sys.following = S->router && bus_is_up(S->router);
	if (mdb_env_info(store_env(S->st), &ei) == 0 &&
	    mdb_env_stat(store_env(S->st), &ms) == 0) {
		S->sys.map_size = ei.me_mapsize;
		S->sys.map_used = (ei.me_last_pgno + 1) * (size_t)ms.ms_psize;
	}
}

static void
batch(int heartbeat)
{
	struct lines l = { 0 };

	sys_fill();
	/* with nobody to tell, computing what changed costs for nothing
	 * (and would slow the fold of a burst): a client that comes gets a
	 * snapshot, and the next batch after it sends everything */
	if (S->sys.subscribers == 0 && !shards_on()) {
		if (htab_count(&S->view.last) > 0)
			view_reset(&S->view);
		return;
	}
	if (view_batch(&S->view, S->fold, &S->sys, statsd_now(), heartbeat,
	    lines_add, &l) > 0) {
		batch_id++;
		sock_broadcast(l.b, l.len);
		http_broadcast(batch_id, l.b, l.len);
		shards_publish(l.b, l.len);
	}
	free(l.b);
}

void
statsd_http_batch(const char *b, size_t len)
{
	http_broadcast(++batch_id, b, len);
}

static void
commit(void)
{
	struct timeval a, b;

	if (!S->dirty)
		return;
	gettimeofday(&a, NULL);
	if (store_state_save(S->fold, -1) == 0) {
		store_commit(S->st);
		S->sys.commits++;
	}
	gettimeofday(&b, NULL);
	S->sys.commit_ms = (double)(b.tv_sec - a.tv_sec) * 1000.0 +
	    (double)(b.tv_usec - a.tv_usec) / 1000.0;
	/* rollups of hours long past leave memory once they are on disk */
	fold_flush(S->fold, NULL, NULL, 48);
	S->dirty = 0;
	last_commit = daemon_now_ms();
}

static void
on_tick(evutil_socket_t fd, short ev, void *arg)
{
	static unsigned ticks;
	static size_t gen;
	size_t g;

	if (++ticks % TOKEN_POLL_S == 0)
		poll_tokens();
	/* campaignd committed: a role may have changed under a subscriber */
	if ((g = camp_gen()) != gen) {
		gen = g;
		sock_recheck();
		http_recheck();
	}
	fold_advance(S->fold, statsd_now());
	if (S->fold->changed)
		S->dirty = 1;
	S->fold->changed = 0;
	batch(1);
	shards_tick();
	if (daemon_now_ms() - last_commit >= S->commit_ms)
		commit();
}

static void
on_soon(evutil_socket_t fd, short ev, void *arg)
{
	batch(0);
}

/* Changes go out within 250 ms of the event that made them (a burst of
 * events makes one batch). */
static void
soon(void)
{
	struct timeval tv = { 0, 250000 };

	if (!evtimer_pending(ev_soon, NULL) && evtimer_add(ev_soon, &tv) == -1)
		log_warnx("cannot arm the batch timer; the next event will");
}

/* routerd.sock: the subscription */

static void
on_sub_answer(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	int64_t seq;

	if (ans == NULL)
		return;
	if (mp_get(ans, "err")) {
		log_warnx("routerd refused the subscription");
		return;
	}
	if (mp_int(ans, "seq", &seq) && (uint64_t)seq > S->sys.log_seq)
		S->sys.log_seq = (uint64_t)seq;
	log_info("following the event log from %llu (routerd at %lld)",
	    (unsigned long long)S->fold->seq + 1, (long long)seq);
}

static void
router_up(struct bus_conn *c, void *arg)
{
	struct fbuf fb;
	int64_t id = bus_next_id(c);

	fbuf_init(&fb);
	fbuf_begin(&fb, 4);
	mp_kv_str(&fb.pk, "t", "sub");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_int(&fb.pk, "since", (int64_t)S->fold->seq + 1);
	mp_kv_bool(&fb.pk, "follow", 1);
	if (bus_request(c, &fb, id, on_sub_answer, NULL) == -1)
		log_warnx("cannot subscribe to routerd");
	fbuf_free(&fb);
}

static void
router_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	const msgpack_object *r;
	int64_t seq;

	switch (proto_type(f)) {
	case PT_EV:
		if (!mp_int(f, "seq", &seq) || seq <= 0 ||
		    (r = mp_get(f, "r")) == NULL)
			return;
		/* the bus hands us a map it unpacked: fold it in place */
		statsd_fold_one((uint64_t)seq, r);
		soon();
		break;
	case PT_SLOW:
		log_warnx("routerd found statsd slow; resuming from %llu",
		    (unsigned long long)S->fold->seq + 1);
		bus_drop(c, "slow subscriber");
		break;
	default:
		break;
	}
}

static const struct bus_handlers router_handlers = {
	.frame = router_frame,
	.up = router_up,
};

/*
 * The channel daemons' addresses and their token state, every TOKEN_POLL_S:
 * whatsappd's numbers and messengerd's Pages and Instagram accounts, each
 * answering chstatus on its socket.  Each daemon's last answer is kept; the
 * view sees them as one list.
 */

enum { TK_WA, TK_MG, TK_N };
static const char *const tk_sock[TK_N] = { "run/whatsappd.sock",
    "run/messengerd.sock" };
static struct bus_conn	*tk_conn[TK_N];
static json_t		*tk_list[TK_N];

/*
 * With bus_transport = nats the channel daemons may run on other hosts:
 * each publishes its chstatus answer every 10 s on chstatus.<prog>.<boot>
 * (natsbus.h), kept here by that name until it is TK_NATS_TTL_S old.
 */
#define TK_NATS_MAX	16
#define TK_NATS_TTL_S	(3 * TOKEN_POLL_S)
static struct {
	char	 name[96];
	int64_t	 seen;
	json_t	*list;
} tk_nats[TK_NATS_MAX];

static void
tk_merge(void)
{
	json_t *all = json_array();
	int i;

	for (i = 0; i < TK_N; i++)
		if (tk_list[i] != NULL)
			json_array_extend(all, tk_list[i]);
	for (i = 0; i < TK_NATS_MAX; i++)
		if (tk_nats[i].list != NULL)
			json_array_extend(all, tk_nats[i].list);
	json_decref(S->sys.tokens);
	S->sys.tokens = all;
}

/* The "channels" array of a chstatus answer, or NULL. */
static json_t *
tk_channels(const msgpack_object *ans)
{
	const msgpack_object *chs;
	json_t *j;

	if (ans == NULL || (chs = mp_get(ans, "channels")) == NULL ||
	    (j = rec_to_json(chs)) == NULL)
		return NULL;
	if (!json_is_array(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static void
on_chstatus(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	json_t *j;
	size_t k = (size_t)(uintptr_t)arg;

	if (k >= TK_N || (j = tk_channels(ans)) == NULL)
		return;
	json_decref(tk_list[k]);
	tk_list[k] = j;
	tk_merge();
}

static void
on_nats_chstatus(const char *subj, const void *data, size_t len, void *arg)
{
	msgpack_unpacked up;
	size_t off = 0, i, slot = TK_NATS_MAX;
	const char *name = strstr(subj, ".chstatus.");
	json_t *j = NULL;
	int64_t now = daemon_now_ms();

	if (name == NULL || strlen(name += 10) >= sizeof(tk_nats[0].name))
		return;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, data, len, &off) ==
	    MSGPACK_UNPACK_SUCCESS && up.data.type == MSGPACK_OBJECT_MAP)
		j = tk_channels(&up.data);
	msgpack_unpacked_destroy(&up);
	if (j == NULL) {
		log_debug("nats: %s: not a chstatus answer", subj);
		return;
	}
	/* its slot, else a free or expired one */
	for (i = 0; i < TK_NATS_MAX; i++)
		if (strcmp(tk_nats[i].name, name) == 0) {
			slot = i;
			break;
		}
	for (i = 0; slot == TK_NATS_MAX && i < TK_NATS_MAX; i++)
		if (tk_nats[i].list == NULL ||
		    now - tk_nats[i].seen > TK_NATS_TTL_S * 1000)
			slot = i;
	if (slot == TK_NATS_MAX) {
		json_decref(j);
		return;
	}
	snprintf(tk_nats[slot].name, sizeof(tk_nats[slot].name), "%s", name);
	tk_nats[slot].seen = now;
	json_decref(tk_nats[slot].list);
	tk_nats[slot].list = j;
	tk_merge();
}

/* Daemons not heard of for TK_NATS_TTL_S are gone from the list. */
static void
tk_expire(void)
{
	int64_t now = daemon_now_ms();
	int i, gone = 0;

	for (i = 0; i < TK_NATS_MAX; i++)
		if (tk_nats[i].list != NULL &&
		    now - tk_nats[i].seen > TK_NATS_TTL_S * 1000) {
			json_decref(tk_nats[i].list);
			tk_nats[i].list = NULL;
			tk_nats[i].name[0] = '\0';
			gone = 1;
		}
	if (gone)
		tk_merge();
}

static void
poll_tokens(void)
{
	struct bus_conn *c;
	struct fbuf fb;
	int64_t id;
	int k;

	tk_expire();
	for (k = 0; k < TK_N; k++) {
		c = tk_conn[k];
		if (c == NULL || !bus_is_up(c) || bus_pending(c) > 0)
			continue;
		id = bus_next_id(c);
		fbuf_init(&fb);
		fbuf_begin(&fb, 2);
		mp_kv_str(&fb.pk, "t", "chstatus");
		mp_kv_int(&fb.pk, "id", id);
		bus_request(c, &fb, id, on_chstatus, (void *)(uintptr_t)k);
		fbuf_free(&fb);
	}
}

static void
tk_up(struct bus_conn *c, void *arg)
{
	poll_tokens();
}

static const struct bus_handlers tk_handlers = {
	.up = tk_up,
};

/* statsd.sock: reports, rebuilds, ping */

static long long rebuild(char *err, size_t errsz, double *secs);

static void
answer_json(struct bus_conn *c, int64_t re, const char *key, json_t *j)
{
	struct fbuf fb;

	fbuf_init(&fb);
	bus_answer_begin(&fb, re, 1);
	mp_pack_cstr(&fb.pk, key);
	if (rec_pack_json(&fb.pk, j) == -1) {
		fbuf_free(&fb);
		bus_answer_err(c, re, "internal", "cannot encode the answer");
		return;
	}
	if (bus_send(c, &fb) == -1)
		bus_answer_err(c, re, "toolarge", "the answer is too large: "
		    "ask for a shorter range or coarser rows");
	fbuf_free(&fb);
}

static void
srv_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	int64_t re = 0, from = 0, to = 0;
	char by[16] = "campaign", camp[64], agent[64], channel[16], tz[64],
	    err[256];
	uid_t uid;
	json_t *j;
	struct fbuf fb;

	if (!bus_check_peer(c, f))
		return;
	mp_int(f, "id", &re);
	switch (proto_type(f)) {
	case PT_PING:
		fbuf_init(&fb);
		bus_answer_begin(&fb, re, 1);
		mp_kv_int(&fb.pk, "seq", (int64_t)S->fold->seq);
		bus_send(c, &fb);
		fbuf_free(&fb);
		return;
	case PT_REPORT:
		if (bus_peer(c, &uid, NULL, NULL) == -1 || camp_role(uid) < 1) {
			bus_deny(c, re, "report: supervisors and admins only");
			return;
		}
		if (!mp_int(f, "from", &from) || !mp_int(f, "to", &to) ||
		    to <= from) {
			bus_answer_err(c, re, "invalid", "report: from and to "
			    "(ms) are required, from before to");
			return;
		}
		mp_strcpy(f, "by", by, sizeof(by));
		if (!mp_strcpy(f, "campaign", camp, sizeof(camp)))
			camp[0] = '\0';
		if (!mp_strcpy(f, "agent", agent, sizeof(agent)))
			agent[0] = '\0';
		if (!mp_strcpy(f, "channel", channel, sizeof(channel)))
			channel[0] = '\0';
		if (!mp_strcpy(f, "tz", tz, sizeof(tz)) || tz[0] == '\0')
			snprintf(tz, sizeof(tz), "%s", S->tz);
		/* what is folded but not yet committed belongs in it too */
		commit();
		if ((j = store_report(from, to, by, camp[0] ? camp : NULL,
		    agent[0] ? agent : NULL, channel[0] ? channel : NULL, tz,
		    err, sizeof(err))) == NULL) {
			bus_answer_err(c, re, "invalid", err);
			return;
		}
		answer_json(c, re, "report", j);
		json_decref(j);
		return;
	case PT_REBUILD: {
		double secs;
		long long n;

		if ((n = rebuild(err, sizeof(err), &secs)) < 0) {
			bus_answer_err(c, re, "store", err);
			return;
		}
		fbuf_init(&fb);
		bus_answer_begin(&fb, re, 2);
		mp_kv_int(&fb.pk, "events", n);
		mp_kv_int(&fb.pk, "ms", (int64_t)(secs * 1000));
		bus_send(c, &fb);
		fbuf_free(&fb);
		return;
	}
	default:
		bus_answer_err(c, re, "unknown", "statsd answers report, "
		    "rebuild and ping");
	}
}

static const struct bus_handlers srv_handlers = {
	.frame = srv_frame,
};

/* the fold's environment */

static struct fold *
fold_make(void)
{
	struct fold_env env;

	memset(&env, 0, sizeof(env));
	env.camp = camp_cfg;
	env.roll_load = store_roll_load;
	snprintf(env.tz, sizeof(env.tz), "%s", S->tz);
	return fold_new(&env);
}

static long
peak_rss_kb(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* CPU seconds used (user and system): the rate a busy machine hides */
static double
cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Replay the whole log into fresh rollups; the events, or -1 with err. */
static long long
rebuild(char *err, size_t errsz, double *secs)
{
	struct timeval a, b;
	long long n;

	gettimeofday(&a, NULL);
	if (S->router) {
		bus_client_free(S->router);
		S->router = NULL;
	}
	if (store_wipe() == -1) {
		snprintf(err, errsz, "cannot empty the rollups: %s",
		    store_error(S->st));
		return -1;
	}
	fold_free(S->fold);
	S->fold = fold_make();
	n = store_replay(S->fold, 1, err, errsz);
	if (n < 0 && strstr(err, "no event log") != NULL)
		n = 0;
	if (n < 0)
		return -1;
	fold_advance(S->fold, statsd_now());
	S->dirty = 1;
	commit();
	gettimeofday(&b, NULL);
	*secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_usec -
	    a.tv_usec) / 1e6;
	S->sys.rebuild_s = *secs;
	log_info("rebuilt from the event log: %lld events in %.2f s "
	    "(%.0f events/s), peak RSS %ld MB", n, *secs,
	    *secs > 0 ? (double)n / *secs : 0.0, peak_rss_kb() / 1024);
	if (!opt_exit && S->d.base) {
		char path[4096];

		daemon_path(&S->d, "run/routerd.sock", path, sizeof(path));
		S->router = bus_client(S->d.base, path, "statsd",
		    &router_handlers, NULL);
	}
	return n;
}

static void
on_term(struct daemon *d)
{
	bus_server_stop(S->srv);
	sock_stop();
	http_stop();
	shards_stop();
	S->dirty = 1;
	commit();
	daemon_stop(d);
}

static void
on_hup(struct daemon *d)
{
	char err[512];
	long long v;

	if (conf_int(d->conf, "store_map_max_mb", 1, 1 << 24, &v, err,
	    sizeof(err)) == 0)
		store_set_max(S->st, (size_t)v << 20);
	if (conf_int(d->conf, "clock_offset_ms", -(1LL << 50), 1LL << 50, &v,
	    err, sizeof(err)) == 0)
		S->clock_offset = v;
	if (http_reload(err, sizeof(err)) == -1)
		log_warnx("SIGHUP: %s; the readers of before are kept", err);
	http_recheck();
	fold_reload_cfg(S->fold);
	soon();
}

static void
usage(void)
{
	fprintf(stderr, "usage: statsd [-dn] [-c file] [-R fd]\n"
	    "       statsd -r [-x] [-D dir] [-c file]\n"
	    "       statsd -p [-D dir] [-c file]\n");
	exit(EX_CONFIG);
}

int
main(int argc, char *argv[])
{
	static struct statsd s;
	char path[4096], err[1024];
	const char *v;
	long long msz, mmax, lv;
	char *dargv[16];
	int dargc = 0, ch, i;
	struct store_db dbs[] = {
		{ "meta", 0, &s.db_meta },
		{ "roll", 0, &s.db_roll },
		{ NULL, 0, NULL },
	};

	S = &s;
	/* statsd's own options; the skeleton's go on to daemon_init */
	dargv[dargc++] = argv[0];
	while ((ch = getopt(argc, argv, "c:dnR:rxpD:")) != -1) {
		switch (ch) {
		case 'c':
		case 'R':
			if (dargc + 2 >= 15)
				usage();
			dargv[dargc++] = ch == 'c' ? "-c" : "-R";
			dargv[dargc++] = optarg;
			break;
		case 'd':
			dargv[dargc++] = "-d";
			break;
		case 'n':
			dargv[dargc++] = "-n";
			break;
		case 'r':
			opt_rebuild = 1;
			break;
		case 'x':
			opt_exit = 1;
			break;
		case 'p':
			opt_print = 1;
			break;
		case 'D':
			opt_dir = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (opt_exit && !opt_rebuild) ||
	    (opt_print && opt_rebuild))
		usage();
	dargv[dargc] = NULL;
	optind = 1;
	daemon_init(&s.d, "statsd", dargc, dargv);
	if (conf_int(s.d.conf, "store_map_size_mb", 1, 1 << 20, &msz, err,
	    sizeof(err)) == -1 ||
	    conf_int(s.d.conf, "store_map_max_mb", 1, 1 << 24, &mmax, err,
	    sizeof(err)) == -1)
		log_exit(EX_CONFIG, "%s", err);
	if (conf_int(s.d.conf, "clock_offset_ms", -(1LL << 50), 1LL << 50,
	    &lv, err, sizeof(err)) == -1)
		log_exit(EX_CONFIG, "%s", err);
	s.clock_offset = lv;
	if (conf_int(s.d.conf, "statsd_commit_ms", 10, 600000, &lv, err,
	    sizeof(err)) == -1)
		log_exit(EX_CONFIG, "%s", err);
	s.commit_ms = (long)lv;
	v = conf_get(s.d.conf, "stats_timezone");
	snprintf(s.tz, sizeof(s.tz), "%s", v && *v ? v : "UTC");
	{
		char *h = NULL;
		int port;

		if (conf_listen(s.d.conf, "statsd_listen", &h, &port, err,
		    sizeof(err)) == -1)
			log_exit(EX_CONFIG, "%s", err);
		free(h);
	}
	if (s.d.check_only)
		daemon_checked(&s.d);
	if (opt_dir)
		snprintf(path, sizeof(path), "%s", opt_dir);
	else
		daemon_path(&s.d, "db/statsd", path, sizeof(path));
	if ((s.st = store_open(s.d.base, path, (size_t)msz << 20,
	    (size_t)mmax << 20, dbs, err, sizeof(err))) == NULL)
		log_exit(EX_TEMP, "%s", err);
	if (opt_print)
		return store_print(stdout);
	s.fold = fold_make();
	view_init(&s.view);
	if (opt_rebuild) {
		double secs;
		long long n;

		if ((n = rebuild(err, sizeof(err), &secs)) < 0)
			log_exit(EX_TEMP, "rebuild: %s", err);
		if (opt_exit) {
			printf("statsd: rebuilt %lld events in %.2f s "
			    "(%.0f events/s; %.2f s of CPU, %.0f events per "
			    "CPU second), peak RSS %ld MB\n", n, secs,
			    secs > 0 ? (double)n / secs : 0.0, cpu_s(),
			    cpu_s() > 0 ? (double)n / cpu_s() : 0.0,
			    peak_rss_kb() / 1024);
			return 0;
		}
	} else {
		long long n;

		if (store_state_load(s.fold) == -1)
			log_exit(EX_TEMP, "the saved state in %s is unreadable;"
			    " statsd -r rebuilds it from the event log", path);
		/* catch up straight from routerd's log, then follow it */
		n = store_replay(s.fold, s.fold->seq + 1, err, sizeof(err));
		if (n > 0) {
			log_info("caught up %lld events from the event log", n);
			s.dirty = 1;
		}
		fold_advance(s.fold, statsd_now());
		s.dirty = 1;
		commit();
		daemon_path(&s.d, "run/routerd.sock", path, sizeof(path));
		s.router = bus_client(s.d.base, path, "statsd",
		    &router_handlers, NULL);
	}
	for (i = 0; i < TK_N; i++) {
		daemon_path(&s.d, tk_sock[i], path, sizeof(path));
		tk_conn[i] = bus_client(s.d.base, path, "statsd", &tk_handlers,
		    NULL);
	}
	daemon_path(&s.d, "run/statsd.sock", path, sizeof(path));
	if ((s.srv = bus_listen(s.d.base, path, &srv_handlers, NULL, err,
	    sizeof(err))) == NULL)
		log_exit(EX_TEMP, "%s", err);
	bus_server_limit(s.srv, &s.d.bus);
	if (sock_listen(err, sizeof(err)) == -1)
		log_exit(EX_TEMP, "%s", err);
	if (http_start(err, sizeof(err)) == -1)
		log_exit(EX_TEMP, "%s", err);
	if ((ev_tick = event_new(s.d.base, -1, EV_PERSIST, on_tick,
	    NULL)) == NULL || (ev_soon = evtimer_new(s.d.base, on_soon,
	    NULL)) == NULL)
		log_exit(EX_TEMP, "event_new failed");
	{
		struct timeval tv = { 1, 0 };

		if (evtimer_add(ev_tick, &tv) == -1)
			log_exit(EX_TEMP, "evtimer_add failed");
	}
	/* channel daemons on other hosts: their token state over NATS */
	if (natsbus_on(s.d.conf)) {
		if (natsbus_start(&s.d, 1, err, sizeof(err)) == -1)
			log_exit(EX_CONFIG, "%s", err);
		natsbus_core_sub("chstatus.*.*", on_nats_chstatus, NULL);
		/* the wallboard shows every shard's campaigns */
		snprintf(shard, sizeof(shard), "%s",
		    conf_get(s.d.conf, "nats_shard"));
		S->sys.shard = shard[0] ? shard : NULL;
		shards_start(S->sys.shard);
	}
	s.d.on_term = on_term;
	s.d.on_hup = on_hup;
	log_info("serving from sequence %llu",
	    (unsigned long long)s.fold->seq);
	daemon_ready(&s.d);
	return daemon_run(&s.d);
}
