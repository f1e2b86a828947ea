/*
 * t_bus — the bus server and client in one event base, over a Unix socket in
 * a temporary directory: hello, pipelined requests, error answers, hostile
 * peers, peer credentials, backpressure against a peer that does not read,
 * and reconnect with backoff after the server drops its client.
 *
 * Every wait is bounded by a timer (and the whole run by alarm()).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bus.h"
#include "daemon.h"
#include "frame.h"
#include "log.h"
#include "mp.h"
#include "proto.h"

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN	1
#endif
#endif
#ifdef T_ASAN
size_t	__sanitizer_get_current_allocated_bytes(void);
#endif

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

/* heap in use, in bytes */
static size_t
heap_now(void)
{
#ifdef T_ASAN
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#endif
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct event_base *base;
static char dir[256], path[300];

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

/* run the loop for ms milliseconds */
static void
run_for(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	timed_out = 0;
	evtimer_add(ev_timeout, &tv);
	while (!timed_out)
		event_base_loop(base, EVLOOP_ONCE);
}

/* ---- server side ---- */

static struct {
	int		 up, down, frames, hello_seen, kicks;
	struct bus_conn	*last_up;
	size_t		 max_outlen_in, max_outlen_out;
	long		 fat;
	size_t		 heap0, heap_max;
	char		 ping_name[64];
	int		 who_seen, who_rc;
	uid_t		 who_uid;
	pid_t		 who_pid;
} sv;

static void
srv_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	struct fbuf fb;
	int64_t id = 0;
	size_t ol;

	sv.frames++;
	mp_int(f, "id", &id);
	if (mp_streq(mp_get(f, "t"), "hello")) {
		sv.hello_seen++;
		return;
	}
	if (mp_streq(mp_get(f, "t"), "ping")) {
		snprintf(sv.ping_name, sizeof(sv.ping_name), "%s", bus_name(c));
		fbuf_init(&fb);
		bus_answer_begin(&fb, id, 1);
		mp_kv_int(&fb.pk, "seq", id * 10);
		bus_send(c, &fb);
		fbuf_free(&fb);
	} else if (mp_streq(mp_get(f, "t"), "fat")) {
		static char pad[1000];

		if (pad[0] == 0)
			memset(pad, 'p', sizeof(pad));
		ol = bus_outlen(c);
		if (ol > sv.max_outlen_in)
			sv.max_outlen_in = ol;
		fbuf_init(&fb);
		bus_answer_begin(&fb, id, 1);
		mp_kv_strn(&fb.pk, "pad", pad, sizeof(pad));
		bus_send(c, &fb);
		fbuf_free(&fb);
		ol = bus_outlen(c);
		if (ol > sv.max_outlen_out)
			sv.max_outlen_out = ol;
		if (++sv.fat % 1024 == 0) {
			size_t h = heap_now();

			if (h > sv.heap_max)
				sv.heap_max = h;
		}
	} else if (mp_streq(mp_get(f, "t"), "huge")) {
		static char big[900 * 1024];

		if (big[0] == 0)
			memset(big, 'h', sizeof(big));
		fbuf_init(&fb);
		bus_answer_begin(&fb, id, 1);
		mp_kv_strn(&fb.pk, "pad", big, sizeof(big));
		bus_send(c, &fb);
		fbuf_free(&fb);
		ol = bus_outlen(c);
		if (ol > sv.max_outlen_out)
			sv.max_outlen_out = ol;
	} else if (mp_streq(mp_get(f, "t"), "fail")) {
		bus_answer_err(c, id, "nope", "refused on purpose");
	} else if (mp_streq(mp_get(f, "t"), "kick")) {
		sv.kicks++;
		bus_drop(c, "kicked by the test");
	} else if (mp_streq(mp_get(f, "t"), "who")) {
		sv.who_rc = bus_peer(c, &sv.who_uid, NULL, &sv.who_pid);
		sv.who_seen++;
		fbuf_init(&fb);
		bus_answer_begin(&fb, id, 0);
		bus_send(c, &fb);
		fbuf_free(&fb);
	}
}

static void
srv_up(struct bus_conn *c, void *arg)
{
	sv.up++;
	sv.last_up = c;
}

static void
srv_down(struct bus_conn *c, void *arg)
{
	sv.down++;
	if (sv.last_up == c)
		sv.last_up = NULL;
}

static const struct bus_handlers srv_h = {
	srv_frame, srv_up, srv_down, NULL
};

/* ---- client side ---- */

static struct {
	int	up, down, frames;
} cl;

