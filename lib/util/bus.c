/*
 * bus — framed msgpack over Unix stream sockets on libevent bufferevents.
 *
 * One struct bus_conn per connection, server or client side.  A client
 * reconnects forever with capped exponential backoff and jitter; pending
 * requests of a lost connection are answered with NULL so their owners can
 * retry or fail cleanly.  Frames are decoded zero-copy from the input buffer
 * (evbuffer_pullup) and drained after the handler returns.  A connection may
 * be dropped from inside its own handler: freeing is deferred until the read
 * loop unwinds.  A server's programs keep their per-client state in a
 * struct bus_caller, which outlives the connection while answers wait on it.
 *
 * Budgets (bus.h): a server counts its connections per Unix user and
 * refuses one over the cap at accept; a once-a-second sweep drops a
 * connection whose frame started arriving more than frame_ms ago (a peer
 * trickling a 1 MiB frame holds no memory for long); and the input buffered
 * from unprivileged peers is summed over all servers of the process, the
 * connection that pushes it past input_max being dropped.  Reading stops
 * once one whole frame is buffered (the read high-water mark), so a peer
 * never gets more than a frame ahead of its handler.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <sodium.h>

#include "bus.h"
#include "conf.h"
#include "daemon.h"
#include "htab.h"
#include "log.h"
#include "mp.h"
#include "proto.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000

struct pend {
	struct htab_node hn;		/* in bus_conn's pend, keyed by id */
	int64_t		 id;
	bus_answer_cb	 cb;
	void		*arg;
};

struct bus_conn {
	struct event_base		*base;
	struct bufferevent		*bev;
	const struct bus_handlers	*h;
	void				*arg;
	void				*data;
	struct bus_server		*srv;		/* server side */
	TAILQ_ENTRY(bus_conn)		 entry;
	/* client side */
	int				 client;
	char				*path;
	char				 myname[32];
	struct event			*ev_retry;
	int				 backoff_ms;
	int				 up;
	int				 pair;		/* bus_pair: never reconnects */
	/* state */
	char				 name[64];
	int64_t				 next_id;
	struct htab			 pend;		/* requests awaiting answers */
	int				 paused, want_drain;
	size_t				 drain_at;	/* bus_want_drain's lowat */
	int				 busy, dead;
	msgpack_unpacked		 up_obj;
	/* the peer, from SO_PEERCRED at accept (server side) */
	int				 cred_ok;
	uid_t				 uid;
	int				 privileged;	/* root or our user */
	int				 self;		/* our own user */
	int				 denied_logged;
	long long			 partial_since;	/* ms, 0: none */
	long long			 closing_since;	/* bus_finish, ms */
	const char			*closing_why;
	size_t				 in_acct;	/* counted in in_total */
};

struct bus_server {
	struct event_base		*base;
	struct evconnlistener		*lev;
	const struct bus_handlers	*h;
	void				*arg;
	char				*path;
	size_t				 nclients;
	TAILQ_HEAD(, bus_conn)		 conns;
	const struct bus_limits		*lim;
	struct event			*ev_sweep;	/* deadlines, 1 s */
	struct event			*ev_resume;	/* after EMFILE */
	long long			 refused_log;	/* ms of the last log */
	unsigned long			 refused;	/* since then */
};

/* Input buffered from unprivileged peers, over every server. */
static size_t	in_total;
static const struct bus_limits default_limits = {
	BUS_PER_USER_DEFAULT, BUS_FRAME_MS_DEFAULT,
	(size_t)BUS_INPUT_MB_DEFAULT << 20,
};

static void	conn_read(struct bufferevent *, void *);
static void	conn_write(struct bufferevent *, void *);
static void	conn_event(struct bufferevent *, short, void *);
static void	client_schedule(struct bus_conn *);
static void	refused_log(struct bus_server *, uid_t);

/* pending requests, keyed by id (lib/htab) */

static int
pend_eq(const struct htab_node *n, const void *key, size_t keylen)
{
	const struct pend *p = HTAB_ENTRY(n, struct pend, hn);

	return keylen == sizeof(p->id) && memcmp(&p->id, key, keylen) == 0;
}

static int
pend_add(struct bus_conn *c, int64_t id, bus_answer_cb cb, void *arg)
{
	struct pend *p;

	if ((p = malloc(sizeof(*p))) == NULL)
		return -1;
	p->id = id;
	p->cb = cb;
	p->arg = arg;
	if (htab_insert(&c->pend, &p->hn, &p->id, sizeof(p->id)) == -1) {
		free(p);
		return -1;
	}
	return 0;
}

