/*
 * daemon — the start-up and shut-down every parley daemon shares, in the
 * runit/s6 manner: foreground, configuration checked before anything else,
 * readiness reported only when serving, SIGTERM drains then exits 0.
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <stddef.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "natsbus.h"
#include "log.h"

static void
usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-dn] [-c file] [-R fd]\n", prog);
	exit(EX_CONFIG);
}

static void
on_drain_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct daemon *d = arg;

	log_warnx("drain did not finish in time, exiting");
	event_base_loopbreak(d->base);
}

static void
on_signal(evutil_socket_t sig, short ev, void *arg)
{
	struct daemon *d = arg;
	char err[512];
	struct conf *nc;
	struct bus_limits bl;

	if (sig == SIGHUP) {
		if ((nc = conf_load(conf_file(d->conf)[0] ? conf_file(d->conf) :
		    NULL, err, sizeof(err))) == NULL) {
			log_warnx("reload refused: %s", err);
			return;
		}
		/* home may not change under a running daemon */
		if (bus_conf(nc, &bl, err, sizeof(err)) == -1) {
			log_warnx("reload refused: %s", err);
			conf_free(nc);
			return;
		}
		conf_free(d->conf);
		d->conf = nc;
		d->bus = bl;
		log_info("configuration reloaded");
		natsbus_reload(d->conf);
		if (d->on_hup)
			d->on_hup(d);
		return;
	}
	if (d->draining) {
		log_info("second signal, exiting now");
		event_base_loopbreak(d->base);
		return;
	}
	d->draining = 1;
	log_debug("draining");
	{
		long long ms = 10000;
		struct timeval tv;

		if (conf_int(d->conf, "drain_timeout_ms", 0, 600000, &ms, err,
		    sizeof(err)) == -1)
			ms = 10000;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		d->ev_drain = evtimer_new(d->base, on_drain_timeout, d);
		if (d->ev_drain == NULL || evtimer_add(d->ev_drain, &tv) == -1)
			log_warnx("drain: cannot arm its timeout");
	}
	if (d->on_term)
		d->on_term(d);
	else
		daemon_stop(d);
}

static int	reserve_fd = -1;

/* Raise the soft descriptor limit (1,024 by default) and open the reserve. */
static void
nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t want = rl.rlim_max;

		if (want == RLIM_INFINITY || want > DAEMON_NOFILE_MAX)
			want = DAEMON_NOFILE_MAX;
		if (want > rl.rlim_cur) {
			rl.rlim_cur = want;
			if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
				log_warn("setrlimit RLIMIT_NOFILE");
		}
	}
	if (reserve_fd == -1)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

long
daemon_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	return rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
}

void
daemon_emfile(int listen_fd, const char *what)
{
	static long long last_log;
	static unsigned long missed;
	long long now = daemon_now_ms();
	int fd;

	if (reserve_fd != -1) {
		close(reserve_fd);
		reserve_fd = -1;
	}
	if ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) != -1)
		close(fd);
	reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (now - last_log >= 60000) {
		log_warnx("%s: out of descriptors (limit %ld): refusing "
		    "connections for %d ms%s", what, daemon_nofile(),
		    DAEMON_EMFILE_PAUSE_MS, missed ? " (again)" : "");
		last_log = now;
		missed = 0;
	} else
		missed++;
}

