/*
 * daemon — the skeleton every parley daemon shares: argv (-c FILE, -n, -d),
 * configuration, the event base, signals, readiness and drain.
 *
 * Foreground only, no pidfile.  Readiness is reported once the daemon can
 * serve: to systemd ($NOTIFY_SOCKET, "READY=1") and/or to an s6-style
 * notification fd ($PARLEY_NOTIFY_FD or -R FD, a newline then close).
 * SIGTERM/SIGINT call on_term (stop accepting, finish in-flight work) and the
 * loop ends when the daemon calls daemon_stop, or after drain_timeout.
 * SIGHUP reloads the configuration and calls on_hup.
 */
#ifndef PARLEY_DAEMON_H
#define PARLEY_DAEMON_H

#include <event2/event.h>

#include "bus.h"

struct conf;

struct daemon {
	const char		*prog;
	struct conf		*conf;
	struct event_base	*base;
	const char		*home;		/* $PARLEY_HOME */
	int			 check_only;	/* -n */
	int			 debug;		/* -d */
	int			 draining;
	struct bus_limits	 bus;		/* bus_* settings, for bus_server_limit */
	void			(*on_term)(struct daemon *);
	void			(*on_hup)(struct daemon *);
	void			*arg;
	/* private */
	int			 notify_fd;
	struct event		*ev_term, *ev_int, *ev_hup, *ev_drain;
};

/* Event priorities: I/O runs before the group commit (see store.h). */
#define DAEMON_PRI_IO		0
#define DAEMON_PRI_COMMIT	2

/*
 * Parse argv, load the configuration (exit 100 with "file:line: why" on
 * error), create the event base with priorities and install the signals.
 * usage is the synopsis printed on a bad option.  With -n the caller checks
 * its settings, then calls daemon_checked().
 */
void	daemon_init(struct daemon *, const char *prog, int argc, char **argv);
/* "prog: configuration ok" and exit 0 (the end of -n). */
void	daemon_checked(struct daemon *) __attribute__((noreturn));
/* $PARLEY_HOME/sub into buf. */
const char *daemon_path(struct daemon *, const char *sub, char *buf,
	    size_t bufsz);
/* Tell the supervisor we serve. */
void	daemon_ready(struct daemon *);
/* Run the loop; returns the exit code (0 after a drain). */
int	daemon_run(struct daemon *);
/* End the loop now (after a drain completed). */
void	daemon_stop(struct daemon *);
/* Milliseconds since the epoch (wall clock: for what is stored or shown). */
long long daemon_now_ms(void);
/*
 * Milliseconds on the monotonic clock, from an arbitrary start: for
 * timeouts, intervals and backoff, which a wall-clock step must not stretch
 * or cut.  Never stored; msg and the library use it as well as daemons.
 */
long long daemon_mono_ms(void);
/* Create dir and parents (mode 0750); -1 on error. */
int	daemon_mkdirs(const char *dir);
/*
 * Give the heap's free memory back to the system: jemalloc's purge of
 * every arena when the daemon is linked with it (the Makefile's MALLOC),
 * glibc's malloc_trim otherwise.
 */
void	daemon_trim(void);

/*
 * Descriptors.  daemon_init raises the soft RLIMIT_NOFILE to the hard limit
 * (at most DAEMON_NOFILE_MAX) and keeps one reserve descriptor open.  When
 * accept(2) fails with EMFILE or ENFILE a listener calls daemon_emfile with
 * its listening socket: the reserve is closed, one waiting connection is
 * accepted and closed at once (so the kernel's queue cannot make the loop
 * spin), and the reserve is opened again.  The caller then stops accepting
 * for a moment (DAEMON_EMFILE_PAUSE_MS); the first occurrence in each
 * minute is logged, the rest only counted.
 */
#define DAEMON_NOFILE_MAX	65536
#define DAEMON_EMFILE_PAUSE_MS	100
void	daemon_emfile(int listen_fd, const char *what);
/* The soft descriptor limit now in force. */
long	daemon_nofile(void);

#endif
