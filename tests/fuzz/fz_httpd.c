/*
 * fz_httpd — fuzz target for lib/httpd, the listener every webhook's bytes
 * reach first: the input is sent as it is on a fresh TCP connection to a
 * server in this process (then the client's side is shut), and the event
 * loop runs until the server has closed the connection.  Whatever the
 * bytes, the server must close it (never hang), and afterwards hold no
 * connection and no byte of the body budget: a leak there would be a
 * budget that slowly stops admitting anyone.  The handler reads every part
 * of the request and answers now, later or as a stream, by path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "httpd.h"
#include "log.h"

static struct event_base *base;
static struct httpd *srv;
static int port;

static void
answer_later(evutil_socket_t fd, short what, void *arg)
{
	httpd_reply(arg, 200, "text/plain", "later", 5);
}

static void
serve(struct httpd_req *req, void *arg)
{
	const char *p = httpd_req_path(req), *q = httpd_req_query(req);
	const char *h = httpd_req_header(req, "X-T"), *b;
	struct timeval tv = { 0, 0 };
	size_t len, sum = 0, i;

	b = httpd_req_body(req, &len);
	for (i = 0; i < len; i++)
		sum += (unsigned char)b[i];
	if (b[len] != '\0' || strlen(p) == 0 || (q && strlen(q) > 4096) ||
	    (h && strlen(h) > 4096) || httpd_req_method(req) == NULL ||
	    httpd_req_peer(req) == NULL)
		abort();
	if (strncmp(p, "/later", 6) == 0) {
		httpd_req_body_release(req);
		if (event_base_once(base, -1, EV_TIMEOUT, answer_later, req,
		    &tv) == -1)
			httpd_reply(req, 503, NULL, NULL, 0);
	} else if (strncmp(p, "/stream", 7) == 0) {
		if (httpd_stream_begin(req, 200, "text/plain") == 0) {
			httpd_stream_write(req, b, len);
			httpd_stream_write(req, "x", 1);
		}
		httpd_stream_end(req);
	} else {
		if (httpd_add_header(req, "X-Sum", "1") == -1)
			abort();
		httpd_reply(req, len % 7 == 3 ? 405 : 200, "text/plain", b,
		    len);
	}
	(void)sum;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct httpd_conf cf;
	char err[256];

	log_init("fz_httpd", 0);
	memset(&cf, 0, sizeof(cf));
	cf.name = "fz_httpd";
	cf.host = "127.0.0.1";
	cf.port = 0;
	cf.body_max = 2048;
	cf.head_max = 2048;
	cf.lim.head_ms = 60000;
	cf.lim.body_ms = 60000;
	cf.lim.idle_ms = 60000;
	cf.lim.max_conns = 16;
	cf.lim.body_budget = 3000;
	cf.request = serve;
	if ((base = event_base_new()) == NULL ||
	    (srv = httpd_new(base, &cf, err, sizeof(err))) == NULL ||
	    (port = httpd_port(srv)) <= 0)
		abort();
	return 0;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in sin;
	char buf[65536];
	size_t sent = 0;
	ssize_t r;
	int fd, shut = 0;
	long long end;

	if (base == NULL)
		LLVMFuzzerInitialize(NULL, NULL);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		abort();
	end = now_ms() + 10000;
	for (;;) {
		if (now_ms() > end)
			abort();	/* the server never closed: a hang */
		if (sent < size) {
			r = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
			if (r > 0)
				sent += (size_t)r;
			else if (r == -1 && errno != EAGAIN)
				sent = size;	/* closed by the server */
		} else if (!shut) {
			shutdown(fd, SHUT_WR);
			shut = 1;
		}
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0 || (r == -1 && errno != EAGAIN))
			break;
	}
	close(fd);
	/* the server's side goes on the next passes */
	while (httpd_conns(srv) > 0) {
		if (now_ms() > end)
			abort();
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	if (httpd_body_reserved(srv) != 0)
		abort();		/* the body budget leaked */
	return 0;
}
