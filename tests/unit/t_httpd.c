/*
 * t_httpd — lib/httpd as a client sees it, over real TCP: requests,
 * keep-alive and pipelining, chunked bodies, 100-continue, the refusals
 * (413, 431, 400, 503), answers given later and streamed, then the budgets:
 * head and body deadlines counted in total time (a client trickling header
 * lines is cut off), the idle timeout, the connection cap closing the
 * oldest idle connection, the body budget answering 503, the drain, and
 * EMFILE at accept (one log line, no spin, served again once descriptors
 * are free); and the Unix user of a loopback client (httpd_req_peer_uid),
 * the server's own and, as root, another one's.
 *
 * Each server runs in a child process (its own event loop, its stderr in a
 * file the test reads); the test is a plain blocking client with bounded
 * waits.  TAP on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "httpd.h"
#include "log.h"

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

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ the server */

static struct event_base *B;
static struct httpd *H;
static const char *srv_host = "127.0.0.1";	/* where servers listen */

struct later {
	struct httpd_req	*req;
	int			 step;
};

static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;

	httpd_reply(l->req, 200, "text/plain", l->step ? "held" : "later",
	    l->step ? 4 : 5);
	free(l);
}

static void
stream_cb(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;
	struct timeval tv = { 0, 50000 };
	char c = 'a' + l->step;

	if (l->step == 3) {
		httpd_stream_end(l->req);
		free(l);
		return;
	}
	httpd_stream_write(l->req, &c, 1);
	l->step++;
	if (event_base_once(B, -1, EV_TIMEOUT, stream_cb, l, &tv) == -1) {
		httpd_stream_end(l->req);
		free(l);
	}
}

static void
after(struct httpd_req *req, int step, long ms, event_callback_fn cb)
{
	struct later *l = calloc(1, sizeof(*l));
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (l == NULL)
		abort();
	l->req = req;
	l->step = step;
	if (event_base_once(B, -1, EV_TIMEOUT, cb, l, &tv) == -1)
		abort();
}

static void
serve(struct httpd_req *req, void *arg)
{
	const char *p = httpd_req_path(req), *q = httpd_req_query(req);
	const char *t = httpd_req_header(req, "X-T"), *body;
	char out[70000];
	size_t len;
	int k;

	if (strcmp(p, "/echo") == 0) {
		body = httpd_req_body(req, &len);
		k = snprintf(out, sizeof(out), "%s %s?%s|%s|%.*s",
		    httpd_req_method(req), p, q ? q : "-", t ? t : "-",
		    (int)len, body);
		httpd_reply(req, 200, "text/plain", out, (size_t)k);
	} else if (strcmp(p, "/later") == 0)
		after(req, 0, 300, later_cb);
	else if (strcmp(p, "/hold") == 0)
		after(req, 1, 1500, later_cb);
	else if (strcmp(p, "/stream") == 0) {
		if (httpd_stream_begin(req, 200, "text/event-stream") == -1)
			httpd_stream_end(req);
		else
			after(req, 0, 10, stream_cb);
	} else if (strcmp(p, "/drain") == 0) {
		httpd_drain(H);
		httpd_reply(req, 200, "text/plain", "draining", 8);
	} else if (strcmp(p, "/uid") == 0) {
		uid_t uid;

		k = httpd_req_peer_uid(req, &uid) == 0 ?
		    snprintf(out, sizeof(out), "uid %u", (unsigned)uid) :
		    snprintf(out, sizeof(out), "none");
		httpd_reply(req, 200, "text/plain", out, (size_t)k);
	} else if (strcmp(p, "/stats") == 0) {
		k = snprintf(out, sizeof(out), "reserved=%zu",
		    httpd_body_reserved(H));
		httpd_reply(req, 200, "text/plain", out, (size_t)k);
	} else
		httpd_reply(req, 404, "text/plain", "no\n", 3);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
}

struct srv {
	pid_t	pid;
	int	port;
	char	log[64];
};

static struct httpd_limits
limits(long head, long body, long idle, size_t conns, size_t budget)
{
	struct httpd_limits l;

	l.head_ms = head;
	l.body_ms = body;
	l.idle_ms = idle;
	l.max_conns = conns;
	l.body_budget = budget;
	return l;
}

/* Start a server with lim in a child; nofile > 0: that descriptor limit,
 * and every descriptor but spare taken once it listens. */
