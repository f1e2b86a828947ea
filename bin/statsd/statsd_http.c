/*
 * statsd_http — statsd's HTTP listener (statsd_listen, 127.0.0.1:8090) on
 * lib/httpd, with its budgets:
 *
 *   GET /            the wallboard: one self-contained HTML page (no
 *                    framework, no external asset) that draws the snapshot
 *                    of /api/stats, then follows /events
 *   GET /events      server-sent events: a snapshot (event "snapshot"),
 *                    then one event per batch of changes, each with an id;
 *                    a client that comes back with Last-Event-ID gets the
 *                    batches it missed when they are still in the ring,
 *                    else a new snapshot.  The sync line of each batch, at
 *                    least once a second, is the heartbeat
 *   GET /api/stats   every entity as one JSON document
 *   GET /metrics     Prometheus text format 0.0.4 (metrics.md §5)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "httpd.h"
#include "log.h"
#include "statsd.h"

#define RING		256	/* batches kept for Last-Event-ID */
#define SSE_MAX		256	/* /events clients */

struct sse {
	struct httpd_req	*req;
	int			 gone;
	struct sse		*next;
};

static struct sse	*sses;
static unsigned		 nsse;
static struct {
	uint64_t	 id;
	char		*text;		/* "id: ..\ndata: ..\n\n" */
	size_t		 len;
} ring[RING];
static uint64_t		 boot;		/* ids are "<boot>-<n>" */
static uint64_t		 last_id;

extern const char	 statsd_page[];

unsigned
http_clients(void)
{
	return nsse;
}

/* One SSE message: each line of b as a data: line. */
static char *
sse_msg(const char *event, uint64_t id, const char *b, size_t n,
    size_t *outlen)
{
	char *out = NULL;
	size_t len = 0, i, s;
	FILE *fp = open_memstream(&out, &len);

	if (fp == NULL)
		fatalx("out of memory");
	if (event)
		fprintf(fp, "event: %s\n", event);
	fprintf(fp, "id: %" PRIx64 "-%" PRIu64 "\n", boot, id);
	for (s = i = 0; i < n; i++)
		if (b[i] == '\n') {
			fputs("data: ", fp);
			fwrite(b + s, 1, i - s, fp);
			fputc('\n', fp);
			s = i + 1;
		}
	fputc('\n', fp);
	fclose(fp);
	*outlen = len;
	return out;
}