void
daemon_init(struct daemon *d, const char *prog, int argc, char **argv)
{
	const char *cfile = NULL, *e;
	char err[1024];
	int ch;
	struct event_config *cfg;

	memset(d, 0, sizeof(*d));
	d->prog = prog;
	d->notify_fd = -1;
	log_init(prog, 0);
	if ((e = getenv("PARLEY_NOTIFY_FD")) != NULL && *e)
		d->notify_fd = atoi(e);
	while ((ch = getopt(argc, argv, "c:dnR:")) != -1) {
		switch (ch) {
		case 'c':
			cfile = optarg;
			break;
		case 'd':
			d->debug = 1;
			break;
		case 'n':
			d->check_only = 1;
			break;
		case 'R':
			d->notify_fd = atoi(optarg);
			break;
		default:
			usage(prog);
		}
	}
	if (optind != argc)
		usage(prog);
	log_init(prog, d->debug);
	if ((d->conf = conf_load(cfile, err, sizeof(err))) == NULL)
		log_exit(EX_CONFIG, "%s", err);
	d->home = conf_get(d->conf, "home");
	if (d->home == NULL || d->home[0] != '/')
		log_exit(EX_CONFIG, "home must be an absolute path");
	d->home = strdup(d->home);
	if (bus_conf(d->conf, &d->bus, err, sizeof(err)) == -1)
		log_exit(EX_CONFIG, "%s", err);
	signal(SIGPIPE, SIG_IGN);
	if (d->check_only)
		return;
	nofile_raise();
	natsbus_preinit(d->conf);	/* libevent thread-safe, for libnats */
	if ((cfg = event_config_new()) == NULL)
		log_exit(EX_TEMP, "event_config_new failed");
	/*
	 * epoll's changes are applied once per loop pass, so a socket whose
	 * interest goes from write to read (every HTTP call libcurl makes, each
	 * bufferevent that drains) costs one epoll_ctl, not a DEL and an ADD:
	 * epoll_ctl was 40% of sandboxd's and a third of smsd's system calls.
	 * libevent warns against it for descriptors cloned with dup(); the
	 * daemons dup none they watch (http_out's dup of a file part is read,
	 * never polled).
	 */
	if (event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST))
		log_exit(EX_TEMP, "event_config_set_flag failed");
	if ((d->base = event_base_new_with_config(cfg)) == NULL)
		log_exit(EX_TEMP, "event_base_new failed");
	event_config_free(cfg);
	if (event_base_priority_init(d->base, 3) == -1)
		log_exit(EX_TEMP, "event_base_priority_init failed");
	d->ev_term = evsignal_new(d->base, SIGTERM, on_signal, d);
	d->ev_int = evsignal_new(d->base, SIGINT, on_signal, d);
	d->ev_hup = evsignal_new(d->base, SIGHUP, on_signal, d);
	if (!d->ev_term || !d->ev_int || !d->ev_hup ||
	    evsignal_add(d->ev_term, NULL) == -1 ||
	    evsignal_add(d->ev_int, NULL) == -1 ||
	    evsignal_add(d->ev_hup, NULL) == -1)
		log_exit(EX_TEMP, "cannot install signal handlers");
	if (daemon_mkdirs(daemon_path(d, "run", err, sizeof(err))) == -1)
		log_exit(EX_TEMP, "mkdir %s: %s", err, strerror(errno));
}

void
daemon_checked(struct daemon *d)
{
	printf("%s: configuration ok%s%s\n", d->prog,
	    conf_file(d->conf)[0] ? ": " : " (defaults)",
	    conf_file(d->conf));
	exit(0);
}

const char *
daemon_path(struct daemon *d, const char *sub, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "%s/%s", d->home, sub);
	return buf;
}

int
daemon_mkdirs(const char *dir)
{
	char p[4096], *s;

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0750) == -1 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (mkdir(p, 0750) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

void
daemon_ready(struct daemon *d)
{
	const char *ns = getenv("NOTIFY_SOCKET");

	if (ns && *ns) {
		struct sockaddr_un sun;
		socklen_t sl;
		int fd;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		strncpy(sun.sun_path, ns, sizeof(sun.sun_path) - 1);
		if (ns[0] == '@')
			sun.sun_path[0] = '\0';
		sl = offsetof(struct sockaddr_un, sun_path) + strlen(ns);
		if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) != -1) {
			if (sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sun,
			    sl) == -1)
				log_warn("sd_notify");
			close(fd);
		}
	}
	if (d->notify_fd >= 0) {
		if (write(d->notify_fd, "\n", 1) == -1)
			log_warn("readiness fd %d", d->notify_fd);
		close(d->notify_fd);
		d->notify_fd = -1;
	}
	log_debug("ready");
}

int
daemon_run(struct daemon *d)
{
	int rc = 0;

	if (event_base_dispatch(d->base) == -1)
		rc = EX_TEMP;
	natsbus_stop();		/* its threads end before the process */
	return rc;
}

void
daemon_stop(struct daemon *d)
{
	event_base_loopexit(d->base, NULL);
}

/* jemalloc's, when the program is linked with it (a weak reference: msg
 * and the tests are not) */
extern int mallctl(const char *, void *, size_t *, void *, size_t)
    __attribute__((weak));

void
daemon_trim(void)
{
	/* "arena.<MALLCTL_ARENAS_ALL>.purge": MALLCTL_ARENAS_ALL is 4096 */
	if (mallctl != NULL)
		(void)mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
	else
		malloc_trim(0);
}