static int
srv_start(struct srv *s, struct httpd_limits lim, int nofile, int spare)
{
	struct httpd_conf cf;
	char err[256];
	int pfd[2], lfd, port = -1;

	snprintf(s->log, sizeof(s->log), "/tmp/t_httpd.XXXXXX");
	if ((lfd = mkstemp(s->log)) == -1 || pipe(pfd) == -1)
		return -1;
	fflush(stdout);
	if ((s->pid = fork()) == -1)
		return -1;
	if (s->pid == 0) {
		dup2(lfd, 2);
		close(pfd[0]);
		log_init("t_httpd", 0);
		if (nofile > 0) {
			struct rlimit rl = { nofile, nofile };

			if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
				_exit(2);
		}
		memset(&cf, 0, sizeof(cf));
		cf.name = "t_httpd";
		cf.host = srv_host;
		cf.port = 0;
		cf.body_max = 800;
		cf.head_max = 4096;
		cf.lim = lim;
		cf.request = serve;
		if ((B = event_base_new()) == NULL ||
		    (H = httpd_new(B, &cf, err, sizeof(err))) == NULL) {
			fprintf(stderr, "%s\n", err);
			_exit(2);
		}
		port = httpd_port(H);
		if (nofile > 0) {
			int fds[4096], k = 0, i;

			while (k < 4096 && (fds[k] = open("/dev/null",
			    O_RDONLY)) != -1)
				k++;
			for (i = 0; i < spare && i < k; i++)
				close(fds[k - 1 - i]);
		}
		if (write(pfd[1], &port, sizeof(port)) != sizeof(port))
			_exit(2);
		close(pfd[1]);
		{
			/* the loop runs on after a drain, until killed */
			struct timeval tv = { 1, 0 };
			struct event *tick = event_new(B, -1, EV_PERSIST,
			    on_tick, NULL);

			if (tick == NULL || event_add(tick, &tv) == -1)
				_exit(2);
		}
		event_base_dispatch(B);
		_exit(0);
	}
	close(lfd);
	close(pfd[1]);
	if (read(pfd[0], &port, sizeof(port)) != sizeof(port))
		port = -1;
	close(pfd[0]);
	s->port = port;
	return port > 0 ? 0 : -1;
}

static int	log_count(struct srv *, const char *);

/* End the server, checking that it is still running (it never crashed) and
 * that no sanitizer spoke (make asan). */
static void
srv_stop(struct srv *s)
{
	FILE *fp;
	char line[1024];
	int alive = waitpid(s->pid, NULL, WNOHANG) == 0;

	ok(alive && log_count(s, "Sanitizer") == 0 &&
	    log_count(s, "runtime error") == 0,
	    "the server is still running, no sanitizer report");
	if (!alive && (fp = fopen(s->log, "r")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL)
			printf("# %s", line);
		fclose(fp);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	unlink(s->log);
}

/* Lines of the server's log holding needle (NULL: all lines). */
static int
log_count(struct srv *s, const char *needle)
{
	FILE *fp = fopen(s->log, "r");
	char line[1024];
	int k = 0;

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (needle == NULL || strstr(line, needle) != NULL)
			k++;
	fclose(fp);
	return k;
}

/* ------------------------------------------------------------ the client */

#define CBUF	(256 * 1024)

struct cli {
	int	fd;
	char	buf[CBUF];
	size_t	len;
	int	eof;
};

struct resp {
	int	code;
	char	head[4096];
	char	body[8192];
	size_t	blen;
	int	close;		/* Connection: close */
	int	chunked;
};

static struct cli *
cli_open(int port)
{
	struct sockaddr_in sin;
	struct cli *c = calloc(1, sizeof(*c));

	if (c == NULL)
		abort();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		if (c->fd != -1)
			close(c->fd);
		free(c);
		return NULL;
	}
	return c;
}

static void
cli_close(struct cli *c)
{
	if (c != NULL) {
		close(c->fd);
		free(c);
	}
}

static int
cli_send(struct cli *c, const char *s, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = send(c->fd, s, len, MSG_NOSIGNAL)) <= 0)
			return -1;
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
cli_puts(struct cli *c, const char *s)
{
	return cli_send(c, s, strlen(s));
}

