/*
 * bustool — a test client that speaks parley's bus as an attacker or a
 * careless peer would, so the integration tests can check what a daemon
 * does with frames and connections that msg never sends.
 *
 *   bustool req SOCKET JSON       send one request (JSON object; "id" is
 *                                 added) after hello; print the answer as
 *                                 JSON; exit 0 when ok, 1 when err, 3 when
 *                                 the daemon closed or did not answer
 *   bustool hold SOCKET N SECS [PARTIAL]
 *                                 open N connections (each says hello; with
 *                                 PARTIAL, also sends the first PARTIAL
 *                                 bytes of a frame that declares 1 MiB),
 *                                 keep them SECS seconds, print how many the
 *                                 daemon accepted and how many it had
 *                                 closed by the end: "accepted A closed C"
 *   bustool stall SOCKET SECS     subscribe to the whole log (follow) and
 *                                 never read; after SECS seconds print
 *                                 "closed" or "open"
 *
 * It is written for tests: blocking sockets, poll with deadlines, no
 * event loop.  JSON is turned into msgpack by lib/rec like msg does.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "busc.h"
#include "frame.h"
#include "mp.h"
#include "proto.h"
#include "rec.h"

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
usage(void)
{
	fprintf(stderr, "usage: bustool req SOCKET JSON\n"
	    "       bustool hold SOCKET N SECS [PARTIAL]\n"
	    "       bustool stall SOCKET SECS\n");
	return 2;
}

static int
cmd_req(const char *path, const char *js)
{
	struct busc c;
	struct fbuf fb;
	const msgpack_object *ans;
	json_error_t je;
	json_t *j, *a;
	const char *k;
	json_t *v;
	char *line;
	int64_t id;
	int rc;

	if ((j = json_loads(js, 0, &je)) == NULL || !json_is_object(j)) {
		fprintf(stderr, "bustool: not a JSON object: %s\n", je.text);
		return 2;
	}
	if (busc_open(&c, path, "bustool", 5000) == -1) {
		fprintf(stderr, "bustool: %s\n", c.err);
		json_decref(j);
		return 3;
	}
	id = busc_next_id(&c);
	fbuf_init(&fb);
	fbuf_begin(&fb, (uint32_t)json_object_size(j) + 1);
	mp_kv_int(&fb.pk, "id", id);
	json_object_foreach(j, k, v) {
		mp_pack_cstr(&fb.pk, k);
		rec_pack_json(&fb.pk, v);
	}
	if (busc_call(&c, &fb, id, &ans) == -1) {
		fprintf(stderr, "bustool: %s\n", c.err);
		busc_close(&c);
		json_decref(j);
		fbuf_free(&fb);
		return 3;
	}
	a = rec_to_json(ans);
	line = json_dumps(a, JSON_COMPACT);
	printf("%s\n", line ? line : "{}");
	free(line);
	json_decref(a);
	json_decref(j);
	fbuf_free(&fb);
	rc = mp_get(ans, "err") ? 1 : 0;
	busc_close(&c);
	return rc;
}

static int
dial(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Write a whole frame (hello, sub) on a blocking socket; -1 on error. */
static int
put_frame(int fd, struct fbuf *fb)
{
	const char *p;
	size_t n;
	ssize_t w;

	if (fbuf_finish(fb) == -1)
		return -1;
	p = fbuf_data(fb);
	n = fbuf_len(fb);
	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
hello(int fd)
{
	struct fbuf fb;
	int rc;

	fbuf_init(&fb);
	fbuf_begin(&fb, 4);
	mp_kv_str(&fb.pk, "t", "hello");
	mp_kv_int(&fb.pk, "id", 1);
	mp_kv_int(&fb.pk, "v", PROTO_VERSION);
	mp_kv_str(&fb.pk, "name", "bustool");
	rc = put_frame(fd, &fb);
	fbuf_free(&fb);
	return rc;
}

/* Has the peer closed fd?  Reads and discards whatever it sent. */
static int
closed(int fd)
{
	char buf[65536];
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;

	while (poll(&p, 1, 0) == 1) {
		if (p.revents & (POLLHUP | POLLERR))
			return 1;
		if ((n = read(fd, buf, sizeof(buf))) == 0)
			return 1;
		if (n == -1)
			return errno != EAGAIN && errno != EINTR;
	}
	return 0;
}

static int
cmd_hold(const char *path, int n, int secs, size_t partial)
{
	struct rlimit rl;
	int *fds, i, acc = 0, cl = 0;
	long long end;
	unsigned char hdr[4] = { 0, 0x10, 0, 0 };	/* 1 MiB declared */
	char *junk = NULL;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur <
	    (rlim_t)n + 64 && rl.rlim_max >= (rlim_t)n + 64) {
		rl.rlim_cur = (rlim_t)n + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((fds = calloc((size_t)n, sizeof(*fds))) == NULL)
		return 3;
	if (partial && (junk = calloc(1, partial)) == NULL)
		return 3;
	for (i = 0; i < n; i++) {
		if ((fds[i] = dial(path)) == -1)
			continue;
		/* a refused connection fails here: counted below */
		if (hello(fds[i]) == 0 && partial &&
		    write(fds[i], hdr, 4) == 4)
			(void)!write(fds[i], junk, partial);
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
	}
	/* a connection refused at accept is closed at once */
	usleep(300000);
	for (i = 0; i < n; i++)
		if (fds[i] != -1 && !closed(fds[i]))
			acc++;
	end = now_ms() + (long long)secs * 1000;
	while (now_ms() < end)
		usleep(100000);
	for (i = 0; i < n; i++)
		if (fds[i] != -1 && closed(fds[i]))
			cl++;
	printf("accepted %d closed %d\n", acc, cl - (n - acc));
	for (i = 0; i < n; i++)
		if (fds[i] != -1)
			close(fds[i]);
	free(fds);
	free(junk);
	return 0;
}

static int
cmd_stall(const char *path, int secs)
{
	struct fbuf fb;
	long long end;
	int fd, sz = 4096;

	if ((fd = dial(path)) == -1) {
		perror("bustool: connect");
		return 3;
	}
	/* a small receive buffer, so the daemon's queue fills */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (hello(fd) == -1)
		return 3;
	fbuf_init(&fb);
	fbuf_begin(&fb, 4);
	mp_kv_str(&fb.pk, "t", "sub");
	mp_kv_int(&fb.pk, "id", 2);
	mp_kv_int(&fb.pk, "since", 1);
	mp_kv_bool(&fb.pk, "follow", 1);
	if (put_frame(fd, &fb) == -1)
		return 3;
	fbuf_free(&fb);
	end = now_ms() + (long long)secs * 1000;
	while (now_ms() < end) {
		struct pollfd p = { fd, 0, 0 };

		/* POLLHUP without reading: has the daemon hung up? */
		if (poll(&p, 1, 100) == 1 && (p.revents & (POLLHUP | POLLERR)))
			break;
	}
	{
		struct pollfd p = { fd, 0, 0 };

		printf("%s\n", poll(&p, 1, 0) == 1 &&
		    (p.revents & (POLLHUP | POLLERR)) ? "closed" : "open");
	}
	close(fd);
	return 0;
}

int
main(int argc, char *argv[])
{
	signal(SIGPIPE, SIG_IGN);	/* a daemon may hang up on us */
	if (argc < 3)
		return usage();
	if (strcmp(argv[1], "req") == 0 && argc == 4)
		return cmd_req(argv[2], argv[3]);
	if (strcmp(argv[1], "hold") == 0 && (argc == 5 || argc == 6))
		return cmd_hold(argv[2], atoi(argv[3]), atoi(argv[4]),
		    argc == 6 ? (size_t)atol(argv[5]) : 0);
	if (strcmp(argv[1], "stall") == 0 && argc == 4)
		return cmd_stall(argv[2], atoi(argv[3]));
	return usage();
}