static void
cli_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	cl.frames++;
}

static void
cli_up(struct bus_conn *c, void *arg)
{
	cl.up++;
}

static void
cli_down(struct bus_conn *c, void *arg)
{
	cl.down++;
}

static const struct bus_handlers cli_h = {
	cli_frame, cli_up, cli_down, NULL
};

/* answers to requests */
#define NREQ	1000
static int64_t ids[NREQ];
static int acount[NREQ], agood[NREQ], anull[NREQ];
static int nans;

static void
reset_answers(void)
{
	memset(acount, 0, sizeof(acount));
	memset(agood, 0, sizeof(agood));
	memset(anull, 0, sizeof(anull));
	nans = 0;
}

static void
answer_cb(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	intptr_t i = (intptr_t)arg;
	int64_t re = -1, seq = -1;
	int okv = 0;

	acount[i]++;
	nans++;
	if (ans == NULL) {
		anull[i]++;
		return;
	}
	if (mp_int(ans, "re", &re) && re == ids[i] && mp_bool(ans, "ok", &okv)
	    && okv && mp_int(ans, "seq", &seq) && seq == ids[i] * 10)
		agood[i] = 1;
}

static int
send_req(struct bus_conn *c, const char *t, int i)
{
	struct fbuf fb;
	int r;

	ids[i] = bus_next_id(c);
	fbuf_init(&fb);
	fbuf_begin(&fb, 2);
	mp_kv_str(&fb.pk, "t", t);
	mp_kv_int(&fb.pk, "id", ids[i]);
	r = bus_request(c, &fb, ids[i], answer_cb, (void *)(intptr_t)i);
	fbuf_free(&fb);
	return r;
}

/* pipelined pings, all answered */
static int
ping_round(struct bus_conn *c, int cnt)
{
	int i, sent = 1, good = 1;

	reset_answers();
	for (i = 0; i < cnt; i++)
		if (send_req(c, "ping", i) == -1)
			sent = 0;
	if (!sent)
		return 0;
	WAIT_UNTIL(nans >= cnt, 10);
	for (i = 0; i < cnt; i++)
		if (acount[i] != 1 || !agood[i])
			good = 0;
	return good && nans == cnt && bus_pending(c) == 0;
}

/* error answer */
static struct {
	int	got, good;
} ea;

static void
err_cb(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	const msgpack_object *e;
	int64_t re = -1;
	char code[32], msg[64];

	ea.got++;
	if (ans == NULL)
		return;
	e = mp_get(ans, "err");
	if (mp_int(ans, "re", &re) && re == *(int64_t *)arg &&
	    e && e->type == MSGPACK_OBJECT_MAP && mp_get(ans, "ok") == NULL &&
	    mp_strcpy(e, "code", code, sizeof(code)) &&
	    mp_strcpy(e, "msg", msg, sizeof(msg)) &&
	    strcmp(code, "nope") == 0 && strcmp(msg, "refused on purpose") == 0)
		ea.good = 1;
}

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

/* ---- raw sockets ---- */