static struct pend *
pend_take(struct bus_conn *c, int64_t id)
{
	struct htab_node *n;

	if ((n = htab_find(&c->pend, &id, sizeof(id), pend_eq)) == NULL)
		return NULL;
	htab_remove(&c->pend, n);
	return HTAB_ENTRY(n, struct pend, hn);
}

/* Answer every pending request with NULL: the peer is gone. */
static void
pend_fail_all(struct bus_conn *c)
{
	struct htab t = c->pend;
	struct htab_iter it;
	struct htab_node *n;
	struct pend *p;

	/* detach first: a callback may send new requests or free c */
	htab_init(&c->pend);
	htab_iter_init(&it, &t);
	while ((n = htab_iter_next(&it)) != NULL) {
		p = HTAB_ENTRY(n, struct pend, hn);
		p->cb(c, NULL, p->arg);
		free(p);
	}
	htab_free(&t);
}

static void
conn_setup(struct bus_conn *c, struct bufferevent *bev)
{
	c->bev = bev;
	c->paused = 0;
	bufferevent_setcb(bev, conn_read, conn_write, conn_event, c);
	bufferevent_setwatermark(bev, EV_WRITE, BUS_LOWAT, 0);
	bufferevent_priority_set(bev, 0);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
in_account(struct bus_conn *c, size_t now)
{
	in_total -= c->in_acct;
	c->in_acct = now;
	in_total += now;
}

static void
conn_free(struct bus_conn *c)
{
	in_account(c, 0);
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->ev_retry)
		event_free(c->ev_retry);
	msgpack_unpacked_destroy(&c->up_obj);
	htab_free(&c->pend);
	free(c->path);
	free(c);
}

/* The connection is gone: tell the owner, then free or reconnect. */
static void
conn_lost(struct bus_conn *c)
{
	int wasup = c->client ? c->up : 1;

	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	in_account(c, 0);
	c->partial_since = 0;
	c->up = 0;
	/* the callbacks may free c (bus_client_free): it is busy until done */
	c->busy++;
	pend_fail_all(c);
	if (wasup && c->h->down && !c->dead)
		c->h->down(c, c->arg);
	c->busy--;
	if (c->client) {
		if (c->dead || c->pair) {
			if (!c->dead)
				return;	/* a pair is not reconnected */
			if (c->busy == 0)
				conn_free(c);
			return;
		}
		client_schedule(c);
		return;
	}
	TAILQ_REMOVE(&c->srv->conns, c, entry);
	c->srv->nclients--;
	if (c->busy)
		c->dead = 1;
	else
		conn_free(c);
}

void
bus_finish(struct bus_conn *c, const char *why)
{
	if (c->bev == NULL || c->closing_since)
		return;
	c->closing_since = daemon_now_ms();
	c->closing_why = why;
	c->paused = 1;
	bufferevent_disable(c->bev, EV_READ);
	/* the write callback fires once the output buffer is empty */
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	if (bus_outlen(c) == 0)
		bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

void
bus_drop(struct bus_conn *c, const char *why)
{
	if (c->bev == NULL)
		return;
	log_warnx("%s: connection dropped: %s", bus_name(c), why);
	conn_lost(c);
}

static void
hello_answer(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	int64_t v = 0;

	if (ans == NULL)
		return;
	if (mp_get(ans, "err") || !mp_int(ans, "v", &v) ||
	    v != PROTO_VERSION) {
		bus_drop(c, "peer refused our hello (protocol version)");
		return;
	}
	if (!mp_strcpy(ans, "name", c->name, sizeof(c->name)))
		snprintf(c->name, sizeof(c->name), "peer");
	c->backoff_ms = 0;
}

static void
hello_serve(struct bus_conn *c, const msgpack_object *f)
{
	struct fbuf fb;
	int64_t id = 0, v = 0;

	mp_int(f, "id", &id);
	if (!mp_int(f, "v", &v) || v != PROTO_VERSION) {
		bus_answer_err(c, id, "version", "unsupported protocol version");
		bus_drop(c, "unsupported protocol version");
		return;
	}
	if (!mp_strcpy(f, "name", c->name, sizeof(c->name)))
		snprintf(c->name, sizeof(c->name), "anonymous");
	fbuf_init(&fb);
	bus_answer_begin(&fb, id, 2);
	mp_kv_int(&fb.pk, "v", PROTO_VERSION);
	mp_kv_str(&fb.pk, "name", log_prog());
	bus_send(c, &fb);
	fbuf_free(&fb);
}

/*
 * After a read: note when a frame began arriving (for the sweep) and count
 * an unprivileged peer's buffered bytes against the process's budget.
 */
static void
read_budget(struct bus_conn *c, struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in);

	if (len == 0)
		c->partial_since = 0;
	else if (c->partial_since == 0)
		c->partial_since = daemon_now_ms();
	if (c->privileged || c->srv == NULL)
		return;
	in_account(c, len);
	if (c->srv->lim->input_max && in_total > c->srv->lim->input_max)
		bus_drop(c, "over the input budget of all connections "
		    "(bus_input_budget_mb)");
}

