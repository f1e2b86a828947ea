/*
 * t_http_out — the libcurl-on-libevent client against a tiny evhttp server
 * in the same event base: 200 requests at once over a few kept-alive
 * connections all come back with the right status and body, completions are
 * never delivered from inside http_out_start, a closed port and a server
 * that never answers fail just their own request, oversized bodies are
 * refused, and a multipart file part is streamed from the descriptor it was
 * given (its path replaced, and the caller's descriptor closed, before the
 * request goes out: the original bytes are sent).  Requests queued behind
 * the connection cap keep their own copy of the URL, body and credentials
 * (the caller's buffers are reused at once), and take an easy handle only
 * when they go out.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <sodium.h>

#include "http_out.h"

#define NREQ	200
#define MAXCONN	8

static int n, failed;
static struct event_base *base;
static int in_start;		/* set while inside http_out_start */
static int sync_calls;		/* callbacks seen inside http_out_start */
static int pending;
static struct evhttp_connection *conns[NREQ];
static int nconns;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

/* Server: /echo/N answers 200 "N:<body>", /status/C answers C,
 * /big answers 2 MiB, /hang never answers. */
static void
serve(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evbuffer *out = evbuffer_new();
	struct evhttp_connection *ec = evhttp_request_get_connection(req);
	int i, known = 0;

	for (i = 0; i < nconns; i++)
		if (conns[i] == ec)
			known = 1;
	if (!known && nconns < NREQ)
		conns[nconns++] = ec;
	if (strncmp(uri, "/echo/", 6) == 0) {
		evbuffer_add_printf(out, "%s:", uri + 6);
		evbuffer_add_buffer(out, in);
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strncmp(uri, "/status/", 8) == 0) {
		evbuffer_add_printf(out, "{\"code\":%s}", uri + 8);
		evhttp_send_reply(req, atoi(uri + 8), "X", out);
	} else if (strcmp(uri, "/big") == 0) {
		char *b = calloc(1, 2 * 1024 * 1024);

		evbuffer_add(out, b, 2 * 1024 * 1024);
		free(b);
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strncmp(uri, "/auth/", 6) == 0) {
		const char *a = evhttp_find_header(
		    evhttp_request_get_input_headers(req), "Authorization");

		evbuffer_add_printf(out, "%s:%s", uri + 6, a ? a : "-");
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strcmp(uri, "/hang") == 0) {
		/* never answered; freed with the server */
	} else
		evhttp_send_reply(req, 404, "Not Found", out);
	evbuffer_free(out);
}

struct exp {
	int	 i;
	int	 done;
	long	 status;
	int	 body_ok;
	int	 timed_out;
	int	 has_error;
};

static void
done(const struct http_resp *r, void *arg)
{
	struct exp *e = arg;
	char want[64];

	if (in_start)
		sync_calls++;
	e->done = 1;
	e->status = r->status;
	e->timed_out = r->timed_out;
	e->has_error = r->error != NULL && r->error[0] != '\0';
	snprintf(want, sizeof(want), "%d:body-%d", e->i, e->i);
	e->body_ok = strcmp(r->body, want) == 0 && r->bodylen == strlen(want);
	if (--pending == 0)
		event_base_loopexit(base, NULL);
}

/* /auth/N answers "N:Basic base64(user-N:pw-N)". */
static void
auth_done(const struct http_resp *r, void *arg)
{
	struct exp *e = arg;
	char cred[64], b64[128], want[192];

	snprintf(cred, sizeof(cred), "user-%d:pw-%d", e->i, e->i);
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)cred,
	    strlen(cred), sodium_base64_VARIANT_ORIGINAL);
	snprintf(want, sizeof(want), "%d:Basic %s", e->i, b64);
	e->done = 1;
	e->status = r->status;
	e->body_ok = strcmp(r->body, want) == 0;
	if (--pending == 0)
		event_base_loopexit(base, NULL);
}

/* The multipart answer: what the echoed body carried. */
static int mp_has_orig, mp_has_swapped, mp_has_name;

static void
mp_done(const struct http_resp *r, void *arg)
{
	struct exp *e = arg;

	e->done = 1;
	e->status = r->status;
	mp_has_orig = memmem(r->body, r->bodylen, "ORIGINAL-CONTENT-0123456789",
	    27) != NULL;
	mp_has_swapped = memmem(r->body, r->bodylen, "SWAPPED", 7) != NULL;
	mp_has_name = memmem(r->body, r->bodylen, "filename=\"a.txt\"", 16) !=
	    NULL;
	if (--pending == 0)
		event_base_loopexit(base, NULL);
}

static int
start(struct http_out *ho, const char *url, const char *body, long tmo,
    struct exp *e)
{
	static const char *hdrs[] = { "Content-Type: text/plain", NULL };
	struct http_req rq = { 0 };
	int r;

	rq.method = body ? "POST" : "GET";
	rq.url = url;
	rq.headers = hdrs;
	rq.body = body;
	rq.bodylen = body ? strlen(body) : 0;
	rq.timeout_ms = tmo;
	in_start = 1;
	r = http_out_start(ho, &rq, done, e);
	in_start = 0;
	if (r == 0)
		pending++;
	return r;
}

static void
run(void)
{
	struct timeval guard = { 60, 0 };	/* only if something hangs */

	event_base_loopexit(base, &guard);
	event_base_dispatch(base);
}

