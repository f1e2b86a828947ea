/*
 * sink — the provider and the application behind Kannel in `make bench
 * BENCH_PEERS=1`: an HTTP server on 127.0.0.1 that only answers.
 *
 *	sink -p PORT
 *
 * Every request (any path but /sink/...) is answered 200 "Sent.", which
 * Kannel's HTTP SMSC of system-type kannel takes as sent.  When its query
 * has text=bench N (Kannel's MT to the SMSC, or smsbox's get-url for an MO
 * message) the arrival time is kept, and
 *
 *	GET /sink/received?since=n
 *
 * lists what arrived, entry n and later, as JSON lines in the shape of
 * sandboxd's /sandbox/received ({"n", "kind":"request", "answer":200,
 * "params":{"Body"}, "ts_ms"}), so that loadgen reads both alike;
 * GET /sink/reset forgets them (loadgen asks it before a phase).
 * Single-threaded on libevent's evhttp, kept-alive connections; it does
 * no more per message than parse the query and remember a number and a
 * time.  Runs until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

struct arrival {
	long		idx;	/* N of "bench N" */
	int64_t		ms;	/* wall clock, as sandboxd's ts_ms */
};

static struct arrival	*arr;
static size_t		 narr, carr;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "bench N" (N digits, at most 9) as N, else -1. */
static long
bench_index(const char *t)
{
	const char *p;

	if (t == NULL || strncmp(t, "bench ", 6) != 0)
		return -1;
	for (p = t + 6; *p >= '0' && *p <= '9'; p++)
		;
	if (*p != '\0' || p == t + 6 || p - (t + 6) > 9)
		return -1;
	return atol(t + 6);
}

static void
remember(long idx)
{
	if (narr == carr) {
		size_t c = carr ? carr * 2 : 65536;
		struct arrival *a = realloc(arr, c * sizeof(*a));

		if (a == NULL) {
			fputs("sink: out of memory\n", stderr);
			exit(1);
		}
		arr = a;
		carr = c;
	}
	arr[narr].idx = idx;
	arr[narr].ms = now_ms();
	narr++;
}

static void
answer(struct evhttp_request *req, int code, const char *type,
    struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", body);
}

static void
received(struct evhttp_request *req, struct evkeyvalq *q)
{
	struct evbuffer *b = evbuffer_new();
	const char *s = evhttp_find_header(q, "since");
	size_t i = 0;

	if (b == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (s != NULL && atol(s) > 1)
		i = (size_t)atol(s) - 1;
	for (; i < narr; i++)
		evbuffer_add_printf(b, "{\"n\":%zu,\"kind\":\"request\","
		    "\"answer\":200,\"params\":{\"Body\":\"bench %ld\"},"
		    "\"ts_ms\":%lld}\n", i + 1, arr[i].idx,
		    (long long)arr[i].ms);
	answer(req, 200, "application/x-ndjson", b);
	evbuffer_free(b);
}

static void
handle(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	const char *query = u ? evhttp_uri_get_query(u) : NULL;
	struct evkeyvalq q;
	struct evbuffer *b;
	long idx;

	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		evhttp_send_error(req, 400, NULL);
		return;
	}
	if (path != NULL && strcmp(path, "/sink/reset") == 0) {
		narr = 0;	/* forget what arrived: a new phase */
		evhttp_clear_headers(&q);
		evhttp_send_reply(req, 200, "OK", NULL);
		return;
	}
	if (path != NULL && strcmp(path, "/sink/received") == 0) {
		received(req, &q);
		evhttp_clear_headers(&q);
		return;
	}
	if ((idx = bench_index(evhttp_find_header(&q, "text"))) >= 0)
		remember(idx);
	evhttp_clear_headers(&q);
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add(b, "Sent.", 5);
	answer(req, 200, "text/plain", b);
	evbuffer_free(b);
}

static void
on_signal(evutil_socket_t fd, short ev, void *arg)
{
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct event *sigterm, *sigint;
	struct evhttp *http;
	long port;
	char *end;

	if (argc != 3 || strcmp(argv[1], "-p") != 0) {
		fputs("usage: sink -p PORT\n", stderr);
		return 2;
	}
	errno = 0;
	port = strtol(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
		fprintf(stderr, "sink: bad port: %s\n", argv[2]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL ||
	    (http = evhttp_new(base)) == NULL) {
		fputs("sink: libevent setup failed\n", stderr);
		return 1;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(http, handle, NULL);
	if (evhttp_bind_socket(http, "127.0.0.1", (unsigned short)port) != 0) {
		fprintf(stderr, "sink: cannot listen on 127.0.0.1:%ld\n", port);
		return 1;
	}
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	if (sigterm == NULL || sigint == NULL || event_add(sigterm, NULL) != 0 ||
	    event_add(sigint, NULL) != 0) {
		fputs("sink: cannot catch signals\n", stderr);
		return 1;
	}
	event_base_dispatch(base);
	event_free(sigterm);
	event_free(sigint);
	evhttp_free(http);
	event_base_free(base);
	free(arr);
	return 0;
}