int
bus_frame_next(struct evbuffer *in, msgpack_unpacked *up, const char **data,
    size_t *used, const char **why)
{
	unsigned char hdr[4];
	size_t avail, need;
	uint32_t n;
	char *p;

	if ((avail = evbuffer_get_length(in)) < 4)
		return 0;
	evbuffer_copyout(in, hdr, 4);
	n = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
	if (n > FRAME_MAX || n == 0) {
		*why = n ? "frame over 1 MiB" : "empty frame";
		return -1;
	}
	need = 4 + (size_t)n;
	if (avail < need)
		return 0;
	if ((p = (char *)evbuffer_pullup(in, need)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	*why = NULL;
	if (frame_decode(p, need, up, used, why) != 1) {
		if (*why == NULL)
			*why = "malformed frame";
		return -1;
	}
	*data = p;
	return 1;
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct bus_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const char *why = NULL, *p;
	size_t used;
	int r;

	c->busy++;
	while (c->bev == bev && !c->paused) {
		if ((r = bus_frame_next(in, &c->up_obj, &p, &used, &why)) == 0)
			break;
		if (r == -1) {
			bus_drop(c, why);
			break;
		}
		{
			const msgpack_object *f = &c->up_obj.data;
			int64_t re;
			struct pend *pd;

			if (mp_int(f, "re", &re)) {
				if ((pd = pend_take(c, re)) != NULL) {
					pd->cb(c, f, pd->arg);
					free(pd);
				} else
					log_debug("%s: answer to unknown "
					    "request %lld", bus_name(c),
					    (long long)re);
			} else if (proto_type(f) == PT_HELLO && !c->client)
				hello_serve(c, f);
			else if (c->h->frame)
				c->h->frame(c, f, c->arg);
		}
		if (c->bev != bev)
			break;
		evbuffer_drain(in, used);
		if (!c->client && evbuffer_get_length(
		    bufferevent_get_output(bev)) > BUS_HIWAT) {
			/* backpressure: stop reading until the peer reads */
			c->paused = 1;
			bufferevent_disable(bev, EV_READ);
		}
	}
	if (c->bev == bev && !c->client)
		read_budget(c, in);
	c->busy--;
	if (c->dead && c->busy == 0)
		conn_free(c);
}

static void
conn_write(struct bufferevent *bev, void *arg)
{
	struct bus_conn *c = arg;

	if (c->closing_since) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			bus_drop(c, c->closing_why);
		return;
	}

	if (c->paused) {
		c->paused = 0;
		bufferevent_enable(bev, EV_READ);
		/* frames may already be waiting; they may drop the peer */
		c->busy++;
		conn_read(bev, c);
		c->busy--;
		if (c->dead) {
			if (c->busy == 0)
				conn_free(c);
			return;
		}
		if (c->bev != bev)
			return;
	}
	if (c->want_drain && c->h->drained &&
	    evbuffer_get_length(bufferevent_get_output(bev)) <= c->drain_at) {
		c->want_drain = 0;
		bufferevent_setwatermark(bev, EV_WRITE, BUS_LOWAT, 0);
		c->busy++;
		c->h->drained(c, c->arg);
		c->busy--;
		if (c->dead && c->busy == 0)
			conn_free(c);
	}
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct bus_conn *c = arg;
	struct fbuf fb;
	int64_t id;

	if (what & BEV_EVENT_CONNECTED) {
		c->up = 1;
		id = bus_next_id(c);
		fbuf_init(&fb);
		fbuf_begin(&fb, 4);
		mp_kv_str(&fb.pk, "t", "hello");
		mp_kv_int(&fb.pk, "id", id);
		mp_kv_int(&fb.pk, "v", PROTO_VERSION);
		mp_kv_str(&fb.pk, "name", c->myname);
		bus_request(c, &fb, id, hello_answer, NULL);
		fbuf_free(&fb);
		log_debug("connected to %s", c->path);
		if (c->h->up)
			c->h->up(c, c->arg);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (c->client && !c->up)
			log_debug("connect %s: %s", c->path,
			    strerror(EVUTIL_SOCKET_ERROR()));
		else
			log_debug("%s: %s", bus_name(c),
			    strerror(EVUTIL_SOCKET_ERROR()));
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (c->client && c->up)
			log_warnx("lost connection to %s, reconnecting",
			    c->path);
		conn_lost(c);
	}
}

/* server */

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct bus_server *s = arg;
	struct bus_conn *c, *o;
	struct bufferevent *bev;
	struct ucred uc;
	socklen_t sl = sizeof(uc);
	unsigned n = 0;
	int cred_ok, priv;

	cred_ok = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &sl) == 0;
	priv = cred_ok && (uc.uid == 0 || uc.uid == geteuid());
	if (cred_ok && !priv && s->lim->per_user) {
		TAILQ_FOREACH(o, &s->conns, entry)
			if (o->cred_ok && o->uid == uc.uid)
				n++;
		if (n >= s->lim->per_user) {
			refused_log(s, uc.uid);
			close(fd);
			return;
		}
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("accept: out of memory");
		close(fd);
		return;
	}
	c->cred_ok = cred_ok;
	c->uid = cred_ok ? uc.uid : (uid_t)-1;
	c->privileged = priv;
	c->self = cred_ok && uc.uid == geteuid();
	bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_warnx("accept: bufferevent_socket_new failed");
		close(fd);
		free(c);
		return;
	}
	c->base = s->base;
	c->h = s->h;
	c->arg = s->arg;
	c->srv = s;
	c->next_id = 1;
	htab_init(&c->pend);
	msgpack_unpacked_init(&c->up_obj);
	TAILQ_INSERT_TAIL(&s->conns, c, entry);
	s->nclients++;
	conn_setup(c, bev);
	/* at most one whole frame ahead of the handler */
	bufferevent_setwatermark(bev, EV_READ, 0, 4 + FRAME_MAX);
	if (c->h->up)
		c->h->up(c, c->arg);
}