/* Read more within ms: 1 read, 0 end of stream (or reset), -1 nothing. */
static int
cli_fill(struct cli *c, int ms)
{
	struct pollfd pfd = { c->fd, POLLIN, 0 };
	ssize_t r;

	if (c->eof)
		return 0;
	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	if (c->len == CBUF)
		c->len = 0;		/* drop: only a test's garbage */
	r = recv(c->fd, c->buf + c->len, CBUF - c->len, 0);
	if (r <= 0) {
		c->eof = 1;
		return 0;
	}
	c->len += (size_t)r;
	return 1;
}

static void
cli_consume(struct cli *c, size_t k)
{
	memmove(c->buf, c->buf + k, c->len - k);
	c->len -= k;
}

/* One response (interim 1xx skipped unless keep1xx) within ms; -1 if
 * none complete. */
static int
cli_resp_x(struct cli *c, struct resp *r, int ms, int keep1xx)
{
	long long end = now_ms() + ms;
	char *e, *h;
	size_t hl, need;
	long clen = -1;

	memset(r, 0, sizeof(*r));
	for (;;) {
		while ((e = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) {
			if (now_ms() >= end || cli_fill(c, (int)(end -
			    now_ms())) <= 0)
				return -1;
		}
		hl = (size_t)(e - c->buf) + 4;
		snprintf(r->head, sizeof(r->head), "%.*s", (int)hl, c->buf);
		if (sscanf(r->head, "HTTP/1.%*d %d", &r->code) != 1)
			return -1;
		if (r->code >= 200 || keep1xx)
			break;
		cli_consume(c, hl);
	}
	cli_consume(c, hl);
	if (r->code < 200)
		return 0;
	r->close = strcasestr(r->head, "\r\nConnection: close") != NULL;
	r->chunked = strcasestr(r->head, "\r\nTransfer-Encoding: chunked") !=
	    NULL;
	if ((h = strcasestr(r->head, "\r\nContent-Length:")) != NULL)
		clen = strtol(h + 17, NULL, 10);
	if (r->chunked) {
		for (;;) {
			char *lf;
			long sz;

			while ((lf = memmem(c->buf, c->len, "\r\n", 2)) ==
			    NULL)
				if (now_ms() >= end || cli_fill(c, (int)(end -
				    now_ms())) <= 0)
					return -1;
			sz = strtol(c->buf, NULL, 16);
			need = (size_t)(lf - c->buf) + 2 + (size_t)sz + 2;
			while (c->len < need)
				if (now_ms() >= end || cli_fill(c, (int)(end -
				    now_ms())) <= 0)
					return -1;
			if (r->blen + (size_t)sz < sizeof(r->body)) {
				memcpy(r->body + r->blen, lf + 2, (size_t)sz);
				r->blen += (size_t)sz;
			}
			cli_consume(c, need);
			if (sz == 0)
				break;
		}
	} else if (clen >= 0) {
		while (c->len < (size_t)clen)
			if (now_ms() >= end || cli_fill(c, (int)(end -
			    now_ms())) <= 0)
				return -1;
		r->blen = (size_t)clen < sizeof(r->body) - 1 ? (size_t)clen :
		    sizeof(r->body) - 1;
		memcpy(r->body, c->buf, r->blen);
		cli_consume(c, (size_t)clen);
	}
	r->body[r->blen] = '\0';
	return 0;
}

static int
cli_resp(struct cli *c, struct resp *r, int ms)
{
	return cli_resp_x(c, r, ms, 0);
}

/* 1 when the server closed the connection within ms (what it sent before
 * is dropped). */
static int
cli_closed(struct cli *c, int ms)
{
	long long end = now_ms() + ms;

	while (now_ms() < end) {
		if (cli_fill(c, (int)(end - now_ms())) == 0)
			return 1;
		c->len = 0;
	}
	return 0;
}

static int
body_is(const struct resp *r, const char *want)
{
	if (strcmp(r->body, want) == 0)
		return 1;
	printf("# body: '%s'\n# want: '%s'\n", r->body, want);
	return 0;
}

/* ------------------------------------------------------------ the tests */

/* GET /uid from a client running as uid (-1: this process), over IPv6
 * (::1) when v6. */
static int
uid_seen_at(int port, uid_t uid, int v6, char *out, size_t sz)
{
	struct cli *c;
	struct resp r;
	int pfd[2], st;
	pid_t pid;
	ssize_t k;

	if (pipe(pfd) == -1)
		return -1;
	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		close(pfd[0]);
		if (uid != (uid_t)-1 && (setgid(uid) == -1 ||
		    setuid(uid) == -1))
			_exit(2);
		if (v6) {
			struct sockaddr_in6 a;

			memset(&a, 0, sizeof(a));
			a.sin6_family = AF_INET6;
			a.sin6_port = htons((unsigned short)port);
			a.sin6_addr = in6addr_loopback;
			if ((c = calloc(1, sizeof(*c))) == NULL ||
			    (c->fd = socket(AF_INET6, SOCK_STREAM, 0)) == -1 ||
			    connect(c->fd, (struct sockaddr *)&a,
			    sizeof(a)) == -1)
				_exit(3);
		} else if ((c = cli_open(port)) == NULL)
			_exit(2);
		cli_puts(c, "GET /uid HTTP/1.1\r\n\r\n");
		if (cli_resp(c, &r, 5000) != 0 || r.code != 200)
			_exit(2);
		if (write(pfd[1], r.body, r.blen) != (ssize_t)r.blen)
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	k = read(pfd[0], out, sz - 1);
	close(pfd[0]);
	out[k > 0 ? k : 0] = '\0';
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int
uid_seen(int port, uid_t uid, char *out, size_t sz)
{
	return uid_seen_at(port, uid, 0, out, sz);
}

static void
t_peer_uid(void)
{
	struct srv s;
	char got[64], want[64];

	if (srv_start(&s, limits(5000, 5000, 5000, 100, 1 << 20), 0, 0) ==
	    -1) {
		ok(0, "a server starts");
		return;
	}
	snprintf(want, sizeof(want), "uid %u", (unsigned)geteuid());
	ok(uid_seen(s.port, (uid_t)-1, got, sizeof(got)) == 0 &&
	    strcmp(got, want) == 0,
	    "a loopback client's Unix user is known (the server's own)");
	if (geteuid() == 0) {
		ok(uid_seen(s.port, 65534, got, sizeof(got)) == 0 &&
		    strcmp(got, "uid 65534") == 0,
		    "a client running as another user is known as that user");
	} else
		printf("ok %d # SKIP another user's client needs root\n", ++n);
	srv_stop(&s);

	/* a dual-stack listener: IPv4 clients come as ::ffff:127.0.0.1 */
	srv_host = "::";
	if (srv_start(&s, limits(5000, 5000, 5000, 100, 1 << 20), 0, 0) ==
	    -1) {
		srv_host = "127.0.0.1";
		printf("ok %d # SKIP no IPv6 here\n", ++n);
		return;
	}
	srv_host = "127.0.0.1";
	ok(uid_seen(s.port, (uid_t)-1, got, sizeof(got)) == 0 &&
	    strcmp(got, want) == 0,
	    "on [::], an IPv4 loopback client's user is known");
	ok(uid_seen_at(s.port, (uid_t)-1, 1, got, sizeof(got)) == 0 &&
	    strcmp(got, want) == 0, "and an IPv6 (::1) client's");
	srv_stop(&s);
}

static void
t_requests(void)
{
	struct srv s;
	struct cli *c, *d;
	struct resp r;
	char big[8192];
	int i, k;

	if (srv_start(&s, limits(5000, 5000, 5000, 100, 1 << 20), 0, 0) ==
	    -1) {
		ok(0, "a server starts");
		return;
	}
	c = cli_open(s.port);
	ok(c != NULL, "a client connects");
	if (c == NULL)
		goto out;
	cli_puts(c, "GET /echo?x=1&y=%20 HTTP/1.1\r\nHost: a\r\n"
	    "X-T:  hi there  \r\n\r\n");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 200 &&
	    body_is(&r, "GET /echo?x=1&y=%20|hi there|"),
	    "GET: 200 with the raw path, query and trimmed header");
	ok(!r.close, "HTTP/1.1 keeps the connection");
	cli_puts(c, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "\r\nhello");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 200 &&
	    body_is(&r, "POST /echo?-|-|hello"),
	    "a POST on the kept connection: its body");
	cli_puts(c, "GET /echo HTTP/1.1\r\nX-T: one\r\n\r\n"
	    "GET /echo HTTP/1.1\r\nX-T: two\r\n\r\n");
	ok(cli_resp(c, &r, 5000) == 0 && body_is(&r, "GET /echo?-|one|") &&
	    cli_resp(c, &r, 5000) == 0 && body_is(&r, "GET /echo?-|two|"),
	    "two pipelined requests are answered in order");
	cli_puts(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 200 &&
	    body_is(&r, "POST /echo?-|-|hello world"), "a chunked body");
	cli_puts(c, "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n"
	    "Expect: 100-continue\r\n\r\n");
	ok(cli_resp_x(c, &r, 5000, 1) == 0 && r.code == 100,
	    "Expect: 100-continue gets 100 before the body is sent");
	cli_puts(c, "abc");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 200 &&
	    body_is(&r, "POST /echo?-|-|abc"), "then the answer to it");
	cli_puts(c, "GET /later HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n"
	    "X-T: after\r\n\r\n");
	ok(cli_resp(c, &r, 5000) == 0 && body_is(&r, "later") &&
	    cli_resp(c, &r, 5000) == 0 && body_is(&r, "GET /echo?-|after|"),
	    "an answer given later comes before the next request's");
	cli_puts(c, "GET /stream HTTP/1.1\r\n\r\n");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 200 && r.chunked &&
	    body_is(&r, "abc"), "a streamed answer, chunked");
	cli_puts(c, "GET /nowhere HTTP/1.1\r\n\r\n");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 404 && !r.close,
	    "the handler's 404 keeps the connection");
	cli_close(c);

	c = cli_open(s.port);
	cli_puts(c, "POST /echo HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 413 && r.close,
	    "a body over the maximum: 413 and Connection: close, unread");
	ok(cli_closed(c, 5000), "and the connection is closed");
	cli_close(c);

	c = cli_open(s.port);
	cli_puts(c, "GET /echo HTTP/1.1\r\n");
	for (i = 0; i < HTTPD_HEADERS_MAX + 5; i++) {
		snprintf(big, sizeof(big), "X-%d: v\r\n", i);
		cli_puts(c, big);
	}
	cli_puts(c, "\r\n");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 431 && r.close,
	    "too many header fields: 431");
	cli_close(c);

	c = cli_open(s.port);
	memset(big, 'a', sizeof(big));
	k = snprintf(big, 32, "GET /echo HTTP/1.1\r\nX-Big: ");
	big[k] = 'a';
	big[k + 5000] = '\0';
	cli_puts(c, big);
	cli_puts(c, "\r\n\r\n");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 431,
	    "a head over head_max: 431");
	cli_close(c);

	c = cli_open(s.port);
	cli_puts(c, "HELLO WORLD\r\n\r\n");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 400 && r.close &&
	    cli_closed(c, 5000), "not HTTP: 400, closed");
	cli_close(c);

	c = cli_open(s.port);
	cli_puts(c, "GET /echo HTTP/1.0\r\n\r\n");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 200 && r.close &&
	    cli_closed(c, 5000), "HTTP/1.0 without keep-alive: closed after");
	cli_close(c);

	/* a client gone while its answer is pending: nothing breaks */
	c = cli_open(s.port);
	cli_puts(c, "GET /later HTTP/1.1\r\n\r\n");
	cli_close(c);
	usleep(500000);
	d = cli_open(s.port);
	cli_puts(d, "GET /stats HTTP/1.1\r\n\r\n");
	ok(d != NULL && cli_resp(d, &r, 5000) == 0 && r.code == 200 &&
	    body_is(&r, "reserved=0"),
	    "an answer for a client that left is dropped; every body byte "
	    "is back in the budget");
	cli_puts(d, "GET /drain HTTP/1.1\r\n\r\n");
	ok(cli_resp(d, &r, 5000) == 0 && r.code == 200 && r.close &&
	    cli_closed(d, 5000), "draining: the answer says Connection: close "
	    "and the connection ends");
	cli_close(d);
	ok(cli_open(s.port) == NULL, "and no new connection is accepted");
