/*
 * busc — the blocking bus client msg(1) uses.  One socket, one read buffer,
 * poll(2) for timeouts, writes with MSG_NOSIGNAL so a vanished daemon is an
 * error return rather than SIGPIPE.  Interrupted calls are retried; the
 * timeout counts from the start of the wait, not from each retry.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "busc.h"
#include "daemon.h"
#include "mp.h"
#include "proto.h"

#define BUSC_BUF0	(64 * 1024)
#define BUSC_BUFMAX	(4 + FRAME_MAX)

static void
seterr(struct busc *c, const char *fmt, const char *arg)
{
	snprintf(c->err, sizeof(c->err), fmt, arg);
}

int
busc_open(struct busc *c, const char *path, const char *name, int timeout_ms)
{
	struct sockaddr_un sun;
	const msgpack_object *ans;
	struct fbuf fb;
	char code[64], msg[128];
	int64_t id, v;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = timeout_ms;
	msgpack_unpacked_init(&c->up);
	fbuf_init(&fb);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		seterr(c, "%s: socket path too long", path);
		goto done;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(c->err, sizeof(c->err), "socket: %s", strerror(errno));
		goto done;
	}
	if (timeout_ms > 0) {
		/* a daemon that stops reading fails our write, not hangs it */
		struct timeval tv = { timeout_ms / 1000,
		    (timeout_ms % 1000) * 1000 };

		if (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
		    sizeof(tv)) == -1) {
			snprintf(c->err, sizeof(c->err), "setsockopt: %s",
			    strerror(errno));
			goto done;
		}
	}
	while (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EINTR)
			continue;
		snprintf(c->err, sizeof(c->err), "%s: %s", path,
		    strerror(errno));
		goto done;
	}
	id = busc_next_id(c);
	fbuf_begin(&fb, 4);
	mp_kv_str(&fb.pk, "t", "hello");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_int(&fb.pk, "v", PROTO_VERSION);
	mp_kv_str(&fb.pk, "name", name);
	if (busc_call(c, &fb, id, &ans) != 1)
		goto done;
	if (busc_answer_err(ans, code, sizeof(code), msg, sizeof(msg))) {
		snprintf(c->err, sizeof(c->err), "hello refused: %.40s: %.100s", code,
		    msg);
		goto done;
	}
	if (mp_int(ans, "v", &v) && v != PROTO_VERSION) {
		snprintf(c->err, sizeof(c->err), "daemon speaks protocol "
		    "version %lld, msg speaks %d", (long long)v, PROTO_VERSION);
		goto done;
	}
	rc = 0;
done:
	fbuf_free(&fb);
	if (rc == -1)
		busc_close(c);	/* c->err stays */
	return rc;
}

void
busc_close(struct busc *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = c->used = 0;
	msgpack_unpacked_destroy(&c->up);
	msgpack_unpacked_init(&c->up);
}

int64_t
busc_next_id(struct busc *c)
{
	return ++c->next_id;
}

int
busc_send(struct busc *c, struct fbuf *f)
{
	const char *p;
	size_t n;
	ssize_t w;

	if (c->fd == -1) {
		seterr(c, "%s", "not connected");
		return -1;
	}
	if (fbuf_finish(f) == -1) {
		seterr(c, "%s", "frame over 1 MiB");
		return -1;
	}
	p = fbuf_data(f);
	n = fbuf_len(f);
	while (n > 0) {
		if ((w = send(c->fd, p, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(c->err, sizeof(c->err), "write: %s",
			    errno == EAGAIN || errno == EWOULDBLOCK ?
			    "daemon not reading (timed out)" : strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Wait until the socket is readable: 1, 0 on timeout, -1 on error. */
static int
wait_readable(struct busc *c, int timeout_ms, long long start)
{
	struct pollfd pfd;
	int left, r;

	for (;;) {
		left = timeout_ms;
		if (timeout_ms > 0) {
			long long spent = daemon_mono_ms() - start;

			left = spent >= timeout_ms ? 0 : (int)(timeout_ms - spent);
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if ((r = poll(&pfd, 1, left)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(c->err, sizeof(c->err), "poll: %s",
			    strerror(errno));
			return -1;
		}
		return r > 0;
	}
}

int
busc_recv(struct busc *c, int timeout_ms, const msgpack_object **f)
{
	long long start = daemon_mono_ms();
	const char *why;
	size_t used;
	ssize_t n;
	char *nb;
	int r;

	if (c->fd == -1) {
		seterr(c, "%s", "not connected");
		return -1;
	}
	/* drop the frame returned last time (it is invalid from here on) */
	if (c->used > 0) {
		memmove(c->buf, c->buf + c->used, c->len - c->used);
		c->len -= c->used;
		c->used = 0;
	}
	for (;;) {
		r = frame_decode(c->buf, c->len, &c->up, &used, &why);
		if (r == 1) {
			c->used = used;
			*f = &c->up.data;
			return 1;
		}
		if (r == -1) {
			snprintf(c->err, sizeof(c->err), "bad frame from "
			    "daemon: %s", why);
			return -1;
		}
		if (c->len == c->cap) {
			size_t ncap = c->cap ? c->cap * 2 : BUSC_BUF0;

			if (ncap > BUSC_BUFMAX)
				ncap = BUSC_BUFMAX;
			if (ncap <= c->cap) {	/* frame_decode caps frames */
				seterr(c, "%s", "frame over 1 MiB");
				return -1;
			}
			if ((nb = realloc(c->buf, ncap)) == NULL) {
				seterr(c, "%s", "out of memory");
				return -1;
			}
			c->buf = nb;
			c->cap = ncap;
		}
		if ((r = wait_readable(c, timeout_ms, start)) != 1)
			return r;
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(c->err, sizeof(c->err), "read: %s",
			    strerror(errno));
			return -1;
		}
		if (n == 0) {
			seterr(c, "%s", c->len ? "connection closed "
			    "mid-frame" : "connection closed");
			return -1;
		}
		c->len += (size_t)n;
	}
}

int
busc_call(struct busc *c, struct fbuf *f, int64_t id,
    const msgpack_object **ans)
{
	const msgpack_object *fr;
	int64_t re;
	int r;

	if (busc_send(c, f) == -1)
		return -1;
	for (;;) {
		if ((r = busc_recv(c, c->timeout_ms, &fr)) == -1)
			return -1;
		if (r == 0) {
			seterr(c, "%s", "no answer (timed out)");
			return -1;
		}
		if (mp_int(fr, "re", &re) && re == id) {
			*ans = fr;
			return 1;
		}
	}
}

int
busc_answer_err(const msgpack_object *ans, char *code, size_t codesz,
    char *msg, size_t msgsz)
{
	const msgpack_object *e = mp_get(ans, "err");
	const char *s;
	size_t n;
	int ok;

	if (e == NULL) {
		if (mp_bool(ans, "ok", &ok) && ok)
			return 0;
		snprintf(code, codesz, "protocol");
		snprintf(msg, msgsz, "answer carries neither ok nor err");
		return 1;
	}
	if (mp_str(e, "code", &s, &n))
		snprintf(code, codesz, "%.*s", (int)n, s);
	else
		snprintf(code, codesz, "error");
	if (mp_str(e, "msg", &s, &n))
		snprintf(msg, msgsz, "%.*s", (int)n, s);
	else
		snprintf(msg, msgsz, "%s", code);
	/* a NUL inside the peer's text would cut it short; that is fine */
	return 1;
}