static void
on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct bus_server *s = arg;
	struct timeval tv = { 0, DAEMON_EMFILE_PAUSE_MS * 1000 };
	int e = EVUTIL_SOCKET_ERROR();

	if (e == EMFILE || e == ENFILE) {
		daemon_emfile(evconnlistener_get_fd(lev), s->path);
		evconnlistener_disable(lev);
		if (evtimer_add(s->ev_resume, &tv) == -1)
			evconnlistener_enable(lev);
		return;
	}
	if (e != EAGAIN && e != EINTR && e != ECONNABORTED)
		log_warnx("%s: accept: %s", s->path, strerror(e));
}

static void
on_resume(evutil_socket_t fd, short ev, void *arg)
{
	struct bus_server *s = arg;

	if (s->lev)
		evconnlistener_enable(s->lev);
}

/* Drop connections whose frame has been arriving for too long. */
static void
on_sweep(evutil_socket_t fd, short ev, void *arg)
{
	struct bus_server *s = arg;
	struct bus_conn *c, *tmp;
	long long now = daemon_now_ms();

	if (s->lim->frame_ms <= 0)
		return;
	for (c = TAILQ_FIRST(&s->conns); c != NULL; c = tmp) {
		tmp = TAILQ_NEXT(c, entry);
		if (c->closing_since) {
			if (now - c->closing_since > s->lim->frame_ms)
				bus_drop(c, c->closing_why);
		} else if (c->partial_since && !c->paused &&
		    now - c->partial_since > s->lim->frame_ms)
			bus_drop(c, "a frame did not arrive whole in time "
			    "(bus_frame_timeout_ms)");
	}
}