out:
	srv_stop(&s);
}

static void
t_deadlines(void)
{
	struct srv s;
	struct cli *c;
	struct resp r;
	char line[64];
	int i, got = 0;
	long long t0;

	if (srv_start(&s, limits(600, 600, 600, 100, 1 << 20), 0, 0) == -1) {
		ok(0, "a server starts");
		return;
	}
	/* one header line every 200 ms for 4 s; the head deadline is 600 ms */
	c = cli_open(s.port);
	cli_puts(c, "GET /echo HTTP/1.1\r\n");
	t0 = now_ms();
	for (i = 0; i < 20; i++) {
		snprintf(line, sizeof(line), "X-Trickle-%d: v\r\n", i);
		if (cli_send(c, line, strlen(line)) == -1)
			break;
		if (cli_fill(c, 200) >= 0) {
			got = 1;
			break;
		}
	}
	ok(got && i < 20, "a client trickling header lines is cut off before "
	    "it is done");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 408 && r.close,
	    "with 408 and Connection: close");
	ok(cli_closed(c, 5000), "and the connection is closed");
	printf("# cut off after %d lines, %lld ms\n", i, now_ms() - t0);
	cli_close(c);

	c = cli_open(s.port);
	cli_puts(c, "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 408 && cli_closed(c, 5000),
	    "a body that stops coming: 408, closed");
	cli_close(c);

	c = cli_open(s.port);
	ok(cli_fill(c, 5000) == 0 && c->len == 0,
	    "a connection that sends nothing is closed, without an answer");
	cli_close(c);

	c = cli_open(s.port);
	cli_puts(c, "GET /echo HTTP/1.1\r\n\r\n");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 200 && cli_closed(c, 5000),
	    "a kept-alive connection is closed when idle");
	cli_close(c);
	srv_stop(&s);
}