static void
sse_drop(struct sse *c)
{
	struct sse **p;

	for (p = &sses; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	httpd_stream_end(c->req);
	free(c);
	nsse--;
}

static void
sse_gone(struct httpd_req *req, void *arg)
{
	struct sse *c = arg;

	c->gone = 1;
}

void
http_broadcast(uint64_t id, const char *b, size_t n)
{
	struct sse *c, *nx;
	size_t len, slot = id % RING;
	char *m = sse_msg(NULL, id, b, n, &len);

	free(ring[slot].text);
	ring[slot].id = id;
	ring[slot].text = m;
	ring[slot].len = len;
	last_id = id;
	for (c = sses; c; c = nx) {
		nx = c->next;
		if (c->gone || httpd_stream_write(c->req, m, len) == -1)
			sse_drop(c);
	}
}

struct buf {
	char	*b;
	size_t	 len;
	FILE	*fp;
};

static void
buf_line(const char *s, size_t n, void *arg)
{
	FILE *fp = arg;

	fwrite(s, 1, n, fp);
	fputc('\n', fp);
}

/* Batches after Last-Event-ID from the ring; 0 if it cannot resume. */
static int
resume(struct httpd_req *req, const char *lei)
{
	uint64_t b, n, i;
	char *end;

	b = strtoull(lei, &end, 16);
	if (b != boot || *end != '-')
		return 0;
	n = strtoull(end + 1, &end, 10);
	if (*end != '\0' || n > last_id)
		return 0;
	if (last_id - n >= RING)
		return 0;
	for (i = n + 1; i <= last_id; i++)
		if (ring[i % RING].id != i || ring[i % RING].text == NULL)
			return 0;
	for (i = n + 1; i <= last_id; i++)
		httpd_stream_write(req, ring[i % RING].text,
		    ring[i % RING].len);
	return 1;
}

static void
events(struct httpd_req *req)
{
	const char *lei = httpd_req_header(req, "Last-Event-ID");
	struct sse *c;

	if (nsse >= SSE_MAX) {
		httpd_reply(req, 503, "text/plain", "too many clients\n", 17);
		return;
	}
	httpd_add_header(req, "Cache-Control", "no-cache");
	httpd_add_header(req, "X-Accel-Buffering", "no");
	if (httpd_stream_begin(req, 200, "text/event-stream") == -1) {
		httpd_stream_end(req);
		return;
	}
	/* reconnect after 1 s when the stream breaks */
	httpd_stream_write(req, "retry: 1000\n\n", 13);
	if (lei == NULL || !resume(req, lei)) {
		struct buf bf = { 0 };
		char *m;
		size_t len;

		if ((bf.fp = open_memstream(&bf.b, &bf.len)) == NULL)
			fatalx("out of memory");
		/* the other shards' first: the sync line ends the snapshot */
		shards_lines(buf_line, bf.fp);
		view_snapshot(&S->view, S->fold, &S->sys, statsd_now(),
		    buf_line, bf.fp);
		fclose(bf.fp);
		m = sse_msg("snapshot", last_id, bf.b, bf.len, &len);
		httpd_stream_write(req, m, len);
		free(m);
		free(bf.b);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatalx("out of memory");
	c->req = req;
	c->next = sses;
	sses = c;
	nsse++;
	httpd_req_on_gone(req, sse_gone, c);
}

static void
on_request(struct httpd_req *req, void *arg)
{
	const char *m = httpd_req_method(req), *p = httpd_req_path(req);
	char *b = NULL;
	size_t len = 0;
	FILE *fp;

	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
		httpd_add_header(req, "Allow", "GET, HEAD");
		httpd_reply(req, 405, "text/plain", "GET only\n", 9);
		return;
	}
	if (strcmp(p, "/") == 0 || strcmp(p, "/index.html") == 0) {
		httpd_add_header(req, "Cache-Control", "no-cache");
		httpd_reply(req, 200, "text/html; charset=utf-8", statsd_page,
		    strlen(statsd_page));
	} else if (strcmp(p, "/events") == 0) {
		events(req);
	} else if (strcmp(p, "/api/stats") == 0) {
		json_t *d = view_doc(S->fold, &S->sys, statsd_now());

		shards_doc(d);

		b = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER |
		    JSON_REAL_PRECISION(15));
		json_decref(d);
		httpd_add_header(req, "Cache-Control", "no-cache");
		httpd_reply(req, 200, "application/json", b ? b : "{}",
		    b ? strlen(b) : 2);
		free(b);
	} else if (strcmp(p, "/metrics") == 0) {
		if ((fp = open_memstream(&b, &len)) == NULL)
			fatalx("out of memory");
		view_metrics(S->fold, &S->sys, statsd_now(), fp);
		fclose(fp);
		httpd_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8",
		    b, len);
		free(b);
	} else
		httpd_reply(req, 404, "text/plain", "not found\n", 10);
}

int
http_start(char *err, size_t errsz)
{
	struct httpd_conf hc;
	char *host = NULL;
	int port;

	memset(&hc, 0, sizeof(hc));
	if (conf_listen(S->d.conf, "statsd_listen", &host, &port, err,
	    errsz) == -1 || httpd_limits_load(&hc.lim, S->d.conf, err,
	    errsz) == -1) {
		free(host);
		return -1;
	}
	boot = (uint64_t)daemon_now_ms();
	hc.name = "statsd";
	hc.host = host;
	hc.port = port;
	hc.body_max = 4096;
	hc.head_max = 16384;
	/* server-sent events stay open: no idle deadline cuts them, the
	 * heartbeat keeps them busy; other requests keep the budgets */
	hc.request = on_request;
	S->http = httpd_new(S->d.base, &hc, err, errsz);
	free(host);
	return S->http ? 0 : -1;
}

void
http_stop(void)
{
	struct sse *c, *nx;

	for (c = sses; c; c = nx) {
		nx = c->next;
		sse_drop(c);
	}
	if (S->http)
		httpd_drain(S->http);
}