/* A connection refused over the per-user cap: logged once a minute. */
static void
refused_log(struct bus_server *s, uid_t uid)
{
	long long now = daemon_now_ms();

	s->refused++;
	if (now - s->refused_log < 60000)
		return;
	log_warnx("%s: uid %u is at its %u connections (bus_max_per_user): "
	    "refused %lu connection%s", s->path, (unsigned)uid,
	    s->lim->per_user, s->refused, s->refused == 1 ? "" : "s");
	s->refused_log = now;
	s->refused = 0;
}

int
bus_conf(const struct conf *cf, struct bus_limits *l, char *err,
    size_t errsz)
{
	long long pu, fm, mb;

	if (conf_int(cf, "bus_max_per_user", 0, 100000, &pu, err,
	    errsz) == -1 ||
	    conf_int(cf, "bus_frame_timeout_ms", 0, 3600000, &fm, err,
	    errsz) == -1 ||
	    conf_int(cf, "bus_input_budget_mb", 0, 1 << 20, &mb, err,
	    errsz) == -1)
		return -1;
	l->per_user = (unsigned)pu;
	l->frame_ms = (long)fm;
	l->input_max = (size_t)mb << 20;
	return 0;
}

void
bus_server_limit(struct bus_server *s, const struct bus_limits *l)
{
	s->lim = l;
}

struct bus_server *
bus_listen(struct event_base *base, const char *path,
    const struct bus_handlers *h, void *arg, char *err, size_t errsz)
{
	struct bus_server *s;
	struct sockaddr_un sun;
	int fd = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errsz, "%s: socket path too long", path);
		return NULL;
	}
	strcpy(sun.sun_path, path);
	/* a live listener means another instance: refuse to steal it */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(fd);
		snprintf(err, errsz, "%s: another instance is listening",
		    path);
		return NULL;
	}
	close(fd);
	unlink(path);
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	s->base = base;
	s->h = h;
	s->arg = arg;
	s->path = strdup(path);
	TAILQ_INIT(&s->conns);
	s->lim = &default_limits;
	s->lev = evconnlistener_new_bind(base, on_accept, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128,
	    (struct sockaddr *)&sun, sizeof(sun));
	if (s->lev == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		free(s->path);
		free(s);
		return NULL;
	}
	evconnlistener_set_error_cb(s->lev, on_accept_error);
	{
		struct timeval sec = { 1, 0 };

		if ((s->ev_sweep = event_new(base, -1, EV_PERSIST, on_sweep,
		    s)) == NULL || event_add(s->ev_sweep, &sec) == -1 ||
		    (s->ev_resume = evtimer_new(base, on_resume, s)) == NULL) {
			snprintf(err, errsz, "%s: cannot create timers", path);
			evconnlistener_free(s->lev);
			if (s->ev_sweep)
				event_free(s->ev_sweep);
			free(s->path);
			free(s);
			return NULL;
		}
	}
	if (chmod(path, 0660) == -1) {
		snprintf(err, errsz, "chmod %s: %s", path, strerror(errno));
		evconnlistener_free(s->lev);
		free(s->path);
		free(s);
		return NULL;
	}
	return s;
}

void
bus_server_stop(struct bus_server *s)
{
	if (s->lev) {
		evconnlistener_free(s->lev);
		s->lev = NULL;
		unlink(s->path);
	}
	if (s->ev_resume)
		evtimer_del(s->ev_resume);
}

size_t
bus_server_clients(struct bus_server *s)
{
	return s->nclients;
}

/* client */

static void
client_connect(evutil_socket_t fd, short ev, void *arg)
{
	struct bus_conn *c = arg;
	struct sockaddr_un sun;
	struct bufferevent *bev;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", c->path);
	bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		client_schedule(c);
		return;
	}
	conn_setup(c, bev);
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		/* immediate failure (ENOENT, ECONNREFUSED): retry later */
		if (c->bev == bev) {
			bufferevent_free(bev);
			c->bev = NULL;
			client_schedule(c);
		}
	}
}

