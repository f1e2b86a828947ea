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
 *
 * Who may read: the same people as stats.sock (root, the daemons' user, a
 * Unix user mapped to a supervisor or admin), and the Unix users named in
 * statsd_http_users (a proxy, a Prometheus); "*" there serves anyone,
 * remote peers too.  A loopback peer's user is read from the kernel's TCP
 * table (httpd_req_peer_uid); a remote peer has none and is refused unless
 * "*".  Roles are looked up per request, and open streams are checked
 * again when campaignd commits (http_recheck), so a demotion ends them.
 */
#include <ctype.h>
#include <inttypes.h>
#include <pwd.h>
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
static char		*users;		/* statsd_http_users, " a b " */
static int		 users_any;	/* it holds "*" */
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

/*
 * statsd_http_users: Unix user names separated by commas or blanks, or
 * "*".  Kept as " a b " so that a name is found as " name ".
 */
static int
users_load(const struct conf *cf, char **out, int *any, char *err,
    size_t errsz)
{
	const char *v = conf_get(cf, "statsd_http_users"), *p, *e;
	char *u;
	size_t n = 1;

	*any = 0;
	if ((u = malloc(strlen(v ? v : "") * 2 + 2)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	u[0] = ' ';
	for (p = v ? v : ""; *p; p = e) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		for (e = p; *e && *e != ',' && !isspace((unsigned char)*e); e++)
			;
		if (e == p)
			break;
		if (e - p == 1 && *p == '*')
			*any = 1;
		else if (e - p > 32 || !(islower((unsigned char)*p) ||
		    *p == '_') || strspn(p, "abcdefghijklmnopqrstuvwxyz"
		    "0123456789_-.") < (size_t)(e - p)) {
			snprintf(err, errsz, "statsd_http_users: \"%.*s\" is "
			    "not a Unix user name (lower case, digits, _ - .; "
			    "at most 32) nor \"*\"", (int)(e - p > 40 ? 40 :
			    e - p), p);
			free(u);
			return -1;
		}
		memcpy(u + n, p, (size_t)(e - p));
		n += (size_t)(e - p);
		u[n++] = ' ';
	}
	u[n] = '\0';
	*out = u;
	return 0;
}

int
http_reload(char *err, size_t errsz)
{
	char *u;
	int any;

	if (users_load(S->d.conf, &u, &any, err, errsz) == -1)
		return -1;
	free(users);
	users = u;
	users_any = any;
	return 0;
}

/* The peer may read the statistics (see the head of this file). */
static int
peer_allowed(const struct httpd_req *req)
{
	struct passwd *pw;
	char name[40];
	uid_t uid;

	if (users_any)
		return 1;
	if (httpd_req_peer_uid(req, &uid) == -1)
		return 0;
	if (camp_role(uid) >= 1)
		return 1;
	if ((pw = getpwuid(uid)) == NULL || strlen(pw->pw_name) > 32)
		return 0;
	snprintf(name, sizeof(name), " %s ", pw->pw_name);
	return strstr(users, name) != NULL;
}

/* One line about refusals, at most every 10 s, with how many. */
static void
say_refused(const struct httpd_req *req, const char *why)
{
	static long long last;
	static unsigned long n;
	long long now = daemon_now_ms();
	uid_t uid;

	n++;
	if (last != 0 && now - last < 10000)
		return;
	if (httpd_req_peer_uid(req, &uid) == 0)
		log_info("http: %s uid %u at %s (%lu refused since the last "
		    "line)", why, (unsigned)uid, httpd_req_peer(req), n);
	else
		log_info("http: %s %s, a peer whose user is unknown (%lu "
		    "refused since the last line)", why, httpd_req_peer(req),
		    n);
	last = now;
	n = 0;
}

void
http_recheck(void)
{
	struct sse *c, *nx;

	for (c = sses; c; c = nx) {
		nx = c->next;
		if (!c->gone && !peer_allowed(c->req)) {
			say_refused(c->req, "stream ended: no longer allowed,");
			sse_drop(c);
		}
	}
}

static void
on_request(struct httpd_req *req, void *arg)
{
	static const char denied[] = "statsd: supervisors and admins only\n";
	const char *m = httpd_req_method(req), *p = httpd_req_path(req);
	char *b = NULL;
	size_t len = 0;
	FILE *fp;

	if (!peer_allowed(req)) {
		say_refused(req, "refused");
		httpd_reply(req, 403, "text/plain", denied, sizeof(denied) - 1);
		return;
	}

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
	if (http_reload(err, errsz) == -1) {
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