static void
t_cap(void)
{
	struct srv s;
	struct cli *a, *b, *c, *d, *x, *y, *z;
	struct resp r;

	if (srv_start(&s, limits(10000, 10000, 10000, 3, 1 << 20), 0, 0) ==
	    -1) {
		ok(0, "a server starts");
		return;
	}
	a = cli_open(s.port);
	usleep(100000);
	b = cli_open(s.port);
	usleep(100000);
	c = cli_open(s.port);
	usleep(100000);
	d = cli_open(s.port);
	cli_puts(d, "GET /echo HTTP/1.1\r\nX-T: d\r\n\r\n");
	ok(cli_resp(d, &r, 5000) == 0 && r.code == 200,
	    "at the cap (3 idle connections) a new one is served");
	ok(cli_closed(a, 5000), "the oldest idle connection was closed for it");
	cli_puts(b, "GET /echo HTTP/1.1\r\nX-T: b\r\n\r\n");
	ok(cli_resp(b, &r, 5000) == 0 && r.code == 200,
	    "the others still serve");
	cli_close(a);
	cli_close(b);
	cli_close(c);
	cli_close(d);
	usleep(200000);

	/* three requests whose bodies never finish: the oldest goes */
	a = cli_open(s.port);
	cli_puts(a, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\n1");
	usleep(100000);
	b = cli_open(s.port);
	cli_puts(b, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\n1");
	usleep(100000);
	c = cli_open(s.port);
	cli_puts(c, "POST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\n1");
	usleep(100000);
	d = cli_open(s.port);
	cli_puts(d, "GET /echo HTTP/1.1\r\nX-T: d\r\n\r\n");
	ok(cli_resp(d, &r, 5000) == 0 && r.code == 200,
	    "at the cap with three unfinished bodies a new one is served");
	ok(cli_closed(a, 5000), "the oldest unfinished request was closed");
	cli_puts(b, "234");
	ok(cli_resp(b, &r, 5000) == 0 && r.code == 200 &&
	    body_is(&r, "POST /echo?-|-|1234"), "the others go on");
	cli_close(a);
	cli_close(b);
	cli_close(c);
	cli_close(d);
	usleep(200000);

	/* all three busy with a request: the fourth is refused */
	x = cli_open(s.port);
	y = cli_open(s.port);
	z = cli_open(s.port);
	cli_puts(x, "GET /hold HTTP/1.1\r\n\r\n");
	cli_puts(y, "GET /hold HTTP/1.1\r\n\r\n");
	cli_puts(z, "GET /hold HTTP/1.1\r\n\r\n");
	usleep(200000);
	a = cli_open(s.port);
	ok(a != NULL && cli_resp(a, &r, 5000) == 0 && r.code == 503 &&
	    r.close, "every connection busy: a new one is answered 503");
	ok(cli_resp(x, &r, 5000) == 0 && body_is(&r, "held") &&
	    cli_resp(z, &r, 5000) == 0 && body_is(&r, "held"),
	    "and the busy ones are answered");
	cli_close(a);
	cli_close(x);
	cli_close(y);
	cli_close(z);
	ok(log_count(&s, "connections open (the cap)") <= 2,
	    "evictions and refusals are logged once a minute, not each");
	srv_stop(&s);
}

static void
t_budget(void)
{
	struct srv s;
	struct cli *a, *b, *c;
	struct resp r;
	char fill[700];

	if (srv_start(&s, limits(10000, 10000, 10000, 100, 1000), 0, 0) ==
	    -1) {
		ok(0, "a server starts");
		return;
	}
	memset(fill, 'x', sizeof(fill));
	a = cli_open(s.port);
	cli_puts(a, "POST /echo HTTP/1.1\r\nContent-Length: 600\r\n\r\n");
	cli_send(a, fill, 10);
	usleep(200000);
	b = cli_open(s.port);
	cli_puts(b, "POST /echo HTTP/1.1\r\nContent-Length: 600\r\n\r\n");
	ok(cli_resp(b, &r, 5000) == 0 && r.code == 503 && r.close,
	    "a body that does not fit the budget: 503, Connection: close");
	ok(cli_closed(b, 5000), "and the connection is closed");
	c = cli_open(s.port);
	cli_puts(c, "POST /echo HTTP/1.1\r\nContent-Length: 300\r\n\r\n");
	cli_send(c, fill, 300);
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 200 && r.blen == 315,
	    "one that fits is served");
	cli_puts(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "1f4\r\n");
	cli_send(c, fill, 500);
	cli_puts(c, "\r\n");
	ok(cli_resp(c, &r, 5000) == 0 && r.code == 503,
	    "a chunked body outgrowing the budget: 503");
	cli_close(c);
	cli_send(a, fill, 590);
	ok(cli_resp(a, &r, 5000) == 0 && r.code == 200 && r.blen == 615,
	    "the first body, completed, is served");
	cli_puts(a, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2bc\r\n");
	cli_send(a, fill, 700);
	cli_puts(a, "\r\n0\r\n\r\n");
	ok(cli_resp(a, &r, 5000) == 0 && r.code == 200,
	    "a chunked body of 700 bytes fits the 800-byte maximum");
	cli_puts(a, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2bc\r\n");
	cli_send(a, fill, 700);
	cli_puts(a, "\r\n2bc\r\n");
	cli_send(a, fill, 700);
	cli_puts(a, "\r\n0\r\n\r\n");
	ok(cli_resp(a, &r, 5000) == 0 && r.code == 413,
	    "a chunked body over the maximum: 413");
	cli_close(a);
	a = cli_open(s.port);
	cli_puts(a, "GET /stats HTTP/1.1\r\n\r\n");
	ok(cli_resp(a, &r, 5000) == 0 && body_is(&r, "reserved=0"),
	    "every body byte is back in the budget");
	cli_close(a);
	cli_close(b);
	srv_stop(&s);
}

static void
t_emfile(void)
{
	struct srv s;
	struct cli *c[8];
	struct resp r;
	int i, served = 0;

	/* 3 descriptors free once listening: the 4th connection meets EMFILE */
	if (srv_start(&s, limits(30000, 30000, 30000, 1000, 1 << 20), 64, 3) ==
	    -1) {
		ok(0, "a server starts");
		return;
	}
	for (i = 0; i < 8; i++)
		c[i] = cli_open(s.port);
	usleep(1500000);
	ok(log_count(&s, "out of descriptors") == 1,
	    "EMFILE at accept is logged once");
	ok(log_count(&s, NULL) <= 2 && log_count(&s, "Error from accept") == 0,
	    "and the log is not flooded");
	/* each waiting client asks and closes; the first three leave */
	for (i = 3; i < 8; i++)
		if (c[i] != NULL)
			cli_puts(c[i], "GET /echo HTTP/1.1\r\n"
			    "Connection: close\r\n\r\n");
	for (i = 0; i < 3; i++)
		cli_close(c[i]);
	for (i = 3; i < 8; i++) {
		if (c[i] != NULL && cli_resp(c[i], &r, 5000) == 0 &&
		    r.code == 200)
			served++;
		cli_close(c[i]);
	}
	ok(served == 5, "connections that waited are served once descriptors "
	    "are free");
	if (served != 5)
		printf("# served %d of 5\n", served);
	srv_stop(&s);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	t_peer_uid();
	t_requests();
	t_deadlines();
	t_cap();
	t_budget();
	t_emfile();
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