static void
client_schedule(struct bus_conn *c)
{
	struct timeval tv;
	int ms;

	if (c->backoff_ms == 0)
		c->backoff_ms = BACKOFF_MIN_MS;
	else if ((c->backoff_ms *= 2) > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	/* jitter: between half and the full backoff */
	ms = c->backoff_ms / 2 + (int)randombytes_uniform(c->backoff_ms / 2 + 1);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (evtimer_add(c->ev_retry, &tv) == -1)
		fatalx("%s: cannot schedule the reconnect", c->name);
}

struct bus_conn *
bus_client(struct event_base *base, const char *path, const char *name,
    const struct bus_handlers *h, void *arg)
{
	struct bus_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatalx("out of memory");
	c->base = base;
	c->h = h;
	c->arg = arg;
	c->client = 1;
	c->next_id = 1;
	htab_init(&c->pend);
	if ((c->path = strdup(path)) == NULL)
		fatalx("out of memory");
	snprintf(c->myname, sizeof(c->myname), "%s", name);
	snprintf(c->name, sizeof(c->name), "%s", path);
	msgpack_unpacked_init(&c->up_obj);
	if ((c->ev_retry = evtimer_new(base, client_connect, c)) == NULL)
		fatalx("evtimer_new");
	client_connect(-1, 0, c);
	return c;
}

/* A pair is "connected" from the loop, once bus_pair has returned. */
static void
pair_connected(evutil_socket_t fd, short ev, void *arg)
{
	struct bus_conn *c = arg;

	conn_event(c->bev, BEV_EVENT_CONNECTED, c);
}

struct bus_conn *
bus_pair(struct event_base *base, const char *name,
    const struct bus_handlers *h, void *arg, struct bufferevent **far)
{
	struct bufferevent *pair[2];
	struct bus_conn *c;
	struct timeval now = { 0, 0 };

	if (bufferevent_pair_new(base, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS, pair) == -1)
		fatalx("bufferevent_pair_new failed");
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatalx("out of memory");
	c->base = base;
	c->h = h;
	c->arg = arg;
	c->client = 1;
	c->pair = 1;
	c->next_id = 1;
	htab_init(&c->pend);
	if ((c->path = strdup(name)) == NULL)
		fatalx("out of memory");
	snprintf(c->myname, sizeof(c->myname), "%s", log_prog());
	snprintf(c->name, sizeof(c->name), "%s", name);
	msgpack_unpacked_init(&c->up_obj);
	conn_setup(c, pair[0]);
	*far = pair[1];
	if (event_base_once(base, -1, EV_TIMEOUT, pair_connected, c,
	    &now) == -1)
		fatalx("event_base_once failed");
	return c;
}

void
bus_client_free(struct bus_conn *c)
{
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	c->up = 0;
	c->dead = 1;
	c->busy++;
	pend_fail_all(c);
	c->busy--;
	if (c->busy == 0)
		conn_free(c);
}

int
bus_is_up(struct bus_conn *c)
{
	return c->bev != NULL && (!c->client || c->up);
}

int
bus_send_raw(struct bus_conn *c, const void *b, size_t n)
{
	if (!bus_is_up(c))
		return -1;
	return evbuffer_add(bufferevent_get_output(c->bev), b, n);
}

int
bus_send(struct bus_conn *c, struct fbuf *f)
{
	if (fbuf_finish(f) == -1) {
		log_warnx("%s: frame over 1 MiB not sent", bus_name(c));
		return -1;
	}
	return bus_send_raw(c, fbuf_data(f), fbuf_len(f));
}

size_t
bus_outlen(struct bus_conn *c)
{
	if (c->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void
bus_want_drain(struct bus_conn *c, size_t lowat)
{
	if (c->bev == NULL)
		return;
	c->want_drain = 1;
	c->drain_at = lowat;
	/* the write callback runs when the output falls to lowat */
	bufferevent_setwatermark(c->bev, EV_WRITE, lowat, 0);
	if (bus_outlen(c) <= lowat) {
		/* already drained: call back from the loop, not from here */
		bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
	}
}

int64_t
bus_next_id(struct bus_conn *c)
{
	return c->next_id++;
}

int
bus_request(struct bus_conn *c, struct fbuf *f, int64_t id, bus_answer_cb cb,
    void *arg)
{
	if (bus_send(c, f) == -1)
		return -1;
	if (pend_add(c, id, cb, arg) == -1) {
		bus_drop(c, "out of memory");
		return -1;
	}
	return 0;
}

size_t
bus_pending(struct bus_conn *c)
{
	return htab_count(&c->pend);
}

void
bus_answer_begin(struct fbuf *f, int64_t re, uint32_t nextra)
{
	fbuf_begin(f, 2 + nextra);
	mp_kv_int(&f->pk, "re", re);
	mp_kv_bool(&f->pk, "ok", 1);
}

int
bus_answer_err(struct bus_conn *c, int64_t re, const char *code,
    const char *msg)
{
	struct fbuf f;
	int r;

	fbuf_init(&f);
	fbuf_begin(&f, 2);
	mp_kv_int(&f.pk, "re", re);
	mp_pack_cstr(&f.pk, "err");
	msgpack_pack_map(&f.pk, 2);
	mp_kv_str(&f.pk, "code", code);
	mp_kv_str(&f.pk, "msg", msg);
	r = bus_send(c, &f);
	fbuf_free(&f);
	return r;
}

void
bus_set_data(struct bus_conn *c, void *d)
{
	c->data = d;
}

void *
bus_data(struct bus_conn *c)
{
	return c->data;
}

int
bus_peer(struct bus_conn *c, uid_t *uid, gid_t *gid, pid_t *pid)
{
	struct ucred uc;
	socklen_t sl = sizeof(uc);

	if (c->bev == NULL || getsockopt(bufferevent_getfd(c->bev), SOL_SOCKET,
	    SO_PEERCRED, &uc, &sl) == -1)
		return -1;
	if (uid)
		*uid = uc.uid;
	if (gid)
		*gid = uc.gid;
	if (pid)
		*pid = uc.pid;
	return 0;
}

const char *
bus_name(struct bus_conn *c)
{
	pid_t pid;
	uid_t uid;

	if (c->name[0] == '\0' && bus_peer(c, &uid, NULL, &pid) == 0)
		snprintf(c->name, sizeof(c->name), "uid %u pid %d",
		    (unsigned)uid, (int)pid);
	return c->name[0] ? c->name : "peer";
}

int
bus_peer_daemon(struct bus_conn *c)
{
	uid_t uid;

	/* asked on every frame: the answer was taken at accept */
	if (c->srv != NULL)
		return c->self;
	return bus_peer(c, &uid, NULL, NULL) == 0 && uid == geteuid();
}

int
bus_peer_privileged(struct bus_conn *c)
{
	uid_t uid;

	if (c->srv != NULL)
		return c->privileged;
	return bus_peer(c, &uid, NULL, NULL) == 0 &&
	    (uid == 0 || uid == geteuid());
}

void
bus_deny(struct bus_conn *c, int64_t id, const char *why)
{
	if (!c->denied_logged) {
		log_warnx("%s: denied: %s", bus_name(c), why);
		c->denied_logged = 1;
	}
	bus_answer_err(c, id, "denied", why);
}

int
bus_check_peer(struct bus_conn *c, const msgpack_object *f)
{
	enum proto_type t = proto_type(f);
	char why[160];
	int64_t id;

	switch (proto_peer(t)) {
	case PP_DAEMON:
		if (bus_peer_daemon(c))
			return 1;
		snprintf(why, sizeof(why), "\"%s\" frames are accepted only "
		    "from the parley daemons", proto_name(t));
		break;
	case PP_ADMIN:
		if (bus_peer_privileged(c))
			return 1;
		snprintf(why, sizeof(why), "\"%s\" needs root or the parley "
		    "daemons' user", proto_name(t));
		break;
	default:
		return 1;
	}
	if (mp_int(f, "id", &id))
		bus_deny(c, id, why);
	else {
		c->denied_logged = 1;
		bus_drop(c, why);
	}
	return 0;
}

/* callers: a server's record of a client that outlives its connection */

void *
bus_caller_attach(struct bus_conn *c, size_t size)
{
	struct bus_caller *bc;

	if (size < sizeof(*bc) || (bc = calloc(1, size)) == NULL)
		return NULL;
	bc->c = c;
	bc->refs = 1;
	bus_set_data(c, bc);
	return bc;
}

void
bus_caller_detach(struct bus_caller *bc)
{
	if (bc->c != NULL)
		bus_set_data(bc->c, NULL);
	bc->c = NULL;
	bus_caller_release(bc);
}

void
bus_caller_hold(struct bus_caller *bc)
{
	bc->refs++;
}

void
bus_caller_release(struct bus_caller *bc)
{
	if (bc->refs == 0)
		fatalx("bus caller released more often than held");
	if (--bc->refs == 0)
		free(bc);
}

int
bus_caller_send(struct bus_caller *bc, struct fbuf *f)
{
	if (bc->c == NULL)
		return -1;
	return bus_send(bc->c, f);
}

int
bus_caller_refuse(struct bus_caller *bc, int64_t re, const char *code,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (bc->c == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bus_answer_err(bc->c, re, code, msg);
}
