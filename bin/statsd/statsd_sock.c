/*
 * statsd_sock — stats.sock: the live figures as JSON Lines for any reader
 * (msg stats, msg monitor, socat - UNIX:.../stats.sock | jq).
 *
 * A client that connects gets every entity, then {"type":"sync"}, then
 * each batch of changes as they happen (statsd_view.h), and a sync at
 * least once a second.  Nothing is read from clients.  The socket is 0660
 * like the bus sockets; the peer must be root, the daemons' user, or a
 * Unix user mapped to a supervisor or admin (agents get one error line).
 * A client more than SOCK_OUT_MAX behind is dropped: it reconnects and
 * gets a fresh snapshot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "log.h"
#include "statsd.h"

#define SOCK_CLIENTS_MAX	256
#define SOCK_OUT_MAX		(4u * 1024 * 1024)

struct sclient {
	struct bufferevent	*bev;
	uid_t			 uid;
	int			 refused;	/* its error line going out */
	struct sclient		*next;
};

static struct evconnlistener	*lis;
static struct sclient		*clients;
static unsigned			 nclients;

unsigned
sock_clients(void)
{
	return nclients;
}

static void
client_free(struct sclient *c)
{
	struct sclient **p;

	for (p = &clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	bufferevent_free(c->bev);
	free(c);
	nclients--;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	/* clients have nothing to say: what they write is dropped */
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(arg);
}

static void
on_written(struct bufferevent *bev, void *arg)
{
	/* an error line was the last word: close once it has left */
	client_free(arg);
}

/* Send c its last line (an error) and close it once that has left; no
 * batch goes to it meanwhile. */
static void
client_refuse(struct sclient *c, const char *line)
{
	c->refused = 1;
	bufferevent_write(c->bev, line, strlen(line));
	bufferevent_setcb(c->bev, on_read, on_written, on_event, c);
}

static void
snap_line(const char *s, size_t n, void *arg)
{
	struct evbuffer *out = arg;

	evbuffer_add(out, s, n);
	evbuffer_add(out, "\n", 1);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct sclient *c;
	struct ucred cr;
	socklen_t crl = sizeof(cr);
	int role = 0;

	cr.uid = (uid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) == 0)
		role = camp_role(cr.uid);
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->bev = bufferevent_socket_new(S->d.base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(c);
		close(fd);
		return;
	}
	c->uid = cr.uid;
	c->next = clients;
	clients = c;
	nclients++;
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (role < 1 || nclients > SOCK_CLIENTS_MAX) {
		const char *e = role < 1 ?
		    "{\"type\":\"error\",\"msg\":\"stats: supervisors and "
		    "admins only\"}\n" :
		    "{\"type\":\"error\",\"msg\":\"stats: too many clients\"}\n";

		client_refuse(c, e);
		return;
	}
	S->sys.subscribers = sock_clients() + http_clients();
	view_snapshot(&S->view, S->fold, &S->sys, statsd_now(), snap_line,
	    bufferevent_get_output(c->bev));
}

/* Roles may have changed (campaignd committed): a client whose user is no
 * longer a supervisor or admin gets the error line and is closed. */
void
sock_recheck(void)
{
	static const char e[] = "{\"type\":\"error\",\"msg\":\"stats: "
	    "no longer a supervisor or admin\"}\n";
	struct sclient *c;

	for (c = clients; c; c = c->next)
		if (!c->refused && camp_role(c->uid) < 1) {
			log_info("stats.sock: uid %u is no longer a supervisor "
			    "or admin: its subscription is closed",
			    (unsigned)c->uid);
			client_refuse(c, e);
		}
}

void
sock_broadcast(const char *b, size_t n)
{
	struct sclient *c, *nx;

	for (c = clients; c; c = nx) {
		nx = c->next;
		if (c->refused)		/* only its error line, then closed */
			continue;
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
		    SOCK_OUT_MAX) {
			log_warnx("stats.sock: a client fell %u bytes behind; "
			    "dropped", SOCK_OUT_MAX);
			client_free(c);
			continue;
		}
		bufferevent_write(c->bev, b, n);
	}
}

int
sock_listen(char *err, size_t errsz)
{
	struct sockaddr_un sun;
	char path[4096];
	int fd;

	daemon_path(&S->d, "run/stats.sock", path, sizeof(path));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errsz, "%s: path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, 0660) == -1 || listen(fd, 64) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if ((lis = evconnlistener_new(S->d.base, on_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE, -1, fd)) == NULL) {
		snprintf(err, errsz, "%s: cannot listen", path);
		close(fd);
		return -1;
	}
	return 0;
}

void
sock_stop(void)
{
	if (lis) {
		evconnlistener_free(lis);
		lis = NULL;
	}
}