static void
set_sun(struct sockaddr_un *sun)
{
	size_t len = strlen(path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (len >= sizeof(sun->sun_path))
		len = sizeof(sun->sun_path) - 1;
	memcpy(sun->sun_path, path, len);
}

static int
raw_connect(void)
{
	struct sockaddr_un sun;
	int fd;

	set_sun(&sun);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int raw_closed;
static size_t raw_readbytes;

static void
raw_read(evutil_socket_t fd, short ev, void *arg)
{
	char buf[4096];
	ssize_t r;

	for (;;) {
		r = read(fd, buf, sizeof(buf));
		if (r > 0) {
			raw_readbytes += r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			raw_closed = 1;	/* EOF or ECONNRESET */
		break;
	}
}

/* Send bytes on a raw connection; 1 if the server drops it. */
static int
hostile(const void *bytes, size_t len)
{
	struct event *ev;
	int fd;

	if ((fd = raw_connect()) == -1)
		return 0;
	if (write(fd, bytes, len) != (ssize_t)len) {
		close(fd);
		return 0;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	raw_closed = 0;
	raw_readbytes = 0;
	ev = event_new(base, fd, EV_READ | EV_PERSIST, raw_read, NULL);
	event_add(ev, NULL);
	WAIT_UNTIL(raw_closed, 5);
	event_free(ev);
	close(fd);
	return raw_closed;
}

/* ---- backpressure: a peer that writes and does not read ---- */

#define BP_N	200000

static struct {
	int		 fd;
	unsigned char	*w;
	size_t		 wlen, wpos, last_wpos;
	int		 still;		/* ticks without write progress */
	int		 phase;		/* 1 writing only, 2 reading too */
	int		 done_w;
	unsigned char	*r;
	size_t		 rlen, rcap;
	long		 answers, inorder, bad;
	int		 closed;
	struct event	*ev_w, *ev_r, *ev_tick;
	size_t		 heap_at_stall, outlen_at_stall;
	long		 fat_at_stall;
} bp;

static void
bp_write(evutil_socket_t fd, short ev, void *arg)
{
	ssize_t w;

	while (bp.wpos < bp.wlen) {
		w = write(fd, bp.w + bp.wpos, bp.wlen - bp.wpos);
		if (w <= 0) {
			if (w == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			bp.closed = 1;
			event_del(bp.ev_w);
			return;
		}
		bp.wpos += w;
	}
	bp.done_w = 1;
	event_del(bp.ev_w);
}

static void
bp_read(evutil_socket_t fd, short ev, void *arg)
{
	msgpack_unpacked up;
	const char *why;
	size_t off, used;
	ssize_t r;
	int64_t re;

	for (;;) {
		if (bp.rcap - bp.rlen < 65536) {
			bp.rcap = bp.rcap ? bp.rcap * 2 : 1 << 20;
			if ((bp.r = realloc(bp.r, bp.rcap)) == NULL)
				abort();
		}
		r = read(fd, bp.r + bp.rlen, bp.rcap - bp.rlen);
		if (r > 0) {
			bp.rlen += r;
			if (bp.rlen > (1 << 20))
				break;	/* parse what we have */
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
			bp.closed = 1;
			event_del(bp.ev_r);
		}
		break;
	}
	msgpack_unpacked_init(&up);
	for (off = 0; off < bp.rlen; off += used) {
		int d = frame_decode((char *)bp.r + off, bp.rlen - off, &up,
		    &used, &why);

		if (d == 0)
			break;
		if (d == -1) {
			bp.bad++;
			off = bp.rlen;
			break;
		}
		if (mp_int(&up.data, "re", &re) && re == bp.answers + 1)
			bp.inorder++;
		bp.answers++;
	}
	msgpack_unpacked_destroy(&up);
	memmove(bp.r, bp.r + off, bp.rlen - off);
	bp.rlen -= off;
}

static void
bp_tick(evutil_socket_t fd, short ev, void *arg)
{
	if (bp.phase != 1)
		return;
	if (bp.wpos == bp.last_wpos && !bp.done_w)
		bp.still++;
	else
		bp.still = 0;
	bp.last_wpos = bp.wpos;
	if (bp.still >= 3) {
		/* the writer is stuck: the server stopped reading */
		bp.heap_at_stall = heap_now();
		bp.outlen_at_stall = sv.last_up ? bus_outlen(sv.last_up) : 0;
		bp.fat_at_stall = sv.fat;
		bp.phase = 2;
		event_add(bp.ev_r, NULL);
	}
}

static void
test_backpressure(struct bus_conn *cli)
{
	struct fbuf fb;
	struct timeval tick = { 0, 100 * 1000 };
	size_t heap0;
	long i;
	int fd;

	memset(&bp, 0, sizeof(bp));
	fbuf_init(&fb);
	bp.w = malloc((size_t)BP_N * 32);
	for (i = 1; i <= BP_N; i++) {
		fbuf_begin(&fb, 2);
		mp_kv_str(&fb.pk, "t", "fat");
		mp_kv_int(&fb.pk, "id", i);
		fbuf_finish(&fb);
		memcpy(bp.w + bp.wlen, fbuf_data(&fb), fbuf_len(&fb));
		bp.wlen += fbuf_len(&fb);
	}
	fbuf_free(&fb);
	sv.fat = 0;
	sv.max_outlen_in = sv.max_outlen_out = 0;
	sv.last_up = NULL;
	if ((fd = raw_connect()) == -1) {
		ok(0, "backpressure: raw connect");
		free(bp.w);
		return;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	bp.fd = fd;
	bp.phase = 1;
	heap0 = heap_now();
	sv.heap_max = heap0;
	bp.ev_w = event_new(base, fd, EV_WRITE | EV_PERSIST, bp_write, NULL);
	bp.ev_r = event_new(base, fd, EV_READ | EV_PERSIST, bp_read, NULL);
	bp.ev_tick = event_new(base, -1, EV_PERSIST, bp_tick, NULL);
	event_add(bp.ev_w, NULL);
	event_add(bp.ev_tick, &tick);

	WAIT_UNTIL(bp.phase == 2 || bp.closed, 60);
	printf("# stalled after %zu of %zu bytes written, %ld answered, "
	    "server output %zu KiB, max outlen %zu KiB\n", bp.wpos, bp.wlen,
	    bp.fat_at_stall, bp.outlen_at_stall >> 10,
	    sv.max_outlen_out >> 10);
	ok(bp.phase == 2 && !bp.done_w && bp.fat_at_stall < BP_N,
	    "backpressure: the writer stalls (the server stops reading)");
	ok(sv.max_outlen_in > BUS_HIWAT - 4096,
	    "backpressure: the server's output reached BUS_HIWAT");
	ok(sv.max_outlen_out < BUS_HIWAT + 64 * 1024,
	    "backpressure: output stays below BUS_HIWAT + 64 KiB");
	printf("# heap: %zu KiB at start, %zu KiB at the stall\n", heap0 >> 10,
	    bp.heap_at_stall >> 10);
	ok(bp.heap_at_stall < heap0 + 32 * 1024 * 1024,
	    "backpressure: the server's memory stays bounded at the stall");

	WAIT_UNTIL(bp.answers >= BP_N || bp.closed, 120);
	event_del(bp.ev_tick);
	printf("# %ld answers (%ld in order, %ld bad), max outlen %zu KiB, "
	    "heap peak %zu KiB\n", bp.answers, bp.inorder, bp.bad,
	    sv.max_outlen_out >> 10, sv.heap_max >> 10);
	ok(bp.answers == BP_N && bp.inorder == BP_N && bp.bad == 0 &&
	    bp.done_w && !bp.closed,
	    "backpressure: once the peer reads, the server resumes and "
	    "answers all 200000 requests in order");
	ok(sv.max_outlen_out < BUS_HIWAT + 64 * 1024,
	    "backpressure: output stayed below BUS_HIWAT + 64 KiB throughout");
	ok(sv.heap_max < heap0 + 32 * 1024 * 1024,
	    "backpressure: heap stayed bounded (200 MB of answers passed)");
	event_free(bp.ev_w);
	event_free(bp.ev_r);
	event_free(bp.ev_tick);
	close(fd);
	free(bp.w);
	free(bp.r);
	WAIT_UNTIL(sv.last_up == NULL, 5);
	ok(ping_round(cli, 10), "backpressure: the bus client is still served");
}

/* ---- peer credentials from a forked child ---- */

static void
test_peer_child(void)
{
	pid_t pid;
	int st = -1;

	sv.who_seen = 0;
	pid = fork();
	if (pid == 0) {
		struct fbuf fb;
		char buf[256];
		int fd = raw_connect();

		if (fd == -1)
			_exit(2);
		fbuf_init(&fb);
		fbuf_begin(&fb, 2);
		mp_kv_str(&fb.pk, "t", "who");
		mp_kv_int(&fb.pk, "id", 1);
		fbuf_finish(&fb);
		if (write(fd, fbuf_data(&fb), fbuf_len(&fb)) !=
		    (ssize_t)fbuf_len(&fb))
			_exit(3);
		/* wait for the answer, then go */
		if (read(fd, buf, sizeof(buf)) <= 0)
			_exit(4);
		_exit(0);
	}
	WAIT_UNTIL(sv.who_seen, 5);
	ok(sv.who_seen == 1 && sv.who_rc == 0 && sv.who_uid == getuid() &&
	    sv.who_pid == pid,
	    "bus_peer: a forked client's uid and pid");
	if (pid > 0) {
		/* bounded wait for the child */
		int i;

		for (i = 0; i < 500 && waitpid(pid, &st, WNOHANG) == 0; i++)
			run_for(10);
		if (i == 500) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
	}
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "bus_peer: the forked client got its answer");
}


/* ---- freeing from inside handlers, each in a forked child ---- */

/*
 * Run fn in a child with its own event base and socket path (the parent's
 * epoll set must not be touched); 1 if the child exited 0.  A sanitizer
 * report or a crash in the child is a failure here.
 */
static int
in_child(void (*fn)(void), const char *name)
{
	pid_t pid;
	int st = -1, i;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0) {
		alarm(60);
		if ((base = event_base_new()) == NULL ||
		    event_base_priority_init(base, 3) == -1)
			_exit(90);
		ev_timeout = evtimer_new(base, on_timeout, NULL);
		snprintf(path, sizeof(path), "%s/%s.sock", dir, name);
		memset(&sv, 0, sizeof(sv));
		memset(&cl, 0, sizeof(cl));
		fn();
		_exit(91);	/* fn exits itself */
	}
	for (i = 0; i < 6000 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(10 * 1000);
	if (i == 6000) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		printf("# %s: child killed after 60 s\n", name);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("# %s: child %s %d\n", name, WIFEXITED(st) ?
		    "exited with" : "killed by signal", WIFEXITED(st) ?
		    WEXITSTATUS(st) : WTERMSIG(st));
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static struct bus_conn *ch_cli;
static int ch_freed, ch_nulls;

static void
down_frees(struct bus_conn *c, void *arg)
{
	cl.down++;
	if (!ch_freed) {
		ch_freed = 1;
		bus_client_free(c);
	}
}

static const struct bus_handlers cli_free_on_down_h = {
	cli_frame, cli_up, down_frees, NULL
};

static void
null_frees(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	if (ans != NULL)
		return;
	ch_nulls++;
	if (!ch_freed) {
		ch_freed = 1;
		bus_client_free(c);
	}
}

static void
kick_client(struct bus_conn *c, bus_answer_cb cb, int extra)
{
	struct fbuf fb;
	int64_t id;
	int i;

	fbuf_init(&fb);
	for (i = 0; i <= extra; i++) {
		id = bus_next_id(c);
		fbuf_begin(&fb, 2);
		mp_kv_str(&fb.pk, "t", i == 0 ? "kick" : "ping");
		mp_kv_int(&fb.pk, "id", id);
		bus_request(c, &fb, id, cb, NULL);
	}
	fbuf_free(&fb);
}

static void
noop_answer(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
}

/* the client's down handler closes the client for good */
static void
child_free_in_down(void)
{
	char err[256];

	if (bus_listen(base, path, &srv_h, NULL, err, sizeof(err)) == NULL)
		_exit(80);
	ch_cli = bus_client(base, path, "c1", &cli_free_on_down_h, NULL);
	WAIT_UNTIL(cl.up == 1 && bus_pending(ch_cli) == 0, 5);
	if (cl.up != 1)
		_exit(81);
	kick_client(ch_cli, noop_answer, 0);
	WAIT_UNTIL(ch_freed, 5);
	run_for(500);	/* a reconnect timer would fire here */
	_exit(ch_freed && cl.down == 1 ? 0 : 82);
}

/* a pending request's NULL answer closes the client for good */
static void
child_free_in_null_answer(void)
{
	char err[256];

	if (bus_listen(base, path, &srv_h, NULL, err, sizeof(err)) == NULL)
		_exit(80);
	ch_cli = bus_client(base, path, "c2", &cli_h, NULL);
	WAIT_UNTIL(cl.up == 1 && bus_pending(ch_cli) == 0, 5);
	if (cl.up != 1)
		_exit(81);
	kick_client(ch_cli, null_frees, 3);
	WAIT_UNTIL(ch_freed, 5);
	run_for(500);
	_exit(ch_freed ? 0 : 82);
}

/*
 * A peer that stops reading after asking for 4.5 MiB (server paused), with a
 * malformed frame queued behind: when the server resumes from its write
 * callback, the malformed frame drops (and frees) the connection inside
 * conn_read, called from conn_write.
 */
static void
child_drop_on_resume(void)
{
	unsigned char out[512], buf[65536];
	static const unsigned char garbage[] = { 0, 0, 0, 4, 0xc1, 0xc1,
	    0xc1, 0xc1 };
	struct fbuf fb;
	size_t len = 0;
	ssize_t r;
	char err[256];
	int fd, i, closed = 0;
	long got = 0;

	if (bus_listen(base, path, &srv_h, NULL, err, sizeof(err)) == NULL)
		_exit(80);
	fbuf_init(&fb);
	for (i = 1; i <= 6; i++) {
		fbuf_begin(&fb, 2);
		mp_kv_str(&fb.pk, "t", "huge");
		mp_kv_int(&fb.pk, "id", i);
		fbuf_finish(&fb);
		memcpy(out + len, fbuf_data(&fb), fbuf_len(&fb));
		len += fbuf_len(&fb);
	}
	fbuf_free(&fb);
	memcpy(out + len, garbage, sizeof(garbage));
	len += sizeof(garbage);
	if ((fd = raw_connect()) == -1 || write(fd, out, len) != (ssize_t)len)
		_exit(81);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* let the server read it all and pause */
	run_for(300);
	if (sv.max_outlen_out <= BUS_HIWAT)
		_exit(83);
	/* now read everything: the server resumes, then drops us */
	for (i = 0; i < 1000 && !closed; i++) {
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			got += r;
		if (r == 0 || (r == -1 && errno != EAGAIN))
			closed = 1;
		run_for(5);
	}
	close(fd);
	_exit(closed ? 0 : 84);
}

/* ---- reconnect ---- */

/*
 * There is no bus_server_free: a stopped server's struct stays allocated.
 * Keep them reachable (external linkage, so the stores are not optimized
 * away) for LeakSanitizer.
 */
struct bus_server *t_bus_servers[2];

static void
test_reconnect(struct bus_conn *cli, struct bus_server *srv)
{
	struct bus_server *srv2;
	char err[256];
	int i, sent = 1, before_kick_ok = 1, after_null = 1, once = 1, fd;
	int up0 = cl.up, down0 = cl.down;
	double t0, dt;
	struct sockaddr_un sun;

	bus_server_stop(srv);
	ok(access(path, F_OK) == -1,
	    "reconnect: bus_server_stop removes the socket path");
	ok(ping_round(cli, 5),
	    "reconnect: a stopped server still serves its clients");

	reset_answers();
	for (i = 0; i < 5; i++)
		if (send_req(cli, "ping", i) == -1)
			sent = 0;
	if (send_req(cli, "kick", 5) == -1)
		sent = 0;
	for (i = 6; i < 11; i++)
		if (send_req(cli, "ping", i) == -1)
			sent = 0;
	ok(sent && bus_pending(cli) == 11, "reconnect: 11 requests pending");
	WAIT_UNTIL(nans >= 11 && cl.down > down0, 5);
	for (i = 0; i < 11; i++) {
		if (acount[i] != 1)
			once = 0;
		if (i < 5 && !(agood[i] || anull[i]))
			before_kick_ok = 0;
		if (i >= 5 && !anull[i])
			after_null = 0;
	}
	ok(once, "reconnect: every pending callback called exactly once");
	ok(after_null && before_kick_ok,
	    "reconnect: requests not answered before the drop get ans NULL");
	ok(cl.down == down0 + 1 && sv.kicks == 1,
	    "reconnect: the client's down handler fired once");
	ok(bus_pending(cli) == 0 && !bus_is_up(cli),
	    "reconnect: nothing pending, the client is down");
	WAIT_UNTIL(bus_server_clients(srv) == 0, 5);
	ok(bus_server_clients(srv) == 0,
	    "reconnect: the server freed the dropped connection");
	ok(send_req(cli, "ping", 0) == -1 && acount[0] == 1,
	    "reconnect: bus_request while down fails without a callback");

	/* a socket file nobody listens on: ECONNREFUSED for a while */
	set_sun(&sun);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		printf("# bind %s: %s\n", path, strerror(errno));
	run_for(700);
	unlink(path);
	close(fd);
	/* no socket at all (ENOENT) for a while */
	run_for(700);
	ok(cl.up == up0, "reconnect: no connection while nobody listens");

	srv2 = bus_listen(base, path, &srv_h, NULL, err, sizeof(err));
	ok(srv2 != NULL, "reconnect: a new bus_listen on the same path");
	if (srv2 == NULL) {
		printf("# %s\n", err);
		return;
	}
	t0 = now_s();
	WAIT_UNTIL(cl.up > up0 && bus_pending(cli) == 0 && bus_is_up(cli), 10);
	dt = now_s() - t0;
	printf("# reconnected after %.2f s\n", dt);
	ok(cl.up == up0 + 1 && bus_is_up(cli) && bus_server_clients(srv2) == 1,
	    "reconnect: the client reconnects with backoff within 10 s");
	ok(sv.hello_seen == 0, "reconnect: the hello is not seen by the "
	    "server's frame handler");
	ok(ping_round(cli, NREQ), "reconnect: 1000 requests work again");

	/* end: the client goes, the server notices */
	bus_client_free(cli);
	WAIT_UNTIL(bus_server_clients(srv2) == 0, 5);
	ok(bus_server_clients(srv2) == 0,
	    "bus_client_free: the server sees the client go");
	bus_server_stop(srv2);
	t_bus_servers[1] = srv2;
}

/* ---- bus_pair: a client whose peer is the far end of a bufferevent pair */

static int pair_up, pair_ans_ok;
static int64_t pair_hello_id;

static void
pair_on_up(struct bus_conn *c, void *arg)
{
	pair_up = 1;
}

static void
pair_answer(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	int okv = 0;

	pair_ans_ok = ans != NULL && mp_bool(ans, "ok", &okv) && okv;
}

/* The far end: answer the hello, then every request with {re, ok}. */
static void
pair_far_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	msgpack_unpacked up;
	const char *why;
	struct fbuf fb;
	size_t used;
	int64_t id;
	char *p;

	msgpack_unpacked_init(&up);
	while ((p = (char *)evbuffer_pullup(in, -1)) != NULL &&
	    frame_decode(p, evbuffer_get_length(in), &up, &used, &why) == 1) {
		id = 0;
		mp_int(&up.data, "id", &id);
		fbuf_init(&fb);
		bus_answer_begin(&fb, id, proto_type(&up.data) == PT_HELLO ?
		    2 : 0);
		if (proto_type(&up.data) == PT_HELLO) {
			pair_hello_id = id;
			mp_kv_int(&fb.pk, "v", PROTO_VERSION);
			mp_kv_str(&fb.pk, "name", "far");
		}
		if (fbuf_finish(&fb) == 0)
			bufferevent_write(bev, fbuf_data(&fb), fbuf_len(&fb));
		fbuf_free(&fb);
		evbuffer_drain(in, used);
	}
	msgpack_unpacked_destroy(&up);
}

static void
test_pair(void)
{
	static const struct bus_handlers h = { .up = pair_on_up };
	struct bufferevent *far;
	struct bus_conn *c;
	struct fbuf fb;
	int64_t id;

	c = bus_pair(base, "pair", &h, NULL, &far);
	bufferevent_setcb(far, pair_far_read, NULL, NULL, NULL);
	bufferevent_enable(far, EV_READ | EV_WRITE);
	ok(!pair_up, "bus_pair: up only from the loop, not inside bus_pair");
	WAIT_UNTIL(pair_up && pair_hello_id != 0, 5);
	ok(pair_up && bus_is_up(c) && pair_hello_id != 0,
	    "bus_pair: up, and its hello reached the far end");
	id = bus_next_id(c);
	fbuf_init(&fb);
	fbuf_begin(&fb, 2);
	mp_kv_str(&fb.pk, "t", "ping");
	mp_kv_int(&fb.pk, "id", id);
	ok(bus_request(c, &fb, id, pair_answer, NULL) == 0,
	    "bus_pair: a request is sent");
	fbuf_free(&fb);
	WAIT_UNTIL(pair_ans_ok, 5);
	ok(pair_ans_ok, "bus_pair: the far end's answer reaches its callback");
	bus_client_free(c);
	bufferevent_free(far);
}

int
main(void)
{
	struct bus_server *srv;
	struct bus_conn *cli;
	char err[256];
	int i, sent, good, pend_before;
	uid_t uid;
	pid_t pid;
	int64_t eid;
	struct fbuf fb;

	alarm(600);	/* never hang, whatever happens */
	signal(SIGPIPE, SIG_IGN);
	log_init("t_bus", 0);
	snprintf(dir, sizeof(dir), "%s/t_bus.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(path, sizeof(path), "%s/bus.sock", dir);
	if ((base = event_base_new()) == NULL ||
	    event_base_priority_init(base, 3) == -1) {
		fprintf(stderr, "event base\n");
		return 99;
	}
	ev_timeout = evtimer_new(base, on_timeout, NULL);

	srv = bus_listen(base, path, &srv_h, NULL, err, sizeof(err));
	t_bus_servers[0] = srv;
	ok(srv != NULL, "bus_listen on a socket in a temporary directory");
	if (srv == NULL) {
		printf("# %s\n1..%d\n", err, n);
		return 1;
	}
	ok(bus_listen(base, path, &srv_h, NULL, err, sizeof(err)) == NULL &&
	    strstr(err, "another instance") != NULL,
	    "bus_listen refuses a path with a live listener");

	/*
	 * hello; the server first accepts (and loses) the second bus_listen's
	 * probe connection, then the client
	 */
	cli = bus_client(base, path, "tclient", &cli_h, NULL);
	WAIT_UNTIL(cl.up == 1 && bus_pending(cli) == 0 && sv.up == 2 &&
	    sv.down == 1, 5);
	ok(cl.up == 1 && bus_is_up(cli), "client: the up handler fired");
	ok(bus_pending(cli) == 0, "client: its hello was answered");
	ok(sv.hello_seen == 0 && sv.frames == 0,
	    "server: the frame handler never sees hello");
	ok(bus_server_clients(srv) == 1, "server: one client");

	/* peer credentials */
	ok(sv.last_up && bus_peer(sv.last_up, &uid, NULL, &pid) == 0 &&
	    uid == getuid() && pid == getpid(),
	    "bus_peer: uid = getuid(), pid = the client's pid");

	/* 1000 pipelined requests */
	reset_answers();
	sent = 1;
	for (i = 0; i < NREQ; i++)
		if (send_req(cli, "ping", i) == -1)
			sent = 0;
	pend_before = (int)bus_pending(cli);
	WAIT_UNTIL(nans >= NREQ, 10);
	good = 1;
	for (i = 0; i < NREQ; i++)
		if (acount[i] != 1 || !agood[i])
			good = 0;
	ok(sent && pend_before == NREQ, "requests: 1000 pipelined, pending");
	ok(good && nans == NREQ,
	    "requests: every answer has the right re, exactly once");
	ok(bus_pending(cli) == 0, "requests: bus_pending back to 0");
	ok(strcmp(sv.ping_name, "tclient") == 0,
	    "server: bus_name is the client's hello name");
	ok(cl.frames == 0, "client: no stray frames");

	/* error answer */
	eid = bus_next_id(cli);
	fbuf_init(&fb);
	fbuf_begin(&fb, 2);
	mp_kv_str(&fb.pk, "t", "fail");
	mp_kv_int(&fb.pk, "id", eid);
	memset(&ea, 0, sizeof(ea));
	bus_request(cli, &fb, eid, err_cb, &eid);
	fbuf_free(&fb);
	WAIT_UNTIL(ea.got, 5);
	ok(ea.got == 1 && ea.good,
	    "bus_answer_err arrives as {re, err:{code, msg}}");

	/* hostile raw peers */
	{
		static const unsigned char big[] = { 0x00, 0x10, 0x00, 0x01,
		    0x81, 0xa1, 't' };
		static const unsigned char huge_map[] = { 0x00, 0x00, 0x00, 0x05,
		    0xdf, 0xff, 0xff, 0xff, 0xff };
		static const unsigned char huge_arr[] = { 0x00, 0x00, 0x00, 0x08,
		    0x81, 0xa1, 't', 0xdd, 0xff, 0xff, 0xff, 0xff };
		static const unsigned char bad_type[] = { 0x00, 0x00, 0x00, 0x04,
		    0xc1, 0xc1, 0xc1, 0xc1 };
		static const unsigned char not_map[] = { 0x00, 0x00, 0x00, 0x03,
		    0x92, 0x01, 0x02 };
		static const unsigned char zero[] = { 0, 0, 0, 0, 0x80 };
		static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
		int frames0 = sv.frames;

		ok(hostile(big, sizeof(big)),
		    "hostile: a length prefix over 1 MiB is dropped");
		ok(hostile(huge_map, sizeof(huge_map)),
		    "hostile: a map claiming 2^32-1 entries is dropped");
		ok(hostile(huge_arr, sizeof(huge_arr)),
		    "hostile: a nested array claiming 2^32-1 entries is "
		    "dropped");
		ok(hostile(bad_type, sizeof(bad_type)),
		    "hostile: invalid msgpack bytes are dropped");
		ok(hostile(not_map, sizeof(not_map)),
		    "hostile: a frame that is not a map is dropped");
		ok(hostile(zero, sizeof(zero)),
		    "hostile: an empty frame is dropped");
		ok(hostile(http, sizeof(http) - 1),
		    "hostile: plain text garbage is dropped");
		ok(sv.frames == frames0,
		    "hostile: none of it reached the frame handler");
		WAIT_UNTIL(bus_server_clients(srv) == 1, 5);
		ok(bus_server_clients(srv) == 1,
		    "hostile: the server freed every dropped connection");
		ok(ping_round(cli, 100),
		    "hostile: the bus client is still served afterwards");
	}

	test_peer_child();
	ok(in_child(child_free_in_down, "free_in_down"),
	    "bus_client_free from the client's down handler (no use after "
	    "free)");
	ok(in_child(child_free_in_null_answer, "free_in_null"),
	    "bus_client_free from a pending request's NULL answer (no use "
	    "after free)");
	ok(in_child(child_drop_on_resume, "drop_on_resume"),
	    "a malformed frame met when the server resumes after "
	    "backpressure drops the peer cleanly (no use after free)");
	test_backpressure(cli);
	test_reconnect(cli, srv);
	test_pair();

	event_free(ev_timeout);
	event_base_free(base);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