int
main(void)
{
	static struct exp ex[NREQ];
	struct exp one;
	struct evhttp *http;
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct http_out *ho;
	char url[128], body[64];
	int i, port, closed_port, fd, all_ok, all_started;

	printf("1..13\n");
	base = event_base_new();
	http = evhttp_new(base);
	bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	if (base == NULL || http == NULL || bs == NULL) {
		printf("Bail out! cannot start the test server\n");
		return 1;
	}
	evhttp_set_gencb(http, serve, NULL);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin,
	    &sl);
	port = ntohs(sin.sin_port);
	ho = http_out_new(base, MAXCONN);
	ok(ho != NULL, "http_out_new");

	all_started = 1;
	for (i = 0; i < NREQ; i++) {
		ex[i].i = i;
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo/%d",
		    port, i);
		snprintf(body, sizeof(body), "body-%d", i);
		if (start(ho, url, body, 0, &ex[i]) != 0)
			all_started = 0;
	}
	ok(all_started && http_out_inflight(ho) == NREQ,
	    "200 concurrent requests started");
	run();
	all_ok = 1;
	for (i = 0; i < NREQ; i++)
		if (!ex[i].done || ex[i].status != 200 || !ex[i].body_ok)
			all_ok = 0;
	ok(all_ok, "all 200 answers came back with status 200 and their body");
	ok(sync_calls == 0, "no callback ran inside http_out_start");
	ok(nconns > 0 && nconns <= MAXCONN,
	    "kept-alive connections, at most max_conns of them");

	{
		/* queued GETs with credentials, from one reused buffer each */
		static struct exp ax[64];
		char cred[64];
		struct http_req rq = { 0 };

		all_started = 1;
		for (i = 0; i < 64; i++) {
			ax[i].i = i;
			snprintf(url, sizeof(url),
			    "http://127.0.0.1:%d/auth/%d", port, i);
			snprintf(cred, sizeof(cred), "user-%d:pw-%d", i, i);
			rq.method = "GET";
			rq.url = url;
			rq.userpwd = cred;
			if (http_out_start(ho, &rq, auth_done, &ax[i]) != 0)
				all_started = 0;
			else
				pending++;
		}
		ok(all_started && http_out_inflight(ho) == 64,
		    "64 GETs with credentials started, most queued");
		run();
		all_ok = 1;
		for (i = 0; i < 64; i++)
			if (!ax[i].done || ax[i].status != 200 ||
			    !ax[i].body_ok)
				all_ok = 0;
		ok(all_ok, "each queued GET went to its own URL with its own "
		    "credentials");
	}

	memset(&one, 0, sizeof(one));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/status/429", port);
	start(ho, url, "x", 0, &one);
	run();
	ok(one.done && one.status == 429 && !one.has_error,
	    "a 429 answer is reported with its status");

	/* a port that was just free and is now closed */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	sl = sizeof(sin);
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	closed_port = ntohs(sin.sin_port);
	close(fd);
	memset(&one, 0, sizeof(one));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo/0", closed_port);
	start(ho, url, NULL, 0, &one);
	run();
	ok(one.done && one.status == 0 && one.has_error,
	    "a closed port gives status 0 and an error");

	memset(&one, 0, sizeof(one));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hang", port);
	start(ho, url, NULL, 300, &one);
	run();
	ok(one.done && one.status == 0 && one.timed_out && one.has_error,
	    "a server that never answers times out");

	memset(&one, 0, sizeof(one));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", port);
	start(ho, url, NULL, 0, &one);
	run();
	ok(one.done && one.status == 0 && one.has_error,
	    "a response body over 1 MiB is refused");

	{
		/* a file part: streamed from the descriptor, not the path */
		static const char orig[] = "ORIGINAL-CONTENT-0123456789";
		char path[] = "/tmp/t_http_out.XXXXXX";
		struct http_part parts[2];
		struct http_req rq = { 0 };
		int tfd, ffd, r;

		memset(parts, 0, sizeof(parts));
		tfd = mkstemp(path);
		r = tfd != -1 && write(tfd, orig, sizeof(orig) - 1) ==
		    (ssize_t)sizeof(orig) - 1;
		if (tfd != -1)
			close(tfd);
		ffd = open(path, O_RDONLY);
		parts[0].name = "type";
		parts[0].value = "text/plain";
		parts[1].name = "file";
		parts[1].fd = ffd;
		parts[1].size = (long long)sizeof(orig) - 1;
		parts[1].filename = "a.txt";
		parts[1].type = "text/plain";
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo/mp", port);
		rq.method = "POST";
		rq.url = url;
		rq.parts = parts;
		rq.nparts = 2;
		memset(&one, 0, sizeof(one));
		one.i = -1;
		r = r && ffd != -1 && http_out_start(ho, &rq, mp_done, &one) == 0;
		if (r)
			pending++;
		/* the caller lets go; the path now names other bytes */
		if (ffd != -1)
			close(ffd);
		unlink(path);
		if ((tfd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) != -1) {
			r = r && write(tfd, "SWAPPED", 7) == 7;
			close(tfd);
		}
		ok(r, "a multipart POST with a file descriptor part started");
		run();
		ok(one.done && one.status == 200 && mp_has_orig &&
		    !mp_has_swapped && mp_has_name,
		    "the bytes of the descriptor were sent, not the path's "
		    "new ones");
		unlink(path);
	}

	http_out_free(ho);
	evhttp_free(http);
	event_base_free(base);
	return failed ? 1 : 0;
}
